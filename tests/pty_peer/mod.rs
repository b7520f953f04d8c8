//! The far end of a pseudo-terminal for tests that play the modem themselves: redial opens the
//! slave as its serial port, the test reads and writes the master with explicit timeouts.
//!
//! Owns the master's raw I/O (poll, read, write) and nothing else: what to answer is the
//! test's business.

#![allow(dead_code)]

use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

/// An open pty pair; the slave stays open as long as this lives.
pub struct PtyPeer {
    pty: redial_sim::pty::Pty,
}

impl PtyPeer {
    /// A new pair, slave raw, master non-blocking.
    pub fn open() -> PtyPeer {
        PtyPeer {
            pty: redial_sim::pty::open().expect("a pty pair"),
        }
    }

    /// The slave's path (`/dev/pts/N`): the "device" a line opens.
    pub fn path(&self) -> PathBuf {
        self.pty.slave_path.clone()
    }

    fn poll(&self, events: i16, timeout: Duration) -> bool {
        let mut p = libc::pollfd {
            fd: self.pty.master.as_raw_fd(),
            events,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd for the duration of the call.
        let r = unsafe { libc::poll(&mut p, 1, ms) };
        r > 0 && p.revents & events != 0
    }

    /// Bytes the DTE wrote, waiting at most `timeout` for the first; `None` when none came.
    pub fn read(&self, timeout: Duration) -> Option<Vec<u8>> {
        if !self.poll(libc::POLLIN, timeout) {
            return None;
        }
        let mut buf = vec![0u8; 65536];
        // SAFETY: the buffer is valid for its length.
        let n = unsafe {
            libc::read(
                self.pty.master.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if n <= 0 {
            return None;
        }
        buf.truncate(n as usize);
        Some(buf)
    }

    /// Writes all of `bytes` to the DTE.
    pub fn write(&self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            // SAFETY: the slice is valid for its length.
            let n = unsafe {
                libc::write(
                    self.pty.master.as_raw_fd(),
                    bytes.as_ptr().cast(),
                    bytes.len(),
                )
            };
            if n > 0 {
                bytes = &bytes[n as usize..];
            } else {
                assert!(
                    self.poll(libc::POLLOUT, Duration::from_secs(5)),
                    "the pty takes no more bytes"
                );
            }
        }
    }
}
