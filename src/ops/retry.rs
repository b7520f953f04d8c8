//! Manual and bulk retry: pick failed jobs (by name, or every failed job matching a
//! [`Selection`]), check each against the eligibility rules, and move the eligible ones back
//! into a queue — the reason recorded in the file — as a new cycle.
//!
//! The move is CopiaFacts' own (a file renamed from FAIL into a TOSEND queue starts a new
//! cycle; the daemon needs nothing else), made durable: `$retry_note` is appended to the file
//! in place with [`store::write_atomic`] (every other line kept byte for byte), then one
//! [`store::rename_durable`] moves it. A crash between the two leaves the job in FAIL with a
//! note and no move; it is still one file in one directory. Retries are serialised by a lock on
//! `FAIL/.retry.lock` (the CLI, the web page, the sweep and other nodes alike), and the spool is
//! re-read under it.

use super::config::OpsConfig;
use super::eligibility::{check, Newest, Skip};
use super::scan::{last_table_class, scan, JobView, RetryKind, RetryNote};
use crate::command::Document;
use crate::load::SystemConfig;
use crate::spool::{store, Layout, Place};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Which failed jobs a bulk retry takes. Empty fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// The queue the job came from.
    #[serde(default)]
    pub queue: Option<u8>,
    /// Class letters of the last outcome (from the outcome table), e.g. `"AB"`, or names
    /// (`"busy,no-answer"`): see [`parse_classes`]; [`retry`] refuses anything else.
    #[serde(default)]
    pub class: Option<String>,
    /// Last attempt on or after this date (job-local).
    #[serde(default)]
    pub since: Option<NaiveDate>,
    /// Last attempt on or before this date (job-local).
    #[serde(default)]
    pub until: Option<NaiveDate>,
    /// Destination pattern: `*` any run, `?` one character; matched against the number as
    /// written and against its digits.
    #[serde(default)]
    pub dest: Option<String>,
}

/// The class names a selection accepts beside the letters, as docs/retry.md names the classes
/// (written with spaces, `-` or `_`, any case). G is user defined; the default table gives it to
/// an answering machine that left no message.
pub const CLASS_NAMES: &[(&str, char)] = &[
    ("no-answer", 'A'),
    ("busy", 'B'),
    ("call-failure", 'C'),
    ("no-dial-tone", 'D'),
    ("system", 'E'),
    ("fax", 'F'),
    ("answering-machine", 'G'),
    ("receiver", 'H'),
    ("ignore", 'I'),
    ("success", 'S'),
    ("final", 'Z'),
];

/// One class letter (any case), or a run of them in capitals: `b`, `AB`. A lower-case word is
/// read as a name, never as letters (`machine` would otherwise be M, A, C, H, I, N and E).
fn is_letters(s: &str) -> bool {
    let class = |c: char| crate::retry::outcome::Class::parse(&c.to_string()).is_ok();
    match s.chars().count() {
        0 => false,
        1 => s.chars().all(class),
        _ => s.chars().all(|c| c.is_ascii_uppercase() && class(c)),
    }
}

/// Reads a class selection: comma-separated class names ([`CLASS_NAMES`]) or class letters
/// (`A`–`O`, `S`, `Z`, as the outcome table defines them; a run of them in capitals), e.g.
/// `AB`, `b`, `busy,no-answer`, `busy,Z`. Returns the letters, upper case, each once, in the order given. Anything else is
/// refused with a message listing what is accepted (a letter that is no class, a name that is
/// not one of the list, an empty item).
pub fn parse_classes(s: &str) -> Result<String, String> {
    let refuse = |what: &str| {
        let names: Vec<String> = CLASS_NAMES
            .iter()
            .map(|(n, c)| format!("{n} ({c})"))
            .collect();
        format!(
            "{what:?} is not an outcome class: give class letters A-O, S, Z (e.g. AB) or names \
             {}, separated by commas",
            names.join(", ")
        )
    };
    let mut letters = String::new();
    for item in s.split(',') {
        let key: String = item
            .trim()
            .split(|c: char| c.is_whitespace() || c == '-' || c == '_')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join("-")
            .to_ascii_lowercase();
        let found: Vec<char> = if let Some((_, c)) = CLASS_NAMES.iter().find(|(n, _)| *n == key) {
            vec![*c]
        } else if is_letters(item.trim()) {
            item.trim()
                .chars()
                .map(|c| c.to_ascii_uppercase())
                .collect()
        } else {
            return Err(refuse(item.trim()));
        };
        for c in found {
            if !letters.contains(c) {
                letters.push(c);
            }
        }
    }
    Ok(letters)
}

/// Glob match with `*` and `?`.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl Selection {
    /// The same selection with its class as letters ([`parse_classes`]); an error names what
    /// is accepted.
    pub fn checked(&self) -> Result<Selection, String> {
        let class = match self.class.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(c) => Some(parse_classes(c)?),
        };
        Ok(Selection {
            class,
            ..self.clone()
        })
    }

    /// Whether a job matches. The class must be letters already ([`Selection::checked`]).
    pub fn matches(&self, v: &JobView, sys: &SystemConfig) -> bool {
        // The class is looked up only when the selection asks for one.
        let class = self
            .class
            .as_deref()
            .filter(|c| !c.is_empty())
            .and_then(|_| last_table_class(v, sys))
            .map(|(_, class, _)| class.letter());
        if !self.matches_summary(v.tosend, class, v.destination.as_deref()) {
            return false;
        }
        let last = v.records.last().map(|r| r.start().date());
        if self.since.is_some_and(|d| last.is_none_or(|l| l < d)) {
            return false;
        }
        if self.until.is_some_and(|d| last.is_none_or(|l| l > d)) {
            return false;
        }
        true
    }

    /// The part of [`Selection::matches`] that needs only what a listing of the spool keeps
    /// of a job (its queue, its last outcome's class letter, its destination): a job this
    /// refuses does not match, so a caller holding such a summary reads only the files it
    /// lets through (the dates are then checked on the file).
    pub fn matches_summary(
        &self,
        tosend: u8,
        class: Option<char>,
        destination: Option<&str>,
    ) -> bool {
        if self.queue.is_some_and(|q| q != tosend) {
            return false;
        }
        if let Some(cl) = self.class.as_deref().filter(|c| !c.is_empty()) {
            let Some(class) = class else {
                return false;
            };
            if !cl.chars().any(|c| c.eq_ignore_ascii_case(&class)) {
                return false;
            }
        }
        if let Some(p) = self.dest.as_deref().filter(|p| !p.is_empty()) {
            let Some(dest) = destination else {
                return false;
            };
            let digits = super::scan::dest_key(dest);
            if !glob(p, dest) && !glob(&super::scan::dest_key(p), &digits) && !glob(p, &digits) {
                return false;
            }
        }
        true
    }
}

/// What to retry and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// Job names (`00000001.FS` or `00000001`).
    #[serde(default)]
    pub jobs: Vec<String>,
    /// Every failed job matching `selection` as well.
    #[serde(default)]
    pub all_failed: bool,
    /// The bulk selection.
    #[serde(default)]
    pub selection: Selection,
    /// Recorded in the file.
    #[serde(default)]
    pub reason: String,
    /// Queue to send them to (default: the queue each came from).
    #[serde(default)]
    pub queue: Option<u8>,
    /// Check only.
    #[serde(default)]
    pub dry_run: bool,
    /// Manual or automatic.
    #[serde(default = "manual")]
    pub kind: RetryKind,
    /// The sweep's per-job limit of automatic retries.
    #[serde(skip)]
    pub auto_max: Option<u32>,
}

fn manual() -> RetryKind {
    RetryKind::Manual
}

impl Default for Request {
    fn default() -> Request {
        Request {
            jobs: Vec::new(),
            all_failed: false,
            selection: Selection::default(),
            reason: String::new(),
            queue: None,
            dry_run: false,
            kind: RetryKind::Manual,
            auto_max: None,
        }
    }
}

/// A job put back in a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Queued {
    /// Job name.
    pub job: String,
    /// Destination.
    pub destination: Option<String>,
    /// Queue number.
    pub queue: u8,
    /// Its new path (what it would be, on a dry run).
    pub path: PathBuf,
    /// The cycle it starts (2 = the first retry).
    pub cycle: usize,
}

/// A job left where it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// Job name (as asked for).
    pub job: String,
    /// Why, machine-readable: `reason` and its fields, flattened into this entry (so no
    /// [`Skip`] field may be called `job` or `message`).
    #[serde(flatten)]
    pub why: Skip,
    /// Why, in words.
    pub message: String,
}

/// The result of a retry request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Moved (or, on a dry run, would be moved).
    pub queued: Vec<Queued>,
    /// Not moved, each with its reason.
    pub skipped: Vec<Skipped>,
    /// Whether nothing was moved on purpose.
    pub dry_run: bool,
}

/// Errors that stop the whole request.
#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    /// A bad queue number.
    #[error("queue {0} does not exist (highest is {1})")]
    NoQueue(u8, u8),
    /// A bad selection (a class that is not one).
    #[error("{0}")]
    Selection(String),
    /// File system.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

fn skipped(job: &str, why: Skip) -> Skipped {
    Skipped {
        job: job.to_string(),
        message: why.to_string(),
        why,
    }
}

/// Holds `FAIL/.retry.lock` while alive.
pub struct RetryLock {
    _file: std::fs::File,
}

impl RetryLock {
    /// Waits for the lock.
    pub fn acquire(layout: &Layout) -> std::io::Result<RetryLock> {
        std::fs::create_dir_all(layout.fail())?;
        let f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(layout.fail().join(".retry.lock"))?;
        f.lock()?;
        Ok(RetryLock { _file: f })
    }
}

/// Checks and moves; see the module doc.
pub fn retry(
    layout: &Layout,
    sys: &SystemConfig,
    cfg: &OpsConfig,
    req: &Request,
    now: DateTime<Utc>,
) -> Result<Report, RetryError> {
    if let Some(q) = req.queue.filter(|q| *q > layout.max_queue) {
        return Err(RetryError::NoQueue(q, layout.max_queue));
    }
    let selection = req.selection.checked().map_err(RetryError::Selection)?;
    if !req.dry_run {
        layout.create(None)?;
    }
    let _lock = RetryLock::acquire(layout)?;
    let all = scan(layout, sys);
    let newest = Newest::new(&all);
    let mut picked: Vec<(&str, Option<&JobView>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for j in &req.jobs {
        let name = if crate::spool::is_job_name(j) {
            j.clone()
        } else {
            format!("{j}.FS")
        };
        let found = all
            .iter()
            .filter(|v| v.name.eq_ignore_ascii_case(&name))
            .min_by_key(|v| v.place != Place::Fail);
        if found.is_none_or(|v| seen.insert(v.path.clone())) {
            picked.push((j.as_str(), found));
        }
    }
    if req.all_failed {
        let mut fails: Vec<&JobView> = all
            .iter()
            .filter(|v| v.place == Place::Fail && selection.matches(v, sys))
            .collect();
        fails.sort_by(|a, b| {
            crate::spool::JobName::new(&a.name).cmp(&crate::spool::JobName::new(&b.name))
        });
        for v in fails {
            if seen.insert(v.path.clone()) {
                picked.push((v.name.as_str(), Some(v)));
            }
        }
    }
    let mut report = Report {
        queued: Vec::new(),
        skipped: Vec::new(),
        dry_run: req.dry_run,
    };
    for (asked, v) in picked {
        let Some(v) = v else {
            report.skipped.push(skipped(asked, Skip::NotFound));
            continue;
        };
        if let Err(why) = check(v, &newest, sys, cfg, now, req.auto_max) {
            report.skipped.push(skipped(&v.name, why));
            continue;
        }
        let queue = req.queue.unwrap_or(v.tosend).min(layout.max_queue);
        let target = store::free_name(&layout.queue_dir(queue), &v.name);
        if !req.dry_run {
            let note = RetryNote {
                at: v.local(now),
                kind: req.kind,
                queue,
                reason: req.reason.clone(),
            };
            match move_back(layout, v, &note, &target) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !v.path.exists() => {
                    report.skipped.push(skipped(&v.name, Skip::Gone));
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
            tracing::info!(job = %v.name, queue, kind = req.kind.as_str(), reason = %req.reason, "failed job retried");
        }
        report.queued.push(Queued {
            job: v.name.clone(),
            destination: v.destination.clone(),
            queue,
            path: target,
            cycle: v.cycles() + 1,
        });
    }
    Ok(report)
}

/// Appends the note in place (atomically), then renames the file into the queue.
fn move_back(
    layout: &Layout,
    v: &JobView,
    note: &RetryNote,
    target: &std::path::Path,
) -> std::io::Result<()> {
    let bytes = std::fs::read(&v.path)?;
    let mut doc = Document::parse(&bytes, &v.path.display().to_string())
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let args = note.to_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    doc.append("retry_note", &args);
    let out = doc.to_bytes();
    store::write_atomic(&layout.temp(), ".ops.", &v.path, &out)?;
    store::rename_durable(&v.path, target)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a summary refuses, the whole check refuses too: the console reads only the files a
    /// summary lets through, so a job it wrongly refused would vanish from the failed page.
    #[test]
    fn a_summary_never_refuses_a_job_the_whole_check_takes() {
        let sys = SystemConfig::builtin();
        let jobs = [
            "$fax_phone 555-0142\n$fax_tosend 1\n$attempt_record 03/02/2026 09:00:00 1 0 1 1 A 0 0 0 S1 0 5 0 \"\"\n",
            "$fax_phone 5550199\n$attempt_record 03/02/2026 09:00:00 1 0 1 4 B 0 0 0 S1 0 5 0 \"\"\n",
            "$fax_phone \"\"\n",
            "$email_address a@example.com\n",
            "not a job at all\n",
        ];
        let selections = [
            Selection::default(),
            Selection {
                dest: Some("*".into()),
                ..Selection::default()
            },
            Selection {
                dest: Some("555*".into()),
                ..Selection::default()
            },
            Selection {
                dest: Some("5550142".into()),
                ..Selection::default()
            },
            Selection {
                dest: Some("a@*".into()),
                ..Selection::default()
            },
            Selection {
                class: Some("A".into()),
                ..Selection::default()
            },
            Selection {
                class: Some("BZ".into()),
                queue: Some(0),
                ..Selection::default()
            },
            Selection {
                queue: Some(1),
                ..Selection::default()
            },
        ];
        for (i, text) in jobs.iter().enumerate() {
            let path = std::path::PathBuf::from(format!("FAIL/{i}.FS"));
            let v = crate::ops::scan::view_of(
                &path,
                crate::spool::Place::Fail,
                &sys,
                Ok(text.as_bytes()),
            );
            let class = last_table_class(&v, &sys).map(|(_, c, _)| c.letter());
            let dest = v.destination.clone().unwrap_or_default();
            for sel in &selections {
                if sel.matches(&v, &sys) {
                    assert!(
                        sel.matches_summary(v.tosend, class, Some(&dest)),
                        "{sel:?} takes job {i} but its summary refuses it"
                    );
                }
            }
        }
        // And the summary does rule jobs out (the point of it).
        let sel = Selection {
            dest: Some("555*".into()),
            ..Selection::default()
        };
        assert!(!sel.matches_summary(0, None, Some("a@example.com")));
    }

    #[test]
    fn class_selections() {
        assert_eq!(parse_classes("AB").unwrap(), "AB");
        assert_eq!(parse_classes("b").unwrap(), "B");
        assert_eq!(parse_classes("busy, No Answer,b,z").unwrap(), "BAZ");
        assert_eq!(parse_classes("answering_machine").unwrap(), "G");
        assert_eq!(parse_classes("JKLMNO").unwrap(), "JKLMNO");
        for bad in [
            "",
            "machine",
            "Machine",
            "ab",
            "xyz",
            "P",
            "AP",
            "A,",
            ",",
            "busy,nope",
        ] {
            let e = parse_classes(bad).unwrap_err();
            assert!(
                e.contains("A-O, S, Z") && e.contains("busy (B)"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn globs() {
        assert!(glob("555*", "5550100"));
        assert!(glob("*0100", "5550100"));
        assert!(glob("555?100", "5550100"));
        assert!(!glob("556*", "5550100"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "axxbyyc"));
    }
}
