//! Record keys of messages without a uid and of events: stable hashes that must never
//! change between releases.

use serde_json::Value;

use crate::record::stable_hash as fnv1a64;

/// The key of a message without a `message_uid`: a hash of what identifies it, with the
/// timestamp in its normalised form so the same message keys the same whatever format it
/// came in (a v1 single call and the hourly bundle that repeats it agree).
pub(super) fn message_key(chat_id: &str, timestamp: &str, direction: &str, text: &str) -> String {
    let hash = fnv1a64(&[
        chat_id.as_bytes(),
        timestamp.as_bytes(),
        direction.as_bytes(),
        text.as_bytes(),
    ]);
    format!("timelines:msg:{hash:016x}")
}

/// JSON with object keys sorted and no spaces: the same value gives the same bytes whatever
/// order its keys arrived in or how the map type of this build orders them.
pub(super) fn canonical(value: &Value, out: &mut String) {
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

pub(super) fn event_key(prefix: &str, event_type: &str, payload: &Value) -> String {
    let mut text = String::new();
    canonical(payload, &mut text);
    let hash = fnv1a64(&[event_type.as_bytes(), text.as_bytes()]);
    format!("timelines:{prefix}:{hash:016x}")
}
