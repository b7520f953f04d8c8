//! `redial cancel JOB…` (HylaFAX's faxrm): the command-line edge of [`redial::ops::cancel`].
//! A queued job is failed at once; for a job in progress it leaves the request for the node
//! holding it and waits (bounded, `--no-wait` not at all) until the job has landed, then says
//! how it ended.

use super::ops::SpoolArgs;
use anyhow::Result;
use redial::ops::cancel::{self, Outcome};
use redial::ops::locate;
use redial::spool::{Layout, Place};
use std::path::Path;
use std::time::{Duration, Instant};

/// Arguments of `redial cancel`.
#[derive(Debug, clap::Args)]
pub struct CancelArgs {
    /// Jobs: file names (`00000017.FS` or `00000017`) or paths.
    #[arg(required = true)]
    jobs: Vec<String>,
    #[command(flatten)]
    spool: SpoolArgs,
    /// Why (written into `$fail_reason`).
    #[arg(long, default_value = "")]
    reason: String,
    /// Who cancels (default: $SUDO_USER, else $USER).
    #[arg(long)]
    by: Option<String>,
    /// Do not wait for a call in progress to be hung up.
    #[arg(long)]
    no_wait: bool,
    /// How long to wait for a call in progress to be hung up, seconds.
    #[arg(long, default_value_t = 60)]
    wait_secs: u64,
}

/// Who the operator is: `--by`, else `$SUDO_USER` (the person behind sudo), else `$USER`.
pub fn operator(by: Option<&str>) -> String {
    by.map(str::to_string)
        .or_else(|| std::env::var("SUDO_USER").ok().filter(|s| !s.is_empty()))
        .or_else(|| std::env::var("USER").ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "unknown".to_string())
}

/// Cancels each job; `Ok(false)` when one was not cancelled (unknown, finished, still up).
pub fn run(a: CancelArgs) -> Result<bool> {
    let (layout, _sys) = a.spool.open()?;
    let by = operator(a.by.as_deref());
    let mut all = true;
    for job in &a.jobs {
        let outcome = match cancel::cancel(&layout, job, &by, &a.reason) {
            Ok(o) => o,
            Err(cancel::CancelError::NotFound(e)) => {
                eprintln!("redial: {e}");
                all = false;
                continue;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot cancel {job}"))),
        };
        all &= match outcome {
            Outcome::Cancelled { path, unreadable } => {
                let note = if unreadable {
                    " (the file does not parse: moved unchanged, the reason in .err beside it)"
                } else {
                    ""
                };
                println!("{job}: cancelled, not dialled: {}{note}", path.display());
                true
            }
            Outcome::Finished { place, path } => {
                println!(
                    "{job}: already finished ({place}): nothing to cancel ({})",
                    path.display()
                );
                false
            }
            Outcome::Requested { node, request } => {
                println!("{job}: in progress on node {node}: hang-up requested");
                if a.no_wait {
                    println!("{job}: not waiting; the node acts on {}", request.display());
                    true
                } else {
                    wait(&layout, job, &by, &a.reason, &request, a.wait_secs)?
                }
            }
        };
    }
    Ok(all)
}

/// Waits for a requested cancel to land; true when the job ended cancelled.
fn wait(
    layout: &Layout,
    job: &str,
    by: &str,
    reason: &str,
    request: &Path,
    secs: u64,
) -> Result<bool> {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        match locate::find(layout, job) {
            Ok(f) if matches!(f.place, Place::Fail | Place::Sent) => {
                let _ = std::fs::remove_file(request);
                let text = std::fs::read_to_string(&f.path).unwrap_or_default();
                let cancelled = f.place == Place::Fail && text.contains("$fax_status2 40");
                if cancelled {
                    println!(
                        "{job}: call hung up, job failed as cancelled: {}",
                        f.path.display()
                    );
                } else {
                    let place = redial::ops::scan::place_name(&f.place);
                    println!(
                        "{job}: the call ended before the hang-up reached it: {place} ({})",
                        f.path.display()
                    );
                }
                return Ok(cancelled);
            }
            Ok(f) if matches!(f.place, Place::Queue(_)) => {
                // Given back to its queue before the node acted: cancel it here (the node's
                // own attempt to claim it loses or wins the same rename).
                if let Ok(Outcome::Cancelled { path, .. }) = cancel::cancel(layout, job, by, reason)
                {
                    let _ = std::fs::remove_file(request);
                    println!("{job}: cancelled, not dialled: {}", path.display());
                    return Ok(true);
                }
            }
            Err(e) => {
                let _ = std::fs::remove_file(request);
                anyhow::bail!("{e}");
            }
            Ok(_) => {}
        }
        if Instant::now() >= end {
            println!(
                "{job}: still in progress after {secs} s; the request stays in {} and the node hangs up when it reads it",
                request.display()
            );
            return Ok(false);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
