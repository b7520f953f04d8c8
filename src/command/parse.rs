//! The grammar of one line: a `$command` with arguments, a comment, or a blank line.
//!
//! Owns the lexical rules only (quoting with `""`, `;` and `/*` comments, case-insensitive names,
//! the 8192-byte line limit). It never interprets what a command means.
//!
//! Every syntax character is ASCII, so the rules are scanned over bytes in one pass that checks a
//! line and notes where its parts lie without allocating; bytes that are not UTF-8 can only sit
//! inside an argument, where they read as U+FFFD. A [`Command`] borrows its name and arguments
//! from the line (an argument is copied only when it holds a doubled quote or invalid UTF-8), and
//! a column is counted only when an error or a caller asks for it.

use std::borrow::Cow;
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

/// One argument of a command, unquoted, borrowed from its line where it can be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg<'a> {
    /// The argument's value with quotes removed and `""` turned into `"`.
    pub text: Cow<'a, str>,
    /// Whether it was written in quotes.
    pub quoted: bool,
    /// The whole line, to count the column on demand.
    line: &'a [u8],
    /// Byte offset of the argument's first byte (its opening quote, if quoted) in `line`.
    at: usize,
}

impl Arg<'_> {
    /// 1-based column (in characters) where the argument starts.
    pub fn column(&self) -> usize {
        column_of(self.line, self.at)
    }
}

/// A `$name args…` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The command name in lower case, without the `$`.
    pub name: Cow<'a, str>,
    /// The arguments in order.
    pub args: Vec<Arg<'a>>,
    /// 1-based line number in the file it was read from.
    pub line: usize,
}

impl<'a> Command<'a> {
    /// The argument texts.
    pub fn texts(&self) -> Vec<&str> {
        self.args.iter().map(|a| a.text.as_ref()).collect()
    }

    /// The argument at `i`, if present.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(|a| a.text.as_ref())
    }

    /// The argument at `i`, taken out of the command (borrowed from the document where it can be).
    pub fn take_arg(mut self, i: usize) -> Option<Cow<'a, str>> {
        (i < self.args.len()).then(|| self.args.swap_remove(i).text)
    }

    /// All arguments joined by single spaces (for commands such as `$fax_phone 555 0100`).
    pub fn joined(&self) -> String {
        self.texts().join(" ")
    }

    /// Reads the command from a line [`scan`] accepted as `Shape::Command`.
    pub(crate) fn from_scanned(line: &'a [u8], number: usize, name: (u16, u16)) -> Self {
        let args_at = usize::from(name.0) + usize::from(name.1);
        let name = &line[usize::from(name.0)..args_at];
        let name = std::str::from_utf8(name).expect("a scanned name is ASCII");
        let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(name.to_ascii_lowercase())
        } else {
            Cow::Borrowed(name)
        };
        Command {
            name,
            args: args_of(line, args_at),
            line: number,
        }
    }
}

/// What one line holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineKind<'a> {
    /// Empty or white space only.
    Blank,
    /// A comment line (`;` or `/*` first).
    Comment,
    /// A command.
    Command(Command<'a>),
}

/// Where the parts of a checked line lie (byte offsets, each below [`MAX_LINE_BYTES`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    /// Empty or white space only.
    Blank,
    /// A comment line.
    Comment,
    /// A command: its name's offset (after the `$`) and length; the arguments follow it.
    Command {
        /// (offset, length) of the name.
        name: (u16, u16),
    },
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The bytes a command name holds after its first letter (ASCII letters and digits, `_`, `-`),
/// as a table: one load a byte instead of four range tests.
const NAME_BYTE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'_' || c == b'-';
        b += 1;
    }
    t
};

fn skip_ws(line: &[u8], mut i: usize) -> usize {
    while i < line.len() && is_ws(line[i]) {
        i += 1;
    }
    i
}

fn comment_at(line: &[u8], i: usize) -> bool {
    line[i..].starts_with(b";") || line[i..].starts_with(b"/*")
}

/// The end of a quoted argument starting at `i` (the opening quote): the offset just past the
/// closing quote, or `None` when it never closes.
fn quoted_end(line: &[u8], i: usize) -> Option<usize> {
    let mut j = i + 1;
    loop {
        let k = j + line[j..].iter().position(|&b| b == b'"')?;
        if line.get(k + 1) == Some(&b'"') {
            j = k + 2;
        } else {
            return Some(k + 1);
        }
    }
}

/// The end of a bare argument starting at `i`.
fn bare_end(line: &[u8], i: usize) -> usize {
    i + line[i..]
        .iter()
        .position(|&b| is_ws(b))
        .unwrap_or(line.len() - i)
}

/// The 1-based column of byte offset `at`, counting characters as the lossy UTF-8 reading does.
fn column_of(line: &[u8], at: usize) -> usize {
    String::from_utf8_lossy(&line[..at.min(line.len())])
        .chars()
        .count()
        + 1
}

/// A character for an error message: the one starting at `at`, read as lossy UTF-8.
fn char_at(line: &[u8], at: usize) -> char {
    let end = (at + 4).min(line.len());
    String::from_utf8_lossy(&line[at..end])
        .chars()
        .next()
        .unwrap_or('\u{FFFD}')
}

/// Checks one line (without its terminator) and says where its parts lie. On failure, the byte
/// offset of the fault and the reason.
pub(crate) fn scan(line: &[u8]) -> Result<Shape, (usize, String)> {
    if line.len() > MAX_LINE_BYTES {
        return Err((
            MAX_LINE_BYTES,
            format!(
                "line is {} bytes long; the limit is {MAX_LINE_BYTES}",
                line.len()
            ),
        ));
    }
    let i = skip_ws(line, 0);
    if i == line.len() {
        return Ok(Shape::Blank);
    }
    if comment_at(line, i) {
        return Ok(Shape::Comment);
    }
    if line[i] != b'$' {
        return Err((
            i,
            "expected a $command, a comment (; or /*) or a blank line".into(),
        ));
    }
    let start = i + 1;
    if !line.get(start).is_some_and(u8::is_ascii_alphabetic) {
        return Err((
            start,
            "a command name must follow '$' and start with a letter".into(),
        ));
    }
    let mut end = start + 1;
    while end < line.len() && NAME_BYTE[usize::from(line[end])] {
        end += 1;
    }
    if end < line.len() && !is_ws(line[end]) {
        let name = String::from_utf8_lossy(&line[start..end]);
        return Err((
            end,
            format!(
                "unexpected character {:?} in command name ${name}",
                char_at(line, end)
            ),
        ));
    }
    // Past the name only quotes and comment starters can be wrong or end the arguments, and
    // only at the start of a token (after white space): jump from one to the next. A `/*` is
    // found by its `*` (slashes are common in dates and paths, stars rare): the byte before
    // `line[j]` is never a `/` (it is a name character, a `"`, a `;` or a `*`), so the `/`
    // before a star found from `j` lies at `j` or later, and so does a byte before it.
    let mut j = end;
    while let Some(off) = memchr::memchr3(b'"', b';', b'*', &line[j..]) {
        let p = j + off;
        match line[p] {
            b'*' => {
                if line[p - 1] == b'/' && is_ws(line[p - 2]) {
                    break;
                }
                j = p + 1;
            }
            b';' => {
                if is_ws(line[p - 1]) {
                    break;
                }
                j = p + 1;
            }
            _ if !is_ws(line[p - 1]) => j = p + 1,
            _ => {
                let after = quoted_end(line, p)
                    .ok_or_else(|| (p, "quoted argument has no closing quote".to_string()))?;
                if after < line.len() && !is_ws(line[after]) {
                    return Err((
                        after,
                        format!(
                            "expected white space after the closing quote, found {:?}",
                            char_at(line, after)
                        ),
                    ));
                }
                j = after;
            }
        }
    }
    // Offsets fit: the line is at most MAX_LINE_BYTES (8192) long.
    Ok(Shape::Command {
        name: (start as u16, (end - start) as u16),
    })
}

/// Token bounds `(from, to, quoted)`: the first 24 on the stack, any more on the heap.
#[derive(Default)]
struct Spans {
    small: [(usize, usize, bool); 24],
    n: usize,
    more: Vec<(usize, usize, bool)>,
}

impl Spans {
    fn push(&mut self, s: (usize, usize, bool)) {
        if self.n < self.small.len() {
            self.small[self.n] = s;
            self.n += 1;
        } else {
            self.more.push(s);
        }
    }
    fn len(&self) -> usize {
        self.n + self.more.len()
    }
    fn iter(&self) -> impl Iterator<Item = (usize, usize, bool)> + '_ {
        self.small[..self.n].iter().chain(&self.more).copied()
    }
}

/// The next argument's bounds `(from, to, quoted)` in a line [`scan`] accepted, looking from
/// `j` (just past the name or the previous argument); `None` past the last one.
fn next_span(line: &[u8], j: usize) -> Option<(usize, usize, bool)> {
    let k = skip_ws(line, j);
    if k == j || k == line.len() || comment_at(line, k) {
        return None;
    }
    Some(if line[k] == b'"' {
        (
            k,
            quoted_end(line, k).expect("a scanned line closes its quotes"),
            true,
        )
    } else {
        (k, bare_end(line, k), false)
    })
}

/// The argument at `from..to` of `line` (`valid`: the line as text when it is UTF-8; `None`
/// reads the argument's own bytes, which gives the same text: its bounds sit next to ASCII
/// bytes, so its bytes are UTF-8 exactly where they are within the line).
fn arg_at<'a>(
    line: &'a [u8],
    valid: Option<&'a str>,
    (from, to, quoted): (usize, usize, bool),
) -> Arg<'a> {
    let text_of = |from: usize, to: usize| -> Cow<'a, str> {
        match valid {
            // Token bounds sit next to ASCII bytes, so they are character boundaries.
            Some(s) => Cow::Borrowed(&s[from..to]),
            // Checked first: UTF-8 (the usual case) is borrowed without the lossy reader's
            // chunking, which gives the same text.
            None => match std::str::from_utf8(&line[from..to]) {
                Ok(s) => Cow::Borrowed(s),
                Err(_) => String::from_utf8_lossy(&line[from..to]),
            },
        }
    };
    let text = if quoted {
        match text_of(from + 1, to - 1) {
            Cow::Borrowed(s) if !s.contains("\"\"") => Cow::Borrowed(s),
            t => Cow::Owned(t.replace("\"\"", "\"")),
        }
    } else {
        text_of(from, to)
    };
    Arg {
        text,
        quoted,
        line,
        at: from,
    }
}

/// The arguments of a line [`scan`] accepted, from `at` (just past the name). The line is
/// checked for UTF-8 once; an argument is copied only when it holds `""` or invalid UTF-8.
fn args_of(line: &[u8], at: usize) -> Vec<Arg<'_>> {
    let valid = std::str::from_utf8(line).ok();
    // Token bounds are found first (on the stack, for up to 24) so the vector is allocated
    // once, at its size.
    let mut spans = Spans::default();
    let mut j = at;
    while let Some(span) = next_span(line, j) {
        spans.push(span);
        j = span.1;
    }
    let mut args = Vec::with_capacity(spans.len());
    args.extend(spans.iter().map(|span| arg_at(line, valid, span)));
    args
}

/// The arguments of a command line read one at a time, as [`Command::args`] holds them, with
/// no list built: for callers that read a command's few arguments once (a job's single-valued
/// commands), where a [`Command`] would cost an allocation per line.
#[derive(Debug, Clone)]
pub struct Args<'a> {
    line: &'a [u8],
    at: usize,
    number: usize,
}

impl<'a> Args<'a> {
    /// The arguments of a line [`scan`] accepted as a command whose name is at `name`.
    pub(crate) fn from_scanned(line: &'a [u8], number: usize, name: (u16, u16)) -> Self {
        Args {
            line,
            at: usize::from(name.0) + usize::from(name.1),
            number,
        }
    }

    /// The 1-based line number of the command.
    pub fn line(&self) -> usize {
        self.number
    }

    /// Whether no argument is left.
    pub fn is_empty(&self) -> bool {
        next_span(self.line, self.at).is_none()
    }

    /// All (remaining) arguments joined by single spaces, as [`Command::joined`] gives them.
    pub fn joined(self) -> String {
        if let Some(text) = plain_words(&self.line[self.at..]) {
            return text.to_string();
        }
        // The arguments and their separators fit in the rest of the line: one allocation.
        let mut out = String::with_capacity(self.line.len() - self.at);
        for (i, a) in self.enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(&a.text);
        }
        out
    }
}

/// The rest of a command line as [`Args::joined`] gives it, when it can be read off the bytes
/// as they stand: bare words of ASCII text separated by single spaces, with blanks only around
/// them (`" 555 0100"`). `None` for anything else (a quote, a `;` or `/`, a tab or a second
/// space between words, a byte that is not ASCII), which the argument reader joins.
fn plain_words(rest: &[u8]) -> Option<&str> {
    let start = rest.iter().position(|&b| !is_ws(b))?;
    let end = rest.iter().rposition(|&b| !is_ws(b))? + 1;
    let words = &rest[start..end];
    let mut blank = false;
    for &b in words {
        match b {
            b' ' if !blank => blank = true,
            b'!' | b'#'..=b'.' | b'0'..=b':' | b'<'..=b'~' => blank = false,
            _ => return None,
        }
    }
    // Every byte was checked to be ASCII.
    std::str::from_utf8(words).ok()
}

impl<'a> Iterator for Args<'a> {
    type Item = Arg<'a>;

    fn next(&mut self) -> Option<Arg<'a>> {
        let span = next_span(self.line, self.at)?;
        self.at = span.1;
        // Each argument's bytes are checked for UTF-8 as it is read: a single-valued command
        // reads one or two of its arguments, not its whole line.
        Some(arg_at(self.line, None, span))
    }
}

/// Parses one line (without its terminator). `line` is the 1-based number used in errors.
pub fn parse_line<'a>(text: &'a str, file: &str, line: usize) -> Result<LineKind<'a>, ParseError> {
    parse_bytes(text.as_bytes(), file, line)
}

/// [`parse_line`] over bytes that need not be UTF-8.
pub(crate) fn parse_bytes<'a>(
    bytes: &'a [u8],
    file: &str,
    line: usize,
) -> Result<LineKind<'a>, ParseError> {
    match scan(bytes) {
        Ok(Shape::Blank) => Ok(LineKind::Blank),
        Ok(Shape::Comment) => Ok(LineKind::Comment),
        Ok(Shape::Command { name }) => {
            Ok(LineKind::Command(Command::from_scanned(bytes, line, name)))
        }
        Err((at, reason)) => Err(error_at(bytes, at, file, line, reason)),
    }
}

/// The error for a fault at byte `at` of a line.
pub(crate) fn error_at(
    bytes: &[u8],
    at: usize,
    file: &str,
    line: usize,
    reason: String,
) -> ParseError {
    let column = if at >= MAX_LINE_BYTES && bytes.len() > MAX_LINE_BYTES {
        MAX_LINE_BYTES + 1
    } else {
        column_of(bytes, at)
    };
    ParseError {
        file: file.to_string(),
        line,
        column,
        reason,
    }
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
        for (i, part) in text.split('"').enumerate() {
            if i > 0 {
                out.push_str("\"\"");
            }
            out.push_str(part);
        }
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

    #[test]
    fn the_name_byte_table_holds_the_name_characters() {
        for b in 0..=255u8 {
            assert_eq!(
                NAME_BYTE[usize::from(b)],
                b.is_ascii_alphanumeric() || b == b'_' || b == b'-',
                "{b}"
            );
        }
    }

    fn cmd(s: &str) -> Command<'_> {
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

    /// The scan as it was written before stars found comments: every `"`, `;` and `/` from
    /// the name on.
    fn scan_by_slashes(line: &[u8]) -> Result<Shape, (usize, String)> {
        // The name part, which both read alike (blank and comment lines too).
        let i = skip_ws(line, 0);
        if line.get(i) != Some(&b'$') || !line.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            return scan(line);
        }
        let start = i + 1;
        let mut end = start + 1;
        while end < line.len()
            && (line[end].is_ascii_alphanumeric() || matches!(line[end], b'_' | b'-'))
        {
            end += 1;
        }
        if end < line.len() && !is_ws(line[end]) {
            return scan(line);
        }
        let shape = Ok(Shape::Command {
            name: (start as u16, (end - start) as u16),
        });
        let mut j = end;
        while let Some(off) = memchr::memchr3(b'"', b';', b'/', &line[j..]) {
            let p = j + off;
            if !is_ws(line[p - 1]) {
                j = p + 1;
                continue;
            }
            match line[p] {
                b';' => break,
                b'/' if line.get(p + 1) == Some(&b'*') => break,
                b'/' => j = p + 1,
                _ => {
                    let after = quoted_end(line, p)
                        .ok_or_else(|| (p, "quoted argument has no closing quote".to_string()))?;
                    if after < line.len() && !is_ws(line[after]) {
                        return Err((
                            after,
                            format!(
                                "expected white space after the closing quote, found {:?}",
                                char_at(line, after)
                            ),
                        ));
                    }
                    j = after;
                }
            }
        }
        shape
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(8192))]
        /// Finding `/*` by its star accepts and refuses what finding it by its slash does, at
        /// the same place for the same reason.
        #[test]
        fn comments_found_by_star_as_by_slash(
            tail in proptest::collection::vec(proptest::sample::select(vec![
                b' ', b'\t', b'"', b'/', b'*', b';', b'a', b'0', b'-',
            ]), 0..24),
            name in proptest::sample::select(vec!["$a", "$a-", "$fax_phone", " $x_1"]),
        ) {
            let mut line = name.as_bytes().to_vec();
            line.extend_from_slice(&tail);
            proptest::prop_assert_eq!(scan(&line), scan_by_slashes(&line), "{}", String::from_utf8_lossy(&line));
            if let Ok(Shape::Command { name }) = scan(&line) {
                // The arguments stop where the scan says the comment starts.
                let args = args_of(&line, usize::from(name.0) + usize::from(name.1));
                proptest::prop_assert!(args.iter().all(|a| !a.text.starts_with("/*") || a.quoted));
            }
        }
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
