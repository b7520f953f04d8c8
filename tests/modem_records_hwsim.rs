//! Honest records and live progress on a modem line, against hw-sim over real ptys: the steps of
//! a fax call reach the caller when they happen (not all at the hang-up), connect time runs
//! from the fax connection to the hang-up, and the attempt record counts pages scheduled as
//! pages, not documents.

mod common;

use redial::command::Document;
use redial::daemon::clock::ManualClock;
use redial::daemon::Daemon;
use redial::job::Job;
use redial::line::documents::DocumentCache;
use redial::line::modem::{run_call_observed, ModemSettings};
use redial::line::{Call, LineDef};
use redial::modem::fax_send::FaxEvent;
use redial::retry::outcome::Channel;
use redial::spool::store;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SCENARIO: &str = r#"
[defaults]
unknown = { kind = "no-answer", rings = 1 }

[[number]]
number = "5550100"
outcome = { kind = "fax", rings = 1, csi = "RECORDS" }
"#;

async fn rack(dir: &Path) -> common::hwsim::Rack {
    common::hwsim::rack(dir, 1, SCENARIO, 0.05).await
}

/// Three pages (form feeds start pages).
fn three_pages(dir: &Path) -> PathBuf {
    let p = dir.join("three.txt");
    std::fs::write(&p, "Page one.\n\x0cPage two.\n\x0cPage three.\n").unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steps_arrive_as_they_happen_and_connect_time_runs_to_the_hang_up() {
    let dir = tempfile::tempdir().unwrap();
    let rack = rack(&dir.path().join("rack")).await;
    let doc = three_pages(dir.path());
    let settings = ModemSettings::from_def(&LineDef {
        number: 1,
        kind: "modem".into(),
        params: vec![(
            "device".into(),
            rack.dir.join("ttySIM0").display().to_string(),
        )],
        cfg_line: 1,
    })
    .unwrap();
    let call = Call {
        job: "R.FS".into(),
        number: "5550100".into(),
        channel: Channel::Fax,
        documents: vec![doc],
        message: None,
        attempt: 1,
        alternate: false,
        low_resolution: false,
        fax_speed: None,
        header: None,
        cover: None,
        email: None,
        sms: None,
    };
    let mut steps: Vec<(Instant, FaxEvent)> = Vec::new();
    let began = Instant::now();
    let (_keep, mut cancel) = tokio::sync::watch::channel(false);
    let r = run_call_observed(
        &settings,
        &call,
        &DocumentCache::default(),
        &mut cancel,
        |at, ev| steps.push((at, ev.clone())),
    )
    .await;
    let ended = Instant::now();
    rack.stop().await;
    assert_eq!((r.code, r.pages, r.scheduled), (0, 3, 3), "{r:?}");
    let when = |want: &FaxEvent| {
        steps
            .iter()
            .find(|(_, e)| e == want)
            .map(|(t, _)| *t)
            .unwrap_or_else(|| panic!("no {want:?} in {steps:?}"))
    };
    let connected = when(&FaxEvent::Connected);
    let pages: Vec<Instant> = (1..=3).map(|n| when(&FaxEvent::PageSent(n))).collect();
    let finished = steps
        .iter()
        .find(|(_, e)| matches!(e, FaxEvent::Finished(_)))
        .map(|(t, _)| *t)
        .expect("finished");
    // In order, and each at its own moment: hw-sim confirms a page no sooner than 1.1 s after
    // its CONNECT, so steps taken at the hang-up would all share one instant.
    let order = [connected, pages[0], pages[1], pages[2], finished];
    for w in order.windows(2) {
        assert!(
            w[0] < w[1],
            "steps out of order or at one instant: {steps:?}"
        );
    }
    for w in pages.windows(2) {
        assert!(
            w[1] - w[0] >= Duration::from_millis(900),
            "pages confirmed {:?} apart",
            w[1] - w[0]
        );
    }
    assert!(steps.windows(2).all(|w| w[0].0 <= w[1].0));
    // Connect time: from the connection to the hang-up (whole seconds, truncated), within the call.
    let connect = finished - connected;
    assert_eq!(r.connect_secs, connect.as_secs() as u32, "{r:?}");
    assert!(r.connect_secs >= 3, "three pages take over 3.3 s: {r:?}");
    assert!(r.connect_secs <= r.call_secs, "{r:?}");
    assert!(u64::from(r.call_secs) <= (ended - began).as_secs(), "{r:?}");
    eprintln!(
        "call {} s, connect {} s, steps: {:?}",
        r.call_secs,
        r.connect_secs,
        steps
            .iter()
            .map(|(t, e)| format!("{:.2}s {e:?}", (*t - began).as_secs_f64()))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_attempt_record_has_connect_seconds_and_pages_scheduled() {
    let dir = tempfile::tempdir().unwrap();
    let rack = rack(&dir.path().join("rack")).await;
    three_pages(dir.path());
    let cfg_path = dir.path().join("redial.cfg");
    std::fs::write(
        &cfg_path,
        format!(
            "$request_dir spool 3\n$line 1 {} class=2.0\n",
            rack.dir.join("ttySIM0").display()
        ),
    )
    .unwrap();
    let clock = ManualClock::new("2026-03-02T09:00:00Z".parse().unwrap());
    let mut d = Daemon::new(
        Some(&cfg_path),
        dir.path(),
        "n1",
        Arc::new(clock.clone()),
        None,
    )
    .unwrap();
    d.start().unwrap();
    std::fs::write(
        dir.path().join("spool/TOSEND/1.FS"),
        "$fax_phone 5550100\n$fax_filename three.txt\n",
    )
    .unwrap();
    d.rescan();
    d.run_hybrid(&clock, 100).await;
    d.shutdown();
    rack.stop().await;
    let sent = dir.path().join("spool/SENT");
    assert_eq!(store::list_jobs(&sent).unwrap(), ["1.FS"]);
    let text = std::fs::read(sent.join("1.FS")).unwrap();
    let job = Job::from_document(&Document::parse(&text, "1.FS").unwrap()).unwrap();
    let r = &job.records[0];
    let shown = String::from_utf8_lossy(&text);
    assert_eq!((r.outcome, r.scheduled, r.sent), (0, 3, 3), "{shown}");
    assert!(r.connect >= 3, "connect seconds: {shown}");
    assert!(r.connect <= r.call, "{shown}");
    // hw-sim's own log of the call bounds it from outside.
    let log = std::fs::read_to_string(rack_log(dir.path())).unwrap();
    let v: serde_json::Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    let sim_ms = v["end_unix_ms"].as_i64().unwrap() - v["start_unix_ms"].as_i64().unwrap();
    assert!(
        i64::from(r.connect) * 1000 <= sim_ms + 1000,
        "connect {} s, hw-sim saw the call for {sim_ms} ms",
        r.connect
    );
    eprintln!(
        "{}",
        shown
            .lines()
            .find(|l| l.contains("attempt_record"))
            .unwrap_or("")
    );
}

fn rack_log(dir: &Path) -> PathBuf {
    dir.join("rack/calls.jsonl")
}
