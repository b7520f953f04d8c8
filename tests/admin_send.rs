//! `redial send NUMBER FILE…` (sendfax): the real binary builds a checked job, queues it and, with
//! `--wait`, follows a real `redial run` node through each attempt to SENT (exit 0) or FAIL
//! (exit 1). Mistakes are refused before anything is written (exit 2).

mod common;

use common::spool::{jobs_in, scratch, start, terminate_within, BIN};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn send(root: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("send")
        .args(["--cfg", "redial.cfg", "--base", "."])
        .args(args)
        .current_dir(root)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn wait_follows_a_busy_attempt_and_its_retry_to_sent() {
    let d = scratch("$request_dir spool 2\n$timezone UTC\n$line 1 sim outcomes=2@0.1,0@0.1\n");
    let root = d.path();
    std::fs::write(
        root.join("letter.txt"),
        "Dear customer,\nyour order shipped.\n",
    )
    .unwrap();
    let node = start(root, "a");
    let (code, out, err) = send(
        root,
        &[
            "5550100",
            "letter.txt",
            "--retry-delays",
            "B",
            "1S",
            "--wait",
            "--wait-secs",
            "60",
        ],
    );
    assert!(terminate_within(node, Duration::from_secs(20)));
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].contains(": submitted to "), "{out}");
    let busy = lines
        .iter()
        .position(|l| l.contains("attempt 1 ended:") && l.contains("class B"))
        .unwrap_or_else(|| panic!("{out}"));
    let retry = lines
        .iter()
        .position(|l| l.contains("waiting for its retry time"))
        .unwrap_or_else(|| panic!("{out}"));
    let second = lines
        .iter()
        .position(|l| l.contains("attempt 2 ended:") && l.contains("class S"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(busy < retry && retry < second, "{out}");
    assert!(lines.last().unwrap().ends_with(": sent"), "{out}");
    let sent = jobs_in(&root.join("spool/SENT"));
    assert_eq!(sent.len(), 1);
    let text = std::fs::read_to_string(root.join("spool/SENT").join(&sent[0])).unwrap();
    assert!(
        text.contains("$retry_delays B 1S") || text.contains("$retry_delays B \"1S\""),
        "{text}"
    );
}

#[test]
fn wait_ends_with_status_1_when_the_job_fails() {
    let d = scratch("$request_dir spool 2\n$timezone UTC\n$line 1 sim outcomes=11@0.1\n");
    let root = d.path();
    std::fs::write(root.join("letter.txt"), "hello\n").unwrap();
    let node = start(root, "a");
    let (code, out, err) = send(
        root,
        &["5550100", "letter.txt", "--wait", "--wait-secs", "60"],
    );
    assert!(terminate_within(node, Duration::from_secs(20)));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.lines().last().unwrap().contains(": failed"), "{out}");
    assert_eq!(jobs_in(&root.join("spool/FAIL")).len(), 1);
}

#[test]
fn mistakes_are_refused_and_nothing_is_queued() {
    let d = scratch("$request_dir spool 2\n$timezone UTC\n$line 1 sim\n");
    let root = d.path();
    std::fs::write(root.join("letter.txt"), "hello\n").unwrap();
    for (args, says) in [
        (vec!["555x0100", "letter.txt"], "refused"),
        (vec!["5550100", "no-such-file.tif"], "no-such-file.tif"),
        (
            vec!["5550100", "letter.txt", "--retry-delays", "B", "1 2 fast"],
            "refused",
        ),
        (
            vec!["5550100", "letter.txt", "--queue", "7"],
            "queue 7 does not exist",
        ),
        (vec!["5550100"], "FILES"),
    ] {
        let (code, out, err) = send(root, &args);
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
        for q in ["TOSEND", "TOSEND1", "TOSEND2"] {
            assert!(jobs_in(&root.join("spool").join(q)).is_empty(), "{args:?}");
        }
    }
}

#[test]
fn submit_with_a_relative_base_accepts_a_document_under_it() {
    let d = scratch("$request_dir spool 2\n$timezone UTC\n$line 1 sim\n");
    let root = d.path();
    std::fs::write(root.join("letter.txt"), "hello\n").unwrap();
    let out = Command::new(BIN)
        .args(["submit", "--cfg", "redial.cfg", "--base", "."])
        .args(["--fax", "5550100", "--file", "letter.txt"])
        .current_dir(root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(jobs_in(&root.join("spool/TOSEND")).len(), 1);
}

/// Page by page: `--wait` on a real node sending through a hw-sim Class 2.0 modem shows the
/// dialling, the connection and each page as it goes out ("page 2/3 at 14400"), in order, and
/// the live step is gone once the job is settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_shows_each_page_as_it_goes_out_on_a_modem_line() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = r#"
[defaults]
unknown = { kind = "no-answer", rings = 1 }

[[number]]
number = "5550100"
outcome = { kind = "fax", rings = 1, csi = "PROGRESS" }
"#;
    let rack = common::hwsim::rack(&dir.path().join("rack"), 1, scenario, 0.05).await;
    let d = scratch(&format!(
        "$request_dir spool 2\n$timezone UTC\n$line 1 {} class=2.0\n",
        rack.tty(0).display()
    ));
    let root = d.path().to_path_buf();
    std::fs::write(root.join("three.txt"), "One.\n\x0cTwo.\n\x0cThree.\n").unwrap();
    let node = start(&root, "a");
    let r = root.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        send(&r, &["5550100", "three.txt", "--wait", "--wait-secs", "90"])
    })
    .await
    .unwrap();
    assert!(terminate_within(node, Duration::from_secs(20)));
    rack.stop().await;
    assert_eq!(code, 0, "{out}{err}");
    let at = |needle: &str| {
        out.lines()
            .position(|l| l.contains("in progress on line 1 (node a): ") && l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle:?}:\n{out}"))
    };
    let pages: Vec<usize> = (1..=3)
        .map(|n| at(&format!("page {n}/3 at 14400")))
        .collect();
    assert!(pages[0] < pages[1] && pages[1] < pages[2], "{out}");
    assert!(out.lines().last().unwrap().ends_with(": sent"), "{out}");
    assert!(
        !root.join("spool/ACTIVE/a.calls.json").exists(),
        "a node that stops takes its calls' steps with it"
    );
    // The report shows the pages of each fax attempt: sent of scheduled.
    let name = out
        .lines()
        .next()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
        .to_string();
    let report = Command::new(BIN)
        .args(["report", &name, "--cfg", "redial.cfg", "--base", "."])
        .current_dir(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&report.stdout);
    assert!(text.contains("PAGES") && text.contains(" 3/3 "), "{text}");
}
