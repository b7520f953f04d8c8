//! TIFF Class F (and other bilevel TIFF) reading: every IFD is a page.
//!
//! The `tiff` crate walks the IFDs and reads the tags; the strips are taken straight from the
//! file bytes and decoded with `hayro-ccitt` (the tiff crate refuses `Compression = 3`).
//! Supported compressions: 1 (none), 2 (CCITT RLE), 3 (T.4 MH or MR per `T4Options` bit 0),
//! 4 (T.6). `FillOrder = 2` is bit-reversed first; `PhotometricInterpretation = 1`
//! (BlackIsZero) is inverted. The vertical resolution comes from `YResolution` and
//! `ResolutionUnit` (≈ 98 lpi → standard, ≈ 196 → fine; missing → fine); images at other
//! resolutions (300 dpi scans…) are resampled to 204 × 196 dpi.
//! Pure: bytes in, pages out; never panics on any input.

use super::bitmap::{Bitmap, Page, Resolution, MAX_IMAGE_WIDTH, MAX_PAGE_LINES};
use super::bits::{reverse_bits, BitOrder};
use super::decode::{decode_into, Scheme};
use std::io::Cursor;
use thiserror::Error;
use tiff::decoder::Decoder;
use tiff::tags::Tag;

/// The most pages read from one TIFF.
pub const MAX_TIFF_PAGES: usize = 1000;

const TAG_T4_OPTIONS: u16 = 292;
const TAG_T6_OPTIONS: u16 = 293;

/// Why bytes are not a usable bilevel TIFF.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TiffError {
    /// No `II*\0` / `MM\0*` signature.
    #[error("not a TIFF file")]
    NotTiff,
    /// The tiff crate could not parse the structure.
    #[error("page {page}: {reason}")]
    Malformed {
        /// 1-based page (IFD) number.
        page: usize,
        /// What the parser said.
        reason: String,
    },
    /// A feature outside fax documents (colour, tiles, JPEG…).
    #[error("page {page}: unsupported: {what}")]
    Unsupported {
        /// 1-based page number.
        page: usize,
        /// What is not supported.
        what: String,
    },
    /// Strip data could not be decoded.
    #[error("page {page}: {reason}")]
    BadData {
        /// 1-based page number.
        page: usize,
        /// The decoder's reason.
        reason: String,
    },
    /// More pages than [`MAX_TIFF_PAGES`].
    #[error("more than {MAX_TIFF_PAGES} pages")]
    TooManyPages,
}

/// True when `data` starts with a TIFF signature (classic or BigTIFF).
pub fn looks_like_tiff(data: &[u8]) -> bool {
    data.starts_with(b"II*\0")
        || data.starts_with(b"MM\0*")
        || data.starts_with(b"II+\0")
        || data.starts_with(b"MM\0+")
}

/// Reads every page of a bilevel TIFF.
pub fn read_tiff(data: &[u8]) -> Result<Vec<Page>, TiffError> {
    if !looks_like_tiff(data) {
        return Err(TiffError::NotTiff);
    }
    let malformed = |page: usize| {
        move |e: tiff::TiffError| TiffError::Malformed {
            page,
            reason: e.to_string(),
        }
    };
    let mut decoder = Decoder::new(Cursor::new(data)).map_err(malformed(1))?;
    let mut pages = Vec::new();
    loop {
        let number = pages.len() + 1;
        if number > MAX_TIFF_PAGES {
            return Err(TiffError::TooManyPages);
        }
        pages.push(read_page(&mut decoder, data, number)?);
        if !decoder.more_images() {
            break;
        }
        decoder.next_image().map_err(malformed(number + 1))?;
    }
    Ok(pages)
}

/// Reads the current IFD's page.
fn read_page(
    decoder: &mut Decoder<Cursor<&[u8]>>,
    data: &[u8],
    page: usize,
) -> Result<Page, TiffError> {
    let malformed = |e: tiff::TiffError| TiffError::Malformed {
        page,
        reason: e.to_string(),
    };
    let unsupported = |what: String| TiffError::Unsupported { page, what };
    let tag_u32 = |decoder: &mut Decoder<Cursor<&[u8]>>, tag: Tag, default: u32| {
        decoder
            .find_tag_unsigned::<u32>(tag)
            .map(|v| v.unwrap_or(default))
            .map_err(malformed)
    };

    let (width, height) = decoder.dimensions().map_err(malformed)?;
    if width > MAX_IMAGE_WIDTH || height > MAX_PAGE_LINES {
        return Err(unsupported(format!("image size {width}x{height}")));
    }
    let bits = tag_u32(decoder, Tag::BitsPerSample, 1)?;
    let samples = tag_u32(decoder, Tag::SamplesPerPixel, 1)?;
    if bits != 1 || samples != 1 {
        return Err(unsupported(format!(
            "{samples} samples of {bits} bits (fax pages are bilevel)"
        )));
    }
    if decoder
        .find_tag(Tag::TileWidth)
        .map_err(malformed)?
        .is_some()
    {
        return Err(unsupported("tiled image".into()));
    }
    let compression = tag_u32(decoder, Tag::Compression, 1)?;
    let photometric = tag_u32(decoder, Tag::PhotometricInterpretation, 0)?;
    let fill_order = tag_u32(decoder, Tag::FillOrder, 1)?;
    let t4_options = tag_u32(decoder, Tag::Unknown(TAG_T4_OPTIONS), 0)?;
    let t6_options = tag_u32(decoder, Tag::Unknown(TAG_T6_OPTIONS), 0)?;
    let rows_per_strip = tag_u32(decoder, Tag::RowsPerStrip, height)?.max(1);
    let scheme = match compression {
        1 => None,
        2 => Some(Scheme::MhRowsAligned),
        3 if t4_options & 0b10 != 0 => {
            return Err(unsupported("T.4 uncompressed mode".into()));
        }
        3 if t4_options & 1 != 0 => Some(Scheme::Mr),
        3 => Some(Scheme::Mh),
        4 if t6_options & 0b10 != 0 => {
            return Err(unsupported("T.6 uncompressed mode".into()));
        }
        4 => Some(Scheme::G4),
        other => return Err(unsupported(format!("compression {other}"))),
    };
    let offsets = decoder
        .find_tag_unsigned_vec::<u64>(Tag::StripOffsets)
        .map_err(malformed)?
        .ok_or_else(|| TiffError::Malformed {
            page,
            reason: "no StripOffsets".into(),
        })?;
    let counts = decoder
        .find_tag_unsigned_vec::<u64>(Tag::StripByteCounts)
        .map_err(malformed)?
        .ok_or_else(|| TiffError::Malformed {
            page,
            reason: "no StripByteCounts".into(),
        })?;
    if offsets.len() != counts.len() {
        return Err(TiffError::Malformed {
            page,
            reason: "StripOffsets and StripByteCounts differ in length".into(),
        });
    }

    let mut bitmap = Bitmap::new(width, 0);
    for (strip, (&offset, &count)) in offsets.iter().zip(&counts).enumerate() {
        let done = bitmap.height();
        if done >= height {
            break;
        }
        let rows = rows_per_strip.min(height - done);
        let bytes = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(count).ok())
            .and_then(|(o, c)| data.get(o..o.checked_add(c)?))
            .ok_or_else(|| TiffError::Malformed {
                page,
                reason: format!("strip {strip} lies outside the file"),
            })?;
        let order = if fill_order == 2 {
            BitOrder::LsbFirst
        } else {
            BitOrder::MsbFirst
        };
        match scheme {
            None => push_uncompressed(&mut bitmap, bytes, rows, order),
            Some(scheme) => {
                decode_into(bytes, rows, scheme, order, &mut bitmap).map_err(|e| {
                    TiffError::BadData {
                        page,
                        reason: format!("strip {strip}: {e}"),
                    }
                })?;
            }
        }
        // A strip that ends early leaves white rows, as a fax receiver would.
        while bitmap.height() < done + rows {
            bitmap.push_row_from_changes(&[]);
        }
    }
    while bitmap.height() < height {
        bitmap.push_row_from_changes(&[]);
    }
    if photometric == 1 {
        bitmap.invert();
    }
    to_page(decoder, bitmap).map_err(malformed)
}

/// Rows of packed uncompressed pixels (compression 1); missing bytes are white.
fn push_uncompressed(bitmap: &mut Bitmap, bytes: &[u8], rows: u32, order: BitOrder) {
    let stride = bitmap.stride();
    let bytes = match order {
        BitOrder::MsbFirst => bytes.to_vec(),
        BitOrder::LsbFirst => reverse_bits(bytes),
    };
    let mut changes = Vec::new();
    for row in bytes.chunks(stride).take(rows as usize) {
        let mut full = row.to_vec();
        full.resize(stride, 0);
        if let Some(clean) = Bitmap::from_packed(bitmap.width(), 1, full) {
            clean.row_changes(0, &mut changes);
            bitmap.push_row_from_changes(&changes);
        }
    }
}

/// A numeric tag value as f64 (rationals divided out).
fn number(value: tiff::decoder::ifd::Value) -> Option<f64> {
    use tiff::decoder::ifd::Value;
    match value {
        Value::Rational(n, d) if d != 0 => Some(f64::from(n) / f64::from(d)),
        Value::Short(v) => Some(f64::from(v)),
        Value::Unsigned(v) => Some(f64::from(v)),
        Value::Float(v) => Some(f64::from(v)),
        Value::Double(v) => Some(v),
        Value::List(mut list) if list.len() == 1 => list.pop().and_then(number),
        _ => None,
    }
}

/// Dots per inch from a resolution tag, or `None` when absent, unitless or nonsense.
fn dpi(decoder: &mut Decoder<Cursor<&[u8]>>, tag: Tag) -> Result<Option<f64>, tiff::TiffError> {
    let unit = decoder
        .find_tag_unsigned::<u32>(Tag::ResolutionUnit)?
        .unwrap_or(2);
    let value = decoder.find_tag(tag)?.and_then(number);
    Ok(match (value, unit) {
        (Some(v), 3) => Some(v * 2.54),
        (Some(v), 2) => Some(v),
        _ => None,
    }
    .filter(|v| v.is_finite() && (10.0..=4800.0).contains(v)))
}

/// The page for a decoded image. Fax resolutions (x ≈ 204 dpi or unknown, y ≈ 98 or ≈ 196
/// lpi or unknown) are kept pixel for pixel; anything else (a 300 or 400 dpi scan) is
/// resampled to 204 × 196 dpi so the page keeps its physical size.
fn to_page(decoder: &mut Decoder<Cursor<&[u8]>>, bitmap: Bitmap) -> Result<Page, tiff::TiffError> {
    let x = dpi(decoder, Tag::XResolution)?;
    let y = dpi(decoder, Tag::YResolution)?;
    let x_is_fax = x.is_none_or(|x| (190.0..=220.0).contains(&x));
    let y_is_fax = y.is_none_or(|y| (88.0..=108.0).contains(&y) || (180.0..=215.0).contains(&y));
    if x_is_fax && y_is_fax {
        let resolution = y.map_or(Resolution::Fine, Resolution::from_lines_per_inch);
        return Ok(Page::new(bitmap, resolution));
    }
    let scale = |pixels: u32, from: Option<f64>, to: f64| -> u32 {
        let scaled = from.map_or(f64::from(pixels), |from| f64::from(pixels) * to / from);
        (scaled.round() as u32).clamp(1, MAX_PAGE_LINES)
    };
    let width = scale(bitmap.width(), x, 204.0).min(MAX_IMAGE_WIDTH);
    let height = scale(bitmap.height(), y, 196.0);
    Ok(Page::new(bitmap.resample(width, height), Resolution::Fine))
}
