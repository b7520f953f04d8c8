//! The serial shell: runs a sans-IO [`Machine`] over a port (a tokio-serial stream or any
//! async byte stream).
//!
//! Owns only the loop — write what the machine wants written, feed it what the port read, wake
//! it when its timer is due, hand its events to the caller as they happen — the XON/XOFF gate
//! on writing ([`super::flow`]), and the one fact the machine cannot see: the port going away.
//! Writes go out in chunks of at most [`CHUNK`] bytes with reading preferred between them, so a
//! DC3 from the modem stops the data within one chunk; and with XON/XOFF on a serial device the
//! driver's transmit queue is kept below [`MAX_UNSENT`] bytes ([`Pacing`]), because what is
//! already in it still goes out after a DC3.
//!
//! It never flushes the port. The ports are unbuffered: a write hands the bytes to the kernel,
//! which sends them in order. A serial port's flush is `tcdrain(3)` (tokio-serial makes that
//! call on the runtime's thread), which blocks the thread until the UART has sent everything:
//! while the queue empties at the line's speed, and for ever when a modem holds CTS low. Every
//! line's calls share the daemon's two runtime threads.

use super::flow::XonXoff;
use crate::modem::Machine;
use std::collections::VecDeque;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The most bytes handed to the port in one write.
pub const CHUNK: usize = 256;

/// The most bytes left in a serial driver's transmit queue before the next write (with
/// XON/XOFF): about what a modem still takes after it sent DC3.
pub const MAX_UNSENT: usize = 128;

/// Asks the driver how many written bytes it still holds.
pub type Unsent = Arc<dyn Fn() -> usize + Send + Sync>;

/// How the shell paces its writing.
#[derive(Clone, Default)]
pub struct Pacing {
    /// Honour DC1/DC3 from the modem (`flow=xonxoff`).
    pub xonxoff: bool,
    /// The driver's transmit queue and the time one byte takes on the wire: the shell writes
    /// only while the queue holds at most [`MAX_UNSENT`] bytes, and otherwise waits the time
    /// the excess takes to go out.
    pub unsent: Option<(Unsent, Duration)>,
}

impl Pacing {
    /// XON/XOFF honoured or not, no queue to watch.
    pub fn xonxoff(on: bool) -> Pacing {
        Pacing {
            xonxoff: on,
            unsent: None,
        }
    }
}

/// The transmit queue of the terminal `fd` (`TIOCOUTQ`; 0 when it cannot be read, as on a pty,
/// whose writes go straight to the other side). `fd` must stay open while the probe is used.
pub fn tty_unsent(fd: std::os::fd::RawFd) -> Unsent {
    Arc::new(move || {
        let mut n: libc::c_int = 0;
        // SAFETY: TIOCOUTQ writes one int; the caller keeps `fd` open while it asks.
        let r = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) };
        if r == 0 {
            usize::try_from(n).unwrap_or(0)
        } else {
            0
        }
    })
}

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

/// Runs `machine` on `port` until it is done, without flow control.
pub async fn drive<M, P>(port: &mut P, machine: &mut M) -> Result<(), PortError>
where
    M: Machine,
    P: AsyncRead + AsyncWrite + Unpin,
{
    drive_with(port, machine, Pacing::default(), |_| {}, None).await
}

/// Runs `machine` on `port` until it is done. With XON/XOFF, a DC3 from the modem (outside
/// data the machine is receiving) stops all writing until a DC1, and the driver's queue is kept
/// short (see [`Pacing`]). `observe` is called after every step of the machine (feed, timeout),
/// so its events are taken when they happen. When `cancel` is set the machine is dropped where
/// it stands and the modem is hung up ([`hang_up`]); the result is [`PortError::Cancelled`].
pub async fn drive_with<M, P, F>(
    port: &mut P,
    machine: &mut M,
    pacing: Pacing,
    mut observe: F,
    mut cancel: Option<&mut Cancel>,
) -> Result<(), PortError>
where
    M: Machine,
    P: AsyncRead + AsyncWrite + Unpin,
    F: FnMut(&mut M),
{
    if cancel.as_ref().is_some_and(|c| *c.borrow()) {
        hang_up(port).await;
        return Err(PortError::Cancelled);
    }
    let mut gate = XonXoff::new(pacing.xonxoff);
    let queue = pacing.unsent.filter(|_| pacing.xonxoff);
    let mut out: VecDeque<u8> = VecDeque::new();
    let mut buf = vec![0u8; 4096];
    let mut chunk: Vec<u8> = Vec::with_capacity(CHUNK);
    let (mut rd, mut wr) = tokio::io::split(port);
    // One timer for the machine's deadline, moved only when the deadline moves, and one wait
    // for a cancel, for the whole call: a page is hundreds of turns of this loop.
    let timer = tokio::time::sleep_until(tokio::time::Instant::now());
    tokio::pin!(timer);
    let mut armed: Option<Instant> = None;
    let cancel_wait = cancelled(&mut cancel);
    tokio::pin!(cancel_wait);
    loop {
        observe(machine);
        while let Some(tx) = machine.poll_transmit() {
            out.extend(tx);
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
        let ready = !out.is_empty() && !gate.paused();
        // Bytes the driver holds beyond the limit, and when they will have gone out.
        let drained = match &queue {
            Some((unsent, byte_time)) if ready => {
                let over = unsent().saturating_sub(MAX_UNSENT);
                (over > 0).then(|| now() + byte_time.saturating_mul(over as u32))
            }
            _ => None,
        };
        let can_write = ready && drained.is_none();
        chunk.clear();
        if can_write {
            chunk.extend(out.iter().take(CHUNK));
        }
        if let Some(due) = deadline.filter(|d| armed != Some(*d)) {
            timer.as_mut().reset(tokio::time::Instant::from_std(due));
            armed = Some(due);
        }
        let mut cancelled_now = false;
        tokio::select! {
            biased;
            // First: a modem that never stops talking must not keep a cancel waiting.
            _ = &mut cancel_wait => cancelled_now = true,
            read = rd.read(&mut buf) => {
                match read {
                    Ok(0) => return Err(PortError::Vanished(io::Error::new(io::ErrorKind::UnexpectedEof, "end of file on the port"))),
                    Ok(n) => {
                        tracing::trace!(target: "redial::modem", "< {}", shown(&buf[..n]));
                        gate.feed(machine, now(), &buf[..n])
                    }
                    Err(e) => return Err(PortError::Vanished(e)),
                }
            }
            written = wr.write(&chunk), if can_write => {
                match written {
                    Ok(0) => return Err(PortError::Vanished(io::Error::new(io::ErrorKind::WriteZero, "the port takes no more bytes"))),
                    Ok(n) => {
                        tracing::trace!(target: "redial::modem", "> {}", shown(&chunk[..n]));
                        drop(out.drain(..n))
                    }
                    Err(e) => return Err(PortError::Vanished(e)),
                }
            }
            _ = &mut timer, if deadline.is_some() => {
                // Fired: the next turn sets it again, even to the same instant.
                armed = None;
                machine.handle_timeout(now());
            }
            _ = tokio::time::sleep_until(tokio::time::Instant::from_std(drained.unwrap_or_else(now))), if drained.is_some() => {}
        }
        if cancelled_now {
            // Whatever was still to go out is dropped; the modem gets the hang-up instead.
            let port = rd.unsplit(wr);
            hang_up(port).await;
            return Err(PortError::Cancelled);
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
        if port.write_all(b"\x10\x18\x10\x03").await.is_err() {
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
            flo: None,
            ec: 0,
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
        drive_with(&mut ours, &mut m, Pacing::xonxoff(true), |_| {}, None)
            .await
            .unwrap();
        let result = std::iter::from_fn(|| m.poll_event()).find_map(|e| match e {
            FaxEvent::Finished(r) => Some(r),
            _ => None,
        });
        assert_eq!(result.unwrap().code, 34, "the silent modem is reported");
        drop(modem.await.unwrap());
    }

    /// Hands over one block of bytes and is done.
    struct Blob(Option<Vec<u8>>);

    impl Machine for Blob {
        fn feed(&mut self, _now: Instant, _bytes: &[u8]) {}
        fn poll_transmit(&mut self) -> Option<Vec<u8>> {
            self.0.take()
        }
        fn poll_timeout(&self) -> Option<Instant> {
            Some(now() + Duration::from_secs(3600))
        }
        fn handle_timeout(&mut self, _now: Instant) {}
        fn is_done(&self) -> bool {
            self.0.is_none()
        }
    }

    /// A serial driver's transmit queue: written bytes reach the far end at once (as if the
    /// modem read them), and the queue empties one byte per `per_byte` of (virtual) time.
    struct Queue {
        held: usize,
        at: tokio::time::Instant,
        per_byte: Duration,
        most: usize,
    }

    impl Queue {
        fn drain(&mut self) {
            let gone = (self.at.elapsed().as_nanos() / self.per_byte.as_nanos()) as usize;
            let gone = gone.min(self.held);
            self.held -= gone;
            self.at = if self.held == 0 {
                tokio::time::Instant::now()
            } else {
                self.at + self.per_byte * gone as u32
            };
        }
    }

    struct Uart {
        inner: tokio::io::DuplexStream,
        queue: Arc<std::sync::Mutex<Queue>>,
    }

    impl AsyncRead for Uart {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for Uart {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            let r = std::pin::Pin::new(&mut self.inner).poll_write(cx, buf);
            if let std::task::Poll::Ready(Ok(n)) = &r {
                let mut q = self.queue.lock().unwrap();
                q.drain();
                q.held += n;
                q.most = q.most.max(q.held);
            }
            r
        }
        fn poll_flush(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_flush(cx)
        }
        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
        }
    }

    /// Sends 8 KB through a driver queue that empties at 19200 bit/s; returns the most bytes
    /// the queue held, the virtual time taken and the bytes that arrived.
    async fn through_a_uart(watch_queue: bool) -> (usize, Duration, usize) {
        use tokio::io::AsyncReadExt;
        let per_byte = Duration::from_secs_f64(10.0 / 19200.0);
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let queue = Arc::new(std::sync::Mutex::new(Queue {
            held: 0,
            at: tokio::time::Instant::now(),
            per_byte,
            most: 0,
        }));
        let mut port = Uart {
            inner: ours,
            queue: queue.clone(),
        };
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            theirs.read_to_end(&mut got).await.unwrap();
            got.len()
        });
        let probe_queue = queue.clone();
        let unsent: Unsent = Arc::new(move || {
            let mut q = probe_queue.lock().unwrap();
            q.drain();
            q.held
        });
        let pacing = Pacing {
            xonxoff: true,
            unsent: watch_queue.then_some((unsent, per_byte)),
        };
        let start = tokio::time::Instant::now();
        drive_with(
            &mut port,
            &mut Blob(Some(vec![0x55; 8192])),
            pacing,
            |_| {},
            None,
        )
        .await
        .unwrap();
        let took = start.elapsed();
        drop(port);
        let most = queue.lock().unwrap().most;
        (most, took, reader.await.unwrap())
    }

    #[tokio::test(start_paused = true)]
    async fn with_xon_xoff_the_driver_queue_stays_short() {
        let (most, took, got) = through_a_uart(true).await;
        assert_eq!(got, 8192);
        assert!(most <= MAX_UNSENT + CHUNK, "the queue held {most} bytes");
        // Writing follows the wire: all but the last queue-full took their line time.
        let wire = Duration::from_secs_f64((8192 - MAX_UNSENT - CHUNK) as f64 * 10.0 / 19200.0);
        assert!(took >= wire, "{took:?} < {wire:?}");
        eprintln!("8192 bytes at 19200 bit/s: the queue held at most {most} bytes; {took:?}");
        // Without watching the queue the whole block sits in it at once.
        let (most, _, got) = through_a_uart(false).await;
        assert_eq!((most, got), (8192, 8192));
    }

    /// A port whose flush never returns: `tcdrain(3)` on a serial port whose modem holds CTS
    /// low, or whose UART stopped. tokio-serial's flush is that call, made on the runtime's
    /// thread (so in the daemon it would also hold every other line's calls on that thread).
    struct StuckDrain(tokio::io::DuplexStream);

    impl AsyncRead for StuckDrain {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
        }
    }

    impl AsyncWrite for StuckDrain {
        fn poll_write(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
            buf: &[u8],
        ) -> std::task::Poll<io::Result<usize>> {
            std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
        }
        fn poll_flush(
            self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::task::Poll::Pending
        }
        fn poll_shutdown(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            std::pin::Pin::new(&mut self.0).poll_shutdown(cx)
        }
    }

    /// The shell never waits for the port to drain: what it writes is handed to the kernel,
    /// which sends it in order. Page data goes out and a hang-up ends, on a port whose drain
    /// would never return.
    #[tokio::test(start_paused = true)]
    async fn the_shell_never_waits_for_the_port_to_drain() {
        use tokio::io::AsyncReadExt;
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        // The modem: takes everything, answers every command line with OK.
        let modem = tokio::spawn(async move {
            let (mut got, mut line) = (Vec::new(), Vec::new());
            let mut buf = [0u8; 4096];
            loop {
                let n = match theirs.read(&mut buf).await {
                    Ok(0) | Err(_) => return got,
                    Ok(n) => n,
                };
                for &b in &buf[..n] {
                    got.push(b);
                    line.push(b);
                    if b == b'\r' {
                        if line.windows(2).any(|w| w == b"AT") {
                            theirs.write_all(b"\r\nOK\r\n").await.unwrap();
                        }
                        line.clear();
                    }
                }
            }
        });
        let mut port = StuckDrain(ours);
        let limit = Duration::from_secs(30);
        let sent =
            tokio::time::timeout(limit, drive(&mut port, &mut Blob(Some(vec![0x55; 8192])))).await;
        assert!(sent.is_ok(), "the page data waited on the port's drain");
        sent.unwrap().unwrap();
        let hung = tokio::time::timeout(limit, hang_up(&mut port)).await;
        assert!(hung.is_ok(), "the hang-up waited on the port's drain");
        drop(port);
        let got = modem.await.unwrap();
        assert_eq!(got.iter().filter(|&&b| b == 0x55).count(), 8192);
        let text = String::from_utf8_lossy(&got);
        assert!(text.contains("ATH0\r") && text.contains("ATZ\r"), "{text}");
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
