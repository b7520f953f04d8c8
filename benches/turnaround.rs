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

mod common;
use common::pct;
use redial::spool::store::{rename_durable, write_atomic};
use redial_sim::rack::RackConfig;
use redial_sim::scenario::Scenario;
use std::process::Command;
use std::time::{Duration, Instant};

const SCENARIO: &str = "[defaults]\nunknown = { kind = \"busy\" }\n";

fn gaps(log: &str) -> Vec<f64> {
    let mut out = Vec::new();
    let mut ended: Option<chrono::DateTime<chrono::Utc>> = None;
    for line in log.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let at: chrono::DateTime<chrono::Utc> = v["timestamp"].as_str().unwrap().parse().unwrap();
        match v["fields"]["message"].as_str().unwrap_or("") {
            "attempt ended" => ended = Some(at),
            "dialling" => {
                if let Some(e) = ended.take() {
                    out.push((at - e).num_microseconds().unwrap() as f64 / 1000.0);
                }
            }
            _ => {}
        }
    }
    out
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

fn main() {
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
}
