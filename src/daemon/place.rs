//! Placing attempts: claiming a due job by rename into `ACTIVE/<node>/`, writing the claim, and
//! starting the call on the chosen line.
//!
//! Part of the daemon (see its module documentation); outcomes are settled in `settle`.

use super::*;

impl Daemon {
    /// Claims a job and places the attempt.
    pub(super) fn begin(&mut self, p: Pick, now: DateTime<Utc>) {
        let Pick {
            queue: q,
            name,
            line,
        } = p;
        let entry = self.index.remove(q, &name);
        if let Some(e) = entry.as_ref().filter(|_| self.settings.dest_breaker.0 > 0) {
            if let Some(until) = self.destinations.paused_until(&e.dest, now) {
                // The number failed too often in a row: the job waits in its queue, untouched,
                // until the breaker releases it and its windows allow a start.
                let at = self.release_at(q, &name, until, now);
                tracing::info!(job = %name, until = %until, at = %at, "destination paused by its breaker");
                let mut e = e.clone();
                e.due = due_ms(at);
                self.index.upsert(q, name, e);
                return;
            }
        }
        let layout = self.settings.layout.clone();
        let src = layout.queue_dir(q).join(name.as_str());
        let dst = layout.active(&self.node).join(name.as_str());
        // One call at a time per number across every node (spool-wide lock), before the claim.
        // Taken only on a lease that others judge fresh: renewed first when it is too old (the
        // node is back from a stall): a lock on a stale lease counts as dead and another node
        // would break it. Checked again right before the call (a stall in between).
        let dest = entry.as_ref().map(|e| e.dest);
        if dest.is_some() && !self.lease_ready_for_lock() {
            if let Some(e) = entry {
                self.index.upsert(q, name, e);
            }
            return;
        }
        let dest_lock = match dest {
            Some(d) => match self.lock_destination(d, now) {
                Ok(Some(p)) => Some(p),
                Ok(None) => {
                    // Another node is calling this number: the job waits a moment.
                    if let Some(mut e) = entry {
                        e.due = due_ms(now) + 1000;
                        self.index.upsert(q, name, e);
                    }
                    return;
                }
                Err(e) => {
                    self.spool_refused(Point::Claim, name.as_str(), &e);
                    self.index_file(q, name.as_str());
                    return;
                }
            },
            None => None,
        };
        let give_up = |d: &mut Daemon| d.release_destination(dest_lock.as_deref());
        match self.store.rename_claim(Point::Claim, &src, &dst) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                // The same name is already in progress here (the claim never replaces a file):
                // it waits for the rescan. No look before the claim: the rename itself says so.
                give_up(self);
                return;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                give_up(self);
                if src.exists() {
                    // The job is there, so our ACTIVE directory is not: taken over.
                    self.check_fenced();
                }
                return;
            }
            Err(e) => {
                give_up(self);
                self.spool_refused(Point::Claim, name.as_str(), &e);
                self.index_file(q, name.as_str());
                return;
            }
        }
        if let Some(r) = self.cancel_request(name.as_str()) {
            // Cancelled while it waited: failed, never dialled.
            give_up(self);
            return self.cancel_claimed(&dst, name.as_str(), &r);
        }
        let bytes = match store::read_job(&dst) {
            Ok(b) => b,
            Err(store::ReadJobError::Gone) => {
                // Claimed, then gone from our directory: taken over a moment later.
                give_up(self);
                self.check_fenced();
                return;
            }
            Err(e) => {
                give_up(self);
                let bad = Bad {
                    code: CODE_INVALID,
                    reason: format!("{}: {e}", dst.display()),
                    doc: None,
                };
                return self.reject_active(&dst, name.as_str(), bad);
            }
        };
        let loaded = match self.load(&dst, bytes).and_then(|l| self.check(l)) {
            Ok(l) => l,
            Err(bad) => {
                give_up(self);
                return self.reject_active(&dst, name.as_str(), bad);
            }
        };
        if let Some(p) = super::sms::pending(&loaded.doc) {
            // An SMS the gateway took: settled by its report or its deadline, never resent.
            give_up(self);
            return self.settle_waiting(&dst, q, name.as_str(), line, loaded, p);
        }
        match self.due(&loaded, now) {
            Err(e) => {
                give_up(self);
                return self.reject_active(&dst, name.as_str(), due_bad(e, loaded.doc));
            }
            Ok(due)
                if due > now + Duration::seconds(1)
                    || entry.is_none()
                    || !engine::may_start_at(&loaded.policy, &loaded.job, now) =>
            {
                // Changed since indexed, or picked after its window closed (or a pause began)
                // while it waited for a line: give it back unchanged; indexing it again computes
                // its next allowed start.
                give_up(self);
                self.return_to_queue(&dst, q, name.as_str());
                return;
            }
            Ok(_) if crate::ops::alter::is_held(&loaded.doc) => {
                // Held by an operator since it was indexed: back, untouched.
                give_up(self);
                self.return_to_queue(&dst, q, name.as_str());
                return;
            }
            Ok(_) => {}
        }
        let mut loaded = loaded;
        let channel = loaded.job.channel().expect("checked");
        // Late reports of an earlier attempt (a node that lost its lease while the call was up)
        // join the history now; a late success means the job was delivered: no new call.
        let late = self.late_reports(name.as_str());
        if !late.is_empty() {
            if let Some((started, ended, line_no, board, result)) =
                self.absorb_late(&mut loaded.doc, &late, channel)
            {
                give_up(self);
                tracing::warn!(job = %name, "a late report says this job was delivered: not dialled again");
                let attempt = settle::Attempted {
                    cancelled: None,
                    path: dst.clone(),
                    name: name.to_string(),
                    queue: q,
                    started,
                    ended,
                    line: line_no,
                    board,
                    channel,
                    result,
                };
                self.settle(loaded, attempt);
                for l in &late {
                    let _ = std::fs::remove_file(&l.file);
                }
                return;
            }
        }
        // The do-not-call list, on every node and channel: the job fails, never dialled.
        if let Some(reason) = self.do_not_call(&loaded) {
            give_up(self);
            tracing::warn!(job = %name, reason = %reason, "destination on the do-not-call list: not dialled");
            let bad = Bad {
                code: CODE_DO_NOT_CALL,
                reason,
                doc: Some(loaded.doc),
            };
            self.reject_active(&dst, name.as_str(), bad);
            for l in &late {
                let _ = std::fs::remove_file(&l.file);
            }
            return;
        }
        // `$max_calls_per_day`: take one of today's calls to the number (every node counts in
        // the spool), or give the job back; indexing it again puts it on the next day.
        match self.reserve_call(&loaded, name.as_str(), now) {
            Ok(true) => {}
            Ok(false) => {
                give_up(self);
                self.return_to_queue(&dst, q, name.as_str());
                return;
            }
            Err(e) => {
                // Uncounted calls could break the cap: none until the spool takes writes.
                give_up(self);
                self.spool_refused(Point::ClaimWrite, name.as_str(), &e);
                self.return_to_queue(&dst, q, name.as_str());
                return;
            }
        }
        // The job as it came, for a give-back after its claim is written (see below).
        let unclaimed = loaded.doc.mark();
        if loaded.job.is_finished() {
            // Moved into a queue with a final status (from SENT or FAIL, or a file CopiaFacts
            // finished): a new cycle, as the reference says; the mark keeps it one.
            let local = rewrite::local_stamp(&loaded.policy.calendar(), now);
            loaded.doc.append(
                "new_cycle",
                &[
                    &crate::command::format_date(local.date()),
                    &crate::command::format_time(local.time()),
                    &q.to_string(),
                    "arrived in a queue with a final status",
                ],
            );
        }
        rewrite::claim(&mut loaded.doc, line, q);
        // The dialling mark (or, where no hard link can be made, the claim written into the
        // job): its fsync of ACTIVE/<node> also makes the claim's rename durable; the queue's
        // directory follows, so the job cannot come back there after a crash.
        let claimed = self.store.claim_dialling(
            Point::ClaimWrite,
            &dst,
            line,
            q,
            || loaded.doc.to_bytes(),
            &layout.queue_dir(q),
        );
        let claimed = match claimed {
            Ok(c) => c,
            Err(e) => {
                give_up(self);
                self.release_call(&loaded, name.as_str(), now);
                if !self.owns(&dst) {
                    self.check_fenced();
                    return;
                }
                self.spool_refused(Point::ClaimWrite, name.as_str(), &e);
                self.return_to_queue(&dst, q, name.as_str());
                return;
            }
        };
        for l in &late {
            let _ = std::fs::remove_file(&l.file);
        }
        let channel = loaded.job.channel().expect("checked");
        let alternate = loaded.doc.last("fax_use_alternate").is_some();
        let number = number_of(&loaded).unwrap_or_default();
        let call = Call {
            job: name.to_string(),
            number: number.clone(),
            channel,
            documents: loaded.job.documents.iter().map(PathBuf::from).collect(),
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
                .and_then(|c| c.take_arg(0))
                .is_some_and(|r| {
                    r.eq_ignore_ascii_case("standard") || r.eq_ignore_ascii_case("low")
                }),
            fax_speed: loaded
                .doc
                .last("fax_speed")
                .and_then(|c| c.take_arg(0))
                .and_then(|s| s.parse().ok()),
            header: None,
            cover: None,
            email: None,
            sms: None,
        };
        let mut call = call;
        if channel == Channel::Fax {
            let usr = super::intake::usr_document(&self.base, &self.settings.paths, &loaded.job);
            call.header = super::intake::header_spec(&loaded.doc, usr.as_ref(), &self.sys, &number);
            // Checked at intake; a cover that went bad since is left out with a warning rather
            // than failing a call the documents can still make.
            match super::intake::cover_plan(
                super::intake::CoverPurpose::Send { now },
                &self.settings,
                &loaded.doc,
                &loaded.job,
                usr.as_ref(),
                &self.sys,
                &number,
            ) {
                Ok(Some(super::intake::CoverPlan::Text(t))) => call.cover = Some(t),
                Ok(Some(super::intake::CoverPlan::Document(p))) => call.documents.insert(0, p),
                Ok(None) => {}
                Err(e) => tracing::warn!(job = %name, "cover page left out: {e}"),
            }
        }
        if channel == Channel::Email {
            // Checked at intake; a body file that went bad since is left out with a warning.
            call.email = Some(
                super::email::email_parts(&self.settings, &loaded.doc).unwrap_or_else(|(_, e)| {
                    tracing::warn!(job = %name, "e-mail body left out: {e}");
                    super::email::email_parts_unchecked(&loaded.doc)
                }),
            );
        }
        if channel == Channel::Sms {
            call.sms = Some(super::sms::sms_parts(
                &loaded.doc,
                name.as_str(),
                call.attempt,
            ));
        }
        if dest_lock.is_some() && !self.lease_holds_for_lock(self.clock.now()) {
            // The node stalled after it renewed (the claim write's fsync is the longest step):
            // its lease may have gone stale meanwhile, the node been taken over, its lock
            // broken and the number called by another node. Not dialled: the job goes back to its queue as written
            // (a later claim renews first and dials it).
            give_up(self);
            self.release_call(&loaded, name.as_str(), now);
            tracing::warn!(job = %name, "stalled between locking the number and dialling: not dialled, back to its queue");
            // Back as it came: its dialling mark, or its written claim (`$fax_status1 3`),
            // would make a crash during its next claim look like an interrupted call, recorded
            // as an attempt. The mark goes with the move's fsync of ACTIVE/<node>.
            match claimed {
                store::Claimed::Marked(_) => self.store.unmark(&dst),
                store::Claimed::Written => {
                    loaded.doc.restore(unclaimed);
                    if let Err(e) = self
                        .store
                        .write(Point::GiveBack, &dst, &loaded.doc.to_bytes())
                    {
                        tracing::warn!(job = %name, error = %e, "cannot undo the claim written into a job given back");
                    }
                }
            }
            self.return_to_queue(&dst, q, name.as_str());
            return;
        }
        let placed = match self.lines.get_mut(&line) {
            Some(l) => l.place(&call, now, &self.completion),
            None => return,
        };
        let dest = dest.unwrap_or_else(|| dest_hash(&number));
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
                dest_lock,
                until: match placed {
                    Placed::Until(t, r) => Some((t, r)),
                    Placed::Reported => None,
                },
                cancel: None,
            },
        );
    }

    /// When a job held by its destination's breaker until `until` may start: the first instant
    /// at or after it that the job's windows allow. The job is read where it waits in its queue
    /// (not claimed); when it cannot be read, `until` (the claim's re-check then decides).
    fn release_at(
        &mut self,
        q: u8,
        name: &JobName,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        let path = self.settings.layout.queue_dir(q).join(name.as_str());
        store::read_job(&path)
            .ok()
            .and_then(|bytes| self.load(&path, bytes).ok())
            .and_then(|l| engine::earliest_start(&l.policy, &l.job, until, now).ok())
            .unwrap_or(until)
    }

    /// Puts a claimed job back in its queue unchanged (kept and retried if the spool refuses).
    pub(super) fn return_to_queue(&mut self, dst: &Path, q: u8, name: &str) {
        let now = self.clock.now();
        let queue = self.settings.layout.queue_dir(q);
        match self.store.move_free(Point::GiveBack, dst, &queue, name) {
            Ok(back) => {
                if let Some(n) = back.file_name().and_then(|n| n.to_str()) {
                    self.index_file(q, n);
                }
            }
            Err(e) => self.defer(
                pending::Pending {
                    path: dst.to_path_buf(),
                    name: name.to_string(),
                    bytes: None,
                    next: Next::Retry(q, now),
                    entry: None,
                    err: None,
                },
                Point::GiveBack,
                &e,
            ),
        }
    }

    /// Takes a spool-wide lock on a destination (`$max_concurrent_calls` slots).
    fn lock_destination(&self, dest: u64, now: DateTime<Utc>) -> std::io::Result<Option<PathBuf>> {
        let layout = &self.settings.layout;
        self.locks
            .acquire(layout, dest, self.settings.max_per_dest, now, || {
                lease::read_all(layout)
            })
    }

    /// Releases a destination lock this node took (kept as a spare for the next call).
    pub(super) fn release_destination(&self, lock: Option<&Path>) {
        if let Some(p) = lock {
            self.locks.release(p);
        }
    }
}
