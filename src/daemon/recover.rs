//! Crash recovery: jobs found in an `ACTIVE` directory, this node's at start-up or a dead
//! node's after a takeover.
//!
//! A job with a live dialling mark ([`crate::spool::dialling`]: the mark and the job are one
//! inode), or whose `$fax_status1` is 3 (the claim written into it where no mark could be
//! made), was claimed for a call that may have been under way: an interrupted attempt (code
//! 66, and the policy decides) on the mark's line, back to the mark's queue. Otherwise the
//! file's `$fax_status1` says how far its attempt got: 6 = the decision was written but the
//! file not yet moved (finish the move to SENT or FAIL); anything else = claimed but never
//! dialled (back to its queue unchanged). Stale marks (naming another inode, or no job) are
//! removed. Never dials anything itself.

use super::pending::Journalled;
use super::settle::Attempted;
use super::{Bad, Daemon, Event, Next, CODE_INTERRUPTED};
use crate::line::CallResult;
use crate::retry::outcome::Class;
use crate::spool::dialling;
use crate::spool::rewrite::{STATUS_ACTIVE, STATUS_DONE};
use crate::spool::store::{fsync_dir, Point};
use std::collections::HashMap;
use std::path::Path;

impl Daemon {
    /// Recovers every job under `dir` (nested takeover directories included), then removes
    /// the emptied nested directories.
    pub(super) fn recover_dir(&mut self, dir: &Path, owner: &str) {
        self.recover_dir_with(dir, owner, &HashMap::new());
    }

    /// [`Daemon::recover_dir`], settling interrupted calls whose result `journal` holds with
    /// that result.
    pub(super) fn recover_dir_with(
        &mut self,
        dir: &Path,
        owner: &str,
        journal: &HashMap<String, Journalled>,
    ) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = rd.flatten().collect();
        entries.sort_by_key(|e| e.file_name());
        let mut marks = dialling::marks_in(dir);
        for e in entries {
            let path = e.path();
            let Some(name) = e.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let from = name
                    .strip_prefix(".takeover-")
                    .and_then(|s| s.rsplit_once('-').map(|(n, _)| n.to_string()))
                    .unwrap_or(name.clone());
                self.recover_dir_with(&path, &from, journal);
                if std::fs::remove_dir(&path).is_ok() {
                    let _ = fsync_dir(dir);
                }
            } else if crate::spool::is_job_name(&name) {
                // The live one of the job's marks, if any; stale ones go.
                let mut live = None;
                for m in marks.remove(&name).unwrap_or_default() {
                    if live.is_none() && dialling::is_live(&m.path, &path) {
                        live = Some(m);
                    } else {
                        let _ = dialling::remove(&m.path);
                    }
                }
                self.recover_file(&path, &name, owner, journal.get(&name), live);
            }
        }
        // Marks of jobs no longer here (their moves were durable, the marks' removal not).
        for m in marks.into_values().flatten() {
            let _ = dialling::remove(&m.path);
        }
    }

    fn recover_file(
        &mut self,
        path: &Path,
        name: &str,
        owner: &str,
        journalled: Option<&Journalled>,
        mark: Option<dialling::Mark>,
    ) {
        if let Some(moved) = self.moved_on_already(path, name) {
            // Its move was made and made durable where it went; only the removal of this name
            // was not yet (a power cut before the fsync of `ACTIVE` a move owes: see
            // `Store::rename_owing`). Recovering it would record it twice, or queue it twice.
            tracing::warn!(job = name, node = owner, at = %moved.display(),
                "a job left in ACTIVE is the same file as one already moved on: this name is removed");
            if let Some(m) = &mark {
                let _ = dialling::remove(&m.path);
            }
            if std::fs::remove_file(path).is_ok() {
                if let Some(dir) = path.parent() {
                    let _ = fsync_dir(dir);
                }
            }
            return;
        }
        if let Some(m) = &mark {
            // The job's next write (its recovered result) or move removes the mark.
            self.store.adopt_mark(path, &m.path);
        }
        let bytes = match crate::spool::store::read_job(path) {
            Ok(b) => b,
            Err(crate::spool::store::ReadJobError::Gone) => return,
            Err(e) => {
                let bad = Bad {
                    code: super::CODE_INVALID,
                    reason: format!("{}: {e}", path.display()),
                    doc: None,
                };
                return self.reject_active(path, name, bad);
            }
        };
        tracing::warn!(job = name, node = owner, "recovering a job left in ACTIVE");
        self.emit(Event::Recovered {
            job: name.to_string(),
            node: owner.to_string(),
        });
        let loaded = match self.load(path, bytes) {
            Ok(l) => l,
            Err(bad) => return self.reject_active(path, name, bad),
        };
        let max = self.settings.layout.max_queue;
        let status = match &mark {
            Some(m) => Some((STATUS_ACTIVE, Some(m.line))),
            None => loaded.job.status1,
        };
        let queue = mark
            .as_ref()
            .map_or(loaded.job.tosend.unwrap_or(0), |m| m.queue)
            .min(max);
        match status {
            Some((s, line)) if s == STATUS_ACTIVE => {
                let Some(channel) = loaded.job.channel() else {
                    let bad = Bad {
                        code: super::CODE_NO_DESTINATION,
                        reason: format!("{}: the job has no destination", path.display()),
                        doc: Some(loaded.doc),
                    };
                    return self.reject_active(path, name, bad);
                };
                let now = self.clock.now();
                let board = line
                    .and_then(|n| self.lines.get(&n))
                    .map_or('X', |l| l.board());
                let attempt = match journalled {
                    // The call ended and its result was kept while the disk refused it.
                    Some(j) => {
                        tracing::warn!(
                            job = name,
                            code = j.result.code,
                            "recovered with the journalled result"
                        );
                        Attempted {
                            cancelled: None,
                            path: path.to_path_buf(),
                            name: name.to_string(),
                            queue: j.queue,
                            started: j.started,
                            ended: j.ended,
                            line: j.line,
                            board: j.board,
                            channel,
                            result: j.result.clone(),
                        }
                    }
                    None => {
                        self.stats.recovered += 1;
                        Attempted {
                            cancelled: None,
                            path: path.to_path_buf(),
                            name: name.to_string(),
                            queue,
                            started: now,
                            ended: now,
                            line,
                            board,
                            channel,
                            result: CallResult {
                                code: CODE_INTERRUPTED,
                                ..CallResult::default()
                            },
                        }
                    }
                };
                self.settle(loaded, attempt);
            }
            Some((s, _)) if s == STATUS_DONE => {
                let sent = loaded
                    .job
                    .records
                    .last()
                    .is_some_and(|r| r.class == Class::S);
                self.move_on(path, name, if sent { &Next::Sent } else { &Next::Fail });
            }
            _ => {
                let due = self.clock.now();
                self.move_on(path, name, &Next::Retry(queue, due));
            }
        }
    }

    /// Where the job at `path` already is under its own name, as the same file (device and
    /// inode), in a queue, `SENT` or `FAIL`: a second name of one file, which only a move whose
    /// removal from `ACTIVE` was cut off by a crash leaves. A client's new job of the same name
    /// is another file and does not count.
    fn moved_on_already(&self, path: &Path, name: &str) -> Option<std::path::PathBuf> {
        let here = std::fs::symlink_metadata(path).ok()?;
        let layout = &self.settings.layout;
        (0..=layout.max_queue)
            .map(|q| layout.queue_dir(q))
            .chain([layout.sent(), layout.fail()])
            .map(|d| d.join(name))
            .find(|p| {
                std::fs::symlink_metadata(p)
                    .is_ok_and(|m| crate::spool::store::same_inode(&m, &here))
            })
    }

    /// Takes over a dead node's `ACTIVE/<node>/` by renaming it into this node's directory
    /// (only one node can win that rename), then recovers its jobs.
    pub(super) fn take_over(&mut self, other: &str) {
        let layout = self.settings.layout.clone();
        // Judged again right before acting: the node may have renewed (rejoined after a fence,
        // or woken from a stall) since the leases were read.
        use crate::spool::lease::{look, remove_if_still, Look};
        let judged = match look(&layout, other, self.clock.now()) {
            Look::Stale(l) => Some(l),
            Look::Missing => None,
            Look::Live(_) | Look::Unknown(_) => return,
        };
        self.suspects.remove(other);
        // Only the lease judged dead is removed: the node may rejoin (a new lease) meanwhile.
        let remove_lease = |d: &Self| {
            if let Err(e) = remove_if_still(&layout, other, judged.as_ref(), &d.node) {
                tracing::warn!(node = other, error = %e, "cannot remove a dead node's lease");
            }
        };
        let src = layout.active(other);
        if !src.is_dir() {
            remove_lease(self);
            return;
        }
        let stamp = self.clock.now().timestamp_millis();
        let mine = layout.active(&self.node);
        let _ = std::fs::create_dir_all(&mine);
        let dst = mine.join(format!(".takeover-{other}-{stamp}"));
        if self.store.rename_dir(Point::Takeover, &src, &dst).is_err() {
            return; // another node won (or the spool refuses: the next round tries again)
        }
        remove_lease(self);
        crate::spool::progress::remove(&layout, other);
        crate::spool::destlock::drop_spares(&layout, other, None);
        tracing::warn!(node = other, by = %self.node, "took over a dead node's ACTIVE directory");
        self.emit(Event::TookOver {
            node: other.to_string(),
        });
        self.recover_dir(&dst, other);
        let _ = std::fs::remove_dir(&dst);
    }
}
