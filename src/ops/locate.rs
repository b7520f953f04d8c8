//! Finding a job an operator names (`redial cancel`, `redial alter`): `00000017`, `00000017.FS`
//! or a path, in every queue, `ACTIVE/<node>/` (and the directories nodes took over), `SENT`
//! and `FAIL`. A name found nowhere comes back with the closest names that exist, so a typo is
//! answered with "did you mean".
//!
//! Read-only: lists directories, never opens a job file.

use crate::spool::{is_job_name, lease, store, Layout, Place};
use std::path::{Path, PathBuf};

/// Where a job was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The file.
    pub path: PathBuf,
    /// Its place ([`Place::Active`] names the node, also for a directory it took over).
    pub place: Place,
}

/// A job name found nowhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no job {asked:?} in {spool}{}", hint(.suggestions))]
pub struct NotFound {
    /// The name as given.
    pub asked: String,
    /// The spool looked in.
    pub spool: String,
    /// Close names that exist (at most three, closest first).
    pub suggestions: Vec<String>,
}

fn hint(s: &[String]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", s.join(", "))
    }
}

/// `NAME.FS` for a bare name.
pub fn file_name(job: &str) -> String {
    if is_job_name(job) {
        job.to_string()
    } else {
        format!("{job}.FS")
    }
}

/// Every directory a job can be in, with its place.
fn dirs(layout: &Layout) -> Vec<(PathBuf, Place)> {
    let mut v: Vec<(PathBuf, Place)> = layout
        .queues()
        .map(|q| (layout.queue_dir(q), Place::Queue(q)))
        .collect();
    for n in lease::node_dirs(layout) {
        let d = layout.active(&n);
        // Directories a node took over sit inside its own until they are recovered.
        if let Ok(rd) = std::fs::read_dir(&d) {
            for e in rd.flatten() {
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    v.push((e.path(), Place::Active(n.clone())));
                }
            }
        }
        v.push((d, Place::Active(n)));
    }
    v.push((layout.sent(), Place::Sent));
    v.push((layout.fail(), Place::Fail));
    v
}

/// Finds `job` (a name with or without `.FS`, or a path to a file inside the spool). A job in
/// a queue or in progress is preferred over a finished copy of the same name.
pub fn find(layout: &Layout, job: &str) -> Result<Found, NotFound> {
    let direct = Path::new(job);
    if job.contains('/') && direct.is_file() {
        let path = std::path::absolute(direct).unwrap_or_else(|_| direct.to_path_buf());
        let root = std::path::absolute(&layout.root).unwrap_or_else(|_| layout.root.clone());
        let rel = Layout::new(root, layout.max_queue);
        if let Some(place) = rel.place_of(&path) {
            return Ok(Found { path, place });
        }
    }
    let name = file_name(job);
    let all = dirs(layout);
    for (d, place) in &all {
        let p = d.join(&name);
        if p.is_file() {
            return Ok(Found {
                path: p,
                place: place.clone(),
            });
        }
    }
    // Case differences only (`1.fs`): the exact name of the file wins.
    for (d, place) in &all {
        for n in store::list_jobs(d).unwrap_or_default() {
            if n.eq_ignore_ascii_case(&name) {
                return Ok(Found {
                    path: d.join(n),
                    place: place.clone(),
                });
            }
        }
    }
    Err(NotFound {
        asked: job.to_string(),
        spool: layout.root.display().to_string(),
        suggestions: suggest(&all, &name),
    })
}

/// The names within two edits of `name` (at most three, closest first).
fn suggest(all: &[(PathBuf, Place)], name: &str) -> Vec<String> {
    let mut near: Vec<(usize, String)> = Vec::new();
    for (d, _) in all {
        for n in store::list_jobs(d).unwrap_or_default() {
            let dist =
                strsim::damerau_levenshtein(&n.to_ascii_uppercase(), &name.to_ascii_uppercase());
            if dist <= 2 && !near.iter().any(|(_, m)| *m == n) {
                near.push((dist, n));
            }
        }
    }
    near.sort();
    near.into_iter().take(3).map(|(_, n)| n).collect()
}
