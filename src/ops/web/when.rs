//! How the console writes times: RFC 3339 with the offset in JSON (one format for every
//! endpoint), and on the pages the local time with its zone plus a relative time ("in 16 min",
//! "3 h ago"). Owns formatting only; it never reads a clock.

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;

/// RFC 3339 at whole seconds in `tz`, with its offset (`Z` for UTC):
/// `2026-03-02T09:00:00+01:00`.
pub fn rfc3339(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// [`rfc3339`] of an optional time.
pub fn rfc3339_opt(t: Option<DateTime<Utc>>, tz: Tz) -> Option<String> {
    t.map(|t| rfc3339(t, tz))
}

/// The local time with its zone for a page: `2026-03-02 09:00:00 CET`.
pub fn local(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// `t` seen from `now`: `in 16 min`, `3 h ago`, `now` (within a second).
pub fn relative(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    let a = secs.unsigned_abs();
    let span = match a {
        0 => return "now".into(),
        1..=59 => format!("{a} s"),
        60..=3599 => format!("{} min", a / 60),
        3600..=86_399 => format!("{} h", a / 3600),
        _ => format!("{} d", a / 86_400),
    };
    if secs > 0 {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// The instant local day `d` starts in `tz` (at the first valid local time when midnight falls
/// in a clock change).
pub fn day_start(d: chrono::NaiveDate, tz: Tz) -> DateTime<Utc> {
    use chrono::TimeZone;
    let midnight = d.and_time(chrono::NaiveTime::MIN);
    (0..=3)
        .find_map(|h| {
            tz.from_local_datetime(&(midnight + chrono::Duration::hours(h)))
                .earliest()
        })
        .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
}

/// [`local`] followed by [`relative`] in parentheses.
pub fn both(t: DateTime<Utc>, now: DateTime<Utc>, tz: Tz) -> String {
    format!("{} ({})", local(t, tz), relative(t, now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_format_with_the_offset_and_relative_words() {
        let t: DateTime<Utc> = "2026-03-02T09:00:00.250Z".parse().unwrap();
        assert_eq!(rfc3339(t, chrono_tz::UTC), "2026-03-02T09:00:00Z");
        assert_eq!(
            rfc3339(t, chrono_tz::Europe::Paris),
            "2026-03-02T10:00:00+01:00"
        );
        assert_eq!(
            local(t, chrono_tz::Europe::Paris),
            "2026-03-02 10:00:00 CET"
        );
        let m = |s: i64| t + chrono::Duration::seconds(s);
        assert_eq!(relative(m(960), t), "in 16 min");
        assert_eq!(relative(m(-3 * 3600 - 5), t), "3 h ago");
        assert_eq!(relative(t, t), "now");
        assert_eq!(relative(m(-30), t), "30 s ago");
        assert_eq!(relative(m(2 * 86_400), t), "in 2 d");
        let d = chrono::NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        assert_eq!(
            day_start(d, chrono_tz::Europe::Paris).to_rfc3339(),
            "2026-03-01T23:00:00+00:00"
        );
    }
}
