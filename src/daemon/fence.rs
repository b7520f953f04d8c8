//! Fencing: a node that lost its lease (another node took its `ACTIVE/<node>/` over while it was
//! stalled) must not write a job it no longer owns, nor dial again, before it knows.
//!
//! The rule: a node writes and claims only inside its own `ACTIVE/<node>/`, and it never
//! recreates that directory while it runs. A takeover renames the directory away, so every
//! later write or claim of the stalled node fails at the file system (the rename is the fence,
//! atomic on the file server too). The node then notices (`fenced`), places no call, lets the
//! calls still up end, and files each of their results as a *late report* in `LATE/`; then it
//! rejoins with a new lease generation and an empty directory. A late report is written into the
//! job's history (`$late_report`) by whichever node next handles the job; a late success
//! finishes the job as sent instead of letting it be dialled again. It never dials anything.

use super::pending::Journalled;
use super::*;
use crate::spool::store::Point;

/// The file name prefix of a job's late reports in `LATE/`.
fn late_prefix(job: &str) -> String {
    format!("{job}.")
}

/// The call a late report describes: started, ended, line, board letter, result.
pub(super) type LateCall = (DateTime<Utc>, DateTime<Utc>, Option<u32>, char, CallResult);

/// A late report read back.
#[derive(Debug, Clone)]
pub(super) struct Late {
    pub file: PathBuf,
    pub args: Vec<String>,
    pub attempt: Option<LateCall>,
}

impl Daemon {
    /// Whether this node still owns the `ACTIVE` file at `path`.
    pub(super) fn owns(&self, path: &Path) -> bool {
        let mine = self.settings.layout.active(&self.node);
        match path.parent() {
            // A job of this node's own directory (every call's): one look.
            Some(p) if p == mine => mine.is_dir(),
            p => mine.is_dir() && p.is_some_and(Path::is_dir),
        }
    }

    /// Checks whether this node's `ACTIVE` directory was taken over; if so, fences the node.
    ///
    /// Only a directory proven gone (`ENOENT`) fences: a network mount that fails a look-up
    /// for a moment (an I/O error, sshfs's `EPERM`) proves nothing, and the next check sees again.
    pub(super) fn check_fenced(&mut self) {
        let gone = match std::fs::metadata(self.settings.layout.active(&self.node)) {
            Ok(m) => !m.is_dir(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
            Err(e) => {
                tracing::warn!(node = %self.node, error = %e, "cannot look at this node's ACTIVE directory; not taken as fenced");
                false
            }
        };
        if self.fenced.is_none() && gone {
            let now = self.clock.now();
            self.fenced = Some(now);
            tracing::error!(node = %self.node, in_flight = self.inflight.len(),
                "this node lost its lease (its ACTIVE directory was taken over): no new calls; results of calls still up become late reports");
        }
    }

    /// Files the result of a call this node no longer owns in `LATE/`.
    pub(super) fn report_late(&mut self, a: &Journalled) {
        self.check_fenced();
        let layout = self.settings.layout.clone();
        let args = [
            a.started.to_rfc3339(),
            a.ended.to_rfc3339(),
            self.node.clone(),
            format!("{}{}", a.board, a.line.unwrap_or(0)),
            a.result.code.to_string(),
            a.result.pages.to_string(),
            a.result.baud.to_string(),
            a.result.call_secs.to_string(),
            a.result.connect_secs.to_string(),
            a.result.answerback.clone(),
            a.result.scheduled.to_string(),
        ];
        let mut doc = Document::new("late report");
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        doc.append("late_report", &refs);
        let file = layout.late().join(format!(
            "{}{}.{}.{}.late",
            late_prefix(&a.job),
            self.node,
            self.generation,
            a.ended.timestamp_millis()
        ));
        tracing::warn!(job = %a.job, code = a.result.code, file = %file.display(),
            "late report: the call ended after this node lost the job");
        let _ = std::fs::create_dir_all(layout.late());
        if let Err(e) = self.store.write(Point::LateWrite, &file, &doc.to_bytes()) {
            tracing::error!(job = %a.job, error = %e, code = a.result.code,
                "cannot file the late report; it is only in this log");
        }
    }

    /// After a fence, once no call is up: a new generation, an empty directory, a fresh lease.
    pub(super) fn rejoin_if_fenced(&mut self) {
        if self.fenced.is_none() || !self.inflight.is_empty() || self.claim_lost() {
            return;
        }
        self.drop_orphans();
        // A fresh lease first, so no node judges the new directory by the old, stale lease.
        self.generation = new_generation();
        // Locks (and spares) of the old generation are no longer this run's.
        self.locks = crate::spool::destlock::Spares::new(
            &self.settings.layout,
            crate::spool::destlock::Holder {
                node: self.node.clone(),
                generation: self.generation,
            },
        );
        self.locks.drop_earlier(&self.settings.layout);
        if let Err(e) = self.renew_lease() {
            tracing::error!(error = %e, "cannot renew the lease to rejoin; trying again later");
            return;
        }
        let mine = self.settings.layout.active(&self.node);
        if let Err(e) = std::fs::create_dir_all(&mine) {
            tracing::error!(error = %e, "cannot recreate this node's ACTIVE directory");
            return;
        }
        let _ = store::fsync_dir(&self.settings.layout.active_root());
        self.fenced = None;
        tracing::warn!(node = %self.node, generation = self.generation, "rejoined with a new lease generation");
        self.absorb_finished_late();
        self.index = Index::new();
        self.rescan();
    }

    /// Results kept while the spool refused them whose job this node no longer owns (its
    /// directory was taken over meanwhile) become late reports; they are never written.
    pub(super) fn drop_orphans(&mut self) {
        let (orphans, kept): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|p| !self.owns(&p.path));
        self.pending = kept;
        if orphans.is_empty() {
            return;
        }
        for p in orphans {
            tracing::warn!(job = %p.name, "a kept result whose job was taken over meanwhile");
            if let Some(j) = &p.entry {
                self.report_late(j);
            }
        }
        self.write_journal();
    }

    /// Late reports waiting for `job`.
    pub(super) fn late_reports(&self, job: &str) -> Vec<Late> {
        let dir = self.settings.layout.late();
        let Ok(rd) = std::fs::read_dir(&dir) else {
            return Vec::new();
        };
        let prefix = late_prefix(job);
        let mut files: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| {
                e.file_name()
                    .to_str()
                    .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".late"))
            })
            .map(|e| e.path())
            .collect();
        files.sort();
        files
            .into_iter()
            .filter_map(|file| {
                let bytes = store::read_job(&file).ok()?;
                let doc = Document::parse(&bytes, &file.display().to_string()).ok()?;
                let args: Vec<String> = doc
                    .last("late_report")?
                    .texts()
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
                let attempt = parse_attempt(&args);
                Some(Late {
                    file,
                    args,
                    attempt,
                })
            })
            .collect()
    }

    /// Writes `late` into `doc`'s history; returns a late success, if one is among them.
    pub(super) fn absorb_late(
        &self,
        doc: &mut Document,
        late: &[Late],
        channel: Channel,
    ) -> Option<LateCall> {
        let mut success = None;
        for l in late {
            let refs: Vec<&str> = l.args.iter().map(String::as_str).collect();
            doc.append("late_report", &refs);
            if let Some(a) = &l.attempt {
                if self.sys.outcomes.classify(a.4.code, Some(channel)).class == Class::S {
                    success = Some(a.clone());
                }
            }
        }
        success
    }

    /// Late reports of jobs that are already in SENT or FAIL: written into them in place (by a
    /// claim into this node's directory and a move back, so no other node sees a half-written
    /// file).
    fn absorb_finished_late(&mut self) {
        let layout = self.settings.layout.clone();
        let Ok(rd) = std::fs::read_dir(layout.late()) else {
            return;
        };
        let mut jobs: Vec<String> = rd
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_str()?.to_string();
                let job = n.strip_suffix(".late")?;
                // NAME.FS.node.gen.ms
                let i = job.find(".FS.").or_else(|| job.find(".fs."))?;
                Some(job[..i + 3].to_string())
            })
            .collect();
        jobs.sort();
        jobs.dedup();
        for job in jobs {
            for dir in [layout.sent(), layout.fail()] {
                let src = dir.join(&job);
                if !src.is_file() {
                    continue;
                }
                let late = self.late_reports(&job);
                let mine = layout.active(&self.node).join(&job);
                if self
                    .store
                    .rename_claim_durable(Point::Claim, &src, &mine)
                    .is_err()
                {
                    continue;
                }
                let Ok(bytes) = store::read_job(&mine) else {
                    let _ = self.store.rename(Point::MoveOn, &mine, &src);
                    continue;
                };
                match Document::parse(&bytes, &mine.display().to_string()) {
                    Ok(mut doc) => {
                        for l in &late {
                            let refs: Vec<&str> = l.args.iter().map(String::as_str).collect();
                            doc.append("late_report", &refs);
                        }
                        if self
                            .store
                            .write(Point::ResultWrite, &mine, &doc.to_bytes())
                            .is_ok()
                        {
                            for l in &late {
                                let _ = std::fs::remove_file(&l.file);
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(job, error = %e, "a finished job with late reports does not parse; reports left in LATE")
                    }
                }
                if let Err(e) = self.store.move_free(Point::MoveOn, &mine, &dir, &job) {
                    let next = if dir == layout.sent() {
                        Next::Sent
                    } else {
                        Next::Fail
                    };
                    self.defer(
                        pending::Pending {
                            path: mine,
                            name: job.clone(),
                            bytes: None,
                            next,
                            entry: None,
                            err: None,
                        },
                        Point::MoveOn,
                        &e,
                    );
                }
                break;
            }
        }
    }
}

/// The call a late report describes: started, ended, line, board, result.
fn parse_attempt(a: &[String]) -> Option<LateCall> {
    let t = |s: &String| {
        DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc))
    };
    let n = |i: usize| a.get(i).and_then(|s| s.parse::<u32>().ok()).unwrap_or(0);
    let started = t(a.first()?)?;
    let ended = t(a.get(1)?)?;
    let bl = a.get(3)?;
    let board = bl.chars().next().unwrap_or('X');
    let line = bl.get(1..).and_then(|s| s.parse().ok());
    Some((
        started,
        ended,
        line,
        board,
        CallResult {
            code: a.get(4)?.parse().ok()?,
            pages: n(5),
            baud: n(6),
            call_secs: n(7),
            connect_secs: n(8),
            answerback: a.get(9).cloned().unwrap_or_default(),
            transcript: None,
            scheduled: n(10),
        },
    ))
}

/// A fresh lease generation: random, so a restarted node never reuses one.
pub(super) fn new_generation() -> u64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        // The clock and the pid still differ between two runs of one node.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return t ^ u64::from(std::process::id()).rotate_left(32);
    }
    u64::from_le_bytes(b)
}
