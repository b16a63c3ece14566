//! The events a webhook body carries, and their records.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::Record;

/// Record kind of an incoming message.
pub const KIND_MESSAGE: &str = "whatsapp.message";
/// Record kind of a delivery status of a message the business sent.
pub const KIND_STATUS: &str = "whatsapp.status";
/// Record kind of a system-level error (`value.errors[]`).
pub const KIND_ERROR: &str = "whatsapp.error";
/// Record kind of a message the business sent from the WhatsApp Business app
/// (`smb_message_echoes`).
pub const KIND_ECHO: &str = "whatsapp.echo";
/// Record kind of a change whose `field` this crate does not read yet.
pub const KIND_UNSUPPORTED: &str = "whatsapp.unsupported";

/// One event found in a webhook body.
///
/// Every change yields events: the fields this crate knows as their own variants, any
/// other as [`WebhookEvent::Unsupported`] with the change as received; see the
/// [module docs](super#what-is-read).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum WebhookEvent {
    /// A message a user sent to the business number (`value.messages[]`).
    Message(InboundMessage),
    /// A delivery status of a message the business sent (`value.statuses[]`).
    Status(StatusUpdate),
    /// A system-level error about the number or app (`value.errors[]`).
    Error(SystemError),
    /// A message the business sent from the WhatsApp Business app
    /// (`smb_message_echoes`: `value.message_echoes[]`), typed like an inbound message,
    /// with `from` the business and `to` the user.
    Echo(InboundMessage),
    /// A template's status, quality, components or category changed.
    Template(super::TemplateUpdate),
    /// An account event (`account_update` and the other account-level fields).
    Account(super::AccountUpdate),
    /// A business phone number's name review or quality changed.
    PhoneNumber(super::PhoneNumberUpdate),
    /// A user stopped or resumed marketing messages (`user_preferences`).
    UserPreference(super::UserPreference),
    /// A call connected or ended (`calls`: `value.calls[]`).
    Call(super::CallEvent),
    /// A call's status (`calls`: `value.statuses[]`).
    CallStatus(super::CallStatus),
    /// A group event (`group_lifecycle_update`, `group_participants_update`,
    /// `group_settings_update`, `group_status_update`).
    Group(super::GroupEvent),
    /// A chunk of the WhatsApp Business app's chat history (`history`).
    History(super::HistoryChunk),
    /// A contact added or removed in the WhatsApp Business app (`smb_app_state_sync`).
    ContactSync(super::ContactSync),
    /// A change whose `field` this crate does not read yet, kept whole.
    Unsupported(UnsupportedChange),
}

impl WebhookEvent {
    /// The WhatsApp Business Account id (`entry[].id`) the event came through.
    pub fn waba_id(&self) -> &str {
        match self {
            WebhookEvent::Message(m) | WebhookEvent::Echo(m) => &m.waba_id,
            WebhookEvent::Status(s) => &s.waba_id,
            WebhookEvent::Error(e) => &e.waba_id,
            WebhookEvent::Template(t) => &t.waba_id,
            WebhookEvent::Account(a) => &a.waba_id,
            WebhookEvent::PhoneNumber(p) => &p.waba_id,
            WebhookEvent::UserPreference(p) => &p.waba_id,
            WebhookEvent::Call(c) => &c.waba_id,
            WebhookEvent::CallStatus(c) => &c.waba_id,
            WebhookEvent::Group(g) => &g.waba_id,
            WebhookEvent::History(h) => &h.waba_id,
            WebhookEvent::ContactSync(c) => &c.waba_id,
            WebhookEvent::Unsupported(u) => &u.waba_id,
        }
    }

    /// The business phone number id (`value.metadata.phone_number_id`): route tenants by
    /// it. `None` for events about the account or its templates, which carry no number.
    pub fn phone_number_id(&self) -> Option<&str> {
        let id = match self {
            WebhookEvent::Message(m) | WebhookEvent::Echo(m) => &m.phone_number_id,
            WebhookEvent::Status(s) => &s.phone_number_id,
            WebhookEvent::Error(e) => &e.phone_number_id,
            WebhookEvent::UserPreference(p) => &p.phone_number_id,
            WebhookEvent::Call(c) => &c.phone_number_id,
            WebhookEvent::CallStatus(c) => &c.phone_number_id,
            WebhookEvent::Group(g) => &g.phone_number_id,
            WebhookEvent::History(h) => &h.phone_number_id,
            WebhookEvent::ContactSync(c) => &c.phone_number_id,
            WebhookEvent::Unsupported(u) => return u.phone_number_id.as_deref(),
            WebhookEvent::Template(_) | WebhookEvent::Account(_) | WebhookEvent::PhoneNumber(_) => {
                return None
            }
        };
        Some(id.as_str()).filter(|id| !id.is_empty())
    }

    /// The event as a flow [`Record`]; kinds, keys and data shapes are in the
    /// [module docs](super#records).
    pub fn to_record(&self) -> Record {
        match self {
            WebhookEvent::Message(m) => m.to_record(),
            WebhookEvent::Echo(m) => m.to_echo_record(),
            WebhookEvent::Status(s) => s.to_record(),
            WebhookEvent::Error(e) => e.to_record(),
            WebhookEvent::Template(t) => t.to_record(),
            WebhookEvent::Account(a) => a.to_record(),
            WebhookEvent::PhoneNumber(p) => p.to_record(),
            WebhookEvent::UserPreference(p) => p.to_record(),
            WebhookEvent::Call(c) => c.to_record(),
            WebhookEvent::CallStatus(c) => c.to_record(),
            WebhookEvent::Group(g) => g.to_record(),
            WebhookEvent::History(h) => h.to_record(),
            WebhookEvent::ContactSync(c) => c.to_record(),
            WebhookEvent::Unsupported(u) => u.to_record(),
        }
    }
}

/// The `type` of an incoming message. Open: a type this crate does not know is kept as
/// [`MessageType::Unknown`] with its name, never an error.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageType {
    /// `text`
    Text,
    /// `image`
    Image,
    /// `audio` (voice notes too: `audio.voice == true`)
    Audio,
    /// `video`
    Video,
    /// `document`
    Document,
    /// `sticker`
    Sticker,
    /// `location`
    Location,
    /// `contacts`: shared contact cards
    Contacts,
    /// `button`: a quick-reply tap on a template
    Button,
    /// `interactive`: a reply-button or list tap, or a Flow answer
    Interactive,
    /// `reaction`
    Reaction,
    /// `order`
    Order,
    /// `system`: the user changed number or identity
    System,
    /// `edit`: the user edited an earlier message (`edit.original_message_id`,
    /// `edit.message`)
    Edit,
    /// `revoke`: the user deleted an earlier message (`revoke.original_message_id`)
    Revoke,
    /// `unsupported`: WhatsApp could not pass the content on (see the message's `errors`)
    Unsupported,
    /// Any other type, with its name as received (`""` when the message had none).
    Unknown(String),
}

impl MessageType {
    /// Reads a `type` value.
    pub fn parse(name: &str) -> Self {
        match name {
            "text" => MessageType::Text,
            "image" => MessageType::Image,
            "audio" => MessageType::Audio,
            "video" => MessageType::Video,
            "document" => MessageType::Document,
            "sticker" => MessageType::Sticker,
            "location" => MessageType::Location,
            "contacts" => MessageType::Contacts,
            "button" => MessageType::Button,
            "interactive" => MessageType::Interactive,
            "reaction" => MessageType::Reaction,
            "order" => MessageType::Order,
            "system" => MessageType::System,
            "edit" => MessageType::Edit,
            "revoke" => MessageType::Revoke,
            "unsupported" => MessageType::Unsupported,
            other => MessageType::Unknown(other.to_owned()),
        }
    }

    /// The type's name as WhatsApp spells it.
    pub fn as_str(&self) -> &str {
        match self {
            MessageType::Text => "text",
            MessageType::Image => "image",
            MessageType::Audio => "audio",
            MessageType::Video => "video",
            MessageType::Document => "document",
            MessageType::Sticker => "sticker",
            MessageType::Location => "location",
            MessageType::Contacts => "contacts",
            MessageType::Button => "button",
            MessageType::Interactive => "interactive",
            MessageType::Reaction => "reaction",
            MessageType::Order => "order",
            MessageType::System => "system",
            MessageType::Edit => "edit",
            MessageType::Revoke => "revoke",
            MessageType::Unsupported => "unsupported",
            MessageType::Unknown(name) => name,
        }
    }

    /// Whether the content is a media object (`image`, `audio`, `video`, `document`,
    /// `sticker`) named like the type.
    pub fn is_media(&self) -> bool {
        matches!(
            self,
            MessageType::Image
                | MessageType::Audio
                | MessageType::Video
                | MessageType::Document
                | MessageType::Sticker
        )
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for MessageType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// A status's `status`. Open: an unknown value is kept as [`DeliveryState::Other`].
///
/// Statuses arrive in no guaranteed order, and `delivered` may be skipped when `read`
/// implies it: compare with [`DeliveryState::rank`] so a late `delivered` never overwrites
/// `read`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DeliveryState {
    /// `sent`
    Sent,
    /// `delivered`
    Delivered,
    /// `read`
    Read,
    /// `played` (voice messages)
    Played,
    /// `failed` (see the status's `errors`)
    Failed,
    /// `deleted` (historical)
    Deleted,
    /// Any other value, as received.
    Other(String),
}

impl DeliveryState {
    /// Reads a `status` value.
    pub fn parse(name: &str) -> Self {
        match name {
            "sent" => DeliveryState::Sent,
            "delivered" => DeliveryState::Delivered,
            "read" => DeliveryState::Read,
            "played" => DeliveryState::Played,
            "failed" => DeliveryState::Failed,
            "deleted" => DeliveryState::Deleted,
            other => DeliveryState::Other(other.to_owned()),
        }
    }

    /// The value as WhatsApp spells it.
    pub fn as_str(&self) -> &str {
        match self {
            DeliveryState::Sent => "sent",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Read => "read",
            DeliveryState::Played => "played",
            DeliveryState::Failed => "failed",
            DeliveryState::Deleted => "deleted",
            DeliveryState::Other(name) => name,
        }
    }

    /// How far along the message is: `sent` 1, `delivered` 2, `read` 3, `played` 4; final
    /// or unknown states (`failed`, `deleted`, others) 0, to be handled on their own.
    pub fn rank(&self) -> u8 {
        match self {
            DeliveryState::Sent => 1,
            DeliveryState::Delivered => 2,
            DeliveryState::Read => 3,
            DeliveryState::Played => 4,
            _ => 0,
        }
    }
}

impl fmt::Display for DeliveryState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DeliveryState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An entry of `value.contacts[]`: who sent a message (or received a status).
///
/// Every field is optional: with business-scoped user ids `wa_id` may be empty, and some
/// payloads hold only `wa_id`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Contact {
    /// `profile.name`: the name the user set in WhatsApp.
    pub name: Option<String>,
    /// `wa_id`: the user's phone number as digits (may be empty).
    pub wa_id: Option<String>,
    /// `user_id`: the business-scoped user id (BSUID, `user.…`).
    pub user_id: Option<String>,
    /// `profile.username` (`@…`).
    pub username: Option<String>,
    /// `profile.country_code` (`US`).
    pub country_code: Option<String>,
    /// The contact object as received.
    pub raw: RawJson,
}

/// An incoming message's `context`: what it replies to, or that it was forwarded.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MessageContext {
    /// `context.from`: who sent the message replied to (the business number for a tap on
    /// our template or buttons).
    pub from: Option<String>,
    /// `context.id`: the wamid of the message replied to, e.g. the template whose button
    /// was tapped. Absent on forwarded messages.
    pub id: Option<String>,
    /// `context.forwarded` (`false` when absent).
    pub forwarded: bool,
    /// `context.frequently_forwarded` (`false` when absent).
    pub frequently_forwarded: bool,
}

/// An error object (`errors[]` of a message, a status, or a change).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ErrorDetail {
    /// The error code (`131026`); see Meta's error-code table.
    pub code: i64,
    /// `title`.
    pub title: Option<String>,
    /// `message`.
    pub message: Option<String>,
    /// `error_data.details`.
    pub details: Option<String>,
    /// `href`: Meta's documentation link.
    pub href: Option<String>,
}

/// A media object of an `image`, `audio`, `video`, `document` or `sticker` message.
///
/// Download it through the media endpoint with `id`; received media stays available for
/// about two weeks.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MediaRef {
    /// The media id (empty if the payload had none).
    pub id: String,
    /// `mime_type`.
    pub mime_type: Option<String>,
    /// `sha256` of the file, base64 as sent.
    pub sha256: Option<String>,
    /// `caption` (image, video, document).
    pub caption: Option<String>,
    /// `filename` (document).
    pub filename: Option<String>,
    /// `voice` (audio recorded as a voice note).
    pub voice: Option<bool>,
    /// `animated` (sticker).
    pub animated: Option<bool>,
    /// `url`, when the payload carries one.
    pub url: Option<String>,
}

/// An incoming message (`value.messages[]`) with the context of its change.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct InboundMessage {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `value.metadata.phone_number_id`: the business number that received it.
    pub phone_number_id: String,
    /// `value.metadata.display_phone_number`.
    pub display_phone_number: String,
    /// The message id (`wamid.…`): the idempotency key.
    pub id: String,
    /// The sender's phone number as digits; empty when WhatsApp identifies the sender only
    /// by business-scoped user id (then see `from_user_id`). For an echo, the business.
    pub from: String,
    /// `from_user_id`: the sender's business-scoped user id, when present.
    pub from_user_id: Option<String>,
    /// `to`: for an echo, the user the business wrote to; `None` for inbound messages.
    pub to: Option<String>,
    /// `to_user_id`: for an echo, the user's business-scoped id, when present.
    pub to_user_id: Option<String>,
    /// When the user sent it.
    pub timestamp: DateTime<Utc>,
    /// The `type`.
    pub kind: MessageType,
    /// `context`: the message replied to, or forwarding flags.
    pub context: Option<MessageContext>,
    /// The matching `value.contacts[]` entry: same `wa_id` as `from`, or same `user_id` as
    /// `from_user_id`, else the first one.
    pub contact: Option<Contact>,
    /// `errors[]` (an `unsupported` message says why here).
    pub errors: Vec<ErrorDetail>,
    /// The whole message object as received, unknown fields included.
    pub raw: RawJson,
    /// What the accessors return, read with the message.
    #[serde(skip)]
    pub(super) content: Content,
}

/// The facts of a message's content the accessors of [`InboundMessage`] return, read once
/// with the message (by the fast reader from its typed fields, by the walker from the
/// `Value`), so an accessor neither parses nor walks the raw JSON.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Content {
    pub(super) text: Option<String>,
    pub(super) reply_id: Option<String>,
    pub(super) original_message_id: Option<String>,
    /// `interactive.nfm_reply.response_json`, as the JSON text it is.
    pub(super) flow_response: Option<String>,
    pub(super) media: Option<MediaRef>,
}

impl Content {
    /// The content facts of a message of type `kind` from its JSON object (the walker's way).
    pub(super) fn of_value(kind: &MessageType, raw: &Value) -> Content {
        let owned = |text: Option<&str>| text.map(str::to_owned);
        let reply_id = match kind {
            MessageType::Button => str_at(raw, &["button", "payload"]),
            MessageType::Interactive => interactive_reply(raw)
                .and_then(|r| str_at(r, &["id"]))
                .or_else(|| str_at(raw, &["interactive", "call_permission_reply", "response"])),
            _ => None,
        };
        let original_message_id = match kind {
            MessageType::Edit => str_at(raw, &["edit", "original_message_id"]),
            MessageType::Revoke => str_at(raw, &["revoke", "original_message_id"]),
            MessageType::Reaction => str_at(raw, &["reaction", "message_id"]),
            _ => None,
        };
        let media = if kind.is_media() {
            raw.get(kind.as_str()).map(|media| {
                let text = |key: &str| str_at(media, &[key]).map(str::to_owned);
                let flag = |key: &str| media.get(key).and_then(Value::as_bool);
                MediaRef {
                    id: text("id").unwrap_or_default(),
                    mime_type: text("mime_type"),
                    sha256: text("sha256"),
                    caption: text("caption"),
                    filename: text("filename"),
                    voice: flag("voice"),
                    animated: flag("animated"),
                    url: text("url"),
                }
            })
        } else {
            None
        };
        Content {
            text: owned(text_of(kind, raw)),
            reply_id: owned(reply_id),
            original_message_id: owned(original_message_id),
            flow_response: owned(str_at(raw, &["interactive", "nfm_reply", "response_json"])),
            media,
        }
    }
}

/// A JSON value as received, kept as its text: the `raw` of messages, statuses, errors and
/// contacts, with the fields this crate does not read.
///
/// Reading a webhook keeps the text instead of building a `serde_json::Value` for every
/// event; [`to_value`](Self::to_value) builds one when wanted. Clones share the text.
/// Two are equal when they hold the same JSON (`{"a": 1}` equals `{"a":1}`).
///
/// ```
/// use hubflow::whatsapp::webhook::{parse, WebhookEvent};
///
/// let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
///     "metadata":{"phone_number_id":"1065"},
///     "messages":[{"from":"5511","id":"wamid.A","timestamp":"1749416383","type":"poll","poll":{"votes":[2]}}]}}]}]}"#;
/// let events = parse(body).unwrap();
/// let WebhookEvent::Message(message) = &events[0] else { panic!("a message") };
/// assert!(message.raw.get().contains(r#""poll":{"votes":[2]}"#));
/// assert_eq!(message.raw.to_value()["poll"]["votes"][0], 2);
/// ```
#[derive(Clone)]
pub struct RawJson(Arc<str>);

impl RawJson {
    /// Keeps `text`, which the caller has read as one JSON value.
    pub(super) fn from_text(text: &str) -> Self {
        RawJson(Arc::from(text))
    }

    /// Keeps a value the walker read, as its JSON text.
    pub(super) fn from_value(value: &Value) -> Self {
        RawJson(Arc::from(value.to_string()))
    }

    /// The JSON text, as it was in the body (escapes and spacing included).
    pub fn get(&self) -> &str {
        &self.0
    }

    /// The JSON as a `serde_json::Value`.
    pub fn to_value(&self) -> Value {
        // The text was read as one JSON value when it was kept, so this cannot fail; `Null`
        // stands in for the impossible.
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.to_value() == other.to_value()
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawJson").field(&&*self.0).finish()
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `null`.
impl Default for RawJson {
    fn default() -> Self {
        RawJson::from_text("null")
    }
}

/// Serialized as the JSON it holds (not as a string of it).
impl Serialize for RawJson {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl InboundMessage {
    /// The text a person typed or tapped: `text.body`, a template button's `button.text`,
    /// an interactive reply's `title`, or a media `caption`.
    ///
    /// For an edit, the new text (or caption); for a Flow answer (`nfm_reply`), its `body`.
    pub fn text(&self) -> Option<&str> {
        self.content.text.as_deref()
    }

    /// The message an edit, a deletion (`revoke`) or a reaction is about:
    /// `edit.original_message_id`, `revoke.original_message_id` or `reaction.message_id`.
    pub fn original_message_id(&self) -> Option<&str> {
        self.content.original_message_id.as_deref()
    }

    /// A Flow's answer (`interactive.nfm_reply.response_json`), parsed: the fields the
    /// user filled in, and the `flow_token` the Flow was sent with.
    pub fn flow_response(&self) -> Option<Value> {
        serde_json::from_str(self.content.flow_response.as_deref()?).ok()
    }

    /// The machine id of a tap: a template quick-reply's `button.payload`, an
    /// interactive `button_reply.id` / `list_reply.id`, a call-permission answer's
    /// `response` (`accept`, `reject`). Route answers on this, not on the visible text.
    pub fn reply_id(&self) -> Option<&str> {
        self.content.reply_id.as_deref()
    }

    /// The media object of an image, audio, video, document or sticker message.
    pub fn media(&self) -> Option<MediaRef> {
        self.content.media.clone()
    }

    /// The record: kind `whatsapp.message`, key the wamid.
    pub fn to_record(&self) -> Record {
        self.record_of(KIND_MESSAGE)
    }

    /// The record of an echo: kind `whatsapp.echo`, key the wamid, the message's fields
    /// and `to`, `to_user_id`.
    pub fn to_echo_record(&self) -> Record {
        let mut record = self.record_of(KIND_ECHO);
        crate::record::merge_object(
            &mut record.data,
            json!({"to": self.to, "to_user_id": self.to_user_id}),
        );
        record
    }

    fn record_of(&self, kind: &str) -> Record {
        let contact = self.contact.as_ref();
        let contact_field =
            |f: fn(&Contact) -> &Option<String>| Value::from(contact.and_then(|c| f(c).clone()));
        let number = number_fields(
            &self.waba_id,
            &self.phone_number_id,
            &self.display_phone_number,
        );
        let data = object(number.into_iter().chain([
            ("id", self.id.as_str().into()),
            ("from", self.from.as_str().into()),
            ("from_user_id", self.from_user_id.as_deref().into()),
            ("timestamp", rfc3339(self.timestamp).into()),
            ("type", self.kind.as_str().into()),
            ("text", self.text().into()),
            ("reply_id", self.reply_id().into()),
            (
                "context_id",
                self.context.as_ref().and_then(|c| c.id.as_deref()).into(),
            ),
            (
                "context_from",
                self.context.as_ref().and_then(|c| c.from.as_deref()).into(),
            ),
            (
                "media_id",
                self.content.media.as_ref().map(|m| m.id.as_str()).into(),
            ),
            ("original_message_id", self.original_message_id().into()),
            ("flow_response", self.flow_response().into()),
            (
                "contact",
                object([
                    ("name", contact_field(|c| &c.name)),
                    ("wa_id", contact_field(|c| &c.wa_id)),
                    ("user_id", contact_field(|c| &c.user_id)),
                    ("username", contact_field(|c| &c.username)),
                    ("country_code", contact_field(|c| &c.country_code)),
                ]),
            ),
            ("message", self.raw.to_value()),
        ]));
        Record::new(self.id.clone(), kind, data).occurred_at(self.timestamp)
    }
}

/// A delivery status of a message the business sent (`value.statuses[]`), with the context
/// of its change.
///
/// Only `id`, `status` and `timestamp` are reliably present; everything else is optional.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StatusUpdate {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `value.metadata.phone_number_id`: the business number that sent the message.
    pub phone_number_id: String,
    /// `value.metadata.display_phone_number`.
    pub display_phone_number: String,
    /// The wamid of *our* message.
    pub id: String,
    /// `status`.
    pub status: DeliveryState,
    /// When the state was reached.
    pub timestamp: DateTime<Utc>,
    /// `recipient_id`: the recipient's phone number (may be empty or absent).
    pub recipient_id: Option<String>,
    /// `recipient_user_id`: the recipient's business-scoped user id.
    pub recipient_user_id: Option<String>,
    /// `group_id`, for messages sent to a group.
    pub group_id: Option<String>,
    /// `biz_opaque_callback_data`: what the send request carried (a send can carry its
    /// record key there, linking this status back to the record).
    pub biz_opaque_callback_data: Option<String>,
    /// `conversation` (older, conversation-based pricing).
    pub conversation: Option<Conversation>,
    /// `pricing`.
    pub pricing: Option<Pricing>,
    /// The matching `value.contacts[]` entry (same `wa_id` as `recipient_id`, or same
    /// `user_id` as `recipient_user_id`, else the first), when the change has contacts.
    pub contact: Option<Contact>,
    /// `errors[]` of a `failed` status.
    pub errors: Vec<ErrorDetail>,
    /// The whole status object as received, unknown fields included.
    pub raw: RawJson,
}

impl StatusUpdate {
    /// The record: kind `whatsapp.status`, key `<wamid>:<status>`.
    pub fn to_record(&self) -> Record {
        let raw = self.raw.to_value();
        let number = number_fields(
            &self.waba_id,
            &self.phone_number_id,
            &self.display_phone_number,
        );
        let data = object(number.into_iter().chain([
            ("id", self.id.as_str().into()),
            ("status", self.status.as_str().into()),
            ("timestamp", rfc3339(self.timestamp).into()),
            ("recipient_id", self.recipient_id.as_deref().into()),
            (
                "recipient_user_id",
                self.recipient_user_id.as_deref().into(),
            ),
            (
                "biz_opaque_callback_data",
                self.biz_opaque_callback_data.as_deref().into(),
            ),
            ("errors", json!(self.errors)),
            (
                "pricing",
                raw.get("pricing").cloned().unwrap_or(Value::Null),
            ),
            (
                "conversation",
                raw.get("conversation").cloned().unwrap_or(Value::Null),
            ),
            ("raw", raw),
        ]));
        Record::new(
            format!("{}:{}", self.id, self.status.as_str()),
            KIND_STATUS,
            data,
        )
        .occurred_at(self.timestamp)
    }
}

/// A status's `conversation` (conversation-based pricing, `CBP`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Conversation {
    /// `id`.
    pub id: Option<String>,
    /// `expiration_timestamp`.
    pub expiration_timestamp: Option<DateTime<Utc>>,
    /// `origin.type` (`marketing`, `utility`, `service`, …).
    pub origin_type: Option<String>,
}

/// A status's `pricing`.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Pricing {
    /// `billable`.
    pub billable: Option<bool>,
    /// `pricing_model`: `PMP` (per message, since July 2025) or `CBP`.
    pub pricing_model: Option<String>,
    /// `category` (`marketing`, `utility`, `authentication`, `service`, …).
    pub category: Option<String>,
    /// `type` (PMP: `regular`, `free_customer_service`, `free_entry_point`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// A system-level error of a change (`value.errors[]`): about the number or the app, not
/// about one message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SystemError {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `value.metadata.phone_number_id`.
    pub phone_number_id: String,
    /// `value.metadata.display_phone_number`.
    pub display_phone_number: String,
    /// The error.
    pub error: ErrorDetail,
    /// The error object as received.
    pub raw: RawJson,
}

impl SystemError {
    /// The record: kind `whatsapp.error`, key
    /// `whatsapp:error:<phone_number_id>:<code>:<hash>`.
    ///
    /// System errors carry no id or timestamp, so the key ends with a hash of the error
    /// object: a redelivered webhook gets the same key, and so does the same error reported
    /// again later (it is then a duplicate, which for an alert is what one wants).
    pub fn to_record(&self) -> Record {
        let raw = self.raw.to_value();
        let data = json!({
            "waba_id": self.waba_id,
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "code": self.error.code,
            "title": self.error.title,
            "message": self.error.message,
            "details": self.error.details,
            "href": self.error.href,
            "raw": raw,
        });
        let key = format!(
            "whatsapp:error:{}:{}:{}",
            self.phone_number_id,
            self.error.code,
            short_hash(&data["raw"])
        );
        Record::new(key, KIND_ERROR, data)
    }
}

/// The first 16 hex digits of the SHA-256 of a value's JSON text. Serializing the same
/// parsed value always gives the same text, so the same payload always gives the same hash.
pub(super) fn short_hash(value: &Value) -> String {
    let digest = Sha256::digest(value.to_string().as_bytes());
    hex::encode(&digest[..8])
}

/// A JSON object of owned values, moved in: `json!` would serialize each value again.
fn object<'k>(fields: impl IntoIterator<Item = (&'k str, Value)>) -> Value {
    Value::Object(
        fields
            .into_iter()
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
    )
}

/// The record fields naming the business number an event came through.
fn number_fields(
    waba_id: &str,
    phone_number_id: &str,
    display_phone_number: &str,
) -> [(&'static str, Value); 3] {
    [
        ("waba_id", waba_id.into()),
        ("phone_number_id", phone_number_id.into()),
        ("display_phone_number", display_phone_number.into()),
    ]
}

pub(super) fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The string at a key path inside a JSON value.
fn str_at<'v>(value: &'v Value, path: &[&str]) -> Option<&'v str> {
    path.iter()
        .try_fold(value, |v, key| v.get(*key))
        .and_then(Value::as_str)
}

/// The text of a message of type `kind`; for an edit, of the edited message.
fn text_of<'v>(kind: &MessageType, raw: &'v Value) -> Option<&'v str> {
    match kind {
        MessageType::Text => str_at(raw, &["text", "body"]),
        MessageType::Button => str_at(raw, &["button", "text"]),
        MessageType::Interactive => interactive_reply(raw)
            .and_then(|r| str_at(r, &["title"]))
            .or_else(|| str_at(raw, &["interactive", "nfm_reply", "body"])),
        MessageType::Edit => {
            let edited = raw.get("edit")?.get("message")?;
            let kind = MessageType::parse(str_at(edited, &["type"])?);
            // An edit of an edit does not exist; the guard keeps the recursion finite.
            if kind == MessageType::Edit {
                return None;
            }
            text_of(&kind, edited)
        }
        kind if kind.is_media() => str_at(raw, &[kind.as_str(), "caption"]),
        _ => None,
    }
}

/// The `button_reply` or `list_reply` object of an interactive message.
fn interactive_reply(raw: &Value) -> Option<&Value> {
    let interactive = raw.get("interactive")?;
    interactive
        .get("button_reply")
        .or_else(|| interactive.get("list_reply"))
}

/// A change whose `field` this crate does not read yet (`whatsapp.unsupported`): kept
/// whole, so a flow can still route it, alert on it, or keep it until a newer hubflow reads
/// it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UnsupportedChange {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// The change's `field`, as received (`""` when it had none).
    pub field: String,
    /// `value.metadata.phone_number_id`, when the value has one.
    pub phone_number_id: Option<String>,
    /// When Meta reported it (`entry[].time`), if it said.
    pub at: Option<DateTime<Utc>>,
    /// The change's `value` as received.
    pub value: Value,
}

impl UnsupportedChange {
    /// The record: kind `whatsapp.unsupported`, key
    /// `whatsapp:unsupported:<waba_id>:<field>:<time>:<hash of the value>`; data `waba_id`,
    /// `field`, `phone_number_id`, `at`, `value`.
    pub fn to_record(&self) -> Record {
        let data = json!({
            "waba_id": self.waba_id,
            "field": self.field,
            "phone_number_id": self.phone_number_id,
            "at": self.at.map(rfc3339),
            "value": self.value,
        });
        let key = format!(
            "whatsapp:unsupported:{}:{}:{}",
            self.waba_id,
            self.field,
            super::business::hashed_when(self.at, &self.value)
        );
        super::business::with_time(Record::new(key, KIND_UNSUPPORTED, data), self.at)
    }
}
