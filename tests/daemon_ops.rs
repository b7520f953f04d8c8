//! Operations against a running `redial run`: submit (picked up by the watcher), status,
//! report, SIGHUP reload, SIGTERM shutdown; and `redial demo` end to end.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_redial");

fn wait_until(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f()
}

fn redial(dir: &Path, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "redial {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn signal(pid: u32, sig: &str) {
    Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
}

/// Kills the daemon if the test fails half-way (so no orphan keeps running).
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

const CFG: &str = "\
$request_dir spool 2
$timezone UTC
$node_lease 1 5
$retry_delays B \"1S\"
$line 1 sim outcomes=2@0.1,0@0.1
";

#[test]
fn submit_status_report_reload_and_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("redial.cfg"), CFG).unwrap();
    let run = Command::new(BIN)
        // A fresh directory: the spool is made by the node (--create).
        .args([
            "run",
            "--cfg",
            "redial.cfg",
            "--node",
            "n1",
            "--base",
            ".",
            "--create",
        ])
        .current_dir(d)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut run = Guard(run);
    let spool = d.join("spool");
    assert!(wait_until(Duration::from_secs(10), || spool
        .join("ACTIVE/n1.lease")
        .exists()));
    let common = ["--cfg", "redial.cfg", "--base", "."];
    let mut args = vec![
        "submit",
        "--fax",
        "555 1234",
        "--queue",
        "1",
        "--set",
        "$retry_max 3",
    ];
    args.extend(common);
    let path = redial(d, &args);
    assert!(path.trim().ends_with("spool/TOSEND1/00000001.FS"), "{path}");
    assert!(
        wait_until(Duration::from_secs(10), || spool
            .join("SENT/00000001.FS")
            .exists()),
        "the watcher never picked the job up"
    );
    let mut args = vec!["status", "--json"];
    args.extend(common);
    let s: serde_json::Value = serde_json::from_str(&redial(d, &args)).unwrap();
    assert_eq!(s["sent"], 1);
    assert_eq!(s["failed"], 0);
    assert_eq!(s["nodes"][0]["node"], "n1");
    assert_eq!(s["queues"][1]["queue"], "TOSEND1");
    let mut args = vec!["report", "00000001", "--json"];
    args.extend(common);
    let r: serde_json::Value = serde_json::from_str(&redial(d, &args)).unwrap();
    assert_eq!(r["place"], "SENT");
    let a = r["attempts"].as_array().unwrap();
    assert_eq!(a.len(), 2);
    assert_eq!(
        (a[0]["code"].as_u64(), a[0]["class"].as_str()),
        (Some(2), Some("B"))
    );
    assert_eq!(
        (a[1]["code"].as_u64(), a[1]["class"].as_str()),
        (Some(0), Some("S"))
    );
    assert!(
        a[0]["then"].as_str().unwrap().starts_with("retried"),
        "{}",
        a[0]
    );
    let mut args = vec!["status"];
    args.extend(common);
    assert!(redial(d, &args).contains("SENT 1"));

    // SIGHUP: a second line appears in the lease.
    std::fs::write(d.join("redial.cfg"), format!("{CFG}$line 2 sim\n")).unwrap();
    signal(run.0.id(), "HUP");
    let lease = spool.join("ACTIVE/n1.lease");
    assert!(
        wait_until(Duration::from_secs(10), || std::fs::read_to_string(&lease)
            .is_ok_and(|s| s.contains("\"line\": 2"))),
        "reload did not add line 2"
    );
    // SIGTERM: clean exit, lease and ACTIVE directory removed.
    signal(run.0.id(), "TERM");
    let st = run.0.wait().unwrap();
    assert!(st.success(), "{st:?}");
    assert!(!lease.exists() && !spool.join("ACTIVE/n1").exists());
}

#[test]
fn the_demo_lands_every_sample_job() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(["demo", "--dir"])
        .arg(dir.path())
        .arg("--from")
        .arg(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    for want in [
        "dialling",
        "-> retry at",
        "-> SENT",
        "-> FAIL",
        "bad job",
        "JOB",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    let left: usize = ["TOSEND", "TOSEND1", "TOSEND2"]
        .iter()
        .map(|q| {
            std::fs::read_dir(dir.path().join("spool").join(q)).map_or(0, |r| {
                r.flatten()
                    .filter(|e| e.file_name().to_string_lossy().ends_with(".FS"))
                    .count()
            })
        })
        .sum();
    assert_eq!(left, 0);
}

/// Runs `cmd` with the source tree hidden under an empty tmpfs, in a mount namespace of its own
/// (as on a machine the package was installed on).
fn hide_source_tree(cmd: &mut Command) {
    common::ns::private_mounts(
        cmd,
        &[common::ns::Mount::Tmpfs(Path::new(env!(
            "CARGO_MANIFEST_DIR"
        )))],
    );
}

/// An installed `redial demo` has no source tree: run from a directory without `spool/` and
/// `conf/`, and with the build directory out of reach, it uses the sample built into the binary.
#[test]
fn the_demo_needs_no_source_tree() {
    let bin = tempfile::tempdir().unwrap();
    // A copy of the binary elsewhere: nothing of the build directory is found through it.
    let copy = bin.path().join("redial");
    std::fs::copy(BIN, &copy).unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(&copy);
    cmd.args(["demo", "--lines", "sim", "--dir"])
        .arg(dir.path())
        .current_dir(cwd.path());
    hide_source_tree(&mut cmd);
    let out = match cmd.output() {
        Ok(o) => o,
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => {
            eprintln!("SKIPPED: no private mount namespace here ({e}); run as root");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("-> SENT"), "{text}");
    // The built-in sample is the repository's, file for file.
    for f in [
        "conf/redial.cfg",
        "conf/DEFAULT.USR",
        "spool/docs/order77.txt",
        "spool/docs/reminder.wav",
    ] {
        let ours = std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(f)).unwrap();
        let copied = std::fs::read(dir.path().join(f)).unwrap();
        assert!(ours == copied, "{f} differs");
    }
}
