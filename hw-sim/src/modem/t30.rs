//! T.30 facts the simulated receiver needs, from T.30 and T.31 themselves: FCF values in wire
//! order and their names, the HDLC FCS, the DIS/DCS bit numbering (bit 1 is the first bit on the
//! line, the least significant bit of the first octet), the DIS built from T.32-style
//! capabilities, the DCS read back, and the `+FTM` modulation codes. Pure data and functions.

/// FCF values in wire order with the X bit clear.
pub(crate) mod fcf {
    pub const DIS: u8 = 0x80;
    pub const CSI: u8 = 0x40;
    pub const NSF: u8 = 0x20;
    pub const DCS: u8 = 0x82;
    pub const TSI: u8 = 0x42;
    pub const CFR: u8 = 0x84;
    pub const FTT: u8 = 0x44;
    pub const MCF: u8 = 0x8c;
    pub const RTN: u8 = 0x4c;
    pub const RTP: u8 = 0xcc;
    pub const PIN: u8 = 0x2c;
    pub const EOM: u8 = 0x8e;
    pub const MPS: u8 = 0x4e;
    pub const EOP: u8 = 0x2e;
    pub const CRP: u8 = 0x1a;
    pub const DCN: u8 = 0xfa;
    /// ECM (T.30 Annex A): partial page signal, partial page request, continue to correct
    /// and its response.
    pub const PPS: u8 = 0xbe;
    pub const PPR: u8 = 0xbc;
    pub const CTC: u8 = 0x12;
    pub const CTR: u8 = 0xc4;
    /// ECM flow control: receive ready (the sender asks), receive not ready (the answer).
    pub const RR: u8 = 0x6e;
    pub const RNR: u8 = 0xec;
    /// ECM: end of retransmission (the sender gives up a block's bad frames; FIF: the
    /// post-page message, or NULL) and the receiver's response to it.
    pub const EOR: u8 = 0xce;
    pub const ERR: u8 = 0x1c;
    /// ECM: the end of a partial page that is not the end of a page (PPS-NULL).
    pub const NULL: u8 = 0x00;
    /// T.4 Annex A frames at the page modulation: facsimile coded data, return to control.
    pub const FCD: u8 = 0x06;
    pub const RCP: u8 = 0x86;
}

/// The T.30 name of an FCF (X bit ignored).
pub(crate) fn name(f: u8) -> &'static str {
    match f & 0xfe {
        fcf::DIS => "DIS",
        fcf::CSI => "CSI",
        fcf::NSF => "NSF",
        fcf::DCS => "DCS",
        fcf::TSI => "TSI",
        fcf::CFR => "CFR",
        fcf::FTT => "FTT",
        fcf::MCF => "MCF",
        fcf::RTN => "RTN",
        fcf::RTP => "RTP",
        fcf::PIN => "PIN",
        fcf::EOM => "EOM",
        fcf::MPS => "MPS",
        fcf::EOP => "EOP",
        fcf::CRP => "CRP",
        fcf::DCN => "DCN",
        fcf::PPS => "PPS",
        fcf::PPR => "PPR",
        fcf::CTC => "CTC",
        fcf::CTR => "CTR",
        fcf::RR => "RR",
        fcf::RNR => "RNR",
        fcf::EOR => "EOR",
        fcf::ERR => "ERR",
        _ => "?",
    }
}

/// CRC-16/X.25, the HDLC frame check sequence (sent low octet first).
pub(crate) fn fcs(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xffff;
    for &b in data {
        crc ^= u16::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

pub(crate) fn bit(fif: &[u8], n: usize) -> bool {
    fif.get((n - 1) / 8)
        .is_some_and(|b| b & (1 << ((n - 1) % 8)) != 0)
}

pub(crate) fn set(fif: &mut Vec<u8>, n: usize) {
    let i = (n - 1) / 8;
    if fif.len() <= i {
        fif.resize(i + 1, 0);
    }
    fif[i] |= 1 << ((n - 1) % 8);
}

/// High-speed modem families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    V27,
    V29,
    V17,
}

/// `+FTM`/`+FRM` codes the modem offers.
pub(crate) const CODES: [u32; 12] = [24, 48, 72, 73, 74, 96, 97, 98, 121, 122, 145, 146];

/// (family, bit/s, long training) of a `+FTM` code.
pub(crate) fn modulation(code: u32) -> Option<(Family, u32, bool)> {
    Some(match code {
        24 => (Family::V27, 2400, true),
        48 => (Family::V27, 4800, true),
        72 => (Family::V29, 7200, true),
        96 => (Family::V29, 9600, true),
        73 | 74 => (Family::V17, 7200, code == 73),
        97 | 98 => (Family::V17, 9600, code == 97),
        121 | 122 => (Family::V17, 12000, code == 121),
        145 | 146 => (Family::V17, 14400, code == 145),
        _ => return None,
    })
}

/// What a DCS selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dcs {
    pub(crate) family: Family,
    pub(crate) bps: u32,
    pub(crate) fine: bool,
    pub(crate) mr: bool,
    pub(crate) width: u32,
    pub(crate) ecm: bool,
    /// T.6 (MMR) coding (bit 31, with ECM).
    pub(crate) mmr: bool,
    /// 64-octet ECM frames (bit 28) instead of 256.
    pub(crate) frame64: bool,
}

impl Dcs {
    pub(crate) fn parse(fif: &[u8]) -> Option<Dcs> {
        if fif.len() < 3 {
            return None;
        }
        let r = [11, 12, 13, 14].map(|n| bit(fif, n));
        let (family, bps) = match r {
            [false, false, false, false] => (Family::V27, 2400),
            [false, true, false, false] => (Family::V27, 4800),
            [true, true, false, false] => (Family::V29, 7200),
            [true, false, false, false] => (Family::V29, 9600),
            [true, true, false, true] => (Family::V17, 7200),
            [true, false, false, true] => (Family::V17, 9600),
            [false, true, false, true] => (Family::V17, 12000),
            [false, false, false, true] => (Family::V17, 14400),
            _ => return None,
        };
        let width = match (bit(fif, 17), bit(fif, 18)) {
            (false, false) => 1728,
            (true, false) => 2048,
            _ => 2432,
        };
        Some(Dcs {
            family,
            bps,
            fine: bit(fif, 15),
            mr: bit(fif, 16),
            width,
            ecm: bit(fif, 24) && bit(fif, 27),
            mmr: bit(fif, 24) && bit(fif, 31),
            frame64: bit(fif, 24) && bit(fif, 28),
        })
    }

    /// The T.32-style parameters (`vr,br,wd,…`) used for the stored page.
    pub(crate) fn t32(&self) -> [u32; 8] {
        let br = match self.bps {
            2400 => 0,
            4800 => 1,
            7200 => 2,
            9600 => 3,
            12000 => 4,
            _ => 5,
        };
        let wd = match self.width {
            1728 => 0,
            2048 => 1,
            _ => 2,
        };
        let df = if self.mmr { 3 } else { u32::from(self.mr) };
        [
            u32::from(self.fine),
            br,
            wd,
            0,
            df,
            u32::from(self.ecm),
            0,
            0,
        ]
    }
}

/// The DIS information field for T.32-style capabilities `vr,br,wd,ln,df,ec,bf,st`.
pub(crate) fn dis_fif(c: &[u32; 8]) -> Vec<u8> {
    let mut f = vec![0u8; 3];
    set(&mut f, 10);
    let rates: &[usize] = match c[1] {
        0 => &[],
        1 => &[12],
        2 | 3 => &[11, 12],
        _ => &[11, 12, 14],
    };
    for &n in rates {
        set(&mut f, n);
    }
    if c[0] >= 1 {
        set(&mut f, 15);
    }
    if c[4] >= 1 {
        set(&mut f, 16);
    }
    match c[2] {
        0 => {}
        1 => set(&mut f, 17),
        _ => set(&mut f, 18),
    }
    match c[3] {
        0 => {}
        1 => set(&mut f, 19),
        _ => set(&mut f, 20),
    }
    let scan: &[usize] = match c[7] {
        0 => &[21, 22, 23],
        1 => &[21],
        2 => &[22, 23],
        3 => &[22],
        4 => &[21, 22],
        5 => &[],
        6 => &[21, 23],
        _ => &[23],
    };
    for &n in scan {
        set(&mut f, n);
    }
    if c[5] >= 1 || c[4] >= 3 {
        set(&mut f, 24);
        f.resize(4, 0);
        if c[5] >= 1 {
            set(&mut f, 27);
        }
        if c[4] >= 3 {
            set(&mut f, 31);
        }
    }
    f
}

/// HDLC frames in a bit stream (page data after `+FTM`, when the DTE frames ECM data itself):
/// bits least significant first in each octet; a 0 after five 1s is removed, six 1s between 0s
/// are a flag, seven or more abort the frame. Each frame between flags that is whole octets and
/// whose FCS checks is returned without its FCS; anything else is dropped (a spoilt frame).
pub(crate) fn hdlc_frames(data: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut bits: Vec<bool> = Vec::new();
    let mut ones = 0u32;
    for i in 0..data.len() * 8 {
        let b = data[i / 8] & (1 << (i % 8)) != 0;
        if b {
            ones += 1;
            if ones >= 7 {
                bits.clear();
            } else if bits.len() < 8 * 700 {
                bits.push(true);
            }
            continue;
        }
        match ones {
            5 => {} // inserted zero
            6 => {
                // A flag: its leading 0 and six 1s are in `bits`.
                bits.truncate(bits.len().saturating_sub(7));
                if bits.len() >= 40 && bits.len().is_multiple_of(8) && bits.len() <= 8 * 600 {
                    let bytes: Vec<u8> = bits
                        .chunks(8)
                        .map(|c| {
                            c.iter()
                                .enumerate()
                                .fold(0u8, |a, (k, &v)| a | u8::from(v) << k)
                        })
                        .collect();
                    let (body, check) = bytes.split_at(bytes.len() - 2);
                    if fcs(body).to_le_bytes() == check {
                        frames.push(body.to_vec());
                    }
                }
                bits.clear();
            }
            _ if bits.len() < 8 * 700 => bits.push(false),
            _ => bits.clear(),
        }
        ones = 0;
    }
    frames
}

/// A frame as the remote sends it: address, control (final or not), FCF, FIF.
pub(crate) fn frame(fcf_value: u8, fif: &[u8], last: bool) -> Vec<u8> {
    let mut v = vec![0xff, if last { 0x13 } else { 0x03 }, fcf_value];
    v.extend_from_slice(fif);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modem::commands::parse_caps;

    #[test]
    fn fcs_of_a_cfr_as_the_iaxmodem_rig_logged_it() {
        // "ff c8 21 57 be" in efax's bit-reversed notation.
        let wire: Vec<u8> = [0xff, 0xc8, 0x21, 0x57, 0xbe]
            .iter()
            .map(|b: &u8| b.reverse_bits())
            .collect();
        assert_eq!(fcs(&wire[..3]).to_le_bytes(), [wire[3], wire[4]]);
    }

    #[test]
    fn dis_of_the_default_caps_and_with_ecm_mmr() {
        let d = dis_fif(&parse_caps("1,5,0,2,0,0,0,0"));
        assert_eq!(d.len(), 3);
        assert!(bit(&d, 10) && bit(&d, 11) && bit(&d, 12) && bit(&d, 14) && bit(&d, 15));
        assert!(!bit(&d, 16) && bit(&d, 20) && bit(&d, 21) && bit(&d, 22) && bit(&d, 23));
        let d = dis_fif(&parse_caps("1,5,0,2,3,2,0,0"));
        assert!(bit(&d, 16) && bit(&d, 24) && bit(&d, 27) && bit(&d, 31));
    }

    /// A frame framed by hand (flags, zero-bit insertion after five 1s, FCS) is found; a spoilt
    /// FCS, an abort and random bytes give nothing or garbage-free frames, never a panic.
    #[test]
    fn hdlc_frames_in_a_bit_stream() {
        let body = [0xff, 0x03, fcf::FCD, 0, 0xff, 0x1f, 0x7e, 0x00];
        let mut raw = body.to_vec();
        raw.extend(fcs(&body).to_le_bytes());
        let mut bits = Vec::new();
        let flag = |bits: &mut Vec<bool>| bits.extend((0..8).map(|i| 0x7e & (1 << i) != 0));
        flag(&mut bits);
        let mut ones = 0;
        for b in &raw {
            for i in 0..8 {
                let v = b & (1 << i) != 0;
                bits.push(v);
                ones = if v { ones + 1 } else { 0 };
                if ones == 5 {
                    bits.push(false);
                    ones = 0;
                }
            }
        }
        flag(&mut bits);
        bits.resize(bits.len().div_ceil(8) * 8, true);
        let pack = |bits: &[bool]| -> Vec<u8> {
            bits.chunks(8)
                .map(|c| {
                    c.iter()
                        .enumerate()
                        .fold(0u8, |a, (k, &v)| a | u8::from(v) << k)
                })
                .collect()
        };
        assert_eq!(hdlc_frames(&pack(&bits)), [body.to_vec()]);
        let mut spoilt = bits.clone();
        spoilt[20] = !spoilt[20];
        assert!(hdlc_frames(&pack(&spoilt)).is_empty());
        assert!(hdlc_frames(&[]).is_empty());
        assert!(hdlc_frames(&[0xff; 100]).is_empty());
        let mut seed = 0x9e37_79b9_u64;
        for _ in 0..200 {
            let data: Vec<u8> = (0..(seed % 2000))
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            for f in hdlc_frames(&data) {
                assert!(f.len() >= 3);
            }
        }
    }

    #[test]
    fn dcs_rate_fields() {
        let mut f = vec![0u8; 3];
        set(&mut f, 14);
        set(&mut f, 12);
        let d = Dcs::parse(&f).unwrap();
        assert_eq!((d.family, d.bps), (Family::V17, 12000));
        assert_eq!(Dcs::parse(&[0, 0]), None);
    }
}
