//! The sans-IO AT command session: commands out, response lines and result codes in.
//!
//! Owns V.250 framing: a command is `AT…` + CR; responses are lines ended by CR and/or LF;
//! verbose (`OK`, `BUSY`…) and numeric (`0`–`8`) final result codes; echo of the command is
//! dropped; lines that arrive with no command pending (`RING`) are unsolicited. After a `CONNECT`
//! for a command that asked for it, the session turns raw and hands bytes through until the
//! caller takes it back to line mode. Timeouts are inputs (`handle_timeout`). It never touches a
//! port and never panics on any byte sequence.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The longest response line kept; longer lines are cut (a babbling modem cannot eat memory).
pub const MAX_LINE: usize = 1024;

/// A final result code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    /// `OK` / `0`.
    Ok,
    /// `CONNECT` / `1`, with any text after it (`CONNECT 14400`).
    Connect(String),
    /// `NO CARRIER` / `3`.
    NoCarrier,
    /// `ERROR` / `4`.
    Error,
    /// `NO DIALTONE` / `NO DIAL TONE` / `6`.
    NoDialtone,
    /// `BUSY` / `7`.
    Busy,
    /// `NO ANSWER` / `8`.
    NoAnswer,
    /// `VCON`: a voice connection.
    Vcon,
    /// `+FCERROR`: wrong carrier (Class 1).
    FcError,
}

impl Final {
    fn parse(line: &str, numeric: bool) -> Option<Final> {
        let upper = line.trim().to_ascii_uppercase();
        Some(match upper.as_str() {
            "OK" => Final::Ok,
            "NO CARRIER" => Final::NoCarrier,
            "ERROR" => Final::Error,
            "NO DIALTONE" | "NO DIAL TONE" => Final::NoDialtone,
            "BUSY" => Final::Busy,
            "NO ANSWER" => Final::NoAnswer,
            "VCON" => Final::Vcon,
            "+FCERROR" => Final::FcError,
            "0" if numeric => Final::Ok,
            "1" if numeric => Final::Connect(String::new()),
            "3" if numeric => Final::NoCarrier,
            "4" if numeric => Final::Error,
            "6" if numeric => Final::NoDialtone,
            "7" if numeric => Final::Busy,
            "8" if numeric => Final::NoAnswer,
            _ => {
                let rest = upper.strip_prefix("CONNECT")?;
                if !rest.is_empty() && !rest.starts_with(' ') {
                    return None;
                }
                Final::Connect(rest.trim().to_string())
            }
        })
    }
}

/// What the session reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A response line to the pending command that is not a final result (`+FCO`, `+FHS:25`).
    Info(String),
    /// The pending command's final result.
    Final(Final),
    /// A line with no command pending (`RING`, caller ID, stray text).
    Unsolicited(String),
    /// The pending command got no final result in time (its text).
    Timeout(String),
    /// Bytes received in raw mode.
    Data(Vec<u8>),
    /// A DLE-shielded event in command mode (voice: `DLE 5` a DTMF digit, `DLE b` busy…).
    Shielded(u8),
}

#[derive(Debug, Clone)]
struct Pending {
    text: String,
    deadline: Instant,
    raw_after_connect: bool,
}

/// One modem's command session.
#[derive(Debug, Clone)]
pub struct AtSession {
    line: Vec<u8>,
    tx: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    pending: Option<Pending>,
    raw: bool,
    swallow_lf: bool,
    after_dle: bool,
    numeric: bool,
}

impl Default for AtSession {
    fn default() -> Self {
        AtSession::new()
    }
}

impl AtSession {
    /// A session that accepts numeric result codes until told the modem is verbose.
    pub fn new() -> AtSession {
        AtSession {
            line: Vec::new(),
            tx: VecDeque::new(),
            events: VecDeque::new(),
            pending: None,
            raw: false,
            swallow_lf: false,
            after_dle: false,
            numeric: true,
        }
    }

    /// After `ATV1` succeeded: lines that are a lone digit are information, not result codes.
    pub fn set_verbose(&mut self, verbose: bool) {
        self.numeric = !verbose;
    }

    /// Sends `AT<cmd>` CR. `cmd` must come from the driver's own vocabulary or be validated
    /// (a dial string): it must not contain CR or LF, or it is refused.
    pub fn command(&mut self, now: Instant, cmd: &str, timeout: Duration) -> bool {
        self.start(now, cmd, timeout, false)
    }

    /// As [`AtSession::command`], and turns raw when the modem answers `CONNECT`.
    pub fn command_then_raw(&mut self, now: Instant, cmd: &str, timeout: Duration) -> bool {
        self.start(now, cmd, timeout, true)
    }

    fn start(
        &mut self,
        now: Instant,
        cmd: &str,
        timeout: Duration,
        raw_after_connect: bool,
    ) -> bool {
        if cmd.bytes().any(|b| b == b'\r' || b == b'\n' || b < 0x20) {
            return false;
        }
        let text = format!("AT{cmd}");
        let mut bytes = text.clone().into_bytes();
        bytes.push(b'\r');
        self.tx.push_back(bytes);
        self.raw = false;
        self.pending = Some(Pending {
            text,
            deadline: now + timeout,
            raw_after_connect,
        });
        true
    }

    /// Queues raw bytes (already DLE-escaped where needed) for the port.
    pub fn send_raw(&mut self, bytes: Vec<u8>) {
        self.tx.push_back(bytes);
    }

    /// Waits for a final result without sending anything (after page data, say).
    pub fn expect_final(&mut self, now: Instant, what: &str, timeout: Duration) {
        self.pending = Some(Pending {
            text: what.to_string(),
            deadline: now + timeout,
            raw_after_connect: false,
        });
    }

    /// Leaves raw mode: bytes are lines again.
    pub fn end_raw(&mut self) {
        self.raw = false;
        self.line.clear();
    }

    /// Whether the session is handing bytes through raw.
    pub fn is_raw(&self) -> bool {
        self.raw
    }

    /// Whether a command is waiting for its final result.
    pub fn is_busy(&self) -> bool {
        self.pending.is_some()
    }

    /// Bytes from the port.
    pub fn feed(&mut self, _now: Instant, bytes: &[u8]) {
        let mut i = 0;
        while i < bytes.len() {
            if self.raw {
                if self.swallow_lf {
                    self.swallow_lf = false;
                    if bytes[i] == b'\n' {
                        i += 1;
                        continue;
                    }
                }
                self.events.push_back(Event::Data(bytes[i..].to_vec()));
                return;
            }
            let b = bytes[i];
            i += 1;
            if self.after_dle {
                self.after_dle = false;
                if b != super::dle::DLE {
                    self.events.push_back(Event::Shielded(b));
                }
                continue;
            }
            if b == super::dle::DLE {
                self.after_dle = true;
                continue;
            }
            if b == b'\r' || b == b'\n' {
                self.finish_line();
                // "CONNECT\r\n": the LF belongs to the line, not to the data that follows.
                self.swallow_lf = self.raw && b == b'\r';
            } else if self.line.len() < MAX_LINE {
                self.line.push(b);
            }
        }
    }

    fn finish_line(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&std::mem::take(&mut self.line))
            .trim()
            .to_string();
        if text.is_empty() {
            return;
        }
        let Some(p) = &self.pending else {
            self.events.push_back(Event::Unsolicited(text));
            return;
        };
        if text.eq_ignore_ascii_case(&p.text) {
            return; // echo of our command
        }
        match Final::parse(&text, self.numeric) {
            Some(f) => {
                let p = self.pending.take().expect("pending");
                if p.raw_after_connect && matches!(f, Final::Connect(_)) {
                    self.raw = true;
                }
                self.events.push_back(Event::Final(f));
            }
            None if text.eq_ignore_ascii_case("RING") => {
                self.events.push_back(Event::Unsolicited(text))
            }
            None => self.events.push_back(Event::Info(text)),
        }
    }

    /// The next bytes to write to the port.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.tx.pop_front()
    }

    /// The next event for the caller.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When the session next needs the clock.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.pending.as_ref().map(|p| p.deadline)
    }

    /// The clock reached `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.pending.as_ref().is_some_and(|p| now >= p.deadline) {
            let p = self.pending.take().expect("pending");
            self.line.clear();
            self.events.push_back(Event::Timeout(p.text));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(s: &mut AtSession) -> Vec<Event> {
        std::iter::from_fn(|| s.poll_event()).collect()
    }

    #[test]
    fn command_echo_info_and_final() {
        let t = Instant::now();
        let mut s = AtSession::new();
        assert!(s.command(t, "+FCLASS=?", Duration::from_secs(3)));
        assert_eq!(s.poll_transmit().unwrap(), b"AT+FCLASS=?\r");
        s.feed(t, b"AT+FCLASS=?\r\r\n0,1,2,2.0,8\r\n\r\nOK\r\n");
        assert_eq!(
            drain(&mut s),
            [Event::Info("0,1,2,2.0,8".into()), Event::Final(Final::Ok)]
        );
        assert!(!s.is_busy());
    }

    #[test]
    fn numeric_codes_until_verbose() {
        let t = Instant::now();
        let mut s = AtSession::new();
        s.command(t, "Z", Duration::from_secs(3));
        s.feed(t, b"0\r");
        assert_eq!(drain(&mut s), [Event::Final(Final::Ok)]);
        s.set_verbose(true);
        s.command(t, "I3", Duration::from_secs(3));
        s.feed(t, b"\r\n1\r\n\r\nOK\r\n");
        assert_eq!(
            drain(&mut s),
            [Event::Info("1".into()), Event::Final(Final::Ok)]
        );
    }

    #[test]
    fn every_dial_result() {
        let t = Instant::now();
        for (text, want) in [
            ("BUSY", Final::Busy),
            ("NO ANSWER", Final::NoAnswer),
            ("NO CARRIER", Final::NoCarrier),
            ("NO DIALTONE", Final::NoDialtone),
            ("NO DIAL TONE", Final::NoDialtone),
            ("ERROR", Final::Error),
            ("VCON", Final::Vcon),
            ("CONNECT 14400", Final::Connect("14400".into())),
            ("7", Final::Busy),
        ] {
            let mut s = AtSession::new();
            s.command(t, "DT5550100", Duration::from_secs(60));
            s.feed(t, format!("\r\n{text}\r\n").as_bytes());
            assert_eq!(drain(&mut s), [Event::Final(want)], "{text}");
        }
    }

    #[test]
    fn ring_is_unsolicited_and_connected_is_not_connect() {
        let t = Instant::now();
        let mut s = AtSession::new();
        s.set_verbose(true);
        s.feed(t, b"\r\nRING\r\n");
        s.command(t, "DT1", Duration::from_secs(60));
        s.feed(t, b"RING\r\nCONNECTED\r\n+FCO\r\nOK\r\n");
        assert_eq!(
            drain(&mut s),
            [
                Event::Unsolicited("RING".into()),
                Event::Unsolicited("RING".into()),
                Event::Info("CONNECTED".into()),
                Event::Info("+FCO".into()),
                Event::Final(Final::Ok)
            ]
        );
    }

    #[test]
    fn raw_after_connect_hands_bytes_through_in_the_same_chunk() {
        let t = Instant::now();
        let mut s = AtSession::new();
        s.command_then_raw(t, "+FDT", Duration::from_secs(60));
        s.feed(t, b"+FCS:1,5,0,2,0,0,0,0\r\nCONNECT\r\n\x11");
        assert_eq!(
            drain(&mut s),
            [
                Event::Info("+FCS:1,5,0,2,0,0,0,0".into()),
                Event::Final(Final::Connect(String::new())),
                Event::Data(vec![0x11])
            ]
        );
        assert!(s.is_raw());
        s.end_raw();
        s.expect_final(t, "page", Duration::from_secs(30));
        s.feed(t, b"\r\nOK\r\n");
        assert_eq!(drain(&mut s), [Event::Final(Final::Ok)]);
    }

    #[test]
    fn timeouts_and_injection_refusal() {
        let t = Instant::now();
        let mut s = AtSession::new();
        assert!(!s.command(t, "DT1\rATZ", Duration::from_secs(1)));
        assert!(s.poll_transmit().is_none());
        s.command(t, "Z", Duration::from_secs(2));
        assert_eq!(s.poll_timeout(), Some(t + Duration::from_secs(2)));
        s.handle_timeout(t + Duration::from_secs(1));
        assert!(drain(&mut s).is_empty());
        s.handle_timeout(t + Duration::from_secs(2));
        assert_eq!(drain(&mut s), [Event::Timeout("ATZ".into())]);
        assert_eq!(s.poll_timeout(), None);
    }

    #[test]
    fn shielded_events_in_command_mode_do_not_disturb_lines() {
        let t = Instant::now();
        let mut s = AtSession::new();
        s.set_verbose(true);
        s.command(t, "DT1", Duration::from_secs(60));
        s.feed(t, b"\r\nVC\x10vON\r\n\x10");
        s.feed(t, b"5");
        assert_eq!(
            drain(&mut s),
            [
                Event::Shielded(b'v'),
                Event::Final(Final::Vcon),
                Event::Shielded(b'5')
            ]
        );
    }

    #[test]
    fn long_lines_are_cut_not_stored() {
        let t = Instant::now();
        let mut s = AtSession::new();
        s.command(t, "I", Duration::from_secs(2));
        s.feed(t, &vec![b'x'; 100_000]);
        s.feed(t, b"\r\n");
        let ev = drain(&mut s);
        assert!(matches!(&ev[0], Event::Info(l) if l.len() == MAX_LINE));
    }
}
