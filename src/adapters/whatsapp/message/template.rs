//! The `template` of a template message: its language, components and parameters.

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::open_enum::open_string_enum;
use super::{exact_with, from_field, Media};

/// The `template` of a template message.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Template {
    /// The approved template's name.
    pub name: String,
    /// The approved language.
    pub language: Language,
    /// Header, body and button parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Template {
    /// A template by name and language code (`pt_BR`), without parameters.
    pub fn new(name: impl Into<String>, language: impl Into<String>) -> Self {
        Template {
            name: name.into(),
            language: Language::new(language),
            ..Template::default()
        }
    }
}

/// A template's `language`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Language {
    /// The code the template was approved in (`en_US`, `pt_BR`); case-sensitive.
    pub code: String,
    /// `deterministic`, the only policy; Meta's examples omit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Language {
    /// A language by code, without policy.
    pub fn new(code: impl Into<String>) -> Self {
        Language {
            code: code.into(),
            ..Language::default()
        }
    }
}

/// A template component: the values for the header, the body or one button.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Component {
    /// `{"type": "header", "parameters": […]}`
    Header {
        /// The header's parameter (one text or media parameter).
        parameters: Vec<Parameter>,
    },
    /// `{"type": "body", "parameters": […]}`
    Body {
        /// The body's `{{n}}` (or named) parameters, in order.
        parameters: Vec<Parameter>,
    },
    /// `{"type": "button", "sub_type": …, "index": "0", "parameters": […]}`
    Button {
        /// The kind of button.
        sub_type: ButtonSubType,
        /// The button's position in the template, 0 to 9 (a string on the wire).
        index: u8,
        /// A `payload` parameter (quick reply) or a `text` URL suffix (url).
        parameters: Vec<Parameter>,
    },
    /// Any other component, or one the typed model cannot represent exactly (an integer
    /// `index`, extra fields); sent as it is.
    Other(Value),
}

impl Component {
    /// A quick-reply button at `index` whose tap returns `payload`.
    pub fn quick_reply(index: u8, payload: impl Into<String>) -> Self {
        Component::Button {
            sub_type: ButtonSubType::QuickReply,
            index,
            parameters: vec![Parameter::Payload(payload.into())],
        }
    }

    /// A URL button at `index` whose dynamic URL ends with `suffix`.
    pub fn url_button(index: u8, suffix: impl Into<String>) -> Self {
        Component::Button {
            sub_type: ButtonSubType::Url,
            index,
            parameters: vec![Parameter::text(suffix)],
        }
    }

    fn typed(value: &Value) -> Option<Component> {
        let object = value.as_object()?;
        let parameters = || Vec::<Parameter>::deserialize(object.get("parameters")?).ok();
        match object.get("type")?.as_str()? {
            "header" => Some(Component::Header {
                parameters: parameters()?,
            }),
            "body" => Some(Component::Body {
                parameters: parameters()?,
            }),
            "button" => Some(Component::Button {
                sub_type: ButtonSubType::from(object.get("sub_type")?.as_str()?),
                index: object.get("index")?.as_str()?.parse().ok()?,
                parameters: parameters()?,
            }),
            _ => None,
        }
    }
}

impl Serialize for Component {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (kind, parameters) = match self {
            Component::Header { parameters } => ("header", parameters),
            Component::Body { parameters } => ("body", parameters),
            Component::Button { parameters, .. } => ("button", parameters),
            Component::Other(value) => return value.serialize(serializer),
        };
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", kind)?;
        if let Component::Button {
            sub_type, index, ..
        } = self
        {
            map.serialize_entry("sub_type", sub_type)?;
            map.serialize_entry("index", &index.to_string())?;
        }
        map.serialize_entry("parameters", parameters)?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for Component {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(exact_with(&value, Component::typed).unwrap_or(Component::Other(value)))
    }
}

/// A template parameter, tagged by `type` on the wire.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Parameter {
    /// `{"type": "text", "text": "…", "parameter_name"?: "…"}`
    Text {
        /// The value; not empty, no new line or tab, at most 4 consecutive spaces.
        text: String,
        /// The name, for templates with named parameters.
        parameter_name: Option<String>,
    },
    /// `{"type": "currency", "currency": {…}}`
    Currency(Currency),
    /// `{"type": "date_time", "date_time": {…}}`
    DateTime(DateTimeParameter),
    /// `{"type": "image", "image": {"link" | "id"}}`
    Image(Media),
    /// `{"type": "document", "document": {"link" | "id", "filename"?}}`
    Document(Media),
    /// `{"type": "video", "video": {"link" | "id"}}`
    Video(Media),
    /// `{"type": "payload", "payload": "…"}`: what a quick-reply button returns when tapped.
    Payload(String),
    /// Any other parameter (a flow or catalog button's `action`), or one the typed model
    /// cannot represent exactly; sent as it is.
    Other(Value),
}

impl Parameter {
    /// A positional text parameter.
    pub fn text(text: impl Into<String>) -> Self {
        Parameter::Text {
            text: text.into(),
            parameter_name: None,
        }
    }

    /// A named text parameter, for templates created with named parameters.
    pub fn named(name: impl Into<String>, text: impl Into<String>) -> Self {
        Parameter::Text {
            text: text.into(),
            parameter_name: Some(name.into()),
        }
    }

    /// The wire `type`.
    pub fn kind(&self) -> &str {
        match self {
            Parameter::Text { .. } => "text",
            Parameter::Currency(_) => "currency",
            Parameter::DateTime(_) => "date_time",
            Parameter::Image(_) => "image",
            Parameter::Document(_) => "document",
            Parameter::Video(_) => "video",
            Parameter::Payload(_) => "payload",
            Parameter::Other(value) => value.get("type").and_then(Value::as_str).unwrap_or(""),
        }
    }

    fn typed(value: &Value) -> Option<Parameter> {
        let object = value.as_object()?;
        let kind = object.get("type")?.as_str()?;
        let field = |key: &str| object.get(key);
        Some(match kind {
            "text" => Parameter::Text {
                text: field("text")?.as_str()?.to_owned(),
                parameter_name: match field("parameter_name") {
                    None => None,
                    Some(name) => Some(name.as_str()?.to_owned()),
                },
            },
            "currency" => Parameter::Currency(from_field(field("currency"))?),
            "date_time" => Parameter::DateTime(from_field(field("date_time"))?),
            "image" => Parameter::Image(from_field(field("image"))?),
            "document" => Parameter::Document(from_field(field("document"))?),
            "video" => Parameter::Video(from_field(field("video"))?),
            "payload" => Parameter::Payload(field("payload")?.as_str()?.to_owned()),
            _ => return None,
        })
    }
}

impl Serialize for Parameter {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Parameter::Other(value) = self {
            return value.serialize(serializer);
        }
        let kind = self.kind();
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", kind)?;
        match self {
            Parameter::Text {
                text,
                parameter_name,
            } => {
                map.serialize_entry(kind, text)?;
                if let Some(name) = parameter_name {
                    map.serialize_entry("parameter_name", name)?;
                }
            }
            Parameter::Currency(currency) => map.serialize_entry(kind, currency)?,
            Parameter::DateTime(date_time) => map.serialize_entry(kind, date_time)?,
            Parameter::Image(media) | Parameter::Document(media) | Parameter::Video(media) => {
                map.serialize_entry(kind, media)?
            }
            Parameter::Payload(payload) => map.serialize_entry(kind, payload)?,
            Parameter::Other(_) => {}
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Parameter {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Ok(exact_with(&value, Parameter::typed).unwrap_or(Parameter::Other(value)))
    }
}

/// A `currency` template parameter.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Currency {
    /// The text shown where the currency cannot be localised (`R$ 100,99`).
    pub fallback_value: String,
    /// The ISO 4217 code (`BRL`).
    pub code: String,
    /// The amount times 1000 (100.99 → 100990).
    pub amount_1000: i64,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A `date_time` template parameter. Meta renders `fallback_value`; the other fields
/// (`calendar`, `year`, `month`, …) are kept in `extra` as given.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct DateTimeParameter {
    /// The date as shown to the recipient.
    pub fallback_value: String,
    /// Fields this model does not name, kept as they are.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

open_string_enum! {
    /// A template button's `sub_type`.
    ButtonSubType {
        /// `quick_reply`: the tap returns the button's payload.
        QuickReply = "quick_reply",
        /// `url`: a URL button with a dynamic suffix.
        Url = "url",
        /// `catalog`
        Catalog = "catalog",
        /// `flow`
        Flow = "flow",
        /// `copy_code`
        CopyCode = "copy_code",
    }
}
