//! Class 1 (T.31) through the interpreter with a fake clock: a test DTE runs T.30 by hand
//! against the simulated remote receiver (frames, training, pages, faults).

use super::*;

const C1: &str = r#"
[[number]]
number = "110"
outcome = { kind = "fax", csi = "C1 FAX", rings = 1 }
[[number]]
number = "111"
outcome = { kind = "fax", rings = 1, train_max = 9600 }
[[number]]
number = "112"
outcome = { kind = "fax", rings = 1, drop = [{ frame = "MPS", times = 1 }], garble = [{ frame = "CFR" }] }
[[number]]
number = "113"
outcome = { kind = "fax", rings = 1, rtn_pages = [1], rtn_times = 1, dis = "1,5,0,2,1,0,0,0" }
[[number]]
number = "114"
outcome = { kind = "fax", rings = 1, drop = [{ frame = "DCS" }], rtp_pages = [1] }
[[number]]
number = "115"
outcome = { kind = "fax", rings = 1, dis = "0,3,0,2,0,0,0,0" }
"#;

/// T.30 bit `n` (1-based; bit 1 is the first on the line, the LSB of the first octet).
fn bit(fif: &[u8], n: usize) -> bool {
    fif.get((n - 1) / 8)
        .is_some_and(|b| b & (1 << ((n - 1) % 8)) != 0)
}

fn set(fif: &mut [u8], n: usize) {
    fif[(n - 1) / 8] |= 1 << ((n - 1) % 8);
}

/// CRC-16/X.25 written out again for the test (the simulator's own is not used to check it).
fn crc(data: &[u8]) -> u16 {
    let mut c: u16 = 0xffff;
    for &b in data {
        c ^= b as u16;
        for _ in 0..8 {
            c = if c & 1 == 1 {
                (c >> 1) ^ 0x8408
            } else {
                c >> 1
            };
        }
    }
    !c
}

fn stuff(data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for &b in data {
        if b == DLE {
            v.push(DLE);
        }
        v.push(b);
    }
    v.extend([DLE, ETX]);
    v
}

/// A DCS for V.17 14400 (rate bits 0001), fine, MH, A4, 1728.
fn dcs(rate: [bool; 4], fine: bool, mr: bool) -> Vec<u8> {
    let mut f = vec![0u8; 3];
    set(&mut f, 10);
    for (i, on) in rate.iter().enumerate() {
        if *on {
            set(&mut f, 11 + i);
        }
    }
    if fine {
        set(&mut f, 15);
    }
    if mr {
        set(&mut f, 16);
    }
    f
}

const V17_14400: [bool; 4] = [false, false, false, true];
const V17_9600: [bool; 4] = [true, false, false, true];
const V29_9600: [bool; 4] = [true, false, false, false];

fn c1_rig() -> Rig {
    let mut r = rig_with(1, exchange(C1));
    assert_eq!(r.send("ATE0\r"), "ATE0\r\r\nOK\r\n");
    r
}

impl Rig {
    /// Output until a final result follows a `DLE ETX` (or the clock passes `secs`).
    fn until_frame_end(&mut self, secs: f64) -> Vec<u8> {
        let end = self.now + Duration::from_secs_f64(secs);
        let mut acc = self.raw_out();
        loop {
            if let Some(i) = acc.windows(2).position(|w| w == [DLE, ETX]) {
                let tail = String::from_utf8_lossy(&acc[i + 2..]).to_string();
                if tail.contains("OK\r\n") || tail.contains("ERROR\r\n") {
                    return acc;
                }
            }
            match self.m.poll_timeout() {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.m.handle_timeout(self.now);
                    acc.extend(self.raw_out());
                }
                _ => return acc,
            }
        }
    }

    /// One received frame: (address..FIF without FCS, FCS good, final result text).
    fn frame(&mut self, out: Vec<u8>) -> (Vec<u8>, bool, String) {
        let start = out
            .windows(9)
            .position(|w| w == b"CONNECT\r\n")
            .map_or(0, |i| i + 9);
        let mut body = Vec::new();
        let mut i = start;
        while i < out.len() {
            if out[i] == DLE {
                match out.get(i + 1) {
                    Some(&DLE) => body.push(DLE),
                    Some(&ETX) => break,
                    _ => {}
                }
                i += 2;
            } else {
                body.push(out[i]);
                i += 1;
            }
        }
        let tail = String::from_utf8_lossy(&out[(i + 2).min(out.len())..]).to_string();
        assert!(
            body.len() >= 5,
            "frame too short: {body:02x?} in {out:02x?}"
        );
        let (f, fcs) = body.split_at(body.len() - 2);
        let good = crc(f) == u16::from_le_bytes([fcs[0], fcs[1]]);
        (f.to_vec(), good, tail)
    }

    fn frh(&mut self) -> (Vec<u8>, bool, String) {
        self.m.feed(self.now, b"AT+FRH=3\r");
        let out = self.until_frame_end(20.0);
        self.frame(out)
    }

    /// Send frames with `+FTH=3`; returns the final result after the last.
    fn fth(&mut self, frames: &[Vec<u8>]) -> String {
        assert_eq!(self.send("AT+FTH=3\r"), "");
        assert_eq!(self.wait(10), "\r\nCONNECT\r\n");
        for (i, f) in frames.iter().enumerate() {
            let last = i + 1 == frames.len();
            let mut raw = vec![0xff, if last { 0x13 } else { 0x03 }];
            raw.extend(f);
            self.bytes(&stuff(&raw));
            if !last {
                assert_eq!(self.out(), "\r\nCONNECT\r\n", "CONNECT for the next frame");
            }
        }
        self.wait(10)
    }

    fn ftm(&mut self, code: u32, data: &[u8]) -> String {
        assert_eq!(self.send(&format!("AT+FTM={code}\r")), "");
        assert_eq!(self.wait(10), "\r\nCONNECT\r\n");
        self.bytes(&stuff(data));
        self.wait(60)
    }

    /// Dial, read CSI and DIS; returns the DIS FIF.
    fn c1_dial(&mut self, number: &str) -> Vec<u8> {
        assert_eq!(self.send("AT+FCLASS=1\r"), "\r\nOK\r\n");
        self.m.feed(self.now, format!("ATDT{number}\r").as_bytes());
        let out = self.until_frame_end(60.0);
        assert!(out.starts_with(b"\r\nCONNECT\r\n"), "{out:02x?}");
        let (csi, good, fin) = self.frame(out);
        assert!(good && fin.contains("OK"));
        assert_eq!(&csi[..3], [0xff, 0x03, 0x40], "CSI, not final");
        let (dis, good, fin) = self.frh();
        assert!(good && fin.contains("OK"));
        assert_eq!(&dis[..3], [0xff, 0x13, 0x80], "DIS, final");
        dis[3..].to_vec()
    }

    fn train(&mut self, rate: [bool; 4], code: u32, bps: usize, fine: bool, mr: bool) -> u8 {
        let mut tsi = vec![0x43];
        tsi.extend(b"       LANOITAN TSET".iter());
        let mut d = vec![0x83];
        d.extend(dcs(rate, fine, mr));
        assert_eq!(self.fth(&[tsi, d]), "\r\nOK\r\n");
        assert_eq!(self.send("AT+FTS=8\r"), "");
        assert_eq!(self.wait(5), "\r\nOK\r\n");
        assert_eq!(self.ftm(code, &vec![0u8; bps * 3 / 16]), "\r\nOK\r\n");
        let (f, good, _) = self.frh();
        assert!(good);
        f[2]
    }

    fn page(&mut self, code: u32, data: &[u8], ppm: u8) -> (u8, bool) {
        assert_eq!(self.ftm(code, data), "\r\nOK\r\n");
        assert_eq!(self.send("AT+FTS=8\r"), "");
        assert_eq!(self.wait(5), "\r\nOK\r\n");
        assert_eq!(self.fth(&[vec![ppm]]), "\r\nOK\r\n");
        let (f, good, _) = self.frh();
        (f[2], good)
    }

    fn pages(&mut self) -> Vec<(Vec<u8>, crate::tiff_f::PageInfo)> {
        self.pages_and_records().0
    }

    fn pages_and_records(&mut self) -> (Vec<(Vec<u8>, crate::tiff_f::PageInfo)>, Vec<CallRecord>) {
        let (mut pages, mut recs) = (Vec::new(), Vec::new());
        for e in self.events() {
            match e {
                Event::Page { strip, info, .. } => pages.push((strip, info)),
                Event::CallEnded { record, .. } => recs.push(*record),
                _ => {}
            }
        }
        (pages, recs)
    }
}

/// The page as a Class 1 DTE sends it: LSB-first (wire order), not yet DLE-stuffed.
fn c1_page() -> (Bitmap, Vec<u8>) {
    let (bm, _) = stuffed_page();
    let data = encode_mh(&bm).iter().map(|b| b.reverse_bits()).collect();
    (bm, data)
}

const CFR: u8 = 0x84;
const FTT: u8 = 0x44;
const MCF: u8 = 0x8c;
const RTN: u8 = 0x4c;
const RTP: u8 = 0xcc;
const MPS: u8 = 0x4f;
const EOP: u8 = 0x2f;
const DCN: u8 = 0xfb;

#[test]
fn class1_is_offered_and_lists_its_modulations() {
    let mut r = c1_rig();
    assert_eq!(r.send("AT+FCLASS=?\r"), "\r\n0,1,2,2.0,8\r\n\r\nOK\r\n");
    assert_eq!(r.send("AT+FCLASS=1\r"), "\r\nOK\r\n");
    assert_eq!(r.send("AT+FCLASS?\r"), "\r\n1\r\n\r\nOK\r\n");
    let list = "24,48,72,73,74,96,97,98,121,122,145,146";
    assert_eq!(r.send("AT+FTM=?\r"), format!("\r\n{list}\r\n\r\nOK\r\n"));
    assert_eq!(r.send("AT+FRM=?\r"), format!("\r\n{list}\r\n\r\nOK\r\n"));
    assert_eq!(r.send("AT+FTH=?\r"), "\r\n3\r\n\r\nOK\r\n");
    assert_eq!(r.send("AT+FRH=?\r"), "\r\n3\r\n\r\nOK\r\n");
    // On-hook, every Class 1 action is an error; so are unknown modulations.
    for c in ["AT+FTH=3", "AT+FRH=3", "AT+FTM=146", "AT+FRM=146"] {
        assert_eq!(r.send(&format!("{c}\r")), "\r\nERROR\r\n", "{c}");
    }
    assert_eq!(r.send("AT+FTM=99\r"), "\r\nERROR\r\n");
    assert_eq!(r.send("AT+FTS=5\r"), "");
    assert_eq!(r.wait(1), "\r\nOK\r\n");
}

#[test]
fn class1_two_fine_pages_are_received_and_decoded() {
    let mut r = c1_rig();
    let dis = r.c1_dial("110");
    assert!(bit(&dis, 10) && bit(&dis, 15), "receives, fine");
    assert!(
        bit(&dis, 11) && bit(&dis, 12) && !bit(&dis, 13) && bit(&dis, 14),
        "V.17"
    );
    assert!(!bit(&dis, 16), "no 2-D in the default DIS");
    assert_eq!(r.train(V17_14400, 145, 14400, true, false), CFR);
    let (bm, page) = c1_page();
    assert_eq!(r.page(146, &page, MPS), (MCF, true));
    assert_eq!(r.page(146, &page, EOP), (MCF, true));
    assert_eq!(r.fth(&[vec![DCN]]), "\r\nOK\r\n");
    assert_eq!(r.send("ATH0\r"), "\r\nOK\r\n");
    let (pages, mut recs) = r.pages_and_records();
    assert_eq!(pages.len(), 2);
    for (strip, info) in &pages {
        assert_eq!((info.width, info.yres), (1728, 196));
        let d = crate::t4::decode_page(strip, 1728, crate::t4::Coding::Mh).unwrap();
        assert_eq!(d.bitmap, bm);
    }
    let rec = recs.pop().unwrap();
    assert_eq!(
        (rec.class.as_str(), rec.pages.len(), rec.ended_by.as_str()),
        ("1", 2, "normal end")
    );
    assert_eq!(rec.result, "CONNECT");
    assert_eq!(
        (rec.tsi.as_str(), rec.trained_bps),
        ("TEST NATIONAL", 14400)
    );
}

#[test]
fn class1_ftt_above_the_line_rate_then_cfr_lower() {
    let mut r = c1_rig();
    r.c1_dial("111");
    assert_eq!(r.train(V17_14400, 145, 14400, true, false), FTT);
    // Short training is no training check: FTT even at a rate the line carries.
    assert_eq!(r.train(V17_9600, 98, 9600, true, false), FTT);
    assert_eq!(r.train(V17_9600, 97, 9600, true, false), CFR);
    let (_, page) = c1_page();
    assert_eq!(r.page(98, &page, EOP), (MCF, true));
}

#[test]
fn class1_dropped_command_and_garbled_answer_are_recovered_by_repeating() {
    let mut r = c1_rig();
    r.c1_dial("112");
    // CFR arrives with a bad FCS: ERROR after the frame; the DTE repeats DCS and TCF.
    let mut tsi = vec![0x43];
    tsi.extend([b' '; 20]);
    let mut d = vec![0x83];
    d.extend(dcs(V17_14400, true, false));
    assert_eq!(r.fth(&[tsi.clone(), d.clone()]), "\r\nOK\r\n");
    assert_eq!(r.ftm(145, &[0; 2700]), "\r\nOK\r\n");
    let (f, good, fin) = r.frh();
    assert_eq!((f[2], good, fin.contains("ERROR")), (CFR, false, true));
    assert_eq!(r.train(V17_14400, 145, 14400, true, false), CFR);
    // MPS is not heard: +FRH=3 waits until the DTE cancels it.
    let (_, page) = c1_page();
    assert_eq!(r.ftm(146, &page), "\r\nOK\r\n");
    assert_eq!(r.fth(&[vec![MPS]]), "\r\nOK\r\n");
    assert_eq!(r.send("AT+FRH=3\r"), "");
    assert!(r.advance(30.0).is_empty(), "nothing answers a lost MPS");
    r.bytes(&[CAN]);
    assert_eq!(r.out(), "\r\nOK\r\n");
    assert_eq!(r.fth(&[vec![MPS]]), "\r\nOK\r\n");
    assert_eq!(r.frh().0[2], MCF);
    // A repeated MPS (our MCF lost on the way) gets the same answer, not a new page.
    assert_eq!(r.fth(&[vec![MPS]]), "\r\nOK\r\n");
    assert_eq!(r.frh().0[2], MCF);
    assert_eq!(r.page(146, &page, EOP), (MCF, true));
    assert_eq!(r.pages().len(), 2);
}

#[test]
fn class1_rtn_needs_a_retrain_and_mr_pages_decode() {
    let mut r = c1_rig();
    let dis = r.c1_dial("113");
    assert!(bit(&dis, 16), "2-D offered");
    assert_eq!(r.train(V17_14400, 145, 14400, true, true), CFR);
    let (bm, _) = c1_page();
    let mr: Vec<u8> = crate::t4::encode_mr(&bm)
        .iter()
        .map(|b| b.reverse_bits())
        .collect();
    assert_eq!(r.page(146, &mr, EOP), (RTN, true));
    // Without a new training the data is not taken: RTN again.
    assert_eq!(r.page(146, &mr, EOP), (RTN, true));
    assert_eq!(r.train(V17_14400, 145, 14400, true, true), CFR);
    assert_eq!(r.page(146, &mr, EOP), (MCF, true));
    let pages = r.pages();
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].1.coding, crate::t4::Coding::Mr);
    assert_eq!(r.fth(&[vec![DCN]]), "\r\nOK\r\n");
    r.send("ATH\r");
    let rec = r.records().pop().unwrap();
    // The second RTN answered a repeated EOP: one rejection.
    assert_eq!(
        (rec.pages_rejected, rec.pages[0].coding.as_str()),
        (1, "MR")
    );
}

#[test]
fn class1_lost_dcs_brings_dis_again_and_rtp_keeps_the_page() {
    let mut r = c1_rig();
    r.c1_dial("114");
    let mut d = vec![0x83];
    d.extend(dcs(V17_14400, true, false));
    assert_eq!(r.fth(&[d]), "\r\nOK\r\n");
    assert_eq!(r.ftm(145, &[0; 2700]), "\r\nOK\r\n");
    // The remote never heard DCS: after its T4 it sends CSI and DIS again.
    let (f, good, _) = r.frh();
    assert_eq!((f[2], good), (0x40, true));
    assert_eq!(r.frh().0[2], 0x80);
    assert_eq!(r.train(V17_14400, 145, 14400, true, false), CFR);
    let (_, page) = c1_page();
    assert_eq!(r.page(146, &page, EOP), (RTP, true));
    assert_eq!(r.pages().len(), 1);
}

#[test]
fn class1_dcs_beyond_the_dis_is_refused_with_dcn() {
    let mut r = c1_rig();
    let dis = r.c1_dial("115");
    assert!(
        !bit(&dis, 15) && !bit(&dis, 14),
        "normal resolution, V.29 at most"
    );
    let mut d = vec![0x83];
    d.extend(dcs(V29_9600, true, false));
    assert_eq!(r.fth(&[d]), "\r\nOK\r\n");
    assert_eq!(r.ftm(96, &[0; 1800]), "\r\nOK\r\n");
    assert_eq!(r.frh().0[2], 0xfa, "DCN");
    assert_eq!(r.send("AT+FRH=3\r"), "\r\nNO CARRIER\r\n");
    r.send("ATH\r");
    let rec = r.records().pop().unwrap();
    assert!(rec.ended_by.contains("fine resolution"), "{}", rec.ended_by);
}

#[test]
fn class1_junk_never_panics() {
    let mut r = c1_rig();
    r.c1_dial("110");
    let mut seed = 7u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for cmd in [
        "AT+FTH=3\r",
        "AT+FTM=146\r",
        "AT+FRH=3\r",
        "AT+FRM=96\r",
        "AT+FRS=3\r",
        "AT+FTH=3;+FRH=3\r",
    ] {
        for _ in 0..20 {
            r.m.feed(r.now, cmd.as_bytes());
            r.advance(0.5);
            let junk: Vec<u8> = (0..(rnd() % 300)).map(|_| rnd() as u8).collect();
            r.bytes(&junk);
            r.bytes(&[DLE, ETX]);
            r.advance(5.0);
            r.bytes(&[CAN]);
            r.advance(5.0);
            r.out();
        }
    }
    r.bytes(&[DLE, ETX]);
    r.advance(10.0);
    r.bytes(&[CAN]);
    r.advance(10.0);
    r.send("ATQ0V1H\r");
    assert!(!r.records().is_empty());
}

#[test]
fn class1_frm_while_frames_are_on_the_line_is_a_carrier_error() {
    let mut r = c1_rig();
    assert_eq!(r.send("AT+FCLASS=1\r"), "\r\nOK\r\n");
    r.m.feed(r.now, b"ATDT110\r");
    let out = r.until_frame_end(60.0);
    assert_eq!(r.frame(out).0[2], 0x40, "CSI");
    // DIS is still to come on V.21: a high-speed receive is the wrong carrier.
    assert_eq!(r.send("AT+FRM=96\r"), "\r\n+FCERROR\r\n");
    assert_eq!(r.send("ATV0\r"), "0\r");
    assert_eq!(r.send("AT+FRM=96\r"), "+F4\r");
    r.send("ATV1\r");
    assert_eq!(r.frh().0[2], 0x80, "DIS after all");
    // Nothing more is coming: +FRM waits until the DTE cancels.
    assert_eq!(r.send("AT+FRM=96\r"), "");
    assert!(r.advance(20.0).is_empty());
    r.bytes(&[CAN]);
    assert_eq!(r.out(), "\r\nOK\r\n");
}
