//! A session log per attempt (HylaFAX's `log/cNNNN`): a real `redial run` node sends a fax
//! through a hw-sim Class 2.0 modem; the attempt's log under `LOG/` shows the AT exchange, the
//! negotiation, each page and the result, and `redial report JOB --log N` prints it.

mod common;

use common::spool::*;
use std::process::Command;
use std::time::Duration;

const TOKEN: &str = "session-log-test-token";

/// GET `path` from `redial web` at `addr` with the token: status and body.
fn get(addr: &str, path: &str) -> (u16, String) {
    common::web::get(addr, path, TOKEN)
}

const SCENARIO: &str = r#"
[defaults]
unknown = { kind = "no-answer", rings = 1 }

[[number]]
number = "5550100"
outcome = { kind = "fax", rings = 1, csi = "SESSION LOG" }

[[number]]
number = "5550199"
outcome = { kind = "busy" }
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_2_0_call_through_hw_sim_leaves_a_session_log_report_prints() {
    let dir = tempfile::tempdir().unwrap();
    let rack = common::hwsim::rack(&dir.path().join("rack"), 1, SCENARIO, 0.05).await;
    let cfg = format!(
        "$request_dir spool 2\n$retry_delays B \"1S\"\n$line 1 {} class=2.0\n$web_token {TOKEN}\n",
        rack.tty(0).display()
    );
    let spool = scratch(&cfg);
    let base = spool.path().to_path_buf();
    std::fs::write(base.join("page.txt"), "Page one.\n\x0cPage two.\n").unwrap();
    // First the busy number (its log shows the BUSY), then the real one.
    std::fs::write(
        base.join("spool/TOSEND/1.FS"),
        "$fax_phone 5550199\n$alternate_phone 5550100\n$fax_filename page.txt\n\
         $retry_delays B \"A1S\"\n",
    )
    .unwrap();
    let node = start(&base, "n1");
    let b = base.clone();
    let sent = tokio::task::spawn_blocking(move || {
        wait_until(Duration::from_secs(60), || {
            b.join("spool/SENT/1.FS").exists()
        })
    })
    .await
    .unwrap();
    let log_text = std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
    assert!(sent, "not sent:\n{log_text}");
    assert!(terminate_within(node, Duration::from_secs(20)));
    rack.stop().await;

    let first = std::fs::read_to_string(base.join("spool/LOG/1.1.log")).unwrap();
    assert!(
        first
            .lines()
            .next()
            .unwrap()
            .contains("job 1.FS attempt 1: fax to 5550199"),
        "{first}"
    );
    assert!(first.contains("> ATD") && first.contains("BUSY"), "{first}");
    let second = std::fs::read_to_string(base.join("spool/LOG/1.2.log")).unwrap();
    for (what, needle) in [
        ("class", "> AT+FCLASS=2.0\\r"),
        ("dial", "> ATDT5550100"),
        ("remote id", "+FCI:\\\"SESSION LOG\\\""),
        ("page data", "bytes of page data]"),
        ("negotiated", "+FCS:"),
        ("connection", "- fax connection up"),
        ("page 1", "- page 1 confirmed"),
        ("page 2", "- page 2 confirmed"),
        ("hang-up", "+FHS:"),
        ("result", "- result: outcome 0"),
    ] {
        assert!(
            second.contains(needle),
            "{what}: {needle:?} missing in\n{second}"
        );
    }
    // Lines are in time order.
    let times: Vec<f64> = second
        .lines()
        .filter_map(|l| l.split_whitespace().next()?.parse().ok())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{second}");

    let out = Command::new(BIN)
        .args([
            "report",
            "1.FS",
            "--log",
            "2",
            "--cfg",
            "redial.cfg",
            "--base",
            ".",
        ])
        .current_dir(&base)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), second);
    let out = Command::new(BIN)
        .args([
            "report",
            "1.FS",
            "--log",
            "5",
            "--cfg",
            "redial.cfg",
            "--base",
            ".",
        ])
        .current_dir(&base)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no session log for attempt 5") && err.contains("attempts 1, 2"),
        "{err}"
    );

    // The web job page links each attempt's log; the link serves it.
    let (_web, addr) = common::web::start(&base, &[], None);
    let (st, page) = get(&addr, "/job/1.FS");
    assert_eq!(st, 200, "{page}");
    for n in [1, 2] {
        assert!(
            page.contains(&format!("href=\"/job/1.FS/log/{n}\"")),
            "{page}"
        );
    }
    assert_eq!(get(&addr, "/job/1.FS/log/2"), (200, second.clone()));
    assert_eq!(get(&addr, "/job/1.FS/log/9").0, 404);
    assert_eq!(get(&addr, "/job/..%2F..%2Fredial.cfg/log/1").0, 404);
}
