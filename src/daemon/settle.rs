//! Settling attempts: a finished call becomes an attempt record, the retry engine's decision and
//! one atomic move (back to a queue, to SENT or to FAIL); bad jobs are failed with a reason.
//!
//! Part of the daemon (see its module documentation); it never places calls.

use super::*;
use crate::retry::attempt::AttemptFields;

impl Daemon {
    pub(super) fn finish(
        &mut self,
        line: u32,
        f: InFlight,
        result: CallResult,
        ended: DateTime<Utc>,
    ) {
        self.dispatch.finish(line, f.dest);
        if self.settings.dest_breaker.0 > 0 && !LINE_FAULT_CODES.contains(&result.code) {
            // Faults of the line or modem say nothing about the number.
            if self.destinations.record(&f.dest, result.code, ended) {
                tracing::warn!(job = %f.name, "destination paused: too many failures in a row");
            }
        }
        let board = self.lines.get(&line).map_or('X', |l| l.board());
        // A cancelled call is cancelled, unless it delivered before the hang-up reached it.
        let cancelled = f.cancel.as_ref().and_then(|r| {
            let delivered = self
                .sys
                .outcomes
                .classify(result.code, Some(f.channel))
                .class
                == Class::S;
            (!delivered).then(|| r.fail_reason())
        });
        let mut result = result;
        if cancelled.is_some() {
            result.code = CODE_CANCELLED;
        }
        // Its number: the record this attempt adds to the file.
        let n = f.loaded.job.records.len() + 1;
        if let Some(text) = result.transcript.take() {
            self.write_session_log(&f.name, n, &text);
        }
        self.call_ended(line);
        let attempt = Attempted {
            cancelled,
            path: f.path,
            name: f.name,
            queue: f.queue,
            started: f.started,
            ended,
            line: Some(line),
            board,
            channel: f.channel,
            result,
        };
        if self.fenced.is_some() || !self.owns(&attempt.path) {
            // This node lost its lease while the call was up: another node has the job now.
            self.report_late(&attempt.journalled());
            if attempt.result.code == CODE_OPTED_OUT {
                // The callee opted out on this call: the number is listed all the same.
                self.opted_out(&f.loaded, &attempt);
            }
            self.release_destination(f.dest_lock.as_deref());
        } else {
            // The number is free for the next call (on any node) once this one is on record.
            self.settle_then_release(f.loaded, attempt, f.dest_lock);
        }
    }

    /// Writes a call's session log to `LOG/<job stem>.<n>.log`. Not fsynced: it is a log, not job
    /// state; a log that cannot be written is reported and the attempt goes on.
    fn write_session_log(&self, job: &str, n: usize, text: &str) {
        let path = self.settings.layout.session_log(job, n);
        let tmp = path.with_extension("log.tmp");
        // `LOG/` is made the first time a log finds it missing, not asked for on every call.
        let written = match std::fs::write(&tmp, text) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => path
                .parent()
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&tmp, text)),
            other => other,
        }
        .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            tracing::warn!(job, attempt = n, log = %path.display(), error = %e,
                "cannot write the call's session log");
        }
    }

    /// Records an attempt, asks the engine, rewrites and moves the file.
    pub(super) fn settle(&mut self, l: Loaded, a: Attempted) {
        self.settle_then_release(l, a, None);
    }

    /// [`Daemon::settle`], then releases the attempt's destination lock once the result is on
    /// record. While [`Daemon::poll`] takes a batch of results, the writing and moving wait in
    /// the batch and are done together ([`Daemon::conclude_batch`]).
    fn settle_then_release(&mut self, mut l: Loaded, a: Attempted, lock: Option<PathBuf>) {
        if a.channel == Channel::Sms
            && a.result.code == crate::line::sms_http::CODE_SUBMITTED
            && a.cancelled.is_none()
        {
            // Taken by the gateway: not final until its delivery report (see `sms`).
            return self.hold_for_report(l, a, lock);
        }
        if a.result.code == CODE_OPTED_OUT {
            self.opted_out(&l, &a);
        }
        let r = &a.result;
        let row = self.sys.outcomes.classify(r.code, Some(a.channel));
        let mut decision = decide(&Input {
            policy: &l.policy,
            job: &l.job,
            queue_from: a.queue,
            attempt: ThisAttempt {
                class: row.class,
                code: Some(r.code),
                description: Some(row.description.clone()),
                ended: a.ended,
                line: a.line,
                channel: a.channel,
            },
            seed: job_seed(Path::new(&a.name)),
        });
        if let Some(reason) = &a.cancelled {
            // Final whatever a `$retry_parms` file maps outcome 40 to.
            decision.action = Action::Fail;
            decision.record_class = Class::Z;
            decision.status_override = None;
            decision.reason = reason.clone();
            tracing::info!(job = %a.name, line = a.line.unwrap_or(0), "call hung up and job failed: {reason}");
        }
        let cal = l.policy.calendar();
        let rec = AttemptRecord::from(AttemptFields {
            start: rewrite::local_stamp(&cal, a.started),
            kind: a.channel.type_code(),
            skipped: 0,
            scheduled: r.scheduled,
            outcome: decision.status_override.unwrap_or(r.code),
            class: decision.record_class,
            sent: r.pages,
            tosend: a.queue,
            flags: decision.prefixes.to_string(),
            boardline: format!("{}{}", a.board, a.line.unwrap_or(0)),
            baud: r.baud,
            call: r.call_secs,
            connect: r.connect_secs,
            answerback: r.answerback.clone(),
        });
        rewrite::apply(&mut l.doc, &decision, &rec, &cal);
        let next = match decision.action {
            Action::Retry { at } => {
                Next::Retry(decision.tosend.min(self.settings.layout.max_queue), at)
            }
            Action::Done => Next::Sent,
            Action::Fail => Next::Fail,
        };
        tracing::info!(job = %a.name, line = a.line.unwrap_or(0), code = r.code, class = %decision.record_class,
            next = %next, reason = %decision.reason, "attempt ended");
        self.emit(Event::Outcome {
            job: a.name.clone(),
            line: a.line,
            code: rec.outcome,
            class: decision.record_class.letter(),
            description: row.description,
            at: a.ended,
            next: next.clone(),
            reason: decision.reason.clone(),
            pages: r.pages,
            channel: a.channel,
        });
        if decision.record_class == Class::I || matches!(next, Next::Retry(..)) {
            self.stats.retried += 1;
        }
        let entry = a.journalled();
        match self.batch.as_mut() {
            Some(batch) => batch.push(Concluding {
                path: a.path,
                name: a.name,
                bytes: l.doc.to_bytes(),
                next,
                entry,
                lock,
            }),
            None => {
                self.conclude(&a.path, &a.name, &l.doc, &next, Some(entry));
                self.release_destination(lock.as_deref());
            }
        }
    }

    /// Writes and moves a batch of settled attempts together (their fsyncs overlap: see
    /// [`Store::write_and_move_all`]), then does for each what [`Daemon::conclude`] does after
    /// its write and move, in the batch's order, and releases its destination lock.
    pub(super) fn conclude_batch(&mut self, batch: Vec<Concluding>) {
        // Each job aims at its own name (no look first: the move never replaces a file, and a
        // taken name moves it on to the next free one); two jobs of the batch aiming at one name
        // would race for the free ones, so the second is concluded alone afterwards.
        let mut taken = std::collections::HashSet::new();
        let (mut together, mut alone) = (Vec::new(), Vec::new());
        for c in batch {
            let target = self.dir_of(&c.next).join(&c.name);
            if taken.insert(target.clone()) {
                together.push((c, target));
            } else {
                alone.push(c);
            }
        }
        let jobs: Vec<(&Path, &[u8], &Path)> = together
            .iter()
            .map(|(c, t)| (c.path.as_path(), c.bytes.as_slice(), t.as_path()))
            .collect();
        let done = self.store.write_and_move_all(&jobs);
        for ((c, _), r) in together.into_iter().zip(done) {
            match r {
                Ok(target) => self.moved(&target, &c.name, &c.next),
                Err((Point::ResultWrite, e)) => {
                    if !self.owns(&c.path) {
                        self.check_fenced();
                        self.report_late_or_drop(&c.name, Some(&c.entry));
                    } else {
                        let p = c.pending(Some(c.bytes.clone()));
                        self.defer(p, Point::ResultWrite, &e);
                    }
                }
                Err((point, e)) => {
                    if !self.owns(&c.path) || !c.path.exists() {
                        self.check_fenced();
                        self.report_late_or_drop(&c.name, Some(&c.entry));
                    } else {
                        self.defer(c.pending(None), point, &e);
                    }
                }
            }
            self.release_destination(c.lock.as_deref());
        }
        for c in alone {
            self.conclude_bytes(&c.path, &c.name, c.bytes, &c.next, Some(c.entry));
            self.release_destination(c.lock.as_deref());
        }
    }

    /// Writes the final bytes over the ACTIVE file, then moves it to its destination. A write
    /// or move the spool refuses is kept (memory and journal) and retried; the job stays in
    /// `ACTIVE`, where nothing dials it.
    pub(super) fn conclude(
        &mut self,
        path: &Path,
        name: &str,
        doc: &Document,
        next: &Next,
        entry: Option<pending::Journalled>,
    ) {
        self.conclude_bytes(path, name, doc.to_bytes(), next, entry);
    }

    /// [`Daemon::conclude`] with the document's bytes.
    fn conclude_bytes(
        &mut self,
        path: &Path,
        name: &str,
        bytes: Vec<u8>,
        next: &Next,
        entry: Option<pending::Journalled>,
    ) {
        let pending = |bytes| pending::Pending {
            path: path.to_path_buf(),
            name: name.to_string(),
            bytes,
            next: next.clone(),
            entry: entry.clone(),
            err: None,
        };
        // A write or move that fails because the job is no longer ours (taken over between the
        // check in `finish` and now) is never retried: it becomes a late report.
        if let Err(e) = self.store.write(Point::ResultWrite, path, &bytes) {
            if !self.owns(path) {
                self.check_fenced();
                return self.report_late_or_drop(name, entry.as_ref());
            }
            return self.defer(pending(Some(bytes)), Point::ResultWrite, &e);
        }
        if let Err(e) = self.move_to(path, name, next) {
            if !self.owns(path) || !path.exists() {
                self.check_fenced();
                return self.report_late_or_drop(name, entry.as_ref());
            }
            self.defer(pending(None), Point::MoveOn, &e);
        }
    }

    fn report_late_or_drop(&mut self, name: &str, entry: Option<&pending::Journalled>) {
        match entry {
            Some(j) => self.report_late(j),
            None => tracing::warn!(job = name, "the job was taken over before its failure was written; its new owner decides again"),
        }
    }

    /// Moves a job out of `ACTIVE` (kept and retried when the spool refuses).
    pub(super) fn move_on(&mut self, path: &Path, name: &str, next: &Next) {
        if let Err(e) = self.move_to(path, name, next) {
            let p = pending::Pending {
                path: path.to_path_buf(),
                name: name.to_string(),
                bytes: None,
                next: next.clone(),
                entry: None,
                err: None,
            };
            self.defer(p, Point::MoveOn, &e);
        }
    }

    /// The directory `next` moves a job to.
    fn dir_of(&self, next: &Next) -> PathBuf {
        let layout = &self.settings.layout;
        match next {
            Next::Retry(q, _) => layout.queue_dir(*q),
            Next::Sent => layout.sent(),
            Next::Fail => layout.fail(),
        }
    }

    /// One durable rename to where `next` says, then the bookkeeping.
    pub(super) fn move_to(&mut self, path: &Path, name: &str, next: &Next) -> std::io::Result<()> {
        let target = self
            .store
            .move_free(Point::MoveOn, path, &self.dir_of(next), name)?;
        self.moved(&target, name, next);
        Ok(())
    }

    /// The bookkeeping after a job was moved to `target`.
    fn moved(&mut self, target: &Path, name: &str, next: &Next) {
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

    pub(super) fn reject_queued(&mut self, q: u8, name: &str, bad: Bad) {
        self.index.remove(q, &JobName::new(name));
        let layout = self.settings.layout.clone();
        let src = layout.queue_dir(q).join(name);
        let dst = layout.active(&self.node).join(name);
        if dst.exists() || self.spool.holding(self.clock.now()) || self.fenced.is_some() {
            return;
        }
        match self.store.rename_claim_durable(Point::Claim, &src, &dst) {
            Ok(()) => self.reject_active(&dst, name, bad),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.check_fenced(),
            Err(e) => self.spool_refused(Point::Claim, name, &e),
        }
    }

    /// Moves a bad job (already in ACTIVE) to FAIL with the reason written in, or beside it.
    pub(super) fn reject_active(&mut self, path: &Path, name: &str, bad: Bad) {
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
                self.conclude(path, name, &doc, &Next::Fail, None);
            }
            None => {
                let target = free_name(&layout.fail(), name);
                let err = PathBuf::from(format!("{}.err", target.display()));
                let mut text = Document::new(&err.display().to_string());
                text.set("fax_status2", &[&bad.code.to_string()]);
                text.set("fail_reason", &[&bad.reason]);
                let p = pending::Pending {
                    path: path.to_path_buf(),
                    name: name.to_string(),
                    bytes: None,
                    next: Next::Fail,
                    entry: None,
                    err: Some((err.clone(), text.to_bytes())),
                };
                if let Err(e) = self.store.write(Point::RejectWrite, &err, &text.to_bytes()) {
                    return self.defer(p, Point::RejectWrite, &e);
                }
                match self.store.rename(Point::RejectMove, path, &target) {
                    Ok(()) => self.stats.failed += 1,
                    Err(e) => {
                        self.defer(pending::Pending { err: None, ..p }, Point::RejectMove, &e)
                    }
                }
            }
        }
    }
}

/// A settled attempt waiting in a batch for its write and move.
pub(super) struct Concluding {
    path: PathBuf,
    name: String,
    bytes: Vec<u8>,
    next: Next,
    entry: pending::Journalled,
    /// The destination lock to release once the result is on record.
    lock: Option<PathBuf>,
}

impl Concluding {
    fn pending(&self, bytes: Option<Vec<u8>>) -> pending::Pending {
        pending::Pending {
            path: self.path.clone(),
            name: self.name.clone(),
            bytes,
            next: self.next.clone(),
            entry: Some(self.entry.clone()),
            err: None,
        }
    }
}

/// A finished attempt: where the job is and what the line said.
#[derive(Debug, Clone)]
pub(super) struct Attempted {
    /// The `$fail_reason` of an operator's cancel, when the call was cancelled.
    pub cancelled: Option<String>,
    pub path: PathBuf,
    pub name: String,
    pub queue: u8,
    pub started: DateTime<Utc>,
    pub ended: DateTime<Utc>,
    pub line: Option<u32>,
    pub board: char,
    pub channel: Channel,
    pub result: CallResult,
}

impl Attempted {
    /// The journal's copy of it.
    pub fn journalled(&self) -> pending::Journalled {
        pending::Journalled {
            job: self.name.clone(),
            line: self.line,
            board: self.board,
            queue: self.queue,
            started: self.started,
            ended: self.ended,
            result: self.result.clone(),
        }
    }
}
