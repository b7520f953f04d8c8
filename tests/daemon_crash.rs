//! Real `redial run` processes, killed with SIGKILL at random moments under load and
//! restarted; and two nodes on one spool, one of them killed. Every job must end in exactly
//! one place with its records adding up.

mod common;

use common::spool::{
    census, dialling_in, landed, scratch, terminate_within, wait_until, Node, BIN,
};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A node with its log off (these tests kill it many times).
fn start(dir: &Path, node: &str) -> Child {
    Command::new(BIN)
        .args(["run", "--cfg", "redial.cfg", "--node", node, "--base", "."])
        .current_dir(dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("start redial run")
}

fn terminate(c: Child) {
    terminate_within(Node::from(c), Duration::from_secs(10));
}

/// Checks every landed job: records present, the final one S (SENT) or Z (FAIL), no S or Z
/// before it. Returns (records, interrupted records).
fn check_records(root: &Path, jobs: usize) -> (usize, usize) {
    let mut records = 0;
    let mut interrupted = 0;
    for (dir, fin) in [("SENT", 'S'), ("FAIL", 'Z')] {
        for e in std::fs::read_dir(root.join(dir)).unwrap().flatten() {
            let text = std::fs::read_to_string(e.path()).unwrap();
            let classes: Vec<(u32, char)> = text
                .lines()
                .filter(|l| l.starts_with("$attempt_record"))
                .map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    (f[6].parse().unwrap(), f[7].chars().next().unwrap())
                })
                .collect();
            let name = e.file_name();
            assert!(!classes.is_empty(), "{name:?} has no record");
            assert_eq!(classes.last().unwrap().1, fin, "{name:?}: {classes:?}");
            assert!(
                classes[..classes.len() - 1]
                    .iter()
                    .all(|c| c.1 != 'S' && c.1 != 'Z'),
                "{name:?}: {classes:?}"
            );
            records += classes.len();
            interrupted += classes.iter().filter(|c| c.0 == 66).count();
        }
    }
    assert_eq!(landed(root), jobs);
    (records, interrupted)
}

fn setup(cfg: &str, jobs: usize) -> tempfile::TempDir {
    let dir = scratch(cfg);
    for i in 0..jobs {
        let q = ["TOSEND", "TOSEND1", "TOSEND2"][i % 3];
        std::fs::write(
            dir.path()
                .join("spool")
                .join(q)
                .join(format!("{:08}.FS", i + 1)),
            format!("$fax_phone 555{:04}\n", i),
        )
        .unwrap();
    }
    dir
}

const CRASH_CFG: &str = "\
$request_dir spool 2
$timezone UTC
$node_lease 1 3
$rescan_interval 1
$retry_delays A \"1S 1S 1S\"
$retry_delays B \"1S 1S 1S 1S\"
$retry_delays E \"1S 1S 1S 1S 1S 1S\"
$retry_max 8
$line 1 sim outcomes=0@0.2
$line 2 sim outcomes=2@0.1,0@0.3
$line 3 sim outcomes=1@0.2,2@0.1,0@0.2
$line 4 sim outcomes=2@0.1,1@0.1,1@0.1,1@0.1,1@0.1
";

#[test]
fn sigkill_at_random_moments_loses_nothing() {
    const JOBS: usize = 150;
    let dir = setup(CRASH_CFG, JOBS);
    let root = dir.path().join("spool");
    // A fixed-seed generator: the kill moments vary, the assertions do not.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |lo: u64, hi: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        lo + seed % (hi - lo)
    };
    let kills = 8;
    for round in 0..kills {
        let mut c = start(dir.path(), "n1");
        std::thread::sleep(Duration::from_millis(rand(150, 900)));
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
        let m = census(&root);
        assert_eq!(m.len(), JOBS, "round {round}: jobs missing");
        for (n, dirs) in &m {
            assert_eq!(dirs.len(), 1, "round {round}: {n} is in {dirs:?}");
        }
    }
    let c = start(dir.path(), "n1");
    // Normally this takes a few seconds; the bound is generous for a loaded CI machine.
    let done = wait_until(Duration::from_secs(150), || landed(&root) == JOBS);
    terminate(c);
    let stragglers: Vec<_> = census(&root)
        .into_iter()
        .filter(|(_, dirs)| {
            !dirs
                .iter()
                .any(|d| d.ends_with("SENT") || d.ends_with("FAIL"))
        })
        .collect();
    assert!(
        done,
        "only {} of {JOBS} landed; still out: {stragglers:?}",
        landed(&root)
    );
    let m = census(&root);
    assert_eq!(m.len(), JOBS);
    assert!(m.values().all(|d| d.len() == 1));
    let (records, interrupted) = check_records(&root, JOBS);
    eprintln!("{JOBS} jobs, {records} records, {interrupted} interrupted by {kills} kills");
    assert!(records >= JOBS);
    assert!(
        interrupted <= kills * 4,
        "{interrupted} interrupted records after {kills} kills of 4 lines"
    );
    assert!(
        !root.join("ACTIVE/n1").exists()
            || std::fs::read_dir(root.join("ACTIVE/n1")).unwrap().count() == 0
    );
}

const NODES_CFG: &str = "\
$request_dir spool 2
$timezone UTC
$node_lease 1 2
$rescan_interval 1
$node a lines=1-2
$node b lines=3-4
$retry_delays B \"1S 1S\"
$retry_delays E \"1S 1S 1S\"
$line 1 sim outcomes=0@30
$line 2 sim outcomes=0@30
$line 3 sim outcomes=2@0.1,0@0.1
$line 4 sim outcomes=0@0.2
";

#[test]
fn two_nodes_one_killed_the_other_finishes_its_work() {
    const JOBS: usize = 40;
    let dir = setup(NODES_CFG, JOBS);
    let root = dir.path().join("spool");
    let mut a = start(dir.path(), "a");
    let b = start(dir.path(), "b");
    // Node a's calls last 30 s: once it holds two, kill it.
    let busy = wait_until(Duration::from_secs(20), || {
        // Claimed and dialled: the claim ($fax_status1 3) is written before the call starts.
        dialling_in(&root.join("ACTIVE/a")) == 2
    });
    assert!(busy, "node a never got two calls");
    a.kill().unwrap();
    a.wait().unwrap();
    let done = wait_until(Duration::from_secs(30), || landed(&root) == JOBS);
    terminate(b);
    assert!(done, "only {} of {JOBS} landed", landed(&root));
    let m = census(&root);
    assert_eq!(m.len(), JOBS);
    assert!(m.values().all(|d| d.len() == 1), "{m:?}");
    let (_, interrupted) = check_records(&root, JOBS);
    assert_eq!(
        interrupted, 2,
        "node a's two calls are recorded as interrupted"
    );
    assert!(!root.join("ACTIVE/a").exists() && !root.join("ACTIVE/a.lease").exists());
}
