//! Live progress of calls in flight: `LOG/<job stem>.<n>.progress`, what the job's `n`-th
//! attempt (the record it will add) is doing now (`dialling`, `page 2/5 at 14400`).
//!
//! Owns the file's path and format (one JSON object) and its writing, reading and removal. The
//! daemon replaces the file at each step its line reports and removes it when the attempt is
//! settled, where the session log `LOG/<job stem>.<n>.log` takes its place; `redial list` and
//! `redial send --wait` read it. It is not job state: written by rename but never fsynced, and a
//! missing, stale or unreadable file only means no live step is shown. It never decides anything.

use super::Layout;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// One call's latest step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// The attempt it belongs to (the number of the record it will add).
    pub attempt: usize,
    /// The node placing the call.
    pub node: String,
    /// The line.
    pub line: u32,
    /// When the line reported the step (the daemon's clock).
    pub at: DateTime<Utc>,
    /// The step in words (`dialling`, `connected`, `page 2/5 at 14400`).
    pub step: String,
}

/// `LOG/<job stem>.<n>.progress`.
pub fn path(layout: &Layout, job: &str, attempt: usize) -> PathBuf {
    layout.session_log(job, attempt).with_extension("progress")
}

/// Replaces the file for `p.attempt` of `job` (temp file and rename, so a reader sees the old
/// step or the new one, never half of one).
pub fn write(layout: &Layout, job: &str, p: &Progress) -> std::io::Result<()> {
    let path = path(layout, job, p.attempt);
    let tmp = path.with_extension("progress.tmp");
    let text = serde_json::to_vec(p).map_err(std::io::Error::other)?;
    let written = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&tmp, text))
        .and_then(|()| std::fs::rename(&tmp, &path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// The step of `job`'s attempt `attempt`, when a line has reported one.
pub fn read(layout: &Layout, job: &str, attempt: usize) -> Option<Progress> {
    read_path(&path(layout, job, attempt)).filter(|p| p.attempt == attempt)
}

fn read_path(path: &Path) -> Option<Progress> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Removes the file of `job`'s attempt `attempt` (the attempt is over). Missing is fine.
pub fn remove(layout: &Layout, job: &str, attempt: usize) {
    let _ = std::fs::remove_file(path(layout, job, attempt));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_replaced_read_back_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), 0);
        let mut p = Progress {
            attempt: 2,
            node: "n1".into(),
            line: 3,
            at: "2026-12-02T10:00:00Z".parse().unwrap(),
            step: "dialling".into(),
        };
        assert_eq!(read(&layout, "00000007.FS", 2), None);
        write(&layout, "00000007.FS", &p).unwrap();
        p.step = "page 2/5 at 14400".into();
        write(&layout, "00000007.FS", &p).unwrap();
        assert_eq!(read(&layout, "00000007.FS", 2), Some(p.clone()));
        assert_eq!(
            path(&layout, "00000007.FS", 2),
            dir.path().join("LOG/00000007.2.progress")
        );
        // Another attempt's file is not this one's.
        assert_eq!(read(&layout, "00000007.FS", 1), None);
        remove(&layout, "00000007.FS", 2);
        assert_eq!(read(&layout, "00000007.FS", 2), None);
        assert!(!dir.path().join("LOG/00000007.2.progress.tmp").exists());
    }

    #[test]
    fn a_damaged_file_shows_no_step() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path(), 0);
        std::fs::create_dir_all(dir.path().join("LOG")).unwrap();
        std::fs::write(dir.path().join("LOG/1.1.progress"), b"{\"attempt\":1,").unwrap();
        assert_eq!(read(&layout, "1.FS", 1), None);
    }
}
