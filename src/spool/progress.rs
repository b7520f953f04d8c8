//! Live progress of calls in flight: `ACTIVE/<node>.calls.json`, what each call a node has up is
//! doing now (`dialling`, `page 2/5 at 14400`), as its line last reported.
//!
//! Owns the file's path and format (one JSON object per node) and its writing and reading. The
//! daemon keeps its calls' steps in memory and rewrites its file when they changed, at most
//! every [`PUBLISH_EVERY`], so a busy node writes a few small files a second however many lines
//! it has; `redial list`, `redial send --wait` and the web job page read every node's file. It is
//! not job state: written by rename but never fsynced; a step is shown only for the attempt it
//! names (the job's next record), so a stale file (a node that died) shows nothing wrong. It
//! never decides anything.

use super::Layout;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

/// The shortest time between two writes of a node's file.
pub const PUBLISH_EVERY: Duration = Duration::from_millis(200);

/// One call's latest step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The job's file name.
    pub job: String,
    /// The attempt (the number of the record it will add to the job).
    pub attempt: usize,
    /// The line.
    pub line: u32,
    /// When the line reported the step (the node's clock).
    pub at: DateTime<Utc>,
    /// The step in words (`dialling`, `connected`, `page 2/5 at 14400`).
    pub step: String,
}

/// A node's file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Calls {
    /// The node.
    pub node: String,
    /// Its calls that reported a step, by line.
    pub calls: Vec<Progress>,
}

/// `ACTIVE/<node>.calls.json`.
pub fn path(layout: &Layout, node: &str) -> PathBuf {
    layout.active_root().join(format!("{node}.calls.json"))
}

/// Replaces `calls.node`'s file (a temporary file in `TEMP` named with `prefix`, then a rename,
/// so a reader sees the old file or the new one, never half of one).
pub fn write(layout: &Layout, prefix: &str, calls: &Calls) -> std::io::Result<()> {
    let bytes = serde_json::to_vec(calls).map_err(std::io::Error::other)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .tempfile_in(layout.temp())?;
    std::io::Write::write_all(&mut tmp, &bytes)?;
    tmp.persist(path(layout, &calls.node))
        .map_err(|e| e.error)?;
    Ok(())
}

/// Removes `node`'s file (the node stops). Missing is fine.
pub fn remove(layout: &Layout, node: &str) {
    let _ = std::fs::remove_file(path(layout, node));
}

/// Every node's calls, by job, with the node holding each. Unreadable files are skipped.
pub fn read_all(layout: &Layout) -> HashMap<String, (String, Progress)> {
    let mut out = HashMap::new();
    let Ok(rd) = std::fs::read_dir(layout.active_root()) else {
        return out;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        if !name.to_string_lossy().ends_with(".calls.json") {
            continue;
        }
        let Some(calls) = std::fs::read(e.path())
            .ok()
            .and_then(|b| serde_json::from_slice::<Calls>(&b).ok())
        else {
            continue;
        };
        for p in calls.calls {
            out.insert(p.job.clone(), (calls.node.clone(), p));
        }
    }
    out
}

/// The step of `job`'s attempt `attempt` on any node, when a line has reported one.
pub fn step_of(
    all: &HashMap<String, (String, Progress)>,
    job: &str,
    attempt: usize,
) -> Option<(String, Progress)> {
    all.get(job).filter(|(_, p)| p.attempt == attempt).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(job: &str, attempt: usize, line: u32, step: &str) -> Progress {
        Progress {
            job: job.into(),
            attempt,
            line,
            at: "2026-12-02T10:00:00Z".parse().unwrap(),
            step: step.into(),
        }
    }

    #[test]
    fn steps_are_replaced_read_back_by_job_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), 0);
        layout.create(None).unwrap();
        assert!(read_all(&layout).is_empty());
        let mut calls = Calls {
            node: "n1".into(),
            calls: vec![
                step("7.FS", 2, 3, "dialling"),
                step("8.FS", 1, 4, "connected"),
            ],
        };
        write(&layout, ".n1-", &calls).unwrap();
        calls.calls[0].step = "page 2/5 at 14400".into();
        write(&layout, ".n1-", &calls).unwrap();
        write(
            &layout,
            ".n2-",
            &Calls {
                node: "n2".into(),
                calls: vec![step("9.FS", 1, 1, "dialling")],
            },
        )
        .unwrap();
        let all = read_all(&layout);
        assert_eq!(all.len(), 3);
        assert_eq!(
            step_of(&all, "7.FS", 2),
            Some(("n1".into(), calls.calls[0].clone()))
        );
        assert_eq!(step_of(&all, "9.FS", 1).unwrap().0, "n2");
        // Another attempt's step is not this one's.
        assert_eq!(step_of(&all, "7.FS", 1), None);
        assert_eq!(path(&layout, "n1"), dir.path().join("ACTIVE/n1.calls.json"));
        remove(&layout, "n1");
        assert_eq!(read_all(&layout).len(), 1);
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(layout.temp()).unwrap().count(), 0);
    }

    #[test]
    fn a_damaged_file_shows_no_step() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), 0);
        layout.create(None).unwrap();
        std::fs::write(path(&layout, "n1"), b"{\"node\":\"n1\",\"calls\":[").unwrap();
        assert!(read_all(&layout).is_empty());
    }
}
