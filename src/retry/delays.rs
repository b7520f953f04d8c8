//! The retry list grammar of `$retry_delays` / `$email_retry_delays`, and the backoff form.
//!
//! Owns parsing a list string (`"2 10S 1H 17:30W AG5"`) into [`RetryList`] and expanding the
//! backoff form (`"backoff initial=30S factor=2 max=1H count=6 limit=12H jitter=20%"`) into the
//! same model. It never decides anything: the engine walks the list.

use chrono::NaiveTime;
use nom::branch::alt;
use nom::bytes::complete::take_while;
use nom::character::complete::{char, digit1, one_of, satisfy};
use nom::combinator::{all_consuming, opt};
use nom::{IResult, Parser};
use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use std::fmt;

/// The prefix letters redial knows (spec 8.1), in canonical order.
pub const PREFIX_LETTERS: &str = "AEGIPQRTXY";

/// A set of prefix letters on one list entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Prefixes(u16);

impl Prefixes {
    /// Adds a letter; `None` when it is not one of [`PREFIX_LETTERS`].
    pub fn with(self, letter: char) -> Option<Prefixes> {
        let i = PREFIX_LETTERS.find(letter.to_ascii_uppercase())?;
        Some(Prefixes(self.0 | (1 << i)))
    }

    /// Whether `letter` is in the set.
    pub fn has(self, letter: char) -> bool {
        PREFIX_LETTERS
            .find(letter.to_ascii_uppercase())
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The letters in canonical order.
    pub fn letters(self) -> impl Iterator<Item = char> {
        PREFIX_LETTERS.chars().filter(move |&c| self.has(c))
    }
}

impl fmt::Display for Prefixes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.letters().try_for_each(|c| write!(f, "{c}"))
    }
}

/// Which days a clock-time entry may land on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DayRule {
    /// Any day.
    Any,
    /// `W`: a working day.
    Working,
    /// `N`: a non-working day.
    NonWorking,
}

/// When one retry happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum When {
    /// A delay in seconds after the end of the failed attempt.
    Delay(u32),
    /// The next occurrence of a local clock time.
    Clock(NaiveTime, DayRule),
    /// An absolute local date and time (`@2025-01-20T14:00`): a schedule, not a delay.
    At(chrono::NaiveDateTime),
}

/// One entry of a retry list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RetryEntry {
    /// Prefix letters acting on the retry this entry schedules.
    pub prefixes: Prefixes,
    /// When the retry happens.
    pub when: When,
}

impl RetryEntry {
    /// An "immediate" retry (less than a minute): it earns the `$retry_max` extra (spec 4.5).
    pub fn is_immediate(&self) -> bool {
        matches!(self.when, When::Delay(s) if s < 60)
    }

    /// Whether this is a clock-time entry.
    pub fn is_clock(&self) -> bool {
        matches!(self.when, When::Clock(..))
    }
}

impl fmt::Display for RetryEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.prefixes)?;
        match self.when {
            When::Delay(s) if s % 3600 == 0 && s > 0 => write!(f, "{}H", s / 3600),
            When::Delay(s) if s % 60 == 0 => write!(f, "{}", s / 60),
            When::Delay(s) => write!(f, "{s}S"),
            When::Clock(t, rule) => {
                write!(f, "{}", t.format("%H:%M"))?;
                match rule {
                    DayRule::Any => Ok(()),
                    DayRule::Working => write!(f, "W"),
                    DayRule::NonWorking => write!(f, "N"),
                }
            }
            When::At(t) => write!(f, "@{}", t.format("%Y-%m-%dT%H:%M")),
        }
    }
}

/// A list of retry entries: entry k schedules the k-th retry of its class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RetryList {
    /// The entries in order.
    pub entries: Vec<RetryEntry>,
}

impl fmt::Display for RetryList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.entries.iter().enumerate() {
            if i > 0 {
                write!(f, " ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// Exponential backoff, expanded into a [`RetryList`] (an extension beyond CopiaFacts).
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// First delay, seconds.
    pub initial: u32,
    /// Growth factor between delays (1.0 to 10.0).
    pub factor: f64,
    /// Largest single delay, seconds.
    pub max: u32,
    /// Number of retries at most.
    pub count: u32,
    /// Total of all delays at most, seconds (entries beyond it are dropped).
    pub limit: Option<u32>,
    /// Random spread as a fraction (0.2 = each delay ±20%).
    pub jitter: f64,
    /// Prefix letters applied to every entry.
    pub prefixes: Prefixes,
}

impl Backoff {
    /// The list this backoff stands for. The same `seed` gives the same jitter.
    pub fn expand(&self, seed: u64) -> RetryList {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut entries = Vec::new();
        let mut total: u64 = 0;
        let mut base = f64::from(self.initial);
        for _ in 0..self.count {
            let capped = base.min(f64::from(self.max));
            let unit = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64; // [0, 1)
            let spread = (unit * 2.0 - 1.0) * self.jitter;
            let secs = (capped * (1.0 + spread)).round().max(1.0) as u32;
            total += u64::from(secs);
            if self.limit.is_some_and(|l| total > u64::from(l)) {
                break;
            }
            entries.push(RetryEntry {
                prefixes: self.prefixes,
                when: When::Delay(secs),
            });
            base *= self.factor;
        }
        RetryList { entries }
    }
}

/// A list as written: plain entries, or a backoff to expand per job.
#[derive(Debug, Clone, PartialEq)]
pub enum ListSpec {
    /// Explicit entries.
    Entries(RetryList),
    /// A backoff form.
    Backoff(Backoff),
}

impl ListSpec {
    /// The concrete list; `seed` only matters for backoff jitter.
    pub fn expand(&self, seed: u64) -> RetryList {
        match self {
            ListSpec::Entries(l) => l.clone(),
            ListSpec::Backoff(b) => b.expand(seed),
        }
    }
}

/// Why a list string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("retry list {list:?}: {reason}")]
pub struct ListError {
    /// The list text.
    pub list: String,
    /// The reason.
    pub reason: String,
}

const MAX_DELAY_SECS: u64 = 366 * 24 * 3600;

fn prefix_letters(i: &str) -> IResult<&str, &str> {
    take_while(|c: char| c.is_ascii_alphabetic())(i)
}

fn suffix(i: &str) -> IResult<&str, Option<char>> {
    opt(one_of("sSmMhHnNwW")).parse(i)
}

fn clock(i: &str) -> IResult<&str, (&str, &str)> {
    let (i, h) = digit1(i)?;
    let (i, _) = char(':')(i)?;
    let (i, m) = digit1(i)?;
    Ok((i, (h, m)))
}

enum Body<'a> {
    Clock(&'a str, &'a str),
    Number(&'a str),
}

fn body(i: &str) -> IResult<&str, Body<'_>> {
    alt((
        clock.map(|(h, m)| Body::Clock(h, m)),
        digit1.map(Body::Number),
    ))
    .parse(i)
}

/// `@YYYY-MM-DDTHH:MM[:SS]` after any prefix letters: an absolute local instant.
fn scheduled_token(tok: &str) -> Option<Result<RetryEntry, String>> {
    let at = tok.find('@')?;
    let (letters, when) = (&tok[..at], &tok[at + 1..]);
    let mut prefixes = Prefixes::default();
    for c in letters.chars() {
        match prefixes.with(c) {
            Some(p) => prefixes = p,
            None => {
                return Some(Err(format!(
                    "{c:?} in {tok:?} is not a prefix letter (known: {PREFIX_LETTERS})"
                )))
            }
        }
    }
    let t = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(when, f).ok());
    Some(match t {
        Some(t) => Ok(RetryEntry {
            prefixes,
            when: When::At(t),
        }),
        None => Err(format!(
            "{tok:?}: a scheduled retry is @YYYY-MM-DDTHH:MM[:SS] (local time of the job's $timezone)"
        )),
    })
}

fn entry_token(tok: &str) -> Result<RetryEntry, String> {
    if let Some(e) = plain_delay(tok) {
        return Ok(e);
    }
    if let Some(r) = scheduled_token(tok) {
        return r;
    }
    entry_token_grammar(tok)
}

/// An entry other than a scheduled one (`@…`), read by the grammar.
fn entry_token_grammar(tok: &str) -> Result<RetryEntry, String> {
    let parsed = (prefix_letters, body, suffix).parse(tok);
    let (rest, (letters, body, suf)) = parsed.map_err(|_| {
        format!("{tok:?} is not a retry entry (minutes as n or nM, nS, nH or hh:mm, optionally with prefix letters)")
    })?;
    if !rest.is_empty() {
        return Err(format!("unexpected {rest:?} after {tok:?}"));
    }
    let mut prefixes = Prefixes::default();
    for c in letters.chars() {
        prefixes = prefixes.with(c).ok_or_else(|| {
            format!("{c:?} in {tok:?} is not a prefix letter (known: {PREFIX_LETTERS})")
        })?;
    }
    let when = match body {
        Body::Number(n) => {
            let n: u64 = n
                .parse()
                .map_err(|_| format!("{tok:?}: number too large"))?;
            let secs = match suf.map(|c| c.to_ascii_uppercase()) {
                None | Some('M') => n.saturating_mul(60),
                Some('S') => n,
                Some('H') => n.saturating_mul(3600),
                Some(c) => {
                    return Err(format!(
                        "{tok:?}: suffix {c} belongs on a clock time (hh:mm{c})"
                    ))
                }
            };
            if secs > MAX_DELAY_SECS {
                return Err(format!("{tok:?} is longer than a year"));
            }
            When::Delay(secs as u32)
        }
        Body::Clock(h, m) => {
            let t = (h.len() <= 2 && m.len() == 2)
                .then(|| NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0))
                .flatten()
                .ok_or_else(|| format!("{tok:?} is not a valid hh:mm clock time"))?;
            let rule = match suf.map(|c| c.to_ascii_uppercase()) {
                None => DayRule::Any,
                Some('W') => DayRule::Working,
                Some('N') => DayRule::NonWorking,
                Some(c) => {
                    return Err(format!(
                        "{tok:?}: suffix {c} belongs on a delay, not a clock time"
                    ))
                }
            };
            When::Clock(t, rule)
        }
    };
    Ok(RetryEntry { prefixes, when })
}

/// The common entry, a plain delay (`10`, `30S`, `2H`: up to six digits and an optional unit,
/// no prefix), read without the grammar; `None` for anything else, which the grammar reads.
/// It gives what the grammar gives (a test checks this for every such token shape).
fn plain_delay(tok: &str) -> Option<RetryEntry> {
    let b = tok.as_bytes();
    let (digits, unit) = match b.last()? {
        b'0'..=b'9' => (b, 60),
        b'S' | b's' => (&b[..b.len() - 1], 1),
        b'M' | b'm' => (&b[..b.len() - 1], 60),
        b'H' | b'h' => (&b[..b.len() - 1], 3600),
        _ => return None,
    };
    if digits.is_empty() || digits.len() > 6 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let n = digits
        .iter()
        .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
    let secs = n * unit;
    (secs <= MAX_DELAY_SECS).then_some(RetryEntry {
        prefixes: Prefixes::default(),
        when: When::Delay(secs as u32),
    })
}

fn duration_value(key: &str, v: &str) -> Result<u32, String> {
    match entry_token(v) {
        Ok(RetryEntry {
            prefixes,
            when: When::Delay(s),
        }) if prefixes.is_empty() => Ok(s),
        _ => Err(format!(
            "{key}={v}: expected a duration (minutes as n or nM, nS or nH)"
        )),
    }
}

fn backoff(words: &[&str]) -> Result<Backoff, String> {
    let mut b = Backoff {
        initial: 60,
        factor: 2.0,
        max: 3600,
        count: 3,
        limit: None,
        jitter: 0.0,
        prefixes: Prefixes::default(),
    };
    let mut seen_initial = false;
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("backoff setting {w:?} is not key=value"))?;
        match k.to_ascii_lowercase().as_str() {
            "initial" => {
                b.initial = duration_value(k, v)?;
                seen_initial = true;
            }
            "factor" => {
                b.factor = v
                    .parse()
                    .ok()
                    .filter(|f: &f64| (1.0..=10.0).contains(f))
                    .ok_or_else(|| format!("factor={v}: expected a number from 1 to 10"))?
            }
            "max" => b.max = duration_value(k, v)?,
            "count" => {
                b.count = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| format!("count={v}: expected a whole number from 1 to 100"))?
            }
            "limit" => b.limit = Some(duration_value(k, v)?),
            "jitter" => {
                let pct = v.strip_suffix('%').unwrap_or(v);
                b.jitter = pct
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .map(|p| p / 100.0)
                    .ok_or_else(|| format!("jitter={v}: expected a percentage from 0 to 100"))?
            }
            "prefix" => {
                for c in v.chars() {
                    b.prefixes = b.prefixes.with(c).ok_or_else(|| {
                        format!("prefix={v}: {c:?} is not a prefix letter (known: {PREFIX_LETTERS})")
                    })?;
                }
            }
            _ => {
                return Err(format!(
                    "unknown backoff setting {k:?} (known: initial, factor, max, count, limit, jitter, prefix)"
                ))
            }
        }
    }
    if !seen_initial {
        return Err("backoff needs initial=DELAY".into());
    }
    if b.max < b.initial {
        return Err("backoff max is smaller than initial".into());
    }
    Ok(b)
}

/// Parses a list string (the text inside the quotes).
pub fn parse_list(text: &str) -> Result<ListSpec, ListError> {
    let err = |reason: String| ListError {
        list: text.to_string(),
        reason,
    };
    if let Some(list) = plain_list(text) {
        return list.map(ListSpec::Entries).map_err(err);
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    if words
        .first()
        .is_some_and(|w| w.eq_ignore_ascii_case("backoff"))
    {
        return backoff(&words[1..]).map(ListSpec::Backoff).map_err(err);
    }
    let entries = words
        .iter()
        .map(|w| entry_token(w))
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    Ok(ListSpec::Entries(RetryList { entries }))
}

/// A list of entries (not the backoff form) in ASCII text without a vertical tab, read into a
/// list of exactly its size without a list of words first; `None` for any other text. There
/// ASCII white space (the byte-wise split) is the Unicode white space `parse_list` splits on:
/// the only ASCII character that is one and not the other is the vertical tab.
fn plain_list(text: &str) -> Option<Result<RetryList, String>> {
    if let Some(list) = minutes_list(text.as_bytes()) {
        return Some(Ok(list));
    }
    if !text.is_ascii() || text.contains('\u{b}') {
        return None;
    }
    let words = AsciiWords(text);
    if words
        .clone()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("backoff"))
    {
        return None;
    }
    let mut entries = Vec::with_capacity(words.clone().count());
    for w in words {
        match entry_token(w) {
            Ok(e) => entries.push(e),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(RetryList { entries }))
}

/// The most entries [`minutes_list`] reads; a longer list takes the word-by-word path.
const MINUTES_MAX: usize = 48;

/// The commonest list, minutes only (`"1 1 5 10 10 30"`: numbers of up to six digits between
/// spaces and tabs), read in one pass over its bytes into a list of its exact size; `None` for
/// anything else (a unit, a prefix, a clock time, any other byte, a delay over a year, more than
/// [`MINUTES_MAX`] entries), which [`plain_list`] reads word by word.
fn minutes_list(text: &[u8]) -> Option<RetryList> {
    let mut delays = [0u32; MINUTES_MAX];
    let (mut n, mut digits, mut value) = (0usize, 0usize, 0u32);
    // One blank past the end closes the last number.
    for &b in text.iter().chain(b" ") {
        let d = b.wrapping_sub(b'0');
        if d <= 9 {
            if digits == 6 {
                return None;
            }
            value = value * 10 + u32::from(d);
            digits += 1;
        } else if b == b' ' || b == b'\t' {
            if digits > 0 {
                let secs = u64::from(value) * 60;
                if n == MINUTES_MAX || secs > MAX_DELAY_SECS {
                    return None;
                }
                delays[n] = secs as u32;
                (n, digits, value) = (n + 1, 0, 0);
            }
        } else {
            return None;
        }
    }
    let entries = delays[..n]
        .iter()
        .map(|&secs| RetryEntry {
            prefixes: Prefixes::default(),
            when: When::Delay(secs),
        })
        .collect();
    Some(RetryList { entries })
}

/// The words of ASCII text between ASCII white space (`str::split_ascii_whitespace`, in a
/// loop over bytes).
#[derive(Clone)]
struct AsciiWords<'a>(&'a str);

impl<'a> Iterator for AsciiWords<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let b = self.0.as_bytes();
        let from = b.iter().position(|c| !c.is_ascii_whitespace())?;
        let len = b[from..]
            .iter()
            .position(u8::is_ascii_whitespace)
            .unwrap_or(b.len() - from);
        // ASCII text: every byte is a character boundary.
        let word = &self.0[from..from + len];
        self.0 = &self.0[from + len..];
        Some(word)
    }
}

/// Parses a class letter of a retry command (`A`–`H`, `J`–`O`).
pub fn parse_retry_class(s: &str) -> Result<char, String> {
    let parsed: IResult<&str, char> = all_consuming(satisfy(
        |c: char| matches!(c.to_ascii_uppercase(), 'A'..='H' | 'J'..='O'),
    ))
    .parse(s);
    parsed.map(|(_, c)| c.to_ascii_uppercase()).map_err(|_| {
        format!("{s:?} is not a retryable class letter (A-H or J-O; I, S and Z take no list)")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(s: &str) -> RetryList {
        match parse_list(s).unwrap() {
            ListSpec::Entries(l) => l,
            ListSpec::Backoff(_) => panic!("backoff"),
        }
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    /// The list fast path splits and reads as the general path does, errors included.
    #[test]
    fn plain_lists_read_as_the_general_path_reads_them() {
        let general = |text: &str| -> Result<RetryList, String> {
            text.split_whitespace()
                .map(entry_token)
                .collect::<Result<Vec<_>, _>>()
                .map(|entries| RetryList { entries })
        };
        let words = [
            "1",
            "10S",
            "2h",
            "17:30W",
            "AG5",
            "@2026-03-02T10:00",
            "x",
            "5Q",
            "",
            " ",
            "\t",
            "\n",
            "\r",
            "\u{c}",
            "\u{b}",
            "\u{a0}",
            "\u{3000}",
            "9999999",
            "527040",
            "527041",
            "0005",
            "e",
        ];
        let mut n = 0;
        for a in words {
            for b in words {
                for c in words {
                    let text = format!("{a} {b}{c}");
                    let fast = plain_list(&text);
                    match fast {
                        Some(r) => {
                            assert_eq!(r, general(&text), "{text:?}");
                            n += 1;
                        }
                        None => assert!(!text.is_ascii() || text.contains('\u{b}'), "{text:?}"),
                    }
                }
            }
        }
        assert!(n > 4000, "{n}");
        for text in ["", " ", "a", " a  b\t\r\nc\u{c} ", "1 2 3"] {
            assert!(
                AsciiWords(text).eq(text.split_ascii_whitespace()),
                "{text:?}"
            );
        }
        // The minutes-only reader, at its edges: the most entries it takes, one more, blanks
        // only, and a number on each side of the year's limit.
        for text in [
            vec!["5"; MINUTES_MAX].join(" "),
            vec!["5"; MINUTES_MAX + 1].join("\t"),
            " \t ".into(),
            "527040 1".into(),
            "1 527041".into(),
        ] {
            let fast = minutes_list(text.as_bytes());
            let expect_fast =
                text.split_ascii_whitespace().count() <= MINUTES_MAX && !text.contains("527041");
            assert_eq!(fast.is_some(), expect_fast, "{text:?}");
            assert_eq!(plain_list(&text).unwrap(), general(&text), "{text:?}");
            if let Some(l) = fast {
                assert_eq!(Ok(l), general(&text), "{text:?}");
            }
        }
        // The backoff form is left to the general path.
        assert!(plain_list("BackOff initial=30S").is_none());
        assert!(matches!(
            parse_list("backoff initial=30S factor=2 max=1H count=3"),
            Ok(ListSpec::Backoff(_))
        ));
    }

    /// The plain-delay fast path reads every token it takes as the grammar reads it.
    #[test]
    fn plain_delays_read_as_the_grammar_reads_them() {
        let mut tokens = Vec::new();
        for n in [
            "0", "1", "5", "10", "59", "525600", "525601", "999999", "0005", "31536000",
        ] {
            for unit in ["", "S", "s", "M", "m", "H", "h"] {
                tokens.push(format!("{n}{unit}"));
            }
        }
        for tok in tokens {
            let fast = plain_delay(&tok);
            // The grammar alone: the same steps entry_token takes after its fast path.
            let slow = scheduled_token(&tok)
                .unwrap_or_else(|| entry_token_grammar(&tok))
                .ok();
            match fast {
                Some(e) => assert_eq!(Some(e), slow, "{tok}"),
                None => assert!(slow.is_none() || tok.len() > 7, "{tok}: {slow:?}"),
            }
        }
    }

    #[test]
    fn units() {
        let l = list("5 10S 1H 2h 30s");
        let secs: Vec<When> = l.entries.iter().map(|e| e.when).collect();
        assert_eq!(
            secs,
            [
                When::Delay(300),
                When::Delay(10),
                When::Delay(3600),
                When::Delay(7200),
                When::Delay(30)
            ]
        );
    }

    #[test]
    fn scheduled_entries_are_absolute_local_instants() {
        let l = list("@2025-01-20T14:00 G@2025-01-21T10:00:30 30");
        assert_eq!(
            l.entries[0].when,
            When::At("2025-01-20T14:00:00".parse().unwrap())
        );
        assert_eq!(l.entries[1].prefixes.to_string(), "G");
        assert_eq!(l.entries[0].to_string(), "@2025-01-20T14:00");
        assert_eq!(l.entries[2].when, When::Delay(1800));
        for bad in [
            "@2025-01-20",
            "@tomorrow",
            "K@2025-01-20T14:00",
            "@2025-13-01T10:00",
        ] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn minutes_unit() {
        // `M` is minutes, the same as no unit; it is no prefix letter and no day rule.
        assert!(!PREFIX_LETTERS.contains('M'));
        let l = list("10M 10m 10 QG10M 1M 0M");
        let secs: Vec<u32> = l
            .entries
            .iter()
            .map(|e| match e.when {
                When::Delay(s) => s,
                When::Clock(..) | When::At(..) => panic!("not a delay"),
            })
            .collect();
        assert_eq!(secs, [600, 600, 600, 600, 60, 0]);
        assert_eq!(l.entries[3].prefixes.to_string(), "GQ");
        assert_eq!(l.to_string(), "10 10 10 GQ10 1 0");
        // Backoff durations take it too.
        let ListSpec::Backoff(b) = parse_list("backoff initial=10M max=90M count=2").unwrap()
        else {
            panic!("backoff")
        };
        assert_eq!((b.initial, b.max), (600, 5400));
        for (bad, why) in [
            ("17:30M", "belongs on a delay"),
            ("M10", "not a prefix letter"),
            ("10MM", "unexpected"),
            ("600000M", "longer than a year"),
        ] {
            let e = parse_list(bad).unwrap_err().to_string();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn clock_entries() {
        let l = list("17:30W 08:00n 9:15");
        assert_eq!(l.entries[0].when, When::Clock(t(17, 30), DayRule::Working));
        assert_eq!(l.entries[1].when, When::Clock(t(8, 0), DayRule::NonWorking));
        assert_eq!(l.entries[2].when, When::Clock(t(9, 15), DayRule::Any));
    }

    #[test]
    fn empty_and_blank_lists() {
        assert!(list("").entries.is_empty());
        assert!(list("   ").entries.is_empty());
    }

    #[test]
    fn prefixes() {
        let l = list("AG5 qt10S ry17:30W");
        assert_eq!(l.entries[0].prefixes.to_string(), "AG");
        assert_eq!(l.entries[1].prefixes.to_string(), "QT");
        assert_eq!(l.entries[2].prefixes.to_string(), "RY");
        assert_eq!(l.to_string(), "AG5 QT10S RY17:30W");
    }

    #[test]
    fn rejects_with_reasons() {
        for (bad, why) in [
            ("B5", "not a prefix letter"),
            ("5X", "unexpected"),
            ("25:00", "valid hh:mm"),
            ("17:3", "valid hh:mm"),
            ("5W", "belongs on a clock time"),
            ("17:30S", "belongs on a delay"),
            ("-5", "not a retry entry"),
            ("9999999H", "longer than a year"),
            ("00000000000016578868067081242395", "longer than a year"),
            ("99999999999999999999999", "number too large"),
            ("A", "not a retry entry"),
        ] {
            let e = parse_list(bad).unwrap_err();
            assert!(e.reason.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn backoff_expands_deterministically() {
        let ListSpec::Backoff(b) =
            parse_list("backoff initial=2S factor=2 max=60S count=6").unwrap()
        else {
            panic!()
        };
        let l = b.expand(7);
        let secs: Vec<When> = l.entries.iter().map(|e| e.when).collect();
        assert_eq!(secs, [2, 4, 8, 16, 32, 60].map(When::Delay).to_vec());
    }

    #[test]
    fn backoff_limit_and_jitter() {
        let spec =
            parse_list("backoff initial=10 factor=3 max=2H count=10 limit=3H jitter=20% prefix=g")
                .unwrap();
        let a = spec.expand(1);
        assert_eq!(a, spec.expand(1), "same seed, same list");
        assert_ne!(a, spec.expand(2), "another seed spreads differently");
        let total: u32 = a
            .entries
            .iter()
            .map(|e| match e.when {
                When::Delay(s) => s,
                _ => 0,
            })
            .sum();
        assert!(total <= 3 * 3600, "{total}");
        for (k, e) in a.entries.iter().enumerate() {
            let When::Delay(s) = e.when else { panic!() };
            let nominal = (600.0 * 3f64.powi(k as i32)).min(7200.0);
            assert!(
                (s as f64) >= nominal * 0.8 - 1.0 && (s as f64) <= nominal * 1.2 + 1.0,
                "{k}: {s}"
            );
            assert!(e.prefixes.has('G'));
        }
    }

    #[test]
    fn backoff_errors() {
        for bad in [
            "backoff",
            "backoff initial=5 factor=0.5",
            "backoff initial=5 count=0",
            "backoff initial=5 jitter=150%",
            "backoff initial=5 speed=3",
            "backoff initial=10 max=5",
            "backoff initial=17:30",
        ] {
            assert!(parse_list(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn class_letters() {
        assert_eq!(parse_retry_class("b").unwrap(), 'B');
        assert_eq!(parse_retry_class("O").unwrap(), 'O');
        for bad in ["I", "S", "Z", "P", "AB", ""] {
            assert!(parse_retry_class(bad).is_err(), "{bad}");
        }
    }
}
