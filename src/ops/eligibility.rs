//! When a failed job may be retried: all of
//!
//! 1. it is in `FAIL` and readable;
//! 2. its last outcome is retryable: the outcome table's class for the last attempt's code is
//!    not `Z` (invalid number, unobtainable, opt-out, REJECTED, INVALID_MSISDN…). A job that
//!    failed because a retry list ran out has a `Z` *record* but a retryable *code*: eligible;
//! 3. it is the most recent job to its destination: no other job to the same number or address
//!    (in any queue, ACTIVE, SENT or FAIL) is newer — first attempt later, or not attempted
//!    yet and dropped later (see [`crate::ops::scan::JobView::age`]). Destinations are the
//!    same when [`crate::number::normalize`] says so (`(555) 010-0100` is `555.010.0100`);
//! 4. the recommended wait for that class (`$retry_wait`) has passed since the last attempt
//!    ended.
//!
//! The sweep adds a fifth: fewer than `max` automatic retries so far. Pure: the spool picture
//! and the clock come in, a verdict goes out.

use super::config::OpsConfig;
use super::scan::{last_table_class, place_name, JobView};
use crate::load::SystemConfig;
use crate::retry::outcome::Class;
use crate::spool::Place;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// Why a job was not retried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Skip {
    /// No such job in the spool.
    NotFound,
    /// The job is not in FAIL.
    NotFailed {
        /// Where it is.
        place: String,
    },
    /// The file cannot be read.
    Unreadable {
        /// Why.
        error: String,
    },
    /// The last outcome is permanent (class Z in the outcome table).
    Permanent {
        /// Outcome code.
        code: u32,
        /// Its description.
        description: String,
    },
    /// A newer job to the same destination exists. Its fields are named apart from the
    /// skipped entry's own `job` (the entry flattens this enum beside it).
    Newer {
        /// That newer job.
        newer_job: String,
        /// Where the newer job is.
        newer_place: String,
    },
    /// The recommended wait has not passed.
    Wait {
        /// Class whose wait applies.
        class: char,
        /// When the job becomes eligible.
        eligible_at: DateTime<Utc>,
    },
    /// The sweep's `max=` automatic retries are used up.
    AutoLimit {
        /// The limit.
        max: u32,
    },
    /// Another retry moved it first.
    Gone,
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::NotFound => write!(f, "no such job"),
            Skip::NotFailed { place } => write!(f, "not failed (it is in {place})"),
            Skip::Unreadable { error } => write!(f, "unreadable: {error}"),
            Skip::Permanent { code, description } => {
                write!(
                    f,
                    "not retryable: outcome {code} ({description}) is permanent"
                )
            }
            Skip::Newer {
                newer_job,
                newer_place,
            } => {
                write!(
                    f,
                    "not the most recent job to this destination: {newer_job} in {newer_place} is newer"
                )
            }
            Skip::Wait { class, eligible_at } => write!(
                f,
                "recommended wait for class {class} not over: eligible at {}",
                eligible_at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
            Skip::AutoLimit { max } => write!(f, "automatic retries used up ({max})"),
            Skip::Gone => write!(f, "already moved by another retry"),
        }
    }
}

impl Skip {
    /// A short label for metrics and CSS.
    pub fn label(&self) -> &'static str {
        match self {
            Skip::NotFound => "not_found",
            Skip::NotFailed { .. } => "not_failed",
            Skip::Unreadable { .. } => "unreadable",
            Skip::Permanent { .. } => "permanent",
            Skip::Newer { .. } => "newer",
            Skip::Wait { .. } => "wait",
            Skip::AutoLimit { .. } => "auto_limit",
            Skip::Gone => "gone",
        }
    }
}

/// One job to a destination: age, name, place, path.
pub type Entry = (DateTime<Utc>, String, String, std::path::PathBuf);

/// The newest job per destination, built once per spool picture.
#[derive(Debug, Default)]
pub struct Newest {
    by_dest: HashMap<String, Vec<Entry>>,
}

impl Newest {
    /// Indexes every job with a destination.
    pub fn new(all: &[JobView]) -> Newest {
        Newest::from_entries(all.iter().filter_map(|j| {
            let k = j.dest_key.clone()?;
            Some((
                k,
                (j.age, j.name.clone(), place_name(&j.place), j.path.clone()),
            ))
        }))
    }

    /// Indexes jobs given as (normalised destination, (age, name, place, path)): what a
    /// catalogue of the spool already holds, so no file need be read again.
    pub fn from_entries(entries: impl IntoIterator<Item = (String, Entry)>) -> Newest {
        let mut by_dest: HashMap<_, Vec<_>> = HashMap::new();
        for (k, e) in entries {
            by_dest.entry(k).or_default().push(e);
        }
        Newest { by_dest }
    }

    /// The newest other job to `v`'s destination that is newer than `v`, if any.
    pub fn newer_than(&self, v: &JobView) -> Option<(&str, &str)> {
        let k = v.dest_key.as_ref()?;
        self.by_dest
            .get(k)?
            .iter()
            .filter(|(age, name, _, path)| {
                *path != v.path
                    && (*age > v.age
                        || (*age == v.age
                            && crate::spool::JobName::new(name)
                                > crate::spool::JobName::new(&v.name)))
            })
            .max_by_key(|(age, ..)| *age)
            .map(|(_, name, place, _)| (name.as_str(), place.as_str()))
    }
}

/// When the recommended wait of `v` ends (`None`: no attempt, nothing to wait for), and the
/// class it is for.
pub fn eligible_at(
    v: &JobView,
    sys: &SystemConfig,
    cfg: &OpsConfig,
) -> Option<(char, DateTime<Utc>)> {
    let end = v.last_end?;
    let (_, class, _) = last_table_class(v, sys)?;
    let mins = if class == Class::S || class == Class::Z {
        0
    } else {
        cfg.wait_minutes(class)
    };
    Some((class.letter(), end + Duration::minutes(i64::from(mins))))
}

/// Whether `v` may be retried now (`Ok`) or why not. `auto_max` adds the sweep's limit.
pub fn check(
    v: &JobView,
    newest: &Newest,
    sys: &SystemConfig,
    cfg: &OpsConfig,
    now: DateTime<Utc>,
    auto_max: Option<u32>,
) -> Result<(), Skip> {
    if v.place != Place::Fail {
        return Err(Skip::NotFailed {
            place: place_name(&v.place),
        });
    }
    if let Some(e) = &v.error {
        return Err(Skip::Unreadable { error: e.clone() });
    }
    if let Some((code, class, description)) = last_table_class(v, sys) {
        if class == Class::Z {
            return Err(Skip::Permanent { code, description });
        }
    }
    if let Some((job, place)) = newest.newer_than(v) {
        return Err(Skip::Newer {
            newer_job: job.to_string(),
            newer_place: place.to_string(),
        });
    }
    if let Some((class, at)) = eligible_at(v, sys, cfg) {
        if at > now {
            return Err(Skip::Wait {
                class,
                eligible_at: at,
            });
        }
    }
    if let Some(max) = auto_max {
        if v.auto_retries() >= max as usize {
            return Err(Skip::AutoLimit { max });
        }
    }
    Ok(())
}
