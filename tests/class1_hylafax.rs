//! Class 1 against HylaFAX: redial sends through two real software modems (iaxmodem/spandsp) to
//! HylaFAX's `faxgetty`, whose DIS offers 2-D MR, MMR and ECM (efax's offers none of them). The
//! pages HylaFAX stores decode (with libtiff's tools) equal to what redial sent, and HylaFAX's
//! session log shows the coding the two agreed on. Needs root, iaxmodem, hylafax-server,
//! libtiff-tools and netpbm (`.ci/run` installs them).
//!
//! The line-time comparison with HylaFAX sending the same pages is a benchmark:
//! `cargo bench --bench class1_vs_hylafax`.

mod hylafax;
mod iaxmodem;

use hylafax::{redial_sends, three_pages, tiff_of, Spool};
use iaxmodem::Rig;
use redial::fax::{Page, Resolution};
use std::time::Duration;

pub fn assert_pixel_equal(got: &[Page], sent: &[Page]) {
    assert_eq!(got.len(), sent.len(), "page count");
    for (i, (got, sent)) in got.iter().zip(sent).enumerate() {
        let want = sent.to_resolution(Resolution::Fine);
        let (g, w) = (got.bitmap(), want.bitmap());
        assert_eq!(g.width(), w.width(), "page {} width", i + 1);
        assert_eq!(g.height(), w.height(), "page {} height", i + 1);
        for y in 0..w.height() {
            assert_eq!(g.row(y), w.row(y), "page {} differs at row {y}", i + 1);
        }
    }
}

async fn send_and_check(tag: &str, port: u16, extra: &[(&str, &str)], coding: &str, ecm: bool) {
    let mut rig = Rig::start_in_dev(tag, port);
    let spool = Spool::new(&rig);
    spool.receive_on_b(&mut rig);
    let sent = three_pages();
    let doc = tiff_of(&sent, rig.dir.path());
    let r = redial_sends(&rig, &doc, extra).await;
    let rx = spool.wait_reception(1, Duration::from_secs(30));
    assert_eq!(
        (r.code, r.pages, r.scheduled, r.baud),
        (0, 3, 3, 14400),
        "{r:?}\nredial's session log:\n{}\nHylaFAX's:\n{}",
        r.transcript.as_deref().unwrap_or_default(),
        rx.log
    );
    assert!(
        rx.dcs.iter().any(|d| d == coding),
        "HylaFAX saw {:?}, not {coding}\n{}",
        rx.dcs,
        rx.log
    );
    assert_eq!(
        rx.dcs.iter().any(|d| d.contains("ECM")),
        ecm,
        "ECM in the DCS: {:?}",
        rx.dcs
    );
    assert_eq!(
        rx.pages,
        vec![format!("{coding}, 14400 bit/s"); 3],
        "{}",
        rx.log
    );
    assert_pixel_equal(&rx.decoded_pages(), &sent);
    println!(
        "{tag}: 3 fine pages, {coding}{}: {:.1} s on the line (HylaFAX's answer to DCN)",
        if ecm { " with ECM" } else { "" },
        rx.line_secs.unwrap_or(f64::NAN)
    );
}

/// The default line settings (`ecm=yes`, `mr=yes`) to a receiver offering ECM and MMR: MMR in
/// 256-octet ECM frames.
#[tokio::test(flavor = "multi_thread")]
async fn three_fine_pages_with_ecm_and_mmr_arrive_pixel_equal_at_hylafax() {
    send_and_check("rhe", 4760, &[], "2-D MMR", true).await;
}

/// `ecm=no`: 2-D MR without ECM, K = 4 at fine resolution.
#[tokio::test(flavor = "multi_thread")]
async fn three_fine_pages_in_mr_without_ecm_arrive_pixel_equal_at_hylafax() {
    send_and_check("rhm", 4764, &[("ecm", "no")], "2-D MR", false).await;
}
