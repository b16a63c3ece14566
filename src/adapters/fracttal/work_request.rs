//! The `fracttal.work_request` target: opens a work request (`POST work_requests`).

use std::fmt;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::error::FracttalError;
use super::rows::{format_date, parse_date};
use super::FracttalClient;
use crate::http::HttpRequest;
use crate::{Context, DeliveryError, Receipt, Record, Target, TargetError};

/// The kind name of this target in flow specs.
pub const KIND: &str = "fracttal.work_request";

/// How a payload field is checked and normalised (shared by the Fracttal targets).
#[derive(Clone, Copy)]
pub(super) enum Field {
    Text,
    Id,
    Email,
    Date,
    Flag,
    List,
}

/// The fields `POST work_requests` takes, and how each is checked.
const FIELDS: &[(&str, Field)] = &[
    ("description", Field::Text),
    ("code", Field::Id),
    ("user_code", Field::Id),
    ("observation", Field::Text),
    ("date_incident", Field::Date),
    ("requested_by", Field::Text),
    ("email_requested_by", Field::Email),
    ("identifier", Field::Id),
    ("is_urgent", Field::Flag),
    ("types_description", Field::Text),
    ("types_1_description", Field::Text),
    ("types_2_description", Field::Text),
    ("key_words_descriptions", Field::List),
];

/// Opens a Fracttal work request from the mapped payload.
///
/// The payload is an object of work-request fields: `description` (required), `code`
/// (asset or location), `user_code`, `observation`, `date_incident`, `requested_by`,
/// `email_requested_by`, `identifier`, `is_urgent`, `types_description`,
/// `types_1_description`, `types_2_description`, `key_words_descriptions`. [`prepare`]
/// checks and normalises it, because mapping templates produce text:
///
/// * an unknown field is refused, naming the closest known one (`descripton` → did you mean
///   `description`?); add custom fields with [`allow_field`](Self::allow_field);
/// * `null` and empty optional fields are left out;
/// * ids may be numbers (sent as text); `is_urgent` may be `"true"`/`"false"`/`"1"`/`"0"`;
///   `key_words_descriptions` may be a comma-separated text;
/// * `date_incident` must be a date in any form [`parse_date`] reads, and is sent as
///   `YYYY-MM-DDTHH:MM:SS+00` (UTC; a date without an offset is taken as UTC).
///
/// [`prepare`] is pure and the request it builds has **no** credentials: the bearer token is
/// runtime state, added by [`deliver`](Target::deliver) from the client's cache (fetched or
/// refreshed as needed, and refreshed once on a 401). A dry run therefore shows the body
/// exactly, and no token.
///
/// The receipt's id is the created request's `id_code` (or `id`) from the answer's `data`.
/// A 408 answer ("item already exists") is a delivery, with `already_exists: true` in the
/// receipt's details: the request is there, which is what the flow wanted. Failures are
/// classified as [`FracttalError`] describes; rate limits are retried by the flow's retry
/// policy after the reset Fracttal gives.
///
/// [`prepare`]: Target::prepare
///
/// ```
/// use hubflow::fracttal::{FracttalClient, WorkRequestTarget};
/// use hubflow::{Record, Target};
/// use serde_json::json;
///
/// let target = WorkRequestTarget::new(FracttalClient::new("key".into(), "secret".into()));
/// let record = Record::new("wa:1", "whatsapp.message", json!({}));
/// let request = target.prepare(&record, &json!({
///     "description": "Pump 3 leaking", "code": 3, "is_urgent": "true", "observation": ""
/// })).unwrap();
/// assert_eq!(request.url.as_str(), "https://app.fracttal.com/api/work_requests");
/// assert_eq!(request.json_body().unwrap(), json!({"description": "Pump 3 leaking", "code": "3", "is_urgent": true}));
/// assert!(request.headers.get("authorization").is_none());
///
/// let e = target.prepare(&record, &json!({"descripton": "typo"})).unwrap_err();
/// assert!(e.to_string().contains("did you mean `description`"), "{e}");
/// ```
#[derive(Clone)]
pub struct WorkRequestTarget {
    client: FracttalClient,
    path: String,
    extra_fields: Vec<String>,
}

impl WorkRequestTarget {
    /// A target posting to `work_requests` below the client's base URL.
    pub fn new(client: FracttalClient) -> Self {
        WorkRequestTarget {
            client,
            path: "work_requests".to_owned(),
            extra_fields: Vec::new(),
        }
    }

    /// Another endpoint path below the base URL.
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// Lets a field the reference does not list through as it is (a custom field).
    #[must_use]
    pub fn allow_field(mut self, name: impl Into<String>) -> Self {
        self.extra_fields.push(name.into());
        self
    }

    /// The client.
    pub fn client(&self) -> &FracttalClient {
        &self.client
    }

    fn body(&self, payload: &Value) -> Result<Map<String, Value>, TargetError> {
        let Value::Object(fields) = payload else {
            return Err(TargetError::InvalidPayload(
                "a work request is a JSON object of fields, e.g. {\"description\": \"…\"}"
                    .to_owned(),
            ));
        };
        let mut problems: Vec<(String, String)> = Vec::new();
        let body = read_fields(
            fields,
            FIELDS,
            &self.extra_fields,
            "work-request",
            &mut problems,
        );
        if !body.contains_key("description") && !problems.iter().any(|(f, _)| f == "description") {
            problems.push((
                "description".to_owned(),
                "required: what is requested".to_owned(),
            ));
        }
        refuse(problems)?;
        Ok(body)
    }
}

/// The fields of `payload` that `known` names, each normalised as its [`Field`] says, and
/// those `extra` names as they are; every other field, and every field that does not fit,
/// is added to `problems` (an unknown one with the closest known name, for a `what` field).
/// `null` and empty optional fields are left out.
pub(super) fn read_fields(
    payload: &Map<String, Value>,
    known: &[(&str, Field)],
    extra: &[String],
    what: &str,
    problems: &mut Vec<(String, String)>,
) -> Map<String, Value> {
    let mut body = Map::new();
    for (name, value) in payload {
        let kind = known.iter().find(|(k, _)| k == name).map(|f| f.1);
        let Some(kind) = kind else {
            if extra.iter().any(|f| f == name) {
                body.insert(name.clone(), value.clone());
            } else {
                problems.push((name.clone(), unknown_field_message(name, what, known)));
            }
            continue;
        };
        match normalise(kind, value) {
            Ok(Some(value)) => {
                body.insert(name.clone(), value);
            }
            Ok(None) => {}
            Err(message) => problems.push((name.clone(), message)),
        }
    }
    body
}

/// `Ok` without problems; else the one field's error, or all of them in one message.
pub(super) fn refuse(mut problems: Vec<(String, String)>) -> Result<(), TargetError> {
    match problems.len() {
        0 => Ok(()),
        1 => {
            let (field, message) = problems.remove(0);
            Err(TargetError::field(field, message))
        }
        _ => Err(TargetError::InvalidPayload(
            problems
                .iter()
                .map(|(field, message)| format!("`{field}`: {message}"))
                .collect::<Vec<_>>()
                .join("; "),
        )),
    }
}

/// `value` checked and normalised as `kind` says: `None` for `null` and empty texts.
pub(super) fn normalise(kind: Field, value: &Value) -> Result<Option<Value>, String> {
    let text = match value {
        Value::Null => return Ok(None),
        // Templates render a missing field as an empty text: leave the field out.
        Value::String(s) if s.trim().is_empty() => return Ok(None),
        Value::String(s) => Some(s.trim().to_owned()),
        _ => None,
    };
    match (kind, value, text) {
        (Field::Text | Field::Id, Value::Number(n), _) => Ok(Some(Value::String(n.to_string()))),
        (Field::Text | Field::Id, _, Some(text)) => Ok(Some(Value::String(text))),
        (Field::Email, _, Some(text)) if text.contains('@') => Ok(Some(Value::String(text))),
        (Field::Email, _, Some(text)) => Err(format!("`{text}` is not an e-mail address")),
        (Field::Date, _, Some(text)) => match parse_date(&text) {
            Some(at) => Ok(Some(Value::String(format_date(at)))),
            None => Err(format!(
                "`{text}` is not a date (e.g. 2026-03-02T08:00:00-03 or 2026-03-02T11:00:00Z)"
            )),
        },
        (Field::Flag, Value::Bool(b), _) => Ok(Some(Value::Bool(*b))),
        (Field::Flag, Value::Number(n), _) if n.as_u64() == Some(0) || n.as_u64() == Some(1) => {
            Ok(Some(Value::Bool(n.as_u64() == Some(1))))
        }
        (Field::Flag, _, Some(text)) => match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Ok(Some(Value::Bool(true))),
            "false" | "0" | "no" => Ok(Some(Value::Bool(false))),
            _ => Err(format!("`{text}` is not true or false")),
        },
        (Field::List, Value::Array(items), _) => items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(Value::String(s.clone())),
                Value::Number(n) => Ok(Value::String(n.to_string())),
                _ => Err("expected a list of texts".to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|items| Some(Value::Array(items))),
        (Field::List, _, Some(text)) => Ok(Some(Value::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ))),
        (kind, value, _) => Err(format!(
            "expected {}, found {}",
            match kind {
                Field::Text | Field::Id => "a text",
                Field::Email => "an e-mail address",
                Field::Date => "a date text",
                Field::Flag => "true or false",
                Field::List => "a list of texts",
            },
            kind_of(value)
        )),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn unknown_field_message(name: &str, what: &str, known: &[(&str, Field)]) -> String {
    let closest = known
        .iter()
        .map(|(field, _)| (levenshtein(name, field), *field))
        .min();
    match closest {
        // Suggest only a name close for its length, so short typos get no wild guesses.
        Some((distance, field)) if distance <= name.len().max(3) / 3 || field.starts_with(name) => {
            format!("unknown {what} field; did you mean `{field}`?")
        }
        _ => format!(
            "unknown {what} field; known fields: {}",
            known.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous + usize::from(ca != *cb);
            previous = row[j + 1];
            row[j + 1] = substitution.min(row[j] + 1).min(previous + 1);
        }
    }
    row[b.len()]
}

/// The receipt of a created work request: its id from `data`.
fn receipt(envelope: &super::Envelope) -> Receipt {
    let item = match &envelope.data {
        Value::Array(items) => items.first(),
        other => Some(other),
    };
    let id = item.and_then(|item| {
        ["id_code", "id", "id_work_request", "code"]
            .iter()
            .find_map(|field| item.get(*field).and_then(super::rows::id_text))
    });
    let mut receipt = Receipt::new(envelope.status);
    if let Some(id) = id {
        receipt = receipt.with_id(id);
    }
    if !envelope.data.is_null() {
        receipt = receipt.with_details(json!({"data": envelope.data}));
    }
    receipt
}

#[async_trait]
impl Target for WorkRequestTarget {
    type Action = HttpRequest;

    fn prepare(&self, _record: &Record, payload: &Value) -> Result<HttpRequest, TargetError> {
        let body = self.body(payload)?;
        let url = self
            .client
            .url(&self.path)
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))?;
        HttpRequest::post_json(url, &body).map_err(|e| TargetError::InvalidPayload(e.to_string()))
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        request: &HttpRequest,
    ) -> Result<Receipt, DeliveryError> {
        match self.client.send(ctx, request).await {
            Ok(envelope) => Ok(receipt(&envelope)),
            Err(FracttalError::AlreadyExists { message }) => {
                Ok(Receipt::new(408)
                    .with_details(json!({"already_exists": true, "message": message})))
            }
            Err(error) => Err(error.into()),
        }
    }

    fn fakes(&self) -> Vec<std::sync::Arc<dyn crate::http::ProviderFake>> {
        vec![std::sync::Arc::new(super::fake::FracttalFake::for_client(
            &self.client,
        ))]
    }
}

impl fmt::Debug for WorkRequestTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkRequestTarget")
            .field("client", &self.client)
            .field("path", &self.path)
            .field("extra_fields", &self.extra_fields)
            .finish()
    }
}

/// The target's spec config.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkRequestConfig {
    pub connection: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub extra_fields: Vec<String>,
}

impl WorkRequestConfig {
    pub(crate) fn apply(
        self,
        client: FracttalClient,
    ) -> Result<WorkRequestTarget, crate::SpecErrors> {
        let mut target = WorkRequestTarget::new(client);
        if let Some(path) = self.path {
            if let Err(e) = target.client.url(&path) {
                return Err(crate::SpecError::new("/path", e.to_string()).into());
            }
            target = target.path(path);
        }
        for field in self.extra_fields {
            target = target.allow_field(field);
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests;
