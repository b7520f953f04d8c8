//! The `modem` line: a fax/voice modem on a serial port, driven by the sans-IO call machines.
//!
//! ```text
//! $line 1 /dev/ttyS0 group=fax class=2.0 speed=19200 init="S7=60" id="+1 555 0100"
//! $line 2 modem device=/dev/ttyACM0 type=voice amd_greeting=1.5 opt_out=9
//! ```
//! Owns opening the port for each call (so a modem that vanished is simply reopened when it is
//! back, with the line's `flow=`), preparing what the call needs (a validated dial string, one
//! fax plan from the line's settings for either class, encoded pages or µ-law audio), running the
//! machine over the port while taking its events as they happen (logged then; connect time from
//! the fax connection to the hang-up; pages scheduled = the documents' pages), and the line's
//! circuit breaker: a modem that stops answering or disappears takes the line out of service at
//! once, no dial tone three times in a row does too, and after the cool-down a probe (`ATZ`) must
//! answer `OK` before calls resume. Its failures become outcome codes for the job (34, 35, 36:
//! class E by default), so the job is requeued and other lines carry on.

use super::breaker::{self, Breaker, State};
use super::documents::{encode_for_class2, pages_for_line, DocumentCache, Prepared};
use super::flow::Flow;
use super::serial::{drive, drive_with, now, tty_unsent, Cancel, Pacing, PortError};
use super::transcript::{Recording, Transcript};
use super::{Call, CallProgress, CallResult, Completion, Line, LineDef, Placed, Report};
use crate::audio::load_message;
use crate::daemon::clock::{Clock, SystemClock};
use crate::fax::Resolution;
use crate::modem::dialstring::DialString;
use crate::modem::fax_send::{
    FaxClass, FaxEvent, FaxPlan, FaxResult, FaxSend, FaxTimeouts, EC_256, EC_64, EC_OFF,
};
use crate::modem::query::Query;
use crate::modem::t30::{pick_class, AnyFax, Class1Mode, Class1Plan, Class1Send};
use crate::modem::voice_call::{VoiceCall, VoicePlan};
use crate::retry::outcome::Channel;
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_serial::SerialPortBuilderExt;

/// A modem line's settings from its `$line` definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ModemSettings {
    /// The serial device.
    pub device: PathBuf,
    /// Port speed (DTE rate).
    pub baud: u32,
    /// Fax command set.
    pub class: FaxClass,
    /// Takes fax calls.
    pub fax: bool,
    /// Takes voice calls.
    pub voice: bool,
    /// Extra init commands (`init="S7=60;S0=0"`, without `AT`).
    pub init: Vec<String>,
    /// Our fax station ID.
    pub local_id: String,
    /// Dialled before every number (`prefix=9,`).
    pub prefix: String,
    /// Highest fax speed offered (`br` code 0–5).
    pub max_speed: u8,
    /// Retransmissions of a rejected page.
    pub page_retries: u32,
    /// Greeting length above which a voice answer is a machine.
    pub amd_greeting: Duration,
    /// No speech after the answer for this long: could not tell.
    pub amd_timeout: Duration,
    /// The opt-out DTMF digit.
    pub opt_out: Option<char>,
    /// Timeouts of the call phases.
    pub timeouts: FaxTimeouts,
    /// Class 1 (`class=1`), or chosen per call from `+FCLASS=?` (`class=auto`).
    pub class1: Class1Mode,
    /// Offer 2-D (MR) coding to receivers that accept it (`mr=no` sends MH only).
    pub mr: bool,
    /// Error correction mode (T.30 Annex A) when the receiver offers it (`ecm=no` sends
    /// without): Class 1 runs it (with MMR coding when offered), Class 2.0/2 offer it to the
    /// modem (`ec` of `+FCC`/`+FIS`, `+FDCC`/`+FDIS`).
    pub ecm: bool,
    /// ECM frame size: 256 octets (default) or 64 (`ecm_frame=64`; Class 2.0/2: `ec` 1).
    pub ecm_frame: usize,
    /// Class 1 ECM frames framed by redial and sent with `+FTM` (`ecm_hdlc=host`, the default:
    /// spandsp's T.31 takes `+FTH=3` only) rather than by the modem after `+FTH=n`
    /// (`ecm_hdlc=modem`).
    pub ecm_host_hdlc: bool,
    /// Flow control toward the modem (`flow=xonxoff|rtscts|none`).
    pub flow: Flow,
    /// The first cool-down of a line out of service before its probe (`probe=SECS`, 1 to
    /// 1800; each failed probe doubles it, up to 30 minutes or this if longer).
    pub probe: Duration,
}

fn seconds(key: &str, v: &str) -> Result<Duration, String> {
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0 && *s < 3600.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{key}={v}: expected seconds"))
}

/// Every setting a modem line's `$line` takes (`setting::unknown` answers a typo from these).
const MODEM_KEYS: &[&str] = &[
    "device",
    "group",
    "down",
    "speed",
    "class",
    "type",
    "init",
    "id",
    "prefix",
    "fax_speed",
    "page_retries",
    "amd_greeting",
    "mr",
    "ecm",
    "ecm_frame",
    "ecm_hdlc",
    "flow",
    "dial_timeout",
    "command_timeout",
    "amd_timeout",
    "opt_out",
    "probe",
];

/// The line breaker's tuning with `probe` as its first cool-down ([`ModemSettings::probe`]).
fn line_breaker(probe: Duration) -> breaker::Settings {
    let first = chrono::Duration::from_std(probe).unwrap_or(breaker::LINE.cool_down);
    breaker::Settings {
        cool_down: first,
        max_cool_down: breaker::LINE.max_cool_down.max(first),
        ..breaker::LINE
    }
}

impl ModemSettings {
    /// Reads a `$line N DEVICE …` or `$line N modem device=DEVICE …` definition.
    pub fn from_def(def: &LineDef) -> Result<ModemSettings, String> {
        let device = match def.param("device") {
            Some(d) => d.to_string(),
            None if def.kind.starts_with('/') => def.kind.clone(),
            None => return Err(format!("line {} needs device=PATH", def.number)),
        };
        let mut s = ModemSettings {
            device: PathBuf::from(device),
            baud: 19200,
            class: FaxClass::Class20,
            fax: true,
            voice: true,
            init: Vec::new(),
            local_id: String::new(),
            prefix: String::new(),
            max_speed: 5,
            page_retries: 2,
            amd_greeting: Duration::from_millis(1500),
            amd_timeout: Duration::from_secs(5),
            opt_out: None,
            timeouts: FaxTimeouts::default(),
            class1: Class1Mode::Never,
            mr: true,
            ecm: true,
            ecm_frame: 256,
            ecm_host_hdlc: true,
            flow: Flow::default(),
            probe: breaker::LINE
                .cool_down
                .to_std()
                .expect("a positive cool-down"),
        };
        for (k, v) in &def.params {
            match k.as_str() {
                "device" | "group" | "down" => {}
                "speed" => {
                    s.baud =
                        v.parse().ok().filter(|b| *b >= 300).ok_or_else(|| {
                            format!("speed={v}: expected a port speed such as 19200")
                        })?
                }
                "class" => {
                    s.class = match v.as_str() {
                        "2.0" => FaxClass::Class20,
                        "2" => FaxClass::Class2,
                        "1" | "1.0" => {
                            s.class1 = Class1Mode::Always;
                            FaxClass::Class20
                        }
                        "auto" => {
                            s.class1 = Class1Mode::Auto;
                            FaxClass::Class20
                        }
                        _ => return Err(format!("class={v}: expected 2.0, 2, 1 or auto")),
                    }
                }
                "type" => {
                    (s.fax, s.voice) = match v.as_str() {
                        "fax" => (true, false),
                        "voice" => (false, true),
                        "both" => (true, true),
                        _ => {
                            return Err(format!(
                                "type={v}: expected fax, voice or both (or sms for a GSM modem)"
                            ))
                        }
                    }
                }
                "init" => {
                    for c in v.split(';').map(str::trim).filter(|c| !c.is_empty()) {
                        let c = c
                            .strip_prefix("AT")
                            .or_else(|| c.strip_prefix("at"))
                            .unwrap_or(c);
                        if c.bytes().any(|b| b < 0x20 || b == 0x7f) {
                            return Err(format!("init={v:?}: control characters are not allowed"));
                        }
                        s.init.push(c.to_string());
                    }
                }
                "id" => s.local_id = v.clone(),
                "prefix" => {
                    DialString::new("0", v).map_err(|e| format!("prefix={v}: {e}"))?;
                    s.prefix = v.clone();
                }
                "fax_speed" => {
                    s.max_speed = match v.as_str() {
                        "2400" => 0,
                        "4800" => 1,
                        "7200" => 2,
                        "9600" => 3,
                        "12000" => 4,
                        "14400" => 5,
                        _ => {
                            return Err(format!(
                                "fax_speed={v}: expected 2400, 4800, 7200, 9600, 12000 or 14400"
                            ))
                        }
                    }
                }
                "page_retries" => {
                    s.page_retries = v
                        .parse()
                        .map_err(|_| format!("page_retries={v}: expected a number"))?
                }
                "amd_greeting" => s.amd_greeting = seconds(k, v)?,
                "probe" => {
                    s.probe = v
                        .parse::<u64>()
                        .ok()
                        .filter(|n| (1..=1800).contains(n))
                        .map(Duration::from_secs)
                        .ok_or_else(|| {
                            format!("probe={v}: expected whole seconds from 1 to 1800")
                        })?
                }
                "mr" => {
                    s.mr = match v.as_str() {
                        "yes" | "1" | "on" => true,
                        "no" | "0" | "off" => false,
                        _ => return Err(format!("mr={v}: expected yes or no")),
                    }
                }
                "ecm" => {
                    s.ecm = match v.as_str() {
                        "yes" | "1" | "on" => true,
                        "no" | "0" | "off" => false,
                        _ => return Err(format!("ecm={v}: expected yes or no")),
                    }
                }
                "ecm_frame" => {
                    s.ecm_frame = match v.as_str() {
                        "256" => 256,
                        "64" => 64,
                        _ => return Err(format!("ecm_frame={v}: expected 256 or 64")),
                    }
                }
                "ecm_hdlc" => {
                    s.ecm_host_hdlc = match v.as_str() {
                        "modem" => false,
                        "host" => true,
                        _ => return Err(format!("ecm_hdlc={v}: expected modem or host")),
                    }
                }
                "flow" => {
                    s.flow = v
                        .parse()
                        .map_err(|e| format!("$line {}: {e}", def.number))?
                }
                "dial_timeout" => s.timeouts.dial = seconds(k, v)?,
                "command_timeout" => s.timeouts.command = seconds(k, v)?,
                "amd_timeout" => s.amd_timeout = seconds(k, v)?,
                "opt_out" => {
                    let mut chars = v.chars();
                    s.opt_out = match (chars.next(), chars.next()) {
                        (Some(c), None) if c.is_ascii_digit() || c == '*' || c == '#' => Some(c),
                        _ => return Err(format!("opt_out={v}: expected one DTMF digit")),
                    }
                }
                other => return Err(super::setting::unknown("modem", other, MODEM_KEYS)),
            }
        }
        Ok(s)
    }
}

/// A modem line.
pub struct ModemLine {
    number: u32,
    settings: Arc<ModemSettings>,
    health: Arc<Mutex<Health>>,
    documents: DocumentCache,
    /// The clock the line's health is kept by (the wall clock, but for tests): when it went
    /// out of service and when to probe it.
    clock: Arc<dyn Clock>,
    /// The cancel input of the call in progress (the last one placed).
    cancel: Option<tokio::sync::watch::Sender<bool>>,
}

#[derive(Debug)]
struct Health {
    breaker: Breaker,
    probing: bool,
}

impl ModemLine {
    /// A line from its settings, with a document cache of its own.
    pub fn new(number: u32, settings: ModemSettings) -> ModemLine {
        ModemLine::with_documents(number, settings, DocumentCache::default())
    }

    /// A line from its settings that prepares documents through `documents` (the node's lines
    /// share one cache, so a campaign's document is encoded once, not once per call).
    pub fn with_documents(
        number: u32,
        settings: ModemSettings,
        documents: DocumentCache,
    ) -> ModemLine {
        ModemLine::with_clock(number, settings, documents, Arc::new(SystemClock))
    }

    /// [`ModemLine::with_documents`] keeping the line's health by `clock`.
    pub fn with_clock(
        number: u32,
        settings: ModemSettings,
        documents: DocumentCache,
        clock: Arc<dyn Clock>,
    ) -> ModemLine {
        let mut breaker = Breaker::new(line_breaker(settings.probe));
        if let Some(why) = not_a_device(&settings.device) {
            // No call is charged for finding out: the line starts out of service, and the
            // first probe (one cool-down from now) puts it in service once the device is there.
            breaker.trip(clock.now());
            tracing::warn!(line = number, device = %settings.device.display(),
                "modem device {why} at start: line out of service until a probe finds a modem there");
        }
        ModemLine {
            number,
            settings: Arc::new(settings),
            health: Arc::new(Mutex::new(Health {
                breaker,
                probing: false,
            })),
            documents,
            clock,
            cancel: None,
        }
    }

    /// The breaker's state now.
    pub fn breaker_state(&self) -> State {
        self.health
            .lock()
            .expect("health lock")
            .breaker
            .state(self.clock.now())
    }
}

impl Line for ModemLine {
    fn number(&self) -> u32 {
        self.number
    }

    fn takes(&self, channel: Channel) -> bool {
        // A fax/voice modem sends no SMS: SMS jobs wait for a line that does (sms_http).
        !matches!(channel, Channel::Email | Channel::Sms)
    }

    fn next_probe(&self) -> Option<DateTime<Utc>> {
        match self
            .health
            .lock()
            .expect("health lock")
            .breaker
            .state(self.clock.now())
        {
            State::Open(until) => Some(until),
            State::HalfOpen => Some(self.clock.now()),
            State::Closed => None,
        }
    }

    fn board(&self) -> char {
        'M'
    }

    fn is_up(&self) -> bool {
        let mut h = self.health.lock().expect("health lock");
        // Asked on every turn of the service loop, for every line: the clock only when the
        // breaker is open (its cool-down may be over).
        if h.breaker.is_closed() {
            return true;
        }
        match h.breaker.state(self.clock.now()) {
            State::Closed => true,
            State::Open(_) => false,
            State::HalfOpen => {
                if !h.probing && tokio::runtime::Handle::try_current().is_ok() {
                    h.probing = true;
                    let (settings, health, clock) = (
                        self.settings.clone(),
                        self.health.clone(),
                        self.clock.clone(),
                    );
                    tokio::spawn(async move {
                        let ok = probe(&settings).await;
                        let mut h = health.lock().expect("health lock");
                        h.probing = false;
                        if ok {
                            h.breaker.success();
                            tracing::info!(device = %settings.device.display(), "modem answers again: line back in service");
                        } else {
                            h.breaker.failure(clock.now());
                        }
                    });
                }
                false
            }
        }
    }

    fn cancel(&mut self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.send(true).is_ok())
    }

    fn place(&mut self, call: &Call, _now: DateTime<Utc>, done: &Completion) -> Placed {
        let (cancel_tx, mut cancel) = tokio::sync::watch::channel(false);
        self.cancel = Some(cancel_tx);
        let (number, settings, health, call, done, documents, clock) = (
            self.number,
            self.settings.clone(),
            self.health.clone(),
            call.clone(),
            done.clone(),
            self.documents.clone(),
            self.clock.clone(),
        );
        tokio::spawn(async move {
            let mut of = 0;
            let progress = |_: Instant, ev: &FaxEvent| {
                let step = match *ev {
                    FaxEvent::Dialling => CallProgress::Dialling,
                    FaxEvent::Connected => CallProgress::Connected {
                        remote: String::new(),
                    },
                    FaxEvent::PageStarted { page, of: n, baud } => {
                        of = n;
                        CallProgress::Page {
                            number: page,
                            of,
                            baud,
                        }
                    }
                    FaxEvent::PageSent(number) => CallProgress::PageConfirmed { number, of },
                    FaxEvent::Progress(_) | FaxEvent::Finished(_) => return,
                };
                let _ = done.send((number, Report::Progress(step)));
            };
            let result =
                run_call_observed(&settings, &call, &documents, &mut cancel, progress).await;
            {
                let mut h = health.lock().expect("health lock");
                let now = clock.now();
                match result.code {
                    34 | 35 => {
                        // A modem that does not answer or is gone is out of service now.
                        h.breaker.trip(now);
                        tracing::warn!(line = number, code = result.code, "modem out of service");
                    }
                    c if breaker::LINE_FAULT_CODES.contains(&c) => {
                        h.breaker.failure(now);
                    }
                    _ => h.breaker.success(),
                }
            }
            let _ = done.send((number, Report::Done(result)));
        });
        Placed::Reported
    }
}

/// Why `device` cannot be a modem's port, looked at without opening it (opening a serial port
/// raises DTR): `missing`, or what it is instead of a character device (a directory, such as
/// `/dev/serial/by-id/` without the name; a plain file). `None` for a character device, links
/// followed.
fn not_a_device(device: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(device) {
        Err(_) => Some("missing"),
        Ok(m) if m.file_type().is_char_device() => None,
        Ok(m) if m.is_dir() => Some("is a directory"),
        Ok(_) => Some("is not a character device"),
    }
}

/// Opens the line's port at its speed.
pub async fn open_port(settings: &ModemSettings) -> Result<tokio_serial::SerialStream, String> {
    let path = settings.device.to_string_lossy().into_owned();
    let flow = match settings.flow {
        // XON/XOFF is honoured by the serial shell, not by the kernel (see `flow`).
        Flow::XonXoff | Flow::None => tokio_serial::FlowControl::None,
        Flow::RtsCts => tokio_serial::FlowControl::Hardware,
    };
    tokio_serial::new(path, settings.baud)
        .flow_control(flow)
        .timeout(Duration::from_secs(2))
        .open_native_async()
        .map_err(|e| format!("cannot open {}: {e}", settings.device.display()))
}

/// Opens the line's port for `call`, recorded into a new session log headed with `what` (`fax`,
/// `voice call`), with the pacing for it.
async fn open_recorded(
    settings: &ModemSettings,
    call: &Call,
    what: &str,
) -> Result<
    (
        Recording<tokio_serial::SerialStream>,
        Pacing,
        super::transcript::Shared,
    ),
    String,
> {
    let port = open_port(settings).await?;
    let transcript = Transcript::shared(&format!(
        "job {} attempt {}: {what} to {} on {}",
        call.job,
        call.attempt,
        call.number,
        settings.device.display()
    ));
    let pacing = pacing(settings, &port);
    Ok((Recording::new(port, transcript.clone()), pacing, transcript))
}

/// How the shell paces writing to this line's open port: XON/XOFF per `flow=`, and the
/// driver's transmit queue kept short at the port's speed (10 bits a byte). A pseudo-terminal
/// (iaxmodem, t38modem, hw-sim) has no transmit queue: a write lands in the other side's input
/// at once, so nothing is asked of it.
fn pacing(settings: &ModemSettings, port: &tokio_serial::SerialStream) -> Pacing {
    let xonxoff = settings.flow == Flow::XonXoff;
    Pacing {
        xonxoff,
        unsent: (xonxoff && !is_pty(&settings.device)).then(|| {
            (
                tty_unsent(std::os::fd::AsRawFd::as_raw_fd(port)),
                Duration::from_secs_f64(10.0 / f64::from(settings.baud.max(300))),
            )
        }),
    }
}

/// Whether `device` (after its symlinks) is the terminal side of a Unix98 pseudo-terminal
/// (`/dev/pts/N`: character devices of majors 136 to 143).
fn is_pty(device: &Path) -> bool {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    std::fs::metadata(device).is_ok_and(|m| {
        m.file_type().is_char_device() && (136..=143).contains(&libc::major(m.rdev()))
    })
}

async fn probe(settings: &ModemSettings) -> bool {
    let Ok(mut port) = open_port(settings).await else {
        return false;
    };
    // `ATZ` answered with `OK` within five seconds.
    let mut p = Query::new(now(), "Z", Duration::from_secs(5));
    drive(&mut port, &mut p).await.is_ok() && p.answer().is_some()
}

fn failed(code: u32, why: String) -> CallResult {
    tracing::warn!(code, "{why}");
    CallResult {
        code,
        ..CallResult::default()
    }
}

/// Places one call and maps everything that can go wrong to an outcome code.
pub async fn run_call(settings: &ModemSettings, call: &Call) -> CallResult {
    run_call_with(settings, call, &DocumentCache::default()).await
}

/// [`run_call`] with documents prepared through `documents`.
pub async fn run_call_with(
    settings: &ModemSettings,
    call: &Call,
    documents: &DocumentCache,
) -> CallResult {
    let (_keep, mut cancel) = tokio::sync::watch::channel(false);
    run_call_observed(settings, call, documents, &mut cancel, |_, _| {}).await
}

/// [`run_call_with`], handing each step of a fax call to `observe` when it happens (with the
/// instant the line saw it): progress, the connection, every confirmed page, the result. Each
/// step is also logged at that moment. A set `cancel` hangs the call up (outcome 40,
/// [`crate::daemon::CODE_CANCELLED`]).
pub async fn run_call_observed<F>(
    settings: &ModemSettings,
    call: &Call,
    documents: &DocumentCache,
    cancel: &mut Cancel,
    observe: F,
) -> CallResult
where
    F: FnMut(Instant, &FaxEvent) + Send,
{
    let started = Instant::now();
    let dial = match DialString::new(&call.number, &settings.prefix) {
        Ok(d) => d,
        Err(e) => return failed(11, format!("job {}: {e}", call.job)),
    };
    let mut result = match call.channel {
        _ if *cancel.borrow() => cancelled(),
        Channel::Voice if settings.voice => voice_call(settings, call, dial, cancel).await,
        Channel::Fax if settings.fax => {
            fax_call(settings, call, dial, documents, cancel, observe).await
        }
        other => failed(37, format!("line cannot place {other:?} calls")),
    };
    result.call_secs = started.elapsed().as_secs() as u32;
    result
}

/// The result of a call an operator cancelled (the modem was hung up).
fn cancelled() -> CallResult {
    tracing::info!("call cancelled by an operator: modem hung up");
    CallResult {
        code: crate::daemon::CODE_CANCELLED,
        ..CallResult::default()
    }
}

/// What a fax call's events said, gathered as they happen.
#[derive(Debug, Default)]
struct Seen {
    connected_at: Option<Instant>,
    result: Option<FaxResult>,
}

async fn fax_call<F>(
    settings: &ModemSettings,
    call: &Call,
    dial: DialString,
    documents: &DocumentCache,
    cancel: &mut Cancel,
    mut observe: F,
) -> CallResult
where
    F: FnMut(Instant, &FaxEvent) + Send,
{
    let resolution = if call.low_resolution {
        Resolution::Standard
    } else {
        Resolution::Fine
    };
    let mut docs = Vec::new();
    if let Some(text) = &call.cover {
        let pages = crate::fax::render_text(text.as_bytes());
        docs.push(std::sync::Arc::new(Prepared::from_pages(pages, resolution)));
    }
    for doc in &call.documents {
        match documents.get(doc, resolution) {
            Ok(p) => docs.push(p),
            Err(e) => {
                let code = if doc.exists() { 31 } else { 30 };
                return failed(code, format!("job {}: {e}", call.job));
            }
        }
    }
    // With a header line every page is stamped for this call (date, time, page N of M) and
    // coded again; without, the document cache's pages and codings go as they are.
    let stamped = call.header.as_ref().map(|h| {
        let pages = pages_for_line(&docs, Some(h), &settings.local_id, chrono::Utc::now());
        let (mh, mr) = encode_for_class2(&pages, resolution);
        (pages, mh, mr)
    });
    let scheduled = docs.iter().map(|d| d.pages.len() as u32).sum();
    if scheduled == 0 {
        return failed(30, format!("job {}: no document to send", call.job));
    }
    let max_speed = match call.fax_speed {
        Some(bps) => settings.max_speed.min(speed_code(bps)),
        None => settings.max_speed,
    };
    // One plan from the line's settings for either command set; the Class 1 plan is derived
    // from it (Class1Plan::from_fax_plan), so no setting is dropped on the way.
    let plan = FaxPlan {
        dial,
        pages: Vec::new(),
        fine: resolution == Resolution::Fine,
        two_d: settings.mr,
        pages_mr: Vec::new(),
        // +FLI: the job's $fax_station_id when its header names one, else the line's id.
        local_id: call
            .header
            .as_ref()
            .and_then(|h| h.station.clone())
            .unwrap_or_else(|| settings.local_id.clone()),
        init: settings.init.clone(),
        max_speed,
        page_retries: settings.page_retries,
        flo: Some(match settings.flow {
            Flow::None => 0,
            Flow::XonXoff => 1,
            Flow::RtsCts => 2,
        }),
        // ECM: Class 2.0/2 offer it in +FCC/+FIS (the modem runs it); Class 1 runs it itself.
        ec: match (settings.ecm, settings.ecm_frame) {
            (false, _) => EC_OFF,
            (true, 64) => EC_64,
            (true, _) => EC_256,
        },
    };
    let (mut port, pacing, transcript) = match open_recorded(settings, call, "fax").await {
        Ok(p) => p,
        Err(e) => return failed(35, e),
    };
    let take = || transcript.lock().expect("transcript").take();
    let class = match settings.class1 {
        Class1Mode::Never => Some(settings.class),
        Class1Mode::Always => None,
        Class1Mode::Auto => {
            let mut q = Query::new(now(), "+FCLASS=?", settings.timeouts.command);
            let answer = match drive(&mut port, &mut q).await {
                Ok(()) => q.answer().map(|lines| lines.join(",")),
                Err(e) => return failed(35, format!("{}: {e}", settings.device.display())),
            };
            match answer.as_deref().map(pick_class) {
                Some(Some("2.0")) => Some(FaxClass::Class20),
                Some(Some("2")) => Some(FaxClass::Class2),
                Some(Some(_)) => None,
                Some(None) => return failed(36, "the modem offers no fax class".into()),
                None => return failed(34, "the modem did not answer AT+FCLASS=?".into()),
            }
        }
    };
    let mut machine = match class {
        Some(class) => {
            // Class 2/2.0: the modem negotiates; both codings are ready, +FCS picks one.
            let (pages, pages_mr) = match &stamped {
                Some((_, mh, mr)) => (mh.clone(), mr.clone()),
                None => (
                    docs.iter().flat_map(|d| d.mh.iter().cloned()).collect(),
                    if settings.mr {
                        docs.iter().flat_map(|d| d.mr.iter().cloned()).collect()
                    } else {
                        Vec::new()
                    },
                ),
            };
            let plan = FaxPlan {
                pages,
                pages_mr: if settings.mr { pages_mr } else { Vec::new() },
                ..plan
            };
            AnyFax::Class2(Box::new(FaxSend::new(
                now(),
                plan,
                class,
                settings.timeouts,
            )))
        }
        None => AnyFax::Class1(Box::new(Class1Send::new(
            now(),
            Class1Plan {
                ecm_host_hdlc: settings.ecm_host_hdlc,
                ..Class1Plan::from_fax_plan(
                    plan,
                    match &stamped {
                        Some((pages, _, _)) => pages.clone(),
                        None => docs.iter().flat_map(|d| d.pages.iter().cloned()).collect(),
                    },
                )
            },
            settings.timeouts,
            Default::default(),
        ))),
    };
    let mut seen = Seen::default();
    let job = call.job.clone();
    let outcome = drive_with(
        &mut port,
        &mut machine,
        pacing,
        |m: &mut AnyFax| {
            while let Some(ev) = m.poll_event() {
                let at = Instant::now();
                let mut log = transcript.lock().expect("transcript");
                match &ev {
                    FaxEvent::Finished(r) => {
                        log.note(&format!(
                            "result: outcome {} ({}), {} pages sent",
                            r.code, r.detail, r.pages_sent
                        ));
                        seen.result = Some(r.clone())
                    }
                    FaxEvent::Connected => {
                        seen.connected_at.get_or_insert(at);
                        log.note("fax connection up");
                        tracing::info!(job = %job, "fax connection up");
                    }
                    FaxEvent::Progress(p) => {
                        log.note(p);
                        tracing::debug!(job = %job, "{p}")
                    }
                    FaxEvent::PageSent(n) => {
                        log.note(&format!("page {n} confirmed"));
                        tracing::info!(job = %job, page = n, "page confirmed")
                    }
                    // Their steps are in the log already (as `Progress` lines).
                    FaxEvent::Dialling | FaxEvent::PageStarted { .. } => {}
                }
                drop(log);
                observe(at, &ev);
            }
        },
        Some(cancel),
    )
    .await;
    if matches!(outcome, Err(PortError::Cancelled)) {
        return CallResult {
            transcript: Some(take()),
            ..cancelled()
        };
    }
    let hung_up = Instant::now();
    let result = match (outcome, seen.result) {
        (Ok(()), Some(r)) => CallResult {
            code: r.code,
            pages: r.pages_sent,
            scheduled,
            baud: r.baud,
            call_secs: 0,
            connect_secs: seen
                .connected_at
                .map_or(0, |t| (hung_up - t).as_secs() as u32),
            answerback: r.remote_id,
            transcript: None,
        },
        (outcome, None) => CallResult {
            scheduled,
            ..port_failure(settings, outcome.err())
        },
        (Err(e), Some(_)) => CallResult {
            scheduled,
            ..port_failure(settings, Some(e))
        },
    };
    CallResult {
        transcript: Some(take()),
        ..result
    }
}

/// What a call that ended without the machine's result means: the port went away (35), or the
/// modem stopped answering (34).
fn port_failure(settings: &ModemSettings, error: Option<PortError>) -> CallResult {
    let dev = settings.device.display();
    match error {
        Some(PortError::Vanished(e)) => failed(35, format!("{dev} vanished during the call: {e}")),
        Some(e) => failed(34, format!("{dev}: {e}")),
        None => failed(34, format!("{dev}: the call ended without a result")),
    }
}

/// The `br` code of the highest speed not above `bps` (2400 bit/s at least).
fn speed_code(bps: u32) -> u8 {
    match bps {
        14400.. => 5,
        12000.. => 4,
        9600.. => 3,
        7200.. => 2,
        4800.. => 1,
        _ => 0,
    }
}

async fn voice_call(
    settings: &ModemSettings,
    call: &Call,
    dial: DialString,
    cancel: &mut Cancel,
) -> CallResult {
    let Some(message) = &call.message else {
        return failed(
            306,
            format!("job {}: $voice_phone names no message file", call.job),
        );
    };
    let audio = match load_message(std::path::Path::new(message)) {
        Ok(a) => a,
        Err(e) => return failed(306, e.to_string()),
    };
    let plan = VoicePlan {
        dial,
        audio,
        init: settings.init.clone(),
        machine_greeting: settings.amd_greeting,
        amd_timeout: settings.amd_timeout,
        opt_out_digit: settings.opt_out,
        command_timeout: settings.timeouts.command,
        dial_timeout: settings.timeouts.dial,
    };
    let (mut port, pacing, transcript) = match open_recorded(settings, call, "voice call").await {
        Ok(p) => p,
        Err(e) => return failed(35, e),
    };
    let take = || transcript.lock().expect("transcript").take();
    let mut machine = VoiceCall::new(now(), plan);
    // The message goes out with +VTX at 8000 bytes a second of line time: paced like page data.
    let outcome = drive_with(&mut port, &mut machine, pacing, |_| {}, Some(cancel)).await;
    if matches!(outcome, Err(PortError::Cancelled)) {
        return CallResult {
            transcript: Some(take()),
            ..cancelled()
        };
    }
    match (outcome, machine.poll_result()) {
        (Ok(()), Some(r)) => {
            tracing::info!(job = %call.job, code = r.code, machine = r.machine.map_or("unknown", |m| if m { "machine" } else { "person" }), digits = %r.digits, greeting_ms = r.greeting_ms, "{}", r.detail);
            CallResult {
                code: r.code,
                scheduled: 1,
                answerback: r.digits,
                ..CallResult::default()
            }
        }
        (outcome, None) => port_failure(settings, outcome.err()),
        (Err(e), Some(_)) => port_failure(settings, Some(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(kind: &str, params: &[(&str, &str)]) -> LineDef {
        LineDef {
            number: 3,
            kind: kind.into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            cfg_line: 1,
        }
    }

    /// A mistyped setting of a modem line is answered with the nearest known one, or with
    /// the list when none is near (`baud=` is `speed=` here, as in HylaFAX's config).
    #[test]
    fn a_mistyped_modem_setting_names_what_was_meant() {
        let e = ModemSettings::from_def(&def("/dev/ttyS1", &[("flw", "xonxoff")])).unwrap_err();
        assert!(
            e.contains("unknown modem setting \"flw\" (did you mean flow=?)"),
            "{e}"
        );
        let e = ModemSettings::from_def(&def("/dev/ttyS1", &[("baud", "19200")])).unwrap_err();
        assert!(e.contains("known: ") && e.contains("speed="), "{e}");
        for key in MODEM_KEYS {
            let e = ModemSettings::from_def(&def("/dev/ttyS1", &[(key, "?")]));
            assert!(
                !e.as_ref()
                    .is_err_and(|e| e.contains("unknown modem setting")),
                "{key}: {e:?}"
            );
        }
    }

    /// `probe=SECS` sets the first cool-down of a line out of service (whole seconds, 1 to
    /// 1800; 60 by default); each failed probe doubles it up to 30 minutes, or up to it when
    /// longer. Anything else is refused, naming the range; `prob=` is answered with `probe=`.
    #[test]
    fn probe_sets_the_first_cool_down_and_is_checked() {
        let probe = |v: &str| ModemSettings::from_def(&def("/dev/ttyS1", &[("probe", v)]));
        assert_eq!(probe("1").unwrap().probe, Duration::from_secs(1));
        assert_eq!(probe("1800").unwrap().probe, Duration::from_secs(1800));
        let none = ModemSettings::from_def(&def("/dev/ttyS1", &[])).unwrap();
        assert_eq!(none.probe, Duration::from_secs(60));
        assert_eq!(line_breaker(none.probe), breaker::LINE);
        for bad in ["0", "1801", "-1", "1.5", "soon", ""] {
            let e = probe(bad).unwrap_err();
            assert!(e.contains("from 1 to 1800"), "{bad}: {e}");
        }
        let e = ModemSettings::from_def(&def("/dev/ttyS1", &[("prob", "5")])).unwrap_err();
        assert!(e.contains("did you mean probe=?"), "{e}");
        let short = line_breaker(Duration::from_secs(1));
        assert_eq!(short.cool_down, chrono::Duration::seconds(1));
        assert_eq!(short.max_cool_down, chrono::Duration::minutes(30));
        let long = line_breaker(Duration::from_secs(1800));
        assert_eq!(long.max_cool_down, chrono::Duration::minutes(30));
        assert_eq!(long.threshold, breaker::LINE.threshold);
    }

    /// What cannot be a modem's port (missing, a directory, a plain file) is named from its
    /// type alone, and a line on it starts out of service; a pty, also through a link, can be.
    #[test]
    fn what_cannot_be_a_port_is_named_without_opening_it() {
        let pty = redial_sim::pty::open().unwrap();
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("ttyIAX0");
        std::os::unix::fs::symlink(&pty.slave_path, &link).unwrap();
        std::fs::write(d.path().join("plain"), "").unwrap();
        assert_eq!(not_a_device(&pty.slave_path), None);
        assert_eq!(not_a_device(&link), None);
        assert_eq!(not_a_device(&d.path().join("gone")), Some("missing"));
        assert_eq!(not_a_device(d.path()), Some("is a directory"));
        assert_eq!(
            not_a_device(&d.path().join("plain")),
            Some("is not a character device")
        );
        // A line on any of those starts out of service; on the pty, in service.
        for (path, up) in [
            (pty.slave_path.clone(), true),
            (d.path().to_path_buf(), false),
            (d.path().join("plain"), false),
        ] {
            let settings = ModemSettings::from_def(&def(&path.display().to_string(), &[])).unwrap();
            assert_eq!(
                ModemLine::new(3, settings).is_up(),
                up,
                "{}",
                path.display()
            );
        }
    }

    /// The transmit queue is asked of serial devices only: a pty's slave, also through a
    /// symlink (as iaxmodem links `/dev/ttyIAX0`), is told apart from other devices and files.
    #[test]
    fn a_pseudo_terminal_is_told_from_a_serial_port() {
        let pty = redial_sim::pty::open().unwrap();
        assert!(is_pty(&pty.slave_path), "{}", pty.slave_path.display());
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("ttyIAX0");
        std::os::unix::fs::symlink(&pty.slave_path, &link).unwrap();
        assert!(is_pty(&link));
        std::fs::write(d.path().join("plain"), "").unwrap();
        for not in [
            Path::new("/dev/null"),
            &d.path().join("plain"),
            &d.path().join("gone"),
        ] {
            assert!(!is_pty(not), "{}", not.display());
        }
    }

    #[test]
    fn settings_from_line_definitions() {
        let s = ModemSettings::from_def(&def(
            "/dev/ttyS1",
            &[
                ("class", "2"),
                ("type", "fax"),
                ("init", "ATS7=60; &K3"),
                ("prefix", "9,"),
                ("fax_speed", "9600"),
            ],
        ))
        .unwrap();
        assert_eq!(s.device, PathBuf::from("/dev/ttyS1"));
        assert_eq!(
            (s.class, s.fax, s.voice, s.max_speed),
            (FaxClass::Class2, true, false, 3)
        );
        assert_eq!(s.init, ["S7=60", "&K3"]);
        let s = ModemSettings::from_def(&def(
            "modem",
            &[
                ("device", "/tmp/x"),
                ("amd_greeting", "0.2"),
                ("opt_out", "9"),
            ],
        ))
        .unwrap();
        assert_eq!(
            (s.amd_greeting, s.opt_out),
            (Duration::from_millis(200), Some('9'))
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        for (kind, params) in [
            ("modem", vec![]),
            ("/dev/x", vec![("class", "3")]),
            ("/dev/x", vec![("prefix", "9;ATZ")]),
            ("/dev/x", vec![("init", "Z\rATH")]),
            ("/dev/x", vec![("opt_out", "99")]),
            ("/dev/x", vec![("colour", "blue")]),
            ("/dev/x", vec![("flow", "xonx")]),
            ("/dev/x", vec![("mr", "maybe")]),
            ("/dev/x", vec![("ecm", "sometimes")]),
            ("/dev/x", vec![("ecm_frame", "128")]),
            ("/dev/x", vec![("ecm_hdlc", "dce")]),
        ] {
            assert!(
                ModemSettings::from_def(&def(kind, &params)).is_err(),
                "{kind} {params:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_missing_device_is_outcome_35_and_a_bad_number_11() {
        let s = ModemSettings::from_def(&def("/nonexistent/ttyX", &[])).unwrap();
        let call = Call {
            job: "1.FS".into(),
            number: "555 0100".into(),
            channel: Channel::Voice,
            documents: vec![],
            message: Some("/nonexistent.wav".into()),
            attempt: 1,
            alternate: false,
            low_resolution: false,
            fax_speed: None,
            header: None,
            cover: None,
            email: None,
            sms: None,
        };
        assert_eq!(
            run_call(&s, &call).await.code,
            306,
            "the message is checked before the port"
        );
        let dir = tempfile::tempdir().unwrap();
        let wav = dir.path().join("m.ul");
        std::fs::write(&wav, [0xffu8; 80]).unwrap();
        let call = Call {
            message: Some(wav.display().to_string()),
            ..call
        };
        assert_eq!(run_call(&s, &call).await.code, 35);
        let call = Call {
            number: "555;ATH".into(),
            ..call
        };
        assert_eq!(run_call(&s, &call).await.code, 11);
    }
}

#[cfg(test)]
mod health_tests {
    //! The line's health on its own clock: a modem missing at start is probed one cool-down
    //! later, again after twice that while the device is still missing, and is back in
    //! service once the device is there and answers `ATZ`. The probes are real (a port opened,
    //! `ATZ` sent to hw-sim); only the cool-downs are jumped over.
    use super::*;
    use crate::daemon::clock::ManualClock;
    use redial_sim::rack::{run, RackConfig};
    use redial_sim::scenario::Scenario;

    fn t0() -> DateTime<Utc> {
        "2026-03-02T09:00:00Z".parse().unwrap()
    }

    /// Asks the line whether it is up, and when that started a probe, waits for the probe
    /// to end (a real port and a real modem: bounded, not timed).
    async fn up_after_probe(line: &ModemLine) -> bool {
        let up = line.is_up();
        for _ in 0..1000 {
            if !line.health.lock().unwrap().probing {
                return line.is_up();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the probe never ended (up before it: {up})");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_modem_missing_at_start_comes_back_when_its_device_appears() {
        let dir = tempfile::tempdir().unwrap();
        let device = dir.path().join("ttyLATE");
        let settings = ModemSettings::from_def(&LineDef {
            number: 1,
            kind: device.display().to_string(),
            params: vec![("class".into(), "2.0".into())],
            cfg_line: 1,
        })
        .unwrap();
        let clock = ManualClock::new(t0());
        let line = ModemLine::with_clock(
            1,
            settings,
            DocumentCache::default(),
            Arc::new(clock.clone()),
        );
        // Out of service from the start, with its first probe one minute on.
        assert!(!line.is_up());
        assert_eq!(line.next_probe(), Some(t0() + chrono::Duration::minutes(1)));
        // The probe finds no device: still out, and the next probe is twice as far.
        clock.advance(chrono::Duration::minutes(1));
        assert!(!up_after_probe(&line).await);
        assert_eq!(line.next_probe(), Some(t0() + chrono::Duration::minutes(3)));
        // The modem is plugged in (hw-sim's, under the name the line was given)…
        let rack_dir = dir.path().join("rack");
        let config = RackConfig {
            modems: 1,
            dir: rack_dir.clone(),
            scenario: Scenario::parse("[defaults]\nunknown = { kind = \"busy\" }\n").unwrap(),
            time_scale: 0.05,
            bps: 0,
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let rack = tokio::spawn(run(config, async {
            let _ = stopped.await;
        }));
        for _ in 0..400 {
            if rack_dir.join("ready").exists() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        std::os::unix::fs::symlink(rack_dir.join("ttySIM0"), &device).unwrap();
        // …but nothing is asked of it before the cool-down is over.
        clock.advance(chrono::Duration::seconds(119));
        assert!(!line.is_up());
        assert!(!line.health.lock().unwrap().probing);
        // Then the probe's ATZ is answered OK: back in service, no probe pending.
        clock.advance(chrono::Duration::seconds(1));
        assert!(up_after_probe(&line).await);
        assert_eq!(line.next_probe(), None);
        let _ = stop.send(());
        rack.await.unwrap().unwrap();
        // hw-sim saw the probe as a command, not a call.
        let calls = std::fs::read_to_string(rack_dir.join("calls.jsonl")).unwrap_or_default();
        assert_eq!(calls.lines().count(), 0, "{calls}");
    }
}
