//! The simulated remote fax receiver behind a Class 1 modem: T.30 phases B–E from the called
//! station's side, written from T.30 (not from any sender's code).
//!
//! Owns the DIS built from the scenario's capabilities, the reading of DCS (and refusing one that
//! asks for more than the DIS offered), the training check (TCF), page verdicts (MCF, RTP, RTN,
//! decodability), repeated commands (the previous answer again), CRP, DCN, and the scenario's
//! faults (lost commands, garbled answers, FTT, hang-ups). Pure: frames and data in, frames and
//! verdicts out; the modem decides when they cross the line. Frames are in wire order (`FF`,
//! control, FCF, FIF), without FCS.

use super::commands::parse_caps;
use crate::scenario::{FaxAnswer, FrameFault, Phase};
use crate::t4::{decode_page, Coding};
use std::collections::HashMap;

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

fn bit(fif: &[u8], n: usize) -> bool {
    fif.get((n - 1) / 8)
        .is_some_and(|b| b & (1 << ((n - 1) % 8)) != 0)
}

fn set(fif: &mut Vec<u8>, n: usize) {
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
struct Dcs {
    family: Family,
    bps: u32,
    fine: bool,
    mr: bool,
    width: u32,
    ecm: bool,
}

impl Dcs {
    fn parse(fif: &[u8]) -> Option<Dcs> {
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
        })
    }

    /// The T.32-style parameters (`vr,br,wd,…`) used for the stored page.
    fn t32(&self) -> [u32; 8] {
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
        [u32::from(self.fine), br, wd, 0, u32::from(self.mr), 0, 0, 0]
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

fn frame(fcf_value: u8, fif: &[u8], last: bool) -> Vec<u8> {
    let mut v = vec![0xff, if last { 0x13 } else { 0x03 }, fcf_value];
    v.extend_from_slice(fif);
    v
}

/// A frame the remote sends, and whether it reaches the DTE spoilt (bad FCS).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Out {
    pub bytes: Vec<u8>,
    pub garbled: bool,
}

/// What the modem must do besides sending frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Store this accepted page (`page` 1-based) with these T.32-style parameters.
    Store {
        data: Vec<u8>,
        page: u32,
        dcs: [u32; 8],
    },
    /// A page was rejected (RTN).
    Rejected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// DIS sent; waiting for DCS.
    WaitDcs,
    /// DCS heard; waiting for the training check.
    WaitTcf(Dcs),
    /// DCS refused (or a phase B hang-up): DCN after the training check.
    Refusing,
    /// Trained; waiting for page data.
    Ready(Dcs),
    /// Page data heard; waiting for the post-page message.
    GotPage(Dcs),
    /// EOP confirmed; waiting for DCN.
    Done,
}

/// The remote receiver of one call.
#[derive(Debug)]
pub(crate) struct Remote {
    answer: FaxAnswer,
    caps: [u32; 8],
    step: Step,
    page_data: Vec<u8>,
    /// 1-based number of the page being sent.
    pub page: u32,
    trainings: u32,
    dis_repeats: u32,
    rtn_count: HashMap<u32, u32>,
    drops_used: HashMap<usize, u32>,
    garbles_used: HashMap<usize, u32>,
    /// The last post-page message answered, and the answer (for repeats and CRP).
    last: Option<(u8, Vec<Vec<u8>>)>,
    /// Frames to send, in order.
    pub out: Vec<Out>,
    /// Pages to store, rejections to count.
    pub verdicts: Vec<Verdict>,
    /// Why the remote hung up (it sends nothing more).
    pub gone: Option<String>,
    /// The sender's ID from TSI.
    pub tsi: String,
    /// The rate of the last training confirmed with CFR.
    pub trained_bps: u32,
    /// Why the call is being refused (sent with DCN after the next training check).
    refusal: Option<String>,
}

/// How often the remote repeats DIS when no DCS comes.
const DIS_REPEATS: u32 = 5;

impl Remote {
    pub(crate) fn new(answer: FaxAnswer) -> Remote {
        Remote {
            caps: parse_caps(&answer.dis),
            answer,
            step: Step::WaitDcs,
            page_data: Vec::new(),
            page: 1,
            trainings: 0,
            dis_repeats: 0,
            rtn_count: HashMap::new(),
            drops_used: HashMap::new(),
            garbles_used: HashMap::new(),
            last: None,
            out: Vec::new(),
            verdicts: Vec::new(),
            gone: None,
            tsi: String::new(),
            trained_bps: 0,
            refusal: None,
        }
    }

    /// The answer: CSI and DIS.
    pub(crate) fn greet(&mut self) {
        let mut csi: Vec<u8> = self
            .answer
            .csi
            .bytes()
            .filter(|b| (0x20..0x7f).contains(b))
            .take(20)
            .collect();
        csi.resize(20, b' ');
        csi.reverse();
        let dis = dis_fif(&self.caps);
        self.send(vec![
            frame(fcf::CSI, &csi, false),
            frame(fcf::DIS, &dis, true),
        ]);
    }

    /// Whether a silence of T4 makes the remote say something (DIS again, or a pending DCN).
    pub(crate) fn waits_for_dcs(&self) -> bool {
        self.gone.is_none() && matches!(self.step, Step::WaitDcs | Step::Refusing)
    }

    /// T4 passed with no command: repeat DIS (a few times), then give up.
    pub(crate) fn t4(&mut self) {
        if self.step == Step::Refusing {
            return self.refuse_now();
        }
        if self.step != Step::WaitDcs || self.gone.is_some() {
            return;
        }
        self.dis_repeats += 1;
        if self.dis_repeats > DIS_REPEATS {
            self.hang_up("no DCS from the sender".into());
        } else {
            self.greet();
        }
    }

    fn send(&mut self, frames: Vec<Vec<u8>>) {
        for bytes in frames {
            let garbled = self.spoil(true, bytes.get(2).copied().unwrap_or(0));
            self.out.push(Out { bytes, garbled });
        }
    }

    /// Whether a scenario fault applies to this frame now (and count it).
    fn spoil(&mut self, garble: bool, f: u8) -> bool {
        let (rules, used): (&[FrameFault], &mut HashMap<usize, u32>) = if garble {
            (&self.answer.garble, &mut self.garbles_used)
        } else {
            (&self.answer.drop, &mut self.drops_used)
        };
        for (i, r) in rules.iter().enumerate() {
            let n = used.entry(i).or_insert(0);
            if r.frame == name(f) && r.page.is_none_or(|p| p == self.page) && *n < r.times {
                *n += 1;
                return true;
            }
        }
        false
    }

    fn hang_up(&mut self, why: String) {
        self.send(vec![frame(fcf::DCN, &[], true)]);
        self.gone = Some(why);
    }

    fn refuse_now(&mut self) {
        let why = self
            .refusal
            .take()
            .unwrap_or_else(|| "remote refused".into());
        self.hang_up(why);
    }

    /// A frame from the sender (address, control, FCF, FIF; no FCS).
    pub(crate) fn hear_frame(&mut self, bytes: &[u8]) {
        if self.gone.is_some() {
            return;
        }
        let [0xff, _, f, fif @ ..] = bytes else {
            return; // not an HDLC frame the remote can read
        };
        let kind = f & 0xfe;
        if self.spoil(false, kind) {
            return;
        }
        match kind {
            fcf::TSI => {
                self.tsi = fif.iter().rev().map(|&b| b as char).collect();
                self.tsi = self.tsi.trim().to_string();
            }
            fcf::DCS => self.on_dcs(fif),
            fcf::MPS | fcf::EOP | fcf::EOM => self.on_ppm(kind),
            fcf::CRP => {
                if let Some((_, frames)) = self.last.clone() {
                    self.send(frames);
                }
            }
            fcf::DCN => {
                let why = if self.step == Step::Done {
                    "normal end"
                } else {
                    "DCN from the sender"
                };
                self.gone = Some(why.into());
            }
            _ => {}
        }
    }

    fn on_dcs(&mut self, fif: &[u8]) {
        self.last = None;
        if let Some(h) = self.answer.hangup.filter(|h| h.phase == Phase::B) {
            self.refusal = Some(format!("remote hangup in phase B (code {})", h.code));
            self.step = Step::Refusing;
            return;
        }
        let Some(d) = Dcs::parse(fif) else {
            self.refusal = Some("DCS not understood".into());
            self.step = Step::Refusing;
            return;
        };
        let offered = match (d.family, self.caps[1]) {
            (_, 0) => d.bps == 2400,
            (Family::V27, _) => true,
            (Family::V29, br) => br >= 2,
            (Family::V17, br) => br >= 4,
        } && d.bps
            <= [2400, 4800, 7200, 9600, 12000, 14400][self.caps[1].min(5) as usize];
        let why = if !offered {
            Some(format!("DCS asks for {} bit/s, not offered", d.bps))
        } else if d.fine && self.caps[0] == 0 {
            Some("DCS asks for fine resolution, not offered".to_string())
        } else if d.mr && self.caps[4] == 0 {
            Some("DCS asks for 2-D coding, not offered".to_string())
        } else if d.ecm {
            Some("DCS asks for ECM, not simulated".to_string())
        } else {
            None
        };
        match why {
            Some(w) => {
                self.refusal = Some(w);
                self.step = Step::Refusing;
            }
            None => self.step = Step::WaitTcf(d),
        }
    }

    /// Whether high-speed data now would be a page (trained, waiting for one).
    pub(crate) fn takes_page(&self) -> bool {
        self.gone.is_none() && matches!(self.step, Step::Ready(_))
    }

    /// High-speed data from the sender (`+FTM=code`).
    pub(crate) fn hear_data(&mut self, code: u32, data: Vec<u8>) {
        if self.gone.is_some() {
            return;
        }
        let m = modulation(code);
        match self.step {
            Step::Refusing => self.refuse_now(),
            Step::WaitTcf(d) => {
                self.trainings += 1;
                let zeros = data.iter().filter(|b| **b == 0).count();
                let good = m.is_some_and(|(f, bps, long)| {
                    f == d.family && bps == d.bps && (long || f != Family::V17)
                }) && data.len() as u64 * 8 >= u64::from(d.bps)
                    && zeros * 20 >= data.len() * 19
                    && self.answer.train_max.is_none_or(|max| d.bps <= max)
                    && self.trainings > self.answer.ftt;
                if good {
                    self.trained_bps = d.bps;
                    self.step = Step::Ready(d);
                    self.send(vec![frame(fcf::CFR, &[], true)]);
                } else {
                    self.step = Step::WaitDcs;
                    self.send(vec![frame(fcf::FTT, &[], true)]);
                }
            }
            Step::Ready(d) => {
                let same = m.is_some_and(|(f, bps, _)| f == d.family && bps == d.bps);
                if let Some(h) = self
                    .answer
                    .hangup
                    .filter(|h| h.phase == Phase::C && h.page == self.page)
                {
                    self.gone = Some(format!("remote hangup in phase C (code {})", h.code));
                    return;
                }
                self.page_data = if same { data } else { Vec::new() };
                self.step = Step::GotPage(d);
            }
            _ => {} // nobody listens for it
        }
    }

    fn on_ppm(&mut self, ppm: u8) {
        let d = match self.step {
            Step::GotPage(d) => d,
            _ => {
                // No page since the last answer: a repeat (our answer was lost) gets the same
                // answer; otherwise the page never arrived.
                if let Some((_, frames)) = self.last.clone().filter(|(p, _)| *p == ppm) {
                    return self.send(frames);
                }
                if matches!(self.step, Step::Ready(_) | Step::WaitDcs) {
                    self.reject(ppm);
                }
                return;
            }
        };
        if let Some(h) = self
            .answer
            .hangup
            .filter(|h| h.phase == Phase::D && h.page == self.page)
        {
            self.hang_up(format!("remote hangup in phase D (code {})", h.code));
            return;
        }
        let data = std::mem::take(&mut self.page_data);
        let coding = if d.mr { Coding::Mr } else { Coding::Mh };
        let decodes = decode_page(&data, d.width, coding).is_ok();
        let page = self.page;
        let so_far = self.rtn_count.get(&page).copied().unwrap_or(0);
        let rtn = !decodes
            || (self.answer.rtn_pages.contains(&page)
                && (self.answer.rtn_times == 0 || so_far < self.answer.rtn_times));
        if rtn {
            return self.reject(ppm);
        }
        self.verdicts.push(Verdict::Store {
            data,
            page,
            dcs: d.t32(),
        });
        self.page += 1;
        let rtp = self.answer.rtp_pages.contains(&page);
        let answer = if rtp { fcf::RTP } else { fcf::MCF };
        self.step = match ppm {
            fcf::EOP => Step::Done,
            fcf::MPS if !rtp => Step::Ready(d),
            _ => Step::WaitDcs,
        };
        let mut frames = vec![frame(answer, &[], true)];
        if ppm == fcf::EOM {
            // Back to phase B: the receiver offers its capabilities again.
            let dis = dis_fif(&self.caps);
            frames.push(frame(fcf::DIS, &dis, true));
        }
        self.last = Some((ppm, frames.clone()));
        self.send(frames);
    }

    fn reject(&mut self, ppm: u8) {
        *self.rtn_count.entry(self.page).or_insert(0) += 1;
        self.verdicts.push(Verdict::Rejected);
        self.page_data.clear();
        self.step = Step::WaitDcs;
        let frames = vec![frame(fcf::RTN, &[], true)];
        self.last = Some((ppm, frames.clone()));
        self.send(frames);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    /// Any frames and data in any order: the receiver answers or keeps quiet, never panics.
    #[test]
    fn random_frames_and_data_never_panic() {
        let answer: FaxAnswer = toml::from_str(
            r#"dis = "1,5,2,2,3,2,0,7"
            rtn_pages = [1]
            drop = [{ frame = "MPS" }]
            garble = [{ frame = "CFR" }]
            hangup = { phase = "D", code = 50, page = 3 }"#,
        )
        .unwrap();
        let mut seed = 0x1234_5678_u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let kinds = [
            fcf::DCS,
            fcf::TSI,
            fcf::MPS,
            fcf::EOP,
            fcf::EOM,
            fcf::CRP,
            fcf::DCN,
            0x00,
            0xff,
        ];
        for _ in 0..50 {
            let mut r = Remote::new(answer.clone());
            r.greet();
            for _ in 0..200 {
                match rnd() % 4 {
                    0 => {
                        let n = (rnd() % 8) as usize;
                        let mut f =
                            vec![0xff, 0x13, kinds[(rnd() % 9) as usize] | (rnd() & 1) as u8];
                        f.extend((0..n).map(|_| rnd() as u8));
                        f.truncate((rnd() % 12) as usize);
                        r.hear_frame(&f);
                    }
                    1 => {
                        let code = [24, 48, 72, 96, 145, 146, 0, 999][(rnd() % 8) as usize];
                        let data = (0..rnd() % 3000).map(|_| (rnd() % 3) as u8).collect();
                        r.hear_data(code, data);
                    }
                    2 => r.t4(),
                    _ => {
                        let _ = (r.takes_page(), r.waits_for_dcs());
                    }
                }
                r.out.clear();
                r.verdicts.clear();
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
