//! The calendar: time zone, working days, holidays, pause windows and send windows.
//!
//! Owns every conversion between local wall-clock time and UTC, including the DST rules (a local
//! time in a spring-forward gap means the first instant after the gap; a time in an autumn fold
//! means the earlier instant). Call sites never resolve local times themselves. Pure: no clock.

use crate::command::{parse_days, ValueError};
use crate::retry::delays::DayRule;
use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone,
    Timelike, Utc,
};
use chrono_tz::Tz;
use std::collections::BTreeSet;

/// The days a window starts on: the DAYS field of `$pause_window` and `$fax_send_time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowDays {
    /// Digits `0` (Sunday) to `6` (Saturday), or `*` (all seven). In a send window they are
    /// CopiaFacts' permitted days of the week from the send date (then outcome 183).
    Weekdays([bool; 7]),
    /// `W`: working days — a `$working_days` weekday that is not a `$holiday`.
    Working,
    /// `N`: non-working days — the other weekdays, and holidays.
    NonWorking,
}

impl WindowDays {
    /// Parses a DAYS field: `W`, `N` (either case, alone), or digits / `*` as for
    /// `$working_days`.
    pub fn parse(s: &str) -> Result<WindowDays, ValueError> {
        let t = s.trim();
        if t.eq_ignore_ascii_case("W") {
            return Ok(WindowDays::Working);
        }
        if t.eq_ignore_ascii_case("N") {
            return Ok(WindowDays::NonWorking);
        }
        if t.chars()
            .any(|c| c.eq_ignore_ascii_case(&'W') || c.eq_ignore_ascii_case(&'N'))
        {
            return Err(ValueError(format!(
                "day list {s:?}: W (working days) and N (non-working days) stand alone, without digits"
            )));
        }
        parse_days(s).map(WindowDays::Weekdays).map_err(|e| {
            ValueError(format!(
                "{} (or W for working days, N for non-working days)",
                e.0
            ))
        })
    }
}

/// A daily window of local time on some days; `end <= start` runs past midnight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyWindow {
    /// The days on which the window starts.
    pub days: WindowDays,
    /// Local start time.
    pub start: NaiveTime,
    /// Local end time (exclusive).
    pub end: NaiveTime,
}

/// The job's send window (`$fax_send_time start end [days]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendWindow {
    /// Attempts may start from this local time…
    pub start: NaiveTime,
    /// …until this one (exclusive; may be past midnight).
    pub end: NaiveTime,
    /// Allowed days. Digits apply only to the week starting on `week_start` (spec 2.3); `W` and
    /// `N` apply for as long as the job lives.
    pub days: Option<WindowDays>,
    /// The send date the digit days' week counts from.
    pub week_start: NaiveDate,
}

/// Why no start time could be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The permitted days of the send window are over (outcome code 183).
    #[error("the permitted days of the send window (week from {0}) are over")]
    WindowExpired(NaiveDate),
    /// Windows leave no time at all to start an attempt.
    #[error("pause and send windows leave no time to start an attempt within a year")]
    NoAllowedTime,
}

/// Time zone, working days, holidays and pause windows in force for one job.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    /// The zone of every local time in the job's files.
    pub tz: Tz,
    /// Working weekdays (0 = Sunday); default Monday to Friday.
    pub working_days: [bool; 7],
    /// Non-working dates.
    pub holidays: BTreeSet<NaiveDate>,
    /// No attempt starts inside one of these.
    pub pause_windows: Vec<DailyWindow>,
}

impl Default for Calendar {
    fn default() -> Self {
        Calendar {
            tz: Tz::UTC,
            working_days: [false, true, true, true, true, true, false],
            holidays: BTreeSet::new(),
            pause_windows: Vec::new(),
        }
    }
}

fn weekday(d: NaiveDate) -> usize {
    d.weekday().num_days_from_sunday() as usize
}

/// How far ahead any search looks before giving up.
const HORIZON_DAYS: i64 = 400;

impl Calendar {
    /// Local wall-clock time of an instant.
    pub fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        t.with_timezone(&self.tz).naive_local()
    }

    /// The instant of a local time: gap → the first instant after the gap, fold → the earlier.
    pub fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.tz.from_local_datetime(&local) {
            LocalResult::Single(t) => t.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => a.min(b).with_timezone(&Utc),
            LocalResult::None => {
                // Gaps are whole minutes in every zone in use; step to the first valid minute.
                let mut probe = local;
                for _ in 0..(26 * 60) {
                    probe += Duration::minutes(1);
                    let whole = probe
                        .date()
                        .and_hms_opt(probe.hour(), probe.minute(), 0)
                        .expect("hour and minute of a valid time");
                    if let LocalResult::Single(t) | LocalResult::Ambiguous(t, _) =
                        self.tz.from_local_datetime(&whole)
                    {
                        return t.with_timezone(&Utc);
                    }
                }
                Utc.from_utc_datetime(&local)
            }
        }
    }

    /// Whether a date is a working day (a working weekday and not a holiday).
    pub fn is_working(&self, d: NaiveDate) -> bool {
        self.working_days[weekday(d)] && !self.holidays.contains(&d)
    }

    /// Whether a window with these days may start on date `d` (digits: its weekday only).
    pub fn on_days(&self, days: WindowDays, d: NaiveDate) -> bool {
        match days {
            WindowDays::Weekdays(w) => w[weekday(d)],
            WindowDays::Working => self.is_working(d),
            WindowDays::NonWorking => !self.is_working(d),
        }
    }

    /// The first occurrence of local time `at` strictly after `after`, on a day allowed by `rule`.
    pub fn next_clock(
        &self,
        after: DateTime<Utc>,
        at: NaiveTime,
        rule: DayRule,
    ) -> Option<DateTime<Utc>> {
        let first = self.local(after).date() - Duration::days(1);
        (0..HORIZON_DAYS)
            .map(|i| first + Duration::days(i))
            .filter(|&d| match rule {
                DayRule::Any => true,
                DayRule::Working => self.is_working(d),
                DayRule::NonWorking => !self.is_working(d),
            })
            .map(|d| self.instant(d.and_time(at)))
            .find(|&t| t > after)
    }

    /// The end of the pause window holding `t`, if any.
    fn pause_end(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.pause_windows
            .iter()
            .filter_map(|w| {
                self.holding(|d| self.on_days(w.days, d), w.start, w.end, t)
                    .map(|(_, end)| end)
            })
            .max()
    }

    /// The bounds of the window that starts on local date `d`.
    fn window_on(
        &self,
        d: NaiveDate,
        start: NaiveTime,
        end: NaiveTime,
    ) -> (DateTime<Utc>, DateTime<Utc>) {
        let end_date = if end <= start {
            d + Duration::days(1)
        } else {
            d
        };
        (
            self.instant(d.and_time(start)),
            self.instant(end_date.and_time(end)),
        )
    }

    /// The start date of a window (starting on an allowed day) that holds `t`, if any.
    fn holding(
        &self,
        allowed: impl Fn(NaiveDate) -> bool,
        start: NaiveTime,
        end: NaiveTime,
        t: DateTime<Utc>,
    ) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let date = self.local(t).date();
        [date - Duration::days(1), date]
            .into_iter()
            .filter(|&d| allowed(d))
            .map(|d| self.window_on(d, start, end))
            .find(|&(from, to)| from <= t && t < to)
    }

    fn send_day_allowed(&self, w: &SendWindow, d: NaiveDate) -> Result<bool, CalendarError> {
        match w.days {
            None => Ok(true),
            Some(WindowDays::Weekdays(days)) => {
                if d >= w.week_start + Duration::days(7) {
                    return Err(CalendarError::WindowExpired(w.week_start));
                }
                Ok(d >= w.week_start && days[weekday(d)])
            }
            Some(days) => Ok(self.on_days(days, d)),
        }
    }

    /// Moves `t` to the next instant the send window allows (or keeps it).
    fn move_into_send_window(
        &self,
        w: &SendWindow,
        t: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let allowed = |d| self.send_day_allowed(w, d).unwrap_or(false);
        if self.holding(allowed, w.start, w.end, t).is_some() {
            return Ok(t);
        }
        let date = self.local(t).date();
        for i in 0..HORIZON_DAYS {
            let d = date + Duration::days(i);
            if !self.send_day_allowed(w, d)? {
                continue;
            }
            let from = self.instant(d.and_time(w.start));
            if from > t {
                return Ok(from);
            }
        }
        Err(CalendarError::NoAllowedTime)
    }

    /// The earliest instant at or after `t` when an attempt may start: outside every pause
    /// window and inside the send window, if the job has one. `t` is kept when it is allowed,
    /// even if it is in the past: callers that schedule an attempt go through
    /// [`crate::retry::engine::earliest_start`], which never starts before now.
    pub fn earliest_start(
        &self,
        t: DateTime<Utc>,
        send: Option<&SendWindow>,
    ) -> Result<DateTime<Utc>, CalendarError> {
        let mut t = t;
        for _ in 0..1000 {
            let mut next = t;
            if let Some(w) = send {
                next = self.move_into_send_window(w, next)?;
            }
            if let Some(end) = self.pause_end(next) {
                next = end;
            }
            if next == t {
                return Ok(t);
            }
            if next - t > Duration::days(HORIZON_DAYS) {
                break;
            }
            t = next;
        }
        Err(CalendarError::NoAllowedTime)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }
    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }
    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn clock_time_today_or_later() {
        let c = Calendar::default();
        // Monday 2026-03-02 10:00 UTC.
        let t = utc("2026-03-02T10:00:00Z");
        assert_eq!(
            c.next_clock(t, hm(17, 30), DayRule::Any),
            Some(utc("2026-03-02T17:30:00Z"))
        );
        assert_eq!(
            c.next_clock(t, hm(9, 0), DayRule::Any),
            Some(utc("2026-03-03T09:00:00Z"))
        );
        assert_eq!(
            c.next_clock(t, hm(10, 0), DayRule::Any),
            Some(utc("2026-03-03T10:00:00Z")),
            "strictly after"
        );
    }

    #[test]
    fn working_and_non_working_days_with_holidays() {
        let mut c = Calendar::default();
        c.holidays.insert(ymd(2026, 3, 9)); // Monday
                                            // Friday 2026-03-06 18:00.
        let fri = utc("2026-03-06T18:00:00Z");
        assert_eq!(
            c.next_clock(fri, hm(17, 30), DayRule::Working),
            Some(utc("2026-03-10T17:30:00Z"))
        );
        assert_eq!(
            c.next_clock(fri, hm(8, 0), DayRule::NonWorking),
            Some(utc("2026-03-07T08:00:00Z"))
        );
        let sun = utc("2026-03-08T09:00:00Z");
        assert_eq!(
            c.next_clock(sun, hm(8, 0), DayRule::NonWorking),
            Some(utc("2026-03-09T08:00:00Z")),
            "holiday Monday is non-working"
        );
        c.working_days = [true; 7];
        assert_eq!(
            c.next_clock(fri, hm(8, 0), DayRule::Working),
            Some(utc("2026-03-07T08:00:00Z"))
        );
    }

    #[test]
    fn dst_gap_and_fold_in_berlin() {
        let c = Calendar {
            tz: "Europe/Berlin".parse().unwrap(),
            ..Calendar::default()
        };
        // 2026-03-29 02:30 does not exist in Berlin: the first instant after the gap is 03:00 CEST = 01:00Z.
        let before = utc("2026-03-28T23:00:00Z");
        assert_eq!(
            c.next_clock(before, hm(2, 30), DayRule::Any),
            Some(utc("2026-03-29T01:00:00Z"))
        );
        // 2026-10-25 02:30 happens twice: the earlier is 02:30 CEST = 00:30Z.
        let before = utc("2026-10-24T22:00:00Z");
        assert_eq!(
            c.next_clock(before, hm(2, 30), DayRule::Any),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        // 17:30 local is 16:30Z before the change and 15:30Z after it.
        assert_eq!(
            c.next_clock(utc("2026-03-28T12:00:00Z"), hm(17, 30), DayRule::Any),
            Some(utc("2026-03-28T16:30:00Z"))
        );
        assert_eq!(
            c.next_clock(utc("2026-03-29T12:00:00Z"), hm(17, 30), DayRule::Any),
            Some(utc("2026-03-29T15:30:00Z"))
        );
    }

    #[test]
    fn pause_windows_push_to_their_end_including_past_midnight() {
        let c = Calendar {
            pause_windows: vec![
                DailyWindow {
                    days: WindowDays::Weekdays([true; 7]),
                    start: hm(21, 0),
                    end: hm(8, 0),
                },
                DailyWindow {
                    days: WindowDays::Weekdays([false, false, false, false, false, false, true]),
                    start: hm(8, 0),
                    end: hm(12, 0),
                },
            ],
            ..Calendar::default()
        };
        assert_eq!(
            c.earliest_start(utc("2026-03-02T23:00:00Z"), None),
            Ok(utc("2026-03-03T08:00:00Z"))
        );
        assert_eq!(
            c.earliest_start(utc("2026-03-03T02:00:00Z"), None),
            Ok(utc("2026-03-03T08:00:00Z"))
        );
        assert_eq!(
            c.earliest_start(utc("2026-03-03T12:00:00Z"), None),
            Ok(utc("2026-03-03T12:00:00Z"))
        );
        // Friday night runs into Saturday morning's window: both apply in turn.
        assert_eq!(
            c.earliest_start(utc("2026-03-06T22:00:00Z"), None),
            Ok(utc("2026-03-07T12:00:00Z"))
        );
    }

    #[test]
    fn send_window_and_its_week() {
        let c = Calendar::default();
        let w = SendWindow {
            start: hm(8, 30),
            end: hm(17, 0),
            days: Some(WindowDays::Weekdays([
                false, true, false, true, false, false, false,
            ])),
            week_start: ymd(2026, 3, 2),
        };
        // Monday 18:00 → Wednesday 08:30.
        assert_eq!(
            c.earliest_start(utc("2026-03-02T18:00:00Z"), Some(&w)),
            Ok(utc("2026-03-04T08:30:00Z"))
        );
        assert_eq!(
            c.earliest_start(utc("2026-03-04T09:00:00Z"), Some(&w)),
            Ok(utc("2026-03-04T09:00:00Z"))
        );
        // After Wednesday's window the week has no allowed day left.
        assert_eq!(
            c.earliest_start(utc("2026-03-04T17:00:00Z"), Some(&w)),
            Err(CalendarError::WindowExpired(ymd(2026, 3, 2)))
        );
        let night = SendWindow {
            start: hm(22, 0),
            end: hm(6, 0),
            days: None,
            week_start: ymd(2026, 3, 2),
        };
        assert_eq!(
            c.earliest_start(utc("2026-03-03T03:00:00Z"), Some(&night)),
            Ok(utc("2026-03-03T03:00:00Z"))
        );
        assert_eq!(
            c.earliest_start(utc("2026-03-03T07:00:00Z"), Some(&night)),
            Ok(utc("2026-03-03T22:00:00Z"))
        );
    }

    #[test]
    fn windows_that_leave_no_time_are_an_error() {
        let c = Calendar {
            pause_windows: vec![DailyWindow {
                days: WindowDays::Weekdays([true; 7]),
                start: hm(0, 0),
                end: hm(0, 0),
            }],
            ..Calendar::default()
        };
        assert_eq!(
            c.earliest_start(utc("2026-03-03T07:00:00Z"), None),
            Err(CalendarError::NoAllowedTime)
        );
    }

    #[test]
    fn window_days_syntax() {
        assert_eq!(WindowDays::parse("W"), Ok(WindowDays::Working));
        assert_eq!(WindowDays::parse(" w "), Ok(WindowDays::Working));
        assert_eq!(WindowDays::parse("N"), Ok(WindowDays::NonWorking));
        assert_eq!(WindowDays::parse("n"), Ok(WindowDays::NonWorking));
        assert_eq!(
            WindowDays::parse("135"),
            Ok(WindowDays::Weekdays([
                false, true, false, true, false, true, false
            ]))
        );
        assert_eq!(WindowDays::parse("*"), Ok(WindowDays::Weekdays([true; 7])));
        let mixed = WindowDays::parse("12W").unwrap_err().0;
        assert!(mixed.contains("stand alone"), "{mixed}");
        assert!(WindowDays::parse("WN").is_err());
        let bad = WindowDays::parse("X").unwrap_err().0;
        assert!(bad.contains("W for working days"), "{bad}");
        assert!(WindowDays::parse("").is_err());
    }

    fn christmas() -> Calendar {
        let mut c = Calendar::default();
        c.holidays.insert(ymd(2026, 12, 25)); // a Friday
        c
    }

    #[test]
    fn a_working_days_send_window_skips_holidays_and_weekends_for_ever() {
        let c = christmas();
        let w = SendWindow {
            start: hm(9, 0),
            end: hm(17, 0),
            days: Some(WindowDays::Working),
            week_start: ymd(2026, 12, 1),
        };
        // Thursday 12/24 after the window → Monday 12/28 (Friday is a holiday).
        assert_eq!(
            c.earliest_start(utc("2026-12-24T18:00:00Z"), Some(&w)),
            Ok(utc("2026-12-28T09:00:00Z"))
        );
        // On the holiday itself, inside the hours → still Monday.
        assert_eq!(
            c.earliest_start(utc("2026-12-25T10:00:00Z"), Some(&w)),
            Ok(utc("2026-12-28T09:00:00Z"))
        );
        assert_eq!(
            c.earliest_start(utc("2026-12-28T10:00:00Z"), Some(&w)),
            Ok(utc("2026-12-28T10:00:00Z"))
        );
        // No week limit: weeks after week_start are still working days.
        assert_eq!(
            c.earliest_start(utc("2027-02-05T18:00:00Z"), Some(&w)),
            Ok(utc("2027-02-08T09:00:00Z"))
        );
        // $working_days moves the working week.
        let mut six = christmas();
        six.working_days = [false, true, true, true, true, true, true];
        assert_eq!(
            six.earliest_start(utc("2026-12-24T18:00:00Z"), Some(&w)),
            Ok(utc("2026-12-26T09:00:00Z"))
        );
        // N: only weekends and holidays.
        let n = SendWindow {
            days: Some(WindowDays::NonWorking),
            ..w
        };
        assert_eq!(
            c.earliest_start(utc("2026-12-23T10:00:00Z"), Some(&n)),
            Ok(utc("2026-12-25T09:00:00Z"))
        );
    }

    #[test]
    fn digit_days_ignore_holidays_and_keep_their_week() {
        // CopiaFacts' digits name weekdays of the week from the send date; holidays do not
        // close them, and after that week the window is over.
        let c = christmas();
        let w = SendWindow {
            start: hm(9, 0),
            end: hm(17, 0),
            days: Some(WindowDays::Weekdays([
                false, false, false, false, false, true, false,
            ])),
            week_start: ymd(2026, 12, 24),
        };
        assert_eq!(
            c.earliest_start(utc("2026-12-24T18:00:00Z"), Some(&w)),
            Ok(utc("2026-12-25T09:00:00Z"))
        );
        assert_eq!(
            c.earliest_start(utc("2026-12-25T17:00:00Z"), Some(&w)),
            Err(CalendarError::WindowExpired(ymd(2026, 12, 24)))
        );
    }

    #[test]
    fn working_and_non_working_day_pause_windows() {
        let mut c = christmas();
        c.pause_windows = vec![
            // Lunch on working days.
            DailyWindow {
                days: WindowDays::Working,
                start: hm(12, 0),
                end: hm(13, 0),
            },
            // All day on weekends and holidays.
            DailyWindow {
                days: WindowDays::NonWorking,
                start: hm(0, 0),
                end: hm(0, 0),
            },
        ];
        assert_eq!(
            c.earliest_start(utc("2026-12-24T12:30:00Z"), None),
            Ok(utc("2026-12-24T13:00:00Z"))
        );
        // The holiday, the weekend, then Monday from midnight.
        assert_eq!(
            c.earliest_start(utc("2026-12-25T12:30:00Z"), None),
            Ok(utc("2026-12-28T00:00:00Z"))
        );
        assert_eq!(
            c.earliest_start(utc("2026-12-24T23:59:00Z"), None),
            Ok(utc("2026-12-24T23:59:00Z"))
        );
        // Monday lunch is paused; Saturday's "lunch" is inside the all-day pause anyway.
        assert_eq!(
            c.earliest_start(utc("2026-12-28T12:00:00Z"), None),
            Ok(utc("2026-12-28T13:00:00Z"))
        );
    }
}
