//! Class 1 (T.31) as the DTE sees it: `+FTH=3`/`+FRH=3` HDLC frames, `+FTM`/`+FRM` high-speed
//! carriers, `+FTS`/`+FRS` pauses, and the implicit `+FRH=3` after `ATD`, with the simulated
//! remote receiver ([`super::remote`]) on the other end of the line.
//!
//! Owns the DTE framing (DLE stuffing, `DLE ETX`, CONNECT before each frame to send, OK/ERROR
//! after each frame received with its FCS, the final-frame bit, aborting a receive with any
//! character) and the line time of everything crossing the line: the remote's frames are "in
//! the air" from the moment they would end, and a `+FRH=3` delivers each no sooner. A
//! transmission from the DTE while the remote talks loses the remote's frames (collision).
//! Never decides T.30 matters; that is the remote's.

use super::commands::{Done, Op};
use super::remote::{Remote, Verdict};
use super::t30;
use super::{Modem, Res, State, TimerKind, DLE, ETX, SUB};
use crate::scenario::FaxAnswer;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Longest page data kept (bytes); more is dropped (a page is far smaller).
const MAX_DATA: usize = 16 << 20;
/// Longest HDLC frame kept.
const MAX_FRAME: usize = 512;
/// V.21 flag preamble before the first frame of a transmission (line seconds).
const PREAMBLE: f64 = 1.0;
/// Turn-around: the remote answers this long after the sender's signal ended.
const TURNAROUND: f64 = 0.1;
/// T4: the remote repeats DIS after this much silence (line seconds).
const T4: f64 = 3.0;

/// A frame from the remote, complete at `at`.
#[derive(Debug)]
struct Air {
    at: Instant,
    bytes: Vec<u8>,
    garbled: bool,
}

/// The Class 1 side of a call: the remote and what is on the line.
#[derive(Debug)]
pub(crate) struct Line {
    pub remote: Remote,
    air: VecDeque<Air>,
    /// When the remote's transmitter falls silent.
    remote_free: Instant,
    /// The DTE already has CONNECT for the next frame (after `ATD`).
    connected: bool,
}

/// Bytes from the DTE after `+FTH=3`/`+FTM` CONNECT.
#[derive(Debug)]
pub struct TxBuf {
    hdlc: bool,
    code: u32,
    data: Vec<u8>,
    dle: bool,
    /// When this frame or data starts on the line.
    start: Instant,
    /// The first frame of this `+FTH=3` (carries the preamble).
    first: bool,
    /// When the first byte came (a DTE may prepare its page after CONNECT; the modem sends
    /// fill meanwhile).
    first_byte: Option<Instant>,
}

/// Seconds a training sequence lasts before data (line time).
fn training_secs(code: u32) -> f64 {
    match t30::modulation(code) {
        Some((t30::Family::V17, _, true)) => 1.4,
        Some((t30::Family::V17, _, false)) => 0.15,
        Some((t30::Family::V29, _, _)) => 0.25,
        Some((t30::Family::V27, 2400, _)) => 0.95,
        _ => 0.7,
    }
}

fn stuff_into(out: &mut Vec<u8>, data: &[u8]) {
    for &b in data {
        if b == DLE {
            out.push(DLE);
        }
        out.push(b);
    }
}

impl Modem {
    fn c1_line(&mut self) -> Option<&mut Line> {
        self.call.as_mut()?.c1.as_mut()
    }

    /// The remote answered a Class 1 call: CONNECT, then its CSI and DIS as if `+FRH=3`.
    pub(crate) fn c1_answered(&mut self, now: Instant, answer: FaxAnswer) {
        let mut remote = Remote::new(answer);
        remote.greet();
        if let Some(c) = self.call.as_mut() {
            c.rec.result = "CONNECT".into();
            c.up = true;
            c.c1 = Some(Line {
                remote,
                air: VecDeque::new(),
                remote_free: now,
                connected: true,
            });
        }
        self.result(Res::Connect(None));
        self.c1_pump(now);
        self.c1_receive(now, true);
    }

    /// Move what the remote said into the air (one transmission starting at `base`), and act
    /// on its verdicts.
    fn c1_pump(&mut self, base: Instant) {
        let scale = self.cfg.time_scale;
        let secs = move |s: f64| Duration::from_secs_f64(s.max(0.0) * scale);
        let Some(line) = self.c1_line() else { return };
        let frames = std::mem::take(&mut line.remote.out);
        let verdicts = std::mem::take(&mut line.remote.verdicts);
        let mut t = base.max(line.remote_free);
        for (i, f) in frames.into_iter().enumerate() {
            let pre = if i == 0 { PREAMBLE } else { 0.0 };
            t += secs(pre + (f.bytes.len() as f64 + 3.0) * 8.0 / 300.0);
            line.air.push_back(Air {
                at: t,
                bytes: f.bytes,
                garbled: f.garbled,
            });
        }
        line.remote_free = t;
        for v in verdicts {
            match v {
                Verdict::Store { data, page, dcs } => {
                    self.store_page(&data, page, dcs);
                }
                Verdict::Rejected => {
                    if let Some(c) = self.call.as_mut() {
                        c.rec.pages_rejected += 1;
                    }
                }
            }
        }
    }

    /// Wait for the remote's next frame (`+FRH=3`, or implicitly after `ATD`).
    fn c1_receive(&mut self, now: Instant, after_dial: bool) {
        self.c1_gen += 1;
        let gen = self.c1_gen;
        let t4 = self.scale_secs(T4);
        let Some(line) = self.c1_line() else { return };
        line.connected = after_dial;
        let next = line.air.front().map(|a| a.at.max(now));
        let waits = line.remote.waits_for_dcs();
        self.state = State::C1Rx { gen };
        match next {
            Some(at) => self.at(at, TimerKind::C1Deliver(gen)),
            None if waits => self.at(now + t4, TimerKind::C1T4(gen)),
            None => {}
        }
    }

    /// Commands `+FTH +FRH +FTM +FRM +FTS +FRS`.
    pub(crate) fn cmd_class1(&mut self, now: Instant, name: &str, op: Op) -> Done {
        if self.fclass != super::FClass::Fax1 {
            return Done::Error;
        }
        let hdlc = matches!(name, "FTH" | "FRH");
        let value = match op {
            Op::Test => {
                let list = match name {
                    "FTH" | "FRH" => "3".to_string(),
                    "FTM" | "FRM" => t30::CODES
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                    _ => "0-255".to_string(),
                };
                self.info(&list);
                return Done::Next;
            }
            Op::Set(v) => match v.trim().parse::<u32>() {
                Ok(n) => n,
                Err(_) => return Done::Error,
            },
            _ => return Done::Error,
        };
        if matches!(name, "FTS" | "FRS") {
            if value > 255 {
                return Done::Error;
            }
            self.c1_gen += 1;
            let gen = self.c1_gen;
            self.state = if name == "FRS" {
                State::C1Rx { gen }
            } else {
                State::Busy { dialling: false }
            };
            let at = now + self.scale_secs(value as f64 / 100.0);
            self.at(at, TimerKind::C1Pause(gen));
            return Done::Started;
        }
        let valid = if hdlc {
            // `+FTH=n` at a page modulation carries ECM frames (T.30 Annex A).
            value == 3 || (name == "FTH" && t30::CODES.contains(&value))
        } else {
            t30::CODES.contains(&value)
        };
        let Some(line) = self.c1_line().filter(|_| valid) else {
            return Done::Error;
        };
        let gone = line.remote.gone.is_some();
        match name {
            "FTH" | "FTM" => {
                // Whatever the remote was saying is lost under our carrier.
                line.air.clear();
                self.state = State::Busy { dialling: false };
                let delay = if hdlc && value == 3 {
                    0.2
                } else {
                    training_secs(value)
                };
                let at = now + self.scale_secs(delay);
                self.at(
                    at,
                    TimerKind::C1Connect {
                        hdlc,
                        code: value,
                        start: at,
                    },
                );
            }
            _ => {
                let quiet = line.air.is_empty();
                if gone && quiet {
                    self.result(Res::NoCarrier);
                } else if hdlc {
                    self.c1_receive(now, false);
                } else if !quiet {
                    // V.21 frames on the line while a high-speed carrier is expected.
                    self.result(Res::FcError);
                } else {
                    // The remote never sends page data: wait until the DTE gives up.
                    self.c1_gen += 1;
                    self.state = State::C1Rx { gen: self.c1_gen };
                }
            }
        }
        Done::Started
    }

    /// The transmitter is up: CONNECT, the DTE's bytes follow.
    pub(crate) fn c1_connect(&mut self, hdlc: bool, code: u32, start: Instant) {
        if self.c1_line().is_none() {
            self.state = State::Command;
            self.result(Res::Error);
            return;
        }
        self.state = State::C1Tx(TxBuf {
            hdlc,
            code,
            data: Vec::new(),
            dle: false,
            start,
            first: true,
            first_byte: None,
        });
        self.result(Res::Connect(None));
    }

    /// A byte from the DTE while it sends a frame or page data.
    pub(crate) fn c1_tx_byte(&mut self, now: Instant, b: u8) {
        let State::C1Tx(buf) = &mut self.state else {
            return;
        };
        buf.first_byte.get_or_insert(now);
        let cap = if buf.hdlc { MAX_FRAME } else { MAX_DATA };
        let v: &[u8] = if buf.dle {
            buf.dle = false;
            match b {
                ETX => return self.c1_tx_end(now),
                DLE => &[DLE],
                SUB => &[DLE, DLE],
                _ => &[], // other shielded codes mean nothing here
            }
        } else if b == DLE {
            buf.dle = true;
            &[]
        } else {
            std::slice::from_ref(&b)
        };
        if buf.data.len() + v.len() <= cap {
            buf.data.extend_from_slice(v);
        }
    }

    fn c1_tx_end(&mut self, now: Instant) {
        let State::C1Tx(buf) = std::mem::replace(&mut self.state, State::Busy { dialling: false })
        else {
            return;
        };
        let scale = self.cfg.time_scale;
        let secs = move |s: f64| Duration::from_secs_f64(s.max(0.0) * scale);
        if buf.hdlc {
            let last = buf.data.get(1).is_none_or(|c| c & 0x10 != 0);
            let v21 = buf.code == 3;
            let pre = if buf.first && v21 { PREAMBLE } else { 0.0 };
            let bps = if v21 {
                300.0
            } else {
                f64::from(t30::modulation(buf.code).map_or(2400, |m| m.1))
            };
            let end = (buf.start + secs(pre + (buf.data.len() as f64 + 3.0) * 8.0 / bps)).max(now);
            if let Some(line) = self.c1_line() {
                if v21 {
                    line.remote.hear_frame(&buf.data);
                } else {
                    line.remote.hear_ecm_frame(buf.code, &buf.data);
                }
            }
            self.c1_pump(end + secs(TURNAROUND));
            if last {
                self.at(end, TimerKind::C1TxDone);
            } else {
                self.state = State::C1Tx(TxBuf {
                    data: Vec::new(),
                    dle: false,
                    start: end,
                    first: false,
                    first_byte: None,
                    ..buf
                });
                self.result(Res::Connect(None));
            }
        } else {
            let bps = t30::modulation(buf.code).map_or(2400, |m| m.1);
            let start = buf.first_byte.unwrap_or(buf.start).max(buf.start);
            let mut end = (start + secs(buf.data.len() as f64 * 8.0 / f64::from(bps))).max(now);
            if let Some(line) = self.c1_line() {
                if line.remote.takes_page() {
                    // efax divides by the whole seconds from its first page byte to the OK
                    // (SIGFPE when 0).
                    end = end.max(start + super::fax::MIN_PAGE_REAL);
                }
                line.remote.hear_data(buf.code, buf.data);
            }
            self.c1_pump(end + secs(TURNAROUND));
            self.at(end, TimerKind::C1TxDone);
        }
    }

    /// The DTE's frame or data has left: OK.
    pub(crate) fn c1_tx_done(&mut self) {
        self.state = State::Command;
        self.result(Res::Ok);
    }

    /// Any character while receiving (or in `+FRS`) ends the wait: OK.
    pub(crate) fn c1_abort(&mut self) {
        self.c1_gen += 1;
        self.state = State::Command;
        self.result(Res::Ok);
    }

    /// `+FTS`/`+FRS` time is up.
    pub(crate) fn c1_pause_done(&mut self, gen: u64) {
        let ours = match self.state {
            State::C1Rx { gen: g } => g == gen,
            State::Busy { dialling: false } => gen == self.c1_gen,
            _ => false,
        };
        if ours {
            self.state = State::Command;
            self.result(Res::Ok);
        }
    }

    /// The remote's T4 ran out while the DTE listens: DIS again (or DCN).
    pub(crate) fn c1_t4(&mut self, now: Instant, gen: u64) {
        if !matches!(self.state, State::C1Rx { gen: g } if g == gen) {
            return;
        }
        if let Some(line) = self.c1_line() {
            line.remote.t4();
        }
        self.c1_pump(now);
        let at = self
            .call
            .as_ref()
            .and_then(|c| c.c1.as_ref())
            .and_then(|l| l.air.front())
            .map(|a| a.at.max(now));
        if let Some(at) = at {
            self.at(at, TimerKind::C1Deliver(gen));
        }
    }

    /// A frame has arrived for the waiting `+FRH=3`: CONNECT, the frame with its FCS, OK or
    /// ERROR.
    pub(crate) fn c1_deliver(&mut self, gen: u64) {
        if !matches!(self.state, State::C1Rx { gen: g } if g == gen) {
            return;
        }
        let Some(line) = self.c1_line() else { return };
        let Some(f) = line.air.pop_front() else {
            return;
        };
        let connected = std::mem::replace(&mut line.connected, false);
        let mut fcs = t30::fcs(&f.bytes);
        if f.garbled {
            fcs ^= 0x5a5a;
        }
        let mut out = Vec::with_capacity(f.bytes.len() + 6);
        stuff_into(&mut out, &f.bytes);
        stuff_into(&mut out, &fcs.to_le_bytes());
        out.extend([DLE, ETX]);
        if !connected {
            self.result(Res::Connect(None));
        }
        self.send(&out);
        self.state = State::Command;
        self.result(if f.garbled { Res::Error } else { Res::Ok });
    }
}
