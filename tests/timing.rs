//! A retry never starts before the engine's instant: due times are kept to the millisecond
//! (rounded up), not cut to whole seconds. On a virtual clock, so exact.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::inproc::node;
use redial::daemon::clock::ManualClock;
use redial::daemon::{Event, Next};
use redial::spool::{store, Layout};

#[test]
fn retries_start_at_their_instant_not_before() {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    // Busy calls of 0.3 s and 0.7 s, then success; retry 10 s after each busy. A line per job,
    // so no job waits for a line.
    std::fs::write(
        dir.path().join("redial.cfg"),
        "$request_dir spool 1\n$timezone UTC\n$retry_delays B \"10S 10S 10S\"\n\
         $line 1 sim outcomes=2@0.3,2@0.7,0@1\n$line 2 sim outcomes=2@0.3,2@0.7,0@1\n\
         $line 3 sim outcomes=2@0.3,2@0.7,0@1\n$line 4 sim outcomes=2@0.3,2@0.7,0@1\n\
         $line 5 sim outcomes=2@0.3,2@0.7,0@1\n",
    )
    .unwrap();
    let layout = Layout::new(dir.path().join("spool"), 1);
    layout.create(None).unwrap();
    for i in 0..5 {
        std::fs::write(
            layout.queue_dir(0).join(format!("{:08}.FS", i + 1)),
            format!("$fax_phone 555010{i}\n"),
        )
        .unwrap();
    }
    let t0 = Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap() + Duration::milliseconds(250);
    let clock = ManualClock::new(t0);
    let (mut d, events) = node(dir.path(), "n1", &clock);
    d.start().unwrap();
    d.run_virtual(&clock, 1000);
    let events = events.lock().unwrap();
    // Each retry's instant, by job, from the engine's decisions.
    let mut promised: std::collections::HashMap<String, Vec<DateTime<Utc>>> = Default::default();
    let mut checked = 0;
    for e in events.iter() {
        match e {
            Event::Outcome {
                job,
                next: Next::Retry(_, at),
                ..
            } => promised.entry(job.clone()).or_default().push(*at),
            Event::Dialling {
                job, at, attempt, ..
            } if *attempt > 1 => {
                let due = promised[job][attempt - 2];
                assert!(
                    *at >= due,
                    "{job} attempt {attempt} dialled at {at}, due {due}"
                );
                assert!(
                    *at - due < Duration::milliseconds(20),
                    "{job} attempt {attempt} late: dialled at {at}, due {due}"
                );
                checked += 1;
            }
            _ => {}
        }
    }
    assert!(checked >= 10, "only {checked} retries checked");
    assert_eq!(store::list_jobs(&layout.sent()).unwrap().len(), 5);
}
