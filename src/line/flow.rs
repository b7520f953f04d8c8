//! Flow control toward the modem: the `flow=` line setting and the XON/XOFF gate of the serial
//! shell.
//!
//! Owns what each setting means: `xonxoff` (the modem sends DC3 to stop us and DC1 to let us go
//! on; the shell honours it, see [`XonXoff`]), `rtscts` (the port's CRTSCTS flag: the kernel and
//! the UART hold our output while the modem drops CTS) and `none`. The XON/XOFF gate is done in
//! the shell, not by the kernel's IXON, because IXON would also eat DC1/DC3 that are *data*:
//! octets of an HDLC frame the modem hands over after `+FRH=3`, or the Class 2 XON the sender
//! waits for after `+FDT`. The gate asks the machine at each such byte whether it is receiving
//! data at that moment. It never writes to the port and never sleeps.

use crate::modem::Machine;
use std::time::Instant;
use thiserror::Error;

/// DC1: XON, "go on".
pub const XON: u8 = 0x11;
/// DC3: XOFF, "stop sending".
pub const XOFF: u8 = 0x13;

/// How the modem paces what we write to it (`flow=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flow {
    /// In-band DC1/DC3 from the modem (T.31 and T.32 DCEs support it; the only kind a modem on a
    /// pseudo-terminal such as iaxmodem can use).
    #[default]
    XonXoff,
    /// RTS/CTS wires (the port's CRTSCTS flag).
    RtsCts,
    /// None: everything is written at once.
    None,
}

/// A `flow=` value that is not one of the three.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("flow={given}: expected xonxoff, rtscts or none{}", suggestion.map(|s| format!(" (did you mean flow={s}?)")).unwrap_or_default())]
pub struct FlowError {
    /// What the line definition said.
    pub given: String,
    /// The closest valid value, when one is close.
    pub suggestion: Option<&'static str>,
}

impl std::str::FromStr for Flow {
    type Err = FlowError;

    fn from_str(v: &str) -> Result<Flow, FlowError> {
        const NAMES: [(&str, Flow); 3] = [
            ("xonxoff", Flow::XonXoff),
            ("rtscts", Flow::RtsCts),
            ("none", Flow::None),
        ];
        let lower = v.to_ascii_lowercase();
        if let Some((_, f)) = NAMES.iter().find(|(n, _)| *n == lower) {
            return Ok(*f);
        }
        let suggestion = NAMES
            .iter()
            .map(|(n, _)| (*n, strsim::jaro_winkler(n, &lower)))
            .filter(|(_, score)| *score >= 0.75)
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(n, _)| n);
        Err(FlowError {
            given: v.to_string(),
            suggestion,
        })
    }
}

/// The shell's XON/XOFF state: whether the modem has told us to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XonXoff {
    enabled: bool,
    paused: bool,
}

impl XonXoff {
    /// A gate that honours DC1/DC3 when `enabled` (`flow=xonxoff`), else passes every byte on.
    pub fn new(enabled: bool) -> XonXoff {
        XonXoff {
            enabled,
            paused: false,
        }
    }

    /// Whether writing must wait (an XOFF came and no XON since).
    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Hands `bytes` from the port to `machine`. With the gate enabled, a DC1 or DC3 that
    /// arrives while the machine is not receiving data is flow control: it switches the gate
    /// and is not passed on. The machine is asked at the position of each such byte (the bytes
    /// before it are fed first), so a `CONNECT` followed by frame data in one read is told
    /// apart exactly.
    ///
    /// A machine receiving data also ends a pause: a modem sends flow control only while it
    /// takes our data, so an XOFF still standing when it hands us data (an XON lost, or never
    /// sent before the final result) would otherwise stop the call for good.
    pub fn feed<M: Machine + ?Sized>(&mut self, machine: &mut M, now: Instant, bytes: &[u8]) {
        if !self.enabled {
            return machine.feed(now, bytes);
        }
        let mut start = 0;
        for (i, &b) in bytes.iter().enumerate() {
            if b != XON && b != XOFF {
                continue;
            }
            if start < i {
                machine.feed(now, &bytes[start..i]);
            }
            if machine.receiving_data() {
                self.paused = false;
                machine.feed(now, &[b]);
            } else {
                self.paused = b == XOFF;
            }
            start = i + 1;
        }
        if start < bytes.len() {
            machine.feed(now, &bytes[start..]);
        }
        if machine.receiving_data() {
            self.paused = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_and_suggestions() {
        assert_eq!("xonxoff".parse(), Ok(Flow::XonXoff));
        assert_eq!("RTSCTS".parse(), Ok(Flow::RtsCts));
        assert_eq!("none".parse(), Ok(Flow::None));
        let e = "xonx".parse::<Flow>().unwrap_err();
        assert_eq!(e.suggestion, Some("xonxoff"));
        assert_eq!(
            e.to_string(),
            "flow=xonx: expected xonxoff, rtscts or none (did you mean flow=xonxoff?)"
        );
        assert_eq!(
            "rts".parse::<Flow>().unwrap_err().suggestion,
            Some("rtscts")
        );
        assert_eq!("hardware".parse::<Flow>().unwrap_err().suggestion, None);
    }

    /// Records what it is fed; "receives data" between a `[` and a `]` byte.
    #[derive(Default)]
    struct Probe {
        fed: Vec<u8>,
        raw: bool,
    }

    impl Machine for Probe {
        fn feed(&mut self, _now: Instant, bytes: &[u8]) {
            for &b in bytes {
                match b {
                    b'[' => self.raw = true,
                    b']' => self.raw = false,
                    _ => {}
                }
                self.fed.push(b);
            }
        }
        fn poll_transmit(&mut self) -> Option<Vec<u8>> {
            None
        }
        fn poll_timeout(&self) -> Option<Instant> {
            None
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn is_done(&self) -> bool {
            false
        }
        fn receiving_data(&self) -> bool {
            self.raw
        }
    }

    #[test]
    fn dc1_dc3_are_flow_control_outside_data_and_data_inside() {
        let now = Instant::now();
        let mut m = Probe::default();
        let mut g = XonXoff::new(true);
        g.feed(&mut m, now, b"OK\x13\r\n");
        assert!(g.paused());
        assert_eq!(m.fed, b"OK\r\n");
        // In one read: data starts, a DC3 and a DC1 inside it are data, then data ends and the
        // DC1 after it is flow control.
        g.feed(&mut m, now, b"[\x13a\x11]\x11");
        assert!(!g.paused());
        assert_eq!(&m.fed[4..], b"[\x13a\x11]");
        // An XOFF that still stands when the machine starts receiving data is over.
        g.feed(&mut m, now, b"\x13");
        assert!(g.paused());
        g.feed(&mut m, now, b"[");
        assert!(!g.paused());
        // Disabled: everything goes to the machine and nothing pauses.
        let mut m = Probe::default();
        let mut g = XonXoff::new(false);
        g.feed(&mut m, now, b"\x13OK");
        assert!(!g.paused());
        assert_eq!(m.fed, b"\x13OK");
    }
}
