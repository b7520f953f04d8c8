//! `redial retry` and `redial advise`: manual and bulk retry of failed jobs, and advice from
//! the attempt history. Thin: the rules and the move live in `redial::ops`.

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use redial::daemon::settings::Settings;
use redial::datearg::DateArg;
use redial::load::SystemConfig;
use redial::ops::config::OpsConfig;
use redial::ops::retry::{retry, Request, Selection};
use redial::ops::scan::{scan, RetryKind};
use redial::spool::{Layout, Place};
use std::path::PathBuf;

/// Where the spool is (as for `redial status`).
#[derive(Debug, Clone, clap::Args)]
pub struct Spool {
    /// The system configuration (CFG): `$request_dir`, outcome table, `$retry_wait`, `$web…`.
    #[arg(long)]
    pub cfg: Option<PathBuf>,
    /// The request directory, instead of the CFG's.
    #[arg(long)]
    pub spool: Option<PathBuf>,
    /// Directory that relative paths are relative to (default: the current directory).
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// Pretend it is this instant, for eligibility countdowns in tests and demos (any date form:
    /// MM/DD/YYYY, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] local, RFC 3339).
    #[arg(long)]
    pub now: Option<DateArg>,
}

impl Spool {
    /// Layout, CFG, operator settings.
    pub fn open(&self) -> Result<(Layout, SystemConfig, OpsConfig)> {
        let sys = match &self.cfg {
            Some(p) => SystemConfig::load(p)?,
            None => SystemConfig::builtin(),
        };
        let base = match &self.base {
            Some(b) => std::path::absolute(b)?,
            None => std::env::current_dir()?,
        };
        let mut layout = Settings::from_cfg(&sys.document, &base, "ops")
            .map_err(anyhow::Error::msg)?
            .layout;
        if let Some(s) = &self.spool {
            layout.root = std::path::absolute(s)?;
        }
        anyhow::ensure!(
            layout.root.is_dir(),
            "the spool {} does not exist (give --cfg, --spool or --base; `redial run --create` makes a new one)",
            layout.root.display()
        );
        let ops = OpsConfig::from_cfg(&sys.document, &base).map_err(anyhow::Error::msg)?;
        Ok((layout, sys, ops))
    }
    /// Now (the real clock unless `--now`, a local form read in the CFG's `$timezone`).
    pub fn now(&self, sys: &SystemConfig) -> Option<DateTime<Utc>> {
        self.now.map(|t| t.instant(tz(sys)))
    }
}

/// The CFG's time zone (UTC without `$timezone`): local date forms are read in it.
pub fn tz(sys: &SystemConfig) -> chrono_tz::Tz {
    sys.layer.timezone.unwrap_or(chrono_tz::UTC)
}

/// Arguments of `redial retry`.
#[derive(Debug, clap::Args)]
pub struct RetryArgs {
    /// Failed jobs to retry (file names, with or without `.FS`).
    jobs: Vec<String>,
    /// Recorded in each job file (`$retry_note`).
    #[arg(long, default_value = "")]
    reason: String,
    /// Every failed job matching the selection below (all of FAIL without one).
    #[arg(long)]
    all_failed: bool,
    /// Send the retries to TOSEND<N> (default: the queue each job came from).
    #[arg(long)]
    queue: Option<u8>,
    /// Only say what would happen.
    #[arg(long)]
    dry_run: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Selection: jobs that came from this queue.
    #[arg(long)]
    from_queue: Option<u8>,
    /// Selection: classes of the last outcome (outcome table): letters A-O, S, Z (e.g. AB) or
    /// names (busy, no-answer, …), separated by commas.
    #[arg(long, value_parser = redial::ops::retry::parse_classes)]
    class: Option<String>,
    /// Selection: last attempt on or after this day (MM/DD/YYYY, YYYY-MM-DD, or a time's local
    /// day).
    #[arg(long)]
    since: Option<DateArg>,
    /// Selection: last attempt on or before this day (as --since).
    #[arg(long)]
    until: Option<DateArg>,
    /// Selection: destination pattern (`*`, `?`), e.g. '555*'.
    #[arg(long)]
    dest: Option<String>,
    #[command(flatten)]
    spool: Spool,
}

/// Retries; prints queued and skipped.
pub fn run(a: RetryArgs) -> Result<()> {
    let (layout, sys, ops) = a.spool.open()?;
    let selection = Selection {
        queue: a.from_queue,
        class: a.class.clone(),
        since: a.since.map(|d| d.date(tz(&sys))),
        until: a.until.map(|d| d.date(tz(&sys))),
        dest: a.dest.clone(),
    };
    let bulk = a.all_failed || selection != Selection::default();
    anyhow::ensure!(
        bulk || !a.jobs.is_empty(),
        "name the jobs to retry, or use --all-failed (with --class, --from-queue, --since, --until, --dest to narrow it)"
    );
    let req = Request {
        jobs: a.jobs.clone(),
        all_failed: bulk,
        selection,
        reason: a.reason.clone(),
        queue: a.queue,
        dry_run: a.dry_run,
        kind: RetryKind::Manual,
        auto_max: None,
    };
    let now = a.spool.now(&sys).unwrap_or_else(Utc::now);
    let r = retry(&layout, &sys, &ops, &req, now)?;
    if a.json {
        println!("{}", serde_json::to_string(&r)?);
        return Ok(());
    }
    let verb = if r.dry_run { "would queue" } else { "queued" };
    for q in &r.queued {
        println!(
            "{verb:<11} {:<14} {:<18} -> {} (attempt #{})",
            q.job,
            q.destination.as_deref().unwrap_or("-"),
            redial::spool::queue_name(q.queue),
            q.cycle
        );
    }
    for s in &r.skipped {
        let extra = match &s.why {
            redial::ops::eligibility::Skip::Wait { eligible_at, .. } => format!(
                " (in {})",
                redial::ops::web::countdown((*eligible_at - now).num_seconds())
            ),
            _ => String::new(),
        };
        println!("{:<11} {:<14} {}{extra}", "skipped", s.job, s.message);
    }
    println!("{} {verb}, {} skipped", r.queued.len(), r.skipped.len());
    Ok(())
}

/// Arguments of `redial advise`.
#[derive(Debug, clap::Args)]
pub struct AdviseArgs {
    /// Only attempts on or after this day (MM/DD/YYYY, YYYY-MM-DD, or a time's local day).
    #[arg(long)]
    since: Option<DateArg>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    spool: Spool,
}

/// Prints the success of retries by class, entry and delay, and suggestions.
pub fn advise(a: AdviseArgs) -> Result<()> {
    let (layout, sys, _) = a.spool.open()?;
    let since = a.since.map(|d| d.date(tz(&sys)));
    let jobs: Vec<_> = scan(&layout, &sys)
        .into_iter()
        .filter(|j| matches!(j.place, Place::Sent | Place::Fail))
        .collect();
    let adv = redial::ops::advise::advise(&jobs, since);
    if a.json {
        println!("{}", serde_json::to_string(&adv).context("json")?);
        return Ok(());
    }
    println!(
        "{} jobs, {} attempts, {} retries (SENT and FAIL{})",
        adv.jobs,
        adv.attempts,
        adv.retries,
        since.map(|d| format!(", since {d}")).unwrap_or_default()
    );
    println!(
        "\nby list entry:\n{:<7} {:<6} {:>5} {:>8} {:>9} {:>6} {:>12}",
        "CHANNEL", "CLASS", "ENTRY", "RETRIES", "SUCCESSES", "RATE", "MEDIAN DELAY"
    );
    for r in &adv.by_entry {
        println!(
            "{:<7} {:<6} {:>5} {:>8} {:>9} {:>5.0}% {:>12}",
            r.channel,
            r.class,
            r.entry,
            r.retries,
            r.successes,
            r.rate * 100.0,
            redial::ops::web::countdown(r.median_delay_secs)
        );
    }
    println!(
        "\nby delay:\n{:<7} {:<6} {:<14} {:>8} {:>9} {:>6}",
        "CHANNEL", "CLASS", "DELAY", "RETRIES", "SUCCESSES", "RATE"
    );
    for r in &adv.by_delay {
        println!(
            "{:<7} {:<6} {:<14} {:>8} {:>9} {:>5.0}%",
            r.channel,
            r.class,
            r.delay,
            r.retries,
            r.successes,
            r.rate * 100.0
        );
    }
    if adv.suggestions.is_empty() {
        println!("\nno suggestions (too few retries, or no list is wasting attempts)");
    } else {
        println!("\nsuggestions:");
        for s in &adv.suggestions {
            println!("* {s}");
        }
    }
    Ok(())
}
