//! E-mail lines: `$line N smtp relay=HOST:PORT tls=starttls|tls|none …` hands each e-mail
//! attempt to an SMTP relay.
//!
//! Owns the line's settings (read from the CFG, with "did you mean" for mistyped keys), the
//! connection to the relay (lettre over tokio; TLS by rustls, never OpenSSL), one send per
//! attempt, and the result it reports: outcome 0 with the `Message-ID` when the relay accepts the
//! message, else the code [`super::mail`] maps the reply or failure to. It never resolves or
//! contacts the recipient's own mail servers (the relay does), never queues mail of its own (a
//! failed attempt is retried by the engine, by `$email_retry_delays`), never touches the spool,
//! and never takes fax, voice or SMS jobs.

use super::mail::{self, Failure};
use super::setting;
use super::{Call, CallResult, Completion, Line, LineDef, Placed};
use crate::retry::outcome::Channel;
use chrono::{DateTime, Utc};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The settings an smtp line knows.
pub const KEYS: &[&str] = &[
    "relay",
    "tls",
    "user",
    "password_file",
    "from",
    "fallback",
    "ca_file",
    "timeout",
    "group",
];

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain SMTP, then `STARTTLS` (required: a relay that does not offer it fails the attempt).
    StartTls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
    /// No encryption (a relay on the same host or a trusted network only).
    None,
}

/// A relay's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// Host name or address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl std::fmt::Display for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl Relay {
    fn parse(key: &str, v: &str) -> Result<Relay, String> {
        let bad = || format!("{key}={v}: expected HOST:PORT, e.g. {key}=mail.example.org:587");
        let (host, port) = v.rsplit_once(':').ok_or_else(bad)?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(bad)?;
        if host.is_empty() || host.bytes().any(|b| b <= b' ' || b == b'/' || b == b'@') {
            return Err(bad());
        }
        Ok(Relay {
            host: host.to_string(),
            port,
        })
    }
}

/// An smtp line's settings.
#[derive(Clone)]
pub struct SmtpSettings {
    /// The relay every message goes to.
    pub relay: Relay,
    /// The relay a retry with prefix `I` goes to (`fallback=`); same TLS and login.
    pub fallback: Option<Relay>,
    /// TLS mode.
    pub tls: TlsMode,
    /// Login name and password (read from `password_file=` when the CFG is read).
    pub login: Option<(String, String)>,
    /// The sender when the job gives no `$email_from`.
    pub from: String,
    /// Extra trusted root certificate (PEM) for the relay's TLS certificate.
    pub ca: Option<Vec<u8>>,
    /// Time allowed for each step of the SMTP conversation.
    pub timeout: Duration,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the password.
        f.debug_struct("SmtpSettings")
            .field("relay", &self.relay)
            .field("fallback", &self.fallback)
            .field("tls", &self.tls)
            .field("user", &self.login.as_ref().map(|l| &l.0))
            .field("from", &self.from)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A value out of `choices`, or an error naming the nearest.
fn choice<'a>(key: &str, v: &str, choices: &[&'a str]) -> Result<&'a str, String> {
    let lower = v.to_ascii_lowercase();
    if let Some(c) = choices.iter().find(|c| **c == lower) {
        return Ok(c);
    }
    let near = choices
        .iter()
        .map(|c| (*c, strsim::damerau_levenshtein(&lower, c)))
        .filter(|(_, d)| *d <= 2)
        .min_by_key(|(_, d)| *d);
    let hint = match near {
        Some((c, _)) => format!(" (did you mean {key}={c}?)"),
        None => String::new(),
    };
    let expected = match choices.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
        _ => choices.join(""),
    };
    Err(format!("{key}={v}: expected {expected}{hint}"))
}

impl SmtpSettings {
    /// Reads a `$line N smtp …` definition. A `password_file=` and a `ca_file=` are read now, so
    /// a missing or unreadable file stops the start (or the reload) with its name.
    pub fn from_def(def: &LineDef) -> Result<SmtpSettings, String> {
        let mut relay = None;
        let mut s = SmtpSettings {
            relay: Relay {
                host: String::new(),
                port: 0,
            },
            fallback: None,
            tls: TlsMode::StartTls,
            login: None,
            from: "redial@localhost".into(),
            ca: None,
            timeout: Duration::from_secs(60),
        };
        let mut tls_given = false;
        let mut user = None;
        let mut password_file: Option<PathBuf> = None;
        for (k, v) in &def.params {
            match k.as_str() {
                "group" => {}
                "relay" => relay = Some(Relay::parse(k, v)?),
                "fallback" => s.fallback = Some(Relay::parse(k, v)?),
                "tls" => {
                    tls_given = true;
                    s.tls = match choice(k, v, &["starttls", "tls", "none"])? {
                        "starttls" => TlsMode::StartTls,
                        "tls" => TlsMode::Tls,
                        _ => TlsMode::None,
                    }
                }
                "user" if v.is_empty() => return Err("user= needs a login name".into()),
                "user" => user = Some(v.clone()),
                "password_file" => password_file = Some(PathBuf::from(v)),
                "from" => {
                    v.parse::<lettre::message::Mailbox>()
                        .map_err(|e| format!("from={v}: not an e-mail address ({e})"))?;
                    s.from = v.clone();
                }
                "ca_file" => {
                    let pem = std::fs::read(v).map_err(|e| format!("ca_file={v}: {e}"))?;
                    Certificate::from_pem(&pem)
                        .map_err(|e| format!("ca_file={v}: not a PEM certificate ({e})"))?;
                    s.ca = Some(pem);
                }
                "timeout" => s.timeout = setting::timeout(v, 3600)?,
                other => return Err(setting::unknown("smtp", other, KEYS)),
            }
        }
        s.relay = relay.ok_or_else(|| {
            format!(
                "line {} (smtp) needs relay=HOST:PORT, e.g. relay=mail.example.org:587",
                def.number
            )
        })?;
        if !tls_given {
            return Err(format!(
                "line {} (smtp) needs tls=starttls, tls or none (say none to send in clear)",
                def.number
            ));
        }
        s.login = setting::login(user, password_file)?;
        if s.login.is_some() && s.tls == TlsMode::None {
            return Err(
                "user= with tls=none would send the password in clear: use tls=starttls or tls=tls"
                    .into(),
            );
        }
        Ok(s)
    }

    /// The transport to `relay`.
    fn transport(&self, relay: &Relay) -> Result<AsyncSmtpTransport<Tokio1Executor>, Failure> {
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(relay.host.clone())
            .port(relay.port)
            .timeout(Some(self.timeout));
        if self.tls != TlsMode::None {
            let mut p = TlsParameters::builder(relay.host.clone());
            if let Some(pem) = &self.ca {
                let cert = Certificate::from_pem(pem).map_err(|e| Failure::Tls(e.to_string()))?;
                p = p.add_root_certificate(cert);
            }
            let params = p.build_rustls().map_err(|e| Failure::Tls(e.to_string()))?;
            b = b.tls(match self.tls {
                TlsMode::StartTls => Tls::Required(params),
                _ => Tls::Wrapper(params),
            });
        }
        if let Some((u, p)) = &self.login {
            b = b.credentials(Credentials::new(u.clone(), p.clone()));
        }
        Ok(b.build())
    }
}

/// Sends the e-mail of one attempt and says how it went.
pub async fn send(settings: &SmtpSettings, call: &Call) -> CallResult {
    let started = Instant::now();
    let fallback = call.email.as_ref().is_some_and(|e| e.fallback_relay);
    let relay = match (&settings.fallback, fallback) {
        (Some(f), true) => f,
        (None, true) => {
            tracing::warn!(job = %call.job, "retry prefix I asks for the fallback relay, but the line has no fallback=: sent through relay=");
            &settings.relay
        }
        _ => &settings.relay,
    };
    let built = match mail::build(call, &settings.from, Utc::now().timestamp_millis()) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(job = %call.job, code = e.code, "e-mail not sent: {e}");
            return mail::failed(e.code, mail::note(&e.note));
        }
    };
    let result = match settings.transport(relay) {
        Ok(t) => t.send(built.message).await.map_err(|e| Failure::of(&e)),
        Err(f) => Err(f),
    };
    let secs = started.elapsed().as_secs() as u32;
    match result {
        Ok(reply) => {
            tracing::info!(job = %call.job, relay = %relay, to = %call.number, message_id = %built.message_id,
                reply = %reply.message().collect::<Vec<_>>().join(" "), "e-mail accepted by the relay");
            mail::delivered(built.message_id, secs)
        }
        Err(f) => {
            let (code, note) = f.outcome();
            tracing::warn!(job = %call.job, relay = %relay, to = %call.number, code, "e-mail not accepted: {note}");
            CallResult {
                call_secs: secs,
                ..mail::failed(code, note)
            }
        }
    }
}

/// An e-mail line.
pub struct SmtpLine {
    number: u32,
    settings: Arc<SmtpSettings>,
    cancel: Option<tokio::sync::watch::Sender<bool>>,
}

impl SmtpLine {
    /// A line from its settings.
    pub fn new(number: u32, settings: SmtpSettings) -> SmtpLine {
        SmtpLine {
            number,
            settings: Arc::new(settings),
            cancel: None,
        }
    }
}

impl Line for SmtpLine {
    fn number(&self) -> u32 {
        self.number
    }

    fn board(&self) -> char {
        'E'
    }

    fn takes(&self, channel: Channel) -> bool {
        channel == Channel::Email
    }

    fn cancel(&mut self) -> bool {
        self.cancel.as_ref().is_some_and(|c| c.send(true).is_ok())
    }

    fn place(&mut self, call: &Call, _now: DateTime<Utc>, done: &Completion) -> Placed {
        let (cancel_tx, mut cancel) = tokio::sync::watch::channel(false);
        self.cancel = Some(cancel_tx);
        let settings = self.settings.clone();
        super::spawn_attempt(
            self.number,
            done,
            call,
            Channel::Email,
            "smtp",
            |call| async move {
                tokio::select! {
                    r = send(&settings, &call) => r,
                    _ = cancel.wait_for(|c| *c) => {
                        tracing::info!(job = %call.job, "e-mail cancelled by an operator before the relay took it");
                        mail::failed(crate::daemon::CODE_CANCELLED, "cancelled by an operator".into())
                    }
                }
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Document;
    use crate::line::line_defs;

    fn def(line: &str) -> Result<SmtpSettings, String> {
        let d = Document::parse(line.as_bytes(), "t.cfg").unwrap();
        SmtpSettings::from_def(&line_defs(&d).unwrap()[0])
    }

    #[tokio::test]
    async fn a_relay_that_is_not_there_is_outcome_2002() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let s = def(&format!(
            "$line 5 smtp relay=127.0.0.1:{port} tls=none timeout=5\n"
        ))
        .unwrap();
        let call = Call {
            job: "1.FS".into(),
            number: "a@example.org".into(),
            channel: Channel::Email,
            documents: vec![],
            message: None,
            attempt: 1,
            alternate: false,
            low_resolution: false,
            fax_speed: None,
            header: None,
            cover: None,
            email: None,
            sms: None,
        };
        let r = send(&s, &call).await;
        assert_eq!(r.code, mail::CODE_CONNECTION, "{r:?}");
        assert!(r.answerback.starts_with("connection failed: "), "{r:?}");
        let r = send(
            &s,
            &Call {
                number: "no address".into(),
                ..call
            },
        )
        .await;
        assert_eq!(r.code, mail::CODE_BAD_ADDRESS, "nothing sent: {r:?}");
    }

    #[test]
    fn reads_the_settings() {
        let s = def("$line 5 smtp relay=127.0.0.1:2525 tls=none from=fax@example.org fallback=isp.example.net:587 timeout=20\n").unwrap();
        assert_eq!(s.relay.to_string(), "127.0.0.1:2525");
        assert_eq!(s.fallback.unwrap().to_string(), "isp.example.net:587");
        assert_eq!(s.tls, TlsMode::None);
        assert_eq!(s.from, "fax@example.org");
        assert_eq!(s.timeout, Duration::from_secs(20));
    }

    #[test]
    fn mistakes_get_a_clear_error_with_a_suggestion() {
        let e = def("$line 5 smtp relay=h:25 tls=none form=a@b.c\n").unwrap_err();
        assert!(e.contains("did you mean from=?"), "{e}");
        let e = def("$line 5 smtp relay=h:25 tls=startls\n").unwrap_err();
        assert_eq!(
            e,
            "tls=startls: expected starttls, tls or none (did you mean tls=starttls?)"
        );
        let e = def("$line 5 smtp relay=h tls=none\n").unwrap_err();
        assert!(e.contains("expected HOST:PORT"), "{e}");
        let e = def("$line 5 smtp relay=h:0 tls=none\n").unwrap_err();
        assert!(e.contains("expected HOST:PORT"), "{e}");
        let e = def("$line 5 smtp tls=none\n").unwrap_err();
        assert!(e.contains("needs relay="), "{e}");
        let e = def("$line 5 smtp relay=h:25\n").unwrap_err();
        assert!(e.contains("needs tls="), "{e}");
        let e = def("$line 5 smtp relay=h:25 tls=none from=nobody\n").unwrap_err();
        assert!(e.contains("not an e-mail address"), "{e}");
        let e = def("$line 5 smtp relay=h:25 tls=tls user=u\n").unwrap_err();
        assert!(e.contains("password_file"), "{e}");
        let e = def("$line 5 smtp relay=h:25 tls=tls user=u password_file=/nonexistent/pw\n")
            .unwrap_err();
        assert!(e.contains("/nonexistent/pw"), "{e}");
        let e = def("$line 5 smtp relay=h:25 tls=none xyzzy=1\n").unwrap_err();
        assert!(e.contains("known: relay="), "{e}");
    }

    #[test]
    fn a_password_never_goes_in_clear_nor_into_logs() {
        let dir = tempfile::tempdir().unwrap();
        let pw = dir.path().join("pw");
        std::fs::write(&pw, "s3cret\n").unwrap();
        let e = def(&format!(
            "$line 5 smtp relay=h:25 tls=none user=u password_file={}\n",
            pw.display()
        ))
        .unwrap_err();
        assert!(e.contains("in clear"), "{e}");
        let s = def(&format!(
            "$line 5 smtp relay=h:587 tls=starttls user=u password_file={}\n",
            pw.display()
        ))
        .unwrap();
        assert_eq!(s.login, Some(("u".into(), "s3cret".into())));
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
