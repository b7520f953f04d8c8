//! `POST /dlr/{secret}` — delivery reports from an SMS gateway (see `line::sms_http`).
//!
//! The gateway calls back with the message id and status as form parameters (`id=…&status=…`,
//! in the body or the query string). The secret in the path must equal the CFG's
//! `$sms_dlr_secret` (or the first line of `$sms_dlr_secret_file`), compared in constant time;
//! without one configured, or with another, the answer is 403 and nothing changes. A report is
//! taken only for a job that waits for exactly that id (`$sms_pending`); any other id is 404,
//! logged. ACKNOWLEDGED is noted in the log only (not final: the job keeps waiting); a final
//! status is left in `DLR/<id>.dlr` (written durably) for the node that holds the job, which
//! settles it. It never touches a job file and never answers with anything from the spool.

use super::{St, WebState};
use crate::line::sms_http::{self, DeliveryReport};
use axum::extract::{Path, Query, RawForm};
use axum::http::StatusCode;
use std::collections::HashMap;

/// The longest status word taken.
const MAX_STATUS: usize = 32;

/// The configured secret (at least 8 characters), when there is one.
fn secret(s: &WebState) -> Option<String> {
    let doc = &s.sys.document;
    let text = match doc.last("sms_dlr_secret_file") {
        Some(c) => {
            let p = std::path::PathBuf::from(c.arg(0).unwrap_or_default());
            let p = if p.is_relative() {
                s.cfg.base.join(p)
            } else {
                p
            };
            std::fs::read_to_string(&p)
                .ok()?
                .lines()
                .next()?
                .trim()
                .to_string()
        }
        None => doc.last("sms_dlr_secret")?.arg(0)?.to_string(),
    };
    (text.len() >= 8).then_some(text)
}

/// Equal without telling how much of it was right.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y)) == 0
}

/// The handler.
pub(super) async fn report(
    axum::extract::State(s): St,
    Path(given): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    RawForm(body): RawForm,
) -> (StatusCode, String) {
    let Some(secret) = secret(&s) else {
        tracing::warn!("delivery report refused: no $sms_dlr_secret is configured");
        return (StatusCode::FORBIDDEN, "forbidden\n".into());
    };
    if !same(given.as_bytes(), secret.as_bytes()) {
        tracing::warn!("delivery report refused: wrong secret");
        return (StatusCode::FORBIDDEN, "forbidden\n".into());
    }
    let mut fields: HashMap<String, String> =
        serde_urlencoded::from_bytes::<Vec<(String, String)>>(&body)
            .unwrap_or_default()
            .into_iter()
            .collect();
    for (k, v) in query {
        fields.entry(k).or_insert(v);
    }
    let (Some(id), Some(status)) = (fields.get("id"), fields.get("status")) else {
        return (
            StatusCode::BAD_REQUEST,
            "a delivery report needs id= and status=\n".into(),
        );
    };
    let status = status.trim().to_ascii_uppercase();
    if status.is_empty()
        || status.len() > MAX_STATUS
        || !status.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
    {
        return (
            StatusCode::BAD_REQUEST,
            "status= must be a word such as DELIVERED\n".into(),
        );
    }
    let layout = s.layout.clone();
    let id = id.clone();
    let now = s.clock.now();
    let outcome = tokio::task::spawn_blocking(move || take(&layout, &id, &status, now)).await;
    match outcome {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "delivery report not taken");
            (StatusCode::INTERNAL_SERVER_ERROR, "not taken\n".into())
        }
    }
}

/// Checks the id against the job it names and leaves a final report for the daemon.
fn take(
    layout: &crate::spool::Layout,
    id: &str,
    status: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> (StatusCode, String) {
    let unknown = |why: &str| {
        tracing::warn!(id = %id.escape_debug(), status, "delivery report for an unknown message: {why}");
        (
            StatusCode::NOT_FOUND,
            format!(
                "no SMS waits for a report with id {:?}\n",
                id.escape_debug().to_string()
            ),
        )
    };
    let Some(job) = sms_http::job_of(id) else {
        return unknown("not a message id redial gave");
    };
    let Ok(found) = crate::ops::locate::find(layout, &job) else {
        return unknown("its job is in no queue");
    };
    let waits = crate::spool::store::read_job(&found.path)
        .ok()
        .and_then(|b| crate::command::Document::from_vec(b, "job").ok())
        .and_then(|d| {
            d.last("sms_pending")
                .and_then(|c| c.arg(0).map(str::to_string))
        })
        .is_some_and(|p| p == id);
    if !waits {
        return unknown("its job waits for no report with that id");
    }
    if sms_http::outcome_of(status).is_none() {
        tracing::info!(
            job,
            id,
            "delivery report ACKNOWLEDGED: not final, the job keeps waiting (never resent)"
        );
        return (
            StatusCode::OK,
            "acknowledged: waiting for a final report\n".into(),
        );
    }
    let r = DeliveryReport {
        id: id.to_string(),
        status: status.to_string(),
        at: now,
    };
    match sms_http::write_report(layout, &r) {
        Ok(_) => {
            tracing::info!(job, id, status, "delivery report taken");
            (StatusCode::OK, "taken\n".into())
        }
        Err(e) => {
            tracing::error!(job, id, error = %e, "delivery report not written");
            (StatusCode::SERVICE_UNAVAILABLE, "not taken\n".into())
        }
    }
}
