//! The T.30 steps of a Class 1 send once the call is up: phase B (DIS, DCS, training with the
//! FTT step-down), phase C (page data), phase D (post-page messages and their answers), each
//! reacting to what the modem operation layer in the parent module reports.

use super::*;

impl Class1Send {
    pub(super) fn step_done(&mut self, now: Instant, d: Done) {
        match self.step {
            Step::Init(i) => {
                let (cmd, required) = self.init[i].clone();
                if d != Done::Ok && required {
                    return self.fail(
                        now,
                        36,
                        format!("the modem answered {d:?} to AT{cmd}"),
                        false,
                    );
                }
                if cmd == "V1" && d == Done::Ok {
                    self.at.set_verbose(true);
                }
                if i + 1 < self.init.len() {
                    self.send_init(now, i + 1);
                } else {
                    self.step = Step::Dial;
                    self.op = Op::Dial;
                    let n = self.plan.dial.as_str().to_string();
                    let cmd = if n.starts_with(['T', 'P']) {
                        format!("D{n}")
                    } else {
                        format!("DT{n}")
                    };
                    self.progress(format!("dialling {n}"));
                    self.events.push_back(FaxEvent::Dialling);
                    self.at.command_then_raw(now, &cmd, self.timeouts.dial);
                }
            }
            Step::Dial | Step::Done => {}
            Step::PhaseB => self.phase_b(now, d),
            Step::SwitchDcs => match d {
                Done::Ok => self.send_dcs(now),
                Done::Failed(e) => self.fail(now, 1020, format!("before DCS: {e}"), false),
                _ => {}
            },
            Step::Dcs => match d {
                Done::Ok => {
                    self.step = Step::PauseTcf;
                    self.cmd(now, "+FTS=8", self.timeouts.command);
                }
                _ => self.fail(now, 1020, format!("sending DCS: {d:?}"), false),
            },
            Step::PauseTcf => match d {
                Done::Ok => {
                    let m = self.modulation();
                    self.step = Step::Tcf;
                    self.ftm(now, m.tcf_code, vec![0; m.tcf_bytes()]);
                }
                _ => self.fail(now, 1020, format!("pause before TCF: {d:?}"), false),
            },
            Step::Tcf => match d {
                Done::Ok => {
                    self.step = Step::TrainResp;
                    self.frh(now, self.timers.t4);
                }
                _ => self.fail(now, 1027, format!("sending TCF: {d:?}"), false),
            },
            Step::TrainResp => self.train_response(now, d),
            Step::SwitchPage => match d {
                Done::Ok => self.send_page(now),
                _ => self.fail(now, 1040, format!("before the page: {d:?}"), false),
            },
            Step::SwitchBlock => match d {
                Done::Ok => self.send_block(now),
                _ => self.fail(now, 1040, format!("before the frames: {d:?}"), false),
            },
            Step::Ctc => match d {
                Done::Ok => {
                    self.step = Step::CtcResp;
                    self.frh(now, self.timers.t4);
                }
                _ => self.fail(now, 1050, format!("sending CTC: {d:?}"), false),
            },
            Step::CtcResp => self.ctc_response(now, d),
            Step::Page => match d {
                Done::Ok => {
                    self.step = Step::PausePpm;
                    self.cmd(now, "+FTS=8", self.timeouts.command);
                }
                _ => self.fail(now, 1040, format!("page data: {d:?}"), false),
            },
            Step::PausePpm => match d {
                Done::Ok => self.send_ppm(now),
                _ => self.fail(now, 1050, format!("pause after the page: {d:?}"), false),
            },
            Step::Ppm => match d {
                Done::Ok => {
                    self.step = Step::PpmResp;
                    self.frh(now, self.timers.t4);
                }
                _ => self.fail(
                    now,
                    1050,
                    format!("sending the post-page message: {d:?}"),
                    false,
                ),
            },
            Step::PpmResp => self.ppm_response(now, d),
            Step::Dcn => self.hang_up(now),
            Step::Hangup => self.finish(),
        }
    }

    pub(super) fn phase_b(&mut self, now: Instant, d: Done) {
        if let Done::Frame(f) = &d {
            self.heard_frames = true;
            match f.kind() {
                fcf::CSI => {
                    self.result.remote_id = id_from_fif(&f.fif);
                    self.progress(format!("CSI {:?}", self.result.remote_id));
                }
                fcf::DIS => self.dis = Dis::parse(&f.fif),
                _ => {}
            }
            if f.last && self.dis.is_some() {
                return self.choose(now);
            }
        }
        if now >= self.t1_deadline {
            let (code, why) = if self.heard_frames {
                (1023, "no valid DIS from the receiver")
            } else {
                (1011, "no fax answer before T1")
            };
            return self.fail(now, code, why.into(), false);
        }
        let left = self.t1_deadline - now;
        self.frh(now, left);
    }

    pub(super) fn modulation(&self) -> Modulation {
        self.session.expect("session").modulation
    }

    pub(super) fn choose(&mut self, now: Instant) {
        let dis = self.dis.clone().expect("dis");
        self.progress(format!("DIS: {dis}"));
        if !dis.can_receive {
            return self.fail(now, 1021, "the remote cannot receive".into(), true);
        }
        let cap = br_bps(self.plan.max_speed);
        let codes = &self.ftm_codes;
        self.modulations = FALLBACK
            .iter()
            .copied()
            .filter(|m| m.bps <= cap && dis.supports(m))
            .filter(|m| {
                codes.is_empty() || (codes.contains(&m.tcf_code) && codes.contains(&m.page_code))
            })
            .collect();
        let Some(first) = self.modulations.first().copied() else {
            return self.fail(
                now,
                21,
                "no modulation in common with the receiver".into(),
                true,
            );
        };
        let fine = self.plan.fine && dis.fine;
        let ecm = self.plan.ecm && dis.ecm;
        // T.6 only travels with ECM; `mr=no` (MH only) turns it off as well.
        let mmr = ecm && dis.mmr && self.plan.two_d;
        self.session = Some(Session {
            modulation: first,
            fine,
            two_d: self.plan.two_d && dis.two_d && !mmr,
            unlimited_length: dis.unlimited_length,
            // With ECM the receiver buffers frames: no minimum scan-line time.
            scan_ms: if ecm {
                0
            } else if fine {
                dis.scan.fine_ms
            } else {
                dis.scan.standard_ms
            },
            ecm,
            mmr,
            small_frames: ecm && self.plan.ecm_frame == super::super::ecm::SMALL_FRAME_BYTES,
        });
        self.result.baud = first.bps;
        self.step = Step::SwitchDcs;
        self.cmd(now, "+FRS=7", self.timeouts.command);
    }

    pub(super) fn send_dcs(&mut self, now: Instant) {
        let s = self.session.expect("session");
        self.progress(format!("DCS at {}", s.modulation.name()));
        self.step = Step::Dcs;
        self.fth(
            now,
            vec![
                Frame::ours(fcf::TSI, id_fif(&self.plan.local_id), false),
                Frame::ours(fcf::DCS, s.dcs(), true),
            ],
        );
    }

    pub(super) fn retrain(&mut self, now: Instant) {
        self.step = Step::SwitchDcs;
        self.cmd(now, "+FRS=7", self.timeouts.command);
    }

    pub(super) fn train_response(&mut self, now: Instant, d: Done) {
        let f = match d {
            Done::Frame(f) if !f.last => return self.frh(now, self.timers.t4),
            Done::Frame(f) => f,
            _ => {
                self.dcs_tries += 1;
                if self.dcs_tries >= self.timers.tries {
                    return self.fail(now, 1025, "no response to DCS".into(), true);
                }
                self.progress("no response to DCS/TCF: repeating".into());
                return self.send_dcs(now);
            }
        };
        match f.kind() {
            fcf::CFR => {
                self.dcs_tries = 0;
                self.retrain = false;
                let m = self.modulation();
                self.result.baud = m.bps;
                self.progress(format!("CFR: trained at {}", m.name()));
                self.step = Step::SwitchPage;
                self.cmd(now, "+FRS=7", self.timeouts.command);
            }
            fcf::FTT => {
                let m = self.modulation();
                let next = self
                    .modulations
                    .iter()
                    .position(|x| *x == m)
                    .and_then(|i| self.modulations.get(i + 1))
                    .copied();
                let Some(next) = next else {
                    return self.fail(
                        now,
                        1027,
                        format!("failure to train, last at {}", m.name()),
                        true,
                    );
                };
                self.progress(format!("FTT at {}: trying {}", m.name(), next.name()));
                if let Some(s) = self.session.as_mut() {
                    s.modulation = next;
                }
                self.dcs_tries = 0;
                self.retrain(now);
            }
            fcf::DIS | fcf::CSI | fcf::NSF => {
                self.dcs_tries += 1;
                if self.dcs_tries >= self.timers.tries {
                    return self.fail(now, 1026, "DIS repeated: DCS not recognised".into(), true);
                }
                self.retrain(now);
            }
            fcf::CRP => {
                self.dcs_tries += 1;
                if self.dcs_tries >= self.timers.tries {
                    return self.fail(now, 1025, "DCS repeated after CRP".into(), true);
                }
                self.retrain(now);
            }
            fcf::DCN => self.fail(
                now,
                1024,
                "the receiver disconnected after DCS".into(),
                false,
            ),
            other => self.fail(
                now,
                1028,
                format!("invalid response to DCS: {}", fcf_name(other)),
                true,
            ),
        }
    }

    pub(super) fn send_page(&mut self, now: Instant) {
        let s = self.session.expect("session");
        if s.ecm {
            return self.send_ecm_page(now);
        }
        let resolution = if s.fine {
            Resolution::Fine
        } else {
            Resolution::Standard
        };
        let page = self.plan.pages[self.page].to_resolution(resolution);
        let options = EncodeOptions {
            coding: if s.two_d {
                Coding::mr_for(resolution)
            } else {
                Coding::Mh
            },
            bit_order: BitOrder::LsbFirst,
            align_eol: true,
            min_line_bytes: s.min_line_bytes(),
            rtc: true,
        };
        let data = encode(&page, &options);
        self.progress(format!(
            "page {}: {} lines, {} bytes at {}",
            self.page + 1,
            page.lines(),
            data.len(),
            s.modulation.name()
        ));
        self.events.push_back(FaxEvent::PageStarted {
            page: self.page as u32 + 1,
            of: self.plan.pages.len() as u32,
            baud: s.modulation.bps,
        });
        self.step = Step::Page;
        self.ftm(now, s.modulation.page_code, data);
    }

    pub(super) fn ppm(&self) -> u8 {
        if self.page + 1 < self.plan.pages.len() {
            fcf::MPS
        } else {
            fcf::EOP
        }
    }

    pub(super) fn send_ppm(&mut self, now: Instant) {
        self.step = Step::Ppm;
        if self.ecm_page.is_some() {
            let pps = self.pps();
            return self.fth(now, vec![pps]);
        }
        let ppm = self.ppm();
        self.fth(now, vec![Frame::ours(ppm, vec![], true)]);
    }

    pub(super) fn ppm_response(&mut self, now: Instant, d: Done) {
        let ppm = self.ppm();
        let (no_answer, invalid) = match ppm {
            fcf::MPS => (1052, 1053),
            fcf::EOM => (1056, 1057),
            _ => (1054, 1055),
        };
        let f = match d {
            Done::Frame(f) if !f.last => return self.frh(now, self.timers.t4),
            Done::Frame(f) if f.kind() != fcf::CRP => f,
            _ => {
                self.ppm_tries += 1;
                if self.ppm_tries >= self.timers.tries {
                    return self.fail(
                        now,
                        no_answer,
                        format!("no response to {} three times", self.ppm_label()),
                        true,
                    );
                }
                self.progress(format!("no response to {}: repeating", self.ppm_label()));
                return self.send_ppm(now);
            }
        };
        self.ppm_tries = 0;
        if self.ecm_page.is_some()
            && (self.eor || matches!(f.kind(), fcf::MCF | fcf::PPR | fcf::RNR))
            && f.kind() != fcf::DCN
        {
            return self.ecm_response(now, f);
        }
        match f.kind() {
            fcf::MCF => self.confirmed(now),
            fcf::RTP => {
                self.retrain = true;
                self.confirmed(now)
            }
            fcf::RTN => {
                self.page_tries += 1;
                if self.page_tries > self.plan.page_retries {
                    return self.fail(
                        now,
                        20,
                        format!(
                            "page {} rejected (RTN) {} times",
                            self.page + 1,
                            self.page_tries
                        ),
                        true,
                    );
                }
                self.progress(format!("page {} rejected (RTN): retraining", self.page + 1));
                self.retrain(now);
            }
            fcf::PIN | fcf::PIP => self.fail(
                now,
                1058,
                format!("procedure interrupt ({})", fcf_name(f.kind())),
                true,
            ),
            fcf::DCN => self.fail(now, 1051, "the receiver disconnected".into(), false),
            other => self.fail(
                now,
                invalid,
                format!(
                    "invalid response to {}: {}",
                    self.ppm_label(),
                    fcf_name(other)
                ),
                true,
            ),
        }
    }

    pub(super) fn confirmed(&mut self, now: Instant) {
        self.result.pages_sent += 1;
        self.page_tries = 0;
        self.events
            .push_back(FaxEvent::PageSent(self.result.pages_sent));
        self.page += 1;
        if self.page < self.plan.pages.len() {
            if self.retrain {
                self.retrain(now)
            } else {
                self.step = Step::SwitchPage;
                self.cmd(now, "+FRS=7", self.timeouts.command);
            }
        } else {
            self.result.code = 0;
            self.result.detail = self.sent_detail();
            self.step = Step::Dcn;
            self.fth(now, vec![Frame::ours(fcf::DCN, vec![], true)]);
        }
    }
}
