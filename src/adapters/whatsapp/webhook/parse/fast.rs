//! The fast reader: the body read once by serde into typed structs that borrow from it,
//! then a structural scan for the byte spans of the objects kept as `raw`.
//!
//! It reads `messages` changes itself (the common case) and hands every other change, as
//! the JSON text of that change, to the walker. It names no JSON pointers: whatever it does
//! not take as well-formed (a wrong type, a missing required field, an array where an object
//! belongs, a duplicate key) makes it give up, and the walker reads the whole body instead
//! and reports the problems where they are. So the fast reader may refuse more than the
//! walker, never less, and where both read a body they give the same events.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Range;

use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::{
    matching_contact, read_change, ChangeContext, Contact, Content, Conversation, DeliveryState,
    ErrorDetail, InboundMessage, MessageContext, MessageType, Pricing, RawJson, Reading,
    StatusUpdate, SystemError, WebhookEvent, WHATSAPP_OBJECT,
};
use crate::adapters::whatsapp::webhook::groups::GroupEvent;
use crate::adapters::whatsapp::webhook::model::MediaRef;

/// Reads `body`, or `None` when the walker must (see the module docs).
pub(super) fn read(body: &[u8]) -> Option<Reading> {
    let text = std::str::from_utf8(body).ok()?;
    let Obj(top) = serde_json::from_str::<Obj<Top<'_>>>(text).ok()?;
    if top.object.as_deref() != Some(WHATSAPP_OBJECT) {
        return None;
    }
    let entries = top.entry?;
    let spans = scan(text.as_bytes())?;
    if spans.len() != entries.len() {
        return None;
    }
    let mut reading = Reading::default();
    reading
        .events
        .reserve(spans.iter().flatten().map(ChangeSpans::items).sum());
    for (i, (Obj(entry), entry_spans)) in entries.into_iter().zip(spans).enumerate() {
        let waba_id = entry.id?.0;
        let time = entry.time.map(|t| t.0);
        let changes = entry.changes.unwrap_or_default();
        if changes.len() != entry_spans.len() {
            return None;
        }
        for (j, (Obj(change), span)) in changes.into_iter().zip(entry_spans).enumerate() {
            let field = change.field.unwrap_or_default();
            let Obj(value) = change.value?;
            if field == "messages" {
                messages(&waba_id, value, &span, text, &mut reading.events)?;
            } else if GROUP_FIELDS.contains(&field.as_ref()) {
                groups(&waba_id, &field, value, &span, text, &mut reading.events)?;
            } else {
                // Fields other than `messages` are rare and small: the walker reads them.
                let change: Value = serde_json::from_str(text.get(span.whole.clone())?).ok()?;
                let mut events = Vec::new();
                let path = format!("/entry/{i}/changes/{j}");
                match read_change(&waba_id, time, &change, &path, &mut events) {
                    Ok(()) => reading.events.append(&mut events),
                    Err(problem) => reading.problems.push(problem),
                }
            }
        }
    }
    Some(reading)
}

/// The fields whose changes are `value.groups[]`.
const GROUP_FIELDS: [&str; 4] = [
    "group_lifecycle_update",
    "group_participants_update",
    "group_settings_update",
    "group_status_update",
];

/// The events of a group change, as the walker's `fields::groups` makes them.
fn groups(
    waba_id: &str,
    field: &str,
    value: ValueF<'_>,
    spans: &ChangeSpans,
    text: &str,
    events: &mut Vec<WebhookEvent>,
) -> Option<()> {
    let metadata = value.metadata.map(|Obj(m)| m);
    let number = |id: Option<Id>| id.map(|id| id.0).unwrap_or_default();
    let (phone_number_id, display_phone_number) = match metadata {
        Some(m) => (number(m.phone_number_id), number(m.display_phone_number)),
        None => (String::new(), String::new()),
    };
    let participants = |list: Option<Vec<Obj<ParticipantF>>>| -> Vec<String> {
        list.unwrap_or_default()
            .into_iter()
            .map(|Obj(p)| p.wa_id.or(p.input).map(|id| id.0).unwrap_or_default())
            .collect()
    };
    for (Obj(g), span) in items(value.groups, &spans.groups)?
        .into_iter()
        .zip(&spans.groups)
    {
        events.push(WebhookEvent::Group(GroupEvent {
            waba_id: waba_id.to_owned(),
            phone_number_id: phone_number_id.clone(),
            display_phone_number: display_phone_number.clone(),
            field: field.to_owned(),
            group_id: g.group_id?,
            event: g.kind,
            timestamp: g.timestamp?.0,
            request_id: g.request_id,
            subject: g.subject,
            description: g.description,
            added: participants(g.added_participants),
            removed: participants(g.removed_participants),
            errors: errors(g.errors)?,
            raw: text.get(span.clone()).map(RawJson::from_text)?,
        }));
    }
    let number = ChangeContext {
        waba_id: waba_id.to_owned(),
        phone_number_id,
        display_phone_number,
    };
    system_errors(&number, value.errors, spans, text, events)
}

/// `value.errors[]` as system errors of the change's number.
fn system_errors(
    number: &ChangeContext,
    list: Option<Vec<Obj<ErrorF>>>,
    spans: &ChangeSpans,
    text: &str,
    events: &mut Vec<WebhookEvent>,
) -> Option<()> {
    for (Obj(e), span) in items(list, &spans.errors)?.into_iter().zip(&spans.errors) {
        events.push(WebhookEvent::Error(SystemError {
            waba_id: number.waba_id.clone(),
            phone_number_id: number.phone_number_id.clone(),
            display_phone_number: number.display_phone_number.clone(),
            error: error(e)?,
            raw: text.get(span.clone()).map(RawJson::from_text)?,
        }));
    }
    Some(())
}

/// The events of a `messages` change, as the walker's `read_messages_value` makes them.
fn messages(
    waba_id: &str,
    value: ValueF<'_>,
    spans: &ChangeSpans,
    text: &str,
    events: &mut Vec<WebhookEvent>,
) -> Option<()> {
    let Obj(metadata) = value.metadata?;
    let phone_number_id = metadata.phone_number_id?.0;
    let display_phone_number = metadata
        .display_phone_number
        .map(|n| n.0)
        .unwrap_or_default();
    let raw = |span: &Range<usize>| text.get(span.clone()).map(RawJson::from_text);

    let mut contacts = Vec::new();
    for (Obj(c), span) in items(value.contacts, &spans.contacts)?
        .into_iter()
        .zip(&spans.contacts)
    {
        let profile = c.profile.map(|p| p.0).unwrap_or_default();
        let mut contact = Contact {
            wa_id: c.wa_id.map(|id| id.0),
            user_id: c.user_id,
            raw: raw(span)?,
            ..Contact::default()
        };
        contact.name = profile.name;
        contact.username = profile.username;
        contact.country_code = profile.country_code;
        contacts.push(contact);
    }

    for (Obj(m), span) in items(value.messages, &spans.messages)?
        .into_iter()
        .zip(&spans.messages)
    {
        let kind = MessageType::parse(m.kind.as_deref().unwrap_or(""));
        let content = content(&kind, &m)?;
        let from = m.from.map(|id| id.0).unwrap_or_default();
        let contact = matching_contact(&contacts, &from, m.from_user_id.as_deref());
        events.push(WebhookEvent::Message(InboundMessage {
            waba_id: waba_id.to_owned(),
            phone_number_id: phone_number_id.clone(),
            display_phone_number: display_phone_number.clone(),
            id: m.id?,
            from,
            from_user_id: m.from_user_id,
            to: None,
            to_user_id: None,
            timestamp: m.timestamp?.0,
            kind,
            context: m.context.map(|context| {
                let Obj(c) = *context;
                MessageContext {
                    from: c.from.map(|id| id.0),
                    id: c.id,
                    forwarded: c.forwarded.unwrap_or(false),
                    frequently_forwarded: c.frequently_forwarded.unwrap_or(false),
                }
            }),
            contact,
            errors: errors(m.errors)?,
            raw: raw(span)?,
            content,
        }));
    }

    for (Obj(s), span) in items(value.statuses, &spans.statuses)?
        .into_iter()
        .zip(&spans.statuses)
    {
        let contact = if contacts.is_empty() {
            None
        } else {
            matching_contact(
                &contacts,
                s.recipient_id.as_ref().map_or("", |id| id.0.as_str()),
                s.recipient_user_id.as_deref(),
            )
        };
        events.push(WebhookEvent::Status(StatusUpdate {
            waba_id: waba_id.to_owned(),
            phone_number_id: phone_number_id.clone(),
            display_phone_number: display_phone_number.clone(),
            id: s.id?,
            status: DeliveryState::parse(&s.status?),
            timestamp: s.timestamp?.0,
            recipient_id: s.recipient_id.map(|id| id.0),
            recipient_user_id: s.recipient_user_id,
            group_id: s.group_id,
            biz_opaque_callback_data: s.biz_opaque_callback_data,
            conversation: s.conversation.map(|Obj(c)| Conversation {
                id: c.id,
                expiration_timestamp: c.expiration_timestamp.map(|t| t.0),
                origin_type: c.origin.and_then(|Obj(o)| o.kind),
            }),
            pricing: s.pricing.map(|Obj(p)| Pricing {
                billable: p.billable,
                pricing_model: p.pricing_model,
                category: p.category,
                kind: p.kind,
            }),
            contact,
            errors: errors(s.errors)?,
            raw: raw(span)?,
        }));
    }

    let number = ChangeContext {
        waba_id: waba_id.to_owned(),
        phone_number_id,
        display_phone_number,
    };
    system_errors(&number, value.errors, spans, text, events)
}

/// The items of an optional array, when the scan found as many spans.
fn items<T>(list: Option<Vec<T>>, spans: &[Range<usize>]) -> Option<Vec<T>> {
    let list = list.unwrap_or_default();
    (list.len() == spans.len()).then_some(list)
}

fn errors(list: Option<Vec<Obj<ErrorF>>>) -> Option<Vec<ErrorDetail>> {
    list.unwrap_or_default()
        .into_iter()
        .map(|Obj(e)| error(e))
        .collect()
}

fn error(e: ErrorF) -> Option<ErrorDetail> {
    Some(ErrorDetail {
        code: e.code?.0,
        title: e.title,
        message: e.message,
        details: e.error_data.and_then(|Obj(d)| d.details),
        href: e.href,
    })
}

/// [`Content::of_value`] from the typed fields; `None` for a Flow answer that is not a JSON
/// object in a string (the walker names it).
fn content<E: EditOf>(kind: &MessageType, m: &MessageF<'_, E>) -> Option<Content> {
    let interactive = m.interactive.as_ref().map(|i| &i.0);
    if let Some(json) = interactive
        .and_then(|i| i.nfm_reply.as_ref())
        .and_then(|n| n.0.response_json.as_deref())
    {
        serde_json::from_str::<Obj<IgnoredAny>>(json).ok()?;
    }
    let reply = interactive.and_then(|i| match &i.button_reply {
        // The walker takes `button_reply` when the key is there, even as `null`.
        Slot::Absent => i.list_reply.present(),
        slot => slot.present(),
    });
    let reply_id = match kind {
        MessageType::Button => m.button.as_ref().and_then(|b| b.0.payload.clone()),
        MessageType::Interactive => reply.and_then(|r| r.id.clone()).or_else(|| {
            interactive
                .and_then(|i| i.call_permission_reply.as_ref())
                .and_then(|c| c.0.response.clone())
        }),
        _ => None,
    };
    let original_message_id = match kind {
        MessageType::Edit => m.edit.original_message_id(),
        MessageType::Revoke => m
            .revoke
            .as_ref()
            .and_then(|r| r.0.original_message_id.clone()),
        MessageType::Reaction => m.reaction.as_ref().and_then(|r| r.0.message_id.clone()),
        _ => None,
    };
    let media = media_slot(kind, m).map(|slot| match slot.present() {
        None => MediaRef {
            id: String::new(),
            mime_type: None,
            sha256: None,
            caption: None,
            filename: None,
            voice: None,
            animated: None,
            url: None,
        },
        Some(media) => MediaRef {
            id: media.id.clone().unwrap_or_default(),
            mime_type: media.mime_type.clone(),
            sha256: media.sha256.clone(),
            caption: media.caption.clone(),
            filename: media.filename.clone(),
            voice: media.voice,
            animated: media.animated,
            url: media.url.clone(),
        },
    });
    Some(Content {
        text: text_of(kind, m),
        reply_id,
        original_message_id,
        flow_response: interactive
            .and_then(|i| i.nfm_reply.as_ref())
            .and_then(|n| n.0.response_json.clone()),
        media,
    })
}

/// The media object of a media message: `None` when the key is absent.
fn media_slot<'m, E>(kind: &MessageType, m: &'m MessageF<'_, E>) -> Option<&'m Slot<Box<MediaF>>> {
    let slot = match kind {
        MessageType::Image => &m.image,
        MessageType::Audio => &m.audio,
        MessageType::Video => &m.video,
        MessageType::Document => &m.document,
        MessageType::Sticker => &m.sticker,
        _ => return None,
    };
    (!matches!(slot, Slot::Absent)).then_some(slot)
}

/// The walker's `text_of`, on the typed fields.
fn text_of<E: EditOf>(kind: &MessageType, m: &MessageF<'_, E>) -> Option<String> {
    match kind {
        MessageType::Text => m.text.as_ref().and_then(|t| t.0.body.clone()),
        MessageType::Button => m.button.as_ref().and_then(|b| b.0.text.clone()),
        MessageType::Interactive => {
            let interactive = &m.interactive.as_ref()?.0;
            let reply = match &interactive.button_reply {
                Slot::Absent => interactive.list_reply.present(),
                slot => slot.present(),
            };
            reply.and_then(|r| r.title.clone()).or_else(|| {
                interactive
                    .nfm_reply
                    .as_ref()
                    .and_then(|n| n.0.body.clone())
            })
        }
        MessageType::Edit => m.edit.text(),
        kind if kind.is_media() => media_slot(kind, m)?
            .present()
            .and_then(|media| media.caption.clone()),
        _ => None,
    }
}

/// What an edit holds; an edited message's own `edit` is never read.
trait EditOf {
    fn original_message_id(&self) -> Option<String>;
    fn text(&self) -> Option<String>;
}

impl EditOf for IgnoredAny {
    fn original_message_id(&self) -> Option<String> {
        None
    }
    fn text(&self) -> Option<String> {
        None
    }
}

impl EditOf for Obj<EditF<'_>> {
    fn original_message_id(&self) -> Option<String> {
        self.0.original_message_id.clone()
    }
    fn text(&self) -> Option<String> {
        let edited = &self.0.message.as_ref()?.0;
        let kind = MessageType::parse(edited.kind.as_deref()?);
        // An edit of an edit does not exist; the walker gives it no text either.
        if kind == MessageType::Edit {
            return None;
        }
        text_of(&kind, edited)
    }
}

impl<T: EditOf> EditOf for Box<T> {
    fn original_message_id(&self) -> Option<String> {
        (**self).original_message_id()
    }
    fn text(&self) -> Option<String> {
        (**self).text()
    }
}

impl<T: EditOf> EditOf for Option<T> {
    fn original_message_id(&self) -> Option<String> {
        self.as_ref()?.original_message_id()
    }
    fn text(&self) -> Option<String> {
        self.as_ref()?.text()
    }
}

// ---- the typed model: what the walker reads and checks, nothing more ----

#[derive(Deserialize)]
struct Top<'a> {
    #[serde(borrow)]
    object: Option<Cow<'a, str>>,
    #[serde(borrow)]
    entry: Option<Vec<Obj<EntryF<'a>>>>,
}

#[derive(Deserialize)]
struct EntryF<'a> {
    id: Option<Id>,
    time: Option<Stamp>,
    #[serde(borrow)]
    changes: Option<Vec<Obj<ChangeF<'a>>>>,
}

#[derive(Deserialize)]
struct ChangeF<'a> {
    #[serde(borrow)]
    field: Option<Cow<'a, str>>,
    #[serde(borrow)]
    value: Option<Obj<ValueF<'a>>>,
}

/// A change's `value` as a `messages` change has it (other fields are read from the text).
#[derive(Deserialize)]
struct ValueF<'a> {
    metadata: Option<Obj<MetadataF>>,
    contacts: Option<Vec<Obj<ContactF>>>,
    #[serde(borrow)]
    messages: Option<Vec<Obj<TopMessageF<'a>>>>,
    #[serde(borrow)]
    statuses: Option<Vec<Obj<StatusF<'a>>>>,
    errors: Option<Vec<Obj<ErrorF>>>,
    groups: Option<Vec<Obj<GroupF>>>,
}

#[derive(Deserialize)]
struct GroupF {
    group_id: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    timestamp: Option<Stamp>,
    request_id: Option<String>,
    subject: Option<String>,
    description: Option<String>,
    added_participants: Option<Vec<Obj<ParticipantF>>>,
    removed_participants: Option<Vec<Obj<ParticipantF>>>,
    errors: Option<Vec<Obj<ErrorF>>>,
}

#[derive(Deserialize)]
struct ParticipantF {
    wa_id: Option<Id>,
    input: Option<Id>,
}

#[derive(Deserialize)]
struct MetadataF {
    phone_number_id: Option<Id>,
    display_phone_number: Option<Id>,
}

#[derive(Deserialize)]
struct ContactF {
    wa_id: Option<Id>,
    user_id: Option<String>,
    profile: Option<Obj<ProfileF>>,
}

#[derive(Deserialize, Default)]
struct ProfileF {
    name: Option<String>,
    username: Option<String>,
    country_code: Option<String>,
}

/// A message of `value.messages[]`, with its edit.
type TopMessageF<'a> = MessageF<'a, Option<Box<Obj<EditF<'a>>>>>;

/// A message, and (with `E = IgnoredAny`) the message inside an edit.
#[derive(Deserialize)]
#[serde(bound(deserialize = "E: Deserialize<'de> + Default"))]
struct MessageF<'a, E> {
    id: Option<String>,
    from: Option<Id>,
    from_user_id: Option<String>,
    timestamp: Option<Stamp>,
    #[serde(rename = "type", borrow)]
    kind: Option<Cow<'a, str>>,
    context: Option<Box<Obj<ContextF>>>,
    errors: Option<Vec<Obj<ErrorF>>>,
    text: Option<Obj<TextF>>,
    button: Option<Box<Obj<ButtonF>>>,
    #[serde(borrow)]
    reaction: Option<Box<Obj<ReactionF<'a>>>>,
    #[serde(borrow)]
    interactive: Option<Box<Obj<InteractiveF<'a>>>>,
    #[serde(default)]
    image: Slot<Box<MediaF>>,
    #[serde(default)]
    audio: Slot<Box<MediaF>>,
    #[serde(default)]
    video: Slot<Box<MediaF>>,
    #[serde(default)]
    document: Slot<Box<MediaF>>,
    #[serde(default)]
    sticker: Slot<Box<MediaF>>,
    revoke: Option<Box<Obj<RevokeF>>>,
    #[serde(default)]
    edit: E,
}

#[derive(Deserialize)]
struct ContextF {
    from: Option<Id>,
    id: Option<String>,
    forwarded: Option<bool>,
    frequently_forwarded: Option<bool>,
}

#[derive(Deserialize)]
struct TextF {
    body: Option<String>,
}

#[derive(Deserialize)]
struct ButtonF {
    payload: Option<String>,
    text: Option<String>,
}

#[derive(Deserialize)]
struct ReactionF<'a> {
    message_id: Option<String>,
    #[serde(borrow)]
    #[allow(dead_code)] // checked, not kept: the emoji stays in `raw`
    emoji: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct MediaF {
    id: Option<String>,
    mime_type: Option<String>,
    sha256: Option<String>,
    caption: Option<String>,
    filename: Option<String>,
    voice: Option<bool>,
    animated: Option<bool>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct InteractiveF<'a> {
    #[serde(rename = "type", borrow)]
    #[allow(dead_code)] // checked, not kept
    kind: Option<Cow<'a, str>>,
    #[serde(default, borrow)]
    button_reply: Slot<ReplyF<'a>>,
    #[serde(default, borrow)]
    list_reply: Slot<ReplyF<'a>>,
    nfm_reply: Option<Obj<NfmReplyF>>,
    call_permission_reply: Option<Obj<CallPermissionF>>,
}

#[derive(Deserialize)]
struct ReplyF<'a> {
    id: Option<String>,
    title: Option<String>,
    #[serde(borrow)]
    #[allow(dead_code)] // checked, not kept
    description: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct NfmReplyF {
    body: Option<String>,
    response_json: Option<String>,
}

#[derive(Deserialize)]
struct CallPermissionF {
    response: Option<String>,
}

#[derive(Deserialize)]
struct RevokeF {
    original_message_id: Option<String>,
}

#[derive(Deserialize)]
struct EditF<'a> {
    original_message_id: Option<String>,
    #[serde(borrow)]
    message: Option<Obj<MessageF<'a, IgnoredAny>>>,
}

#[derive(Deserialize)]
struct StatusF<'a> {
    id: Option<String>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    timestamp: Option<Stamp>,
    recipient_id: Option<Id>,
    recipient_user_id: Option<String>,
    group_id: Option<String>,
    biz_opaque_callback_data: Option<String>,
    conversation: Option<Obj<ConversationF>>,
    pricing: Option<Obj<PricingF>>,
    errors: Option<Vec<Obj<ErrorF>>>,
}

#[derive(Deserialize)]
struct ConversationF {
    id: Option<String>,
    expiration_timestamp: Option<Stamp>,
    origin: Option<Obj<OriginF>>,
}

#[derive(Deserialize)]
struct OriginF {
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct PricingF {
    billable: Option<bool>,
    pricing_model: Option<String>,
    category: Option<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
}

#[derive(Deserialize)]
struct ErrorF {
    code: Option<Code>,
    title: Option<String>,
    message: Option<String>,
    href: Option<String>,
    error_data: Option<Obj<ErrorDataF>>,
}

#[derive(Deserialize)]
struct ErrorDataF {
    details: Option<String>,
}

// ---- leaves: the walker's rules for ids, timestamps, codes and objects ----

/// A JSON object read as `T`. serde's derive also reads a struct from an array (by
/// position), which the walker calls a mistake; this takes only `{…}`.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
            type Value = Obj<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(Obj)
            }
        }
        deserializer.deserialize_map(ObjVisitor(PhantomData))
    }
}

/// An object that may be absent, `null`, or there: the walker tells the first two apart
/// for media objects and interactive replies.
#[derive(Default)]
enum Slot<T> {
    #[default]
    Absent,
    Null,
    Present(T),
}

impl<T> Slot<T> {
    fn present(&self) -> Option<&T> {
        match self {
            Slot::Present(value) => Some(value),
            _ => None,
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Slot<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Option::<Obj<T>>::deserialize(deserializer)? {
            None => Slot::Null,
            Some(Obj(value)) => Slot::Present(value),
        })
    }
}

/// An id or phone number: a string, or an integer turned into its digits.
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string or an integer")
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<Id, E> {
                Ok(Id(text.to_owned()))
            }
            fn visit_string<E: de::Error>(self, text: String) -> Result<Id, E> {
                Ok(Id(text))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Id, E> {
                Ok(Id(n.to_string()))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Id, E> {
                Ok(Id(n.to_string()))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

/// Any integer a JSON number or a string of digits holds, as the walker reads
/// timestamps and error codes (`i64`, surrounding spaces in strings allowed).
fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    struct IntVisitor;
    impl Visitor<'_> for IntVisitor {
        type Value = i64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an integer, or a string of one")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<i64, E> {
            text.trim().parse().map_err(|_| E::custom("not an integer"))
        }
        fn visit_u64<E: de::Error>(self, n: u64) -> Result<i64, E> {
            i64::try_from(n).map_err(|_| E::custom("out of range"))
        }
        fn visit_i64<E: de::Error>(self, n: i64) -> Result<i64, E> {
            Ok(n)
        }
    }
    deserializer.deserialize_any(IntVisitor)
}

/// A timestamp: Unix seconds as a string or an integer.
struct Stamp(DateTime<Utc>);

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let seconds = integer(deserializer)?;
        DateTime::from_timestamp(seconds, 0)
            .map(Stamp)
            .ok_or_else(|| de::Error::custom("out of range"))
    }
}

/// An error code: an integer, or a string of digits.
struct Code(i64);

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        integer(deserializer).map(Code)
    }
}

// ---- the spans of what is kept as raw JSON text ----

/// Where one change and the items of its `value` are in the body.
#[derive(Default)]
struct ChangeSpans {
    whole: Range<usize>,
    contacts: Vec<Range<usize>>,
    messages: Vec<Range<usize>>,
    statuses: Vec<Range<usize>>,
    errors: Vec<Range<usize>>,
    groups: Vec<Range<usize>>,
}

impl ChangeSpans {
    /// How many events the change gives at most.
    fn items(&self) -> usize {
        self.messages.len() + self.statuses.len() + self.errors.len() + self.groups.len()
    }
}

/// The spans of every change, per entry, in body order. The body is JSON serde has just
/// read, so this only follows its structure; anything unexpected is `None`.
fn scan(body: &[u8]) -> Option<Vec<Vec<ChangeSpans>>> {
    let mut s = Scanner { body, at: 0 };
    let mut entries = Vec::new();
    s.object(|s, key| match key {
        b"entry" => s.array(|s| {
            let mut changes = Vec::new();
            s.object(|s, key| match key {
                b"changes" => s.array(|s| {
                    s.ws();
                    let start = s.at;
                    let mut spans = ChangeSpans::default();
                    s.object(|s, key| match key {
                        b"value" => s.object(|s, key| {
                            let list = match key {
                                b"contacts" => &mut spans.contacts,
                                b"messages" => &mut spans.messages,
                                b"statuses" => &mut spans.statuses,
                                b"errors" => &mut spans.errors,
                                b"groups" => &mut spans.groups,
                                _ => return s.skip().map(drop),
                            };
                            s.array(|s| {
                                list.push(s.skip()?);
                                Some(())
                            })
                        }),
                        _ => s.skip().map(drop),
                    })?;
                    spans.whole = start..s.at;
                    changes.push(spans);
                    Some(())
                }),
                _ => s.skip().map(drop),
            })?;
            entries.push(changes);
            Some(())
        }),
        _ => s.skip().map(drop),
    })?;
    Some(entries)
}

struct Scanner<'b> {
    body: &'b [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.body.get(self.at).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.at += 1;
        }
    }

    /// Past a string starting at its quote; where its bytes between the quotes are.
    fn string(&mut self) -> Option<Range<usize>> {
        self.at += 1;
        let start = self.at;
        loop {
            let k = memchr::memchr2(b'"', b'\\', self.body.get(self.at..)?)?;
            self.at += k;
            if self.peek()? == b'\\' {
                self.escape()?;
            } else {
                let text = start..self.at;
                self.at += 1;
                return Some(text);
            }
        }
    }

    /// Past an escape, at its backslash. serde checks the escapes of the strings it reads,
    /// not of those it skips (unknown fields), where the walker's `Value` would refuse a
    /// lone surrogate (`\ud800`): such a body is the walker's.
    fn escape(&mut self) -> Option<()> {
        if self.body.get(self.at + 1) != Some(&b'u') {
            self.at += 2;
            return Some(());
        }
        let unit = |at: usize| -> Option<u16> {
            let hex = std::str::from_utf8(self.body.get(at..at + 4)?).ok()?;
            u16::from_str_radix(hex, 16).ok()
        };
        let first = unit(self.at + 2)?;
        self.at += 6;
        match first {
            0xD800..=0xDBFF => {
                if self.body.get(self.at..self.at + 2) != Some(b"\\u") {
                    return None;
                }
                if !(0xDC00..=0xDFFF).contains(&unit(self.at + 2)?) {
                    return None;
                }
                self.at += 6;
                Some(())
            }
            0xDC00..=0xDFFF => None,
            _ => Some(()),
        }
    }

    /// Past any value; its span.
    fn skip(&mut self) -> Option<Range<usize>> {
        self.ws();
        let start = self.at;
        match self.peek()? {
            b'"' => {
                self.string()?;
            }
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => depth -= 1,
                        _ => {}
                    }
                    self.at += 1;
                    if depth == 0 {
                        break;
                    }
                }
            }
            _ => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t')
                ) {
                    self.at += 1;
                }
            }
        }
        Some(start..self.at)
    }

    /// Into a container opened by `open` (true), or past a value of another kind (false).
    fn enter(&mut self, open: u8) -> Option<bool> {
        self.ws();
        if self.peek()? != open {
            self.skip()?;
            return Some(false);
        }
        self.at += 1;
        Some(true)
    }

    /// Past the separator before the next member: true once the container is closed.
    fn next_member(&mut self, close: u8) -> Option<bool> {
        self.ws();
        let byte = self.peek()?;
        if byte == close || byte == b',' {
            self.at += 1;
            self.ws();
        }
        Some(byte == close)
    }

    /// Through an object, `each` reading the value of every key; a value that is not an
    /// object is skipped.
    fn object(&mut self, mut each: impl FnMut(&mut Self, &[u8]) -> Option<()>) -> Option<()> {
        if !self.enter(b'{')? {
            return Some(());
        }
        while !self.next_member(b'}')? {
            let body = self.body;
            let key = body.get(self.string()?)?;
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.at += 1;
            each(self, key)?;
        }
        Some(())
    }

    /// Through an array, `each` reading every item; a value that is not an array is
    /// skipped.
    fn array(&mut self, mut each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if !self.enter(b'[')? {
            return Some(());
        }
        while !self.next_member(b']')? {
            let before = self.at;
            each(self)?;
            // Valid JSON always moves on; this only guards the loop.
            if self.at == before {
                return None;
            }
        }
        Some(())
    }
}
