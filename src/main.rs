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
    /// Run the sample spool on simulated lines with a virtual clock (finishes in seconds).
    Demo(cli::demo::DemoArgs),
    /// Run the spooler daemon (one node) until SIGTERM.
    Run(cli::run::RunArgs),
    /// Drop a new job into a TOSEND queue; prints its path.
    Submit(cli::ops::SubmitArgs),
    /// Counts per queue, SENT and FAIL totals, nodes and their lines.
    Status(cli::ops::StatusArgs),
    /// Every attempt of one job: when, line, outcome, class, what happened next.
    Report(cli::ops::ReportArgs),
    /// Retry failed jobs that are eligible (most recent to their destination, retryable, wait over).
    Retry(cli::retry::RetryArgs),
    /// Success of past retries by class, list entry and delay, with suggestions.
    Advise(cli::retry::AdviseArgs),
    /// The failed-jobs web page, JSON API and /metrics (127.0.0.1 by default; token from the CFG).
    Web(cli::web::WebArgs),
    /// The do-not-call list: add, remove, list or import numbers (every node honours it).
    Dnc(cli::dnc::DncArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => cli::explain::run(args),
        Command::Demo(args) => match cli::demo::run(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Command::Run(args) => cli::run::run(args),
        Command::Submit(args) => cli::ops::submit(args),
        Command::Status(args) => cli::ops::status(args),
        Command::Report(args) => cli::ops::report(args),
        Command::Retry(args) => cli::retry::run(args),
        Command::Advise(args) => cli::retry::advise(args),
        Command::Web(args) => cli::web::run(args),
        Command::Dnc(args) => match cli::dnc::run(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("redial: {e:#}");
            ExitCode::from(2)
        }
    }
}
