//! Line turnaround through the real service loop (a plain bench binary:
//! `cargo bench --bench turnaround`).
//!
//! A real `redial run` with one modem line on a hw-sim rack (pty, time scale 0.0001, every call
//! busy) works through N jobs (`REDIAL_TURN_JOBS`, default 40). From the node's JSON log:
//! the time from each attempt's end ("attempt ended") to the next dial on the same line
//! ("dialling"), p50/p90/p99/max. The floor, measured in the same run on the same disk: a bare
//! loop doing the file work that lies between the two events (write the record atomically and
//! move the job to FAIL; claim the next one by rename and write its claim atomically, each with
//! its fsyncs), so the ratio shows what the service loop adds to the disk's own cost.
//!
//! Then retry timing (issue 12, item 2): a second `redial run` on the same rack with one job
//! whose calls are all busy and whose list is `REDIAL_RETRIES` (default 30) retries of `1S`.
//! From the node's log, each retry's lateness: its "dialling" time minus the instant the
//! engine gave it ("attempt ended", `next = retry … at …`); negative would be a retry started
//! early. The floor, in the same run: how late a bare thread wakes from a sleep until an
//! instant, the same number of times.

mod common;
use common::pct;
use redial::spool::store::{rename_durable, write_atomic};
use redial_sim::rack::RackConfig;
use redial_sim::scenario::Scenario;
use std::process::Command;
use std::time::{Duration, Instant};

const SCENARIO: &str = "[defaults]\nunknown = { kind = \"busy\" }\n";

type LogTime = chrono::DateTime<chrono::Utc>;

/// For each "dialling" line of a node's JSON log that follows an "attempt ended" line, the
/// time in ms from the instant `start` takes from that "attempt ended" line (its time and its
/// fields) to the dial.
fn to_next_dial(
    log: &str,
    start: impl Fn(LogTime, &serde_json::Value) -> Option<LogTime>,
) -> Vec<f64> {
    let mut out = Vec::new();
    let mut from: Option<LogTime> = None;
    for line in log.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let at: LogTime = v["timestamp"].as_str().unwrap().parse().unwrap();
        match v["fields"]["message"].as_str().unwrap_or("") {
            "attempt ended" => from = start(at, &v["fields"]),
            "dialling" => {
                if let Some(f) = from.take() {
                    out.push((at - f).num_microseconds().unwrap() as f64 / 1000.0);
                }
            }
            _ => {}
        }
    }
    out
}

/// Each turnaround in ms: an attempt's end to the next dial.
fn gaps(log: &str) -> Vec<f64> {
    to_next_dial(log, |at, _| Some(at))
}

/// The bare loop: per gap, two atomic writes and two durable renames, as the daemon does.
fn floor(dir: &std::path::Path, n: usize) -> Vec<f64> {
    let (temp, q, active, fail) = (dir.join("T"), dir.join("Q"), dir.join("A"), dir.join("F"));
    for d in [&temp, &q, &active, &fail] {
        std::fs::create_dir_all(d).unwrap();
    }
    let body = b"$fax_phone 5550000\n$fax_filename page.txt\n$fax_status1 3 1\n".repeat(2);
    for i in 0..=n {
        std::fs::write(q.join(format!("{i}.FS")), &body).unwrap();
    }
    let mut out = Vec::new();
    for i in 0..n {
        let (a, b) = (
            active.join(format!("{i}.FS")),
            active.join(format!("{}.FS", i + 1)),
        );
        std::fs::rename(q.join(format!("{i}.FS")), &a).unwrap();
        let t = Instant::now();
        write_atomic(&temp, ".f.", &a, &body).unwrap();
        rename_durable(&a, &fail.join(format!("{i}.FS"))).unwrap();
        rename_durable(&q.join(format!("{}.FS", i + 1)), &b).unwrap();
        write_atomic(&temp, ".f.", &b, &body).unwrap();
        out.push(t.elapsed().as_secs_f64() * 1000.0);
        std::fs::rename(&b, q.join(format!("{}.FS", i + 1))).unwrap();
    }
    out
}

/// Each retry's lateness in ms (its dial minus its instant, `next = retry … at …`).
fn lateness(log: &str) -> Vec<f64> {
    to_next_dial(log, |_, fields| {
        fields["next"]
            .as_str()
            .and_then(|n| n.rsplit_once(" at "))
            .map(|(_, t)| t.parse().unwrap())
    })
}

/// The floor for lateness: how late a bare thread wakes from sleeping until an instant 50 ms
/// ahead, `n` times.
fn timer_floor(n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let until = Instant::now() + Duration::from_millis(50);
            std::thread::sleep(until - Instant::now());
            (Instant::now() - until).as_secs_f64() * 1000.0
        })
        .collect()
}

/// Runs one job through `retries` busy retries of `1S` on the rack's modem and returns each
/// retry's lateness (ms).
fn retry_run(dir: &std::path::Path, tty: &std::path::Path, retries: usize) -> Vec<f64> {
    std::fs::create_dir_all(dir.join("spool/TOSEND")).unwrap();
    std::fs::write(
        dir.join("redial.cfg"),
        format!(
            "$request_dir spool 1\n$timezone UTC\n$retry_delays B \"{}\"\n\
             $line 1 {} class=2.0 dial_timeout=20\n",
            vec!["1S"; retries].join(" "),
            tty.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("page.txt"), "A page.\n").unwrap();
    std::fs::write(
        dir.join("spool/TOSEND/00000001.FS"),
        "$fax_phone 5559999\n$fax_filename page.txt\n",
    )
    .unwrap();
    let log = dir.join("node.jsonl");
    let mut node = common::spawn_node(dir, &log);
    let t = Instant::now();
    let fail = dir.join("spool/FAIL");
    while std::fs::read_dir(&fail).map_or(0, |r| r.count()) < 1 {
        assert!(
            t.elapsed() < Duration::from_secs(30 + 3 * retries as u64),
            "the job did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status();
    let _ = node.wait();
    lateness(&std::fs::read_to_string(&log).unwrap())
}

fn main() {
    let retries: usize = std::env::var("REDIAL_RETRIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    let jobs: usize = std::env::var("REDIAL_TURN_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = tempfile::Builder::new()
        .prefix("redial-turn-")
        .tempdir_in(".")
        .unwrap();
    let rack_dir = base.path().join("rack");
    let cfg = RackConfig {
        modems: 1,
        dir: rack_dir.clone(),
        scenario: Scenario::parse(SCENARIO).unwrap(),
        time_scale: 0.0001,
        bps: 0,
    };
    let rack = common::Rack::start(&rt, cfg);
    common::wait_ready(&rack_dir);
    std::fs::write(
        base.path().join("redial.cfg"),
        format!(
            "$request_dir spool 1\n$timezone UTC\n$retry_delays B \"\"\n\
             $line 1 {} class=2.0 dial_timeout=20\n",
            rack_dir.join("ttySIM0").display()
        ),
    )
    .unwrap();
    let q = base.path().join("spool/TOSEND");
    std::fs::create_dir_all(&q).unwrap();
    std::fs::write(base.path().join("page.txt"), "A page.\n").unwrap();
    for i in 0..jobs {
        std::fs::write(
            q.join(format!("{:08}.FS", i + 1)),
            format!("$fax_phone 555{:04}\n$fax_filename page.txt\n", i),
        )
        .unwrap();
    }
    let log = base.path().join("node.jsonl");
    let mut node = common::spawn_node(base.path(), &log);
    let t = Instant::now();
    let fail = base.path().join("spool/FAIL");
    while std::fs::read_dir(&fail).map_or(0, |r| r.count()) < jobs {
        assert!(
            t.elapsed() < Duration::from_secs(300),
            "jobs did not finish"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status();
    let _ = node.wait();
    let mut late = retry_run(
        &base.path().join("retry"),
        &rack_dir.join("ttySIM0"),
        retries,
    );
    rack.stop(&rt);
    let mut g = gaps(&std::fs::read_to_string(&log).unwrap());
    let mut f = floor(&base.path().join("floor"), g.len().max(40));
    println!(
        "line turnaround, hang-up to next dial on one modem line ({} gaps, ms):",
        g.len()
    );
    let row = |name: &str, v: &mut [f64]| {
        println!(
            "  {name:<28} p50 {:7.1}  p90 {:7.1}  p99 {:7.1}  max {:7.1}",
            pct(v, 0.5),
            pct(v, 0.9),
            pct(v, 0.99),
            pct(v, 1.0)
        );
    };
    row("redial run (service loop)", &mut g);
    row("floor: the file work alone", &mut f);
    println!(
        "  ratio to the floor: p50 {:.2}x  p99 {:.2}x",
        pct(&mut g, 0.5) / pct(&mut f, 0.5),
        pct(&mut g, 0.99) / pct(&mut f, 0.99)
    );
    let mut tf = timer_floor(late.len().max(30));
    println!(
        "retry lateness, dial minus the engine's instant ({} retries of 1S, ms; negative = early):",
        late.len()
    );
    let earliest = late.iter().copied().fold(f64::INFINITY, f64::min);
    row("redial run (service loop)", &mut late);
    row("floor: a bare timed sleep", &mut tf);
    println!(
        "  earliest {earliest:.1} ms (never before the instant: {}); ratio to the floor: p50 {:.2}x  p99 {:.2}x",
        earliest >= 0.0,
        pct(&mut late, 0.5) / pct(&mut tf, 0.5),
        pct(&mut late, 0.99) / pct(&mut tf, 0.99)
    );
}
