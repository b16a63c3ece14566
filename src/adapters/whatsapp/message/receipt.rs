//! The success answer of a send.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Receipt;

/// What Meta answers when it accepts a message (HTTP 200):
///
/// ```json
/// {"messaging_product": "whatsapp",
///  "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
///  "messages": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA"}]}
/// ```
///
/// Accepted is not delivered: delivery, reads and late failures arrive as status
/// webhooks for the `wamid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendReceipt {
    /// `messages[0].id`: the message's id, which status webhooks refer to.
    pub wamid: String,
    /// `contacts[0].wa_id`: the recipient's WhatsApp id (`None` when absent or empty, as
    /// for sends to a BSUID).
    pub wa_id: Option<String>,
    /// `contacts[0].user_id`: the recipient's BSUID, when Meta gives it.
    pub user_id: Option<String>,
    /// `contacts[0].input`: the `to` as sent.
    pub input: Option<String>,
    /// `messages[0].message_status`: `accepted`, `held_for_quality_assessment` or `paused`.
    pub message_status: Option<String>,
}

impl SendReceipt {
    /// Reads a success answer. The error says what is missing (the body is not JSON, has
    /// no `messages[0].id`, …); never panics, whatever the bytes.
    ///
    /// ```
    /// use hubflow::whatsapp::SendReceipt;
    /// let body = br#"{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgL"}]}"#;
    /// let receipt = SendReceipt::from_body(body).unwrap();
    /// assert_eq!(receipt.wamid, "wamid.HBgL");
    /// assert_eq!(receipt.wa_id.as_deref(), Some("16505551234"));
    /// assert!(SendReceipt::from_body(br#"{"success":true}"#).is_err());
    /// ```
    pub fn from_body(body: &[u8]) -> Result<SendReceipt, String> {
        match Self::from_typed_body(body) {
            Some(receipt) => Ok(receipt),
            None => Self::from_value_body(body),
        }
    }

    /// The answer as Meta sends it, read straight into borrowed fields; `None` for
    /// anything else, which [`SendReceipt::from_value_body`] then reads to say what is
    /// wrong (or to accept it: a contact that is not an object only lacks its fields).
    fn from_typed_body(body: &[u8]) -> Option<SendReceipt> {
        use std::borrow::Cow;
        #[derive(Deserialize)]
        struct Answer<'a> {
            #[serde(borrow)]
            messages: Vec<Fields<'a>>,
            #[serde(borrow, default)]
            contacts: Vec<Fields<'a>>,
        }
        #[derive(Deserialize)]
        struct Fields<'a> {
            #[serde(borrow, default)]
            id: Option<Cow<'a, str>>,
            #[serde(borrow, default)]
            message_status: Option<Cow<'a, str>>,
            #[serde(borrow, default)]
            wa_id: Option<Cow<'a, str>>,
            #[serde(borrow, default)]
            user_id: Option<Cow<'a, str>>,
            #[serde(borrow, default)]
            input: Option<Cow<'a, str>>,
        }
        let answer: Answer<'_> = serde_json::from_slice(body).ok()?;
        let message = answer.messages.into_iter().next()?;
        let wamid = message.id.filter(|id| !id.trim().is_empty())?;
        let contact = answer.contacts.into_iter().next();
        let text =
            |value: Option<Cow<'_, str>>| value.filter(|s| !s.is_empty()).map(Cow::into_owned);
        let (wa_id, user_id, input) = match contact {
            Some(c) => (text(c.wa_id), text(c.user_id), text(c.input)),
            None => (None, None, None),
        };
        Some(SendReceipt {
            wamid: wamid.into_owned(),
            wa_id,
            user_id,
            input,
            message_status: text(message.message_status),
        })
    }

    /// [`SendReceipt::from_body`] over a JSON value: slower, and says what is missing.
    fn from_value_body(body: &[u8]) -> Result<SendReceipt, String> {
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| format!("the send answer is not JSON ({e})"))?;
        let Some(answer) = value.as_object() else {
            return Err("the send answer is not a JSON object".to_owned());
        };
        let message = match answer.get("messages") {
            None => return Err("the send answer has no `messages` (so no wamid)".to_owned()),
            Some(Value::Array(messages)) => messages
                .first()
                .and_then(Value::as_object)
                .ok_or_else(|| "the send answer's `messages` has no message object".to_owned())?,
            Some(_) => return Err("the send answer's `messages` is not a list".to_owned()),
        };
        let wamid = match message.get("id") {
            Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
            Some(Value::String(_)) => {
                return Err("`messages[0].id` (the wamid) is empty".to_owned())
            }
            Some(_) => return Err("`messages[0].id` (the wamid) is not a string".to_owned()),
            None => return Err("the send answer has no `messages[0].id` (the wamid)".to_owned()),
        };
        let contact = answer
            .get("contacts")
            .and_then(Value::as_array)
            .and_then(|contacts| contacts.first())
            .and_then(Value::as_object);
        let text = |object: Option<&Map<String, Value>>, key: &str| {
            object
                .and_then(|object| object.get(key))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(SendReceipt {
            wamid,
            wa_id: text(contact, "wa_id"),
            user_id: text(contact, "user_id"),
            input: text(contact, "input"),
            message_status: text(Some(message), "message_status"),
        })
    }

    /// The crate's [`Receipt`] for an accepted send with this HTTP status: the wamid as its
    /// id, and `wa_id`, `user_id`, `input` and `message_status` (those present) as details.
    pub fn to_receipt(&self, status: u16) -> Receipt {
        let mut details = Map::new();
        for (key, value) in [
            ("wa_id", &self.wa_id),
            ("user_id", &self.user_id),
            ("input", &self.input),
            ("message_status", &self.message_status),
        ] {
            if let Some(value) = value {
                details.insert(key.to_owned(), Value::from(value.as_str()));
            }
        }
        let receipt = Receipt::new(status).with_id(self.wamid.as_str());
        if details.is_empty() {
            receipt
        } else {
            receipt.with_details(Value::Object(details))
        }
    }
}

#[cfg(test)]
mod tests;
