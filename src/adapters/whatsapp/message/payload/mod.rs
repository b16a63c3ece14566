//! Building an [`OutgoingMessage`] from a mapped flow payload, with validation.
//!
//! The payload forms are described in the parent module's documentation.

use serde_json::{Map, Value};

use super::{
    Component, Content, Currency, DateTimeParameter, Interactive, InteractiveHeader,
    InteractiveText, Media, OutgoingMessage, Parameter, ReplyButton, ReplyContext, Template, Text,
    MAX_CALLBACK_DATA_CHARS,
};
use crate::whatsapp::media::{pending_upload_object, MediaType, UPLOAD_KEY};
use crate::TargetError;

/// Meta's limit on a text message body.
const MAX_TEXT_CHARS: usize = 4096;
/// Meta's limit on an interactive message's body text.
const MAX_INTERACTIVE_BODY_CHARS: usize = 1024;
/// Meta's limit on an interactive message's text header and footer.
const MAX_INTERACTIVE_HEADER_CHARS: usize = 60;
/// Meta's limit on a reply button's title.
const MAX_BUTTON_TITLE_CHARS: usize = 20;
/// Meta's limit on a reply button's id.
const MAX_BUTTON_ID_CHARS: usize = 256;
/// Reply buttons per interactive message.
const MAX_REPLY_BUTTONS: usize = 3;
/// Buttons per template.
const MAX_TEMPLATE_BUTTONS: usize = 10;
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
/// * [`Interactive`](MessageKind::Interactive):
///   `{"to", "body", "buttons": [{"id", "title"}], "header"?, "footer"?}`
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
    /// `whatsapp.interactive`: a message with reply buttons, inside the window only.
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
    /// // whatsapp.interactive (1 to 3 buttons; "header" and "footer" are optional)
    /// {"to": "5511999991234", "body": "Can you take OT-1021?", "header": "OT-1021", "footer": "Maintenance",
    ///  "buttons": [{"id": "accept", "title": "Accept"}, {"id": "decline", "title": "Decline"}]}
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

fn template_content(fields: &Map<String, Value>) -> Result<Content, TargetError> {
    let name = required_str(
        fields,
        "template",
        "the approved template's name (e.g. wo_assignment)",
    )?
    .trim();
    if name.chars().any(char::is_whitespace) {
        return Err(TargetError::field(
            "template",
            format!("`{name}` is not a template name: names have no spaces (lowercase letters, digits and underscores)"),
        ));
    }
    let language = language_code(fields)?;
    let mut template = Template::new(name, language);
    if let Some(header) = template_header(fields.get("header"))? {
        template.components.push(Component::Header {
            parameters: vec![header],
        });
    }
    let body = body_parameters(fields.get("body"))?;
    if !body.is_empty() {
        template
            .components
            .push(Component::Body { parameters: body });
    }
    template
        .components
        .extend(template_buttons(fields.get("buttons"))?);
    Ok(Content::Template(template))
}

fn language_code(fields: &Map<String, Value>) -> Result<String, TargetError> {
    let code = required_str(
        fields,
        "language",
        "the template's language code as approved (e.g. pt_BR, en_US, es)",
    )?
    .trim();
    if let Some((language, region)) = code.split_once('-') {
        return Err(TargetError::field(
            "language",
            format!(
                "`{code}` uses a hyphen; WhatsApp template language codes use an underscore: `{}_{}`",
                language.to_lowercase(),
                region.to_uppercase()
            ),
        ));
    }
    let (language, region) = match code.split_once('_') {
        Some((language, region)) => (language, Some(region)),
        None => (code, None),
    };
    let language_ok =
        (2..=3).contains(&language.len()) && language.chars().all(|c| c.is_ascii_lowercase());
    let region_ok = region.is_none_or(|region| {
        (2..=3).contains(&region.len())
            && region
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
    });
    if language_ok && region_ok {
        Ok(code.to_owned())
    } else {
        Err(TargetError::field(
            "language",
            format!(
                "`{code}` is not a template language code such as `en`, `en_US` or `pt_BR` \
                 (case-sensitive, exactly as approved in WhatsApp Manager)"
            ),
        ))
    }
}

fn template_header(value: Option<&Value>) -> Result<Option<Parameter>, TargetError> {
    let header = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(None),
        Some(Value::Object(header)) => header,
        Some(other) => {
            return Err(TargetError::field(
                "header",
                format!(
                    "expected an object such as {{\"type\": \"document\", \"link\": \"https://…/wo.pdf\", \"filename\": \"wo.pdf\"}} \
                     or {{\"type\": \"text\", \"text\": \"…\"}}, not {}",
                    json_type(other)
                ),
            ))
        }
    };
    let kind = match header.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        _ => {
            return Err(TargetError::field(
                "header.type",
                "missing: one of document, image, video, text",
            ))
        }
    };
    match kind {
        "text" => {
            check_known_fields_at(header, &["type", "text"], "header.")?;
            let text = required_str(header, "text", "the header's text parameter")
                .map_err(|e| prefixed(e, "header."))?;
            check_template_text("header.text", text)?;
            Ok(Some(Parameter::text(text)))
        }
        "document" => {
            check_known_fields_at(
                header,
                &["type", "link", "id", "file", "mime_type", "filename"],
                "header.",
            )?;
            let mut media = media_source(header, "header.", MediaType::Document, true)?;
            if let Some(filename) =
                optional_str(header, "filename").map_err(|e| prefixed(e, "header."))?
            {
                media.filename = Some(filename.to_owned());
            }
            Ok(Some(Parameter::Document(media)))
        }
        "image" | "video" => {
            check_known_fields_at(
                header,
                &["type", "link", "id", "file", "mime_type"],
                "header.",
            )?;
            let media_type = if kind == "image" {
                MediaType::Image
            } else {
                MediaType::Video
            };
            let mut media = media_source(header, "header.", media_type, true)?;
            // Only documents show a file name.
            media.filename = None;
            Ok(Some(if kind == "image" {
                Parameter::Image(media)
            } else {
                Parameter::Video(media)
            }))
        }
        other => Err(TargetError::field(
            "header.type",
            format!("`{other}` is not a template header type; use document, image, video or text"),
        )),
    }
}

fn body_parameters(value: Option<&Value>) -> Result<Vec<Parameter>, TargetError> {
    match value {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            let mut parameters = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let field = format!("body.{i}");
                parameters.push(match item {
                    Value::String(text) => {
                        check_template_text(&field, text)?;
                        Parameter::text(text.as_str())
                    }
                    Value::Number(n) => Parameter::text(n.to_string()),
                    Value::Object(_) => typed_body_parameter(&field, item)?,
                    other => {
                        return Err(TargetError::field(
                            field,
                            format!(
                                "expected a string or a typed parameter object, not {}",
                                json_type(other)
                            ),
                        ))
                    }
                });
            }
            // Meta rejects a template call that mixes named and positional parameters.
            let named = parameters
                .iter()
                .filter(|p| matches!(p, Parameter::Text { parameter_name: Some(_), .. }))
                .count();
            if named != 0 && named != parameters.len() {
                return Err(TargetError::field(
                    "body",
                    "mixes named (parameter_name) and positional parameters; use one or the other",
                ));
            }
            Ok(parameters)
        }
        Some(Value::Object(named)) => {
            let mut parameters = Vec::with_capacity(named.len());
            for (name, item) in named {
                let field = format!("body.{name}");
                if name.is_empty()
                    || !name
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                {
                    return Err(TargetError::field(
                        field,
                        "a parameter name has only lowercase letters, digits and underscores, as in the template",
                    ));
                }
                let text = match item {
                    Value::String(text) => text.clone(),
                    Value::Number(n) => n.to_string(),
                    other => {
                        return Err(TargetError::field(
                            field,
                            format!("a named parameter takes a string, not {}", json_type(other)),
                        ))
                    }
                };
                check_template_text(&field, &text)?;
                parameters.push(Parameter::named(name.as_str(), text));
            }
            Ok(parameters)
        }
        Some(other) => Err(TargetError::field(
            "body",
            format!(
                "expected a list of parameter values ([\"Jonas\", \"OT-1021\"]) or an object of named parameters, not {}",
                json_type(other)
            ),
        )),
    }
}

/// A parameter object given as is: a text, currency or date_time parameter (the kinds a
/// template body accepts).
fn typed_body_parameter(field: &str, item: &Value) -> Result<Parameter, TargetError> {
    let kind = item.get("type").and_then(Value::as_str).unwrap_or("");
    let parameter: Parameter = serde::Deserialize::deserialize(item)
        .map_err(|e| TargetError::field(field, e.to_string()))?;
    match parameter {
        Parameter::Text { ref text, .. } => {
            check_template_text(&format!("{field}.text"), text)?;
            Ok(parameter)
        }
        Parameter::Currency(Currency {
            ref fallback_value,
            ref code,
            ..
        }) => {
            if fallback_value.trim().is_empty() {
                return Err(TargetError::field(
                    format!("{field}.currency.fallback_value"),
                    "is blank: the amount as shown where it cannot be localised (R$ 100,99)",
                ));
            }
            if code.len() != 3 || !code.chars().all(|c| c.is_ascii_uppercase()) {
                return Err(TargetError::field(
                    format!("{field}.currency.code"),
                    format!("`{code}` is not an ISO 4217 currency code such as BRL or USD"),
                ));
            }
            Ok(parameter)
        }
        Parameter::DateTime(DateTimeParameter {
            ref fallback_value, ..
        }) => {
            if fallback_value.trim().is_empty() {
                return Err(TargetError::field(
                    format!("{field}.date_time.fallback_value"),
                    "is blank: the date as shown to the recipient",
                ));
            }
            Ok(parameter)
        }
        _ => Err(TargetError::field(
            field,
            match kind {
                "currency" => "a currency parameter needs {\"currency\": {\"fallback_value\", \"code\", \"amount_1000\" (an integer)}}".to_owned(),
                "date_time" => "a date_time parameter needs {\"date_time\": {\"fallback_value\": \"…\"}}".to_owned(),
                "text" => "a text parameter needs {\"text\": \"…\"} (a string)".to_owned(),
                other => format!(
                    "`{other}` is not a body parameter type; a template body takes text, currency or date_time parameters"
                ),
            },
        )),
    }
}

/// Meta rejects template text values that are empty, contain a new line or tab, or more
/// than 4 consecutive spaces (error 100); catching it here names the record and field.
fn check_template_text(field: &str, text: &str) -> Result<(), TargetError> {
    if text.trim().is_empty() {
        return Err(TargetError::field(
            field,
            "is empty: WhatsApp rejects empty template parameters (map a placeholder such as \"-\" for missing values)",
        ));
    }
    if text.contains(['\n', '\r', '\t']) {
        return Err(TargetError::field(
            field,
            "contains a new line or tab, which WhatsApp rejects in template parameters (error 100); replace them with spaces",
        ));
    }
    if text.contains("     ") {
        return Err(TargetError::field(
            field,
            "contains more than 4 consecutive spaces, which WhatsApp rejects in template parameters (error 100)",
        ));
    }
    Ok(())
}

fn template_buttons(value: Option<&Value>) -> Result<Vec<Component>, TargetError> {
    let buttons = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(buttons)) => buttons,
        Some(other) => {
            return Err(TargetError::field(
                "buttons",
                format!(
                    "expected a list such as [{{\"sub_type\": \"quick_reply\", \"payload\": \"confirm\"}}], not {}",
                    json_type(other)
                ),
            ))
        }
    };
    if buttons.len() > MAX_TEMPLATE_BUTTONS {
        return Err(TargetError::field(
            "buttons",
            format!(
                "{} buttons; a template has at most {MAX_TEMPLATE_BUTTONS}",
                buttons.len()
            ),
        ));
    }
    let mut components = Vec::with_capacity(buttons.len());
    let mut used = [false; MAX_TEMPLATE_BUTTONS];
    for (position, button) in buttons.iter().enumerate() {
        let prefix = format!("buttons.{position}.");
        let Some(button) = button.as_object() else {
            return Err(TargetError::field(
                format!("buttons.{position}"),
                format!("expected an object, not {}", json_type(button)),
            ));
        };
        check_known_fields_at(button, &["sub_type", "payload", "text", "index"], &prefix)?;
        let index = match button.get("index") {
            None | Some(Value::Null) => position,
            Some(Value::Number(n)) => n
                .as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(usize::MAX),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(usize::MAX),
            Some(_) => usize::MAX,
        };
        let Some(slot) = used.get_mut(index) else {
            return Err(TargetError::field(
                format!("{prefix}index"),
                "a button index is 0 to 9: the button's position in the template",
            ));
        };
        if std::mem::replace(slot, true) {
            return Err(TargetError::field(
                format!("{prefix}index"),
                format!("index {index} is used by another button"),
            ));
        }
        // `index` < MAX_TEMPLATE_BUTTONS (10) here, so it fits in a u8.
        let index = index as u8;
        let sub_type = optional_str(button, "sub_type")
            .map_err(|e| prefixed(e, &prefix))?
            .map(str::trim);
        let (kind, value_field) = match sub_type {
            Some("quick_reply") => ("quick_reply", "payload"),
            Some("url") => ("url", "text"),
            Some(other) => {
                return Err(TargetError::field(
                    format!("{prefix}sub_type"),
                    format!("`{other}` is not supported here; use quick_reply or url"),
                ))
            }
            None => {
                return Err(TargetError::field(
                    format!("{prefix}sub_type"),
                    "missing: quick_reply (with payload) or url (with text)",
                ))
            }
        };
        let other_field = if value_field == "payload" {
            "text"
        } else {
            "payload"
        };
        if button.get(other_field).is_some_and(|v| !is_absent(v)) {
            return Err(TargetError::field(
                format!("{prefix}{other_field}"),
                format!("a {kind} button takes `{value_field}`, not `{other_field}`"),
            ));
        }
        let what = if kind == "quick_reply" {
            "the payload returned when the button is tapped"
        } else {
            "the suffix appended to the button's URL"
        };
        let value = required_str(button, value_field, what).map_err(|e| prefixed(e, &prefix))?;
        components.push(if kind == "quick_reply" {
            Component::quick_reply(index, value)
        } else {
            if value.chars().any(char::is_whitespace) {
                return Err(TargetError::field(
                    format!("{prefix}text"),
                    "a URL suffix has no spaces (encode them as %20)",
                ));
            }
            Component::url_button(index, value)
        });
    }
    Ok(components)
}

fn text_content(fields: &Map<String, Value>) -> Result<Content, TargetError> {
    let body = required_str(fields, "text", "the message text")?;
    let length = body.chars().count();
    if length > MAX_TEXT_CHARS {
        return Err(TargetError::field(
            "text",
            format!("{length} characters; a text message has at most {MAX_TEXT_CHARS}"),
        ));
    }
    let mut text = Text::new(body);
    text.preview_url = optional_bool(fields, "preview_url")?;
    Ok(Content::Text(text))
}

fn media_content(
    media_type: MediaType,
    fields: &Map<String, Value>,
) -> Result<Content, TargetError> {
    let mut media = media_source(fields, "", media_type, false)?;
    if media_type == MediaType::Document {
        if let Some(filename) = optional_str(fields, "filename")? {
            media.filename = Some(filename.to_owned());
        }
    } else {
        // Only documents show a file name.
        media.filename = None;
    }
    media.caption = optional_str(fields, "caption")?.map(str::to_owned);
    Ok(match media_type {
        MediaType::Image => Content::Image(media),
        MediaType::Audio => Content::Audio(media),
        MediaType::Video => Content::Video(media),
        MediaType::Sticker => Content::Sticker(media),
        MediaType::Document => Content::Document(media),
    })
}

fn interactive_content(fields: &Map<String, Value>) -> Result<Content, TargetError> {
    let body = required_str(fields, "body", "the message text above the buttons")?;
    check_length("body", body, MAX_INTERACTIVE_BODY_CHARS)?;
    let buttons = match fields.get("buttons") {
        None | Some(Value::Null) => {
            return Err(TargetError::field(
                "buttons",
                "missing: 1 to 3 buttons such as [{\"id\": \"accept\", \"title\": \"Accept\"}]",
            ))
        }
        Some(Value::Array(buttons)) => buttons,
        Some(other) => {
            return Err(TargetError::field(
                "buttons",
                format!(
                "expected a list such as [{{\"id\": \"accept\", \"title\": \"Accept\"}}], not {}",
                json_type(other)
            ),
            ))
        }
    };
    if buttons.is_empty() || buttons.len() > MAX_REPLY_BUTTONS {
        return Err(TargetError::field(
            "buttons",
            format!(
                "{} buttons; an interactive message has 1 to {MAX_REPLY_BUTTONS} reply buttons \
                 (use a template or a list for more choices)",
                buttons.len()
            ),
        ));
    }
    let mut replies: Vec<ReplyButton> = Vec::with_capacity(buttons.len());
    for (i, button) in buttons.iter().enumerate() {
        let prefix = format!("buttons.{i}.");
        let Some(button) = button.as_object() else {
            return Err(TargetError::field(
                format!("buttons.{i}"),
                format!(
                    "expected an object {{\"id\": \"…\", \"title\": \"…\"}}, not {}",
                    json_type(button)
                ),
            ));
        };
        check_known_fields_at(button, &["id", "title"], &prefix)?;
        let id = required_str(button, "id", "the id returned when the button is tapped")
            .map_err(|e| prefixed(e, &prefix))?;
        check_length(&format!("{prefix}id"), id, MAX_BUTTON_ID_CHARS)?;
        if replies.iter().any(|r| r.reply.id == id) {
            return Err(TargetError::field(
                format!("{prefix}id"),
                format!("`{id}` is the id of another button; ids must be unique"),
            ));
        }
        let title = required_str(button, "title", "the text shown on the button")
            .map_err(|e| prefixed(e, &prefix))?;
        check_length(&format!("{prefix}title"), title, MAX_BUTTON_TITLE_CHARS)?;
        replies.push(ReplyButton::new(id, title));
    }
    let mut interactive = Interactive::buttons(body, replies);
    if let Some(header) = optional_str(fields, "header")? {
        check_length("header", header, MAX_INTERACTIVE_HEADER_CHARS)?;
        interactive.header = Some(InteractiveHeader::Text(header.to_owned()));
    }
    if let Some(footer) = optional_str(fields, "footer")? {
        check_length("footer", footer, MAX_INTERACTIVE_HEADER_CHARS)?;
        interactive.footer = Some(InteractiveText::new(footer));
    }
    Ok(Content::Interactive(Box::new(interactive)))
}

/// Exactly one of `link` (http or https), `id` and `file` (a host file to upload, with an
/// optional `mime_type`); `prefix` names where they are.
fn media_source(
    fields: &Map<String, Value>,
    prefix: &str,
    media_type: MediaType,
    template_header: bool,
) -> Result<Media, TargetError> {
    let link = optional_str(fields, "link").map_err(|e| prefixed(e, prefix))?;
    let id = optional_str(fields, "id").map_err(|e| prefixed(e, prefix))?;
    let file = optional_str(fields, "file").map_err(|e| prefixed(e, prefix))?;
    let mime_type = optional_str(fields, "mime_type").map_err(|e| prefixed(e, prefix))?;
    if mime_type.is_some() && file.is_none() {
        return Err(TargetError::field(
            format!("{prefix}mime_type"),
            "`mime_type` goes with `file`; Meta reads the type of a link or an uploaded id itself",
        ));
    }
    if let Some(file) = file {
        if link.is_some() || id.is_some() {
            return Err(TargetError::field(
                format!("{prefix}file"),
                "give one of `link`, `id` and `file`, not several",
            ));
        }
        let upload = pending_upload_object(prefix, file, mime_type, media_type, template_header)?;
        let mut media = Media::default();
        media.extra.insert(UPLOAD_KEY.to_owned(), upload);
        // A document shows a file name; the file's own is the natural default.
        media.filename = Some(base_name(file.trim()).to_owned()).filter(|n| !n.is_empty());
        return Ok(media);
    }
    match (link, id) {
        (Some(_), Some(_)) => Err(TargetError::field(
            format!("{prefix}link"),
            "give either `link` or `id`, not both",
        )),
        (None, None) => Err(TargetError::field(
            format!("{prefix}link"),
            "missing: a `link` (an https URL Meta downloads the file from), the `id` of uploaded media, \
             or a `file` of the host's media provider",
        )),
        (Some(link), None) => {
            let link = link.trim();
            match url::Url::parse(link) {
                Ok(url)
                    if matches!(url.scheme(), "http" | "https")
                        && url.host_str().is_some_and(|h| !h.is_empty()) =>
                {
                    Ok(Media::from_link(link))
                }
                _ => Err(TargetError::field(
                    format!("{prefix}link"),
                    format!("`{link}` is not an http(s) URL"),
                )),
            }
        }
        (None, Some(id)) => {
            let id = id.trim();
            if id.chars().any(char::is_whitespace) {
                return Err(TargetError::field(
                    format!("{prefix}id"),
                    "a media id has no spaces",
                ));
            }
            Ok(Media::from_id(id))
        }
    }
}

fn check_length(field: &str, text: &str, max: usize) -> Result<(), TargetError> {
    let length = text.chars().count();
    if length > max {
        return Err(TargetError::field(
            field,
            format!("{length} characters; WhatsApp allows at most {max} here"),
        ));
    }
    Ok(())
}

/// The last segment of a path-like reference (`reports/OT-1021.pdf` → `OT-1021.pdf`).
fn base_name(reference: &str) -> &str {
    reference.rsplit(['/', '\\']).next().unwrap_or(reference)
}

/// Whether a mapped value means "absent": `null` or a blank string.
fn is_absent(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        _ => false,
    }
}

/// A string field that may be absent (`null` and blank strings count as absent).
fn optional_str<'a>(
    fields: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, TargetError> {
    match fields.get(field) {
        None => Ok(None),
        Some(value) if is_absent(value) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(TargetError::field(
            field,
            format!("expected a string, not {}", json_type(other)),
        )),
    }
}

/// A string field that must be present and not blank; `what` says what it should hold.
fn required_str<'a>(
    fields: &'a Map<String, Value>,
    field: &str,
    what: &str,
) -> Result<&'a str, TargetError> {
    match fields.get(field) {
        None | Some(Value::Null) => Err(TargetError::field(field, format!("missing: {what}"))),
        Some(Value::String(s)) if s.trim().is_empty() => {
            Err(TargetError::field(field, format!("is blank: {what}")))
        }
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(TargetError::field(
            field,
            format!("expected a string ({what}), not {}", json_type(other)),
        )),
    }
}

/// A boolean field; a mapping renders values as text, so `"true"` and `"false"` count.
fn optional_bool(fields: &Map<String, Value>, field: &str) -> Result<Option<bool>, TargetError> {
    match fields.get(field) {
        None => Ok(None),
        Some(value) if is_absent(value) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.trim() {
            "true" => Ok(Some(true)),
            "false" => Ok(Some(false)),
            other => Err(TargetError::field(
                field,
                format!("`{other}` is not true or false"),
            )),
        },
        Some(other) => Err(TargetError::field(
            field,
            format!("expected true or false, not {}", json_type(other)),
        )),
    }
}

fn check_known_fields(fields: &Map<String, Value>, allowed: &[&str]) -> Result<(), TargetError> {
    check_known_fields_at(fields, allowed, "")
}

/// Rejects a field that is not in `allowed`: a typo in a field map would otherwise drop a
/// value silently.
fn check_known_fields_at(
    fields: &Map<String, Value>,
    allowed: &[&str],
    prefix: &str,
) -> Result<(), TargetError> {
    let Some(unknown) = fields.keys().find(|key| !allowed.contains(&key.as_str())) else {
        return Ok(());
    };
    let suggestion = allowed
        .iter()
        .map(|candidate| (edit_distance(unknown, candidate), candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| format!("did you mean `{candidate}`? "))
        .unwrap_or_default();
    Err(TargetError::field(
        format!("{prefix}{unknown}"),
        format!("unknown field; {suggestion}allowed: {}", allowed.join(", ")),
    ))
}

/// Levenshtein distance, for "did you mean" hints on short field names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // `previous` and `current` have b.len() + 1 entries (current gets entry j + 1 pushed
    // before it is read at j + 1), so the indexing below stays in bounds.
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current.push(substitution.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

/// Puts `prefix` in front of the field an error names (for nested objects).
fn prefixed(error: TargetError, prefix: &str) -> TargetError {
    match error {
        TargetError::InvalidField { field, message } => TargetError::InvalidField {
            field: format!("{prefix}{field}"),
            message,
        },
        other => other,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn build(kind: MessageKind, payload: Value) -> Value {
        match OutgoingMessage::from_payload(kind, &payload) {
            Ok(message) => serde_json::to_value(&message).unwrap(),
            Err(e) => panic!("{payload} was rejected: {e}"),
        }
    }

    /// The field the error names and its message.
    fn rejected(kind: MessageKind, payload: Value) -> (String, String) {
        match OutgoingMessage::from_payload(kind, &payload) {
            Ok(message) => panic!("{payload} was accepted: {message:?}"),
            Err(TargetError::InvalidField { field, message }) => (field, message),
            Err(other) => panic!("{payload}: not a field error: {other}"),
        }
    }

    #[test]
    fn kind_names_round_trip() {
        for kind in MessageKind::ALL {
            assert_eq!(MessageKind::from_kind_name(kind.kind_name()), Some(kind));
        }
        assert_eq!(MessageKind::Template.kind_name(), "whatsapp.template");
        assert_eq!(MessageKind::Text.kind_name(), "whatsapp.text");
        assert_eq!(MessageKind::Document.kind_name(), "whatsapp.document");
        assert_eq!(MessageKind::Interactive.kind_name(), "whatsapp.interactive");
        assert_eq!(MessageKind::from_kind_name("whatsapp.Template"), None);
    }

    #[test]
    fn template_payload_of_the_design_document() {
        let body = build(
            MessageKind::Template,
            json!({"to": "5511999991234", "template": "wo_assignment", "language": "pt_BR",
                   "body": ["Jonas Campos", "OT-1021", "Trocar rolamento", "01/02/2026 08:00"]}),
        );
        assert_eq!(
            body,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511999991234",
                "type": "template", "template": {"name": "wo_assignment", "language": {"code": "pt_BR"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Jonas Campos"}, {"type": "text", "text": "OT-1021"},
                    {"type": "text", "text": "Trocar rolamento"}, {"type": "text", "text": "01/02/2026 08:00"}]}]}})
        );
        // No parameters at all: a template such as hello_world.
        let body = build(
            MessageKind::Template,
            json!({"to": "5511999991234", "template": "hello_world", "language": "en_US", "body": []}),
        );
        assert_eq!(
            body["template"],
            json!({"name": "hello_world", "language": {"code": "en_US"}})
        );
    }

    #[test]
    fn template_payload_with_every_option() {
        let body = build(
            MessageKind::Template,
            json!({"to": "+1 (650) 555-1234", "template": "wo_assignment", "language": "en",
                "header": {"type": "document", "link": "https://erp.example.com/wo.pdf", "filename": "wo.pdf"},
                "body": ["Jonas", 1021,
                    {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}},
                    {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}},
                    {"type": "text", "text": "typed"}],
                "buttons": [{"sub_type": "quick_reply", "payload": "confirm"},
                            {"sub_type": "url", "text": "abc123", "index": 3},
                            {"sub_type": "quick_reply", "payload": "decline", "index": "1"}],
                "reply_to": " wamid.HBgM ", "callback_data": "fracttal:wo:1021"}),
        );
        assert_eq!(
            body,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
            "context": {"message_id": "wamid.HBgM"}, "biz_opaque_callback_data": "fracttal:wo:1021",
            "type": "template", "template": {"name": "wo_assignment", "language": {"code": "en"}, "components": [
                {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://erp.example.com/wo.pdf", "filename": "wo.pdf"}}]},
                {"type": "body", "parameters": [
                    {"type": "text", "text": "Jonas"}, {"type": "text", "text": "1021"},
                    {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}},
                    {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}},
                    {"type": "text", "text": "typed"}]},
                {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "confirm"}]},
                {"type": "button", "sub_type": "url", "index": "3", "parameters": [{"type": "text", "text": "abc123"}]},
                {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "decline"}]}
            ]}})
        );
    }

    #[test]
    fn template_headers() {
        let header = |header: Value| {
            let body = build(
                MessageKind::Template,
                json!({"to": "5511999991234", "template": "t", "language": "es", "header": header}),
            );
            body["template"]["components"][0]["parameters"][0].clone()
        };
        assert_eq!(
            header(json!({"type": "image", "link": "https://x.example/a.png"})),
            json!({"type": "image", "image": {"link": "https://x.example/a.png"}})
        );
        assert_eq!(
            header(json!({"type": "video", "id": "1234"})),
            json!({"type": "video", "video": {"id": "1234"}})
        );
        assert_eq!(
            header(json!({"type": "document", "id": "99", "filename": ""})),
            json!({"type": "document", "document": {"id": "99"}})
        );
        assert_eq!(
            header(json!({"type": "text", "text": "OT-1021"})),
            json!({"type": "text", "text": "OT-1021"})
        );
        // A null header is no header.
        let body = build(
            MessageKind::Template,
            json!({"to": "5511999991234", "template": "t", "language": "es", "header": null}),
        );
        assert!(body["template"].get("components").is_none());
    }

    #[test]
    fn named_template_parameters() {
        let body = build(
            MessageKind::Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR",
                   "body": {"customer_name": "Jonas", "order_id": 1021}}),
        );
        assert_eq!(
            body["template"]["components"][0]["parameters"],
            json!([{"type": "text", "text": "Jonas", "parameter_name": "customer_name"},
                   {"type": "text", "text": "1021", "parameter_name": "order_id"}])
        );
    }

    #[test]
    fn text_payloads() {
        let body = build(
            MessageKind::Text,
            json!({"to": "5511999991234", "text": "Your work order is done: https://x.example/1", "preview_url": "true"}),
        );
        assert_eq!(
            body,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511999991234",
                   "type": "text", "text": {"body": "Your work order is done: https://x.example/1", "preview_url": true}})
        );
        let body = build(
            MessageKind::Text,
            json!({"to": "5511999991234", "text": "x".repeat(4096), "preview_url": null, "reply_to": "wamid.A"}),
        );
        assert_eq!(body["text"].get("preview_url"), None);
        assert_eq!(body["context"]["message_id"], "wamid.A");
        let message = OutgoingMessage::from_payload(
            MessageKind::Text,
            &json!({"to": "5511999991234", "text": "hi"}),
        )
        .unwrap();
        assert!(!message.is_template());
    }

    #[test]
    fn document_payloads() {
        let body = build(
            MessageKind::Document,
            json!({"to": "5511999991234", "link": "https://erp.example.com/wo/1021.pdf",
                   "filename": "OT-1021.pdf", "caption": "Work order"}),
        );
        assert_eq!(
            body["document"],
            json!({"link": "https://erp.example.com/wo/1021.pdf", "filename": "OT-1021.pdf", "caption": "Work order"})
        );
        assert_eq!(body["type"], "document");
        let body = build(
            MessageKind::Document,
            json!({"to": "5511999991234", "id": "1013859600285441", "link": "", "caption": null}),
        );
        assert_eq!(body["document"], json!({"id": "1013859600285441"}));
    }

    #[test]
    fn file_payloads_become_pending_uploads() {
        let body = build(
            MessageKind::Document,
            json!({"to": "5511999991234", "file": "reports/OT-1021.pdf", "caption": "OT-1021"}),
        );
        assert_eq!(
            body["document"],
            json!({"filename": "OT-1021.pdf", "caption": "OT-1021",
                   "upload": {"file": "reports/OT-1021.pdf", "mime_type": "application/pdf"}})
        );
        let body = build(
            MessageKind::Document,
            json!({"to": "5511999991234", "file": "reports/7", "mime_type": "text/plain", "filename": "Report.txt"}),
        );
        assert_eq!(
            body["document"],
            json!({"filename": "Report.txt", "upload": {"file": "reports/7", "mime_type": "text/plain"}})
        );
        // Without a MIME type or a known extension the provider's type is used later.
        let body = build(
            MessageKind::Image,
            json!({"to": "5511999991234", "file": "photos/42", "caption": "pump"}),
        );
        assert_eq!(body["type"], "image");
        assert_eq!(
            body["image"],
            json!({"caption": "pump", "upload": {"file": "photos/42"}})
        );
        let body = build(
            MessageKind::Audio,
            json!({"to": "5511999991234", "file": "notes/a.ogg"}),
        );
        assert_eq!(
            body["audio"],
            json!({"upload": {"file": "notes/a.ogg", "mime_type": "audio/ogg"}})
        );
        let body = build(
            MessageKind::Template,
            json!({"to": "5511999991234", "template": "invoice", "language": "pt_BR",
                   "header": {"type": "document", "file": "inv/9.pdf", "filename": "Fatura 9.pdf"}}),
        );
        assert_eq!(
            body["template"]["components"][0]["parameters"][0],
            json!({"type": "document", "document": {"filename": "Fatura 9.pdf",
                   "upload": {"file": "inv/9.pdf", "mime_type": "application/pdf"}}})
        );
    }

    #[test]
    fn file_payload_errors_name_their_field() {
        use MessageKind::{Audio, Document, Image, Template, Video};
        let cases = [
            (
                Document,
                json!({"to": "5511999991234", "file": "a.pdf", "link": "https://x.example/a.pdf"}),
                "file",
                "not several",
            ),
            (
                Document,
                json!({"to": "5511999991234", "id": "1", "mime_type": "application/pdf"}),
                "mime_type",
                "goes with `file`",
            ),
            (
                Image,
                json!({"to": "5511999991234", "file": "a.gif"}),
                "file",
                "image/jpeg, image/png",
            ),
            (
                Image,
                json!({"to": "5511999991234", "file": "a", "mime_type": "image/gif"}),
                "mime_type",
                "does not take `image/gif`",
            ),
            (
                Video,
                json!({"to": "5511999991234", "file": "a.mov", "mime_type": "video/quicktime"}),
                "mime_type",
                "video/mp4",
            ),
            (
                Audio,
                json!({"to": "5511999991234", "file": "a.mp3", "caption": "x"}),
                "caption",
                "unknown field",
            ),
            (
                Document,
                json!({"to": "5511999991234", "file": "a\nb.pdf"}),
                "file",
                "one line",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR",
                              "header": {"type": "document", "file": "report.docx"}}),
                "header.file",
                "only PDF",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR",
                              "header": {"type": "image", "file": "a.png", "filename": "a.png"}}),
                "header.filename",
                "unknown field",
            ),
        ];
        for (kind, payload, field, needle) in cases {
            let (got, message) = rejected(kind, payload.clone());
            assert_eq!(got, field, "{payload}: {message}");
            assert!(message.contains(needle), "{payload}: {message}");
        }
    }

    #[test]
    fn interactive_payloads() {
        let body = build(
            MessageKind::Interactive,
            json!({"to": "user.9373795779eb6441", "body": "Can you take OT-1021?", "header": "OT-1021",
                   "footer": "Maintenance", "buttons": [{"id": "accept", "title": "Accept"}, {"id": "decline", "title": "Decline"}],
                   "callback_data": "wo:1021"}),
        );
        assert_eq!(
            body,
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "user.9373795779eb6441",
                "biz_opaque_callback_data": "wo:1021", "type": "interactive",
                "interactive": {"type": "button", "header": {"type": "text", "text": "OT-1021"},
                    "body": {"text": "Can you take OT-1021?"}, "footer": {"text": "Maintenance"},
                    "action": {"buttons": [{"type": "reply", "reply": {"id": "accept", "title": "Accept"}},
                                           {"type": "reply", "reply": {"id": "decline", "title": "Decline"}}]}}})
        );
    }

    #[test]
    fn phone_numbers_are_normalised() {
        assert_eq!(
            normalize_recipient("+55 (11) 99999-1234").unwrap(),
            "5511999991234"
        );
        assert_eq!(
            normalize_recipient("5511999991234").unwrap(),
            "5511999991234"
        );
        assert_eq!(normalize_recipient("+16505551234").unwrap(), "16505551234");
        assert_eq!(
            normalize_recipient(" 55 11 9 9999 1234 ").unwrap(),
            "5511999991234"
        );
        let bsuid = "user.9373795779eb6441c8adb2eaee5b848e7dd174ddd302d7db62142f4722d574b6";
        assert_eq!(normalize_recipient(bsuid).unwrap(), bsuid);
        assert!(normalize_recipient("1234567")
            .unwrap_err()
            .contains("7 digits"));
        assert!(normalize_recipient("1234567890123456")
            .unwrap_err()
            .contains("16 digits"));
        assert!(normalize_recipient("55 11 9999-ABCD")
            .unwrap_err()
            .contains("'A'"));
        assert!(normalize_recipient("011 5511 9999 1234")
            .unwrap_err()
            .contains("starts with 0"));
        assert!(normalize_recipient("55+11999991234").is_err());
        assert!(normalize_recipient("user.").is_err());
        assert!(normalize_recipient("user.a b").is_err());
        assert!(normalize_recipient("   ").unwrap_err().contains("blank"));
        // A number from a numeric column.
        let message = OutgoingMessage::from_payload(
            MessageKind::Text,
            &json!({"to": 5511999991234_u64, "text": "hi"}),
        )
        .unwrap();
        assert_eq!(message.to(), "5511999991234");
    }

    #[test]
    fn every_validation_error_names_its_field() {
        use MessageKind::{Document, Interactive, Template, Text};
        let long = "x".repeat(4097);
        let cases: Vec<(MessageKind, Value, &str, &str)> = vec![
            // Recipient.
            (Text, json!({"text": "hi"}), "to", "missing"),
            (Text, json!({"to": " ", "text": "hi"}), "to", "blank"),
            (Text, json!({"to": null, "text": "hi"}), "to", "missing"),
            (
                Text,
                json!({"to": true, "text": "hi"}),
                "to",
                "expected a string",
            ),
            (
                Text,
                json!({"to": "(11) 999-12", "text": "hi"}),
                "to",
                "8 to 15",
            ),
            (
                Text,
                json!({"to": "call me", "text": "hi"}),
                "to",
                "not a phone number",
            ),
            // Unknown fields, with a hint.
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "langauge": "pt_BR"}),
                "langauge",
                "did you mean `language`?",
            ),
            (
                Text,
                json!({"to": "5511999991234", "body": "hi"}),
                "body",
                "allowed: to, text, preview_url, reply_to, callback_data",
            ),
            // Template.
            (
                Template,
                json!({"to": "5511999991234", "language": "pt_BR"}),
                "template",
                "missing",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "", "language": "pt_BR"}),
                "template",
                "blank",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "wo assignment", "language": "pt_BR"}),
                "template",
                "no spaces",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t"}),
                "language",
                "missing",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt-BR"}),
                "language",
                "`pt_BR`",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "Portuguese"}),
                "language",
                "not a template language code",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_br"}),
                "language",
                "not a template language code",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [""]}),
                "body.0",
                "empty",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": ["a", "line\nbreak"]}),
                "body.1",
                "new line",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": ["tab\there"]}),
                "body.0",
                "tab",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": ["a     b"]}),
                "body.0",
                "4 consecutive spaces",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [true]}),
                "body.0",
                "expected a string",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": "Jonas"}),
                "body",
                "expected a list",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "text", "text": "a\nb"}]}),
                "body.0.text",
                "new line",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "currency", "currency": {"fallback_value": "$1"}}]}),
                "body.0",
                "amount_1000",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "currency", "currency": {"fallback_value": "$1", "code": "usd", "amount_1000": 1000}}]}),
                "body.0.currency.code",
                "ISO 4217",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "currency", "currency": {"fallback_value": " ", "code": "USD", "amount_1000": 1000}}]}),
                "body.0.currency.fallback_value",
                "blank",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "date_time", "date_time": {"fallback_value": ""}}]}),
                "body.0.date_time.fallback_value",
                "blank",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "image", "image": {"link": "https://x.example/a.png"}}]}),
                "body.0",
                "text, currency or date_time",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "text", "text": "a", "parameter_name": "n"}, "b"]}),
                "body",
                "mixes named",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": {"Customer Name": "Jonas"}}),
                "body.Customer Name",
                "lowercase",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": {"name": ""}}),
                "body.name",
                "empty",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": {"name": ["x"]}}),
                "body.name",
                "takes a string",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": "wo.pdf"}),
                "header",
                "expected an object",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"link": "https://x.example/a.pdf"}}),
                "header.type",
                "missing",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "audio", "link": "https://x.example/a.mp3"}}),
                "header.type",
                "not a template header type",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "document"}}),
                "header.link",
                "missing",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "document", "link": "ftp://x.example/a.pdf"}}),
                "header.link",
                "http(s)",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "image", "link": "https://x.example/a.png", "filename": "a.png"}}),
                "header.filename",
                "unknown field",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "document", "link": "https://x.example/a.pdf", "caption": "c"}}),
                "header.caption",
                "unknown field",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "text", "text": ""}}),
                "header.text",
                "blank",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": {"sub_type": "url"}}),
                "buttons",
                "expected a list",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": ["confirm"]}),
                "buttons.0",
                "expected an object",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"payload": "confirm"}]}),
                "buttons.0.sub_type",
                "missing",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "call", "payload": "x"}]}),
                "buttons.0.sub_type",
                "quick_reply or url",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "quick_reply"}]}),
                "buttons.0.payload",
                "missing",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "quick_reply", "text": "x"}]}),
                "buttons.0.text",
                "takes `payload`",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "url", "text": "a b"}]}),
                "buttons.0.text",
                "no spaces",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "url", "text": "a", "index": 10}]}),
                "buttons.0.index",
                "0 to 9",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "url", "text": "a", "index": 1}, {"sub_type": "quick_reply", "payload": "p"}]}),
                "buttons.1.index",
                "used by another",
            ),
            (
                Template,
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "url", "txt": "a"}]}),
                "buttons.0.txt",
                "did you mean `text`?",
            ),
            // Text.
            (Text, json!({"to": "5511999991234"}), "text", "missing"),
            (
                Text,
                json!({"to": "5511999991234", "text": ""}),
                "text",
                "blank",
            ),
            (
                Text,
                json!({"to": "5511999991234", "text": long}),
                "text",
                "4097 characters",
            ),
            (
                Text,
                json!({"to": "5511999991234", "text": "hi", "preview_url": "yes"}),
                "preview_url",
                "true or false",
            ),
            (
                Text,
                json!({"to": "5511999991234", "text": "hi", "preview_url": 1}),
                "preview_url",
                "true or false",
            ),
            (
                Text,
                json!({"to": "5511999991234", "text": "hi", "reply_to": "wamid A"}),
                "reply_to",
                "no spaces",
            ),
            (
                Text,
                json!({"to": "5511999991234", "text": "hi", "callback_data": "x".repeat(513)}),
                "callback_data",
                "513 characters",
            ),
            (
                Text,
                json!({"to": "5511999991234", "text": "hi", "callback_data": 5}),
                "callback_data",
                "expected a string",
            ),
            // Document.
            (Document, json!({"to": "5511999991234"}), "link", "missing"),
            (
                Document,
                json!({"to": "5511999991234", "link": "https://x.example/a.pdf", "id": "1"}),
                "link",
                "not both",
            ),
            (
                Document,
                json!({"to": "5511999991234", "link": "erp.example.com/a.pdf"}),
                "link",
                "http(s)",
            ),
            (
                Document,
                json!({"to": "5511999991234", "link": "javascript:alert(1)"}),
                "link",
                "http(s)",
            ),
            (
                Document,
                json!({"to": "5511999991234", "id": "12 34"}),
                "id",
                "no spaces",
            ),
            (
                Document,
                json!({"to": "5511999991234", "id": "1", "filename": 3}),
                "filename",
                "expected a string",
            ),
            // Interactive.
            (
                Interactive,
                json!({"to": "5511999991234", "buttons": [{"id": "a", "title": "A"}]}),
                "body",
                "missing",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "x".repeat(1025), "buttons": [{"id": "a", "title": "A"}]}),
                "body",
                "1025 characters",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b"}),
                "buttons",
                "missing",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": []}),
                "buttons",
                "1 to 3",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "c", "title": "C"}, {"id": "d", "title": "D"}]}),
                "buttons",
                "1 to 3",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": "a"}),
                "buttons",
                "expected a list",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": ["a"]}),
                "buttons.0",
                "expected an object",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}),
                "buttons.1.id",
                "unique",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": ""}]}),
                "buttons.0.title",
                "blank",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "Confirm the appointment"}]}),
                "buttons.0.title",
                "at most 20",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": [{"title": "A"}]}),
                "buttons.0.id",
                "missing",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A", "payload": "x"}]}),
                "buttons.0.payload",
                "unknown field",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}], "header": "h".repeat(61)}),
                "header",
                "at most 60",
            ),
            (
                Interactive,
                json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}], "footer": "f".repeat(61)}),
                "footer",
                "at most 60",
            ),
        ];
        for (kind, payload, field, message_part) in cases {
            let (got_field, message) = rejected(kind, payload.clone());
            assert_eq!(got_field, field, "{payload}: {message}");
            assert!(
                message.contains(message_part),
                "{payload}: {message:?} lacks {message_part:?}"
            );
        }
    }

    #[test]
    fn a_payload_that_is_not_an_object_is_an_invalid_payload() {
        for payload in [json!(null), json!("to"), json!([1]), json!(5)] {
            let error = OutgoingMessage::from_payload(MessageKind::Text, &payload).unwrap_err();
            assert!(
                matches!(&error, TargetError::InvalidPayload(m) if m.contains("whatsapp.text")),
                "{error}"
            );
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("langauge", "language"), 2);
        assert_eq!(edit_distance("", "to"), 2);
        assert_eq!(edit_distance("body", "body"), 0);
    }

    /// Keys the payload parser looks at, so arbitrary payloads reach deep paths.
    const KEYS: &[&str] = &[
        "to",
        "template",
        "language",
        "header",
        "body",
        "buttons",
        "reply_to",
        "callback_data",
        "text",
        "preview_url",
        "link",
        "id",
        "filename",
        "caption",
        "footer",
        "title",
        "type",
        "sub_type",
        "payload",
        "index",
        "currency",
        "date_time",
        "fallback_value",
        "code",
        "amount_1000",
        "parameter_name",
    ];

    fn arb_json() -> impl Strategy<Value = Value> {
        let strings = prop_oneof![
            "[ -~\n\t]{0,12}",
            prop::sample::select(vec![
                "+55 (11) 99999-1234",
                "user.abc",
                "pt_BR",
                "pt-BR",
                "https://x.example/a.pdf",
                "quick_reply",
                "url",
                "document",
                "image",
                "video",
                "text",
                "currency",
                "date_time",
                "payload",
                "",
                "  ",
                "é",
                "0",
                "10",
            ])
            .prop_map(str::to_owned),
        ];
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            strings.prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
                prop::collection::btree_map(
                    prop_oneof![
                        prop::sample::select(KEYS).prop_map(str::to_owned),
                        "[a-z_]{1,6}"
                    ],
                    inner,
                    0..6
                )
                .prop_map(|map| Value::Object(map.into_iter().collect())),
            ]
        })
    }

    fn valid_payload(kind: MessageKind) -> Value {
        match kind {
            MessageKind::Template => {
                json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": ["a"]})
            }
            MessageKind::Text => json!({"to": "5511999991234", "text": "hi"}),
            MessageKind::Document => {
                json!({"to": "5511999991234", "link": "https://x.example/a.pdf"})
            }
            MessageKind::Interactive => {
                json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}]})
            }
            MessageKind::Image | MessageKind::Audio | MessageKind::Video => {
                json!({"to": "5511999991234", "file": "media/a"})
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Arbitrary JSON never panics; a message that is built serializes and reads back.
        #[test]
        fn from_payload_never_panics(kind in prop::sample::select(MessageKind::ALL.to_vec()), payload in arb_json()) {
            if let Ok(message) = OutgoingMessage::from_payload(kind, &payload) {
                let wire = serde_json::to_value(&message).unwrap();
                let back: OutgoingMessage = serde_json::from_value(wire).unwrap();
                prop_assert_eq!(back, message);
            }
        }

        /// A valid payload with one field replaced by arbitrary JSON never panics, and the
        /// result is either a field error or a message that reads back.
        #[test]
        fn from_payload_never_panics_near_valid_payloads(
            kind in prop::sample::select(MessageKind::ALL.to_vec()),
            key in prop::sample::select(KEYS),
            value in arb_json(),
        ) {
            let mut payload = valid_payload(kind);
            payload[key] = value;
            match OutgoingMessage::from_payload(kind, &payload) {
                Ok(message) => {
                    let wire = serde_json::to_value(&message).unwrap();
                    let back: OutgoingMessage = serde_json::from_value(wire).unwrap();
                    prop_assert_eq!(back, message);
                }
                Err(TargetError::InvalidField { field, .. }) => prop_assert!(!field.is_empty()),
                Err(other) => prop_assert!(false, "unexpected error {}", other),
            }
        }
    }
}
