//! `redial cancel` of a call in progress: a real `redial run` node dials a hw-sim modem whose
//! callee lets it ring; the cancel command leaves a request, the node hangs the line up (hw-sim's
//! call log shows the DTE ended the call) and settles the attempt as cancelled: the job lands in
//! FAIL with outcome 40 and the operator's reason, and the node logs who cancelled it.

mod common;

use common::spool::*;
use redial_sim::rack::{run, RackConfig};
use redial_sim::scenario::Scenario;
use std::process::Command;
use std::time::Duration;

const SCENARIO: &str = r#"
[defaults]
unknown = { kind = "no-answer", rings = 200 }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_in_progress_is_hung_up_and_the_job_fails_as_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let rack_dir = dir.path().join("rack");
    let config = RackConfig {
        modems: 1,
        dir: rack_dir.clone(),
        scenario: Scenario::parse(SCENARIO).unwrap(),
        time_scale: 1.0,
        bps: 0,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let rack = tokio::spawn(async move {
        run(config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap()
    });
    let ready = rack_dir.join("ready");
    assert!(
        tokio::task::spawn_blocking(move || wait_until(Duration::from_secs(20), || ready.exists()))
            .await
            .unwrap(),
        "hw-sim rack did not come up"
    );
    let cfg = format!(
        "$request_dir spool 2\n$retry_delays A \"1\"\n$line 1 {} class=2.0 dial_timeout=900\n",
        rack_dir.join("ttySIM0").display()
    );
    let spool = scratch(&cfg);
    let base = spool.path().to_path_buf();
    let root = base.join("spool");
    std::fs::write(base.join("page.txt"), "ORDER 77\n").unwrap();
    std::fs::write(
        root.join("TOSEND/1.FS"),
        "$fax_phone 555 0400\n$fax_filename page.txt\n",
    )
    .unwrap();
    // AT traffic in the log (`redial::modem=trace`): the test cancels once `ATD` is out.
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
    let active = root.join("ACTIVE/n1");
    let b = base.clone();
    let out = tokio::task::spawn_blocking(move || {
        assert!(
            wait_until(Duration::from_secs(30), || dialling_in(&active) == 1
                && std::fs::read_to_string(b.join("n1.log"))
                    .is_ok_and(|t| t.contains("> ATD"))),
            "the call never started: {}",
            std::fs::read_to_string(b.join("n1.log")).unwrap_or_default()
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
            .args(["--wait-secs", "30"])
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
    assert!(said.contains("in progress on node n1"), "{said}");
    assert!(
        said.contains("call hung up, job failed as cancelled"),
        "{said}"
    );
    let got = std::fs::read_to_string(root.join("FAIL/1.FS")).unwrap();
    assert!(got.contains("$fax_status2 40\n"), "{got}");
    assert!(
        got.contains("$fail_reason \"cancelled by tester: wrong number\"\n"),
        "{got}"
    );
    let record = got
        .lines()
        .find(|l| l.starts_with("$attempt_record"))
        .unwrap_or_else(|| panic!("no attempt record:\n{got}"));
    let fields: Vec<&str> = record.split_whitespace().collect();
    assert!(
        fields.contains(&"40") && fields.contains(&"Z"),
        "the attempt is on record as cancelled (40, Z): {record}"
    );
    assert!(!root.join("CANCEL/1.FS.req").exists(), "request removed");
    assert!(log().contains("cancel requested by tester"), "{}", log());
    assert!(terminate_within(node, Duration::from_secs(20)));
    let _ = stop.send(());
    rack.await.unwrap();
    // The modem went on hook because redial told it to (hw-sim writes its call log as the
    // rack stops): one call, ended by the DTE.
    let calls = std::fs::read_to_string(rack_dir.join("calls.jsonl"))
        .unwrap_or_else(|e| panic!("no call log ({e}); node log:\n{}", log()));
    assert_eq!(calls.lines().count(), 1, "one call only: {calls}");
    assert!(calls.contains("\"ended_by\":\"aborted by DTE\""), "{calls}");
}
