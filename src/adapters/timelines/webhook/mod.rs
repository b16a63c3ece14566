//! Receiving: TimelinesAI's outbound webhooks (v1 single messages and bundles, v2 events)
//! as [`Record`]s, and [`TimelinesWebhook`], the [`WebhookSource`](crate::WebhookSource)
//! that checks the URL token.
//!
//! [`parse`] is the whole parser; [`TimelinesWebhook`] adds the token check and the size
//! limit around it and chooses the HTTP answer. The record shapes are described in the
//! [module docs of `timelines`](super).

mod error;
mod keys;
mod model;
mod read;
mod source;
#[cfg(test)]
mod tests;
mod v1;
mod v2;

use serde_json::Value;

pub use self::error::WebhookError;
pub use self::source::{TimelinesWebhook, UNREADABLE_SOURCE};

use self::error::read_json;
use self::read::wrong_type;
use self::v1::v1;
use self::v2::v2;
use crate::Record;

/// Record kind of a WhatsApp message (received or sent).
pub const MESSAGE: &str = "timelines.message";
/// Record kind of a v2 chat event (created, assigned, unassigned).
pub const CHAT: &str = "timelines.chat";
/// Record kind of any other v2 event (account, call, reaction, WABA).
pub const EVENT: &str = "timelines.event";

/// The default largest body [`TimelinesWebhook`] accepts: 4 MiB. A day's bundle of a busy
/// chat stays well below it.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Parses a TimelinesAI webhook body into records: one per message (a v1 single message,
/// each message of a v1 bundle, a v2 message event), one per v2 chat or other event.
///
/// The payload's form is recognised by its shape (`message`, `messages`, `event_type`
/// together with the object the event type announces), never by a field alone. Timestamps
/// in TimelinesAI's forms (`2021-02-24T16:25:29+0000`, `2024-01-08 10:35:18 +0200`) and
/// RFC 3339 become UTC instants. Fields this parser does not know are kept.
///
/// ```
/// use hubflow::timelines::webhook::{parse, WebhookError};
///
/// let body = br#"{
///   "event_type": "message:received:new",
///   "chat": {"chat_id": 123456, "full_name": "John Doe", "phone": "+15551234567", "is_group": false},
///   "whatsapp_account": {"full_name": "Agent", "email": "agent@example.com", "phone": "+15559876543"},
///   "message": {"text": "Pump 3 is leaking", "direction": "received",
///               "timestamp": "2024-01-15 10:30:00 +0200",
///               "message_uid": "a5bbb005-37f2-402c-96fa-e479a2e09b02",
///               "sender": {"full_name": "John Doe", "phone": "+15551234567"}}
/// }"#;
/// let records = parse(body).unwrap();
/// assert_eq!(records[0].kind, "timelines.message");
/// assert_eq!(records[0].key, "a5bbb005-37f2-402c-96fa-e479a2e09b02");
/// assert_eq!(records[0].data["chat"]["id"], "123456");
/// assert_eq!(records[0].data["timestamp"], "2024-01-15T08:30:00Z");
///
/// let error = parse(br#"{"event_type": "message:new", "chat": {}, "message": {"text": 5}}"#).unwrap_err();
/// assert_eq!(error.path(), Some("/message/text"));
/// assert!(matches!(parse(b"{\"message\": {").unwrap_err(), WebhookError::Truncated { .. }));
/// ```
pub fn parse(body: &[u8]) -> Result<Vec<Record>, WebhookError> {
    let value = read_json(body)?;
    let Value::Object(top) = &value else {
        return Err(wrong_type("", "a JSON object", &value));
    };
    match top.get("event_type") {
        None | Some(Value::Null) => v1(top),
        Some(Value::String(event_type)) => v2(top, event_type, &value),
        Some(other) => Err(wrong_type("/event_type", "a string", other)),
    }
}
