//! The e-mail of one attempt: building the message an SMTP line sends, and turning the relay's
//! answer into an outcome code and a note for the attempt record.
//!
//! Owns the [`Email`] parts a call carries (subject, body text, body file, sender, relay
//! choice), the MIME message (a text part and the job's documents attached as they are: PDF,
//! TIFF or any other file, byte for byte), the `Message-ID` it is sent under, and the mapping of
//! SMTP replies and connection failures to outcome codes (2000 + reply code, 2001-2004 for
//! failures without a reply). It never opens a connection (that is [`super::smtp`]), never
//! touches the spool, and never decides a retry: the outcome table and the engine do.

use super::{Call, CallResult};
use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::Message;
use std::path::{Path, PathBuf};

/// Outcome: the destination is not an e-mail address (rejected before connecting).
pub const CODE_BAD_ADDRESS: u32 = 11;
/// Outcome: a document (attachment or body file) is missing.
pub const CODE_MISSING: u32 = 30;
/// Outcome: a document cannot be read.
pub const CODE_UNREADABLE: u32 = 31;
/// Outcome: the job's e-mail commands are invalid (a sender that is not an address).
pub const CODE_INVALID: u32 = 33;
/// Outcome: no answer from the relay in time.
pub const CODE_TIMEOUT: u32 = 2001;
/// Outcome: the relay could not be reached or dropped the connection.
pub const CODE_CONNECTION: u32 = 2002;
/// Outcome: TLS could not be negotiated with the relay.
pub const CODE_TLS: u32 = 2004;
/// Longest note kept in an attempt record (the relay's text is cut there).
pub const NOTE_MAX: usize = 200;

/// The e-mail parts of a call (the destination address is [`Call::number`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Email {
    /// `$email_subject`.
    pub subject: Option<String>,
    /// `$email_text` lines, in order.
    pub text: Vec<String>,
    /// `$email_body`: a text file appended to the body (resolved, inside a document root).
    pub body_file: Option<PathBuf>,
    /// `$email_from`: the sender for this job (else the line's `from=`).
    pub from: Option<String>,
    /// Send through the line's fallback relay (retry prefix `I`).
    pub fallback_relay: bool,
}

/// Why a message could not be built: an outcome code and a note.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{note}")]
pub struct BuildError {
    /// Outcome code.
    pub code: u32,
    /// What went wrong (for the log and the attempt record).
    pub note: String,
}

impl BuildError {
    fn new(code: u32, note: String) -> BuildError {
        BuildError { code, note }
    }
}

/// A built message and the `Message-ID` it carries.
#[derive(Debug)]
pub struct Built {
    /// The message.
    pub message: Message,
    /// Its `Message-ID`, with the angle brackets.
    pub message_id: String,
}

/// The `Message-ID` of an attempt: unique per job, attempt and instant, on the sender's domain.
pub fn message_id(job: &str, attempt: usize, unix_ms: i64, from: &Mailbox) -> String {
    let job: String = job
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("<redial.{job}.{attempt}.{unix_ms}@{}>", from.email.domain())
}

/// The MIME type of a document, from its first bytes (then its extension).
pub fn content_type(path: &Path, bytes: &[u8]) -> ContentType {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let name = if bytes.starts_with(b"%PDF") {
        "application/pdf"
    } else if bytes.starts_with(b"II*\0") || bytes.starts_with(b"MM\0*") {
        "image/tiff"
    } else if bytes.starts_with(b"%!PS") {
        "application/postscript"
    } else {
        match ext.as_deref() {
            Some("pdf") => "application/pdf",
            Some("tif" | "tiff") => "image/tiff",
            Some("txt") => "text/plain",
            _ => "application/octet-stream",
        }
    };
    ContentType::parse(name).expect("a valid MIME type")
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, BuildError> {
    std::fs::read(path).map_err(|e| {
        let code = if e.kind() == std::io::ErrorKind::NotFound {
            CODE_MISSING
        } else {
            CODE_UNREADABLE
        };
        BuildError::new(code, format!("{what} {}: {e}", path.display()))
    })
}

/// Builds the message of `call` from `default_from` (the line's `from=`), stamped `unix_ms`.
pub fn build(call: &Call, default_from: &str, unix_ms: i64) -> Result<Built, BuildError> {
    let email = call.email.clone().unwrap_or_default();
    let to: Mailbox = call.number.trim().parse().map_err(|e| {
        BuildError::new(
            CODE_BAD_ADDRESS,
            format!("{:?} is not an e-mail address: {e}", call.number),
        )
    })?;
    let from_text = email.from.as_deref().unwrap_or(default_from);
    let from: Mailbox = from_text.trim().parse().map_err(|e| {
        BuildError::new(
            CODE_INVALID,
            format!("sender {from_text:?} is not an e-mail address: {e}"),
        )
    })?;
    let mut body = email.text.join("\n");
    if let Some(p) = &email.body_file {
        let bytes = read(p, "body file")?;
        let text = String::from_utf8(bytes).map_err(|_| {
            BuildError::new(
                CODE_UNREADABLE,
                format!("body file {} is not UTF-8 text", p.display()),
            )
        })?;
        if !body.is_empty() {
            body.push('\n');
        }
        body.push_str(&text);
    }
    let mut names = Vec::new();
    let mut parts = MultiPart::mixed().singlepart(SinglePart::plain(body));
    for doc in &call.documents {
        let bytes = read(doc, "document")?;
        let name = doc
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "document".into());
        let kind = content_type(doc, &bytes);
        names.push(name.clone());
        parts = parts.singlepart(Attachment::new(name).body(bytes, kind));
    }
    let subject = email.subject.unwrap_or_else(|| {
        if names.is_empty() {
            "(no subject)".into()
        } else {
            names.join(", ")
        }
    });
    let id = message_id(&call.job, call.attempt, unix_ms, &from);
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(subject)
        .message_id(Some(id.clone()))
        .date_now()
        .multipart(parts)
        .map_err(|e| BuildError::new(CODE_INVALID, format!("message cannot be built: {e}")))?;
    Ok(Built {
        message,
        message_id: id,
    })
}

/// How a send failed, as far as the outcome cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The relay answered with a negative reply.
    Reply {
        /// The three-digit reply code.
        code: u16,
        /// The reply's text (with the enhanced status code first when the relay gives one).
        text: String,
    },
    /// No answer in time.
    Timeout(String),
    /// TLS could not be negotiated.
    Tls(String),
    /// The relay could not be reached, or the connection broke.
    Connection(String),
}

impl Failure {
    /// Sorts a lettre error into a failure.
    pub fn of(e: &lettre::transport::smtp::Error) -> Failure {
        let source = std::error::Error::source(e)
            .map(|s| s.to_string())
            .unwrap_or_else(|| e.to_string());
        if let Some(code) = e.status() {
            Failure::Reply {
                code: u16::from(code),
                text: source,
            }
        } else if e.is_timeout() {
            Failure::Timeout(format!("no answer in time: {}", innermost(e)))
        } else if e.is_tls() || is_tls_failure(e) {
            Failure::Tls(format!("TLS failed: {}", innermost(e)))
        } else {
            Failure::Connection(format!("connection failed: {}", innermost(e)))
        }
    }

    /// The outcome code and the note for the attempt record.
    pub fn outcome(&self) -> (u32, String) {
        match self {
            Failure::Reply { code, text } => {
                (2000 + u32::from(*code), note(&format!("{code} {text}")))
            }
            Failure::Timeout(t) => (CODE_TIMEOUT, note(t)),
            Failure::Tls(t) => (CODE_TLS, note(t)),
            Failure::Connection(t) => (CODE_CONNECTION, note(t)),
        }
    }
}

/// The innermost cause of an error, as text (lettre's own text repeats each layer's kind).
fn innermost(e: &lettre::transport::smtp::Error) -> String {
    let mut last: &(dyn std::error::Error + 'static) = e;
    while let Some(s) = last.source() {
        last = s;
    }
    last.to_string()
}

/// Whether a lettre error is a TLS failure it reports as a connection error: a rustls error
/// (an untrusted certificate, a failed handshake) somewhere in its sources, or a relay that does
/// not offer the STARTTLS that `tls=starttls` requires.
fn is_tls_failure(e: &lettre::transport::smtp::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<rustls::Error>()
            || s.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .is_some_and(|inner| inner.is::<rustls::Error>())
        {
            return true;
        }
        source = s.source();
    }
    e.is_client() && e.to_string().contains("STARTTLS")
}

/// The enhanced status code (RFC 3463, `5.1.1`) at the start of a reply's text, if any.
pub fn enhanced_status(text: &str) -> Option<&str> {
    let word = text.split_whitespace().next()?;
    let mut parts = word.split('.');
    let class = parts.next()?;
    let ok = matches!(class, "2" | "4" | "5")
        && parts.clone().count() == 2
        && parts.all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    ok.then_some(word)
}

/// `text` as one line for a record: control characters become spaces, runs of spaces one,
/// cut at [`NOTE_MAX`] characters.
pub fn note(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if c == ' ' && (out.is_empty() || out.ends_with(' ')) {
            continue;
        }
        out.push(c);
    }
    let out = out.trim_end();
    match out.char_indices().nth(NOTE_MAX) {
        Some((i, _)) => out[..i].to_string(),
        None => out.to_string(),
    }
}

/// The result of an attempt that failed before or during sending.
pub fn failed(code: u32, note: String) -> CallResult {
    CallResult {
        code,
        scheduled: 1,
        answerback: note,
        ..CallResult::default()
    }
}

/// The result of a message the relay accepted: the record keeps its `Message-ID`.
pub fn delivered(message_id: String, secs: u32) -> CallResult {
    CallResult {
        code: 0,
        pages: 1,
        scheduled: 1,
        call_secs: secs,
        connect_secs: secs,
        answerback: message_id,
        ..CallResult::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retry::outcome::{Channel, OutcomeTable};

    fn call(number: &str, documents: Vec<PathBuf>, email: Email) -> Call {
        Call {
            job: "J 1.FS".into(),
            number: number.into(),
            channel: Channel::Email,
            documents,
            message: None,
            attempt: 2,
            alternate: false,
            low_resolution: false,
            fax_speed: None,
            header: None,
            cover: None,
            email: Some(email),
            sms: None,
        }
    }

    #[test]
    fn replies_map_to_codes_and_classes() {
        let t = OutcomeTable::default();
        let class = |f: Failure| {
            let (code, note) = f.outcome();
            (
                code,
                t.classify(code, Some(Channel::Email)).class.letter(),
                note,
            )
        };
        let r = class(Failure::Reply {
            code: 550,
            text: "5.1.1 <nobody@test>: Recipient address rejected: no such user".into(),
        });
        assert_eq!((r.0, r.1), (2550, 'Z'));
        assert!(r.2.starts_with("550 5.1.1 <nobody@test>"), "{}", r.2);
        let r = class(Failure::Reply {
            code: 450,
            text: "4.2.0 <busy@test>: Recipient address rejected: try later".into(),
        });
        assert_eq!((r.0, r.1), (2450, 'B'));
        assert_eq!(class(Failure::Timeout("t".into())).1, 'A');
        assert_eq!(class(Failure::Connection("refused".into())).1, 'C');
        assert_eq!(class(Failure::Tls("bad cert".into())).1, 'C');
        // Every 5xx fails for good, listed or not; every 4xx is retried.
        for code in [500u16, 501, 530, 535, 552, 554, 556, 599] {
            let c = class(Failure::Reply {
                code,
                text: String::new(),
            });
            assert_eq!(c.1, 'Z', "{code}");
        }
        for code in [421u16, 451, 452, 454, 499] {
            let c = class(Failure::Reply {
                code,
                text: String::new(),
            });
            assert!(c.1 != 'Z' && c.1 != 'S', "{code}: {}", c.1);
        }
    }

    #[test]
    fn enhanced_status_codes_are_found() {
        assert_eq!(enhanced_status("5.1.1 <a@b>: rejected"), Some("5.1.1"));
        assert_eq!(enhanced_status("4.7.1 try later"), Some("4.7.1"));
        assert_eq!(enhanced_status("5.1 short"), None);
        assert_eq!(enhanced_status("Recipient rejected"), None);
        assert_eq!(enhanced_status(""), None);
    }

    #[test]
    fn notes_are_one_short_line() {
        assert_eq!(note("550 a\r\nb\tc  d"), "550 a b c d");
        assert_eq!(note(&"x".repeat(500)).len(), NOTE_MAX);
        assert_eq!(note("é".repeat(300).as_str()).chars().count(), NOTE_MAX);
    }

    #[test]
    fn message_carries_attachments_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let pdf = dir.path().join("po.pdf");
        let tif = dir.path().join("page.tif");
        let body = dir.path().join("body.txt");
        std::fs::write(&pdf, b"%PDF-1.4 not really").unwrap();
        std::fs::write(&tif, b"II*\0\x08\0\0\0").unwrap();
        std::fs::write(&body, "From the file.\n").unwrap();
        let email = Email {
            subject: Some("Order 4711".into()),
            text: vec!["Hello,".into(), "see attached.".into()],
            body_file: Some(body),
            from: None,
            fallback_relay: false,
        };
        let b = build(
            &call("a@example.test", vec![pdf, tif], email),
            "Fax Desk <fax@example.org>",
            1_700_000_000_000,
        )
        .unwrap();
        assert_eq!(b.message_id, "<redial.J-1-FS.2.1700000000000@example.org>");
        let text = String::from_utf8(b.message.formatted()).unwrap();
        assert!(text.contains("Subject: Order 4711"), "{text}");
        assert!(
            text.contains(&format!("Message-ID: {}", b.message_id)),
            "{text}"
        );
        assert!(text.contains("application/pdf"), "{text}");
        assert!(text.contains("image/tiff"), "{text}");
        assert!(text.contains("see attached."), "{text}");
        assert!(text.contains("From the file."), "{text}");
    }

    #[test]
    fn bad_input_is_an_outcome_not_a_panic() {
        let e = build(
            &call("not an address", vec![], Email::default()),
            "a@b.c",
            0,
        )
        .unwrap_err();
        assert_eq!(e.code, CODE_BAD_ADDRESS);
        let e = build(
            &call(
                "a@b.c",
                vec![],
                Email {
                    from: Some("@@".into()),
                    ..Email::default()
                },
            ),
            "a@b.c",
            0,
        )
        .unwrap_err();
        assert_eq!(e.code, CODE_INVALID);
        let e = build(
            &call(
                "a@b.c",
                vec![PathBuf::from("/nonexistent/x.pdf")],
                Email::default(),
            ),
            "a@b.c",
            0,
        )
        .unwrap_err();
        assert_eq!(e.code, CODE_MISSING);
    }
}
