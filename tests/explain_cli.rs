//! The `redial explain` contract, driven through the real binary.

use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::Path;

fn explain(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(assert_cmd::cargo::cargo_bin!("redial"))
        .arg("explain")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn json(stdout: &str) -> Value {
    assert_eq!(stdout.lines().count(), 1, "exactly one line: {stdout:?}");
    serde_json::from_str(stdout).unwrap()
}

fn write(dir: &Path, rel: &str, text: &str) -> String {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn retry_line_has_every_field_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "redial.cfg",
        "$retry_delays B \"2 2 30\"\n$retry_max 5\n",
    );
    let fs = write(
        dir.path(),
        "spool/TOSEND3/00000042.FS",
        "$fax_phone 555 0100\n$attempt_record 03/02/2026 14:00:00 1 0 1 2 B 0 3 0 M1 0 30 0 \"\"\n",
    );
    let (code, out, err) = explain(&[
        &fs,
        "--cfg",
        &cfg,
        "--now",
        "2026-03-02T14:03:00Z",
        "--class",
        "B",
    ]);
    assert_eq!(code, 0, "{err}");
    let keys: Vec<&str> = [
        "action",
        "at",
        "class",
        "entry",
        "tosend",
        "linegroup",
        "prefixes",
        "reason",
    ]
    .to_vec();
    let positions: Vec<usize> = keys
        .iter()
        .map(|k| out.find(&format!("\"{k}\":")).unwrap())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "keys out of order: {out}"
    );
    let v = json(&out);
    assert_eq!(v.as_object().unwrap().len(), keys.len());
    assert_eq!(v["action"], "retry");
    assert_eq!(v["at"], "2026-03-02T14:05:00Z");
    assert_eq!(v["class"], "B");
    assert_eq!(v["entry"], 2);
    assert_eq!(v["tosend"], 3, "the TOSEND folder holding the file");
    assert_eq!(v["linegroup"], Value::Null);
    assert_eq!(v["prefixes"], "");
    assert!(v["reason"].as_str().unwrap().contains("entry 2 of 3"));
}

#[test]
fn outcome_codes_use_the_table_and_usr_from_fax_user() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "jobs/ACME.USR",
        "$retry_delays A \"QG7\"\n$retry_linegroup *,~0\n",
    );
    let fs = write(
        dir.path(),
        "jobs/1.FS",
        "$fax_user ACME.USR\n$fax_phone 1\n$fax_tosend 2\n$fax_status1 3 4\n",
    );
    let (code, out, err) = explain(&[&fs, "--now", "2026-03-02T10:00:00+01:00", "--outcome", "1"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(
        (v["action"].as_str(), v["at"].as_str()),
        (Some("retry"), Some("2026-03-02T09:07:00Z"))
    );
    assert_eq!(v["class"], "A");
    assert_eq!(v["tosend"], 3, "$fax_tosend 2, then Q");
    assert_eq!(v["linegroup"], "*,~4");
    assert_eq!(v["prefixes"], "GQ");
    assert!(v["reason"].as_str().unwrap().contains("no answer"));
    // --usr wins over $fax_user.
    let other = write(dir.path(), "OTHER.USR", "$retry_delays A \"\"\n");
    let (_, out, _) = explain(&[
        &fs,
        "--usr",
        &other,
        "--now",
        "2026-03-02T10:00:00Z",
        "--outcome",
        "1",
    ]);
    let v = json(&out);
    assert_eq!(
        (v["action"].as_str(), v["at"].clone(), v["entry"].clone()),
        (Some("fail"), Value::Null, Value::Null)
    );
}

#[test]
fn done_fail_and_class_i() {
    let dir = tempfile::tempdir().unwrap();
    let fs = write(dir.path(), "TOSEND/7.FS", "$fax_phone 1\n");
    let (_, out, _) = explain(&[&fs, "--outcome", "0", "--now", "2026-03-02T10:00:00Z"]);
    assert_eq!(json(&out)["action"], "done");
    let (_, out, _) = explain(&[&fs, "--outcome", "7", "--now", "2026-03-02T10:00:00Z"]);
    let v = json(&out);
    assert_eq!(
        (v["action"].as_str(), v["class"].as_str()),
        (Some("fail"), Some("Z"))
    );
    let (_, out, _) = explain(&[&fs, "--class", "I", "--now", "2026-03-02T10:00:00Z"]);
    let v = json(&out);
    assert_eq!(
        (v["at"].as_str(), v["entry"].clone()),
        (Some("2026-03-02T10:01:00Z"), Value::Null)
    );
}

#[test]
fn invalid_input_exits_2_with_the_place_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "TOSEND/8.FS",
        "$fax_phone 1\n$retry_delays B \"2 2x\"\n",
    );
    let (code, out, err) = explain(&[&bad, "--class", "B"]);
    assert_eq!((code, out.as_str()), (2, ""));
    assert!(err.contains("8.FS:2:") && err.contains("\"2x\""), "{err}");
    let (code, _, err) = explain(&["/nonexistent/9.FS", "--class", "B"]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read /nonexistent/9.FS"), "{err}");
    let ok = write(dir.path(), "TOSEND/9.FS", "$fax_phone 1\n");
    let (code, _, err) = explain(&[&ok, "--class", "B", "--now", "yesterday"]);
    assert_eq!(code, 2);
    assert!(err.contains("RFC 3339"), "{err}");
    assert_eq!(explain(&[&ok, "--class", "P"]).0, 2);
    assert_eq!(explain(&[&ok]).0, 2, "--class or --outcome is required");
    let cfg = write(dir.path(), "x.cfg", "$retry_max 1 2 3\n");
    let (code, _, err) = explain(&[&ok, "--class", "B", "--cfg", &cfg]);
    assert_eq!(code, 2);
    assert!(err.contains("x.cfg:1:"), "{err}");
}

#[test]
fn help_documents_the_contract() {
    let out = Command::new(assert_cmd::cargo::cargo_bin!("redial"))
        .args(["explain", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for needle in [
        "--cfg",
        "--usr",
        "--now",
        "--class",
        "--outcome",
        "\"action\"",
        "Exit status",
    ] {
        assert!(text.contains(needle), "help lacks {needle}");
    }
}

#[test]
fn sample_spool_files_are_explained() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fs = root.join("spool/TOSEND1/00000003.FS");
    let cfg = root.join("conf/redial.cfg");
    let (code, out, err) = explain(&[
        fs.to_str().unwrap(),
        "--cfg",
        cfg.to_str().unwrap(),
        "--now",
        "2026-03-02T10:06:00Z",
        "--outcome",
        "1",
    ]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(
        (v["entry"].as_i64(), v["tosend"].as_i64()),
        (Some(3), Some(1))
    );
}

#[test]
fn line_option_and_the_next_attempt_of_a_queued_job() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "redial.cfg",
        "$timezone UTC\n$retry_delays B \"1\"\n$retry_delays 7 B \"5\"\n\
         $line 8 sim group=slow\n$line 9 sim \"group=slow,night\"\n$retry_delays slow B \"10\"\n\
         $pause_window \"*\" 12:00 13:00\n",
    );
    let fs = write(dir.path(), "1.FS", "$fax_phone 1\n$fax_send_line fax\n");
    let at = |args: &[&str]| {
        let mut all = vec![fs.as_str(), "--cfg", cfg.as_str()];
        all.extend_from_slice(args);
        let (code, out, err) = explain(&all);
        assert_eq!(code, 0, "{err}");
        json(&out)
    };
    // A list tied to line 7 is predicted only when the attempt is on line 7.
    let v = at(&["--now", "2026-03-02T09:00:05Z", "--outcome", "2"]);
    assert_eq!(v["at"], "2026-03-02T09:01:05Z");
    let v = at(&[
        "--now",
        "2026-03-02T09:00:05Z",
        "--outcome",
        "2",
        "--line",
        "7",
    ]);
    assert_eq!(v["at"], "2026-03-02T09:05:05Z");
    // Or on any line of a group: the group's lists.
    let v = at(&[
        "--now",
        "2026-03-02T09:00:05Z",
        "--outcome",
        "2",
        "--linegroup",
        "slow",
    ]);
    assert_eq!(v["at"], "2026-03-02T09:10:05Z", "{v}");
    let (code, _, err) = explain(&[
        &fs,
        "--cfg",
        &cfg,
        "--now",
        "2026-03-02T09:00:05Z",
        "--outcome",
        "2",
        "--linegroup",
        "nosuch",
    ]);
    assert_eq!(code, 2, "{err}");
    // No outcome: when the queued job starts next, and what holds it.
    let v = at(&["--now", "2026-03-02T09:00:00Z", "--next"]);
    assert_eq!(
        (
            v["action"].as_str(),
            v["standing"].as_str(),
            v["at"].as_str()
        ),
        (Some("next"), Some("due"), Some("2026-03-02T09:00:00Z"))
    );
    assert_eq!(v["linegroup"], "fax");
    let v = at(&["--now", "2026-03-02T12:30:00Z", "--next"]);
    assert_eq!(
        (v["standing"].as_str(), v["at"].as_str()),
        (Some("held"), Some("2026-03-02T13:00:00Z")),
        "{v}"
    );
    assert!(v["reason"].as_str().unwrap().contains("pause window"));
}

#[test]
fn a_scheduled_list_retries_at_its_instants() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(dir.path(), "redial.cfg", "$timezone UTC\n");
    let job = |records: &str| {
        write(
            dir.path(),
            "1.FS",
            &format!(
                "$fax_phone 1\n$retry_delays B \"@2026-03-03T14:00 @2026-03-04T10:00\"\n{records}"
            ),
        )
    };
    let ask = |fs: &str, now: &str| {
        let (code, out, err) = explain(&[fs, "--cfg", &cfg, "--now", now, "--outcome", "2"]);
        assert_eq!(code, 0, "{err}");
        json(&out)
    };
    let fs = job("");
    let v = ask(&fs, "2026-03-02T10:00:00Z");
    assert_eq!(
        (v["action"].as_str(), v["at"].as_str()),
        (Some("retry"), Some("2026-03-03T14:00:00Z"))
    );
    let fs = job("$attempt_record 03/02/2026 10:00:00 1 0 1 2 B 0 0 0 S1 0 5 0 \"\"\n");
    let v = ask(&fs, "2026-03-03T14:00:30Z");
    assert_eq!(v["at"], "2026-03-04T10:00:00Z", "{v}");
    // An instant already past when the attempt ended: at once.
    let v = ask(&fs, "2026-03-04T11:00:00Z");
    assert_eq!(v["at"], "2026-03-04T11:00:00Z", "{v}");
    let fs = job(
        "$attempt_record 03/02/2026 10:00:00 1 0 1 2 B 0 0 0 S1 0 5 0 \"\"\n\
         $attempt_record 03/03/2026 14:00:00 1 0 1 2 B 0 0 0 S1 0 5 0 \"\"\n",
    );
    let v = ask(&fs, "2026-03-04T10:00:30Z");
    assert_eq!(v["action"], "fail", "the schedule is used up: {v}");
}

/// An e-mail or SMS retry says what its prefix letters change: `E` the address it goes to, `I`
/// the fallback relay, `P` the price it goes at (one point lower on the job's `$sms_price`); the
/// JSON keys stay the contract's. A queued SMS that waits for its delivery report is not due at
/// its deadline like a retry: `--next` says it waits for the report and is never resent.
#[test]
fn email_and_sms_retries_say_what_their_prefixes_change() {
    let dir = tempfile::tempdir().unwrap();
    let mail = write(
        dir.path(),
        "spool/TOSEND/00000007.FS",
        "$email_address buyer@example.com\n$email_alt_address orders@example.com\n\
         $email_retry_delays B \"I10 E10\"\n\
         $attempt_record 03/02/2026 14:00:00 3 0 1 2450 B 0 0 0 E9 0 0 0 \"450 4.2.0 busy\"\n",
    );
    let (code, out, err) = explain(&[&mail, "--now", "2026-03-02T14:01:00Z", "--outcome", "2450"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v.as_object().unwrap().len(), 8, "{v}");
    assert_eq!(v["prefixes"], "E", "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("the retry goes to orders@example.com ($email_alt_address)"),
        "{reason}"
    );

    let sms = write(
        dir.path(),
        "spool/TOSEND/00000008.FS",
        "$sms_phone +447700900123\n$sms_text hello\n$sms_price \"10.00 5.00 4.50\"\n\
         $retry_delays J \"P1440 P1440\"\n\
         $attempt_record 03/02/2026 14:00:00 4 0 1 401 J 0 0 0 G7 0 0 0 \"id=1.00000008.FS price=10.00 status=NO_CREDIT\"\n",
    );
    let (code, out, err) = explain(&[&sms, "--now", "2026-03-02T14:01:00Z", "--outcome", "401"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v.as_object().unwrap().len(), 8, "{v}");
    assert_eq!(v["prefixes"], "P", "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("the retry goes at price 5.00 (point 2 of $sms_price \"10.00 5.00 4.50\")"),
        "{reason}"
    );
    // Waiting for a report: not "waiting for its retry time".
    let waiting = write(
        dir.path(),
        "spool/TOSEND/00000009.FS",
        "$sms_phone +447700900123\n$sms_text hello\n\
         $sms_pending 1.00000009.FS 2026-03-02T14:00:00Z 2026-03-04T14:00:00Z 10.00 7\n\
         $fax_status2 410\n$fax_next_date 03/04/2026\n$fax_next_time 14:00:00\n",
    );
    let (code, out, err) = explain(&[&waiting, "--now", "2026-03-02T15:00:00Z", "--next"]);
    assert_eq!(code, 0, "{err}");
    let v = json(&out);
    assert_eq!(v["standing"], "waiting_report", "{v}");
    assert_eq!(v["at"], "2026-03-04T14:00:00Z", "{v}");
    let reason = v["reason"].as_str().unwrap();
    assert!(
        reason.contains("1.00000009.FS") && reason.contains("never resent"),
        "{reason}"
    );
}

/// A mistyped command is never silently ignored: the decision is printed as before (the
/// contract), and stderr names file, line, the command and what it probably meant; a typo the
/// daemon fails the job for (a destination or document command) says so.
#[test]
fn typos_in_the_job_are_warned_about_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let fs_file = write(
        dir.path(),
        "q/TOSEND/1.FS",
        "$fax_phone 5551234\n$retry_delay B \"5\"\n$fax_filname page.tif\n",
    );
    let (code, out, err) = explain(&["--class", "B", &fs_file]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["action"], "retry");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("warning: ")
            && lines[0].contains("1.FS:2:")
            && lines[0].contains("$retry_delay")
            && lines[0].contains("did you mean $retry_delays?")
            && lines[0].contains("ignored"),
        "{err}"
    );
    assert!(
        lines[1].contains("1.FS:3:")
            && lines[1].contains("did you mean $fax_filename?")
            && lines[1].contains("fails the job"),
        "{err}"
    );
    // A clean job says nothing on stderr.
    let clean = write(dir.path(), "q/TOSEND/2.FS", "$fax_phone 5551234\n");
    let (code, _, err) = explain(&["--class", "B", &clean]);
    assert_eq!((code, err.as_str()), (0, ""));
}
