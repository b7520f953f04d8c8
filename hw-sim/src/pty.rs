//! Pseudo-terminal pairs for the rack: open, make raw, link at a stable path.
//!
//! Owns the pitfalls: the slave is set raw at once (no echo or CR/LF mapping before the DTE
//! opens it) and the slave fd is kept open for the pty's lifetime (otherwise master reads
//! fail with EIO and closing the master deletes `/dev/pts/N`).

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Errors creating a pty.
#[derive(Debug, Error)]
pub enum PtyError {
    /// A system call failed.
    #[error("{what}: {source}")]
    Sys {
        /// Which step.
        what: &'static str,
        /// errno.
        source: nix::Error,
    },
    /// Creating the link failed.
    #[error("link {path}: {source}")]
    Link {
        /// The link path.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
}

/// An open pty pair.
#[derive(Debug)]
pub struct Pty {
    /// Master side, non-blocking; the modem reads and writes here.
    pub master: OwnedFd,
    /// Slave side, kept open so the pair stays alive.
    pub slave: OwnedFd,
    /// `/dev/pts/N`.
    pub slave_path: PathBuf,
}

fn sys<T>(what: &'static str, r: nix::Result<T>) -> Result<T, PtyError> {
    r.map_err(|source| PtyError::Sys { what, source })
}

/// Open a pty pair, set the slave raw and the master non-blocking.
pub fn open() -> Result<Pty, PtyError> {
    let r = sys("openpty", nix::pty::openpty(None, None))?;
    let mut t = sys("tcgetattr", tcgetattr(&r.slave))?;
    cfmakeraw(&mut t);
    sys("tcsetattr", tcsetattr(&r.slave, SetArg::TCSANOW, &t))?;
    let slave_path = sys("ttyname", nix::unistd::ttyname(&r.slave))?;
    let flags = sys("fcntl", fcntl(&r.master, FcntlArg::F_GETFL))?;
    sys(
        "fcntl",
        fcntl(
            &r.master,
            FcntlArg::F_SETFL(OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK),
        ),
    )?;
    Ok(Pty {
        master: r.master,
        slave: r.slave,
        slave_path,
    })
}

/// Point `link` at `target`, replacing a stale link.
pub fn link(target: &Path, link: &Path) -> Result<(), PtyError> {
    if std::fs::symlink_metadata(link).is_ok() {
        let _ = std::fs::remove_file(link);
    }
    std::os::unix::fs::symlink(target, link).map_err(|source| PtyError::Link {
        path: link.to_path_buf(),
        source,
    })
}
