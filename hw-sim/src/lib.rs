//! hw-sim: a rack of software modems on pseudo-terminals.
//!
//! The modem itself ([`modem::Modem`]) is a sans-IO protocol machine written from the DCE's
//! side of V.250, T.32 (Class 2.0), SP-2388 (Class 2) and V.253 (voice). The scenario
//! ([`scenario`]) says what the simulated network does for each dialled number; [`rack`]
//! is the thin tokio shell that moves bytes between ptys and modems and writes files.
//! It shares no code with redial's driver.

pub mod calllog;
pub mod dial;
pub mod gsm;
pub mod modem;
pub mod pty;
pub mod rack;
pub mod scenario;
pub mod t4;
pub mod tiff_f;
