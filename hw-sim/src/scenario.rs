//! Scenario files: what the simulated telephone network does when a number is dialled.
//!
//! Owns the TOML model (`[[number]]`, `[[modem]]`, `[[incoming]]`, `[defaults]`), number
//! matching (exact, prefix, glob pattern) and the per-entry call counters that make
//! sequences ("busy, busy, then answer") work across all modems of a rack. It never does I/O
//! beyond parsing the text it is handed.

use serde::Deserialize;
use std::collections::HashMap;
use thiserror::Error;

/// Seconds of line time for one ring cycle (ring-back or incoming RING).
pub const RING_CYCLE_SECS: f64 = 6.0;

/// Errors found while loading a scenario.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The TOML did not parse or did not match the schema.
    #[error("scenario syntax: {0}")]
    Toml(#[from] toml::de::Error),
    /// The file could not be read.
    #[error("scenario file {path}: {source}")]
    Io {
        /// Path given.
        path: String,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A `[[number]]` entry is inconsistent.
    #[error("number entry {index}: {reason}")]
    Entry {
        /// Position of the entry (0-based).
        index: usize,
        /// What is wrong.
        reason: String,
    },
}

/// The whole scenario file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Defaults for numbers that match no entry.
    #[serde(default)]
    pub defaults: Defaults,
    /// Numbers and what they do.
    #[serde(default)]
    pub number: Vec<NumberEntry>,
    /// Per-modem faults.
    #[serde(default)]
    pub modem: Vec<ModemEntry>,
    /// Incoming calls rung into modems.
    #[serde(default)]
    pub incoming: Vec<Incoming>,
    /// Ports that are GSM modems (see [`crate::gsm`]).
    #[serde(default)]
    pub gsm: Vec<crate::gsm::GsmEntry>,
}

/// `[defaults]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Outcome for numbers no entry matches (default: `no-answer`).
    #[serde(default = "default_unknown")]
    pub unknown: Outcome,
}

fn default_unknown() -> Outcome {
    Outcome::NoAnswer { rings: None }
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            unknown: default_unknown(),
        }
    }
}

/// One `[[number]]` entry: a matcher plus either one outcome or a sequence.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NumberEntry {
    /// Free text shown in logs.
    #[serde(default)]
    pub name: Option<String>,
    /// Exact number (digits only, after dial modifiers are stripped).
    #[serde(default)]
    pub number: Option<String>,
    /// Any number starting with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// Glob: `?` one character, `*` any run of characters.
    #[serde(default)]
    pub pattern: Option<String>,
    /// The outcome of every call.
    #[serde(default)]
    pub outcome: Option<Outcome>,
    /// Outcomes of successive calls; after the end the last one repeats (or the list
    /// restarts with `cycle = true`).
    #[serde(default)]
    pub sequence: Vec<Outcome>,
    /// Restart the sequence after its end instead of repeating the last element.
    #[serde(default)]
    pub cycle: bool,
}

/// A per-modem fault.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModemEntry {
    /// Modem index (0-based, as in `ttySIM<index>`).
    pub index: usize,
    /// The fault.
    pub fault: Fault,
}

/// Faults a whole modem can have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// Every dial attempt ends in NO DIALTONE (line unplugged).
    NoDialtone,
    /// The modem never answers any command.
    Wedged,
}

/// An incoming call rung into one modem.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Incoming {
    /// Modem index.
    pub modem: usize,
    /// Line seconds after start-up when the first RING comes.
    #[serde(default)]
    pub after: f64,
    /// Caller number (NMBR=).
    #[serde(default)]
    pub caller: String,
    /// Caller name (NAME=).
    #[serde(default)]
    pub name: String,
    /// How many RINGs before the caller gives up.
    #[serde(default = "default_in_rings")]
    pub rings: u32,
    /// The caller is a fax machine: answered in class 8 it sends CNG (`DLE c`).
    #[serde(default)]
    pub fax: bool,
}

fn default_in_rings() -> u32 {
    5
}

/// A remote hang-up during a fax call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaxHangup {
    /// T.30 phase: B (negotiation, reported on dialling), C (during page data), D (post-page).
    pub phase: Phase,
    /// Hang-up code as reported by `+FHS` (Class 2.0, printed as two hex-style digits) and
    /// `+FHNG` (Class 2, decimal).
    pub code: u32,
    /// Page (1-based) on which a phase C or D hang-up happens.
    #[serde(default = "one")]
    pub page: u32,
}

fn one() -> u32 {
    1
}

/// T.30 phases a scenario can hang up in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Phase {
    /// Pre-message procedure (DIS/DCS).
    B,
    /// Message transmission.
    C,
    /// Post-message procedure.
    D,
}

/// A DTMF digit the remote party "presses".
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Press {
    /// Line seconds after the call was answered.
    pub at: f64,
    /// Digits (0-9 * # A-D), pressed `gap` seconds apart.
    pub digits: String,
}

/// What happens on the line after a number is dialled.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Outcome {
    /// Busy tone: BUSY (needs X3/X4, else NO CARRIER after S7).
    Busy,
    /// Rings until S7 expires (NO ANSWER); with `rings` the network gives up after that many.
    NoAnswer {
        /// Ring cycles before the network gives up.
        #[serde(default)]
        rings: Option<u32>,
    },
    /// Rings, then the far end goes away: NO CARRIER.
    RingbackHangup {
        /// Ring cycles heard first.
        #[serde(default = "two")]
        rings: u32,
    },
    /// No dial tone: NO DIALTONE (needs X2/X4, else NO CARRIER after S7).
    NoDialtone,
    /// Something picks up but no carrier is found: NO CARRIER.
    NoCarrier {
        /// Ring cycles before the pick-up.
        #[serde(default = "one")]
        rings: u32,
        /// Line seconds of silence after pick-up before NO CARRIER (capped by S7).
        #[serde(default = "five")]
        after: f64,
    },
    /// Special information tone (number unobtainable).
    Sit {
        /// Label written to the call log.
        #[serde(default = "unobtainable")]
        tone: String,
    },
    /// Line noise: garbage bytes reach the DTE, then a result code.
    Noise {
        /// How many pseudo-random bytes.
        #[serde(default = "sixty_four")]
        count: usize,
        /// Final result after the noise.
        #[serde(default = "no_carrier")]
        result: String,
    },
    /// A fax machine answers (Class 2 / 2.0 receiver).
    Fax(FaxAnswer),
    /// A data modem answers: CONNECT, online data mode, `+++` escapes.
    Data {
        /// Ring cycles first.
        #[serde(default = "one")]
        rings: u32,
        /// Speed shown in CONNECT.
        #[serde(default = "speed")]
        speed: u32,
        /// Text the remote sends after CONNECT.
        #[serde(default)]
        banner: String,
    },
    /// A person answers (voice, class 8).
    Voice {
        /// Ring cycles first.
        #[serde(default = "two")]
        rings: u32,
        /// Length of "hello?" in line seconds.
        #[serde(default = "one_f")]
        greeting: f64,
        /// DTMF digits the person presses.
        #[serde(default)]
        dtmf: Vec<Press>,
        /// Seconds between pressed digits.
        #[serde(default = "gap")]
        gap: f64,
        /// The person hangs up this many line seconds after answering.
        #[serde(default = "thirty")]
        hangup_after: f64,
    },
    /// An answering machine: long greeting, beep, records, hangs up.
    Machine {
        /// Ring cycles first.
        #[serde(default = "four")]
        rings: u32,
        /// Greeting length in line seconds.
        #[serde(default = "twelve")]
        greeting: f64,
        /// Beep after the greeting.
        #[serde(default = "yes")]
        beep: bool,
        /// Hangs up this many line seconds after answering.
        #[serde(default = "sixty")]
        hangup_after: f64,
    },
    /// The modem stops answering commands once it dials this number.
    Wedge {
        /// Line seconds after which it silently works again (never if absent).
        #[serde(default)]
        recover_after: Option<f64>,
    },
    /// The modem disappears: its pty is closed and its link removed.
    Vanish {
        /// Line seconds after which a new pty appears at the same path (never if absent).
        #[serde(default)]
        return_after: Option<f64>,
    },
}

/// Parameters of a fax machine answering.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaxAnswer {
    /// Ring cycles before it answers.
    #[serde(default = "two")]
    pub rings: u32,
    /// Its ID (CSI), shown in `+FCI:` / `+FCSI:`.
    #[serde(default = "default_csi")]
    pub csi: String,
    /// Its capabilities (DIS) as `vr,br,wd,ln,df,ec,bf,st`.
    #[serde(default = "default_dis")]
    pub dis: String,
    /// Pages (1-based) answered with RTN.
    #[serde(default)]
    pub rtn_pages: Vec<u32>,
    /// How many times each listed page is rejected (0 = every time).
    #[serde(default)]
    pub rtn_times: u32,
    /// A remote hang-up.
    #[serde(default)]
    pub hangup: Option<FaxHangup>,
    /// Pages (1-based) answered with RTP (stored; the sender retrains before the next one).
    #[serde(default)]
    pub rtp_pages: Vec<u32>,
    /// Class 1: the fastest bit rate whose training check (TCF) arrives clean; faster ones
    /// are answered with FTT. Default: the line carries every rate the DIS offers.
    #[serde(default)]
    pub train_max: Option<u32>,
    /// Class 1: the first `ftt` trainings of a call are answered with FTT whatever the rate.
    #[serde(default)]
    pub ftt: u32,
    /// Class 1: commands from the sender that the remote does not hear (no answer, so the
    /// sender must repeat them).
    #[serde(default)]
    pub drop: Vec<FrameFault>,
    /// Class 1: the remote's frames that reach the DTE with a bad FCS (`ERROR` after the frame).
    #[serde(default)]
    pub garble: Vec<FrameFault>,
    /// Class 1 with ECM: facsimile data frames (FCD) that arrive with a bad FCS, so the
    /// receiver asks for them again with PPR.
    #[serde(default)]
    pub bad_frames: Vec<EcmFault>,
    /// Class 1 with ECM: the first `rnr` answers to PPS (and to the sender's RR after them)
    /// are RNR (receiver not ready); then the PPS is answered.
    #[serde(default)]
    pub rnr: u32,
    /// Class 1 with ECM: the first `eor_rnr` answers to EOR (and to the sender's RR after
    /// them) are RNR; then the EOR is answered with ERR.
    #[serde(default)]
    pub eor_rnr: u32,
}

/// An ECM data frame the line spoils: `{ frame = 3, page = 1, block = 0, times = 1 }`, or on
/// every transmission with `always = true` (so the sender must give it up with EOR).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EcmFault {
    /// The frame number (0-255) as the FCD frame carries it.
    pub frame: u32,
    /// Only on this page (1-based); any page if absent.
    #[serde(default)]
    pub page: Option<u32>,
    /// Only in this partial page (0-based block of the page); any block if absent.
    #[serde(default)]
    pub block: Option<u32>,
    /// How many times it arrives spoilt (each transmission of it counts).
    #[serde(default = "one")]
    pub times: u32,
    /// Spoilt on every transmission (`times` is then ignored).
    #[serde(default)]
    pub always: bool,
}

/// A Class 1 frame the line spoils: `{ frame = "MPS", page = 2, times = 1 }`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrameFault {
    /// T.30 frame name: DCS, TSI, MPS, EOP, EOM, DCN, CRP, PPS, CTC, RR (sent by the DTE:
    /// `drop`) or CSI, DIS, CFR, FTT, MCF, RTN, RTP, DCN, PPR, CTR, RNR (sent by the remote:
    /// `garble`).
    pub frame: String,
    /// Only while this page (1-based) is being sent; any page if absent.
    #[serde(default)]
    pub page: Option<u32>,
    /// How many occurrences are spoiled.
    #[serde(default = "one")]
    pub times: u32,
}

/// Frame names a [`FrameFault`] may give.
pub const FRAME_NAMES: [&str; 22] = [
    "DIS", "CSI", "NSF", "DCS", "TSI", "CFR", "FTT", "MCF", "RTN", "RTP", "EOM", "MPS", "EOP",
    "CRP", "DCN", "PIN", "PPS", "PPR", "CTC", "CTR", "RR", "RNR",
];

fn default_csi() -> String {
    "HW-SIM FAX".into()
}
fn default_dis() -> String {
    "1,5,0,2,0,0,0,0".into()
}
fn two() -> u32 {
    2
}
fn four() -> u32 {
    4
}
fn five() -> f64 {
    5.0
}
fn one_f() -> f64 {
    1.0
}
fn gap() -> f64 {
    0.3
}
fn thirty() -> f64 {
    30.0
}
fn sixty() -> f64 {
    60.0
}
fn twelve() -> f64 {
    12.0
}
fn yes() -> bool {
    true
}
fn sixty_four() -> usize {
    64
}
fn speed() -> u32 {
    14400
}
fn unobtainable() -> String {
    "unobtainable".into()
}
fn no_carrier() -> String {
    "NO CARRIER".into()
}

impl Outcome {
    /// Short name for the call log (the `kind` tag).
    pub fn kind(&self) -> &'static str {
        match self {
            Outcome::Busy => "busy",
            Outcome::NoAnswer { .. } => "no-answer",
            Outcome::RingbackHangup { .. } => "ringback-hangup",
            Outcome::NoDialtone => "no-dialtone",
            Outcome::NoCarrier { .. } => "no-carrier",
            Outcome::Sit { .. } => "sit",
            Outcome::Noise { .. } => "noise",
            Outcome::Fax(_) => "fax",
            Outcome::Data { .. } => "data",
            Outcome::Voice { .. } => "voice",
            Outcome::Machine { .. } => "machine",
            Outcome::Wedge { .. } => "wedge",
            Outcome::Vanish { .. } => "vanish",
        }
    }
}

impl Scenario {
    /// Parse scenario text and check every entry.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let s: Scenario = toml::from_str(text)?;
        for (index, e) in s.number.iter().enumerate() {
            let matchers =
                e.number.is_some() as u8 + e.prefix.is_some() as u8 + e.pattern.is_some() as u8;
            if matchers != 1 {
                return Err(ScenarioError::Entry {
                    index,
                    reason: "give exactly one of number, prefix, pattern".into(),
                });
            }
            if e.outcome.is_some() != e.sequence.is_empty() {
                return Err(ScenarioError::Entry {
                    index,
                    reason: "give exactly one of outcome, sequence".into(),
                });
            }
            for o in e.outcome.iter().chain(&e.sequence) {
                if let Outcome::Fax(a) = o {
                    if let Some(f) = a
                        .drop
                        .iter()
                        .chain(&a.garble)
                        .find(|f| !FRAME_NAMES.contains(&f.frame.as_str()))
                    {
                        return Err(ScenarioError::Entry {
                            index,
                            reason: format!("unknown frame name {:?}", f.frame),
                        });
                    }
                    if let Some(f) = a.bad_frames.iter().find(|f| f.frame > 255) {
                        return Err(ScenarioError::Entry {
                            index,
                            reason: format!("ECM frame number {} is not 0-255", f.frame),
                        });
                    }
                }
            }
        }
        Ok(s)
    }

    /// Read and parse a scenario file.
    pub fn load(path: &str) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            path: path.into(),
            source,
        })?;
        Scenario::parse(&text)
    }

    fn find(&self, number: &str) -> Option<usize> {
        self.number.iter().position(|e| {
            if let Some(n) = &e.number {
                n == number
            } else if let Some(p) = &e.prefix {
                number.starts_with(p.as_str())
            } else if let Some(p) = &e.pattern {
                glob(p.as_bytes(), number.as_bytes())
            } else {
                false
            }
        })
    }
}

/// `?` matches one character, `*` any run (also empty); everything else literally.
pub fn glob(pat: &[u8], s: &[u8]) -> bool {
    match (pat.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => glob(&pat[1..], s) || (!s.is_empty() && glob(pat, &s[1..])),
        (Some(b'?'), Some(_)) => glob(&pat[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => glob(&pat[1..], &s[1..]),
        _ => false,
    }
}

/// The simulated exchange: the scenario plus how often each entry was called.
///
/// Shared by all modems of a rack so a sequence advances whichever modem dials.
#[derive(Debug, Default)]
pub struct Exchange {
    scenario: Scenario,
    calls: HashMap<usize, usize>,
}

/// What the exchange decided for one call.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    /// The outcome to play.
    pub outcome: Outcome,
    /// Which entry matched (None = defaults).
    pub entry: Option<usize>,
    /// 1-based count of calls that hit this entry, this one included.
    pub call_no: usize,
}

impl Exchange {
    /// An exchange for this scenario with fresh counters.
    pub fn new(scenario: Scenario) -> Exchange {
        Exchange {
            scenario,
            calls: HashMap::new(),
        }
    }

    /// The scenario.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// Fault configured for a modem, if any.
    pub fn fault(&self, modem: usize) -> Option<Fault> {
        self.scenario
            .modem
            .iter()
            .find(|m| m.index == modem)
            .map(|m| m.fault)
    }

    /// Route one call to `number` (digits only) and advance that entry's sequence.
    pub fn route(&mut self, number: &str) -> Routed {
        let Some(i) = self.scenario.find(number) else {
            return Routed {
                outcome: self.scenario.defaults.unknown.clone(),
                entry: None,
                call_no: 1,
            };
        };
        let n = self.calls.entry(i).or_insert(0);
        *n += 1;
        let call_no = *n;
        let e = &self.scenario.number[i];
        let outcome = if let Some(o) = &e.outcome {
            o.clone()
        } else {
            let len = e.sequence.len();
            let k = if e.cycle {
                (call_no - 1) % len
            } else {
                (call_no - 1).min(len - 1)
            };
            e.sequence[k].clone()
        };
        Routed {
            outcome,
            entry: Some(i),
            call_no,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        assert!(glob(b"555??", b"55512"));
        assert!(!glob(b"555??", b"5551"));
        assert!(glob(b"0*9", b"0123459"));
        assert!(glob(b"*", b""));
    }

    #[test]
    fn sequence_then_repeat_last() {
        let s = Scenario::parse(
            r#"
            [[number]]
            number = "200"
            sequence = [{ kind = "busy" }, { kind = "busy" }, { kind = "fax" }]
            [[number]]
            prefix = "9"
            outcome = { kind = "no-dialtone" }
            "#,
        )
        .unwrap();
        let mut x = Exchange::new(s);
        let kinds: Vec<_> = (0..4).map(|_| x.route("200").outcome.kind()).collect();
        assert_eq!(kinds, ["busy", "busy", "fax", "fax"]);
        assert_eq!(x.route("9123").outcome, Outcome::NoDialtone);
        assert_eq!(x.route("1").outcome.kind(), "no-answer");
    }

    #[test]
    fn class1_frame_faults_name_known_frames() {
        let ok = Scenario::parse(
            r#"
            [[number]]
            number = "1"
            outcome = { kind = "fax", drop = [{ frame = "MPS", page = 2 }], garble = [{ frame = "CFR", times = 2 }], train_max = 9600, ftt = 1, rtp_pages = [1] }
            "#,
        )
        .unwrap();
        let Some(Outcome::Fax(a)) = &ok.number[0].outcome else {
            panic!("a fax outcome")
        };
        assert_eq!(
            (a.drop[0].page, a.drop[0].times, a.garble[0].times),
            (Some(2), 1, 2)
        );
        let bad = Scenario::parse(
            r#"
            [[number]]
            number = "1"
            sequence = [{ kind = "busy" }, { kind = "fax", garble = [{ frame = "XYZ" }] }]
            "#,
        );
        assert!(bad.unwrap_err().to_string().contains("XYZ"));
    }

    #[test]
    fn rejects_two_matchers() {
        let e = Scenario::parse(
            r#"
            [[number]]
            number = "1"
            prefix = "1"
            outcome = { kind = "busy" }
            "#,
        );
        assert!(e.is_err());
    }
}

#[cfg(test)]
mod shipped {
    #[test]
    fn conf_sim_toml_parses() {
        let s = super::Scenario::parse(include_str!("../../conf/sim.toml")).unwrap();
        assert!(s.number.len() >= 19);
        let mut x = super::Exchange::new(s);
        assert_eq!(x.fault(2), Some(super::Fault::NoDialtone));
        assert_eq!(x.route("5559123").outcome.kind(), "sit");
    }
}
