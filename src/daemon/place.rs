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
        let bytes = match store::read_job(&dst) {
            Ok(b) => b,
            Err(e) => {
                let bad = Bad {
                    code: CODE_INVALID,
                    reason: format!("{}: {e}", dst.display()),
                    doc: None,
                };
                return self.reject_active(&dst, name.as_str(), bad);
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

    pub(super) fn claim(&mut self, src: &Path, dst: &Path) -> std::io::Result<()> {
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
}
