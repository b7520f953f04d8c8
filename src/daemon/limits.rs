//! Campaign limits on a destination: the do-not-call list (a listed number is never dialled;
//! outcome 305 lists it) and the daily cap (`$max_calls_per_day`: a job over it waits for the
//! next day).
//!
//! Part of the daemon (see its module documentation). The lists and counts live in the spool
//! (`spool::dnc`, `spool::counts`), shared by every node; numbers are compared by
//! [`crate::number::normalize`].

use super::*;
use crate::number::normalize;
use crate::spool::dnc;
use chrono::NaiveTime;

impl Daemon {
    /// Why a claimed job must not be dialled: the destination its attempt would reach is on the
    /// do-not-call list (the spool's, or `$dnc_file`).
    pub(super) fn do_not_call(&mut self, l: &Loaded) -> Option<String> {
        let number = number_of(l)?;
        let hit = self.dnc.lookup(&normalize(&number))?;
        let why = if hit.comment.is_empty() {
            String::new()
        } else {
            format!(": {}", hit.comment)
        };
        Some(format!(
            "{}: destination {number} is on the do-not-call list ({}{why})",
            l.doc.origin(),
            hit.file.display()
        ))
    }

    /// Outcome 305 (the callee opted out): the number dialled goes on the spool's list, so no
    /// job on any channel or node dials it again. A list the spool refuses to take is kept in
    /// memory (honoured by this node) and written by [`Daemon::flush_dnc`].
    pub(super) fn opted_out(&mut self, l: &Loaded, a: &settle::Attempted) {
        let Some(number) = number_of(l) else { return };
        let key = normalize(&number);
        if key.is_empty() {
            return;
        }
        let comment = format!(
            "outcome {} {} job {} node {}",
            a.result.code,
            a.ended.format("%Y-%m-%d %H:%M:%S UTC"),
            a.name,
            self.node
        );
        tracing::info!(job = %a.name, number = %number, key = %key, "opted out: added to the do-not-call list");
        self.dnc.unwritten.push((key, comment));
        self.flush_dnc();
    }

    /// Writes do-not-call entries this node added and could not write yet.
    pub(super) fn flush_dnc(&mut self) {
        if self.dnc.unwritten.is_empty() {
            return;
        }
        let layout = self.settings.layout.clone();
        if let Err(e) = self.dnc.flush(&layout, &self.temp_prefix) {
            tracing::error!(file = %dnc::path(&layout).display(), error = %e, pending = self.dnc.unwritten.len(),
                "cannot write the do-not-call list; this node keeps the entries and tries again");
        }
    }

    /// The daily cap's key and day for an attempt of `l` starting at `t`, when there is a cap.
    fn cap_of(&self, l: &Loaded, t: DateTime<Utc>) -> Option<(u32, String, chrono::NaiveDate)> {
        let cap = self.settings.max_calls_per_day?;
        let key = normalize(&number_of(l)?);
        if key.is_empty() {
            return None;
        }
        Some((cap, key, l.policy.calendar().local(t).date()))
    }

    /// `due` moved past the local days on which `l`'s destination has used up its
    /// `$max_calls_per_day`: to the next local midnight, then through the job's windows.
    pub(super) fn past_caps(
        &mut self,
        l: &Loaded,
        mut due: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let layout = self.settings.layout.clone();
        let cal = l.policy.calendar();
        // Days ahead have no counts unless clocks disagree; a few steps are plenty.
        for _ in 0..8 {
            let Some((cap, key, day)) = self.cap_of(l, due) else {
                return Ok(due);
            };
            match self.tally.count(&layout, day, &key) {
                Ok(n) if n >= cap => {
                    let next = day.succ_opt().unwrap_or(day).and_time(NaiveTime::MIN);
                    let at = engine::earliest_start(&l.policy, &l.job, cal.instant(next), now)?;
                    tracing::info!(job = %l.doc.origin(), key = %key, day = %day, calls = n, cap, at = %at,
                        "daily cap reached for this destination: the job waits for the next day");
                    due = at;
                }
                Ok(_) => return Ok(due),
                Err(e) => {
                    // The claim's reservation decides; it fails closed.
                    tracing::warn!(error = %e, "cannot read the daily counts");
                    return Ok(due);
                }
            }
        }
        Ok(due)
    }

    /// Takes one of today's `$max_calls_per_day` calls to `l`'s destination for the attempt
    /// about to start (every node counts in the same spool file, under its lock). `Ok(false)`:
    /// the cap is reached; nothing was recorded.
    pub(super) fn reserve_call(
        &mut self,
        l: &Loaded,
        name: &str,
        now: DateTime<Utc>,
    ) -> std::io::Result<bool> {
        let Some((cap, key, day)) = self.cap_of(l, now) else {
            return Ok(true);
        };
        let note = format!("{} {} {name}", now.format("%Y-%m-%dT%H:%M:%SZ"), self.node);
        let layout = self.settings.layout.clone();
        let (calls, ok) = self.tally.reserve(&layout, day, &key, cap, &note)?;
        if !ok {
            tracing::info!(job = name, key = %key, day = %day, calls, cap,
                "daily cap reached for this destination: given back to wait for the next day");
        }
        Ok(ok)
    }

    /// Gives back the call [`Daemon::reserve_call`] took at `now` for a job that was then not
    /// dialled (given back to its queue): the day's count is one less again, for every node.
    pub(super) fn release_call(&mut self, l: &Loaded, name: &str, now: DateTime<Utc>) {
        let Some((_, key, day)) = self.cap_of(l, now) else {
            return;
        };
        let note = format!("{} {} {name}", now.format("%Y-%m-%dT%H:%M:%SZ"), self.node);
        let layout = self.settings.layout.clone();
        if let Err(e) = self.tally.release(&layout, day, &key, &note) {
            // The count stays one high: the cap errs on the side of fewer calls.
            tracing::warn!(job = name, key = %key, day = %day, error = %e,
                "cannot give back a daily-cap reservation of a job not dialled");
        }
    }
}
