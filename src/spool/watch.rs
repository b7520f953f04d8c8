//! The queue watcher: notify (inotify) on every queue directory, reporting changed paths, or
//! "rescan" when the kernel queue overflowed (notify's Rescan flag, which carries no paths).
//!
//! It only reports; the daemon re-reads what it is told about, and rescans on a timer anyway
//! because network file systems send no events.

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

/// Watches `dirs` (non-recursively) and sends what changes to `tx`.
pub fn watch(
    dirs: &[PathBuf],
    tx: UnboundedSender<WatchEvent>,
) -> notify::Result<RecommendedWatcher> {
    let mut w = notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
        let ev = match res {
            Ok(e) if e.need_rescan() => WatchEvent::Rescan,
            Ok(e) if e.paths.is_empty() => return,
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
