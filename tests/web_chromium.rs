//! The failed-jobs page end to end in headless Chromium: sign in with the token, tick three
//! failed jobs, give a reason, "Retry selected", read the result dialog, and check on disk that
//! the eligible files moved (with the reason recorded) and the others stayed in FAIL.
//!
//! Driven over the W3C WebDriver protocol with Debian's `chromedriver` (package
//! `chromium-driver`) and a few lines of HTTP/JSON below: a standard protocol, no extra crate
//! for a loopback conversation. It FAILS when chromium or chromedriver is missing (.ci/run
//! installs them).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A minimal HTTP/1.1 exchange, returning status and body (read by Content-Length, or chunks
/// to the last one, or to the end: servers may keep the connection open).
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let b = body.map(|v| v.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
        b.len()
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf).unwrap();
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let lower = head.to_ascii_lowercase();
            let len = lower
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok());
            let chunked = lower.contains("transfer-encoding: chunked");
            let done = n == 0
                || len.is_some_and(|l| body.len() >= l)
                || (chunked && body.ends_with("0\r\n\r\n"));
            if done {
                let status = head
                    .split(' ')
                    .nth(1)
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(0);
                return (
                    status,
                    if chunked {
                        dechunk(body)
                    } else {
                        body.to_string()
                    },
                );
            }
        } else if n == 0 {
            return (0, text);
        }
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((len, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || tail.len() < n + 2 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn find(cmds: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    for c in cmds {
        for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/lib/chromium")]) {
            let p = dir.join(c);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

struct Driver {
    addr: String,
    session: String,
}

impl Driver {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (st, b) = http(
            &self.addr,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        );
        let v: Value = serde_json::from_str(&b).unwrap_or(Value::Null);
        assert_eq!(st, 200, "{method} {path}: {b}");
        v["value"].clone()
    }
    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(json!({"using": "css selector", "value": css})),
        );
        v["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_string()
    }
    fn find_all(&self, css: &str) -> Vec<String> {
        let v = self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e["element-6066-11e4-a52e-4f735466cecf"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    }
    /// Waits (bounded) until `css` matches something: a form post navigates asynchronously.
    fn wait_for(&self, css: &str) -> Vec<String> {
        let t0 = Instant::now();
        loop {
            let found = self.find_all(css);
            if !found.is_empty() {
                return found;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "{css} never appeared"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }
    fn type_in(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }
    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap()
            .to_string()
    }
    fn attr(&self, e: &str, name: &str) -> String {
        self.cmd("GET", &format!("/element/{e}/attribute/{name}"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn rec(dt: &str, code: u32, class: char) -> String {
    format!("$attempt_record {dt} 1 0 1 {code} {class} 0 0 0 S1 0 5 0 \"\"\n")
}

#[test]
fn bulk_retry_in_headless_chromium() {
    let chromium = find(&["chromium", "chromium-browser"])
        .expect("chromium is missing: apt-get install chromium chromium-driver (.ci/run does)");
    let chromedriver = find(&["chromedriver"])
        .expect("chromedriver is missing: apt-get install chromium-driver (.ci/run does)");

    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 2\n$web_token chromium-test-token\n$retry_wait B 15\n",
    )
    .unwrap();
    let fail = base.join("spool/FAIL");
    std::fs::create_dir_all(&fail).unwrap();
    let job = |name: &str, phone: &str, r: String| {
        std::fs::write(fail.join(name), format!("$fax_phone \"{phone}\"\n{r}")).unwrap()
    };
    job("1.FS", "555 0001", rec("03/02/2026 09:00:00", 2, 'Z'));
    job("2.FS", "555 0002", rec("03/02/2026 09:00:00", 1, 'Z'));
    job("3.FS", "555 0003", rec("03/02/2026 09:00:00", 11, 'Z'));
    job("4.FS", "555 0004", rec("03/02/2026 09:55:00", 2, 'Z'));

    let mut web = Command::new(env!("CARGO_BIN_EXE_redial"))
        .args([
            "web",
            "--listen",
            "127.0.0.1:0",
            "--now",
            "2026-03-02T10:00:00Z",
            "--cfg",
        ])
        .arg(base.join("redial.cfg"))
        .arg("--base")
        .arg(base)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(web.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _web = Kill(web);
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .trim_end_matches('/')
        .to_string();

    let port = free_port();
    let _cd = Kill(
        Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let addr = format!("127.0.0.1:{port}");
    let t0 = Instant::now();
    loop {
        if TcpStream::connect(&addr).is_ok() && http(&addr, "GET", "/status", None).0 == 200 {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let profile = tempfile::tempdir().unwrap();
    let caps = json!({"capabilities": {"alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium.to_str().unwrap(),
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage",
                     format!("--user-data-dir={}", profile.path().display())]
        }
    }}});
    let (st, body) = http(&addr, "POST", "/session", Some(&caps));
    assert_eq!(st, 200, "new session: {body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let d = Driver {
        addr: addr.clone(),
        session: v["value"]["sessionId"].as_str().unwrap().to_string(),
    };

    d.cmd(
        "POST",
        "/url",
        Some(json!({ "url": format!("{url}/failed") })),
    );
    d.wait_for("input[name=token]");
    // Not signed in: sent to the login form.
    d.type_in("input[name=token]", "chromium-test-token");
    d.click("#signin");
    assert_eq!(d.wait_for("#jobs tr[data-job]").len(), 4);
    assert_eq!(d.text("#eligible-count"), "2");
    let row4 = d.text("tr[data-job='4.FS']");
    assert!(row4.contains("eligible in 10 min"), "{row4}");
    for j in ["1.FS", "2.FS", "3.FS", "4.FS"] {
        d.click(&format!("input[type=checkbox][value='{j}']"));
    }
    d.type_in("#reason", "line fixed");
    d.click("#retry-selected");
    d.wait_for("#result");

    assert_eq!(d.text("#queued-count"), "2", "{}", d.text("#result"));
    assert_eq!(d.text("#skipped-count"), "2");
    let mut skipped: Vec<(String, String)> = d
        .find_all("#skipped li")
        .iter()
        .map(|e| (d.attr(e, "data-job"), d.attr(e, "data-reason")))
        .collect();
    skipped.sort();
    assert_eq!(
        skipped,
        [
            ("3.FS".to_string(), "permanent".to_string()),
            ("4.FS".to_string(), "wait".to_string())
        ]
    );
    let dialog = d.text("#result");
    assert!(dialog.contains("Reason: line fixed"), "{dialog}");
    d.click("#back");
    d.wait_for("#jobs");
    assert_eq!(d.find_all("#jobs tr[data-job]").len(), 2);
    let _ = http(&addr, "DELETE", &format!("/session/{}", d.session), None);

    let tosend = base.join("spool/TOSEND");
    for j in ["1.FS", "2.FS"] {
        let text = std::fs::read_to_string(tosend.join(j)).unwrap();
        assert!(
            text.ends_with("$retry_note 03/02/2026 10:00:00 manual 0 \"line fixed\"\n"),
            "{text}"
        );
        assert!(!fail.join(j).exists());
    }
    for j in ["3.FS", "4.FS"] {
        assert!(fail.join(j).exists() && !Path::new(&tosend.join(j)).exists());
    }
}
