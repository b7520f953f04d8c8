//! `redial list` (HylaFAX's faxstat): the command-line edge of [`redial::ops::list`]; one line
//! per job, or `--json` (one JSON array of rows).

use super::ops::SpoolArgs;
use anyhow::Result;
use redial::datearg::DateArg;
use redial::ops::list::{self, Filter, State};

/// Arguments of `redial list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    spool: SpoolArgs,
    /// Only jobs queued in this queue (0 = TOSEND).
    #[arg(long)]
    queue: Option<u8>,
    /// Only these states, separated by commas: due, scheduled, waiting_retry, held, no_start,
    /// unreadable, queued (all of those), in_progress, sent, failed.
    #[arg(long)]
    state: Option<String>,
    /// Destination pattern (`*` any run, `?` one character; `555*` also matches `555-0100`).
    #[arg(long)]
    dest: Option<String>,
    /// Last outcome's class: letters (`AB`) or names (`busy,no-answer`).
    #[arg(long)]
    class: Option<String>,
    /// Last activity (last attempt, else when the job was written) on or after this day.
    #[arg(long)]
    since: Option<DateArg>,
    /// Last activity on or before this day.
    #[arg(long)]
    until: Option<DateArg>,
    /// One JSON array of rows.
    #[arg(long)]
    json: bool,
    /// Pretend it is this instant, for what is due, held or waiting.
    #[arg(long)]
    now: Option<DateArg>,
}

/// Prints the rows.
pub fn run(a: ListArgs) -> Result<()> {
    let (layout, sys) = a.spool.open()?;
    let tz = super::retry::tz(&sys);
    let (now, lines) = super::ops::when_and_lines(&a.spool, a.now, &sys);
    let lines = lines.map(|mut m| {
        for l in redial::spool::lease::read_all(&layout) {
            m.add_node(&l.node);
        }
        m
    });
    if let Some(q) = a.queue.filter(|q| *q > layout.max_queue) {
        anyhow::bail!(
            "--queue {q}: no such queue (the highest is {})",
            layout.max_queue
        );
    }
    let states = match &a.state {
        Some(s) => Some(State::parse_list(s).map_err(|e| anyhow::anyhow!("--state {e}"))?),
        None => None,
    };
    let filter = Filter {
        queue: a.queue,
        states,
        dest: a.dest.clone(),
        class: a.class.clone(),
        since: a.since.map(|d| d.date(tz)),
        until: a.until.map(|d| d.date(tz)),
    };
    let rows = list::list(&layout, &sys, now, lines.as_ref(), &filter)
        .map_err(|e| anyhow::anyhow!("--class {e}"))?;
    if a.json {
        println!("{}", serde_json::to_string(&rows)?);
        return Ok(());
    }
    let next = format!("NEXT ({})", tz.name());
    let w = next.len().max(19);
    println!(
        "{:<14} {:<10} {:<18} {next:<w$} {:>5}  {:<30} STATE",
        "JOB", "WHERE", "DESTINATION", "TRIES", "LAST OUTCOME"
    );
    for r in &rows {
        let last = match (r.last_code, r.last_class) {
            (Some(c), Some(k)) => {
                format!("{c} {k} {}", r.last_outcome.as_deref().unwrap_or_default())
            }
            _ => "-".into(),
        };
        println!(
            "{:<14} {:<10} {:<18} {:<w$} {:>5}  {:<30} {}",
            r.job,
            r.place,
            r.destination.as_deref().unwrap_or("-"),
            r.next_local.as_deref().unwrap_or("-"),
            r.attempts,
            last.chars().take(30).collect::<String>(),
            r.detail
        );
    }
    Ok(())
}
