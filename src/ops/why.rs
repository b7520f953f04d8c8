//! Why each attempt of a job was followed by what followed it: the retry engine replayed over
//! the job's attempt records, each decided with the records before it, as the daemon decided it
//! then (and as `redial explain` decides the next one): the list and entry used, the delay, the
//! retry time or why the job failed.
//!
//! Pure: a loaded job in, one answer per record out. It never reads or writes the spool. The
//! replay uses the job as it is now for everything but its records, so a change made later
//! (an operator's `alter`, a `$retry_tosend` or `$retry_linegroup` move) shows in the answers
//! for earlier attempts; the reasons of retries themselves (lists, entries, delays) depend only
//! on the records and the policy.

use crate::load::LoadedJob;
use crate::retry::engine::{decide, Action, Input, ThisAttempt};
use crate::retry::outcome::{Channel, Class, OutcomeTable};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// What the engine decided after one attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Why {
    /// `retry`, `fail` or `done`.
    pub action: &'static str,
    /// For a retry: the instant it was scheduled for.
    pub at: Option<DateTime<Utc>>,
    /// The list entry used (1-based), when one was.
    pub entry: Option<usize>,
    /// The engine's sentence: the code, the list and entry, the delay, the window.
    pub reason: String,
}

/// The engine's decision after each of the job's records, in record order.
pub fn replay(loaded: &LoadedJob, outcomes: &OutcomeTable, queue_from: u8, seed: u64) -> Vec<Why> {
    let cal = loaded.policy.calendar();
    let records = &loaded.job.records;
    // The job as the engine saw it before each attempt: its records grow one at a time (each
    // record cloned once, not once per later attempt).
    let mut before = crate::job::Job {
        records: Vec::with_capacity(records.len()),
        ..loaded.job.clone()
    };
    let mut out = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            before.records.push(records[i - 1].clone());
        }
        let channel = Channel::from_type_code(r.kind)
            .or(loaded.job.channel())
            .unwrap_or(Channel::Fax);
        let row = outcomes.classify(r.outcome, Some(channel));
        // The record keeps S or Z for the attempt that ended the cycle; the engine is asked
        // with the outcome's own class, as the daemon asked it.
        let class = match r.class {
            Class::S => Class::S,
            Class::Z => row.class,
            c => c,
        };
        let line = r
            .boardline()
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .parse::<u32>()
            .ok();
        let ended = cal.instant(r.start()) + Duration::seconds(i64::from(r.call));
        let d = decide(&Input {
            policy: &loaded.policy,
            job: &before,
            queue_from,
            attempt: ThisAttempt {
                class,
                code: Some(r.outcome),
                description: Some(row.description),
                ended,
                line,
                channel,
            },
            seed,
        });
        let (action, at) = match d.action {
            Action::Retry { at } => ("retry", Some(at)),
            Action::Fail => ("fail", None),
            Action::Done => ("done", None),
        };
        if r.class == Class::Z && action != "fail" {
            // The record says the daemon failed it; the policy as it is now would not (changed
            // since, or the job was failed by other means): the record is what happened.
            let reason = match loaded.document.last("fail_reason") {
                Some(c) if i + 1 == records.len() => c.joined(),
                _ => format!(
                    "failed for good after outcome {} (the record's class Z)",
                    r.outcome
                ),
            };
            out.push(Why {
                action: "fail",
                at: None,
                entry: None,
                reason,
            });
            continue;
        }
        out.push(Why {
            action,
            at,
            entry: d.entry,
            reason: d.reason,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{job_from_document, SystemConfig};

    fn loaded(text: &str) -> LoadedJob {
        let doc = crate::command::Document::parse(text.as_bytes(), "t.FS").unwrap();
        job_from_document(doc, None, &SystemConfig::builtin(), None).unwrap()
    }

    /// Busy twice on a "1 5" list, then sent: the first retry came from entry 1 a minute after
    /// the first call ended, the second from entry 2 five minutes after, and the success ends.
    #[test]
    fn each_retry_names_its_entry_and_instant_and_the_last_attempt_ends_it() {
        let l = loaded(
            "$fax_phone 5550100\n$retry_delays B \"1 5\"\n$timezone UTC\n\
             $attempt_record 03/02/2026 09:00:00 1 0 1 2 B 0 0 0 M1 0 30 0 \"\"\n\
             $attempt_record 03/02/2026 09:01:40 1 0 1 2 B 0 0 0 M1 0 20 0 \"\"\n\
             $attempt_record 03/02/2026 09:07:00 1 0 1 0 S 1 0 0 M1 14400 40 35 \"\"\n",
        );
        let w = replay(&l, &SystemConfig::builtin().outcomes, 0, 7);
        assert_eq!(w.len(), 3);
        assert_eq!((w[0].action, w[0].entry), ("retry", Some(1)));
        assert_eq!(w[0].at, Some("2026-03-02T09:01:30Z".parse().unwrap()));
        assert!(w[0].reason.contains("entry 1 of 2"), "{}", w[0].reason);
        assert_eq!((w[1].action, w[1].entry), ("retry", Some(2)));
        assert_eq!(w[1].at, Some("2026-03-02T09:07:00Z".parse().unwrap()));
        assert_eq!(w[2].action, "done");
    }

    /// A final failure recorded as Z is replayed with its outcome's own class: the reason says
    /// why the job failed (here: invalid number, final at once).
    /// A record of class Z is a failure whatever the policy says now: with a list that would
    /// retry it, the job's `$fail_reason` is what the engine said then.
    #[test]
    fn a_z_record_stays_a_failure_when_the_policy_changed_since() {
        let l = loaded(
            "$fax_phone 5550100\n$timezone UTC\n$retry_delays B \"60\"\n\
             $attempt_record 03/02/2026 09:00:00 1 0 1 2 Z 0 0 0 M1 0 5 0 \"\"\n\
             $fail_reason \"too many busy signals\"\n",
        );
        let w = replay(&l, &SystemConfig::builtin().outcomes, 0, 7);
        assert_eq!(
            (w[0].action, w[0].reason.as_str()),
            ("fail", "too many busy signals")
        );
    }

    #[test]
    fn a_final_failure_says_why_it_failed() {
        let l = loaded(
            "$fax_phone 5550100\n$timezone UTC\n\
             $attempt_record 03/02/2026 09:00:00 1 0 1 11 Z 0 0 0 M1 0 5 0 \"\"\n",
        );
        let w = replay(&l, &SystemConfig::builtin().outcomes, 0, 7);
        assert_eq!(w[0].action, "fail", "{w:?}");
        assert!(w[0].reason.contains("outcome 11"), "{}", w[0].reason);
    }
}
