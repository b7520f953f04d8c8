//! Retry policy: the retry commands of one file level, and their resolution CFG → USR → FS.
//!
//! Owns which command is in force for a class, a line and a channel: per class letter the lower
//! level wins (FS over USR over CFG); a CFG command with a line selector applies only to attempts
//! on a matching line (a line number beats a group name beats `*`); `$callback` fills classes
//! that have no list anywhere; with no `$retry_delays` at any level every class shares one
//! sequence (legacy mode). It validates every command it owns and never decides a retry.

use super::delays::{parse_list, parse_retry_class, ListSpec, RetryEntry, RetryList, When};
use super::outcome::Channel;
use crate::calendar::{Calendar, DailyWindow, WindowDays};
use crate::command::registry::{NameId, NAME_COUNT};
use crate::command::{
    parse_date, parse_days, parse_int, parse_time, Arg, Command, Document, ParseError,
};
use crate::linegroup::{validate_group_ref, LineSet};
use chrono::NaiveDate;
use chrono_tz::Tz;

/// Which file a layer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// The system configuration.
    Cfg,
    /// A user profile.
    Usr,
    /// The job file itself.
    Fs,
}

/// One command's value with its optional CFG line selector.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule<T> {
    /// `None` = all lines.
    pub selector: Option<String>,
    /// The value.
    pub value: T,
    /// Where it was written.
    pub line: usize,
}

/// `$callback attempts delay retries`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Callback {
    /// Attempts in all (so attempts − 1 retries).
    pub attempts: u32,
    /// Minutes between attempts.
    pub delay: u32,
    /// Kept for compatibility; redial ignores it, as CopiaFacts does.
    pub retries: u32,
}

impl Default for Callback {
    fn default() -> Self {
        Callback {
            attempts: 2,
            delay: 3,
            retries: 5,
        }
    }
}

impl Callback {
    /// The list a class without `$retry_delays` gets: (attempts − 1) × delay minutes.
    pub fn list(&self) -> RetryList {
        let entry = RetryEntry {
            prefixes: Default::default(),
            when: When::Delay(self.delay * 60),
        };
        RetryList {
            entries: vec![entry; self.attempts.saturating_sub(1) as usize],
        }
    }
}

/// The retry-related commands of one file (CFG, USR or FS).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyLayer {
    /// Which level.
    pub level: Level,
    /// The file name.
    pub origin: String,
    /// `$retry_delays [line] class "list"`.
    pub delays: Vec<Rule<(char, ListSpec)>>,
    /// `$email_retry_delays [line] class "list"`.
    pub email_delays: Vec<Rule<(char, ListSpec)>>,
    /// `$retry_max [line] count`.
    pub retry_max: Vec<Rule<i64>>,
    /// `$email_retry_max count`.
    pub email_retry_max: Option<i64>,
    /// `$retry_linegroup [line] group`.
    pub linegroup: Vec<Rule<String>>,
    /// `$retry_tosend [line] n`.
    pub tosend: Vec<Rule<u8>>,
    /// `$callback attempts delay retries`.
    pub callback: Option<Callback>,
    /// `$timezone Area/City`.
    pub timezone: Option<Tz>,
    /// `$working_days "12345"`.
    pub working_days: Option<[bool; 7]>,
    /// `$holiday MM/DD/YYYY …`.
    pub holidays: Vec<NaiveDate>,
    /// `$pause_window "DAYS" HH:MM HH:MM`.
    pub pause_windows: Vec<DailyWindow>,
    /// `$param_group X|Y command args…`: commands written into the job for an X or Y retry.
    pub param_groups: Vec<(char, String, Vec<String>)>,
    /// `$line_group name rangespec`.
    pub line_groups: Vec<(String, LineSet)>,
    /// Line numbers defined by `$line N …`.
    pub lines: Vec<u32>,
    /// `$request_dir dir [maxtosend]`: the highest TOSEND queue number.
    pub max_tosend: Option<u8>,
    /// `$retry_parms [line] path`: outcome table override files.
    pub retry_parms: Vec<Rule<String>>,
}

const RETRY_DELAYS: NameId = NameId::of("retry_delays");
const EMAIL_RETRY_DELAYS: NameId = NameId::of("email_retry_delays");

/// Whether a command is one a policy layer reads, by [`NameId`]: [`READS`] as a table, so a
/// document's lines are judged by their ids (every name in [`READS`] has one) and the other
/// lines are never tokenized for it.
const READ_IDS: [bool; NAME_COUNT] = {
    let mut set = [false; NAME_COUNT];
    let mut i = 0;
    while i < READS.len() {
        set[NameId::of(READS[i]).index()] = true;
        i += 1;
    }
    set
};

/// The commands a policy layer reads (the arms of `PolicyLayer::take`).
const READS: &[&str] = &[
    "retry_delays",
    "email_retry_delays",
    "retry_max",
    "email_retry_max",
    "retry_linegroup",
    "retry_channelgroup",
    "retry_tosend",
    "callback",
    "timezone",
    "working_days",
    "holiday",
    "pause_window",
    "param_group",
    "line_group",
    "line",
    "request_dir",
    "retry_parms",
];

impl PolicyLayer {
    /// An empty layer (no file at this level).
    pub fn empty(level: Level) -> PolicyLayer {
        PolicyLayer {
            level,
            origin: String::new(),
            delays: Vec::new(),
            email_delays: Vec::new(),
            retry_max: Vec::new(),
            email_retry_max: None,
            linegroup: Vec::new(),
            tosend: Vec::new(),
            callback: None,
            timezone: None,
            working_days: None,
            holidays: Vec::new(),
            pause_windows: Vec::new(),
            param_groups: Vec::new(),
            line_groups: Vec::new(),
            lines: Vec::new(),
            max_tosend: None,
            retry_parms: Vec::new(),
        }
    }

    /// Reads the retry commands of a document; other commands are left alone.
    pub fn from_document(doc: &Document, level: Level) -> Result<PolicyLayer, ParseError> {
        let mut layer = PolicyLayer::empty(level);
        layer.origin = doc.origin().to_string();
        let fail = |line: usize, (column, reason): (usize, String)| ParseError {
            file: doc.origin().to_string(),
            line,
            column,
            reason,
        };
        for (id, line) in doc.ids() {
            let Some(id) = id.filter(|id| READ_IDS[id.index()]) else {
                continue;
            };
            // A retry list with its two arguments (the usual form at every level) is read in
            // place, with no `Command`; any other form goes through `take`, which says what is
            // wrong with it.
            if id == RETRY_DELAYS || id == EMAIL_RETRY_DELAYS {
                if let Some(done) = layer.delays_in_place(doc, id == EMAIL_RETRY_DELAYS, line) {
                    done.map_err(|e| fail(line, e))?;
                    continue;
                }
            }
            let cmd = doc
                .command(line)
                .expect("an id is noted for command lines only");
            layer.take(&cmd).map_err(|e| fail(line, e))?;
        }
        Ok(layer)
    }

    /// Reads the `$retry_delays` (or `$email_retry_delays`, `email`) on `line` when it has
    /// exactly two arguments (class and list), borrowing them in place; `None` for any other
    /// count, which [`PolicyLayer::take`] reads.
    fn delays_in_place(
        &mut self,
        doc: &Document,
        email: bool,
        line: usize,
    ) -> Option<Result<(), (usize, String)>> {
        let mut a = doc.args(line)?;
        let class = a.next()?;
        let list = a.next()?;
        if !a.is_empty() {
            return None;
        }
        Some(self.add_delays(email, line, None, &class, &list))
    }

    /// Adds a retry list (`email`: an e-mail one) for `class` read from `list`, unless the
    /// layer has one for that selector and class.
    fn add_delays(
        &mut self,
        email: bool,
        line: usize,
        selector: Option<String>,
        class: &Arg,
        list: &Arg,
    ) -> Result<(), (usize, String)> {
        // Columns are counted only for an error: most lines have none.
        let class_col = || class.column();
        let class = parse_retry_class(&class.text).map_err(|e| (class_col(), e))?;
        let list = parse_list(&list.text).map_err(|e| (list.column(), e.to_string()))?;
        let (rules, name) = if email {
            (&mut self.email_delays, "email_retry_delays")
        } else {
            (&mut self.delays, "retry_delays")
        };
        if let Some(prev) = rules
            .iter()
            .find(|r| r.selector == selector && r.value.0 == class)
        {
            return Err((
                class_col(),
                format!(
                    "a second ${name} for class {class} (the first is on line {})",
                    prev.line
                ),
            ));
        }
        rules.push(Rule {
            selector,
            value: (class, list),
            line,
        });
        Ok(())
    }

    /// Every `X`/`Y` prefix this layer's lists use that `groups` (the CFG's `$param_group`
    /// commands) does not define, as `(letter, line)`: such a prefix would write nothing into the
    /// job, so it is a configuration error.
    pub fn undefined_param_groups(
        &self,
        groups: &[(char, String, Vec<String>)],
    ) -> Vec<(char, usize)> {
        let mut out = Vec::new();
        for r in self.delays.iter().chain(&self.email_delays) {
            let prefixes: Vec<super::delays::Prefixes> = match &r.value.1 {
                ListSpec::Entries(l) => l.entries.iter().map(|e| e.prefixes).collect(),
                ListSpec::Backoff(b) => vec![b.prefixes],
            };
            for letter in ['X', 'Y'] {
                let used = prefixes.iter().any(|p| p.has(letter));
                if used
                    && !groups.iter().any(|(l, _, _)| *l == letter)
                    && !out.contains(&(letter, r.line))
                {
                    out.push((letter, r.line));
                }
            }
        }
        out
    }

    /// Splits a command's args into (selector, rest) given how many non-selector args it takes.
    fn selector<'c>(&self, cmd: &'c Command, n: usize) -> Result<Selected<'c>, (usize, String)> {
        let args = &cmd.args[..];
        if args.len() == n {
            return Ok((None, args));
        }
        if args.len() == n + 1 {
            if self.level != Level::Cfg {
                return Err((
                    cmd.args[0].column(),
                    format!("${} takes a line selector only in the CFG", cmd.name),
                ));
            }
            let sel = args[0].text.to_string();
            return Ok((if sel == "*" { None } else { Some(sel) }, &args[1..]));
        }
        let form = if self.level == Level::Cfg {
            "with an optional line selector first"
        } else {
            ""
        };
        Err((
            1,
            format!(
                "${} expects {n} argument(s) {form}, found {}",
                cmd.name,
                args.len()
            ),
        ))
    }

    /// Reads one command named in [`READS`]; any other is left alone.
    fn take(&mut self, cmd: &Command) -> Result<(), (usize, String)> {
        let col = |i: usize| cmd.args.get(i).map_or(1, |a| a.column());
        let last = cmd.args.len().saturating_sub(1);
        match cmd.name.as_ref() {
            "retry_delays" | "email_retry_delays" => {
                let (selector, a) = self.selector(cmd, 2)?;
                let email = cmd.name == "email_retry_delays";
                self.add_delays(email, cmd.line, selector, &a[0], &a[1])?;
            }
            "retry_max" => {
                let (selector, a) = self.selector(cmd, 1)?;
                let n = parse_int(&a[0].text).map_err(|e| (col(last), e.0))?;
                self.retry_max.push(Rule {
                    selector,
                    value: n,
                    line: cmd.line,
                });
            }
            "email_retry_max" => {
                let (_, a) = self.selector(cmd, 1)?;
                self.email_retry_max = Some(parse_int(&a[0].text).map_err(|e| (col(last), e.0))?);
            }
            "retry_linegroup" | "retry_channelgroup" => {
                let (selector, a) = self.selector(cmd, 1)?;
                validate_group_ref(&a[0].text).map_err(|e| (col(last), e))?;
                self.linegroup.push(Rule {
                    selector,
                    value: a[0].text.to_string(),
                    line: cmd.line,
                });
            }
            "retry_tosend" => {
                let (selector, a) = self.selector(cmd, 1)?;
                let n = parse_queue(&a[0].text).map_err(|e| (col(last), e))?;
                self.tosend.push(Rule {
                    selector,
                    value: n,
                    line: cmd.line,
                });
            }
            "callback" => {
                let nums = cmd
                    .args
                    .iter()
                    .map(|a| {
                        a.text.parse::<u32>().map_err(|_| {
                            (a.column(), format!("{:?} is not a whole number", a.text))
                        })
                    })
                    .collect::<Result<Vec<u32>, _>>()?;
                match nums.as_slice() {
                    [attempts, delay, retries] if *attempts >= 1 => {
                        self.callback = Some(Callback {
                            attempts: *attempts,
                            delay: *delay,
                            retries: *retries,
                        })
                    }
                    _ => {
                        return Err((
                            1,
                            "expected $callback ATTEMPTS DELAY RETRIES with ATTEMPTS at least 1"
                                .into(),
                        ))
                    }
                }
            }
            "timezone" => {
                let (_, a) = self.selector(cmd, 1)?;
                let tz = a[0].text.parse::<Tz>().map_err(|_| {
                    (
                        col(0),
                        format!(
                            "{:?} is not an IANA time zone (e.g. Europe/Berlin)",
                            a[0].text
                        ),
                    )
                })?;
                self.timezone = Some(tz);
            }
            "working_days" => {
                let (_, a) = self.selector(cmd, 1)?;
                self.working_days = Some(parse_days(&a[0].text).map_err(|e| (col(0), e.0))?);
            }
            "holiday" => {
                if cmd.args.is_empty() {
                    return Err((1, "$holiday expects one or more MM/DD/YYYY dates".into()));
                }
                for a in &cmd.args {
                    self.holidays
                        .push(parse_date(&a.text).map_err(|e| (a.column(), e.0))?);
                }
            }
            "pause_window" => {
                if cmd.args.len() != 3 {
                    return Err((1, "expected $pause_window \"DAYS\" HH:MM HH:MM".into()));
                }
                let days = WindowDays::parse(&cmd.args[0].text).map_err(|e| (col(0), e.0))?;
                let start = parse_time(&cmd.args[1].text).map_err(|e| (col(1), e.0))?;
                let end = parse_time(&cmd.args[2].text).map_err(|e| (col(2), e.0))?;
                self.pause_windows.push(DailyWindow { days, start, end });
            }
            "param_group" => {
                let letter = match cmd.arg(0).map(|s| s.to_ascii_uppercase()) {
                    Some(s) if s == "X" || s == "Y" => s.chars().next().expect("one letter"),
                    _ => return Err((col(0), "expected $param_group X|Y COMMAND [ARGS…]".into())),
                };
                let Some(name) = cmd.arg(1) else {
                    return Err((1, "expected $param_group X|Y COMMAND [ARGS…]".into()));
                };
                let name = name.trim_start_matches('$').to_ascii_lowercase();
                let args = cmd.args[2..].iter().map(|a| a.text.to_string()).collect();
                self.param_groups.push((letter, name, args));
            }
            "line_group" => {
                if cmd.args.len() != 2 {
                    return Err((1, "expected $line_group NAME RANGESPEC".into()));
                }
                let set = LineSet::parse(&cmd.args[1].text).map_err(|e| (col(1), e))?;
                self.line_groups
                    .push((cmd.args[0].text.to_ascii_lowercase(), set));
            }
            "line" => {
                let n = cmd
                    .arg(0)
                    .and_then(|s| s.parse::<u32>().ok())
                    .ok_or_else(|| (col(0), "expected $line NUMBER DEVICE …".to_string()))?;
                self.lines.push(n);
                // `group=NAME[,NAME…]` puts the line in those groups, as `$line_group` does, so
                // a retry list tied to the group applies to calls on it.
                for a in cmd.texts() {
                    if let Some(names) = a
                        .strip_prefix("group=")
                        .or_else(|| a.strip_prefix("GROUP="))
                    {
                        for g in names.split(',').filter(|g| !g.is_empty()) {
                            if let Ok(set) = LineSet::parse(&n.to_string()) {
                                self.line_groups.push((g.to_ascii_lowercase(), set));
                            }
                        }
                    }
                }
            }
            "request_dir" => {
                if let Some(n) = cmd.arg(1) {
                    self.max_tosend = Some(parse_queue(n).map_err(|e| (col(1), e))?);
                }
            }
            "retry_parms" => {
                let (selector, a) = self.selector(cmd, 1)?;
                self.retry_parms.push(Rule {
                    selector,
                    value: a[0].text.to_string(),
                    line: cmd.line,
                });
            }
            _ => {}
        }
        Ok(())
    }
}

/// A command's optional line selector and its remaining arguments.
type Selected<'c> = (Option<String>, &'c [Arg<'c>]);

fn parse_queue(s: &str) -> Result<u8, String> {
    s.parse::<u8>()
        .ok()
        .filter(|n| *n <= 99)
        .ok_or_else(|| format!("{s:?} is not a TOSEND queue number (0 to 99)"))
}

/// Which family of lists an attempt uses (spec 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListFamily {
    /// `$retry_delays` / `$retry_max`.
    Phone,
    /// `$email_retry_delays` / `$email_retry_max`.
    Email,
}

/// Where a resolved list came from.
#[derive(Debug, Clone, PartialEq)]
pub enum ListSource {
    /// A `$retry_delays`-style command at this level and line.
    Command(Level, usize),
    /// Generated from `$callback`.
    Callback,
}

/// The three levels together: what `decide` consults.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// System configuration.
    pub cfg: PolicyLayer,
    /// User profile.
    pub usr: PolicyLayer,
    /// The job file.
    pub fs: PolicyLayer,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            cfg: PolicyLayer::empty(Level::Cfg),
            usr: PolicyLayer::empty(Level::Usr),
            fs: PolicyLayer::empty(Level::Fs),
        }
    }
}

impl Policy {
    /// The layer of one level.
    pub fn layer(&self, level: Level) -> &PolicyLayer {
        match level {
            Level::Cfg => &self.cfg,
            Level::Usr => &self.usr,
            Level::Fs => &self.fs,
        }
    }

    /// Lowest level first: FS, USR, CFG.
    fn layers(&self) -> [&PolicyLayer; 3] {
        [&self.fs, &self.usr, &self.cfg]
    }

    /// How well a selector matches a line: 1 for all lines, 2 for a group, 3 for the line itself.
    fn specificity(&self, selector: &Option<String>, line: Option<u32>) -> Option<u8> {
        let Some(sel) = selector else { return Some(1) };
        let line = line?;
        if let Ok(n) = sel.parse::<u32>() {
            return (n == line).then_some(3);
        }
        let sel = sel.to_ascii_lowercase();
        // A group named several times (`$line_group`, `group=` on several `$line`s) is the union
        // of its definitions, as the dispatcher takes it.
        self.cfg
            .line_groups
            .iter()
            .any(|(name, set)| *name == sel && set.contains(line))
            .then_some(2)
    }

    /// The best-matching rule of one layer (specificity, then the later line).
    fn pick<'a, T>(
        &self,
        rules: impl Iterator<Item = &'a Rule<T>>,
        line: Option<u32>,
    ) -> Option<&'a Rule<T>>
    where
        T: 'a,
    {
        rules
            .filter_map(|r| self.specificity(&r.selector, line).map(|s| (s, r.line, r)))
            .max_by_key(|(s, l, _)| (*s, *l))
            .map(|(_, _, r)| r)
    }

    /// Which list family an attempt on `channel` uses; `has_phone` says whether the job also
    /// has a phone destination (such files always use `$retry_delays`).
    pub fn family(&self, channel: Channel, has_phone: bool) -> ListFamily {
        let email_lists = self.layers().iter().any(|l| !l.email_delays.is_empty());
        if channel == Channel::Email && !has_phone && email_lists {
            ListFamily::Email
        } else {
            ListFamily::Phone
        }
    }

    /// Legacy mode: no `$retry_delays` at any level, so every class shares one sequence.
    pub fn legacy(&self, family: ListFamily) -> bool {
        family == ListFamily::Phone && self.layers().iter().all(|l| l.delays.is_empty())
    }

    /// The `$callback` in force (lowest level wins; default `2 3 5`).
    pub fn callback(&self) -> Callback {
        self.layers()
            .iter()
            .find_map(|l| l.callback)
            .unwrap_or_default()
    }

    /// The list for `class` on `line`, and where it came from.
    pub fn list(
        &self,
        family: ListFamily,
        class: char,
        line: Option<u32>,
    ) -> (ListSpec, ListSource) {
        for layer in self.layers() {
            let rules = match family {
                ListFamily::Phone => &layer.delays,
                ListFamily::Email => &layer.email_delays,
            };
            if let Some(r) = self.pick(rules.iter().filter(|r| r.value.0 == class), line) {
                return (r.value.1.clone(), ListSource::Command(layer.level, r.line));
            }
        }
        (
            ListSpec::Entries(self.callback().list()),
            ListSource::Callback,
        )
    }

    /// The `$retry_max` in force (`None` = unlimited; negative values are ignored).
    pub fn retry_max(&self, family: ListFamily, line: Option<u32>) -> Option<u32> {
        if family == ListFamily::Email {
            if let Some(n) = self.layers().iter().find_map(|l| l.email_retry_max) {
                return u32::try_from(n).ok();
            }
        }
        self.layers()
            .iter()
            .find_map(|l| self.pick(l.retry_max.iter(), line))
            .and_then(|r| u32::try_from(r.value).ok())
    }

    /// The `$retry_linegroup` in force.
    pub fn retry_linegroup(&self, line: Option<u32>) -> Option<String> {
        self.layers()
            .iter()
            .find_map(|l| self.pick(l.linegroup.iter(), line))
            .map(|r| r.value.clone())
    }

    /// The `$retry_tosend` in force.
    pub fn retry_tosend(&self, line: Option<u32>) -> Option<u8> {
        self.layers()
            .iter()
            .find_map(|l| self.pick(l.tosend.iter(), line))
            .map(|r| r.value)
    }

    /// The highest TOSEND queue number (`$request_dir dir maxtosend`, default 9).
    pub fn max_queue(&self) -> u8 {
        self.cfg.max_tosend.unwrap_or(9)
    }

    /// How many outbound lines the CFG defines, if it defines any.
    pub fn total_lines(&self) -> Option<usize> {
        (!self.cfg.lines.is_empty()).then_some(self.cfg.lines.len())
    }

    /// The commands an `X` or `Y` prefix writes into the job.
    pub fn param_group(&self, letter: char) -> Vec<(String, Vec<String>)> {
        self.cfg
            .param_groups
            .iter()
            .filter(|(l, _, _)| *l == letter)
            .map(|(_, n, a)| (n.clone(), a.clone()))
            .collect()
    }

    /// The calendar: zone and working days from the lowest level that sets them, holidays and
    /// pause windows from every level.
    pub fn calendar(&self) -> Calendar {
        let mut cal = Calendar::default();
        if let Some(tz) = self.layers().iter().find_map(|l| l.timezone) {
            cal.tz = tz;
        }
        if let Some(days) = self.layers().iter().find_map(|l| l.working_days) {
            cal.working_days = days;
        }
        for l in self.layers() {
            cal.holidays.extend(l.holidays.iter().copied());
            cal.pause_windows.extend(l.pause_windows.iter().cloned());
        }
        cal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The general reading: every line a layer reads, as a `Command` through `take`.
    fn general(doc: &Document, level: Level) -> Result<PolicyLayer, ParseError> {
        let mut layer = PolicyLayer::empty(level);
        layer.origin = doc.origin().to_string();
        for (id, line) in doc.ids() {
            if !id.is_some_and(|id| READ_IDS[id.index()]) {
                continue;
            }
            let cmd = doc.command(line).unwrap();
            layer.take(&cmd).map_err(|(column, reason)| ParseError {
                file: doc.origin().to_string(),
                line,
                column,
                reason,
            })?;
        }
        Ok(layer)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// Retry lists read in place give the layer, or the error (file, line, column and
        /// reason), that the general reading gives.
        #[test]
        fn retry_lists_read_in_place_agree_with_the_general_reading(
            lines in proptest::collection::vec((
                proptest::sample::select(vec![
                    "$retry_delays", "$RETRY_Delays", "$email_retry_delays", "$retry_max",
                ]),
                proptest::collection::vec(proptest::sample::select(vec![
                    "B", "A", "b", "Q", "S", "*", "M1", "10", "\"1 5 10\"", "\"1 1 5 10 10 30\"",
                    "\"5 x\"", "\"\"", "\"30S 2H\"", "\"X3 A5\"", "\"caf\u{e9}\"",
                    "\"say \"\"hi\"\"\"", "1,2", ";c", "/*c",
                ]), 0..5),
                proptest::sample::select(vec![" ", "\t", "  "]),
            ), 0..6),
            level in proptest::sample::select(vec![Level::Cfg, Level::Usr, Level::Fs]),
            crlf in proptest::prelude::any::<bool>(),
        ) {
            let mut text = String::new();
            for (name, args, sep) in &lines {
                text.push_str(name);
                for a in args {
                    text.push_str(sep);
                    text.push_str(a);
                }
                text.push_str(if crlf { "\r\n" } else { "\n" });
            }
            let doc = Document::parse_str(&text, "gen.CFG").unwrap();
            proptest::prop_assert_eq!(
                PolicyLayer::from_document(&doc, level),
                general(&doc, level),
                "{}",
                text
            );
        }
    }

    #[test]
    fn every_command_take_reads_is_in_reads() {
        // Any known command outside READS must leave a layer untouched, whatever its arguments:
        // otherwise `take` has an arm that `from_document` would never reach.
        use crate::command::registry::{names, FileKind};
        for kind in [FileKind::Cfg, FileKind::Usr, FileKind::Fs] {
            for name in names(kind).filter(|n| !READS.contains(n)) {
                for args in ["", " 1", " A \"1 2\"", " * B 5", " x y z w"] {
                    let text = format!("${name}{args}");
                    let doc = Document::parse_str(&text, "f").unwrap();
                    let cmd = doc.commands().next().unwrap();
                    for level in [Level::Cfg, Level::Usr, Level::Fs] {
                        let mut layer = PolicyLayer::empty(level);
                        let taken = layer.take(&cmd);
                        assert!(
                            taken.is_ok() && layer == PolicyLayer::empty(level),
                            "${name} is read by take but missing from READS ({text})"
                        );
                    }
                }
            }
        }
    }

    fn layer(text: &str, level: Level) -> PolicyLayer {
        PolicyLayer::from_document(&Document::parse_str(text, "t").unwrap(), level).unwrap()
    }
    fn err(text: &str, level: Level) -> ParseError {
        PolicyLayer::from_document(&Document::parse_str(text, "T.USR").unwrap(), level).unwrap_err()
    }
    fn entries(spec: &ListSpec) -> String {
        spec.expand(0).to_string()
    }

    #[test]
    fn per_class_override_fs_over_usr_over_cfg() {
        let p = Policy {
            cfg: layer(
                "$retry_delays * A \"1 1\"\n$retry_delays B \"2\"\n$retry_delays C \"3\"\n",
                Level::Cfg,
            ),
            usr: layer("$retry_delays B \"20\"\n", Level::Usr),
            fs: layer("$retry_delays C \"30 30\"\n", Level::Fs),
        };
        let f = ListFamily::Phone;
        assert_eq!(entries(&p.list(f, 'A', None).0), "1 1");
        assert_eq!(entries(&p.list(f, 'B', None).0), "20");
        assert_eq!(entries(&p.list(f, 'C', None).0), "30 30");
        let (d, src) = p.list(f, 'D', None);
        assert_eq!((entries(&d), src), ("3".to_string(), ListSource::Callback));
        assert!(!p.legacy(f));
    }

    #[test]
    fn cfg_line_selectors() {
        let p = Policy {
            cfg: layer(
                "$line_group night 5-8\n$retry_delays * B \"1\"\n$retry_delays night B \"2\"\n$retry_delays 6 B \"3\"\n$retry_max 4\n$retry_max 7 1\n",
                Level::Cfg,
            ),
            ..Policy::default()
        };
        let f = ListFamily::Phone;
        assert_eq!(entries(&p.list(f, 'B', None).0), "1");
        assert_eq!(entries(&p.list(f, 'B', Some(2)).0), "1");
        assert_eq!(entries(&p.list(f, 'B', Some(5)).0), "2");
        assert_eq!(entries(&p.list(f, 'B', Some(6)).0), "3");
        assert_eq!(p.retry_max(f, Some(7)), Some(1));
        assert_eq!(p.retry_max(f, Some(3)), Some(4));
    }

    #[test]
    fn callback_and_legacy() {
        let p = Policy {
            cfg: layer("$callback 4 10 5\n", Level::Cfg),
            ..Policy::default()
        };
        assert!(p.legacy(ListFamily::Phone));
        assert_eq!(entries(&p.list(ListFamily::Phone, 'A', None).0), "10 10 10");
        assert_eq!(Policy::default().callback().list().to_string(), "3");
    }

    #[test]
    fn email_selection_and_max() {
        let p = Policy {
            cfg: layer(
                "$retry_delays A \"1\"\n$retry_max 5\n$email_retry_delays A \"60\"\n",
                Level::Cfg,
            ),
            usr: layer("$email_retry_max 2\n", Level::Usr),
            ..Policy::default()
        };
        assert_eq!(p.family(Channel::Email, false), ListFamily::Email);
        assert_eq!(
            p.family(Channel::Email, true),
            ListFamily::Phone,
            "fax and e-mail in one file"
        );
        assert_eq!(p.family(Channel::Fax, false), ListFamily::Phone);
        assert_eq!(p.retry_max(ListFamily::Email, None), Some(2));
        assert_eq!(p.retry_max(ListFamily::Phone, None), Some(5));
        let no_email_lists = Policy {
            cfg: layer("$retry_delays A \"1\"\n$retry_max 5\n", Level::Cfg),
            usr: p.usr.clone(),
            ..Policy::default()
        };
        assert_eq!(
            no_email_lists.family(Channel::Email, false),
            ListFamily::Phone
        );
        assert_eq!(
            no_email_lists.retry_max(ListFamily::Phone, None),
            Some(5),
            "falls back to $retry_max"
        );
    }

    #[test]
    fn negative_max_is_ignored() {
        let p = Policy {
            fs: layer("$retry_max -1\n", Level::Fs),
            ..Policy::default()
        };
        assert_eq!(p.retry_max(ListFamily::Phone, None), None);
    }

    #[test]
    fn calendar_merges_levels() {
        let p = Policy {
            cfg: layer("$timezone Europe/Berlin\n$holiday 12/25/2026 12/26/2026\n$pause_window \"*\" 21:00 08:00\n", Level::Cfg),
            fs: layer("$timezone America/New_York\n$pause_window \"06\" 00:00 23:59\n", Level::Fs),
            ..Policy::default()
        };
        let c = p.calendar();
        assert_eq!(c.tz, chrono_tz::America::New_York);
        assert_eq!((c.holidays.len(), c.pause_windows.len()), (2, 2));
        let w = layer(
            "$pause_window W 12:00 13:00\n$pause_window \"n\" 00:00 00:00\n",
            Level::Cfg,
        );
        assert_eq!(
            w.pause_windows.iter().map(|p| p.days).collect::<Vec<_>>(),
            [WindowDays::Working, WindowDays::NonWorking]
        );
    }

    #[test]
    fn errors_are_precise() {
        let e = err("$retry_delays * B \"1\"\n", Level::Usr);
        assert_eq!((e.line, e.column), (1, 15));
        assert!(e.reason.contains("only in the CFG"));
        let e = err("\n$retry_delays B \"1 x\"\n", Level::Fs);
        assert_eq!((e.line, e.column), (2, 17));
        assert!(e.reason.contains("\"x\""), "{e}");
        let e = err("$retry_delays B \"1\"\n$retry_delays b \"2\"\n", Level::Fs);
        assert!(e.reason.contains("first is on line 1"), "{e}");
        assert!(err("$retry_delays I \"1\"\n", Level::Fs)
            .reason
            .contains("I, S and Z"));
        assert!(err("$retry_max many\n", Level::Fs)
            .reason
            .contains("whole number"));
        assert!(err("$retry_tosend 100\n", Level::Fs)
            .reason
            .contains("0 to 99"));
        assert!(err("$timezone Mars/Olympus\n", Level::Fs)
            .reason
            .contains("IANA"));
        assert!(err("$pause_window \"*\" 21:00\n", Level::Fs)
            .reason
            .contains("HH:MM HH:MM"));
        assert!(err("$pause_window \"12W\" 12:00 13:00\n", Level::Fs)
            .reason
            .contains("stand alone"));
        assert!(err("$working_days \"W\"\n", Level::Cfg)
            .reason
            .contains("not a day digit"));
        assert!(err("$retry_linegroup 5-2\n", Level::Fs)
            .reason
            .contains("backwards"));
        assert!(err("$callback 0 3 5\n", Level::Cfg)
            .reason
            .contains("ATTEMPTS"));
    }
}
