//! The simulated remote fax receiver behind a Class 1 modem: T.30 phases B–E from the called
//! station's side, written from T.30 (not from any sender's code).
//!
//! Owns what the receiver offers (its CSI and DIS, from the scenario's capabilities), refusing a
//! DCS that asks for more, the training check (TCF), page verdicts (MCF, RTP, RTN,
//! decodability), repeated commands (the previous answer again), CRP, DCN, ECM (partial pages,
//! PPR, CTC, RNR, and EOR answered with ERR: the frames still missing are given up), and the
//! scenario's faults (lost commands, garbled answers, FTT, spoilt frames, hang-ups). Pure: frames and data in, frames and
//! verdicts out; the modem decides when they cross the line. Frames are in wire order (`FF`,
//! control, FCF, FIF), without FCS; the bit-level facts are in [`super::t30`].

use super::commands::parse_caps;
use super::t30::{dis_fif, fcf, frame, modulation, name, Dcs, Family};
use crate::calllog::EorRecord;
use crate::scenario::EcmFault;
use crate::scenario::{FaxAnswer, FrameFault, Phase};
use crate::t4::{decode_page, Coding};
use std::collections::HashMap;

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
    /// ECM: the frames of the partial page being received, by frame number.
    block: Vec<Option<Vec<u8>>>,
    /// ECM: FCD frames heard since the last answer to a PPS.
    ecm_heard: bool,
    /// ECM: how often each `bad_frames` rule has spoilt a frame.
    bad_used: HashMap<usize, u32>,
    /// ECM: partial page requests sent (all blocks of the call).
    pub pprs: u32,
    /// The last DCS accepted asked for ECM.
    pub ecm: bool,
    /// ECM: RNRs sent so far (to PPS and to EOR).
    pub rnrs: u32,
    /// ECM: RNRs sent to PPS (the scenario's `rnr` caps them).
    pps_rnrs: u32,
    /// ECM: RNRs sent to EOR (the scenario's `eor_rnr` caps them).
    eor_rnrs: u32,
    /// ECM: the PPS or EOR (FCF, FIF) answered RNR, to be answered once ready.
    held: Option<(u8, Vec<u8>)>,
    /// ECM: the partial page (block) of the page being received, 0-based.
    ecm_block: u32,
    /// ECM: frames in the current block, as its last PPS said.
    pps_count: usize,
    /// ECM: the page being received lost frames to EOR (it is taken whatever it decodes to).
    page_damaged: bool,
    /// ECM: the partial pages the sender ended with EOR, and the frames it gave up.
    pub eors: Vec<EorRecord>,
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
            block: vec![None; 256],
            ecm_heard: false,
            bad_used: HashMap::new(),
            pprs: 0,
            ecm: false,
            rnrs: 0,
            pps_rnrs: 0,
            eor_rnrs: 0,
            held: None,
            ecm_block: 0,
            pps_count: 0,
            page_damaged: false,
            eors: Vec::new(),
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
            fcf::PPS => self.on_pps(fif),
            fcf::EOR => self.on_eor(fif),
            fcf::RR => self.on_rr(),
            fcf::CTC => self.on_ctc(fif),
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
        self.new_page();
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
        } else if d.ecm && self.caps[5] == 0 {
            Some("DCS asks for ECM, not offered".to_string())
        } else if d.mmr && (!d.ecm || self.caps[4] < 3) {
            Some("DCS asks for MMR, not offered (or without ECM)".to_string())
        } else {
            None
        };
        match why {
            Some(w) => {
                self.refusal = Some(w);
                self.step = Step::Refusing;
            }
            None => {
                self.ecm = d.ecm;
                self.step = Step::WaitTcf(d);
            }
        }
    }

    /// Whether high-speed data now would be a page (trained, waiting for one).
    pub(crate) fn takes_page(&self) -> bool {
        // ECM data (frames the DTE framed itself) is not a T.4 page in one piece.
        self.gone.is_none() && matches!(self.step, Step::Ready(d) if !d.ecm)
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
            Step::Ready(d) if d.ecm => {
                // ECM frames the DTE framed itself and sent as data.
                for f in super::t30::hdlc_frames(&data) {
                    self.hear_ecm_frame(code, &f);
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
        self.end_of_page(d, ppm, data);
    }

    /// A whole page has arrived (with ECM: every block confirmed): decode, judge, answer.
    fn end_of_page(&mut self, d: Dcs, ppm: u8, data: Vec<u8>) {
        let coding = if d.mmr {
            Coding::Mmr
        } else if d.mr {
            Coding::Mr
        } else {
            Coding::Mh
        };
        // A page that lost frames to EOR is taken as it is (the sender gave them up).
        let decodes = self.page_damaged || decode_page(&data, d.width, coding).is_ok();
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
        self.new_page();
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

    /// ECM: an HDLC frame at the page modulation (`+FTH=n`, n not 3): FCD frames fill the
    /// partial page by frame number, RCP ends it; a frame named in `bad_frames` is lost (its
    /// FCS fails) as often as the rule says.
    pub(crate) fn hear_ecm_frame(&mut self, code: u32, bytes: &[u8]) {
        let Step::Ready(d) = self.step else { return };
        if self.gone.is_some() || !d.ecm {
            return;
        }
        if let Some(h) = self
            .answer
            .hangup
            .filter(|h| h.phase == Phase::C && h.page == self.page)
        {
            self.gone = Some(format!("remote hangup in phase C (code {})", h.code));
            return;
        }
        let same = modulation(code).is_some_and(|(f, bps, _)| f == d.family && bps == d.bps);
        let size = if d.frame64 { 64 } else { 256 };
        match bytes {
            [0xff, 0x03, fcf::FCD, n, data @ ..]
                if same && !data.is_empty() && data.len() <= size =>
            {
                self.ecm_heard = true;
                let n = usize::from(*n);
                if !self.spoil_ecm(n) {
                    self.block[n] = Some(data.to_vec());
                }
            }
            [0xff, 0x03, fcf::RCP, ..] => self.ecm_heard = true,
            _ => {}
        }
    }

    /// A new page begins (or the same page again): no frames, no data, block 0.
    fn new_page(&mut self) {
        self.block.iter_mut().for_each(|f| *f = None);
        self.page_data.clear();
        self.ecm_block = 0;
        self.page_damaged = false;
    }

    fn spoil_ecm(&mut self, n: usize) -> bool {
        let rules: &[EcmFault] = &self.answer.bad_frames;
        for (i, r) in rules.iter().enumerate() {
            let used = self.bad_used.entry(i).or_insert(0);
            if r.frame as usize == n
                && r.page.is_none_or(|p| p == self.page)
                && r.block.is_none_or(|b| b == self.ecm_block)
                && (r.always || *used < r.times)
            {
                *used += 1;
                return true;
            }
        }
        false
    }

    /// ECM: PPS-x with (page, block, frames − 1): PPR listing the frames missing, else MCF; at
    /// the end of a page (PPS-MPS/EOP/EOM) the page is judged as without ECM.
    fn on_pps(&mut self, fif: &[u8]) {
        let Step::Ready(d) = self.step else {
            // The page was answered already (our MCF was lost): the same answer again.
            if let Some((_, frames)) = self.last.clone().filter(|(p, _)| *p == fcf::PPS) {
                self.send(frames);
            }
            return;
        };
        let [ppm, _page, _block, count, ..] = *fif else {
            return;
        };
        if !d.ecm {
            return;
        }
        if self.pps_rnrs < self.answer.rnr {
            // Not ready: the PPS waits until the sender's RR finds the receiver ready.
            self.pps_rnrs += 1;
            self.rnrs += 1;
            self.held = Some((fcf::PPS, fif.to_vec()));
            return self.send(vec![frame(fcf::RNR, &[], true)]);
        }
        if !self.ecm_heard {
            if let Some((_, frames)) = self.last.clone().filter(|(p, _)| *p == fcf::PPS) {
                return self.send(frames);
            }
        }
        self.ecm_heard = false;
        let count = usize::from(count) + 1;
        self.pps_count = count;
        let mut map = [0u8; 32];
        let mut missing = false;
        for n in 0..count {
            if self.block[n].is_none() {
                map[n / 8] |= 1 << (n % 8);
                missing = true;
            }
        }
        if missing {
            self.pprs += 1;
            let frames = vec![frame(fcf::PPR, &map, true)];
            self.last = Some((fcf::PPS, frames.clone()));
            return self.send(frames);
        }
        self.take_block(count);
        let ppm = ppm & 0xfe;
        if ppm == fcf::NULL {
            self.ecm_block += 1;
            let frames = vec![frame(fcf::MCF, &[], true)];
            self.last = Some((fcf::PPS, frames.clone()));
            return self.send(frames);
        }
        if !matches!(ppm, fcf::MPS | fcf::EOP | fcf::EOM) {
            return;
        }
        if let Some(h) = self
            .answer
            .hangup
            .filter(|h| h.phase == Phase::D && h.page == self.page)
        {
            self.hang_up(format!("remote hangup in phase D (code {})", h.code));
            return;
        }
        let data = std::mem::take(&mut self.page_data);
        self.end_of_page(d, ppm, data);
        if let Some((_, frames)) = self.last.take() {
            self.last = Some((fcf::PPS, frames));
        }
    }

    /// ECM: the frames of the current block that arrived go to the page data (in frame
    /// order; a frame given up with EOR leaves a gap), and the block is emptied.
    fn take_block(&mut self, count: usize) {
        for f in self.block.iter_mut().take(count) {
            if let Some(data) = f.take() {
                if self.page_data.len() + data.len() <= 16 << 20 {
                    self.page_data.extend_from_slice(&data);
                }
            }
        }
        self.block.iter_mut().for_each(|f| *f = None);
    }

    /// ECM: EOR-x (end of retransmission; FIF: NULL or the post-page message): the sender gives
    /// up the block's frames still missing. They are recorded, the frames that arrived are
    /// kept, and the answer is ERR (RNR first while the scenario's `eor_rnr` says so). At the
    /// end of a page (EOR-MPS/EOP/EOM) the page is taken as it is: stored if it decodes.
    fn on_eor(&mut self, fif: &[u8]) {
        let repeat = !self.ecm_heard && self.last.as_ref().is_some_and(|(p, _)| *p == fcf::EOR);
        let d = match self.step {
            Step::Ready(d) if d.ecm && !repeat => d,
            _ => {
                // Answered already (our ERR was lost): the same answer again.
                if let Some((_, frames)) = self.last.clone().filter(|(p, _)| *p == fcf::EOR) {
                    self.send(frames);
                }
                return;
            }
        };
        let Some(&ppm) = fif.first() else { return };
        let ppm = ppm & 0xfe;
        if !matches!(ppm, fcf::NULL | fcf::MPS | fcf::EOP | fcf::EOM) {
            return;
        }
        if self.eor_rnrs < self.answer.eor_rnr {
            self.eor_rnrs += 1;
            self.rnrs += 1;
            self.held = Some((fcf::EOR, fif.to_vec()));
            return self.send(vec![frame(fcf::RNR, &[], true)]);
        }
        let count = self.pps_count.max(1);
        let frames = (0..count)
            .filter(|&n| self.block[n].is_none())
            .map(|n| n as u32)
            .collect();
        self.eors.push(EorRecord {
            page: self.page,
            block: self.ecm_block,
            frames,
        });
        self.page_damaged = true;
        self.take_block(count);
        self.ecm_heard = false;
        let mut answer = vec![frame(fcf::ERR, &[], true)];
        if ppm == fcf::NULL {
            self.ecm_block += 1;
        } else {
            if let Some(h) = self
                .answer
                .hangup
                .filter(|h| h.phase == Phase::D && h.page == self.page)
            {
                return self.hang_up(format!("remote hangup in phase D (code {})", h.code));
            }
            let data = std::mem::take(&mut self.page_data);
            self.verdicts.push(Verdict::Store {
                data,
                page: self.page,
                dcs: d.t32(),
            });
            self.page += 1;
            self.new_page();
            self.step = match ppm {
                fcf::EOP => Step::Done,
                fcf::MPS => Step::Ready(d),
                _ => Step::WaitDcs,
            };
            if ppm == fcf::EOM {
                answer.push(frame(fcf::DIS, &dis_fif(&self.caps), true));
            }
        }
        self.last = Some((fcf::EOR, answer.clone()));
        self.send(answer);
    }

    /// ECM: RR after RNR: RNR again while the scenario says so, then the held PPS's or EOR's
    /// answer; an RR with nothing held repeats the last answer.
    fn on_rr(&mut self) {
        match self.held.clone() {
            Some((fcf::PPS, _)) if self.pps_rnrs < self.answer.rnr => {
                self.pps_rnrs += 1;
                self.rnrs += 1;
                self.send(vec![frame(fcf::RNR, &[], true)]);
            }
            Some((fcf::EOR, _)) if self.eor_rnrs < self.answer.eor_rnr => {
                self.eor_rnrs += 1;
                self.rnrs += 1;
                self.send(vec![frame(fcf::RNR, &[], true)]);
            }
            Some((kind, fif)) => {
                self.held = None;
                if kind == fcf::EOR {
                    self.on_eor(&fif);
                } else {
                    self.on_pps(&fif);
                }
            }
            None => {
                if let Some((_, frames)) = self.last.clone() {
                    self.send(frames);
                }
            }
        }
    }

    /// ECM: continue to correct at the rate in the CTC's FIF (DCS bits 11–14): CTR, and the
    /// frames kept so far stay.
    fn on_ctc(&mut self, fif: &[u8]) {
        let Step::Ready(d) = self.step else { return };
        let mut f = fif.to_vec();
        f.resize(3, 0);
        if let Some(n) = Dcs::parse(&f) {
            self.step = Step::Ready(Dcs {
                family: n.family,
                bps: n.bps,
                ..d
            });
        }
        let frames = vec![frame(fcf::CTR, &[], true)];
        self.last = Some((fcf::CTC, frames.clone()));
        self.send(frames);
    }

    fn reject(&mut self, ppm: u8) {
        *self.rtn_count.entry(self.page).or_insert(0) += 1;
        self.verdicts.push(Verdict::Rejected);
        self.new_page();
        self.step = Step::WaitDcs;
        let frames = vec![frame(fcf::RTN, &[], true)];
        self.last = Some((ppm, frames.clone()));
        self.send(frames);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(r: &mut Remote) -> Vec<(u8, Vec<u8>)> {
        r.out
            .drain(..)
            .map(|o| (o.bytes[2], o.bytes[3..].to_vec()))
            .collect()
    }

    /// ECM with MH: a page cut into 256-octet FCD frames, frame 1 spoilt twice: PPR lists it
    /// (and only it) until it arrives, then PPS-EOP gets MCF and the page is stored whole.
    #[test]
    fn ecm_block_with_a_bad_frame_gets_ppr_then_mcf() {
        use crate::t4::{encode_mh, Bitmap};
        let answer: FaxAnswer = toml::from_str(
            r#"dis = "1,5,0,2,0,1,0,0"
            bad_frames = [{ frame = 1, times = 2 }]"#,
        )
        .unwrap();
        let mut r = Remote::new(answer);
        r.greet();
        r.out.clear();
        let mut dcs = vec![0u8; 3];
        for n in [10, 14, 24, 27] {
            super::super::t30::set(&mut dcs, n);
        }
        r.hear_frame(&frame(fcf::DCS | 1, &dcs, true));
        r.hear_data(145, vec![0; 2700]);
        assert_eq!(kinds(&mut r), [(fcf::CFR, vec![])]);
        let mut bm = Bitmap {
            width: 1728,
            height: 40,
            data: vec![0; 216 * 40],
        };
        for (i, b) in bm.data.iter_mut().enumerate() {
            *b = if (i / 216) % 3 == 0 {
                (i % 7) as u8 * 37
            } else {
                0
            };
        }
        let page = encode_mh(&bm);
        let chunks: Vec<&[u8]> = page.chunks(256).collect();
        assert!(chunks.len() >= 3, "{} octets", page.len());
        let send = |r: &mut Remote, which: &[usize]| {
            for &n in which {
                let mut f = vec![0xff, 0x03, fcf::FCD, n as u8];
                f.extend_from_slice(chunks[n]);
                r.hear_ecm_frame(146, &f);
            }
            for _ in 0..3 {
                r.hear_ecm_frame(146, &[0xff, 0x03, fcf::RCP]);
            }
        };
        let pps = [fcf::EOP | 1, 0, 0, chunks.len() as u8 - 1];
        send(&mut r, &(0..chunks.len()).collect::<Vec<_>>());
        r.hear_frame(&frame(fcf::PPS | 1, &pps, true));
        let mut map = vec![0u8; 32];
        map[0] = 0b10;
        assert_eq!(kinds(&mut r), [(fcf::PPR, map.clone())]);
        send(&mut r, &[1]);
        r.hear_frame(&frame(fcf::PPS | 1, &pps, true));
        assert_eq!(kinds(&mut r), [(fcf::PPR, map)], "spoilt twice");
        send(&mut r, &[1]);
        r.hear_frame(&frame(fcf::PPS | 1, &pps, true));
        assert_eq!(kinds(&mut r), [(fcf::MCF, vec![])]);
        assert_eq!(r.pprs, 2);
        match r.verdicts.as_slice() {
            [Verdict::Store { data, page: 1, dcs }] => {
                assert_eq!(data, &page);
                assert_eq!((dcs[4], dcs[5]), (0, 1));
            }
            v => panic!("{v:?}"),
        }
        // RNR twice (PPS, then RR), then the PPS's answer.
        let mut r2 = Remote::new(
            toml::from_str(
                r#"dis = "1,5,0,2,0,1,0,0"
                rnr = 2"#,
            )
            .unwrap(),
        );
        r2.hear_frame(&frame(fcf::DCS | 1, &dcs, true));
        r2.hear_data(145, vec![0; 2700]);
        r2.out.clear();
        send(&mut r2, &(0..chunks.len()).collect::<Vec<_>>());
        r2.hear_frame(&frame(fcf::PPS | 1, &pps, true));
        assert_eq!(kinds(&mut r2), [(fcf::RNR, vec![])]);
        r2.hear_frame(&frame(fcf::RR | 1, &[], true));
        assert_eq!(kinds(&mut r2), [(fcf::RNR, vec![])]);
        r2.hear_frame(&frame(fcf::RR | 1, &[], true));
        assert_eq!(kinds(&mut r2), [(fcf::MCF, vec![])]);
        assert_eq!(r2.rnrs, 2);
        // The MCF was lost: PPS-EOP again gets MCF again, no new page.
        r.hear_frame(&frame(fcf::PPS | 1, &pps, true));
        assert_eq!(kinds(&mut r), [(fcf::MCF, vec![])]);
        assert_eq!(r.verdicts.len(), 1);
    }

    /// EOR: frame 1 of block 0 spoilt on every transmission. PPR lists it; EOR-NULL gets RNR
    /// once (the scenario's `eor_rnr`), then ERR after RR; the frame is recorded as given up,
    /// the next block's frames are taken whole (the rule is for block 0 only) and EOR-EOP ends
    /// the page with ERR: the page's data is every frame that arrived, in order.
    #[test]
    fn eor_gives_up_the_missing_frames_and_answers_err() {
        let answer: FaxAnswer = toml::from_str(
            r#"dis = "1,5,0,2,0,1,0,0"
            bad_frames = [{ frame = 1, block = 0, always = true }]
            eor_rnr = 1"#,
        )
        .unwrap();
        let mut r = Remote::new(answer);
        let mut dcs = vec![0u8; 3];
        for n in [10, 14, 24, 27] {
            super::super::t30::set(&mut dcs, n);
        }
        r.hear_frame(&frame(fcf::DCS | 1, &dcs, true));
        r.hear_data(145, vec![0; 2700]);
        assert_eq!(kinds(&mut r), [(fcf::CFR, vec![])]);
        let block = |b: u8| -> Vec<Vec<u8>> { (0..3).map(|n| vec![b * 16 + n; 256]).collect() };
        let send = |r: &mut Remote, frames: &[Vec<u8>], which: &[usize]| {
            for &n in which {
                let mut f = vec![0xff, 0x03, fcf::FCD, n as u8];
                f.extend_from_slice(&frames[n]);
                r.hear_ecm_frame(146, &f);
            }
            r.hear_ecm_frame(146, &[0xff, 0x03, fcf::RCP]);
        };
        let (b0, b1) = (block(0), block(1));
        send(&mut r, &b0, &[0, 1, 2]);
        r.hear_frame(&frame(fcf::PPS | 1, &[fcf::NULL, 0, 0, 2], true));
        let mut map = vec![0u8; 32];
        map[0] = 0b10;
        assert_eq!(kinds(&mut r), [(fcf::PPR, map.clone())]);
        for _ in 0..3 {
            send(&mut r, &b0, &[1]);
            r.hear_frame(&frame(fcf::PPS | 1, &[fcf::NULL, 0, 0, 2], true));
            assert_eq!(kinds(&mut r), [(fcf::PPR, map.clone())], "always bad");
        }
        r.hear_frame(&frame(fcf::EOR | 1, &[fcf::NULL], true));
        assert_eq!(kinds(&mut r), [(fcf::RNR, vec![])]);
        r.hear_frame(&frame(fcf::RR | 1, &[], true));
        assert_eq!(kinds(&mut r), [(fcf::ERR, vec![])]);
        // ERR lost: EOR again gets ERR again, nothing recorded twice.
        r.hear_frame(&frame(fcf::EOR | 1, &[fcf::NULL], true));
        assert_eq!(kinds(&mut r), [(fcf::ERR, vec![])]);
        assert_eq!(
            r.eors,
            [EorRecord {
                page: 1,
                block: 0,
                frames: vec![1]
            }]
        );
        send(&mut r, &b1, &[0, 1, 2]);
        r.hear_frame(&frame(fcf::PPS | 1, &[fcf::EOP | 1, 0, 1, 2], true));
        assert_eq!(kinds(&mut r), [(fcf::MCF, vec![])], "block 1 is whole");
        let mut want = b0[0].clone();
        want.extend_from_slice(&b0[2]);
        b1.iter().for_each(|f| want.extend_from_slice(f));
        match r.verdicts.as_slice() {
            [Verdict::Store { data, page: 1, .. }] => assert!(data == &want),
            v => panic!("{:?}", v.len()),
        }
        assert_eq!((r.rnrs, r.pprs, r.eors.len()), (1, 4, 1));
        // The same at a page's end: EOR-EOP gets ERR and ends the page.
        let answer: FaxAnswer = toml::from_str(
            r#"dis = "1,5,0,2,0,1,0,0"
            bad_frames = [{ frame = 2, always = true }]"#,
        )
        .unwrap();
        let mut r = Remote::new(answer);
        r.hear_frame(&frame(fcf::DCS | 1, &dcs, true));
        r.hear_data(145, vec![0; 2700]);
        r.out.clear();
        send(&mut r, &b0, &[0, 1, 2]);
        r.hear_frame(&frame(fcf::PPS | 1, &[fcf::EOP | 1, 0, 0, 2], true));
        map[0] = 0b100;
        assert_eq!(kinds(&mut r), [(fcf::PPR, map)]);
        r.hear_frame(&frame(fcf::EOR | 1, &[fcf::EOP | 1], true));
        assert_eq!(kinds(&mut r), [(fcf::ERR, vec![])]);
        assert_eq!(r.eors[0].frames, [2]);
        assert!(matches!(
            r.verdicts.as_slice(),
            [Verdict::Store { page: 1, .. }]
        ));
        assert_eq!(r.step, Step::Done);
    }

    /// Any frames and data in any order: the receiver answers or keeps quiet, never panics.
    #[test]
    fn random_frames_and_data_never_panic() {
        let answer: FaxAnswer = toml::from_str(
            r#"dis = "1,5,2,2,3,2,0,7"
            rtn_pages = [1]
            bad_frames = [{ frame = 0, times = 3 }, { frame = 2, block = 1, always = true }]
            rnr = 2
            eor_rnr = 1
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
            fcf::PPS,
            fcf::CTC,
            fcf::RR,
            fcf::EOR,
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
                            vec![0xff, 0x13, kinds[(rnd() % 13) as usize] | (rnd() & 1) as u8];
                        f.extend((0..n).map(|_| rnd() as u8));
                        f.truncate((rnd() % 12) as usize);
                        r.hear_frame(&f);
                    }
                    1 => {
                        let code = [24, 48, 72, 96, 145, 146, 0, 999][(rnd() % 8) as usize];
                        let data = (0..rnd() % 3000).map(|_| (rnd() % 3) as u8).collect();
                        r.hear_data(code, data);
                    }
                    2 if rnd() % 2 == 0 => {
                        let mut f = vec![0xff, 0x03, [fcf::FCD, fcf::RCP, 0][(rnd() % 3) as usize]];
                        f.extend((0..rnd() % 300).map(|_| rnd() as u8));
                        f.truncate((rnd() % 300) as usize);
                        r.hear_ecm_frame([146, 145, 96, 3][(rnd() % 4) as usize], &f);
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
}
