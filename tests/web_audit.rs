//! `redial web` logs every operator action (the audit trail): sign-ins, refused sign-ins and
//! retries, with who (address and session or bearer token), what and the outcome. The real
//! binary, real HTTP on loopback, its stderr read back.

mod common;

use common::spool::wait_until;
use common::web::http;
use std::time::Duration;

const TOKEN: &str = "audit-test-token-1234";

fn post(path: &str, headers: &str, kind: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.0\r\nHost: redial\r\n{headers}Content-Type: {kind}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn every_operator_action_is_in_the_log_with_who_what_and_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("redial.cfg"),
        format!("$request_dir spool 1\n$web_token {TOKEN}\n"),
    )
    .unwrap();
    for d in ["TOSEND", "TOSEND1", "FAIL", "SENT"] {
        std::fs::create_dir_all(root.join("spool").join(d)).unwrap();
    }
    std::fs::write(
        root.join("spool/FAIL/00000007.FS"),
        "$fax_phone 5550107\n$fax_status1 6\n$fax_status2 2\n\
         $attempt_record 03/02/2026 08:00:00 1 0 1 2 Z 0 0 0 M1 0 30 0 \"\"\n",
    )
    .unwrap();
    let log_path = root.join("web.log");
    let (web, addr) = common::web::start(root, &["--now", "2026-03-02T12:00:00Z"], Some(&log_path));

    let form = "application/x-www-form-urlencoded";
    let (st, _) = http(&addr, &post("/login", "", form, "token=wrong"));
    assert_eq!(st, 401);
    let (st, raw) = http(&addr, &post("/login", "", form, &format!("token={TOKEN}")));
    assert_eq!(st, 303, "{raw}");
    let (st, raw) = http(
        &addr,
        &post(
            "/api/retry",
            &format!("Authorization: Bearer {TOKEN}\r\n"),
            "application/json",
            r#"{"jobs":["00000007.FS"],"reason":"customer called back"}"#,
        ),
    );
    assert_eq!(st, 200, "{raw}");

    let log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert!(
        wait_until(Duration::from_secs(10), || log()
            .contains("audit: retry of")),
        "{}",
        log()
    );
    drop(web);
    let log = log();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("audit:")).collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert!(
        lines[0].contains("WARN")
            && lines[0].contains("client=127.0.0.1")
            && lines[0].contains("sign-in refused: wrong token"),
        "{}",
        lines[0]
    );
    assert!(
        lines[1].contains("who=127.0.0.1 session ") && lines[1].contains("audit: signed in"),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].contains("who=127.0.0.1 bearer token")
            && lines[2].contains("action=\"retry\"")
            && lines[2].contains("queued=1")
            && lines[2].contains("00000007.FS, reason \"customer called back\""),
        "{}",
        lines[2]
    );
    assert!(!log.contains(TOKEN), "the token is never logged:\n{log}");
    assert!(root.join("spool/TOSEND/00000007.FS").exists());
}
