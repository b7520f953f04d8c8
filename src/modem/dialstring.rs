//! Dial strings: turning a job's destination number into the text after `ATD`, safely.
//!
//! Owns the rule that nothing but digits and dial modifiers ever reaches a modem. A number may
//! be written for people (`+1 (555) 010-0100`, `555.0100`); the separators are dropped, and any
//! other character — a `;`, a CR, an `AT` hidden in a number — is a permanent error (outcome 11)
//! before the modem sees anything. Pure.

use std::fmt;

/// Longest dial string accepted (most modems buffer about 40 characters after `ATD`).
pub const MAX_DIAL_LEN: usize = 40;

/// A validated dial string: only `0-9 * # A-D` and the modifiers `T P W , @ !`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialString(String);

/// Why a number cannot be dialled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialError {
    /// Nothing to dial.
    #[error("the number is empty")]
    Empty,
    /// A character that is neither a digit, a modifier nor a separator.
    #[error("{found:?} at position {position} of {number:?} is not a digit or dial modifier")]
    BadChar {
        /// The number as written.
        number: String,
        /// The character.
        found: char,
        /// 1-based position.
        position: usize,
    },
    /// Too long for the modem's buffer.
    #[error("the number has {0} dial characters; the limit is {MAX_DIAL_LEN}")]
    TooLong(usize),
    /// Only modifiers, no digit.
    #[error("{0:?} has no digit to dial")]
    NoDigits(String),
}

impl DialString {
    /// Validates a number for dialling. `prefix` (e.g. an outside-line `9,`) is validated too.
    pub fn new(number: &str, prefix: &str) -> Result<DialString, DialError> {
        let mut out = String::new();
        for text in [prefix, number] {
            for (i, c) in text.chars().enumerate() {
                match c.to_ascii_uppercase() {
                    d @ ('0'..='9' | '*' | '#' | 'A'..='D' | 'T' | 'P' | 'W' | ',' | '@' | '!') => {
                        out.push(d)
                    }
                    ' ' | '-' | '.' | '(' | ')' | '/' => {}
                    '+' if i == 0 => {}
                    _ => {
                        return Err(DialError::BadChar {
                            number: text.to_string(),
                            found: c,
                            position: i + 1,
                        })
                    }
                }
            }
        }
        if out.is_empty() {
            return Err(DialError::Empty);
        }
        if out.len() > MAX_DIAL_LEN {
            return Err(DialError::TooLong(out.len()));
        }
        if !out
            .chars()
            .any(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D'))
        {
            return Err(DialError::NoDigits(number.to_string()));
        }
        Ok(DialString(out))
    }

    /// The characters to put after `ATD`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DialString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_formats_are_normalised() {
        assert_eq!(DialString::new("555 0100", "").unwrap().as_str(), "5550100");
        assert_eq!(
            DialString::new("+1 (555) 010-0100", "").unwrap().as_str(),
            "15550100100"
        );
        assert_eq!(
            DialString::new("555.0100", "9,").unwrap().as_str(),
            "9,5550100"
        );
        assert_eq!(
            DialString::new("t5550100w123#", "").unwrap().as_str(),
            "T5550100W123#"
        );
    }

    #[test]
    fn no_at_injection() {
        for evil in [
            "555;ATH",
            "5550100\rATZ",
            "555\n",
            "555+1",
            "555 0100;",
            "5550100&F",
            "555=1",
            "555\u{0}",
        ] {
            assert!(
                matches!(DialString::new(evil, ""), Err(DialError::BadChar { .. })),
                "{evil:?}"
            );
        }
        assert!(
            DialString::new("5550100", "9;").is_err(),
            "prefixes are checked too"
        );
        // A-D are DTMF digits and T a modifier: "ATD" inside a number is dialled, never executed.
        assert_eq!(DialString::new("ATD1", "").unwrap().as_str(), "ATD1");
    }

    #[test]
    fn empty_long_and_digitless() {
        assert_eq!(DialString::new(" - ", ""), Err(DialError::Empty));
        assert_eq!(
            DialString::new(&"1".repeat(41), ""),
            Err(DialError::TooLong(41))
        );
        assert!(matches!(
            DialString::new("W,,", ""),
            Err(DialError::NoDigits(_))
        ));
        let e = DialString::new("555x", "").unwrap_err();
        assert_eq!(
            e.to_string(),
            "'x' at position 4 of \"555x\" is not a digit or dial modifier"
        );
    }
}
