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
//! * text: 1 to 4096 characters. Interactive: body 1 to 1024 characters, header and footer
//!   up to 60, 1 to 3 buttons with unique ids (up to 256 characters) and titles of 1 to 20
//!   characters. Document: exactly one of `link` (http or https) and `id`.
//! * Unknown fields are rejected, with the allowed ones listed: a typo in a field map
//!   must not silently drop a value.

mod payload;
mod receipt;

use std::fmt;

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

pub use payload::MessageKind;
pub use receipt::SendReceipt;

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

/// What a message carries, by its wire `type`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Content {
    /// `text`: a text message.
    Text(Text),
    /// `template`: an approved template.
    Template(Template),
    /// `image`
    Image(Media),
    /// `audio`
    Audio(Media),
    /// `video`
    Video(Media),
    /// `document`
    Document(Media),
    /// `sticker`
    Sticker(Media),
    /// `interactive`: reply buttons, lists, flows, products (boxed: it is by far the
    /// largest variant).
    Interactive(Box<Interactive>),
    /// `location`
    Location(Location),
    /// `contacts`: contact cards, kept as JSON (not modelled field by field).
    Contacts(Vec<Value>),
    /// `reaction`: an emoji on an earlier message.
    Reaction(Reaction),
    /// Any other type, or a known type whose content the typed model cannot represent
    /// exactly; sent as it is.
    Other {
        /// The wire `type`.
        kind: String,
        /// The value under the key named after the type, if there was one.
        body: Option<Value>,
    },
}

impl Content {
    /// The wire `type` (`text`, `template`, `image`, …).
    pub fn kind(&self) -> &str {
        match self {
            Content::Text(_) => "text",
            Content::Template(_) => "template",
            Content::Image(_) => "image",
            Content::Audio(_) => "audio",
            Content::Video(_) => "video",
            Content::Document(_) => "document",
            Content::Sticker(_) => "sticker",
            Content::Interactive(_) => "interactive",
            Content::Location(_) => "location",
            Content::Contacts(_) => "contacts",
            Content::Reaction(_) => "reaction",
            Content::Other { kind, .. } => kind,
        }
    }

    fn from_wire(kind: String, body: Option<Value>) -> Content {
        let Some(body) = body else {
            return Content::Other { kind, body: None };
        };
        let typed = match kind.as_str() {
            "text" => exact(&body).map(Content::Text),
            "template" => exact(&body).map(Content::Template),
            "image" => exact(&body).map(Content::Image),
            "audio" => exact(&body).map(Content::Audio),
            "video" => exact(&body).map(Content::Video),
            "document" => exact(&body).map(Content::Document),
            "sticker" => exact(&body).map(Content::Sticker),
            "interactive" => exact(&body).map(|i| Content::Interactive(Box::new(i))),
            "location" => exact(&body).map(Content::Location),
            "contacts" => exact(&body).map(Content::Contacts),
            "reaction" => exact(&body).map(Content::Reaction),
            _ => None,
        };
        typed.unwrap_or(Content::Other {
            kind,
            body: Some(body),
        })
    }

    /// Writes the entry keyed by the type (`"text": {…}`), if there is one.
    fn serialize_body<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        let kind = self.kind();
        match self {
            Content::Text(text) => map.serialize_entry(kind, text),
            Content::Template(template) => map.serialize_entry(kind, template),
            Content::Image(media)
            | Content::Audio(media)
            | Content::Video(media)
            | Content::Document(media)
            | Content::Sticker(media) => map.serialize_entry(kind, media),
            Content::Interactive(interactive) => map.serialize_entry(kind, interactive),
            Content::Location(location) => map.serialize_entry(kind, location),
            Content::Contacts(contacts) => map.serialize_entry(kind, contacts),
            Content::Reaction(reaction) => map.serialize_entry(kind, reaction),
            Content::Other {
                body: Some(body), ..
            } => map.serialize_entry(kind, body),
            Content::Other { body: None, .. } => Ok(()),
        }
    }
}

/// The `text` of a text message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Text {
    /// The message (up to 4096 characters).
    pub body: String,
    /// Whether WhatsApp shows a preview of the first URL in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<bool>,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Text {
    /// A text body without URL preview setting.
    pub fn new(body: impl Into<String>) -> Self {
        Text {
            body: body.into(),
            ..Text::default()
        }
    }
}

/// A media object: `image`, `audio`, `video`, `document` or `sticker`, or a media
/// parameter of a template. Exactly one of `link` and `id` should be set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Media {
    /// An uploaded media id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// An http(s) URL Meta downloads the media from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// A caption (not for audio, stickers or template document headers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The file name shown for a document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Media {
    /// Media Meta downloads from this URL.
    pub fn from_link(link: impl Into<String>) -> Self {
        Media {
            link: Some(link.into()),
            ..Media::default()
        }
    }

    /// Media uploaded before, by its id.
    pub fn from_id(id: impl Into<String>) -> Self {
        Media {
            id: Some(id.into()),
            ..Media::default()
        }
    }

    /// Sets the file name (documents).
    #[must_use]
    pub fn with_filename(mut self, filename: impl Into<String>) -> Self {
        self.filename = Some(filename.into());
        self
    }

    /// Sets the caption.
    #[must_use]
    pub fn with_caption(mut self, caption: impl Into<String>) -> Self {
        self.caption = Some(caption.into());
        self
    }
}

/// The `template` of a template message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Template {
    /// The approved template's name.
    pub name: String,
    /// The approved language.
    pub language: Language,
    /// Header, body and button parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Template {
    /// A template by name and language code (`pt_BR`), without parameters.
    pub fn new(name: impl Into<String>, language: impl Into<String>) -> Self {
        Template {
            name: name.into(),
            language: Language::new(language),
            ..Template::default()
        }
    }
}

/// A template's `language`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Language {
    /// The code the template was approved in (`en_US`, `pt_BR`); case-sensitive.
    pub code: String,
    /// `deterministic`, the only policy; Meta's examples omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Language {
    /// A language by code, without policy.
    pub fn new(code: impl Into<String>) -> Self {
        Language {
            code: code.into(),
            ..Language::default()
        }
    }
}

/// A template component: the values for the header, the body or one button.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Component {
    /// `{"type": "header", "parameters": […]}`
    Header {
        /// The header's parameter (one text or media parameter).
        parameters: Vec<Parameter>,
    },
    /// `{"type": "body", "parameters": […]}`
    Body {
        /// The body's `{{n}}` (or named) parameters, in order.
        parameters: Vec<Parameter>,
    },
    /// `{"type": "button", "sub_type": …, "index": "0", "parameters": […]}`
    Button {
        /// The kind of button.
        sub_type: ButtonSubType,
        /// The button's position in the template, 0 to 9 (a string on the wire).
        index: u8,
        /// A `payload` parameter (quick reply) or a `text` URL suffix (url).
        parameters: Vec<Parameter>,
    },
    /// Any other component, or one the typed model cannot represent exactly (an integer
    /// `index`, extra fields); sent as it is.
    Other(Value),
}

impl Component {
    /// A quick-reply button at `index` whose tap returns `payload`.
    pub fn quick_reply(index: u8, payload: impl Into<String>) -> Self {
        Component::Button {
            sub_type: ButtonSubType::QuickReply,
            index,
            parameters: vec![Parameter::Payload(payload.into())],
        }
    }

    /// A URL button at `index` whose dynamic URL ends with `suffix`.
    pub fn url_button(index: u8, suffix: impl Into<String>) -> Self {
        Component::Button {
            sub_type: ButtonSubType::Url,
            index,
            parameters: vec![Parameter::text(suffix)],
        }
    }

    fn typed(value: &Value) -> Option<Component> {
        let object = value.as_object()?;
        let parameters = || Vec::<Parameter>::deserialize(object.get("parameters")?).ok();
        match object.get("type")?.as_str()? {
            "header" => Some(Component::Header {
                parameters: parameters()?,
            }),
            "body" => Some(Component::Body {
                parameters: parameters()?,
            }),
            "button" => Some(Component::Button {
                sub_type: ButtonSubType::from(object.get("sub_type")?.as_str()?),
                index: object.get("index")?.as_str()?.parse().ok()?,
                parameters: parameters()?,
            }),
            _ => None,
        }
    }
}

impl Serialize for Component {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, parameters) = match self {
            Component::Header { parameters } => ("header", parameters),
            Component::Body { parameters } => ("body", parameters),
            Component::Button { parameters, .. } => ("button", parameters),
            Component::Other(value) => return value.serialize(serializer),
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", kind)?;
        if let Component::Button {
            sub_type, index, ..
        } = self
        {
            map.serialize_entry("sub_type", sub_type)?;
            map.serialize_entry("index", &index.to_string())?;
        }
        map.serialize_entry("parameters", parameters)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Component {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(exact_with(&value, Component::typed).unwrap_or(Component::Other(value)))
    }
}

/// `read(value)`, if it represents `value` exactly.
fn exact_with<T: Serialize>(value: &Value, read: impl FnOnce(&Value) -> Option<T>) -> Option<T> {
    let typed = read(value)?;
    (serde_json::to_value(&typed).ok()? == *value).then_some(typed)
}

/// A template parameter, tagged by `type` on the wire.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Parameter {
    /// `{"type": "text", "text": "…", "parameter_name"?: "…"}`
    Text {
        /// The value; not empty, no new line or tab, at most 4 consecutive spaces.
        text: String,
        /// The name, for templates with named parameters.
        parameter_name: Option<String>,
    },
    /// `{"type": "currency", "currency": {…}}`
    Currency(Currency),
    /// `{"type": "date_time", "date_time": {…}}`
    DateTime(DateTimeParameter),
    /// `{"type": "image", "image": {"link" | "id"}}`
    Image(Media),
    /// `{"type": "document", "document": {"link" | "id", "filename"?}}`
    Document(Media),
    /// `{"type": "video", "video": {"link" | "id"}}`
    Video(Media),
    /// `{"type": "payload", "payload": "…"}`: what a quick-reply button returns when tapped.
    Payload(String),
    /// Any other parameter (a flow or catalog button's `action`), or one the typed model
    /// cannot represent exactly; sent as it is.
    Other(Value),
}

impl Parameter {
    /// A positional text parameter.
    pub fn text(text: impl Into<String>) -> Self {
        Parameter::Text {
            text: text.into(),
            parameter_name: None,
        }
    }

    /// A named text parameter, for templates created with named parameters.
    pub fn named(name: impl Into<String>, text: impl Into<String>) -> Self {
        Parameter::Text {
            text: text.into(),
            parameter_name: Some(name.into()),
        }
    }

    /// The wire `type`.
    pub fn kind(&self) -> &str {
        match self {
            Parameter::Text { .. } => "text",
            Parameter::Currency(_) => "currency",
            Parameter::DateTime(_) => "date_time",
            Parameter::Image(_) => "image",
            Parameter::Document(_) => "document",
            Parameter::Video(_) => "video",
            Parameter::Payload(_) => "payload",
            Parameter::Other(value) => value.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    fn typed(value: &Value) -> Option<Parameter> {
        let object = value.as_object()?;
        let kind = object.get("type")?.as_str()?;
        let field = |key: &str| object.get(key);
        Some(match kind {
            "text" => Parameter::Text {
                text: field("text")?.as_str()?.to_owned(),
                parameter_name: match field("parameter_name") {
                    None => None,
                    Some(name) => Some(name.as_str()?.to_owned()),
                },
            },
            "currency" => Parameter::Currency(from_field(field("currency"))?),
            "date_time" => Parameter::DateTime(from_field(field("date_time"))?),
            "image" => Parameter::Image(from_field(field("image"))?),
            "document" => Parameter::Document(from_field(field("document"))?),
            "video" => Parameter::Video(from_field(field("video"))?),
            "payload" => Parameter::Payload(field("payload")?.as_str()?.to_owned()),
            _ => return None,
        })
    }
}

fn from_field<T: DeserializeOwned>(value: Option<&Value>) -> Option<T> {
    T::deserialize(value?).ok()
}

impl Serialize for Parameter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Parameter::Other(value) = self {
            return value.serialize(serializer);
        }
        let kind = self.kind();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", kind)?;
        match self {
            Parameter::Text {
                text,
                parameter_name,
            } => {
                map.serialize_entry(kind, text)?;
                if let Some(name) = parameter_name {
                    map.serialize_entry("parameter_name", name)?;
                }
            }
            Parameter::Currency(currency) => map.serialize_entry(kind, currency)?,
            Parameter::DateTime(date_time) => map.serialize_entry(kind, date_time)?,
            Parameter::Image(media) | Parameter::Document(media) | Parameter::Video(media) => {
                map.serialize_entry(kind, media)?
            }
            Parameter::Payload(payload) => map.serialize_entry(kind, payload)?,
            Parameter::Other(_) => {}
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Parameter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(exact_with(&value, Parameter::typed).unwrap_or(Parameter::Other(value)))
    }
}

/// A `currency` template parameter.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Currency {
    /// The text shown where the currency cannot be localised (`R$ 100,99`).
    pub fallback_value: String,
    /// The ISO 4217 code (`BRL`).
    pub code: String,
    /// The amount times 1000 (100.99 → 100990).
    pub amount_1000: i64,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `date_time` template parameter. Meta renders `fallback_value`; the other fields
/// (`calendar`, `year`, `month`, …) are kept in `extra` as given.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DateTimeParameter {
    /// The date as shown to the recipient.
    pub fallback_value: String,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Declares a string enum that keeps unknown values, so reading one never fails and
/// writing it back gives the same string.
macro_rules! open_string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// Any other value, kept as it is.
            Other(String),
        }

        impl $name {
            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)*
                    $name::Other(other) => other,
                }
            }
        }

        impl From<&str> for $name {
            fn from(value: &str) -> Self {
                match value {
                    $($wire => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = String::deserialize(deserializer)?;
                Ok($name::from(value.as_str()))
            }
        }
    };
}

open_string_enum! {
    /// A template button's `sub_type`.
    ButtonSubType {
        /// `quick_reply`: the tap returns the button's payload.
        QuickReply = "quick_reply",
        /// `url`: a URL button with a dynamic suffix.
        Url = "url",
        /// `catalog`
        Catalog = "catalog",
        /// `flow`
        Flow = "flow",
        /// `copy_code`
        CopyCode = "copy_code",
    }
}

open_string_enum! {
    /// An interactive message's `type`.
    InteractiveKind {
        /// `button`: up to 3 reply buttons.
        Button = "button",
        /// `list`: a menu of rows in sections.
        List = "list",
        /// `product`
        Product = "product",
        /// `product_list`
        ProductList = "product_list",
        /// `catalog_message`
        CatalogMessage = "catalog_message",
        /// `flow`
        Flow = "flow",
        /// `cta_url`
        CtaUrl = "cta_url",
    }
}

// Written out because the enum comes from a macro shared with enums that have no default.
#[allow(clippy::derivable_impls)]
impl Default for InteractiveKind {
    fn default() -> Self {
        InteractiveKind::Button
    }
}

/// The `interactive` object of an interactive message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Interactive {
    /// Which interactive message (`button`, `list`, …).
    #[serde(rename = "type")]
    pub kind: InteractiveKind,
    /// An optional header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<InteractiveHeader>,
    /// The body text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<InteractiveText>,
    /// An optional footer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<InteractiveText>,
    /// The buttons, list sections or other action.
    pub action: InteractiveAction,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Interactive {
    /// A reply-button message.
    pub fn buttons(body: impl Into<String>, buttons: Vec<ReplyButton>) -> Self {
        Interactive {
            kind: InteractiveKind::Button,
            body: Some(InteractiveText::new(body)),
            action: InteractiveAction {
                buttons,
                ..InteractiveAction::default()
            },
            ..Interactive::default()
        }
    }

    /// A list message: `button` opens the menu of `sections`.
    pub fn list(
        body: impl Into<String>,
        button: impl Into<String>,
        sections: Vec<ListSection>,
    ) -> Self {
        Interactive {
            kind: InteractiveKind::List,
            body: Some(InteractiveText::new(body)),
            action: InteractiveAction {
                button: Some(button.into()),
                sections,
                ..InteractiveAction::default()
            },
            ..Interactive::default()
        }
    }
}

/// A `{"text": "…"}` object: an interactive body or footer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InteractiveText {
    /// The text.
    pub text: String,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl InteractiveText {
    /// A body or footer with this text.
    pub fn new(text: impl Into<String>) -> Self {
        InteractiveText {
            text: text.into(),
            extra: Map::new(),
        }
    }
}

/// An interactive message's header, tagged by `type` on the wire.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum InteractiveHeader {
    /// `{"type": "text", "text": "…"}`
    Text(String),
    /// `{"type": "image", "image": {…}}`
    Image(Media),
    /// `{"type": "video", "video": {…}}`
    Video(Media),
    /// `{"type": "document", "document": {…}}`
    Document(Media),
    /// Any other header, kept as it is.
    Other(Value),
}

impl InteractiveHeader {
    fn typed(value: &Value) -> Option<InteractiveHeader> {
        let object = value.as_object()?;
        let field = |key: &str| object.get(key);
        Some(match object.get("type")?.as_str()? {
            "text" => InteractiveHeader::Text(field("text")?.as_str()?.to_owned()),
            "image" => InteractiveHeader::Image(from_field(field("image"))?),
            "video" => InteractiveHeader::Video(from_field(field("video"))?),
            "document" => InteractiveHeader::Document(from_field(field("document"))?),
            _ => return None,
        })
    }
}

impl Serialize for InteractiveHeader {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, media) = match self {
            InteractiveHeader::Other(value) => return value.serialize(serializer),
            InteractiveHeader::Text(_) => ("text", None),
            InteractiveHeader::Image(media) => ("image", Some(media)),
            InteractiveHeader::Video(media) => ("video", Some(media)),
            InteractiveHeader::Document(media) => ("document", Some(media)),
        };
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("type", kind)?;
        match (self, media) {
            (InteractiveHeader::Text(text), _) => map.serialize_entry(kind, text)?,
            (_, Some(media)) => map.serialize_entry(kind, media)?,
            (_, None) => {}
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for InteractiveHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(exact_with(&value, InteractiveHeader::typed).unwrap_or(InteractiveHeader::Other(value)))
    }
}

/// An interactive message's `action`: reply buttons, or a list's button and sections.
/// The actions of flows, products and catalogs are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct InteractiveAction {
    /// Reply buttons (1 to 3) of a `button` message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<ReplyButton>,
    /// The label of the button that opens a list.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<String>,
    /// The sections of a list (or of a product list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<ListSection>,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A reply button: `{"type": "reply", "reply": {"id": "…", "title": "…"}}`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReplyButton {
    /// Always `reply`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The button's id and title.
    pub reply: ButtonReply,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ReplyButton {
    /// A reply button: `id` comes back in the tap's webhook, `title` is shown (≤ 20
    /// characters).
    pub fn new(id: impl Into<String>, title: impl Into<String>) -> Self {
        ReplyButton {
            kind: "reply".to_owned(),
            reply: ButtonReply {
                id: id.into(),
                title: title.into(),
                extra: Map::new(),
            },
            extra: Map::new(),
        }
    }
}

/// A reply button's id and title.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ButtonReply {
    /// Returned in the webhook when the button is tapped (unique in the message).
    pub id: String,
    /// Shown on the button (1 to 20 characters).
    pub title: String,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A section of a list message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ListSection {
    /// The section's title (required when there is more than one section).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The rows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rows: Vec<ListRow>,
    /// Fields this model does not name (a product list's `product_items`), kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A row of a list message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ListRow {
    /// Returned in the webhook when the row is chosen.
    pub id: String,
    /// Shown as the row's title.
    pub title: String,
    /// Shown under the title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `location` message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// The place's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The place's address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `reaction`: an emoji on an earlier message (an empty emoji removes it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Reaction {
    /// The wamid of the message reacted to.
    pub message_id: String,
    /// The emoji.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emoji: Option<String>,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn round_trip(body: Value) -> OutgoingMessage {
        let message: OutgoingMessage = serde_json::from_value(body.clone()).unwrap();
        assert_eq!(serde_json::to_value(&message).unwrap(), body);
        message
    }

    #[test]
    fn reads_a_template_into_typed_components() {
        let message = round_trip(json!({
            "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
            "type": "template", "biz_opaque_callback_data": "wo:1021",
            "context": {"message_id": "wamid.ABC"},
            "template": {"name": "wo_assignment", "language": {"code": "pt_BR", "policy": "deterministic"},
                "components": [
                    {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://x.example/wo.pdf", "filename": "wo.pdf"}}]},
                    {"type": "body", "parameters": [
                        {"type": "text", "text": "Jonas"},
                        {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}},
                        {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977", "year": 1977}}]},
                    {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "confirm"}]},
                    {"type": "button", "sub_type": "url", "index": "2", "parameters": [{"type": "text", "text": "abc"}]}
                ]}
        }));
        assert!(message.is_template());
        assert_eq!(message.to(), "16505551234");
        assert_eq!(message.context, Some(ReplyContext::new("wamid.ABC")));
        assert_eq!(message.biz_opaque_callback_data.as_deref(), Some("wo:1021"));
        let Content::Template(template) = &message.content else {
            panic!("not a template: {:?}", message.content)
        };
        assert_eq!(template.language.policy.as_deref(), Some("deterministic"));
        assert!(
            matches!(&template.components[0], Component::Header { parameters }
            if matches!(&parameters[0], Parameter::Document(m) if m.filename.as_deref() == Some("wo.pdf")))
        );
        let Component::Body { parameters } = &template.components[1] else {
            panic!("not a body")
        };
        assert_eq!(parameters[0], Parameter::text("Jonas"));
        assert!(matches!(&parameters[1], Parameter::Currency(c) if c.amount_1000 == 100990));
        assert!(matches!(&parameters[2], Parameter::DateTime(d) if d.extra["year"] == 1977));
        assert_eq!(template.components[2], Component::quick_reply(1, "confirm"));
        assert_eq!(template.components[3], Component::url_button(2, "abc"));
    }

    #[test]
    fn keeps_what_the_model_cannot_represent() {
        // An integer index, a boolean text and an action parameter stay raw JSON.
        let message = round_trip(json!({
            "messaging_product": "whatsapp", "to": "1", "type": "template",
            "template": {"name": "t", "language": {"code": "en_US"}, "components": [
                {"type": "button", "sub_type": "CATALOG", "index": 0, "parameters": [{"type": "action", "action": {"x": 1}}]},
                {"type": "body", "parameters": [{"type": "text", "text": true}, {"type": "text", "text": "a", "extra": 1}]}
            ]}
        }));
        let Content::Template(template) = &message.content else {
            panic!("not a template")
        };
        assert!(matches!(template.components[0], Component::Other(_)));
        let Component::Body { parameters } = &template.components[1] else {
            panic!("not a body")
        };
        assert!(matches!(parameters[0], Parameter::Other(_)));
        assert!(matches!(parameters[1], Parameter::Other(_)));

        // Unknown message type, unknown top-level field, content of the wrong shape.
        let message = round_trip(
            json!({"messaging_product": "whatsapp", "to": "1", "type": "order",
            "order": {"a": 1}, "future_field": [1, 2]}),
        );
        assert_eq!(
            message.content,
            Content::Other {
                kind: "order".into(),
                body: Some(json!({"a": 1}))
            }
        );
        assert_eq!(message.extra["future_field"], json!([1, 2]));
        let message = round_trip(
            json!({"messaging_product": "whatsapp", "to": "1", "type": "text",
            "text": {"body": 5}}),
        );
        assert_eq!(message.content.kind(), "text");
        assert!(matches!(message.content, Content::Other { .. }));
        let message =
            round_trip(json!({"messaging_product": "whatsapp", "to": "1", "type": "text"}));
        assert_eq!(
            message.content,
            Content::Other {
                kind: "text".into(),
                body: None
            }
        );
        let message = round_trip(
            json!({"messaging_product": "whatsapp", "to": "1", "type": "text",
            "text": {"body": "x"}, "context": {"message_id": 5}}),
        );
        assert_eq!(message.context, None);
        assert_eq!(message.extra["context"], json!({"message_id": 5}));
    }

    #[test]
    fn a_body_without_type_is_read_by_its_content_key_and_written_back_without_it() {
        let message = round_trip(json!({"messaging_product": "whatsapp", "to": "1",
            "text": {"body": "Please visit https://youtu.be/hpltvTEiRrY.", "preview_url": true}}));
        assert!(matches!(&message.content, Content::Text(t) if t.preview_url == Some(true)));
        let built = OutgoingMessage::text("1", "x");
        assert_eq!(serde_json::to_value(&built).unwrap()["type"], "text");
    }

    #[test]
    fn interactive_messages_are_typed() {
        let message = round_trip(
            json!({"messaging_product": "whatsapp", "to": "1", "type": "interactive",
            "interactive": {"type": "list", "header": {"type": "text", "text": "H"}, "body": {"text": "B"},
                "footer": {"text": "F"}, "action": {"button": "Open", "sections": [
                    {"title": "S", "rows": [{"id": "r1", "title": "Row", "description": "D"}]}]}}}),
        );
        let Content::Interactive(interactive) = &message.content else {
            panic!("not interactive")
        };
        assert_eq!(interactive.kind, InteractiveKind::List);
        assert_eq!(
            interactive.header,
            Some(InteractiveHeader::Text("H".into()))
        );
        assert_eq!(
            interactive.action.sections[0].rows[0]
                .description
                .as_deref(),
            Some("D")
        );

        let message = round_trip(
            json!({"messaging_product": "whatsapp", "to": "1", "type": "interactive",
            "interactive": {"type": "product_list", "header": {"type": "<HEADER_TYPE>", "text": "H"},
                "body": {"text": "B"}, "action": {"catalog_id": "1", "sections": [
                    {"title": "S", "product_items": [{"product_retailer_id": "p"}]}]}}}),
        );
        let Content::Interactive(interactive) = &message.content else {
            panic!("not interactive")
        };
        assert_eq!(interactive.kind, InteractiveKind::ProductList);
        assert!(matches!(
            interactive.header,
            Some(InteractiveHeader::Other(_))
        ));
        assert_eq!(interactive.action.extra["catalog_id"], "1");
    }

    #[test]
    fn other_kinds_are_typed() {
        let message = round_trip(
            json!({"messaging_product": "whatsapp", "to": "1", "type": "location",
            "location": {"latitude": 37.758056, "longitude": -122.425332, "name": "HQ"}}),
        );
        assert!(matches!(&message.content, Content::Location(l) if l.longitude == -122.425332));
        let message = round_trip(
            json!({"messaging_product": "whatsapp", "to": "1", "type": "reaction",
            "reaction": {"message_id": "wamid.X", "emoji": "\u{1F600}"}}),
        );
        assert!(matches!(&message.content, Content::Reaction(r) if r.message_id == "wamid.X"));
        let message = round_trip(
            json!({"messaging_product": "whatsapp", "to": "1", "type": "sticker",
            "sticker": {"id": "42"}}),
        );
        assert_eq!(message.content, Content::Sticker(Media::from_id("42")));
        let message = round_trip(
            json!({"messaging_product": "whatsapp", "to": "1", "type": "contacts",
            "contacts": [{"name": {"formatted_name": "J"}}]}),
        );
        assert!(matches!(&message.content, Content::Contacts(c) if c.len() == 1));
    }

    #[test]
    fn rejects_bodies_that_are_not_send_requests() {
        for body in [
            json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"}),
            json!({"to": "1", "type": "text", "text": {"body": "x"}}),
            json!({"messaging_product": "whatsapp", "to": 1, "type": "text", "text": {"body": "x"}}),
            json!({"messaging_product": "whatsapp", "to": "1", "type": 5, "text": {"body": "x"}}),
            json!({"messaging_product": "whatsapp", "to": "1"}),
            json!({"messaging_product": "whatsapp", "to": "1", "text": {"body": "x"}, "image": {"id": "1"}}),
            json!([1]),
        ] {
            assert!(
                serde_json::from_value::<OutgoingMessage>(body.clone()).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn builders_make_wire_bodies() {
        let message = OutgoingMessage::template("5511999991234", "wo_assignment", "pt_BR")
            .body_text_params(["Jonas", "OT-1021"])
            .reply_to("wamid.Q");
        assert_eq!(
            serde_json::to_value(&message).unwrap(),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511999991234",
                "context": {"message_id": "wamid.Q"}, "type": "template",
                "template": {"name": "wo_assignment", "language": {"code": "pt_BR"}, "components": [
                    {"type": "body", "parameters": [{"type": "text", "text": "Jonas"}, {"type": "text", "text": "OT-1021"}]}]}})
        );
        let text = OutgoingMessage::text("1", "hi").body_text_params(["ignored"]);
        assert!(!text.is_template());
        assert_eq!(text, OutgoingMessage::text("1", "hi"));

        let interactive = OutgoingMessage::new(
            "1",
            Content::Interactive(Box::new(Interactive::buttons(
                "Take it?",
                vec![ReplyButton::new("yes", "Yes")],
            ))),
        );
        assert_eq!(
            serde_json::to_value(&interactive).unwrap()["interactive"],
            json!({"type": "button", "body": {"text": "Take it?"},
                   "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}})
        );
        let list = Interactive::list("Pick", "Open", vec![ListSection::default()]);
        assert_eq!(list.action.button.as_deref(), Some("Open"));
    }

    #[test]
    fn extra_fields_never_duplicate_named_ones() {
        let mut message = OutgoingMessage::text("1", "hi");
        message.extra.insert("to".into(), json!("2"));
        message.extra.insert("text".into(), json!("other"));
        message.extra.insert("kept".into(), json!(true));
        let text = serde_json::to_string(&message).unwrap();
        assert_eq!(text.matches("\"to\"").count(), 1, "{text}");
        assert_eq!(text.matches("\"text\"").count(), 2, "{text}"); // the type value and the key
        assert!(text.contains("\"kept\":true"));
    }

    #[test]
    fn callback_data_is_cut_to_512_characters() {
        let mut message = OutgoingMessage::text("1", "hi");
        message.set_callback_data("fracttal:wo:1021");
        assert_eq!(
            message.biz_opaque_callback_data.as_deref(),
            Some("fracttal:wo:1021")
        );
        let long = "é".repeat(600);
        message.set_callback_data(long);
        let kept = message.biz_opaque_callback_data.unwrap();
        assert_eq!(kept.chars().count(), MAX_CALLBACK_DATA_CHARS);
        assert!(kept.chars().all(|c| c == 'é'));
    }

    #[test]
    fn open_enums_keep_unknown_values() {
        assert_eq!(ButtonSubType::from("url"), ButtonSubType::Url);
        assert_eq!(ButtonSubType::from("CATALOG").as_str(), "CATALOG");
        assert_eq!(
            InteractiveKind::from("order_details").to_string(),
            "order_details"
        );
        let kind: InteractiveKind = serde_json::from_value(json!("flow")).unwrap();
        assert_eq!(kind, InteractiveKind::Flow);
    }
}
