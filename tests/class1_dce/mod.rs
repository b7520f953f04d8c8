//! A scripted T.31 (Class 1) DCE with a fax receiver behind it, as far as a sender can tell: the
//! rig's own frames (bytes taken from an efax `-v` run through two iaxmodems) and faults a real
//! modem pair cannot be made to produce. Purely reactive: bytes in, bytes out, no clock. Shared
//! by the transcript tests (fed directly) and the pty tests (fed through a pseudo-terminal).

#![allow(dead_code)]

use redial::modem::t30::frame::{fcf, FrameReader};
use std::collections::VecDeque;

pub const DLE: u8 = 0x10;
pub const ETX: u8 = 0x03;

pub fn wire(spec_order: &[u8]) -> Vec<u8> {
    spec_order.iter().map(|b| b.reverse_bits()).collect()
}

/// Received frames exactly as efax logged them through the rig (its notation is bit-reversed;
/// each ends with the two FCS octets the DCE passes on).
pub fn rig_csi() -> Vec<u8> {
    let mut f = vec![0xff, 0xc0, 0x02];
    f.extend([0x04; 20]);
    f.extend([0xa4, 0xf3]);
    wire(&f)
}
pub fn rig_dis() -> Vec<u8> {
    wire(&[0xff, 0xc8, 0x01, 0x00, 0x76, 0x1e, 0xb3, 0x71])
}
pub fn rig_cfr() -> Vec<u8> {
    wire(&[0xff, 0xc8, 0x21, 0x57, 0xbe])
}
pub fn rig_mcf() -> Vec<u8> {
    wire(&[0xff, 0xc8, 0x31, 0x45, 0x8f])
}
/// The rig's DIS with bit 16 (2-D coding) set as well, as HylaFAX's receiver offers it.
pub fn dis_with_2d() -> Vec<u8> {
    // efax notation 76 -> 77: bit 16 is the last bit of the second FIF octet.
    wire(&[0xff, 0xc8, 0x01, 0x00, 0x77, 0x1e])
}
pub fn frame(f: u8) -> Vec<u8> {
    vec![0xff, 0x13, f]
}

#[derive(Default)]
pub struct Faults {
    pub ftt: u32,
    pub rtn_on_page: Option<u32>,
    pub rtn_times: u32,
    pub silent_ppm: u32,
    pub pin_on_page: Option<u32>,
    pub dial_result: Option<&'static str>,
    pub fcerror_first_frh: bool,
    pub ftm_error: bool,
    pub dis: Option<Vec<u8>>,
    pub ftm_codes: Option<&'static str>,
    /// The first answer to TCF comes only as the sender gives up waiting: its cancel of
    /// `+FRH=3` crosses the CFR frame's start, so CONNECT, the frame and OK arrive after it.
    pub cfr_as_cancelled: bool,
    /// ECM: the answers to successive PPS frames: `Some(frames)` = PPR listing those frame
    /// numbers, `None` = MCF; MCF once the list is used up.
    pub ppr: VecDeque<Vec<usize>>,
    /// ECM: answer CTC with CTR.
    pub ctr: bool,
    /// ECM: answer EOR with ERR (else stay silent).
    pub err: bool,
    /// ECM: answer this many PPS/RR frames with RNR before the PPS's answer.
    pub rnr: u32,
    /// ECM: answer every PPS, RR and CTC with a pseudo-random frame from this seed (MCF, PPR
    /// with a random map, RNR, CTR, or any FCF with a random FIF).
    pub chaos: Option<u64>,
}

#[derive(PartialEq)]
pub enum Mode {
    Command,
    Fth,
    Ftm(u32),
    Frh,
}

/// A T.31 DCE with a fax receiver behind it, as far as a sender can tell.
pub struct Dce {
    pub f: Faults,
    pub mode: Mode,
    pub line: Vec<u8>,
    pub reader: FrameReader,
    pub data: Vec<u8>,
    pub queue: VecDeque<Vec<u8>>,
    pub out: Vec<u8>,
    pub commands: Vec<String>,
    pub sent_frames: Vec<Vec<u8>>,
    pub pages: Vec<Vec<u8>>,
    pub tcf: Vec<(u32, usize)>,
    pub page_no: u32,
    pub frh_count: u32,
    pub awaiting_tcf: bool,
    /// A frame that starts just as the sender cancels the `+FRH=3` waiting for it.
    pub late_frame: Option<Vec<u8>>,
    /// The `+FTH` modulation in use (3 = V.21).
    pub fth_code: u32,
    /// ECM: each `+FTH=n` (n ≠ 3) transmission: its code and frames (no FCS).
    pub ecm_tx: Vec<(u32, Vec<Vec<u8>>)>,
    /// ECM: the FIF of every PPS received.
    pub pps: Vec<Vec<u8>>,
    /// ECM: the FIF of every CTC received.
    pub ctc: Vec<Vec<u8>>,
    /// ECM: the FIF of every EOR received.
    pub eor: Vec<Vec<u8>>,
}

impl Dce {
    pub fn new(f: Faults) -> Dce {
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
            late_frame: None,
            fth_code: 3,
            ecm_tx: Vec::new(),
            pps: Vec::new(),
            ctc: Vec::new(),
            eor: Vec::new(),
        }
    }

    pub fn say(&mut self, s: &str) {
        self.out.extend(format!("\r\n{s}\r\n").bytes());
    }

    pub fn deliver(&mut self, frame: Vec<u8>) {
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

    pub fn input(&mut self, bytes: &[u8]) {
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
                    if let Some(f) = self.late_frame.take() {
                        self.deliver(f);
                    } else {
                        self.say("OK");
                    }
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
                    // DLE ETX ends the data unless that DLE is the second of an escaped pair.
                    let dles = self.data[..n - 1]
                        .iter()
                        .rev()
                        .take_while(|b| **b == DLE)
                        .count();
                    if b == ETX && dles % 2 == 1 {
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
                            } else if self.f.cfr_as_cancelled {
                                self.f.cfr_as_cancelled = false;
                                self.late_frame = Some(rig_cfr());
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
        if self.fth_code != 3 {
            // ECM frames at a page modulation: CONNECT after each, OK after an empty one.
            if f.is_empty() {
                self.mode = Mode::Command;
                self.fth_code = 3;
                return self.say("OK");
            }
            if let Some((_, frames)) = self.ecm_tx.last_mut() {
                frames.push(f);
            }
            return self.say("CONNECT");
        }
        let Some(&control) = f.get(1) else {
            self.mode = Mode::Command;
            return self.say("OK");
        };
        let last = control == 0x13;
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
            fcf::PPS | fcf::RR | fcf::CTC | fcf::EOR if self.f.chaos.is_some() => {
                let mut seed = self.f.chaos.unwrap_or(1);
                let mut rnd = || {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed
                };
                let f = match rnd() % 7 {
                    0 => rig_mcf(),
                    5 => frame(fcf::ERR),
                    1 => frame(fcf::RNR),
                    2 => frame(fcf::CTR),
                    3 | 4 => {
                        let mut f = frame(fcf::PPR);
                        let n = (rnd() % 40) as usize;
                        f.extend((0..n).map(|_| rnd() as u8));
                        f
                    }
                    _ => {
                        let mut f = frame(rnd() as u8);
                        let n = (rnd() % 6) as usize;
                        f.extend((0..n).map(|_| rnd() as u8));
                        f
                    }
                };
                self.f.chaos = Some(seed);
                self.queue.push_back(f);
            }
            fcf::PPS | fcf::RR => {
                let fif = f_fif(&self.sent_frames);
                if kind == fcf::PPS {
                    self.pps.push(fif);
                }
                if self.f.rnr > 0 {
                    self.f.rnr -= 1;
                    return self.queue.push_back(frame(fcf::RNR));
                }
                let ppm = self
                    .pps
                    .last()
                    .and_then(|f| f.first())
                    .copied()
                    .unwrap_or(0)
                    & 0xFE;
                match self.f.ppr.pop_front() {
                    Some(bad) if !bad.is_empty() => {
                        let mut map = vec![0u8; 32];
                        for n in bad {
                            map[n / 8] |= 1 << (n % 8);
                        }
                        let mut f = frame(fcf::PPR);
                        f.extend(map);
                        self.queue.push_back(f);
                    }
                    _ => {
                        if ppm != 0 {
                            self.page_no += 1;
                        }
                        self.queue.push_back(rig_mcf());
                    }
                }
            }
            fcf::EOR => {
                let fif = f_fif(&self.sent_frames);
                if fif.first().is_some_and(|p| *p != 0) {
                    self.page_no += 1;
                }
                self.eor.push(fif);
                if self.f.err {
                    self.queue.push_back(frame(fcf::ERR));
                }
            }
            fcf::CTC => {
                let fif = f_fif(&self.sent_frames);
                self.ctc.push(fif);
                if self.f.ctr {
                    self.queue.push_back(frame(fcf::CTR));
                }
            }
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
            c if c.starts_with("+FTH=") => {
                let code: u32 = c[5..].parse().unwrap_or(0);
                self.mode = Mode::Fth;
                self.fth_code = code;
                self.ecm_tx.push((code, Vec::new()));
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

/// The FIF of the last frame sent.
fn f_fif(sent: &[Vec<u8>]) -> Vec<u8> {
    sent.last()
        .map(|f| f.get(3..).unwrap_or_default().to_vec())
        .unwrap_or_default()
}

/// The rig's DIS with 2-D (bit 16), ECM (bits 24, 27) and T.6 (bit 31) as well, as HylaFAX's
/// receiver offers them.
pub fn dis_with_ecm_mmr() -> Vec<u8> {
    let mut d = wire(&[0xff, 0xc8, 0x01, 0x00, 0x77, 0x1e]);
    d[5] |= 0x80; // bit 24: extension
    d.push(0x04 | 0x40); // bits 27 (ECM) and 31 (T.6)
    d
}
