//! Lines: what the dispatcher places attempts on.
//!
//! Owns the [`Line`] trait (place one attempt for a job; the outcome comes back as a code plus
//! details), the `$line` definitions of the CFG, and the line kinds that need no hardware: the
//! `sim` line ([`sim`]) whose outcomes follow a scenario, and a scripted line for tests
//! ([`scripted`]). Modem lines are in [`modem`], e-mail lines (SMTP) in [`smtp`], SMS gateway lines in
//! [`sms_http`], GSM modem lines (SMS over AT) in [`gsm`]. It never
//! touches the spool: the daemon turns outcomes into records.

pub mod breaker;
pub mod documents;
pub mod flow;
pub mod gsm;
pub mod mail;
pub mod modem;
pub mod scripted;
pub mod serial;
pub mod setting;
pub mod sim;
pub mod sms_http;
pub mod smtp;
pub mod transcript;

use crate::command::Document;
use crate::retry::outcome::Channel;
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// One attempt to place.
#[derive(Debug, Clone)]
pub struct Call {
    /// The job's file name.
    pub job: String,
    /// The number (or address) to dial, as written in the job.
    pub number: String,
    /// Fax, voice, …
    pub channel: Channel,
    /// Documents to send (resolved paths).
    pub documents: Vec<PathBuf>,
    /// The voice message (`$voice_phone`'s second argument).
    pub message: Option<String>,
    /// 1-based attempt number within the job's current cycle.
    pub attempt: usize,
    /// Whether this attempt dials `$alternate_phone` (prefix `A`).
    pub alternate: bool,
    /// Send at standard resolution (`$fax_resolution standard`, prefix `R`).
    pub low_resolution: bool,
    /// Highest fax speed for this attempt in bit/s (`$fax_speed`, stepped down by prefix `T`).
    pub fax_speed: Option<u32>,
    /// The header line stamped on every page (`$fax_header`); `None`: pages go as they are.
    pub header: Option<documents::HeaderSpec>,
    /// A cover page's text, its fields filled (`$fax_cover` with a text template): drawn and
    /// sent before the documents. A cover that is a document (PDF, TIFF…) is the first of
    /// `documents` instead.
    pub cover: Option<String>,
    /// An e-mail's parts (subject, body, sender, relay choice); `None` for other channels.
    pub email: Option<mail::Email>,
    /// An SMS's text, price and message id (SMS gateway lines); `None` for other channels.
    pub sms: Option<sms_http::Sms>,
}

/// What an attempt produced.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct CallResult {
    /// The outcome code (0 = success; see the outcome table).
    pub code: u32,
    /// Pages sent.
    pub pages: u32,
    /// Pages this attempt set out to send (all pages of its documents; 0 when none were read).
    #[serde(default)]
    pub scheduled: u32,
    /// Fax speed, bit/s.
    pub baud: u32,
    /// Seconds from dialling to hang-up.
    pub call_secs: u32,
    /// Seconds connected.
    pub connect_secs: u32,
    /// The remote's ID.
    pub answerback: String,
    /// The call's session log (modem lines: every byte to and from the modem and each step),
    /// written under `LOG/` when the attempt is settled; never kept in a journal.
    #[serde(skip)]
    pub transcript: Option<String>,
}

/// How a placed attempt completes.
#[derive(Debug)]
pub enum Placed {
    /// The result is known and the call ends at this instant (simulated lines: the daemon
    /// completes it when its clock reaches the instant, so virtual clocks need no sleeping).
    Until(DateTime<Utc>, CallResult),
    /// The line reports the result later through the [`Completion`] it was given.
    Reported,
}

/// What a call is doing now, as its line sees it (shown by `redial list` and `send --wait`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallProgress {
    /// The number is being dialled.
    Dialling,
    /// The fax connection is up (with the receiver's ID when it gave one).
    Connected {
        /// The receiver's ID (CSI), possibly empty.
        remote: String,
    },
    /// A page is going out.
    Page {
        /// 1-based page number.
        number: u32,
        /// Pages this attempt sends in all.
        of: u32,
        /// Speed in bit/s (0 when unknown).
        baud: u32,
    },
    /// The receiver confirmed a page.
    PageConfirmed {
        /// 1-based page number.
        number: u32,
        /// Pages this attempt sends in all.
        of: u32,
    },
}

impl std::fmt::Display for CallProgress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallProgress::Dialling => f.write_str("dialling"),
            CallProgress::Connected { remote } if remote.is_empty() => f.write_str("connected"),
            CallProgress::Connected { remote } => write!(f, "connected to {remote:?}"),
            CallProgress::Page {
                number,
                of,
                baud: 0,
            } => write!(f, "page {number}/{of}"),
            CallProgress::Page { number, of, baud } => write!(f, "page {number}/{of} at {baud}"),
            CallProgress::PageConfirmed { number, of } => {
                write!(f, "page {number}/{of} confirmed")
            }
        }
    }
}

/// What an asynchronous line reports about the call it placed.
#[derive(Debug)]
pub enum Report {
    /// A step of the call, when it happens (any number, before the result).
    Progress(CallProgress),
    /// The call is over.
    Done(CallResult),
}

/// Where asynchronous lines report their calls: `(line number, report)`. A line sends any
/// number of [`Report::Progress`] and then exactly one [`Report::Done`] per placed call.
pub type Completion = tokio::sync::mpsc::UnboundedSender<(u32, Report)>;

/// Places one attempt of a line that does its work as a task (the smtp and sms_http lines):
/// reports `Dialling`, then the result of `attempt`, or outcome 37 without running it when the
/// call is not on `channel` (routing never sends one; the record says so if it did).
pub fn spawn_attempt<F>(
    number: u32,
    done: &Completion,
    call: &Call,
    channel: Channel,
    kind: &'static str,
    attempt: impl FnOnce(Call) -> F,
) -> Placed
where
    F: std::future::Future<Output = CallResult> + Send + 'static,
{
    let done = done.clone();
    let wrong = (call.channel != channel).then(|| CallResult {
        code: 37,
        answerback: format!("an {kind} line cannot place {:?} calls", call.channel),
        ..CallResult::default()
    });
    let work = attempt(call.clone());
    tokio::spawn(async move {
        let _ = done.send((number, Report::Progress(CallProgress::Dialling)));
        let result = match wrong {
            Some(r) => r,
            None => work.await,
        };
        let _ = done.send((number, Report::Done(result)));
    });
    Placed::Reported
}

/// One line (a "channel" in CopiaFacts 8.3): places one attempt at a time.
pub trait Line: Send {
    /// Its number (`$line N …`).
    fn number(&self) -> u32;
    /// The board letter written in attempt records (`S` sim, `T` test, `M` modem, `E` e-mail).
    fn board(&self) -> char;
    /// Whether the line takes jobs of `channel` at all (the dispatcher gives it no others).
    /// Lines that dial take every channel but e-mail; e-mail lines take only e-mail.
    fn takes(&self, channel: Channel) -> bool {
        channel != Channel::Email
    }
    /// Whether the line can take calls now. The daemon asks before every dispatch round, so a
    /// line whose breaker opens takes no further call until it reports up again.
    fn is_up(&self) -> bool {
        true
    }
    /// While the line is down: when it will next be probed (None when unknown or never).
    fn next_probe(&self) -> Option<DateTime<Utc>> {
        None
    }
    /// Starts an attempt at `now`.
    fn place(&mut self, call: &Call, now: DateTime<Utc>, done: &Completion) -> Placed;
    /// Hangs up the call in progress (an operator cancelled its job); its result, reported as
    /// usual, is then outcome 40. False when the line cannot (the call runs to its end; the
    /// daemon fails the job as cancelled all the same).
    fn cancel(&mut self) -> bool {
        false
    }
    /// Tells the line where the spool is (the daemon calls it once the line is installed);
    /// lines that leave files there (GSM lines: delivery reports) start working then.
    fn use_spool(&mut self, _layout: &crate::spool::Layout) {}
}

/// A `$line N KIND key=value…` definition from the CFG.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDef {
    /// Line number.
    pub number: u32,
    /// Kind: `sim`, `modem` (or a device path), `smtp`.
    pub kind: String,
    /// `key=value` parameters (bare words get an empty value).
    pub params: Vec<(String, String)>,
    /// CFG line number (for errors).
    pub cfg_line: usize,
}

impl LineDef {
    /// A parameter's value.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.params
            .iter()
            .rev()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }
}

/// Every `$line` of a CFG, in order.
pub fn line_defs(cfg: &Document) -> Result<Vec<LineDef>, String> {
    let mut out: Vec<LineDef> = Vec::new();
    for c in cfg.all("line") {
        let number = c
            .arg(0)
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                format!(
                    "{} line {}: expected $line NUMBER KIND …",
                    cfg.origin(),
                    c.line
                )
            })?;
        let kind = c.arg(1).ok_or_else(|| {
            format!(
                "{} line {}: $line {number} needs a kind (sim, modem, smtp, sms_http) or a device path",
                cfg.origin(),
                c.line
            )
        })?;
        // A device path keeps its case; kinds are case-insensitive.
        let kind = if kind.starts_with('/') {
            kind.to_string()
        } else {
            kind.to_ascii_lowercase()
        };
        let params = c.args[2..]
            .iter()
            .map(|a| match a.text.split_once('=') {
                Some((k, v)) => (k.to_ascii_lowercase(), v.to_string()),
                None => (a.text.to_ascii_lowercase(), String::new()),
            })
            .collect();
        if out.iter().any(|d| d.number == number) {
            return Err(format!(
                "{} line {}: line {number} is defined twice",
                cfg.origin(),
                c.line
            ));
        }
        out.push(LineDef {
            number,
            kind,
            params,
            cfg_line: c.line,
        });
    }
    Ok(out)
}

/// Builds the lines of the given definitions (kinds this build knows).
pub fn build_lines(cfg: &Document, defs: &[LineDef]) -> Result<Vec<Box<dyn Line>>, String> {
    let scenario = sim::Scenario::from_cfg(cfg)?;
    // One document cache for every modem line of the node.
    let documents = documents::DocumentCache::default();
    defs.iter()
        .map(|d| -> Result<Box<dyn Line>, String> {
            match d.kind.as_str() {
                "sim" => Ok(Box::new(sim::SimLine::new(d, scenario.clone()).map_err(
                    |e| format!("{} line {}: {e}", cfg.origin(), d.cfg_line),
                )?)),
                _ if gsm::is_gsm(d) => {
                    let settings = gsm::GsmSettings::from_def(d)
                        .map_err(|e| format!("{} line {}: {e}", cfg.origin(), d.cfg_line))?;
                    Ok(Box::new(gsm::GsmLine::new(d.number, settings)))
                }
                kind if kind == "modem" || kind.starts_with('/') => {
                    let settings = modem::ModemSettings::from_def(d)
                        .map_err(|e| format!("{} line {}: {e}", cfg.origin(), d.cfg_line))?;
                    Ok(Box::new(modem::ModemLine::with_documents(
                        d.number,
                        settings,
                        documents.clone(),
                    )))
                }
                "smtp" => {
                    let settings = smtp::SmtpSettings::from_def(d)
                        .map_err(|e| format!("{} line {}: {e}", cfg.origin(), d.cfg_line))?;
                    Ok(Box::new(smtp::SmtpLine::new(d.number, settings)))
                }
                "sms_http" => {
                    let settings = sms_http::SmsHttpSettings::from_def(d)
                        .map_err(|e| format!("{} line {}: {e}", cfg.origin(), d.cfg_line))?;
                    Ok(Box::new(sms_http::SmsHttpLine::new(d.number, settings)))
                }
                other => Err(format!(
                    "{} line {}: line kind {other:?} is not available (known: sim, modem, smtp, sms_http, or a device path such as /dev/ttyS0)",
                    cfg.origin(),
                    d.cfg_line
                )),
            }
        })
        .collect()
}
