//! The console's catalogue: one compact row per job file in the spool (queues, every node's
//! ACTIVE directory, SENT, FAIL), kept in memory by the web server and brought up to date
//! incrementally, so the overview and the jobs page answer from memory at 100,000 jobs.
//!
//! How it stays current without reading every file per request: at most once per
//! [`REFRESH_EVERY`], each spool directory's modification time is compared with the one seen
//! last; a directory that did not change (and did not change in the last
//! [`SETTLE`], which covers file systems whose directory times are coarse) is not even listed.
//! A directory that changed is listed, and only the files whose [`stamp`](store::stamp) (inode,
//! size, times) differs from the one read before are read and parsed again; files gone are
//! dropped. Job files are replaced by rename, so a new stamp is a new version. SENT and FAIL,
//! where a file arrives by rename and is not rewritten in place, are compared by the inode the
//! directory listing gives (no `stat` per file: 70,000 of them cost a quarter of a second);
//! every [`FULL_CHECK_EVERY`] every directory is listed and every file's stamp compared.
//!
//! Owns the rows and their refresh. It never writes or moves a file and never decides a job's
//! fate; a queued job's standing (due, held by a window, waiting, scheduled, held for good) is
//! the one [`report::queued_state_of`] gives when the file was read, and a time it names that
//! has passed counts as due.

use crate::load::SystemConfig;
use crate::ops::eligibility::Newest;
use crate::ops::scan::{last_table_class, view_of};
use crate::spool::report::{self, QueuedState, Standing};
use crate::spool::{lease, store, Layout, Place};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The shortest time between two refreshes: requests in between answer from memory.
pub const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// A directory whose modification time is younger than this is listed again even when the time
/// did not change (a time of coarse granularity may hide a second change).
pub const SETTLE: Duration = Duration::from_secs(2);

/// How often every directory is listed and every file's whole stamp compared, whatever the
/// directories' times say.
pub const FULL_CHECK_EVERY: Duration = Duration::from_secs(30);

/// The four states of the jobs page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// In a TOSEND queue.
    Queued,
    /// In a node's ACTIVE directory.
    InProgress,
    /// In SENT.
    Sent,
    /// In FAIL.
    Failed,
}

impl JobState {
    /// Every state, in the page's order.
    pub const ALL: [JobState; 4] = [
        JobState::Queued,
        JobState::InProgress,
        JobState::Sent,
        JobState::Failed,
    ];
    /// The name in query strings and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::InProgress => "in_progress",
            JobState::Sent => "sent",
            JobState::Failed => "failed",
        }
    }
    /// Reads a name (`in-progress` and `active` too; SENT and FAIL as the folders are named).
    pub fn parse(s: &str) -> Option<JobState> {
        match s.trim().to_ascii_lowercase().as_str() {
            "queued" | "queue" | "tosend" => Some(JobState::Queued),
            "in_progress" | "in-progress" | "active" => Some(JobState::InProgress),
            "sent" => Some(JobState::Sent),
            "failed" | "fail" => Some(JobState::Failed),
            _ => None,
        }
    }
}

/// One job as the console lists it.
#[derive(Debug, Clone)]
pub struct Row {
    /// File name.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    /// Its state.
    pub state: JobState,
    /// Where it is (`Q1`, `ACTIVE/n1`, `SENT`, `FAIL`).
    pub place: String,
    /// The queue it is in (queued) or came from.
    pub queue: u8,
    /// Number or address (empty when the file names none or cannot be read).
    pub destination: String,
    /// Normalised destination.
    pub dest_key: String,
    /// Last outcome code.
    pub code: Option<u32>,
    /// Its class in the outcome table.
    pub class: Option<char>,
    /// Its description.
    pub description: String,
    /// Attempts recorded.
    pub attempts: usize,
    /// Start of the last attempt.
    pub last_attempt: Option<DateTime<Utc>>,
    /// End of the last attempt.
    pub last_end: Option<DateTime<Utc>>,
    /// The file's modification time.
    pub changed: DateTime<Utc>,
    /// What "a newer job to the destination" compares: the first attempt's start, else the
    /// file's modification time ([`crate::ops::scan::JobView::age`]).
    pub age: DateTime<Utc>,
    /// What the list sorts by and the date range selects on: the last attempt's start, else
    /// the file's modification time.
    pub when: DateTime<Utc>,
    /// A queued job's standing when its file was read.
    pub standing: Option<QueuedState>,
    /// Why it failed, why it is held, or why the file cannot be read.
    pub reason: String,
    /// Lower-case text the search looks in (name, destination, outcome, reason).
    pub haystack: String,
    /// The name as the list orders names (numerically), computed once.
    order: crate::spool::JobName,
}

/// A queued job's standing at `now` (a time that has passed counts as due).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueuedNow {
    /// May start now.
    Due,
    /// Held by a window until then.
    Held(DateTime<Utc>),
    /// Waiting for its retry time.
    WaitingRetry(DateTime<Utc>),
    /// Waiting for its send time.
    Scheduled(DateTime<Utc>),
    /// Held until an operator or the CFG changes something.
    HeldForGood(String),
    /// No start is possible (the daemon fails it).
    NoStart(String),
}

impl Row {
    /// The standing of a queued job at `now`; `None` for other states.
    pub fn standing_at(&self, now: DateTime<Utc>) -> Option<QueuedNow> {
        if self.state != JobState::Queued {
            return None;
        }
        let wait = |t: DateTime<Utc>, f: fn(DateTime<Utc>) -> QueuedNow| {
            if t <= now {
                QueuedNow::Due
            } else {
                f(t)
            }
        };
        Some(match &self.standing {
            None | Some(QueuedState::Standing(Standing::Due)) => QueuedNow::Due,
            Some(QueuedState::Standing(Standing::Held(t))) => wait(*t, QueuedNow::Held),
            Some(QueuedState::Standing(Standing::WaitingRetry(t))) => {
                wait(*t, QueuedNow::WaitingRetry)
            }
            Some(QueuedState::Standing(Standing::Scheduled(t))) => wait(*t, QueuedNow::Scheduled),
            Some(QueuedState::HeldForGood(r)) => QueuedNow::HeldForGood(r.clone()),
            Some(QueuedState::NoStart(r)) => QueuedNow::NoStart(r.clone()),
        })
    }
}

struct Seen {
    ino: u64,
    stamp: u64,
    row: Arc<Row>,
}

struct DirCache {
    mtime: Option<SystemTime>,
    files: HashMap<String, Seen>,
}

#[derive(Default)]
struct Inner {
    dirs: HashMap<PathBuf, DirCache>,
    sorted: Arc<Vec<Arc<Row>>>,
    /// The newest-job index of `sorted`, built on first asking after each change.
    newest: Option<Arc<Newest>>,
    refreshed: Option<Instant>,
    full_checked: Option<Instant>,
}

/// The job files in `dir` with their inodes (from the listing: no `stat`).
fn list(dir: &std::path::Path) -> Vec<(String, u64)> {
    use std::os::unix::fs::DirEntryExt;
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            crate::spool::is_job_name(&name).then(|| (name, e.ino()))
        })
        .collect()
}

/// The catalogue (shared by requests).
#[derive(Default)]
pub struct Catalogue {
    inner: Mutex<Inner>,
}

impl Catalogue {
    /// Every job, newest first (by [`Row::when`], then by name), refreshed first when the last
    /// refresh is older than [`REFRESH_EVERY`].
    pub fn rows(
        &self,
        layout: &Layout,
        sys: &SystemConfig,
        now: DateTime<Utc>,
    ) -> Arc<Vec<Arc<Row>>> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.refreshed.is_none_or(|t| t.elapsed() >= REFRESH_EVERY) {
            refresh(&mut inner, layout, sys, now);
            inner.refreshed = Some(Instant::now());
        }
        inner.sorted.clone()
    }

    /// [`Catalogue::rows`], with the newest job per destination among them (for a failed
    /// job's "a newer job to this number" check). The index is built once per change of the
    /// catalogue, not per request.
    pub fn rows_and_newest(
        &self,
        layout: &Layout,
        sys: &SystemConfig,
        now: DateTime<Utc>,
    ) -> (Arc<Vec<Arc<Row>>>, Arc<Newest>) {
        let rows = self.rows(layout, sys, now);
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if !Arc::ptr_eq(&rows, &inner.sorted) {
            // Refreshed by another request in between: index what this one got.
            return (rows.clone(), Arc::new(newest_of(&rows)));
        }
        let newest = inner
            .newest
            .get_or_insert_with(|| Arc::new(newest_of(&rows)))
            .clone();
        (rows, newest)
    }
}

fn newest_of(rows: &[Arc<Row>]) -> Newest {
    Newest::from_entries(rows.iter().filter(|r| !r.dest_key.is_empty()).map(|r| {
        let entry = (r.age, r.name.clone(), r.place.clone(), r.path.clone());
        (r.dest_key.clone(), entry)
    }))
}

fn dirs(layout: &Layout) -> Vec<(PathBuf, Place)> {
    let mut dirs: Vec<(PathBuf, Place)> = layout
        .queues()
        .map(|q| (layout.queue_dir(q), Place::Queue(q)))
        .collect();
    for n in lease::node_dirs(layout) {
        dirs.push((layout.active(&n), Place::Active(n)));
    }
    dirs.push((layout.sent(), Place::Sent));
    dirs.push((layout.fail(), Place::Fail));
    dirs
}

fn refresh(inner: &mut Inner, layout: &Layout, sys: &SystemConfig, now: DateTime<Utc>) {
    use std::os::unix::fs::MetadataExt;
    let full = inner
        .full_checked
        .is_none_or(|t| t.elapsed() >= FULL_CHECK_EVERY);
    let mut changed = false;
    let wanted = dirs(layout);
    let before = inner.dirs.len();
    inner.dirs.retain(|p, _| wanted.iter().any(|(d, _)| d == p));
    changed |= inner.dirs.len() != before;
    let mut lines = None;
    for (dir, place) in wanted {
        let mtime = std::fs::metadata(&dir).and_then(|m| m.modified()).ok();
        let entry = inner.dirs.entry(dir.clone()).or_insert(DirCache {
            mtime: None,
            files: HashMap::new(),
        });
        let settled = mtime.is_some_and(|m| {
            SystemTime::now()
                .duration_since(m)
                .is_ok_and(|age| age >= SETTLE)
        });
        if !full && entry.mtime.is_some() && entry.mtime == mtime && settled {
            continue;
        }
        entry.mtime = mtime;
        let by_inode = !full && matches!(place, Place::Sent | Place::Fail);
        let listed = list(&dir);
        let mut files = HashMap::with_capacity(listed.len());
        for (name, ino) in listed {
            let old = entry.files.remove(&name);
            let old = match old {
                Some(seen) if by_inode && seen.ino == ino => {
                    files.insert(name, seen);
                    continue;
                }
                other => other,
            };
            let path = dir.join(&name);
            let Ok(meta) = std::fs::symlink_metadata(&path) else {
                continue;
            };
            let stamp = store::stamp(&meta);
            match old {
                Some(seen) if seen.stamp == stamp => {
                    files.insert(name, seen);
                }
                _ => {
                    changed = true;
                    let lines = lines.get_or_insert_with(|| line_map(layout, sys));
                    let row = read_row(&path, &place, sys, layout, now, lines);
                    files.insert(
                        name,
                        Seen {
                            ino: meta.ino(),
                            stamp,
                            row: Arc::new(row),
                        },
                    );
                }
            }
        }
        changed |= !entry.files.is_empty();
        entry.files = files;
    }
    if full {
        inner.full_checked = Some(Instant::now());
    }
    if changed || inner.refreshed.is_none() {
        let mut all: Vec<Arc<Row>> = inner
            .dirs
            .values()
            .flat_map(|d| d.files.values().map(|s| s.row.clone()))
            .collect();
        all.sort_unstable_by(|a, b| b.when.cmp(&a.when).then_with(|| a.order.cmp(&b.order)));
        inner.sorted = Arc::new(all);
        inner.newest = None;
    }
}

fn line_map(layout: &Layout, sys: &SystemConfig) -> crate::linegroup::LineMap {
    let mut m = crate::linegroup::LineMap::from_cfg(&sys.document);
    for l in lease::read_all(layout) {
        m.add_node(&l.node);
    }
    m
}

fn read_row(
    path: &std::path::Path,
    place: &Place,
    sys: &SystemConfig,
    layout: &Layout,
    now: DateTime<Utc>,
    lines: &crate::linegroup::LineMap,
) -> Row {
    let bytes = std::fs::read(path).map_err(|e| e.to_string());
    let v = view_of(
        path,
        place.clone(),
        sys,
        bytes.as_deref().map_err(Clone::clone),
    );
    let state = match place {
        Place::Queue(_) => JobState::Queued,
        Place::Active(_) => JobState::InProgress,
        Place::Sent => JobState::Sent,
        Place::Fail => JobState::Failed,
    };
    let standing = match (&bytes, state) {
        (Ok(b), JobState::Queued) => {
            report::queued_state_of(b, path, sys, layout.root.parent(), now, Some(lines))
        }
        _ => None,
    };
    let last = last_table_class(&v, sys);
    let changed = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or(now);
    let last_attempt = v.records.last().map(|r| v.instant(r.start()));
    let reason = match &standing {
        Some(QueuedState::HeldForGood(r) | QueuedState::NoStart(r)) => r.clone(),
        _ => v
            .fail_reason
            .clone()
            .or(v.error.clone())
            .unwrap_or_default(),
    };
    let destination = v.destination.clone().unwrap_or_default();
    let description = last.as_ref().map(|x| x.2.clone()).unwrap_or_default();
    let haystack =
        format!("{}\n{}\n{}\n{}", v.name, destination, description, reason).to_lowercase();
    Row {
        path: path.to_path_buf(),
        queue: match place {
            Place::Queue(q) => *q,
            _ => v.tosend,
        },
        place: crate::ops::scan::place_name(place),
        dest_key: v.dest_key.clone().unwrap_or_default(),
        code: last.as_ref().map(|x| x.0),
        class: last.as_ref().map(|x| x.1.letter()),
        description,
        attempts: v.records.len(),
        last_attempt,
        last_end: v.last_end,
        changed,
        age: v.age,
        when: last_attempt.unwrap_or(changed),
        standing,
        reason,
        haystack,
        destination,
        state,
        order: crate::spool::JobName::new(&v.name),
        name: v.name,
    }
}
