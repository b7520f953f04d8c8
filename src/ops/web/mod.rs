//! The web console and its JSON API (axum, askama templates, server-rendered HTML that works
//! without JavaScript).
//!
//! * `GET /` (and `/overview`) — counts per queue and state and the lines panel
//!   ([`overview`]); a small script polls `GET /api/lines` every 2 s to refresh the panel.
//! * `GET /jobs` — every job in one searchable, paginated table ([`jobs`], from the in-memory
//!   [`catalogue`]).
//! * `GET /failed` — failed jobs with destination, last outcome and class, time, attempt badge,
//!   eligibility (a countdown when the wait is not over), per-row retry, checkbox bulk retry
//!   with a reason, "retry all matching" for a filter, queue counters.
//! * `POST /retry` — the retry; answers with the result dialog (queued / skipped with reasons).
//! * `GET /job/{name}` — one job's history (attempts and retries) and the actions that apply to
//!   its state: retry (when eligible, else why not), cancel, hold / release, change the time or
//!   queue; `POST /job/{name}/{cancel|hold|release|alter}` ([`actions`]).
//! * `POST /api/jobs/{name}/{cancel|hold|release|alter}` — the same actions as JSON.
//! * `GET /audit`, `GET /api/audit` — the audit trail, newest first ([`audit`]; role operate).
//! * `GET /api/failed`, `GET /api/jobs/{name}`, `GET /api/status`, `POST /api/retry`,
//!   `GET /api/overview`, `GET /api/lines`, `GET /api/jobs` — the same as JSON, every time in
//!   RFC 3339 with its offset ([`when`]).
//! * `GET /metrics` — OpenMetrics text.
//! * `POST /dlr/{secret}` — SMS delivery reports from a gateway (see `dlr.rs`; its own secret).
//!
//! Every route but `/login` and `/dlr` needs the token (`Authorization: Bearer TOKEN`) or the
//! session cookie `POST /login` sets (for the token, or an operator's name and password, see
//! [`operators`]); actions and the audit trail need the role operate (the token has it). Form posts carry the session's CSRF token (synchronizer token);
//! a JSON post with a session cookie needs it in `X-CSRF-Token`. Cookies are HttpOnly and
//! SameSite=Strict. Failed token checks are limited per client address and in all (429 with
//! `Retry-After`); sessions end when idle for 30 minutes and 12 hours after the sign-in (see
//! `session.rs`). The result page's "back" link is only ever a local path. It never moves a
//! file itself: retries go through [`super::retry`].

use super::config::OpsConfig;
use super::eligibility::{check, eligible_at, Newest, Skip};
use super::metrics::{classic, wants_openmetrics, Metrics, CLASSIC_CONTENT_TYPE, CONTENT_TYPE};
use super::retry::{retry, Report, Request, Selection};
use super::scan::{last_table_class, place_name, JobView, RetryKind, Step};
use crate::daemon::clock::Clock;
use crate::load::SystemConfig;
use crate::spool::{report, Layout, Place};
use askama::Template;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

mod actions;
mod api;
pub mod audit;
pub mod catalogue;
mod dlr;
pub mod jobs;
pub mod operators;
pub mod overview;
mod session;
pub mod when;
use api::*;
use session::*;

/// What the web page works on.
pub struct WebState {
    /// The spool.
    pub layout: Layout,
    /// CFG (outcome table, time zone).
    pub sys: SystemConfig,
    /// Operator settings.
    pub cfg: OpsConfig,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Metrics (shared with the daemon when inside `redial run`).
    pub metrics: Arc<Metrics>,
    token: String,
    /// Documents drawn for page thumbnails, shared by requests (a job's pages are drawn once).
    documents: crate::line::documents::DocumentCache,
    /// Every job's row for the overview and the jobs page, kept up to date incrementally.
    catalogue: catalogue::Catalogue,
    sessions: Mutex<HashMap<String, Session>>,
    failures: Mutex<Failures>,
    random: Random,
    /// A hash no password matches, checked for unknown operator names (made at the first use).
    dummy: std::sync::OnceLock<String>,
}

impl WebState {
    /// The state; `token` is required (an empty token is refused) unless the CFG names
    /// operators (`$web_user`): then an empty token turns the token off.
    pub fn new(
        layout: Layout,
        sys: SystemConfig,
        cfg: OpsConfig,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        token: String,
    ) -> anyhow::Result<WebState> {
        anyhow::ensure!(
            token.len() >= 8 || (token.is_empty() && !cfg.users.is_empty()),
            "the web page needs a token of at least 8 characters or a $web_user: set $web_token, $web_token_file or $web_user in the CFG"
        );
        Ok(WebState {
            layout,
            sys,
            cfg,
            clock,
            metrics,
            token,
            documents: crate::line::documents::DocumentCache::default(),
            catalogue: catalogue::Catalogue::default(),
            sessions: Mutex::new(HashMap::new()),
            failures: Mutex::new(Failures::default()),
            random: getrandom::fill,
            dummy: std::sync::OnceLock::new(),
        })
    }

    /// The hash unknown operator names are checked against (so they take as long as known ones).
    fn dummy_hash(&self) -> &str {
        self.dummy.get_or_init(|| {
            operators::hash_password("no operator has this password")
                .unwrap_or_else(|_| "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$".into())
        })
    }
}

impl WebState {
    /// The CFG's time zone (UTC without one): pages and JSON show times in it.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.sys.layer.timezone.unwrap_or(chrono_tz::UTC)
    }
}

type St = State<Arc<WebState>>;

/// The router.
pub fn router(state: Arc<WebState>) -> Router {
    Router::new()
        .route("/", get(overview::overview_page))
        .route("/overview", get(overview::overview_page))
        .route("/jobs", get(jobs::jobs_page))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/failed", get(failed_page))
        .route("/retry", post(retry_form))
        .route("/job/{name}", get(job_page))
        .route("/job/{name}/{action}", post(actions::form_action))
        .route("/audit", get(audit_page))
        .route("/api/audit", get(api_audit))
        .route("/api/jobs/{name}/{action}", post(actions::api_action))
        .route("/job/{name}/log/{n}", get(session_log))
        .route("/job/{name}/page/{n}", get(page_thumbnail))
        .route("/api/failed", get(api_failed))
        .route("/api/jobs/{name}", get(api_job))
        .route("/api/status", get(api_status))
        .route("/api/overview", get(overview::api_overview))
        .route("/api/lines", get(overview::api_lines))
        .route("/api/jobs", get(jobs::api_jobs))
        .route("/api/retry", post(api_retry))
        .route("/metrics", get(metrics))
        .route("/dlr/{secret}", post(dlr::report))
        .layer(DefaultBodyLimit::max(256 * 1024))
        .with_state(state)
}

/// Serves until the listener fails (with each connection's peer address, which the limiter of
/// failed sign-ins counts by).
pub async fn serve(listener: tokio::net::TcpListener, state: Arc<WebState>) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// Filter of the list (query string), also the bulk selection.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
pub struct Filter {
    /// Queue number.
    #[serde(default)]
    pub queue: Option<String>,
    /// Class letters.
    #[serde(default)]
    pub class: Option<String>,
    /// Destination pattern.
    #[serde(default)]
    pub dest: Option<String>,
    /// From day (any form of [`crate::datearg`]: YYYY-MM-DD, MM/DD/YYYY, a time's local day).
    #[serde(default)]
    pub since: Option<String>,
    /// To day (as `since`).
    #[serde(default)]
    pub until: Option<String>,
}

fn nonempty(o: &Option<String>) -> Option<&str> {
    o.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl Filter {
    /// The selection; dates are read as the commands read them ([`crate::datearg`]), a time's
    /// day in `tz` (the CFG's `$timezone`).
    fn selection(&self, tz: chrono_tz::Tz) -> Result<Selection, String> {
        let date = |o: &Option<String>| -> Result<Option<NaiveDate>, String> {
            nonempty(o)
                .map(|d| crate::datearg::DateArg::parse(d).map(|d| d.date(tz)))
                .transpose()
        };
        Ok(Selection {
            queue: nonempty(&self.queue)
                .map(|q| {
                    q.parse()
                        .map_err(|_| format!("{q:?} is not a queue number"))
                })
                .transpose()?,
            class: nonempty(&self.class)
                .map(crate::ops::retry::parse_classes)
                .transpose()?,
            since: date(&self.since)?,
            until: date(&self.until)?,
            dest: nonempty(&self.dest).map(str::to_string),
        })
    }
    fn field(o: &Option<String>) -> String {
        o.clone().unwrap_or_default()
    }
}

/// One failed job for the page and the API.
#[derive(Debug, Clone, Serialize)]
pub struct FailedJob {
    /// File name.
    pub name: String,
    /// Number or address.
    pub destination: String,
    /// Last outcome code.
    pub code: Option<u32>,
    /// Its class in the outcome table.
    pub class: Option<char>,
    /// Its description.
    pub description: String,
    /// Last attempt's start (RFC 3339, in the CFG's time zone).
    pub last_attempt: Option<String>,
    /// Cycles so far (1 = original).
    pub attempt_number: usize,
    /// "", "Attempt #2", "Attempt #3+".
    pub badge: String,
    /// Queue it came from.
    pub queue: u8,
    /// Automatic retries so far.
    pub auto_retries: usize,
    /// `$fail_reason`.
    pub fail_reason: String,
    /// Whether a retry now would queue it.
    pub eligible: bool,
    /// Why not.
    pub skip: Option<Skip>,
    /// Why not, in words.
    pub skip_message: String,
    /// When the wait ends (when that is what holds it back).
    pub eligible_at: Option<DateTime<Utc>>,
}

fn badge(n: usize) -> String {
    match n {
        0 | 1 => String::new(),
        2 => "Attempt #2".into(),
        _ => "Attempt #3+".into(),
    }
}

fn describe(v: &JobView, newest: &Newest, s: &WebState, now: DateTime<Utc>) -> FailedJob {
    let last = last_table_class(v, &s.sys);
    let verdict = check(v, newest, &s.sys, &s.cfg, now, None);
    let eligible_at = match &verdict {
        Err(Skip::Wait { eligible_at, .. }) => Some(*eligible_at),
        _ => eligible_at(v, &s.sys, &s.cfg).map(|x| x.1),
    };
    FailedJob {
        name: v.name.clone(),
        destination: v.destination.clone().unwrap_or_else(|| "-".into()),
        code: last.as_ref().map(|x| x.0),
        class: last.as_ref().map(|x| x.1.letter()),
        description: last.map(|x| x.2).unwrap_or_default(),
        last_attempt: v
            .records
            .last()
            .map(|r| when::rfc3339(v.instant(r.start()), s.tz())),
        attempt_number: v.cycles(),
        badge: badge(v.cycles()),
        queue: v.tosend,
        auto_retries: v.auto_retries(),
        fail_reason: v
            .fail_reason
            .clone()
            .or(v.error.clone())
            .unwrap_or_default(),
        eligible: verdict.is_ok(),
        skip_message: verdict
            .as_ref()
            .err()
            .map(Skip::to_string)
            .unwrap_or_default(),
        skip: verdict.err(),
        eligible_at,
    }
}

/// The failed jobs `sel` picks, newest failure first, each with its eligibility for a retry.
/// Only the files in FAIL are read (their attempts decide the selection and the verdict); a
/// newer job to the same destination is looked for in the console's catalogue of the spool,
/// not by reading every job file per request. A file gone from FAIL since the catalogue saw
/// it (retried, cleaned) is left out.
fn failed_jobs(s: &WebState, sel: &Selection, now: DateTime<Utc>) -> Vec<FailedJob> {
    let (rows, newest) = s.catalogue.rows_and_newest(&s.layout, &s.sys, now);
    let all: Vec<JobView> = rows
        .iter()
        .filter(|r| r.state == catalogue::JobState::Failed)
        // What the catalogue knows of each job rules most out before its file is read.
        // (A job with no destination has "" there: the summary lets through at least what
        // the whole check does.)
        .filter(|r| sel.matches_summary(r.queue, r.class, Some(&r.destination)))
        .filter_map(|r| match std::fs::read(&r.path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            bytes => Some(crate::ops::scan::view_of(
                &r.path,
                Place::Fail,
                &s.sys,
                bytes.as_deref().map_err(|e| e.to_string()),
            )),
        })
        .collect();
    let mut fails: Vec<&JobView> = all.iter().filter(|v| sel.matches(v, &s.sys)).collect();
    // Newest failures first.
    fails.sort_by(|a, b| {
        b.last_end.cmp(&a.last_end).then_with(|| {
            crate::spool::JobName::new(&a.name).cmp(&crate::spool::JobName::new(&b.name))
        })
    });
    fails.iter().map(|v| describe(v, &newest, s, now)).collect()
}

/// "in 1 h 5 min" style.
pub fn countdown(secs: i64) -> String {
    let secs = secs.max(0);
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s} s"),
        (0, 0, _) => format!("{m} min"),
        (0, _, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

struct RowView {
    job: FailedJob,
    badge_class: &'static str,
    class: String,
    code: String,
    when: String,
    status: String,
    countdown: String,
    eligible_epoch: i64,
    remaining: i64,
}

struct Counter {
    queue: String,
    due: usize,
    held: usize,
    waiting: usize,
    scheduled: usize,
    unserved: usize,
}

#[derive(Template)]
#[template(path = "failed.html")]
struct FailedPage {
    csrf: String,
    /// Whether the operator may retry (role operate).
    can_act: bool,
    rows: Vec<RowView>,
    counters: Vec<Counter>,
    /// Queued jobs no configured line serves, with the reason.
    unserved: Vec<report::Held>,
    in_progress: usize,
    sent: usize,
    failed: usize,
    eligible: usize,
    queue: String,
    class: String,
    dest: String,
    since: String,
    until: String,
    now: String,
    error: String,
}

fn row_view(j: FailedJob, now: DateTime<Utc>, tz: chrono_tz::Tz) -> RowView {
    let wait = match &j.skip {
        Some(Skip::Wait { eligible_at, .. }) => Some(*eligible_at),
        _ => None,
    };
    RowView {
        badge_class: match j.attempt_number {
            0 | 1 => "",
            2 => "badge2",
            _ => "badge3",
        },
        class: j.class.map(String::from).unwrap_or_else(|| "-".into()),
        code: j.code.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
        when: j
            .last_attempt
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map_or_else(|| "-".into(), |t| when::both(t.to_utc(), now, tz)),
        status: if j.eligible {
            "eligible".into()
        } else {
            j.skip
                .as_ref()
                .map(|s| s.label().to_string())
                .unwrap_or_default()
        },
        countdown: wait
            .map(|t| {
                format!(
                    "eligible in {} (at {})",
                    countdown((t - now).num_seconds()),
                    t.format("%H:%M:%S UTC")
                )
            })
            .unwrap_or_default(),
        eligible_epoch: wait.map(|t| t.timestamp()).unwrap_or(0),
        remaining: wait.map(|t| (t - now).num_seconds().max(0)).unwrap_or(0),
        job: j,
    }
}

async fn failed_page(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> Response {
    let signed_in = match auth(&s, client, &headers) {
        Ok(a) => a,
        Err(d) => return d.html(),
    };
    let can_act = require_operate(&signed_in).is_ok();
    failed_html(s, f, signed_in.csrf(), can_act).await
}

async fn failed_html(s: Arc<WebState>, f: Filter, csrf: String, can_act: bool) -> Response {
    blocking(move || {
        let now = s.clock.now();
        let tz = s.sys.layer.timezone.unwrap_or(chrono_tz::UTC);
        let (sel, error) = match f.selection(tz) {
            Ok(sel) => (sel, String::new()),
            Err(e) => (Selection::default(), e),
        };
        let jobs = failed_jobs(&s, &sel, now);
        let lines = crate::linegroup::LineMap::from_cfg(&s.sys.document);
        let st = report::status_with(&s.layout, &s.sys, now, Some(&lines)).ok();
        page(FailedPage {
            csrf,
            can_act,
            eligible: jobs.iter().filter(|j| j.eligible).count(),
            rows: jobs.into_iter().map(|j| row_view(j, now, tz)).collect(),
            counters: st
                .as_ref()
                .map(|st| {
                    st.queues
                        .iter()
                        .map(|q| Counter {
                            queue: q.queue.clone(),
                            due: q.due,
                            held: q.held,
                            waiting: q.waiting_retry,
                            scheduled: q.scheduled,
                            unserved: q.unserved,
                        })
                        .collect()
                })
                .unwrap_or_default(),
            unserved: st.as_ref().map_or_else(Vec::new, |s| s.held.clone()),
            in_progress: st.as_ref().map_or(0, |s| s.in_progress),
            sent: st.as_ref().map_or(0, |s| s.sent),
            failed: st.as_ref().map_or(0, |s| s.failed),
            queue: Filter::field(&f.queue),
            class: Filter::field(&f.class),
            dest: Filter::field(&f.dest),
            since: Filter::field(&f.since),
            until: Filter::field(&f.until),
            now: when::local(now, tz),
            error,
        })
    })
    .await
}

// ----- the retry form -----

struct QueuedView {
    job: String,
    destination: String,
    queue: String,
    cycle: usize,
}

struct SkippedView {
    job: String,
    label: String,
    message: String,
}

#[derive(Template)]
#[template(path = "result.html")]
struct ResultPage {
    queued: Vec<QueuedView>,
    skipped: Vec<SkippedView>,
    reason: String,
    back: String,
    error: String,
}

fn result_page(r: &Report, reason: &str, back: String) -> ResultPage {
    ResultPage {
        queued: r
            .queued
            .iter()
            .map(|q| QueuedView {
                job: q.job.clone(),
                destination: q.destination.clone().unwrap_or_default(),
                queue: crate::spool::queue_name(q.queue),
                cycle: q.cycle,
            })
            .collect(),
        skipped: r
            .skipped
            .iter()
            .map(|x| SkippedView {
                job: x.job.clone(),
                label: x.why.label().into(),
                message: x.message.clone(),
            })
            .collect(),
        reason: reason.to_string(),
        back,
        error: String::new(),
    }
}

/// `back` when it is a path on this site: one leading `/` (not `//` nor `/\`, which browsers
/// read as another host), so no scheme or host, and no control characters (browsers drop tabs
/// and newlines, which would turn `/<TAB>/host` into `//host`).
fn local_path(back: &str) -> Option<&str> {
    let rest = back.strip_prefix('/')?;
    let other_host = rest.starts_with(['/', '\\']);
    (!other_host && !back.chars().any(char::is_control)).then_some(back)
}

async fn retry_form(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let signed_in = match auth(&s, client, &headers) {
        Ok(a) => a,
        Err(d) => return d.html(),
    };
    let csrf_ok = match &signed_in {
        Auth::Session { csrf, .. } => f.iter().any(|(k, v)| k == "csrf" && ct_eq(v, csrf)),
        Auth::Bearer => true,
    };
    let who = session::who(client, &signed_in);
    if !csrf_ok {
        tracing::warn!(target: "redial::audit", who = %who, action = "retry",
            "audit: retry refused: CSRF token missing or wrong");
        return (
            StatusCode::FORBIDDEN,
            "CSRF token missing or wrong: reload the page",
        )
            .into_response();
    }
    if let Err(why) = require_operate(&signed_in) {
        audit::record(
            &s,
            &client.0.to_string(),
            &signed_in.operator().name,
            "retry",
            "",
            "refused",
            &why,
        );
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    let operator = signed_in.operator().name;
    let get = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let mut req = Request {
        reason: get("reason").unwrap_or_default().trim().to_string(),
        kind: RetryKind::Manual,
        ..Request::default()
    };
    if let Some(only) = get("only") {
        req.jobs = vec![only];
    } else {
        req.jobs = f
            .iter()
            .filter(|(k, _)| k == "job")
            .map(|(_, v)| v.clone())
            .collect();
    }
    let filter = Filter {
        queue: get("f_queue"),
        class: get("f_class"),
        dest: get("f_dest"),
        since: get("f_since"),
        until: get("f_until"),
    };
    if get("all_matching").is_some() {
        req.all_failed = true;
        req.jobs.clear();
        match filter.selection(s.sys.layer.timezone.unwrap_or(chrono_tz::UTC)) {
            Ok(sel) => req.selection = sel,
            Err(e) => return (StatusCode::BAD_REQUEST, e).into_response(),
        }
    }
    if let Some(q) = get("queue").filter(|q| !q.trim().is_empty()) {
        match q.trim().parse() {
            Ok(q) => req.queue = Some(q),
            Err(_) => return (StatusCode::BAD_REQUEST, "queue: not a number").into_response(),
        }
    }
    let back = match get("back") {
        None => "/failed".to_string(),
        Some(b) => local_path(&b).unwrap_or("/").to_string(),
    };
    let reason = req.reason.clone();
    let asked = audit_request(&req);
    let s2 = s.clone();
    let r = blocking(move || {
        let now = s2.clock.now();
        retry(&s2.layout, &s2.sys, &s2.cfg, &req, now)
    })
    .await;
    audit_retry(&who, &asked, &r);
    record_retry(&s, client, &operator, &asked, &r);
    match r {
        Ok(r) => {
            s.metrics.retried(RetryKind::Manual, &r);
            page(result_page(&r, &reason, back))
        }
        Err(e) => {
            let mut p = result_page(
                &Report {
                    queued: vec![],
                    skipped: vec![],
                    dry_run: false,
                },
                &reason,
                back,
            );
            p.error = e.to_string();
            let mut resp = page(p);
            *resp.status_mut() = StatusCode::BAD_REQUEST;
            resp
        }
    }
}

/// What a retry asked for, in words, for the audit trail.
pub(super) fn audit_request(req: &Request) -> String {
    let what = if req.all_failed {
        "every failed job matching the filter".to_string()
    } else {
        req.jobs.join(" ")
    };
    let queue = req
        .queue
        .map(|q| format!(" to {}", crate::spool::queue_name(q)))
        .unwrap_or_default();
    let dry = if req.dry_run { " (dry run)" } else { "" };
    format!("{what}{queue}, reason {:?}{dry}", req.reason)
}

/// Puts a retry in the audit trail: one entry per job queued or skipped (one for a refusal).
fn record_retry(
    s: &WebState,
    client: Client,
    operator: &str,
    asked: &str,
    r: &Result<Report, crate::ops::retry::RetryError>,
) {
    let c = client.0.to_string();
    match r {
        Ok(r) => {
            for q in &r.queued {
                audit::record(
                    s,
                    &c,
                    operator,
                    "retry",
                    &q.job,
                    "ok",
                    &format!(
                        "queued to {} (cycle {}); asked: {asked}",
                        crate::spool::queue_name(q.queue),
                        q.cycle
                    ),
                );
            }
            for x in &r.skipped {
                audit::record(s, &c, operator, "retry", &x.job, "refused", &x.message);
            }
        }
        Err(e) => audit::record(
            s,
            &c,
            operator,
            "retry",
            "",
            "refused",
            &format!("{asked}: {e}"),
        ),
    }
}

/// Logs a retry asked from the page or the API, with what came of it.
pub(super) fn audit_retry(
    who: &str,
    asked: &str,
    r: &Result<Report, crate::ops::retry::RetryError>,
) {
    match r {
        Ok(r) => tracing::info!(target: "redial::audit", who = %who, action = "retry",
            queued = r.queued.len(), skipped = r.skipped.len(), "audit: retry of {asked}"),
        Err(e) => tracing::warn!(target: "redial::audit", who = %who, action = "retry",
            error = %e, "audit: retry of {asked} refused"),
    }
}

// ----- one job -----

struct StepView {
    when: String,
    what: String,
    detail: String,
    css: &'static str,
    /// The attempt's session log page, when it has one.
    log: String,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    csrf: String,
    name: String,
    place: String,
    destination: String,
    badge: String,
    badge_class: &'static str,
    steps: Vec<StepView>,
    eligible: bool,
    status: String,
    countdown: String,
    eligible_epoch: i64,
    remaining: i64,
    fail_reason: String,
    is_failed: bool,
    /// Links to the thumbnails of the pages it would send.
    pages: Vec<String>,
    /// Why no pages are shown (not a fax, or it cannot be sent as it is).
    pages_note: String,
    /// Whether the operator may act (role operate).
    can_act: bool,
    /// The operator's name and role, for the note shown instead of the actions.
    operator: String,
    /// Queued (cancel, hold or release, alter apply).
    queued: bool,
    /// Queued and held by an operator.
    held: bool,
    /// Being dialled by a node (cancel applies: the node hangs up).
    in_progress: bool,
    /// The queues to move it to: (number, name).
    queues: Vec<(u8, String)>,
    /// What the last action did (from a fixed list).
    done: &'static str,
}

/// `?done=` after an action.
#[derive(Deserialize, Default)]
struct JobQuery {
    #[serde(default)]
    done: String,
}

/// A job's details for the API.
#[derive(Debug, Serialize)]
pub struct JobDetail {
    /// Where it is.
    pub place: String,
    /// Its history in file order.
    pub steps: Vec<StepOut>,
    /// The failed-job view (eligibility), when it is in FAIL.
    pub failed: Option<FailedJob>,
    /// Destination.
    pub destination: Option<String>,
}

/// What the retry engine decided after an attempt, for the API ([`crate::ops::why::Why`] with
/// the time in RFC 3339 in the console's zone).
#[derive(Debug, Serialize)]
pub struct WhyOut {
    /// `retry`, `fail` or `done`.
    pub action: &'static str,
    /// For a retry: when it was scheduled for.
    pub at: Option<String>,
    /// The list entry used (1-based), when one was.
    pub entry: Option<usize>,
    /// The engine's sentence.
    pub reason: String,
}

/// One step of a job's history for the API (times in RFC 3339).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum StepOut {
    /// An attempt.
    Attempt {
        /// Start.
        at: String,
        /// Outcome code.
        code: u32,
        /// Class recorded.
        class: char,
        /// Line.
        line: String,
        /// Seconds of the call.
        call_secs: u32,
        /// Pages sent.
        pages_sent: u16,
        /// Pages scheduled.
        pages_scheduled: u16,
        /// Fax speed in bit/s (0 when not a fax connection).
        speed: u16,
        /// What the other end said (remote ID, Message-ID or SMTP reply, SMS id, price and
        /// delivery-report status), the fields it had.
        remote: Box<crate::retry::remote::Remote>,
        /// What the retry engine decided after it (the list entry, the retry time and why, or
        /// why the job failed), replayed from the records before it.
        #[serde(skip_serializing_if = "Option::is_none")]
        why: Option<Box<WhyOut>>,
    },
    /// A retry note.
    Retry {
        /// When.
        at: String,
        /// `manual` or `auto`.
        kind: RetryKind,
        /// Queue it went to.
        queue: u8,
        /// The operator's reason.
        reason: String,
    },
}

impl StepOut {
    /// Step `st` of `v`; `record` is its attempt record when it is an attempt.
    fn of(
        st: &Step,
        v: &JobView,
        record: Option<&crate::retry::attempt::AttemptRecord>,
        why: Option<&crate::ops::why::Why>,
        tz: chrono_tz::Tz,
    ) -> StepOut {
        match st {
            Step::Attempt {
                at,
                code,
                class,
                line,
                call_secs,
            } => StepOut::Attempt {
                at: when::rfc3339(v.instant(*at), tz),
                code: *code,
                class: *class,
                line: line.clone(),
                call_secs: *call_secs,
                pages_sent: record.map_or(0, |r| r.sent),
                pages_scheduled: record.map_or(0, |r| r.scheduled),
                speed: record.map_or(0, |r| r.baud),
                remote: Box::new(
                    record
                        .map(|r| crate::retry::remote::Remote::read(r.kind, r.answerback()))
                        .unwrap_or_default(),
                ),
                why: why.map(|w| {
                    Box::new(WhyOut {
                        action: w.action,
                        at: w.at.map(|t| when::rfc3339(t, tz)),
                        entry: w.entry,
                        reason: w.reason.clone(),
                    })
                }),
            },
            Step::Retry(n) => StepOut::Retry {
                at: when::rfc3339(v.instant(n.at), tz),
                kind: n.kind,
                queue: n.queue,
                reason: n.reason.clone(),
            },
        }
    }
}

/// One job's view, its API detail and the retry engine's decision after each attempt (replayed
/// once per request: the page and the API show the same decisions).
fn job_detail(
    s: &WebState,
    name: &str,
    now: DateTime<Utc>,
) -> Option<(JobView, JobDetail, Vec<crate::ops::why::Why>)> {
    let name = if crate::spool::is_job_name(name) {
        name.to_string()
    } else {
        format!("{name}.FS")
    };
    // A file name, never a path (a `%2F` in the URL must not reach outside the spool).
    if name.contains(['/', '\\']) || name.bytes().any(|b| b < 0x20) {
        return None;
    }
    // The one file, found by name (FAIL first, as the failed-jobs page links there), not by
    // reading every job: the page stays quick at 100,000 jobs.
    let found = match s.layout.fail().join(&name) {
        p if p.is_file() => crate::ops::locate::Found {
            path: p,
            place: Place::Fail,
        },
        _ => crate::ops::locate::find(&s.layout, &name).ok()?,
    };
    let v = crate::ops::scan::read_job(&found.path, found.place, &s.sys);
    // A failed job's eligibility looks for a newer job to its destination: read only the jobs
    // the catalogue lists under that destination.
    let failed = (v.place == Place::Fail).then(|| {
        let same_dest: Vec<JobView> = match &v.dest_key {
            Some(k) => s
                .catalogue
                .rows(&s.layout, &s.sys, now)
                .iter()
                .filter(|r| r.dest_key == *k && r.path != v.path)
                .filter_map(|r| {
                    let place = s.layout.place_of(&r.path)?;
                    Some(crate::ops::scan::read_job(&r.path, place, &s.sys))
                })
                .chain(std::iter::once(v.clone()))
                .collect(),
            None => vec![v.clone()],
        };
        describe(&v, &Newest::new(&same_dest), s, now)
    });
    let whys = history_why(s, &v);
    let d = JobDetail {
        place: place_name(&v.place),
        steps: {
            let mut attempts = v
                .records
                .iter()
                .zip(whys.iter().map(Some).chain(std::iter::repeat(None)));
            v.steps
                .iter()
                .map(|st| {
                    let (record, why) = match st {
                        Step::Attempt { .. } => {
                            attempts.next().map_or((None, None), |(r, w)| (Some(r), w))
                        }
                        Step::Retry(_) => (None, None),
                    };
                    StepOut::of(st, &v, record, why, s.tz())
                })
                .collect()
        },
        failed,
        destination: v.destination.clone(),
    };
    Some((v, d, whys))
}

/// The retry engine's decision after each of `v`'s attempts (empty when the job cannot be
/// loaded as the daemon loads it: its reason is shown elsewhere).
fn history_why(s: &WebState, v: &JobView) -> Vec<crate::ops::why::Why> {
    match crate::load::load_job(&v.path, &s.sys, None) {
        Ok(l) => crate::ops::why::replay(
            &l,
            &s.sys.outcomes,
            crate::load::queue_of(&v.path, &l.job),
            crate::load::job_seed(&v.path),
        ),
        Err(_) => Vec::new(),
    }
}

/// What the engine decided after an attempt, for the job page (`; `-led; nothing after the
/// success).
fn why_text(w: &crate::ops::why::Why, tz: chrono_tz::Tz) -> String {
    match (w.action, w.at) {
        ("retry", Some(at)) => format!("; retry at {}: {}", when::local(at, tz), w.reason),
        ("fail", _) => format!("; failed: {}", w.reason),
        _ => String::new(),
    }
}

/// What else an attempt record says, for the job page: pages sent of those scheduled and the
/// speed (a fax connection), and what the other end said (remote station ID, an e-mail's
/// Message-ID or SMTP reply, an SMS's id, price and delivery-report status); `; `-led.
fn attempt_extra(r: &crate::retry::attempt::AttemptRecord) -> String {
    let mut out = String::new();
    if r.scheduled > 0 || r.sent > 0 {
        out.push_str(&format!("; {} of {} pages", r.sent, r.scheduled));
    }
    if r.baud > 0 {
        out.push_str(&format!(" at {} bit/s", r.baud));
    }
    if let Some(d) = crate::retry::remote::Remote::read(r.kind, r.answerback()).describe() {
        out.push_str(&format!("; {d}"));
    }
    out
}

/// The pages a job in the spool would send now (its name as on the job page; `None` when there
/// is no such job, the reasons when it cannot be sent).
fn job_pages(s: &WebState, name: &str) -> Option<Result<Vec<crate::fax::Page>, String>> {
    let name = if crate::spool::is_job_name(name) {
        name.to_string()
    } else {
        format!("{name}.FS")
    };
    let found = crate::ops::locate::find(&s.layout, &name).ok()?;
    let bytes = match std::fs::read(&found.path) {
        Ok(b) => b,
        Err(e) => return Some(Err(format!("cannot read {name}: {e}"))),
    };
    let made = crate::daemon::settings::Settings::from_cfg(&s.sys.document, &s.cfg.base, "web")
        .and_then(|settings| {
            let line_id = crate::daemon::line_id_of(&s.sys.document, None)?;
            crate::daemon::fax_preview(&s.sys, &settings, &s.cfg.base, &name, &bytes)
                .map_err(|problems| problems.join("; "))?
                .pages(&line_id, &s.documents, s.clock.now())
        });
    Some(made)
}

/// Page `n` (1-based) of a job as a thumbnail PNG (one pixel for each block of 8 × 8 fine
/// pixels): the pages `redial preview` writes, header and cover included.
async fn page_thumbnail(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Path((name, n)): Path<(String, usize)>,
) -> Response {
    if let Err(d) = auth(&s, client, &headers) {
        return d.html();
    }
    blocking(move || match job_pages(&s, &name) {
        None => (StatusCode::NOT_FOUND, format!("no job {name:?}")).into_response(),
        Some(Err(why)) => (StatusCode::NOT_FOUND, why).into_response(),
        Some(Ok(pages)) => match n.checked_sub(1).and_then(|i| pages.get(i)) {
            None => (StatusCode::NOT_FOUND, format!("{name} has no page {n}")).into_response(),
            Some(p) => match crate::fax::png::thumbnail_png(p, 8) {
                Ok(png) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
                Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
            },
        },
    })
    .await
}

/// One attempt's session log (`LOG/<job>.<n>.log`) as plain text.
async fn session_log(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Path((name, n)): Path<(String, usize)>,
) -> Response {
    if let Err(d) = auth(&s, client, &headers) {
        return d.html();
    }
    // A job's own name only: no way out of LOG/.
    if !crate::spool::is_job_name(&name) || name.contains(['/', '\\']) {
        return (StatusCode::NOT_FOUND, "no such job").into_response();
    }
    let path = s.layout.session_log(&name, n);
    blocking(move || match std::fs::read(&path) {
        Ok(text) => ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response(),
        Err(_) => (
            StatusCode::NOT_FOUND,
            format!("no session log for attempt {n} of {name}"),
        )
            .into_response(),
    })
    .await
}

async fn job_page(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<JobQuery>,
) -> Response {
    let signed_in = match auth(&s, client, &headers) {
        Ok(a) => a,
        Err(d) => return d.html(),
    };
    let csrf = signed_in.csrf();
    let op = signed_in.operator();
    let can_act = require_operate(&signed_in).is_ok();
    blocking(move || {
        let now = s.clock.now();
        let Some((v, d, whys)) = job_detail(&s, &name, now) else {
            return (StatusCode::NOT_FOUND, format!("no job {name:?}")).into_response();
        };
        let row = d.failed.clone().map(|f| row_view(f, now, s.tz()));
        let (pages, pages_note) = match job_pages(&s, &v.name) {
            Some(Ok(p)) => (
                (1..=p.len())
                    .map(|n| format!("/job/{}/page/{n}", v.name))
                    .collect(),
                String::new(),
            ),
            Some(Err(why)) if v.channel == Some(crate::retry::outcome::Channel::Fax) => {
                (Vec::new(), format!("The pages cannot be shown: {why}"))
            }
            _ => (Vec::new(), String::new()),
        };
        let mut attempt = 0;
        page(JobPage {
            csrf,
            name: v.name.clone(),
            place: d.place.clone(),
            destination: v.destination.clone().unwrap_or_default(),
            badge: badge(v.cycles()),
            badge_class: row.as_ref().map_or("", |r| r.badge_class),
            steps: v
                .steps
                .iter()
                .map(|st| match st {
                    Step::Attempt {
                        at,
                        code,
                        class,
                        line,
                        call_secs,
                    } => StepView {
                        log: {
                            attempt += 1;
                            if s.layout.session_log(&v.name, attempt).is_file() {
                                format!("/job/{}/log/{attempt}", v.name)
                            } else {
                                String::new()
                            }
                        },
                        when: when::local(v.instant(*at), s.tz()),
                        what: format!("attempt on {line}"),
                        detail: format!(
                            "outcome {code} ({}), class {class}, {call_secs} s{}",
                            s.sys.outcomes.classify(*code, v.channel).description,
                            v.records
                                .get(attempt - 1)
                                .map(attempt_extra)
                                .unwrap_or_default()
                        ) + &whys
                            .get(attempt - 1)
                            .map(|w| why_text(w, s.tz()))
                            .unwrap_or_default(),
                        css: match class {
                            'S' => "ok",
                            'Z' => "final",
                            _ => "",
                        },
                    },
                    Step::Retry(n) => StepView {
                        when: when::local(v.instant(n.at), s.tz()),
                        what: format!(
                            "{} retry to {}",
                            n.kind.as_str(),
                            crate::spool::queue_name(n.queue)
                        ),
                        detail: n.reason.clone(),
                        css: "retry",
                        log: String::new(),
                    },
                })
                .collect(),
            eligible: row.as_ref().is_some_and(|r| r.job.eligible),
            status: row
                .as_ref()
                .map(|r| {
                    if r.job.eligible {
                        "eligible for a retry".to_string()
                    } else {
                        r.job.skip_message.clone()
                    }
                })
                .unwrap_or_else(|| {
                    // A call in progress: its latest step, as `redial list` shows it.
                    let live = matches!(v.place, Place::Active(_))
                        .then(|| {
                            let all = crate::spool::progress::read_all(&s.layout);
                            crate::spool::progress::step_of(&all, &v.name, v.records.len() + 1)
                        })
                        .flatten();
                    match live {
                        Some((_, p)) => format!("in {}: on line {}, {}", d.place, p.line, p.step),
                        None => format!("in {}", d.place),
                    }
                }),
            countdown: row
                .as_ref()
                .map(|r| r.countdown.clone())
                .unwrap_or_default(),
            eligible_epoch: row.as_ref().map_or(0, |r| r.eligible_epoch),
            remaining: row.as_ref().map_or(0, |r| r.remaining),
            fail_reason: v.fail_reason.clone().unwrap_or_default(),
            is_failed: v.place == Place::Fail,
            pages,
            pages_note,
            can_act,
            operator: format!("{} (role {})", op.name, op.role),
            queued: matches!(v.place, Place::Queue(_)),
            held: actions::held(&s.layout, &v.name) == Some(true),
            in_progress: matches!(v.place, Place::Active(_)),
            queues: s
                .layout
                .queues()
                .map(|n| (n, crate::spool::queue_name(n)))
                .collect(),
            done: actions::done_message(&q.done),
        })
    })
    .await
}

// ----- the audit trail -----

/// Entries the audit page and `GET /api/audit` show at most.
const AUDIT_ROWS: usize = 500;

struct AuditRow {
    when: String,
    ago: String,
    entry: audit::Entry,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    csrf: String,
    rows: Vec<AuditRow>,
    file: String,
}

async fn audit_page(State(s): St, client: Client, headers: HeaderMap) -> Response {
    let signed_in = match auth(&s, client, &headers) {
        Ok(a) => a,
        Err(d) => return d.html(),
    };
    if let Err(why) = require_operate(&signed_in) {
        return (StatusCode::FORBIDDEN, why).into_response();
    }
    let csrf = signed_in.csrf();
    blocking(move || {
        let now = s.clock.now();
        page(AuditPage {
            csrf,
            rows: audit::read(&s.layout, AUDIT_ROWS)
                .into_iter()
                .map(|e| AuditRow {
                    when: when::local(e.at, s.tz()),
                    ago: when::relative(e.at, now),
                    entry: e,
                })
                .collect(),
            file: "LOG/web-audit.jsonl".into(),
        })
    })
    .await
}

async fn api_audit(State(s): St, client: Client, headers: HeaderMap) -> Response {
    let signed_in = match auth(&s, client, &headers) {
        Ok(a) => a,
        Err(d) => return d.json(),
    };
    if let Err(why) = require_operate(&signed_in) {
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({"error": why})),
        )
            .into_response();
    }
    blocking(move || {
        let tz = s.tz();
        let entries: Vec<serde_json::Value> = audit::read(&s.layout, AUDIT_ROWS)
            .into_iter()
            .map(|e| {
                serde_json::json!({
                    "at": when::rfc3339(e.at, tz), "client": e.client, "operator": e.operator,
                    "action": e.action, "job": e.job, "outcome": e.outcome, "detail": e.detail,
                })
            })
            .collect();
        Json(serde_json::json!({ "entries": entries })).into_response()
    })
    .await
}

// ----- JSON API -----

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::clock::ManualClock;

    /// A console over `base/spool` with the built-in CFG, at 2026-03-02 10:00 UTC.
    fn console(base: &std::path::Path) -> WebState {
        let sys = SystemConfig::builtin();
        WebState::new(
            Layout::new(base.join("spool"), 1),
            sys.clone(),
            OpsConfig::from_cfg(&sys.document, base).unwrap(),
            Arc::new(ManualClock::new("2026-03-02T10:00:00Z".parse().unwrap())),
            Arc::new(Metrics::new(sys.outcomes.clone())),
            "unit-test-token".into(),
        )
        .unwrap()
    }

    fn failed_job(number: &str, time: &str) -> String {
        format!("$fax_phone {number}\n$attempt_record 03/02/2026 {time} 1 0 1 2 B 0 0 0 S1 0 5 0 \"\"\n$fax_status1 6\n")
    }

    fn names(jobs: &[FailedJob]) -> Vec<&str> {
        jobs.iter().map(|j| j.name.as_str()).collect()
    }

    /// The failed page works from the catalogue: a job moved out of FAIL after the catalogue
    /// last looked is left out (not shown as unreadable), the newest-job index built for one
    /// request serves the next, and a console started afresh (a `redial web` restart) sees
    /// the same jobs from its first request.
    #[test]
    fn the_failed_list_follows_the_spool_from_a_cold_or_a_stale_catalogue() {
        let dir = tempfile::tempdir().unwrap();
        let fail = dir.path().join("spool/FAIL");
        std::fs::create_dir_all(&fail).unwrap();
        std::fs::write(fail.join("1.FS"), failed_job("555 0101", "08:00:00")).unwrap();
        std::fs::write(fail.join("2.FS"), failed_job("555 0102", "08:30:00")).unwrap();
        std::fs::write(fail.join("3.FS"), failed_job("555-0101", "09:00:00")).unwrap();
        let now: DateTime<Utc> = "2026-03-02T10:00:00Z".parse().unwrap();
        let all = Selection::default();
        let s = console(dir.path());
        let first = failed_jobs(&s, &all, now);
        assert_eq!(names(&first), ["3.FS", "2.FS", "1.FS"]);
        // 3.FS is a newer job to 1.FS's number (written another way).
        assert!(
            !first[2].eligible && first[2].skip_message.contains("3.FS"),
            "{:?}",
            first[2]
        );
        let (rows, newest) = s.catalogue.rows_and_newest(&s.layout, &s.sys, now);
        let (rows_again, newest_again) = s.catalogue.rows_and_newest(&s.layout, &s.sys, now);
        if Arc::ptr_eq(&rows, &rows_again) {
            assert!(
                Arc::ptr_eq(&newest, &newest_again),
                "index rebuilt for an unchanged catalogue"
            );
        }
        // Retried by hand: out of FAIL before the catalogue looks again (it refreshes at most
        // every REFRESH_EVERY).
        std::fs::create_dir_all(dir.path().join("spool/TOSEND")).unwrap();
        std::fs::rename(fail.join("2.FS"), dir.path().join("spool/TOSEND/2.FS")).unwrap();
        let after = failed_jobs(&s, &all, now);
        assert_eq!(names(&after), ["3.FS", "1.FS"]);
        assert!(after
            .iter()
            .all(|j| j.fail_reason.is_empty() && j.code == Some(2)));
        // A console started now reads the spool as it is.
        let restarted = console(dir.path());
        let cold = failed_jobs(&restarted, &all, now);
        assert_eq!(names(&cold), ["3.FS", "1.FS"]);
        assert!(!cold[1].eligible, "{:?}", cold[1]);
        let by_dest = Selection {
            dest: Some("5550101".into()),
            ..Selection::default()
        };
        assert_eq!(
            names(&failed_jobs(&restarted, &by_dest, now)),
            ["3.FS", "1.FS"]
        );
    }

    #[test]
    fn back_link_accepts_only_local_paths() {
        for ok in [
            "/",
            "/failed",
            "/job/1.FS",
            "/failed?class=B&dest=555*",
            "/a//b",
            "/a\\b",
        ] {
            assert_eq!(local_path(ok), Some(ok), "{ok:?}");
        }
        for bad in [
            "",
            "//evil.example/x",
            "/\\evil.example/x",
            "\\\\evil.example/x",
            "https://evil.example/x",
            "javascript:alert(1)",
            "evil.example/x",
            " /x",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n//evil.example",
            "/x\u{7f}",
            "/x\u{85}",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
