//! Cleaning the finished jobs (HylaFAX's `faxqclean`): jobs in `SENT` and `FAIL` older than a
//! number of days are archived under `ARCHIVE/` or deleted, by `redial clean` or once a day by
//! the daemon (`$archive_after DAYS`, `$delete_after DAYS` in the CFG).
//!
//! A job's age is the time since its file last changed: the settle write that put it in `SENT` or
//! `FAIL` (a rename keeps it, so an archived job keeps its age). A job rejected as not a job
//! (`FAIL/NAME.err` beside it) moves and goes with its `.err` file.
//!
//! Archiving is one durable rename into `ARCHIVE/SENT/YYYY-MM/` or `ARCHIVE/FAIL/YYYY-MM/` (the
//! month the job finished, in the CFG's `$timezone`; a name already there gets a free one), then
//! an fsync of the directory it left; deleting is an unlink and an fsync of the directory. A
//! crash leaves each job in one place. `FAIL` is touched only under `FAIL/.retry.lock`, the lock
//! `redial retry`, the web page and the sweep take, so a job being retried is never deleted under
//! them. It never reads a job's commands, never touches a queue or `ACTIVE`.

use super::retry::RetryLock;
use crate::spool::{store, Layout};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What happens to an old job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Moved under `ARCHIVE/`.
    Archive,
    /// Removed.
    Delete,
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Action::Archive => "archive",
            Action::Delete => "delete",
        })
    }
}

/// Which finished jobs a clean looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Folder {
    /// `SENT`.
    Sent,
    /// `FAIL`.
    Fail,
    /// `ARCHIVE/SENT` and `ARCHIVE/FAIL` (only deleted from).
    Archive,
}

impl std::fmt::Display for Folder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Folder::Sent => "SENT",
            Folder::Fail => "FAIL",
            Folder::Archive => "ARCHIVE",
        })
    }
}

/// One clean: jobs in `folders` older than `older_than` get `action`.
#[derive(Debug, Clone)]
pub struct Request {
    /// The age beyond which a job is cleaned.
    pub older_than: Duration,
    /// Archive or delete.
    pub action: Action,
    /// Where to look.
    pub folders: Vec<Folder>,
    /// Report what would be done, do nothing.
    pub dry_run: bool,
}

/// A job cleaned (or that would be, on a dry run).
#[derive(Debug, Clone, Serialize)]
pub struct Cleaned {
    /// The job's file name.
    pub job: String,
    /// Where it was.
    pub from: Folder,
    /// Whole days since it finished.
    pub age_days: i64,
    /// What was done.
    pub action: Action,
    /// Where it went (archive only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<PathBuf>,
}

/// What a clean did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Jobs cleaned, oldest first.
    pub cleaned: Vec<Cleaned>,
    /// Jobs that could not be cleaned, with why (they stay where they are).
    pub errors: Vec<(String, String)>,
    /// Whether nothing was changed.
    pub dry_run: bool,
}

/// Why a clean could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CleanError {
    /// The retry lock or a folder listing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// An age that is not a whole number of days, or none.
    #[error("{0}")]
    Age(String),
}

/// Reads an age argument: a whole number of days (`30`, `30d`).
pub fn parse_days(s: &str) -> Result<Duration, CleanError> {
    let digits = s.trim().strip_suffix(['d', 'D']).unwrap_or(s.trim());
    match digits.parse::<u32>() {
        Ok(n) => Ok(Duration::days(i64::from(n))),
        Err(_) => Err(CleanError::Age(format!(
            "{s:?} is not a number of days (for example 30 or 30d)"
        ))),
    }
}

fn archive_root(layout: &Layout) -> PathBuf {
    layout.root.join("ARCHIVE")
}

/// The directories of a folder, with the folder name used under `ARCHIVE/`.
fn dirs(layout: &Layout, folder: Folder) -> Vec<(PathBuf, &'static str)> {
    match folder {
        Folder::Sent => vec![(layout.sent(), "SENT")],
        Folder::Fail => vec![(layout.fail(), "FAIL")],
        Folder::Archive => ["SENT", "FAIL"]
            .into_iter()
            .flat_map(|f| {
                let root = archive_root(layout).join(f);
                std::fs::read_dir(&root)
                    .map(|rd| {
                        rd.flatten()
                            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                            .map(|e| (e.path(), f))
                            .collect::<Vec<_>>()
                    })
                    .unwrap_or_default()
            })
            .collect(),
    }
}

/// When the file last changed.
fn finished(path: &Path) -> Option<DateTime<Utc>> {
    let m = std::fs::symlink_metadata(path).ok()?;
    m.is_file().then_some(())?;
    Some(DateTime::<Utc>::from(m.modified().ok()?))
}

/// Cleans as `req` says; see the module doc. `tz` names the archive's month folders.
pub fn clean(
    layout: &Layout,
    req: &Request,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Report, CleanError> {
    let _lock = if req.dry_run || !layout.fail().is_dir() {
        None
    } else {
        Some(RetryLock::acquire(layout)?)
    };
    let mut report = Report {
        dry_run: req.dry_run,
        ..Report::default()
    };
    let mut found: Vec<(DateTime<Utc>, String, Folder, PathBuf, &'static str)> = Vec::new();
    for &folder in &req.folders {
        for (dir, label) in dirs(layout, folder) {
            let names = match store::list_jobs(&dir) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            for name in names {
                let path = dir.join(&name);
                if let Some(at) = finished(&path).filter(|at| now - *at > req.older_than) {
                    found.push((at, name, folder, dir.clone(), label));
                }
            }
        }
    }
    found.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    for (at, name, folder, dir, label) in found {
        let action = if folder == Folder::Archive {
            Action::Delete
        } else {
            req.action
        };
        let local = at.with_timezone(&tz);
        let month = NaiveDate::from_ymd_opt(local.year(), local.month(), 1)
            .map_or_else(|| "unknown".into(), |d| d.format("%Y-%m").to_string());
        let target_dir = archive_root(layout).join(label).join(month);
        let mut item = Cleaned {
            job: name.clone(),
            from: folder,
            age_days: (now - at).num_days(),
            action,
            to: None,
        };
        let outcome = if req.dry_run {
            if action == Action::Archive {
                item.to = Some(store::free_name(&target_dir, &name));
            }
            Ok(())
        } else {
            match action {
                Action::Archive => archive(&dir, &name, &target_dir).map(|to| {
                    // A log left behind is no loss of the job: say so, go on.
                    if let Err(e) = carry_logs(layout, &name, Some(&to)) {
                        tracing::warn!(job = %name, error = %e, "session logs not archived");
                    }
                    item.to = Some(to);
                }),
                Action::Delete => delete(&dir, &name).map(|()| {
                    // Archived jobs keep their logs beside them (deleted with the folder's job).
                    if folder != Folder::Archive {
                        if let Err(e) = carry_logs(layout, &name, None) {
                            tracing::warn!(job = %name, error = %e, "session logs not deleted");
                        }
                    } else {
                        for (log, _) in session_logs(&dir, &name) {
                            let _ = std::fs::remove_file(log);
                        }
                    }
                }),
            }
        };
        match outcome {
            Ok(()) => {
                if !req.dry_run {
                    tracing::info!(job = %name, from = %folder, age_days = item.age_days,
                        action = %action, "cleaned a finished job");
                }
                report.cleaned.push(item);
            }
            Err(e) => {
                tracing::error!(job = %name, error = %e, "cannot clean a finished job; it stays");
                report.errors.push((name, e.to_string()));
            }
        }
    }
    Ok(report)
}

/// The `.err` file beside a job rejected as not a job, if any.
fn companion(dir: &Path, name: &str) -> Option<PathBuf> {
    let p = dir.join(format!("{name}.err"));
    p.is_file().then_some(p)
}

/// The session logs of job `name` in `dir` (`<stem>.<n>.log`), with their attempt numbers.
fn session_logs(dir: &Path, name: &str) -> Vec<(PathBuf, usize)> {
    let stem = name.rsplit_once('.').map_or(name, |(s, _)| s);
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let f = e.file_name().to_string_lossy().into_owned();
            let n = f
                .strip_prefix(stem)?
                .strip_prefix('.')?
                .strip_suffix(".log")?
                .parse()
                .ok()?;
            Some((e.path(), n))
        })
        .collect()
}

/// Moves the job's session logs beside the archived job (named after it), or deletes them.
fn carry_logs(layout: &Layout, name: &str, archived_as: Option<&Path>) -> std::io::Result<()> {
    for (log, n) in session_logs(&layout.root.join("LOG"), name) {
        match archived_as {
            Some(to) => {
                let stem = to.file_stem().map(|s| s.to_string_lossy().into_owned());
                let dest = to.with_file_name(format!("{}.{n}.log", stem.unwrap_or_default()));
                std::fs::rename(&log, dest)?;
            }
            None => std::fs::remove_file(&log)?,
        }
    }
    Ok(())
}

fn archive(dir: &Path, name: &str, target_dir: &Path) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(target_dir)?;
    if let Some(parent) = target_dir.parent() {
        store::fsync_dir(parent)?;
    }
    let to = store::free_name(target_dir, name);
    let err = companion(dir, name);
    std::fs::rename(dir.join(name), &to)?;
    if let Some(err) = err {
        let to_name = to.file_name().map(|n| n.to_string_lossy().into_owned());
        let err_to = target_dir.join(format!("{}.err", to_name.unwrap_or_default()));
        std::fs::rename(err, err_to)?;
    }
    store::fsync_dir(target_dir)?;
    store::fsync_dir(dir)?;
    Ok(to)
}

fn delete(dir: &Path, name: &str) -> std::io::Result<()> {
    if let Some(err) = companion(dir, name) {
        std::fs::remove_file(err)?;
    }
    std::fs::remove_file(dir.join(name))?;
    store::fsync_dir(dir)
}

/// The daily clean the CFG asks for: archive after `archive_after` days, delete after
/// `delete_after` (from `SENT`/`FAIL` when there is no archiving, and from `ARCHIVE/`).
pub fn daily(
    layout: &Layout,
    archive_after: Option<Duration>,
    delete_after: Option<Duration>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Report, CleanError> {
    let mut report = Report::default();
    let mut merge = |r: Report| {
        report.cleaned.extend(r.cleaned);
        report.errors.extend(r.errors);
    };
    if let Some(days) = delete_after {
        // Jobs past both limits are deleted, not archived first.
        merge(clean(
            layout,
            &Request {
                older_than: days,
                action: Action::Delete,
                folders: vec![Folder::Sent, Folder::Fail, Folder::Archive],
                dry_run: false,
            },
            tz,
            now,
        )?);
    }
    if let Some(days) = archive_after {
        merge(clean(
            layout,
            &Request {
                older_than: days,
                action: Action::Archive,
                folders: vec![Folder::Sent, Folder::Fail],
                dry_run: false,
            },
            tz,
            now,
        )?);
    }
    Ok(report)
}

/// Decides when [`run_daily`] is due: at most once a local day (the day is kept in
/// `ARCHIVE/.clean.last`, so a restart or a second node does not clean again that day).
#[derive(Debug, Default)]
pub struct Cleaner {
    last: Option<NaiveDate>,
}

fn stamp(layout: &Layout) -> PathBuf {
    archive_root(layout).join(".clean.last")
}

fn last_run(layout: &Layout) -> Option<NaiveDate> {
    std::fs::read_to_string(stamp(layout))
        .ok()
        .and_then(|s| NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok())
}

impl Cleaner {
    /// Whether today's clean is still to run (and, when it is, marks it taken by this node).
    pub fn due(
        &mut self,
        layout: &Layout,
        settings: &Settings,
        tz: Tz,
        now: DateTime<Utc>,
    ) -> bool {
        if settings.archive_after.is_none() && settings.delete_after.is_none() {
            return false;
        }
        let today = now.with_timezone(&tz).date_naive();
        if self.last == Some(today) {
            return false;
        }
        self.last = Some(today);
        if last_run(layout) == Some(today) {
            tracing::info!(day = %today, "today's clean of SENT and FAIL is done already (ARCHIVE/.clean.last)");
            return false;
        }
        true
    }
}

/// The CFG's daily clean: `$archive_after DAYS`, `$delete_after DAYS`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    /// Archive finished jobs older than this.
    pub archive_after: Option<Duration>,
    /// Delete finished and archived jobs older than this.
    pub delete_after: Option<Duration>,
}

/// [`daily`], then the day recorded in `ARCHIVE/.clean.last` (only when it ran through).
pub fn run_daily(
    layout: &Layout,
    settings: Settings,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<Report, CleanError> {
    let report = daily(
        layout,
        settings.archive_after,
        settings.delete_after,
        tz,
        now,
    )?;
    let today = now.with_timezone(&tz).date_naive();
    std::fs::create_dir_all(archive_root(layout))?;
    store::write_atomic(
        &layout.temp(),
        ".ops.",
        &stamp(layout),
        format!("{today}\n").as_bytes(),
    )?;
    tracing::info!(
        cleaned = report.cleaned.len(),
        errors = report.errors.len(),
        "daily clean of SENT and FAIL"
    );
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_days() {
        assert_eq!(parse_days("30").unwrap(), Duration::days(30));
        assert_eq!(parse_days("7d").unwrap(), Duration::days(7));
        let e = parse_days("3 weeks").unwrap_err().to_string();
        assert!(e.contains("not a number of days"), "{e}");
        assert!(parse_days("-1").is_err());
    }
}
