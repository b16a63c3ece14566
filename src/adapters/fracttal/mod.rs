//! Fracttal One: OAuth client, work-order, status-change, meter-reading and work-request
//! sources, the Automator event webhook, the work-request target.
//!
//! | kind | what | built by |
//! |---|---|---|
//! | `fracttal.work_orders` | [`Source`](crate::Source): polls "Query tasks in WOs", one record per task row, with a cursor | flow specs (`"source"`), or [`WorkOrdersSource`] |
//! | `fracttal.work_order_assignments` | [`Source`](crate::Source): one record per task whose responsible was set or changed since the last poll | flow specs, or [`WorkOrderAssignmentSource`] |
//! | `fracttal.work_order_status` | [`Source`](crate::Source): one record per task whose work-order status changed since the last poll | flow specs, or [`WorkOrderStatusSource`] |
//! | `fracttal.meter_alerts` | [`Source`](crate::Source): meters whose last reading (`last_data`) is out of range, or without a reading for N hours | flow specs, or [`MeterAlertsSource`] |
//! | `fracttal.meter_readings` | [`Source`](crate::Source): new meter readings judged against their meter's `min_value` / `max_value` | flow specs, or [`MeterReadingsSource`] |
//! | `fracttal.work_requests` | [`Source`](crate::Source): new work requests | flow specs, or [`WorkRequestsSource`] |
//! | `fracttal.event` | [`WebhookSource`](crate::WebhookSource): Automator events forwarded as JSON rows, as work-order, status-change or assignment records ([`EventRecords`]) | the host, with [`EventSource::new`] or [`EventSource::from_spec`] (webhook sources are not part of flow specs: the host routes its HTTP endpoint to them) |
//! | `fracttal.work_request` | [`Target`](crate::Target): opens a work request | flow specs (`"target"`), or [`WorkRequestTarget`] |
//! | `fracttal.work_order_note` | [`Target`](crate::Target): appends a line to a work order's note (read, then `PUT work_orders/<id>`), once per record ([`note_marker`]) | flow specs (`"target"`), or [`WorkOrderNoteTarget`] |
//!
//! `fracttal.work_orders` and `fracttal.event` (by default) produce records of kind
//! `fracttal.work_order` with the key
//! `fracttal:wo:<id_work_orders_tasks>:<id_status_work_order>` (a status change is a new
//! record), `occurred_at` from the row's date, and the row's fields as they came, plus the
//! Fracttal Hub names of some fields when absent ([`ALIASES`]):
//!
//! | Hub field | filled from |
//! |---|---|
//! | `task_todo_description` | `description` |
//! | `item_description` | `items_log_description`, else `items_description` |
//! | `responsible` | `personnel_description`, else `user_assigned` |
//!
//! # Notifications
//!
//! The four kinds of notification of the Fracttal Hub WhatsApp article, and their sources:
//!
//! | notification | source | record kind | key |
//! |---|---|---|---|
//! | assignment of new tasks | `fracttal.work_order_assignments` (or `fracttal.event` with `"records": "assignment"`) | `fracttal.work_order_assignment` | `fracttal:wo:<task>:assigned:<responsible>` |
//! | status change or completion of work orders | `fracttal.work_order_status` (or `fracttal.event` with `"records": "status_change"`) | `fracttal.work_order_status` | `fracttal:wo-status:<task>:<status>` |
//!
//! A task that comes back to a responsible or a status it had before gets `:<n>` after
//! the key, the n-th time (see [`assignment_key`], [`status_change_key`]); an Automator
//! event and the poll of the same change give the same key, so a flow may take both (the
//! event for speed, the poll as the safety net) and sends each change once.
//!
//! **Assignments** carry the task row (with the aliases) and `responsible`,
//! `responsible_from` (`null` when the task had nobody or was not known), `reassigned`,
//! `first_sighting` and `occurrence`. See [`WorkOrderAssignmentSource`] for how late an
//! assignment can be seen.
//! | critical alerts: readings outside the range | `fracttal.meter_readings` | `fracttal.meter_reading` | `fracttal:reading:<serial>:<date>` |
//! | specific requests and inquiries | `fracttal.work_requests` | `fracttal.work_request` | `fracttal:wr:<id_code>` |
//!
//! **Status changes** carry the task row (with the aliases) and:
//!
//! | field | value |
//! |---|---|
//! | `status_from`, `status_to` | status ids: 1 in process, 2 in review, 3 completed, 4 cancelled (`status_from` `null` when unknown) |
//! | `status_from_name`, `status_to_name` | `in_process`, `in_review`, `completed`, `cancelled` |
//! | `status_from_label`, `status_to_label` | `{"en": …, "es": …, "pt": …, "fr": …, "it": …}` for templates |
//! | `first_sighting` | `true` when the previous status is unknown |
//! | `occurrence` | how many times the task has come to this status, 1 the first time |
//!
//! The previous status of each task is kept in the source's cursor, bounded by a window of
//! work orders (30 days by default) and by [`MAX_TRACKED_TASKS`]; a task seen for the first
//! time is not a change unless `first_sightings` is on. See [`WorkOrderStatusSource`].
//!
//! **Meter readings** carry the reading's fields and: `serial`, `value`, `min`, `max`
//! (`null`: no limit), `out_of_range` (`below`, `above`, `none`; a value exactly at a limit
//! is inside, a meter without limits is never out of range), `out_of_range_label`,
//! `limit`, `units`, `value_text` and `limit_text` (with the units), `meter_description`, `asset_code`, `item_description`, `meter`. See
//! [`reading_record`].
//!
//! **Work requests** carry the request's fields and `requester`, `item_description`,
//! `urgent` (a boolean). See [`work_request_record`].
//!
//! # Connection
//!
//! Flow specs name a connection declared once (see [`Connections`](crate::spec::Connections)):
//!
//! ```json
//! {"fracttal": {
//!     "client_id": {"secret": "FRACTTAL_KEY"},
//!     "client_secret": {"secret": "FRACTTAL_SECRET"},
//!     "base_url": "https://app.fracttal.com/api/",
//!     "token_url": "https://one.fracttal.com/oauth/token",
//!     "requests_per_minute": 200,
//!     "timeout_ms": 20000
//! }}
//! ```
//!
//! | field | required | meaning |
//! |---|---|---|
//! | `client_id` (or `key`) | yes | the OAuth client's Key: `{"secret": "NAME"}` or plain text |
//! | `client_secret` | yes | the OAuth client's Secret: `{"secret": "NAME"}` only |
//! | `base_url` | no | API base, default [`DEFAULT_BASE_URL`] |
//! | `token_url` | no | OAuth token URL, default [`DEFAULT_TOKEN_URL`] |
//! | `requests_per_minute` | no | the company's budget, default 200; `0` turns the limiter off |
//! | `timeout_ms` | no | per-request timeout, default the HTTP client's |
//!
//! The OAuth client is made in Fracttal under Settings → API Connections → OAuth Clients,
//! of type *Client Credentials*, with a permission group that may at least "See" every
//! module the flow reads.
//!
//! Flows built from the same [`Registry`](crate::spec::Registry) and the same connection
//! settings share one [`FracttalClient`], hence one token and one rate limiter: the limit is
//! per company, and one token per company is what Fracttal expects. The registry holds only
//! weak references, so a client lives as long as the flows using it. Flows built from
//! different registries (or with different settings, e.g. after a secret rotation) get
//! their own client.
//!
//! # Sources and targets in specs
//!
//! ```json
//! "source": {"fracttal.work_orders": {
//!     "connection": "fracttal",
//!     "status": 1, "code_asset": "PUMP-3", "code_location": "PLANT-1", "folio": "881",
//!     "since": "2026-03-01T00:00:00-03", "until": "2026-12-31T00:00:00Z",
//!     "type_date": "creation_date", "limit": 100, "max_pages": 50,
//!     "lookback_secs": 60, "rate_limit_retries": 1, "path": "work_orders/"
//! }},
//! "source": {"fracttal.work_order_assignments": {
//!     "connection": "fracttal",
//!     "code_asset": "PUMP-3", "code_location": "PLANT-1", "folio": "881",
//!     "since": "2026-03-01T00:00:00Z", "type_date": "creation_date", "track_days": 30,
//!     "first_sightings": true, "limit": 100, "max_pages": 50,
//!     "rate_limit_retries": 1, "path": "work_orders/"
//! }},
//! "source": {"fracttal.work_order_status": {
//!     "connection": "fracttal",
//!     "code_asset": "PUMP-3", "code_location": "PLANT-1", "folio": "881",
//!     "since": "2026-03-01T00:00:00Z", "type_date": "creation_date", "track_days": 30,
//!     "first_sightings": false, "limit": 100, "max_pages": 50,
//!     "rate_limit_retries": 1, "path": "work_orders/"
//! }},
//! "source": {"fracttal.meter_alerts": {
//!     "connection": "fracttal",
//!     "out_of_range": true, "stale_after_hours": 24,
//!     "limit": 100, "max_meter_pages": 50, "rate_limit_retries": 1, "path": "meters_list"
//! }},
//! "source": {"fracttal.meter_readings": {
//!     "connection": "fracttal",
//!     "source": "API", "since": "2026-03-01T00:00:00Z", "until": "2026-12-31T00:00:00Z",
//!     "lookback_secs": 600, "limit": 100, "max_pages": 50, "max_meter_pages": 50,
//!     "rate_limit_retries": 1, "path": "meters_reading_list", "meters_path": "meters_list"
//! }},
//! "source": {"fracttal.work_requests": {
//!     "connection": "fracttal",
//!     "status": 1, "identifier": "WA-5511999991234",
//!     "since": "2026-03-01T00:00:00Z", "until": "2026-12-31T00:00:00Z", "type_date": "date",
//!     "lookback_secs": 60, "limit": 100, "max_pages": 50, "rate_limit_retries": 1,
//!     "path": "work_requests"
//! }},
//! "target": {"fracttal.work_request": {
//!     "connection": "fracttal", "path": "work_requests", "extra_fields": ["custom_1"]
//! }}
//! ```
//!
//! Only `connection` is required. The status source takes no `status` filter: it must see
//! every status to notice a change. `type_date` of the work requests is `date`,
//! `date_incident` or `date_solution`; the readings' `source` is `API`, `WORK_ORDER` or
//! `MANUAL`. See [`WorkOrdersSource`] for the cursor, [`WorkOrderStatusSource`],
//! [`MeterReadingsSource`] and [`WorkRequestsSource`] for theirs, and
//! [`WorkRequestTarget`] for the payload.
//!
//! # Retries
//!
//! The client refreshes its token and repeats a request once on a 401 (never on
//! `401 UNAUTHORIZED_ENDPOINT`, a permission problem). It does not retry anything else
//! itself: a target's failures go to the flow's [`RetryPolicy`](crate::RetryPolicy) with
//! their class (406/429 and 5xx retryable, after the reset Fracttal gives; 407 clock skew
//! and other 4xx permanent), and the work-order source waits out a rate limit on the page
//! it was reading before failing the poll. All waits go through the context's clock.

mod assignment;
mod changes;
mod client;
mod error;
mod event;
pub mod fake;
mod meters;
mod readings;
mod requests;
mod rows;
mod scan;
mod status;
mod work_order_note;
mod work_orders;
mod work_request;

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

pub use assignment::{
    assignment_key, assignment_record, responsible_of, WorkOrderAssignmentSource, ASSIGNMENT_KIND,
};
pub use changes::{DEFAULT_TRACK_WINDOW, MAX_TRACKED_TASKS};
pub use client::{
    Envelope, FracttalClient, FracttalClientBuilder, DEFAULT_BASE_URL, DEFAULT_REQUESTS_PER_MINUTE,
    DEFAULT_TOKEN_URL, FALLBACK_TOKEN_LIFETIME, REFRESH_AHEAD,
};
pub use error::{FracttalError, DEFAULT_RATE_LIMIT_WAIT, UNAUTHORIZED_ENDPOINT};
pub use event::{
    parse_assignment_event, parse_automator_event, parse_event, parse_status_event, EventRecords,
    EventSource, DEFAULT_MAX_BODY, DEFAULT_SECRET_HEADER,
};
pub use meters::{
    meter_out_of_range_record, meter_stale_record, MeterAlertsSource, OUT_OF_RANGE_KIND, STALE_KIND,
};
pub use readings::{reading_key, reading_record, MeterReadingsSource, OutOfRange, READING_KIND};
pub use requests::{
    work_request_key, work_request_record, RequestDate, WorkRequestsSource,
    WORK_REQUEST_RECORD_KIND,
};
pub use rows::{
    apply_aliases, format_date, parse_date, work_order_key, work_order_record, TypeDate,
    WorkOrderTask, WorkRequest, ALIASES, LABEL_LANGUAGES, WORK_ORDER_KIND,
};
pub use status::{
    status_change_key, status_change_record, WorkOrderStatus, WorkOrderStatusSource,
    STATUS_CHANGE_KIND,
};
pub use work_order_note::{
    note_marker, WorkOrderNote, WorkOrderNoteError, WorkOrderNoteTarget, MAX_NOTE_BYTES,
};
pub use work_orders::{WorkOrdersSource, MAX_PAGE_SIZE};
pub use work_request::WorkRequestTarget;

/// The source kind `fracttal.work_orders`.
pub const WORK_ORDERS_KIND: &str = work_orders::KIND;
/// The source kind `fracttal.work_order_assignments`.
pub const WORK_ORDER_ASSIGNMENTS_KIND: &str = assignment::KIND;
/// The source kind `fracttal.work_order_status`.
pub const WORK_ORDER_STATUS_KIND: &str = status::KIND;
/// The source kind `fracttal.meter_alerts`.
pub const METER_ALERTS_KIND: &str = meters::KIND;
/// The source kind `fracttal.meter_readings`.
pub const METER_READINGS_KIND: &str = readings::KIND;
/// The source kind `fracttal.work_requests`.
pub const WORK_REQUESTS_KIND: &str = requests::KIND;
/// The webhook source kind `fracttal.event`.
pub const EVENT_KIND: &str = event::KIND;
/// The target kind `fracttal.work_request`.
pub const WORK_REQUEST_KIND: &str = work_request::KIND;
/// The target kind `fracttal.work_order_note`.
pub const WORK_ORDER_NOTE_KIND: &str = work_order_note::KIND;

use crate::spec::{BuildContext, SecretRef, SecretValue};
use crate::{SpecError, SpecErrors};

/// A Fracttal connection as declared in a connections document (see the module docs).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionConfig {
    #[serde(alias = "key")]
    client_id: SecretValue,
    client_secret: SecretRef,
    #[serde(default)]
    base_url: Option<Url>,
    #[serde(default)]
    token_url: Option<Url>,
    #[serde(default)]
    requests_per_minute: Option<f64>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

/// The clients built by one registry, weakly held, to share a token cache per connection.
#[derive(Default)]
struct ClientCache(Mutex<Vec<Weak<client::Inner>>>);

impl ClientCache {
    fn client(&self, cx: &BuildContext<'_>, name: &str) -> Result<FracttalClient, SpecErrors> {
        let config: ConnectionConfig = cx
            .connection(name)
            .map_err(|e| SpecErrors::from(e).prefixed("/connection"))?;
        let at_field = |field: &str, e: SpecError| SpecError {
            path: "/connection".to_owned(),
            message: format!("connection \"{name}\" at /{field}: {}", e.message),
            ..e
        };
        let mut errors = SpecErrors::new();
        let client_id = match cx.resolve(&config.client_id) {
            Ok(value) => Some(SecretString::from(value.expose().to_owned())),
            Err(e) => {
                errors.push(at_field("client_id", e));
                None
            }
        };
        let client_secret = match cx.secret(&config.client_secret) {
            Ok(secret) => Some(secret),
            Err(e) => {
                errors.push(at_field("client_secret", e));
                None
            }
        };
        let rate = config
            .requests_per_minute
            .unwrap_or(DEFAULT_REQUESTS_PER_MINUTE);
        if !rate.is_finite() || rate < 0.0 {
            errors.push(at_field(
                "requests_per_minute",
                SpecError::new("", format!("{rate} is not a request budget"))
                    .with_hint("a number of requests per minute, e.g. 200; 0 turns the limit off"),
            ));
        }
        // The base URL is checked as every client's is (scheme, host, no credentials, query
        // or fragment), at build time so the error points at the field.
        if let Some(Err(e)) = config.base_url.clone().map(crate::auth::BaseUrl::new) {
            errors.push(at_field("base_url", SpecError::new("", e.to_string())));
        }
        if let Some(url) = config
            .token_url
            .as_ref()
            .filter(|u| !matches!(u.scheme(), "http" | "https"))
        {
            errors.push(at_field(
                "token_url",
                SpecError::new("", format!("unsupported scheme `{}`", url.scheme())),
            ));
        }
        let (Some(client_id), Some(client_secret)) = (client_id, client_secret) else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let base_url = config
            .base_url
            .unwrap_or_else(|| client::default_url(DEFAULT_BASE_URL));
        let token_url = config
            .token_url
            .unwrap_or_else(|| client::default_url(DEFAULT_TOKEN_URL));
        let timeout = config.timeout_ms.map(Duration::from_millis);

        // One client per identical configuration; the lock is held for a scan of a short list.
        let mut clients = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        clients.retain(|weak| weak.strong_count() > 0);
        for weak in clients.iter() {
            if let Some(inner) = weak.upgrade() {
                let existing = FracttalClient::from_inner(inner);
                if existing.same_settings(
                    &base_url,
                    &token_url,
                    &client_id,
                    &client_secret,
                    rate,
                    timeout,
                ) {
                    return Ok(existing);
                }
            }
        }
        let mut builder = FracttalClient::builder(client_id, client_secret)
            .base_url(base_url)
            .token_url(token_url)
            .requests_per_minute(rate);
        if let Some(timeout) = timeout {
            builder = builder.timeout(timeout);
        }
        let client = builder.build();
        clients.push(client.downgrade());
        Ok(client)
    }
}

/// A spec config that names a connection and becomes an adapter over that connection's
/// client: one path from JSON to a source or target, for `from_spec` and the registry alike.
trait AdapterConfig: serde::de::DeserializeOwned + ConfigSchema {
    type Built;
    fn connection(&self) -> &str;
    fn apply(self, client: FracttalClient) -> Result<Self::Built, SpecErrors>;
}

/// With feature `schema`, a config also describes itself, so the registry carries its schema.
#[cfg(feature = "schema")]
trait ConfigSchema: schemars::JsonSchema {}
#[cfg(feature = "schema")]
impl<T: schemars::JsonSchema> ConfigSchema for T {}
#[cfg(not(feature = "schema"))]
trait ConfigSchema {}
#[cfg(not(feature = "schema"))]
impl<T> ConfigSchema for T {}

/// Implements [`AdapterConfig`] for each config and gives the adapter it builds its public
/// `from_spec`, with a client of its own.
macro_rules! adapter_configs {
    ($($config:ty => $built:ident, a $what:literal;)*) => {$(
        impl AdapterConfig for $config {
            type Built = $built;
            fn connection(&self) -> &str {
                &self.connection
            }
            fn apply(self, client: FracttalClient) -> Result<$built, SpecErrors> {
                <$config>::apply(self, client)
            }
        }

        impl $built {
            #[doc = concat!(
                " Builds the ", $what,
                " from its spec config (see the module docs), with a client of its"
            )]
            /// own. Flows built through the [`Registry`](crate::spec::Registry) share clients per
            /// connection instead.
            pub fn from_spec(
                cx: &BuildContext<'_>,
                config: &serde_json::Value,
            ) -> Result<Self, SpecErrors> {
                build::<$config>(&ClientCache::default(), cx, config)
            }
        }
    )*};
}

adapter_configs! {
    work_orders::WorkOrdersConfig => WorkOrdersSource, a "source";
    status::StatusConfig => WorkOrderStatusSource, a "source";
    assignment::AssignmentConfig => WorkOrderAssignmentSource, a "source";
    readings::ReadingsConfig => MeterReadingsSource, a "source";
    meters::MeterAlertsConfig => MeterAlertsSource, a "source";
    requests::RequestsConfig => WorkRequestsSource, a "source";
    work_request::WorkRequestConfig => WorkRequestTarget, a "target";
    work_order_note::WorkOrderNoteConfig => WorkOrderNoteTarget, a "target";
}

fn build<C: AdapterConfig>(
    cache: &ClientCache,
    cx: &BuildContext<'_>,
    config: &serde_json::Value,
) -> Result<C::Built, SpecErrors> {
    let config: C = cx.deserialize(config)?;
    let client = cache.client(cx, config.connection())?;
    config.apply(client)
}

/// Registers the sources `fracttal.work_orders`, `fracttal.work_order_assignments`,
/// `fracttal.work_order_status`, `fracttal.meter_readings`, `fracttal.meter_alerts`,
/// `fracttal.work_requests` and the target
/// `fracttal.work_request`. Every factory shares one client cache, so flows on the same
/// connection share a token and a rate limiter.
pub(crate) fn register(registry: &mut crate::spec::Registry) {
    let cache = Arc::new(ClientCache::default());
    register_source::<work_orders::WorkOrdersConfig>(registry, WORK_ORDERS_KIND, &cache);
    register_source::<status::StatusConfig>(registry, WORK_ORDER_STATUS_KIND, &cache);
    register_source::<assignment::AssignmentConfig>(registry, WORK_ORDER_ASSIGNMENTS_KIND, &cache);
    register_source::<readings::ReadingsConfig>(registry, METER_READINGS_KIND, &cache);
    register_source::<meters::MeterAlertsConfig>(registry, METER_ALERTS_KIND, &cache);
    register_source::<requests::RequestsConfig>(registry, WORK_REQUESTS_KIND, &cache);
    let notes = Arc::clone(&cache);
    registry.register_target(WORK_ORDER_NOTE_KIND, move |cx, config| {
        let target = build::<work_order_note::WorkOrderNoteConfig>(&notes, cx, config)?;
        Ok(crate::DynTarget::new(target))
    });
    registry.register_target(WORK_REQUEST_KIND, move |cx, config| {
        let target = build::<work_request::WorkRequestConfig>(&cache, cx, config)?;
        Ok(crate::DynTarget::new(target))
    });
    #[cfg(feature = "schema")]
    {
        use crate::spec::KindRole;
        registry.set_config_schema_of::<work_order_note::WorkOrderNoteConfig>(
            KindRole::Target,
            WORK_ORDER_NOTE_KIND,
        );
        registry.set_config_schema_of::<work_request::WorkRequestConfig>(
            KindRole::Target,
            WORK_REQUEST_KIND,
        );
    }
}

fn register_source<C>(registry: &mut crate::spec::Registry, kind: &str, cache: &Arc<ClientCache>)
where
    C: AdapterConfig,
    C::Built: crate::Source + 'static,
{
    let cache = Arc::clone(cache);
    registry.register_source(kind, move |cx, config| {
        Ok(Arc::new(build::<C>(&cache, cx, config)?) as Arc<dyn crate::Source>)
    });
    #[cfg(feature = "schema")]
    registry.set_config_schema_of::<C>(crate::spec::KindRole::Source, kind);
}

#[cfg(test)]
mod tests;
