//! `redial explain`: what the engine would decide after an attempt with a given outcome.
//!
//! The CLI contract is fixed (external tests drive it): one line of JSON on stdout, exit 0 on a
//! decision, 2 on unreadable or invalid input.

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use redial::datearg::DateArg;
use redial::load::{job_seed, load_job, queue_of, SystemConfig};
use redial::retry::engine::{decide, Action, Input, ThisAttempt};
use redial::retry::outcome::Class;
use serde::Serialize;
use std::path::PathBuf;

/// Arguments of `redial explain`.
#[derive(Debug, clap::Args)]
#[command(
    about = "Print what the retry engine decides after the attempt that ends at --now",
    long_about = "Reads FS_FILE (and the USR file named by $fax_user when --usr is not given and \
that path exists), treats the attempt that ends at --now as having the given outcome class or \
outcome code, and prints ONE line of JSON:\n\n  \
{\"action\":\"retry\",\"at\":\"2026-03-02T14:05:00Z\",\"class\":\"B\",\"entry\":2,\"tosend\":0,\
\"linegroup\":null,\"prefixes\":\"\",\"reason\":\"...\"}\n\n\
action is retry, fail or done; at (UTC, seconds) is set only for retry (null otherwise); entry is \
the 1-based list entry used (null for class I and for fail/done); tosend is the queue the job goes \
to (0 = TOSEND); linegroup is the new $fax_send_line (null when unchanged); prefixes are the \
entry's prefix letters; reason is a sentence.\n\nExit status: 0 on a decision, 2 on unreadable or \
invalid input (the error goes to stderr)."
)]
pub struct ExplainArgs {
    /// The FS job file.
    fs_file: PathBuf,
    /// The system configuration (CFG).
    #[arg(long)]
    cfg: Option<PathBuf>,
    /// The user profile (USR); default: the $fax_user path if it exists.
    #[arg(long)]
    usr: Option<PathBuf>,
    /// When the attempt ended: RFC 3339, YYYY-MM-DDTHH:MM[:SS] (local time, the CFG's $timezone),
    /// MM/DD/YYYY or YYYY-MM-DD (local midnight); default: now.
    #[arg(long)]
    now: Option<DateArg>,
    /// The attempt's outcome class (A-H, J-O, I, S, Z).
    #[arg(long, conflicts_with = "outcome", required_unless_present = "outcome")]
    class: Option<String>,
    /// The attempt's outcome code (see the README's code table).
    #[arg(long)]
    outcome: Option<u32>,
}

#[derive(Serialize)]
struct Output {
    action: &'static str,
    at: Option<String>,
    class: String,
    entry: Option<usize>,
    tosend: u8,
    linegroup: Option<String>,
    prefixes: String,
    reason: String,
}

/// Runs the command; errors become exit status 2.
pub fn run(args: ExplainArgs) -> Result<()> {
    let cfg = match &args.cfg {
        Some(p) => SystemConfig::load(p)?,
        None => SystemConfig::builtin(),
    };
    let now: DateTime<Utc> = match &args.now {
        Some(t) => t.instant(cfg.layer.timezone.unwrap_or(chrono_tz::UTC)),
        None => Utc::now(),
    };
    let loaded = load_job(&args.fs_file, &cfg, args.usr.as_deref())?;
    let Some(channel) = loaded.job.channel() else {
        bail!("{}: the job has no destination ($fax_phone, $voice_phone, $sms_phone or $email_address)", args.fs_file.display());
    };
    let line = loaded.job.status1.and_then(|(_, line)| line);
    let (class, code, description) = match (&args.class, args.outcome) {
        (Some(c), _) => (Class::parse(c).map_err(anyhow::Error::msg)?, None, None),
        (None, Some(code)) => {
            let row = cfg.outcomes.classify(code, Some(channel));
            (row.class, Some(code), Some(row.description))
        }
        (None, None) => bail!("give --class or --outcome"),
    };
    let decision = decide(&Input {
        policy: &loaded.policy,
        job: &loaded.job,
        queue_from: queue_of(&args.fs_file, &loaded.job),
        attempt: ThisAttempt {
            class,
            code,
            description,
            ended: now,
            line,
            channel,
        },
        seed: job_seed(&args.fs_file),
    });
    let (action, at) = match decision.action {
        Action::Retry { at } => ("retry", Some(at.format("%Y-%m-%dT%H:%M:%SZ").to_string())),
        Action::Fail => ("fail", None),
        Action::Done => ("done", None),
    };
    let out = Output {
        action,
        at,
        class: decision.class.to_string(),
        entry: decision.entry,
        tosend: decision.tosend,
        linegroup: decision.linegroup,
        prefixes: decision.prefixes.to_string(),
        reason: decision.reason,
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}
