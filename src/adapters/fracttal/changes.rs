//! What the status and the assignment sources share: following one value of every task of
//! the recent work orders (its status, its responsible) from poll to poll, and turning each
//! change into a record.
//!
//! Fracttal has no history or "modified since" query, and a task row carries only its
//! current values, so the previous value of each task is kept in the source's cursor. Each
//! poll reads every task of the work orders dated within the track window and compares.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::rows::{id_text, row_date, TypeDate};
use super::scan::{self, spec_config, Pages, Windowed};
use super::work_orders::spec_filters;
use crate::{Batch, Context, Cursor, Record, SourceError};

/// The most tasks one cursor remembers. Beyond it the tasks with the oldest dates are
/// forgotten first.
pub const MAX_TRACKED_TASKS: usize = 20_000;

/// The default span of work orders followed: 30 days (by the [`TypeDate`] field).
pub const DEFAULT_TRACK_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

/// The most values one task's entry counts (the responsibles a task has had, the statuses
/// it has been in): a task reassigned among more people than this forgets the ones it had
/// least often, and a return to one of those is counted again from one.
const MAX_VALUES_PER_TASK: usize = 16;

/// One change of a followed value, as the record builders get it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change<'a> {
    /// The value before (`None`: the task was not known, a first sighting).
    pub from: Option<&'a str>,
    /// The value now.
    pub to: &'a str,
    /// How many times the task has come to `to`, this time included: 1 the first time.
    pub occurrence: u32,
}

/// The key suffix of a change that came back to a value the task had before: `""` the
/// first time, `:<n>` the n-th time. The first time's key is what an Automator event of
/// the same change gives, which knows no history.
pub(crate) fn occurrence_suffix(occurrence: u32) -> String {
    if occurrence > 1 {
        format!(":{occurrence}")
    } else {
        String::new()
    }
}

/// What a change source follows.
pub(crate) struct Watch {
    /// The source's kind, for cursor errors.
    pub kind: &'static str,
    /// The followed value of a row; `None` when the row cannot be followed (no such field).
    pub value_of: fn(&Map<String, Value>) -> Option<String>,
    /// The record of a change; `None` when the change is not worth one (an unassignment).
    pub record: fn(Map<String, Value>, Change<'_>) -> Option<Record>,
}

/// The settings of a change source besides its paging: which date the window applies to,
/// how far back, and whether first sightings count.
#[derive(Debug, Clone)]
pub(crate) struct Tracking {
    pub type_date: TypeDate,
    pub track_window: Duration,
    pub first_sightings: bool,
}

/// The setters of a change source (a struct with `window: Windowed` and
/// `tracking: Tracking`), written once. `$first` says what the default of
/// `first_sightings` is, for its docs.
macro_rules! tracking_setters {
    ($first:literal) => {
        /// Never work orders dated before this instant, whatever the window.
        #[must_use]
        pub fn since(mut self, at: DateTime<Utc>) -> Self {
            self.window.since = Some(at);
            self
        }

        /// Which date the window applies to (`type_date`; default `creation_date`).
        #[must_use]
        pub fn type_date(mut self, type_date: TypeDate) -> Self {
            self.tracking.type_date = type_date;
            self
        }

        /// How far back work orders are followed (default
        /// [`DEFAULT_TRACK_WINDOW`](crate::fracttal::DEFAULT_TRACK_WINDOW)).
        #[must_use]
        pub fn track_window(mut self, window: Duration) -> Self {
            self.tracking.track_window = window;
            self
        }

        #[doc = concat!("Whether a task first seen after the first complete scan is reported (default ", $first, ").")]
        #[must_use]
        pub fn first_sightings(mut self, on: bool) -> Self {
            self.tracking.first_sightings = on;
            self
        }

        /// The endpoint path below the base URL (default `work_orders/`).
        #[must_use]
        pub fn path(mut self, path: impl Into<String>) -> Self {
            self.window.path = path.into();
            self
        }

        fn filter(mut self, name: &'static str, value: String) -> Self {
            self.window.filter(name, value);
            self
        }
    };
}
pub(crate) use tracking_setters;

/// The cursor's JSON form: `{"tasks": {"<task id>": ["<value>", "<date>", {"<value>": n}]},
/// "primed": true, "resume": {"since": …, "start": 200}}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[serde(default)]
    tasks: BTreeMap<String, Entry>,
    /// Whether a complete scan has been made: first sightings count only after it.
    #[serde(default)]
    primed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resume: Option<Resume>,
}

/// What a cursor remembers of a task: its value, the row's date, and how many times the
/// task has come to each value it had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(from = "EntryForm")]
struct Entry(String, DateTime<Utc>, BTreeMap<String, u32>);

/// An entry as cursors hold it: with the counts, or as cursors of version 0.1 wrote it,
/// `[value, date]`, whose value then counts once.
#[derive(Deserialize)]
#[serde(untagged)]
enum EntryForm {
    Counted(String, DateTime<Utc>, BTreeMap<String, u32>),
    Plain(String, DateTime<Utc>),
}

impl From<EntryForm> for Entry {
    fn from(form: EntryForm) -> Self {
        match form {
            EntryForm::Counted(value, at, counts) => Entry(value, at, counts),
            EntryForm::Plain(value, at) => {
                let counts = BTreeMap::from([(value.clone(), 1)]);
                Entry(value, at, counts)
            }
        }
    }
}

impl Entry {
    fn new(value: String, at: DateTime<Utc>) -> Self {
        let counts = BTreeMap::from([(value.clone(), 1)]);
        Entry(value, at, counts)
    }

    /// Moves the task to `value`: its count goes up by one, and the answer is the count.
    fn arrive(&mut self, value: &str, at: DateTime<Utc>) -> u32 {
        value.clone_into(&mut self.0);
        self.1 = at;
        let count = self.2.entry(value.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        let occurrence = *count;
        if self.2.len() > MAX_VALUES_PER_TASK {
            // The value had least often goes, never the one just counted.
            let rarest = self
                .2
                .iter()
                .filter(|(v, _)| v.as_str() != value)
                .min_by_key(|(_, n)| **n)
                .map(|(v, _)| v.clone());
            if let Some(rarest) = rarest {
                self.2.remove(&rarest);
            }
        }
        occurrence
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Resume {
    since: DateTime<Utc>,
    start: u64,
}

/// One poll of a change source: reads every task row of the window, compares each task's
/// value with the one remembered, and returns a record per change (see
/// [`WorkOrderStatusSource`](super::WorkOrderStatusSource) for the rules).
pub(crate) async fn poll(
    window: &Windowed,
    tracking: &Tracking,
    watch: &Watch,
    ctx: &Context,
    cursor: Option<&Cursor>,
) -> Result<Batch, SourceError> {
    let now = ctx.clock().now();
    let mut state: State = scan::read_cursor(cursor, watch.kind)?;
    let (horizon, start) = match &state.resume {
        Some(resume) => (resume.since, resume.start),
        None => {
            let horizon = scan::minus(now, tracking.track_window);
            (window.since.map_or(horizon, |s| horizon.max(s)), 0)
        }
    };
    let report_new = state.primed && tracking.first_sightings;
    let mut records = Vec::new();
    let pages = Pages {
        since: Some(horizon),
        until: None,
        start,
        max_pages: window.max_pages,
        what: "work-order row",
    };
    let tasks = &mut state.tasks;
    let walked = window
        .query(Some(tracking.type_date.as_str()))
        .walk(ctx, &pages, |row| {
            let date = row_date(row, tracking.type_date);
            if date.is_some_and(|d| d < horizon) {
                return;
            }
            let (Some(task), Some(value)) = (
                row.get("id_work_orders_tasks").and_then(id_text),
                (watch.value_of)(row),
            ) else {
                return;
            };
            let at = date.unwrap_or(now);
            let (from, occurrence) = match tasks.get_mut(&task) {
                Some(entry) if entry.0 == value => {
                    entry.1 = at;
                    return;
                }
                Some(entry) => {
                    let from = entry.0.clone();
                    (Some(from), entry.arrive(&value, at))
                }
                None => {
                    tasks.insert(task.clone(), Entry::new(value.clone(), at));
                    if !report_new {
                        return;
                    }
                    (None, 1)
                }
            };
            let change = Change {
                from: from.as_deref(),
                to: &value,
                occurrence,
            };
            if let Some(record) = (watch.record)(row.clone(), change) {
                records.push(record);
            }
        })
        .await?;
    if walked.complete {
        state.resume = None;
        state.primed = true;
        state.tasks.retain(|_, entry| entry.1 >= horizon);
    } else {
        state.resume = Some(Resume {
            since: horizon,
            start: walked.next,
        });
    }
    scan::cap_by_date(&mut state.tasks, MAX_TRACKED_TASKS, |entry| entry.1);
    Ok(Batch::new(records, Some(scan::write_cursor(&state)?)))
}

spec_config! {
    /// The spec config of a change source (see the module docs of `fracttal`).
    ChangesConfig {
        code_asset: String,
        code_location: String,
        folio: String,
        since,
        type_date: TypeDate,
        track_days: u32,
        first_sightings: bool,
        limit,
        max_pages,
        rate_limit_retries,
        path,
    }
}

impl ChangesConfig {
    /// Applies the config to a source's window and tracking.
    pub(crate) fn apply_to(
        self,
        window: &mut Windowed,
        tracking: &mut Tracking,
        errors: &mut crate::SpecErrors,
    ) {
        spec_filters(window, [self.code_asset, self.code_location, self.folio]);
        window.spec_dates(errors, self.since.as_deref(), None);
        if let Some(days) = self.track_days {
            if !(1..=366).contains(&days) {
                errors.push(
                    crate::SpecError::new("/track_days", format!("{days} days")).with_hint(
                        "follow work orders of the last 1 to 366 days; every poll reads them all",
                    ),
                );
            }
            tracking.track_window = Duration::from_secs(u64::from(days) * 24 * 3600);
        }
        window.spec_paging(
            errors,
            self.limit,
            self.max_pages,
            None,
            self.rate_limit_retries,
        );
        window.spec_path(errors, self.path);
        if let Some(type_date) = self.type_date {
            tracking.type_date = type_date;
        }
        if let Some(on) = self.first_sightings {
            tracking.first_sightings = on;
        }
    }
}

#[cfg(test)]
mod tests;
