//! Reading and checking payload fields: absent values, strings, booleans, media sources,
//! lengths, unknown fields (with a "did you mean"), and error paths in nested objects.

use serde_json::{Map, Value};

use crate::whatsapp::media::{pending_upload_object, MediaType, UPLOAD_KEY};
use crate::whatsapp::Media;
use crate::TargetError;

/// Exactly one of `link` (http or https), `id` and `file` (a host file to upload, with an
/// optional `mime_type`); `prefix` names where they are.
pub(super) fn media_source(
    fields: &Map<String, Value>,
    prefix: &str,
    media_type: MediaType,
    template_header: bool,
) -> Result<Media, TargetError> {
    let link = optional_str(fields, "link").map_err(|e| prefixed(e, prefix))?;
    let id = optional_str(fields, "id").map_err(|e| prefixed(e, prefix))?;
    let file = optional_str(fields, "file").map_err(|e| prefixed(e, prefix))?;
    let mime_type = optional_str(fields, "mime_type").map_err(|e| prefixed(e, prefix))?;
    if mime_type.is_some() && file.is_none() {
        return Err(TargetError::field(
            format!("{prefix}mime_type"),
            "`mime_type` goes with `file`; Meta reads the type of a link or an uploaded id itself",
        ));
    }
    if let Some(file) = file {
        if link.is_some() || id.is_some() {
            return Err(TargetError::field(
                format!("{prefix}file"),
                "give one of `link`, `id` and `file`, not several",
            ));
        }
        let upload = pending_upload_object(prefix, file, mime_type, media_type, template_header)?;
        let mut media = Media::default();
        media.extra.insert(UPLOAD_KEY.to_owned(), upload);
        // A document shows a file name; the file's own is the natural default.
        media.filename = Some(base_name(file.trim()).to_owned()).filter(|n| !n.is_empty());
        return Ok(media);
    }
    match (link, id) {
        (Some(_), Some(_)) => Err(TargetError::field(
            format!("{prefix}link"),
            "give either `link` or `id`, not both",
        )),
        (None, None) => Err(TargetError::field(
            format!("{prefix}link"),
            "missing: a `link` (an https URL Meta downloads the file from), the `id` of uploaded media, \
             or a `file` of the host's media provider",
        )),
        (Some(link), None) => {
            let link = web_link(&format!("{prefix}link"), link)?;
            Ok(Media::from_link(link))
        }
        (None, Some(id)) => {
            let id = id.trim();
            if id.chars().any(char::is_whitespace) {
                return Err(TargetError::field(
                    format!("{prefix}id"),
                    "a media id has no spaces",
                ));
            }
            Ok(Media::from_id(id))
        }
    }
}

/// An http or https URL with a host (what Meta fetches or opens), trimmed; else an error
/// naming `field`.
pub(super) fn web_link<'a>(field: &str, text: &'a str) -> Result<&'a str, TargetError> {
    let text = text.trim();
    match url::Url::parse(text) {
        Ok(url)
            if matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(text)
        }
        _ => Err(TargetError::field(
            field,
            format!("`{text}` is not an http(s) URL"),
        )),
    }
}

pub(super) fn check_length(field: &str, text: &str, max: usize) -> Result<(), TargetError> {
    let length = text.chars().count();
    if length > max {
        return Err(TargetError::field(
            field,
            format!("{length} characters; WhatsApp allows at most {max} here"),
        ));
    }
    Ok(())
}

/// The last segment of a path-like reference (`reports/OT-1021.pdf` → `OT-1021.pdf`).
fn base_name(reference: &str) -> &str {
    reference.rsplit(['/', '\\']).next().unwrap_or(reference)
}

/// Whether a mapped value means "absent": `null` or a blank string.
pub(super) fn is_absent(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A string field that may be absent (`null` and blank strings count as absent).
pub(super) fn optional_str<'a>(
    fields: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, TargetError> {
    match fields.get(field) {
        None => Ok(None),
        Some(value) if is_absent(value) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(TargetError::field(
            field,
            format!("expected a string, not {}", json_type(other)),
        )),
    }
}

/// A string field that must be present and not blank; `what` says what it should hold.
pub(super) fn required_str<'a>(
    fields: &'a Map<String, Value>,
    field: &str,
    what: &str,
) -> Result<&'a str, TargetError> {
    match fields.get(field) {
        None | Some(Value::Null) => Err(TargetError::field(field, format!("missing: {what}"))),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(TargetError::field(field, format!("is blank: {what}")))
        }
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(TargetError::field(
            field,
            format!("expected a string ({what}), not {}", json_type(other)),
        )),
    }
}

/// A boolean field; a mapping renders values as text, so `"true"` and `"false"` count.
pub(super) fn optional_bool(
    fields: &Map<String, Value>,
    field: &str,
) -> Result<Option<bool>, TargetError> {
    match fields.get(field) {
        None => Ok(None),
        Some(value) if is_absent(value) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            other => Err(TargetError::field(
                field,
                format!("`{other}` is not true or false"),
            )),
        },
        Some(other) => Err(TargetError::field(
            field,
            format!("expected true or false, not {}", json_type(other)),
        )),
    }
}

pub(super) fn check_known_fields(
    fields: &Map<String, Value>,
    allowed: &[&str],
) -> Result<(), TargetError> {
    check_known_fields_at(fields, allowed, "")
}

/// Rejects a field that is not in `allowed`: a typo in a field map would otherwise drop a
/// value silently.
pub(super) fn check_known_fields_at(
    fields: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), TargetError> {
    let Some(unknown) = fields.keys().find(|key| !allowed.contains(&key.as_str())) else {
        return Ok(());
    };
    let suggestion = allowed
        .iter()
        .map(|candidate| (edit_distance(unknown, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| format!("did you mean `{candidate}`? "))
        .unwrap_or_default();
    Err(TargetError::field(
        format!("{prefix}{unknown}"),
        format!("unknown field; {suggestion}allowed: {}", allowed.join(", ")),
    ))
}

/// Levenshtein distance, for "did you mean" hints on short field names.
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // `previous` and `current` have b.len() + 1 entries (current gets entry j + 1 pushed
    // before it is read at j + 1), so the indexing below stays in bounds.
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Puts `prefix` in front of the field an error names (for nested objects).
pub(super) fn prefixed(error: TargetError, prefix: &str) -> TargetError {
    match error {
        TargetError::InvalidField { field, message } => TargetError::InvalidField {
            field: format!("{prefix}{field}"),
            message,
        },
        other => other,
    }
}

pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
