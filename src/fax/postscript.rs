//! PostScript documents: converted to PDF by Ghostscript (`gs`, optional; Debian package
//! `ghostscript`), then drawn like any PDF. The only part of the codec that runs a program: `gs`
//! reads the document on its standard input and writes the PDF on its standard output, with
//! `-dSAFER` (no file access from the document). Without `gs` on the `PATH` a PostScript document
//! is refused with a clear message.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use thiserror::Error;

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
}

/// Whether the bytes are PostScript (`%!PS`, or the DOS EPS binary header).
pub fn looks_like_postscript(data: &[u8]) -> bool {
    data.starts_with(b"%!PS") || data.starts_with(b"\xc5\xd0\xd3\xc6")
}

/// The document converted to PDF by `gs`.
pub fn postscript_to_pdf(data: &[u8]) -> Result<Vec<u8>, PsError> {
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
    let read = stdout.read_to_end(&mut pdf);
    let _ = writer.join();
    if let Ok(e) = reader.join() {
        errors = e;
    }
    let status = child.wait().map_err(|e| PsError::Failed(e.to_string()))?;
    read.map_err(|e| PsError::Failed(e.to_string()))?;
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
