//! Dialling and call progress: `ATD`, `ATA`, incoming RINGs, and what the scenario's
//! outcome turns into for the selected class (BUSY, NO ANSWER, +FCO, VCON, CONNECT …).
//!
//! Owns the timing rules (S6/S7/S8, X-level detection, ring cycles); never parses commands.

use super::commands::Done;
use super::{Call, Event, FClass, Modem, Res, State, TimerKind};
use crate::calllog::CallRecord;
use crate::dial;
use crate::scenario::{Fault, Outcome, Phase, Routed, RING_CYCLE_SECS};
use std::time::{Duration, Instant};

/// What happens when the dial timer fires.
#[derive(Debug, Clone)]
pub(crate) enum Plan {
    Result(Res),
    Noise(usize, String),
    Answer,
}

impl Modem {
    pub(crate) fn cmd_dial(&mut self, now: Instant, rest: &str) -> Done {
        let Some(d) = dial::parse(rest.trim()) else {
            return Done::Error;
        };
        if self.call.is_some() {
            // A pty cannot show DTR dropping, so a DTE that quit mid-call without ATH left
            // the line off-hook; a new dial means that call is over.
            self.end_call(now, "abandoned by DTE");
        }
        let exchange = self.exchange();
        let routed = {
            let mut x = exchange.lock().expect("exchange lock");
            if x.fault(self.index()) == Some(Fault::NoDialtone) {
                Routed {
                    outcome: Outcome::NoDialtone,
                    entry: None,
                    call_no: 1,
                }
            } else {
                x.route(&d.number)
            }
        };
        tracing::info!(modem = self.index(), number = %d.number, outcome = routed.outcome.kind(), "dial");
        let seq = self.next_call_seq();
        let rec = CallRecord {
            modem: self.index(),
            call: seq,
            direction: "out".into(),
            number: d.number.clone(),
            dial_string: rest.trim().to_string(),
            outcome: routed.outcome.kind().into(),
            sequence_call: routed.call_no,
            class: self.fclass.label().into(),
            ..CallRecord::default()
        };
        self.epoch += 1;
        self.call = Some(Call {
            rec,
            started: now,
            outcome: routed.outcome.clone(),
            up: false,
            fax: None,
            c1: None,
            voice: None,
            stay_in_command: d.stay_in_command,
            speed: 0,
            plan: None,
        });

        let dial_done = d.dial_time(self.s[6], self.s[8]);
        let s7 = Duration::from_secs(self.s[7].max(1) as u64);
        let ring = |r: u32| Duration::from_secs_f64(r as f64 * RING_CYCLE_SECS);
        let x = self.x_level;
        let answer_after = |r: u32| {
            if ring(r) < s7 {
                (dial_done + ring(r), Plan::Answer)
            } else {
                (dial_done + s7, Plan::Result(Res::NoAnswer))
            }
        };
        let (after, plan) = match &routed.outcome {
            Outcome::Wedge { recover_after } => {
                self.state = State::Wedged;
                if let Some(r) = recover_after {
                    let at = now + self.scale_secs(*r);
                    self.at(at, TimerKind::Unwedge);
                }
                return Done::Started;
            }
            Outcome::Vanish { return_after } => {
                let return_at = return_after.map(|r| now + self.scale_secs(r));
                if let Some(c) = self.call.as_mut() {
                    c.rec.result = "(vanished)".into();
                }
                self.end_call(now, "modem vanished");
                self.state = State::Gone;
                self.push_event(Event::Vanish { return_at });
                return Done::Started;
            }
            Outcome::NoDialtone => {
                if x == 2 || x == 4 {
                    (Duration::from_secs(2), Plan::Result(Res::NoDialtone))
                } else {
                    (dial_done + s7, Plan::Result(Res::NoCarrier))
                }
            }
            Outcome::Busy => {
                if x >= 3 {
                    (dial_done + Duration::from_secs(2), Plan::Result(Res::Busy))
                } else {
                    (dial_done + s7, Plan::Result(Res::NoCarrier))
                }
            }
            Outcome::NoAnswer { rings } => (
                dial_done + rings.map(ring).unwrap_or(s7).min(s7),
                Plan::Result(Res::NoAnswer),
            ),
            Outcome::RingbackHangup { rings } => {
                if ring(*rings) < s7 {
                    (dial_done + ring(*rings), Plan::Result(Res::NoCarrier))
                } else {
                    (dial_done + s7, Plan::Result(Res::NoAnswer))
                }
            }
            Outcome::NoCarrier { rings, after } => (
                dial_done + (ring(*rings) + Duration::from_secs_f64(after.max(0.0))).min(s7),
                Plan::Result(Res::NoCarrier),
            ),
            Outcome::Sit { .. } => {
                if self.fclass == FClass::Voice {
                    (dial_done + Duration::from_millis(500), Plan::Answer)
                } else {
                    (
                        dial_done + Duration::from_secs(3),
                        Plan::Result(Res::NoCarrier),
                    )
                }
            }
            Outcome::Noise { count, result } => (
                dial_done + Duration::from_secs(1),
                Plan::Noise(*count, result.clone()),
            ),
            Outcome::Fax(a) => answer_after(a.rings),
            Outcome::Data { rings, .. } => answer_after(*rings),
            Outcome::Voice { rings, .. } => answer_after(*rings),
            Outcome::Machine { rings, .. } => answer_after(*rings),
        };
        if let Some(c) = self.call.as_mut() {
            c.plan = Some(plan);
        }
        self.state = State::Busy { dialling: true };
        let at = now + self.scale(after);
        self.at(at, TimerKind::DialOutcome);
        Done::Started
    }

    /// Give a dial result and end the call.
    fn dial_failed(&mut self, now: Instant, r: Res) {
        if let Some(c) = self.call.as_mut() {
            c.rec.result = r.text();
        }
        self.state = State::Command;
        self.result(r);
        self.end_call(now, "result");
    }

    pub(crate) fn dial_outcome(&mut self, now: Instant) {
        let Some(plan) = self.call.as_mut().and_then(|c| c.plan.take()) else {
            return;
        };
        match plan {
            Plan::Result(r) => self.dial_failed(now, r),
            Plan::Noise(n, result) => {
                let junk: Vec<u8> = (0..n).map(|_| self.next_random()).collect();
                self.send(&junk);
                self.dial_failed(now, Res::Text(result));
            }
            Plan::Answer => self.answered(now),
        }
    }

    /// The far end picked up.
    fn answered(&mut self, now: Instant) {
        let Some(outcome) = self.call.as_ref().map(|c| c.outcome.clone()) else {
            return;
        };
        let class = self.fclass;
        // Anything a modem in this class cannot talk to ends in NO CARRIER after a while.
        let no_handshake = |m: &mut Modem| {
            if let Some(c) = m.call.as_mut() {
                c.plan = Some(Plan::Result(Res::NoCarrier));
            }
            let at = now + m.scale(Duration::from_secs(5));
            m.at(at, TimerKind::DialOutcome);
        };
        match (&outcome, class) {
            (_, FClass::Voice) => {
                let stay = self.call.as_ref().is_some_and(|c| c.stay_in_command);
                let r = if stay { Res::Ok } else { Res::Vcon };
                if let Some(c) = self.call.as_mut() {
                    c.rec.result = r.text();
                }
                self.state = State::Command;
                self.result(r);
                self.start_voice(now, &outcome);
            }
            (Outcome::Fax(a), FClass::Fax2 | FClass::Fax20) => {
                let class20 = class == FClass::Fax20;
                let local = self
                    .params
                    .get(if class20 { "FIS" } else { "FDIS" })
                    .or_else(|| self.params.get(if class20 { "FCC" } else { "FDCC" }))
                    .cloned()
                    .unwrap_or_else(|| "1,5,0,2,0,0,0,0".into());
                let session = super::FaxSession::new(class20, a.clone(), &local);
                self.state = State::Command;
                self.info(if class20 { "+FCO" } else { "+FCON" });
                if let Some(h) = a.hangup.filter(|h| h.phase == Phase::B) {
                    let line = super::fax::hangup_line(class20, h.code);
                    self.info(&line);
                    if let Some(c) = self.call.as_mut() {
                        c.rec.result = "OK".into();
                        c.rec.hangup_code = Some(super::fax::hangup_code(class20, h.code));
                    }
                    self.result(Res::Ok);
                    self.end_call(now, "remote hangup in phase B");
                    return;
                }
                let csi = format!("{}\"{}\"", if class20 { "+FCI:" } else { "+FCSI:" }, a.csi);
                self.info(&csi);
                let dis = format!(
                    "{}{}",
                    if class20 { "+FIS:" } else { "+FDIS:" },
                    session.remote_text()
                );
                self.info(&dis);
                if let Some(c) = self.call.as_mut() {
                    c.rec.result = "OK".into();
                    c.up = true;
                    c.fax = Some(session);
                }
                self.result(Res::Ok);
            }
            (Outcome::Fax(a), FClass::Fax1) => self.c1_answered(now, a.clone()),
            (Outcome::Data { speed, banner, .. }, FClass::Data) => {
                let speed = *speed;
                if let Some(c) = self.call.as_mut() {
                    c.rec.result = format!("CONNECT {speed}");
                    c.up = true;
                    c.speed = speed;
                }
                self.result(Res::Connect(Some(speed)));
                self.state = State::OnlineData;
                let b = banner.clone().into_bytes();
                self.send(&b);
            }
            _ => no_handshake(self),
        }
    }

    pub(crate) fn cmd_answer(&mut self, now: Instant) -> Done {
        let Some((idx, rings)) = self.ringing.take() else {
            return Done::Error;
        };
        let inc = {
            let x = self.exchange();
            let g = x.lock().expect("exchange lock");
            g.scenario().incoming.get(idx).cloned()
        };
        let Some(inc) = inc else { return Done::Error };
        let seq = self.next_call_seq();
        self.epoch += 1;
        let outcome = Outcome::Voice {
            rings: 0,
            greeting: 1.0,
            dtmf: Vec::new(),
            gap: 0.3,
            hangup_after: 30.0,
        };
        self.call = Some(Call {
            rec: CallRecord {
                modem: self.index(),
                call: seq,
                direction: "in".into(),
                number: inc.caller.clone(),
                outcome: if inc.fax { "incoming-fax" } else { "incoming" }.into(),
                sequence_call: rings as usize,
                class: self.fclass.label().into(),
                ..CallRecord::default()
            },
            started: now,
            outcome: outcome.clone(),
            up: false,
            fax: None,
            c1: None,
            voice: None,
            stay_in_command: false,
            speed: 0,
            plan: None,
        });
        if self.fclass == FClass::Voice {
            if let Some(c) = self.call.as_mut() {
                c.rec.result = "VCON".into();
            }
            self.result(Res::Vcon);
            if inc.fax {
                self.start_calling_fax(now);
            } else {
                self.start_voice(now, &outcome);
            }
        } else {
            if let Some(c) = self.call.as_mut() {
                c.rec.result = "NO CARRIER".into();
            }
            self.result(Res::NoCarrier);
            self.end_call(now, "no handshake");
        }
        Done::Started
    }

    /// An incoming call rings (n-th RING).
    pub(crate) fn ring(&mut self, now: Instant, idx: usize, n: u32) {
        let inc = {
            let x = self.exchange();
            let g = x.lock().expect("exchange lock");
            g.scenario().incoming.get(idx).cloned()
        };
        let Some(inc) = inc else { return };
        if n == 1 {
            if self.call.is_some() || !matches!(self.state, State::Command) {
                return; // line busy: the caller hears busy tone
            }
            self.ringing = Some((idx, 0));
            let secs = self.unix_secs(now);
            let (mo, d, h, mi) = civil(secs);
            self.info(&format!("DATE={mo:02}{d:02}"));
            self.info(&format!("TIME={h:02}{mi:02}"));
            self.info(&format!("NMBR={}", inc.caller));
            self.info(&format!("NAME={}", inc.name));
        }
        match self.ringing {
            Some((i, _)) if i == idx => {}
            _ => return,
        }
        self.ringing = Some((idx, n));
        self.s[1] = n.min(255) as u8;
        self.result(Res::Ring);
        if self.s[0] > 0 && n >= self.s[0] as u32 {
            if let Done::Error = self.cmd_answer(now) {
                self.result(Res::Error);
            }
            return;
        }
        if n < inc.rings {
            let at = now + self.scale(Duration::from_secs(5));
            self.timers_push_immortal(at, TimerKind::Ring(idx, n + 1));
        } else {
            self.ringing = None;
            let seq = self.next_call_seq();
            let rec = CallRecord {
                modem: self.index(),
                call: seq,
                direction: "in".into(),
                number: inc.caller.clone(),
                outcome: "missed".into(),
                result: "RING".into(),
                class: self.fclass.label().into(),
                ended_by: "caller gave up".into(),
                ..CallRecord::default()
            };
            self.push_event(Event::CallEnded {
                record: Box::new(rec),
                started: now,
                ended: now,
            });
        }
    }
}

/// (month, day, hour, minute) in UTC for Unix seconds.
fn civil(secs: u64) -> (u32, u32, u32, u32) {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (m, d, (rem / 3600) as u32, ((rem % 3600) / 60) as u32)
}

#[cfg(test)]
mod tests {
    #[test]
    fn civil_dates() {
        assert_eq!(super::civil(0), (1, 1, 0, 0));
        assert_eq!(super::civil(951_782_400 + 3_660), (2, 29, 1, 1)); // 2000-02-29 01:01
    }
}
