//! v1 payloads: a single message, or a bundle of a chat's messages.

use serde_json::{Map, Value};

use super::model::{account, chat, extra, message_record, Shared};
use super::read::{instant, opt, present, rfc3339, text, wrong_type, Obj};
use super::WebhookError;
use crate::Record;

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

pub(super) fn v1(top: &Obj) -> Result<Vec<Record>, WebhookError> {
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
