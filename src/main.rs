//! `redial`: the command-line entry point.

mod cli;

use clap::{Parser, Subcommand};
use std::io::Write;
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
    /// Cancel jobs (faxrm): a queued job goes to FAIL undialled; a call in progress is hung up.
    Cancel(cli::cancel::CancelArgs),
    /// One line per job (faxstat): where, state, destination, next start, attempts, last outcome.
    List(cli::list::ListArgs),
    /// Change queued jobs (faxalter): next start, queue, number, group, hold/release, retries.
    Alter(cli::alter::AlterArgs),
    /// Send a fax (sendfax): build a checked job from flags, queue it; --wait follows it to the end.
    Send(cli::send::SendArgs),
    /// Write the man pages and shell completions (for packaging) into DIR/man and DIR/completions.
    #[command(hide = true)]
    GenerateAssets {
        /// Where to write them.
        dir: std::path::PathBuf,
    },
    /// Archive or delete finished jobs (SENT, FAIL) older than a number of days (faxqclean).
    Clean(cli::clean::CleanArgs),
    /// Write the pages a fax job (or a document) would send as PNG files, header included.
    Preview(cli::preview::PreviewArgs),
}

/// Sets what a write to a pipe whose reader has gone does to this process.
///
/// Rust starts every program with SIGPIPE ignored, so such a write fails with EPIPE and
/// `println!` panics (exit 101, a backtrace on stderr): `redial status | head` would crash. For the
/// commands that print and end, the Unix default is right: the kernel ends the process quietly
/// at the first write to a closed pipe, as it ends `cat` or `grep`. `redial run` and `redial web`
/// are services: a log pipe or terminal that goes away must not kill a node in the middle of a
/// call, and their sockets report a gone peer as EPIPE, which they handle per connection. They
/// keep SIGPIPE ignored and write their logs and messages without failing on a closed pipe.
fn sigpipe(default: bool) {
    let action = if default {
        libc::SIG_DFL
    } else {
        libc::SIG_IGN
    };
    // SAFETY: signal(2) with SIG_DFL or SIG_IGN (no handler runs); called at the start of main,
    // before any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, action);
    }
}

/// Man pages (`redial.1` and one per subcommand, `redial-run.1` …) and bash, zsh and fish
/// completions, all from the clap definitions, so they never drift from the commands.
fn generate_assets(dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    use clap::CommandFactory;
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    let cmd = Cli::command();
    clap_mangen::generate_to(cmd.clone(), &man).context("writing the man pages")?;
    for shell in [
        clap_complete::Shell::Bash,
        clap_complete::Shell::Zsh,
        clap_complete::Shell::Fish,
    ] {
        clap_complete::generate_to(shell, &mut cmd.clone(), "redial", &completions)
            .with_context(|| format!("writing the {shell} completion"))?;
    }
    println!(
        "man pages in {}, completions in {}",
        man.display(),
        completions.display()
    );
    Ok(())
}

fn main() -> ExitCode {
    // Default first, so `redial --help | head` and clap's other output end quietly as well.
    sigpipe(true);
    let cli = Cli::parse();
    if matches!(cli.command, Command::Run(_))
        || matches!(&cli.command, Command::Web(w) if w.serves())
    {
        sigpipe(false);
    }
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
        Command::Clean(args) => cli::clean::run(args),
        Command::GenerateAssets { dir } => generate_assets(&dir),
        Command::Send(args) => match cli::send::run(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Command::Dnc(args) => match cli::dnc::run(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Command::List(args) => cli::list::run(args),
        Command::Preview(args) => cli::preview::run(args),
        Command::Alter(args) => match cli::alter::run(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
        Command::Cancel(args) => match cli::cancel::run(args) {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::from(1),
            Err(e) => Err(e),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // Not eprintln!: a closed stderr must not turn the error into a panic.
            let _ = writeln!(std::io::stderr(), "redial: {e:#}");
            ExitCode::from(2)
        }
    }
}
