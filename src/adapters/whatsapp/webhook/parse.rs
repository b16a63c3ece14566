//! Reading a webhook body into [`WebhookEvent`]s.
//!
//! Two readers: the fast one ([`fast`]) reads the body once with serde into typed structs
//! borrowing from it and keeps the raw JSON of each event as its text; it names no JSON
//! pointers. When it does not take a body, the walker here reads it: as a
//! `serde_json::Value` first, walked by hand, so that every error names the JSON pointer of
//! the offending field. Both keep unknown fields and types (in `raw`) instead of rejecting
//! them, and give the same events for any body both read.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::model::{
    Contact, Content, Conversation, DeliveryState, ErrorDetail, InboundMessage, MessageContext,
    MessageType, Pricing, RawJson, StatusUpdate, SystemError, WebhookEvent,
};
use super::WebhookError;
use crate::pointer_token;

/// The `object` of every WhatsApp Business Account webhook.
pub(super) const WHATSAPP_OBJECT: &str = "whatsapp_business_account";

type Object = Map<String, Value>;

mod fast;
mod fields;

/// What a body holds: the events of every change that could be read, and why the others
/// could not.
#[derive(Debug, Default)]
pub(super) struct Reading {
    /// The events, in body order.
    pub(super) events: Vec<WebhookEvent>,
    /// One error per entry or change that could not be read; its events are not in
    /// `events`.
    pub(super) problems: Vec<WebhookError>,
}

/// See [`super::parse`]: strict, the first problem is the error.
pub(super) fn parse(body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookError> {
    let reading = read(body)?;
    match reading.problems.into_iter().next() {
        Some(problem) => Err(problem),
        None => Ok(reading.events),
    }
}

/// Reads every entry and change on its own: a change that cannot be read is a problem,
/// and the others still give their events. The error is for a body that is not a
/// WhatsApp webhook at all.
pub(super) fn read(body: &[u8]) -> Result<Reading, WebhookError> {
    match fast::read(body) {
        Some(reading) => Ok(reading),
        // Something the fast reader does not take: the walker names where it is.
        None => walk(body),
    }
}

/// [`read`] by the fast reader alone: `None` when it leaves the body to the walker.
#[cfg(test)]
pub(super) fn read_fast(body: &[u8]) -> Option<Reading> {
    fast::read(body)
}

/// [`read`] by the walker alone.
pub(super) fn walk(body: &[u8]) -> Result<Reading, WebhookError> {
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

    let mut reading = Reading::default();
    for (i, entry) in required_array(root, "entry", "")?.iter().enumerate() {
        let path = format!("/entry/{i}");
        if let Err(problem) = read_entry(entry, &path, &mut reading) {
            reading.problems.push(problem);
        }
    }
    Ok(reading)
}

/// An entry: its changes, each read on its own into `reading`.
fn read_entry(entry: &Value, path: &str, reading: &mut Reading) -> Result<(), WebhookError> {
    let entry = object(entry, path)?;
    let waba_id = required_id(entry, "id", path)?;
    let time = optional_timestamp(entry, "time", path)?;
    for (j, change) in optional_array(entry, "changes", path)?.iter().enumerate() {
        let path = format!("{path}/changes/{j}");
        let mut events = Vec::new();
        match read_change(&waba_id, time, change, &path, &mut events) {
            Ok(()) => reading.events.append(&mut events),
            Err(problem) => reading.problems.push(problem),
        }
    }
    Ok(())
}

/// One change, by its `field`; a field this crate does not read is kept whole.
fn read_change(
    waba_id: &str,
    time: Option<DateTime<Utc>>,
    change: &Value,
    path: &str,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let change = object(change, path)?;
    let field = optional_str(change, "field", path)?.unwrap_or_default();
    let value_path = child(path, "value");
    let value = required_object(change, "value", path)?;
    let cx = || fields::Change {
        waba_id,
        time,
        field: &field,
        value,
        path: &value_path,
    };
    match field.as_str() {
        "messages" => read_messages_value(waba_id, value, &value_path, events),
        "smb_message_echoes" => fields::echoes(&cx(), events),
        "message_template_status_update"
        | "message_template_quality_update"
        | "message_template_components_update"
        | "template_category_update" => fields::template(&cx(), events),
        "account_update"
        | "account_review_update"
        | "account_alerts"
        | "business_capability_update"
        | "business_status_update"
        | "security"
        | "partner_solutions"
        | "payment_configuration_update" => fields::account(&cx(), events),
        "phone_number_name_update" | "phone_number_quality_update" => {
            fields::phone_number(&cx(), events)
        }
        "user_preferences" => fields::user_preferences(&cx(), events),
        "calls" => fields::calls(&cx(), events),
        "group_lifecycle_update"
        | "group_participants_update"
        | "group_settings_update"
        | "group_status_update" => fields::groups(&cx(), events),
        "history" => fields::history(&cx(), events),
        "smb_app_state_sync" => fields::contact_sync(&cx(), events),
        _ => fields::unsupported(&cx(), events),
    }
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
            raw: RawJson::from_value(error),
        }));
    }
    Ok(())
}

fn read_contact(value: &Value, path: &str) -> Result<Contact, WebhookError> {
    let contact = object(value, path)?;
    let mut out = Contact {
        wa_id: optional_id(contact, "wa_id", path)?,
        user_id: optional_str(contact, "user_id", path)?,
        raw: RawJson::from_value(value),
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
    let content = Content::of_value(&kind, value);

    Ok(InboundMessage {
        waba_id: cx.waba_id.clone(),
        phone_number_id: cx.phone_number_id.clone(),
        display_phone_number: cx.display_phone_number.clone(),
        id,
        from,
        from_user_id,
        to: None,
        to_user_id: None,
        timestamp,
        kind,
        context,
        contact,
        errors,
        raw: RawJson::from_value(value),
        content,
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
        MessageType::Edit | MessageType::Revoke => &["original_message_id"],
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
        if let Some(flow) = optional_object(content, "nfm_reply", &content_path)? {
            let flow_path = child(&content_path, "nfm_reply");
            optional_str(flow, "body", &flow_path)?;
            // The answer is JSON inside a string: read here, so a broken one is an error
            // with its path rather than a silent `None` from `flow_response`.
            if let Some(json) = optional_str(flow, "response_json", &flow_path)? {
                if !matches!(serde_json::from_str::<Value>(&json), Ok(Value::Object(_))) {
                    return Err(shape(
                        child(&flow_path, "response_json"),
                        "a JSON object in a string",
                        "a string that is not a JSON object",
                    ));
                }
            }
        }
        if let Some(reply) = optional_object(content, "call_permission_reply", &content_path)? {
            optional_str(
                reply,
                "response",
                &child(&content_path, "call_permission_reply"),
            )?;
        }
    }
    if *kind == MessageType::Edit {
        if let Some(edited) = optional_object(content, "message", &content_path)? {
            let edited_path = child(&content_path, "message");
            let edited_kind = MessageType::parse(
                optional_str(edited, "type", &edited_path)?
                    .as_deref()
                    .unwrap_or(""),
            );
            if edited_kind != MessageType::Edit {
                check_content(&edited_kind, edited, &edited_path)?;
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
        raw: RawJson::from_value(value),
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

/// A count or duration: a non-negative integer (or a string of digits).
fn optional_u64(parent: &Object, key: &str, path: &str) -> Result<Option<u64>, WebhookError> {
    const EXPECTED: &str = "a non-negative integer";
    match present(parent, key) {
        None => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| {
            shape(
                child(path, key),
                EXPECTED,
                "a negative or fractional number",
            )
        }),
        Some(Value::String(text)) => text.trim().parse().map(Some).map_err(|_| {
            shape(
                child(path, key),
                EXPECTED,
                "a string that is not an integer",
            )
        }),
        Some(other) => Err(shape(child(path, key), EXPECTED, describe(other))),
    }
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
