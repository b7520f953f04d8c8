//! `redial send NUMBER FILE…` (HylaFAX's `sendfax`): one command builds a job from flags, has it
//! checked as the daemon's intake will, drops it into a queue and prints its name; with `--wait`
//! it follows the job to SENT or FAIL, printing each step as it happens (exit status 0 only when
//! it is sent). Thin: the checks, the write and the job's state live in the library.

use super::ops::{place_job, SpoolArgs};
use anyhow::{bail, Result};
use redial::command::{format_date, format_time, Document};
use redial::datearg::DateArg;
use redial::ops::list::{row_of, State};
use redial::ops::locate;
use std::io::Write;
use std::time::{Duration, Instant};

/// Arguments of `redial send`.
#[derive(Debug, clap::Args)]
pub struct SendArgs {
    #[command(flatten)]
    spool: SpoolArgs,
    /// The fax number (checked as a dial string).
    number: String,
    /// The documents, in order (paths relative to --base).
    #[arg(required = true)]
    files: Vec<String>,
    /// A cover page (`$fax_cover`).
    #[arg(long)]
    cover: Option<String>,
    /// Not before this time (any date form: MM/DD/YYYY, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]
    /// local, RFC 3339).
    #[arg(long)]
    at: Option<DateArg>,
    /// Queue number (0 = TOSEND).
    #[arg(long, default_value_t = 0)]
    queue: u8,
    /// Line group (`$fax_send_line`).
    #[arg(long)]
    group: Option<String>,
    /// A retry list for one class, e.g. `--retry-delays B "2 5 10"` (repeatable).
    #[arg(long, num_args = 2, value_names = ["CLASS", "LIST"], action = clap::ArgAction::Append)]
    retry_delays: Vec<String>,
    /// Attempts at most (`$retry_max`).
    #[arg(long)]
    retry_max: Option<u32>,
    /// The user profile (`$fax_user`).
    #[arg(long)]
    user: Option<String>,
    /// Follow the job until it is sent or fails; exit 0 only when sent.
    #[arg(long)]
    wait: bool,
    /// With --wait: give up following after this many seconds (exit 3; the job carries on).
    #[arg(long, value_name = "SECONDS")]
    wait_secs: Option<u64>,
}

/// Builds, submits and (with `--wait`) follows the job. `Ok(true)` when it was sent or not
/// waited for.
pub fn run(a: SendArgs) -> Result<bool> {
    let (_, sys) = a.spool.settings()?;
    let tz = super::retry::tz(&sys);
    let mut doc = Document::new("redial send");
    doc.set("fax_phone", &[&a.number]);
    for f in &a.files {
        doc.append("fax_filename", &[f]);
    }
    if let Some(c) = &a.cover {
        doc.set("fax_cover", &[c]);
    }
    if let Some(u) = &a.user {
        doc.set("fax_user", &[u]);
    }
    if let Some(at) = &a.at {
        let local = at.local(tz);
        doc.set("fax_send_date", &[&format_date(local.date())]);
        if at.has_time() {
            doc.set("fax_send_time", &[&format_time(local.time())]);
        }
    }
    if let Some(g) = &a.group {
        doc.set("fax_send_line", &[g]);
    }
    for pair in a.retry_delays.chunks(2) {
        if let [class, list] = pair {
            doc.append("retry_delays", &[class, list]);
        }
    }
    if let Some(n) = a.retry_max {
        doc.set("retry_max", &[&n.to_string()]);
    }
    let text = String::from_utf8(doc.to_bytes())?;
    let target = place_job(&a.spool, a.queue, None, "redial send", &text)?;
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    say(&format!("{name}: submitted to {}", target.display()));
    if !a.wait {
        return Ok(true);
    }
    follow(&a, &name)
}

/// Prints a line now (a closed stdout ends the command quietly: SIGPIPE is the default here).
fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

/// Follows `name` until SENT or FAIL, printing each change of its state and each attempt.
fn follow(a: &SendArgs, name: &str) -> Result<bool> {
    let (layout, sys) = a.spool.open()?;
    let started = Instant::now();
    let mut last_detail = String::new();
    let mut attempts = 0;
    let mut missing_since: Option<Instant> = None;
    loop {
        if a.wait_secs
            .is_some_and(|s| started.elapsed() > Duration::from_secs(s))
        {
            say(&format!(
                "{name}: stopped following after {} s; the job carries on ({last_detail})",
                started.elapsed().as_secs()
            ));
            std::process::exit(3);
        }
        let found = match locate::find(&layout, name) {
            Ok(f) => f,
            // Between two renames (a claim, a move) the file is briefly in neither place.
            Err(e) => {
                let since = *missing_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(10) {
                    bail!("{e} (it was removed from the spool)");
                }
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        missing_since = None;
        let row = row_of(&layout, &sys, chrono::Utc::now(), None, &found);
        if row.attempts > attempts {
            attempts = row.attempts;
            say(&format!(
                "{name}: attempt {attempts} ended: {} (outcome {}, class {})",
                row.last_outcome.as_deref().unwrap_or("unknown outcome"),
                row.last_code.map_or_else(|| "?".into(), |c| c.to_string()),
                row.last_class.unwrap_or('?')
            ));
        }
        if row.detail != last_detail {
            last_detail = row.detail.clone();
            say(&format!("{name}: {last_detail}"));
        }
        match row.state {
            State::Sent => return Ok(true),
            State::Failed => return Ok(false),
            _ => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}
