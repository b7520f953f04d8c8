//! What an attempt costs in fsyncs, counted on the node's own thread
//! (`store::fsyncs_on_this_thread`), on a virtual clock with durable writes on: a claim with
//! its dialling mark makes 2 (`ACTIVE/<node>/` and the queue it came from), a result 2 (the
//! file, then `ACTIVE/<node>/` where it was exchanged), its move 1 (the directory it went to).
//! The fsync that makes the move's removal from `ACTIVE/<node>/` durable is owed and paid by
//! the next claim's fsync of that directory, so a busy node makes 5 an attempt, not 6; a pass
//! that claims nothing pays it itself before it ends: no pass ends owing one.

mod common;

use chrono::{TimeZone, Utc};
use common::inproc::node;
use redial::daemon::clock::ManualClock;
use redial::spool::{store, Layout};

/// A scratch base with a CFG of one `sim` line whose calls succeed after 0.1 s, and its spool.
fn one_line_spool() -> (tempfile::TempDir, Layout) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("redial.cfg"),
        "$request_dir spool 1\n$timezone UTC\n$line 1 sim outcomes=0@0.1\n",
    )
    .unwrap();
    let layout = Layout::new(dir.path().join("spool"), 1);
    layout.create(None).unwrap();
    (dir, layout)
}

/// fsyncs of a node that sends `jobs` one-attempt jobs one after another on one line,
/// checking after every pass that nothing is owed.
fn fsyncs_for(jobs: usize) -> u64 {
    assert!(store::durable(), "this binary keeps durable writes on");
    let (dir, layout) = one_line_spool();
    for i in 0..jobs {
        std::fs::write(
            layout.queue_dir(0).join(format!("{:08}.FS", i + 1)),
            format!("$fax_phone 55501{i:02}\n"),
        )
        .unwrap();
    }
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let (mut d, _events) = node(dir.path(), "n1", &clock);
    d.start().unwrap();
    let before = store::fsyncs_on_this_thread();
    let mut passes = 0;
    loop {
        d.poll();
        assert_eq!(d.owed_fsyncs(), 0, "pass {passes} ended owing an fsync");
        passes += 1;
        match d.next_wakeup() {
            Some(t) if passes < 10_000 => clock.set(t),
            _ => break,
        }
    }
    let spent = store::fsyncs_on_this_thread() - before;
    assert_eq!(
        std::fs::read_dir(layout.sent()).unwrap().count(),
        jobs,
        "every job sent"
    );
    d.shutdown();
    spent
}

#[test]
fn a_busy_node_makes_five_fsyncs_an_attempt_and_owes_none_between_passes() {
    let (ten, twenty) = (fsyncs_for(10), fsyncs_for(20));
    assert_eq!(
        twenty - ten,
        10 * 5,
        "ten more attempts cost 5 fsyncs each (10 jobs: {ten}, 20 jobs: {twenty})"
    );
}

/// The state a power cut leaves while that fsync is owed (or between the two fsyncs of any
/// durable move): the job at its new place and still at its old name in `ACTIVE/<node>/`, one
/// file under two names. At the restart the old name is removed: the sent job is not recorded
/// again, the queued one is not queued twice, and each is dialled as often as before the cut.
#[test]
fn a_job_both_moved_on_and_still_in_active_is_recovered_as_moved() {
    let (dir, layout) = one_line_spool();
    let job = |n: u32| format!("{n:08}.FS");
    std::fs::write(layout.queue_dir(0).join(job(1)), "$fax_phone 5550101\n").unwrap();
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let (mut d, _) = node(dir.path(), "n1", &clock);
    d.start().unwrap();
    d.run_virtual(&clock, 100);
    d.shutdown();
    drop(d);
    let sent = std::fs::read(layout.sent().join(job(1))).unwrap();
    // The cut: job 1 sent and still in ACTIVE; job 2 back in its queue and still in ACTIVE.
    let active = layout.active("n1");
    std::fs::create_dir_all(&active).unwrap();
    std::fs::hard_link(layout.sent().join(job(1)), active.join(job(1))).unwrap();
    std::fs::write(layout.queue_dir(0).join(job(2)), "$fax_phone 5550102\n").unwrap();
    std::fs::hard_link(layout.queue_dir(0).join(job(2)), active.join(job(2))).unwrap();

    let (mut d, events) = node(dir.path(), "n1", &clock);
    d.start().unwrap();
    d.run_virtual(&clock, 100);
    let names = |p: &std::path::Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".FS"))
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&layout.sent()),
        [job(1), job(2)],
        "each job sent once"
    );
    assert_eq!(
        std::fs::read(layout.sent().join(job(1))).unwrap(),
        sent,
        "job 1's record is not written again"
    );
    assert!(names(&layout.queue_dir(0)).is_empty());
    assert!(names(&active).is_empty());
    let dialled: Vec<String> = events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            redial::daemon::Event::Dialling { job, .. } => Some(job.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(dialled, [job(2)], "only job 2 is dialled, once");
}
