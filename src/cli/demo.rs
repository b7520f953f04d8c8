//! `redial demo`: the sample spool run by the daemon, on simulated modems or on sim lines.
//!
//! Copies `spool/` and `conf/` into a scratch directory (or `--dir`): from `--from`, else from
//! the current directory when it has them, else the sample built into the binary (so an
//! installed `redial demo` needs no source tree). With the `hw-sim` feature (default) it starts a
//! hw-sim rack (`conf/sim.toml`, four modems on pseudo-terminals, line time 20 times faster) and
//! runs one node whose lines are real modem lines on those ports; `--lines sim` uses the CFG's
//! `sim` lines instead. The clock is virtual: it jumps to the next due instant whenever no call
//! is in flight, and runs with the wall clock while modems are busy, so hours of retry
//! schedule pass in seconds. Prints each event and ends with a table of every job once all have
//! landed in SENT or FAIL. Exit 0 when they all landed, 1 otherwise.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use redial::daemon::clock::ManualClock;
use redial::daemon::{Daemon, Event, Next};
use redial::spool::report;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Arguments of `redial demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where to copy the sample spool (default: a new temporary directory, kept afterwards).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The directory holding the sample `spool/` and `conf/` (default: the current directory
    /// if it has them, else the sample built into redial).
    #[arg(long)]
    from: Option<PathBuf>,
    /// Virtual start time (RFC 3339, or MM/DD/YYYY, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] in the
    /// sample CFG's $timezone).
    #[arg(long, default_value = "2026-03-02T09:00:00Z")]
    start: redial::datearg::DateArg,
    /// `hwsim`: modem lines on a hw-sim rack (conf/sim.toml; needs the `hw-sim` feature);
    /// `sim`: the CFG's sim lines.
    #[arg(long, default_value = DEFAULT_LINES, value_parser = ["hwsim", "sim"])]
    lines: String,
}

/// The demo's lines when none are asked for: the rack when it is linked in.
const DEFAULT_LINES: &str = if cfg!(feature = "hw-sim") {
    "hwsim"
} else {
    "sim"
};

/// The sample spool and configuration, built into the binary.
static SAMPLE_SPOOL: include_dir::Dir<'_> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/spool");
static SAMPLE_CONF: include_dir::Dir<'_> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/conf");

/// Writes a built-in sample directory under `to`.
fn extract(d: &include_dir::Dir<'_>, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for f in d.files() {
        let name = f.path().file_name().context("a sample file has a name")?;
        std::fs::write(to.join(name), f.contents())?;
    }
    for sub in d.dirs() {
        let name = sub
            .path()
            .file_name()
            .context("a sample folder has a name")?;
        extract(sub, &to.join(name))?;
    }
    Ok(())
}

/// Modems in the demo rack, and how much faster than real time its line time runs.
const RACK_MODEMS: usize = 4;
#[cfg(feature = "hw-sim")]
const TIME_SCALE: f64 = 0.05;

/// The CFG with its `sim` lines replaced by modem lines on the rack's ports.
#[cfg(feature = "hw-sim")]
fn hwsim_cfg(cfg: &Path, rack: &Path) -> Result<()> {
    let text =
        std::fs::read_to_string(cfg).with_context(|| format!("reading {}", cfg.display()))?;
    let mut out: String = text
        .lines()
        .filter(|l| {
            let t = l.trim_start().to_ascii_lowercase();
            !(t.starts_with("$line ") || t.starts_with("$sim_number"))
        })
        .map(|l| format!("{l}\n"))
        .collect();
    out.push_str("\n; redial demo: modem lines on the hw-sim rack (conf/sim.toml); modem 2 has no dial tone.\n");
    out.push_str("; Voice timing is scaled like the rack's line time (x0.05).\n");
    for i in 0..RACK_MODEMS {
        out.push_str(&format!(
            "$line {} {} class=2.0 \"id=REDIAL DEMO\" amd_greeting=0.1 amd_timeout=1 dial_timeout=20\n",
            i + 1,
            rack.join(format!("ttySIM{i}")).display()
        ));
    }
    std::fs::write(cfg, out)?;
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for e in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let e = e?;
        let target = to.join(e.file_name());
        if e.file_type()?.is_dir() {
            copy_tree(&e.path(), &target)?;
        } else {
            std::fs::copy(e.path(), &target)?;
        }
    }
    Ok(())
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> Result<bool> {
    let from = match args.from {
        Some(f) => Some(f),
        None => {
            let cwd = std::env::current_dir()?;
            (cwd.join("spool").is_dir() && cwd.join("conf/redial.cfg").is_file()).then_some(cwd)
        }
    };
    let dir = match args.dir {
        Some(d) => d,
        None => tempfile::Builder::new()
            .prefix("redial-demo-")
            .tempdir()?
            .keep(),
    };
    match &from {
        Some(from) => {
            copy_tree(&from.join("spool"), &dir.join("spool"))?;
            copy_tree(&from.join("conf"), &dir.join("conf"))?;
        }
        None => {
            extract(&SAMPLE_SPOOL, &dir.join("spool"))?;
            extract(&SAMPLE_CONF, &dir.join("conf"))?;
        }
    }
    let cfg = dir.join("conf/redial.cfg");
    let tz = redial::load::SystemConfig::load(&cfg)?
        .layer
        .timezone
        .unwrap_or(chrono_tz::UTC);
    let start: DateTime<Utc> = args.start.instant(tz);
    let clock = ManualClock::new(start);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let _guard = rt.enter();
    let hwsim = args.lines == "hwsim";
    #[cfg(not(feature = "hw-sim"))]
    anyhow::ensure!(
        !hwsim,
        "this redial was built without hw-sim (the `hw-sim` feature): use --lines sim"
    );
    #[cfg(feature = "hw-sim")]
    let mut rack = None;
    #[cfg(feature = "hw-sim")]
    if hwsim {
        let rack_dir = dir.join("rack");
        let scenario =
            redial_sim::scenario::Scenario::load(&dir.join("conf/sim.toml").display().to_string())
                .map_err(|e| anyhow::anyhow!("conf/sim.toml: {e}"))?;
        let config = redial_sim::rack::RackConfig {
            modems: RACK_MODEMS,
            dir: rack_dir.clone(),
            scenario,
            time_scale: TIME_SCALE,
            bps: 0,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = rt.spawn(async move {
            redial_sim::rack::run(config, async {
                let _ = stopped.await;
            })
            .await
        });
        // Bounded wait for the rack's ready file (it appears within milliseconds).
        for _ in 0..400 {
            if rack_dir.join("ready").exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(25));
        }
        anyhow::ensure!(rack_dir.join("ready").exists(), "hw-sim did not start");
        hwsim_cfg(&cfg, &rack_dir)?;
        rack = Some((stop, task));
    }
    let mut d = Daemon::new(Some(&cfg), &dir, "demo", Arc::new(clock.clone()), None)?;
    let tz = d.system().layer.timezone.unwrap_or(chrono_tz::UTC);
    let fmt = move |t: DateTime<Utc>| t.with_timezone(&tz).format("%a %m/%d %H:%M:%S").to_string();
    println!("redial demo: sample spool copied to {}", dir.display());
    if hwsim {
        println!(
            "virtual clock from {} ({tz}); {RACK_MODEMS} simulated modems (hw-sim, conf/sim.toml) on {}\n",
            fmt(start),
            dir.join("rack").display()
        );
    } else {
        println!(
            "virtual clock from {} ({tz}); sim lines as defined in conf/redial.cfg\n",
            fmt(start)
        );
    }
    let log = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = log.clone();
    let f = fmt;
    d.on_event(move |e| {
        let line = match e {
            Event::Dialling {
                job,
                queue,
                line,
                number,
                attempt,
                at,
            } => format!(
                "[{}] {job}  dialling {number} on line {line} (attempt {attempt}, {})",
                f(*at),
                redial::spool::queue_name(*queue)
            ),
            Event::Outcome {
                job,
                line,
                code,
                class,
                description,
                at,
                next,
                ..
            } => {
                let then = match next {
                    Next::Retry(q, t) => {
                        format!("retry at {} in {}", f(*t), redial::spool::queue_name(*q))
                    }
                    Next::Sent => "SENT".into(),
                    Next::Fail => "FAIL".into(),
                };
                format!(
                    "[{}] {job}  line {}: outcome {code} {description} (class {class}) -> {then}",
                    f(*at),
                    line.map_or("?".into(), |l| l.to_string())
                )
            }
            Event::Rejected {
                job,
                code,
                reason,
                at,
            } => {
                format!("[{}] {job}  FAIL (bad job, code {code}): {reason}", f(*at))
            }
            Event::Recovered { job, node } => format!("{job}  recovered from ACTIVE/{node}"),
            Event::TookOver { node } => format!("took over node {node}"),
        };
        println!("{line}");
        sink.lock().expect("log").push(line);
    });
    d.start()?;
    let steps = rt.block_on(d.run_hybrid(&clock, 100_000));
    let layout = d.layout().clone();
    println!(
        "\nvirtual time {} -> {} ({steps} clock jumps); {} attempts\n",
        fmt(start),
        fmt(redial::daemon::clock::Clock::now(&clock)),
        d.stats.attempts
    );
    println!(
        "{:<14} {:<8} {:>8}  {:<40}",
        "JOB", "RESULT", "ATTEMPTS", "LAST OUTCOME / REASON"
    );
    let mut all_landed = true;
    let mut rows = Vec::new();
    for (dir, what) in [(layout.sent(), "SENT"), (layout.fail(), "FAIL")] {
        for n in redial::spool::store::list_jobs(&dir)? {
            rows.push((n, what, dir.clone()));
        }
    }
    for q in layout.queues() {
        for n in redial::spool::store::list_jobs(&layout.queue_dir(q))? {
            all_landed = false;
            rows.push((n, "QUEUED", layout.queue_dir(q)));
        }
    }
    rows.sort_by(|a, b| redial::spool::JobName::new(&a.0).cmp(&redial::spool::JobName::new(&b.0)));
    for (n, what, dir) in rows {
        let path = dir.join(&n);
        let text = match report::report(
            &layout,
            &path,
            d.system(),
            redial::daemon::clock::Clock::now(&clock),
        ) {
            Ok(r) => {
                let last = r
                    .attempts
                    .last()
                    .map(|a| format!("{} {} ({})", a.code, a.description, a.class));
                let detail = match (&r.fail_reason, last) {
                    (Some(reason), _) if what == "FAIL" => reason.clone(),
                    (_, Some(l)) => l,
                    _ => String::new(),
                };
                format!("{:<14} {:<8} {:>8}  {}", n, what, r.attempts.len(), detail)
            }
            Err(_) => {
                let err =
                    std::fs::read_to_string(format!("{}.err", path.display())).unwrap_or_default();
                format!(
                    "{:<14} {:<8} {:>8}  {}",
                    n,
                    what,
                    0,
                    err.lines().last().unwrap_or("unreadable")
                )
            }
        };
        println!("{text}");
    }
    d.shutdown();
    #[cfg(feature = "hw-sim")]
    if let Some((stop, task)) = rack {
        let _ = stop.send(());
        rt.block_on(task)??;
        println!(
            "\nhw-sim call log: {}",
            dir.join("rack/calls.jsonl").display()
        );
    }
    Ok(all_landed && d.in_flight() == 0)
}
