//! `redial alter` at the process boundary, on a real spool: changes are written in place (every
//! other line byte for byte), noted in the job, moved to another queue when asked, and seen at
//! once by `redial explain` and by a running node (an earlier start is dialled promptly, a held
//! job is not dialled until released); bad arguments, jobs in progress or finished, and files
//! that do not parse are refused with the reason and the file unchanged.

mod common;

use common::spool::*;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

fn redial(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("USER", "tester")
        .env_remove("SUDO_USER")
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const JOB: &str = "; order 77\n$fax_phone 555 0100   ; main line\n$retry_delays B \"5\"\n$fax_filename page.txt\n$fax_send_date 01/01/2099\n";

#[test]
fn changes_are_written_in_place_noted_and_moved() {
    let dir = scratch("$request_dir spool 2\n");
    let root = dir.path().join("spool");
    std::fs::write(root.join("TOSEND/1.FS"), JOB).unwrap();
    let o = redial(
        dir.path(),
        &[
            "alter",
            "1",
            "--spool",
            "spool",
            "--number",
            "555 0199",
            "--group",
            "fax",
            "--retry-max",
            "2",
            "--retry-delays",
            "B",
            "1 2",
            "--queue",
            "2",
            "--by",
            "alice",
            "--at",
            "2098-05-04T10:30:00Z",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(jobs_in(&root.join("TOSEND")).is_empty());
    let got = std::fs::read_to_string(root.join("TOSEND2/1.FS")).unwrap();
    let lines: Vec<&str> = got.lines().collect();
    assert_eq!(lines[0], "; order 77", "{got}");
    assert_eq!(lines[1], "$fax_phone \"555 0199\"", "{got}");
    assert_eq!(
        lines[2], "$retry_delays B \"1 2\"",
        "replaced in place: {got}"
    );
    assert_eq!(lines[3], "$fax_filename page.txt", "{got}");
    assert_eq!(lines[4], "$fax_send_date 05/04/2098", "{got}");
    assert!(got.contains("$fax_send_time 10:30:00\n"), "{got}");
    assert!(got.contains("$fax_send_line fax\n"), "{got}");
    assert!(got.contains("$retry_max 2\n"), "{got}");
    let note = lines.last().unwrap();
    assert!(
        note.starts_with("$alter_note ")
            && note.contains("alice")
            && note.contains("number 555 0199"),
        "{got}"
    );
    // explain reads the change: the new send time, and the new B list's first entry.
    let o = redial(
        dir.path(),
        &[
            "explain",
            "spool/TOSEND2/1.FS",
            "--next",
            "--now",
            "2098-01-01T00:00:00Z",
        ],
    );
    assert!(
        text(&o).contains("\"at\":\"2098-05-04T10:30:00Z\""),
        "{}",
        text(&o)
    );
    let o = redial(
        dir.path(),
        &[
            "explain",
            "spool/TOSEND2/1.FS",
            "--class",
            "B",
            "--now",
            "2098-05-04T10:31:00Z",
        ],
    );
    assert!(
        text(&o).contains("\"at\":\"2098-05-04T10:32:00Z\""),
        "{}",
        text(&o)
    );
    // Hold and release: explain says so, and the hold is gone again after the release.
    let o = redial(dir.path(), &["alter", "1", "--spool", "spool", "--hold"]);
    assert!(o.status.success(), "{}", text(&o));
    let o = redial(dir.path(), &["explain", "spool/TOSEND2/1.FS", "--next"]);
    assert!(text(&o).contains("held_by_operator"), "{}", text(&o));
    let o = redial(dir.path(), &["status", "--spool", "spool"]);
    assert!(
        text(&o).contains("HELD TOSEND2/1.FS: held by an operator"),
        "{}",
        text(&o)
    );
    let o = redial(
        dir.path(),
        &["list", "--spool", "spool", "--json", "--state", "held"],
    );
    assert!(text(&o).contains("\"job\":\"1.FS\""), "{}", text(&o));
    let o = redial(dir.path(), &["alter", "1", "--spool", "spool", "--release"]);
    assert!(o.status.success(), "{}", text(&o));
    let got = std::fs::read_to_string(root.join("TOSEND2/1.FS")).unwrap();
    assert!(!got.contains("$fax_hold"), "{got}");
    assert_eq!(got.matches("$alter_note").count(), 3, "{got}");
}

#[test]
fn bad_arguments_are_refused_naming_the_argument_and_nothing_changes() {
    let dir = scratch("$request_dir spool 2\n");
    let root = dir.path().join("spool");
    std::fs::write(root.join("TOSEND/1.FS"), JOB).unwrap();
    for (args, want) in [
        (
            vec!["--number", "555;ATH"],
            "--number \"555;ATH\": cannot be dialled",
        ),
        (vec!["--retry-delays", "B", "1 x"], "--retry-delays \"1 x\""),
        (vec!["--retry-delays", "S", "1"], "--retry-delays \"S\""),
        (
            vec!["--queue", "12"],
            "--queue \"12\": no such queue (the highest is 9)",
        ),
        (vec!["--group", "a b"], "--group \"a b\""),
        (vec![], "nothing to change"),
    ] {
        let mut all = vec!["alter", "1", "--spool", "spool"];
        all.extend(args.iter());
        let o = redial(dir.path(), &all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(want), "{args:?}: {}", text(&o));
        assert_eq!(
            std::fs::read_to_string(root.join("TOSEND/1.FS")).unwrap(),
            JOB
        );
    }
}

#[test]
fn jobs_in_progress_finished_unknown_or_unreadable_are_refused() {
    let dir = scratch("$request_dir spool 2\n");
    let root = dir.path().join("spool");
    std::fs::create_dir_all(root.join("ACTIVE/n1")).unwrap();
    std::fs::create_dir_all(root.join("FAIL")).unwrap();
    std::fs::write(root.join("ACTIVE/n1/1.FS"), JOB).unwrap();
    std::fs::write(root.join("FAIL/2.FS"), JOB).unwrap();
    let bad = "$fax_phone \"555\n";
    std::fs::write(root.join("TOSEND/3.FS"), bad).unwrap();
    let alter = |job: &str| {
        redial(
            dir.path(),
            &["alter", job, "--spool", "spool", "--retry-max", "3"],
        )
    };
    let o = alter("1");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("in progress on node n1"), "{}", text(&o));
    let o = alter("2");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("has finished (FAIL)"), "{}", text(&o));
    let o = alter("4");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("did you mean"), "{}", text(&o));
    let o = alter("3");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("the job was not changed"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(root.join("TOSEND/3.FS")).unwrap(),
        bad
    );
    assert_eq!(
        std::fs::read_to_string(root.join("ACTIVE/n1/1.FS")).unwrap(),
        JOB
    );
    assert_eq!(
        std::fs::read_to_string(root.join("FAIL/2.FS")).unwrap(),
        JOB
    );
}

#[test]
fn a_running_node_sees_the_change_at_once() {
    // A full rescan only once an hour: what the node does here comes from its watcher.
    let dir = scratch("$request_dir spool 2\n$rescan_interval 3600\n$line 1 sim outcomes=0@0.2\n");
    let base = dir.path();
    let root = base.join("spool");
    std::fs::write(base.join("page.txt"), "ORDER 77\n").unwrap();
    let later = "$fax_phone 555 0100\n$fax_filename page.txt\n$fax_send_date 01/01/2099\n";
    std::fs::write(root.join("TOSEND/1.FS"), later).unwrap();
    std::fs::write(root.join("TOSEND/2.FS"), later.replace("0100", "0102")).unwrap();
    let node = start(base, "n1");
    let summary = root.join("ACTIVE/n1.summary.json");
    assert!(
        wait_until(Duration::from_secs(20), || std::fs::read_to_string(
            &summary
        )
        .is_ok_and(|t| t.contains("\"scheduled\":2"))),
        "the node did not index the jobs"
    );
    // Hold 2 and move its start to the past: due, but held.
    let o = redial(
        base,
        &[
            "alter",
            "2",
            "--spool",
            "spool",
            "--hold",
            "--at",
            "2020-01-01",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        wait_until(Duration::from_secs(20), || std::fs::read_to_string(
            &summary
        )
        .is_ok_and(|t| t.contains("held by an operator"))),
        "the node did not see the hold"
    );
    // Move 1 to the past: dialled promptly (long before any rescan).
    let o = redial(
        base,
        &["alter", "1", "--spool", "spool", "--at", "2020-01-01"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        wait_until(Duration::from_secs(20), || root.join("SENT/1.FS").exists()),
        "the earlier start was not dialled: {}",
        std::fs::read_to_string(base.join("n1.log")).unwrap_or_default()
    );
    // The node dials (1 went through) but not the held job.
    assert_eq!(jobs_in(&root.join("TOSEND")), ["2.FS"]);
    let got = std::fs::read_to_string(root.join("TOSEND/2.FS")).unwrap();
    assert!(!got.contains("$attempt_record"), "{got}");
    let o = redial(base, &["alter", "2", "--spool", "spool", "--release"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        wait_until(Duration::from_secs(20), || root.join("SENT/2.FS").exists()),
        "the released job was not dialled"
    );
    assert!(terminate_within(node, Duration::from_secs(20)));
}
