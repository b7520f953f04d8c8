//! SMS gateway lines end to end: a real `redial run` node posts SMS jobs to a gateway the test
//! starts (a small axum server that records every request and, as a scenario says per number,
//! posts delivery reports back to a real `redial web` process, retrying while the web answers
//! that no job waits for the id yet, as gateways do). Covers: delivered; NO_CREDIT twice, then
//! delivered, each retry at the next price point with the retry marker and `reply=0`; REJECTED
//! failing at once; ACKNOWLEDGED then DELIVERED after the node is killed and started again, never resent while
//! it waits; ACKNOWLEDGED with no final report (the timeout outcome); a report with a wrong
//! secret (403, nothing changes) and one for an unknown id (404, logged).

mod common;

use common::spool::{jobs_in, scratch, start, terminate_within, wait_until, BIN};
use redial::command::Document;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SECRET: &str = "dlr-secret-4711";

/// Every request the gateway took: its form fields, in order.
type Seen = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// The gateway: answers 200 to every submission and then posts the scenario's next status for
/// that number (if any) to `/dlr/SECRET` on the web.
fn gateway(web: u16, script: HashMap<String, Vec<&'static str>>) -> (u16, Seen) {
    let seen: Seen = Arc::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let (seen2, script) = (seen.clone(), Arc::new(Mutex::new(script)));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let app = axum::Router::new().route(
                "/send",
                axum::routing::post(move |axum::Form(f): axum::Form<HashMap<String, String>>| {
                    let (seen, script) = (seen2.clone(), script.clone());
                    async move {
                        seen.lock().unwrap().push(f.clone());
                        let next = {
                            let mut s = script.lock().unwrap();
                            s.get_mut(&f["to"])
                                .and_then(|v| (!v.is_empty()).then(|| v.remove(0)))
                        };
                        if let Some(status) = next {
                            let id = f["id"].clone();
                            tokio::task::spawn_blocking(move || {
                                report_until_taken(web, &id, status)
                            });
                        }
                        "OK"
                    }
                }),
            );
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    (port, seen)
}

/// One `POST /dlr/{secret}` to the web: the status code and body.
fn post_report(web: u16, secret: &str, id: &str, status: &str) -> (u16, String) {
    let body = format!("id={id}&status={status}");
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", web)) else {
        return (0, String::new());
    };
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // A refused huge body may close the connection before it is all written: the answer
    // still counts.
    let _ = write!(
        s,
        "POST /dlr/{secret} HTTP/1.0\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let code = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (code, raw.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

/// Posts a report until the web takes it (a gateway retries its callbacks): the job may not
/// wait for it yet when the gateway is quick.
fn report_until_taken(web: u16, id: &str, status: &str) {
    let ok = wait_until(Duration::from_secs(60), || {
        post_report(web, SECRET, id, status).0 == 200
    });
    assert!(ok, "the web never took {status} for {id}");
}

/// `(outcome, class, boardline, answerback)` of every attempt record, each an SMS (type 4).
fn records(path: &Path) -> Vec<(String, String, String, String)> {
    let d = Document::parse(&std::fs::read(path).unwrap(), "job").unwrap();
    d.all("attempt_record")
        .map(|c| {
            let a = |i: usize| c.arg(i).unwrap_or("").to_string();
            assert_eq!(a(2), "4", "an SMS attempt: {:?}", c.texts());
            (a(5), a(6), a(10), a(14))
        })
        .collect()
}

/// The `$sms_pending` id of a queued job, when it waits.
fn pending(path: &Path) -> Option<String> {
    let d = Document::parse(&std::fs::read(path).ok()?, "job").ok()?;
    d.last("sms_pending")
        .and_then(|c| c.arg(0).map(str::to_string))
}

fn sent_to(seen: &Seen, number: &str) -> Vec<HashMap<String, String>> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|f| f["to"] == number)
        .cloned()
        .collect()
}

#[test]
fn sms_jobs_through_an_http_gateway_with_delivery_reports() {
    let web = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script: HashMap<String, Vec<&str>> = [
        ("5550001", vec!["DELIVERED"]),
        ("5550002", vec!["NO_CREDIT", "NO_CREDIT", "DELIVERED"]),
        ("5550003", vec!["REJECTED"]),
        ("5550004", vec!["ACKNOWLEDGED"]),
        ("5550005", vec!["ACKNOWLEDGED"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let (gw, seen) = gateway(web, script);
    let cfg = format!(
        "$request_dir spool 2\n$timezone UTC\n$node_lease 1 5\n$web_token web-token-4711\n\
         $sms_dlr_secret {SECRET}\n\
         $line 1 sms_http url=http://127.0.0.1:{gw}/send sender=ACME timeout=10\n"
    );
    let d = scratch(&cfg);
    let root = d.path();
    let q = root.join("spool/TOSEND");
    let job = |name: &str, number: &str, extra: &str| {
        std::fs::write(
            q.join(name),
            format!("$sms_phone {number}\n$sms_text \"Your code is 4711\"\n{extra}"),
        )
        .unwrap();
    };
    job("ok.FS", "5550001", "");
    job(
        "credit.FS",
        "5550002",
        "$sms_price \"10.00 5.00 4.50\"\n$retry_delays J \"P1S P1S\"\n",
    );
    job("rejected.FS", "5550003", "");
    job("ack.FS", "5550004", "");
    job("silent.FS", "5550005", "$sms_report_timeout 3\n");

    let web_log = std::fs::File::create(root.join("web.log")).unwrap();
    let mut web_proc = common::spool::Node::from(
        Command::new(BIN)
            .args([
                "web",
                "--listen",
                &format!("127.0.0.1:{web}"),
                "--cfg",
                "redial.cfg",
                "--base",
                ".",
            ])
            .current_dir(root)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(web_log)
            .spawn()
            .unwrap(),
    );
    let node = start(root, "a");
    let (sent, fail) = (root.join("spool/SENT"), root.join("spool/FAIL"));
    let logs = || {
        format!(
            "--- node\n{}\n--- web\n{}",
            std::fs::read_to_string(root.join("a.log")).unwrap_or_default(),
            std::fs::read_to_string(root.join("web.log")).unwrap_or_default()
        )
    };
    // Delivered, the price steps, rejected, the timeout: all final; ack.FS waits.
    let done = wait_until(Duration::from_secs(90), || {
        jobs_in(&sent).len() + jobs_in(&fail).len() == 4 && pending(&q.join("ack.FS")).is_some()
    });
    assert!(
        done,
        "SENT {:?} FAIL {:?}\n{}",
        jobs_in(&sent),
        jobs_in(&fail),
        logs()
    );
    assert_eq!(jobs_in(&sent), ["credit.FS", "ok.FS"], "{}", logs());
    assert_eq!(jobs_in(&fail), ["rejected.FS", "silent.FS"], "{}", logs());

    // Delivered: one request, first attempt (reply=1, plain id), sender from the line.
    let r = records(&sent.join("ok.FS"));
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!(
        (r[0].0.as_str(), r[0].1.as_str(), r[0].2.as_str()),
        ("400", "S", "G1")
    );
    assert_eq!(r[0].3, "id=1.ok.FS status=DELIVERED");
    let ok = sent_to(&seen, "5550001");
    assert_eq!(ok.len(), 1);
    assert_eq!(
        (
            ok[0]["id"].as_str(),
            ok[0]["reply"].as_str(),
            ok[0]["from"].as_str(),
            ok[0]["text"].as_str()
        ),
        ("1.ok.FS", "1", "ACME", "Your code is 4711")
    );
    assert!(!ok[0].contains_key("price"));

    // NO_CREDIT twice: each retry one price point lower, marked as a retry, then delivered.
    let c = sent_to(&seen, "5550002");
    let got: Vec<(&str, &str, &str)> = c
        .iter()
        .map(|f| (f["id"].as_str(), f["reply"].as_str(), f["price"].as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("1.credit.FS", "1", "10.00"),
            ("R-2.credit.FS", "0", "5.00"),
            ("R-3.credit.FS", "0", "4.50"),
        ]
    );
    let r = records(&sent.join("credit.FS"));
    let got: Vec<(&str, &str, &str)> = r
        .iter()
        .map(|x| (x.0.as_str(), x.1.as_str(), x.3.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("401", "J", "id=1.credit.FS price=10.00 status=NO_CREDIT"),
            ("401", "J", "id=R-2.credit.FS price=5.00 status=NO_CREDIT"),
            ("400", "S", "id=R-3.credit.FS price=4.50 status=DELIVERED"),
        ]
    );

    // REJECTED: failed for good at once.
    let r = records(&fail.join("rejected.FS"));
    assert_eq!(
        (r.len(), r[0].0.as_str(), r[0].1.as_str()),
        (1, "404", "Z"),
        "{r:?}"
    );
    assert_eq!(sent_to(&seen, "5550003").len(), 1);

    // ACKNOWLEDGED and nothing after: the timeout outcome, never resent.
    let r = records(&fail.join("silent.FS"));
    assert_eq!(
        (r.len(), r[0].0.as_str(), r[0].1.as_str()),
        (1, "411", "Z"),
        "{r:?}"
    );
    assert_eq!(sent_to(&seen, "5550005").len(), 1);

    // ack.FS waits (status 410) after ACKNOWLEDGED. A report with a wrong secret: 403, nothing
    // changes. A report for an id nothing waits for: 404, logged.
    let id = pending(&q.join("ack.FS")).unwrap();
    assert_eq!(id, "1.ack.FS");
    let before = std::fs::read(q.join("ack.FS")).unwrap();
    assert_eq!(
        post_report(web, "wrong-secret-000", &id, "DELIVERED").0,
        403
    );
    assert_eq!(post_report(web, SECRET, "1.nosuch.FS", "DELIVERED").0, 404);
    assert_eq!(
        post_report(web, SECRET, "../../etc/passwd", "DELIVERED").0,
        404
    );
    assert_eq!(post_report(web, SECRET, "R-9.ack.FS", "DELIVERED").0, 404);
    assert_eq!(post_report(web, SECRET, &id, "<script>").0, 400);
    // A huge body is refused before it is read whole.
    assert_eq!(
        post_report(web, SECRET, &"9".repeat(400 * 1024), "DELIVERED").0,
        413
    );
    assert_eq!(std::fs::read(q.join("ack.FS")).unwrap(), before);
    assert!(!root.join("spool/DLR").join(format!("{id}.dlr")).exists());
    assert!(
        std::fs::read_to_string(root.join("web.log"))
            .unwrap()
            .contains("unknown message"),
        "{}",
        logs()
    );
    let list = Command::new(BIN)
        .args(["list", "--cfg", "redial.cfg"])
        .current_dir(root)
        .output()
        .unwrap();
    let list = String::from_utf8_lossy(&list.stdout);
    assert!(
        list.contains("ack.FS"),
        "redial list shows the waiting job:\n{list}"
    );

    // The node dies (SIGKILL) while the job waits, and starts again: it is not sent again.
    drop(node);
    let node = start(root, "a");
    assert!(wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(root.join("a.log"))
            .unwrap_or_default()
            .matches("spooler running")
            .count()
            == 2
    }));
    assert_eq!(pending(&q.join("ack.FS")).as_deref(), Some("1.ack.FS"));
    // Reports for jobs that no longer wait for them (a node stopped after settling, before it
    // removed the report) are removed: one for a finished job, an hour old; one for another
    // attempt of the waiting job. The waiting job is not settled by either.
    let dlr = root.join("spool/DLR");
    let stale = |id: &str, age: i64| {
        let at = (chrono::Utc::now() - chrono::Duration::seconds(age)).to_rfc3339();
        std::fs::write(
            dlr.join(format!("{id}.dlr")),
            format!(r#"{{"id":"{id}","status":"DELIVERED","at":"{at}"}}"#),
        )
        .unwrap();
    };
    stale("1.ok.FS", 7200);
    stale("R-5.ack.FS", 0);
    assert!(
        wait_until(Duration::from_secs(30), || {
            !dlr.join("1.ok.FS.dlr").exists() && !dlr.join("R-5.ack.FS.dlr").exists()
        }),
        "{}",
        logs()
    );
    assert_eq!(pending(&q.join("ack.FS")).as_deref(), Some("1.ack.FS"));
    // The final report, after the restart: delivered, still one request.
    report_until_taken(web, &id, "DELIVERED");
    assert!(
        wait_until(Duration::from_secs(30), || jobs_in(&sent)
            .contains(&"ack.FS".to_string())),
        "{}",
        logs()
    );
    assert!(terminate_within(node, Duration::from_secs(20)));
    let r = records(&sent.join("ack.FS"));
    assert_eq!(
        (r.len(), r[0].0.as_str(), r[0].3.as_str()),
        (1, "400", "id=1.ack.FS status=DELIVERED")
    );
    assert_eq!(
        sent_to(&seen, "5550004").len(),
        1,
        "never resent while it waited"
    );
    assert!(!root.join("spool/DLR").join(format!("{id}.dlr")).exists());
    let _ = web_proc.kill();
}
