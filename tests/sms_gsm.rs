//! SMS through a GSM modem end to end: a real `redial run` node sends SMS jobs over AT to
//! hw-sim's GSM modems on real ptys, and the modem's `+CDS` status reports settle them.
//! Covers: a 7-bit SMS delivered once its report comes (after a delay); a long UCS-2 text in
//! concatenated parts, each part's reference kept and every part reported; a temporary
//! `+CMS ERROR` then retried; a permanent `+CMS ERROR` and a permanent report status failing at
//! once; a line whose modem is not registered waiting (nothing sent through it); a wrong PIN
//! taking its line down after one try (the SIM keeps two tries, and the
//! restarted node does not try that PIN again); and a report
//! that arrives after the node was killed (SIGKILL) while the job waited, matched after the
//! start. Then gammu (a real SMS tool) identifies hw-sim's GSM modem and sends through it.

mod common;

use common::hwsim::rack;
use common::spool::{jobs_in, scratch, start, wait_until};
use redial::command::Document;
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

const SCENARIO: &str = r#"
[[gsm]]
index = 0
report_delay = 0.5

[[gsm.sms]]
number = "+15550003"
errors = [42]

[[gsm.sms]]
number = "+15550004"
status = 0x41

[[gsm.sms]]
number = "+15550005"
errors = [1]

[[gsm.sms]]
number = "+15550006"
report_delay = 4

[[gsm]]
index = 1
pin = "1234"

[[gsm]]
index = 2
registration = 2
"#;

/// Every record hw-sim's GSM modems logged.
fn sms_log(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("sms.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The messages hw-sim's modem took for `to` (part records), in order.
fn taken(dir: &Path, to: &str) -> Vec<Value> {
    sms_log(dir)
        .into_iter()
        .filter(|r| r["kind"] == "sms" && r["to"] == to)
        .collect()
}

/// `(outcome, class, boardline, answerback)` of every attempt record.
fn records(path: &Path) -> Vec<(String, String, String, String)> {
    let d = Document::parse(&std::fs::read(path).unwrap(), "job").unwrap();
    d.all("attempt_record")
        .map(|c| {
            let a = |i: usize| c.arg(i).unwrap_or("").to_string();
            (a(5), a(6), a(10), a(14))
        })
        .collect()
}

fn pending(path: &Path) -> Option<Vec<String>> {
    let d = Document::parse(&std::fs::read(path).ok()?, "job").ok()?;
    d.last("sms_pending")
        .map(|c| c.texts().iter().map(|s| s.to_string()).collect())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sms_jobs_through_hw_sim_gsm_modems() {
    let work = tempfile::tempdir().unwrap();
    let sim = rack(&work.path().join("rack"), 3, SCENARIO, 1.0).await;
    let pin = work.path().join("pin");
    std::fs::write(&pin, "4321\n").unwrap();
    let cfg = format!(
        "$request_dir spool 2\n$timezone UTC\n$node_lease 1 5\n\
         $line 1 {} type=sms timeout=10\n\
         $line 2 {} type=sms pin_file={}\n\
         $line 3 {} type=sms\n",
        sim.tty(0).display(),
        sim.tty(1).display(),
        pin.display(),
        sim.tty(2).display()
    );
    let d = scratch(&cfg);
    let root = d.path().to_path_buf();
    let rack_dir = sim.dir.clone();
    let q = root.join("spool/TOSEND");
    let job = |name: &str, number: &str, text: &str, extra: &str| {
        std::fs::write(
            q.join(name),
            format!("$sms_phone {number}\n$sms_text \"{text}\"\n{extra}"),
        )
        .unwrap();
    };
    let long = "Привет, мир! Ваш код 4711. ".repeat(8);
    job("ok.FS", "+15550001", "Your code is 4711 {ok} 5€", "");
    job("long.FS", "+15550002", &long, "");
    job(
        "temporary.FS",
        "+15550003",
        "try again",
        "$retry_delays D \"1S\"\n",
    );
    job("report_failed.FS", "+15550004", "refused later", "");
    job("unassigned.FS", "+15550005", "nobody", "");
    let (sent, fail) = (root.join("spool/SENT"), root.join("spool/FAIL"));

    let outcome = tokio::task::spawn_blocking(move || {
        let logs = |root: &Path| {
            format!(
                "--- node\n{}\n--- sms.jsonl\n{}",
                std::fs::read_to_string(root.join("a.log")).unwrap_or_default(),
                std::fs::read_to_string(rack_dir.join("sms.jsonl")).unwrap_or_default()
            )
        };
        let node = start(&root, "a");
        let done = wait_until(Duration::from_secs(40), || {
            jobs_in(&sent).len() + jobs_in(&fail).len() == 5
        });
        assert!(
            done,
            "SENT {:?} FAIL {:?}\n{}",
            jobs_in(&sent),
            jobs_in(&fail),
            logs(&root)
        );
        assert_eq!(
            jobs_in(&sent),
            ["long.FS", "ok.FS", "temporary.FS"],
            "{}",
            logs(&root)
        );
        assert_eq!(
            jobs_in(&fail),
            ["report_failed.FS", "unassigned.FS"],
            "{}",
            logs(&root)
        );

        // 7-bit (the € from the extension table), a status report requested, delivered.
        let t = taken(&rack_dir, "+15550001");
        assert_eq!(t.len(), 1, "{t:?}");
        assert_eq!(t[0]["text"], "Your code is 4711 {ok} 5€");
        assert_eq!(
            (t[0]["coding"].as_str(), t[0]["status_report"].as_bool()),
            (Some("gsm7"), Some(true))
        );
        let r = records(&sent.join("ok.FS"));
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            (r[0].0.as_str(), r[0].1.as_str(), r[0].2.as_str()),
            ("400", "S", "G1")
        );
        assert!(
            r[0].3.starts_with("id=1.ok.FS") && r[0].3.ends_with("status=GSM:00"),
            "{r:?}"
        );

        // UCS-2 in parts: one reference, parts in order, the text whole again.
        let t = taken(&rack_dir, "+15550002");
        let n = long.encode_utf16().count().div_ceil(67);
        assert_eq!(t.len(), n, "{t:?}");
        assert!(t
            .iter()
            .all(|p| p["coding"] == "ucs2" && p["parts"] == n && p["ref"] == t[0]["ref"]));
        let joined: String = t.iter().map(|p| p["text"].as_str().unwrap()).collect();
        assert_eq!(joined, long);
        assert_eq!(records(&sent.join("long.FS"))[0].0, "400");

        // A temporary +CMS ERROR (42, congestion), retried by $retry_delays D, then delivered.
        let r = records(&sent.join("temporary.FS"));
        let got: Vec<(&str, &str)> = r.iter().map(|x| (x.0.as_str(), x.1.as_str())).collect();
        assert_eq!(got, [("420", "D"), ("400", "S")], "{r:?}");
        assert!(r[0].3.contains("+CMS ERROR: 42"), "{r:?}");
        assert_eq!(
            taken(&rack_dir, "+15550003").len(),
            1,
            "sent once the error passed"
        );

        // Permanent: a report with TP-ST 0x41, and +CMS ERROR 1 (unassigned number).
        let r = records(&fail.join("report_failed.FS"));
        assert_eq!(
            (r.len(), r[0].0.as_str(), r[0].1.as_str()),
            (1, "422", "Z"),
            "{r:?}"
        );
        let r = records(&fail.join("unassigned.FS"));
        assert_eq!(
            (r.len(), r[0].0.as_str(), r[0].1.as_str()),
            (1, "421", "Z"),
            "{r:?}"
        );

        // The wrong PIN: one try, the line down with its reason, the SIM still has two tries.
        let pins: Vec<Value> = sms_log(&rack_dir)
            .into_iter()
            .filter(|r| r["kind"] == "pin")
            .collect();
        assert_eq!(pins.len(), 1, "{pins:?}");
        assert_eq!(
            (
                pins[0]["ok"].as_bool(),
                pins[0]["pin_tries_left"].as_u64(),
                pins[0]["sim"].as_str()
            ),
            (Some(false), Some(2), Some("SIM PIN"))
        );
        let log = logs(&root);
        assert!(
            log.contains("GSM line down") && log.contains("the SIM refused the PIN from pin_file="),
            "{log}"
        );
        assert!(
            sms_log(&rack_dir)
                .iter()
                .all(|r| r["modem"] == 0 || r["kind"] == "pin"),
            "lines 2 and 3 sent nothing"
        );
        // Line 3's modem is searching for a network: the line waits, said once.
        let waits = log
            .matches("network: searching for a network (+CREG stat 2)")
            .count();
        assert_eq!(waits, 1, "{log}");

        // A report after a restart: the job waits with its reference, the node is killed, the
        // modem reports while no node is there or after the start, and the new node matches it.
        std::fs::write(
            root.join("spool/TOSEND/restart.FS"),
            "$sms_phone +15550006\n$sms_text \"after the restart\"\n",
        )
        .unwrap();
        let q = root.join("spool/TOSEND");
        assert!(
            wait_until(Duration::from_secs(20), || pending(&q.join("restart.FS"))
                .is_some()),
            "{}",
            logs(&root)
        );
        drop(node); // SIGKILL
        let p = pending(&q.join("restart.FS")).unwrap();
        assert_eq!(p[0], "1.restart.FS");
        assert!(
            p[5].starts_with("mr="),
            "the reference is kept in the job: {p:?}"
        );
        assert!(!sent.join("restart.FS").exists());
        let _node = start(&root, "a");
        assert!(
            wait_until(Duration::from_secs(30), || sent.join("restart.FS").exists()),
            "{}",
            logs(&root)
        );
        let r = records(&sent.join("restart.FS"));
        assert_eq!((r.len(), r[0].0.as_str()), (1, "400"), "{r:?}");
        assert_eq!(taken(&rack_dir, "+15550006").len(), 1, "never sent again");
        assert_eq!(
            sms_log(&rack_dir)
                .iter()
                .filter(|r| r["kind"] == "pin")
                .count(),
            1,
            "the restarted node does not try the refused PIN again"
        );
        let log = logs(&root);
        assert!(
            log.contains("the SIM refused the PIN from pin_file= before"),
            "{log}"
        );
    })
    .await;
    sim.stop().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Runs gammu with `rc` and the arguments; its exit status and output (stdout then stderr).
fn gammu(rc: &Path, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new("gammu")
        .arg("-c")
        .arg(rc)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("gammu is installed (apt-get install gammu; .ci/run does)");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gammu_identifies_and_sends_through_hw_sim_gsm_modem() {
    let work = tempfile::tempdir().unwrap();
    let sim = rack(
        &work.path().join("rack"),
        1,
        "[[gsm]]\nindex = 0\nreport_delay = 0.2\n",
        1.0,
    )
    .await;
    let rc = work.path().join("gammurc");
    std::fs::write(
        &rc,
        format!(
            "[gammu]\ndevice = {}\nconnection = at\nlogfile = {}\nlogformat = textall\n",
            sim.tty(0).display(),
            work.path().join("gammu.log").display()
        ),
    )
    .unwrap();
    let (rack_dir, rc2, log) = (sim.dir.clone(), rc.clone(), work.path().join("gammu.log"));
    let outcome = tokio::task::spawn_blocking(move || {
        let trace = || std::fs::read_to_string(&log).unwrap_or_default();
        let (ok, out) = gammu(&rc2, &["identify"]);
        assert!(ok, "gammu identify failed:\n{out}\n{}", trace());
        assert!(
            out.contains("hw-sim") && out.contains("353456789012348"),
            "{out}"
        );
        assert!(out.contains("234150123456789"), "the SIM's IMSI: {out}");
        let text = "Hello from gammu: 100€ [ok]";
        let (ok, out) = gammu(&rc2, &["sendsms", "TEXT", "+15550100", "-text", text]);
        assert!(ok, "gammu sendsms failed:\n{out}\n{}", trace());
        assert!(out.contains("OK, message reference=0"), "{out}");
        let t = taken(&rack_dir, "+15550100");
        assert_eq!(t.len(), 1, "{t:?}");
        assert_eq!(t[0]["text"], text, "what hw-sim decoded is what gammu sent");
        assert_eq!(t[0]["coding"], "gsm7");
        // A text outside the 7-bit alphabet: gammu sends it as UCS-2 (-unicode).
        let text = "Привет из gammu";
        let (ok, out) = gammu(
            &rc2,
            &["sendsms", "TEXT", "+15550101", "-unicode", "-text", text],
        );
        assert!(ok, "gammu sendsms -unicode failed:\n{out}\n{}", trace());
        let t = taken(&rack_dir, "+15550101");
        assert_eq!(
            (t.len(), t[0]["text"].as_str(), t[0]["coding"].as_str()),
            (1, Some(text), Some("ucs2")),
            "{t:?}"
        );
    })
    .await;
    sim.stop().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}
