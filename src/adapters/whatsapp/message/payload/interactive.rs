//! The interactive payloads: reply buttons (with a text or media header), lists, a CTA URL
//! button, and a location request, each checked against Meta's limits, the error naming
//! the field's path and the limit.

use serde_json::{json, Map, Value};

use super::fields::{
    check_known_fields_at, check_length, json_type, media_source, optional_str, prefixed,
    required_str, web_link,
};
use crate::whatsapp::media::MediaType;
use crate::whatsapp::{
    Content, Interactive, InteractiveAction, InteractiveHeader, InteractiveKind, InteractiveText,
    ListRow, ListSection, ReplyButton,
};
use crate::TargetError;

// Meta's limits live in the core, where conversation specs are checked against them too.
use crate::conversation::limits::{BUTTON_ID as MAX_BUTTON_ID_CHARS, ROW_ID as MAX_ROW_ID_CHARS};
pub(crate) use crate::conversation::limits::{
    BUTTON_TITLE as MAX_BUTTON_TITLE_CHARS, HEADER as MAX_HEADER_CHARS,
    INTERACTIVE_BODY as MAX_BODY_CHARS, REPLY_BUTTONS as MAX_REPLY_BUTTONS, ROWS as MAX_ROWS,
    ROW_DESCRIPTION as MAX_ROW_DESCRIPTION_CHARS, ROW_TITLE as MAX_ROW_TITLE_CHARS,
    SECTIONS as MAX_SECTIONS,
};

/// The four forms, by the field that selects each.
const FORMS: [&str; 4] = ["buttons", "list", "cta_url", "location_request"];

pub(super) fn interactive_content(fields: &Map<String, Value>) -> Result<Content, TargetError> {
    let present: Vec<&str> = FORMS
        .into_iter()
        .filter(|form| fields.get(*form).is_some_and(|v| !v.is_null()))
        .collect();
    let form = match present.as_slice() {
        [form] => *form,
        [] => {
            return Err(TargetError::field(
                "buttons",
                "missing: one of `buttons` (1 to 3 reply buttons such as [{\"id\": \"accept\", \"title\": \"Accept\"}]), \
                 `list`, `cta_url` or `location_request`",
            ))
        }
        [_, second, ..] => {
            return Err(TargetError::field(
                *second,
                format!(
                    "give one of `buttons`, `list`, `cta_url` and `location_request`, not `{}` and `{second}`",
                    present[0]
                ),
            ))
        }
    };
    let body = required_str(fields, "body", "the message text")?;
    check_length("body", body, MAX_BODY_CHARS)?;
    // Present, as just checked; `Null` keeps this total all the same.
    let value = fields.get(form).unwrap_or(&Value::Null);
    let (kind, action) = match form {
        "buttons" => (InteractiveKind::Button, buttons_action(value)?),
        "list" => (InteractiveKind::List, list_action(value)?),
        "cta_url" => (InteractiveKind::CtaUrl, cta_action(value)?),
        _ => {
            location_request(value)?;
            for field in ["header", "footer"] {
                if optional_present(fields, field) {
                    return Err(TargetError::field(
                        field,
                        "a location request has only a body: WhatsApp shows its own button",
                    ));
                }
            }
            let mut action = InteractiveAction::default();
            action
                .extra
                .insert("name".to_owned(), json!("send_location"));
            (InteractiveKind::LocationRequestMessage, action)
        }
    };
    let mut interactive = Interactive {
        kind,
        body: Some(InteractiveText::new(body)),
        action,
        ..Interactive::default()
    };
    interactive.header = header(fields.get("header"), form)?;
    if let Some(footer) = optional_str(fields, "footer")? {
        check_length("footer", footer, MAX_HEADER_CHARS)?;
        interactive.footer = Some(InteractiveText::new(footer));
    }
    Ok(Content::Interactive(Box::new(interactive)))
}

fn optional_present(fields: &Map<String, Value>, field: &str) -> bool {
    fields
        .get(field)
        .is_some_and(|value| !super::fields::is_absent(value))
}

/// An object of a list field, with its path.
type Item<'v> = (&'v Map<String, Value>, String);

/// The items of a list field, each an object, with their paths.
fn objects<'v>(value: &'v Value, path: &str, example: &str) -> Result<Vec<Item<'v>>, TargetError> {
    let Value::Array(items) = value else {
        return Err(TargetError::field(
            path,
            format!(
                "expected a list such as [{example}], not {}",
                json_type(value)
            ),
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let item_path = format!("{path}.{i}");
            match item.as_object() {
                Some(object) => Ok((object, item_path)),
                None => Err(TargetError::field(
                    item_path,
                    format!("expected an object {example}, not {}", json_type(item)),
                )),
            }
        })
        .collect()
}

fn object_at<'v>(
    value: &'v Value,
    path: &str,
    example: &str,
) -> Result<&'v Map<String, Value>, TargetError> {
    value.as_object().ok_or_else(|| {
        TargetError::field(
            path,
            format!(
                "expected an object such as {example}, not {}",
                json_type(value)
            ),
        )
    })
}

fn buttons_action(value: &Value) -> Result<InteractiveAction, TargetError> {
    const EXAMPLE: &str = "{\"id\": \"accept\", \"title\": \"Accept\"}";
    let buttons = objects(value, "buttons", EXAMPLE)?;
    if buttons.is_empty() || buttons.len() > MAX_REPLY_BUTTONS {
        return Err(TargetError::field(
            "buttons",
            format!(
                "{} buttons; an interactive message has 1 to {MAX_REPLY_BUTTONS} reply buttons \
                 (use a list for more choices)",
                buttons.len()
            ),
        ));
    }
    let mut replies: Vec<ReplyButton> = Vec::with_capacity(buttons.len());
    for (button, path) in buttons {
        let prefix = format!("{path}.");
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
        if replies.iter().any(|r| r.reply.title == title) {
            return Err(TargetError::field(
                format!("{prefix}title"),
                format!("`{title}` is the title of another button; titles must be unique"),
            ));
        }
        replies.push(ReplyButton::new(id, title));
    }
    Ok(InteractiveAction {
        buttons: replies,
        ..InteractiveAction::default()
    })
}

fn list_action(value: &Value) -> Result<InteractiveAction, TargetError> {
    const EXAMPLE: &str = "{\"button\": \"Choose a time\", \"sections\": [{\"title\": \"Morning\", \"rows\": [{\"id\": \"slot-9\", \"title\": \"09:00\"}]}]}";
    let list = object_at(value, "list", EXAMPLE)?;
    check_known_fields_at(list, &["button", "sections"], "list.")?;
    let button = required_str(
        list,
        "button",
        "the label of the button that opens the list",
    )
    .map_err(|e| prefixed(e, "list."))?;
    check_length("list.button", button, MAX_BUTTON_TITLE_CHARS)?;
    let Some(sections_value) = list.get("sections") else {
        return Err(TargetError::field(
            "list.sections",
            format!("missing: 1 to {MAX_SECTIONS} sections of rows"),
        ));
    };
    let sections = objects(
        sections_value,
        "list.sections",
        "{\"title\": \"Morning\", \"rows\": […]}",
    )?;
    if sections.is_empty() || sections.len() > MAX_SECTIONS {
        return Err(TargetError::field(
            "list.sections",
            format!(
                "{} sections; a list has 1 to {MAX_SECTIONS}",
                sections.len()
            ),
        ));
    }
    let several = sections.len() > 1;
    let mut ids: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(sections.len());
    for (section, path) in sections {
        let prefix = format!("{path}.");
        check_known_fields_at(section, &["title", "rows"], &prefix)?;
        let title = optional_str(section, "title").map_err(|e| prefixed(e, &prefix))?;
        match title {
            Some(title) => check_length(&format!("{prefix}title"), title, MAX_ROW_TITLE_CHARS)?,
            None if several => {
                return Err(TargetError::field(
                    format!("{prefix}title"),
                    "missing: every section needs a title when the list has more than one",
                ))
            }
            None => {}
        }
        let rows_path = format!("{prefix}rows");
        let rows = match section.get("rows") {
            Some(rows) => objects(
                rows,
                &rows_path,
                "{\"id\": \"slot-9\", \"title\": \"09:00\"}",
            )?,
            None => Vec::new(),
        };
        if rows.is_empty() {
            return Err(TargetError::field(
                rows_path,
                "missing: a section has at least one row",
            ));
        }
        let mut out_rows = Vec::with_capacity(rows.len());
        for (row, path) in rows {
            let prefix = format!("{path}.");
            check_known_fields_at(row, &["id", "title", "description"], &prefix)?;
            let id = required_str(row, "id", "the id returned when the row is chosen")
                .map_err(|e| prefixed(e, &prefix))?;
            check_length(&format!("{prefix}id"), id, MAX_ROW_ID_CHARS)?;
            if ids.iter().any(|seen| seen == id) {
                return Err(TargetError::field(
                    format!("{prefix}id"),
                    format!("`{id}` is the id of another row; ids must be unique in the list"),
                ));
            }
            ids.push(id.to_owned());
            if ids.len() > MAX_ROWS {
                return Err(TargetError::field(
                    format!("{prefix}id"),
                    format!(
                        "row {}; a list has at most {MAX_ROWS} rows in all its sections",
                        ids.len()
                    ),
                ));
            }
            let title =
                required_str(row, "title", "the row's title").map_err(|e| prefixed(e, &prefix))?;
            check_length(&format!("{prefix}title"), title, MAX_ROW_TITLE_CHARS)?;
            let description = optional_str(row, "description").map_err(|e| prefixed(e, &prefix))?;
            if let Some(description) = description {
                check_length(
                    &format!("{prefix}description"),
                    description,
                    MAX_ROW_DESCRIPTION_CHARS,
                )?;
            }
            out_rows.push(ListRow {
                id: id.to_owned(),
                title: title.to_owned(),
                description: description.map(str::to_owned),
                extra: Map::new(),
            });
        }
        out.push(ListSection {
            title: title.map(str::to_owned),
            rows: out_rows,
            extra: Map::new(),
        });
    }
    Ok(InteractiveAction {
        button: Some(button.to_owned()),
        sections: out,
        ..InteractiveAction::default()
    })
}

fn cta_action(value: &Value) -> Result<InteractiveAction, TargetError> {
    const EXAMPLE: &str =
        "{\"display_text\": \"Open OT-1021\", \"url\": \"https://erp.example.com/wo/1021\"}";
    let cta = object_at(value, "cta_url", EXAMPLE)?;
    check_known_fields_at(cta, &["display_text", "url"], "cta_url.")?;
    let text = required_str(cta, "display_text", "the button's label")
        .map_err(|e| prefixed(e, "cta_url."))?;
    check_length("cta_url.display_text", text, MAX_BUTTON_TITLE_CHARS)?;
    let url = required_str(cta, "url", "the https URL the button opens")
        .map_err(|e| prefixed(e, "cta_url."))?;
    let url = web_link("cta_url.url", url)?;
    let mut action = InteractiveAction::default();
    action.extra.insert("name".to_owned(), json!("cta_url"));
    action.extra.insert(
        "parameters".to_owned(),
        json!({"display_text": text, "url": url}),
    );
    Ok(action)
}

fn location_request(value: &Value) -> Result<(), TargetError> {
    match value {
        Value::Bool(true) => Ok(()),
        Value::String(s) if s.trim() == "true" => Ok(()),
        other => Err(TargetError::field(
            "location_request",
            format!(
                "expected true (the message asks for the user's location), not {}",
                json_type(other)
            ),
        )),
    }
}

/// The header: a string is a text header; `{"type": "text", "text"}`, or
/// `{"type": "image" | "video" | "document", "link" | "id" | "file"}` for reply buttons
/// and CTA URL messages (lists take text only).
fn header(value: Option<&Value>, form: &str) -> Result<Option<InteractiveHeader>, TargetError> {
    let Some(value) = value.filter(|v| !super::fields::is_absent(v)) else {
        return Ok(None);
    };
    if let Value::String(text) = value {
        check_length("header", text, MAX_HEADER_CHARS)?;
        return Ok(Some(InteractiveHeader::Text(text.clone())));
    }
    let header = object_at(
        value,
        "header",
        "\"OT-1021\", {\"type\": \"text\", \"text\": \"OT-1021\"} or {\"type\": \"image\", \"link\": \"https://…/pump.jpg\"}",
    )?;
    let kind = match header.get("type") {
        Some(Value::String(kind)) => kind.as_str(),
        _ => {
            return Err(TargetError::field(
                "header.type",
                "missing: one of text, image, video, document",
            ))
        }
    };
    let media_type = match kind {
        "text" => {
            check_known_fields_at(header, &["type", "text"], "header.")?;
            let text = required_str(header, "text", "the header's text")
                .map_err(|e| prefixed(e, "header."))?;
            check_length("header.text", text, MAX_HEADER_CHARS)?;
            return Ok(Some(InteractiveHeader::Text(text.to_owned())));
        }
        "image" => MediaType::Image,
        "video" => MediaType::Video,
        "document" => MediaType::Document,
        other => {
            return Err(TargetError::field(
                "header.type",
                format!("`{other}` is not a header type: text, image, video or document"),
            ))
        }
    };
    if form == "list" {
        return Err(TargetError::field(
            "header.type",
            format!("a list's header is text only, not {kind}"),
        ));
    }
    let allowed: &[&str] = if media_type == MediaType::Document {
        &["type", "link", "id", "file", "mime_type", "filename"]
    } else {
        &["type", "link", "id", "file", "mime_type"]
    };
    check_known_fields_at(header, allowed, "header.")?;
    let mut media = media_source(header, "header.", media_type, false)?;
    if media_type == MediaType::Document {
        if let Some(filename) =
            optional_str(header, "filename").map_err(|e| prefixed(e, "header."))?
        {
            media.filename = Some(filename.to_owned());
        }
    } else {
        media.filename = None;
    }
    Ok(Some(match media_type {
        MediaType::Image => InteractiveHeader::Image(media),
        MediaType::Video => InteractiveHeader::Video(media),
        _ => InteractiveHeader::Document(media),
    }))
}
