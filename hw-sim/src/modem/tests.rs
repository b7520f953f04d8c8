//! Interpreter tests: commands in, bytes out, a fake clock; no pty, no sleeps.

use super::*;
use crate::scenario::{Exchange, Scenario};
use crate::t4::{encode_mh, Bitmap};

const SCEN: &str = r#"
[[number]]
number = "100"
outcome = { kind = "fax", csi = "UNIT FAX", rings = 1 }
[[number]]
number = "101"
outcome = { kind = "fax", rtn_pages = [1], rtn_times = 1 }
[[number]]
number = "102"
outcome = { kind = "fax", hangup = { phase = "B", code = 25 } }
[[number]]
number = "103"
outcome = { kind = "fax", hangup = { phase = "C", code = 43, page = 1 } }
[[number]]
number = "104"
outcome = { kind = "fax", hangup = { phase = "D", code = 52, page = 1 } }
[[number]]
number = "200"
outcome = { kind = "busy" }
[[number]]
number = "201"
sequence = [{ kind = "busy" }, { kind = "busy" }, { kind = "fax" }]
[[number]]
number = "300"
outcome = { kind = "voice", dtmf = [{ at = 2.0, digits = "42" }], hangup_after = 10.0 }
[[number]]
number = "301"
outcome = { kind = "machine", greeting = 8.0 }
[[number]]
number = "400"
outcome = { kind = "data", banner = "WELCOME" }
[[number]]
number = "500"
outcome = { kind = "wedge" }
[[number]]
number = "501"
outcome = { kind = "vanish", return_after = 5.0 }
[[number]]
number = "600"
outcome = { kind = "noise", count = 10 }
[[number]]
number = "700"
outcome = { kind = "no-answer" }
[[modem]]
index = 2
fault = "no-dialtone"
[[incoming]]
modem = 0
after = 1.0
caller = "5551234"
name = "ALICE"
rings = 3
"#;

struct Rig {
    m: Modem,
    now: Instant,
}

fn rig_with(index: usize, x: Arc<Mutex<Exchange>>) -> Rig {
    let now = Instant::now();
    let cfg = ModemConfig {
        index,
        ..ModemConfig::default()
    };
    Rig {
        m: Modem::new(cfg, x, now),
        now,
    }
}

fn exchange(text: &str) -> Arc<Mutex<Exchange>> {
    Arc::new(Mutex::new(Exchange::new(Scenario::parse(text).unwrap())))
}

fn rig() -> Rig {
    // Modem 1: no incoming calls configured, no faults.
    rig_with(1, exchange(SCEN))
}

impl Rig {
    fn out(&mut self) -> String {
        let mut s = Vec::new();
        while let Some(b) = self.m.poll_transmit() {
            s.extend(b);
        }
        String::from_utf8_lossy(&s).to_string()
    }
    fn raw_out(&mut self) -> Vec<u8> {
        let mut s = Vec::new();
        while let Some(b) = self.m.poll_transmit() {
            s.extend(b);
        }
        s
    }
    fn send(&mut self, s: &str) -> String {
        self.m.feed(self.now, s.as_bytes());
        self.out()
    }
    fn bytes(&mut self, b: &[u8]) {
        self.m.feed(self.now, b);
    }
    /// Advance the fake clock through timers until some output appears (or `max_secs`).
    fn wait(&mut self, max_secs: u64) -> String {
        let end = self.now + Duration::from_secs(max_secs);
        let mut acc = String::new();
        while let Some(t) = self.m.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.m.handle_timeout(self.now);
            acc.push_str(&self.out());
            if !acc.is_empty() {
                break;
            }
        }
        acc
    }
    /// Advance the clock by `secs`, collecting everything.
    fn advance(&mut self, secs: f64) -> Vec<u8> {
        let end = self.now + Duration::from_secs_f64(secs);
        let mut acc = Vec::new();
        while let Some(t) = self.m.poll_timeout() {
            if t > end {
                break;
            }
            self.now = self.now.max(t);
            self.m.handle_timeout(self.now);
            acc.extend(self.raw_out());
        }
        self.now = end;
        acc
    }
    fn events(&mut self) -> Vec<Event> {
        let mut v = Vec::new();
        while let Some(e) = self.m.poll_event() {
            v.push(e);
        }
        v
    }
    fn records(&mut self) -> Vec<CallRecord> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::CallEnded { record, .. } => Some(*record),
                _ => None,
            })
            .collect()
    }
}

fn stuffed_page() -> (Bitmap, Vec<u8>) {
    let (w, h) = (1728u32, 30u32);
    let stride = 216;
    let mut data = vec![0u8; stride * h as usize];
    for y in 0..h as usize {
        for x in 0..stride {
            data[y * stride + x] = if (x + y) % 7 == 0 { 0x10 } else { 0 };
        }
    }
    let bm = Bitmap {
        width: w,
        height: h,
        data,
    };
    let mut wire = Vec::new();
    for b in encode_mh(&bm) {
        let b = b.reverse_bits(); // LSB-first, as many DTEs send
        if b == DLE {
            wire.push(DLE);
        }
        wire.push(b);
    }
    (bm, wire)
}

#[test]
fn echo_and_verbose_ok() {
    let mut r = rig();
    assert_eq!(r.send("AT\r"), "AT\r\r\nOK\r\n");
    assert_eq!(r.send("ATE0\r"), "ATE0\r\r\nOK\r\n");
    assert_eq!(r.send("AT\r"), "\r\nOK\r\n");
    assert_eq!(r.send("atv0\r"), "0\r");
    assert_eq!(r.send("ATX9\r"), "4\r");
    assert_eq!(r.send("ATQ1\r"), "");
    assert_eq!(r.send("ATQ0V1\r"), "\r\nOK\r\n");
}

#[test]
fn several_commands_and_s_registers() {
    let mut r = rig();
    r.send("ATE0\r");
    assert_eq!(
        r.send("AT S7=30 S0=2 S7? S0?\r"),
        "\r\n030\r\n\r\n002\r\n\r\nOK\r\n"
    );
    assert_eq!(r.send("AT&FE0S7?\r"), "\r\n050\r\n\r\nOK\r\n");
    assert_eq!(r.send("ATS7=300\r"), "\r\nERROR\r\n");
    assert_eq!(
        r.send("ATI3\r"),
        format!(
            "\r\nredial-sim modem 1 v{}\r\n\r\nOK\r\n",
            env!("CARGO_PKG_VERSION")
        )
    );
    // Backspace edits the line; A/ repeats it.
    assert_eq!(r.send("ATS7?x\x08\r"), "\r\n050\r\n\r\nOK\r\n");
    assert_eq!(r.send("A/"), "\r\n050\r\n\r\nOK\r\n");
    assert_eq!(r.send("ATJ\r"), "\r\nERROR\r\n");
}

#[test]
fn fclass_queries() {
    let mut r = rig();
    r.send("ATE0\r");
    assert_eq!(r.send("AT+FCLASS=?\r"), "\r\n0,1,2,2.0,8\r\n\r\nOK\r\n");
    assert_eq!(r.send("AT+FCLASS=2.0;+FCLASS?\r"), "\r\n2.0\r\n\r\nOK\r\n");
    assert_eq!(r.send("AT+FCLASS=3\r"), "\r\nERROR\r\n");
    assert_eq!(
        r.send("AT+FIS?\r"),
        "\r\n+FIS:1,5,0,2,0,0,0,0\r\n\r\nOK\r\n"
    );
    assert_eq!(r.send("AT+FLI=\"  id  \"\r"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+FLI?\r"), "\r\n+FLI:\"  id  \"\r\n\r\nOK\r\n");
    assert_eq!(r.send("AT+XYZ\r"), "\r\nERROR\r\n");
}

#[test]
fn dial_string_validation() {
    let mut r = rig();
    r.send("ATE0\r");
    assert_eq!(r.send("ATD(555)\r"), "\r\nERROR\r\n");
    assert_eq!(r.send("ATDT55x\r"), "\r\nERROR\r\n");
    assert_eq!(r.send("ATDT 2-0-0\r"), "");
    assert_eq!(r.wait(60), "\r\nBUSY\r\n");
}

#[test]
fn busy_needs_x3() {
    let mut r = rig();
    r.send("ATE0X0S7=20\r");
    r.send("ATD200\r");
    let t0 = r.now;
    assert_eq!(r.wait(60), "\r\nNO CARRIER\r\n");
    assert!(r.now - t0 >= Duration::from_secs(20));
    r.send("ATX4\r");
    r.send("ATD200\r");
    let t0 = r.now;
    assert_eq!(r.wait(60), "\r\nBUSY\r\n");
    assert!(r.now - t0 < Duration::from_secs(10));
}

#[test]
fn sequence_is_shared_by_modems() {
    let x = exchange(SCEN);
    let mut a = rig_with(0, x.clone());
    let mut b = rig_with(1, x);
    a.send("ATE0+FCLASS=2.0\r");
    b.send("ATE0+FCLASS=2.0\r");
    a.send("ATD201\r");
    assert_eq!(a.wait(60), "\r\nBUSY\r\n");
    b.send("ATD201\r");
    assert_eq!(b.wait(60), "\r\nBUSY\r\n");
    a.send("ATD201\r");
    assert!(a.wait(60).starts_with("\r\n+FCO\r\n"));
    let recs = b.records();
    assert_eq!(recs[0].sequence_call, 2);
}

#[test]
fn modem_fault_no_dialtone_and_no_answer() {
    let mut r = rig_with(2, exchange(SCEN));
    r.send("ATE0\r");
    r.send("ATD100\r");
    assert_eq!(r.wait(60), "\r\nNO DIALTONE\r\n");
    let mut r = rig();
    r.send("ATE0S7=45\r");
    r.send("ATD700\r");
    let t0 = r.now;
    assert_eq!(r.wait(100), "\r\nNO ANSWER\r\n");
    assert!(r.now - t0 >= Duration::from_secs(45));
}

#[test]
fn keypress_aborts_dialling() {
    let mut r = rig();
    r.send("ATE0\r");
    r.send("ATD700\r");
    assert_eq!(r.send("x"), "\r\nNO CARRIER\r\n");
    assert_eq!(r.records()[0].ended_by, "aborted by DTE");
}

#[test]
fn class20_session_two_pages() {
    let mut r = rig();
    r.send("ATE0+FCLASS=2.0;+FLI=\"me\"\r");
    r.send("ATDT100\r");
    assert_eq!(
        r.wait(60),
        "\r\n+FCO\r\n\r\n+FCI:\"UNIT FAX\"\r\n\r\n+FIS:1,5,0,2,0,0,0,0\r\n\r\nOK\r\n"
    );
    let (bm, wire) = stuffed_page();
    for (n, ppm) in [(1, b','), (2, b'.')] {
        assert_eq!(r.send("AT+FDT\r"), "");
        assert_eq!(r.wait(10), "\r\n+FCS:1,5,0,2,0,0,0,0\r\n\r\nCONNECT\r\n");
        r.bytes(&wire);
        r.bytes(&[DLE, ppm]);
        let expect = if n == 1 {
            "\r\nOK\r\n"
        } else {
            "\r\n+FHS:00\r\n\r\nOK\r\n"
        };
        assert_eq!(r.wait(10), expect);
    }
    let events = r.events();
    let pages: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Page { strip, info, .. } => Some((strip.clone(), *info)),
            _ => None,
        })
        .collect();
    assert_eq!(pages.len(), 2);
    let decoded = crate::t4::decode_page(&pages[0].0, 1728, crate::t4::Coding::Mh).unwrap();
    assert_eq!(decoded.bitmap, bm);
    assert_eq!(pages[1].1.page, 1);
    let rec = events
        .iter()
        .find_map(|e| match e {
            Event::CallEnded { record, .. } => Some(record.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(rec.pages.len(), 2);
    assert_eq!(rec.class, "2.0");
    assert_eq!(rec.hangup_code.as_deref(), Some("00"));
    assert_eq!(r.send("AT+FKS\r"), "\r\nOK\r\n");
}

#[test]
fn rtn_then_resend() {
    let mut r = rig();
    r.send("ATE0+FCLASS=2.0\r");
    r.send("ATD101\r");
    r.wait(60);
    let (_, wire) = stuffed_page();
    r.send("AT+FDT\r");
    r.wait(10);
    r.bytes(&wire);
    r.bytes(&[DLE, b'.']);
    assert_eq!(r.wait(10), "\r\nERROR\r\n");
    assert_eq!(r.send("AT+FPS?\r"), "\r\n+FPS:2\r\n\r\nOK\r\n");
    r.send("AT+FDT\r");
    r.wait(10);
    r.bytes(&wire);
    r.bytes(&[DLE, b'.']);
    assert_eq!(r.wait(10), "\r\n+FHS:00\r\n\r\nOK\r\n");
    let rec = &r.records()[0];
    assert_eq!((rec.pages.len(), rec.pages_rejected), (1, 1));
}

#[test]
fn hangups_in_phase_b_c_d() {
    let mut r = rig();
    r.send("ATE0+FCLASS=2.0\r");
    r.send("ATD102\r");
    assert_eq!(r.wait(60), "\r\n+FCO\r\n\r\n+FHS:25\r\n\r\nOK\r\n");
    assert_eq!(r.send("AT+FDT\r"), "\r\nERROR\r\n");

    let (_, wire) = stuffed_page();
    r.send("AT+FCLASS=2\r");
    r.send("ATD103\r");
    assert!(r.wait(60).contains("+FCON"));
    r.send("AT+FDT\r");
    assert_eq!(r.wait(10).as_bytes().last(), Some(&XON));
    r.bytes(&wire);
    r.bytes(&[DLE, ETX]);
    assert_eq!(r.wait(10), "\r\n+FHNG:43\r\n\r\nERROR\r\n");

    r.send("AT+FCLASS=2.0\r");
    r.send("ATD104\r");
    r.wait(60);
    r.send("AT+FDT\r");
    r.wait(10);
    r.bytes(&wire);
    r.bytes(&[DLE, b',']);
    assert_eq!(r.wait(10), "\r\n+FHS:52\r\n\r\nERROR\r\n");
    let recs = r.records();
    let codes: Vec<_> = recs
        .iter()
        .map(|c| c.hangup_code.clone().unwrap())
        .collect();
    assert_eq!(codes, ["25", "43", "52"]);
    assert_eq!(recs[2].pages.len(), 1, "phase D: the page itself arrived");
}

#[test]
fn class2_fet_and_fk() {
    let mut r = rig();
    r.send("ATE0+FCLASS=2\r");
    r.send("ATD100\r");
    assert_eq!(
        r.wait(60),
        "\r\n+FCON\r\n\r\n+FCSI:\"UNIT FAX\"\r\n\r\n+FDIS:1,5,0,2,0,0,0,0\r\n\r\nOK\r\n"
    );
    let (_, wire) = stuffed_page();
    r.send("AT+FDT\r");
    assert_eq!(
        r.wait(10),
        "\r\n+FDCS:1,5,0,2,0,0,0,0\r\n\r\nCONNECT\r\n\x11"
    );
    r.bytes(&wire);
    r.bytes(&[DLE, ETX]);
    assert_eq!(r.wait(10), "\r\nOK\r\n");
    r.send("AT+FET=2\r");
    assert_eq!(r.wait(10), "\r\n+FPTS:1\r\n\r\nOK\r\n");
    assert_eq!(r.send("AT+FK\r"), "\r\n+FHNG:0\r\n\r\nOK\r\n");
    let rec = &r.records()[0];
    assert_eq!(rec.pages.len(), 1);
    assert_eq!(rec.ended_by, "normal end");
}

#[test]
fn voice_call_with_dtmf_and_playback() {
    let mut r = rig();
    r.send("ATE0+FCLASS=8;+VSM=4,8000\r");
    r.send("ATD300\r");
    assert_eq!(r.wait(60), "\r\nVCON\r\n");
    assert_eq!(r.send("AT+VTX\r"), "\r\nCONNECT\r\n");
    r.bytes(&[1, 2, DLE, DLE, 3, DLE, ETX]);
    assert_eq!(r.out(), "", "OK only once the audio has played");
    assert_eq!(r.wait(1), "\r\nOK\r\n");
    assert_eq!(r.send("AT+VTS=1,{2,10},[440,0,5]\r"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+VRX\r"), "\r\nCONNECT\r\n");
    let got = r.advance(3.0);
    let events: Vec<u8> = got
        .windows(2)
        .filter(|w| w[0] == DLE)
        .map(|w| w[1])
        .collect();
    assert!(got.contains(&0xff), "µ-law silence");
    assert_eq!(events, b"vq42");
    let got = r.advance(2.0);
    assert!(
        got.windows(2).any(|w| w == [DLE, b's']),
        "silence after hello"
    );
    r.bytes(&[DLE, b'!']);
    assert_eq!(r.raw_out(), b"\x10\x03\r\nOK\r\n");
    let after = r.advance(10.0);
    assert_eq!(
        after, b"\x10b\x10d",
        "far end hangs up: busy, then dial tone"
    );
    assert_eq!(r.send("ATH\r"), "\r\nOK\r\n");
    let rec = &r.records()[0];
    assert_eq!(rec.dtmf_reported, "42");
    assert_eq!(rec.dtmf_sent, "12");
    assert_eq!(rec.audio_bytes_sent, 4);
    assert_eq!(rec.ended_by, "remote hangup");
}

#[test]
fn machine_greeting_length_shows_in_events() {
    let mut r = rig();
    r.send("ATE0+FCLASS=8\r");
    r.send("ATD301;\r");
    assert_eq!(r.wait(60), "\r\nOK\r\n");
    r.send("AT+VRX\r");
    let start = r.now;
    let mut v_at = None;
    let mut q_at = None;
    while q_at.is_none() && r.now - start < Duration::from_secs(20) {
        let b = r.advance(0.05);
        if b.windows(2).any(|w| w == [DLE, b'v']) {
            v_at = Some(r.now);
        }
        if b.windows(2).any(|w| w == [DLE, b'q']) {
            q_at = Some(r.now);
        }
    }
    let greeting = q_at.unwrap() - v_at.unwrap();
    assert!(greeting >= Duration::from_millis(7900) && greeting <= Duration::from_millis(8100));
}

#[test]
fn data_call_escape_and_online() {
    let mut r = rig();
    r.send("ATE0\r");
    r.send("ATD400\r");
    assert_eq!(r.wait(60), "\r\nCONNECT 14400\r\nWELCOME");
    r.advance(2.0);
    r.bytes(b"+++");
    assert_eq!(r.out(), "");
    assert_eq!(r.advance(1.1), b"\r\nOK\r\n");
    assert_eq!(r.send("ATO\r"), "\r\nCONNECT 14400\r\n");
    // "+++" right after data is data, not an escape.
    r.bytes(b"x+++");
    assert!(r.advance(2.0).is_empty());
    r.bytes(b"+++");
    assert_eq!(r.advance(1.1), b"\r\nOK\r\n");
    assert_eq!(r.send("ATH\r"), "\r\nOK\r\n");
    assert_eq!(r.records()[0].result, "CONNECT 14400");
}

#[test]
fn wedge_and_vanish() {
    let mut r = rig();
    r.send("ATE0\r");
    assert_eq!(r.send("ATD500\r"), "");
    assert_eq!(r.send("AT\r"), "");
    assert_eq!(r.advance(120.0), b"");
    let mut r = rig();
    r.send("ATE0\r");
    r.send("ATD501\r");
    assert!(r.m.is_gone());
    let ev = r.events();
    assert!(ev
        .iter()
        .any(|e| matches!(e, Event::Vanish { return_at: Some(_) })));
}

#[test]
fn noise_then_no_carrier() {
    let mut r = rig();
    r.send("ATE0\r");
    r.send("ATD600\r");
    let out = r.advance(30.0);
    assert_eq!(out.len(), 10 + "\r\nNO CARRIER\r\n".len());
    assert!(out.ends_with(b"\r\nNO CARRIER\r\n"));
}

#[test]
fn incoming_ring_with_caller_id_and_answer() {
    let mut r = rig_with(0, exchange(SCEN));
    r.send("ATE0\r");
    assert_eq!(r.send("ATA\r"), "\r\nERROR\r\n", "nothing rings yet");
    let t = r.wait(5);
    assert!(
        t.contains("NMBR=5551234") && t.contains("NAME=ALICE") && t.ends_with("RING\r\n"),
        "{t}"
    );
    assert_eq!(r.wait(10), "\r\nRING\r\n");
    r.send("AT+FCLASS=8\r");
    assert_eq!(r.send("ATA\r"), "\r\nVCON\r\n");
    assert_eq!(r.send("ATH\r"), "\r\nOK\r\n");
    let recs = r.records();
    assert_eq!(recs[0].direction, "in");
    assert_eq!(recs[0].number, "5551234");
}

#[test]
fn mr_page_when_both_sides_offer_2d() {
    let x = exchange(
        r#"
[[number]]
number = "1"
outcome = { kind = "fax", dis = "1,5,0,2,1,0,0,0" }
"#,
    );
    let mut r = rig_with(0, x);
    r.send("ATE0+FCLASS=2.0;+FIS=1,5,0,2,1,0,0,0\r");
    r.send("ATD1\r");
    r.wait(60);
    r.send("AT+FDT\r");
    assert_eq!(r.wait(10), "\r\n+FCS:1,5,0,2,1,0,0,0\r\n\r\nCONNECT\r\n");
    let (bm, _) = stuffed_page();
    let mut wire = Vec::new();
    for b in crate::t4::encode_mr(&bm) {
        if b == DLE {
            wire.push(DLE);
        }
        wire.push(b);
    }
    r.bytes(&wire);
    r.bytes(&[DLE, b'.']);
    assert_eq!(r.wait(10), "\r\n+FHS:00\r\n\r\nOK\r\n");
    let ev = r.events();
    let strip = ev
        .iter()
        .find_map(|e| match e {
            Event::Page { strip, info, .. } => {
                assert_eq!(info.coding, crate::t4::Coding::Mr);
                Some(strip.clone())
            }
            _ => None,
        })
        .unwrap();
    let got = crate::t4::decode_page(&strip, 1728, crate::t4::Coding::Mr).unwrap();
    assert_eq!(got.bitmap, bm);
}

#[test]
fn incoming_fax_caller_sends_cng_in_voice_mode() {
    let x = exchange(
        r#"
[[incoming]]
modem = 0
caller = "777"
fax = true
"#,
    );
    let mut r = rig_with(0, x);
    r.send("ATE0+FCLASS=8\r");
    assert!(r.wait(5).ends_with("RING\r\n"));
    assert_eq!(r.send("ATA\r"), "\r\nVCON\r\n");
    let got = r.advance(1.0);
    assert_eq!(got, [DLE, b'c']);
    r.send("ATH\r");
    assert_eq!(r.records()[0].outcome, "incoming-fax");
}

#[test]
fn dialling_again_ends_an_abandoned_call() {
    let mut r = rig();
    r.send("ATE0+FCLASS=2.0\r");
    r.send("ATD100\r");
    assert!(r.wait(60).ends_with("OK\r\n"));
    r.send("ATD200\r");
    assert_eq!(r.wait(60), "\r\nBUSY\r\n");
    let recs = r.records();
    assert_eq!(recs[0].ended_by, "abandoned by DTE");
    assert_eq!(recs[1].result, "BUSY");
}

mod class1;
