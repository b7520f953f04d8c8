//! Operators' cancel requests (`CANCEL/<job>.req`, written by `redial cancel`): a call in
//! progress on this node is hung up (its line's cancel input) and its attempt settled as
//! cancelled (outcome 40, FAIL); a job waiting in one of this node's queues is claimed and failed
//! undialled; a job claimed with a request waiting is failed instead of dialled. Every cancel
//! is logged with who asked and why, also one `redial cancel` carried out itself on a queued
//! job (it leaves a notice, `CANCEL/<job>.<ms>.done`, that a node serving the queue logs and
//! removes).
//!
//! Part of the daemon (see its module documentation). It never deletes a request whose job
//! another node may still hold: a request is removed once its job is in SENT or FAIL (or gone).

use super::*;
use crate::ops::cancel::{self as requests, Request};

impl Daemon {
    /// Acts on every waiting request (called by the service loop when the watcher reports a
    /// change in `CANCEL`, and on its maintenance and rescan ticks).
    pub fn take_cancels(&mut self) {
        if self.fenced.is_some() {
            return;
        }
        let layout = self.settings.layout.clone();
        // Queued jobs `redial cancel` failed itself: logged by a node serving the queue (the
        // one that removes the notice).
        for (path, n) in requests::read_notices(&layout) {
            if self.settings.order.contains(&n.queue) && std::fs::remove_file(&path).is_ok() {
                let r = &n.request;
                tracing::warn!(job = %r.job, by = %r.by, reason = %r.reason, path = %n.path.display(),
                    "cancel by {}: the job was queued in {} and failed undialled by redial cancel",
                    r.by, crate::spool::queue_name(n.queue));
            }
        }
        for (path, r) in requests::read_requests(&layout) {
            if let Some((&line, f)) = self.inflight.iter_mut().find(|(_, f)| f.name == r.job) {
                if f.cancel.is_some() {
                    continue;
                }
                tracing::warn!(job = %r.job, line, by = %r.by, reason = %r.reason,
                    "cancel requested by {}: hanging up line {line}", r.by);
                f.cancel = Some(r.clone());
                let now = self.clock.now();
                let hung_up = match f.until.as_mut() {
                    // A simulated call ends now, as cancelled.
                    Some(until) => {
                        *until = (
                            now,
                            CallResult {
                                code: CODE_CANCELLED,
                                ..CallResult::default()
                            },
                        );
                        true
                    }
                    None => self.lines.get_mut(&line).is_some_and(|l| l.cancel()),
                };
                if !hung_up {
                    tracing::warn!(job = %r.job, line, "this line cannot hang up: the call runs to its end, then the job fails as cancelled");
                }
                continue;
            }
            let queued = self
                .settings
                .order
                .iter()
                .copied()
                .find(|q| layout.queue_dir(*q).join(&r.job).is_file());
            if let Some(q) = queued {
                self.cancel_queued(q, &r);
                continue;
            }
            match crate::ops::locate::find(&layout, &r.job) {
                Ok(found)
                    if matches!(
                        found.place,
                        crate::spool::Place::Queue(_) | crate::spool::Place::Active(_)
                    ) => {}
                _ => {
                    // Finished (or gone): nothing left to cancel.
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
    }

    /// Claims a queued job and fails it as cancelled, undialled.
    fn cancel_queued(&mut self, q: u8, r: &Request) {
        let layout = self.settings.layout.clone();
        self.index.remove(q, &JobName::new(&r.job));
        let src = layout.queue_dir(q).join(&r.job);
        let dst = layout.active(&self.node).join(&r.job);
        if dst.exists() || self.spool.holding(self.clock.now()) {
            return;
        }
        match self.store.rename_claim_durable(Point::Claim, &src, &dst) {
            Ok(()) => self.cancel_claimed(&dst, &r.job, r),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => self.spool_refused(Point::Claim, &r.job, &e),
        }
    }

    /// Fails a job this node has claimed (in `ACTIVE/<node>/`, no call placed) as cancelled.
    pub(super) fn cancel_claimed(&mut self, path: &Path, name: &str, r: &Request) {
        tracing::warn!(job = name, by = %r.by, reason = %r.reason,
            "cancel requested by {}: job failed undialled", r.by);
        let doc = store::read_job(path)
            .ok()
            .and_then(|b| Document::from_vec(b, &path.display().to_string()).ok());
        let bad = Bad {
            code: CODE_CANCELLED,
            reason: r.fail_reason(),
            doc: doc.map(|mut d| {
                requests::mark(&mut d, r);
                d
            }),
        };
        self.reject_active(path, name, bad);
    }

    /// The request waiting for `name`, if any (a claim checks before it dials).
    pub(super) fn cancel_request(&self, name: &str) -> Option<Request> {
        requests::read_request(&self.settings.layout, name)
    }
}
