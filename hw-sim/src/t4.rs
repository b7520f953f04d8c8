//! T.4 page decoding (MH and MR) of the data a DTE sent after `+FDT`.
//!
//! Owns bit-order detection (the DTE may send LSB- or MSB-first), decoding through
//! `hayro-ccitt` into a packed bitmap, and the normalised MSB-first stream that is stored in
//! TIFF-F. Pure code: bytes in, bitmap out.

use hayro_ccitt::{DecodeSettings, Decoder, DecoderContext, EncodingMode};
use thiserror::Error;

/// Why a page could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum T4Error {
    /// Neither bit order produced a single scan line.
    #[error("no decodable T.4 scan lines ({0} bytes)")]
    Undecodable(usize),
}

/// T.4 coding scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coding {
    /// Modified Huffman (1-D).
    Mh,
    /// Modified READ (2-D).
    Mr,
    /// Modified Modified READ (T.6, sent with ECM).
    Mmr,
}

/// A bilevel bitmap: rows packed MSB-first, 1 = black (PBM convention).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bitmap {
    /// Pixels per row.
    pub width: u32,
    /// Number of rows.
    pub height: u32,
    /// `height * ((width + 7) / 8)` bytes.
    pub data: Vec<u8>,
}

impl Bitmap {
    /// Bytes per row.
    pub fn stride(&self) -> usize {
        self.width.div_ceil(8) as usize
    }

    /// One row.
    pub fn row(&self, y: u32) -> &[u8] {
        let s = self.stride();
        &self.data[y as usize * s..(y as usize + 1) * s]
    }

    /// Is pixel (x, y) black?
    pub fn black(&self, x: u32, y: u32) -> bool {
        self.row(y)[(x / 8) as usize] & (0x80 >> (x % 8)) != 0
    }

    /// Serialise as binary PBM (P4).
    pub fn to_pbm(&self) -> Vec<u8> {
        let mut v = format!("P4\n{} {}\n", self.width, self.height).into_bytes();
        v.extend_from_slice(&self.data);
        v
    }

    /// Parse a binary PBM (P4), as written by netpbm or `efix -o pbm`.
    pub fn from_pbm(b: &[u8]) -> Option<Bitmap> {
        let mut fields = Vec::new();
        let mut i = 0;
        while fields.len() < 3 {
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < b.len() && b[i] == b'#' {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            let start = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                i += 1;
            }
            if start == i {
                return None;
            }
            fields.push(std::str::from_utf8(&b[start..i]).ok()?.to_string());
        }
        if fields[0] != "P4" {
            return None;
        }
        let width: u32 = fields[1].parse().ok()?;
        let height: u32 = fields[2].parse().ok()?;
        let data = b.get(i + 1..)?;
        let need = width.div_ceil(8) as usize * height as usize;
        (data.len() >= need).then(|| Bitmap {
            width,
            height,
            data: data[..need].to_vec(),
        })
    }
}

/// A decoded page.
#[derive(Debug, Clone)]
pub struct DecodedPage {
    /// The image.
    pub bitmap: Bitmap,
    /// The T.4 stream in MSB-first order (TIFF FillOrder 1).
    pub msb_first: Vec<u8>,
    /// True when the DTE sent the data LSB-first and it was bit-reversed.
    pub reversed: bool,
    /// Scan lines that needed error recovery.
    pub bad_lines: u32,
}

struct Sink {
    width: u32,
    rows: Vec<u8>,
    height: u32,
}

impl Decoder for Sink {
    fn push_row(&mut self, changes: &[u32]) {
        let stride = self.width.div_ceil(8) as usize;
        let mut row = vec![0u8; stride];
        for pair in changes.chunks(2) {
            let from = pair[0];
            let to = pair.get(1).copied().unwrap_or(self.width).min(self.width);
            for x in from..to {
                row[(x / 8) as usize] |= 0x80 >> (x % 8);
            }
        }
        self.rows.extend_from_slice(&row);
        self.height += 1;
    }
}

fn settings(width: u32, coding: Coding, strict: bool) -> DecodeSettings {
    DecodeSettings {
        columns: width,
        rows: 0,
        end_of_block: true,
        end_of_line: coding != Coding::Mmr,
        rows_are_byte_aligned: false,
        encoding: match coding {
            Coding::Mh => EncodingMode::Group3_1D,
            Coding::Mr => EncodingMode::Group3_2D,
            Coding::Mmr => EncodingMode::Group4,
        },
        strict,
    }
}

fn run(data: &[u8], width: u32, coding: Coding, strict: bool) -> (Sink, bool) {
    let mut sink = Sink {
        width,
        rows: Vec::new(),
        height: 0,
    };
    let mut ctx = DecoderContext::new(settings(width, coding, strict));
    let ok = hayro_ccitt::decode(data, &mut sink, &mut ctx).is_ok();
    (sink, ok)
}

/// Reverse the bit order of every byte.
pub fn reverse_bits(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b.reverse_bits()).collect()
}

/// Decode one page of T.4 data of the given width, detecting the bit order.
pub fn decode_page(data: &[u8], width: u32, coding: Coding) -> Result<DecodedPage, T4Error> {
    let reversed_data = reverse_bits(data);
    let candidates = [(data.to_vec(), false), (reversed_data, true)];
    // First choice: a strict decode that succeeds.
    let mut best: Option<(Sink, Vec<u8>, bool, bool)> = None;
    for (bytes, rev) in &candidates {
        let (sink, ok) = run(bytes, width, coding, true);
        if ok && sink.height > 0 {
            let better = match &best {
                Some((b, _, _, bok)) => !bok || sink.height > b.height,
                None => true,
            };
            if better {
                best = Some((sink, bytes.clone(), *rev, true));
            }
        }
    }
    let (sink, bytes, rev, strict_ok) = match best {
        Some(b) => b,
        None => {
            // Lenient decode; choose the order with more lines.
            let mut pick: Option<(Sink, Vec<u8>, bool, bool)> = None;
            for (bytes, rev) in &candidates {
                let (sink, _) = run(bytes, width, coding, false);
                if pick.as_ref().is_none_or(|p| sink.height > p.0.height) {
                    pick = Some((sink, bytes.clone(), *rev, false));
                }
            }
            pick.expect("two candidates")
        }
    };
    if sink.height == 0 {
        return Err(T4Error::Undecodable(data.len()));
    }
    Ok(DecodedPage {
        bitmap: Bitmap {
            width,
            height: sink.height,
            data: sink.rows,
        },
        msb_first: bytes,
        reversed: rev,
        bad_lines: if strict_ok { 0 } else { 1 },
    })
}

/// A tiny MH encoder for tests and demos: white/black runs per row, EOL before each line,
/// RTC at the end. MSB-first.
pub fn encode_mh(bitmap: &Bitmap) -> Vec<u8> {
    let mut w = BitWriter::default();
    for y in 0..bitmap.height {
        w.put(0x001, 12); // EOL
        let mut x = 0;
        let mut black = false;
        while x < bitmap.width {
            let mut run = 0;
            while x < bitmap.width && bitmap.black(x, y) == black {
                run += 1;
                x += 1;
            }
            put_run(&mut w, run, black);
            black = !black;
        }
    }
    for _ in 0..6 {
        w.put(0x001, 12);
    }
    w.finish()
}

fn row_runs(bm: &Bitmap, y: u32) -> Vec<u32> {
    let mut v = Vec::new();
    let mut x = 0;
    let mut black = false;
    while x < bm.width {
        let mut n = 0;
        while x < bm.width && bm.black(x, y) == black {
            n += 1;
            x += 1;
        }
        v.push(n);
        black = !black;
    }
    v
}

/// A tiny MR encoder for tests and demos (K = 2): even rows 1-D (tag 1), odd rows 2-D using
/// horizontal mode only (tag 0). EOL before each row, RTC at the end. MSB-first.
pub fn encode_mr(bm: &Bitmap) -> Vec<u8> {
    let mut w = BitWriter::default();
    for y in 0..bm.height {
        w.put(0x001, 12);
        let r = row_runs(bm, y);
        if y % 2 == 0 {
            w.put(1, 1);
            for (i, n) in r.iter().enumerate() {
                put_run(&mut w, *n, i % 2 == 1);
            }
        } else {
            w.put(0, 1);
            for pair in r.chunks(2) {
                w.put(0b001, 3);
                put_run(&mut w, pair[0], false);
                put_run(&mut w, pair.get(1).copied().unwrap_or(0), true);
            }
        }
    }
    for _ in 0..6 {
        w.put(0x001, 12);
        w.put(1, 1);
    }
    w.finish()
}

#[derive(Default)]
struct BitWriter {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl BitWriter {
    fn put(&mut self, code: u32, bits: u32) {
        for i in (0..bits).rev() {
            self.acc = (self.acc << 1) | ((code >> i) & 1);
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.acc as u8);
                self.acc = 0;
                self.n = 0;
            }
        }
    }
    fn finish(mut self) -> Vec<u8> {
        if self.n > 0 {
            self.out.push((self.acc << (8 - self.n)) as u8);
        }
        self.out
    }
}

// (code, bits) for terminating runs 0..63 and make-up runs 64..1728, T.4 tables 2 and 3.
const WHITE_TERM: [(u32, u32); 64] = [
    (0x35, 8),
    (0x7, 6),
    (0x7, 4),
    (0x8, 4),
    (0xb, 4),
    (0xc, 4),
    (0xe, 4),
    (0xf, 4),
    (0x13, 5),
    (0x14, 5),
    (0x7, 5),
    (0x8, 5),
    (0x8, 6),
    (0x3, 6),
    (0x34, 6),
    (0x35, 6),
    (0x2a, 6),
    (0x2b, 6),
    (0x27, 7),
    (0xc, 7),
    (0x8, 7),
    (0x17, 7),
    (0x3, 7),
    (0x4, 7),
    (0x28, 7),
    (0x2b, 7),
    (0x13, 7),
    (0x24, 7),
    (0x18, 7),
    (0x2, 8),
    (0x3, 8),
    (0x1a, 8),
    (0x1b, 8),
    (0x12, 8),
    (0x13, 8),
    (0x14, 8),
    (0x15, 8),
    (0x16, 8),
    (0x17, 8),
    (0x28, 8),
    (0x29, 8),
    (0x2a, 8),
    (0x2b, 8),
    (0x2c, 8),
    (0x2d, 8),
    (0x4, 8),
    (0x5, 8),
    (0xa, 8),
    (0xb, 8),
    (0x52, 8),
    (0x53, 8),
    (0x54, 8),
    (0x55, 8),
    (0x24, 8),
    (0x25, 8),
    (0x58, 8),
    (0x59, 8),
    (0x5a, 8),
    (0x5b, 8),
    (0x4a, 8),
    (0x4b, 8),
    (0x32, 8),
    (0x33, 8),
    (0x34, 8),
];
const WHITE_MAKEUP: [(u32, u32); 27] = [
    (0x1b, 5),
    (0x12, 5),
    (0x17, 6),
    (0x37, 7),
    (0x36, 8),
    (0x37, 8),
    (0x64, 8),
    (0x65, 8),
    (0x68, 8),
    (0x67, 8),
    (0xcc, 9),
    (0xcd, 9),
    (0xd2, 9),
    (0xd3, 9),
    (0xd4, 9),
    (0xd5, 9),
    (0xd6, 9),
    (0xd7, 9),
    (0xd8, 9),
    (0xd9, 9),
    (0xda, 9),
    (0xdb, 9),
    (0x98, 9),
    (0x99, 9),
    (0x9a, 9),
    (0x18, 6),
    (0x9b, 9),
];
const BLACK_TERM: [(u32, u32); 64] = [
    (0x37, 10),
    (0x2, 3),
    (0x3, 2),
    (0x2, 2),
    (0x3, 3),
    (0x3, 4),
    (0x2, 4),
    (0x3, 5),
    (0x5, 6),
    (0x4, 6),
    (0x4, 7),
    (0x5, 7),
    (0x7, 7),
    (0x4, 8),
    (0x7, 8),
    (0x18, 9),
    (0x17, 10),
    (0x18, 10),
    (0x8, 10),
    (0x67, 11),
    (0x68, 11),
    (0x6c, 11),
    (0x37, 11),
    (0x28, 11),
    (0x17, 11),
    (0x18, 11),
    (0xca, 12),
    (0xcb, 12),
    (0xcc, 12),
    (0xcd, 12),
    (0x68, 12),
    (0x69, 12),
    (0x6a, 12),
    (0x6b, 12),
    (0xd2, 12),
    (0xd3, 12),
    (0xd4, 12),
    (0xd5, 12),
    (0xd6, 12),
    (0xd7, 12),
    (0x6c, 12),
    (0x6d, 12),
    (0xda, 12),
    (0xdb, 12),
    (0x54, 12),
    (0x55, 12),
    (0x56, 12),
    (0x57, 12),
    (0x64, 12),
    (0x65, 12),
    (0x52, 12),
    (0x53, 12),
    (0x24, 12),
    (0x37, 12),
    (0x38, 12),
    (0x27, 12),
    (0x28, 12),
    (0x58, 12),
    (0x59, 12),
    (0x2b, 12),
    (0x2c, 12),
    (0x5a, 12),
    (0x66, 12),
    (0x67, 12),
];
const BLACK_MAKEUP: [(u32, u32); 27] = [
    (0xf, 10),
    (0xc8, 12),
    (0xc9, 12),
    (0x5b, 12),
    (0x33, 12),
    (0x34, 12),
    (0x35, 12),
    (0x6c, 13),
    (0x6d, 13),
    (0x4a, 13),
    (0x4b, 13),
    (0x4c, 13),
    (0x4d, 13),
    (0x72, 13),
    (0x73, 13),
    (0x74, 13),
    (0x75, 13),
    (0x76, 13),
    (0x77, 13),
    (0x52, 13),
    (0x53, 13),
    (0x54, 13),
    (0x55, 13),
    (0x5a, 13),
    (0x5b, 13),
    (0x64, 13),
    (0x65, 13),
];

fn put_run(w: &mut BitWriter, mut run: u32, black: bool) {
    let (term, makeup) = if black {
        (&BLACK_TERM, &BLACK_MAKEUP)
    } else {
        (&WHITE_TERM, &WHITE_MAKEUP)
    };
    while run >= 64 {
        let m = (run / 64).min(27);
        let (c, b) = makeup[(m - 1) as usize];
        w.put(c, b);
        run -= m * 64;
    }
    let (c, b) = term[run as usize];
    w.put(c, b);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(width: u32, height: u32) -> Bitmap {
        let stride = width.div_ceil(8) as usize;
        let mut data = vec![0u8; stride * height as usize];
        for y in 0..height {
            for x in 0..width {
                if (x / 7 + y / 3) % 5 == 0 || (x > 100 && x < 1700 && y == 10) {
                    data[y as usize * stride + (x / 8) as usize] |= 0x80 >> (x % 8);
                }
            }
        }
        Bitmap {
            width,
            height,
            data,
        }
    }

    #[test]
    fn mh_round_trip_both_bit_orders() {
        let bm = sample(1728, 40);
        let mh = encode_mh(&bm);
        let mut with_fill = vec![0u8; 32];
        with_fill.extend_from_slice(&mh);
        let p = decode_page(&with_fill, 1728, Coding::Mh).unwrap();
        assert_eq!(p.bitmap, bm);
        assert!(!p.reversed);
        let p = decode_page(&reverse_bits(&with_fill), 1728, Coding::Mh).unwrap();
        assert_eq!(p.bitmap, bm);
        assert!(p.reversed);
    }

    #[test]
    fn mr_decodes() {
        let bm = sample(1728, 24);
        let mr = encode_mr(&bm);
        let p = decode_page(&mr, 1728, Coding::Mr).unwrap();
        assert_eq!(p.bitmap, bm);
        let p = decode_page(&reverse_bits(&mr), 1728, Coding::Mr).unwrap();
        assert_eq!(p.bitmap, bm);
    }

    #[test]
    fn pbm_round_trip() {
        let bm = sample(1728, 5);
        assert_eq!(Bitmap::from_pbm(&bm.to_pbm()).unwrap(), bm);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let _ = decode_page(&[0xff; 10], 1728, Coding::Mh);
        let _ = decode_page(&[], 1728, Coding::Mr);
    }
}
