//! Settling attempts: a finished call becomes an attempt record, the retry engine's decision and
//! one atomic move (back to a queue, to SENT or to FAIL); bad jobs are failed with a reason.
//!
//! Part of the daemon (see its module documentation); it never places calls.

use super::*;

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
    pub(super) fn settle(
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
    pub(super) fn conclude(&mut self, path: &Path, name: &str, doc: &Document, next: &Next) {
        let layout = self.settings.layout.clone();
        if let Err(e) = write_atomic(&layout.temp(), &self.temp_prefix, path, &doc.to_bytes()) {
            tracing::error!(job = name, error = %e, "cannot rewrite the job; it stays in ACTIVE for recovery");
            return;
        }
        self.move_on(path, name, next);
    }

    pub(super) fn move_on(&mut self, path: &Path, name: &str, next: &Next) {
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

    pub(super) fn reject_queued(&mut self, q: u8, name: &str, bad: Bad) {
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
                self.conclude(path, name, &doc, &Next::Fail);
            }
            None => {
                let target = free_name(&layout.fail(), name);
                let err = PathBuf::from(format!("{}.err", target.display()));
                let mut text = Document::new(&err.display().to_string());
                text.set("fax_status2", &[&bad.code.to_string()]);
                text.set("fail_reason", &[&bad.reason]);
                if let Err(e) =
                    write_atomic(&layout.temp(), &self.temp_prefix, &err, &text.to_bytes())
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
}
