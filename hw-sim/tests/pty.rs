//! Integration over real ptys with the real `redial-sim` binary: a DTE opens
//! `DIR/ttySIMn` like a serial program, sets the baud rate, and talks AT.

mod common;

use common::{Port, Rack};

const SCENARIO: &str = r#"
[[number]]
number = "300"
outcome = { kind = "voice", rings = 1, dtmf = [{ at = 1.0, digits = "42" }], hangup_after = 30.0 }
[[number]]
number = "500"
outcome = { kind = "wedge" }
[[number]]
number = "501"
outcome = { kind = "vanish", return_after = 2.0 }
[[modem]]
index = 1
fault = "no-dialtone"
[[incoming]]
modem = 2
after = 0.5
caller = "5551234"
name = "ALICE"
rings = 100  # long enough that a slow (loaded) test still answers while it rings
"#;

#[test]
fn basic_commands_over_a_pty() {
    let rack = Rack::start("pty-basic", 3, SCENARIO, 0.05);
    let mut p = Port::open(&rack.tty(0));
    assert_eq!(p.cmd("ATE0", 5.0), "ATE0\r\r\nOK\r\n");
    assert_eq!(p.cmd("AT S7=45 S7?", 5.0), "\r\n045\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("AT+FCLASS=?", 5.0), "\r\n0,1,2,2.0,8\r\n\r\nOK\r\n");
    assert_eq!(p.cmd("ATD(123)", 5.0), "\r\nERROR\r\n");
    let mut q = Port::open(&rack.tty(1));
    assert!(q.cmd("ATDT123", 10.0).ends_with("\r\nNO DIALTONE\r\n"));
    let mut r = Port::open(&rack.tty(2));
    let ring = r.read_until(10.0, |b| String::from_utf8_lossy(b).contains("RING"));
    let ring = String::from_utf8_lossy(&ring);
    assert!(
        ring.contains("NMBR=5551234") && ring.contains("NAME=ALICE"),
        "{ring}"
    );
    assert!(r.cmd("AT+FCLASS=8;A", 10.0).ends_with("\r\nVCON\r\n"));
    assert!(r.cmd("ATH", 5.0).ends_with("\r\nOK\r\n"));
    assert!(rack.stop());
}

#[test]
fn voice_call_reports_pressed_digits() {
    let rack = Rack::start("pty-voice", 1, SCENARIO, 0.05);
    let mut p = Port::open(&rack.tty(0));
    p.cmd("ATE0", 5.0);
    assert_eq!(p.cmd("AT+FCLASS=8;+VSM=4,8000", 5.0), "\r\nOK\r\n");
    // Voice events (DLE v, DLE q) may follow VCON at once: the call is up.
    assert!(p.cmd("ATD300", 10.0).contains("\r\nVCON\r\n"));
    p.write(b"AT+VRX\r");
    let got = p.read_until(10.0, |b| b.windows(2).any(|w| w == [0x10, b'2']));
    assert!(got.windows(11).any(|w| w == b"\r\nCONNECT\r\n"));
    let digits: Vec<u8> = got
        .windows(2)
        .filter(|w| w[0] == 0x10 && w[1].is_ascii_digit())
        .map(|w| w[1])
        .collect();
    assert_eq!(digits, b"42");
    p.write(&[0x10, b'!']);
    let end = p.read_until(5.0, |b| b.ends_with(b"\r\nOK\r\n"));
    assert!(end.windows(2).any(|w| w == [0x10, 0x03]));
    assert!(p.cmd("ATH", 5.0).ends_with("\r\nOK\r\n"));
    drop(p);
    let stopped = rack.calls();
    assert!(rack.stop());
    assert_eq!(stopped[0]["dtmf_reported"], "42");
    assert_eq!(stopped[0]["class"], "8");
}

#[test]
fn wedged_modem_answers_nothing() {
    let rack = Rack::start("pty-wedge", 1, SCENARIO, 0.05);
    let mut p = Port::open(&rack.tty(0));
    p.cmd("ATE0", 5.0);
    p.write(b"ATD500\r");
    p.write(b"AT\r");
    assert_eq!(p.read_until(1.0, |b| !b.is_empty()), b"");
    assert!(rack.stop());
}

#[test]
fn vanishing_modem_goes_and_comes_back() {
    let rack = Rack::start("pty-vanish", 1, SCENARIO, 0.05);
    let link = rack.tty(0);
    let mut p = Port::open(&link);
    p.cmd("ATE0", 5.0);
    p.write(b"ATD501\r");
    let mut gone = false;
    for _ in 0..200 {
        if std::fs::symlink_metadata(&link).is_err() {
            gone = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(gone, "link should disappear");
    // Our old descriptor now reads end-of-file/EIO (the slave side was closed).
    drop(p);
    let mut back = false;
    for _ in 0..500 {
        if link.exists() {
            back = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(back, "link should come back after return_after");
    let mut p = Port::open(&link);
    assert_eq!(p.cmd("AT", 5.0), "AT\r\r\nOK\r\n");
    let calls = rack.calls();
    assert_eq!(calls[0]["ended_by"], "modem vanished");
    assert!(rack.stop());
    assert!(!link.exists(), "links removed on SIGTERM");
}
