//! Class 1 fax: T.30 run by the host over a T.31 modem.
//!
//! - [`frame`]: HDLC frames on the DTE link (FCF values in wire order, FCS, station IDs).
//! - [`caps`]: DIS parsing, DCS building, modulations and their fallback order.
//! - [`ecm`]: error correction mode (frames, blocks, PPS/PPR fields) and MMR page coding.
//! - [`send`]: [`Class1Send`], the sans-IO transmitter (phases B, C, D), producing the same
//!   [`crate::modem::fax_send::FaxEvent`]s and `FaxResult` as the Class 2.0 sender.
//!
//! Nothing here touches a port or a clock: bytes and instants come in, bytes and events go out.

pub mod caps;
pub mod ecm;
pub mod frame;
pub mod send;

pub use send::{br_bps, Class1Plan, Class1Send, T30Timers};

use super::fax_send::{FaxEvent, FaxSend};
use super::Machine;
use std::time::Instant;

/// Whether a modem line sends faxes in Class 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Class1Mode {
    /// No: the line's Class 2.0/2 setting applies.
    #[default]
    Never,
    /// `class=1`.
    Always,
    /// `class=auto`: ask `+FCLASS=?` before each call and prefer 2.0 > 2 > 1 (efax's rule).
    Auto,
}

/// The class a `+FCLASS=?` answer offers, by efax's rule: 2.0 if it says "2.0", else 2 if it
/// says "2", else 1 if it says "1". `None`: no fax class at all.
pub fn pick_class(answer: &str) -> Option<&'static str> {
    if answer.contains("2.0") {
        Some("2.0")
    } else if answer.split([',', ' ', '(', ')', '-']).any(|c| c == "2") {
        Some("2")
    } else if answer.contains('1') {
        Some("1")
    } else {
        None
    }
}

/// A fax call in either command set, so the line drives and reads both alike.
#[derive(Debug)]
pub enum AnyFax {
    /// Class 2.0 / 2.
    Class2(Box<FaxSend>),
    /// Class 1.
    Class1(Box<Class1Send>),
}

impl AnyFax {
    /// Progress, confirmed pages and the final result.
    pub fn poll_event(&mut self) -> Option<FaxEvent> {
        match self {
            AnyFax::Class2(m) => m.poll_event(),
            AnyFax::Class1(m) => m.poll_event(),
        }
    }
}

impl Machine for AnyFax {
    fn feed(&mut self, now: Instant, bytes: &[u8]) {
        match self {
            AnyFax::Class2(m) => m.feed(now, bytes),
            AnyFax::Class1(m) => m.feed(now, bytes),
        }
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        match self {
            AnyFax::Class2(m) => m.poll_transmit(),
            AnyFax::Class1(m) => m.poll_transmit(),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            AnyFax::Class2(m) => m.poll_timeout(),
            AnyFax::Class1(m) => m.poll_timeout(),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            AnyFax::Class2(m) => m.handle_timeout(now),
            AnyFax::Class1(m) => m.handle_timeout(now),
        }
    }
    fn is_done(&self) -> bool {
        match self {
            AnyFax::Class2(m) => m.is_done(),
            AnyFax::Class1(m) => m.is_done(),
        }
    }
    fn receiving_data(&self) -> bool {
        match self {
            AnyFax::Class2(m) => m.receiving_data(),
            AnyFax::Class1(m) => m.receiving_data(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_choice_follows_efax() {
        assert_eq!(pick_class("0,1,1.0"), Some("1"));
        assert_eq!(pick_class("0,2,2.0,8"), Some("2.0"));
        assert_eq!(pick_class("0,1,2,8"), Some("2"));
        assert_eq!(pick_class("(0-2),8"), Some("2"));
        assert_eq!(pick_class("0,8"), None);
    }
}
