//! The queue watcher: notify (inotify) on every queue directory, reporting changed paths, or
//! "rescan" when the kernel queue overflowed (notify's Rescan flag, which carries no paths).
//!
//! It only reports; the daemon re-reads what it is told about, and rescans on a timer anyway
//! because network file systems send no events. Only events that can change what a queue holds
//! are reported (a name appearing or going, data written); opening, reading and closing a file
//! unwritten are not, or the daemon's own read of a job would be the next event, for ever.

use notify::event::{AccessKind, AccessMode, EventKind, MetadataKind, ModifyKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::path::PathBuf;
use tokio::sync::mpsc::UnboundedSender;

/// What the watcher saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// These paths changed.
    Paths(Vec<PathBuf>),
    /// Events were lost: re-read every queue.
    Rescan,
}

/// Whether an event can change what a queue holds: a file created, removed, renamed or written
/// (or an event notify cannot classify). Opens, reads, unwritten closes and access-time updates
/// cannot.
pub fn changes_queue(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(
            MetadataKind::AccessTime | MetadataKind::Extended | MetadataKind::Ownership,
        )) => false,
        _ => true,
    }
}

/// Watches `dirs` (non-recursively) and sends what changes to `tx`.
pub fn watch(
    dirs: &[PathBuf],
    tx: UnboundedSender<WatchEvent>,
) -> notify::Result<RecommendedWatcher> {
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let ev = match res {
            Ok(e) if e.need_rescan() => WatchEvent::Rescan,
            Ok(e) if e.paths.is_empty() || !changes_queue(&e.kind) => return,
            Ok(e) => WatchEvent::Paths(e.paths),
            Err(_) => WatchEvent::Rescan,
        };
        let _ = tx.send(ev);
    })?;
    for d in dirs {
        w.watch(d, RecursiveMode::NonRecursive)?;
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Events for `dir` up to and including the one for `sentinel` (inotify keeps order, so
    /// anything our reads caused arrives before it).
    fn events_until(
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<WatchEvent>,
        sentinel: &std::path::Path,
    ) -> Vec<PathBuf> {
        let mut seen = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < deadline {
            match rx.try_recv() {
                Ok(WatchEvent::Paths(ps)) => {
                    let done = ps.iter().any(|p| p == sentinel);
                    seen.extend(ps);
                    if done {
                        return seen;
                    }
                }
                Ok(WatchEvent::Rescan) => seen.push(PathBuf::from("<rescan>")),
                Err(_) => std::thread::yield_now(),
            }
        }
        panic!("the sentinel's event never came; saw {seen:?}");
    }

    #[test]
    fn reading_a_job_is_not_a_change_but_writing_one_is() {
        let d = tempfile::tempdir().unwrap();
        let dir = std::fs::canonicalize(d.path()).unwrap();
        let job = dir.join("00000001.FS");
        std::fs::write(&job, "$fax_phone 5550100\n").unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let _w = watch(std::slice::from_ref(&dir), tx).unwrap();
        // What the daemon does to a waiting job: open, read, close. Ten times.
        for _ in 0..10 {
            crate::spool::store::read_job(&job).unwrap();
        }
        let s1 = dir.join("sentinel-1");
        std::fs::write(&s1, "").unwrap();
        let seen = events_until(&mut rx, &s1);
        assert!(
            !seen.contains(&job),
            "reading the job was reported as a change: {seen:?}"
        );
        // A writer replacing the job is reported.
        std::fs::write(dir.join("x.TFS"), "$fax_phone 5550101\n").unwrap();
        std::fs::rename(dir.join("x.TFS"), &job).unwrap();
        let s2 = dir.join("sentinel-2");
        std::fs::write(&s2, "").unwrap();
        assert!(events_until(&mut rx, &s2).contains(&job));
    }
}
