//! The operator's picture of the spool: every job file read once (queues, ACTIVE, SENT, FAIL)
//! with what eligibility, the web page and the advice need: destination, first and last attempt,
//! the timeline of attempts and retry notes.
//!
//! Read-only. Times in job files are local to the job's `$timezone` (FS, else CFG, else UTC)
//! and are turned into instants here, once.

use crate::command::{format_date, format_time, parse_date, parse_time, Command, Document};
use crate::job::Job;
use crate::load::SystemConfig;
use crate::retry::attempt::{self, AttemptRecord};
use crate::retry::outcome::{Channel, Class};
use crate::retry::policy::{Level, Policy, PolicyLayer};
use crate::spool::{lease, store, Layout, Place};
use chrono::{DateTime, Duration, NaiveDateTime, Utc};
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Who started a cycle with a `$retry_note`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryKind {
    /// `redial retry`, the web page or the API.
    Manual,
    /// The daily sweep.
    Auto,
}

impl RetryKind {
    /// `manual` or `auto`.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryKind::Manual => "manual",
            RetryKind::Auto => "auto",
        }
    }
}

/// `$retry_note DATE TIME manual|auto QUEUE "reason"`: appended when a job is retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetryNote {
    /// Local time of the retry.
    pub at: NaiveDateTime,
    /// Manual or automatic.
    pub kind: RetryKind,
    /// Queue it went to.
    pub queue: u8,
    /// The operator's reason (may be empty).
    pub reason: String,
}

impl RetryNote {
    /// The arguments of the line.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            format_date(self.at.date()),
            format_time(self.at.time()),
            self.kind.as_str().into(),
            self.queue.to_string(),
            self.reason.clone(),
        ]
    }

    /// Reads a note (unknown kinds read as manual; a note is informational).
    pub fn from_command(c: &Command) -> Option<RetryNote> {
        let date = parse_date(c.arg(0)?).ok()?;
        let time = parse_time(c.arg(1)?).ok()?;
        Some(RetryNote {
            at: date.and_time(time),
            kind: match c.arg(2) {
                Some(k) if k.eq_ignore_ascii_case("auto") => RetryKind::Auto,
                _ => RetryKind::Manual,
            },
            queue: c.arg(3).and_then(|q| q.parse().ok()).unwrap_or(0),
            reason: c.arg(4).unwrap_or_default().to_string(),
        })
    }
}

/// One step of a job's history, in file order.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Step {
    /// An `$attempt_record`.
    Attempt {
        /// Local start.
        at: NaiveDateTime,
        /// Outcome code.
        code: u32,
        /// Class recorded.
        class: char,
        /// Line.
        line: String,
        /// Seconds of the call.
        call_secs: u32,
    },
    /// A `$retry_note`.
    Retry(RetryNote),
}

/// One job file as the operator sees it.
#[derive(Debug, Clone)]
pub struct JobView {
    /// File name.
    pub name: String,
    /// Full path.
    pub path: PathBuf,
    /// Where it is.
    pub place: Place,
    /// Number or address dialled (`None` for an unreadable file).
    pub destination: Option<String>,
    /// Normalised destination ([`crate::number::normalize`]).
    pub dest_key: Option<String>,
    /// First attempt's start, else the file's modification time: what "newer" compares.
    pub age: DateTime<Utc>,
    /// Every attempt.
    pub records: Vec<AttemptRecord>,
    /// The end of the last attempt (start + call seconds).
    pub last_end: Option<DateTime<Utc>>,
    /// Attempts and retry notes in file order.
    pub steps: Vec<Step>,
    /// `$fax_status2`.
    pub status2: Option<u32>,
    /// `$fail_reason`.
    pub fail_reason: Option<String>,
    /// The queue it came from (`$fax_tosend`, else the last record's, else 0).
    pub tosend: u8,
    /// Fax, voice…
    pub channel: Option<Channel>,
    /// Why the file could not be read, when it could not.
    pub error: Option<String>,
    /// Time zone of its dates.
    pub tz: chrono_tz::Tz,
}

impl JobView {
    /// Cycles so far (1 = the original; each retry or hand move starts another).
    pub fn cycles(&self) -> usize {
        attempt::cycles(&self.records).max(1)
    }
    /// Automatic retries recorded.
    pub fn auto_retries(&self) -> usize {
        self.notes().filter(|n| n.kind == RetryKind::Auto).count()
    }
    /// The retry notes.
    pub fn notes(&self) -> impl Iterator<Item = &RetryNote> {
        self.steps.iter().filter_map(|s| match s {
            Step::Retry(n) => Some(n),
            Step::Attempt { .. } => None,
        })
    }
    /// A local time of this job as an instant.
    pub fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        use chrono::TimeZone;
        self.tz
            .from_local_datetime(&local)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| local.and_utc())
    }
    /// An instant in this job's local time.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }
}

/// The normalised destination ([`crate::number::normalize`]: the digits of a number, an
/// address in lower case), by which jobs to one destination are found.
pub fn dest_key(destination: &str) -> String {
    crate::number::normalize(destination)
}

/// Reads one job file.
pub fn read_job(path: &Path, place: Place, sys: &SystemConfig) -> JobView {
    let bytes = std::fs::read(path).map_err(|e| e.to_string());
    view_of(path, place, sys, bytes.as_deref().map_err(Clone::clone))
}

/// [`read_job`] of a file's bytes, already read from `path` (or why they could not be).
pub fn view_of(
    path: &Path,
    place: Place,
    sys: &SystemConfig,
    bytes: Result<&[u8], String>,
) -> JobView {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let mtime = std::fs::metadata(path)
        .and_then(|m| m.modified())
        .map(DateTime::<Utc>::from)
        .unwrap_or_else(|_| Utc::now());
    let mut v = JobView {
        name,
        path: path.to_path_buf(),
        place,
        destination: None,
        dest_key: None,
        age: mtime,
        records: Vec::new(),
        last_end: None,
        steps: Vec::new(),
        status2: None,
        fail_reason: None,
        tosend: 0,
        channel: None,
        error: None,
        tz: sys.layer.timezone.unwrap_or(chrono_tz::UTC),
    };
    let parsed = bytes
        .and_then(|b| Document::parse(b, &path.display().to_string()).map_err(|e| e.to_string()))
        .and_then(|d| {
            Job::from_document(&d)
                .map(|j| (d, j))
                .map_err(|e| e.to_string())
        });
    let (doc, job) = match parsed {
        Ok(x) => x,
        Err(e) => {
            let err = std::fs::read_to_string(format!("{}.err", path.display()))
                .map(|s| format!("{e} ({})", s.trim().replace('\n', "; ")))
                .unwrap_or(e);
            v.error = Some(err);
            return v;
        }
    };
    let policy = Policy {
        cfg: sys.layer.clone(),
        usr: PolicyLayer::empty(Level::Usr),
        fs: job.policy.clone(),
    };
    if let Some(tz) = policy.fs.timezone.or(policy.cfg.timezone) {
        v.tz = tz;
    }
    let d = &job.destinations;
    v.destination = d
        .fax_phone
        .clone()
        .or_else(|| d.voice_phone.clone())
        .or_else(|| d.sms_phone.clone())
        .or_else(|| d.email_address.clone());
    // A number without a digit names no destination to compare with.
    v.dest_key = v
        .destination
        .as_deref()
        .map(dest_key)
        .filter(|k| !k.is_empty());
    v.channel = job.channel();
    v.status2 = job.status2;
    v.fail_reason = doc.last("fail_reason").map(|c| c.joined());
    for c in doc.named(|n| matches!(n, "attempt_record" | "retry_note")) {
        if c.name == "attempt_record" {
            if let Ok(r) = AttemptRecord::from_command(&c) {
                v.steps.push(Step::Attempt {
                    at: r.start(),
                    code: r.outcome,
                    class: r.class.letter(),
                    line: r.boardline().to_string(),
                    call_secs: r.call,
                });
            }
        } else if c.name == "retry_note" {
            if let Some(n) = RetryNote::from_command(&c) {
                v.steps.push(Step::Retry(n));
            }
        }
    }
    v.records = job.records.clone();
    if let Some(first) = v.records.first() {
        v.age = v.instant(first.start());
    }
    if let Some(last) = v.records.last() {
        v.last_end = Some(v.instant(last.start()) + Duration::seconds(i64::from(last.call)));
    }
    v.tosend = job
        .tosend
        .or_else(|| v.records.last().map(|r| r.tosend))
        .unwrap_or(0);
    v
}

/// Every job in the spool: queues, ACTIVE (each node), SENT and FAIL.
pub fn scan(layout: &Layout, sys: &SystemConfig) -> Vec<JobView> {
    let mut dirs: Vec<(PathBuf, Place)> = layout
        .queues()
        .map(|q| (layout.queue_dir(q), Place::Queue(q)))
        .collect();
    for n in lease::node_dirs(layout) {
        dirs.push((layout.active(&n), Place::Active(n)));
    }
    dirs.push((layout.sent(), Place::Sent));
    dirs.push((layout.fail(), Place::Fail));
    let mut out = Vec::new();
    for (dir, place) in dirs {
        for name in store::list_jobs(&dir).unwrap_or_default() {
            out.push(read_job(&dir.join(name), place.clone(), sys));
        }
    }
    out
}

/// The class the outcome table gives the last attempt's code (the recorded class is `Z` for a
/// final failure, whatever the code was). A job failed because its destination is on the
/// do-not-call list is judged by that code (39), whatever its earlier attempts were.
pub fn last_table_class(v: &JobView, sys: &SystemConfig) -> Option<(u32, Class, String)> {
    let dnc = crate::daemon::CODE_DO_NOT_CALL;
    let last = v.records.last().filter(|_| v.status2 != Some(dnc));
    let code = last.map(|r| r.outcome).or(v.status2)?;
    let channel = last
        .and_then(|r| Channel::from_type_code(r.kind))
        .or(v.channel);
    let row = sys.outcomes.classify(code, channel);
    Some((code, row.class, row.description))
}

/// The display name of a place.
pub fn place_name(p: &Place) -> String {
    match p {
        Place::Queue(q) => crate::spool::queue_name(*q),
        Place::Active(n) => format!("ACTIVE/{n}"),
        Place::Sent => "SENT".into(),
        Place::Fail => "FAIL".into(),
    }
}
