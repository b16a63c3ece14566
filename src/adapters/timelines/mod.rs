//! TimelinesAI: webhook intake (v1 and v2) and message sending.
//!
//! [TimelinesAI](https://timelines.ai) connects WhatsApp numbers to a shared team inbox.
//! This module receives its outbound webhooks as [`Record`](crate::Record)s and sends
//! messages through its public API:
//!
//! * [`webhook::parse`] turns a webhook body into records; [`TimelinesWebhook`] is the
//!   [`WebhookSource`](crate::WebhookSource) around it (secret URL token, size limit,
//!   the HTTP answer TimelinesAI needs).
//! * [`TimelinesTarget`] sends a text, optionally with an attachment, to a phone number or
//!   into an existing chat; kind `timelines.message` in flow specs.
//!
//! See `docs/timelines.md` for the setup in TimelinesAI.
//!
//! # Payloads recognised
//!
//! | payload | recognised by | records |
//! |---|---|---|
//! | v1, "Don't aggregate" | no `event_type`; a `message` object and a `chat` | one `timelines.message` |
//! | v1, aggregated bundle (1/6/12/24 h) | no `event_type`; a `messages` array and a `chat` | one `timelines.message` per message, each with the bundle's chat, account and `bundle` fields |
//! | v2 message event: `message:new`, `message:received:new`, `message:sent:new` | the `event_type` and a `message` object (and `chat`) | one `timelines.message` |
//! | v2 chat event: `chat:created` / `chat:new`, `chat:received:created` / `chat:incoming:new`, `chat:sent:created` / `chat:outgoing:new`, `chat:assigned` / `chat:responsible:assigned`, `chat:unassigned` / `chat:responsible:unassigned` | the `event_type` and a `chat` object | one `timelines.chat` |
//! | any other v2 event (`message:reaction`, `whatsapp:account:*`, `call:*`, `waba:*`, …) | a well-formed `event_type` | one `timelines.event` with the payload in `raw` |
//!
//! An event type alone is not enough: `message:new` without a `message` object is an
//! error, not an empty message. The direction of a v2 message comes from
//! `message.direction` (one of TimelinesAI's examples labels a received message
//! `message:new`), and from the event name only when the message has none.
//!
//! # Record keys
//!
//! * a message with a `message_uid` (all v2 messages): the `message_uid` itself, so the
//!   record links to `GET /messages/{uid}` and TimelinesAI's redeliveries are duplicates;
//! * a message without one (v1): `timelines:msg:` and 16 hex digits of a 64-bit FNV-1a hash
//!   of the chat id, the UTC timestamp, the direction and the text. It is stable across
//!   runs, platforms and releases, so a bundle sent again gives the same keys and its
//!   messages are skipped as duplicates; a message that arrived alone and again in a
//!   bundle keys the same both times;
//! * chat and other events: `timelines:chat:` / `timelines:event:` and the same hash of the
//!   event type and the whole payload (keys sorted), so a redelivered event is a duplicate.
//!
//! # `timelines.message` record data
//!
//! `occurred_at` is the message's timestamp. `data` is one flat object; templates reach
//! its fields as `{{ text }}`, `{{ chat.phone }}`, `{{ sender.name }}`,
//! `{{ attachments.0.url }}`:
//!
//! | field | type | meaning |
//! |---|---|---|
//! | `format` | string | `v1`, `v1_bundle` or `v2` |
//! | `event_type` | string or null | the v2 event type as sent (`message:received:new`) |
//! | `message_uid` | string or null | TimelinesAI's message id (Public API), when sent |
//! | `message_id` | string or null | v1's internal id (not unique in bundles) |
//! | `direction` | string or null | `received` or `sent` (also from `incoming` / `outgoing`) |
//! | `text` | string | the message text; `""` when it has none |
//! | `timestamp` | string or null | when WhatsApp has the message, RFC 3339 in UTC (`2021-02-24T16:25:29Z`) |
//! | `received_timestamp` | string or null | v2: when TimelinesAI got it, RFC 3339 in UTC |
//! | `origin` | string or null | v2: `WhatsApp`, `Public API`, … |
//! | `reply_to_uid` | string or null | v2: the `message_uid` this message answers |
//! | `chat.id` | string or null | the chat id as text (v1 sends a string, v2 an integer) |
//! | `chat.name` | string or null | the chat's name (`full_name`) |
//! | `chat.phone` | string or null | the chat's phone; empty for groups |
//! | `chat.url` | string or null | the chat in TimelinesAI (`chat_url`) |
//! | `chat.is_group`, `chat.is_new_chat` | boolean or null | flags |
//! | `chat.responsible_name`, `chat.responsible_email` | string or null | the teammate assigned |
//! | `sender.name`, `sender.phone` | string or null | who wrote it (`sender` is null when absent) |
//! | `recipient.name`, `recipient.phone` | string or null | to whom (`recipient` is null when absent) |
//! | `whatsapp_account.phone`, `.name`, `.email` | string or null | the connected number and its teammate |
//! | `attachments[]` | array | each `{url, filename, size, mime_type}`; `url` is a temporary download URL, valid for **15 minutes** |
//! | `reactions` | object or null | v2: emoji → count |
//! | `bundle` | object or null | bundles only: `aggregation` (TimelinesAI's HTML summary, verbatim), `first_message_timestamp`, `last_message_timestamp` (RFC 3339 UTC), `count` (messages in the bundle), `index` (this message's place, from 0) |
//! | `raw` | object | the message object exactly as received |
//! | `extra` | object | top-level payload fields hubflow does not know, verbatim; absent when none |
//!
//! `chat`, `sender`, `recipient`, `whatsapp_account` and each attachment also keep every
//! field TimelinesAI sent under its own name (`chat.chat_id`, `chat.full_name`,
//! `attachments.0.temporary_download_url`, and fields added later); the names above are
//! laid over them, normalised. Phones are kept as sent (`+15551234567`; some v2 events send
//! bare digits): map them with `phone('BR')` where a target needs one form.
//!
//! # `timelines.chat` and `timelines.event` record data
//!
//! | field | meaning |
//! |---|---|
//! | `format` | `v2` |
//! | `event_type` | as sent |
//! | `event` | chat events only: `created`, `assigned` or `unassigned`, whichever spelling was sent (other actions verbatim) |
//! | `direction` | chat events only: `received` / `sent` for chats created by an incoming / outgoing message, else null |
//! | `chat`, `whatsapp_account` | as for messages (null when absent) |
//! | `raw` | the whole payload as received |
//!
//! # Timestamps
//!
//! TimelinesAI writes `2021-02-24T16:25:29+0000` (v1) and `2024-01-08 10:35:18 +0200` (v2);
//! both, RFC 3339 and the other forms the crate's condition language reads, become UTC
//! instants. A timestamp in no such form is an error ([`webhook::WebhookError::InvalidTimestamp`]).

pub mod webhook;

pub mod fake;
mod send;

pub use send::{
    TimelinesConnection, TimelinesTarget, DEFAULT_BASE_URL, DEFAULT_REQUESTS_PER_MINUTE, KIND,
};
pub use webhook::TimelinesWebhook;

/// Registers the `timelines.message` target kind.
// `Registry::default` calls this once the adapter is wired in; until then nothing does.
pub(crate) fn register(registry: &mut crate::spec::Registry) {
    send::register(registry);
}
