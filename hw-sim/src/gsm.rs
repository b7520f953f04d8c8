//! The GSM modem: a sans-IO machine for one `[[gsm]]` port, seen from the DCE side of
//! V.250 and 3GPP TS 27.005/27.007 (SIM PIN, network registration, SMS in PDU and text mode,
//! status reports).
//!
//! Owns the command line (echo, `AT` prefix, several commands per line), the SIM (PIN and PUK
//! counters that survive the DTE closing and reopening the port), registration, the `> ` PDU
//! prompt (Ctrl-Z sends, ESC cancels), message references, the scenario's answer per
//! destination (`+CMS ERROR` or taken) and the delivery reports it sends as `+CDS` after the
//! scenario's delay. PDUs are read with redial's `sms::pdu` codec (included by path: pure code
//! written from TS 23.040/23.038). Bytes in through [`GsmModem::feed`], out through
//! [`GsmModem::poll_transmit`]; log records (one JSON object each) through
//! [`GsmModem::poll_log`]. It never touches a file descriptor or sleeps.

#[path = "../../src/sms/pdu.rs"]
#[allow(dead_code)]
pub mod pdu;

use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// `[[gsm]]`: which port is a GSM modem, and its SIM and network.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GsmEntry {
    /// Modem index (`ttySIM<index>`).
    pub index: usize,
    /// The SIM's PIN; absent: the SIM asks for none.
    #[serde(default)]
    pub pin: Option<String>,
    /// The SIM's PUK.
    #[serde(default = "default_puk")]
    pub puk: String,
    /// `+CREG` stat: 0 not registered, 1 home, 2 searching, 3 denied, 5 roaming.
    #[serde(default = "one")]
    pub registration: u8,
    /// Line seconds from `+CMGS` to the `+CDS` report.
    #[serde(default = "default_delay")]
    pub report_delay: f64,
    /// What happens to messages per destination.
    #[serde(default)]
    pub sms: Vec<SmsRule>,
}

/// `[[gsm.sms]]`: the network's answer for a destination.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsRule {
    /// Exact destination (as in the PDU, `+` and digits or digits).
    #[serde(default)]
    pub number: Option<String>,
    /// Any destination starting with this.
    #[serde(default)]
    pub prefix: Option<String>,
    /// `+CMS ERROR` codes for successive messages to it; once used up, messages are taken.
    #[serde(default)]
    pub errors: Vec<u16>,
    /// The report's TP-ST (0 delivered; 0x40-0x5F permanent; 0x60-0x7F temporary).
    #[serde(default)]
    pub status: u8,
    /// This destination's report delay (line seconds), over the modem's.
    #[serde(default)]
    pub report_delay: Option<f64>,
}

fn default_puk() -> String {
    "12345678".into()
}
fn one() -> u8 {
    1
}
fn default_delay() -> f64 {
    5.0
}

const CTRL_Z: u8 = 0x1A;
const ESC: u8 = 0x1B;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sim {
    Ready,
    Pin(u8),
    Puk(u8),
    Blocked,
}

impl Sim {
    fn word(self) -> &'static str {
        match self {
            Sim::Ready => "READY",
            Sim::Pin(_) => "SIM PIN",
            Sim::Puk(_) => "SIM PUK",
            Sim::Blocked => "SIM PUK",
        }
    }
}

enum Input {
    Command,
    /// After `AT+CMGS`: collecting the PDU (length given) or the text (destination given).
    Message {
        length: Option<usize>,
        to: String,
    },
}

/// One simulated GSM modem.
pub struct GsmModem {
    cfg: GsmEntry,
    index: usize,
    scale: f64,
    echo: bool,
    cmee: u8,
    text_mode: bool,
    csca: String,
    cnmi_ds: u8,
    creg_n: u8,
    csmp: String,
    sim: Sim,
    pin: Option<String>,
    next_mr: u8,
    line: Vec<u8>,
    input: Input,
    sent: HashMap<usize, usize>,
    reports: Vec<(Instant, String, usize)>,
    held: Vec<(String, usize)>,
    out: Vec<u8>,
    log: Vec<serde_json::Value>,
}

impl GsmModem {
    /// A modem for its `[[gsm]]` entry; `scale` turns line seconds into real ones.
    pub fn new(cfg: GsmEntry, scale: f64) -> GsmModem {
        let sim = if cfg.pin.is_some() {
            Sim::Pin(3)
        } else {
            Sim::Ready
        };
        GsmModem {
            index: cfg.index,
            pin: cfg.pin.clone(),
            cfg,
            scale,
            echo: true,
            cmee: 0,
            text_mode: false,
            csca: "+447785016005".into(),
            cnmi_ds: 0,
            creg_n: 0,
            csmp: "17,167,0,0".into(),
            sim,
            next_mr: 0,
            line: Vec::new(),
            input: Input::Command,
            sent: HashMap::new(),
            reports: Vec::new(),
            held: Vec::new(),
            out: Vec::new(),
            log: Vec::new(),
        }
    }

    /// Bytes the DTE wrote, at `now`.
    pub fn feed(&mut self, now: Instant, bytes: &[u8]) {
        for &b in bytes {
            self.byte(now, b);
        }
    }

    /// Bytes for the DTE.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        (!self.out.is_empty()).then(|| std::mem::take(&mut self.out))
    }

    /// The next log record (for `sms.jsonl`).
    pub fn poll_log(&mut self) -> Option<serde_json::Value> {
        (!self.log.is_empty()).then(|| self.log.remove(0))
    }

    /// When [`GsmModem::handle_timeout`] is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.reports.iter().map(|r| r.0).min()
    }

    /// The clock reached `now`: reports that are due go out (or wait for `+CNMI` ds=1).
    pub fn handle_timeout(&mut self, now: Instant) {
        let (due, later): (Vec<_>, Vec<_>) = self.reports.drain(..).partition(|r| r.0 <= now);
        self.reports = later;
        for (_, pdu, len) in due {
            if self.cnmi_ds == 1 {
                self.cds(&pdu, len);
            } else {
                self.held.push((pdu, len));
            }
        }
    }

    fn cds(&mut self, pdu: &str, len: usize) {
        self.out
            .extend(format!("\r\n+CDS: {len}\r\n{pdu}\r\n").as_bytes());
    }

    fn byte(&mut self, now: Instant, b: u8) {
        if let Input::Message { .. } = self.input {
            return self.message_byte(now, b);
        }
        match b {
            b'\r' => {
                if self.echo {
                    self.out.push(b'\r');
                }
                let line = std::mem::take(&mut self.line);
                self.command_line(now, &String::from_utf8_lossy(&line));
            }
            b'\n' => {}
            8 | 0x7f => {
                self.line.pop();
                if self.echo {
                    self.out.push(b);
                }
            }
            _ => {
                if self.line.len() < 1024 {
                    self.line.push(b);
                }
                if self.echo {
                    self.out.push(b);
                }
            }
        }
    }

    fn message_byte(&mut self, now: Instant, b: u8) {
        match b {
            CTRL_Z => {
                let body = String::from_utf8_lossy(&std::mem::take(&mut self.line)).to_string();
                let Input::Message { length, to } =
                    std::mem::replace(&mut self.input, Input::Command)
                else {
                    return;
                };
                if self.echo {
                    self.out.extend(b"\r\n");
                }
                self.submit(now, length, to, body);
            }
            ESC => {
                self.line.clear();
                self.input = Input::Command;
                self.log
                    .push(json!({"kind": "cancelled", "modem": self.index}));
                self.ok();
            }
            b'\r' | b'\n'
                if matches!(
                    self.input,
                    Input::Message {
                        length: Some(_),
                        ..
                    }
                ) => {}
            _ => {
                if self.line.len() < 4096 {
                    self.line.push(b);
                }
                if self.echo {
                    self.out.push(b);
                }
            }
        }
    }

    fn ok(&mut self) {
        self.out.extend(b"\r\nOK\r\n");
    }

    fn error(&mut self) {
        self.out.extend(b"\r\nERROR\r\n");
    }

    fn cme(&mut self, n: u16) {
        match self.cmee {
            0 => self.error(),
            _ => self
                .out
                .extend(format!("\r\n+CME ERROR: {n}\r\n").as_bytes()),
        }
    }

    fn cms(&mut self, n: u16) {
        match self.cmee {
            0 => self.error(),
            _ => self
                .out
                .extend(format!("\r\n+CMS ERROR: {n}\r\n").as_bytes()),
        }
    }

    fn info(&mut self, text: &str) {
        self.out.extend(format!("\r\n{text}\r\n").as_bytes());
    }

    /// One command line: `AT` then commands (basic ones run together, extended ones split by
    /// `;`). The first failing command ends the line with its error.
    fn command_line(&mut self, now: Instant, line: &str) {
        let line = line.trim();
        if line.len() < 2 || !line[..2].eq_ignore_ascii_case("AT") {
            if !line.is_empty() {
                self.error();
            }
            return;
        }
        let mut rest = &line[2..];
        let mut answered = false;
        while !rest.is_empty() {
            let first = rest.as_bytes()[0];
            let (cmd, next) = if matches!(first, b'+' | b'^' | b'$' | b'*' | b'#') {
                match rest.find(';') {
                    Some(i) => (&rest[..i], &rest[i + 1..]),
                    None => (rest, ""),
                }
            } else {
                let mut end = 1;
                if first == b'&' && rest.len() > 1 {
                    end = 2;
                }
                while end < rest.len() && rest.as_bytes()[end].is_ascii_digit() {
                    end += 1;
                }
                (&rest[..end], &rest[end..])
            };
            rest = next;
            match self.command(now, cmd) {
                Done::Continue => {}
                Done::Answered => {
                    answered = true;
                    break;
                }
            }
        }
        if !answered {
            self.ok();
        }
    }

    fn command(&mut self, now: Instant, cmd: &str) -> Done {
        let upper = cmd.to_ascii_uppercase();
        let (name, arg) = match upper.find(['=', '?']) {
            Some(i) => (&upper[..i], &cmd[i..]),
            None => (upper.as_str(), ""),
        };
        let value = arg.strip_prefix('=').unwrap_or("");
        let unquoted = value.trim_matches('"');
        match (name, arg) {
            ("E0", _) => self.echo = false,
            ("E" | "E1", _) => self.echo = true,
            ("Z" | "Z0" | "&F" | "&F0", _) => {
                self.echo = true;
                self.cmee = 0;
                self.text_mode = false;
                self.cnmi_ds = 0;
            }
            (n, _) if n.starts_with('V') || n.starts_with('Q') || n.starts_with('X') => {}
            (n, _) if n.starts_with('&') || n.starts_with('S') => {}
            ("I" | "I0", _) => self.info("hw-sim GSM modem"),
            (n, _) if n.starts_with('I') => self.info("hw-sim"),
            ("+CGMI" | "+GMI", "") => self.info("hw-sim"),
            ("+CGMM" | "+GMM", "") => self.info("GSM-SIM 1"),
            ("+CGMR" | "+GMR", "") => self.info("1.0"),
            ("+CGSN" | "+GSN", "") => self.info("353456789012348"),
            ("+CIMI", "") => {
                if self.sim != Sim::Ready {
                    self.cme(11);
                    return Done::Answered;
                }
                self.info("234150123456789");
            }
            ("+CSQ", "") => self.info("+CSQ: 20,99"),
            ("+CFUN", "?") => self.info("+CFUN: 1"),
            ("+CFUN", "=?") => self.info("+CFUN: (0,1,4)"),
            ("+CFUN", _) => {}
            ("+CPIN", "?") => {
                let w = self.sim.word();
                if self.sim == Sim::Blocked {
                    self.cme(262);
                    return Done::Answered;
                }
                self.info(&format!("+CPIN: {w}"));
            }
            ("+CPIN", _) if value.is_empty() => self.info(""),
            ("+CPIN", _) => return self.enter_pin(value),
            ("+CREG", "?") => {
                let s = format!("+CREG: {},{}", self.creg_n, self.registration());
                self.info(&s);
            }
            ("+CREG", "=?") => self.info("+CREG: (0-2)"),
            ("+CREG", _) => self.creg_n = value.parse().unwrap_or(0),
            ("+CMEE", "?") => {
                let s = format!("+CMEE: {}", self.cmee);
                self.info(&s);
            }
            ("+CMEE", "=?") => self.info("+CMEE: (0-2)"),
            ("+CMEE", _) => match value.parse::<u8>() {
                Ok(n @ 0..=2) => self.cmee = n,
                _ => {
                    self.cme(50);
                    return Done::Answered;
                }
            },
            ("+CMGF", "?") => {
                let s = format!("+CMGF: {}", self.text_mode as u8);
                self.info(&s);
            }
            ("+CMGF", "=?") => self.info("+CMGF: (0,1)"),
            ("+CMGF", _) => match value {
                "0" => self.text_mode = false,
                "1" => self.text_mode = true,
                _ => {
                    self.cms(302);
                    return Done::Answered;
                }
            },
            ("+CSCA", "?") => {
                let s = format!("+CSCA: \"{}\",145", self.csca);
                self.info(&s);
            }
            ("+CSCA", "=?") => {}
            ("+CSCA", _) => {
                let n = value.split(',').next().unwrap_or("").trim_matches('"');
                if pdu::check_number(n).is_err() {
                    self.cms(304);
                    return Done::Answered;
                }
                self.csca = n.to_string();
            }
            ("+CNMI", "?") => {
                let s = format!("+CNMI: 2,1,0,{},0", self.cnmi_ds);
                self.info(&s);
            }
            ("+CNMI", "=?") => self.info("+CNMI: (0-2),(0-3),(0,2),(0-2),(0,1)"),
            ("+CNMI", _) => {
                self.cnmi_ds = value
                    .split(',')
                    .nth(3)
                    .and_then(|d| d.trim().parse().ok())
                    .unwrap_or(0);
                if self.cnmi_ds == 1 {
                    // <bfr> 0: reports held while they were off follow the OK at once.
                    for (pdu, len) in std::mem::take(&mut self.held) {
                        self.reports.push((now, pdu, len));
                    }
                }
            }
            ("+CSMP", "?") => {
                let s = format!("+CSMP: {}", self.csmp);
                self.info(&s);
            }
            ("+CSMP", "=?") => {}
            ("+CSMP", _) => self.csmp = value.to_string(),
            ("+CSCS", "?") => self.info("+CSCS: \"GSM\""),
            ("+CSCS", "=?") => self.info("+CSCS: (\"GSM\",\"UCS2\",\"IRA\")"),
            ("+CSCS", _) => {}
            ("+CPMS", "?") => self.info("+CPMS: \"SM\",0,20,\"SM\",0,20,\"SM\",0,20"),
            ("+CPMS", "=?") => self.info("+CPMS: (\"SM\"),(\"SM\"),(\"SM\")"),
            ("+CPMS", _) => self.info("+CPMS: 0,20,0,20,0,20"),
            ("+CMGS", "=?") => {}
            ("+CMGS", _) => {
                if self.sim != Sim::Ready {
                    self.cms(if self.sim.word() == "SIM PIN" {
                        311
                    } else {
                        316
                    });
                    return Done::Answered;
                }
                if !matches!(self.registration(), 1 | 5) {
                    self.cms(331);
                    return Done::Answered;
                }
                let input = if self.text_mode {
                    let to = unquoted.split('"').next().unwrap_or("").to_string();
                    Input::Message { length: None, to }
                } else {
                    match value.parse::<usize>() {
                        Ok(n) if (7..=176).contains(&n) => Input::Message {
                            length: Some(n),
                            to: String::new(),
                        },
                        _ => {
                            self.cms(304);
                            return Done::Answered;
                        }
                    }
                };
                self.line.clear();
                self.input = input;
                self.out.extend(b"\r\n> ");
                return Done::Answered;
            }
            ("+CSMS", "?") => self.info("+CSMS: 0,1,1,1"),
            ("+CSMS", _) => self.info("+CSMS: 1,1,1"),
            ("+CMGL" | "+CMGR" | "+CMGD" | "+CNMA", _) => {}
            ("", "") => {}
            _ => {
                self.error();
                return Done::Answered;
            }
        }
        Done::Continue
    }

    fn registration(&self) -> u8 {
        if self.sim == Sim::Ready {
            self.cfg.registration
        } else {
            0
        }
    }

    fn enter_pin(&mut self, value: &str) -> Done {
        let args: Vec<&str> = value
            .split(',')
            .map(|a| a.trim().trim_matches('"'))
            .collect();
        let before = self.sim;
        let ok = match (self.sim, args.as_slice()) {
            (Sim::Pin(n), [pin]) => {
                if Some(*pin) == self.pin.as_deref() {
                    self.sim = Sim::Ready;
                    true
                } else {
                    self.sim = if n > 1 { Sim::Pin(n - 1) } else { Sim::Puk(10) };
                    false
                }
            }
            (Sim::Puk(n), [puk, new_pin]) => {
                if *puk == self.cfg.puk {
                    self.pin = Some(new_pin.to_string());
                    self.sim = Sim::Ready;
                    true
                } else {
                    self.sim = if n > 1 { Sim::Puk(n - 1) } else { Sim::Blocked };
                    false
                }
            }
            _ => {
                self.cme(3);
                return Done::Answered;
            }
        };
        let left = match self.sim {
            Sim::Pin(n) | Sim::Puk(n) => n,
            _ => 0,
        };
        self.log.push(json!({
            "kind": if matches!(before, Sim::Puk(_)) { "puk" } else { "pin" },
            "modem": self.index, "ok": ok, "sim": self.sim.word(),
            "pin_tries_left": if let Sim::Pin(n) = self.sim { n } else if ok { 3 } else { 0 },
            "tries_left": left,
        }));
        if ok {
            Done::Continue
        } else {
            self.cme(16);
            Done::Answered
        }
    }

    fn rule(&self, to: &str) -> Option<(usize, &SmsRule)> {
        self.cfg.sms.iter().enumerate().find(|(_, r)| {
            r.number.as_deref() == Some(to)
                || r.prefix.as_deref().is_some_and(|p| to.starts_with(p))
        })
    }

    fn submit(&mut self, now: Instant, length: Option<usize>, to: String, body: String) {
        let submit = match length {
            Some(len) => match pdu::Submit::decode(&body) {
                Ok(s) => {
                    let sca = pdu::from_hex(&body).map(|b| b[0] as usize).unwrap_or(0);
                    if body.trim().len() / 2 != len + 1 + sca {
                        self.log.push(json!({"kind": "bad_pdu", "modem": self.index,
                            "why": format!("length {len} does not match the PDU"), "pdu": body}));
                        return self.cms(304);
                    }
                    s
                }
                Err(e) => {
                    self.log.push(json!({"kind": "bad_pdu", "modem": self.index,
                        "why": e.to_string(), "pdu": body}));
                    return self.cms(304);
                }
            },
            None => pdu::Submit {
                mr: 0,
                destination: to,
                status_report: self.csmp.split(',').next() == Some("49"),
                coding: pdu::Coding::Gsm7,
                concat: None,
                text: body,
            },
        };
        let to = submit.destination.clone();
        let rule = self.rule(&to).map(|(i, r)| (i, r.clone()));
        if let Some((i, r)) = &rule {
            let n = self.sent.entry(*i).or_insert(0);
            *n += 1;
            if let Some(code) = r.errors.get(*n - 1) {
                let code = *code;
                self.log
                    .push(json!({"kind": "cms_error", "modem": self.index,
                    "to": to, "code": code, "text": submit.text}));
                return self.cms(code);
            }
        }
        let mr = self.next_mr;
        self.next_mr = self.next_mr.wrapping_add(1);
        let (status, delay) = match &rule {
            Some((_, r)) => (r.status, r.report_delay.unwrap_or(self.cfg.report_delay)),
            None => (0, self.cfg.report_delay),
        };
        self.log.push(json!({
            "kind": "sms", "modem": self.index, "to": to, "text": submit.text,
            "coding": match submit.coding { pdu::Coding::Gsm7 => "gsm7", pdu::Coding::Ucs2 => "ucs2" },
            "mr": mr, "status_report": submit.status_report,
            "ref": submit.concat.map(|c| c.reference), "part": submit.concat.map(|c| c.seq),
            "parts": submit.concat.map_or(1, |c| c.total),
        }));
        self.info(&format!("+CMGS: {mr}"));
        self.ok();
        if submit.status_report {
            let report = pdu::StatusReport {
                mr,
                recipient: to,
                scts: pdu::timestamp(26, 1, 1, 0, 0, 0),
                discharge: pdu::timestamp(26, 1, 1, 0, 0, 1),
                status,
            };
            if let Ok(e) = report.encode() {
                let at = now + Duration::from_secs_f64(delay.max(0.0) * self.scale);
                self.reports.push((at, e.hex, e.length));
            }
        }
    }
}

enum Done {
    Continue,
    Answered,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modem(toml_text: &str) -> GsmModem {
        let e: GsmEntry = toml::from_str(toml_text).unwrap();
        GsmModem::new(e, 0.0)
    }

    fn say(m: &mut GsmModem, t: Instant, s: &str) -> String {
        m.feed(t, s.as_bytes());
        m.handle_timeout(t);
        String::from_utf8(m.poll_transmit().unwrap_or_default()).unwrap()
    }

    #[test]
    fn a_wrong_pin_counts_down_to_puk_and_the_right_one_readies_the_sim() {
        let t = Instant::now();
        let mut m = modem("index = 0\npin = \"1234\"\n");
        assert!(say(&mut m, t, "ATE0+CMEE=1\r").ends_with("OK\r\n"));
        assert!(say(&mut m, t, "AT+CPIN?\r").contains("+CPIN: SIM PIN"));
        assert!(say(&mut m, t, "AT+CPIN=\"0000\"\r").contains("+CME ERROR: 16"));
        assert_eq!(m.poll_log().unwrap()["pin_tries_left"], 2);
        assert!(say(&mut m, t, "AT+CPIN=1234\r").contains("OK"));
        assert!(say(&mut m, t, "AT+CPIN?\r").contains("READY"));
        let mut m = modem("index = 0\npin = \"1234\"\n");
        for _ in 0..3 {
            say(&mut m, t, "AT+CPIN=9999\r");
        }
        assert!(say(&mut m, t, "AT+CPIN?\r").contains("SIM PUK"));
    }

    #[test]
    fn a_pdu_is_taken_and_its_report_follows_after_the_delay() {
        let t = Instant::now();
        let mut e: GsmEntry = toml::from_str(
            "index = 0\nreport_delay = 10\n[[sms]]\nnumber = \"+15550100\"\nerrors = [42]\nstatus = 0x41\n",
        )
        .unwrap();
        e.report_delay = 10.0;
        let mut m = GsmModem::new(e, 1.0);
        say(&mut m, t, "ATE0\r");
        say(&mut m, t, "AT+CMEE=1;+CNMI=2,1,0,1,0\r");
        let p = pdu::submit_parts("+15550100", "hi", true, 0).unwrap()[0]
            .encode()
            .unwrap();
        let cmgs = format!("AT+CMGS={}\r", p.length);
        assert!(say(&mut m, t, &cmgs).ends_with("> "));
        assert!(say(&mut m, t, &format!("{}\x1a", p.hex)).contains("+CMS ERROR: 42"));
        say(&mut m, t, &cmgs);
        let r = say(&mut m, t, &format!("{}\x1a", p.hex));
        assert!(r.contains("+CMGS: 0") && r.ends_with("OK\r\n"), "{r:?}");
        assert_eq!(say(&mut m, t + Duration::from_secs(9), ""), "");
        let r = say(&mut m, t + Duration::from_secs(10), "");
        let pdu_hex = r.lines().nth(2).unwrap();
        let rep = pdu::StatusReport::decode(pdu_hex).unwrap();
        assert_eq!((rep.mr, rep.status), (0, 0x41));
        say(&mut m, t, "AT+CMGS=10\r");
        assert!(say(&mut m, t, "00\x1b").contains("OK"), "ESC cancels");
    }
}
