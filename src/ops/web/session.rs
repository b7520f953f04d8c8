//! Sign-in and sessions of the web page: the token, session cookies (HttpOnly, SameSite=Strict),
//! CSRF tokens, and the checks every handler makes.

use super::*;

pub(super) fn random_hex() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = f.read_exact(&mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub(super) fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub(super) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|p| p.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

pub(super) enum Auth {
    Bearer,
    Session { csrf: String },
}

pub(super) fn auth(s: &WebState, headers: &HeaderMap) -> Option<Auth> {
    if let Some(t) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return ct_eq(t.trim(), &s.token).then_some(Auth::Bearer);
    }
    let sid = cookie(headers, "redial_session")?;
    let csrf = s.sessions.lock().expect("sessions").get(&sid).cloned()?;
    Some(Auth::Session { csrf })
}

pub(super) fn unauthorized_html() -> Response {
    Redirect::to("/login").into_response()
}

pub(super) fn unauthorized_json() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({"error": "a token is required (Authorization: Bearer TOKEN)"})),
    )
        .into_response()
}

pub(super) fn page(t: impl Template) -> Response {
    match t.render() {
        Ok(h) => Html(h).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

pub(super) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

// ----- login -----

#[derive(Template)]
#[template(path = "login.html")]
pub(super) struct LoginPage {
    error: String,
}

pub(super) async fn login_page() -> Response {
    page(LoginPage {
        error: String::new(),
    })
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    token: String,
}

pub(super) async fn login(State(s): St, Form(f): Form<LoginForm>) -> Response {
    if !ct_eq(f.token.trim(), &s.token) {
        return (
            StatusCode::UNAUTHORIZED,
            Html(
                LoginPage {
                    error: "wrong token".into(),
                }
                .render()
                .unwrap_or_default(),
            ),
        )
            .into_response();
    }
    let sid = random_hex();
    s.sessions
        .lock()
        .expect("sessions")
        .insert(sid.clone(), random_hex());
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!("redial_session={sid}; Path=/; HttpOnly; SameSite=Strict"),
            ),
            (header::LOCATION, "/failed".to_string()),
        ],
    )
        .into_response()
}

pub(super) async fn logout(
    State(s): St,
    headers: HeaderMap,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let (Some(Auth::Session { csrf }), Some(sid)) =
        (auth(&s, &headers), cookie(&headers, "redial_session"))
    {
        if f.iter().any(|(k, v)| k == "csrf" && ct_eq(v, &csrf)) {
            s.sessions.lock().expect("sessions").remove(&sid);
        }
    }
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                "redial_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0".to_string(),
            ),
            (header::LOCATION, "/login".to_string()),
        ],
    )
        .into_response()
}

// ----- the list -----
