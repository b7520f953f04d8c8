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
