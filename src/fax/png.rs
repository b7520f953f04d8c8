//! Fax pages as PNG images: the page itself (one pixel per fax pixel, 1 bit) for `redial
//! preview`, and a small greyscale thumbnail for the web job page.
//!
//! Owns only the encoding; it never reads or renders documents.

use super::{Page, Resolution};

/// The page as a 1-bit greyscale PNG (black = 0), with its pixel aspect (204 dpi across, 196
/// or 98 down) in the pHYs chunk.
pub fn page_png(page: &Page) -> Result<Vec<u8>, png::EncodingError> {
    let b = page.bitmap();
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, b.width(), b.height());
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::One);
    // Pixels per metre: 204 dpi = 8031, 196 lpi = 7717, 98 lpi = 3858.
    let down = match page.resolution() {
        Resolution::Fine => 7717,
        Resolution::Standard => 3858,
    };
    enc.set_pixel_dims(Some(png::PixelDimensions {
        xppu: 8031,
        yppu: down,
        unit: png::Unit::Meter,
    }));
    let mut w = enc.write_header()?;
    // PNG greyscale: 1 = white; the bitmap: 1 = black.
    let data: Vec<u8> = b.data().iter().map(|v| !v).collect();
    // Padding bits past the width are ignored by decoders.
    w.write_image_data(&data)?;
    w.finish()?;
    Ok(out)
}

/// A greyscale thumbnail of the page, `1/step` of its width (each thumbnail pixel the share of
/// white in its block of fax pixels), in proportion: blocks are `step` pixels wide and `step`
/// fine lines (`step / 2` standard lines) high.
pub fn thumbnail_png(page: &Page, step: u32) -> Result<Vec<u8>, png::EncodingError> {
    let b = page.bitmap();
    let step = step.max(2);
    let rows_per = match page.resolution() {
        Resolution::Fine => step,
        Resolution::Standard => step / 2,
    };
    let (w, h) = (b.width().div_ceil(step), b.height().div_ceil(rows_per));
    let stride = b.data().len() / b.height().max(1) as usize;
    let mut grey = vec![0u8; (w * h) as usize];
    for ty in 0..h {
        for tx in 0..w {
            let (mut black, mut all) = (0u32, 0u32);
            for y in ty * rows_per..((ty + 1) * rows_per).min(b.height()) {
                let row = &b.data()[y as usize * stride..(y as usize + 1) * stride];
                for x in tx * step..((tx + 1) * step).min(b.width()) {
                    all += 1;
                    // MSB first: bit 7 of byte 0 is the leftmost pixel.
                    black += u32::from(row[x as usize / 8] >> (7 - x % 8) & 1);
                }
            }
            grey[(ty * w + tx) as usize] = (255 - black * 255 / all.max(1)) as u8;
        }
    }
    let mut out = Vec::new();
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    let mut wr = enc.write_header()?;
    wr.write_image_data(&grey)?;
    wr.finish()?;
    Ok(out)
}
