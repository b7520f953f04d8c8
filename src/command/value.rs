//! Values inside command arguments: US dates, times, day sets and integers.
//!
//! Owns the formats the reference fixes (`MM/DD/YYYY`, `HH:MM:SS`, day digits 0 = Sunday).
//! Every function is pure and returns a reason an operator can act on.

use chrono::{Datelike, NaiveDate, NaiveTime, Timelike};

/// Why a value did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

/// Splits `s` at `sep` into at most `N` fields of 1 to `max` (at most 9) ASCII digits each,
/// with the length of the last field; `None` when there are more than `N`, fewer than `min`, or
/// a field is not such digits. One pass over the bytes, no allocation.
fn fields<const N: usize>(
    s: &[u8],
    sep: u8,
    min: usize,
    max: usize,
) -> Option<([u32; N], usize, usize)> {
    debug_assert!(max <= 9, "nine digits fit a u32");
    let mut out = [0u32; N];
    let (mut n, mut len, mut value) = (0, 0, 0u32);
    for &b in s {
        if b == sep {
            if len == 0 || n == N {
                return None;
            }
            out[n] = value;
            (n, len, value) = (n + 1, 0, 0);
            continue;
        }
        let d = b.wrapping_sub(b'0');
        if d > 9 || len == max {
            return None;
        }
        value = value * 10 + u32::from(d);
        len += 1;
    }
    if len == 0 || n == N {
        return None;
    }
    out[n] = value;
    (n + 1 >= min).then_some((out, n + 1, len))
}

/// `MM/DD/YYYY`.
pub fn parse_date(s: &str) -> Result<NaiveDate, ValueError> {
    let bad = || ValueError(format!("{s:?} is not a date in MM/DD/YYYY form"));
    let ([m, d, y], _, year_len) = fields::<3>(s.as_bytes(), b'/', 3, 9).ok_or_else(bad)?;
    if year_len != 4 {
        return Err(bad());
    }
    NaiveDate::from_ymd_opt(y as i32, m, d)
        .ok_or_else(|| ValueError(format!("{s:?} is not a real calendar date")))
}

/// The value of an ASCII digit.
fn digit(b: u8) -> Option<u8> {
    let d = b.wrapping_sub(b'0');
    (d <= 9).then_some(d)
}

/// [`parse_date`] of bytes, without saying why not (for fast paths that fall back to it).
pub fn date_of(s: &[u8]) -> Option<NaiveDate> {
    // The form redial writes (`MM/DD/YYYY`, every record), read without the general loop.
    if let [m1, m2, b'/', d1, d2, b'/', y1, y2, y3, y4] = *s {
        let n = |a: u8, b: u8| Some(u32::from(digit(a)?) * 10 + u32::from(digit(b)?));
        let (m, d) = (n(m1, m2)?, n(d1, d2)?);
        let y = n(y1, y2)? * 100 + n(y3, y4)?;
        return NaiveDate::from_ymd_opt(y as i32, m, d);
    }
    match fields::<3>(s, b'/', 3, 9)? {
        ([m, d, y], _, 4) => NaiveDate::from_ymd_opt(y as i32, m, d),
        _ => None,
    }
}

/// [`parse_time`] of bytes, without saying why not.
pub fn time_of(s: &[u8]) -> Option<NaiveTime> {
    // `HH:MM:SS`, the form redial writes, without the general loop.
    if let [h1, h2, b':', m1, m2, b':', s1, s2] = *s {
        let n = |a: u8, b: u8| Some(u32::from(digit(a)?) * 10 + u32::from(digit(b)?));
        return NaiveTime::from_hms_opt(n(h1, h2)?, n(m1, m2)?, n(s1, s2)?);
    }
    let ([h, m, sec], _, _) = fields::<3>(s, b':', 2, 2)?;
    NaiveTime::from_hms_opt(h, m, sec)
}

/// `HH:MM:SS` or `HH:MM` (24-hour clock).
pub fn parse_time(s: &str) -> Result<NaiveTime, ValueError> {
    let bad = || ValueError(format!("{s:?} is not a time in HH:MM:SS or HH:MM form"));
    let ([h, m, sec], _, _) = fields::<3>(s.as_bytes(), b':', 2, 2).ok_or_else(bad)?;
    NaiveTime::from_hms_opt(h, m, sec).ok_or_else(bad)
}

/// Day digits `0`–`6` (0 = Sunday), or `*` for every day, as a set indexed by days from Sunday.
pub fn parse_days(s: &str) -> Result<[bool; 7], ValueError> {
    if s.trim() == "*" {
        return Ok([true; 7]);
    }
    let mut days = [false; 7];
    if s.is_empty() {
        return Err(ValueError(
            "the day list is empty (use digits 0-6, or *)".into(),
        ));
    }
    for c in s.chars() {
        match c.to_digit(10) {
            Some(d) if d <= 6 => days[d as usize] = true,
            _ if c == ' ' || c == ',' => {}
            _ => {
                return Err(ValueError(format!(
                    "{c:?} in day list {s:?} is not a day digit 0 (Sunday) to 6 (Saturday)"
                )))
            }
        }
    }
    Ok(days)
}

/// A decimal integer (optionally negative).
pub fn parse_int(s: &str) -> Result<i64, ValueError> {
    s.parse()
        .map_err(|_| ValueError(format!("{s:?} is not a whole number")))
}

/// Formats `MM/DD/YYYY`.
pub fn format_date(d: NaiveDate) -> String {
    let mut s = String::with_capacity(10);
    write_date(&mut s, d);
    s
}

/// Formats `HH:MM:SS`.
pub fn format_time(t: NaiveTime) -> String {
    let mut s = String::with_capacity(8);
    write_time(&mut s, t);
    s
}

/// Writes `MM/DD/YYYY` at the end of `out`.
pub fn write_date(out: &mut String, d: NaiveDate) {
    use std::fmt::Write;
    // Writing into a String cannot fail.
    let _ = write!(out, "{:02}/{:02}/{:04}", d.month(), d.day(), d.year());
}

/// Writes `HH:MM:SS` at the end of `out`.
pub fn write_time(out: &mut String, t: NaiveTime) {
    use std::fmt::Write;
    let _ = write!(out, "{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(
            parse_date("03/02/2024").unwrap(),
            NaiveDate::from_ymd_opt(2024, 3, 2).unwrap()
        );
        assert_eq!(format_date(parse_date("3/2/2024").unwrap()), "03/02/2024");
        assert!(parse_date("02/30/2024")
            .unwrap_err()
            .0
            .contains("real calendar"));
        for bad in ["2024-03-02", "03/02/24", "a/b/cccc", "", "03/02/2024/1"] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(
            parse_time("08:30:00").unwrap(),
            NaiveTime::from_hms_opt(8, 30, 0).unwrap()
        );
        assert_eq!(
            parse_time("17:00").unwrap(),
            NaiveTime::from_hms_opt(17, 0, 0).unwrap()
        );
        assert_eq!(format_time(parse_time("7:05:09").unwrap()), "07:05:09");
        for bad in ["24:00", "12:60", "1:2:3:4", "", "aa:bb", "123:00"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    /// The byte readers' fast paths for the forms redial writes give what the general readers
    /// give, for every digit pattern and for near misses (a letter, a wrong separator).
    #[test]
    fn fast_paths_read_as_the_general_readers() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let alphabet = b"0123456789012345678901234567890123456789/:a 9";
        for _ in 0..200_000 {
            let r = next();
            let mut date = *b"03/02/2026";
            let mut time = *b"10:00:00";
            for (i, b) in date.iter_mut().enumerate() {
                *b = alphabet[((r >> (i * 5)) % alphabet.len() as u64) as usize];
            }
            for (i, b) in time.iter_mut().enumerate() {
                *b = alphabet[((r >> (i * 7 + 3)) % alphabet.len() as u64) as usize];
            }
            if r & 1 == 0 {
                (date[2], date[5], time[2], time[5]) = (b'/', b'/', b':', b':');
            }
            let d = std::str::from_utf8(&date).unwrap();
            let t = std::str::from_utf8(&time).unwrap();
            assert_eq!(date_of(&date), parse_date(d).ok(), "{d:?}");
            assert_eq!(time_of(&time), parse_time(t).ok(), "{t:?}");
        }
        assert_eq!(date_of(b"02/29/2024"), NaiveDate::from_ymd_opt(2024, 2, 29));
        assert_eq!(date_of(b"02/29/2025"), None);
        assert_eq!(time_of(b"23:59:59"), NaiveTime::from_hms_opt(23, 59, 59));
        assert_eq!(time_of(b"24:00:00"), None);
    }

    #[test]
    fn days() {
        assert_eq!(
            parse_days("12345").unwrap(),
            [false, true, true, true, true, true, false]
        );
        assert_eq!(parse_days("*").unwrap(), [true; 7]);
        assert!(parse_days("17").is_err());
        assert!(parse_days("").is_err());
    }
}
