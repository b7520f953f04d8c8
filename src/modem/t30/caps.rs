//! T.30 capabilities: the receiver's DIS, our DCS, and the high-speed modulations.
//!
//! Owns the bit numbering of the DIS/DCS information field (T.30 Table 2: bit 1 is the first
//! bit on the line, i.e. the least significant bit of the first octet in wire order), the rate
//! fields, the minimum scan-line time and the fallback order of the modulations. Pure.

/// Reads bit `n` (1-based, T.30 numbering) of a FIF.
pub fn bit(fif: &[u8], n: usize) -> bool {
    fif.get((n - 1) / 8)
        .is_some_and(|b| b & (1 << ((n - 1) % 8)) != 0)
}

/// Sets bit `n` (1-based) of a FIF, growing it as needed.
pub fn set_bit(fif: &mut Vec<u8>, n: usize, on: bool) {
    let i = (n - 1) / 8;
    if fif.len() <= i {
        fif.resize(i + 1, 0);
    }
    let mask = 1 << ((n - 1) % 8);
    if on {
        fif[i] |= mask;
    } else {
        fif[i] &= !mask;
    }
}

/// A modem family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// V.27 ter (2400, 4800).
    V27,
    /// V.29 (7200, 9600).
    V29,
    /// V.17 (7200 … 14400).
    V17,
}

/// One high-speed modulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Modulation {
    /// Bit rate.
    pub bps: u32,
    /// Family.
    pub family: Family,
    /// `+FTM=` code for TCF (V.17: long training).
    pub tcf_code: u8,
    /// `+FTM=` code for page data (V.17: short training).
    pub page_code: u8,
    /// DCS bits 11, 12, 13, 14 (as a 4-bit number, bit 11 the most significant).
    pub dcs_rate: u8,
}

const fn m(bps: u32, family: Family, tcf_code: u8, page_code: u8, dcs_rate: u8) -> Modulation {
    Modulation {
        bps,
        family,
        tcf_code,
        page_code,
        dcs_rate,
    }
}

/// Every modulation, fastest first: the order training steps down after FTT.
pub const FALLBACK: [Modulation; 8] = [
    m(14400, Family::V17, 145, 146, 0b0001),
    m(12000, Family::V17, 121, 122, 0b0101),
    m(9600, Family::V17, 97, 98, 0b1001),
    m(9600, Family::V29, 96, 96, 0b1000),
    m(7200, Family::V17, 73, 74, 0b1101),
    m(7200, Family::V29, 72, 72, 0b1100),
    m(4800, Family::V27, 48, 48, 0b0100),
    m(2400, Family::V27, 24, 24, 0b0000),
];

impl Modulation {
    /// "V.17 14400" for logs.
    pub fn name(&self) -> String {
        let f = match self.family {
            Family::V27 => "V.27ter",
            Family::V29 => "V.29",
            Family::V17 => "V.17",
        };
        format!("{f} {}", self.bps)
    }

    /// TCF: 1.5 s of zeros at this rate.
    pub fn tcf_bytes(&self) -> usize {
        (self.bps as usize * 3) / 16
    }
}

/// Minimum scan-line time: milliseconds at standard and at fine resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanTime {
    /// At 3.85 lines/mm.
    pub standard_ms: u32,
    /// At 7.7 lines/mm.
    pub fine_ms: u32,
}

/// What the receiver's DIS says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dis {
    /// Bit 10: it can receive.
    pub can_receive: bool,
    /// Bits 11–14 as a 4-bit number (bit 11 most significant).
    pub rates: u8,
    /// Bit 15: 7.7 lines/mm.
    pub fine: bool,
    /// Bit 16: 2-D (MR) coding.
    pub two_d: bool,
    /// Bits 19–20 = 01: unlimited page length.
    pub unlimited_length: bool,
    /// Bits 21–23.
    pub scan: ScanTime,
    /// Bit 27: error correction mode.
    pub ecm: bool,
    /// Bit 31: T.6 (MMR) coding.
    pub mmr: bool,
}

impl std::fmt::Display for Dis {
    /// What a session log shows: `receives, rates 0b1011, fine, 2-D, ECM, MMR, unlimited length,
    /// scan 20/10 ms` (only what is offered).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut parts: Vec<String> = vec![
            if self.can_receive {
                "receives"
            } else {
                "cannot receive"
            }
            .to_string(),
            format!("rates {:#06b}", self.rates),
        ];
        for (on, what) in [
            (self.fine, "fine"),
            (self.two_d, "2-D"),
            (self.ecm, "ECM"),
            (self.mmr, "MMR"),
            (self.unlimited_length, "unlimited length"),
        ] {
            if on {
                parts.push(what.to_string());
            }
        }
        parts.push(format!(
            "scan {}/{} ms",
            self.scan.standard_ms, self.scan.fine_ms
        ));
        f.write_str(&parts.join(", "))
    }
}

impl Dis {
    /// Parses a DIS information field (at least 3 octets).
    pub fn parse(fif: &[u8]) -> Option<Dis> {
        if fif.len() < 3 {
            return None;
        }
        let rates = (u8::from(bit(fif, 11)) << 3)
            | (u8::from(bit(fif, 12)) << 2)
            | (u8::from(bit(fif, 13)) << 1)
            | u8::from(bit(fif, 14));
        let (s, half) = match (bit(fif, 21), bit(fif, 22), bit(fif, 23)) {
            (false, false, false) => (20, false),
            (false, false, true) => (40, false),
            (false, true, false) => (10, false),
            (true, false, false) => (5, false),
            (false, true, true) => (10, true),
            (true, true, false) => (20, true),
            (true, false, true) => (40, true),
            (true, true, true) => (0, false),
        };
        let extended = bit(fif, 24);
        Some(Dis {
            can_receive: bit(fif, 10),
            rates,
            fine: bit(fif, 15),
            two_d: bit(fif, 16),
            unlimited_length: !bit(fif, 19) && bit(fif, 20),
            scan: ScanTime {
                standard_ms: s,
                fine_ms: if half { s / 2 } else { s },
            },
            ecm: extended && bit(fif, 27),
            mmr: extended && bit(fif, 31),
        })
    }

    /// Whether the receiver takes this modulation (T.30 Table 2 rate field).
    pub fn supports(&self, m: &Modulation) -> bool {
        let (v27, v29, v17) = match self.rates {
            0b0000 => (m.bps == 2400, false, false),
            0b0100 => (true, false, false),
            0b1000 => (false, true, false),
            0b1100 => (true, true, false),
            0b1101 => (true, true, true),
            _ => (true, true, false),
        };
        match m.family {
            Family::V27 => v27,
            Family::V29 => v29,
            Family::V17 => v17,
        }
    }
}

/// What we chose for the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// The modulation.
    pub modulation: Modulation,
    /// Fine resolution.
    pub fine: bool,
    /// MR coding.
    pub two_d: bool,
    /// Unlimited page length.
    pub unlimited_length: bool,
    /// Minimum scan-line time at the chosen resolution.
    pub scan_ms: u32,
    /// Error correction mode (T.30 Annex A) with 256-octet frames.
    pub ecm: bool,
    /// T.6 (MMR) coding (only with ECM).
    pub mmr: bool,
    /// ECM frames of 64 octets instead of 256 (DCS bit 28).
    pub small_frames: bool,
}

impl Session {
    /// The DCS information field (3 octets).
    pub fn dcs(&self) -> Vec<u8> {
        let mut f = vec![0u8; 3];
        set_bit(&mut f, 10, true);
        let r = self.modulation.dcs_rate;
        set_bit(&mut f, 11, r & 8 != 0);
        set_bit(&mut f, 12, r & 4 != 0);
        set_bit(&mut f, 13, r & 2 != 0);
        set_bit(&mut f, 14, r & 1 != 0);
        set_bit(&mut f, 15, self.fine);
        set_bit(&mut f, 16, self.two_d);
        set_bit(&mut f, 20, self.unlimited_length);
        let (b21, b22, b23) = match self.scan_ms {
            0 => (true, true, true),
            5 => (true, false, false),
            10 => (false, true, false),
            40 => (false, false, true),
            _ => (false, false, false),
        };
        set_bit(&mut f, 21, b21);
        set_bit(&mut f, 22, b22);
        set_bit(&mut f, 23, b23);
        if self.ecm {
            // Extend to the fourth octet: bit 27 ECM, bit 28 clear (256-octet frames), bit 31 MMR.
            set_bit(&mut f, 24, true);
            set_bit(&mut f, 27, true);
            set_bit(&mut f, 28, self.small_frames);
            set_bit(&mut f, 31, self.mmr);
        }
        f
    }

    /// The coding named for logs: "MMR", "MR" or "MH".
    pub fn coding_name(&self) -> &'static str {
        if self.mmr {
            "MMR"
        } else if self.two_d {
            "MR"
        } else {
            "MH"
        }
    }

    /// Minimum bytes per coded scan line at this speed.
    pub fn min_line_bytes(&self) -> usize {
        (self.scan_ms * self.modulation.bps).div_ceil(8000) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(spec_order: &[u8]) -> Vec<u8> {
        spec_order.iter().map(|b| b.reverse_bits()).collect()
    }

    #[test]
    fn the_rigs_dis_and_efaxs_dcs() {
        // efax's log of the iaxmodem receiver's DIS: "ff c8 01 00 76 1e" (bit-reversed).
        let dis = Dis::parse(&wire(&[0x00, 0x76, 0x1e])).unwrap();
        assert!(dis.can_receive && dis.fine && !dis.two_d && dis.unlimited_length);
        assert_eq!(dis.rates, 0b1101);
        assert_eq!(dis.scan.standard_ms, 0);
        assert!(FALLBACK.iter().all(|m| dis.supports(m)));
        // efax answered with "ff c8 c1 00 46 1e": V.17 14400, fine, 1-D, any length, 0 ms.
        let s = Session {
            modulation: FALLBACK[0],
            fine: true,
            two_d: false,
            unlimited_length: true,
            scan_ms: 0,
            ecm: false,
            mmr: false,
            small_frames: false,
        };
        assert_eq!(s.dcs(), wire(&[0x00, 0x46, 0x1e]));
        assert_eq!(s.min_line_bytes(), 0);
    }

    #[test]
    fn rate_fields_and_scan_times() {
        let mut f = vec![0u8; 3];
        set_bit(&mut f, 10, true);
        set_bit(&mut f, 11, true); // 1000: V.29 only
        set_bit(&mut f, 22, true);
        set_bit(&mut f, 23, true); // 011: 10 ms, half at fine
        let d = Dis::parse(&f).unwrap();
        let names: Vec<String> = FALLBACK
            .iter()
            .filter(|m| d.supports(m))
            .map(|m| m.name())
            .collect();
        assert_eq!(names, ["V.29 9600", "V.29 7200"]);
        assert_eq!(
            d.scan,
            ScanTime {
                standard_ms: 10,
                fine_ms: 5
            }
        );
        let s = Session {
            modulation: FALLBACK[3],
            fine: false,
            two_d: true,
            unlimited_length: false,
            scan_ms: 20,
            ecm: false,
            mmr: false,
            small_frames: false,
        };
        assert_eq!(s.min_line_bytes(), 24);
        let dcs = s.dcs();
        assert!(bit(&dcs, 11) && !bit(&dcs, 12) && !bit(&dcs, 13) && !bit(&dcs, 14));
        assert!(bit(&dcs, 16) && !bit(&dcs, 21) && !bit(&dcs, 22) && !bit(&dcs, 23));
        assert!(Dis::parse(&[0, 0]).is_none());
        let e = Session {
            ecm: true,
            mmr: true,
            ..s
        };
        let dcs = e.dcs();
        assert_eq!(dcs.len(), 4);
        assert!(bit(&dcs, 24) && bit(&dcs, 27) && !bit(&dcs, 28) && bit(&dcs, 31));
        assert_eq!(e.coding_name(), "MMR");
        let small = Session {
            small_frames: true,
            ..e
        };
        assert!(bit(&small.dcs(), 28));
        let dis = Dis::parse(&dcs).unwrap();
        assert!(dis.ecm && dis.mmr);
    }
}
