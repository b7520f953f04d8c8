//! The calls real `redial run` nodes placed, read back from their JSON logs (`--json`), and the
//! check the multi-node campaigns share: no job dialled twice at once and no number called twice
//! at once, except the calls fencing cannot prevent (up while their node was stopped past its
//! lease; they end as late reports).

#![allow(dead_code)]

use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// One call as a node's log shows it.
#[derive(Debug, Clone)]
pub struct Call {
    pub node: String,
    pub job: String,
    pub number: String,
    pub start: DateTime<Utc>,
    /// The end and whether it was a late report; None when the node was killed mid-call.
    pub end: Option<(DateTime<Utc>, bool)>,
}

/// When a node was stopped (SIGSTOP to SIGCONT, wall clock as the logs have it).
#[derive(Debug, Clone)]
pub struct StopSpan {
    pub node: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// The calls in `dir/<node>.jsonl` for each of `nodes`: a dial, then on the same job an end
/// (attempt ended or a late report), or nothing when the process died first (its successor's
/// recovery of the job is not the call's end).
pub fn calls_in(dir: &Path, nodes: &[&str]) -> Vec<Call> {
    let mut out = Vec::new();
    for node in nodes {
        let text = std::fs::read_to_string(dir.join(format!("{node}.jsonl"))).unwrap_or_default();
        let mut open: HashMap<String, usize> = HashMap::new(); // job -> index in out
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
                continue; // a line cut by SIGKILL, or not JSON (a panic message)
            };
            let Some(at) = v["timestamp"]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok())
            else {
                continue;
            };
            let f = &v["fields"];
            let msg = f["message"].as_str().unwrap_or("");
            let job = f["job"]
                .as_str()
                .unwrap_or("")
                .trim_matches('"')
                .to_string();
            if msg == "spooler running" {
                open.clear(); // a new process: whatever was up died with the old one
            } else if msg == "recovering a job left in ACTIVE" {
                // A new process (it recovers before it says "spooler running") finds the job
                // its killed predecessor had dialled: that call ended when the process died, at
                // an instant the log does not show. The "attempt ended" that follows is the
                // recovery's (outcome 66), not the call's end.
                open.remove(&job);
            } else if msg == "dialling" {
                open.insert(job.clone(), out.len());
                out.push(Call {
                    node: node.to_string(),
                    job,
                    number: f["number"].as_str().unwrap_or("").into(),
                    start: at,
                    end: None,
                });
            } else if msg == "attempt ended" || msg.starts_with("late report") {
                if let Some(i) = open.remove(&job) {
                    out[i].end = Some((at, msg.starts_with("late report")));
                }
            }
        }
    }
    out
}

/// Pairs of `calls` (all ended) that were up at the same moment.
pub fn overlaps(calls: &[&Call]) -> Vec<(Call, Call)> {
    let mut bad = Vec::new();
    for (i, x) in calls.iter().enumerate() {
        for y in &calls[i + 1..] {
            let (Some((xe, _)), Some((ye, _))) = (x.end, y.end) else {
                continue;
            };
            if x.start < ye && y.start < xe {
                bad.push(((*x).clone(), (*y).clone()));
            }
        }
    }
    bad
}

/// Panics when one job was dialled twice at once or one number called twice at once by calls
/// that ended on a running node (not late reports) and were not up while their node was
/// stopped (`stops`). Returns how many calls were judged.
pub fn assert_never_twice_at_once(calls: &[Call], stops: &[StopSpan]) -> usize {
    let stalled = |c: &Call| {
        let end = c.end.map_or(c.start, |e| e.0);
        stops
            .iter()
            .any(|s| s.node == c.node && s.from < end && c.start < s.to)
    };
    let settled: Vec<&Call> = calls
        .iter()
        .filter(|c| c.end.is_some_and(|(_, late)| !late) && !stalled(c))
        .collect();
    let mut by_job: BTreeMap<&str, Vec<&Call>> = BTreeMap::new();
    let mut by_number: BTreeMap<&str, Vec<&Call>> = BTreeMap::new();
    for c in &settled {
        by_job.entry(&c.job).or_default().push(c);
        by_number.entry(&c.number).or_default().push(c);
    }
    for (j, cs) in &by_job {
        let o = overlaps(cs);
        assert!(o.is_empty(), "job {j} dialled twice at once: {o:?}");
    }
    // When each node was stopped, for a failure's reader: a call that starts just after its
    // node came back is not stalled, but its node's lease may still be the stale one.
    let spans: Vec<String> = stops
        .iter()
        .map(|s| format!("{} {} .. {}", s.node, s.from.time(), s.to.time()))
        .collect();
    for (n, cs) in &by_number {
        let o = overlaps(cs);
        assert!(
            o.is_empty(),
            "number {n} called twice at once: {o:?}; nodes stopped: {spans:?}"
        );
    }
    settled.len()
}
