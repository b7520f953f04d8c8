//! Sending a fax in Class 1: the T.30 transmitter (phases B, C, D) as a sans-IO machine.
//!
//! Owns the order of the DCE operations (`+FRH=3` / `+FTH=3` frames, `+FTM` training and page
//! data, `+FTS`/`+FRS` pauses), the T.30 decisions (DCS from DIS, step-down after FTT, retrain
//! and resend after RTN, command repeats after T4, DCN) and the mapping of every failure to the
//! outcome code of its phase (the `+FHS` numbering, so Class 1 and Class 2.0 lines report alike).
//! Pages are encoded here, after DCS, because resolution, coding and the minimum scan-line
//! fill depend on what the receiver said. Clock and bytes are inputs; no port, no sleeping.

use super::caps::{Dis, Modulation, Session, FALLBACK};
use super::ecm::EcmPage;
use super::frame::{fcf, fcf_name, id_fif, id_from_fif, Frame, FrameReader};
use crate::fax::{encode, BitOrder, Coding, EncodeOptions, Page, Resolution};
use crate::modem::at::{AtSession, Event, Final};
use crate::modem::dialstring::DialString;
use crate::modem::dle::{escape_into, CAN, DLE, ETX};
use crate::modem::fax_send::{FaxEvent, FaxPlan, FaxResult, FaxTimeouts};
use crate::modem::init_sequence;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

mod ecm;
mod phases;

/// What to send and how (the Class 1 twin of [`crate::modem::fax_send::FaxPlan`]: pages are
/// bitmaps, encoded once the session parameters are known).
#[derive(Debug, Clone)]
pub struct Class1Plan {
    /// The validated number.
    pub dial: DialString,
    /// The pages.
    pub pages: Vec<Page>,
    /// Send at fine resolution when the receiver can.
    pub fine: bool,
    /// Use 2-D (MR) coding when the receiver can.
    pub two_d: bool,
    /// Our station ID (TSI), up to 20 characters.
    pub local_id: String,
    /// Extra init commands (without `AT`).
    pub init: Vec<String>,
    /// Highest speed (`br` code: 0 = 2400 … 5 = 14400).
    pub max_speed: u8,
    /// How often a page rejected with RTN is sent again.
    pub page_retries: u32,
    /// `+FLO=n` after `+FCLASS=1` (optional), as in [`FaxPlan::flo`].
    pub flo: Option<u8>,
    /// Use error correction mode (T.30 Annex A, with MMR when offered) when the receiver can.
    pub ecm: bool,
    /// ECM frame size: 256 octets, or 64 (DCS bit 28).
    pub ecm_frame: usize,
    /// ECM frames framed by us and sent with `+FTM` (for DCEs whose `+FTH` is V.21 only),
    /// instead of `+FTH=n`.
    pub ecm_host_hdlc: bool,
}

impl Class1Plan {
    /// The Class 1 plan for what a line planned for Class 2/2.0: every setting carried over
    /// (2-D coding, resolution, speed cap, retries, ID, init, ECM and its frame size from
    /// `ec`), the pages as bitmaps (Class 1
    /// encodes them itself once DCS is chosen).
    pub fn from_fax_plan(plan: FaxPlan, pages: Vec<Page>) -> Class1Plan {
        let FaxPlan {
            dial,
            pages: _,
            fine,
            two_d,
            pages_mr: _,
            local_id,
            init,
            max_speed,
            page_retries,
            flo,
            ec,
        } = plan;
        Class1Plan {
            dial,
            pages,
            fine,
            two_d,
            local_id,
            init,
            max_speed,
            page_retries,
            flo,
            ecm: ec != crate::modem::fax_send::EC_OFF,
            ecm_frame: if ec == crate::modem::fax_send::EC_64 {
                super::ecm::SMALL_FRAME_BYTES
            } else {
                super::ecm::FRAME_BYTES
            },
            ecm_host_hdlc: false,
        }
    }
}

/// The T.30 timers and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct T30Timers {
    /// T1: from the answer until a DIS is received.
    pub t1: Duration,
    /// T4: how long to wait for a response before repeating the command.
    pub t4: Duration,
    /// A frame's bytes after `CONNECT` until `DLE ETX`.
    pub frame: Duration,
    /// Tries of a command before giving up (T.30: 3).
    pub tries: u32,
    /// T5: how long a receiver may answer RNR (not ready) before the sender gives up (ECM).
    pub t5: Duration,
}

impl Default for T30Timers {
    fn default() -> Self {
        T30Timers {
            t1: Duration::from_secs(35),
            t4: Duration::from_secs(3),
            frame: Duration::from_secs(6),
            tries: 3,
            t5: Duration::from_secs(60),
        }
    }
}

/// The speed of a `br` code.
pub fn br_bps(br: u8) -> u32 {
    [2400, 4800, 7200, 9600, 12000, 14400][usize::from(br.min(5))]
}

/// What the DCE is doing for us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Cmd,
    Dial,
    FrhWait,
    FrhData,
    FrhEnd,
    FrhAbort,
    FthWait(usize),
    FthEnd,
    FtmWait,
    FtmEnd,
}

/// How a DCE operation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Done {
    Ok,
    Frame(Frame),
    NoFrame,
    Failed(String),
}

/// Where the T.30 procedure is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Init(usize),
    Dial,
    PhaseB,
    SwitchDcs,
    Dcs,
    PauseTcf,
    Tcf,
    TrainResp,
    SwitchPage,
    /// ECM: the pause before a block's (or its resent frames') transmission.
    SwitchBlock,
    Page,
    PausePpm,
    Ppm,
    PpmResp,
    /// ECM: CTC (continue to correct at a lower speed) being sent, then its answer awaited.
    /// (EOR, which gives up a block's bad frames, goes as the post-page command: `Ppm`.)
    Ctc,
    CtcResp,
    Dcn,
    Hangup,
    Done,
}

/// One Class 1 fax call.
#[derive(Debug)]
pub struct Class1Send {
    at: AtSession,
    plan: Class1Plan,
    timeouts: FaxTimeouts,
    timers: T30Timers,
    init: Vec<(String, bool)>,
    step: Step,
    op: Op,
    reader: FrameReader,
    received: Option<Vec<u8>>,
    frame_deadline: Option<Instant>,
    tx_frames: Vec<Frame>,
    /// The `+FTH` modulation of `tx_frames` (3 = V.21; else ECM frames at a page modulation).
    tx_code: u8,
    tx_data: Vec<u8>,
    ftm_codes: Vec<u8>,
    t1_deadline: Instant,
    heard_frames: bool,
    dis: Option<Dis>,
    modulations: Vec<Modulation>,
    session: Option<Session>,
    dcs_tries: u32,
    ppm_tries: u32,
    page_tries: u32,
    page: usize,
    retrain: bool,
    /// ECM: the page being sent, cut into blocks of frames.
    ecm_page: Option<EcmPage>,
    /// ECM: the block (partial page) being sent, 0-based.
    block: usize,
    /// ECM: the frames of the block to send in the next transmission.
    resend: Vec<usize>,
    /// ECM: PPRs received for this block (since the last CTC).
    pprs: u32,
    /// ECM: the frames still bad when CTC was last sent for this block (CTC helped when
    /// fewer are bad after four more PPRs).
    ctc_bad: Option<usize>,
    /// ECM: EOR goes instead of PPS: the block's frames still bad are given up.
    eor: bool,
    /// ECM: CTC sent without CTR.
    ctc_tries: u32,
    /// ECM: the next transmission starts with long training (after CTC).
    long_train: bool,
    /// ECM: the receiver answered RNR; RR goes instead of PPS until it is ready.
    rr: bool,
    /// ECM: when the receiver must be ready again (T5 from the first RNR).
    t5_deadline: Option<Instant>,
    result: FaxResult,
    events: VecDeque<FaxEvent>,
}

impl Class1Send {
    /// Starts the call at `now`: the first init command is queued at once.
    pub fn new(
        now: Instant,
        plan: Class1Plan,
        timeouts: FaxTimeouts,
        timers: T30Timers,
    ) -> Class1Send {
        let mut init = init_sequence(&plan.init);
        init.push(("+FCLASS=1".into(), true));
        init.extend(plan.flo.map(|n| (format!("+FLO={}", n.min(2)), false)));
        init.push(("+FTM=?".into(), false));
        let mut me = Class1Send {
            at: AtSession::new(),
            plan,
            timeouts,
            timers,
            init,
            step: Step::Init(0),
            op: Op::Cmd,
            reader: FrameReader::default(),
            received: None,
            frame_deadline: None,
            tx_frames: Vec::new(),
            tx_code: 3,
            tx_data: Vec::new(),
            ftm_codes: Vec::new(),
            t1_deadline: now + timers.t1,
            heard_frames: false,
            dis: None,
            modulations: Vec::new(),
            session: None,
            dcs_tries: 0,
            ppm_tries: 0,
            page_tries: 0,
            page: 0,
            retrain: false,
            ecm_page: None,
            block: 0,
            resend: Vec::new(),
            pprs: 0,
            ctc_bad: None,
            eor: false,
            ctc_tries: 0,
            long_train: false,
            rr: false,
            t5_deadline: None,
            result: FaxResult::default(),
            events: VecDeque::new(),
        };
        me.send_init(now, 0);
        me
    }

    /// Bytes from the port.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) {
        // iaxmodem/spandsp write XON/XOFF into the port while we send: not result text.
        if matches!(
            self.op,
            Op::Cmd | Op::FthWait(_) | Op::FthEnd | Op::FtmWait | Op::FtmEnd
        ) {
            let clean: Vec<u8> = bytes
                .iter()
                .copied()
                .filter(|b| *b != 0x11 && *b != 0x13)
                .collect();
            self.at.feed(now, &clean);
        } else {
            self.at.feed(now, bytes);
        }
        self.pump(now);
    }

    /// The clock reached `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.op == Op::FrhData && self.frame_deadline.is_some_and(|d| now >= d) {
            // The frame never ended: cancel the reception.
            self.frame_deadline = None;
            self.at.end_raw();
            self.abort_receive(now);
        }
        self.at.handle_timeout(now);
        self.pump(now);
    }

    /// Bytes for the port.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.at.poll_transmit()
    }

    /// When the machine needs the clock.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.at.poll_timeout(), self.frame_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Progress, confirmed pages and the final result.
    pub fn poll_event(&mut self) -> Option<FaxEvent> {
        self.events.pop_front()
    }

    /// Whether the call is over.
    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    /// Whether the modem's bytes may be data now: from `+FRH=3` until its result, including a
    /// cancelled one whose frame began as we cancelled (its CONNECT and frame then arrive in
    /// command mode, and every final frame's control octet is 0x13, the DC3 code). The modem
    /// sends flow control only while it takes our data, never while it hands us a frame.
    pub fn receiving_data(&self) -> bool {
        self.at.is_raw()
            || matches!(
                self.op,
                Op::FrhWait | Op::FrhData | Op::FrhEnd | Op::FrhAbort
            )
    }

    /// The session parameters chosen (after DIS).
    pub fn session(&self) -> Option<Session> {
        self.session
    }

    fn progress(&mut self, s: String) {
        self.events.push_back(FaxEvent::Progress(s));
    }

    // ---- DCE operations -------------------------------------------------------------------

    fn cmd(&mut self, now: Instant, text: &str, timeout: Duration) {
        self.op = Op::Cmd;
        if !self.at.command(now, text, timeout) {
            self.result.code = 36;
            self.result.detail = format!("command {text:?} contains a line break");
            self.finish();
        }
    }

    fn frh(&mut self, now: Instant, timeout: Duration) {
        self.op = Op::FrhWait;
        self.at.command_then_raw(now, "+FRH=3", timeout);
    }

    fn fth(&mut self, now: Instant, frames: Vec<Frame>) {
        for f in &frames {
            self.progress(format!("sending {}", fcf_name(f.fcf)));
        }
        self.tx_frames = frames;
        self.tx_code = 3;
        self.op = Op::FthWait(0);
        self.at
            .command_then_raw(now, "+FTH=3", self.timeouts.command + self.timers.t4);
    }

    /// HDLC frames at a page modulation (ECM, `+FTH=code`): every frame is non-final, so the
    /// DCE asks for the next with CONNECT; an empty frame (`DLE ETX` alone) ends the carrier.
    fn fth_hs(&mut self, now: Instant, code: u8, frames: Vec<Frame>) {
        self.tx_frames = frames;
        self.tx_code = code;
        self.op = Op::FthWait(0);
        self.at.command_then_raw(
            now,
            &format!("+FTH={code}"),
            self.timeouts.command + self.timers.t4,
        );
    }

    fn ftm(&mut self, now: Instant, code: u8, data: Vec<u8>) {
        self.tx_data = data;
        self.op = Op::FtmWait;
        self.at.command_then_raw(
            now,
            &format!("+FTM={code}"),
            self.timeouts.command + self.timers.t4,
        );
    }

    fn abort_receive(&mut self, now: Instant) {
        self.op = Op::FrhAbort;
        self.at.send_raw(vec![CAN]);
        self.at
            .expect_final(now, "+FRH=3 cancel", self.timeouts.command);
    }

    fn pump(&mut self, now: Instant) {
        while let Some(ev) = self.at.poll_event() {
            if self.step == Step::Done {
                continue;
            }
            match ev {
                Event::Info(line) => {
                    if self.step == Step::Init(self.init.len() - 1) {
                        self.ftm_codes = line
                            .split(',')
                            .filter_map(|c| c.trim().parse().ok())
                            .collect();
                    }
                }
                Event::Unsolicited(_) | Event::Shielded(_) => {}
                Event::Data(bytes) => self.on_data(now, &bytes),
                Event::Timeout(cmd) => self.on_timeout(now, cmd),
                Event::Final(f) => self.on_final(now, f),
            }
        }
    }

    fn on_data(&mut self, now: Instant, bytes: &[u8]) {
        if self.op != Op::FrhData {
            return;
        }
        if let Some(used) = self.reader.push(bytes) {
            self.received = Some(self.reader.take());
            self.frame_deadline = None;
            self.at.end_raw();
            self.op = Op::FrhEnd;
            self.at.expect_final(now, "frame", self.timeouts.command);
            self.at.feed(now, &bytes[used..]);
        }
    }

    fn on_timeout(&mut self, now: Instant, cmd: String) {
        match self.op {
            Op::FrhWait => self.abort_receive(now),
            Op::Cmd | Op::FrhAbort if !matches!(self.step, Step::Dial) => {
                self.result.modem_unresponsive = true;
                if self.step == Step::Hangup {
                    if self.result.code != 0
                        || self.result.pages_sent < self.plan.pages.len() as u32
                    {
                        self.result.code = 34;
                    }
                    self.result.detail =
                        format!("{}; the modem did not answer {cmd}", self.result.detail);
                    return self.finish();
                }
                self.result.code = 34;
                self.result.detail = format!("the modem did not answer {cmd}");
                self.hang_up(now);
            }
            Op::Dial => self.fail(
                now,
                9,
                "no call-progress result within the dial timeout".into(),
                false,
            ),
            _ => self.step_done(now, Done::Failed(format!("no answer to {cmd}"))),
        }
    }

    fn on_final(&mut self, now: Instant, f: Final) {
        match self.op {
            Op::Cmd => {
                let d = if f == Final::Ok {
                    Done::Ok
                } else {
                    Done::Failed(format!("{f:?}"))
                };
                self.step_done(now, d)
            }
            Op::Dial => self.on_dial(now, f),
            Op::FrhWait => match f {
                Final::Connect(_) => self.start_frame(now),
                _ => self.step_done(now, Done::NoFrame),
            },
            Op::FrhData => {}
            Op::FrhEnd => {
                let bytes = self.received.take().unwrap_or_default();
                let d = match (f, Frame::parse(&bytes)) {
                    (Final::Ok, Some(frame)) => Done::Frame(frame),
                    _ => Done::NoFrame,
                };
                self.step_done(now, d)
            }
            Op::FrhAbort => match f {
                // The frame began just as we cancelled: wait for its end, then count it lost.
                Final::Connect(_) => {
                    self.at
                        .expect_final(now, "+FRH=3 cancel", self.timeouts.command)
                }
                _ => self.step_done(now, Done::NoFrame),
            },
            Op::FthWait(i) => match f {
                Final::Connect(_) => {
                    let frame = self.tx_frames[i].clone();
                    self.at.send_raw(frame.to_dte());
                    self.at.end_raw();
                    let wait = self.timeouts.command + Duration::from_secs(frame.line_secs());
                    if i + 1 == self.tx_frames.len() {
                        self.op = Op::FthEnd;
                        self.at.expect_final(now, "frame sent", wait);
                    } else {
                        self.op = Op::FthWait(i + 1);
                        self.at.expect_final(now, "next frame", wait);
                    }
                }
                other => self.step_done(now, Done::Failed(format!("+FTH=3: {other:?}"))),
            },
            Op::FthEnd if self.tx_code != 3 && matches!(f, Final::Connect(_)) => {
                // ECM frames are non-final: close the transmission with an empty frame.
                self.tx_code = 3;
                self.at.send_raw(vec![DLE, ETX]);
                self.at.end_raw();
                self.at
                    .expect_final(now, "frames sent", self.timeouts.command + self.timers.t4);
            }
            Op::FthEnd => {
                let d = if f == Final::Ok {
                    Done::Ok
                } else {
                    Done::Failed(format!("frame: {f:?}"))
                };
                self.step_done(now, d)
            }
            Op::FtmWait => match f {
                Final::Connect(_) => {
                    let data = std::mem::take(&mut self.tx_data);
                    let mut out = Vec::with_capacity(data.len() + data.len() / 64 + 2);
                    escape_into(&mut out, &data);
                    out.extend([DLE, ETX]);
                    let bps = self.session.map_or(2400, |s| s.modulation.bps);
                    let wire = Duration::from_millis(out.len() as u64 * 8000 / u64::from(bps));
                    self.at.send_raw(out);
                    self.at.end_raw();
                    self.op = Op::FtmEnd;
                    self.at
                        .expect_final(now, "data sent", self.timeouts.command + wire * 2);
                }
                other => self.step_done(now, Done::Failed(format!("+FTM: {other:?}"))),
            },
            Op::FtmEnd => {
                let d = if f == Final::Ok {
                    Done::Ok
                } else {
                    Done::Failed(format!("data: {f:?}"))
                };
                self.step_done(now, d)
            }
        }
    }

    fn start_frame(&mut self, now: Instant) {
        self.op = Op::FrhData;
        self.reader.take();
        self.frame_deadline = Some(now + self.timers.frame);
    }

    fn on_dial(&mut self, now: Instant, f: Final) {
        match f {
            Final::Connect(_) => {
                self.events.push_back(FaxEvent::Connected);
                self.progress("connected: fax answer heard".into());
                self.t1_deadline = now + self.timers.t1;
                self.step = Step::PhaseB;
                self.start_frame(now);
            }
            Final::Busy => self.fail(now, 2, "busy".into(), false),
            Final::NoAnswer => self.fail(now, 1, "no answer".into(), false),
            Final::NoDialtone => self.fail(now, 4, "no dial tone".into(), false),
            Final::NoCarrier => self.fail(now, 3, "no carrier".into(), false),
            Final::Error => self.fail(
                now,
                5,
                "the modem answered ERROR to the dial command".into(),
                false,
            ),
            Final::Vcon => self.fail(now, 6, "a voice answered".into(), false),
            Final::Ok => self.fail(now, 1011, "no fax answer".into(), false),
            Final::FcError => self.fail(now, 3, "wrong carrier".into(), false),
        }
    }

    // ---- T.30 -----------------------------------------------------------------------------

    fn send_init(&mut self, now: Instant, i: usize) {
        self.step = Step::Init(i);
        let cmd = self.init[i].0.clone();
        self.cmd(now, &cmd, self.timeouts.command);
    }

    fn fail(&mut self, now: Instant, code: u32, detail: String, dcn: bool) {
        self.result.code = code;
        self.result.detail = detail;
        self.at.end_raw();
        self.frame_deadline = None;
        if dcn {
            self.step = Step::Dcn;
            self.fth(now, vec![Frame::ours(fcf::DCN, vec![], true)]);
        } else {
            self.hang_up(now);
        }
    }

    fn hang_up(&mut self, now: Instant) {
        self.at.end_raw();
        self.step = Step::Hangup;
        self.cmd(now, "H0", self.timeouts.command);
    }

    fn finish(&mut self) {
        self.step = Step::Done;
        if self.result.detail.is_empty() {
            self.result.detail = format!("{} page(s) sent", self.result.pages_sent);
        }
        self.events
            .push_back(FaxEvent::Finished(self.result.clone()));
    }
}

impl crate::modem::Machine for Class1Send {
    fn feed(&mut self, now: Instant, bytes: &[u8]) {
        Class1Send::feed(self, now, bytes)
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        Class1Send::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        Class1Send::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        Class1Send::handle_timeout(self, now)
    }
    fn is_done(&self) -> bool {
        Class1Send::is_done(self)
    }
    fn receiving_data(&self) -> bool {
        Class1Send::receiving_data(self)
    }
}
