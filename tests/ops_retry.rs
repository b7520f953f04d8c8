//! Manual, bulk and automatic retry of failed jobs: every eligibility rule, the bulk report,
//! the file edit (one `$retry_note` appended, every other byte kept), the CLI, the sweep's
//! schedule and limit, and the daemon dialling a retried job as a new cycle. The clock is
//! always given; nothing sleeps.

use chrono::{DateTime, Utc};
use redial::command::Document;
use redial::load::SystemConfig;
use redial::ops::config::OpsConfig;
use redial::ops::eligibility::Skip;
use redial::ops::retry::{retry, Request, Selection};
use redial::ops::scan::RetryKind;
use redial::ops::sweep::Sweeper;
use redial::spool::Layout;
use std::path::{Path, PathBuf};

const CFG: &str = "$request_dir spool 3\n$retry_wait B 15\n$retry_wait A 30\n";

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn rec(date_time: &str, kind: u8, code: u32, class: char, tosend: u8) -> String {
    format!("$attempt_record {date_time} {kind} 0 1 {code} {class} 0 {tosend} 0 S1 0 5 0 \"\"\n")
}

struct Spool {
    _dir: tempfile::TempDir,
    base: PathBuf,
    layout: Layout,
    sys: SystemConfig,
    ops: OpsConfig,
}

impl Spool {
    fn new(cfg: &str) -> Spool {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().to_path_buf();
        std::fs::write(base.join("redial.cfg"), cfg).unwrap();
        let sys = SystemConfig::load(&base.join("redial.cfg")).unwrap();
        let layout = Layout::new(base.join("spool"), 3);
        layout.create(None).unwrap();
        let ops = OpsConfig::from_cfg(&sys.document, &base).unwrap();
        Spool {
            _dir: dir,
            base,
            layout,
            sys,
            ops,
        }
    }
    fn put(&self, dir: &str, name: &str, text: &str) -> PathBuf {
        let p = self.layout.root.join(dir).join(name);
        std::fs::write(&p, text).unwrap();
        // A fixed modification time: "newer" compares it for jobs never attempted.
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(t("2026-03-02T08:30:00Z").into()).unwrap();
        p
    }
    fn run(&self, req: &Request, now: &str) -> redial::ops::retry::Report {
        retry(&self.layout, &self.sys, &self.ops, req, t(now)).unwrap()
    }
}

fn failed_job(phone: &str, records: &[String]) -> String {
    let mut s = format!(
        "$fax_phone \"{phone}\"\n; a comment the retry keeps\n$fax_tosend 2\n$fax_status1 6\n"
    );
    for r in records {
        s.push_str(r);
    }
    s
}

/// The spool every rule test uses (now = 2026-03-02 10:00 UTC).
fn sample() -> Spool {
    let s = Spool::new(CFG);
    // 1: busy list ran out at 09:01 (Z record, code 2 is class B): wait 15 min is over.
    s.put(
        "FAIL",
        "1.FS",
        &failed_job(
            "555 0101",
            &[
                rec("03/02/2026 09:00:00", 1, 2, 'B', 2),
                rec("03/02/2026 09:01:00", 1, 2, 'Z', 2),
            ],
        ),
    );
    // 2: invalid number (11): permanent.
    s.put(
        "FAIL",
        "2.FS",
        &failed_job("555 0102", &[rec("03/02/2026 09:00:00", 1, 11, 'Z', 0)]),
    );
    // 3: busy until 09:50: eligible at 09:50:05 + 15 min.
    s.put(
        "FAIL",
        "3.FS",
        &failed_job("555 0103", &[rec("03/02/2026 09:50:00", 1, 2, 'Z', 0)]),
    );
    // 4: a newer job to the same number (written differently) is in SENT.
    s.put(
        "FAIL",
        "4.FS",
        &failed_job("555 0104", &[rec("03/02/2026 08:00:00", 1, 1, 'Z', 0)]),
    );
    s.put(
        "SENT",
        "40.FS",
        &failed_job("555-0104", &[rec("03/02/2026 09:00:00", 1, 0, 'S', 0)]),
    );
    // 5: a newer job to the same number waits in a queue, never attempted (dropped 08:30).
    s.put(
        "FAIL",
        "5.FS",
        &failed_job("555 0105", &[rec("03/02/2026 08:00:00", 1, 1, 'Z', 0)]),
    );
    s.put("TOSEND1", "50.FS", "$fax_phone \"5550105\"\n");
    // 6: an OLDER job to the same number in SENT does not block it.
    s.put(
        "FAIL",
        "6.FS",
        &failed_job("555 0106", &[rec("03/02/2026 09:00:00", 1, 1, 'Z', 0)]),
    );
    s.put(
        "SENT",
        "60.FS",
        &failed_job("555 0106", &[rec("03/01/2026 09:00:00", 1, 0, 'S', 0)]),
    );
    // 7: SMS REJECTED (404) and 8: voice opt-out (305): permanent.
    s.put(
        "FAIL",
        "7.FS",
        &format!(
            "$sms_phone 5550107\n{}",
            rec("03/02/2026 09:00:00", 4, 404, 'Z', 0)
        ),
    );
    s.put(
        "FAIL",
        "8.FS",
        &format!(
            "$voice_phone 5550108 msg\n{}",
            rec("03/02/2026 09:00:00", 2, 305, 'Z', 0)
        ),
    );
    // 9: cannot be parsed.
    s.put("FAIL", "9.FS", "$fax_phone \"unterminated\n");
    s
}

fn skip_of<'a>(r: &'a redial::ops::retry::Report, job: &str) -> &'a Skip {
    &r.skipped
        .iter()
        .find(|s| s.job == job)
        .unwrap_or_else(|| panic!("{job} not skipped: {r:?}"))
        .why
}

#[test]
fn every_eligibility_rule_in_one_bulk_report() {
    let s = sample();
    let r = s.run(
        &Request {
            all_failed: true,
            dry_run: true,
            jobs: vec!["404".into(), "40".into()],
            ..Request::default()
        },
        "2026-03-02T10:00:00Z",
    );
    let queued: Vec<&str> = r.queued.iter().map(|q| q.job.as_str()).collect();
    assert_eq!(queued, ["1.FS", "6.FS"], "{r:#?}");
    assert!(matches!(
        skip_of(&r, "2.FS"),
        Skip::Permanent { code: 11, .. }
    ));
    assert_eq!(
        skip_of(&r, "3.FS"),
        &Skip::Wait {
            class: 'B',
            eligible_at: t("2026-03-02T10:05:05Z")
        }
    );
    assert_eq!(
        skip_of(&r, "4.FS"),
        &Skip::Newer {
            newer_job: "40.FS".into(),
            newer_place: "SENT".into()
        }
    );
    assert_eq!(
        skip_of(&r, "5.FS"),
        &Skip::Newer {
            newer_job: "50.FS".into(),
            newer_place: "TOSEND1".into()
        }
    );
    assert!(matches!(
        skip_of(&r, "7.FS"),
        Skip::Permanent { code: 404, .. }
    ));
    assert!(matches!(
        skip_of(&r, "8.FS"),
        Skip::Permanent { code: 305, .. }
    ));
    assert!(matches!(skip_of(&r, "9.FS"), Skip::Unreadable { .. }));
    assert_eq!(skip_of(&r, "404"), &Skip::NotFound);
    assert_eq!(
        skip_of(&r, "40.FS"),
        &Skip::NotFailed {
            place: "SENT".into()
        }
    );
    assert_eq!(r.skipped.len(), 9);
    // A dry run moves nothing.
    assert!(s.layout.fail().join("1.FS").exists());
    // The JSON form names the reason and the time.
    let j = serde_json::to_value(&r).unwrap();
    let wait = j["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["job"] == "3.FS")
        .unwrap();
    assert_eq!(wait["reason"], "wait");
    assert_eq!(wait["eligible_at"], "2026-03-02T10:05:05Z");
    assert!(wait["message"]
        .as_str()
        .unwrap()
        .contains("eligible at 2026-03-02 10:05:05"));
}

#[test]
fn the_wait_ends_on_time() {
    let s = sample();
    let one = |now| {
        s.run(
            &Request {
                jobs: vec!["3".into()],
                dry_run: true,
                ..Request::default()
            },
            now,
        )
    };
    assert_eq!(one("2026-03-02T10:05:04Z").queued.len(), 0);
    assert_eq!(one("2026-03-02T10:05:05Z").queued.len(), 1);
}

#[test]
fn retry_appends_a_note_keeps_every_byte_and_moves_the_file() {
    let s = sample();
    let before = std::fs::read(s.layout.fail().join("1.FS")).unwrap();
    let r = s.run(
        &Request {
            jobs: vec!["1.FS".into()],
            reason: "customer asked".into(),
            ..Request::default()
        },
        "2026-03-02T10:00:00Z",
    );
    assert_eq!(r.queued.len(), 1);
    assert_eq!(r.queued[0].queue, 2, "the queue it came from ($fax_tosend)");
    assert_eq!(r.queued[0].cycle, 2);
    assert!(!s.layout.fail().join("1.FS").exists());
    let after = std::fs::read(s.layout.queue_dir(2).join("1.FS")).unwrap();
    let mut expect = before.clone();
    expect.extend_from_slice(b"$retry_note 03/02/2026 10:00:00 manual 2 \"customer asked\"\n");
    assert_eq!(
        String::from_utf8(after).unwrap(),
        String::from_utf8(expect).unwrap()
    );
    // Retrying again: it is no longer failed.
    let r = s.run(
        &Request {
            jobs: vec!["1".into()],
            ..Request::default()
        },
        "2026-03-02T10:00:00Z",
    );
    assert_eq!(
        r.skipped[0].why,
        Skip::NotFailed {
            place: "TOSEND2".into()
        }
    );
    assert!(
        s.layout.temp().read_dir().unwrap().next().is_none(),
        "no temp files left"
    );
}

#[test]
fn bulk_selection_by_class_queue_date_and_destination() {
    let s = sample();
    let ask = |sel: Selection| {
        let r = s.run(
            &Request {
                all_failed: true,
                selection: sel,
                dry_run: true,
                ..Request::default()
            },
            "2026-03-02T10:00:00Z",
        );
        let mut all: Vec<String> = r
            .queued
            .iter()
            .map(|q| q.job.clone())
            .chain(r.skipped.iter().map(|x| x.job.clone()))
            .collect();
        all.sort();
        all
    };
    assert_eq!(
        ask(Selection {
            class: Some("b".into()),
            ..Default::default()
        }),
        ["1.FS", "3.FS"]
    );
    assert_eq!(
        ask(Selection {
            queue: Some(2),
            ..Default::default()
        }),
        ["1.FS", "2.FS", "3.FS", "4.FS", "5.FS", "6.FS"]
    );
    assert_eq!(
        ask(Selection {
            dest: Some("555*0106".into()),
            ..Default::default()
        }),
        ["6.FS"]
    );
    assert_eq!(
        ask(Selection {
            dest: Some("5550103".into()),
            ..Default::default()
        }),
        ["3.FS"]
    );
    let d = |s: &str| Some(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap());
    assert_eq!(
        ask(Selection {
            since: d("2026-03-03"),
            ..Default::default()
        }),
        Vec::<String>::new()
    );
    assert_eq!(
        ask(Selection {
            until: d("2026-03-02"),
            class: Some("Z".into()),
            ..Default::default()
        }),
        ["2.FS", "7.FS", "8.FS"]
    );
}

#[test]
fn a_queue_override_and_a_bad_queue() {
    let s = sample();
    let r = s.run(
        &Request {
            jobs: vec!["6".into()],
            queue: Some(0),
            ..Request::default()
        },
        "2026-03-02T10:00:00Z",
    );
    assert!(s.layout.queue_dir(0).join("6.FS").exists(), "{r:?}");
    let e = retry(
        &s.layout,
        &s.sys,
        &s.ops,
        &Request {
            jobs: vec!["1".into()],
            queue: Some(7),
            ..Request::default()
        },
        t("2026-03-02T10:00:00Z"),
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "queue 7 does not exist (highest is 3)");
}

#[test]
fn the_sweep_runs_daily_and_stops_at_max() {
    let s = Spool::new(&format!("{CFG}$auto_retry \"06:00\" max=1\n"));
    let text = failed_job("555 0201", &[rec("03/01/2026 18:00:00", 1, 1, 'Z', 0)]);
    s.put("FAIL", "1.FS", &text);
    let mut sw = Sweeper::default();
    assert!(sw
        .tick(&s.layout, &s.sys, &s.ops, t("2026-03-02T05:59:59Z"))
        .is_none());
    let r = sw
        .tick(&s.layout, &s.sys, &s.ops, t("2026-03-02T06:00:00Z"))
        .unwrap()
        .unwrap();
    assert_eq!(r.queued.len(), 1);
    let moved = std::fs::read_to_string(s.layout.queue_dir(2).join("1.FS")).unwrap();
    assert!(
        moved.ends_with("$retry_note 03/02/2026 06:00:00 auto 2 \"automatic retry (06:00)\"\n"),
        "{moved}"
    );
    // Not twice a day, also not from a fresh daemon (the day is kept in the spool).
    assert!(sw
        .tick(&s.layout, &s.sys, &s.ops, t("2026-03-02T12:00:00Z"))
        .is_none());
    assert!(Sweeper::default()
        .tick(&s.layout, &s.sys, &s.ops, t("2026-03-02T12:00:00Z"))
        .is_none());
    // It fails again; the next day's sweep finds its one automatic retry used.
    std::fs::remove_file(s.layout.queue_dir(2).join("1.FS")).unwrap();
    s.put(
        "FAIL",
        "1.FS",
        &format!("{moved}{}", rec("03/02/2026 06:01:00", 1, 1, 'Z', 0)),
    );
    let r = sw
        .tick(&s.layout, &s.sys, &s.ops, t("2026-03-03T06:00:00Z"))
        .unwrap()
        .unwrap();
    assert_eq!(r.queued.len(), 0);
    assert_eq!(r.skipped[0].why, Skip::AutoLimit { max: 1 });
    // A manual retry still works.
    let r = s.run(
        &Request {
            jobs: vec!["1".into()],
            ..Request::default()
        },
        "2026-03-03T07:00:00Z",
    );
    assert_eq!(r.queued.len(), 1);
    assert_eq!(r.queued[0].cycle, 3);
    let _ = RetryKind::Auto;
}

#[test]
fn the_daemon_dials_a_retried_job_as_a_new_cycle_and_so_does_a_hand_move() {
    use redial::daemon::clock::ManualClock;
    use redial::daemon::Daemon;
    use std::sync::Arc;
    let cfg = format!("{CFG}$line 1 sim\n");
    let s = Spool::new(&cfg);
    s.put(
        "FAIL",
        "1.FS",
        &failed_job("555 0301", &[rec("03/02/2026 09:00:00", 1, 2, 'Z', 0)]),
    );
    s.put(
        "FAIL",
        "2.FS",
        &failed_job("555 0302", &[rec("03/02/2026 09:00:00", 1, 2, 'Z', 0)]),
    );
    let r = s.run(
        &Request {
            jobs: vec!["1".into()],
            ..Request::default()
        },
        "2026-03-02T10:00:00Z",
    );
    assert_eq!(r.queued.len(), 1);
    // CopiaFacts' way: moved by hand.
    std::fs::rename(
        s.layout.fail().join("2.FS"),
        s.layout.queue_dir(0).join("2.FS"),
    )
    .unwrap();
    let clock = ManualClock::new(t("2026-03-02T10:00:00Z"));
    let mut d = Daemon::new(
        Some(&s.base.join("redial.cfg")),
        &s.base,
        "n1",
        Arc::new(clock.clone()),
        None,
    )
    .unwrap();
    d.start().unwrap();
    d.run_virtual(&clock, 100);
    for (name, notes) in [("1.FS", 1), ("2.FS", 0)] {
        let text = std::fs::read_to_string(s.layout.sent().join(name))
            .unwrap_or_else(|_| panic!("{name} not sent"));
        let doc = Document::parse_str(&text, name).unwrap();
        let job = redial::job::Job::from_document(&doc).unwrap();
        assert_eq!(redial::retry::attempt::cycles(&job.records), 2, "{text}");
        assert_eq!(doc.all("retry_note").count(), notes);
    }
}

#[test]
fn the_cli_prints_queued_and_skipped() {
    let s = sample();
    let out = assert_cmd::Command::cargo_bin("redial")
        .unwrap()
        .args(["retry", "--all-failed", "--dry-run", "--cfg"])
        .arg(s.base.join("redial.cfg"))
        .arg("--base")
        .arg(&s.base)
        .args(["--now", "2026-03-02T10:00:00Z"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("would queue 1.FS"), "{text}");
    assert!(text.contains("3.FS           recommended wait for class B not over: eligible at 2026-03-02 10:05:05 UTC (in 5 min)"), "{text}");
    assert!(text.ends_with("2 would queue, 7 skipped\n"), "{text}");
    let out = assert_cmd::Command::cargo_bin("redial")
        .unwrap()
        .args(["retry", "6", "--json", "--reason", "by hand", "--cfg"])
        .arg(s.base.join("redial.cfg"))
        .arg("--base")
        .arg(&s.base)
        .args(["--now", "2026-03-02T10:00:00Z"])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(j["queued"][0]["job"], "6.FS");
    assert!(Path::new(&s.layout.queue_dir(2).join("6.FS")).exists());
}

#[test]
fn a_reason_with_newlines_stays_one_note_on_one_line() {
    let s = sample();
    let r = s.run(
        &Request {
            jobs: vec!["1.FS".into()],
            reason: "line one\n$fax_phone 5550666\r\n".into(),
            ..Request::default()
        },
        "2026-03-02T10:00:00Z",
    );
    assert_eq!(r.queued.len(), 1);
    let after = std::fs::read(s.layout.queue_dir(2).join("1.FS")).unwrap();
    let doc = Document::parse(&after, "1.FS").unwrap();
    let phones: Vec<_> = doc.all("fax_phone").collect();
    assert_eq!(phones.len(), 1, "a line was injected");
    let note = doc.last("retry_note").unwrap();
    assert_eq!(note.texts()[4], "line one\\n$fax_phone 5550666\\r\\n");
}

#[test]
fn skipped_entries_of_every_kind_have_unique_json_keys() {
    use redial::ops::retry::{Report, Skipped};
    let every = [
        Skip::NotFound,
        Skip::NotFailed {
            place: "SENT".into(),
        },
        Skip::Unreadable {
            error: "bad".into(),
        },
        Skip::Permanent {
            code: 11,
            description: "invalid number".into(),
        },
        Skip::Newer {
            newer_job: "7.FS".into(),
            newer_place: "SENT".into(),
        },
        Skip::Wait {
            class: 'B',
            eligible_at: "2026-03-02T10:05:05Z".parse().unwrap(),
        },
        Skip::AutoLimit { max: 3 },
        Skip::Gone,
    ];
    let report = Report {
        queued: Vec::new(),
        skipped: every
            .into_iter()
            .map(|why| Skipped {
                job: "1.FS".into(),
                why,
                message: String::new(),
            })
            .collect(),
        dry_run: true,
    };
    let text = serde_json::to_string(&report).unwrap();
    if let Err(e) = serde_json::from_str::<UniqueKeys>(&text) {
        panic!("{e}: {text}");
    }
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let newer = &v["skipped"][4];
    assert_eq!(newer["job"], "1.FS", "{text}");
    assert_eq!(newer["reason"], "newer", "{text}");
    assert_eq!(newer["newer_job"], "7.FS", "{text}");
    assert_eq!(newer["newer_place"], "SENT", "{text}");
}

/// Parses JSON text and fails on an object that repeats a key (`serde_json::Value` would
/// silently keep the last one).
struct UniqueKeys;

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut s: A) -> Result<UniqueKeys, A::Error> {
        while s.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut m: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(k) = m.next_key::<String>()? {
            if !seen.insert(k.clone()) {
                return Err(serde::de::Error::custom(format!("duplicate key {k:?}")));
            }
            m.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

#[test]
fn retry_json_names_every_key_once() {
    let s = sample();
    let out = assert_cmd::Command::cargo_bin("redial")
        .unwrap()
        .args(["retry", "--all-failed", "--dry-run", "--json", "--cfg"])
        .arg(s.base.join("redial.cfg"))
        .arg("--base")
        .arg(&s.base)
        .args(["--now", "2026-03-02T10:00:00Z"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    if let Err(e) = serde_json::from_str::<UniqueKeys>(&text) {
        panic!("{e}: {text}");
    }
    let j: serde_json::Value = serde_json::from_str(&text).unwrap();
    let newer = j["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["job"] == "4.FS")
        .unwrap();
    assert_eq!(newer["reason"], "newer");
    assert_eq!(newer["newer_job"], "40.FS");
    assert_eq!(newer["newer_place"], "SENT");
}

#[test]
fn retry_class_takes_letters_and_names_and_refuses_the_rest() {
    let s = sample();
    let cli = |class: &str| {
        assert_cmd::Command::cargo_bin("redial")
            .unwrap()
            .args([
                "retry",
                "--all-failed",
                "--dry-run",
                "--class",
                class,
                "--cfg",
            ])
            .arg(s.base.join("redial.cfg"))
            .arg("--base")
            .arg(&s.base)
            .args(["--now", "2026-03-02T10:00:00Z"])
            .output()
            .unwrap()
    };
    for bad in ["machine", "xyz", "P", "A,", "busy,nope"] {
        let out = cli(bad);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {err}");
        assert!(out.stdout.is_empty(), "{bad}: nothing retried");
        for listed in ["A-O, S, Z", "busy", "no-answer", "answering-machine"] {
            assert!(err.contains(listed), "{bad}: {err}");
        }
    }
    for good in ["b", "B", "busy", "Busy", "BUSY"] {
        let out = cli(good);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{good}: {text}");
        assert!(
            text.contains("would queue 1.FS") && text.contains("3.FS") && !text.contains("2.FS"),
            "{good}: {text}"
        );
    }
    // Names and letters mix; names may be written with spaces, '-' or '_'.
    let out = cli("no_answer,busy,Z");
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("1.FS") && text.contains("2.FS"), "{text}");
    // The library (the API's POST /api/retry goes through it) refuses a bad class too.
    let r = retry(
        &s.layout,
        &s.sys,
        &s.ops,
        &Request {
            all_failed: true,
            selection: Selection {
                class: Some("xyz".into()),
                ..Default::default()
            },
            dry_run: true,
            ..Request::default()
        },
        t("2026-03-02T10:00:00Z"),
    );
    let e = r.expect_err("xyz is no class").to_string();
    assert!(e.contains("\"xyz\" is not an outcome class"), "{e}");
}
