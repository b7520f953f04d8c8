//! `redial run`: one spooler node as a service (real clock, watcher, signals).

use anyhow::Result;
use redial::daemon::clock::SystemClock;
use redial::daemon::Daemon;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

/// Arguments of `redial run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The system configuration (CFG).
    #[arg(long)]
    cfg: PathBuf,
    /// This node's name (its `ACTIVE/<node>/` directory and lease).
    #[arg(long, default_value = "node1")]
    node: String,
    /// Directory that relative paths (request dir, documents, USR files) are relative to
    /// (default: the current directory).
    #[arg(long)]
    base: Option<PathBuf>,
    /// Log as JSON lines.
    #[arg(long)]
    json: bool,
    /// Create the request directory when it does not exist (without it, a missing spool is an
    /// error: a node started in the wrong directory would otherwise watch an empty spool).
    #[arg(long)]
    create: bool,
}

/// The log's stderr, for a service: what cannot be written (the pipe to a log collector or the
/// terminal has gone) is dropped, never an error. An error would make tracing report it with
/// `eprintln!`, which panics on a closed stderr, in whichever task was logging. SIGPIPE is
/// ignored for `redial run` (see `main`), so a closed pipe is EPIPE here, not the end of the node.
pub struct QuietStderr;

impl std::io::Write for QuietStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().flush();
        Ok(())
    }
}

/// Whether stderr is the journal stream systemd connected (`JOURNAL_STREAM=DEV:INODE`, the
/// device and inode of that stream): then the log goes to journald with its fields.
fn stderr_is_the_journal() -> bool {
    use std::os::unix::fs::MetadataExt;
    let Some((dev, ino)) = std::env::var("JOURNAL_STREAM").ok().and_then(|v| {
        v.split_once(':')
            .map(|(d, i)| (d.to_string(), i.to_string()))
    }) else {
        return false;
    };
    // stat(2) of the fd's magic link is the stream itself (a socket, a pipe or a file).
    std::fs::metadata("/proc/self/fd/2")
        .is_ok_and(|m| dev.parse() == Ok(m.dev()) && ino.parse() == Ok(m.ino()))
}

/// The node's log: journald (fields and priorities) when systemd connected stderr to the
/// journal, else text on stderr (colour only at a terminal) or JSON lines with `--json`.
fn init_logging(json: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"))
    };
    if !json && stderr_is_the_journal() {
        match tracing_journald::layer() {
            Ok(layer) => {
                // Fields by their own names (JOB=, LINE=, CODE=…: `journalctl JOB=00000001.FS`),
                // and syslog's priorities: info is 6, not journald's default 5 (notice).
                let layer = layer
                    .with_field_prefix(None)
                    .with_syslog_identifier("redial".into())
                    .with_priority_mappings(tracing_journald::PriorityMappings {
                        info: tracing_journald::Priority::Informational,
                        debug: tracing_journald::Priority::Debug,
                        ..tracing_journald::PriorityMappings::new()
                    });
                tracing_subscriber::registry()
                    .with(filter())
                    .with(layer)
                    .init();
                return;
            }
            Err(e) => {
                let _ = writeln!(
                    std::io::stderr(),
                    "redial: the journal socket does not answer ({e}); logging to stderr"
                );
            }
        }
    }
    let sub = tracing_subscriber::fmt()
        .with_env_filter(filter())
        .with_writer(|| QuietStderr)
        // Colour only for a person at a terminal: a file, a pipe or the journal gets plain text.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .log_internal_errors(false);
    if json {
        sub.json().init();
    } else {
        sub.init();
    }
}

/// Runs the node until SIGTERM/SIGINT.
pub fn run(args: RunArgs) -> Result<()> {
    init_logging(args.json);
    let base = match args.base {
        Some(b) => b,
        None => std::env::current_dir()?,
    };
    let d = Daemon::new(
        Some(&args.cfg),
        &base,
        &args.node,
        Arc::new(SystemClock),
        None,
    )?;
    let root = d.layout().root.clone();
    if !args.create && !root.is_dir() {
        anyhow::bail!(
            "the spool {} does not exist (request directory from $request_dir in {}, relative to --base {}); start redial run where the spool is, or give --create to make a new one",
            root.display(),
            args.cfg.display(),
            d.base().display()
        );
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(redial::daemon::service::serve(d))
}
