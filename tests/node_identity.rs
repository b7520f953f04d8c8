//! One process per node name on a spool, without trusting flock: real `redial run` processes.
//!
//! flock holds only within one mount (two sshfs or NFS mounts of one directory, or two
//! machines, each get their own lock). These tests take flock out of the way the same way a
//! second mount does -- by removing `ACTIVE/<node>.lock` so the second process locks a new
//! file -- and check that the node's claim (`ACTIVE/<node>.claim`) still refuses a twin, and
//! still lets a dead earlier run be taken over.

mod common;

use common::spool::{scratch, terminate_within, wait_until, Node};
use std::path::Path;
use std::time::Duration;

const CFG: &str = "\
$request_dir spool 2
$timezone UTC
$node_lease 1 4
$rescan_interval 1
$line 1 sim outcomes=0@30
";

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

fn log_of(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_default()
}

/// Starts `node` logging to `log`, and waits for its lease naming its pid.
fn start_serving(dir: &Path, node: &str, log: &str) -> Node {
    let n = common::spool::start_logging_to(dir, node, &dir.join(log));
    let lease = dir.join(format!("spool/ACTIVE/{node}.lease"));
    let pid = n.id();
    assert!(
        wait_until(Duration::from_secs(20), || {
            std::fs::read_to_string(&lease).is_ok_and(|s| s.contains(&format!("\"pid\": {pid}")))
        }),
        "{node} never wrote its lease; log:\n{}",
        log_of(dir, log)
    );
    n
}

#[test]
fn a_second_process_as_a_running_node_refuses_even_without_its_flock() {
    let dir = scratch(CFG);
    let root = dir.path().join("spool");
    std::fs::write(root.join("TOSEND/00000001.FS"), "$fax_phone 5550101\n").unwrap();
    let first = start_serving(dir.path(), "n1", "first.log");
    assert!(wait_until(Duration::from_secs(20), || {
        common::spool::dialling_in(&root.join("ACTIVE/n1")) == 1
    }));
    // What a second mount (or a second machine) sees: no lock held on its file.
    std::fs::remove_file(root.join("ACTIVE/n1.lock")).unwrap();
    let mut second =
        common::spool::start_logging_to(dir.path(), "n1", &dir.path().join("second.log"));
    let exited = wait_until(Duration::from_secs(20), || {
        second.try_wait().unwrap().is_some()
    });
    let log = log_of(dir.path(), "second.log");
    assert!(exited, "the twin kept running; its log:\n{log}");
    assert!(!second.try_wait().unwrap().unwrap().success(), "{log}");
    let pid = first.id().to_string();
    assert!(
        log.contains("\"n1\"") && log.contains(&host()) && log.contains(&pid),
        "the refusal names the node, the host and the pid {pid}:\n{log}"
    );
    // The first node still owns its call.
    assert_eq!(common::spool::dialling_in(&root.join("ACTIVE/n1")), 1);
    assert!(std::fs::read_to_string(root.join("ACTIVE/n1.lease"))
        .unwrap()
        .contains(&format!("\"pid\": {pid}")));
    drop(first);
}

#[test]
fn a_killed_run_is_taken_over_at_once_by_the_next_run_on_this_machine() {
    let dir = scratch(CFG);
    let root = dir.path().join("spool");
    std::fs::write(root.join("TOSEND/00000001.FS"), "$fax_phone 5550101\n").unwrap();
    let mut first = start_serving(dir.path(), "n1", "first.log");
    assert!(wait_until(Duration::from_secs(20), || {
        common::spool::dialling_in(&root.join("ACTIVE/n1")) == 1
    }));
    first.kill().unwrap();
    first.wait().unwrap();
    assert!(root.join("ACTIVE/n1.claim").exists());
    // The lease is fresh (stale after 4 s) but its process is gone on this very machine.
    let second = start_serving(dir.path(), "n1", "second.log");
    let log = log_of(dir.path(), "second.log");
    assert!(!log.contains("already running"), "{log}");
    let claim = std::fs::read_to_string(root.join("ACTIVE/n1.claim")).unwrap();
    assert!(
        claim.contains(&format!("\"pid\": {}", second.id())),
        "{claim}"
    );
    assert!(terminate_within(second, Duration::from_secs(40)));
    assert!(
        !root.join("ACTIVE/n1.claim").exists(),
        "a clean stop gives the claim back"
    );
}

#[test]
fn a_claim_from_another_machine_whose_lease_is_stale_is_taken_over() {
    let dir = scratch(CFG);
    let root = dir.path().join("spool");
    std::fs::create_dir_all(root.join("ACTIVE")).unwrap();
    let claim =
        r#"{"node":"n1","host":"elsewhere","boot_id":"x","pid":4242,"started":7,"token":99}"#;
    std::fs::write(root.join("ACTIVE/n1.claim"), claim).unwrap();
    let lease = r#"{"node":"n1","pid":4242,"renewed":"2020-01-01T00:00:00Z","stale_after":4,"draining":false,"lines":[],"generation":5,"host":"elsewhere"}"#;
    std::fs::write(root.join("ACTIVE/n1.lease"), lease).unwrap();
    let n = start_serving(dir.path(), "n1", "n1.log");
    let now = std::fs::read_to_string(root.join("ACTIVE/n1.claim")).unwrap();
    assert!(now.contains(&format!("\"pid\": {}", n.id())), "{now}");
    assert!(terminate_within(n, Duration::from_secs(40)));
}

#[test]
fn a_claim_from_another_machine_with_a_live_lease_refuses() {
    let dir = scratch(CFG);
    let root = dir.path().join("spool");
    std::fs::create_dir_all(root.join("ACTIVE")).unwrap();
    let claim =
        r#"{"node":"n1","host":"elsewhere","boot_id":"x","pid":4242,"started":7,"token":99}"#;
    std::fs::write(root.join("ACTIVE/n1.claim"), claim).unwrap();
    // The other machine renews its lease while this one watches (the test plays it).
    let lease_path = root.join("ACTIVE/n1.lease");
    let write_lease = |at: chrono::DateTime<chrono::Utc>| {
        let lease = format!(
            r#"{{"node":"n1","pid":4242,"renewed":"{}","stale_after":4,"draining":false,"lines":[],"generation":5,"host":"elsewhere"}}"#,
            at.to_rfc3339()
        );
        std::fs::write(&lease_path, lease).unwrap();
    };
    write_lease(chrono::Utc::now());
    let mut n = common::spool::start_logging_to(dir.path(), "n1", &dir.path().join("n1.log"));
    let exited = wait_until(Duration::from_secs(20), || {
        write_lease(chrono::Utc::now());
        n.try_wait().unwrap().is_some()
    });
    let log = log_of(dir.path(), "n1.log");
    assert!(exited, "started beside a live node; log:\n{log}");
    assert!(
        log.contains("\"n1\"") && log.contains("elsewhere") && log.contains("4242"),
        "{log}"
    );
    assert!(std::fs::read_to_string(root.join("ACTIVE/n1.claim"))
        .unwrap()
        .contains("4242"));
}
