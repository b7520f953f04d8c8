//! The fax page codec: documents in, T.4 page data out. Pure code for the Class 2/2.0 sender
//! (and, through [`decode`], for inbound pages and tests).
//!
//! - [`bitmap`]: [`Bitmap`], [`Page`] (1728 pixels wide) and [`Resolution`], fine → standard.
//! - [`document`]: [`load_document`] picks the reader by content and name; [`DocError`] says
//!   which file failed and why. The only file access of the codec is its single read.
//! - [`tiff`], [`pbm`], [`text`], [`pdf`]: the readers (TIFF Class F, PBM P1/P4, plain text
//!   rendered with the embedded DejaVu Sans Mono, PDF drawn with hayro).
//! - [`t4`]: the MH/MR encoder with EOL alignment, minimum line length and optional RTC;
//!   [`bits`]: bit order ([`BitOrder`], [`reverse_bits`]).
//! - [`decode`]: T.4/T.6 decoding through hayro-ccitt.
//!
//! - [`cover`]: cover page templates (`$fax_cover`), fields filled from the job.
//! - [`header`]: the header line (`$fax_header`) stamped at the top of every page.
//! - [`postscript`]: PostScript through Ghostscript (`gs`, optional) into the PDF reader.
//!
//! The codec never writes files, never talks to a modem and never escapes DLE: framing the page
//! data for the modem is the sender's job. It runs one program, Ghostscript, and only for a
//! PostScript document.

pub mod bitmap;
pub mod bits;
pub mod cover;
pub mod decode;
pub mod document;
pub mod header;
pub mod pbm;
pub mod pdf;
pub mod png;
pub mod postscript;
pub mod t4;
pub mod text;
pub mod tiff;

pub use bitmap::{Bitmap, Page, Resolution, MAX_IMAGE_WIDTH, MAX_PAGE_LINES, PAGE_WIDTH};
pub use bits::{reverse_bits, reverse_bits_in_place, BitOrder};
pub use cover::{fill_cover, CoverError};
pub use decode::{DecodeError, Scheme};
pub use document::{
    count_pages, detect_format, load_document, load_document_at, pages_from_bytes,
    pages_from_bytes_at, DocError, DocumentFormat,
};
pub use header::{header_text, stamp_header, HeaderFields};
pub use pbm::{read_pbm, write_pbm, PbmError};
pub use pdf::{inspect_pdf, render_pdf, PdfError, PdfInfo};
pub use t4::{encode, encode_mh, encode_mr, Coding, EncodeOptions};
pub use text::{render_text, TextLayout, TextRenderer};
pub use tiff::{read_tiff, TiffError};
