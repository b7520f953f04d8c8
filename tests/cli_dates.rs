//! One form of dates and times for every command's date and time options: `MM/DD/YYYY`,
//! `YYYY-MM-DD`, `YYYY-MM-DDTHH:MM[:SS]` (local time, the CFG's `$timezone`) and RFC 3339.
//! Each command gives the same answer whichever form names the same day or instant.

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

fn ok(what: &str, out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{what}: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// A spool in America/New_York (UTC-5 in March before the switch): one failed job whose last
/// attempt was on 03/02/2026 local, one queued job with a class B list.
fn spool() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$timezone America/New_York\n$retry_delays B \"5 10\"\n",
    )
    .unwrap();
    for d in ["TOSEND", "TOSEND1", "SENT", "FAIL"] {
        std::fs::create_dir_all(base.join("spool").join(d)).unwrap();
    }
    std::fs::write(
        base.join("spool/FAIL/1.FS"),
        "$fax_phone 5550101\n$fax_status1 6\n\
         $attempt_record 03/02/2026 09:00:00 1 0 1 2 Z 0 0 0 S1 0 5 0 \"\"\n",
    )
    .unwrap();
    std::fs::write(base.join("spool/TOSEND/2.FS"), "$fax_phone 5550102\n").unwrap();
    dir
}

#[test]
fn every_command_takes_the_same_date_forms() {
    let dir = spool();
    let base = dir.path();
    // The same local day.
    let days = [
        "03/02/2026",
        "2026-03-02",
        "2026-03-02T12:00",
        "2026-03-02T12:00:00",
        "2026-03-02T17:00:00Z",
        "2026-03-02T12:00:00-05:00",
    ];
    let mut answers = Vec::new();
    for d in days {
        let out = redial(
            base,
            &[
                "retry",
                "--all-failed",
                "--dry-run",
                "--since",
                d,
                "--until",
                d,
                "--now",
                "2026-03-03T12:00:00Z",
            ],
        );
        answers.push(ok(d, &out));
    }
    assert!(answers[0].contains("would queue 1.FS"), "{}", answers[0]);
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    // The day after matches nothing, in every form.
    for d in [
        "03/03/2026",
        "2026-03-03",
        "2026-03-03T00:00",
        "2026-03-03T05:00:00Z",
    ] {
        let out = redial(base, &["retry", "--all-failed", "--dry-run", "--since", d]);
        let text = ok(d, &out);
        assert!(text.ends_with("0 would queue, 0 skipped\n"), "{d}: {text}");
    }
    for d in days {
        ok(d, &redial(base, &["advise", "--since", d]));
    }

    // The same instant: 10:06 local is 15:06 UTC.
    let instants = [
        "2026-03-02T10:06",
        "2026-03-02T10:06:00",
        "2026-03-02T15:06:00Z",
        "2026-03-02T10:06:00-05:00",
    ];
    let fs = base.join("spool/TOSEND/2.FS");
    let mut answers = Vec::new();
    for t in instants {
        let out = assert_cmd::Command::cargo_bin("redial")
            .unwrap()
            .args(["explain", "--class", "B", "--now", t, "--cfg"])
            .arg(base.join("redial.cfg"))
            .arg(&fs)
            .output()
            .unwrap();
        answers.push(ok(t, &out));
        ok(t, &redial(base, &["status", "--now", t]));
        ok(t, &redial(base, &["report", "2", "--now", t]));
    }
    assert!(
        answers[0].contains(r#""at":"2026-03-02T15:11:00Z""#),
        "{}",
        answers[0]
    );
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:#?}");
    // A date alone is its local midnight.
    let midnight: Vec<String> = ["03/02/2026", "2026-03-02", "2026-03-02T05:00:00Z"]
        .iter()
        .map(|t| {
            let out = assert_cmd::Command::cargo_bin("redial")
                .unwrap()
                .args(["explain", "--class", "B", "--now", t, "--cfg"])
                .arg(base.join("redial.cfg"))
                .arg(&fs)
                .output()
                .unwrap();
            ok(t, &out)
        })
        .collect();
    assert!(midnight.iter().all(|a| *a == midnight[0]), "{midnight:#?}");

    // submit writes the CopiaFacts form whatever form it was given; a time sets the start.
    for (i, d) in [
        "03/05/2026",
        "2026-03-05",
        "2026-03-05T14:30",
        "2026-03-05T19:30:00Z",
    ]
    .iter()
    .enumerate()
    {
        let name = format!("s{i}");
        let out = redial(
            base,
            &[
                "submit",
                "--fax",
                "5550199",
                "--send-date",
                d,
                "--name",
                &name,
            ],
        );
        let path = ok(d, &out);
        let text = std::fs::read_to_string(path.trim()).unwrap();
        assert!(text.contains("$fax_send_date 03/05/2026"), "{d}: {text}");
        if i >= 2 {
            assert!(text.contains("$fax_send_time 14:30:00"), "{d}: {text}");
        }
    }
}

#[test]
fn a_bad_date_is_refused_with_the_forms_accepted() {
    let dir = spool();
    let base = dir.path();
    for (args, bad) in [
        (vec!["retry", "--all-failed", "--since"], "3/2"),
        (vec!["advise", "--since"], "2026-02-30"),
        (vec!["status", "--now"], "yesterday"),
        (
            vec!["submit", "--fax", "5550100", "--send-date"],
            "13/01/2026",
        ),
    ] {
        let mut a = args.clone();
        a.push(bad);
        let out = redial(base, &a);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{a:?}: {err}");
        assert!(
            err.contains("MM/DD/YYYY") && err.contains("YYYY-MM-DD") && err.contains("RFC 3339"),
            "{a:?}: {err}"
        );
    }
    let out = assert_cmd::Command::cargo_bin("redial")
        .unwrap()
        .args(["explain", "--class", "B", "--now", "tomorrow"])
        .arg(base.join("spool/TOSEND/2.FS"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("MM/DD/YYYY"));
}
