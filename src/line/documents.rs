//! Documents prepared for sending, shared by a node's modem lines.
//!
//! A fax campaign sends one document to many numbers, so a node's lines would otherwise read,
//! render and T.4-encode the same file for every call (in both codings, as the modem picks one
//! only after dialling). Owns one cache: per document file and resolution, the pages and their
//! MH and MR encodings, made once and shared behind an `Arc`. A file is known by its identity
//! (device, inode, size, modification and change times), so a document rewritten or replaced is
//! prepared again. The cache holds at most [`DocumentCache::DEFAULT_BYTES`] of pages and
//! encodings and drops the least recently used documents beyond that. It never caches a
//! failure: a document that cannot be read is tried again on the next call.

use crate::fax::{
    encode, header_text, load_document_at, stamp_header, Coding, DocError, EncodeOptions,
    HeaderFields, Page, Resolution,
};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One document's pages at one resolution, with their encodings for Class 2/2.0.
#[derive(Debug)]
pub struct Prepared {
    /// The pages at the resolution asked for (Class 1 encodes them itself).
    pub pages: Vec<Page>,
    /// The pages MH-coded (Class 2/2.0 options: LSB first).
    pub mh: Vec<Vec<u8>>,
    /// The pages MR-coded with the resolution's `k`.
    pub mr: Vec<Vec<u8>>,
}

impl Prepared {
    /// Pages made for one call (a cover page filled from the job), prepared like a document.
    pub fn from_pages(pages: Vec<Page>, resolution: Resolution) -> Prepared {
        Prepared::prepare(pages, resolution)
    }

    fn prepare(pages: Vec<Page>, resolution: Resolution) -> Prepared {
        let pages: Vec<Page> = pages.iter().map(|p| p.to_resolution(resolution)).collect();
        let coded = |coding| {
            pages
                .iter()
                .map(|p| encode(p, &EncodeOptions::class2(coding, 0)))
                .collect()
        };
        Prepared {
            mh: coded(Coding::Mh),
            mr: coded(Coding::mr_for(resolution)),
            pages,
        }
    }

    /// Bytes held (bitmaps and encodings).
    fn weight(&self) -> usize {
        self.pages
            .iter()
            .map(|p| p.bitmap().data().len())
            .chain(self.mh.iter().chain(&self.mr).map(Vec::len))
            .sum()
    }
}

/// A job's header line (`$fax_header`), filled in when the call is placed: the date and time
/// of the call in `tz`, the line's id when the job names no `$fax_station_id`, and page N of M.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderSpec {
    /// The format (see [`crate::fax::header`]).
    pub format: String,
    /// `$fax_sender`.
    pub sender: String,
    /// `$fax_station_id`.
    pub station: Option<String>,
    /// `$fax_to_name`, else the number.
    pub recipient: String,
    /// The CFG's `$timezone` (UTC without one).
    pub tz: chrono_tz::Tz,
}

impl HeaderSpec {
    /// The fields at `now`, with `line_id` as the sending number unless the job names one.
    pub fn fields(&self, line_id: &str, now: DateTime<Utc>) -> HeaderFields {
        let local = now.with_timezone(&self.tz);
        HeaderFields {
            date: local.format("%Y-%m-%d").to_string(),
            time: local.format("%H:%M").to_string(),
            zone: local.format("%Z").to_string(),
            sender: self.sender.clone(),
            station: self.station.clone().unwrap_or_else(|| line_id.to_owned()),
            recipient: self.recipient.clone(),
        }
    }
}

/// Exactly the pages that go on the line for these documents, in order: with `header`, each
/// page carries the header line (page N of the total); without, the pages as prepared.
pub fn pages_for_line(
    docs: &[Arc<Prepared>],
    header: Option<&HeaderSpec>,
    line_id: &str,
    now: DateTime<Utc>,
) -> Vec<Page> {
    let mut pages: Vec<Page> = docs.iter().flat_map(|d| d.pages.iter().cloned()).collect();
    if let Some(h) = header {
        let fields = h.fields(line_id, now);
        let total = pages.len();
        for (i, p) in pages.iter_mut().enumerate() {
            stamp_header(p, &header_text(&h.format, &fields, i + 1, total));
        }
    }
    pages
}

/// The pages MH- and MR-coded for Class 2/2.0 (as [`Prepared`] holds them).
pub fn encode_for_class2(pages: &[Page], resolution: Resolution) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let coded = |coding| {
        pages
            .iter()
            .map(|p| encode(p, &EncodeOptions::class2(coding, 0)))
            .collect()
    };
    (coded(Coding::Mh), coded(Coding::mr_for(resolution)))
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    path: PathBuf,
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
    fine: bool,
}

impl Key {
    fn of(path: &Path, resolution: Resolution) -> Option<Key> {
        let m = std::fs::metadata(path).ok()?;
        Some(Key {
            path: path.to_path_buf(),
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
            fine: resolution == Resolution::Fine,
        })
    }
}

#[derive(Debug, Default)]
struct Inner {
    entries: HashMap<Key, (Arc<Prepared>, u64)>,
    bytes: usize,
    tick: u64,
    prepared: u64,
    hits: u64,
}

/// The cache (cheap to clone: every clone shares it).
#[derive(Debug, Clone)]
pub struct DocumentCache {
    inner: Arc<Mutex<Inner>>,
    limit: usize,
}

impl Default for DocumentCache {
    fn default() -> DocumentCache {
        DocumentCache::new(DocumentCache::DEFAULT_BYTES)
    }
}

impl DocumentCache {
    /// The default size limit: 64 MiB (a fine A4 page is about 0.5 MiB as a bitmap).
    pub const DEFAULT_BYTES: usize = 64 << 20;

    /// A cache that holds up to `limit` bytes.
    pub fn new(limit: usize) -> DocumentCache {
        DocumentCache {
            inner: Arc::default(),
            limit,
        }
    }

    /// The document at `path` prepared at `resolution`: from the cache when the same file was
    /// prepared before, else read, rendered and encoded now (and kept).
    pub fn get(&self, path: &Path, resolution: Resolution) -> Result<Arc<Prepared>, DocError> {
        let key = Key::of(path, resolution);
        if let Some(k) = &key {
            let mut g = self.inner.lock().expect("document cache");
            g.tick += 1;
            let tick = g.tick;
            if let Some((p, used)) = g.entries.get_mut(k) {
                *used = tick;
                let p = p.clone();
                g.hits += 1;
                return Ok(p);
            }
        }
        // Prepared outside the lock: other lines keep their cached documents meanwhile.
        let prepared = Arc::new(Prepared::prepare(
            load_document_at(path, resolution)?,
            resolution,
        ));
        let mut g = self.inner.lock().expect("document cache");
        g.prepared += 1;
        // Kept only when the file is still the one that was read.
        if let Some(k) = key.filter(|k| Key::of(path, resolution).as_ref() == Some(k)) {
            let w = prepared.weight();
            if w <= self.limit {
                g.tick += 1;
                let tick = g.tick;
                if let Some((old, _)) = g.entries.insert(k, (prepared.clone(), tick)) {
                    g.bytes -= old.weight();
                }
                g.bytes += w;
                while g.bytes > self.limit {
                    let Some(oldest) = g
                        .entries
                        .iter()
                        .min_by_key(|(_, (_, used))| *used)
                        .map(|(k, _)| k.clone())
                    else {
                        break;
                    };
                    if let Some((p, _)) = g.entries.remove(&oldest) {
                        g.bytes -= p.weight();
                    }
                }
            }
        }
        Ok(prepared)
    }

    /// (documents prepared, calls served from the cache) since the cache was made.
    pub fn counts(&self) -> (u64, u64) {
        let g = self.inner.lock().expect("document cache");
        (g.prepared, g.hits)
    }

    /// Documents held now.
    pub fn len(&self) -> usize {
        self.inner.lock().expect("document cache").entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fax::load_document;

    #[test]
    fn a_document_is_prepared_once_for_many_calls_and_again_when_it_changes() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("order.txt");
        std::fs::write(&doc, "Order 77.\n").unwrap();
        let cache = DocumentCache::default();
        let first = cache.get(&doc, Resolution::Fine).unwrap();
        for _ in 0..5 {
            let again = cache.get(&doc, Resolution::Fine).unwrap();
            assert!(Arc::ptr_eq(&first, &again), "served from the cache");
        }
        assert_eq!(cache.counts(), (1, 5));
        // What the cache serves is what a fresh preparation gives.
        let fresh: Vec<Page> = load_document(&doc)
            .unwrap()
            .iter()
            .map(|p| p.to_resolution(Resolution::Fine))
            .collect();
        assert_eq!(first.pages, fresh);
        let mh: Vec<Vec<u8>> = fresh
            .iter()
            .map(|p| encode(p, &EncodeOptions::class2(Coding::Mh, 0)))
            .collect();
        assert_eq!(first.mh, mh);
        let mr: Vec<Vec<u8>> = fresh
            .iter()
            .map(|p| {
                encode(
                    p,
                    &EncodeOptions::class2(Coding::mr_for(Resolution::Fine), 0),
                )
            })
            .collect();
        assert_eq!(first.mr, mr);
        // Another resolution is another preparation.
        let standard = cache.get(&doc, Resolution::Standard).unwrap();
        assert!(standard.pages[0].lines() < first.pages[0].lines());
        assert_eq!(cache.counts(), (2, 5));
        // The file replaced (a new inode, as an editor or `mv` leaves it): prepared again.
        let new = dir.path().join("new.txt");
        std::fs::write(&new, "Order 78, with another line.\nAnd a second one.\n").unwrap();
        std::fs::rename(&new, &doc).unwrap();
        let changed = cache.get(&doc, Resolution::Fine).unwrap();
        assert!(!Arc::ptr_eq(&first, &changed));
        assert_ne!(first.mh, changed.mh);
        assert_eq!(cache.counts(), (3, 5));
    }

    #[test]
    fn failures_are_not_kept_and_the_size_limit_holds() {
        let dir = tempfile::tempdir().unwrap();
        let doc = dir.path().join("late.txt");
        assert!(matches!(
            cache_get(&DocumentCache::default(), &doc),
            Err(DocError::Missing { .. })
        ));
        // A document that appears after a failed call is sent on the next one.
        std::fs::write(&doc, "Here now.\n").unwrap();
        let cache = DocumentCache::default();
        assert!(cache_get(&cache, &doc).is_ok());
        // A limit that holds one document: the least recently used one goes.
        let one = cache_get(&cache, &doc).unwrap().weight();
        let small = DocumentCache::new(one + one / 2);
        let other = dir.path().join("other.txt");
        std::fs::write(&other, "Another.\n").unwrap();
        cache_get(&small, &doc).unwrap();
        cache_get(&small, &other).unwrap();
        assert_eq!(small.len(), 1);
        cache_get(&small, &other).unwrap();
        assert_eq!(small.counts(), (2, 1), "the newer document stayed");
        let tiny = DocumentCache::new(1);
        cache_get(&tiny, &doc).unwrap();
        assert!(tiny.is_empty(), "larger than the whole limit: not kept");
    }

    fn cache_get(c: &DocumentCache, p: &Path) -> Result<Arc<Prepared>, DocError> {
        c.get(p, Resolution::Fine)
    }
}
