//! The parts every payload shares (chat, account, parties, attachments) and the message
//! record built from them.

use serde_json::{Map, Value};

use super::keys::message_key;
use super::read::{
    child, flag, ident, instant, object, opt, overlay, present, required_object, rfc3339, size,
    text, wrong_type, Obj,
};
use super::{WebhookError, MESSAGE};
use crate::Record;

pub(super) fn chat(top: &Obj, required: bool) -> Result<(Value, Option<String>), WebhookError> {
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

pub(super) fn account(top: &Obj) -> Result<Value, WebhookError> {
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
pub(super) struct Shared {
    pub(super) format: &'static str,
    pub(super) event_type: Option<String>,
    /// The direction the event type names (`message:received:new`), used only when the
    /// message itself has none.
    pub(super) event_direction: Option<&'static str>,
    pub(super) chat: Value,
    pub(super) chat_id: Option<String>,
    pub(super) account: Value,
    pub(super) bundle: Option<Obj>,
    pub(super) extra: Obj,
}

pub(super) fn message_record(
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

/// Top-level fields not in `known`, kept verbatim.
pub(super) fn extra(top: &Obj, known: &[&str]) -> Obj {
    top.iter()
        .filter(|(key, _)| !known.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}
