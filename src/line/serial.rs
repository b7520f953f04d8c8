//! The serial shell: runs a sans-IO [`Machine`] over a port (a tokio-serial stream or any
//! async byte stream).
//!
//! Owns only the loop — write what the machine wants written, feed it what the port read, wake
//! it when its timer is due, hand its events to the caller as they happen — the XON/XOFF gate
//! on writing ([`super::flow`]), and the one fact the machine cannot see: the port going away.
//! Writes go out in chunks of at most [`CHUNK`] bytes with reading preferred between them, so a
//! DC3 from the modem stops the data within one chunk.

use super::flow::XonXoff;
use crate::modem::Machine;
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The most bytes handed to the port in one write.
pub const CHUNK: usize = 256;

/// Why the shell stopped before the machine was done.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The device closed or failed (unplugged, pty gone).
    #[error("the port went away: {0}")]
    Vanished(io::Error),
    /// The machine is waiting for nothing (a bug in a machine, reported instead of hanging).
    #[error("the call procedure stalled with no timer and nothing to send")]
    Stalled,
}

/// The machine's clock: tokio's, so a paused test runtime is virtual time for the machine too.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs `machine` on `port` until it is done, without flow control.
pub async fn drive<M, P>(port: &mut P, machine: &mut M) -> Result<(), PortError>
where
    M: Machine,
    P: AsyncRead + AsyncWrite + Unpin,
{
    drive_with(port, machine, false, |_| {}).await
}

/// Runs `machine` on `port` until it is done. With `xonxoff`, a DC3 from the modem (outside
/// data the machine is receiving) stops all writing until a DC1. `observe` is called after
/// every step of the machine (feed, timeout), so its events are taken when they happen.
pub async fn drive_with<M, P, F>(
    port: &mut P,
    machine: &mut M,
    xonxoff: bool,
    mut observe: F,
) -> Result<(), PortError>
where
    M: Machine,
    P: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(&mut M),
{
    let mut gate = XonXoff::new(xonxoff);
    let mut out: VecDeque<u8> = VecDeque::new();
    let mut buf = vec![0u8; 4096];
    let (mut rd, mut wr) = tokio::io::split(port);
    loop {
        observe(machine);
        while let Some(tx) = machine.poll_transmit() {
            out.extend(tx);
        }
        if out.is_empty() {
            wr.flush().await.map_err(PortError::Vanished)?;
        }
        // Done: normally with everything written; while XOFF stands, what is left (a hang-up
        // command after the machine gave up on a modem that stopped us) is dropped.
        if machine.is_done() && (out.is_empty() || gate.paused()) {
            return Ok(());
        }
        let deadline = machine.poll_timeout();
        if deadline.is_none() && out.is_empty() {
            return Err(PortError::Stalled);
        }
        let can_write = !out.is_empty() && !gate.paused();
        let chunk: Vec<u8> = if can_write {
            out.iter().take(CHUNK).copied().collect()
        } else {
            Vec::new()
        };
        let wake = deadline.unwrap_or_else(|| now() + Duration::from_secs(3600));
        tokio::select! {
            biased;
            read = rd.read(&mut buf) => {
                match read {
                    Ok(0) => return Err(PortError::Vanished(io::Error::new(io::ErrorKind::UnexpectedEof, "end of file on the port"))),
                    Ok(n) => gate.feed(machine, now(), &buf[..n]),
                    Err(e) => return Err(PortError::Vanished(e)),
                }
            }
            written = wr.write(&chunk), if can_write => {
                match written {
                    Ok(0) => return Err(PortError::Vanished(io::Error::new(io::ErrorKind::WriteZero, "the port takes no more bytes"))),
                    Ok(n) => drop(out.drain(..n)),
                    Err(e) => return Err(PortError::Vanished(e)),
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)), if deadline.is_some() => {
                machine.handle_timeout(now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::dialstring::DialString;
    use crate::modem::fax_send::{FaxClass, FaxEvent, FaxPlan, FaxSend, FaxTimeouts};

    fn plan() -> FaxPlan {
        FaxPlan {
            dial: DialString::new("1", "").unwrap(),
            pages: vec![vec![1, 2, 3]],
            fine: false,
            two_d: false,
            pages_mr: vec![],
            local_id: "x".into(),
            init: vec![],
            max_speed: 5,
            page_retries: 1,
            flo: None,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_modem_times_out_on_the_paused_clock() {
        let (mut ours, _theirs) = tokio::io::duplex(1024);
        let mut m = FaxSend::new(now(), plan(), FaxClass::Class20, FaxTimeouts::default());
        drive(&mut ours, &mut m).await.unwrap();
        let result = std::iter::from_fn(|| m.poll_event()).find_map(|e| match e {
            FaxEvent::Finished(r) => Some(r),
            _ => None,
        });
        assert_eq!(result.unwrap().code, 34);
    }

    #[tokio::test(start_paused = true)]
    async fn xoff_holds_every_byte_until_xon() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut ours, mut theirs) = tokio::io::duplex(1 << 16);
        let modem = tokio::spawn(async move {
            let mut buf = [0u8; 64];
            let n = theirs.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"ATZ\r");
            // XOFF, then OK: the next command must wait for XON.
            theirs.write_all(b"\x13\r\nOK\r\n").await.unwrap();
            let held = tokio::time::timeout(Duration::from_secs(3), theirs.read(&mut buf)).await;
            assert!(held.is_err(), "a byte came while XOFF stood");
            theirs.write_all(&[0x11]).await.unwrap();
            let n = theirs.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], b"ATE0\r");
            // Now stop for good and say nothing: the call must still end.
            theirs.write_all(&[0x13]).await.unwrap();
            theirs
        });
        let mut m = FaxSend::new(now(), plan(), FaxClass::Class20, FaxTimeouts::default());
        drive_with(&mut ours, &mut m, true, |_| {}).await.unwrap();
        let result = std::iter::from_fn(|| m.poll_event()).find_map(|e| match e {
            FaxEvent::Finished(r) => Some(r),
            _ => None,
        });
        assert_eq!(result.unwrap().code, 34, "the silent modem is reported");
        drop(modem.await.unwrap());
    }

    #[tokio::test]
    async fn a_closed_port_is_reported_as_vanished() {
        let (mut ours, theirs) = tokio::io::duplex(1024);
        drop(theirs);
        let mut m = FaxSend::new(now(), plan(), FaxClass::Class20, FaxTimeouts::default());
        assert!(matches!(
            drive(&mut ours, &mut m).await,
            Err(PortError::Vanished(_))
        ));
    }
}
