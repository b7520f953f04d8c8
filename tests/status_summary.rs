//! `redial status` from a running node's published summary says what reading every file says:
//! due, held by a window (and until when), waiting for a retry, scheduled, unserved. And it is
//! trusted only while the node's lease is fresh. On a virtual clock, in process.

mod common;

use chrono::{Duration, TimeZone, Utc};
use common::inproc::node;
use redial::daemon::clock::ManualClock;
use redial::linegroup::LineMap;
use redial::load::SystemConfig;
use redial::spool::{report, store, summary, Layout};

#[test]
fn the_published_counts_match_the_files_and_go_stale_with_the_lease() {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let cfg = base.join("redial.cfg");
    std::fs::write(
        &cfg,
        "$request_dir spool 2\n$timezone UTC\n$line 1 sim outcomes=0@1 group=fax\n",
    )
    .unwrap();
    let layout = Layout::new(base.join("spool"), 2);
    layout.create(None).unwrap();
    let jobs = [
        (0, "due1.FS", "$fax_phone 5550100\n"),
        (0, "due2.FS", "$fax_phone 5550101\n$fax_send_line fax\n"),
        (
            0,
            "retry.FS",
            "$fax_phone 5550102\n$fax_next_date 03/02/2026\n$fax_next_time 10:00:00\n",
        ),
        (
            1,
            "sched.FS",
            "$fax_phone 5550103\n$fax_send_date 03/03/2026\n$fax_send_time 08:00:00\n",
        ),
        (
            1,
            "window.FS",
            "$fax_phone 5550104\n$fax_send_time 10:00:00 11:00:00\n",
        ),
        (
            1,
            "nowhere.FS",
            "$fax_phone 5550105\n$fax_send_line voice\n",
        ),
    ];
    for (q, name, text) in jobs {
        std::fs::write(layout.queue_dir(q).join(name), text).unwrap();
    }
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let clock = ManualClock::new(now);
    let (mut d, _) = node(base, "n1", &clock);
    d.start().unwrap();
    let sys = SystemConfig::load(&cfg).unwrap();
    let lines = LineMap::from_cfg(&sys.document);

    // From the files (no summary yet).
    let files = report::status_with(&layout, &sys, now, Some(&lines)).unwrap();
    let counts = |s: &report::Status| {
        s.queues
            .iter()
            .map(|q| {
                (
                    q.due,
                    q.held,
                    q.held_until,
                    q.waiting_retry,
                    q.scheduled,
                    q.unserved,
                )
            })
            .collect::<Vec<_>>()
    };
    let window_opens = Utc.with_ymd_and_hms(2026, 3, 2, 10, 0, 0).unwrap();
    assert_eq!(
        counts(&files),
        vec![
            (2, 0, None, 1, 0, 0),
            (0, 1, Some(window_opens), 0, 1, 1),
            (0, 0, None, 0, 0, 0)
        ]
    );

    // From the summary: the same counts; the files are not read (they are gone from under it).
    d.publish_summary();
    let p = summary::path(&layout, "n1");
    assert!(p.is_file());
    for (q, name, _) in jobs {
        std::fs::rename(
            layout.queue_dir(q).join(name),
            base.join("spool/TEMP").join(name),
        )
        .unwrap();
    }
    let published = report::status_with(&layout, &sys, now, Some(&lines)).unwrap();
    assert_eq!(counts(&published), counts(&files));
    assert_eq!(published.held.len(), 1);
    assert_eq!(published.held[0].job, "nowhere.FS");

    // Once the lease is stale (the node stopped renewing it), the summary is not trusted.
    let later = now + Duration::minutes(10);
    let scanned = report::status_with(&layout, &sys, later, Some(&lines)).unwrap();
    assert_eq!(counts(&scanned), vec![(0, 0, None, 0, 0, 0); 3]);
    d.shutdown();
    assert!(!p.exists(), "a node removes its summary when it stops");
}

/// An idle node does not write its summary every second: only when the counts change, or once
/// a lease renewal after the last write (so it stays fresh enough to be trusted).
#[test]
fn an_idle_node_rewrites_its_summary_only_when_it_must() {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    std::fs::write(
        base.join("redial.cfg"),
        "$request_dir spool 0\n$timezone UTC\n$line 1 sim outcomes=0@1\n$node_lease 10 60\n",
    )
    .unwrap();
    let layout = Layout::new(base.join("spool"), 0);
    layout.create(None).unwrap();
    std::fs::write(
        layout.queue_dir(0).join("later.FS"),
        "$fax_phone 5550100\n$fax_send_date 03/03/2026\n",
    )
    .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap();
    let clock = ManualClock::new(now);
    let (mut d, _) = node(base, "n1", &clock);
    d.start().unwrap();
    let p = summary::path(&layout, "n1");
    d.publish_summary();
    assert!(p.is_file());
    std::fs::remove_file(&p).unwrap();
    // Nothing changed, a second later: not written.
    clock.set(now + Duration::seconds(1));
    d.publish_summary();
    assert!(
        !p.exists(),
        "an unchanged summary was written again after 1 s"
    );
    // A new job changes the counts: written at once.
    std::fs::write(layout.queue_dir(0).join("now.FS"), "$fax_phone 5550101\n").unwrap();
    d.rescan();
    d.publish_summary();
    assert!(p.is_file());
    std::fs::remove_file(&p).unwrap();
    // Unchanged again, but a lease renewal (10 s) after the last write: written.
    clock.set(now + Duration::seconds(12));
    d.publish_summary();
    assert!(
        p.is_file(),
        "the summary must be rewritten within a lease renewal"
    );
}
