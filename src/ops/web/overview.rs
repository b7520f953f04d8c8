//! The overview (`GET /`, `GET /overview`) and its JSON (`GET /api/overview`, `GET /api/lines`):
//! counts per queue and state, and the lines panel.
//!
//! Counts come from a running node's published summary ([`crate::spool::summary`]) for the
//! queues it indexes while it is fresh, else from the [catalogue](super::catalogue); sent and
//! failed today from the catalogue. The lines panel reads every node's lease (each line idle,
//! busy or down with its next probe) and live call steps ([`crate::spool::progress`]): a busy
//! line is `dialling` until its call reports another step, then `connected` with the step
//! (`page 2/5 at 14400`). Small files only; it never reads a job file and never changes one.

use super::catalogue::{JobState, QueuedNow};
use super::when::{both, local, rfc3339, rfc3339_opt};
use super::*;
use crate::spool::{lease, progress, summary};

/// One queue's counts.
#[derive(Debug, Clone, Serialize)]
pub struct QueueCounts {
    /// Folder name.
    pub queue: String,
    /// Its number.
    pub number: u8,
    /// May start now.
    pub due: usize,
    /// Held by a send or pause window.
    pub held: usize,
    /// Earliest end of such a hold (RFC 3339).
    pub held_until: Option<String>,
    /// Waiting for a retry time.
    pub waiting_retry: usize,
    /// Waiting for a send time.
    pub scheduled: usize,
    /// Held for good (an operator's hold, no line serves it): see `held`.
    pub held_for_good: usize,
}

/// A queued job held for good, and why.
#[derive(Debug, Clone, Serialize)]
pub struct HeldJob {
    /// Folder name.
    pub queue: String,
    /// File name.
    pub job: String,
    /// Why.
    pub reason: String,
}

/// One line in the panel.
#[derive(Debug, Clone, Serialize)]
pub struct LineOut {
    /// Its node.
    pub node: String,
    /// Number.
    pub line: u32,
    /// Its groups (from the CFG), comma-separated.
    pub group: String,
    /// `idle`, `dialling`, `connected`, `down`, or `unknown` (its node's lease is stale).
    pub state: String,
    /// The call's step (`page 2/5 at 14400`), or for a line down its next probe in words.
    pub detail: String,
    /// The job on it.
    pub job: Option<String>,
    /// When the step was reported (RFC 3339).
    pub since: Option<String>,
    /// Down: when it is next probed (RFC 3339).
    pub next_probe: Option<String>,
}

/// One node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeOut {
    /// Name.
    pub node: String,
    /// Its machine.
    pub host: String,
    /// Last lease renewal (RFC 3339).
    pub renewed: String,
    /// Its lease is stale (the node is not running).
    pub stale: bool,
    /// Shutting down.
    pub draining: bool,
    /// Why the spool refuses its writes, while it does.
    pub spool_error: Option<String>,
    /// Its lines.
    pub lines: Vec<LineOut>,
}

/// The lines panel.
#[derive(Debug, Clone, Serialize)]
pub struct LinesOut {
    /// Server time (RFC 3339).
    pub now: String,
    /// Every node with a lease.
    pub nodes: Vec<NodeOut>,
}

/// The overview.
#[derive(Debug, Clone, Serialize)]
pub struct OverviewOut {
    /// Server time (RFC 3339).
    pub now: String,
    /// Where the queue counts come from: `summary of NODE` or `files`.
    pub counted_by: String,
    /// When they were counted (RFC 3339).
    pub counted_at: String,
    /// Per queue.
    pub queues: Vec<QueueCounts>,
    /// Jobs held for good, with the reason (at most [`summary::HELD_LISTED`]).
    pub held: Vec<HeldJob>,
    /// Jobs in progress.
    pub in_progress: usize,
    /// Sent today (the CFG's time zone).
    pub sent_today: usize,
    /// Failed today.
    pub failed_today: usize,
    /// In SENT.
    pub sent: usize,
    /// In FAIL.
    pub failed: usize,
    /// The lines panel.
    pub lines: LinesOut,
}

fn line_groups(sys: &SystemConfig) -> HashMap<u32, String> {
    let mut out: HashMap<u32, Vec<String>> = HashMap::new();
    for d in crate::line::line_defs(&sys.document).unwrap_or_default() {
        for g in d.param("group").into_iter().flat_map(|g| g.split(',')) {
            out.entry(d.number).or_default().push(g.trim().to_string());
        }
    }
    for c in sys.document.all("line_group") {
        if let (Some(n), Some(Ok(set))) = (c.arg(0), c.arg(1).map(crate::linegroup::LineSet::parse))
        {
            for (line, gs) in out.iter_mut() {
                if set.contains(*line) && !gs.iter().any(|g| g == n) {
                    gs.push(n.to_string());
                }
            }
        }
    }
    out.into_iter().map(|(k, v)| (k, v.join(","))).collect()
}

/// The lines panel at `now`.
pub fn lines(s: &WebState, now: DateTime<Utc>) -> LinesOut {
    let tz = s.tz();
    let groups = line_groups(&s.sys);
    let calls = progress::read_all(&s.layout);
    let nodes = lease::read_all(&s.layout)
        .into_iter()
        .map(|l| {
            let stale = l.is_stale(now);
            NodeOut {
                lines: l
                    .lines
                    .iter()
                    .map(|ln| {
                        let step = ln
                            .job
                            .as_ref()
                            .and_then(|j| calls.get(j))
                            .filter(|(node, p)| *node == l.node && p.line == ln.line)
                            .map(|(_, p)| p);
                        let (state, detail) = match ln.state.as_str() {
                            _ if stale => ("unknown".to_string(), "its node is not running".into()),
                            "down" => (
                                "down".into(),
                                ln.next_probe.map_or_else(
                                    || "breaker open".to_string(),
                                    |t| format!("breaker open, next probe {}", both(t, now, tz)),
                                ),
                            ),
                            "busy" => match step {
                                Some(p) if !p.step.starts_with("dialling") => {
                                    ("connected".into(), p.step.clone())
                                }
                                Some(p) => ("dialling".into(), p.step.clone()),
                                None => ("dialling".into(), String::new()),
                            },
                            other => (other.to_string(), String::new()),
                        };
                        LineOut {
                            node: l.node.clone(),
                            line: ln.line,
                            group: groups.get(&ln.line).cloned().unwrap_or_default(),
                            state,
                            detail,
                            job: ln.job.clone(),
                            since: step.map(|p| rfc3339(p.at, tz)),
                            next_probe: rfc3339_opt(ln.next_probe, tz),
                        }
                    })
                    .collect(),
                node: l.node,
                host: l.host,
                renewed: rfc3339(l.renewed, tz),
                stale,
                draining: l.draining,
                spool_error: l.spool_error,
            }
        })
        .collect();
    LinesOut {
        now: rfc3339(now, tz),
        nodes,
    }
}

/// The overview at `now`.
pub fn overview(s: &WebState, now: DateTime<Utc>) -> OverviewOut {
    let tz = s.tz();
    let rows = s.catalogue.rows(&s.layout, &s.sys, now);
    let today = now.with_timezone(&tz).date_naive();
    let mut queues: Vec<QueueCounts> = s
        .layout
        .queues()
        .map(|q| QueueCounts {
            queue: crate::spool::queue_name(q),
            number: q,
            due: 0,
            held: 0,
            held_until: None,
            waiting_retry: 0,
            scheduled: 0,
            held_for_good: 0,
        })
        .collect();
    let mut held_until: Vec<Option<DateTime<Utc>>> = vec![None; queues.len()];
    let mut held = Vec::new();
    let (mut in_progress, mut sent, mut failed, mut sent_today, mut failed_today) = (0, 0, 0, 0, 0);
    let (start, end) = (
        super::when::day_start(today, tz),
        super::when::day_start(today + chrono::Days::new(1), tz),
    );
    let is_today = |t: DateTime<Utc>| start <= t && t < end;
    for r in rows.iter() {
        match r.state {
            JobState::InProgress => in_progress += 1,
            JobState::Sent => {
                sent += 1;
                sent_today += usize::from(is_today(r.last_end.unwrap_or(r.changed)));
            }
            JobState::Failed => {
                failed += 1;
                failed_today += usize::from(is_today(r.last_end.unwrap_or(r.changed)));
            }
            JobState::Queued => {
                let Some(i) = queues.iter().position(|c| c.number == r.queue) else {
                    continue;
                };
                let c = &mut queues[i];
                match r.standing_at(now) {
                    None | Some(QueuedNow::Due) | Some(QueuedNow::NoStart(_)) => c.due += 1,
                    Some(QueuedNow::Held(t)) => {
                        c.held += 1;
                        held_until[i] = Some(held_until[i].map_or(t, |u| u.min(t)));
                    }
                    Some(QueuedNow::WaitingRetry(_)) => c.waiting_retry += 1,
                    Some(QueuedNow::Scheduled(_)) => c.scheduled += 1,
                    Some(QueuedNow::HeldForGood(reason)) => {
                        c.held_for_good += 1;
                        if held.len() < summary::HELD_LISTED {
                            held.push(HeldJob {
                                queue: c.queue.clone(),
                                job: r.name.clone(),
                                reason,
                            });
                        }
                    }
                }
            }
        }
    }
    for (c, t) in queues.iter_mut().zip(held_until) {
        c.held_until = rfc3339_opt(t, tz);
    }
    let mut counted_by = "files".to_string();
    let mut counted_at = now;
    let leases = lease::read_all(&s.layout);
    if let Some(p) = summary::fresh(&s.layout, &leases, now) {
        counted_by = format!("summary of {}", p.node);
        counted_at = p.as_of;
        held.retain(|h| !p.queues.iter().any(|q| q.queue == h.queue));
        held.extend(p.held.iter().map(|h| HeldJob {
            queue: h.queue.clone(),
            job: h.job.clone(),
            reason: h.reason.clone(),
        }));
        for c in queues.iter_mut() {
            if let Some(q) = p.queues.iter().find(|q| q.queue == c.queue) {
                *c = QueueCounts {
                    queue: q.queue.clone(),
                    number: c.number,
                    due: q.due,
                    held: q.held,
                    held_until: rfc3339_opt(q.held_until, tz),
                    waiting_retry: q.waiting_retry,
                    scheduled: q.scheduled,
                    held_for_good: q.unserved,
                };
            }
        }
    }
    held.sort_by(|a, b| (&a.queue, &a.job).cmp(&(&b.queue, &b.job)));
    OverviewOut {
        now: rfc3339(now, tz),
        counted_by,
        counted_at: rfc3339(counted_at, tz),
        queues,
        held,
        in_progress,
        sent_today,
        failed_today,
        sent,
        failed,
        lines: lines(s, now),
    }
}

struct LineRow {
    node: String,
    line: u32,
    group: String,
    state: String,
    detail: String,
    job: String,
}

#[derive(Template)]
#[template(path = "overview.html")]
struct OverviewPage {
    csrf: String,
    now: String,
    counted: String,
    o: OverviewOut,
    lines: Vec<LineRow>,
    stale_nodes: Vec<String>,
}

/// `GET /` and `GET /overview`.
pub(super) async fn overview_page(State(s): St, client: Client, headers: HeaderMap) -> Response {
    let csrf = match auth(&s, client, &headers) {
        Ok(Auth::Session { csrf, .. }) => csrf,
        Ok(Auth::Bearer) => String::new(),
        Err(d) => return d.html(),
    };
    blocking(move || {
        let now = s.clock.now();
        let tz = s.tz();
        let o = overview(&s, now);
        let counted_at = chrono::DateTime::parse_from_rfc3339(&o.counted_at)
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or(now);
        page(OverviewPage {
            csrf,
            now: local(now, tz),
            counted: format!(
                "counted from the {} at {}",
                o.counted_by,
                both(counted_at, now, tz)
            ),
            lines: o
                .lines
                .nodes
                .iter()
                .flat_map(|n| n.lines.iter())
                .map(|l| LineRow {
                    node: l.node.clone(),
                    line: l.line,
                    group: l.group.clone(),
                    state: l.state.clone(),
                    detail: l.detail.clone(),
                    job: l.job.clone().unwrap_or_default(),
                })
                .collect(),
            stale_nodes: o
                .lines
                .nodes
                .iter()
                .filter(|n| n.stale)
                .map(|n| n.node.clone())
                .collect(),
            o,
        })
    })
    .await
}

/// `GET /api/overview`.
pub(super) async fn api_overview(State(s): St, client: Client, headers: HeaderMap) -> Response {
    if let Err(d) = auth(&s, client, &headers) {
        return d.json();
    }
    blocking(move || Json(overview(&s, s.clock.now())).into_response()).await
}

/// `GET /api/lines` (what the overview's script polls).
pub(super) async fn api_lines(State(s): St, client: Client, headers: HeaderMap) -> Response {
    if let Err(d) = auth(&s, client, &headers) {
        return d.json();
    }
    blocking(move || Json(lines(&s, s.clock.now())).into_response()).await
}
