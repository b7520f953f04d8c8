//! ECM (T.30 Annex A, T.4 Annex A) as the sender sees it: the page coded once, cut into
//! numbered FCD frames of 256 (or 64) octets, up to 256 frames to a partial page (block), each block
//! ended by three RCP frames; the PPS information field (post-page message, page, block and
//! frame counts), the PPR map of frames to send again and the EOR information field. Also T.6 (MMR) coding of a page, which
//! only travels with ECM. Pure: bytes and frames in, bytes and frames out.

use super::frame::{fcf, fcs, Frame};
use crate::fax::Page;

/// Octets of coded data in one FCD frame (DCS bit 28 clear).
pub const FRAME_BYTES: usize = 256;
/// Octets of coded data in one FCD frame when DCS bit 28 is set.
pub const SMALL_FRAME_BYTES: usize = 64;
/// Frames in one partial page at most (frame numbers are one octet).
pub const BLOCK_FRAMES: usize = 256;
/// PPRs for one block before the sender changes speed (CTC) or gives the frames up (EOR)
/// (T.30 A.4.1).
pub const MAX_PPR: u32 = 4;

/// A page cut for ECM: blocks of frames of coded data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcmPage {
    /// Partial pages; each holds its frames' data (frame number = index).
    pub blocks: Vec<Vec<Vec<u8>>>,
}

impl EcmPage {
    /// Cuts coded page data into frames of `frame_bytes` octets (256 or 64; anything else is
    /// taken as 256) and blocks. Empty data still makes one frame (a partial page has at least
    /// one).
    pub fn cut(data: &[u8], frame_bytes: usize) -> EcmPage {
        let size = if frame_bytes == SMALL_FRAME_BYTES {
            SMALL_FRAME_BYTES
        } else {
            FRAME_BYTES
        };
        let frames: Vec<Vec<u8>> = if data.is_empty() {
            vec![vec![0]]
        } else {
            data.chunks(size).map(<[u8]>::to_vec).collect()
        };
        EcmPage {
            blocks: frames.chunks(BLOCK_FRAMES).map(<[_]>::to_vec).collect(),
        }
    }

    /// Frames in block `b` (0 when there is no such block).
    pub fn frames(&self, b: usize) -> usize {
        self.blocks.get(b).map_or(0, Vec::len)
    }

    /// What goes out at the page modulation for block `b`: the FCD frames listed in `which`
    /// (in order; numbers outside the block are skipped), then RCP three times.
    pub fn transmission(&self, b: usize, which: &[usize]) -> Vec<Frame> {
        let Some(block) = self.blocks.get(b) else {
            return Vec::new();
        };
        let mut out: Vec<Frame> = which
            .iter()
            .filter_map(|&n| block.get(n).map(|d| (n, d)))
            .map(|(n, d)| {
                let mut fif = Vec::with_capacity(d.len() + 1);
                fif.push(n as u8);
                fif.extend_from_slice(d);
                Frame {
                    last: false,
                    fcf: fcf::FCD,
                    fif,
                }
            })
            .collect();
        out.extend((0..3).map(|_| Frame {
            last: false,
            fcf: fcf::RCP,
            fif: Vec::new(),
        }));
        out
    }
}

/// The PPS information field: the post-page message (`fcf::NULL` when more blocks of the same
/// page follow; the X bit as in our frames), the page and block counters (modulo 256) and the
/// number of frames in the block minus one.
pub fn pps_fif(ppm: u8, page: usize, block: usize, frames: usize) -> Vec<u8> {
    let ppm = if ppm == fcf::NULL { ppm } else { ppm | fcf::X };
    vec![
        ppm,
        (page % 256) as u8,
        (block % 256) as u8,
        frames.clamp(1, BLOCK_FRAMES).saturating_sub(1) as u8,
    ]
}

/// The EOR information field: the post-page message (`fcf::NULL` when more blocks of the page
/// follow, else MPS/EOP/EOM with the X bit as in our frames), one octet.
pub fn eor_fif(ppm: u8) -> Vec<u8> {
    pps_fif(ppm, 0, 0, 1)[..1].to_vec()
}

/// The frames a PPR asks for again, of a block of `frames` frames: bit n%8 of octet n/8 of its
/// 32-octet map (first bit on the line = lowest frame number). Bits beyond the block are ignored.
pub fn ppr_frames(map: &[u8], frames: usize) -> Vec<usize> {
    (0..frames.min(BLOCK_FRAMES))
        .filter(|n| map.get(n / 8).is_some_and(|b| b & (1 << (n % 8)) != 0))
        .collect()
}

/// HDLC framing done by the host, for DCEs whose `+FTH` takes only V.21 (`+FTH=3`, as
/// spandsp's T.31): the frames as one bit stream for `+FTM` — opening flags, each frame with
/// its FCS and zero-bit insertion (a 0 after five 1s), a flag after each, closing flags; bits
/// least significant first within each octet, as the page data goes.
pub fn hdlc_stream(frames: &[Frame]) -> Vec<u8> {
    #[derive(Default)]
    struct Bits {
        out: Vec<u8>,
        cur: u8,
        n: u8,
    }
    impl Bits {
        fn bit(&mut self, b: bool) {
            self.cur |= u8::from(b) << self.n;
            self.n += 1;
            if self.n == 8 {
                self.out.push(self.cur);
                self.cur = 0;
                self.n = 0;
            }
        }
        fn flag(&mut self) {
            for i in 0..8 {
                self.bit(0x7E & (1 << i) != 0);
            }
        }
    }
    let mut w = Bits::default();
    for _ in 0..4 {
        w.flag();
    }
    for f in frames {
        let mut raw = vec![0xFF, if f.last { 0x13 } else { 0x03 }, f.fcf];
        raw.extend_from_slice(&f.fif);
        let check = fcs(&raw);
        raw.extend(check.to_le_bytes());
        let mut ones = 0;
        for byte in raw {
            for i in 0..8 {
                let b = byte & (1 << i) != 0;
                w.bit(b);
                ones = if b { ones + 1 } else { 0 };
                if ones == 5 {
                    w.bit(false);
                    ones = 0;
                }
            }
        }
        w.flag();
    }
    // Closing flags, then whole octets.
    w.flag();
    while w.n != 0 {
        w.bit(true);
    }
    w.out
}

/// T.6 (MMR) coding of a page, as it goes on the line (least significant bit first), ended by
/// EOFB.
pub fn encode_mmr(page: &Page) -> Vec<u8> {
    use fax::{Color, VecWriter};
    let bm = page.bitmap();
    let width = bm.width();
    let mut enc = fax::encoder::Encoder::new(VecWriter::new());
    for y in 0..bm.height() {
        let pels = (0..width).map(|x| {
            if bm.get(x, y) {
                Color::Black
            } else {
                Color::White
            }
        });
        let Ok(()) = enc.encode_line(pels, width);
    }
    let Ok(w) = enc.finish();
    let mut data = w.finish();
    crate::fax::reverse_bits_in_place(&mut data);
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fax::decode::decode;
    use crate::fax::{BitOrder, Bitmap, Resolution, Scheme};

    #[test]
    fn a_page_is_cut_into_256_octet_frames_and_256_frame_blocks() {
        let data: Vec<u8> = (0..(256 * 256 + 300)).map(|i| i as u8).collect();
        let p = EcmPage::cut(&data, FRAME_BYTES);
        assert_eq!(p.blocks.len(), 2);
        assert_eq!((p.frames(0), p.frames(1), p.frames(2)), (256, 2, 0));
        assert_eq!(p.blocks[1][1].len(), 44, "the last frame is short");
        let joined: Vec<u8> = p.blocks.iter().flatten().flatten().copied().collect();
        assert_eq!(joined, data);
        let t = p.transmission(1, &[0, 1, 7]);
        let kinds: Vec<(u8, usize)> = t.iter().map(|f| (f.fcf, f.fif.len())).collect();
        assert_eq!(
            kinds,
            [
                (fcf::FCD, 257),
                (fcf::FCD, 45),
                (fcf::RCP, 0),
                (fcf::RCP, 0),
                (fcf::RCP, 0)
            ]
        );
        assert_eq!(t[1].fif[0], 1, "frame number first");
        assert!(t.iter().all(|f| !f.last), "control 03 on every frame");
        assert_eq!(EcmPage::cut(&[], 256).frames(0), 1);
        assert!(EcmPage::cut(&[1], 256).transmission(5, &[0]).is_empty());
        // 64-octet frames: 16,385 octets are 257 frames, so a second block of one frame.
        let p = EcmPage::cut(&vec![7u8; 64 * 256 + 1], SMALL_FRAME_BYTES);
        assert_eq!((p.frames(0), p.frames(1)), (256, 1));
        assert!(p.blocks[0].iter().all(|f| f.len() == 64));
        assert_eq!(
            EcmPage::cut(&[1; 300], 100).frames(0),
            2,
            "other sizes: 256"
        );
    }

    /// The host's HDLC stream, read back by a plain destuffer: the frames come out whole with
    /// a good FCS, and no six 1s in a row appear outside the flags.
    #[test]
    fn host_hdlc_stream_round_trips() {
        let frames = EcmPage::cut(&[0xFF; 600], FRAME_BYTES).transmission(0, &[0, 1, 2]);
        let stream = hdlc_stream(&frames);
        let bits: Vec<bool> = stream
            .iter()
            .flat_map(|b| (0..8).map(move |i| b & (1 << i) != 0))
            .collect();
        let (mut got, mut cur, mut ones) = (Vec::new(), Vec::<bool>::new(), 0);
        for b in bits {
            if b {
                ones += 1;
                cur.push(true);
                continue;
            }
            match ones {
                5 => {}
                6 => {
                    cur.truncate(cur.len().saturating_sub(7));
                    if cur.len() >= 40 && cur.len().is_multiple_of(8) {
                        let bytes: Vec<u8> = cur
                            .chunks(8)
                            .map(|c| c.iter().enumerate().map(|(i, &b)| u8::from(b) << i).sum())
                            .collect();
                        let (body, check) = bytes.split_at(bytes.len() - 2);
                        assert_eq!(fcs(body).to_le_bytes(), check);
                        got.push(body.to_vec());
                    }
                    cur.clear();
                }
                _ => cur.push(false),
            }
            ones = 0;
        }
        let want: Vec<Vec<u8>> = frames
            .iter()
            .map(|f| {
                let mut v = vec![0xFF, 0x03, f.fcf];
                v.extend_from_slice(&f.fif);
                v
            })
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn pps_counts_and_ppr_map() {
        assert_eq!(pps_fif(fcf::MPS, 2, 0, 30), [fcf::MPS | 1, 2, 0, 29]);
        assert_eq!(pps_fif(fcf::NULL, 257, 3, 256), [0, 1, 3, 255]);
        assert_eq!(pps_fif(fcf::EOP, 0, 0, 0)[3], 0);
        assert_eq!(eor_fif(fcf::NULL), [0]);
        assert_eq!(eor_fif(fcf::MPS), [fcf::MPS | 1]);
        assert_eq!(eor_fif(fcf::EOP), [0x2F]);
        let mut map = [0u8; 32];
        map[0] = 0b1000_0010;
        map[31] = 0x80;
        assert_eq!(ppr_frames(&map, 256), [1, 7, 255]);
        assert_eq!(ppr_frames(&map, 5), [1]);
        assert_eq!(ppr_frames(&[0xff], 20), (0..8).collect::<Vec<_>>());
        assert!(ppr_frames(&[], 256).is_empty());
    }

    #[test]
    fn mmr_of_a_page_decodes_pixel_equal_with_hayro() {
        let mut bm = Bitmap::new(1728, 300);
        for y in 0..300 {
            for x in 0..1728 {
                let on = (x / 13 + y / 7) % 5 == 0 || (y > 200 && x % 97 < (y % 11));
                bm.set(x, y, on);
            }
        }
        let page = Page::new(bm.clone(), Resolution::Fine);
        let data = encode_mmr(&page);
        let got = decode(&data, 1728, 0, Scheme::G4, BitOrder::LsbFirst).unwrap();
        assert!(got == bm, "{}x{}", got.width(), got.height());
        // All white, and an empty page.
        let blank = Page::new(Bitmap::new(1728, 50), Resolution::Standard);
        let got = decode(&encode_mmr(&blank), 1728, 0, Scheme::G4, BitOrder::LsbFirst).unwrap();
        assert_eq!(got.height(), 50);
        assert!(!encode_mmr(&Page::new(Bitmap::new(1728, 0), Resolution::Fine)).is_empty());
    }
}
