//! The daemon with real modem lines on a hw-sim rack: busy, no-answer and no-dial-tone sequences
//! leave exactly the attempt records and retry times the engine predicts.

use chrono::{DateTime, Duration, Utc};
use redial::command::Document;
use redial::daemon::clock::ManualClock;
use redial::daemon::Daemon;
use redial::job::Job;
use redial::load::SystemConfig;
use redial::retry::engine::{decide, Action, Input, ThisAttempt};
use redial::retry::outcome::Channel;
use redial::retry::policy::{Level, Policy, PolicyLayer};
use redial::spool::store;
use redial_sim::rack::{run, RackConfig};
use redial_sim::scenario::Scenario;
use std::path::Path;
use std::sync::Arc;

const SCENARIO: &str = r#"
[defaults]
unknown = { kind = "no-answer", rings = 1 }

[[number]]
number = "5550201"
sequence = [{ kind = "busy" }, { kind = "busy" }, { kind = "fax", rings = 1, csi = "THIRD TIME" }]

[[modem]]
index = 1
fault = "no-dialtone"
"#;

const CFG: &str = "$request_dir spool 3\n$retry_delays B \"1 2\"\n$retry_delays A \"5\"\n$retry_delays D \"1 1\"\n$retry_max 5\n";

fn t0() -> DateTime<Utc> {
    "2026-03-02T09:00:00Z".parse().unwrap()
}

/// Every call in the finished jobs' records: (board+line, start, end).
fn calls_on_lines(paths: &[std::path::PathBuf]) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    let mut out = Vec::new();
    for p in paths {
        let doc = Document::parse(&std::fs::read(p).unwrap(), "j").unwrap();
        for r in Job::from_document(&doc).unwrap().records {
            let start = r.start().and_utc();
            out.push((
                r.boardline().to_string(),
                start,
                start + Duration::seconds(i64::from(r.call) + 1),
            ));
        }
    }
    out
}

/// Replays a finished job's records through the engine: each retry must start when the engine,
/// given the history before it, says (to the second; records keep whole seconds), and never
/// before; later only while its line was busy with another call at that instant (jobs here share
/// a line, and the clock follows the wall clock during calls).
fn assert_records_follow_the_engine(
    path: &Path,
    cfg: &SystemConfig,
    want: &[(u32, char)],
    calls: &[(String, DateTime<Utc>, DateTime<Utc>)],
) {
    let text = std::fs::read(path).unwrap();
    let doc = Document::parse(&text, &path.display().to_string()).unwrap();
    let job = Job::from_document(&doc).unwrap();
    let got: Vec<(u32, char)> = job
        .records
        .iter()
        .map(|r| (r.outcome, r.class.letter()))
        .collect();
    assert_eq!(got, want, "{}", String::from_utf8_lossy(&text));
    for k in 0..job.records.len() - 1 {
        let mut before = job.clone();
        before.records.truncate(k);
        let r = &job.records[k];
        let policy = Policy {
            cfg: cfg.layer.clone(),
            usr: PolicyLayer::empty(Level::Usr),
            fs: job.policy.clone(),
        };
        let row = cfg.outcomes.classify(r.outcome, Some(Channel::Fax));
        let ended = r.start().and_utc() + Duration::seconds(i64::from(r.call));
        let d = decide(&Input {
            policy: &policy,
            job: &before,
            queue_from: r.tosend,
            attempt: ThisAttempt {
                class: row.class,
                code: Some(r.outcome),
                description: None,
                ended,
                line: r.line(),
                channel: Channel::Fax,
            },
            seed: 0,
        });
        let Action::Retry { at } = d.action else {
            panic!("record {k}: engine says {:?}: {}", d.action, d.reason)
        };
        let next = job.records[k + 1].start().and_utc();
        let line = &job.records[k + 1].boardline();
        let held = calls
            .iter()
            .any(|(l, s, e)| **l == **line && *s <= at && at < *e && *s != next);
        assert!(
            (next - at).num_seconds() >= -1 && ((next - at).num_seconds() <= 1 || held),
            "record {}: started {next}, engine said {at} ({})",
            k + 1,
            d.reason
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modem_lines_on_hw_sim_follow_the_engine() {
    let dir = tempfile::tempdir().unwrap();
    let rack_dir = dir.path().join("rack");
    let config = RackConfig {
        modems: 2,
        dir: rack_dir.clone(),
        scenario: Scenario::parse(SCENARIO).unwrap(),
        time_scale: 0.05,
        bps: 0,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let rack = tokio::spawn(async move {
        run(config, async {
            let _ = stopped.await;
        })
        .await
        .unwrap()
    });
    for _ in 0..400 {
        if rack_dir.join("ready").exists() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let cfg_path = dir.path().join("redial.cfg");
    let lines = format!(
        "$line 1 {} class=2.0 dial_timeout=20\n$line 2 {} class=2.0 dial_timeout=20\n",
        rack_dir.join("ttySIM0").display(),
        rack_dir.join("ttySIM1").display()
    );
    std::fs::write(&cfg_path, format!("{CFG}{lines}")).unwrap();
    std::fs::write(dir.path().join("page.txt"), "ORDER 77\n\n 3 widgets\n").unwrap();
    let clock = ManualClock::new(t0());
    let mut d = Daemon::new(
        Some(&cfg_path),
        dir.path(),
        "n1",
        Arc::new(clock.clone()),
        None,
    )
    .unwrap();
    d.start().unwrap();
    let queue = dir.path().join("spool/TOSEND");
    let job = |number: &str, line: &str| {
        format!("$fax_phone {number}\n$fax_filename page.txt\n$fax_send_line {line}\n")
    };
    std::fs::write(queue.join("1.FS"), job("555 0201", "1")).unwrap();
    std::fs::write(queue.join("2.FS"), job("5550300", "1")).unwrap();
    std::fs::write(queue.join("3.FS"), job("5550100", "2")).unwrap();
    d.rescan();
    d.run_hybrid(&clock, 1000).await;
    let cfg = SystemConfig::load(&cfg_path).unwrap();
    let sent = dir.path().join("spool/SENT");
    let fail = dir.path().join("spool/FAIL");
    assert_eq!(store::list_jobs(&sent).unwrap(), ["1.FS"]);
    let mut failed = store::list_jobs(&fail).unwrap();
    failed.sort();
    assert_eq!(failed, ["2.FS", "3.FS"]);
    let calls = calls_on_lines(&[sent.join("1.FS"), fail.join("2.FS"), fail.join("3.FS")]);
    // Busy, busy, then the fax machine answers: B1 after 1 minute, B2 after 2.
    assert_records_follow_the_engine(
        &sent.join("1.FS"),
        &cfg,
        &[(2, 'B'), (2, 'B'), (0, 'S')],
        &calls,
    );
    // No answer: one retry after 5 minutes, then the A list is exhausted.
    assert_records_follow_the_engine(&fail.join("2.FS"), &cfg, &[(1, 'A'), (1, 'Z')], &calls);
    // Modem 2 has no dial tone: D, D, then the D list is exhausted.
    assert_records_follow_the_engine(
        &fail.join("3.FS"),
        &cfg,
        &[(4, 'D'), (4, 'D'), (4, 'Z')],
        &calls,
    );
    d.shutdown();
    let _ = stop.send(());
    rack.await.unwrap();
    // hw-sim's own log agrees: four calls on modem 0 and three on modem 1.
    let log = std::fs::read_to_string(rack_dir.join("calls.jsonl")).unwrap();
    let per_modem = |m: u32| {
        log.lines()
            .filter(|l| l.contains(&format!("\"modem\":{m},")))
            .count()
    };
    assert_eq!((per_modem(0), per_modem(1)), (5, 3), "{log}");
}
