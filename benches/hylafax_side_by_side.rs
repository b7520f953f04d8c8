//! redial and HylaFAX side by side on the same simulated modem (a plain bench binary:
//! `cargo bench --bench hylafax_side_by_side`).
//!
//! Needs root, HylaFAX's `faxsend` and efax's `efix` (Debian:
//! `apt-get install -y hylafax-server hylafax-client efax`); without them it prints why and
//! exits 0. Not part of `cargo test`.
//!
//! One hw-sim rack with one modem lives under `/dev` (faxsend names devices by "device ID", the
//! tty path without `/dev/` and with `/` turned into `_`), at line-time scale
//! `REDIAL_SIDE_SCALE` (default 0.05); every number answers as a fax machine. The same one-page
//! TIFF-F (made by `efix` from a line of text) is sent 20 times (`REDIAL_SIDE_JOBS`), one job
//! after another, to 20 numbers:
//!
//! * by redial: a real `redial run` with one `$line` on the modem and the 20 jobs queued;
//! * by HylaFAX: `faxsend` run once per job on a q-file written here (as faxq would start it
//!   for each job; faxq's own scheduling delays are not included), in a private spool directory
//!   made for the run. Twice: with a modem config file that says only `ModemType: Class2.0`
//!   (HylaFAX's default delays: 2.6 s after raising DTR, 3 s after `ATZ`, which it spends
//!   before every job), and once more with `ModemResetDelay`, `ModemSoftResetCmdDelay` and
//!   `ModemDTRDropDelay` set to 0, the fastest a HylaFAX administrator can make it by
//!   configuration. Without any config file faxsend probes the modem's classes before every
//!   job (about 18 s a job here), which no installation does.
//!
//! Both are timed the same way, from hw-sim's call log: turnaround is the end of one call to
//! the `ATD` of the next on the modem; wall time is the first `ATD` to the end of the last call.
//! The programs' own wall time (redial: start of the process to the 20th job in SENT; HylaFAX:
//! start of the first faxsend to the exit of the last) is printed too.

mod common;
use common::{count, env, pct};
use redial_sim::rack::RackConfig;
use redial_sim::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SCENARIO: &str = "[defaults]\nunknown = { kind = \"fax\", csi = \"SIDE BY SIDE\" }\n";

/// The rack's calls so far: (start, end) in unix ms.
fn calls(rack: &Path) -> Vec<(i64, i64)> {
    let text = std::fs::read_to_string(rack.join("calls.jsonl")).unwrap_or_default();
    text.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["start_unix_ms"].as_i64().unwrap(),
                v["end_unix_ms"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn missing() -> Option<String> {
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (faxsend's modem under /dev, its spool owned by uucp)".into());
    }
    for (path, pkg) in [
        ("/usr/sbin/faxsend", "hylafax-server"),
        ("/usr/bin/efix", "efax"),
    ] {
        if !Path::new(path).exists() {
            return Some(format!(
                "{path} not found (apt-get install -y hylafax-server hylafax-client efax; missing: {pkg})"
            ));
        }
    }
    None
}

/// A private HylaFAX spool: the directories faxsend uses, owned by uucp as HylaFAX expects.
fn hylafax_spool(dir: &Path) {
    for d in [
        "etc", "sendq", "docq", "doneq", "log", "status", "info", "tmp", "bin", "config", "client",
        "archive", "pollq", "recvq", "dev",
    ] {
        std::fs::create_dir_all(dir.join(d)).unwrap();
    }
    let _ = Command::new("chown")
        .args(["-R", "uucp:uucp"])
        .arg(dir)
        .status();
    let _ = Command::new("chmod").arg("0755").arg(dir).status();
    let _ = Command::new("chmod")
        .arg("1777")
        .arg(dir.join("tmp"))
        .status();
}

fn qfile(job: usize, number: &str, doc: &str, modem: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    format!(
        "jobid:{job}\ngroupid:{job}\nstate:6\njobtype:facsimile\nnumber:{number}\n\
         external:{number}\ntts:0\nkilltime:{}\nsender:root\nmailaddr:root@localhost\n\
         owner:root\nclient:localhost\nnotify:none\nmaxdials:1\nmaxtries:1\ntotpages:1\n\
         modem:{modem}\npriority:127\nresolution:196\npagewidth:215\npagelength:297\n\
         desiredbr:5\ndesiredec:0\ndesireddf:0\ndesiredst:0\npagehandling:00M00P\n\
         fax:0::{doc}\n",
        now + 3600
    )
}

/// Removes the rack's directory under /dev however the run ends.
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

struct Side {
    /// Turnarounds (ms), modem side.
    gaps: Vec<f64>,
    /// First ATD to the end of the last call (s).
    modem_wall: f64,
    /// The program's own wall time (s).
    own_wall: f64,
    /// Mean call length, `ATD` to hang-up (s).
    call: f64,
}

fn side(calls: &[(i64, i64)], own_wall: f64) -> Side {
    Side {
        gaps: calls.windows(2).map(|w| (w[1].0 - w[0].1) as f64).collect(),
        modem_wall: calls.last().map_or(0, |c| c.1 - calls[0].0) as f64 / 1000.0,
        own_wall,
        call: calls.iter().map(|c| (c.1 - c.0) as f64).sum::<f64>()
            / calls.len().max(1) as f64
            / 1000.0,
    }
}

fn main() {
    if let Some(why) = missing() {
        println!("hylafax_side_by_side: skipped: {why}");
        return;
    }
    let jobs: usize = env("REDIAL_SIDE_JOBS", 20);
    let scale: f64 = env("REDIAL_SIDE_SCALE", 0.05);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = tempfile::Builder::new()
        .prefix("redial-side-")
        .tempdir()
        .unwrap();
    let rack_name = format!("hwsim-side-{}", std::process::id());
    let rack_dir = PathBuf::from("/dev").join(&rack_name);
    let device_id = format!("{rack_name}_ttySIM0");
    let _cleanup = RemoveOnDrop(rack_dir.clone());
    let cfg = RackConfig {
        modems: 1,
        dir: rack_dir.clone(),
        scenario: Scenario::parse(SCENARIO).unwrap(),
        time_scale: scale,
        bps: 0,
    };
    let rack = common::Rack::start(&rt, cfg);
    common::wait_ready(&rack_dir);
    let tty = redial_sim::rack::link_path(&rack_dir, 0);

    // The document both send: one fine page of text as TIFF-F (MH), made by efix.
    let text = base.path().join("page.txt");
    std::fs::write(&text, "redial and HylaFAX side by side: one page.\n").unwrap();
    let r = base.path().join("redial");
    std::fs::create_dir_all(&r).unwrap();
    // Inside redial's base: documents outside its document roots are refused.
    let tif = r.join("page.tif");
    let out = Command::new("efix")
        .args(["-i", "text", "-o", "tiffg3"])
        .arg(&text)
        .stderr(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "efix failed"
    );
    std::fs::write(&tif, &out.stdout).unwrap();

    // redial: one line, the jobs queued, then `redial run`.
    let q = r.join("spool/TOSEND");
    std::fs::create_dir_all(&q).unwrap();
    std::fs::write(
        r.join("redial.cfg"),
        format!(
            "$request_dir spool 1\n$timezone UTC\n$line 1 {} class=2.0 dial_timeout=20\n",
            tty.display()
        ),
    )
    .unwrap();
    for i in 0..jobs {
        std::fs::write(
            q.join(format!("{:08}.FS", i + 1)),
            format!("$fax_phone 555{i:04}\n$fax_filename page.tif\n"),
        )
        .unwrap();
    }
    let log = r.join("node.jsonl");
    let t = Instant::now();
    let mut node = common::spawn_node(&r, &log);
    let (sent, fail) = (r.join("spool/SENT"), r.join("spool/FAIL"));
    while count(&sent) + count(&fail) < jobs {
        if t.elapsed() > Duration::from_secs(600) {
            println!("redial did not finish its jobs in 600 s");
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let redial_own = t.elapsed().as_secs_f64();
    let _ = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status();
    let _ = node.wait();
    let redial_calls = calls(&rack_dir);

    let redial_sent = count(&sent);

    // HylaFAX: faxsend once per job, one after another, in a private spool; first with
    // HylaFAX's default delays, then with the reset delays configured away.
    let spool = base.path().join("hylafax");
    hylafax_spool(&spool);
    std::fs::copy(&tif, spool.join("docq/page.tif")).unwrap();
    let mut runs = Vec::new();
    for (k, (label, config)) in [
        ("HylaFAX", "ModemType: Class2.0\n"),
        (
            "HylaFAX-0",
            "ModemType: Class2.0\nModemResetDelay: 0\nModemSoftResetCmdDelay: 0\nModemDTRDropDelay: 0\n",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        std::fs::write(spool.join(format!("etc/config.{device_id}")), config).unwrap();
        let _ = Command::new("chown")
            .args(["-R", "uucp:uucp"])
            .arg(&spool)
            .status();
        let before = calls(&rack_dir).len();
        let mut done = 0;
        let t = Instant::now();
        for i in 0..jobs {
            let id = 1000 * (k + 1) + i;
            let name = format!("sendq/q{id}");
            std::fs::write(
                spool.join(&name),
                qfile(id, &format!("55{}{i:04}", 6 + k), "docq/page.tif", &device_id),
            )
            .unwrap();
            let status = Command::new("/usr/sbin/faxsend")
                .args(["-l", "-p", "-m", &device_id, &name])
                .current_dir(&spool)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .unwrap();
            // faxsend's exit status is the job's: 2 = send_done.
            done += usize::from(status.code() == Some(2));
        }
        let own = t.elapsed().as_secs_f64();
        let all = calls(&rack_dir);
        runs.push((label, side(&all[before..], own), done));
    }

    rack.stop(&rt);
    let _ = std::fs::remove_file(format!("/var/lock/LCK..{rack_name}_ttySIM0"));

    let mut red = side(&redial_calls, redial_own);
    println!(
        "{jobs} one-page fax jobs, one after another, on one hw-sim modem (line-time scale {scale}):"
    );
    let row = |name: &str, s: &mut Side, done: usize| {
        println!(
            "  {name:<9} calls {:3} (mean {:4.2} s), jobs done {done:3}  turnaround ms: p50 {:8.1}  mean {:8.1}  max {:8.1}  | wall: first ATD to last hang-up {:6.2} s, program {:6.2} s",
            s.gaps.len() + 1,
            s.call,
            pct(&mut s.gaps, 0.5),
            s.gaps.iter().sum::<f64>() / s.gaps.len().max(1) as f64,
            pct(&mut s.gaps, 1.0),
            s.modem_wall,
            s.own_wall
        );
    };
    row("redial", &mut red, redial_sent);
    for (label, s, done) in &mut runs {
        row(label, s, *done);
    }
    for (label, s, _) in &mut runs {
        println!(
            "  ratio redial / {label}: turnaround p50 {:.4}x, wall (modem) {:.2}x, wall (program) {:.2}x",
            pct(&mut red.gaps, 0.5) / pct(&mut s.gaps, 0.5),
            red.modem_wall / s.modem_wall,
            red.own_wall / s.own_wall
        );
    }
}
