//! A call's session log: every byte to and from the modem and every step of the call procedure
//! (T.30 frames, pages confirmed, voice events), each line stamped with the time since the port
//! was opened — what HylaFAX keeps in `log/cNNNN`. The daemon writes it under `LOG/` when the
//! attempt is settled (`redial report JOB --log N`).
//!
//! [`Recording`] wraps a port and records what passes through it; [`Transcript`] holds the text.
//! Neither ever changes a byte on the way nor decides anything about the call.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most text one session log keeps (page data is shown cut, so a call stays far below).
pub const MAX_BYTES: usize = 4 << 20;

/// The most bytes of one read or write shown on its line.
const SHOWN: usize = 64;

/// A call's session log text.
#[derive(Debug)]
pub struct Transcript {
    start: Instant,
    text: String,
    cut: bool,
    /// Page data being written: when the run began and its bytes so far (one line for all).
    data: Option<(f64, usize)>,
}

/// A transcript shared by the port wrapper and the line.
pub type Shared = Arc<Mutex<Transcript>>;

impl Transcript {
    /// An empty log starting now, headed with `title`.
    pub fn shared(title: &str) -> Shared {
        let mut t = Transcript {
            start: Instant::now(),
            text: String::new(),
            cut: false,
            data: None,
        };
        t.line(' ', title);
        Arc::new(Mutex::new(t))
    }

    fn line(&mut self, dir: char, what: &str) {
        self.end_data();
        self.put(self.start.elapsed().as_secs_f64(), dir, what);
    }

    /// Writes the line of a run of page data, if one is open.
    fn end_data(&mut self) {
        if let Some((t, n)) = self.data.take() {
            self.put(t, '>', &format!("[{n} bytes of page data]"));
        }
    }

    fn put(&mut self, t: f64, dir: char, what: &str) {
        if self.cut {
            return;
        }
        if self.text.len() + what.len() > MAX_BYTES {
            self.text.push_str("… (session log cut: too long)\n");
            self.cut = true;
            return;
        }
        use std::fmt::Write;
        let _ = writeln!(self.text, "{t:9.3} {dir} {what}");
    }

    /// Bytes written to the modem. Page data (anything but a line of text) is counted, one
    /// line for each run of it, as HylaFAX does.
    pub fn sent(&mut self, bytes: &[u8]) {
        let text = bytes
            .iter()
            .all(|b| b.is_ascii_graphic() || matches!(b, b' ' | b'\r' | b'\n'));
        if text && bytes.len() <= SHOWN {
            self.line('>', &shown(bytes));
        } else {
            let t = self.start.elapsed().as_secs_f64();
            let run = self.data.get_or_insert((t, 0));
            run.1 += bytes.len();
        }
    }

    /// Bytes read from the modem.
    pub fn received(&mut self, bytes: &[u8]) {
        self.line('<', &shown(bytes));
    }

    /// A step of the call procedure (`DCS at V.17 14400`, `page 2 confirmed`).
    pub fn note(&mut self, what: &str) {
        self.line('-', what);
    }

    /// The text so far, leaving it empty.
    pub fn take(&mut self) -> String {
        self.end_data();
        std::mem::take(&mut self.text)
    }
}

/// Bytes as text: printable ASCII as is, the rest escaped (`\r`, `\n`, `\x10`); a long block
/// (page data) shows its start and its length.
fn shown(bytes: &[u8]) -> String {
    let mut s: String = bytes
        .iter()
        .take(SHOWN)
        .flat_map(|b| std::ascii::escape_default(*b))
        .map(char::from)
        .collect();
    if bytes.len() > SHOWN {
        s.push_str(&format!("… [{} bytes]", bytes.len()));
    }
    s
}

/// A port that records what passes through it into a [`Transcript`].
pub struct Recording<P> {
    inner: P,
    log: Shared,
}

impl<P> Recording<P> {
    /// Wraps `inner`.
    pub fn new(inner: P, log: Shared) -> Recording<P> {
        Recording { inner, log }
    }

    /// The wrapped port.
    pub fn inner(&self) -> &P {
        &self.inner
    }
}

impl<P: AsyncRead + Unpin> AsyncRead for Recording<P> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = &r {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                self.log.lock().expect("transcript").received(new);
            }
        }
        r
    }
}

impl<P: AsyncWrite + Unpin> AsyncWrite for Recording<P> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.log.lock().expect("transcript").sent(&buf[..*n]);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn records_both_directions_in_order_and_cuts_long_blocks() {
        let (ours, mut theirs) = tokio::io::duplex(1 << 16);
        let log = Transcript::shared("call 1");
        let mut port = Recording::new(ours, log.clone());
        port.write_all(b"ATD5550100\r").await.unwrap();
        let mut buf = [0u8; 32];
        let n = theirs.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"ATD5550100\r", "bytes pass unchanged");
        theirs.write_all(b"\r\nCONNECT\r\n").await.unwrap();
        let n = port.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"\r\nCONNECT\r\n");
        log.lock().unwrap().note("page 1 confirmed");
        port.write_all(&[0u8; 300]).await.unwrap();
        port.write_all(&[0xffu8; 200]).await.unwrap();
        log.lock().unwrap().note("page 2 confirmed");
        let text = log.lock().unwrap().take();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].ends_with("call 1"), "{text}");
        assert!(lines[1].ends_with("> ATD5550100\\r"), "{text}");
        assert!(lines[2].ends_with("< \\r\\nCONNECT\\r\\n"), "{text}");
        assert!(lines[3].ends_with("- page 1 confirmed"), "{text}");
        assert!(lines[4].ends_with("> [500 bytes of page data]"), "{text}");
        assert!(lines[5].ends_with("- page 2 confirmed"), "{text}");
    }
}
