//! Spooler load benchmark (a plain bench binary: `cargo bench --bench spool`).
//!
//! Reports, on the same disk in the same run:
//! 1. per-attempt spool cost: the daemon running N one-attempt jobs on a virtual clock with
//!    an instant scripted line (claim, dialling mark, engine, result write, move: 5 fsyncs,
//!    as the move's fsync of `ACTIVE/<node>/` is the next claim's), against a bare loop doing
//!    the minimal safe protocol on the same disk (a durable claim rename, one atomic result
//!    write, a durable move: 6 fsyncs); both counted by the store and printed; and against the same loop
//!    with its write made as the daemon's store makes writes (a spare temporary file exchanged
//!    with the job, no inode allocated);
//! 2. index build time and resident memory for 100,000 and 1,000,000 queued files
//!    (`REDIAL_BENCH_SIZES=100000,1000000` to choose; `REDIAL_BENCH_DIR` for the disk), against
//!    the floors of listing and reading (or just stating) the same files; the summary
//!    `redial status` reads; the snapshot saved at shutdown, and a restart from it in a fresh
//!    process (time and peak RSS);
//! 3. drop-to-dial latency: the real service loop (inotify watcher) with a sim line, jobs
//!    renamed into TOSEND one at a time, time until the daemon starts dialling each.

use chrono::{TimeZone, Utc};
use redial::daemon::clock::{ManualClock, SystemClock};
use redial::daemon::{Daemon, Event};
use redial::line::scripted::ScriptedLine;
use redial::line::{Call, Line};
use redial::spool::store::{fsync_dir, fsyncs_on_this_thread, write_atomic};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn rss_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1).map(|n| n.parse().unwrap_or(0)))
        })
        .unwrap_or(0)
}

/// CPU time this process has used so far, user and system, all threads (`getrusage`).
fn cpu_used() -> Duration {
    // SAFETY: getrusage only writes into the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Wall time and CPU time of one timed part.
#[derive(Clone, Copy)]
struct Took {
    wall: Duration,
    cpu: Duration,
    /// fsyncs made meanwhile (counted by the store, on this thread).
    fsyncs: u64,
}

/// Times `f`: its wall time, the CPU time the process used and the fsyncs made meanwhile.
fn took(f: impl FnOnce()) -> Took {
    let (t, c, n) = (Instant::now(), cpu_used(), fsyncs_on_this_thread());
    f();
    Took {
        wall: t.elapsed(),
        cpu: cpu_used() - c,
        fsyncs: fsyncs_on_this_thread() - n,
    }
}

fn bench_dir() -> tempfile::TempDir {
    match std::env::var("REDIAL_BENCH_DIR") {
        Ok(d) => tempfile::tempdir_in(d).unwrap(),
        Err(_) => tempfile::Builder::new()
            .prefix("redial-bench-")
            .tempdir_in(".")
            .unwrap(),
    }
}

fn write_cfg(dir: &Path, extra: &str) -> std::path::PathBuf {
    let cfg = dir.join("redial.cfg");
    std::fs::write(
        &cfg,
        format!("$request_dir spool 3\n$timezone UTC\n{extra}"),
    )
    .unwrap();
    redial::spool::Layout::new(dir.join("spool"), 3)
        .create(None)
        .unwrap();
    cfg
}

fn job_text(i: usize) -> String {
    format!("; bench job\n$fax_phone 555{i:07}\n$retry_delays B \"1 2 5\"\n")
}

/// Per-attempt cost, in five rounds that alternate the daemon and the two bare loops (the
/// disk's speed drifts within a minute here), each round `n / 5` jobs: the totals, and the
/// median of the rounds' ratios. Wall time is the goal's figure; CPU time (the process's user
/// and system time while each part ran) shows the daemon's own work apart from the disk's
/// waits, which move the wall-time ratio from minute to minute.
fn per_attempt(n: usize) {
    const ROUNDS: usize = 5;
    let m = (n / ROUNDS).max(1);
    let (mut daemon, mut bare, mut spared) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        daemon.push(daemon_attempts(m));
        bare.push(minimal_protocol(m, false));
        // The same protocol with its one atomic write made as the daemon's store makes its
        // writes (into a spare temporary file, exchanged with the job: no inode allocated).
        spared.push(minimal_protocol(m, true));
    }
    let total = |d: &[Took], f: fn(&Took) -> Duration| d.iter().map(f).sum::<Duration>();
    let per = |d: &[Took], f: fn(&Took) -> Duration| {
        total(d, f).as_secs_f64() * 1e6 / (m * ROUNDS) as f64
    };
    let wall = |t: &Took| t.wall;
    let cpu = |t: &Took| t.cpu;
    let median_ratio = |a: &[Took], b: &[Took]| {
        let mut r: Vec<f64> = a
            .iter()
            .zip(b)
            .map(|(a, b)| a.wall.as_secs_f64() / b.wall.as_secs_f64())
            .collect();
        r.sort_by(|x, y| x.partial_cmp(y).unwrap());
        r[r.len() / 2]
    };
    let fsyncs = |d: &[Took]| d.iter().map(|t| t.fsyncs).sum::<u64>() as f64 / (m * ROUNDS) as f64;
    println!(
        "per-attempt ({} jobs in {ROUNDS} alternating rounds, 1 attempt each, fsync on): daemon {:.0} us/attempt ({:.2} fsyncs), minimal protocol {:.0} us/attempt ({:.2} fsyncs), overhead {:.0} us ({:.2}x; median of the rounds' ratios {:.2}x)",
        m * ROUNDS,
        per(&daemon, wall),
        fsyncs(&daemon),
        per(&bare, wall),
        fsyncs(&bare),
        per(&daemon, wall) - per(&bare, wall),
        per(&daemon, wall) / per(&bare, wall),
        median_ratio(&daemon, &bare)
    );
    println!(
        "  the minimal protocol with the store's spared writes: {:.0} us/attempt; the daemon {:.2}x that (median of the rounds' ratios {:.2}x)",
        per(&spared, wall),
        per(&daemon, wall) / per(&spared, wall),
        median_ratio(&daemon, &spared)
    );
    println!(
        "  CPU per attempt (user+system): daemon {:.0} us, minimal protocol {:.0} us ({:.2}x), with spared writes {:.0} us ({:.2}x); the daemon's own work {:.0} us",
        per(&daemon, cpu),
        per(&bare, cpu),
        per(&daemon, cpu) / per(&bare, cpu),
        per(&spared, cpu),
        per(&daemon, cpu) / per(&spared, cpu),
        per(&daemon, cpu) - per(&spared, cpu)
    );
}

/// The daemon running `n` one-attempt jobs on a virtual clock with an instant scripted line:
/// the time from its first claim to its last move.
fn daemon_attempts(n: usize) -> Took {
    let dir = bench_dir();
    let cfg = write_cfg(dir.path(), "");
    let q = dir.path().join("spool/TOSEND");
    for i in 0..n {
        std::fs::write(q.join(format!("{:08}.FS", i + 1)), job_text(i)).unwrap();
    }
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let log = Arc::new(Mutex::new(Vec::new()));
    let script: redial::line::scripted::Script = Arc::new(|_: &Call, _| (0, 1));
    let lines: Vec<Box<dyn Line>> = vec![Box::new(ScriptedLine::new(1, script, log))];
    let mut d = Daemon::new(
        Some(&cfg),
        dir.path(),
        "bench",
        Arc::new(clock.clone()),
        Some(lines),
    )
    .unwrap();
    d.start().unwrap();
    let t = took(|| {
        d.run_virtual(&clock, usize::MAX);
    });
    assert_eq!(d.stats.sent as usize, n);
    t
}

/// The bare loop: the minimal safe protocol, 6 fsyncs per attempt (a durable claim rename, one
/// atomic write of the claimed file with its result, a durable move), no parsing, no engine.
/// The daemon does 5 on a busy node: its dialling mark before the call (so a crash mid-call is
/// known as one), which the minimal protocol leaves out, is a hard link made durable by the
/// fsync of `ACTIVE/<node>/` its claim needs anyway, and that fsync also makes the previous
/// job's move out of `ACTIVE/<node>/` durable (`Store::pay_owed`). With `spared` the atomic write goes
/// through a [`Store`](redial::spool::store::Store) (a spare temporary file) instead of a fresh
/// one.
fn minimal_protocol(n: usize, spared: bool) -> Took {
    let bare_dir = bench_dir();
    let root = bare_dir.path();
    for s in ["TOSEND", "ACTIVE/x", "SENT", "TEMP"] {
        std::fs::create_dir_all(root.join(s)).unwrap();
    }
    for i in 0..n {
        std::fs::write(root.join(format!("TOSEND/{:08}.FS", i + 1)), job_text(i)).unwrap();
    }
    let (qd, ad, sd, td) = (
        root.join("TOSEND"),
        root.join("ACTIVE/x"),
        root.join("SENT"),
        root.join("TEMP"),
    );
    let store = redial::spool::store::Store::new(td.clone(), ".b.");
    let (t, c, f) = (Instant::now(), cpu_used(), fsyncs_on_this_thread());
    for i in 0..n {
        let name = format!("{:08}.FS", i + 1);
        let (src, act, dst) = (qd.join(&name), ad.join(&name), sd.join(&name));
        std::fs::rename(&src, &act).unwrap();
        fsync_dir(&ad).unwrap();
        fsync_dir(&qd).unwrap();
        let bytes = std::fs::read(&act).unwrap();
        let mut done = bytes.clone();
        done.extend_from_slice(b"$fax_status1 3 1\n$fax_tosend 0\n");
        done.extend_from_slice(b"$fax_status2 0\n$attempt_record 03/02/2026 09:00:00 1 0 1 0 S 1 0 0 T1 9600 1 1 \"\"\n");
        if spared {
            store
                .write(redial::spool::store::Point::ResultWrite, &act, &done)
                .unwrap();
        } else {
            write_atomic(&td, ".b.", &act, &done).unwrap();
        }
        std::fs::rename(&act, &dst).unwrap();
        fsync_dir(&sd).unwrap();
        fsync_dir(&ad).unwrap();
    }
    Took {
        wall: t.elapsed(),
        cpu: cpu_used() - c,
        fsyncs: fsyncs_on_this_thread() - f,
    }
}

fn index_build(n: usize) {
    let dir = bench_dir();
    let cfg = write_cfg(dir.path(), "");
    let t = Instant::now();
    for q in 0..4u8 {
        let qd = redial::spool::Layout::new(dir.path().join("spool"), 3).queue_dir(q);
        for i in (q as usize..n).step_by(4) {
            let mut f = std::fs::File::create(qd.join(format!("{:08}.FS", i + 1))).unwrap();
            f.write_all(job_text(i).as_bytes()).unwrap();
        }
    }
    let create = t.elapsed();
    // The floors, on the same files: list and stat each (what a restart from the snapshot must
    // do at least), and list, open and read each (what a restart without one must do).
    let layout = redial::spool::Layout::new(dir.path().join("spool"), 3);
    let t = Instant::now();
    let mut stats = 0;
    for q in layout.queues() {
        let qd = layout.queue_dir(q);
        for name in redial::spool::store::list_jobs(&qd).unwrap() {
            stats += usize::from(redial::spool::store::stamp_at(&qd.join(name)).is_some());
        }
    }
    let stat_floor = t.elapsed();
    let t = Instant::now();
    let mut bytes = 0;
    for q in layout.queues() {
        let qd = layout.queue_dir(q);
        for name in redial::spool::store::list_jobs(&qd).unwrap() {
            bytes += std::fs::read(qd.join(name)).unwrap().len();
        }
    }
    let read_floor = t.elapsed();
    assert_eq!(stats, n);
    let before = rss_kb("VmRSS:");
    let mut d = Daemon::new(
        Some(&cfg),
        dir.path(),
        "bench",
        Arc::new(SystemClock),
        Some(Vec::new()),
    )
    .unwrap();
    let t = Instant::now();
    d.start().unwrap();
    let build = t.elapsed();
    let after = rss_kb("VmRSS:");
    assert_eq!(d.index().len(), n);
    let t = Instant::now();
    d.rescan();
    let rescan = t.elapsed();
    // As the service loop does: the lease is renewed every few seconds, the summary every
    // second; a status trusts a summary only beside a fresh lease.
    d.renew_lease().unwrap();
    let t = Instant::now();
    d.publish_summary();
    let publish = t.elapsed();
    let sys = redial::load::SystemConfig::load(&cfg).unwrap();
    let t = Instant::now();
    let st = redial::spool::report::status(&layout, &sys, chrono::Utc::now()).unwrap();
    let status = t.elapsed();
    // The bench node has no line: its summary counts every job as unserved.
    assert_eq!(
        st.queues.iter().map(|q| q.due + q.unserved).sum::<usize>(),
        n
    );
    let t = Instant::now();
    d.shutdown();
    let save = t.elapsed();
    drop(d);
    println!(
        "index {n:>9} files ({bytes} bytes): created in {:.1} s; floors: list+stat {:.2} s, list+read {:.2} s",
        create.as_secs_f64(),
        stat_floor.as_secs_f64(),
        read_floor.as_secs_f64(),
    );
    println!(
        "  first start (read + parse + index every file) {:.2} s = {:.1} us/file ({:.1}x the read floor); \
         RSS +{} MiB ({} bytes/job), peak RSS {} MiB; reconciling rescan {:.2} s",
        build.as_secs_f64(),
        build.as_secs_f64() * 1e6 / n as f64,
        build.as_secs_f64() / read_floor.as_secs_f64(),
        (after.saturating_sub(before)) / 1024,
        (after.saturating_sub(before)) * 1024 / n as u64,
        rss_kb("VmHWM:") / 1024,
        rescan.as_secs_f64()
    );
    println!(
        "  summary published in {:.0} ms; redial status from it {:.1} ms; snapshot saved at shutdown in {:.2} s",
        publish.as_secs_f64() * 1e3,
        status.as_secs_f64() * 1e3,
        save.as_secs_f64(),
    );
    // The restart, in a fresh process so its memory is its own.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .env("REDIAL_BENCH_RESTART", dir.path())
        .env("REDIAL_BENCH_RESTART_N", n.to_string())
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout);
    let f: Vec<f64> = line
        .split_whitespace()
        .map(|s| s.parse().unwrap_or(f64::NAN))
        .collect();
    println!(
        "  restart from the snapshot: dialling after {:.2} s (snapshot read, index built); every file checked after {:.2} s ({:.1}x the list+stat floor); peak RSS {} MiB",
        f.first().copied().unwrap_or(f64::NAN),
        f.get(1).copied().unwrap_or(f64::NAN),
        f.get(1).copied().unwrap_or(f64::NAN) / stat_floor.as_secs_f64(),
        f.get(2).copied().unwrap_or(f64::NAN),
    );
    let t = Instant::now();
    drop(dir);
    eprintln!("  (cleanup {:.1} s)", t.elapsed().as_secs_f64());
}

/// The child of [`index_build`]: starts the node on the spool left there and prints the start
/// time in seconds and its peak RSS in MiB.
fn restart_child(dir: &Path, n: usize) {
    let mut d = Daemon::new(
        Some(&dir.join("redial.cfg")),
        dir,
        "bench",
        Arc::new(SystemClock),
        Some(Vec::new()),
    )
    .unwrap();
    let t = Instant::now();
    assert!(d.start_serving().unwrap(), "the snapshot was not used");
    let ready = t.elapsed();
    assert_eq!(d.index().len(), n);
    // What `redial run` does on its thread meanwhile, here in line: stat every file, check.
    let layout = d.layout().clone();
    let queues = d.settings().order.clone();
    redial::daemon::stat_queued(&layout, &queues, |b| {
        d.reconcile(b);
        true
    });
    d.rescan();
    let checked = t.elapsed();
    assert_eq!(d.index().len(), n);
    println!(
        "{:.3} {:.3} {}",
        ready.as_secs_f64(),
        checked.as_secs_f64(),
        rss_kb("VmHWM:") / 1024
    );
}

fn drop_to_dial(n: usize) {
    let dir = bench_dir();
    let cfg = write_cfg(
        dir.path(),
        "$line 1 sim outcomes=0@0\n$rescan_interval 3600\n",
    );
    let d0 = dir.path().to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel::<(String, Instant)>();
    let mut d = Daemon::new(Some(&cfg), &d0, "bench", Arc::new(SystemClock), None).unwrap();
    d.on_event(move |e| {
        if let Event::Dialling { job, .. } = e {
            let _ = tx.send((job.clone(), Instant::now()));
        }
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = std::thread::spawn(move || rt.block_on(redial::daemon::service::serve(d)));
    std::thread::sleep(Duration::from_millis(300));
    let q = d0.join("spool/TOSEND");
    let tmp = d0.join("spool/TEMP");
    let mut lat = Vec::new();
    for i in 0..n {
        let name = format!("{:08}.FS", i + 1);
        let staged = tmp.join(format!("w{name}"));
        std::fs::write(&staged, job_text(i)).unwrap();
        let t = Instant::now();
        std::fs::rename(&staged, q.join(&name)).unwrap();
        let Ok((job, at)) = rx.recv_timeout(Duration::from_secs(10)) else {
            panic!("not dialled; the node ended with {:?}", server.join());
        };
        assert_eq!(job, name);
        lat.push(at - t);
    }
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(std::process::id().to_string())
        .status();
    let _ = server.join();
    lat.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "drop-to-dial ({n} jobs renamed into TOSEND one at a time, inotify): median {:.2} ms, p90 {:.2} ms, max {:.2} ms",
        ms(lat[n / 2]),
        ms(lat[n * 9 / 10]),
        ms(lat[n - 1])
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing useful either.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if let Ok(dir) = std::env::var("REDIAL_BENCH_RESTART") {
        let n = std::env::var("REDIAL_BENCH_RESTART_N")
            .unwrap()
            .parse()
            .unwrap();
        return restart_child(Path::new(&dir), n);
    }
    let sizes: Vec<usize> = std::env::var("REDIAL_BENCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    println!(
        "redial spool benchmark (disk: {})",
        std::env::var("REDIAL_BENCH_DIR").unwrap_or_else(|_| ".".into())
    );
    // `REDIAL_BENCH_ONLY=index` skips the per-attempt and drop-to-dial parts;
    // `REDIAL_BENCH_ONLY=attempt` runs only the per-attempt part. `REDIAL_BENCH_ATTEMPTS`
    // jobs, default 2500: on a virtual disk whose fsyncs vary by the minute, eight runs of 500
    // spread from 1.05x to 1.42x, seven of 2500 from 1.03x to 1.18x (a small number is for
    // tracing it, `strace -f -c`).
    let attempts = std::env::var("REDIAL_BENCH_ATTEMPTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2500);
    let only = std::env::var("REDIAL_BENCH_ONLY").unwrap_or_default();
    if only == "attempt" {
        return per_attempt(attempts);
    }
    if only != "index" {
        per_attempt(attempts);
        drop_to_dial(50);
    }
    for n in sizes {
        index_build(n);
    }
}
