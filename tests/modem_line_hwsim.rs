//! The modem line against hw-sim over real pseudo-terminals: the real serial code (tokio-serial)
//! talking to the independent simulator. Faxes arrive and decode equal to the source; call
//! progress maps to the outcome codes; wedged and vanished modems are isolated.

use redial::fax::{load_document, read_tiff, render_text, Resolution};
use redial::line::documents::DocumentCache;
use redial::line::modem::{run_call, run_call_with, ModemLine, ModemSettings};
use redial::line::{Call, CallResult, Line, LineDef, Report};
use redial::retry::outcome::Channel;
use redial_sim::rack::{run, RackConfig};
use redial_sim::scenario::Scenario;
use std::path::{Path, PathBuf};
use std::time::Duration;

const SCENARIO: &str = r#"
[defaults]
unknown = { kind = "no-answer" }

[[number]]
number = "5550100"
outcome = { kind = "fax", rings = 1, csi = "REDIAL TEST" }

[[number]]
number = "5550110"
outcome = { kind = "fax", rings = 1, csi = "MR RECEIVER", dis = "1,5,0,2,1,0,0,0" }

[[number]]
number = "5550111"
outcome = { kind = "fax", rings = 1, csi = "ECM RECEIVER", dis = "1,5,0,2,1,2,0,0" }

[[number]]
number = "5550103"
outcome = { kind = "fax", rings = 1, rtn_pages = [2], rtn_times = 1 }

[[number]]
number = "5550104"
outcome = { kind = "fax", hangup = { phase = "B", code = 25 } }

[[number]]
number = "5550200"
outcome = { kind = "busy" }

[[number]]
number = "5550300"
outcome = { kind = "no-answer", rings = 1 }

[[number]]
number = "5550400"
outcome = { kind = "voice", rings = 1, greeting = 1.0, dtmf = [{ at = 1.6, digits = "42" }], gap = 0.3, hangup_after = 60.0 }

[[number]]
number = "5550401"
outcome = { kind = "machine", rings = 1, greeting = 12.0, beep = true, hangup_after = 60.0 }

[[number]]
number = "5550500"
outcome = { kind = "wedge" }

[[number]]
number = "5550501"
outcome = { kind = "vanish" }

[[modem]]
index = 3
fault = "no-dialtone"
"#;

/// Line time runs 20 times faster than the wall clock.
const SCALE: f64 = 0.05;

struct Rack {
    dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Rack {
    async fn start(name: &str, modems: usize) -> Rack {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("modem-line-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        let cfg = RackConfig {
            modems,
            dir: dir.clone(),
            scenario: Scenario::parse(SCENARIO).unwrap(),
            time_scale: SCALE,
            bps: 0,
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            run(cfg, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        for _ in 0..400 {
            if dir.join("ready").exists() {
                return Rack {
                    dir,
                    stop: Some(tx),
                    task,
                };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("hw-sim did not become ready");
    }

    fn settings(&self, modem: usize, extra: &[(&str, &str)]) -> ModemSettings {
        let mut params = vec![(
            "device".to_string(),
            self.dir
                .join(format!("ttySIM{modem}"))
                .display()
                .to_string(),
        )];
        params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ModemSettings::from_def(&LineDef {
            number: modem as u32 + 1,
            kind: "modem".into(),
            params,
            cfg_line: 1,
        })
        .unwrap()
    }

    async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.task.await.unwrap();
    }
}

fn fax_call(number: &str, documents: Vec<PathBuf>) -> Call {
    Call {
        job: "T.FS".into(),
        number: number.into(),
        channel: Channel::Fax,
        documents,
        message: None,
        attempt: 1,
        alternate: false,
        low_resolution: false,
        fax_speed: None,
        header: None,
        cover: None,
        email: None,
        sms: None,
    }
}

fn two_page_document(dir: &Path) -> PathBuf {
    let text = (1..=120)
        .map(|i| format!("line {i:3}: the quick brown fox jumps over the lazy dog 0123456789"))
        .collect::<Vec<_>>()
        .join("\n");
    let p = dir.join("order.txt");
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&p, text).unwrap();
    p
}

fn received(rack: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(rack.join("received"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_page_fax_arrives_equal_to_the_source_in_class_20_and_class_2() {
    let rack = Rack::start("fax", 2).await;
    let doc = two_page_document(&rack.dir.join("docs"));
    let source = load_document(&doc).unwrap();
    assert_eq!(source.len(), 2, "the test document is two pages");
    for (modem, class) in [(0, "2.0"), (1, "2")] {
        let before = received(&rack.dir).len();
        let r = run_call(
            &rack.settings(modem, &[("class", class), ("id", "REDIAL")]),
            &fax_call("555 0100", vec![doc.clone()]),
        )
        .await;
        assert_eq!(
            (r.code, r.pages, r.answerback.as_str()),
            (0, 2, "REDIAL TEST"),
            "class {class}: {r:?}"
        );
        assert!(r.baud >= 2400);
        let files = received(&rack.dir);
        assert!(
            files.len() > before,
            "class {class}: nothing stored in received/"
        );
        let got: Vec<_> = files[before..]
            .iter()
            .flat_map(|f| read_tiff(&std::fs::read(f).unwrap()).unwrap())
            .collect();
        assert_eq!(got.len(), 2, "class {class}: pages stored");
        for (i, (g, s)) in got.iter().zip(&source).enumerate() {
            let s = s.to_resolution(Resolution::Fine);
            assert_eq!(g.bitmap().width(), s.bitmap().width());
            assert_eq!(
                g.bitmap().height(),
                s.bitmap().height(),
                "class {class} page {}",
                i + 1
            );
            assert!(
                g.bitmap() == s.bitmap(),
                "class {class} page {}: pixels differ",
                i + 1
            );
        }
    }
    // A receiver that takes 2-D coding gets MR pages, decoded equal as well.
    let before = received(&rack.dir).len();
    let r = run_call(
        &rack.settings(0, &[]),
        &fax_call("5550110", vec![doc.clone()]),
    )
    .await;
    assert_eq!((r.code, r.pages), (0, 2), "MR: {r:?}");
    let files = received(&rack.dir);
    let got: Vec<_> = files[before..]
        .iter()
        .flat_map(|f| read_tiff(&std::fs::read(f).unwrap()).unwrap())
        .collect();
    for (g, s) in got.iter().zip(&source) {
        assert!(
            g.bitmap() == s.to_resolution(Resolution::Fine).bitmap(),
            "MR page differs"
        );
    }
    let _ = render_text;
    rack.stop().await;
}

/// The node's lines share one document cache: a document sent on many calls is read, rendered
/// and encoded once, and what arrives is the same as from a fresh preparation, in MH and in MR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_sent_twice_is_prepared_once_and_arrives_equal_both_times() {
    let rack = Rack::start("cached", 2).await;
    let doc = two_page_document(&rack.dir.join("docs"));
    let source = load_document(&doc).unwrap();
    let cache = DocumentCache::default();
    for (modem, number) in [(0, "5550100"), (1, "5550110")] {
        let before = received(&rack.dir).len();
        let r = run_call_with(
            &rack.settings(modem, &[]),
            &fax_call(number, vec![doc.clone()]),
            &cache,
        )
        .await;
        assert_eq!((r.code, r.pages), (0, 2), "{number}: {r:?}");
        let files = received(&rack.dir);
        let got: Vec<_> = files[before..]
            .iter()
            .flat_map(|f| read_tiff(&std::fs::read(f).unwrap()).unwrap())
            .collect();
        assert_eq!(got.len(), 2, "{number}: pages stored");
        for (g, s) in got.iter().zip(&source) {
            assert!(
                g.bitmap() == s.to_resolution(Resolution::Fine).bitmap(),
                "{number}: a page differs"
            );
        }
    }
    assert_eq!(
        cache.counts(),
        (1, 1),
        "prepared once, served from the cache once"
    );
    rack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn call_progress_and_fax_failures_map_to_outcome_codes() {
    let rack = Rack::start("progress", 4).await;
    let doc = two_page_document(&rack.dir.join("docs"));
    let s = rack.settings(0, &[]);
    let code = |r: CallResult| r.code;
    assert_eq!(
        code(run_call(&s, &fax_call("5550200", vec![doc.clone()])).await),
        2,
        "busy"
    );
    assert_eq!(
        code(run_call(&s, &fax_call("5550300", vec![doc.clone()])).await),
        1,
        "no answer"
    );
    assert_eq!(
        code(
            run_call(
                &rack.settings(3, &[]),
                &fax_call("5550100", vec![doc.clone()])
            )
            .await
        ),
        4,
        "modem 3 has no dial tone"
    );
    let r = run_call(&s, &fax_call("5550104", vec![doc.clone()])).await;
    assert_eq!((r.code, r.pages), (1025, 0), "phase B hang-up");
    let r = run_call(&s, &fax_call("5550103", vec![doc.clone()])).await;
    assert_eq!(
        (r.code, r.pages),
        (0, 2),
        "page 2 rejected once, resent, accepted: {r:?}"
    );
    let missing = run_call(&s, &fax_call("5550100", vec![rack.dir.join("nope.tif")])).await;
    assert_eq!(missing.code, 30);
    rack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn voice_calls_report_dtmf_and_person_or_machine() {
    let rack = Rack::start("voice", 1).await;
    let wav = rack.dir.join("msg.ul");
    // Five seconds of line time: the digits are pressed while the message plays.
    std::fs::write(&wav, vec![0xffu8; 40_000]).unwrap();
    let s = rack.settings(0, &[("amd_greeting", "0.2"), ("amd_timeout", "2")]);
    let call = |n: &str| Call {
        job: "V.FS".into(),
        number: n.into(),
        channel: Channel::Voice,
        documents: vec![],
        message: Some(wav.display().to_string()),
        attempt: 1,
        alternate: false,
        low_resolution: false,
        fax_speed: None,
        header: None,
        cover: None,
        email: None,
        sms: None,
    };
    let r = run_call(&s, &call("5550400")).await;
    assert_eq!((r.code, r.answerback.as_str()), (300, "42"), "{r:?}");
    let r = run_call(&s, &call("5550401")).await;
    assert_eq!(r.code, 302, "{r:?}");
    rack.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wedged_and_vanished_modems_are_taken_out_of_service_while_others_work() {
    let rack = Rack::start("broken", 3).await;
    let doc = two_page_document(&rack.dir.join("docs"));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // A wedged modem is noticed when the dial command gets no result (here within 3 s).
    let fast = [("dial_timeout", "3"), ("command_timeout", "2")];
    let mut wedged = ModemLine::new(1, rack.settings(0, &fast));
    let mut vanished = ModemLine::new(2, rack.settings(1, &fast));
    let mut healthy = ModemLine::new(3, rack.settings(2, &[]));
    let now = chrono::Utc::now();
    wedged.place(&fax_call("5550500", vec![doc.clone()]), now, &tx);
    vanished.place(&fax_call("5550501", vec![doc.clone()]), now, &tx);
    healthy.place(&fax_call("5550100", vec![doc.clone()]), now, &tx);
    let mut results = std::collections::BTreeMap::new();
    let mut steps: std::collections::BTreeMap<u32, Vec<String>> = Default::default();
    while results.len() < 3 {
        let (line, r) = tokio::time::timeout(Duration::from_secs(60), rx.recv())
            .await
            .expect("all three calls end")
            .unwrap();
        match r {
            Report::Done(r) => {
                results.insert(line, r.code);
            }
            Report::Progress(p) => {
                assert!(!results.contains_key(&line), "a step after the result");
                steps.entry(line).or_default().push(p.to_string());
            }
        }
    }
    // The healthy line reported each step of its call as it happened, before its result.
    assert_eq!(
        steps[&3],
        [
            "dialling",
            "connected",
            "page 1/2 at 14400",
            "page 1/2 confirmed",
            "page 2/2 at 14400",
            "page 2/2 confirmed"
        ]
    );
    assert_eq!(results.get(&3), Some(&0), "the healthy line sent its fax");
    assert_eq!(results.get(&1), Some(&34), "wedged: no response");
    assert_eq!(results.get(&2), Some(&35), "vanished: device gone");
    assert!(!wedged.is_up() && !vanished.is_up() && healthy.is_up());
    rack.stop().await;
}

/// The pages' codings hw-sim logged for calls made after `skip` calls (`"MH"` / `"MR"`).
fn logged_codings(rack: &Path, skip: usize) -> Vec<String> {
    std::fs::read_to_string(rack.join("calls.jsonl"))
        .unwrap()
        .lines()
        .skip(skip)
        .flat_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["pages"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["coding"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// 2-D coding in Class 2.0 (`+FCC`/`+FIS` df) and Class 2 (`+FDCC`/`+FDIS` df): a receiver
/// that offers it negotiates DF=1 (hw-sim's `+FCS`), the pages go MR-coded (hw-sim decodes them
/// as MR and logs so) and arrive pixel-equal, at fine (K=4) and standard (K=2) resolution;
/// `mr=no` offers DF=0 and sends MH.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_d_is_negotiated_in_class_20_and_class_2_and_mr_no_sends_mh() {
    let rack = Rack::start("mr", 2).await;
    let doc = two_page_document(&rack.dir.join("docs"));
    let source = load_document(&doc).unwrap();
    for (calls, (modem, class, mr, low, coding)) in [
        (0, "2.0", "yes", false, "MR"),
        (1, "2", "yes", false, "MR"),
        (0, "2.0", "no", true, "MH"),
        (0, "2.0", "yes", true, "MR"),
        (0, "2.0", "no", false, "MH"),
        (1, "2", "no", false, "MH"),
    ]
    .into_iter()
    .enumerate()
    {
        let what = format!("class {class} mr={mr} standard={low}");
        let before = received(&rack.dir);
        let call = Call {
            low_resolution: low,
            ..fax_call("5550110", vec![doc.clone()])
        };
        let r = run_call(
            &rack.settings(modem, &[("class", class), ("mr", mr)]),
            &call,
        )
        .await;
        assert_eq!((r.code, r.pages, r.scheduled), (0, 2, 2), "{what}: {r:?}");
        assert_eq!(logged_codings(&rack.dir, calls), [coding, coding], "{what}");
        let resolution = if low {
            Resolution::Standard
        } else {
            Resolution::Fine
        };
        // New files only (names sort by modem, then call: not in call order across modems).
        let got: Vec<_> = received(&rack.dir)
            .iter()
            .filter(|f| !before.contains(f))
            .flat_map(|f| read_tiff(&std::fs::read(f).unwrap()).unwrap())
            .collect();
        assert_eq!(got.len(), 2, "{what}");
        for (g, s) in got.iter().zip(&source) {
            let want = s.to_resolution(resolution);
            let rows = (0..want.bitmap().height().min(g.bitmap().height()))
                .filter(|y| g.bitmap().row(*y) != want.bitmap().row(*y))
                .collect::<Vec<_>>();
            assert!(
                g.bitmap() == want.bitmap(),
                "{what}: a page differs: {} vs {} rows, differing rows {:?}",
                g.bitmap().height(),
                want.bitmap().height(),
                &rows[..rows.len().min(10)]
            );
        }
    }
    rack.stop().await;
}

/// ECM in Class 2.0 (`+FCC`/`+FIS` ec) and Class 2 (`+FDCC`/`+FDIS` ec): `ecm=yes` offers
/// ec=2 (256-octet frames; `ecm_frame=64`: ec=1), a receiver offering ECM gets it (hw-sim's
/// `+FCS`/`+FDCS` echo the ec offered, its call record says `ecm`), and the session log names
/// what was negotiated; `ecm=no` offers ec=0, and a receiver without ECM gives ec=0 whatever
/// was offered. The pages arrive either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecm_is_offered_in_class_20_and_class_2_and_ecm_no_turns_it_off() {
    let rack = Rack::start("ecm", 2).await;
    let doc = two_page_document(&rack.dir.join("docs"));
    for (modem, class, ecm, frame, number, offered, got, said) in [
        (
            0,
            "2.0",
            "yes",
            "256",
            "5550111",
            2,
            2,
            "ECM with 256-octet frames",
        ),
        (
            1,
            "2",
            "yes",
            "256",
            "5550111",
            2,
            2,
            "ECM with 256-octet frames",
        ),
        (
            0,
            "2.0",
            "yes",
            "64",
            "5550111",
            1,
            1,
            "ECM with 64-octet frames",
        ),
        (0, "2.0", "no", "256", "5550111", 0, 0, "no ECM"),
        (1, "2", "no", "256", "5550111", 0, 0, "no ECM"),
        (0, "2.0", "yes", "256", "5550110", 2, 0, "no ECM"),
    ] {
        let what = format!("class {class} ecm={ecm} ecm_frame={frame} to {number}");
        let r = run_call(
            &rack.settings(
                modem,
                &[("class", class), ("ecm", ecm), ("ecm_frame", frame)],
            ),
            &fax_call(number, vec![doc.clone()]),
        )
        .await;
        let log = r.transcript.clone().unwrap_or_default();
        assert_eq!((r.code, r.pages), (0, 2), "{what}: {r:?}\n{log}");
        let (cc, is, cs) = if class == "2.0" {
            ("+FCC", "+FIS", "+FCS")
        } else {
            ("+FDCC", "+FDIS", "+FDCS")
        };
        for want in [
            format!("AT{cc}=1,5,0,2,1,{offered},0,0"),
            format!("AT{is}=1,5,0,2,1,{offered},0,0"),
            format!("{cs}:1,5,0,2,1,{got},0,0"),
            format!("session: 14400 bit/s, MR, {said}"),
        ] {
            assert!(log.contains(&want), "{what}: {want:?} missing:\n{log}");
        }
        let last: serde_json::Value = serde_json::from_str(
            std::fs::read_to_string(rack.dir.join("calls.jsonl"))
                .unwrap()
                .lines()
                .last()
                .unwrap(),
        )
        .unwrap();
        assert_eq!(last["ecm"], got > 0, "{what}: {last}");
        assert_eq!(last["pages"].as_array().map(Vec::len), Some(2), "{what}");
    }
    rack.stop().await;
}

/// A PDF with a header line (`$fax_header`) over Class 2.0: the pages that arrive are exactly
/// the pages the line prepares (`pages_for_line`, which `redial preview` writes), header
/// included, at fine and standard resolution; the header names the line's id and page N of M.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pdf_with_a_header_line_arrives_as_prepared() {
    use redial::line::documents::{pages_for_line, HeaderSpec};
    let rack = Rack::start("pdf-header", 1).await;
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pdf/letter-form.pdf");
    // No date or time in the format: the expected pages do not depend on the minute.
    let header = HeaderSpec {
        format: "%s|%n|Page %p of %P".into(),
        sender: "Acme Widgets".into(),
        station: None,
        recipient: "5550100".into(),
        tz: chrono_tz::UTC,
    };
    let cache = DocumentCache::default();
    for low_resolution in [false, true] {
        let resolution = if low_resolution {
            Resolution::Standard
        } else {
            Resolution::Fine
        };
        let prepared = cache.get(&doc, resolution).unwrap();
        let want = pages_for_line(
            std::slice::from_ref(&prepared),
            Some(&header),
            "REDIAL",
            chrono::Utc::now(),
        );
        assert_eq!(want.len(), 2);
        assert_ne!(want[0], prepared.pages[0], "the header is on the page");
        let before = received(&rack.dir).len();
        let call = Call {
            header: Some(header.clone()),
            low_resolution,
            ..fax_call("5550100", vec![doc.clone()])
        };
        let r = run_call_with(
            &rack.settings(0, &[("class", "2.0"), ("id", "REDIAL")]),
            &call,
            &cache,
        )
        .await;
        assert_eq!((r.code, r.pages), (0, 2), "{r:?}");
        let got: Vec<_> = received(&rack.dir)[before..]
            .iter()
            .flat_map(|f| read_tiff(&std::fs::read(f).unwrap()).unwrap())
            .collect();
        assert_eq!(got.len(), 2);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            // Compared at the resolution sent (the receiver's TIFF reader gives fine pages).
            let g = g.to_resolution(resolution);
            assert!(
                g.bitmap() == w.bitmap(),
                "{resolution:?} page {}: pixels differ from the prepared page",
                i + 1
            );
        }
    }
    rack.stop().await;
}
