//! Results the spool would not take: a call ended but its record could not be written (disk
//! full, I/O error, read-only file system). The outcome is kept in memory and in a small
//! journal beside the lease, the write is retried with backoff, and the node places no new call
//! while the spool refuses writes; the trouble is logged once a minute and shown in the lease
//! (so `redial status`) and in metrics.
//!
//! The journal (`ACTIVE/<node>.journal`) is allocated when the node starts and rewritten in
//! place, so it needs no new disk blocks when the disk is full. After a crash, recovery reads
//! it: a job found in the middle of a call whose result is journalled is settled with that
//! result instead of "interrupted" — a call that succeeded is never dialled again. It never
//! decides anything about a job itself.

use super::*;
use crate::spool::store::Point;
use serde::{Deserialize, Serialize};
use std::io::{Seek, Write};

/// Size the journal is allocated with: room for a few hundred results.
pub const JOURNAL_BYTES: u64 = 256 * 1024;
/// First retry after a refused write; doubles up to [`MAX_BACKOFF_SECS`].
const FIRST_BACKOFF_MS: i64 = 500;
/// Longest wait between retries.
const MAX_BACKOFF_SECS: i64 = 10;

/// One result the spool has not taken yet, as journalled.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Journalled {
    /// Job file name (in this node's `ACTIVE`).
    pub job: String,
    /// Line number.
    pub line: Option<u32>,
    /// Board letter.
    pub board: char,
    /// Queue it came from.
    pub queue: u8,
    /// When the call started.
    pub started: DateTime<Utc>,
    /// When it ended.
    pub ended: DateTime<Utc>,
    /// What the line said.
    #[serde(flatten)]
    pub result: CallResult,
}

/// A job whose next step the spool refused.
#[derive(Debug, Clone)]
pub(super) struct Pending {
    pub path: PathBuf,
    pub name: String,
    /// The job's final bytes, when they still have to be written.
    pub bytes: Option<Vec<u8>>,
    pub next: Next,
    /// The journal entry (None for bad-input failures, which are decided again at restart).
    pub entry: Option<Journalled>,
    /// A `.err` file to write first (a bad job that does not parse).
    pub err: Option<(PathBuf, Vec<u8>)>,
}

/// The spool's health as this node sees it.
#[derive(Debug, Clone, Default)]
pub struct SpoolHealth {
    /// Since when writes have been refused (None: healthy).
    pub failing_since: Option<DateTime<Utc>>,
    /// The last error.
    pub error: Option<String>,
    /// Writes refused since start.
    pub refused: u64,
    pub(super) retry_at: Option<DateTime<Utc>>,
    backoff_ms: i64,
    logged_at: Option<DateTime<Utc>>,
    recovered_at: Option<DateTime<Utc>>,
    suppressed: u64,
}

impl SpoolHealth {
    /// Whether the node should hold new calls at `now`.
    pub fn holding(&self, now: DateTime<Utc>) -> bool {
        self.failing_since.is_some() && self.retry_at.is_none_or(|t| now < t)
    }
    /// When the next retry is due.
    pub fn retry_at(&self) -> Option<DateTime<Utc>> {
        self.failing_since.and(self.retry_at)
    }
}

impl Daemon {
    /// A write or move was refused: remember, back off, log at most once a minute.
    pub(super) fn spool_refused(&mut self, point: Point, job: &str, e: &std::io::Error) {
        let now = self.clock.now();
        let h = &mut self.spool;
        h.refused += 1;
        h.error = Some(format!("{point:?} of {job}: {e}"));
        if h.failing_since.is_none() {
            h.failing_since = Some(now);
            // A disk that keeps flapping (a nearly full one frees a block with every rewrite)
            // keeps its backoff: it restarts only after a minute of health.
            h.backoff_ms = match h.recovered_at {
                Some(t) if now - t < Duration::seconds(60) => {
                    (h.backoff_ms * 2).min(MAX_BACKOFF_SECS * 1000)
                }
                _ => FIRST_BACKOFF_MS,
            };
        } else {
            h.backoff_ms = (h.backoff_ms * 2).min(MAX_BACKOFF_SECS * 1000);
        }
        h.retry_at = Some(now + Duration::milliseconds(h.backoff_ms));
        if h.logged_at.is_none_or(|t| now - t >= Duration::seconds(60)) {
            tracing::error!(point = %point, job, error = %e, suppressed = h.suppressed,
                "the spool refused a write; no new calls until it takes writes again (retrying with backoff)");
            h.logged_at = Some(now);
            h.suppressed = 0;
        } else {
            h.suppressed += 1;
        }
    }

    /// Writes succeed again.
    fn spool_recovered(&mut self) {
        if let Some(since) = self.spool.failing_since.take() {
            let now = self.clock.now();
            if self.spool.suppressed == 0
                && self
                    .spool
                    .recovered_at
                    .is_none_or(|t| now - t >= Duration::seconds(60))
            {
                tracing::warn!(since = %since, refused = self.spool.refused, "the spool takes writes again");
            }
            self.spool.recovered_at = Some(now);
            self.spool.error = None;
            self.spool.retry_at = None;
            // Whatever was skipped while writes were refused (a bad job not yet moved to FAIL,
            // a claim given up) is read again.
            self.rescan();
        }
    }

    /// The spool's health (status, metrics).
    pub fn spool_health(&self) -> &SpoolHealth {
        &self.spool
    }

    /// Keeps a result the spool refused, in memory and in the journal.
    pub(super) fn defer(&mut self, p: Pending, point: Point, e: &std::io::Error) {
        self.spool_refused(point, &p.name, e);
        if !self.pending.iter().any(|q| q.path == p.path) {
            self.pending.push(p);
        }
        self.write_journal();
    }

    /// Retries what the spool refused, when the backoff allows. Returns whether anything is
    /// still pending.
    pub(super) fn retry_pending(&mut self) -> bool {
        let now = self.clock.now();
        if self.spool.failing_since.is_none() || self.spool.holding(now) {
            return !self.pending.is_empty();
        }
        self.drop_orphans();
        let pending = std::mem::take(&mut self.pending);
        let mut failed = None;
        let mut left = Vec::new();
        for mut p in pending {
            if failed.is_some() {
                left.push(p);
                continue;
            }
            if let Some((err, text)) = &p.err {
                if let Err(e) = self.store.write(Point::RejectWrite, err, text) {
                    failed = Some((Point::RejectWrite, p.name.clone(), e));
                    left.push(p);
                    continue;
                }
                p.err = None;
            }
            if let Some(bytes) = &p.bytes {
                if let Err(e) = self.store.write(Point::ResultWrite, &p.path, bytes) {
                    failed = Some((Point::ResultWrite, p.name.clone(), e));
                    left.push(p);
                    continue;
                }
                p.bytes = None;
            }
            if let Err(e) = self.move_to(&p.path, &p.name, &p.next) {
                failed = Some((Point::MoveOn, p.name.clone(), e));
                left.push(p);
                continue;
            }
            tracing::info!(job = %p.name, "a result kept while the spool refused writes is now recorded");
        }
        self.pending = left;
        match failed {
            Some((point, job, e)) => {
                self.spool_refused(point, &job, &e);
                self.write_journal();
            }
            None => {
                // A probe of the spool: an atomic lease write needs room for a new file, as
                // every state change of a job does.
                match self.write_lease(false) {
                    Ok(()) => self.spool_recovered(),
                    Err(e) => self.spool_refused(Point::Lease, "lease", &e),
                }
                self.write_journal();
            }
        }
        !self.pending.is_empty()
    }

    /// Allocates the journal at start (so it can be rewritten on a full disk).
    pub(super) fn open_journal(&mut self) -> std::io::Result<()> {
        let path = self.settings.layout.journal(&self.node);
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        if f.metadata()?.len() < JOURNAL_BYTES {
            // Real blocks, not a hole: a full disk must not refuse the rewrite.
            let blank = vec![b' '; JOURNAL_BYTES as usize];
            (&f).write_all(&blank)?;
            f.sync_all()?;
        }
        // No descriptor stays open for writing (a file system with one cannot be remounted
        // read-only); each rewrite opens the allocated file again.
        self.journal = Some(path);
        Ok(())
    }

    /// Rewrites the journal in place with every pending result.
    pub(super) fn write_journal(&mut self) {
        let entries: Vec<&Journalled> = self
            .pending
            .iter()
            .filter_map(|p| p.entry.as_ref())
            .collect();
        let Some(path) = self.journal.as_ref() else {
            return;
        };
        let mut text = serde_json::to_vec(&entries).unwrap_or_default();
        text.push(b'\n');
        if text.len() as u64 > JOURNAL_BYTES {
            tracing::error!(
                entries = entries.len(),
                "the journal is full; results are kept in memory only"
            );
            return;
        }
        text.resize(JOURNAL_BYTES as usize, b' ');
        let r = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .and_then(|mut f| {
                f.seek(std::io::SeekFrom::Start(0))?;
                f.write_all(&text)?;
                if store::durable() {
                    f.sync_data()?;
                }
                Ok(())
            });
        if let Err(e) = r {
            if self.spool.suppressed == 0 {
                tracing::error!(error = %e, "cannot write the journal; results are kept in memory only");
            }
        }
    }

    /// The journalled results (recovery), by job name.
    pub(super) fn read_journal(&self) -> HashMap<String, Journalled> {
        let path = self.settings.layout.journal(&self.node);
        let Ok(bytes) = std::fs::read(&path) else {
            return HashMap::new();
        };
        match serde_json::from_slice::<Vec<Journalled>>(bytes.trim_ascii()) {
            Ok(v) => v.into_iter().map(|j| (j.job.clone(), j)).collect(),
            Err(_) if bytes.trim_ascii().is_empty() => HashMap::new(),
            Err(e) => {
                tracing::error!(error = %e, path = %path.display(), "the journal does not parse; interrupted calls are recovered as interrupted");
                HashMap::new()
            }
        }
    }
}
