//! The in-memory index of queued jobs: due time, line group and destination per job, per queue.
//!
//! Pure data structure: no files, no clock of its own. Jobs whose due time has passed are
//! `ready`, kept per queue and per line group in FIFO (file-name) order, so the dispatcher finds
//! the next job for a free line without scanning; the others wait in one time-ordered set whose
//! first element is when the daemon next has to wake up.

use super::JobName;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What the dispatcher needs to know about a queued job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Earliest start (unix ms, already moved by send and pause windows).
    pub due: i64,
    /// Interned line group (`$fax_send_line`, `*` when absent).
    pub group: u32,
    /// Hash of the destination number (for `$max_concurrent_calls`).
    pub dest: u64,
    /// What the job waits for of its own (for reports: retry time or send time).
    pub wait: Wait,
    /// The file's [`stamp`](crate::spool::store::stamp) when it was read.
    pub stamp: u64,
}

/// The job's own time, as opposed to a window holding it: reports tell the two apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// No retry or send time of its own (or they are past when it was read).
    Nothing,
    /// Its retry time (`$fax_next_date`/`$fax_next_time`), unix ms.
    Retry(i64),
    /// Its send date and time (`$fax_send_date`/`$fax_send_time`), unix ms.
    Send(i64),
}

#[derive(Debug, Default)]
struct Queue {
    // A B-tree, not a hash table: no half-empty table after growth (at a million jobs a
    // doubled hash table alone took 150 MB).
    entries: BTreeMap<JobName, Entry>,
    ready: BTreeMap<u32, BTreeSet<JobName>>,
}

/// The index.
#[derive(Debug, Default)]
pub struct Index {
    queues: BTreeMap<u8, Queue>,
    waiting: BTreeSet<(i64, u8, JobName)>,
    groups: Vec<String>,
    group_ids: HashMap<String, u32>,
    promoted_to: i64,
    len: usize,
    ready_len: usize,
}

impl Index {
    /// An empty index.
    pub fn new() -> Index {
        Index {
            promoted_to: i64::MIN,
            ..Index::default()
        }
    }

    /// The id of a group spec (interned).
    pub fn group_id(&mut self, spec: &str) -> u32 {
        if let Some(&id) = self.group_ids.get(spec) {
            return id;
        }
        let id = self.groups.len() as u32;
        self.groups.push(spec.to_string());
        self.group_ids.insert(spec.to_string(), id);
        id
    }

    /// The spec of a group id.
    pub fn group(&self, id: u32) -> &str {
        &self.groups[id as usize]
    }

    /// Number of interned groups.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Loads the jobs of a queue that has none yet, all at once, promoting those due by
    /// `now` (unix ms) as [`Index::promote`] would. The trees are built from sorted runs, so
    /// their nodes are full: one by one, in name order, a B-tree's nodes stay about half full
    /// (at a million jobs that is a hundred megabytes).
    pub fn load_queue(&mut self, queue: u8, mut jobs: Vec<(JobName, Entry)>, now: i64) {
        jobs.sort_by(|a, b| a.0.cmp(&b.0));
        jobs.dedup_by(|a, b| a.0 == b.0);
        self.promote(now);
        let promoted = self.promoted_to;
        let q = self.queues.entry(queue).or_default();
        assert!(q.entries.is_empty(), "load_queue on a queue with jobs");
        let mut ready: HashMap<u32, Vec<JobName>> = HashMap::new();
        for (name, e) in &jobs {
            if e.due <= promoted {
                ready.entry(e.group).or_default().push(name.clone());
                self.ready_len += 1;
            } else {
                self.waiting.insert((e.due, queue, name.clone()));
            }
        }
        for (group, names) in ready {
            let set = q.ready.entry(group).or_default();
            if set.is_empty() {
                *set = names.into_iter().collect();
            } else {
                set.extend(names);
            }
        }
        self.len += jobs.len();
        q.entries = jobs.into_iter().collect();
    }

    /// Inserts or replaces a job.
    pub fn upsert(&mut self, queue: u8, name: JobName, entry: Entry) {
        self.remove(queue, &name);
        let q = self.queues.entry(queue).or_default();
        if entry.due <= self.promoted_to {
            q.ready.entry(entry.group).or_default().insert(name.clone());
            self.ready_len += 1;
        } else {
            self.waiting.insert((entry.due, queue, name.clone()));
        }
        q.entries.insert(name, entry);
        self.len += 1;
    }

    /// Removes a job; returns its entry.
    pub fn remove(&mut self, queue: u8, name: &JobName) -> Option<Entry> {
        let q = self.queues.get_mut(&queue)?;
        let e = q.entries.remove(name)?;
        self.len -= 1;
        let was_ready = match q.ready.get_mut(&e.group) {
            Some(set) => {
                let hit = set.remove(name);
                if set.is_empty() {
                    q.ready.remove(&e.group);
                }
                hit
            }
            None => false,
        };
        if was_ready {
            self.ready_len -= 1;
        } else {
            self.waiting.remove(&(e.due, queue, name.clone()));
        }
        Some(e)
    }

    /// Moves every job due at or before `now` (unix seconds) to its ready set.
    pub fn promote(&mut self, now: i64) {
        self.promoted_to = self.promoted_to.max(now);
        while let Some(first) = self.waiting.first() {
            if first.0 > now {
                break;
            }
            let (_, queue, name) = self.waiting.pop_first().expect("first exists");
            let q = self.queues.get_mut(&queue).expect("queue of an entry");
            let group = q.entries[&name].group;
            q.ready.entry(group).or_default().insert(name);
            self.ready_len += 1;
        }
    }

    /// When the next waiting job becomes due.
    pub fn next_due(&self) -> Option<i64> {
        self.waiting.first().map(|w| w.0)
    }

    /// A job's entry.
    pub fn get(&self, queue: u8, name: &JobName) -> Option<&Entry> {
        self.queues.get(&queue)?.entries.get(name)
    }

    /// The ready jobs of a queue, per group, each group in FIFO order.
    pub fn ready(&self, queue: u8) -> impl Iterator<Item = (u32, &BTreeSet<JobName>)> {
        self.queues
            .get(&queue)
            .into_iter()
            .flat_map(|q| q.ready.iter().map(|(g, s)| (*g, s)))
    }

    /// Every job in a queue (unordered).
    pub fn names(&self, queue: u8) -> impl Iterator<Item = &JobName> {
        self.queues
            .get(&queue)
            .into_iter()
            .flat_map(|q| q.entries.keys())
    }

    /// Every job of `queue` with its entry (no order).
    pub fn entries(&self, queue: u8) -> impl Iterator<Item = (&JobName, &Entry)> {
        self.queues
            .get(&queue)
            .into_iter()
            .flat_map(|q| q.entries.iter())
    }

    /// The interned line groups, by id.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Jobs indexed.
    pub fn len(&self) -> usize {
        self.len
    }
    /// Whether no job is indexed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Jobs due now.
    pub fn ready_len(&self) -> usize {
        self.ready_len
    }
    /// (ready, waiting) per queue.
    pub fn counts(&self, queue: u8) -> (usize, usize) {
        match self.queues.get(&queue) {
            None => (0, 0),
            Some(q) => {
                let r: usize = q.ready.values().map(BTreeSet::len).sum();
                (r, q.entries.len() - r)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loading_a_queue_whole_is_upserting_it_one_by_one() {
        let mut one = Index::new();
        let mut whole = Index::new();
        let (g1, g2) = (one.group_id("*"), one.group_id("fax"));
        assert_eq!((whole.group_id("*"), whole.group_id("fax")), (g1, g2));
        let jobs: Vec<(JobName, Entry)> = (0..200u32)
            .map(|i| {
                (
                    JobName::new(&format!("{}.FS", (i * 37) % 211)),
                    Entry {
                        due: i64::from(i % 7) * 10,
                        group: if i % 3 == 0 { g2 } else { g1 },
                        dest: u64::from(i),
                        wait: Wait::Nothing,
                        stamp: 0,
                    },
                )
            })
            .collect();
        one.upsert(1, JobName::new("other.FS"), jobs[0].1.clone());
        whole.upsert(1, JobName::new("other.FS"), jobs[0].1.clone());
        for (n, e) in &jobs {
            one.upsert(0, n.clone(), e.clone());
        }
        one.promote(30);
        whole.load_queue(0, jobs, 30);
        let ready = |ix: &Index| -> Vec<(u32, Vec<String>)> {
            ix.ready(0)
                .map(|(g, s)| (g, s.iter().map(|n| n.to_string()).collect()))
                .collect()
        };
        assert_eq!(ready(&one), ready(&whole));
        assert_eq!(
            (
                one.len(),
                one.ready_len(),
                one.next_due(),
                one.counts(0),
                one.counts(1)
            ),
            (
                whole.len(),
                whole.ready_len(),
                whole.next_due(),
                whole.counts(0),
                whole.counts(1)
            )
        );
        whole.promote(100);
        one.promote(100);
        assert_eq!(ready(&one), ready(&whole));
        assert_eq!(one.ready_len(), whole.ready_len());
    }

    fn n(s: &str) -> JobName {
        JobName::new(s)
    }

    #[test]
    fn promotion_and_fifo() {
        let mut ix = Index::new();
        let g = ix.group_id("*");
        for (name, due) in [("3.FS", 10), ("1.FS", 30), ("2.FS", 10)] {
            ix.upsert(
                0,
                n(name),
                Entry {
                    due,
                    group: g,
                    dest: 0,
                    wait: crate::spool::index::Wait::Nothing,
                    stamp: 0,
                },
            );
        }
        assert_eq!(ix.next_due(), Some(10));
        ix.promote(10);
        let ready: Vec<&str> = ix
            .ready(0)
            .flat_map(|(_, s)| s.iter().map(JobName::as_str))
            .collect();
        assert_eq!(ready, ["2.FS", "3.FS"]);
        assert_eq!(ix.next_due(), Some(30));
        assert_eq!(ix.counts(0), (2, 1));
        // A job due in the past goes straight to ready.
        ix.upsert(
            1,
            n("9.FS"),
            Entry {
                due: 5,
                group: g,
                dest: 0,
                wait: crate::spool::index::Wait::Nothing,
                stamp: 0,
            },
        );
        assert_eq!(ix.counts(1), (1, 0));
        assert!(ix.remove(0, &n("2.FS")).is_some());
        assert!(ix.remove(0, &n("1.FS")).is_some());
        assert_eq!((ix.len(), ix.ready_len(), ix.next_due()), (2, 2, None));
        // Re-inserting with a later due time moves it back to waiting.
        ix.upsert(
            0,
            n("3.FS"),
            Entry {
                due: 99,
                group: g,
                dest: 0,
                wait: crate::spool::index::Wait::Nothing,
                stamp: 0,
            },
        );
        assert_eq!((ix.len(), ix.ready_len(), ix.next_due()), (2, 1, Some(99)));
    }
}
