//! How the spooler edits a job file: the claim, the engine's decision, a bad-input failure.
//!
//! Pure edits of a [`Document`] (spec 8.11): single-valued engine lines are replaced in place,
//! `$attempt_record` is appended, every other line is kept byte for byte. Prefix effects of the
//! retry entry are written as commands the next attempt reads (see docs/spooler.md). It never
//! touches files and never decides anything itself.

use crate::calendar::Calendar;
use crate::command::{format_date, format_time, Document};
use crate::retry::attempt::AttemptRecord;
use crate::retry::engine::{Action, Decision};

/// `$fax_status1` values (spec 1.4).
pub const STATUS_READY: u8 = 2;
/// Transmission in progress.
pub const STATUS_ACTIVE: u8 = 3;
/// Completed (SENT or FAIL).
pub const STATUS_DONE: u8 = 6;

/// Fax speeds a `T` prefix steps down through.
pub const SPEEDS: [u32; 5] = [14400, 9600, 7200, 4800, 2400];

/// One argument as the command language writes it: quoted when needed, control characters
/// escaped (see `Document::set`; only that also keeps the whole line within the limit).
pub fn quote(s: &str) -> String {
    let mut d = Document::new("");
    d.set("x", &[s]);
    let line = String::from_utf8(d.to_bytes()).expect("rendered as UTF-8");
    line.trim_end_matches('\n')
        .strip_prefix("$x ")
        .unwrap_or_default()
        .to_string()
}

/// The claim: `$fax_status1 3 <line>` and the queue the job came from.
pub fn claim(doc: &mut Document, line: u32, queue: u8) {
    doc.set("fax_status1", &["3", &line.to_string()]);
    doc.set("fax_tosend", &[&queue.to_string()]);
}

/// Appends an attempt record.
pub fn append_record(doc: &mut Document, rec: &AttemptRecord) {
    rec.with_args(|args| doc.append("attempt_record", args));
}

/// Applies the engine's decision and appends this attempt's record.
pub fn apply(doc: &mut Document, d: &Decision, rec: &AttemptRecord, cal: &Calendar) {
    match d.action {
        Action::Retry { at } => {
            let local = cal.local(at);
            doc.set("fax_status1", &["2"]);
            doc.set("fax_next_date", &[&format_date(local.date())]);
            doc.set("fax_next_time", &[&format_time(local.time())]);
        }
        Action::Done | Action::Fail => {
            doc.set("fax_status1", &["6"]);
            doc.remove("fax_next_date");
            doc.remove("fax_next_time");
        }
    }
    doc.set("fax_status2", &[&rec.outcome.to_string()]);
    doc.set("fax_tosend", &[&d.tosend.to_string()]);
    if let Some(g) = &d.linegroup {
        doc.set("fax_send_line", &[g]);
    }
    // One-shot effects apply to the next attempt only.
    doc.remove("fax_use_alternate");
    doc.remove("email_use_alternate");
    doc.remove("email_use_relay");
    if matches!(d.action, Action::Retry { .. }) {
        let e = &d.effects;
        if e.alternate {
            doc.set("fax_use_alternate", &["1"]);
        }
        if e.email_alternate {
            doc.set("email_use_alternate", &["1"]);
        }
        if e.isp_relay {
            doc.set("email_use_relay", &["1"]);
        }
        if e.low_resolution {
            doc.set("fax_resolution", &["standard"]);
        }
        if e.speed_down {
            let cur = doc
                .last("fax_speed")
                .and_then(|c| c.take_arg(0))
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(SPEEDS[0]);
            let next = SPEEDS
                .iter()
                .copied()
                .find(|s| *s < cur)
                .unwrap_or(SPEEDS[4]);
            doc.set("fax_speed", &[&next.to_string()]);
        }
        if e.price_down {
            let step = crate::line::sms_http::price_step(doc);
            doc.set("sms_price_step", &[&(step.saturating_add(1)).to_string()]);
        }
        for (name, args) in &e.params {
            let a: Vec<&str> = args.iter().map(String::as_str).collect();
            doc.set(name, &a);
        }
    }
    match d.action {
        Action::Fail => doc.set("fail_reason", &[&d.reason]),
        _ => {
            doc.remove("fail_reason");
        }
    }
    append_record(doc, rec);
}

/// Marks a job that cannot be attempted (bad input) as failed.
pub fn fail_bad(doc: &mut Document, code: u32, reason: &str) {
    doc.set("fax_status1", &["6"]);
    doc.set("fax_status2", &[&code.to_string()]);
    doc.set("fail_reason", &[reason]);
}

/// `A` and `now` formatted for records: local date and time of an instant.
pub fn local_stamp(cal: &Calendar, t: chrono::DateTime<chrono::Utc>) -> chrono::NaiveDateTime {
    let l = cal.local(t);
    l.date().and_time(
        chrono::NaiveTime::from_hms_opt(
            chrono::Timelike::hour(&l),
            chrono::Timelike::minute(&l),
            chrono::Timelike::second(&l),
        )
        .expect("valid"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote(""), "\"\"");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("x\"y"), "\"x\"\"y\"");
        assert_eq!(quote("M1"), "M1");
    }

    #[test]
    fn claim_replaces_in_place_and_keeps_other_lines() {
        let mut d = Document::parse_str("; c\n$fax_status1 2\n$fax_phone 1  ; x\n", "t").unwrap();
        claim(&mut d, 4, 2);
        assert_eq!(
            String::from_utf8(d.to_bytes()).unwrap(),
            "; c\n$fax_status1 3 4\n$fax_phone 1  ; x\n$fax_tosend 2\n"
        );
    }
}
