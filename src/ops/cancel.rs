//! `redial cancel` (HylaFAX's faxrm): a queued job goes to `FAIL` undialled with outcome 40
//! ([`CODE_CANCELLED`]) and `$fail_reason "cancelled by USER: reason"`; for a job in progress the
//! command leaves a request (`CANCEL/<job>.req`) that the node holding the job acts on: it hangs
//! the call up and settles the attempt as cancelled (see `daemon::cancel`).
//!
//! Owns the request files and the change to a queued job: claimed as a node claims it
//! ([`Hand`]), rewritten with [`store::write_atomic`] (every other line byte for byte), moved to
//! `FAIL` with one [`store::rename_durable`]. A file that does not parse is moved unchanged with
//! `NAME.FS.err` beside it, as the daemon does with bad input. It never touches a job a node
//! holds, and never dials or hangs up anything itself.

use super::hand::Hand;
use super::locate::{self, Found, NotFound};
use crate::command::Document;
use crate::daemon::CODE_CANCELLED;
use crate::spool::{store, Layout, Place};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::io;
use std::path::{Path, PathBuf};

/// A request to cancel a job in progress, as written to `CANCEL/<job>.req` (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The job's file name.
    pub job: String,
    /// Who asked.
    pub by: String,
    /// Why (may be empty).
    pub reason: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl Request {
    /// The `$fail_reason` of the cancelled job: `cancelled by USER: reason`.
    pub fn fail_reason(&self) -> String {
        if self.reason.trim().is_empty() {
            format!("cancelled by {}", self.by)
        } else {
            format!("cancelled by {}: {}", self.by, self.reason)
        }
    }
}

/// `CANCEL`: requests to cancel jobs in progress.
pub fn dir(layout: &Layout) -> PathBuf {
    layout.root.join("CANCEL")
}

/// `CANCEL/<job>.req`.
pub fn request_path(layout: &Layout, job: &str) -> PathBuf {
    dir(layout).join(format!("{job}.req"))
}

/// Writes a request atomically (a node never reads half of one).
pub fn write_request(layout: &Layout, r: &Request) -> io::Result<PathBuf> {
    std::fs::create_dir_all(layout.temp())?;
    std::fs::create_dir_all(dir(layout))?;
    let path = request_path(layout, &r.job);
    let bytes = serde_json::to_vec(r).map_err(io::Error::other)?;
    store::write_atomic(&layout.temp(), ".cancel.", &path, &bytes)?;
    Ok(path)
}

/// Every readable request (a half-written or foreign file is skipped).
pub fn read_requests(layout: &Layout) -> Vec<(PathBuf, Request)> {
    let Ok(rd) = std::fs::read_dir(dir(layout)) else {
        return Vec::new();
    };
    let mut out: Vec<(PathBuf, Request)> = rd
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "req"))
        .filter_map(|p| {
            let r = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
            Some((p, r))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A queued job the command cancelled itself, for the nodes' log: `CANCEL/<job>.<ms>.done`
/// (JSON), removed and logged by a node serving its queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The request the command carried out.
    pub request: Request,
    /// The queue the job was in.
    pub queue: u8,
    /// Where it is now.
    pub path: PathBuf,
}

/// Leaves a [`Notice`] (best effort: the cancel itself is already on record in the job).
pub fn write_notice(layout: &Layout, n: &Notice) {
    let name = format!("{}.{}.done", n.request.job, n.request.at.timestamp_millis());
    let bytes = serde_json::to_vec(n).unwrap_or_default();
    let _ = std::fs::create_dir_all(dir(layout)).and_then(|()| {
        store::write_atomic(&layout.temp(), ".cancel.", &dir(layout).join(name), &bytes)
    });
}

/// Every readable notice.
pub fn read_notices(layout: &Layout) -> Vec<(PathBuf, Notice)> {
    let Ok(rd) = std::fs::read_dir(dir(layout)) else {
        return Vec::new();
    };
    rd.flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "done"))
        .filter_map(|p| {
            let n = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
            Some((p, n))
        })
        .collect()
}

/// The request for `job`, if one is waiting.
pub fn read_request(layout: &Layout, job: &str) -> Option<Request> {
    serde_json::from_slice(&std::fs::read(request_path(layout, job)).ok()?).ok()
}

/// Marks a job document as cancelled: `$fax_status1 6`, `$fax_status2 40`, `$fail_reason`.
pub fn mark(doc: &mut Document, r: &Request) {
    crate::spool::rewrite::fail_bad(doc, CODE_CANCELLED, &r.fail_reason());
}

/// What became of one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    /// It was queued and is now in FAIL.
    Cancelled {
        /// Its path in FAIL.
        path: PathBuf,
        /// Whether the file did not parse (moved unchanged, the reason in `NAME.err`).
        unreadable: bool,
    },
    /// It is in progress on `node`: a request was left for that node.
    Requested {
        /// The node holding it.
        node: String,
        /// The request file.
        request: PathBuf,
    },
    /// It had already finished.
    Finished {
        /// `SENT` or `FAIL`.
        place: String,
        /// Its path.
        path: PathBuf,
    },
}

/// Why a cancel could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CancelError {
    /// No such job.
    #[error(transparent)]
    NotFound(#[from] NotFound),
    /// The spool refused a write or a rename; the job is where it was.
    #[error("the spool refuses the change; the job was left as it was")]
    Io(#[from] io::Error),
}

/// Cancels one job (see the module documentation).
pub fn cancel(layout: &Layout, job: &str, by: &str, reason: &str) -> Result<Outcome, CancelError> {
    let request = |name: &str| Request {
        job: name.to_string(),
        by: by.to_string(),
        reason: reason.to_string(),
        at: Utc::now(),
    };
    // A job a node claims meanwhile is looked for again, where it went.
    for _ in 0..8 {
        let Found { path, place } = locate::find(layout, job)?;
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        match place {
            Place::Queue(queue) => {
                let hand = Hand::open(layout)?;
                let Some(held) = hand.take(&path)? else {
                    continue;
                };
                let r = request(&name);
                let done = fail_held(&hand, &held, &path, &r)?;
                if let Outcome::Cancelled { path, .. } = &done {
                    write_notice(
                        layout,
                        &Notice {
                            request: r,
                            queue,
                            path: path.clone(),
                        },
                    );
                }
                return Ok(done);
            }
            Place::Active(node) if node.starts_with("ops-") => {
                // Another operator command holds it for a moment.
                std::thread::sleep(std::time::Duration::from_millis(20));
                continue;
            }
            Place::Active(node) => {
                let r = request(&name);
                let request = write_request(layout, &r)?;
                return Ok(Outcome::Requested { node, request });
            }
            Place::Sent | Place::Fail => {
                return Ok(Outcome::Finished {
                    place: crate::ops::scan::place_name(&place),
                    path,
                })
            }
        }
    }
    Err(CancelError::Io(io::Error::other(
        "the job kept moving between queues and nodes; try again",
    )))
}

/// Writes the cancel into a held job and moves it to FAIL; on a refused write the job goes back
/// to `from` unchanged.
fn fail_held(hand: &Hand, held: &Path, from: &Path, r: &Request) -> io::Result<Outcome> {
    let layout = hand.layout();
    let target = store::free_name(&layout.fail(), &r.job);
    let back = |e: io::Error| {
        let _ = hand.put(held, from);
        e
    };
    let bytes = std::fs::read(held).map_err(back)?;
    match Document::parse(&bytes, &held.display().to_string()) {
        Ok(mut doc) => {
            mark(&mut doc, r);
            store::write_atomic(&layout.temp(), ".cancel.", held, &doc.to_bytes()).map_err(back)?;
            hand.put(held, &target)?;
            Ok(Outcome::Cancelled {
                path: target,
                unreadable: false,
            })
        }
        Err(e) => {
            // It cannot be rewritten safely: moved unchanged, the status beside it.
            let err = PathBuf::from(format!("{}.err", target.display()));
            let mut text = Document::new(&err.display().to_string());
            text.set("fax_status2", &[&CODE_CANCELLED.to_string()]);
            text.set(
                "fail_reason",
                &[&format!(
                    "{} (the file does not parse: {e})",
                    r.fail_reason()
                )],
            );
            store::write_atomic(&layout.temp(), ".cancel.", &err, &text.to_bytes())
                .map_err(back)?;
            hand.put(held, &target)?;
            Ok(Outcome::Cancelled {
                path: target,
                unreadable: true,
            })
        }
    }
}
