//! redial: an outbound fax and voice dialer with a CopiaFacts-compatible spool.
//!
//! The library is the sans-IO core: the `$command` language, the typed job view, the retry
//! engine and its calendar. The binary (`src/main.rs`) is the thin shell around it.

pub mod audio;
pub mod calendar;
pub mod command;
pub mod daemon;
pub mod datearg;
pub mod dispatch;
pub mod fax;
pub mod job;
pub mod line;
pub mod linegroup;
pub mod load;
pub mod modem;
pub mod number;
pub mod ops;
pub mod retry;
pub mod sms;
pub mod spool;
