//! Bilevel images and fax pages: packed rows (MSB first, 1 = black), the T.4 page width, the
//! vertical resolutions and the fine → standard conversion.
//!
//! Owns the pixel model only. It never reads files and never encodes.

/// Width of an ISO A4 / North American letter fax page in pixels (T.4, 215 mm at 8.04 pel/mm).
pub const PAGE_WIDTH: u32 = 1728;

/// The most scan lines a page read from a document may have (about 2.1 m at fine resolution);
/// longer images are refused rather than allocated.
pub const MAX_PAGE_LINES: u32 = 16384;

/// The widest image a reader accepts before cropping to [`PAGE_WIDTH`].
pub const MAX_IMAGE_WIDTH: u32 = 8192;

/// Vertical resolution of a fax page. The horizontal resolution is always 8.04 pel/mm (204 dpi).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Resolution {
    /// 3.85 lines/mm (≈ 98 lpi), T.30 "normal".
    Standard,
    /// 7.7 lines/mm (≈ 196 lpi), T.30 "fine"; the `R` retry prefix asks for [`Standard`](Self::Standard).
    Fine,
}

impl Resolution {
    /// Lines per inch, rounded as fax software usually writes them (98 / 196).
    pub fn lines_per_inch(self) -> u32 {
        match self {
            Resolution::Standard => 98,
            Resolution::Fine => 196,
        }
    }

    /// Lines per millimetre as T.4 defines them.
    pub fn lines_per_mm(self) -> f64 {
        match self {
            Resolution::Standard => 3.85,
            Resolution::Fine => 7.7,
        }
    }

    /// Scan lines of a full A4 page (297 mm): 1143 standard, 2287 fine.
    pub fn a4_lines(self) -> u32 {
        (297.0 * self.lines_per_mm()).round() as u32
    }

    /// The resolution closest to `lines_per_inch` (below 147 lpi → standard, otherwise fine).
    pub fn from_lines_per_inch(lines_per_inch: f64) -> Resolution {
        if lines_per_inch < 147.0 {
            Resolution::Standard
        } else {
            Resolution::Fine
        }
    }

    /// The T.4 `K` parameter for 2-D (MR) coding: at most one 2-D line after each 1-D line in
    /// standard resolution (K = 2), at most three in fine (K = 4).
    pub fn mr_k(self) -> u32 {
        match self {
            Resolution::Standard => 2,
            Resolution::Fine => 4,
        }
    }
}

/// A bilevel image: rows of packed pixels, most significant bit first, 1 = black (the PBM
/// convention). Bits past `width` in the last byte of a row are always zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

impl Bitmap {
    /// An all-white bitmap.
    pub fn new(width: u32, height: u32) -> Bitmap {
        let stride = width.div_ceil(8) as usize;
        Bitmap {
            width,
            height,
            data: vec![0; stride * height as usize],
        }
    }

    /// Wraps packed rows (`height` rows of `ceil(width / 8)` bytes). Returns `None` if the length
    /// does not match. Stray bits past `width` are cleared.
    pub fn from_packed(width: u32, height: u32, data: Vec<u8>) -> Option<Bitmap> {
        let stride = width.div_ceil(8) as usize;
        if stride.checked_mul(height as usize)? != data.len() {
            return None;
        }
        let mut bitmap = Bitmap {
            width,
            height,
            data,
        };
        bitmap.clear_padding();
        Some(bitmap)
    }

    /// Pixels per row.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Number of rows.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.width.div_ceil(8) as usize
    }

    /// All rows, packed.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// One packed row. Panics if `y >= height`.
    pub fn row(&self, y: u32) -> &[u8] {
        let s = self.stride();
        &self.data[y as usize * s..(y as usize + 1) * s]
    }

    /// One packed row, mutable. Keep the bits past `width` zero.
    pub fn row_mut(&mut self, y: u32) -> &mut [u8] {
        let s = self.stride();
        &mut self.data[y as usize * s..(y as usize + 1) * s]
    }

    /// Is pixel (x, y) black? Out-of-range pixels are white.
    pub fn get(&self, x: u32, y: u32) -> bool {
        x < self.width && y < self.height && self.row(y)[(x / 8) as usize] & (0x80 >> (x % 8)) != 0
    }

    /// Sets pixel (x, y); out-of-range coordinates are ignored.
    pub fn set(&mut self, x: u32, y: u32, black: bool) {
        if x >= self.width || y >= self.height {
            return;
        }
        let byte = &mut self.row_mut(y)[(x / 8) as usize];
        let mask = 0x80 >> (x % 8);
        if black {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }

    /// Number of black pixels.
    pub fn black_pixels(&self) -> u64 {
        self.data.iter().map(|b| u64::from(b.count_ones())).sum()
    }

    /// Inverts every pixel (for TIFFs with `PhotometricInterpretation = BlackIsZero`).
    pub fn invert(&mut self) {
        for b in &mut self.data {
            *b = !*b;
        }
        self.clear_padding();
    }

    /// Appends one row given as colour changes, the form T.4 decoders report: the row starts
    /// white and flips colour at each position in `changes` (ascending; positions past `width`
    /// are clipped).
    pub fn push_row_from_changes(&mut self, changes: &[u32]) {
        let stride = self.stride();
        let start = self.data.len();
        self.data.resize(start + stride, 0);
        let row = &mut self.data[start..];
        let mut pairs = changes.chunks(2);
        for pair in &mut pairs {
            let from = pair[0].min(self.width);
            let to = pair.get(1).copied().unwrap_or(self.width).min(self.width);
            fill_black(row, from, to);
        }
        self.height += 1;
    }

    /// The same image `width` pixels wide: narrower images are centred on white, wider ones lose
    /// equal margins on both sides (a 1734-pixel letter rendering keeps its middle 1728).
    pub fn fit_width(&self, width: u32) -> Bitmap {
        if width == self.width {
            return self.clone();
        }
        let mut out = Bitmap::new(width, self.height);
        for y in 0..self.height {
            let src = self.row(y);
            let dst = out.row_mut(y);
            if width > self.width {
                let offset = (width - self.width) / 2;
                copy_bits(src, 0, dst, offset, self.width);
            } else {
                let offset = (self.width - width) / 2;
                copy_bits(src, offset, dst, 0, width);
            }
        }
        out
    }

    /// The image resampled to `width` × `height` pixels. Each target pixel is black when any
    /// source pixel it covers is black, so thin lines and small type survive a reduction (a
    /// 300 dpi scan sent at 204 dpi); an enlargement repeats pixels.
    pub fn resample(&self, width: u32, height: u32) -> Bitmap {
        let mut out = Bitmap::new(width, height);
        if self.width == 0 || self.height == 0 {
            return out;
        }
        // Source span [start, end) of target index i along an axis.
        let span = |i: u32, target: u32, source: u32| -> (u32, u32) {
            let start = (u64::from(i) * u64::from(source) / u64::from(target)) as u32;
            let end = (u64::from(i + 1) * u64::from(source)).div_ceil(u64::from(target)) as u32;
            (start, end.max(start + 1).min(source))
        };
        let columns: Vec<(u32, u32)> = (0..width).map(|x| span(x, width, self.width)).collect();
        let mut merged = vec![0u8; self.stride()];
        for y in 0..height {
            let (from, to) = span(y, height, self.height);
            merged.fill(0);
            for sy in from..to {
                for (m, s) in merged.iter_mut().zip(self.row(sy)) {
                    *m |= s;
                }
            }
            for (x, &(from, to)) in columns.iter().enumerate() {
                if (from..to).any(|sx| merged[(sx / 8) as usize] & (0x80 >> (sx % 8)) != 0) {
                    out.set(x as u32, y, true);
                }
            }
        }
        out
    }

    /// Colour-change positions of row `y` (see [`push_row_from_changes`](Self::push_row_from_changes)),
    /// written into `out` (cleared first).
    pub fn row_changes(&self, y: u32, out: &mut Vec<u32>) {
        row_changes(self.row(y), self.width, out);
    }

    fn clear_padding(&mut self) {
        let rem = self.width % 8;
        if rem == 0 || self.height == 0 {
            return;
        }
        let mask = 0xFFu8 << (8 - rem);
        let stride = self.stride();
        for row in self.data.chunks_mut(stride) {
            if let Some(last) = row.last_mut() {
                *last &= mask;
            }
        }
    }
}

/// Sets pixels `from..to` of a packed row to black.
fn fill_black(row: &mut [u8], from: u32, to: u32) {
    let mut x = from;
    while x < to {
        let byte = (x / 8) as usize;
        let bit = x % 8;
        if bit == 0 && to - x >= 8 {
            let whole = ((to - x) / 8) as usize;
            row[byte..byte + whole].fill(0xFF);
            x += whole as u32 * 8;
        } else {
            row[byte] |= 0x80 >> bit;
            x += 1;
        }
    }
}

/// Copies `count` pixels from `src` at `src_x` to `dst` at `dst_x` (dst pixels start white).
fn copy_bits(src: &[u8], src_x: u32, dst: &mut [u8], dst_x: u32, count: u32) {
    for i in 0..count {
        let s = src_x + i;
        if src[(s / 8) as usize] & (0x80 >> (s % 8)) != 0 {
            let d = dst_x + i;
            dst[(d / 8) as usize] |= 0x80 >> (d % 8);
        }
    }
}

/// Colour-change positions of a packed row of `width` pixels, starting white.
pub(crate) fn row_changes(row: &[u8], width: u32, out: &mut Vec<u32>) {
    out.clear();
    let mut black = false;
    let mut x = 0u32;
    while x < width {
        let byte_index = (x / 8) as usize;
        let bit = x % 8;
        // Bits of this byte from position `bit` on, as "differs from the current colour".
        let byte = row[byte_index] ^ if black { 0xFF } else { 0x00 };
        let masked = byte & (0xFFu8 >> bit);
        if masked == 0 {
            x += 8 - bit;
            continue;
        }
        let pos = byte_index as u32 * 8 + masked.leading_zeros();
        if pos >= width {
            break;
        }
        out.push(pos);
        black = !black;
        x = pos;
    }
}

/// A fax page: a [`Bitmap`] exactly [`PAGE_WIDTH`] pixels wide, with its vertical resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    bitmap: Bitmap,
    resolution: Resolution,
}

impl Page {
    /// A page from any bitmap, padded or cropped to 1728 pixels (see [`Bitmap::fit_width`]).
    pub fn new(bitmap: Bitmap, resolution: Resolution) -> Page {
        let bitmap = if bitmap.width() == PAGE_WIDTH {
            bitmap
        } else {
            bitmap.fit_width(PAGE_WIDTH)
        };
        Page { bitmap, resolution }
    }

    /// A white page of `lines` scan lines.
    pub fn blank(lines: u32, resolution: Resolution) -> Page {
        Page::new(Bitmap::new(PAGE_WIDTH, lines), resolution)
    }

    /// The pixels (always 1728 wide).
    pub fn bitmap(&self) -> &Bitmap {
        &self.bitmap
    }

    /// The pixels, mutable.
    pub fn bitmap_mut(&mut self) -> &mut Bitmap {
        &mut self.bitmap
    }

    /// Consumes the page, returning its pixels.
    pub fn into_bitmap(self) -> Bitmap {
        self.bitmap
    }

    /// Vertical resolution.
    pub fn resolution(&self) -> Resolution {
        self.resolution
    }

    /// Number of scan lines.
    pub fn lines(&self) -> u32 {
        self.bitmap.height()
    }

    /// This page in standard resolution. A fine page becomes half as tall: each pair of rows is
    /// **OR**ed into one, so a one-line rule or a thin horizontal stroke survives (dropping every
    /// other row would lose it); an odd last row stands alone. A standard page is returned as is.
    pub fn to_standard(&self) -> Page {
        if self.resolution == Resolution::Standard {
            return self.clone();
        }
        let src = &self.bitmap;
        let lines = src.height().div_ceil(2);
        let mut out = Bitmap::new(src.width(), lines);
        for y in 0..lines {
            let first = src.row(2 * y);
            let second = (2 * y + 1 < src.height()).then(|| src.row(2 * y + 1));
            let dst = out.row_mut(y);
            dst.copy_from_slice(first);
            if let Some(second) = second {
                for (d, s) in dst.iter_mut().zip(second) {
                    *d |= s;
                }
            }
        }
        Page {
            bitmap: out,
            resolution: Resolution::Standard,
        }
    }

    /// This page in fine resolution: a standard page has each row doubled.
    pub fn to_fine(&self) -> Page {
        if self.resolution == Resolution::Fine {
            return self.clone();
        }
        let src = &self.bitmap;
        let mut data = Vec::with_capacity(src.data().len() * 2);
        for y in 0..src.height() {
            data.extend_from_slice(src.row(y));
            data.extend_from_slice(src.row(y));
        }
        Page {
            bitmap: Bitmap {
                width: src.width(),
                height: src.height() * 2,
                data,
            },
            resolution: Resolution::Fine,
        }
    }

    /// This page in `resolution` (see [`to_standard`](Self::to_standard) and [`to_fine`](Self::to_fine)).
    pub fn to_resolution(&self, resolution: Resolution) -> Page {
        match resolution {
            Resolution::Standard => self.to_standard(),
            Resolution::Fine => self.to_fine(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a4_line_counts() {
        assert_eq!(Resolution::Fine.a4_lines(), 2287);
        assert_eq!(Resolution::Standard.a4_lines(), 1143);
        assert_eq!(Resolution::from_lines_per_inch(98.0), Resolution::Standard);
        assert_eq!(Resolution::from_lines_per_inch(195.58), Resolution::Fine);
        assert_eq!(Resolution::from_lines_per_inch(200.0), Resolution::Fine);
    }

    #[test]
    fn changes_round_trip() {
        let mut b = Bitmap::new(20, 0);
        b.push_row_from_changes(&[0, 3, 9, 17]);
        b.push_row_from_changes(&[]);
        b.push_row_from_changes(&[19]);
        b.push_row_from_changes(&[5]);
        let mut out = Vec::new();
        b.row_changes(0, &mut out);
        assert_eq!(out, [0, 3, 9, 17]);
        b.row_changes(1, &mut out);
        assert!(out.is_empty());
        b.row_changes(2, &mut out);
        assert_eq!(out, [19]);
        b.row_changes(3, &mut out);
        assert_eq!(out, [5]);
        assert!(b.get(19, 3) && b.get(5, 3) && !b.get(4, 3));
        assert_eq!(b.row(3)[2], 0xF0, "padding bits stay clear");
    }

    #[test]
    fn fit_width_centres_and_crops() {
        let mut b = Bitmap::new(10, 1);
        b.set(0, 0, true);
        b.set(9, 0, true);
        let wide = b.fit_width(20);
        assert!(wide.get(5, 0) && wide.get(14, 0));
        assert_eq!(wide.black_pixels(), 2);
        let narrow = wide.fit_width(10);
        assert_eq!(narrow, b);
        let cropped = b.fit_width(8);
        assert_eq!(cropped.black_pixels(), 0);
    }

    #[test]
    fn resample_keeps_thin_lines() {
        // A 300 dpi image with a one-pixel rule and one dot, reduced to 204 dpi.
        let mut b = Bitmap::new(300, 300);
        for x in 0..300 {
            b.set(x, 150, true);
        }
        b.set(299, 299, true);
        let r = b.resample(204, 196);
        assert_eq!((r.width(), r.height()), (204, 196));
        let rule_rows = (0..196).filter(|&y| r.get(100, y)).count();
        assert!((1..=2).contains(&rule_rows), "{rule_rows}");
        assert!(r.get(203, 195));
        let up = r.resample(408, 392);
        assert!(up.get(407, 391) && up.get(406, 390));
        assert_eq!(Bitmap::new(0, 0).resample(5, 5).black_pixels(), 0);
    }

    #[test]
    fn fine_to_standard_ors_row_pairs() {
        let mut b = Bitmap::new(PAGE_WIDTH, 5);
        b.set(1, 1, true); // odd row: dropped by decimation, kept by OR
        b.set(2, 2, true);
        b.set(3, 4, true); // odd last row stands alone
        let page = Page::new(b, Resolution::Fine);
        let std = page.to_standard();
        assert_eq!(std.resolution(), Resolution::Standard);
        assert_eq!(std.lines(), 3);
        assert!(std.bitmap().get(1, 0));
        assert!(std.bitmap().get(2, 1));
        assert!(std.bitmap().get(3, 2));
        assert_eq!(std.to_standard(), std);
        let fine = std.to_fine();
        assert_eq!(fine.lines(), 6);
        assert!(fine.bitmap().get(1, 0) && fine.bitmap().get(1, 1));
    }
}
