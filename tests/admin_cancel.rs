//! `redial cancel` at the process boundary, on a real spool: a queued job goes to FAIL undialled
//! with the cancel's reason and outcome 40, every other line kept; a typo is answered with close
//! names; a finished job says so; a file that does not parse is moved unchanged with the reason
//! beside it; a read-only spool is refused with nothing lost.

mod common;

use common::spool::*;
use std::path::Path;
use std::process::{Command, Output};

fn redial(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--spool", "spool"])
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

const JOB: &str =
    "; order 77 for ACME\n$fax_phone 555 0100   ; main line\n$fax_filename page.txt\n";

/// No `ACTIVE/ops-*` directory or lease is left behind.
fn no_hold_left(root: &Path) {
    let left: Vec<String> = std::fs::read_dir(root.join("ACTIVE"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with("ops-"))
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn a_queued_job_goes_to_fail_undialled_with_the_reason() {
    let dir = scratch("$request_dir spool 2\n");
    let root = dir.path().join("spool");
    std::fs::write(root.join("TOSEND1/00000001.FS"), JOB).unwrap();
    let o = redial(
        dir.path(),
        &["cancel", "00000001", "--reason", "customer called"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("cancelled"), "{}", text(&o));
    assert!(jobs_in(&root.join("TOSEND1")).is_empty());
    let got = std::fs::read_to_string(root.join("FAIL/00000001.FS")).unwrap();
    assert!(
        got.starts_with(JOB),
        "other lines kept byte for byte:\n{got}"
    );
    assert!(got.contains("$fax_status1 6\n"), "{got}");
    assert!(got.contains("$fax_status2 40\n"), "{got}");
    assert!(
        got.contains("$fail_reason \"cancelled by tester: customer called\"\n"),
        "{got}"
    );
    no_hold_left(&root);
    // `--by` names someone else; no reason is fine too.
    std::fs::write(root.join("TOSEND/2.FS"), JOB).unwrap();
    let o = redial(dir.path(), &["cancel", "2.FS", "--by", "alice"]);
    assert!(o.status.success(), "{}", text(&o));
    let got = std::fs::read_to_string(root.join("FAIL/2.FS")).unwrap();
    assert!(
        got.contains("$fail_reason \"cancelled by alice\"\n"),
        "{got}"
    );
    // The report shows why.
    let o = redial(dir.path(), &["report", "2"]);
    assert!(text(&o).contains("cancelled by alice"), "{}", text(&o));
}

#[test]
fn a_mistyped_name_is_refused_with_close_names() {
    let dir = scratch("$request_dir spool 2\n");
    let root = dir.path().join("spool");
    std::fs::write(root.join("TOSEND/00000017.FS"), JOB).unwrap();
    let o = redial(dir.path(), &["cancel", "00000018"]);
    assert!(!o.status.success());
    let t = text(&o);
    assert!(t.contains("no job \"00000018\""), "{t}");
    assert!(t.contains("did you mean 00000017.FS"), "{t}");
    assert_eq!(jobs_in(&root.join("TOSEND")), ["00000017.FS"]);
}

#[test]
fn a_finished_job_says_so_and_is_left_alone() {
    let dir = scratch("$request_dir spool 2\n");
    let root = dir.path().join("spool");
    std::fs::create_dir_all(root.join("SENT")).unwrap();
    let done = format!("{JOB}$fax_status1 6\n");
    std::fs::write(root.join("SENT/5.FS"), &done).unwrap();
    let o = redial(dir.path(), &["cancel", "5"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("already finished (SENT)"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(root.join("SENT/5.FS")).unwrap(),
        done
    );
}

#[test]
fn a_file_that_does_not_parse_is_moved_unchanged_with_the_reason_beside_it() {
    let dir = scratch("$request_dir spool 2\n");
    let root = dir.path().join("spool");
    let bad = "$fax_phone \"555 0100\n$fax_filename page.txt\n";
    std::fs::write(root.join("TOSEND/9.FS"), bad).unwrap();
    let o = redial(dir.path(), &["cancel", "9", "--reason", "junk"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(root.join("FAIL/9.FS")).unwrap(),
        bad
    );
    let err = std::fs::read_to_string(root.join("FAIL/9.FS.err")).unwrap();
    assert!(err.contains("cancelled by tester: junk"), "{err}");
    assert!(err.contains("$fax_status2 40"), "{err}");
}

#[test]
fn a_read_only_spool_is_refused_and_nothing_is_lost() {
    let t = tempfile::tempdir().unwrap();
    let mnt = t.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: cannot mount a tmpfs here (needs root; CI runs as root)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _u = Unmount(mnt.clone());
    let root = mnt.join("spool");
    for d in [
        "TOSEND", "TOSEND1", "TOSEND2", "ACTIVE", "TEMP", "FAIL", "SENT",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("TOSEND/1.FS"), JOB).unwrap();
    let s = Command::new("mount")
        .args(["-o", "remount,ro"])
        .arg(&mnt)
        .status()
        .unwrap();
    assert!(s.success());
    for args in [
        vec!["cancel", "1"],
        vec!["alter", "1", "--number", "555 0199"],
    ] {
        let o = redial(&mnt, &args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        let t = text(&o);
        assert!(t.contains("Read-only file system"), "{args:?}: {t}");
        assert!(t.contains("the job was left as it was"), "{args:?}: {t}");
        assert_eq!(
            std::fs::read_to_string(root.join("TOSEND/1.FS")).unwrap(),
            JOB
        );
    }
}

/// The race of a cancel with a claim: the command found the job claimed and left a request,
/// and the node then gave the job back to its queue (or had not dialled it yet). The request is
/// not lost: the node fails the job as cancelled, never dialling it.
#[test]
fn a_request_for_a_job_back_in_its_queue_is_not_lost() {
    let dir = scratch("$request_dir spool 2\n$rescan_interval 3600\n$line 1 sim outcomes=0@0.2\n");
    let base = dir.path();
    let root = base.join("spool");
    std::fs::write(base.join("page.txt"), "ORDER 77\n").unwrap();
    std::fs::write(root.join("TOSEND/3.FS"), JOB).unwrap();
    std::fs::create_dir_all(root.join("CANCEL")).unwrap();
    std::fs::write(
        root.join("CANCEL/3.FS.req"),
        r#"{"job":"3.FS","by":"bob","reason":"race","at":"2026-03-02T09:00:00Z"}"#,
    )
    .unwrap();
    let node = start(base, "n1");
    assert!(
        wait_until(std::time::Duration::from_secs(20), || root
            .join("FAIL/3.FS")
            .exists()),
        "{}",
        std::fs::read_to_string(base.join("n1.log")).unwrap_or_default()
    );
    let got = std::fs::read_to_string(root.join("FAIL/3.FS")).unwrap();
    assert!(!got.contains("$attempt_record"), "never dialled: {got}");
    assert!(
        got.contains("$fail_reason \"cancelled by bob: race\""),
        "{got}"
    );
    assert!(jobs_in(&root.join("SENT")).is_empty());
    // Its job landed: the request goes.
    assert!(wait_until(std::time::Duration::from_secs(20), || !root
        .join("CANCEL/3.FS.req")
        .exists()));
    let log = std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
    assert!(log.contains("cancel requested by bob"), "{log}");
    assert!(terminate_within(node, std::time::Duration::from_secs(20)));
}

/// A queued job the command cancels itself is logged by the node serving its queue (who, why).
#[test]
fn a_running_node_logs_a_cancel_of_a_queued_job() {
    let dir = scratch("$request_dir spool 2\n$rescan_interval 3600\n$line 1 sim outcomes=0@0.2\n");
    let base = dir.path();
    let root = base.join("spool");
    std::fs::write(base.join("page.txt"), "ORDER 77\n").unwrap();
    std::fs::write(
        root.join("TOSEND/4.FS"),
        format!("{JOB}$fax_send_date 01/01/2099\n"),
    )
    .unwrap();
    let node = start(base, "n1");
    let summary = root.join("ACTIVE/n1.summary.json");
    assert!(wait_until(std::time::Duration::from_secs(20), || {
        std::fs::read_to_string(&summary).is_ok_and(|t| t.contains("\"scheduled\":1"))
    }));
    let o = redial(
        base,
        &["cancel", "4", "--reason", "duplicate", "--by", "carol"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let log = || std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
    assert!(
        wait_until(std::time::Duration::from_secs(20), || log()
            .contains("cancel by carol: the job was queued in TOSEND")),
        "{}",
        log()
    );
    assert!(log().contains("duplicate"), "{}", log());
    let left: Vec<_> = std::fs::read_dir(root.join("CANCEL"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "the notice is removed once logged: {left:?}"
    );
    assert!(terminate_within(node, std::time::Duration::from_secs(20)));
}

/// A job in progress gets a request for its node; `--no-wait` returns at once, and a wait that
/// runs out says the job is still up and leaves the request.
#[test]
fn a_job_in_progress_gets_a_request_and_the_wait_is_bounded() {
    let dir = scratch("$request_dir spool 2\n");
    let root = dir.path().join("spool");
    std::fs::create_dir_all(root.join("ACTIVE/n7")).unwrap();
    std::fs::write(root.join("ACTIVE/n7/5.FS"), JOB).unwrap();
    let o = redial(
        dir.path(),
        &["cancel", "5", "--no-wait", "--reason", "stop it"],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("in progress on node n7: hang-up requested"),
        "{}",
        text(&o)
    );
    let req: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("CANCEL/5.FS.req")).unwrap()).unwrap();
    assert_eq!(req["job"], "5.FS");
    assert_eq!(req["by"], "tester");
    assert_eq!(req["reason"], "stop it");
    // Nobody acts on it here: the bounded wait ends, says so, and the request stays.
    let t = std::time::Instant::now();
    let o = redial(dir.path(), &["cancel", "5", "--wait-secs", "1"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("still in progress after 1 s"),
        "{}",
        text(&o)
    );
    assert!(t.elapsed() < std::time::Duration::from_secs(30));
    assert!(root.join("CANCEL/5.FS.req").exists());
    assert_eq!(
        std::fs::read_to_string(root.join("ACTIVE/n7/5.FS")).unwrap(),
        JOB
    );
}

/// A command that died while it held jobs (its `ACTIVE/ops-<pid>/` and a stale lease) leaves
/// nothing lost: a node takes the directory over like a dead node's; a job it was only holding
/// goes back to its queue (and is dialled), one whose cancel was written goes to FAIL.
#[test]
fn jobs_held_by_a_command_that_died_are_recovered_by_a_node() {
    let dir = scratch("$request_dir spool 2\n$node_lease 1 3\n$line 1 sim outcomes=0@0.2\n");
    let base = dir.path();
    let root = base.join("spool");
    std::fs::write(base.join("page.txt"), "ORDER 77\n").unwrap();
    let held = root.join("ACTIVE/ops-999999");
    std::fs::create_dir_all(&held).unwrap();
    std::fs::write(held.join("1.FS"), JOB).unwrap();
    let cancelled =
        format!("{JOB}$fax_status1 6\n$fax_status2 40\n$fail_reason \"cancelled by tester\"\n");
    std::fs::write(held.join("2.FS"), &cancelled).unwrap();
    std::fs::write(
        root.join("ACTIVE/ops-999999.lease"),
        r#"{"node":"ops-999999","pid":999999,"renewed":"2026-01-01T00:00:00Z","stale_after":30,"draining":true,"lines":[],"generation":0,"host":""}"#,
    )
    .unwrap();
    let node = start(base, "n1");
    assert!(
        wait_until(std::time::Duration::from_secs(30), || root
            .join("SENT/1.FS")
            .exists()
            && root.join("FAIL/2.FS").exists()),
        "{:?}\n{}",
        census(&root),
        std::fs::read_to_string(base.join("n1.log")).unwrap_or_default()
    );
    let failed = std::fs::read_to_string(root.join("FAIL/2.FS")).unwrap();
    assert!(failed.starts_with(&cancelled), "{failed}");
    assert!(
        !failed.contains("$attempt_record"),
        "never dialled: {failed}"
    );
    assert!(!held.exists());
    assert!(terminate_within(node, std::time::Duration::from_secs(20)));
}
