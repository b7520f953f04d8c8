//! redial and HylaFAX sending the same three fine pages to the same HylaFAX receiver over the
//! same real software modems, in the same run (a plain bench binary:
//! `cargo bench --bench class1_vs_hylafax`).
//!
//! Needs root, iaxmodem, hylafax-server, libtiff-tools and netpbm (`.ci/run` installs them);
//! without them it prints why and exits 0. Not part of `cargo test`: each call is real time
//! (about 30–60 s), so a round of four calls takes about four minutes.
//!
//! The rig is the one `tests/class1_hylafax.rs` uses (../shared/spec/hylafax-rig.md): two
//! iaxmodems back to back, HylaFAX's `faxgetty` answering on B in a private spool. On A, in
//! turn, redial's line driver (a `class=1` line, as a node runs it) and HylaFAX's own Class 1
//! sender (`faxsend` on a q-file, as `faxq` starts it) send the same TIFF (three fine pages,
//! MH, made with netpbm and libtiff), in two modes:
//!
//! * **ECM + MMR**: redial's defaults (`ecm=yes`, `mr=yes`); HylaFAX with `desiredec:2`,
//!   `desireddf:4` (its defaults).
//! * **MR without ECM**: redial `ecm=no`; HylaFAX `desiredec:0`, `desireddf:1`.
//!
//! Line time is measured by the receiver, the same way for both senders: from faxgetty's
//! `ANSWER: FAX CONNECTION` to the sender's DCN in its session log (10 ms resolution). Every
//! call is checked: the agreed coding in HylaFAX's log and the received pages decoded by
//! libtiff equal to the sent ones. `REDIAL_HYLA_ROUNDS` (default 1) repeats the four calls;
//! `REDIAL_HYLA_LOGS=DIR` keeps every call's session logs (redial's and HylaFAX's) in DIR.

#[path = "../tests/hylafax/mod.rs"]
mod hylafax;
#[path = "../tests/iaxmodem/mod.rs"]
mod iaxmodem;

use hylafax::{redial_sends, three_pages, tiff_of, Reception, Spool};
use iaxmodem::Rig;
use redial::fax::{Page, Resolution};
use std::time::Duration;

fn missing() -> Option<String> {
    if unsafe { libc::geteuid() } != 0 {
        return Some("needs root (iaxmodem's config in /etc/iaxmodem, modems under /dev)".into());
    }
    for tool in [
        "iaxmodem",
        "faxgetty",
        "faxsend",
        "tiffsplit",
        "tifftopnm",
        "tiffcp",
        "pamtotiff",
    ] {
        let found = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .stdout(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            return Some(format!(
                "{tool} not found (apt-get install -y iaxmodem hylafax-server libtiff-tools netpbm)"
            ));
        }
    }
    None
}

/// Checks a reception: the coding HylaFAX logged for every page, and the pages pixel-equal.
fn check(rx: &Reception, coding: &str, sent: &[Page], who: &str) -> f64 {
    assert_eq!(
        rx.pages,
        vec![format!("{coding}, 14400 bit/s"); sent.len()],
        "{who}: {}",
        rx.log
    );
    let got = rx.decoded_pages();
    assert_eq!(got.len(), sent.len(), "{who}: page count");
    for (i, (g, s)) in got.iter().zip(sent).enumerate() {
        let want = s.to_resolution(Resolution::Fine);
        assert_eq!(
            g.bitmap().height(),
            want.bitmap().height(),
            "{who}: page {}",
            i + 1
        );
        for y in 0..want.bitmap().height() {
            assert_eq!(
                g.bitmap().row(y),
                want.bitmap().row(y),
                "{who}: page {} row {y}",
                i + 1
            );
        }
    }
    rx.line_secs.expect("line time in the session log")
}

fn main() {
    if let Some(why) = missing() {
        println!("class1_vs_hylafax: skipped: {why}");
        return;
    }
    let rounds: usize = std::env::var("REDIAL_HYLA_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut rig = Rig::start_in_dev("rvh", 4790);
    let spool = Spool::new(&rig);
    spool.receive_on_b(&mut rig);
    let b_tty = rig.b.file_name().unwrap().to_string_lossy().into_owned();
    let sent = three_pages();
    let doc = tiff_of(&sent, rig.dir.path());

    /// (label, the coding HylaFAX must log, redial's line settings, HylaFAX's desiredec and
    /// desireddf).
    type Mode<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], u8, u8);
    let modes: [Mode; 2] = [
        ("ECM + MMR", "2-D MMR", &[], 2, 4),
        ("MR, no ECM", "2-D MR", &[("ecm", "no")], 0, 1),
    ];
    // (mode, redial line seconds, HylaFAX line seconds) per call.
    let mut times: Vec<(usize, Vec<f64>, Vec<f64>)> = (0..modes.len())
        .map(|m| (m, Vec::new(), Vec::new()))
        .collect();
    let keep = std::env::var_os("REDIAL_HYLA_LOGS").map(std::path::PathBuf::from);
    let save = |name: String, text: &str| {
        if let Some(dir) = &keep {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join(name), text).unwrap();
        }
    };
    let mut n = 0;
    let mut job = 100;
    for _ in 0..rounds {
        for (m, (label, coding, extra, ec, df)) in modes.iter().enumerate() {
            let r = rt.block_on(redial_sends(&rig, &doc, extra));
            n += 1;
            let rx = spool.wait_reception(n, Duration::from_secs(30));
            save(
                format!("{n:02}-redial.log"),
                r.transcript.as_deref().unwrap_or_default(),
            );
            save(format!("{n:02}-redial-rx.log"), &rx.log);
            assert_eq!(
                (r.code, r.pages),
                (0, 3),
                "redial {label}: {r:?}\n{}",
                r.transcript.as_deref().unwrap_or_default()
            );
            times[m]
                .1
                .push(check(&rx, coding, &sent, &format!("redial {label}")));
            spool.wait_idle(&b_tty);

            job += 1;
            let status = spool.faxsend(&rig, job, &doc, sent.len(), *ec, *df);
            n += 1;
            let rx = spool.wait_reception(n, Duration::from_secs(30));
            save(format!("{n:02}-hylafax-rx.log"), &rx.log);
            save(
                format!("{n:02}-hylafax.log"),
                &rig.log(&format!("faxsend-{job}.log")),
            );
            assert_eq!(
                status,
                2,
                "faxsend {label}: exit {status}\n{}",
                rig.log(&format!("faxsend-{job}.log"))
            );
            times[m]
                .2
                .push(check(&rx, coding, &sent, &format!("HylaFAX {label}")));
            spool.wait_idle(&b_tty);
        }
    }
    println!(
        "3 fine pages (A4, text), V.17 14400, through two iaxmodems to HylaFAX's faxgetty; line time = the receiver's answer to the sender's DCN:"
    );
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    for (m, red, hyla) in &times {
        println!(
            "  {:<11} redial {:6.2} s   HylaFAX {:6.2} s   ratio redial/HylaFAX {:.3}x   (calls: redial {:?}, HylaFAX {:?})",
            modes[*m].0,
            mean(red),
            mean(hyla),
            mean(red) / mean(hyla),
            red,
            hyla
        );
    }
}
