//! Bytes on the DTE link in command and online-data state: command-line assembly (`AT`,
//! `A/`, backspace, S3/S4/S5), echo, the `+++` escape with its S12 guard time, and the
//! framing of information text and result codes (verbose `CR LF text CR LF`, numeric
//! `code CR`, quiet).

use super::{Modem, TimerKind};
use std::time::{Duration, Instant};

/// Result codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Res {
    Ok,
    Connect(Option<u32>),
    Ring,
    NoCarrier,
    Error,
    NoDialtone,
    Busy,
    NoAnswer,
    Vcon,
    /// Class 1: wrong carrier (numeric form `+F4`).
    FcError,
    Text(String),
}

impl Res {
    pub(super) fn text(&self) -> String {
        match self {
            Res::Ok => "OK".into(),
            Res::Connect(None) => "CONNECT".into(),
            Res::Connect(Some(s)) => format!("CONNECT {s}"),
            Res::Ring => "RING".into(),
            Res::NoCarrier => "NO CARRIER".into(),
            Res::Error => "ERROR".into(),
            Res::NoDialtone => "NO DIALTONE".into(),
            Res::Busy => "BUSY".into(),
            Res::NoAnswer => "NO ANSWER".into(),
            Res::Vcon => "VCON".into(),
            Res::FcError => "+FCERROR".into(),
            Res::Text(t) => t.clone(),
        }
    }
    fn code(&self) -> u32 {
        match self {
            Res::Ok => 0,
            Res::Connect(_) | Res::Vcon => 1,
            Res::Ring => 2,
            Res::NoCarrier => 3,
            Res::Error => 4,
            Res::NoDialtone => 6,
            Res::Busy => 7,
            Res::NoAnswer => 8,
            Res::Text(_) | Res::FcError => 3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum LineState {
    Idle,
    GotA,
    InLine,
}

impl Modem {
    /// Information text line.
    pub(crate) fn info(&mut self, text: &str) {
        if self.verbose {
            self.out.extend_from_slice(b"\r\n");
        }
        self.out.extend_from_slice(text.as_bytes());
        self.out.extend_from_slice(b"\r\n");
    }

    /// Final or unsolicited result code.
    pub(crate) fn result(&mut self, r: Res) {
        if self.quiet {
            return;
        }
        if self.verbose {
            self.out.extend_from_slice(b"\r\n");
            self.out.extend_from_slice(r.text().as_bytes());
            self.out.extend_from_slice(b"\r\n");
        } else if r == Res::FcError {
            self.out.extend_from_slice(b"+F4\r");
        } else {
            self.out
                .extend_from_slice(format!("{}\r", r.code()).as_bytes());
        }
    }

    pub(super) fn command_byte(&mut self, now: Instant, b: u8) {
        if self.echo {
            self.out.push(b);
        }
        let up = b.to_ascii_uppercase();
        match self.line_state {
            LineState::Idle => {
                if up == b'A' {
                    self.line_state = LineState::GotA;
                }
            }
            LineState::GotA => match up {
                b'T' => {
                    self.line_state = LineState::InLine;
                    self.line.clear();
                }
                b'/' => {
                    self.line_state = LineState::Idle;
                    let l = self.last_line.clone();
                    self.execute(now, &l);
                }
                b'A' => {}
                _ => self.line_state = LineState::Idle,
            },
            LineState::InLine => {
                if b == self.s[3] {
                    self.line_state = LineState::Idle;
                    let l = std::mem::take(&mut self.line);
                    self.last_line = l.clone();
                    self.execute(now, &l);
                } else if b == self.s[5] || b == 0x7f {
                    self.line.pop();
                } else if b == self.s[4] || b < 0x20 {
                    // LF and other controls are ignored inside a command line.
                } else if self.line.len() < 255 {
                    self.line.push(b);
                }
            }
        }
    }

    pub(super) fn online_byte(&mut self, now: Instant, b: u8) {
        let guard = self.scale(Duration::from_millis(self.s[12] as u64 * 20));
        let quiet_before = self
            .last_rx
            .is_none_or(|t| now.saturating_duration_since(t) >= guard);
        if b == self.s[2] && (self.plus_count > 0 || quiet_before) {
            self.plus_count += 1;
            if self.plus_count == 3 {
                self.escape_gen += 1;
                let g = self.escape_gen;
                self.at(now + guard, TimerKind::Escape(g));
            } else if self.plus_count > 3 {
                self.plus_count = 0;
                self.escape_gen += 1;
            }
        } else {
            self.plus_count = 0;
            self.escape_gen += 1;
        }
    }
}
