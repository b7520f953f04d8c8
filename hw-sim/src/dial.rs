//! Dial strings (`ATD…`): validation and the number the exchange routes on.
//!
//! Owns which characters are legal (digits, `* # A-D`, `T P W , @ ; !`, and the separators
//! space and `-`) and how long dialling takes. Anything else is an error, as in spandsp.

use std::time::Duration;

/// A parsed dial string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialString {
    /// Exactly what followed `D`.
    pub raw: String,
    /// Digits only (`0-9 * # A-D`), the key for the scenario.
    pub number: String,
    /// Number of `,` pauses.
    pub commas: u32,
    /// `;` seen: stay in command mode after the call is set up.
    pub stay_in_command: bool,
    /// `@` seen: wait for quiet answer.
    pub quiet_answer: bool,
    /// Pulse dialling was selected for (some of) the digits.
    pub pulse: bool,
}

/// Parse the text after `D`. Returns `None` for an illegal character.
pub fn parse(raw: &str) -> Option<DialString> {
    let mut d = DialString {
        raw: raw.to_string(),
        number: String::new(),
        commas: 0,
        stay_in_command: false,
        quiet_answer: false,
        pulse: false,
    };
    for c in raw.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' | '*' | '#' | 'A'..='D' => d.number.push(c.to_ascii_uppercase()),
            'T' => d.pulse = false,
            'P' => d.pulse = true,
            'W' | '!' | ' ' | '-' => {}
            ',' => d.commas += 1,
            '@' => d.quiet_answer = true,
            ';' => d.stay_in_command = true,
            _ => return None,
        }
    }
    Some(d)
}

impl DialString {
    /// Line time to dial: `S6` wait, 100 ms per tone digit (1 s pulse), `S8` per comma.
    pub fn dial_time(&self, s6: u8, s8: u8) -> Duration {
        let per_digit = if self.pulse { 1000 } else { 100 };
        Duration::from_secs(s6.max(1) as u64)
            + Duration::from_millis(per_digit * self.number.len() as u64)
            + Duration::from_secs(s8 as u64 * self.commas as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modifiers_are_stripped() {
        let d = parse("T9,W555-0100;").unwrap();
        assert_eq!(d.number, "95550100");
        assert_eq!(d.commas, 1);
        assert!(d.stay_in_command);
        assert!(parse("(555)").is_none());
        assert!(parse("12x").is_none());
        assert_eq!(parse("*#abcd").unwrap().number, "*#ABCD");
    }
}
