//! The unit of data that moves through a flow.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One item that enters a flow: a work order row, a WhatsApp message, an appointment.
///
/// * `key` is the idempotency key: the flow claims it in the [`Store`](crate::Store) before
///   sending, so the same key is never delivered twice (`wamid.…`, `fracttal:wo:12:3`, …).
/// * `kind` names what the record is (`fracttal.work_order`, `whatsapp.message`, …).
/// * `occurred_at` is when the event happened at the source, if the source says so.
/// * `data` is the JSON payload; conditions and mappers address it with dotted paths.
///
/// ```
/// use hubflow::Record;
/// use serde_json::json;
///
/// let record = Record::new(
///     "fracttal:wo:881:2",
///     "fracttal.work_order",
///     json!({"wo_folio": "OT-881", "tasks": [{"description": "Replace filter"}]}),
/// );
/// assert_eq!(record.get("wo_folio"), Some(&json!("OT-881")));
/// assert_eq!(record.get("tasks.0.description"), Some(&json!("Replace filter")));
/// assert_eq!(record.get("tasks.1.description"), None);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Record {
    /// Idempotency key, unique per logical event at the source.
    pub key: String,
    /// What the record is, e.g. `whatsapp.message`.
    pub kind: String,
    /// When the event happened at the source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<DateTime<Utc>>,
    /// The payload, usually a JSON object.
    pub data: Value,
}

impl Record {
    /// Creates a record without an `occurred_at` instant.
    pub fn new(key: impl Into<String>, kind: impl Into<String>, data: Value) -> Self {
        Record {
            key: key.into(),
            kind: kind.into(),
            occurred_at: None,
            data,
        }
    }

    /// Sets when the event happened at the source.
    ///
    /// ```
    /// use hubflow::Record;
    /// use chrono::{TimeZone, Utc};
    ///
    /// let at = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    /// let record = Record::new("k", "test", serde_json::json!({})).occurred_at(at);
    /// assert_eq!(record.occurred_at, Some(at));
    /// ```
    #[must_use]
    pub fn occurred_at(mut self, at: DateTime<Utc>) -> Self {
        self.occurred_at = Some(at);
        self
    }

    /// Looks up a field by dotted path: `chat.phone`, `messages.0.text`.
    ///
    /// A segment that is all digits indexes an array; on an object it is an ordinary key.
    /// An empty path returns the whole payload. Missing fields, out-of-range indexes and
    /// paths that run through a scalar all give `None`.
    pub fn get(&self, path: &str) -> Option<&Value> {
        lookup(&self.data, path)
    }
}

/// Resolves a dotted path inside a JSON value; the one path walker of the crate.
pub(crate) fn lookup<'v>(root: &'v Value, path: &str) -> Option<&'v Value> {
    if path.is_empty() {
        return Some(root);
    }
    path.split('.')
        .try_fold(root, |value, segment| match value {
            Value::Object(map) => map.get(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        })
}

/// [`lookup`] for a value to change or take out.
#[cfg_attr(not(feature = "http"), allow(dead_code))] // only the HTTP source takes items out
pub(crate) fn lookup_mut<'v>(root: &'v mut Value, path: &str) -> Option<&'v mut Value> {
    if path.is_empty() {
        return Some(root);
    }
    path.split('.')
        .try_fold(root, |value, segment| match value {
            Value::Object(map) => map.get_mut(segment),
            Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
            _ => None,
        })
}

/// Adds `more`'s fields to the object `data` (a later field replaces an earlier one);
/// nothing when either is not an object.
#[cfg_attr(not(any(feature = "whatsapp", feature = "twilio")), allow(dead_code))]
pub(crate) fn merge_object(data: &mut Value, more: Value) {
    if let (Value::Object(data), Value::Object(more)) = (data, more) {
        data.extend(more);
    }
}

/// What a JSON value is, for error messages: never its content, which may be personal data.
pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A hash that is the same on every run, build and platform (FNV-1a 64 over each part
/// prefixed by its length, so `["ab", "c"]` and `["a", "bc"]` differ): for record keys
/// derived from content, and for reproducible jitter. Not for security.
pub(crate) fn stable_hash(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut hash = OFFSET;
    for part in parts {
        for byte in (part.len() as u64).to_le_bytes().iter().chain(part.iter()) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(PRIME);
        }
    }
    hash
}

/// Opaque, serializable position of a polling [`Source`](crate::Source).
///
/// Each source decides what goes in it (a "modified since" instant, the ids already seen at
/// that instant, a page token); the flow only stores and returns it through the
/// [`Store`](crate::Store).
///
/// ```
/// use hubflow::Cursor;
/// let cursor = Cursor::new(serde_json::json!({"since": "2026-03-01T00:00:00Z", "seen": [12, 13]}));
/// assert_eq!(cursor.value()["seen"][1], 13);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cursor(Value);

impl Cursor {
    /// Wraps a source-defined position.
    pub fn new(value: Value) -> Self {
        Cursor(value)
    }

    /// The source-defined position.
    pub fn value(&self) -> &Value {
        &self.0
    }

    /// Takes the position out.
    pub fn into_value(self) -> Value {
        self.0
    }
}

#[cfg(test)]
mod tests;
