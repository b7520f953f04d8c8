//! Class 1 through two real software modems (iaxmodem/spandsp), efax receiving on the far side:
//! the pages arrive and decode equal to what redial sent. Needs root, iaxmodem, efax, efix.

mod iaxmodem;

use iaxmodem::{efix_pbm, Rig};
use redial::fax::{read_pbm, render_text, Page, Resolution};
use redial::line::serial::{drive, now};
use redial::modem::dialstring::DialString;
use redial::modem::fax_send::{FaxEvent, FaxResult, FaxTimeouts};
use redial::modem::t30::{Class1Plan, Class1Send, T30Timers};
use std::path::Path;
use std::time::Duration;
use tokio_serial::SerialPortBuilderExt;

fn pages(texts: &[&str]) -> Vec<Page> {
    texts
        .iter()
        .flat_map(|t| render_text(t.as_bytes()))
        .collect()
}

pub async fn send_class1(dev: &Path, plan: Class1Plan) -> (FaxResult, Vec<String>) {
    let mut port = tokio_serial::new(dev.to_string_lossy(), 115200)
        .open_native_async()
        .expect("open pty A");
    let mut m = Class1Send::new(now(), plan, FaxTimeouts::default(), T30Timers::default());
    drive(&mut port, &mut m).await.expect("drive");
    let mut log = Vec::new();
    let mut result = None;
    while let Some(e) = m.poll_event() {
        match e {
            FaxEvent::Finished(r) => result = Some(r),
            other => log.push(format!("{other:?}")),
        }
    }
    (result.expect("a result"), log)
}

fn plan(pages: Vec<Page>, fine: bool, max_speed: u8) -> Class1Plan {
    Class1Plan {
        dial: DialString::new("5550002", "").unwrap(),
        pages,
        fine,
        two_d: false,
        local_id: "+1 555 0001".into(),
        init: vec![],
        max_speed,
        page_retries: 2,
        flo: None,
        ecm: false,
        ecm_frame: 256,
        ecm_host_hdlc: false,
    }
}

fn assert_received(rx: &Path, sent: &[Page], resolution: Resolution) {
    for (i, page) in sent.iter().enumerate() {
        let file = rx.join(format!("fax.{:03}", i + 1));
        assert!(file.exists(), "page {} was not received", i + 1);
        let got = read_pbm(&efix_pbm(&file)).expect("pbm");
        let want = page.to_resolution(resolution);
        let got = &got[0];
        assert_eq!(got.bitmap().width(), want.bitmap().width());
        let rows = want.bitmap().height().min(got.bitmap().height());
        assert!(
            rows + 2 >= want.bitmap().height(),
            "page {} is short",
            i + 1
        );
        for y in 0..rows {
            assert_eq!(
                got.bitmap().row(y),
                want.bitmap().row(y),
                "page {} differs at row {y}",
                i + 1
            );
        }
    }
}

async fn run_rig(tag: &str, port: u16, sent: Vec<Page>, fine: bool, max_speed: u8) -> FaxResult {
    let mut rig = Rig::start(tag, port);
    let rx = rig.efax_receiver();
    let (r, log) = send_class1(&rig.a.clone(), plan(sent.clone(), fine, max_speed)).await;
    let code = rig.wait_receiver(Duration::from_secs(20));
    assert_eq!(
        r.code,
        0,
        "{r:?}\n{log:#?}\nefax receiver:\n{}",
        rig.log("efax-rx.log")
    );
    assert_eq!(code, Some(0), "efax receiver: {}", rig.log("efax-rx.log"));
    assert_eq!(r.pages_sent, sent.len() as u32);
    let res = if fine {
        Resolution::Fine
    } else {
        Resolution::Standard
    };
    assert_received(&rx, &sent, res);
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn one_page_fine_through_two_iaxmodems() {
    let r = run_rig(
        "rdl1p",
        4700,
        pages(&["Class 1 from redial\nthrough two iaxmodems\n"]),
        true,
        5,
    )
    .await;
    assert_eq!(r.baud, 14400);
}

fn line_def(device: &Path, class: &str) -> redial::line::LineDef {
    redial::line::LineDef {
        number: 1,
        kind: "modem".into(),
        params: vec![
            ("device".into(), device.display().to_string()),
            ("class".into(), class.into()),
            ("type".into(), "fax".into()),
            ("id".into(), "+1 555 0001".into()),
        ],
        cfg_line: 1,
    }
}

fn fax_call(doc: &Path, low_resolution: bool, fax_speed: Option<u32>) -> redial::line::Call {
    redial::line::Call {
        job: "c1.FS".into(),
        number: "5550002".into(),
        channel: redial::retry::outcome::Channel::Fax,
        documents: vec![doc.to_path_buf()],
        message: None,
        attempt: 1,
        alternate: false,
        low_resolution,
        fax_speed,
        header: None,
        cover: None,
        email: None,
        sms: None,
    }
}

/// The line driver end to end: `class=auto` finds Class 1 (`0,1,1.0`), a two-page text document
/// goes out at standard resolution under a per-call speed cap (the `T` prefix's `$fax_speed`).
#[tokio::test(flavor = "multi_thread")]
async fn line_class_auto_two_pages_standard_at_9600() {
    let mut rig = Rig::start("rdl2p", 4710);
    let rx = rig.efax_receiver();
    let doc = rig.dir.path().join("two.txt");
    let text = "First page of two\n\u{c}Second page of two\n";
    std::fs::write(&doc, text).unwrap();
    let sent = render_text(text.as_bytes());
    assert_eq!(sent.len(), 2);
    let settings = redial::line::modem::ModemSettings::from_def(&line_def(&rig.a, "auto")).unwrap();
    let r = redial::line::modem::run_call(&settings, &fax_call(&doc, true, Some(9600))).await;
    assert_eq!((r.code, r.pages, r.baud), (0, 2, 9600), "{r:?}");
    assert_eq!(
        rig.wait_receiver(Duration::from_secs(60)),
        Some(0),
        "{}",
        rig.log("efax-rx.log")
    );
    assert_received(&rx, &sent, Resolution::Standard);
    // The session log shows the T.30 exchange, in order, against real DSP.
    let log = r.transcript.expect("a modem line keeps a session log");
    let mut at = 0;
    for step in [
        "> AT+FCLASS=1\\r",
        "> ATDT",
        "- DIS: receives",
        "- sending DCS",
        "- CFR: trained at",
        "- page 1 confirmed",
        "- page 2 confirmed",
        "- sending DCN",
        "- result: outcome 0",
    ] {
        match log[at..].find(step) {
            Some(i) => at += i + step.len(),
            None => panic!("{step:?} missing (or out of order) in the session log:\n{log}"),
        }
    }
}

/// B busied out (`ATH1`): iaxmodem rejects the call and A says NO DIALTONE: outcome 4.
#[tokio::test(flavor = "multi_thread")]
async fn a_busy_receiver_shows_as_no_dialtone() {
    use std::io::Write;
    let rig = Rig::start("rdlbz", 4720);
    let mut b = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&rig.b)
        .unwrap();
    b.write_all(b"ATH1\r").unwrap();
    let settings = redial::line::modem::ModemSettings::from_def(&line_def(&rig.a, "1")).unwrap();
    let doc = rig.dir.path().join("one.txt");
    std::fs::write(&doc, "busy test\n").unwrap();
    // Give the busy-out a moment to reach iaxmodem: poll until B echoes OK.
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("OK") {
        let n = std::io::Read::read(&mut b, &mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    let r = redial::line::modem::run_call(&settings, &fax_call(&doc, false, None)).await;
    assert_eq!(r.code, 4, "{r:?}");
}

/// Not a check: the time one and three pages take through the rig, redial vs efax, same run.
/// `cargo test --test class1_iaxmodem -- --ignored --nocapture measure`
#[tokio::test(flavor = "multi_thread")]
#[ignore]
async fn measure_redial_vs_efax() {
    for n in [1usize, 3] {
        let texts: Vec<String> = (1..=n).map(|i| format!("Timing page {i}\n")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        // efax sending efix-made pages of the same text.
        let mut rig = Rig::start(&format!("rdlm{n}e"), 4740 + n as u16 * 4);
        rig.efax_receiver();
        let mut files = Vec::new();
        for (i, t) in texts.iter().enumerate() {
            let txt = rig.dir.path().join(format!("p{i}.txt"));
            std::fs::write(&txt, t).unwrap();
            let out = std::process::Command::new("efix")
                .args(["-i", "text", "-o", "fax"])
                .arg(&txt)
                .stderr(std::process::Stdio::null())
                .output()
                .unwrap();
            let f = rig.dir.path().join(format!("page.{:03}", i + 1));
            std::fs::write(&f, out.stdout).unwrap();
            files.push(f);
        }
        let start = std::time::Instant::now();
        let st = std::process::Command::new("efax")
            .arg("-d")
            .arg(&rig.a)
            .args(["-o1", "-t", "5550002"])
            .args(&files)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        let efax = start.elapsed();
        assert!(st.success());
        drop(rig);
        let mut rig = Rig::start(&format!("rdlm{n}r"), 4742 + n as u16 * 4);
        rig.efax_receiver();
        let start = std::time::Instant::now();
        let (r, _) = send_class1(&rig.a.clone(), plan(pages(&refs), true, 5)).await;
        let redial = start.elapsed();
        assert_eq!(r.code, 0);
        println!(
            "{n} page(s), fine, V.17 14400: efax {:.1} s, redial {:.1} s",
            efax.as_secs_f64(),
            redial.as_secs_f64()
        );
    }
}

/// The service end to end: `redial run` (a real process) with a Class 1 line on modem A. The job
/// is first dialled while B is busied out (NO DIALTONE, class D), retried per the class D list
/// once B is free again, and received by efax; the pages decode equal to the source and the
/// job's records say D then S.
#[tokio::test(flavor = "multi_thread")]
async fn redial_run_retries_a_busy_receiver_then_delivers_in_class_1() {
    use std::io::{Read, Write};
    let mut rig = Rig::start("rdrun", 4740);
    let base = rig.dir.path().join("base");
    std::fs::create_dir_all(base.join("spool/TOSEND")).unwrap();
    std::fs::write(
        base.join("redial.cfg"),
        format!(
            "$request_dir spool 1\n$retry_delays D \"20S\"\n$rescan_interval 1\n$line 1 {} class=1 type=fax \"id=+1 555 0001\"\n",
            rig.a.display()
        ),
    )
    .unwrap();
    let text = "Order 77\n\n  3 widgets\n 12 sprockets\n";
    std::fs::write(base.join("order.txt"), text).unwrap();
    // Busy B before the job appears: iaxmodem then rejects calls and A reports NO DIALTONE.
    let mut b = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&rig.b)
        .unwrap();
    b.write_all(b"ATH1\r").unwrap();
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    while !String::from_utf8_lossy(&got).contains("OK") {
        let n = b.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    std::fs::write(
        base.join("spool/TOSEND/1.FS"),
        "$fax_phone 5550002\n$fax_filename order.txt\n",
    )
    .unwrap();
    let log = std::fs::File::create(rig.dir.path().join("redial.log")).unwrap();
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_redial"))
        .args(["run", "--cfg", "redial.cfg", "--node", "n1", "--base", "."])
        .current_dir(&base)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start redial run");
    // The first attempt fails: the record appears in the job, back in TOSEND.
    let job = base.join("spool/TOSEND/1.FS");
    let failed_once = iaxmodem::wait_for(Duration::from_secs(60), || {
        std::fs::read_to_string(&job).is_ok_and(|t| t.contains("$attempt_record"))
    });
    assert!(failed_once, "no first attempt: {}", rig.log("redial.log"));
    // Free B and let efax answer before the 20 s retry comes.
    b.write_all(b"ATH0\r").unwrap();
    drop(b);
    let rx = rig.efax_receiver();
    let sent = base.join("spool/SENT/1.FS");
    let delivered = iaxmodem::wait_for(Duration::from_secs(120), || sent.exists());
    let _ = std::process::Command::new("kill")
        .arg(daemon.id().to_string())
        .status();
    let _ = daemon.wait();
    assert!(delivered, "not delivered: {}", rig.log("redial.log"));
    let doc = std::fs::read_to_string(&sent).unwrap();
    let records: Vec<(String, String)> = doc
        .lines()
        .filter(|l| l.starts_with("$attempt_record"))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[6].to_string(), f[7].to_string())
        })
        .collect();
    assert_eq!(
        records,
        [
            ("4".to_string(), "D".to_string()),
            ("0".to_string(), "S".to_string())
        ],
        "{doc}"
    );
    assert_eq!(rig.wait_receiver(Duration::from_secs(20)), Some(0));
    assert_received(&rx, &render_text(text.as_bytes()), Resolution::Fine);
}

/// A PDF with a cover page and a header line over Class 1 to efax: the line driver draws the
/// PDF, fills and draws the cover, stamps every page, and efax stores exactly the pages
/// `pages_for_line` gives (what `redial preview` writes), at fine resolution.
#[tokio::test(flavor = "multi_thread")]
async fn a_pdf_with_cover_and_header_arrives_as_prepared_in_class_1() {
    use redial::line::documents::{pages_for_line, DocumentCache, HeaderSpec, Prepared};
    use std::sync::Arc;
    let mut rig = Rig::start("rdlpdf", 4760);
    let rx = rig.efax_receiver();
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pdf/letter-form.pdf");
    let header = HeaderSpec {
        format: "%s|%n|Page %p of %P".into(),
        sender: "Acme Widgets".into(),
        station: None,
        recipient: "5550002".into(),
        tz: chrono_tz::UTC,
    };
    let cover = "FAX\n\nTo: Harbour Supplies\nPages: 3\n".to_string();
    let cache = DocumentCache::default();
    let docs = vec![
        Arc::new(Prepared::from_pages(
            render_text(cover.as_bytes()),
            Resolution::Fine,
        )),
        cache.get(&doc, Resolution::Fine).unwrap(),
    ];
    let sent = pages_for_line(&docs, Some(&header), "+1 555 0001", chrono::Utc::now());
    assert_eq!(sent.len(), 3);
    let settings = redial::line::modem::ModemSettings::from_def(&line_def(&rig.a, "1")).unwrap();
    let call = redial::line::Call {
        header: Some(header),
        cover: Some(cover),
        email: None,
        sms: None,
        ..fax_call(&doc, false, None)
    };
    let r = redial::line::modem::run_call_with(&settings, &call, &cache).await;
    assert_eq!((r.code, r.pages), (0, 3), "{r:?}");
    assert_eq!(
        rig.wait_receiver(Duration::from_secs(60)),
        Some(0),
        "{}",
        rig.log("efax-rx.log")
    );
    assert_received(&rx, &sent, Resolution::Fine);
}
