//! The bit-level output of the T.4 encoder: an MSB-first bit writer with zero fill and byte
//! alignment, and the byte bit-order reversal between storage order and transmission order.
//!
//! Owns bit packing only; it knows no code tables.

/// Order of the bits inside each byte of coded page data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BitOrder {
    /// T.4 transmission order: the first bit on the line is the **least** significant bit of each
    /// byte. This is what a Class 2/2.0 modem expects after `AT+FBO=0` ("direct" order, the
    /// default) and TIFF `FillOrder = 2`.
    #[default]
    LsbFirst,
    /// The first coded bit is the **most** significant bit of each byte: TIFF `FillOrder = 1`
    /// (what TIFF Class F files normally hold), `AT+FBO=1`, and what `hayro-ccitt` decodes.
    MsbFirst,
}

/// Reverses the bit order of every byte: converts between [`BitOrder::LsbFirst`] and
/// [`BitOrder::MsbFirst`] (the conversion is its own inverse).
pub fn reverse_bits(data: &[u8]) -> Vec<u8> {
    data.iter().map(|b| b.reverse_bits()).collect()
}

/// In-place form of [`reverse_bits`].
pub fn reverse_bits_in_place(data: &mut [u8]) {
    for b in data {
        *b = b.reverse_bits();
    }
}

/// Writes codes most significant bit first.
#[derive(Debug, Default)]
pub(crate) struct BitWriter {
    out: Vec<u8>,
    /// Pending bits, left-aligned (the next bit to emit is bit 63).
    acc: u64,
    /// Number of pending bits in `acc` (always < 32 between calls).
    pending: u32,
}

impl BitWriter {
    pub(crate) fn with_capacity(bytes: usize) -> BitWriter {
        BitWriter {
            out: Vec::with_capacity(bytes),
            acc: 0,
            pending: 0,
        }
    }

    /// Total bits written so far.
    pub(crate) fn bit_len(&self) -> usize {
        self.out.len() * 8 + self.pending as usize
    }

    /// Appends the low `len` bits of `code` (len ≤ 32), first bit = most significant.
    #[inline]
    pub(crate) fn write(&mut self, code: u32, len: u32) {
        debug_assert!(len <= 32 && self.pending < 32);
        if len == 0 {
            return;
        }
        let code = u64::from(code) & ((1u64 << len) - 1);
        self.acc |= code << (64 - self.pending - len);
        self.pending += len;
        if self.pending >= 32 {
            self.out
                .extend_from_slice(&((self.acc >> 32) as u32).to_be_bytes());
            self.acc <<= 32;
            self.pending -= 32;
        }
    }

    /// Appends `count` zero bits.
    pub(crate) fn zeros(&mut self, mut count: usize) {
        while count > 0 {
            let n = count.min(32);
            self.write(0, n as u32);
            count -= n;
        }
    }

    /// Pads with zero bits so that after `then_bits` more bits the output is byte-aligned.
    pub(crate) fn align_before(&mut self, then_bits: usize) {
        let rem = (self.bit_len() + then_bits) % 8;
        if rem != 0 {
            self.zeros(8 - rem);
        }
    }

    /// Pads the last byte with zeros and returns the bytes.
    pub(crate) fn finish(mut self) -> Vec<u8> {
        let bytes = self.pending.div_ceil(8) as usize;
        self.out.extend_from_slice(&self.acc.to_be_bytes()[..bytes]);
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_msb_first_and_pads() {
        let mut w = BitWriter::default();
        w.write(0b1, 1);
        w.write(0b01, 2);
        assert_eq!(w.bit_len(), 3);
        w.zeros(10);
        w.write(0b111, 3);
        assert_eq!(w.bit_len(), 16);
        w.write(1, 12);
        assert_eq!(w.finish(), vec![0b1010_0000, 0b0000_0111, 0x00, 0x10]);
    }

    #[test]
    fn align_before_lands_on_boundary() {
        let mut w = BitWriter::default();
        w.write(1, 3);
        w.align_before(12);
        assert_eq!((w.bit_len() + 12) % 8, 0);
        w.write(1, 12);
        assert_eq!(w.bit_len() % 8, 0);
        let before = w.bit_len();
        w.align_before(8);
        assert_eq!(w.bit_len(), before);
    }

    #[test]
    fn reversal_is_an_involution() {
        let data = [0x01, 0x80, 0x12, 0xF0];
        assert_eq!(reverse_bits(&data), [0x80, 0x01, 0x48, 0x0F]);
        let mut again = reverse_bits(&data);
        reverse_bits_in_place(&mut again);
        assert_eq!(again, data);
    }
}
