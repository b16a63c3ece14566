//! Small text helpers shared by the pipeline and the adapters, so error messages cut and
//! render values one way everywhere.

use serde_json::Value;

/// At most `max` characters of `text`, with `…` appended when something was cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    let mut out: String = text.chars().take(max).collect();
    if text.chars().nth(max).is_some() {
        out.push('…');
    }
    out
}

/// A JSON value as text: strings as they are, `null` as nothing, others as JSON.
#[cfg_attr(not(any(feature = "rm", feature = "rdconversas")), allow(dead_code))]
pub(crate) fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
