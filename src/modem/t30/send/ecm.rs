//! The ECM steps of a Class 1 send (T.30 Annex A): a page coded once (MMR when the receiver
//! offers it, else MR or MH), sent block by block as FCD frames at the page modulation, each
//! block closed by PPS; PPR resends the frames it lists, MCF moves on. After four PPRs for a
//! block: CTC (the speed steps down) while a slower speed is left and it helps, else EOR (the
//! frames still bad are given up, the receiver answers ERR, the call goes on), except with MMR,
//! where the call ends instead (everything after a lost frame would be lost).

use super::super::ecm::{
    encode_mmr, eor_fif, hdlc_stream, ppr_frames, pps_fif, FRAME_BYTES, MAX_PPR, SMALL_FRAME_BYTES,
};
use super::*;
use crate::modem::fax_send::AbandonedFrames;

impl Class1Send {
    /// Codes the current page for ECM, cuts it into frames and sends its first block.
    pub(super) fn send_ecm_page(&mut self, now: Instant) {
        let s = self.session.expect("session");
        let resolution = if s.fine {
            Resolution::Fine
        } else {
            Resolution::Standard
        };
        let page = self.plan.pages[self.page].to_resolution(resolution);
        let data = if s.mmr {
            encode_mmr(&page)
        } else {
            let options = EncodeOptions {
                coding: if s.two_d {
                    Coding::mr_for(resolution)
                } else {
                    Coding::Mh
                },
                bit_order: BitOrder::LsbFirst,
                align_eol: false,
                min_line_bytes: 0,
                rtc: true,
            };
            encode(&page, &options)
        };
        let size = if s.small_frames {
            SMALL_FRAME_BYTES
        } else {
            FRAME_BYTES
        };
        let cut = EcmPage::cut(&data, size);
        let frames: usize = cut.blocks.iter().map(Vec::len).sum();
        self.progress(format!(
            "page {}: {} lines, {} bytes {} with ECM: {} frames of {} in {} block(s) at {}",
            self.page + 1,
            page.lines(),
            data.len(),
            s.coding_name(),
            frames,
            size,
            cut.blocks.len(),
            s.modulation.name()
        ));
        self.events.push_back(FaxEvent::PageStarted {
            page: self.page as u32 + 1,
            of: self.plan.pages.len() as u32,
            baud: s.modulation.bps,
        });
        self.resend = (0..cut.frames(0)).collect();
        self.ecm_page = Some(cut);
        self.block = 0;
        self.pprs = 0;
        self.ctc_bad = None;
        self.eor = false;
        // The page goes again whole (after RTN): what an earlier try abandoned no longer counts.
        let page = self.page as u32 + 1;
        self.result.abandoned.retain(|a| a.page != page);
        self.send_block(now);
    }

    /// Sends the frames of the current block still to go, then RCP.
    pub(super) fn send_block(&mut self, now: Instant) {
        let Some(page) = self.ecm_page.as_ref() else {
            return self.fail(now, 1040, "no ECM page to send".into(), true);
        };
        let m = self.modulation();
        let frames = page.transmission(self.block, &self.resend);
        let all = page.frames(self.block);
        if frames.is_empty() {
            return self.fail(now, 1040, format!("no block {} to send", self.block), true);
        }
        let code = if std::mem::take(&mut self.long_train) {
            m.tcf_code
        } else {
            m.page_code
        };
        if self.resend.len() < all {
            self.progress(format!(
                "page {} block {}: resending {} of {} frames at {}",
                self.page + 1,
                self.block,
                self.resend.len(),
                all,
                m.name()
            ));
        } else {
            self.progress(format!(
                "page {} block {}: {} frames at {}",
                self.page + 1,
                self.block,
                all,
                m.name()
            ));
        }
        self.step = Step::Page;
        if self.plan.ecm_host_hdlc {
            self.ftm(now, code, hdlc_stream(&frames));
        } else {
            self.fth_hs(now, code, frames);
        }
    }

    /// The command after a block: PPS (or EOR when the block's bad frames are given up) with
    /// NULL while more blocks of the page follow, else with the post-page message; RR while
    /// the receiver is not ready.
    pub(super) fn pps(&self) -> Frame {
        if self.rr {
            return Frame::ours(fcf::RR, vec![], true);
        }
        let page = self.ecm_page.as_ref();
        let blocks = page.map_or(0, |p| p.blocks.len());
        let ppm = if self.block + 1 < blocks {
            fcf::NULL
        } else {
            self.ppm()
        };
        if self.eor {
            return Frame::ours(fcf::EOR, eor_fif(ppm), true);
        }
        let frames = page.map_or(1, |p| p.frames(self.block));
        Frame::ours(fcf::PPS, pps_fif(ppm, self.page, self.block, frames), true)
    }

    /// The post-page command as logs name it: `MPS`/`EOP` without ECM; `PPS-NULL`, `PPS-MPS`,
    /// `PPS-EOP`, `EOR-NULL`, `EOR-MPS`, `EOR-EOP` or `RR` with it.
    pub(super) fn ppm_label(&self) -> String {
        if self.ecm_page.is_none() {
            return fcf_name(self.ppm()).to_string();
        }
        let f = self.pps();
        let kind = fcf_name(f.kind());
        match f.fif.first() {
            _ if f.kind() == fcf::RR => "RR".into(),
            Some(&fcf::NULL) | None => format!("{kind}-NULL"),
            Some(&p) => format!("{kind}-{}", fcf_name(p)),
        }
    }

    /// The receiver's MCF or PPR to a PPS.
    pub(super) fn ecm_response(&mut self, now: Instant, f: Frame) {
        if f.kind() == fcf::RNR {
            // Not ready: ask again with RR until it is, for T5 at most.
            let deadline = *self.t5_deadline.get_or_insert(now + self.timers.t5);
            if now >= deadline {
                return self.fail(
                    now,
                    1050,
                    format!(
                        "the receiver was not ready (RNR) for {} s",
                        self.timers.t5.as_secs()
                    ),
                    true,
                );
            }
            if !self.rr {
                self.progress("RNR: the receiver is not ready, asking with RR".into());
            }
            self.rr = true;
            return self.send_ppm(now);
        }
        self.rr = false;
        self.t5_deadline = None;
        if self.eor {
            return self.eor_response(now, f);
        }
        let (blocks, all) = self
            .ecm_page
            .as_ref()
            .map_or((0, 0), |p| (p.blocks.len(), p.frames(self.block)));
        if f.kind() == fcf::MCF {
            if self.block + 1 < blocks {
                return self.next_block(now);
            }
            self.ecm_page = None;
            return self.confirmed(now);
        }
        if f.kind() != fcf::PPR {
            let label = self.ppm_label();
            return self.fail(
                now,
                self.invalid_ppm_code(),
                format!("invalid response to {label}: {}", fcf_name(f.kind())),
                true,
            );
        }
        // PPR: the frames its map lists go again (all of them if it lists none).
        self.pprs += 1;
        let mut bad = ppr_frames(&f.fif, all);
        if bad.is_empty() {
            bad = (0..all).collect();
        }
        self.progress(format!(
            "PPR {} for page {} block {}: frames {:?} to resend",
            self.pprs,
            self.page + 1,
            self.block,
            bad
        ));
        self.resend = bad;
        if self.pprs >= MAX_PPR {
            return self.continue_to_correct(now);
        }
        self.step = Step::SwitchBlock;
        self.cmd(now, "+FRS=7", self.timeouts.command);
    }

    /// The next block of the page, all its frames, after the pause.
    fn next_block(&mut self, now: Instant) {
        self.pprs = 0;
        self.ctc_bad = None;
        self.block += 1;
        self.resend = (0..self.ecm_page.as_ref().map_or(0, |p| p.frames(self.block))).collect();
        self.step = Step::SwitchBlock;
        self.cmd(now, "+FRS=7", self.timeouts.command)
    }

    /// The outcome of an invalid answer to the post-page command (T.30's numbering by the
    /// command: MPS, EOM, else EOP).
    fn invalid_ppm_code(&self) -> u32 {
        match self.ppm() {
            fcf::MPS => 1053,
            fcf::EOM => 1057,
            _ => 1055,
        }
    }

    /// Four PPRs for one block (the frames in `resend` still bad). The policy:
    /// - CTC at the next slower modulation when there is one and this is the block's first CTC,
    ///   or the last CTC helped (fewer frames bad now than when it was sent): errors that
    ///   shrink with speed are a line problem;
    /// - else EOR: the frames still bad are given up and the call goes on (at the lowest
    ///   speed, or when stepping down did not help);
    /// - except with MMR, where a lost frame takes the rest of the page with it: CTC while a
    ///   slower speed is left, then the call ends (outcome 1050) and the job is retried.
    fn continue_to_correct(&mut self, now: Instant) {
        let m = self.modulation();
        let bad = self.resend.len();
        let mmr = self.session.is_some_and(|s| s.mmr);
        let next = self
            .modulations
            .iter()
            .position(|x| *x == m)
            .and_then(|i| self.modulations.get(i + 1))
            .copied();
        let helped = self.ctc_bad.is_none_or(|before| bad < before);
        let next = match next {
            Some(next) if helped || mmr => next,
            _ if !mmr => return self.end_of_retransmission(now, next.is_some()),
            _ => {
                return self.fail(
                    now,
                    1050,
                    format!(
                        "page {} block {}: frames still bad after {} PPRs at {} (no slower \
                         speed; no EOR with MMR, which would lose the rest of the page)",
                        self.page + 1,
                        self.block,
                        self.pprs,
                        m.name()
                    ),
                    true,
                )
            }
        };
        self.ctc_bad = Some(bad);
        self.progress(format!(
            "{} PPRs at {}: CTC, continuing at {}",
            self.pprs,
            m.name(),
            next.name()
        ));
        if let Some(s) = self.session.as_mut() {
            s.modulation = next;
        }
        self.ctc_tries = 0;
        self.send_ctc(now);
    }

    /// EOR: the block's frames still bad (`resend`) are given up; EOR-NULL (more blocks of the
    /// page follow) or EOR with the post-page message goes instead of PPS, and the receiver
    /// answers ERR (or RNR first). `slower`: a slower speed was left (so CTC did not help).
    fn end_of_retransmission(&mut self, now: Instant, slower: bool) {
        let m = self.modulation();
        let why = if slower {
            format!(
                "CTC did not help: {} frame(s) still bad at {}",
                self.resend.len(),
                m.name()
            )
        } else {
            format!("no slower speed than {}", m.name())
        };
        self.progress(format!(
            "EOR after {} PPRs for page {} block {}: frames {:?} abandoned ({why})",
            self.pprs,
            self.page + 1,
            self.block,
            self.resend
        ));
        self.eor = true;
        self.ppm_tries = 0;
        self.send_ppm(now);
    }

    /// The answer to EOR: ERR, and the page goes on without the frames given up (the next
    /// block, or the page counts as sent and is flagged in the result).
    fn eor_response(&mut self, now: Instant, f: Frame) {
        if f.kind() != fcf::ERR {
            let label = self.ppm_label();
            return self.fail(
                now,
                self.invalid_ppm_code(),
                format!("invalid response to {label}: {}", fcf_name(f.kind())),
                true,
            );
        }
        self.eor = false;
        let frames = std::mem::take(&mut self.resend);
        self.progress(format!(
            "ERR: page {} block {} goes on without frames {:?}",
            self.page + 1,
            self.block,
            frames
        ));
        self.result.abandoned.push(AbandonedFrames {
            page: self.page as u32 + 1,
            block: self.block as u32,
            frames,
        });
        let blocks = self.ecm_page.as_ref().map_or(0, |p| p.blocks.len());
        if self.block + 1 < blocks {
            return self.next_block(now);
        }
        self.ecm_page = None;
        self.confirmed(now)
    }

    /// The result's sentence for a call whose pages all went: the count, and the pages that
    /// lost frames to EOR.
    pub(super) fn sent_detail(&self) -> String {
        let mut lost: Vec<(u32, usize)> = Vec::new();
        for a in &self.result.abandoned {
            match lost.last_mut() {
                Some((p, n)) if *p == a.page => *n += a.frames.len(),
                _ => lost.push((a.page, a.frames.len())),
            }
        }
        let mut s = format!("{} page(s) sent", self.result.pages_sent);
        for (p, n) in lost {
            s.push_str(&format!("; page {p} with {n} frame(s) abandoned after EOR"));
        }
        s
    }

    fn send_ctc(&mut self, now: Instant) {
        let dcs = self.session.expect("session").dcs();
        self.step = Step::Ctc;
        self.fth(now, vec![Frame::ours(fcf::CTC, dcs[..2].to_vec(), true)]);
    }

    /// The answer to CTC: CTR, then the frames still bad go at the new speed (long training).
    pub(super) fn ctc_response(&mut self, now: Instant, d: Done) {
        let f = match d {
            Done::Frame(f) if !f.last => return self.frh(now, self.timers.t4),
            Done::Frame(f) if f.kind() != fcf::CRP => f,
            _ => {
                self.ctc_tries += 1;
                if self.ctc_tries >= self.timers.tries {
                    return self.fail(now, 1050, "no response to CTC three times".into(), true);
                }
                self.progress("no response to CTC: repeating".into());
                return self.send_ctc(now);
            }
        };
        match f.kind() {
            fcf::CTR => {
                self.pprs = 0;
                let m = self.modulation();
                self.result.baud = m.bps;
                self.progress(format!("CTR: continuing at {}", m.name()));
                self.long_train = true;
                self.step = Step::SwitchBlock;
                self.cmd(now, "+FRS=7", self.timeouts.command);
            }
            fcf::DCN => self.fail(
                now,
                1051,
                "the receiver disconnected after CTC".into(),
                false,
            ),
            other => self.fail(
                now,
                1050,
                format!("invalid response to CTC: {}", fcf_name(other)),
                true,
            ),
        }
    }
}
