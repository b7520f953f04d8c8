//! PostScript documents: converted to PDF by Ghostscript (`gs`, optional; Debian package
//! `ghostscript`), then drawn like any PDF. The only part of the codec that runs a program: `gs`
//! reads the document on its standard input and writes the PDF on its standard output, with
//! `-dSAFER` (no file access from the document). Without `gs` on the `PATH` a PostScript document
//! is refused with a clear message. A document Ghostscript has not converted within
//! [`GS_TIME_LIMIT`] (a PostScript program can loop for ever) is refused as well.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use thiserror::Error;

/// How long Ghostscript may take over one document.
pub const GS_TIME_LIMIT: Duration = Duration::from_secs(120);

/// Why a PostScript document cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PsError {
    /// `gs` is not installed.
    #[error(
        "PostScript needs Ghostscript (gs), which is not installed; install the ghostscript \
         package or convert the document to PDF"
    )]
    NoGhostscript,
    /// `gs` failed on the document.
    #[error("Ghostscript cannot convert the PostScript: {0}")]
    Failed(String),
    /// `gs` was still running after the time limit (and was stopped).
    #[error("Ghostscript did not finish converting the PostScript within {0} s")]
    TooSlow(u64),
}

/// Whether the bytes are PostScript (`%!PS`, or the DOS EPS binary header).
pub fn looks_like_postscript(data: &[u8]) -> bool {
    data.starts_with(b"%!PS") || data.starts_with(b"\xc5\xd0\xd3\xc6")
}

/// The document converted to PDF by `gs`, within [`GS_TIME_LIMIT`].
pub fn postscript_to_pdf(data: &[u8]) -> Result<Vec<u8>, PsError> {
    postscript_to_pdf_within(data, GS_TIME_LIMIT)
}

/// The document converted to PDF by `gs`; `gs` is killed when it runs longer than `limit`.
pub fn postscript_to_pdf_within(data: &[u8], limit: Duration) -> Result<Vec<u8>, PsError> {
    let mut child = Command::new("gs")
        .args([
            "-q",
            "-dSAFER",
            "-dBATCH",
            "-dNOPAUSE",
            "-sstdout=%stderr",
            "-sDEVICE=pdfwrite",
            "-sOutputFile=-",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PsError::NoGhostscript,
            _ => PsError::Failed(e.to_string()),
        })?;
    let mut stdin = child.stdin.take().expect("piped");
    let input = data.to_vec();
    // Written from a thread: gs may fill its output pipe before it has read all its input.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let mut pdf = Vec::new();
    let mut errors = String::new();
    let mut stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut e = String::new();
        let _ = stderr.read_to_string(&mut e);
        e
    });
    // The watchdog kills gs at the limit unless told it is done. `done` is set (under the lock)
    // before gs is reaped, so the watchdog never signals a process id that was reused.
    let done = Arc::new(Mutex::new(false));
    let pid = child.id() as libc::pid_t;
    let killed = Arc::new(Mutex::new(false));
    let watchdog = {
        let (done, killed) = (done.clone(), killed.clone());
        std::thread::spawn(move || {
            let start = std::time::Instant::now();
            loop {
                // Unparked when gs has finished (or early, spuriously: checked again).
                std::thread::park_timeout(limit.saturating_sub(start.elapsed()));
                let finished = *done.lock().unwrap_or_else(|e| e.into_inner());
                if finished {
                    return;
                }
                if start.elapsed() >= limit {
                    let d = done.lock().unwrap_or_else(|e| e.into_inner());
                    if !*d {
                        // SAFETY: kill(2) on our own child, not yet reaped (see `done`).
                        unsafe {
                            libc::kill(pid, libc::SIGKILL);
                        }
                        *killed.lock().unwrap_or_else(|e| e.into_inner()) = true;
                    }
                    return;
                }
            }
        })
    };
    let read = stdout.read_to_end(&mut pdf);
    let _ = writer.join();
    *done.lock().unwrap_or_else(|e| e.into_inner()) = true;
    watchdog.thread().unpark();
    let _ = watchdog.join();
    if let Ok(e) = reader.join() {
        errors = e;
    }
    let status = child.wait().map_err(|e| PsError::Failed(e.to_string()))?;
    read.map_err(|e| PsError::Failed(e.to_string()))?;
    if *killed.lock().unwrap_or_else(|e| e.into_inner()) {
        return Err(PsError::TooSlow(limit.as_secs()));
    }
    if !status.success() || pdf.is_empty() {
        let first = errors
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("no PDF was produced");
        return Err(PsError::Failed(first.to_owned()));
    }
    Ok(pdf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postscript_program_that_never_ends_is_stopped() {
        if Command::new("gs").arg("--version").output().is_err() {
            return; // tests/pdf_jobs.rs requires gs; this one only needs it to exist
        }
        let forever = b"%!PS\n{ 1 pop } loop\n";
        assert_eq!(
            postscript_to_pdf_within(forever, Duration::from_secs(1)),
            Err(PsError::TooSlow(1))
        );
        let err = postscript_to_pdf(b"%!PS\n/undefinedthing foo\n").unwrap_err();
        assert!(matches!(err, PsError::Failed(_)), "{err}");
        let pdf =
            postscript_to_pdf(b"%!PS\n72 72 moveto 200 200 lineto stroke showpage\n").unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}
