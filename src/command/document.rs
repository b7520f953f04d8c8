//! The lossless document model of a CFG, USR or FS file.
//!
//! A document is its lines, each kept as the exact bytes read (terminator included). Engine code
//! replaces single-valued lines in place, removes or appends lines; every line it does not touch
//! is written back byte for byte. It never reads or writes files itself.

use super::parse::{parse_line, write_arg, Command, LineKind, ParseError, MAX_LINE_BYTES};

/// How a line ended in the source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eol {
    /// `\n`
    Lf,
    /// `\r\n`
    CrLf,
    /// The last line had no terminator.
    None,
}

impl Eol {
    fn bytes(self) -> &'static [u8] {
        match self {
            Eol::Lf => b"\n",
            Eol::CrLf => b"\r\n",
            Eol::None => b"",
        }
    }
}

/// One line of a document: its bytes and what the parser saw in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    raw: Vec<u8>,
    eol: Eol,
    kind: LineKind,
}

impl Entry {
    /// What the line holds.
    pub fn kind(&self) -> &LineKind {
        &self.kind
    }

    /// The command on this line, if any.
    pub fn command(&self) -> Option<&Command> {
        match &self.kind {
            LineKind::Command(c) => Some(c),
            _ => None,
        }
    }
}

/// A parsed file that can be edited and written back losslessly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    origin: String,
    entries: Vec<Entry>,
}

impl Document {
    /// Parses `bytes`; `origin` names the file in error messages. Bytes that are not UTF-8 are
    /// kept verbatim and read as U+FFFD by the grammar.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Document, ParseError> {
        let mut entries = Vec::new();
        let mut rest = bytes;
        let mut number = 0;
        while !rest.is_empty() {
            number += 1;
            let (line, eol, next) = match rest.iter().position(|&b| b == b'\n') {
                Some(p) if p > 0 && rest[p - 1] == b'\r' => {
                    (&rest[..p - 1], Eol::CrLf, &rest[p + 1..])
                }
                Some(p) => (&rest[..p], Eol::Lf, &rest[p + 1..]),
                None => (rest, Eol::None, &rest[rest.len()..]),
            };
            let text = String::from_utf8_lossy(line);
            let kind = parse_line(&text, origin, number)?;
            entries.push(Entry {
                raw: line.to_vec(),
                eol,
                kind,
            });
            rest = next;
        }
        Ok(Document {
            origin: origin.to_string(),
            entries,
        })
    }

    /// Parses UTF-8 text (a convenience for tests and generated files).
    pub fn parse_str(text: &str, origin: &str) -> Result<Document, ParseError> {
        Document::parse(text.as_bytes(), origin)
    }

    /// An empty document.
    pub fn new(origin: &str) -> Document {
        Document {
            origin: origin.to_string(),
            entries: Vec::new(),
        }
    }

    /// The file name given when parsing.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// All lines in order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every command in file order.
    pub fn commands(&self) -> impl Iterator<Item = &Command> {
        self.entries.iter().filter_map(Entry::command)
    }

    /// Every command called `name` (case-insensitive, without `$`), in file order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Command> + 'a {
        self.commands()
            .filter(move |c| c.name.eq_ignore_ascii_case(name))
    }

    /// The last command called `name`: for single-valued commands the last one wins.
    pub fn last(&self, name: &str) -> Option<&Command> {
        self.commands()
            .filter(|c| c.name.eq_ignore_ascii_case(name))
            .last()
    }

    /// Replaces the first `name` line in place with `args` and removes any later `name` lines;
    /// appends the command when there is none.
    pub fn set(&mut self, name: &str, args: &[&str]) {
        let entry = render(name, args, self.line_eol());
        let mut found = false;
        self.entries.retain_mut(|e| {
            let is = e
                .command()
                .is_some_and(|c| c.name.eq_ignore_ascii_case(name));
            if !is {
                return true;
            }
            if found {
                return false;
            }
            found = true;
            *e = entry.clone();
            true
        });
        if !found {
            self.push(entry);
        }
        self.renumber();
    }

    /// Removes every `name` line. Returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|e| {
            !e.command()
                .is_some_and(|c| c.name.eq_ignore_ascii_case(name))
        });
        self.renumber();
        before - self.entries.len()
    }

    /// Appends a `$name args` line at the end.
    pub fn append(&mut self, name: &str, args: &[&str]) {
        let entry = render(name, args, self.line_eol());
        self.push(entry);
        self.renumber();
    }

    /// The document as bytes: untouched lines exactly as read.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for e in &self.entries {
            out.extend_from_slice(&e.raw);
            out.extend_from_slice(e.eol.bytes());
        }
        out
    }

    fn line_eol(&self) -> Eol {
        self.entries
            .iter()
            .map(|e| e.eol)
            .find(|e| *e != Eol::None)
            .unwrap_or(Eol::Lf)
    }

    fn push(&mut self, entry: Entry) {
        let eol = self.line_eol();
        if let Some(last) = self.entries.last_mut() {
            if last.eol == Eol::None {
                last.eol = eol;
            }
        }
        self.entries.push(entry);
    }

    fn renumber(&mut self) {
        for (i, e) in self.entries.iter_mut().enumerate() {
            if let LineKind::Command(c) = &mut e.kind {
                c.line = i + 1;
            }
        }
    }
}

/// Renders `$name args…` so that it always reads back as this one command on one line: control
/// characters are escaped by `write_arg`, and a line that would pass the 8192-byte limit has its
/// longest arguments cut (at a character boundary, ending in a `…[N bytes cut]` marker) until it
/// fits. A value from a job (a path, a number, a reason quoting them) can be any length; the
/// line the spooler writes never is.
fn render(name: &str, args: &[&str], eol: Eol) -> Entry {
    let mut owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    loop {
        let mut text = format!("${name}");
        for a in &owned {
            text.push(' ');
            write_arg(&mut text, a, false);
        }
        if text.len() <= MAX_LINE_BYTES {
            let kind = parse_line(&text, "", 0).expect("rendered lines always parse");
            return Entry {
                raw: text.into_bytes(),
                eol,
                kind,
            };
        }
        let excess = text.len() - MAX_LINE_BYTES;
        let (i, _) = owned
            .iter()
            .enumerate()
            .max_by_key(|(_, a)| a.len())
            .expect("a line over the limit has arguments");
        owned[i] = cut(&owned[i], excess);
    }
}

/// `a` shortened by at least `excess` bytes of its rendered form, with a marker saying so.
fn cut(a: &str, excess: usize) -> String {
    // Quotes doubled and controls escaped take more room than they hold: cut generously.
    let want = a.len().saturating_sub(excess + 32);
    let mut end = want;
    while end > 0 && !a.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…[{} bytes cut]", &a[..end], a.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FS: &str = "; order 77\r\n$fax_phone 555 0100\r\n$FAX_STATUS1 2\r\n\r\n$custom \"x  y\"   ; keep me\r\n$fax_status2 0";

    #[test]
    fn untouched_document_is_byte_identical() {
        let d = Document::parse_str(FS, "a.FS").unwrap();
        assert_eq!(d.to_bytes(), FS.as_bytes());
        let latin1 = b"$note caf\xe9\n";
        let d = Document::parse(latin1, "b.FS").unwrap();
        assert_eq!(d.to_bytes(), latin1);
    }

    #[test]
    fn set_replaces_in_place_and_keeps_the_rest() {
        let mut d = Document::parse_str(FS, "a.FS").unwrap();
        d.set("fax_status1", &["3", "7"]);
        d.set("fax_next_date", &["03/02/2026"]);
        let text = String::from_utf8(d.to_bytes()).unwrap();
        assert_eq!(
            text,
            "; order 77\r\n$fax_phone 555 0100\r\n$fax_status1 3 7\r\n\r\n$custom \"x  y\"   ; keep me\r\n$fax_status2 0\r\n$fax_next_date 03/02/2026\r\n"
        );
        assert_eq!(d.last("fax_next_date").unwrap().line, 7);
    }

    #[test]
    fn set_collapses_duplicates_and_remove_drops_all() {
        let mut d = Document::parse_str("$a 1\n$b x\n$a 2\n", "f").unwrap();
        assert_eq!(d.last("A").unwrap().texts(), ["2"]);
        d.set("a", &["3"]);
        assert_eq!(String::from_utf8(d.to_bytes()).unwrap(), "$a 3\n$b x\n");
        assert_eq!(d.remove("b"), 1);
        assert_eq!(String::from_utf8(d.to_bytes()).unwrap(), "$a 3\n");
    }

    #[test]
    fn append_quotes_what_needs_it() {
        let mut d = Document::new("n.FS");
        d.append("fail_reason", &["document \"x\" is missing"]);
        d.append("e", &[""]);
        assert_eq!(
            String::from_utf8(d.to_bytes()).unwrap(),
            "$fail_reason \"document \"\"x\"\" is missing\"\n$e \"\"\n"
        );
    }

    #[test]
    fn any_value_stays_one_command_on_one_line() {
        let mut d = Document::parse_str("$fax_phone 1\n", "n.FS").unwrap();
        let long = format!("/docs/{}\n$fax_phone 5559999", "x\"".repeat(6000));
        d.set("fail_reason", &[&long]);
        d.append("attempt_record", &["1", &"9".repeat(8170), ""]);
        let bytes = d.to_bytes();
        let back = Document::parse(&bytes, "n.FS").expect("what was written parses");
        assert_eq!(back.all("fax_phone").count(), 1);
        assert_eq!(back.commands().count(), 3);
        for line in bytes.split(|b| *b == b'\n') {
            assert!(line.len() <= MAX_LINE_BYTES, "{}", line.len());
        }
        let reason = back.last("fail_reason").unwrap().texts()[0].to_string();
        assert!(reason.starts_with("/docs/x\"x\""), "{}", &reason[..20]);
        assert!(reason.contains("bytes cut]"));
    }

    #[test]
    fn parse_error_names_the_file_and_line() {
        let e = Document::parse_str("$a 1\nnot a command\n", "bad.FS").unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad.FS:2:1: expected a $command, a comment (; or /*) or a blank line"
        );
    }
}
