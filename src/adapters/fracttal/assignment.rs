//! The `fracttal.work_order_assignments` source: a record per task whose responsible was
//! set or changed since the last poll, whenever that happened, with the previous
//! responsible.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::changes::DEFAULT_TRACK_WINDOW;
use super::changes::{
    self, occurrence_suffix, tracking_setters, Change, ChangesConfig, Tracking, Watch,
};
use super::rows::{apply_aliases, id_text, TypeDate};
use super::scan::{paging_setters, Windowed};
use super::work_orders::work_order_filters;
use super::FracttalClient;
use crate::{Batch, Context, Cursor, Record, Source, SourceError};

/// The kind name of this source in flow specs.
pub const KIND: &str = "fracttal.work_order_assignments";

/// The record kind of an assignment.
pub const ASSIGNMENT_KIND: &str = "fracttal.work_order_assignment";

/// The responsible of a task row, as Fracttal's own assignment notification names them:
/// `personnel_description`, else `user_assigned` (trimmed; empty or absent in both: `None`,
/// the task is unassigned).
///
/// ```
/// use hubflow::fracttal::responsible_of;
/// use serde_json::json;
///
/// let row = json!({"personnel_description": " ", "user_assigned": "Jonas Campos"});
/// assert_eq!(responsible_of(row.as_object().unwrap()).as_deref(), Some("Jonas Campos"));
/// assert_eq!(responsible_of(json!({}).as_object().unwrap()), None);
/// ```
pub fn responsible_of(row: &Map<String, Value>) -> Option<String> {
    ["personnel_description", "user_assigned"]
        .into_iter()
        .filter_map(|field| row.get(field).and_then(id_text))
        .next()
}

/// The key of an assignment: `fracttal:wo:<task id>:assigned:<responsible>` the first time
/// the task is assigned to that person, `…:assigned:<responsible>:<n>` the n-th time (a
/// task passed from Ana to Jonas and back to Ana notifies Ana twice). The previous
/// responsible is not part of it, so an Automator "WO assigned" event (which does not know
/// it) and the poll that sees the same assignment give the same key.
///
/// ```
/// use hubflow::fracttal::assignment_key;
/// assert_eq!(assignment_key("77", "Jonas Campos", 1), "fracttal:wo:77:assigned:Jonas Campos");
/// assert_eq!(assignment_key("77", "Ana Souza", 2), "fracttal:wo:77:assigned:Ana Souza:2");
/// ```
pub fn assignment_key(task: &str, responsible: &str, occurrence: u32) -> String {
    format!(
        "fracttal:wo:{task}:assigned:{responsible}{}",
        occurrence_suffix(occurrence)
    )
}

/// The record of a task row assigned to its current responsible ([`responsible_of`]),
/// coming from `from` (`None`: unknown, a first sighting; `Some("")`: nobody), for the `occurrence`-th time (1 the
/// first time; see [`assignment_key`]). `None` when the row has no task id or nobody is
/// responsible (an unassignment notifies nobody).
///
/// Kind [`ASSIGNMENT_KIND`], the row's fields with the Hub [aliases](super::ALIASES)
/// (`responsible` among them), and:
///
/// | field | value |
/// |---|---|
/// | `responsible` | the new responsible (also when the row's alias source differs) |
/// | `responsible_from` | the previous responsible; `null` when there was none or it is unknown |
/// | `reassigned` | `true` when the task had another responsible before |
/// | `first_sighting` | `true` when the task was not known before (created assigned, or an Automator event) |
/// | `occurrence` | how many times the task has been assigned to this responsible, 1 the first time |
///
/// `occurred_at` is not set: a task row does not say when it was assigned.
///
/// ```
/// use hubflow::fracttal::assignment_record;
/// use serde_json::json;
///
/// let row = json!({"id_work_orders_tasks": 77, "wo_folio": "OT-881", "user_assigned": "Jonas Campos"});
/// let record = assignment_record(row.as_object().unwrap().clone(), Some("Ana Souza"), 1).unwrap();
/// assert_eq!(record.key, "fracttal:wo:77:assigned:Jonas Campos");
/// assert_eq!(record.kind, "fracttal.work_order_assignment");
/// assert_eq!(record.data["responsible"], "Jonas Campos");
/// assert_eq!(record.data["responsible_from"], "Ana Souza");
/// assert_eq!(record.data["reassigned"], true);
/// ```
pub fn assignment_record(
    mut row: Map<String, Value>,
    from: Option<&str>,
    occurrence: u32,
) -> Option<Record> {
    let task = row.get("id_work_orders_tasks").and_then(id_text)?;
    let to = responsible_of(&row)?;
    let key = assignment_key(&task, &to, occurrence);
    apply_aliases(&mut row);
    // `None`: the task was not known; `Some("")`: it was known, with nobody.
    let first_sighting = from.is_none();
    let from = from.filter(|from| !from.is_empty());
    row.insert("responsible".to_owned(), Value::String(to));
    row.insert(
        "responsible_from".to_owned(),
        from.map_or(Value::Null, |from| Value::String(from.to_owned())),
    );
    row.insert("reassigned".to_owned(), Value::Bool(from.is_some()));
    row.insert("first_sighting".to_owned(), Value::Bool(first_sighting));
    row.insert("occurrence".to_owned(), Value::from(occurrence.max(1)));
    Some(Record::new(key, ASSIGNMENT_KIND, Value::Object(row)))
}

/// Polls "Query tasks in WOs" (`GET work_orders/`) and returns a record per task whose
/// responsible was set or changed since the previous poll (see [`assignment_record`]):
/// the assignment as it happens, not the work order's creation. A work order created
/// unassigned and assigned an hour later is notified when it is assigned; a reassignment
/// notifies the new responsible; an unassignment notifies nobody.
///
/// # How it sees an assignment
///
/// Fracttal's API has no assignment date and no "modified since" query: the only date
/// filters are the work order's own dates (`type_date`), and none of them moves when the
/// responsible changes. So this source makes a **bounded re-scan of the recent work
/// orders** and remembers, in its cursor, each task's responsible (the same machinery as
/// [`WorkOrderStatusSource`](super::WorkOrderStatusSource)): every poll reads every task of
/// the work orders dated within [`track_window`](Self::track_window) (30 days by default,
/// on `creation_date`) and compares with what the previous poll saw.
///
/// * same responsible: nothing;
/// * another responsible: one record, `responsible_from` the previous one (`null` when the
///   task had nobody);
/// * a task not seen before (a work order created since the last poll, or older than
///   what the cursor remembers): a record if it has a responsible — **but not on the
///   polls that build the first picture** (before the first complete scan), so a new flow
///   does not notify every open work order. [`first_sightings(false)`](Self::first_sightings)
///   reports only changes of tasks already known.
///
/// # Limits
///
/// * **How late.** An assignment is seen at the first complete scan after it: one poll
///   interval, or more when [`max_pages`](Self::max_pages) cuts scans short (a window of
///   `p` pages needs `p / max_pages` polls). Each poll costs one request per 100 tasks of
///   the window, from the company's 200 requests a minute: 3,000 open tasks polled every
///   minute use 30 of them. For assignments within seconds, add the Automator event
///   ([`EventRecords::Assignment`](super::EventRecords::Assignment)): it gives the same key
///   for the same assignment, so the store's claims send it once.
/// * **Which work orders.** Only those dated within the window: a work order created 40
///   days ago and reassigned today is not seen with the default window; widen it
///   ([`track_window`](Self::track_window), up to 366 days in specs), or follow
///   `initial_date` ([`type_date`](Self::type_date)).
/// * **Changes between two polls.** Ana → Jonas → Ana between two polls looks like no
///   change, and notifies nobody; Ana → Jonas → Carla notifies Carla only.
/// * **Memory.** At most [`MAX_TRACKED_TASKS`](super::MAX_TRACKED_TASKS) tasks per cursor, the oldest forgotten first;
///   a forgotten task seen again is a first sighting, and its record has the key of a
///   first assignment, which the claims drop when it was sent before.
///
/// ```
/// use hubflow::fracttal::{FracttalClient, WorkOrderAssignmentSource};
/// use std::time::Duration;
///
/// let source = WorkOrderAssignmentSource::new(FracttalClient::new("key".into(), "secret".into()))
///     .code_location("PLANT-1")
///     .track_window(Duration::from_secs(14 * 24 * 3600));
/// assert_eq!(source.limit(), 100);
/// ```
#[derive(Debug, Clone)]
pub struct WorkOrderAssignmentSource {
    /// The paging settings; `until` and `lookback` stay unset: the track window bounds
    /// the scan instead.
    window: Windowed,
    tracking: Tracking,
}

impl WorkOrderAssignmentSource {
    /// A source over `client`: path `work_orders/`, a 30-day window on `creation_date`,
    /// first sightings reported, 100 rows per page, at most 50 pages per poll, one wait per
    /// rate-limited page.
    pub fn new(client: FracttalClient) -> Self {
        WorkOrderAssignmentSource {
            window: Windowed::new(client, "work_orders/", Duration::ZERO),
            tracking: Tracking {
                type_date: TypeDate::CreationDate,
                track_window: DEFAULT_TRACK_WINDOW,
                first_sightings: true,
            },
        }
    }

    paging_setters!();

    work_order_filters!();

    tracking_setters!("on: a work order created already assigned is an assignment");
}

/// What the assignment source follows: the responsible, `""` for nobody (so that an
/// unassignment is remembered, and the next assignment is a change).
const WATCH: Watch = Watch {
    kind: KIND,
    value_of: |row| Some(responsible_of(row).unwrap_or_default()),
    record: |row, change: Change<'_>| {
        if change.to.is_empty() {
            return None;
        }
        assignment_record(row, change.from, change.occurrence)
    },
};

#[async_trait]
impl Source for WorkOrderAssignmentSource {
    async fn poll(&self, ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        changes::poll(&self.window, &self.tracking, &WATCH, ctx, cursor).await
    }
}

/// The assignment source's spec config (see the module docs of `fracttal`).
#[derive(Debug, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub(crate) struct AssignmentConfig(ChangesConfig);

impl std::ops::Deref for AssignmentConfig {
    type Target = ChangesConfig;
    fn deref(&self) -> &ChangesConfig {
        &self.0
    }
}

impl AssignmentConfig {
    pub(crate) fn apply(
        self,
        client: FracttalClient,
    ) -> Result<WorkOrderAssignmentSource, crate::SpecErrors> {
        let mut errors = crate::SpecErrors::new();
        let mut source = WorkOrderAssignmentSource::new(client);
        self.0
            .apply_to(&mut source.window, &mut source.tracking, &mut errors);
        errors.into_result(source)
    }
}
