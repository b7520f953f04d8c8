//! The T.4 (Group 3) page encoder: 1-D Modified Huffman and 2-D Modified READ scan lines, EOLs
//! with optional fill, minimum scan-line length, and RTC.
//!
//! Code words come from the `fax` crate's tables (`fax::maps::{white, black, mode}`); this module
//! owns the line structure around them. Pure: a page in, bytes out.
//!
//! # What the Class 2/2.0 DTE sends
//! T.32 (Class 2.0) and SP-2388 (Class 2) leave RTC to the modem: the DTE sends the coded scan
//! lines and ends the page with `DLE`+post-page code (2.0) or `DLE ETX` (2); the DCE appends RTC
//! itself. HylaFAX therefore defaults `Class2SendRTC` to false ("default per Class 2 spec") and
//! offers it only for modems that do not conform. So [`EncodeOptions::rtc`] defaults to `false`
//! and [`EncodeOptions::class2`] leaves it off; a stand-alone T.4 stream (a raw `.g3` file, some
//! non-conforming modems) sets it.

use super::bitmap::{row_changes, Page};
use super::bits::{reverse_bits_in_place, BitOrder, BitWriter};
use fax::maps::{black, mode, white, Mode};

/// EOL: eleven zeros and a one.
const EOL: (u32, u32) = (0b0000_0000_0001, 12);

/// How scan lines are coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// One-dimensional Modified Huffman (every T.4 receiver supports it).
    Mh,
    /// Two-dimensional Modified READ: one 1-D line, then up to `k - 1` 2-D lines (K = 2 for
    /// standard, 4 for fine resolution; `k = 1` codes every line 1-D with tag bits).
    Mr {
        /// The T.4 K parameter (0 is treated as 1).
        k: u32,
    },
}

impl Coding {
    /// MR with the K that T.4 allows for the page's resolution.
    pub fn mr_for(resolution: super::Resolution) -> Coding {
        Coding::Mr {
            k: resolution.mr_k(),
        }
    }
}

/// Options of the T.4 encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EncodeOptions {
    /// MH or MR.
    pub coding: Coding,
    /// Bit order inside each output byte.
    pub bit_order: BitOrder,
    /// Insert fill bits before each EOL so that the EOL ends on a byte boundary (TIFF
    /// `T4Options` bit 2; eases resynchronisation and makes lines start on whole bytes).
    pub align_eol: bool,
    /// Minimum bytes per coded scan line (its EOL, tag bit, data and fill), for the receiver's
    /// minimum scan-line time (T.30 DIS/DCS bits 21-23): zero fill is inserted before the next
    /// EOL until the line is long enough. `0` means no minimum. Example: 20 ms at 9600 bit/s
    /// is 24 bytes.
    pub min_line_bytes: usize,
    /// End the page with RTC (6 × EOL, each followed by the tag bit 1 in MR). Off for Class 2/2.0
    /// (the modem sends RTC, see the module documentation).
    pub rtc: bool,
}

impl Default for EncodeOptions {
    /// MH, transmission (LSB-first) order, unaligned EOLs, no minimum, no RTC.
    fn default() -> Self {
        EncodeOptions {
            coding: Coding::Mh,
            bit_order: BitOrder::LsbFirst,
            align_eol: false,
            min_line_bytes: 0,
            rtc: false,
        }
    }
}

impl EncodeOptions {
    /// What a Class 2/2.0 sender hands the modem after `AT+FBO=0`: transmission bit order,
    /// byte-aligned EOLs, the negotiated minimum line length, no RTC.
    pub fn class2(coding: Coding, min_line_bytes: usize) -> EncodeOptions {
        EncodeOptions {
            coding,
            bit_order: BitOrder::LsbFirst,
            align_eol: true,
            min_line_bytes,
            rtc: false,
        }
    }

    /// The same options with another bit order.
    pub fn with_bit_order(self, bit_order: BitOrder) -> EncodeOptions {
        EncodeOptions { bit_order, ..self }
    }

    /// The same options with RTC on or off.
    pub fn with_rtc(self, rtc: bool) -> EncodeOptions {
        EncodeOptions { rtc, ..self }
    }
}

/// Modified Huffman with the default options: an EOL before every line, no fill, no RTC,
/// transmission (LSB-first) bit order.
pub fn encode_mh(page: &Page) -> Vec<u8> {
    encode(page, &EncodeOptions::default())
}

/// Modified READ with parameter `k` and otherwise default options (see [`encode_mh`]).
pub fn encode_mr(page: &Page, k: u32) -> Vec<u8> {
    encode(
        page,
        &EncodeOptions {
            coding: Coding::Mr { k },
            ..EncodeOptions::default()
        },
    )
}

/// Encodes `page` as a T.4 page: `EOL line EOL line … [RTC]`, each EOL of an MR page followed
/// by the tag bit (1 = the next line is 1-D, 0 = 2-D).
pub fn encode(page: &Page, options: &EncodeOptions) -> Vec<u8> {
    let bitmap = page.bitmap();
    let width = bitmap.width();
    // MH of text averages ~10-20 bytes a line; reserve generously.
    let mut w = BitWriter::with_capacity(bitmap.height() as usize * 32 + 16);
    let (tagged, k) = match options.coding {
        Coding::Mh => (false, 1),
        Coding::Mr { k } => (true, k.max(1)),
    };
    let min_bits = options.min_line_bytes * 8;

    let mut reference: Vec<u32> = Vec::new();
    let mut current: Vec<u32> = Vec::new();
    let mut line_start: Option<usize> = None;
    for y in 0..bitmap.height() {
        row_changes(bitmap.row(y), width, &mut current);
        let one_dimensional = !tagged || y % k == 0;
        if let Some(start) = line_start {
            pad_line(&mut w, start, min_bits);
        }
        if options.align_eol {
            w.align_before(12);
        }
        line_start = Some(w.bit_len());
        w.write(EOL.0, EOL.1);
        if tagged {
            w.write(u32::from(one_dimensional), 1);
        }
        if one_dimensional {
            encode_1d(&mut w, &current, width);
        } else {
            encode_2d(&mut w, &reference, &current, width);
        }
        std::mem::swap(&mut reference, &mut current);
    }
    if let Some(start) = line_start {
        pad_line(&mut w, start, min_bits);
    }
    if options.rtc {
        if options.align_eol {
            w.align_before(12);
        }
        for _ in 0..6 {
            w.write(EOL.0, EOL.1);
            if tagged {
                w.write(1, 1);
            }
        }
    }
    let mut out = w.finish();
    if options.bit_order == BitOrder::LsbFirst {
        reverse_bits_in_place(&mut out);
    }
    out
}

/// Zero fill so that the line begun at bit `start` is at least `min_bits` long.
fn pad_line(w: &mut BitWriter, start: usize, min_bits: usize) {
    let len = w.bit_len() - start;
    if len < min_bits {
        w.zeros(min_bits - len);
    }
}

/// Writes a run of `len` pixels of one colour: make-up codes (2560 repeated, then a multiple of
/// 64) and a terminating code.
fn write_run(w: &mut BitWriter, black_run: bool, mut len: u32) {
    let table: &[(u16, fax::Bits)] = if black_run {
        &black::ENTRIES
    } else {
        &white::ENTRIES
    };
    // ENTRIES: terminating codes 0..=63 at their index, then make-up codes 64, 128, … 2560 at
    // index 63 + n / 64.
    let mut put = |n: u32| {
        let index = if n >= 64 { 63 + n / 64 } else { n } as usize;
        let (value, bits) = table[index];
        debug_assert_eq!(u32::from(value), n);
        w.write(u32::from(bits.data), u32::from(bits.len));
    };
    while len >= 2560 {
        put(2560);
        len -= 2560;
    }
    if len >= 64 {
        put(len & !63);
        len &= 63;
    }
    put(len);
}

/// One 1-D (MH) line from its colour changes.
fn encode_1d(w: &mut BitWriter, changes: &[u32], width: u32) {
    let mut pos = 0;
    let mut black_run = false;
    for &change in changes.iter().chain(std::iter::once(&width)) {
        write_run(w, black_run, change - pos);
        pos = change;
        black_run = !black_run;
    }
}

fn write_mode(w: &mut BitWriter, m: Mode) {
    // Every mode used here has a code in the table.
    if let Some(bits) = mode::encode(m) {
        w.write(u32::from(bits.data), u32::from(bits.len));
    }
}

/// One 2-D (READ) line coded against `reference` (T.4 §4.2.1.3): pass, vertical and horizontal
/// modes. `a0` starts on the imaginary white pixel before the line (`-1`).
fn encode_2d(w: &mut BitWriter, reference: &[u32], coding: &[u32], width: u32) {
    let width = i64::from(width);
    let at = |list: &[u32], i: usize| list.get(i).map_or(width, |&v| i64::from(v));
    let mut a0: i64 = -1;
    let mut black = false; // colour of a0
    let mut ai = 0usize; // index of the first coding-line change > a0
    let mut ri = 0usize; // index of the first reference change > a0
    while a0 < width {
        while ai < coding.len() && i64::from(coding[ai]) <= a0 {
            ai += 1;
        }
        while ri < reference.len() && i64::from(reference[ri]) <= a0 {
            ri += 1;
        }
        let a1 = at(coding, ai);
        // b1: first reference change > a0 to the colour opposite a0's, i.e. to black (even
        // index) when a0 is white, to white (odd index) when a0 is black.
        let b1_index = if (ri % 2 == 1) != black { ri + 1 } else { ri };
        let b1 = at(reference, b1_index);
        let b2 = at(reference, b1_index + 1);
        if b2 < a1 {
            write_mode(w, Mode::Pass);
            a0 = b2;
        } else if (a1 - b1).abs() <= 3 {
            write_mode(w, Mode::Vertical((a1 - b1) as i8));
            a0 = a1;
            black = !black;
        } else {
            let a2 = at(coding, ai + 1);
            write_mode(w, Mode::Horizontal);
            write_run(w, black, (a1 - a0.max(0)) as u32);
            write_run(w, !black, (a2 - a1) as u32);
            a0 = a2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fax::bits::reverse_bits;
    use crate::fax::{Bitmap, Resolution, PAGE_WIDTH};

    fn page(rows: &[&[u32]]) -> Page {
        let mut b = Bitmap::new(PAGE_WIDTH, 0);
        for r in rows {
            b.push_row_from_changes(r);
        }
        Page::new(b, Resolution::Fine)
    }

    #[test]
    fn tables_index_as_assumed() {
        for table in [&white::ENTRIES, &black::ENTRIES] {
            for n in (0..64).chain((64..=2560).step_by(64)) {
                let index = if n >= 64 { 63 + n / 64 } else { n } as usize;
                assert_eq!(u32::from(table[index].0), n);
            }
        }
    }

    #[test]
    fn white_line_is_eol_then_1728_white() {
        // EOL (000000000001), white make-up 1728 (010011011), white 0 (00110101).
        let data = encode(
            &page(&[&[]]),
            &EncodeOptions::default().with_bit_order(BitOrder::MsbFirst),
        );
        assert_eq!(
            data,
            [0b0000_0000, 0b0001_0100, 0b1101_1001, 0b1010_1000],
            "{data:02x?}"
        );
        assert_eq!(reverse_bits(&data), encode_mh(&page(&[&[]])));
    }

    #[test]
    fn aligned_eols_end_on_byte_boundaries_and_rtc_follows() {
        let options = EncodeOptions {
            align_eol: true,
            rtc: true,
            bit_order: BitOrder::MsbFirst,
            ..EncodeOptions::default()
        };
        let data = encode(&page(&[&[], &[]]), &options);
        // Each line: 00 01 | 4D 9A 80-ish data; EOL ends at the end of byte 2 of the line.
        assert_eq!(&data[..2], &[0x00, 0x01]);
        // RTC: the first EOL ends on a byte boundary, the other five follow without fill, and
        // the last byte is padded: 1 (last data bit) 000 0000 | 0001 + five EOLs + 4 zero bits.
        assert_eq!(
            &data[data.len() - 10..],
            &[0x80, 0x01, 0x00, 0x10, 0x01, 0x00, 0x10, 0x01, 0x00, 0x10]
        );
    }

    #[test]
    fn minimum_line_length_is_honoured() {
        let options = EncodeOptions {
            min_line_bytes: 24,
            bit_order: BitOrder::MsbFirst,
            ..EncodeOptions::default()
        };
        let data = encode(&page(&[&[], &[], &[]]), &options);
        // Three lines of at least 24 bytes each; the last is padded too.
        assert_eq!(data.len(), 72);
        assert_eq!(&data[24..26], &[0x00, 0x14]);
    }

    #[test]
    fn mr_tags_follow_k() {
        let options = EncodeOptions {
            coding: Coding::Mr { k: 2 },
            align_eol: true,
            bit_order: BitOrder::MsbFirst,
            ..EncodeOptions::default()
        };
        // Three white lines: 1-D, 2-D (V0 = "1"), 1-D.
        let data = encode(&page(&[&[], &[], &[]]), &options);
        // Line 1: EOL ends at byte 2, tag 1 is the MSB of byte 2.
        assert_eq!(&data[..3], &[0x00, 0x01, 0b1010_0110]);
        // Line 2: fill, EOL ending at byte 5, tag 0 and V0 ("01") in byte 6, then fill.
        assert_eq!(&data[5..7], &[0x01, 0b0100_0000]);
        // Line 3: EOL ends at byte 7, tag 1 again.
        assert_eq!(data[7], 0x01);
        assert_eq!(data[8] >> 7, 1);
    }
}
