//! Destination locks: at most `$max_concurrent_calls` calls to one number at once across every
//! node on the spool, also on a network file system.
//!
//! A lock is a symbolic link `LOCKS/<destination>.<slot>.lock` whose target text is the owner's
//! node name and lease generation (it points at nothing; nothing follows it). One `symlink(2)`
//! creates it whole and fails when the name exists (atomic on local file systems and on NFS), so
//! a lock is never seen half-written, and taking one costs one call, no inode of a temporary
//! file, no link and no unlink. Locks written as regular files (by earlier versions) are still
//! read. A lock is removed when the attempt settles. A lock is broken only when its owner is
//! gone, as a reading taken after the lock was seen shows it: the owner's lease carries another
//! generation (the owner restarted, so the lock belongs to a process that no longer exists), or
//! the owner has no live lease and its `ACTIVE/<node>/` is gone (another node took it over,
//! which it does only after seeing the lease dead on two readings a renewal apart). A lease
//! merely stale, or missing on one reading, is not enough: a node stopped for a while (or a
//! network mount's cache) shows that, and the node may wake and dial under the lock it holds.
//! A node also takes a lock only on a lease it knows fresh for a while yet (the daemon renews
//! one that is not before it locks a number).
//!
//! A released lock is not deleted but kept as a spare ([`Spares`]): renamed into
//! `LOCKS/.spare/<node>.<generation>.<n>`, and renamed back into a slot for the node's next
//! call with `RENAME_NOREPLACE`, as atomic as `symlink(2)` and without allocating an inode (on
//! ext4 the inode allocator's search is most of a lock's cost). Where the file system refuses
//! that flag (sshfs, some NFS servers) the node makes a fresh symlink each time, as before.
//! Spares of a node's earlier runs are removed when it starts, a dead node's when it is taken
//! over. This module owns those files and that rule; it never decides which job to dial.

use super::lease::Lease;
use super::Layout;
use chrono::{DateTime, Utc};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// Node name.
    pub node: String,
    /// The node's lease generation when it took the lock.
    pub generation: u64,
}

/// Who holds the lock at `path`: its link text, or the content of a lock file of earlier
/// versions.
fn holder_of(path: &Path) -> Option<Holder> {
    use std::os::unix::ffi::OsStrExt;
    match std::fs::read_link(path) {
        Ok(target) => parse(target.as_os_str().as_bytes()),
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => parse(&std::fs::read(path).ok()?),
        Err(_) => None,
    }
}

fn parse(bytes: &[u8]) -> Option<Holder> {
    let text = std::str::from_utf8(bytes).ok()?;
    let mut it = text.split_whitespace();
    let node = it.next()?.to_string();
    let generation = it.next()?.parse().ok()?;
    Some(Holder { node, generation })
}

/// `LOCKS`.
pub fn dir(layout: &Layout) -> PathBuf {
    layout.root.join("LOCKS")
}

fn slot_path(layout: &Layout, dest: u64, slot: u32) -> PathBuf {
    dir(layout).join(format!("{dest:016x}.{slot}.lock"))
}

/// Whether `holder` is gone at `now`, judged by the leases on the spool and by its node's
/// `ACTIVE/<node>/` (see the module's rule).
fn gone(layout: &Layout, holder: &Holder, leases: &[Lease], now: DateTime<Utc>) -> bool {
    match leases.iter().find(|l| l.node == holder.node) {
        Some(l) if l.generation != holder.generation => true,
        Some(l) if !l.is_stale(now) => false,
        _ => taken_over(layout, &holder.node),
    }
}

/// Whether `node`'s `ACTIVE/<node>/` is proven gone (`ENOENT`): taken over by another node.
/// A look-up that fails otherwise (a network mount's I/O error or `EPERM`) proves nothing.
fn taken_over(layout: &Layout, node: &str) -> bool {
    matches!(std::fs::symlink_metadata(layout.active(node)), Err(e) if e.kind() == io::ErrorKind::NotFound)
}

/// Whether a lock file is older than the longest lease staleness on the spool (default 60 s).
fn old_enough(path: &Path, leases: &[Lease]) -> bool {
    let stale = leases
        .iter()
        .map(|l| l.stale_after)
        .max()
        .unwrap_or(60)
        .max(1) as u64;
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() > stale)
}

/// A lock made whole by a fresh symlink ([`take_slot`] as a node without spares takes it).
#[cfg(test)]
fn acquire(
    layout: &Layout,
    dest: u64,
    slots: u32,
    me: &Holder,
    now: DateTime<Utc>,
    leases: impl Fn() -> Vec<Lease>,
) -> io::Result<Option<PathBuf>> {
    take_slot(layout, dest, slots, me, now, leases, |path| {
        create(path, me)
    })
}

/// Takes one of `slots` locks on `dest` for `me`, making it at a free slot's path with `take`
/// (which fails with `AlreadyExists` when the slot is held). Returns the lock's path, or None
/// when every slot is held by a live owner. `leases` is read only when a held slot must be
/// judged, and a lock is broken only on a reading taken after the lock was seen: its holder
/// takes it on a lease it has just renewed (see `Daemon::lease_holds_for_lock`), so an earlier
/// reading (one made for another slot) can show that lease stale when it no longer is.
fn take_slot(
    layout: &Layout,
    dest: u64,
    slots: u32,
    me: &Holder,
    now: DateTime<Utc>,
    leases: impl Fn() -> Vec<Lease>,
    take: impl Fn(&Path) -> io::Result<()>,
) -> io::Result<Option<PathBuf>> {
    let mut judged: Option<Vec<Lease>> = None;
    for slot in 0..slots.max(1) {
        let path = slot_path(layout, dest, slot);
        for _ in 0..2 {
            match take(&path) {
                Ok(()) => return Ok(Some(path)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let holder = holder_of(&path);
                    let dead = |ls: &[Lease]| match &holder {
                        Some(h) => gone(layout, h, ls, now),
                        // Locks are linked whole, so an unreadable one is damage: left alone
                        // unless it is older than any lease may stay fresh.
                        None => old_enough(&path, ls),
                    };
                    // A reading made for an earlier slot may show the holder alive; a dead
                    // one is read again.
                    let alive = judged.as_deref().is_some_and(|ls| !dead(ls));
                    let is_dead = !alive && {
                        let ls = leases();
                        let d = dead(&ls);
                        judged = Some(ls);
                        d
                    };
                    if !is_dead {
                        break;
                    }
                    // A dead owner's lock.
                    tracing::warn!(lock = %path.display(), holder = %holder.as_ref().map_or_else(|| "unreadable".to_string(), |h| format!("{} (lease generation {})", h.node, h.generation)), "breaking a destination lock whose owner is gone");
                    if !break_if_still(&path, holder.as_ref(), me)? {
                        break;
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(None)
}

/// Removes the lock at `path` only if it is still the one judged: `judged` is the holder read
/// from it (None: unreadable). Another node may have broken the same dead lock and taken the
/// slot meanwhile, so a plain unlink of the name could remove that node's fresh lock and let
/// two calls to one number start at once. Instead the lock is first renamed aside under a
/// name of this node's own (only one breaker gets it), then read: the judged lock is
/// deleted; a fresh one is put back where it was (`RENAME_NOREPLACE`). `Ok(true)`: the slot
/// may be tried again; `Ok(false)`: it is held by someone alive.
fn break_if_still(path: &Path, judged: Option<&Holder>, me: &Holder) -> io::Result<bool> {
    let aside = path.with_extension(format!(
        "lock.breaking-{}",
        super::store::aside_suffix(&format!("{}-{}", me.node, me.generation))
    ));
    use super::store::Removal;
    match super::store::remove_if_unchanged(path, &aside, |copy| {
        holder_of(copy).as_ref() == judged
    })? {
        // Removed, or someone else broke (or released) it first: try to take the slot.
        Removal::Gone | Removal::Removed => Ok(true),
        // A fresh lock replaced the dead one between our reading and the rename: it is back.
        Removal::PutBack => Ok(false),
        Removal::Displaced { aside, error } => {
            // The slot was taken again in that instant; the lock moved aside is its owner's
            // only record, so it is kept (under its aside name) for the operator, and this node
            // does not take the slot.
            tracing::error!(lock = %path.display(), aside = %aside.display(), error = %error, "a destination lock changed hands while being broken; left aside");
            Ok(false)
        }
    }
}

fn create(path: &Path, me: &Holder) -> io::Result<()> {
    let text = format!("{} {}", me.node, me.generation);
    match std::os::unix::fs::symlink(&text, path) {
        // `LOCKS` is made on first use (and again if someone removed it).
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(path.parent().unwrap_or(Path::new(".")))?;
            std::os::unix::fs::symlink(&text, path)
        }
        r => r,
    }
}

/// Releases a lock taken by `me` (a lock someone else holds now is left alone) without keeping
/// a spare.
#[cfg(test)]
fn release(path: &Path, me: &Holder) {
    if holder_of(path).as_ref() == Some(me) {
        let _ = std::fs::remove_file(path);
    }
}

/// `LOCKS/.spare`: released locks kept for their node's next calls.
fn spare_dir(layout: &Layout) -> PathBuf {
    dir(layout).join(".spare")
}

/// The node and generation a spare's name `<node>.<generation>.<n>` carries.
fn spare_owner(name: &str) -> Option<(&str, u64)> {
    let mut it = name.rsplitn(3, '.');
    let _n: u64 = it.next()?.parse().ok()?;
    let generation = it.next()?.parse().ok()?;
    Some((it.next()?, generation))
}

/// Removes `node`'s spares, but those of generation `keep` (best effort: a spare left behind
/// is a few bytes, and never a lock).
pub fn drop_spares(layout: &Layout, node: &str, keep: Option<u64>) {
    let dir = spare_dir(layout);
    let Ok(rd) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some((owner, generation)) = name.to_str().and_then(spare_owner) else {
            continue;
        };
        if owner == node && Some(generation) != keep {
            let _ = std::fs::remove_file(dir.join(&name));
        }
    }
}

/// One node run's destination locks, taken from and released to its spares (see the module).
#[derive(Debug)]
pub struct Spares {
    me: Holder,
    dir: PathBuf,
    free: Mutex<Vec<PathBuf>>,
    made: AtomicU64,
    /// False once the file system refused `RENAME_NOREPLACE`: fresh symlinks from then on.
    renames: AtomicBool,
}

impl Spares {
    /// `me`'s locks on `layout`, with no spares yet.
    pub fn new(layout: &Layout, me: Holder) -> Spares {
        Spares {
            dir: spare_dir(layout),
            me,
            free: Mutex::new(Vec::new()),
            made: AtomicU64::new(0),
            renames: AtomicBool::new(true),
        }
    }

    /// Removes the spares its node's earlier runs left (once the node knows it is the only
    /// process of that name on the spool).
    pub fn drop_earlier(&self, layout: &Layout) {
        drop_spares(layout, &self.me.node, Some(self.me.generation));
    }

    /// Takes one of `slots` locks on `dest` for this node (the module's rule), a spare renamed into
    /// the slot where there is one.
    pub fn acquire(
        &self,
        layout: &Layout,
        dest: u64,
        slots: u32,
        now: DateTime<Utc>,
        leases: impl Fn() -> Vec<Lease>,
    ) -> io::Result<Option<PathBuf>> {
        take_slot(layout, dest, slots, &self.me, now, leases, |path| {
            self.take(path)
        })
    }

    fn free(&self) -> std::sync::MutexGuard<'_, Vec<PathBuf>> {
        self.free.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the lock at `path`: a spare renamed there, or a fresh symlink.
    fn take(&self, path: &Path) -> io::Result<()> {
        let spare = if self.renames.load(Ordering::Relaxed) {
            self.free().pop()
        } else {
            None
        };
        if let Some(spare) = spare {
            match super::store::rename_exclusive(&spare, path) {
                Ok(()) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.free().push(spare);
                    return Err(e);
                }
                Err(e) if e.kind() == io::ErrorKind::Unsupported => {
                    self.renames.store(false, Ordering::Relaxed);
                    let _ = std::fs::remove_file(&spare);
                }
                // `LOCKS` removed, or the spare: a symlink below makes what is missing.
                Err(_) => {
                    if std::fs::symlink_metadata(&spare).is_ok() {
                        self.free().push(spare);
                    }
                }
            }
        }
        create(path, &self.me)
    }

    /// Releases a lock this node took (a lock someone else holds now is left alone), keeping
    /// it as a spare.
    pub fn release(&self, path: &Path) {
        if holder_of(path).as_ref() != Some(&self.me) {
            return;
        }
        if self.renames.load(Ordering::Relaxed) {
            let n = self.made.fetch_add(1, Ordering::Relaxed);
            let spare = self
                .dir
                .join(format!("{}.{}.{n}", self.me.node, self.me.generation));
            let kept = std::fs::rename(path, &spare).or_else(|e| {
                if e.kind() == io::ErrorKind::NotFound && std::fs::symlink_metadata(path).is_ok() {
                    std::fs::create_dir_all(&self.dir)?;
                    std::fs::rename(path, &spare)
                } else {
                    Err(e)
                }
            });
            if kept.is_ok() {
                self.free().push(spare);
                return;
            }
        }
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    use crate::spool::lease::test_lease as lease;

    fn holder(node: &str, generation: u64) -> Holder {
        Holder {
            node: node.into(),
            generation,
        }
    }

    /// A released lock is kept as a spare and is the next lock taken: the same inode renamed
    /// into the slot (no new one), readable as its holder's as before, and never over a held
    /// slot. A spare lost (or `LOCKS` removed) falls back to a fresh symlink; spares of a
    /// node's earlier runs go when it starts, a dead node's when it is taken over.
    #[test]
    fn released_locks_are_spares_for_the_next_call() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 2);
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let a = Spares::new(&layout, holder("a", 7));
        let none = Vec::new;
        let first = a.acquire(&layout, 1, 1, t, none).unwrap().unwrap();
        let inode = std::fs::symlink_metadata(&first).unwrap().ino();
        a.release(&first);
        assert!(std::fs::symlink_metadata(&first).is_err(), "released");
        let spares: Vec<_> = std::fs::read_dir(spare_dir(&layout))
            .unwrap()
            .flatten()
            .collect();
        assert_eq!(spares.len(), 1);
        let next = a.acquire(&layout, 2, 1, t, none).unwrap().unwrap();
        assert_eq!(
            std::fs::symlink_metadata(&next).unwrap().ino(),
            inode,
            "the spare was taken"
        );
        assert_eq!(holder_of(&next), Some(holder("a", 7)));
        assert_eq!(std::fs::read_dir(spare_dir(&layout)).unwrap().count(), 0);
        // A held slot is never taken by a spare, and the spare stays for later.
        a.release(&next);
        let b = Spares::new(&layout, holder("b", 1));
        let held = b
            .acquire(&layout, 3, 1, t, || vec![lease("b", 1, t)])
            .unwrap()
            .unwrap();
        assert_eq!(
            a.acquire(&layout, 3, 1, t, || vec![lease("b", 1, t)])
                .unwrap(),
            None
        );
        assert_eq!(holder_of(&held), Some(holder("b", 1)));
        assert_eq!(a.free().len(), 1);
        // Someone else's lock is not a's to release (nor to keep).
        a.release(&held);
        assert_eq!(holder_of(&held), Some(holder("b", 1)));
        // LOCKS removed under a's feet: a fresh symlink, and a's lost spare is forgotten.
        b.release(&held);
        std::fs::remove_dir_all(dir(&layout)).unwrap();
        let again = a.acquire(&layout, 4, 1, t, none).unwrap().unwrap();
        assert_eq!(holder_of(&again), Some(holder("a", 7)));
        assert!(a.free().is_empty());
        a.release(&again);
        // a restarts (generation 8): its generation-7 spare goes, b's stays; b taken over: its go.
        let a8 = Spares::new(&layout, holder("a", 8));
        a8.drop_earlier(&layout);
        let names = || -> Vec<String> {
            let mut v: Vec<String> = std::fs::read_dir(spare_dir(&layout))
                .unwrap()
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let lock_b = b.acquire(&layout, 5, 1, t, none).unwrap().unwrap();
        b.release(&lock_b);
        assert_eq!(names().len(), 1);
        assert!(names()[0].starts_with("b.1."), "{:?}", names());
        let lock_a = a8.acquire(&layout, 6, 1, t, none).unwrap().unwrap();
        a8.release(&lock_a);
        drop_spares(&layout, "b", None);
        assert_eq!(names().len(), 1);
        assert!(names()[0].starts_with("a.8."), "{:?}", names());
        assert_eq!(spare_owner("n.1.x.42.3"), Some(("n.1.x", 42)));
    }

    /// Two nodes break the same dead lock at once: the first takes the slot; the second, which
    /// judged the dead lock a moment before, must not remove the first one's fresh lock.
    #[test]
    fn a_lock_replaced_while_being_broken_is_left_to_its_new_owner() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 2);
        std::fs::create_dir_all(dir(&layout)).unwrap();
        let path = slot_path(&layout, 42, 0);
        let dead = holder("b", 1);
        let reborn = holder("b", 2);
        let c = holder("c", 5);
        // c read the dead lock; meanwhile b (restarted) broke it and took the slot.
        create(&path, &reborn).unwrap();
        assert!(!break_if_still(&path, Some(&dead), &c).unwrap());
        assert_eq!(holder_of(&path), Some(reborn.clone()));
        assert_eq!(std::fs::read_dir(dir(&layout)).unwrap().count(), 1);
        // The dead lock itself is broken, and nothing is left aside.
        release(&path, &reborn);
        create(&path, &dead).unwrap();
        assert!(break_if_still(&path, Some(&dead), &c).unwrap());
        assert!(std::fs::symlink_metadata(&path).is_err());
        assert_eq!(std::fs::read_dir(dir(&layout)).unwrap().count(), 0);
        // Someone else broke it first: the slot may be tried.
        assert!(break_if_still(&path, Some(&dead), &c).unwrap());
    }

    /// A node judging slot 1 must not break its lock on the reading it made for slot 0: the
    /// holder of slot 1 may have renewed its lease and locked the slot after that reading
    /// (a node back from a stall renews before it locks). Only a fresh reading may condemn.
    #[test]
    fn a_lock_is_broken_only_on_a_reading_made_after_it_was_seen() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 2);
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let (a, b, c) = (holder("a", 1), holder("b", 2), holder("c", 3));
        create(&slot_path(&layout, 9, 0), &a).unwrap();
        create(&slot_path(&layout, 9, 1), &b).unwrap();
        // The first reading shows b stale (b was stalled); b renewed before it locked slot 1.
        let readings = std::cell::Cell::new(0);
        let leases = || {
            readings.set(readings.get() + 1);
            let b_renewed = if readings.get() == 1 {
                t - chrono::Duration::seconds(61)
            } else {
                t
            };
            vec![lease("a", 1, t), lease("b", 2, b_renewed)]
        };
        assert_eq!(acquire(&layout, 9, 2, &c, t, leases).unwrap(), None);
        assert_eq!(readings.get(), 2, "read again before condemning b");
        assert_eq!(holder_of(&slot_path(&layout, 9, 1)), Some(b));
        // A holder dead on the fresh reading too loses its lock.
        let dead_b = || {
            vec![
                lease("a", 1, t),
                lease("b", 2, t - chrono::Duration::seconds(61)),
            ]
        };
        let p = acquire(&layout, 9, 2, &c, t, dead_b).unwrap().unwrap();
        assert_eq!(p, slot_path(&layout, 9, 1));
        assert_eq!(holder_of(&p), Some(c));
    }

    /// A node stopped past its stale limit (SIGSTOP, a long fsync) keeps its locks until
    /// another node has taken it over: it may wake and dial under them, and its lease may read
    /// stale or missing once on a network mount while it is well. Taken over (its `ACTIVE`
    /// directory renamed away), its locks may be broken.
    #[test]
    fn a_stale_or_missing_lease_alone_does_not_break_a_lock() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 2);
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let later = t + chrono::Duration::seconds(300);
        let (b, c) = (holder("b", 2), holder("c", 3));
        std::fs::create_dir_all(layout.active("b")).unwrap();
        create(&slot_path(&layout, 9, 0), &b).unwrap();
        let stale_b = || vec![lease("b", 2, t), lease("c", 3, later)];
        assert_eq!(acquire(&layout, 9, 1, &c, later, stale_b).unwrap(), None);
        let no_lease_b = || vec![lease("c", 3, later)];
        assert_eq!(acquire(&layout, 9, 1, &c, later, no_lease_b).unwrap(), None);
        assert_eq!(holder_of(&slot_path(&layout, 9, 0)), Some(b.clone()));
        // Taken over: its directory renamed into another node's.
        std::fs::rename(layout.active("b"), d.path().join("b-taken")).unwrap();
        let p = acquire(&layout, 9, 1, &c, later, stale_b).unwrap().unwrap();
        assert_eq!(holder_of(&p), Some(c.clone()));
        // A holder that restarted (another generation) is gone at once, directory or not.
        release(&p, &c);
        std::fs::create_dir_all(layout.active("b")).unwrap();
        create(&slot_path(&layout, 9, 0), &b).unwrap();
        let reborn_b = || vec![lease("b", 4, later), lease("c", 3, later)];
        assert!(acquire(&layout, 9, 1, &c, later, reborn_b)
            .unwrap()
            .is_some());
    }

    #[test]
    fn one_holder_per_slot_and_dead_owners_lose_theirs() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 2);
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let a = holder("a", 7);
        let b = holder("b", 9);
        let live = || vec![lease("a", 7, t), lease("b", 9, t)];
        let p = acquire(&layout, 42, 1, &a, t, live).unwrap().unwrap();
        assert_eq!(acquire(&layout, 42, 1, &b, t, live).unwrap(), None);
        // A second slot when two calls at once are allowed.
        let p2 = acquire(&layout, 42, 2, &b, t, live).unwrap().unwrap();
        assert_ne!(p, p2);
        // b releasing a's lock does nothing; a releasing it frees it.
        release(&p, &b);
        assert_eq!(acquire(&layout, 42, 1, &b, t, live).unwrap(), None);
        release(&p, &a);
        assert!(acquire(&layout, 42, 1, &b, t, live).unwrap().is_some());
        // b's lease goes stale: a may break b's lock; a restarted a (new generation) too.
        let later = t + chrono::Duration::seconds(61);
        let stale_b = || vec![lease("a", 7, later), lease("b", 9, t)];
        assert!(acquire(&layout, 42, 1, &a, later, stale_b)
            .unwrap()
            .is_some());
        let restarted = || vec![lease("a", 8, later), lease("b", 9, later)];
        assert!(acquire(&layout, 42, 1, &b, later, restarted)
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_lock_is_one_symlink_and_old_lock_files_still_count() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 2);
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
        let a = holder("a", 7);
        let live = || vec![lease("a", 7, t), lease("b", 9, t)];
        // LOCKS does not exist yet: made on first use.
        let p = acquire(&layout, 1, 1, &a, t, live).unwrap().unwrap();
        let m = std::fs::symlink_metadata(&p).unwrap();
        assert!(m.file_type().is_symlink());
        assert_eq!(std::fs::read_link(&p).unwrap(), Path::new("a 7"));
        // Nothing else was left in LOCKS.
        assert_eq!(std::fs::read_dir(dir(&layout)).unwrap().count(), 1);
        release(&p, &a);
        assert!(std::fs::symlink_metadata(&p).is_err());
        // A lock file an earlier version wrote, held by live b: respected, and released by b.
        let old = slot_path(&layout, 2, 0);
        std::fs::write(&old, "b 9\n").unwrap();
        assert_eq!(acquire(&layout, 2, 1, &a, t, live).unwrap(), None);
        let b = holder("b", 9);
        release(&old, &b);
        assert!(acquire(&layout, 2, 1, &a, t, live).unwrap().is_some());
    }
}
