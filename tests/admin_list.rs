//! `redial list` at the process boundary, on a real spool holding a job in every state: the
//! state and its reason, the line and node of a call in progress, next starts in the CFG's time
//! zone, attempts and last outcome; each filter; `--json`. An `#[ignore]`d test measures it at
//! 100,000 jobs (see docs/operations.md for the command and the figure).

mod common;

use common::spool::*;
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output};

fn redial(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .args(["--cfg", "redial.cfg", "--now", "2026-03-02T09:00:00Z"])
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn rec(date: &str, code: u32, class: char) -> String {
    format!("$attempt_record {date} 10:00:00 1 0 1 {code} {class} 0 0 0 S1 0 5 0 \"\"\n")
}

/// A spool with one job in each state (CFG zone New York, line 1 of group `fax`).
fn spool() -> tempfile::TempDir {
    let dir = scratch(
        "$request_dir spool 2\n$timezone America/New_York\n$line 1 sim group=fax\n$retry_delays B \"60\"\n",
    );
    let root = dir.path().join("spool");
    let w = |p: &str, t: &str| {
        let p = root.join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, t).unwrap();
    };
    let job = |n: &str| format!("$fax_phone {n}\n$fax_filename page.txt\n");
    w("TOSEND/1.FS", &job("555 0100"));
    w(
        "TOSEND1/2.FS",
        &format!("{}$fax_send_date 01/01/2099\n", job("555 0102")),
    );
    w(
        "TOSEND/3.FS",
        &format!(
            "{}{}$fax_status1 2\n$fax_next_date 03/02/2026\n$fax_next_time 11:00:00\n",
            job("555 0103"),
            rec("03/02/2026", 2, 'B')
        ),
    );
    w("TOSEND/4.FS", &format!("{}$fax_hold 1\n", job("555 0104")));
    w(
        "TOSEND/5.FS",
        &format!("{}$fax_send_line fax2\n", job("555 0105")),
    );
    w(
        "ACTIVE/n1/6.FS",
        &format!("{}$fax_status1 3 2\n", job("555 0106")),
    );
    w(
        "ACTIVE/n1.lease",
        r#"{"node":"n1","pid":1,"renewed":"2026-03-02T09:00:00Z","stale_after":60,"draining":false,"lines":[{"line":2,"state":"busy","job":"6.FS"}],"generation":1,"host":""}"#,
    );
    w(
        "SENT/7.FS",
        &format!("{}{}", job("555 0107"), rec("02/27/2026", 0, 'S')),
    );
    w(
        "FAIL/8.FS",
        &format!(
            "{}{}$fail_reason \"busy list exhausted\"\n",
            job("555 0108"),
            rec("03/01/2026", 2, 'Z')
        ),
    );
    std::fs::write(dir.path().join("page.txt"), "x\n").unwrap();
    dir
}

fn rows(dir: &Path, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["list", "--json"];
    all.extend_from_slice(args);
    let o = redial(dir, &all);
    assert!(o.status.success(), "{args:?}: {}", text(&o));
    serde_json::from_slice::<Value>(&o.stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn jobs(dir: &Path, args: &[&str]) -> Vec<String> {
    rows(dir, args)
        .iter()
        .map(|r| r["job"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_state_with_its_reason() {
    let dir = spool();
    let all = rows(dir.path(), &[]);
    let by = |j: &str| all.iter().find(|r| r["job"] == j).unwrap().clone();
    let names: Vec<&str> = all.iter().map(|r| r["job"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        ["1.FS", "3.FS", "4.FS", "5.FS", "2.FS", "6.FS", "7.FS", "8.FS"]
    );
    assert_eq!(by("1.FS")["state"], "due");
    assert_eq!(by("2.FS")["state"], "scheduled");
    // Midnight in New York is 05:00 UTC; shown in the CFG's zone.
    assert_eq!(by("2.FS")["next"], "2099-01-01T05:00:00Z");
    assert_eq!(by("2.FS")["next_local"], "2099-01-01 00:00:00");
    assert_eq!(by("3.FS")["state"], "waiting_retry");
    assert_eq!(by("3.FS")["next_local"], "2026-03-02 11:00:00");
    assert_eq!(by("3.FS")["attempts"], 1);
    assert_eq!(by("3.FS")["last_code"], 2);
    assert_eq!(by("3.FS")["last_class"], "B");
    assert_eq!(by("4.FS")["state"], "held");
    assert!(by("4.FS")["detail"]
        .as_str()
        .unwrap()
        .contains("held by an operator"));
    assert_eq!(by("5.FS")["state"], "held");
    assert!(by("5.FS")["detail"].as_str().unwrap().contains("fax2"));
    assert_eq!(by("6.FS")["state"], "in_progress");
    assert_eq!(by("6.FS")["line"], 2);
    assert_eq!(by("6.FS")["node"], "n1");
    assert_eq!(by("7.FS")["state"], "sent");
    assert_eq!(by("8.FS")["state"], "failed");
    assert_eq!(by("8.FS")["fail_reason"], "busy list exhausted");
    // The text form: one line per job, with the same facts.
    let o = redial(dir.path(), &["list"]);
    let t = text(&o);
    assert!(o.status.success(), "{t}");
    assert_eq!(t.lines().count(), 9, "{t}");
    assert!(t.contains("in progress on line 2 (node n1)"), "{t}");
    assert!(t.contains("NEXT (America/New_York)"), "{t}");
    let line = t.lines().find(|l| l.starts_with("3.FS")).unwrap();
    assert!(
        line.contains("2026-03-02 11:00:00") && line.contains("2 B busy"),
        "{line}"
    );
}

#[test]
fn filters() {
    let dir = spool();
    let d = dir.path();
    assert_eq!(jobs(d, &["--state", "held"]), ["4.FS", "5.FS"]);
    assert_eq!(jobs(d, &["--state", "due,in-progress"]), ["1.FS", "6.FS"]);
    assert_eq!(jobs(d, &["--state", "queued", "--queue", "1"]), ["2.FS"]);
    assert_eq!(jobs(d, &["--queue", "0"]), ["1.FS", "3.FS", "4.FS", "5.FS"]);
    assert_eq!(jobs(d, &["--dest", "555*0107"]), ["7.FS"]);
    assert_eq!(jobs(d, &["--dest", "555-0108"]), ["8.FS"]);
    assert_eq!(jobs(d, &["--class", "busy"]), ["3.FS", "8.FS"]);
    assert_eq!(
        jobs(
            d,
            &[
                "--class",
                "S",
                "--since",
                "2026-02-27",
                "--until",
                "02/28/2026"
            ]
        ),
        ["7.FS"]
    );
    assert_eq!(
        jobs(d, &["--since", "2026-03-01", "--class", "B"]),
        ["3.FS", "8.FS"]
    );
    assert_eq!(
        jobs(d, &["--until", "2026-03-01", "--class", "B"]),
        ["8.FS"]
    );
    for (args, want) in [
        (vec!["--state", "nope"], "\"nope\" is not a state"),
        (vec!["--class", "xyz"], "is not an outcome class"),
        (vec!["--queue", "7"], "no such queue"),
        (vec!["--since", "yesterday"], "yesterday"),
    ] {
        let mut all = vec!["list"];
        all.extend(args.iter());
        let o = redial(d, &all);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains(want), "{args:?}: {}", text(&o));
    }
}

/// `cargo test --release --test admin_list -- --ignored --nocapture`: lists a spool of 100,000
/// queued jobs (10,000 of them with an attempt record) in a release build and prints the time.
#[test]
#[ignore]
fn speed_at_100k_jobs() {
    let dir = scratch("$request_dir spool 2\n$line 1 sim\n$retry_delays B \"60\"\n");
    let root = dir.path().join("spool");
    std::fs::write(dir.path().join("page.txt"), "x\n").unwrap();
    for i in 0..100_000u32 {
        let mut t = format!("$fax_phone 555 {:04}\n$fax_filename page.txt\n", i % 10_000);
        if i % 10 == 0 {
            t.push_str(&rec("03/02/2026", 2, 'B'));
            t.push_str("$fax_status1 2\n$fax_next_date 03/02/2026\n$fax_next_time 11:00:00\n");
        }
        std::fs::write(root.join("TOSEND").join(format!("{i:08}.FS")), t).unwrap();
    }
    for (what, args) in [
        ("all 100,000 jobs, JSON", vec!["list", "--json"]),
        ("all 100,000 jobs, text", vec!["list"]),
        (
            "--state waiting_retry (10,000 rows)",
            vec!["list", "--json", "--state", "waiting_retry"],
        ),
        (
            "--dest 555*0042 (10 rows)",
            vec!["list", "--json", "--dest", "555*0042"],
        ),
    ] {
        let t = std::time::Instant::now();
        let o = redial(dir.path(), &args);
        let secs = t.elapsed().as_secs_f64();
        assert!(o.status.success(), "{}", text(&o));
        eprintln!(
            "redial list at 100,000 queued jobs, {what}: {secs:.2} s ({} bytes out)",
            o.stdout.len()
        );
    }
}

/// A call in progress shows the step its line last reported (`ACTIVE/<node>.calls.json`,
/// written by the daemon): in `redial list` and on the web job page. A step left from another
/// attempt is not shown.
#[test]
fn a_call_in_progress_shows_its_live_step_in_list_and_on_the_web_page() {
    let dir = spool();
    let calls = dir.path().join("spool/ACTIVE/n1.calls.json");
    let step = |attempt: u32, step: &str| {
        format!(
            r#"{{"node":"n1","calls":[{{"job":"6.FS","attempt":{attempt},"line":2,"at":"2026-03-02T09:00:00Z","step":"{step}"}}]}}"#
        )
    };
    // 6.FS has no attempt record yet: its call is attempt 1.
    std::fs::write(&calls, step(3, "page 9/9 at 2400")).unwrap();
    let all = rows(dir.path(), &["--state", "in_progress"]);
    assert_eq!(all[0]["step"], Value::Null, "{all:?}");
    std::fs::write(&calls, step(1, "page 2/5 at 14400")).unwrap();
    let all = rows(dir.path(), &["--state", "in_progress"]);
    assert_eq!(all[0]["step"], "page 2/5 at 14400");
    assert_eq!(
        all[0]["detail"],
        "in progress on line 2 (node n1): page 2/5 at 14400"
    );
    let o = redial(dir.path(), &["list"]);
    assert!(text(&o).contains("page 2/5 at 14400"), "{}", text(&o));

    let token = "live-step-token-5678";
    let cfg = dir.path().join("redial.cfg");
    let mut c = std::fs::read_to_string(&cfg).unwrap();
    c.push_str(&format!("$web_token {token}\n"));
    std::fs::write(&cfg, c).unwrap();
    let (_web, addr) = common::web::start(dir.path(), &[], None);
    let (status, page) = common::web::get(&addr, "/job/6.FS", token);
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("on line 2, page 2/5 at 14400"),
        "the job page shows the live step:\n{page}"
    );
}

/// A node that died mid-call has no lease naming the line; the job's dialling mark (a hard link
/// beside it, `.<job>~L<line>~Q<queue>`) still does. A stale mark (another inode) does not.
#[test]
fn a_dead_nodes_call_shows_the_line_of_its_dialling_mark() {
    let dir = scratch("$request_dir spool 2\n$line 3 sim\n");
    let active = dir.path().join("spool/ACTIVE/n2");
    std::fs::create_dir_all(&active).unwrap();
    std::fs::write(dir.path().join("page.txt"), "x\n").unwrap();
    let body = "$fax_phone 555 0109\n$fax_filename page.txt\n";
    std::fs::write(active.join("9.FS"), body).unwrap();
    std::fs::hard_link(active.join("9.FS"), active.join(".9.FS~L3~Q1")).unwrap();
    std::fs::write(active.join("10.FS"), body).unwrap();
    std::fs::write(active.join(".10.FS~L1~Q0"), body).unwrap();
    let all = rows(dir.path(), &[]);
    let by = |j: &str| all.iter().find(|r| r["job"] == j).unwrap().clone();
    assert_eq!(all.len(), 2, "marks are not jobs: {all:?}");
    assert_eq!(by("9.FS")["state"], "in_progress");
    assert_eq!(by("9.FS")["line"], 3);
    assert_eq!(by("9.FS")["node"], "n2");
    assert_eq!(by("10.FS")["state"], "in_progress");
    assert_eq!(by("10.FS")["line"], Value::Null);
}
