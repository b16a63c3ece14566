//! The `fracttal.work_order_status` source: a record per task whose work-order status
//! changed since the last poll, with the previous and the new status.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::changes::DEFAULT_TRACK_WINDOW;
use super::changes::{
    self, occurrence_suffix, tracking_setters, Change, ChangesConfig, Tracking, Watch,
};
use super::rows::{apply_aliases, id_text, parse_date, TypeDate};
use super::scan::{paging_setters, Windowed};
use super::work_orders::work_order_filters;
use super::FracttalClient;
use crate::{Batch, Context, Cursor, Record, Source, SourceError};

/// The kind name of this source in flow specs.
pub const KIND: &str = "fracttal.work_order_status";

/// The record kind of a status change.
pub const STATUS_CHANGE_KIND: &str = "fracttal.work_order_status";

/// A work order's status, `id_status_work_order` in the API (`ot_status` as a filter).
///
/// ```
/// use hubflow::fracttal::WorkOrderStatus;
///
/// let status = WorkOrderStatus::from_id(3).unwrap();
/// assert_eq!(status, WorkOrderStatus::Completed);
/// assert_eq!(status.name(), "completed");
/// assert_eq!(status.label("es"), Some("Finalizada"));
/// assert_eq!(WorkOrderStatus::from_id(9), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WorkOrderStatus {
    /// 1: in process.
    InProcess,
    /// 2: in review.
    InReview,
    /// 3: completed.
    Completed,
    /// 4: cancelled.
    Cancelled,
}

impl WorkOrderStatus {
    /// Every status, in id order.
    pub const ALL: [WorkOrderStatus; 4] = [
        WorkOrderStatus::InProcess,
        WorkOrderStatus::InReview,
        WorkOrderStatus::Completed,
        WorkOrderStatus::Cancelled,
    ];

    /// The status with this API id (1 to 4).
    pub fn from_id(id: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.id() == id)
    }

    /// The API id.
    pub fn id(self) -> u32 {
        match self {
            WorkOrderStatus::InProcess => 1,
            WorkOrderStatus::InReview => 2,
            WorkOrderStatus::Completed => 3,
            WorkOrderStatus::Cancelled => 4,
        }
    }

    /// A stable machine name: `in_process`, `in_review`, `completed`, `cancelled`.
    pub fn name(self) -> &'static str {
        match self {
            WorkOrderStatus::InProcess => "in_process",
            WorkOrderStatus::InReview => "in_review",
            WorkOrderStatus::Completed => "completed",
            WorkOrderStatus::Cancelled => "cancelled",
        }
    }

    /// The label for people in `en`, `es`, `pt`, `fr` or `it` (the languages of the
    /// shipped template texts, [`LABEL_LANGUAGES`](super::LABEL_LANGUAGES)); `None` for
    /// other languages.
    pub fn label(self, language: &str) -> Option<&'static str> {
        super::rows::label_in(self.labels(), language)
    }

    /// The labels in [`LABEL_LANGUAGES`](super::LABEL_LANGUAGES) order.
    fn labels(self) -> [&'static str; 5] {
        match self {
            WorkOrderStatus::InProcess => [
                "In process",
                "En proceso",
                "Em andamento",
                "En cours",
                "In corso",
            ],
            WorkOrderStatus::InReview => [
                "In review",
                "En revisión",
                "Em revisão",
                "En révision",
                "In revisione",
            ],
            WorkOrderStatus::Completed => [
                "Completed",
                "Finalizada",
                "Concluída",
                "Terminé",
                "Completato",
            ],
            WorkOrderStatus::Cancelled => {
                ["Cancelled", "Cancelada", "Cancelada", "Annulé", "Annullato"]
            }
        }
    }

    /// The date field of a task row that says when the work order reached this status, in
    /// order of preference.
    fn date_fields(self) -> &'static [&'static str] {
        match self {
            WorkOrderStatus::InProcess => &["initial_date"],
            WorkOrderStatus::InReview => &["review_date"],
            WorkOrderStatus::Completed => &["wo_final_date", "final_date"],
            WorkOrderStatus::Cancelled => &[],
        }
    }
}

/// The key of a status change: `fracttal:wo-status:<task id>:<status>` the first time the
/// task comes to that status, `fracttal:wo-status:<task id>:<status>:<n>` the n-th time (a
/// reopened work order completed again). The previous status is not part of it, so an
/// Automator event of a change (which does not know it) and the poll that sees the same
/// change give the same key, and the store's claims send it once.
///
/// ```
/// use hubflow::fracttal::status_change_key;
/// assert_eq!(status_change_key("77", "3", 1), "fracttal:wo-status:77:3");
/// assert_eq!(status_change_key("77", "3", 2), "fracttal:wo-status:77:3:2");
/// ```
pub fn status_change_key(task: &str, to: &str, occurrence: u32) -> String {
    format!(
        "fracttal:wo-status:{task}:{to}{}",
        occurrence_suffix(occurrence)
    )
}

/// The record of a task row whose status became the row's `id_status_work_order`, coming
/// from `from` (`None`: unknown), for the `occurrence`-th time (1 the first time; see
/// [`status_change_key`]). `None` when the row has no task id or no status, which a status
/// change needs.
///
/// Kind [`STATUS_CHANGE_KIND`], key per [`status_change_key`], the row's fields with the Hub
/// [aliases](super::ALIASES), and:
///
/// | field | value |
/// |---|---|
/// | `status_from`, `status_to` | the status ids (numbers; `status_from` `null` when unknown) |
/// | `status_from_name`, `status_to_name` | `in_process`, `in_review`, `completed`, `cancelled` |
/// | `status_from_label`, `status_to_label` | `{"en": "In process", "es": "En proceso", "pt": "Em andamento", "fr": "En cours", "it": "In corso"}` |
/// | `first_sighting` | `true` when the previous status is unknown |
/// | `occurrence` | how many times the task has come to this status, 1 the first time |
///
/// `occurred_at` is the row's date for the new status when it has one (`initial_date` for
/// in process, `review_date` for in review, `wo_final_date` else `final_date` for
/// completed); otherwise none.
///
/// ```
/// use hubflow::fracttal::status_change_record;
/// use serde_json::json;
///
/// let row = json!({"id_work_orders_tasks": 77, "id_status_work_order": 3, "wo_folio": "OT-881",
///                  "wo_final_date": "2026-03-02T10:00:00+00:00"});
/// let record = status_change_record(row.as_object().unwrap().clone(), Some("2"), 1).unwrap();
/// assert_eq!(record.key, "fracttal:wo-status:77:3");
/// assert_eq!(record.kind, "fracttal.work_order_status");
/// assert_eq!((record.data["status_from"].clone(), record.data["status_to"].clone()), (json!(2), json!(3)));
/// assert_eq!(record.data["status_to_label"]["pt"], "Concluída");
/// assert_eq!(record.occurred_at.unwrap().to_rfc3339(), "2026-03-02T10:00:00+00:00");
/// ```
pub fn status_change_record(
    mut row: Map<String, Value>,
    from: Option<&str>,
    occurrence: u32,
) -> Option<Record> {
    let task = row.get("id_work_orders_tasks").and_then(id_text)?;
    let to = row.get("id_status_work_order").and_then(id_text)?;
    let key = status_change_key(&task, &to, occurrence);
    let to_status = status_of(&to);
    let at = to_status.and_then(|status| {
        status
            .date_fields()
            .iter()
            .filter_map(|field| row.get(*field).and_then(Value::as_str))
            .find_map(parse_date)
    });
    apply_aliases(&mut row);
    row.insert(
        "status_from".to_owned(),
        from.map_or(Value::Null, status_id),
    );
    row.insert("status_to".to_owned(), status_id(&to));
    row.insert(
        "status_from_name".to_owned(),
        json!(from.and_then(status_of).map(WorkOrderStatus::name)),
    );
    row.insert(
        "status_to_name".to_owned(),
        json!(to_status.map(WorkOrderStatus::name)),
    );
    row.insert(
        "status_from_label".to_owned(),
        labels(from.and_then(status_of)),
    );
    row.insert("status_to_label".to_owned(), labels(to_status));
    row.insert("first_sighting".to_owned(), Value::Bool(from.is_none()));
    row.insert("occurrence".to_owned(), Value::from(occurrence.max(1)));
    let record = Record::new(key, STATUS_CHANGE_KIND, Value::Object(row));
    Some(match at {
        Some(at) => record.occurred_at(at),
        None => record,
    })
}

fn status_of(text: &str) -> Option<WorkOrderStatus> {
    text.parse().ok().and_then(WorkOrderStatus::from_id)
}

/// A status id as JSON: a number when it is one, else the text as sent.
fn status_id(text: &str) -> Value {
    text.parse::<u64>()
        .map_or_else(|_| Value::String(text.to_owned()), Value::from)
}

fn labels(status: Option<WorkOrderStatus>) -> Value {
    status.map_or(Value::Null, |status| {
        super::rows::labels_object(status.labels())
    })
}

/// Polls "Query tasks in WOs" (`GET work_orders/`) and returns a record per task whose
/// `id_status_work_order` differs from the one the previous poll saw (see
/// [`status_change_record`] for the record).
///
/// # How it knows the previous status
///
/// Fracttal has no history or "modified since" query, and a task row carries only its
/// current status, so the previous status is kept **in the source's cursor**: a map from
/// task id to the last status seen and the row's date. Each poll reads every task of the
/// work orders dated within the last [`track_window`](Self::track_window) (default 30 days,
/// on the [`TypeDate`] field, `creation_date` unless set) and compares:
///
/// * same status as remembered: nothing (a row seen again is not a new record);
/// * another status: one record, from the remembered status to the new one;
/// * a task not remembered (a *first sighting*): nothing, unless
///   [`first_sightings`](Self::first_sightings) is on, and then a record from no status
///   — but never on the polls that build the first picture (before the first complete
///   scan), so a new flow does not announce every open work order.
///
/// **The bound.** After each complete scan the cursor forgets tasks dated before the
/// window; and it never holds more than [`MAX_TRACKED_TASKS`](super::MAX_TRACKED_TASKS) tasks, dropping those with the
/// oldest dates first. A task forgotten either way and seen again is a first sighting: its
/// next change is missed (or, with first sightings on, reported as a first sighting, which
/// the store's claims drop when that key was delivered before). Keep the window to the
/// work orders that still change (filter by `code_location` or `code_asset` for large
/// companies): every poll reads the whole window, one request per 100 tasks, from the
/// company's budget of 200 requests per minute.
///
/// Rows without a task id or without a status cannot be followed and are passed over.
/// When [`max_pages`](Self::max_pages) cuts a scan short, the next poll continues at the
/// next offset with the same window, and forgetting waits for the scan to complete.
///
/// Each change alerts once, through the key ([`status_change_key`]): the cursor counts how
/// many times each task came to each status, so a task reopened and completed again is
/// reported again (`…:3`, then `…:3:2`), and a poll repeating a change already seen is
/// not. The counts are per cursor: an Automator event knows none, and gives the key of a
/// first time, which is the poll's key for a first time too.
///
/// ```
/// use hubflow::fracttal::{FracttalClient, WorkOrderStatusSource};
/// use std::time::Duration;
///
/// let source = WorkOrderStatusSource::new(FracttalClient::new("key".into(), "secret".into()))
///     .code_location("PLANT-1")
///     .track_window(Duration::from_secs(14 * 24 * 3600))
///     .first_sightings(false);
/// assert_eq!(source.limit(), 100);
/// ```
#[derive(Debug, Clone)]
pub struct WorkOrderStatusSource {
    /// The paging settings; `until` and `lookback` stay unset: the track window bounds
    /// the scan instead.
    window: Windowed,
    tracking: Tracking,
}

impl WorkOrderStatusSource {
    /// A source over `client`: path `work_orders/`, a 30-day window on `creation_date`, no
    /// first sightings, 100 rows per page, at most 50 pages per poll, one wait per
    /// rate-limited page.
    pub fn new(client: FracttalClient) -> Self {
        WorkOrderStatusSource {
            window: Windowed::new(client, "work_orders/", Duration::ZERO),
            tracking: Tracking {
                type_date: TypeDate::CreationDate,
                track_window: DEFAULT_TRACK_WINDOW,
                first_sightings: false,
            },
        }
    }

    paging_setters!();

    work_order_filters!();

    tracking_setters!("off");
}

/// What the status source follows: `id_status_work_order`.
const WATCH: Watch = Watch {
    kind: KIND,
    value_of: |row| row.get("id_status_work_order").and_then(id_text),
    record: |row, change: Change<'_>| status_change_record(row, change.from, change.occurrence),
};

#[async_trait]
impl Source for WorkOrderStatusSource {
    async fn poll(&self, ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        changes::poll(&self.window, &self.tracking, &WATCH, ctx, cursor).await
    }
}

/// The status source's spec config (see the module docs of `fracttal`).
#[derive(Debug, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub(crate) struct StatusConfig(ChangesConfig);

impl std::ops::Deref for StatusConfig {
    type Target = ChangesConfig;
    fn deref(&self) -> &ChangesConfig {
        &self.0
    }
}

impl StatusConfig {
    pub(crate) fn apply(
        self,
        client: FracttalClient,
    ) -> Result<WorkOrderStatusSource, crate::SpecErrors> {
        let mut errors = crate::SpecErrors::new();
        let mut source = WorkOrderStatusSource::new(client);
        self.0
            .apply_to(&mut source.window, &mut source.tracking, &mut errors);
        errors.into_result(source)
    }
}

#[cfg(test)]
mod tests;
