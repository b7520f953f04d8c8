//! The spool on disk: the request directory's layout, job names and their FIFO order.
//!
//! Owns where things live (`TOSEND`, `TOSEND1`…`TOSENDn`, `SENT`, `FAIL`, `ACTIVE/<node>/`,
//! `TEMP`, lease files, the do-not-call list [`dnc`] and the daily counts [`counts`]) and the
//! durable primitives that move jobs between them ([`store`]).
//! The in-memory picture of the queues is [`index`], fed by [`watch`] and by scans. This module
//! never decides anything about a job's retries: that is the engine's.

pub mod claim;
pub mod counts;
pub mod destlock;
pub mod dialling;
pub mod dnc;
pub mod docroot;
pub mod index;
pub mod lease;
pub mod pathmap;
pub mod progress;
pub mod report;
pub mod rewrite;
pub mod shared;
pub mod snapshot;
pub mod store;
pub mod summary;
pub mod watch;

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

/// The directories of one request directory.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The request directory (`$request_dir`).
    pub root: PathBuf,
    /// The highest numbered queue (`$request_dir DIR n`; default 9, at most 99).
    pub max_queue: u8,
}

/// Where a job file is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// A TOSEND queue.
    Queue(u8),
    /// In progress on a node.
    Active(String),
    /// Done.
    Sent,
    /// Failed.
    Fail,
}

impl Layout {
    /// A layout rooted at `root`.
    pub fn new(root: impl Into<PathBuf>, max_queue: u8) -> Layout {
        Layout {
            root: root.into(),
            max_queue: max_queue.min(99),
        }
    }

    /// `TOSEND` for 0, else `TOSENDn`.
    pub fn queue_dir(&self, q: u8) -> PathBuf {
        self.root.join(queue_name(q))
    }
    /// `SENT`.
    pub fn sent(&self) -> PathBuf {
        self.root.join("SENT")
    }
    /// `FAIL`.
    pub fn fail(&self) -> PathBuf {
        self.root.join("FAIL")
    }
    /// `TEMP`: temporary files, on the spool's file system so renames stay atomic.
    pub fn temp(&self) -> PathBuf {
        self.root.join("TEMP")
    }
    /// `ACTIVE`.
    pub fn active_root(&self) -> PathBuf {
        self.root.join("ACTIVE")
    }
    /// `ACTIVE/<node>`: the jobs a node has claimed.
    pub fn active(&self, node: &str) -> PathBuf {
        self.active_root().join(node)
    }
    /// `ACTIVE/<node>.lease`: the node's lease (renewed while it runs).
    pub fn lease(&self, node: &str) -> PathBuf {
        self.active_root().join(format!("{node}.lease"))
    }
    /// `ACTIVE/<node>.lock`: held (flock) by the one process running as that node.
    pub fn lock(&self, node: &str) -> PathBuf {
        self.active_root().join(format!("{node}.lock"))
    }
    /// `ACTIVE/<node>.index`: the node's index snapshot (see [`snapshot`]).
    pub fn index_snapshot(&self, node: &str) -> PathBuf {
        self.active_root().join(format!("{node}.index"))
    }
    /// `ACTIVE/<node>.journal`: results the spool refused, kept for recovery.
    pub fn journal(&self, node: &str) -> PathBuf {
        self.active_root().join(format!("{node}.journal"))
    }
    /// `LATE`: results of calls a node finished after it had lost its lease (late reports),
    /// waiting to be written into their jobs by whichever node handles each job next.
    pub fn late(&self) -> PathBuf {
        self.root.join("LATE")
    }
    /// `LOG`: the session logs of modem calls, `LOG/<job stem>.<n>.log` for the job's `n`-th
    /// attempt record (`redial report JOB --log N`).
    pub fn session_log(&self, job: &str, n: usize) -> PathBuf {
        let stem = job.rsplit_once('.').map_or(job, |(s, _)| s);
        self.root.join("LOG").join(format!("{stem}.{n}.log"))
    }
    /// Queue numbers, `0..=max_queue`.
    pub fn queues(&self) -> impl Iterator<Item = u8> {
        0..=self.max_queue
    }

    /// Creates every directory (and `ACTIVE/<node>` when a node is given).
    pub fn create(&self, node: Option<&str>) -> std::io::Result<()> {
        for q in self.queues() {
            std::fs::create_dir_all(self.queue_dir(q))?;
        }
        for d in [
            self.sent(),
            self.fail(),
            self.temp(),
            self.active_root(),
            self.late(),
        ] {
            std::fs::create_dir_all(d)?;
        }
        if let Some(n) = node {
            std::fs::create_dir_all(self.active(n))?;
        }
        Ok(())
    }

    /// Which spool directory `path` is directly inside, if any.
    pub fn place_of(&self, path: &Path) -> Option<Place> {
        let dir = path.parent()?;
        let name = dir.file_name()?.to_str()?;
        let parent = dir.parent()?;
        if parent == self.root {
            if let Some(q) = crate::load::queue_number(name).filter(|q| *q <= self.max_queue) {
                if name == queue_name(q) {
                    return Some(Place::Queue(q));
                }
            }
            return match name {
                "SENT" => Some(Place::Sent),
                "FAIL" => Some(Place::Fail),
                _ => None,
            };
        }
        (parent == self.active_root()).then(|| Place::Active(name.to_string()))
    }
}

/// The folder name of queue `q`.
pub fn queue_name(q: u8) -> String {
    if q == 0 {
        "TOSEND".to_string()
    } else {
        format!("TOSEND{q}")
    }
}

/// Whether a directory entry is a job: `NAME.FS` (any case), not hidden, not a temp name.
pub fn is_job_name(name: &str) -> bool {
    name.len() > 3
        && !name.starts_with('.')
        && name.is_char_boundary(name.len() - 3)
        && name[name.len() - 3..].eq_ignore_ascii_case(".FS")
}

/// A job's file name, ordered FIFO as CopiaFacts does: numeric names by value (so `9.FS`
/// before `10.FS`), then other names by byte order. The order's key is computed once: the
/// index compares names in every lookup of its B-trees.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JobName {
    /// The numeric stem's value; [`HUGE`] for a numeric stem beyond it, [`TEXT`] for others.
    key: u64,
    name: smol_str::SmolStr,
}

/// [`JobName`] key of a numeric stem too large for the key itself.
const HUGE: u64 = u64::MAX - 1;
/// [`JobName`] key of a stem that is not a number.
const TEXT: u64 = u64::MAX;

impl JobName {
    /// Wraps a file name.
    pub fn new(s: &str) -> JobName {
        let stem = s.split('.').next().unwrap_or(s);
        let key = if !stem.is_empty() && stem.bytes().all(|c| c.is_ascii_digit()) {
            stem.parse::<u64>()
                .ok()
                .filter(|v| *v < HUGE)
                .unwrap_or(HUGE)
        } else {
            TEXT
        };
        JobName {
            key,
            name: smol_str::SmolStr::new(s),
        }
    }
    /// The file name.
    pub fn as_str(&self) -> &str {
        &self.name
    }
    fn stem(&self) -> &str {
        self.name.split('.').next().unwrap_or(&self.name)
    }
}

impl std::fmt::Display for JobName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name)
    }
}

impl Ord for JobName {
    fn cmp(&self, other: &Self) -> Ordering {
        match self.key.cmp(&other.key) {
            Ordering::Equal if self.key == HUGE => self.cmp_by_text(other),
            Ordering::Equal => self.name.cmp(&other.name),
            o => o,
        }
    }
}

impl JobName {
    /// The order by the names themselves (the rule the key stands for).
    fn cmp_by_text(&self, other: &Self) -> Ordering {
        let (a, b) = (self.stem(), other.stem());
        let num = |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_digit());
        match (num(a), num(b)) {
            (true, true) => {
                let (ta, tb) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
                ta.len()
                    .cmp(&tb.len())
                    .then_with(|| ta.cmp(tb))
                    .then_with(|| self.name.cmp(&other.name))
            }
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => self.name.cmp(&other.name),
        }
    }
}

impl PartialOrd for JobName {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_is_numeric_then_text() {
        let mut v: Vec<JobName> = ["10.FS", "9.FS", "b.FS", "00000002.FS", "a.FS", "0011.FS"]
            .iter()
            .map(|s| JobName::new(s))
            .collect();
        v.sort();
        let s: Vec<&str> = v.iter().map(JobName::as_str).collect();
        assert_eq!(
            s,
            ["00000002.FS", "9.FS", "10.FS", "0011.FS", "a.FS", "b.FS"]
        );
    }

    #[test]
    fn the_cached_key_orders_as_the_names_do() {
        let names = [
            "0.FS",
            "00.FS",
            "7.FS",
            "007.FS",
            "18446744073709551613.FS",
            "18446744073709551614.FS",
            "18446744073709551615.FS",
            "99999999999999999999999.FS",
            "0099999999999999999999999.FS",
            "100000000000000000000000.FS",
            "12a.FS",
            "a.FS",
            ".FS",
            "-1.FS",
            "é.FS",
        ];
        let v: Vec<JobName> = names.iter().map(|s| JobName::new(s)).collect();
        for a in &v {
            for b in &v {
                assert_eq!(a.cmp(b), a.cmp_by_text(b), "{a} vs {b}");
            }
        }
    }

    #[test]
    fn job_names_and_places() {
        assert!(is_job_name("1.FS") && is_job_name("x.fs"));
        for bad in [".1.FS", "1.TFS", "1.FS.err", "FS", "1.FSX"] {
            assert!(!is_job_name(bad), "{bad}");
        }
        let l = Layout::new("/s", 3);
        assert_eq!(
            l.place_of(Path::new("/s/TOSEND2/1.FS")),
            Some(Place::Queue(2))
        );
        assert_eq!(l.place_of(Path::new("/s/TOSEND4/1.FS")), None);
        assert_eq!(l.place_of(Path::new("/s/TOSEND02/1.FS")), None);
        assert_eq!(l.place_of(Path::new("/s/FAIL/1.FS")), Some(Place::Fail));
        assert_eq!(
            l.place_of(Path::new("/s/ACTIVE/n1/1.FS")),
            Some(Place::Active("n1".into()))
        );
    }
}
