//! The index snapshot: a node's index of queued jobs saved to `ACTIVE/<node>.index`, so a
//! restart with a million queued jobs reads one file and stats each job instead of parsing
//! each one.
//!
//! Owns the file format and its checks only. A snapshot is a hint, never the truth: each entry
//! carries its file's [`stamp`](super::store::stamp) (inode, size, times), and the daemon reads
//! again every file whose stamp differs, is missing from the snapshot, or is new; files gone
//! are dropped. A snapshot is used only when the configuration it was computed under (the CFG
//! and every USR profile its jobs used, by stamp) is unchanged, its checksum holds, and it was
//! written by this format version; otherwise the daemon builds its index from the files, as
//! without one. It never decides a job's fate: the claim re-reads the file and checks its time
//! and windows again.
//!
//! Format (little-endian): `REDIALIX`, version u32, dependency count u32 and per dependency a
//! path (u16 length + bytes) and its stamp u64; group count u32 and each group (u16 length +
//! bytes); entry count u64 and per entry queue u8, name (u8 length + bytes), stamp u64, due
//! i64, group u32, destination hash u64, wait kind u8 and wait instant i64; then an FNV-1a sum of
//! everything before it.

use super::index::{Entry, Index, Wait};
use super::JobName;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 8] = b"REDIALIX";
const VERSION: u32 = 1;

/// Why a snapshot was not used (logged; the index is then built from the files).
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// No snapshot, or it cannot be read.
    #[error("cannot read the snapshot: {0}")]
    Io(#[from] io::Error),
    /// Not a snapshot of this version, or damaged.
    #[error("the snapshot is damaged or of another version: {0}")]
    Format(&'static str),
    /// The CFG or a USR profile changed since it was written: due times may differ.
    #[error("{0} changed since the snapshot was written")]
    Stale(String),
}

/// FNV-1a over bytes: the same sum however the stream is cut into writes and reads.
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    fn finish(self) -> u64 {
        self.0
    }
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    inner: W,
    hash: Fnv,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.write(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that hashes what passes through it.
struct Checked<R> {
    inner: R,
    hash: Fnv,
}

impl<R: Read> Checked<R> {
    fn bytes<const N: usize>(&mut self) -> io::Result<[u8; N]> {
        let mut b = [0u8; N];
        self.inner.read_exact(&mut b)?;
        self.hash.write(&b);
        Ok(b)
    }
    fn vec(&mut self, n: usize) -> io::Result<Vec<u8>> {
        let mut b = vec![0u8; n];
        self.inner.read_exact(&mut b)?;
        self.hash.write(&b);
        Ok(b)
    }
    fn u8(&mut self) -> io::Result<u8> {
        Ok(self.bytes::<1>()?[0])
    }
    fn u16(&mut self) -> io::Result<u16> {
        Ok(u16::from_le_bytes(self.bytes()?))
    }
    fn u32(&mut self) -> io::Result<u32> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }
    fn u64(&mut self) -> io::Result<u64> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }
    fn i64(&mut self) -> io::Result<i64> {
        Ok(i64::from_le_bytes(self.bytes()?))
    }
    fn text(&mut self, len: usize) -> Result<String, SnapshotError> {
        String::from_utf8(self.vec(len)?).map_err(|_| SnapshotError::Format("a name is not UTF-8"))
    }
}

/// Writes `index` (every queue in `queues`) with the stamps of `deps` to `target`, through a
/// temporary file in `temp_dir` renamed into place (a reader sees the old or the new file).
pub fn write(
    temp_dir: &Path,
    prefix: &str,
    target: &Path,
    deps: &[(PathBuf, u64)],
    index: &Index,
    queues: &[u8],
) -> io::Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix(prefix)
        .suffix(".tmp")
        .tempfile_in(temp_dir)?;
    let mut w = Hashing {
        inner: BufWriter::with_capacity(1 << 16, tmp.as_file()),
        hash: Fnv::default(),
    };
    w.write_all(MAGIC)?;
    w.write_all(&VERSION.to_le_bytes())?;
    w.write_all(&(deps.len() as u32).to_le_bytes())?;
    for (path, stamp) in deps {
        let p = path.to_string_lossy();
        let p = &p.as_bytes()[..p.len().min(u16::MAX as usize)];
        w.write_all(&(p.len() as u16).to_le_bytes())?;
        w.write_all(p)?;
        w.write_all(&stamp.to_le_bytes())?;
    }
    let groups = index.groups();
    w.write_all(&(groups.len() as u32).to_le_bytes())?;
    for g in groups {
        let b = &g.as_bytes()[..g.len().min(u16::MAX as usize)];
        w.write_all(&(b.len() as u16).to_le_bytes())?;
        w.write_all(b)?;
    }
    let count: usize = queues.iter().map(|&q| index.entries(q).count()).sum();
    w.write_all(&(count as u64).to_le_bytes())?;
    for &q in queues {
        for (name, e) in index.entries(q) {
            let n = name.as_str().as_bytes();
            if n.len() > u8::MAX as usize {
                // Not kept: the daemon reads such a job again at the next start.
                continue;
            }
            w.write_all(&[q, n.len() as u8])?;
            w.write_all(n)?;
            w.write_all(&e.stamp.to_le_bytes())?;
            w.write_all(&e.due.to_le_bytes())?;
            w.write_all(&e.group.to_le_bytes())?;
            w.write_all(&e.dest.to_le_bytes())?;
            let (kind, at) = match e.wait {
                Wait::Nothing => (0u8, 0i64),
                Wait::Retry(t) => (1, t),
                Wait::Send(t) => (2, t),
            };
            w.write_all(&[kind])?;
            w.write_all(&at.to_le_bytes())?;
        }
    }
    let sum = w.hash.finish();
    w.inner.write_all(&sum.to_le_bytes())?;
    w.inner.flush()?;
    drop(w);
    tmp.persist(target).map_err(|e| e.error)?;
    Ok(())
}

/// Reads the snapshot at `path` into `index` (which must be empty), after checking each
/// dependency's stamp with `stamp_of`; every entry must belong to one of `queues` (the node's).
/// Entries due by `now` (unix ms) are ready at once. Returns how many entries it holds. On any
/// error the index is left empty.
pub fn load(
    path: &Path,
    index: &mut Index,
    queues: &[u8],
    now: i64,
    stamp_of: impl Fn(&Path) -> Option<u64>,
) -> Result<usize, SnapshotError> {
    let r = load_into(path, index, queues, now, stamp_of);
    if r.is_err() {
        *index = Index::new();
    }
    r
}

fn load_into(
    path: &Path,
    index: &mut Index,
    queues: &[u8],
    now: i64,
    stamp_of: impl Fn(&Path) -> Option<u64>,
) -> Result<usize, SnapshotError> {
    let f = std::fs::File::open(path)?;
    let size = f.metadata()?.len();
    let mut r = Checked {
        inner: BufReader::with_capacity(1 << 16, f),
        hash: Fnv::default(),
    };
    if &r.bytes::<8>()? != MAGIC {
        return Err(SnapshotError::Format("not an index snapshot"));
    }
    if r.u32()? != VERSION {
        return Err(SnapshotError::Format("another format version"));
    }
    let deps = r.u32()?;
    for _ in 0..deps {
        let len = r.u16()? as usize;
        let p = PathBuf::from(r.text(len)?);
        let stamp = r.u64()?;
        // A file missing then and now has stamp 0 both times.
        if stamp_of(&p).unwrap_or(0) != stamp {
            return Err(SnapshotError::Stale(p.display().to_string()));
        }
    }
    let groups = r.u32()?;
    let mut ids = Vec::with_capacity(groups.min(1 << 16) as usize);
    for _ in 0..groups {
        let len = r.u16()? as usize;
        let g = r.text(len)?;
        ids.push(index.group_id(&g));
    }
    let count = r.u64()?;
    // An entry takes at least 39 bytes: a count beyond the file's size is damage.
    if count > size / 39 {
        return Err(SnapshotError::Format("entry count beyond the file's size"));
    }
    // Entries come queue by queue; each queue is loaded whole (see `Index::load_queue`).
    let mut run: Vec<(JobName, Entry)> = Vec::new();
    let mut run_queue = None;
    let mut loaded = std::collections::HashSet::new();
    for _ in 0..count {
        let q = r.u8()?;
        if !queues.contains(&q) {
            return Err(SnapshotError::Format(
                "an entry of a queue this node does not serve",
            ));
        }
        if run_queue != Some(q) {
            if let Some(prev) = run_queue {
                index.load_queue(prev, std::mem::take(&mut run), now);
            }
            if !loaded.insert(q) {
                return Err(SnapshotError::Format("a queue's entries are not together"));
            }
            run_queue = Some(q);
        }
        let len = r.u8()? as usize;
        let name = r.text(len)?;
        if !super::is_job_name(&name) || name.contains('/') {
            return Err(SnapshotError::Format("an entry is not a job name"));
        }
        let stamp = r.u64()?;
        let due = r.i64()?;
        let group = r.u32()?;
        let dest = r.u64()?;
        let kind = r.u8()?;
        let at = r.i64()?;
        let group = *ids
            .get(group as usize)
            .ok_or(SnapshotError::Format("an entry names no group"))?;
        let wait = match kind {
            0 => Wait::Nothing,
            1 => Wait::Retry(at),
            2 => Wait::Send(at),
            _ => return Err(SnapshotError::Format("an unknown wait kind")),
        };
        run.push((
            JobName::new(&name),
            Entry {
                due,
                group,
                dest,
                wait,
                stamp,
            },
        ));
    }
    if let Some(q) = run_queue {
        index.load_queue(q, run, now);
    }
    let want = r.hash.finish();
    let mut sum = [0u8; 8];
    r.inner.read_exact(&mut sum)?;
    if u64::from_le_bytes(sum) != want {
        return Err(SnapshotError::Format("checksum mismatch"));
    }
    Ok(count as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(index: &mut Index, due: i64, group: &str, stamp: u64) -> Entry {
        Entry {
            due,
            group: index.group_id(group),
            dest: 7,
            wait: Wait::Retry(due - 5),
            stamp,
        }
    }

    fn sample() -> Index {
        let mut ix = Index::new();
        let a = entry(&mut ix, 1_000, "*", 11);
        let b = entry(&mut ix, 2_000, "fax", 22);
        ix.upsert(0, JobName::new("1.FS"), a);
        ix.upsert(2, JobName::new("x y.FS"), b);
        ix
    }

    fn dump(ix: &Index) -> Vec<(u8, String, i64, String, u64, u64, Wait)> {
        let mut v: Vec<_> = [0u8, 1, 2]
            .iter()
            .flat_map(|&q| {
                ix.entries(q).map(move |(n, e)| {
                    (
                        q,
                        n.to_string(),
                        e.due,
                        ix.group(e.group).to_string(),
                        e.dest,
                        e.stamp,
                        e.wait,
                    )
                })
            })
            .collect();
        v.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        v
    }

    #[test]
    fn round_trips_and_checks_its_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("n.index");
        let cfg = dir.path().join("redial.cfg");
        let ix = sample();
        let deps = vec![(cfg.clone(), 99)];
        write(dir.path(), ".s.", &target, &deps, &ix, &[0, 1, 2]).unwrap();
        let mut back = Index::new();
        let n = load(&target, &mut back, &[0, 1, 2], 0, |p| {
            (p == cfg).then_some(99)
        })
        .unwrap();
        assert_eq!(n, 2);
        assert_eq!(dump(&back), dump(&ix));
        let mut other = Index::new();
        let e = load(&target, &mut other, &[0, 1], 0, |p| {
            (p == cfg).then_some(99)
        })
        .unwrap_err();
        assert!(matches!(e, SnapshotError::Format(_)), "{e}");
        assert!(other.is_empty());
        let mut stale = Index::new();
        let e = load(&target, &mut stale, &[0, 1, 2], 0, |_| Some(98)).unwrap_err();
        assert!(matches!(e, SnapshotError::Stale(_)), "{e}");
        assert!(stale.is_empty());
    }

    #[test]
    fn any_damage_is_refused_and_leaves_the_index_empty() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("n.index");
        write(dir.path(), ".s.", &target, &[], &sample(), &[0, 1, 2]).unwrap();
        let good = std::fs::read(&target).unwrap();
        for at in (0..good.len()).step_by(3) {
            let mut bad = good.clone();
            bad[at] ^= 0x5a;
            std::fs::write(&target, &bad).unwrap();
            let mut ix = Index::new();
            assert!(
                load(&target, &mut ix, &[0, 1, 2], 0, |_| None).is_err(),
                "flip at {at}"
            );
            assert!(ix.is_empty());
        }
        for cut in [0, 8, good.len() / 2, good.len() - 1] {
            std::fs::write(&target, &good[..cut]).unwrap();
            let mut ix = Index::new();
            assert!(
                load(&target, &mut ix, &[0, 1, 2], 0, |_| None).is_err(),
                "cut at {cut}"
            );
        }
    }
}
