//! DLE framing of the data phases: escaping what the DTE sends, unescaping what the DCE sends.
//!
//! Owns the byte rules shared by fax page data and voice audio: a data byte 0x10 (DLE) is sent
//! twice; `DLE ETX` ends a block; in Class 2.0 `DLE ,` `DLE ;` `DLE .` end a page; in voice mode
//! `DLE x` carries an event (DTMF digit, busy, silence…). Pure.

/// Data Link Escape.
pub const DLE: u8 = 0x10;
/// End of text: `DLE ETX` ends a data block.
pub const ETX: u8 = 0x03;
/// XON: old Class 2 modems send it when they are ready for page data.
pub const DC1: u8 = 0x11;
/// Some modems (and efax) use DC2 for the same purpose.
pub const DC2: u8 = 0x12;
/// Cancel: aborts a Class 2.0 page.
pub const CAN: u8 = 0x18;

/// Appends `data` to `out` with every DLE doubled.
pub fn escape_into(out: &mut Vec<u8>, data: &[u8]) {
    out.reserve(data.len() + data.len() / 64);
    for &b in data {
        out.push(b);
        if b == DLE {
            out.push(DLE);
        }
    }
}

/// What a DLE-framed stream from the DCE contained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unescaped {
    /// Plain data bytes.
    Data(Vec<u8>),
    /// `DLE ETX`: the block ended.
    End,
    /// `DLE x` for any other x: a shielded event (voice DTMF digits, `b` busy, `s` silence…).
    Event(u8),
}

/// Incremental unescaper: keeps a trailing lone DLE until the next byte arrives.
#[derive(Debug, Default, Clone)]
pub struct Unescaper {
    pending_dle: bool,
}

impl Unescaper {
    /// Splits `input` into data runs and DLE items.
    pub fn feed(&mut self, input: &[u8]) -> Vec<Unescaped> {
        let mut out = Vec::new();
        let mut data = Vec::new();
        for &b in input {
            if self.pending_dle {
                self.pending_dle = false;
                match b {
                    DLE => data.push(DLE),
                    _ => {
                        if !data.is_empty() {
                            out.push(Unescaped::Data(std::mem::take(&mut data)));
                        }
                        out.push(if b == ETX {
                            Unescaped::End
                        } else {
                            Unescaped::Event(b)
                        });
                    }
                }
            } else if b == DLE {
                self.pending_dle = true;
            } else {
                data.push(b);
            }
        }
        if !data.is_empty() {
            out.push(Unescaped::Data(data));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_doubles_dle_only() {
        let mut out = Vec::new();
        escape_into(&mut out, &[1, DLE, 2, DLE, DLE, ETX]);
        assert_eq!(out, [1, DLE, DLE, 2, DLE, DLE, DLE, DLE, ETX]);
    }

    #[test]
    fn unescaping_across_chunk_boundaries() {
        let mut u = Unescaper::default();
        let mut items = u.feed(&[1, 2, DLE]);
        items.extend(u.feed(&[DLE, 3, DLE, b'5', DLE]));
        items.extend(u.feed(&[ETX, 9]));
        assert_eq!(
            items,
            [
                Unescaped::Data(vec![1, 2]),
                Unescaped::Data(vec![DLE, 3]),
                Unescaped::Event(b'5'),
                Unescaped::End,
                Unescaped::Data(vec![9]),
            ]
        );
    }

    #[test]
    fn round_trip() {
        let data: Vec<u8> = (0..=255u8).cycle().take(2000).collect();
        let mut wire = Vec::new();
        escape_into(&mut wire, &data);
        wire.extend([DLE, ETX]);
        let mut u = Unescaper::default();
        let mut back = Vec::new();
        for chunk in wire.chunks(7) {
            for item in u.feed(chunk) {
                match item {
                    Unescaped::Data(d) => back.extend(d),
                    Unescaped::End => {}
                    Unescaped::Event(e) => panic!("event {e}"),
                }
            }
        }
        assert_eq!(back, data);
    }
}
