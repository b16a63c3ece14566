//! The `fracttal.meter_readings` source: new meter readings, each judged against its
//! meter's limits.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::rows::{id_text, parse_date};
use super::scan::{self, number, number_value, paging_setters, spec_config, Query, Windowed};
use super::FracttalClient;
use crate::{Batch, Context, Cursor, Record, Source, SourceError};

/// The kind name of this source in flow specs.
pub const KIND: &str = "fracttal.meter_readings";

/// The record kind of a meter reading.
pub const READING_KIND: &str = "fracttal.meter_reading";

/// The `source` filter values of `meters_reading_list`.
const READING_SOURCES: &[&str] = &["API", "WORK_ORDER", "MANUAL"];

/// Where a reading stands against its meter's limits.
///
/// ```
/// use hubflow::fracttal::OutOfRange;
///
/// assert_eq!(OutOfRange::judge(81.0, Some(10.0), Some(80.0)), OutOfRange::Above);
/// assert_eq!(OutOfRange::judge(80.0, Some(10.0), Some(80.0)), OutOfRange::None); // at the limit: inside
/// assert_eq!(OutOfRange::judge(9.5, Some(10.0), None), OutOfRange::Below);
/// assert_eq!(OutOfRange::judge(1e9, None, None), OutOfRange::None); // no limits, never out of range
/// assert_eq!(OutOfRange::Above.as_str(), "above");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OutOfRange {
    /// Below the meter's `min_value`.
    Below,
    /// Above the meter's `max_value`.
    Above,
    /// Within the limits, exactly at one of them, or the meter has no limits.
    None,
}

impl OutOfRange {
    /// Judges `value` against the limits a meter has. A value equal to a limit is inside;
    /// a missing limit is no limit on that side. If `min` is above `max` (inconsistent
    /// limits), each is still applied as given, `min` first.
    pub fn judge(value: f64, min: Option<f64>, max: Option<f64>) -> OutOfRange {
        if min.is_some_and(|min| value < min) {
            OutOfRange::Below
        } else if max.is_some_and(|max| value > max) {
            OutOfRange::Above
        } else {
            OutOfRange::None
        }
    }

    /// `below`, `above` or `none`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutOfRange::Below => "below",
            OutOfRange::Above => "above",
            OutOfRange::None => "none",
        }
    }

    /// The words for people in `en`, `es`, `pt`, `fr` or `it`
    /// ([`LABEL_LANGUAGES`](super::LABEL_LANGUAGES)); `None` for other languages.
    pub fn label(self, language: &str) -> Option<&'static str> {
        super::rows::label_in(self.labels(), language)
    }

    /// The labels in [`LABEL_LANGUAGES`](super::LABEL_LANGUAGES) order.
    pub(crate) fn labels(self) -> [&'static str; 5] {
        match self {
            OutOfRange::Below => [
                "below the minimum",
                "por debajo del mínimo",
                "abaixo do mínimo",
                "en dessous du minimum",
                "sotto il minimo",
            ],
            OutOfRange::Above => [
                "above the maximum",
                "por encima del máximo",
                "acima do máximo",
                "au-dessus du maximum",
                "sopra il massimo",
            ],
            OutOfRange::None => [
                "within range",
                "dentro del rango",
                "dentro da faixa",
                "dans la plage",
                "entro i limiti",
            ],
        }
    }
}

/// A reading's meter serial: `serial`, else `meter_serial`.
fn serial_of(row: &Map<String, Value>) -> Option<String> {
    ["serial", "meter_serial"]
        .iter()
        .find_map(|field| row.get(*field).and_then(id_text))
}

fn reading_date(row: &Map<String, Value>) -> Option<DateTime<Utc>> {
    row.get("date").and_then(Value::as_str).and_then(parse_date)
}

/// The key of a reading: `fracttal:reading:<meter serial>:<reading date>`, the date in UTC
/// RFC 3339 so that one instant written two ways is one key. A reading without a readable
/// date or serial is keyed by a hash of its content instead of the missing part.
///
/// ```
/// use hubflow::fracttal::reading_key;
/// use serde_json::json;
///
/// let reading = json!({"serial": "112", "date": "2026-03-02T05:00:00-03", "value": 95});
/// assert_eq!(reading_key(reading.as_object().unwrap()), "fracttal:reading:112:2026-03-02T08:00:00Z");
/// ```
pub fn reading_key(row: &Map<String, Value>) -> String {
    let hash = || {
        format!(
            "#{:016x}",
            crate::record::stable_hash(&[Value::Object(row.clone()).to_string().as_bytes()])
        )
    };
    let serial = serial_of(row).unwrap_or_else(hash);
    let date = reading_date(row)
        .map(|at| at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
        .unwrap_or_else(hash);
    format!("fracttal:reading:{serial}:{date}")
}

/// Where a reading or a meter names its asset's code, in order of preference.
pub(super) const ASSET_CODE_FIELDS: &[&str] = &["code_item", "items_code", "item_code", "code"];

/// Where a reading or a meter names its asset, in order of preference.
pub(super) const ITEM_DESCRIPTION_FIELDS: &[&str] = &[
    "items_description",
    "item_description",
    "items_log_description",
    "parent_description",
];

/// Checks a spec's `max_meter_pages` (at least 1).
pub(super) fn spec_meter_pages(errors: &mut crate::SpecErrors, pages: Option<u32>) -> Option<u32> {
    if pages == Some(0) {
        errors.push(crate::SpecError::new(
            "/max_meter_pages",
            "must be at least 1",
        ));
    }
    pages
}

/// The first present field among `fields`, looked up in the reading, then in the meter.
pub(super) fn pick(
    reading: &Map<String, Value>,
    meter: Option<&Map<String, Value>>,
    fields: &[&str],
) -> Value {
    [Some(reading), meter]
        .into_iter()
        .flatten()
        .find_map(|row| {
            fields
                .iter()
                .filter_map(|field| row.get(*field))
                .find(|value| id_text(value).is_some())
        })
        .cloned()
        .unwrap_or(Value::Null)
}

/// The record of one reading, judged against its meter (`None`: the meter is not in the
/// meters list, so it has no known limits).
///
/// Kind [`READING_KIND`], key per [`reading_key`], `occurred_at` the reading's `date`, and
/// the reading's fields as received plus:
///
/// | field | value |
/// |---|---|
/// | `serial` | the meter's serial |
/// | `value` | the reading's value as a number (`null` if it is not one) |
/// | `min`, `max` | the meter's `min_value` / `max_value` (`null`: no limit) |
/// | `out_of_range` | `below`, `above` or `none` ([`OutOfRange`]) |
/// | `out_of_range_label` | `{"en": "above the maximum", "es": …, "pt": …, "fr": …, "it": …}` |
/// | `limit` | the limit crossed (`max` when above, `min` when below), else `null` |
/// | `units` | the meter's `units_code` |
/// | `value_text`, `limit_text` | value and limit with the units, e.g. `95.5 °C` (`null` when absent) |
/// | `meter_description` | the meter's `description` |
/// | `asset_code` | `code_item`, `items_code`, `item_code` or `code`, of the reading, else of the meter |
/// | `item_description` | `items_description`, `item_description`, `items_log_description` or `parent_description`, likewise |
/// | `meter` | the meter's row as received, or `null` |
///
/// A reading without a numeric value is never out of range.
///
/// ```
/// use hubflow::fracttal::reading_record;
/// use serde_json::json;
///
/// let meter = json!({"serial": "112", "min_value": 10, "max_value": "80", "units_code": "°C",
///                    "items_description": "Compressor 2"});
/// let reading = json!({"serial": "112", "date": "2026-03-02T08:00:00+00:00", "value": "95.5"});
/// let record = reading_record(reading.as_object().unwrap().clone(), meter.as_object());
/// assert_eq!(record.kind, "fracttal.meter_reading");
/// assert_eq!(record.data["out_of_range"], "above");
/// assert_eq!((record.data["value"].clone(), record.data["max"].clone()), (json!(95.5), json!(80)));
/// assert_eq!(record.data["item_description"], "Compressor 2");
/// assert_eq!((record.data["value_text"].clone(), record.data["limit_text"].clone()), (json!("95.5 °C"), json!("80 °C")));
/// ```
pub fn reading_record(reading: Map<String, Value>, meter: Option<&Map<String, Value>>) -> Record {
    let key = reading_key(&reading);
    let at = reading_date(&reading);
    let value = number(reading.get("value"));
    let min = meter.and_then(|m| number(m.get("min_value")));
    let max = meter.and_then(|m| number(m.get("max_value")));
    let judged = value.map_or(OutOfRange::None, |v| OutOfRange::judge(v, min, max));
    let limit = match judged {
        OutOfRange::Below => min,
        OutOfRange::Above => max,
        OutOfRange::None => None,
    };
    let asset_code = pick(&reading, meter, ASSET_CODE_FIELDS);
    let item_description = pick(&reading, meter, ITEM_DESCRIPTION_FIELDS);
    let num = |n: Option<f64>| n.map_or(Value::Null, number_value);
    let mut data = reading;
    let serial = serial_of(&data).map_or(Value::Null, Value::String);
    data.insert("serial".to_owned(), serial);
    data.insert("value".to_owned(), num(value));
    data.insert("min".to_owned(), num(min));
    data.insert("max".to_owned(), num(max));
    data.insert("out_of_range".to_owned(), json!(judged.as_str()));
    data.insert(
        "out_of_range_label".to_owned(),
        super::rows::labels_object(judged.labels()),
    );
    data.insert("limit".to_owned(), num(limit));
    let from_meter = |field: &str| {
        meter
            .and_then(|m| m.get(field))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let units = from_meter("units_code");
    // "95.5 °C": one template variable instead of two that may leave a stray space.
    let with_units = |n: Option<f64>| match (n.map(number_value), id_text(&units)) {
        (Some(n), Some(units)) => Value::String(format!("{n} {units}")),
        (Some(n), None) => Value::String(n.to_string()),
        (None, _) => Value::Null,
    };
    data.insert("value_text".to_owned(), with_units(value));
    data.insert("limit_text".to_owned(), with_units(limit));
    data.insert("units".to_owned(), units.clone());
    data.insert("meter_description".to_owned(), from_meter("description"));
    data.insert("asset_code".to_owned(), asset_code);
    data.insert("item_description".to_owned(), item_description);
    data.insert(
        "meter".to_owned(),
        meter.map_or(Value::Null, |m| Value::Object(m.clone())),
    );
    let record = Record::new(key, READING_KIND, Value::Object(data));
    match at {
        Some(at) => record.occurred_at(at),
        None => record,
    }
}

/// Polls the readings list (`GET meters_reading_list`) for readings new since the cursor,
/// joins each with its meter from the meters list (`GET meters_list`, read once per poll
/// and only when there are new readings), and returns one record per reading (see
/// [`reading_record`]): out of range or not, so a condition decides what alerts.
///
/// Each reading is keyed by its meter and date, so it alerts once. The cursor is the
/// work-order source's date watermark with the keys seen within one lookback of it (default
/// 10 minutes: readings entered late with an earlier date are still found within it); see
/// [`WorkOrdersSource`](super::WorkOrdersSource). Without a cursor the first poll starts at
/// [`since`](Self::since), or one lookback before now.
///
/// If the meters list cannot be read (an error answer, or more than
/// [`max_meter_pages`](Self::max_meter_pages) pages), the poll fails with that error and
/// returns no cursor, so the same readings are read again by the next poll: a reading is
/// never judged without its meter's limits. A reading whose meter is not in the list has
/// `meter: null` and no limits.
///
/// Fracttal documents the meters' fields (`serial`, `min_value`, `max_value`,
/// `units_code`, …) but not the reading rows; hubflow reads `serial` (else
/// `meter_serial`), `date` and `value`, the fields of the documented `PUT meter_reading`
/// body and of a meter's `last_data`, and asks for `since`/`until`, filtering the dates
/// itself as well in case the endpoint ignores them.
///
/// ```
/// use hubflow::fracttal::{FracttalClient, MeterReadingsSource};
///
/// let source = MeterReadingsSource::new(FracttalClient::new("key".into(), "secret".into()))
///     .reading_source("API");
/// assert_eq!(source.limit(), 100);
/// ```
#[derive(Debug, Clone)]
pub struct MeterReadingsSource {
    window: Windowed,
    meters_path: String,
    max_meter_pages: u32,
}

impl MeterReadingsSource {
    /// A source over `client`: paths `meters_reading_list` and `meters_list`, lookback 10
    /// minutes, 100 rows per page, at most 50 pages of readings and 50 of meters per poll,
    /// one wait per rate-limited page.
    pub fn new(client: FracttalClient) -> Self {
        MeterReadingsSource {
            window: Windowed::new(client, "meters_reading_list", Duration::from_secs(600)),
            meters_path: "meters_list".to_owned(),
            max_meter_pages: 50,
        }
    }

    paging_setters!(window);

    /// Only readings from this origin (`source`: `API`, `WORK_ORDER` or `MANUAL`).
    #[must_use]
    pub fn reading_source(mut self, origin: impl Into<String>) -> Self {
        self.window.filter("source", origin.into());
        self
    }

    /// The most pages of meters one poll reads (at least 1); a longer list fails the poll.
    #[must_use]
    pub fn max_meter_pages(mut self, pages: u32) -> Self {
        self.max_meter_pages = pages.max(1);
        self
    }

    /// The readings path below the base URL (default `meters_reading_list`).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.window.path = path.into();
        self
    }

    /// The meters path below the base URL (default `meters_list`).
    #[must_use]
    pub fn meters_path(mut self, path: impl Into<String>) -> Self {
        self.meters_path = path.into();
        self
    }
}

/// What the reading rows are: dated by their `date`, with no `type_date` to ask for.
const ROWS: scan::Rows<()> = scan::Rows {
    kind: KIND,
    what: "meter reading",
    type_date: |()| None,
    date_of: |row, ()| reading_date(row),
    key_of: reading_key,
};

#[async_trait]
impl Source for MeterReadingsSource {
    async fn poll(&self, ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let (rows, next) = self.window.scan(ctx, cursor, &ROWS, ()).await?;
        if rows.is_empty() {
            return Ok(Batch::new(Vec::new(), Some(next)));
        }
        // Once per poll, and only when there is something to judge.
        let meters = Query {
            path: &self.meters_path,
            filters: &[],
            ..self.window.query(None)
        }
        .all_rows(ctx, self.max_meter_pages, "meter")
        .await?;
        let by_serial: HashMap<String, &Map<String, Value>> = meters
            .iter()
            .filter_map(|meter| Some((meter.get("serial").and_then(id_text)?, meter)))
            .collect();
        let records = rows
            .into_iter()
            .map(|new| {
                let meter = serial_of(&new.row).and_then(|s| by_serial.get(&s).copied());
                reading_record(new.row, meter)
            })
            .collect();
        Ok(Batch::new(records, Some(next)))
    }
}

spec_config! {
    /// The source's spec config (see the module docs).
    ReadingsConfig {
        source: String,
        since,
        until,
        lookback_secs,
        limit,
        max_pages,
        max_meter_pages: u32,
        rate_limit_retries,
        path,
        meters_path: String,
    }
}

impl ReadingsConfig {
    pub(crate) fn apply(
        self,
        client: FracttalClient,
    ) -> Result<MeterReadingsSource, crate::SpecErrors> {
        let mut errors = crate::SpecErrors::new();
        let mut source = MeterReadingsSource::new(client);
        if let Some(origin) = self.source {
            if !READING_SOURCES.contains(&origin.as_str()) {
                errors.push(
                    crate::SpecError::new("/source", format!("unknown reading source `{origin}`"))
                        .with_hint(format!("one of {}", READING_SOURCES.join(", "))),
                );
            }
            source = source.reading_source(origin);
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
        if let Some(pages) = spec_meter_pages(&mut errors, self.max_meter_pages) {
            source = source.max_meter_pages(pages);
        }
        source.window.spec_path(&mut errors, self.path);
        if let Some(path) = self.meters_path {
            source.window.check_path(&mut errors, "meters_path", &path);
            source = source.meters_path(path);
        }
        errors.into_result(source)
    }
}

#[cfg(test)]
mod tests;
