//! The modem side of redial: sans-IO protocol machines for AT modems.
//!
//! Owns dial-string validation, DLE framing, the AT command session and the fax and voice
//! call procedures built on it. Everything here is bytes in, bytes and events out, with the
//! clock passed in; the serial port shell lives with the lines.

pub mod at;
pub mod dialstring;
pub mod dle;
pub mod fax_send;
