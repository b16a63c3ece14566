//! Work-order task rows and work requests: typed views, the Hub's field aliases, and how a
//! row becomes a [`Record`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::Record;

/// The languages of the labels records carry for people (`status_to_label.fr`,
/// `out_of_range_label.it`) and of the shipped template texts (docs/fracttal.md, section 5):
/// English, Spanish, Portuguese, French and Italian, as Fracttal Hub offers them.
pub const LABEL_LANGUAGES: [&str; 5] = ["en", "es", "pt", "fr", "it"];

/// `{"en": …, "es": …, "pt": …, "fr": …, "it": …}`: labels in [`LABEL_LANGUAGES`] order.
pub(crate) fn labels_object(labels: [&str; 5]) -> Value {
    Value::Object(
        LABEL_LANGUAGES
            .iter()
            .zip(labels)
            .map(|(language, label)| ((*language).to_owned(), Value::from(label)))
            .collect(),
    )
}

/// The label in `language` among labels in [`LABEL_LANGUAGES`] order.
pub(crate) fn label_in(labels: [&'static str; 5], language: &str) -> Option<&'static str> {
    LABEL_LANGUAGES
        .iter()
        .position(|known| *known == language)
        .map(|i| labels[i])
}

/// The record kind of a work-order task row.
pub const WORK_ORDER_KIND: &str = "fracttal.work_order";

/// Fracttal Hub's field names that the public API does not use, and the API fields they are
/// filled from: `(hub name, [API fields, first present wins])`.
///
/// | Hub field | filled from |
/// |---|---|
/// | `task_todo_description` | `description` |
/// | `item_description` | `items_log_description`, else `items_description` |
/// | `responsible` | `personnel_description`, else `user_assigned` |
///
/// A source field counts as present when it is a non-empty string, a number or a boolean.
/// A Hub field already in the row (even `null`) is never overwritten.
///
/// ```
/// use hubflow::fracttal::apply_aliases;
/// use serde_json::json;
///
/// let mut row = json!({"description": "Replace filter", "user_assigned": "Jonas Campos",
///                      "personnel_description": "", "item_description": "kept"});
/// apply_aliases(row.as_object_mut().unwrap());
/// assert_eq!(row["task_todo_description"], "Replace filter");
/// assert_eq!(row["responsible"], "Jonas Campos");
/// assert_eq!(row["item_description"], "kept");
/// ```
pub const ALIASES: &[(&str, &[&str])] = &[
    ("task_todo_description", &["description"]),
    (
        "item_description",
        &["items_log_description", "items_description"],
    ),
    ("responsible", &["personnel_description", "user_assigned"]),
];

/// Adds the [`ALIASES`] a row lacks, never overwriting a field that is there.
pub fn apply_aliases(row: &mut Map<String, Value>) {
    for (alias, sources) in ALIASES {
        if row.contains_key(*alias) {
            continue;
        }
        let found = sources
            .iter()
            .filter_map(|field| row.get(*field))
            .find(|value| is_present(value))
            .cloned();
        if let Some(value) = found {
            row.insert((*alias).to_owned(), value);
        }
    }
}

fn is_present(value: &Value) -> bool {
    match value {
        Value::String(s) => !s.trim().is_empty(),
        Value::Number(_) | Value::Bool(_) => true,
        _ => false,
    }
}

/// Which date of a work order a window (`since`/`until`) applies to: the API's `type_date`.
/// The same field of each row is its `occurred_at` and the work-order source's watermark.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TypeDate {
    /// `creation_date` (the API's default).
    #[default]
    CreationDate,
    /// `date_maintenance`.
    DateMaintenance,
    /// `cal_date_maintenance`.
    CalDateMaintenance,
    /// `initial_date`.
    InitialDate,
    /// `final_date`.
    FinalDate,
    /// `review_date`.
    ReviewDate,
    /// `wo_final_date`.
    WoFinalDate,
}

impl TypeDate {
    /// The API's name, which is also the row field holding the date.
    pub fn as_str(self) -> &'static str {
        match self {
            TypeDate::CreationDate => "creation_date",
            TypeDate::DateMaintenance => "date_maintenance",
            TypeDate::CalDateMaintenance => "cal_date_maintenance",
            TypeDate::InitialDate => "initial_date",
            TypeDate::FinalDate => "final_date",
            TypeDate::ReviewDate => "review_date",
            TypeDate::WoFinalDate => "wo_final_date",
        }
    }
}

/// Reads a Fracttal date: ISO 8601 with any fraction (`2019-09-04T15:06:56.045508+00:00`),
/// the filter form with an hour-only offset (`2016-07-12T20:00:00-03`), or the crate's other
/// tolerant forms. Naive times are UTC, as Fracttal returns UTC.
///
/// ```
/// use hubflow::fracttal::parse_date;
/// let a = parse_date("2016-07-12T20:00:00-03").unwrap();
/// assert_eq!(a.to_rfc3339(), "2016-07-12T23:00:00+00:00");
/// assert_eq!(parse_date("2019-09-04T15:06:56.045508+00:00").unwrap().timestamp_subsec_micros(), 45508);
/// assert!(parse_date("yesterday").is_none());
/// ```
pub fn parse_date(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    let bytes = text.as_bytes();
    let n = bytes.len();
    // `…-03` / `…+05`: chrono wants minutes in the offset. Only after a time (a `:`), so a
    // bare date's day is not mistaken for an offset.
    if n > 19
        && matches!(bytes[n - 3], b'+' | b'-')
        && bytes[n - 2].is_ascii_digit()
        && bytes[n - 1].is_ascii_digit()
        && text[..n - 3].contains(':')
    {
        return crate::condition::parse_instant(&format!("{text}:00"));
    }
    crate::condition::parse_instant(text)
}

/// Formats an instant as the API's `since`/`until` filters want it:
/// `YYYY-MM-DDTHH:MM:SS` with an hour offset, here always UTC (`+00`).
///
/// ```
/// use hubflow::fracttal::format_date;
/// let at = "2026-03-02T08:00:05.9Z".parse().unwrap();
/// assert_eq!(format_date(at), "2026-03-02T08:00:05+00");
/// ```
pub fn format_date(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S+00").to_string()
}

/// An id as text, whether Fracttal sent it as a string or a number.
pub(crate) fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The idempotency key of a task row: `fracttal:wo:<id_work_orders_tasks>:<id_status_work_order>`.
///
/// A row without a task id is keyed by `wo_folio`/`id_work_order` and a hash of its content
/// (`fracttal:wo:<folio>#<hash>:<status>`), so its tasks stay apart; a missing status is
/// `none`.
pub fn work_order_key(row: &Map<String, Value>) -> String {
    let status = row
        .get("id_status_work_order")
        .and_then(id_text)
        .unwrap_or_else(|| "none".to_owned());
    let id = row
        .get("id_work_orders_tasks")
        .and_then(id_text)
        .unwrap_or_else(|| {
            let folio = ["wo_folio", "id_work_order"]
                .iter()
                .find_map(|f| row.get(*f).and_then(id_text))
                .unwrap_or_else(|| "row".to_owned());
            format!(
                "{folio}#{:016x}",
                fnv1a(Value::Object(row.clone()).to_string().as_bytes())
            )
        });
    format!("fracttal:wo:{id}:{status}")
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The record of one work-order task row: key per [`work_order_key`], kind
/// [`WORK_ORDER_KIND`], `occurred_at` from the row's `date_field`, data the row with the
/// [`ALIASES`] added.
///
/// ```
/// use hubflow::fracttal::{work_order_record, TypeDate};
/// use serde_json::json;
///
/// let row = json!({"id_work_orders_tasks": 77, "id_status_work_order": "1", "wo_folio": "OT-881",
///                  "creation_date": "2026-03-02T08:00:00+00:00", "user_assigned": "Jonas Campos"});
/// let record = work_order_record(row.as_object().unwrap().clone(), TypeDate::CreationDate);
/// assert_eq!(record.key, "fracttal:wo:77:1");
/// assert_eq!(record.kind, "fracttal.work_order");
/// assert_eq!(record.occurred_at.unwrap().to_rfc3339(), "2026-03-02T08:00:00+00:00");
/// assert_eq!(record.data["responsible"], "Jonas Campos");
/// ```
pub fn work_order_record(mut row: Map<String, Value>, date_field: TypeDate) -> Record {
    let key = work_order_key(&row);
    let at = row_date(&row, date_field);
    apply_aliases(&mut row);
    let record = Record::new(key, WORK_ORDER_KIND, Value::Object(row));
    match at {
        Some(at) => record.occurred_at(at),
        None => record,
    }
}

pub(crate) fn row_date(row: &Map<String, Value>, field: TypeDate) -> Option<DateTime<Utc>> {
    row.get(field.as_str())
        .and_then(Value::as_str)
        .and_then(parse_date)
}

/// A typed view of one row of "Query tasks in WOs" (`GET work_orders/`): one row per task.
///
/// Every field is optional; ids are read whether sent as strings or numbers; a field of an
/// unexpected type reads as `None` (the record's data keeps it as received); fields not
/// named here, custom fields and the Hub aliases included, are kept in `extra`.
///
/// ```
/// use hubflow::fracttal::WorkOrderTask;
/// use serde_json::json;
///
/// let task = WorkOrderTask::try_from(&json!({
///     "wo_folio": 881, "id_work_orders_tasks": "77", "id_status_work_order": "2",
///     "personnel_description": null, "user_assigned": "Jonas Campos",
///     "done": 0, "custom_field": "x"
/// })).unwrap();
/// assert_eq!(task.wo_folio.as_deref(), Some("881"));
/// assert_eq!(task.id_status_work_order, Some(2));
/// assert_eq!(task.done, Some(false));
/// assert_eq!(task.responsible(), Some("Jonas Campos"));
/// assert_eq!(task.extra["custom_field"], "x");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkOrderTask {
    /// The work order's folio (its number as users see it).
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub wo_folio: Option<String>,
    /// The work order's internal id.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_work_order: Option<String>,
    /// The task's id within work orders.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_work_orders_tasks: Option<String>,
    /// 1 in process, 2 in review, 3 completed, 4 cancelled.
    #[serde(
        default,
        deserialize_with = "unsigned",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_status_work_order: Option<u32>,
    /// When the work order was created (UTC, as sent).
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub creation_date: Option<String>,
    /// Planned start.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub initial_date: Option<String>,
    /// Task end.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub final_date: Option<String>,
    /// Work order end.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub wo_final_date: Option<String>,
    /// The event's date.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub event_date: Option<String>,
    /// Review date.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub review_date: Option<String>,
    /// Duration in seconds.
    #[serde(
        default,
        deserialize_with = "number",
        skip_serializing_if = "Option::is_none"
    )]
    pub duration: Option<f64>,
    /// Completion percentage.
    #[serde(
        default,
        deserialize_with = "number",
        skip_serializing_if = "Option::is_none"
    )]
    pub completed_percentage: Option<f64>,
    /// The creator's name.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub created_by: Option<String>,
    /// The asset's code.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    /// The asset's description.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub items_log_description: Option<String>,
    /// Whether the task is done.
    #[serde(
        default,
        deserialize_with = "boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub done: Option<bool>,
    /// The task's description.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// The responsible person (preferred over `user_assigned`).
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub personnel_description: Option<String>,
    /// The assigned user.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_assigned: Option<String>,
    /// The work order's note.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub note: Option<String>,
    /// The task's type.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub tasks_log_task_type_main: Option<String>,
    /// The parent asset or location.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_description: Option<String>,
    /// The priority's name.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub priorities_description: Option<String>,
    /// The task's state, e.g. `NO_STARTED`.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_status: Option<String>,
    /// The task's note.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub task_note: Option<String>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl WorkOrderTask {
    /// The typed view of a record's data.
    pub fn from_record(record: &Record) -> Result<Self, serde_json::Error> {
        WorkOrderTask::try_from(&record.data)
    }

    /// The responsible person: `personnel_description`, else `user_assigned`.
    pub fn responsible(&self) -> Option<&str> {
        [&self.personnel_description, &self.user_assigned]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .find(|s| !s.trim().is_empty())
    }

    /// `creation_date` as an instant.
    pub fn created_at(&self) -> Option<DateTime<Utc>> {
        self.creation_date.as_deref().and_then(parse_date)
    }
}

impl TryFrom<&Value> for WorkOrderTask {
    type Error = serde_json::Error;

    /// Fails only when the value is not a JSON object.
    fn try_from(value: &Value) -> Result<Self, Self::Error> {
        WorkOrderTask::deserialize(value)
    }
}

/// A typed view of a work request, as `GET work_requests` returns it and `POST
/// work_requests` takes it. All fields optional; unknown fields kept in `extra`.
///
/// ```
/// use hubflow::fracttal::WorkRequest;
/// use serde_json::json;
///
/// let wr = WorkRequest::try_from(&json!({"id_code": 5012, "description": "Leak", "is_urgent": "true",
///                                        "key_words_descriptions": ["pump"]})).unwrap();
/// assert_eq!(wr.id_code.as_deref(), Some("5012"));
/// assert_eq!(wr.is_urgent, Some(true));
/// assert_eq!(wr.key_words_descriptions, Some(vec!["pump".to_owned()]));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct WorkRequest {
    /// The request's id.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_code: Option<String>,
    /// The asset or location code.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub code: Option<String>,
    /// The requesting user's code.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub user_code: Option<String>,
    /// What is requested.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<String>,
    /// An observation.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub observation: Option<String>,
    /// When it was requested.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub date: Option<String>,
    /// When the incident happened.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub date_incident: Option<String>,
    /// Who requested it.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub requested_by: Option<String>,
    /// The requester's e-mail.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub email_requested_by: Option<String>,
    /// An external identifier.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub identifier: Option<String>,
    /// Whether it is urgent.
    #[serde(
        default,
        deserialize_with = "boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_urgent: Option<bool>,
    /// The request type's name.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub types_description: Option<String>,
    /// The asset's description.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub items_description: Option<String>,
    /// The work order made from it.
    #[serde(
        default,
        deserialize_with = "text",
        skip_serializing_if = "Option::is_none"
    )]
    pub wo_folio: Option<String>,
    /// The status (1–13).
    #[serde(
        default,
        deserialize_with = "unsigned",
        skip_serializing_if = "Option::is_none"
    )]
    pub id_status: Option<u32>,
    /// Keywords.
    #[serde(
        default,
        deserialize_with = "texts",
        skip_serializing_if = "Option::is_none"
    )]
    pub key_words_descriptions: Option<Vec<String>>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TryFrom<&Value> for WorkRequest {
    type Error = serde_json::Error;

    /// Fails only when the value is not a JSON object.
    fn try_from(value: &Value) -> Result<Self, Self::Error> {
        WorkRequest::deserialize(value)
    }
}

impl WorkRequest {
    /// The typed view of a record's data.
    pub fn from_record(record: &Record) -> Result<Self, serde_json::Error> {
        WorkRequest::try_from(&record.data)
    }
}

fn text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

fn texts<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => Some(items.iter().filter_map(id_text).collect()),
        Value::String(s) => Some(vec![s]),
        _ => None,
    })
}

fn unsigned<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|f: &f64| f.is_finite()),
        _ => None,
    })
}

fn boolean<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Bool(b) => Some(b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "si" | "sí" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        _ => None,
    })
}

#[cfg(test)]
mod tests;
