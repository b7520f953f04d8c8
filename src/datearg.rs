//! The one parser for the date and time options of every command (`--send-date`, `--since`,
//! `--until`, `--now`, `--start`) and the web filter's dates. Four forms:
//!
//! * `MM/DD/YYYY` — CopiaFacts' own (as in `$fax_send_date`);
//! * `YYYY-MM-DD`;
//! * `YYYY-MM-DDTHH:MM` or `YYYY-MM-DDTHH:MM:SS` (a space instead of `T` too) — local time,
//!   read in the CFG's `$timezone` (UTC without one);
//! * RFC 3339 with `Z` or an offset (`2026-03-02T14:05:00Z`, `2026-03-02T09:05:00-05:00`) — an
//!   instant.
//!
//! An option that wants an instant takes a date as its local midnight; an option that wants a
//! day takes the local date of a time (an instant's date in `$timezone`).

use crate::calendar::Calendar;
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use std::str::FromStr;

/// What the forms accept, for messages.
pub const FORMS: &str = "MM/DD/YYYY, YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS] (local time) or RFC 3339 \
                         (2026-03-02T14:05:00Z, with Z or an offset)";

/// A date or time as given on a command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateArg {
    /// A day: `MM/DD/YYYY` or `YYYY-MM-DD`.
    Date(NaiveDate),
    /// A local date and time: `YYYY-MM-DDTHH:MM[:SS]`.
    Local(NaiveDateTime),
    /// An instant: RFC 3339.
    Instant(DateTime<FixedOffset>),
}

impl DateArg {
    /// Reads one of the four forms; the error names them.
    pub fn parse(s: &str) -> Result<DateArg, String> {
        let t = s.trim();
        let bad = || format!("{s:?} is not a date or time: give {FORMS}");
        if t.contains('/') {
            return crate::command::parse_date(t)
                .map(DateArg::Date)
                .map_err(|_| bad());
        }
        if t.len() == 10 {
            return strict_date(t).map(DateArg::Date).ok_or_else(bad);
        }
        let (date, rest) = t.split_at_checked(10).ok_or_else(bad)?;
        let date = strict_date(date).ok_or_else(bad)?;
        let rest = rest
            .strip_prefix(['T', 't', ' '])
            .filter(|r| !r.is_empty())
            .ok_or_else(bad)?;
        // The time: HH:MM or HH:MM:SS (with a fraction only in RFC 3339), then an optional zone.
        let zone_at = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
        let (clock, zone) = rest.split_at(zone_at);
        if zone.is_empty() {
            let time = strict_time(clock).ok_or_else(bad)?;
            return Ok(DateArg::Local(date.and_time(time)));
        }
        DateTime::parse_from_rfc3339(&t.replacen(' ', "T", 1))
            .map(DateArg::Instant)
            .map_err(|_| bad())
    }

    /// The instant: a local form read in `tz` (a date is its midnight; a local time that a
    /// clock change skips is the first instant after the gap, one it repeats the earlier).
    pub fn instant(&self, tz: Tz) -> DateTime<Utc> {
        let cal = Calendar {
            tz,
            ..Calendar::default()
        };
        match self {
            DateArg::Date(d) => cal.instant(d.and_time(NaiveTime::MIN)),
            DateArg::Local(t) => cal.instant(*t),
            DateArg::Instant(t) => t.with_timezone(&Utc),
        }
    }

    /// The local date and time in `tz` (a date is its midnight).
    pub fn local(&self, tz: Tz) -> NaiveDateTime {
        match self {
            DateArg::Date(d) => d.and_time(NaiveTime::MIN),
            DateArg::Local(t) => *t,
            DateArg::Instant(t) => t.with_timezone(&tz).naive_local(),
        }
    }

    /// The local day in `tz`.
    pub fn date(&self, tz: Tz) -> NaiveDate {
        self.local(tz).date()
    }

    /// Whether a time of day was given (not a date alone).
    pub fn has_time(&self) -> bool {
        !matches!(self, DateArg::Date(_))
    }
}

impl FromStr for DateArg {
    type Err = String;
    fn from_str(s: &str) -> Result<DateArg, String> {
        DateArg::parse(s)
    }
}

/// `YYYY-MM-DD`, digits exactly.
fn strict_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    shape
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

/// `HH:MM` or `HH:MM:SS`, two digits each.
fn strict_time(s: &str) -> Option<NaiveTime> {
    let parts: Vec<&str> = s.split(':').collect();
    if !(2..=3).contains(&parts.len())
        || parts
            .iter()
            .any(|p| p.len() != 2 || !p.bytes().all(|c| c.is_ascii_digit()))
    {
        return None;
    }
    let n = |i: usize| parts.get(i).map_or(Some(0), |p| p.parse().ok());
    NaiveTime::from_hms_opt(n(0)?, n(1)?, n(2)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_four_forms() {
        let d = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert_eq!(DateArg::parse("03/02/2026"), Ok(DateArg::Date(d)));
        assert_eq!(DateArg::parse("3/2/2026"), Ok(DateArg::Date(d)));
        assert_eq!(DateArg::parse("2026-03-02"), Ok(DateArg::Date(d)));
        let t = d.and_hms_opt(10, 6, 0).unwrap();
        for s in [
            "2026-03-02T10:06",
            "2026-03-02T10:06:00",
            "2026-03-02 10:06",
        ] {
            assert_eq!(DateArg::parse(s), Ok(DateArg::Local(t)), "{s}");
        }
        for s in [
            "2026-03-02T15:06:00Z",
            "2026-03-02T10:06:00-05:00",
            "2026-03-02 15:06:00+00:00",
            "2026-03-02T15:06:00.000Z",
        ] {
            let a = DateArg::parse(s).unwrap();
            assert!(matches!(a, DateArg::Instant(_)), "{s}");
            assert_eq!(a.instant(Tz::UTC), utc("2026-03-02T15:06:00Z"), "{s}");
        }
    }

    #[test]
    fn local_forms_are_read_in_the_time_zone() {
        let ny: Tz = "America/New_York".parse().unwrap();
        let a = DateArg::parse("2026-03-02T10:06").unwrap();
        assert_eq!(a.instant(ny), utc("2026-03-02T15:06:00Z"));
        assert_eq!(a.instant(Tz::UTC), utc("2026-03-02T10:06:00Z"));
        let midnight = DateArg::parse("03/02/2026").unwrap();
        assert_eq!(midnight.instant(ny), utc("2026-03-02T05:00:00Z"));
        // An instant's day is its local day.
        let late = DateArg::parse("2026-03-03T02:00:00Z").unwrap();
        assert_eq!(late.date(ny), NaiveDate::from_ymd_opt(2026, 3, 2).unwrap());
        assert_eq!(
            late.date(Tz::UTC),
            NaiveDate::from_ymd_opt(2026, 3, 3).unwrap()
        );
        // 02:30 does not exist on 03/08/2026 in New York: the first instant after the gap.
        let gap = DateArg::parse("2026-03-08T02:30").unwrap();
        assert_eq!(gap.instant(ny), utc("2026-03-08T07:00:00Z"));
    }

    #[test]
    fn anything_else_is_refused_with_the_forms() {
        for bad in [
            "",
            "yesterday",
            "3/2",
            "13/01/2026",
            "02/30/2026",
            "2026-02-30",
            "2026-3-2",
            "26-03-02",
            "2026-03-02T",
            "2026-03-02T10",
            "2026-03-02T25:00",
            "2026-03-02T10:6",
            "2026-03-02T10:06:00+5",
            "2026-03-02X10:06",
            "2026/03/02",
        ] {
            let e = DateArg::parse(bad).unwrap_err();
            assert!(
                e.contains("MM/DD/YYYY") && e.contains("YYYY-MM-DD") && e.contains("RFC 3339"),
                "{bad}: {e}"
            );
        }
    }
}
