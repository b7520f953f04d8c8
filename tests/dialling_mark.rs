//! The dialling mark against the kernel rule that decides whether one can be made: a node
//! running as an unprivileged user (as the service does) marks a job its own user wrote with a
//! hard link, and writes the claim (`$fax_status1 3`) into a job another user wrote, where
//! `fs.protected_hardlinks` refuses the link. Killed during both calls, the node recovers
//! both as interrupted at its restart; each job is then dialled again once and lands once.

mod common;

use common::spool::{dialling_in, scratch, spawn_logged, terminate_within, wait_until, Node};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const NOBODY: u32 = 65534;

fn cfg(call_secs: u32) -> String {
    format!(
        "$request_dir spool 2\n$retry_delays E \"1S\"\n\
         $line 1 sim outcomes=0@{call_secs}\n$line 2 sim outcomes=0@{call_secs}\n"
    )
}

/// `redial run` as node `n` under the user nobody, from a copy of the binary in `dir`.
fn start_as_nobody(dir: &Path) -> Node {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        &format!("--reuid={NOBODY}"),
        &format!("--regid={NOBODY}"),
        "--clear-groups",
        "./redial",
        "run",
        "--cfg",
        "redial.cfg",
        "--node",
        "n",
        "--base",
        ".",
    ]);
    spawn_logged(cmd, dir, &dir.join("n.log"))
}

fn chown_tree(p: &Path) {
    std::os::unix::fs::lchown(p, Some(NOBODY), Some(NOBODY)).unwrap();
    if p.is_dir() && !p.is_symlink() {
        for e in std::fs::read_dir(p).unwrap().flatten() {
            chown_tree(&e.path());
        }
    }
}

#[test]
fn a_job_of_the_nodes_user_is_marked_and_another_users_job_is_written() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root to run a node as another user (CI runs as root)");
        return;
    }
    let protected =
        std::fs::read_to_string("/proc/sys/fs/protected_hardlinks").is_ok_and(|v| v.trim() == "1");
    if !protected {
        eprintln!("skipped: fs.protected_hardlinks is off, so every link is allowed here");
        return;
    }
    let dir = scratch(&cfg(30));
    let d = dir.path();
    std::fs::copy(common::spool::BIN, d.join("redial")).unwrap();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let q = d.join("spool/TOSEND");
    std::fs::write(q.join("2.FS"), "$fax_phone 5550002\n").unwrap();
    chown_tree(d);
    // Dropped by another user (root), readable by all, writable only by its owner.
    std::fs::write(q.join("1.FS"), "$fax_phone 5550001\n").unwrap();
    assert_eq!(std::fs::metadata(q.join("1.FS")).unwrap().uid(), 0);
    let active = d.join("spool/ACTIVE/n");

    let node = start_as_nobody(d);
    let both = wait_until(Duration::from_secs(20), || dialling_in(&active) == 2);
    let log = || std::fs::read_to_string(d.join("n.log")).unwrap_or_default();
    assert!(both, "both calls never went up: {}", log());
    let other = std::fs::read_to_string(active.join("1.FS")).unwrap();
    assert!(
        other.contains("$fax_status1 3"),
        "another user's job: the claim is written into it\n{other}"
    );
    assert!(redial::spool::dialling::live_mark(&active.join("1.FS")).is_none());
    assert_eq!(
        std::fs::read_to_string(active.join("2.FS")).unwrap(),
        "$fax_phone 5550002\n",
        "the node's own job keeps its bytes during the call"
    );
    let mark = redial::spool::dialling::live_mark(&active.join("2.FS")).expect("a live mark");
    assert_eq!(mark.queue, 0);

    // Killed during both calls; restarted with short calls.
    let mut node = node;
    node.kill().unwrap();
    node.wait().unwrap();
    std::fs::write(d.join("redial.cfg"), cfg(1)).unwrap();
    let node = start_as_nobody(d);
    let sent = d.join("spool/SENT");
    let landed = wait_until(Duration::from_secs(30), || {
        sent.join("1.FS").exists() && sent.join("2.FS").exists()
    });
    assert!(terminate_within(node, Duration::from_secs(10)));
    assert!(landed, "not both sent: {}", log());
    for job in ["1.FS", "2.FS"] {
        let text = std::fs::read_to_string(sent.join(job)).unwrap();
        let records: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("$attempt_record"))
            .collect();
        assert_eq!(records.len(), 2, "{job}: {text}");
        assert!(
            records[0].contains(" 66 E "),
            "{job}: interrupted first\n{text}"
        );
        assert!(records[1].contains(" 0 S "), "{job}: then sent\n{text}");
    }
    let left: Vec<_> = std::fs::read_dir(&active)
        .map(|r| r.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}
