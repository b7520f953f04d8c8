//! Nothing stranded, nothing silently ignored (issue 11, item 4): unknown `$commands` in CFG,
//! USR and FS files, a `$fax_user` that does not exist, an `X`/`Y` prefix with no
//! `$param_group`, jobs for a line group no line serves, `redial run` on a spool that does not
//! exist, and `redial submit` running the daemon's intake checks.

mod common;

use chrono::{TimeZone, Utc};
use common::spool::*;
use redial::command::Document;
use redial::daemon::clock::ManualClock;
use redial::daemon::Daemon;
use redial::line::scripted::{Script, ScriptedLine};
use redial::line::{Call, Line};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn fail_status(dir: &Path, name: &str) -> (String, String) {
    let bytes = std::fs::read(dir.join(name))
        .unwrap_or_else(|e| panic!("{name} not in {}: {e}", dir.display()));
    let d = Document::parse(&bytes, name).unwrap();
    let get = |c: &str| d.last(c).map(|c| c.joined()).unwrap_or_default();
    (get("fax_status2"), get("fail_reason"))
}

/// Runs the daemon in process (virtual clock, one scripted line that always succeeds) over
/// `jobs` in TOSEND; returns the jobs the line was given.
fn run_in_process(
    cfg: &str,
    base: &Path,
    files: &[(&str, &str)],
    jobs: &[(&str, &str)],
) -> Vec<String> {
    redial::spool::store::set_durable(false);
    std::fs::write(base.join("redial.cfg"), cfg).unwrap();
    for (n, text) in files {
        std::fs::write(base.join(n), text).unwrap();
    }
    let layout = redial::spool::Layout::new(base.join("spool"), 2);
    layout.create(None).unwrap();
    for (n, text) in jobs {
        std::fs::write(layout.queue_dir(0).join(n), text).unwrap();
    }
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let s = seen.clone();
    let script: Script = Arc::new(move |c: &Call, _| {
        s.lock().unwrap().push(c.job.clone());
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

const CFG: &str = "$request_dir spool 2\n$timezone UTC\n$line 1 sim group=fax\n";

#[test]
fn fs_typos_of_document_and_destination_commands_fail_the_job_others_warn() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let seen = run_in_process(
        CFG,
        &base,
        &[("page.txt", "A page.\n")],
        &[
            ("00000001.FS", "$fax_phone 5550101\n$fax_filname page.txt\n"),
            ("00000002.FS", "$fax_phnoe 5550102\n$fax_filename page.txt\n"),
            (
                "00000003.FS",
                "$fax_phone 5550103\n$fax_filename page.txt\n$retry_mx 3\n$fax_origin user_request\n",
            ),
        ],
    );
    assert_eq!(
        seen,
        ["00000003.FS"],
        "only the job with a harmless typo is dialled"
    );
    let fail = base.join("spool/FAIL");
    let (code, reason) = fail_status(&fail, "00000001.FS");
    assert_eq!(code, "33", "{reason}");
    assert!(
        reason.ends_with(
            "00000001.FS:2: unknown FS command $fax_filname (did you mean $fax_filename?)"
        ),
        "{reason}"
    );
    let (code, reason) = fail_status(&fail, "00000002.FS");
    assert_eq!(code, "33", "{reason}");
    assert!(
        reason.ends_with("00000002.FS:1: unknown FS command $fax_phnoe (did you mean $fax_phone?)"),
        "{reason}"
    );
    assert!(base.join("spool/SENT/00000003.FS").exists());
}

#[test]
fn a_user_profile_that_does_not_exist_or_has_a_typo_fails_the_job() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    let seen = run_in_process(
        CFG,
        &base,
        &[
            ("page.txt", "A page.\n"),
            ("TYPO.USR", "; profile\n$retry_dealys B \"1\"\n"),
            ("GOOD.USR", "$retry_delays B \"1\"\n$fax_header \"ACME\"\n"),
        ],
        &[
            (
                "00000001.FS",
                "$fax_user NOPE.USR\n$fax_phone 5550101\n$fax_filename page.txt\n",
            ),
            (
                "00000002.FS",
                "$fax_user TYPO.USR\n$fax_phone 5550102\n$fax_filename page.txt\n",
            ),
            (
                "00000003.FS",
                "$fax_user GOOD.USR\n$fax_phone 5550103\n$fax_filename page.txt\n",
            ),
        ],
    );
    assert_eq!(seen, ["00000003.FS"]);
    let fail = base.join("spool/FAIL");
    let (code, reason) = fail_status(&fail, "00000001.FS");
    assert_eq!(code, "33", "{reason}");
    assert!(
        reason.contains(&format!(
            "00000001.FS:1: user profile \"NOPE.USR\" does not exist ({})",
            base.join("NOPE.USR").display()
        )),
        "{reason}"
    );
    let (code, reason) = fail_status(&fail, "00000002.FS");
    assert_eq!(code, "33", "{reason}");
    assert!(
        reason.contains(
            "TYPO.USR:2: unknown USR command $retry_dealys (did you mean $retry_delays?)"
        ),
        "{reason}"
    );
}

#[test]
fn cfg_typos_and_prefixes_without_a_param_group_are_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let load = |text: &str| {
        std::fs::write(base.join("redial.cfg"), text).unwrap();
        redial::load::SystemConfig::load(&base.join("redial.cfg"))
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    let e = load("$timezone UTC\n$retry_delay B \"1\"\n").unwrap_err();
    assert!(
        e.ends_with(
            "redial.cfg:2:1: unknown CFG command $retry_delay (did you mean $retry_delays?)"
        ),
        "{e}"
    );
    let e = load("$spool_shraed yes\n").unwrap_err();
    assert!(
        e.ends_with(
            "redial.cfg:1:1: unknown CFG command $spool_shraed (did you mean $spool_shared?)"
        ),
        "{e}"
    );
    let e = load("$retry_delays B \"1 X5 10\"\n").unwrap_err();
    assert!(e.contains("redial.cfg:1:"), "{e}");
    assert!(
        e.contains("prefix X") && e.contains("$param_group X"),
        "{e}"
    );
    load("$retry_delays B \"1 X5 10\"\n$param_group X fax_resolution standard\n").unwrap();
    let e = load("$param_group Y fax_reslution standard\n").unwrap_err();
    assert!(e.contains("did you mean $fax_resolution?"), "{e}");
    // A job's own list naming Y without a group in the CFG fails the job.
    let d = tempfile::tempdir().unwrap();
    let b = d.path().canonicalize().unwrap();
    let seen = run_in_process(
        CFG,
        &b,
        &[("page.txt", "A page.\n")],
        &[(
            "00000001.FS",
            "$fax_phone 1\n$fax_filename page.txt\n$retry_delays B \"Y1\"\n",
        )],
    );
    assert!(seen.is_empty());
    let (code, reason) = fail_status(&b.join("spool/FAIL"), "00000001.FS");
    assert_eq!(code, "33", "{reason}");
    assert!(reason.contains("$param_group Y"), "{reason}");
}

#[test]
fn reload_with_a_cfg_typo_keeps_the_old_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().canonicalize().unwrap();
    std::fs::write(base.join("redial.cfg"), CFG).unwrap();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let mut d = Daemon::new(
        Some(&base.join("redial.cfg")),
        &base,
        "n1",
        Arc::new(clock),
        Some(vec![]),
    )
    .unwrap();
    d.start().unwrap();
    std::fs::write(base.join("redial.cfg"), format!("{CFG}$shutdown_grase 5\n")).unwrap();
    let e = d.reload().unwrap_err().to_string();
    assert!(e.contains("did you mean $shutdown_grace?"), "{e}");
    // A mistyped line setting, of a sim line and of a modem line, is refused the same way.
    let lines_before = d.lines_up();
    for (line, want) in [
        (
            "$line 2 sim grup=fax",
            "unknown sim setting \"grup\" (did you mean group=?)",
        ),
        (
            "$line 3 /dev/ttyS9 flw=xonxoff",
            "unknown modem setting \"flw\" (did you mean flow=?)",
        ),
    ] {
        std::fs::write(base.join("redial.cfg"), format!("{CFG}{line}\n")).unwrap();
        let e = format!("{:#}", d.reload().unwrap_err());
        assert!(e.contains(want), "{line}: {e}");
        assert_eq!(d.lines_up(), lines_before, "{line}");
        assert!(
            !String::from_utf8_lossy(&d.system().document.to_bytes()).contains(line),
            "{line}: the new CFG was taken"
        );
    }
}

fn redial(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .output()
        .unwrap()
}

#[test]
fn jobs_for_a_group_no_line_serves_are_held_in_status() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$line 1 sim group=fax\n$line 2 sim\n$node n2 lines=2\n",
    )
    .unwrap();
    let q = base.join("spool/TOSEND");
    std::fs::create_dir_all(&q).unwrap();
    std::fs::write(q.join("1.FS"), "$fax_phone 1\n$fax_send_line fax2\n").unwrap();
    std::fs::write(q.join("2.FS"), "$fax_phone 2\n$fax_send_line 7\n").unwrap();
    std::fs::write(q.join("3.FS"), "$fax_phone 3\n$fax_send_line fax\n").unwrap();
    std::fs::write(q.join("4.FS"), "$fax_phone 4\n$fax_send_line n2\n").unwrap();
    std::fs::write(q.join("5.FS"), "$fax_phone 5\n$fax_send_line fax,~1\n").unwrap();
    let out = redial(base, &["status", "--json", "--cfg", "redial.cfg"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let q0 = &v["queues"][0];
    assert_eq!(
        (q0["due"].as_u64(), q0["unserved"].as_u64()),
        (Some(2), Some(3)),
        "{v}"
    );
    let held = v["held"].as_array().unwrap();
    let mut names: Vec<&str> = held.iter().map(|h| h["job"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["1.FS", "2.FS", "5.FS"]);
    let one = held.iter().find(|h| h["job"] == "1.FS").unwrap();
    assert!(
        one["reason"]
            .as_str()
            .unwrap()
            .contains("$fax_send_line fax2 matches no configured line"),
        "{v}"
    );
    let out = redial(base, &["status", "--cfg", "redial.cfg"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HELD"), "{text}");
    assert!(
        text.contains("1.FS") && text.contains("matches no configured line"),
        "{text}"
    );
    let out = redial(base, &["report", "5.FS", "--cfg", "redial.cfg"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains(
            "HELD: $fax_send_line fax,~1 matches no configured line on any node (lines 1,2)"
        ),
        "{text}"
    );
    let out = redial(base, &["report", "3.FS", "--cfg", "redial.cfg", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("held").is_none(), "{v}");
}

/// `redial status` on a spool whose line 1 is a modem and line 2 `line2`, holding four jobs:
/// `job` (no line selected), `job` selecting line 1, a fax selecting line 2 and a plain fax.
/// Asserts that exactly the second and third are held; their reasons.
fn held_with_line_2(line2: &str, job: &str) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        format!("$request_dir spool 1\n$line 1 /dev/ttyS9\n$line 2 {line2}\n"),
    )
    .unwrap();
    let q = base.join("spool/TOSEND");
    std::fs::create_dir_all(&q).unwrap();
    std::fs::write(q.join("1.FS"), job).unwrap();
    std::fs::write(q.join("2.FS"), format!("{job}$fax_send_line 1\n")).unwrap();
    std::fs::write(q.join("3.FS"), "$fax_phone 3\n$fax_send_line 2\n").unwrap();
    std::fs::write(q.join("4.FS"), "$fax_phone 4\n").unwrap();
    let out = redial(base, &["status", "--json", "--cfg", "redial.cfg"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let held = v["held"].as_array().unwrap();
    let mut names: Vec<&str> = held.iter().map(|h| h["job"].as_str().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["2.FS", "3.FS"], "{v}");
    let reason = |job: &str| {
        held.iter().find(|h| h["job"] == job).unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    (reason("2.FS"), reason("3.FS"))
}

#[test]
fn e_mail_jobs_without_an_e_mail_line_and_calls_for_one_are_held() {
    let (two, three) = held_with_line_2(
        "smtp relay=127.0.0.1:25 tls=none",
        "$email_address a@example.org\n",
    );
    assert!(two.contains("no e-mail line on any node"), "{two}");
    assert!(
        three.contains("selects only e-mail lines (2), which place no calls"),
        "{three}"
    );
}

#[test]
fn sms_jobs_without_an_sms_line_and_calls_for_one_are_held() {
    let (two, three) = held_with_line_2(
        "sms_http url=http://127.0.0.1:9/send",
        "$sms_phone 2\n$sms_text hi\n",
    );
    assert!(two.contains("no SMS line on any node"), "{two}");
    assert!(three.contains("matches no configured line"), "{three}");
}

#[test]
fn run_refuses_a_missing_spool_and_logs_what_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$timezone UTC\n",
    )
    .unwrap();
    let out = redial(
        base,
        &["run", "--cfg", "redial.cfg", "--node", "n1", "--base", "."],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!(
            "{} does not exist",
            base.canonicalize().unwrap().join("spool").display()
        )) && err.contains("--create"),
        "{err}"
    );
    assert!(!base.join("spool").exists(), "nothing created");
    for cmd in [
        &["status"][..],
        &["report", "1.FS"],
        &["retry", "--dry-run"],
    ] {
        let mut args = cmd.to_vec();
        args.extend(["--cfg", "redial.cfg"]);
        let out = redial(base, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("does not exist"), "{args:?}: {err}");
    }
    let out = redial(base, &["status", "--spool", "/nonexistent/spool"]);
    assert_eq!(out.status.code(), Some(2));

    // With --create: it starts, says where and with which lines, and warns it cannot dial;
    // an FS typo is logged with file, line and suggestion.
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$timezone UTC\n$shutdown_grace 1\n$line 1 sim outcomes=0@0.1 group=fax\n",
    )
    .unwrap();
    let node = start_creating(base, "n1");
    let q = base.join("spool/TOSEND");
    assert!(wait_until(Duration::from_secs(20), || base
        .join("spool/ACTIVE/n1.lease")
        .exists()));
    for (n, text) in [
        ("1.FS", "$fax_phone 1\n$retry_mx 3\n"),
        ("2.FS", "$fax_phone 2\n$fax_send_line fax2\n"),
    ] {
        // Written elsewhere and renamed in, as writers must.
        std::fs::write(base.join(n), text).unwrap();
        std::fs::rename(base.join(n), q.join(n)).unwrap();
    }
    let log = || std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
    let ok = wait_until(Duration::from_secs(20), || {
        log().contains("did you mean $retry_max?") && log().contains("fax2")
    });
    assert!(terminate_within(node, Duration::from_secs(10)));
    let log = log();
    assert!(ok, "{log}");
    let spool = base.canonicalize().unwrap().join("spool");
    assert!(log.contains(&spool.display().to_string()), "{log}");
    assert!(
        log.contains("1.FS:2: unknown FS command $retry_mx"),
        "{log}"
    );
    assert!(log.contains("no configured line"), "{log}");
}

#[test]
fn run_warns_of_no_lines_and_of_a_header_field_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$fax_header \"%D|Page %p\"\n",
    )
    .unwrap();
    // A job's own header is looked at when the job is read.
    std::fs::create_dir_all(base.join("spool/TOSEND")).unwrap();
    std::fs::write(
        base.join("spool/TOSEND/1.FS"),
        "$fax_phone 5550100\n$fax_header \"%q\"\n",
    )
    .unwrap();
    // And a profile's, when a job names it.
    std::fs::write(base.join("HDR.USR"), "$fax_header \"%d %Q\"\n").unwrap();
    std::fs::write(
        base.join("spool/TOSEND/2.FS"),
        "$fax_phone 5550101\n$fax_user HDR.USR\n",
    )
    .unwrap();
    let node = start_creating(base, "n1");
    let log = || std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
    let ok = wait_until(Duration::from_secs(20), || {
        log().contains("spooler running")
    });
    assert!(terminate_within(node, Duration::from_secs(10)));
    assert!(ok && log().contains("no line"), "{}", log());
    assert!(
        log().contains("redial.cfg:2: $fax_header: %D is not a header field"),
        "{}",
        log()
    );
    assert!(
        log().contains("1.FS:2: $fax_header: %q is not a header field"),
        "{}",
        log()
    );
    let usr = "HDR.USR:1: $fax_header: %Q is not a header field";
    assert_eq!(log().matches(usr).count(), 1, "{}", log());
}

#[test]
fn submit_runs_the_intake_checks_and_writes_nothing_when_they_fail() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$line 1 sim\n",
    )
    .unwrap();
    std::fs::create_dir_all(base.join("spool/TOSEND")).unwrap();
    std::fs::write(base.join("page.txt"), "A page.\n").unwrap();
    std::fs::write(base.join("doc.pdf"), "%PDF-1.4\n%âãÏÓ\n1 0 obj\n").unwrap();
    std::fs::write(
        base.join("HDR.USR"),
        "$retry_max 2\n$fax_header \"%D %t|Page %p\"\n",
    )
    .unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--fax",
                "555 0100",
                "--file",
                "page.txt",
                "--set",
                "$retry_mx 3",
            ],
            "did you mean $retry_max?",
        ),
        (&["--fax", "abc;ATH", "--file", "page.txt"], "abc;ATH"),
        (&["--file", "page.txt"], "no destination"),
        (
            &["--fax", "555 0100", "--file", "missing.tif"],
            "missing.tif",
        ),
        (&["--fax", "555 0100", "--file", "doc.pdf"], "doc.pdf"),
        (
            &[
                "--fax", "555 0100", "--file", "page.txt", "--user", "NOPE.USR",
            ],
            "NOPE.USR",
        ),
        (
            &["--fax", "555 0100", "--file", "/etc/passwd"],
            "outside the document roots",
        ),
        (
            &[
                "--fax",
                "555 0100",
                "--file",
                "page.txt",
                "--set",
                "$fax_header \"%D %t|Page %p of %q\"",
            ],
            "%D is not a header field, it would be printed as written (did you mean %d, the date?)",
        ),
        (
            &[
                "--fax", "555 0100", "--file", "page.txt", "--user", "HDR.USR",
            ],
            "HDR.USR:2: $fax_header: %D is not a header field",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["submit", "--cfg", "redial.cfg"];
        args.extend(*flags);
        let out = redial(base, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flags:?}: {err}");
        assert!(err.contains(want), "{flags:?}: {err}");
        assert!(
            jobs_in(&base.join("spool/TOSEND")).is_empty(),
            "{flags:?} wrote a job"
        );
        assert!(
            !base.join("spool/TOSEND/NEXTFS").exists(),
            "{flags:?} took a number"
        );
    }
    let out = redial(
        base,
        &[
            "submit",
            "--cfg",
            "redial.cfg",
            "--fax",
            "(555) 010-0100",
            "--file",
            "page.txt",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(jobs_in(&base.join("spool/TOSEND")), ["00000001.FS"]);
}

#[test]
fn explain_reads_profiles_with_the_same_rules() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("TYPO.USR"), "$retry_max 2\n$callbak 3 1 5\n").unwrap();
    std::fs::write(d.join("a.FS"), "$fax_user TYPO.USR\n$fax_phone 1\n").unwrap();
    std::fs::write(d.join("b.FS"), "$fax_user NOPE.USR\n$fax_phone 1\n").unwrap();
    let cfg = redial::load::SystemConfig::builtin();
    let e = redial::load::load_job(&d.join("a.FS"), &cfg, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("TYPO.USR:2:1: unknown USR command $callbak (did you mean $callback?)"),
        "{e}"
    );
    let e = redial::load::load_job(&d.join("b.FS"), &cfg, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("b.FS:1:") && e.contains("user profile \"NOPE.USR\" does not exist"),
        "{e}"
    );
}

#[test]
fn a_profile_edited_while_the_node_runs_is_read_again() {
    // A running node has read HDR.USR for job 1; the operator then edits it. Job 2 gets the
    // profile as it is now: its new header's field that is none is named (%Q, after %q).
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(base.join("redial.cfg"), "$request_dir spool 1\n").unwrap();
    std::fs::create_dir_all(base.join("spool/TOSEND")).unwrap();
    std::fs::write(base.join("HDR.USR"), "$fax_header \"%d %q|Page %p\"\n").unwrap();
    let job = "$fax_phone 5550101\n$fax_user HDR.USR\n";
    std::fs::write(base.join("spool/TOSEND/1.FS"), job).unwrap();
    let node = start(base, "n1");
    let log = || std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
    // The profile as first read (its header names %q).
    let read = wait_until(Duration::from_secs(20), || {
        log().contains("HDR.USR:1: $fax_header: %q is not a header field")
    });
    // (Its size changes too: the stamp does not rest on the clock's tick alone.)
    std::fs::write(base.join("HDR.USR"), "$fax_header \"%d %t %Q|Page %p\"\n").unwrap();
    std::fs::write(base.join("spool/TOSEND/2.FS"), job).unwrap();
    let named = wait_until(Duration::from_secs(20), || {
        log().contains("HDR.USR:1: $fax_header: %Q is not a header field")
    });
    assert!(terminate_within(node, Duration::from_secs(10)));
    assert!(read && named, "{}", log());
}
