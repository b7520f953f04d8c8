//! `redial web`: the console, JSON API and `/metrics` on their own, beside the nodes (which
//! keep running as `redial run`). Bound to 127.0.0.1 unless told otherwise.
//!
//! `redial web passwd NAME [--role view|operate]` reads a password from stdin (its first line)
//! and prints the `$web_user` line to put in the CFG; it never writes the CFG itself.

use super::retry::Spool;
use anyhow::{Context, Result};
use redial::daemon::clock::{Clock, ManualClock, SystemClock};
use redial::ops::config::DEFAULT_WEB_ADDR;
use redial::ops::metrics::Metrics;
use redial::ops::web::{serve, WebState};
use std::io::Write;
use std::sync::Arc;

/// Arguments of `redial web`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct WebArgs {
    #[command(subcommand)]
    action: Option<WebCommand>,
    /// Address to listen on (default: the CFG's `$web`, else 127.0.0.1:8470). Port 0 picks one.
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    #[command(flatten)]
    spool: Spool,
}

/// What else `redial web` does.
#[derive(Debug, clap::Subcommand)]
enum WebCommand {
    /// Read a password from stdin (first line) and print the `$web_user NAME` line for the CFG.
    Passwd {
        /// The operator's sign-in name (letters, digits, `.`, `_`, `-`).
        name: String,
        /// What the operator may do: view (read only) or operate (act on jobs, read the audit
        /// trail).
        #[arg(long, default_value = "operate", value_parser = ["view", "operate"])]
        role: String,
    },
}

/// Prints the `$web_user` line for `name` with a hash of stdin's first line.
fn passwd(name: &str, role: &str) -> Result<()> {
    use redial::ops::web::operators::{cfg_line, Role};
    let role = if role == "view" {
        Role::View
    } else {
        Role::Operate
    };
    let mut password = String::new();
    std::io::stdin()
        .read_line(&mut password)
        .context("reading the password from stdin")?;
    let password = password.trim_end_matches(['\r', '\n']);
    let line = cfg_line(name, role, password).map_err(anyhow::Error::msg)?;
    println!("{line}");
    Ok(())
}

impl WebArgs {
    /// Whether this is the server (not `passwd`).
    pub fn serves(&self) -> bool {
        self.action.is_none()
    }
}

/// Serves until SIGTERM or Ctrl-C.
pub fn run(a: WebArgs) -> Result<()> {
    if let Some(WebCommand::Passwd { name, role }) = &a.action {
        return passwd(name, role);
    }
    // Every operator action is logged (the audit trail): see docs/operations.md.
    super::logging::init(false);
    let (layout, sys, ops) = a.spool.open()?;
    let addr = a
        .listen
        .or(ops.web.as_ref().map(|w| w.addr))
        .unwrap_or_else(|| DEFAULT_WEB_ADDR.parse().expect("default address"));
    let clock: Arc<dyn Clock> = match a.spool.now(&sys) {
        Some(t) => Arc::new(ManualClock::new(t)),
        None => Arc::new(SystemClock),
    };
    let token = ops.token.clone().unwrap_or_default();
    let metrics = Arc::new(Metrics::new(sys.outcomes.clone()));
    let state = Arc::new(WebState::new(layout, sys, ops, clock, metrics, token)?);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        // Best effort: a closed stdout (SIGPIPE is ignored here, see main) must not stop
        // the server.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "listening on http://{local}/").and_then(|()| out.flush());
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = serve(listener, state) => r?,
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        Ok(())
    })
}
