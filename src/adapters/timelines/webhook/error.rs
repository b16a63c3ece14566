//! [`WebhookError`], and how a JSON syntax error becomes one, located by JSON pointer.

use serde_json::Value;

use crate::pointer_token;

/// Why a request is not an acceptable TimelinesAI webhook. Each variant that concerns the
/// body carries the JSON pointer of the offending value (`""` for the whole body).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The `token` query parameter is missing or wrong.
    #[error("the URL token is missing or wrong")]
    Unauthorized,
    /// The body is larger than allowed.
    #[error("the body has {size} bytes, more than the {limit} allowed")]
    BodyTooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body ends before the JSON does (an empty body included).
    #[error("{}: the JSON ends too early (line {line}, column {column})", show(.path))]
    Truncated {
        /// Where the JSON reader was when the body ended.
        path: String,
        /// The line where it ended, from 1.
        line: usize,
        /// The column where it ended.
        column: usize,
    },
    /// The body is not JSON.
    #[error("{}: not valid JSON (line {line}, column {column}): {message}", show(.path))]
    Malformed {
        /// Where the JSON reader was when it failed.
        path: String,
        /// The line of the error, from 1.
        line: usize,
        /// The column of the error, from 1.
        column: usize,
        /// What the JSON reader reported.
        message: String,
    },
    /// A value has the wrong JSON type.
    #[error("{}: expected {expected}, found {found}", show(.path))]
    WrongType {
        /// The value's JSON pointer, e.g. `/messages/1/sender`.
        path: String,
        /// What was expected there.
        expected: &'static str,
        /// The JSON type found (never the content).
        found: &'static str,
    },
    /// A field TimelinesAI always sends is missing.
    #[error("{}: missing", show(.path))]
    Missing {
        /// The missing field's JSON pointer, e.g. `/chat`.
        path: String,
    },
    /// A timestamp in none of the forms TimelinesAI uses.
    #[error("{}: not a timestamp: {value:?}", show(.path))]
    InvalidTimestamp {
        /// The value's JSON pointer.
        path: String,
        /// The value (at most 64 characters of it).
        value: String,
    },
    /// An `event_type` that is not a TimelinesAI event name (`family:action`).
    #[error("/event_type: unknown event type {event_type:?}")]
    UnknownEvent {
        /// The event type (at most 64 characters of it).
        event_type: String,
    },
    /// A JSON object that is neither a v1 payload (`message` or `messages`) nor a v2 event
    /// (`event_type`).
    #[error("not a TimelinesAI webhook: {reason}")]
    NotTimelines {
        /// What is missing.
        reason: String,
    },
}

fn show(path: &str) -> &str {
    if path.is_empty() {
        "the body"
    } else {
        path
    }
}

impl WebhookError {
    /// The JSON pointer of the offending value, for errors about the body's content
    /// (`Some("")` when it is the body as a whole).
    pub fn path(&self) -> Option<&str> {
        match self {
            WebhookError::Truncated { path, .. }
            | WebhookError::Malformed { path, .. }
            | WebhookError::WrongType { path, .. }
            | WebhookError::Missing { path }
            | WebhookError::InvalidTimestamp { path, .. } => Some(path),
            WebhookError::UnknownEvent { .. } => Some("/event_type"),
            WebhookError::NotTimelines { .. } => Some(""),
            WebhookError::Unauthorized | WebhookError::BodyTooLarge { .. } => None,
        }
    }

    /// The HTTP status for this error: 401 for the token, 413 for the size, 400 for a body
    /// that is not a TimelinesAI payload. [`TimelinesWebhook`](super::TimelinesWebhook)
    /// refuses only the first two; a body with the right token that does not parse is
    /// answered 200 and kept (the 400 is for hosts calling [`parse`](super::parse) themselves).
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookError::Unauthorized => 401,
            WebhookError::BodyTooLarge { .. } => 413,
            _ => 400,
        }
    }
}

/// Reads the body as JSON, locating syntax errors by the path the reader had reached.
pub(super) fn read_json(body: &[u8]) -> Result<Value, WebhookError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let value: Value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = pointer(e.path());
        syntax(path, e.inner())
    })?;
    // Trailing garbage after one complete JSON value is malformed too.
    de.end().map_err(|e| syntax(String::new(), &e))?;
    Ok(value)
}

fn pointer(path: &serde_path_to_error::Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        match segment {
            serde_path_to_error::Segment::Seq { index } => out.push_str(&format!("/{index}")),
            serde_path_to_error::Segment::Map { key } => {
                out.push('/');
                out.push_str(&pointer_token(key));
            }
            serde_path_to_error::Segment::Enum { variant } => {
                out.push('/');
                out.push_str(&pointer_token(variant));
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

fn syntax(path: String, e: &serde_json::Error) -> WebhookError {
    if e.is_eof() {
        WebhookError::Truncated {
            path,
            line: e.line(),
            column: e.column(),
        }
    } else {
        // serde_json's message ends with " at line L column C"; the fields carry those.
        let text = e.to_string();
        let message = text
            .rsplit_once(" at line ")
            .map_or(text.as_str(), |(head, _)| head)
            .to_owned();
        WebhookError::Malformed {
            path,
            line: e.line(),
            column: e.column(),
            message,
        }
    }
}
