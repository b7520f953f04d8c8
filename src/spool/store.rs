//! Durable file operations: every job state change is a write to a temporary file, fsync,
//! rename into place, fsync of the directory (Maildir's protocol). A [`Store`] keeps the
//! temporary files it used and exchanges them with the jobs they replace, so its writes
//! allocate no inode (`TempSpares`).
//!
//! Owns the crash-safety primitives; it knows nothing about job contents. It never leaves a job
//! in two directories: moves are single `rename(2)` calls.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

static DURABLE: AtomicBool = AtomicBool::new(true);

thread_local! {
    /// fsyncs made by this module on this thread (files and directories).
    static FSYNCS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many fsyncs this module has made on the calling thread since it started: what a
/// benchmark divides by its attempts, and what a test compares before and after a step (per
/// thread, so tests running beside it on other threads do not count). The daemon's passes run
/// on one thread; a batch of several results is written on threads of its own.
pub fn fsyncs_on_this_thread() -> u64 {
    FSYNCS.with(|n| n.get())
}

/// Whether two files' metadata (from `symlink_metadata`) name one inode: two names of one file.
pub fn same_inode(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

/// `sync_all` of `f`, counted in [`fsyncs_on_this_thread`].
fn sync(f: &File) -> io::Result<()> {
    FSYNCS.with(|n| n.set(n.get() + 1));
    f.sync_all()
}

/// Turns fsync off (or back on) for the whole process. Only for in-process tests of the
/// scheduling logic, where thousands of fsyncs would only measure the disk: renames stay
/// atomic, but a power cut could lose them. The daemon never calls this.
pub fn set_durable(on: bool) {
    DURABLE.store(on, Ordering::SeqCst);
}

/// Whether fsyncs are on (see [`set_durable`]).
pub fn durable() -> bool {
    DURABLE.load(Ordering::Relaxed)
}

/// fsyncs a directory so the renames inside it survive a crash.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    if !durable() {
        return Ok(());
    }
    sync(&File::open(dir)?)
}

/// Writes `bytes` to `target` atomically: a temporary file in `temp_dir` (same file system),
/// `sync_all`, rename over `target`, fsync `target`'s directory.
pub fn write_atomic(temp_dir: &Path, prefix: &str, target: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .tempfile_in(temp_dir)?;
    tmp.write_all(bytes)?;
    if durable() {
        sync(tmp.as_file())?;
    }
    tmp.persist(target).map_err(|e| e.error)?;
    fsync_dir(parent(target))
}

/// `renameat2(2)` with `flags`: the raw call, its error as the OS gave it.
fn renameat2(from: &Path, to: &Path, flags: libc::c_uint) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let cstr = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL byte in a path"))
    };
    let (f, t) = (cstr(from)?, cstr(to)?);
    // SAFETY: both are valid NUL-terminated paths; AT_FDCWD resolves them as open(2) would.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `renameat2(2)` with `RENAME_NOREPLACE`: the raw call, its error as the OS gave it.
fn renameat2_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    renameat2(from, to, libc::RENAME_NOREPLACE)
}

/// Whether the file system refused `RENAME_NOREPLACE` itself (not the rename).
fn flag_refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP)
    )
}

/// Renames `from` to `to` unless `to` exists, only where the file system says so itself in
/// one step (`renameat2(2)` with `RENAME_NOREPLACE`): where it refuses the flag, nothing is
/// done and the error is `ErrorKind::Unsupported` (no check-then-rename fallback, for callers
/// whose correctness rests on the name being taken atomically, such as a lock).
pub fn rename_exclusive(from: &Path, to: &Path) -> io::Result<()> {
    match renameat2_noreplace(from, to) {
        Err(e) if flag_refused(&e) => Err(io::Error::new(io::ErrorKind::Unsupported, e)),
        r => r,
    }
}

/// Renames `from` to `to` unless `to` exists, in one step: a job is moved, never put over
/// another file (`ErrorKind::AlreadyExists`, both files untouched). `renameat2(2)` with
/// `RENAME_NOREPLACE`; where the file system refuses the flag (`EINVAL`, as some FUSE and
/// older NFS servers do), `link(2)` then `unlink(2)` of the old name, which fails the same way
/// when the name is taken; only where neither exists (no hard links either) a check then a
/// rename, the one case a concurrent writer of the same name could still lose a file.
/// Existence is judged by the server in the first two, so a stale directory cache on a network
/// mount cannot make a job overwrite another.
pub fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    let err = match renameat2_noreplace(from, to) {
        Ok(()) => return Ok(()),
        Err(e) => e,
    };
    if !flag_refused(&err) {
        return Err(err);
    }
    match std::fs::hard_link(from, to) {
        Ok(()) => return std::fs::remove_file(from),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(e),
        Err(e) => {
            if let Some(gone) = source_gone(from, &e) {
                return Err(gone);
            }
        }
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists", to.display()),
        ));
    }
    std::fs::rename(from, to).map_err(|e| source_gone(from, &e).unwrap_or(e))
}

/// What [`remove_if_unchanged`] did.
#[derive(Debug)]
pub enum Removal {
    /// Nothing was at the path (someone else removed it first).
    Gone,
    /// The file was the one judged, and is deleted.
    Removed,
    /// The file had changed since it was judged; it is back under its name.
    PutBack,
    /// The file had changed, and its name was taken again before it could go back: it stays at
    /// `aside` (the caller decides whether that copy still matters).
    Displaced { aside: PathBuf, error: io::Error },
}

/// Deletes `path` only if it is still what the caller judged it to be: renames it aside to
/// `aside` (one atomic step no other remover can share), asks `unchanged` about the copy there,
/// and deletes it, or puts it back with a no-replace rename. Between another node's reading and
/// its removal a file can be replaced by a fresh one; a plain unlink would delete the fresh one.
pub fn remove_if_unchanged(
    path: &Path,
    aside: &Path,
    unchanged: impl FnOnce(&Path) -> bool,
) -> io::Result<Removal> {
    match std::fs::rename(path, aside) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Removal::Gone),
        Err(e) => return Err(e),
    }
    if unchanged(aside) {
        std::fs::remove_file(aside)?;
        return Ok(Removal::Removed);
    }
    match rename_noreplace(aside, path) {
        Ok(()) => Ok(Removal::PutBack),
        Err(error) => Ok(Removal::Displaced {
            aside: aside.to_path_buf(),
            error,
        }),
    }
}

/// A name beside others for a file moved aside by `by`, unique to this process and instant.
pub fn aside_suffix(by: &str) -> String {
    let nonce = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{by}-{}-{nonce}", std::process::id())
}

/// Claims `from` (a job in a queue, or in `SENT`/`FAIL`, which other nodes may be claiming at
/// the same moment) into `to`, a name in the claiming node's own `ACTIVE/<node>/`.
/// `renameat2(2)` with `RENAME_NOREPLACE` where the file system takes the flag (a local disk:
/// the claim never replaces a file); where it refuses the flag (sshfs), a check of `to` then a
/// plain `rename(2)`: atomic on the source, so of several nodes claiming one job exactly one
/// gets it. [`rename_noreplace`]'s fallback (`link(2)` then `unlink(2)`) is not: two nodes can
/// both link the job before either unlinks it, and both dial it. (`daemon_chaos` once failed
/// with two calls to one number at once while the plain rename was used on a local disk too;
/// the claim was not the cause: a node back from a stall locked numbers on its stale lease,
/// which other nodes broke at once. See `Daemon::lease_holds_for_lock`.)
pub fn claim_into_own(from: &Path, to: &Path) -> io::Result<()> {
    match renameat2_noreplace(from, to) {
        Ok(()) => return Ok(()),
        Err(e) if flag_refused(&e) => {}
        Err(e) => return Err(source_gone(from, &e).unwrap_or(e)),
    }
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} exists", to.display()),
        ));
    }
    std::fs::rename(from, to).map_err(|e| source_gone(from, &e).unwrap_or(e))
}

/// sshfs answers a link or rename whose source another client just moved with `EPERM` (the
/// SFTP server's generic failure), not `ENOENT`: when `from` is indeed gone, the error is the
/// `NotFound` a lost race is everywhere else (not a spool refusing writes).
fn source_gone(from: &Path, e: &io::Error) -> Option<io::Error> {
    match std::fs::symlink_metadata(from) {
        Err(m) if m.kind() == io::ErrorKind::NotFound => Some(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is gone (moved by another process): {e}", from.display()),
        )),
        _ => None,
    }
}

/// Moves `from` into `dir` under `name`, or under the first free `STEM_n.EXT` when `name` is
/// taken (see [`free_name`]), without ever replacing a file: a name taken between the check
/// and the move (another node, a client, a stale cache) moves the job on to the next name.
/// Durable as [`rename_durable`]. Returns where the job went.
pub fn move_to_free_name(from: &Path, dir: &Path, name: &str) -> io::Result<PathBuf> {
    // The name itself first, with no look before: the rename never replaces a file and says
    // when the name is taken (then the next free one is looked for).
    let mut target = dir.join(name);
    for _ in 0..64 {
        match rename_noreplace(from, &target) {
            Ok(()) => {
                fsync_dir(dir)?;
                if parent(from) != dir {
                    fsync_dir(parent(from))?;
                }
                return Ok(target);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                target = free_name(dir, name);
            }
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other(format!(
        "no free name for {name} in {} after 64 tries",
        dir.display()
    )))
}

/// Renames `from` to `to` (never over an existing file: [`rename_noreplace`]) and fsyncs both
/// directories (the destination first).
pub fn rename_durable(from: &Path, to: &Path) -> io::Result<()> {
    rename_noreplace(from, to)?;
    fsync_dir(parent(to))?;
    if parent(from) != parent(to) {
        fsync_dir(parent(from))?;
    }
    Ok(())
}

fn parent(p: &Path) -> &Path {
    p.parent().unwrap_or(Path::new("."))
}

/// `dir/name` when free, else `dir/STEM_n.EXT` with the first free `n` (a job never replaces
/// another job of the same name in SENT, FAIL or a queue).
pub fn free_name(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) => (&name[..i], &name[i..]),
        None => (name, ""),
    };
    (1u32..)
        .map(|n| dir.join(format!("{stem}_{n}{ext}")))
        .find(|p| !p.exists())
        .expect("some name is free")
}

/// Why a job file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadJobError {
    /// It vanished (another node claimed it, a writer removed it): nothing to report.
    #[error("gone")]
    Gone,
    /// A FIFO, a directory, a device, a socket or a symbolic link carries a job's name.
    #[error("not a regular file but {0}; job files must be plain files")]
    NotRegular(&'static str),
    /// The file exists but cannot be read (permissions, I/O error).
    #[error("cannot be read: {0}")]
    Unreadable(io::Error),
    /// Far larger than any job: not read into memory.
    #[error("is {0} bytes long; a job file may be at most {MAX_JOB_BYTES} bytes")]
    TooLarge(u64),
    /// The name is not valid UTF-8, so no command can name the job.
    #[error("its name is not valid UTF-8")]
    BadName,
}

/// The largest job file read (64 MiB: a job with a hundred thousand attempt records is well
/// under it); a larger file is set aside unread instead of filling the daemon's memory.
pub const MAX_JOB_BYTES: u64 = 64 * 1024 * 1024;

/// Reads a job file without ever blocking or following a link: the open is non-blocking (a
/// FIFO named `x.FS` would otherwise hang the daemon in open(2)) and refuses symbolic links
/// (a link could point at any file on the machine), and anything that is not a regular file is
/// refused before a byte is read.
pub fn read_job(path: &Path) -> Result<Vec<u8>, ReadJobError> {
    read_job_stamped(path).map(|(bytes, _)| bytes)
}

/// A file's identity and version in one number: its device, inode, size, and modification and
/// change times (nanoseconds). Any write, rename-over or replacement changes it. The index
/// snapshot compares it to decide whether a queued file must be read again.
pub fn stamp(meta: &std::fs::Metadata) -> u64 {
    use std::hash::{Hash, Hasher};
    use std::os::unix::fs::MetadataExt;
    let mut h = rustc_hash::FxHasher::default();
    (
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec(),
    )
        .hash(&mut h);
    h.finish()
}

/// The [`stamp`] of the entry at `path` itself (a link is not followed), if it exists.
pub fn stamp_at(path: &Path) -> Option<u64> {
    std::fs::symlink_metadata(path).ok().map(|m| stamp(&m))
}

/// The [`stamp`] of the file `path` leads to (links followed), if it exists: for a
/// configuration file (the CFG, a USR profile), often a link into a managed directory, whose
/// content is what matters.
pub fn content_stamp(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| stamp(&m))
}

/// What a spool entry that is not a plain file is, for the error that sets it aside.
fn not_plain(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "not a plain file"
    }
}

/// [`read_job`], with the [`stamp`] of the file as opened (the bytes are that version's).
pub fn read_job_stamped(path: &Path) -> Result<(Vec<u8>, u64), ReadJobError> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    // Anything but a plain file is refused before it is opened: opening a device node can
    // act on the device (a serial port raises DTR), a FIFO can block.
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadJobError::Gone),
        Err(e) => return Err(ReadJobError::Unreadable(e)),
        Ok(m) if !m.file_type().is_file() => {
            return Err(ReadJobError::NotRegular(not_plain(m.file_type())))
        }
        Ok(_) => {}
    }
    let mut f = match std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(ReadJobError::Gone),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(ReadJobError::NotRegular("a symbolic link"))
        }
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(ReadJobError::NotRegular("a FIFO or socket"))
        }
        Err(e) if e.kind() == io::ErrorKind::IsADirectory => {
            return Err(ReadJobError::NotRegular("a directory"))
        }
        Err(e) => return Err(ReadJobError::Unreadable(e)),
    };
    let meta = f.metadata().map_err(ReadJobError::Unreadable)?;
    let t = meta.file_type();
    if t.is_file() && meta.len() > MAX_JOB_BYTES {
        return Err(ReadJobError::TooLarge(meta.len()));
    }
    if !t.is_file() {
        // Replaced between the look and the open.
        return Err(ReadJobError::NotRegular(not_plain(t)));
    }
    // Sized once (a file that grows meanwhile still reads, and is still cut at the limit).
    let mut out = Vec::with_capacity(meta.len() as usize + 1);
    (&mut f)
        .take(MAX_JOB_BYTES + 1)
        .read_to_end(&mut out)
        .map_err(ReadJobError::Unreadable)?;
    if out.len() as u64 > MAX_JOB_BYTES {
        return Err(ReadJobError::TooLarge(out.len() as u64));
    }
    Ok((out, stamp(&meta)))
}

/// Entries of `dir` that end in `.FS` but whose names are not UTF-8 (no command can name
/// them; the daemon sets them aside).
pub fn list_bad_names(dir: &Path) -> Vec<std::ffi::OsString> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.file_name())
        .filter(|n| {
            n.to_str().is_none() && {
                let b = n.as_bytes();
                b.len() > 3 && b[b.len() - 3..].eq_ignore_ascii_case(b".FS")
            }
        })
        .collect()
}

/// The job files (`*.FS`) directly in `dir`, unsorted; a missing directory is empty.
pub fn list_jobs(dir: &Path) -> io::Result<Vec<String>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for e in rd {
        let e = e?;
        if let Some(n) = e.file_name().to_str() {
            if super::is_job_name(n) {
                out.push(n.to_string());
            }
        }
    }
    Ok(out)
}

/// Removes this node's temporary files left in `TEMP` by a crash (other nodes' are theirs).
pub fn clean_temp(temp_dir: &Path, prefix: &str) -> io::Result<usize> {
    let mut n = 0;
    if let Ok(rd) = std::fs::read_dir(temp_dir) {
        for e in rd.flatten() {
            if e.file_name()
                .to_str()
                .is_some_and(|s| s.starts_with(prefix))
            {
                std::fs::remove_file(e.path())?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Where in a job's life a spool operation happens: named so that a fault can be injected at
/// each point in turn and a test can say which points it covered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Point {
    /// Renaming a due job from its queue into `ACTIVE/<node>/`.
    Claim,
    /// Making the claim durable before its call: the job's dialling mark
    /// ([`super::dialling`]), or `$fax_status1 3` written into it where no mark can be made.
    ClaimWrite,
    /// Giving a claimed job back to its queue unchanged.
    GiveBack,
    /// Writing the attempt record and the engine's decision.
    ResultWrite,
    /// Moving the decided job on (queue, SENT, FAIL).
    MoveOn,
    /// Writing the reason of a bad job.
    RejectWrite,
    /// Moving a bad job (or a non-job) to FAIL.
    RejectMove,
    /// Renewing the node's lease.
    Lease,
    /// Writing the pending-results journal.
    Journal,
    /// Taking over a dead node's directory.
    Takeover,
    /// Filing a late report.
    LateWrite,
}

impl std::fmt::Display for Point {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Point::Claim => "claim",
            Point::ClaimWrite => "claim write",
            Point::GiveBack => "give back",
            Point::ResultWrite => "result write",
            Point::MoveOn => "move on",
            Point::RejectWrite => "reject write",
            Point::RejectMove => "reject move",
            Point::Lease => "lease",
            Point::Journal => "journal",
            Point::Takeover => "takeover",
            Point::LateWrite => "late write",
        })
    }
}

/// A fault to inject: from the `after`-th operation (0-based, counting only operations the
/// rule matches) on, `count` operations fail with `errno` (`None` = until cleared, like a disk
/// that stays full).
#[derive(Debug, Clone)]
pub struct Fault {
    /// Only at this point (None: any point).
    pub point: Option<Point>,
    /// Matching operations that succeed first.
    pub after: usize,
    /// How many fail (None: all until cleared).
    pub count: Option<usize>,
    /// The error: libc::ENOSPC, libc::EIO, libc::EROFS …
    pub errno: i32,
}

/// Faults injected into a [`Store`], shared with the test that set them; and a log of the
/// points that failed.
#[derive(Debug, Default)]
pub struct FaultPlan {
    faults: Vec<(Fault, usize)>,
    stalls: Vec<(Point, Stall)>,
    /// Every injected failure, in order.
    pub fired: Vec<Point>,
}

/// Something a test runs once, when the store next reaches a point: a stall of the node
/// there (the test advances the clock, as a process stopped or a slow fsync would find it).
struct Stall(Box<dyn FnOnce() + Send>);

impl std::fmt::Debug for Stall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Stall")
    }
}

impl FaultPlan {
    /// Adds a fault.
    pub fn add(&mut self, f: Fault) {
        self.faults.push((f, 0));
    }
    /// Runs `then` once, the next time an operation at `point` starts (before it is done).
    pub fn stall_at(&mut self, point: Point, then: impl FnOnce() + Send + 'static) {
        self.stalls.push((point, Stall(Box::new(then))));
    }
    /// Removes every fault (the disk has room again, the file system is writable again).
    pub fn clear(&mut self) {
        self.faults.clear();
    }
    fn check(&mut self, point: Point) -> io::Result<()> {
        if let Some(i) = self.stalls.iter().position(|(p, _)| *p == point) {
            (self.stalls.remove(i).1 .0)();
        }
        for (f, seen) in &mut self.faults {
            if f.point.is_some_and(|p| p != point) {
                continue;
            }
            let n = *seen;
            *seen += 1;
            if n >= f.after && f.count.is_none_or(|c| n < f.after + c) {
                self.fired.push(point);
                return Err(io::Error::from_raw_os_error(f.errno));
            }
        }
        Ok(())
    }
}

/// Spare temporary files for a [`Store`]'s atomic writes, so that a write allocates no inode
/// and frees none: the new text goes into a spare (written from its start, cut to length,
/// `fsync`), and the spare is exchanged with the target (`renameat2` with `RENAME_EXCHANGE`, as
/// atomic as a rename over it). The spare's name then holds the target's old inode, which is the
/// next write's spare. On ext4 a fresh inode per write was most of a write's cost (the inode
/// allocator scans past recently deleted inodes), for the daemon's fsyncs and its CPU alike.
///
/// A spare is reused only when it is certainly nobody else's: a regular file with one link,
/// owned by this process's user, and open nowhere else: a write lease (`F_SETLEASE`) is
/// granted only then, so a reader that opened the job before it was replaced never sees its
/// bytes change. Its mode is set to a fresh temporary file's (0600) first: a job a client
/// wrote as the same user is reused too. Anything else is unlinked (a reader keeps its inode)
/// and a fresh file made. Where the file system refuses the exchange
/// (sshfs, some NFS servers), the store writes fresh temporary files, as [`write_atomic`]
/// does, for good. Spares are named `<prefix>spare.<n>` in the store's temporary directory,
/// so [`clean_temp`] removes them at the next start; a store drops its own when it goes.
#[derive(Debug, Default)]
struct TempSpares {
    /// The file system refused `RENAME_EXCHANGE`: fresh temporary files from now on.
    off: AtomicBool,
    /// Spares ready for a write (each names an inode this store wrote or replaced).
    free: std::sync::Mutex<Vec<PathBuf>>,
    /// The number in the next fresh spare's name.
    next: std::sync::atomic::AtomicU64,
}

/// The most spares a store keeps; more (after a batch of parallel writes) are unlinked.
const MAX_SPARES: usize = 16;

impl Drop for TempSpares {
    fn drop(&mut self) {
        let free = self.free.get_mut().map(std::mem::take).unwrap_or_default();
        for path in free {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// `renameat2(2)` with `RENAME_EXCHANGE`: `a` and `b` swap names, atomically.
fn exchange(a: &Path, b: &Path) -> io::Result<()> {
    renameat2(a, b, libc::RENAME_EXCHANGE)
}

/// The spare at `path` opened for writing when it is certainly this store's alone (see
/// [`TempSpares`]); `None` otherwise.
fn open_spare(path: &Path) -> Option<File> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    use std::os::unix::io::AsRawFd;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .ok()?;
    let m = f.metadata().ok()?;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !m.is_file() || m.nlink() != 1 || m.uid() != me {
        return None;
    }
    // SAFETY: a valid open descriptor; F_SETLEASE takes an int argument.
    let leased = unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLEASE, libc::F_WRLCK) } == 0;
    if !leased {
        return None;
    }
    // SAFETY: as above; the lease proved no other open file, and is let go at once.
    unsafe { libc::fcntl(f.as_raw_fd(), libc::F_SETLEASE, libc::F_UNLCK) };
    // A job a client wrote as this user keeps no mode of its own: the store's files are 0600.
    if m.mode() & 0o7777 != 0o600 {
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .ok()?;
    }
    Some(f)
}

impl TempSpares {
    /// A spare ready to write (its path and an open handle), unlinking any that is not
    /// certainly ours; `None` when none is left.
    fn take(&self) -> Option<(PathBuf, File)> {
        loop {
            let path = self.free.lock().expect("spares").pop()?;
            match open_spare(&path) {
                Some(f) => return Some((path, f)),
                None => {
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }

    /// Keeps `path` (now naming a replaced inode) for a later write, unless enough are kept.
    fn put(&self, path: PathBuf) {
        let mut free = self.free.lock().expect("spares");
        if free.len() < MAX_SPARES {
            free.push(path);
        } else {
            drop(free);
            let _ = std::fs::remove_file(path);
        }
    }

    /// [`write_atomic`] of `bytes` over `target` through a spare (see [`TempSpares`]).
    fn write(&self, temp_dir: &Path, prefix: &str, target: &Path, bytes: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::{FileExt, OpenOptionsExt};
        if self.off.load(Ordering::Relaxed) {
            return write_atomic(temp_dir, prefix, target, bytes);
        }
        let (path, file) = match self.take() {
            Some(spare) => spare,
            None => {
                let n = self.next.fetch_add(1, Ordering::Relaxed);
                let path = temp_dir.join(format!("{prefix}spare.{n}"));
                let file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(&path)?;
                (path, file)
            }
        };
        let written = (|| {
            file.write_all_at(bytes, 0)?;
            file.set_len(bytes.len() as u64)?;
            if durable() {
                sync(&file)?;
            }
            Ok(())
        })();
        drop(file);
        if let Err(e) = written {
            let _ = std::fs::remove_file(&path);
            return Err(e);
        }
        match exchange(&path, target) {
            Ok(()) => self.put(path),
            Err(e) => {
                if flag_refused(&e) {
                    self.off.store(true, Ordering::Relaxed);
                }
                // No target to exchange with (a first write), or no exchange here: a plain
                // rename, which leaves no spare.
                if let Err(e) = std::fs::rename(&path, target) {
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
            }
        }
        fsync_dir(parent(target))
    }
}

/// The one door through which the daemon changes the spool: atomic writes, durable renames,
/// job reads. Every change names its [`Point`]; a test can hand the store a [`FaultPlan`] to
/// make any of them fail as a full, broken or read-only disk would.
#[derive(Debug, Clone)]
pub struct Store {
    temp: PathBuf,
    prefix: String,
    faults: Option<std::sync::Arc<std::sync::Mutex<FaultPlan>>>,
    spares: std::sync::Arc<TempSpares>,
    /// The dialling marks of the jobs whose calls may be under way: job path → mark path.
    /// The first write over a job (its result) or move of it removes its mark.
    marks: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<PathBuf, PathBuf>>>,
    /// Directories owed an fsync: a settled job left them ([`Store::write_and_move_all`]) and
    /// its new directory is already fsynced (see [`Store::pay_owed`]).
    owed: std::sync::Arc<std::sync::Mutex<Vec<PathBuf>>>,
}

/// How a claim was made durable before its call ([`Store::claim_dialling`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// By a dialling mark at this path; the job's bytes are as they came.
    Marked(PathBuf),
    /// By the claimed text written into the job (no mark could be made).
    Written,
}

/// `link(2)` errors that say no mark can be made of this job here (another user's file under
/// `fs.protected_hardlinks`, a file system without hard links or out of them, a job name too
/// long for the mark's), as opposed to a spool that refuses writes.
fn link_refused(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPERM | libc::EOPNOTSUPP | libc::EMLINK | libc::ENOSYS | libc::ENAMETOOLONG)
    )
}

impl Store {
    /// A store writing temporary files into `temp` named `prefix…`.
    pub fn new(temp: PathBuf, prefix: &str) -> Store {
        Store {
            temp,
            prefix: prefix.to_string(),
            faults: None,
            spares: Default::default(),
            marks: Default::default(),
            owed: Default::default(),
        }
    }
    /// Injects faults (tests).
    pub fn inject(&mut self, plan: std::sync::Arc<std::sync::Mutex<FaultPlan>>) {
        self.faults = Some(plan);
    }
    /// Fails as an injected fault says for an operation at `point` done outside the store.
    pub fn check(&self, point: Point) -> io::Result<()> {
        match &self.faults {
            Some(f) => f.lock().expect("fault plan").check(point),
            None => Ok(()),
        }
    }
    /// [`write_atomic`] at `point`, through a spare temporary file ([`TempSpares`]).
    pub fn write(&self, point: Point, target: &Path, bytes: &[u8]) -> io::Result<()> {
        self.check(point)?;
        self.write_spared(target, bytes)
    }
    /// [`write_atomic`] of `bytes` over `target` through a spare temporary file; the write
    /// replaces the job's inode, so its dialling mark (if any) goes.
    fn write_spared(&self, target: &Path, bytes: &[u8]) -> io::Result<()> {
        // Its last step is an fsync of the target's directory: a debt of that one is paid.
        self.paying(parent(target), || {
            self.spares.write(&self.temp, &self.prefix, target, bytes)
        })?;
        self.unmark(target);
        Ok(())
    }
    /// Removes the dialling mark of the job at `job`, if it has one: after its result is
    /// written, or when its call was never placed (a give-back, which must then move the job
    /// durably). Its removal becomes durable with the next fsync of the job's directory; until
    /// then a crash may leave it, stale (naming the replaced inode) or with no job, and
    /// recovery removes it.
    pub fn unmark(&self, job: &Path) {
        let mark = self.marks.lock().expect("marks").remove(job);
        if let Some(mark) = mark {
            if let Err(e) = super::dialling::remove(&mark) {
                tracing::warn!(mark = %mark.display(), error = %e, "cannot remove a dialling mark; recovery removes it");
            }
        }
    }
    /// The claim made durable before its call, at `point`: a dialling mark of the job at
    /// `target` ([`super::dialling::make`]) where a hard link can be made, else the text
    /// `claimed()` gives written over the job (`$fax_status1 3`). Then fsyncs of the job's
    /// directory (which also makes the claim's rename durable: [`Store::rename_claim`]) and of
    /// `queue_dir` the job came from, so it cannot reappear there after a crash. After this the
    /// call may be placed; the job's next write or move removes the mark.
    pub fn claim_dialling(
        &self,
        point: Point,
        target: &Path,
        line: u32,
        queue: u8,
        claimed: impl FnOnce() -> Vec<u8>,
        queue_dir: &Path,
    ) -> io::Result<Claimed> {
        self.check(point)?;
        match super::dialling::make(target, line, queue) {
            Ok(mark) => {
                let synced = self
                    .paying(parent(target), || fsync_dir(parent(target)))
                    .and_then(|()| self.paying(queue_dir, || fsync_dir(queue_dir)));
                if let Err(e) = synced {
                    let _ = super::dialling::remove(&mark);
                    return Err(e);
                }
                self.marks
                    .lock()
                    .expect("marks")
                    .insert(target.to_path_buf(), mark.clone());
                Ok(Claimed::Marked(mark))
            }
            Err(e) if link_refused(&e) => {
                self.write_spared(target, &claimed())?;
                fsync_dir(queue_dir)?;
                Ok(Claimed::Written)
            }
            Err(e) => Err(e),
        }
    }
    /// Takes over a dialling mark recovery found live: the job's next write or move removes it.
    pub fn adopt_mark(&self, job: &Path, mark: &Path) {
        self.marks
            .lock()
            .expect("marks")
            .insert(job.to_path_buf(), mark.to_path_buf());
    }
    /// [`rename_durable`] at `point`.
    pub fn rename(&self, point: Point, from: &Path, to: &Path) -> io::Result<()> {
        self.check(point)?;
        self.unmark(from);
        rename_durable(from, to)
    }
    /// [`move_to_free_name`] at `point`: the job goes to `dir/name` or the next free name.
    pub fn move_free(
        &self,
        point: Point,
        from: &Path,
        dir: &Path,
        name: &str,
    ) -> io::Result<PathBuf> {
        self.check(point)?;
        self.unmark(from);
        move_to_free_name(from, dir, name)
    }
    /// The claim's rename, not yet durable: nothing is dialled before the dialling mark that
    /// follows, whose fsync of the destination directory makes this rename durable too (both
    /// land in that one directory), and before the call the source directory is fsynced
    /// ([`Store::claim_dialling`]). A crash in between leaves the job in its queue or claimed and
    /// never dialled; recovery puts the latter back unchanged. One fsync fewer per attempt.
    /// The rename is [`claim_into_own`]: exclusive on the job, also on a network mount.
    pub fn rename_claim(&self, point: Point, from: &Path, to: &Path) -> io::Result<()> {
        self.check(point)?;
        claim_into_own(from, to)
    }
    /// A claim into this node's own `ACTIVE/<node>/` ([`claim_into_own`]) made durable at once
    /// (both directories fsynced, the destination first): for claims that are not followed by
    /// a dialling mark (a cancel, a rejection, a late report's job).
    pub fn rename_claim_durable(&self, point: Point, from: &Path, to: &Path) -> io::Result<()> {
        self.check(point)?;
        claim_into_own(from, to)?;
        fsync_dir(parent(to))?;
        if parent(from) != parent(to) {
            fsync_dir(parent(from))?;
        }
        Ok(())
    }
    /// Several jobs' results at once: for each `(job, bytes, target)`, [`write_atomic`] of the
    /// bytes over the job (at [`Point::ResultWrite`]), then [`rename_durable`] of the job to its
    /// target (at [`Point::MoveOn`]). The jobs run in parallel, so their fsyncs overlap and a
    /// batch waits for the disk about as long as one job does; each job's write still comes
    /// before its move. Injected faults are taken first, in the order one job after another
    /// would meet them (a write's, then its move's), and act where they would have: a failed
    /// move still leaves the job written. A target taken meanwhile (by anyone) is never
    /// replaced: the job goes to the next free name in the target's directory
    /// ([`move_to_free_name`]). Per job: where it went, or the point that failed and why.
    pub fn write_and_move_all(
        &self,
        jobs: &[(&Path, &[u8], &Path)],
    ) -> Vec<Result<PathBuf, (Point, io::Error)>> {
        type Checked = (io::Result<()>, io::Result<()>);
        let checked: Vec<Checked> = jobs
            .iter()
            .map(|_| match self.check(Point::ResultWrite) {
                Ok(()) => (Ok(()), self.check(Point::MoveOn)),
                Err(e) => (Err(e), Ok(())),
            })
            .collect();
        let one = |(job, bytes, target): &(&Path, &[u8], &Path), (write, moved): Checked| {
            write.map_err(|e| (Point::ResultWrite, e))?;
            self.write_spared(job, bytes)
                .map_err(|e| (Point::ResultWrite, e))?;
            moved.map_err(|e| (Point::MoveOn, e))?;
            match self.rename_owing(job, target) {
                Ok(()) => Ok(target.to_path_buf()),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    let name = target.file_name().and_then(|n| n.to_str()).unwrap_or("job");
                    move_to_free_name(job, parent(target), name).map_err(|e| (Point::MoveOn, e))
                }
                Err(e) => Err((Point::MoveOn, e)),
            }
        };
        if jobs.len() == 1 {
            return jobs.iter().zip(checked).map(|(j, c)| one(j, c)).collect();
        }
        std::thread::scope(|scope| {
            let running: Vec<_> = jobs
                .iter()
                .zip(checked)
                .map(|(job, c)| scope.spawn(move || one(job, c)))
                .collect();
            running
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| {
                        Err((
                            Point::ResultWrite,
                            io::Error::other("writer thread panicked"),
                        ))
                    })
                })
                .collect()
        })
    }

    /// A settled job's move: `rename(2)` without replacing, then an fsync of `to`'s directory,
    /// which makes the job durable at its new name with the bytes it was written with. The
    /// fsync of `from`'s directory, which makes its old name's removal durable, is owed
    /// ([`Store::pay_owed`]): the job's claim and dialling mark there are gone with it, and its
    /// bytes are final, so until then a power cut can only leave a second name of a job that
    /// is on record (the state a cut between the two fsyncs of [`rename_durable`] leaves).
    /// The next claim into that directory fsyncs it anyway and pays the debt, so a busy node
    /// makes one fsync fewer per attempt.
    fn rename_owing(&self, from: &Path, to: &Path) -> io::Result<()> {
        rename_noreplace(from, to)?;
        if parent(from) != parent(to) {
            self.owe(parent(from));
        }
        fsync_dir(parent(to))
    }
    fn owe(&self, dir: &Path) {
        let mut owed = self.owed.lock().expect("owed fsyncs");
        if !owed.iter().any(|d| d == dir) {
            owed.push(dir.to_path_buf());
        }
    }
    /// Runs `fsynced`, whose last step fsyncs `dir`, as the payment of `dir`'s debt if it has
    /// one. The debt is taken off first, so a move out of `dir` that another thread makes
    /// meanwhile stays owed; it is owed again if `fsynced` fails.
    fn paying<T>(&self, dir: &Path, fsynced: impl FnOnce() -> io::Result<T>) -> io::Result<T> {
        let was = {
            let mut owed = self.owed.lock().expect("owed fsyncs");
            let n = owed.len();
            owed.retain(|d| d != dir);
            owed.len() != n
        };
        let r = fsynced();
        if r.is_err() && was {
            self.owe(dir);
        }
        r
    }
    /// fsyncs every directory owed one ([`Store::rename_owing`]). The daemon calls it before a
    /// pass over the spool ends, so no debt outlives the pass that made it; one that fails
    /// stays owed and the error is returned.
    pub fn pay_owed(&self) -> io::Result<()> {
        let owed = std::mem::take(&mut *self.owed.lock().expect("owed fsyncs"));
        let mut first = Ok(());
        for dir in owed {
            match self.paying(&dir, || fsync_dir(&dir)) {
                // Gone (removed, or taken over and renamed away): nothing is left to make
                // durable in it.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Ok(()) => {}
                Err(e) => {
                    self.owe(&dir);
                    if first.is_ok() {
                        first = Err(e);
                    }
                }
            }
        }
        first
    }
    /// How many directories are owed an fsync now.
    pub fn owes(&self) -> usize {
        self.owed.lock().expect("owed fsyncs").len()
    }
    /// A plain rename (a directory takeover), then fsyncs of both parents.
    pub fn rename_dir(&self, point: Point, from: &Path, to: &Path) -> io::Result<()> {
        self.check(point)?;
        std::fs::rename(from, to)?;
        let _ = fsync_dir(parent(to));
        let _ = fsync_dir(parent(from));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn ino(p: &Path) -> u64 {
        std::fs::symlink_metadata(p).unwrap().ino()
    }

    /// A temporary directory with `TEMP` and `ACTIVE` in it.
    fn spool_dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let (temp, jobs) = (dir.path().join("TEMP"), dir.path().join("ACTIVE"));
        std::fs::create_dir_all(&temp).unwrap();
        std::fs::create_dir_all(&jobs).unwrap();
        (dir, temp, jobs)
    }

    /// Spares left by a node that died (its store never dropped) go at its next start
    /// ([`clean_temp`] with its prefix), and a second node's spares in the same `TEMP` stay.
    /// A link planted at a spare's name is never written through.
    #[test]
    fn spares_left_by_a_crash_go_at_start_and_a_planted_link_is_not_followed() {
        let (dir, temp, jobs) = spool_dirs();
        let (t, u) = (jobs.join("1.FS"), jobs.join("2.FS"));
        for p in [&t, &u] {
            std::fs::write(p, "$fax_phone 1\n").unwrap();
        }
        let (n1, n2) = (
            Store::new(temp.clone(), ".n1."),
            Store::new(temp.clone(), ".n2."),
        );
        n1.write(Point::ResultWrite, &t, b"$a\n").unwrap();
        n2.write(Point::ResultWrite, &u, b"$b\n").unwrap();
        let spares = |prefix: &str| -> Vec<PathBuf> {
            std::fs::read_dir(&temp)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
                .collect()
        };
        if spares_work_here(&temp) {
            // Hostile: n1's spare replaced by a link to a file of someone else's.
            let victim = dir.path().join("victim");
            std::fs::write(&victim, "mine\n").unwrap();
            let spare = spares(".n1.spare.").pop().expect("n1 keeps a spare");
            std::fs::remove_file(&spare).unwrap();
            std::os::unix::fs::symlink(&victim, &spare).unwrap();
            n1.write(Point::ResultWrite, &t, b"$c\n").unwrap();
            assert_eq!(std::fs::read(&t).unwrap(), b"$c\n");
            assert_eq!(std::fs::read(&victim).unwrap(), b"mine\n");
            assert!(std::fs::symlink_metadata(&t).unwrap().is_file());
        }
        // n1 dies: its store is never dropped, its spares stay until its next start.
        std::mem::forget(n1);
        assert!(!spares(".n1.").is_empty());
        clean_temp(&temp, ".n1.").unwrap();
        assert!(spares(".n1.").is_empty());
        assert!(!spares(".n2.").is_empty(), "the other node's spares stay");
        n2.write(Point::ResultWrite, &u, b"$d\n").unwrap();
        assert_eq!(std::fs::read(&u).unwrap(), b"$d\n");
    }

    /// Whether this file system exchanges names and grants leases (else a store writes fresh
    /// temporary files, which the tests below then check instead).
    fn spares_work_here(dir: &Path) -> bool {
        let (a, b) = (dir.join("probe-a"), dir.join("probe-b"));
        std::fs::write(&a, "a").unwrap();
        std::fs::write(&b, "b").unwrap();
        let exchanged = exchange(&a, &b).is_ok();
        let _ = std::fs::set_permissions(&a, std::fs::Permissions::from_mode(0o600));
        let leased = open_spare(&a).is_some();
        std::fs::remove_file(&a).unwrap();
        std::fs::remove_file(&b).unwrap();
        exchanged && leased
    }

    /// The claim's dialling mark is the job's inode until the result replaces it; no byte of
    /// the job is written before the call. The result write removes the mark, so the replaced
    /// inode (one link again) is the next write's spare. A give-back's move removes it too.
    #[test]
    fn a_dialling_mark_lasts_until_the_result_and_its_inode_is_reused_after() {
        use super::super::dialling;
        let (dir, temp, jobs) = spool_dirs();
        let queue = dir.path().join("TOSEND");
        std::fs::create_dir_all(&queue).unwrap();
        let reuse = spares_work_here(&temp);
        let store = Store::new(temp.clone(), ".n1.");
        let job = jobs.join("1.FS");
        std::fs::write(&job, "$fax_phone 1\n").unwrap();
        let was = ino(&job);
        let no_text = || -> Vec<u8> { panic!("no text is written where a mark can be made") };
        let claimed = store
            .claim_dialling(Point::ClaimWrite, &job, 3, 1, no_text, &queue)
            .unwrap();
        let mark = jobs.join(".1.FS~L3~Q1");
        assert_eq!(claimed, Claimed::Marked(mark.clone()));
        assert!(dialling::is_live(&mark, &job));
        assert_eq!(std::fs::read(&job).unwrap(), b"$fax_phone 1\n");
        store
            .write(Point::ResultWrite, &job, b"$fax_phone 1\n$fax_status1 6\n")
            .unwrap();
        assert!(!mark.exists(), "the result write removes the mark");
        if reuse {
            let other = jobs.join("2.FS");
            std::fs::write(&other, "$fax_phone 2\n").unwrap();
            store.write(Point::ResultWrite, &other, b"$x\n").unwrap();
            assert_eq!(
                ino(&other),
                was,
                "the marked inode was reused once unmarked"
            );
        }
        // Claimed again and given back before its call: the move takes the mark away.
        let claimed = store
            .claim_dialling(Point::ClaimWrite, &job, 1, 0, no_text, &queue)
            .unwrap();
        let Claimed::Marked(mark) = claimed else {
            panic!("{claimed:?}")
        };
        store
            .move_free(Point::GiveBack, &job, &queue, "1.FS")
            .unwrap();
        assert!(!mark.exists());
        assert_eq!(
            std::fs::read(queue.join("1.FS")).unwrap(),
            b"$fax_phone 1\n$fax_status1 6\n"
        );
        // A spool that refuses the claim: no mark is left.
        let plan = std::sync::Arc::new(std::sync::Mutex::new(FaultPlan::default()));
        plan.lock().unwrap().add(Fault {
            point: Some(Point::ClaimWrite),
            after: 0,
            count: None,
            errno: libc::EROFS,
        });
        let mut refusing = Store::new(temp.clone(), ".n2.");
        refusing.inject(plan);
        std::fs::rename(queue.join("1.FS"), &job).unwrap();
        let e = refusing
            .claim_dialling(Point::ClaimWrite, &job, 1, 0, no_text, &queue)
            .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS));
        assert!(dialling::marks_in(&jobs).is_empty());
    }

    /// A store's write allocates no inode: the target's old inode becomes the spare and the
    /// next write's file, cut to its new length; where names cannot be exchanged or leases
    /// are not granted, every write still lands whole.
    #[test]
    fn a_write_reuses_the_inode_the_last_one_replaced() {
        let (_dir, temp, jobs) = spool_dirs();
        let reuse = spares_work_here(&temp);
        let store = Store::new(temp.clone(), ".n1.");
        let (t, u) = (jobs.join("1.FS"), jobs.join("2.FS"));
        // A first write with no target: a plain rename, no spare kept.
        store
            .write(Point::ClaimWrite, &t, b"$fax_phone 1\n")
            .unwrap();
        assert_eq!(std::fs::read(&t).unwrap(), b"$fax_phone 1\n");
        assert_eq!(std::fs::read_dir(&temp).unwrap().count(), 0);
        // A client's job, written as the store's user with its own mode.
        std::fs::write(&u, "$fax_phone 2\n").unwrap();
        std::fs::set_permissions(&u, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (t_was, u_was) = (ino(&t), ino(&u));
        store
            .write(Point::ResultWrite, &t, b"$fax_phone 1\n$fax_status1 3 1\n")
            .unwrap();
        assert_eq!(
            std::fs::read(&t).unwrap(),
            b"$fax_phone 1\n$fax_status1 3 1\n"
        );
        // Shorter than what the reused inode held: cut to length.
        store.write(Point::ResultWrite, &u, b"$x 1\n").unwrap();
        assert_eq!(std::fs::read(&u).unwrap(), b"$x 1\n");
        assert_eq!(
            std::fs::read(&t).unwrap(),
            b"$fax_phone 1\n$fax_status1 3 1\n"
        );
        if reuse {
            assert_eq!(
                ino(&u),
                t_was,
                "the second write went into the first one's old inode"
            );
            store.write(Point::ResultWrite, &t, b"$y\n").unwrap();
            assert_eq!(ino(&t), u_was);
            assert_eq!(std::fs::metadata(&t).unwrap().mode() & 0o777, 0o600);
        } else {
            assert!(
                store.spares.off.load(Ordering::Relaxed)
                    || std::fs::read_dir(&temp).unwrap().count() <= MAX_SPARES
            );
        }
        assert_eq!(std::fs::read(&u).unwrap(), b"$x 1\n");
    }

    /// A replaced job that someone still reads, that has a second name, or that is not the
    /// kind of file the store makes is never written into: the reader's bytes stay as they
    /// were, and the spare is unlinked (the other name and the reader keep the inode).
    #[test]
    fn a_replaced_file_in_use_or_not_the_stores_own_is_never_reused() {
        let (dir, temp, jobs) = spool_dirs();
        let store = Store::new(temp.clone(), ".n1.");
        let job = |n: u32, mode: u32| {
            let p = jobs.join(format!("{n}.FS"));
            std::fs::write(&p, format!("$fax_phone {n}\n")).unwrap();
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            p
        };
        let other = jobs.join("9.FS");
        std::fs::write(&other, "$fax_phone 9\n").unwrap();
        // 1: open by a reader; 2: a second name; 3: another user's (when the test may give a
        // file away: as root, as CI runs).
        let (one, two, three) = (job(1, 0o600), job(2, 0o600), job(3, 0o600));
        let reader = std::fs::File::open(&one).unwrap();
        std::fs::hard_link(&two, dir.path().join("elsewhere")).unwrap();
        let foreign = std::os::unix::fs::chown(&three, Some(65534), Some(65534)).is_ok();
        let mut cases = vec![&one, &two];
        if foreign {
            cases.push(&three);
        } else {
            eprintln!("not root: the other user's file is not tried");
        }
        // The first two stay alive (the reader, the other name), so their numbers cannot come
        // back; the third is freed when its spare is unlinked, and a fresh file may get its
        // number, but never its owner.
        let in_use: Vec<u64> = [&one, &two].iter().map(|p| ino(p)).collect();
        // SAFETY: geteuid has no preconditions.
        let me = unsafe { libc::geteuid() };
        for p in cases {
            store
                .write(Point::ResultWrite, p, b"$replaced 1\n")
                .unwrap();
            // The next write must not go into the inode just replaced.
            store
                .write(Point::ResultWrite, &other, b"$fax_phone 9 again\n")
                .unwrap();
            assert!(
                !in_use.contains(&ino(&other)),
                "{p:?}: written into a replaced inode in use"
            );
            let m = std::fs::metadata(&other).unwrap();
            assert_eq!(
                (m.uid(), m.mode() & 0o777),
                (me, 0o600),
                "{p:?}: written into another user's file"
            );
            assert_eq!(std::fs::read(p).unwrap(), b"$replaced 1\n");
        }
        use std::io::Read;
        let mut text = String::new();
        (&reader).read_to_string(&mut text).unwrap();
        assert_eq!(text, "$fax_phone 1\n", "the reader's bytes did not change");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("elsewhere")).unwrap(),
            "$fax_phone 2\n"
        );
    }

    #[test]
    fn a_batch_is_written_and_moved_with_faults_taken_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let (temp, active, sent) = (
            dir.path().join("TEMP"),
            dir.path().join("ACTIVE"),
            dir.path().join("SENT"),
        );
        for d in [&temp, &active, &sent] {
            std::fs::create_dir_all(d).unwrap();
        }
        let names = ["1.FS", "2.FS", "3.FS", "4.FS"];
        for n in names {
            std::fs::write(active.join(n), "claimed\n").unwrap();
        }
        let mut store = Store::new(temp.clone(), ".n1.");
        let plan = std::sync::Arc::new(std::sync::Mutex::new(FaultPlan::default()));
        store.inject(plan.clone());
        // The second move fails, and the third write: as if the jobs went one after another.
        plan.lock().unwrap().add(Fault {
            point: Some(Point::MoveOn),
            after: 1,
            count: Some(1),
            errno: libc::EIO,
        });
        plan.lock().unwrap().add(Fault {
            point: Some(Point::ResultWrite),
            after: 2,
            count: Some(1),
            errno: libc::ENOSPC,
        });
        let (from, to): (Vec<_>, Vec<_>) =
            names.iter().map(|n| (active.join(n), sent.join(n))).unzip();
        let bytes: Vec<Vec<u8>> = names.iter().map(|n| format!("done {n}\n").into()).collect();
        let jobs: Vec<(&Path, &[u8], &Path)> = (0..names.len())
            .map(|i| (from[i].as_path(), bytes[i].as_slice(), to[i].as_path()))
            .collect();
        let r = store.write_and_move_all(&jobs);
        let points: Vec<Option<Point>> = r.iter().map(|r| r.as_ref().err().map(|e| e.0)).collect();
        assert_eq!(
            points,
            [None, Some(Point::MoveOn), Some(Point::ResultWrite), None]
        );
        assert_eq!(
            plan.lock().unwrap().fired,
            [Point::MoveOn, Point::ResultWrite]
        );
        // Moved with their new bytes; the one whose move failed written but still in ACTIVE;
        // the one whose write failed untouched.
        for i in [0, 3] {
            assert_eq!(std::fs::read(&to[i]).unwrap(), bytes[i]);
            assert!(!from[i].exists());
        }
        assert_eq!(std::fs::read(&from[1]).unwrap(), bytes[1]);
        assert_eq!(std::fs::read(&from[2]).unwrap(), b"claimed\n");
        let names = |dir: &Path| -> Vec<String> {
            std::fs::read_dir(dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect()
        };
        let left = names(&temp);
        assert!(
            left.iter().all(|n| n.starts_with(".n1.spare.")),
            "only the store's spares are left: {left:?}"
        );
        drop(store);
        assert_eq!(
            names(&temp),
            Vec::<String>::new(),
            "a store takes its spares with it"
        );
    }

    #[test]
    fn a_move_never_replaces_a_file() {
        let d = tempfile::tempdir().unwrap();
        let (a, b) = (d.path().join("a.FS"), d.path().join("b.FS"));
        std::fs::write(&a, "$fax_phone 1\n").unwrap();
        std::fs::write(&b, "$fax_phone 2\n").unwrap();
        let e = rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        let e = rename_durable(&a, &b).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&a).unwrap(), b"$fax_phone 1\n");
        assert_eq!(std::fs::read(&b).unwrap(), b"$fax_phone 2\n");
        // To a free name: the next STEM_n.
        let sent = d.path().join("SENT");
        std::fs::create_dir(&sent).unwrap();
        std::fs::write(sent.join("b.FS"), "older").unwrap();
        let to = move_to_free_name(&b, &sent, "b.FS").unwrap();
        assert_eq!(to, sent.join("b_1.FS"));
        assert_eq!(std::fs::read(sent.join("b.FS")).unwrap(), b"older");
        assert_eq!(std::fs::read(&to).unwrap(), b"$fax_phone 2\n");
        assert!(!b.exists());
        // A vanished source is NotFound, as rename(2) says.
        let e = rename_noreplace(&d.path().join("gone.FS"), &d.path().join("x.FS")).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::NotFound);
    }

    /// Many movers racing for one name in one directory (nodes settling jobs of the same name
    /// into SENT): every job arrives under its own name, none is replaced. A check-then-rename
    /// (what `free_name` alone does) loses jobs here.
    #[test]
    fn racing_moves_to_one_name_lose_no_job() {
        let d = tempfile::tempdir().unwrap();
        let sent = d.path().join("SENT");
        std::fs::create_dir(&sent).unwrap();
        let (threads, each) = (4, 150);
        std::thread::scope(|scope| {
            for t in 0..threads {
                let (root, sent) = (d.path().to_path_buf(), sent.clone());
                scope.spawn(move || {
                    let mine = root.join(format!("ACTIVE{t}"));
                    std::fs::create_dir(&mine).unwrap();
                    for i in 0..each {
                        let job = mine.join("00000001.FS");
                        std::fs::write(&job, format!("{t} {i}\n")).unwrap();
                        move_to_free_name(&job, &sent, "00000001.FS").unwrap();
                    }
                });
            }
        });
        let mut got: Vec<String> = std::fs::read_dir(&sent)
            .unwrap()
            .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
            .collect();
        got.sort();
        got.dedup();
        assert_eq!(got.len(), threads * each);
    }

    #[test]
    fn atomic_write_and_free_names() {
        let d = tempfile::tempdir().unwrap();
        let t = d.path().join("TEMP");
        std::fs::create_dir(&t).unwrap();
        let target = d.path().join("1.FS");
        write_atomic(&t, ".n.", &target, b"$fax_phone 1\n").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"$fax_phone 1\n");
        assert_eq!(free_name(d.path(), "1.FS"), d.path().join("1_1.FS"));
        assert_eq!(free_name(d.path(), "2.FS"), d.path().join("2.FS"));
        assert_eq!(std::fs::read_dir(&t).unwrap().count(), 0);
        assert_eq!(list_jobs(d.path()).unwrap(), ["1.FS"]);
        assert!(list_jobs(&d.path().join("none")).unwrap().is_empty());
    }

    #[test]
    fn read_job_refuses_what_is_not_a_plain_file_without_blocking() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("x.FS");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        // With no writer, a blocking open would never return.
        assert!(matches!(read_job(&fifo), Err(ReadJobError::NotRegular(_))));
        std::fs::create_dir(d.path().join("d.FS")).unwrap();
        assert!(matches!(
            read_job(&d.path().join("d.FS")),
            Err(ReadJobError::NotRegular("a directory"))
        ));
        std::os::unix::fs::symlink("/etc/hostname", d.path().join("l.FS")).unwrap();
        assert!(matches!(
            read_job(&d.path().join("l.FS")),
            Err(ReadJobError::NotRegular("a symbolic link"))
        ));
        assert!(matches!(
            read_job(&d.path().join("none.FS")),
            Err(ReadJobError::Gone)
        ));
        assert!(matches!(
            read_job(Path::new("/dev/null")),
            Err(ReadJobError::NotRegular("a device"))
        ));
        std::fs::write(d.path().join("ok.FS"), b"$fax_phone 1\n").unwrap();
        assert_eq!(
            read_job(&d.path().join("ok.FS")).unwrap(),
            b"$fax_phone 1\n"
        );
    }

    /// A settled job's move owes its old directory one fsync: the next claim there (which
    /// fsyncs it anyway), the next result written there, or [`Store::pay_owed`] pays it, each
    /// on this thread's count of fsyncs; a debt whose fsync fails stays owed, and one of a
    /// directory that is gone is dropped.
    #[test]
    fn a_settled_move_owes_its_old_directory_one_fsync_until_paid() {
        let (dir, temp, jobs) = spool_dirs();
        let (queue, sent) = (dir.path().join("TOSEND"), dir.path().join("SENT"));
        std::fs::create_dir_all(&queue).unwrap();
        std::fs::create_dir_all(&sent).unwrap();
        let store = Store::new(temp.clone(), ".n1.");
        let settle = |n: &str| {
            let (job, to) = (jobs.join(n), sent.join(n));
            std::fs::write(&job, "$fax_phone 1\n").unwrap();
            let before = fsyncs_on_this_thread();
            let r = store.write_and_move_all(&[(&job, b"$fax_status1 6\n", &to)]);
            assert_eq!(r.len(), 1);
            assert_eq!(r[0].as_ref().unwrap(), &to);
            assert_eq!(std::fs::read(&to).unwrap(), b"$fax_status1 6\n");
            fsyncs_on_this_thread() - before
        };
        // The write: the file and ACTIVE; the move: SENT only.
        assert_eq!(settle("1.FS"), 3);
        assert_eq!(store.owes(), 1);
        // A claim into ACTIVE fsyncs it (and the queue): the debt goes with it.
        let next = jobs.join("2.FS");
        std::fs::write(&next, "$fax_phone 2\n").unwrap();
        let before = fsyncs_on_this_thread();
        let no_text = || -> Vec<u8> { panic!("a mark can be made here") };
        store
            .claim_dialling(Point::ClaimWrite, &next, 1, 0, no_text, &queue)
            .unwrap();
        assert_eq!(fsyncs_on_this_thread() - before, 2);
        assert_eq!(store.owes(), 0);
        // Owed again, then paid by a result written into ACTIVE (its fsync of the directory).
        assert_eq!(settle("3.FS"), 3);
        assert_eq!(store.owes(), 1);
        store.write(Point::ResultWrite, &next, b"$x\n").unwrap();
        assert_eq!(store.owes(), 0);
        // Owed, then paid on its own: one fsync, once.
        settle("4.FS");
        let before = fsyncs_on_this_thread();
        store.pay_owed().unwrap();
        store.pay_owed().unwrap();
        assert_eq!(fsyncs_on_this_thread() - before, 1);
        assert_eq!(store.owes(), 0);
        // A directory that cannot be opened keeps its debt (the error is returned); one that
        // is gone has nothing left to make durable.
        settle("5.FS");
        let kept = jobs.with_extension("kept");
        std::fs::rename(&jobs, &kept).unwrap();
        let _socket = std::os::unix::net::UnixListener::bind(&jobs).unwrap();
        assert!(store.pay_owed().is_err(), "a socket cannot be opened");
        assert_eq!(store.owes(), 1, "still owed");
        std::fs::remove_file(&jobs).unwrap();
        store.pay_owed().unwrap();
        assert_eq!(store.owes(), 0, "gone: dropped");
    }
}
