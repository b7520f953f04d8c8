//! Outcome codes, outcome classes and the table that maps one to the other.
//!
//! Owns redial's numeric outcome codes (every code is documented in [`DEFAULT_TABLE`] and in
//! the README), the class letters, and the `$retry_parms` override file. It never decides what
//! happens next: that is the engine's job.

use crate::command::{parse_int, Document, ParseError};
use std::collections::HashMap;
use std::fmt;

/// An outcome class letter: `A`–`H` and `J`–`O` retryable, `I` ignored, `S` success, `Z` final.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class(u8);

impl fmt::Debug for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Class({:?})", char::from(self.0))
    }
}

impl Class {
    /// Success.
    pub const S: Class = Class(b'S');
    /// Final failure.
    pub const Z: Class = Class(b'Z');
    /// Ignored (always retried).
    pub const I: Class = Class(b'I');

    /// Parses a class letter (case-insensitive).
    pub fn parse(s: &str) -> Result<Class, String> {
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if matches!(c.to_ascii_uppercase(), 'A'..='O' | 'S' | 'Z') => {
                Ok(Class(c.to_ascii_uppercase() as u8))
            }
            _ => Err(format!(
                "{s:?} is not an outcome class (A-H, J-O retryable, I ignore, S success, Z fail)"
            )),
        }
    }

    /// [`Class::parse`] of one byte's word, without saying why not.
    pub fn from_byte(s: &[u8]) -> Option<Class> {
        match s {
            [c] if matches!(c.to_ascii_uppercase(), b'A'..=b'O' | b'S' | b'Z') => {
                Some(Class(c.to_ascii_uppercase()))
            }
            _ => None,
        }
    }

    /// The letter.
    pub fn letter(self) -> char {
        char::from(self.0)
    }

    /// Whether a retry list governs this class.
    pub fn is_retryable(self) -> bool {
        matches!(self.0, b'A'..=b'H' | b'J'..=b'O')
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", char::from(self.0))
    }
}

/// What kind of destination an attempt was for (rows of the table may be restricted to one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// A fax call.
    Fax,
    /// A voice call.
    Voice,
    /// A fax poll.
    Poll,
    /// An e-mail delivery.
    Email,
    /// An SMS.
    Sms,
}

impl Channel {
    /// Parses the table's channel column (`any` is `None`).
    pub fn parse(s: &str) -> Result<Option<Channel>, String> {
        Ok(Some(match s.to_ascii_lowercase().as_str() {
            "any" | "*" => return Ok(None),
            "fax" => Channel::Fax,
            "voice" => Channel::Voice,
            "poll" => Channel::Poll,
            "email" => Channel::Email,
            "sms" => Channel::Sms,
            _ => {
                return Err(format!(
                    "{s:?} is not a channel (any, fax, voice, poll, email, sms)"
                ))
            }
        }))
    }

    /// The digit written in the attempt record's `type` field.
    pub fn type_code(self) -> u8 {
        match self {
            Channel::Fax => 1,
            Channel::Voice => 2,
            Channel::Email => 3,
            Channel::Sms => 4,
            Channel::Poll => 5,
        }
    }

    /// Its name, as the table's channel column writes it.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Fax => "fax",
            Channel::Voice => "voice",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Poll => "poll",
        }
    }

    /// The channel for a `type` field value.
    pub fn from_type_code(n: u8) -> Option<Channel> {
        Some(match n {
            1 => Channel::Fax,
            2 => Channel::Voice,
            3 => Channel::Email,
            4 => Channel::Sms,
            5 => Channel::Poll,
            _ => return None,
        })
    }
}

/// One row of the outcome table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRow {
    /// The outcome code.
    pub code: u32,
    /// Restricts the row to one channel; `None` = any.
    pub channel: Option<Channel>,
    /// The class the code maps to.
    pub class: Class,
    /// Correction of the pages-sent count (-1, 0 or +1).
    pub page_adjust: i8,
    /// What the code means.
    pub description: String,
}

// Numbering: 0 success; 1-29 call placement and fax session; 30-49 system and job errors;
// 66 interrupted; 183 window expired; 300-319 voice; 400-409 SMS delivery reports, 410-419 SMS
// gateway (HTTP) outcomes;
// 1000 + n fax hang-up code n (+FHS/+FHNG, 2388-A decimal numbering; 2.0's A0-A3 = 1100-1103);
// 2000 + n SMTP reply n, and 2001-2009 for SMTP failures without a reply.
/// The built-in table: `(code, channel, class, description)`.
pub const DEFAULT_TABLE: &[(u32, Option<Channel>, char, &str)] = &[
    (0, None, 'S', "success"),
    (1, None, 'A', "no answer"),
    (2, None, 'B', "busy"),
    (3, None, 'C', "no carrier"),
    (4, None, 'D', "no dial tone"),
    (5, None, 'C', "modem answered the dial command with ERROR"),
    (
        6,
        Some(Channel::Fax),
        'H',
        "a voice answered a fax call (no fax tone)",
    ),
    (
        7,
        None,
        'Z',
        "SIT tone: number unobtainable (vacant code or intercept)",
    ),
    (
        8,
        None,
        'D',
        "SIT tone: no circuit or reorder (network congestion)",
    ),
    (
        9,
        None,
        'C',
        "no call-progress result within the dial timeout",
    ),
    (
        10,
        None,
        'A',
        "ring-back, then the far end hung up before answering",
    ),
    (
        11,
        None,
        'Z',
        "invalid destination number (rejected before dialling)",
    ),
    (
        12,
        Some(Channel::Voice),
        'H',
        "a fax machine answered a voice call",
    ),
    (13, None, 'H', "a data modem answered (CONNECT without fax)"),
    (
        20,
        Some(Channel::Fax),
        'F',
        "page rejected (RTN) more often than the retransmission limit",
    ),
    (
        21,
        Some(Channel::Fax),
        'Z',
        "receiver cannot take the document (incompatible capabilities)",
    ),
    (
        22,
        None,
        'F',
        "fax session ended without a hang-up code (protocol error)",
    ),
    (30, None, 'E', "document file missing"),
    (31, None, 'E', "document cannot be read or converted"),
    (32, None, 'Z', "job has no destination"),
    (33, None, 'Z', "job file is invalid"),
    (34, None, 'E', "modem did not respond to a command"),
    (
        35,
        None,
        'E',
        "modem device vanished (port closed or unplugged)",
    ),
    (36, None, 'E', "modem initialisation failed"),
    (
        37,
        None,
        'E',
        "line taken out of service during the attempt",
    ),
    (
        38,
        None,
        'E',
        "daemon shut down before the attempt finished",
    ),
    (
        39,
        None,
        'Z',
        "destination on the do-not-call list (not dialled)",
    ),
    (40, None, 'Z', "cancelled by an operator (redial cancel)"),
    (
        66,
        None,
        'E',
        "attempt interrupted (job found in progress after a crash)",
    ),
    (183, None, 'Z', "permitted days of the send window expired"),
    (
        300,
        Some(Channel::Voice),
        'S',
        "human answered, message completed",
    ),
    (
        301,
        Some(Channel::Voice),
        'H',
        "human answered, hung up during the message",
    ),
    (
        302,
        Some(Channel::Voice),
        'S',
        "answering machine, message left after the greeting",
    ),
    (
        303,
        Some(Channel::Voice),
        'G',
        "answering machine, message not left",
    ),
    (
        304,
        Some(Channel::Voice),
        'G',
        "answered, human or machine could not be told apart",
    ),
    (
        305,
        Some(Channel::Voice),
        'Z',
        "recipient opted out by DTMF",
    ),
    (
        306,
        Some(Channel::Voice),
        'E',
        "voice message file cannot be played",
    ),
    (400, Some(Channel::Sms), 'S', "SMS DELIVERED"),
    (
        401,
        Some(Channel::Sms),
        'J',
        "SMS NO_CREDIT: subscriber may top up, retry days later",
    ),
    (
        402,
        Some(Channel::Sms),
        'C',
        "SMS FAILED: non-specific failure",
    ),
    (
        403,
        Some(Channel::Sms),
        'A',
        "SMS VALIDITY_EXPIRED: network dropped it",
    ),
    (
        404,
        Some(Channel::Sms),
        'Z',
        "SMS REJECTED: barred or not allowed",
    ),
    (
        405,
        Some(Channel::Sms),
        'Z',
        "SMS INVALID_MSISDN: number does not exist",
    ),
    (
        406,
        Some(Channel::Sms),
        'S',
        "SMS ACKNOWLEDGED: accepted, not final; never resent (double charge)",
    ),
    (
        407,
        Some(Channel::Sms),
        'C',
        "SMS UNKNOWN: unrecognised delivery report",
    ),
    (
        408,
        Some(Channel::Sms),
        'D',
        "SMS OPERATOR_ERROR: network problem",
    ),
    (
        410,
        Some(Channel::Sms),
        'Z',
        "SMS submitted: waiting for a final delivery report (the job is held, never resent)",
    ),
    (
        411,
        Some(Channel::Sms),
        'Z',
        "SMS no final delivery report before the deadline (never resent: it could charge twice)",
    ),
    (
        412,
        Some(Channel::Sms),
        'Z',
        "SMS gateway refused the request (HTTP 4xx)",
    ),
    (
        413,
        Some(Channel::Sms),
        'D',
        "SMS gateway unreachable or failing (connection, timeout, HTTP 5xx)",
    ),
    (
        420,
        Some(Channel::Sms),
        'D',
        "SMS GSM modem: +CMS ERROR that may pass (network, congestion, modem or SIM busy)",
    ),
    (
        421,
        Some(Channel::Sms),
        'Z',
        "SMS GSM modem: +CMS ERROR about the number or the message (unassigned, barred, invalid PDU)",
    ),
    (
        422,
        Some(Channel::Sms),
        'Z',
        "SMS status report: permanent error (TP-ST 0x40-0x5F)",
    ),
    (
        423,
        Some(Channel::Sms),
        'D',
        "SMS status report: temporary error, the service centre stopped trying (TP-ST 0x60-0x7F)",
    ),
    (
        424,
        Some(Channel::Sms),
        'D',
        "SMS GSM modem failed during the send (no answer, no prompt, port lost, line not up)",
    ),
    (1000, None, 'S', "fax hang-up 0: normal end"),
    (
        1001,
        None,
        'A',
        "fax hang-up 1: ring detected, no handshake",
    ),
    (1002, None, 'C', "fax hang-up 2: call aborted (+FK or CAN)"),
    (1003, None, 'D', "fax hang-up 3: no loop current"),
    (1004, None, 'A', "fax hang-up 4: ring-back, no answer"),
    (
        1005,
        None,
        'H',
        "fax hang-up 5: answered without fax tone (CED)",
    ),
    (1010, None, 'F', "fax hang-up 10: unspecified phase A error"),
    (
        1011,
        None,
        'H',
        "fax hang-up 11: no fax answer (T1 expired)",
    ),
    (
        1020,
        None,
        'F',
        "fax hang-up 20: unspecified transmit phase B error",
    ),
    (1021, None, 'H', "fax hang-up 21: remote cannot receive"),
    (
        1022,
        None,
        'F',
        "fax hang-up 22: COMREC error in phase B (DCN)",
    ),
    (
        1023,
        None,
        'F',
        "fax hang-up 23: COMREC invalid command (no DIS/DTC)",
    ),
    (1024, None, 'F', "fax hang-up 24: RSPREC error (DCN)"),
    (
        1025,
        None,
        'F',
        "fax hang-up 25: DCS sent three times without response",
    ),
    (
        1026,
        None,
        'F',
        "fax hang-up 26: DIS/DTC received three times, DCS not recognised",
    ),
    (1027, None, 'F', "fax hang-up 27: failure to train"),
    (1028, None, 'F', "fax hang-up 28: RSPREC invalid response"),
    (
        1040,
        None,
        'F',
        "fax hang-up 40: unspecified transmit phase C error",
    ),
    (
        1041,
        None,
        'E',
        "fax hang-up 41: unspecified image format error",
    ),
    (1042, None, 'E', "fax hang-up 42: image conversion error"),
    (1043, None, 'F', "fax hang-up 43: DTE to DCE data underflow"),
    (
        1044,
        None,
        'F',
        "fax hang-up 44: unrecognised transparent data command",
    ),
    (
        1045,
        None,
        'E',
        "fax hang-up 45: image error, line length wrong",
    ),
    (
        1046,
        None,
        'E',
        "fax hang-up 46: image error, page length wrong",
    ),
    (
        1047,
        None,
        'E',
        "fax hang-up 47: image error, wrong compression",
    ),
    (
        1050,
        None,
        'F',
        "fax hang-up 50: unspecified transmit phase D error",
    ),
    (1051, None, 'F', "fax hang-up 51: RSPREC error (DCN)"),
    (
        1052,
        None,
        'F',
        "fax hang-up 52: no response to MPS three times",
    ),
    (1053, None, 'F', "fax hang-up 53: invalid response to MPS"),
    (
        1054,
        None,
        'F',
        "fax hang-up 54: no response to EOP three times",
    ),
    (1055, None, 'F', "fax hang-up 55: invalid response to EOP"),
    (
        1056,
        None,
        'F',
        "fax hang-up 56: no response to EOM three times",
    ),
    (1057, None, 'F', "fax hang-up 57: invalid response to EOM"),
    (
        1058,
        None,
        'Z',
        "fax hang-up 58: unable to continue after PIN/PIP (operator interrupt)",
    ),
    (
        1070,
        None,
        'H',
        "fax hang-up 70: unspecified receive phase B error",
    ),
    (1071, None, 'H', "fax hang-up 71: RSPREC error (receive)"),
    (1072, None, 'H', "fax hang-up 72: COMREC error (receive)"),
    (
        1073,
        None,
        'H',
        "fax hang-up 73: T.30 T2 timeout, expected page not received",
    ),
    (1074, None, 'H', "fax hang-up 74: T.30 T1 timeout after EOM"),
    (
        1090,
        None,
        'H',
        "fax hang-up 90: unspecified receive phase C error",
    ),
    (
        1091,
        None,
        'H',
        "fax hang-up 91: missing EOL after 5 seconds",
    ),
    (
        1093,
        None,
        'H',
        "fax hang-up 93: DCE to DTE buffer overflow",
    ),
    (
        1094,
        None,
        'H',
        "fax hang-up 94: bad CRC or frame (ECM or BFT)",
    ),
    (
        1100,
        None,
        'H',
        "fax hang-up 100 (A0): unspecified receive phase D error",
    ),
    (
        1101,
        None,
        'H',
        "fax hang-up 101 (A1): RSPREC invalid response",
    ),
    (
        1102,
        None,
        'H',
        "fax hang-up 102 (A2): COMREC invalid response",
    ),
    (
        1103,
        None,
        'Z',
        "fax hang-up 103 (A3): unable to continue after PIN/PIP",
    ),
    (2001, Some(Channel::Email), 'A', "SMTP timeout"),
    (2002, Some(Channel::Email), 'C', "SMTP connection failed"),
    (
        2003,
        Some(Channel::Email),
        'D',
        "mail domain does not resolve",
    ),
    (
        2004,
        Some(Channel::Email),
        'C',
        "SMTP TLS negotiation failed",
    ),
    (
        2421,
        Some(Channel::Email),
        'C',
        "SMTP 421: service not available",
    ),
    (
        2450,
        Some(Channel::Email),
        'B',
        "SMTP 450: mailbox unavailable (busy)",
    ),
    (
        2451,
        Some(Channel::Email),
        'E',
        "SMTP 451: local error in processing",
    ),
    (
        2452,
        Some(Channel::Email),
        'B',
        "SMTP 452: insufficient storage",
    ),
    (
        2500,
        Some(Channel::Email),
        'Z',
        "SMTP 500: syntax error, command unrecognised",
    ),
    (
        2501,
        Some(Channel::Email),
        'Z',
        "SMTP 501: syntax error in parameters",
    ),
    (
        2530,
        Some(Channel::Email),
        'Z',
        "SMTP 530: authentication required",
    ),
    (
        2535,
        Some(Channel::Email),
        'Z',
        "SMTP 535: authentication failed",
    ),
    (
        2550,
        Some(Channel::Email),
        'Z',
        "SMTP 550: mailbox unavailable (does not exist)",
    ),
    (2551, Some(Channel::Email), 'Z', "SMTP 551: user not local"),
    (
        2552,
        Some(Channel::Email),
        'Z',
        "SMTP 552: mailbox over quota",
    ),
    (
        2553,
        Some(Channel::Email),
        'Z',
        "SMTP 553: mailbox name not allowed",
    ),
    (
        2554,
        Some(Channel::Email),
        'Z',
        "SMTP 554: transaction failed",
    ),
];

/// The code-to-class table in force: the defaults, then `$retry_parms` overrides.
#[derive(Debug, Clone)]
pub struct OutcomeTable {
    rows: HashMap<(u32, Option<Channel>), OutcomeRow>,
}

impl Default for OutcomeTable {
    fn default() -> Self {
        let rows = DEFAULT_TABLE
            .iter()
            .map(|&(code, channel, class, d)| {
                (
                    (code, channel),
                    OutcomeRow {
                        code,
                        channel,
                        class: Class(class as u8),
                        page_adjust: 0,
                        description: d.to_string(),
                    },
                )
            })
            .collect();
        OutcomeTable { rows }
    }
}

/// How an unknown code is classified, by range (documented in the README).
fn fallback(code: u32) -> (Class, &'static str) {
    match code {
        2400..=2499 => (Class(b'E'), "unlisted SMTP 4xx reply"),
        2500..=2599 => (Class(b'Z'), "unlisted SMTP 5xx reply"),
        1000..=1199 => (Class(b'F'), "unlisted fax hang-up code"),
        _ => (Class(b'E'), "unlisted outcome code"),
    }
}

impl OutcomeTable {
    /// Looks a code up for a channel: a channel-specific row first, then an any-channel row,
    /// then the range fallback.
    pub fn classify(&self, code: u32, channel: Option<Channel>) -> OutcomeRow {
        if let Some(row) = channel.and_then(|ch| self.rows.get(&(code, Some(ch)))) {
            return row.clone();
        }
        if let Some(row) = self.rows.get(&(code, None)) {
            return row.clone();
        }
        // A row for another channel still names the code better than the fallback does.
        if channel.is_none() {
            if let Some(row) = self
                .rows
                .values()
                .filter(|r| r.code == code)
                .min_by_key(|r| r.channel.map(Channel::type_code))
            {
                return row.clone();
            }
        }
        let (class, what) = fallback(code);
        OutcomeRow {
            code,
            channel,
            class,
            page_adjust: 0,
            description: format!("{what} {code}"),
        }
    }

    /// All rows, sorted by code then channel.
    pub fn rows(&self) -> Vec<&OutcomeRow> {
        let mut v: Vec<&OutcomeRow> = self.rows.values().collect();
        v.sort_by_key(|r| (r.code, r.channel.map(Channel::type_code)));
        v
    }

    /// Applies a `$retry_parms` override file: one `$outcome CODE CHANNEL CLASS [ADJUST]
    /// ["description"]` line per code. Later lines win.
    pub fn apply_overrides(&mut self, doc: &Document) -> Result<(), ParseError> {
        for cmd in doc.commands() {
            let fail = |col: usize, reason: String| ParseError {
                file: doc.origin().to_string(),
                line: cmd.line,
                column: col,
                reason,
            };
            if cmd.name != "outcome" {
                return Err(fail(
                    1,
                    format!(
                        "${} does not belong in an outcome table (only $outcome)",
                        cmd.name
                    ),
                ));
            }
            if !(3..=5).contains(&cmd.args.len()) {
                return Err(fail(
                    1,
                    "expected $outcome CODE CHANNEL CLASS [PAGE_ADJUST] [\"description\"]".into(),
                ));
            }
            let col = |i: usize| cmd.args[i].column();
            let code = parse_int(&cmd.args[0].text)
                .ok()
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    fail(
                        col(0),
                        format!("{:?} is not an outcome code", cmd.args[0].text),
                    )
                })?;
            let channel = Channel::parse(&cmd.args[1].text).map_err(|r| fail(col(1), r))?;
            let class = Class::parse(&cmd.args[2].text).map_err(|r| fail(col(2), r))?;
            let page_adjust = match cmd.args.get(3) {
                Some(a) => match a.text.as_ref() {
                    "-1" => -1,
                    "0" => 0,
                    "1" | "+1" => 1,
                    t => {
                        return Err(fail(
                            a.column(),
                            format!("page adjust {t:?} must be -1, 0 or +1"),
                        ))
                    }
                },
                None => 0,
            };
            let description = match cmd.args.get(4) {
                Some(a) => a.text.to_string(),
                None => self.classify(code, channel).description,
            };
            self.rows.insert(
                (code, channel),
                OutcomeRow {
                    code,
                    channel,
                    class,
                    page_adjust,
                    description,
                },
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_cover_the_named_codes() {
        let t = OutcomeTable::default();
        let c = |code, ch| t.classify(code, ch).class.letter();
        assert_eq!(c(0, None), 'S');
        assert_eq!(c(1, Some(Channel::Fax)), 'A');
        assert_eq!(c(2, Some(Channel::Fax)), 'B');
        assert_eq!(c(4, Some(Channel::Voice)), 'D');
        assert_eq!(c(66, None), 'E');
        assert_eq!(c(183, None), 'Z');
        assert_eq!(c(39, Some(Channel::Fax)), 'Z');
        assert_eq!(c(39, Some(Channel::Voice)), 'Z');
        assert_eq!(c(40, Some(Channel::Fax)), 'Z');
        assert_eq!(c(1025, Some(Channel::Fax)), 'F');
        assert_eq!(c(2550, Some(Channel::Email)), 'Z');
        assert_eq!(c(2599, Some(Channel::Email)), 'Z');
        assert_eq!(c(2471, Some(Channel::Email)), 'E');
        assert_eq!(c(406, Some(Channel::Sms)), 'S');
        assert_eq!(c(401, Some(Channel::Sms)), 'J');
        assert_eq!(c(99_999, None), 'E');
    }

    #[test]
    fn every_default_code_is_unique_per_channel() {
        let mut seen = std::collections::HashSet::new();
        for (code, ch, class, _) in DEFAULT_TABLE {
            assert!(seen.insert((code, ch)), "duplicate {code}");
            assert!(Class::parse(&class.to_string()).is_ok());
        }
    }

    #[test]
    fn overrides_replace_rows_per_channel() {
        let mut t = OutcomeTable::default();
        let doc = Document::parse_str(
            "; site table\n$outcome 302 voice G 0 \"machine: retry\"\n$outcome 12 fax S +1\n",
            "SITE.SMR",
        )
        .unwrap();
        t.apply_overrides(&doc).unwrap();
        assert_eq!(t.classify(302, Some(Channel::Voice)).class, Class(b'G'));
        let row = t.classify(12, Some(Channel::Fax));
        assert_eq!((row.class, row.page_adjust), (Class::S, 1));
        assert_eq!(t.classify(12, Some(Channel::Voice)).class, Class(b'H'));
    }

    #[test]
    fn override_errors_point_at_the_field() {
        let mut t = OutcomeTable::default();
        let doc = Document::parse_str("$outcome 5 fax Q\n", "X.SMR").unwrap();
        let e = t.apply_overrides(&doc).unwrap_err();
        assert_eq!((e.line, e.column), (1, 16));
        let doc = Document::parse_str("$outcome x fax A\n", "X.SMR").unwrap();
        assert!(t
            .apply_overrides(&doc)
            .unwrap_err()
            .reason
            .contains("not an outcome code"));
        let doc = Document::parse_str("$retry_max 3\n", "X.SMR").unwrap();
        assert!(t.apply_overrides(&doc).is_err());
    }
}
