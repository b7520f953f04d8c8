//! `redial clean` (faxqclean) and the daemon's daily clean (`$archive_after`, `$delete_after`),
//! at the process boundary: the real binary on a real spool. Ages come from the files'
//! modification times, set explicitly; `--now` gives the CLI its clock.

mod common;

use common::spool::{scratch, start, terminate_within, wait_until, BIN};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

const CFG: &str = "$request_dir spool 2\n$timezone Europe/Berlin\n";

fn put(root: &Path, dir: &str, name: &str, finished: SystemTime) -> PathBuf {
    let p = root.join("spool").join(dir).join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, "$fax_phone 5550100\n$fax_status1 6\n$fax_status2 0\n").unwrap();
    let f = std::fs::File::options().write(true).open(&p).unwrap();
    f.set_modified(finished).unwrap();
    p
}

/// 2026-03-02T12:00:00Z minus `days`.
#[allow(clippy::unchecked_time_subtraction)]
fn days_before_march_2(days: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_772_452_800) - Duration::from_secs(days * 86_400)
}

fn clean(root: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("clean")
        .args([
            "--cfg",
            "redial.cfg",
            "--base",
            ".",
            "--now",
            "2026-03-02T12:00:00Z",
        ])
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

fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else if !e.file_name().to_string_lossy().starts_with('.') {
                out.push(e.path().strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn old_jobs_are_archived_by_month_with_their_err_files_and_young_ones_stay() {
    let d = scratch(CFG);
    let root = d.path();
    for q in ["SENT", "FAIL"] {
        std::fs::create_dir_all(root.join("spool").join(q)).unwrap();
    }
    // 2026-01-31T23:30Z is already February in Berlin: the month folder is local.
    let late_jan = SystemTime::UNIX_EPOCH + Duration::from_secs(1_769_902_200);
    put(root, "SENT", "00000001.FS", late_jan);
    put(root, "SENT", "00000002.FS", days_before_march_2(5));
    put(root, "FAIL", "00000003.FS", days_before_march_2(40));
    std::fs::write(
        root.join("spool/FAIL/00000003.FS.err"),
        "$fail_reason \"x\"\n",
    )
    .unwrap();
    // Its session log (of attempt 1) goes with it.
    std::fs::create_dir_all(root.join("spool/LOG")).unwrap();
    std::fs::write(
        root.join("spool/LOG/00000003.1.log"),
        "    0.000 > ATZ\\r\n",
    )
    .unwrap();
    // A job archived before with the same name: the new one gets a free name, nothing is lost.
    put(root, "ARCHIVE/SENT/2026-02", "00000001.FS", late_jan);

    let (code, out, err) = clean(root, &["--older-than", "20", "--dry-run"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("00000001.FS (SENT, 29 days): would archive to"),
        "{out}"
    );
    assert!(out.contains("2 to be cleaned"), "{out}");
    assert_eq!(
        files_under(&root.join("spool/SENT")),
        ["00000001.FS", "00000002.FS"],
        "a dry run moves nothing"
    );

    let (code, out, err) = clean(root, &["--older-than", "20d"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(files_under(&root.join("spool/SENT")), ["00000002.FS"]);
    assert_eq!(files_under(&root.join("spool/FAIL")), Vec::<String>::new());
    let archived = files_under(&root.join("spool/ARCHIVE"));
    assert_eq!(archived.len(), 5, "{archived:?}");
    assert!(
        archived.contains(&"FAIL/2026-01/00000003.1.log".to_string()),
        "{archived:?}"
    );
    assert_eq!(files_under(&root.join("spool/LOG")), Vec::<String>::new());
    assert!(
        archived.contains(&"FAIL/2026-01/00000003.FS".to_string()),
        "{archived:?}"
    );
    assert!(
        archived.contains(&"FAIL/2026-01/00000003.FS.err".to_string()),
        "{archived:?}"
    );
    assert!(
        archived.contains(&"SENT/2026-02/00000001.FS".to_string()),
        "{archived:?}"
    );
    assert_eq!(
        archived
            .iter()
            .filter(|a| a.starts_with("SENT/2026-02/"))
            .count(),
        2,
        "the earlier archived job is kept beside the new one: {archived:?}"
    );

    // JSON, and deleting from the archive.
    let (code, out, err) = clean(
        root,
        &[
            "--older-than",
            "20",
            "--delete",
            "--only",
            "archive",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["cleaned"].as_array().unwrap().len(), 3, "{out}");
    assert_eq!(v["cleaned"][0]["action"], "delete");
    assert_eq!(
        files_under(&root.join("spool/ARCHIVE")),
        Vec::<String>::new()
    );
}

#[test]
fn mistakes_are_refused_with_a_reason_and_change_nothing() {
    let d = scratch(CFG);
    let root = d.path();
    std::fs::create_dir_all(root.join("spool/SENT")).unwrap();
    put(root, "SENT", "00000001.FS", days_before_march_2(90));

    let (code, _, err) = clean(root, &["--older-than", "3weeks"]);
    assert_eq!(code, 2);
    assert!(err.contains("\"3weeks\" is not a number of days"), "{err}");
    let (code, _, err) = clean(root, &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("--older-than DAYS, or set $archive_after"),
        "{err}"
    );
    let (code, _, err) = clean(root, &["--older-than", "5", "--only", "archive"]);
    assert_eq!(code, 2);
    assert!(err.contains("--only archive takes --delete"), "{err}");

    std::fs::write(
        root.join("redial.cfg"),
        format!("{CFG}$archive_after 30\n$delete_after 10\n"),
    )
    .unwrap();
    let (code, _, err) = clean(root, &["--older-than", "5"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("line 4") && err.contains("is not after $archive_after"),
        "{err}"
    );
    assert_eq!(files_under(&root.join("spool/SENT")), ["00000001.FS"]);
}

#[test]
fn a_job_that_cannot_be_archived_stays_where_it_was_and_the_exit_status_says_so() {
    let d = scratch(CFG);
    let root = d.path();
    std::fs::create_dir_all(root.join("spool/SENT")).unwrap();
    put(root, "SENT", "00000001.FS", days_before_march_2(90));
    // ARCHIVE is a file: no folder can be made under it (as a full or read-only disk would).
    std::fs::write(root.join("spool/ARCHIVE"), "in the way").unwrap();
    let (code, out, err) = clean(root, &["--older-than", "30"]);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("00000001.FS: not cleaned:"), "{out}");
    assert!(err.contains("1 jobs could not be cleaned"), "{err}");
    assert_eq!(files_under(&root.join("spool/SENT")), ["00000001.FS"]);
}

#[test]
fn the_daemon_cleans_once_a_day_and_not_again_after_a_restart() {
    let d = scratch(&format!(
        "{CFG}$archive_after 30\n$delete_after 365\n$node_lease 2\n"
    ));
    let root = d.path();
    for q in ["SENT", "FAIL"] {
        std::fs::create_dir_all(root.join("spool").join(q)).unwrap();
    }
    let now = SystemTime::now();
    let days = |n: u64| now - Duration::from_secs(n * 86_400);
    put(root, "SENT", "00000001.FS", days(45));
    put(root, "FAIL", "00000002.FS", days(400));
    put(root, "SENT", "00000003.FS", days(2));

    let node = start(root, "a");
    let archived = || files_under(&root.join("spool/ARCHIVE"));
    assert!(
        wait_until(Duration::from_secs(20), || archived()
            .iter()
            .any(|f| f.ends_with("00000001.FS"))),
        "{:?}",
        archived()
    );
    assert!(wait_until(Duration::from_secs(20), || !root
        .join("spool/FAIL/00000002.FS")
        .exists()));
    assert!(wait_until(Duration::from_secs(20), || root
        .join("spool/ARCHIVE/.clean.last")
        .exists()));
    assert!(terminate_within(node, Duration::from_secs(20)));
    assert!(
        !archived().iter().any(|f| f.contains("00000002")),
        "past $delete_after it is deleted, not archived: {:?}",
        archived()
    );
    assert_eq!(files_under(&root.join("spool/SENT")), ["00000003.FS"]);

    // The same day, after a restart: today's clean is done; a job that aged meanwhile waits
    // for tomorrow.
    put(root, "SENT", "00000004.FS", days(50));
    let node = start(root, "a");
    assert!(wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(root.join("a.log"))
            .is_ok_and(|l| l.contains("today's clean of SENT and FAIL is done already"))
    }));
    assert!(terminate_within(node, Duration::from_secs(20)));
    assert!(root.join("spool/SENT/00000004.FS").exists());
    let log = std::fs::read_to_string(root.join("a.log")).unwrap();
    assert_eq!(
        log.matches("daily clean of SENT and FAIL").count(),
        1,
        "{log}"
    );
}
