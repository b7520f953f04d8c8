//! Reading the spool for operators: `redial status` counts and `redial report JOB` histories.
//!
//! Read-only: lists directories, parses job files, reads leases. It never moves or writes a
//! file, so it is safe to run beside live nodes.

use super::{lease, store, Layout};
use crate::command::Document;
use crate::job::Job;
use crate::load::{self, LoadedJob, SystemConfig};
use crate::retry::engine;
use crate::retry::outcome::OutcomeTable;
use crate::retry::policy::Policy;
use crate::retry::remote::Remote;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Counts of one queue. Every job counts once: what decides is when it may next start, as the
/// daemon computes it ([`engine::next_start`]: its retry or send time, moved by its send window
/// and the pause windows, in its calendar).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct QueueStatus {
    /// Folder name.
    pub queue: String,
    /// Due now: it may start now (a file that cannot be read counts here too: the daemon acts on
    /// it at once, failing it).
    pub due: usize,
    /// Held by a window: its retry or send time has come (or it has none), but its send window
    /// or a pause window allows no start now.
    pub held: usize,
    /// The earliest instant a held job may start.
    pub held_until: Option<DateTime<Utc>>,
    /// Waiting for a retry time (`$fax_next_date` in the future).
    pub waiting_retry: usize,
    /// Waiting for a future `$fax_send_date`.
    pub scheduled: usize,
    /// Held for good: no configured line on any node serves the job's `$fax_send_line` (see
    /// [`Status::held`] for the reasons).
    pub unserved: usize,
}

impl QueueStatus {
    /// Nothing counted yet in `queue` (its folder name).
    pub fn empty(queue: String) -> QueueStatus {
        QueueStatus {
            queue,
            due: 0,
            held: 0,
            held_until: None,
            waiting_retry: 0,
            scheduled: 0,
            unserved: 0,
        }
    }
}

/// A queued job no line can ever dial.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Held {
    /// Folder name.
    pub queue: String,
    /// File name.
    pub job: String,
    /// Why.
    pub reason: String,
}

/// Where a queued job stands at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// It may start now.
    Due,
    /// Its times have come but a window holds it until then.
    Held(DateTime<Utc>),
    /// Its retry time is to come; it may start then (or later, if a window holds it).
    WaitingRetry(DateTime<Utc>),
    /// Its send date and time are to come; it may start then (or later).
    Scheduled(DateTime<Utc>),
}

/// Where the job stands at `now`, by the daemon's own computation ([`engine::next_start`]).
/// `Err` when no start is possible (the daemon fails such a job at intake: a send window whose
/// week is over, outcome 183).
pub fn standing(
    policy: &Policy,
    job: &Job,
    now: DateTime<Utc>,
) -> Result<Standing, crate::calendar::CalendarError> {
    let start = engine::next_start(policy, job, now)?;
    if start <= now {
        return Ok(Standing::Due);
    }
    let cal = policy.calendar();
    let after = |t: Option<NaiveDateTime>| t.is_some_and(|t| cal.instant(t) > now);
    Ok(if after(job.next) {
        Standing::WaitingRetry(start)
    } else if job.next.is_none() && after(job.send_at()) {
        Standing::Scheduled(start)
    } else {
        Standing::Held(start)
    })
}

/// Reads a job file with its policy (CFG, its `$fax_user` profile as the daemon finds it, FS).
fn load_queued(path: &Path, sys: &SystemConfig, base: Option<&Path>) -> Option<LoadedJob> {
    let bytes = std::fs::read(path).ok()?;
    let doc = Document::parse(&bytes, &path.display().to_string()).ok()?;
    load::job_from_document(doc, base, sys, None).ok()
}

/// Where a queued job stands, as `redial status` counts it: held for good (an operator's
/// hold, or no line serves its group: the reason), a [`Standing`], or no start possible (the
/// reason; the daemon fails such a job). `None` when the file cannot be read as a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueuedState {
    /// Waits until an operator or the CFG changes something.
    HeldForGood(String),
    /// When it may start.
    Standing(Standing),
    /// No start possible.
    NoStart(String),
}

/// [`QueuedState`] of the queued job at `path` at `now`; with `lines`, a job no line serves is
/// held for good.
pub fn queued_state(
    path: &Path,
    sys: &SystemConfig,
    base: Option<&Path>,
    now: DateTime<Utc>,
    lines: Option<&crate::linegroup::LineMap>,
) -> Option<QueuedState> {
    let bytes = std::fs::read(path).ok()?;
    queued_state_of(&bytes, path, sys, base, now, lines)
}

/// [`queued_state`] of a job file's bytes, already read from `path`.
pub fn queued_state_of(
    bytes: &[u8],
    path: &Path,
    sys: &SystemConfig,
    base: Option<&Path>,
    now: DateTime<Utc>,
    lines: Option<&crate::linegroup::LineMap>,
) -> Option<QueuedState> {
    let doc = Document::parse(bytes, &path.display().to_string()).ok()?;
    let l = load::job_from_document(doc, base, sys, None).ok()?;
    if crate::ops::alter::is_held(&l.document) {
        return Some(QueuedState::HeldForGood(
            crate::ops::alter::HELD_REASON.to_string(),
        ));
    }
    if let Some(reason) = lines.and_then(|m| m.unserved(&crate::dispatch::routed_group(&l.job))) {
        return Some(QueuedState::HeldForGood(reason));
    }
    Some(match standing(&l.policy, &l.job, now) {
        Ok(s) => QueuedState::Standing(s),
        Err(e) => QueuedState::NoStart(e.to_string()),
    })
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

/// Counts everything at `now`, each queued job by [`standing`] under its policy (the CFG's
/// layer, its `$fax_user` profile — a relative path as written, else beside the spool directory
/// — and its own commands).
pub fn status(layout: &Layout, sys: &SystemConfig, now: DateTime<Utc>) -> std::io::Result<Status> {
    status_with(layout, sys, now, None)
}

/// As [`status`]; with `lines` (the CFG's lines and groups on every node), a job whose
/// `$fax_send_line` no line serves counts as unserved, with its reason, instead of due. Nodes
/// that hold a lease count as groups of every line when the CFG has no `$node` for them.
pub fn status_with(
    layout: &Layout,
    sys: &SystemConfig,
    now: DateTime<Utc>,
    lines: Option<&crate::linegroup::LineMap>,
) -> std::io::Result<Status> {
    let base = layout.root.parent();
    let leases = lease::read_all(layout);
    let lines = lines.map(|m| {
        let mut m = m.clone();
        for l in &leases {
            m.add_node(&l.node);
        }
        m
    });
    let mut held = Vec::new();
    let mut queues = Vec::new();
    // A running node's published counts stand for the queues it indexes (see `summary`).
    let published = super::summary::fresh(layout, &leases, now);
    if let Some(p) = &published {
        held.extend(p.held.iter().cloned());
    }
    for q in layout.queues() {
        if let Some(s) = published
            .as_ref()
            .and_then(|p| p.queues.iter().find(|s| s.queue == super::queue_name(q)))
        {
            queues.push(s.clone());
            continue;
        }
        let dir = layout.queue_dir(q);
        let mut s = QueueStatus::empty(super::queue_name(q));
        for name in store::list_jobs(&dir)? {
            let loaded = load_queued(&dir.join(&name), sys, base);
            let unserved = match (&loaded, &lines) {
                (Some(l), _) if crate::ops::alter::is_held(&l.document) => {
                    Some(crate::ops::alter::HELD_REASON.to_string())
                }
                (Some(l), Some(m)) => m.unserved(&crate::dispatch::routed_group(&l.job)),
                _ => None,
            };
            if let Some(reason) = unserved {
                s.unserved += 1;
                held.push(Held {
                    queue: s.queue.clone(),
                    job: name.clone(),
                    reason,
                });
                continue;
            }
            let standing = loaded.and_then(|l| standing(&l.policy, &l.job, now).ok());
            match standing {
                Some(Standing::Held(t)) => {
                    s.held += 1;
                    s.held_until = Some(s.held_until.map_or(t, |u| u.min(t)));
                }
                Some(Standing::WaitingRetry(_)) => s.waiting_retry += 1,
                Some(Standing::Scheduled(_)) => s.scheduled += 1,
                Some(Standing::Due) | None => s.due += 1,
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
    /// Fax attempts: pages sent.
    pub pages_sent: Option<u16>,
    /// Fax attempts: pages the attempt set out to send (cover and every document page).
    pub pages_scheduled: Option<u16>,
    /// What happened next.
    pub then: String,
    /// `fax`, `voice`, `email`, `sms` or `poll` (the record's type).
    pub channel: &'static str,
    /// What the other end said (remote station ID, SMTP reply or `Message-ID`, SMS id, price
    /// and report status), each under its own key.
    #[serde(flatten)]
    pub remote: Remote,
    /// What the retry engine decided after it, replayed from the records before it (the list
    /// entry and retry time, or why the job failed); absent when the job cannot be loaded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<crate::ops::why::Why>,
}

/// An SMS the gateway took, waiting for its delivery report (`$sms_pending`).
#[derive(Debug, Clone, Serialize)]
pub struct SmsPendingLine {
    /// The message id the report must name.
    pub id: String,
    /// When it was handed to the gateway.
    pub submitted: DateTime<Utc>,
    /// When the wait ends without a final report (outcome 411, never resent).
    pub deadline: DateTime<Utc>,
    /// `deadline` in the job's local time.
    pub deadline_local: NaiveDateTime,
    /// The price point it went at.
    pub price: Option<String>,
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
    /// Every retry of the job out of `FAIL` (`$retry_note`, manual or automatic), in time order.
    pub notes: Vec<NoteLine>,
    /// `$fax_next_date/time`, if a retry is scheduled.
    pub next: Option<NaiveDateTime>,
    /// For a queued job: `due`, `held` (by a window), `waiting_retry` or `scheduled`
    /// ([`standing`]); `no_start` when its windows allow none (the daemon fails it);
    /// `waiting_report` for an SMS that waits for its delivery report.
    pub standing: Option<String>,
    /// For an SMS that waits for its delivery report: which message, until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_pending: Option<SmsPendingLine>,
    /// For a queued job: when it may next start, as the daemon computes it.
    pub next_start: Option<DateTime<Utc>>,
    /// `next_start` in the job's local time.
    pub next_start_local: Option<NaiveDateTime>,
    /// For a queued job whose windows allow no start: why.
    pub no_start: Option<String>,
    /// `$fail_reason`.
    pub fail_reason: Option<String>,
    /// Why a queued job is held: no line on any node serves its `$fax_send_line` (only with
    /// the CFG's lines given).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held: Option<String>,
}

/// One retry of a failed job (`$retry_note`).
#[derive(Debug, Clone, Serialize)]
pub struct NoteLine {
    /// Local time of the retry.
    pub when: NaiveDateTime,
    /// `manual` or `auto`.
    pub kind: String,
    /// The queue it was sent to.
    pub queue: String,
    /// The reason given (may be empty).
    pub reason: String,
}

/// One line of a job's history: an attempt or a retry note.
#[derive(Debug, Clone, Copy)]
pub enum HistoryLine<'a> {
    /// An attempt.
    Attempt(&'a AttemptLine),
    /// A retry out of `FAIL`.
    Note(&'a NoteLine),
}

impl HistoryLine<'_> {
    /// Its local time.
    pub fn when(&self) -> NaiveDateTime {
        match self {
            HistoryLine::Attempt(a) => a.when,
            HistoryLine::Note(n) => n.when,
        }
    }
}

impl Report {
    /// Attempts and retry notes together, in time order (file order among equal times).
    pub fn history(&self) -> Vec<HistoryLine<'_>> {
        let mut all: Vec<HistoryLine<'_>> = self
            .attempts
            .iter()
            .map(HistoryLine::Attempt)
            .chain(self.notes.iter().map(HistoryLine::Note))
            .collect();
        all.sort_by_key(HistoryLine::when);
        all
    }
}

/// Builds the report of the job at `path` at `now` (for when a queued job starts next).
pub fn report(
    layout: &Layout,
    path: &Path,
    sys: &SystemConfig,
    now: DateTime<Utc>,
) -> Result<Report, String> {
    report_with(layout, path, sys, now, None)
}

/// As [`report`]; with `lines` (the CFG's lines and groups), a queued job no line serves says
/// so in [`Report::held`].
pub fn report_with(
    layout: &Layout,
    path: &Path,
    sys: &SystemConfig,
    now: DateTime<Utc>,
    lines: Option<&crate::linegroup::LineMap>,
) -> Result<Report, String> {
    let outcomes: &OutcomeTable = &sys.outcomes;
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let doc = Document::parse(&bytes, &path.display().to_string()).map_err(|e| e.to_string())?;
    let job = Job::from_document(&doc).map_err(|e| e.to_string())?;
    let mut notes: Vec<NoteLine> = doc
        .all("retry_note")
        .filter_map(|c| crate::ops::scan::RetryNote::from_command(&c))
        .map(|n| NoteLine {
            when: n.at,
            kind: n.kind.as_str().to_string(),
            queue: super::queue_name(n.queue),
            reason: n.reason,
        })
        .collect();
    notes.sort_by_key(|n| n.when);
    let (mut standing_name, mut next_start, mut next_start_local, mut no_start) =
        (None, None, None, None);
    let mut sms_pending = None;
    // The job with its profile, loaded once (its standing in a queue, and the retry engine's
    // replay over its attempts); `None` when it cannot be loaded as the daemon loads it.
    let loaded = load::job_from_document(doc.clone(), layout.root.parent(), sys, None).ok();
    if let Some(super::Place::Queue(_)) = layout.place_of(path) {
        if let Some(l) = &loaded {
            let cal = l.policy.calendar();
            let waiting = crate::daemon::sms::pending(&doc);
            if let Some(p) = waiting {
                standing_name = Some("waiting_report".to_string());
                next_start = Some(p.deadline);
                next_start_local = Some(cal.local(p.deadline));
                sms_pending = Some(SmsPendingLine {
                    id: p.id,
                    submitted: p.submitted,
                    deadline: p.deadline,
                    deadline_local: cal.local(p.deadline),
                    price: p.price,
                });
            } else {
                match standing(&l.policy, &l.job, now) {
                    Ok(st) => {
                        let (name, at) = match st {
                            Standing::Due => {
                                ("due", engine::next_start(&l.policy, &l.job, now).ok())
                            }
                            Standing::Held(t) => ("held", Some(t)),
                            Standing::WaitingRetry(t) => ("waiting_retry", Some(t)),
                            Standing::Scheduled(t) => ("scheduled", Some(t)),
                        };
                        standing_name = Some(name.to_string());
                        next_start = at;
                        next_start_local = at.map(|t| cal.local(t));
                    }
                    Err(e) => {
                        standing_name = Some("no_start".to_string());
                        no_start = Some(e.to_string());
                    }
                }
            }
        }
    }
    let place = match layout.place_of(path) {
        Some(super::Place::Queue(q)) => super::queue_name(q),
        Some(super::Place::Active(n)) => format!("ACTIVE/{n} (in progress)"),
        Some(super::Place::Sent) => "SENT".into(),
        Some(super::Place::Fail) => "FAIL".into(),
        None => "outside the spool".into(),
    };
    let held = match (layout.place_of(path), lines) {
        (Some(super::Place::Queue(_)), _) if crate::ops::alter::is_held(&doc) => {
            Some(crate::ops::alter::HELD_REASON.to_string())
        }
        (Some(super::Place::Queue(_)), Some(m)) => {
            let mut m = m.clone();
            for l in lease::read_all(layout) {
                m.add_node(&l.node);
            }
            m.unserved(&crate::dispatch::routed_group(&job))
        }
        _ => None,
    };
    let channel = job.channel();
    let whys = loaded
        .as_ref()
        .map(|l| {
            crate::ops::why::replay(
                l,
                outcomes,
                load::queue_of(path, &l.job),
                load::job_seed(path),
            )
        })
        .unwrap_or_default();
    let n = job.records.len();
    let attempts = job
        .records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let then = match r.class.letter() {
                'S' => "sent".to_string(),
                'Z' if i + 1 == n && !notes.iter().any(|x| x.when >= r.start()) => {
                    "failed for good".to_string()
                }
                'Z' => "failed".to_string(),
                _ => match job.records.get(i + 1) {
                    Some(nx) => format!("retried {}", nx.start().format("%Y-%m-%d %H:%M:%S")),
                    None if i + 1 == n => match job.next {
                        Some(t) => format!("retry scheduled {}", t.format("%Y-%m-%d %H:%M:%S")),
                        None => "retry pending".into(),
                    },
                    None => String::new(),
                },
            };
            let then = if r.flags().is_empty() {
                then
            } else {
                format!("{then} (prefixes {})", r.flags())
            };
            AttemptLine {
                when: r.start(),
                line: r.boardline().to_string(),
                code: r.outcome,
                class: r.class.letter(),
                description: outcomes.classify(r.outcome, channel).description,
                pages_sent: (r.kind == 1).then_some(r.sent),
                pages_scheduled: (r.kind == 1).then_some(r.scheduled),
                then,
                channel: crate::retry::outcome::Channel::from_type_code(r.kind)
                    .map_or("fax", |c| c.name()),
                remote: Remote::read(r.kind, r.answerback()),
                why: whys.get(i).cloned(),
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
        notes,
        next: job.next,
        standing: standing_name,
        sms_pending,
        next_start,
        next_start_local,
        no_start,
        fail_reason: doc.last("fail_reason").map(|c| c.joined()),
        held,
    })
}
