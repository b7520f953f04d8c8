//! The JSON API under `/api/` (the page's data and actions for programs) and `/metrics`.

use super::*;

#[derive(Serialize)]
pub(super) struct FailedList {
    now: DateTime<Utc>,
    jobs: Vec<FailedJob>,
}

pub(super) async fn api_failed(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> Response {
    if let Err(d) = auth(&s, client, &headers) {
        return d.json();
    }
    let sel = match f.selection(s.sys.layer.timezone.unwrap_or(chrono_tz::UTC)) {
        Ok(x) => x,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(serde_json::json!({"error": e})),
            )
                .into_response()
        }
    };
    blocking(move || {
        let now = s.clock.now();
        Json(FailedList {
            now,
            jobs: failed_jobs(&s, &sel, now),
        })
        .into_response()
    })
    .await
}

pub(super) async fn api_job(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if let Err(d) = auth(&s, client, &headers) {
        return d.json();
    }
    blocking(move || match job_detail(&s, &name, s.clock.now()) {
        Some((_, d, _)) => Json(d).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": format!("no job {name:?}")})),
        )
            .into_response(),
    })
    .await
}

pub(super) async fn api_status(State(s): St, client: Client, headers: HeaderMap) -> Response {
    if let Err(d) = auth(&s, client, &headers) {
        return d.json();
    }
    blocking(
        move || match report::status(&s.layout, &s.sys, s.clock.now()) {
            Ok(st) => Json(st).into_response(),
            Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
        },
    )
    .await
}

pub(super) async fn api_retry(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Json(mut req): Json<Request>,
) -> Response {
    let signed_in = match auth(&s, client, &headers) {
        Ok(a) => a,
        Err(d) => return d.json(),
    };
    let who = super::session::who(client, &signed_in);
    match &signed_in {
        Auth::Bearer => {}
        Auth::Session { csrf, .. } => {
            let sent = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
            if !sent.is_some_and(|t| ct_eq(t, csrf)) {
                tracing::warn!(target: "redial::audit", who = %who, action = "retry",
                    "audit: retry refused: X-CSRF-Token missing or wrong");
                return (
                    StatusCode::FORBIDDEN,
                    Json(serde_json::json!({"error": "X-CSRF-Token missing or wrong"})),
                )
                    .into_response();
            }
        }
    }
    if let Err(why) = require_operate(&signed_in) {
        super::audit::record(
            &s,
            &client.0.to_string(),
            &signed_in.operator().name,
            "retry",
            "",
            "refused",
            &why,
        );
        return (
            StatusCode::FORBIDDEN,
            Json(serde_json::json!({"error": why})),
        )
            .into_response();
    }
    req.kind = RetryKind::Manual;
    req.auto_max = None;
    let asked = super::audit_request(&req);
    let s2 = s.clone();
    let r = blocking(move || {
        let now = s2.clock.now();
        retry(&s2.layout, &s2.sys, &s2.cfg, &req, now)
    })
    .await;
    super::audit_retry(&who, &asked, &r);
    super::record_retry(&s, client, &signed_in.operator().name, &asked, &r);
    match r {
        Ok(r) => {
            s.metrics.retried(RetryKind::Manual, &r);
            Json(r).into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(serde_json::json!({"error": e.to_string()})),
        )
            .into_response(),
    }
}

pub(super) async fn metrics(State(s): St, client: Client, headers: HeaderMap) -> Response {
    if let Err(d) = auth(&s, client, &headers) {
        return d.json();
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    blocking(move || {
        let body = s.metrics.render(&s.layout, &s.sys, s.clock.now());
        if wants_openmetrics(accept.as_deref()) {
            ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response()
        } else {
            (
                [(header::CONTENT_TYPE, CLASSIC_CONTENT_TYPE)],
                classic(&body),
            )
                .into_response()
        }
    })
    .await
}
