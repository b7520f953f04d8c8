//! Documents → fax pages: recognising a job's document (TIFF, PBM, PDF or plain text) and
//! turning it into [`Page`]s, with errors that name the file and the reason (and the page, for
//! a PDF).
//!
//! [`load_document`] is the only function of the codec that touches the file system (one
//! read); [`pages_from_bytes`] is the pure core and never panics on any input.

use super::bitmap::{Page, Resolution};
use super::pbm::{looks_like_pbm, read_pbm, PbmError};
use super::pdf::{inspect_pdf, looks_like_pdf, render_pdf, PdfError};
use super::postscript::{looks_like_postscript, postscript_to_pdf, PsError};
use super::text::render_text;
use super::tiff::{looks_like_tiff, read_tiff, TiffError};
use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The most bytes read from one document (a 1000-page fine TIFF is about 50 MB).
pub const MAX_DOCUMENT_BYTES: u64 = 256 * 1024 * 1024;

/// The document formats the codec reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DocumentFormat {
    /// TIFF (Class F or any bilevel TIFF).
    Tiff,
    /// Netpbm bitmap, P1 or P4.
    Pbm,
    /// Plain text, rendered in a monospace font.
    Text,
    /// PDF, rendered with hayro.
    Pdf,
    /// PostScript, converted to PDF by Ghostscript when it is installed.
    PostScript,
}

/// Why a document cannot be faxed. Every variant names the file.
#[derive(Debug, Error)]
pub enum DocError {
    /// The file does not exist.
    #[error("{}: file not found", path.display())]
    Missing {
        /// The document.
        path: PathBuf,
    },
    /// The file exists but cannot be read (permissions, a directory, I/O error, too large).
    #[error("{}: cannot read: {source}", path.display())]
    Unreadable {
        /// The document.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Neither TIFF, PBM nor text.
    #[error("{}: unsupported format: {what}", path.display())]
    Unsupported {
        /// The document.
        path: PathBuf,
        /// What it looks like.
        what: String,
    },
    /// A TIFF that cannot be read.
    #[error("{}: bad TIFF: {source}", path.display())]
    BadTiff {
        /// The document.
        path: PathBuf,
        /// The reason.
        source: TiffError,
    },
    /// A PBM that cannot be read.
    #[error("{}: bad PBM: {source}", path.display())]
    BadPbm {
        /// The document.
        path: PathBuf,
        /// The reason.
        source: PbmError,
    },
    /// A PDF that cannot be opened or one of whose pages cannot be drawn.
    #[error("{}: {source}", path.display())]
    BadPdf {
        /// The document.
        path: PathBuf,
        /// The reason (naming the page when one page is at fault).
        source: PdfError,
    },
    /// A PostScript document Ghostscript cannot convert, or no Ghostscript.
    #[error("{}: {source}", path.display())]
    BadPostScript {
        /// The document.
        path: PathBuf,
        /// The reason.
        source: PsError,
    },
    /// The document has no page to send (an empty file, or text with no visible character).
    #[error("{}: empty document, nothing to send", path.display())]
    Empty {
        /// The document.
        path: PathBuf,
    },
}

impl DocError {
    /// The document the error is about.
    pub fn path(&self) -> &Path {
        match self {
            DocError::Missing { path }
            | DocError::Unreadable { path, .. }
            | DocError::Unsupported { path, .. }
            | DocError::BadTiff { path, .. }
            | DocError::BadPbm { path, .. }
            | DocError::BadPdf { path, .. }
            | DocError::BadPostScript { path, .. }
            | DocError::Empty { path } => path,
        }
    }
}

/// Reads the document at `path` and converts it into pages (see [`pages_from_bytes`]).
pub fn load_document(path: impl AsRef<Path>) -> Result<Vec<Page>, DocError> {
    let path = path.as_ref();
    let data = read_file(path)?;
    pages_from_bytes(path, &data)
}

/// Reads the document at `path` and converts it into pages, drawing a PDF straight at
/// `resolution` (other formats come at their own resolution; the caller converts).
pub fn load_document_at(
    path: impl AsRef<Path>,
    resolution: Resolution,
) -> Result<Vec<Page>, DocError> {
    let path = path.as_ref();
    let data = read_file(path)?;
    pages_from_bytes_at(path, &data, resolution)
}

/// Checks the document at `path` the cheap way and counts its pages: a PDF is opened and each
/// page's content decoded without drawing it (see [`inspect_pdf`]); other formats are read in
/// full (they are quick to read). For intake and `redial submit`, before any call.
///
/// Counts are remembered per file identity (device, inode, size, modification and change
/// times; at most 4096 files), so a campaign of many jobs naming one document reads it once.
/// Failures are not remembered.
pub fn count_pages(path: impl AsRef<Path>) -> Result<usize, DocError> {
    use std::collections::HashMap;
    use std::os::unix::fs::MetadataExt;
    use std::sync::{LazyLock, Mutex};
    type Identity = (PathBuf, u64, u64, u64, i64, i64, i64, i64);
    static COUNTS: LazyLock<Mutex<HashMap<Identity, usize>>> = LazyLock::new(Mutex::default);
    let path = path.as_ref();
    let identity = std::fs::metadata(path).ok().map(|m| {
        (
            path.to_owned(),
            m.dev(),
            m.ino(),
            m.size(),
            m.mtime(),
            m.mtime_nsec(),
            m.ctime(),
            m.ctime_nsec(),
        )
    });
    if let Some(id) = &identity {
        if let Some(n) = COUNTS.lock().ok().and_then(|c| c.get(id).copied()) {
            return Ok(n);
        }
    }
    let n = count_pages_now(path)?;
    if let (Some(id), Ok(mut c)) = (identity, COUNTS.lock()) {
        if c.len() >= 4096 {
            c.clear();
        }
        c.insert(id, n);
    }
    Ok(n)
}

fn count_pages_now(path: &Path) -> Result<usize, DocError> {
    let data = read_file(path)?;
    if looks_like_pdf(&data) {
        return inspect_pdf(&data)
            .map(|i| i.pages)
            .map_err(|source| DocError::BadPdf {
                path: path.to_owned(),
                source,
            });
    }
    pages_from_bytes(path, &data).map(|p| p.len())
}

fn read_file(path: &Path) -> Result<Vec<u8>, DocError> {
    use std::io::Read;
    let unreadable = |source| DocError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(|source| match source.kind() {
        io::ErrorKind::NotFound => DocError::Missing {
            path: path.to_owned(),
        },
        _ => unreadable(source),
    })?;
    let mut data = Vec::new();
    file.take(MAX_DOCUMENT_BYTES + 1)
        .read_to_end(&mut data)
        .map_err(unreadable)?;
    if data.len() as u64 > MAX_DOCUMENT_BYTES {
        return Err(unreadable(io::Error::other(format!(
            "larger than {MAX_DOCUMENT_BYTES} bytes"
        ))));
    }
    Ok(data)
}

/// Recognises the format: by content first (TIFF and PBM signatures, other known binary
/// formats refused), then by the name's extension (`.tif`/`.tiff`, `.pbm`, `.txt`/`.text`/
/// `.asc`), then text when the bytes are UTF-8 without control characters other than tab,
/// newline, carriage return and form feed.
pub fn detect_format(name: &Path, data: &[u8]) -> Result<DocumentFormat, String> {
    if looks_like_tiff(data) {
        return Ok(DocumentFormat::Tiff);
    }
    if looks_like_pbm(data) {
        return Ok(DocumentFormat::Pbm);
    }
    if looks_like_pdf(data) {
        return Ok(DocumentFormat::Pdf);
    }
    if looks_like_postscript(data) {
        return Ok(DocumentFormat::PostScript);
    }
    let ext = name
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("tif" | "tiff") => return Ok(DocumentFormat::Tiff),
        Some("pbm") => return Ok(DocumentFormat::Pbm),
        Some("txt" | "text" | "asc") => return Ok(DocumentFormat::Text),
        _ => {}
    }
    if let Some(what) = known_binary(data) {
        return Err(what.to_owned());
    }
    match std::str::from_utf8(data) {
        Ok(s)
            if s.chars()
                .all(|c| !c.is_control() || "\t\n\r\u{c}".contains(c)) =>
        {
            Ok(DocumentFormat::Text)
        }
        _ => Err("binary data (not TIFF, PBM or text)".to_owned()),
    }
}

/// Names a few formats people send by mistake.
fn known_binary(data: &[u8]) -> Option<&'static str> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG", "PNG image"),
        (b"\xff\xd8\xff", "JPEG image"),
        (b"GIF8", "GIF image"),
        (b"PK\x03\x04", "ZIP archive or office document"),
        (b"\xd0\xcf\x11\xe0", "office document"),
        (b"P2", "PGM greyscale image (fax pages are bilevel)"),
        (b"P3", "PPM colour image (fax pages are bilevel)"),
        (b"P5", "PGM greyscale image (fax pages are bilevel)"),
        (b"P6", "PPM colour image (fax pages are bilevel)"),
    ];
    SIGNATURES
        .iter()
        .find(|(magic, _)| data.starts_with(magic))
        .map(|(_, what)| *what)
}

/// Converts a document's bytes into pages; `name` is used for the format's extension hint and
/// in errors. A PDF is drawn at fine resolution. Pure (but for PostScript, as
/// [`pages_from_bytes_at`]).
pub fn pages_from_bytes(name: &Path, data: &[u8]) -> Result<Vec<Page>, DocError> {
    pages_from_bytes_at(name, data, Resolution::Fine)
}

/// [`pages_from_bytes`], drawing a PDF at `resolution`. Pure, except that PostScript is handed
/// to Ghostscript (see [`postscript`](super::postscript)).
pub fn pages_from_bytes_at(
    name: &Path,
    data: &[u8],
    resolution: Resolution,
) -> Result<Vec<Page>, DocError> {
    let path = || name.to_owned();
    if data.is_empty() {
        return Err(DocError::Empty { path: path() });
    }
    let format =
        detect_format(name, data).map_err(|what| DocError::Unsupported { path: path(), what })?;
    let pages = match format {
        DocumentFormat::Tiff => read_tiff(data).map_err(|source| DocError::BadTiff {
            path: path(),
            source,
        })?,
        DocumentFormat::Pbm => read_pbm(data).map_err(|source| DocError::BadPbm {
            path: path(),
            source,
        })?,
        DocumentFormat::Text => render_text(data),
        DocumentFormat::Pdf => render_pdf(data, resolution).map_err(|source| DocError::BadPdf {
            path: path(),
            source,
        })?,
        DocumentFormat::PostScript => {
            let pdf = postscript_to_pdf(data).map_err(|source| DocError::BadPostScript {
                path: path(),
                source,
            })?;
            render_pdf(&pdf, resolution).map_err(|source| DocError::BadPdf {
                path: path(),
                source,
            })?
        }
    };
    if pages.is_empty() {
        return Err(DocError::Empty { path: path() });
    }
    Ok(pages)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection() {
        let p = Path::new;
        assert_eq!(
            detect_format(p("x.bin"), b"II*\0rest"),
            Ok(DocumentFormat::Tiff)
        );
        assert_eq!(
            detect_format(p("x.txt"), b"P4\n1 1\n\0"),
            Ok(DocumentFormat::Pbm)
        );
        assert_eq!(
            detect_format(p("notes"), b"hello\n\tworld\x0c"),
            Ok(DocumentFormat::Text)
        );
        assert_eq!(detect_format(p("x.TXT"), b"a\0b"), Ok(DocumentFormat::Text));
        assert_eq!(detect_format(p("x.tif"), b"junk"), Ok(DocumentFormat::Tiff));
        assert_eq!(detect_format(p("x"), b"%PDF-1.4"), Ok(DocumentFormat::Pdf));
        assert!(detect_format(p("x"), b"a\0b").is_err());
        assert!(detect_format(p("x"), b"\xff\xfe").is_err());
    }

    #[test]
    fn errors_name_the_file() {
        let err = pages_from_bytes(Path::new("/spool/a.tif"), b"junk").unwrap_err();
        assert!(matches!(err, DocError::BadTiff { .. }));
        assert_eq!(err.to_string(), "/spool/a.tif: bad TIFF: not a TIFF file");
        let err = pages_from_bytes(Path::new("a.doc"), b"\xd0\xcf\x11\xe0....").unwrap_err();
        assert_eq!(
            err.to_string(),
            "a.doc: unsupported format: office document"
        );
        let err = pages_from_bytes(Path::new("e.txt"), b"").unwrap_err();
        assert!(matches!(err, DocError::Empty { .. }));
        let err = pages_from_bytes(Path::new("e.txt"), b"  \n\x0c\n").unwrap_err();
        assert!(matches!(err, DocError::Empty { .. }));
        assert_eq!(err.path(), Path::new("e.txt"));
        let err = pages_from_bytes(Path::new("/spool/order.pdf"), b"%PDF-1.4\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/spool/order.pdf: the PDF cannot be read (damaged or truncated)"
        );
    }
}
