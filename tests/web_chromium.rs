//! The console end to end in headless Chromium: the failed-jobs page's bulk retry (sign in with
//! the token, tick failed jobs, give a reason, read the result dialog, check on disk that the
//! eligible files moved); the overview and jobs pages on a spool whose node files the test
//! writes; and the live console on a real `redial run` node dialling hw-sim modems (a line goes
//! busy and back to idle, the sent job found by search with its thumbnails, a queued job
//! cancelled and another held from the job page, both checked on disk and in the audit trail).
//!
//! Screenshots of each page: into `docs/screenshots/` (linked from docs/operations.md) when
//! `REDIAL_SCREENSHOTS=1`, else into a temporary directory, so a test run leaves the
//! repository as it was:
//! `REDIAL_SCREENSHOTS=1 cargo test --test web_chromium` refreshes them.
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

mod common;

/// A minimal HTTP/1.1 exchange, returning status and body (read by Content-Length, or chunks
/// to the last one, or to the end: servers may keep the connection open). A transport error
/// fails the test.
fn http(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, String) {
    try_http(addr, method, path, body).unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"))
}

/// [`http`] with the transport error given back: a server still starting may accept a
/// connection and reset it (chromedriver does), which a readiness probe must take as "not yet".
fn try_http(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(120)))?;
    let b = body.map(|v| v.to_string()).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
        b.len()
    )?;
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        let n = s.read(&mut buf)?;
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
                return Ok((
                    status,
                    if chunked {
                        dechunk(body)
                    } else {
                        body.to_string()
                    },
                ));
            }
        } else if n == 0 {
            return Ok((0, text));
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

/// chromedriver on a free port and a headless Chromium session (its profile in a temporary
/// directory): both end when the test lets go of them.
fn browser(chromium: &Path, chromedriver: &Path) -> (Kill, tempfile::TempDir, Driver) {
    // Port 0: chromedriver takes a free port itself and names it once it listens, so no other
    // test can take the port between choosing it and binding it.
    let mut child = Command::new(chromedriver)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let cd = Kill(child);
    let mut said = String::new();
    let port = loop {
        let mut line = String::new();
        let n = out.read_line(&mut line).unwrap();
        assert!(n > 0, "chromedriver ended before it listened: {said}");
        said.push_str(&line);
        if let Some(p) = line
            .trim()
            .strip_prefix("ChromeDriver was started successfully on port ")
        {
            break p.trim_end_matches('.').parse::<u16>().unwrap();
        }
    };
    // What chromedriver says later is read and dropped, so it never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    let addr = format!("127.0.0.1:{port}");
    let t0 = Instant::now();
    loop {
        if try_http(&addr, "GET", "/status", None).is_ok_and(|(status, _)| status == 200) {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "chromedriver did not answer /status"
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
        addr,
        session: v["value"]["sessionId"].as_str().unwrap().to_string(),
    };
    (cd, profile, d)
}

/// `redial web` on `base` at the tests' fixed time, on a free port; its URL (no trailing `/`).
fn start_web(base: &Path) -> (Kill, String) {
    start_web_at(base, Some("2026-03-02T10:00:00Z"))
}

/// `redial web` on `base` at `now` (the system clock without), on a free port; its URL.
fn start_web_at(base: &Path, now: Option<&str>) -> (Kill, String) {
    let mut web = Command::new(env!("CARGO_BIN_EXE_redial"))
        .args(["web", "--listen", "127.0.0.1:0"])
        .args(now.map(|t| ["--now", t]).into_iter().flatten())
        .args(["--cfg"])
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
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{line}"))
        .trim_end_matches('/')
        .to_string();
    (Kill(web), url)
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

    let (_web, url) = start_web(base);

    let (_cd, _profile, d) = browser(&chromium, &chromedriver);

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
    let _ = http(&d.addr, "DELETE", &format!("/session/{}", d.session), None);

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

/// Decodes standard base64 (WebDriver's screenshots).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        _ => 63,
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &d)| n | u32::from(d) << (18 - 6 * i));
        out.extend_from_slice(&n.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// Where screenshots go: docs/screenshots/ with `REDIAL_SCREENSHOTS=1`, else a directory under
/// the system's temporary directory.
fn screenshot_dir() -> PathBuf {
    if std::env::var_os("REDIAL_SCREENSHOTS").is_some_and(|v| v == "1") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        std::env::temp_dir().join(format!("redial-screenshots-{}", std::process::id()))
    }
}

impl Driver {
    /// Saves a screenshot of the page as NAME.png in [`screenshot_dir`].
    fn screenshot(&self, name: &str) {
        let png = base64(self.cmd("GET", "/screenshot", None).as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }
    /// Runs `script` in the page and returns its value.
    fn script(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }
    /// Waits (bounded) until `script` returns true.
    fn wait_script(&self, script: &str, what: &str, within: Duration) {
        let t0 = Instant::now();
        while self.script(script) != Value::Bool(true) {
            assert!(t0.elapsed() < within, "{what} never happened");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// The console in headless Chromium: the overview's lines panel follows a node's files without
/// a reload (line 1 goes busy, shows its call's page and speed, and goes back to idle), a sent
/// job is found by search on the jobs page and its page opens. Screenshots of each page go to
/// docs/screenshots/.
#[test]
fn console_overview_and_jobs_in_headless_chromium() {
    let chromium = find(&["chromium", "chromium-browser"])
        .expect("chromium is missing: apt-get install chromium chromium-driver (.ci/run does)");
    let chromedriver = find(&["chromedriver"])
        .expect("chromedriver is missing: apt-get install chromium-driver (.ci/run does)");

    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 2\n$timezone Europe/Paris\n$web_token chromium-test-token\n\
         $line 1 sim group=sales\n$line 2 sim group=sales\n$line 3 sim group=support\n$retry_wait B 15\n",
    )
    .unwrap();
    let spool = base.join("spool");
    let w = |p: &str, t: &str| {
        let p = spool.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    };
    for i in 1..=6 {
        w(
            &format!("TOSEND/{i}.FS"),
            &format!("$fax_phone \"555 010{i}\"\n"),
        );
    }
    w(
        "TOSEND1/7.FS",
        "$fax_phone \"555 0107\"\n$fax_send_date 01/01/2099\n",
    );
    w(
        "SENT/20.FS",
        &format!(
            "$fax_phone \"555 0120\"\n{}",
            rec("03/02/2026 09:40:00", 0, 'S')
        ),
    );
    w(
        "SENT/21.FS",
        &format!(
            "$fax_phone \"555 0121\"\n{}",
            rec("03/02/2026 09:20:00", 0, 'S')
        ),
    );
    w(
        "FAIL/30.FS",
        &format!(
            "$fax_phone \"555 0130\"\n{}",
            rec("03/02/2026 09:00:00", 2, 'Z')
        ),
    );
    let lease = |line1: &str| {
        format!(
            r#"{{"node":"n1","pid":1,"renewed":"2026-03-02T10:00:00Z","stale_after":60,"draining":false,"lines":[
            {line1},
            {{"line":2,"state":"idle","job":null}},
            {{"line":3,"state":"down","job":null,"next_probe":"2026-03-02T10:16:00Z"}}],"generation":1,"host":"fax1"}}"#
        )
    };
    let idle = r#"{"line":1,"state":"idle","job":null}"#;
    w("ACTIVE/n1.lease", &lease(idle));

    let (_web, url) = start_web(base);

    let (_cd, _profile, d) = browser(&chromium, &chromedriver);
    d.cmd(
        "POST",
        "/window/rect",
        Some(json!({"width": 1100, "height": 800})),
    );
    let go = |path: &str| {
        d.cmd(
            "POST",
            "/url",
            Some(json!({ "url": format!("{url}{path}") })),
        )
    };
    go("/");
    d.wait_for("input[name=token]");
    d.type_in("input[name=token]", "chromium-test-token");
    d.click("#signin");
    d.wait_for("#jobs");
    go("/");
    d.wait_for("tr[data-line='n1/1'] td.state.idle");
    assert_eq!(d.text("#sent-today"), "2");
    assert!(d.text("tr[data-line='n1/3']").contains("in 16 min"));
    d.screenshot("console-overview");

    // Line 1 takes 1.FS: the panel shows it connected, with the page and speed, without a reload.
    let calls = spool.join("ACTIVE/n1.calls.json");
    w(
        "ACTIVE/n1.lease",
        &lease(r#"{"line":1,"state":"busy","job":"1.FS"}"#),
    );
    std::fs::write(
        &calls,
        r#"{"node":"n1","calls":[{"job":"1.FS","attempt":1,"line":1,"at":"2026-03-02T09:59:40Z","step":"page 2/3 at 14400"}]}"#,
    )
    .unwrap();
    d.wait_for("tr[data-line='n1/1'] td.state.connected");
    let row = d.text("tr[data-line='n1/1']");
    assert!(
        row.contains("page 2/3 at 14400") && row.contains("1.FS"),
        "{row}"
    );
    d.screenshot("console-overview-busy");
    // The call ends: idle again.
    w("ACTIVE/n1.lease", &lease(idle));
    std::fs::remove_file(&calls).unwrap();
    d.wait_for("tr[data-line='n1/1'] td.state.idle");

    // A sent job found by search, and its page.
    go("/jobs");
    d.wait_for("#jobs tr[data-job]");
    d.screenshot("console-jobs");
    d.type_in("input[name=q]", "555 0121");
    d.click("#filter button[type=submit]");
    d.wait_for("#jobs tr[data-job='21.FS']");
    assert_eq!(d.find_all("#jobs tr[data-job]").len(), 1);
    d.click("#jobs tr[data-job='21.FS'] a");
    d.wait_for("#history");
    assert!(d.text("#history").contains("2026-03-02 09:20:00 CET"));
    d.screenshot("console-job");
    let _ = http(&d.addr, "DELETE", &format!("/session/{}", d.session), None);
}

/// The live console: a real `redial run` node with one modem line on a hw-sim rack, `redial
/// web` beside it on the system clock, headless Chromium on the overview. A job submitted while
/// the browser watches is dialled: the lines panel shows the line busy and then idle again
/// without a reload; the job, now sent, is found by search and its page shows its thumbnails;
/// a queued job is cancelled and another held from their pages (the files checked on disk:
/// FAIL with the operator's reason, the hold in the file still in its queue), and both actions
/// are in the audit trail with the operator's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_console_on_a_hw_sim_node_in_headless_chromium() {
    let chromium = find(&["chromium", "chromium-browser"])
        .expect("chromium is missing: apt-get install chromium chromium-driver (.ci/run does)");
    let chromedriver = find(&["chromedriver"])
        .expect("chromedriver is missing: apt-get install chromium-driver (.ci/run does)");
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    // One ring (6 s), then a fax that takes the page: the line is busy for several seconds.
    let rack = common::hwsim::rack(
        &base.join("rack"),
        1,
        "[defaults]\nunknown = { kind = \"fax\", rings = 1, csi = \"LIVE TEST\" }\n",
        1.0,
    )
    .await;
    std::fs::write(
        base.join("redial.cfg"),
        format!(
            "$request_dir spool 2\n$timezone Europe/Paris\n$web_token chromium-test-token\n\
             $node_lease 1 10\n$retry_delays A \"1\"\n$line 1 {} class=2.0 group=fax\n",
            rack.tty(0).display()
        ),
    )
    .unwrap();
    std::fs::write(base.join("page.txt"), "ORDER 77\nLIVE CONSOLE TEST\n").unwrap();
    let spool = base.join("spool");
    std::fs::create_dir_all(base.join("incoming")).unwrap();
    for q in ["TOSEND", "TOSEND1", "TOSEND2"] {
        std::fs::create_dir_all(spool.join(q)).unwrap();
    }
    // Two queued jobs for later (not due until 2099): one to cancel, one to hold.
    for (n, phone) in [(20, "555 0420"), (21, "555 0421")] {
        std::fs::write(
            spool.join(format!("TOSEND/{n}.FS")),
            format!("$fax_phone \"{phone}\"\n$fax_filename page.txt\n$fax_send_date 01/01/2099\n"),
        )
        .unwrap();
    }
    let b = base.clone();
    let (node, web, url) = tokio::task::spawn_blocking(move || {
        let node: Kill = Kill(
            Command::new(env!("CARGO_BIN_EXE_redial"))
                .args(["run", "--cfg", "redial.cfg", "--node", "n1", "--base", "."])
                .current_dir(&b)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(b.join("n1.log")).unwrap())
                .spawn()
                .unwrap(),
        );
        let (web, url) = start_web_at(&b, None);
        (node, web, url)
    })
    .await
    .unwrap();
    let b = base.clone();
    tokio::task::spawn_blocking(move || live_browser(&chromium, &chromedriver, &b, &url))
        .await
        .unwrap_or_else(|e| {
            let log = std::fs::read_to_string(base.join("n1.log")).unwrap_or_default();
            panic!("{e:?}\nnode log:\n{log}")
        });
    drop(web);
    drop(node);
    rack.stop().await;
}

fn live_browser(chromium: &Path, chromedriver: &Path, base: &Path, url: &str) {
    let spool = base.join("spool");
    let (_cd, _profile, d) = browser(chromium, chromedriver);
    d.cmd(
        "POST",
        "/window/rect",
        Some(json!({"width": 1100, "height": 800})),
    );
    let go = |path: &str| {
        d.cmd(
            "POST",
            "/url",
            Some(json!({ "url": format!("{url}{path}") })),
        )
    };
    go("/");
    d.wait_for("input[name=token]");
    d.type_in("input[name=token]", "chromium-test-token");
    d.click("#signin");
    d.wait_for("#jobs");
    go("/");
    // The node's line, idle, in the panel (its lease is renewed every second).
    let line = "tr[data-line='n1/1']";
    d.wait_for(&format!("{line} td.state.idle"));

    // A job arrives (written aside, renamed in, as `redial submit` does) and is dialled: the
    // panel follows without a reload.
    std::fs::write(
        base.join("incoming/10.FS"),
        "$fax_phone \"555 0410\"\n$fax_filename page.txt\n",
    )
    .unwrap();
    std::fs::rename(base.join("incoming/10.FS"), spool.join("TOSEND/10.FS")).unwrap();
    let reloads = "return document.querySelector('#live-marker') === null;";
    d.script("var m = document.createElement('i'); m.id = 'live-marker'; document.body.appendChild(m); return true;");
    let busy = format!(
        "var c = document.querySelector(\"{line} td.state\"); return c !== null && (c.classList.contains('dialling') || c.classList.contains('connected'));"
    );
    d.wait_script(&busy, "line 1 busy", Duration::from_secs(20));
    let row = d.text(line);
    assert!(row.contains("10.FS"), "{row}");
    d.screenshot("console-live-busy");
    d.wait_script(
        &format!("return document.querySelector(\"{line} td.state.idle\") !== null;"),
        "line 1 idle again",
        Duration::from_secs(40),
    );
    assert_eq!(
        d.script(reloads),
        Value::Bool(false),
        "the page was not reloaded"
    );
    let sent = spool.join("SENT/10.FS");
    let t0 = Instant::now();
    while !sent.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "10.FS never reached SENT"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    d.screenshot("console-live-overview");

    // The sent job, found by search; its page with the thumbnails of its pages.
    go("/jobs");
    d.wait_for("input[name=q]");
    d.type_in("input[name=q]", "555 0410");
    d.click("#filter button[type=submit]");
    d.wait_for("#jobs tr[data-job='10.FS']");
    assert_eq!(d.find_all("#jobs tr[data-job]").len(), 1);
    d.screenshot("console-live-search");
    d.click("#jobs tr[data-job='10.FS'] a");
    d.wait_for("#history");
    assert!(d.text("h1").contains("10.FS"));
    d.wait_script(
        "var i = document.querySelectorAll('#pages img.thumb'); return i.length > 0 && Array.from(i).every(function (x) { return x.complete && x.naturalWidth > 0; });",
        "the thumbnails loaded",
        Duration::from_secs(20),
    );
    // The attempt as the node recorded it: pages, speed and the remote station's ID.
    let history = d.text("#history");
    assert!(
        history.contains("attempt on")
            && history.contains("1 of 1 pages at")
            && history.contains("remote station: LIVE TEST"),
        "{history}"
    );
    assert!(
        d.find_all("#cancel, #hold").is_empty(),
        "a sent job offers no action"
    );
    d.screenshot("console-live-job");

    // Cancel the queued 20.FS from its page.
    go("/job/20.FS");
    d.wait_for("#cancel");
    d.type_in("#cancel input[name=reason]", "customer withdrew");
    d.click("#cancel button");
    d.wait_for("#done");
    assert!(
        d.text("#done").starts_with("Cancelled"),
        "{}",
        d.text("#done")
    );
    let failed = std::fs::read_to_string(spool.join("FAIL/20.FS")).unwrap();
    assert!(
        failed.contains("$fail_reason \"cancelled by token (web): customer withdrew\""),
        "{failed}"
    );
    assert!(!spool.join("TOSEND/20.FS").exists());

    // Hold 21.FS: still queued, the hold in the file, the page now offers release.
    go("/job/21.FS");
    d.wait_for("#hold");
    d.click("#hold button");
    d.wait_for("#done");
    d.wait_for("#release");
    let held = std::fs::read_to_string(spool.join("TOSEND/21.FS")).unwrap();
    assert!(held.contains("$fax_hold 1\n"), "{held}");
    d.screenshot("console-live-held");

    // Both in the audit trail, newest first, with the operator.
    go("/audit");
    d.wait_for("#audit tr[data-action]");
    let rows: Vec<String> = d
        .find_all("#audit tr[data-action]")
        .iter()
        .map(|e| format!("{} {}", d.attr(e, "data-action"), d.attr(e, "data-job")))
        .collect();
    let pos = |x: &str| {
        rows.iter()
            .position(|r| r == x)
            .unwrap_or_else(|| panic!("{x} not in {rows:?}"))
    };
    assert!(pos("hold 21.FS") < pos("cancel 20.FS"), "{rows:?}");
    let audit = d.text("#audit");
    assert!(
        audit.contains("token") && audit.contains("customer withdrew"),
        "{audit}"
    );
    d.screenshot("console-audit");
    let _ = http(&d.addr, "DELETE", &format!("/session/{}", d.session), None);
}
