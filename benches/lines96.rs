//! Many lines on one node (a plain bench binary: `cargo bench --bench lines96`).
//!
//! Four hw-sim racks of 24 modems (four 24-port boards, 96 lines; `REDIAL_LINES` changes the
//! total, split over four boards) run in this process on ptys. A real `redial run` child has one
//! `$line` per modem and enough fax jobs queued that every line stays busy for the whole
//! measuring window. Every number answers as a fax machine after one to four rings (by its last
//! digit); line time runs at `REDIAL_LINES_SCALE`: by default 1, the real pace (a one-page call
//! takes 35 to 50 s: the rings, the Class 2.0 exchange, the page), which is what "96 busy lines"
//! means; `REDIAL_LINES_SCALE=0.05` runs line time 20 times faster (a call of 1.7 to 2.6 s), so
//! the 96 lines make as many calls a second as about 1,900 real lines would: a stress of the
//! node's cost per call, not the goal's setting.
//!
//! Once every line has finished a call, a window of `REDIAL_LINES_SECS` (default 60) seconds is
//! measured:
//!
//! * redial's CPU: utime+stime of the child from `/proc/PID/stat` over the window, per call, per
//!   line and as a share of one core;
//! * two floors for it, from the same run: this process's own CPU in the window, which is
//!   hw-sim's 96 modems playing the other end of the same calls (AT interpreter, T.4 decoding of
//!   every page, TIFF and call log writing); and the CPU of the spool's file work for one
//!   turnaround (the renames, writes and fsyncs, done in a bare loop as `benches/turnaround.rs`
//!   does, in a thread beside the node during the window, one turnaround every
//!   `REDIAL_LINES_FLOOR_MS` = 100 ms, so it meets the same disk), which the durable spool
//!   protocol costs whatever the daemon does around it;
//! * calls per line in the window (min, mean, max; calls differ in length by their rings), and
//!   the share of the window each line spent in calls (from hw-sim's call log): a starved line
//!   shows as a low minimum share;
//! * turnaround per line, p50/p99/max: from the node's JSON log ("attempt ended" → next
//!   "dialling" on the same line, as `benches/turnaround.rs` measures it), and as the modem sees
//!   it (hw-sim's `calls.jsonl`: the end of one call → the next `ATD` on the same modem, which
//!   adds the time a result waits before the node takes it and the modem commands around the
//!   dial); against the wall time of the same bare file work in the same window (the
//!   turnaround's floor: the disk's latency at that moment, hw-sim's page writes included).
//!
//! `REDIAL_LINES_KEEP=1` keeps the scratch directory (node log, spool, call logs) and prints
//! where it is.
//!
//! The goal (issue 12, item 6): 96 busy lines cost less than 10% of one core, turnaround p99
//! at most 30 ms. The run prints figures; it asserts nothing about time.

mod common;
use common::{count, env, pct};
use redial::spool::store::{rename_durable, write_atomic};
use redial_sim::rack::RackConfig;
use redial_sim::scenario::Scenario;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const BOARDS: usize = 4;
/// Every number answers as a fax machine after 1 to 4 rings (by its last digit), so calls last
/// 1.7 to 2.6 s at the default scale and the lines do not stay in lockstep as identical calls
/// would (all 96 lines hanging up within the same few milliseconds, call after call).
fn scenario() -> String {
    let mut s = String::from("[defaults]\nunknown = { kind = \"fax\", csi = \"BENCH\" }\n");
    for d in 0..10 {
        s.push_str(&format!(
            "[[number]]\npattern = \"*{d}\"\noutcome = {{ kind = \"fax\", csi = \"BENCH\", rings = {} }}\n",
            1 + d % 4
        ));
    }
    s
}

/// utime+stime of a process, in seconds (all its threads).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces: the fields after it start behind the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

/// CPU time of the calling thread, in seconds.
fn thread_cpu() -> f64 {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    t.tv_sec as f64 + t.tv_nsec as f64 / 1e9
}

/// The file work of one turnaround in a bare loop, as `benches/turnaround.rs` measures it:
/// write the record atomically and move the job on; claim the next one by rename and write its
/// claim atomically, each with its fsyncs. It runs beside the node during the window (one
/// turnaround every `pace`), so it meets the same disk. Per turnaround: (ms of wall time, ms of
/// CPU); and the thread's whole CPU time in seconds (taken off hw-sim's figure).
fn floor(dir: &Path, stop: &AtomicBool, pace: Duration) -> (Vec<(f64, f64)>, f64) {
    let started = thread_cpu();
    let (temp, q, active, done) = (dir.join("T"), dir.join("Q"), dir.join("A"), dir.join("S"));
    for d in [&temp, &q, &active, &done] {
        std::fs::create_dir_all(d).unwrap();
    }
    let body = b"$fax_phone 5550000\n$fax_filename page.txt\n$fax_status1 3 1\n".repeat(2);
    std::fs::write(q.join("0.FS"), &body).unwrap();
    let mut out = Vec::new();
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        std::fs::write(q.join(format!("{}.FS", i + 1)), &body).unwrap();
        let (a, b) = (
            active.join(format!("{i}.FS")),
            active.join(format!("{}.FS", i + 1)),
        );
        std::fs::rename(q.join(format!("{i}.FS")), &a).unwrap();
        let (t, c) = (Instant::now(), thread_cpu());
        write_atomic(&temp, ".f.", &a, &body).unwrap();
        rename_durable(&a, &done.join(format!("{i}.FS"))).unwrap();
        rename_durable(&q.join(format!("{}.FS", i + 1)), &b).unwrap();
        write_atomic(&temp, ".f.", &b, &body).unwrap();
        out.push((
            t.elapsed().as_secs_f64() * 1000.0,
            (thread_cpu() - c) * 1000.0,
        ));
        std::fs::rename(&b, q.join(format!("{}.FS", i + 1))).unwrap();
        i += 1;
        std::thread::sleep(pace);
    }
    (out, thread_cpu() - started)
}

fn unix_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Per line: dial instants and turnarounds from the node's log, in unix ms.
struct Log {
    dials: BTreeMap<u64, Vec<i64>>,
    /// (attempt ended at, ms until the next dial on that line).
    gaps: Vec<(i64, f64)>,
}

fn node_log(text: &str) -> Log {
    let mut dials: BTreeMap<u64, Vec<i64>> = BTreeMap::new();
    let mut ended: BTreeMap<u64, chrono::DateTime<chrono::Utc>> = BTreeMap::new();
    let mut gaps = Vec::new();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let Some(l) = v["fields"]["line"].as_u64() else {
            continue;
        };
        let at: chrono::DateTime<chrono::Utc> = v["timestamp"].as_str().unwrap().parse().unwrap();
        match v["fields"]["message"].as_str().unwrap_or("") {
            "attempt ended" => {
                ended.insert(l, at);
            }
            "dialling" => {
                dials.entry(l).or_default().push(at.timestamp_millis());
                if let Some(e) = ended.remove(&l) {
                    gaps.push((
                        e.timestamp_millis(),
                        (at - e).num_microseconds().unwrap() as f64 / 1000.0,
                    ));
                }
            }
            _ => {}
        }
    }
    Log { dials, gaps }
}

/// Each modem's share of the window `[w0, w1)` (unix ms) spent in calls, from the call logs.
fn busy_shares(racks: &[PathBuf], w0: i64, w1: i64) -> Vec<f64> {
    let mut out = Vec::new();
    for r in racks {
        let mut busy: BTreeMap<u64, i64> = BTreeMap::new();
        let text = std::fs::read_to_string(r.join("calls.jsonl")).unwrap_or_default();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let (a, b) = (
                v["start_unix_ms"].as_i64().unwrap().max(w0),
                v["end_unix_ms"].as_i64().unwrap().min(w1),
            );
            *busy.entry(v["modem"].as_u64().unwrap()).or_default() += (b - a).max(0);
        }
        out.extend(busy.values().map(|b| *b as f64 / (w1 - w0) as f64));
    }
    out
}

/// Hang-up to next `ATD` on each modem, from the racks' call logs: (ended at, ms).
fn modem_gaps(racks: &[PathBuf]) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    for r in racks {
        let mut calls: BTreeMap<u64, Vec<(i64, i64)>> = BTreeMap::new();
        let text = std::fs::read_to_string(r.join("calls.jsonl")).unwrap_or_default();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            calls
                .entry(v["modem"].as_u64().unwrap())
                .or_default()
                .push((
                    v["start_unix_ms"].as_i64().unwrap(),
                    v["end_unix_ms"].as_i64().unwrap(),
                ));
        }
        for c in calls.values_mut() {
            c.sort();
            for w in c.windows(2) {
                out.push((w[0].1, (w[1].0 - w[0].1) as f64));
            }
        }
    }
    out
}

fn main() {
    let lines: usize = env("REDIAL_LINES", 96);
    let secs: f64 = env("REDIAL_LINES_SECS", 60.0);
    let scale: f64 = env("REDIAL_LINES_SCALE", 1.0);
    let per_board = lines.div_ceil(BOARDS);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = tempfile::Builder::new()
        .prefix("redial-lines-")
        .tempdir_in(".")
        .unwrap();
    let mut racks = Vec::new();
    let mut running = Vec::new();
    for b in 0..BOARDS {
        let modems = per_board.min(lines - (b * per_board).min(lines));
        if modems == 0 {
            break;
        }
        let dir = base.path().join(format!("board{b}"));
        let cfg = RackConfig {
            modems,
            dir: dir.clone(),
            scenario: Scenario::parse(&scenario()).unwrap(),
            time_scale: scale,
            bps: 0,
        };
        running.push(common::Rack::start(&rt, cfg));
        racks.push((dir, modems));
    }
    for (dir, _) in &racks {
        common::wait_ready(dir);
    }
    // Four rings take 24 s of line time: at the real pace (`REDIAL_LINES_SCALE=1`) the dial
    // timeout is a real modem's 60 s, so no call ends as "no answer".
    let dial_timeout = (60.0 * scale).max(20.0).ceil() as u32;
    let mut cfg = String::from("$request_dir spool 1\n$timezone UTC\n");
    let mut n = 0;
    for (dir, modems) in &racks {
        for i in 0..*modems {
            n += 1;
            cfg.push_str(&format!(
                "$line {n} {} class=2.0 dial_timeout={dial_timeout}\n",
                redial_sim::rack::link_path(dir, i).display()
            ));
        }
    }
    std::fs::write(base.path().join("redial.cfg"), cfg).unwrap();
    // Calls last at least 34 s of line time (1.7 s at the stress scale); queue enough for the
    // warm-up and the window with room to spare.
    let jobs = lines * ((secs / (30.0 * scale)).ceil() as usize + 6);
    let q = base.path().join("spool/TOSEND");
    std::fs::create_dir_all(&q).unwrap();
    std::fs::write(base.path().join("page.txt"), "A page.\n").unwrap();
    for i in 0..jobs {
        std::fs::write(
            q.join(format!("{:08}.FS", i + 1)),
            format!("$fax_phone 55{:05}\n$fax_filename page.txt\n", i),
        )
        .unwrap();
    }
    let log = base.path().join("node.jsonl");
    let mut node = common::spawn_node(base.path(), &log);
    let pid = node.id().to_string();
    let sent = base.path().join("spool/SENT");
    let t = Instant::now();
    // Warm-up: every line has finished at least one call (about one per line).
    while count(&sent) < lines {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "the lines did not get going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let (w0, c0, s0, d0) = (unix_ms(), cpu_secs(&pid), cpu_secs("self"), count(&sent));
    let m0 = Instant::now();
    let stop_floor = AtomicBool::new(false);
    let floor_dir = base.path().join("floor");
    let (fl, floor_cpu) = std::thread::scope(|s| {
        let h = s.spawn(|| {
            floor(
                &floor_dir,
                &stop_floor,
                Duration::from_millis(env("REDIAL_LINES_FLOOR_MS", 100)),
            )
        });
        std::thread::sleep(Duration::from_secs_f64(secs));
        stop_floor.store(true, Ordering::Relaxed);
        h.join().unwrap()
    });
    let (w1, c1, s1, d1) = (unix_ms(), cpu_secs(&pid), cpu_secs("self"), count(&sent));
    let wall = m0.elapsed().as_secs_f64();
    let left = count(&q);
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let _ = node.wait();
    for r in running {
        r.stop(&rt);
    }

    let mut f_wall: Vec<f64> = fl.iter().map(|x| x.0).collect();
    let f_cpu = fl.iter().map(|x| x.1).sum::<f64>() / fl.len() as f64;
    let parsed = node_log(&std::fs::read_to_string(&log).unwrap());
    let in_window = |at: i64| at >= w0 && at < w1;
    let mut per_line: Vec<usize> = (1..=lines as u64)
        .map(|l| {
            parsed
                .dials
                .get(&l)
                .map_or(0, |d| d.iter().filter(|t| in_window(**t)).count())
        })
        .collect();
    let calls: usize = per_line.iter().sum();
    let mut g: Vec<f64> = parsed
        .gaps
        .iter()
        .filter(|(at, _)| in_window(*at))
        .map(|x| x.1)
        .collect();
    let dirs: Vec<PathBuf> = racks.iter().map(|r| r.0.clone()).collect();
    let mut mg: Vec<f64> = modem_gaps(&dirs)
        .iter()
        .filter(|(at, _)| in_window(*at))
        .map(|x| x.1)
        .collect();
    let redial_cpu = c1 - c0;
    // This process's CPU less the floor thread's is hw-sim's.
    let sim_cpu = s1 - s0 - floor_cpu;
    per_line.sort();
    let mean = calls as f64 / lines as f64;
    println!(
        "{lines} modem lines ({} boards) on hw-sim, fax calls at line-time scale {scale}, window {wall:.1} s:",
        racks.len()
    );
    println!(
        "  calls in the window {calls} ({:.1}/s; {} sent), queued jobs left at the end {left}",
        calls as f64 / wall,
        d1 - d0
    );
    println!(
        "  redial run CPU   {redial_cpu:6.2} s = {:5.1}% of one core; {:.2} ms per call; {:.3}% of a core per line",
        redial_cpu / wall * 100.0,
        redial_cpu / calls.max(1) as f64 * 1000.0,
        redial_cpu / wall * 100.0 / lines as f64
    );
    println!(
        "  floor: hw-sim    {sim_cpu:6.2} s = {:5.1}% of one core; {:.2} ms per call (the modems' side of the same calls)",
        sim_cpu / wall * 100.0,
        sim_cpu / calls.max(1) as f64 * 1000.0
    );
    println!(
        "  floor: file work {f_cpu:6.2} ms of CPU per turnaround (the same renames, writes and fsyncs in a bare loop beside the node)"
    );
    println!(
        "  ratio of redial's CPU per call: to hw-sim's {:.2}x, to the bare file work {:.2}x",
        redial_cpu / sim_cpu.max(1e-9),
        redial_cpu / calls.max(1) as f64 * 1000.0 / f_cpu
    );
    println!(
        "  calls per line: min {} mean {:.1} max {}  (min/mean {:.2}; lines with no call: {})",
        per_line[0],
        mean,
        per_line[lines - 1],
        per_line[0] as f64 / mean.max(1e-9),
        per_line.iter().filter(|c| **c == 0).count()
    );
    let mut shares = busy_shares(&dirs, w0, w1);
    println!(
        "  share of the window each line spent in calls: min {:.1}% mean {:.1}% ({} lines)",
        pct(&mut shares, 0.0) * 100.0,
        shares.iter().sum::<f64>() / shares.len().max(1) as f64 * 100.0,
        shares.len()
    );
    let row = |name: &str, v: &mut [f64]| {
        println!(
            "  {name:<40} n {:5}  p50 {:7.1}  p99 {:7.1}  max {:7.1}",
            v.len(),
            pct(v, 0.5),
            pct(v, 0.99),
            pct(v, 1.0)
        );
    };
    println!("  turnaround per line (ms):");
    row("node log: attempt ended -> dialling", &mut g);
    row("modem: hang-up -> next ATD", &mut mg);
    row("floor: the file work alone, same time", &mut f_wall);
    println!(
        "  ratio to the floor: node log p50 {:.2}x p99 {:.2}x; modem p50 {:.2}x p99 {:.2}x",
        pct(&mut g, 0.5) / pct(&mut f_wall, 0.5),
        pct(&mut g, 0.99) / pct(&mut f_wall, 0.99),
        pct(&mut mg, 0.5) / pct(&mut f_wall, 0.5),
        pct(&mut mg, 0.99) / pct(&mut f_wall, 0.99)
    );
    let cpu_goal = if redial_cpu / wall < 0.10 {
        "met"
    } else {
        "MISSED"
    };
    println!(
        "  goal: < 10% of one core -> {} p99 <= 30 ms -> {}",
        if scale >= 1.0 {
            format!("{cpu_goal};")
        } else {
            format!(
                "judged at the real pace, REDIAL_LINES_SCALE=1 (this run is {:.0}x that, as many calls a second as about {:.0} real lines make; 10% of a core at this pace: {cpu_goal});",
                1.0 / scale,
                lines as f64 / scale
            )
        },
        if pct(&mut g, 0.99) <= 30.0 {
            "met"
        } else {
            "MISSED"
        }
    );
    if std::env::var_os("REDIAL_LINES_KEEP").is_some() {
        println!("  kept: {}", base.keep().display());
    }
    if left == 0 {
        println!("  (the queue ran dry inside the window: lines were not all busy to the end)");
    }
}
