//! The console's audit trail on disk: `LOG/web-audit.jsonl` in the spool, one JSON object per
//! line (time, client, operator, action, job, outcome, detail), appended and flushed to disk
//! (`fsync`) before the answer goes out, and read back newest first for `GET /audit` and
//! `GET /api/audit`.
//!
//! Owns that file only: appends never rewrite what is there, a torn last line (a crash in the
//! middle of a write) is skipped when read, and a trail that cannot be written is logged as an
//! error without refusing the action (the action itself is already on record in the job file).
//! It never decides whether an action is allowed. Every entry also goes to the log
//! (`redial::audit`), as before the file existed.

use super::WebState;
use crate::spool::Layout;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::path::PathBuf;

/// One operator action (or sign-in) on record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// When (the server's clock).
    pub at: DateTime<Utc>,
    /// The client's address.
    pub client: String,
    /// The operator (`token` for the shared token; the name given for a refused sign-in).
    pub operator: String,
    /// `sign-in`, `retry`, `cancel`, `hold`, `release`, `alter`.
    pub action: String,
    /// The job (empty for a sign-in).
    pub job: String,
    /// `ok`, `requested` (a cancel left for the node dialling the job) or `refused`.
    pub outcome: String,
    /// What was asked and what came of it, in words.
    pub detail: String,
}

/// `LOG/web-audit.jsonl`.
pub fn path(layout: &Layout) -> PathBuf {
    layout.root.join("LOG").join("web-audit.jsonl")
}

/// Appends one entry and flushes it to disk (the directory too when the file is new).
pub fn append(layout: &Layout, e: &Entry) -> io::Result<()> {
    let p = path(layout);
    let dir = p.parent().expect("LOG/");
    // LOG/ is made inside an existing spool only: the trail never creates a spool.
    match std::fs::create_dir(dir) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    let new = !p.exists();
    let mut line = serde_json::to_vec(e).map_err(io::Error::other)?;
    line.push(b'\n');
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .read(true)
        .append(true)
        .open(&p)?;
    // After a torn last line (a crash mid-write) the new entry starts on a line of its own.
    let len = f.metadata()?.len();
    let mut last = [b'\n'];
    if len > 0 {
        std::os::unix::fs::FileExt::read_exact_at(&f, &mut last, len - 1)?;
    }
    if last[0] != b'\n' {
        line.insert(0, b'\n');
    }
    // One write of the whole line: appends of concurrent writers do not interleave.
    f.write_all(&line)?;
    f.sync_data()?;
    if new {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// The newest `limit` entries, newest first (lines that do not read are skipped).
pub fn read(layout: &Layout, limit: usize) -> Vec<Entry> {
    let Ok(text) = std::fs::read_to_string(path(layout)) else {
        return Vec::new();
    };
    text.lines()
        .rev()
        .filter_map(|l| serde_json::from_str(l).ok())
        .take(limit)
        .collect()
}

/// Records an entry for the state's spool at the state's time; a failed write is logged.
pub(super) fn record(
    s: &WebState,
    client: &str,
    operator: &str,
    action: &str,
    job: &str,
    outcome: &str,
    detail: &str,
) {
    let e = Entry {
        at: s.clock.now(),
        client: client.to_string(),
        operator: operator.to_string(),
        action: action.to_string(),
        job: job.to_string(),
        outcome: outcome.to_string(),
        detail: detail.to_string(),
    };
    if let Err(err) = append(&s.layout, &e) {
        tracing::error!(target: "redial::audit", error = %err, file = %path(&s.layout).display(),
            "the audit trail cannot be written: {action} of {job:?} by {operator} ({outcome}) is in this log only");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32) -> Entry {
        Entry {
            at: "2026-03-02T10:00:00Z".parse().unwrap(),
            client: "127.0.0.1".into(),
            operator: "alice".into(),
            action: "hold".into(),
            job: format!("{n}.FS"),
            outcome: "ok".into(),
            detail: String::new(),
        }
    }

    #[test]
    fn entries_read_back_newest_first_and_a_torn_line_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().join("spool"), 1);
        assert!(read(&layout, 10).is_empty());
        // No spool: nothing is created.
        assert!(append(&layout, &entry(0)).is_err());
        assert!(!layout.root.exists());
        std::fs::create_dir(&layout.root).unwrap();
        for n in 1..=3 {
            append(&layout, &entry(n)).unwrap();
        }
        // A crash in the middle of a write leaves half a line.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(path(&layout))
            .unwrap();
        f.write_all(b"{\"at\":\"2026-03-02T1").unwrap();
        append(&layout, &entry(4)).unwrap();
        let got: Vec<String> = read(&layout, 10).into_iter().map(|e| e.job).collect();
        assert_eq!(got, ["4.FS", "3.FS", "2.FS", "1.FS"]);
        assert_eq!(read(&layout, 2).len(), 2);
    }
}
