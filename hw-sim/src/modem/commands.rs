//! The command interpreter: one `AT` line, split into basic, S-register, `&` and extended
//! (`+F…`, `+V…`, `+G…`) commands, executed left to right.
//!
//! Owns which commands exist, their parameter defaults, `=?`/`?` answers and the rule that
//! a line ends with one final result (OK/ERROR) unless a command starts an action that
//! reports its own (D, A, O, +FDT, +VTX, +VRX).

use super::{FClass, Modem, Res, State};
use std::time::Instant;

/// What an individual command did.
pub(crate) enum Done {
    /// Carry on with the rest of the line.
    Next,
    /// Stop and answer ERROR.
    Error,
    /// The command took over (its result comes later or was already given).
    Started,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Op {
    Test,
    Read,
    Set(String),
    Action,
}

const CAPS_RANGE: &str = "(0,1),(0-5),(0-2),(0-2),(0,1),(0-2),(0),(0-7)";
const DEFAULT_CAPS: &str = "1,5,0,2,0,0,0,0";

impl Modem {
    /// Execute one command line (the text after `AT`, without CR).
    pub(crate) fn execute(&mut self, now: Instant, line: &[u8]) {
        let text = String::from_utf8_lossy(line).to_string();
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i].to_ascii_uppercase();
            i += 1;
            let done = match c {
                b' ' | b';' => Done::Next,
                b'D' => {
                    let rest = text[i..].to_string();
                    i = bytes.len();
                    self.cmd_dial(now, &rest)
                }
                b'S' => {
                    let (n, ni) = number(bytes, i);
                    i = ni;
                    if i < bytes.len() && bytes[i] == b'=' {
                        let (v, vi) = number(bytes, i + 1);
                        i = vi;
                        match (n, v) {
                            (Some(n), Some(v)) if (n as usize) < self.s.len() && v < 256 => {
                                self.s[n as usize] = v as u8;
                                Done::Next
                            }
                            _ => Done::Error,
                        }
                    } else if i < bytes.len() && bytes[i] == b'?' {
                        i += 1;
                        match n {
                            Some(n) if (n as usize) < self.s.len() => {
                                let v = format!("{:03}", self.s[n as usize]);
                                self.info(&v);
                                Done::Next
                            }
                            _ => Done::Error,
                        }
                    } else {
                        Done::Next
                    }
                }
                b'&' | b'\\' | b'%' => {
                    if i >= bytes.len() {
                        Done::Error
                    } else {
                        let l = bytes[i].to_ascii_uppercase();
                        i += 1;
                        let (_, ni) = number(bytes, i);
                        i = ni;
                        if c == b'&' && l == b'F' {
                            self.hang_up_if_needed(now);
                            self.factory();
                        }
                        Done::Next
                    }
                }
                b'+' | b'#' => {
                    let start = i;
                    while i < bytes.len() && (bytes[i].is_ascii_alphanumeric()) {
                        i += 1;
                    }
                    let name = text[start..i].to_ascii_uppercase();
                    let op = if text[i..].starts_with("=?") {
                        i += 2;
                        Op::Test
                    } else if text[i..].starts_with('?') {
                        i += 1;
                        Op::Read
                    } else if text[i..].starts_with('=') {
                        i += 1;
                        let vstart = i;
                        let mut quoted = false;
                        while i < bytes.len() && (quoted || bytes[i] != b';') {
                            if bytes[i] == b'"' {
                                quoted = !quoted;
                            }
                            i += 1;
                        }
                        Op::Set(text[vstart..i].trim().to_string())
                    } else {
                        Op::Action
                    };
                    if c == b'#' {
                        // Vendor (Rockwell) extensions: accept silently.
                        Done::Next
                    } else {
                        self.extended(now, &name, op)
                    }
                }
                b'A'..=b'Z' => {
                    let (n, ni) = number(bytes, i);
                    i = ni;
                    self.basic(now, c, n.unwrap_or(0))
                }
                _ => Done::Error,
            };
            match done {
                Done::Next => {}
                Done::Error => {
                    self.result(Res::Error);
                    return;
                }
                Done::Started => return,
            }
        }
        self.result(Res::Ok);
    }

    fn hang_up_if_needed(&mut self, now: Instant) {
        if self.call.is_some() {
            self.end_call(now, "hangup by DTE");
        }
        self.ringing = None;
    }

    fn basic(&mut self, now: Instant, c: u8, n: u32) -> Done {
        match c {
            b'E' => self.echo = n != 0,
            b'V' => self.verbose = n != 0,
            b'Q' => self.quiet = n != 0,
            b'X' => {
                if n > 4 {
                    return Done::Error;
                }
                self.x_level = n as u8;
            }
            b'Z' => {
                self.hang_up_if_needed(now);
                self.factory();
            }
            b'H' => {
                if n == 0 {
                    self.hang_up_if_needed(now);
                }
            }
            b'I' => {
                let t = match n {
                    0 => "56000".to_string(),
                    3 => format!(
                        "redial-sim modem {} v{}",
                        self.index(),
                        env!("CARGO_PKG_VERSION")
                    ),
                    _ => format!("redial-sim {}", env!("CARGO_PKG_VERSION")),
                };
                self.info(&t);
            }
            b'A' => return self.cmd_answer(now),
            b'O' => return self.cmd_online(),
            b'M' | b'L' | b'B' | b'C' | b'N' | b'Y' | b'W' | b'P' | b'T' | b'F' | b'K' | b'R' => {}
            _ => return Done::Error,
        }
        Done::Next
    }

    fn cmd_online(&mut self) -> Done {
        match &self.call {
            Some(c) if c.up && c.speed > 0 && c.fax.is_none() && c.voice.is_none() => {
                let speed = c.speed;
                self.result(Res::Connect(Some(speed)));
                self.state = State::OnlineData;
                Done::Started
            }
            _ => Done::Error,
        }
    }

    fn param(&self, name: &str) -> Option<String> {
        if let Some(v) = self.params.get(name) {
            return Some(v.clone());
        }
        let d = match name {
            "FCC" | "FIS" | "FDCC" | "FDIS" => DEFAULT_CAPS,
            "FLI" | "FLID" | "FPI" | "FCIG" | "FNS" | "FSA" | "FPA" | "FPW" => "\"\"",
            "FNR" => "0,0,0,0",
            "FLO" => "1",
            "FBO" | "FBOR" | "FCR" | "FMS" | "FMINSP" | "FIE" | "FPP" | "FSP" | "FSPL" | "FLP"
            | "FAA" | "FEA" | "FBUG" | "FREL" | "FECM" | "FTBC" | "FAXERR" | "FAR" => "0",
            "FCT" => "1E",
            "FPHCTO" => "30",
            "FCQ" => "1,0",
            "FRQ" => "0,0",
            "FAP" => "0,0,0",
            "FIT" => "0,0",
            "FPS" | "FPTS" => "1",
            "VSM" => "1,8000",
            "VLS" => "0",
            "VSD" => "128,0",
            "VGT" | "VGR" => "128",
            "VIT" => "0",
            "VRA" => "50",
            "VRN" => "10",
            "VCID" | "VNH" | "VRID" => "0",
            "VDR" => "0,0",
            "VTD" => "100",
            "IFC" => "2,2",
            "ICF" => "3,3",
            "IPR" => "0",
            "GCI" => "3D",
            "FMI" | "FMFR" | "GMI" => "redial",
            "FMM" | "FMDL" | "GMM" => "hw-sim",
            "FMR" | "FREV" | "GMR" => env!("CARGO_PKG_VERSION"),
            "GSN" => "0",
            _ => return None,
        };
        Some(d.to_string())
    }

    /// `+NAME…` commands.
    pub(crate) fn extended(&mut self, now: Instant, name: &str, op: Op) -> Done {
        match name {
            "FCLASS" => return self.cmd_fclass(now, op),
            "FMI" | "FMM" | "FMR" | "FMFR" | "FMDL" | "FREV" | "GMI" | "GMM" | "GMR" | "GSN" => {
                if matches!(op, Op::Read | Op::Action) {
                    let v = self.param(name).unwrap_or_default();
                    self.info(&v);
                    return Done::Next;
                }
                return Done::Error;
            }
            "FDT" => return self.cmd_fdt(now, op),
            "FTH" | "FRH" | "FTM" | "FRM" | "FTS" | "FRS" => return self.cmd_class1(now, name, op),
            "FDR" => return self.cmd_fdr(now),
            "FET" if matches!(op, Op::Set(_)) => return self.cmd_fet(now, op),
            "FKS" | "FK" => return self.cmd_fks(now),
            "FIP" => {
                self.params.retain(|k, _| !k.starts_with('F'));
                return Done::Next;
            }
            "FCS" | "FDCS" => {
                if let Op::Read = op {
                    let dcs = self
                        .call
                        .as_ref()
                        .and_then(|c| c.fax.as_ref())
                        .map(|f| f.dcs_text());
                    match dcs {
                        Some(d) => self.info(&format!("+{name}:{d}")),
                        None => self.info(&format!("+{name}:{DEFAULT_CAPS}")),
                    }
                    return Done::Next;
                }
                return Done::Error;
            }
            "FPS" | "FPTS" => {
                if let Op::Read = op {
                    let ppr = self
                        .call
                        .as_ref()
                        .and_then(|c| c.fax.as_ref())
                        .map(|f| f.last_ppr)
                        .unwrap_or(1);
                    self.info(&format!("+{name}:{ppr}"));
                    return Done::Next;
                }
            }
            "VTX" => return self.cmd_vtx(now),
            "VRX" => return self.cmd_vrx(now),
            "VTS" => return self.cmd_vts(op),
            "VLS" => return self.cmd_vls(now, op),
            "VSM" if op == Op::Test => {
                for l in [
                    "0,\"SIGNED PCM\",8,0,(8000),(0),(0)",
                    "1,\"UNSIGNED PCM\",8,0,(8000),(0),(0)",
                    "4,\"G.711U\",8,0,(8000),(0),(0)",
                    "5,\"G.711A\",8,0,(8000),(0),(0)",
                ] {
                    self.info(l);
                }
                return Done::Next;
            }
            _ => {}
        }
        let known = self.param(name).is_some();
        let liberal = name.starts_with('F') || name.starts_with('V');
        if !known && !liberal {
            return Done::Error;
        }
        match op {
            Op::Test => {
                let t = match name {
                    "FCC" | "FIS" | "FDCC" | "FDIS" => CAPS_RANGE.to_string(),
                    "FLI" | "FLID" | "FPI" | "FCIG" => "(20)(32-127)".to_string(),
                    "VLS" => "0,1,2,4,5,7".to_string(),
                    _ => format!("({})", self.param(name).unwrap_or_default()),
                };
                self.info(&t);
            }
            Op::Read => {
                let v = self.param(name).unwrap_or_default();
                if name.starts_with('F') {
                    self.info(&format!("+{name}:{v}"));
                } else {
                    self.info(&v);
                }
            }
            Op::Set(v) => {
                if matches!(name, "FCC" | "FIS" | "FDCC" | "FDIS") && !valid_caps(&v) {
                    return Done::Error;
                }
                if matches!(name, "FIS" | "FDIS") {
                    if let Some(f) = self.call.as_mut().and_then(|c| c.fax.as_mut()) {
                        f.set_local(&v);
                    }
                }
                self.params.insert(name.to_string(), v);
            }
            Op::Action => {}
        }
        Done::Next
    }

    fn cmd_fclass(&mut self, now: Instant, op: Op) -> Done {
        match op {
            Op::Test => self.info("0,1,2,2.0,8"),
            Op::Read => {
                let l = self.fclass.label();
                self.info(l);
            }
            Op::Set(v) => {
                let c = match v.as_str() {
                    "0" => FClass::Data,
                    "1" | "1.0" => FClass::Fax1,
                    "2" => FClass::Fax2,
                    "2.0" => FClass::Fax20,
                    "8" | "8.0" => FClass::Voice,
                    _ => return Done::Error,
                };
                if c != self.fclass
                    && self
                        .call
                        .as_ref()
                        .is_some_and(|c| c.fax.is_some() || c.c1.is_some())
                {
                    self.end_call(now, "class change");
                }
                self.fclass = c;
            }
            Op::Action => return Done::Error,
        }
        Done::Next
    }
}

/// Parse an unsigned decimal number at `i`; returns (value, next index).
fn number(b: &[u8], mut i: usize) -> (Option<u32>, usize) {
    let start = i;
    let mut v: u32 = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        v = v.saturating_mul(10).saturating_add((b[i] - b'0') as u32);
        i += 1;
    }
    ((i > start).then_some(v), i)
}

/// `vr,br,wd,ln,df,ec,bf,st` with up to 8 numeric fields (hex digits allowed, T.32 style).
fn valid_caps(v: &str) -> bool {
    let fields: Vec<&str> = v.split(',').collect();
    !fields.is_empty()
        && fields.len() <= 10
        && fields
            .iter()
            .all(|f| f.trim().is_empty() || u32::from_str_radix(f.trim(), 16).is_ok())
}

/// Parse a capability string into 8 numbers (missing fields = 0).
pub(crate) fn parse_caps(v: &str) -> [u32; 8] {
    let mut c = [0u32; 8];
    for (i, f) in v.split(',').take(8).enumerate() {
        c[i] = u32::from_str_radix(f.trim(), 16).unwrap_or(0);
    }
    c
}
