//! T.4/T.6 decoding into a [`Bitmap`] through `hayro-ccitt`: the inbound half of the codec,
//! used by the TIFF reader and as the encoder's test oracle.
//!
//! Owns the adapter between hayro-ccitt's colour-change rows and packed bitmaps. Pure.

use super::bitmap::{Bitmap, MAX_PAGE_LINES};
use super::bits::{reverse_bits, BitOrder};
use hayro_ccitt::{DecodeSettings, Decoder, DecoderContext, EncodingMode};
use thiserror::Error;

/// How the data to decode was coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// T.4 1-D (Modified Huffman) with EOLs.
    Mh,
    /// T.4 2-D (Modified READ) with EOL + tag bit.
    Mr,
    /// T.6 (Group 4, MMR).
    G4,
    /// TIFF compression 2: MH runs without EOLs, each row starting on a byte boundary.
    MhRowsAligned,
}

/// Why data could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The decoder stopped at a coding error.
    #[error("T.4/T.6 data is damaged after {rows} rows: {reason}")]
    Damaged {
        /// Rows decoded before the error.
        rows: u32,
        /// hayro-ccitt's description.
        reason: String,
    },
    /// The width is zero.
    #[error("image width is zero")]
    ZeroWidth,
}

struct Rows<'a> {
    bitmap: &'a mut Bitmap,
    limit: u32,
}

impl Decoder for Rows<'_> {
    fn push_row(&mut self, changes: &[u32]) {
        if self.bitmap.height() < self.limit {
            self.bitmap.push_row_from_changes(changes);
        }
    }
}

/// Decodes coded page data of `width` pixels. `rows = 0` decodes until RTC/EOFB, the end of
/// the data or [`MAX_PAGE_LINES`] rows; otherwise at most `rows` rows. Damaged lines are skipped to the next EOL where the
/// data has EOLs (hayro-ccitt's lenient mode); an error is returned only when decoding cannot
/// continue.
pub fn decode(
    data: &[u8],
    width: u32,
    rows: u32,
    scheme: Scheme,
    bit_order: BitOrder,
) -> Result<Bitmap, DecodeError> {
    let mut bitmap = Bitmap::new(width, 0);
    decode_into(data, rows, scheme, bit_order, &mut bitmap)?;
    Ok(bitmap)
}

/// Like [`decode`], appending rows to `bitmap` (whose width is used) and returning how many
/// rows were added. On an error the rows decoded so far stay in `bitmap`.
pub fn decode_into(
    data: &[u8],
    rows: u32,
    scheme: Scheme,
    bit_order: BitOrder,
    bitmap: &mut Bitmap,
) -> Result<u32, DecodeError> {
    let width = bitmap.width();
    if width == 0 {
        return Err(DecodeError::ZeroWidth);
    }
    let reversed;
    let data = match bit_order {
        BitOrder::MsbFirst => data,
        BitOrder::LsbFirst => {
            reversed = reverse_bits(data);
            &reversed[..]
        }
    };
    let (encoding, end_of_line, aligned) = match scheme {
        Scheme::Mh => (EncodingMode::Group3_1D, true, false),
        Scheme::Mr => (EncodingMode::Group3_2D, true, false),
        Scheme::G4 => (EncodingMode::Group4, false, false),
        Scheme::MhRowsAligned => (EncodingMode::Group3_1D, false, true),
    };
    let rows = if rows == 0 { MAX_PAGE_LINES } else { rows };
    let settings = DecodeSettings {
        columns: width,
        rows,
        end_of_block: true,
        end_of_line,
        rows_are_byte_aligned: aligned,
        encoding,
        strict: false,
    };
    let before = bitmap.height();
    let limit = before.saturating_add(rows);
    let mut ctx = DecoderContext::new(settings);
    let mut sink = Rows { bitmap, limit };
    let result = hayro_ccitt::decode(data, &mut sink, &mut ctx);
    let added = sink.bitmap.height() - before;
    match result {
        Ok(_) => Ok(added),
        Err(e) => Err(DecodeError::Damaged {
            rows: added,
            reason: e.to_string(),
        }),
    }
}
