//! `$attempt_record` lines: writing, reading, and what the history says (cycles, counts).
//!
//! Field order (spec 5): `date time type skipped sched outcome class sent tosend flags boardline
//! baud call connect answerback`. Dates and times are local to the job's `$timezone`. Records are
//! appended, never edited; a cycle is the records after the last `S` or `Z` (spec 8.8).

use super::outcome::Class;
use crate::command::{date_of, parse_date, parse_time, time_of, write_date, write_time, Command};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, Timelike};

/// A record's three text fields (`flags`, `boardline`, `answerback`) joined by `\n`, which no
/// field of a line can hold, in the 16 bytes a boxed string takes: up to seven bytes are kept
/// in place (`\nM1\n`, the usual board and line with no flags or answerback), longer texts on
/// the heap. A text is always kept the one way its length says, so equal texts compare equal.
#[derive(Clone, PartialEq, Eq)]
enum Texts {
    Inline([u8; 7], u8),
    Heap(Box<str>),
}

impl Texts {
    /// `flags\nboardline\nanswerback`, or empty when all three are.
    fn join(flags: &[u8], boardline: &[u8], answerback: &[u8]) -> Option<Texts> {
        if flags.is_empty() && boardline.is_empty() && answerback.is_empty() {
            return Some(Texts::Inline([0; 7], 0));
        }
        let len = flags.len() + boardline.len() + answerback.len() + 2;
        let parts = [flags, b"\n", boardline, b"\n", answerback];
        if len <= 7 {
            // Byte by byte: a call to memcpy costs more than these few bytes.
            let mut buf = [0u8; 8];
            let mut i = 0;
            for part in parts {
                for &b in part {
                    buf[i] = b;
                    i += 1;
                }
            }
            // ASCII (no byte with its top bit set, the usual case) is UTF-8 without a check.
            if u64::from_le_bytes(buf) & 0x8080_8080_8080_8080 != 0 {
                std::str::from_utf8(&buf[..len]).ok()?;
            }
            let [b0, b1, b2, b3, b4, b5, b6, _] = buf;
            return Some(Texts::Inline([b0, b1, b2, b3, b4, b5, b6], len as u8));
        }
        let joined = parts.concat();
        Some(Texts::Heap(
            String::from_utf8(joined).ok()?.into_boxed_str(),
        ))
    }

    fn as_str(&self) -> &str {
        match self {
            Texts::Inline(buf, len) => {
                std::str::from_utf8(&buf[..usize::from(*len)]).expect("checked when made")
            }
            Texts::Heap(s) => s,
        }
    }
}

/// The longest field text (all of a record line after its name) the one-pass reader takes;
/// a longer line goes to the grammar, which reads it the same way.
const PLAIN_MAX: usize = 200;

/// The blank-separated words of a plain record line, read one at a time, each byte once. The
/// fields lie in a buffer padded with `\n` (which no line holds) to 256 bytes ([`padded`]), and
/// every position is read through an 8-bit mask: each scan stops at the padding, so a byte costs
/// a load and a compare, with no test for the end of the line and no bounds check. The reader
/// is a reference and a position, so the position can stay in a register.
struct Words<'a> {
    b: &'a [u8; 256],
    at: usize,
}

/// A word's bounds in [`Words::b`]: empty at the end of the line.
type Span = (usize, usize);

/// `fields` padded with `\n` to 256 bytes, or `None` when longer than [`PLAIN_MAX`].
#[inline(always)]
fn padded(fields: &[u8]) -> Option<[u8; 256]> {
    if fields.len() > PLAIN_MAX {
        return None;
    }
    let mut b = [b'\n'; 256];
    b[..fields.len()].copy_from_slice(fields);
    Some(b)
}

impl<'a> Words<'a> {
    // Every reader is inlined into the record's one loop of calls: a call per field costs more
    // than the few bytes a field has.
    #[inline(always)]
    fn byte(&self, i: usize) -> u8 {
        // The padding stops every scan before 256; the mask only spares the bounds check.
        self.b[i & 0xff]
    }

    #[inline(always)]
    fn skip_blanks(&mut self) {
        while matches!(self.byte(self.at), b' ' | b'\t') {
            self.at += 1;
        }
    }

    /// The next word's bounds (empty at the end of the line).
    #[inline(always)]
    fn next(&mut self) -> Span {
        self.skip_blanks();
        let from = self.at;
        while !matches!(self.byte(self.at), b' ' | b'\t' | b'\n') {
            self.at += 1;
        }
        (from, self.at)
    }

    /// The bytes of a word.
    #[inline(always)]
    fn word(&self, (from, to): Span) -> &'a [u8] {
        &self.b[from..to]
    }

    /// The next field as a number read as its digits go by: `Some(None)` at the end of the
    /// line, `None` when the word is not digits (an optional `+` first) that fit a `u32`.
    #[inline(always)]
    fn number(&mut self) -> Option<Option<u32>> {
        self.skip_blanks();
        if self.byte(self.at) == b'\n' {
            return Some(None);
        }
        if self.byte(self.at) == b'+' {
            self.at += 1;
        }
        let from = self.at;
        // Held at 2^32 (one past the largest u32) instead of checked at every digit: leading
        // zeros stay allowed, as `str::parse` allows them, and anything larger fails at the end.
        let mut n: u64 = 0;
        loop {
            let b = self.byte(self.at);
            let d = b.wrapping_sub(b'0');
            if d > 9 {
                if matches!(b, b' ' | b'\t' | b'\n') {
                    break;
                }
                return None;
            }
            n = (n * 10 + u64::from(d)).min(1 << 32);
            self.at += 1;
        }
        if self.at == from {
            return None;
        }
        u32::try_from(n).ok().map(Some)
    }

    /// Whether the word at `from` opens a quote or a comment.
    #[inline(always)]
    fn opens_quote_or_comment(&self, from: usize) -> bool {
        match self.byte(from) {
            b'"' | b';' => true,
            b'/' => self.byte(from + 1) == b'*',
            _ => false,
        }
    }

    /// The next word when it is a bare word (not quoted, not a comment); `None` otherwise, and
    /// at the end of the line.
    #[inline(always)]
    fn plain(&mut self) -> Option<Span> {
        let w = self.next();
        (w.1 > w.0 && !self.opens_quote_or_comment(w.0)).then_some(w)
    }

    /// An optional text field: empty at the end of the line or when written `""`; `None` for
    /// any other quoted word and for a comment.
    #[inline(always)]
    fn optional_text(&mut self) -> Option<Span> {
        let w = self.next();
        if w.1 == w.0 {
            return Some(w);
        }
        if self.byte(w.0) == b'"' {
            return (w.1 - w.0 == 2 && self.byte(w.0 + 1) == b'"').then_some((w.0, w.0));
        }
        (!self.opens_quote_or_comment(w.0)).then_some(w)
    }
}

/// One attempt as recorded in the FS file, in 48 bytes: a job file can hold a hundred thousand
/// of them, and the daemon keeps a queued job's records while it runs (issue 12: memory ≤ 2× the
/// file). The start is a date and a second of the day; the three text fields share one
/// allocation (`flags`, `boardline` and `answerback` joined by `\n`, which no field of a line
/// can hold). Build one from [`AttemptFields`].
#[derive(Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    date: NaiveDate,
    secs: u32,
    /// Seconds from dialling to hang-up.
    pub call: u32,
    /// Seconds connected.
    pub connect: u32,
    /// Outcome code.
    pub outcome: u32,
    /// Fax speed in bit/s (0 when not a fax connection; V.34's 33,600 is the fastest).
    pub baud: u16,
    /// Pages skipped (partial retry).
    pub skipped: u16,
    /// Pages scheduled.
    pub scheduled: u16,
    /// Pages sent.
    pub sent: u16,
    /// Channel type code (1 fax, 2 voice, 3 e-mail, 4 SMS, 5 poll).
    pub kind: u8,
    /// Class recorded: the outcome's class, `S` on success, `Z` on the final failure.
    pub class: Class,
    /// The TOSEND queue the attempt came from.
    pub tosend: u8,
    text: Texts,
}

/// The fields of an [`AttemptRecord`], for building one (numbers beyond a record's range are
/// held at its largest value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptFields {
    /// Local start of the attempt (whole seconds are kept).
    pub start: NaiveDateTime,
    /// Channel type code.
    pub kind: u8,
    /// Pages skipped.
    pub skipped: u32,
    /// Pages scheduled.
    pub scheduled: u32,
    /// Outcome code.
    pub outcome: u32,
    /// Class recorded.
    pub class: Class,
    /// Pages sent.
    pub sent: u32,
    /// The TOSEND queue.
    pub tosend: u8,
    /// Prefix letters (empty when none).
    pub flags: String,
    /// Board letter and line.
    pub boardline: String,
    /// Fax speed in bit/s.
    pub baud: u32,
    /// Seconds from dialling to hang-up.
    pub call: u32,
    /// Seconds connected.
    pub connect: u32,
    /// The remote's ID.
    pub answerback: String,
}

/// `n` as a 16-bit record field, held at the largest value.
fn held(n: u32) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// The three text fields as one [`Texts`].
fn joined(flags: &str, boardline: &str, answerback: &str) -> Texts {
    Texts::join(
        flags.as_bytes(),
        boardline.as_bytes(),
        answerback.as_bytes(),
    )
    .expect("UTF-8 parts join into UTF-8")
}

impl From<AttemptFields> for AttemptRecord {
    fn from(f: AttemptFields) -> AttemptRecord {
        let flags = if f.flags == "0" { "" } else { f.flags.as_str() };
        AttemptRecord {
            date: f.start.date(),
            secs: f.start.time().num_seconds_from_midnight(),
            call: f.call,
            connect: f.connect,
            outcome: f.outcome,
            baud: held(f.baud),
            skipped: held(f.skipped),
            scheduled: held(f.scheduled),
            sent: held(f.sent),
            kind: f.kind,
            class: f.class,
            tosend: f.tosend,
            text: joined(flags, &f.boardline, &f.answerback),
        }
    }
}

impl std::fmt::Debug for AttemptRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttemptRecord")
            .field("start", &self.start())
            .field("kind", &self.kind)
            .field("skipped", &self.skipped)
            .field("scheduled", &self.scheduled)
            .field("outcome", &self.outcome)
            .field("class", &self.class)
            .field("sent", &self.sent)
            .field("tosend", &self.tosend)
            .field("flags", &self.flags())
            .field("boardline", &self.boardline())
            .field("baud", &self.baud)
            .field("call", &self.call)
            .field("connect", &self.connect)
            .field("answerback", &self.answerback())
            .finish()
    }
}

impl AttemptRecord {
    /// Local start of the attempt.
    pub fn start(&self) -> NaiveDateTime {
        self.date.and_time(
            NaiveTime::from_num_seconds_from_midnight_opt(self.secs, 0).unwrap_or(NaiveTime::MIN),
        )
    }

    /// The `n`th text field (0 flags, 1 boardline, 2 answerback).
    fn text_field(&self, n: usize) -> &str {
        self.text.as_str().split('\n').nth(n).unwrap_or("")
    }

    /// Prefix letters of the retry entry this attempt's failure scheduled (empty when none).
    pub fn flags(&self) -> &str {
        self.text_field(0)
    }

    /// Board letter and line, e.g. `M3` (modem line 3), `S1` (simulated), `E0` (e-mail).
    pub fn boardline(&self) -> &str {
        self.text_field(1)
    }

    /// The remote's ID (CSID), possibly empty.
    pub fn answerback(&self) -> &str {
        self.text_field(2)
    }

    /// The arguments of the `$attempt_record` line, in field order.
    pub fn to_args(&self) -> Vec<String> {
        self.with_args(|args| args.iter().map(|a| a.to_string()).collect())
    }

    /// Calls `f` with the arguments of the `$attempt_record` line, in field order: the numbers
    /// are written into one buffer and lent as slices of it (no string per field).
    pub fn with_args<R>(&self, f: impl FnOnce(&[&str; 15]) -> R) -> R {
        use std::fmt::Write;
        let start = self.start();
        let mut buf = String::with_capacity(64);
        // cuts[i]..cuts[i + 1] is the i-th written field.
        let mut cuts = [0usize; 13];
        write_date(&mut buf, start.date());
        cuts[1] = buf.len();
        write_time(&mut buf, start.time());
        cuts[2] = buf.len();
        let numbers: [&dyn std::fmt::Display; 10] = [
            &self.kind,
            &self.skipped,
            &self.scheduled,
            &self.outcome,
            &self.class,
            &self.sent,
            &self.tosend,
            &self.baud,
            &self.call,
            &self.connect,
        ];
        for (i, v) in numbers.into_iter().enumerate() {
            // Writing into a String cannot fail.
            let _ = write!(buf, "{v}");
            cuts[i + 3] = buf.len();
        }
        let w = |i: usize| &buf[cuts[i]..cuts[i + 1]];
        let flags = match self.flags() {
            "" => "0",
            f => f,
        };
        f(&[
            w(0),
            w(1),
            w(2),
            w(3),
            w(4),
            w(5),
            w(6),
            w(7),
            w(8),
            flags,
            self.boardline(),
            w(9),
            w(10),
            w(11),
            self.answerback(),
        ])
    }

    /// Reads a record; the first seven fields are required, the rest default.
    pub fn from_command(cmd: &Command) -> Result<AttemptRecord, (usize, String)> {
        let a = &cmd.args;
        if a.len() < 7 {
            return Err((1, format!("$attempt_record needs at least 7 fields (date time type skipped sched outcome class), found {}", a.len())));
        }
        let col = |i: usize| a.get(i).map_or(1, |x| x.column());
        let num = |i: usize, what: &str| -> Result<u32, (usize, String)> {
            match a.get(i) {
                None => Ok(0),
                Some(x) => x.text.parse().map_err(|_| {
                    (
                        x.column(),
                        format!("{what} {:?} is not a whole number", x.text),
                    )
                }),
            }
        };
        let small = |i: usize, what: &str| -> Result<u16, (usize, String)> {
            let n = num(i, what)?;
            u16::try_from(n).map_err(|_| {
                (
                    col(i),
                    format!("{what} {n} is out of range (at most 65535)"),
                )
            })
        };
        let date = parse_date(&a[0].text).map_err(|e| (col(0), e.0))?;
        let time = parse_time(&a[1].text).map_err(|e| (col(1), e.0))?;
        let kind = num(2, "type")?;
        let class = Class::parse(&a[6].text).map_err(|e| (col(6), e))?;
        let text = |i: usize| a.get(i).map_or("", |x| x.text.as_ref());
        let flags = Some(text(9)).filter(|f| *f != "0").unwrap_or("");
        Ok(AttemptRecord {
            date,
            secs: time.num_seconds_from_midnight(),
            kind: u8::try_from(kind)
                .map_err(|_| (col(2), format!("type {kind} is out of range")))?,
            skipped: small(3, "skipped")?,
            scheduled: small(4, "sched")?,
            outcome: num(5, "outcome")?,
            class,
            sent: small(7, "sent")?,
            tosend: u8::try_from(num(8, "tosend")?)
                .map_err(|_| (col(8), "tosend is out of range".to_string()))?,
            baud: small(11, "baud")?,
            call: num(12, "call")?,
            connect: num(13, "connect")?,
            text: joined(flags, text(10), text(14)),
        })
    }

    /// Reads a record straight from its line's text when the line is plain: every field a bare
    /// word, except an empty answerback written `""`, and no comment. `None` for anything
    /// else, and for any field that does not read (then [`AttemptRecord::from_command`] reads
    /// the line and says where it is wrong). It gives what `from_command` gives, without
    /// building the argument list: a job file can hold a hundred thousand records.
    pub fn from_plain_line(line: &[u8]) -> Option<AttemptRecord> {
        let blank = |b: &u8| *b == b' ' || *b == b'\t';
        let line = &line[line.iter().position(|b| !blank(b))?..];
        let end = line.iter().position(blank).unwrap_or(line.len());
        let name = line[..end].strip_prefix(b"$")?;
        if !name.eq_ignore_ascii_case(b"attempt_record") {
            return None;
        }
        AttemptRecord::from_plain_fields(&line[end..])
    }

    /// [`AttemptRecord::from_plain_line`] of the part of a `$attempt_record` line after its
    /// name, for a reader that already knows the name (a document notes each line's command).
    pub fn from_plain_fields(fields: &[u8]) -> Option<AttemptRecord> {
        let buf = padded(fields)?;
        let mut c = Words { b: &buf, at: 0 };
        // The first seven fields must be there; the rest read as 0 or empty when missing.
        let w = c.plain()?;
        let date = date_of(c.word(w))?;
        let w = c.plain()?;
        let secs = time_of(c.word(w))?.num_seconds_from_midnight();
        let kind = u8::try_from(c.number()??).ok()?;
        let skipped = u16::try_from(c.number()??).ok()?;
        let scheduled = u16::try_from(c.number()??).ok()?;
        let outcome = c.number()??;
        let w = c.plain()?;
        let class = Class::from_byte(c.word(w))?;
        let num = |c: &mut Words| c.number().map(|n| n.unwrap_or(0));
        let sent = u16::try_from(num(&mut c)?).ok()?;
        let tosend = u8::try_from(num(&mut c)?).ok()?;
        let flags = c.optional_text()?;
        let boardline = c.optional_text()?;
        let baud = u16::try_from(num(&mut c)?).ok()?;
        let call = num(&mut c)?;
        let connect = num(&mut c)?;
        let answerback = c.optional_text()?;
        let rest = c.next();
        if rest.1 > rest.0 {
            return None; // more fields than a record has, or a comment after them
        }
        let flags: &[u8] = match c.word(flags) {
            b"0" => b"",
            f => f,
        };
        // The three texts are joined and checked as UTF-8 once.
        let text = Texts::join(flags, c.word(boardline), c.word(answerback))?;
        Some(AttemptRecord {
            date,
            secs,
            kind,
            skipped,
            scheduled,
            outcome,
            class,
            sent,
            tosend,
            baud,
            call,
            connect,
            text,
        })
    }

    /// The line number in `boardline` (`M3` → 3), if any.
    pub fn line(&self) -> Option<u32> {
        let digits: String = self
            .boardline()
            .chars()
            .skip_while(|c| !c.is_ascii_digit())
            .collect();
        digits.parse().ok()
    }
}

/// The records of the current cycle: those after the last `S` or `Z` record.
pub fn current_cycle(records: &[AttemptRecord]) -> &[AttemptRecord] {
    let start = records
        .iter()
        .rposition(|r| r.class == Class::S || r.class == Class::Z)
        .map_or(0, |i| i + 1);
    &records[start..]
}

/// Counts derived from one cycle (spec 8.8), for reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CycleCounts {
    /// Attempts in the cycle.
    pub attempts: usize,
    /// Retries made (class I attempts not counted).
    pub retries: usize,
    /// Records per class letter, in letter order.
    pub per_class: Vec<(Class, usize)>,
}

/// Derives per-class counts and retries for a cycle.
pub fn counts(cycle: &[AttemptRecord]) -> CycleCounts {
    let mut per_class: Vec<(Class, usize)> = Vec::new();
    for r in cycle {
        match per_class.iter_mut().find(|(c, _)| *c == r.class) {
            Some((_, n)) => *n += 1,
            None => per_class.push((r.class, 1)),
        }
    }
    per_class.sort();
    let counted = cycle.iter().filter(|r| r.class != Class::I).count();
    CycleCounts {
        attempts: cycle.len(),
        retries: counted.saturating_sub(1),
        per_class,
    }
}

/// How many cycles the records hold (a cycle ends at an `S` or `Z` record).
pub fn cycles(records: &[AttemptRecord]) -> usize {
    let closed = records
        .iter()
        .filter(|r| r.class == Class::S || r.class == Class::Z)
        .count();
    closed + usize::from(!current_cycle(records).is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::{Document, LineKind};

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4096))]
        #[test]
        fn a_plain_line_reads_as_the_grammar_reads_it(
            head in proptest::collection::vec(proptest::sample::select(vec![
                "03/02/2026", "08:31:05", "1", "0", "3", "2", "B", "S",
            ]), 7..8),
            tail in proptest::collection::vec(proptest::sample::select(vec![
                "03/02/2026", "3/2/2026", "13/02/2026", "08:31:05", "8:31", "25:00",
                "0", "1", "3", "255", "256", "4294967296", "-1", "+7", "+", "007", "65535", "65536",
                "4294967295", "00000000004294967295", "99999999999999999999", "1x", "B", "S", "Z", "Q", "A",
                "M3", "XR", "\"\"", "\"a b\"", "\"\"x", "x\"y", ";c", "/*c", "/x", "ACME",
                "M\u{b}3", "\u{1}", "A\u{7f}B", "\u{e9}t\u{e9}", "HYLAFAX-RECEIVER-WITH-A-LONG-NAME-0123456789",
            ]), 0..11),
            order in proptest::sample::select(vec![true, false]),
            sep in proptest::sample::select(vec![" ", "\t", "  "]),
            name in proptest::sample::select(vec!["$attempt_record", "$ATTEMPT_Record", " $attempt_record", "$attempt_recordx"]),
        ) {
            // Mostly in field order (date, time, then numbers and a class), sometimes shuffled.
            let mut words: Vec<&str> = head.clone();
            if order {
                words[0] = "03/02/2026";
                words[1] = "08:31:05";
                words[6] = if head[6] == "S" { "S" } else { "B" };
            }
            words.extend(tail.iter().copied());
            let line = format!("{name}{sep}{}", words.join(sep));
            let fast = AttemptRecord::from_plain_line(line.as_bytes());
            let general = match crate::command::parse_line(&line, "f", 1) {
                Ok(LineKind::Command(c)) if c.name == "attempt_record" => AttemptRecord::from_command(&c).ok(),
                _ => None,
            };
            // The fields alone (the name already known, as a document's reader knows it) read
            // as the whole line does.
            if general.is_some() {
                let after_name = line.find("$").unwrap() + "$attempt_record".len();
                proptest::prop_assert_eq!(
                    AttemptRecord::from_plain_fields(&line.as_bytes()[after_name..]),
                    fast.clone(),
                    "{}", line
                );
            }
            match fast {
                Some(f) => proptest::prop_assert_eq!(Some(f), general, "{}", line),
                // Declining is allowed only where the line is not plain or does not read.
                None => proptest::prop_assert!(
                    general.is_none() || line.contains('"') || line.contains(';') || line.contains("/*")
                        || words.len() > 15 || line.len() > 128
                        || line.bytes().any(|b| b < b' ' && b != b'\t'),
                    "{}", line
                ),
            }
        }
    }

    fn fields(class: char) -> AttemptFields {
        AttemptFields {
            start: parse_date("03/02/2026")
                .unwrap()
                .and_time(parse_time("08:31:05").unwrap()),
            kind: 1,
            skipped: 0,
            scheduled: 3,
            outcome: 2,
            class: Class::parse(&class.to_string()).unwrap(),
            sent: 0,
            tosend: 2,
            flags: String::new(),
            boardline: "M12".into(),
            baud: 0,
            call: 35,
            connect: 0,
            answerback: String::new(),
        }
    }

    fn rec(class: char) -> AttemptRecord {
        fields(class).into()
    }

    /// The one-pass reader takes fields up to [`PLAIN_MAX`] bytes long and leaves longer ones
    /// to the grammar; both read the same record, and a blank at the very end changes nothing.
    #[test]
    fn the_one_pass_reader_stops_at_its_length_and_the_grammar_goes_on() {
        let fields = |answerback_len: usize, tail: &str| {
            let head = " 03/02/2026 08:31:05 1 0 3 2 B 0 1 0 M3 14400 30 0 ";
            format!("{head}{}{tail}", "A".repeat(answerback_len - head.len()))
        };
        for (len, tail, fast) in [
            (PLAIN_MAX, "", true),
            (PLAIN_MAX - 1, " ", true),
            (PLAIN_MAX + 1, "", false),
            (3 * PLAIN_MAX, "", false),
        ] {
            let f = fields(len, tail);
            assert_eq!(f.len(), len + tail.len());
            let line = format!("$attempt_record{f}");
            let general = match crate::command::parse_line(&line, "f", 1) {
                Ok(LineKind::Command(c)) => AttemptRecord::from_command(&c).unwrap(),
                other => panic!("{other:?}"),
            };
            assert_eq!(general.answerback().len(), len - 51);
            let one_pass = AttemptRecord::from_plain_fields(f.as_bytes());
            assert_eq!(one_pass.is_some(), fast, "{len}");
            if let Some(r) = one_pass {
                assert_eq!(r, general);
            }
            // A job reads the record either way.
            let doc = Document::parse_str(&format!("$fax_phone 1\n{line}\n"), "j.FS").unwrap();
            let job = crate::job::Job::from_document(&doc).unwrap();
            assert_eq!(job.records, [general]);
        }
    }

    #[test]
    fn a_record_is_48_bytes_and_keeps_what_it_was_given() {
        assert_eq!(std::mem::size_of::<AttemptRecord>(), 48);
        let f = AttemptFields {
            flags: "XR".into(),
            answerback: "ACME FAX".into(),
            sent: 70_000,
            ..fields('B')
        };
        let r = AttemptRecord::from(f.clone());
        assert_eq!(r.start(), f.start);
        assert_eq!(
            (r.flags(), r.boardline(), r.answerback()),
            ("XR", "M12", "ACME FAX")
        );
        assert_eq!(r.sent, u16::MAX, "held at the largest value");
        let none = AttemptRecord::from(AttemptFields {
            flags: "0".into(),
            boardline: String::new(),
            ..fields('S')
        });
        assert_eq!(
            (none.flags(), none.boardline(), none.answerback()),
            ("", "", "")
        );
    }

    #[test]
    fn writes_and_reads_back() {
        let r = AttemptRecord::from(AttemptFields {
            flags: "AG".into(),
            answerback: "ACME FAX".into(),
            ..fields('B')
        });
        let mut d = Document::new("x.FS");
        let args = r.to_args();
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        d.append("attempt_record", &refs);
        let text = String::from_utf8(d.to_bytes()).unwrap();
        assert_eq!(
            text,
            "$attempt_record 03/02/2026 08:31:05 1 0 3 2 B 0 2 AG M12 0 35 0 \"ACME FAX\"\n"
        );
        let back = AttemptRecord::from_command(&d.last("attempt_record").unwrap()).unwrap();
        assert_eq!(back, r);
        assert_eq!(back.line(), Some(12));
    }

    /// The record written through `with_args` (the spooler's way: one buffer, no string per
    /// field) and through `to_args` is the same line, with every field in its place: no flags
    /// are written as `0`, an empty answerback as `""`, and large numbers whole.
    #[test]
    fn with_args_and_to_args_write_the_same_fields() {
        let r = AttemptRecord::from(AttemptFields {
            start: parse_date("12/31/2026")
                .unwrap()
                .and_time(parse_time("23:59:59").unwrap()),
            outcome: 4_000_000_000,
            baud: 33600,
            sent: 65535,
            call: 86_400,
            connect: 86_399,
            tosend: 9,
            ..fields('Z')
        });
        let owned = r.to_args();
        r.with_args(|lent| assert_eq!(lent.to_vec(), owned));
        assert_eq!(
            owned,
            [
                "12/31/2026",
                "23:59:59",
                "1",
                "0",
                "3",
                "4000000000",
                "Z",
                "65535",
                "9",
                "0",
                "M12",
                "33600",
                "86400",
                "86399",
                ""
            ]
        );
        let mut d = Document::new("x.FS");
        r.with_args(|a| d.append("attempt_record", a));
        let back = AttemptRecord::from_command(&d.last("attempt_record").unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn short_records_default_and_bad_ones_say_why() {
        let LineKind::Command(c) =
            crate::command::parse_line("$attempt_record 03/02/2024 08:31:05 1 0 3 4 B", "f", 1)
                .unwrap()
        else {
            panic!()
        };
        let r = AttemptRecord::from_command(&c).unwrap();
        assert_eq!(
            (r.outcome, r.class, r.tosend, r.line()),
            (4, Class::parse("B").unwrap(), 0, None)
        );
        let LineKind::Command(c) =
            crate::command::parse_line("$attempt_record 03/02/2024 08:31:05 1 0 3 4 Q", "f", 1)
                .unwrap()
        else {
            panic!()
        };
        let (col, why) = AttemptRecord::from_command(&c).unwrap_err();
        assert_eq!(col, 45);
        assert!(why.contains("not an outcome class"));
        let LineKind::Command(c) =
            crate::command::parse_line("$attempt_record 03/02/2024", "f", 1).unwrap()
        else {
            panic!()
        };
        assert!(AttemptRecord::from_command(&c)
            .unwrap_err()
            .1
            .contains("at least 7"));
    }

    #[test]
    fn cycles_start_after_s_or_z() {
        let h: Vec<AttemptRecord> = "ABZBISAB".chars().map(rec).collect();
        assert_eq!(current_cycle(&h).len(), 2);
        assert_eq!(cycles(&h), 3);
        let c = counts(&h[3..6]);
        assert_eq!((c.attempts, c.retries), (3, 1));
        assert_eq!(cycles(&h[..3]), 1);
        assert!(current_cycle(&h[..3]).is_empty());
    }
}
