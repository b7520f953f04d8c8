//! The dialling mark: how a node says, durably and without rewriting the job, that a claimed
//! job's call may be under way.
//!
//! A mark is a hard link of the claimed job in the node's own directory, named
//! `.<job>~L<line>~Q<queue>`: the line the call is placed on and the queue the job came from.
//! It is made after the claim's rename and before the call; the one fsync of `ACTIVE/<node>/`
//! the claim needs anyway makes both durable (a link and a rename in one directory), so a call
//! costs no write of the job's bytes before it is placed. The job's result replaces the job's
//! inode, so from then on the mark names an older inode: a mark says "dialling" only while it
//! and the job are the same inode (the same device and inode number). A mark that names
//! another inode, or no job, is stale: recovery removes it. While a mark exists its inode has
//! two links, so the store never reuses it as a spare (see `store`).
//!
//! Owns the mark's name, making, reading and removal. It never decides what a mark means for
//! a job's attempts (that is recovery's) and never fsyncs (the caller's claim does).

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// One mark found in a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    /// The mark's own path.
    pub path: PathBuf,
    /// The job's file name.
    pub job: String,
    /// The line the call was placed on.
    pub line: u32,
    /// The queue the job was claimed from.
    pub queue: u8,
}

/// The mark's file name for `job` dialled on `line`, claimed from `queue`.
pub fn mark_name(job: &str, line: u32, queue: u8) -> String {
    format!(".{job}~L{line}~Q{queue}")
}

/// Reads a mark's file name back: `(job, line, queue)`; `None` for any other name.
pub fn parse_name(name: &str) -> Option<(&str, u32, u8)> {
    let rest = name.strip_prefix('.')?;
    let (rest, queue) = rest.rsplit_once("~Q")?;
    let (job, line) = rest.rsplit_once("~L")?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 10 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(line) || !digits(queue) || !super::is_job_name(job) {
        return None;
    }
    Some((job, line.parse().ok()?, queue.parse().ok()?))
}

/// Marks the job at `job` as dialling on `line`, claimed from `queue`: a hard link beside it.
/// A mark of the same name left from an earlier claim (stale: the job was claimed again) is
/// replaced. Not durable until the directory is fsynced. Errors as `link(2)` gives them:
/// `EPERM` where the job is another user's and `fs.protected_hardlinks` forbids the link,
/// `EOPNOTSUPP`/`EMLINK` where the file system has no (more) hard links.
///
/// A mark that does not read back as the job's inode (a FUSE mount such as sshfs without
/// `use_ino` numbers each name on its own) could never be told live at recovery: it is removed
/// and the call refused with `EOPNOTSUPP`, as on a file system without hard links.
pub fn make(job: &Path, line: u32, queue: u8) -> io::Result<PathBuf> {
    let name = job
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "job name is not UTF-8"))?;
    let mark = job.with_file_name(mark_name(name, line, queue));
    match std::fs::hard_link(job, &mark) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&mark)?;
            std::fs::hard_link(job, &mark)?;
        }
        Err(e) => return Err(e),
    }
    if !is_live(&mark, job) {
        let _ = remove(&mark);
        return Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP));
    }
    Ok(mark)
}

/// Whether `mark` and `job` are one inode: the call the mark announced may still be under way
/// (its result has not replaced the job).
pub fn is_live(mark: &Path, job: &Path) -> bool {
    match (
        std::fs::symlink_metadata(mark),
        std::fs::symlink_metadata(job),
    ) {
        (Ok(m), Ok(j)) => m.is_file() && super::store::same_inode(&m, &j),
        _ => false,
    }
}

/// Removes a mark; one already gone is no error.
pub fn remove(mark: &Path) -> io::Result<()> {
    match std::fs::remove_file(mark) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Every mark directly in `dir`, by job name (a job may have more than one: a stale one of
/// another line or queue beside the live one). A missing directory has none.
pub fn marks_in(dir: &Path) -> HashMap<String, Vec<Mark>> {
    let mut out: HashMap<String, Vec<Mark>> = HashMap::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let file_name = e.file_name();
        let Some(name) = file_name.to_str() else {
            continue;
        };
        if let Some((job, line, queue)) = parse_name(name) {
            out.entry(job.to_string()).or_default().push(Mark {
                path: e.path(),
                job: job.to_string(),
                line,
                queue,
            });
        }
    }
    out
}

/// The live mark of the job at `job` (see [`is_live`]), looking through its directory.
pub fn live_mark(job: &Path) -> Option<Mark> {
    let name = job.file_name()?.to_str()?;
    let dir = job.parent()?;
    marks_in(dir)
        .remove(name)?
        .into_iter()
        .find(|m| is_live(&m.path, job))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mark_name_reads_back_and_nothing_else_reads_as_one() {
        let n = mark_name("00000012.FS", 7, 3);
        assert_eq!(n, ".00000012.FS~L7~Q3");
        assert_eq!(parse_name(&n), Some(("00000012.FS", 7, 3)));
        // A job name with the separators in it still reads back from the right.
        let n = mark_name("a~L1~Qx.FS", 24, 0);
        assert_eq!(parse_name(&n), Some(("a~L1~Qx.FS", 24, 0)));
        for other in [
            "00000012.FS",
            ".00000012.FS",
            ".00000012.FS~L7",
            ".00000012.FS~L~Q3",
            ".00000012.FS~L7~Q",
            ".00000012.FS~L7~Q300",
            ".00000012.FS~Lx~Q3",
            ".notajob~L7~Q3",
            ".takeover-b-1700000000000",
            ".bench.spare.0",
        ] {
            assert_eq!(parse_name(other), None, "{other}");
        }
    }

    #[test]
    fn a_mark_is_live_until_the_job_is_replaced_and_a_stale_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let job = dir.path().join("5.FS");
        std::fs::write(&job, "$fax_phone 1\n").unwrap();
        let mark = make(&job, 2, 1).unwrap();
        assert!(is_live(&mark, &job));
        assert_eq!(
            live_mark(&job),
            Some(Mark {
                path: mark.clone(),
                job: "5.FS".into(),
                line: 2,
                queue: 1
            })
        );
        // The result replaces the job's inode: the mark is stale.
        let tmp = dir.path().join("tmp");
        std::fs::write(&tmp, "$fax_phone 1\n$fax_status1 6\n").unwrap();
        std::fs::rename(&tmp, &job).unwrap();
        assert!(!is_live(&mark, &job));
        assert_eq!(live_mark(&job), None);
        // Claimed again: the stale mark of the same name gives way.
        let again = make(&job, 2, 1).unwrap();
        assert_eq!(again, mark);
        assert!(is_live(&mark, &job));
        remove(&mark).unwrap();
        remove(&mark).unwrap();
        assert!(!is_live(&mark, &job));
        assert!(marks_in(dir.path()).is_empty());
        assert!(marks_in(&dir.path().join("missing")).is_empty());
    }
}
