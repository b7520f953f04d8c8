//! Node leases: `ACTIVE/<node>.lease`, rewritten atomically while the node runs.
//!
//! A lease names the node, its process, when it was last renewed (on the node's clock) and what
//! its lines are doing (for `redial status`). A node whose lease is older than the stale limit is
//! dead: another node takes its `ACTIVE/<node>/` over by renaming the whole directory into its
//! own, so exactly one node recovers it. This module reads and writes lease files; it never
//! decides what happens to jobs.

use super::store::write_atomic;
use super::Layout;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::Path;

/// A line in a lease.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct LeaseLine {
    /// Number.
    pub line: u32,
    /// `idle`, `busy` or `down`.
    pub state: String,
    /// The job on it.
    pub job: Option<String>,
    /// While it is down: when it is next probed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_probe: Option<DateTime<Utc>>,
}

/// The content of a lease file (JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Lease {
    /// Node name.
    pub node: String,
    /// Process id.
    pub pid: u32,
    /// Last renewal.
    pub renewed: DateTime<Utc>,
    /// Seconds after which the lease is stale.
    pub stale_after: i64,
    /// Whether the node is shutting down.
    pub draining: bool,
    /// Its lines.
    pub lines: Vec<LeaseLine>,
    /// Random per run of the node (and per rejoin after a fence): a lock or claim carrying
    /// another generation belongs to a process that no longer owns anything.
    #[serde(default)]
    pub generation: u64,
    /// The machine the node runs on.
    #[serde(default)]
    pub host: String,
    /// Why the spool refuses this node's writes, while it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spool_error: Option<String>,
}

impl Lease {
    /// Whether the lease is stale at `now`.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        (now - self.renewed).num_seconds() > self.stale_after
    }
}

/// Size lease files are padded to (JSON allows trailing blanks): a renewal can then be
/// written over the old lease in place when the disk is full.
pub const LEASE_BYTES: usize = 4096;

/// Writes (renews) a lease: atomically when the disk allows; when it is full (no room for the
/// temporary file), in place over the old lease, which needs no new block.
pub fn write(layout: &Layout, lease: &Lease) -> io::Result<()> {
    write_with(layout, lease, true)
}

/// Writes a lease atomically only (no in-place fallback): a probe of whether the disk has room.
pub fn write_atomic_only(layout: &Layout, lease: &Lease) -> io::Result<()> {
    write_with(layout, lease, false)
}

fn write_with(layout: &Layout, lease: &Lease, in_place: bool) -> io::Result<()> {
    let mut json = serde_json::to_vec_pretty(lease).map_err(io::Error::other)?;
    if json.len() < LEASE_BYTES {
        json.resize(LEASE_BYTES - 1, b' ');
        json.push(b'\n');
    }
    let path = layout.lease(&lease.node);
    match write_atomic(&layout.temp(), &format!(".{}.", lease.node), &path, &json) {
        Err(e) if in_place && full(&e) => {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().write(true).open(&path)?;
            if f.metadata()?.len() < json.len() as u64 {
                return Err(e);
            }
            f.write_all(&json)?;
            f.sync_data()
        }
        r => r,
    }
}

/// Whether an error says the disk (or the quota) is full, also when wrapped with a path.
pub fn full(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded
    ) || matches!(e.raw_os_error(), Some(libc::ENOSPC | libc::EDQUOT))
}

/// This machine's name (for leases; empty when it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// What one reading of a node's lease shows. Only `Stale` and `Missing` can make the node
/// dead, and only when seen again later (see the daemon's takeover); a lease that cannot be
/// read or parsed says nothing about its node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Look {
    /// Renewed within its stale limit.
    Live(Lease),
    /// Older than its stale limit.
    Stale(Lease),
    /// No lease file (`ENOENT`).
    Missing,
    /// The file is there but could not be read or parsed (a read error, a half-visible
    /// replacement on a network mount, a damaged file): not evidence of death.
    Unknown(String),
}

/// Reads `node`'s lease once and says what it shows at `now`.
pub fn look(layout: &Layout, node: &str, now: DateTime<Utc>) -> Look {
    match std::fs::read(layout.lease(node)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Look::Missing,
        Err(e) => Look::Unknown(e.to_string()),
        Ok(bytes) => match serde_json::from_slice::<Lease>(&bytes) {
            Err(e) => Look::Unknown(format!("not a lease: {e}")),
            Ok(l) if l.is_stale(now) => Look::Stale(l),
            Ok(l) => Look::Live(l),
        },
    }
}

/// Removes `node`'s lease only if it is still the one judged dead (`judged`: the stale lease
/// read, or None when none was there). The node may have rejoined since (a fenced node writes
/// a new lease), and a plain unlink would delete its fresh lease: others would then find it
/// missing and take it over again. The lease is renamed aside under a name of the remover's
/// own (hidden, so no node reads it as a node), read, and deleted only when it is the judged
/// one; a newer lease is put back unless another has been written meanwhile. Returns whether
/// the judged lease was removed (or was already gone).
pub fn remove_if_still(
    layout: &Layout,
    node: &str,
    judged: Option<&Lease>,
    by: &str,
) -> io::Result<bool> {
    let path = layout.lease(node);
    let aside = layout.active_root().join(format!(
        ".{node}.lease.removing-{}",
        super::store::aside_suffix(by)
    ));
    let judged_same = |copy: &Path| {
        let found: Option<Lease> = std::fs::read(copy)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        matches!((judged, &found), (Some(j), Some(f)) if j.generation == f.generation && j.renewed == f.renewed)
    };
    use super::store::Removal;
    match super::store::remove_if_unchanged(&path, &aside, judged_same)? {
        Removal::Gone | Removal::Removed => Ok(true),
        // Renewed since it was judged: the node is back, and its lease is back where it was.
        Removal::PutBack => Ok(false),
        // A newer lease was written meanwhile: it wins, and the copy aside is dropped.
        Removal::Displaced { aside, .. } => {
            let _ = std::fs::remove_file(aside);
            Ok(false)
        }
    }
}

/// Names of every node that has a lease file or a directory in `ACTIVE` (readable or not).
pub fn node_names(layout: &Layout) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(layout.active_root()) {
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.starts_with('.') {
                continue;
            }
            if let Some(node) = name.strip_suffix(".lease") {
                out.push(node.to_string());
            } else if e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(name.to_string());
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The lease of `node`, when there is a readable one.
pub fn read(layout: &Layout, node: &str) -> Option<Lease> {
    serde_json::from_slice(&std::fs::read(layout.lease(node)).ok()?).ok()
}

/// Every readable lease in `ACTIVE`.
pub fn read_all(layout: &Layout) -> Vec<Lease> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(layout.active_root()) {
        for e in rd.flatten() {
            let name = e.file_name();
            let Some(name) = name.to_str() else { continue };
            if name.ends_with(".lease") {
                if let Ok(bytes) = std::fs::read(e.path()) {
                    if let Ok(l) = serde_json::from_slice::<Lease>(&bytes) {
                        out.push(l);
                    }
                }
            }
        }
    }
    out.sort_by(|a, b| a.node.cmp(&b.node));
    out
}

/// Node directories in `ACTIVE` (names of subdirectories).
pub fn node_dirs(layout: &Layout) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(layout.active_root()) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                if let Some(n) = e.file_name().to_str() {
                    out.push(n.to_string());
                }
            }
        }
    }
    out.sort();
    out
}

/// A lease for tests: `node` with `generation`, renewed at `renewed`, stale after 60 s.
#[cfg(test)]
pub(crate) fn test_lease(node: &str, generation: u64, renewed: DateTime<Utc>) -> Lease {
    Lease {
        node: node.into(),
        pid: 1,
        renewed,
        stale_after: 60,
        draining: false,
        lines: vec![],
        generation,
        host: String::new(),
        spool_error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::test_lease as lease;
    use super::*;
    use chrono::TimeZone;

    /// A node taken for dead rejoined (a new lease) between the taker's reading and its
    /// removal of the dead lease: the fresh lease stays; the judged one is removed.
    #[test]
    fn only_the_lease_judged_dead_is_removed() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 2);
        layout.create(None).unwrap();
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let dead = lease("b", 1, t);
        write(&layout, &dead).unwrap();
        let rejoined = lease("b", 2, t + chrono::Duration::seconds(120));
        write(&layout, &rejoined).unwrap();
        assert!(!remove_if_still(&layout, "b", Some(&dead), "a").unwrap());
        assert_eq!(read(&layout, "b"), Some(rejoined.clone()));
        // Judged when there was none: whatever is there now is newer.
        assert!(!remove_if_still(&layout, "b", None, "a").unwrap());
        assert_eq!(read(&layout, "b"), Some(rejoined.clone()));
        // The judged lease itself goes, and nothing is left aside.
        assert!(remove_if_still(&layout, "b", Some(&rejoined), "a").unwrap());
        assert_eq!(read(&layout, "b"), None);
        assert_eq!(node_names(&layout), Vec::<String>::new());
        let hidden: Vec<_> = std::fs::read_dir(layout.active_root())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".lease"))
            .collect();
        assert!(hidden.is_empty(), "{hidden:?}");
        // Already gone: nothing to do.
        assert!(remove_if_still(&layout, "b", Some(&rejoined), "a").unwrap());
    }
}
