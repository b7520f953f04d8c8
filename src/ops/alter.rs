//! `redial alter` (HylaFAX's faxalter): changes to a queued job — its next start, queue,
//! number, line group, an operator's hold, `$retry_max`, a class's `$retry_delays` — made by the
//! owner of the file's state and recorded in it as `$alter_note DATE TIME "by" "what"`.
//!
//! Owns checking the changes (a dial string as lines check it, the retry-list grammar, the
//! group grammar), editing the document (the lines it changes replaced in place, every other
//! line byte for byte) and the write: the job is claimed as a node claims it ([`Hand`]),
//! rewritten with [`store::write_atomic`] and moved back with one [`store::rename_durable`]
//! (into another queue when the queue changes). A running node sees the new file through its
//! watcher (a new inode in the queue) and indexes it again. A job in progress or finished is
//! refused with the reason; a change that would make the job unreadable leaves it unchanged.
//! It never dials and never touches a job a node holds.

use super::hand::Hand;
use super::locate::{self, Found, NotFound};
use crate::command::{format_date, format_time, Document};
use crate::job::Job;
use crate::retry::policy::{Level, PolicyLayer};
use crate::spool::{store, Layout, Place};
use chrono::{DateTime, NaiveDateTime, Utc};
use std::io;
use std::path::PathBuf;

/// The command an operator's hold writes into a job: a job carrying it is never dialled.
pub const HOLD: &str = "fax_hold";
/// The line group a held job is indexed under: no line serves it, so no node dials it, and
/// every count shows it as held with [`HELD_REASON`].
pub const HOLD_GROUP: &str = "!held";
/// Why a held job waits.
pub const HELD_REASON: &str = "held by an operator (`redial alter --release` lets it go)";

/// Whether a job carries an operator's hold.
pub fn is_held(doc: &Document) -> bool {
    doc.last(HOLD).is_some()
}

/// The reason a job of line group `group` waits for good: held by an operator, or what
/// `unserved` says of the group.
pub fn waits_for_good(group: &str, unserved: impl Fn(&str) -> Option<String>) -> Option<String> {
    if group == HOLD_GROUP {
        Some(HELD_REASON.to_string())
    } else {
        unserved(group)
    }
}

/// The note every change appends.
pub const NOTE: &str = "alter_note";

/// What to change; `None` leaves a setting as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    /// The next start (a retry time when one is pending, else the send date and time).
    pub at: Option<DateTime<Utc>>,
    /// Move to this queue.
    pub queue: Option<u8>,
    /// The number dialled.
    pub number: Option<String>,
    /// The line group (`$fax_send_line`).
    pub group: Option<String>,
    /// Hold (true) or release (false).
    pub hold: Option<bool>,
    /// `$retry_max`.
    pub retry_max: Option<u32>,
    /// `$retry_delays CLASS "LIST"`, per class.
    pub retry_delays: Vec<(String, String)>,
}

/// Why a change was refused; the job is unchanged.
#[derive(Debug, thiserror::Error)]
pub enum AlterError {
    /// An argument that is not valid.
    #[error("{arg} {value:?}: {reason}; the job was not changed")]
    Invalid {
        /// The option.
        arg: &'static str,
        /// Its value.
        value: String,
        /// Why.
        reason: String,
    },
    /// Nothing to change.
    #[error("nothing to change: give --at, --queue, --number, --group, --hold, --release, --retry-max or --retry-delays")]
    Nothing,
    /// No such job.
    #[error(transparent)]
    NotFound(#[from] NotFound),
    /// In progress on a node.
    #[error("{job} is in progress on node {node}: it cannot be changed now (wait for the attempt to end, or cancel it)")]
    InProgress {
        /// The job.
        job: String,
        /// The node.
        node: String,
    },
    /// In SENT or FAIL.
    #[error(
        "{job} has finished ({place}): nothing to alter (`redial retry` sends a failed job again)"
    )]
    Finished {
        /// The job.
        job: String,
        /// `SENT` or `FAIL`.
        place: String,
    },
    /// The file does not parse, or would not after the change.
    #[error("{0}; the job was not changed")]
    Unreadable(String),
    /// The spool refused a write or a rename.
    #[error("the spool refuses the change; the job was left as it was")]
    Io(#[from] io::Error),
}

/// A job changed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Altered {
    /// Its path now.
    pub path: PathBuf,
    /// What changed, in words (as in the note).
    pub what: String,
}

impl Changes {
    /// Checks every argument before any file is touched.
    pub fn check(&self, layout: &Layout) -> Result<(), AlterError> {
        let invalid = |arg, value: &str, reason: String| AlterError::Invalid {
            arg,
            value: value.to_string(),
            reason,
        };
        if self == &Changes::default() {
            return Err(AlterError::Nothing);
        }
        if let Some(q) = self.queue.filter(|q| *q > layout.max_queue) {
            return Err(invalid(
                "--queue",
                &q.to_string(),
                format!("no such queue (the highest is {})", layout.max_queue),
            ));
        }
        if let Some(n) = &self.number {
            crate::modem::dialstring::DialString::new(n, "")
                .map_err(|e| invalid("--number", n, format!("cannot be dialled: {e}")))?;
            if !n.chars().any(|c| c.is_ascii_digit()) {
                return Err(invalid("--number", n, "has no digit".into()));
            }
        }
        if let Some(g) = &self.group {
            crate::linegroup::validate_group_ref(g).map_err(|e| invalid("--group", g, e))?;
        }
        for (class, list) in &self.retry_delays {
            crate::retry::delays::parse_retry_class(class)
                .map_err(|e| invalid("--retry-delays", class, e))?;
            crate::retry::delays::parse_list(list)
                .map_err(|e| invalid("--retry-delays", list, e.to_string()))?;
        }
        Ok(())
    }

    /// Applies the changes to a job document (`local`: the instant in the job's own zone);
    /// returns what changed, in words.
    pub fn apply(&self, doc: &mut Document, local: Option<NaiveDateTime>) -> Vec<String> {
        let mut what = Vec::new();
        if let Some(t) = local {
            let (date, time) = (format_date(t.date()), format_time(t.time()));
            if doc.last("fax_next_date").is_some() {
                doc.set("fax_next_date", &[&date]);
                doc.set("fax_next_time", &[&time]);
            } else {
                doc.set("fax_send_date", &[&date]);
                // The start changes; a window's end and days stay.
                let rest: Vec<String> = doc
                    .last("fax_send_time")
                    .map(|c| c.texts().iter().skip(1).map(|s| s.to_string()).collect())
                    .unwrap_or_default();
                let mut args = vec![time.as_str()];
                args.extend(rest.iter().map(String::as_str));
                doc.set("fax_send_time", &args);
            }
            what.push(format!("at {date} {time}"));
        }
        if let Some(q) = self.queue {
            what.push(format!("queue {}", crate::spool::queue_name(q)));
        }
        if let Some(n) = &self.number {
            let cmd = ["fax_phone", "voice_phone", "sms_phone"]
                .into_iter()
                .find(|c| doc.last(c).is_some())
                .unwrap_or("fax_phone");
            // `$fax_phone` and `$sms_phone` are the whole line (a number may be written
            // unquoted with blanks); `$voice_phone NUMBER MESSAGE` keeps its message.
            let rest: Vec<String> = match cmd {
                "voice_phone" => doc
                    .last(cmd)
                    .and_then(|c| c.arg(1).map(str::to_string))
                    .into_iter()
                    .collect(),
                _ => Vec::new(),
            };
            let mut args = vec![n.as_str()];
            args.extend(rest.iter().map(String::as_str));
            doc.set(cmd, &args);
            what.push(format!("number {n}"));
        }
        if let Some(g) = &self.group {
            doc.set("fax_send_line", &[g]);
            what.push(format!("group {g}"));
        }
        match self.hold {
            Some(true) => {
                doc.set(HOLD, &["1"]);
                what.push("hold".into());
            }
            Some(false) => {
                doc.remove(HOLD);
                what.push("release".into());
            }
            None => {}
        }
        if let Some(n) = self.retry_max {
            doc.set("retry_max", &[&n.to_string()]);
            what.push(format!("retry_max {n}"));
        }
        for (class, list) in &self.retry_delays {
            let class = class.to_ascii_uppercase();
            // The job's own line for this class (no selector) is replaced in place.
            let line = doc
                .all("retry_delays")
                .find(|c| {
                    c.args.len() == 2 && c.arg(0).is_some_and(|a| a.eq_ignore_ascii_case(&class))
                })
                .map(|c| c.line);
            match line {
                Some(l) => {
                    doc.replace_line(l, "retry_delays", &[&class, list]);
                }
                None => doc.append("retry_delays", &[&class, list]),
            }
            what.push(format!("retry_delays {class} \"{list}\""));
        }
        what
    }
}

/// Alters one job (see the module documentation). `by` is recorded in the note.
pub fn alter(
    layout: &Layout,
    sys: &crate::load::SystemConfig,
    job: &str,
    changes: &Changes,
    by: &str,
    now: DateTime<Utc>,
) -> Result<Altered, AlterError> {
    changes.check(layout)?;
    for _ in 0..8 {
        let Found { path, place } = locate::find(layout, job)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        let q = match place {
            Place::Queue(q) => q,
            Place::Active(node) if node.starts_with("ops-") => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            Place::Active(node) => return Err(AlterError::InProgress { job: name, node }),
            Place::Sent | Place::Fail => {
                return Err(AlterError::Finished {
                    job: name,
                    place: crate::ops::scan::place_name(&place),
                })
            }
        };
        let hand = Hand::open(layout)?;
        let Some(held) = hand.take(&path)? else {
            continue;
        };
        let back = |e: AlterError| {
            let _ = hand.put(&held, &path);
            e
        };
        let bytes = std::fs::read(&held).map_err(|e| back(e.into()))?;
        let mut doc = Document::parse(&bytes, &path.display().to_string())
            .map_err(|e| back(AlterError::Unreadable(format!("{e}"))))?;
        let tz = Job::from_document(&doc)
            .ok()
            .and_then(|j| j.policy.timezone)
            .or(sys.layer.timezone)
            .unwrap_or(chrono_tz::UTC);
        let local = |t: DateTime<Utc>| t.with_timezone(&tz).naive_local();
        let what = changes.apply(&mut doc, changes.at.map(local)).join(", ");
        let stamp = local(now);
        doc.append(
            NOTE,
            &[
                &format_date(stamp.date()),
                &format_time(stamp.time()),
                by,
                &what,
            ],
        );
        // The changed job must still read as a job, with a valid policy.
        let reread = Document::parse(&doc.to_bytes(), &path.display().to_string())
            .map_err(|e| e.to_string())
            .and_then(|d| {
                Job::from_document(&d).map_err(|e| e.to_string())?;
                PolicyLayer::from_document(&d, Level::Fs).map_err(|e| e.to_string())
            });
        if let Err(e) = reread {
            return Err(back(AlterError::Unreadable(format!(
                "{name} would not read after the change: {e}"
            ))));
        }
        store::write_atomic(&layout.temp(), ".alter.", &held, &doc.to_bytes())
            .map_err(|e| back(e.into()))?;
        let target = match changes.queue.filter(|n| *n != q) {
            Some(n) => store::free_name(&layout.queue_dir(n), &name),
            None => path.clone(),
        };
        hand.put(&held, &target)?;
        return Ok(Altered { path: target, what });
    }
    Err(AlterError::Io(io::Error::other(
        "the job kept moving between queues and nodes; try again",
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(text: &str, c: &Changes) -> String {
        let mut d = Document::parse_str(text, "t").unwrap();
        c.apply(&mut d, None);
        String::from_utf8(d.to_bytes()).unwrap()
    }

    #[test]
    fn lines_are_replaced_in_place_and_others_kept() {
        let c = Changes {
            number: Some("555 0199".into()),
            retry_delays: vec![("b".into(), "1 2".into())],
            ..Changes::default()
        };
        let text = "; x\n$voice_phone 5550100 hello.ul\n$retry_delays 2 B \"9\"\n$retry_delays B \"5\"  ; mine\r\n$fax_user u.usr\n";
        assert_eq!(
            applied(text, &c),
            "; x\n$voice_phone \"555 0199\" hello.ul\n$retry_delays 2 B \"9\"\n$retry_delays B \"1 2\"\r\n$fax_user u.usr\n"
        );
        // No list of its own for the class: one is appended.
        let c = Changes {
            retry_delays: vec![("A".into(), "10".into())],
            hold: Some(true),
            ..Changes::default()
        };
        assert_eq!(
            applied("$fax_phone 1\n", &c),
            "$fax_phone 1\n$fax_hold 1\n$retry_delays A 10\n"
        );
    }

    #[test]
    fn arguments_are_checked_before_anything_is_touched() {
        let l = Layout::new("/nonexistent", 2);
        let bad = |c: Changes| c.check(&l).unwrap_err().to_string();
        assert!(bad(Changes::default()).contains("nothing to change"));
        let e = bad(Changes {
            number: Some("555 01x0".into()),
            ..Changes::default()
        });
        assert!(
            e.starts_with("--number \"555 01x0\": cannot be dialled"),
            "{e}"
        );
        let e = bad(Changes {
            retry_delays: vec![("B".into(), "1 banana".into())],
            ..Changes::default()
        });
        assert!(e.starts_with("--retry-delays \"1 banana\""), "{e}");
        let e = bad(Changes {
            queue: Some(3),
            ..Changes::default()
        });
        assert!(e.contains("the highest is 2"), "{e}");
    }
}
