//! An operator command's hold on queued jobs while it changes them (`redial cancel`,
//! `redial alter`): the command claims a job exactly as a node does, by one rename into its own
//! `ACTIVE/ops-<pid>/` under a lease of its own, so whoever wins the rename owns the job and no
//! node can dial it meanwhile.
//!
//! Owns that directory and its lease: written before the first claim (so no node takes the empty
//! directory for a dead node's), removed when the command lets go. A command that dies while it
//! holds a job leaves it where any node's takeover recovers it, as it recovers a dead node's
//! jobs (back to its queue unchanged, or to FAIL when the cancel was already written). It never
//! decides what changes in a job, and never touches a job it did not win.

use crate::spool::{lease, store, Layout};
use chrono::Utc;
use std::io;
use std::path::{Path, PathBuf};

/// Seconds after which a hold whose command died counts as dead (a command holds a job for
/// milliseconds; a node then recovers it at its next lease renewal).
const STALE_SECS: i64 = 30;

/// The command's claim directory and lease.
pub struct Hand {
    layout: Layout,
    node: String,
    dir: PathBuf,
}

impl Hand {
    /// Writes the lease, then creates `ACTIVE/ops-<pid>/`.
    pub fn open(layout: &Layout) -> io::Result<Hand> {
        let node = format!("ops-{}", std::process::id());
        layout.create(None)?;
        lease::write_atomic_only(
            layout,
            &lease::Lease {
                node: node.clone(),
                pid: std::process::id(),
                renewed: Utc::now(),
                stale_after: STALE_SECS,
                draining: true,
                lines: Vec::new(),
                generation: 0,
                host: lease::host_name(),
                spool_error: None,
            },
        )?;
        let dir = layout.active(&node);
        let hand = Hand {
            layout: layout.clone(),
            node,
            dir,
        };
        std::fs::create_dir_all(&hand.dir)?;
        Ok(hand)
    }

    /// Claims the job at `from` (one durable rename into this command's directory); `Ok(None)`
    /// when it is gone (a node claimed it first, or it was moved).
    pub fn take(&self, from: &Path) -> io::Result<Option<PathBuf>> {
        let name = from
            .file_name()
            .ok_or_else(|| io::Error::other("no file name"))?;
        let held = self.dir.join(name);
        match store::rename_durable(from, &held) {
            Ok(()) => Ok(Some(held)),
            Err(e) if e.kind() == io::ErrorKind::NotFound && !from.exists() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Moves a held job on to `to` (one durable rename).
    pub fn put(&self, held: &Path, to: &Path) -> io::Result<()> {
        store::rename_durable(held, to)
    }

    /// The spool this hand works on.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }
}

impl Drop for Hand {
    fn drop(&mut self) {
        // A job still inside (a failed move) keeps the directory and the lease: once the lease
        // is stale a node takes the directory over and recovers the job.
        if std::fs::remove_dir(&self.dir).is_ok() {
            let _ = std::fs::remove_file(self.layout.lease(&self.node));
        }
    }
}
