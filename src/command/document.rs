//! The lossless document model of a CFG, USR or FS file.
//!
//! A document owns the bytes it was read from, once, and a compact entry per line saying where
//! the line lies and what the grammar found in it (about 20 bytes a line, so a file of attempt
//! records costs little more than its size). Commands are read out of those bytes on request,
//! borrowing from them. Engine code replaces single-valued lines in place, removes or appends
//! lines (new lines are added to the end of the buffer); every line it does not touch is written
//! back byte for byte. It never reads or writes files itself.

use super::parse::{error_at, scan, write_arg, Args, Command, ParseError, Shape, MAX_LINE_BYTES};
use super::registry::{id_of, NameId, NAME_COUNT};
use std::borrow::Cow;

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

/// One line: where its bytes lie in the buffer (terminator excluded) and its shape; 12 bytes.
/// A line is at most [`MAX_LINE_BYTES`] long, so its length fits 16 bits.
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u32,
    len: u16,
    /// The command's [`NameId`] ([`NO_ID`] for a name redial does not know, or no command).
    id: u16,
    eol: Eol,
    shape: Shape,
}

/// [`Entry::id`] of a line with no known command name.
const NO_ID: u16 = u16::MAX;

impl Entry {
    fn name_id(&self) -> Option<NameId> {
        (self.id != NO_ID).then(|| NameId::from_index(self.id))
    }
}

/// The id of the command `shape` found in `line` ([`NO_ID`] when none is known).
fn id_in(line: &[u8], shape: &Shape) -> u16 {
    match *shape {
        Shape::Command { name: (off, len) } => {
            let off = usize::from(off);
            id_of(&line[off..off + usize::from(len)]).map_or(NO_ID, |id| id.index() as u16)
        }
        _ => NO_ID,
    }
}

/// A document's lines at one moment ([`Document::mark`]).
#[derive(Debug, Clone)]
pub struct Mark(Vec<Entry>);

/// A parsed file that can be edited and written back losslessly.
#[derive(Debug, Clone)]
pub struct Document {
    origin: String,
    buf: Vec<u8>,
    entries: Vec<Entry>,
}

impl PartialEq for Document {
    fn eq(&self, other: &Self) -> bool {
        self.origin == other.origin && self.to_bytes() == other.to_bytes()
    }
}

impl Eq for Document {}

impl Document {
    /// Parses `bytes` (copied once); `origin` names the file in error messages. Bytes that are
    /// not UTF-8 are kept verbatim and read as U+FFFD inside arguments.
    pub fn parse(bytes: &[u8], origin: &str) -> Result<Document, ParseError> {
        Document::from_vec(bytes.to_vec(), origin)
    }

    /// Parses `bytes`, taking them as the document's buffer (no copy).
    pub fn from_vec(buf: Vec<u8>, origin: &str) -> Result<Document, ParseError> {
        if u32::try_from(buf.len()).is_err() {
            return Err(ParseError {
                file: origin.to_string(),
                line: 1,
                column: 1,
                reason: format!("the file is {} bytes; the limit is 4 GiB", buf.len()),
            });
        }
        // Counted first so the entries are allocated once, at their exact size.
        let mut entries = Vec::with_capacity(memchr::memchr_iter(b'\n', &buf).count() + 1);
        let mut at = 0;
        while at < buf.len() {
            let rest = &buf[at..];
            let (len, eol, next) = match memchr::memchr(b'\n', rest) {
                Some(p) if p > 0 && rest[p - 1] == b'\r' => (p - 1, Eol::CrLf, p + 1),
                Some(p) => (p, Eol::Lf, p + 1),
                None => (rest.len(), Eol::None, rest.len()),
            };
            let line = &rest[..len];
            let shape = scan(line)
                .map_err(|(col, why)| error_at(line, col, origin, entries.len() + 1, why))?;
            entries.push(Entry {
                start: at as u32,
                len: len as u16,
                id: id_in(line, &shape),
                eol,
                shape,
            });
            at += next;
        }
        Ok(Document {
            origin: origin.to_string(),
            buf,
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
            buf: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// The file name given when parsing.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// How many lines the document has.
    pub fn line_count(&self) -> usize {
        self.entries.len()
    }

    /// The text of 1-based line `line` (terminator excluded) when it is UTF-8.
    pub fn line_text(&self, line: usize) -> Option<&str> {
        std::str::from_utf8(self.line_bytes(line)?).ok()
    }

    /// The bytes of line `line` (1-based) as in the file, without its line end.
    pub fn line_bytes(&self, line: usize) -> Option<&[u8]> {
        let e = self.entries.get(line.checked_sub(1)?)?;
        Some(self.bytes_of(e))
    }

    fn bytes_of(&self, e: &Entry) -> &[u8] {
        let start = e.start as usize;
        &self.buf[start..start + usize::from(e.len)]
    }

    /// The name bytes of a command line, as written.
    fn name_of(&self, e: &Entry) -> Option<&[u8]> {
        match e.shape {
            Shape::Command { name } => {
                let s = e.start as usize + usize::from(name.0);
                Some(&self.buf[s..s + usize::from(name.1)])
            }
            _ => None,
        }
    }

    /// The command on 1-based line `line`, if that line holds one.
    pub fn command(&self, line: usize) -> Option<Command<'_>> {
        (line >= 1 && line <= self.entries.len())
            .then(|| self.command_at(line - 1))
            .flatten()
    }

    /// The arguments of the command on 1-based line `line`, read one at a time (no list is
    /// built), if that line holds a command.
    pub fn args(&self, line: usize) -> Option<Args<'_>> {
        let e = self.entries.get(line.checked_sub(1)?)?;
        match e.shape {
            Shape::Command { name } => Some(Args::from_scanned(self.bytes_of(e), line, name)),
            _ => None,
        }
    }

    /// The bytes of the command on 1-based line `line` after its name (its arguments and any
    /// comment, as written), if that line holds a command.
    pub fn after_name(&self, line: usize) -> Option<&[u8]> {
        let e = self.entries.get(line.checked_sub(1)?)?;
        match e.shape {
            Shape::Command { name } => {
                Some(&self.bytes_of(e)[usize::from(name.0) + usize::from(name.1)..])
            }
            _ => None,
        }
    }

    fn command_at(&self, i: usize) -> Option<Command<'_>> {
        let e = &self.entries[i];
        match e.shape {
            Shape::Command { name } => Some(Command::from_scanned(self.bytes_of(e), i + 1, name)),
            _ => None,
        }
    }

    fn is_named(&self, e: &Entry, name: &str) -> bool {
        self.name_of(e)
            .is_some_and(|n| n.eq_ignore_ascii_case(name.as_bytes()))
    }

    /// Every command in file order.
    pub fn commands(&self) -> impl Iterator<Item = Command<'_>> {
        (0..self.entries.len()).filter_map(|i| self.command_at(i))
    }

    /// The [`NameId`] (`None` when redial does not know the name) and line number of every
    /// command, without reading names or arguments.
    pub fn ids(&self) -> impl Iterator<Item = (Option<NameId>, usize)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| matches!(e.shape, Shape::Command { .. }))
            .map(|(i, e)| (e.name_id(), i + 1))
    }

    /// The name (lower case) of the command on 1-based line `line`.
    pub fn name_at(&self, line: usize) -> Option<Cow<'_, str>> {
        let e = self.entries.get(line.checked_sub(1)?)?;
        let n = std::str::from_utf8(self.name_of(e)?).expect("a scanned name is ASCII");
        Some(if n.bytes().any(|b| b.is_ascii_uppercase()) {
            Cow::Owned(n.to_ascii_lowercase())
        } else {
            Cow::Borrowed(n)
        })
    }

    /// The commands whose lower-case name `wanted` accepts, in file order; the arguments of the
    /// others are never read. `wanted` is asked once per known name (by its id) and once per
    /// line of a name redial does not know.
    pub fn named<'a>(
        &'a self,
        wanted: impl Fn(&str) -> bool + 'a,
    ) -> impl Iterator<Item = Command<'a>> + 'a {
        // Per id: not asked yet (0), no (1), yes (2).
        let mut answers = [0u8; NAME_COUNT];
        self.ids()
            .filter(move |&(id, line)| match id {
                Some(id) => {
                    let a = &mut answers[id.index()];
                    if *a == 0 {
                        *a = if wanted(id.name()) { 2 } else { 1 };
                    }
                    *a == 2
                }
                None => self.name_at(line).is_some_and(|n| wanted(&n)),
            })
            .filter_map(|(_, line)| self.command_at(line - 1))
    }

    /// Every command called `name` (case-insensitive, without `$`), in file order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = Command<'a>> + 'a {
        (0..self.entries.len())
            .filter(move |&i| self.is_named(&self.entries[i], name))
            .filter_map(|i| self.command_at(i))
    }

    /// The last command called `name`: for single-valued commands the last one wins.
    pub fn last(&self, name: &str) -> Option<Command<'_>> {
        let i = self.entries.iter().rposition(|e| self.is_named(e, name))?;
        self.command_at(i)
    }

    /// Replaces the first `name` line in place with `args` and removes any later `name` lines;
    /// appends the command when there is none.
    pub fn set(&mut self, name: &str, args: &[&str]) {
        let Some(first) = self.entries.iter().position(|e| self.is_named(e, name)) else {
            self.append(name, args);
            return;
        };
        let eol = self.entries[first].eol;
        let entry = self.render(name, args, eol);
        self.entries[first] = entry;
        let mut i = 0;
        let buf = &self.buf;
        self.entries.retain(|e| {
            i += 1;
            i - 1 <= first || !is_named_in(buf, e, name)
        });
    }

    /// The document's lines as they stand now, to go back to with [`Document::restore`]. Edits
    /// only ever add text to the buffer, so a mark is just the list of lines (12 bytes each).
    pub fn mark(&self) -> Mark {
        Mark(self.entries.clone())
    }

    /// Puts the lines back as they were at `mark` (taken from this document): every edit since
    /// is undone, and [`Document::to_bytes`] gives the bytes it gave then.
    pub fn restore(&mut self, mark: Mark) {
        self.entries = mark.0;
    }

    /// Replaces 1-based line `line` in place with `$name args` (its line ending kept); every
    /// other line stays as it is. Returns false when there is no such line.
    pub fn replace_line(&mut self, line: usize, name: &str, args: &[&str]) -> bool {
        let Some(i) = line.checked_sub(1).filter(|i| *i < self.entries.len()) else {
            return false;
        };
        let eol = self.entries[i].eol;
        let entry = self.render(name, args, eol);
        self.entries[i] = entry;
        true
    }

    /// Removes every `name` line. Returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.entries.len();
        let buf = &self.buf;
        self.entries.retain(|e| !is_named_in(buf, e, name));
        before - self.entries.len()
    }

    /// Appends a `$name args` line at the end.
    pub fn append(&mut self, name: &str, args: &[&str]) {
        let eol = self.line_eol();
        if let Some(last) = self.entries.last_mut() {
            if last.eol == Eol::None {
                last.eol = eol;
            }
        }
        let entry = self.render(name, args, eol);
        self.entries.push(entry);
    }

    /// The document as bytes: untouched lines exactly as read.
    pub fn to_bytes(&self) -> Vec<u8> {
        let size = self.entries.iter().map(|e| usize::from(e.len) + 2).sum();
        let mut out = Vec::with_capacity(size);
        for e in &self.entries {
            out.extend_from_slice(self.bytes_of(e));
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

    /// Renders `$name args…` into the buffer and returns its entry (see [`render_line`]).
    fn render(&mut self, name: &str, args: &[&str], eol: Eol) -> Entry {
        let text = render_line(name, args);
        let shape = scan(text.as_bytes()).expect("rendered lines always parse");
        let start = self.buf.len();
        self.buf.extend_from_slice(text.as_bytes());
        Entry {
            start: start as u32,
            len: text.len() as u16,
            id: id_in(text.as_bytes(), &shape),
            eol,
            shape,
        }
    }
}

fn is_named_in(buf: &[u8], e: &Entry, name: &str) -> bool {
    match e.shape {
        Shape::Command {
            name: (off, len), ..
        } => {
            let s = e.start as usize + usize::from(off);
            buf[s..s + usize::from(len)].eq_ignore_ascii_case(name.as_bytes())
        }
        _ => false,
    }
}

/// Renders `$name args…` so that it always reads back as this one command on one line: control
/// characters are escaped by `write_arg`, and a line that would pass the 8192-byte limit has its
/// longest arguments cut (at a character boundary, ending in a `…[N bytes cut]` marker) until it
/// fits, or, when no argument is long enough to cut, keeps the first ones that fit
/// ([`first_that_fit`]). A value from a job (a path, a number, a reason quoting them) can be
/// any length; the line the spooler writes never is.
fn render_line(name: &str, args: &[&str]) -> String {
    // The common case, every argument fitting: written straight from the borrowed arguments.
    let text = line_of(name, args);
    if text.len() <= MAX_LINE_BYTES {
        return text;
    }
    let mut owned: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    loop {
        let text = line_of(name, &owned);
        if text.len() <= MAX_LINE_BYTES {
            return text;
        }
        let excess = text.len() - MAX_LINE_BYTES;
        let (i, longest) = owned
            .iter()
            .enumerate()
            .max_by_key(|(_, a)| a.len())
            .expect("a line over the limit has arguments");
        if longest.len() <= SHORT_ARG {
            // Cutting an argument this short would not shorten the line (its marker is about
            // as long), so the line is over the limit by its number of arguments.
            return first_that_fit(name, &owned);
        }
        // Longer than its marker: each cut shortens the line, so this loop ends.
        owned[i] = cut(&owned[i], excess);
    }
}

/// An argument at most this long is never cut: the `…[N bytes cut]` marker would take as much
/// room as it gives back.
const SHORT_ARG: usize = 64;

/// `$name` with as many whole arguments, from the first, as fit within [`MAX_LINE_BYTES`]
/// together with a last argument `…[N more arguments cut]` naming how many were left off.
fn first_that_fit(name: &str, args: &[String]) -> String {
    // Room for the marker with the largest count it can name: a space, and the quotes its
    // spaces need.
    let room = MAX_LINE_BYTES - (marker(args.len()).len() + 3);
    let mut text = String::with_capacity(MAX_LINE_BYTES);
    text.push('$');
    text.push_str(name);
    let mut kept = 0;
    for a in args {
        let before = text.len();
        text.push(' ');
        write_arg(&mut text, a, false);
        if text.len() > room {
            text.truncate(before);
            break;
        }
        kept += 1;
    }
    text.push(' ');
    write_arg(&mut text, &marker(args.len() - kept), false);
    text
}

/// The last argument of a line whose `n` further arguments were left off.
fn marker(n: usize) -> String {
    format!("…[{n} more arguments cut]")
}

/// `$name a b …` with each argument written by `write_arg`, whatever its length.
fn line_of(name: &str, args: &[impl AsRef<str>]) -> String {
    // Room for the name, the arguments, a separator and a pair of quotes each.
    let room = 1 + name.len() + args.iter().map(|a| a.as_ref().len() + 3).sum::<usize>();
    let mut text = String::with_capacity(room);
    text.push('$');
    text.push_str(name);
    for a in args {
        text.push(' ');
        write_arg(&mut text, a.as_ref(), false);
    }
    text
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
    fn restoring_a_mark_undoes_every_edit_since() {
        let mut d = Document::parse_str(FS, "a.FS").unwrap();
        let mark = d.mark();
        d.set("fax_status1", &["3", "7"]);
        d.remove("custom");
        d.append("new_cycle", &["03/02/2026", "09:00:00", "1", "why"]);
        assert_ne!(d.to_bytes(), FS.as_bytes());
        d.restore(mark);
        assert_eq!(d.to_bytes(), FS.as_bytes());
        assert_eq!(d.last("fax_status1").unwrap().line, 3);
        // Edits after a restore still work on the lines as they were.
        d.set("fax_status2", &["9"]);
        assert!(String::from_utf8(d.to_bytes())
            .unwrap()
            .ends_with("$fax_status2 9"));
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

    /// Thousands of short arguments (a file list, say) over the line limit: no argument is
    /// long enough to cut, so the line keeps as many whole arguments as fit and says how many
    /// were left off; it is written, it reads back, and it ends.
    #[test]
    fn a_line_of_many_short_arguments_is_cut_and_ends() {
        let mut d = Document::new("n.FS");
        let many: Vec<String> = (0..5000).map(|i| format!("f{i}")).collect();
        let refs: Vec<&str> = many.iter().map(String::as_str).collect();
        d.set("fax_filename", &refs);
        // And quotes, which take twice their room, in a line that is mostly them.
        let quotes = vec!["\""; 6000];
        d.append("note", &quotes);
        let bytes = d.to_bytes();
        for line in bytes.split(|b| *b == b'\n') {
            assert!(line.len() <= MAX_LINE_BYTES, "{}", line.len());
        }
        let back = Document::parse(&bytes, "n.FS").expect("what was written parses");
        let last = back.last("fax_filename").unwrap();
        let files = last.texts();
        assert!(files.len() > 100, "{}", files.len());
        assert_eq!(files[0], "f0");
        assert!(
            files.last().unwrap().contains("cut"),
            "the last argument says what was left off: {:?}",
            files.last()
        );
        assert_eq!(back.commands().count(), 2);
        // Lengths up to the longest never cut, plain and quoted, at and past the limit.
        for len in [1, 2, 3, 4, 7, 15, 31, SHORT_ARG - 1, SHORT_ARG] {
            for unit in ["x", "\""] {
                let arg = unit.repeat(len);
                for count in [
                    MAX_LINE_BYTES / (len + 1),
                    MAX_LINE_BYTES / (len + 1) + 1,
                    9000,
                ] {
                    let args = vec![arg.as_str(); count];
                    let line = render_line("fax_filename", &args);
                    assert!(
                        line.len() <= MAX_LINE_BYTES,
                        "{len} {unit} {count}: {}",
                        line.len()
                    );
                    let d = Document::parse_str(&line, "n.FS").expect("parses");
                    assert_eq!(d.commands().count(), 1);
                }
            }
        }
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
