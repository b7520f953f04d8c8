//! `redial`: the command-line entry point.

mod cli;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// redial — an outbound fax and voice dialer.
#[derive(Debug, Parser)]
#[command(name = "redial", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(about = "Print the retry engine's decision for a job file as one line of JSON")]
    Explain(cli::explain::ExplainArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => cli::explain::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redial: {e:#}");
            ExitCode::from(2)
        }
    }
}
