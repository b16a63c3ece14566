//! The `fracttal.work_order_note` target: appends a line to a work order's note (read the
//! note with `GET work_orders/`, then `PUT work_orders/<id_work_order>`).

use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

use super::error::{FracttalError, PROVIDER};
use super::rows::id_text;
use super::work_request::{read_fields, refuse, Field};
use super::{Envelope, FracttalClient};
use crate::http::{HttpRequest, Method};
use crate::{Context, DeliveryError, ProviderError, Receipt, Record, Target, TargetError};

/// The kind name of this target in flow specs.
pub const KIND: &str = "fracttal.work_order_note";

/// The longest note, in bytes of UTF-8, this target writes: 64 KiB. Fracttal documents no
/// limit; this one keeps a note that grows by a line per event from growing without bound.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// The fields of a work-order note payload.
const FIELDS: &[(&str, Field)] = &[
    ("note", Field::Text),
    ("id_work_order", Field::Id),
    ("id_work_orders_tasks", Field::Id),
    ("wo_folio", Field::Id),
    ("account_code", Field::Text),
];

/// The query parameter of "Query tasks in WOs" for each way of naming the work order, and
/// the row field it matches.
const BY_TASK: (&str, &str) = ("id_work_order_task", "id_work_orders_tasks");
const BY_FOLIO: (&str, &str) = ("folio", "wo_folio");

/// The marker that ends each line this target appends for a record: `[hf:` and the first 10
/// hex digits of the SHA-256 of the record key, then `]`.
///
/// The note is read by people, so the key itself (which may hold a phone number or a name)
/// is not written; a line already carrying the marker is not appended again.
///
/// ```
/// use hubflow::fracttal::note_marker;
/// assert_eq!(note_marker("fracttal:wo:90211:1"), note_marker("fracttal:wo:90211:1"));
/// assert_ne!(note_marker("fracttal:wo:90211:1"), note_marker("fracttal:wo:90211:3"));
/// assert_eq!(note_marker("k").len(), "[hf:]".len() + 10);
/// assert!(!note_marker("5511999991234").contains("5511"));
/// ```
pub fn note_marker(record_key: &str) -> String {
    let digest = hex::encode(Sha256::digest(record_key.as_bytes()));
    format!("[hf:{}]", &digest[..10])
}

/// Why a work-order note was not written, found in Fracttal's answer rather than in the
/// payload. Permanent; reached with [`Failure::cause`](crate::Failure::cause).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WorkOrderNoteError {
    /// The query of work orders returned no row of the work order.
    #[error(
        "Fracttal has no work order with {lookup}: its query of work orders returned no row of it"
    )]
    NotFound {
        /// How the work order was named, e.g. `id_work_orders_tasks 90211`.
        lookup: String,
    },
    /// The note with the new line would be longer than [`MAX_NOTE_BYTES`].
    #[error(
        "the note of work order {id_work_order} would be {bytes} bytes with the new line, \
         over the limit of {limit} bytes: nothing was written"
    )]
    NoteTooLong {
        /// The work order.
        id_work_order: String,
        /// The note's length with the new line.
        bytes: usize,
        /// [`MAX_NOTE_BYTES`].
        limit: usize,
    },
    /// The work-order id cannot name a work order in a URL (digits, letters, `-` and `_`).
    #[error("`{id}` is not a work-order id (digits, letters, `-` and `_`)")]
    InvalidId {
        /// The id as found.
        id: String,
    },
}

/// Appends a line to the note of a Fracttal work order, once per record.
///
/// # The payload
///
/// | field | required | meaning |
/// |---|---|---|
/// | `note` | yes | the text to add (a line; numbers are taken as text) |
/// | `id_work_orders_tasks` | one of these two | a task of the work order (what a work-order record's key holds) |
/// | `wo_folio` | one of these two | the work order's folio |
/// | `id_work_order` | no | the work order's id (`PUT work_orders/<id_work_order>`): the rows read must belong to it |
/// | `account_code` | no | sent with the note, as Fracttal's update takes it |
///
/// `id_work_order` alone is not enough: the note is read first, and Fracttal's query of
/// work orders has no filter by it. An unknown field is refused, naming the closest known
/// one (`notes` → did you mean `note`?); `null` and empty optional fields are left out.
///
/// # What delivering does
///
/// 1. **Read** the current note: `GET work_orders/?id_work_order_task=<task>` (or
///    `?folio=<wo_folio>`). Of the rows, only those of that task (or folio), and of
///    `id_work_order` when given, count; the first gives the work order's id and its
///    `note` (the rows of one work order share it). No such row:
///    [`WorkOrderNoteError::NotFound`]. A row without a `note` field is refused
///    ([`FracttalError::UnexpectedShape`]): writing would replace a note that was not read.
/// 2. **Check the marker**: each line ends with [`note_marker`] of the record key. If the
///    note holds it already, the record was written before (a retry, a replay, a second
///    worker): the delivery succeeds without a write, `already_present: true` in the
///    receipt's details.
/// 3. **Write** `PUT work_orders/<id_work_order>` with `{"note": "<current>\n<line>"}`
///    (`account_code` too when given; trailing blank space of the current note is
///    dropped, and an empty note becomes the line alone). A note over [`MAX_NOTE_BYTES`] is
///    refused ([`WorkOrderNoteError::NoteTooLong`]) and nothing is written.
///
/// The receipt's id is the work order's id. Both requests go through the client: the token
/// is added (and refreshed once on a 401), the company's rate limit is waited for, and
/// failures are classified as [`FracttalError`] describes, so a 406/429 or a 5xx is retried
/// by the flow's policy — from the read again, so the marker check keeps the retry from
/// writing the line twice. A read whose answer cannot be read (not JSON) fails
/// permanently with nothing written; a write whose answer cannot be read keeps the claim,
/// as every Fracttal write does.
///
/// **Not atomic.** Fracttal has no conditional update: two deliveries appending to the same
/// work order at the same moment can both read the old note, and the later write drops the
/// earlier line. The cluster's recipient queues do not order them (a note has no
/// recipient): write a work order's note from one flow in one process, with
/// `max_in_flight: 1`, when its records may come close together (see the guide, *Writing
/// back to the work order*).
///
/// [`prepare`](Target::prepare) is pure and its action holds no credentials: a dry run or
/// [`Flow::plan`](crate::Flow::plan) shows the read and the line it will append.
///
/// ```
/// use hubflow::fracttal::{note_marker, FracttalClient, WorkOrderNote, WorkOrderNoteTarget};
/// use hubflow::{Record, Target};
/// use serde_json::json;
///
/// let target = WorkOrderNoteTarget::new(FracttalClient::new("key".into(), "secret".into()));
/// let record = Record::new("wamid.HBgL:read", "whatsapp.status", json!({}));
/// let note: WorkOrderNote = target.prepare(&record, &json!({
///     "id_work_orders_tasks": 90211, "note": "WhatsApp to 5511999991234: read at 10:42"
/// })).unwrap();
/// assert_eq!(note.lookup().url.as_str(),
///     "https://app.fracttal.com/api/work_orders/?id_work_order_task=90211");
/// assert!(note.lookup().headers.get("authorization").is_none());
/// let marker = note_marker("wamid.HBgL:read");
/// assert_eq!(note.line(), format!("WhatsApp to 5511999991234: read at 10:42 {marker}"));
///
/// // What the write will be once the read answers work order 4410 with its note:
/// let put = note.update("4410", "Pump checked\n").unwrap().unwrap();
/// assert_eq!(put.url.as_str(), "https://app.fracttal.com/api/work_orders/4410");
/// assert_eq!(put.json_body().unwrap(),
///     json!({"note": format!("Pump checked\n{}", note.line())}));
/// // Written before: nothing to write.
/// assert!(note.update("4410", &format!("Pump checked\n{}", note.line())).unwrap().is_none());
///
/// let e = target.prepare(&record, &json!({"id_work_orders_tasks": 1, "notes": "x"})).unwrap_err();
/// assert!(e.to_string().contains("did you mean `note`"), "{e}");
/// ```
#[derive(Clone)]
pub struct WorkOrderNoteTarget {
    client: FracttalClient,
    path: String,
}

impl WorkOrderNoteTarget {
    /// A target reading and writing `work_orders/` below the client's base URL.
    pub fn new(client: FracttalClient) -> Self {
        WorkOrderNoteTarget {
            client,
            path: "work_orders/".to_owned(),
        }
    }

    /// Another path of the work-order endpoint below the base URL (the query is sent to it,
    /// the update to it plus the work order's id).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.path = path.into();
        self
    }

    /// The client.
    pub fn client(&self) -> &FracttalClient {
        &self.client
    }
}

/// What [`WorkOrderNoteTarget`] prepares: the read of the work order's note, and the line
/// to append with its marker. [`update`](Self::update) gives the write for what the read
/// answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WorkOrderNote {
    lookup: HttpRequest,
    /// The row field the read is matched on, and its value.
    lookup_field: &'static str,
    lookup_value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    id_work_order: Option<String>,
    /// The work-order endpoint; the update goes to it plus the id.
    update_url: Url,
    line: String,
    marker: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_code: Option<String>,
}

impl crate::Action for WorkOrderNote {}

impl WorkOrderNote {
    /// The read of the current note (`GET work_orders/?id_work_order_task=…` or
    /// `?folio=…`), without credentials.
    pub fn lookup(&self) -> &HttpRequest {
        &self.lookup
    }

    /// The work order's id, when the payload gave it.
    pub fn id_work_order(&self) -> Option<&str> {
        self.id_work_order.as_deref()
    }

    /// The text appended: the payload's `note`, a space and the [`marker`](Self::marker).
    pub fn line(&self) -> &str {
        &self.line
    }

    /// The record's [`note_marker`].
    pub fn marker(&self) -> &str {
        &self.marker
    }

    /// The `account_code` sent with the note, if any.
    pub fn account_code(&self) -> Option<&str> {
        self.account_code.as_deref()
    }

    /// The write for work order `id_work_order` whose note is `current_note`:
    /// `PUT work_orders/<id_work_order>` with the line appended, or `None` when the note
    /// already holds the marker. Pure.
    pub fn update(
        &self,
        id_work_order: &str,
        current_note: &str,
    ) -> Result<Option<HttpRequest>, WorkOrderNoteError> {
        if current_note.contains(&self.marker) {
            return Ok(None);
        }
        let invalid = || WorkOrderNoteError::InvalidId {
            id: id_work_order.to_owned(),
        };
        if !is_id(id_work_order) {
            return Err(invalid());
        }
        let current = current_note.trim_end();
        let note = if current.is_empty() {
            self.line.clone()
        } else {
            format!("{current}\n{}", self.line)
        };
        if note.len() > MAX_NOTE_BYTES {
            return Err(WorkOrderNoteError::NoteTooLong {
                id_work_order: id_work_order.to_owned(),
                bytes: note.len(),
                limit: MAX_NOTE_BYTES,
            });
        }
        let mut url = self.update_url.clone();
        url.path_segments_mut()
            .map_err(|()| invalid())?
            .pop_if_empty()
            .push(id_work_order);
        let mut body = Map::new();
        body.insert("note".to_owned(), Value::String(note));
        if let Some(code) = &self.account_code {
            body.insert("account_code".to_owned(), Value::String(code.clone()));
        }
        HttpRequest::new(Method::Put, url)
            .json(&body)
            .map(Some)
            .map_err(|_| invalid())
    }

    /// How the work order is named, for messages: `id_work_orders_tasks 90211`.
    fn described(&self) -> String {
        let mut text = format!("{} {}", self.lookup_field, self.lookup_value);
        if let Some(id) = &self.id_work_order {
            text.push_str(&format!(" and id_work_order {id}"));
        }
        text
    }

    /// The work order's id and its current note, from the read's answer.
    fn current(&self, envelope: &Envelope) -> Result<(String, String), DeliveryError> {
        let belongs = |row: &&Map<String, Value>| {
            row.get(self.lookup_field).and_then(id_text).as_deref()
                == Some(self.lookup_value.as_str())
                && match (
                    &self.id_work_order,
                    row.get("id_work_order").and_then(id_text),
                ) {
                    (Some(wanted), Some(found)) => *wanted == found,
                    _ => true,
                }
        };
        let Some(row) = envelope
            .rows()
            .iter()
            .filter_map(Value::as_object)
            .find(belongs)
        else {
            return Err(not_written(
                envelope.status,
                WorkOrderNoteError::NotFound {
                    lookup: self.described(),
                },
            ));
        };
        let unusable = |message: String| {
            read_failure(FracttalError::UnexpectedShape {
                status: envelope.status,
                message,
            })
        };
        let id = row
            .get("id_work_order")
            .and_then(id_text)
            .or_else(|| self.id_work_order.clone())
            .ok_or_else(|| {
                unusable(format!(
                    "the row of {} has no id_work_order",
                    self.described()
                ))
            })?;
        let note = match row.get("note") {
            Some(Value::Null) => String::new(),
            Some(Value::String(text)) => text.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => {
                return Err(unusable(format!(
                    "the note of work order {id} is not a text"
                )))
            }
            None => {
                return Err(unusable(format!(
                    "the row of {} has no `note` field, so appending would replace the \
                     note; nothing was written",
                    self.described()
                )))
            }
        };
        Ok((id, note))
    }
}

/// Whether `id` can name a work order as one path segment.
fn is_id(id: &str) -> bool {
    !id.is_empty()
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// A failure of the read: nothing was written, so even an answer that cannot be read is a
/// permanent provider error (releasing the claim), not an unreadable write.
fn read_failure(error: FracttalError) -> DeliveryError {
    match error {
        e @ (FracttalError::MalformedJson { .. } | FracttalError::UnexpectedShape { .. }) => {
            match e.to_provider_error() {
                Some(provider) => DeliveryError::from(provider.with_source(e)),
                None => DeliveryError::from(e),
            }
        }
        FracttalError::Transport(e) => DeliveryError::Transport(e.for_read()),
        other => DeliveryError::from(other),
    }
}

/// A [`WorkOrderNoteError`] as a permanent error of the answer with HTTP `status`.
fn not_written(status: u16, error: WorkOrderNoteError) -> DeliveryError {
    let mut provider = ProviderError::new(PROVIDER, status, error.to_string());
    provider.class = crate::ErrorClass::Permanent;
    DeliveryError::from(provider.with_source(error))
}

#[async_trait]
impl Target for WorkOrderNoteTarget {
    type Action = WorkOrderNote;

    fn prepare(&self, record: &Record, payload: &Value) -> Result<WorkOrderNote, TargetError> {
        let Value::Object(fields) = payload else {
            return Err(TargetError::InvalidPayload(
                "a work-order note is a JSON object of fields, e.g. \
                 {\"id_work_orders_tasks\": \"90211\", \"note\": \"…\"}"
                    .to_owned(),
            ));
        };
        let mut problems: Vec<(String, String)> = Vec::new();
        let body = read_fields(fields, FIELDS, &[], "work-order note", &mut problems);
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let reported = |problems: &[(String, String)], name: &str| {
            problems.iter().any(|(field, _)| field == name)
        };
        let marker = note_marker(&record.key);
        let line = text("note").map(|note| format!("{} {marker}", note.replace("\r\n", "\n")));
        match &line {
            None if !reported(&problems, "note") => problems.push((
                "note".to_owned(),
                "required: the text to add to the work order's note".to_owned(),
            )),
            Some(line) if line.len() > MAX_NOTE_BYTES => problems.push((
                "note".to_owned(),
                format!(
                    "{} bytes with its marker, over the limit of {MAX_NOTE_BYTES} bytes of a note",
                    line.len()
                ),
            )),
            _ => {}
        }
        let id_work_order = text("id_work_order");
        if let Some(id) = id_work_order.as_deref().filter(|id| !is_id(id)) {
            problems.push((
                "id_work_order".to_owned(),
                format!("`{id}` is not a work-order id (digits, letters, `-` and `_`)"),
            ));
        }
        let lookup = match (text("id_work_orders_tasks"), text("wo_folio")) {
            (Some(task), _) => Some((BY_TASK, task)),
            (None, Some(folio)) => Some((BY_FOLIO, folio)),
            (None, None) => {
                if !reported(&problems, "id_work_orders_tasks") && !reported(&problems, "wo_folio")
                {
                    problems.push((
                        "id_work_orders_tasks".to_owned(),
                        if id_work_order.is_some() {
                            "required with `id_work_order` (or `wo_folio`): the current note is \
                             read first, and Fracttal's query of work orders has no filter by \
                             `id_work_order`"
                        } else {
                            "required (or `wo_folio`): which work order's note to add to"
                        }
                        .to_owned(),
                    ));
                }
                None
            }
        };
        refuse(problems)?;
        let (Some(((param, field), value)), Some(line)) = (lookup, line) else {
            // `refuse` has reported the missing fields.
            return Err(TargetError::InvalidPayload(
                "a work order and a note are required".to_owned(),
            ));
        };
        let update_url = self
            .client
            .url(&self.path)
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))?;
        let mut url = update_url.clone();
        url.query_pairs_mut().append_pair(param, &value);
        Ok(WorkOrderNote {
            lookup: HttpRequest::new(Method::Get, url),
            lookup_field: field,
            lookup_value: value,
            id_work_order,
            update_url,
            line,
            marker,
            account_code: text("account_code"),
        })
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        note: &WorkOrderNote,
    ) -> Result<Receipt, DeliveryError> {
        let read = self
            .client
            .send(ctx, &note.lookup)
            .await
            .map_err(read_failure)?;
        let (id, current) = note.current(&read)?;
        let details = |already_present: bool| json!({"id_work_order": id, "already_present": already_present, "marker": note.marker});
        let Some(request) = note
            .update(&id, &current)
            .map_err(|e| not_written(read.status, e))?
        else {
            return Ok(Receipt::new(read.status)
                .with_id(id.clone())
                .with_details(details(true)));
        };
        let written = self.client.send(ctx, &request).await?;
        Ok(Receipt::new(written.status)
            .with_id(id.clone())
            .with_details(details(false)))
    }

    fn fakes(&self) -> Vec<std::sync::Arc<dyn crate::http::ProviderFake>> {
        vec![std::sync::Arc::new(super::fake::FracttalFake::for_client(
            &self.client,
        ))]
    }
}

impl fmt::Debug for WorkOrderNoteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkOrderNoteTarget")
            .field("client", &self.client)
            .field("path", &self.path)
            .finish()
    }
}

/// The target's spec config.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct WorkOrderNoteConfig {
    pub connection: String,
    #[serde(default)]
    pub path: Option<String>,
}

impl WorkOrderNoteConfig {
    pub(crate) fn apply(
        self,
        client: FracttalClient,
    ) -> Result<WorkOrderNoteTarget, crate::SpecErrors> {
        let mut target = WorkOrderNoteTarget::new(client);
        if let Some(path) = self.path {
            if let Err(e) = target.client.url(&path) {
                return Err(crate::SpecError::new("/path", e.to_string()).into());
            }
            target = target.path(path);
        }
        Ok(target)
    }
}

#[cfg(test)]
mod tests;
