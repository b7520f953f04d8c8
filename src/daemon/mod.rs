//! The spooler daemon: the thin shell that moves job files and calls the pure core.
//!
//! Owns one node's work: indexing the queues, claiming due jobs by rename into
//! `ACTIVE/<node>/`, placing attempts on lines, turning outcomes into records through the retry
//! engine, moving files on (queue, SENT, FAIL), failing bad input, recovering after a crash and
//! taking over dead nodes. Time comes only from its [`Clock`]; the async service
//! ([`service`]) or a virtual-clock driver ([`Daemon::run_virtual`]) decides when to call
//! [`Daemon::poll`]. It never decides a retry itself (the engine does) and never sleeps.

pub mod clock;
mod recover;
pub mod service;
pub mod settings;

use crate::calendar::CalendarError;
use crate::command::{Document, ParseError};
use crate::dispatch::{Dispatcher, LineState, Pick};
use crate::job::Job;
use crate::line::breaker::{Destinations, Settings as BreakerSettings, LINE_FAULT_CODES};
use crate::line::{Call, CallResult, Completion, Line, Placed};
use crate::load::{job_seed, read_document, SystemConfig};
use crate::retry::attempt::AttemptRecord;
use crate::retry::engine::{decide, Action, Input, ThisAttempt};
use crate::retry::outcome::{Channel, Class};
use crate::retry::policy::{Level, Policy, PolicyLayer};
use crate::spool::index::{Entry, Index};
use crate::spool::store::{self, free_name, rename_durable, write_atomic};
use crate::spool::{lease, rewrite, JobName, Layout};
use chrono::{DateTime, Duration, Utc};
use clock::Clock;
use settings::Settings;
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::mpsc;

/// Outcome code: file found stuck in progress (interrupted attempt).
pub const CODE_INTERRUPTED: u32 = 66;
/// Outcome code: a document is missing.
pub const CODE_MISSING_DOCUMENT: u32 = 30;
/// Outcome code: the job has no destination.
pub const CODE_NO_DESTINATION: u32 = 32;
/// Outcome code: the job file is invalid.
pub const CODE_INVALID: u32 = 33;

/// Something that happened, for progress output and tests (each is also a tracing event).
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// An attempt started.
    Dialling {
        /// Job file name.
        job: String,
        /// Queue it came from.
        queue: u8,
        /// Line.
        line: u32,
        /// Number dialled.
        number: String,
        /// Attempt number in the cycle.
        attempt: usize,
        /// When.
        at: DateTime<Utc>,
    },
    /// An attempt ended and the engine decided.
    Outcome {
        /// Job.
        job: String,
        /// Line (None for a recovered attempt on an unknown line).
        line: Option<u32>,
        /// Outcome code.
        code: u32,
        /// Class recorded.
        class: char,
        /// Code description.
        description: String,
        /// When it ended.
        at: DateTime<Utc>,
        /// What happens next.
        next: Next,
        /// The engine's reason.
        reason: String,
    },
    /// A job could not be attempted (bad input) and went to FAIL.
    Rejected {
        /// Job.
        job: String,
        /// Code written.
        code: u32,
        /// Why (file, line, reason).
        reason: String,
        /// When.
        at: DateTime<Utc>,
    },
    /// A job left in `ACTIVE` by a crash was found.
    Recovered {
        /// Job.
        job: String,
        /// Whose `ACTIVE` it was in.
        node: String,
    },
    /// Another node's `ACTIVE` directory was taken over.
    TookOver {
        /// The dead node.
        node: String,
    },
}

/// Where a job goes after an attempt.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// Back to a queue, due at an instant.
    Retry(u8, DateTime<Utc>),
    /// SENT.
    Sent,
    /// FAIL.
    Fail,
}

/// Why a job cannot be attempted.
#[derive(Debug, Clone)]
pub struct Bad {
    /// Code for `$fax_status2`.
    pub code: u32,
    /// File, line and reason.
    pub reason: String,
    /// The document, when it parsed (else the file is kept with a `.err` beside it).
    pub doc: Option<Document>,
}

/// A job read and resolved.
#[derive(Debug, Clone)]
pub struct Loaded {
    doc: Document,
    job: Job,
    policy: Policy,
}

struct InFlight {
    queue: u8,
    name: String,
    path: PathBuf,
    started: DateTime<Utc>,
    loaded: Loaded,
    channel: Channel,
    dest: u64,
    until: Option<(DateTime<Utc>, CallResult)>,
}

/// Counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Attempts placed.
    pub attempts: u64,
    /// Jobs moved to SENT.
    pub sent: u64,
    /// Jobs moved to FAIL (including rejected).
    pub failed: u64,
    /// Jobs rejected as bad input.
    pub rejected: u64,
    /// Retries scheduled.
    pub retried: u64,
    /// Interrupted attempts recovered.
    pub recovered: u64,
}

/// A callback for events.
pub type Observer = Box<dyn FnMut(&Event) + Send>;

/// One node of the spooler.
pub struct Daemon {
    base: PathBuf,
    cfg_path: Option<PathBuf>,
    node: String,
    sys: SystemConfig,
    settings: Settings,
    /// Breakers per destination (by the index's destination hash).
    destinations: Destinations<u64>,
    clock: Arc<dyn Clock>,
    index: Index,
    dispatch: Dispatcher,
    lines: BTreeMap<u32, Box<dyn Line>>,
    inflight: BTreeMap<u32, InFlight>,
    completion: Completion,
    reported: mpsc::UnboundedReceiver<(u32, CallResult)>,
    /// Results taken by [`Daemon::wait_reported`], handled by the next [`Daemon::poll`].
    waited: Vec<(u32, CallResult)>,
    usr_cache: HashMap<PathBuf, PolicyLayer>,
    observer: Option<Observer>,
    draining: bool,
    temp_prefix: String,
    lock: Option<std::fs::File>,
    /// Counters.
    pub stats: Stats,
}

/// Hash of a destination (for `$max_concurrent_calls`).
pub fn dest_hash(number: &str) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    crate::line::sim::digits(number)
        .to_ascii_lowercase()
        .hash(&mut h);
    h.finish()
}

fn secs(t: DateTime<Utc>) -> i64 {
    t.timestamp()
}

impl Daemon {
    /// A node named `node` over the CFG `cfg` (or built-in defaults), resolving relative paths
    /// against `base`, with its `$line`s built from the CFG. `lines` replaces them when given
    /// (tests pass scripted lines).
    pub fn new(
        cfg_path: Option<&Path>,
        base: &Path,
        node: &str,
        clock: Arc<dyn Clock>,
        lines: Option<Vec<Box<dyn Line>>>,
    ) -> anyhow::Result<Daemon> {
        anyhow::ensure!(
            !node.is_empty()
                && node
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            "node name {node:?}: use letters, digits, - and _"
        );
        let sys = match cfg_path {
            Some(p) => SystemConfig::load(p)?,
            None => SystemConfig::builtin(),
        };
        // Absolute paths: watcher events, lease files and recovery do not depend on the cwd.
        let base = &std::path::absolute(base)?;
        let settings = Settings::from_cfg(&sys.document, base, node).map_err(anyhow::Error::msg)?;
        let lines = match lines {
            Some(l) => l,
            None => {
                let defs = crate::line::line_defs(&sys.document).map_err(anyhow::Error::msg)?;
                crate::line::build_lines(&sys.document, &defs).map_err(anyhow::Error::msg)?
            }
        };
        let (completion, reported) = mpsc::unbounded_channel();
        let mut d = Daemon {
            base: base.to_path_buf(),
            cfg_path: cfg_path.map(Path::to_path_buf),
            node: node.to_string(),
            dispatch: Dispatcher::new(&[], Vec::new(), node, 1),
            sys,
            destinations: dest_breakers(&settings),
            settings,
            clock,
            index: Index::new(),
            lines: BTreeMap::new(),
            inflight: BTreeMap::new(),
            completion,
            reported,
            waited: Vec::new(),
            usr_cache: HashMap::new(),
            observer: None,
            draining: false,
            temp_prefix: format!(".{node}."),
            lock: None,
            stats: Stats::default(),
        };
        d.install_lines(lines);
        Ok(d)
    }

    fn install_lines(&mut self, lines: Vec<Box<dyn Line>>) {
        let keep = self.settings.lines.clone();
        self.lines = lines
            .into_iter()
            .filter(|l| keep.as_ref().is_none_or(|s| s.contains(l.number())))
            .map(|l| (l.number(), l))
            .collect();
        let states: Vec<(u32, bool)> = self
            .lines
            .values()
            .map(|l| (l.number(), l.is_up()))
            .collect();
        let groups = self.line_groups();
        self.dispatch = Dispatcher::new(&states, groups, &self.node, self.settings.max_per_dest);
        for (line, f) in &self.inflight {
            self.dispatch.start(*line, f.dest);
        }
    }

    /// Named groups: `$line_group` plus `group=NAME` on `$line` definitions.
    fn line_groups(&self) -> Vec<(String, crate::linegroup::LineSet)> {
        let mut g = self.sys.layer.line_groups.clone();
        if let Ok(defs) = crate::line::line_defs(&self.sys.document) {
            for d in defs {
                if let Some(name) = d.param("group") {
                    for n in name.split(',') {
                        if let Ok(set) = crate::linegroup::LineSet::parse(&d.number.to_string()) {
                            g.insert(0, (n.to_ascii_lowercase(), set));
                        }
                    }
                }
            }
        }
        // A name defined both ways selects the union: resolve() takes the last definition, so
        // merge by rewriting each name as one set of members.
        let mut merged: Vec<(String, crate::linegroup::LineSet)> = Vec::new();
        let all: Vec<u32> = self.lines.keys().copied().collect();
        for (name, _) in &g {
            if merged.iter().any(|(n, _)| n == name) {
                continue;
            }
            let members: Vec<String> = all
                .iter()
                .filter(|l| g.iter().any(|(n, s)| n == name && s.contains(**l)))
                .map(u32::to_string)
                .collect();
            let spec = if members.is_empty() {
                "0".to_string()
            } else {
                members.join(",")
            };
            if let Ok(set) = crate::linegroup::LineSet::parse(&spec) {
                merged.push((name.clone(), set));
            }
        }
        merged
    }

    /// Calls `f` on every event (the demo prints them; tests collect them).
    pub fn on_event(&mut self, f: impl FnMut(&Event) + Send + 'static) {
        self.observer = Some(Box::new(f));
    }

    fn emit(&mut self, e: Event) {
        if let Some(f) = self.observer.as_mut() {
            f(&e);
        }
    }

    /// The spool layout.
    pub fn layout(&self) -> &Layout {
        &self.settings.layout
    }
    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }
    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
    /// The index (read-only).
    pub fn index(&self) -> &Index {
        &self.index
    }
    /// Calls in progress.
    pub fn in_flight(&self) -> usize {
        self.inflight.len()
    }
    /// The settings.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    /// The system configuration.
    pub fn system(&self) -> &SystemConfig {
        &self.sys
    }
    /// The directory relative paths are relative to.
    pub fn base(&self) -> &Path {
        &self.base
    }
    /// Each line and whether it takes calls now (false while its breaker is open), for metrics.
    pub fn lines_up(&self) -> Vec<(u32, bool)> {
        self.lines
            .values()
            .map(|l| (l.number(), l.is_up()))
            .collect()
    }

    /// Start-up: directories, the node lock, the lease, recovery of this node's `ACTIVE`,
    /// then a full scan of the queues.
    pub fn start(&mut self) -> anyhow::Result<()> {
        let layout = self.settings.layout.clone();
        layout.create(None)?;
        let lock = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(layout.lock(&self.node))?;
        if lock.try_lock().is_err() {
            anyhow::bail!(
                "node {:?} is already running on this spool ({})",
                self.node,
                layout.lock(&self.node).display()
            );
        }
        self.lock = Some(lock);
        store::clean_temp(&layout.temp(), &self.temp_prefix)?;
        self.renew_lease()?;
        let mine = layout.active(&self.node);
        if mine.is_dir() {
            self.recover_dir(&mine, &self.node.clone());
        }
        std::fs::create_dir_all(&mine)?;
        self.rescan();
        Ok(())
    }

    /// Reads every queue and brings the index in line with the directories (start-up, periodic
    /// reconciliation, and after the watcher lost events).
    pub fn rescan(&mut self) {
        let order = self.settings.order.clone();
        for q in order {
            let dir = self.settings.layout.queue_dir(q);
            let names = match store::list_jobs(&dir) {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(queue = q, error = %e, "cannot list queue");
                    continue;
                }
            };
            let present: std::collections::HashSet<&str> =
                names.iter().map(String::as_str).collect();
            let gone: Vec<JobName> = self
                .index
                .names(q)
                .filter(|n| !present.contains(n.as_str()))
                .cloned()
                .collect();
            for n in gone {
                self.index.remove(q, &n);
            }
            for n in &names {
                if self.index.get(q, &JobName::new(n)).is_none() {
                    self.index_file(q, n);
                }
            }
        }
    }

    /// A file changed (watcher): index it, or drop it when it is gone.
    pub fn on_path(&mut self, path: &Path) {
        if let Some(crate::spool::Place::Queue(q)) = self.settings.layout.place_of(path) {
            if !self.settings.order.contains(&q) {
                return;
            }
            if let Some(name) = path.file_name().and_then(|n| n.to_str()) {
                if crate::spool::is_job_name(name) {
                    self.index_file(q, name);
                }
            }
        }
    }

    /// Reads a queued job and puts it in the index (or fails it when it is bad).
    pub fn index_file(&mut self, q: u8, name: &str) {
        let path = self.settings.layout.queue_dir(q).join(name);
        let key = JobName::new(name);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(_) => {
                self.index.remove(q, &key);
                return;
            }
        };
        let now = self.clock.now();
        match self.load(&path, &bytes).and_then(|l| self.check(l)) {
            Ok(l) => match self.due(&l, now) {
                Ok(due) => {
                    let group = self
                        .index
                        .group_id(l.job.send_line.as_deref().unwrap_or("*"));
                    let dest = dest_hash(&number_of(&l).unwrap_or_default());
                    self.index.upsert(
                        q,
                        key,
                        Entry {
                            due: secs(due),
                            group,
                            dest,
                        },
                    );
                }
                Err(e) => self.reject_queued(q, name, due_bad(e, l.doc)),
            },
            Err(bad) => self.reject_queued(q, name, bad),
        }
    }

    /// Parses a job file and resolves its policy (USR profiles cached by path).
    pub fn load(&mut self, path: &Path, bytes: &[u8]) -> Result<Loaded, Bad> {
        let origin = path.display().to_string();
        let doc = Document::parse(bytes, &origin).map_err(|e| Bad {
            code: CODE_INVALID,
            reason: e.to_string(),
            doc: None,
        })?;
        let job = match Job::from_document(&doc) {
            Ok(j) => j,
            Err(e) => {
                return Err(Bad {
                    code: CODE_INVALID,
                    reason: e.to_string(),
                    doc: Some(doc),
                })
            }
        };
        let usr = match &job.user {
            Some(u) => {
                let p = self.resolve(u);
                if p.is_file() {
                    match self.usr_layer(&p) {
                        Ok(l) => l,
                        Err(e) => {
                            return Err(Bad {
                                code: CODE_INVALID,
                                reason: format!("user profile: {e}"),
                                doc: Some(doc),
                            })
                        }
                    }
                } else {
                    PolicyLayer::empty(Level::Usr)
                }
            }
            None => PolicyLayer::empty(Level::Usr),
        };
        let policy = Policy {
            cfg: self.sys.layer.clone(),
            usr,
            fs: job.policy.clone(),
        };
        Ok(Loaded { doc, job, policy })
    }

    fn usr_layer(&mut self, p: &Path) -> Result<PolicyLayer, String> {
        if let Some(l) = self.usr_cache.get(p) {
            return Ok(l.clone());
        }
        let doc = read_document(p).map_err(|e| e.to_string())?;
        let layer =
            PolicyLayer::from_document(&doc, Level::Usr).map_err(|e: ParseError| e.to_string())?;
        self.usr_cache.insert(p.to_path_buf(), layer.clone());
        Ok(layer)
    }

    fn resolve(&self, p: &str) -> PathBuf {
        let path = PathBuf::from(p.replace('\\', "/"));
        if path.is_relative() {
            self.base.join(path)
        } else {
            path
        }
    }

    /// Bad-input checks: a destination, and every document present.
    fn check(&self, l: Loaded) -> Result<Loaded, Bad> {
        let file = l.doc.origin().to_string();
        if l.job.channel().is_none() {
            return Err(Bad {
                code: CODE_NO_DESTINATION,
                reason: format!("{file}: the job has no destination ($fax_phone, $voice_phone, $sms_phone or $email_address)"),
                doc: Some(l.doc),
            });
        }
        let mut missing = None;
        for c in l
            .doc
            .all("fax_filename")
            .chain(l.doc.all("fax_cover").take(1))
        {
            let docs: Vec<&str> = if c.name.eq_ignore_ascii_case("fax_cover") {
                c.arg(0).into_iter().collect()
            } else {
                c.texts()
            };
            for d in docs {
                if !self.resolve(d).is_file() {
                    missing = Some(format!("{file}:{}: document {d:?} is missing", c.line));
                    break;
                }
            }
            if missing.is_some() {
                break;
            }
        }
        match missing {
            Some(reason) => Err(Bad {
                code: CODE_MISSING_DOCUMENT,
                reason,
                doc: Some(l.doc),
            }),
            None => Ok(l),
        }
    }

    /// When a job may next start: its next/send time, moved by send and pause windows.
    fn due(&self, l: &Loaded, now: DateTime<Utc>) -> Result<DateTime<Utc>, CalendarError> {
        let cal = l.policy.calendar();
        let base = l.job.due_local().map_or(now, |t| cal.instant(t));
        let first_day = l
            .job
            .cycle()
            .first()
            .map_or_else(|| cal.local(now).date(), |r| r.start.date());
        let window = l.job.send_window(first_day);
        cal.earliest_start(base, window.as_ref())
    }

    /// When the daemon next has something to do by the clock: a call ending or a job due.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        let calls = self
            .inflight
            .values()
            .filter_map(|f| f.until.as_ref().map(|u| u.0))
            .min();
        let due = if self.draining {
            None
        } else {
            self.index
                .next_due()
                .and_then(|s| DateTime::from_timestamp(s, 0))
        };
        match (calls, due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whether nothing is queued for this node and no call is in flight.
    pub fn is_idle(&self) -> bool {
        self.inflight.is_empty() && self.index.is_empty()
    }

    /// Does everything that is due now: ends calls whose time has come, takes reported results,
    /// dispatches due jobs to free lines. Returns how many events it handled.
    pub fn poll(&mut self) -> usize {
        let mut n = 0;
        loop {
            let now = self.clock.now();
            let ended: Vec<u32> = self
                .inflight
                .iter()
                .filter(|(_, f)| f.until.as_ref().is_some_and(|u| u.0 <= now))
                .map(|(l, _)| *l)
                .collect();
            let mut progressed = false;
            for line in ended {
                let f = self.inflight.remove(&line).expect("in flight");
                let (at, result) = f.until.clone().expect("until");
                self.finish(line, f, result, at);
                progressed = true;
                n += 1;
            }
            let waited = std::mem::take(&mut self.waited);
            let reported = std::iter::from_fn(|| self.reported.try_recv().ok());
            for (line, result) in waited.into_iter().chain(reported.collect::<Vec<_>>()) {
                if let Some(f) = self.inflight.remove(&line) {
                    self.finish(line, f, result, now);
                    progressed = true;
                    n += 1;
                }
            }
            if !self.draining {
                self.index.promote(secs(now));
                let order = self.settings.order.clone();
                while let Some(p) = self.dispatch.pick(&self.index, &order) {
                    self.begin(p, now);
                    progressed = true;
                    n += 1;
                }
            }
            if !progressed {
                return n;
            }
        }
    }

    /// Claims a job and places the attempt.
    fn begin(&mut self, p: Pick, now: DateTime<Utc>) {
        let Pick {
            queue: q,
            name,
            line,
        } = p;
        let entry = self.index.remove(q, &name);
        if let Some(e) = entry.as_ref().filter(|_| self.settings.dest_breaker.0 > 0) {
            if let Some(until) = self.destinations.paused_until(&e.dest, now) {
                // The number failed too often in a row: the job waits in its queue, untouched.
                tracing::info!(job = %name, until = %until, "destination paused by its breaker");
                let mut e = e.clone();
                e.due = secs(until);
                self.index.upsert(q, name, e);
                return;
            }
        }
        let layout = self.settings.layout.clone();
        let src = layout.queue_dir(q).join(name.as_str());
        let dst = layout.active(&self.node).join(name.as_str());
        if dst.exists() {
            // The same name is already in progress here: it waits for the rescan.
            return;
        }
        if let Err(e) = self.claim(&src, &dst) {
            if e.kind() != std::io::ErrorKind::NotFound {
                tracing::warn!(job = %name, error = %e, "claim failed");
            }
            return;
        }
        let bytes = match std::fs::read(&dst) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(job = %name, error = %e, "claimed job unreadable");
                return;
            }
        };
        let loaded = match self.load(&dst, &bytes).and_then(|l| self.check(l)) {
            Ok(l) => l,
            Err(bad) => return self.reject_active(&dst, name.as_str(), bad),
        };
        match self.due(&loaded, now) {
            Err(e) => return self.reject_active(&dst, name.as_str(), due_bad(e, loaded.doc)),
            Ok(due) if due > now + Duration::seconds(1) || entry.is_none() => {
                // Changed since indexed: give it back unchanged.
                let back = free_name(&layout.queue_dir(q), name.as_str());
                if rename_durable(&dst, &back).is_ok() {
                    if let Some(n) = back.file_name().and_then(|n| n.to_str()) {
                        self.index_file(q, n);
                    }
                }
                return;
            }
            Ok(_) => {}
        }
        let mut loaded = loaded;
        rewrite::claim(&mut loaded.doc, line, q);
        if let Err(e) = write_atomic(
            &layout.temp(),
            &self.temp_prefix,
            &dst,
            &loaded.doc.to_bytes(),
        ) {
            tracing::error!(job = %name, error = %e, "cannot write the claim; giving the job back");
            let _ = rename_durable(&dst, &free_name(&layout.queue_dir(q), name.as_str()));
            return;
        }
        let channel = loaded.job.channel().expect("checked");
        let alternate = loaded.doc.last("fax_use_alternate").is_some();
        let number = number_of(&loaded).unwrap_or_default();
        let call = Call {
            job: name.to_string(),
            number: number.clone(),
            channel,
            documents: loaded
                .job
                .documents
                .iter()
                .map(|d| self.resolve(d))
                .collect(),
            message: loaded
                .job
                .destinations
                .voice_message
                .as_deref()
                .map(|m| self.resolve(m).display().to_string()),
            attempt: loaded.job.cycle().len() + 1,
            alternate,
            low_resolution: loaded
                .doc
                .last("fax_resolution")
                .and_then(|c| c.arg(0))
                .is_some_and(|r| {
                    r.eq_ignore_ascii_case("standard") || r.eq_ignore_ascii_case("low")
                }),
            fax_speed: loaded
                .doc
                .last("fax_speed")
                .and_then(|c| c.arg(0))
                .and_then(|s| s.parse().ok()),
        };
        let placed = match self.lines.get_mut(&line) {
            Some(l) => l.place(&call, now, &self.completion),
            None => return,
        };
        let dest = entry.map_or_else(|| dest_hash(&number), |e| e.dest);
        self.dispatch.start(line, dest);
        self.stats.attempts += 1;
        tracing::info!(job = %name, line, queue = q, number = %number, attempt = call.attempt, "dialling");
        self.emit(Event::Dialling {
            job: name.to_string(),
            queue: q,
            line,
            number,
            attempt: call.attempt,
            at: now,
        });
        self.inflight.insert(
            line,
            InFlight {
                queue: q,
                name: name.to_string(),
                path: dst,
                started: now,
                loaded,
                channel,
                dest,
                until: match placed {
                    Placed::Until(t, r) => Some((t, r)),
                    Placed::Reported => None,
                },
            },
        );
    }

    fn claim(&mut self, src: &Path, dst: &Path) -> std::io::Result<()> {
        match rename_durable(src, dst) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && src.exists() => {
                // Our ACTIVE directory is gone (taken over while we were stalled): recreate it.
                std::fs::create_dir_all(self.settings.layout.active(&self.node))?;
                self.renew_lease()?;
                rename_durable(src, dst)
            }
            r => r,
        }
    }

    fn finish(&mut self, line: u32, f: InFlight, result: CallResult, ended: DateTime<Utc>) {
        self.dispatch.finish(line, f.dest);
        if self.settings.dest_breaker.0 > 0 && !LINE_FAULT_CODES.contains(&result.code) {
            // Faults of the line or modem say nothing about the number.
            if self.destinations.record(&f.dest, result.code, ended) {
                tracing::warn!(job = %f.name, "destination paused: too many failures in a row");
            }
        }
        let board = self.lines.get(&line).map_or('X', |l| l.board());
        self.settle(
            f.path,
            &f.name,
            f.loaded,
            f.queue,
            f.started,
            ended,
            Some(line),
            board,
            f.channel,
            result,
        );
    }

    /// Records an attempt, asks the engine, rewrites and moves the file.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &mut self,
        path: PathBuf,
        name: &str,
        mut l: Loaded,
        queue: u8,
        started: DateTime<Utc>,
        ended: DateTime<Utc>,
        line: Option<u32>,
        board: char,
        channel: Channel,
        r: CallResult,
    ) {
        let row = self.sys.outcomes.classify(r.code, Some(channel));
        let decision = decide(&Input {
            policy: &l.policy,
            job: &l.job,
            queue_from: queue,
            attempt: ThisAttempt {
                class: row.class,
                code: Some(r.code),
                description: Some(row.description.clone()),
                ended,
                line,
                channel,
            },
            seed: job_seed(Path::new(name)),
        });
        let cal = l.policy.calendar();
        let rec = AttemptRecord {
            start: rewrite::local_stamp(&cal, started),
            kind: channel.type_code(),
            skipped: 0,
            scheduled: l.job.documents.len().max(1) as u32,
            outcome: decision.status_override.unwrap_or(r.code),
            class: decision.record_class,
            sent: r.pages,
            tosend: queue,
            flags: decision.prefixes.to_string(),
            boardline: format!("{board}{}", line.unwrap_or(0)),
            baud: r.baud,
            call: r.call_secs,
            connect: r.connect_secs,
            answerback: r.answerback.clone(),
        };
        rewrite::apply(&mut l.doc, &decision, &rec, &cal);
        let next = match decision.action {
            Action::Retry { at } => {
                Next::Retry(decision.tosend.min(self.settings.layout.max_queue), at)
            }
            Action::Done => Next::Sent,
            Action::Fail => Next::Fail,
        };
        tracing::info!(job = name, line = line.unwrap_or(0), code = r.code, class = %decision.record_class,
            next = ?next, reason = %decision.reason, "attempt ended");
        self.emit(Event::Outcome {
            job: name.to_string(),
            line,
            code: rec.outcome,
            class: decision.record_class.letter(),
            description: row.description,
            at: ended,
            next: next.clone(),
            reason: decision.reason.clone(),
        });
        if decision.record_class == Class::I || matches!(next, Next::Retry(..)) {
            self.stats.retried += 1;
        }
        self.conclude(&path, name, &l.doc, &next);
    }

    /// Writes the final bytes over the ACTIVE file, then moves it to its destination.
    fn conclude(&mut self, path: &Path, name: &str, doc: &Document, next: &Next) {
        let layout = self.settings.layout.clone();
        if let Err(e) = write_atomic(&layout.temp(), &self.temp_prefix, path, &doc.to_bytes()) {
            tracing::error!(job = name, error = %e, "cannot rewrite the job; it stays in ACTIVE for recovery");
            return;
        }
        self.move_on(path, name, next);
    }

    fn move_on(&mut self, path: &Path, name: &str, next: &Next) {
        let layout = self.settings.layout.clone();
        let dir = match next {
            Next::Retry(q, _) => layout.queue_dir(*q),
            Next::Sent => layout.sent(),
            Next::Fail => layout.fail(),
        };
        let target = free_name(&dir, name);
        if let Err(e) = rename_durable(path, &target) {
            tracing::error!(job = name, error = %e, "cannot move the job on; it stays in ACTIVE for recovery");
            return;
        }
        match next {
            Next::Sent => self.stats.sent += 1,
            Next::Fail => self.stats.failed += 1,
            Next::Retry(q, _) => {
                if self.settings.order.contains(q) {
                    let n = target
                        .file_name()
                        .and_then(|n| n.to_str())
                        .unwrap_or(name)
                        .to_string();
                    self.index_file(*q, &n);
                }
            }
        }
    }

    fn reject_queued(&mut self, q: u8, name: &str, bad: Bad) {
        self.index.remove(q, &JobName::new(name));
        let layout = self.settings.layout.clone();
        let src = layout.queue_dir(q).join(name);
        let dst = layout.active(&self.node).join(name);
        if dst.exists() || self.claim(&src, &dst).is_err() {
            return;
        }
        self.reject_active(&dst, name, bad);
    }

    /// Moves a bad job (already in ACTIVE) to FAIL with the reason written in, or beside it.
    fn reject_active(&mut self, path: &Path, name: &str, bad: Bad) {
        let layout = self.settings.layout.clone();
        tracing::warn!(job = name, code = bad.code, reason = %bad.reason, "bad job moved to FAIL");
        self.stats.rejected += 1;
        let now = self.clock.now();
        self.emit(Event::Rejected {
            job: name.to_string(),
            code: bad.code,
            reason: bad.reason.clone(),
            at: now,
        });
        match bad.doc {
            Some(mut doc) => {
                rewrite::fail_bad(&mut doc, bad.code, &bad.reason);
                self.conclude(path, name, &doc, &Next::Fail);
            }
            None => {
                let target = free_name(&layout.fail(), name);
                let err = PathBuf::from(format!("{}.err", target.display()));
                let text = format!(
                    "$fax_status2 {}\n$fail_reason {}\n",
                    bad.code,
                    rewrite::quote(&bad.reason)
                );
                if let Err(e) =
                    write_atomic(&layout.temp(), &self.temp_prefix, &err, text.as_bytes())
                {
                    tracing::error!(job = name, error = %e, "cannot write the .err file");
                }
                match rename_durable(path, &target) {
                    Ok(()) => self.stats.failed += 1,
                    Err(e) => {
                        tracing::error!(job = name, error = %e, "cannot move the bad job to FAIL")
                    }
                }
            }
        }
    }

    /// Renews this node's lease (with its lines' states).
    pub fn renew_lease(&self) -> std::io::Result<()> {
        let lines = self
            .dispatch
            .states()
            .map(|(n, s)| lease::LeaseLine {
                line: n,
                state: match s {
                    LineState::Idle => "idle",
                    LineState::Busy => "busy",
                    LineState::Down => "down",
                }
                .into(),
                job: self.inflight.get(&n).map(|f| f.name.clone()),
            })
            .collect();
        lease::write(
            &self.settings.layout,
            &lease::Lease {
                node: self.node.clone(),
                pid: std::process::id(),
                renewed: self.clock.now(),
                stale_after: self.settings.lease_stale,
                draining: self.draining,
                lines,
            },
        )
    }

    /// Periodic work: renew the lease and take over dead nodes.
    pub fn maintain(&mut self) {
        if let Err(e) = self.renew_lease() {
            tracing::error!(error = %e, "cannot renew the lease");
        }
        let now = self.clock.now();
        let leases = lease::read_all(&self.settings.layout);
        for l in &leases {
            if l.node != self.node && l.is_stale(now) {
                self.take_over(&l.node);
            }
        }
        for dir in lease::node_dirs(&self.settings.layout) {
            if dir != self.node && !dir.starts_with('.') && !leases.iter().any(|l| l.node == dir) {
                self.take_over(&dir);
            }
        }
    }

    /// Stops taking new calls (SIGTERM).
    pub fn drain(&mut self) {
        self.draining = true;
    }

    /// Whether draining.
    pub fn is_draining(&self) -> bool {
        self.draining
    }

    /// Gives back every call still in flight as interrupted (code 66, the policy decides).
    pub fn give_back(&mut self) {
        let lines: Vec<u32> = self.inflight.keys().copied().collect();
        let now = self.clock.now();
        for line in lines {
            let f = self.inflight.remove(&line).expect("in flight");
            self.finish(
                line,
                f,
                CallResult {
                    code: CODE_INTERRUPTED,
                    ..CallResult::default()
                },
                now,
            );
        }
    }

    /// Clean shutdown: remove the (empty) ACTIVE directory and the lease.
    pub fn shutdown(&mut self) {
        let layout = self.settings.layout.clone();
        if self.inflight.is_empty() && std::fs::remove_dir(layout.active(&self.node)).is_ok() {
            let _ = std::fs::remove_file(layout.lease(&self.node));
        }
    }

    /// Re-reads the CFG (SIGHUP): policy, settings, lines (busy lines keep their call).
    pub fn reload(&mut self) -> anyhow::Result<()> {
        let sys = match &self.cfg_path {
            Some(p) => SystemConfig::load(p)?,
            None => SystemConfig::builtin(),
        };
        let settings = Settings::from_cfg(&sys.document, &self.base, &self.node)
            .map_err(anyhow::Error::msg)?;
        let defs = crate::line::line_defs(&sys.document).map_err(anyhow::Error::msg)?;
        let lines = crate::line::build_lines(&sys.document, &defs).map_err(anyhow::Error::msg)?;
        self.sys = sys;
        self.destinations = dest_breakers(&settings);
        self.settings = settings;
        self.usr_cache.clear();
        self.install_lines(lines);
        self.index = Index::new();
        self.rescan();
        tracing::info!(node = %self.node, "configuration reloaded");
        Ok(())
    }

    /// Calls in flight whose result a line reports later (modem lines).
    pub fn awaiting_reports(&self) -> usize {
        self.inflight.values().filter(|f| f.until.is_none()).count()
    }

    /// Waits until a line reports a call's result; the next [`Daemon::poll`] handles it.
    /// Returns false when no line can report any more.
    pub async fn wait_reported(&mut self) -> bool {
        match self.reported.recv().await {
            Some(r) => {
                self.waited.push(r);
                true
            }
            None => false,
        }
    }

    /// Runs on a virtual clock that follows the wall clock while calls reported by lines (modem
    /// lines) are in flight, and jumps to the next due instant whenever none is. Returns like
    /// [`Daemon::run_virtual`].
    pub async fn run_hybrid(&mut self, clock: &clock::ManualClock, max_steps: usize) -> usize {
        let mut steps = 0;
        loop {
            self.poll();
            if self.awaiting_reports() > 0 {
                let began = std::time::Instant::now();
                let before = clock::Clock::now(clock);
                if !self.wait_reported().await {
                    return steps;
                }
                let spent = chrono::Duration::from_std(began.elapsed()).unwrap_or_default();
                clock.set(before + spent);
                continue;
            }
            match self.next_wakeup() {
                Some(t) if steps < max_steps => {
                    clock.set(t.max(clock::Clock::now(clock)));
                    steps += 1;
                }
                _ => return steps,
            }
        }
    }

    /// Runs on a virtual clock until nothing is due: ends calls and dispatches jobs, and when
    /// there is nothing to do now, jumps the clock to the next due instant. Returns when no
    /// call is in flight and no queued job will ever become due on this node's lines, or after
    /// `max_steps` clock jumps.
    pub fn run_virtual(&mut self, clock: &clock::ManualClock, max_steps: usize) -> usize {
        let mut steps = 0;
        loop {
            self.poll();
            match self.next_wakeup() {
                Some(t) if steps < max_steps => {
                    clock.set(t);
                    steps += 1;
                }
                _ => return steps,
            }
        }
    }
}

/// The number a job dials (the alternate one when `$fax_use_alternate` is set).
fn number_of(l: &Loaded) -> Option<String> {
    let d = &l.job.destinations;
    if l.doc.last("fax_use_alternate").is_some() {
        if let Some(a) = &d.alternate_phone {
            return Some(a.clone());
        }
    }
    d.fax_phone
        .clone()
        .or_else(|| d.voice_phone.clone())
        .or_else(|| d.sms_phone.clone())
        .or_else(|| d.email_address.clone())
}

fn due_bad(e: CalendarError, doc: Document) -> Bad {
    let code = if matches!(e, CalendarError::WindowExpired(_)) {
        crate::retry::engine::WINDOW_EXPIRED
    } else {
        CODE_INVALID
    };
    Bad {
        code,
        reason: format!("{}: {e}", doc.origin()),
        doc: Some(doc),
    }
}

/// The destination breakers the settings ask for.
fn dest_breakers(settings: &Settings) -> Destinations<u64> {
    let (threshold, minutes) = settings.dest_breaker;
    Destinations::new(BreakerSettings {
        threshold: threshold.max(1),
        cool_down: Duration::minutes(minutes),
        max_cool_down: Duration::minutes(minutes * 8),
    })
}
