//! The `interactive` object of an interactive message: reply buttons and lists typed, the
//! other kinds' actions kept as JSON.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::open_enum::open_string_enum;
use super::{exact_with, from_field, Media};

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
        /// `cta_url`: one button that opens a URL.
        CtaUrl = "cta_url",
        /// `location_request_message`: asks the user to share their location.
        LocationRequestMessage = "location_request_message",
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
