//! The modem side of redial: sans-IO protocol machines for AT modems.
//!
//! Owns dial-string validation, DLE framing, the AT command session and the fax and voice
//! call procedures built on it. Everything here is bytes in, bytes and events out, with the
//! clock passed in; the serial port shell lives with the lines.

pub mod at;
pub mod dialstring;
pub mod dle;
pub mod fax_send;
pub mod query;
pub mod t30;
pub mod voice_call;

use std::time::Instant;

/// The init commands every call procedure starts with — reset, echo off, verbose results,
/// results on, extended result codes (optional: some modems refuse X4) — then the line's own
/// commands (`init=`, required). Each is `(command without AT, required)`; the procedure adds
/// its class commands.
pub fn init_sequence(line_init: &[String]) -> Vec<(String, bool)> {
    let mut steps: Vec<(String, bool)> = [
        ("Z", true),
        ("E0", true),
        ("V1", true),
        ("Q0", true),
        ("X4", false),
    ]
    .into_iter()
    .map(|(c, r)| (c.to_string(), r))
    .collect();
    steps.extend(line_init.iter().map(|c| (c.clone(), true)));
    steps
}

/// The face every call procedure shows the serial shell (DESIGN.md, "the shape of a protocol
/// machine"): bytes in, bytes out, a timer, and whether it is over.
pub trait Machine {
    /// Bytes from the port.
    fn feed(&mut self, now: Instant, bytes: &[u8]);
    /// The next bytes to write.
    fn poll_transmit(&mut self) -> Option<Vec<u8>>;
    /// When the machine next needs the clock.
    fn poll_timeout(&self) -> Option<Instant>;
    /// The clock reached `now`.
    fn handle_timeout(&mut self, now: Instant);
    /// Whether the procedure is over.
    fn is_done(&self) -> bool;
    /// Whether bytes from the port are data at this moment (an HDLC frame after `+FRH=3`
    /// CONNECT, the Class 2 wait for XON after `+FDT`): DC1/DC3 in them are then data, not
    /// flow control. Asked by the shell's XON/XOFF gate.
    fn receiving_data(&self) -> bool {
        false
    }
}

impl Machine for fax_send::FaxSend {
    fn feed(&mut self, now: Instant, bytes: &[u8]) {
        fax_send::FaxSend::feed(self, now, bytes)
    }
    fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        fax_send::FaxSend::poll_transmit(self)
    }
    fn poll_timeout(&self) -> Option<Instant> {
        fax_send::FaxSend::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        fax_send::FaxSend::handle_timeout(self, now)
    }
    fn is_done(&self) -> bool {
        fax_send::FaxSend::is_done(self)
    }
    fn receiving_data(&self) -> bool {
        fax_send::FaxSend::receiving_data(self)
    }
}
