//! Intake: the queues' files into the index — full rescans, single changed paths, parsing a job
//! with its policy, the checks a job must pass before it is dialled, and its due time.
//!
//! Part of the daemon (see its module documentation); it never moves a file except to fail a bad
//! job.

use super::*;
use crate::command::registry::{unknown_commands, FileKind};
use crate::spool::index::Wait;
use crate::spool::store::{Point, ReadJobError};

impl Daemon {
    /// Reads every queue and brings the index in line with the directories (start-up, periodic
    /// reconciliation, and after the watcher lost events).
    pub fn rescan(&mut self) {
        // Its jobs are one pass: each profile they name is checked once.
        self.usr_cache.begin_batch();
        self.rescan_queues();
        self.usr_cache.end_batch();
    }

    fn rescan_queues(&mut self) {
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
            for bad in store::list_bad_names(&dir) {
                // No command can name it: FAIL, under its name made readable.
                let shown = bad.to_string_lossy().into_owned();
                self.set_aside_path(&dir.join(&bad), &shown, &ReadJobError::BadName);
            }
            if self.index.counts(q) == (0, 0) {
                // Nothing indexed for this queue yet (the start): read it whole and load it at
                // once, so the index's trees are built full (see `Index::load_queue`).
                let mut run = Vec::with_capacity(names.len());
                for n in &names {
                    if let Some(e) = self.read_entry(q, n) {
                        run.push((JobName::new(n), e));
                    }
                }
                let now = due_ms(self.clock.now());
                self.index.load_queue(q, run, now);
                continue;
            }
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
        if let Some(e) = self.read_entry(q, name) {
            self.index.upsert(q, JobName::new(name), e);
        }
    }

    /// Reads a queued job into the entry the index keeps for it; `None` when it is gone (and
    /// then out of the index) or bad (failed, and out of the index).
    fn read_entry(&mut self, q: u8, name: &str) -> Option<Entry> {
        let path = self.settings.layout.queue_dir(q).join(name);
        let key = JobName::new(name);
        let (bytes, stamp) = match store::read_job_stamped(&path) {
            Ok(b) => b,
            Err(ReadJobError::Gone) => {
                self.index.remove(q, &key);
                return None;
            }
            Err(e) => {
                self.index.remove(q, &key);
                self.set_aside(q, name, &e);
                return None;
            }
        };
        if bytes.is_empty() && just_created(&path) {
            // A writer that creates the file and then writes it (`cp`, a shell redirection)
            // shows it empty first: its content comes with the close. An empty job is failed
            // only once it has stayed empty for a while.
            self.index.remove(q, &key);
            if self.empty_seen.insert(path.clone()) {
                tracing::info!(job = name, "an empty job file: waiting for its content");
            }
            return None;
        }
        self.empty_seen.remove(&path);
        let now = self.clock.now();
        match self.load(&path, bytes).and_then(|l| self.check(l)) {
            Ok(l) => match self.due(&l, now) {
                Ok(due) => {
                    let held = crate::ops::alter::is_held(&l.doc);
                    let spec = if held {
                        // An operator's hold: indexed, never picked, counted as held.
                        crate::ops::alter::HOLD_GROUP
                    } else {
                        l.job.send_line.as_deref().unwrap_or("*")
                    };
                    let routed = if held {
                        spec.to_string()
                    } else {
                        // E-mail jobs go to e-mail lines only (see `dispatch`).
                        crate::dispatch::routed_group(&l.job)
                    };
                    if let Some(why) = self.linemap.unserved(&routed).filter(|_| !held) {
                        if self.unserved_warned.insert(routed.to_ascii_lowercase()) {
                            tracing::warn!(job = name, group = spec,
                                "{}: {why}; jobs of this group wait (redial status shows them HELD) until the CFG gives it a line",
                                path.display());
                        }
                    }
                    let group = self.index.group_id(&routed);
                    let dest = dest_hash(&number_of(&l).unwrap_or_default());
                    let cal = l.policy.calendar();
                    let wait = match (l.job.next, l.job.send_at()) {
                        (Some(t), _) => Wait::Retry(due_ms(cal.instant(t))),
                        (None, Some(t)) => Wait::Send(due_ms(cal.instant(t))),
                        (None, None) => Wait::Nothing,
                    };
                    return Some(Entry {
                        due: due_ms(due),
                        group,
                        dest,
                        wait,
                        stamp,
                    });
                }
                Err(e) => self.reject_queued(q, name, due_bad(e, l.doc)),
            },
            Err(bad) => self.reject_queued(q, name, bad),
        }
        None
    }

    /// Parses a job file and resolves its policy (USR profiles cached by path). Unknown
    /// commands are logged with file, line and a suggestion; one within two edits of a
    /// document, destination or profile command fails the job (33), as does a `$fax_user` that
    /// does not exist, a USR file with an unknown command, or an `X`/`Y` prefix with no
    /// `$param_group` in the CFG.
    pub fn load(&mut self, path: &Path, bytes: Vec<u8>) -> Result<Loaded, Bad> {
        let origin = path.display().to_string();
        // The document keeps the bytes read: no copy of the file.
        let doc = Document::from_vec(bytes, &origin).map_err(|e| Bad {
            code: CODE_INVALID,
            reason: e.to_string(),
            doc: None,
        })?;
        let unknown = unknown_commands(&doc, FileKind::Fs);
        if let Some(u) = unknown.iter().find(|u| u.is_critical()) {
            return Err(Bad {
                code: CODE_INVALID,
                reason: u.to_string(),
                doc: Some(doc),
            });
        }
        let job = path.file_name().map(|n| n.to_string_lossy().into_owned());
        for u in &unknown {
            // Once per job, line and name (not again at the claim, nor after every retry).
            if !self
                .typos_warned
                .insert((job.clone().unwrap_or_default(), u.line, u.name.clone()))
            {
                continue;
            }
            tracing::warn!(file = %u.file, line = u.line, suggestion = u.suggestion.map(|s| s.0),
                "{u}; {}", u.consequence());
        }
        for why in header_typos(&doc) {
            if self
                .typos_warned
                .insert((job.clone().unwrap_or_default(), 0, why.clone()))
            {
                tracing::warn!("{why}");
            }
        }
        let cache = &mut self.usr_cache;
        cache.next_job();
        let (base, sys) = (&self.base, &self.sys);
        load_with(doc, base, &self.settings.paths, sys, cache)
    }

    pub(super) fn resolve(&self, p: &str) -> PathBuf {
        resolve_in(&self.base, &self.settings.paths, p)
    }

    /// Bad-input checks: a destination, and every document present and inside the document
    /// roots (`$document_root`). On success the job's documents are their canonical paths (links
    /// and `..` resolved), which is what the line is given.
    pub(super) fn check(&self, l: Loaded) -> Result<Loaded, Bad> {
        check_with(&self.settings, &self.sys, &self.base, l)
    }

    /// When a job may next start: its next/send time, never before now, moved by the send and
    /// pause windows (the engine's [`engine::next_start`]), then past the days on which its
    /// destination has used up `$max_calls_per_day`.
    pub(super) fn due(
        &mut self,
        l: &Loaded,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let due = engine::next_start(&l.policy, &l.job, now)?;
        self.past_caps(l, due, now)
    }

    /// Moves a queue entry that cannot be a job (a FIFO, a directory, a link, an unreadable
    /// file) to `FAIL` unopened, with `NAME.err` beside it saying why: one rename, reported
    /// once. When even that fails (a read-only spool), the entry is remembered so the error is
    /// logged once, not on every scan.
    pub(super) fn set_aside(&mut self, q: u8, name: &str, why: &ReadJobError) {
        let src = self.settings.layout.queue_dir(q).join(name);
        self.set_aside_path(&src, name, why);
    }

    /// [`Daemon::set_aside`] for any queue entry; `name` is the (UTF-8) name it gets in FAIL.
    fn set_aside_path(&mut self, src: &Path, name: &str, why: &ReadJobError) {
        let layout = self.settings.layout.clone();
        let src = src.to_path_buf();
        let reason = format!("{}: {why}", src.display());
        let target = free_name(&layout.fail(), name);
        let err = PathBuf::from(format!("{}.err", target.display()));
        let mut text = Document::new(&err.display().to_string());
        text.set("fax_status2", &[&CODE_INVALID.to_string()]);
        text.set("fail_reason", &[&reason]);
        let moved = self
            .store
            .write(Point::RejectWrite, &err, &text.to_bytes())
            .and_then(|()| self.store.rename(Point::RejectMove, &src, &target));
        match moved {
            Ok(()) => {
                tracing::warn!(job = name, reason = %reason, "not a job file: moved to FAIL");
                self.stats.rejected += 1;
                self.stats.failed += 1;
                let now = self.clock.now();
                self.emit(Event::Rejected {
                    job: name.to_string(),
                    code: CODE_INVALID,
                    reason,
                    at: now,
                });
            }
            Err(e) => {
                if self.stuck.insert(src.clone()) {
                    tracing::error!(job = name, reason = %reason, error = %e,
                        "not a job file, and it cannot be moved to FAIL; it is skipped until it changes");
                }
            }
        }
    }
}

/// How long an empty queued file is taken for one still being written (wall clock: file times
/// are).
pub const EMPTY_GRACE: std::time::Duration = std::time::Duration::from_secs(60);

/// Whether the file at `path` changed less than [`EMPTY_GRACE`] ago.
fn just_created(path: &Path) -> bool {
    std::fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < EMPTY_GRACE)
}

/// `p` with backslashes as `/`, relative to `base` unless absolute.
fn resolve_in(base: &Path, paths: &crate::spool::pathmap::PathMap, p: &str) -> PathBuf {
    let path = PathBuf::from(paths.map(p));
    if path.is_relative() {
        base.join(path)
    } else {
        path
    }
}

/// The USR profiles read, by path: a profile edited while the daemon runs is read again for
/// the next job that names it. Each profile is checked (one `stat`) once per pass: a pass is
/// one job read on its own (a new file, a claim), or a whole rescan, so a start that reads a
/// million jobs naming one profile checks it once, not a million times.
#[derive(Debug, Default)]
pub(crate) struct UsrCache {
    profiles: HashMap<PathBuf, UsrEntry>,
    pass: u64,
    /// While a rescan (or a batch) runs, its jobs are one pass.
    in_batch: bool,
}

#[derive(Debug)]
struct UsrEntry {
    /// The profile's [`store::content_stamp`] when it was read.
    stamp: Option<u64>,
    /// The pass that last found the stamp unchanged.
    checked: u64,
    layer: PolicyLayer,
}

impl UsrCache {
    /// Starts a pass: a job read on its own, unless a rescan holds one open.
    fn next_job(&mut self) {
        if !self.in_batch {
            self.pass += 1;
        }
    }

    /// Makes the jobs read until [`UsrCache::end_batch`] one pass.
    pub(crate) fn begin_batch(&mut self) {
        self.pass += 1;
        self.in_batch = true;
    }

    /// Ends what [`UsrCache::begin_batch`] began.
    pub(crate) fn end_batch(&mut self) {
        self.in_batch = false;
    }

    /// Every profile read so far (the snapshot's dependencies).
    pub(crate) fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.profiles.keys()
    }

    /// Forgets every profile (SIGHUP).
    pub(crate) fn clear(&mut self) {
        self.profiles.clear();
    }
}

/// A USR profile's retry layer, refused when it names a command a USR file does not know.
fn usr_layer(cache: &mut UsrCache, p: &Path) -> Result<PolicyLayer, String> {
    let pass = cache.pass;
    if let Some(e) = cache.profiles.get_mut(p) {
        if e.checked == pass {
            return Ok(e.layer.clone());
        }
        if e.stamp == crate::spool::store::content_stamp(p) {
            e.checked = pass;
            return Ok(e.layer.clone());
        }
    }
    // Stamped before the read: a change during the read is seen at the next check.
    let stamp = crate::spool::store::content_stamp(p);
    let doc = read_document(p).map_err(|e| e.to_string())?;
    if let Some(u) = unknown_commands(&doc, FileKind::Usr).into_iter().next() {
        return Err(u.to_string());
    }
    let layer =
        PolicyLayer::from_document(&doc, Level::Usr).map_err(|e: ParseError| e.to_string())?;
    // Once per profile read (the cache holds it from then on), as the CFG's at start.
    for why in header_typos(&doc) {
        tracing::warn!("{why}");
    }
    cache.profiles.insert(
        p.to_path_buf(),
        UsrEntry {
            stamp,
            checked: pass,
            layer: layer.clone(),
        },
    );
    Ok(layer)
}

/// The typed job, its USR profile and the policy, after the FS file's commands were checked.
fn load_with(
    doc: Document,
    base: &Path,
    paths: &crate::spool::pathmap::PathMap,
    sys: &SystemConfig,
    cache: &mut UsrCache,
) -> Result<Loaded, Bad> {
    let bad = |reason: String, doc: Document| Bad {
        code: CODE_INVALID,
        reason,
        doc: Some(doc),
    };
    let job = match Job::from_document(&doc) {
        // Read from a queue with a final status: moved back from SENT or FAIL (or finished by
        // CopiaFacts): a new cycle, whatever its last record.
        Ok(mut j) if j.is_finished() => {
            j.cycle_mark = j.records.len();
            j
        }
        Ok(j) => j,
        Err(e) => return Err(bad(e.to_string(), doc)),
    };
    let usr = match &job.user {
        Some(u) => {
            let p = resolve_in(base, paths, u);
            if !p.is_file() {
                let line = doc.last("fax_user").map_or(0, |c| c.line);
                let reason = format!(
                    "{}:{line}: user profile {u:?} does not exist ({})",
                    doc.origin(),
                    p.display()
                );
                return Err(bad(reason, doc));
            }
            match usr_layer(cache, &p) {
                Ok(l) => l,
                Err(e) => return Err(bad(format!("user profile: {e}"), doc)),
            }
        }
        None => PolicyLayer::empty(Level::Usr),
    };
    for layer in [&usr, &job.policy] {
        if let Some(e) = crate::load::param_group_errors(layer, &sys.layer)
            .into_iter()
            .next()
        {
            return Err(bad(e.to_string(), doc));
        }
    }
    let policy = Policy {
        cfg: sys.layer.clone(),
        usr,
        fs: job.policy.clone(),
    };
    Ok(Loaded { doc, job, policy })
}

/// Bad-input checks (see [`Daemon::check`]) against the document roots `roots`.
fn check_with(
    settings: &Settings,
    sys: &SystemConfig,
    base: &Path,
    mut l: Loaded,
) -> Result<Loaded, Bad> {
    let (roots, paths) = (&settings.documents, &settings.paths);
    use crate::spool::docroot::DocError;
    let file = l.doc.origin().to_string();
    if l.job.channel().is_none() {
        return Err(Bad {
            code: CODE_NO_DESTINATION,
            reason: format!("{file}: the job has no destination ($fax_phone, $voice_phone, $sms_phone or $email_address)"),
            doc: Some(l.doc),
        });
    }
    let mut documents = Vec::with_capacity(l.job.documents.len());
    let mut cover_path = None;
    let mut bad = None;
    'all: for c in l
        .doc
        .all("fax_filename")
        .chain(l.doc.all("fax_cover").take(1))
    {
        let cover = c.name.eq_ignore_ascii_case("fax_cover");
        let docs: Vec<&str> = if cover {
            c.arg(0).into_iter().collect()
        } else {
            c.texts()
        };
        for d in docs {
            let at = format!("{file}:{}: document {d:?}", c.line);
            let mapped = paths.map(d);
            match roots
                .confine(&mapped)
                .map(|p| p.into_os_string().into_string())
            {
                Ok(Ok(p)) => {
                    if cover {
                        cover_path = Some(p);
                    } else {
                        documents.push(p);
                    }
                }
                Ok(Err(p)) => {
                    let p = PathBuf::from(p);
                    bad = Some((
                        CODE_INVALID,
                        format!("{at} resolves to {}, which is not UTF-8", p.display()),
                    ));
                    break 'all;
                }
                Err(e) => {
                    let code = match e {
                        DocError::Outside { .. } => CODE_INVALID,
                        DocError::Missing { .. } | DocError::NotAFile { .. } => {
                            CODE_MISSING_DOCUMENT
                        }
                    };
                    bad = Some((code, format!("{at} {e}")));
                    break 'all;
                }
            }
        }
    }
    match bad {
        Some((code, reason)) => Err(Bad {
            code,
            reason,
            doc: Some(l.doc),
        }),
        None => {
            if l.job.channel() == Some(Channel::Email) {
                if let Err((code, reason)) = super::email::email_parts(settings, &l.doc) {
                    return Err(Bad {
                        code,
                        reason,
                        doc: Some(l.doc),
                    });
                }
            }
            if l.job.channel() == Some(Channel::Fax) {
                let docs = cover_path.iter().chain(&documents);
                let usr = usr_document(base, &settings.paths, &l.job);
                let number = number_of(&l).unwrap_or_default();
                let mut job = l.job.clone();
                job.documents = documents.clone();
                let counted = cover_plan(
                    CoverPurpose::Check,
                    settings,
                    &l.doc,
                    &job,
                    usr.as_ref(),
                    sys,
                    &number,
                )
                .map_err(|e| format!("{file}: {e}"))
                .and_then(|_| max_pages(settings, &l.doc))
                .and_then(|max| count_fax_pages(&file, docs, max));
                if let Err(reason) = counted {
                    return Err(Bad {
                        code: CODE_INVALID,
                        reason,
                        doc: Some(l.doc),
                    });
                }
            }
            l.job.documents = documents;
            Ok(l)
        }
    }
}

/// `$max_pages` of the FS file, else of the CFG (`0`: no cap).
fn max_pages(settings: &Settings, doc: &Document) -> Result<Option<u32>, String> {
    match doc.last("max_pages") {
        None => Ok(settings.max_pages),
        Some(c) => match c.arg(0).map(str::parse::<u32>) {
            Some(Ok(n)) => Ok(Some(n).filter(|n| *n > 0)),
            _ => Err(format!(
                "{}:{}: $max_pages needs a number of pages",
                doc.origin(),
                c.line
            )),
        },
    }
}

/// Every document of a fax job opens and has pages (a PDF is checked page by page without
/// drawing it), and together they have at most `max` pages: the reason otherwise, naming the
/// file (and the page), before any call.
fn count_fax_pages<'a>(
    job: &str,
    docs: impl Iterator<Item = &'a String>,
    max: Option<u32>,
) -> Result<usize, String> {
    let mut total = 0;
    for d in docs {
        total += crate::fax::count_pages(d)
            .map_err(|e| format!("{job}: document cannot be sent: {e}"))?;
    }
    match max {
        Some(m) if total > m as usize => Err(format!(
            "{job}: the fax has {total} pages, more than $max_pages {m}"
        )),
        _ => Ok(total),
    }
}

/// Every check the daemon makes when it takes a job in, for `redial submit`: the file parses,
/// names only known commands (any unknown one is refused here, with a suggestion), its
/// `$fax_user` exists and is valid, `X`/`Y` prefixes have a `$param_group`, it has a
/// destination, its documents exist inside the document roots, its send window is not over;
/// and, beyond intake, what would fail at call time: every phone number is a valid dial string
/// ([`DialString`](crate::modem::dialstring::DialString), as modem and sim lines check it) and
/// every document of a fax job decodes. Returns the reasons (empty: the job is good).
pub fn check_submission(
    sys: &SystemConfig,
    settings: &Settings,
    base: &Path,
    origin: &str,
    bytes: &[u8],
    now: DateTime<Utc>,
) -> Vec<String> {
    let doc = match Document::parse(bytes, origin) {
        Ok(d) => d,
        Err(e) => return vec![e.to_string()],
    };
    let mut problems: Vec<String> = unknown_commands(&doc, FileKind::Fs)
        .iter()
        .map(ToString::to_string)
        .chain(header_typos(&doc))
        .collect();
    let l = match load_with(doc, base, &settings.paths, sys, &mut UsrCache::default())
        .and_then(|l| check_with(settings, sys, base, l))
    {
        Ok(l) => l,
        Err(b) => {
            problems.push(b.reason);
            return problems;
        }
    };
    if let Err(e) = engine::next_start(&l.policy, &l.job, now) {
        problems.push(format!("{origin}: {e}"));
    }
    // The profile's header is the job's when the job has none of its own.
    if l.doc.last("fax_header").is_none() {
        if let Some(usr) = usr_document(base, &settings.paths, &l.job) {
            problems.extend(header_typos(&usr));
        }
    }
    let d = &l.job.destinations;
    for (cmd, n) in [
        ("fax_phone", &d.fax_phone),
        ("voice_phone", &d.voice_phone),
        ("sms_phone", &d.sms_phone),
        ("alternate_phone", &d.alternate_phone),
    ] {
        if let Some(n) = n {
            if let Err(e) = crate::modem::dialstring::DialString::new(n, "") {
                let line = l.doc.last(cmd).map_or(0, |c| c.line);
                problems.push(format!(
                    "{origin}:{line}: ${cmd} {n:?} cannot be dialled: {e}"
                ));
            }
        }
    }
    if l.job.channel() == Some(Channel::Fax) {
        let cover = l
            .job
            .cover
            .as_deref()
            .and_then(|c| settings.documents.confine(c).ok());
        let docs = l.job.documents.iter().map(PathBuf::from).chain(cover);
        for p in docs {
            if let Err(e) = crate::fax::document::load_document(&p) {
                problems.push(format!(
                    "{origin}: document {} cannot be sent: {e}",
                    p.display()
                ));
            }
        }
    }
    problems
}

/// What is wrong in `doc`'s own `$fax_header` (a `%` field the header does not know), each
/// with file and line: `redial submit` refuses the job for it, the daemon logs it.
pub(crate) fn header_typos(doc: &Document) -> Vec<String> {
    doc.last("fax_header")
        .map(|c| {
            crate::fax::header::unknown_fields(&c.joined())
                .into_iter()
                .map(|why| format!("{}:{}: $fax_header: {why}", doc.origin(), c.line))
                .collect()
        })
        .unwrap_or_default()
}

/// The job's header line (`$fax_header`, `$fax_sender`, `$fax_station_id`: the FS file's, else
/// its USR profile's `usr`, else the CFG's), or `None` when no level asks for one. The recipient
/// is `$fax_to_name`, else `number`.
pub(crate) fn header_spec(
    doc: &Document,
    usr: Option<&Document>,
    sys: &SystemConfig,
    number: &str,
) -> Option<crate::line::documents::HeaderSpec> {
    let pick = |name: &str| {
        [Some(doc), usr, Some(&sys.document)]
            .into_iter()
            .flatten()
            .find_map(|d| d.last(name).map(|c| c.joined()))
    };
    Some(crate::line::documents::HeaderSpec {
        format: pick("fax_header")?,
        sender: pick("fax_sender").unwrap_or_default(),
        station: pick("fax_station_id").filter(|s| !s.is_empty()),
        recipient: doc
            .last("fax_to_name")
            .map(|c| c.joined())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| number.to_owned()),
        tz: sys.layer.timezone.unwrap_or(chrono_tz::UTC),
    })
}

/// The job's USR profile as a document (for the commands the policy layer does not keep).
pub(crate) fn usr_document(
    base: &Path,
    paths: &crate::spool::pathmap::PathMap,
    job: &Job,
) -> Option<Document> {
    let u = job.user.as_ref()?;
    read_document(&resolve_in(base, paths, u)).ok()
}

/// What a fax job would put on the line, for `redial preview`: its documents (canonical paths,
/// as the daemon gives them to the line), the resolution and the header line.
#[derive(Debug, Clone)]
pub struct FaxPreview {
    /// The documents, in order.
    pub documents: Vec<PathBuf>,
    /// `$fax_resolution standard` (or `low`): standard; otherwise fine.
    pub resolution: crate::fax::Resolution,
    /// The header line, when the job, its USR profile or the CFG asks for one.
    pub header: Option<crate::line::documents::HeaderSpec>,
    /// A text cover page, its fields filled (a document cover is the first of `documents`).
    pub cover: Option<String>,
}

/// The job file's fax as the daemon would place it (every intake check made first; the reasons
/// when one fails, or when the job is not a fax).
pub fn fax_preview(
    sys: &SystemConfig,
    settings: &Settings,
    base: &Path,
    origin: &str,
    bytes: &[u8],
) -> Result<FaxPreview, Vec<String>> {
    let doc = Document::parse(bytes, origin).map_err(|e| vec![e.to_string()])?;
    let l = load_with(doc, base, &settings.paths, sys, &mut UsrCache::default())
        .and_then(|l| check_with(settings, sys, base, l))
        .map_err(|b| vec![b.reason])?;
    if l.job.channel() != Some(Channel::Fax) {
        return Err(vec![format!("{origin}: not a fax job")]);
    }
    let standard = l
        .doc
        .last("fax_resolution")
        .and_then(|c| c.take_arg(0))
        .is_some_and(|r| r.eq_ignore_ascii_case("standard") || r.eq_ignore_ascii_case("low"));
    let number = number_of(&l).unwrap_or_default();
    let usr = usr_document(base, &settings.paths, &l.job);
    let mut documents: Vec<PathBuf> = l.job.documents.iter().map(PathBuf::from).collect();
    let cover = match cover_plan(
        CoverPurpose::Send { now: Utc::now() },
        settings,
        &l.doc,
        &l.job,
        usr.as_ref(),
        sys,
        &number,
    )
    .map_err(|e| vec![format!("{origin}: {e}")])?
    {
        Some(CoverPlan::Text(t)) => Some(t),
        Some(CoverPlan::Document(p)) => {
            documents.insert(0, p);
            None
        }
        None => None,
    };
    Ok(FaxPreview {
        cover,
        documents,
        resolution: if standard {
            crate::fax::Resolution::Standard
        } else {
            crate::fax::Resolution::Fine
        },
        header: header_spec(&l.doc, usr.as_ref(), sys, &number),
    })
}

impl FaxPreview {
    /// The pages the job would put on the line (cover, documents, header stamped at `now`, the
    /// sending number `line_id` unless the job names its own), prepared through `cache`: what
    /// `redial preview` writes and the web job page shows.
    pub fn pages(
        &self,
        line_id: &str,
        cache: &crate::line::documents::DocumentCache,
        now: DateTime<Utc>,
    ) -> Result<Vec<crate::fax::Page>, String> {
        use crate::line::documents::{pages_for_line, Prepared};
        let mut docs = Vec::new();
        if let Some(text) = &self.cover {
            let pages = crate::fax::render_text(text.as_bytes());
            docs.push(std::sync::Arc::new(Prepared::from_pages(
                pages,
                self.resolution,
            )));
        }
        for d in &self.documents {
            docs.push(cache.get(d, self.resolution).map_err(|e| e.to_string())?);
        }
        Ok(pages_for_line(&docs, self.header.as_ref(), line_id, now))
    }
}

/// The `id=` of line `number` of the CFG, or of its first line that has one (the sending
/// number a preview stamps when the job names none).
pub fn line_id_of(cfg: &Document, number: Option<u32>) -> Result<String, String> {
    let defs = crate::line::line_defs(cfg)?;
    match number {
        Some(n) => match defs.iter().find(|d| d.number == n) {
            Some(d) => Ok(d.param("id").unwrap_or_default().to_owned()),
            None => Err(format!("the CFG has no $line {n}")),
        },
        None => Ok(defs
            .iter()
            .find_map(|d| d.param("id"))
            .unwrap_or_default()
            .to_owned()),
    }
}

/// A fax job's cover, ready for the line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoverPlan {
    /// A text template with its fields filled: drawn as a text page before the documents.
    Text(String),
    /// A document (PDF, TIFF, PBM) sent as it is before the documents.
    Document(PathBuf),
}

/// The job's `$fax_cover` (`None` without one): a text template filled from the job (for [`CoverPurpose::Check`] its fields are only checked: `$pages` reads 0), or a document. Fields: `$pages` (the fax's pages, cover included), `$date`, `$time` (in the
/// CFG's `$timezone`), `$number` (the number dialled), `$var_def NAME "value"` variables (FS,
/// USR, CFG), and any command of the FS file, its USR profile or the CFG by name
/// (`$fax_to_name`, `$fax_to_company`, `$fax_sender`…; empty when no level sets it). Any other
/// name is an error naming the template and line.
pub(crate) fn cover_plan(
    purpose: CoverPurpose,
    settings: &Settings,
    doc: &Document,
    job: &Job,
    usr: Option<&Document>,
    sys: &SystemConfig,
    number: &str,
) -> Result<Option<CoverPlan>, String> {
    let Some(c) = &job.cover else {
        return Ok(None);
    };
    let path = settings
        .documents
        .confine(&settings.paths.map(c))
        .map_err(|e| format!("cover {c:?}: {e}"))?;
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    if crate::fax::detect_format(&path, &bytes) != Ok(crate::fax::DocumentFormat::Text) {
        // A PDF, TIFF or PBM cover goes as it is (refused with its reason when unreadable).
        let known = crate::fax::detect_format(&path, &bytes).is_ok();
        if known || crate::fax::fill_cover(&bytes, |_| Some(String::new())).is_err() {
            return if known {
                Ok(Some(CoverPlan::Document(path)))
            } else {
                Err(format!(
                    "cover {}: {}",
                    path.display(),
                    crate::fax::CoverError::NotText
                ))
            };
        }
    }
    let levels: Vec<&Document> = [Some(doc), usr, Some(&sys.document)]
        .into_iter()
        .flatten()
        .collect();
    let now = match purpose {
        CoverPurpose::Check => Utc::now(),
        CoverPurpose::Send { now } => now,
    };
    let local = now.with_timezone(&sys.layer.timezone.unwrap_or(chrono_tz::UTC));
    if purpose == CoverPurpose::Check {
        // Intake: the fields are checked, nothing is drawn (a campaign queues one per job).
        return fill_checked(&bytes, &levels, local, number, &path)
            .map(|t| Some(CoverPlan::Text(t)));
    }
    let mut documents = 0;
    for d in &job.documents {
        documents += crate::fax::count_pages(d).map_err(|e| e.to_string())?;
    }
    let fill = |pages: usize| {
        fill_with(&bytes, &levels, local, number, pages)
            .map_err(|e| format!("cover {}: {e}", path.display()))
    };
    // Drawn once to know its own pages, then filled with the total.
    let cover_pages = crate::fax::render_text(fill(documents)?.as_bytes()).len();
    Ok(Some(CoverPlan::Text(fill(cover_pages + documents)?)))
}

/// Why a cover plan is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CoverPurpose {
    /// Intake: check the template's fields only (`$pages` is not counted, nothing is drawn).
    Check,
    /// A call or a preview placed at `now`: the text as it will be sent.
    Send {
        /// When (`$date`, `$time`).
        now: DateTime<Utc>,
    },
}

fn fill_checked(
    bytes: &[u8],
    levels: &[&Document],
    local: DateTime<chrono_tz::Tz>,
    number: &str,
    path: &Path,
) -> Result<String, String> {
    fill_with(bytes, levels, local, number, 0).map_err(|e| format!("cover {}: {e}", path.display()))
}

fn fill_with(
    bytes: &[u8],
    levels: &[&Document],
    local: DateTime<chrono_tz::Tz>,
    number: &str,
    pages: usize,
) -> Result<String, crate::fax::CoverError> {
    {
        crate::fax::fill_cover(bytes, |name| match name {
            "pages" => Some(pages.to_string()),
            "date" => Some(local.format("%Y-%m-%d").to_string()),
            "time" => Some(local.format("%H:%M").to_string()),
            "number" => Some(number.to_owned()),
            _ => levels
                .iter()
                .find_map(|d| {
                    d.all("var_def")
                        .filter(|v| v.arg(0).is_some_and(|n| n.eq_ignore_ascii_case(name)))
                        .last()
                        .map(|v| v.arg(1).unwrap_or_default().to_owned())
                        .or_else(|| d.last(name).map(|c| c.joined()))
                })
                // A command the job could have set but did not: empty.
                .or_else(|| {
                    [FileKind::Fs, FileKind::Usr, FileKind::Cfg]
                        .iter()
                        .any(|&k| {
                            crate::command::registry::known(k, name)
                                != crate::command::registry::Known::Unknown
                        })
                        .then(String::new)
                }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `$retry_max` a profile's layer holds.
    fn max_of(l: PolicyLayer) -> Vec<i64> {
        l.retry_max.iter().map(|r| r.value).collect()
    }

    /// An edited profile is read again at the next pass, and a pass checks it once: a rescan's
    /// jobs all get the profile as the pass first found it.
    #[test]
    fn a_profile_is_checked_once_a_pass_and_read_again_when_edited() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("P.USR");
        // Each edit changes the size: two writes within one tick of the file system's clock can
        // leave the same modification time.
        let (two, fifteen) = ("$retry_max 2\n", "$retry_max 15\n");
        std::fs::write(&p, two).unwrap();
        let mut cache = UsrCache::default();
        cache.next_job();
        assert_eq!(max_of(usr_layer(&mut cache, &p).unwrap()), [2]);
        // One job read on its own after the edit gets the new profile.
        std::fs::write(&p, fifteen).unwrap();
        cache.next_job();
        assert_eq!(max_of(usr_layer(&mut cache, &p).unwrap()), [15]);
        // Within a batch, the profile as first checked in it; the next pass sees the edit.
        cache.begin_batch();
        assert_eq!(max_of(usr_layer(&mut cache, &p).unwrap()), [15]);
        std::fs::write(&p, "$retry_max 7\n").unwrap();
        cache.next_job();
        assert_eq!(max_of(usr_layer(&mut cache, &p).unwrap()), [15]);
        cache.end_batch();
        cache.next_job();
        assert_eq!(max_of(usr_layer(&mut cache, &p).unwrap()), [7]);
        // A profile that is gone is refused, not served from the cache.
        std::fs::remove_file(&p).unwrap();
        cache.next_job();
        assert!(usr_layer(&mut cache, &p).is_err());
    }
}
