//! Acceptance: the real `efax` (Debian package) sends through a hw-sim modem.
//!
//! Class 2.0 (`-o0`), Class 2 (`-o2`) and Class 1 (`-o1`, efax running T.30 itself against
//! hw-sim's simulated receiver): efax exits 0 and both pages are stored as TIFF-F
//! and decode to the bitmaps efax sent. A busy number makes efax exit 1, a no-carrier number
//! exit 2. These tests fail (they do not skip) when efax or efix is missing.
//!
//! How pages are compared: efax inserts 20 blank scan lines at the top of every page and
//! ORs its header text into lines 4..28. So the received page is 20 rows taller than the
//! sent bitmap; received rows 28.. must equal sent rows 8.. exactly, received rows 20..28
//! must contain every black pixel of sent rows 0..8 (header ink may be added), and rows
//! 0..20 are header only. The received TIFF is decoded twice, by hw-sim's decoder
//! (hayro-ccitt) and by `efix -o pbm`, and both decodings must agree.

mod common;

use common::Rack;
use redial_sim::t4::{decode_page, Bitmap, Coding};
use redial_sim::tiff_f::read_tiff_f;
use std::path::Path;
use std::process::{Command, Output};

const SCENARIO: &str = r#"
[[number]]
number = "5550100"
outcome = { kind = "fax", csi = "ACCEPTANCE FAX" }
[[number]]
number = "5550200"
outcome = { kind = "busy" }
[[number]]
number = "5550300"
outcome = { kind = "no-carrier" }
"#;

fn run(cmd: &mut Command) -> Output {
    let prog = cmd.get_program().to_string_lossy().to_string();
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {prog}: {e} (install it: apt-get install efax)"))
}

/// page.001 from text via efix (TIFF G3), page.002 a PBM drawn here; returns the sent bitmaps.
fn make_pages(dir: &Path) -> Vec<Bitmap> {
    std::fs::create_dir_all(dir).unwrap();
    let txt = dir.join("page.txt");
    std::fs::write(
        &txt,
        "\n\nhw-sim acceptance test, page one.\nThe quick brown fox jumps over the lazy dog 0123456789.\n",
    )
    .unwrap();
    let out = run(Command::new("efix")
        .args(["-i", "text", "-o", "tiffg3"])
        .arg(&txt));
    assert!(out.status.success(), "efix text -> tiff failed");
    std::fs::write(dir.join("page.001"), &out.stdout).unwrap();
    let out = run(Command::new("efix")
        .args(["-o", "pbm"])
        .arg(dir.join("page.001")));
    assert!(out.status.success(), "efix tiff -> pbm failed");
    let p1 = Bitmap::from_pbm(&out.stdout).expect("pbm from efix");

    let (w, h) = (1728u32, 700u32);
    let stride = (w / 8) as usize;
    let mut data = vec![0u8; stride * h as usize];
    for y in 10..h {
        for x in 0..w {
            let on = (x / 16 + y / 16) % 3 == 0 || x == y || (y > 600 && x % 97 < 3);
            if on {
                data[y as usize * stride + (x / 8) as usize] |= 0x80 >> (x % 8);
            }
        }
    }
    let p2 = Bitmap {
        width: w,
        height: h,
        data,
    };
    std::fs::write(dir.join("page.002"), p2.to_pbm()).unwrap();
    vec![p1, p2]
}

fn assert_same_page(sent: &Bitmap, got: &Bitmap, what: &str) {
    assert_eq!(got.width, sent.width, "{what}: width");
    assert_eq!(
        got.height,
        sent.height + 20,
        "{what}: efax adds 20 header lines"
    );
    for y in 28..got.height {
        assert_eq!(got.row(y), sent.row(y - 20), "{what}: row {y} differs");
    }
    for y in 20..28 {
        for (a, b) in got.row(y).iter().zip(sent.row(y - 20)) {
            assert_eq!(a & b, *b, "{what}: row {y} lost ink under the header");
        }
    }
}

fn send_and_check(name: &str, class_opt: &str, class: &str) {
    let rack = Rack::start(name, 2, SCENARIO, 0.05);
    let work = rack.dir.join("..").join("work");
    let sent = make_pages(&work);
    let out = run(Command::new("efax")
        .arg("-d")
        .arg(rack.tty(1))
        .arg(format!("-o{class_opt}"))
        .arg("-t")
        .arg("5550100")
        .arg(work.join("page.001"))
        .arg(work.join("page.002")));
    assert_eq!(
        out.status.code(),
        Some(0),
        "efax failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = rack.calls();
    assert_eq!(calls.len(), 1, "{calls:?}");
    let c = &calls[0];
    assert_eq!(c["modem"], 1);
    assert_eq!(c["number"], "5550100");
    assert_eq!(c["outcome"], "fax");
    assert_eq!(c["class"], class);
    assert_eq!(c["ended_by"], "normal end");
    let pages = c["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 2);
    for (i, p) in pages.iter().enumerate() {
        let file = rack.dir.join(p["file"].as_str().unwrap());
        let (w, h, yres, t4, strip, fill) =
            read_tiff_f(std::fs::File::open(&file).unwrap()).expect("TIFF-F");
        assert_eq!((yres, t4, fill), (196, 0, 1));
        let ours = decode_page(&strip, w, Coding::Mh).unwrap().bitmap;
        assert_eq!(ours.height, h);
        assert_same_page(&sent[i], &ours, &format!("{class} page {}", i + 1));
        let out = run(Command::new("efix").args(["-o", "pbm"]).arg(&file));
        let theirs = Bitmap::from_pbm(&out.stdout).expect("efix reads our TIFF-F");
        assert_eq!(
            theirs,
            ours,
            "efix and hw-sim decode page {} differently",
            i + 1
        );
    }
    assert!(rack.stop(), "rack did not exit cleanly");
}

#[test]
fn efax_class_2_0_sends_two_pages() {
    send_and_check("efax-c20", "0", "2.0");
}

/// Class 1 (`-o1`): efax runs T.30 itself against hw-sim's remote receiver.
#[test]
fn efax_class_1_sends_two_pages() {
    send_and_check("efax-c1", "1", "1");
}

#[test]
fn efax_class_2_sends_two_pages() {
    send_and_check("efax-c2", "2", "2");
}

#[test]
fn efax_exit_codes_for_busy_and_no_carrier() {
    let rack = Rack::start("efax-codes", 1, SCENARIO, 0.05);
    let work = rack.dir.join("..").join("work");
    make_pages(&work);
    for (number, class_opt, code) in [
        ("5550200", "0", 1),
        ("5550200", "2", 1),
        ("5550300", "0", 2),
        ("5550300", "2", 2),
    ] {
        let out = run(Command::new("efax")
            .arg("-d")
            .arg(rack.tty(0))
            .arg(format!("-o{class_opt}"))
            .arg("-t")
            .arg(number)
            .arg(work.join("page.001")));
        assert_eq!(
            out.status.code(),
            Some(code),
            "{number} -o{class_opt}:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let results: Vec<String> = rack
        .calls()
        .iter()
        .map(|c| c["result"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(results, ["BUSY", "BUSY", "NO CARRIER", "NO CARRIER"]);
}

const FAILURES: &str = r#"
[[number]]
number = "201"
sequence = [{ kind = "busy" }, { kind = "busy" }, { kind = "fax" }]
[[number]]
number = "202"
outcome = { kind = "fax", rtn_pages = [1], rtn_times = 1 }
[[number]]
number = "203"
outcome = { kind = "fax", rtn_pages = [1] }
[[number]]
number = "204"
outcome = { kind = "fax", hangup = { phase = "C", code = 43 } }
[[number]]
number = "205"
outcome = { kind = "fax", hangup = { phase = "B", code = 25 } }
"#;

#[test]
fn efax_against_scenario_failures() {
    let rack = Rack::start("efax-failures", 1, FAILURES, 0.02);
    let work = rack.dir.join("..").join("work");
    make_pages(&work);
    let send = |number: &str| {
        let out = run(Command::new("efax")
            .arg("-d")
            .arg(rack.tty(0))
            .arg("-o0")
            .arg("-t")
            .arg(number)
            .arg(work.join("page.002")));
        out.status.code()
    };
    // Busy, busy, then the fax answers.
    assert_eq!(["201", "201", "201"].map(send), [Some(1), Some(1), Some(0)]);
    // RTN once: efax resends the page and succeeds; RTN always: efax gives up (2).
    assert_eq!(send("202"), Some(0));
    assert_eq!(send("203"), Some(2));
    // Remote hang-ups in phase C and B.
    assert_eq!(send("204"), Some(2));
    assert_eq!(send("205"), Some(2));
    let calls = rack.calls();
    let seq: Vec<_> = calls[..3]
        .iter()
        .map(|c| c["sequence_call"].as_u64().unwrap())
        .collect();
    assert_eq!(seq, [1, 2, 3]);
    assert_eq!(calls[3]["pages_rejected"], 1);
    assert_eq!(calls[3]["pages"].as_array().unwrap().len(), 1);
    assert_eq!(calls[4]["pages"].as_array().unwrap().len(), 0);
    assert_eq!(calls[5]["hangup_code"], "43");
    assert_eq!(calls[6]["hangup_code"], "25");
    assert!(rack.stop());
}

const CLASS1_FAULTS: &str = r#"
[[number]]
number = "301"
outcome = { kind = "fax", train_max = 9600 }
[[number]]
number = "302"
outcome = { kind = "fax", rtn_pages = [1], rtn_times = 1 }
[[number]]
number = "303"
outcome = { kind = "fax", drop = [{ frame = "EOP" }], garble = [{ frame = "MCF" }] }
[[number]]
number = "304"
outcome = { kind = "fax", hangup = { phase = "B", code = 25 } }
"#;

/// efax in Class 1 against the simulated receiver's faults: FTT above 9600 bit/s (efax steps
/// down), RTN once (efax trains again and resends), a lost EOP and a garbled MCF (efax repeats
/// EOP), and a receiver that disconnects after DCS (efax: "invalid response to DCS", exit 3).
#[test]
fn efax_class_1_against_scenario_faults() {
    let rack = Rack::start("efax-c1-faults", 1, CLASS1_FAULTS, 0.02);
    let work = rack.dir.join("..").join("work");
    make_pages(&work);
    let send = |number: &str| {
        let out = run(Command::new("efax")
            .arg("-d")
            .arg(rack.tty(0))
            .arg("-o1")
            .arg("-t")
            .arg(number)
            .arg(work.join("page.002")));
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    for (number, code) in [("301", 0), ("302", 0), ("303", 0), ("304", 3)] {
        let (got, log) = send(number);
        assert_eq!(got, Some(code), "{number}:\n{log}");
    }
    let calls = rack.calls();
    assert_eq!(calls.len(), 4);
    for c in &calls[..3] {
        assert_eq!(c["class"], "1");
        assert_eq!(c["pages"].as_array().unwrap().len(), 1, "{c}");
    }
    assert_eq!(calls[1]["pages_rejected"], 1);
    assert_eq!(calls[2]["pages_rejected"], 0);
    assert_eq!(calls[3]["pages"].as_array().unwrap().len(), 0);
    assert!(rack.stop());
}
