//! Send windows, pause windows and holidays at the daemon level, on a virtual clock with scripted
//! lines: no attempt starts outside its send window or inside a pause window, whatever made it
//! due (first attempt, overdue after downtime, manual retry, retry, destination breaker release).

use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use redial::daemon::clock::ManualClock;
use redial::daemon::Daemon;
use redial::line::scripted::{Placement, Script, ScriptedLine};
use redial::line::{Call, Line};
use redial::spool::{store, Layout};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
}

struct Rig {
    dir: tempfile::TempDir,
    cfg: PathBuf,
    clock: ManualClock,
    log: Arc<Mutex<Vec<Placement>>>,
}

impl Rig {
    fn new(cfg_text: &str, start: DateTime<Utc>) -> Rig {
        store::set_durable(false);
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("redial.cfg");
        std::fs::write(&cfg, format!("$request_dir spool 3\n{cfg_text}")).unwrap();
        Layout::new(dir.path().join("spool"), 3)
            .create(None)
            .unwrap();
        Rig {
            dir,
            cfg,
            clock: ManualClock::new(start),
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }
    fn layout(&self) -> Layout {
        Layout::new(self.dir.path().join("spool"), 3)
    }
    fn drop_job(&self, q: u8, name: &str, text: &str) {
        std::fs::write(self.layout().queue_dir(q).join(name), text).unwrap();
    }
    fn daemon(&self, lines: u32, script: Script) -> Daemon {
        let lines: Vec<Box<dyn Line>> = (1..=lines)
            .map(|n| {
                Box::new(ScriptedLine::new(n, script.clone(), self.log.clone())) as Box<dyn Line>
            })
            .collect();
        Daemon::new(
            Some(&self.cfg),
            self.dir.path(),
            "n1",
            Arc::new(self.clock.clone()),
            Some(lines),
        )
        .unwrap()
    }
    /// `(job, start)` of every placed call, in order.
    fn starts(&self) -> Vec<(String, DateTime<Utc>)> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .map(|p| (p.job.clone(), p.at))
            .collect()
    }
    fn in_dir(&self, dir: PathBuf) -> Vec<String> {
        let mut v = store::list_jobs(&dir).unwrap();
        v.sort();
        v
    }
}

fn always(code: u32, secs: i64) -> Script {
    Arc::new(move |_: &Call, _| (code, secs))
}

/// Whether the UTC time of day of `t` lies in `[from, to)`, a window that may run past midnight.
fn inside(t: DateTime<Utc>, from: (u32, u32), to: (u32, u32)) -> bool {
    let hm = |(h, m): (u32, u32)| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    let (from, to, at) = (hm(from), hm(to), t.time());
    if from < to {
        from <= at && at < to
    } else {
        at >= from || at < to
    }
}

#[test]
fn an_overdue_job_after_a_restart_waits_for_tomorrows_window() {
    // The daemon was down all night and comes up at 13:35; today's 02:00-02:30 window is over.
    let rig = Rig::new("", utc(2026, 3, 2, 13, 35, 0));
    let window = "$fax_send_date 03/02/2026\n$fax_send_time 02:00:00 02:30:00\n";
    rig.drop_job(0, "1.FS", &format!("$fax_phone 1\n{window}"));
    // A job moved back from FAIL by hand (a manual retry: its last record is final, so a new
    // cycle starts) with the same window.
    rig.drop_job(
        0,
        "2.FS",
        &format!(
            "$fax_phone 2\n{window}$attempt_record 03/02/2026 02:00:00 1 0 1 7 Z 0 0 0 T1 0 20 0 \"\"\n"
        ),
    );
    let mut d = rig.daemon(2, always(0, 30));
    d.start().unwrap();
    d.poll();
    assert_eq!(rig.starts(), [], "nothing is dialled at 13:35");
    let tomorrow = utc(2026, 3, 3, 2, 0, 0);
    assert_eq!(d.next_wakeup(), Some(tomorrow));
    d.run_virtual(&rig.clock, 100);
    assert_eq!(
        rig.starts(),
        [
            ("1.FS".to_string(), tomorrow),
            ("2.FS".to_string(), tomorrow)
        ]
    );
    assert_eq!(rig.in_dir(rig.layout().sent()), ["1.FS", "2.FS"]);
}

#[test]
fn a_job_kept_waiting_by_busy_lines_past_its_window_is_not_dialled_late() {
    // One line, busy with a 15-minute call from 08:55; a job whose window 08:00-09:00 is open
    // when it is indexed is picked only at 09:10, after its window closed. The claim's re-check
    // gives it back, and it is dialled when the window opens again.
    let rig = Rig::new("", utc(2026, 3, 2, 8, 55, 0));
    rig.drop_job(0, "1.FS", "$fax_phone 1\n");
    rig.drop_job(
        1,
        "2.FS",
        "$fax_phone 2\n$fax_send_date 03/02/2026\n$fax_send_time 08:00:00 09:00:00\n",
    );
    let script: Script = Arc::new(|c: &Call, _| (0, if c.job == "1.FS" { 900 } else { 30 }));
    let mut d = rig.daemon(1, script);
    d.start().unwrap();
    d.run_virtual(&rig.clock, 100);
    assert_eq!(
        rig.starts(),
        [
            ("1.FS".to_string(), utc(2026, 3, 2, 8, 55, 0)),
            ("2.FS".to_string(), utc(2026, 3, 3, 8, 0, 0)),
        ]
    );
    assert_eq!(rig.in_dir(rig.layout().sent()), ["1.FS", "2.FS"]);
}

#[test]
fn the_claim_re_check_refuses_a_start_even_half_a_second_inside_a_pause() {
    // Job 2 is due (and ready) from 06:00:00.5 but waits for the one line until 07:59:59.5,
    // half a second before the 07:00-08:00 pause ends. The claim's re-check gives it back; it
    // starts at 08:00:00.
    let start = utc(2026, 3, 2, 6, 0, 0) + chrono::Duration::milliseconds(500);
    let rig = Rig::new("$pause_window \"*\" 07:00 08:00\n", start);
    rig.drop_job(0, "1.FS", "$fax_phone 1\n");
    rig.drop_job(1, "2.FS", "$fax_phone 2\n");
    let script: Script = Arc::new(|c: &Call, _| (0, if c.job == "1.FS" { 7199 } else { 30 }));
    let mut d = rig.daemon(1, script);
    d.start().unwrap();
    d.run_virtual(&rig.clock, 100);
    assert_eq!(
        rig.starts(),
        [
            ("1.FS".to_string(), start),
            ("2.FS".to_string(), utc(2026, 3, 2, 8, 0, 0)),
        ]
    );
    assert_eq!(rig.in_dir(rig.layout().sent()), ["1.FS", "2.FS"]);
}

#[test]
fn a_retry_due_during_downtime_inside_a_pause_window_waits_for_its_end() {
    let rig = Rig::new(
        "$pause_window \"*\" 13:00 15:00\n$retry_delays A \"5\"\n",
        utc(2026, 3, 2, 11, 50, 0),
    );
    rig.drop_job(0, "1.FS", "$fax_phone 1\n");
    // No answer first, then success.
    let script: Script = Arc::new(|c: &Call, _| if c.attempt == 1 { (1, 45) } else { (0, 30) });
    let mut d = rig.daemon(1, script.clone());
    d.start().unwrap();
    d.poll();
    rig.clock.set(utc(2026, 3, 2, 11, 50, 45));
    d.poll();
    let queued = std::fs::read_to_string(rig.layout().queue_dir(0).join("1.FS")).unwrap();
    assert!(queued.contains("$fax_next_time 11:55:45"), "{queued}");
    // The daemon stops before the retry and comes back inside the pause window.
    d.shutdown();
    drop(d);
    rig.clock.set(utc(2026, 3, 2, 13, 35, 0));
    let mut d = rig.daemon(1, script);
    d.start().unwrap();
    d.run_virtual(&rig.clock, 100);
    assert_eq!(
        rig.starts(),
        [
            ("1.FS".to_string(), utc(2026, 3, 2, 11, 50, 0)),
            ("1.FS".to_string(), utc(2026, 3, 2, 15, 0, 0)),
        ]
    );
    assert_eq!(rig.in_dir(rig.layout().sent()), ["1.FS"]);
}

#[test]
fn the_destination_breaker_releases_no_call_inside_a_night_pause() {
    // Two jobs to one busy number: the second failure in a row pauses the number for 30
    // minutes, until 21:10:20, inside the 21:00-08:00 pause. The held retries start at 08:00.
    let rig = Rig::new(
        "$pause_window \"*\" 21:00 08:00\n$retry_delays B \"1 1 1 1\"\n$destination_breaker 2 30\n",
        utc(2026, 3, 2, 20, 40, 0),
    );
    rig.drop_job(0, "1.FS", "$fax_phone 5550200\n");
    rig.drop_job(0, "2.FS", "$fax_phone 5550200\n");
    let script: Script = Arc::new(|c: &Call, _| if c.attempt < 3 { (2, 10) } else { (0, 30) });
    let mut d = rig.daemon(1, script);
    d.start().unwrap();
    // Step until both retries (20:41:10, 20:41:20) have met the open breaker: the index then
    // holds them until 08:00, not until the breaker's 21:10:20.
    loop {
        d.poll();
        let t = d.next_wakeup().unwrap();
        if t > utc(2026, 3, 2, 20, 41, 20) {
            assert_eq!(t, utc(2026, 3, 3, 8, 0, 0), "released into the pause");
            break;
        }
        rig.clock.set(t);
    }
    d.run_virtual(&rig.clock, 1000);
    let starts = rig.starts();
    for (job, at) in &starts {
        assert!(
            !inside(*at, (21, 0), (8, 0)),
            "{job} dialled at {at}, inside the night pause: {starts:?}"
        );
    }
    assert_eq!(
        starts[..3],
        [
            ("1.FS".to_string(), utc(2026, 3, 2, 20, 40, 0)),
            ("2.FS".to_string(), utc(2026, 3, 2, 20, 40, 10)),
            ("1.FS".to_string(), utc(2026, 3, 3, 8, 0, 0)),
        ]
    );
    assert_eq!(rig.in_dir(rig.layout().sent()), ["1.FS", "2.FS"]);
}

#[test]
fn a_working_days_send_window_skips_a_holiday_and_the_weekend() {
    // Thursday 12/24 18:00, after the day's window: Friday 12/25 is a holiday, then the
    // weekend, so the first working day is Monday 12/28.
    let rig = Rig::new("$holiday 12/25/2026\n", utc(2026, 12, 24, 18, 0, 0));
    rig.drop_job(
        0,
        "1.FS",
        "$fax_phone 1\n$fax_send_time 09:00:00 17:00:00 W\n",
    );
    let mut d = rig.daemon(1, always(0, 30));
    d.start().unwrap();
    d.run_virtual(&rig.clock, 100);
    assert_eq!(
        rig.starts(),
        [("1.FS".to_string(), utc(2026, 12, 28, 9, 0, 0))]
    );
    assert_eq!(rig.in_dir(rig.layout().sent()), ["1.FS"]);
}

#[test]
fn a_non_working_days_pause_window_holds_every_job_over_a_holiday() {
    // No calls on non-working days, none at night. A retry that falls on the holiday waits
    // through it and the weekend, then through Sunday night's pause.
    let rig = Rig::new(
        "$holiday 12/25/2026\n$pause_window \"N\" 00:00 00:00\n$pause_window \"*\" 20:00 08:00\n$retry_delays A \"12H\"\n",
        utc(2026, 12, 24, 19, 0, 0),
    );
    rig.drop_job(0, "1.FS", "$fax_phone 1\n");
    let script: Script = Arc::new(|c: &Call, _| if c.attempt == 1 { (1, 45) } else { (0, 30) });
    let mut d = rig.daemon(1, script);
    d.start().unwrap();
    d.run_virtual(&rig.clock, 100);
    assert_eq!(
        rig.starts(),
        [
            ("1.FS".to_string(), utc(2026, 12, 24, 19, 0, 0)),
            ("1.FS".to_string(), utc(2026, 12, 28, 8, 0, 0)),
        ]
    );
    assert_eq!(rig.in_dir(rig.layout().sent()), ["1.FS"]);
}

#[test]
fn digit_days_keep_their_copiafacts_meaning() {
    // "5" is Friday of the week from the send date, holiday or not; after that week the job
    // fails with outcome 183 instead of waiting.
    let rig = Rig::new("$holiday 12/25/2026\n", utc(2026, 12, 24, 18, 0, 0));
    rig.drop_job(
        0,
        "1.FS",
        "$fax_phone 1\n$fax_send_date 12/24/2026\n$fax_send_time 09:00:00 17:00:00 5\n",
    );
    rig.drop_job(
        0,
        "2.FS",
        "$fax_phone 2\n$fax_send_date 12/14/2026\n$fax_send_time 09:00:00 17:00:00 5\n",
    );
    let mut d = rig.daemon(1, always(0, 30));
    d.start().unwrap();
    d.run_virtual(&rig.clock, 100);
    assert_eq!(
        rig.starts(),
        [("1.FS".to_string(), utc(2026, 12, 25, 9, 0, 0))]
    );
    let l = rig.layout();
    assert_eq!(rig.in_dir(l.sent()), ["1.FS"]);
    assert_eq!(rig.in_dir(l.fail()), ["2.FS"]);
    let two = std::fs::read_to_string(l.fail().join("2.FS")).unwrap();
    assert!(two.contains("$fax_status2 183"), "{two}");
}
