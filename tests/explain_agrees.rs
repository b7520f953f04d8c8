//! The daemon and `redial explain` agree: a property test runs campaigns on a virtual clock (sim
//! lines, generated outcome sequences, a list tied to one line, a pause window), then replays
//! every attempt of every job through the real `redial explain` binary, given the job as it was
//! when that attempt ended and the line it was made on, and checks that explain names the
//! instant the daemon dialled next (or the end the job came to).

mod common;

use chrono::{Duration, NaiveDateTime, TimeZone, Utc};
use common::inproc::node;
use proptest::prelude::*;
use redial::command::Document;
use redial::daemon::clock::ManualClock;
use redial::spool::{store, Layout};
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_redial");

fn cfg(sims: &str) -> String {
    format!(
        "$request_dir spool 1\n$timezone UTC\n\
         $retry_delays B \"1 2 3\"\n$retry_delays A \"2 2\"\n$retry_delays 3 B \"4 4 4\"\n$retry_delays 3 A \"5 5\"\n\
         $pause_window \"*\" 09:05 09:07\n\
         $line 1 sim\n$line 2 sim\n$line 3 sim\n{sims}"
    )
}

/// The job as it stood when its k-th attempt (0-based) ended: its own lines, the records before
/// that attempt, and the claim (`$fax_status1 3 LINE`, `$fax_tosend`).
fn as_it_was(original: &str, records: &[String], k: usize, line: &str, tosend: &str) -> String {
    let mut s = original.to_string();
    for r in &records[..k] {
        s.push_str(r);
        s.push('\n');
    }
    s.push_str(&format!("$fax_status1 3 {line}\n$fax_tosend {tosend}\n"));
    s
}

fn explain(file: &Path, cfg: &Path, now: &str, code: &str, line: &str) -> serde_json::Value {
    let out = std::process::Command::new(BIN)
        .arg("explain")
        .arg(file)
        .arg("--cfg")
        .arg(cfg)
        .args(["--now", now, "--outcome", code, "--line", line])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn run(seqs: &[Vec<u32>]) {
    store::set_durable(false);
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let mut sims = String::new();
    for (i, seq) in seqs.iter().enumerate() {
        let list: Vec<String> = seq.iter().map(|c| format!("{c}@{}", 3 + i)).collect();
        sims.push_str(&format!("$sim_number 55501{i:02} \"{}\"\n", list.join(" ")));
    }
    std::fs::write(base.join("redial.cfg"), cfg(&sims)).unwrap();
    let layout = Layout::new(base.join("spool"), 1);
    layout.create(None).unwrap();
    let mut originals = Vec::new();
    for i in 0..seqs.len() {
        let text = format!("$fax_phone 55501{i:02}\n");
        std::fs::write(layout.queue_dir(0).join(format!("{:08}.FS", i + 1)), &text).unwrap();
        originals.push(text);
    }
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap());
    let (mut d, _events) = node(base, "n1", &clock);
    d.start().unwrap();
    d.run_virtual(&clock, 10_000);
    let scratch = base.join("replay.FS");
    for (i, original) in originals.iter().enumerate() {
        let name = format!("{:08}.FS", i + 1);
        let (place, path) = [layout.sent(), layout.fail()]
            .into_iter()
            .map(|d| (d.clone(), d.join(&name)))
            .find(|(_, p)| p.exists())
            .unwrap_or_else(|| panic!("{name} did not finish"));
        let text = std::fs::read_to_string(&path).unwrap();
        let doc = Document::parse(text.as_bytes(), &name).unwrap();
        let recs: Vec<Vec<String>> = doc
            .all("attempt_record")
            .map(|c| c.texts().iter().map(|s| s.to_string()).collect())
            .collect();
        let raw: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("$attempt_record"))
            .map(str::to_string)
            .collect();
        for (k, r) in recs.iter().enumerate() {
            let start =
                NaiveDateTime::parse_from_str(&format!("{} {}", r[0], r[1]), "%m/%d/%Y %H:%M:%S")
                    .unwrap()
                    .and_utc();
            let ended = start + Duration::seconds(r[12].parse().unwrap());
            let line = r[10].trim_start_matches('S');
            std::fs::write(&scratch, as_it_was(original, &raw, k, line, &r[8])).unwrap();
            let v = explain(
                &scratch,
                &base.join("redial.cfg"),
                &ended.to_rfc3339(),
                &r[5],
                line,
            );
            match recs.get(k + 1) {
                Some(next) => {
                    let at = NaiveDateTime::parse_from_str(
                        &format!("{} {}", next[0], next[1]),
                        "%m/%d/%Y %H:%M:%S",
                    )
                    .unwrap()
                    .and_utc();
                    assert_eq!(
                        v["action"],
                        "retry",
                        "{name} attempt {}: {v}\n{text}",
                        k + 1
                    );
                    assert_eq!(
                        v["at"].as_str().unwrap(),
                        at.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
                        "{name} attempt {}: {v}\n{text}",
                        k + 1
                    );
                }
                None => {
                    let want = if place == layout.sent() {
                        "done"
                    } else {
                        "fail"
                    };
                    assert_eq!(v["action"], want, "{name} last attempt: {v}\n{text}");
                }
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, failure_persistence: None, ..ProptestConfig::default() })]
    #[test]
    fn daemon_runs_replay_through_explain(
        seqs in proptest::collection::vec(
            proptest::collection::vec(prop_oneof![Just(0u32), Just(1u32), Just(2u32)], 1..5),
            1..4,
        )
    ) {
        run(&seqs);
    }
}
