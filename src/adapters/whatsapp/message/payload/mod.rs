//! Building an [`OutgoingMessage`] from a mapped flow payload, with validation.
//!
//! The payload forms are described in the parent module's documentation.
//!
//! The template kind is read in `template`, the free-form kinds (text, media, interactive)
//! in `free_form`, and the field readers they share are in `fields`.

mod fields;
mod free_form;
mod interactive;
mod template;
#[cfg(test)]
mod tests;

use serde_json::{Map, Value};

use self::fields::{check_known_fields, json_type, optional_str};
use self::free_form::{media_content, text_content};
use self::interactive::interactive_content;
use self::template::template_content;
use super::{OutgoingMessage, ReplyContext, MAX_CALLBACK_DATA_CHARS};
use crate::whatsapp::media::MediaType;
use crate::TargetError;

/// The longest BSUID Meta documents.
const MAX_BSUID_CHARS: usize = 256;

/// What a mapped payload describes: the target kinds of the WhatsApp adapter.
///
/// The payload forms of each kind are listed on
/// [`OutgoingMessage::from_payload`]; in short:
///
/// * [`Template`](MessageKind::Template):
///   `{"to", "template", "language", "header"?, "body"?, "buttons"?}`
/// * [`Text`](MessageKind::Text): `{"to", "text", "preview_url"?}`
/// * [`Document`](MessageKind::Document):
///   `{"to", "link" | "id" | "file", "mime_type"?, "filename"?, "caption"?}`
/// * [`Image`](MessageKind::Image), [`Video`](MessageKind::Video):
///   `{"to", "link" | "id" | "file", "mime_type"?, "caption"?}`;
///   [`Audio`](MessageKind::Audio): `{"to", "link" | "id" | "file", "mime_type"?}`
/// * [`Interactive`](MessageKind::Interactive): `{"to", "body", "header"?, "footer"?}` and
///   one of `"buttons": [{"id", "title"}]`, `"list": {"button", "sections"}`,
///   `"cta_url": {"display_text", "url"}`, `"location_request": true`
///
/// `file` names a file of the host's [`MediaProvider`](crate::whatsapp::media::MediaProvider),
/// uploaded when the message is delivered (see [`media`](crate::whatsapp::media)).
///
/// and each also takes `reply_to` and `callback_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MessageKind {
    /// `whatsapp.template`: an approved template, allowed at any time.
    Template,
    /// `whatsapp.text`: a text message, inside the 24-hour window only.
    Text,
    /// `whatsapp.document`: a document by link or media id, inside the window only.
    Document,
    /// `whatsapp.interactive`: reply buttons, a list, a CTA URL button or a location
    /// request, inside the window only.
    Interactive,
    /// `whatsapp.image`: a JPEG or PNG image, inside the window only.
    Image,
    /// `whatsapp.audio`: an audio file or voice note, inside the window only.
    Audio,
    /// `whatsapp.video`: an MP4 or 3GP video, inside the window only.
    Video,
}

impl MessageKind {
    /// Every kind, for registering them all.
    pub const ALL: [MessageKind; 7] = [
        MessageKind::Template,
        MessageKind::Text,
        MessageKind::Document,
        MessageKind::Interactive,
        MessageKind::Image,
        MessageKind::Audio,
        MessageKind::Video,
    ];

    /// The kind's name in flow specs (`whatsapp.template`, …).
    pub fn kind_name(self) -> &'static str {
        match self {
            MessageKind::Template => "whatsapp.template",
            MessageKind::Text => "whatsapp.text",
            MessageKind::Document => "whatsapp.document",
            MessageKind::Interactive => "whatsapp.interactive",
            MessageKind::Image => "whatsapp.image",
            MessageKind::Audio => "whatsapp.audio",
            MessageKind::Video => "whatsapp.video",
        }
    }

    /// The kind with this name in flow specs.
    ///
    /// ```
    /// use hubflow::whatsapp::MessageKind;
    /// assert_eq!(MessageKind::from_kind_name("whatsapp.text"), Some(MessageKind::Text));
    /// assert_eq!(MessageKind::from_kind_name("whatsapp.sms"), None);
    /// ```
    pub fn from_kind_name(name: &str) -> Option<Self> {
        MessageKind::ALL
            .into_iter()
            .find(|kind| kind.kind_name() == name)
    }

    /// The fields a payload of this kind may have.
    pub fn payload_fields(self) -> &'static [&'static str] {
        match self {
            MessageKind::Template => &[
                "to",
                "template",
                "language",
                "header",
                "body",
                "buttons",
                "reply_to",
                "callback_data",
            ],
            MessageKind::Text => &["to", "text", "preview_url", "reply_to", "callback_data"],
            MessageKind::Document => &[
                "to",
                "link",
                "id",
                "file",
                "mime_type",
                "filename",
                "caption",
                "reply_to",
                "callback_data",
            ],
            MessageKind::Image | MessageKind::Video => &[
                "to",
                "link",
                "id",
                "file",
                "mime_type",
                "caption",
                "reply_to",
                "callback_data",
            ],
            MessageKind::Audio => &[
                "to",
                "link",
                "id",
                "file",
                "mime_type",
                "reply_to",
                "callback_data",
            ],
            MessageKind::Interactive => &[
                "to",
                "body",
                "buttons",
                "list",
                "cta_url",
                "location_request",
                "header",
                "footer",
                "reply_to",
                "callback_data",
            ],
        }
    }
}

impl OutgoingMessage {
    /// Builds and validates the request for a mapped flow payload of this kind.
    ///
    /// The payload forms, by kind:
    ///
    /// ```json
    /// // whatsapp.template ("header", "body" and "buttons" are optional)
    /// {"to": "5511999991234", "template": "wo_assignment", "language": "pt_BR",
    ///  "header": {"type": "document", "link": "https://erp.example.com/wo/1021.pdf", "filename": "OT-1021.pdf"},
    ///  "body": ["Jonas", "OT-1021", {"type": "currency", "currency": {"fallback_value": "R$ 10,00", "code": "BRL", "amount_1000": 10000}}],
    ///  "buttons": [{"sub_type": "quick_reply", "payload": "confirm"}, {"sub_type": "url", "text": "1021"}]}
    /// // whatsapp.text
    /// {"to": "5511999991234", "text": "OT-1021 is done.", "preview_url": false}
    /// // whatsapp.document ("id" of uploaded media, or "file" of the host's, instead of "link")
    /// {"to": "5511999991234", "link": "https://erp.example.com/wo/1021.pdf", "filename": "OT-1021.pdf", "caption": "Work order"}
    /// // whatsapp.image, whatsapp.video ("caption" optional), whatsapp.audio (no caption)
    /// {"to": "5511999991234", "file": "photos/pump-3.jpg", "caption": "Pump 3 after repair"}
    /// // whatsapp.interactive: reply buttons (1 to 3; "header" and "footer" are optional;
    /// // the header is text, or {"type": "image" | "video" | "document", "link" | "id" | "file"})
    /// {"to": "5511999991234", "body": "Can you take OT-1021?", "header": "OT-1021", "footer": "Maintenance",
    ///  "buttons": [{"id": "accept", "title": "Accept"}, {"id": "decline", "title": "Decline"}]}
    /// // a list (up to 10 sections and 10 rows in all; a text header only)
    /// {"to": "5511999991234", "body": "Pick a time", "list": {"button": "Choose a time", "sections": [
    ///   {"title": "Morning", "rows": [{"id": "slot-9", "title": "09:00", "description": "Jonas Campos"}]}]}}
    /// // a button that opens a URL
    /// {"to": "5511999991234", "body": "OT-1021 is ready", "header": {"type": "image", "link": "https://erp.example.com/pump.jpg"},
    ///  "cta_url": {"display_text": "Open OT-1021", "url": "https://erp.example.com/wo/1021"}}
    /// // a request for the user's location (a body only)
    /// {"to": "5511999991234", "body": "Where is the asset?", "location_request": true}
    /// ```
    ///
    /// * A template `header` is `{"type": "document", "link" | "id" | "file", "filename"?}`,
    ///   `{"type": "image" | "video", "link" | "id" | "file"}` or `{"type": "text", "text"}`.
    /// * `file` (any media) names a file of the host's
    ///   [`MediaProvider`](crate::whatsapp::media::MediaProvider), with an optional
    ///   `mime_type` (else the file name's extension, else the provider's); it becomes an
    ///   `upload` object in the media, replaced by the media id when the target uploads it.
    ///   A known MIME type is checked here against WhatsApp's list (template document
    ///   headers: PDF only); a document's `filename` defaults to the file's name.
    /// * A template `body` is a list (strings and numbers become text parameters, objects
    ///   pass through as typed `text`, `currency` or `date_time` parameters) or an object
    ///   of named parameters (`{"customer_name": "Jonas"}` → text parameters with
    ///   `parameter_name`).
    /// * Template `buttons` are `{"sub_type": "quick_reply", "payload"}` or
    ///   `{"sub_type": "url", "text": <URL suffix>}`, with an optional `index` (0–9; the
    ///   position otherwise).
    /// * Every kind also takes `reply_to` (a wamid to quote) and `callback_data`
    ///   (`biz_opaque_callback_data`, at most 512 characters). For optional fields,
    ///   absent, `null` and `""` are the same: that is what a mapping gives for a missing
    ///   value.
    ///
    /// Validation: `to` is a phone number with country code, normalised to its 8–15 digits
    /// (`+`, spaces, dashes and parentheses dropped), or a BSUID `user.…` kept as it is;
    /// template language codes look like `en`, `en_US`, `pt_BR` (`pt-BR` is rejected with
    /// the fix); template text parameters are not empty and have no new line, tab or more
    /// than 4 consecutive spaces; text bodies have 1–4096 characters; interactive bodies
    /// up to 1024, headers and footers up to 60, button titles 1–20 and ids unique;
    /// media have exactly one of `link` (http or https), `id` and `file`; unknown fields are
    /// rejected with the allowed ones listed, so a typo in a field map cannot drop a value.
    ///
    /// Every problem is a [`TargetError::InvalidField`] naming the payload field
    /// (`to`, `body.1`, `buttons.0.title`) and saying how to fix it; a payload that is not
    /// a JSON object is a [`TargetError::InvalidPayload`]. Nothing here panics, whatever
    /// the JSON.
    ///
    /// ```
    /// use hubflow::TargetError;
    /// use hubflow::whatsapp::{MessageKind, OutgoingMessage};
    /// use serde_json::json;
    ///
    /// let payload = json!({
    ///     "to": "+55 (11) 99999-1234",
    ///     "template": "wo_assignment",
    ///     "language": "pt_BR",
    ///     "body": ["Jonas", "OT-1021"],
    ///     "buttons": [{"sub_type": "quick_reply", "payload": "confirm"}]
    /// });
    /// let message = OutgoingMessage::from_payload(MessageKind::Template, &payload)?;
    /// assert_eq!(message.to(), "5511999991234");
    /// assert!(message.is_template());
    /// assert_eq!(serde_json::to_value(&message).unwrap(), json!({
    ///     "messaging_product": "whatsapp", "recipient_type": "individual",
    ///     "to": "5511999991234", "type": "template",
    ///     "template": {"name": "wo_assignment", "language": {"code": "pt_BR"}, "components": [
    ///         {"type": "body", "parameters": [{"type": "text", "text": "Jonas"},
    ///                                         {"type": "text", "text": "OT-1021"}]},
    ///         {"type": "button", "sub_type": "quick_reply", "index": "0",
    ///          "parameters": [{"type": "payload", "payload": "confirm"}]}
    ///     ]}
    /// }));
    ///
    /// let typo = json!({"to": "5511999991234", "template": "wo_assignment", "langauge": "pt_BR"});
    /// let error = OutgoingMessage::from_payload(MessageKind::Template, &typo).unwrap_err();
    /// assert!(matches!(error, TargetError::InvalidField { ref field, .. } if field == "langauge"));
    /// assert!(error.to_string().contains("did you mean `language`?"));
    /// # Ok::<(), TargetError>(())
    /// ```
    pub fn from_payload(
        kind: MessageKind,
        payload: &Value,
    ) -> Result<OutgoingMessage, TargetError> {
        let Some(fields) = payload.as_object() else {
            return Err(TargetError::InvalidPayload(format!(
                "a {} payload must be a JSON object, not {}",
                kind.kind_name(),
                json_type(payload)
            )));
        };
        check_known_fields(fields, kind.payload_fields())?;
        let to = recipient(fields)?;
        let content = match kind {
            MessageKind::Template => template_content(fields)?,
            MessageKind::Text => text_content(fields)?,
            MessageKind::Document => media_content(MediaType::Document, fields)?,
            MessageKind::Image => media_content(MediaType::Image, fields)?,
            MessageKind::Audio => media_content(MediaType::Audio, fields)?,
            MessageKind::Video => media_content(MediaType::Video, fields)?,
            MessageKind::Interactive => interactive_content(fields)?,
        };
        let mut message = OutgoingMessage::new(to, content);
        if let Some(message_id) = optional_str(fields, "reply_to")? {
            let message_id = message_id.trim();
            if message_id.chars().any(char::is_whitespace) {
                return Err(TargetError::field(
                    "reply_to",
                    "a message id (wamid) has no spaces",
                ));
            }
            message.context = Some(ReplyContext::new(message_id));
        }
        if let Some(data) = optional_str(fields, "callback_data")? {
            let length = data.chars().count();
            if length > MAX_CALLBACK_DATA_CHARS {
                return Err(TargetError::field(
                    "callback_data",
                    format!(
                        "{length} characters; Meta keeps at most {MAX_CALLBACK_DATA_CHARS} in biz_opaque_callback_data"
                    ),
                ));
            }
            message.biz_opaque_callback_data = Some(data.to_owned());
        }
        Ok(message)
    }
}

/// Normalises a recipient: a phone number becomes its digits with country code; a BSUID
/// (`user.…`) is kept as it is. The error says what is wrong, for a `to` field.
pub(crate) fn normalize_recipient(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(
            "is blank: give the recipient's phone number with country code (5511999991234) or a BSUID (user.…)"
                .to_owned(),
        );
    }
    if let Some(id) = raw.strip_prefix("user.") {
        if id.is_empty() || id.chars().any(char::is_whitespace) {
            return Err(format!(
                "`{raw}` is not a BSUID: expected `user.` followed by the id, without spaces"
            ));
        }
        if raw.chars().count() > MAX_BSUID_CHARS {
            return Err(format!(
                "a BSUID has at most {MAX_BSUID_CHARS} characters; this one is longer"
            ));
        }
        return Ok(raw.to_owned());
    }
    let number = raw.strip_prefix('+').unwrap_or(raw);
    let mut digits = String::with_capacity(number.len());
    for c in number.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '-' | '(' | ')' => {}
            c if c.is_whitespace() => {}
            c => {
                return Err(format!(
                    "`{raw}` is not a phone number ({c:?} is not allowed): use digits with country code, \
                     e.g. 5511999991234 or +55 11 99999-1234, or a BSUID (user.…)"
                ))
            }
        }
    }
    if !(8..=15).contains(&digits.len()) {
        return Err(format!(
            "`{raw}` has {} digits; a phone number with country code has 8 to 15 (e.g. 5511999991234)",
            digits.len()
        ));
    }
    if digits.starts_with('0') {
        return Err(format!(
            "`{raw}` starts with 0: give the country code first (55 for Brazil), without 00 or a trunk 0"
        ));
    }
    Ok(digits)
}

fn recipient(fields: &Map<String, Value>) -> Result<String, TargetError> {
    let raw = match fields.get("to") {
        None | Some(Value::Null) => {
            return Err(TargetError::field(
                "to",
                "missing: the recipient's phone number with country code (5511999991234) or BSUID (user.…)",
            ))
        }
        Some(Value::String(s)) => s.clone(),
        // A mapping can yield a number for a phone column; its digits are the number.
        Some(Value::Number(n)) if n.is_u64() => n.to_string(),
        Some(other) => {
            return Err(TargetError::field(
                "to",
                format!("expected a string, not {}", json_type(other)),
            ))
        }
    };
    normalize_recipient(&raw).map_err(|message| TargetError::field("to", message))
}
