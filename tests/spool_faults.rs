//! Fault injection at every point of a job's life: each spool write, rename and lease renewal
//! of the daemon goes through one `Store`, and here each one in turn fails as a full disk
//! (ENOSPC, until space comes back), a broken disk (EIO, once) or a read-only file system
//! (EROFS, once) would make it fail; and, with the disk still full, the node "crashes" and a new
//! process of it starts once space is back. After each run every job is in exactly one place,
//! parses, has exactly one record per dial, and none is dialled after a successful call.

use chrono::{TimeZone, Utc};
use redial::command::Document;
use redial::daemon::clock::ManualClock;
use redial::daemon::{Daemon, Event};
use redial::spool::store::{self, Fault, FaultPlan, Point};
use redial::spool::Layout;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Arc, Mutex};

const CFG: &str = "\
$request_dir spool 2
$timezone UTC
$retry_delays B \"1S 1S 1S\"
$retry_delays E \"1S 1S 1S\"
$line 1 sim outcomes=2@5,0@30
$line 2 sim outcomes=0@30
";

const JOBS: &[(&str, &str)] = &[
    ("00000001.FS", "$fax_phone 5550001\n"),
    ("00000002.FS", "$fax_phone 5550002\n"),
    ("00000003.FS", "$fax_phone 5550003\n"),
    ("00000004.FS", "$fax_status1 2\n"),    // no destination
    ("00000005.FS", "this is not a job\n"), // does not parse
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    /// The disk fills at the k-th operation and stays full until the run clears it.
    Full,
    /// The k-th operation fails once with this errno.
    Once(i32),
    /// The disk fills; the node dies; space comes back; the node starts again.
    FullThenCrash,
}

struct Run {
    fired: Vec<Point>,
}

fn node(dir: &Path, clock: &ManualClock, events: &Arc<Mutex<Vec<Event>>>) -> Daemon {
    let mut d = Daemon::new(
        Some(&dir.join("redial.cfg")),
        dir,
        "n1",
        Arc::new(clock.clone()),
        None,
    )
    .unwrap();
    let ev = events.clone();
    d.on_event(move |e| ev.lock().unwrap().push(e.clone()));
    d
}

fn run(mode: Mode, k: usize) -> Run {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("redial.cfg"), CFG).unwrap();
    let layout = Layout::new(dir.path().join("spool"), 2);
    layout.create(None).unwrap();
    // The good jobs are there at start; the bad ones arrive later (the watcher's news).
    for (n, t) in &JOBS[..3] {
        std::fs::write(layout.queue_dir(0).join(n), t).unwrap();
    }
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let events = Arc::new(Mutex::new(Vec::new()));
    let plan = Arc::new(Mutex::new(FaultPlan::default()));
    let (count, errno) = match mode {
        Mode::Full | Mode::FullThenCrash => (None, libc::ENOSPC),
        Mode::Once(e) => (Some(1), e),
    };
    plan.lock().unwrap().add(Fault {
        point: None,
        after: k,
        count,
        errno,
    });
    let mut d = node(dir.path(), &clock, &events);
    // start() itself refuses to run on a spool it cannot write (its lease): faults from then on.
    d.start().unwrap();
    d.inject_faults(plan.clone());
    for (n, t) in &JOBS[3..] {
        std::fs::write(layout.queue_dir(0).join(n), t).unwrap();
    }
    d.rescan();
    for _ in 0..8 {
        d.maintain(); // lease renewal
        d.run_virtual(&clock, 5);
    }
    let fired = plan.lock().unwrap().fired.clone();
    match mode {
        Mode::FullThenCrash => {
            drop(d); // kill -9: nothing more is written
            let mut d2 = node(dir.path(), &clock, &events);
            d2.start().unwrap();
            d2.run_virtual(&clock, 400);
            assert_eq!(d2.pending_results(), 0);
        }
        _ => {
            plan.lock().unwrap().clear();
            d.run_virtual(&clock, 400);
            assert_eq!(
                d.pending_results(),
                0,
                "{mode:?} at {k}: results still pending"
            );
            assert!(d.spool_health().failing_since.is_none());
        }
    }
    check(&layout, &events.lock().unwrap(), mode, k);
    Run { fired }
}

fn check(layout: &Layout, events: &[Event], mode: Mode, k: usize) {
    let ctx = format!("{mode:?} at operation {k}");
    // Every job in exactly one place, and that place is SENT or FAIL.
    let mut places: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut dirs = vec![
        layout.queue_dir(0),
        layout.queue_dir(1),
        layout.queue_dir(2),
    ];
    dirs.push(layout.sent());
    dirs.push(layout.fail());
    dirs.push(layout.active("n1"));
    for d in &dirs {
        for n in store::list_jobs(d).unwrap() {
            places
                .entry(n)
                .or_default()
                .push(d.file_name().unwrap().to_string_lossy().into());
        }
    }
    assert_eq!(places.len(), JOBS.len(), "{ctx}: {places:?}");
    for (n, p) in &places {
        assert_eq!(p.len(), 1, "{ctx}: {n} is in {p:?}");
        assert!(
            p[0] == "SENT" || p[0] == "FAIL",
            "{ctx}: {n} stranded in {p:?}"
        );
    }
    let mut dials: BTreeMap<String, usize> = BTreeMap::new();
    for e in events {
        if let Event::Dialling { job, .. } = e {
            *dials.entry(job.clone()).or_default() += 1;
        }
    }
    for (n, p) in &places {
        let path = Path::new(&layout.root).join(&p[0]).join(n);
        let bytes = std::fs::read(&path).unwrap();
        if n == "00000005.FS" {
            assert_eq!(bytes, b"this is not a job\n", "{ctx}");
            assert!(
                layout.fail().join("00000005.FS.err").is_file(),
                "{ctx}: no .err"
            );
            continue;
        }
        let doc = Document::parse(&bytes, n).unwrap_or_else(|e| panic!("{ctx}: {e}"));
        let recs: Vec<(String, String)> = doc
            .all("attempt_record")
            .map(|r| (r.texts()[5].to_string(), r.texts()[6].to_string()))
            .collect();
        let d = dials.get(n).copied().unwrap_or(0);
        assert_eq!(recs.len(), d, "{ctx}: {n}: {d} dials, records {recs:?}");
        if let Some(i) = recs.iter().position(|r| r.1 == "S") {
            assert_eq!(
                i,
                recs.len() - 1,
                "{ctx}: {n} dialled after success: {recs:?}"
            );
        }
        if p[0] == "SENT" {
            assert_eq!(recs.last().map(|r| r.1.as_str()), Some("S"), "{ctx}: {n}");
        }
    }
}

fn sweep(mode: Mode) -> BTreeSet<Point> {
    let mut covered = BTreeSet::new();
    for k in 0..200 {
        let r = run(mode, k);
        if r.fired.is_empty() {
            assert!(k > 10, "{mode:?}: only {k} operations in a whole run?");
            return covered;
        }
        covered.extend(r.fired);
    }
    panic!("{mode:?}: the run never ends without a fault");
}

const EVERY_POINT: &[Point] = &[
    Point::Claim,
    Point::ClaimWrite,
    Point::ResultWrite,
    Point::MoveOn,
    Point::RejectWrite,
    Point::RejectMove,
    Point::Lease,
];

#[test]
fn disk_full_at_every_point_loses_nothing_and_redials_nothing() {
    let covered = sweep(Mode::Full);
    for p in EVERY_POINT.iter().chain(&[Point::GiveBack]) {
        assert!(
            covered.contains(p),
            "{p:?} never failed: covered {covered:?}"
        );
    }
    eprintln!("disk full: covered {covered:?}");
}

#[test]
fn one_failed_operation_at_every_point_io_error_and_read_only() {
    for errno in [libc::EIO, libc::EROFS] {
        let covered = sweep(Mode::Once(errno));
        for p in EVERY_POINT {
            assert!(
                covered.contains(p),
                "{errno}: {p:?} never failed: {covered:?}"
            );
        }
        eprintln!("errno {errno}: covered {covered:?}");
    }
}

#[test]
fn disk_full_then_crash_then_restart_uses_the_journal() {
    let covered = sweep(Mode::FullThenCrash);
    assert!(covered.contains(&Point::ResultWrite));
    eprintln!("disk full then crash: covered {covered:?}");
}
