//! Faults a fax administrator meets in the first week, each against real `redial run`
//! processes on a real spool: hostile job files and names, things in a queue that are not job
//! files. Whatever a queue holds, the daemon lives, every job ends in exactly one place, and
//! everything it writes parses.

mod common;

use common::spool::*;
use redial::command::{Document, MAX_LINE_BYTES};
use std::time::Duration;

const CFG: &str = "\
$request_dir spool 2
$timezone UTC
$rescan_interval 1
$retry_delays A \"1S\"
$line 1 sim outcomes=0@0.1
$line 2 sim outcomes=0@0.1
";

/// Every `*.FS` and `*.err` in FAIL parses, and no line is over the limit.
fn fail_files_parse(root: &std::path::Path) -> Vec<(String, Document)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(root.join("FAIL")).unwrap().flatten() {
        let n = e.file_name().to_string_lossy().to_string();
        if !(n.ends_with(".FS") || n.ends_with(".err"))
            || !e.file_type().unwrap().is_file()
            || e.metadata().unwrap().len() > redial::spool::store::MAX_JOB_BYTES
        {
            continue;
        }
        let bytes = std::fs::read(e.path()).unwrap();
        for l in bytes.split(|b| *b == b'\n') {
            assert!(
                l.len() <= MAX_LINE_BYTES,
                "{n:?}: a line of {} bytes",
                l.len()
            );
        }
        let d = Document::parse(&bytes, &n).unwrap_or_else(|e| panic!("{n:?}: {e}"));
        out.push((n, d));
    }
    out
}

#[test]
fn hostile_jobs_end_in_fail_and_the_daemon_lives() {
    let dir = scratch(CFG);
    let root = dir.path().join("spool");
    let q = root.join("TOSEND");
    let long = "x".repeat(8170);
    let jobs = [
        (
            "00000001.FS",
            format!("$fax_phone 5550100\n$fax_filename /nx/{long}\n"),
        ),
        (
            "00000002.FS",
            format!("$fax_phone 5550101\n$fax_send_date {long}\n"),
        ),
        (
            "00000003.FS",
            format!("$fax_phone 5550102\n$retry_delays A \"{long}\"\n"),
        ),
        (
            "00000004.FS",
            format!("$fax_phone 5550103\n$fax_cover /nx/{long}\n"),
        ),
        ("00000005.FS", format!("$fax_phone {}\n", "5".repeat(8170))),
        (
            "evil\n$fax_phone 5559999\n.FS",
            "$fax_phone 5550104\n$fax_filename missing.tif\n".to_string(),
        ),
    ];
    for (n, text) in &jobs {
        std::fs::write(q.join(n), text).unwrap();
    }
    // Not job files, whatever their names say.
    let fifo = std::ffi::CString::new(q.join("x.FS").as_os_str().as_encoded_bytes()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::fs::create_dir(q.join("d.FS")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", q.join("l.FS")).unwrap();
    // A name no command can type, and a file far larger than any job (sparse: no disk used).
    {
        use std::os::unix::ffi::OsStrExt;
        let odd = std::ffi::OsStr::from_bytes(b"bad\xff.FS");
        std::fs::write(q.join(odd), "$fax_phone 5550105\n").unwrap();
    }
    std::fs::File::create(q.join("huge.FS"))
        .unwrap()
        .set_len(redial::spool::store::MAX_JOB_BYTES + 1)
        .unwrap();
    std::fs::write(q.join("00000009.FS"), "$fax_phone 5550109\n").unwrap();

    let mut c = start(dir.path(), "n1");
    let all = jobs.len() + 6;
    let done = wait_until(Duration::from_secs(60), || landed(&root) == all);
    let alive = c.try_wait().unwrap().is_none();
    let log = || std::fs::read_to_string(dir.path().join("n1.log")).unwrap_or_default();
    assert!(alive, "the daemon died: {}", log());
    assert!(
        done,
        "landed {} of {all}: {:?}\n{}",
        landed(&root),
        census(&root),
        log()
    );
    // A FIFO never hangs it: it stops on SIGTERM at once.
    assert!(
        terminate_within(c, Duration::from_secs(10)),
        "deaf to SIGTERM"
    );

    // The 8,170-digit number is refused as a modem line refuses it (outcome 11, permanent).
    assert_eq!(jobs_in(&root.join("SENT")), ["00000009.FS"]);
    assert!(jobs_in(&q).is_empty());
    let parsed = fail_files_parse(&root);
    let evil = parsed
        .iter()
        .find(|(n, _)| n.starts_with("evil") && n.ends_with(".FS"))
        .expect("the job with newlines in its name is in FAIL");
    let phones: Vec<_> = evil.1.all("fax_phone").collect();
    assert_eq!(phones.len(), 1, "a line was injected");
    assert_eq!(phones[0].texts(), ["5550104"]);
    for (n, d) in &parsed {
        if n.ends_with(".FS")
            && !["x.FS", "d.FS", "l.FS", "huge.FS", "bad\u{fffd}.FS"].contains(&n.as_str())
        {
            assert!(d.last("fail_reason").is_some(), "{n:?} has no reason");
        }
    }
    for n in ["x.FS.err", "d.FS.err", "l.FS.err"] {
        let (_, d) = parsed.iter().find(|(m, _)| m == n).expect(n);
        let why = d.last("fail_reason").unwrap().texts()[0].to_string();
        assert!(why.contains("not a regular file"), "{n}: {why}");
    }
    let why = |n: &str| {
        let (_, d) = parsed.iter().find(|(m, _)| m == n).expect(n);
        d.last("fail_reason").unwrap().texts()[0].to_string()
    };
    assert!(
        why("huge.FS.err").contains("at most"),
        "{}",
        why("huge.FS.err")
    );
    assert!(why("bad\u{fffd}.FS.err").contains("not valid UTF-8"));
    // The link was moved, not followed.
    assert!(std::fs::symlink_metadata(root.join("FAIL/l.FS"))
        .unwrap()
        .file_type()
        .is_symlink());
}

/// Records of every job in SENT and FAIL: (job, board+line, outcome code).
fn records(root: &std::path::Path) -> Vec<(String, String, u32)> {
    let mut out = Vec::new();
    for d in ["SENT", "FAIL"] {
        for n in jobs_in(&root.join(d)) {
            let bytes = std::fs::read(root.join(d).join(&n)).unwrap();
            let doc = Document::parse(&bytes, &n).unwrap();
            for r in doc.all("attempt_record") {
                let t = r.texts();
                out.push((n.clone(), t[10].to_string(), t[5].parse().unwrap()));
            }
        }
    }
    out
}

#[test]
fn a_modem_missing_at_start_takes_no_call() {
    // Line 1 is a modem whose device is gone before the node starts; line 2 works. 12 jobs:
    // none is charged an attempt on line 1 to find that out (it starts out of service).
    let dir = scratch(
        "$request_dir spool 2\n$timezone UTC\n$retry_delays E \"1S 1S 1S\"\n\
         $line 1 /dev/redial-test-no-such-tty class=2.0\n$line 2 sim outcomes=0@0.3\n",
    );
    let root = dir.path().join("spool");
    std::fs::write(dir.path().join("page.txt"), "A page.\n").unwrap();
    for i in 0..12 {
        std::fs::write(
            root.join("TOSEND").join(format!("{:08}.FS", i + 1)),
            format!("$fax_phone 555{:04}\n$fax_filename page.txt\n", i),
        )
        .unwrap();
    }
    let c = start(dir.path(), "n1");
    let status = || {
        let o = std::process::Command::new(BIN)
            .args(["status", "--cfg", "redial.cfg", "--base", "."])
            .current_dir(dir.path())
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).to_string()
    };
    // While the campaign runs, status shows the line down with its next probe.
    let mut shown = String::new();
    let seen_down = wait_until(Duration::from_secs(30), || {
        shown = status();
        shown.contains("down 1") && shown.contains("next probe")
    });
    let done = wait_until(Duration::from_secs(60), || landed(&root) == 12);
    assert!(terminate_within(c, Duration::from_secs(10)));
    assert!(done, "landed {} of 12", landed(&root));
    let on_modem: Vec<_> = records(&root)
        .into_iter()
        .filter(|(_, line, _)| line == "M1")
        .collect();
    assert!(
        on_modem.is_empty(),
        "calls placed on the missing modem: {on_modem:?}"
    );
    assert_eq!(jobs_in(&root.join("SENT")).len(), 12);
    assert!(seen_down, "status never showed the line down: {shown}");
}

/// Node a (line 1, whose calls end as `a_line` says) dials job 1 and is stopped for longer than
/// its lease lives; node b (line 2, success) takes over and delivers the job; then a resumes.
fn stall_a_past_its_lease(a_line: &str) -> (tempfile::TempDir, Node, Node) {
    let dir = scratch(&format!(
        "$request_dir spool 2\n$timezone UTC\n$node_lease 1 3\n$rescan_interval 1\n\
         $node a lines=1\n$node b lines=2\n$retry_delays E \"1S 1S\"\n\
         $line 1 sim {a_line}\n$line 2 sim outcomes=0@0.5\n"
    ));
    let root = dir.path().join("spool");
    std::fs::write(root.join("TOSEND/00000001.FS"), "$fax_phone 5550100\n").unwrap();
    let a = start(dir.path(), "a");
    // The call is up: the claim is written and the node has logged the dial (placed). A stop
    // between the two is a stall before dialling, after which the node does not dial at all.
    let a_log = dir.path().join("a.log");
    assert!(wait_until(Duration::from_secs(20), || {
        dialling_in(&root.join("ACTIVE/a")) == 1
            && std::fs::read_to_string(&a_log).is_ok_and(|l| l.contains(" dialling "))
    }));
    let b = start(dir.path(), "b");
    signal(&a, "STOP");
    // b takes a's directory over, records the call as interrupted and delivers the job.
    let delivered = wait_until(Duration::from_secs(30), || {
        jobs_in(&root.join("SENT")).len() == 1
    });
    signal(&a, "CONT");
    assert!(delivered, "b never delivered: {:?}", census(&root));
    (dir, a, b)
}

#[test]
fn a_stalled_node_never_delivers_twice() {
    // Node a's call lasts 6 s; a is stopped during it for longer than its lease lives.
    let (dir, a, b) = stall_a_past_its_lease("outcomes=0@6");
    let root = dir.path().join("spool");
    // a wakes, its call ends: a late report, written into the job's history.
    let sent = root.join("SENT/00000001.FS");
    let reported = wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&sent).is_ok_and(|t| t.contains("$late_report"))
    });
    let a_alive = {
        let mut a = a;
        let alive = a.try_wait().unwrap().is_none();
        assert!(terminate_within(a, Duration::from_secs(10)));
        alive
    };
    assert!(terminate_within(b, Duration::from_secs(10)));
    let log = std::fs::read_to_string(dir.path().join("a.log")).unwrap_or_default();
    assert!(
        reported,
        "no late report in the job: {:?}\n{log}",
        census(&root)
    );
    assert!(a_alive, "node a died: {log}");
    assert_eq!(
        jobs_in(&root.join("SENT")),
        ["00000001.FS"],
        "delivered twice"
    );
    assert!(jobs_in(&root.join("FAIL")).is_empty());
    let doc = Document::parse(&std::fs::read(&sent).unwrap(), "sent").unwrap();
    let codes: Vec<String> = doc
        .all("attempt_record")
        .map(|r| r.texts()[5].to_string())
        .collect();
    assert_eq!(codes, ["66", "0"], "records");
    let late: Vec<_> = doc.all("late_report").collect();
    assert_eq!(late.len(), 1);
    assert_eq!(late[0].texts()[2], "a");
    assert_eq!(late[0].texts()[4], "0");
    assert!(
        std::fs::read_dir(root.join("LATE"))
            .unwrap()
            .next()
            .is_none(),
        "late reports left behind"
    );
}

/// Read system calls of a process so far (`/proc/PID/io`).
fn syscr(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("syscr: "))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn a_waiting_job_is_not_read_again_and_again() {
    // One job for 2030: the node has nothing to do until then.
    let dir = scratch(CFG);
    let root = dir.path().join("spool");
    std::fs::write(
        root.join("TOSEND/00000001.FS"),
        "$fax_phone 5550100\n$fax_send_date 01/01/2030\n",
    )
    .unwrap();
    let c = start(dir.path(), "n1");
    assert!(wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(dir.path().join("n1.log"))
            .is_ok_and(|l| l.contains("spooler running"))
    }));
    // A writer renames a job in; the node reads it once.
    std::fs::write(
        dir.path().join("x.tmp"),
        "$fax_phone 5550101\n$fax_send_date 01/01/2030\n",
    )
    .unwrap();
    std::fs::rename(dir.path().join("x.tmp"), root.join("TOSEND/00000002.FS")).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let before = syscr(c.id());
    std::thread::sleep(Duration::from_secs(2));
    let reads = syscr(c.id()) - before;
    assert!(terminate_within(c, Duration::from_secs(10)));
    // Idle for 2 s: a rescan (every second here) lists three queues; it opens no job it knows.
    // Re-reading its own reads would be thousands.
    eprintln!("{reads} read calls in 2 s of idling");
    assert!(reads < 200, "{reads} read calls in 2 s of idling");
    assert_eq!(jobs_in(&root.join("TOSEND")).len(), 2);
}

/// A fresh lease of node n1 as a process on the machine "elsewhere" writes it.
fn write_foreign_lease(path: &std::path::Path) {
    let text = format!(
        "{{\"node\":\"n1\",\"pid\":4242,\"renewed\":\"{}\",\"stale_after\":30,\
         \"draining\":false,\"lines\":[],\"generation\":1,\"host\":\"elsewhere\"}}",
        chrono::Utc::now().to_rfc3339()
    );
    std::fs::write(path, text).unwrap();
}

#[test]
fn a_node_running_on_another_machine_is_not_started_twice() {
    let dir = scratch("$request_dir spool 2\n$timezone UTC\n$node_lease 1 30\n$line 1 sim\n");
    let root = dir.path().join("spool");
    std::fs::create_dir_all(root.join("ACTIVE/n1")).unwrap();
    let lease = root.join("ACTIVE/n1.lease");
    write_foreign_lease(&lease);
    // The other machine keeps renewing its lease.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let s2 = stop.clone();
    let lease2 = lease.clone();
    let renewer = std::thread::spawn(move || {
        while !s2.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(300));
            write_foreign_lease(&lease2);
        }
    });
    let mut c = start(dir.path(), "n1");
    let exited = wait_until(Duration::from_secs(20), || c.try_wait().unwrap().is_some());
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    renewer.join().unwrap();
    let log = std::fs::read_to_string(dir.path().join("n1.log")).unwrap_or_default();
    assert!(exited, "started a second n1: {log}");
    assert!(!c.wait().unwrap().success());
    assert!(log.contains("is running on elsewhere"), "{log}");
    // When the other machine's node is dead (its lease not renewed), this one starts.
    write_foreign_lease(&lease);
    let c = start(dir.path(), "n1");
    let running = wait_until(Duration::from_secs(20), || {
        std::fs::read_to_string(dir.path().join("n1.log"))
            .is_ok_and(|l| l.contains("spooler running"))
    });
    assert!(terminate_within(c, Duration::from_secs(10)));
    assert!(running);
}

#[test]
fn an_opt_out_reported_late_still_lists_the_number() {
    // Node a's call ends with 305 (the callee pressed the opt-out digit) after a lost its lease.
    let (dir, a, b) = stall_a_past_its_lease("outcomes=305@6");
    let root = dir.path().join("spool");
    let listed = wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(root.join("DNC")).is_ok_and(|t| t.contains("5550100"))
    });
    assert!(terminate_within(a, Duration::from_secs(10)));
    assert!(terminate_within(b, Duration::from_secs(10)));
    assert!(listed, "the late 305 did not list the number");
}
