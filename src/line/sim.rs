//! The `sim` line: a line without hardware whose outcomes follow a scenario in the CFG.
//!
//! ```text
//! $line 1 sim                                  ; every call succeeds after 60 s
//! $line 2 sim group=fax outcomes=2@5,2@5,0     ; attempt 1 busy (5 s), 2 busy, 3+ success
//! $line 3 sim outcomes=4 down                  ; a line marked down takes no calls
//! $line 4 sim "outcomes=1 1 0" duration=30     ; quote the whole word to use spaces
//! $sim_number 5550100 "2 2 0@90"               ; calls to this number, whatever the line
//! ```
//! An outcome list is `CODE[@SECONDS]` separated by commas or blanks; the k-th attempt of a job's cycle gets the k-th entry
//! and the last entry repeats. A `$sim_number` list (digits of the number; spaces and dashes
//! ignored) wins over the line's list. Without `@SECONDS` a call lasts `duration=` seconds, else
//! 60 s for a success, 5 s for busy, 45 s for no answer and 20 s for anything else. The result is
//! known when the call is placed, so the daemon completes it when its clock reaches the end:
//! on a virtual clock a campaign takes no real time. Numbers of fax and voice calls are
//! validated as a modem line validates them (outcome 11 at once for `(555) 010-0999 x`, a `;` or
//! an over-long number), so a sim run fails what a real line would. It never sleeps and never
//! touches files.

use super::{Call, CallResult, Completion, Line, LineDef, Placed};
use crate::command::Document;
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::Arc;

/// One scripted outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimOutcome {
    /// Outcome code.
    pub code: u32,
    /// Call length in seconds, if given.
    pub secs: Option<f64>,
}

/// Parses `"2@5 2 0@90"`.
pub fn parse_outcomes(s: &str) -> Result<Vec<SimOutcome>, String> {
    let v = s
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .map(|t| {
            let (code, secs) = match t.split_once('@') {
                Some((c, d)) => (c, Some(d)),
                None => (t, None),
            };
            let code = code
                .parse::<u32>()
                .map_err(|_| format!("{t:?}: expected CODE or CODE@SECONDS"))?;
            let secs = match secs {
                Some(d) => Some(
                    d.parse::<f64>()
                        .ok()
                        .filter(|x| x.is_finite() && *x >= 0.0)
                        .ok_or_else(|| format!("{t:?}: {d:?} is not a number of seconds"))?,
                ),
                None => None,
            };
            Ok(SimOutcome { code, secs })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(v)
}

/// Digits of a number (the key of `$sim_number`).
pub fn digits(number: &str) -> String {
    number.chars().filter(char::is_ascii_alphanumeric).collect()
}

/// The per-number part of the scenario, shared by every sim line.
#[derive(Debug, Clone, Default)]
pub struct Scenario {
    numbers: Arc<HashMap<String, Vec<SimOutcome>>>,
}

impl Scenario {
    /// Reads every `$sim_number NUMBER "OUTCOMES"` of a CFG.
    pub fn from_cfg(cfg: &Document) -> Result<Scenario, String> {
        let mut numbers = HashMap::new();
        for c in cfg.all("sim_number") {
            let (Some(n), Some(list)) = (c.arg(0), c.arg(1)) else {
                return Err(format!(
                    "{} line {}: expected $sim_number NUMBER \"CODE[@SECONDS] …\"",
                    cfg.origin(),
                    c.line
                ));
            };
            let v = parse_outcomes(list)
                .map_err(|e| format!("{} line {}: {e}", cfg.origin(), c.line))?;
            if v.is_empty() {
                return Err(format!(
                    "{} line {}: empty outcome list",
                    cfg.origin(),
                    c.line
                ));
            }
            numbers.insert(digits(n), v);
        }
        Ok(Scenario {
            numbers: Arc::new(numbers),
        })
    }
}

/// A simulated line.
#[derive(Debug)]
pub struct SimLine {
    number: u32,
    outcomes: Vec<SimOutcome>,
    duration: Option<f64>,
    pages: u32,
    up: bool,
    scenario: Scenario,
}

fn default_secs(code: u32) -> f64 {
    match code {
        0 => 60.0,
        2 => 5.0,
        1 => 45.0,
        _ => 20.0,
    }
}

/// Every setting a `sim` line's `$line` takes (`setting::unknown` answers a typo from these).
const SIM_KEYS: &[&str] = &["group", "down", "id", "outcomes", "duration", "pages"];

impl SimLine {
    /// Builds a sim line from its `$line` definition.
    pub fn new(def: &LineDef, scenario: Scenario) -> Result<SimLine, String> {
        if let Some((k, _)) = def
            .params
            .iter()
            .find(|(k, _)| !SIM_KEYS.contains(&k.as_str()))
        {
            return Err(super::setting::unknown("sim", k, SIM_KEYS));
        }
        let outcomes = match def.param("outcomes") {
            Some(s) => parse_outcomes(s)?,
            None => vec![SimOutcome {
                code: 0,
                secs: None,
            }],
        };
        if outcomes.is_empty() {
            return Err("outcomes=\"\" is empty".into());
        }
        let duration = match def.param("duration") {
            Some(d) => Some(
                d.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite() && *x >= 0.0)
                    .ok_or_else(|| format!("duration={d:?} is not a number of seconds"))?,
            ),
            None => None,
        };
        let pages = match def.param("pages") {
            Some(p) => p
                .parse()
                .map_err(|_| format!("pages={p:?} is not a number"))?,
            None => 1,
        };
        Ok(SimLine {
            number: def.number,
            outcomes,
            duration,
            pages,
            up: def.param("down").is_none(),
            scenario,
        })
    }

    /// The outcome the k-th attempt (1-based) to `number` gets on this line.
    pub fn outcome_for(&self, number: &str, attempt: usize) -> SimOutcome {
        let list = self
            .scenario
            .numbers
            .get(&digits(number))
            .unwrap_or(&self.outcomes);
        list[attempt.clamp(1, list.len()) - 1]
    }
}

impl Line for SimLine {
    fn number(&self) -> u32 {
        self.number
    }
    fn board(&self) -> char {
        'S'
    }
    /// Every channel: simulated and scripted calls stand in for any line.
    fn takes(&self, _channel: crate::retry::outcome::Channel) -> bool {
        true
    }
    fn is_up(&self) -> bool {
        self.up
    }
    fn place(&mut self, call: &Call, now: DateTime<Utc>, _done: &Completion) -> Placed {
        use crate::retry::outcome::Channel;
        if matches!(call.channel, Channel::Fax | Channel::Voice | Channel::Poll)
            && crate::modem::dialstring::DialString::new(&call.number, "").is_err()
        {
            return Placed::Until(
                now,
                CallResult {
                    code: 11,
                    ..CallResult::default()
                },
            );
        }
        let o = self.outcome_for(&call.number, call.attempt);
        let secs = o
            .secs
            .or(self.duration)
            .unwrap_or_else(|| default_secs(o.code));
        let ms = (secs * 1000.0).round() as i64;
        let ok = o.code == 0;
        Placed::Until(
            now + Duration::milliseconds(ms),
            CallResult {
                code: o.code,
                pages: if ok { self.pages } else { 0 },
                scheduled: if call.channel == Channel::Fax {
                    self.pages
                } else {
                    1
                },
                baud: if ok { 14400 } else { 0 },
                call_secs: secs.round() as u32,
                connect_secs: if ok { secs.round() as u32 } else { 0 },
                answerback: if ok {
                    format!("SIM {}", digits(&call.number))
                } else {
                    String::new()
                },
                transcript: None,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::line_defs;

    /// A mistyped setting of a sim line stops the start with the nearest known one, as a
    /// modem line's does (it was ignored, and the line served the default group).
    #[test]
    fn a_mistyped_sim_setting_names_what_was_meant() {
        let cfg = Document::parse_str("$line 1 sim grup=fax\n$line 2 sim pages=2 id=X\n", "t.cfg")
            .unwrap();
        let defs = line_defs(&cfg).unwrap();
        let e = SimLine::new(&defs[0], Scenario::from_cfg(&cfg).unwrap())
            .err()
            .unwrap();
        assert_eq!(e, "unknown sim setting \"grup\" (did you mean group=?)");
        assert!(SimLine::new(&defs[1], Scenario::from_cfg(&cfg).unwrap()).is_ok());
    }

    #[test]
    fn scenario_per_number_wins_and_last_repeats() {
        let cfg = Document::parse_str(
            "$line 1 sim outcomes=2@5,0 group=fax\n$sim_number \"555 0100\" \"1 1 0@90\"\n",
            "t.cfg",
        )
        .unwrap();
        let defs = line_defs(&cfg).unwrap();
        assert_eq!(defs[0].param("group"), Some("fax"));
        let l = SimLine::new(&defs[0], Scenario::from_cfg(&cfg).unwrap()).unwrap();
        assert_eq!(l.outcome_for("5550100", 1).code, 1);
        assert_eq!(
            l.outcome_for("555-0100", 3),
            SimOutcome {
                code: 0,
                secs: Some(90.0)
            }
        );
        assert_eq!(
            l.outcome_for("999", 1),
            SimOutcome {
                code: 2,
                secs: Some(5.0)
            }
        );
        assert_eq!(l.outcome_for("999", 7).code, 0);
        assert!(parse_outcomes("2@x").is_err() && parse_outcomes("b").is_err());
    }
}
