//! redial's own Class 1 driver (the modem line with `class=1`: `src/line/modem.rs` running the
//! T.30 sender in `src/modem/t30`) against hw-sim's Class 1 modem over real pseudo-terminals.
//! hw-sim's remote receiver is an independent T.30 implementation: it offers what the scenario
//! says, judges the training, decodes every page and stores it in `received/`, and spoils
//! frames on request. No real-time audio: line time runs 50 times faster than the clock; only
//! redial's own T.30 timer (T4, 3 s) is real when a frame goes missing.

mod common;

use common::hwsim::{rack, Rack};
use redial::fax::{load_document, read_tiff, Page, Resolution};
use redial::line::modem::{run_call, ModemSettings};
use redial::line::{Call, CallResult, LineDef};
use redial::retry::outcome::Channel;
use std::path::{Path, PathBuf};

const SCENARIO: &str = r#"
[[number]]
number = "5551100"
outcome = { kind = "fax", rings = 1, csi = "C1 SIM" }

[[number]]
number = "5551101"
outcome = { kind = "fax", rings = 1, train_max = 9600 }

[[number]]
number = "5551102"
outcome = { kind = "fax", rings = 1, rtn_pages = [1], rtn_times = 1 }

[[number]]
number = "5551103"
outcome = { kind = "fax", rings = 1, rtn_pages = [2] }

[[number]]
number = "5551104"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,1,0,0,0" }

[[number]]
number = "5551105"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,3,2,0,0" }

[[number]]
number = "5551106"
outcome = { kind = "fax", rings = 1, drop = [{ frame = "MPS" }], garble = [{ frame = "MCF" }] }

[[number]]
number = "5551107"
outcome = { kind = "fax", rings = 1, drop = [{ frame = "DCS" }], garble = [{ frame = "DIS" }, { frame = "CFR" }] }

[[number]]
number = "5551108"
outcome = { kind = "fax", rings = 1, rtp_pages = [1] }

[[number]]
number = "5551109"
outcome = { kind = "fax", rings = 1, hangup = { phase = "B", code = 25 } }

[[number]]
number = "5551110"
outcome = { kind = "fax", rings = 1, hangup = { phase = "C", code = 43, page = 2 } }

[[number]]
number = "5551111"
outcome = { kind = "fax", rings = 1, hangup = { phase = "D", code = 52, page = 1 } }

[[number]]
number = "5551112"
outcome = { kind = "fax", rings = 1, dis = "0,3,0,2,0,0,0,0", csi = "LOW END" }

[[number]]
number = "5551113"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,3,1,0,0", csi = "ECM MMR" }

[[number]]
number = "5551114"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,3,1,0,0", bad_frames = [{ frame = 2, page = 1 }, { frame = 0, page = 2, times = 2 }, { frame = 5, page = 2 }] }

[[number]]
number = "5551115"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,1,1,0,0" }

[[number]]
number = "5551116"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,3,1,0,0", bad_frames = [{ frame = 1, page = 1, times = 6 }] }

[[number]]
number = "5551117"
outcome = { kind = "fax", rings = 1, dis = "1,0,0,2,3,1,0,0", bad_frames = [{ frame = 1, page = 1, times = 99 }] }

[[number]]
number = "5551119"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,3,1,0,0", hangup = { phase = "C", code = 43, page = 2 } }

[[number]]
number = "5551120"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,3,1,0,0", hangup = { phase = "D", code = 52, page = 1 } }

[[number]]
number = "5551121"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,3,1,0,0", bad_frames = [{ frame = 4, page = 1 }], drop = [{ frame = "PPS", page = 1 }], garble = [{ frame = "PPR" }, { frame = "MCF", page = 2 }] }

[[number]]
number = "5551122"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,3,1,0,0", rtn_pages = [1], rtn_times = 1 }

[[number]]
number = "5551118"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,3,1,0,0", rnr = 2 }

[[number]]
number = "5551123"
outcome = { kind = "fax", rings = 1, dis = "1,0,0,2,1,1,0,0", bad_frames = [{ frame = 1, page = 1, block = 0, always = true }] }

[[number]]
number = "5551124"
outcome = { kind = "fax", rings = 1, dis = "1,5,0,2,1,1,0,0", bad_frames = [{ frame = 3, page = 1, block = 1, always = true }], eor_rnr = 1 }
"#;

/// Line time runs 50 times faster than the wall clock (a dense fine page is about a minute of
/// line time at 14400 bit/s).
const SCALE: f64 = 0.02;

async fn start(name: &str) -> Rack {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("class1-hwsim-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    rack(&dir, 1, SCENARIO, SCALE).await
}

fn settings(rack: &Rack, extra: &[(&str, &str)]) -> ModemSettings {
    let mut params = vec![
        ("device".to_string(), rack.tty(0).display().to_string()),
        ("class".to_string(), "1".to_string()),
        ("id".to_string(), "+1 555 0001".to_string()),
    ];
    params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ModemSettings::from_def(&LineDef {
        number: 1,
        kind: "modem".into(),
        params,
        cfg_line: 1,
    })
    .unwrap()
}

fn fax_call(number: &str, doc: &Path) -> Call {
    Call {
        job: "C1.FS".into(),
        number: number.into(),
        channel: Channel::Fax,
        documents: vec![doc.to_path_buf()],
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

/// A two-page text document (and its pages as redial renders them).
fn two_pages(rack: &Rack) -> (PathBuf, Vec<Page>) {
    let text = (1..=120)
        .map(|i| format!("line {i:3}: Class 1 through hw-sim, the quick brown fox 0123456789"))
        .collect::<Vec<_>>()
        .join("\n");
    let p = rack.dir.join("order.txt");
    std::fs::write(&p, text).unwrap();
    let pages = load_document(&p).unwrap();
    assert_eq!(pages.len(), 2, "the test document is two pages");
    (p, pages)
}

/// The call records hw-sim wrote so far.
fn calls(rack: &Rack) -> Vec<serde_json::Value> {
    std::fs::read_to_string(rack.dir.join("calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The pages stored for the last call, decoded, with their codings.
fn last_call_pages(rack: &Rack) -> (serde_json::Value, Vec<Page>, Vec<String>) {
    let last = calls(rack).pop().expect("a call record");
    let mut pages = Vec::new();
    let mut codings = Vec::new();
    for p in last["pages"].as_array().unwrap() {
        let f = rack.dir.join(p["file"].as_str().unwrap());
        pages.extend(read_tiff(&std::fs::read(f).unwrap()).unwrap());
        codings.push(p["coding"].as_str().unwrap().to_string());
    }
    (last, pages, codings)
}

fn assert_equal(got: &[Page], sent: &[Page], what: &str) {
    assert_eq!(got.len(), sent.len(), "{what}: pages stored");
    for (i, (g, s)) in got.iter().zip(sent).enumerate() {
        let want = s.to_resolution(Resolution::Fine);
        assert!(
            g.bitmap() == want.bitmap(),
            "{what}: page {} differs ({}x{} vs {}x{})",
            i + 1,
            g.bitmap().width(),
            g.bitmap().height(),
            want.bitmap().width(),
            want.bitmap().height()
        );
    }
}

fn log_of(r: &CallResult) -> String {
    r.transcript.clone().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_fine_pages_in_class_1_arrive_pixel_equal() {
    let rack = start("two").await;
    let (doc, sent) = two_pages(&rack);
    let r = run_call(&settings(&rack, &[]), &fax_call("5551100", &doc)).await;
    assert_eq!(
        (r.code, r.pages, r.baud, r.answerback.as_str()),
        (0, 2, 14400, "C1 SIM"),
        "{r:?}\n{}",
        log_of(&r)
    );
    let (rec, got, codings) = last_call_pages(&rack);
    assert_eq!(rec["class"], "1");
    assert_eq!(rec["ended_by"], "normal end", "DCN after the last MCF");
    assert_eq!(
        rec["tsi"], "+1 555 0001",
        "the line's id= as the receiver read TSI"
    );
    assert_eq!(rec["trained_bps"], 14400);
    assert_eq!(rec["pages_rejected"], 0);
    assert_eq!(codings, ["MH", "MH"], "the default DIS offers no 2-D");
    assert_eq!(rec["pages"][0]["yres"], 196);
    assert_equal(&got, &sent, "fine");
    rack.stop().await;
}

/// The line carries 9600 bit/s at most: TCF at 14400 and 12000 gets FTT, redial steps down and
/// retrains until CFR, and the pages go at 9600.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ftt_steps_down_and_retrains_until_cfr() {
    let rack = start("ftt").await;
    let (doc, sent) = two_pages(&rack);
    let r = run_call(&settings(&rack, &[]), &fax_call("5551101", &doc)).await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages, r.baud), (0, 2, 9600), "{r:?}\n{log}");
    for step in ["FTT at V.17 14400", "FTT at V.17 12000", "CFR: trained at"] {
        assert!(log.contains(step), "{step:?} missing:\n{log}");
    }
    let (rec, got, _) = last_call_pages(&rack);
    assert_eq!(rec["trained_bps"], 9600, "the receiver confirmed 9600");
    assert_equal(&got, &sent, "after step-down");
    rack.stop().await;
}

/// RTN: redial retrains and sends the same page again (up to `page_retries`, default 2); a
/// page rejected every time ends the call with outcome 20 after 1 + 2 tries. RTP: the page
/// counts as received and redial retrains before the next one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rtn_resends_the_page_after_a_retrain_and_rtp_keeps_it() {
    let rack = start("rtn").await;
    let (doc, sent) = two_pages(&rack);
    let s = settings(&rack, &[]);
    let r = run_call(&s, &fax_call("5551102", &doc)).await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages), (0, 2), "{r:?}\n{log}");
    assert!(log.contains("page 1 rejected (RTN): retraining"), "{log}");
    let (rec, got, _) = last_call_pages(&rack);
    assert_eq!(rec["pages_rejected"], 1);
    assert_equal(&got, &sent, "page 1 resent");

    let r = run_call(&s, &fax_call("5551103", &doc)).await;
    assert_eq!((r.code, r.pages), (20, 1), "page 2 always rejected: {r:?}");
    let (rec, _, _) = last_call_pages(&rack);
    assert_eq!(
        (
            rec["pages_rejected"].as_u64(),
            rec["pages"].as_array().map(Vec::len)
        ),
        (Some(3), Some(1))
    );

    let r = run_call(&s, &fax_call("5551108", &doc)).await;
    assert_eq!((r.code, r.pages), (0, 2), "RTP: {r:?}\n{}", log_of(&r));
    let (_, got, _) = last_call_pages(&rack);
    assert_equal(&got, &sent, "after RTP");
    rack.stop().await;
}

/// A receiver offering 2-D gets MR pages (K=4 at fine), decoded equal by hw-sim; `mr=no` sends
/// MH to the same receiver. A receiver offering ECM and MMR too gets MR without ECM when the
/// line says `ecm=no`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mr_is_used_when_offered_and_mr_no_turns_it_off() {
    let rack = start("mr").await;
    let (doc, sent) = two_pages(&rack);
    for (number, mr, coding) in [
        ("5551104", "yes", "MR"),
        ("5551104", "no", "MH"),
        ("5551105", "yes", "MR"),
    ] {
        let what = format!("{number} mr={mr}");
        let r = run_call(
            &settings(&rack, &[("mr", mr), ("ecm", "no")]),
            &fax_call(number, &doc),
        )
        .await;
        assert_eq!((r.code, r.pages), (0, 2), "{what}: {r:?}\n{}", log_of(&r));
        let (rec, got, codings) = last_call_pages(&rack);
        assert_eq!(codings, [coding, coding], "{what}");
        assert_eq!(rec["ecm"], false, "{what}");
        assert!(!log_of(&r).contains("with ECM"), "{what}");
        assert_equal(&got, &sent, &what);
    }
    rack.stop().await;
}

/// A document of `n` dense pages (and its pages as redial renders them).
fn pages_doc(rack: &Rack, n: usize) -> (PathBuf, Vec<Page>) {
    let text = (1..=60 * n)
        .map(|i| format!("line {i:3}: ECM and MMR through hw-sim, the quick brown fox 0123456789"))
        .collect::<Vec<_>>()
        .join("\n");
    let p = rack.dir.join(format!("doc{n}.txt"));
    std::fs::write(&p, text).unwrap();
    let pages = load_document(&p).unwrap();
    assert_eq!(pages.len(), n, "the test document is {n} pages");
    (p, pages)
}

/// A receiver offering ECM and MMR: DCS asks for both, each page goes MMR-coded in numbered
/// 256-octet frames at 14400 with PPS-MPS/EOP, and all three fine pages arrive pixel-equal
/// (hw-sim decodes the assembled T.6 data). A receiver offering ECM with MR only gets MR in
/// ECM frames; `mr=no` sends MH in ECM frames; `ecm_frame=64` sends 64-octet frames.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_fine_pages_with_ecm_and_mmr_arrive_pixel_equal() {
    let rack = start("ecm").await;
    let (doc, sent) = pages_doc(&rack, 3);
    let r = run_call(&settings(&rack, &[]), &fax_call("5551113", &doc)).await;
    let log = log_of(&r);
    assert_eq!(
        (r.code, r.pages, r.baud, r.answerback.as_str()),
        (0, 3, 14400, "ECM MMR"),
        "{r:?}\n{log}"
    );
    let (rec, got, codings) = last_call_pages(&rack);
    assert_eq!(codings, ["MMR", "MMR", "MMR"]);
    assert_eq!(
        (rec["ecm"].as_bool(), rec["pprs"].as_u64()),
        (Some(true), Some(0))
    );
    assert_eq!(rec["ended_by"], "normal end");
    for step in ["ECM, MMR", "bytes MMR with ECM", "sending PPS"] {
        assert!(log.contains(step), "{step:?} missing:\n{log}");
    }
    assert_equal(&got, &sent, "ECM MMR");
    for (number, mr, frame, coding) in [
        ("5551115", "yes", "256", "MR"),
        ("5551113", "no", "256", "MH"),
        ("5551113", "yes", "64", "MMR"),
    ] {
        let what = format!("{number} mr={mr} ecm_frame={frame}");
        let r = run_call(
            &settings(&rack, &[("mr", mr), ("ecm_frame", frame)]),
            &fax_call(number, &doc),
        )
        .await;
        assert_eq!((r.code, r.pages), (0, 3), "{what}: {r:?}\n{}", log_of(&r));
        let (rec, got, codings) = last_call_pages(&rack);
        assert_eq!(codings, [coding, coding, coding], "{what}");
        assert_eq!(rec["ecm"], true, "{what}");
        let log = log_of(&r);
        assert!(log.contains(&format!("bytes {coding} with ECM")), "{what}");
        assert!(log.contains(&format!(" frames of {frame} in ")), "{what}");
        assert_equal(&got, &sent, &what);
    }
    rack.stop().await;
}

/// Frames spoilt on the line: the receiver's PPR lists them, redial resends only those (frame
/// 2 of page 1 once; frames 0 and 5 of page 2, frame 0 twice) and the pages still arrive
/// pixel-equal. Six bad transmissions of one frame: after four PPRs redial sends CTC and goes
/// on at 12000. A receiver with no slower speed left: the call ends with outcome 1050. A
/// receiver answering RNR twice gets RR until it answers. RTN after an ECM page: retrain and
/// send it again. Remote hang-ups in phase C and D with ECM map to the same outcomes as
/// without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_are_resent_after_ppr_and_ctc_steps_down() {
    let rack = start("ppr").await;
    let (doc, sent) = pages_doc(&rack, 2);
    let r = run_call(&settings(&rack, &[]), &fax_call("5551114", &doc)).await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages, r.baud), (0, 2, 14400), "{r:?}\n{log}");
    for step in [
        "PPR 1 for page 1 block 0: frames [2] to resend",
        "page 1 block 0: resending 1 of",
        "PPR 1 for page 2 block 0: frames [0, 5] to resend",
        "PPR 2 for page 2 block 0: frames [0] to resend",
    ] {
        assert!(log.contains(step), "{step:?} missing:\n{log}");
    }
    let (rec, got, _) = last_call_pages(&rack);
    assert_eq!(rec["pprs"], 3);
    assert_eq!(rec["pages_rejected"], 0);
    assert_equal(&got, &sent, "after PPR");

    // By default redial frames the frames itself (`ecm_hdlc=host`: one +FTM bit stream of
    // flags, frames with FCS and zero-bit insertion per transmission, as for a DCE whose +FTH
    // is V.21 only); `ecm_hdlc=modem` hands each frame to `+FTH=146` instead.
    assert!(log.contains("AT+FTM=146"), "{log}");
    assert!(!log.contains("AT+FTH=146"), "{log}");
    let r = run_call(
        &settings(&rack, &[("ecm_hdlc", "modem")]),
        &fax_call("5551114", &doc),
    )
    .await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages, r.baud), (0, 2, 14400), "{r:?}\n{log}");
    assert!(log.contains("AT+FTH=146"), "{log}");
    assert!(
        log.contains("PPR 2 for page 2 block 0: frames [0] to resend"),
        "{log}"
    );
    let (rec, got, _) = last_call_pages(&rack);
    assert_eq!(rec["pprs"], 3);
    assert_equal(&got, &sent, "modem HDLC, after PPR");

    let r = run_call(&settings(&rack, &[]), &fax_call("5551116", &doc)).await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages, r.baud), (0, 2, 12000), "{r:?}\n{log}");
    for step in [
        "4 PPRs at V.17 14400: CTC, continuing at V.17 12000",
        "CTR: continuing at V.17 12000",
    ] {
        assert!(log.contains(step), "{step:?} missing:\n{log}");
    }
    let (rec, got, _) = last_call_pages(&rack);
    assert_eq!(rec["pprs"], 6);
    assert_equal(&got, &sent, "after CTC");

    let r = run_call(&settings(&rack, &[]), &fax_call("5551117", &doc)).await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages), (1050, 0), "{r:?}\n{log}");
    assert!(
        log.contains("still bad after 4 PPRs at V.27ter 2400"),
        "{log}"
    );

    // A receiver not ready twice (RNR): redial asks with RR until it answers the PPS.
    let r = run_call(&settings(&rack, &[]), &fax_call("5551118", &doc)).await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages), (0, 2), "{r:?}\n{log}");
    assert!(
        log.contains("RNR: the receiver is not ready, asking with RR"),
        "{log}"
    );
    assert_eq!(log.matches("sending RR").count(), 2, "{log}");
    let (rec, got, _) = last_call_pages(&rack);
    assert_eq!(rec["rnrs"], 2);
    assert_equal(&got, &sent, "after RNR");

    // A PPS the receiver never hears (T4, PPS again), a PPR and an MCF spoilt on the line (PPS
    // again; the receiver repeats its answer without taking anything twice).
    let r = run_call(&settings(&rack, &[]), &fax_call("5551121", &doc)).await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages), (0, 2), "{r:?}\n{log}");
    for step in [
        "no response to PPS-NULL: repeating",
        "PPR 1 for page 1 block 0: frames [4] to resend",
        "no response to PPS-MPS: repeating",
    ] {
        assert!(log.contains(step), "{step:?} missing:\n{log}");
    }
    let (rec, got, _) = last_call_pages(&rack);
    assert_eq!(rec["pages_rejected"], 0);
    assert_equal(&got, &sent, "after lost PPS, spoilt PPR and MCF");

    // RTN after a whole ECM page (the receiver judged it bad once): DCS, training, and the
    // page again in frames.
    let r = run_call(&settings(&rack, &[]), &fax_call("5551122", &doc)).await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages), (0, 2), "{r:?}\n{log}");
    assert!(log.contains("page 1 rejected (RTN): retraining"), "{log}");
    assert_eq!(log.matches("page 1 block 0: ").count(), 2, "{log}");
    let (rec, got, _) = last_call_pages(&rack);
    assert_eq!(rec["pages_rejected"], 1);
    assert_equal(&got, &sent, "after RTN with ECM");

    // Remote hang-ups with ECM: silence from page 2's frames on (its PPS-EOP is never
    // answered: 1054, page 1 counted), DCN instead of the answer to page 1's PPS-MPS (1051).
    for (number, code, pages) in [("5551119", 1054, 1), ("5551120", 1051, 0)] {
        let r = run_call(&settings(&rack, &[]), &fax_call(number, &doc)).await;
        assert_eq!(
            (r.code, r.pages),
            (code, pages),
            "{number}: {r:?}\n{}",
            log_of(&r)
        );
        let rec = calls(&rack).pop().unwrap();
        assert!(
            rec["ended_by"]
                .as_str()
                .unwrap()
                .starts_with("remote hangup in phase"),
            "{number}: {rec}"
        );
    }
    rack.stop().await;
}

/// The stored page numbered `page` of the last call, decoded.
fn stored_page(rack: &Rack, page: u64) -> Option<Page> {
    let last = calls(rack).pop().expect("a call record");
    let p = last["pages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["page"] == page)?
        .clone();
    let f = rack.dir.join(p["file"].as_str().unwrap());
    read_tiff(&std::fs::read(f).unwrap()).unwrap().pop()
}

/// EOR (T.30 Annex A end of retransmission): a frame spoilt on every transmission.
///
/// At the lowest speed (a receiver offering 2400 only, ECM with MR) redial sends EOR-NULL
/// after the fourth PPR for page 1's first block, the receiver answers ERR, the frame is
/// abandoned and the call goes on: page 1's second block, then page 2, which arrives
/// pixel-equal; page 1 counts as sent, its abandoned frame in the session log and the result.
/// At 14400 the first four PPRs bring CTC (12000); when four more at 12000 leave the same frame
/// bad, CTC did not help, and EOR-MPS gives up that frame of the page's last block (the
/// receiver answers RNR once first: RR, then ERR). With MMR redial never sends EOR (everything
/// after a lost frame would be lost): that call ends in 1050, see the PPR test.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_bad_forever_is_abandoned_with_eor_and_the_call_goes_on() {
    let rack = start("eor").await;
    let (doc, sent) = pages_doc(&rack, 2);
    let want = |i: usize| sent[i].to_resolution(Resolution::Fine);

    let r = run_call(&settings(&rack, &[]), &fax_call("5551123", &doc)).await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages, r.baud), (0, 2, 2400), "{r:?}\n{log}");
    for step in [
        "bytes MR with ECM: ",
        "PPR 4 for page 1 block 0: frames [1] to resend",
        "EOR after 4 PPRs for page 1 block 0: frames [1] abandoned (no slower speed than V.27ter 2400)",
        "sending EOR",
        "ERR: page 1 block 0 goes on without frames [1]",
        "page 1 block 1: ",
        "page 2 confirmed",
        "2 page(s) sent; page 1 with 1 frame(s) abandoned after EOR",
    ] {
        assert!(log.contains(step), "{step:?} missing:\n{log}");
    }
    assert!(!log.contains("CTC"), "no CTC at the lowest speed:\n{log}");
    let rec = calls(&rack).pop().unwrap();
    assert_eq!(
        rec["eors"],
        serde_json::json!([{ "page": 1, "block": 0, "frames": [1] }]),
        "{rec}"
    );
    assert_eq!(rec["pages_rejected"], 0);
    let got = stored_page(&rack, 2).expect("page 2 stored");
    assert!(got.bitmap() == want(1).bitmap(), "page 2 differs");

    let r = run_call(&settings(&rack, &[]), &fax_call("5551124", &doc)).await;
    let log = log_of(&r);
    assert_eq!((r.code, r.pages, r.baud), (0, 2, 12000), "{r:?}\n{log}");
    for step in [
        "4 PPRs at V.17 14400: CTC, continuing at V.17 12000",
        "EOR after 4 PPRs for page 1 block 1: frames [3] abandoned (CTC did not help: 1 frame(s) still bad at V.17 12000)",
        "RNR: the receiver is not ready, asking with RR",
        "ERR: page 1 block 1 goes on without frames [3]",
        "page 1 with 1 frame(s) abandoned after EOR",
    ] {
        assert!(log.contains(step), "{step:?} missing:\n{log}");
    }
    assert_eq!(log.matches("sending CTC").count(), 1, "{log}");
    let rec = calls(&rack).pop().unwrap();
    assert_eq!(
        (&rec["eors"], &rec["rnrs"]),
        (
            &serde_json::json!([{ "page": 1, "block": 1, "frames": [3] }]),
            &serde_json::json!(1)
        ),
        "{rec}"
    );
    let got = stored_page(&rack, 2).expect("page 2 stored");
    assert!(got.bitmap() == want(1).bitmap(), "page 2 differs");
    rack.stop().await;
}

/// Frames lost or spoilt on the line: an MPS the receiver never hears (redial's T4 runs out,
/// it cancels `+FRH=3` and repeats MPS), an MCF that arrives with a bad FCS (MPS repeated, the
/// receiver repeats its MCF without taking a new page), a DCS never heard (the receiver sends
/// DIS again after its T4; redial sends DCS again), a garbled DIS and a garbled CFR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_and_garbled_frames_are_recovered() {
    let rack = start("drop").await;
    let (doc, sent) = two_pages(&rack);
    for (number, step) in [
        ("5551106", "no response to MPS: repeating"),
        ("5551107", "no response to DCS/TCF: repeating"),
    ] {
        let r = run_call(&settings(&rack, &[]), &fax_call(number, &doc)).await;
        let log = log_of(&r);
        assert_eq!((r.code, r.pages), (0, 2), "{number}: {r:?}\n{log}");
        assert!(log.contains(step), "{number}: {step:?} missing:\n{log}");
        let (rec, got, _) = last_call_pages(&rack);
        assert_eq!(rec["pages_rejected"], 0, "{number}");
        assert_equal(&got, &sent, number);
    }
    rack.stop().await;
}

/// The receiver hangs up: DCN after the training (phase B: outcome 1024), silence after page 2's
/// data (phase C: EOP unanswered three times, 1054, page 1 counted), DCN instead of an answer to
/// page 1's MPS (phase D: 1051). A receiver offering V.29 and standard resolution only gets
/// what it offered (hw-sim would refuse anything more with DCN).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_hangups_map_to_outcome_codes_and_a_low_end_dis_is_honoured() {
    let rack = start("hangup").await;
    let (doc, sent) = two_pages(&rack);
    let s = settings(&rack, &[]);
    for (number, code, pages) in [
        ("5551109", 1024, 0),
        ("5551110", 1054, 1),
        ("5551111", 1051, 0),
    ] {
        let r = run_call(&s, &fax_call(number, &doc)).await;
        assert_eq!(
            (r.code, r.pages),
            (code, pages),
            "{number}: {r:?}\n{}",
            log_of(&r)
        );
        let rec = calls(&rack).pop().unwrap();
        assert!(
            rec["ended_by"]
                .as_str()
                .unwrap()
                .starts_with("remote hangup in phase"),
            "{number}: {rec}"
        );
    }
    let r = run_call(&s, &fax_call("5551112", &doc)).await;
    assert_eq!(
        (r.code, r.pages, r.baud, r.answerback.as_str()),
        (0, 2, 9600, "LOW END"),
        "{r:?}\n{}",
        log_of(&r)
    );
    let (rec, got, _) = last_call_pages(&rack);
    assert_eq!(rec["pages"][0]["yres"], 98);
    let standard: Vec<Page> = sent
        .iter()
        .map(|p| p.to_resolution(Resolution::Standard))
        .collect();
    for (g, s) in got.iter().zip(&standard) {
        assert!(
            g.bitmap() == s.bitmap(),
            "a standard-resolution page differs"
        );
    }
    rack.stop().await;
}

/// A node (`Daemon`, as `redial run` drives it) with one `class=1` line (plus `settings`) on a
/// fresh rack sends a three-page text job to `number`: the rack, the spool base, the job as it
/// landed in SENT and its first attempt record.
async fn node_sends_three_pages(
    tag: &str,
    settings: &str,
    number: &str,
) -> (Rack, PathBuf, String, redial::retry::attempt::AttemptRecord) {
    use redial::command::Document;
    use redial::daemon::clock::ManualClock;
    use redial::daemon::Daemon;
    use redial::job::Job;
    use redial::spool::store;
    use std::sync::Arc;

    let rack = start(tag).await;
    let base = rack.dir.join("base");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::write(
        base.join("three.txt"),
        "Page one.\n\x0cPage two.\n\x0cPage three.\n",
    )
    .unwrap();
    let cfg_path = base.join("redial.cfg");
    std::fs::write(
        &cfg_path,
        format!(
            "$request_dir spool 3\n$line 1 {} class=1 {settings} \"id=+1 555 0001\"\n",
            rack.tty(0).display()
        ),
    )
    .unwrap();
    let clock = ManualClock::new("2026-03-02T09:00:00Z".parse().unwrap());
    let mut d = Daemon::new(Some(&cfg_path), &base, "n1", Arc::new(clock.clone()), None).unwrap();
    d.start().unwrap();
    std::fs::write(
        base.join("spool/TOSEND/1.FS"),
        format!("$fax_phone {number}\n$fax_filename three.txt\n"),
    )
    .unwrap();
    d.rescan();
    d.run_hybrid(&clock, 100).await;
    d.shutdown();
    let sent = base.join("spool/SENT");
    assert_eq!(store::list_jobs(&sent).unwrap(), ["1.FS"]);
    let text = std::fs::read(sent.join("1.FS")).unwrap();
    let shown = String::from_utf8_lossy(&text).to_string();
    let job = Job::from_document(&Document::parse(&text, "1.FS").unwrap()).unwrap();
    let record = job.records[0].clone();
    (rack, base, shown, record)
}

/// The node with a `class=1` line on hw-sim: a three-page job is sent and its attempt record is
/// honest in Class 1 too: pages scheduled 3 (pages, not documents), sent 3, the trained speed,
/// and connect seconds from the receiver's V.21 after dialling to the hang-up (each page takes
/// at least 1.1 s at hw-sim, so at least 3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_attempt_record_is_honest_in_class_1() {
    let (rack, _, shown, r) = node_sends_three_pages("node", "", "5551100").await;
    assert_eq!(
        (r.outcome, r.scheduled, r.sent, r.baud),
        (0, 3, 3, 14400),
        "{shown}"
    );
    assert!(r.connect >= 3 && r.connect <= r.call, "{shown}");
    assert!(
        shown.contains("C1 SIM"),
        "answerback in the record: {shown}"
    );
    let rec = calls(&rack).pop().unwrap();
    assert_eq!(
        (rec["class"].as_str(), rec["pages"].as_array().map(Vec::len)),
        (Some("1"), Some(3))
    );
    rack.stop().await;
}

/// The node with a `class=1` line sends a three-page job to a receiver offering ECM and MMR:
/// the attempt record is honest (scheduled 3, sent 3, 14400, the CSI as answerback) and the
/// attempt's session log (`LOG/<job>.1.log`) shows the DIS offering ECM and MMR, each page
/// coded MMR with ECM in frames, the PPS frames and the three confirmed pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_nodes_attempt_record_and_session_log_show_ecm() {
    let (rack, base, shown, r) = node_sends_three_pages("node-ecm", "ecm=yes", "5551113").await;
    assert_eq!(
        (r.outcome, r.scheduled, r.sent, r.baud),
        (0, 3, 3, 14400),
        "{shown}"
    );
    assert!(
        shown.contains("ECM MMR"),
        "answerback in the record: {shown}"
    );
    let log = std::fs::read_to_string(base.join("spool/LOG/1.1.log")).unwrap();
    for step in [
        "DIS: receives, rates 0b1101, fine, 2-D, ECM, MMR",
        "page 1: ",
        "bytes MMR with ECM: ",
        "page 3 block 0: ",
        "sending PPS",
        "page 3 confirmed",
    ] {
        assert!(log.contains(step), "{step:?} missing:\n{log}");
    }
    let rec = calls(&rack).pop().unwrap();
    assert_eq!(
        (
            rec["ecm"].as_bool(),
            rec["pages"].as_array().map(Vec::len),
            rec["pages"][2]["coding"].as_str()
        ),
        (Some(true), Some(3), Some("MMR"))
    );
    rack.stop().await;
}
