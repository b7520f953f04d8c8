//! The header line stamped at the top of every page sent (`$fax_header "FORMAT"`): who sends,
//! from which number, when, to whom, and page N of M. In the United States 47 CFR 68.318(d)
//! requires the date and time, the sender's name and the sending number on every faxed page.
//!
//! The format is text with fields:
//!
//! | field | value |
//! |---|---|
//! | `%d` | date, `YYYY-MM-DD` |
//! | `%t` | time, `HH:MM` (24-hour) |
//! | `%z` | time zone abbreviation (`UTC`, `CET`, `EST`…) |
//! | `%s` | sender name (`$fax_sender`) |
//! | `%n` | sending number (`$fax_station_id`, else the line's `id=`) |
//! | `%r` | recipient (`$fax_to_name`, else the number dialled) |
//! | `%p` | page number |
//! | `%P` | page count |
//! | `%%` | a percent sign |
//!
//! `|` splits the line into a left, a centred and a right-aligned part (one or two `|`). Any other
//! `%` sequence is kept as written; one that looks like a field (`%` and a letter) is named by
//! [`unknown_fields`], which `redial submit` refuses and the daemon logs. The line is drawn in
//! DejaVu Sans Mono, about 8 points high, in a white band over the top 4.5 mm of the page (36
//! scan lines fine, 18 standard), which fax documents leave blank by convention.
//!
//! Pure: text and fields in, pixels out.

use super::bitmap::{Bitmap, Page, Resolution, PAGE_WIDTH};
use super::text::{TextLayout, TextRenderer};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Scan lines of the band at fine resolution (4.7 mm).
pub const BAND_LINES_FINE: u32 = 36;
/// Characters across the band (14 pixels each, so about 14.6 characters per inch).
const COLUMNS: u32 = 118;
const PITCH: u32 = 14;

/// What a header line says, but for the page numbers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderFields {
    /// `%d`.
    pub date: String,
    /// `%t`.
    pub time: String,
    /// `%z`.
    pub zone: String,
    /// `%s`.
    pub sender: String,
    /// `%n`.
    pub station: String,
    /// `%r`.
    pub recipient: String,
}

/// The fields [`header_text`] fills, with what each is.
const FIELDS: &[(char, &str)] = &[
    ('d', "date"),
    ('t', "time"),
    ('z', "time zone"),
    ('s', "sender"),
    ('n', "sending number"),
    ('r', "recipient"),
    ('p', "page"),
    ('P', "page count"),
];

/// The `%` sequences of `format` that look like a field but are none (`%` then a letter
/// [`header_text`] does not know, which it would print as written), each as a sentence naming
/// it and what it probably meant: the same letter in the other case, else the list. A `%`
/// before anything but a letter is a plain percent sign and is not reported.
pub fn unknown_fields(format: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.peek().copied() {
            Some('%') => {
                chars.next();
            }
            Some(x) if x.is_ascii_alphabetic() && !FIELDS.iter().any(|(f, _)| *f == x) => {
                chars.next();
                let near = FIELDS
                    .iter()
                    .find(|(f, _)| f.eq_ignore_ascii_case(&x))
                    .map(|(f, what)| format!(" (did you mean %{f}, the {what}?)"));
                let known = || {
                    let list: Vec<String> = FIELDS
                        .iter()
                        .map(|(f, what)| format!("%{f} {what}"))
                        .collect();
                    format!("; known: {}, %% a percent sign", list.join(", "))
                };
                out.push(format!(
                    "%{x} is not a header field, it would be printed as written{}",
                    near.unwrap_or_else(known)
                ));
            }
            _ => {}
        }
    }
    out
}

/// The header text for page `page` of `pages` (1-based): fields replaced, parts split at `|`
/// and laid out on [`COLUMNS`] characters.
pub fn header_text(format: &str, f: &HeaderFields, page: usize, pages: usize) -> String {
    let mut out = String::new();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            // Control characters would be dropped by the renderer and shift the layout.
            out.push(if c.is_control() { ' ' } else { c });
            continue;
        }
        match chars.peek().copied() {
            Some('d') => out.push_str(&f.date),
            Some('t') => out.push_str(&f.time),
            Some('z') => out.push_str(&f.zone),
            Some('s') => out.push_str(&f.sender),
            Some('n') => out.push_str(&f.station),
            Some('r') => out.push_str(&f.recipient),
            Some('p') => out.push_str(&page.to_string()),
            Some('P') => out.push_str(&pages.to_string()),
            Some('%') => out.push('%'),
            _ => {
                out.push('%');
                continue;
            }
        }
        chars.next();
    }
    let clean = |s: &str| -> Vec<char> {
        s.trim()
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let parts: Vec<Vec<char>> = out.splitn(3, '|').map(clean).collect();
    let width = COLUMNS as usize;
    let mut line = vec![' '; width];
    let mut put = |at: usize, s: &[char]| {
        for (i, c) in s.iter().enumerate() {
            if let Some(slot) = line.get_mut(at + i) {
                *slot = *c;
            }
        }
    };
    match parts.as_slice() {
        [left] => put(0, left),
        [left, right] => {
            put(width.saturating_sub(right.len()), right);
            put(0, left);
        }
        [left, centre, right, ..] => {
            put(width.saturating_sub(centre.len()) / 2, centre);
            put(width.saturating_sub(right.len()), right);
            put(0, left);
        }
        [] => {}
    }
    line.into_iter().collect::<String>().trim_end().to_owned()
}

/// Whitens the top band of `page` and draws `text` in it.
pub fn stamp_header(page: &mut Page, text: &str) {
    let band = header_band(text);
    let band = match page.resolution() {
        Resolution::Fine => band,
        Resolution::Standard => Page::new(band.into_bitmap(), Resolution::Fine).to_standard(),
    };
    let lines = band.lines().min(page.lines());
    let bitmap = page.bitmap_mut();
    for y in 0..lines {
        bitmap.row_mut(y).copy_from_slice(band.bitmap().row(y));
    }
}

/// The band (fine resolution) with `text` drawn in it.
fn header_band(text: &str) -> Page {
    static RENDERER: OnceLock<Mutex<TextRenderer>> = OnceLock::new();
    let layout = TextLayout {
        columns: COLUMNS,
        lines: 1,
        column_pitch: PITCH,
        line_pitch: 26,
        page_lines: BAND_LINES_FINE,
    };
    let renderer = RENDERER.get_or_init(|| Mutex::new(TextRenderer::new(layout)));
    let mut r = renderer.lock().unwrap_or_else(PoisonError::into_inner);
    // One line: the renderer wraps at COLUMNS, which header_text never exceeds.
    match r.render(text).into_iter().next() {
        Some(p) => p,
        None => Page::new(Bitmap::new(PAGE_WIDTH, BAND_LINES_FINE), Resolution::Fine),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_fields_are_named_with_what_they_probably_meant() {
        assert!(unknown_fields("%d %t %z|From %s (%n) to %r|Page %p of %P, 100%% %").is_empty());
        // A percent sign before a blank or a digit is a percent sign.
        assert!(unknown_fields("100% sure, 5%2").is_empty());
        let u = unknown_fields("%D %q");
        assert_eq!(u.len(), 2, "{u:?}");
        assert_eq!(
            u[0],
            "%D is not a header field, it would be printed as written (did you mean %d, the date?)"
        );
        assert!(
            u[1].starts_with("%q is not a header field") && u[1].contains("known: %d date"),
            "{}",
            u[1]
        );
        // Every field it knows is one header_text fills.
        for (f, _) in FIELDS {
            assert_ne!(
                header_text(&format!("%{f}"), &fields(), 1, 1),
                format!("%{f}")
            );
        }
    }

    fn fields() -> HeaderFields {
        HeaderFields {
            date: "2026-12-02".into(),
            time: "09:05".into(),
            zone: "CET".into(),
            sender: "Acme Widgets".into(),
            station: "+49 30 5550100".into(),
            recipient: "Harbour Supplies".into(),
        }
    }

    #[test]
    fn fields_are_replaced_and_parts_aligned() {
        let t = header_text("%d %t %z|From %s (%n) to %r|Page %p of %P", &fields(), 2, 5);
        assert!(t.starts_with("2026-12-02 09:05 CET "), "{t}");
        assert!(t.ends_with("Page 2 of 5"), "{t}");
        assert_eq!(t.chars().count(), COLUMNS as usize);
        let centre = "From Acme Widgets (+49 30 5550100) to Harbour Supplies";
        let at = t.find(centre).unwrap();
        assert!((at as i64 - (COLUMNS as i64 - centre.len() as i64) / 2).abs() <= 1);
        assert_eq!(header_text("100%% %x %", &fields(), 1, 1), "100% %x %");
        assert_eq!(header_text("a\tb", &fields(), 1, 1), "a b");
        // Longer than the line: cut, never wrapped onto a second line.
        let long = "x".repeat(500);
        assert_eq!(header_text(&long, &fields(), 1, 1).len(), COLUMNS as usize);
    }

    #[test]
    fn the_band_replaces_the_top_of_the_page_at_either_resolution() {
        for resolution in [Resolution::Fine, Resolution::Standard] {
            let mut all_black = Bitmap::new(PAGE_WIDTH, 200);
            all_black.invert();
            let mut page = Page::new(all_black, resolution);
            let text = header_text("%d|%s|Page %p of %P", &fields(), 1, 3);
            stamp_header(&mut page, &text);
            let band = match resolution {
                Resolution::Fine => BAND_LINES_FINE,
                Resolution::Standard => BAND_LINES_FINE / 2,
            };
            let black_in_band: u64 = (0..band)
                .map(|y| {
                    page.bitmap()
                        .row(y)
                        .iter()
                        .map(|b| u64::from(b.count_ones()))
                        .sum::<u64>()
                })
                .sum();
            let band_pixels = u64::from(PAGE_WIDTH) * u64::from(band);
            assert!(black_in_band > 500, "text drawn: {black_in_band}");
            assert!(black_in_band < band_pixels / 5, "band whitened");
            assert_eq!(page.bitmap().row(band)[0], 0xff, "the rest kept");
            assert_eq!(page.lines(), 200);
        }
    }
}
