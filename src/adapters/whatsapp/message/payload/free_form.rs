//! The free-form payloads, delivered inside the 24-hour window only: text, media
//! (document, image, audio, video) and interactive reply buttons.

use serde_json::{Map, Value};

use super::fields::{
    check_known_fields_at, check_length, json_type, media_source, optional_bool, optional_str,
    prefixed, required_str,
};
use crate::whatsapp::media::MediaType;
use crate::whatsapp::{
    Content, Interactive, InteractiveHeader, InteractiveText, ReplyButton, Text,
};
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

pub(super) fn text_content(fields: &Map<String, Value>) -> Result<Content, TargetError> {
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

pub(super) fn media_content(
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

pub(super) fn interactive_content(fields: &Map<String, Value>) -> Result<Content, TargetError> {
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
