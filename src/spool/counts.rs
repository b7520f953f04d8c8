//! Daily attempt counts per destination, shared by every node (`$max_calls_per_day`).
//!
//! `COUNTS/YYYY-MM-DD` holds one line per attempt placed that (local) day:
//! `KEY INSTANT NODE JOB`, KEY being [`crate::number::normalize`]d; a reservation given back
//! before the call was placed (the node gave the job back) is a line `- KEY INSTANT NODE JOB`,
//! which counts one less. Lines are only ever
//! appended (`O_APPEND`), under an exclusive `flock` of the day's file, and a node counts and
//! appends under the same lock ([`Tally::reserve`]), so two nodes can never both take the last
//! call of a day. Readers keep what they have read and read only what was appended since. Files
//! more than [`KEEP_DAYS`] days older than the day being written are removed. This module owns
//! those files; it never decides when a job runs.

use super::store;
use super::Layout;
use chrono::NaiveDate;
use std::collections::HashMap;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// Day files older than this (in days, before the day being written) are removed.
pub const KEEP_DAYS: i64 = 31;

/// `COUNTS`.
pub fn dir(layout: &Layout) -> PathBuf {
    layout.root.join("COUNTS")
}

/// `COUNTS/YYYY-MM-DD`.
pub fn day_path(layout: &Layout, day: NaiveDate) -> PathBuf {
    dir(layout).join(day.format("%Y-%m-%d").to_string())
}

/// What was read of one day's file.
#[derive(Debug, Default)]
struct Day {
    ino: u64,
    offset: u64,
    /// Bytes of an unfinished last line (a writer died mid-line, or is writing now).
    partial: Vec<u8>,
    counts: HashMap<String, u32>,
}

impl Day {
    /// Reads what was appended since the last read (from the start when the file was replaced).
    /// Appends `{sign}{key} {note}` to the day's file `f` (opened for append and locked, this
    /// tally caught up with it), durably, and reads it back into the counts.
    fn append(
        &mut self,
        f: &mut std::fs::File,
        sign: &str,
        key: &str,
        note: &str,
    ) -> io::Result<()> {
        // A line cut short by a writer that died is ended first, so ours stands alone.
        let lead = if self.partial.is_empty() { "" } else { "\n" };
        let note = note.replace(['\n', '\r'], " ");
        f.write_all(format!("{lead}{sign}{key} {note}\n").as_bytes())?;
        if store::durable() {
            f.sync_data()?;
        }
        self.catch_up(f)
    }

    fn catch_up(&mut self, f: &mut std::fs::File) -> io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let m = f.metadata()?;
        if m.ino() != self.ino || m.len() < self.offset {
            *self = Day {
                ino: m.ino(),
                ..Day::default()
            };
        }
        if m.len() == self.offset {
            return Ok(());
        }
        f.seek(SeekFrom::Start(self.offset))?;
        let mut buf = Vec::new();
        f.read_to_end(&mut buf)?;
        self.offset += buf.len() as u64;
        let mut all = std::mem::take(&mut self.partial);
        all.extend_from_slice(&buf);
        let complete = all.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for line in all[..complete].split(|b| *b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let mut words = line.split_whitespace();
            match words.next() {
                Some("-") => {
                    if let Some(c) = words.next().and_then(|k| self.counts.get_mut(k)) {
                        *c = c.saturating_sub(1);
                    }
                }
                Some(key) => *self.counts.entry(key.to_string()).or_default() += 1,
                None => {}
            }
        }
        self.partial = all[complete..].to_vec();
        Ok(())
    }
}

/// A node's view of the count files.
#[derive(Debug, Default)]
pub struct Tally {
    days: HashMap<NaiveDate, Day>,
}

impl Tally {
    /// An empty tally.
    pub fn new() -> Tally {
        Tally::default()
    }

    /// Attempts recorded for `key` on `day` (a day with no file has none).
    pub fn count(&mut self, layout: &Layout, day: NaiveDate, key: &str) -> io::Result<u32> {
        let mut f = match std::fs::File::open(day_path(layout, day)) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let d = self.days.entry(day).or_default();
        d.catch_up(&mut f)?;
        Ok(d.counts.get(key).copied().unwrap_or(0))
    }

    /// Records one attempt to `key` on `day` if fewer than `cap` are recorded, counting and
    /// appending under the day file's lock. `note` follows the key on the line (instant, node,
    /// job). Returns the count before this attempt, and whether it was recorded.
    pub fn reserve(
        &mut self,
        layout: &Layout,
        day: NaiveDate,
        key: &str,
        cap: u32,
        note: &str,
    ) -> io::Result<(u32, bool)> {
        std::fs::create_dir_all(dir(layout))?;
        let path = day_path(layout, day);
        let fresh = !path.exists();
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        f.lock()?;
        let d = self.days.entry(day).or_default();
        d.catch_up(&mut f)?;
        let before = d.counts.get(key).copied().unwrap_or(0);
        if before >= cap {
            return Ok((before, false));
        }
        d.append(&mut f, "", key, note)?;
        drop(f);
        if fresh {
            prune(layout, day);
        }
        Ok((before, true))
    }

    /// Gives back one attempt [`Tally::reserve`]d for `key` on `day` that was not placed
    /// after all: appends `- KEY NOTE` under the day file's lock, which every reader counts as
    /// one less.
    pub fn release(
        &mut self,
        layout: &Layout,
        day: NaiveDate,
        key: &str,
        note: &str,
    ) -> io::Result<()> {
        // No file: nothing was reserved that day.
        let mut f = std::fs::OpenOptions::new()
            .read(true)
            .append(true)
            .open(day_path(layout, day))?;
        f.lock()?;
        let d = self.days.entry(day).or_default();
        d.catch_up(&mut f)?;
        d.append(&mut f, "- ", key, note)
    }
}

/// Removes day files more than [`KEEP_DAYS`] before `day` (best effort).
fn prune(layout: &Layout, day: NaiveDate) {
    let Ok(rd) = std::fs::read_dir(dir(layout)) else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name();
        let Some(d) = name
            .to_str()
            .and_then(|n| NaiveDate::parse_from_str(n, "%Y-%m-%d").ok())
        else {
            continue;
        };
        if (day - d).num_days() > KEEP_DAYS {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_tallies_share_a_cap_and_read_only_what_is_new() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 1);
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let (mut a, mut b) = (Tally::new(), Tally::new());
        assert_eq!(a.count(&layout, day, "5550100").unwrap(), 0);
        assert_eq!(
            a.reserve(&layout, day, "5550100", 2, "t n1 1.FS").unwrap(),
            (0, true)
        );
        assert_eq!(
            b.reserve(&layout, day, "5550100", 2, "t n2 2.FS").unwrap(),
            (1, true)
        );
        assert_eq!(
            a.reserve(&layout, day, "5550100", 2, "t n1 3.FS").unwrap(),
            (2, false)
        );
        assert_eq!(
            a.reserve(&layout, day, "5550199", 2, "t n1 4.FS").unwrap(),
            (0, true)
        );
        assert_eq!(b.count(&layout, day, "5550100").unwrap(), 2);
        assert_eq!(b.count(&layout, day, "5550199").unwrap(), 1);
        let next = day.succ_opt().unwrap();
        assert_eq!(b.count(&layout, next, "5550100").unwrap(), 0);
        // A line cut short by a crash does not swallow the next one.
        let p = day_path(&layout, day);
        let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        f.write_all(b"5550177 t n9").unwrap();
        drop(f);
        assert_eq!(
            a.reserve(&layout, day, "5550177", 2, "t n1 5.FS").unwrap(),
            (0, true)
        );
        assert_eq!(Tally::new().count(&layout, day, "5550177").unwrap(), 2);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text.lines().count(), 5, "{text}");
    }

    /// A reservation given back (the job was not dialled after all) frees its call for every
    /// node, and a give-back never takes a count below zero.
    #[test]
    fn a_released_reservation_counts_one_less_everywhere() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 1);
        let day = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let (mut a, mut b) = (Tally::new(), Tally::new());
        assert_eq!(
            a.reserve(&layout, day, "5550100", 1, "t n1 1.FS").unwrap(),
            (0, true)
        );
        assert_eq!(
            b.reserve(&layout, day, "5550100", 1, "t n2 2.FS").unwrap(),
            (1, false)
        );
        a.release(&layout, day, "5550100", "t n1 1.FS").unwrap();
        assert_eq!(b.count(&layout, day, "5550100").unwrap(), 0);
        assert_eq!(
            b.reserve(&layout, day, "5550100", 1, "t n2 2.FS").unwrap(),
            (0, true)
        );
        assert_eq!(Tally::new().count(&layout, day, "5550100").unwrap(), 1);
        // A give-back of a key never counted (a damaged file) does not go below zero.
        b.release(&layout, day, "5550199", "t n2 3.FS").unwrap();
        assert_eq!(Tally::new().count(&layout, day, "5550199").unwrap(), 0);
        // No file that day: nothing to give back, and none is made.
        let other = day.succ_opt().unwrap();
        assert!(a.release(&layout, other, "5550100", "x").is_err());
        assert!(!day_path(&layout, other).exists());
    }

    #[test]
    fn old_days_are_pruned_when_a_new_day_starts() {
        let d = tempfile::tempdir().unwrap();
        let layout = Layout::new(d.path(), 1);
        let old = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
        let recent = NaiveDate::from_ymd_opt(2026, 2, 20).unwrap();
        let mut t = Tally::new();
        t.reserve(&layout, old, "1", 5, "x").unwrap();
        t.reserve(&layout, recent, "1", 5, "x").unwrap();
        std::fs::write(dir(&layout).join("notes.txt"), "kept").unwrap();
        t.reserve(
            &layout,
            NaiveDate::from_ymd_opt(2026, 3, 2).unwrap(),
            "1",
            5,
            "x",
        )
        .unwrap();
        assert!(!day_path(&layout, old).exists());
        assert!(day_path(&layout, recent).exists());
        assert!(dir(&layout).join("notes.txt").exists());
    }
}
