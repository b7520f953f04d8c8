//! The serial shell: runs a sans-IO [`Machine`] over a port (a tokio-serial stream or any
//! async byte stream).
//!
//! Owns only the loop — write what the machine wants written, feed it what the port read, wake
//! it when its timer is due — and the one fact the machine cannot see: the port going away.

use crate::modem::Machine;
use std::io;
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Why the shell stopped before the machine was done.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The device closed or failed (unplugged, pty gone).
    #[error("the port went away: {0}")]
    Vanished(io::Error),
    /// The machine is waiting for nothing (a bug in a machine, reported instead of hanging).
    #[error("the call procedure stalled with no timer and nothing to send")]
    Stalled,
    /// An operator cancelled the call; the modem was told to hang up ([`hang_up`]).
    #[error("cancelled by an operator; the modem was told to hang up")]
    Cancelled,
}

/// A call's cancel input: set to true once, by the line's owner (`Line::cancel`).
pub type Cancel = tokio::sync::watch::Receiver<bool>;

/// The machine's clock: tokio's, so a paused test runtime is virtual time for the machine too.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs `machine` on `port` until it is done.
pub async fn drive<M, P>(port: &mut P, machine: &mut M) -> Result<(), PortError>
where
    M: Machine,
    P: AsyncRead + AsyncWrite + Unpin,
{
    drive_cancellable(port, machine, None).await
}

/// [`drive`], stopped by `cancel`: the machine is dropped where it stands and the modem is
/// hung up ([`hang_up`]); the result is [`PortError::Cancelled`].
pub async fn drive_cancellable<M, P>(
    port: &mut P,
    machine: &mut M,
    mut cancel: Option<&mut Cancel>,
) -> Result<(), PortError>
where
    M: Machine,
    P: AsyncRead + AsyncWrite + Unpin,
{
    if cancel.as_ref().is_some_and(|c| *c.borrow()) {
        hang_up(port).await;
        return Err(PortError::Cancelled);
    }
    let mut buf = vec![0u8; 4096];
    loop {
        while let Some(tx) = machine.poll_transmit() {
            tracing::trace!(target: "redial::modem", "> {}", shown(&tx));
            port.write_all(&tx).await.map_err(PortError::Vanished)?;
        }
        port.flush().await.map_err(PortError::Vanished)?;
        if machine.is_done() {
            return Ok(());
        }
        let Some(deadline) = machine.poll_timeout() else {
            return Err(PortError::Stalled);
        };
        tokio::select! {
            read = port.read(&mut buf) => {
                match read {
                    Ok(0) => return Err(PortError::Vanished(io::Error::new(io::ErrorKind::UnexpectedEof, "end of file on the port"))),
                    Ok(n) => {
                        tracing::trace!(target: "redial::modem", "< {}", shown(&buf[..n]));
                        machine.feed(now(), &buf[..n])
                    }
                    Err(e) => return Err(PortError::Vanished(e)),
                }
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)) => {
                machine.handle_timeout(now());
            }
            _ = cancelled(&mut cancel) => {
                hang_up(port).await;
                return Err(PortError::Cancelled);
            }
        }
    }
}

/// Bytes to or from the modem as one log line: printable ASCII as is, the rest escaped
/// (`\r`, `\n`, `\x10`); long page data is cut.
fn shown(bytes: &[u8]) -> String {
    let mut s: String = bytes
        .iter()
        .take(80)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > 80 {
        s.push_str(&format!("…[{} bytes]", bytes.len()));
    }
    s
}

/// Resolves once `cancel` is set (never without one, or when its sender is gone).
async fn cancelled(cancel: &mut Option<&mut Cancel>) {
    let set = match cancel {
        Some(c) => c.wait_for(|v| *v).await.is_ok(),
        None => false,
    };
    if !set {
        std::future::pending::<()>().await;
    }
}

/// Puts the modem on hook whatever it was doing, within [`HANG_UP_WITHIN`]:
/// `<DLE><CAN>` aborts a fax page in progress (the session ends), `<DLE><ETX>` ends a voice
/// playback, and any character aborts a dial in progress (V.250 6.3.1); the answers to that are
/// read and dropped until the port is quiet, then `ATH0` hangs up. A modem busy with something
/// that takes no command (training, a page still leaving its buffer) ignores all of it, so the
/// round is repeated until `ATH0` is answered `OK`; then `ATZ` resets the modem. A modem that
/// answers nothing is left to the line's next call or probe.
pub async fn hang_up<P>(port: &mut P)
where
    P: AsyncRead + AsyncWrite + Unpin,
{
    use crate::modem::query::Query;
    use std::time::Duration;
    let end = tokio::time::Instant::now() + HANG_UP_WITHIN;
    let mut buf = [0u8; 256];
    let mut on_hook = false;
    while !on_hook && tokio::time::Instant::now() < end {
        tracing::trace!(target: "redial::modem", "> \\x10\\x18\\x10\\x03 (hang-up)");
        if port.write_all(b"\x10\x18\x10\x03").await.is_err() || port.flush().await.is_err() {
            return;
        }
        let quiet_by = tokio::time::Instant::now() + Duration::from_secs(2);
        loop {
            let quiet = tokio::time::Instant::now() + Duration::from_millis(200);
            match tokio::time::timeout_at(quiet.min(quiet_by), port.read(&mut buf)).await {
                // The port is gone: nothing to hang up.
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) if tokio::time::Instant::now() < quiet_by => {
                    tracing::trace!(target: "redial::modem", "< {}", shown(&buf[..n]));
                }
                Ok(Ok(_)) | Err(_) => break,
            }
        }
        let mut q = Query::new(now(), "H0", Duration::from_secs(3));
        if Box::pin(drive(port, &mut q)).await.is_err() {
            return;
        }
        on_hook = q.answer().is_some();
    }
    let mut q = Query::new(now(), "Z", Duration::from_secs(3));
    let _ = Box::pin(drive(port, &mut q)).await;
}

/// How long [`hang_up`] keeps trying to get the modem on hook.
pub const HANG_UP_WITHIN: std::time::Duration = std::time::Duration::from_secs(60);

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
