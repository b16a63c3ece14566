//! v2 events: message events become message records, chat events chat records, every
//! other family an event record.

use serde_json::{Map, Value};

use super::keys::event_key;
use super::model::{account, chat, extra, message_record, Shared};
use super::read::{clip, opt, present, required_object, Obj};
use super::{WebhookError, CHAT, EVENT};
use crate::Record;

/// What an event type announces.
pub(super) enum Family {
    Message { direction: Option<&'static str> },
    Chat,
    Other,
}

/// Event names are `family:…:action` in lower case; both spellings TimelinesAI documents
/// are accepted (`chat:created` and `chat:new`, `chat:received:created` and
/// `chat:incoming:new`, …).
pub(super) fn family(event_type: &str) -> Result<Family, WebhookError> {
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
pub(super) fn chat_event(event_type: &str) -> (String, Option<&'static str>) {
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

pub(super) fn v2(
    top: &Obj,
    event_type: &str,
    payload: &Value,
) -> Result<Vec<Record>, WebhookError> {
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
