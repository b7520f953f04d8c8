//! `redial explain`: what the engine would decide after an attempt with a given outcome, or,
//! with no outcome given, when a queued job starts next and what holds it.
//!
//! The CLI contract is fixed (external tests drive it): one line of JSON on stdout, exit 0 on a
//! decision, 2 on unreadable or invalid input. New options only add to it.

use anyhow::{bail, Result};
use chrono::{DateTime, Utc};
use redial::command::registry::{unknown_commands, FileKind};
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
invalid input (the error goes to stderr).\n\nWith --line N the attempt is taken as made on line N \
(lists tied to a line by a CFG selector, and ~0 exclusions, follow it; default: the line of a job \
being dialled, from its dialling mark or $fax_status1). With --next instead of --class/--outcome it answers when the job starts next: \
{\"action\":\"next\",\"at\":…,\"standing\":\"due|held|waiting_retry|scheduled\",\
\"linegroup\":…,\"reason\":…}, the daemon's own computation (standing \
held_by_operator, at null, for a job `redial alter --hold` holds)."
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
    #[arg(
        long,
        conflicts_with_all = ["outcome", "next"],
        required_unless_present_any = ["outcome", "next"]
    )]
    class: Option<String>,
    /// The attempt's outcome code (see the README's code table).
    #[arg(long, conflicts_with = "next")]
    outcome: Option<u32>,
    /// No attempt: when the queued job starts next, on which line group, and what holds it.
    #[arg(long)]
    next: bool,
    /// The line the attempt was made on (default: the line of a job being dialled, from its
    /// dialling mark or its $fax_status1).
    #[arg(long)]
    line: Option<u32>,
    /// The attempt was made on a line of this group (the CFG's lines and groups; its first
    /// line stands for it). Ignored when --line is given.
    #[arg(long)]
    linegroup: Option<String>,
}

#[derive(Serialize)]
struct NextOutput {
    action: &'static str,
    at: Option<String>,
    standing: &'static str,
    linegroup: String,
    reason: String,
}

/// No outcome given: when the job starts next, as the daemon computes it.
fn next_attempt(loaded: &redial::load::LoadedJob, now: DateTime<Utc>) -> Result<()> {
    use redial::spool::report::{standing, Standing};
    let fmt = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let cal = loaded.policy.calendar();
    let local = |t: DateTime<Utc>| cal.local(t).format("%Y-%m-%d %H:%M:%S").to_string();
    let group = loaded.job.send_line.clone().unwrap_or_else(|| "*".into());
    if redial::ops::alter::is_held(&loaded.document) {
        let out = NextOutput {
            action: "next",
            at: None,
            standing: "held_by_operator",
            linegroup: group,
            reason: redial::ops::alter::HELD_REASON.to_string(),
        };
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    if let Some(p) = redial::daemon::sms::pending(&loaded.document) {
        let price = p
            .price
            .as_deref()
            .map(|x| format!(" at price {x}"))
            .unwrap_or_default();
        let out = NextOutput {
            action: "next",
            at: Some(fmt(p.deadline)),
            standing: "waiting_report",
            linegroup: group,
            reason: format!(
                "waiting for the delivery report of SMS {}{price}, handed to the gateway {}: never resent while it waits (a second message could charge twice); settled when the report comes, or failed with outcome 411 at {}",
                p.id,
                fmt(p.submitted),
                local(p.deadline)
            ),
        };
        println!("{}", serde_json::to_string(&out)?);
        return Ok(());
    }
    let out = match standing(&loaded.policy, &loaded.job, now) {
        Ok(Standing::Due) => NextOutput {
            action: "next",
            at: Some(fmt(now)),
            standing: "due",
            linegroup: group.clone(),
            reason: format!("due now on line group {group}: its times have come and no window holds it"),
        },
        Ok(Standing::Held(t)) => NextOutput {
            action: "next",
            at: Some(fmt(t)),
            standing: "held",
            linegroup: group.clone(),
            reason: format!(
                "its times have come, but its send window or a pause window allows no start before {}; then on line group {group}",
                local(t)
            ),
        },
        Ok(Standing::WaitingRetry(t)) => NextOutput {
            action: "next",
            at: Some(fmt(t)),
            standing: "waiting_retry",
            linegroup: group.clone(),
            reason: format!(
                "waiting for its retry time ($fax_next_date/time), moved by its windows to {}; then on line group {group}",
                local(t)
            ),
        },
        Ok(Standing::Scheduled(t)) => NextOutput {
            action: "next",
            at: Some(fmt(t)),
            standing: "scheduled",
            linegroup: group.clone(),
            reason: format!(
                "scheduled for its send date and time, moved by its windows to {}; then on line group {group}",
                local(t)
            ),
        },
        Err(e) => NextOutput {
            action: "fail",
            at: None,
            standing: "never",
            linegroup: group,
            reason: format!("no start is possible: {e}"),
        },
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
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
    // Said as the daemon says it at intake: nothing mistyped passes unremarked.
    for u in unknown_commands(&loaded.document, FileKind::Fs) {
        eprintln!("warning: {u}; {}", u.consequence());
    }
    let Some(channel) = loaded.job.channel() else {
        bail!("{}: the job has no destination ($fax_phone, $voice_phone, $sms_phone or $email_address)", args.fs_file.display());
    };
    let group_line = match &args.linegroup {
        Some(g) => {
            let lines = redial::linegroup::LineMap::from_cfg(&cfg.document).resolve(g);
            match lines.first() {
                Some(l) => Some(*l),
                None => bail!("--linegroup {g}: no configured line is in that group"),
            }
        }
        None => None,
    };
    let line = args
        .line
        .or(group_line)
        .or_else(|| redial::spool::dialling::live_mark(&args.fs_file).map(|m| m.line))
        .or_else(|| loaded.job.status1.and_then(|(_, line)| line));
    let (class, code, description) = match (&args.class, args.outcome) {
        (Some(c), _) => (Class::parse(c).map_err(anyhow::Error::msg)?, None, None),
        (None, Some(code)) => {
            let row = cfg.outcomes.classify(code, Some(channel));
            (row.class, Some(code), Some(row.description))
        }
        (None, None) if args.next => return next_attempt(&loaded, now),
        (None, None) => bail!("give --class, --outcome or --next"),
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
    let reason = match decision.action {
        Action::Retry { .. } => {
            let mut r = decision.reason.clone();
            for said in channel_effects(&decision.effects, &loaded.job, &loaded.document) {
                r.push_str("; ");
                r.push_str(&said);
            }
            r
        }
        _ => decision.reason.clone(),
    };
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
        reason,
    };
    println!("{}", serde_json::to_string(&out)?);
    Ok(())
}

/// What a retry's e-mail and SMS prefix letters change, one phrase each (`E`, `I`, `P`); the
/// fax letters are described by the engine's reason already.
fn channel_effects(
    e: &redial::retry::engine::Effects,
    job: &redial::job::Job,
    doc: &redial::command::Document,
) -> Vec<String> {
    let mut said = Vec::new();
    if e.email_alternate {
        said.push(match &job.destinations.email_alt_address {
            Some(a) => format!("prefix E: the retry goes to {a} ($email_alt_address)"),
            None => {
                "prefix E: the job has no $email_alt_address, so the retry goes to its main address"
                    .to_string()
            }
        });
    }
    if e.isp_relay {
        said.push(
            "prefix I: the retry goes through the line's fallback= relay (the main relay when the line has none)"
                .to_string(),
        );
    }
    if e.price_down {
        let step = redial::line::sms_http::price_step(doc).saturating_add(1);
        said.push(match doc.last("sms_price").map(|c| c.joined()) {
            Some(list) => {
                let points = list.split_whitespace().count();
                match redial::line::sms_http::price_at(&list, step) {
                    Some(p) => format!(
                        "prefix P: the retry goes at price {p} (point {} of $sms_price \"{list}\")",
                        (step + 1).min(points)
                    ),
                    None => format!("prefix P: $sms_price \"{list}\" lists no price"),
                }
            }
            None => "prefix P: the job has no $sms_price, so no price is sent".to_string(),
        });
    }
    said
}
