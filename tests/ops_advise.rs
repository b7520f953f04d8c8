//! `redial advise`: success of retries by class, entry and delay from SENT and FAIL, and the
//! suggestions it derives.

use redial::load::SystemConfig;
use redial::ops::advise::advise;
use redial::ops::scan::scan;
use redial::spool::{Layout, Place};

fn rec(time: &str, code: u32, class: char) -> String {
    format!("$attempt_record 03/02/2026 {time} 1 0 1 {code} {class} 0 0 0 S1 0 5 0 \"\"\n")
}

#[test]
fn short_busy_retries_and_a_useless_tail_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path().join("spool"), 1);
    layout.create(None).unwrap();
    for n in 0..10 {
        // Busy; retried 1 minute later: busy again; 40 minutes later: sent.
        let text = format!(
            "$fax_phone 55501{n:02}\n{}{}{}",
            rec("09:00:00", 2, 'B'),
            rec("09:01:05", 2, 'B'),
            rec("09:41:10", 0, 'S')
        );
        std::fs::write(layout.sent().join(format!("{n}.FS")), text).unwrap();
    }
    for n in 0..6 {
        // No answer four times, 5 minutes apart: the list ran out.
        let text = format!(
            "$fax_phone 55502{n:02}\n{}{}{}{}",
            rec("09:00:00", 1, 'A'),
            rec("09:05:05", 1, 'A'),
            rec("09:10:10", 1, 'A'),
            rec("09:15:15", 1, 'Z')
        );
        std::fs::write(layout.fail().join(format!("a{n}.FS")), text).unwrap();
    }
    // A queued job is not history.
    std::fs::write(
        layout.queue_dir(0).join("q.FS"),
        format!("$fax_phone 1\n{}", rec("09:00:00", 2, 'B')),
    )
    .unwrap();
    let jobs: Vec<_> = scan(&layout, &SystemConfig::builtin())
        .into_iter()
        .filter(|j| matches!(j.place, Place::Sent | Place::Fail))
        .collect();
    let a = advise(&jobs, None);
    assert_eq!((a.jobs, a.attempts, a.retries), (16, 54, 38));
    let b1 = a
        .by_entry
        .iter()
        .find(|r| r.class == 'B' && r.entry == 1)
        .unwrap();
    assert_eq!(
        (b1.retries, b1.successes, b1.median_delay_secs),
        (10, 0, 60)
    );
    let b2 = a
        .by_entry
        .iter()
        .find(|r| r.class == 'B' && r.entry == 2)
        .unwrap();
    assert_eq!(
        (b2.retries, b2.successes, b2.median_delay_secs),
        (10, 10, 2400)
    );
    assert_eq!(
        a.suggestions,
        [
            "no answer retries (class A) from list entry 2 on never succeeded (0 of 12): the class A list could stop after entry 1.",
            "busy retries (class B) after under 2 min succeeded 0% (0 of 10); after 30 min-2 h, 100% (10 of 10): lengthen the short entries of the class B list.",
        ]
    );
    // --since drops older attempts.
    let since = chrono::NaiveDate::from_ymd_opt(2026, 3, 3);
    assert_eq!(advise(&jobs, since).retries, 0);
    let out = assert_cmd::Command::cargo_bin("redial")
        .unwrap()
        .args(["advise", "--spool"])
        .arg(&layout.root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("16 jobs, 54 attempts, 38 retries"), "{text}");
    assert!(
        text.contains("* busy retries (class B) after under 2 min"),
        "{text}"
    );
}

/// E-mail and SMS retries are counted apart from fax retries of the same class (an e-mail's
/// class B is a busy mailbox, retried by its own list), and their suggestions name the channel.
#[test]
fn email_and_sms_retries_are_advised_apart_from_fax() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path().join("spool"), 1);
    layout.create(None).unwrap();
    let mail = |time: &str, code: u32, class: char| {
        format!("$attempt_record 03/02/2026 {time} 3 0 1 {code} {class} 0 0 0 E9 0 1 1 \"\"\n")
    };
    let sms = |time: &str, code: u32, class: char| {
        format!("$attempt_record 03/02/2026 {time} 4 0 1 {code} {class} 0 0 0 G7 0 1 1 \"\"\n")
    };
    for n in 0..10 {
        // Fax busy, retried 40 minutes later: sent.
        let text = format!(
            "$fax_phone 55501{n:02}\n{}{}",
            rec("09:00:00", 2, 'B'),
            rec("09:40:05", 0, 'S')
        );
        std::fs::write(layout.sent().join(format!("f{n}.FS")), text).unwrap();
        // E-mail 450, retried a minute later: 450 again, then 550 (failed for good).
        let text = format!(
            "$email_address a{n}@example.com\n{}{}{}",
            mail("09:00:00", 2450, 'B'),
            mail("09:01:01", 2450, 'B'),
            mail("09:02:02", 2550, 'Z')
        );
        std::fs::write(layout.fail().join(format!("e{n}.FS")), text).unwrap();
        // SMS no credit, a day later delivered.
        let text = format!(
            "$sms_phone +4477009001{n:02}\n{}",
            sms("09:00:00", 401, 'J')
        );
        let text =
            format!("{text}$attempt_record 03/03/2026 09:00:05 4 0 1 400 S 0 0 0 G7 0 1 1 \"\"\n");
        std::fs::write(layout.sent().join(format!("s{n}.FS")), text).unwrap();
    }
    let jobs: Vec<_> = scan(&layout, &SystemConfig::builtin())
        .into_iter()
        .filter(|j| matches!(j.place, Place::Sent | Place::Fail))
        .collect();
    let a = advise(&jobs, None);
    let row = |channel: &str, class: char, entry: usize| {
        a.by_entry
            .iter()
            .find(|r| r.channel == channel && r.class == class && r.entry == entry)
            .unwrap_or_else(|| panic!("{channel} {class} {entry} missing: {:?}", a.by_entry))
            .clone()
    };
    let fax = row("fax", 'B', 1);
    assert_eq!((fax.retries, fax.successes), (10, 10));
    let email = row("email", 'B', 1);
    assert_eq!((email.retries, email.successes), (10, 0));
    assert_eq!(row("email", 'B', 2).retries, 10);
    let s = row("sms", 'J', 1);
    assert_eq!((s.retries, s.successes), (10, 10));
    assert!(
        a.suggestions
            .iter()
            .any(|x| x.starts_with("e-mail: ") && x.contains("class B")),
        "{:?}",
        a.suggestions
    );
    assert!(
        !a.suggestions
            .iter()
            .any(|x| x.starts_with("busy retries (class B)")),
        "fax's class B retries all succeeded: {:?}",
        a.suggestions
    );
    let out = assert_cmd::Command::cargo_bin("redial")
        .unwrap()
        .args(["advise", "--spool"])
        .arg(&layout.root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("CHANNEL"), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("email ") && l.contains(" B ")),
        "{text}"
    );
}
