//! Bodies a webhook source could not read: kept whole as records, never lost.
//!
//! A provider that gets an error answer sends the same body again, for days (Meta: up to
//! seven, to every app on the account) or switches the webhook off (TimelinesAI: after ten
//! failures in a row). When the body is authentic (its signature or token checks) but
//! cannot be read, a [`WebhookSource`](crate::WebhookSource) therefore answers `200` and
//! returns an [`Unreadable`] record of kind [`KIND_UNREADABLE`] holding the body, the
//! error and its JSON pointer.
//!
//! Every flow fails such a record, permanently, at [`Stage::Read`](crate::Stage::Read),
//! before its condition: it lands in the run's dead letters and the run history
//! ([`Flow::history`](crate::Flow::history)), where a person sees it, and from where it is
//! replayed once hubflow reads it (the source's own `reread`, e.g.
//! [`WhatsAppWebhook::reread`](crate::whatsapp::webhook::WhatsAppWebhook::reread)). Its key
//! is a hash of the body, so a resent body is a duplicate.
//!
//! ```
//! use hubflow::{Unreadable, KIND_UNREADABLE};
//!
//! let kept = Unreadable::new("whatsapp", &b"{\"object\": 1}"[..], "expected a string")
//!     .at("/object");
//! let record = kept.to_record();
//! assert_eq!(record.kind, KIND_UNREADABLE);
//! assert!(record.key.starts_with("hubflow:unreadable:whatsapp:"));
//! assert_eq!(record.get("pointer"), Some(&serde_json::json!("/object")));
//!
//! // Replaying reads the body back, byte for byte.
//! let back = Unreadable::from_record(&record).unwrap();
//! assert_eq!(back.body(), b"{\"object\": 1}");
//! assert_eq!(back, kept);
//! ```

use std::fmt;

use serde_json::{json, Value};

use crate::record::stable_hash;
use crate::Record;

/// Record kind of a body a webhook source could not read.
pub const KIND_UNREADABLE: &str = "hubflow.unreadable";

/// An authentic request body that could not be read, with why and where.
///
/// `Debug` and `Display` show the source, the error, the pointer and the body's size,
/// never the body (it may hold personal data).
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Unreadable {
    /// Which source received it (`whatsapp`, `timelines`).
    pub source: String,
    /// Why it could not be read (the first problem).
    pub error: String,
    /// The JSON pointer of the first problem, when it has one.
    pub pointer: Option<String>,
    /// Every further problem, when the body had more than one.
    pub more: Vec<String>,
    body: Vec<u8>,
}

impl Unreadable {
    /// The body `body` that `source` could not read, because of `error`.
    pub fn new(
        source: impl Into<String>,
        body: impl Into<Vec<u8>>,
        error: impl fmt::Display,
    ) -> Self {
        Unreadable {
            source: source.into(),
            error: error.to_string(),
            pointer: None,
            more: Vec::new(),
            body: body.into(),
        }
    }

    /// Where in the body the error is (a JSON pointer).
    #[must_use]
    pub fn at(mut self, pointer: impl Into<String>) -> Self {
        self.pointer = Some(pointer.into());
        self
    }

    /// Adds a further problem found in the same body.
    #[must_use]
    pub fn also(mut self, problem: impl fmt::Display) -> Self {
        self.more.push(problem.to_string());
        self
    }

    /// The body, exactly as received.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// `hubflow:unreadable:<source>:<hash of the body>`: the same body always gets the same
    /// key, so a resent one is a duplicate.
    pub fn key(&self) -> String {
        format!(
            "hubflow:unreadable:{}:{:016x}",
            self.source,
            stable_hash(&[&self.body])
        )
    }

    /// The record: kind [`KIND_UNREADABLE`], key [`key`](Self::key), data `source`,
    /// `error`, `pointer`, `more`, `bytes`, and the body as `body` (text, when it is UTF-8)
    /// or `body_hex` (otherwise; the other is `null`).
    pub fn to_record(&self) -> Record {
        let (text, hex) = match std::str::from_utf8(&self.body) {
            Ok(text) => (Value::String(text.to_owned()), Value::Null),
            Err(_) => (Value::Null, Value::String(to_hex(&self.body))),
        };
        let data = json!({
            "source": self.source,
            "error": self.error,
            "pointer": self.pointer,
            "more": self.more,
            "bytes": self.body.len(),
            "body": text,
            "body_hex": hex,
        });
        Record::new(self.key(), KIND_UNREADABLE, data)
    }

    /// Reads a record made by [`to_record`](Self::to_record) back, e.g. a dead letter to
    /// replay.
    pub fn from_record(record: &Record) -> Result<Self, NotUnreadable> {
        if record.kind != KIND_UNREADABLE {
            return Err(NotUnreadable(format!(
                "the record is of kind `{}`, not `{KIND_UNREADABLE}`",
                record.kind
            )));
        }
        let text = |key: &str| record.get(key).and_then(Value::as_str);
        let body = match (text("body"), text("body_hex")) {
            (Some(body), _) => body.as_bytes().to_vec(),
            (None, Some(hex)) => from_hex(hex)
                .ok_or_else(|| NotUnreadable("`body_hex` is not hexadecimal".to_owned()))?,
            (None, None) => {
                return Err(NotUnreadable(
                    "the record holds no body (`body` or `body_hex`)".to_owned(),
                ))
            }
        };
        let more = match record.get("more") {
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
            _ => Vec::new(),
        };
        Ok(Unreadable {
            source: text("source").unwrap_or_default().to_owned(),
            error: text("error").unwrap_or_default().to_owned(),
            pointer: text("pointer").map(str::to_owned),
            more,
            body,
        })
    }
}

impl fmt::Debug for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unreadable")
            .field("source", &self.source)
            .field("error", &self.error)
            .field("pointer", &self.pointer)
            .field("more", &self.more)
            .field("bytes", &self.body.len())
            .finish()
    }
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a {} body of {} bytes could not be read: {}",
            self.source,
            self.body.len(),
            self.error
        )?;
        if !self.more.is_empty() {
            write!(f, " (and {} more problem(s))", self.more.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for Unreadable {}

/// A record that is not an [`Unreadable`] one, or was changed so it no longer holds its
/// body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an unreadable-body record: {0}")]
pub struct NotUnreadable(String);

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    let value = |digit: u8| char::from(digit).to_digit(16);
    digits
        .chunks_exact(2)
        .map(|pair| u8::try_from(value(pair[0])? * 16 + value(pair[1])?).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_that_is_not_utf8_goes_round_through_hex() {
        let body = vec![0xff, 0x00, 0x7b, 0x80];
        let kept = Unreadable::new("whatsapp", body.clone(), "not JSON");
        let record = kept.to_record();
        assert_eq!(record.get("body"), Some(&Value::Null));
        assert_eq!(record.get("body_hex"), Some(&json!("ff007b80")));
        assert_eq!(Unreadable::from_record(&record).unwrap().body(), &body[..]);
    }

    #[test]
    fn the_key_depends_on_the_body_only() {
        let a = Unreadable::new("whatsapp", &b"{}"[..], "one reason");
        let b = Unreadable::new("whatsapp", &b"{}"[..], "another reason");
        let c = Unreadable::new("whatsapp", &b"{ }"[..], "one reason");
        assert_eq!(a.key(), b.key());
        assert_ne!(a.key(), c.key());
    }

    #[test]
    fn debug_and_display_never_show_the_body() {
        let kept = Unreadable::new("timelines", &b"{\"phone\": \"+5511999991234\"}"[..], "bad")
            .also("worse");
        for text in [format!("{kept:?}"), kept.to_string()] {
            assert!(!text.contains("5511999991234"), "{text}");
        }
        assert!(kept.to_string().contains("1 more problem"));
    }

    #[test]
    fn other_records_and_damaged_ones_are_refused() {
        let other = Record::new("k", "whatsapp.message", json!({}));
        assert!(Unreadable::from_record(&other).is_err());
        let damaged = Record::new(
            "k",
            KIND_UNREADABLE,
            json!({"source": "whatsapp", "body": null, "body_hex": "abc"}),
        );
        assert!(Unreadable::from_record(&damaged)
            .unwrap_err()
            .to_string()
            .contains("hexadecimal"));
        let empty = Record::new("k", KIND_UNREADABLE, json!({"source": "whatsapp"}));
        assert!(Unreadable::from_record(&empty).is_err());
    }
}
