//! Advice from history (`redial advise`): from the attempt records of the jobs in SENT and
//! FAIL, how often a retry succeeded, by the class that caused it, the list entry that
//! scheduled it and the delay before it; and plain suggestions where a list wastes attempts.
//!
//! Pure: job views in, tables and sentences out. A retry is a record that follows another in
//! the same cycle; the earlier record's class and its position among that class's failures in
//! the cycle name the list entry; the delay is from the end of the earlier attempt to the start
//! of the retry.

use super::scan::JobView;
use crate::retry::attempt::AttemptRecord;
use crate::retry::outcome::{Channel, Class};
use chrono::NaiveDate;
use serde::Serialize;
use std::collections::BTreeMap;

/// Delay buckets: upper bound in seconds (exclusive) and label.
pub const BUCKETS: &[(i64, &str)] = &[
    (120, "under 2 min"),
    (600, "2-10 min"),
    (1800, "10-30 min"),
    (7200, "30 min-2 h"),
    (86_400, "2-24 h"),
    (i64::MAX, "1 day or more"),
];

/// Fewest retries in a group before a suggestion is made from it.
pub const MIN_SAMPLE: u64 = 5;

/// Retries of one group.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Row {
    /// The channel of the attempts (`fax`, `voice`, `email`, `sms`, `poll`): each is advised
    /// apart, as an e-mail's class B (a busy mailbox) has nothing to do with a busy line.
    pub channel: &'static str,
    /// Class of the failure that caused the retries.
    pub class: char,
    /// List entry position (1 = first entry); 0 in the per-delay table (all entries).
    pub entry: usize,
    /// Delay bucket label ("all" in the per-entry table).
    pub delay: String,
    /// Retries.
    pub retries: u64,
    /// Of which succeeded.
    pub successes: u64,
    /// successes / retries.
    pub rate: f64,
    /// Median delay, seconds.
    pub median_delay_secs: i64,
}

/// The whole advice.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Advice {
    /// Jobs read.
    pub jobs: usize,
    /// Attempts counted (on or after `since`).
    pub attempts: usize,
    /// Retries among them.
    pub retries: usize,
    /// By class and entry position.
    pub by_entry: Vec<Row>,
    /// By class and delay bucket.
    pub by_delay: Vec<Row>,
    /// Suggestions in words.
    pub suggestions: Vec<String>,
}

/// What a class means on a channel (for sentences).
pub fn channel_class_name(channel: &str, c: char) -> &'static str {
    match (channel, c) {
        ("email", 'A') => "relay timeout",
        ("email", 'B') => "mailbox busy",
        ("email", 'C') => "relay failure",
        ("email", 'E') => "temporary relay refusal",
        ("sms", 'J') => "no credit",
        ("sms", 'C') => "delivery failure",
        ("sms", 'D') => "gateway failure",
        _ => class_name(c),
    }
}

/// How a suggestion about `channel` starts: nothing for fax (the lists' own channel),
/// `e-mail: `, `SMS: `, `voice: `, `poll: ` for the others.
fn channel_lead(channel: &str) -> &'static str {
    match channel {
        "email" => "e-mail: ",
        "sms" => "SMS: ",
        "voice" => "voice: ",
        "poll" => "poll: ",
        _ => "",
    }
}

/// What a class means (for sentences).
pub fn class_name(c: char) -> &'static str {
    match c {
        'A' => "no answer",
        'B' => "busy",
        'C' => "call failure",
        'D' => "no dial tone",
        'E' => "system error",
        'F' => "fax failure",
        'G' => "user class G",
        'H' => "receiver failure",
        'I' => "ignored",
        _ => "user class",
    }
}

fn bucket(secs: i64) -> usize {
    BUCKETS.iter().position(|(hi, _)| secs < *hi).unwrap_or(0)
}

#[derive(Default)]
struct Acc {
    n: u64,
    ok: u64,
    delays: Vec<i64>,
}

impl Acc {
    fn row(&mut self, channel: &'static str, class: char, entry: usize, delay: &str) -> Row {
        self.delays.sort_unstable();
        Row {
            channel,
            class,
            entry,
            delay: delay.to_string(),
            retries: self.n,
            successes: self.ok,
            rate: if self.n == 0 {
                0.0
            } else {
                self.ok as f64 / self.n as f64
            },
            median_delay_secs: self.delays.get(self.delays.len() / 2).copied().unwrap_or(0),
        }
    }
}

fn pct(r: &Row) -> String {
    format!("{:.0}% ({} of {})", r.rate * 100.0, r.successes, r.retries)
}

/// Builds the advice from the jobs (use those in SENT and FAIL).
pub fn advise(jobs: &[JobView], since: Option<NaiveDate>) -> Advice {
    let mut by_entry: BTreeMap<(&'static str, char, usize), Acc> = BTreeMap::new();
    let mut by_delay: BTreeMap<(&'static str, char, usize), Acc> = BTreeMap::new();
    let (mut attempts, mut retries) = (0, 0);
    for j in jobs {
        let mut cycle: Vec<&AttemptRecord> = Vec::new();
        for r in &j.records {
            let counted = since.is_none_or(|d| r.start().date() >= d);
            if counted {
                attempts += 1;
            }
            if let (Some(prev), true) = (cycle.last(), counted) {
                let c = prev.class.letter();
                let ch = Channel::from_type_code(prev.kind).map_or("fax", Channel::name);
                let entry = cycle.iter().filter(|x| x.class.letter() == c).count();
                let ended = prev.start() + chrono::Duration::seconds(i64::from(prev.call));
                let delay = (r.start() - ended).num_seconds().max(0);
                let ok = r.class == Class::S;
                for (map, key) in [
                    (&mut by_entry, (ch, c, entry)),
                    (&mut by_delay, (ch, c, bucket(delay))),
                ] {
                    let a = map.entry(key).or_default();
                    a.n += 1;
                    a.ok += u64::from(ok);
                    a.delays.push(delay);
                }
                retries += 1;
            }
            if r.class == Class::S || r.class == Class::Z {
                cycle.clear();
            } else {
                cycle.push(r);
            }
        }
    }
    let by_entry: Vec<Row> = by_entry
        .iter_mut()
        .map(|((ch, c, e), a)| a.row(ch, *c, *e, "all"))
        .collect();
    let by_delay: Vec<Row> = by_delay
        .iter_mut()
        .map(|((ch, c, b), a)| a.row(ch, *c, 0, BUCKETS[*b].1))
        .collect();
    let mut suggestions = Vec::new();
    let classes: std::collections::BTreeSet<(&'static str, char)> =
        by_delay.iter().map(|r| (r.channel, r.class)).collect();
    for (ch, c) in classes {
        let rows: Vec<&Row> = by_delay
            .iter()
            .filter(|r| r.channel == ch && r.class == c && r.retries >= MIN_SAMPLE)
            .collect();
        // The worst short delay against the best longer one.
        let mut best: Option<(&Row, &Row)> = None;
        for (i, lo) in rows.iter().enumerate() {
            for hi in &rows[i + 1..] {
                if hi.rate >= 2.0 * lo.rate
                    && hi.rate - lo.rate >= 0.15
                    && best.is_none_or(|(a, b)| hi.rate - lo.rate > b.rate - a.rate)
                {
                    best = Some((lo, hi));
                }
            }
        }
        if let Some((lo, hi)) = best {
            suggestions.push(format!(
                "{}{} retries (class {c}) after {} succeeded {}; after {}, {}: lengthen the short entries of the class {c} list.",
                channel_lead(ch),
                channel_class_name(ch, c),
                lo.delay,
                pct(lo),
                hi.delay,
                pct(hi)
            ));
        }
        let entries: Vec<&Row> = by_entry
            .iter()
            .filter(|r| r.channel == ch && r.class == c)
            .collect();
        if let Some(k) = (2..=entries.iter().map(|r| r.entry).max().unwrap_or(0)).find(|k| {
            let tail: Vec<&&Row> = entries.iter().filter(|r| r.entry >= *k).collect();
            tail.iter().map(|r| r.retries).sum::<u64>() >= 2 * MIN_SAMPLE
                && tail.iter().all(|r| r.successes == 0)
        }) {
            let n: u64 = entries
                .iter()
                .filter(|r| r.entry >= k)
                .map(|r| r.retries)
                .sum();
            suggestions.push(format!(
                "{}{} retries (class {c}) from list entry {k} on never succeeded (0 of {n}): the class {c} list could stop after entry {}.",
                channel_lead(ch),
                channel_class_name(ch, c),
                k - 1
            ));
        }
    }
    Advice {
        jobs: jobs.len(),
        attempts,
        retries,
        by_entry,
        by_delay,
        suggestions,
    }
}
