//! T.30 HDLC frames as a Class 1 DTE sees them: address, control, FCF, FIF.
//!
//! Owns the frame layout on the DTE link (`FF 03|13 FCF FIF…`, octets in wire order, i.e. the
//! order the bits go out on the line, least significant bit first), the FCF values, the FCS check
//! of received frames (the DCE hands them over with their two FCS octets), the station-ID field
//! (20 characters, last character first) and the incremental reader that finds `DLE ETX` in the
//! data that follows `CONNECT`. Pure; it never sends anything.

use crate::modem::dle::{escape_into, DLE, ETX};

/// Frame control field values in wire order with the X bit (0x01) clear (T.30 §5.3.6; the
/// constants in T.30's own tables are the bit-reversal of these).
pub mod fcf {
    /// Digital identification signal (answerer's capabilities).
    pub const DIS: u8 = 0x80;
    /// Called subscriber identification.
    pub const CSI: u8 = 0x40;
    /// Non-standard facilities.
    pub const NSF: u8 = 0x20;
    /// Digital transmit command (polling).
    pub const DTC: u8 = 0x81 & 0xFE;
    /// Digital command signal (the caller's choice).
    pub const DCS: u8 = 0x82;
    /// Transmitting subscriber identification.
    pub const TSI: u8 = 0x42;
    /// Non-standard set-up.
    pub const NSS: u8 = 0x22;
    /// Confirmation to receive (training good).
    pub const CFR: u8 = 0x84;
    /// Failure to train.
    pub const FTT: u8 = 0x44;
    /// Message confirmation (page good).
    pub const MCF: u8 = 0x8C;
    /// Retrain negative (page bad).
    pub const RTN: u8 = 0x4C;
    /// Retrain positive (page good, retrain first).
    pub const RTP: u8 = 0xCC;
    /// Procedure interrupt negative.
    pub const PIN: u8 = 0x2C;
    /// Procedure interrupt positive.
    pub const PIP: u8 = 0xAC;
    /// End of message (more documents, back to phase B).
    pub const EOM: u8 = 0x8E;
    /// Multi-page signal (another page, same parameters).
    pub const MPS: u8 = 0x4E;
    /// End of procedure (last page).
    pub const EOP: u8 = 0x2E;
    /// Command repeat.
    pub const CRP: u8 = 0x1A;
    /// Disconnect.
    pub const DCN: u8 = 0xFA;
    /// ECM: partial page signal (FIF: post-page message, page, block, frames − 1).
    pub const PPS: u8 = 0xBE;
    /// ECM: partial page request (FIF: 32-octet map of frames to send again).
    pub const PPR: u8 = 0xBC;
    /// ECM: continue to correct (at the rate in the FIF).
    pub const CTC: u8 = 0x12;
    /// ECM: response to CTC.
    pub const CTR: u8 = 0xC4;
    /// ECM: receive ready.
    pub const RR: u8 = 0x6E;
    /// ECM: receive not ready.
    pub const RNR: u8 = 0xEC;
    /// ECM: end of retransmission.
    pub const EOR: u8 = 0xCE;
    /// ECM: response to EOR.
    pub const ERR: u8 = 0x1C;
    /// ECM: the post-page message inside PPS when more blocks of the page follow.
    pub const NULL: u8 = 0x00;
    /// T.4 Annex A: facsimile coded data (at the page modulation; FIF: frame number, data).
    pub const FCD: u8 = 0x06;
    /// T.4 Annex A: return to control for partial page.
    pub const RCP: u8 = 0x86;
    /// The X bit: set on frames from the station that received a valid DIS.
    pub const X: u8 = 0x01;
}

/// The name of an FCF for logs (X bit ignored).
pub fn fcf_name(f: u8) -> &'static str {
    match f & !fcf::X {
        fcf::DIS => "DIS",
        fcf::CSI => "CSI",
        fcf::NSF => "NSF",
        fcf::DCS => "DCS",
        fcf::TSI => "TSI",
        fcf::NSS => "NSS",
        fcf::CFR => "CFR",
        fcf::FTT => "FTT",
        fcf::MCF => "MCF",
        fcf::RTN => "RTN",
        fcf::RTP => "RTP",
        fcf::PIN => "PIN",
        fcf::PIP => "PIP",
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
        fcf::FCD => "FCD",
        fcf::RCP => "RCP",
        _ => "?",
    }
}

/// One HDLC frame without flags and FCS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Control `0x13`: the last frame of its group (the sender waits for an answer after it).
    pub last: bool,
    /// The FCF as it travelled (X bit included).
    pub fcf: u8,
    /// The information field.
    pub fif: Vec<u8>,
}

/// CRC-16/X.25, the HDLC FCS (reflected 0x1021, initial 0xFFFF, complemented).
pub fn fcs(data: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
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

impl Frame {
    /// A frame we send: the X bit is set (we are the caller and received DIS).
    pub fn ours(fcf_value: u8, fif: Vec<u8>, last: bool) -> Frame {
        Frame {
            last,
            fcf: fcf_value | fcf::X,
            fif,
        }
    }

    /// The FCF with the X bit cleared, for matching.
    pub fn kind(&self) -> u8 {
        self.fcf & !fcf::X
    }

    /// Reads a frame as the DCE delivered it after `+FRH=3` (unescaped, before `DLE ETX`): the
    /// two trailing FCS octets are dropped when they check, kept otherwise (some DCEs omit
    /// them). `None` when it is not an HDLC frame at all.
    pub fn parse(bytes: &[u8]) -> Option<Frame> {
        let mut body = bytes;
        if body.len() >= 5 {
            let (head, tail) = body.split_at(body.len() - 2);
            if fcs(head) == u16::from_le_bytes([tail[0], tail[1]]) {
                body = head;
            }
        }
        match body {
            [0xFF, control @ (0x03 | 0x13), f, fif @ ..] => Some(Frame {
                last: *control == 0x13,
                fcf: *f,
                fif: fif.to_vec(),
            }),
            _ => None,
        }
    }

    /// The frame as the DTE hands it to `+FTH=3`: DLE-escaped, ended by `DLE ETX`.
    pub fn to_dte(&self) -> Vec<u8> {
        let mut raw = vec![0xFF, if self.last { 0x13 } else { 0x03 }, self.fcf];
        raw.extend_from_slice(&self.fif);
        let mut out = Vec::with_capacity(raw.len() + 4);
        escape_into(&mut out, &raw);
        out.extend([DLE, ETX]);
        out
    }

    /// Seconds of V.21 line time (300 bit/s, flags and preamble included), rounded up.
    pub fn line_secs(&self) -> u64 {
        2 + (self.fif.len() as u64 + 8) * 8 / 300
    }
}

/// A station ID as the FIF of TSI/CSI: 20 printable characters, the last one first.
pub fn id_fif(id: &str) -> Vec<u8> {
    let mut chars: Vec<u8> = id
        .bytes()
        .filter(|b| b.is_ascii_graphic() || *b == b' ')
        .take(20)
        .collect();
    chars.resize(20, b' ');
    chars.reverse();
    chars
}

/// The ID carried by a CSI/TSI FIF, trimmed.
pub fn id_from_fif(fif: &[u8]) -> String {
    fif.iter()
        .rev()
        .map(|&b| {
            if b.is_ascii_graphic() || b == b' ' {
                b as char
            } else {
                '?'
            }
        })
        .collect::<String>()
        .trim()
        .to_string()
}

/// Collects the DLE-escaped bytes of one received frame up to `DLE ETX`.
#[derive(Debug, Default, Clone)]
pub struct FrameReader {
    buf: Vec<u8>,
    dle: bool,
}

/// Longest frame body kept (T.30 frames are at most ~260 octets with FCS).
const MAX_FRAME: usize = 512;

impl FrameReader {
    /// Takes bytes; when `DLE ETX` is found returns how many of `input` were consumed.
    pub fn push(&mut self, input: &[u8]) -> Option<usize> {
        for (i, &b) in input.iter().enumerate() {
            if self.dle {
                self.dle = false;
                match b {
                    ETX => return Some(i + 1),
                    DLE => self.keep(DLE),
                    _ => {} // stray shielded code: ignore
                }
            } else if b == DLE {
                self.dle = true;
            } else {
                self.keep(b);
            }
        }
        None
    }

    fn keep(&mut self, b: u8) {
        if self.buf.len() < MAX_FRAME {
            self.buf.push(b);
        }
    }

    /// The unescaped bytes so far; resets the reader.
    pub fn take(&mut self) -> Vec<u8> {
        self.dle = false;
        std::mem::take(&mut self.buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rev(b: u8) -> u8 {
        b.reverse_bits()
    }

    #[test]
    fn fcs_of_the_rigs_cfr_checks() {
        // efax logged the CFR as "ff c8 21 57 be" in its bit-reversed notation.
        let wire: Vec<u8> = [0xff, 0xc8, 0x21, 0x57, 0xbe]
            .iter()
            .map(|b| rev(*b))
            .collect();
        assert_eq!(wire[..3], [0xff, 0x13, 0x84]);
        let f = Frame::parse(&wire).unwrap();
        assert_eq!((f.last, f.kind(), f.fif.len()), (true, fcf::CFR, 0));
        // A frame without FCS is taken whole.
        let f = Frame::parse(&[0xff, 0x13, 0x84]).unwrap();
        assert_eq!(f.kind(), fcf::CFR);
        assert_eq!(Frame::parse(&[0x12, 0x13, 0x84]), None);
    }

    #[test]
    fn fcf_values_are_bit_reversed_t30_constants() {
        for (ours, t30) in [
            (fcf::DIS, 0x01),
            (fcf::CSI, 0x02),
            (fcf::DCS, 0x41),
            (fcf::TSI, 0x42),
            (fcf::CFR, 0x21),
            (fcf::FTT, 0x22),
            (fcf::MCF, 0x31),
            (fcf::RTN, 0x32),
            (fcf::RTP, 0x33),
            (fcf::PIN, 0x34),
            (fcf::PIP, 0x35),
            (fcf::EOM, 0x71),
            (fcf::MPS, 0x72),
            (fcf::EOP, 0x74),
            (fcf::CRP, 0x58),
            (fcf::DCN, 0x5F),
            (fcf::PPS, 0x7D),
            (fcf::PPR, 0x3D),
            (fcf::CTC, 0x48),
            (fcf::CTR, 0x23),
            (fcf::RR, 0x76),
            (fcf::RNR, 0x37),
            (fcf::EOR, 0x73),
            (fcf::ERR, 0x38),
        ] {
            assert_eq!(rev(ours), t30, "{}", fcf_name(ours));
        }
    }

    #[test]
    fn ids_go_last_character_first() {
        let fif = id_fif("+1 555 0100");
        assert_eq!(fif.len(), 20);
        assert_eq!(&fif[9..], b"0010 555 1+");
        assert_eq!(id_from_fif(&fif), "+1 555 0100");
    }

    #[test]
    fn frames_to_the_dte_are_escaped_and_terminated() {
        let f = Frame::ours(fcf::DCS, vec![0x00, 0x10, 0x78], true);
        assert_eq!(
            f.to_dte(),
            [0xff, 0x13, 0x83, 0x00, DLE, DLE, 0x78, DLE, ETX]
        );
    }

    #[test]
    fn reader_finds_the_end_across_chunks() {
        let mut r = FrameReader::default();
        assert_eq!(r.push(&[0xff, 0x13, DLE]), None);
        assert_eq!(r.push(&[DLE, 0x84, DLE]), None);
        assert_eq!(r.push(&[ETX, b'\r', b'\n']), Some(1));
        assert_eq!(r.take(), [0xff, 0x13, DLE, 0x84]);
    }
}
