//! The web console at 100,000 jobs: builds a spool (10,000 queued, 200 in progress, 70,000 in
//! SENT, 19,800 in FAIL, a node's lease, live call steps and summary), starts the real
//! `redial web` on it and times its answers over HTTP: the overview page and its JSON, the jobs
//! page (first page, a search, a filtered deep page), one job's page, the failed jobs with their
//! eligibility (a selection, and all of them as JSON), against floors measured in the same run
//! (reading and parsing the published summary file; an HTTP round trip to the login page).
//!
//! `cargo bench --bench console` (prints medians and 99th percentiles in milliseconds).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "console-bench-token";
const ROUNDS: usize = 60;

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rec(day: u32, code: u32, class: char) -> String {
    format!("$attempt_record 03/{day:02}/2026 09:00:00 1 0 1 {code} {class} 0 0 0 S1 0 5 0 \"\"\n")
}

fn build(root: &std::path::Path) {
    let spool = root.join("spool");
    for d in ["TOSEND", "TOSEND1", "ACTIVE/n1", "SENT", "FAIL", "TEMP"] {
        std::fs::create_dir_all(spool.join(d)).unwrap();
    }
    let lines: String = (1..=8)
        .map(|l| format!("$line {l} sim group=fax\n"))
        .collect();
    std::fs::write(
        root.join("redial.cfg"),
        format!(
            "$request_dir spool 1\n$timezone Europe/Paris\n$web_token {TOKEN}\n{lines}\
             $retry_delays B \"60\"\n"
        ),
    )
    .unwrap();
    std::fs::write(root.join("page.txt"), "x\n").unwrap();
    for i in 0..100_000u32 {
        let mut t = format!("$fax_phone 555 {:04}\n$fax_filename page.txt\n", i % 10_000);
        let dir = match i {
            0..10_000 => {
                if i % 4 == 0 {
                    t.push_str(&rec(1, 2, 'B'));
                    t.push_str(
                        "$fax_status1 2\n$fax_next_date 03/02/2099\n$fax_next_time 11:00:00\n",
                    );
                }
                if i % 2 == 0 {
                    "TOSEND"
                } else {
                    "TOSEND1"
                }
            }
            10_000..10_200 => "ACTIVE/n1",
            10_200..80_200 => {
                t.push_str(&rec(1 + i % 28, 0, 'S'));
                "SENT"
            }
            _ => {
                t.push_str(&rec(1 + i % 28, 2, 'B'));
                t.push_str(&rec(1 + i % 28, 17, 'Z'));
                t.push_str("$fail_reason \"too many busy signals\"\n");
                "FAIL"
            }
        };
        std::fs::write(spool.join(dir).join(format!("{i:08}.FS")), t).unwrap();
    }
    let now = chrono::Utc::now().to_rfc3339();
    let lines: Vec<String> = (1..=8)
        .map(|l| {
            format!(
                r#"{{"line":{l},"state":"busy","job":"{:08}.FS"}}"#,
                10_000 + l
            )
        })
        .collect();
    std::fs::write(
        spool.join("ACTIVE/n1.lease"),
        format!(
            r#"{{"node":"n1","pid":1,"renewed":"{now}","stale_after":3600,"draining":false,"lines":[{}],"generation":1,"host":"bench"}}"#,
            lines.join(",")
        ),
    )
    .unwrap();
    let calls: Vec<String> = (1..=8)
        .map(|l| {
            format!(
                r#"{{"job":"{:08}.FS","attempt":1,"line":{l},"at":"{now}","step":"page 2/5 at 14400"}}"#,
                10_000 + l
            )
        })
        .collect();
    std::fs::write(
        spool.join("ACTIVE/n1.calls.json"),
        format!(r#"{{"node":"n1","calls":[{}]}}"#, calls.join(",")),
    )
    .unwrap();
    std::fs::write(
        spool.join("ACTIVE/n1.summary.json"),
        format!(
            r#"{{"node":"n1","as_of":"{now}","queues":[{{"queue":"TOSEND","due":3750,"held":0,"held_until":null,"waiting_retry":1250,"scheduled":0,"unserved":0}},{{"queue":"TOSEND1","due":3750,"held":0,"held_until":null,"waiting_retry":1250,"scheduled":0,"unserved":0}}],"held":[],"held_total":0}}"#
        ),
    )
    .unwrap();
}

fn get(addr: &str, path: &str) -> (u16, usize) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: bench\r\nAuthorization: Bearer {TOKEN}\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let head = String::from_utf8_lossy(&raw[..raw.len().min(16)]).into_owned();
    (head.split(' ').nth(1).unwrap().parse().unwrap(), raw.len())
}

fn stats(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let p = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (p(0.5), p(0.99))
}

fn time(what: &str, mut f: impl FnMut() -> usize) {
    let mut ms = Vec::with_capacity(ROUNDS);
    let mut bytes = 0;
    for _ in 0..ROUNDS {
        let t = Instant::now();
        bytes = f();
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (median, p99) = stats(ms);
    println!("{what:<58} median {median:8.2} ms  p99 {p99:8.2} ms  ({bytes} bytes)");
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let t = Instant::now();
    build(dir.path());
    println!(
        "built a spool of 100,000 jobs in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut child = Command::new(env!("CARGO_BIN_EXE_redial"))
        .args([
            "web",
            "--listen",
            "127.0.0.1:0",
            "--cfg",
            "redial.cfg",
            "--base",
            ".",
        ])
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _web = Kill(child);
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap()
        .trim_end_matches('/')
        .to_string();

    let summary = dir.path().join("spool/ACTIVE/n1.summary.json");
    time("floor: read and parse the published summary file", || {
        let b = std::fs::read(&summary).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&b).unwrap();
        assert!(v["queues"].is_array());
        b.len()
    });
    time("floor: HTTP round trip, GET /login", || {
        get(&addr, "/login").1
    });

    let t = Instant::now();
    let (status, _) = get(&addr, "/api/jobs");
    assert_eq!(status, 200);
    println!(
        "first request, the catalogue read from 100,000 files: {:.0} ms",
        t.elapsed().as_secs_f64() * 1000.0
    );
    let ok = |path: &'static str| {
        let addr = addr.clone();
        move || {
            let (status, n) = get(&addr, path);
            assert_eq!(status, 200, "{path}");
            n
        }
    };
    time("GET / (overview page, lines panel)", ok("/"));
    time("GET /api/overview", ok("/api/overview"));
    time("GET /api/lines (what the page polls)", ok("/api/lines"));
    time("GET /jobs (first page of 100,000)", ok("/jobs"));
    time(
        "GET /jobs?q=555%200042 (text search, 10 rows)",
        ok("/jobs?q=555%200042"),
    );
    time(
        "GET /jobs?state=failed&page=300 (deep page)",
        ok("/jobs?state=failed&page=300"),
    );
    time(
        "GET /api/jobs?state=sent&since=2026-03-10&until=2026-03-12",
        ok("/api/jobs?state=sent&since=2026-03-10&until=2026-03-12"),
    );
    time(
        "GET /job/NAME (a failed job: history, eligibility, actions)",
        ok("/job/00090000"),
    );
    time(
        "GET /api/jobs/NAME (the same job)",
        ok("/api/jobs/00090000"),
    );
    time(
        "GET /failed?dest=5550042* (failed jobs to some numbers, with eligibility)",
        ok("/failed?dest=5550042*"),
    );
    time(
        "GET /api/failed (every failed job, 19,800, with eligibility)",
        ok("/api/failed"),
    );
    // A job lands in SENT before each request: SENT is listed again and the one file read.
    let sent = dir.path().join("spool/SENT");
    let mut ms = Vec::new();
    for n in 0..20u32 {
        std::fs::write(
            sent.join(format!("{:08}.FS", 200_000 + n)),
            "$fax_phone 5550000\n",
        )
        .unwrap();
        // Past the refresh interval, so this request refreshes.
        std::thread::sleep(Duration::from_millis(600));
        let t = Instant::now();
        assert_eq!(get(&addr, "/jobs").0, 200);
        ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let (median, p99) = stats(ms);
    println!(
        "{:<58} median {median:8.2} ms  p99 {p99:8.2} ms",
        "GET /jobs after a job moved to SENT (70,000 listed)"
    );
}
