//! Netpbm bitmaps (PBM): reading plain (`P1`) and raw (`P4`) images, several concatenated images
//! as several pages, and writing `P4`.
//!
//! Owns the PBM syntax only. PBM carries no resolution: every page is taken as fine
//! (204 × 196 dpi, square-ish pixels), the usual assumption of fax tools for 1728-wide bitmaps.
//! Pure: bytes in, pages out; never panics on any input.

use super::bitmap::{Bitmap, Page, Resolution, MAX_IMAGE_WIDTH, MAX_PAGE_LINES};
use thiserror::Error;

/// Why bytes are not a usable PBM.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PbmError {
    /// The data does not start with `P1` or `P4`.
    #[error("not a PBM (P1/P4) file")]
    NotPbm,
    /// The header is cut short or has a non-number where width/height belong.
    #[error("bad PBM header: {0}")]
    BadHeader(&'static str),
    /// Width or height is zero or over the limits.
    #[error("unsupported PBM size {width}x{height} (at most {MAX_IMAGE_WIDTH}x{MAX_PAGE_LINES})")]
    BadSize {
        /// Declared width.
        width: u64,
        /// Declared height.
        height: u64,
    },
    /// The raster ends early.
    #[error("PBM raster truncated (image {image})")]
    Truncated {
        /// 1-based image number.
        image: usize,
    },
    /// A plain PBM raster holds something other than 0, 1 and whitespace.
    #[error("bad character in plain PBM raster")]
    BadRaster,
}

/// True when `data` starts like a PBM (`P1` or `P4` followed by whitespace or a comment).
pub fn looks_like_pbm(data: &[u8]) -> bool {
    data.len() >= 3
        && data[0] == b'P'
        && (data[1] == b'1' || data[1] == b'4')
        && (data[2].is_ascii_whitespace() || data[2] == b'#')
}

/// Reads one or more concatenated PBM images, one page each (fine resolution, fitted to 1728).
pub fn read_pbm(data: &[u8]) -> Result<Vec<Page>, PbmError> {
    if !looks_like_pbm(data) {
        return Err(PbmError::NotPbm);
    }
    let mut pages = Vec::new();
    let mut pos = 0;
    loop {
        let (bitmap, next) = read_image(data, pos, pages.len() + 1)?;
        pages.push(Page::new(bitmap, Resolution::Fine));
        pos = skip_space(data, next);
        if pos >= data.len() || !looks_like_pbm(&data[pos..]) {
            break;
        }
    }
    Ok(pages)
}

/// Serialises a bitmap as raw PBM (`P4`).
pub fn write_pbm(bitmap: &Bitmap) -> Vec<u8> {
    let mut out = format!("P4\n{} {}\n", bitmap.width(), bitmap.height()).into_bytes();
    out.extend_from_slice(bitmap.data());
    out
}

/// Reads the image starting at `pos`; returns it and the position after its raster.
fn read_image(data: &[u8], pos: usize, image: usize) -> Result<(Bitmap, usize), PbmError> {
    let raw = data[pos + 1] == b'4';
    let (width, pos) = read_number(data, pos + 2)?;
    let (height, pos) = read_number(data, pos)?;
    if width == 0
        || height == 0
        || width > u64::from(MAX_IMAGE_WIDTH)
        || height > u64::from(MAX_PAGE_LINES)
    {
        return Err(PbmError::BadSize { width, height });
    }
    let (width, height) = (width as u32, height as u32);
    if raw {
        // Exactly one whitespace byte separates the header from the raster.
        match data.get(pos) {
            Some(b) if b.is_ascii_whitespace() => {}
            Some(_) => return Err(PbmError::BadHeader("no whitespace before raster")),
            None => return Err(PbmError::Truncated { image }),
        }
        let start = pos + 1;
        let len = width.div_ceil(8) as usize * height as usize;
        let raster = data
            .get(start..start + len)
            .ok_or(PbmError::Truncated { image })?;
        let bitmap = Bitmap::from_packed(width, height, raster.to_vec())
            .ok_or(PbmError::Truncated { image })?;
        Ok((bitmap, start + len))
    } else {
        let mut bitmap = Bitmap::new(width, height);
        let mut pos = pos;
        for y in 0..height {
            for x in 0..width {
                pos = skip_space(data, pos);
                match data.get(pos) {
                    Some(b'0') => {}
                    Some(b'1') => bitmap.set(x, y, true),
                    Some(_) => return Err(PbmError::BadRaster),
                    None => return Err(PbmError::Truncated { image }),
                }
                pos += 1;
            }
        }
        Ok((bitmap, pos))
    }
}

/// Skips whitespace and `#` comments (to the end of their line).
fn skip_space(data: &[u8], mut pos: usize) -> usize {
    while let Some(&b) = data.get(pos) {
        if b == b'#' {
            while data.get(pos).is_some_and(|&c| c != b'\n' && c != b'\r') {
                pos += 1;
            }
        } else if b.is_ascii_whitespace() {
            pos += 1;
        } else {
            break;
        }
    }
    pos
}

fn read_number(data: &[u8], pos: usize) -> Result<(u64, usize), PbmError> {
    let mut pos = skip_space(data, pos);
    let start = pos;
    let mut value: u64 = 0;
    while let Some(&b) = data.get(pos) {
        if !b.is_ascii_digit() {
            break;
        }
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(PbmError::BadHeader("number too large"))?;
        pos += 1;
    }
    if pos == start {
        return Err(PbmError::BadHeader("expected a number"));
    }
    Ok((value, pos))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fax::PAGE_WIDTH;

    #[test]
    fn plain_and_raw_agree() {
        let plain = b"P1\n# a comment\n10 2\n1000000001\n0 1 0 0 0 0 0 0 1 0\n";
        let pages = read_pbm(plain).unwrap();
        assert_eq!(pages.len(), 1);
        let b = pages[0].bitmap();
        assert_eq!(b.width(), PAGE_WIDTH);
        assert_eq!(b.black_pixels(), 4);
        let offset = (PAGE_WIDTH - 10) / 2;
        assert!(b.get(offset, 0) && b.get(offset + 9, 0) && b.get(offset + 1, 1));

        let mut narrow = Bitmap::new(10, 2);
        for (x, y) in [(0, 0), (9, 0), (1, 1), (8, 1)] {
            narrow.set(x, y, true);
        }
        let raw = write_pbm(&narrow);
        assert_eq!(read_pbm(&raw).unwrap(), pages);
    }

    #[test]
    fn concatenated_images_are_pages() {
        let mut data = write_pbm(&Bitmap::new(PAGE_WIDTH, 3));
        data.extend(write_pbm(&Bitmap::new(PAGE_WIDTH, 5)));
        let pages = read_pbm(&data).unwrap();
        assert_eq!(pages.iter().map(Page::lines).collect::<Vec<_>>(), [3, 5]);
    }

    #[test]
    fn errors() {
        assert_eq!(read_pbm(b"P2\n1 1\n0"), Err(PbmError::NotPbm));
        assert_eq!(
            read_pbm(b"P4\n0 5\n"),
            Err(PbmError::BadSize {
                width: 0,
                height: 5
            })
        );
        assert_eq!(
            read_pbm(b"P4\n16 2\n\x00\x00\x00"),
            Err(PbmError::Truncated { image: 1 })
        );
        assert_eq!(read_pbm(b"P1\n2 1\n0x"), Err(PbmError::BadRaster));
        assert!(matches!(
            read_pbm(b"P4 99999999999999999999999 1\n"),
            Err(PbmError::BadHeader(_))
        ));
        assert!(matches!(
            read_pbm(b"P4 100000 1\n"),
            Err(PbmError::BadSize { .. })
        ));
    }
}
