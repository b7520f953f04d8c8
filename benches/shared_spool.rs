//! Per-attempt cost on a shared spool (`cargo bench --bench shared_spool`).
//!
//! The daemon runs N one-attempt jobs (virtual clock, an instant scripted line: claim, claim
//! write, engine, result write, move, with every fsync) twice in the same run: on the local disk,
//! and on an sshfs mount of a directory served by a throw-away sshd on 127.0.0.1 with the
//! options docs/scale-out.md asks for (the rig of tests/scale_out_sshfs.rs). Prints attempts/s
//! of each and their ratio. `REDIAL_BENCH_JOBS` sets N (default 300). Needs root, sshd, sshfs
//! and /dev/fuse; without them it says why and measures nothing.

#[path = "../tests/common/sshfs.rs"]
mod sshfs;

use chrono::{TimeZone, Utc};
use redial::daemon::clock::ManualClock;
use redial::daemon::Daemon;
use redial::line::scripted::ScriptedLine;
use redial::line::{Call, Line};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Runs `n` one-attempt jobs on a spool under `base`; returns the time the daemon took.
fn run(base: &Path, n: usize) -> Duration {
    let cfg = base.join("redial.cfg");
    std::fs::write(&cfg, "$request_dir spool 2\n$timezone UTC\n").unwrap();
    redial::spool::Layout::new(base.join("spool"), 2)
        .create(None)
        .unwrap();
    let q = base.join("spool/TOSEND");
    for i in 0..n {
        std::fs::write(
            q.join(format!("{:08}.FS", i + 1)),
            format!("$fax_phone 555{i:07}\n"),
        )
        .unwrap();
    }
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let script: redial::line::scripted::Script = Arc::new(|_: &Call, _| (0, 1));
    let log = Arc::new(Mutex::new(Vec::new()));
    let lines: Vec<Box<dyn Line>> = vec![Box::new(ScriptedLine::new(1, script, log))];
    let mut d = Daemon::new(
        Some(&cfg),
        base,
        "bench",
        Arc::new(clock.clone()),
        Some(lines),
    )
    .unwrap();
    d.start().unwrap();
    let t = Instant::now();
    d.run_virtual(&clock, usize::MAX);
    let took = t.elapsed();
    assert_eq!(d.stats.sent as usize, n, "every job sent");
    d.shutdown();
    took
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("REDIAL_BENCH_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(300);
    if let Some(why) = sshfs::missing() {
        println!("shared_spool: skipped: the sshfs rig cannot start here: {why}");
        return;
    }
    let local = tempfile::Builder::new()
        .prefix("redial-bench-")
        .tempdir_in(".")
        .unwrap();
    let local_t = run(local.path(), n);
    let mut rig = sshfs::Rig::start();
    let mount = rig.mount("a", sshfs::SAFE_OPTIONS);
    let base = mount.join("bench");
    std::fs::create_dir_all(&base).unwrap();
    let shared_t = run(&base, n);
    let rate = |t: Duration| n as f64 / t.as_secs_f64();
    let ms = |t: Duration| t.as_secs_f64() * 1000.0 / n as f64;
    println!("shared_spool: {n} one-attempt jobs, every fsync on");
    println!(
        "  local disk:                 {:8.1} attempts/s  {:6.2} ms/attempt",
        rate(local_t),
        ms(local_t)
    );
    println!(
        "  sshfs (-o {}):     {:8.1} attempts/s  {:6.2} ms/attempt",
        sshfs::SAFE_OPTIONS,
        rate(shared_t),
        ms(shared_t)
    );
    println!(
        "  shared/local: {:.2}x the time per attempt ({:.2} of the local rate)",
        shared_t.as_secs_f64() / local_t.as_secs_f64(),
        rate(shared_t) / rate(local_t)
    );
}
