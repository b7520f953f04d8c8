//! `redial-sim`: run a rack of simulated modems on ptys (see hw-sim/README.md).

use clap::Parser;
use redial_sim::rack::{self, RackConfig};
use redial_sim::scenario::Scenario;
use std::path::PathBuf;
use std::process::ExitCode;

/// A software modem rack on pseudo-terminals.
#[derive(Debug, Parser)]
#[command(name = "redial-sim", version, about)]
struct Cli {
    /// Number of modems (DIR/ttySIM0 … ttySIM<N-1>).
    #[arg(long, default_value_t = 4)]
    modems: usize,
    /// Directory for the links, `ready`, `received/` and `calls.jsonl`.
    #[arg(long)]
    dir: PathBuf,
    /// Scenario file (TOML); without it every number rings out (NO ANSWER).
    #[arg(long)]
    scenario: Option<PathBuf>,
    /// Multiply line time by this (0.01 runs a minute of line time in 0.6 s).
    #[arg(long, default_value_t = 1.0)]
    time_scale: f64,
    /// Pace output to the DTE at this many bits per second (0 = unpaced).
    #[arg(long, default_value_t = 115_200)]
    bps: u32,
    /// Only check the scenario file and exit.
    #[arg(long)]
    check: bool,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let scenario = match &cli.scenario {
        Some(p) => match Scenario::load(&p.to_string_lossy()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("redial-sim: {e}");
                return ExitCode::from(2);
            }
        },
        None => Scenario::default(),
    };
    if cli.check {
        println!(
            "scenario ok: {} numbers, {} modem faults, {} incoming calls",
            scenario.number.len(),
            scenario.modem.len(),
            scenario.incoming.len()
        );
        return ExitCode::SUCCESS;
    }
    if !cli.time_scale.is_finite() || cli.time_scale <= 0.0 {
        eprintln!("redial-sim: --time-scale must be > 0");
        return ExitCode::from(2);
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("redial-sim: runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let cfg = RackConfig {
        modems: cli.modems,
        dir: cli.dir,
        scenario,
        time_scale: cli.time_scale,
        bps: cli.bps,
    };
    let r = rt.block_on(async {
        let shutdown = async {
            use tokio::signal::unix::{signal, SignalKind};
            let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
            let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        rack::run(cfg, shutdown).await
    });
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redial-sim: {e}");
            ExitCode::from(1)
        }
    }
}
