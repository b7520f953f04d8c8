//! SMS gateway lines: `$line N sms_http url=http://HOST[:PORT]/PATH …` posts each SMS attempt to
//! a premium-SMS gateway as form parameters, and the gateway's delivery reports settle it later.
//!
//! Owns the line's settings (read from the CFG, with "did you mean" for mistyped keys), the
//! message id of an attempt (which names the job, so a report finds it), the statuses of
//! delivery reports and the outcome codes they map to, the report files `redial web` leaves in
//! `DLR/` for the daemon, and one HTTP POST per attempt. A gateway that takes the message
//! answers 2xx: the attempt reports outcome 410 (submitted), and the daemon holds the job until
//! its final report. It never resends a message by itself, never waits for a report (the daemon
//! does, in the spool), never touches a job file, and never takes fax, voice or e-mail jobs.

use super::setting;
use super::{Call, CallResult, Completion, Line, LineDef, Placed};
use crate::retry::outcome::Channel;
use crate::spool::Layout;
use chrono::{DateTime, Utc};
use http_body_util::BodyExt;
use rustls::pki_types::CertificateDer;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Outcome: the gateway took the message; the job waits for its final delivery report.
pub const CODE_SUBMITTED: u32 = 410;
/// Outcome: no final delivery report came before the deadline (never resent).
pub const CODE_REPORT_TIMEOUT: u32 = 411;
/// Outcome: the gateway refused the request (HTTP 4xx).
pub const CODE_REFUSED: u32 = 412;
/// Outcome: the gateway could not be reached or failed (connection, timeout, HTTP 5xx).
pub const CODE_UNREACHABLE: u32 = 413;
/// Outcome of a report status the seed's table does not list (UNKNOWN).
pub const CODE_UNKNOWN_STATUS: u32 = 407;

/// The settings an sms_http line knows.
pub const KEYS: &[&str] = &[
    "url",
    "user",
    "password_file",
    "sender",
    "timeout",
    "ca_file",
    "group",
];

/// The longest message id a report may carry.
pub const MAX_ID: usize = 128;

/// What one attempt sends: the text, the price point, the message id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    /// `$sms_text`.
    pub text: String,
    /// The price of this attempt (`$sms_price`'s point `$sms_price_step`), when the job has one.
    pub price: Option<String>,
    /// The message id (see [`message_id`]).
    pub id: String,
    /// Whether this attempt repeats an earlier one (sent with `reply=0`).
    pub retry: bool,
}

/// The id of attempt `attempt` (1-based, in the cycle) of job `job`: `N.JOB`, and for a retry
/// the retry marker in front, `R-N.JOB` (the seed's "the id prefixed with a retry marker").
pub fn message_id(job: &str, attempt: usize) -> String {
    if attempt > 1 {
        format!("R-{attempt}.{job}")
    } else {
        format!("{attempt}.{job}")
    }
}

/// The job a message id names, or `None` when the id is not one of ours (or is hostile: too
/// long, a path, odd characters).
pub fn job_of(id: &str) -> Option<String> {
    if id.is_empty()
        || id.len() > MAX_ID
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
    {
        return None;
    }
    let rest = id.strip_prefix("R-").unwrap_or(id);
    let (n, job) = rest.split_once('.')?;
    n.parse::<u32>().ok().filter(|n| *n > 0)?;
    crate::spool::is_job_name(job).then(|| job.to_string())
}

/// How many NO_CREDIT retries stepped the job's price down so far (`$sms_price_step`, which
/// the spooler counts up on each `P`-prefixed retry; 0 when absent or not a number).
pub fn price_step(doc: &crate::command::Document) -> usize {
    doc.last("sms_price_step")
        .and_then(|c| c.arg(0).and_then(|s| s.parse::<usize>().ok()))
        .unwrap_or(0)
}

/// The price point for step `step` of a `$sms_price` list ("10.00 5.00 4.50"): the last point
/// once the steps run past the list.
pub fn price_at(list: &str, step: usize) -> Option<String> {
    let points: Vec<&str> = list.split_whitespace().collect();
    points
        .get(step.min(points.len().saturating_sub(1)))
        .map(|s| s.to_string())
}

/// A delivery report's status and the outcome code it maps to; `None` for ACKNOWLEDGED (not
/// final: the job keeps waiting) and for statuses that are not words.
pub fn outcome_of(status: &str) -> Option<u32> {
    if status.starts_with("GSM:") {
        // A GSM modem's status report (see `gsm`).
        return super::gsm::outcome_of_word(status);
    }
    Some(match status.to_ascii_uppercase().as_str() {
        "DELIVERED" => 400,
        "NO_CREDIT" => 401,
        "FAILED" => 402,
        "VALIDITY_EXPIRED" => 403,
        "REJECTED" => 404,
        "INVALID_MSISDN" => 405,
        "ACKNOWLEDGED" => return None,
        "OPERATOR_ERROR" => 408,
        _ => CODE_UNKNOWN_STATUS,
    })
}

/// A delivery report as `redial web` leaves it for the daemon: `DLR/<id>.dlr` (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// The message id.
    pub id: String,
    /// The gateway's status word (upper case).
    pub status: String,
    /// When the report arrived.
    pub at: DateTime<Utc>,
}

/// `DLR`: final delivery reports waiting for the node that holds their job.
pub fn dlr_dir(layout: &Layout) -> PathBuf {
    layout.root.join("DLR")
}

/// `DLR/<id>.dlr`.
pub fn dlr_path(layout: &Layout, id: &str) -> PathBuf {
    dlr_dir(layout).join(format!("{id}.dlr"))
}

/// Writes a report atomically and durably (temp file, fsync, rename, fsync of the directory).
pub fn write_report(layout: &Layout, r: &DeliveryReport) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(layout.temp())?;
    std::fs::create_dir_all(dlr_dir(layout))?;
    let path = dlr_path(layout, &r.id);
    let bytes = serde_json::to_vec(r).map_err(std::io::Error::other)?;
    crate::spool::store::write_atomic(&layout.temp(), ".dlr.", &path, &bytes)?;
    Ok(path)
}

/// The report left for message `id`, when there is a readable one.
pub fn read_report(layout: &Layout, id: &str) -> Option<DeliveryReport> {
    let bytes = std::fs::read(dlr_path(layout, id)).ok()?;
    serde_json::from_slice::<DeliveryReport>(&bytes)
        .ok()
        .filter(|r| r.id == id)
}

/// Every readable report (others are skipped).
pub fn read_reports(layout: &Layout) -> Vec<DeliveryReport> {
    let Ok(rd) = std::fs::read_dir(dlr_dir(layout)) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let id = name.strip_suffix(".dlr")?;
            read_report(layout, id)
        })
        .collect()
}

/// Where the gateway is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `https://`: the request goes over TLS (rustls), the gateway's certificate checked
    /// against the web PKI's roots and the line's `ca_file=`.
    pub tls: bool,
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Path and query.
    pub path: String,
}

impl Endpoint {
    fn parse(v: &str) -> Result<Endpoint, String> {
        let bad = |why: &str| format!("url={v}: {why}, e.g. url=https://gateway.example.net/send");
        let lower = v.to_ascii_lowercase();
        let (tls, rest) = if lower.starts_with("https://") {
            (true, &v["https://".len()..])
        } else if lower.starts_with("http://") {
            (false, &v["http://".len()..])
        } else {
            return Err(bad("expected http[s]://HOST[:PORT]/PATH"));
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = p
                    .parse::<u16>()
                    .ok()
                    .filter(|p| *p > 0)
                    .ok_or_else(|| bad("the port is not a number from 1 to 65535"))?;
                (h, port)
            }
            _ => (authority, if tls { 443 } else { 80 }),
        };
        if host.is_empty()
            || host.contains('@')
            || path.bytes().any(|b| b <= b' ' || b == 0x7f)
            || host.bytes().any(|b| b <= b' ')
        {
            return Err(bad("expected http[s]://HOST[:PORT]/PATH"));
        }
        Ok(Endpoint {
            tls,
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}{}", self.host, self.port, self.path)
    }
}

/// An sms_http line's settings.
#[derive(Clone)]
pub struct SmsHttpSettings {
    /// The gateway.
    pub url: Endpoint,
    /// Login name and password (read from `password_file=` when the CFG is read), sent as the
    /// `user` and `password` form parameters.
    pub login: Option<(String, String)>,
    /// The sender (`from` parameter), when the gateway wants one.
    pub sender: Option<String>,
    /// Time allowed for the whole request.
    pub timeout: Duration,
    /// Certificates `ca_file=` adds to the web PKI's roots (a private CA, a self-signed
    /// gateway), read when the CFG is read.
    pub extra_roots: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for SmsHttpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("SmsHttpSettings")
            .field("url", &self.url)
            .field("user", &self.login.as_ref().map(|l| &l.0))
            .field("sender", &self.sender)
            .field("timeout", &self.timeout)
            .field("extra_roots", &self.extra_roots.len())
            .finish()
    }
}

impl SmsHttpSettings {
    /// Reads a `$line N sms_http …` definition (a `password_file=` is read now, so a missing
    /// file stops the start with its name).
    pub fn from_def(def: &LineDef) -> Result<SmsHttpSettings, String> {
        let mut url = None;
        let mut user = None;
        let mut password_file: Option<PathBuf> = None;
        let mut sender = None;
        let mut timeout = Duration::from_secs(30);
        let mut extra_roots = Vec::new();
        for (k, v) in &def.params {
            match k.as_str() {
                "group" => {}
                "url" => url = Some(Endpoint::parse(v)?),
                "ca_file" => extra_roots = read_roots(v)?,
                "user" if v.is_empty() => return Err("user= needs a login name".into()),
                "user" => user = Some(v.clone()),
                "password_file" => password_file = Some(PathBuf::from(v)),
                "sender" if v.is_empty() => return Err("sender= needs a name or number".into()),
                "sender" => sender = Some(v.clone()),
                "timeout" => timeout = setting::timeout(v, 600)?,
                other => return Err(setting::unknown("sms_http", other, KEYS)),
            }
        }
        let url = url.ok_or_else(|| {
            format!(
                "line {} (sms_http) needs url=http://HOST[:PORT]/PATH, e.g. url=http://gateway.example.net/send",
                def.number
            )
        })?;
        let login = setting::login(user, password_file)?;
        if !extra_roots.is_empty() && !url.tls {
            return Err(format!(
                "line {} (sms_http): ca_file= is for an https:// url; {url} is plain HTTP",
                def.number
            ));
        }
        Ok(SmsHttpSettings {
            url,
            login,
            sender,
            timeout,
            extra_roots,
        })
    }
}

/// The form parameters of one attempt: `to`, `text`, `id`, `reply` (1 first, 0 for a retry),
/// `price` when the job has a price list, `from` and `user`/`password` when the line has them.
pub fn form(settings: &SmsHttpSettings, number: &str, sms: &Sms) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("to", number.to_string()),
        ("text", sms.text.clone()),
        ("id", sms.id.clone()),
        ("reply", if sms.retry { "0" } else { "1" }.to_string()),
    ];
    if let Some(p) = &sms.price {
        f.push(("price", p.clone()));
    }
    if let Some(s) = &settings.sender {
        f.push(("from", s.clone()));
    }
    if let Some((u, p)) = &settings.login {
        f.push(("user", u.clone()));
        f.push(("password", p.clone()));
    }
    f
}

fn result(code: u32, secs: u32, note: String) -> CallResult {
    CallResult {
        code,
        call_secs: secs,
        answerback: note,
        ..CallResult::default()
    }
}

/// Posts one attempt's message and says how it went: outcome 410 with the message id when the
/// gateway answers 2xx, 412 for 4xx, 413 when it cannot be reached, times out or answers 5xx.
pub async fn send(settings: &SmsHttpSettings, call: &Call) -> CallResult {
    let started = Instant::now();
    let Some(sms) = &call.sms else {
        return result(
            crate::daemon::CODE_INVALID,
            0,
            "the job has no $sms_text".into(),
        );
    };
    if sms.text.trim().is_empty() {
        tracing::warn!(job = %call.job, "SMS not sent: the job has no $sms_text");
        return result(
            crate::daemon::CODE_INVALID,
            0,
            "the job has no $sms_text".into(),
        );
    }
    let body = match serde_urlencoded::to_string(form(settings, &call.number, sms)) {
        Ok(b) => b,
        Err(e) => return result(crate::daemon::CODE_INVALID, 0, format!("form: {e}")),
    };
    let outcome = tokio::time::timeout(settings.timeout, post(settings, body)).await;
    let secs = started.elapsed().as_secs() as u32;
    let note = |what: String| {
        let mut s = format!("id={} {what}", sms.id);
        if let Some(p) = &sms.price {
            s = format!("id={} price={p} {what}", sms.id);
        }
        s
    };
    match outcome {
        Ok(Ok(status)) if (200..300).contains(&status) => {
            tracing::info!(job = %call.job, id = %sms.id, price = ?sms.price, to = %call.number, "SMS taken by the gateway");
            result(CODE_SUBMITTED, secs, sms.id.clone())
        }
        Ok(Ok(status)) if (400..500).contains(&status) => {
            tracing::warn!(job = %call.job, id = %sms.id, status, "SMS refused by the gateway");
            result(CODE_REFUSED, secs, note(format!("HTTP {status}")))
        }
        Ok(Ok(status)) => {
            tracing::warn!(job = %call.job, id = %sms.id, status, "SMS gateway failed");
            result(CODE_UNREACHABLE, secs, note(format!("HTTP {status}")))
        }
        Ok(Err(e)) => {
            tracing::warn!(job = %call.job, id = %sms.id, error = %e, "SMS gateway unreachable");
            let what = if e.starts_with("TLS failed") {
                e
            } else {
                format!("connection failed: {e}")
            };
            result(CODE_UNREACHABLE, secs, note(what))
        }
        Err(_) => {
            tracing::warn!(job = %call.job, id = %sms.id, "SMS gateway did not answer in time");
            result(CODE_UNREACHABLE, secs, note("timeout".into()))
        }
    }
}

/// One `POST` of `body` to `url` (HTTP/1.1, one connection per request): the status code.
async fn post(settings: &SmsHttpSettings, body: String) -> Result<u16, String> {
    let url = &settings.url;
    let stream = tokio::net::TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| e.to_string())?;
    if url.tls {
        let stream = tls_connect(settings, stream).await?;
        exchange(url, hyper_util::rt::TokioIo::new(stream), body).await
    } else {
        exchange(url, hyper_util::rt::TokioIo::new(stream), body).await
    }
}

/// The TLS client of an `https://` gateway: rustls with ring, the web PKI's roots (webpki-roots)
/// and the line's `ca_file=` certificates; the name checked is the url's host.
async fn tls_connect(
    settings: &SmsHttpSettings,
    stream: tokio::net::TcpStream,
) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for c in &settings.extra_roots {
        roots
            .add(c.clone())
            .map_err(|e| format!("TLS failed: ca_file certificate: {e}"))?;
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS failed: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    let host = settings
        .url
        .host
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name = rustls::pki_types::ServerName::try_from(host.to_string())
        .map_err(|e| format!("TLS failed: {host:?} is not a server name ({e})"))?;
    tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
        .connect(name, stream)
        .await
        .map_err(|e| format!("TLS failed: {e}"))
}

/// `ca_file=`: the PEM certificates in the file (at least one).
fn read_roots(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let bytes = std::fs::read(path).map_err(|e| format!("ca_file={path}: {e}"))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("ca_file={path}: not a PEM certificate ({e})"))?;
    if certs.is_empty() {
        return Err(format!("ca_file={path}: no PEM certificate in the file"));
    }
    Ok(certs)
}

/// One request over an open connection (plain or TLS): the status code.
async fn exchange<T>(url: &Endpoint, io: T, body: String) -> Result<u16, String>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| e.to_string())?;
    let conn = tokio::spawn(conn);
    let default_port = if url.tls { 443 } else { 80 };
    let host = if url.port == default_port {
        url.host.clone()
    } else {
        format!("{}:{}", url.host, url.port)
    };
    let req = hyper::Request::post(url.path.as_str())
        .header(hyper::header::HOST, host)
        .header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = res.status().as_u16();
    // The answer's body is read (at most 64 KiB) so the connection ends cleanly; its text
    // decides nothing.
    let _ = http_body_util::Limited::new(res.into_body(), 64 * 1024)
        .collect()
        .await;
    conn.abort();
    Ok(status)
}

/// An SMS gateway line.
pub struct SmsHttpLine {
    number: u32,
    settings: Arc<SmsHttpSettings>,
}

impl SmsHttpLine {
    /// A line from its settings.
    pub fn new(number: u32, settings: SmsHttpSettings) -> SmsHttpLine {
        SmsHttpLine {
            number,
            settings: Arc::new(settings),
        }
    }
}

impl Line for SmsHttpLine {
    fn number(&self) -> u32 {
        self.number
    }

    fn board(&self) -> char {
        'G'
    }

    fn takes(&self, channel: Channel) -> bool {
        channel == Channel::Sms
    }

    fn place(&mut self, call: &Call, _now: DateTime<Utc>, done: &Completion) -> Placed {
        let settings = self.settings.clone();
        super::spawn_attempt(
            self.number,
            done,
            call,
            Channel::Sms,
            "sms_http",
            |call| async move { send(&settings, &call).await },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Document;
    use crate::line::line_defs;
    use std::path::Path;

    fn def(line: &str) -> Result<SmsHttpSettings, String> {
        let d = Document::parse(line.as_bytes(), "t.cfg").unwrap();
        SmsHttpSettings::from_def(&line_defs(&d).unwrap()[0])
    }

    #[test]
    fn reads_the_settings_and_names_mistakes() {
        let s =
            def("$line 7 sms_http url=http://127.0.0.1:8080/send sender=ACME timeout=5\n").unwrap();
        assert_eq!(s.url.to_string(), "http://127.0.0.1:8080/send");
        assert_eq!(s.sender.as_deref(), Some("ACME"));
        assert_eq!(s.timeout, Duration::from_secs(5));
        let e = def("$line 7 sms_http url=http://h/ sendr=x\n").unwrap_err();
        assert!(e.contains("did you mean sender=?"), "{e}");
        let e = def("$line 7 sms_http url=h/send\n").unwrap_err();
        assert!(e.contains("expected http[s]://"), "{e}");
        let s = def("$line 7 sms_http url=HTTPS://gw.example.net/send?x=1\n").unwrap();
        assert!(s.url.tls);
        assert_eq!(s.url.to_string(), "https://gw.example.net:443/send?x=1");
        let e =
            def("$line 7 sms_http url=http://h/send ca_file=/nonexistent/ca.pem\n").unwrap_err();
        assert!(e.contains("ca_file=/nonexistent/ca.pem"), "{e}");
        let e = def("$line 7 sms_http url=https://h/send ca_file=/etc/hostname\n").unwrap_err();
        assert!(e.contains("no PEM certificate"), "{e}");
        let e = def("$line 7 sms_http url=http://h:0/\n").unwrap_err();
        assert!(e.contains("port"), "{e}");
        let e = def("$line 7 sms_http sender=x\n").unwrap_err();
        assert!(e.contains("needs url="), "{e}");
        let e = def("$line 7 sms_http url=http://h/ user=u\n").unwrap_err();
        assert!(e.contains("password_file"), "{e}");
    }

    #[test]
    fn ids_name_their_job_and_hostile_ids_name_nothing() {
        assert_eq!(message_id("00000017.FS", 1), "1.00000017.FS");
        assert_eq!(message_id("00000017.FS", 3), "R-3.00000017.FS");
        assert_eq!(job_of("R-3.00000017.FS").as_deref(), Some("00000017.FS"));
        assert_eq!(job_of("1.00000017.FS").as_deref(), Some("00000017.FS"));
        for bad in [
            "",
            "1.../etc/passwd",
            "1./x.FS",
            "x.00000017.FS",
            "0.00000017.FS",
            "1.00000017",
            &"9".repeat(400),
        ] {
            assert_eq!(job_of(bad), None, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn an_empty_text_is_not_sent_and_a_gateway_that_is_not_there_is_413() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = def(&format!(
            "$line 7 sms_http url=http://127.0.0.1:{port}/send timeout=5\n"
        ))
        .unwrap();
        let priced = |text: &str| {
            let mut call = sms_call(text);
            if let Some(sms) = call.sms.as_mut() {
                sms.price = Some("10.00".into());
            }
            call
        };
        let r = send(&s, &priced(" ")).await;
        assert_eq!(r.code, crate::daemon::CODE_INVALID, "{r:?}");
        let call = priced("hi");
        let r = send(&s, &call).await;
        assert_eq!(r.code, CODE_UNREACHABLE, "{r:?}");
        assert!(
            r.answerback
                .starts_with("id=1.t.FS price=10.00 connection failed"),
            "{r:?}"
        );
    }

    /// A self-signed certificate for 127.0.0.1 made by `openssl` (as the Postfix test makes
    /// its relay's): `(dir, cert.pem, key.pem)`; `None` without the program (CI installs it).
    fn self_signed() -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
        self_signed_for("IP:127.0.0.1")
    }

    /// As [`self_signed`], for the subject alternative name `san` (`IP:…` or `DNS:…`).
    fn self_signed_for(san: &str) -> Option<(tempfile::TempDir, PathBuf, PathBuf)> {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=127.0.0.1"])
            .args(["-addext", &format!("subjectAltName={san}")])
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .args(["-addext", "extendedKeyUsage=serverAuth"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .stderr(std::process::Stdio::null())
            .status();
        match made {
            Ok(s) if s.success() => Some((dir, cert, key)),
            _ if std::env::var_os("CI").is_some() => panic!("openssl is needed (CI installs it)"),
            _ => {
                eprintln!("skipped: no openssl to make the test gateway's certificate");
                None
            }
        }
    }

    /// A one-request HTTPS gateway on 127.0.0.1 (tokio-rustls): answers 200 and hands back
    /// the request it read.
    async fn tls_gateway(
        cert: &Path,
        key: &Path,
    ) -> (u16, tokio::task::JoinHandle<Result<String, String>>) {
        use rustls::pki_types::pem::PemObject;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let key = rustls::pki_types::PrivateKeyDer::from_pem_file(key).unwrap();
        let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let task = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.map_err(|e| e.to_string())?;
            let mut tls = acceptor.accept(tcp).await.map_err(|e| e.to_string())?;
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                let n = tls.read(&mut buf).await.map_err(|e| e.to_string())?;
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().to_string())
                        })
                        .and_then(|v| v.parse::<usize>().ok())
                        .unwrap_or(0);
                    if body.len() >= len {
                        break;
                    }
                }
                if n == 0 {
                    return Err("closed early".into());
                }
            }
            tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await
                .map_err(|e| e.to_string())?;
            let _ = tls.shutdown().await;
            Ok(String::from_utf8_lossy(&got).to_string())
        });
        (port, task)
    }

    fn sms_call(text: &str) -> Call {
        Call {
            job: "t.FS".into(),
            number: "5550100".into(),
            channel: Channel::Sms,
            documents: vec![],
            message: None,
            attempt: 1,
            alternate: false,
            low_resolution: false,
            fax_speed: None,
            header: None,
            cover: None,
            email: None,
            sms: Some(Sms {
                text: text.into(),
                price: None,
                id: "1.t.FS".into(),
                retry: false,
            }),
        }
    }

    /// An sms_http line posting to `https://127.0.0.1:PORT/send`, trusting `ca` (`ca_file=`).
    fn https_line(port: u16, ca: &std::path::Path) -> SmsHttpSettings {
        def(&format!(
            "$line 7 sms_http url=https://127.0.0.1:{port}/send ca_file={} timeout=10\n",
            ca.display()
        ))
        .unwrap()
    }

    /// An https:// gateway: the message goes over TLS when the gateway's certificate is
    /// trusted (here by `ca_file=`); a certificate no root vouches for is refused before
    /// anything is sent, as a failure that is retried (413), saying it was TLS.
    #[tokio::test]
    async fn an_https_gateway_gets_the_message_only_over_a_trusted_certificate() {
        let Some((_dir, cert, key)) = self_signed() else {
            return;
        };
        let (port, gateway) = tls_gateway(&cert, &key).await;
        let r = send(&https_line(port, &cert), &sms_call("code 4711")).await;
        assert_eq!(r.code, CODE_SUBMITTED, "{r:?}");
        let request = gateway.await.unwrap().unwrap();
        assert!(request.starts_with("POST /send HTTP/1.1\r\n"), "{request}");
        assert!(
            request.contains(&format!("host: 127.0.0.1:{port}")),
            "{request}"
        );
        assert!(
            request.ends_with("to=5550100&text=code+4711&id=1.t.FS&reply=1"),
            "{request}"
        );

        // Without ca_file= only the web PKI's roots are trusted: the self-signed gateway is not.
        let (port, gateway) = tls_gateway(&cert, &key).await;
        let s = def(&format!(
            "$line 7 sms_http url=https://127.0.0.1:{port}/send timeout=10\n"
        ))
        .unwrap();
        let r = send(&s, &sms_call("code 4711")).await;
        assert_eq!(r.code, CODE_UNREACHABLE, "{r:?}");
        assert!(r.answerback.starts_with("id=1.t.FS TLS failed: "), "{r:?}");
        assert!(gateway.await.unwrap().is_err(), "nothing was sent");
    }

    /// A certificate the line trusts (its own `ca_file=`) but made out to another host than
    /// the url's is refused as well: trust in a certificate is not trust in any host.
    #[tokio::test]
    async fn a_trusted_certificate_for_another_host_is_refused() {
        let Some((_dir, cert, key)) = self_signed_for("DNS:gateway.example") else {
            return;
        };
        let (port, gateway) = tls_gateway(&cert, &key).await;
        let r = send(&https_line(port, &cert), &sms_call("code 4711")).await;
        assert_eq!(r.code, CODE_UNREACHABLE, "{r:?}");
        assert!(r.answerback.starts_with("id=1.t.FS TLS failed: "), "{r:?}");
        assert!(gateway.await.unwrap().is_err(), "nothing was sent");
    }

    #[test]
    fn prices_step_down_and_stay_on_the_last_point() {
        assert_eq!(price_at("10.00 5.00 4.50", 0).as_deref(), Some("10.00"));
        assert_eq!(price_at("10.00 5.00 4.50", 1).as_deref(), Some("5.00"));
        assert_eq!(price_at("10.00 5.00 4.50", 9).as_deref(), Some("4.50"));
        assert_eq!(price_at("", 0), None);
    }

    #[test]
    fn statuses_map_as_the_seed_table_says() {
        assert_eq!(outcome_of("DELIVERED"), Some(400));
        assert_eq!(outcome_of("no_credit"), Some(401));
        assert_eq!(outcome_of("REJECTED"), Some(404));
        assert_eq!(outcome_of("INVALID_MSISDN"), Some(405));
        assert_eq!(outcome_of("ACKNOWLEDGED"), None);
        assert_eq!(outcome_of("WHATEVER"), Some(407));
    }
}
