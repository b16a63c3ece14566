//! Reading a webhook body into [`WebhookEvent`]s.
//!
//! The body is read as a `serde_json::Value` first and then walked by hand, so that every
//! error names the JSON pointer of the offending field and so that unknown fields and types
//! are kept (in `raw`) instead of rejected.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::model::{
    Contact, Conversation, DeliveryState, ErrorDetail, InboundMessage, MessageContext, MessageType,
    Pricing, StatusUpdate, SystemError, WebhookEvent,
};
use super::WebhookError;
use crate::pointer_token;

/// The `object` of every WhatsApp Business Account webhook.
pub(super) const WHATSAPP_OBJECT: &str = "whatsapp_business_account";

type Object = Map<String, Value>;

/// See [`super::parse`].
pub(super) fn parse(body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookError> {
    let root: Value = serde_json::from_slice(body).map_err(|error| WebhookError::NotJson {
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    })?;
    let Value::Object(root) = &root else {
        return Err(WebhookError::NotWhatsApp {
            object: Some(describe(&root).to_owned()),
        });
    };
    match root.get("object") {
        Some(Value::String(object)) if object == WHATSAPP_OBJECT => {}
        Some(Value::String(object)) => {
            return Err(WebhookError::NotWhatsApp {
                object: Some(format!("{:?}", truncate(object, 64))),
            })
        }
        Some(other) => {
            return Err(WebhookError::NotWhatsApp {
                object: Some(describe(other).to_owned()),
            })
        }
        None => return Err(WebhookError::NotWhatsApp { object: None }),
    }

    let mut events = Vec::new();
    for (i, entry) in required_array(root, "entry", "")?.iter().enumerate() {
        let path = format!("/entry/{i}");
        let entry = object(entry, &path)?;
        let waba_id = required_id(entry, "id", &path)?;
        for (j, change) in optional_array(entry, "changes", &path)?.iter().enumerate() {
            let path = format!("{path}/changes/{j}");
            let change = object(change, &path)?;
            // Only `messages` changes are read; template, account, quality, group and other
            // fields are skipped without looking at their value.
            if optional_str(change, "field", &path)?.as_deref() != Some("messages") {
                continue;
            }
            let value_path = format!("{path}/value");
            let value = required_object(change, "value", &path)?;
            read_messages_value(&waba_id, value, &value_path, &mut events)?;
        }
    }
    Ok(events)
}

/// The business number a change is about.
struct ChangeContext {
    waba_id: String,
    phone_number_id: String,
    display_phone_number: String,
}

fn read_messages_value(
    waba_id: &str,
    value: &Object,
    path: &str,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let metadata_path = child(path, "metadata");
    let metadata = required_object(value, "metadata", path)?;
    let cx = ChangeContext {
        waba_id: waba_id.to_owned(),
        phone_number_id: required_id(metadata, "phone_number_id", &metadata_path)?,
        display_phone_number: optional_id(metadata, "display_phone_number", &metadata_path)?
            .unwrap_or_default(),
    };

    let contacts_path = child(path, "contacts");
    let contacts = optional_array(value, "contacts", path)?
        .iter()
        .enumerate()
        .map(|(i, c)| read_contact(c, &format!("{contacts_path}/{i}")))
        .collect::<Result<Vec<_>, _>>()?;

    let messages_path = child(path, "messages");
    for (i, message) in optional_array(value, "messages", path)?.iter().enumerate() {
        let message = read_message(&cx, &contacts, message, &format!("{messages_path}/{i}"))?;
        events.push(WebhookEvent::Message(message));
    }
    let statuses_path = child(path, "statuses");
    for (i, status) in optional_array(value, "statuses", path)?.iter().enumerate() {
        let status = read_status(&cx, &contacts, status, &format!("{statuses_path}/{i}"))?;
        events.push(WebhookEvent::Status(status));
    }
    let errors_path = child(path, "errors");
    for (i, error) in optional_array(value, "errors", path)?.iter().enumerate() {
        let error_path = format!("{errors_path}/{i}");
        events.push(WebhookEvent::Error(SystemError {
            waba_id: cx.waba_id.clone(),
            phone_number_id: cx.phone_number_id.clone(),
            display_phone_number: cx.display_phone_number.clone(),
            error: read_error(error, &error_path)?,
            raw: error.clone(),
        }));
    }
    Ok(())
}

fn read_contact(value: &Value, path: &str) -> Result<Contact, WebhookError> {
    let contact = object(value, path)?;
    let mut out = Contact {
        wa_id: optional_id(contact, "wa_id", path)?,
        user_id: optional_str(contact, "user_id", path)?,
        raw: value.clone(),
        ..Contact::default()
    };
    if let Some(profile) = optional_object(contact, "profile", path)? {
        let profile_path = child(path, "profile");
        out.name = optional_str(profile, "name", &profile_path)?;
        out.username = optional_str(profile, "username", &profile_path)?;
        out.country_code = optional_str(profile, "country_code", &profile_path)?;
    }
    Ok(out)
}

/// The contact for a sender or recipient: same phone number, else same business-scoped
/// user id, else the first one. Empty ids never match, since they mean "not given".
fn matching_contact(contacts: &[Contact], wa_id: &str, user_id: Option<&str>) -> Option<Contact> {
    let same =
        |have: &Option<String>, want: &str| !want.is_empty() && have.as_deref() == Some(want);
    contacts
        .iter()
        .find(|c| same(&c.wa_id, wa_id))
        .or_else(|| user_id.and_then(|user_id| contacts.iter().find(|c| same(&c.user_id, user_id))))
        .or_else(|| contacts.first())
        .cloned()
}

fn read_message(
    cx: &ChangeContext,
    contacts: &[Contact],
    value: &Value,
    path: &str,
) -> Result<InboundMessage, WebhookError> {
    let message = object(value, path)?;
    let id = required_str(message, "id", path)?;
    let from = optional_id(message, "from", path)?.unwrap_or_default();
    let from_user_id = optional_str(message, "from_user_id", path)?;
    let timestamp = required_timestamp(message, "timestamp", path)?;
    let kind = MessageType::parse(
        optional_str(message, "type", path)?
            .as_deref()
            .unwrap_or(""),
    );

    let context = match optional_object(message, "context", path)? {
        None => None,
        Some(context) => {
            let path = child(path, "context");
            Some(MessageContext {
                from: optional_id(context, "from", &path)?,
                id: optional_str(context, "id", &path)?,
                forwarded: optional_bool(context, "forwarded", &path)?.unwrap_or(false),
                frequently_forwarded: optional_bool(context, "frequently_forwarded", &path)?
                    .unwrap_or(false),
            })
        }
    };
    let errors = read_errors(message, path)?;
    check_content(&kind, message, path)?;
    let contact = matching_contact(contacts, &from, from_user_id.as_deref());

    Ok(InboundMessage {
        waba_id: cx.waba_id.clone(),
        phone_number_id: cx.phone_number_id.clone(),
        display_phone_number: cx.display_phone_number.clone(),
        id,
        from,
        from_user_id,
        timestamp,
        kind,
        context,
        contact,
        errors,
        raw: value.clone(),
    })
}

/// Checks the types of the content fields the accessors (`text`, `reply_id`, `media`) read,
/// so a wrong type is reported with its path instead of turning into a silent `None`.
/// Content of other types stays in `raw` unchecked.
fn check_content(kind: &MessageType, message: &Object, path: &str) -> Result<(), WebhookError> {
    let strings: &[&str] = match kind {
        MessageType::Text => &["body"],
        MessageType::Button => &["payload", "text"],
        MessageType::Reaction => &["message_id", "emoji"],
        kind if kind.is_media() => &["id", "mime_type", "sha256", "caption", "filename", "url"],
        MessageType::Interactive => &["type"],
        _ => return Ok(()),
    };
    let name = kind.as_str();
    let Some(content) = optional_object(message, name, path)? else {
        return Ok(());
    };
    let content_path = child(path, name);
    for key in strings {
        optional_str(content, key, &content_path)?;
    }
    if kind.is_media() {
        optional_bool(content, "voice", &content_path)?;
        optional_bool(content, "animated", &content_path)?;
    }
    if *kind == MessageType::Interactive {
        for reply in ["button_reply", "list_reply"] {
            if let Some(reply_object) = optional_object(content, reply, &content_path)? {
                let reply_path = child(&content_path, reply);
                for key in ["id", "title", "description"] {
                    optional_str(reply_object, key, &reply_path)?;
                }
            }
        }
    }
    Ok(())
}

fn read_status(
    cx: &ChangeContext,
    contacts: &[Contact],
    value: &Value,
    path: &str,
) -> Result<StatusUpdate, WebhookError> {
    let status = object(value, path)?;
    let recipient_id = optional_id(status, "recipient_id", path)?;
    let recipient_user_id = optional_str(status, "recipient_user_id", path)?;
    let conversation = match optional_object(status, "conversation", path)? {
        None => None,
        Some(conversation) => {
            let path = child(path, "conversation");
            let origin_type = match optional_object(conversation, "origin", &path)? {
                Some(origin) => optional_str(origin, "type", &child(&path, "origin"))?,
                None => None,
            };
            Some(Conversation {
                id: optional_str(conversation, "id", &path)?,
                expiration_timestamp: optional_timestamp(
                    conversation,
                    "expiration_timestamp",
                    &path,
                )?,
                origin_type,
            })
        }
    };
    let pricing = match optional_object(status, "pricing", path)? {
        None => None,
        Some(pricing) => {
            let path = child(path, "pricing");
            Some(Pricing {
                billable: optional_bool(pricing, "billable", &path)?,
                pricing_model: optional_str(pricing, "pricing_model", &path)?,
                category: optional_str(pricing, "category", &path)?,
                kind: optional_str(pricing, "type", &path)?,
            })
        }
    };
    let contact = if contacts.is_empty() {
        None
    } else {
        matching_contact(
            contacts,
            recipient_id.as_deref().unwrap_or(""),
            recipient_user_id.as_deref(),
        )
    };
    Ok(StatusUpdate {
        waba_id: cx.waba_id.clone(),
        phone_number_id: cx.phone_number_id.clone(),
        display_phone_number: cx.display_phone_number.clone(),
        id: required_str(status, "id", path)?,
        status: DeliveryState::parse(&required_str(status, "status", path)?),
        timestamp: required_timestamp(status, "timestamp", path)?,
        recipient_id,
        recipient_user_id,
        group_id: optional_str(status, "group_id", path)?,
        biz_opaque_callback_data: optional_str(status, "biz_opaque_callback_data", path)?,
        conversation,
        pricing,
        contact,
        errors: read_errors(status, path)?,
        raw: value.clone(),
    })
}

fn read_errors(parent: &Object, path: &str) -> Result<Vec<ErrorDetail>, WebhookError> {
    let errors_path = child(path, "errors");
    optional_array(parent, "errors", path)?
        .iter()
        .enumerate()
        .map(|(i, e)| read_error(e, &format!("{errors_path}/{i}")))
        .collect()
}

fn read_error(value: &Value, path: &str) -> Result<ErrorDetail, WebhookError> {
    let error = object(value, path)?;
    let details = match optional_object(error, "error_data", path)? {
        Some(data) => optional_str(data, "details", &child(path, "error_data"))?,
        None => None,
    };
    Ok(ErrorDetail {
        code: required_code(error, "code", path)?,
        title: optional_str(error, "title", path)?,
        message: optional_str(error, "message", path)?,
        details,
        href: optional_str(error, "href", path)?,
    })
}

// ---- typed field access with JSON pointers ----

/// The JSON pointer of `key` inside the value at `path`.
fn child(path: &str, key: &str) -> String {
    format!("{path}/{}", pointer_token(key))
}

use crate::record::json_kind as describe;

fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}

fn shape(path: String, expected: &'static str, found: impl Into<String>) -> WebhookError {
    WebhookError::Shape {
        path,
        expected,
        found: found.into(),
    }
}

fn object<'v>(value: &'v Value, path: &str) -> Result<&'v Object, WebhookError> {
    value
        .as_object()
        .ok_or_else(|| shape(path.to_owned(), "an object", describe(value)))
}

/// A present, non-null field. Optional fields treat `null` like absence.
fn present<'v>(parent: &'v Object, key: &str) -> Option<&'v Value> {
    parent.get(key).filter(|value| !value.is_null())
}

fn required_object<'v>(
    parent: &'v Object,
    key: &str,
    path: &str,
) -> Result<&'v Object, WebhookError> {
    match parent.get(key) {
        Some(value) => object(value, &child(path, key)),
        None => Err(shape(child(path, key), "an object", "nothing")),
    }
}

fn optional_object<'v>(
    parent: &'v Object,
    key: &str,
    path: &str,
) -> Result<Option<&'v Object>, WebhookError> {
    present(parent, key)
        .map(|value| object(value, &child(path, key)))
        .transpose()
}

fn required_array<'v>(
    parent: &'v Object,
    key: &str,
    path: &str,
) -> Result<&'v [Value], WebhookError> {
    match parent.get(key) {
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(shape(child(path, key), "an array", describe(other))),
        None => Err(shape(child(path, key), "an array", "nothing")),
    }
}

/// An optional array: absent or `null` reads as empty.
fn optional_array<'v>(
    parent: &'v Object,
    key: &str,
    path: &str,
) -> Result<&'v [Value], WebhookError> {
    match present(parent, key) {
        None => Ok(&[]),
        Some(_) => required_array(parent, key, path),
    }
}

fn optional_str(parent: &Object, key: &str, path: &str) -> Result<Option<String>, WebhookError> {
    match present(parent, key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(shape(child(path, key), "a string", describe(other))),
    }
}

fn required_str(parent: &Object, key: &str, path: &str) -> Result<String, WebhookError> {
    match parent.get(key) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(other) => Err(shape(child(path, key), "a string", describe(other))),
        None => Err(shape(child(path, key), "a string", "nothing")),
    }
}

/// An id or phone number: a string, or an integer (some payloads send bare numbers).
fn optional_id(parent: &Object, key: &str, path: &str) -> Result<Option<String>, WebhookError> {
    match present(parent, key) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(Some(n.to_string())),
        Some(other) => Err(shape(
            child(path, key),
            "a string or an integer",
            describe(other),
        )),
    }
}

fn required_id(parent: &Object, key: &str, path: &str) -> Result<String, WebhookError> {
    optional_id(parent, key, path)?.ok_or_else(|| {
        shape(
            child(path, key),
            "a string or an integer",
            parent.get(key).map_or("nothing", describe),
        )
    })
}

fn optional_bool(parent: &Object, key: &str, path: &str) -> Result<Option<bool>, WebhookError> {
    match present(parent, key) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(other) => Err(shape(child(path, key), "a boolean", describe(other))),
    }
}

/// An error code: an integer, or a string of digits.
fn required_code(parent: &Object, key: &str, path: &str) -> Result<i64, WebhookError> {
    const EXPECTED: &str = "an integer error code";
    match parent.get(key) {
        Some(Value::Number(n)) => n.as_i64().ok_or_else(|| {
            shape(
                child(path, key),
                EXPECTED,
                "a number that is not an integer",
            )
        }),
        Some(Value::String(text)) => text.trim().parse().map_err(|_| {
            shape(
                child(path, key),
                EXPECTED,
                "a string that is not an integer",
            )
        }),
        Some(other) => Err(shape(child(path, key), EXPECTED, describe(other))),
        None => Err(shape(child(path, key), EXPECTED, "nothing")),
    }
}

const TIMESTAMP: &str = "Unix seconds as a string or an integer";

/// A timestamp: Unix seconds, as a string (what WhatsApp sends) or an integer.
fn optional_timestamp(
    parent: &Object,
    key: &str,
    path: &str,
) -> Result<Option<DateTime<Utc>>, WebhookError> {
    let Some(value) = present(parent, key) else {
        return Ok(None);
    };
    let seconds = match value {
        Value::String(text) => text.trim().parse::<i64>().map_err(|_| {
            shape(
                child(path, key),
                TIMESTAMP,
                "a string that is not an integer",
            )
        })?,
        Value::Number(n) => n.as_i64().ok_or_else(|| {
            shape(
                child(path, key),
                TIMESTAMP,
                "a number that is not an integer",
            )
        })?,
        other => return Err(shape(child(path, key), TIMESTAMP, describe(other))),
    };
    DateTime::from_timestamp(seconds, 0)
        .map(Some)
        .ok_or_else(|| shape(child(path, key), TIMESTAMP, "a number out of range"))
}

fn required_timestamp(
    parent: &Object,
    key: &str,
    path: &str,
) -> Result<DateTime<Utc>, WebhookError> {
    optional_timestamp(parent, key, path)?.ok_or_else(|| {
        shape(
            child(path, key),
            TIMESTAMP,
            parent.get(key).map_or("nothing", describe),
        )
    })
}
