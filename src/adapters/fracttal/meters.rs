//! The `fracttal.meter_alerts` source: the Automator's two meter events, judged on the
//! meters list: *out of range reading* (a meter's `last_data` against its `min_value` /
//! `max_value`, the way Fracttal documents it) and *meter without update* (no reading for
//! N hours).

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::readings::{
    pick, reading_record, spec_meter_pages, OutOfRange, ASSET_CODE_FIELDS, ITEM_DESCRIPTION_FIELDS,
};
use super::rows::{id_text, parse_date};
use super::scan::{self, paging_setters, spec_config, Windowed};
use super::FracttalClient;
use crate::{Batch, Context, Cursor, Record, Source, SourceError};

/// The kind name of this source in flow specs.
pub const KIND: &str = "fracttal.meter_alerts";

/// The record kind of a meter whose last reading is outside its limits.
pub const OUT_OF_RANGE_KIND: &str = "fracttal.meter_out_of_range";

/// The record kind of a meter without a reading for longer than allowed.
pub const STALE_KIND: &str = "fracttal.meter_stale";

/// The most alerts one cursor remembers as current; beyond it the poll still returns
/// every new alert, and the claims drop repeats.
const MAX_REMEMBERED: usize = 20_000;

/// A meter's last reading (`last_data`), with the meter's serial, as a reading row.
fn last_reading(meter: &Map<String, Value>) -> Option<Map<String, Value>> {
    let mut reading = meter.get("last_data")?.as_object()?.clone();
    if let Some(serial) = meter.get("serial").cloned() {
        reading.insert("serial".to_owned(), serial);
    }
    Some(reading)
}

/// The date of a meter's last reading.
fn last_date(meter: &Map<String, Value>) -> Option<DateTime<Utc>> {
    meter
        .get("last_data")?
        .get("date")?
        .as_str()
        .and_then(parse_date)
}

/// The record of a meter whose last reading (`last_data`) is out of its range, or `None`
/// when it is inside, at a limit, without limits, or without a numeric last reading.
///
/// Kind [`OUT_OF_RANGE_KIND`], key `fracttal:meter:<serial>:out_of_range:<reading date>`
/// (one alert per reading), `occurred_at` the reading's date, and the fields of a
/// [reading record](super::reading_record) (`value`, `min`, `max`, `out_of_range`,
/// `out_of_range_label`, `limit`, `units`, `value_text`, `limit_text`,
/// `meter_description`, `asset_code`, `item_description`, `meter`), the reading being
/// `last_data`.
///
/// ```
/// use hubflow::fracttal::meter_out_of_range_record;
/// use serde_json::json;
///
/// let meter = json!({"serial": "M-100", "min_value": 10, "max_value": 80, "units_code": "°C",
///                    "last_data": {"date": "2026-03-02T07:50:00+00:00", "value": 95.5}});
/// let record = meter_out_of_range_record(meter.as_object().unwrap()).unwrap();
/// assert_eq!(record.key, "fracttal:meter:M-100:out_of_range:2026-03-02T07:50:00Z");
/// assert_eq!(record.data["out_of_range"], "above");
/// assert_eq!(record.data["value_text"], "95.5 °C");
/// ```
pub fn meter_out_of_range_record(meter: &Map<String, Value>) -> Option<Record> {
    let serial = meter.get("serial").and_then(id_text)?;
    let reading = last_reading(meter)?;
    let date = last_date(meter)?;
    let judged = reading_record(reading, Some(meter));
    if judged.data["out_of_range"] == OutOfRange::None.as_str() {
        return None;
    }
    let key = format!(
        "fracttal:meter:{serial}:out_of_range:{}",
        date.to_rfc3339_opts(SecondsFormat::AutoSi, true)
    );
    let mut record = Record::new(key, OUT_OF_RANGE_KIND, judged.data);
    record.occurred_at = judged.occurred_at;
    Some(record)
}

/// The record of a meter without a reading since `now - stale_after`, or `None` when its
/// last reading is recent enough. A meter that never had a reading (no `last_data` date)
/// is stale too.
///
/// Kind [`STALE_KIND`], key `fracttal:meter:<serial>:stale:<last reading date>` (`never`
/// without one): one alert per silence, a new reading ends it. The meter's fields as
/// received, plus `serial`, `last_reading_at` (RFC 3339, `null` for never),
/// `hours_without_update` (whole hours, `null` for never), `stale_after_hours`, `units`,
/// `meter_description`, `asset_code` and `item_description`.
///
/// ```
/// use hubflow::fracttal::meter_stale_record;
/// use serde_json::json;
/// use std::time::Duration;
///
/// let meter = json!({"serial": "M-200", "description": "Suction pressure",
///                    "last_data": {"date": "2026-03-01T02:00:00+00:00", "value": 2.1}});
/// let now = "2026-03-02T08:00:00Z".parse().unwrap();
/// let record = meter_stale_record(meter.as_object().unwrap(), now, Duration::from_secs(24 * 3600)).unwrap();
/// assert_eq!(record.key, "fracttal:meter:M-200:stale:2026-03-01T02:00:00Z");
/// assert_eq!(record.data["hours_without_update"], 30);
/// assert!(meter_stale_record(meter.as_object().unwrap(), now, Duration::from_secs(48 * 3600)).is_none());
/// ```
pub fn meter_stale_record(
    meter: &Map<String, Value>,
    now: DateTime<Utc>,
    stale_after: Duration,
) -> Option<Record> {
    let serial = meter.get("serial").and_then(id_text)?;
    let last = last_date(meter);
    if last.is_some_and(|at| at >= scan::minus(now, stale_after)) {
        return None;
    }
    let since = last.map_or_else(
        || "never".to_owned(),
        |at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    );
    let key = format!("fracttal:meter:{serial}:stale:{since}");
    let mut data = meter.clone();
    let field = |name: &str| meter.get(name).cloned().unwrap_or(Value::Null);
    data.insert("serial".to_owned(), Value::String(serial));
    data.insert(
        "last_reading_at".to_owned(),
        last.map_or(Value::Null, |at| {
            Value::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        }),
    );
    data.insert(
        "hours_without_update".to_owned(),
        last.map_or(Value::Null, |at| Value::from((now - at).num_hours())),
    );
    data.insert(
        "stale_after_hours".to_owned(),
        Value::from(stale_after.as_secs() / 3600),
    );
    data.insert("units".to_owned(), field("units_code"));
    data.insert("meter_description".to_owned(), field("description"));
    data.insert(
        "asset_code".to_owned(),
        pick(meter, None, ASSET_CODE_FIELDS),
    );
    data.insert(
        "item_description".to_owned(),
        pick(meter, None, ITEM_DESCRIPTION_FIELDS),
    );
    Some(Record::new(key, STALE_KIND, Value::Object(data)))
}

/// Reads the meters list (`GET meters_list`, every page) and returns a record per meter
/// that has just become out of range ([`meter_out_of_range_record`]) or, with
/// [`stale_after`](Self::stale_after), without an update for that long
/// ([`meter_stale_record`]): the Automator's *Out of range reading* and *meter without
/// update* events, observed through the API.
///
/// Each alert is keyed by the reading it is about, so it is sent once; the cursor holds
/// the alerts that were current at the last poll, so a poll returns only new ones (not
/// every meter still out of range), and a meter back in range and out again with a new
/// reading alerts again. A list longer than [`max_meter_pages`](Self::max_meter_pages)
/// fails the poll and the cursor stays.
///
/// **Limits.** The meters list carries only the last reading: a value out of range and
/// corrected before the next poll is not seen (use
/// [`MeterReadingsSource`](super::MeterReadingsSource), which reads every reading, for
/// those). Staleness is judged against the context's clock, to the poll.
///
/// ```
/// use hubflow::fracttal::{FracttalClient, MeterAlertsSource};
/// use std::time::Duration;
///
/// let source = MeterAlertsSource::new(FracttalClient::new("key".into(), "secret".into()))
///     .stale_after(Duration::from_secs(24 * 3600));
/// assert_eq!(source.limit(), 100);
/// ```
#[derive(Debug, Clone)]
pub struct MeterAlertsSource {
    window: Windowed,
    out_of_range: bool,
    stale_after: Option<Duration>,
}

impl MeterAlertsSource {
    /// A source over `client`: path `meters_list`, out-of-range alerts on, no staleness
    /// alerts, 100 meters per page, at most 50 pages.
    pub fn new(client: FracttalClient) -> Self {
        MeterAlertsSource {
            window: Windowed::new(client, "meters_list", Duration::ZERO),
            out_of_range: true,
            stale_after: None,
        }
    }

    paging_setters!();

    /// Whether meters whose last reading is out of range are reported (default on).
    #[must_use]
    pub fn out_of_range(mut self, on: bool) -> Self {
        self.out_of_range = on;
        self
    }

    /// Reports meters without a reading for longer than this (default: not reported).
    #[must_use]
    pub fn stale_after(mut self, silence: Duration) -> Self {
        self.stale_after = Some(silence);
        self
    }

    /// The most pages of meters one poll reads (the same as [`max_pages`](Self::max_pages)).
    #[must_use]
    pub fn max_meter_pages(self, pages: u32) -> Self {
        self.max_pages(pages)
    }

    /// The meters path below the base URL (default `meters_list`).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.window.path = path.into();
        self
    }
}

/// The cursor's JSON form: the keys of the alerts current at the last poll.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[serde(default)]
    current: BTreeSet<String>,
}

#[async_trait]
impl Source for MeterAlertsSource {
    async fn poll(&self, ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let before: State = scan::read_cursor(cursor, KIND)?;
        let now = ctx.clock().now();
        let meters = self
            .window
            .query(None)
            .all_rows(ctx, self.window.max_pages, "meter")
            .await?;
        let mut current = BTreeSet::new();
        let mut records = Vec::new();
        for meter in &meters {
            let alerts = [
                self.out_of_range
                    .then(|| meter_out_of_range_record(meter))
                    .flatten(),
                self.stale_after
                    .and_then(|silence| meter_stale_record(meter, now, silence)),
            ];
            for record in alerts.into_iter().flatten() {
                if current.len() < MAX_REMEMBERED {
                    current.insert(record.key.clone());
                }
                if !before.current.contains(&record.key) {
                    records.push(record);
                }
            }
        }
        let state = State { current };
        Ok(Batch::new(records, Some(scan::write_cursor(&state)?)))
    }
}

spec_config! {
    /// The source's spec config (see the module docs).
    MeterAlertsConfig {
        out_of_range: bool,
        stale_after_hours: u32,
        limit,
        max_meter_pages: u32,
        rate_limit_retries,
        path,
    }
}

impl MeterAlertsConfig {
    pub(crate) fn apply(
        self,
        client: FracttalClient,
    ) -> Result<MeterAlertsSource, crate::SpecErrors> {
        let mut errors = crate::SpecErrors::new();
        let mut source = MeterAlertsSource::new(client);
        if let Some(on) = self.out_of_range {
            source = source.out_of_range(on);
        }
        if let Some(hours) = self.stale_after_hours {
            if hours == 0 {
                errors.push(
                    crate::SpecError::new("/stale_after_hours", "must be at least 1")
                        .with_hint("leave it out for no staleness alerts"),
                );
            }
            source = source.stale_after(Duration::from_secs(u64::from(hours) * 3600));
        }
        source
            .window
            .spec_paging(&mut errors, self.limit, None, None, self.rate_limit_retries);
        if let Some(pages) = spec_meter_pages(&mut errors, self.max_meter_pages) {
            source = source.max_meter_pages(pages);
        }
        source.window.spec_path(&mut errors, self.path);
        if !source.out_of_range && source.stale_after.is_none() {
            errors.push(
                crate::SpecError::new("/out_of_range", "the source would report nothing")
                    .with_hint("keep out_of_range on, or set stale_after_hours"),
            );
        }
        errors.into_result(source)
    }
}
