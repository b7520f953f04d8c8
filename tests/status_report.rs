//! `redial status` and `redial report` as an operator reads them: a job the windows hold is held,
//! not due (the same next-start computation as the daemon), and a report tells the whole
//! history (attempts and retry notes in time order) or, for a job never tried, where it is and
//! when it is next due.

use std::path::Path;
use std::process::Output;

fn redial(base: &Path, args: &[&str]) -> Output {
    assert_cmd::Command::cargo_bin("redial")
        .unwrap()
        .args(args)
        .arg("--cfg")
        .arg(base.join("redial.cfg"))
        .arg("--base")
        .arg(base)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A spool whose CFG has one line (without one, `--cfg` shows every job as unserved).
fn spool(cfg: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("redial.cfg"), format!("{cfg}$line 1 sim\n")).unwrap();
    for d in ["TOSEND", "TOSEND1", "SENT", "FAIL"] {
        std::fs::create_dir_all(dir.path().join("spool").join(d)).unwrap();
    }
    dir
}

#[test]
fn status_counts_window_held_jobs_as_held_not_due() {
    let dir = spool("$request_dir spool 1\n");
    let base = dir.path();
    let put = |name: &str, text: &str| {
        std::fs::write(base.join("spool/TOSEND").join(name), text).unwrap();
    };
    // Now is Monday 2026-03-02 10:00 UTC.
    put("1.FS", "$fax_phone 5550001\n");
    // A send window later today.
    put(
        "2.FS",
        "$fax_phone 5550002\n$fax_send_time 14:00:00 16:00:00\n",
    );
    // A pause window around now.
    put(
        "3.FS",
        "$fax_phone 5550003\n$pause_window \"*\" 09:00 11:00\n",
    );
    // A retry time to come: waiting for it.
    put(
        "4.FS",
        "$fax_phone 5550004\n$fax_next_date 03/02/2026\n$fax_next_time 12:00:00\n",
    );
    // A send date to come: scheduled.
    put("5.FS", "$fax_phone 5550005\n$fax_send_date 03/03/2026\n");
    // A retry time that has passed, inside a pause window: held (not due).
    put(
        "6.FS",
        "$fax_phone 5550006\n$fax_next_date 03/02/2026\n$fax_next_time 09:00:00\n\
         $pause_window \"*\" 09:30 10:30\n",
    );
    // Today's send date, its window over for the day: held until tomorrow's window.
    put(
        "7.FS",
        "$fax_phone 5550007\n$fax_send_date 03/02/2026\n$fax_send_time 02:00:00 02:30:00\n",
    );
    let out = redial(base, &["status", "--json", "--now", "2026-03-02T10:00:00Z"]);
    let j: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    let q = &j["queues"][0];
    assert_eq!(q["queue"], "TOSEND", "{j}");
    assert_eq!(q["due"], 1, "{q}");
    assert_eq!(q["held"], 4, "{q}");
    assert_eq!(q["waiting_retry"], 1, "{q}");
    assert_eq!(q["scheduled"], 1, "{q}");
    // The earliest start among the held jobs: 6.FS at 10:30.
    assert_eq!(q["held_until"], "2026-03-02T10:30:00Z", "{q}");
    let text = ok(&redial(base, &["status", "--now", "2026-03-02T10:00:00Z"]));
    assert!(text.contains("HELD"), "{text}");
    let row = text.lines().find(|l| l.starts_with("TOSEND ")).unwrap();
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cols[..5], ["TOSEND", "1", "4", "1", "1"], "{text}");
}

#[test]
fn report_shows_retry_notes_in_time_order_and_a_never_tried_job_where_and_when() {
    let dir = spool("$request_dir spool 2\n");
    let base = dir.path();
    let rec = |at: &str, code: u32, class: char| {
        format!("$attempt_record 03/02/2026 {at} 1 0 1 {code} {class} 0 2 0 S1 0 5 0 \"\"\n")
    };
    // Busy, busy (list ran out), retried by hand at 10:00, then sent at 10:05. The automatic
    // note sits before the manual one in the file but is later in time.
    std::fs::write(
        base.join("spool/SENT/1.FS"),
        format!(
            "$fax_phone 5550101\n{}{}$retry_note 03/02/2026 10:30:00 auto 2 \"automatic retry (06:00)\"\n\
             $retry_note 03/02/2026 10:00:00 manual 2 \"customer asked\"\n{}",
            rec("09:00:00", 2, 'B'),
            rec("09:01:00", 2, 'Z'),
            rec("10:35:00", 0, 'S'),
        ),
    )
    .unwrap();
    let text = ok(&redial(base, &["report", "1"]));
    let order: Vec<&str> = ["09:00:00", "09:01:00", "10:00:00", "10:30:00", "10:35:00"]
        .iter()
        .map(|t| {
            text.lines()
                .find(|l| l.starts_with(&format!("2026-03-02 {t}")))
                .unwrap_or_else(|| panic!("{t} missing:\n{text}"))
        })
        .collect();
    let pos: Vec<usize> = order.iter().map(|l| text.find(l).unwrap()).collect();
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
    assert!(
        order[2].contains("retried by hand") && order[2].contains("TOSEND2"),
        "{text}"
    );
    assert!(order[2].contains("customer asked"), "{text}");
    assert!(order[3].contains("retried automatically"), "{text}");
    let j: serde_json::Value =
        serde_json::from_str(&ok(&redial(base, &["report", "1", "--json"]))).unwrap();
    assert_eq!(j["attempts"].as_array().unwrap().len(), 3, "{j}");
    let notes = j["notes"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{j}");
    assert_eq!(notes[0]["when"], "2026-03-02T10:00:00", "{j}");
    assert_eq!(notes[0]["kind"], "manual", "{j}");
    assert_eq!(notes[0]["queue"], "TOSEND2", "{j}");
    assert_eq!(notes[0]["reason"], "customer asked", "{j}");
    assert_eq!(notes[1]["kind"], "auto", "{j}");

    // Never tried: where it is and when it is next due (its send window opens at 14:00).
    std::fs::write(
        base.join("spool/TOSEND1/2.FS"),
        "$fax_phone 5550102\n$fax_send_time 14:00:00 16:00:00\n",
    )
    .unwrap();
    let now = ["--now", "2026-03-02T10:00:00Z"];
    let text = ok(&redial(base, &[&["report", "2"][..], &now[..]].concat()));
    assert!(text.contains("never tried"), "{text}");
    assert!(text.contains("TOSEND1"), "{text}");
    assert!(
        text.contains("next start 2026-03-02 14:00:00") && text.contains("held by a window"),
        "{text}"
    );
    let j: serde_json::Value = serde_json::from_str(&ok(&redial(
        base,
        &[&["report", "2", "--json"][..], &now[..]].concat(),
    )))
    .unwrap();
    assert_eq!(j["attempts"].as_array().unwrap().len(), 0, "{j}");
    assert_eq!(j["place"], "TOSEND1", "{j}");
    assert_eq!(j["standing"], "held", "{j}");
    assert_eq!(j["next_start"], "2026-03-02T14:00:00Z", "{j}");
    // Due now, never tried.
    std::fs::write(base.join("spool/TOSEND/3.FS"), "$fax_phone 5550103\n").unwrap();
    let text = ok(&redial(base, &[&["report", "3"][..], &now[..]].concat()));
    assert!(
        text.contains("never tried") && text.contains("due now"),
        "{text}"
    );
}

/// E-mail and SMS attempts tell what the other end said: the relay's reply or the delivered
/// message's `Message-ID`, the SMS message id, its price and its delivery-report status; a fax
/// attempt the remote station's ID. An SMS that waits for its report says so, with its
/// deadline, instead of a retry time (it is never resent while it waits).
#[test]
fn report_tells_what_each_channel_answered() {
    let dir = spool(
        "$request_dir spool 0\n$line 9 smtp relay=127.0.0.1:25 tls=none\n$line 7 sms_http url=http://127.0.0.1:9/send\n",
    );
    let base = dir.path();
    std::fs::write(
        base.join("spool/SENT/mail.FS"),
        "$email_address buyer@example.com\n\
         $attempt_record 03/02/2026 09:00:00 3 0 1 2450 B 0 0 0 E9 0 0 0 \"450 4.2.0 <buyer@example.com>: mailbox busy\"\n\
         $attempt_record 03/02/2026 09:10:00 3 0 1 0 S 1 0 E E9 0 2 2 <redial.mail-FS.2.1772442600000@example.org>\n",
    )
    .unwrap();
    std::fs::write(
        base.join("spool/TOSEND/sms.FS"),
        "$sms_phone +447700900123\n$sms_text \"Your code is 4711\"\n$sms_price \"10.00 5.00 4.50\"\n\
         $sms_price_step 1\n\
         $attempt_record 03/02/2026 09:00:00 4 0 1 401 J 0 0 0 G7 0 0 0 \"id=1.sms.FS price=10.00 status=NO_CREDIT\"\n\
         $sms_pending R-2.sms.FS 2026-03-03T09:00:00Z 2026-03-05T09:00:00Z 5.00 7\n\
         $fax_status2 410\n$fax_next_date 03/05/2026\n$fax_next_time 09:00:00\n",
    )
    .unwrap();
    std::fs::write(
        base.join("spool/SENT/fax.FS"),
        "$fax_phone 5550101\n\
         $attempt_record 03/02/2026 09:00:00 1 0 2 0 S 2 0 0 M1 14400 40 35 \"+1 212 555 0100\"\n",
    )
    .unwrap();
    let now = ["--now", "2026-03-03T10:00:00Z"];

    let text = ok(&redial(base, &["report", "mail"]));
    assert!(
        text.contains("SMTP reply: 450 4.2.0 <buyer@example.com>: mailbox busy"),
        "{text}"
    );
    assert!(
        text.contains("Message-ID: <redial.mail-FS.2.1772442600000@example.org>"),
        "{text}"
    );
    let j: serde_json::Value =
        serde_json::from_str(&ok(&redial(base, &["report", "mail", "--json"]))).unwrap();
    let a = &j["attempts"];
    assert_eq!(a[0]["channel"], "email", "{j}");
    assert_eq!(
        a[0]["smtp_reply"], "450 4.2.0 <buyer@example.com>: mailbox busy",
        "{j}"
    );
    assert_eq!(a[0]["enhanced_status"], "4.2.0", "{j}");
    assert_eq!(
        a[1]["message_id"], "<redial.mail-FS.2.1772442600000@example.org>",
        "{j}"
    );
    assert_eq!(a[1]["pages_sent"], serde_json::Value::Null, "{j}");
    // Each attempt says what the engine decided after it: the mail's 450 was retried by the
    // first entry of the list that applies (here the built-in shared one).
    assert_eq!(a[0]["why"]["action"], "retry", "{j}");
    assert_eq!(a[0]["why"]["entry"], 1, "{j}");
    let reason = a[0]["why"]["reason"].as_str().unwrap();
    assert!(reason.contains("entry 1 of 1"), "{j}");
    assert_eq!(a[1]["why"]["action"], "done", "{j}");
    let text = ok(&redial(base, &["report", "mail"]));
    assert!(text.contains("decided: outcome 2450"), "{text}");

    let text = ok(&redial(base, &[&["report", "sms"][..], &now[..]].concat()));
    assert!(
        text.contains("SMS 1.sms.FS at price 10.00: delivery report NO_CREDIT"),
        "{text}"
    );
    assert!(
        text.contains("waiting for the delivery report of SMS R-2.sms.FS")
            && text.contains("price 5.00")
            && text.contains("until 2026-03-05 09:00:00")
            && text.contains("never resent while it waits"),
        "{text}"
    );
    assert!(!text.contains("waiting for its retry time"), "{text}");
    let j: serde_json::Value = serde_json::from_str(&ok(&redial(
        base,
        &[&["report", "sms", "--json"][..], &now[..]].concat(),
    )))
    .unwrap();
    let a = &j["attempts"][0];
    assert_eq!(a["channel"], "sms", "{j}");
    assert_eq!(a["sms_id"], "1.sms.FS", "{j}");
    assert_eq!(a["price"], "10.00", "{j}");
    assert_eq!(a["report_status"], "NO_CREDIT", "{j}");
    assert_eq!(j["standing"], "waiting_report", "{j}");
    assert_eq!(j["sms_pending"]["id"], "R-2.sms.FS", "{j}");
    assert_eq!(j["sms_pending"]["price"], "5.00", "{j}");
    assert_eq!(j["sms_pending"]["deadline"], "2026-03-05T09:00:00Z", "{j}");
    let text = ok(&redial(base, &[&["list"][..], &now[..]].concat()));
    let row = text.lines().find(|l| l.starts_with("sms.FS")).unwrap();
    assert!(
        row.contains("waiting for the delivery report of SMS R-2.sms.FS until 2026-03-05 09:00:00"),
        "{text}"
    );

    let text = ok(&redial(base, &["report", "fax"]));
    assert!(text.contains("remote station: +1 212 555 0100"), "{text}");
    let j: serde_json::Value =
        serde_json::from_str(&ok(&redial(base, &["report", "fax", "--json"]))).unwrap();
    assert_eq!(j["attempts"][0]["remote_id"], "+1 212 555 0100", "{j}");
    assert_eq!(j["attempts"][0]["channel"], "fax", "{j}");
}
