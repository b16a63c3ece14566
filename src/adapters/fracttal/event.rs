//! `fracttal.event`: Automator events forwarded as JSON by a Fracttal Hub "HTTP request"
//! target (or any relay) to the host's server.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::assignment::assignment_record;
use super::rows::{apply_aliases, work_order_record, TypeDate};
use super::status::status_change_record;
use crate::http::Method;
use crate::spec::{BuildContext, SecretRef};
use crate::{
    CredentialCheck, InboundRequest, Record, SpecError, SpecErrors, WebhookReply, WebhookSource,
};

/// The kind name of this webhook source (hosts build it directly; see the module docs).
pub const KIND: &str = "fracttal.event";

/// The header the shared secret is expected in, unless configured otherwise.
pub const DEFAULT_SECRET_HEADER: &str = "X-Hubflow-Secret";

/// The largest body accepted by default: 1 MiB.
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// Receives work-order rows that a Fracttal Automator rule forwards (through a Hub flow's
/// HTTP request, or any relay) as JSON: one row object, an array of rows, or an envelope
/// `{"success": …, "data": [rows]}`. Each row becomes a record exactly as the
/// [work-order source](super::WorkOrdersSource) makes it (same key, kind and aliases), so
/// one flow can take both and the store's claims drop the repeats.
///
/// Fracttal documents no event payload, so the rows are taken as they come; fields are
/// optional and unknown fields are kept.
///
/// | answer | when |
/// |---|---|
/// | 200 + records | accepted (an empty array gives no records) |
/// | 401 | a configured shared-secret header or `?token=` is missing or wrong |
/// | 405 | not a `POST` |
/// | 413 | the body is over the size limit (1 MiB by default) |
/// | 400 | the body is not JSON, or not a row object / an array of row objects |
///
/// Secrets are compared in constant time. With neither a header secret nor a URL token
/// configured, every caller is accepted: configure one in production.
///
/// ```
/// use hubflow::fracttal::EventSource;
/// use hubflow::{InboundRequest, WebhookSource};
/// use hubflow::http::Method;
///
/// let source = EventSource::new().url_token("s3cr3t".into());
/// let body = r#"{"id_work_orders_tasks": 77, "id_status_work_order": 1, "description": "Replace filter"}"#;
/// let reply = source.handle(&InboundRequest::new(Method::Post, "/hooks/fracttal?token=s3cr3t", body));
/// assert_eq!(reply.status, 200);
/// assert_eq!(reply.records[0].key, "fracttal:wo:77:1");
/// assert_eq!(reply.records[0].data["task_todo_description"], "Replace filter");
/// let reply = source.handle(&InboundRequest::new(Method::Post, "/hooks/fracttal?token=nope", body));
/// assert_eq!(reply.status, 401);
/// ```
#[derive(Clone)]
pub struct EventSource {
    header_secret: Option<(String, SecretString)>,
    url_token: Option<SecretString>,
    max_body: usize,
    type_date: TypeDate,
    records: EventRecords,
}

/// What an [`EventSource`] makes of each forwarded row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventRecords {
    /// Work-order records, as the work-order source makes them ([`parse_event`]).
    #[default]
    WorkOrder,
    /// Status-change records, as the status source makes them ([`parse_status_event`]):
    /// for rules on *WO in process*, *in review*, *completed* or *cancelled*.
    StatusChange,
    /// Assignment records, as the assignment source makes them
    /// ([`parse_assignment_event`]): for the rule on *WO assigned* (Automator Basic's
    /// "WO assigned → responsible", or a Pro rule on the responsible).
    Assignment,
    /// *Stock*: "the existence of an item is under its minimum" (Warehouses → Stock), which
    /// the API cannot observe. Records of kind `fracttal.stock_below_minimum`
    /// ([`parse_automator_event`]).
    StockBelowMinimum,
    /// *Expiry of a document* (Settings → Document Management), which the API cannot
    /// observe. Records of kind `fracttal.document_expiry`.
    DocumentExpiry,
    /// *Tasks expired in WO's* (Work Orders). Records of kind `fracttal.task_expired`.
    TaskExpired,
    /// *Pending tasks or with delay* (Pending Tasks). Records of kind
    /// `fracttal.task_pending`.
    TaskPending,
}

impl EventRecords {
    /// The record kind of the events that carry no work-order semantics hubflow knows
    /// (`None` for work orders, status changes and assignments, which have their own).
    pub fn automator_kind(self) -> Option<&'static str> {
        match self {
            EventRecords::StockBelowMinimum => Some("fracttal.stock_below_minimum"),
            EventRecords::DocumentExpiry => Some("fracttal.document_expiry"),
            EventRecords::TaskExpired => Some("fracttal.task_expired"),
            EventRecords::TaskPending => Some("fracttal.task_pending"),
            EventRecords::WorkOrder | EventRecords::StatusChange | EventRecords::Assignment => None,
        }
    }
}

impl Default for EventSource {
    fn default() -> Self {
        EventSource::new()
    }
}

impl EventSource {
    /// A source without secrets, 1 MiB limit, `occurred_at` from `creation_date`.
    pub fn new() -> Self {
        EventSource {
            header_secret: None,
            url_token: None,
            max_body: DEFAULT_MAX_BODY,
            type_date: TypeDate::CreationDate,
            records: EventRecords::WorkOrder,
        }
    }

    /// Requires header `name` to carry `secret`.
    #[must_use]
    pub fn header_secret(mut self, name: impl Into<String>, secret: SecretString) -> Self {
        self.header_secret = Some((name.into(), secret));
        self
    }

    /// Requires the query parameter `token` to equal `token` (for relays that cannot set
    /// headers; the URL then is the credential, so keep it out of logs).
    #[must_use]
    pub fn url_token(mut self, token: SecretString) -> Self {
        self.url_token = Some(token);
        self
    }

    /// The largest body accepted, in bytes.
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Which row date is the records' `occurred_at`.
    #[must_use]
    pub fn type_date(mut self, type_date: TypeDate) -> Self {
        self.type_date = type_date;
        self
    }

    /// What each row becomes (default work-order records).
    #[must_use]
    pub fn records(mut self, records: EventRecords) -> Self {
        self.records = records;
        self
    }

    /// Builds the source from a config in the spec style:
    ///
    /// ```json
    /// {"header": "X-Hubflow-Secret", "header_secret": {"secret": "FRACTTAL_HOOK_SECRET"},
    ///  "url_token": {"secret": "FRACTTAL_HOOK_TOKEN"}, "max_body_bytes": 1048576,
    ///  "type_date": "creation_date", "records": "work_order"}
    /// ```
    ///
    /// `records` is `work_order` (default), `status_change`, `assignment`,
    /// `stock_below_minimum`, `document_expiry`, `task_expired` or `task_pending`
    /// ([`EventRecords`]). Every
    /// field is optional; `header` defaults to [`DEFAULT_SECRET_HEADER`].
    pub fn from_spec(cx: &BuildContext<'_>, config: &Value) -> Result<Self, SpecErrors> {
        let config: EventConfig = cx.deserialize(config)?;
        let mut errors = SpecErrors::new();
        let mut source = EventSource::new();
        if let Some(reference) = &config.header_secret {
            match cx.secret(reference) {
                Ok(secret) => {
                    let name = config
                        .header
                        .clone()
                        .unwrap_or_else(|| DEFAULT_SECRET_HEADER.to_owned());
                    source = source.header_secret(name, secret);
                }
                Err(e) => errors.push(SpecError {
                    path: "/header_secret".to_owned(),
                    ..e
                }),
            }
        } else if config.header.is_some() {
            errors.push(
                SpecError::new("/header", "a header name without a secret")
                    .with_hint("add \"header_secret\": {\"secret\": \"NAME\"}"),
            );
        }
        if let Some(reference) = &config.url_token {
            match cx.secret(reference) {
                Ok(token) => source = source.url_token(token),
                Err(e) => errors.push(SpecError {
                    path: "/url_token".to_owned(),
                    ..e
                }),
            }
        }
        if let Some(bytes) = config.max_body_bytes {
            if bytes == 0 {
                errors.push(SpecError::new("/max_body_bytes", "must be above 0"));
            }
            source = source.max_body(bytes);
        }
        if let Some(type_date) = config.type_date {
            source = source.type_date(type_date);
        }
        if let Some(records) = config.records {
            source = source.records(records);
        }
        errors.into_result(source)
    }

    fn authorized(&self, request: &InboundRequest) -> bool {
        // A configured but empty secret would match a missing header or token: it accepts
        // nothing instead.
        if let Some((name, secret)) = &self.header_secret {
            let given = request.headers.get(name).unwrap_or("");
            let expected = secret.expose_secret().as_bytes();
            if expected.is_empty() || !constant_time_eq(given.trim().as_bytes(), expected) {
                return false;
            }
        }
        if let Some(token) = &self.url_token {
            let given = request.query("token").unwrap_or_default();
            let expected = token.expose_secret().as_bytes();
            if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected) {
                return false;
            }
        }
        true
    }
}

/// Parses a body into work-order records, or says why it is not one. Never panics.
///
/// ```
/// use hubflow::fracttal::{parse_event, TypeDate};
/// let records = parse_event(br#"[{"id_work_orders_tasks": 1, "id_status_work_order": 2}]"#, TypeDate::CreationDate).unwrap();
/// assert_eq!(records[0].key, "fracttal:wo:1:2");
/// assert!(parse_event(b"[1, 2]", TypeDate::CreationDate).unwrap_err().contains("[0]"));
/// ```
pub fn parse_event(body: &[u8], type_date: TypeDate) -> Result<Vec<Record>, String> {
    records_of(body, "a work-order row object", |map| {
        Ok(work_order_record(map, type_date))
    })
}

/// The records of a body's rows (see [`event_rows`]), each built by `build`; the first
/// row that is not an object (`what` says what it should be) or that `build` refuses
/// (with its reason) is the error, with its index.
fn records_of(
    body: &[u8],
    what: &str,
    build: impl Fn(Map<String, Value>) -> Result<Record, String>,
) -> Result<Vec<Record>, String> {
    event_rows(body)?
        .into_iter()
        .enumerate()
        .map(|(index, row)| match row {
            Value::Object(map) => build(map).map_err(|why| format!("[{index}] {why}")),
            _ => Err(format!("[{index}] is not {what}")),
        })
        .collect()
}

/// Parses a body forwarded by an Automator rule on *WO in process*, *WO in review*, *WO
/// completed* or *WO cancelled* into status-change records of the same shape as the
/// [status source](super::WorkOrderStatusSource)'s (see
/// [`status_change_record`](super::status_change_record)). An event does not say which
/// status the work order had before, so `status_from` is `null`; the key,
/// `fracttal:wo-status:<task>:<status>`, is the one the status source gives the first time
/// the task comes to that status, so a flow taking both sends the change once. Every row
/// needs `id_work_orders_tasks` and `id_status_work_order`. Never panics.
///
/// ```
/// use hubflow::fracttal::parse_status_event;
/// let records = parse_status_event(br#"{"id_work_orders_tasks": 77, "id_status_work_order": 3}"#).unwrap();
/// assert_eq!(records[0].key, "fracttal:wo-status:77:3");
/// assert_eq!(records[0].data["status_to_name"], "completed");
/// assert!(parse_status_event(br#"[{"id_work_orders_tasks": 77}]"#).unwrap_err().contains("[0]"));
/// ```
pub fn parse_status_event(body: &[u8]) -> Result<Vec<Record>, String> {
    records_of(body, "a work-order row object", |map| {
        status_change_record(map, None, 1).ok_or_else(|| {
            "has no id_work_orders_tasks or no id_status_work_order: a status change needs both"
                .to_owned()
        })
    })
}

/// Parses a body forwarded by an Automator rule on a work order's assignment into
/// assignment records of the same shape as the
/// [assignment source](super::WorkOrderAssignmentSource)'s (see
/// [`assignment_record`](super::assignment_record)). An event does not say who was
/// responsible before, so `responsible_from` is `null` and `first_sighting` `true`; the key,
/// `fracttal:wo:<task>:assigned:<responsible>`, is the one the assignment source gives the
/// first time the task is assigned to that person, so a flow taking both sends the
/// assignment once. Every row needs `id_work_orders_tasks` and a responsible
/// (`personnel_description` or `user_assigned`). Never panics.
///
/// ```
/// use hubflow::fracttal::parse_assignment_event;
/// let body = br#"{"id_work_orders_tasks": 77, "personnel_description": "Jonas Campos"}"#;
/// let records = parse_assignment_event(body).unwrap();
/// assert_eq!(records[0].key, "fracttal:wo:77:assigned:Jonas Campos");
/// assert!(parse_assignment_event(br#"[{"id_work_orders_tasks": 77}]"#).unwrap_err().contains("[0]"));
/// ```
pub fn parse_assignment_event(body: &[u8]) -> Result<Vec<Record>, String> {
    records_of(body, "a work-order row object", |map| {
        assignment_record(map, None, 1).ok_or_else(|| {
            "has no id_work_orders_tasks or nobody responsible (personnel_description, \
             user_assigned): an assignment needs both"
                .to_owned()
        })
    })
}

/// Parses a body forwarded by an Automator rule whose event hubflow takes as it comes
/// (stock under its minimum, a document's expiry, expired or pending tasks: Fracttal
/// documents no payload for any of them) into records of `kind`
/// ([`EventRecords::automator_kind`]): the row's fields as received, with the Hub
/// [aliases](super::ALIASES), key `<kind>:#<hash of the row>`, so the same row forwarded
/// twice is one record, and any change in it a new one. Never panics.
///
/// ```
/// use hubflow::fracttal::parse_automator_event;
/// let body = br#"{"code": "FLT-20", "description": "Filter cartridge", "stock": 2, "min_stock": 5}"#;
/// let records = parse_automator_event(body, "fracttal.stock_below_minimum").unwrap();
/// assert_eq!(records[0].kind, "fracttal.stock_below_minimum");
/// assert!(records[0].key.starts_with("fracttal.stock_below_minimum:#"));
/// assert_eq!(records[0], parse_automator_event(body, "fracttal.stock_below_minimum").unwrap()[0]);
/// assert!(parse_automator_event(b"[1]", "fracttal.document_expiry").unwrap_err().contains("[0]"));
/// ```
pub fn parse_automator_event(body: &[u8], kind: &str) -> Result<Vec<Record>, String> {
    records_of(body, "a row object", |mut map| {
        // A map of JSON values always serializes; the text is the row as received.
        let text = serde_json::to_string(&map).unwrap_or_default();
        let hash = crate::record::stable_hash(&[kind.as_bytes(), text.as_bytes()]);
        apply_aliases(&mut map);
        Ok(Record::new(
            format!("{kind}:#{hash:016x}"),
            kind,
            Value::Object(map),
        ))
    })
}

/// The rows of a body: one row object, an array of rows, or an API envelope.
fn event_rows(body: &[u8]) -> Result<Vec<Value>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        format!(
            "not JSON (line {}, column {}): expected a work-order row or an array of rows",
            e.line(),
            e.column()
        )
    })?;
    match value {
        Value::Object(mut map) if is_envelope(&map) => match map.remove("data") {
            Some(Value::Array(rows)) => Ok(rows),
            Some(row @ Value::Object(_)) => Ok(vec![row]),
            Some(Value::Null) | None => Ok(Vec::new()),
            Some(_) => Err("`data` is not a row or an array of rows".to_owned()),
        },
        row @ Value::Object(_) => Ok(vec![row]),
        Value::Array(rows) => Ok(rows),
        _ => Err("expected a work-order row object or an array of rows".to_owned()),
    }
}

/// An API envelope relayed as it is: `data` plus `success` or `total`.
fn is_envelope(map: &serde_json::Map<String, Value>) -> bool {
    map.contains_key("data") && (map.contains_key("success") || map.contains_key("total"))
}

impl WebhookSource for EventSource {
    fn handle(&self, request: &InboundRequest) -> WebhookReply {
        let reply = self.answer(request);
        crate::trace::webhook("fracttal", &reply);
        reply
    }
}

impl EventSource {
    /// The answer to one request, before it is traced.
    fn answer(&self, request: &InboundRequest) -> WebhookReply {
        if request.method != Method::Post {
            return WebhookReply::status(405, "use POST");
        }
        if !self.authorized(request) {
            return WebhookReply::status(401, "missing or wrong secret")
                .credential(CredentialCheck::Refused);
        }
        // Without a configured secret or token, nothing was checked.
        let check = match self.header_secret.is_some() || self.url_token.is_some() {
            true => CredentialCheck::Valid,
            false => CredentialCheck::NotChecked,
        };
        if request.body.len() > self.max_body {
            return WebhookReply::status(
                413,
                format!("body over the limit of {} bytes", self.max_body),
            )
            .credential(check);
        }
        let parsed = match (self.records, self.records.automator_kind()) {
            (_, Some(kind)) => parse_automator_event(&request.body, kind),
            (EventRecords::StatusChange, None) => parse_status_event(&request.body),
            (EventRecords::Assignment, None) => parse_assignment_event(&request.body),
            (_, None) => parse_event(&request.body, self.type_date),
        };
        match parsed {
            Ok(records) => WebhookReply::accepted(records),
            Err(message) => WebhookReply::status(400, message),
        }
        .credential(check)
    }
}

impl std::fmt::Debug for EventSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSource")
            .field(
                "header_secret",
                &self.header_secret.as_ref().map(|(name, _)| name),
            )
            .field("url_token", &self.url_token.is_some())
            .field("max_body", &self.max_body)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventConfig {
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    header_secret: Option<SecretRef>,
    #[serde(default)]
    url_token: Option<SecretRef>,
    #[serde(default)]
    max_body_bytes: Option<usize>,
    #[serde(default)]
    type_date: Option<TypeDate>,
    #[serde(default)]
    records: Option<EventRecords>,
}

use crate::spec::constant_time_eq;

#[cfg(test)]
mod tests;
