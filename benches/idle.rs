//! Idle cost of a node (a plain bench binary: `cargo bench --bench idle`).
//!
//! A real `redial run` over a spool of N queued jobs all waiting for a future send date
//! (`REDIAL_IDLE_JOBS`, default 100,000), watched for `REDIAL_IDLE_SECS` (default 60) after it
//! has indexed them. Prints, from the same run:
//! * CPU seconds the node used while idle, and that as a share of one core;
//! * the CPU seconds its start-up index pass took (the floor every figure is set against: idle
//!   cost as a fraction of one indexing pass);
//! * how many files it opened while idle (`strace -c -e trace=openat,open` attached to it, when
//!   strace is installed): the periodic rescan lists directories but opens no job it knows.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / 100.0
}

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let jobs = env("REDIAL_IDLE_JOBS", 100_000);
    let secs = env("REDIAL_IDLE_SECS", 60);
    let dir = tempfile::Builder::new()
        .prefix("redial-idle-")
        .tempdir_in(".")
        .unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 2\n$timezone UTC\n$line 1 sim\n$line 2 sim\n",
    )
    .unwrap();
    let q = base.join("spool/TOSEND1");
    std::fs::create_dir_all(&q).unwrap();
    for i in 0..jobs {
        let mut f = std::fs::File::create(q.join(format!("{:08}.FS", i + 1))).unwrap();
        writeln!(
            f,
            "$fax_phone 555{:04}\n$fax_send_date 01/01/2030",
            i % 10_000
        )
        .unwrap();
    }
    let log = base.join("node.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_redial"))
        .args(["run", "--cfg", "redial.cfg", "--node", "n1", "--base", "."])
        .current_dir(base)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let started = Instant::now();
    while !std::fs::read_to_string(&log)
        .unwrap_or_default()
        .contains("spooler running")
    {
        assert!(started.elapsed() < Duration::from_secs(600), "never ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let index_wall = started.elapsed();
    let index_cpu = cpu_secs(pid);
    let strace = Command::new("strace")
        .args([
            "-f",
            "-c",
            "-e",
            "trace=openat,open",
            "-p",
            &pid.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .ok();
    let before = cpu_secs(pid);
    std::thread::sleep(Duration::from_secs(secs));
    let idle_cpu = cpu_secs(pid) - before;
    let opens = strace.map(|s| {
        let _ = Command::new("kill")
            .args(["-INT", &s.id().to_string()])
            .status();
        let out = s.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stderr).to_string();
        text.lines()
            .filter(|l| l.contains("openat") || l.trim_end().ends_with(" open"))
            .filter_map(|l| {
                l.split_whitespace()
                    .nth(3)
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .sum::<u64>()
    });
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    println!("idle node with {jobs} future jobs, {secs} s watched after indexing");
    println!(
        "  index pass (floor): {:.2} s CPU, {:.2} s wall",
        index_cpu,
        index_wall.as_secs_f64()
    );
    println!(
        "  idle: {:.3} s CPU = {:.3}% of one core = {:.4}× the index pass",
        idle_cpu,
        100.0 * idle_cpu / secs as f64,
        idle_cpu / index_cpu.max(0.01)
    );
    match opens {
        Some(n) => println!("  files opened while idle: {n} (strace)"),
        None => println!("  files opened while idle: not measured (strace not installed)"),
    }
}
