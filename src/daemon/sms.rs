//! SMS jobs on gateway lines: the parts of an attempt (text, price point, message id), the hold
//! after the gateway took a message, and the delivery reports that end the hold.
//!
//! A message the gateway took (outcome 410) is not settled: the job goes back to its queue with
//! `$sms_pending ID SUBMITTED DEADLINE PRICE LINE` and `$fax_next_time` at the deadline, written
//! like every result (temp file, fsync, rename, fsync of the directories), so it survives a
//! restart and `redial list`/`status` show it waiting, with status 410. A job with
//! `$sms_pending` is never placed: when a node claims it (its deadline came, or a final report
//! for it is in `DLR/`, which makes it due at once), the attempt is settled with the report's
//! outcome, or with 411 when the deadline passed without one. Part of the daemon (see its module
//! documentation); it never sends anything and never reads `redial web`'s requests. GSM lines
//! (`line::gsm`) use the same hold: their 410 carries the message references (`mr=…`, kept as
//! `$sms_pending`'s sixth word) and their reports arrive in `DLR/` as `GSM:<TP-ST>`.

use super::*;
use crate::line::sms_http::{self, DeliveryReport, Sms};

/// `$sms_pending`, as written into a job that waits for its report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    pub id: String,
    pub submitted: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub price: Option<String>,
    pub line: Option<u32>,
}

/// The `$sms_pending` of a job, when it waits for a report (`None` when absent or unreadable;
/// an unreadable one is a job damaged by hand and waits no longer).
pub fn pending(doc: &Document) -> Option<Pending> {
    let c = doc.last("sms_pending")?;
    let arg = |i| c.arg(i).map(str::to_string);
    let time = |i| {
        arg(i)
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    Some(Pending {
        id: arg(0)?,
        submitted: time(1)?,
        deadline: time(2)?,
        price: arg(3).filter(|p| !p.is_empty() && p != "-"),
        line: arg(4).and_then(|l| l.parse().ok()),
    })
}

/// What attempt `attempt` of job `name` sends.
pub(super) fn sms_parts(doc: &Document, name: &str, attempt: usize) -> Sms {
    let step = crate::line::sms_http::price_step(doc);
    Sms {
        text: doc
            .all("sms_text")
            .map(|c| c.joined())
            .collect::<Vec<_>>()
            .join("\n"),
        price: doc
            .last("sms_price")
            .and_then(|c| sms_http::price_at(&c.joined(), step)),
        id: sms_http::message_id(name, attempt),
        retry: attempt > 1,
    }
}

impl Daemon {
    /// Holds a job whose message the gateway took: back to its queue until its report or its
    /// deadline, with the reference in the file. Not an attempt record yet (that is written
    /// when the report settles it).
    pub(super) fn hold_for_report(
        &mut self,
        mut l: Loaded,
        a: settle::Attempted,
        lock: Option<PathBuf>,
    ) {
        let attempt = l.job.cycle().len() + 1;
        let sms = sms_parts(&l.doc, &a.name, attempt);
        // The job's own `$sms_report_timeout` over the CFG's.
        let timeout = l
            .doc
            .last("sms_report_timeout")
            .and_then(|c| c.arg(0).and_then(|s| s.parse::<i64>().ok()))
            .filter(|t| *t > 0)
            .unwrap_or(self.settings.sms_report_timeout);
        let deadline = a.ended + Duration::seconds(timeout);
        let cal = l.policy.calendar();
        let local = cal.local(deadline);
        let line = a.line.map(|n| n.to_string()).unwrap_or_default();
        // A GSM line's message references (`mr=7,8`), kept with the job for `redial list`.
        let refs = a
            .result
            .answerback
            .split_whitespace()
            .find(|w| w.starts_with("mr="))
            .unwrap_or("");
        let mut pending = vec![
            sms.id.clone(),
            a.started.to_rfc3339(),
            deadline.to_rfc3339(),
            sms.price.clone().unwrap_or_else(|| "-".into()),
            line,
        ];
        if !refs.is_empty() {
            pending.push(refs.to_string());
        }
        let pending: Vec<&str> = pending.iter().map(String::as_str).collect();
        l.doc.set("sms_pending", &pending);
        l.doc.set("fax_status1", &["2"]);
        l.doc
            .set("fax_status2", &[&sms_http::CODE_SUBMITTED.to_string()]);
        l.doc.set(
            "fax_next_date",
            &[&crate::command::format_date(local.date())],
        );
        l.doc.set(
            "fax_next_time",
            &[&crate::command::format_time(local.time())],
        );
        tracing::info!(job = %a.name, id = %sms.id, deadline = %deadline,
            "SMS submitted: the job waits for its final delivery report (never resent while it waits)");
        let entry = a.journalled();
        // A GSM modem's report may be in `DLR/` before the job is back in its queue.
        let due = if sms_http::read_report(&self.settings.layout, &sms.id).is_some() {
            self.clock.now()
        } else {
            deadline
        };
        let next = Next::Retry(a.queue, due);
        self.conclude(&a.path, &a.name, &l.doc, &next, Some(entry));
        self.release_destination(lock.as_deref());
    }

    /// A claimed job that waits for a report: settled with the report when one is in `DLR/`,
    /// with 411 when its deadline passed, else given back untouched. Never placed.
    pub(super) fn settle_waiting(
        &mut self,
        dst: &Path,
        q: u8,
        name: &str,
        line: u32,
        mut loaded: Loaded,
        p: Pending,
    ) {
        let now = self.clock.now();
        let layout = self.settings.layout.clone();
        let report = sms_http::read_report(&layout, &p.id);
        let (code, status) = match report
            .as_ref()
            .and_then(|r| sms_http::outcome_of(&r.status).map(|c| (c, r.status.clone())))
        {
            Some(c) => c,
            None if now >= p.deadline => (sms_http::CODE_REPORT_TIMEOUT, "no final report".into()),
            None => return self.return_to_queue(dst, q, name),
        };
        loaded.doc.remove("sms_pending");
        let price = p
            .price
            .as_deref()
            .map(|x| format!(" price={x}"))
            .unwrap_or_default();
        let line = p.line.unwrap_or(line);
        tracing::info!(job = name, id = %p.id, code, status = %status, "SMS delivery report settles the attempt");
        let attempt = settle::Attempted {
            cancelled: None,
            path: dst.to_path_buf(),
            name: name.to_string(),
            queue: q,
            started: p.submitted,
            ended: report.as_ref().map_or(now, |r: &DeliveryReport| r.at),
            line: Some(line),
            board: 'G',
            channel: Channel::Sms,
            result: CallResult {
                code,
                answerback: format!("id={}{price} status={status}", p.id),
                ..CallResult::default()
            },
        };
        self.settle(loaded, attempt);
        if report.is_some() {
            let _ = std::fs::remove_file(sms_http::dlr_path(&layout, &p.id));
        }
    }

    /// Makes every queued job with a report in `DLR/` due now, so the next round settles it
    /// (called with the cancel requests: on changes in `DLR/` and on the maintenance ticks).
    /// A report whose job no longer waits for it (settled, and the node stopped before the
    /// report was removed; or the job cancelled while it waited) is removed once the job is
    /// read without that id pending in one of this node's queues (or, an hour after the
    /// report, in SENT or FAIL).
    pub fn take_delivery_reports(&mut self) {
        if self.fenced.is_some() {
            return;
        }
        let layout = self.settings.layout.clone();
        let now = due_ms(self.clock.now());
        // Whether the job file at `path` was read and waits for another id, or none.
        let stale = |path: &Path, id: &str| {
            store::read_job(path)
                .ok()
                .and_then(|b| Document::from_vec(b, &path.display().to_string()).ok())
                .is_some_and(|d| pending(&d).is_none_or(|p| p.id != id))
        };
        for r in sms_http::read_reports(&layout) {
            let Some(job) = sms_http::job_of(&r.id) else {
                continue;
            };
            let name = JobName::new(&job);
            let queued = self
                .settings
                .order
                .iter()
                .find_map(|q| self.index.get(*q, &name).map(|e| (*q, e.clone())));
            let gone = match queued {
                Some((q, e)) => {
                    if stale(&layout.queue_dir(q).join(&job), &r.id) {
                        true
                    } else {
                        if e.due > now {
                            let mut e = e;
                            e.due = now;
                            self.index.upsert(q, name.clone(), e);
                        }
                        false
                    }
                }
                // Not queued here: the job may be in a claim for a moment, or on another node;
                // only a report an hour old is judged by a finished file of that name.
                None => {
                    self.clock.now() - r.at > Duration::hours(1)
                        && [layout.sent(), layout.fail()]
                            .iter()
                            .any(|d| stale(&d.join(&job), &r.id))
                }
            };
            if gone {
                tracing::info!(job, id = %r.id, status = %r.status, "delivery report for a job that no longer waits for it: removed");
                let _ = std::fs::remove_file(sms_http::dlr_path(&layout, &r.id));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Document {
        Document::parse(text.as_bytes(), "t.FS").unwrap()
    }

    #[test]
    fn the_pending_reference_reads_back_and_a_damaged_one_is_none() {
        let d = doc(
            "$sms_pending R-2.t.FS 2026-12-02T04:00:00+00:00 2026-12-04T04:00:00+00:00 5.00 7\n",
        );
        let p = pending(&d).unwrap();
        assert_eq!(p.id, "R-2.t.FS");
        assert_eq!(p.price.as_deref(), Some("5.00"));
        assert_eq!(p.line, Some(7));
        assert_eq!(p.deadline - p.submitted, Duration::days(2));
        let d =
            doc("$sms_pending 1.t.FS 2026-12-02T04:00:00+00:00 2026-12-04T04:00:00+00:00 - \"\"\n");
        assert_eq!(pending(&d).unwrap().price, None);
        assert_eq!(pending(&doc("$sms_pending 1.t.FS yesterday\n")), None);
        assert_eq!(pending(&doc("$sms_phone 5550100\n")), None);
    }

    #[test]
    fn each_attempt_takes_its_price_point_and_retries_are_marked() {
        let d = doc("$sms_text \"line one\"\n$sms_text two\n$sms_price \"10.00 5.00 4.50\"\n$sms_price_step 1\n");
        let s = sms_parts(&d, "t.FS", 2);
        assert_eq!(s.text, "line one\ntwo");
        assert_eq!(s.price.as_deref(), Some("5.00"));
        assert_eq!((s.id.as_str(), s.retry), ("R-2.t.FS", true));
        let s = sms_parts(&doc("$sms_text hi\n"), "t.FS", 1);
        assert_eq!((s.price, s.id.as_str(), s.retry), (None, "1.t.FS", false));
    }
}
