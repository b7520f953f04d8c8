//! A voice call (class 8): dial, tell a person from an answering machine, play the message,
//! collect DTMF, hang up — as a sans-IO state machine.
//!
//! Owns the call procedure and its outcome codes (300 human and message completed, 301 human
//! hung up during it, 302 machine and message left, 303 machine hung up first, 304 could not
//! tell, 305 opted out by DTMF, 12 a fax answered, 7 SIT, plus the call-placement codes). The
//! human/machine verdict is cadence analysis on the modem's shielded events: `v` speech starts,
//! `q` quiet after speech, `s` silence; a greeting longer than the threshold is a machine, whose
//! beep is awaited (`s`) before the message plays. Audio comes in already as µ-law.

use super::at::{AtSession, Event, Final};
use super::dialstring::DialString;
use super::dle::{escape_into, Unescaped, Unescaper, DLE, ETX};
use super::init_sequence;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// What to play and how to judge the answer.
#[derive(Debug, Clone)]
pub struct VoicePlan {
    /// The validated number.
    pub dial: DialString,
    /// The message, G.711 µ-law at 8 kHz.
    pub audio: Vec<u8>,
    /// Extra init commands from the line's configuration.
    pub init: Vec<String>,
    /// A greeting longer than this is an answering machine (Asterisk's default is 1.5 s).
    pub machine_greeting: Duration,
    /// No speech within this after the answer: "could not tell" (Asterisk: 5 s).
    pub amd_timeout: Duration,
    /// A DTMF digit that means "do not call me again" (outcome 305).
    pub opt_out_digit: Option<char>,
    /// An ordinary command's timeout.
    pub command_timeout: Duration,
    /// `ATD` until a result.
    pub dial_timeout: Duration,
}

/// How the call ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VoiceResult {
    /// Outcome code.
    pub code: u32,
    /// `Some(true)` answering machine, `Some(false)` person, `None` not known.
    pub machine: Option<bool>,
    /// Digits the far end pressed.
    pub digits: String,
    /// Length of the greeting heard, in milliseconds.
    pub greeting_ms: u64,
    /// The modem stopped answering.
    pub modem_unresponsive: bool,
    /// A sentence for the log.
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Init(usize),
    Dial,
    Listen,
    AwaitBeep,
    Play,
    Hangup,
    Done,
}

/// One voice call.
#[derive(Debug)]
pub struct VoiceCall {
    at: AtSession,
    plan: VoicePlan,
    init: Vec<(String, bool)>,
    state: State,
    answered_at: Option<Instant>,
    speech_at: Option<Instant>,
    listen_deadline: Option<Instant>,
    remote_gone: bool,
    unescaper: Unescaper,
    result: VoiceResult,
    finished: VecDeque<VoiceResult>,
}

/// How long a machine's beep (the silence after its greeting) is awaited.
const BEEP_WAIT: Duration = Duration::from_secs(30);

impl VoiceCall {
    /// Starts the call at `now`.
    pub fn new(now: Instant, plan: VoicePlan) -> VoiceCall {
        let mut init = init_sequence(&plan.init);
        init.extend([("+FCLASS=8".into(), true), ("+VSM=4,8000".into(), true)]);
        let mut me = VoiceCall {
            at: AtSession::new(),
            plan,
            init,
            state: State::Init(0),
            answered_at: None,
            speech_at: None,
            listen_deadline: None,
            remote_gone: false,
            unescaper: Unescaper::default(),
            result: VoiceResult::default(),
            finished: VecDeque::new(),
        };
        let t = me.plan.command_timeout;
        me.at.command(now, "Z", t);
        me
    }

    /// Bytes from the port.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) {
        self.at.feed(now, bytes);
        self.pump(now);
    }

    /// Bytes for the port.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.at.poll_transmit()
    }

    /// When the call needs the clock.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.at.poll_timeout(), self.listen_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The clock reached `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.at.handle_timeout(now);
        if self.listen_deadline.is_some_and(|d| now >= d) {
            self.listen_deadline = None;
            match self.state {
                State::Listen if self.speech_at.is_none() => {
                    self.result.detail = "no speech heard after the answer".into();
                    self.play(now);
                }
                State::Listen => {
                    // Still talking past the threshold: an answering machine; wait for its beep.
                    self.result.machine = Some(true);
                    self.state = State::AwaitBeep;
                    self.listen_deadline = Some(now + BEEP_WAIT);
                }
                State::AwaitBeep => self.play(now),
                _ => {}
            }
        }
        self.pump(now);
    }

    /// The result, once the call is over.
    pub fn poll_result(&mut self) -> Option<VoiceResult> {
        self.finished.pop_front()
    }

    /// Whether the call is over.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn pump(&mut self, now: Instant) {
        while let Some(ev) = self.at.poll_event() {
            match ev {
                Event::Shielded(e) => self.on_tone(now, e),
                Event::Data(bytes) => {
                    for item in self.unescaper.feed(&bytes) {
                        if let Unescaped::Event(e) = item {
                            self.on_tone(now, e);
                        }
                    }
                }
                Event::Info(_) | Event::Unsolicited(_) => {}
                Event::Timeout(cmd) => self.on_timeout(now, cmd),
                Event::Final(f) => self.on_final(now, f),
            }
        }
    }

    fn hang_up(&mut self, now: Instant, code: u32, detail: &str) {
        self.result.code = code;
        if !detail.is_empty() {
            self.result.detail = detail.to_string();
        }
        self.listen_deadline = None;
        self.at.end_raw();
        self.state = State::Hangup;
        self.at.command(now, "H0", self.plan.command_timeout);
    }

    fn finish(&mut self) {
        self.state = State::Done;
        self.finished.push_back(self.result.clone());
    }

    fn on_timeout(&mut self, now: Instant, cmd: String) {
        match self.state {
            State::Hangup => {
                self.result.modem_unresponsive = true;
                if !matches!(self.result.code, 300 | 302) {
                    self.result.code = 34;
                }
                self.finish();
            }
            State::Init(_) => {
                self.result.modem_unresponsive = true;
                self.hang_up(now, 34, &format!("the modem did not answer {cmd}"));
            }
            State::Dial => self.hang_up(now, 9, "no call-progress result within the dial timeout"),
            _ => self.hang_up(now, 34, &format!("no answer to {cmd} from the modem")),
        }
    }

    fn on_tone(&mut self, now: Instant, e: u8) {
        let c = e as char;
        if c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D') {
            self.result.digits.push(c);
            return;
        }
        match (self.state, c) {
            (State::Listen, 'v') => {
                self.speech_at.get_or_insert(now);
                self.listen_deadline = Some(now + self.plan.machine_greeting);
            }
            (State::Listen, 'q') => {
                let start = self.speech_at.or(self.answered_at).unwrap_or(now);
                self.result.greeting_ms = (now - start).as_millis() as u64;
                if now - start > self.plan.machine_greeting {
                    self.result.machine = Some(true);
                    self.state = State::AwaitBeep;
                    self.listen_deadline = Some(now + BEEP_WAIT);
                } else {
                    self.result.machine = Some(false);
                    self.play(now);
                }
            }
            (State::AwaitBeep, 'q') => {
                let start = self.speech_at.or(self.answered_at).unwrap_or(now);
                self.result.greeting_ms = (now - start).as_millis() as u64;
            }
            (State::AwaitBeep, 's') => {
                let start = self.speech_at.or(self.answered_at).unwrap_or(now);
                if self.result.greeting_ms == 0 {
                    self.result.greeting_ms = (now - start).as_millis() as u64;
                }
                self.play(now)
            }
            (State::Listen | State::AwaitBeep, 'a' | 'c' | 'e' | 'f') => {
                self.hang_up(now, 12, "a fax or modem answered the voice call")
            }
            (State::Listen | State::AwaitBeep | State::Play, 'J') => {
                self.hang_up(now, 7, "SIT tone: number unobtainable")
            }
            (State::Listen | State::AwaitBeep | State::Play, 'b' | 'd' | 'l') => {
                self.remote_gone = true;
                if self.state != State::Play {
                    let code = if self.result.machine == Some(true) {
                        303
                    } else {
                        301
                    };
                    self.hang_up(now, code, "the far end hung up before the message");
                }
            }
            _ => {}
        }
    }

    fn play(&mut self, now: Instant) {
        self.state = State::Play;
        self.listen_deadline = None;
        self.at
            .command_then_raw(now, "+VTX", self.plan.command_timeout);
    }

    fn on_final(&mut self, now: Instant, f: Final) {
        match self.state {
            State::Init(i) => {
                let (cmd, required) = self.init[i].clone();
                if f != Final::Ok && required {
                    return self.hang_up(now, 36, &format!("the modem answered {f:?} to AT{cmd}"));
                }
                if cmd == "V1" && f == Final::Ok {
                    self.at.set_verbose(true);
                }
                if i + 1 < self.init.len() {
                    self.state = State::Init(i + 1);
                    let next = self.init[i + 1].0.clone();
                    self.at.command(now, &next, self.plan.command_timeout);
                } else {
                    self.state = State::Dial;
                    let d = self.plan.dial.as_str();
                    let cmd = if d.starts_with(['T', 'P']) {
                        format!("D{d}")
                    } else {
                        format!("DT{d}")
                    };
                    self.at.command(now, &cmd, self.plan.dial_timeout);
                }
            }
            State::Dial => match f {
                Final::Vcon | Final::Ok => {
                    self.answered_at = Some(now);
                    self.state = State::Listen;
                    self.listen_deadline = Some(now + self.plan.amd_timeout);
                }
                Final::Busy => self.hang_up(now, 2, "busy"),
                Final::NoAnswer => self.hang_up(now, 1, "no answer"),
                Final::NoDialtone => self.hang_up(now, 4, "no dial tone"),
                Final::NoCarrier => self.hang_up(now, 3, "no carrier"),
                Final::Connect(_) => self.hang_up(now, 13, "a data modem answered"),
                Final::Error | Final::FcError => {
                    self.hang_up(now, 5, "the modem answered ERROR to the dial command")
                }
            },
            State::Play => match f {
                Final::Connect(_) => {
                    let mut out = Vec::with_capacity(self.plan.audio.len() + 16);
                    escape_into(&mut out, &self.plan.audio);
                    out.extend([DLE, ETX]);
                    self.at.send_raw(out);
                    self.at.end_raw();
                    let playing = Duration::from_millis(self.plan.audio.len() as u64 * 1000 / 8000);
                    self.at
                        .expect_final(now, "+VTX playback", playing + Duration::from_secs(30));
                }
                Final::Ok => {
                    let opted_out = self
                        .plan
                        .opt_out_digit
                        .is_some_and(|d| self.result.digits.contains(d));
                    let code = match (self.result.machine, self.remote_gone, opted_out) {
                        (_, _, true) => 305,
                        (Some(true), false, _) => 302,
                        (Some(true), true, _) => 303,
                        (Some(false), false, _) => 300,
                        (Some(false), true, _) => 301,
                        (None, _, _) => 304,
                    };
                    let what = match code {
                        300 => "message played to a person",
                        301 => "the person hung up during the message",
                        302 => "message left on an answering machine",
                        303 => "the answering machine hung up during the message",
                        305 => "the person opted out by DTMF",
                        _ => "message played; person or machine could not be told",
                    };
                    self.hang_up(now, code, what);
                }
                other => self.hang_up(now, 306, &format!("+VTX answered {other:?}")),
            },
            State::Hangup => self.finish(),
            State::Listen | State::AwaitBeep | State::Done => {}
        }
    }
}

impl super::Machine for VoiceCall {
    fn feed(&mut self, now: Instant, bytes: &[u8]) {
        VoiceCall::feed(self, now, bytes)
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        VoiceCall::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        VoiceCall::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        VoiceCall::handle_timeout(self, now)
    }
    fn is_done(&self) -> bool {
        VoiceCall::is_done(self)
    }
}
