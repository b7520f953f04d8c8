//! The jobs page (`GET /jobs`) and its JSON (`GET /api/jobs`): one searchable, paginated table
//! over every state, from the [catalogue](super::catalogue) (memory, not the files).
//!
//! Filters (query string, all optional): `state` (comma list of `queued`, `in_progress`, `sent`,
//! `failed`), `queue`, `class` (outcome class letters), `dest` (pattern, as `/failed`'s),
//! `since` / `until` (days, as the commands read them, on the last attempt's local day, else
//! the file's), `q` (text in the name, destination, outcome and reason, any case), `page`
//! (1-based) and `per` (rows per page, at most [`MAX_PER`]). A filter that cannot be read is a
//! 400 that says why; it never reaches the spool. Owns the query and its answer; it never
//! changes a job.

use super::catalogue::{JobState, QueuedNow, Row};
use super::when::{both, day_start, rfc3339, rfc3339_opt};
use super::*;

/// The most rows on one page.
pub const MAX_PER: usize = 500;
/// Rows on a page unless `per` says otherwise.
pub const DEFAULT_PER: usize = 50;
/// The longest text or pattern a filter takes.
pub const MAX_TEXT: usize = 200;

/// The jobs query as sent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct JobsQuery {
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    queue: Option<String>,
    #[serde(default)]
    class: Option<String>,
    #[serde(default)]
    dest: Option<String>,
    #[serde(default)]
    since: Option<String>,
    #[serde(default)]
    until: Option<String>,
    #[serde(default)]
    q: Option<String>,
    #[serde(default)]
    page: Option<String>,
    #[serde(default)]
    per: Option<String>,
}

/// The query read and checked.
#[derive(Debug, Clone)]
pub struct JobsFilter {
    states: Vec<JobState>,
    queue: Option<u8>,
    class: Option<String>,
    dest: Option<String>,
    /// The start of `since`'s local day.
    from: Option<DateTime<Utc>>,
    /// The end of `until`'s local day.
    to: Option<DateTime<Utc>>,
    text: Option<String>,
    page: usize,
    per: usize,
}

fn bounded<'a>(what: &str, o: &'a Option<String>) -> Result<Option<&'a str>, String> {
    match nonempty(o) {
        Some(s) if s.chars().count() > MAX_TEXT => {
            Err(format!("{what}: at most {MAX_TEXT} characters"))
        }
        Some(s) if s.chars().any(char::is_control) => {
            Err(format!("{what}: control characters are not allowed"))
        }
        x => Ok(x),
    }
}

impl JobsQuery {
    /// Reads the query; `Err` says what is wrong, in words for the operator.
    pub fn read(&self, tz: chrono_tz::Tz) -> Result<JobsFilter, String> {
        let states = match bounded("state", &self.state)? {
            None => JobState::ALL.to_vec(),
            Some(s) => s
                .split(',')
                .filter(|x| !x.trim().is_empty())
                .map(|x| {
                    JobState::parse(x).ok_or_else(|| {
                        format!(
                            "state: {:?} is not one of queued, in_progress, sent, failed",
                            x.trim()
                        )
                    })
                })
                .collect::<Result<_, _>>()?,
        };
        let number = |what: &str, o: &Option<String>, lo: usize, hi: usize| {
            bounded(what, o)?
                .map(|s| {
                    s.parse::<usize>()
                        .ok()
                        .filter(|n| (lo..=hi).contains(n))
                        .ok_or_else(|| format!("{what}: {s:?} is not a number from {lo} to {hi}"))
                })
                .transpose()
        };
        let date = |what: &str, o: &Option<String>| -> Result<Option<NaiveDate>, String> {
            bounded(what, o)?
                .map(|d| {
                    crate::datearg::DateArg::parse(d)
                        .map(|d| d.date(tz))
                        .map_err(|e| format!("{what}: {e}"))
                })
                .transpose()
        };
        let since = date("since", &self.since)?;
        let until = date("until", &self.until)?;
        if let (Some(a), Some(b)) = (since, until) {
            if a > b {
                return Err(format!("since ({a}) is after until ({b})"));
            }
        }
        Ok(JobsFilter {
            states,
            queue: number("queue", &self.queue, 0, 255)?.map(|q| q as u8),
            class: bounded("class", &self.class)?
                .map(|c| crate::ops::retry::parse_classes(c).map_err(|e| format!("class: {e}")))
                .transpose()?,
            dest: bounded("dest", &self.dest)?.map(str::to_string),
            from: since.map(|d| day_start(d, tz)),
            to: until.map(|d| day_start(d + chrono::Days::new(1), tz)),
            text: bounded("q", &self.q)?.map(str::to_lowercase),
            page: number("page", &self.page, 1, 1_000_000)?.unwrap_or(1),
            per: number("per", &self.per, 1, MAX_PER)?.unwrap_or(DEFAULT_PER),
        })
    }
}

impl JobsFilter {
    fn matches(&self, r: &Row) -> bool {
        if !self.states.contains(&r.state) {
            return false;
        }
        if self.queue.is_some_and(|q| q != r.queue) {
            return false;
        }
        if let Some(cl) = &self.class {
            if !r
                .class
                .is_some_and(|c| cl.chars().any(|x| x.eq_ignore_ascii_case(&c)))
            {
                return false;
            }
        }
        if self.from.is_some_and(|t| r.when < t) || self.to.is_some_and(|t| r.when >= t) {
            return false;
        }
        if let Some(p) = &self.dest {
            let glob = crate::ops::retry::glob;
            let key = crate::ops::scan::dest_key(p);
            if r.destination.is_empty()
                || !(glob(p, &r.destination)
                    || glob(p, &r.dest_key)
                    || (!key.is_empty() && glob(&key, &r.dest_key)))
            {
                return false;
            }
        }
        if let Some(t) = &self.text {
            if !r.haystack.contains(t.as_str()) {
                return false;
            }
        }
        true
    }
}

/// One row of the answer.
#[derive(Debug, Clone, Serialize)]
pub struct JobOut {
    /// File name.
    pub name: String,
    /// `queued`, `in_progress`, `sent`, `failed`.
    pub state: JobState,
    /// Folder.
    pub place: String,
    /// Queue.
    pub queue: u8,
    /// Number or address.
    pub destination: String,
    /// Last outcome code.
    pub code: Option<u32>,
    /// Its class.
    pub class: Option<char>,
    /// Its description.
    pub description: String,
    /// Attempts recorded.
    pub attempts: usize,
    /// Start of the last attempt (RFC 3339).
    pub last_attempt: Option<String>,
    /// For a queued job: `due`, `held`, `waiting_retry`, `scheduled`, `held_for_good`,
    /// `no_start`.
    pub standing: Option<&'static str>,
    /// When a queued job may next start, when it waits (RFC 3339).
    pub next: Option<String>,
    /// Why it failed or is held.
    pub reason: String,
    /// The file's modification time (RFC 3339).
    pub changed: String,
}

/// The answer.
#[derive(Debug, Serialize)]
pub struct JobsOut {
    /// Server time (RFC 3339).
    pub now: String,
    /// Jobs matching.
    pub total: usize,
    /// This page (1-based).
    pub page: usize,
    /// Pages in all (at least 1).
    pub pages: usize,
    /// Rows per page.
    pub per: usize,
    /// The rows of this page.
    pub jobs: Vec<JobOut>,
}

fn standing_of(r: &Row, now: DateTime<Utc>) -> (Option<&'static str>, Option<DateTime<Utc>>) {
    match r.standing_at(now) {
        None => (None, None),
        Some(QueuedNow::Due) => (Some("due"), None),
        Some(QueuedNow::Held(t)) => (Some("held"), Some(t)),
        Some(QueuedNow::WaitingRetry(t)) => (Some("waiting_retry"), Some(t)),
        Some(QueuedNow::Scheduled(t)) => (Some("scheduled"), Some(t)),
        Some(QueuedNow::HeldForGood(_)) => (Some("held_for_good"), None),
        Some(QueuedNow::NoStart(_)) => (Some("no_start"), None),
    }
}

/// Runs the query over the catalogue.
pub fn query(s: &WebState, q: &JobsFilter, now: DateTime<Utc>) -> (JobsOut, Vec<Arc<Row>>) {
    let tz = s.sys.layer.timezone.unwrap_or(chrono_tz::UTC);
    let rows = s.catalogue.rows(&s.layout, &s.sys, now);
    let mut total = 0;
    let skip = (q.page - 1).saturating_mul(q.per);
    let mut page = Vec::new();
    for r in rows.iter().filter(|r| q.matches(r)) {
        if total >= skip && page.len() < q.per {
            page.push(r.clone());
        }
        total += 1;
    }
    let out = JobsOut {
        now: rfc3339(now, tz),
        total,
        page: q.page,
        pages: total.div_ceil(q.per).max(1),
        per: q.per,
        jobs: page
            .iter()
            .map(|r| {
                let (standing, next) = standing_of(r, now);
                JobOut {
                    name: r.name.clone(),
                    state: r.state,
                    place: r.place.clone(),
                    queue: r.queue,
                    destination: r.destination.clone(),
                    code: r.code,
                    class: r.class,
                    description: r.description.clone(),
                    attempts: r.attempts,
                    last_attempt: rfc3339_opt(r.last_attempt, tz),
                    standing,
                    next: rfc3339_opt(next, tz),
                    reason: r.reason.clone(),
                    changed: rfc3339(r.changed, tz),
                }
            })
            .collect(),
    };
    (out, page)
}

fn bad_json(e: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": e })),
    )
        .into_response()
}

/// `GET /api/jobs`.
pub(super) async fn api_jobs(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    q: Result<Query<JobsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Err(d) = auth(&s, client, &headers) {
        return d.json();
    }
    let Ok(Query(q)) = q else {
        return bad_json("the query string cannot be read (a field given twice?)".into());
    };
    let q = match q.read(s.tz()) {
        Ok(q) => q,
        Err(e) => return bad_json(e),
    };
    blocking(move || Json(query(&s, &q, s.clock.now()).0).into_response()).await
}

struct JobRowView {
    name: String,
    state: &'static str,
    place: String,
    destination: String,
    outcome: String,
    class: String,
    attempts: usize,
    when: String,
    standing: String,
    reason: String,
}

struct PageLink {
    label: String,
    href: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    csrf: String,
    now: String,
    rows: Vec<JobRowView>,
    total: usize,
    page: usize,
    pages: usize,
    links: Vec<PageLink>,
    state: String,
    queue: String,
    class: String,
    dest: String,
    since: String,
    until: String,
    q: String,
    per: String,
    error: String,
}

fn encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~*,".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn describe_standing(r: &Row, now: DateTime<Utc>, tz: chrono_tz::Tz) -> String {
    match r.standing_at(now) {
        None => String::new(),
        Some(QueuedNow::Due) => "due".into(),
        Some(QueuedNow::Held(t)) => format!("held by a window until {}", both(t, now, tz)),
        Some(QueuedNow::WaitingRetry(t)) => format!("retry at {}", both(t, now, tz)),
        Some(QueuedNow::Scheduled(t)) => format!("scheduled for {}", both(t, now, tz)),
        Some(QueuedNow::HeldForGood(_)) => "held".into(),
        Some(QueuedNow::NoStart(_)) => "cannot start".into(),
    }
}

/// `GET /jobs`.
pub(super) async fn jobs_page(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    q: Result<Query<JobsQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let csrf = match auth(&s, client, &headers) {
        Ok(Auth::Session { csrf, .. }) => csrf,
        Ok(Auth::Bearer) => String::new(),
        Err(d) => return d.html(),
    };
    let (raw, read) = match q {
        Ok(Query(raw)) => {
            let read = raw.read(s.tz());
            (raw, read)
        }
        Err(_) => (
            JobsQuery::default(),
            Err("the query string cannot be read (a field given twice?)".to_string()),
        ),
    };
    blocking(move || {
        let now = s.clock.now();
        let tz = s.tz();
        let f = |o: &Option<String>| o.clone().unwrap_or_default();
        let mut p = JobsPage {
            csrf,
            now: super::when::local(now, tz),
            rows: Vec::new(),
            total: 0,
            page: 1,
            pages: 1,
            links: Vec::new(),
            state: f(&raw.state),
            queue: f(&raw.queue),
            class: f(&raw.class),
            dest: f(&raw.dest),
            since: f(&raw.since),
            until: f(&raw.until),
            q: f(&raw.q),
            per: f(&raw.per),
            error: String::new(),
        };
        let q = match read {
            Ok(q) => q,
            Err(e) => {
                p.error = e;
                let mut r = page(p);
                *r.status_mut() = StatusCode::BAD_REQUEST;
                return r;
            }
        };
        let (out, rows) = query(&s, &q, now);
        let base: String = [
            ("state", &p.state),
            ("queue", &p.queue),
            ("class", &p.class),
            ("dest", &p.dest),
            ("since", &p.since),
            ("until", &p.until),
            ("q", &p.q),
            ("per", &p.per),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}&", encode(v)))
        .collect();
        let link = |label: &str, n: usize| PageLink {
            label: label.into(),
            href: format!("/jobs?{base}page={n}"),
        };
        if out.page > 1 {
            p.links.push(link("« first", 1));
            p.links
                .push(link("‹ previous", (out.page - 1).min(out.pages)));
        }
        if out.page < out.pages {
            p.links.push(link("next ›", out.page + 1));
            p.links.push(link("last »", out.pages));
        }
        p.total = out.total;
        p.page = out.page;
        p.pages = out.pages;
        p.rows = rows
            .iter()
            .map(|r| JobRowView {
                name: r.name.clone(),
                state: r.state.as_str(),
                place: r.place.clone(),
                destination: r.destination.clone(),
                outcome: r
                    .code
                    .map(|c| format!("{c} {}", r.description))
                    .unwrap_or_default(),
                class: r.class.map(String::from).unwrap_or_default(),
                attempts: r.attempts,
                when: both(r.when, now, tz),
                standing: describe_standing(r, now, tz),
                reason: r.reason.clone(),
            })
            .collect();
        page(p)
    })
    .await
}
