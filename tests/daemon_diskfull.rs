//! A real full file system and a real read-only one under a running `redial run`: a tmpfs of a
//! few megabytes mounted for the test (root only; CI runs as root). Calls that succeed while the
//! disk is full are recorded once space comes back, also across a kill -9 (the journal), and
//! never dialled again; while writes are refused the node backs off and says so once.

mod common;

use common::spool::*;
use redial::command::Document;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

struct Tmpfs(PathBuf, tempfile::TempDir);

impl Tmpfs {
    fn mount(size: &str) -> Option<Tmpfs> {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("mnt");
        std::fs::create_dir(&dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount a tmpfs here (needs root; CI runs as root)");
            return None;
        }
        Some(Tmpfs(dir, t))
    }
    fn remount(&self, opt: &str) {
        let s = Command::new("mount")
            .args(["-o", &format!("remount,{opt}")])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(s.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Keeps the file system holding `dir` full, as another program filling the disk would: every
/// byte, then every inode, and any inode or block that comes free again is taken at once (this
/// kernel's tmpfs still takes a small new file when only its bytes are used up, and hands out
/// inodes in per-CPU batches). Dropping it makes room again.
struct Filler {
    dir: PathBuf,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Filler {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        std::fs::remove_dir_all(&self.dir).unwrap();
    }
}

fn fill(dir: &Path) -> Filler {
    use std::io::Write;
    let d = dir.join("filler");
    std::fs::create_dir(&d).unwrap();
    let mut f = std::fs::File::create(d.join("bytes")).unwrap();
    let chunk = vec![0u8; 4096];
    while f.write_all(&chunk).is_ok() {}
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let grab = |d: &Path, n: &mut u64| {
        while let Ok(mut f) = std::fs::File::create(d.join(n.to_string())) {
            *n += 1;
            let _ = f.write_all(&[0u8; 4096]);
        }
    };
    let mut n = 0;
    grab(&d, &mut n);
    let (d2, s2) = (d.clone(), stop.clone());
    let thread = std::thread::spawn(move || {
        while !s2.load(std::sync::atomic::Ordering::SeqCst) {
            grab(&d2, &mut n);
            std::thread::sleep(Duration::from_millis(2));
        }
    });
    Filler {
        dir: d,
        stop,
        thread: Some(thread),
    }
}

const CFG: &str = "$request_dir spool 2\n$timezone UTC\n$node_lease 1 30\n$rescan_interval 1\n\
$line 1 sim outcomes=0@3\n$line 2 sim outcomes=0@3\n";

fn setup(fs: &Tmpfs, jobs: usize) -> PathBuf {
    let base = fs.0.clone();
    std::fs::write(base.join("redial.cfg"), CFG).unwrap();
    for q in ["TOSEND", "TOSEND1", "TOSEND2"] {
        std::fs::create_dir_all(base.join("spool").join(q)).unwrap();
    }
    // A job a little short of a page once claimed, so that its result (a record longer) needs
    // a page more: the node rewrites a job in an inode it already holds (a spare it reuses),
    // and only a write that needs new room meets the full disk.
    let pad = format!("; {}\n", "x".repeat(3990));
    for i in 0..jobs {
        std::fs::write(
            base.join("spool/TOSEND").join(format!("{:08}.FS", i + 1)),
            format!("{pad}$fax_phone 555{:04}\n", i),
        )
        .unwrap();
    }
    base
}

/// Every job in SENT with exactly one record, a success.
fn each_sent_once(root: &Path, jobs: usize) {
    let sent = jobs_in(&root.join("SENT"));
    assert_eq!(sent.len(), jobs, "{:?}", census(root));
    for n in sent {
        let doc = Document::parse(&std::fs::read(root.join("SENT").join(&n)).unwrap(), &n).unwrap();
        let codes: Vec<String> = doc
            .all("attempt_record")
            .map(|r| r.texts()[5].to_string())
            .collect();
        assert_eq!(codes, ["0"], "{n}: dialled again or interrupted");
    }
}

fn log(fs: &Tmpfs) -> String {
    std::fs::read_to_string(logfile(fs)).unwrap_or_default()
}

/// The node's log lives outside the test file system (an open log would keep it from being
/// remounted read-only).
fn logfile(fs: &Tmpfs) -> PathBuf {
    fs.1.path().join("n1.log")
}

/// The node logs the refusal, not every retry; and holds new calls meanwhile.
fn calls_in_flight_then_fill(base: &Path) -> Filler {
    let root = base.join("spool");
    assert!(
        wait_until(Duration::from_secs(20), || {
            dialling_in(&root.join("ACTIVE/n1")) == 2
        }),
        "two calls never started"
    );
    // Room for nothing once the calls end.
    fill(base)
}

#[test]
fn results_survive_a_full_disk_and_nothing_is_dialled_twice() {
    let Some(fs) = Tmpfs::mount("3m,nr_inodes=400") else {
        return;
    };
    let base = setup(&fs, 4);
    let root = base.join("spool");
    let c = start_logging_to(&base, "n1", &logfile(&fs));
    let filler = calls_in_flight_then_fill(&base);
    assert!(
        wait_until(Duration::from_secs(20), || log(&fs)
            .contains("the spool refused a write")),
        "the refusal was never reported: {}",
        log(&fs)
    );
    // Writes stay refused for a while: the node does not spin and says so once.
    std::thread::sleep(Duration::from_secs(3));
    let said = log(&fs).matches("the spool refused a write").count();
    assert_eq!(said, 1, "{}", log(&fs));
    let status = Command::new(BIN)
        .args(["status", "--cfg", "redial.cfg", "--base", "."])
        .current_dir(&base)
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout).to_string();
    assert!(
        status.contains("SPOOL REFUSES WRITES"),
        "{status}\n{}",
        log(&fs)
    );
    // (A nearly full disk still takes a write now and then, as when a lock file is removed or
    // the node unlinks a spare temporary file it will not reuse, whose room its next write
    // takes; what matters is that no result is lost and none is dialled again.) A refused
    // result was kept: it waits in ACTIVE, or was recorded once a write got through.
    assert!(
        !jobs_in(&root.join("ACTIVE/n1")).is_empty()
            || log(&fs).contains("a result kept while the spool refused writes is now recorded"),
        "no result waiting, none kept: {}",
        log(&fs)
    );
    assert!(
        log(&fs).contains("point=result write"),
        "no result was refused: {}",
        log(&fs)
    );
    drop(filler);
    let done = wait_until(Duration::from_secs(30), || landed(&root) == 4);
    assert!(terminate_within(c, Duration::from_secs(10)));
    assert!(done, "{:?}\n{}", census(&root), log(&fs));
    each_sent_once(&root, 4);
}

#[test]
fn a_kill_during_a_full_disk_keeps_the_results_in_the_journal() {
    let Some(fs) = Tmpfs::mount("3m,nr_inodes=400") else {
        return;
    };
    let base = setup(&fs, 2);
    let root = base.join("spool");
    let mut c = start_logging_to(&base, "n1", &logfile(&fs));
    let filler = calls_in_flight_then_fill(&base);
    // Both calls end while the disk is full: their results cannot be written.
    assert!(wait_until(Duration::from_secs(20), || {
        log(&fs).matches("attempt ended").count() == 2
    }));
    std::thread::sleep(Duration::from_millis(300));
    c.kill().unwrap(); // SIGKILL with both results unwritten
    c.wait().unwrap();
    drop(filler);
    let c = start_logging_to(&base, "n1", &logfile(&fs));
    let done = wait_until(Duration::from_secs(30), || landed(&root) == 2);
    assert!(terminate_within(c, Duration::from_secs(10)));
    assert!(done, "{:?}\n{}", census(&root), log(&fs));
    each_sent_once(&root, 2);
}

#[test]
fn a_read_only_spool_holds_calls_without_spinning() {
    let Some(fs) = Tmpfs::mount("16m,nr_inodes=400") else {
        return;
    };
    let base = setup(&fs, 4);
    let root = base.join("spool");
    let c = start_logging_to(&base, "n1", &logfile(&fs));
    assert!(wait_until(Duration::from_secs(20), || {
        dialling_in(&root.join("ACTIVE/n1")) == 2
    }));
    fs.remount("ro");
    std::thread::sleep(Duration::from_secs(4));
    let text = log(&fs);
    let lines = text.lines().count();
    fs.remount("rw");
    assert!(lines < 40, "{lines} log lines in 4 s read-only:\n{text}");
    let done = wait_until(Duration::from_secs(30), || landed(&root) == 4);
    assert!(terminate_within(c, Duration::from_secs(10)));
    assert!(done, "{:?}\n{}", census(&root), log(&fs));
    each_sent_once(&root, 4);
}
