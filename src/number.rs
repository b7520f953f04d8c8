//! Destination numbers and addresses: owns how destinations are compared. Never touches files.
//!
//! Two destinations are the same when [`normalize`] gives the same key. Every place that asks
//! "is this the same callee?" goes through it: the destination hash behind
//! `$max_concurrent_calls`, the destination locks and the destination breaker
//! (`daemon::dest_hash`), the operator's "most recent job to this destination" rule
//! (`ops::scan`, `ops::eligibility`), the do-not-call list and the daily cap
//! (`spool::dnc`, `spool::counts`).
//!
//! The rule, for a phone number: **the same digits dialled is the same number.**
//!
//! * Only the digits `0`–`9` are kept. Separators people write (`(555) 010-0100`, `555.0100`,
//!   `555 0100`) and dial modifiers (`T`, `P`, `W`, `,`, `!`, `@`) do not change whom the line
//!   reaches, so they are dropped.
//! * A leading `+` is dropped too: a line dials `+1 555 010 0100` as `15550100100` (see
//!   `modem::dialstring`), so the two spellings reach the same callee.
//! * No country or trunk prefix is added or removed: redial has no numbering plan, and guessing
//!   one (is the leading `1` of `1 555 010 0100` a trunk prefix, or the first digit of a local
//!   number?) could merge two different callees. `1 555 010 0100` and `555 010 0100` are two
//!   keys; write numbers in one form in your jobs, or list both forms on the do-not-call list.
//! * A number with no digit has the empty key, which matches nothing.
//!
//! An **e-mail address** (see [`is_address`]) is compared trimmed and in lower case.

/// Whether `destination` is an e-mail address rather than a dial string: it has an `@` after its
/// first character, and either a dot after the last `@` or a character no line could dial (a
/// letter other than the DTMF digits `A`–`D` and the modifiers `T`, `P`, `W`). `@` alone is a
/// dial modifier ("wait for quiet answer"), so `5550100@` is a number.
pub fn is_address(destination: &str) -> bool {
    let s = destination.trim();
    let Some(at) = s.rfind('@') else {
        return false;
    };
    if at == 0 {
        return false;
    }
    s[at + 1..].contains('.')
        || s.chars().any(|c| {
            c.is_alphabetic() && !matches!(c.to_ascii_uppercase(), 'A'..='D' | 'T' | 'P' | 'W')
        })
}

/// The key two destinations are compared by: the digits of a number (a leading `+`, separators
/// and dial modifiers dropped), or an e-mail address trimmed and in lower case. See the module
/// documentation for the whole rule.
pub fn normalize(destination: &str) -> String {
    if is_address(destination) {
        destination.trim().to_lowercase()
    } else {
        destination.chars().filter(char::is_ascii_digit).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_of_one_number_share_a_key() {
        for s in [
            "555-010-0100",
            "(555) 010-0100",
            "555.010.0100",
            " 555 010 0100 ",
            "555/0100100",
            "T5550100100",
            "W555,010,0100",
        ] {
            assert_eq!(normalize(s), "5550100100", "{s:?}");
        }
        assert_eq!(normalize("+1 (555) 010-0100"), "15550100100");
        assert_eq!(normalize("1-555-010-0100"), "15550100100");
        // No numbering plan is guessed: a trunk or country prefix makes another key.
        assert_ne!(normalize("+1 555 010 0100"), normalize("555 010 0100"));
        assert_ne!(normalize("555-0100"), normalize("(555) 010-0100"));
        assert_eq!(normalize("5550100@"), "5550100");
    }

    #[test]
    fn numbers_without_digits_have_the_empty_key() {
        assert_eq!(normalize(""), "");
        assert_eq!(normalize(" - ( ) "), "");
        assert_eq!(normalize("+"), "");
    }

    #[test]
    fn addresses_are_lower_case() {
        assert!(is_address("Jo.Smith@Example.COM"));
        assert_eq!(normalize(" Jo.Smith@Example.COM "), "jo.smith@example.com");
        assert_eq!(normalize("abc@d.ca"), "abc@d.ca");
        assert_eq!(normalize("root@localhost"), "root@localhost");
        assert!(!is_address("5550100@"));
        assert!(!is_address("@5550100"));
        assert!(!is_address("555 0100"));
    }
}
