//! Reading the spool for operators: `redial status` counts and `redial report JOB` histories.
//!
//! Read-only: lists directories, parses job files, reads leases. It never moves or writes a
//! file, so it is safe to run beside live nodes.

use super::{lease, store, Layout};
use crate::command::Document;
use crate::job::Job;
use crate::retry::outcome::OutcomeTable;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Counts of one queue.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct QueueStatus {
    /// Folder name.
    pub queue: String,
    /// Due now (no retry time, or its time has come).
    pub due: usize,
    /// Waiting for a retry time (`$fax_next_date` in the future).
    pub waiting_retry: usize,
    /// Waiting for a future `$fax_send_date`.
    pub scheduled: usize,
    /// Held: no configured line on any node serves the job's `$fax_send_line` (see
    /// [`Status::held`] for the reasons).
    pub held: usize,
}

/// A queued job no line can ever dial.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Held {
    /// Folder name.
    pub queue: String,
    /// File name.
    pub job: String,
    /// Why.
    pub reason: String,
}

/// The whole picture.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Per queue.
    pub queues: Vec<QueueStatus>,
    /// Files in `ACTIVE/*` (in progress).
    pub in_progress: usize,
    /// In SENT.
    pub sent: usize,
    /// In FAIL.
    pub failed: usize,
    /// Nodes and their lines.
    pub nodes: Vec<lease::Lease>,
    /// Whether each node's lease is stale.
    pub stale: Vec<bool>,
    /// Queued jobs held because no line serves them (only with the CFG's lines given).
    pub held: Vec<Held>,
}

/// Counts everything. Times in files are read as UTC unless `tz` says otherwise.
pub fn status(layout: &Layout, tz: chrono_tz::Tz, now: DateTime<Utc>) -> std::io::Result<Status> {
    status_with(layout, tz, now, None)
}

/// As [`status`]; with `lines` (the CFG's lines and groups on every node), a job whose
/// `$fax_send_line` no line serves counts as held, with its reason, instead of due. Nodes that
/// hold a lease count as groups of every line when the CFG has no `$node` for them.
pub fn status_with(
    layout: &Layout,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    lines: Option<&crate::linegroup::LineMap>,
) -> std::io::Result<Status> {
    let leases = lease::read_all(layout);
    let lines = lines.map(|m| {
        let mut m = m.clone();
        for l in &leases {
            m.add_node(&l.node);
        }
        m
    });
    let mut held = Vec::new();
    let local_now = now.with_timezone(&tz).naive_local();
    let mut queues = Vec::new();
    for q in layout.queues() {
        let dir = layout.queue_dir(q);
        let mut s = QueueStatus {
            queue: super::queue_name(q),
            due: 0,
            waiting_retry: 0,
            scheduled: 0,
            held: 0,
        };
        for name in store::list_jobs(&dir)? {
            let job = std::fs::read(dir.join(&name))
                .ok()
                .and_then(|b| Document::parse(&b, &name).ok())
                .and_then(|d| Job::from_document(&d).ok());
            let unserved = match (&job, &lines) {
                (Some(j), Some(m)) => m.unserved(j.send_line.as_deref().unwrap_or("*")),
                _ => None,
            };
            if let Some(reason) = unserved {
                s.held += 1;
                held.push(Held {
                    queue: s.queue.clone(),
                    job: name.clone(),
                    reason,
                });
                continue;
            }
            match job {
                Some(j) if j.next.is_some_and(|t| t > local_now) => s.waiting_retry += 1,
                Some(j) if j.next.is_none() && j.send_at().is_some_and(|t| t > local_now) => {
                    s.scheduled += 1
                }
                _ => s.due += 1,
            }
        }
        queues.push(s);
    }
    let mut in_progress = 0;
    for n in lease::node_dirs(layout) {
        in_progress += count_tree(&layout.active(&n));
    }
    let nodes = leases;
    let stale = nodes.iter().map(|l| l.is_stale(now)).collect();
    Ok(Status {
        queues,
        in_progress,
        sent: store::list_jobs(&layout.sent())?.len(),
        failed: store::list_jobs(&layout.fail())?.len(),
        nodes,
        stale,
        held,
    })
}

fn count_tree(dir: &Path) -> usize {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.flatten()
        .map(|e| {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                count_tree(&e.path())
            } else {
                usize::from(e.file_name().to_str().is_some_and(super::is_job_name))
            }
        })
        .sum()
}

/// Finds a job by file name (with or without `.FS`) in every spool directory.
pub fn find(layout: &Layout, job: &str) -> Option<PathBuf> {
    let name = if super::is_job_name(job) {
        job.to_string()
    } else {
        format!("{job}.FS")
    };
    let direct = Path::new(job);
    if direct.is_file() {
        return Some(direct.to_path_buf());
    }
    let mut dirs: Vec<PathBuf> = layout.queues().map(|q| layout.queue_dir(q)).collect();
    dirs.push(layout.sent());
    dirs.push(layout.fail());
    for n in lease::node_dirs(layout) {
        dirs.push(layout.active(&n));
    }
    dirs.into_iter()
        .map(|d| d.join(&name))
        .find(|p| p.is_file())
}

/// One attempt in a report.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptLine {
    /// Local start.
    pub when: NaiveDateTime,
    /// Line (board letter and number).
    pub line: String,
    /// Outcome code.
    pub code: u32,
    /// Class recorded.
    pub class: char,
    /// Code description.
    pub description: String,
    /// What happened next.
    pub then: String,
}

/// A job's history.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// File.
    pub path: String,
    /// Where it is now.
    pub place: String,
    /// Destination.
    pub destination: Option<String>,
    /// Every attempt.
    pub attempts: Vec<AttemptLine>,
    /// `$fax_next_date/time`, if a retry is scheduled.
    pub next: Option<NaiveDateTime>,
    /// `$fail_reason`.
    pub fail_reason: Option<String>,
    /// Why a queued job is held: no line on any node serves its `$fax_send_line` (only with
    /// the CFG's lines given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

/// Builds the report of the job at `path`.
pub fn report(layout: &Layout, path: &Path, outcomes: &OutcomeTable) -> Result<Report, String> {
    report_with(layout, path, outcomes, None)
}

/// As [`report`]; with `lines` (the CFG's lines and groups), a queued job no line serves says
/// so in [`Report::held`].
pub fn report_with(
    layout: &Layout,
    path: &Path,
    outcomes: &OutcomeTable,
    lines: Option<&crate::linegroup::LineMap>,
) -> Result<Report, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc = Document::parse(&bytes, &path.display().to_string()).map_err(|e| e.to_string())?;
    let job = Job::from_document(&doc).map_err(|e| e.to_string())?;
    let place = match layout.place_of(path) {
        Some(super::Place::Queue(q)) => super::queue_name(q),
        Some(super::Place::Active(n)) => format!("ACTIVE/{n} (in progress)"),
        Some(super::Place::Sent) => "SENT".into(),
        Some(super::Place::Fail) => "FAIL".into(),
        None => "outside the spool".into(),
    };
    let held = match (layout.place_of(path), lines) {
        (Some(super::Place::Queue(_)), Some(m)) => {
            let mut m = m.clone();
            for l in lease::read_all(layout) {
                m.add_node(&l.node);
            }
            m.unserved(job.send_line.as_deref().unwrap_or("*"))
        }
        _ => None,
    };
    let channel = job.channel();
    let n = job.records.len();
    let attempts = job
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let then = match r.class.letter() {
                'S' => "sent".to_string(),
                'Z' => "failed for good".to_string(),
                _ => match job.records.get(i + 1) {
                    Some(nx) => format!("retried {}", nx.start.format("%Y-%m-%d %H:%M:%S")),
                    None if i + 1 == n => match job.next {
                        Some(t) => format!("retry scheduled {}", t.format("%Y-%m-%d %H:%M:%S")),
                        None => "retry pending".into(),
                    },
                    None => String::new(),
                },
            };
            let then = if r.flags.is_empty() {
                then
            } else {
                format!("{then} (prefixes {})", r.flags)
            };
            AttemptLine {
                when: r.start,
                line: r.boardline.clone(),
                code: r.outcome,
                class: r.class.letter(),
                description: outcomes.classify(r.outcome, channel).description,
                then,
            }
        })
        .collect();
    let d = &job.destinations;
    Ok(Report {
        path: path.display().to_string(),
        place,
        destination: d
            .fax_phone
            .clone()
            .or_else(|| d.voice_phone.clone())
            .or_else(|| d.sms_phone.clone())
            .or_else(|| d.email_address.clone()),
        attempts,
        next: job.next,
        fail_reason: doc.last("fail_reason").map(|c| c.joined()),
        held,
    })
}
