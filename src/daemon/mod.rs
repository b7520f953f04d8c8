//! The spooler daemon: the thin shell that moves job files and calls the pure core.
//!
//! Owns one node's work: indexing the queues, claiming due jobs by rename into
//! `ACTIVE/<node>/`, placing attempts on lines, turning outcomes into records through the retry
//! engine, moving files on (queue, SENT, FAIL), failing bad input, recovering after a crash and
//! taking over dead nodes. Time comes only from its [`Clock`]; the async service
//! ([`service`]) or a virtual-clock driver ([`Daemon::run_virtual`]) decides when to call
//! [`Daemon::poll`]. It never decides a retry itself (the engine does) and never sleeps.

mod cancel;
pub mod clock;
mod drive;
mod email;
mod fence;
mod identity;
mod intake;
mod limits;
mod pending;
mod place;
mod recover;
pub mod service;
pub mod settings;
mod settle;
pub mod sms;

pub use intake::{check_submission, fax_preview, line_id_of, FaxPreview};
pub use pending::{Journalled, SpoolHealth};

use crate::calendar::CalendarError;
use crate::command::{Document, ParseError};
use crate::dispatch::{Dispatcher, LineState, Pick};
use crate::job::Job;
use crate::line::breaker::{Destinations, Settings as BreakerSettings, LINE_FAULT_CODES};
use crate::line::{Call, CallProgress, CallResult, Completion, Line, Placed, Report};
use crate::load::{job_seed, read_document, SystemConfig};
use crate::retry::attempt::AttemptRecord;
use crate::retry::engine::{self, decide, Action, Input, ThisAttempt};
use crate::retry::outcome::{Channel, Class};
use crate::retry::policy::{Level, Policy, PolicyLayer};
use crate::spool::index::{Entry, Index};
use crate::spool::snapshot;
use crate::spool::store::{self, free_name, Point, Store};
use crate::spool::{destlock, lease, rewrite, JobName, Layout};
use chrono::{DateTime, Duration, Utc};
use clock::Clock;
use settings::Settings;
use std::collections::{BTreeMap, HashMap};
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
/// Outcome code: the destination is on the do-not-call list (the job fails before dialling).
pub const CODE_DO_NOT_CALL: u32 = 39;
/// Outcome code: an operator cancelled the job (`redial cancel`): a queued job goes to FAIL
/// undialled, a call in progress is hung up. Always final, whatever a `$retry_parms` file maps
/// the code to.
pub const CODE_CANCELLED: u32 = 40;
/// Outcome code: the callee opted out by DTMF (the number goes on the do-not-call list).
pub const CODE_OPTED_OUT: u32 = 305;

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
        /// Pages the receiving end confirmed in this attempt.
        pages: u32,
        /// Fax, voice, e-mail or SMS.
        channel: Channel,
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

impl std::fmt::Display for Next {
    /// `retry TOSEND1 at 2026-03-02T10:06:00Z`, `sent`, `failed`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Next::Retry(q, at) => write!(
                f,
                "retry {} at {}",
                crate::spool::queue_name(*q),
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            Next::Sent => f.write_str("sent"),
            Next::Fail => f.write_str("failed"),
        }
    }
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
    /// The spool-wide destination lock held for this call.
    dest_lock: Option<PathBuf>,
    until: Option<(DateTime<Utc>, CallResult)>,
    /// An operator's cancel (`redial cancel`): the call is being hung up.
    cancel: Option<crate::ops::cancel::Request>,
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
    reported: mpsc::UnboundedReceiver<(u32, Report)>,
    /// Results taken by [`Daemon::wait_reported`], handled by the next [`Daemon::poll`].
    waited: Vec<(u32, CallResult)>,
    /// While [`Daemon::poll`] settles the results that came in together: their writes and
    /// moves, done together before any new call is placed.
    batch: Option<Vec<settle::Concluding>>,
    usr_cache: intake::UsrCache,
    /// Every node's lines and groups (the CFG), for jobs no line can ever serve.
    linemap: crate::linegroup::LineMap,
    /// The counts last published and when (see [`Daemon::publish_summary`]).
    published: Option<(crate::spool::summary::Summary, DateTime<Utc>)>,
    /// Nodes whose lease was seen stale or missing: when first, and how many readings since.
    suspects: HashMap<String, (DateTime<Utc>, u32)>,
    /// Nodes whose unreadable lease was already warned about.
    unknown_warned: std::collections::HashSet<String>,
    /// The `$fax_send_line` groups warned about as served by no line since the last (re)load.
    unserved_warned: std::collections::HashSet<String>,
    /// Unknown FS commands already logged: (job file name, line, command).
    typos_warned: std::collections::HashSet<(String, usize, String)>,
    /// Queued files seen empty and young (being written): logged once, not failed.
    empty_seen: std::collections::HashSet<PathBuf>,
    /// The latest step of each call in flight that reported one, by line, published in
    /// `ACTIVE/<node>.calls.json` (see [`crate::spool::progress`]).
    live: BTreeMap<u32, crate::spool::progress::Progress>,
    /// `live` changed since it was last written.
    live_dirty: bool,
    /// When `live` was last written (wall clock: it paces writes, it decides nothing).
    live_written: Option<std::time::Instant>,
    observers: Vec<Observer>,
    draining: bool,
    temp_prefix: String,
    lock: Option<std::fs::File>,
    /// This run's claim of its node name (see [`identity`]), once made.
    claim: Option<crate::spool::claim::Holder>,
    /// Whether another process took this node's claim over (this one then only ends).
    claim_lost: bool,
    /// The only door to the spool's files.
    store: Store,
    /// Whether the spool takes writes.
    spool: SpoolHealth,
    /// Results and moves the spool refused, retried with backoff.
    pending: Vec<pending::Pending>,
    /// The journal of pending results (allocated at start).
    journal: Option<PathBuf>,
    /// Since when this node knows it lost its lease (None: it holds it).
    fenced: Option<DateTime<Utc>>,
    /// This run's lease generation.
    generation: u64,
    /// This run's destination locks (and their spares), held under `generation`.
    locks: destlock::Spares,
    /// The renewal time of the last lease this run wrote (on its clock): what the other nodes
    /// judge its destination locks by (see [`Daemon::lease_holds_for_lock`]).
    lease_renewed: std::cell::Cell<Option<DateTime<Utc>>>,
    /// Queue entries that are not jobs and could not be moved aside (reported once).
    stuck: std::collections::HashSet<PathBuf>,
    /// The do-not-call lists (the spool's and `$dnc_file`), re-read when they change.
    dnc: crate::spool::dnc::Lists,
    /// Attempts per destination per day (`$max_calls_per_day`), as read from the spool.
    tally: crate::spool::counts::Tally,
    /// Counters.
    pub stats: Stats,
}

/// Hash of a destination (for `$max_concurrent_calls`, the destination locks and breakers):
/// FNV-1a of its [`crate::number::normalize`]d key, so every node and every build names a
/// number's lock files alike.
pub fn dest_hash(number: &str) -> u64 {
    crate::number::normalize(number)
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
}

/// Lists every queue in `queues` and stats each job file, handing `(queue, name, stamp)` in
/// batches to `send` (stamp `None`: gone between the listing and the stat), for
/// [`Daemon::reconcile`]. `redial run` runs it on its own thread while the node dials;
/// touches no file.
pub fn stat_queued(
    layout: &Layout,
    queues: &[u8],
    mut send: impl FnMut(Vec<(u8, String, Option<u64>)>) -> bool,
) {
    const BATCH: usize = 4096;
    for &q in queues {
        let dir = layout.queue_dir(q);
        let Ok(names) = store::list_jobs(&dir) else {
            continue;
        };
        for chunk in names.chunks(BATCH) {
            let seen = chunk
                .iter()
                .map(|n| (q, n.clone(), store::stamp_at(&dir.join(n))))
                .collect();
            if !send(seen) {
                return;
            }
        }
    }
}

/// A due instant as the index keeps it: milliseconds, rounded up, so a job never becomes ready
/// before its instant (whole seconds started retries up to a second early).
fn due_ms(t: DateTime<Utc>) -> i64 {
    let ms = t.timestamp_millis();
    if !t.timestamp_subsec_nanos().is_multiple_of(1_000_000) {
        ms + 1
    } else {
        ms
    }
}

/// The present as the index compares it: milliseconds, rounded down.
fn now_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
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
        let settings_temp = settings.layout.temp();
        let generation = fence::new_generation();
        let locks = destlock::Spares::new(
            &settings.layout,
            destlock::Holder {
                node: node.to_string(),
                generation,
            },
        );
        let dnc = crate::spool::dnc::Lists::new(&settings.layout, settings.dnc_file.as_deref());
        let sys_doc = sys.document.clone();
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
            batch: None,
            usr_cache: intake::UsrCache::default(),
            linemap: line_map(&sys_doc, node),
            published: None,
            suspects: HashMap::new(),
            unknown_warned: std::collections::HashSet::new(),
            unserved_warned: Default::default(),
            typos_warned: Default::default(),
            empty_seen: Default::default(),
            live: BTreeMap::new(),
            live_dirty: false,
            live_written: None,
            observers: Vec::new(),
            draining: false,
            temp_prefix: format!(".{node}."),
            lock: None,
            claim: None,
            claim_lost: false,
            store: Store::new(settings_temp, &format!(".{node}.")),
            spool: SpoolHealth::default(),
            pending: Vec::new(),
            journal: None,
            fenced: None,
            generation,
            locks,
            lease_renewed: std::cell::Cell::new(None),
            stuck: Default::default(),
            dnc,
            tally: Default::default(),
            stats: Stats::default(),
        };
        d.install_lines(lines);
        Ok(d)
    }

    fn install_lines(&mut self, lines: Vec<Box<dyn Line>>) {
        let keep = self.settings.lines.clone();
        let layout = self.settings.layout.clone();
        self.lines = lines
            .into_iter()
            .filter(|l| keep.as_ref().is_none_or(|s| s.contains(l.number())))
            .map(|mut l| {
                l.use_spool(&layout);
                (l.number(), l)
            })
            .collect();
        let states: Vec<(u32, bool)> = self
            .lines
            .values()
            .map(|l| (l.number(), l.is_up()))
            .collect();
        let groups = self.line_groups();
        self.dispatch = Dispatcher::new(&states, groups, &self.node, self.settings.max_per_dest);
        for l in self.lines.values() {
            let dial = [Channel::Fax, Channel::Voice, Channel::Poll]
                .into_iter()
                .any(|c| l.takes(c));
            self.dispatch
                .set_takes(l.number(), dial, l.takes(Channel::Email));
            self.dispatch
                .set_takes_sms(l.number(), l.takes(Channel::Sms));
        }
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

    /// Calls `f` on every event, after the observers added before it (the demo prints them,
    /// tests collect them, the service loop counts them for `/metrics`).
    pub fn on_event(&mut self, f: impl FnMut(&Event) + Send + 'static) {
        self.observers.push(Box::new(f));
    }

    fn emit(&mut self, e: Event) {
        for f in &mut self.observers {
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
    /// Injects faults into every spool write of this node (tests).
    pub fn inject_faults(&mut self, plan: Arc<std::sync::Mutex<store::FaultPlan>>) {
        self.store.inject(plan);
    }
    /// Whether this node knows it lost its lease and waits to rejoin.
    pub fn is_fenced(&self) -> bool {
        self.fenced.is_some()
    }
    /// Jobs whose result or move the spool has refused so far.
    pub fn pending_results(&self) -> usize {
        self.pending.len()
    }
    /// The index (read-only).
    pub fn index(&self) -> &Index {
        &self.index
    }
    /// Calls in progress.
    /// How many directories a settled job left are owed an fsync now: none once a pass has
    /// ended, unless that fsync failed ([`store::Store::pay_owed`]).
    pub fn owed_fsyncs(&self) -> usize {
        self.store.owes()
    }

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
    /// then the index: from the last run's snapshot with every queued file checked against it
    /// (see [`snapshot`]), or by reading every file.
    pub fn start(&mut self) -> anyhow::Result<()> {
        if self.start_with()? {
            // The same check `redial run` makes on a thread (see `start_serving`), in line.
            let (layout, queues) = (self.settings.layout.clone(), self.settings.order.clone());
            stat_queued(&layout, &queues, |seen| {
                self.reconcile(seen);
                true
            });
            self.rescan();
        }
        Ok(())
    }

    /// [`Daemon::start`] for the service loop: when the index came from a snapshot, returns
    /// true and leaves checking the files against it to the caller ([`Daemon::reconcile`] with
    /// what [`stat_queued`] finds, then a [`Daemon::rescan`]), so the node dials
    /// from the snapshot at once. Safe because a claim reads the job again and checks its time
    /// and windows before any call; a file gone meanwhile is simply not claimed.
    pub fn start_serving(&mut self) -> anyhow::Result<bool> {
        self.start_with()
    }

    /// Start-up; with a snapshot loaded returns true (the files still to be checked).
    fn start_with(&mut self) -> anyhow::Result<bool> {
        let layout = self.settings.layout.clone();
        layout.create(None)?;
        if let Some(x) = self.dnc.external.as_mut() {
            x.refresh()
                .map_err(|e| anyhow::anyhow!("$dnc_file {}: {e}", x.path().display()))?;
        }
        // Created once, then held open read-only: flock needs no write access, and a spool
        // with no descriptor open for writing can be remounted read-only by its administrator.
        drop(
            std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(layout.lock(&self.node))?,
        );
        let lock = std::fs::File::open(layout.lock(&self.node))?;
        if lock.try_lock().is_err() {
            anyhow::bail!(
                "node {:?} is already running on this spool ({})",
                self.node,
                layout.lock(&self.node).display()
            );
        }
        self.lock = Some(lock);
        self.claim_node()?;
        store::clean_temp(&layout.temp(), &self.temp_prefix)?;
        self.locks.drop_earlier(&layout);
        // The steps of calls a previous run had up are over.
        crate::spool::progress::remove(&layout, &self.node);
        self.renew_lease()?;
        let mine = layout.active(&self.node);
        // Results a previous run could not write (disk full) settle its interrupted calls.
        let journal = self.read_journal();
        if mine.is_dir() {
            self.recover_dir_with(&mine, &self.node.clone(), &journal);
        }
        std::fs::create_dir_all(&mine)?;
        if let Err(e) = self.open_journal() {
            tracing::error!(error = %e, "cannot allocate the journal; results the spool refuses are kept in memory only");
        }
        self.write_journal();
        self.announce();
        Ok(self.load_snapshot())
    }

    /// Checks entries the background pass stat'ed (see [`stat_queued`]): a file
    /// whose stamp differs from its entry's, or that has none, is read again; one gone leaves
    /// the index.
    pub fn reconcile(&mut self, seen: Vec<(u8, String, Option<u64>)>) {
        self.usr_cache.begin_batch();
        self.reconcile_batch(seen);
        self.usr_cache.end_batch();
    }

    fn reconcile_batch(&mut self, seen: Vec<(u8, String, Option<u64>)>) {
        for (q, name, stamp) in seen {
            let key = JobName::new(&name);
            match (self.index.get(q, &key), stamp) {
                (Some(e), Some(s)) if e.stamp == s => {}
                (Some(_), None) => {
                    self.index.remove(q, &key);
                }
                (None, None) => {}
                _ => self.index_file(q, &name),
            }
        }
    }

    /// Builds the index at start from the snapshot of the last run when it is usable (true:
    /// the files are still to be checked against it), else from the files (false).
    fn load_snapshot(&mut self) -> bool {
        let path = self.settings.layout.index_snapshot(&self.node);
        let now = due_ms(self.clock.now());
        let queues = self.settings.order.clone();
        match snapshot::load(&path, &mut self.index, &queues, now, store::content_stamp) {
            Ok(n) => {
                tracing::info!(entries = n, file = %path.display(), "index snapshot loaded; checking each queued file against it");
                true
            }
            Err(e) => {
                if path.exists() {
                    tracing::info!(file = %path.display(), "index snapshot not used: {e}; reading every queued file");
                }
                self.rescan();
                false
            }
        }
    }

    /// Publishes the queue counts for `redial status`, the web page and the metrics (see
    /// [`summary`](crate::spool::summary)).
    ///
    /// Counted every time; written only when the counts changed, or when the last write is one
    /// lease renewal old (a summary is trusted only while it is younger than the lease's stale
    /// time), so an idle node does not write a file every second.
    pub fn publish_summary(&mut self) {
        let now = self.clock.now();
        let s =
            crate::spool::summary::count(&self.node, &self.index, &self.settings.order, now, |g| {
                crate::ops::alter::waits_for_good(g, |g| self.linemap.unserved(g))
            });
        if let Some((last, at)) = &self.published {
            let same =
                last.queues == s.queues && last.held == s.held && last.held_total == s.held_total;
            if same && (now - *at).num_seconds() < self.settings.lease_renew {
                return;
            }
        }
        match crate::spool::summary::write(&self.settings.layout, &self.temp_prefix, &s) {
            Ok(()) => self.published = Some((s, now)),
            Err(e) => tracing::debug!(error = %e, "cannot publish the queue summary"),
        }
    }

    /// Saves the index for the next start (see [`snapshot`]); its dependencies are the CFG and
    /// every USR profile read.
    pub fn save_snapshot(&self) {
        let deps: Vec<(PathBuf, u64)> = self
            .cfg_path
            .iter()
            .chain(self.usr_cache.paths())
            .map(|p| (p.clone(), store::content_stamp(p).unwrap_or(0)))
            .collect();
        let layout = &self.settings.layout;
        let target = layout.index_snapshot(&self.node);
        match snapshot::write(
            &layout.temp(),
            &self.temp_prefix,
            &target,
            &deps,
            &self.index,
            &self.settings.order,
        ) {
            Ok(()) => {
                tracing::info!(entries = self.index.len(), file = %target.display(), "index snapshot saved")
            }
            Err(e) => {
                tracing::warn!(file = %target.display(), error = %e, "cannot save the index snapshot; the next start reads every queued file");
                let _ = std::fs::remove_file(&target);
            }
        }
    }

    /// Logs where this node works and what it dials with, and warns about queues it can never
    /// serve: no line at all, or a queue `$queue_disable` takes from every node.
    fn announce(&self) {
        let lines: Vec<String> = self.lines.keys().map(u32::to_string).collect();
        let queues: Vec<String> = self
            .settings
            .order
            .iter()
            .map(|q| crate::spool::queue_name(*q))
            .collect();
        tracing::info!(node = %self.node, spool = %self.settings.layout.root.display(),
            lines = %lines.join(","), queues = %queues.join(","),
            "node {} on spool {} with lines [{}], queues {}",
            self.node, self.settings.layout.root.display(), lines.join(","), queues.join(","));
        // The CFG's header line is every job's default: a field it does not know is said once.
        for why in intake::header_typos(&self.sys.document) {
            tracing::warn!("{why}");
        }
        if self.settings.shared {
            tracing::info!(node = %self.node, rescan = self.settings.rescan,
                "the spool is shared ($spool_shared): new jobs are found by a rescan every {} s", self.settings.rescan);
        }
        if let Some(m) = &self.settings.mount {
            for w in crate::spool::shared::warnings(m) {
                tracing::warn!(node = %self.node, mount = %m.mount_point.display(), "{w}");
            }
        }
        if self.lines.is_empty() {
            tracing::warn!(node = %self.node,
                "node {} has no line (no $line in the CFG, or none in its $node lines=): it never dials; jobs in {} wait for another node",
                self.node, queues.join(", "));
        }
        for q in self.settings.layout.queues() {
            if !self.settings.order.contains(&q) && self.settings.node_disabled(q) {
                tracing::warn!(queue = q,
                    "no line serves {}: $queue_disable takes it from every node; jobs dropped there wait for ever",
                    crate::spool::queue_name(q));
            }
        }
    }

    /// When the daemon next has something to do by the clock: a call ending or a job due.
    pub fn next_wakeup(&self) -> Option<DateTime<Utc>> {
        let calls = self
            .inflight
            .values()
            .filter_map(|f| f.until.as_ref().map(|u| u.0))
            .min();
        let due = if self.draining || self.fenced.is_some() {
            None
        } else if let Some(t) = self.spool.retry_at() {
            Some(t)
        } else {
            self.index
                .next_due()
                .and_then(DateTime::from_timestamp_millis)
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
            // The results that came in together are written and moved together: a line's next
            // call never waits for other lines' fsyncs one after another.
            self.batch = Some(Vec::new());
            for line in ended {
                let f = self.inflight.remove(&line).expect("in flight");
                let (at, result) = f.until.clone().expect("until");
                self.finish(line, f, result, at);
                progressed = true;
                n += 1;
            }
            let mut results = std::mem::take(&mut self.waited);
            while let Ok((line, report)) = self.reported.try_recv() {
                match report {
                    Report::Done(r) => results.push((line, r)),
                    Report::Progress(p) => self.call_progress(line, &p),
                }
            }
            for (line, result) in results {
                if let Some(f) = self.inflight.remove(&line) {
                    self.finish(line, f, result, now);
                    progressed = true;
                    n += 1;
                }
            }
            if let Some(batch) = self.batch.take() {
                self.conclude_batch(batch);
            }
            if !self.pending.is_empty() || self.spool.failing_since.is_some() {
                self.retry_pending();
            }
            self.rejoin_if_fenced();
            if !self.draining && self.fenced.is_none() && !self.spool.holding(now) {
                self.refresh_lines();
                self.index.promote(now_ms(now));
                let order = self.settings.order.clone();
                // A claim can find the spool refusing writes or the node fenced: stop at once.
                while !self.spool.holding(now) && self.fenced.is_none() {
                    let Some(p) = self.dispatch.pick(&self.index, &order) else {
                        break;
                    };
                    self.begin(p, now);
                    progressed = true;
                    n += 1;
                }
            }
            // The moves of this pass's settled jobs made durable where no claim did it.
            self.pay_owed_fsyncs();
            if !progressed {
                self.publish_calls();
                return n;
            }
        }
    }

    /// fsyncs the directories settled jobs left and no claim has fsynced since
    /// ([`store::Store::pay_owed`]); one that fails is tried again at the next pass.
    fn pay_owed_fsyncs(&self) {
        if let Err(e) = self.store.pay_owed() {
            tracing::warn!(error = %e, "cannot fsync a directory a settled job left; trying again at the next pass");
        }
    }

    /// Takes each line's health into the dispatcher (a line out of service takes no call).
    fn refresh_lines(&mut self) {
        for (n, l) in &self.lines {
            let up = l.is_up();
            let was = self.dispatch.state(*n);
            self.dispatch.set_up(*n, up);
            let is = self.dispatch.state(*n);
            if was != is {
                match l.next_probe() {
                    Some(t) => tracing::warn!(line = n, next_probe = %t, "line out of service"),
                    None if !up => tracing::warn!(line = n, "line out of service"),
                    None => tracing::info!(line = n, "line back in service"),
                }
            }
        }
    }

    /// Renews this node's lease (with its lines' states).
    pub fn renew_lease(&self) -> std::io::Result<()> {
        self.write_lease(true)
    }

    /// Writes the lease; `in_place` allows the full-disk fallback (a probe of the disk does not).
    pub(super) fn write_lease(&self, in_place: bool) -> std::io::Result<()> {
        self.store.check(Point::Lease)?;
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
                next_probe: self.lines.get(&n).and_then(|l| l.next_probe()),
            })
            .collect();
        let write = if in_place {
            lease::write
        } else {
            lease::write_atomic_only
        };
        let renewed = self.clock.now();
        write(
            &self.settings.layout,
            &lease::Lease {
                node: self.node.clone(),
                pid: std::process::id(),
                renewed,
                stale_after: self.settings.lease_stale,
                draining: self.draining,
                lines,
                generation: self.generation,
                host: lease::host_name(),
                spool_error: self.spool.error.clone(),
            },
        )?;
        self.lease_renewed.set(Some(renewed));
        Ok(())
    }

    /// Whether this node's lease, as the spool has it, stays fresh for at least one more
    /// renewal period after `now` (renewed less than STALE − RENEW ago, at least 1 s): the
    /// condition for taking a destination lock. Other nodes break a lock once its holder is
    /// taken over, which needs its lease seen dead twice; a lock taken on an old lease (a node
    /// back from a stall, before its maintenance tick renews) gives them that time from a
    /// lease already near its end, so the node renews first.
    pub(super) fn lease_holds_for_lock(&self, now: DateTime<Utc>) -> bool {
        let margin = (self.settings.lease_stale - self.settings.lease_renew).max(1);
        self.lease_renewed
            .get()
            .is_some_and(|r| now - r < Duration::seconds(margin))
    }

    /// Makes sure the lease holds for a destination lock taken now (see
    /// [`Daemon::lease_holds_for_lock`]): renews it first when it is too old, unless this node
    /// turns out fenced or its claim lost. False: no lock may be taken now (fenced, or the
    /// spool refuses the lease).
    pub(super) fn lease_ready_for_lock(&mut self) -> bool {
        if self.lease_holds_for_lock(self.clock.now()) {
            return true;
        }
        self.check_claim();
        self.check_fenced();
        if self.fenced.is_some() {
            return false;
        }
        match self.renew_lease() {
            Ok(()) => true,
            Err(e) => {
                self.spool_refused(Point::Lease, "lease", &e);
                false
            }
        }
    }

    /// Periodic work: renew the lease and take over dead nodes.
    pub fn maintain(&mut self) {
        self.check_claim();
        self.check_fenced();
        if self.fenced.is_some() {
            return;
        }
        self.flush_dnc();
        if let Err(e) = self.renew_lease() {
            self.spool_refused(Point::Lease, "lease", &e);
        }
        let now = self.clock.now();
        let names = lease::node_names(&self.settings.layout);
        self.suspects.retain(|n, _| names.contains(n));
        for node in names {
            if node != self.node && self.seen_dead(&node, now) {
                self.take_over(&node);
            }
        }
    }

    /// Whether `node` is proven dead at `now`: its lease stale or missing (with its directory
    /// still there) on at least two readings at least one lease renewal apart, with no live or
    /// unreadable reading in between. One reading proves nothing on a network file system,
    /// whose caches can show an old lease or no lease for a while; a lease that cannot be read
    /// or parsed is not evidence at all and clears the suspicion.
    fn seen_dead(&mut self, node: &str, now: DateTime<Utc>) -> bool {
        match lease::look(&self.settings.layout, node, now) {
            lease::Look::Live(_) => {
                self.suspects.remove(node);
                false
            }
            lease::Look::Unknown(why) => {
                if self.suspects.remove(node).is_some() || !self.unknown_warned.contains(node) {
                    tracing::warn!(node, reason = %why, "a node's lease cannot be read: not taken for dead");
                    self.unknown_warned.insert(node.to_string());
                }
                false
            }
            lease::Look::Stale(_) | lease::Look::Missing => {
                self.unknown_warned.remove(node);
                let (first, seen) = self
                    .suspects
                    .entry(node.to_string())
                    .and_modify(|(_, seen)| *seen += 1)
                    .or_insert((now, 1));
                *seen >= 2 && (now - *first).num_seconds() >= self.settings.lease_renew
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
        if self.claim_lost {
            // Node files now belong to the process that took the claim.
            tracing::error!(node = %self.node, "stopping without touching this node's files: another process holds its claim");
            return;
        }
        let layout = self.settings.layout.clone();
        self.pay_owed_fsyncs();
        self.save_snapshot();
        if self.spool.failing_since.is_some() || !self.pending.is_empty() {
            self.spool.retry_at = None;
            self.retry_pending();
        }
        if !self.pending.is_empty() {
            tracing::error!(pending = self.pending.len(), "stopping with results the spool refused: they stay in ACTIVE and the journal, and are recorded at the next start");
            self.release_claim();
            return;
        }
        let _ = std::fs::remove_file(crate::spool::summary::path(&layout, &self.node));
        crate::spool::progress::remove(&layout, &self.node);
        if self.inflight.is_empty() && std::fs::remove_dir(layout.active(&self.node)).is_ok() {
            let _ = std::fs::remove_file(layout.lease(&self.node));
            let _ = std::fs::remove_file(layout.journal(&self.node));
        }
        self.release_claim();
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
        let mut dnc = crate::spool::dnc::Lists::new(&settings.layout, settings.dnc_file.as_deref());
        if let Some(x) = dnc.external.as_mut() {
            x.refresh()
                .map_err(|e| anyhow::anyhow!("$dnc_file {}: {e}", x.path().display()))?;
        }
        dnc.unwritten = std::mem::take(&mut self.dnc.unwritten);
        self.dnc = dnc;
        self.sys = sys;
        self.destinations = dest_breakers(&settings);
        self.store = Store::new(settings.layout.temp(), &self.temp_prefix);
        self.settings = settings;
        self.usr_cache.clear();
        self.linemap = line_map(&self.sys.document, &self.node);
        self.unserved_warned.clear();
        self.typos_warned.clear();
        self.install_lines(lines);
        self.index = Index::new();
        self.rescan();
        tracing::info!(node = %self.node, "configuration reloaded");
        Ok(())
    }
}

/// The CFG's lines and groups on every node, this node included.
fn line_map(cfg: &Document, node: &str) -> crate::linegroup::LineMap {
    let mut m = crate::linegroup::LineMap::from_cfg(cfg);
    m.add_node(node);
    m
}

/// The number a job dials (the alternate one when `$fax_use_alternate` is set), or the address
/// it mails (`$email_alt_address` when `$email_use_alternate` is set).
fn number_of(l: &Loaded) -> Option<String> {
    let d = &l.job.destinations;
    if l.doc.last("fax_use_alternate").is_some() {
        if let Some(a) = &d.alternate_phone {
            return Some(a.clone());
        }
    }
    if l.job.channel() == Some(Channel::Email) && l.doc.last("email_use_alternate").is_some() {
        if let Some(a) = &d.email_alt_address {
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
