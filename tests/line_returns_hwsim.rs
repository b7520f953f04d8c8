//! A modem line that is missing, then there, then gone, then back, through a running
//! `redial run` and real ptys: a device missing at start leaves its line out of service (no job
//! is charged for finding that out) and the other line carries the calls; once the device is
//! there the line's probe (`probe=1`: one second, doubling while probes fail) puts it back in
//! service and it takes calls again; a device gone mid-run costs the one call that found it gone
//! (outcome 35, retried on the other line), and the line comes back the same way.

mod common;

use common::spool::*;
use std::path::Path;
use std::time::Duration;

/// hw-sim's calls so far, by modem index.
fn calls_by_modem(rack: &Path) -> Vec<usize> {
    std::fs::read_to_string(rack.join("calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["modem"].as_u64().unwrap() as usize
        })
        .collect()
}

fn log(base: &Path) -> String {
    std::fs::read_to_string(base.join("n1.log")).unwrap_or_default()
}

/// How often the node has put line 1 back in service.
fn back_in_service(base: &Path) -> usize {
    log(base).matches("line back in service line=1").count()
}

/// Queues jobs to numbers of their own (one call at a time to a number: two jobs to one
/// number would never be on both lines at once).
fn queue(base: &Path, names: &[&str]) {
    // Written aside and renamed in, so the node never reads half a job.
    for n in names {
        let tmp = base.join(format!("{n}.tmp"));
        let digit = n.trim_end_matches(".FS");
        let job = format!("$fax_phone 555 060{digit}\n$fax_filename page.txt\n");
        std::fs::write(&tmp, job).unwrap();
        std::fs::rename(&tmp, base.join("spool/TOSEND").join(n)).unwrap();
    }
}

fn sent(base: &Path, names: &[&str]) -> bool {
    names
        .iter()
        .all(|n| base.join("spool/SENT").join(n).exists())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_vanished_modem_returns_to_service_through_its_probe() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = "[defaults]\nunknown = { kind = \"fax\", rings = 1, csi = \"BACK\" }\n";
    let rack = common::hwsim::rack(&dir.path().join("rack"), 2, scenario, 0.05).await;
    let rack_dir = rack.dir.clone();
    // Line 1's device is a link the test makes and removes; line 2's is always there.
    let device = dir.path().join("ttyLINE1");
    let cfg = format!(
        "$request_dir spool 2\n$retry_delays E \"1S\"\n\
         $line 1 {} class=2.0 probe=1\n$line 2 {} class=2.0\n",
        device.display(),
        rack.tty(1).display()
    );
    let spool = scratch(&cfg);
    let base = spool.path().to_path_buf();
    std::fs::write(base.join("page.txt"), "Back in service.\n").unwrap();
    let node = start(&base, "n1");
    let (b, r, dev, tty0) = (base.clone(), rack_dir.clone(), device.clone(), rack.tty(0));
    tokio::task::spawn_blocking(move || {
        let within = Duration::from_secs(90);
        // Missing at start: out of service; the job goes on line 2 (modem 1) only.
        queue(&b, &["1.FS"]);
        assert!(wait_until(within, || sent(&b, &["1.FS"])), "{}", log(&b));
        assert!(log(&b).contains("missing at start"), "{}", log(&b));
        assert_eq!(calls_by_modem(&r), [1]);
        // The device appears: the probe puts the line back, and two jobs at once use both.
        std::os::unix::fs::symlink(&tty0, &dev).unwrap();
        assert!(
            wait_until(within, || back_in_service(&b) == 1),
            "{}",
            log(&b)
        );
        queue(&b, &["2.FS", "3.FS"]);
        assert!(
            wait_until(within, || sent(&b, &["2.FS", "3.FS"])),
            "{}",
            log(&b)
        );
        let calls = calls_by_modem(&r);
        assert_eq!(calls[1..].len(), 2);
        assert!(
            calls[1..].contains(&0),
            "line 1 took a call again: {calls:?}"
        );
        // Gone mid-run: the call that finds it gone fails (35) and is retried on line 2.
        std::fs::remove_file(&dev).unwrap();
        let before = calls_by_modem(&r).len();
        queue(&b, &["4.FS", "5.FS"]);
        assert!(
            wait_until(within, || sent(&b, &["4.FS", "5.FS"])),
            "{}",
            log(&b)
        );
        let records: String = ["4.FS", "5.FS"]
            .iter()
            .map(|n| std::fs::read_to_string(b.join("spool/SENT").join(n)).unwrap())
            .collect();
        assert_eq!(
            records.matches("$attempt_record").count(),
            3,
            "one call found the device gone and was retried: {records}"
        );
        assert_eq!(
            calls_by_modem(&r)[before..],
            [1, 1],
            "hw-sim saw both calls on modem 1"
        );
        assert!(log(&b).contains("line out of service"), "{}", log(&b));
        // And back again.
        std::os::unix::fs::symlink(&tty0, &dev).unwrap();
        assert!(
            wait_until(within, || back_in_service(&b) == 2),
            "{}",
            log(&b)
        );
        queue(&b, &["6.FS", "7.FS"]);
        assert!(
            wait_until(within, || sent(&b, &["6.FS", "7.FS"])),
            "{}",
            log(&b)
        );
        let calls = calls_by_modem(&r);
        assert!(
            calls[calls.len() - 2..].contains(&0),
            "line 1 took a call after it came back: {calls:?}\n{}",
            log(&b)
        );
    })
    .await
    .unwrap();
    assert!(terminate_within(node, Duration::from_secs(30)));
    rack.stop().await;
}
