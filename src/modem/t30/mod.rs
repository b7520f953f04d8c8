//! Class 1 fax: T.30 run by the host over a T.31 modem.
//!
//! - [`frame`]: HDLC frames on the DTE link (FCF values in wire order, FCS, station IDs).
//! - [`caps`]: DIS parsing, DCS building, modulations and their fallback order.
//! - [`send`]: [`Class1Send`], the sans-IO transmitter (phases B, C, D), producing the same
//!   [`crate::modem::fax_send::FaxEvent`]s and `FaxResult` as the Class 2.0 sender.
//!
//! Nothing here touches a port or a clock: bytes and instants come in, bytes and events go out.

pub mod caps;
pub mod frame;
pub mod send;

pub use send::{br_bps, Class1Plan, Class1Send, T30Timers};
