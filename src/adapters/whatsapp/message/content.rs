//! What a message carries, by its wire `type` ([`Content`]), and the simple kinds: text,
//! media, location and reaction.

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{exact, Interactive, Template};

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

    pub(super) fn from_wire(kind: String, body: Option<Value>) -> Content {
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
    pub(super) fn serialize_body<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
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
