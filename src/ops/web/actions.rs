//! The job actions of the console: cancel, hold, release and alter (next start and/or queue),
//! from the job page's forms (`POST /job/{name}/{action}`, with the session's CSRF token) and
//! the JSON API (`POST /api/jobs/{name}/{action}`, bearer token, or a session with
//! `X-CSRF-Token`).
//!
//! Owns reading what is asked (every field checked, a bad one answered 400 naming it), the
//! role check, the answer and the audit entry. The work itself is the commands': a cancel is
//! [`crate::ops::cancel::cancel`] (a job a node is dialling gets a request that node acts on:
//! it hangs up and fails the job), hold, release and alter are [`crate::ops::alter::alter`]
//! (a job in progress or finished is refused with the reason). It never moves or writes a job
//! file itself.

use super::*;
use crate::datearg::DateArg;
use crate::ops::alter::{self, AlterError, Changes};
use crate::ops::cancel::{self, CancelError};
use axum::body::Bytes;

/// What an operator may ask of one job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Action {
    Cancel { reason: String },
    Hold,
    Release,
    Alter { changes: Changes, asked: String },
}

impl Action {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Action::Cancel { .. } => "cancel",
            Action::Hold => "hold",
            Action::Release => "release",
            Action::Alter { .. } => "alter",
        }
    }
}

/// A refusal: the status, the field at fault (for a 400) and why.
#[derive(Debug)]
pub(super) struct Refused {
    status: StatusCode,
    field: Option<&'static str>,
    message: String,
}

impl Refused {
    fn bad(field: &'static str, message: String) -> Refused {
        Refused {
            status: StatusCode::BAD_REQUEST,
            field: Some(field),
            message: format!("{field}: {message}"),
        }
    }
    fn new(status: StatusCode, message: String) -> Refused {
        Refused {
            status,
            field: None,
            message,
        }
    }
}

/// What came of an action.
#[derive(Debug, Serialize)]
pub(super) struct Done {
    /// The job's file name.
    job: String,
    /// `cancel`, `hold`, `release`, `alter`.
    action: &'static str,
    /// `cancelled`, `requested` (in progress: the node hangs up), `held`, `released`, `altered`.
    result: &'static str,
    /// Where the job is now (`FAIL`, `TOSEND1`, `ACTIVE/n1`).
    place: String,
    /// In words.
    message: String,
}

/// A job name as the pages write it: `00000017.FS` or `00000017` — letters, digits, `.`, `_`
/// and `-`, not starting with `.`, at most 64 characters. Anything else (a path, `..`) is
/// refused before the spool is looked at.
pub(super) fn check_name(name: &str) -> Result<String, Refused> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && !name.contains("..")
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(crate::ops::locate::file_name(name))
    } else {
        Err(Refused::bad(
            "name",
            format!("{name:?} is not a job name (like 00000017.FS)"),
        ))
    }
}

/// Reads the action `kind` with its fields (`get` looks one up; an empty field is absent).
pub(super) fn parse(
    kind: &str,
    get: &dyn Fn(&str) -> Option<String>,
    layout: &Layout,
    tz: chrono_tz::Tz,
) -> Result<Action, Refused> {
    let field = |k: &str| {
        get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    match kind {
        "cancel" => {
            let reason = field("reason").unwrap_or_default();
            if reason.chars().count() > 200 || reason.chars().any(char::is_control) {
                return Err(Refused::bad(
                    "reason",
                    "at most 200 characters, on one line".into(),
                ));
            }
            Ok(Action::Cancel { reason })
        }
        "hold" => Ok(Action::Hold),
        "release" => Ok(Action::Release),
        "alter" => {
            let at = field("at")
                .map(|t| {
                    DateArg::parse(&t)
                        .map(|d| d.instant(tz))
                        .map_err(|e| Refused::bad("at", e))
                })
                .transpose()?;
            let queue = field("queue")
                .map(|q| match q.parse::<u8>() {
                    Ok(n) if n <= layout.max_queue => Ok(n),
                    _ => Err(Refused::bad(
                        "queue",
                        format!(
                            "{q:?} is not a queue of this spool (0 to {})",
                            layout.max_queue
                        ),
                    )),
                })
                .transpose()?;
            if at.is_none() && queue.is_none() {
                return Err(Refused::bad(
                    "at",
                    "give a time (at) or a queue (queue), or both".into(),
                ));
            }
            let asked = [
                at.map(|t| format!("at {}", when::local(t, tz))),
                queue.map(|q| format!("queue {}", crate::spool::queue_name(q))),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
            Ok(Action::Alter {
                changes: Changes {
                    at,
                    queue,
                    ..Changes::default()
                },
                asked,
            })
        }
        other => Err(Refused::new(
            StatusCode::NOT_FOUND,
            format!("no action {other:?} (cancel, hold, release, alter)"),
        )),
    }
}

fn place_of(layout: &Layout, path: &std::path::Path) -> String {
    layout
        .place_of(path)
        .map_or_else(|| "?".into(), |p| crate::ops::scan::place_name(&p))
}

fn alter_refused(e: AlterError) -> Refused {
    match e {
        AlterError::Invalid { arg, .. } => {
            let field = match arg {
                "--queue" => "queue",
                _ => "at",
            };
            Refused::bad(field, e.to_string())
        }
        AlterError::NotFound(_) => Refused::new(StatusCode::NOT_FOUND, e.to_string()),
        AlterError::InProgress { .. } | AlterError::Finished { .. } => {
            Refused::new(StatusCode::CONFLICT, e.to_string())
        }
        AlterError::Nothing | AlterError::Unreadable(_) => {
            Refused::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
        }
        AlterError::Io(_) => Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

/// Whether the queued job `name` carries an operator's hold (`None`: not queued or unreadable).
pub(super) fn held(layout: &Layout, name: &str) -> Option<bool> {
    let found = crate::ops::locate::find(layout, name).ok()?;
    if !matches!(found.place, Place::Queue(_)) {
        return None;
    }
    let bytes = std::fs::read(&found.path).ok()?;
    let doc = crate::command::Document::parse(&bytes, &found.path.display().to_string()).ok()?;
    Some(alter::is_held(&doc))
}

/// Carries out `action` on job `name` for operator `by` (blocking: files and renames).
pub(super) fn perform(
    s: &WebState,
    name: &str,
    action: &Action,
    by: &str,
) -> Result<Done, Refused> {
    let layout = &s.layout;
    let done = |result, path: &std::path::Path, message: String| Done {
        job: name.to_string(),
        action: action.name(),
        result,
        place: place_of(layout, path),
        message,
    };
    let by = format!("{by} (web)");
    match action {
        Action::Cancel { reason } => match cancel::cancel(layout, name, &by, reason) {
            Ok(cancel::Outcome::Cancelled { path, .. }) => Ok(done(
                "cancelled",
                &path,
                format!("{name} cancelled: moved to FAIL undialled"),
            )),
            Ok(cancel::Outcome::Requested { node, .. }) => Ok(Done {
                job: name.to_string(),
                action: "cancel",
                result: "requested",
                place: format!("ACTIVE/{node}"),
                message: format!(
                    "{name} is being dialled by node {node}: it hangs the call up and fails the job as cancelled"
                ),
            }),
            Ok(cancel::Outcome::Finished { place, .. }) => Err(Refused::new(
                StatusCode::CONFLICT,
                format!("{name} has already finished ({place}): nothing to cancel"),
            )),
            Err(e @ CancelError::NotFound(_)) => {
                Err(Refused::new(StatusCode::NOT_FOUND, e.to_string()))
            }
            Err(e) => Err(Refused::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
        },
        Action::Hold | Action::Release => {
            let hold = *action == Action::Hold;
            if held(layout, name) == Some(hold) {
                return Err(Refused::new(
                    StatusCode::CONFLICT,
                    if hold {
                        format!("{name} is already held")
                    } else {
                        format!("{name} is not held: nothing to release")
                    },
                ));
            }
            let changes = Changes {
                hold: Some(hold),
                ..Changes::default()
            };
            let a = alter::alter(layout, &s.sys, name, &changes, &by, s.clock.now())
                .map_err(alter_refused)?;
            let (result, words) = if hold {
                ("held", "held: it stays in its queue and is not dialled until released")
            } else {
                ("released", "released: it is dialled when due")
            };
            Ok(done(result, &a.path, format!("{name} {words}")))
        }
        Action::Alter { changes, .. } => {
            let a = alter::alter(layout, &s.sys, name, changes, &by, s.clock.now())
                .map_err(alter_refused)?;
            Ok(done("altered", &a.path, format!("{name} changed: {}", a.what)))
        }
    }
}

/// Checks, performs and records one action; the answer's status and body.
async fn act(
    s: Arc<WebState>,
    client: Client,
    signed_in: &Auth,
    name: String,
    kind: String,
    get: &(dyn Fn(&str) -> Option<String> + Sync),
) -> Result<Done, Refused> {
    let op = signed_in.operator();
    let who = session::who(client, signed_in);
    let refuse = |r: Refused, job: &str| {
        tracing::warn!(target: "redial::audit", who = %who, action = %kind, job = %job,
            "audit: {kind} refused: {}", r.message);
        super::audit::record(
            &s,
            &client.0.to_string(),
            &op.name,
            &kind,
            job,
            "refused",
            &r.message,
        );
        r
    };
    if let Err(why) = require_operate(signed_in) {
        return Err(refuse(Refused::new(StatusCode::FORBIDDEN, why), &name));
    }
    let job = check_name(&name).map_err(|r| refuse(r, &name))?;
    let action = parse(&kind, get, &s.layout, s.tz()).map_err(|r| refuse(r, &job))?;
    let s2 = s.clone();
    let (j2, a2, by) = (job.clone(), action.clone(), op.name.clone());
    let r = blocking(move || perform(&s2, &j2, &a2, &by)).await;
    match r {
        Ok(d) => {
            let detail = match &action {
                Action::Cancel { reason } if !reason.is_empty() => {
                    format!("{}; reason {reason:?}", d.message)
                }
                Action::Alter { asked, .. } => format!("{asked}: {}", d.message),
                _ => d.message.clone(),
            };
            tracing::info!(target: "redial::audit", who = %who, action = %kind, job = %job,
                result = d.result, "audit: {detail}");
            let outcome = if d.result == "requested" {
                "requested"
            } else {
                "ok"
            };
            super::audit::record(
                &s,
                &client.0.to_string(),
                &op.name,
                &kind,
                &job,
                outcome,
                &detail,
            );
            Ok(d)
        }
        Err(e) => Err(refuse(e, &job)),
    }
}

/// `POST /api/jobs/{name}/{action}`: JSON fields (`reason`, `at`, `queue`; a number or a
/// string), an empty body for none.
pub(super) async fn api_action(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Path((name, kind)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let signed_in = match auth(&s, client, &headers) {
        Ok(a) => a,
        Err(d) => return d.json(),
    };
    if let Auth::Session { csrf, .. } = &signed_in {
        let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
        if !sent.is_some_and(|t| ct_eq(t, csrf)) {
            return json_refused(&Refused::new(
                StatusCode::FORBIDDEN,
                "X-CSRF-Token missing or wrong".into(),
            ));
        }
    }
    let fields: serde_json::Map<String, serde_json::Value> =
        if body.iter().all(u8::is_ascii_whitespace) {
            serde_json::Map::new()
        } else {
            match serde_json::from_slice(&body) {
                Ok(serde_json::Value::Object(m)) => m,
                Ok(_) => {
                    return json_refused(&Refused::new(
                        StatusCode::BAD_REQUEST,
                        "body: expected a JSON object".into(),
                    ))
                }
                Err(e) => {
                    return json_refused(&Refused::new(
                        StatusCode::BAD_REQUEST,
                        format!("body: not JSON ({e})"),
                    ))
                }
            }
        };
    let get = move |k: &str| -> Option<String> {
        match fields.get(k)? {
            serde_json::Value::String(v) => Some(v.clone()),
            serde_json::Value::Null => None,
            v => Some(v.to_string()),
        }
    };
    match act(s, client, &signed_in, name, kind, &get).await {
        Ok(d) => {
            let status = if d.result == "requested" {
                StatusCode::ACCEPTED
            } else {
                StatusCode::OK
            };
            (status, Json(d)).into_response()
        }
        Err(r) => json_refused(&r),
    }
}

fn json_refused(r: &Refused) -> Response {
    (
        r.status,
        Json(serde_json::json!({"error": r.message, "field": r.field})),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "refused.html")]
struct RefusedPage {
    csrf: String,
    message: String,
    back: String,
}

/// `POST /job/{name}/{action}` from the job page: on success back to the job's page (where it
/// is now) with what was done; a refusal is a page with the reason.
pub(super) async fn form_action(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Path((name, kind)): Path<(String, String)>,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    let signed_in = match auth(&s, client, &headers) {
        Ok(a) => a,
        Err(d) => return d.html(),
    };
    let csrf = signed_in.csrf();
    let csrf_ok = match &signed_in {
        Auth::Session { csrf, .. } => f.iter().any(|(k, v)| k == "csrf" && ct_eq(v, csrf)),
        Auth::Bearer => true,
    };
    let back = if check_name(&name).is_ok() {
        format!("/job/{name}")
    } else {
        "/jobs".into()
    };
    let refused = |r: &Refused| {
        let mut resp = page(RefusedPage {
            csrf: csrf.clone(),
            message: r.message.clone(),
            back: back.clone(),
        });
        *resp.status_mut() = r.status;
        resp
    };
    if !csrf_ok {
        tracing::warn!(target: "redial::audit", who = %session::who(client, &signed_in),
            action = %kind, "audit: {kind} refused: CSRF token missing or wrong");
        return refused(&Refused::new(
            StatusCode::FORBIDDEN,
            "CSRF token missing or wrong: reload the page".into(),
        ));
    }
    let get = move |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    match act(s, client, &signed_in, name, kind, &get).await {
        Ok(d) => Redirect::to(&format!("/job/{}?done={}", d.job, d.result)).into_response(),
        Err(r) => refused(&r),
    }
}

/// The words the job page shows for `?done=` (a fixed list: nothing from the query is echoed).
pub(super) fn done_message(done: &str) -> &'static str {
    match done {
        "cancelled" => "Cancelled: the job is in FAIL, undialled.",
        "requested" => "Cancel requested: the node dialling the job hangs up and fails it.",
        "held" => "Held: the job stays in its queue and is not dialled until released.",
        "released" => "Released: the job is dialled when due.",
        "altered" => "Changed.",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_are_refused_naming_the_field() {
        for bad in [
            "",
            "../x.FS",
            "..",
            ".hidden.FS",
            "a/b.FS",
            "a\\b",
            "x.FS\0",
            "%2e%2e",
            &"9".repeat(65),
        ] {
            let r = check_name(bad).unwrap_err();
            assert_eq!(
                (r.status, r.field),
                (StatusCode::BAD_REQUEST, Some("name")),
                "{bad:?}"
            );
            assert!(r.message.starts_with("name: "), "{}", r.message);
        }
        assert_eq!(check_name("00000017").unwrap(), "00000017.FS");
        assert_eq!(check_name("a_b-1.FS").unwrap(), "a_b-1.FS");
    }

    #[test]
    fn fields_are_checked_before_any_file_is_touched() {
        let layout = Layout::new("/nonexistent", 2);
        let tz = chrono_tz::Europe::Paris;
        let ask = |kind: &str, pairs: &[(&str, &str)]| {
            let pairs: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let get = move |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            parse(kind, &get, &layout, tz)
        };
        let field = |r: Result<Action, Refused>| {
            let r = r.unwrap_err();
            (r.status.as_u16(), r.field, r.message)
        };
        let (st, f, m) = field(ask("alter", &[("at", "tomorrowish")]));
        assert_eq!((st, f), (400, Some("at")), "{m}");
        let (st, f, m) = field(ask("alter", &[("queue", "3")]));
        assert_eq!((st, f), (400, Some("queue")), "{m}");
        assert!(m.contains("0 to 2"), "{m}");
        let (st, f, _) = field(ask("alter", &[("queue", "-1")]));
        assert_eq!((st, f), (400, Some("queue")));
        let (st, f, _) = field(ask("alter", &[("at", " "), ("queue", "")]));
        assert_eq!((st, f), (400, Some("at")));
        let (st, f, _) = field(ask("cancel", &[("reason", "a\nb")]));
        assert_eq!((st, f), (400, Some("reason")));
        let (st, f, _) = field(ask("explode", &[]));
        assert_eq!((st, f), (404, None));
        // 14:00 in Paris is 13:00 UTC.
        match ask("alter", &[("at", "2026-03-02 14:00"), ("queue", "1")]).unwrap() {
            Action::Alter { changes, asked } => {
                assert_eq!(
                    changes.at.unwrap().to_rfc3339(),
                    "2026-03-02T13:00:00+00:00"
                );
                assert_eq!(changes.queue, Some(1));
                assert_eq!(asked, "at 2026-03-02 14:00:00 CET, queue TOSEND1");
            }
            other => panic!("{other:?}"),
        }
    }
}
