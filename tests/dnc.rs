//! The do-not-call list and the daily cap (issue 11, item 3), in process on a virtual clock with
//! the CFG's `sim` lines, across two nodes on one spool, and through `redial dnc`.

use assert_cmd::Command;
use chrono::{DateTime, TimeZone, Utc};
use redial::daemon::clock::ManualClock;
use redial::daemon::{Daemon, Event, CODE_DO_NOT_CALL};
use redial::spool::{counts, dnc, store, Layout};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn t0() -> DateTime<Utc> {
    // A Monday.
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

struct Rig {
    dir: tempfile::TempDir,
    cfg: PathBuf,
    clock: ManualClock,
}

impl Rig {
    fn new(cfg_text: &str) -> Rig {
        store::set_durable(false);
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("redial.cfg");
        std::fs::write(
            &cfg,
            format!("$request_dir spool 3\n$timezone UTC\n{cfg_text}"),
        )
        .unwrap();
        std::fs::write(dir.path().join("page.txt"), "Hello\n").unwrap();
        let rig = Rig {
            dir,
            cfg,
            clock: ManualClock::new(t0()),
        };
        rig.layout().create(None).unwrap();
        rig
    }
    fn layout(&self) -> Layout {
        Layout::new(self.dir.path().join("spool"), 3)
    }
    fn drop_job(&self, q: u8, name: &str, text: &str) {
        std::fs::write(self.layout().queue_dir(q).join(name), text).unwrap();
    }
    /// A node with the CFG's lines, its events collected.
    fn node(&self, name: &str) -> (Daemon, Arc<Mutex<Vec<Event>>>) {
        let mut d = Daemon::new(
            Some(&self.cfg),
            self.dir.path(),
            name,
            Arc::new(self.clock.clone()),
            None,
        )
        .unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let ev = events.clone();
        d.on_event(move |e| ev.lock().unwrap().push(e.clone()));
        (d, events)
    }
    fn failed(&self, name: &str) -> String {
        std::fs::read_to_string(self.layout().fail().join(name)).unwrap()
    }
    /// `redial dnc …` on this spool.
    fn dnc(&self, args: &[&str]) -> assert_cmd::assert::Assert {
        let mut c = Command::cargo_bin("redial").unwrap();
        c.current_dir(self.dir.path())
            .arg("dnc")
            .args(args)
            .arg("--cfg")
            .arg(&self.cfg)
            .arg("--base")
            .arg(self.dir.path());
        c.assert()
    }
}

/// Jobs dialled, in order.
fn dialled(events: &Mutex<Vec<Event>>) -> Vec<(String, DateTime<Utc>)> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Dialling { job, at, .. } => Some((job.clone(), *at)),
            _ => None,
        })
        .collect()
}

fn rejected(events: &Mutex<Vec<Event>>) -> Vec<(String, u32)> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter_map(|e| match e {
            Event::Rejected { job, code, .. } => Some((job.clone(), *code)),
            _ => None,
        })
        .collect()
}

fn names(v: &[(String, DateTime<Utc>)]) -> Vec<&str> {
    v.iter().map(|(j, _)| j.as_str()).collect()
}

const SIM: &str = "\
$line 1 sim
$line 2 sim
$sim_number \"555 010 0100\" \"305\"
";

#[test]
fn outcome_305_lists_the_number_and_no_channel_or_node_dials_it_again() {
    let rig = Rig::new(SIM);
    let (mut n1, ev1) = rig.node("n1");
    let (mut n2, ev2) = rig.node("n2");
    n1.start().unwrap();
    n2.start().unwrap();
    // n2 reads the (empty) list before the opt-out: it must notice the change later.
    rig.drop_job(
        0,
        "0.FS",
        "$fax_phone 555-010-0199\n$fax_filename page.txt\n",
    );
    n2.rescan();
    n2.run_virtual(&rig.clock, 100);
    assert_eq!(names(&dialled(&ev2)), ["0.FS"]);

    rig.drop_job(0, "1.FS", "$voice_phone 555-010-0100 GREETING\n");
    n1.rescan();
    n1.run_virtual(&rig.clock, 100);
    assert_eq!(names(&dialled(&ev1)), ["1.FS"]);
    let one = rig.failed("1.FS");
    assert!(one.contains("$fax_status2 305"), "{one}");
    let list = std::fs::read_to_string(dnc::path(&rig.layout())).unwrap();
    let parsed = dnc::parse(&list);
    assert_eq!(parsed.entries.len(), 1, "{list}");
    assert_eq!(parsed.entries[0].key, "5550100100");
    assert!(
        parsed.entries[0].comment.contains("outcome 305") && list.contains("job 1.FS node n1"),
        "{list}"
    );

    // The same number written differently, by fax and by voice: failed, never dialled.
    rig.drop_job(
        0,
        "2.FS",
        "$fax_phone \"(555) 010-0100\"\n$fax_filename page.txt\n",
    );
    rig.drop_job(0, "3.FS", "$voice_phone \"(555) 010-0100\" GREETING\n");
    n1.rescan();
    n1.run_virtual(&rig.clock, 100);
    assert_eq!(names(&dialled(&ev1)), ["1.FS"], "dialled a listed number");
    assert_eq!(
        rejected(&ev1),
        [
            ("2.FS".to_string(), CODE_DO_NOT_CALL),
            ("3.FS".to_string(), CODE_DO_NOT_CALL)
        ]
    );
    for job in ["2.FS", "3.FS"] {
        let text = rig.failed(job);
        assert!(text.contains("$fax_status2 39"), "{text}");
        assert!(
            text.contains("is on the do-not-call list") && !text.contains("$attempt_record"),
            "{text}"
        );
    }

    // The second node, which read the list before the number was added, refuses it too.
    rig.drop_job(
        0,
        "4.FS",
        "$fax_phone 555.010.0100\n$fax_filename page.txt\n",
    );
    rig.drop_job(0, "5.FS", "$voice_phone \"T555 010 0100\" GREETING\n");
    n2.rescan();
    n2.run_virtual(&rig.clock, 100);
    assert_eq!(
        names(&dialled(&ev2)),
        ["0.FS"],
        "the second node dialled it"
    );
    assert_eq!(
        rejected(&ev2),
        [
            ("4.FS".to_string(), CODE_DO_NOT_CALL),
            ("5.FS".to_string(), CODE_DO_NOT_CALL)
        ]
    );
    // Another number is still called.
    rig.drop_job(0, "6.FS", "$voice_phone 555-010-0198 GREETING\n");
    n2.rescan();
    n2.run_virtual(&rig.clock, 100);
    assert_eq!(names(&dialled(&ev2)), ["0.FS", "6.FS"]);
}

#[test]
fn redial_dnc_add_remove_list_import() {
    let rig = Rig::new(SIM);
    let (mut n1, ev) = rig.node("n1");
    n1.start().unwrap();
    rig.dnc(&["add", "(555) 010-0177", "555 010 0178"])
        .success()
        .stdout("added 5550100177\nadded 5550100178\n");
    rig.dnc(&["add", "555-010-0177"])
        .success()
        .stdout("already listed 5550100177\n");
    // Bad input: exit 2, a clear message, nothing written.
    let before = std::fs::read_to_string(dnc::path(&rig.layout())).unwrap();
    let out = rig.dnc(&["add", "555-010-0179", "abc"]).code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("\"abc\" is not a phone number") && err.contains("nothing was changed"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dnc::path(&rig.layout())).unwrap(),
        before
    );

    // A job to a number added by the command is refused.
    rig.drop_job(
        0,
        "1.FS",
        "$fax_phone 555.010.0177\n$fax_filename page.txt\n",
    );
    n1.rescan();
    n1.run_virtual(&rig.clock, 100);
    assert_eq!(rejected(&ev), [("1.FS".to_string(), CODE_DO_NOT_CALL)]);
    assert!(dialled(&ev).is_empty());

    // Import: one bad line refuses the whole file; a good one adds what is new.
    let bad = rig.dir.path().join("bad.txt");
    std::fs::write(&bad, "# vendor list\n555 010 0180\nphone\n").unwrap();
    let out = rig.dnc(&["import", bad.to_str().unwrap()]).code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("bad.txt:3: \"phone\" is not a phone number"),
        "{err}"
    );
    let good = rig.dir.path().join("good.txt");
    std::fs::write(
        &good,
        "# vendor list\n555 010 0180 ; Smith\n(555) 010-0177\n\n555-010-0181\n",
    )
    .unwrap();
    let out = rig.dnc(&["import", good.to_str().unwrap()]).success();
    let said = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(said.contains("imported 2 new of 3 numbers"), "{said}");
    let out = rig.dnc(&["list"]).success();
    let listed = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for n in ["5550100177", "5550100178", "5550100180", "5550100181"] {
        assert!(listed.contains(&format!("{n}\tspool")), "{listed}");
    }
    let out = rig.dnc(&["list", "--json"]).success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 4);

    // Removed: the number is dialled again.
    rig.dnc(&["remove", "555 010 0177"])
        .success()
        .stdout("removed 5550100177\n");
    rig.drop_job(0, "2.FS", "$fax_phone 5550100177\n$fax_filename page.txt\n");
    n1.rescan();
    n1.run_virtual(&rig.clock, 100);
    assert_eq!(names(&dialled(&ev)), ["2.FS"]);

    // A spool that does not exist is refused.
    let mut c = Command::cargo_bin("redial").unwrap();
    let out = c
        .args(["dnc", "list", "--spool", "/nonexistent/spool"])
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn an_external_dnc_file_is_reloaded_when_it_changes() {
    let rig = Rig::new(&format!("{SIM}$dnc_file lists/vendor.txt\n"));
    let vendor = rig.dir.path().join("lists/vendor.txt");
    // A $dnc_file that cannot be read stops the node from starting.
    let (mut n1, ev) = rig.node("n1");
    let e = n1.start().unwrap_err().to_string();
    assert!(e.contains("$dnc_file") && e.contains("vendor.txt"), "{e}");
    std::fs::create_dir_all(vendor.parent().unwrap()).unwrap();
    std::fs::write(&vendor, "# from the vendor\n+1 555 010 0155\n").unwrap();
    let (mut n1b, ev_b) = rig.node("n1");
    drop((n1, ev));
    n1b.start().unwrap();
    rig.drop_job(
        0,
        "1.FS",
        "$fax_phone 1-555-010-0155\n$fax_filename page.txt\n",
    );
    n1b.rescan();
    n1b.run_virtual(&rig.clock, 100);
    assert_eq!(rejected(&ev_b), [("1.FS".to_string(), CODE_DO_NOT_CALL)]);
    assert!(rig.failed("1.FS").contains("vendor.txt"));
    // `redial dnc list` shows it; `remove` cannot take it off (exit 1, says where it is).
    let out = rig.dnc(&["list"]).success();
    assert!(String::from_utf8_lossy(&out.get_output().stdout).contains("15550100155\t"));
    let out = rig.dnc(&["remove", "+1 555 010 0155"]).code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("vendor.txt:2; remove it there"), "{err}");
    // The vendor drops the number: the next job is dialled, no restart needed.
    std::fs::write(&vendor, "# from the vendor\n555 010 0156\n").unwrap();
    rig.drop_job(
        0,
        "2.FS",
        "$fax_phone 1-555-010-0155\n$fax_filename page.txt\n",
    );
    rig.drop_job(
        0,
        "3.FS",
        "$fax_phone 555.010.0156\n$fax_filename page.txt\n",
    );
    n1b.rescan();
    n1b.run_virtual(&rig.clock, 100);
    assert_eq!(names(&dialled(&ev_b)), ["2.FS"]);
    assert_eq!(
        rejected(&ev_b),
        [
            ("1.FS".to_string(), CODE_DO_NOT_CALL),
            ("3.FS".to_string(), CODE_DO_NOT_CALL)
        ]
    );
}

#[test]
fn a_listed_job_with_earlier_attempts_is_not_offered_for_retry() {
    use redial::ops::{config::OpsConfig, eligibility, scan};
    let rig = Rig::new(
        "$line 1 sim\n$sim_number 5550100166 \"2@5\"\n$retry_delays B \"10\"\n$retry_max 3\n",
    );
    let (mut n1, ev) = rig.node("n1");
    n1.start().unwrap();
    rig.drop_job(0, "1.FS", "$voice_phone 555-010-0166 GREETING\n");
    n1.rescan();
    // The first attempt is busy; the retry is due in 10 minutes.
    n1.poll();
    rig.clock.set(t0() + chrono::Duration::seconds(5));
    n1.poll();
    assert_eq!(names(&dialled(&ev)), ["1.FS"]);
    rig.dnc(&["add", "555 010 0166"]).success();
    n1.run_virtual(&rig.clock, 100);
    assert_eq!(
        names(&dialled(&ev)),
        ["1.FS"],
        "the retry dialled a listed number"
    );
    let text = rig.failed("1.FS");
    assert!(
        text.contains("$attempt_record") && text.contains("$fax_status2 39"),
        "{text}"
    );
    let sys = redial::load::SystemConfig::load(&rig.cfg).unwrap();
    let ops = OpsConfig::from_cfg(&sys.document, rig.dir.path()).unwrap();
    let all = scan::scan(&rig.layout(), &sys);
    let v = all.iter().find(|v| v.name == "1.FS").unwrap();
    let newest = eligibility::Newest::new(&all);
    let now = t0() + chrono::Duration::days(2);
    match eligibility::check(v, &newest, &sys, &ops, now, None) {
        Err(eligibility::Skip::Permanent { code, .. }) => assert_eq!(code, 39),
        other => panic!("{other:?}"),
    }
}

/// Runs two nodes on one virtual clock until neither has anything to do.
fn run_both(clock: &ManualClock, a: &mut Daemon, b: &mut Daemon, max_steps: usize) {
    for _ in 0..max_steps {
        // Leases renewed as the service does, so neither node takes the other for dead.
        a.maintain();
        b.maintain();
        a.poll();
        b.poll();
        let next = match (a.next_wakeup(), b.next_wakeup()) {
            (Some(x), Some(y)) => x.min(y),
            (x, y) => match x.or(y) {
                Some(t) => t,
                None => return,
            },
        };
        clock.set(next);
    }
    panic!("still busy after {max_steps} steps");
}

#[test]
fn the_daily_cap_holds_across_two_nodes_and_the_rest_wait_for_the_next_day() {
    // n1 takes TOSEND on line 1, n2 takes TOSEND1 on line 2; at most 2 calls a day to one number,
    // and no calls between 21:00 and 08:00.
    let rig = Rig::new(
        "$line 1 sim\n$line 2 sim\n\
         $node n1 queues=0 lines=1\n$node n2 queues=1 lines=2\n\
         $max_calls_per_day 2\n$pause_window \"*\" 21:00 08:00\n",
    );
    let (mut n1, ev1) = rig.node("n1");
    let (mut n2, ev2) = rig.node("n2");
    rig.drop_job(
        0,
        "1.FS",
        "$fax_phone 555-010-0142\n$fax_filename page.txt\n",
    );
    rig.drop_job(
        1,
        "2.FS",
        "$fax_phone \"(555) 010-0142\"\n$fax_filename page.txt\n",
    );
    rig.drop_job(
        1,
        "3.FS",
        "$fax_phone 555.010.0142\n$fax_filename page.txt\n",
    );
    rig.drop_job(
        0,
        "4.FS",
        "$fax_phone 555-010-0143\n$fax_filename page.txt\n",
    );
    rig.drop_job(0, "5.FS", "$voice_phone 5550100142 GREETING\n");
    n1.start().unwrap();
    n2.start().unwrap();
    run_both(&rig.clock, &mut n1, &mut n2, 10_000);
    let (d1, d2) = (dialled(&ev1), dialled(&ev2));
    let day1 = |v: &[(String, DateTime<Utc>)]| -> Vec<String> {
        v.iter()
            .filter(|(_, at)| at.date_naive() == t0().date_naive())
            .map(|(j, _)| j.clone())
            .collect()
    };
    // Day 1: one call to 555 010 0142 from each node, and the other number is not held up.
    assert_eq!(day1(&d1), ["1.FS", "4.FS"], "{d1:?}");
    assert_eq!(day1(&d2), ["2.FS"], "{d2:?}");
    // The third and fourth calls wait for the next day, and for the end of the night pause.
    let next_open = Utc.with_ymd_and_hms(2026, 3, 3, 8, 0, 0).unwrap();
    let later: Vec<&(String, DateTime<Utc>)> = d1
        .iter()
        .chain(&d2)
        .filter(|(_, at)| at.date_naive() != t0().date_naive())
        .collect();
    let mut jobs: Vec<&str> = later.iter().map(|(j, _)| j.as_str()).collect();
    jobs.sort();
    assert_eq!(jobs, ["3.FS", "5.FS"], "{d1:?} {d2:?}");
    // One call at a time to the number, on the next day as on the first.
    let mut at: Vec<DateTime<Utc>> = later.iter().map(|(_, at)| *at).collect();
    at.sort();
    assert_eq!(
        at,
        [next_open, next_open + chrono::Duration::minutes(1)],
        "{later:?}"
    );
    // Every job landed; both nodes counted in the same file.
    let sent = store::list_jobs(&rig.layout().sent()).unwrap();
    assert_eq!(sent.len(), 5, "{sent:?}");
    let day = std::fs::read_to_string(counts::day_path(&rig.layout(), t0().date_naive())).unwrap();
    let lines: Vec<&str> = day
        .lines()
        .filter(|l| l.starts_with("5550100142 "))
        .collect();
    assert_eq!(lines.len(), 2, "{day}");
    assert!(
        lines.iter().any(|l| l.contains(" n1 ")) && lines.iter().any(|l| l.contains(" n2 ")),
        "{day}"
    );
}

#[test]
fn normalization_is_shared_by_destination_locks() {
    // Two spellings of one number hash alike (one call at a time to it across nodes).
    use redial::daemon::dest_hash;
    assert_eq!(dest_hash("(555) 010-0100"), dest_hash("T555.010.0100"));
    assert_eq!(dest_hash("+1 555 010 0100"), dest_hash("1-555-010-0100"));
    assert_ne!(dest_hash("555 010 0100"), dest_hash("555 010 0101"));
    assert_eq!(dest_hash("Jo@Example.com"), dest_hash("jo@example.com"));
}
