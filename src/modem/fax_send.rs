//! Sending a fax in Class 2.0 or Class 2: the call procedure as a sans-IO state machine.
//!
//! Owns the command order (init, dial, per page `+FDT`, data, post-page message, results) and
//! the mapping of every call-placement result and hang-up code to redial's outcome codes
//! (docs/outcome-codes.md). Page data arrives already T.4-encoded in transmission bit order; this
//! machine only frames it (DLE). It never touches a port or a clock of its own.

use super::at::{AtSession, Event, Final};
use super::dialstring::DialString;
use super::dle::{escape_into, CAN, DC1, DC2, DLE, ETX};
use super::init_sequence;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Which fax command set the modem speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaxClass {
    /// EIA/TIA-592 / T.32 (`+FCLASS=2.0`).
    Class20,
    /// The old SP-2388 draft (`+FCLASS=2`).
    Class2,
}

/// What to send and how.
#[derive(Debug, Clone)]
pub struct FaxPlan {
    /// The validated number.
    pub dial: DialString,
    /// Page data, T.4 encoded, in the bit order the modem expects with `+FBO=0`.
    pub pages: Vec<Vec<u8>>,
    /// Fine (196 lpi) or standard resolution.
    pub fine: bool,
    /// Offer 2-D coding: `pages_mr` holds the same pages MR-coded, sent when the negotiated
    /// session parameters (`+FCS` df) say 2-D.
    pub two_d: bool,
    /// The pages MR-coded (empty when `two_d` is false).
    pub pages_mr: Vec<Vec<u8>>,
    /// Our station ID (`+FLI`); sanitised to 20 printable characters.
    pub local_id: String,
    /// Extra init commands from the line's configuration (without `AT`).
    pub init: Vec<String>,
    /// Highest speed offered (`br` code: 0 = 2400 … 5 = 14400).
    pub max_speed: u8,
    /// How often a page rejected with RTN is sent again before giving up.
    pub page_retries: u32,
    /// `+FLO=n` to send after the class is selected (optional: an ERROR is tolerated): the
    /// flow control the modem applies to our data, 0 none, 1 XON/XOFF, 2 RTS/CTS. `None`: leave
    /// the modem's default. Class 2.0 only (the Class 2 draft has no `+FLO`).
    pub flo: Option<u8>,
    /// Error correction offered: the `ec` subparameter of `+FCC`/`+FIS` (`+FDCC`/`+FDIS`):
    /// [`EC_OFF`], [`EC_64`] or [`EC_256`]. The modem runs ECM itself; `+FCS` says what the
    /// receiver took. (A Class 1 line takes `ecm=`/`ecm_frame=` from it too.)
    pub ec: u8,
}

/// T.32 `ec` 0: no error correction.
pub const EC_OFF: u8 = 0;
/// T.32 `ec` 1: ECM (T.30 Annex A) with 64-octet frames.
pub const EC_64: u8 = 1;
/// T.32 `ec` 2: ECM with 256-octet frames.
pub const EC_256: u8 = 2;

/// What a `+FCS`/`+FDCS` `ec` value means, for the session log.
pub fn ec_name(ec: &str) -> String {
    match ec.trim() {
        "0" | "" => "no ECM".into(),
        "1" => "ECM with 64-octet frames".into(),
        "2" => "ECM with 256-octet frames".into(),
        other => format!("error correction ec={other}"),
    }
}

/// How the call ended.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FaxResult {
    /// redial's outcome code (0 = sent).
    pub code: u32,
    /// Pages the receiver confirmed.
    pub pages_sent: u32,
    /// Negotiated speed in bit/s (0 when no fax connection).
    pub baud: u32,
    /// The receiver's ID (CSI).
    pub remote_id: String,
    /// The raw `+FHS`/`+FHNG` code, when the modem gave one.
    pub hangup: Option<String>,
    /// The modem stopped answering (the line should be taken out of service).
    pub modem_unresponsive: bool,
    /// A sentence for the log.
    pub detail: String,
    /// Class 1 with ECM: frames given up with EOR (T.30 Annex A end of retransmission). Their
    /// pages count as sent (the receiver answered ERR and kept the rest) but lack these frames.
    pub abandoned: Vec<AbandonedFrames>,
}

/// Frames of one partial page (block) the sender gave up on with EOR after four PPRs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbandonedFrames {
    /// 1-based page number.
    pub page: u32,
    /// 0-based block (partial page) of the page.
    pub block: u32,
    /// The frame numbers within the block that never arrived good.
    pub frames: Vec<usize>,
}

/// What the machine reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaxEvent {
    /// A step for the log (`dialling`, `connected to "ACME"`).
    Progress(String),
    /// The number is being dialled.
    Dialling,
    /// A page's data starts going out: its 1-based number and the speed in bit/s.
    PageStarted {
        /// 1-based page number.
        page: u32,
        /// Pages in the call.
        of: u32,
        /// The negotiated speed (0 when the modem did not say).
        baud: u32,
    },
    /// The fax connection is up (Class 2.0/2: `+FCO`; Class 1: the receiver's V.21 heard after
    /// dialling). Connect time runs from here to the hang-up.
    Connected,
    /// A page was confirmed (1-based number).
    PageSent(u32),
    /// The call is over.
    Finished(FaxResult),
}

/// Timeouts of each phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FaxTimeouts {
    /// An ordinary command.
    pub command: Duration,
    /// `ATD` until a result.
    pub dial: Duration,
    /// `+FDT` until CONNECT, and XON.
    pub page_start: Duration,
    /// After page data, on top of the data's own time at 2400 bit/s.
    pub post_page: Duration,
}

impl Default for FaxTimeouts {
    fn default() -> Self {
        FaxTimeouts {
            command: Duration::from_secs(5),
            dial: Duration::from_secs(120),
            page_start: Duration::from_secs(60),
            post_page: Duration::from_secs(60),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Init(usize),
    Dial,
    PageStart,
    WaitXon,
    PageEnd,
    PostPage,
    QueryPpr,
    Hangup,
    Done,
}

/// One fax call.
#[derive(Debug)]
pub struct FaxSend {
    at: AtSession,
    plan: FaxPlan,
    class: FaxClass,
    timeouts: FaxTimeouts,
    init: Vec<(String, bool)>,
    state: State,
    page: usize,
    tries: u32,
    connected: bool,
    ppr: Option<u32>,
    result: FaxResult,
    events: VecDeque<FaxEvent>,
    negotiated_mr: bool,
}

fn clean_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .filter(|c| *c != '"')
        .take(20)
        .collect()
}

/// Outcome code for a `+FHS`/`+FHNG` value: `1000 + n`, Class 2.0's hex `A0`–`A3` as 1100–1103.
pub fn hangup_code(text: &str) -> Option<u32> {
    let t = text.trim();
    if let Some(d) = t.strip_prefix(['A', 'a']) {
        return d.parse::<u32>().ok().filter(|n| *n <= 9).map(|n| 1100 + n);
    }
    t.parse::<u32>()
        .ok()
        .filter(|n| *n <= 255)
        .map(|n| 1000 + n)
}

fn report_value<'a>(line: &'a str, names: &[&str]) -> Option<&'a str> {
    let upper = line.to_ascii_uppercase();
    names.iter().find_map(|n| {
        upper
            .starts_with(n)
            .then(|| line[n.len()..].trim_start_matches([':', ' ']).trim())
    })
}

fn speed(br: &str) -> u32 {
    match br.trim() {
        "0" => 2400,
        "1" => 4800,
        "2" => 7200,
        "3" => 9600,
        "4" => 12000,
        "5" => 14400,
        _ => 0,
    }
}

impl FaxSend {
    /// Starts the call at `now`: the first init command is queued at once.
    pub fn new(now: Instant, plan: FaxPlan, class: FaxClass, timeouts: FaxTimeouts) -> FaxSend {
        let id = clean_id(&plan.local_id);
        let caps = format!(
            "{},{},0,2,{},{},0,0",
            u8::from(plan.fine),
            plan.max_speed.min(5),
            u8::from(plan.two_d),
            plan.ec.min(EC_256)
        );
        let mut init = init_sequence(&plan.init);
        let flo = plan.flo.map(|n| (format!("+FLO={}", n.min(2)), false));
        match class {
            FaxClass::Class20 => init.extend(
                [
                    ("+FCLASS=2.0".into(), true),
                    (format!("+FLI=\"{id}\""), false),
                    (format!("+FCC={caps}"), false),
                    ("+FBO=0".into(), false),
                    ("+FNR=1,1,1,1".into(), false),
                    (format!("+FIS={caps}"), false),
                ]
                .into_iter()
                .chain(flo),
            ),
            FaxClass::Class2 => init.extend([
                ("+FCLASS=2".into(), true),
                (format!("+FLID=\"{id}\""), false),
                (format!("+FDCC={caps}"), false),
                (format!("+FDIS={caps}"), false),
                ("+FCR=1".into(), false),
            ]),
        }
        let mut me = FaxSend {
            at: AtSession::new(),
            plan,
            class,
            timeouts,
            init,
            state: State::Init(0),
            page: 0,
            tries: 0,
            connected: false,
            ppr: None,
            negotiated_mr: false,
            result: FaxResult::default(),
            events: VecDeque::new(),
        };
        me.send_init(now, 0);
        me
    }

    fn send_init(&mut self, now: Instant, i: usize) {
        self.state = State::Init(i);
        let cmd = self.init[i].0.clone();
        if !self.at.command(now, &cmd, self.timeouts.command) {
            self.fail(
                now,
                36,
                format!("init command {cmd:?} contains a line break"),
            );
        }
    }

    /// Bytes from the port.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) {
        self.at.feed(now, bytes);
        self.pump(now);
    }

    /// The clock reached `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.at.handle_timeout(now);
        self.pump(now);
    }

    /// Bytes for the port.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.at.poll_transmit()
    }

    /// When the machine needs the clock.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.at.poll_timeout()
    }

    /// Progress and the final result.
    pub fn poll_event(&mut self) -> Option<FaxEvent> {
        self.events.pop_front()
    }

    /// Whether the call is over.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Whether the modem's bytes are data now (the Class 2 wait for XON after `CONNECT`).
    pub fn receiving_data(&self) -> bool {
        self.at.is_raw()
    }

    fn pump(&mut self, now: Instant) {
        while let Some(ev) = self.at.poll_event() {
            self.on_event(now, ev);
        }
    }

    fn progress(&mut self, s: String) {
        self.events.push_back(FaxEvent::Progress(s));
    }

    /// Ends the call with `code` (hangs up first).
    fn fail(&mut self, now: Instant, code: u32, detail: String) {
        self.result.code = code;
        self.result.detail = detail;
        self.hang_up(now);
    }

    fn hang_up(&mut self, now: Instant) {
        self.at.end_raw();
        self.state = State::Hangup;
        self.at.command(now, "H0", self.timeouts.command);
    }

    fn finish(&mut self) {
        self.state = State::Done;
        self.events
            .push_back(FaxEvent::Finished(self.result.clone()));
    }

    /// The hang-up code if one was reported, else `fallback`.
    fn hangup_or(&self, fallback: u32) -> u32 {
        self.result
            .hangup
            .as_deref()
            .and_then(hangup_code)
            .filter(|c| *c != 1000)
            .unwrap_or(fallback)
    }

    fn on_info(&mut self, line: &str) {
        if let Some(v) = report_value(line, &["+FHS", "+FHNG"]) {
            self.result.hangup = Some(v.to_string());
        } else if report_value(line, &["+FCO"]).is_some() {
            if !self.connected {
                self.events.push_back(FaxEvent::Connected);
            }
            self.connected = true;
        } else if let Some(v) = report_value(line, &["+FCSI", "+FCI"]) {
            self.result.remote_id = v.trim_matches('"').trim().to_string();
        } else if let Some(v) = report_value(line, &["+FDCS", "+FCS"]) {
            let fields: Vec<&str> = v.split(',').map(str::trim).collect();
            self.result.baud = fields.get(1).map_or(0, |b| speed(b));
            // df (data format): 0 = 1-D MH, 1 = 2-D MR.
            self.negotiated_mr = fields.get(4) == Some(&"1");
            // ec: what the receiver took of the error correction offered.
            self.progress(format!(
                "session: {} bit/s, {}, {}",
                self.result.baud,
                if self.negotiated_mr { "MR" } else { "MH" },
                ec_name(fields.get(5).copied().unwrap_or("0"))
            ));
        } else if let Some(v) = report_value(line, &["+FPTS", "+FPS"]) {
            self.ppr = v.split(',').next().and_then(|p| p.trim().parse().ok());
        } else if self.state == State::QueryPpr {
            self.ppr = line.split(',').next().and_then(|p| p.trim().parse().ok());
        }
    }

    fn on_event(&mut self, now: Instant, ev: Event) {
        match ev {
            Event::Info(line) => self.on_info(&line),
            Event::Unsolicited(_) | Event::Shielded(_) => {}
            Event::Data(bytes) => {
                if self.state == State::WaitXon && bytes.iter().any(|b| *b == DC1 || *b == DC2) {
                    self.send_page(now);
                }
            }
            Event::Timeout(cmd) => self.on_timeout(now, cmd),
            Event::Final(f) => self.on_final(now, f),
        }
    }

    fn on_timeout(&mut self, now: Instant, cmd: String) {
        match self.state {
            State::Hangup => {
                self.result.modem_unresponsive = true;
                if self.result.code != 0 || self.result.pages_sent < self.plan.pages.len() as u32 {
                    self.result.code = 34;
                    self.result.detail =
                        format!("{}; the modem did not answer {cmd}", self.result.detail);
                }
                self.finish();
            }
            State::Init(_) => {
                self.result.modem_unresponsive = true;
                self.fail(now, 34, format!("the modem did not answer {cmd}"));
            }
            State::Dial => self.fail(
                now,
                9,
                "no call-progress result within the dial timeout".into(),
            ),
            State::WaitXon => {
                // Nothing came: abort the data phase.
                self.at.send_raw(vec![CAN]);
                self.fail(now, 1043, "the modem never sent XON after CONNECT".into());
            }
            _ => {
                let code = self.hangup_or(if self.state == State::PageStart {
                    1040
                } else {
                    1050
                });
                self.fail(now, code, format!("no answer to {cmd} from the modem"));
            }
        }
    }

    fn on_final(&mut self, now: Instant, f: Final) {
        match self.state.clone() {
            State::Init(i) => {
                let (cmd, required) = self.init[i].clone();
                if f != Final::Ok && required {
                    return self.fail(now, 36, format!("the modem answered {f:?} to AT{cmd}"));
                }
                if cmd == "V1" && f == Final::Ok {
                    self.at.set_verbose(true);
                }
                if i + 1 < self.init.len() {
                    self.send_init(now, i + 1);
                } else {
                    self.state = State::Dial;
                    let d = self.plan.dial.as_str();
                    let cmd = if d.starts_with(['T', 'P']) {
                        format!("D{d}")
                    } else {
                        format!("DT{d}")
                    };
                    self.progress(format!("dialling {d}"));
                    self.events.push_back(FaxEvent::Dialling);
                    self.at.command(now, &cmd, self.timeouts.dial);
                }
            }
            State::Dial => match f {
                Final::Ok if self.connected => {
                    self.progress(format!("connected to {:?}", self.result.remote_id));
                    self.start_page(now);
                }
                Final::Ok | Final::NoCarrier => {
                    let code = self.hangup_or(3);
                    self.fail(now, code, "no fax connection".into())
                }
                Final::Busy => self.fail(now, 2, "busy".into()),
                Final::NoAnswer => self.fail(now, 1, "no answer".into()),
                Final::NoDialtone => self.fail(now, 4, "no dial tone".into()),
                Final::Error => {
                    let code = self.hangup_or(5);
                    self.fail(
                        now,
                        code,
                        "the modem answered ERROR to the dial command".into(),
                    )
                }
                Final::Connect(_) => self.fail(now, 13, "a data modem answered".into()),
                Final::Vcon => self.fail(now, 6, "a voice answered".into()),
                Final::FcError => self.fail(now, 3, "wrong carrier".into()),
            },
            State::PageStart => match f {
                Final::Connect(_) => match self.class {
                    FaxClass::Class20 => self.send_page(now),
                    FaxClass::Class2 => {
                        self.state = State::WaitXon;
                        self.at.expect_final(now, "XON", self.timeouts.page_start);
                    }
                },
                other => {
                    let code = self.hangup_or(1040);
                    self.fail(now, code, format!("+FDT answered {other:?}"))
                }
            },
            State::WaitXon => {
                let code = self.hangup_or(1043);
                self.fail(now, code, format!("{f:?} while waiting for XON"))
            }
            State::PageEnd => match (self.class, f) {
                (FaxClass::Class20, Final::Ok) => self.page_confirmed(now),
                (FaxClass::Class20, Final::Error) => {
                    if self
                        .result
                        .hangup
                        .as_deref()
                        .and_then(hangup_code)
                        .is_some_and(|c| c != 1000)
                    {
                        let code = self.hangup_or(1050);
                        return self.fail(now, code, "the receiver hung up after the page".into());
                    }
                    self.state = State::QueryPpr;
                    self.ppr = None;
                    self.at.command(now, "+FPS?", self.timeouts.command);
                }
                (FaxClass::Class2, Final::Ok) => {
                    let last = self.page + 1 == self.plan.pages.len();
                    self.state = State::PostPage;
                    self.ppr = None;
                    self.at.command(
                        now,
                        if last { "+FET=2" } else { "+FET=0" },
                        self.timeouts.post_page,
                    );
                }
                (_, other) => {
                    let code = self.hangup_or(1050);
                    self.fail(now, code, format!("{other:?} after the page data"))
                }
            },
            State::PostPage => match f {
                Final::Ok => match self.ppr {
                    Some(p) if p % 2 == 1 => self.page_confirmed(now),
                    None if self.result.hangup.as_deref().and_then(hangup_code) == Some(1000) => {
                        self.page_confirmed(now)
                    }
                    Some(2) | None => self.page_rejected(now),
                    Some(_) => self.fail(
                        now,
                        1058,
                        "the receiver interrupted the procedure (PIN)".into(),
                    ),
                },
                other => {
                    let code = self.hangup_or(1050);
                    self.fail(now, code, format!("{other:?} after the post-page message"))
                }
            },
            State::QueryPpr => match self.ppr {
                Some(1) | Some(3) | Some(5) if f == Final::Ok => self.page_confirmed(now),
                Some(4) => self.fail(
                    now,
                    1058,
                    "the receiver interrupted the procedure (PIN)".into(),
                ),
                _ => self.page_rejected(now),
            },
            State::Hangup => {
                if self.result.detail.is_empty() {
                    self.result.detail = format!("{} page(s) sent", self.result.pages_sent);
                }
                self.finish()
            }
            State::Done => {}
        }
    }

    fn start_page(&mut self, now: Instant) {
        self.state = State::PageStart;
        self.at
            .command_then_raw(now, "+FDT", self.timeouts.page_start);
    }

    fn send_page(&mut self, now: Instant) {
        let mr = self.negotiated_mr
            && self.plan.two_d
            && self.plan.pages_mr.len() == self.plan.pages.len();
        let data = if mr {
            &self.plan.pages_mr[self.page]
        } else {
            &self.plan.pages[self.page]
        };
        let last = self.page + 1 == self.plan.pages.len();
        self.events.push_back(FaxEvent::PageStarted {
            page: self.page as u32 + 1,
            of: self.plan.pages.len() as u32,
            baud: self.result.baud,
        });
        let mut out = Vec::with_capacity(data.len() + 64);
        escape_into(&mut out, data);
        out.push(DLE);
        out.push(match self.class {
            FaxClass::Class20 if last => b'.',
            FaxClass::Class20 => b',',
            FaxClass::Class2 => ETX,
        });
        // The data takes its own time on the line: at worst 2400 bit/s.
        let wire = Duration::from_millis(out.len() as u64 * 8 * 1000 / 2400);
        self.at.send_raw(out);
        self.at.end_raw();
        self.state = State::PageEnd;
        self.ppr = None;
        self.at
            .expect_final(now, "page", self.timeouts.post_page + wire);
    }

    fn page_confirmed(&mut self, now: Instant) {
        self.result.pages_sent += 1;
        self.tries = 0;
        self.events
            .push_back(FaxEvent::PageSent(self.result.pages_sent));
        self.page += 1;
        if self.page < self.plan.pages.len() {
            self.start_page(now);
        } else {
            let code = self.hangup_or(0);
            self.result.code = code;
            self.result.detail = format!("{} page(s) sent", self.result.pages_sent);
            self.hang_up(now);
        }
    }

    fn page_rejected(&mut self, now: Instant) {
        self.tries += 1;
        if self.tries > self.plan.page_retries {
            return self.fail(
                now,
                20,
                format!("page {} rejected (RTN) {} times", self.page + 1, self.tries),
            );
        }
        self.progress(format!(
            "page {} rejected (RTN), sending it again",
            self.page + 1
        ));
        self.start_page(now);
    }
}
