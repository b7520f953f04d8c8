//! `$attempt_record` lines: writing, reading, and what the history says (cycles, counts).
//!
//! Field order (spec 5): `date time type skipped sched outcome class sent tosend flags boardline
//! baud call connect answerback`. Dates and times are local to the job's `$timezone`. Records are
//! appended, never edited; a cycle is the records after the last `S` or `Z` (spec 8.8).

use super::outcome::Class;
use crate::command::{format_date, format_time, parse_date, parse_time, Command};
use chrono::NaiveDateTime;

/// One attempt as recorded in the FS file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// Local start of the attempt.
    pub start: NaiveDateTime,
    /// Channel type code (1 fax, 2 voice, 3 e-mail, 4 SMS, 5 poll).
    pub kind: u8,
    /// Pages skipped (partial retry).
    pub skipped: u32,
    /// Pages scheduled.
    pub scheduled: u32,
    /// Outcome code.
    pub outcome: u32,
    /// Class recorded: the outcome's class, `S` on success, `Z` on the final failure.
    pub class: Class,
    /// Pages sent.
    pub sent: u32,
    /// The TOSEND queue the attempt came from.
    pub tosend: u8,
    /// Prefix letters of the retry entry this attempt's failure scheduled (`0` when none).
    pub flags: Box<str>,
    /// Board letter and line, e.g. `M3` (modem line 3), `S1` (simulated), `E0` (e-mail).
    pub boardline: Box<str>,
    /// Fax speed in bit/s (0 when not a fax connection).
    pub baud: u32,
    /// Seconds from dialling to hang-up.
    pub call: u32,
    /// Seconds connected.
    pub connect: u32,
    /// The remote's ID (CSID), possibly empty.
    pub answerback: Box<str>,
}

impl AttemptRecord {
    /// The arguments of the `$attempt_record` line, in field order.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            format_date(self.start.date()),
            format_time(self.start.time()),
            self.kind.to_string(),
            self.skipped.to_string(),
            self.scheduled.to_string(),
            self.outcome.to_string(),
            self.class.to_string(),
            self.sent.to_string(),
            self.tosend.to_string(),
            if self.flags.is_empty() {
                "0".into()
            } else {
                self.flags.to_string()
            },
            self.boardline.to_string(),
            self.baud.to_string(),
            self.call.to_string(),
            self.connect.to_string(),
            self.answerback.to_string(),
        ]
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
        let date = parse_date(&a[0].text).map_err(|e| (col(0), e.0))?;
        let time = parse_time(&a[1].text).map_err(|e| (col(1), e.0))?;
        let kind = num(2, "type")?;
        let class = Class::parse(&a[6].text).map_err(|e| (col(6), e))?;
        Ok(AttemptRecord {
            start: date.and_time(time),
            kind: u8::try_from(kind)
                .map_err(|_| (col(2), format!("type {kind} is out of range")))?,
            skipped: num(3, "skipped")?,
            scheduled: num(4, "sched")?,
            outcome: num(5, "outcome")?,
            class,
            sent: num(7, "sent")?,
            tosend: u8::try_from(num(8, "tosend")?)
                .map_err(|_| (col(8), "tosend is out of range".to_string()))?,
            flags: a
                .get(9)
                .map(|x| x.text.as_ref())
                .filter(|f| *f != "0")
                .map(Box::from)
                .unwrap_or_default(),
            boardline: a
                .get(10)
                .map(|x| Box::from(x.text.as_ref()))
                .unwrap_or_default(),
            baud: num(11, "baud")?,
            call: num(12, "call")?,
            connect: num(13, "connect")?,
            answerback: a
                .get(14)
                .map(|x| Box::from(x.text.as_ref()))
                .unwrap_or_default(),
        })
    }

    /// Reads a record straight from its line's text when the line is plain: every field a bare
    /// word, except an empty answerback written `""`, and no comment. `None` for anything
    /// else, and for any field that does not read (then [`AttemptRecord::from_command`] reads
    /// the line and says where it is wrong). It gives what `from_command` gives, without
    /// building the argument list: a job file can hold a hundred thousand records.
    pub fn from_plain_line(line: &str) -> Option<AttemptRecord> {
        let rest = line.trim_start_matches([' ', '\t']).strip_prefix('$')?;
        let mut words = rest.split([' ', '\t']).filter(|w| !w.is_empty());
        if !words.next()?.eq_ignore_ascii_case("attempt_record") {
            return None;
        }
        let mut f: [&str; 15] = [""; 15];
        let mut n = 0;
        for w in words {
            if n == f.len() || w.starts_with(';') || w.starts_with("/*") {
                return None;
            }
            if w.starts_with('"') {
                // Only an empty quoted last field reads the same as no text.
                if w != "\"\"" {
                    return None;
                }
                f[n] = "";
            } else {
                f[n] = w;
            }
            n += 1;
        }
        if n < 7 {
            return None;
        }
        let num = |i: usize| -> Option<u32> {
            if i < n {
                f[i].parse().ok()
            } else {
                Some(0)
            }
        };
        let text = |i: usize| -> Box<str> {
            if i < n {
                Box::from(f[i])
            } else {
                Box::default()
            }
        };
        let flags = if 9 < n && f[9] != "0" {
            Box::from(f[9])
        } else {
            Box::default()
        };
        Some(AttemptRecord {
            start: parse_date(f[0]).ok()?.and_time(parse_time(f[1]).ok()?),
            kind: u8::try_from(num(2)?).ok()?,
            skipped: num(3)?,
            scheduled: num(4)?,
            outcome: num(5)?,
            class: Class::parse(f[6]).ok()?,
            sent: num(7)?,
            tosend: u8::try_from(num(8)?).ok()?,
            flags,
            boardline: text(10),
            baud: num(11)?,
            call: num(12)?,
            connect: num(13)?,
            answerback: text(14),
        })
    }

    /// The line number in `boardline` (`M3` → 3), if any.
    pub fn line(&self) -> Option<u32> {
        let digits: String = self
            .boardline
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
                "0", "1", "3", "255", "256", "4294967296", "-1", "B", "S", "Z", "Q", "A",
                "M3", "XR", "\"\"", "\"a b\"", "\"\"x", "x\"y", ";c", "/*c", "/x", "ACME",
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
            let fast = AttemptRecord::from_plain_line(&line);
            let general = match crate::command::parse_line(&line, "f", 1) {
                Ok(LineKind::Command(c)) if c.name == "attempt_record" => AttemptRecord::from_command(&c).ok(),
                _ => None,
            };
            match fast {
                Some(f) => proptest::prop_assert_eq!(Some(f), general, "{}", line),
                // Declining is allowed only where the line is not plain or does not read.
                None => proptest::prop_assert!(
                    general.is_none() || line.contains('"') || line.contains(';') || line.contains("/*")
                        || words.len() > 15,
                    "{}", line
                ),
            }
        }
    }

    fn rec(class: char) -> AttemptRecord {
        AttemptRecord {
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
            flags: Box::default(),
            boardline: "M12".into(),
            baud: 0,
            call: 35,
            connect: 0,
            answerback: Box::default(),
        }
    }

    #[test]
    fn writes_and_reads_back() {
        let r = AttemptRecord {
            flags: "AG".into(),
            answerback: "ACME FAX".into(),
            ..rec('B')
        };
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
