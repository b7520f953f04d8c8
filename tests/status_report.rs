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

fn spool(cfg: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("redial.cfg"), cfg).unwrap();
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
