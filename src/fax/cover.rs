//! Cover pages (`$fax_cover TEMPLATE`): a text template whose `$name` fields are filled from the
//! job, then drawn like a text document (DejaVu Sans Mono, 80 × 66 on A4).
//!
//! A field is `$` followed by a name (letters, digits and `_`, starting with a letter); `$$` is
//! a dollar sign, and a `$` not followed by a letter stays as written (`$5.00`). What a name
//! means is up to the caller's lookup (see the daemon: `$pages`, `$date`, `$time`, the job's
//! commands such as `$fax_to_name`, and `$var_def` variables); a name the lookup does not know
//! is an error naming the template's line, so a misspelt field fails the job before dialling
//! instead of going out as `$fax_to_nmae`.
//!
//! Templates must be text (UTF-8 or Latin-1 without control characters but tab, newline,
//! carriage return and form feed); anything else, such as the binary cover formats of other fax
//! products, is refused.

use thiserror::Error;

/// Why a cover template cannot be filled.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CoverError {
    /// Not a text file.
    #[error(
        "not a text cover template (binary cover-page formats of other fax software are not \
         read; write the cover as text with $fields)"
    )]
    NotText,
    /// A field the job does not define.
    #[error("line {line}: unknown field ${name}")]
    UnknownField {
        /// 1-based line of the template.
        line: usize,
        /// The name, without `$`.
        name: String,
    },
}

/// The template with every field replaced by `lookup(name)`.
pub fn fill_cover(
    template: &[u8],
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, CoverError> {
    let text = match std::str::from_utf8(template) {
        Ok(s) => s.to_owned(),
        Err(_) => template.iter().map(|&b| char::from(b)).collect(),
    };
    if text
        .chars()
        .any(|c| c.is_control() && !"\t\n\r\u{c}".contains(c))
    {
        return Err(CoverError::NotText);
    }
    let mut out = String::with_capacity(text.len());
    let mut line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            line += 1;
        }
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('$') => {
                chars.next();
                out.push('$');
            }
            Some(n) if n.is_ascii_alphabetic() => {
                let mut name = String::new();
                while let Some(&n) = chars.peek() {
                    if n.is_ascii_alphanumeric() || n == '_' {
                        name.push(n);
                        chars.next();
                    } else {
                        break;
                    }
                }
                match lookup(&name.to_ascii_lowercase()) {
                    Some(v) => out.push_str(&v),
                    None => return Err(CoverError::UnknownField { line, name }),
                }
            }
            _ => out.push('$'),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(name: &str) -> Option<String> {
        match name {
            "fax_to_name" => Some("Harbour Supplies".into()),
            "pages" => Some("3".into()),
            _ => None,
        }
    }

    #[test]
    fn fields_are_filled_and_unknown_ones_named() {
        let t = b"To: $fax_to_name\nPages: $PAGES (cover included)\nPrice $5.00, $$10\n";
        assert_eq!(
            fill_cover(t, lookup).unwrap(),
            "To: Harbour Supplies\nPages: 3 (cover included)\nPrice $5.00, $10\n"
        );
        assert_eq!(
            fill_cover(b"To: $fax_to_name\nFrom: $fax_sendr\n", lookup),
            Err(CoverError::UnknownField {
                line: 2,
                name: "fax_sendr".into()
            })
        );
        assert_eq!(
            fill_cover(b"\x00\x01binary cover", lookup),
            Err(CoverError::NotText)
        );
        // Latin-1 text is text.
        assert_eq!(fill_cover(b"Gr\xfc\xdfe", lookup).unwrap(), "Grüße");
    }
}
