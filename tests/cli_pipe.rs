//! Closed pipes, with real pipes: every command that prints (`status | head`, `advise | head`…)
//! ends quietly when its reader has gone — killed by SIGPIPE like any Unix filter, never a panic
//! (exit 101) — while `redial run` and `redial web` keep serving when their stderr or stdout
//! reader has gone (a daemon must not die because its log pipe broke).

use std::io::{PipeWriter, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The write end of a pipe whose read end is already closed: every write gets EPIPE.
fn closed_pipe() -> PipeWriter {
    let (r, w) = std::io::pipe().unwrap();
    drop(r);
    w
}

fn redial() -> Command {
    Command::new(env!("CARGO_BIN_EXE_redial"))
}

/// Killed by SIGPIPE or exited 0, and nothing about a panic on stderr.
fn assert_quiet(what: &str, out: &Output) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_ne!(out.status.code(), Some(101), "{what}: {err}");
    assert!(
        out.status.signal() == Some(libc::SIGPIPE) || out.status.success(),
        "{what}: {:?} {err}",
        out.status
    );
}

fn spool(base: &Path) {
    std::fs::write(base.join("redial.cfg"), "$request_dir spool 1\n").unwrap();
    for d in ["TOSEND", "TOSEND1", "SENT", "FAIL"] {
        std::fs::create_dir_all(base.join("spool").join(d)).unwrap();
    }
    let rec = "$attempt_record 03/02/2026 09:00:00 1 0 1 2 Z 0 0 0 S1 0 5 0 \"\"\n";
    std::fs::write(
        base.join("spool/FAIL/1.FS"),
        format!("$fax_phone 5550101\n$fax_status1 6\n{rec}"),
    )
    .unwrap();
    std::fs::write(base.join("spool/TOSEND/2.FS"), "$fax_phone 5550102\n").unwrap();
}

#[test]
fn every_printing_command_exits_quietly_on_a_closed_pipe() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    spool(base);
    let cfg = base.join("redial.cfg");
    let fs = base.join("spool/TOSEND/2.FS");
    let commands: Vec<Vec<&str>> = vec![
        vec!["status"],
        vec!["status", "--json"],
        vec!["advise"],
        vec!["report", "1"],
        vec!["retry", "--all-failed", "--dry-run"],
        vec!["status", "--help"],
    ];
    for args in commands {
        let out = redial()
            .args(&args)
            .arg("--cfg")
            .arg(&cfg)
            .arg("--base")
            .arg(base)
            .stdout(closed_pipe())
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        assert_quiet(&args.join(" "), &out);
    }
    let out = redial()
        .args(["explain", "--class", "B", "--now", "2026-03-02T10:00:00Z"])
        .arg(&fs)
        .stdout(closed_pipe())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert_quiet("explain", &out);
}

/// Sends SIGTERM and waits (at most 30 s) for the exit status.
fn terminate(mut child: std::process::Child) -> std::process::ExitStatus {
    // SAFETY: kill(2) on our own child's pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let t0 = Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return st;
        }
        if t0.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("no exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_for(path: &Path, child: &mut std::process::Child) {
    let t0 = Instant::now();
    while !path.exists() {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("redial exited ({st:?}) before {} appeared", path.display());
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn redial_run_keeps_dialling_when_its_stderr_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$line 1 sim outcomes=0@0.2\n$rescan_interval 1\n",
    )
    .unwrap();
    std::fs::create_dir_all(base.join("spool/TOSEND")).unwrap();
    std::fs::write(base.join("spool/TOSEND/1.FS"), "$fax_phone 5550001\n").unwrap();
    let mut child = redial()
        .args(["run", "--node", "n1", "--cfg"])
        .arg(base.join("redial.cfg"))
        .arg("--base")
        .arg(base)
        .env("RUST_LOG", "debug")
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .spawn()
        .unwrap();
    wait_for(&base.join("spool/SENT/1.FS"), &mut child);
    // Still serving after many failed log writes: a job dropped now is dialled too.
    std::fs::write(base.join("spool/TOSEND/2.FS"), "$fax_phone 5550002\n").unwrap();
    wait_for(&base.join("spool/SENT/2.FS"), &mut child);
    let st = terminate(child);
    assert!(st.success(), "{st:?}");
}

#[test]
fn redial_web_keeps_serving_when_stdout_and_stderr_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    spool(base);
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$web_token pipe-test-token\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = redial()
        .args(["web", "--listen", &format!("127.0.0.1:{port}"), "--cfg"])
        .arg(base.join("redial.cfg"))
        .arg("--base")
        .arg(base)
        .stdout(closed_pipe())
        .stderr(closed_pipe())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let answer = loop {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("redial web exited: {st:?}");
        }
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            write!(s, "GET /api/status HTTP/1.0\r\n\r\n").unwrap();
            let mut raw = String::new();
            use std::io::Read;
            let _ = s.read_to_string(&mut raw);
            if !raw.is_empty() {
                break raw;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "never answered");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(answer.starts_with("HTTP/1."), "{answer}");
    let st = terminate(child);
    assert!(st.success(), "{st:?}");
}

/// A client that creates a job file and then writes it (`cp`, a shell redirection) shows the
/// node an empty file first: it is not failed, and once its content is there it is dialled.
#[test]
fn a_job_file_seen_empty_while_it_is_written_is_dialled_not_failed() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 1\n$line 1 sim outcomes=0@0.1\n",
    )
    .unwrap();
    std::fs::create_dir_all(base.join("spool/TOSEND")).unwrap();
    let log = base.join("node.log");
    let child = redial()
        .args(["run", "--node", "n1", "--cfg"])
        .arg(base.join("redial.cfg"))
        .arg("--base")
        .arg(base)
        .env("RUST_LOG", "info")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    // Killed if the test fails half-way: no node outlives its test.
    struct Kill(Option<std::process::Child>);
    impl Drop for Kill {
        fn drop(&mut self) {
            if let Some(mut c) = self.0.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
    let mut guard = Kill(Some(child));
    let t0 = Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("spooler running")) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the node did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Created empty, as the first step of a non-atomic write.
    let job = base.join("spool/TOSEND/7.FS");
    let mut f = std::fs::File::create(&job).unwrap();
    let t0 = Instant::now();
    while !std::fs::read_to_string(&log).is_ok_and(|l| l.contains("an empty job file")) {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "the node never saw the empty file: {}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !base.join("spool/FAIL/7.FS").exists(),
        "an empty file being written was failed"
    );
    use std::io::Write;
    f.write_all(b"$fax_phone 5550007\n").unwrap();
    drop(f);
    wait_for(&base.join("spool/SENT/7.FS"), guard.0.as_mut().unwrap());
    let st = terminate(guard.0.take().unwrap());
    assert!(st.success(), "{st:?}");
}
