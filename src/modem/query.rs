//! One AT command and its answer, as a [`Machine`]: the health probe (`ATZ`) and the fax class
//! query (`AT+FCLASS=?`) are both this.
//!
//! Owns nothing but collecting the information lines and the final result of one command.

use super::at::{AtSession, Event, Final};
use super::Machine;
use std::time::{Duration, Instant};

/// A single command in flight.
#[derive(Debug)]
pub struct Query {
    at: AtSession,
    lines: Vec<String>,
    done: Option<bool>,
}

impl Query {
    /// Sends `AT<cmd>` at `now`.
    pub fn new(now: Instant, cmd: &str, timeout: Duration) -> Query {
        let mut at = AtSession::new();
        let sent = at.command(now, cmd, timeout);
        Query {
            at,
            lines: Vec::new(),
            done: (!sent).then_some(false),
        }
    }

    /// The information lines, when the modem answered OK.
    pub fn answer(&self) -> Option<&[String]> {
        (self.done == Some(true)).then_some(self.lines.as_slice())
    }

    fn drain(&mut self) {
        while let Some(e) = self.at.poll_event() {
            match e {
                Event::Info(l) => self.lines.push(l),
                Event::Final(f) => self.done = Some(f == Final::Ok),
                Event::Timeout(_) => self.done = Some(false),
                _ => {}
            }
        }
    }
}

impl Machine for Query {
    fn feed(&mut self, now: Instant, bytes: &[u8]) {
        self.at.feed(now, bytes);
        self.drain();
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.at.poll_transmit()
    }
    fn poll_timeout(&self) -> Option<Instant> {
        self.at.poll_timeout()
    }
    fn handle_timeout(&mut self, now: Instant) {
        self.at.handle_timeout(now);
        self.drain();
    }
    fn is_done(&self) -> bool {
        self.done.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answer_only_after_ok() {
        let t = Instant::now();
        let mut q = Query::new(t, "+FCLASS=?", Duration::from_secs(1));
        assert_eq!(q.poll_transmit().unwrap(), b"AT+FCLASS=?\r");
        q.feed(t, b"\r\n0,1,1.0\r\n");
        assert!(!q.is_done() && q.answer().is_none());
        q.feed(t, b"\r\nOK\r\n");
        assert_eq!(q.answer().unwrap(), ["0,1,1.0"]);
        let mut q = Query::new(t, "Z", Duration::from_secs(1));
        q.handle_timeout(t + Duration::from_secs(1));
        assert!(q.is_done() && q.answer().is_none());
    }
}
