//! Sign-in and sessions of the web page: the token, named operators (`$web_user`, see
//! [`super::operators`]), session cookies (HttpOnly, SameSite=Strict), CSRF tokens, roles, and
//! the checks every handler makes.
//!
//! Every comparison with the token (the login form and `Authorization: Bearer`) goes through
//! [`check_token`], every password through [`check_password`]: a constant-time compare (an
//! argon2 verification for a password) behind a limiter of failed attempts, per client address,
//! per operator name and in all, over a sliding minute on the state's clock. While a limit is
//! reached nothing is compared at all (429 with `Retry-After`), so blocked guesses learn
//! nothing; an unknown name costs the same argon2 work as a known one.
//!
//! The token acts as an operator named `token` with the `operate` role (as before operators
//! existed); a `$web_user` signs in by name and password with the role its line gives. Actions
//! need `operate` ([`require_operate`], 403 otherwise).
//! Session and CSRF ids are 128 bits from the operating system's generator; when it fails, the
//! sign-in fails (500) rather than hand out a guessable id. A session ends after
//! [`SESSION_IDLE`] without a request or [`SESSION_LIFETIME`] after the sign-in, whichever
//! comes first; ended sessions are removed.

use super::*;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use chrono::TimeDelta;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// A session ends after this long without a request.
pub(super) const SESSION_IDLE: TimeDelta = TimeDelta::minutes(30);
/// A session ends this long after the sign-in, however busy.
pub(super) const SESSION_LIFETIME: TimeDelta = TimeDelta::hours(12);
/// Failed token checks are counted over this window.
pub(super) const FAILURE_WINDOW: TimeDelta = TimeDelta::minutes(1);
/// Failed token checks from one client address in [`FAILURE_WINDOW`] before it is refused.
pub(super) const FAILURES_PER_CLIENT: usize = 5;
/// Failed token checks from all clients in [`FAILURE_WINDOW`] before everyone is refused.
pub(super) const FAILURES_IN_ALL: usize = 20;
/// Failed password checks for one operator name in [`FAILURE_WINDOW`] before the name is
/// refused (from any address).
pub(super) const FAILURES_PER_NAME: usize = 5;

/// Who acts: an operator's name and role (the token is `token`, role operate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Operator {
    pub(super) name: String,
    pub(super) role: super::operators::Role,
}

impl Operator {
    /// The shared token's operator.
    pub(super) fn token() -> Operator {
        Operator {
            name: "token".into(),
            role: super::operators::Role::Operate,
        }
    }
}

/// Fills a buffer with random bytes (the OS generator; a failing one in tests).
pub(super) type Random = fn(&mut [u8]) -> Result<(), getrandom::Error>;

/// 128 random bits in hex, or the generator's error.
pub(super) fn random_hex(random: Random) -> Result<String, getrandom::Error> {
    let mut b = [0u8; 16];
    random(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// Whether `given` equals `secret`, without an early exit: it always walks the whole secret and
/// folds every difference (lengths included) into one word, so the time does not tell where
/// the strings differ. Hand-written: a few lines did not justify a crate.
pub(super) fn ct_eq(given: &str, secret: &str) -> bool {
    let (g, s) = (given.as_bytes(), secret.as_bytes());
    let mut diff = g.len() ^ s.len();
    for (i, &b) in s.iter().enumerate() {
        diff |= usize::from(g.get(i).copied().unwrap_or(0) ^ b);
    }
    std::hint::black_box(diff) == 0
}

/// One signed-in browser.
#[derive(Debug, Clone)]
pub(super) struct Session {
    csrf: String,
    /// The sign-in's number since the server started: names the session in the audit trail
    /// (the session id itself is the secret cookie and is never logged).
    number: u64,
    /// Who signed in.
    operator: Operator,
    created: DateTime<Utc>,
    seen: DateTime<Utc>,
}

impl Session {
    fn ended(&self, now: DateTime<Utc>) -> bool {
        now - self.seen >= SESSION_IDLE || now - self.created >= SESSION_LIFETIME
    }
}

/// The client's address as the listener saw it (unspecified when served without connection
/// info). Behind a reverse proxy every client has the proxy's address.
#[derive(Debug, Clone, Copy)]
pub(super) struct Client(pub(super) IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Client, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip()),
        ))
    }
}

impl Client {
    /// What the limiter counts by: the address, an IPv6 one by its /64 (one host's share).
    fn key(self) -> IpAddr {
        match self.0.to_canonical() {
            IpAddr::V6(a) => IpAddr::V6((u128::from(a) & (u128::MAX << 64)).into()),
            v4 => v4,
        }
    }
}

/// Failed token checks in the last [`FAILURE_WINDOW`], per client and in all (oldest first).
#[derive(Debug, Default)]
pub(super) struct Failures {
    by_client: HashMap<IpAddr, Vec<DateTime<Utc>>>,
    by_name: HashMap<String, Vec<DateTime<Utc>>>,
    all: Vec<DateTime<Utc>>,
}

impl Failures {
    /// Forgets failures out of the window (and any "in the future" after the clock went back).
    fn prune(&mut self, now: DateTime<Utc>) {
        let live = |t: &DateTime<Utc>| now - *t < FAILURE_WINDOW && *t <= now;
        self.all.retain(live);
        self.by_client.retain(|_, v| {
            v.retain(live);
            !v.is_empty()
        });
        self.by_name.retain(|_, v| {
            v.retain(live);
            !v.is_empty()
        });
    }
    /// Seconds until `client` may try again, when a limit is reached.
    fn blocked(&self, client: IpAddr, now: DateTime<Utc>) -> Option<u64> {
        self.blocked_as(client, None, now)
    }
    /// [`Failures::blocked`], also counting the failures for operator `name`.
    fn blocked_as(&self, client: IpAddr, name: Option<&str>, now: DateTime<Utc>) -> Option<u64> {
        let wait = |v: &[DateTime<Utc>], limit: usize| {
            // The limit is lifted when the failure that reached it leaves the window.
            let t = v.len().checked_sub(limit).map(|i| v[i])?;
            let ms = (t + FAILURE_WINDOW - now).num_milliseconds().max(1);
            Some((ms as u64).div_ceil(1000))
        };
        let mine = self
            .by_client
            .get(&client)
            .and_then(|v| wait(v, FAILURES_PER_CLIENT));
        let named = name
            .and_then(|n| self.by_name.get(n))
            .and_then(|v| wait(v, FAILURES_PER_NAME));
        mine.max(named).max(wait(&self.all, FAILURES_IN_ALL))
    }
    fn record(&mut self, client: IpAddr, now: DateTime<Utc>) {
        self.by_client.entry(client).or_default().push(now);
        self.all.push(now);
    }
    fn record_name(&mut self, name: &str, now: DateTime<Utc>) {
        // Only names that exist are counted per name (unknown ones count per client and in
        // all), so guessed names cannot grow the map without bound.
        self.by_name.entry(name.to_string()).or_default().push(now);
    }
}

/// Why a request is not let in.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Denied {
    /// No credentials, or wrong ones.
    Unauthorized,
    /// Too many failed token checks: try again in this many seconds.
    Limited(u64),
}

impl Denied {
    pub(super) fn html(self) -> Response {
        match self {
            Denied::Unauthorized => unauthorized_html(),
            Denied::Limited(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs.to_string())],
                limited_message(secs),
            )
                .into_response(),
        }
    }
    pub(super) fn json(self) -> Response {
        match self {
            Denied::Unauthorized => unauthorized_json(),
            Denied::Limited(secs) => (
                StatusCode::TOO_MANY_REQUESTS,
                [(header::RETRY_AFTER, secs.to_string())],
                Json(serde_json::json!({"error": limited_message(secs), "retry_after": secs})),
            )
                .into_response(),
        }
    }
}

fn limited_message(secs: u64) -> String {
    format!("Too many failed sign-ins: try again in {secs} s")
}

/// Compares `given` with the token, unless `client` (or everyone) failed too often lately;
/// a wrong token is counted against the client.
pub(super) fn check_token(s: &WebState, client: Client, given: &str) -> Result<(), Denied> {
    let now = s.clock.now();
    let key = client.key();
    // Held across the compare: concurrent guesses cannot slip past the count.
    let mut f = s.failures.lock().expect("failures");
    f.prune(now);
    if let Some(secs) = f.blocked(key, now) {
        return Err(Denied::Limited(secs));
    }
    // No token configured (only named operators): nothing matches it.
    if !s.token.is_empty() && ct_eq(given, &s.token) {
        f.by_client.remove(&key);
        Ok(())
    } else {
        f.record(key, now);
        Err(Denied::Unauthorized)
    }
}

/// Checks operator `name`'s `password` (argon2) unless the client, the name or everyone failed
/// too often lately; a wrong password (or an unknown name, checked against a dummy hash so it
/// takes as long) is counted against the client, the name and in all. Slow (tens of
/// milliseconds): call it off the async workers.
pub(super) fn check_password(
    s: &WebState,
    client: Client,
    name: &str,
    password: &str,
) -> Result<Operator, Denied> {
    let now = s.clock.now();
    let key = client.key();
    let user = s.cfg.users.iter().find(|u| u.name == name);
    let mut f = s.failures.lock().expect("failures");
    f.prune(now);
    if let Some(secs) = f.blocked_as(key, user.map(|u| u.name.as_str()), now) {
        return Err(Denied::Limited(secs));
    }
    let hash = user.map_or_else(|| s.dummy_hash(), |u| u.hash.as_str());
    let right = super::operators::verify(password, hash);
    match user {
        Some(u) if right => {
            f.by_client.remove(&key);
            f.by_name.remove(&u.name);
            Ok(Operator {
                name: u.name.clone(),
                role: u.role,
            })
        }
        _ => {
            f.record(key, now);
            if let Some(u) = user {
                f.record_name(&u.name, now);
            }
            Err(Denied::Unauthorized)
        }
    }
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
    Session {
        csrf: String,
        number: u64,
        operator: Operator,
    },
}

impl Auth {
    /// Who this is: the session's operator, or the token's.
    pub(super) fn operator(&self) -> Operator {
        match self {
            Auth::Bearer => Operator::token(),
            Auth::Session { operator, .. } => operator.clone(),
        }
    }
    /// The session's CSRF token (none for the bearer token, which needs none).
    pub(super) fn csrf(&self) -> String {
        match self {
            Auth::Bearer => String::new(),
            Auth::Session { csrf, .. } => csrf.clone(),
        }
    }
}

/// Who did something, for the log: the client's address, how it signed in and the operator
/// (`127.0.0.1 session 3 (alice)`, `127.0.0.1 bearer token`).
pub(super) fn who(client: Client, auth: &Auth) -> String {
    match auth {
        Auth::Bearer => format!("{} bearer token", client.0),
        Auth::Session {
            number, operator, ..
        } => format!("{} session {number} ({})", client.0, operator.name),
    }
}

/// `Ok` when the operator may act (role operate); else the 403 to answer, naming the role.
pub(super) fn require_operate(auth: &Auth) -> Result<(), String> {
    let op = auth.operator();
    if op.role >= super::operators::Role::Operate {
        Ok(())
    } else {
        Err(format!(
            "operator {} has the role {}: only role operate may act on jobs or read the audit trail",
            op.name, op.role
        ))
    }
}

/// Sign-ins since the server started (numbers the sessions).
static SIGN_INS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Who is asking: the bearer token (checked by [`check_token`]) or a live session cookie, whose
/// idle time restarts. An ended session is removed.
pub(super) fn auth(s: &WebState, client: Client, headers: &HeaderMap) -> Result<Auth, Denied> {
    if let Some(t) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return check_token(s, client, t.trim()).map(|()| Auth::Bearer);
    }
    let sid = cookie(headers, "redial_session").ok_or(Denied::Unauthorized)?;
    let now = s.clock.now();
    let mut sessions = s.sessions.lock().expect("sessions");
    let session = sessions.get_mut(&sid).ok_or(Denied::Unauthorized)?;
    if session.ended(now) {
        sessions.remove(&sid);
        return Err(Denied::Unauthorized);
    }
    session.seen = session.seen.max(now);
    Ok(Auth::Session {
        csrf: session.csrf.clone(),
        number: session.number,
        operator: session.operator.clone(),
    })
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

/// The sign-in form: the token alone, or an operator's name with the password in the same
/// field.
#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    name: String,
    token: String,
}

fn login_answer(status: StatusCode, error: String) -> Response {
    (
        status,
        Html(LoginPage { error }.render().unwrap_or_default()),
    )
        .into_response()
}

pub(super) async fn login(State(s): St, client: Client, Form(f): Form<LoginForm>) -> Response {
    let name = f.name.trim().to_string();
    let checked = if name.is_empty() {
        check_token(&s, client, f.token.trim()).map(|()| Operator::token())
    } else {
        let s2 = s.clone();
        let password = f.token;
        let n = name.clone();
        blocking(move || check_password(&s2, client, &n, &password)).await
    };
    let (wrong, what) = if name.is_empty() {
        ("wrong token".to_string(), "tokens")
    } else {
        ("wrong name or password".to_string(), "passwords")
    };
    let operator = match checked {
        Ok(op) => op,
        Err(Denied::Unauthorized) => {
            tracing::warn!(target: "redial::audit", client = %client.0, action = "sign-in",
                name = %name, "audit: sign-in refused: {wrong}");
            super::audit::record(
                &s,
                &format!("{}", client.0),
                &name,
                "sign-in",
                "",
                "refused",
                &wrong,
            );
            return login_answer(StatusCode::UNAUTHORIZED, wrong);
        }
        Err(Denied::Limited(secs)) => {
            tracing::warn!(target: "redial::audit", client = %client.0, action = "sign-in",
                name = %name, "audit: sign-in refused: too many wrong {what}, {secs} s to wait");
            let mut r = login_answer(StatusCode::TOO_MANY_REQUESTS, limited_message(secs));
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            return r;
        }
    };
    let (sid, csrf) = match (random_hex(s.random), random_hex(s.random)) {
        (Ok(sid), Ok(csrf)) => (sid, csrf),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "no random numbers for a session id: sign-in refused");
            return login_answer(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the system's random number generator failed: no session can be started".into(),
            );
        }
    };
    let now = s.clock.now();
    let number = SIGN_INS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
    let mut sessions = s.sessions.lock().expect("sessions");
    sessions.retain(|_, x| !x.ended(now));
    sessions.insert(
        sid.clone(),
        Session {
            csrf,
            number,
            operator: operator.clone(),
            created: now,
            seen: now,
        },
    );
    drop(sessions);
    tracing::info!(target: "redial::audit",
        who = %format!("{} session {number} ({})", client.0, operator.name),
        action = "sign-in", role = %operator.role, "audit: signed in");
    super::audit::record(
        &s,
        &format!("{}", client.0),
        &operator.name,
        "sign-in",
        "",
        "ok",
        &format!("session {number}, role {}", operator.role),
    );
    (
        StatusCode::SEE_OTHER,
        [
            (
                header::SET_COOKIE,
                format!(
                    "redial_session={sid}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                    SESSION_LIFETIME.num_seconds()
                ),
            ),
            (header::LOCATION, "/failed".to_string()),
        ],
    )
        .into_response()
}

pub(super) async fn logout(
    State(s): St,
    client: Client,
    headers: HeaderMap,
    Form(f): Form<Vec<(String, String)>>,
) -> Response {
    if let (Ok(a @ Auth::Session { .. }), Some(sid)) = (
        auth(&s, client, &headers),
        cookie(&headers, "redial_session"),
    ) {
        let Auth::Session { csrf, .. } = &a else {
            unreachable!("matched a session")
        };
        if f.iter().any(|(k, v)| k == "csrf" && ct_eq(v, csrf)) {
            s.sessions.lock().expect("sessions").remove(&sid);
            tracing::info!(target: "redial::audit", who = %who(client, &a), action = "sign-out",
                "audit: signed out");
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::clock::ManualClock;

    const TOKEN: &str = "unit-test-token";

    fn state(clock: &ManualClock) -> WebState {
        let sys = SystemConfig::builtin();
        let base = std::path::Path::new("/nonexistent");
        WebState::new(
            Layout::new(base.join("spool"), 1),
            sys.clone(),
            OpsConfig::from_cfg(&sys.document, base).unwrap(),
            Arc::new(clock.clone()),
            Arc::new(Metrics::new(sys.outcomes.clone())),
            TOKEN.into(),
        )
        .unwrap()
    }

    fn clock() -> ManualClock {
        ManualClock::new("2026-03-02T10:00:00Z".parse().unwrap())
    }

    fn client(ip: &str) -> Client {
        Client(ip.parse().unwrap())
    }

    async fn sign_in(s: &Arc<WebState>, from: &str, token: &str) -> Response {
        login(
            State(s.clone()),
            client(from),
            Form(LoginForm {
                name: String::new(),
                token: token.into(),
            }),
        )
        .await
    }

    fn session_id(r: &Response) -> String {
        let set = r.headers()[header::SET_COOKIE].to_str().unwrap();
        let id = set.strip_prefix("redial_session=").unwrap();
        id.split(';').next().unwrap().to_string()
    }

    fn with_cookie(sid: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            format!("redial_session={sid}").parse().unwrap(),
        );
        h
    }

    #[test]
    fn ct_eq_compares_whole_strings() {
        assert!(ct_eq("secret-token", "secret-token"));
        assert!(ct_eq("", ""));
        for given in [
            "secret-tokeN",
            "secret-toke",
            "secret-token!",
            "",
            "Secret-token",
        ] {
            assert!(!ct_eq(given, "secret-token"), "{given:?}");
        }
        // A longer guess that starts with the secret, or pads it with NULs, is still wrong.
        assert!(!ct_eq("ab\0", "ab"));
        assert!(!ct_eq("ab", "ab\0"));
    }

    #[test]
    fn failed_token_checks_are_limited_per_client_and_in_all() {
        let clock = clock();
        let s = state(&clock);
        let a = client("192.0.2.1");
        for _ in 0..FAILURES_PER_CLIENT {
            assert_eq!(check_token(&s, a, "guess"), Err(Denied::Unauthorized));
        }
        // Blocked: even the right token is not compared.
        assert_eq!(check_token(&s, a, TOKEN), Err(Denied::Limited(60)));
        assert_eq!(check_token(&s, a, "guess"), Err(Denied::Limited(60)));
        // Another address is not.
        assert_eq!(check_token(&s, client("192.0.2.2"), TOKEN), Ok(()));
        clock.advance(TimeDelta::milliseconds(59_001));
        assert_eq!(check_token(&s, a, TOKEN), Err(Denied::Limited(1)));
        clock.advance(TimeDelta::milliseconds(999));
        assert_eq!(check_token(&s, a, TOKEN), Ok(()));

        // In all: four clients reach their own limits, 20 failures in the minute; a fifth
        // client is refused too, until the minute is over.
        for n in 1..=4 {
            let c = client(&format!("198.51.100.{n}"));
            for _ in 0..FAILURES_PER_CLIENT {
                assert_eq!(check_token(&s, c, "guess"), Err(Denied::Unauthorized));
            }
            clock.advance(TimeDelta::seconds(10));
        }
        assert_eq!(FAILURES_PER_CLIENT * 4, FAILURES_IN_ALL);
        let fifth = client("203.0.113.9");
        assert_eq!(check_token(&s, fifth, TOKEN), Err(Denied::Limited(20)));
        clock.advance(TimeDelta::seconds(20));
        assert_eq!(check_token(&s, fifth, TOKEN), Ok(()));
        // Only what the window still holds is kept.
        clock.advance(TimeDelta::minutes(1));
        assert_eq!(check_token(&s, fifth, TOKEN), Ok(()));
        let f = s.failures.lock().unwrap();
        assert!(f.all.is_empty() && f.by_client.is_empty(), "{f:?}");
    }

    #[test]
    fn a_right_token_clears_the_clients_failures() {
        let clock = clock();
        let s = state(&clock);
        let a = client("192.0.2.1");
        for _ in 0..FAILURES_PER_CLIENT - 1 {
            assert_eq!(check_token(&s, a, "typo"), Err(Denied::Unauthorized));
        }
        assert_eq!(check_token(&s, a, TOKEN), Ok(()));
        for _ in 0..FAILURES_PER_CLIENT - 1 {
            assert_eq!(check_token(&s, a, "typo"), Err(Denied::Unauthorized));
        }
        assert_eq!(check_token(&s, a, TOKEN), Ok(()));
    }

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let clock = clock();
        let s = state(&clock);
        for n in 0..FAILURES_PER_CLIENT {
            let c = client(&format!("2001:db8:1:2::{n:x}"));
            assert_eq!(check_token(&s, c, "guess"), Err(Denied::Unauthorized));
        }
        let same_64 = client("2001:db8:1:2:ffff:ffff:ffff:ffff");
        assert_eq!(check_token(&s, same_64, TOKEN), Err(Denied::Limited(60)));
        assert_eq!(check_token(&s, client("2001:db8:1:3::1"), TOKEN), Ok(()));
        // An IPv4 client seen through an IPv6 socket is the IPv4 address.
        let v4 = client("192.0.2.7");
        for _ in 0..FAILURES_PER_CLIENT {
            assert_eq!(check_token(&s, v4, "guess"), Err(Denied::Unauthorized));
        }
        let mapped = client("::ffff:192.0.2.7");
        assert_eq!(check_token(&s, mapped, TOKEN), Err(Denied::Limited(60)));
    }

    #[tokio::test]
    async fn sign_in_fails_when_the_random_generator_does() {
        let clock = clock();
        let mut st = state(&clock);
        st.random = |_| Err(getrandom::Error::UNSUPPORTED);
        let s = Arc::new(st);
        let r = sign_in(&s, "192.0.2.1", TOKEN).await;
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(r.headers().get(header::SET_COOKIE).is_none());
        assert!(s.sessions.lock().unwrap().is_empty());
        // No all-zero id was issued that a cookie could name.
        let zeros = "0".repeat(32);
        assert!(matches!(
            auth(&s, client("192.0.2.1"), &with_cookie(&zeros)),
            Err(Denied::Unauthorized)
        ));
    }

    #[tokio::test]
    async fn sign_in_ids_are_random() {
        let clock = clock();
        let s = Arc::new(state(&clock));
        let a = session_id(&sign_in(&s, "192.0.2.1", TOKEN).await);
        let b = session_id(&sign_in(&s, "192.0.2.1", TOKEN).await);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()), "{a}");
        assert_ne!(a, b);
        assert_ne!(a, "0".repeat(32));
        let sessions = s.sessions.lock().unwrap();
        assert_ne!(sessions[&a].csrf, sessions[&b].csrf);
        assert_ne!(sessions[&a].csrf, a);
    }

    #[tokio::test]
    async fn sessions_end_when_idle_or_old_and_are_removed() {
        let clock = clock();
        let s = Arc::new(state(&clock));
        let me = client("192.0.2.1");
        let r = sign_in(&s, "192.0.2.1", TOKEN).await;
        assert_eq!(r.status(), StatusCode::SEE_OTHER);
        let set = r.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(set.ends_with("; Max-Age=43200"), "{set}");
        let idle = session_id(&r);
        // Each request restarts the idle time; exactly 30 minutes without one ends it.
        clock.advance(SESSION_IDLE - TimeDelta::seconds(1));
        assert!(auth(&s, me, &with_cookie(&idle)).is_ok());
        clock.advance(SESSION_IDLE - TimeDelta::seconds(1));
        assert!(auth(&s, me, &with_cookie(&idle)).is_ok());
        clock.advance(SESSION_IDLE);
        assert_eq!(
            auth(&s, me, &with_cookie(&idle)).err(),
            Some(Denied::Unauthorized)
        );
        assert!(!s.sessions.lock().unwrap().contains_key(&idle));

        // However busy, 12 hours after the sign-in.
        let busy = session_id(&sign_in(&s, "192.0.2.1", TOKEN).await);
        let mut used = TimeDelta::zero();
        while used + TimeDelta::minutes(25) < SESSION_LIFETIME {
            clock.advance(TimeDelta::minutes(25));
            used += TimeDelta::minutes(25);
            assert!(auth(&s, me, &with_cookie(&busy)).is_ok(), "after {used}");
        }
        clock.advance(SESSION_LIFETIME - used);
        assert!(auth(&s, me, &with_cookie(&busy)).is_err());
        assert!(s.sessions.lock().unwrap().is_empty());

        // Sessions nobody comes back to are removed at the next sign-in.
        let abandoned = session_id(&sign_in(&s, "192.0.2.1", TOKEN).await);
        clock.advance(SESSION_IDLE);
        let fresh = session_id(&sign_in(&s, "192.0.2.1", TOKEN).await);
        let sessions = s.sessions.lock().unwrap();
        assert!(!sessions.contains_key(&abandoned));
        assert!(sessions.contains_key(&fresh));
        assert_eq!(sessions.len(), 1);
    }

    /// A state with operator alice (role view) whose password hashes cheaply (the check reads
    /// the parameters from the PHC string).
    fn state_with_alice(clock: &ManualClock) -> WebState {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let cheap = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(64, 1, 1, None).unwrap(),
        );
        let hash = cheap
            .hash_password(
                b"alice-password",
                &SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap(),
            )
            .unwrap()
            .to_string();
        let mut s = state(clock);
        s.cfg.users = vec![super::super::operators::WebUser {
            name: "alice".into(),
            role: super::super::operators::Role::View,
            hash,
        }];
        s.dummy.set(s.cfg.users[0].hash.clone()).unwrap();
        s
    }

    #[test]
    fn failed_passwords_are_limited_per_name_from_any_address() {
        let clock = clock();
        let s = state_with_alice(&clock);
        let ok = check_password(&s, client("192.0.2.1"), "alice", "alice-password").unwrap();
        assert_eq!(ok.role, super::super::operators::Role::View);
        // Five guesses from five addresses: none reaches its own limit, the name does.
        for n in 1..=FAILURES_PER_NAME {
            let c = client(&format!("198.51.100.{n}"));
            assert_eq!(
                check_password(&s, c, "alice", "guess"),
                Err(Denied::Unauthorized)
            );
        }
        let fresh = client("203.0.113.1");
        assert_eq!(
            check_password(&s, fresh, "alice", "alice-password"),
            Err(Denied::Limited(60))
        );
        // Other names and the token are not held back by alice's.
        assert_eq!(check_token(&s, fresh, TOKEN), Ok(()));
        assert_eq!(
            check_password(&s, fresh, "bob", "x"),
            Err(Denied::Unauthorized)
        );
        clock.advance(FAILURE_WINDOW);
        assert!(check_password(&s, fresh, "alice", "alice-password").is_ok());
        // Unknown names are not kept per name (no growth from guessed names).
        assert!(s.failures.lock().unwrap().by_name.is_empty());
    }

    #[tokio::test]
    async fn a_blocked_client_gets_429_with_retry_after_at_the_form() {
        let clock = clock();
        let s = Arc::new(state(&clock));
        for _ in 0..FAILURES_PER_CLIENT {
            let r = sign_in(&s, "192.0.2.1", "guess").await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
        let r = sign_in(&s, "192.0.2.1", TOKEN).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "60");
        assert!(r.headers().get(header::SET_COOKIE).is_none());
        assert!(s.sessions.lock().unwrap().is_empty());
    }
}
