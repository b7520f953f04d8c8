//! The queue summary a running node publishes: `ACTIVE/<node>.summary.json`, the counts of
//! `redial status` computed from the node's index once a second (and written when they change,
//! or once per lease renewal), so `status`, the web page and the metrics answer in milliseconds
//! at a million queued jobs instead of reading every file.
//!
//! Owns the file's content and the rule for trusting it: a summary counts only while its node's
//! lease is fresh and the summary itself is no older than the lease's stale time. It never
//! counts anything itself (the daemon does, from its index) and never decides a job's fate.

use super::index::{Index, Wait};
use super::report::{Held, QueueStatus};
use super::{lease, queue_name, Layout};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The most held jobs listed by name (the count is always whole).
pub const HELD_LISTED: usize = 1000;

/// What a node publishes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Summary {
    /// The node.
    pub node: String,
    /// When it was counted.
    pub as_of: DateTime<Utc>,
    /// Per queue the node indexes.
    pub queues: Vec<QueueStatus>,
    /// Jobs no line serves (at most [`HELD_LISTED`]).
    pub held: Vec<Held>,
    /// How many such jobs there are.
    pub held_total: usize,
}

/// The summary file of `node`.
pub fn path(layout: &Layout, node: &str) -> PathBuf {
    layout.active_root().join(format!("{node}.summary.json"))
}

/// Counts `index` at `now` (unix ms), queue by queue, as `redial status` does from the files:
/// due now, held by a window (and until when), waiting for a retry time, scheduled for a send
/// time, or held for good when `unserved` gives a reason for the job's line group.
pub fn count(
    node: &str,
    index: &Index,
    queues: &[u8],
    now: DateTime<Utc>,
    unserved: impl Fn(&str) -> Option<String>,
) -> Summary {
    let ms = now.timestamp_millis();
    let reasons: Vec<Option<String>> = index.groups().iter().map(|g| unserved(g)).collect();
    let mut held = Vec::new();
    let mut held_total = 0;
    let mut out = Vec::new();
    for &q in queues {
        let mut s = QueueStatus::empty(queue_name(q));
        for (name, e) in index.entries(q) {
            if let Some(reason) = &reasons[e.group as usize] {
                s.unserved += 1;
                held_total += 1;
                if held.len() < HELD_LISTED {
                    held.push(Held {
                        queue: s.queue.clone(),
                        job: name.to_string(),
                        reason: reason.clone(),
                    });
                }
                continue;
            }
            match e.wait {
                _ if e.due <= ms => s.due += 1,
                Wait::Retry(t) if t > ms => s.waiting_retry += 1,
                Wait::Send(t) if t > ms => s.scheduled += 1,
                _ => {
                    s.held += 1;
                    let t = DateTime::from_timestamp_millis(e.due).unwrap_or(now);
                    s.held_until = Some(s.held_until.map_or(t, |u| u.min(t)));
                }
            }
        }
        out.push(s);
    }
    held.sort_by(|a, b| (&a.queue, &a.job).cmp(&(&b.queue, &b.job)));
    Summary {
        node: node.to_string(),
        as_of: now,
        queues: out,
        held,
        held_total,
    }
}

/// Writes `summary` (atomically: a reader sees the old or the new one; not fsynced, it is
/// rewritten within a second and worthless after a crash).
pub fn write(layout: &Layout, prefix: &str, summary: &Summary) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(summary).map_err(std::io::Error::other)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .tempfile_in(layout.temp())?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    tmp.persist(path(layout, &summary.node))
        .map_err(|e| e.error)?;
    Ok(())
}

/// The newest trustworthy summary among `leases` at `now`: its node's lease is fresh and it was
/// counted no longer ago than the lease's stale time.
pub fn fresh(layout: &Layout, leases: &[lease::Lease], now: DateTime<Utc>) -> Option<Summary> {
    leases
        .iter()
        .filter(|l| !l.is_stale(now))
        .filter_map(|l| {
            let bytes = std::fs::read(path(layout, &l.node)).ok()?;
            let s: Summary = serde_json::from_slice(&bytes).ok()?;
            let age = (now - s.as_of).num_seconds();
            (s.node == l.node && (-1..=l.stale_after).contains(&age)).then_some(s)
        })
        .max_by_key(|s| s.as_of)
}
