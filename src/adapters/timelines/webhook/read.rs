//! Typed readers of payload values (`null` counts as absent everywhere) and the errors for
//! values of the wrong type.

use serde_json::{Map, Value};

use super::WebhookError;
use crate::condition::parse_instant;
use crate::pointer_token;
use crate::record::json_kind as type_name;

pub(super) fn wrong_type(path: &str, expected: &'static str, found: &Value) -> WebhookError {
    WebhookError::WrongType {
        path: path.to_owned(),
        expected,
        found: type_name(found),
    }
}

pub(super) fn clip(text: &str) -> String {
    text.chars().take(64).collect()
}

pub(super) fn child(path: &str, key: &str) -> String {
    format!("{path}/{}", pointer_token(key))
}

pub(super) type Obj = Map<String, Value>;

pub(super) fn present<'v>(map: &'v Obj, key: &str) -> Option<&'v Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// The first present key of `keys`, with its path: alternative spellings of one field.
fn first_of<'v>(map: &'v Obj, keys: &[&str], path: &str) -> Option<(&'v Value, String)> {
    keys.iter()
        .find_map(|key| present(map, key).map(|v| (v, child(path, key))))
}

pub(super) fn object<'v>(
    map: &'v Obj,
    key: &str,
    path: &str,
) -> Result<Option<&'v Obj>, WebhookError> {
    match present(map, key) {
        None => Ok(None),
        Some(Value::Object(inner)) => Ok(Some(inner)),
        Some(other) => Err(wrong_type(&child(path, key), "an object", other)),
    }
}

pub(super) fn required_object<'v>(
    map: &'v Obj,
    key: &str,
    path: &str,
) -> Result<&'v Obj, WebhookError> {
    object(map, key, path)?.ok_or_else(|| WebhookError::Missing {
        path: child(path, key),
    })
}

/// A text field; `keys` are its accepted spellings.
pub(super) fn text(map: &Obj, keys: &[&str], path: &str) -> Result<Option<String>, WebhookError> {
    match first_of(map, keys, path) {
        None => Ok(None),
        Some((Value::String(s), _)) => Ok(Some(s.clone())),
        Some((other, at)) => Err(wrong_type(&at, "a string", other)),
    }
}

/// An identifier or phone number: a string, or a number taken as its decimal text (v1 sends
/// `chat_id` as a string, v2 as an integer).
pub(super) fn ident(map: &Obj, keys: &[&str], path: &str) -> Result<Option<String>, WebhookError> {
    match first_of(map, keys, path) {
        None => Ok(None),
        Some((Value::String(s), _)) => Ok(Some(s.trim().to_owned())),
        Some((Value::Number(n), _)) => Ok(Some(n.to_string())),
        Some((other, at)) => Err(wrong_type(&at, "a string or a number", other)),
    }
}

/// A flag: a boolean, or the strings `"true"` / `"false"`.
pub(super) fn flag(map: &Obj, key: &str, path: &str) -> Result<Option<bool>, WebhookError> {
    match present(map, key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(Some(true)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(Some(false)),
        Some(other) => Err(wrong_type(&child(path, key), "a boolean", other)),
    }
}

/// A size in bytes: a non-negative integer, or a string holding one.
pub(super) fn size(map: &Obj, key: &str, path: &str) -> Result<Option<u64>, WebhookError> {
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
pub(super) fn instant(
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

pub(super) fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub(super) fn opt<T: Into<Value>>(value: Option<T>) -> Value {
    value.map_or(Value::Null, Into::into)
}

/// `base` (the object as TimelinesAI sent it, so no field is lost) with the normalised
/// fields laid over it.
pub(super) fn overlay(base: Option<&Obj>, fields: Vec<(&str, Value)>) -> Value {
    let mut out = base.cloned().unwrap_or_default();
    for (key, value) in fields {
        out.insert(key.to_owned(), value);
    }
    Value::Object(out)
}
