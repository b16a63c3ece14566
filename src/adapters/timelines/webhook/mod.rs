//! Receiving: TimelinesAI's outbound webhooks (v1 single messages and bundles, v2 events)
//! as [`Record`]s, and [`TimelinesWebhook`], the [`WebhookSource`] that checks the URL token.
//!
//! [`parse`] is the whole parser; [`TimelinesWebhook`] adds the token check and the size
//! limit around it and chooses the HTTP answer. The record shapes are described in the
//! [module docs of `timelines`](super).

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};

use crate::condition::parse_instant;
use crate::{pointer_token, InboundRequest, Record, WebhookReply, WebhookSource};

/// Record kind of a WhatsApp message (received or sent).
pub const MESSAGE: &str = "timelines.message";
/// Record kind of a v2 chat event (created, assigned, unassigned).
pub const CHAT: &str = "timelines.chat";
/// Record kind of any other v2 event (account, call, reaction, WABA).
pub const EVENT: &str = "timelines.event";

/// The default largest body [`TimelinesWebhook`] accepts: 4 MiB. A day's bundle of a busy
/// chat stays well below it.
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

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

    /// The HTTP status [`TimelinesWebhook`] answers this error with: 401 for the token,
    /// 413 for the size, 400 for a body that is not a TimelinesAI payload.
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookError::Unauthorized => 401,
            WebhookError::BodyTooLarge { .. } => 413,
            _ => 400,
        }
    }
}

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

/// Reads the body as JSON, locating syntax errors by the path the reader had reached.
fn read_json(body: &[u8]) -> Result<Value, WebhookError> {
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

use crate::record::json_kind as type_name;

fn wrong_type(path: &str, expected: &'static str, found: &Value) -> WebhookError {
    WebhookError::WrongType {
        path: path.to_owned(),
        expected,
        found: type_name(found),
    }
}

fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

fn child(path: &str, key: &str) -> String {
    format!("{path}/{}", pointer_token(key))
}

// --- typed readers: `null` counts as absent everywhere ------------------------------------

type Obj = Map<String, Value>;

fn present<'v>(map: &'v Obj, key: &str) -> Option<&'v Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// The first present key of `keys`, with its path: alternative spellings of one field.
fn first_of<'v>(map: &'v Obj, keys: &[&str], path: &str) -> Option<(&'v Value, String)> {
    keys.iter()
        .find_map(|key| present(map, key).map(|v| (v, child(path, key))))
}

fn object<'v>(map: &'v Obj, key: &str, path: &str) -> Result<Option<&'v Obj>, WebhookError> {
    match present(map, key) {
        None => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(other) => Err(wrong_type(&child(path, key), "an object", other)),
    }
}

fn required_object<'v>(map: &'v Obj, key: &str, path: &str) -> Result<&'v Obj, WebhookError> {
    object(map, key, path)?.ok_or_else(|| WebhookError::Missing {
        path: child(path, key),
    })
}

/// A text field; `keys` are its accepted spellings.
fn text(map: &Obj, keys: &[&str], path: &str) -> Result<Option<String>, WebhookError> {
    match first_of(map, keys, path) {
        None => Ok(None),
        Some((Value::String(s), _)) => Ok(Some(s.clone())),
        Some((other, at)) => Err(wrong_type(&at, "a string", other)),
    }
}

/// An identifier or phone number: a string, or a number taken as its decimal text (v1 sends
/// `chat_id` as a string, v2 as an integer).
fn ident(map: &Obj, keys: &[&str], path: &str) -> Result<Option<String>, WebhookError> {
    match first_of(map, keys, path) {
        None => Ok(None),
        Some((Value::String(s), _)) => Ok(Some(s.trim().to_owned())),
        Some((Value::Number(n), _)) => Ok(Some(n.to_string())),
        Some((other, at)) => Err(wrong_type(&at, "a string or a number", other)),
    }
}

/// A flag: a boolean, or the strings `"true"` / `"false"`.
fn flag(map: &Obj, key: &str, path: &str) -> Result<Option<bool>, WebhookError> {
    match present(map, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(wrong_type(&child(path, key), "a boolean", other)),
    }
}

/// A size in bytes: a non-negative integer, or a string holding one.
fn size(map: &Obj, key: &str, path: &str) -> Result<Option<u64>, WebhookError> {
    match present(map, key) {
        None => Ok(None),
        Some(value) => {
            let parsed = match value {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            parsed
                .map(Some)
                .ok_or_else(|| wrong_type(&child(path, key), "a whole number of bytes", value))
        }
    }
}

/// A timestamp, as its UTC instant.
fn instant(
    map: &Obj,
    key: &str,
    path: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, WebhookError> {
    match present(map, key) {
        None => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => {
            parse_instant(s)
                .map(Some)
                .ok_or_else(|| WebhookError::InvalidTimestamp {
                    path: child(path, key),
                    value: clip(s),
                })
        }
        Some(other) => Err(wrong_type(&child(path, key), "a timestamp string", other)),
    }
}

fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

fn opt<T: Into<Value>>(value: Option<T>) -> Value {
    value.map_or(Value::Null, Into::into)
}

/// `base` (the object as TimelinesAI sent it, so no field is lost) with the normalised
/// fields laid over it.
fn overlay(base: Option<&Obj>, fields: Vec<(&str, Value)>) -> Value {
    let mut out = base.cloned().unwrap_or_default();
    for (key, value) in fields {
        out.insert(key.to_owned(), value);
    }
    Value::Object(out)
}

// --- the parts every payload shares ---------------------------------------------------------

fn chat(top: &Obj, required: bool) -> Result<(Value, Option<String>), WebhookError> {
    let raw = if required {
        Some(required_object(top, "chat", "")?)
    } else {
        object(top, "chat", "")?
    };
    let Some(raw) = raw else {
        return Ok((Value::Null, None));
    };
    let at = "/chat";
    let id = ident(raw, &["chat_id", "id"], at)?;
    let value = overlay(
        Some(raw),
        vec![
            ("id", opt(id.clone())),
            ("name", opt(text(raw, &["full_name", "name"], at)?)),
            ("phone", opt(ident(raw, &["phone"], at)?)),
            ("url", opt(text(raw, &["chat_url", "url"], at)?)),
            ("is_group", opt(flag(raw, "is_group", at)?)),
            ("is_new_chat", opt(flag(raw, "is_new_chat", at)?)),
            (
                "responsible_name",
                opt(text(raw, &["responsible_name"], at)?),
            ),
            (
                "responsible_email",
                opt(text(raw, &["responsible_email"], at)?),
            ),
        ],
    );
    Ok((value, id))
}

fn account(top: &Obj) -> Result<Value, WebhookError> {
    let Some(raw) = object(top, "whatsapp_account", "")? else {
        return Ok(Value::Null);
    };
    let at = "/whatsapp_account";
    Ok(overlay(
        Some(raw),
        vec![
            ("phone", opt(ident(raw, &["phone"], at)?)),
            (
                "name",
                opt(text(raw, &["full_name", "name", "account_name"], at)?),
            ),
            ("email", opt(text(raw, &["email"], at)?)),
        ],
    ))
}

fn party(message: &Obj, key: &str, path: &str) -> Result<Value, WebhookError> {
    let Some(raw) = object(message, key, path)? else {
        return Ok(Value::Null);
    };
    let at = child(path, key);
    Ok(overlay(
        Some(raw),
        vec![
            ("name", opt(text(raw, &["full_name", "name"], &at)?)),
            ("phone", opt(ident(raw, &["phone"], &at)?)),
        ],
    ))
}

fn attachment(raw: &Obj, path: &str) -> Result<Value, WebhookError> {
    Ok(overlay(
        Some(raw),
        vec![
            (
                "url",
                opt(text(
                    raw,
                    &["temporary_download_url", "download_url", "url"],
                    path,
                )?),
            ),
            (
                "filename",
                opt(text(raw, &["filename", "file_name", "name"], path)?),
            ),
            ("size", opt(size(raw, "size", path)?)),
            (
                "mime_type",
                opt(text(raw, &["mimetype", "mime_type", "content_type"], path)?),
            ),
        ],
    ))
}

/// v1 sends one `attachment` object, v2 an `attachments` array; both become one array.
fn attachments(message: &Obj, path: &str) -> Result<Vec<Value>, WebhookError> {
    let mut out = Vec::new();
    if let Some(single) = object(message, "attachment", path)? {
        out.push(attachment(single, &child(path, "attachment"))?);
    }
    match present(message, "attachments") {
        None => {}
        Some(Value::Array(items)) => {
            let at = child(path, "attachments");
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{at}/{i}");
                match item {
                    Value::Object(raw) => out.push(attachment(raw, &item_path)?),
                    other => return Err(wrong_type(&item_path, "an object", other)),
                }
            }
        }
        Some(other) => {
            return Err(wrong_type(&child(path, "attachments"), "an array", other));
        }
    }
    Ok(out)
}

/// `received` / `sent`, also from the spellings TimelinesAI uses in event names
/// (`incoming` / `outgoing`); anything else is kept as sent.
fn direction(word: &str) -> String {
    match word.trim().to_ascii_lowercase().as_str() {
        "received" | "incoming" | "inbound" | "in" => "received".to_owned(),
        "sent" | "outgoing" | "outbound" | "out" => "sent".to_owned(),
        _ => word.to_owned(),
    }
}

/// What a whole payload contributes to each of its message records.
struct Shared {
    format: &'static str,
    event_type: Option<String>,
    /// The direction the event type names (`message:received:new`), used only when the
    /// message itself has none.
    event_direction: Option<&'static str>,
    chat: Value,
    chat_id: Option<String>,
    account: Value,
    bundle: Option<Obj>,
    extra: Obj,
}

fn message_record(
    cx: &Shared,
    raw: &Obj,
    path: &str,
    index: usize,
) -> Result<Record, WebhookError> {
    let message_uid = ident(raw, &["message_uid", "uid"], path)?.filter(|s| !s.is_empty());
    let timestamp = instant(raw, "timestamp", path)?;
    let direction = match text(raw, &["direction"], path)? {
        Some(word) => Some(direction(&word)),
        None => cx.event_direction.map(str::to_owned),
    };
    let text_value = text(raw, &["text", "body"], path)?.unwrap_or_default();
    let mut data = Map::new();
    data.insert("format".into(), cx.format.into());
    data.insert("event_type".into(), opt(cx.event_type.clone()));
    data.insert("message_uid".into(), opt(message_uid.clone()));
    data.insert("message_id".into(), opt(ident(raw, &["message_id"], path)?));
    data.insert("direction".into(), opt(direction.clone()));
    data.insert("text".into(), Value::String(text_value.clone()));
    data.insert("timestamp".into(), opt(timestamp.map(rfc3339)));
    data.insert(
        "received_timestamp".into(),
        opt(instant(raw, "received_timestamp", path)?.map(rfc3339)),
    );
    data.insert("origin".into(), opt(text(raw, &["origin"], path)?));
    data.insert(
        "reply_to_uid".into(),
        opt(ident(raw, &["reply_to_uid", "reply_to"], path)?),
    );
    data.insert("chat".into(), cx.chat.clone());
    data.insert("sender".into(), party(raw, "sender", path)?);
    data.insert("recipient".into(), party(raw, "recipient", path)?);
    data.insert("whatsapp_account".into(), cx.account.clone());
    data.insert("attachments".into(), Value::Array(attachments(raw, path)?));
    data.insert(
        "reactions".into(),
        match present(raw, "reactions") {
            None => Value::Null,
            Some(v @ Value::Object(_)) => v.clone(),
            Some(other) => return Err(wrong_type(&child(path, "reactions"), "an object", other)),
        },
    );
    data.insert(
        "bundle".into(),
        cx.bundle.as_ref().map_or(Value::Null, |bundle| {
            let mut bundle = bundle.clone();
            bundle.insert("index".into(), index.into());
            Value::Object(bundle)
        }),
    );
    data.insert("raw".into(), Value::Object(raw.clone()));
    if !cx.extra.is_empty() {
        data.insert("extra".into(), Value::Object(cx.extra.clone()));
    }
    let key = match message_uid {
        Some(uid) => uid,
        None => message_key(
            cx.chat_id.as_deref().unwrap_or(""),
            &timestamp.map(rfc3339).unwrap_or_default(),
            direction.as_deref().unwrap_or(""),
            &text_value,
        ),
    };
    let mut record = Record::new(key, MESSAGE, Value::Object(data));
    record.occurred_at = timestamp;
    Ok(record)
}

/// The key of a message without a `message_uid`: a hash of what identifies it, with the
/// timestamp in its normalised form so the same message keys the same whatever format it
/// came in (a v1 single call and the hourly bundle that repeats it agree).
fn message_key(chat_id: &str, timestamp: &str, direction: &str, text: &str) -> String {
    let hash = fnv1a64(&[
        chat_id.as_bytes(),
        timestamp.as_bytes(),
        direction.as_bytes(),
        text.as_bytes(),
    ]);
    format!("timelines:msg:{hash:016x}")
}

use crate::record::stable_hash as fnv1a64;

/// JSON with object keys sorted and no spaces: the same value gives the same bytes whatever
/// order its keys arrived in or how the map type of this build orders them.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(inner) = map.get(key) {
                    canonical(inner, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

fn event_key(prefix: &str, event_type: &str, payload: &Value) -> String {
    let mut text = String::new();
    canonical(payload, &mut text);
    let hash = fnv1a64(&[event_type.as_bytes(), text.as_bytes()]);
    format!("timelines:{prefix}:{hash:016x}")
}

/// Top-level fields not in `known`, kept verbatim.
fn extra(top: &Obj, known: &[&str]) -> Obj {
    top.iter()
        .filter(|(key, _)| !known.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

// --- v1 -------------------------------------------------------------------------------------

const V1_FIELDS: &[&str] = &[
    "whatsapp_account",
    "chat",
    "message",
    "messages",
    "first_message_timestamp",
    "last_message_timestamp",
    "aggregation",
    "event_type",
];

fn v1(top: &Obj) -> Result<Vec<Record>, WebhookError> {
    let single = present(top, "message");
    let bundle = present(top, "messages");
    if single.is_none() && bundle.is_none() {
        return Err(WebhookError::NotTimelines {
            reason: "no \"message\" or \"messages\" (v1) and no \"event_type\" (v2)".to_owned(),
        });
    }
    let (chat, chat_id) = chat(top, true)?;
    let mut cx = Shared {
        format: "v1",
        event_type: None,
        event_direction: None,
        chat,
        chat_id,
        account: account(top)?,
        bundle: None,
        extra: extra(top, V1_FIELDS),
    };
    let mut records = Vec::new();
    if let Some(single) = single {
        let Value::Object(raw) = single else {
            return Err(wrong_type("/message", "an object", single));
        };
        records.push(message_record(&cx, raw, "/message", 0)?);
    }
    if let Some(bundle) = bundle {
        let Value::Array(items) = bundle else {
            return Err(wrong_type("/messages", "an array", bundle));
        };
        let mut fields = Map::new();
        fields.insert("aggregation".into(), opt(text(top, &["aggregation"], "")?));
        fields.insert(
            "first_message_timestamp".into(),
            opt(instant(top, "first_message_timestamp", "")?.map(rfc3339)),
        );
        fields.insert(
            "last_message_timestamp".into(),
            opt(instant(top, "last_message_timestamp", "")?.map(rfc3339)),
        );
        fields.insert("count".into(), items.len().into());
        cx.format = "v1_bundle";
        cx.bundle = Some(fields);
        for (i, item) in items.iter().enumerate() {
            let path = format!("/messages/{i}");
            let Value::Object(raw) = item else {
                return Err(wrong_type(&path, "an object", item));
            };
            records.push(message_record(&cx, raw, &path, i)?);
        }
    }
    Ok(records)
}

// --- v2 -------------------------------------------------------------------------------------

/// What an event type announces.
enum Family {
    Message { direction: Option<&'static str> },
    Chat,
    Other,
}

/// Event names are `family:…:action` in lower case; both spellings TimelinesAI documents
/// are accepted (`chat:created` and `chat:new`, `chat:received:created` and
/// `chat:incoming:new`, …).
fn family(event_type: &str) -> Result<Family, WebhookError> {
    let name = event_type.trim();
    let well_formed = name.contains(':')
        && name.split(':').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        });
    if !well_formed {
        return Err(WebhookError::UnknownEvent {
            event_type: clip(event_type),
        });
    }
    Ok(match name.split(':').collect::<Vec<_>>().as_slice() {
        ["message", "new"] => Family::Message { direction: None },
        ["message", "received" | "incoming", "new"] => Family::Message {
            direction: Some("received"),
        },
        ["message", "sent" | "outgoing", "new"] => Family::Message {
            direction: Some("sent"),
        },
        ["chat", ..] => Family::Chat,
        // Reactions, accounts, calls, WABA and whatever TimelinesAI adds next: kept as
        // events, never turned into messages (a reaction carries the original message's
        // uid, which would collide with that message's record key).
        _ => Family::Other,
    })
}

/// `created`, `assigned` or `unassigned` from any of the chat event spellings, with the
/// direction the name carries.
fn chat_event(event_type: &str) -> (String, Option<&'static str>) {
    let parts: Vec<&str> = event_type.trim().split(':').skip(1).collect();
    let direction = match parts.first() {
        Some(&"received" | &"incoming") => Some("received"),
        Some(&"sent" | &"outgoing") => Some("sent"),
        _ => None,
    };
    let action = match parts.last().copied() {
        Some("created" | "new") => "created",
        Some("assigned" | "reassigned") => "assigned",
        Some("unassigned") => "unassigned",
        Some(other) => other,
        None => "",
    };
    (action.to_owned(), direction)
}

const V2_FIELDS: &[&str] = &["event_type", "chat", "whatsapp_account", "message"];

fn v2(top: &Obj, event_type: &str, payload: &Value) -> Result<Vec<Record>, WebhookError> {
    match family(event_type)? {
        Family::Message { direction } => {
            let message = required_object(top, "message", "")?;
            let (chat, chat_id) = chat(top, true)?;
            let cx = Shared {
                format: "v2",
                event_type: Some(event_type.to_owned()),
                event_direction: direction,
                chat,
                chat_id,
                account: account(top)?,
                bundle: None,
                extra: extra(top, V2_FIELDS),
            };
            Ok(vec![message_record(&cx, message, "/message", 0)?])
        }
        Family::Chat => {
            let (chat, _) = chat(top, true)?;
            let (action, direction) = chat_event(event_type);
            let mut data = Map::new();
            data.insert("format".into(), "v2".into());
            data.insert("event_type".into(), event_type.into());
            data.insert("event".into(), action.into());
            data.insert("direction".into(), opt(direction));
            data.insert("chat".into(), chat);
            data.insert("whatsapp_account".into(), account(top)?);
            data.insert("raw".into(), payload.clone());
            let key = event_key("chat", event_type, payload);
            Ok(vec![Record::new(key, CHAT, Value::Object(data))])
        }
        Family::Other => {
            // Shapes of these events are not ours to police: the objects hubflow knows are
            // normalised when they are objects, and the payload is kept whole.
            let mut data = Map::new();
            data.insert("format".into(), "v2".into());
            data.insert("event_type".into(), event_type.into());
            let chat = match present(top, "chat") {
                Some(Value::Object(_)) => chat(top, false)?.0,
                _ => Value::Null,
            };
            data.insert("chat".into(), chat);
            let account = match present(top, "whatsapp_account") {
                Some(Value::Object(_)) => account(top)?,
                _ => Value::Null,
            };
            data.insert("whatsapp_account".into(), account);
            data.insert("raw".into(), payload.clone());
            let key = event_key("event", event_type, payload);
            Ok(vec![Record::new(key, EVENT, Value::Object(data))])
        }
    }
}

// --- the webhook source ---------------------------------------------------------------------

/// Receives TimelinesAI webhooks (v1 and v2) at a secret URL: `https://your.host/hooks/timelines?token=<secret>`.
///
/// TimelinesAI signs nothing and sends no custom header, so the URL is the only secret: use
/// a random token of at least 128 bits (e.g. 32 hex digits) and HTTPS.
///
/// Replies, and why:
///
/// | status | when |
/// |---|---|
/// | 200 | the body parsed: the records are in the reply, for the host to process *after* answering |
/// | 401 | the `token` query parameter is missing or wrong — and only then |
/// | 413 | the body is over the size limit ([`DEFAULT_MAX_BODY_BYTES`] by default) |
/// | 400 | the body is not a TimelinesAI payload (the reply body says what and where) |
///
/// TimelinesAI v1 disables the integration after more than 10 consecutive answers other
/// than 200, and v2 wants a 2xx within 5 seconds (then retries twice and e-mails the
/// workspace owner). So the answer must never wait for the flow or depend on the ERP being
/// up: answer with the reply at once, then hand `reply.records` to
/// [`Flow::process`](crate::Flow::process) (or to the host's own queue). Duplicates from
/// TimelinesAI's retries are skipped by the flow's idempotency claims on the record keys.
///
/// ```
/// use hubflow::{InboundRequest, WebhookSource};
/// use hubflow::http::Method;
/// use hubflow::timelines::TimelinesWebhook;
/// use secrecy::SecretString;
///
/// let webhook = TimelinesWebhook::new(SecretString::from("0f4c9e1a7b2d4e8f9a6b3c5d7e9f1a2b"));
/// let body = r#"{"chat": {"chat_id": "1"}, "message": {"direction": "received", "text": "hi",
///                "timestamp": "2021-02-24T16:25:29+0000"}}"#;
/// let ok = webhook.handle(&InboundRequest::new(
///     Method::Post, "/hooks/timelines?token=0f4c9e1a7b2d4e8f9a6b3c5d7e9f1a2b", body));
/// assert_eq!((ok.status, ok.records.len()), (200, 1));
/// let forged = webhook.handle(&InboundRequest::new(Method::Post, "/hooks/timelines?token=guess", body));
/// assert_eq!((forged.status, forged.records.len()), (401, 0));
/// ```
#[derive(Clone)]
pub struct TimelinesWebhook {
    token: SecretString,
    max_body_bytes: usize,
}

impl TimelinesWebhook {
    /// A webhook that accepts requests whose `token` query parameter is `token`. An empty
    /// token accepts nothing (every request gets 401), so a missing configuration cannot
    /// open the endpoint.
    pub fn new(token: SecretString) -> Self {
        TimelinesWebhook {
            token,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Sets the largest body accepted, in bytes.
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Checks the token and the size, then parses: the records, or the error
    /// [`handle`](WebhookSource::handle) answers with (for the host's logs).
    pub fn check(&self, request: &InboundRequest) -> Result<Vec<Record>, WebhookError> {
        let expected = self.token.expose_secret().as_bytes();
        let given = request.query("token").unwrap_or_default();
        if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected) {
            return Err(WebhookError::Unauthorized);
        }
        if request.body.len() > self.max_body_bytes {
            return Err(WebhookError::BodyTooLarge {
                size: request.body.len(),
                limit: self.max_body_bytes,
            });
        }
        parse(&request.body)
    }
}

impl WebhookSource for TimelinesWebhook {
    fn handle(&self, request: &InboundRequest) -> WebhookReply {
        match self.check(request) {
            Ok(records) => WebhookReply::accepted(records),
            Err(error) => WebhookReply::status(error.http_status(), error.to_string()),
        }
    }
}

impl fmt::Debug for TimelinesWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimelinesWebhook")
            .field("token", &crate::http::REDACTED)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}

use crate::spec::constant_time_eq;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors_when_unprefixed() {
        // The length prefix is ours; check the core against FNV's own vectors.
        let raw = |bytes: &[u8]| {
            bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
            })
        };
        assert_eq!(raw(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(raw(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(raw(b"foobar"), 0x8594_4171_f739_67e8);
        // And pin the prefixed form, so a change to it shows up as a broken key.
        assert_eq!(fnv1a64(&[b"a"]), raw(&[1, 0, 0, 0, 0, 0, 0, 0, b'a']));
        assert_ne!(fnv1a64(&[b"ab", b"c"]), fnv1a64(&[b"a", b"bc"]));
    }

    #[test]
    fn message_keys_are_pinned() {
        // A stored key must never change between releases: this value is the contract.
        assert_eq!(
            message_key(
                "10010001",
                "2021-02-24T16:30:29Z",
                "received",
                "lorem ipsum"
            ),
            format!(
                "timelines:msg:{:016x}",
                fnv1a64(&[
                    b"10010001",
                    b"2021-02-24T16:30:29Z",
                    b"received",
                    b"lorem ipsum"
                ])
            )
        );
        assert_eq!(
            message_key("1", "t", "sent", "x"),
            message_key("1", "t", "sent", "x")
        );
        assert_ne!(
            message_key("1", "t", "sent", "x"),
            message_key("1", "t", "received", "x")
        );
    }

    #[test]
    fn constant_time_eq_compares_bytes_and_lengths() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secreT", b"secret"));
        assert!(!constant_time_eq(b"secret-and-more", b"secret"));
        assert!(!constant_time_eq(b"secre", b"secret"));
        assert!(!constant_time_eq(b"", b"secret"));
        assert!(!constant_time_eq(b"\0\0\0\0\0\0", b"\0\0\0\0\0"));
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a: Value =
            serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": null}}"#)
                .unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a": {"x": null, "y": [1, {"c": 3, "d": 2}]}, "b": 1}"#)
                .unwrap();
        let (mut sa, mut sb) = (String::new(), String::new());
        canonical(&a, &mut sa);
        canonical(&b, &mut sb);
        assert_eq!(sa, r#"{"a":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}"#);
        assert_eq!(sa, sb);
    }

    #[test]
    fn event_families_accept_both_spellings() {
        for name in ["message:new", "message:received:new", "message:sent:new"] {
            assert!(matches!(family(name), Ok(Family::Message { .. })), "{name}");
        }
        for name in [
            "chat:created",
            "chat:new",
            "chat:incoming:new",
            "chat:responsible:assigned",
        ] {
            assert!(matches!(family(name), Ok(Family::Chat)), "{name}");
        }
        for name in [
            "message:reaction",
            "whatsapp:account:disconnected",
            "call:incoming:missed",
        ] {
            assert!(matches!(family(name), Ok(Family::Other)), "{name}");
        }
        for name in ["", "message", "Message:New", "message::new", "hello world"] {
            assert!(
                matches!(family(name), Err(WebhookError::UnknownEvent { .. })),
                "{name}"
            );
        }
        assert_eq!(
            chat_event("chat:incoming:new"),
            ("created".into(), Some("received"))
        );
        assert_eq!(
            chat_event("chat:sent:created"),
            ("created".into(), Some("sent"))
        );
        assert_eq!(
            chat_event("chat:responsible:unassigned"),
            ("unassigned".into(), None)
        );
        assert_eq!(chat_event("chat:assigned"), ("assigned".into(), None));
    }
}
