//! Helpers for tests that run real `redial run` processes on a scratch spool: start, wait,
//! stop, and take a census of where every job is.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_redial");

/// A scratch directory with `redial.cfg` and empty queues `TOSEND`…`TOSEND2`.
pub fn scratch(cfg: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("redial.cfg"), cfg).unwrap();
    for q in ["TOSEND", "TOSEND1", "TOSEND2"] {
        std::fs::create_dir_all(dir.path().join("spool").join(q)).unwrap();
    }
    dir
}

/// A `redial run` process that is killed when the test lets go of it, also when the test
/// fails half-way (no daemon outlives its test).
pub struct Node(Option<Child>);

impl std::ops::Deref for Node {
    type Target = Child;
    fn deref(&self) -> &Child {
        self.0.as_ref().expect("running")
    }
}

impl std::ops::DerefMut for Node {
    fn deref_mut(&mut self) -> &mut Child {
        self.0.as_mut().expect("running")
    }
}

impl From<Child> for Node {
    fn from(c: Child) -> Node {
        Node(Some(c))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `redial run` as `node` in `dir`, its stderr to `dir/<node>.log`.
pub fn start(dir: &Path, node: &str) -> Node {
    start_logging_to(dir, node, &dir.join(format!("{node}.log")))
}

/// As [`start`], making the spool's directories first (`--create`).
pub fn start_creating(dir: &Path, node: &str) -> Node {
    start_with(dir, node, &dir.join(format!("{node}.log")), &["--create"])
}

/// `redial run` as `node` in `dir`, its stderr appended to `log`.
pub fn start_logging_to(dir: &Path, node: &str, log: &Path) -> Node {
    start_with(dir, node, log, &[])
}

/// As [`start_logging_to`], the log in JSON lines (`--json`, what `common::calls` reads).
pub fn start_json_logging_to(dir: &Path, node: &str, log: &Path) -> Node {
    start_with(dir, node, log, &["--json"])
}

fn start_with(dir: &Path, node: &str, log: &Path, extra: &[&str]) -> Node {
    let mut cmd = Command::new(BIN);
    cmd.args(["run", "--cfg", "redial.cfg", "--node", node, "--base", "."])
        .args(extra);
    spawn_logged(cmd, dir, log)
}

/// Starts `cmd` (a `redial run`, or a program that runs one) in `dir`, its stderr appended to
/// `log`, at log level info.
pub fn spawn_logged(mut cmd: Command, dir: &Path, log: &Path) -> Node {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    cmd.current_dir(dir)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .map(|c| Node(Some(c)))
        .expect("start redial run")
}

/// Polls `f` until it holds or `deadline` passes (the bound is for a loaded CI machine; the
/// assertions never depend on timing).
pub fn wait_until(deadline: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + deadline;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    f()
}

/// Sends `sig` to the child.
pub fn signal(c: &Child, sig: &str) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(c.id().to_string())
        .status();
}

/// SIGTERM, then waits up to `within`; returns whether it exited in time (killed if not).
pub fn terminate_within(mut n: Node, within: Duration) -> bool {
    let mut c = n.0.take().expect("running");
    signal(&c, "TERM");
    let ok = wait_until(within, || c.try_wait().unwrap().is_some());
    if !ok {
        let _ = c.kill();
        let _ = c.wait();
    }
    ok
}

/// The `*.FS` entries of a directory.
pub fn jobs_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).map_or(Vec::new(), |r| {
        r.flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .filter(|n| n.ends_with(".FS"))
            .collect()
    });
    v.sort();
    v
}

fn spool_dirs(root: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["TOSEND", "TOSEND1", "TOSEND2", "SENT", "FAIL"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    if let Ok(rd) = std::fs::read_dir(root.join("ACTIVE")) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                v.push(e.path());
                if let Ok(rd2) = std::fs::read_dir(e.path()) {
                    v.extend(rd2.flatten().map(|x| x.path()).filter(|p| p.is_dir()));
                }
            }
        }
    }
    v
}

/// Where each job is: name → directories holding it.
pub fn census(root: &Path) -> HashMap<String, Vec<PathBuf>> {
    let mut m: HashMap<String, Vec<PathBuf>> = HashMap::new();
    for d in spool_dirs(root) {
        for n in jobs_in(&d) {
            m.entry(n).or_default().push(d.clone());
        }
    }
    m
}

/// Jobs in `dir` claimed for a call (a live dialling mark, or `$fax_status1 3` written where
/// no mark could be made): their calls have been placed.
pub fn dialling_in(dir: &Path) -> usize {
    jobs_in(dir)
        .iter()
        .filter(|n| {
            let job = dir.join(n);
            redial::spool::dialling::live_mark(&job).is_some()
                || std::fs::read_to_string(&job).is_ok_and(|t| t.contains("$fax_status1 3"))
        })
        .count()
}

/// Jobs in SENT and FAIL.
pub fn landed(root: &Path) -> usize {
    jobs_in(&root.join("SENT")).len() + jobs_in(&root.join("FAIL")).len()
}
