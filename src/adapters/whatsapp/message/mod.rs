//! The typed send-request model: the body of `POST /{version}/{phone-number-id}/messages`.
//!
//! [`OutgoingMessage`] is the whole request body. Its content is a [`Content`] chosen by
//! the wire's `type`: [`Text`], [`Template`] (with [`Component`]s and [`Parameter`]s),
//! [`Media`] for image, audio, video, document and sticker, [`Interactive`] (reply
//! buttons, lists; other interactive kinds keep their action as JSON), [`Location`],
//! contact cards (as JSON) and [`Reaction`]. Every struct keeps the fields it does not name
//! in `extra`, and any part the typed model cannot represent *exactly* (an unknown message
//! type, a parameter of an unknown type, an integer button `index`) is kept as raw JSON
//! (`Other`), so reading a body and writing it back never changes it.
//!
//! # Why the serde code is partly by hand
//!
//! The wire tags content twice: `{"type": "image", "image": {…}}`. Serde's derives express
//! "a tag field" (internally tagged) or "a key named after the variant" (externally
//! tagged), not both, and combining an internally tagged enum with `#[serde(flatten)]`
//! buffers the input through serde's private content type, where `deny_unknown_fields`
//! stops working and a fallback variant cannot see the original value. So the tagged
//! enums ([`Content`], [`Component`], [`Parameter`], [`InteractiveHeader`]) read a
//! `serde_json::Value` and write a map by hand, and accept a typed reading only if writing
//! it back gives the same JSON; everything else is derived.
//!
//! # Mapped payloads
//!
//! A flow's `FieldMap` produces a small JSON object per record;
//! [`OutgoingMessage::from_payload`] validates it and builds the request. The forms, one
//! per [`MessageKind`]:
//!
//! **`whatsapp.template`**: an approved template (the only kind allowed outside the
//! 24-hour customer-service window).
//!
//! ```json
//! {
//!   "to": "5511999991234",
//!   "template": "wo_assignment",
//!   "language": "pt_BR",
//!   "header": {"type": "document", "link": "https://erp.example.com/wo/1021.pdf", "filename": "OT-1021.pdf"},
//!   "body": ["Jonas", "OT-1021", {"type": "currency", "currency": {"fallback_value": "R$ 10,00", "code": "BRL", "amount_1000": 10000}}],
//!   "buttons": [{"sub_type": "quick_reply", "payload": "confirm"}, {"sub_type": "url", "text": "1021"}],
//!   "reply_to": "wamid.HBgM…",
//!   "callback_data": "fracttal:wo:1021"
//! }
//! ```
//!
//! * `header` (optional): `{"type": "document", "link" | "id", "filename"?}`,
//!   `{"type": "image" | "video", "link" | "id"}` or `{"type": "text", "text": "…"}`.
//! * `body` (optional): a list of values (strings become text parameters, numbers their
//!   decimal text, objects pass through as typed `text`, `currency` or `date_time`
//!   parameters), or an object of named parameters `{"customer_name": "Jonas"}` for
//!   templates created with named parameters (each becomes a text parameter with
//!   `parameter_name`).
//! * `buttons` (optional): `{"sub_type": "quick_reply", "payload": "…"}` or
//!   `{"sub_type": "url", "text": "<URL suffix>"}`, each with an optional `index` (0–9);
//!   without it the button's position is its index.
//!
//! **`whatsapp.text`** (inside the window only):
//! `{"to": "5511999991234", "text": "Your work order OT-1021 is done.", "preview_url": false, "reply_to": "wamid.…"}`
//!
//! **`whatsapp.document`** (inside the window only):
//! `{"to": "5511999991234", "link": "https://erp.example.com/wo/1021.pdf", "filename": "OT-1021.pdf", "caption": "Work order"}`
//! (or `"id"`: an uploaded media id, instead of `link`).
//!
//! **`whatsapp.interactive`**, reply buttons (inside the window only):
//!
//! ```json
//! {"to": "5511999991234", "header": "OT-1021", "body": "Can you take this work order?",
//!  "footer": "Maintenance", "buttons": [{"id": "accept", "title": "Accept"}, {"id": "decline", "title": "Decline"}]}
//! ```
//!
//! Every form also takes `reply_to` (the wamid of a message to quote) and `callback_data`
//! (sent as `biz_opaque_callback_data`, which Meta echoes in status webhooks; at most 512
//! characters). Optional fields may be `null` or an empty string, which is what a mapping
//! produces for a missing value; both mean "absent".
//!
//! Validation happens before anything is sent; each problem is a
//! [`TargetError::InvalidField`](crate::TargetError::InvalidField) naming the payload field:
//!
//! * `to`: a phone number is normalised to digits with country code (`+`, spaces, dashes
//!   and parentheses are dropped; 8 to 15 digits; no leading 0). Anything else is a
//!   mapping error for that record rather than a request Meta would reject. A BSUID
//!   (`user.…`) is sent as it is.
//! * `template`, `language`: required; a language is a code such as `en`, `en_US` or
//!   `pt_BR` (underscore, case as approved; `pt-BR` is rejected with the fix).
//! * template text parameters: not empty, no new line or tab, at most 4 consecutive spaces
//!   (Meta answers error 100 otherwise).
//! * text: 1 to 4096 characters. Interactive: body 1 to 1024 characters, text header and
//!   footer up to 60; reply buttons: 1 to 3, unique ids (up to 256 characters) and titles
//!   (1 to 20); lists: a button label up to 20, 1 to 10 sections (titles up to 24, required
//!   when there are several), 1 to 10 rows in all, unique row ids up to 200, row titles up
//!   to 24, descriptions up to 72, text headers only; CTA URL: a label up to 20 and an
//!   http(s) URL; location requests: a body only. Document: exactly one of `link` (http or
//!   https) and `id`. Each error names the field's path (`list.sections.1.rows.0.title`)
//!   and the limit.
//! * Unknown fields are rejected, with the allowed ones listed: a typo in a field map
//!   must not silently drop a value.

mod content;
mod interactive;
mod open_enum;
mod payload;
mod receipt;
mod template;
#[cfg(test)]
mod tests;

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use content::{Content, Location, Media, Reaction, Text};
pub use interactive::{
    ButtonReply, Interactive, InteractiveAction, InteractiveHeader, InteractiveKind,
    InteractiveText, ListRow, ListSection, ReplyButton,
};
pub use payload::MessageKind;
pub use receipt::SendReceipt;
pub use template::{
    ButtonSubType, Component, Currency, DateTimeParameter, Language, Parameter, Template,
};

/// The most characters Meta keeps in `biz_opaque_callback_data`.
pub const MAX_CALLBACK_DATA_CHARS: usize = 512;

/// The message types this model reads into typed content; a body without `type` is read
/// as the one of these whose key it carries.
const KNOWN_KINDS: &[&str] = &[
    "text",
    "template",
    "image",
    "audio",
    "video",
    "document",
    "sticker",
    "interactive",
    "location",
    "contacts",
    "reaction",
];

/// A send request: the JSON body of `POST /{version}/{phone-number-id}/messages`.
///
/// Build one from a mapped flow payload with [`OutgoingMessage::from_payload`] (validated),
/// or in Rust with [`OutgoingMessage::text`], [`OutgoingMessage::template`] or
/// [`OutgoingMessage::new`] (not validated: the caller vouches for the values). It
/// serializes to exactly the wire body, and any body Meta documents deserializes into it
/// and serializes back unchanged.
///
/// ```
/// use hubflow::whatsapp::OutgoingMessage;
/// use serde_json::json;
///
/// let message = OutgoingMessage::template("5511999991234", "wo_assignment", "pt_BR")
///     .body_text_params(["Jonas", "OT-1021"]);
/// assert_eq!(serde_json::to_value(&message).unwrap(), json!({
///     "messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511999991234",
///     "type": "template",
///     "template": {"name": "wo_assignment", "language": {"code": "pt_BR"}, "components": [
///         {"type": "body", "parameters": [{"type": "text", "text": "Jonas"}, {"type": "text", "text": "OT-1021"}]}
///     ]}
/// }));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingMessage {
    /// Always `whatsapp` for the Cloud API.
    pub messaging_product: String,
    /// `individual` (Meta's default when absent).
    pub recipient_type: Option<String>,
    /// The recipient: international digits (`5511999991234`) or a BSUID (`user.…`).
    pub to: String,
    /// The message this one replies to (quotes).
    pub context: Option<ReplyContext>,
    /// Data Meta echoes in this message's status webhooks (at most 512 characters).
    pub biz_opaque_callback_data: Option<String>,
    /// What is sent, by `type`.
    pub content: Content,
    /// Top-level fields this model does not name, sent as they are.
    pub extra: Map<String, Value>,
    /// Whether the body was read without `type` (Meta accepts that for text): written
    /// back the same way, so reading and writing never changes a body.
    type_omitted: bool,
}

impl OutgoingMessage {
    /// A message to `to` with this content, `messaging_product` `whatsapp` and
    /// `recipient_type` `individual`.
    pub fn new(to: impl Into<String>, content: Content) -> Self {
        OutgoingMessage {
            messaging_product: "whatsapp".to_owned(),
            recipient_type: Some("individual".to_owned()),
            to: to.into(),
            context: None,
            biz_opaque_callback_data: None,
            content,
            extra: Map::new(),
            type_omitted: false,
        }
    }

    /// A text message (free-form: only inside the 24-hour window).
    pub fn text(to: impl Into<String>, body: impl Into<String>) -> Self {
        OutgoingMessage::new(to, Content::Text(Text::new(body)))
    }

    /// A template message without parameters; add them with
    /// [`body_text_params`](OutgoingMessage::body_text_params) or through
    /// [`Template::components`].
    pub fn template(
        to: impl Into<String>,
        name: impl Into<String>,
        language: impl Into<String>,
    ) -> Self {
        OutgoingMessage::new(to, Content::Template(Template::new(name, language)))
    }

    /// Adds a body component with these text parameters, in order, to a template message.
    /// Other kinds of message have no template parameters and are returned unchanged.
    #[must_use]
    pub fn body_text_params<I, S>(mut self, params: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        if let Content::Template(template) = &mut self.content {
            template.components.push(Component::Body {
                parameters: params.into_iter().map(Parameter::text).collect(),
            });
        }
        self
    }

    /// Makes this message a reply to (a quote of) the message with this wamid.
    #[must_use]
    pub fn reply_to(mut self, message_id: impl Into<String>) -> Self {
        self.context = Some(ReplyContext::new(message_id));
        self
    }

    /// The recipient.
    pub fn to(&self) -> &str {
        &self.to
    }

    /// Whether this is a template message. Everything else is free-form, which Meta only
    /// delivers inside the 24-hour customer-service window (error 131047 otherwise).
    pub fn is_template(&self) -> bool {
        self.content.kind() == "template"
    }

    /// Sets `biz_opaque_callback_data`, which Meta echoes in the status webhooks of this
    /// message (the flow puts the record key there to link statuses to records).
    ///
    /// Meta keeps at most 512 characters, so longer data is cut to its first 512
    /// characters here, where the cut is predictable, rather than rejected by Meta. Keep
    /// correlation keys shorter than that. ([`from_payload`](OutgoingMessage::from_payload)
    /// rejects a longer mapped `callback_data` instead: there it is a mapping error.)
    pub fn set_callback_data(&mut self, data: impl Into<String>) {
        let mut data = data.into();
        if let Some((cut, _)) = data.char_indices().nth(MAX_CALLBACK_DATA_CHARS) {
            data.truncate(cut);
        }
        self.biz_opaque_callback_data = Some(data);
    }
}

impl Serialize for OutgoingMessage {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("messaging_product", &self.messaging_product)?;
        if let Some(recipient_type) = &self.recipient_type {
            map.serialize_entry("recipient_type", recipient_type)?;
        }
        map.serialize_entry("to", &self.to)?;
        if let Some(context) = &self.context {
            map.serialize_entry("context", context)?;
        }
        if let Some(data) = &self.biz_opaque_callback_data {
            map.serialize_entry("biz_opaque_callback_data", data)?;
        }
        let kind = self.content.kind();
        if !self.type_omitted {
            map.serialize_entry("type", kind)?;
        }
        self.content.serialize_body(&mut map)?;
        for (key, value) in &self.extra {
            // A key the named fields already wrote must not appear twice in the object.
            let written = match key.as_str() {
                "messaging_product" | "to" => true,
                "recipient_type" => self.recipient_type.is_some(),
                "context" => self.context.is_some(),
                "biz_opaque_callback_data" => self.biz_opaque_callback_data.is_some(),
                "type" => !self.type_omitted,
                key if key == kind => !matches!(self.content, Content::Other { body: None, .. }),
                _ => false,
            };
            if !written {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for OutgoingMessage {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let mut map = Map::<String, Value>::deserialize(deserializer)?;
        let messaging_product = take_string(&mut map, "messaging_product")?
            .ok_or_else(|| D::Error::missing_field("messaging_product"))?;
        let to = take_string(&mut map, "to")?.ok_or_else(|| D::Error::missing_field("to"))?;
        let recipient_type = take_string(&mut map, "recipient_type")?;
        let biz_opaque_callback_data = take_string(&mut map, "biz_opaque_callback_data")?;
        // A context of another shape stays in `extra`, unchanged.
        let context = match map.get("context").and_then(exact::<ReplyContext>) {
            Some(context) => {
                map.remove("context");
                Some(context)
            }
            None => None,
        };
        let (kind, type_omitted) = match take_string(&mut map, "type")? {
            Some(kind) => (kind, false),
            None => {
                let mut present = KNOWN_KINDS.iter().filter(|k| map.contains_key(**k));
                match (present.next(), present.next()) {
                    (Some(kind), None) => ((*kind).to_owned(), true),
                    _ => return Err(D::Error::missing_field("type")),
                }
            }
        };
        let body = map.remove(&kind);
        Ok(OutgoingMessage {
            messaging_product,
            recipient_type,
            to,
            context,
            biz_opaque_callback_data,
            content: Content::from_wire(kind, body),
            extra: map,
            type_omitted,
        })
    }
}

/// Removes `key` from `map` if it is a string; an error if it is anything else.
fn take_string<E: serde::de::Error>(
    map: &mut Map<String, Value>,
    key: &'static str,
) -> Result<Option<String>, E> {
    match map.remove(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(E::invalid_type(unexpected(&other), &"a string")),
    }
}

fn unexpected(value: &Value) -> serde::de::Unexpected<'_> {
    use serde::de::Unexpected;
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(_) => Unexpected::Other("a number"),
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

/// `value` read as a `T`, if `T` represents it exactly (writing it back gives `value`).
/// The typed model is used only where it loses nothing; elsewhere the JSON is kept.
fn exact<T: DeserializeOwned + Serialize>(value: &Value) -> Option<T> {
    let typed = T::deserialize(value).ok()?;
    (serde_json::to_value(&typed).ok()? == *value).then_some(typed)
}

/// `read(value)`, if it represents `value` exactly.
fn exact_with<T: Serialize>(value: &Value, read: impl FnOnce(&Value) -> Option<T>) -> Option<T> {
    let typed = read(value)?;
    (serde_json::to_value(&typed).ok()? == *value).then_some(typed)
}

/// The value of a field read as a `T`, when the field is present and has that shape.
fn from_field<T: DeserializeOwned>(value: Option<&Value>) -> Option<T> {
    T::deserialize(value?).ok()
}

/// The `context` of a reply: the wamid of the message being quoted.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReplyContext {
    /// The wamid of the message replied to.
    pub message_id: String,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ReplyContext {
    /// A reply to the message with this wamid.
    pub fn new(message_id: impl Into<String>) -> Self {
        ReplyContext {
            message_id: message_id.into(),
            extra: Map::new(),
        }
    }
}
