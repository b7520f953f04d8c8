//! The Class 2 / Class 2.0 fax receiver as a DTE sees it when sending: `+FDT`, DLE-escaped
//! page data, the post-page message (DLE `,` `;` `.` in 2.0, DLE ETX + `+FET` in 2), page
//! status (`+FPS`/`+FPTS`), hang-up reports (`+FHS`/`+FHNG`), and the scenario's RTN and
//! phase B/C/D hang-ups.
//!
//! Owns session parameters (local +FIS, remote DIS, negotiated DCS) and page verdicts; hands
//! decoded pages to the shell as events. Never writes files.

use super::commands::{parse_caps, Done, Op};
use super::{Event, FClass, Modem, Res, State, TimerKind, CAN, DLE, ETX, SUB, XON};
use crate::calllog::PageRecord;
use crate::scenario::{FaxAnswer, Phase};
use crate::t4::{decode_page, Coding};
use crate::tiff_f::PageInfo;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Page data being received.
#[derive(Debug)]
pub struct PageBuffer {
    data: Vec<u8>,
    dle: bool,
    /// When CONNECT was given.
    connected: Instant,
}

/// Real time a page transfer lasts at least. efax divides by the whole seconds a page took
/// (`time(0)` difference) and dies with SIGFPE when a page finishes within the same second.
pub const MIN_PAGE_REAL: Duration = Duration::from_millis(1100);

/// Bit rates for the `br` field of DCS.
const BPS: [u64; 6] = [2400, 4800, 7200, 9600, 12000, 14400];

/// What the receiver thinks of a page whose post-page message has not come yet (Class 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Mcf,
    Rtn,
    HangupD(u32),
}

/// One fax session (after +FCO until hang-up).
#[derive(Debug, Clone)]
pub struct FaxSession {
    class20: bool,
    answer: FaxAnswer,
    remote: [u32; 8],
    local: [u32; 8],
    /// 1-based number of the page being sent next.
    page: u32,
    rtn_count: HashMap<u32, u32>,
    /// Last post-page response: 1 MCF, 2 RTN.
    pub last_ppr: u32,
    pending: Option<Verdict>,
    /// EOP was acknowledged.
    complete: bool,
}

/// `+FHS:` value text (Class 2.0: two digits; receive phase D 100..103 as A0..A3).
pub(crate) fn hangup_code(class20: bool, code: u32) -> String {
    if class20 {
        if (100..110).contains(&code) {
            format!("A{}", code - 100)
        } else {
            format!("{code:02}")
        }
    } else {
        format!("{code}")
    }
}

/// The full hang-up report line.
pub(crate) fn hangup_line(class20: bool, code: u32) -> String {
    format!(
        "{}{}",
        if class20 { "+FHS:" } else { "+FHNG:" },
        hangup_code(class20, code)
    )
}

fn caps_text(c: &[u32; 8]) -> String {
    c.iter()
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

impl FaxSession {
    pub(crate) fn new(class20: bool, answer: FaxAnswer, local: &str) -> FaxSession {
        FaxSession {
            class20,
            remote: parse_caps(&answer.dis),
            answer,
            local: parse_caps(local),
            page: 1,
            rtn_count: HashMap::new(),
            last_ppr: 1,
            pending: None,
            complete: false,
        }
    }

    pub(crate) fn set_local(&mut self, v: &str) {
        self.local = parse_caps(v);
    }

    pub(crate) fn remote_text(&self) -> String {
        caps_text(&self.remote)
    }

    /// The session parameters (`+FCS`): the lesser of what the DTE offers (`+FIS`/`+FCC`) and
    /// what the remote's DIS offers, except `ec`: a remote offering ECM (DIS bit 27) takes either
    /// frame size, so the DTE's choice (1 = 64-octet frames, 2 = 256) stands; 0 when either
    /// side has none.
    fn dcs(&self) -> [u32; 8] {
        let (l, r) = (&self.local, &self.remote);
        [
            l[0].min(r[0]),
            l[1].min(r[1]),
            l[2].min(r[2]),
            l[3].min(r[3]),
            l[4].min(r[4]),
            if r[5] >= 1 { l[5].min(2) } else { 0 },
            0,
            r[7],
        ]
    }

    pub(crate) fn dcs_text(&self) -> String {
        caps_text(&self.dcs())
    }
}

impl Modem {
    fn fax_class20(&self) -> Option<bool> {
        self.call.as_ref()?.fax.as_ref().map(|f| f.class20)
    }

    pub(crate) fn cmd_fdt(&mut self, _now: Instant, op: Op) -> Done {
        if !matches!(op, Op::Action | Op::Set(_)) {
            return Done::Error;
        }
        let ok = self
            .call
            .as_ref()
            .and_then(|c| c.fax.as_ref())
            .is_some_and(|f| !f.complete && f.pending.is_none());
        if !ok || !matches!(self.fclass, FClass::Fax2 | FClass::Fax20) {
            return Done::Error;
        }
        self.state = State::Busy { dialling: false };
        // DCS + TCF + CFR take about 1.5 s of line time.
        let at = _now + self.scale(Duration::from_millis(1500));
        self.at(at, TimerKind::FaxConnect);
        Done::Started
    }

    pub(crate) fn fax_connect(&mut self, _now: Instant) {
        let Some(f) = self.call.as_ref().and_then(|c| c.fax.as_ref()) else {
            return;
        };
        let class20 = f.class20;
        let ecm = f.dcs()[5] >= 1;
        let line = format!(
            "{}{}",
            if class20 { "+FCS:" } else { "+FDCS:" },
            f.dcs_text()
        );
        if let Some(c) = self.call.as_mut() {
            c.rec.ecm = ecm;
        }
        self.info(&line);
        self.result(Res::Connect(None));
        if !class20 {
            self.send(&[XON]);
        }
        self.state = State::FaxData(PageBuffer {
            data: Vec::new(),
            dle: false,
            connected: _now,
        });
    }

    pub(crate) fn fax_data_byte(&mut self, now: Instant, b: u8) {
        let State::FaxData(buf) = &mut self.state else {
            return;
        };
        if buf.dle {
            buf.dle = false;
            match b {
                DLE => buf.data.push(DLE),
                SUB => buf.data.extend_from_slice(&[DLE, DLE]),
                ETX => self.page_end(now, None),
                b',' | b';' | b'.' => self.page_end(now, Some(b)),
                CAN => {
                    // Abort: the session ends.
                    self.state = State::Command;
                    self.fax_hangup(now, 2, Res::Ok, "DTE aborted page");
                }
                _ => {}
            }
        } else if b == DLE {
            buf.dle = true;
        } else {
            buf.data.push(b);
        }
    }

    fn fax_hangup(&mut self, now: Instant, code: u32, res: Res, why: &str) {
        let class20 = self.fax_class20().unwrap_or(true);
        let line = hangup_line(class20, code);
        self.info(&line);
        if let Some(c) = self.call.as_mut() {
            c.rec.hangup_code = Some(hangup_code(class20, code));
        }
        self.result(res);
        self.end_call(now, why);
    }

    /// Store an accepted page: event for the shell, record for the log.
    pub(crate) fn store_page(&mut self, data: &[u8], page: u32, dcs: [u32; 8]) -> bool {
        let width = [1728, 2048, 2432][dcs[2].min(2) as usize];
        let coding = match (dcs[4], dcs[5]) {
            (0, _) => Coding::Mh,
            (3, ec) if ec >= 1 => Coding::Mmr,
            _ => Coding::Mr,
        };
        let Ok(mut p) = decode_page(data, width, coding) else {
            return false;
        };
        // TIFF-F holds T.4: an MMR page is kept as the MH coding of the same pixels.
        let stored = if coding == Coding::Mmr {
            p.msb_first = crate::t4::encode_mh(&p.bitmap);
            Coding::Mh
        } else {
            coding
        };
        let Some(call_no) = self.call.as_ref().map(|c| c.rec.call) else {
            return false;
        };
        let yres = if dcs[0] == 0 { 98 } else { 196 };
        let file = self.page_file(call_no, page);
        let info = PageInfo {
            width,
            height: p.bitmap.height,
            yres,
            coding: stored,
            page: (page - 1) as u16,
        };
        if let Some(c) = self.call.as_mut() {
            c.rec.pages.push(PageRecord {
                page,
                file: file.clone(),
                width,
                rows: p.bitmap.height,
                yres,
                coding: match coding {
                    Coding::Mh => "MH".into(),
                    Coding::Mr => "MR".into(),
                    Coding::Mmr => "MMR".into(),
                },
                bytes: data.len(),
            });
        }
        self.push_event(Event::Page {
            file,
            info,
            strip: p.msb_first,
        });
        true
    }

    fn page_end(&mut self, now: Instant, ppm: Option<u8>) {
        let State::FaxData(buf) = std::mem::replace(&mut self.state, State::Command) else {
            return;
        };
        let Some(f) = self.call.as_ref().and_then(|c| c.fax.clone()) else {
            return;
        };
        let page = f.page;
        let hang = f.answer.hangup.filter(|h| h.page == page);
        // The remote confirms after the data has crossed the line at the negotiated rate and
        // the post-page exchange (about 0.8 s) is done.
        let bps = BPS[(f.dcs()[1] as usize).min(5)];
        let line = Duration::from_millis(buf.data.len() as u64 * 8 * 1000 / bps + 800);
        let respond_at = (buf.connected + self.scale(line))
            .max(buf.connected + MIN_PAGE_REAL)
            .max(now);
        if let Some(h) = hang.filter(|h| h.phase == Phase::C) {
            if let Some(c) = self.call.as_mut() {
                c.rec.hangup_code = Some(hangup_code(f.class20, h.code));
            }
            let lines = vec![hangup_line(f.class20, h.code)];
            self.state = State::Busy { dialling: false };
            self.at(respond_at, TimerKind::FaxPostPage(lines, Res::Error, true));
            return;
        }
        let decodes = {
            let dcs = f.dcs();
            let width = [1728, 2048, 2432][dcs[2].min(2) as usize];
            let coding = if dcs[4] == 0 { Coding::Mh } else { Coding::Mr };
            decode_page(&buf.data, width, coding).is_ok()
        };
        let rejected_so_far = f.rtn_count.get(&page).copied().unwrap_or(0);
        let rtn = !decodes
            || (f.answer.rtn_pages.contains(&page)
                && (f.answer.rtn_times == 0 || rejected_so_far < f.answer.rtn_times));
        let verdict = if let Some(h) = hang.filter(|h| h.phase == Phase::D) {
            if !rtn {
                self.store_page(&buf.data, page, f.dcs());
            }
            Verdict::HangupD(h.code)
        } else if rtn {
            if let Some(c) = self.call.as_mut() {
                c.rec.pages_rejected += 1;
                if let Some(s) = c.fax.as_mut() {
                    *s.rtn_count.entry(page).or_insert(0) += 1;
                    s.last_ppr = 2;
                }
            }
            Verdict::Rtn
        } else {
            self.store_page(&buf.data, page, f.dcs());
            if let Some(s) = self.call.as_mut().and_then(|c| c.fax.as_mut()) {
                s.page += 1;
                s.last_ppr = 1;
            }
            Verdict::Mcf
        };
        match ppm {
            Some(p) if f.class20 => {
                let (lines, res, end) = match verdict {
                    Verdict::HangupD(code) => (vec![hangup_line(true, code)], Res::Error, true),
                    Verdict::Rtn => (vec![], Res::Error, false),
                    Verdict::Mcf if p == b'.' => (vec!["+FHS:00".to_string()], Res::Ok, true),
                    Verdict::Mcf => (vec![], Res::Ok, false),
                };
                if let (true, Some(c)) = (end, self.call.as_mut()) {
                    c.rec.hangup_code = Some(match verdict {
                        Verdict::HangupD(code) => hangup_code(true, code),
                        _ => "00".into(),
                    });
                    if let Some(s) = c.fax.as_mut() {
                        s.complete = true;
                    }
                }
                self.state = State::Busy { dialling: false };
                self.at(respond_at, TimerKind::FaxPostPage(lines, res, end));
            }
            _ => {
                // Class 2 style: OK once the data is out, verdict after +FET.
                if let Some(s) = self.call.as_mut().and_then(|c| c.fax.as_mut()) {
                    s.pending = Some(verdict);
                }
                self.state = State::Busy { dialling: false };
                self.at(respond_at, TimerKind::FaxPostPage(vec![], Res::Ok, false));
            }
        }
    }

    pub(crate) fn fax_post_page(&mut self, now: Instant, lines: Vec<String>, res: Res, end: bool) {
        self.state = State::Command;
        for l in &lines {
            self.info(l);
        }
        self.result(res);
        if end {
            let why = if lines
                .first()
                .is_some_and(|l| l.ends_with(":00") || l.ends_with(":0"))
            {
                "normal end"
            } else {
                "remote hangup in phase D"
            };
            self.end_call(now, why);
        }
    }

    /// Class 2 `+FET=<ppm>` (0 MPS, 1 EOM, 2 EOP, 4-6 with procedure interrupt).
    pub(crate) fn cmd_fet(&mut self, now: Instant, op: Op) -> Done {
        let Op::Set(v) = op else { return Done::Error };
        let ppm: u32 = v.trim().parse().unwrap_or(99);
        if ppm > 6 {
            return Done::Error;
        }
        let Some(f) = self.call.as_mut().and_then(|c| c.fax.as_mut()) else {
            return Done::Error;
        };
        let Some(verdict) = f.pending.take() else {
            return Done::Error;
        };
        let class20 = f.class20;
        let eop = ppm % 4 == 2;
        let (lines, res, end) = match verdict {
            Verdict::HangupD(code) => {
                let c = self.call.as_mut().expect("call");
                c.rec.hangup_code = Some(hangup_code(class20, code));
                (vec![hangup_line(class20, code)], Res::Ok, true)
            }
            Verdict::Rtn => (
                vec![if class20 { "+FPS:2" } else { "+FPTS:2" }.to_string()],
                Res::Ok,
                false,
            ),
            Verdict::Mcf => {
                if eop {
                    f.complete = true;
                }
                (
                    vec![if class20 { "+FPS:1" } else { "+FPTS:1" }.to_string()],
                    Res::Ok,
                    false,
                )
            }
        };
        self.state = State::Busy { dialling: false };
        let at = now + self.scale(Duration::from_millis(800));
        self.at(at, TimerKind::FaxPostPage(lines, res, end));
        Done::Started
    }

    /// `+FKS` / `+FK`: end the session (reports the hang-up code if a session is up).
    pub(crate) fn cmd_fks(&mut self, now: Instant) -> Done {
        let Some(f) = self.call.as_ref().and_then(|c| c.fax.as_ref()) else {
            return Done::Next;
        };
        let code = if f.complete { 0 } else { 2 };
        let class20 = f.class20;
        let line = hangup_line(class20, code);
        self.info(&line);
        if let Some(c) = self.call.as_mut() {
            c.rec.hangup_code = Some(hangup_code(class20, code));
        }
        self.end_call(
            now,
            if code == 0 {
                "normal end"
            } else {
                "aborted by DTE"
            },
        );
        Done::Next
    }

    /// `+FDR` (receiving or polling) is not offered: the simulated remote never sends.
    pub(crate) fn cmd_fdr(&mut self, _now: Instant) -> Done {
        Done::Error
    }
}
