//! `redial run`: one spooler node as a service (real clock, watcher, signals).

use anyhow::Result;
use redial::daemon::clock::SystemClock;
use redial::daemon::Daemon;
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

/// Runs the node until SIGTERM/SIGINT.
pub fn run(args: RunArgs) -> Result<()> {
    super::logging::init(args.json);
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
