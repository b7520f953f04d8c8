//! `redial list` (HylaFAX's faxstat): one row per job in the spool — where it is, its state
//! (due, scheduled, waiting for a retry, held and why, in progress on which line of which node,
//! sent, failed), destination, next start, attempts and last outcome — with filters.
//!
//! Read-only, built from the existing readers: every file is read once by the operator's scan
//! ([`scan::read_job`]); a queued job's state is the one `redial status` counts
//! ([`report::queued_state`], the daemon's own computation); lines in progress come from the
//! nodes' leases. It never moves or writes a file.

use super::retry::Selection;
use super::scan::{self, JobView};
use crate::load::SystemConfig;
use crate::spool::report::{self, QueuedState, Standing};
use crate::spool::{lease, progress, store, JobName, Layout, Place};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// The calls' steps of every node, by job ([`progress::read_all`]).
type Live = HashMap<String, (String, progress::Progress)>;

/// A state to select (`--state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// May start now.
    Due,
    /// Waits for its send date and time.
    Scheduled,
    /// Waits for its retry time.
    WaitingRetry,
    /// Held: by a window, by an operator, or no line serves it.
    Held,
    /// Its windows allow no start (the daemon fails it).
    NoStart,
    /// A file that cannot be read as a job.
    Unreadable,
    /// In progress on a node.
    InProgress,
    /// In SENT.
    Sent,
    /// In FAIL.
    Failed,
}

impl State {
    /// Every name `--state` takes, with what it selects.
    pub const NAMES: &'static [(&'static str, &'static [State])] = &[
        ("due", &[State::Due]),
        ("scheduled", &[State::Scheduled]),
        ("waiting_retry", &[State::WaitingRetry]),
        ("waiting", &[State::WaitingRetry]),
        ("held", &[State::Held]),
        ("no_start", &[State::NoStart]),
        ("unreadable", &[State::Unreadable]),
        ("in_progress", &[State::InProgress]),
        ("active", &[State::InProgress]),
        ("sent", &[State::Sent]),
        ("failed", &[State::Failed]),
        (
            "queued",
            &[
                State::Due,
                State::Scheduled,
                State::WaitingRetry,
                State::Held,
                State::NoStart,
                State::Unreadable,
            ],
        ),
    ];

    /// Reads a comma-separated list of state names (`-` or `_` between words, any case).
    pub fn parse_list(s: &str) -> Result<Vec<State>, String> {
        let mut out = Vec::new();
        for item in s.split(',') {
            let key = item.trim().to_ascii_lowercase().replace('-', "_");
            let Some((_, states)) = State::NAMES.iter().find(|(n, _)| *n == key) else {
                let names: Vec<&str> = State::NAMES.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "{:?} is not a state: give {}, separated by commas",
                    item.trim(),
                    names.join(", ")
                ));
            };
            out.extend_from_slice(states);
        }
        Ok(out)
    }
}

/// One job.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// File name.
    pub job: String,
    /// Folder: `TOSEND`, `TOSEND2`, `ACTIVE/n1`, `SENT`, `FAIL`.
    pub place: String,
    /// The state.
    pub state: State,
    /// The state in words: `held by a window until …`, `in progress on line 2 (node n1)`, the
    /// reason a job is held or cannot start.
    pub detail: String,
    /// In progress: the line.
    pub line: Option<u32>,
    /// In progress: the node.
    pub node: Option<String>,
    /// Number or address.
    pub destination: Option<String>,
    /// Queued: when it may start next (UTC).
    pub next: Option<DateTime<Utc>>,
    /// `next` in the CFG's `$timezone`, `YYYY-MM-DD HH:MM:SS`.
    pub next_local: Option<String>,
    /// Attempt records in the file.
    pub attempts: usize,
    /// The last attempt's outcome code.
    pub last_code: Option<u32>,
    /// Its class in the outcome table.
    pub last_class: Option<char>,
    /// Its description.
    pub last_outcome: Option<String>,
    /// `$fail_reason`, when there is one.
    pub fail_reason: Option<String>,
    /// In progress: the call's latest step as its line reported it (`page 2/5 at 14400`).
    pub step: Option<String>,
}

impl Row {
    /// Adds the live step of a job in progress (from its node's calls file, when the line
    /// reported one) to the row and its detail.
    fn with_step(mut self, live: &Live) -> Row {
        if self.state == State::InProgress {
            if let Some((node, p)) = progress::step_of(live, &self.job, self.attempts + 1) {
                if self.line.is_none() {
                    // The node's lease names the line only from its next renewal on.
                    self.detail = format!("in progress on line {} (node {node})", p.line);
                    self.line = Some(p.line);
                    self.node = Some(node);
                }
                self.detail = format!("{}: {}", self.detail, p.step);
                self.step = Some(p.step);
            }
        }
        self
    }
}

/// What to list. Empty fields select everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The job's folder is this queue (queued jobs only).
    pub queue: Option<u8>,
    /// One of these states.
    pub states: Option<Vec<State>>,
    /// Destination pattern (`*`, `?`; digits compared as everywhere).
    pub dest: Option<String>,
    /// Class letters of the last outcome ([`super::retry::parse_classes`]).
    pub class: Option<String>,
    /// Last activity (last attempt's start, else when the file was written) on or after this
    /// local day.
    pub since: Option<NaiveDate>,
    /// … on or before this local day.
    pub until: Option<NaiveDate>,
}

/// Every job matching `filter` at `now`, queues first (in order), then in progress, SENT,
/// FAIL; FIFO by name within each.
pub fn list(
    layout: &Layout,
    sys: &SystemConfig,
    now: DateTime<Utc>,
    lines: Option<&crate::linegroup::LineMap>,
    filter: &Filter,
) -> Result<Vec<Row>, String> {
    let selection = Selection {
        class: filter.class.clone(),
        dest: filter.dest.clone(),
        ..Selection::default()
    }
    .checked()?;
    let tz = sys.layer.timezone.unwrap_or(chrono_tz::UTC);
    let base = layout.root.parent();
    // Which line of which node holds each job in progress.
    let mut on_line: HashMap<String, (String, u32)> = HashMap::new();
    for l in lease::read_all(layout) {
        for x in &l.lines {
            if let Some(j) = &x.job {
                on_line.insert(j.clone(), (l.node.clone(), x.line));
            }
        }
    }
    let mut dirs: Vec<(std::path::PathBuf, Place)> = Vec::new();
    for q in layout.queues() {
        if filter.queue.is_none_or(|f| f == q) {
            dirs.push((layout.queue_dir(q), Place::Queue(q)));
        }
    }
    if filter.queue.is_none() {
        for n in lease::node_dirs(layout) {
            dirs.push((layout.active(&n), Place::Active(n)));
        }
        dirs.push((layout.sent(), Place::Sent));
        dirs.push((layout.fail(), Place::Fail));
    }
    let wanted = |s: State| filter.states.as_ref().is_none_or(|v| v.contains(&s));
    let live = if filter.queue.is_none() && wanted(State::InProgress) {
        progress::read_all(layout)
    } else {
        Live::default()
    };
    let mut rows = Vec::new();
    for (dir, place) in dirs {
        // A state the filter cannot match in this folder: the folder is not read at all.
        let possible = match &place {
            Place::Queue(_) => [
                State::Due,
                State::Scheduled,
                State::WaitingRetry,
                State::Held,
                State::NoStart,
                State::Unreadable,
            ]
            .into_iter()
            .any(wanted),
            Place::Active(_) => wanted(State::InProgress),
            Place::Sent => wanted(State::Sent),
            Place::Fail => wanted(State::Failed),
        };
        if !possible {
            continue;
        }
        let mut names = store::list_jobs(&dir).unwrap_or_default();
        names.sort_by_cached_key(|n| JobName::new(n));
        for name in names {
            let path = dir.join(&name);
            // Read once: the view and, for a queued job, its state come from the same bytes.
            let bytes = std::fs::read(&path).map_err(|e| e.to_string());
            let v = scan::view_of(
                &path,
                place.clone(),
                sys,
                bytes.as_deref().map_err(Clone::clone),
            );
            if !selection.matches(&v, sys) || !in_days(&v, filter) {
                continue;
            }
            let row = row(
                &v,
                bytes.as_deref().ok(),
                sys,
                now,
                tz,
                base,
                lines,
                &on_line,
            )
            .with_step(&live);
            if wanted(row.state) {
                rows.push(row);
            }
        }
    }
    Ok(rows)
}

/// The row of one job, found by [`super::locate::find`] (what `redial send --wait` follows).
pub fn row_of(
    layout: &Layout,
    sys: &SystemConfig,
    now: DateTime<Utc>,
    lines: Option<&crate::linegroup::LineMap>,
    found: &super::locate::Found,
) -> Row {
    let tz = sys.layer.timezone.unwrap_or(chrono_tz::UTC);
    let mut on_line: HashMap<String, (String, u32)> = HashMap::new();
    if matches!(found.place, Place::Active(_)) {
        for l in lease::read_all(layout) {
            for x in &l.lines {
                if let Some(j) = &x.job {
                    on_line.insert(j.clone(), (l.node.clone(), x.line));
                }
            }
        }
    }
    let bytes = std::fs::read(&found.path).map_err(|e| e.to_string());
    let v = scan::view_of(
        &found.path,
        found.place.clone(),
        sys,
        bytes.as_deref().map_err(Clone::clone),
    );
    row(
        &v,
        bytes.as_deref().ok(),
        sys,
        now,
        tz,
        layout.root.parent(),
        lines,
        &on_line,
    )
    .with_step(&progress::read_all(layout))
}

/// Whether the job's last activity falls in `--since`/`--until` (its own local days).
fn in_days(v: &JobView, f: &Filter) -> bool {
    if f.since.is_none() && f.until.is_none() {
        return true;
    }
    let day = match v.records.last() {
        Some(r) => r.start().date(),
        None => v.local(v.age).date(),
    };
    f.since.is_none_or(|d| day >= d) && f.until.is_none_or(|d| day <= d)
}

/// The message id an SMS job waits for a delivery report of (`$sms_pending`), if it does.
fn sms_waiting(bytes: &[u8], path: &std::path::Path) -> Option<String> {
    // Most jobs are not SMS jobs waiting for a report: only those are parsed again.
    memchr::memmem::find(bytes, b"$sms_pending")?;
    let doc = crate::command::Document::parse(bytes, &path.display().to_string()).ok()?;
    crate::daemon::sms::pending(&doc).map(|p| p.id)
}

#[allow(clippy::too_many_arguments)]
fn row(
    v: &JobView,
    bytes: Option<&[u8]>,
    sys: &SystemConfig,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
    base: Option<&std::path::Path>,
    lines: Option<&crate::linegroup::LineMap>,
    on_line: &HashMap<String, (String, u32)>,
) -> Row {
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
    let last = scan::last_table_class(v, sys).filter(|_| !v.records.is_empty());
    let detail: String;
    let (mut state, mut next, mut line, mut node) = (State::Unreadable, None, None, None);
    match &v.place {
        Place::Queue(_) if v.error.is_some() => {
            detail = v.error.clone().unwrap_or_default();
        }
        Place::Queue(_) => {
            match bytes.and_then(|b| report::queued_state_of(b, &v.path, sys, base, now, lines)) {
                None => detail = "cannot be read as a job".into(),
                Some(QueuedState::HeldForGood(why)) => {
                    state = State::Held;
                    detail = why;
                }
                Some(QueuedState::NoStart(why)) => {
                    state = State::NoStart;
                    detail = format!("no start possible: {why}");
                }
                Some(QueuedState::Standing(s)) => {
                    let (st, at, words) = match s {
                        Standing::Due => (State::Due, now, "due now".to_string()),
                        Standing::Held(t) => (
                            State::Held,
                            t,
                            format!("held by a window until {}", local(t)),
                        ),
                        Standing::WaitingRetry(t) => (
                            State::WaitingRetry,
                            t,
                            match bytes.and_then(|b| sms_waiting(b, &v.path)) {
                                Some(id) => format!(
                                    "waiting for the delivery report of SMS {id} until {} (never resent while it waits)",
                                    local(t)
                                ),
                                None => format!("waiting for its retry time {}", local(t)),
                            },
                        ),
                        Standing::Scheduled(t) => {
                            (State::Scheduled, t, format!("scheduled for {}", local(t)))
                        }
                    };
                    state = st;
                    next = Some(at);
                    detail = words;
                }
            }
        }
        Place::Active(n) => {
            state = State::InProgress;
            // The lease names the line while the node runs; the job's dialling mark also
            // when it does not (a node that died mid-call, not yet taken over).
            let (holder, l) = match on_line.get(&v.name) {
                Some((holder, l)) => (holder.clone(), Some(*l)),
                None => (
                    n.clone(),
                    crate::spool::dialling::live_mark(&v.path).map(|m| m.line),
                ),
            };
            detail = match l {
                Some(l) => format!("in progress on line {l} (node {holder})"),
                None => format!("in progress (node {holder})"),
            };
            line = l;
            node = Some(holder);
        }
        Place::Sent => {
            state = State::Sent;
            detail = "sent".into();
        }
        Place::Fail => {
            state = State::Failed;
            detail = match &v.fail_reason {
                Some(r) => format!("failed: {r}"),
                None => "failed".into(),
            };
        }
    }
    Row {
        job: v.name.clone(),
        place: scan::place_name(&v.place),
        state,
        detail,
        line,
        node,
        destination: v.destination.clone(),
        next,
        next_local: next.map(local),
        attempts: v.records.len(),
        last_code: last.as_ref().map(|l| l.0),
        last_class: last.as_ref().map(|l| l.1.letter()),
        last_outcome: last.map(|l| l.2),
        fail_reason: v.fail_reason.clone(),
        step: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names() {
        assert_eq!(
            State::parse_list("due, In-Progress,waiting").unwrap(),
            [State::Due, State::InProgress, State::WaitingRetry]
        );
        assert_eq!(State::parse_list("queued").unwrap().len(), 6);
        let e = State::parse_list("due,gone").unwrap_err();
        assert!(
            e.contains("\"gone\" is not a state") && e.contains("in_progress"),
            "{e}"
        );
    }
}
