//! `/metrics` after a small campaign: counts of attempts by class and code, results by attempt
//! number, jobs per state, durations, line gauges; the OpenMetrics content type and `# EOF`;
//! the token; every metric deploy/alerts.yml names exists. Then the same inside a real
//! `redial run` process with `$web`, which also tells systemd it is ready (sd_notify).
//! Then the console's defences on the real server (client addresses as the listener sees
//! them, time on a manual clock): failed sign-ins are limited per client address, sessions
//! expire (idle and absolute) and the retry result's back link is only ever a local path.

use chrono::{DateTime, Utc};
use redial::daemon::clock::ManualClock;
use redial::daemon::Daemon;
use redial::load::SystemConfig;
use redial::ops::config::OpsConfig;
use redial::ops::metrics::Metrics;
use redial::ops::web::{serve, WebState};
use redial::spool::Layout;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const TOKEN: &str = "metrics-test-token";

fn get(addr: &str, path: &str, token: Option<&str>) -> (u16, String, String) {
    get_accepting(addr, path, token, None)
}

/// [`get`] with an `Accept` header.
fn get_accepting(
    addr: &str,
    path: &str,
    token: Option<&str>,
    accept: Option<&str>,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: {addr}\r\n{auth}{accept}\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// `promtool check metrics` (Prometheus' own linter) on a classic-format exposition. CI installs
/// promtool (.ci/run); elsewhere the check is skipped with a note.
fn promtool_accepts(text: &str) {
    let child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("promtool check metrics SKIPPED: {e} (apt-get install prometheus)");
            return;
        }
        Err(e) => panic!("promtool is missing in CI: {e}"),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `promtool check rules` on deploy/alerts.yml, as for [`promtool_accepts`].
#[test]
fn the_alert_rules_are_valid_and_fire_when_redial_is_down_or_not_scraped() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/alerts.yml");
    let rules = std::fs::read_to_string(path).unwrap();
    assert!(rules.contains("expr: up{job=\"redial\"} == 0"), "{rules}");
    assert!(
        rules.contains("expr: absent(up{job=\"redial\"})"),
        "{rules}"
    );
    match std::process::Command::new("promtool")
        .args(["check", "rules", path])
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) if std::env::var_os("CI").is_none() => {
            eprintln!("promtool check rules SKIPPED: {e} (apt-get install prometheus)")
        }
        Err(e) => panic!("promtool is missing in CI: {e}"),
    }
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|r| r.strip_prefix(' ')))
        .and_then(|v| v.trim().parse().ok())
}

const CFG: &str = "$request_dir spool 1\n$retry_delays B \"1\"\n$line 1 sim\n$line 2 sim\n\
$sim_number 5550001 \"2@5 0@30\"\n$sim_number 5550002 \"0@30\"\n$sim_number 5550003 \"11@3\"\n\
$sim_number 5550004 \"2@5 2@5\"\n";

#[test]
fn metrics_count_a_small_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        format!("{CFG}$web_token {TOKEN}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(base.join("spool/TOSEND")).unwrap();
    for n in 1..=4 {
        std::fs::write(
            base.join(format!("spool/TOSEND/{n}.FS")),
            format!("$fax_phone 555000{n}\n"),
        )
        .unwrap();
    }
    let clock = ManualClock::new(t("2026-03-02T10:00:00Z"));
    let mut d = Daemon::new(
        Some(&base.join("redial.cfg")),
        base,
        "n1",
        Arc::new(clock.clone()),
        None,
    )
    .unwrap();
    let sys = SystemConfig::load(&base.join("redial.cfg")).unwrap();
    let metrics = Arc::new(Metrics::new(sys.outcomes.clone()));
    d.on_event(metrics.observer());
    d.start().unwrap();
    d.run_virtual(&clock, 100);
    metrics.sample_lines(&d.lines_up());
    d.renew_lease().unwrap();

    let ops = OpsConfig::from_cfg(&sys.document, base).unwrap();
    let state = WebState::new(
        d.layout().clone(),
        sys,
        ops,
        Arc::new(clock.clone()),
        metrics.clone(),
        TOKEN.into(),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    rt.spawn(serve(listener, Arc::new(state)));

    assert_eq!(get(&addr, "/metrics", None).0, 401);
    assert_eq!(get(&addr, "/metrics", Some("wrong-token-x")).0, 401);
    // OpenMetrics only for a scraper that asks for it (Prometheus does).
    let (status, head, om) = get_accepting(
        &addr,
        "/metrics",
        Some(TOKEN),
        Some("application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
    );
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: application/openmetrics-text; version=1.0.0"),
        "{head}"
    );
    assert!(om.ends_with("# EOF\n"), "{om}");
    assert!(om.contains("# TYPE redial_attempts counter"), "{om}");
    // Anyone else (curl, promtool, an older scraper) gets the classic text format.
    let (status, head, m) = get(&addr, "/metrics", Some(TOKEN));
    assert_eq!(status, 200);
    assert!(
        head.contains("content-type: text/plain; version=0.0.4"),
        "{head}"
    );
    assert!(!m.contains("# EOF") && !m.contains("# UNIT"), "{m}");
    assert!(m.contains("# TYPE redial_attempts_total counter"), "{m}");
    let (_, _, refused) = get_accepting(
        &addr,
        "/metrics",
        Some(TOKEN),
        Some("application/openmetrics-text;q=0, text/plain"),
    );
    assert!(!refused.contains("# EOF"), "q=0 refuses OpenMetrics");
    promtool_accepts(&m);
    assert_eq!(
        value(
            &m,
            &format!(
                "redial_build_info{{version=\"{}\"}}",
                env!("CARGO_PKG_VERSION")
            )
        ),
        Some(1.0),
        "{m}"
    );
    // Jobs 1 and 2 were sent, one page each (the sim line's default).
    assert_eq!(value(&m, "redial_pages_sent_total"), Some(2.0), "{m}");
    // 1: busy then sent; 2: sent; 3: invalid number (final); 4: busy, busy → list exhausted.
    let expect = [
        (r#"redial_attempts_total{class="B",code="2"}"#, 3.0),
        (r#"redial_attempts_total{class="S",code="0"}"#, 2.0),
        (r#"redial_attempts_total{class="Z",code="11"}"#, 1.0),
        (
            r#"redial_attempt_results_total{attempt="1",result="success"}"#,
            1.0,
        ),
        (
            r#"redial_attempt_results_total{attempt="1",result="retry"}"#,
            2.0,
        ),
        (
            r#"redial_attempt_results_total{attempt="1",result="failed"}"#,
            1.0,
        ),
        (
            r#"redial_attempt_results_total{attempt="2",result="success"}"#,
            1.0,
        ),
        (
            r#"redial_attempt_results_total{attempt="2",result="failed"}"#,
            1.0,
        ),
        ("redial_attempt_duration_seconds_count", 6.0),
        (
            "redial_attempt_duration_seconds_sum",
            5.0 + 30.0 + 30.0 + 3.0 + 5.0 + 5.0,
        ),
        (r#"redial_jobs{state="sent"}"#, 2.0),
        (r#"redial_jobs{state="failed"}"#, 2.0),
        (r#"redial_jobs{state="queued"}"#, 0.0),
        ("redial_retries_waiting", 0.0),
        (r#"redial_line_up{line="1"}"#, 1.0),
        (r#"redial_line_state{node="n1",line="2",state="idle"}"#, 1.0),
    ];
    for (series, v) in expect {
        assert_eq!(value(&m, series), Some(v), "{series}\n{m}");
    }
    // Every metric the alert rules use is exported.
    let alerts =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/deploy/alerts.yml")).unwrap();
    let mut names: Vec<&str> = alerts
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("redial_"))
        .collect();
    names.sort();
    names.dedup();
    assert!(names.len() >= 6, "{names:?}");
    for n in names {
        let exported = m.lines().any(|l| {
            l.starts_with(n) && l[n.len()..].starts_with(['{', ' '])
                || l.starts_with(&format!("# TYPE {n} "))
                || n.strip_suffix("_total")
                    .is_some_and(|b| l.starts_with(&format!("# TYPE {b} counter")))
        });
        assert!(exported, "alerts.yml uses {n}, not in /metrics:\n{m}");
    }
    // The JSON API sees the same spool.
    let (st, _, failed) = get(&addr, "/api/failed", Some(TOKEN));
    assert_eq!(st, 200);
    let v: serde_json::Value = serde_json::from_str(&failed).unwrap();
    let mut jobs: Vec<(String, bool)> = v["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["name"].as_str().unwrap().to_string(),
                j["eligible"].as_bool().unwrap(),
            )
        })
        .collect();
    jobs.sort();
    // 3 has a permanent outcome; 4's busy wait (15 min) is not over on the virtual clock.
    assert_eq!(jobs, [("3.FS".into(), false), ("4.FS".into(), false)]);
}

#[test]
fn redial_run_serves_metrics_and_notifies_systemd() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        base.join("redial.cfg"),
        format!("$request_dir spool 1\n$line 1 sim outcomes=0@1\n$web 127.0.0.1:{port}\n$web_token {TOKEN}\n"),
    )
    .unwrap();
    std::fs::create_dir_all(base.join("spool/TOSEND")).unwrap();
    std::fs::write(base.join("spool/TOSEND/1.FS"), "$fax_phone 5550009\n").unwrap();
    let sock_path = base.join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_redial"))
        .args(["run", "--node", "n1", "--cfg"])
        .arg(base.join("redial.cfg"))
        .arg("--base")
        .arg(base)
        .env("NOTIFY_SOCKET", &sock_path)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let _child = Kill(child);
    let mut buf = [0u8; 256];
    let n = sock.recv(&mut buf).expect("READY=1 from redial run");
    assert_eq!(String::from_utf8_lossy(&buf[..n]).trim(), "READY=1");
    let addr = format!("127.0.0.1:{port}");
    let t0 = Instant::now();
    let m = loop {
        if let Ok(mut s) = TcpStream::connect(&addr) {
            drop(s.write_all(b""));
            let (st, _, m) = get(&addr, "/metrics", Some(TOKEN));
            if st == 200 && m.contains(r#"redial_jobs{state="sent"} 1"#) {
                break m;
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "no sent job in /metrics"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        value(&m, r#"redial_attempts_total{class="S",code="0"}"#),
        Some(1.0),
        "{m}"
    );
}

/// The same counters after a campaign on modem lines over hw-sim (real ptys, the real serial
/// code): busy then answered, answered, no answer with an empty A list.
#[test]
fn metrics_count_a_campaign_on_hw_sim() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let rack_dir = base.join("rack");
    let scenario = redial_sim::scenario::Scenario::parse(
        "[defaults]\nunknown = { kind = \"no-answer\", rings = 1 }\n\
         [[number]]\nnumber = \"5550001\"\nsequence = [{ kind = \"busy\" }, { kind = \"fax\", rings = 1 }]\n\
         [[number]]\nnumber = \"5550002\"\noutcome = { kind = \"fax\", rings = 1 }\n",
    )
    .unwrap();
    let config = redial_sim::rack::RackConfig {
        modems: 2,
        dir: rack_dir.clone(),
        scenario,
        time_scale: 0.05,
        bps: 0,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let rack = rt.spawn(async move {
        redial_sim::rack::run(config, async {
            let _ = stopped.await;
        })
        .await
    });
    let ready = Instant::now();
    while !rack_dir.join("ready").exists() {
        assert!(
            ready.elapsed() < Duration::from_secs(10),
            "hw-sim did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(
        base.join("redial.cfg"),
        format!(
            "$request_dir spool 1\n$retry_delays B \"1\"\n$retry_delays A \"\"\n$web_token {TOKEN}\n\
             $line 1 {} class=2.0\n$line 2 {} class=2.0\n",
            rack_dir.join("ttySIM0").display(),
            rack_dir.join("ttySIM1").display()
        ),
    )
    .unwrap();
    std::fs::write(base.join("page.txt"), "metrics test page\n").unwrap();
    std::fs::create_dir_all(base.join("spool/TOSEND")).unwrap();
    for n in 1..=3 {
        std::fs::write(
            base.join(format!("spool/TOSEND/{n}.FS")),
            format!("$fax_phone 555000{n}\n$fax_filename page.txt\n"),
        )
        .unwrap();
    }
    let clock = ManualClock::new(t("2026-03-02T10:00:00Z"));
    let _guard = rt.enter();
    let mut d = Daemon::new(
        Some(&base.join("redial.cfg")),
        base,
        "n1",
        Arc::new(clock.clone()),
        None,
    )
    .unwrap();
    let sys = SystemConfig::load(&base.join("redial.cfg")).unwrap();
    let metrics = Arc::new(Metrics::new(sys.outcomes.clone()));
    d.on_event(metrics.observer());
    d.start().unwrap();
    rt.block_on(d.run_hybrid(&clock, 100));
    d.renew_lease().unwrap();
    let ops = OpsConfig::from_cfg(&sys.document, base).unwrap();
    let state = WebState::new(
        d.layout().clone(),
        sys,
        ops,
        Arc::new(clock.clone()),
        metrics.clone(),
        TOKEN.into(),
    )
    .unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    rt.spawn(serve(listener, Arc::new(state)));
    let (status, _, m) = get(&addr, "/metrics", Some(TOKEN));
    assert_eq!(status, 200);
    for (series, v) in [
        (r#"redial_attempts_total{class="B",code="2"}"#, 1.0),
        (r#"redial_attempts_total{class="S",code="0"}"#, 2.0),
        (r#"redial_attempts_total{class="A",code="1"}"#, 1.0),
        (
            r#"redial_attempt_results_total{attempt="1",result="success"}"#,
            1.0,
        ),
        (
            r#"redial_attempt_results_total{attempt="1",result="retry"}"#,
            1.0,
        ),
        (
            r#"redial_attempt_results_total{attempt="1",result="failed"}"#,
            1.0,
        ),
        (
            r#"redial_attempt_results_total{attempt="2",result="success"}"#,
            1.0,
        ),
        ("redial_attempt_duration_seconds_count", 4.0),
        (r#"redial_jobs{state="sent"}"#, 2.0),
        (r#"redial_jobs{state="failed"}"#, 1.0),
    ] {
        assert_eq!(value(&m, series), Some(v), "{series}\n{m}");
    }
    d.shutdown();
    let _ = stop.send(());
    rt.block_on(rack).unwrap().unwrap();
}

// ----- sign-in, sessions and the retry form's back link, on the real server -----

/// A web console over an empty spool on a manual clock; the runtime serves it while alive.
struct Console {
    _dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
    addr: String,
    clock: ManualClock,
}

fn console() -> Console {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        format!("$request_dir spool 1\n$web_token {TOKEN}\n"),
    )
    .unwrap();
    let sys = SystemConfig::load(&base.join("redial.cfg")).unwrap();
    let layout = Layout::new(base.join("spool"), 1);
    layout.create(None).unwrap();
    let ops = OpsConfig::from_cfg(&sys.document, base).unwrap();
    let clock = ManualClock::new(t("2026-03-02T10:00:00Z"));
    let metrics = Arc::new(Metrics::new(sys.outcomes.clone()));
    let state = WebState::new(
        layout,
        sys,
        ops,
        Arc::new(clock.clone()),
        metrics,
        TOKEN.into(),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    rt.spawn(serve(listener, Arc::new(state)));
    Console {
        _dir: dir,
        _rt: rt,
        addr,
        clock,
    }
}

/// One HTTP/1.0 exchange from the loopback address `from`: status, lower-cased head, body.
fn exchange(addr: &str, from: &str, request: &str) -> (u16, String, String) {
    // std cannot bind before connecting; a throwaway runtime's socket can.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let stream = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4().unwrap();
        sock.bind(format!("{from}:0").parse().unwrap()).unwrap();
        sock.connect(addr.parse().unwrap()).await.unwrap()
    });
    let mut s = stream.into_std().unwrap();
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

fn form_post(path: &str, headers: &str, body: &str) -> String {
    format!(
        "POST {path} HTTP/1.0\r\nHost: redial\r\n{headers}Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

fn login(c: &Console, from: &str, token: &str) -> (u16, String, String) {
    exchange(
        &c.addr,
        from,
        &form_post("/login", "", &format!("token={}", urlencode(token))),
    )
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// The session id a successful sign-in set.
fn session_cookie(head: &str) -> String {
    let set = header(head, "set-cookie").unwrap_or_else(|| panic!("no cookie: {head}"));
    set.split(';').next().unwrap().trim().to_string()
}

#[test]
fn failed_sign_ins_are_limited_per_client_address() {
    let c = console();
    let me = "127.0.0.1";
    for n in 1..=5 {
        assert_eq!(login(&c, me, "wrong-token").0, 401, "failure {n}");
    }
    // The sixth try in the minute is not even compared.
    let (st, head, body) = login(&c, me, "wrong-token");
    assert_eq!(st, 429, "{head}\n{body}");
    assert_eq!(header(&head, "retry-after"), Some("60"), "{head}");
    assert!(body.contains("Too many failed sign-ins"), "{body}");
    // Nor is the right token, at the form or as a bearer token (no oracle while blocked).
    assert_eq!(login(&c, me, TOKEN).0, 429);
    let bearer = format!("GET /api/status HTTP/1.0\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    let (st, head, _) = exchange(&c.addr, me, &bearer);
    assert_eq!(st, 429);
    assert_eq!(header(&head, "retry-after"), Some("60"), "{head}");
    // Another client address is not held back by this one.
    let (st, head, _) = login(&c, "127.0.0.2", TOKEN);
    assert_eq!(st, 303, "{head}");
    // Half a minute on, still blocked, and told how long is left.
    c.clock.advance(chrono::Duration::seconds(30));
    let (st, head, _) = login(&c, me, TOKEN);
    assert_eq!(st, 429);
    assert_eq!(header(&head, "retry-after"), Some("30"), "{head}");
    // A minute after the failures, the token works again.
    c.clock.advance(chrono::Duration::seconds(30));
    assert_eq!(login(&c, me, TOKEN).0, 303);
    assert_eq!(exchange(&c.addr, me, &bearer).0, 200);
}

#[test]
fn sessions_expire_when_idle_and_after_twelve_hours() {
    let c = console();
    let me = "127.0.0.1";
    let page = |cookie: &str| {
        exchange(
            &c.addr,
            me,
            &format!("GET /failed HTTP/1.0\r\nCookie: {cookie}\r\n\r\n"),
        )
    };
    let signed_out = |r: (u16, String, String)| r.0 == 303 && r.1.contains("location: /login");
    let (st, head, _) = login(&c, me, TOKEN);
    assert_eq!(st, 303);
    let set = header(&head, "set-cookie").unwrap();
    assert!(set.contains("max-age=43200"), "{set}");
    assert!(
        set.contains("httponly") && set.contains("samesite=strict"),
        "{set}"
    );
    // Idle: 29 minutes between requests keep it; 30 without one end it.
    let idle = session_cookie(&head);
    assert_eq!(page(&idle).0, 200);
    c.clock.advance(chrono::Duration::minutes(29));
    assert_eq!(page(&idle).0, 200);
    c.clock.advance(chrono::Duration::minutes(30));
    assert!(signed_out(page(&idle)));
    // Ended for good: time does not bring it back, a new sign-in is needed.
    assert!(signed_out(page(&idle)));
    // Absolute: a session in use every 20 minutes still ends 12 hours after the sign-in.
    let (_, head, _) = login(&c, me, TOKEN);
    let busy = session_cookie(&head);
    for _ in 0..35 {
        c.clock.advance(chrono::Duration::minutes(20));
        assert_eq!(page(&busy).0, 200);
    }
    // 11 h 40 min so far.
    c.clock.advance(chrono::Duration::minutes(20));
    assert!(signed_out(page(&busy)));
}

#[test]
fn retry_back_link_is_only_a_local_path() {
    let c = console();
    let cases = [
        ("//evil.example/x", "/"),
        ("/\\evil.example/x", "/"),
        ("https://evil.example/x", "/"),
        ("javascript:alert(1)", "/"),
        ("/\t/evil.example/x", "/"),
        ("/\r\n/evil.example/x", "/"),
        ("evil.example", "/"),
        ("", "/"),
        ("/job/1.FS", "/job/1.FS"),
        ("/failed?class=B", "/failed?class=B"),
    ];
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    for (back, want) in cases {
        let (_, _, body) = exchange(
            &c.addr,
            "127.0.0.1",
            &form_post(
                "/retry",
                &auth,
                &format!("only=1.FS&back={}", urlencode(back)),
            ),
        );
        let href = body
            .split_once("id=\"back\"")
            .and_then(|(before, _)| before.rsplit_once("href=\""))
            .map(|(_, h)| h.trim_end().trim_end_matches('"'))
            .unwrap_or_else(|| panic!("no back link for {back:?}: {body}"));
        assert_eq!(href, want, "back={back:?}");
    }
}

#[test]
fn the_page_lists_jobs_no_line_serves_with_the_reason() {
    let c = console();
    // The console's CFG has no $line at all: a queued job can never be dialled.
    std::fs::write(
        c._dir.path().join("spool/TOSEND/00000004.FS"),
        "$fax_phone 5550104\n$fax_send_line 7\n",
    )
    .unwrap();
    let (code, _, body) = get(&c.addr, "/failed", Some(TOKEN));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("Held: no line serves them"), "{body}");
    assert!(body.contains("00000004.FS"), "{body}");
    assert!(body.contains("matches no configured line"), "{body}");
}
