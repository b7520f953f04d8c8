//! The e-mail parts of a job, read for an e-mail line: `$email_subject`, `$email_text`,
//! `$email_body` (a text file, confined to the document roots like every document),
//! `$email_from`, and the one-shot `$email_use_relay` a retry with prefix `I` wrote.
//!
//! Part of the daemon (see its module documentation). It reads the job's commands and checks the
//! body file's place; it never reads the body file itself (the line does, when it sends) and
//! never sends anything.

use super::*;
use crate::line::mail::Email;
use crate::spool::docroot::DocError;

/// The e-mail parts of `doc`, or why they are unusable (an outcome code and a reason).
pub(super) fn email_parts(settings: &Settings, doc: &Document) -> Result<Email, (u32, String)> {
    let mut email = email_parts_unchecked(doc);
    if let Some(f) = &email.from {
        if f.parse::<lettre::message::Mailbox>().is_err() {
            return Err((
                CODE_INVALID,
                format!(
                    "{}: $email_from {f:?} is not an e-mail address",
                    doc.origin()
                ),
            ));
        }
    }
    if let Some(c) = doc.last("email_body") {
        let name = c.joined();
        let at = format!("{}:{}: $email_body {name:?}", doc.origin(), c.line);
        if name.is_empty() {
            return Err((CODE_INVALID, format!("{at} needs a file name")));
        }
        match settings.documents.confine(&settings.paths.map(&name)) {
            Ok(p) => email.body_file = Some(p),
            Err(e) => {
                let code = match e {
                    DocError::Outside { .. } => CODE_INVALID,
                    DocError::Missing { .. } | DocError::NotAFile { .. } => CODE_MISSING_DOCUMENT,
                };
                return Err((code, format!("{at} {e}")));
            }
        }
    }
    Ok(email)
}

/// The e-mail parts of `doc` without a body file (and with the sender unchecked).
pub(super) fn email_parts_unchecked(doc: &Document) -> Email {
    let text_of = |name: &str| doc.last(name).map(|c| c.joined());
    Email {
        subject: text_of("email_subject"),
        text: doc.all("email_text").map(|c| c.joined()).collect(),
        body_file: None,
        from: text_of("email_from"),
        fallback_relay: doc.last("email_use_relay").is_some(),
    }
}
