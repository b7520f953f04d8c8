//! The Class 1 sender against scripted DCEs: the rig's own exchange (bytes taken from an efax
//! `-v` run through two iaxmodems, see `../shared/spec/iaxmodem-rig.md`) and faults a real
//! modem pair cannot be made to produce (FTT, RTN, silence, +FCERROR, PIN). A fake clock drives
//! every T.30 timer, so a T4 expiry costs nothing.

use redial::fax::{render_text, Page};
use redial::modem::dialstring::DialString;
use redial::modem::fax_send::{FaxEvent, FaxResult, FaxTimeouts};
use redial::modem::t30::frame::{fcf, FrameReader};
use redial::modem::t30::{Class1Plan, Class1Send, T30Timers};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

const DLE: u8 = 0x10;
const ETX: u8 = 0x03;

fn wire(spec_order: &[u8]) -> Vec<u8> {
    spec_order.iter().map(|b| b.reverse_bits()).collect()
}

/// Received frames exactly as efax logged them through the rig (its notation is bit-reversed;
/// each ends with the two FCS octets the DCE passes on).
fn rig_csi() -> Vec<u8> {
    let mut f = vec![0xff, 0xc0, 0x02];
    f.extend([0x04; 20]);
    f.extend([0xa4, 0xf3]);
    wire(&f)
}
fn rig_dis() -> Vec<u8> {
    wire(&[0xff, 0xc8, 0x01, 0x00, 0x76, 0x1e, 0xb3, 0x71])
}
fn rig_cfr() -> Vec<u8> {
    wire(&[0xff, 0xc8, 0x21, 0x57, 0xbe])
}
fn rig_mcf() -> Vec<u8> {
    wire(&[0xff, 0xc8, 0x31, 0x45, 0x8f])
}
fn frame(f: u8) -> Vec<u8> {
    vec![0xff, 0x13, f]
}

#[derive(Default)]
struct Faults {
    ftt: u32,
    rtn_on_page: Option<u32>,
    rtn_times: u32,
    silent_ppm: u32,
    pin_on_page: Option<u32>,
    dial_result: Option<&'static str>,
    fcerror_first_frh: bool,
    ftm_error: bool,
    dis: Option<Vec<u8>>,
    ftm_codes: Option<&'static str>,
}

#[derive(PartialEq)]
enum Mode {
    Command,
    Fth,
    Ftm(u32),
    Frh,
}

/// A T.31 DCE with a fax receiver behind it, as far as a sender can tell.
struct Dce {
    f: Faults,
    mode: Mode,
    line: Vec<u8>,
    reader: FrameReader,
    data: Vec<u8>,
    queue: VecDeque<Vec<u8>>,
    out: Vec<u8>,
    pub commands: Vec<String>,
    pub sent_frames: Vec<Vec<u8>>,
    pub pages: Vec<Vec<u8>>,
    pub tcf: Vec<(u32, usize)>,
    page_no: u32,
    frh_count: u32,
    awaiting_tcf: bool,
}

impl Dce {
    fn new(f: Faults) -> Dce {
        Dce {
            f,
            mode: Mode::Command,
            line: Vec::new(),
            reader: FrameReader::default(),
            data: Vec::new(),
            queue: VecDeque::new(),
            out: Vec::new(),
            commands: Vec::new(),
            sent_frames: Vec::new(),
            pages: Vec::new(),
            tcf: Vec::new(),
            page_no: 1,
            frh_count: 0,
            awaiting_tcf: false,
        }
    }

    fn say(&mut self, s: &str) {
        self.out.extend(format!("\r\n{s}\r\n").bytes());
    }

    fn deliver(&mut self, frame: Vec<u8>) {
        self.say("CONNECT");
        let mut esc = Vec::new();
        for b in frame {
            esc.push(b);
            if b == DLE {
                esc.push(DLE);
            }
        }
        self.out.extend(esc);
        self.out.extend([DLE, ETX]);
        self.say("OK");
    }

    fn input(&mut self, bytes: &[u8]) {
        for &b in bytes {
            match self.mode {
                Mode::Command => {
                    if b == b'\r' {
                        let cmd =
                            String::from_utf8_lossy(&std::mem::take(&mut self.line)).to_string();
                        self.command(cmd);
                    } else {
                        self.line.push(b);
                    }
                }
                Mode::Frh => {
                    // Any byte cancels a waiting +FRH.
                    self.mode = Mode::Command;
                    self.say("OK");
                }
                Mode::Fth => {
                    if self.reader.push(&[b]).is_some() {
                        let f = self.reader.take();
                        self.sent(f);
                    }
                }
                Mode::Ftm(code) => {
                    self.data.push(b);
                    let n = self.data.len();
                    if n >= 2 && self.data[n - 2] == DLE && self.data[n - 1] == ETX {
                        let esc = std::mem::take(&mut self.data);
                        let mut plain = Vec::new();
                        let mut i = 0;
                        while i < esc.len() - 2 {
                            plain.push(esc[i]);
                            i += if esc[i] == DLE { 2 } else { 1 };
                        }
                        self.mode = Mode::Command;
                        self.say("OK");
                        if plain.iter().all(|b| *b == 0) && plain.len() > 100 && self.tcf_expected()
                        {
                            self.awaiting_tcf = false;
                            self.tcf.push((code, plain.len()));
                            if self.f.ftt > 0 {
                                self.f.ftt -= 1;
                                self.queue.push_back(frame(fcf::FTT));
                            } else {
                                self.queue.push_back(rig_cfr());
                            }
                        } else {
                            self.pages.push(plain);
                        }
                    }
                }
            }
        }
    }

    fn tcf_expected(&self) -> bool {
        self.awaiting_tcf
    }

    fn sent(&mut self, f: Vec<u8>) {
        let last = f[1] == 0x13;
        let kind = f[2] & 0xFE;
        self.sent_frames.push(f);
        if !last {
            self.say("CONNECT");
            return;
        }
        self.mode = Mode::Command;
        self.say("OK");
        match kind {
            fcf::DCS => self.awaiting_tcf = true,
            fcf::MPS | fcf::EOP | fcf::EOM => {
                if self.f.silent_ppm > 0 {
                    self.f.silent_ppm -= 1;
                    return;
                }
                let page = self.page_no;
                if self.f.pin_on_page == Some(page) {
                    self.queue.push_back(frame(fcf::PIN));
                } else if self.f.rtn_on_page == Some(page) && self.f.rtn_times > 0 {
                    self.f.rtn_times -= 1;
                    self.queue.push_back(frame(fcf::RTN));
                } else {
                    self.page_no += 1;
                    self.queue.push_back(rig_mcf());
                }
            }
            _ => {}
        }
    }

    fn command(&mut self, cmd: String) {
        self.commands.push(cmd.clone());
        let c = cmd.trim_start_matches("AT");
        match c {
            "+FTM=?" => {
                let codes = self
                    .f
                    .ftm_codes
                    .unwrap_or("24,48,72,73,74,96,97,98,121,122,145,146");
                self.say(codes);
                self.say("OK");
            }
            "+FRH=3" => {
                self.frh_count += 1;
                if self.f.fcerror_first_frh && self.frh_count == 1 {
                    return self.say("+FCERROR");
                }
                match self.queue.pop_front() {
                    Some(f) => self.deliver(f),
                    None => self.mode = Mode::Frh,
                }
            }
            "+FTH=3" => {
                self.mode = Mode::Fth;
                self.say("CONNECT");
            }
            c if c.starts_with("+FTM=") => {
                if self.f.ftm_error && !self.tcf_expected() {
                    return self.say("ERROR");
                }
                self.mode = Mode::Ftm(c[5..].parse().unwrap());
                self.say("CONNECT");
            }
            c if c.starts_with('D') => {
                if let Some(r) = self.f.dial_result {
                    return self.say(r);
                }
                self.deliver(rig_csi());
                self.queue
                    .push_back(self.f.dis.clone().unwrap_or_else(rig_dis));
            }
            _ => self.say("OK"),
        }
    }
}

struct Run {
    result: FaxResult,
    dce: Dce,
    events: Vec<FaxEvent>,
    elapsed: Duration,
}

fn run(plan: Class1Plan, faults: Faults) -> Run {
    let start = Instant::now();
    let mut t = start;
    let mut m = Class1Send::new(t, plan, FaxTimeouts::default(), T30Timers::default());
    let mut dce = Dce::new(faults);
    let mut events = Vec::new();
    for _ in 0..10_000 {
        while let Some(tx) = m.poll_transmit() {
            dce.input(&tx);
        }
        if m.is_done() {
            break;
        }
        if !dce.out.is_empty() {
            let out = std::mem::take(&mut dce.out);
            // Deliver in small chunks, as a port would.
            for chunk in out.chunks(7) {
                m.feed(t, chunk);
            }
            continue;
        }
        let next = m
            .poll_timeout()
            .expect("a machine with nothing to do must wait for something");
        t = t.max(next);
        m.handle_timeout(t);
    }
    while let Some(e) = m.poll_event() {
        events.push(e);
    }
    let result = events
        .iter()
        .find_map(|e| match e {
            FaxEvent::Finished(r) => Some(r.clone()),
            _ => None,
        })
        .expect("finished");
    Run {
        result,
        dce,
        events,
        elapsed: t - start,
    }
}

fn pages(n: usize) -> Vec<Page> {
    (0..n)
        .flat_map(|i| render_text(format!("page {}\n", i + 1).as_bytes()))
        .collect()
}

fn plan(n: usize) -> Class1Plan {
    Class1Plan {
        dial: DialString::new("5550002", "").unwrap(),
        pages: pages(n),
        fine: true,
        two_d: false,
        local_id: "+1 555 0001".into(),
        init: vec![],
        max_speed: 5,
        page_retries: 2,
    }
}

fn kinds(d: &Dce) -> Vec<&'static str> {
    d.sent_frames
        .iter()
        .map(|f| redial::modem::t30::frame::fcf_name(f[2]))
        .collect()
}

#[test]
fn the_rigs_exchange_one_page() {
    let r = run(plan(1), Faults::default());
    assert_eq!(r.result.code, 0, "{:?}", r.events);
    assert_eq!((r.result.pages_sent, r.result.baud), (1, 14400));
    assert_eq!(r.result.remote_id, "");
    assert_eq!(kinds(&r.dce), ["TSI", "DCS", "EOP", "DCN"]);
    // Our DCS is the one efax sent through the rig: "ff c8 c1 00 46 1e" in its notation.
    assert_eq!(
        r.dce.sent_frames[1],
        wire(&[0xff, 0xc8, 0xc1, 0x00, 0x46, 0x1e])
    );
    assert_eq!(&r.dce.sent_frames[0][..3], [0xff, 0x03, 0x43]);
    assert_eq!(r.dce.sent_frames[2], [0xff, 0x13, 0x2f]);
    assert_eq!(r.dce.tcf, [(145, 2700)]);
    assert_eq!(
        r.dce.commands,
        [
            "ATZ",
            "ATE0",
            "ATV1",
            "ATQ0",
            "ATX4",
            "AT+FCLASS=1",
            "AT+FTM=?",
            "ATDT5550002",
            "AT+FRH=3",
            "AT+FRS=7",
            "AT+FTH=3",
            "AT+FTS=8",
            "AT+FTM=145",
            "AT+FRH=3",
            "AT+FRS=7",
            "AT+FTM=146",
            "AT+FTS=8",
            "AT+FTH=3",
            "AT+FRH=3",
            "AT+FTH=3",
            "ATH0"
        ]
    );
    // The page ends with RTC and decodes to the page we gave (fine, 1728 wide).
    let data = &r.dce.pages[0];
    let want = plan(1).pages[0].to_resolution(redial::fax::Resolution::Fine);
    let got = redial::fax::decode::decode(
        data,
        1728,
        want.lines(),
        redial::fax::Scheme::Mh,
        redial::fax::BitOrder::LsbFirst,
    )
    .expect("the page decodes");
    assert_eq!(&got, want.bitmap());
    // RTC: the page ends with six EOLs (000000000001) in transmission order, then fill.
    let bits: String = data[data.len() - 12..]
        .iter()
        .flat_map(|b| (0..8).map(move |i| if b >> i & 1 == 1 { '1' } else { '0' }))
        .collect();
    assert!(
        bits.trim_end_matches('0')
            .ends_with(&"000000000001".repeat(6)),
        "{bits}"
    );
    assert!(r.events.contains(&FaxEvent::PageSent(1)));
}

#[test]
fn ftt_once_then_cfr_steps_down_one_speed() {
    let r = run(
        plan(1),
        Faults {
            ftt: 1,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 0);
    assert_eq!(r.result.baud, 12000);
    assert_eq!(r.dce.tcf, [(145, 2700), (121, 2250)]);
    assert_eq!(kinds(&r.dce), ["TSI", "DCS", "TSI", "DCS", "EOP", "DCN"]);
    assert!(r.dce.commands.contains(&"AT+FTM=122".to_string()));
}

#[test]
fn ftt_at_every_speed_is_failure_to_train() {
    let r = run(
        plan(1),
        Faults {
            ftt: 99,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 1027);
    let codes: Vec<u32> = r.dce.tcf.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, [145, 121, 97, 96, 73, 72, 48, 24]);
    assert_eq!(kinds(&r.dce).last(), Some(&"DCN"));
}

#[test]
fn a_speed_cap_and_a_v29_only_receiver() {
    let r = run(
        Class1Plan {
            max_speed: 3,
            ..plan(1)
        },
        Faults::default(),
    );
    assert_eq!((r.result.code, r.result.baud), (0, 9600));
    assert_eq!(r.dce.tcf[0].0, 97);
    // DIS with rate bits 1000 (V.29 only), standard resolution only, 20 ms scan time.
    let dis = vec![0xff, 0x13, 0x80, 0x00, 0x02 | 0x04, 0x00]; // bits 10 and 11
    let r = run(
        plan(1),
        Faults {
            dis: Some(dis),
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.baud), (0, 9600));
    assert_eq!(r.dce.tcf[0].0, 96);
    let dcs = &r.dce.sent_frames[1][3..];
    assert_eq!(dcs[1] & 0x40, 0, "standard resolution: bit 15 clear");
    // 20 ms at 9600 bit/s: every coded line is at least 24 bytes.
    assert!(r.dce.pages[0].len() >= 24 * plan(1).pages[0].to_standard().lines() as usize);
}

#[test]
fn rtn_on_page_two_retrains_and_resends() {
    let r = run(
        plan(3),
        Faults {
            rtn_on_page: Some(2),
            rtn_times: 1,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 0, "{:?}", r.events);
    assert_eq!(r.result.pages_sent, 3);
    assert_eq!(r.dce.pages.len(), 4, "page 2 went twice");
    assert_eq!(r.dce.pages[1], r.dce.pages[2]);
    assert_eq!(
        kinds(&r.dce),
        ["TSI", "DCS", "MPS", "MPS", "TSI", "DCS", "MPS", "EOP", "DCN"]
    );
}

#[test]
fn rtn_beyond_the_limit_is_20_with_partial_pages() {
    let r = run(
        plan(3),
        Faults {
            rtn_on_page: Some(2),
            rtn_times: 9,
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.pages_sent), (20, 1));
    assert_eq!(kinds(&r.dce).last(), Some(&"DCN"));
}

#[test]
fn no_mcf_three_times_is_1054_after_eop_and_1052_after_mps() {
    let r = run(
        plan(1),
        Faults {
            silent_ppm: 3,
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.pages_sent), (1054, 0));
    assert_eq!(kinds(&r.dce), ["TSI", "DCS", "EOP", "EOP", "EOP", "DCN"]);
    // Three T4 waits (3 s each) plus the cancels: the fake clock moved, no real time passed.
    assert!(r.elapsed >= Duration::from_secs(9));
    let r = run(
        plan(2),
        Faults {
            silent_ppm: 3,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 1052);
    // Silence twice, then MCF: the page counts.
    let r = run(
        plan(1),
        Faults {
            silent_ppm: 2,
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.pages_sent), (0, 1));
}

#[test]
fn pin_is_1058() {
    let r = run(
        plan(2),
        Faults {
            pin_on_page: Some(2),
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.pages_sent), (1058, 1));
}

#[test]
fn fcerror_on_a_frame_reception_is_retried() {
    let r = run(
        plan(1),
        Faults {
            fcerror_first_frh: true,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 0);
}

#[test]
fn page_carrier_refused_is_1040() {
    let r = run(
        plan(1),
        Faults {
            ftm_error: true,
            ..Faults::default()
        },
    );
    assert_eq!(r.result.code, 1040);
}

#[test]
fn call_placement_results() {
    for (text, code) in [
        ("BUSY", 2),
        ("NO ANSWER", 1),
        ("NO DIALTONE", 4),
        ("NO CARRIER", 3),
        ("ERROR", 5),
    ] {
        let r = run(
            plan(1),
            Faults {
                dial_result: Some(text),
                ..Faults::default()
            },
        );
        assert_eq!(r.result.code, code, "{text}");
        assert_eq!(r.dce.commands.last().map(String::as_str), Some("ATH0"));
    }
}

#[test]
fn no_dis_before_t1_is_1011() {
    // The receiver answers, sends CSI, and then nothing: T1 runs out.
    let r = run(
        plan(1),
        Faults {
            dis: Some(frame(fcf::NSF)),
            ..Faults::default()
        },
    );
    // NSF as a final frame is not a DIS: keep listening until T1.
    assert_eq!(r.result.code, 1023);
    assert!(r.elapsed >= Duration::from_secs(35));
}

#[test]
fn a_silent_modem_is_34_and_unresponsive() {
    let start = Instant::now();
    let mut m = Class1Send::new(start, plan(1), FaxTimeouts::default(), T30Timers::default());
    while !m.is_done() {
        while m.poll_transmit().is_some() {}
        let t = m.poll_timeout().unwrap();
        m.handle_timeout(t);
    }
    let r = std::iter::from_fn(|| m.poll_event())
        .find_map(|e| match e {
            FaxEvent::Finished(r) => Some(r),
            _ => None,
        })
        .unwrap();
    assert_eq!(r.code, 34);
    assert!(r.modem_unresponsive);
}

#[test]
fn a_modem_without_v17_trains_at_v29() {
    let r = run(
        plan(1),
        Faults {
            ftm_codes: Some("24,48,72,96"),
            ..Faults::default()
        },
    );
    assert_eq!((r.result.code, r.result.baud), (0, 9600));
    assert_eq!(r.dce.tcf[0].0, 96);
}
