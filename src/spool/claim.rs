//! Node claims: `ACTIVE/<node>.claim`, the file that says which process is node `<node>`.
//!
//! flock holds only within one mount of one machine; two mounts of a shared spool (or two
//! machines) each get their own lock. A claim is made by `link(2)` of a complete, fsynced temp
//! file to the claim name, which fails with `EEXIST` on every file system that matters
//! (local, NFS, SMB, sshfs) when the name is taken: exactly one starter gets it. The claim
//! names its holder: host, boot id, pid, the process's start time and a random token.
//!
//! A taken claim is broken only on proof that its holder is dead (the daemon judges; see
//! [`Holder::alive_here`] for this machine), and only the judged claim: it is renamed to a name
//! of the breaker's own and compared byte for byte with what was judged; anything else is put
//! back. This module reads, makes, breaks and gives back claims; it never judges a lease.

use super::store::{fsync_dir, rename_noreplace};
use super::Layout;
use serde::{Deserialize, Serialize};
use std::io::{self, Write};
use std::path::PathBuf;

/// Who holds a claim.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Holder {
    /// Node name.
    pub node: String,
    /// The machine (its host name).
    pub host: String,
    /// The machine's boot id (`/proc/sys/kernel/random/boot_id`): a pid means nothing after
    /// a reboot.
    pub boot_id: String,
    /// Process id.
    pub pid: u32,
    /// The process's start time (clock ticks since boot, `/proc/<pid>/stat` field 22): a pid
    /// reused by another process has another start time.
    pub started: u64,
    /// Random per run.
    pub token: u64,
}

impl Holder {
    /// This process as `node`.
    pub fn me(node: &str, token: u64) -> Holder {
        let pid = std::process::id();
        Holder {
            node: node.to_string(),
            host: super::lease::host_name(),
            boot_id: boot_id(),
            pid,
            started: process_start(pid).unwrap_or(0),
            token,
        }
    }

    /// Whether the holder ran on this machine since its last boot: then whether it lives can
    /// be seen directly ([`Holder::alive_here`]), without watching its lease.
    pub fn is_local(&self) -> bool {
        !self.host.is_empty()
            && !self.boot_id.is_empty()
            && self.host == super::lease::host_name()
            && self.boot_id == boot_id()
    }

    /// For a local holder: whether its process still runs (same pid, same start time).
    pub fn alive_here(&self) -> bool {
        process_start(self.pid).is_some_and(|s| s == self.started)
    }
}

/// What the claim file shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// No claim.
    Free,
    /// A claim, with its exact bytes (what a break compares).
    Held(Holder, Vec<u8>),
    /// A file that cannot be read or parsed (the bytes, when read).
    Unreadable(String, Vec<u8>),
}

/// `ACTIVE/<node>.claim`.
pub fn path(layout: &Layout, node: &str) -> PathBuf {
    layout.active_root().join(format!("{node}.claim"))
}

/// Reads the claim of `node`.
pub fn read(layout: &Layout, node: &str) -> Seen {
    match std::fs::read(path(layout, node)) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Seen::Free,
        Err(e) => Seen::Unreadable(e.to_string(), Vec::new()),
        Ok(b) => match serde_json::from_slice::<Holder>(&b) {
            Ok(h) => Seen::Held(h, b),
            Err(e) => Seen::Unreadable(format!("not a claim: {e}"), b),
        },
    }
}

/// Claims `node` for `me`: true when the claim is now `me`'s, false when it is taken.
pub fn acquire(layout: &Layout, me: &Holder) -> io::Result<bool> {
    let bytes = serde_json::to_vec_pretty(me).map_err(io::Error::other)?;
    let tmp = layout
        .temp()
        .join(format!(".{}.claim.{:016x}", me.node, me.token));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    let r = std::fs::hard_link(&tmp, path(layout, &me.node));
    let _ = std::fs::remove_file(&tmp);
    match r {
        Ok(()) => {
            fsync_dir(&layout.active_root())?;
            Ok(true)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Whether the claim of `me.node` is still `me`'s (`None`: it cannot be read now, which
/// proves nothing either way).
pub fn is_mine(layout: &Layout, me: &Holder) -> Option<bool> {
    match read(layout, &me.node) {
        Seen::Held(h, _) => Some(h == *me),
        Seen::Free => Some(false),
        Seen::Unreadable(..) => None,
    }
}

/// Breaks the claim of `node` if it is still exactly `judged` (the bytes read when its holder
/// was judged dead): true when it was removed. A claim that changed meanwhile is put back.
pub fn break_judged(layout: &Layout, node: &str, judged: &[u8], token: u64) -> io::Result<bool> {
    let claim = path(layout, node);
    let aside = layout
        .temp()
        .join(format!(".{node}.claim.broken.{token:016x}"));
    match std::fs::rename(&claim, &aside) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    if std::fs::read(&aside)? == judged {
        std::fs::remove_file(&aside)?;
        fsync_dir(&layout.active_root())?;
        return Ok(true);
    }
    // Another starter's claim, made after the judgement: give it back untouched.
    match rename_noreplace(&aside, &claim) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let _ = std::fs::remove_file(&aside);
        }
        Err(e) => return Err(e),
    }
    Ok(false)
}

/// Gives the claim back at a clean stop (only when it is still `me`'s).
pub fn release(layout: &Layout, me: &Holder) {
    if let Seen::Held(h, bytes) = read(layout, &me.node) {
        if h == *me {
            let _ = break_judged(layout, &me.node, &bytes, me.token);
        }
    }
}

/// This boot's id (empty when it cannot be read).
pub fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The start time of process `pid` (clock ticks since boot), when it runs.
pub fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold blanks: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // Field 3 (state) is the first after it; field 22 (starttime) is the 20th.
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout() -> (tempfile::TempDir, Layout) {
        let d = tempfile::tempdir().unwrap();
        let l = Layout::new(d.path().join("spool"), 2);
        l.create(None).unwrap();
        (d, l)
    }

    #[test]
    fn one_claim_per_node_and_only_the_judged_one_is_broken() {
        let (_d, l) = layout();
        let a = Holder::me("n1", 1);
        let b = Holder::me("n1", 2);
        assert!(acquire(&l, &a).unwrap());
        assert!(!acquire(&l, &b).unwrap());
        assert_eq!(is_mine(&l, &a), Some(true));
        assert_eq!(is_mine(&l, &b), Some(false));
        let Seen::Held(h, bytes) = read(&l, "n1") else {
            panic!("not held")
        };
        assert_eq!(h, a);
        // b judged a dead, but c broke a and claimed first: b's break leaves c's claim alone.
        let c = Holder::me("n1", 3);
        assert!(break_judged(&l, "n1", &bytes, 3).unwrap());
        assert!(acquire(&l, &c).unwrap());
        assert!(!break_judged(&l, "n1", &bytes, 2).unwrap());
        assert_eq!(is_mine(&l, &c), Some(true));
        release(&l, &a);
        assert_eq!(
            is_mine(&l, &c),
            Some(true),
            "a gives back only its own claim"
        );
        release(&l, &c);
        assert_eq!(read(&l, "n1"), Seen::Free);
        assert!(std::fs::read_dir(l.temp()).unwrap().next().is_none());
    }

    #[test]
    fn this_process_is_alive_here_and_a_reused_pid_is_not() {
        let me = Holder::me("n1", 1);
        assert!(me.is_local());
        assert!(me.alive_here());
        let reused = Holder {
            started: me.started + 1,
            ..me.clone()
        };
        assert!(!reused.alive_here());
        let elsewhere = Holder {
            host: "elsewhere".into(),
            ..me
        };
        assert!(!elsewhere.is_local());
    }
}
