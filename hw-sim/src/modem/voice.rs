//! Class 8 voice: `+VLS`, `+VTX` (DLE-escaped audio in, DLE ETX → OK), `+VRX` (silence out
//! with DLE-shielded events, DLE `!` → DLE ETX OK), `+VTS` DTMF generation, and the far end
//! (person, answering machine, fax, SIT) as a timeline of events.
//!
//! Owns event letters (V.253 / vgetty: digits, `a`, `b`, `c`, `J`, `q`, `v`) and their timing.

use super::commands::{Done, Op};
use super::{FClass, Modem, Res, State, TimerKind, CAN, DLE, ETX, SUB};
use crate::scenario::Outcome;
use std::time::{Duration, Instant};

/// The far end of a voice call.
#[derive(Debug, Clone, Default)]
pub struct VoiceSide {
    /// The far end hung up.
    pub remote_gone: bool,
}

impl Modem {
    /// The call is answered in voice mode: schedule what the far end does.
    pub(crate) fn start_voice(&mut self, now: Instant, outcome: &Outcome) {
        if let Some(c) = self.call.as_mut() {
            c.up = true;
            c.voice = Some(VoiceSide::default());
        }
        let mut plan: Vec<(f64, u8)> = Vec::new();
        let hangup_after = match outcome {
            Outcome::Voice {
                greeting,
                dtmf,
                gap,
                hangup_after: h,
                ..
            } => {
                plan.push((0.1, b'v'));
                plan.push((0.1 + greeting, b'q'));
                plan.push((2.1 + greeting, b's'));
                for p in dtmf {
                    for (k, d) in p.digits.chars().enumerate() {
                        plan.push((p.at + k as f64 * gap, d as u8));
                    }
                }
                *h
            }
            Outcome::Machine {
                greeting,
                hangup_after: h,
                ..
            } => {
                plan.push((0.1, b'v'));
                plan.push((0.1 + greeting, b'q'));
                plan.push((2.1 + greeting, b's'));
                *h
            }
            Outcome::Fax(_) => {
                for k in 0..3 {
                    plan.push((0.2 + 3.0 * k as f64, b'a'));
                }
                35.0
            }
            Outcome::Data { .. } => {
                plan.push((0.2, b'a'));
                10.0
            }
            Outcome::Sit { .. } => {
                plan.push((0.1, b'J'));
                3.0
            }
            _ => 30.0,
        };
        for (t, e) in plan {
            let at = now + self.scale_secs(t);
            self.at(at, TimerKind::VoiceEvent(e));
        }
        let at = now + self.scale_secs(hangup_after);
        self.at(at, TimerKind::RemoteHangup);
    }

    fn voice_up(&self) -> bool {
        self.call
            .as_ref()
            .is_some_and(|c| c.voice.as_ref().is_some_and(|v| !v.remote_gone))
    }

    /// A calling fax machine (incoming call): CNG every 3.5 s until it gives up.
    pub(crate) fn start_calling_fax(&mut self, now: Instant) {
        if let Some(c) = self.call.as_mut() {
            c.up = true;
            c.voice = Some(VoiceSide::default());
        }
        for k in 0..10 {
            let at = now + self.scale_secs(0.5 + 3.5 * k as f64);
            self.at(at, TimerKind::VoiceEvent(b'c'));
        }
        let at = now + self.scale_secs(35.0);
        self.at(at, TimerKind::RemoteHangup);
    }

    pub(crate) fn voice_event(&mut self, _now: Instant, e: u8) {
        let gone = self
            .call
            .as_ref()
            .and_then(|c| c.voice.as_ref())
            .is_none_or(|v| v.remote_gone);
        // After the far end hung up only the exchange's dial tone still comes.
        if gone && !(e == b'd' && self.call.is_some()) {
            return;
        }
        if e.is_ascii_digit() || matches!(e, b'*' | b'#' | b'A'..=b'D') {
            if let Some(c) = self.call.as_mut() {
                c.rec.dtmf_reported.push(e as char);
            }
        }
        self.send(&[DLE, e]);
    }

    pub(crate) fn remote_hangup(&mut self, _now: Instant) {
        if !self.voice_up() {
            return;
        }
        if let Some(v) = self.call.as_mut().and_then(|c| c.voice.as_mut()) {
            v.remote_gone = true;
        }
        // Busy/reorder tone after the far end hangs up, later dial tone; the DTE decides to
        // go on-hook.
        self.send(&[DLE, b'b']);
        let at = _now + self.scale_secs(4.0);
        self.at(at, TimerKind::VoiceEvent(b'd'));
    }

    fn silence_byte(&self) -> u8 {
        let cml = self
            .params
            .get("VSM")
            .and_then(|v| v.split(',').next().map(|s| s.trim().to_string()))
            .unwrap_or_else(|| "1".into());
        match cml.as_str() {
            "0" => 0x00,
            "4" => 0xff,
            "5" => 0xd5,
            _ => 0x80,
        }
    }

    pub(crate) fn audio_tick(&mut self, now: Instant) {
        if !matches!(self.state, State::VoiceRx { .. }) {
            return;
        }
        let b = self.silence_byte();
        self.send(&[b; 160]);
        let step = self
            .scale(Duration::from_millis(20))
            .max(Duration::from_millis(10));
        self.at(now + step, TimerKind::AudioTick);
    }

    fn voice_call_ok(&self) -> bool {
        self.fclass == FClass::Voice && self.call.as_ref().is_some_and(|c| c.voice.is_some())
    }

    pub(crate) fn cmd_vtx(&mut self, _now: Instant) -> Done {
        if !self.voice_call_ok() {
            return Done::Error;
        }
        self.result(Res::Connect(None));
        self.state = State::VoiceTx {
            dle: false,
            bytes: 0,
        };
        Done::Started
    }

    pub(crate) fn cmd_vrx(&mut self, now: Instant) -> Done {
        if !self.voice_call_ok() {
            return Done::Error;
        }
        self.result(Res::Connect(None));
        self.state = State::VoiceRx { dle: false };
        self.at(now, TimerKind::AudioTick);
        Done::Started
    }

    pub(crate) fn cmd_vts(&mut self, op: Op) -> Done {
        let Op::Set(v) = op else { return Done::Error };
        // Elements: a digit, `[f1,f2,dur]` (tones, no digit) or `{digit,dur}`.
        let mut digits = String::new();
        let mut in_sq = false;
        let mut in_brace = false;
        let mut brace_taken = false;
        for ch in v.chars() {
            match ch {
                '[' => in_sq = true,
                ']' => in_sq = false,
                '{' => {
                    in_brace = true;
                    brace_taken = false;
                }
                '}' => in_brace = false,
                c if c.is_ascii_digit() || "*#ABCDabcd".contains(c) => {
                    if in_sq || (in_brace && brace_taken) {
                        continue;
                    }
                    digits.push(c.to_ascii_uppercase());
                    brace_taken = in_brace;
                }
                ',' if in_brace => brace_taken = true,
                _ => {}
            }
        }
        if let Some(c) = self.call.as_mut() {
            c.rec.dtmf_sent.push_str(&digits);
        }
        Done::Next
    }

    pub(crate) fn cmd_vls(&mut self, now: Instant, op: Op) -> Done {
        if let Op::Set(v) = &op {
            let n: u32 = v.trim().parse().unwrap_or(99);
            if n > 15 {
                return Done::Error;
            }
            if n == 0 && self.call.is_some() {
                self.end_call(now, "hangup by DTE");
            }
            self.params.insert("VLS".into(), n.to_string());
            return Done::Next;
        }
        self.extended_generic("VLS", op)
    }

    fn extended_generic(&mut self, name: &str, op: Op) -> Done {
        match op {
            Op::Test => self.info("0,1,2,4,5,7"),
            Op::Read => {
                let v = self.params.get(name).cloned().unwrap_or_else(|| "0".into());
                self.info(&v);
            }
            _ => {}
        }
        Done::Next
    }

    pub(crate) fn voice_byte(&mut self, now: Instant, b: u8) {
        match &mut self.state {
            State::VoiceTx { dle, bytes } => {
                if *dle {
                    *dle = false;
                    match b {
                        ETX => {
                            let n = *bytes;
                            if let Some(c) = self.call.as_mut() {
                                c.rec.audio_bytes_sent += n;
                            }
                            self.state = State::Command;
                            // The message plays at 8000 samples (bytes) a second; OK comes
                            // when the buffer has been played, as on a real voice modem.
                            let at = now + self.scale_secs(n as f64 / 8000.0);
                            self.at(at, TimerKind::PlaybackDone);
                        }
                        DLE => *bytes += 1,
                        SUB => *bytes += 2,
                        CAN | b'!' => {}
                        _ => {}
                    }
                } else if b == DLE {
                    *dle = true;
                } else {
                    *bytes += 1;
                }
            }
            State::VoiceRx { dle } => {
                if *dle {
                    *dle = false;
                    if matches!(b, b'!' | b'^' | ETX) {
                        self.send(&[DLE, ETX]);
                        self.state = State::Command;
                        self.result(Res::Ok);
                    }
                } else if b == DLE {
                    *dle = true;
                }
            }
            _ => {}
        }
    }
}
