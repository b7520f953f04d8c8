//! The typed view of an FS file: destinations, documents, schedule, status and overrides.
//!
//! Owns reading (and validating) the job commands of a [`Document`]; the document stays the
//! source of truth and keeps every line. It never touches the filesystem and never decides a
//! retry: the retry commands are handed to [`PolicyLayer`] and the records to the engine.

use crate::calendar::{SendWindow, WindowDays};
use crate::command::registry::{NameId, NAME_COUNT};
use crate::command::{parse_date, parse_time, Arg, Args, Document, ParseError};
use crate::linegroup::validate_group_ref;
use crate::retry::attempt::{current_cycle, AttemptRecord};
use crate::retry::outcome::Channel;
use crate::retry::policy::{Level, PolicyLayer};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime};

/// `$fax_send_time start [end [days [DEST|override]]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendTime {
    /// Not before this local time on the send date.
    pub start: NaiveTime,
    /// Attempts only until this local time (a window for every attempt).
    pub end: Option<NaiveTime>,
    /// Allowed days: digits (weekdays of the week from the send date), `W` or `N`.
    pub days: Option<WindowDays>,
}

/// Where the job goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destinations {
    /// `$fax_phone`.
    pub fax_phone: Option<String>,
    /// `$voice_phone number [infobox]`.
    pub voice_phone: Option<String>,
    /// The voice message (the infobox argument of `$voice_phone`).
    pub voice_message: Option<String>,
    /// `$email_address`.
    pub email_address: Option<String>,
    /// `$sms_phone`.
    pub sms_phone: Option<String>,
    /// `$alternate_phone`.
    pub alternate_phone: Option<String>,
    /// `$email_alt_address`.
    pub email_alt_address: Option<String>,
    /// `$alternate_cover`.
    pub alternate_cover: Option<String>,
}

/// A typed FS file.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Where it goes.
    pub destinations: Destinations,
    /// `$fax_user`: the USR profile.
    pub user: Option<String>,
    /// `$fax_filename` documents in order.
    pub documents: Vec<String>,
    /// `$fax_cover`.
    pub cover: Option<String>,
    /// `$fax_send_date`.
    pub send_date: Option<NaiveDate>,
    /// `$fax_send_time`.
    pub send_time: Option<SendTime>,
    /// `$fax_next_date` + `$fax_next_time` (engine-written).
    pub next: Option<NaiveDateTime>,
    /// `$fax_status1 status [line]`.
    pub status1: Option<(u8, Option<u32>)>,
    /// `$fax_status2 code`.
    pub status2: Option<u32>,
    /// `$fax_send_line group`.
    pub send_line: Option<String>,
    /// `$fax_tosend n` (informational: the folder is authoritative).
    pub tosend: Option<u8>,
    /// Every `$attempt_record`, in order.
    pub records: Vec<AttemptRecord>,
    /// How many records come before the last `$new_cycle` or `$retry_note` line: a cycle
    /// begins there too (a job resubmitted with a final status, or retried by an operator).
    pub cycle_mark: usize,
    /// The FS-level retry overrides.
    pub policy: PolicyLayer,
}

// The single-valued commands a job reads (the last one of each wins).
const FAX_PHONE: NameId = NameId::of("fax_phone");
const EMAIL_ADDRESS: NameId = NameId::of("email_address");
const SMS_PHONE: NameId = NameId::of("sms_phone");
const ALTERNATE_PHONE: NameId = NameId::of("alternate_phone");
const EMAIL_ALT_ADDRESS: NameId = NameId::of("email_alt_address");
const ALTERNATE_COVER: NameId = NameId::of("alternate_cover");
const VOICE_PHONE: NameId = NameId::of("voice_phone");
const FAX_SEND_DATE: NameId = NameId::of("fax_send_date");
const FAX_SEND_TIME: NameId = NameId::of("fax_send_time");
const FAX_NEXT_DATE: NameId = NameId::of("fax_next_date");
const FAX_NEXT_TIME: NameId = NameId::of("fax_next_time");
const FAX_STATUS1: NameId = NameId::of("fax_status1");
const FAX_STATUS2: NameId = NameId::of("fax_status2");
const FAX_TOSEND: NameId = NameId::of("fax_tosend");
const FAX_SEND_LINE: NameId = NameId::of("fax_send_line");
const FAX_COVER: NameId = NameId::of("fax_cover");
const FAX_USER: NameId = NameId::of("fax_user");

const ATTEMPT_RECORD: NameId = NameId::of("attempt_record");
const NEW_CYCLE: NameId = NameId::of("new_cycle");
const RETRY_NOTE: NameId = NameId::of("retry_note");
const FAX_FILENAME: NameId = NameId::of("fax_filename");

/// Where a job's commands lie, found in one pass over the names (no argument read): the last
/// line of each command (what a single-valued one is read from), every document line, how
/// many attempt records there are and where the first is (they are read in a second pass from
/// there, into a list of exactly that size: a file of records must not cost a growing list of
/// line numbers too), and the cycle mark.
struct Lines {
    /// By [`NameId`]: the 1-based line of the last command of that name (0: none).
    last: [u32; NAME_COUNT],
    documents: Vec<usize>,
    records: usize,
    first_record: usize,
    cycle_mark: usize,
}

impl Lines {
    fn of(doc: &Document) -> Lines {
        let mut l = Lines {
            last: [0; NAME_COUNT],
            documents: Vec::new(),
            records: 0,
            first_record: 0,
            cycle_mark: 0,
        };
        // Commands by id (noted when the document was read): no name is compared here.
        for (id, line) in doc.ids() {
            let Some(id) = id else { continue };
            match id {
                ATTEMPT_RECORD => {
                    if l.records == 0 {
                        l.first_record = line;
                    }
                    l.records += 1;
                }
                NEW_CYCLE | RETRY_NOTE => l.cycle_mark = l.records,
                FAX_FILENAME => l.documents.push(line),
                _ => {}
            }
            // A document has fewer than 4 Gi lines: its buffer is below 4 GiB.
            l.last[id.index()] = line as u32;
        }
        l
    }

    /// The arguments of the last `id` command, read in place (no list, no `Command`).
    fn single<'d>(&self, doc: &'d Document, id: NameId) -> Option<Args<'d>> {
        doc.args(self.last[id.index()] as usize)
    }
}

/// The error at `column` of `line` of `doc`.
fn fail(doc: &Document, line: usize, column: usize, reason: String) -> ParseError {
    ParseError {
        file: doc.origin().to_string(),
        line,
        column,
        reason,
    }
}

/// The first argument of the single-valued command `id`, or the error saying it needs one.
fn first<'d>(doc: &Document, id: NameId, args: &mut Args<'d>) -> Result<Arg<'d>, ParseError> {
    let line = args.line();
    args.next()
        .ok_or_else(|| fail(doc, line, 1, format!("${} needs an argument", id.name())))
}

/// `arg` as a number from 0 to `max` (`None` when there is no such argument).
fn number(
    doc: &Document,
    line: usize,
    arg: Option<&Arg>,
    max: u64,
) -> Result<Option<u64>, ParseError> {
    match arg {
        None => Ok(None),
        Some(a) => a
            .text
            .parse::<u64>()
            .ok()
            .filter(|n| *n <= max)
            .map(Some)
            .ok_or_else(|| {
                fail(
                    doc,
                    line,
                    a.column(),
                    format!("{:?} is not a number from 0 to {max}", a.text),
                )
            }),
    }
}

impl Job {
    /// Reads and validates the job commands of `doc`.
    ///
    /// Single-valued commands are read straight from their lines (each argument borrowed in
    /// place, no argument list built); only attempt records that are not plain and the retry
    /// commands are read as [`Command`](crate::command::Command)s.
    pub fn from_document(doc: &Document) -> Result<Job, ParseError> {
        let lines = Lines::of(doc);
        // A single-valued text command: its arguments joined by single spaces.
        let text = |id: NameId| -> Result<Option<String>, ParseError> {
            match lines.single(doc, id) {
                Some(mut a) => {
                    if a.is_empty() {
                        first(doc, id, &mut a)?;
                    }
                    Ok(Some(a.joined()))
                }
                None => Ok(None),
            }
        };
        let mut destinations = Destinations {
            fax_phone: text(FAX_PHONE)?,
            email_address: text(EMAIL_ADDRESS)?,
            sms_phone: text(SMS_PHONE)?,
            alternate_phone: text(ALTERNATE_PHONE)?,
            email_alt_address: text(EMAIL_ALT_ADDRESS)?,
            alternate_cover: text(ALTERNATE_COVER)?,
            ..Destinations::default()
        };
        if let Some(mut a) = lines.single(doc, VOICE_PHONE) {
            let line = a.line();
            destinations.voice_phone = Some(first(doc, VOICE_PHONE, &mut a)?.text.into_owned());
            destinations.voice_message = a.next().map(|m| m.text.into_owned());
            if destinations.fax_phone.is_some() {
                return Err(fail(
                    doc,
                    line,
                    1,
                    "$voice_phone cannot be combined with $fax_phone in one job".into(),
                ));
            }
        }
        let mut documents = Vec::new();
        for l in &lines.documents {
            let Some(mut a) = doc.args(*l) else { continue };
            if a.is_empty() {
                first(doc, FAX_FILENAME, &mut a)?;
            }
            documents.extend(a.map(|d| d.text.into_owned()));
        }
        let date = |id: NameId| -> Result<Option<NaiveDate>, ParseError> {
            let Some(mut a) = lines.single(doc, id) else {
                return Ok(None);
            };
            let d = first(doc, id, &mut a)?;
            parse_date(&d.text)
                .map(Some)
                .map_err(|e| fail(doc, a.line(), d.column(), e.0))
        };
        let time = |line: usize, t: &Arg| {
            parse_time(&t.text).map_err(|e| fail(doc, line, t.column(), e.0))
        };
        let send_date = date(FAX_SEND_DATE)?;
        let send_time = match lines.single(doc, FAX_SEND_TIME) {
            Some(mut a) => {
                let start = time(a.line(), &first(doc, FAX_SEND_TIME, &mut a)?)?;
                let end = match a.next() {
                    Some(t) => Some(time(a.line(), &t)?),
                    None => None,
                };
                let days = match a.next() {
                    Some(d) => Some(
                        WindowDays::parse(&d.text)
                            .map_err(|e| fail(doc, a.line(), d.column(), e.0))?,
                    ),
                    None => None,
                };
                Some(SendTime { start, end, days })
            }
            None => None,
        };
        let next_date = date(FAX_NEXT_DATE)?;
        let next_time = match lines.single(doc, FAX_NEXT_TIME) {
            Some(mut a) => {
                let t = first(doc, FAX_NEXT_TIME, &mut a)?;
                Some(time(a.line(), &t)?)
            }
            None => None,
        };
        let next = next_date.map(|d| d.and_time(next_time.unwrap_or(NaiveTime::MIN)));
        let status1 = match lines.single(doc, FAX_STATUS1) {
            Some(mut a) => {
                let s = first(doc, FAX_STATUS1, &mut a)?;
                let s = number(doc, a.line(), Some(&s), 6)?.expect("present") as u8;
                let l = a.next();
                let l = number(doc, a.line(), l.as_ref(), u64::from(u32::MAX))?;
                Some((s, l.map(|n| n as u32)))
            }
            None => None,
        };
        let status2 = match lines.single(doc, FAX_STATUS2) {
            Some(mut a) => {
                let n = first(doc, FAX_STATUS2, &mut a)?;
                number(doc, a.line(), Some(&n), u64::from(u32::MAX))?.map(|n| n as u32)
            }
            None => None,
        };
        let tosend = match lines.single(doc, FAX_TOSEND) {
            Some(mut a) => {
                let n = first(doc, FAX_TOSEND, &mut a)?;
                number(doc, a.line(), Some(&n), 99)?.map(|n| n as u8)
            }
            None => None,
        };
        let send_line = match lines.single(doc, FAX_SEND_LINE) {
            Some(mut a) => {
                let g = first(doc, FAX_SEND_LINE, &mut a)?;
                validate_group_ref(&g.text).map_err(|e| fail(doc, a.line(), g.column(), e))?;
                Some(g.text.into_owned())
            }
            None => None,
        };
        let mut records = Vec::with_capacity(lines.records);
        let record_lines = doc
            .ids()
            .skip_while(|&(_, l)| l < lines.first_record)
            .filter(|&(id, _)| id == Some(ATTEMPT_RECORD))
            .map(|(_, l)| l)
            .take(lines.records);
        for l in record_lines {
            if let Some(r) = doc.after_name(l).and_then(AttemptRecord::from_plain_fields) {
                records.push(r);
                continue;
            }
            let c = doc.command(l).expect("a record line is a command");
            records.push(
                AttemptRecord::from_command(&c).map_err(|(col, why)| fail(doc, l, col, why))?,
            );
        }
        let cycle_mark = lines.cycle_mark;
        let cover = lines
            .single(doc, FAX_COVER)
            .and_then(|mut a| a.next())
            .map(|c| c.text.into_owned());
        let user = text(FAX_USER)?;
        Ok(Job {
            destinations,
            user,
            documents,
            cover,
            send_date,
            send_time,
            next,
            status1,
            status2,
            send_line,
            tosend,
            records,
            cycle_mark,
            policy: PolicyLayer::from_document(doc, Level::Fs)?,
        })
    }

    /// The channel the job's main destination uses, or `None` when it has no destination.
    pub fn channel(&self) -> Option<Channel> {
        let d = &self.destinations;
        if d.fax_phone.is_some() {
            Some(Channel::Fax)
        } else if d.voice_phone.is_some() {
            Some(Channel::Voice)
        } else if d.sms_phone.is_some() {
            Some(Channel::Sms)
        } else if d.email_address.is_some() {
            Some(Channel::Email)
        } else {
            None
        }
    }

    /// Whether the job has a phone destination (fax, voice or SMS).
    pub fn has_phone(&self) -> bool {
        let d = &self.destinations;
        d.fax_phone.is_some() || d.voice_phone.is_some() || d.sms_phone.is_some()
    }

    /// The first allowed local start: `$fax_send_date` at the send time's start (a date
    /// without a time means 00:00:00).
    pub fn send_at(&self) -> Option<NaiveDateTime> {
        let start = self.send_time.as_ref().map_or(NaiveTime::MIN, |t| t.start);
        self.send_date.map(|d| d.and_time(start))
    }

    /// When the job is next due, in local time: the engine's next time, else the send time.
    pub fn due_local(&self) -> Option<NaiveDateTime> {
        self.next.or_else(|| self.send_at())
    }

    /// The send window for every attempt, when `$fax_send_time` has an end. Its `days` week
    /// starts on the send date, else on `first_day` (the date of the first attempt).
    pub fn send_window(&self, first_day: NaiveDate) -> Option<SendWindow> {
        let t = self.send_time.as_ref()?;
        Some(SendWindow {
            start: t.start,
            end: t.end?,
            days: t.days,
            week_start: self.send_date.unwrap_or(first_day),
        })
    }

    /// The attempt records of the current cycle.
    pub fn cycle(&self) -> &[AttemptRecord] {
        let after_mark = &self.records[self.cycle_mark.min(self.records.len())..];
        let by_class = current_cycle(&self.records);
        if by_class.len() < after_mark.len() {
            by_class
        } else {
            after_mark
        }
    }

    /// Whether the job carries a final status (`$fax_status1 6`): it was finished, and moving
    /// it into a queue starts a new cycle (CopiaFacts: "no account is taken of earlier
    /// attempts"), also for files CopiaFacts wrote, which may end without a `Z` record. The
    /// daemon marks that cycle when it reads such a job from a queue (`cycle_mark`).
    pub fn is_finished(&self) -> bool {
        self.status1.is_some_and(|(s, _)| s == 6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(text: &str) -> Result<Job, ParseError> {
        Job::from_document(&Document::parse_str(text, "J.FS").unwrap())
    }

    /// The general reading, as `from_document` read jobs before its fast paths: every command
    /// through [`Document::last`] / [`Document::all`] and a full [`Command`], records through
    /// [`AttemptRecord::from_command`]. The oracle the fast reading must agree with.
    fn general(doc: &Document) -> Result<Job, ParseError> {
        use crate::command::Command;
        let fail = |cmd: &Command, column: usize, reason: String| ParseError {
            file: doc.origin().to_string(),
            line: cmd.line,
            column,
            reason,
        };
        let need_arg = |cmd: &Command| -> Result<(), ParseError> {
            if cmd.args.is_empty() {
                Err(fail(cmd, 1, format!("${} needs an argument", cmd.name)))
            } else {
                Ok(())
            }
        };
        let text = |name: &str| -> Result<Option<String>, ParseError> {
            match doc.last(name) {
                Some(ref c) => {
                    need_arg(c)?;
                    Ok(Some(c.joined()))
                }
                None => Ok(None),
            }
        };
        let mut destinations = Destinations {
            fax_phone: text("fax_phone")?,
            email_address: text("email_address")?,
            sms_phone: text("sms_phone")?,
            alternate_phone: text("alternate_phone")?,
            email_alt_address: text("email_alt_address")?,
            alternate_cover: text("alternate_cover")?,
            ..Destinations::default()
        };
        if let Some(ref c) = doc.last("voice_phone") {
            need_arg(c)?;
            destinations.voice_phone = c.arg(0).map(str::to_string);
            destinations.voice_message = c.arg(1).map(str::to_string);
            if destinations.fax_phone.is_some() {
                return Err(fail(
                    c,
                    1,
                    "$voice_phone cannot be combined with $fax_phone in one job".into(),
                ));
            }
        }
        let mut documents = Vec::new();
        for c in doc.all("fax_filename") {
            need_arg(&c)?;
            documents.extend(c.args.iter().map(|a| a.text.to_string()));
        }
        let date = |name: &str| match doc.last(name) {
            Some(ref c) => {
                need_arg(c)?;
                Ok(Some(
                    parse_date(&c.args[0].text).map_err(|e| fail(c, c.args[0].column(), e.0))?,
                ))
            }
            None => Ok(None),
        };
        let send_date = date("fax_send_date")?;
        let send_time = match doc.last("fax_send_time") {
            Some(ref c) => {
                need_arg(c)?;
                let t = |i: usize| {
                    parse_time(&c.args[i].text).map_err(|e| fail(c, c.args[i].column(), e.0))
                };
                let start = t(0)?;
                let end = if c.args.len() > 1 { Some(t(1)?) } else { None };
                let days = match c.args.get(2) {
                    Some(a) => {
                        Some(WindowDays::parse(&a.text).map_err(|e| fail(c, a.column(), e.0))?)
                    }
                    None => None,
                };
                Some(SendTime { start, end, days })
            }
            None => None,
        };
        let next_date = date("fax_next_date")?;
        let next_time = match doc.last("fax_next_time") {
            Some(ref c) => {
                need_arg(c)?;
                Some(parse_time(&c.args[0].text).map_err(|e| fail(c, c.args[0].column(), e.0))?)
            }
            None => None,
        };
        let next = next_date.map(|d| d.and_time(next_time.unwrap_or(NaiveTime::MIN)));
        let number = |c: &Command, i: usize, max: u64| -> Result<Option<u64>, ParseError> {
            match c.args.get(i) {
                None => Ok(None),
                Some(a) => a
                    .text
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n <= max)
                    .map(Some)
                    .ok_or_else(|| {
                        fail(
                            c,
                            a.column(),
                            format!("{:?} is not a number from 0 to {max}", a.text),
                        )
                    }),
            }
        };
        let status1 = match doc.last("fax_status1") {
            Some(ref c) => {
                need_arg(c)?;
                let s = number(c, 0, 6)?.expect("checked") as u8;
                Some((s, number(c, 1, u64::from(u32::MAX))?.map(|n| n as u32)))
            }
            None => None,
        };
        let status2 = match doc.last("fax_status2") {
            Some(ref c) => {
                need_arg(c)?;
                number(c, 0, u64::from(u32::MAX))?.map(|n| n as u32)
            }
            None => None,
        };
        let tosend = match doc.last("fax_tosend") {
            Some(ref c) => {
                need_arg(c)?;
                number(c, 0, 99)?.map(|n| n as u8)
            }
            None => None,
        };
        let send_line = match doc.last("fax_send_line") {
            Some(ref c) => {
                need_arg(c)?;
                validate_group_ref(&c.args[0].text).map_err(|e| fail(c, c.args[0].column(), e))?;
                Some(c.args[0].text.to_string())
            }
            None => None,
        };
        let mut records = Vec::new();
        let mut cycle_mark = 0;
        for c in doc.commands() {
            match c.name.as_ref() {
                "attempt_record" => records.push(
                    AttemptRecord::from_command(&c).map_err(|(col, why)| fail(&c, col, why))?,
                ),
                "new_cycle" | "retry_note" => cycle_mark = records.len(),
                _ => {}
            }
        }
        let cover = doc
            .last("fax_cover")
            .and_then(|c| c.arg(0).map(str::to_string));
        let user = text("fax_user")?;
        Ok(Job {
            destinations,
            user,
            documents,
            cover,
            send_date,
            send_time,
            next,
            status1,
            status2,
            send_line,
            tosend,
            records,
            cycle_mark,
            policy: PolicyLayer::from_document(doc, Level::Fs)?,
        })
    }

    /// One generated job line: a command the job reads (or one it does not) and its
    /// arguments, some plain, some quoted, empty, with doubled quotes, invalid values, bytes
    /// that are not UTF-8, or a comment.
    fn gen_line() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let names = prop::sample::select(vec![
            "$fax_phone",
            "$FAX_Phone",
            "$voice_phone",
            "$email_address",
            "$sms_phone",
            "$alternate_phone",
            "$email_alt_address",
            "$alternate_cover",
            "$fax_send_date",
            "$fax_send_time",
            "$fax_next_date",
            "$fax_next_time",
            "$fax_status1",
            "$fax_status2",
            "$fax_tosend",
            "$fax_send_line",
            "$fax_cover",
            "$fax_user",
            "$fax_filename",
            "$attempt_record",
            "$new_cycle",
            "$retry_note",
            "$fax_origin",
            "$fax_phnoe",
            "$retry_delays",
        ]);
        let arg = prop::sample::select(vec![
            "555",
            "0100",
            "\"555 0100\"",
            "\"\"",
            "\"say \"\"hi\"\"\"",
            "03/02/2026",
            "3/2/2026",
            "13/02/2026",
            "08:30:00",
            "17:00",
            "25:00",
            "\"12345\"",
            "W",
            "x",
            "0",
            "2",
            "6",
            "7",
            "99",
            "100",
            "4294967295",
            "4294967296",
            "-1",
            "fax,~0",
            "~",
            "B",
            "\"1 5 10\"",
            "M1",
            "caf\u{e9}",
            "caf\u{fffd}",
            "a.tif",
            ";c",
            "/*c",
            "a;b",
            "\u{e9}\"\"",
        ]);
        let sep = prop::sample::select(vec![" ", "\t", "  "]);
        (names, prop::collection::vec(arg, 0..6), sep, any::<bool>()).prop_map(
            |(name, args, sep, latin1)| {
                let mut line = name.as_bytes().to_vec();
                for a in args {
                    line.extend_from_slice(sep.as_bytes());
                    line.extend_from_slice(a.as_bytes());
                }
                if latin1 {
                    // A byte that is not UTF-8 inside the last argument.
                    line.push(0xe9);
                }
                line
            },
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2048))]
        /// The job read in place agrees with the general reading: the same job, or the same
        /// error (file, line, column and reason).
        #[test]
        fn reading_in_place_agrees_with_the_general_reading(
            lines in proptest::collection::vec(gen_line(), 0..12),
            crlf in proptest::prelude::any::<bool>(),
        ) {
            let mut text = Vec::new();
            for l in &lines {
                text.extend_from_slice(l);
                text.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            if let Ok(doc) = Document::parse(&text, "gen.FS") {
                let fast = Job::from_document(&doc);
                proptest::prop_assert_eq!(fast, general(&doc), "{}", String::from_utf8_lossy(&text));
            }
        }
    }

    #[test]
    fn reading_in_place_agrees_on_chosen_jobs() {
        for text in [
            "$fax_phone 555 0100\n$fax_phone \"555  0199\" ; later wins\n",
            "$fax_phone\n",
            "$fax_phone \"\"\n$fax_user \"a \"\"b\"\"\"\n",
            "$voice_phone\n$fax_phone 1\n",
            "$fax_phone 1\n$voice_phone 2 msg.wav extra\n",
            "$voice_phone 2 \"m s g\"\n",
            "$fax_filename a b\n$fax_filename\n",
            "$fax_filename a ;x\n$fax_filename \"b c\" d\n",
            "$fax_send_date 02/30/2026\n",
            "$fax_send_time 08:30 17:00:00 \"12345\" DEST\n$fax_send_date 3/2/2026\n",
            "$fax_send_time 08:30 17:60\n",
            "$fax_send_time 08:30 17:00 \"1x\"\n",
            "$fax_next_date 03/03/2026\n$fax_next_time\n",
            "$fax_status1 6 4294967296\n",
            "$fax_status1 6 12\n$fax_status2 -1\n",
            "$fax_tosend 100\n",
            "$fax_send_line \"\"\n",
            "$fax_send_line fax,~0 x\n",
            "$fax_cover\n$fax_cover\n",
            "$fax_cover \"c v\"\n$fax_user\n",
            "$FAX_USER caf\u{e9}\n$Fax_Status1 2\n",
            "$attempt_record 03/02/2026 08:31:05 1 0 1 2 B 0 1 0 M1 0 35 0 \"\"\n$new_cycle\n",
            "$attempt_record 03/02/2026 08:31:05 1 0 1 2 Q\n",
        ] {
            let doc = Document::parse_str(text, "c.FS").unwrap();
            assert_eq!(Job::from_document(&doc), general(&doc), "{text}");
        }
        let latin1 =
            Document::parse(b"$fax_phone caf\xe9 1\n$fax_send_date \xe9\n", "l.FS").unwrap();
        let e = Job::from_document(&latin1).unwrap_err();
        assert_eq!(Err(e.clone()), general(&latin1));
        assert_eq!((e.file.as_str(), e.line, e.column), ("l.FS", 2, 16));
    }

    #[test]
    fn every_record_is_read_whatever_lies_between_them() {
        let j = job(concat!(
            "; a comment\n\n$fax_phone 555 0100\n; another\n",
            "$attempt_record 03/02/2026 08:31:05 1 0 1 2 B 0 1 0 M1 0 35 0 \"\"\n",
            "; between\n\n$fax_status1 2\n",
            "$Attempt_Record 03/02/2026 09:31:05 1 0 1 3 A 0 1 0 M2 0 35 0 \"X Y\" ; note\n",
            "$retry_note 03/02/2026 10:00:00 manual 0 \"again\"\n",
            "$attempt_record 03/02/2026 10:31:05 1 0 1 0 S 1 1 0 M3 14400 35 20 \"\"\n",
        ))
        .unwrap();
        let lines: Vec<&str> = j.records.iter().map(|r| r.boardline()).collect();
        assert_eq!(lines, ["M1", "M2", "M3"]);
        assert_eq!(j.records[1].answerback(), "X Y");
        assert_eq!(j.cycle_mark, 2);
    }

    #[test]
    fn reads_a_typical_fax_job() {
        let j = job(concat!(
            "$fax_user DEFAULT.USR\n$fax_phone 555 0100\n$alternate_phone 555-0199\n",
            "$fax_filename a.tif b.txt\n$fax_filename c.pbm\n$fax_send_date 03/02/2026\n",
            "$fax_send_time 08:30:00 17:00:00 \"12345\"\n$fax_status1 2\n$fax_status2 2\n$fax_tosend 3\n",
            "$fax_send_line fax,~0\n$retry_delays B \"2 2 30\"\n",
            "$attempt_record 03/02/2026 08:31:05 1 0 3 2 B 0 3 0 M1 0 40 0 \"\"\n",
        ))
        .unwrap();
        assert_eq!(j.destinations.fax_phone.as_deref(), Some("555 0100"));
        assert_eq!(j.channel(), Some(Channel::Fax));
        assert_eq!(j.documents, ["a.tif", "b.txt", "c.pbm"]);
        assert_eq!(j.send_at().unwrap().to_string(), "2026-03-02 08:30:00");
        assert_eq!(j.status1, Some((2, None)));
        assert_eq!((j.status2, j.tosend), (Some(2), Some(3)));
        assert_eq!(j.records.len(), 1);
        assert_eq!(j.policy.delays.len(), 1);
        let w = j
            .send_window(NaiveDate::from_ymd_opt(2030, 1, 1).unwrap())
            .unwrap();
        assert_eq!(w.week_start, NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
    }

    #[test]
    fn next_time_wins_over_send_time() {
        let j = job("$fax_phone 1\n$fax_send_date 03/02/2026\n$fax_next_date 03/03/2026\n$fax_next_time 09:15:00\n").unwrap();
        assert_eq!(j.due_local().unwrap().to_string(), "2026-03-03 09:15:00");
        assert_eq!(job("$fax_phone 1\n").unwrap().due_local(), None);
    }

    #[test]
    fn voice_and_email_channels() {
        let j = job("$voice_phone 5550100 msg.wav\n").unwrap();
        assert_eq!(j.channel(), Some(Channel::Voice));
        assert_eq!(j.destinations.voice_message.as_deref(), Some("msg.wav"));
        let j = job("$email_address a@example.org\n").unwrap();
        assert_eq!((j.channel(), j.has_phone()), (Some(Channel::Email), false));
        assert_eq!(job("$fax_user X\n").unwrap().channel(), None);
    }

    #[test]
    fn bad_values_name_line_and_column() {
        let e = job("$fax_phone 1\n$fax_send_date 13/01/2026\n").unwrap_err();
        assert_eq!((e.line, e.column), (2, 16));
        let e = job("$fax_phone 1\n$fax_status1 9\n").unwrap_err();
        assert!(e.reason.contains("0 to 6"), "{e}");
        let e = job("$fax_phone\n").unwrap_err();
        assert!(e.reason.contains("needs an argument"));
        let e = job("$fax_phone 1\n$voice_phone 2\n").unwrap_err();
        assert!(e.reason.contains("cannot be combined"));
        let e = job("$fax_phone 1\n$attempt_record 1 2\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = job("$fax_phone 1\n$retry_delays B \"2 x\"\n").unwrap_err();
        assert_eq!(e.line, 2);
    }
}
