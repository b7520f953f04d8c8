//! The retry engine: one pure function from (policy, job, this attempt, clock) to a decision.
//!
//! Owns the decision rules of spec sections 4 and 8: per-class traversal, list exhaustion,
//! `$retry_max` with the immediate-retry extra, class I, legacy shared sequence, the clock-time
//! rule (only the first clock entry reached in a cycle is honoured, later ones act as 3-minute
//! delays), prefix letters, `$retry_tosend`, `$retry_linegroup` with `~0`, and the calendar
//! (send windows, pause windows). It never reads files or the system clock.

use super::attempt::AttemptRecord;
use super::delays::{Prefixes, RetryEntry, When};
use super::outcome::{Channel, Class};
use super::policy::{ListFamily, ListSource, Policy};
use crate::calendar::CalendarError;
use crate::job::Job;
use crate::linegroup::exclude_failed;
use chrono::{DateTime, Duration, Utc};

/// Class I retries wait this long.
pub const CLASS_I_DELAY_SECS: i64 = 60;
/// This many consecutive class I outcomes fail the job.
pub const MAX_CONSECUTIVE_IGNORED: usize = 50;
/// A clock entry reached after another clock entry in the same cycle acts as this delay.
pub const LATER_CLOCK_DELAY_SECS: i64 = 180;
/// The outcome code written when the send window's permitted days are over.
pub const WINDOW_EXPIRED: u32 = 183;

/// The attempt that just ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ThisAttempt {
    /// Its outcome class.
    pub class: Class,
    /// Its outcome code, when known.
    pub code: Option<u32>,
    /// What the code means (for the reason).
    pub description: Option<String>,
    /// When it ended: relative delays count from here.
    pub ended: DateTime<Utc>,
    /// The line it ran on, when known.
    pub line: Option<u32>,
    /// The channel it used.
    pub channel: Channel,
}

/// Everything `decide` looks at.
#[derive(Debug, Clone)]
pub struct Input<'a> {
    /// The three policy levels.
    pub policy: &'a Policy,
    /// The job (its records before this attempt, its send window, its line group).
    pub job: &'a Job,
    /// The TOSEND queue the job came from.
    pub queue_from: u8,
    /// This attempt.
    pub attempt: ThisAttempt,
    /// Seed for backoff jitter (stable per job, so a job's list never changes).
    pub seed: u64,
}

/// What happens next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Try again at this instant.
    Retry {
        /// When (never before the attempt's end).
        at: DateTime<Utc>,
    },
    /// Move to FAIL.
    Fail,
    /// Move to SENT.
    Done,
}

/// What the prefix letters of the entry ask of the next attempt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Effects {
    /// `A`: dial `$alternate_phone` (and send `$alternate_cover`).
    pub alternate: bool,
    /// `E`: use `$email_alt_address`.
    pub email_alternate: bool,
    /// `I`: send e-mail through the fallback SMTP relay.
    pub isp_relay: bool,
    /// `R`: standard (low) resolution.
    pub low_resolution: bool,
    /// `T`: one fax speed step lower.
    pub speed_down: bool,
    /// `P`: the next point of the job's `$sms_price` list (drop-down billing).
    pub price_down: bool,
    /// `X`/`Y`: commands to write into the job.
    pub params: Vec<(String, Vec<String>)>,
}

/// The engine's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    /// Retry, fail or done.
    pub action: Action,
    /// The outcome class of this attempt.
    pub class: Class,
    /// The class to write in this attempt's record (`S`, `Z` on the final failure, else `class`).
    pub record_class: Class,
    /// 1-based index of the list entry used (`None` for class I and final decisions).
    pub entry: Option<usize>,
    /// The queue the job goes to (or stays in).
    pub tosend: u8,
    /// The new `$fax_send_line`, when it changes.
    pub linegroup: Option<String>,
    /// The prefix letters of the entry used.
    pub prefixes: Prefixes,
    /// What the prefixes ask for.
    pub effects: Effects,
    /// An outcome code to write instead of this attempt's (183 when the window expired).
    pub status_override: Option<u32>,
    /// A sentence for operators.
    pub reason: String,
}

/// `t` rounded up to a whole second.
pub fn ceil_to_second(t: DateTime<Utc>) -> DateTime<Utc> {
    if t.timestamp_subsec_nanos() == 0 {
        t
    } else {
        DateTime::from_timestamp(t.timestamp() + 1, 0).unwrap_or(t)
    }
}

/// The earliest instant at or after both `t` and `now` at which `job` may start an attempt:
/// inside its send window (`$fax_send_time START END [DAYS]`) and outside every pause window,
/// in the job's calendar (time zone, `$working_days`, `$holiday`). Every start goes through
/// here — the engine's retry times, the daemon's due times at intake, the re-check when a job is
/// claimed, a destination breaker's release — so no attempt starts outside the windows, whatever
/// made it due. Starting from `now` as well as `t` is what keeps an overdue time (a send date or
/// retry time that passed while the daemon was down) from counting as allowed.
///
/// `now` also dates the week of digit DAYS when neither `$fax_send_date` nor an attempt of the
/// current cycle does. Errors: the digit days' week is over (outcome 183), or the windows leave
/// no time at all.
pub fn earliest_start(
    policy: &Policy,
    job: &Job,
    t: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, CalendarError> {
    let cal = policy.calendar();
    let first_day = job
        .cycle()
        .first()
        .map_or_else(|| cal.local(now).date(), |r| r.start().date());
    let window = job.send_window(first_day);
    cal.earliest_start(t.max(now), window.as_ref())
}

/// When a queued job may next start: its `$fax_next_date/time`, else its
/// `$fax_send_date/time`, else now — never before now — moved by the windows
/// ([`earliest_start`]).
pub fn next_start(
    policy: &Policy,
    job: &Job,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, CalendarError> {
    let cal = policy.calendar();
    let base = job.due_local().map_or(now, |t| cal.instant(t));
    earliest_start(policy, job, base, now)
}

/// Whether `job` may start an attempt at `now` (its windows allow it; its due time is not
/// looked at).
pub fn may_start_at(policy: &Policy, job: &Job, now: DateTime<Utc>) -> bool {
    earliest_start(policy, job, now, now) == Ok(now)
}

/// Describes a delay in words: "10 seconds", "1 minute", "2 hours".
pub fn describe_delay(secs: u32) -> String {
    let plural = |n: u32, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if secs >= 3600 && secs.is_multiple_of(3600) {
        plural(secs / 3600, "hour")
    } else if secs >= 60 && secs.is_multiple_of(60) {
        plural(secs / 60, "minute")
    } else {
        plural(secs, "second")
    }
}

/// What a record in the cycle used from its list, found by replaying the history.
fn replay(
    policy: &Policy,
    family: ListFamily,
    legacy: bool,
    seed: u64,
    cycle: &[AttemptRecord],
) -> Vec<Option<RetryEntry>> {
    let mut per_class: Vec<(Class, usize)> = Vec::new();
    let mut shared = 0;
    let mut used = Vec::new();
    for r in cycle.iter().filter(|r| r.class.is_retryable()) {
        let k = if legacy {
            shared += 1;
            shared
        } else {
            match per_class.iter_mut().find(|(c, _)| *c == r.class) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    per_class.push((r.class, 1));
                    1
                }
            }
        };
        let (spec, _) = policy.list(family, r.class.letter(), r.line());
        used.push(spec.expand(seed).entries.get(k - 1).copied());
    }
    used
}

/// Decides what happens after an attempt.
pub fn decide(input: &Input) -> Decision {
    let Input {
        policy,
        job,
        queue_from,
        attempt,
        seed,
    } = input;
    let class = attempt.class;
    let now = attempt.ended;
    let cycle = job.cycle();
    let mut d = Decision {
        action: Action::Fail,
        class,
        record_class: class,
        entry: None,
        tosend: *queue_from,
        linegroup: None,
        prefixes: Prefixes::default(),
        effects: Effects::default(),
        status_override: None,
        reason: String::new(),
    };
    let what = match (&attempt.code, &attempt.description) {
        (Some(c), Some(desc)) => format!("outcome {c} ({desc})"),
        (Some(c), None) => format!("outcome {c}"),
        _ => format!("class {class}"),
    };
    if class == Class::S {
        d.action = Action::Done;
        d.reason = format!("{what} is a success (class S): the job is done");
        return d;
    }
    if class == Class::Z {
        d.reason = format!("{what} is final (class Z)");
        return d;
    }
    let family = policy.family(attempt.channel, job.has_phone());
    let legacy = policy.legacy(family);
    let (entry, entry_index, mut reason) = if class == Class::I {
        let streak = 1 + cycle
            .iter()
            .rev()
            .take_while(|r| r.class == Class::I)
            .count();
        if streak >= MAX_CONSECUTIVE_IGNORED {
            d.record_class = Class::Z;
            d.reason = format!("{streak} consecutive class I outcomes: giving up");
            return d;
        }
        let e = RetryEntry {
            prefixes: Prefixes::default(),
            when: When::Delay(CLASS_I_DELAY_SECS as u32),
        };
        (
            e,
            None,
            format!("{what} is ignored (class I): retry in 1 minute, no list or retry count used"),
        )
    } else {
        let history = replay(policy, family, legacy, *seed, cycle);
        let k = if legacy {
            history.len() + 1
        } else {
            1 + cycle.iter().filter(|r| r.class == class).count()
        };
        let (spec, source) = policy.list(family, class.letter(), attempt.line);
        let list = spec.expand(*seed);
        let list_name = if legacy {
            "the shared legacy list (no $retry_delays anywhere)".to_string()
        } else {
            let from = match source {
                ListSource::Command(level, line) => {
                    let origin = &policy.layer(level).origin;
                    if origin.is_empty() {
                        format!("{level:?} line {line}")
                    } else {
                        format!("{origin} line {line}")
                    }
                }
                ListSource::Callback => "$callback default".to_string(),
            };
            format!("class {class} list ({from})")
        };
        let Some(entry) = list.entries.get(k - 1).copied() else {
            d.record_class = Class::Z;
            d.reason = if list.entries.is_empty() {
                format!("{what}: {list_name} is empty, so the first failure is final")
            } else {
                let n = list.entries.len();
                format!(
                    "{what}: {} exhausted after {n} retr{}",
                    if legacy {
                        "the shared legacy list".to_string()
                    } else {
                        format!("class {class} list")
                    },
                    if n == 1 { "y" } else { "ies" }
                )
            };
            return d;
        };
        // Retries made so far: every counted attempt of the cycle but the first.
        let retries_done = history.len();
        let mut note = "";
        if let Some(max) = policy.retry_max(family, attempt.line) {
            let max = max as usize;
            let extra = retries_done == max
                && max > 0
                && history
                    .last()
                    .copied()
                    .flatten()
                    .is_some_and(|e| e.is_immediate());
            if retries_done >= max && !extra {
                d.record_class = Class::Z;
                d.reason =
                    format!("{what}: $retry_max {max} reached ({retries_done} retries made)");
                return d;
            }
            if extra {
                note = " ($retry_max reached, but the retry that reached it was immediate, so one more is made)";
            }
        }
        let clock_used = history.iter().flatten().any(RetryEntry::is_clock);
        let mut r = format!("{what}: {list_name}, entry {k} of {}", list.entries.len());
        r.push_str(note);
        let entry = if entry.is_clock() && clock_used {
            r.push_str(&format!(
                " (a clock time was already used in this cycle, so {entry} acts as a {} delay)",
                describe_delay(LATER_CLOCK_DELAY_SECS as u32)
            ));
            RetryEntry {
                prefixes: entry.prefixes,
                when: When::Delay(LATER_CLOCK_DELAY_SECS as u32),
            }
        } else {
            RetryEntry {
                prefixes: entry.prefixes,
                when: entry.when,
            }
        };
        (entry, Some(k), r)
    };
    let cal = policy.calendar();
    let due = match entry.when {
        When::Delay(s) => {
            reason.push_str(&format!(": {} after the attempt ended", describe_delay(s)));
            Some(now + Duration::seconds(i64::from(s)))
        }
        When::Clock(t, rule) => {
            reason.push_str(&format!(": next {} ({:?} day)", t.format("%H:%M"), rule));
            cal.next_clock(now, t, rule)
        }
        When::At(t) => {
            let at = cal.instant(t);
            if at > now {
                reason.push_str(&format!(": scheduled for {}", t.format("%Y-%m-%d %H:%M")));
                Some(at)
            } else {
                reason.push_str(&format!(
                    ": scheduled for {}, which has passed, so at once",
                    t.format("%Y-%m-%d %H:%M")
                ));
                Some(now)
            }
        }
    };
    let at = match due
        .ok_or(CalendarError::NoAllowedTime)
        .and_then(|t| earliest_start(policy, job, t, now))
    {
        Ok(at) => at,
        Err(e) => {
            d.record_class = Class::Z;
            if matches!(e, CalendarError::WindowExpired(_)) {
                d.status_override = Some(WINDOW_EXPIRED);
            }
            d.reason = format!("{reason}; but {e}");
            return d;
        }
    };
    if let Some(unmoved) = due {
        if at != unmoved {
            reason.push_str(&format!(
                ", moved to {} by the send or pause windows",
                cal.local(at).format("%Y-%m-%d %H:%M")
            ));
        }
    }
    // The job file keeps whole seconds ($fax_next_time HH:MM:SS): the instant is rounded up to
    // one, so what is written, what `explain` says and when the daemon dials are the same
    // instant, and no retry starts before the delay has passed.
    d.action = Action::Retry {
        at: ceil_to_second(at),
    };
    d.entry = entry_index;
    d.prefixes = entry.prefixes;
    d.reason = reason;
    apply_prefixes(&mut d, input);
    d
}

/// Queue, line group and effects of the retry (spec 8.1, `$retry_tosend`, `$retry_linegroup`).
fn apply_prefixes(d: &mut Decision, input: &Input) {
    let Input {
        policy,
        job,
        queue_from,
        attempt,
        ..
    } = input;
    let p = d.prefixes;
    let mut queue = policy.retry_tosend(attempt.line).unwrap_or(*queue_from);
    if p.has('Q') {
        queue = (queue + 1).min(policy.max_queue());
    }
    d.tosend = queue;
    let cap = policy.total_lines().map(|n| n / 3);
    let current = job.send_line.as_deref();
    if let Some(group) = policy.retry_linegroup(attempt.line) {
        let next = if group.split(',').any(|g| g.trim() == "~0") {
            exclude_failed(&group, current, attempt.line, cap)
        } else {
            group
        };
        d.linegroup = Some(next);
    }
    if p.has('G') {
        if let Some(line) = attempt.line {
            let base = d
                .linegroup
                .clone()
                .or_else(|| current.map(str::to_string))
                .unwrap_or_else(|| "*".into());
            if !base.split(',').any(|g| g.trim() == format!("~{line}")) {
                d.linegroup = Some(format!("{base},~{line}"));
            }
        }
    }
    if d.linegroup.as_deref() == current
        || (current.is_none() && d.linegroup.as_deref() == Some("*"))
    {
        d.linegroup = None;
    }
    d.effects = Effects {
        alternate: p.has('A'),
        email_alternate: p.has('E'),
        isp_relay: p.has('I'),
        low_resolution: p.has('R'),
        speed_down: p.has('T'),
        price_down: p.has('P'),
        params: ['X', 'Y']
            .into_iter()
            .filter(|&l| p.has(l))
            .flat_map(|l| policy.param_group(l))
            .collect(),
    };
}
