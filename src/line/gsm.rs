//! GSM modem lines: `$line N /dev/ttyUSB2 type=sms [pin_file=PATH] [smsc=+NUMBER] [baud=N]
//! [timeout=S]` sends each SMS attempt with `AT+CMGS` in PDU mode, and the modem's `+CDS`
//! status reports settle it later.
//!
//! Owns the line's settings (read from the CFG, with "did you mean" for mistyped keys), the
//! modem session (one task that keeps the port open: init, SIM PIN, registration, sending,
//! and listening for `+CDS` between sends), the outcome codes of `+CMS ERROR`s and of report
//! statuses, and the reference files that match a report's message reference (TP-MR) to the
//! job's message id across restarts (`DLR/gsm/L<line>-<mr>.ref`). A final report becomes a
//! `DLR/<id>.dlr` file with status `GSM:<TP-ST hex>`, which the daemon settles like a
//! gateway's (see `daemon::sms`). PIN handling never burns the SIM: one `AT+CPIN=` try with
//! the `pin_file=` PIN, and on any refusal the line goes down for good with the reason, and
//! a marker (`DLR/gsm/L<line>.pin-refused`, holding the file's modification time) keeps later
//! starts from trying the same file again; it never enters a PUK. It never touches a job file and never resends by itself.

use super::setting;
use super::{Call, CallProgress, CallResult, Completion, Line, LineDef, Placed, Report};
use crate::retry::outcome::Channel;
use crate::sms::pdu::{self, Fate, StatusReport};
use crate::spool::Layout;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Outcome: `+CMS ERROR` that may pass (network, congestion, modem or SIM busy): retried.
pub const CODE_CMS_TEMPORARY: u32 = 420;
/// Outcome: `+CMS ERROR` about the destination or the message (unassigned number, barred,
/// invalid PDU): fails for good.
pub const CODE_CMS_PERMANENT: u32 = 421;
/// Outcome: the status report says a permanent error (TP-ST 0x40-0x5F).
pub const CODE_REPORT_PERMANENT: u32 = 422;
/// Outcome: the status report says a temporary error the service centre gave up on (TP-ST
/// 0x60-0x7F): retried.
pub const CODE_REPORT_TEMPORARY: u32 = 423;
/// Outcome: the modem failed during the send (no answer, no prompt, port lost): retried.
pub const CODE_MODEM_FAILED: u32 = 424;

/// The settings a GSM line knows.
pub const KEYS: &[&str] = &["type", "pin_file", "smsc", "baud", "timeout", "group"];

/// `+CMS ERROR` codes (TS 24.011 E-2 / TS 23.040 9.2.3.22 / TS 27.005 3.2.5) that say the
/// destination or the message is wrong: retrying cannot help. Every other code is temporary.
const CMS_PERMANENT: &[u16] = &[
    1, 8, 10, 21, 28, 29, 30, 96, 97, 98, 99, 111, 127, 176, 195, 196, 197, 304, 305,
];

/// The outcome code of a `+CMS ERROR: n`.
pub fn cms_outcome(n: u16) -> u32 {
    if CMS_PERMANENT.contains(&n) || (128..=175).contains(&n) {
        CODE_CMS_PERMANENT
    } else {
        CODE_CMS_TEMPORARY
    }
}

/// The status word a GSM report carries in `DLR/` (`GSM:` and the TP-ST in hex).
pub fn status_word(status: u8) -> String {
    format!("GSM:{status:02X}")
}

/// The outcome of a `GSM:xx` status word: 400 delivered, 422 permanent, 423 temporary; `None`
/// when the service centre is still trying (not final) or the word is not one of ours.
pub fn outcome_of_word(word: &str) -> Option<u32> {
    let st = u8::from_str_radix(word.strip_prefix("GSM:")?, 16).ok()?;
    match Fate::of(st) {
        Fate::Delivered => Some(400),
        Fate::StillTrying => None,
        Fate::Permanent => Some(CODE_REPORT_PERMANENT),
        Fate::Temporary => Some(CODE_REPORT_TEMPORARY),
    }
}

/// A GSM line's settings.
#[derive(Debug, Clone)]
pub struct GsmSettings {
    /// The serial device.
    pub device: PathBuf,
    /// Port speed.
    pub baud: u32,
    /// The SIM PIN (read from `pin_file=` when the CFG is read); never logged.
    pub pin: Option<String>,
    /// The file it came from.
    pub pin_file: Option<PathBuf>,
    /// The service centre to set with `AT+CSCA` (else the SIM's).
    pub smsc: Option<String>,
    /// Time allowed for one command's answer (and for `+CMGS`).
    pub timeout: Duration,
}

impl GsmSettings {
    /// Reads a `$line N DEVICE type=sms …` definition (a `pin_file=` is read and checked now,
    /// so a missing file or a PIN that is not 4-8 digits stops the start with its name).
    pub fn from_def(def: &LineDef) -> Result<GsmSettings, String> {
        let mut s = GsmSettings {
            device: PathBuf::from(&def.kind),
            baud: 115_200,
            pin: None,
            pin_file: None,
            smsc: None,
            timeout: Duration::from_secs(60),
        };
        for (k, v) in &def.params {
            match k.as_str() {
                "group" => {}
                "type" if v.eq_ignore_ascii_case("sms") => {}
                "type" => return Err(format!("type={v}: a GSM line is type=sms")),
                "pin_file" => {
                    let text = std::fs::read_to_string(v)
                        .map_err(|e| format!("pin_file={v}: cannot read it: {e}"))?;
                    let pin = text.trim();
                    if !(4..=8).contains(&pin.len()) || !pin.bytes().all(|b| b.is_ascii_digit()) {
                        return Err(format!(
                            "pin_file={v}: the file must hold the SIM PIN, 4 to 8 digits"
                        ));
                    }
                    s.pin = Some(pin.to_string());
                    s.pin_file = Some(PathBuf::from(v));
                }
                "smsc" => {
                    pdu::check_number(v).map_err(|_| {
                        format!(
                            "smsc={v}: expected the service centre number, e.g. smsc=+447785016005"
                        )
                    })?;
                    s.smsc = Some(v.clone());
                }
                "baud" => {
                    s.baud = v
                        .parse()
                        .ok()
                        .filter(|b| *b > 0)
                        .ok_or_else(|| format!("baud={v}: expected a speed such as 115200"))?
                }
                "timeout" => s.timeout = setting::timeout(v, 600)?,
                other => return Err(setting::unknown("GSM (type=sms)", other, KEYS)),
            }
        }
        Ok(s)
    }
}

/// Whether a `$line` definition is a GSM line (a device path with `type=sms`).
pub fn is_gsm(def: &LineDef) -> bool {
    def.kind.starts_with('/')
        && def
            .param("type")
            .is_some_and(|t| t.eq_ignore_ascii_case("sms"))
}

// ----- reference files -----

/// What a reference file holds: the message id and every part's reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    /// The message id (`N.JOB`, see `sms_http::message_id`).
    pub id: String,
    /// The TP-MR of every part, in order.
    pub mrs: Vec<u8>,
    /// The final TP-ST of the parts reported so far (`None` while not reported).
    #[serde(default)]
    pub statuses: Vec<Option<u8>>,
}

/// `DLR/gsm`: the references of messages whose reports have not all come.
pub fn ref_dir(layout: &Layout) -> PathBuf {
    crate::line::sms_http::dlr_dir(layout).join("gsm")
}

/// The marker of a PIN the SIM refused: it holds the `pin_file=`'s modification time, so a
/// start tries again only once the file was changed.
fn pin_marker(layout: &Layout, line: u32) -> PathBuf {
    ref_dir(layout).join(format!("L{line}.pin-refused"))
}

fn file_stamp(path: &std::path::Path) -> String {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos().to_string())
        .unwrap_or_default()
}

fn ref_path(layout: &Layout, line: u32, mr: u8) -> PathBuf {
    ref_dir(layout).join(format!("L{line}-{mr}.ref"))
}

fn write_ref(layout: &Layout, line: u32, r: &Reference) -> std::io::Result<()> {
    std::fs::create_dir_all(layout.temp())?;
    std::fs::create_dir_all(ref_dir(layout))?;
    let bytes = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    for mr in &r.mrs {
        crate::spool::store::write_atomic(
            &layout.temp(),
            ".gsmref.",
            &ref_path(layout, line, *mr),
            &bytes,
        )?;
    }
    Ok(())
}

/// Takes a status report from line `line`'s modem: records the part's status with its
/// message; once every part has a final status (or one failed), writes the message's report to
/// `DLR/` and removes its reference files. Returns the report written, if any.
pub fn take_report(
    layout: &Layout,
    line: u32,
    report: &StatusReport,
    at: DateTime<Utc>,
) -> Option<crate::line::sms_http::DeliveryReport> {
    let path = ref_path(layout, line, report.mr);
    let Some(mut r) = std::fs::read(&path)
        .ok()
        .and_then(|b| serde_json::from_slice::<Reference>(&b).ok())
    else {
        tracing::warn!(
            line,
            mr = report.mr,
            status = report.status,
            "status report for a message reference no job waits for: ignored"
        );
        return None;
    };
    let fate = Fate::of(report.status);
    tracing::info!(line, mr = report.mr, id = %r.id, status = format!("{:#04x}", report.status),
        meaning = pdu::status_text(report.status), "SMS status report");
    if fate == Fate::StillTrying {
        return None;
    }
    r.statuses.resize(r.mrs.len(), None);
    if let Some(i) = r.mrs.iter().position(|m| *m == report.mr) {
        r.statuses[i] = Some(report.status);
    }
    // The message's fate: a part that failed decides it; else it is delivered once all are.
    let failed = r
        .statuses
        .iter()
        .flatten()
        .find(|s| Fate::of(**s) == Fate::Permanent)
        .or_else(|| {
            r.statuses
                .iter()
                .flatten()
                .find(|s| Fate::of(**s) == Fate::Temporary)
        });
    let status = match failed {
        Some(s) => *s,
        None if r.statuses.iter().all(Option::is_some) => report.status,
        None => {
            if let Err(e) = write_ref(layout, line, &r) {
                tracing::error!(line, id = %r.id, error = %e, "cannot record a part's status report");
            }
            return None;
        }
    };
    let dlr = crate::line::sms_http::DeliveryReport {
        id: r.id.clone(),
        status: status_word(status),
        at,
    };
    match crate::line::sms_http::write_report(layout, &dlr) {
        Ok(_) => {
            for mr in &r.mrs {
                let _ = std::fs::remove_file(ref_path(layout, line, *mr));
            }
            Some(dlr)
        }
        Err(e) => {
            tracing::error!(line, id = %r.id, error = %e, "cannot write the delivery report");
            None
        }
    }
}

// ----- the AT session -----

/// How a command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum End {
    /// `OK`.
    Ok,
    /// `ERROR`.
    Error,
    /// `+CME ERROR: n`.
    Cme(u16),
    /// `+CMS ERROR: n`.
    Cms(u16),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Ok => f.write_str("OK"),
            End::Error => f.write_str("ERROR"),
            End::Cme(n) => write!(f, "+CME ERROR: {n}"),
            End::Cms(n) => write!(f, "+CMS ERROR: {n}"),
        }
    }
}

/// Why talking to the modem failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AtError {
    /// No final result within the timeout.
    #[error("no answer to {0} in time")]
    Timeout(String),
    /// The port failed or closed.
    #[error("port: {0}")]
    Port(String),
    /// A command held a character that must never reach the modem outside a PDU.
    #[error("refused to send {0:?}: CR, LF, Ctrl-Z and ESC are not allowed in a command")]
    Unsafe(String),
}

/// A line of text from the modem, or a status report it sent unasked.
fn is_final(line: &str) -> Option<End> {
    let num = |p: &str| line.strip_prefix(p).and_then(|n| n.trim().parse().ok());
    match line {
        "OK" => Some(End::Ok),
        "ERROR" => Some(End::Error),
        _ => num("+CME ERROR:")
            .map(End::Cme)
            .or_else(|| num("+CMS ERROR:").map(End::Cms)),
    }
}

/// An AT conversation over a byte stream: commands with their answers, and the `+CDS` reports
/// found on the way (kept for the session to take).
pub struct At<P> {
    port: P,
    buf: Vec<u8>,
    timeout: Duration,
    /// `+CDS` reports read so far and not yet taken.
    pub reports: Vec<StatusReport>,
    cds_pending: bool,
}

impl<P: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin> At<P> {
    /// A conversation on `port`, each answer awaited at most `timeout`.
    pub fn new(port: P, timeout: Duration) -> At<P> {
        At {
            port,
            buf: Vec::new(),
            timeout,
            reports: Vec::new(),
            cds_pending: false,
        }
    }

    /// The next complete line (empty lines skipped; `+CDS` reports taken aside).
    fn next_line(&mut self) -> Option<String> {
        loop {
            let i = self.buf.iter().position(|b| *b == b'\n' || *b == b'\r')?;
            let raw: Vec<u8> = self.buf.drain(..=i).collect();
            let line = String::from_utf8_lossy(&raw[..raw.len() - 1])
                .trim()
                .to_string();
            if line.is_empty() {
                continue;
            }
            if std::mem::take(&mut self.cds_pending) {
                match StatusReport::decode(&line) {
                    Ok(r) => self.reports.push(r),
                    Err(e) => tracing::warn!(pdu = %line, error = %e, "unreadable +CDS report"),
                }
                continue;
            }
            if line.starts_with("+CDS:") {
                self.cds_pending = true;
                continue;
            }
            return Some(line);
        }
    }

    async fn read_more(&mut self, until: tokio::time::Instant, what: &str) -> Result<(), AtError> {
        let mut chunk = [0u8; 512];
        match tokio::time::timeout_at(until, self.port.read(&mut chunk)).await {
            Err(_) => Err(AtError::Timeout(what.to_string())),
            Ok(Ok(0)) => Err(AtError::Port("closed".into())),
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
            Ok(Err(e)) => Err(AtError::Port(e.to_string())),
        }
    }

    async fn write(&mut self, bytes: &[u8]) -> Result<(), AtError> {
        self.port
            .write_all(bytes)
            .await
            .map_err(|e| AtError::Port(e.to_string()))
    }

    /// Sends `AT…` and returns the information lines and how it ended.
    pub async fn command(&mut self, cmd: &str) -> Result<(Vec<String>, End), AtError> {
        if cmd
            .bytes()
            .any(|b| matches!(b, b'\r' | b'\n' | 0x1a | 0x1b))
        {
            return Err(AtError::Unsafe(cmd.into()));
        }
        self.write(format!("{cmd}\r").as_bytes()).await?;
        let until = tokio::time::Instant::now() + self.timeout;
        let mut info = Vec::new();
        loop {
            while let Some(line) = self.next_line() {
                if let Some(end) = is_final(&line) {
                    return Ok((info, end));
                }
                // An echo of the command (echo still on) is not information.
                if !line.eq_ignore_ascii_case(cmd) {
                    info.push(line);
                }
            }
            self.read_more(until, cmd).await?;
        }
    }

    /// Sends one PDU with `AT+CMGS`: the message reference, or how the modem refused it.
    pub async fn cmgs(&mut self, e: &pdu::Encoded) -> Result<Result<u8, End>, AtError> {
        let cmd = format!("AT+CMGS={}", e.length);
        self.write(format!("{cmd}\r").as_bytes()).await?;
        let until = tokio::time::Instant::now() + self.timeout;
        // Wait for the "> " prompt (or a final result code refusing the command).
        loop {
            if let Some(i) = self.buf.windows(2).position(|w| w == b"> ") {
                self.buf.drain(..i + 2);
                break;
            }
            if let Some(line) = self.peek_final() {
                return Ok(Err(line));
            }
            self.read_more(until, &cmd).await?;
        }
        if !e.hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            self.write(&[0x1b]).await?;
            return Err(AtError::Unsafe(e.hex.clone()));
        }
        self.write(format!("{}\x1a", e.hex).as_bytes()).await?;
        let mut mr = None;
        loop {
            while let Some(line) = self.next_line() {
                if let Some(n) = line.strip_prefix("+CMGS:") {
                    mr = n
                        .trim()
                        .split(',')
                        .next()
                        .and_then(|m| m.trim().parse().ok());
                } else if let Some(end) = is_final(&line) {
                    return Ok(match (end, mr) {
                        (End::Ok, Some(mr)) => Ok(mr),
                        (End::Ok, None) => Err(End::Error),
                        (end, _) => Err(end),
                    });
                }
            }
            self.read_more(until, "the PDU").await?;
        }
    }

    /// A final result code among the complete lines read (lines before it dropped).
    fn peek_final(&mut self) -> Option<End> {
        // Only whole lines: the prompt has no line end.
        let last_nl = self.buf.iter().rposition(|b| *b == b'\n' || *b == b'\r')?;
        let mut rest = self.buf.split_off(last_nl + 1);
        let mut found = None;
        while let Some(line) = self.next_line() {
            if let Some(e) = is_final(&line) {
                found = Some(e);
            }
        }
        self.buf.append(&mut rest);
        found
    }

    /// Waits for reports (or anything) for at most `d`; a closed port is an error.
    pub async fn listen(&mut self, d: Duration) -> Result<(), AtError> {
        let until = tokio::time::Instant::now() + d;
        match self.read_more(until, "").await {
            Ok(()) | Err(AtError::Timeout(_)) => {}
            Err(e) => return Err(e),
        }
        while self.next_line().is_some() {}
        Ok(())
    }
}

/// Whether the line can send, as the session last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The session is starting (port, SIM, network).
    Starting,
    /// Ready to send.
    Up,
    /// Not usable now; the session keeps checking (network registration, port).
    Waiting(String),
    /// Down for good until the CFG is read again (the SIM refused its PIN, wants a PUK, …).
    Down(String),
}

/// A send request for the session.
struct Request {
    call: Call,
    done: Completion,
}

/// A GSM modem line.
pub struct GsmLine {
    number: u32,
    settings: Arc<GsmSettings>,
    status: Arc<Mutex<Status>>,
    layout: Option<Layout>,
    /// The session's queue, once it runs (started from the first call that has a runtime).
    tx: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Request>>>,
}

impl GsmLine {
    /// A line from its settings; its session starts once it knows the spool.
    pub fn new(number: u32, settings: GsmSettings) -> GsmLine {
        GsmLine {
            number,
            settings: Arc::new(settings),
            status: Arc::new(Mutex::new(Status::Starting)),
            layout: None,
            tx: Mutex::new(None),
        }
    }

    /// What the session last saw.
    pub fn status(&self) -> Status {
        self.status
            .lock()
            .map(|s| s.clone())
            .unwrap_or(Status::Starting)
    }

    /// Starts the session (once the spool is known and a tokio runtime is there).
    fn start(&self) -> Option<tokio::sync::mpsc::UnboundedSender<Request>> {
        let mut guard = self.tx.lock().ok()?;
        if let Some(tx) = guard.as_ref() {
            return Some(tx.clone());
        }
        let (Some(layout), Ok(rt)) = (self.layout.clone(), tokio::runtime::Handle::try_current())
        else {
            return None;
        };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        *guard = Some(tx.clone());
        let session = Session {
            line: self.number,
            settings: self.settings.clone(),
            status: self.status.clone(),
            layout,
            next_ref: (std::process::id() as u8).wrapping_mul(31),
        };
        rt.spawn(session.run(rx));
        Some(tx)
    }
}

impl Line for GsmLine {
    fn number(&self) -> u32 {
        self.number
    }

    fn board(&self) -> char {
        'G'
    }

    fn takes(&self, channel: Channel) -> bool {
        channel == Channel::Sms
    }

    fn use_spool(&mut self, layout: &Layout) {
        self.layout = Some(layout.clone());
        self.start();
    }

    fn is_up(&self) -> bool {
        self.start();
        self.status() == Status::Up
    }

    fn place(&mut self, call: &Call, _now: DateTime<Utc>, done: &Completion) -> Placed {
        let request = Request {
            call: call.clone(),
            done: done.clone(),
        };
        let why = match self.start().map(|tx| tx.send(request).is_ok()) {
            Some(true) => return Placed::Reported,
            Some(false) => "the modem session ended",
            None => "the modem session is not running",
        };
        let _ = done.send((
            self.number,
            Report::Done(failed(CODE_MODEM_FAILED, why.into())),
        ));
        Placed::Reported
    }
}

fn failed(code: u32, why: String) -> CallResult {
    CallResult {
        code,
        answerback: why,
        ..CallResult::default()
    }
}

struct Session {
    line: u32,
    settings: Arc<GsmSettings>,
    status: Arc<Mutex<Status>>,
    layout: Layout,
    next_ref: u8,
}

/// How a session's start ended.
enum Start {
    Ready,
    /// Try again later (with the reason shown meanwhile).
    Later(String),
    /// Never again (the SIM).
    Never(String),
}

impl Session {
    /// Records the status, logging it when it changed.
    fn set(&self, s: Status) {
        let Ok(mut g) = self.status.lock() else {
            return;
        };
        if *g == s {
            return;
        }
        match &s {
            Status::Up => tracing::info!(line = self.line, "GSM line up"),
            Status::Waiting(why) => tracing::warn!(line = self.line, why, "GSM line waits"),
            Status::Down(why) => tracing::error!(line = self.line, why, "GSM line down"),
            Status::Starting => {}
        }
        *g = s;
    }

    async fn run(mut self, mut rx: tokio::sync::mpsc::UnboundedReceiver<Request>) {
        loop {
            let port = tokio_serial::SerialPortBuilderExt::open_native_async(tokio_serial::new(
                self.settings.device.to_string_lossy(),
                self.settings.baud,
            ));
            let port = match port {
                Ok(p) => p,
                Err(e) => {
                    self.set(Status::Waiting(format!(
                        "cannot open {}: {e}",
                        self.settings.device.display()
                    )));
                    if !self.pause(&mut rx, Duration::from_secs(10)).await {
                        return;
                    }
                    continue;
                }
            };
            let mut at = At::new(port, self.settings.timeout);
            match self.begin(&mut at).await {
                Ok(Start::Ready) => {}
                Ok(Start::Never(why)) => {
                    self.set(Status::Down(why));
                    // Holds nothing: the port closes; the line stays down until the CFG is read
                    // again. Calls given meanwhile (none: the dispatcher asks is_up) fail.
                    drop(at);
                    while let Some(r) = rx.recv().await {
                        let _ = r.done.send((
                            self.line,
                            Report::Done(failed(CODE_MODEM_FAILED, "the GSM line is down".into())),
                        ));
                    }
                    return;
                }
                Ok(Start::Later(why)) => {
                    self.set(Status::Waiting(why));
                    if !self.pause(&mut rx, Duration::from_secs(5)).await {
                        return;
                    }
                    continue;
                }
                Err(e) => {
                    self.set(Status::Waiting(format!("modem: {e}")));
                    if !self.pause(&mut rx, Duration::from_secs(5)).await {
                        return;
                    }
                    continue;
                }
            }
            self.take_reports(&mut at);
            self.set(Status::Up);
            // Serve: sends when asked, reports between.
            loop {
                tokio::select! {
                    r = rx.recv() => {
                        let Some(r) = r else { return };
                        let _ = r.done.send((self.line, Report::Progress(CallProgress::Dialling)));
                        let result = self.send(&mut at, &r.call).await;
                        let lost = result.code == CODE_MODEM_FAILED;
                        let _ = r.done.send((self.line, Report::Done(result)));
                        self.take_reports(&mut at);
                        if lost {
                            break;
                        }
                    }
                    res = at.listen(Duration::from_secs(30)) => {
                        self.take_reports(&mut at);
                        if let Err(e) = res {
                            self.set(Status::Waiting(format!("modem: {e}")));
                            break;
                        }
                    }
                }
            }
            self.set(Status::Waiting("reopening the modem".into()));
            if !self.pause(&mut rx, Duration::from_secs(1)).await {
                return;
            }
        }
    }

    /// Waits `d`, failing calls given meanwhile; false once the line is gone.
    async fn pause(
        &self,
        rx: &mut tokio::sync::mpsc::UnboundedReceiver<Request>,
        d: Duration,
    ) -> bool {
        let until = tokio::time::Instant::now() + d;
        loop {
            match tokio::time::timeout_at(until, rx.recv()).await {
                Err(_) => return true,
                Ok(None) => return false,
                Ok(Some(r)) => {
                    let _ = r.done.send((
                        self.line,
                        Report::Done(failed(CODE_MODEM_FAILED, "the GSM line is not up".into())),
                    ));
                }
            }
        }
    }

    fn take_reports<P>(&self, at: &mut At<P>) {
        for r in std::mem::take(&mut at.reports) {
            take_report(&self.layout, self.line, &r, Utc::now());
        }
    }

    /// Init, SIM, registration, reports on.
    async fn begin<P>(&self, at: &mut At<P>) -> Result<Start, AtError>
    where
        P: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        for cmd in ["ATE0", "AT+CMEE=1", "AT+CMGF=0"] {
            let (_, end) = at.command(cmd).await?;
            if end != End::Ok {
                return Ok(Start::Later(format!("the modem answered {cmd} with {end}")));
            }
        }
        let (info, end) = at.command("AT+CPIN?").await?;
        let sim = info
            .iter()
            .find_map(|l| l.strip_prefix("+CPIN:"))
            .map(|s| s.trim().to_string());
        match (sim.as_deref(), end) {
            (Some("READY"), End::Ok) => {}
            (Some("SIM PIN"), End::Ok) => {
                let Some(pin) = &self.settings.pin else {
                    return Ok(Start::Never(
                        "the SIM wants its PIN and the line has no pin_file=".into(),
                    ));
                };
                let marker = pin_marker(&self.layout, self.line);
                let stamp = self
                    .settings
                    .pin_file
                    .as_deref()
                    .map(file_stamp)
                    .unwrap_or_default();
                if std::fs::read_to_string(&marker).is_ok_and(|m| m == stamp) {
                    return Ok(Start::Never(format!(
                        "the SIM refused the PIN from pin_file= before ({}); not tried again until the file changes",
                        marker.display()
                    )));
                }
                // One try only: a second wrong PIN brings the SIM closer to its PUK.
                let (_, end) = at.command(&format!("AT+CPIN=\"{pin}\"")).await?;
                if end != End::Ok {
                    let kept = std::fs::create_dir_all(ref_dir(&self.layout)).and_then(|()| {
                        crate::spool::store::write_atomic(
                            &self.layout.temp(),
                            ".pin.",
                            &marker,
                            stamp.as_bytes(),
                        )
                    });
                    if let Err(e) = kept {
                        tracing::error!(line = self.line, marker = %marker.display(), error = %e,
                            "cannot keep the refused-PIN marker: the next start will try the PIN again");
                    }
                    return Ok(Start::Never(format!(
                        "the SIM refused the PIN from pin_file= ({end}); not tried again: check the file, then reload"
                    )));
                }
                let _ = std::fs::remove_file(&marker);
                tracing::info!(line = self.line, "SIM PIN accepted");
            }
            (Some(other), End::Ok) => {
                return Ok(Start::Never(format!(
                    "the SIM wants {other}: unlock it by hand (redial never enters a PUK)"
                )))
            }
            (_, End::Cme(10)) => return Ok(Start::Never("no SIM in the modem".into())),
            (_, end) => {
                return Ok(Start::Never(format!(
                    "the SIM state cannot be read ({end}): a blocked or missing SIM?"
                )))
            }
        }
        let (info, _) = at.command("AT+CREG?").await?;
        let stat = info
            .iter()
            .find_map(|l| l.strip_prefix("+CREG:"))
            .and_then(|s| s.split(',').nth(1))
            .and_then(|s| s.trim().parse::<u8>().ok());
        match stat {
            Some(1 | 5) => {}
            Some(s) => {
                let why = match s {
                    0 => "not registered, not searching",
                    2 => "searching for a network",
                    3 => "registration denied",
                    _ => "registration unknown",
                };
                return Ok(Start::Later(format!("network: {why} (+CREG stat {s})")));
            }
            None => return Ok(Start::Later("network registration unreadable".into())),
        }
        if let Some(smsc) = &self.settings.smsc {
            at.command(&format!("AT+CSCA=\"{smsc}\"")).await?;
        }
        let (_, end) = at.command("AT+CNMI=2,1,0,1,0").await?;
        if end != End::Ok {
            tracing::warn!(
                line = self.line,
                ?end,
                "the modem refused +CNMI: no status reports will come"
            );
        }
        Ok(Start::Ready)
    }

    async fn send<P>(&mut self, at: &mut At<P>, call: &Call) -> CallResult
    where
        P: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let Some(sms) = call.sms.as_ref().filter(|s| !s.text.trim().is_empty()) else {
            return failed(
                crate::daemon::CODE_INVALID,
                "the job has no $sms_text".into(),
            );
        };
        if call.channel != Channel::Sms {
            return failed(
                37,
                format!("a GSM line cannot place {:?} calls", call.channel),
            );
        }
        let number: String = call
            .number
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
            .collect();
        let reference = self.next_ref;
        self.next_ref = self.next_ref.wrapping_add(1);
        let parts = match pdu::submit_parts(&number, &sms.text, true, reference) {
            Ok(p) => p,
            Err(pdu::PduError::Number(n)) => {
                return failed(
                    11,
                    format!("{n:?} is not a number a GSM modem can send to (digits, optional +)"),
                )
            }
            Err(e) => return failed(crate::daemon::CODE_INVALID, e.to_string()),
        };
        let total = parts.len();
        let mut mrs = Vec::with_capacity(total);
        for (i, part) in parts.iter().enumerate() {
            let encoded = match part.encode() {
                Ok(e) => e,
                Err(e) => return failed(crate::daemon::CODE_INVALID, e.to_string()),
            };
            match at.cmgs(&encoded).await {
                Ok(Ok(mr)) => mrs.push(mr),
                Ok(Err(End::Cms(n))) => {
                    tracing::warn!(line = self.line, job = %call.job, part = i + 1, total, cms = n, "SMS refused");
                    return failed(
                        cms_outcome(n),
                        format!("id={} +CMS ERROR: {n} (part {}/{total})", sms.id, i + 1),
                    );
                }
                Ok(Err(end)) => {
                    return failed(
                        CODE_CMS_TEMPORARY,
                        format!("id={} {end} (part {}/{total})", sms.id, i + 1),
                    )
                }
                Err(e) => {
                    return failed(
                        CODE_MODEM_FAILED,
                        format!("id={} {e} (part {}/{total})", sms.id, i + 1),
                    )
                }
            }
        }
        let r = Reference {
            id: sms.id.clone(),
            mrs: mrs.clone(),
            statuses: vec![None; mrs.len()],
        };
        if let Err(e) = write_ref(&self.layout, self.line, &r) {
            tracing::error!(line = self.line, id = %sms.id, error = %e,
                "cannot keep the message references: its status report will not be matched");
        }
        let mrs: Vec<String> = mrs.iter().map(u8::to_string).collect();
        tracing::info!(line = self.line, job = %call.job, id = %sms.id, parts = total, mr = %mrs.join(","), "SMS sent through the GSM modem");
        CallResult {
            code: crate::line::sms_http::CODE_SUBMITTED,
            answerback: format!("{} mr={}", sms.id, mrs.join(",")),
            ..CallResult::default()
        }
    }
}

/// The reference files waiting for reports.
pub fn refs_of(layout: &Layout) -> Vec<PathBuf> {
    std::fs::read_dir(ref_dir(layout))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Document;
    use crate::line::line_defs;

    fn def(line: &str) -> Result<GsmSettings, String> {
        let d = Document::parse(line.as_bytes(), "t.cfg").unwrap();
        GsmSettings::from_def(&line_defs(&d).unwrap()[0])
    }

    /// Only `type=sms` makes a serial line a GSM modem: `type=fax`, `voice` and `both` are a
    /// fax/voice modem's (a `class=1 type=fax` line was taken for a GSM one and refused).
    #[test]
    fn only_type_sms_is_a_gsm_line() {
        let kinds = |cfg: &str| -> Vec<bool> {
            let d = Document::parse(cfg.as_bytes(), "t.cfg").unwrap();
            line_defs(&d).unwrap().iter().map(is_gsm).collect()
        };
        assert_eq!(
            kinds(
                "$line 1 /dev/ttyS0 type=sms\n$line 2 /dev/ttyS1 class=1 type=fax\n\
                 $line 3 /dev/ttyS2 type=voice\n$line 4 /dev/ttyS3 type=SMS\n$line 5 /dev/ttyS4\n"
            ),
            [true, false, false, true, false]
        );
    }

    #[test]
    fn reads_the_settings_and_names_mistakes() {
        let dir = tempfile::tempdir().unwrap();
        let pin = dir.path().join("pin");
        std::fs::write(&pin, "1234\n").unwrap();
        let s = def(&format!(
            "$line 3 /dev/ttyUSB2 type=sms pin_file={} smsc=+447785016005 timeout=20\n",
            pin.display()
        ))
        .unwrap();
        assert_eq!(s.pin.as_deref(), Some("1234"));
        assert_eq!(s.device, PathBuf::from("/dev/ttyUSB2"));
        assert_eq!(s.timeout, Duration::from_secs(20));
        let e = def("$line 3 /dev/ttyUSB2 type=sms pin_fil=x\n").unwrap_err();
        assert!(e.contains("did you mean pin_file=?"), "{e}");
        std::fs::write(&pin, "12\r\n34").unwrap();
        let e = def(&format!(
            "$line 3 /dev/x type=sms pin_file={}\n",
            pin.display()
        ))
        .unwrap_err();
        assert!(e.contains("4 to 8 digits"), "{e}");
        let e = def("$line 3 /dev/x type=sms pin_file=/nonexistent/pin\n").unwrap_err();
        assert!(e.contains("/nonexistent/pin"), "{e}");
        let e = def("$line 3 /dev/x type=sms smsc=12\r3\n").unwrap_err();
        assert!(e.contains("smsc="), "{e}");
        let e = def("$line 3 /dev/x type=fax\n").unwrap_err();
        assert!(e.contains("type=sms"), "{e}");
    }

    #[test]
    fn cms_errors_and_report_statuses_map_to_outcomes() {
        assert_eq!(cms_outcome(1), CODE_CMS_PERMANENT, "unassigned number");
        assert_eq!(cms_outcome(21), CODE_CMS_PERMANENT, "rejected");
        assert_eq!(cms_outcome(42), CODE_CMS_TEMPORARY, "congestion");
        assert_eq!(cms_outcome(331), CODE_CMS_TEMPORARY, "no network service");
        assert_eq!(cms_outcome(500), CODE_CMS_TEMPORARY, "unknown error");
        assert_eq!(outcome_of_word("GSM:00"), Some(400));
        assert_eq!(outcome_of_word("GSM:21"), None);
        assert_eq!(outcome_of_word("GSM:41"), Some(CODE_REPORT_PERMANENT));
        assert_eq!(outcome_of_word("GSM:62"), Some(CODE_REPORT_TEMPORARY));
        assert_eq!(outcome_of_word("DELIVERED"), None);
        assert_eq!(outcome_of_word("GSM:zz"), None);
    }

    #[tokio::test]
    async fn the_at_client_takes_reports_aside_and_refuses_unsafe_commands() {
        let (ours, mut modem) = tokio::io::duplex(4096);
        let mut at = At::new(ours, Duration::from_secs(5));
        let report = StatusReport {
            mr: 3,
            recipient: "+15550100".into(),
            scts: pdu::timestamp(26, 1, 1, 0, 0, 0),
            discharge: pdu::timestamp(26, 1, 1, 0, 0, 1),
            status: 0,
        }
        .encode()
        .unwrap();
        let script = tokio::spawn(async move {
            let mut got = Vec::new();
            let mut buf = [0u8; 256];
            // AT+CPIN? answered with a report in the middle.
            while !got.ends_with(b"\r") {
                let n = modem.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"AT+CPIN?\r");
            let answer = format!(
                "\r\n+CDS: {}\r\n{}\r\n\r\n+CPIN: READY\r\n\r\nOK\r\n",
                report.length, report.hex
            );
            modem.write_all(answer.as_bytes()).await.unwrap();
            // AT+CMGS=n, the prompt, the PDU and Ctrl-Z, +CMGS.
            got.clear();
            while !got.ends_with(b"\r") {
                let n = modem.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            modem.write_all(b"\r\n> ").await.unwrap();
            got.clear();
            while !got.ends_with(&[0x1a]) {
                let n = modem.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            modem
                .write_all(b"\r\n+CMGS: 4\r\n\r\nOK\r\n")
                .await
                .unwrap();
            // The next one is refused before the prompt.
            got.clear();
            while !got.ends_with(b"\r") {
                let n = modem.read(&mut buf).await.unwrap();
                got.extend_from_slice(&buf[..n]);
            }
            modem.write_all(b"\r\n+CMS ERROR: 331\r\n").await.unwrap();
            got
        });
        let (info, end) = at.command("AT+CPIN?").await.unwrap();
        assert_eq!((info, end), (vec!["+CPIN: READY".to_string()], End::Ok));
        assert_eq!(at.reports.len(), 1);
        assert_eq!((at.reports[0].mr, at.reports[0].status), (3, 0));
        let e = pdu::submit_parts("+15550100", "hi", true, 0).unwrap()[0]
            .encode()
            .unwrap();
        assert_eq!(at.cmgs(&e).await.unwrap(), Ok(4));
        assert_eq!(at.cmgs(&e).await.unwrap(), Err(End::Cms(331)));
        assert_eq!(
            script.await.unwrap(),
            format!("AT+CMGS={}\r", e.length).as_bytes()
        );
        for bad in ["AT+CSCA=\"+1\r\"", "AT\n", "AT\u{1a}", "AT\u{1b}"] {
            assert!(
                matches!(at.command(bad).await, Err(AtError::Unsafe(_))),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_message_in_parts_is_reported_once_every_part_is_final() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(dir.path().to_path_buf(), 1);
        let r = Reference {
            id: "1.t.FS".into(),
            mrs: vec![7, 8],
            statuses: vec![None, None],
        };
        write_ref(&layout, 3, &r).unwrap();
        let rep = |mr, status| StatusReport {
            mr,
            recipient: "+15550100".into(),
            scts: pdu::timestamp(26, 1, 1, 0, 0, 0),
            discharge: pdu::timestamp(26, 1, 1, 0, 0, 0),
            status,
        };
        let now = Utc::now();
        assert_eq!(
            take_report(&layout, 3, &rep(7, 0x21), now),
            None,
            "still trying"
        );
        assert_eq!(
            take_report(&layout, 3, &rep(7, 0x00), now),
            None,
            "one part of two"
        );
        assert_eq!(
            take_report(&layout, 4, &rep(8, 0x00), now),
            None,
            "another line's"
        );
        let d = take_report(&layout, 3, &rep(8, 0x00), now).unwrap();
        assert_eq!((d.id.as_str(), d.status.as_str()), ("1.t.FS", "GSM:00"));
        assert!(refs_of(&layout).is_empty(), "references removed");
        assert_eq!(
            crate::line::sms_http::read_report(&layout, "1.t.FS")
                .unwrap()
                .status,
            "GSM:00"
        );
        // A failed part decides at once.
        write_ref(
            &layout,
            3,
            &Reference {
                id: "2.t.FS".into(),
                mrs: vec![9, 10],
                statuses: vec![],
            },
        )
        .unwrap();
        let d = take_report(&layout, 3, &rep(10, 0x41), now).unwrap();
        assert_eq!(d.status, "GSM:41");
    }
}
