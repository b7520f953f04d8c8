//! TIFF Class F output: one received page per file, the T.4 strip stored as received.
//!
//! Owns the tag set (Compression 3, FillOrder 1, T4Options, PageNumber, 204 dpi by 98/196
//! lines per inch). Writes to any `Write + Seek`; never decides file names.

use crate::t4::Coding;
use std::io::{Seek, Write};
use tiff::encoder::TiffEncoder;
use tiff::tags::Tag;

/// What the TIFF header says about the page.
#[derive(Debug, Clone, Copy)]
pub struct PageInfo {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// 196 (fine) or 98 (normal) lines per inch.
    pub yres: u32,
    /// MH or MR.
    pub coding: Coding,
    /// 0-based page number.
    pub page: u16,
}

/// Write a single-page TIFF-F around an MSB-first T.4 strip.
pub fn write_tiff_f<W: Write + Seek>(out: W, info: PageInfo, strip: &[u8]) -> tiff::TiffResult<()> {
    let mut enc = TiffEncoder::new(out)?;
    let mut dir = enc.image_directory()?;
    let offset = dir.write_data(strip)?;
    dir.write_tag(Tag::NewSubfileType, 2u32)?;
    dir.write_tag(Tag::ImageWidth, info.width)?;
    dir.write_tag(Tag::ImageLength, info.height)?;
    dir.write_tag(Tag::BitsPerSample, 1u16)?;
    dir.write_tag(Tag::Compression, 3u16)?;
    dir.write_tag(Tag::PhotometricInterpretation, 0u16)?;
    dir.write_tag(Tag::FillOrder, 1u16)?;
    dir.write_tag(Tag::StripOffsets, offset as u32)?;
    dir.write_tag(Tag::SamplesPerPixel, 1u16)?;
    dir.write_tag(Tag::RowsPerStrip, info.height)?;
    dir.write_tag(Tag::StripByteCounts, strip.len() as u32)?;
    dir.write_tag(Tag::XResolution, tiff::encoder::Rational { n: 204, d: 1 })?;
    dir.write_tag(
        Tag::YResolution,
        tiff::encoder::Rational { n: info.yres, d: 1 },
    )?;
    dir.write_tag(Tag::ResolutionUnit, 2u16)?;
    dir.write_tag(
        Tag::Unknown(292),
        match info.coding {
            Coding::Mh => 0u32,
            Coding::Mr | Coding::Mmr => 1u32,
        },
    )?;
    dir.write_tag(Tag::Unknown(297), &[info.page, 0u16][..])?;
    dir.write_tag(Tag::Software, "redial-sim")?;
    dir.finish()
}

/// Read back the strip and geometry of a TIFF written by [`write_tiff_f`] (or any
/// single-strip TIFF-F): (width, height, yres, T4Options, strip bytes, FillOrder).
pub fn read_tiff_f<R: std::io::Read + Seek>(
    r: R,
) -> tiff::TiffResult<(u32, u32, u32, u32, Vec<u8>, u16)> {
    use tiff::decoder::Decoder;
    let mut d = Decoder::new(r)?;
    let width = d.get_tag_u32(Tag::ImageWidth)?;
    let height = d.get_tag_u32(Tag::ImageLength)?;
    let yres = match d.get_tag(Tag::YResolution)? {
        tiff::decoder::ifd::Value::Rational(n, den) => n / den.max(1),
        v => v.into_u32()?,
    };
    let t4 = d.get_tag_u32(Tag::Unknown(292)).unwrap_or(0);
    let fill = d.get_tag_u32(Tag::FillOrder).unwrap_or(1) as u16;
    let offsets = d.get_tag_u32_vec(Tag::StripOffsets)?;
    let counts = d.get_tag_u32_vec(Tag::StripByteCounts)?;
    let mut strip = Vec::new();
    let inner = d.inner();
    for (o, c) in offsets.iter().zip(counts.iter()) {
        let mut buf = vec![0u8; *c as usize];
        inner.seek(std::io::SeekFrom::Start(*o as u64))?;
        std::io::Read::read_exact(inner, &mut buf)?;
        strip.extend_from_slice(&buf);
    }
    Ok((width, height, yres, t4, strip, fill))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::t4::{decode_page, encode_mh, Bitmap};

    #[test]
    fn write_then_read_and_decode() {
        let mut bm = Bitmap {
            width: 1728,
            height: 8,
            data: vec![0; 216 * 8],
        };
        bm.data[216 * 3 + 10] = 0xf0;
        let strip = encode_mh(&bm);
        let mut cur = std::io::Cursor::new(Vec::new());
        let info = PageInfo {
            width: 1728,
            height: 8,
            yres: 196,
            coding: Coding::Mh,
            page: 0,
        };
        write_tiff_f(&mut cur, info, &strip).unwrap();
        cur.set_position(0);
        let (w, h, y, t4, s, fill) = read_tiff_f(cur).unwrap();
        assert_eq!((w, h, y, t4, fill), (1728, 8, 196, 0, 1));
        assert_eq!(decode_page(&s, w, Coding::Mh).unwrap().bitmap, bm);
    }
}
