//! The modem line over a real pseudo-terminal against modems the test plays itself: a Class 1
//! DCE (tests/class1_dce) for 2-D coding at the line level, and a modem that sends XOFF/XON
//! while the page goes out, for flow control. The line's own code runs end to end: settings,
//! tokio-serial, the serial shell, the T.30 machine.

mod class1_dce;
mod pty_peer;

use class1_dce::{dis_with_2d, Dce, Faults, Mode};
use pty_peer::PtyPeer;
use redial::fax::{decode::decode, load_document, BitOrder, Resolution, Scheme};
use redial::line::modem::{open_port, run_call, ModemSettings};
use redial::line::{Call, LineDef};
use redial::modem::t30::caps::bit;
use redial::modem::t30::frame::fcf;
use redial::retry::outcome::Channel;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn settings(device: &Path, extra: &[(&str, &str)]) -> ModemSettings {
    let mut params = vec![("device".to_string(), device.display().to_string())];
    params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    ModemSettings::from_def(&LineDef {
        number: 1,
        kind: "modem".into(),
        params,
        cfg_line: 1,
    })
    .unwrap()
}

fn fax_call(documents: Vec<PathBuf>) -> Call {
    Call {
        job: "P.FS".into(),
        number: "5550002".into(),
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

/// Plays `dce` on the master until `stop` is set and the DTE is quiet.
fn serve(peer: PtyPeer, mut dce: Dce, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Dce> {
    std::thread::spawn(move || loop {
        match peer.read(Duration::from_millis(50)) {
            Some(bytes) => {
                dce.input(&bytes);
                peer.write(&std::mem::take(&mut dce.out));
            }
            None if stop.load(Ordering::SeqCst) => return dce,
            None => {}
        }
    })
}

fn text_document(dir: &Path) -> PathBuf {
    let p = dir.join("letter.txt");
    let text: String = (1..=60)
        .map(|i| format!("line {i:2}: MR codes this line against the one above it.\n"))
        .collect();
    std::fs::write(&p, text).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_class_1_line_asks_for_2d_when_the_receiver_offers_it_unless_mr_is_no() {
    let dir = tempfile::tempdir().unwrap();
    let doc = text_document(dir.path());
    let want = load_document(&doc).unwrap()[0].to_resolution(Resolution::Fine);
    for (mr, two_d) in [("yes", true), ("no", false)] {
        let peer = PtyPeer::open();
        let dev = peer.path();
        let stop = Arc::new(AtomicBool::new(false));
        let dce = Dce::new(Faults {
            dis: Some(dis_with_2d()),
            ..Faults::default()
        });
        let server = serve(peer, dce, stop.clone());
        let r = run_call(
            &settings(&dev, &[("class", "1"), ("mr", mr)]),
            &fax_call(vec![doc.clone()]),
        )
        .await;
        stop.store(true, Ordering::SeqCst);
        let dce = server.join().unwrap();
        assert_eq!((r.code, r.pages), (0, 1), "mr={mr}: {r:?}");
        let dcs = dce
            .sent_frames
            .iter()
            .find(|f| f[2] & 0xFE == fcf::DCS)
            .expect("a DCS");
        assert_eq!(bit(&dcs[3..], 16), two_d, "mr={mr}: DCS bit 16");
        let scheme = if two_d { Scheme::Mr } else { Scheme::Mh };
        let got = decode(
            &dce.pages[0],
            1728,
            want.lines(),
            scheme,
            BitOrder::LsbFirst,
        )
        .expect("the page decodes");
        assert!(&got == want.bitmap(), "mr={mr}: the page differs");
    }
}

/// A page of noise: its MH coding is far larger than what a pty buffers (~70 KB), so an XOFF
/// sent after the first bytes arrives while most of the page is still to be written.
fn noisy_document(dir: &Path) -> PathBuf {
    let (w, h) = (1728usize, 2200usize);
    let mut pbm = format!("P4\n{w} {h}\n").into_bytes();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..h * w / 8 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        pbm.push(x as u8);
    }
    let p = dir.join("noise.pbm");
    std::fs::write(&p, pbm).unwrap();
    p
}

/// What the flow-control peer saw.
#[derive(Debug, Default)]
struct FlowLog {
    /// Bytes of page data received while XOFF stood, after the in-flight bytes were drained.
    during_xoff: Vec<usize>,
    /// Page bytes received before the mid-page XOFF took hold (in flight).
    in_flight: usize,
    /// Whether the page was still incomplete when the DTE stopped.
    stopped_mid_page: bool,
}

/// Plays `dce`, and when the DTE starts the page (`AT+FTM=146`): XOFF before CONNECT, silence
/// checked for `hold`, XON; then XOFF again after 16 KB of page data, drain, silence checked,
/// XON, and the page runs to its end.
fn serve_with_xoff(
    peer: PtyPeer,
    mut dce: Dce,
    stop: Arc<AtomicBool>,
    hold: Duration,
) -> std::thread::JoinHandle<(Dce, FlowLog)> {
    std::thread::spawn(move || {
        let mut log = FlowLog::default();
        let mut done = false;
        // Bytes that arrive in `window` (none: the DTE is holding).
        let silent_for = |peer: &PtyPeer, dce: &mut Dce, window: Duration| -> usize {
            let end = Instant::now() + window;
            let mut n = 0;
            while let Some(left) = end.checked_duration_since(Instant::now()) {
                if let Some(b) = peer.read(left) {
                    n += b.len();
                    dce.input(&b);
                }
            }
            n
        };
        loop {
            let Some(bytes) = peer.read(Duration::from_millis(50)) else {
                if stop.load(Ordering::SeqCst) {
                    return (dce, log);
                }
                continue;
            };
            dce.input(&bytes);
            let page_starts = !done
                && dce.mode == Mode::Ftm(146)
                && dce.commands.last().map(String::as_str) == Some("AT+FTM=146");
            if !page_starts {
                peer.write(&std::mem::take(&mut dce.out));
                continue;
            }
            done = true;
            // XOFF first, then CONNECT: nothing of the page may come until XON.
            peer.write(&[0x13]);
            peer.write(&std::mem::take(&mut dce.out));
            log.during_xoff.push(silent_for(&peer, &mut dce, hold));
            peer.write(&[0x11]);
            // Mid-page: after 16 KB, XOFF again.
            let mut got = 0;
            while got < 16 * 1024 {
                let Some(b) = peer.read(Duration::from_secs(5)) else {
                    break;
                };
                got += b.len();
                dce.input(&b);
            }
            peer.write(&[0x13]);
            // What was already written before the DTE saw XOFF drains out...
            while let Some(b) = peer.read(Duration::from_millis(300)) {
                log.in_flight += b.len();
                dce.input(&b);
            }
            log.stopped_mid_page = dce.mode == Mode::Ftm(146) && dce.pages.is_empty();
            // ...then nothing more until XON.
            log.during_xoff.push(silent_for(&peer, &mut dce, hold));
            peer.write(&[0x11]);
            peer.write(&std::mem::take(&mut dce.out));
        }
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_xoff_no_byte_is_written_until_xon_and_the_page_then_completes() {
    let dir = tempfile::tempdir().unwrap();
    let doc = noisy_document(dir.path());
    let want = load_document(&doc).unwrap()[0].to_resolution(Resolution::Fine);
    let peer = PtyPeer::open();
    let dev = peer.path();
    let stop = Arc::new(AtomicBool::new(false));
    let server = serve_with_xoff(
        peer,
        Dce::new(Faults::default()),
        stop.clone(),
        Duration::from_millis(700),
    );
    // flow= is not given: XON/XOFF is the default.
    let r = run_call(&settings(&dev, &[("class", "1")]), &fax_call(vec![doc])).await;
    stop.store(true, Ordering::SeqCst);
    let (dce, log) = server.join().unwrap();
    assert_eq!((r.code, r.pages), (0, 1), "{r:?} {log:?}");
    assert_eq!(
        log.during_xoff,
        [0, 0],
        "bytes written while XOFF stood: {log:?}"
    );
    assert!(
        log.stopped_mid_page,
        "the DTE stopped before the page ended: {log:?}"
    );
    let data = &dce.pages[0];
    assert!(
        data.len() > 16 * 1024 + log.in_flight,
        "most of the page came after the second XON: {} bytes, {log:?}",
        data.len()
    );
    let got = decode(data, 1728, want.lines(), Scheme::Mh, BitOrder::LsbFirst).unwrap();
    assert!(&got == want.bitmap(), "the page differs");
    eprintln!(
        "page {} bytes; in flight when the mid-page XOFF came: {} bytes",
        data.len(),
        log.in_flight
    );
}

#[tokio::test]
async fn flow_settings_reach_the_port() {
    let peer = PtyPeer::open();
    let dev = peer.path();
    for (flow, crtscts) in [("rtscts", true), ("xonxoff", false), ("none", false)] {
        let port = open_port(&settings(&dev, &[("flow", flow)])).await.unwrap();
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: a valid fd and a termios to fill.
        assert_eq!(
            unsafe { libc::tcgetattr(std::os::fd::AsRawFd::as_raw_fd(&port), &mut t) },
            0
        );
        assert_eq!(t.c_cflag & libc::CRTSCTS != 0, crtscts, "flow={flow}");
        // XON/XOFF is done by redial, never by the kernel: IXON would eat DC1/DC3 inside
        // received HDLC frames.
        assert_eq!(t.c_iflag & (libc::IXON | libc::IXOFF), 0, "flow={flow}");
    }
    let err = ModemSettings::from_def(&LineDef {
        number: 4,
        kind: "modem".into(),
        params: vec![
            ("device".into(), dev.display().to_string()),
            ("flow".into(), "xonx".into()),
        ],
        cfg_line: 9,
    })
    .unwrap_err();
    assert!(
        err.contains("flow=xonx") && err.contains("did you mean flow=xonxoff"),
        "{err}"
    );
}
