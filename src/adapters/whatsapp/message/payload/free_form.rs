//! The free-form payloads, delivered inside the 24-hour window only: text and media
//! (document, image, audio, video). Interactive messages are in `interactive`.

use serde_json::{Map, Value};

use super::fields::{media_source, optional_bool, optional_str, required_str};
use crate::whatsapp::media::MediaType;
use crate::whatsapp::{Content, Text};
use crate::TargetError;

// Meta's limit on a text message body, from the core.
use crate::conversation::limits::TEXT_BODY as MAX_TEXT_CHARS;

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
