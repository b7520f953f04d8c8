//! `redial cancel` of a call in progress: a real `redial run` node dials a hw-sim modem; the
//! cancel command leaves a request, the node hangs the line up (hw-sim's call log shows the DTE
//! ended the call) and settles the attempt as cancelled: the job lands in FAIL with outcome 40
//! and the operator's reason, and the node logs who cancelled it. Once while the callee lets it
//! ring, once while a fax page is being sent; before each cancel, the node has published the
//! call's live step.

mod common;

use common::spool::*;
use std::process::Command;
use std::time::Duration;

/// What a cancelled call left: the command's output, the job in FAIL, hw-sim's call log and
/// the node's log.
struct Cancelled {
    said: String,
    job: String,
    calls: String,
    log: String,
}

/// Runs a hw-sim rack with `scenario` and a node with one modem line, queues a fax of `page`
/// to 555 0400, waits until the node's AT traffic shows `marker`, cancels the job and waits for
/// the command to end.
async fn cancel_during(scenario: &str, page: &str, marker: &'static str) -> Cancelled {
    let dir = tempfile::tempdir().unwrap();
    let rack = common::hwsim::rack(&dir.path().join("rack"), 1, scenario, 1.0).await;
    let rack_dir = rack.dir.clone();
    let cfg = format!(
        "$request_dir spool 2\n$retry_delays A \"1\"\n$line 1 {} class=2.0 dial_timeout=900\n",
        rack_dir.join("ttySIM0").display()
    );
    let spool = scratch(&cfg);
    let base = spool.path().to_path_buf();
    let root = base.join("spool");
    std::fs::write(base.join("page.txt"), page).unwrap();
    std::fs::write(
        root.join("TOSEND/1.FS"),
        "$fax_phone 555 0400\n$fax_filename page.txt\n",
    )
    .unwrap();
    // AT traffic in the log (`redial::modem=trace`): the test cancels once `marker` is out.
    let node: Node = Command::new(BIN)
        .args(["run", "--cfg", "redial.cfg", "--node", "n1", "--base", "."])
        .current_dir(&base)
        .env("RUST_LOG", "info,redial::modem=trace")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(base.join("n1.log")).unwrap())
        .spawn()
        .unwrap()
        .into();
    let b = base.clone();
    let out = tokio::task::spawn_blocking(move || {
        assert!(
            wait_until(Duration::from_secs(30), || std::fs::read_to_string(
                b.join("n1.log")
            )
            .is_ok_and(|t| t.contains(marker))),
            "the call never got to {marker}: {}",
            std::fs::read_to_string(b.join("n1.log")).unwrap_or_default()
        );
        // The node publishes the call's step while it is up (`redial list` and the web page
        // show it): steps arrive between the service loop's other work and are written on a
        // timer of their own.
        let live = b.join("spool/ACTIVE/n1.calls.json");
        assert!(
            wait_until(Duration::from_secs(30), || std::fs::read_to_string(&live)
                .is_ok_and(|t| t.contains("\"job\":\"1.FS\""))),
            "no live step published: {:?}",
            std::fs::read_to_string(&live)
        );
        Command::new(BIN)
            .args([
                "cancel",
                "1",
                "--reason",
                "wrong number",
                "--spool",
                "spool",
            ])
            .args(["--wait-secs", "90"])
            .current_dir(&b)
            .env("USER", "tester")
            .env_remove("SUDO_USER")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let log = || std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
    assert!(out.status.success(), "{said}\n{}", log());
    let job = std::fs::read_to_string(root.join("FAIL/1.FS")).unwrap();
    assert!(!root.join("CANCEL/1.FS.req").exists(), "request removed");
    assert!(terminate_within(node, Duration::from_secs(20)));
    rack.stop().await;
    // hw-sim writes a call's record when the call ends.
    let calls = std::fs::read_to_string(rack_dir.join("calls.jsonl"))
        .unwrap_or_else(|e| panic!("no call log ({e}); node log:\n{}", log()));
    Cancelled {
        said,
        job,
        calls,
        log: log(),
    }
}

fn assert_cancelled(c: &Cancelled) {
    assert!(c.said.contains("in progress on node n1"), "{}", c.said);
    assert!(
        c.said.contains("call hung up, job failed as cancelled"),
        "{}",
        c.said
    );
    assert!(c.job.contains("$fax_status2 40\n"), "{}", c.job);
    assert!(
        c.job
            .contains("$fail_reason \"cancelled by tester: wrong number\"\n"),
        "{}",
        c.job
    );
    let records: Vec<&str> = c
        .job
        .lines()
        .filter(|l| l.starts_with("$attempt_record"))
        .collect();
    assert_eq!(records.len(), 1, "{}", c.job);
    let fields: Vec<&str> = records[0].split_whitespace().collect();
    assert!(
        fields.contains(&"40") && fields.contains(&"Z"),
        "the attempt is on record as cancelled (40, Z): {}",
        records[0]
    );
    assert!(c.log.contains("cancel requested by tester"), "{}", c.log);
    assert_eq!(c.calls.lines().count(), 1, "one call only: {}", c.calls);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ringing_call_is_hung_up_and_the_job_fails_as_cancelled() {
    let c = cancel_during(
        "[defaults]\nunknown = { kind = \"no-answer\", rings = 200 }\n",
        "ORDER 77\n",
        "> ATD",
    )
    .await;
    assert_cancelled(&c);
    assert!(
        c.calls.contains("\"ended_by\":\"aborted by DTE\""),
        "{}",
        c.calls
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_sending_a_page_is_hung_up_and_the_job_fails_as_cancelled() {
    // Many pages at 2400 bit/s of line time: the call is still sending when the cancel comes.
    let page = "ORDER 77\n".repeat(400);
    let c = cancel_during(
        "[defaults]\nunknown = { kind = \"fax\", rings = 1, dis = \"1,0,0,2,0,0,0,0\" }\n",
        &page,
        "> AT+FDT",
    )
    .await;
    assert_cancelled(&c);
    // The page was aborted (<DLE><CAN>), the session ended with hang-up code 2.
    assert!(
        c.calls.contains("\"ended_by\":\"DTE aborted page\""),
        "{}",
        c.calls
    );
    assert!(c.calls.contains("\"hangup_code\":\"02\""), "{}", c.calls);
}
