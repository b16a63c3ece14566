//! The `whatsapp.template` payload: name, language, header, body parameters and buttons.

use serde_json::{Map, Value};

use super::fields::{
    check_known_fields_at, is_absent, json_type, media_source, optional_str, prefixed, required_str,
};
use crate::whatsapp::media::MediaType;
use crate::whatsapp::{Component, Content, Currency, DateTimeParameter, Parameter, Template};
use crate::TargetError;

/// Buttons per template.
const MAX_TEMPLATE_BUTTONS: usize = 10;

pub(super) fn template_content(fields: &Map<String, Value>) -> Result<Content, TargetError> {
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
