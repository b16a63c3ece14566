//! The `fracttal.work_requests` source: work requests new since the cursor.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::rows::{id_text, parse_date, WorkRequest};
use super::scan::{self, paging_setters, spec_config, Windowed};
use super::FracttalClient;
use crate::{Batch, Context, Cursor, Record, Source, SourceError};

/// The kind name of this source in flow specs.
pub const KIND: &str = "fracttal.work_requests";

/// The record kind of a work request.
pub const WORK_REQUEST_RECORD_KIND: &str = "fracttal.work_request";

/// Which date of a work request the window applies to: the API's `type_date`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RequestDate {
    /// `date`: when it was requested (the API's default).
    #[default]
    Date,
    /// `date_incident`: when the incident happened.
    DateIncident,
    /// `date_solution`: when it was solved.
    DateSolution,
}

impl RequestDate {
    /// The API's name, which is also the row field holding the date.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestDate::Date => "date",
            RequestDate::DateIncident => "date_incident",
            RequestDate::DateSolution => "date_solution",
        }
    }
}

/// The key of a work request: `fracttal:wr:<id_code>` (else `id`, else a hash of the row).
///
/// ```
/// use hubflow::fracttal::work_request_key;
/// use serde_json::json;
/// assert_eq!(work_request_key(json!({"id_code": 5012}).as_object().unwrap()), "fracttal:wr:5012");
/// ```
pub fn work_request_key(row: &Map<String, Value>) -> String {
    let id = ["id_code", "id"]
        .iter()
        .find_map(|field| row.get(*field).and_then(id_text))
        .unwrap_or_else(|| {
            format!(
                "#{:016x}",
                crate::record::stable_hash(&[Value::Object(row.clone()).to_string().as_bytes()])
            )
        });
    format!("fracttal:wr:{id}")
}

/// The record of one work request: kind [`WORK_REQUEST_RECORD_KIND`], key per
/// [`work_request_key`], `occurred_at` from `date_field`, the row's fields as received, and
/// when absent from the row:
///
/// | field | filled from |
/// |---|---|
/// | `requester` | `requested_by`, else `email_requested_by` |
/// | `item_description` | `items_description` (the asset or location) |
/// | `urgent` | `is_urgent` read as a boolean (`true`, `1`, `"true"`, `"si"`, …), else `false` |
///
/// ```
/// use hubflow::fracttal::{work_request_record, RequestDate};
/// use serde_json::json;
///
/// let row = json!({"id_code": 5012, "description": "Leak under pump 3", "is_urgent": "1",
///                  "requested_by": "Ana Souza", "items_description": "Pump 3",
///                  "date": "2026-03-02T08:00:00+00:00"});
/// let record = work_request_record(row.as_object().unwrap().clone(), RequestDate::Date);
/// assert_eq!(record.key, "fracttal:wr:5012");
/// assert_eq!((record.data["urgent"].clone(), record.data["requester"].clone()), (json!(true), json!("Ana Souza")));
/// assert_eq!(record.data["item_description"], "Pump 3");
/// ```
pub fn work_request_record(mut row: Map<String, Value>, date_field: RequestDate) -> Record {
    let key = work_request_key(&row);
    let at = request_date(&row, date_field);
    let typed = WorkRequest::deserialize(Value::Object(row.clone())).unwrap_or_default();
    let fill = |row: &mut Map<String, Value>, field: &str, value: Option<Value>| {
        if let (false, Some(value)) = (row.contains_key(field), value) {
            row.insert(field.to_owned(), value);
        }
    };
    let requester = typed
        .requested_by
        .clone()
        .filter(|s| !s.trim().is_empty())
        .or(typed.email_requested_by.clone());
    fill(&mut row, "requester", requester.map(Value::String));
    fill(
        &mut row,
        "item_description",
        typed.items_description.clone().map(Value::String),
    );
    fill(
        &mut row,
        "urgent",
        Some(Value::Bool(typed.is_urgent.unwrap_or(false))),
    );
    let record = Record::new(key, WORK_REQUEST_RECORD_KIND, Value::Object(row));
    match at {
        Some(at) => record.occurred_at(at),
        None => record,
    }
}

fn request_date(row: &Map<String, Value>, field: RequestDate) -> Option<DateTime<Utc>> {
    row.get(field.as_str())
        .and_then(Value::as_str)
        .and_then(parse_date)
}

/// Polls the work requests (`GET work_requests`) for requests new since the cursor: the
/// "specific requests and inquiries" notifications. One record per request (see
/// [`work_request_record`]), keyed by its id, so a request alerts once.
///
/// The cursor is the work-order source's date watermark on the [`RequestDate`] field with
/// the keys seen within one lookback of it (default 60 s), and the offset to resume at
/// when [`max_pages`](Self::max_pages) cuts a scan short; see
/// [`WorkOrdersSource`](super::WorkOrdersSource). Without a cursor the first poll starts at
/// [`since`](Self::since), or one lookback before now.
///
/// ```
/// use hubflow::fracttal::{FracttalClient, RequestDate, WorkRequestsSource};
///
/// let source = WorkRequestsSource::new(FracttalClient::new("key".into(), "secret".into()))
///     .status(1)
///     .type_date(RequestDate::Date);
/// assert_eq!(source.limit(), 100);
/// ```
#[derive(Debug, Clone)]
pub struct WorkRequestsSource {
    window: Windowed,
    type_date: RequestDate,
}

impl WorkRequestsSource {
    /// A source over `client`: path `work_requests`, window on `date`, lookback 60 s, 100
    /// rows per page, at most 50 pages per poll, one wait per rate-limited page.
    pub fn new(client: FracttalClient) -> Self {
        WorkRequestsSource {
            window: Windowed::new(client, "work_requests", Duration::from_secs(60)),
            type_date: RequestDate::Date,
        }
    }

    paging_setters!(window);

    fn filter(mut self, name: &'static str, value: String) -> Self {
        self.window.filter(name, value);
        self
    }

    /// Only requests in this status (`id_status`, 1 to 13).
    #[must_use]
    pub fn status(self, status: u8) -> Self {
        self.filter("id_status", status.to_string())
    }

    /// Only requests with this external identifier (`identifier`).
    #[must_use]
    pub fn identifier(self, identifier: impl Into<String>) -> Self {
        self.filter("identifier", identifier.into())
    }

    /// Which date the window and the watermark use (`type_date`; default `date`).
    #[must_use]
    pub fn type_date(mut self, type_date: RequestDate) -> Self {
        self.type_date = type_date;
        self
    }

    /// The endpoint path below the base URL (default `work_requests`).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.window.path = path.into();
        self
    }
}

/// What the work-request rows are: dated by the source's [`RequestDate`].
const ROWS: scan::Rows<RequestDate> = scan::Rows {
    kind: KIND,
    what: "work-request row",
    type_date: |type_date| Some(type_date.as_str()),
    date_of: request_date,
    key_of: work_request_key,
};

#[async_trait]
impl Source for WorkRequestsSource {
    async fn poll(&self, ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let (rows, date) = (&ROWS, self.type_date);
        self.window
            .poll(ctx, cursor, rows, date, work_request_record)
            .await
    }
}

spec_config! {
    /// The source's spec config (see the module docs).
    RequestsConfig {
        status: u8,
        identifier: String,
        since,
        until,
        type_date: RequestDate,
        lookback_secs,
        limit,
        max_pages,
        rate_limit_retries,
        path,
    }
}

impl RequestsConfig {
    pub(crate) fn apply(
        self,
        client: FracttalClient,
    ) -> Result<WorkRequestsSource, crate::SpecErrors> {
        let mut errors = crate::SpecErrors::new();
        let mut source = WorkRequestsSource::new(client);
        if let Some(status) = self.status {
            if !(1..=13).contains(&status) {
                errors.push(
                    crate::SpecError::new("/status", format!("unknown status {status}"))
                        .with_hint("work-request statuses are 1 to 13"),
                );
            }
            source = source.status(status);
        }
        if let Some(identifier) = self.identifier {
            source = source.identifier(identifier);
        }
        if let Some(type_date) = self.type_date {
            source = source.type_date(type_date);
        }
        let window = &mut source.window;
        window.spec_dates(&mut errors, self.since.as_deref(), self.until.as_deref());
        window.spec_paging(
            &mut errors,
            self.limit,
            self.max_pages,
            self.lookback_secs,
            self.rate_limit_retries,
        );
        window.spec_path(&mut errors, self.path);
        errors.into_result(source)
    }
}

#[cfg(test)]
mod tests;
