//! In-process spooler tests on a virtual clock with scripted lines: no sleeps, no real time.

use chrono::{DateTime, Duration, TimeZone, Utc};
use redial::command::Document;
use redial::daemon::clock::{Clock, ManualClock};
use redial::daemon::{Daemon, Event};
use redial::line::scripted::{Placement, Script, ScriptedLine};
use redial::line::{Call, Line};
use redial::load::{job_from_document, job_seed, SystemConfig};
use redial::retry::engine::{decide, Action, Input, ThisAttempt};
use redial::spool::{store, Layout};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

fn t0() -> DateTime<Utc> {
    // A Monday.
    Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
}

struct Rig {
    dir: tempfile::TempDir,
    cfg: PathBuf,
    clock: ManualClock,
    log: Arc<Mutex<Vec<Placement>>>,
    events: Arc<Mutex<Vec<Event>>>,
}

impl Rig {
    fn new(cfg_text: &str) -> Rig {
        // These tests are about scheduling; durability is the crash test's business.
        store::set_durable(false);
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("redial.cfg");
        std::fs::write(&cfg, format!("$request_dir spool 3\n{cfg_text}")).unwrap();
        let layout = Layout::new(dir.path().join("spool"), 3);
        layout.create(None).unwrap();
        Rig {
            dir,
            cfg,
            clock: ManualClock::new(t0()),
            log: Arc::new(Mutex::new(Vec::new())),
            events: Arc::new(Mutex::new(Vec::new())),
        }
    }
    fn layout(&self) -> Layout {
        Layout::new(self.dir.path().join("spool"), 3)
    }
    fn drop_job(&self, q: u8, name: &str, text: &str) {
        std::fs::write(self.layout().queue_dir(q).join(name), text).unwrap();
    }
    fn daemon(&self, node: &str, lines: u32, script: Script) -> Daemon {
        let lines: Vec<Box<dyn Line>> = (1..=lines)
            .map(|n| {
                Box::new(ScriptedLine::new(n, script.clone(), self.log.clone())) as Box<dyn Line>
            })
            .collect();
        let mut d = Daemon::new(
            Some(&self.cfg),
            self.dir.path(),
            node,
            Arc::new(self.clock.clone()),
            Some(lines),
        )
        .unwrap();
        let ev = self.events.clone();
        d.on_event(move |e| ev.lock().unwrap().push(e.clone()));
        d
    }
    /// A fault plan that stalls the node for `by` (the clock jumps) in its next claim write.
    fn stall_in_claim_write(&self, by: Duration) -> Arc<Mutex<store::FaultPlan>> {
        let plan = Arc::new(Mutex::new(store::FaultPlan::default()));
        let clock = self.clock.clone();
        plan.lock()
            .unwrap()
            .stall_at(store::Point::ClaimWrite, move || clock.advance(by));
        plan
    }
    fn files(&self, dir: &Path) -> Vec<String> {
        let mut v = store::list_jobs(dir).unwrap();
        v.sort();
        v
    }
}

/// Every name in `dir`, jobs or not (dialling marks are dot files).
fn entries(dir: &Path) -> Vec<std::ffi::OsString> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect()
}

fn always(code: u32, secs: i64) -> Script {
    Arc::new(move |_: &Call, _| (code, secs))
}

fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Replays a finished job's records through the engine: every record's class and every retry
/// time must be what the engine decides, and the last decision must match SENT or FAIL.
fn check_against_engine(
    sys: &SystemConfig,
    path: &Path,
    sent: bool,
    secs_of: &dyn Fn(&str, usize) -> i64,
) {
    let bytes = std::fs::read(path).unwrap();
    let doc = Document::parse(&bytes, "x").unwrap();
    let full = job_from_document(doc, None, sys, None).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    let records = full.job.records.clone();
    assert!(!records.is_empty(), "{name}: no attempt");
    let cal = full.policy.calendar();
    for (i, r) in records.iter().enumerate() {
        let mut job = full.job.clone();
        job.records.truncate(i);
        let channel = job.channel().unwrap();
        let row = sys.outcomes.classify(r.outcome, Some(channel));
        let started = cal.instant(r.start());
        let d = decide(&Input {
            policy: &full.policy,
            job: &job,
            queue_from: r.tosend,
            attempt: ThisAttempt {
                class: row.class,
                code: Some(r.outcome),
                description: None,
                ended: started + Duration::seconds(secs_of(name, i + 1)),
                line: r.line(),
                channel,
            },
            seed: job_seed(path),
        });
        assert_eq!(d.record_class, r.class, "{name} record {}: class", i + 1);
        match (d.action, records.get(i + 1)) {
            (Action::Retry { at }, Some(next)) => {
                let next_at = cal.instant(next.start());
                assert!(
                    next_at >= at - Duration::seconds(1),
                    "{name} record {}: retried at {next_at}, engine said {at}",
                    i + 2
                );
                assert_eq!(next.tosend, d.tosend, "{name}: retry queue");
            }
            (Action::Done, None) => assert!(sent, "{name}: done but not in SENT"),
            (Action::Fail, None) => assert!(!sent, "{name}: failed but not in FAIL"),
            (a, n) => panic!(
                "{name} record {}: engine says {a:?}, next record {n:?}",
                i + 1
            ),
        }
    }
}

const CAMPAIGN_CFG: &str = "\
$timezone UTC
$retry_delays A \"5 15 60\"
$retry_delays B \"1 1 5 Q10\"
$retry_delays C \"2 10\"
$retry_delays D \"1 G5\"
$retry_max 6
";

#[test]
fn thousand_jobs_four_queues_eight_lines_all_land_as_the_engine_says() {
    let rig = Rig::new(CAMPAIGN_CFG);
    // Outcome per (job, attempt): mixed success, no answer, busy, no carrier, no dial tone,
    // and SIT (final). Call length depends on the outcome.
    let code_of = |job: &str, attempt: usize| -> u32 {
        let h = fnv(&format!("{job}/{attempt}")) % 100;
        match h {
            0..=34 => 0,
            35..=54 => 1,
            55..=74 => 2,
            75..=84 => 3,
            85..=94 => 4,
            _ => 7,
        }
    };
    let secs_of = move |job: &str, attempt: usize| -> i64 {
        match code_of(job, attempt) {
            0 => 60,
            1 => 45,
            2 => 5,
            _ => 20,
        }
    };
    let script: Script =
        Arc::new(move |c: &Call, _| (code_of(&c.job, c.attempt), secs_of(&c.job, c.attempt)));
    for i in 0..1000u32 {
        let q = (i % 4) as u8;
        // Some numbers are shared, so one-call-per-number matters.
        rig.drop_job(
            q,
            &format!("{:08}.FS", i + 1),
            &format!("$fax_phone 555{:04}\n", i % 700),
        );
    }
    let mut d = rig.daemon("n1", 8, script);
    d.start().unwrap();
    assert_eq!(d.index().len(), 1000);
    d.run_virtual(&rig.clock, 1_000_000);
    let l = rig.layout();
    for q in 0..4 {
        assert!(rig.files(&l.queue_dir(q)).is_empty(), "queue {q} not empty");
    }
    assert!(rig.files(&l.active("n1")).is_empty());
    let sent = rig.files(&l.sent());
    let failed = rig.files(&l.fail());
    assert_eq!(sent.len() + failed.len(), 1000);
    assert!(
        sent.len() > 500 && failed.len() > 50,
        "{} sent, {} failed",
        sent.len(),
        failed.len()
    );
    let sys = SystemConfig::load(&rig.cfg).unwrap();
    for n in &sent {
        check_against_engine(&sys, &l.sent().join(n), true, &secs_of);
    }
    for n in &failed {
        check_against_engine(&sys, &l.fail().join(n), false, &secs_of);
    }
    // Never two calls at once to one number, never two calls at once on one line.
    let log = rig.log.lock().unwrap();
    let total: usize = sent
        .iter()
        .chain(&failed)
        .map(|n| {
            let p = if sent.contains(n) {
                l.sent().join(n)
            } else {
                l.fail().join(n)
            };
            std::fs::read_to_string(p)
                .unwrap()
                .matches("$attempt_record")
                .count()
        })
        .sum();
    assert_eq!(total, log.len(), "one record per placed call");
    for (i, a) in log.iter().enumerate() {
        for b in &log[i + 1..] {
            let overlap = a.at < b.until && b.at < a.until;
            if overlap {
                assert_ne!(a.line, b.line, "line {} double-booked", a.line);
                let num = |j: &str| j.trim_end_matches(".FS").parse::<u32>().unwrap() - 1;
                assert_ne!(
                    num(&a.job) % 700,
                    num(&b.job) % 700,
                    "two calls at once to one number"
                );
            }
        }
    }
}

#[test]
fn queue_priority_then_fifo_by_name() {
    let rig = Rig::new("");
    for (q, name) in [
        (2, "1.FS"),
        (2, "2.FS"),
        (1, "10.FS"),
        (1, "3.FS"),
        (0, "20.FS"),
        (0, "5.FS"),
    ] {
        rig.drop_job(q, name, &format!("$fax_phone {q}{name}\n"));
    }
    let mut d = rig.daemon("n1", 1, always(0, 30));
    d.start().unwrap();
    d.run_virtual(&rig.clock, 1000);
    let order: Vec<String> = rig
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.job.clone())
        .collect();
    assert_eq!(order, ["5.FS", "20.FS", "3.FS", "10.FS", "1.FS", "2.FS"]);
}

/// The claim does not look for the name in `ACTIVE/<node>/` first: its rename never replaces a
/// file, so a queued job whose name is already in progress here is refused by the rename
/// itself. It waits in its queue, untouched; nothing is dialled, nothing counts as the spool
/// refusing writes, and the job in progress keeps its bytes.
#[test]
fn a_queued_job_whose_name_is_in_progress_here_waits_untouched() {
    let rig = Rig::new("");
    let queued = "$fax_phone 1\n";
    rig.drop_job(0, "7.FS", queued);
    let mut d = rig.daemon("n1", 1, always(0, 30));
    d.start().unwrap();
    let busy = rig.layout().active("n1").join("7.FS");
    std::fs::write(&busy, "$fax_phone 2\n$fax_status1 3 1\n").unwrap();
    d.poll();
    assert!(rig.log.lock().unwrap().is_empty(), "dialled");
    assert_eq!(
        std::fs::read_to_string(rig.layout().queue_dir(0).join("7.FS")).unwrap(),
        queued
    );
    assert_eq!(
        std::fs::read_to_string(&busy).unwrap(),
        "$fax_phone 2\n$fax_status1 3 1\n"
    );
    assert_eq!(d.spool_health().failing_since, None);
    assert_eq!(d.spool_health().error, None);
    // Once the name is free, the next rescan finds the job and it is dialled.
    std::fs::remove_file(&busy).unwrap();
    d.rescan();
    d.poll();
    assert_eq!(rig.log.lock().unwrap().len(), 1);
}

#[test]
fn a_future_send_date_is_not_touched_early() {
    let rig = Rig::new("$timezone Europe/London\n");
    let text = "$fax_phone 1\n$fax_send_date 03/03/2026\n$fax_send_time 10:00:00\n";
    rig.drop_job(0, "1.FS", text);
    rig.drop_job(1, "2.FS", "$fax_phone 2\n");
    let mut d = rig.daemon("n1", 2, always(0, 30));
    d.start().unwrap();
    let due = Utc.with_ymd_and_hms(2026, 3, 3, 10, 0, 0).unwrap();
    d.poll();
    rig.clock.set(due - Duration::seconds(1));
    d.poll();
    let path = rig.layout().queue_dir(0).join("1.FS");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "touched early"
    );
    assert_eq!(
        rig.log.lock().unwrap().len(),
        1,
        "only the undated job was dialled"
    );
    assert_eq!(d.next_wakeup(), Some(due));
    rig.clock.set(due);
    d.poll();
    let log = rig.log.lock().unwrap();
    assert_eq!(
        (log.len(), log[1].job.as_str(), log[1].at),
        (2, "1.FS", due)
    );
}

#[test]
fn bad_input_goes_to_fail_and_the_daemon_keeps_going() {
    let rig = Rig::new("");
    let l = rig.layout();
    rig.drop_job(0, "1.FS", "$fax_phone \"unterminated\n");
    rig.drop_job(0, "2.FS", "$fax_filename nowhere.tif\n");
    rig.drop_job(0, "3.FS", "$fax_phone 5\n$fax_filename missing.tif\n");
    rig.drop_job(0, "4.FS", "$fax_phone 5\n$fax_send_date 13/45/2026\n");
    rig.drop_job(0, "5.FS", "$fax_phone 6\n");
    std::fs::write(l.queue_dir(0).join("6.TFS"), "$fax_phone 7\n").unwrap();
    let mut d = rig.daemon("n1", 1, always(0, 10));
    d.start().unwrap();
    d.run_virtual(&rig.clock, 100);
    assert_eq!(rig.files(&l.sent()), ["5.FS"]);
    assert_eq!(rig.files(&l.fail()), ["1.FS", "2.FS", "3.FS", "4.FS"]);
    let err = std::fs::read_to_string(l.fail().join("1.FS.err")).unwrap();
    assert!(
        err.contains("$fax_status2 33") && err.contains("1.FS:1:"),
        "{err}"
    );
    // The unparseable file is kept byte for byte.
    assert_eq!(
        std::fs::read_to_string(l.fail().join("1.FS")).unwrap(),
        "$fax_phone \"unterminated\n"
    );
    let two = std::fs::read_to_string(l.fail().join("2.FS")).unwrap();
    assert!(
        two.contains("$fax_status2 32")
            && two.contains("$fail_reason \"")
            && two.contains("no destination"),
        "{two}"
    );
    let three = std::fs::read_to_string(l.fail().join("3.FS")).unwrap();
    assert!(
        three.contains("$fax_status2 30") && three.contains(":2: document"),
        "{three}"
    );
    let four = std::fs::read_to_string(l.fail().join("4.FS")).unwrap();
    assert!(four.contains("$fax_status2 33"), "{four}");
    assert!(
        l.queue_dir(0).join("6.TFS").exists(),
        "other extensions are left alone"
    );
}

/// After a restart's recovery: `1.FS` was interrupted on line 2 (outcome 66, class E, retried
/// at 09:05 from queue 1); `never` was never dialled and is back in queue 2 as `text`.
fn recovered_as_interrupted_and_unchanged(l: &Layout, never: &str, text: &str) {
    let one = std::fs::read_to_string(l.queue_dir(1).join("1.FS")).unwrap();
    assert!(
        one.contains("$fax_status2 66") && one.contains(" 66 E 0 1 0 T2 "),
        "{one}"
    );
    assert!(one.contains("$fax_next_time 09:05:00"), "{one}");
    assert_eq!(
        std::fs::read_to_string(l.queue_dir(2).join(never)).unwrap(),
        text
    );
}

#[test]
fn restart_recovers_this_nodes_active_jobs() {
    let rig = Rig::new("$retry_delays E \"5\"\n");
    let l = rig.layout();
    l.create(Some("n1")).unwrap();
    let a = l.active("n1");
    // Interrupted mid-call on line 2.
    std::fs::write(
        a.join("1.FS"),
        "$fax_phone 1\n$fax_status1 3 2\n$fax_tosend 1\n",
    )
    .unwrap();
    // Decided and rewritten, not yet moved.
    std::fs::write(
        a.join("2.FS"),
        "$fax_phone 2\n$fax_status1 6\n$fax_status2 0\n$attempt_record 03/02/2026 08:00:00 1 0 1 0 S 1 0 0 T1 0 60 60 \"\"\n",
    )
    .unwrap();
    // Claimed, never dialled.
    std::fs::write(a.join("3.FS"), "$fax_phone 3\n$fax_tosend 2\n").unwrap();
    // The live step 1.FS's call had reported when the node died.
    let calls = redial::spool::progress::Calls {
        node: "n1".into(),
        calls: vec![redial::spool::progress::Progress {
            job: "1.FS".into(),
            attempt: 1,
            line: 2,
            at: chrono::Utc::now(),
            step: "page 1/2 at 9600".into(),
        }],
    };
    redial::spool::progress::write(&l, ".test-", &calls).unwrap();
    let mut d = rig.daemon("n1", 2, always(0, 10));
    d.start().unwrap();
    assert_eq!(rig.files(&a), Vec::<String>::new());
    assert!(
        redial::spool::progress::read_all(&l).is_empty(),
        "the interrupted call's step is gone with the run that had it"
    );
    assert_eq!(rig.files(&l.sent()), ["2.FS"]);
    recovered_as_interrupted_and_unchanged(&l, "3.FS", "$fax_phone 3\n$fax_tosend 2\n");
    d.run_virtual(&rig.clock, 100);
    assert_eq!(rig.files(&l.sent()), ["1.FS", "2.FS", "3.FS"]);
}

/// During a call the job keeps the bytes its client wrote: what says "dialling" is its mark, a
/// hard link beside it (`.<job>~L<line>~Q<queue>`, the same inode). The result replaces the
/// job's inode and the mark goes with it: the node's directory is left empty.
#[test]
fn a_call_under_way_is_marked_beside_the_job_and_the_mark_goes_with_its_result() {
    use redial::spool::dialling;
    let rig = Rig::new("");
    let l = rig.layout();
    let job = "$fax_phone 5550001\n";
    rig.drop_job(2, "4.FS", job);
    let mut a = rig.daemon("a", 1, always(0, 30));
    a.start().unwrap();
    a.poll();
    assert_eq!(rig.log.lock().unwrap().len(), 1, "dialled");
    let active = l.active("a").join("4.FS");
    assert_eq!(std::fs::read_to_string(&active).unwrap(), job);
    let mark = dialling::live_mark(&active).expect("a live dialling mark");
    assert_eq!((mark.line, mark.queue), (1, 2));
    assert_eq!(mark.path, l.active("a").join(".4.FS~L1~Q2"));
    a.run_virtual(&rig.clock, 100);
    assert_eq!(rig.files(&l.sent()), ["4.FS"]);
    let left = entries(&l.active("a"));
    assert!(left.is_empty(), "{left:?}");
}

/// A job whose name is too long for a mark beside it (a file name is at most 255 bytes, and
/// the mark adds 7 or more) is claimed by writing into it instead; it does not read as a spool
/// that refuses writes, which would hold every other call of the node.
#[test]
fn a_job_named_too_long_for_its_mark_is_dialled_and_holds_no_other_call() {
    let rig = Rig::new("");
    let l = rig.layout();
    let long = format!("{}.FS", "7".repeat(250));
    rig.drop_job(0, &long, "$fax_phone 5550001\n");
    rig.drop_job(0, "8.FS", "$fax_phone 5550002\n");
    let mut a = rig.daemon("a", 2, always(0, 30));
    a.start().unwrap();
    a.poll();
    let during = std::fs::read_to_string(l.active("a").join(&long)).unwrap();
    assert!(during.contains("$fax_status1 3 "), "{during}");
    a.run_virtual(&rig.clock, 100);
    let mut both = vec![long.clone(), "8.FS".to_string()];
    both.sort();
    assert_eq!(rig.files(&l.sent()), both);
    let dialled: Vec<String> = rig
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.job.clone())
        .collect();
    assert_eq!(dialled.len(), 2, "{dialled:?}");
    assert_eq!(a.spool_health().refused, 0, "{:?}", a.spool_health().error);
}

/// Recovery reads the marks: a job whose mark is its own inode was dialling (an interrupted
/// attempt on the mark's line, back to the mark's queue, though the file names neither); a
/// mark naming another inode is stale (that job was never dialled under it) and a mark with
/// no job is left from a finished one. Both stale kinds are removed, and nothing else counts.
#[test]
fn restart_reads_dialling_marks_and_removes_stale_ones() {
    let rig = Rig::new("$retry_delays E \"5\"\n");
    let l = rig.layout();
    l.create(Some("n1")).unwrap();
    let a = l.active("n1");
    // Dialling on line 2, claimed from queue 1: the mark is the job's inode.
    std::fs::write(a.join("1.FS"), "$fax_phone 1\n").unwrap();
    std::fs::hard_link(a.join("1.FS"), a.join(".1.FS~L2~Q1")).unwrap();
    // Claimed again, never dialled: its mark (from an earlier call) is another inode.
    std::fs::write(a.join("2.FS"), "$fax_phone 2\n$fax_tosend 2\n").unwrap();
    std::fs::write(a.join(".2.FS~L1~Q0"), "$fax_phone 2\n$fax_tosend 2\n").unwrap();
    // A mark whose job has gone.
    std::fs::write(a.join(".3.FS~L1~Q0"), "$fax_phone 3\n").unwrap();
    let mut d = rig.daemon("n1", 2, always(0, 10));
    d.start().unwrap();
    let left = entries(&a);
    assert!(left.is_empty(), "{left:?}");
    recovered_as_interrupted_and_unchanged(&l, "2.FS", "$fax_phone 2\n$fax_tosend 2\n");
    d.run_virtual(&rig.clock, 100);
    assert_eq!(rig.files(&l.sent()), ["1.FS", "2.FS"]);
}

/// A node stalled past STALE but not yet taken over (that takes two readings a renewal apart)
/// goes on where it stopped, and until its maintenance comes round its lease on the spool is
/// the stale one. A destination lock taken on that lease is judged dead by the other nodes the
/// moment they see it: one breaks it and calls the number too, both calls starting together
/// (`daemon_chaos`: "number N called twice at once", neither node stopped during its call).
/// So a node renews a lease that could be judged stale before it locks a number.
#[test]
fn a_node_back_from_a_stall_renews_its_lease_before_it_locks_a_number() {
    let rig = Rig::new("$node_lease 1 3\n");
    let l = rig.layout();
    rig.drop_job(0, "1.FS", "$fax_phone 5550001\n");
    rig.drop_job(0, "2.FS", "$fax_phone 5550001\n");
    let mut a = rig.daemon("a", 1, always(0, 30));
    let mut b = rig.daemon("b", 1, always(0, 30));
    a.start().unwrap();
    b.start().unwrap();
    // a stalls for 5 s (its lease, renewed at the start, goes stale); b renews meanwhile and
    // sees a stale once, which is not yet a takeover.
    rig.clock.advance(Duration::seconds(5));
    b.maintain();
    assert!(l.active("a").exists());
    // a runs again: its pending work (a due job) comes before its maintenance tick; b wants
    // the same number a moment later.
    a.poll();
    b.poll();
    let placed = rig.log.lock().unwrap().clone();
    assert_eq!(
        placed.len(),
        1,
        "number 5550001 called twice at once: {placed:?}"
    );
    assert_eq!((a.in_flight(), b.in_flight()), (1, 0));
    let lease = redial::spool::lease::read(&l, "a").unwrap();
    assert_eq!(lease.renewed, rig.clock.now(), "a renewed before it locked");
    // The call ends; the other job of the number follows (the lock is free again), and a's
    // lease was never judged dead: no takeover.
    rig.clock.advance(Duration::seconds(30));
    a.maintain();
    b.maintain();
    a.poll();
    b.poll();
    a.poll();
    assert_eq!(rig.log.lock().unwrap().len(), 2);
    assert_eq!(a.in_flight() + b.in_flight(), 1);
    assert!(l.active("a").exists());
    assert_eq!(rig.files(&l.sent()).len(), 1);
}

/// A node stopped in the middle of a call (SIGSTOP, a hung disk) past its stale limit still
/// holds its number: it may wake and go on with the call. Another node wanting the number waits
/// until it has taken the stopped node over (its lease seen dead twice, its ACTIVE directory
/// renamed away); only then is the lock broken. Breaking it on one stale reading let two nodes
/// call one number at once.
#[test]
fn a_stopped_nodes_number_stays_locked_until_it_is_taken_over() {
    let rig = Rig::new("$node_lease 1 3\n");
    let l = rig.layout();
    rig.drop_job(0, "1.FS", "$fax_phone 5550001\n");
    let mut a = rig.daemon("a", 1, always(0, 600));
    a.start().unwrap();
    a.poll();
    assert_eq!(a.in_flight(), 1);
    rig.drop_job(0, "2.FS", "$fax_phone 5550001\n");
    let mut b = rig.daemon("b", 1, always(0, 30));
    b.start().unwrap();
    // a is stopped from here on: its lease goes stale while its call is up.
    rig.clock.advance(Duration::seconds(5));
    b.poll();
    assert_eq!(
        rig.log.lock().unwrap().len(),
        1,
        "a stale lease alone broke the lock of a node in a call"
    );
    assert_eq!(b.in_flight(), 0);
    // One stale reading is a suspicion, not a takeover: still locked.
    b.maintain();
    b.poll();
    assert_eq!(rig.log.lock().unwrap().len(), 1);
    assert!(l.active("a").exists());
    // Spare locks (released locks kept for a node's next calls, see spool::destlock): a's
    // go with its takeover, another node's stay.
    let spares = l.root.join("LOCKS/.spare");
    std::fs::create_dir_all(&spares).unwrap();
    for name in ["a.1.0", "c.1.0"] {
        std::os::unix::fs::symlink("x 1", spares.join(name)).unwrap();
    }
    // Seen dead again a renewal later: taken over, and the number is free.
    rig.clock.advance(Duration::seconds(1));
    b.maintain();
    assert!(!l.active("a").exists(), "a taken over");
    assert!(
        spares.join("a.1.0").symlink_metadata().is_err(),
        "a's spares dropped"
    );
    assert!(spares.join("c.1.0").symlink_metadata().is_ok());
    b.poll();
    assert_eq!(rig.log.lock().unwrap().len(), 2);
    assert_eq!(b.in_flight(), 1);
}

/// A node that stalls between locking a number and dialling it (here inside the claim
/// write's fsync) for longer than its lease may stay fresh does not dial: meanwhile others may
/// have taken it over, broken its lock and called the number. The job goes back to its queue
/// undialled, the lock and the day's call it reserved (`$max_calls_per_day 1`) are given back,
/// and the node's next turn (its lease renewed) dials it.
#[test]
fn a_node_stalled_before_its_dial_gives_the_job_back_undialled() {
    let rig = Rig::new("$node_lease 1 3\n$max_calls_per_day 1\n");
    let l = rig.layout();
    rig.drop_job(0, "1.FS", "$fax_phone 5550001\n");
    let mut a = rig.daemon("a", 1, always(0, 30));
    let plan = rig.stall_in_claim_write(Duration::seconds(5));
    a.inject_faults(plan);
    a.start().unwrap();
    a.poll();
    // Given back, then (the job due again at once) claimed anew on a renewed lease: one call,
    // placed after the stall. Without the check it is dialled on the old lease; without the
    // cap's give-back the day's one call is spent and the job waits for tomorrow.
    let placed = rig.log.lock().unwrap().clone();
    assert_eq!(placed.len(), 1, "{placed:?}");
    assert_eq!(placed[0].at, t0() + Duration::seconds(5));
    let lease = redial::spool::lease::read(&l, "a").unwrap();
    assert_eq!(
        lease.renewed,
        t0() + Duration::seconds(5),
        "the call waited for a renewed lease"
    );
    assert_eq!(a.in_flight(), 1);
    assert!(rig.files(&l.queue_dir(0)).is_empty());
    let locks = std::fs::read_dir(l.root.join("LOCKS")).map_or(0, |d| {
        d.flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".lock"))
            .count()
    });
    assert_eq!(locks, 1, "one lock: the first was given back");
}

/// A job given back after its claim was made durable goes back as it came: a dialling mark
/// left beside it (or a `$fax_status1 3` left in it) would make a crash during its next claim
/// look like an interrupted call at recovery, and an attempt that never happened would be
/// recorded.
#[test]
fn a_job_given_back_after_its_claim_write_goes_back_unclaimed() {
    let rig = Rig::new("$node_lease 1 3\n");
    let l = rig.layout();
    let job = "$fax_phone 5550001\n";
    rig.drop_job(0, "1.FS", job);
    let mut a = rig.daemon("a", 1, always(0, 30));
    let plan = rig.stall_in_claim_write(Duration::seconds(5));
    // The claim after the give-back fails to write: the job stays in its queue as given back.
    plan.lock().unwrap().add(store::Fault {
        point: Some(store::Point::ClaimWrite),
        after: 1,
        count: Some(1),
        errno: libc::EIO,
    });
    a.inject_faults(plan);
    a.start().unwrap();
    a.poll();
    assert!(rig.log.lock().unwrap().is_empty());
    assert_eq!(rig.files(&l.queue_dir(0)), ["1.FS"]);
    let text = std::fs::read_to_string(l.queue_dir(0).join("1.FS")).unwrap();
    assert!(!text.contains("$fax_status1 3"), "{text}");
    let marks = redial::spool::dialling::marks_in(&l.active("a"));
    assert!(
        marks.is_empty(),
        "its dialling mark went with it: {marks:?}"
    );
    // A crash during the next claim (the job renamed into ACTIVE, its claim not written):
    // recovery puts it back undialled, with no attempt recorded.
    drop(a);
    std::fs::rename(l.queue_dir(0).join("1.FS"), l.active("a").join("1.FS")).unwrap();
    let mut a = rig.daemon("a", 1, always(0, 30));
    a.start().unwrap();
    let text = std::fs::read_to_string(l.queue_dir(0).join("1.FS"))
        .or_else(|_| std::fs::read_to_string(l.active("a").join("1.FS")))
        .unwrap();
    assert!(!text.contains("$attempt_record"), "{text}");
}

/// A job that ends under a name SENT already holds (an older job of that name, archived there
/// before) lands beside it under the next free name: neither replaces the other.
#[test]
fn a_job_ending_under_a_name_sent_holds_lands_beside_it() {
    let rig = Rig::new("");
    let l = rig.layout();
    std::fs::write(
        l.sent().join("1.FS"),
        "; an older job\n$fax_phone 5550009\n",
    )
    .unwrap();
    rig.drop_job(0, "1.FS", "$fax_phone 5550001\n");
    let mut a = rig.daemon("a", 1, always(0, 30));
    a.start().unwrap();
    a.run_virtual(&rig.clock, 100);
    assert_eq!(rig.files(&l.sent()), ["1.FS", "1_1.FS"]);
    let old = std::fs::read_to_string(l.sent().join("1.FS")).unwrap();
    assert!(old.contains("an older job"), "{old}");
    let new = std::fs::read_to_string(l.sent().join("1_1.FS")).unwrap();
    assert!(
        new.contains("5550001") && new.contains("$attempt_record"),
        "{new}"
    );
}

/// A lease that cannot be parsed (half-visible on a network mount, damaged) says nothing about
/// its node: the node's jobs stay where they are however long that lasts. Once the lease is
/// truly gone, the node is taken over after two readings a renewal apart.
#[test]
fn an_unreadable_lease_is_not_a_dead_node() {
    let rig = Rig::new("$node_lease 1 5\n$retry_delays E \"1\"\n");
    let l = rig.layout();
    rig.drop_job(0, "1.FS", "$fax_phone 1\n");
    let mut a = rig.daemon("a", 1, always(0, 600));
    a.start().unwrap();
    a.poll();
    assert_eq!(rig.files(&l.active("a")), ["1.FS"]);
    drop(a);
    std::fs::write(l.lease("a"), "{\"node\": \"a\", \"pid\"").unwrap();
    let mut b = rig.daemon("b", 1, always(0, 10));
    b.start().unwrap();
    for _ in 0..5 {
        rig.clock.advance(Duration::seconds(10));
        b.maintain();
        assert_eq!(
            rig.files(&l.active("a")),
            ["1.FS"],
            "a damaged lease made its node dead"
        );
    }
    std::fs::remove_file(l.lease("a")).unwrap();
    b.maintain();
    assert!(
        l.active("a").exists(),
        "one reading without a lease is not proof"
    );
    rig.clock.advance(Duration::seconds(1));
    b.maintain();
    assert!(
        !l.active("a").exists(),
        "a directory without a lease, seen twice: dead"
    );
    b.run_virtual(&rig.clock, 100);
    assert_eq!(rig.files(&l.sent()), ["1.FS"]);
}

/// A node that dies by a power cut right after settling: its sent job and its job put back in
/// a queue are where they went and still in its `ACTIVE/<node>/` (one file under two names,
/// as a cut before the directory's fsync leaves them). The node taking its directory over
/// removes those second names: the sent job is not recorded again and the queued one is
/// dialled once, not twice.
#[test]
fn a_taken_over_directory_with_jobs_already_moved_on_records_and_dials_each_once() {
    let rig = Rig::new("$node_lease 1 5\n");
    let l = rig.layout();
    rig.drop_job(0, "1.FS", "$fax_phone 1\n");
    let mut a = rig.daemon("a", 1, always(0, 10));
    a.start().unwrap();
    a.run_virtual(&rig.clock, 100);
    assert_eq!(rig.files(&l.sent()), ["1.FS"]);
    let sent = std::fs::read(l.sent().join("1.FS")).unwrap();
    // The cut: both jobs at their new places and still in a's directory; a is gone.
    std::fs::hard_link(l.sent().join("1.FS"), l.active("a").join("1.FS")).unwrap();
    rig.drop_job(0, "2.FS", "$fax_phone 2\n");
    std::fs::hard_link(l.queue_dir(0).join("2.FS"), l.active("a").join("2.FS")).unwrap();
    drop(a);
    let mut b = rig.daemon("b", 1, always(0, 10));
    b.start().unwrap();
    b.maintain();
    for secs in [6, 1] {
        rig.clock.advance(Duration::seconds(secs));
        b.renew_lease().unwrap();
        b.maintain();
    }
    assert!(!l.active("a").exists(), "taken over");
    b.run_virtual(&rig.clock, 100);
    assert_eq!(rig.files(&l.sent()), ["1.FS", "2.FS"], "each job sent once");
    assert_eq!(std::fs::read(l.sent().join("1.FS")).unwrap(), sent);
    assert!(rig.files(&l.queue_dir(0)).is_empty());
    let calls: Vec<String> = rig
        .log
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.job.clone())
        .collect();
    assert_eq!(calls, ["1.FS", "2.FS"], "each job dialled once");
}

#[test]
fn a_stale_nodes_active_directory_is_taken_over_once() {
    let rig = Rig::new("$node_lease 1 5\n$retry_delays E \"1\"\n");
    let l = rig.layout();
    for i in 1..=4 {
        rig.drop_job(0, &format!("{i}.FS"), &format!("$fax_phone {i}\n"));
    }
    // Node a claims jobs on its two lines, then dies (dropped without shutdown).
    let mut a = rig.daemon("a", 2, always(0, 600));
    a.start().unwrap();
    a.poll();
    assert_eq!(rig.files(&l.active("a")).len(), 2);
    drop(a);
    // The live step a's call had reported when a died: gone with the takeover.
    let step = redial::spool::progress::Calls {
        node: "a".into(),
        calls: vec![redial::spool::progress::Progress {
            job: "1.FS".into(),
            attempt: 1,
            line: 1,
            at: chrono::Utc::now(),
            step: "page 1/2 at 9600".into(),
        }],
    };
    redial::spool::progress::write(&l, ".test-", &step).unwrap();
    assert_eq!(redial::spool::progress::read_all(&l).len(), 1);
    let mut b = rig.daemon("b", 2, always(0, 10));
    let mut c = rig.daemon("c", 2, always(0, 10));
    b.start().unwrap();
    c.start().unwrap();
    b.maintain();
    assert!(l.active("a").exists(), "a's lease is still fresh");
    rig.clock.advance(Duration::seconds(6));
    c.renew_lease().unwrap();
    b.maintain();
    c.maintain();
    assert!(
        l.active("a").exists(),
        "one reading of a stale lease is not proof (a network mount's cache can show an old one)"
    );
    rig.clock.advance(Duration::seconds(1));
    c.renew_lease().unwrap();
    b.maintain();
    c.maintain();
    assert!(!l.active("a").exists() && !l.lease("a").exists());
    assert!(
        redial::spool::progress::read_all(&l).is_empty(),
        "the dead node's live steps are gone with its directory"
    );
    let takeovers = rig
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e, Event::TookOver { .. }))
        .count();
    assert_eq!(takeovers, 1);
    b.run_virtual(&rig.clock, 100);
    c.run_virtual(&rig.clock, 100);
    b.run_virtual(&rig.clock, 100);
    assert_eq!(rig.files(&l.sent()), ["1.FS", "2.FS", "3.FS", "4.FS"]);
    let interrupted = rig
        .files(&l.sent())
        .iter()
        .filter(|n| {
            std::fs::read_to_string(l.sent().join(n))
                .unwrap()
                .contains(" 66 E ")
        })
        .count();
    assert_eq!(interrupted, 2);
}

#[test]
fn a_multi_day_campaign_with_clock_time_retries_takes_no_time() {
    let rig = Rig::new(
        "$timezone Europe/Berlin\n$pause_window \"*\" 20:00 08:00\n$retry_delays A \"2H 10:00W 17:30W 1H\"\n$retry_max 9\n",
    );
    rig.drop_job(
        0,
        "1.FS",
        "$fax_phone 1\n$fax_send_date 03/06/2026\n$fax_send_time 16:00:00\n",
    );
    let mut d = rig.daemon("n1", 1, always(1, 45));
    d.start().unwrap();
    // Speed is the benchmark's business (benches/spool.rs); here only the schedule is checked.
    d.run_virtual(&rig.clock, 100);
    let log = rig.log.lock().unwrap();
    let starts: Vec<String> = log
        .iter()
        .map(|p| {
            p.at.with_timezone(&chrono_tz::Europe::Berlin)
                .format("%a %H:%M")
                .to_string()
        })
        .collect();
    // Fri 16:00; +2h is 18:00:45; then 10:00 on the next working day (Monday); the second clock
    // entry acts as 3 minutes; then 1 hour; then the list is exhausted.
    assert_eq!(
        starts,
        [
            "Fri 16:00",
            "Fri 18:00",
            "Mon 10:00",
            "Mon 10:03",
            "Mon 11:04"
        ]
    );
    assert_eq!(rig.files(&rig.layout().fail()), ["1.FS"]);
    assert!(rig.clock.now() > Utc.with_ymd_and_hms(2026, 3, 9, 10, 0, 0).unwrap());
}

#[test]
fn a_number_that_keeps_failing_is_paused_by_its_breaker() {
    // Three jobs to one always-busy number, each allowed 3 attempts one minute apart: after the
    // 4th failure in a row ($destination_breaker 4 30) the number rests 30 minutes, so the
    // remaining attempts wait; a job to another number is not held up.
    let rig = Rig::new("$retry_delays B \"1 1\"\n$destination_breaker 4 30\n");
    for name in ["1.FS", "2.FS", "3.FS"] {
        rig.drop_job(0, name, "$fax_phone 5550200\n");
    }
    rig.drop_job(1, "4.FS", "$fax_phone 5550999\n");
    let script: Script = Arc::new(|c: &Call, _| {
        if c.number == "5550200" {
            (2, 10)
        } else {
            (0, 30)
        }
    });
    let mut d = rig.daemon("n1", 1, script);
    d.start().unwrap();
    d.run_virtual(&rig.clock, 1000);
    let log = rig.log.lock().unwrap();
    let busy: Vec<i64> = log
        .iter()
        .filter(|p| p.job != "4.FS")
        .map(|p| (p.at - t0()).num_seconds())
        .collect();
    assert_eq!(busy.len(), 9, "every attempt is still made: {busy:?}");
    let gaps: Vec<i64> = busy.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        gaps.iter().any(|g| *g >= 30 * 60),
        "a 30-minute pause after 4 failures: {busy:?}"
    );
    let other = log.iter().find(|p| p.job == "4.FS").unwrap();
    assert!(
        (other.at - t0()).num_minutes() < 30,
        "the other number was not held up"
    );
    assert_eq!(rig.files(&rig.layout().fail()).len(), 3);
    assert_eq!(rig.files(&rig.layout().sent()), ["4.FS"]);
}
