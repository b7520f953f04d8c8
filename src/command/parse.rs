//! The nom grammar of one line: a `$command` with arguments, a comment, or a blank line.
//!
//! Owns lexical rules only (quoting with `""`, `;` and `/*` comments, case-insensitive names,
//! the 8192-byte line limit). It never interprets what a command means.

use nom::branch::alt;
use nom::bytes::complete::{is_not, tag, take_while, take_while1};
use nom::character::complete::{char, satisfy};
use nom::combinator::{opt, recognize};
use nom::multi::many0;
use nom::sequence::delimited;
use nom::{IResult, Parser};
use std::fmt;

/// The longest line the language allows, in bytes (line terminator not counted).
pub const MAX_LINE_BYTES: usize = 8192;

/// A parse failure, located precisely enough for an operator to fix the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ParseError {
    /// The file the text came from (as given by the caller).
    pub file: String,
    /// 1-based line number.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// A plain-English reason.
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.reason
        )
    }
}

/// One argument of a command, unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    /// The argument's value with quotes removed and `""` turned into `"`.
    pub text: String,
    /// Whether it was written in quotes.
    pub quoted: bool,
    /// 1-based column where the argument starts.
    pub column: usize,
}

/// A `$name args…` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// The command name in lower case, without the `$`.
    pub name: String,
    /// The arguments in order.
    pub args: Vec<Arg>,
    /// 1-based line number in the file it was read from.
    pub line: usize,
}

impl Command {
    /// The argument texts.
    pub fn texts(&self) -> Vec<&str> {
        self.args.iter().map(|a| a.text.as_str()).collect()
    }

    /// The argument at `i`, if present.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(|a| a.text.as_str())
    }

    /// All arguments joined by single spaces (for commands such as `$fax_phone 555 0100`).
    pub fn joined(&self) -> String {
        self.texts().join(" ")
    }
}

/// What one line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind {
    /// Empty or white space only.
    Blank,
    /// A comment line (`;` or `/*` first).
    Comment,
    /// A command.
    Command(Command),
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

fn ws0(i: &str) -> IResult<&str, &str> {
    take_while(is_ws)(i)
}

fn ws1(i: &str) -> IResult<&str, &str> {
    take_while1(is_ws)(i)
}

fn comment_start(i: &str) -> IResult<&str, &str> {
    alt((tag(";"), tag("/*"))).parse(i)
}

fn name(i: &str) -> IResult<&str, &str> {
    recognize((
        satisfy(|c| c.is_ascii_alphabetic()),
        take_while(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
    ))
    .parse(i)
}

/// `"…"` with `""` standing for one `"`.
fn quoted(i: &str) -> IResult<&str, String> {
    let piece = alt((is_not("\""), tag("\"\"")));
    delimited(char('"'), many0(piece), char('"'))
        .map(|parts: Vec<&str>| {
            parts
                .into_iter()
                .map(|p| if p == "\"\"" { "\"" } else { p })
                .collect::<String>()
        })
        .parse(i)
}

fn bare(i: &str) -> IResult<&str, &str> {
    take_while1(|c: char| !is_ws(c))(i)
}

/// Parses one line (without its terminator). `line` is the 1-based number used in errors.
pub fn parse_line(text: &str, file: &str, line: usize) -> Result<LineKind, ParseError> {
    let err = |rest: &str, reason: String| ParseError {
        file: file.to_string(),
        line,
        column: text[..text.len() - rest.len()].chars().count() + 1,
        reason,
    };
    if text.len() > MAX_LINE_BYTES {
        return Err(ParseError {
            file: file.to_string(),
            line,
            column: MAX_LINE_BYTES + 1,
            reason: format!(
                "line is {} bytes long; the limit is {MAX_LINE_BYTES}",
                text.len()
            ),
        });
    }
    let (rest, _) = ws0(text).expect("ws0 never fails");
    if rest.is_empty() {
        return Ok(LineKind::Blank);
    }
    if comment_start(rest).is_ok() {
        return Ok(LineKind::Comment);
    }
    let Some(after_dollar) = rest.strip_prefix('$') else {
        return Err(err(
            rest,
            "expected a $command, a comment (; or /*) or a blank line".into(),
        ));
    };
    let (mut rest, name) = name(after_dollar).map_err(|_| {
        err(
            after_dollar,
            "a command name must follow '$' and start with a letter".into(),
        )
    })?;
    if let Some(c) = rest.chars().next() {
        if !is_ws(c) {
            return Err(err(
                rest,
                format!("unexpected character {c:?} in command name ${name}"),
            ));
        }
    }
    let mut args = Vec::new();
    while let Ok((after_ws, _)) = ws1(rest) {
        rest = after_ws;
        if rest.is_empty() || comment_start(rest).is_ok() {
            break;
        }
        let column = text[..text.len() - rest.len()].chars().count() + 1;
        if rest.starts_with('"') {
            let (after, value) = quoted(rest)
                .map_err(|_| err(rest, "quoted argument has no closing quote".into()))?;
            if let Some(c) = after.chars().next() {
                if !is_ws(c) {
                    return Err(err(
                        after,
                        format!("expected white space after the closing quote, found {c:?}"),
                    ));
                }
            }
            args.push(Arg {
                text: value,
                quoted: true,
                column,
            });
            rest = after;
        } else {
            let (after, value) =
                bare(rest).map_err(|_| err(rest, "expected an argument".into()))?;
            args.push(Arg {
                text: value.to_string(),
                quoted: false,
                column,
            });
            rest = after;
        }
    }
    // Only a comment or white space may remain; the loop stops exactly there.
    let _ = opt(comment_start).parse(rest);
    Ok(LineKind::Command(Command {
        name: name.to_ascii_lowercase(),
        args,
        line,
    }))
}

/// Writes one argument so that [`parse_line`] reads it back unchanged.
/// Writes `text` as one argument that reads back as one argument on one line: quoted when it
/// must be (blanks, quotes, empty, a leading comment starter). The language has no escape for
/// control characters, so each one (a newline above all, which would start a new command) is
/// written as visible text instead: `\n`, `\r`, `\t`, or `\xHH`. Values redial writes (reasons,
/// notes, names) are for people to read, so this is lossless enough and never lets a value
/// become a command.
pub(crate) fn write_arg(out: &mut String, text: &str, force_quotes: bool) {
    let clean = escape_controls(text);
    let text = clean.as_ref();
    let needs = force_quotes
        || text.is_empty()
        || text.contains([' ', '\t', '"'])
        || text.starts_with(';')
        || text.starts_with("/*");
    if needs {
        out.push('"');
        out.push_str(&text.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(text);
    }
}

/// `text` with every control character (C0, DEL, C1) replaced by a visible escape.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut s = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => s.push_str("\\n"),
            '\r' => s.push_str("\\r"),
            '\t' => s.push_str("\\t"),
            c if c.is_control() => s.push_str(&format!("\\x{:02X}", c as u32)),
            c => s.push(c),
        }
    }
    std::borrow::Cow::Owned(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(s: &str) -> Command {
        match parse_line(s, "t.FS", 1).unwrap() {
            LineKind::Command(c) => c,
            other => panic!("not a command: {other:?}"),
        }
    }

    #[test]
    fn blank_and_comments() {
        assert_eq!(parse_line("", "f", 1).unwrap(), LineKind::Blank);
        assert_eq!(parse_line(" \t ", "f", 1).unwrap(), LineKind::Blank);
        assert_eq!(parse_line("; note", "f", 1).unwrap(), LineKind::Comment);
        assert_eq!(parse_line("  /* note", "f", 1).unwrap(), LineKind::Comment);
    }

    #[test]
    fn names_are_case_insensitive_and_may_hold_dash() {
        let c = cmd("$FAX_Pre-Process yes");
        assert_eq!(c.name, "fax_pre-process");
        assert_eq!(c.texts(), ["yes"]);
    }

    #[test]
    fn quoting_and_escapes() {
        let c = cmd(r#"$retry_delays B "2 2 30"  ; busy"#);
        assert_eq!(c.texts(), ["B", "2 2 30"]);
        let c = cmd(r#"$var_def X "say ""hi"" now""#);
        assert_eq!(c.texts(), ["X", r#"say "hi" now"#]);
        assert!(c.args[1].quoted);
        let c = cmd(r#"$x """#);
        assert_eq!(c.texts(), [""]);
    }

    #[test]
    fn comment_needs_white_space_before_it() {
        let c = cmd("$a b;c /*d");
        assert_eq!(c.texts(), ["b;c"]);
        let c = cmd("$a \";x\" ;real");
        assert_eq!(c.texts(), [";x"]);
    }

    #[test]
    fn unquoted_spaces_become_several_args() {
        let c = cmd("$fax_phone 555 0100");
        assert_eq!(c.joined(), "555 0100");
    }

    #[test]
    fn errors_name_line_column_and_reason() {
        let e = parse_line("$a \"open", "x.FS", 7).unwrap_err();
        assert_eq!((e.line, e.column), (7, 4));
        assert!(e.reason.contains("closing quote"), "{e}");
        assert_eq!(
            e.to_string(),
            "x.FS:7:4: quoted argument has no closing quote"
        );
        let e = parse_line("fax_phone 1", "x.FS", 2).unwrap_err();
        assert_eq!(e.column, 1);
        let e = parse_line("$9x", "x.FS", 2).unwrap_err();
        assert_eq!(e.column, 2);
        let e = parse_line("$a \"b\"c", "x.FS", 2).unwrap_err();
        assert_eq!(e.column, 7);
        let e = parse_line("$a! b", "x.FS", 2).unwrap_err();
        assert!(e.reason.contains("'!'"), "{e}");
    }

    #[test]
    fn line_length_limit() {
        let ok = format!("$a {}", "x".repeat(MAX_LINE_BYTES - 3));
        assert!(parse_line(&ok, "f", 1).is_ok());
        let long = format!("$a {}", "x".repeat(MAX_LINE_BYTES - 2));
        let e = parse_line(&long, "f", 1).unwrap_err();
        assert!(e.reason.contains("8192"));
    }

    #[test]
    fn write_arg_round_trips() {
        for t in ["", "a b", "\"", ";x", "/*y", "plain", "a\"b"] {
            let mut s = String::from("$c ");
            write_arg(&mut s, t, false);
            assert_eq!(cmd(&s).texts(), [t], "{s}");
        }
    }

    #[test]
    fn write_arg_keeps_control_characters_off_the_line() {
        let mut s = String::from("$c ");
        write_arg(&mut s, "one\n$fax_phone 5559999\r\x07", false);
        assert!(!s.contains(['\n', '\r', '\x07']), "{s:?}");
        assert_eq!(cmd(&s).texts(), ["one\\n$fax_phone 5559999\\r\\x07"]);
    }
}
