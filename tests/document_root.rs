//! Documents are confined to the document roots (`$document_root`, default the base directory
//! and the request directory): a job naming `/etc/passwd`, climbing out with `..`, or following a
//! link out of the documents folder ends in FAIL with the reason, and is never dialled.

mod common;

use chrono::{TimeZone, Utc};
use common::spool::*;
use redial::command::Document;
use redial::daemon::clock::ManualClock;
use redial::daemon::Daemon;
use redial::line::scripted::{Script, ScriptedLine};
use redial::line::{Call, Line};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CFG: &str = "\
$request_dir spool 2
$timezone UTC
$line 1 sim outcomes=0@0.1
";

/// `$fax_status2` and `$fail_reason` of a job in `dir`.
fn status_and_reason(dir: &Path, name: &str) -> (String, String) {
    let bytes = std::fs::read(dir.join(name)).unwrap();
    let d = Document::parse(&bytes, name).unwrap();
    let status = d
        .last("fax_status2")
        .map(|c| c.joined())
        .unwrap_or_default();
    let reason = d
        .last("fail_reason")
        .map(|c| c.joined())
        .unwrap_or_default();
    (status, reason)
}

#[test]
fn real_daemon_fails_documents_outside_the_roots_and_sends_the_good_one() {
    let dir = scratch(CFG);
    // The daemon's base is its working directory as getcwd(3) reports it: the physical path.
    let base = dir.path().canonicalize().unwrap();
    let root = base.join("spool");
    std::fs::create_dir_all(root.join("docs")).unwrap();
    std::fs::write(root.join("docs/page.txt"), "A page.\n").unwrap();
    std::os::unix::fs::symlink("/etc/passwd", root.join("docs/out.txt")).unwrap();
    // Enough `..` to reach / from the base, however deep the temporary directory is.
    let depth = base.components().count().saturating_sub(1).max(4);
    let climb = format!("{}etc/passwd", "../".repeat(depth));
    let jobs = [
        ("00000001.FS", "$fax_filename /etc/passwd".to_string()),
        ("00000002.FS", format!("$fax_filename {climb}")),
        (
            "00000003.FS",
            "$fax_filename spool/docs/out.txt".to_string(),
        ),
        (
            "00000004.FS",
            "$fax_filename spool/docs/page.txt\n$fax_cover /etc/shadow".to_string(),
        ),
        (
            "00000005.FS",
            "$fax_filename spool/docs/page.txt".to_string(),
        ),
    ];
    for (i, (n, docs)) in jobs.iter().enumerate() {
        std::fs::write(
            root.join("TOSEND").join(n),
            format!("$fax_phone 555010{i}\n{docs}\n"),
        )
        .unwrap();
    }

    let c = start(&base, "n1");
    let done = wait_until(Duration::from_secs(60), || landed(&root) == jobs.len());
    let log = || std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
    assert!(
        terminate_within(c, Duration::from_secs(10)),
        "deaf to SIGTERM"
    );
    assert!(
        done,
        "landed {} of {}: {:?}\n{}",
        landed(&root),
        jobs.len(),
        census(&root),
        log()
    );

    assert_eq!(jobs_in(&root.join("SENT")), ["00000005.FS"], "{}", log());
    assert_eq!(
        jobs_in(&root.join("FAIL")),
        ["00000001.FS", "00000002.FS", "00000003.FS", "00000004.FS"]
    );
    let roots = format!("({}, {})", base.display(), root.display());
    let expect = [
        ("00000001.FS", 2, "/etc/passwd".to_string(), "/etc/passwd"),
        ("00000002.FS", 2, climb.clone(), "/etc/passwd"),
        (
            "00000003.FS",
            2,
            "spool/docs/out.txt".to_string(),
            "/etc/passwd",
        ),
        ("00000004.FS", 3, "/etc/shadow".to_string(), "/etc/shadow"),
    ];
    for (n, line, named, resolved) in &expect {
        let (status, reason) = status_and_reason(&root.join("FAIL"), n);
        assert_eq!(status, "33", "{n}: {reason}");
        let want = format!(
            ".FS:{line}: document {named:?} resolves to {resolved} outside the document roots {roots}"
        );
        assert!(reason.ends_with(&want), "{n}: {reason}\nwanted …{want}");
        assert!(reason.contains(n), "{n}: {reason}");
    }
    // Never dialled: the only attempt record is the good job's.
    for (n, _, _, _) in &expect {
        let text = std::fs::read_to_string(root.join("FAIL").join(n)).unwrap();
        assert!(
            !text.contains("$attempt_record"),
            "{n} was dialled:\n{text}"
        );
    }
    let (status, reason) = status_and_reason(&root.join("SENT"), "00000005.FS");
    assert_eq!((status.as_str(), reason.as_str()), ("0", ""));
}

/// Each call's job and documents, as the line saw them.
type Seen = Vec<(String, Vec<PathBuf>)>;

/// In-process, with a scripted line that keeps the documents of every call.
fn run_in_process(cfg: &str, base: &Path, jobs: &[(&str, &str)]) -> Seen {
    redial::spool::store::set_durable(false);
    std::fs::write(base.join("redial.cfg"), cfg).unwrap();
    let layout = redial::spool::Layout::new(base.join("spool"), 2);
    layout.create(None).unwrap();
    for (n, text) in jobs {
        std::fs::write(layout.queue_dir(0).join(n), text).unwrap();
    }
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s = seen.clone();
    let script: Script = Arc::new(move |c: &Call, _| {
        s.lock().unwrap().push((c.job.clone(), c.documents.clone()));
        (0, 60)
    });
    let line: Box<dyn Line> = Box::new(ScriptedLine::new(1, script, Arc::default()));
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let mut d = Daemon::new(
        Some(&base.join("redial.cfg")),
        base,
        "n1",
        Arc::new(clock.clone()),
        Some(vec![line]),
    )
    .unwrap();
    d.start().unwrap();
    d.run_virtual(&clock, 10_000);
    let v = seen.lock().unwrap().clone();
    v
}

#[test]
fn the_line_gets_canonical_paths_and_document_root_replaces_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    std::fs::create_dir_all(base.join("docs/sub")).unwrap();
    std::fs::write(base.join("docs/page.txt"), "A page.\n").unwrap();
    std::fs::write(base.join("loose.txt"), "Not in docs.\n").unwrap();
    std::os::unix::fs::symlink("../page.txt", base.join("docs/sub/alias.txt")).unwrap();
    let cfg = "$request_dir spool 2\n$timezone UTC\n$document_root docs\n";
    let seen = run_in_process(
        cfg,
        &base,
        &[
            // Backslashes, `..` and a link inside the root: the line gets the file itself.
            (
                "00000001.FS",
                "$fax_phone 5550101\n$fax_filename docs\\sub\\..\\sub\\alias.txt docs/page.txt\n",
            ),
            // In the base directory, which is no longer a root once $document_root is given.
            (
                "00000002.FS",
                "$fax_phone 5550102\n$fax_filename loose.txt\n",
            ),
            // Missing inside the root: outcome 30, as before.
            (
                "00000003.FS",
                "$fax_phone 5550103\n$fax_filename docs/nope.tif\n",
            ),
        ],
    );
    let page = base.join("docs/page.txt");
    assert_eq!(
        seen,
        [("00000001.FS".to_string(), vec![page.clone(), page.clone()])]
    );
    let fail = base.join("spool/FAIL");
    let (status, reason) = status_and_reason(&fail, "00000002.FS");
    assert_eq!(status, "33", "{reason}");
    assert!(
        reason.ends_with(&format!(
            ".FS:2: document \"loose.txt\" resolves to {} outside the document roots ({})",
            base.join("loose.txt").display(),
            base.join("docs").display()
        )),
        "{reason}"
    );
    let (status, reason) = status_and_reason(&fail, "00000003.FS");
    assert_eq!(status, "30", "{reason}");
    assert!(
        reason.contains(&format!(
            ".FS:2: document \"docs/nope.tif\" is missing ({}: ",
            base.join("docs/nope.tif").display()
        )),
        "{reason}"
    );
}
