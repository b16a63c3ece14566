//! Receiving: the subscription handshake, signatures, and payload parsing.
//!
//! WhatsApp Cloud API calls the host's callback URL twice over:
//!
//! 1. **`GET` once, to verify the subscription** when the URL or verify token is saved in
//!    the App Dashboard: `?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`. Answer
//!    `200` with the challenge as the body if the token is yours ([`verify_subscription`]).
//!    This request is not signed.
//! 2. **`POST` for every event**, signed with `X-Hub-Signature-256: sha256=<hex>`, the
//!    HMAC-SHA256 of the *raw* body under the app secret (not the access token, not the
//!    verify token). Check it on the exact bytes received ([`verify_signature`]): Meta
//!    escapes non-ASCII and `/` in its JSON, so a re-serialized body never matches. Then
//!    [`parse`] the body into [`WebhookEvent`]s and turn them into [`Record`]s with
//!    [`WebhookEvent::to_record`].
//!
//! [`WhatsAppWebhook`] does both as a [`WebhookSource`]: the host's server hands it each
//! request as an [`InboundRequest`] and answers with the [`WebhookReply`].
//!
//! ```
//! use hubflow::{InboundRequest, WebhookSource};
//! use hubflow::http::Method;
//! use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
//! use secrecy::SecretString;
//!
//! let app_secret = SecretString::from("app-secret");
//! let webhook = WhatsAppWebhook::new(SecretString::from("verify-me"), app_secret.clone());
//!
//! // The handshake.
//! let get = InboundRequest::new(
//!     Method::Get,
//!     "/hooks/wa?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444",
//!     &b""[..],
//! );
//! let reply = webhook.handle(&get);
//! assert_eq!((reply.status, reply.body.as_str()), (200, "1158201444"));
//!
//! // An event: here signed by the test itself, in production by Meta.
//! let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
//!     "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
//!     "messages":[{"from":"16505551234","id":"wamid.A","timestamp":"1749416383","type":"text","text":{"body":"Hi"}}]}}]}]}"#;
//! let post = InboundRequest::new(Method::Post, "/hooks/wa", &body[..])
//!     .header("X-Hub-Signature-256", sign(&app_secret, body));
//! let reply = webhook.handle(&post);
//! assert_eq!(reply.status, 200);
//! assert_eq!(reply.records[0].key, "wamid.A");
//! assert_eq!(reply.records[0].get("text"), Some(&serde_json::json!("Hi")));
//! ```
//!
//! # Answer first, process after
//!
//! [`WhatsAppWebhook::handle`] answers as soon as the body is checked and parsed; the host
//! should send that reply at once and hand the records to [`Flow::process`](crate::Flow::process)
//! afterwards (or queue them). Meta resends every webhook not answered `200` promptly, with
//! decreasing frequency for up to 7 days, and to every app subscribed to the account, so a
//! slow answer creates duplicates. Duplicates are expected anyway: the record keys (below)
//! let the flow's idempotency claims skip them.
//!
//! # Unreadable bodies are kept, not refused
//!
//! Only a missing or wrong signature is answered `401`, and a body over the size limit
//! `413`. A correctly signed body is answered `200` even when it cannot be read (not JSON,
//! not a WhatsApp payload, a field of the wrong type): refused, Meta would resend it for up
//! to 7 days, to every app on the account. Instead the body is kept whole as an
//! [`Unreadable`](crate::Unreadable) record (kind `hubflow.unreadable`) with the parse
//! error and its JSON pointer, beside the records of the changes that could be read. Every
//! flow fails that record at the `read` stage, so it lands in the dead letters and the run
//! history; once hubflow reads it, [`WhatsAppWebhook::reread`] turns the dead letter into
//! records (the changes that went through when it came are duplicates then).
//!
//! # What is read
//!
//! The body must be a JSON object with `"object": "whatsapp_business_account"` and an
//! `entry` array. Every entry and every change is read, each change on its own: a change
//! that cannot be read does not stop the others. Every change yields events, by `field`:
//!
//! | `field` | events |
//! |---|---|
//! | `messages` | [`WebhookEvent::Message`] per `value.messages[]`, [`WebhookEvent::Status`] per `value.statuses[]`, [`WebhookEvent::Error`] per `value.errors[]`, in that order |
//! | `smb_message_echoes` | [`WebhookEvent::Echo`] per `value.message_echoes[]`: messages the business sent from the WhatsApp Business app, read like inbound ones, with `to` |
//! | `message_template_status_update`, `message_template_quality_update`, `message_template_components_update`, `template_category_update` | one [`WebhookEvent::Template`] ([`TemplateChange`] says which) |
//! | `account_update`, `account_review_update`, `account_alerts`, `business_capability_update`, `business_status_update`, `security`, `partner_solutions`, `payment_configuration_update` | one [`WebhookEvent::Account`] |
//! | `phone_number_name_update`, `phone_number_quality_update` | one [`WebhookEvent::PhoneNumber`] |
//! | `user_preferences` | [`WebhookEvent::UserPreference`] per `value.user_preferences[]` |
//! | `calls` | [`WebhookEvent::Call`] per `value.calls[]` (the change's `errors[]` go with its calls), [`WebhookEvent::CallStatus`] per `value.statuses[]` |
//! | `group_lifecycle_update`, `group_participants_update`, `group_settings_update`, `group_status_update` | [`WebhookEvent::Group`] per `value.groups[]` |
//! | `history` | [`WebhookEvent::History`] per `value.history[]` chunk |
//! | `smb_app_state_sync` | [`WebhookEvent::ContactSync`] per `value.state_sync[]` |
//! | any other | one [`WebhookEvent::Unsupported`] with the `value` as received |
//!
//! Within `messages`, edits (`edit`) and deletions (`revoke`) are message types of their
//! own ([`InboundMessage::original_message_id`] names the message they change), a Flow's
//! answer (`interactive.nfm_reply`) is parsed ([`InboundMessage::flow_response`]), and a
//! call-permission answer's `response` is its [`reply_id`](InboundMessage::reply_id).
//! `value.errors[]` of the other fields are [`WebhookEvent::Error`]s too.
//!
//! Unknown fields are kept in each event's `raw` JSON; an unknown message `type` is
//! [`MessageType::Unknown`] and an unknown `status` is [`DeliveryState::Other`], never an
//! error. A field of the wrong type is an error naming its JSON pointer, e.g.
//! `/entry/0/changes/1/value/messages/2/timestamp`. Timestamps are strings of Unix seconds
//! (integers are accepted too). Fields Meta documents as optional are optional here, and an
//! optional field that is `null` counts as absent: messages need only `id` and `timestamp`,
//! statuses `id`, `status` and `timestamp`, and each `messages` change needs
//! `metadata.phone_number_id`. Ids and phone numbers sent as bare integers are read as
//! strings.
//!
//! # Records
//!
//! | event | `kind` | `key` | `occurred_at` |
//! |---|---|---|---|
//! | message | `whatsapp.message` | the wamid (`wamid.HBg…`) | `timestamp` |
//! | status | `whatsapp.status` | `<wamid>:<status>` (`wamid.HBg…:read`) | `timestamp` |
//! | system error | `whatsapp.error` | `whatsapp:error:<phone_number_id>:<code>:<hash>` | none |
//! | echo | `whatsapp.echo` | the wamid | `timestamp` |
//! | template status | `whatsapp.template_status` | `whatsapp:template:<waba>:<template id>:status:<STATUS>:<time>` | `entry.time` |
//! | template quality | `whatsapp.template_quality` | `…:quality:<new score>:<time>` | `entry.time` |
//! | template components | `whatsapp.template_components` | `…:components:<hash>:<time>` | `entry.time` |
//! | template category | `whatsapp.template_category` | `…:category:<new category>:<time>` | `entry.time` |
//! | account | `whatsapp.account` | `whatsapp:account:<waba>:<field>:<event>:<time>:<hash>` | `entry.time` |
//! | phone number | `whatsapp.phone_number` | `whatsapp:phone_number:<number>:<field>:<event>:<time>:<hash>` | `entry.time` |
//! | user preference | `whatsapp.user_preference` | `whatsapp:preference:<phone_number_id>:<wa_id>:<category>:<value>:<timestamp>` | `timestamp` |
//! | call | `whatsapp.call` | `<wacid>:<event>` (`connect`, `terminate`) | `timestamp` |
//! | call status | `whatsapp.call_status` | `<wacid>:<status>` (`ringing`) | `timestamp` |
//! | group | `whatsapp.group` | `whatsapp:group:<group_id>:<field>:<type>:<request_id or timestamp>` | `timestamp` |
//! | history chunk | `whatsapp.history` | `whatsapp:history:<phone_number_id>:<phase>:<chunk>:<hash>` | none |
//! | contact sync | `whatsapp.contact_sync` | `whatsapp:contact_sync:<phone_number_id>:<phone>:<action>:<when>` | `metadata.timestamp` |
//! | other field | `whatsapp.unsupported` | `whatsapp:unsupported:<waba>:<field>:<time>:<hash>` | `entry.time` |
//!
//! Events without an id of their own are keyed by what identifies them and when Meta says
//! they happened (the entry's `time` when the value has no timestamp), plus a hash of the
//! value where two could otherwise share a key: a resent webhook gets the same keys.
//! The data of each kind is documented on its event type's `to_record`.
//!
//! A status record's key includes the status, so `sent`, `delivered` and `read` of one
//! message are three records, and a redelivered `read` is a duplicate. Every field below
//! is always present in `data`; an absent optional value is `null`, so templates can use
//! `default`.
//!
//! **`whatsapp.message`**
//!
//! | field | value |
//! |---|---|
//! | `waba_id` | the WhatsApp Business Account id (`entry[].id`) |
//! | `phone_number_id`, `display_phone_number` | the business number that received it (`value.metadata`) |
//! | `id` | the wamid |
//! | `from` | sender's phone number, digits; `""` if WhatsApp gave only a user id |
//! | `from_user_id` | sender's business-scoped user id, or `null` |
//! | `timestamp` | RFC 3339, UTC (`2025-06-08T20:59:43Z`) |
//! | `type` | `text`, `image`, `button`, `interactive`, … or an unknown type's name |
//! | `text` | [`InboundMessage::text`]: text body, button text, interactive reply title, or media caption |
//! | `reply_id` | [`InboundMessage::reply_id`]: template button `payload` or interactive reply `id` |
//! | `context_id` | wamid of the message replied to (for a button tap: the template sent) |
//! | `context_from` | who sent the message replied to |
//! | `media_id` | media id of an image, audio, video, document or sticker |
//! | `original_message_id` | [`InboundMessage::original_message_id`]: the message an edit, deletion or reaction is about |
//! | `flow_response` | [`InboundMessage::flow_response`]: a Flow's answer as an object |
//! | `contact` | `{"name", "wa_id", "user_id", "username", "country_code"}` of the matching `value.contacts[]` entry (all `null` without one) |
//! | `message` | the message object exactly as received |
//!
//! Answer routing (a patient tapping *Confirm* on an appointment template) reads
//! `reply_id`, `context_id` (which template) and `from` (who).
//!
//! **`whatsapp.status`**
//!
//! | field | value |
//! |---|---|
//! | `waba_id`, `phone_number_id`, `display_phone_number` | as for messages |
//! | `id` | the wamid of the message the business sent |
//! | `status` | `sent`, `delivered`, `read`, `played`, `failed`, … |
//! | `timestamp` | RFC 3339, UTC |
//! | `recipient_id`, `recipient_user_id` | recipient's phone number and business-scoped user id, or `null` |
//! | `biz_opaque_callback_data` | what the send carried (a send can carry its record key there, linking statuses back to it), or `null` |
//! | `errors` | `[{"code", "title", "message", "details", "href"}]`, empty unless failed |
//! | `pricing`, `conversation` | those objects as received, or `null` |
//! | `raw` | the status object exactly as received |
//!
//! **`whatsapp.error`**: `waba_id`, `phone_number_id`, `display_phone_number`, `code`,
//! `title`, `message`, `details`, `href`, and `raw` (the error object as received).
//!
//! Statuses of the business's own sends must not trigger sends to the same user, or a
//! flow loops: give flows a condition on `kind`.
//!
//! # Signatures
//!
//! The header is `sha256=` followed by 64 hex digits. The MAC is checked with
//! [`hmac::Mac::verify_slice`], which compares in constant time. Upper-case hex digits are
//! accepted: the case carries no information, and the decoded bytes are what is compared.
//! Surrounding whitespace is ignored. A missing header is an error, never a warning.
//!
//! [`Record`]: crate::Record

use std::fmt;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;

use crate::http::{Method, REDACTED};
use crate::{CredentialCheck, InboundRequest, WebhookReply, WebhookSource};

mod business;
mod calls;
mod groups;
mod model;
mod parse;
mod sync;
#[cfg(test)]
mod tests;

pub use business::{
    AccountUpdate, BanInfo, PhoneNumberUpdate, PreferenceValue, Restriction, TemplateChange,
    TemplateStatus, TemplateUpdate, UserPreference, KIND_ACCOUNT, KIND_PHONE_NUMBER,
    KIND_TEMPLATE_CATEGORY, KIND_TEMPLATE_COMPONENTS, KIND_TEMPLATE_QUALITY, KIND_TEMPLATE_STATUS,
    KIND_USER_PREFERENCE, MARKETING_MESSAGES,
};
pub use calls::{CallEvent, CallStatus, KIND_CALL, KIND_CALL_STATUS};
pub use groups::{GroupEvent, KIND_GROUP};
pub use model::{
    Contact, Conversation, DeliveryState, ErrorDetail, InboundMessage, MediaRef, MessageContext,
    MessageType, Pricing, RawJson, StatusUpdate, SystemError, UnsupportedChange, WebhookEvent,
    KIND_ECHO, KIND_ERROR, KIND_MESSAGE, KIND_STATUS, KIND_UNSUPPORTED,
};
pub use sync::{ContactSync, HistoryChunk, HistoryThread, KIND_CONTACT_SYNC, KIND_HISTORY};

/// The signature header Meta sends with every `POST`.
pub const SIGNATURE_HEADER: &str = "X-Hub-Signature-256";

/// The largest body Meta sends: 3 MB.
pub const DEFAULT_MAX_BODY: usize = 3 * 1024 * 1024;

type HmacSha256 = Hmac<Sha256>;

/// Why a webhook request was refused. Messages never contain a secret or an expected
/// digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// `hub.mode` is missing or not `subscribe`.
    #[error("hub.mode is {}, expected \"subscribe\"", .found.as_deref().map_or("missing".to_owned(), |m| format!("{m:?}")))]
    SubscriptionMode {
        /// The mode received (at most 64 characters of it).
        found: Option<String>,
    },
    /// `hub.verify_token` is missing.
    #[error("hub.verify_token is missing")]
    VerifyTokenMissing,
    /// `hub.verify_token` is not the configured verify token.
    #[error("hub.verify_token does not match the configured verify token")]
    VerifyTokenMismatch,
    /// `hub.challenge` is missing.
    #[error("hub.challenge is missing")]
    ChallengeMissing,
    /// The `X-Hub-Signature-256` header is missing.
    #[error("the X-Hub-Signature-256 header is missing")]
    SignatureMissing,
    /// The signature header does not start with `sha256=`.
    #[error("the X-Hub-Signature-256 header does not start with \"sha256=\"")]
    SignaturePrefix,
    /// The signature is not hexadecimal.
    #[error("the X-Hub-Signature-256 signature is not hexadecimal")]
    SignatureNotHex,
    /// The signature has the wrong number of hex digits.
    #[error("the X-Hub-Signature-256 signature has {found} hex digits, expected 64")]
    SignatureLength {
        /// How many hex digits it had.
        found: usize,
    },
    /// The signature is well formed but does not match the body: a wrong app secret, a
    /// body changed on the way (re-serialized, re-encoded), or a forged request.
    #[error("the X-Hub-Signature-256 signature does not match the body")]
    SignatureMismatch,
    /// The body is larger than allowed.
    #[error("the body has {size} bytes, more than the {limit} allowed")]
    BodyTooLarge {
        /// The body's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The body is not JSON (or is truncated).
    #[error("the body is not valid JSON (line {line}, column {column}): {message}")]
    NotJson {
        /// The line of the error, from 1.
        line: usize,
        /// The column of the error, from 1.
        column: usize,
        /// What the JSON reader reported.
        message: String,
    },
    /// The JSON is not a WhatsApp Business Account webhook.
    #[error("not a WhatsApp Business Account webhook: \"object\" is {}, expected \"whatsapp_business_account\"", .object.as_deref().unwrap_or("missing"))]
    NotWhatsApp {
        /// What `object` was (a quoted string, or the kind of value), or `None` if missing.
        object: Option<String>,
    },
    /// A field is missing or has the wrong type.
    #[error("{path}: expected {expected}, found {found}")]
    Shape {
        /// The field's JSON pointer, e.g. `/entry/0/changes/1/value/messages/2/timestamp`.
        path: String,
        /// What was expected there.
        expected: &'static str,
        /// What was there (its kind, never its content).
        found: String,
    },
}

impl WebhookError {
    /// The JSON pointer of a [`Shape`](WebhookError::Shape) error.
    pub fn pointer(&self) -> Option<&str> {
        match self {
            WebhookError::Shape { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The HTTP status [`WhatsAppWebhook`] answers this error with, when it is refused.
    ///
    /// A correctly signed body that cannot be read is not refused: the webhook answers it
    /// `200` and keeps it as an [`Unreadable`](crate::Unreadable) record. The `400` here
    /// is for hosts that call [`parse`] themselves and want to refuse it.
    pub fn http_status(&self) -> u16 {
        match self {
            WebhookError::SubscriptionMode { .. }
            | WebhookError::VerifyTokenMissing
            | WebhookError::VerifyTokenMismatch
            | WebhookError::ChallengeMissing => 403,
            WebhookError::SignatureMissing
            | WebhookError::SignaturePrefix
            | WebhookError::SignatureNotHex
            | WebhookError::SignatureLength { .. }
            | WebhookError::SignatureMismatch => 401,
            WebhookError::BodyTooLarge { .. } => 413,
            WebhookError::NotJson { .. }
            | WebhookError::NotWhatsApp { .. }
            | WebhookError::Shape { .. } => 400,
        }
    }
}

/// A MAC keyed with `key`.
fn mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length (long keys are hashed), so this cannot fail.
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// The subscription handshake (`GET`): returns the challenge to answer with, if `mode` is
/// `subscribe` and `token` is the expected verify token.
///
/// The token is compared in constant time: both tokens are run through HMAC-SHA256 under a
/// fixed key and the tags compared with [`Mac::verify_slice`], so neither the content nor
/// the length of the expected token shows in the timing.
///
/// ```
/// use hubflow::whatsapp::webhook::{verify_subscription, WebhookError};
/// use secrecy::SecretString;
///
/// let expected = SecretString::from("verify-me");
/// let challenge = verify_subscription(Some("subscribe"), Some("verify-me"), Some("42"), &expected);
/// assert_eq!(challenge.unwrap(), "42");
/// let wrong = verify_subscription(Some("subscribe"), Some("guess"), Some("42"), &expected);
/// assert_eq!(wrong, Err(WebhookError::VerifyTokenMismatch));
/// ```
pub fn verify_subscription(
    mode: Option<&str>,
    token: Option<&str>,
    challenge: Option<&str>,
    expected: &SecretString,
) -> Result<String, WebhookError> {
    if mode != Some("subscribe") {
        return Err(WebhookError::SubscriptionMode {
            found: mode.map(|m| m.chars().take(64).collect()),
        });
    }
    let token = token.ok_or(WebhookError::VerifyTokenMissing)?;
    // An unset verify token would match an empty `hub.verify_token=`: it accepts nothing.
    if expected.expose_secret().is_empty() {
        return Err(WebhookError::VerifyTokenMismatch);
    }
    const KEY: &[u8] = b"hubflow whatsapp verify token";
    let mut expected_mac = mac(KEY);
    expected_mac.update(expected.expose_secret().as_bytes());
    let expected_tag = expected_mac.finalize().into_bytes();
    let mut given = mac(KEY);
    given.update(token.as_bytes());
    given
        .verify_slice(&expected_tag)
        .map_err(|_| WebhookError::VerifyTokenMismatch)?;
    challenge
        .map(str::to_owned)
        .ok_or(WebhookError::ChallengeMissing)
}

/// The `X-Hub-Signature-256` value for `body` under `app_secret`: `sha256=<lowercase hex>`.
///
/// For tests and for hosts that relay webhooks; see [`verify_signature`] for an example.
pub fn sign(app_secret: &SecretString, body: &[u8]) -> String {
    let mut mac = mac(app_secret.expose_secret().as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks an `X-Hub-Signature-256` header against the raw body, in constant time.
///
/// `header` is the header's value (`None` if absent: that is an error, never a pass).
///
/// ```
/// use hubflow::whatsapp::webhook::{sign, verify_signature, WebhookError};
/// use secrecy::SecretString;
///
/// let secret = SecretString::from("app-secret");
/// let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
/// let header = sign(&secret, body);
/// assert!(header.starts_with("sha256="));
/// assert_eq!(verify_signature(&secret, body, Some(&header)), Ok(()));
///
/// let tampered = br#"{"object":"whatsapp_business_account","entry":[{}]}"#;
/// assert_eq!(verify_signature(&secret, tampered, Some(&header)), Err(WebhookError::SignatureMismatch));
/// assert_eq!(verify_signature(&secret, body, None), Err(WebhookError::SignatureMissing));
/// ```
pub fn verify_signature(
    app_secret: &SecretString,
    body: &[u8],
    header: Option<&str>,
) -> Result<(), WebhookError> {
    let header = header.ok_or(WebhookError::SignatureMissing)?.trim();
    let digits = header
        .strip_prefix("sha256=")
        .ok_or(WebhookError::SignaturePrefix)?;
    if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(WebhookError::SignatureNotHex);
    }
    if digits.len() != 64 {
        return Err(WebhookError::SignatureLength {
            found: digits.len(),
        });
    }
    let given = hex::decode(digits).map_err(|_| WebhookError::SignatureNotHex)?;
    // With an empty key anyone can compute the HMAC: an unset secret accepts nothing.
    if app_secret.expose_secret().is_empty() {
        return Err(WebhookError::SignatureMismatch);
    }
    let mut mac = mac(app_secret.expose_secret().as_bytes());
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| WebhookError::SignatureMismatch)
}

/// Parses a webhook body into its events, strictly: the first change that cannot be read
/// is the error; see the [module docs](self#what-is-read) for what is read.
///
/// Check the signature first: this trusts nothing, but it does not know who sent the body.
///
/// ```
/// use hubflow::whatsapp::webhook::{parse, MessageType, WebhookEvent};
///
/// let body = br#"{"object": "whatsapp_business_account", "entry": [{"id": "419561257915477", "changes": [{
///   "field": "messages",
///   "value": {
///     "messaging_product": "whatsapp",
///     "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
///     "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
///     "messages": [{
///       "context": {"from": "15550783881", "id": "wamid.TEMPLATE"},
///       "from": "16505551234", "id": "wamid.TAP", "timestamp": "1750091045",
///       "type": "button", "button": {"payload": "confirm-appt-77", "text": "Confirm"}
///     }]
///   }
/// }]}]}"#;
///
/// let events = parse(body).unwrap();
/// let WebhookEvent::Message(tap) = &events[0] else { panic!("a message") };
/// assert_eq!(tap.kind, MessageType::Button);
/// assert_eq!(tap.reply_id(), Some("confirm-appt-77"));
/// assert_eq!(tap.text(), Some("Confirm"));
/// assert_eq!(tap.context.as_ref().and_then(|c| c.id.as_deref()), Some("wamid.TEMPLATE"));
/// assert_eq!(tap.contact.as_ref().and_then(|c| c.name.as_deref()), Some("Sheena Nelson"));
///
/// let record = events[0].to_record();
/// assert_eq!((record.kind.as_str(), record.key.as_str()), ("whatsapp.message", "wamid.TAP"));
/// assert_eq!(record.get("reply_id"), Some(&serde_json::json!("confirm-appt-77")));
///
/// let error = parse(br#"{"object": "page", "entry": []}"#).unwrap_err();
/// assert!(error.to_string().contains("not a WhatsApp"));
/// ```
pub fn parse(body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookError> {
    parse::parse(body)
}

/// The WhatsApp webhook as a [`WebhookSource`]: handshake, signature, size limit, parsing.
///
/// | request | reply |
/// |---|---|
/// | `GET` with the right `hub.mode`, `hub.verify_token`, `hub.challenge` | `200`, the challenge as `text/plain` |
/// | `GET` otherwise | `403` |
/// | `POST` larger than [`max_body`](Self::max_body) | `413` (checked before hashing) |
/// | `POST` with a missing or wrong signature | `401` |
/// | `POST` signed, but not all of it readable | `200` with the records of what was read, and the body kept as an [`Unreadable`](crate::Unreadable) record |
/// | `POST` signed and parsed | `200` with one record per event |
/// | any other method | `405` |
///
/// The host's server should also stop reading bodies past the same limit.
#[derive(Clone)]
pub struct WhatsAppWebhook {
    verify_token: SecretString,
    app_secret: SecretString,
    max_body: usize,
}

impl WhatsAppWebhook {
    /// A webhook checking the handshake against `verify_token` and signatures against
    /// `app_secret` (the App Secret from the app's basic settings).
    pub fn new(verify_token: SecretString, app_secret: SecretString) -> Self {
        WhatsAppWebhook {
            verify_token,
            app_secret,
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// The largest body accepted, in bytes ([`DEFAULT_MAX_BODY`], 3 MB, unless set).
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Checks and parses a `POST`, strictly: the events, or the first error (a body with
    /// one unreadable change is an error here; [`handle`](WebhookSource::handle) keeps it).
    pub fn events(&self, request: &InboundRequest) -> Result<Vec<WebhookEvent>, WebhookError> {
        self.authenticate(request)?;
        parse(&request.body)
    }

    /// The size limit and the signature.
    fn authenticate(&self, request: &InboundRequest) -> Result<(), WebhookError> {
        // The size is checked before anything else so an oversized body costs no hashing.
        if request.body.len() > self.max_body {
            return Err(WebhookError::BodyTooLarge {
                size: request.body.len(),
                limit: self.max_body,
            });
        }
        verify_signature(
            &self.app_secret,
            &request.body,
            request.headers.get(SIGNATURE_HEADER),
        )
    }

    /// Reads a body the webhook kept as unreadable (a dead letter of kind
    /// [`KIND_UNREADABLE`](crate::KIND_UNREADABLE)) again, once this crate reads it: the
    /// records of all its events, which the flow's claims deduplicate against those of the
    /// body's readable changes that went through when it arrived. The signature is not
    /// checked again: it was when the body came in, and the dead letter does not keep it.
    ///
    /// Still unreadable, it is the error again; a record that is not an unreadable
    /// WhatsApp body is [`RereadError::NotWhatsApp`].
    ///
    /// ```
    /// use hubflow::{InboundRequest, Unreadable, WebhookSource};
    /// use hubflow::http::Method;
    /// use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
    /// use secrecy::SecretString;
    ///
    /// let secret = SecretString::from("app-secret");
    /// let webhook = WhatsAppWebhook::new(SecretString::from("verify"), secret.clone());
    /// // Signed, but `timestamp` is an object: answered 200 and kept.
    /// let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
    ///     "metadata":{"phone_number_id":"1065"},
    ///     "messages":[{"from":"5511","id":"wamid.A","timestamp":{},"type":"text","text":{"body":"Hi"}}]}}]}]}"#;
    /// let post = InboundRequest::new(Method::Post, "/hooks/wa", &body[..])
    ///     .header("X-Hub-Signature-256", sign(&secret, body));
    /// let reply = webhook.handle(&post);
    /// assert_eq!(reply.status, 200);
    /// let kept = &reply.records[0];
    /// assert_eq!(kept.kind, "hubflow.unreadable");
    /// assert_eq!(kept.get("pointer"), Some(&serde_json::json!("/entry/0/changes/0/value/messages/0/timestamp")));
    /// // This crate still cannot read it.
    /// assert!(webhook.reread(kept).is_err());
    /// assert_eq!(Unreadable::from_record(kept).unwrap().body(), &body[..]);
    /// ```
    pub fn reread(&self, record: &crate::Record) -> Result<Vec<crate::Record>, RereadError> {
        let kept = crate::Unreadable::from_record(record)
            .map_err(|e| RereadError::NotWhatsApp(e.to_string()))?;
        if kept.source != UNREADABLE_SOURCE {
            return Err(RereadError::NotWhatsApp(format!(
                "the body came from `{}`",
                kept.source
            )));
        }
        let events = parse(kept.body()).map_err(RereadError::Unreadable)?;
        Ok(events.iter().map(WebhookEvent::to_record).collect())
    }
}

/// The `source` of the unreadable bodies this webhook keeps.
pub const UNREADABLE_SOURCE: &str = "whatsapp";

/// Why [`WhatsAppWebhook::reread`] gave no records.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RereadError {
    /// The record is not an unreadable WhatsApp body.
    #[error("not an unreadable WhatsApp body: {0}")]
    NotWhatsApp(String),
    /// The body still cannot be read.
    #[error("the body still cannot be read: {0}")]
    Unreadable(WebhookError),
}

/// The records of a signed body: its events, and the body itself, kept whole, when any of
/// it could not be read.
fn records_of(body: &[u8]) -> Vec<crate::Record> {
    let unreadable = |error: &WebhookError| {
        let kept = crate::Unreadable::new(UNREADABLE_SOURCE, body, error);
        match error.pointer() {
            Some(pointer) => kept.at(pointer),
            None => kept,
        }
    };
    match parse::read(body) {
        Err(error) => vec![unreadable(&error).to_record()],
        Ok(reading) => {
            let mut records: Vec<crate::Record> =
                reading.events.iter().map(WebhookEvent::to_record).collect();
            let mut problems = reading.problems.iter();
            if let Some(first) = problems.next() {
                let kept = problems.fold(unreadable(first), |kept, more| kept.also(more));
                records.push(kept.to_record());
            }
            records
        }
    }
}

impl fmt::Debug for WhatsAppWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppWebhook")
            .field("verify_token", &REDACTED)
            .field("app_secret", &REDACTED)
            .field("max_body", &self.max_body)
            .finish()
    }
}

impl WebhookSource for WhatsAppWebhook {
    fn handle(&self, request: &InboundRequest) -> WebhookReply {
        let reply = self.answer(request);
        crate::trace::webhook("whatsapp", &reply);
        reply
    }
}

impl WhatsAppWebhook {
    /// The answer to one request, before it is traced.
    fn answer(&self, request: &InboundRequest) -> WebhookReply {
        match request.method {
            Method::Get => {
                let mode = request.query("hub.mode");
                let token = request.query("hub.verify_token");
                let challenge = request.query("hub.challenge");
                match verify_subscription(
                    mode.as_deref(),
                    token.as_deref(),
                    challenge.as_deref(),
                    &self.verify_token,
                ) {
                    Ok(challenge) => {
                        WebhookReply::status(200, challenge).credential(CredentialCheck::Valid)
                    }
                    // The reason stays on this side: a prober learns nothing from the body.
                    Err(error) => {
                        let check = match error {
                            WebhookError::VerifyTokenMissing
                            | WebhookError::VerifyTokenMismatch => CredentialCheck::Refused,
                            _ => CredentialCheck::NotChecked,
                        };
                        WebhookReply::status(error.http_status(), "forbidden").credential(check)
                    }
                }
            }
            Method::Post => match self.authenticate(request) {
                // Authentic: answered 200 whatever it holds, so Meta does not resend it for
                // a week; what cannot be read is kept as a record.
                Ok(()) => WebhookReply::accepted(records_of(&request.body))
                    .credential(CredentialCheck::Valid),
                Err(error) => {
                    // The size is looked at before the signature.
                    let (body, check) = match error.http_status() {
                        413 => ("payload too large", CredentialCheck::NotChecked),
                        _ => ("invalid signature", CredentialCheck::Refused),
                    };
                    WebhookReply::status(error.http_status(), body).credential(check)
                }
            },
            _ => WebhookReply::status(405, "method not allowed"),
        }
    }
}
