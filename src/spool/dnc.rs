//! The do-not-call list: the spool's own list file (`<request_dir>/DNC`), the CFG's external
//! list (`$dnc_file`), and the cache a node looks numbers up in.
//!
//! Both files hold one destination per line; `;` starts a comment anywhere, `#` at the start of
//! a line or after a blank. Entries are compared by [`crate::number::normalize`] (an entry is
//! normalized again when read, so a hand-written `(555) 010-0100` works). The spool's list is
//! changed only under an exclusive `flock` on `DNC.lock` (every node and `redial dnc` take it),
//! and every change is a whole new file written to `TEMP` and renamed over `DNC`, so a reader
//! never sees half a list. Readers re-read a file when its inode, size or modification time
//! changes ([`Source::refresh`]). This module owns those files; it never decides what happens to
//! a job.

use super::store;
use super::Layout;
use crate::number::normalize;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

/// `DNC`: the spool's do-not-call list.
pub fn path(layout: &Layout) -> PathBuf {
    layout.root.join("DNC")
}

/// `DNC.lock`: held (flock) while the list is changed.
pub fn lock_path(layout: &Layout) -> PathBuf {
    layout.root.join("DNC.lock")
}

/// One listed destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its key ([`normalize`]d).
    pub key: String,
    /// The comment after it (without the `;`), maybe empty.
    pub comment: String,
    /// 1-based line in the file.
    pub line: usize,
}

/// A list file read: its entries, and the lines that name no destination.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Entries in file order (a destination listed twice appears twice).
    pub entries: Vec<Entry>,
    /// `(line, text)` of each line that is neither blank, a comment nor a destination.
    pub bad: Vec<(usize, String)>,
}

/// Splits a line into its destination text and comment.
fn split_comment(line: &str) -> (&str, &str) {
    let mut cut = line.find(';');
    let bytes = line.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b'#' && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            cut = Some(cut.map_or(i, |c| c.min(i)));
            break;
        }
    }
    match cut {
        Some(i) => {
            let c = &line[i..];
            (&line[..i], c.trim_start_matches([';', '#']).trim())
        }
        None => (line, ""),
    }
}

/// Reads one destination written by an operator (`redial dnc add`, an import file): its key, or
/// why it names no destination.
pub fn key_of(text: &str) -> Result<String, String> {
    let key = normalize(text);
    if key.is_empty() {
        Err(format!(
            "{:?} is not a phone number (no digit) or an e-mail address",
            text.trim()
        ))
    } else {
        Ok(key)
    }
}

/// Parses a list file (the spool's or an external one).
pub fn parse(text: &str) -> Parsed {
    let mut p = Parsed::default();
    for (i, raw) in text.lines().enumerate() {
        let (dest, comment) = split_comment(raw);
        if dest.trim().is_empty() {
            continue;
        }
        match key_of(dest) {
            Ok(key) => p.entries.push(Entry {
                key,
                comment: comment.to_string(),
                line: i + 1,
            }),
            Err(_) => p.bad.push((i + 1, raw.trim().to_string())),
        }
    }
    p
}

const HEADER: &str = "; redial do-not-call list: one number (digits) or e-mail address per line, \
                      then an optional \"; comment\".\n; Change it with `redial dnc`.\n";

/// One line of the spool's list.
pub fn render_line(key: &str, comment: &str) -> String {
    let comment = comment.replace(['\n', '\r'], " ");
    if comment.trim().is_empty() {
        format!("{key}\n")
    } else {
        format!("{key} ; {}\n", comment.trim())
    }
}

/// Runs `change` on the spool's list under its lock and writes the result atomically (through
/// `TEMP`, with `temp_prefix` naming the writer's temporary files). `change` gets the current
/// text (empty when there is no list yet) and returns the new text, or `None` to leave the file
/// alone. Returns what `change` returned.
pub fn update(
    layout: &Layout,
    temp_prefix: &str,
    change: impl FnOnce(&str) -> Option<String>,
) -> io::Result<Option<String>> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(layout.temp())?;
    // Held through a read-only descriptor (flock needs no write access), so an operator and the
    // daemon's user can share it whoever created it.
    let lock = match std::fs::File::open(lock_path(layout)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            drop(
                std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(lock_path(layout))?,
            );
            std::fs::File::open(lock_path(layout))?
        }
        Err(e) => return Err(e),
    };
    lock.lock()?;
    let target = path(layout);
    let (old, mode) = match std::fs::read(&target) {
        Ok(b) => (
            String::from_utf8_lossy(&b).into_owned(),
            std::fs::metadata(&target)?.permissions().mode() & 0o7777,
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => (String::new(), 0o644),
        Err(e) => return Err(e),
    };
    let new = change(&old);
    if let Some(text) = &new {
        store::write_atomic(&layout.temp(), temp_prefix, &target, text.as_bytes())?;
        // The temporary file was private (0600): the list keeps the permissions it had, so
        // every node's user can still read it.
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(mode))?;
    }
    drop(lock);
    Ok(new)
}

/// Adds `(key, comment)` entries to the spool's list (keys already listed are left as they are).
/// Returns the keys that were added.
pub fn add(
    layout: &Layout,
    temp_prefix: &str,
    entries: &[(String, String)],
) -> io::Result<Vec<String>> {
    let mut added = Vec::new();
    update(layout, temp_prefix, |old| {
        let listed: std::collections::HashSet<String> =
            parse(old).entries.into_iter().map(|e| e.key).collect();
        let mut text = if old.trim().is_empty() {
            HEADER.to_string()
        } else {
            old.to_string()
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        for (key, comment) in entries {
            if key.is_empty() || listed.contains(key) || added.contains(key) {
                continue;
            }
            text.push_str(&render_line(key, comment));
            added.push(key.clone());
        }
        (!added.is_empty()).then_some(text)
    })?;
    Ok(added)
}

/// Removes every line listing one of `keys` from the spool's list (other lines, comments
/// included, are kept). Returns the keys that were listed.
pub fn remove(layout: &Layout, temp_prefix: &str, keys: &[String]) -> io::Result<Vec<String>> {
    let mut removed = Vec::new();
    update(layout, temp_prefix, |old| {
        let mut text = String::with_capacity(old.len());
        for line in old.lines() {
            let (dest, _) = split_comment(line);
            match key_of(dest).ok().filter(|k| keys.contains(k)) {
                Some(k) => {
                    if !removed.contains(&k) {
                        removed.push(k);
                    }
                }
                None => {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        (!removed.is_empty()).then_some(text)
    })?;
    Ok(removed)
}

/// What identifies a version of a file: a rename gives a new inode, an edit in place a new size
/// or modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: Option<std::time::SystemTime>,
}

fn stamp(m: &std::fs::Metadata) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.len(),
        mtime: m.modified().ok(),
    }
}

/// One list file as last read.
#[derive(Debug, Clone)]
pub struct Source {
    path: PathBuf,
    /// The version read (None: missing, or never read).
    stamp: Option<Stamp>,
    keys: HashMap<String, String>,
    /// A missing file is an empty list (the spool's) rather than a fault (an external one).
    missing_is_empty: bool,
    /// The error last reported (reported once per distinct error).
    reported: Option<String>,
}

impl Source {
    /// The spool's list: a missing file is an empty list.
    pub fn spool(layout: &Layout) -> Source {
        Source::new(path(layout), true)
    }

    /// An external list (`$dnc_file`): a missing file keeps what was read before.
    pub fn external(path: &Path) -> Source {
        Source::new(path.to_path_buf(), false)
    }

    fn new(path: PathBuf, missing_is_empty: bool) -> Source {
        Source {
            path,
            stamp: None,
            keys: HashMap::new(),
            missing_is_empty,
            reported: None,
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Re-reads the file when it changed. Returns the lines that name no destination when it
    /// was read (for the caller to report). On an error the entries read before are kept.
    pub fn refresh(&mut self) -> io::Result<Vec<(usize, String)>> {
        let m = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound && self.missing_is_empty => {
                self.stamp = None;
                self.keys.clear();
                return Ok(Vec::new());
            }
            Err(e) => return Err(e),
        };
        let s = stamp(&m);
        if self.stamp == Some(s) {
            return Ok(Vec::new());
        }
        let bytes = std::fs::read(&self.path)?;
        let parsed = parse(&String::from_utf8_lossy(&bytes));
        self.keys = parsed
            .entries
            .into_iter()
            .map(|e| (e.key, e.comment))
            .collect();
        self.stamp = Some(s);
        Ok(parsed.bad)
    }

    /// Refreshes and logs what is wrong (each distinct problem once).
    pub fn refresh_logged(&mut self) {
        match self.refresh() {
            Ok(bad) => {
                self.reported = None;
                for (line, text) in bad {
                    tracing::warn!(file = %self.path.display(), line, text = %text,
                        "do-not-call list: this line names no number or address; ignored");
                }
            }
            Err(e) => {
                let msg = e.to_string();
                if self.reported.as_deref() != Some(msg.as_str()) {
                    tracing::error!(file = %self.path.display(), error = %msg,
                        entries = self.keys.len(),
                        "do-not-call list cannot be read; keeping the entries read before");
                    self.reported = Some(msg);
                }
            }
        }
    }

    /// The comment of `key` when it is listed.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.keys.get(key).map(String::as_str)
    }

    /// Every entry (unordered).
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.keys.iter().map(|(k, c)| (k.as_str(), c.as_str()))
    }

    /// How many destinations are listed.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// Where a destination is listed, for the failure reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    /// The list file.
    pub file: PathBuf,
    /// The entry's comment.
    pub comment: String,
}

/// The lists a node consults: the spool's and, with `$dnc_file`, an external one. Entries this
/// node could not write to the spool's list yet (the disk refused) are kept in memory, honoured
/// here and written by [`Lists::flush`].
#[derive(Debug, Clone)]
pub struct Lists {
    /// The spool's list.
    pub spool: Source,
    /// `$dnc_file`.
    pub external: Option<Source>,
    /// Added on this node, not yet written.
    pub unwritten: Vec<(String, String)>,
}

impl Lists {
    /// The lists of a spool (and an external file).
    pub fn new(layout: &Layout, external: Option<&Path>) -> Lists {
        Lists {
            spool: Source::spool(layout),
            external: external.map(Source::external),
            unwritten: Vec::new(),
        }
    }

    /// Where `key` is listed, after re-reading whatever changed. The empty key is never listed.
    pub fn lookup(&mut self, key: &str) -> Option<Hit> {
        if key.is_empty() {
            return None;
        }
        self.spool.refresh_logged();
        if let Some(x) = self.external.as_mut() {
            x.refresh_logged();
        }
        if let Some(c) = self.spool.get(key) {
            return Some(Hit {
                file: self.spool.path.clone(),
                comment: c.to_string(),
            });
        }
        if let Some(c) = self.external.as_ref().and_then(|x| x.get(key)) {
            return Some(Hit {
                file: self.external.as_ref().expect("external").path.clone(),
                comment: c.to_string(),
            });
        }
        self.unwritten
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, c)| Hit {
                file: self.spool.path.clone(),
                comment: format!("{c} (not written yet)"),
            })
    }

    /// Writes the entries added on this node that are not in the spool's list yet. On an error
    /// they stay for the next call.
    pub fn flush(&mut self, layout: &Layout, temp_prefix: &str) -> io::Result<()> {
        if self.unwritten.is_empty() {
            return Ok(());
        }
        add(layout, temp_prefix, &self.unwritten)?;
        self.unwritten.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_files_parse_comments_and_spellings() {
        let p = parse(
            "; header\n\
             # also a comment\n\
             (555) 010-0100 ; opted out 03/02\n\
             +1 555 010 0199   # from the vendor\n\
             Jo@Example.com\n\
             \n\
             phone\n\
             5550100#2 ; a # inside a number is not a comment\n",
        );
        let keys: Vec<(&str, &str, usize)> = p
            .entries
            .iter()
            .map(|e| (e.key.as_str(), e.comment.as_str(), e.line))
            .collect();
        assert_eq!(
            keys,
            [
                ("5550100100", "opted out 03/02", 3),
                ("15550100199", "from the vendor", 4),
                ("jo@example.com", "", 5),
                ("55501002", "a # inside a number is not a comment", 8),
            ]
        );
        assert_eq!(p.bad, [(7, "phone".to_string())]);
        assert!(key_of(" - ").is_err());
        assert_eq!(render_line("555", ""), "555\n");
        assert_eq!(render_line("555", "a\nb"), "555 ; a b\n");
    }

    #[test]
    fn add_and_remove_keep_other_lines_and_write_whole_files() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 1);
        let e = |k: &str, c: &str| (k.to_string(), c.to_string());
        let added = add(
            &layout,
            ".t.",
            &[e("5550100", "one"), e("5550100", "again")],
        )
        .unwrap();
        assert_eq!(added, ["5550100"]);
        // A hand edit is kept by later changes.
        let mut text = std::fs::read_to_string(path(&layout)).unwrap();
        text.push_str("; added by hand:\n(555) 010-0199\n");
        std::fs::write(path(&layout), &text).unwrap();
        let added = add(&layout, ".t.", &[e("5550100", ""), e("5550199", "")]).unwrap();
        assert_eq!(added, ["5550199"]);
        // Readable by every node's user, and kept as the administrator set it.
        use std::os::unix::fs::PermissionsExt;
        let mode = || {
            std::fs::metadata(path(&layout))
                .unwrap()
                .permissions()
                .mode()
                & 0o777
        };
        assert_eq!(mode(), 0o644);
        std::fs::set_permissions(path(&layout), std::fs::Permissions::from_mode(0o640)).unwrap();
        let added = add(&layout, ".t.", &[e("5550100100", "")]).unwrap();
        assert_eq!(added, ["5550100100"]);
        assert_eq!(mode(), 0o640);
        let removed = remove(&layout, ".t.", &["5550100".into(), "999".into()]).unwrap();
        assert_eq!(removed, ["5550100"]);
        let text = std::fs::read_to_string(path(&layout)).unwrap();
        assert!(text.starts_with("; redial do-not-call list"), "{text}");
        assert!(
            text.contains("; added by hand:\n(555) 010-0199\n"),
            "{text}"
        );
        let keys: Vec<String> = parse(&text).entries.into_iter().map(|e| e.key).collect();
        assert_eq!(keys, ["5550100199", "5550199", "5550100100"]);
        // Nothing left behind in TEMP; nothing removed means the file is not rewritten.
        assert_eq!(std::fs::read_dir(layout.temp()).unwrap().count(), 0);
        assert!(remove(&layout, ".t.", &["1".into()]).unwrap().is_empty());
    }

    #[test]
    fn sources_reload_when_the_file_changes() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 1);
        let mut lists = Lists::new(&layout, Some(&d.path().join("vendor.txt")));
        std::fs::write(d.path().join("vendor.txt"), "5550111\n").unwrap();
        assert!(lists.lookup("5550100").is_none());
        assert!(lists.lookup("").is_none());
        let hit = lists.lookup("5550111").unwrap();
        assert!(hit.file.ends_with("vendor.txt"));
        add(&layout, ".t.", &[("5550100".into(), "opt-out".into())]).unwrap();
        let hit = lists.lookup("5550100").unwrap();
        assert_eq!((hit.file, hit.comment.as_str()), (path(&layout), "opt-out"));
        // An edit in place of the external list (same size, new contents) is seen.
        std::fs::write(d.path().join("vendor.txt"), "5550122\n").unwrap();
        let f = std::fs::File::options()
            .write(true)
            .open(d.path().join("vendor.txt"))
            .unwrap();
        f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        assert!(lists.lookup("5550111").is_none());
        assert!(lists.lookup("5550122").is_some());
        // The external file vanishing keeps what was read; the spool's list vanishing empties it.
        std::fs::remove_file(d.path().join("vendor.txt")).unwrap();
        assert!(lists.lookup("5550122").is_some());
        std::fs::remove_file(path(&layout)).unwrap();
        assert!(lists.lookup("5550100").is_none());
        // Entries not written yet are honoured, then flushed.
        lists.unwritten.push(("5550133".into(), "305".into()));
        assert!(lists.lookup("5550133").is_some());
        lists.flush(&layout, ".t.").unwrap();
        assert!(lists.unwritten.is_empty());
        assert_eq!(lists.lookup("5550133").unwrap().comment, "305");
    }
}
