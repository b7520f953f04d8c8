//! What the other end said, as an attempt record's last field keeps it, read by the record's
//! channel: a fax's remote station ID, an e-mail's `Message-ID` or the relay's refusal, an SMS's
//! message id, price and delivery-report status.
//!
//! Pure reading for the operator's views (`redial report`, the console, `advise`). It never
//! writes a record: the lines (`line::mail`, `line::sms_http`) and the daemon's SMS settling
//! write that field, in the forms read here.

use super::outcome::Channel;
use serde::Serialize;

/// An attempt's last field, read.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Remote {
    /// Fax, voice or poll: the remote station's ID (CSID) or other answerback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_id: Option<String>,
    /// E-mail the relay accepted: the message's `Message-ID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// E-mail the relay refused: its reply (`550 5.1.1 …`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smtp_reply: Option<String>,
    /// That reply's enhanced status code (RFC 3463), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enhanced_status: Option<String>,
    /// SMS: the message id redial gave it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_id: Option<String>,
    /// SMS: the price point it went at.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub price: Option<String>,
    /// SMS: the delivery report's status (`DELIVERED`, `NO_CREDIT`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_status: Option<String>,
    /// Anything else the field says (an e-mail failure before any reply, an SMS gateway error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Remote {
    /// Reads `answerback` as written for an attempt of type `kind` (the record's type field).
    pub fn read(kind: u8, answerback: &str) -> Remote {
        let text = answerback.trim();
        let mut r = Remote::default();
        if text.is_empty() {
            return r;
        }
        match Channel::from_type_code(kind) {
            Some(Channel::Email) => {
                if text.starts_with('<') && text.ends_with('>') && !text.contains(' ') {
                    r.message_id = Some(text.to_string());
                } else if smtp_code(text).is_some() {
                    r.smtp_reply = Some(text.to_string());
                    r.enhanced_status = text
                        .split_whitespace()
                        .nth(1)
                        .and_then(crate::line::mail::enhanced_status)
                        .map(str::to_string);
                } else {
                    r.note = Some(text.to_string());
                }
            }
            Some(Channel::Sms) => {
                let mut rest = text;
                loop {
                    let (word, after) = rest.split_once(' ').unwrap_or((rest, ""));
                    let slot = if let Some(v) = word.strip_prefix("id=") {
                        (&mut r.sms_id, v)
                    } else if let Some(v) = word.strip_prefix("price=") {
                        (&mut r.price, v)
                    } else if let Some(v) = word.strip_prefix("status=") {
                        (&mut r.report_status, v)
                    } else {
                        break;
                    };
                    *slot.0 = Some(slot.1.to_string());
                    rest = after.trim_start();
                    if rest.is_empty() {
                        break;
                    }
                }
                if !rest.is_empty() {
                    r.note = Some(rest.to_string());
                }
            }
            _ => r.remote_id = Some(text.to_string()),
        }
        r
    }

    /// One line for a person, or `None` when the field said nothing.
    pub fn describe(&self) -> Option<String> {
        let mut parts: Vec<String> = Vec::new();
        if let Some(id) = &self.remote_id {
            parts.push(format!("remote station: {id}"));
        }
        if let Some(id) = &self.message_id {
            parts.push(format!("Message-ID: {id}"));
        }
        if let Some(reply) = &self.smtp_reply {
            parts.push(format!("SMTP reply: {reply}"));
        }
        if let Some(id) = &self.sms_id {
            let mut s = format!("SMS {id}");
            if let Some(p) = &self.price {
                s.push_str(&format!(" at price {p}"));
            }
            if let Some(st) = &self.report_status {
                s.push_str(&format!(": delivery report {st}"));
            }
            parts.push(s);
        }
        if let Some(n) = &self.note {
            parts.push(n.clone());
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// The three-digit reply code at the start of an SMTP reply.
fn smtp_code(text: &str) -> Option<u16> {
    let code = text.get(..3)?;
    let next = text[3..].chars().next();
    (code.bytes().all(|b| b.is_ascii_digit()) && matches!(next, None | Some(' ') | Some('-')))
        .then(|| code.parse().ok())
        .flatten()
        .filter(|c| (200..600).contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_record_gives_its_message_id_or_the_relays_reply() {
        let r = Remote::read(3, "<redial.1-FS.1.17@example.org>");
        assert_eq!(
            r.message_id.as_deref(),
            Some("<redial.1-FS.1.17@example.org>")
        );
        let r = Remote::read(3, "550 5.1.1 <x@example.com>: Recipient address rejected");
        assert_eq!(
            r.smtp_reply.as_deref(),
            Some("550 5.1.1 <x@example.com>: Recipient address rejected")
        );
        assert_eq!(r.enhanced_status.as_deref(), Some("5.1.1"));
        let r = Remote::read(3, "421 Service not available");
        assert_eq!(r.enhanced_status, None);
        assert!(r.smtp_reply.is_some());
        let r = Remote::read(3, "TLS failed: invalid peer certificate: UnknownIssuer");
        assert_eq!(r.smtp_reply, None);
        assert_eq!(
            r.describe().as_deref(),
            Some("TLS failed: invalid peer certificate: UnknownIssuer")
        );
        // Not a reply: four digits, or a number outside SMTP's codes.
        assert_eq!(Remote::read(3, "4500 things").smtp_reply, None);
        assert_eq!(Remote::read(3, "999 no").smtp_reply, None);
    }

    #[test]
    fn an_sms_record_gives_its_id_price_status_and_any_error() {
        let r = Remote::read(4, "id=R-2.7.FS price=5.00 status=NO_CREDIT");
        assert_eq!(r.sms_id.as_deref(), Some("R-2.7.FS"));
        assert_eq!(r.price.as_deref(), Some("5.00"));
        assert_eq!(r.report_status.as_deref(), Some("NO_CREDIT"));
        assert_eq!(r.note, None);
        assert_eq!(
            r.describe().as_deref(),
            Some("SMS R-2.7.FS at price 5.00: delivery report NO_CREDIT")
        );
        let r = Remote::read(4, "id=1.t.FS price=10.00 connection failed: refused");
        assert_eq!(r.report_status, None);
        assert_eq!(r.note.as_deref(), Some("connection failed: refused"));
        let r = Remote::read(4, "id=1.t.FS status=DELIVERED");
        assert_eq!(r.price, None);
        assert_eq!(
            r.describe().as_deref(),
            Some("SMS 1.t.FS: delivery report DELIVERED")
        );
    }

    #[test]
    fn a_fax_record_gives_the_remote_station_and_an_empty_field_nothing() {
        let r = Remote::read(1, "+1 212 555 0100");
        assert_eq!(r.remote_id.as_deref(), Some("+1 212 555 0100"));
        assert_eq!(Remote::read(1, "  "), Remote::default());
        assert_eq!(Remote::read(4, "").describe(), None);
    }
}
