//! The modem: a sans-IO V.250 protocol machine, seen from the DCE side.
//!
//! Owns the command-mode state (E, V, Q, X, S-registers, +F/+V parameters), command-line
//! assembly and echo, result-code framing, timers and the data-mode states. Bytes come in
//! through [`Modem::feed`], bytes go out through [`Modem::poll_transmit`], pages and call
//! records through [`Modem::poll_event`]; the clock is passed in and [`Modem::poll_timeout`]
//! says when it is next needed. It never touches a file descriptor or sleeps.
//!
//! Submodules: `framing` (line assembly, echo, result codes), `commands` (the command
//! interpreter), `call` (dialling and call progress),
//! `fax` (Class 2 and 2.0 receiver), `class1` (T.31 framing and line time) with `remote` (the
//! T.30 receiver behind it) and `t30` (frame and DIS/DCS facts), `voice` (class 8).

mod call;
mod class1;
mod commands;
mod fax;
mod framing;
mod remote;
mod t30;
mod voice;

use crate::calllog::CallRecord;
use crate::scenario::{Exchange, Fault, Incoming, Outcome};
use crate::tiff_f::PageInfo;
use framing::LineState;
pub(crate) use framing::Res;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use fax::FaxSession;
pub use voice::VoiceSide;

/// ASCII control characters used on the DTE link.
pub(crate) const DLE: u8 = 0x10;
pub(crate) const ETX: u8 = 0x03;
pub(crate) const XON: u8 = 0x11;
pub(crate) const SUB: u8 = 0x1a;
pub(crate) const CAN: u8 = 0x18;

/// Fixed configuration of one modem.
#[derive(Debug, Clone)]
pub struct ModemConfig {
    /// Index in the rack (`ttySIM<index>`).
    pub index: usize,
    /// Line seconds are multiplied by this to get real seconds.
    pub time_scale: f64,
    /// Prefix for received page file names (e.g. a start-up timestamp).
    pub run_tag: String,
    /// Unix seconds at the `start` instant given to [`Modem::new`] (for caller-ID DATE/TIME).
    pub unix_at_start: u64,
}

impl Default for ModemConfig {
    fn default() -> Self {
        ModemConfig {
            index: 0,
            time_scale: 1.0,
            run_tag: "run".into(),
            unix_at_start: 0,
        }
    }
}

/// What the modem reports to its shell besides bytes.
#[derive(Debug, Clone)]
pub enum Event {
    /// A page was accepted: write `strip` as TIFF-F at `file` (relative to the rack dir).
    Page {
        /// Relative path, `received/…tif`.
        file: String,
        /// TIFF header facts.
        info: PageInfo,
        /// MSB-first T.4 data.
        strip: Vec<u8>,
    },
    /// A call ended; append it to the call log.
    CallEnded {
        /// The record (wall-clock fields still zero).
        record: Box<CallRecord>,
        /// When the call started.
        started: Instant,
        /// When it ended.
        ended: Instant,
    },
    /// The modem vanished: close the pty and remove the link; maybe bring a fresh one back.
    Vanish {
        /// When a new modem should appear at the same path.
        return_at: Option<Instant>,
    },
}

/// Fax class selected with `+FCLASS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FClass {
    /// Data.
    Data,
    /// Class 1 (T.31): the DTE runs T.30.
    Fax1,
    /// Class 2 (SP-2388).
    Fax2,
    /// Class 2.0 (T.32).
    Fax20,
    /// Voice (IS-101 / V.253).
    Voice,
}

impl FClass {
    fn label(self) -> &'static str {
        match self {
            FClass::Data => "0",
            FClass::Fax1 => "1",
            FClass::Fax2 => "2",
            FClass::Fax20 => "2.0",
            FClass::Voice => "8",
        }
    }
}

/// Where input bytes go.
#[derive(Debug)]
pub(crate) enum State {
    /// Command mode (on-hook, or off-hook in a fax/voice session, or online-command).
    Command,
    /// Waiting for the DCE to finish something (dialling, training); input aborts dialling.
    Busy { dialling: bool },
    /// Online data mode with a remote data modem.
    OnlineData,
    /// Receiving page data after `+FDT` CONNECT.
    FaxData(fax::PageBuffer),
    /// Class 1: the DTE sends a frame (`+FTH=3`) or data (`+FTM`) after CONNECT.
    C1Tx(class1::TxBuf),
    /// Class 1: waiting for the remote (`+FRH=3`, `+FRM`) or for silence (`+FRS`); any
    /// character from the DTE ends the wait with OK.
    C1Rx { gen: u64 },
    /// `+VTX`: DTE streams audio.
    VoiceTx { dle: bool, bytes: usize },
    /// `+VRX`: DCE streams audio and events.
    VoiceRx { dle: bool },
    /// Answers nothing.
    Wedged,
    /// The pty is gone.
    Gone,
}

#[derive(Debug, Clone)]
pub(crate) enum TimerKind {
    /// Dialling finished with this result (and maybe an answer).
    DialOutcome,
    /// Training done after +FDT: say CONNECT.
    FaxConnect,
    /// Post-page response due.
    FaxPostPage(Vec<String>, Res, bool),
    /// Remote voice event (DLE-shielded).
    VoiceEvent(u8),
    /// Remote hangs up a voice call.
    RemoteHangup,
    /// Emit audio while in +VRX.
    AudioTick,
    /// Incoming call RING number n.
    Ring(usize, u32),
    /// `+++` guard time after the third `+` passed.
    Escape(u64),
    /// A wedged modem starts working again.
    Unwedge,
    /// The `+VTX` audio has been played: say OK.
    PlaybackDone,
    /// Class 1 transmitter up: CONNECT.
    C1Connect {
        hdlc: bool,
        code: u32,
        start: Instant,
    },
    /// Class 1 frame or data has left the modem: OK.
    C1TxDone,
    /// Class 1: hand the waiting `+FRH=3` the remote's next frame.
    C1Deliver(u64),
    /// Class 1: the remote's T4 ran out while the DTE listens.
    C1T4(u64),
    /// Class 1: `+FTS`/`+FRS` time is up.
    C1Pause(u64),
}

#[derive(Debug)]
struct Timer {
    at: Instant,
    epoch: u64,
    kind: TimerKind,
}

/// The call in progress.
#[derive(Debug)]
pub(crate) struct Call {
    pub rec: CallRecord,
    pub started: Instant,
    pub outcome: Outcome,
    /// Connected (answered and carrier/voice path up).
    pub up: bool,
    pub fax: Option<FaxSession>,
    /// Class 1: the line and the remote receiver.
    pub c1: Option<class1::Line>,
    pub voice: Option<VoiceSide>,
    /// Dialled with `;`.
    pub stay_in_command: bool,
    /// Speed of a data connection.
    pub speed: u32,
    /// What the dial timer will do.
    pub plan: Option<call::Plan>,
}

/// One simulated modem.
pub struct Modem {
    cfg: ModemConfig,
    exchange: Arc<Mutex<Exchange>>,
    pub(crate) echo: bool,
    pub(crate) verbose: bool,
    pub(crate) quiet: bool,
    pub(crate) x_level: u8,
    pub(crate) s: [u8; 64],
    pub(crate) fclass: FClass,
    pub(crate) params: HashMap<String, String>,
    line: Vec<u8>,
    line_state: LineState,
    last_line: Vec<u8>,
    pub(crate) state: State,
    out: Vec<u8>,
    events: VecDeque<Event>,
    timers: Vec<Timer>,
    pub(crate) epoch: u64,
    /// Class 1 wait generation: a wait that ended voids its timers.
    pub(crate) c1_gen: u64,
    pub(crate) call: Option<Call>,
    call_seq: u32,
    last_rx: Option<Instant>,
    plus_count: u8,
    escape_gen: u64,
    rng: u64,
    /// Incoming call ringing now: (scenario index, rings so far).
    pub(crate) ringing: Option<(usize, u32)>,
    start: Instant,
}

impl Modem {
    /// A modem in its factory state at time `start`.
    pub fn new(cfg: ModemConfig, exchange: Arc<Mutex<Exchange>>, start: Instant) -> Modem {
        let (fault, incoming) = {
            let x = exchange.lock().expect("exchange lock");
            let inc: Vec<Incoming> = x
                .scenario()
                .incoming
                .iter()
                .filter(|i| i.modem == cfg.index)
                .cloned()
                .collect();
            (x.fault(cfg.index), inc)
        };
        let mut m = Modem {
            rng: 0x9e37_79b9_7f4a_7c15 ^ (cfg.index as u64 + 1),
            cfg,
            exchange,
            echo: true,
            verbose: true,
            quiet: false,
            x_level: 4,
            s: [0; 64],
            fclass: FClass::Data,
            params: HashMap::new(),
            line: Vec::new(),
            line_state: LineState::Idle,
            last_line: Vec::new(),
            state: State::Command,
            out: Vec::new(),
            events: VecDeque::new(),
            timers: Vec::new(),
            epoch: 0,
            c1_gen: 0,
            call: None,
            call_seq: 0,
            last_rx: None,
            plus_count: 0,
            escape_gen: 0,
            ringing: None,
            start,
        };
        m.factory();
        if fault == Some(Fault::Wedged) {
            m.state = State::Wedged;
        }
        let all: Vec<Incoming> = {
            let x = m.exchange.lock().expect("exchange lock");
            x.scenario().incoming.clone()
        };
        for inc in incoming {
            let idx = all
                .iter()
                .position(|i| i.modem == inc.modem && i.after == inc.after)
                .unwrap_or(0);
            let at = start + m.scale_secs(inc.after);
            m.timers.push(Timer {
                at,
                epoch: u64::MAX,
                kind: TimerKind::Ring(idx, 1),
            });
        }
        m
    }

    /// Configuration.
    pub fn config(&self) -> &ModemConfig {
        &self.cfg
    }

    /// Input: bytes the DTE wrote, at `now`.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) {
        for &b in bytes {
            self.feed_byte(now, b);
        }
    }

    /// Output: bytes to write to the DTE, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        if self.out.is_empty() {
            None
        } else {
            Some(std::mem::take(&mut self.out))
        }
    }

    /// Output: the next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Modem::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if matches!(self.state, State::Gone) {
            return None;
        }
        self.timers.iter().map(|t| t.at).min()
    }

    /// The clock reached `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        loop {
            let due = self
                .timers
                .iter()
                .enumerate()
                .filter(|(_, t)| t.at <= now)
                .min_by_key(|(_, t)| t.at)
                .map(|(i, _)| i);
            let Some(i) = due else { break };
            let t = self.timers.remove(i);
            if t.epoch != u64::MAX && t.epoch != self.epoch {
                continue;
            }
            self.fire(t.at, t.kind);
        }
    }

    /// True once the modem has vanished.
    pub fn is_gone(&self) -> bool {
        matches!(self.state, State::Gone)
    }

    // ----- helpers shared by the submodules -----

    pub(crate) fn scale(&self, d: Duration) -> Duration {
        d.mul_f64(self.cfg.time_scale)
    }

    pub(crate) fn scale_secs(&self, secs: f64) -> Duration {
        self.scale(Duration::from_secs_f64(secs.max(0.0)))
    }

    pub(crate) fn at(&mut self, at: Instant, kind: TimerKind) {
        self.timers.push(Timer {
            at,
            epoch: self.epoch,
            kind,
        });
    }

    /// A timer that survives call changes (incoming rings).
    pub(crate) fn timers_push_immortal(&mut self, at: Instant, kind: TimerKind) {
        self.timers.push(Timer {
            at,
            epoch: u64::MAX,
            kind,
        });
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }

    pub(crate) fn push_event(&mut self, e: Event) {
        self.events.push_back(e);
    }

    pub(crate) fn next_random(&mut self) -> u8 {
        // xorshift64*: deterministic per modem.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8
    }

    pub(crate) fn exchange(&self) -> Arc<Mutex<Exchange>> {
        self.exchange.clone()
    }

    pub(crate) fn index(&self) -> usize {
        self.cfg.index
    }

    pub(crate) fn next_call_seq(&mut self) -> u32 {
        self.call_seq += 1;
        self.call_seq
    }

    pub(crate) fn page_file(&self, call: u32, page: u32) -> String {
        format!(
            "received/{}-m{}-c{:04}-p{:02}.tif",
            self.cfg.run_tag, self.cfg.index, call, page
        )
    }

    pub(crate) fn unix_secs(&self, now: Instant) -> u64 {
        self.cfg.unix_at_start + now.saturating_duration_since(self.start).as_secs()
    }

    /// Factory profile (`AT&F`, `ATZ`).
    pub(crate) fn factory(&mut self) {
        self.echo = true;
        self.verbose = true;
        self.quiet = false;
        self.x_level = 4;
        self.s = [0; 64];
        self.s[0] = 0;
        self.s[1] = 0;
        self.s[2] = 43;
        self.s[3] = 13;
        self.s[4] = 10;
        self.s[5] = 8;
        self.s[6] = 2;
        self.s[7] = 50;
        self.s[8] = 2;
        self.s[9] = 6;
        self.s[10] = 14;
        self.s[11] = 95;
        self.s[12] = 50;
        self.fclass = FClass::Data;
        self.params.clear();
    }

    /// End the current call (if any) and go back to on-hook command mode.
    pub(crate) fn end_call(&mut self, now: Instant, ended_by: &str) {
        self.epoch += 1;
        self.ringing = None;
        if let Some(mut c) = self.call.take() {
            let remote_gone = c.voice.as_ref().is_some_and(|v| v.remote_gone);
            let c1_gone = c.c1.as_ref().and_then(|l| l.remote.gone.clone());
            if let Some(l) = &c.c1 {
                c.rec.tsi = l.remote.tsi.clone();
                c.rec.trained_bps = l.remote.trained_bps;
                c.rec.ecm = l.remote.ecm;
                c.rec.pprs = l.remote.pprs;
                c.rec.rnrs = l.remote.rnrs;
                c.rec.eors = l.remote.eors.clone();
            }
            c.rec.ended_by = if let (Some(why), "hangup by DTE") = (c1_gone, ended_by) {
                why
            } else if remote_gone && ended_by == "hangup by DTE" {
                "remote hangup".to_string()
            } else {
                ended_by.to_string()
            };
            c.rec.line_secs = now.saturating_duration_since(c.started).as_secs_f64()
                / self.cfg.time_scale.max(1e-9);
            self.events.push_back(Event::CallEnded {
                record: Box::new(c.rec),
                started: c.started,
                ended: now,
            });
        }
        if !matches!(self.state, State::Wedged | State::Gone) {
            self.state = State::Command;
        }
    }

    fn feed_byte(&mut self, now: Instant, b: u8) {
        match &self.state {
            State::Wedged | State::Gone => {}
            State::Busy { dialling } => {
                if *dialling {
                    // Any character aborts dialling (V.250 6.3.1).
                    self.end_call(now, "aborted by DTE");
                    self.result(Res::NoCarrier);
                }
            }
            State::OnlineData => self.online_byte(now, b),
            State::FaxData(_) => self.fax_data_byte(now, b),
            State::C1Tx(_) => self.c1_tx_byte(now, b),
            State::C1Rx { .. } => self.c1_abort(),
            State::VoiceTx { .. } | State::VoiceRx { .. } => self.voice_byte(now, b),
            State::Command => self.command_byte(now, b),
        }
        self.last_rx = Some(now);
    }

    fn fire(&mut self, now: Instant, kind: TimerKind) {
        if matches!(self.state, State::Gone) {
            return;
        }
        if matches!(self.state, State::Wedged) && !matches!(kind, TimerKind::Unwedge) {
            return;
        }
        match kind {
            TimerKind::DialOutcome => self.dial_outcome(now),
            TimerKind::FaxConnect => self.fax_connect(now),
            TimerKind::FaxPostPage(lines, res, end) => self.fax_post_page(now, lines, res, end),
            TimerKind::VoiceEvent(e) => self.voice_event(now, e),
            TimerKind::RemoteHangup => self.remote_hangup(now),
            TimerKind::AudioTick => self.audio_tick(now),
            TimerKind::Ring(i, n) => self.ring(now, i, n),
            TimerKind::Escape(g) => {
                if g == self.escape_gen
                    && self.plus_count == 3
                    && matches!(self.state, State::OnlineData)
                {
                    self.plus_count = 0;
                    self.state = State::Command;
                    self.result(Res::Ok);
                }
            }
            TimerKind::Unwedge => {
                self.state = State::Command;
                self.end_call(now, "wedged");
            }
            TimerKind::PlaybackDone => self.result(Res::Ok),
            TimerKind::C1Connect { hdlc, code, start } => self.c1_connect(hdlc, code, start),
            TimerKind::C1TxDone => self.c1_tx_done(),
            TimerKind::C1Deliver(gen) => self.c1_deliver(gen),
            TimerKind::C1T4(gen) => self.c1_t4(now, gen),
            TimerKind::C1Pause(gen) => self.c1_pause_done(gen),
        }
    }
}

#[cfg(test)]
mod tests;
