//! Paged queries and the date-window cursor shared by the polling sources
//! (`fracttal.work_orders`, `fracttal.meter_readings`, `fracttal.work_requests`), plus the
//! page request with its rate-limit waits that the work-order status source uses as well.
//!
//! The cursor (described on [`WorkOrdersSource`](super::WorkOrdersSource)) is a date
//! watermark, the keys seen within one lookback of it, and the offset to resume at when a
//! scan is cut short.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, DurationRound, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::error::{FracttalError, PROVIDER};
use super::rows::format_date;
use super::{Envelope, FracttalClient};
use crate::{Context, Cursor, SourceError};

/// More seen keys than this are not kept in a cursor; the oldest go first.
pub(crate) const MAX_SEEN: usize = 20_000;

/// One paged query: where, with which fixed filters, and how patiently.
pub(crate) struct Query<'a> {
    pub client: &'a FracttalClient,
    pub path: &'a str,
    pub filters: &'a [(&'static str, String)],
    /// The `type_date` sent beside `since`/`until`; `None` sends none.
    pub type_date: Option<&'a str>,
    pub limit: u32,
    pub rate_limit_retries: u32,
}

impl Query<'_> {
    /// One page at offset `start`. A 406/429 answer is waited out through the context's
    /// clock and the same page asked again, up to `rate_limit_retries` times.
    pub async fn page(
        &self,
        ctx: &Context,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        start: u64,
    ) -> Result<Envelope, FracttalError> {
        let start_text = start.to_string();
        let limit_text = self.limit.to_string();
        // The filter has no fraction: flooring keeps rows of the boundary second.
        let since_text = since.map(|at| format_date(floor_second(at)));
        let until_text = until.map(format_date);
        let mut query: Vec<(&str, &str)> = vec![("start", &start_text), ("limit", &limit_text)];
        if let Some(since) = &since_text {
            query.push(("since", since));
        }
        if let Some(until) = &until_text {
            query.push(("until", until));
        }
        if let (Some(type_date), true) =
            (self.type_date, since_text.is_some() || until_text.is_some())
        {
            query.push(("type_date", type_date));
        }
        for (name, value) in self.filters {
            query.push((name, value));
        }
        let mut waits = 0;
        loop {
            match self.client.get(ctx, self.path, &query).await {
                Err(FracttalError::RateLimited { retry_after, .. })
                    if waits < self.rate_limit_retries =>
                {
                    waits += 1;
                    ctx.clock().sleep(retry_after).await;
                }
                other => return other,
            }
        }
    }

    /// Every row of an unwindowed list (e.g. the meters), at most `max_pages` pages. A list
    /// longer than that fails rather than being used half read: a missing row would turn
    /// into a wrong answer (a meter without limits), not into a later one.
    pub async fn all_rows(
        &self,
        ctx: &Context,
        max_pages: u32,
        what: &str,
    ) -> Result<Vec<Map<String, Value>>, SourceError> {
        let mut rows = Vec::new();
        let mut start = 0u64;
        for _ in 0..max_pages {
            let envelope = self.page(ctx, None, None, start).await?;
            let page = envelope.rows();
            for (index, row) in page.iter().enumerate() {
                rows.push(object(row, index, start, what)?.clone());
            }
            start += page.len() as u64;
            let total_reached = envelope.total.is_some_and(|total| start >= total);
            if page.len() < self.limit as usize || total_reached {
                return Ok(rows);
            }
        }
        Err(SourceError::Response {
            provider: PROVIDER.to_owned(),
            message: format!(
                "the {what} list has more than {max_pages} pages of {} rows; raise the page limit \
                 so every row is read",
                self.limit
            ),
        })
    }
}

/// A row as an object, or the poll's error naming its position.
pub(crate) fn object<'v>(
    row: &'v Value,
    index: usize,
    start: u64,
    what: &str,
) -> Result<&'v Map<String, Value>, SourceError> {
    match row {
        Value::Object(map) => Ok(map),
        _ => Err(SourceError::Response {
            provider: PROVIDER.to_owned(),
            message: format!("data[{index}] of the page at start={start} is not a {what} object"),
        }),
    }
}

/// The date window of a scan.
pub(crate) struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub lookback: Duration,
    pub max_pages: u32,
}

/// A new row of a scan with its date.
pub(crate) struct NewRow {
    pub row: Map<String, Value>,
    pub date: Option<DateTime<Utc>>,
    pub key: String,
}

/// The cursor's JSON form (see [`WorkOrdersSource`](super::WorkOrdersSource)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    watermark: Option<DateTime<Utc>>,
    #[serde(default)]
    seen: BTreeMap<String, DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resume: Option<Resume>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Resume {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<DateTime<Utc>>,
    start: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    latest: Option<DateTime<Utc>>,
}

/// Reads a stored cursor of this source kind, or says to delete it.
pub(crate) fn read_cursor<T: serde::de::DeserializeOwned + Default>(
    cursor: Option<&Cursor>,
    kind: &str,
) -> Result<T, SourceError> {
    match cursor {
        Some(cursor) => T::deserialize(cursor.value()).map_err(|e| SourceError::Response {
            provider: PROVIDER.to_owned(),
            message: format!(
                "the stored cursor is not a {kind} cursor ({e}); delete it to start again"
            ),
        }),
        None => Ok(T::default()),
    }
}

/// Writes a cursor.
pub(crate) fn write_cursor<T: Serialize>(state: &T) -> Result<Cursor, SourceError> {
    serde_json::to_value(state)
        .map(Cursor::new)
        .map_err(|e| SourceError::Response {
            provider: PROVIDER.to_owned(),
            message: format!("the cursor could not be written: {e}"),
        })
}

/// Reads a row's date.
pub(crate) type DateOf = dyn Fn(&Map<String, Value>) -> Option<DateTime<Utc>> + Sync;
/// Makes a row's key.
pub(crate) type KeyOf = dyn Fn(&Map<String, Value>) -> String + Sync;

/// What the rows of a scan are.
pub(crate) struct Rows<'a> {
    /// The source kind, for cursor errors.
    pub kind: &'a str,
    /// A row's name in errors.
    pub what: &'a str,
    pub date_of: &'a DateOf,
    pub key_of: &'a KeyOf,
}

/// Walks the pages of `query` from the cursor's horizon and returns the rows not returned
/// before, oldest first, with the next cursor.
pub(crate) async fn scan(
    ctx: &Context,
    cursor: Option<&Cursor>,
    query: &Query<'_>,
    window: &Window,
    rows_of: &Rows<'_>,
) -> Result<(Vec<NewRow>, Cursor), SourceError> {
    let Rows {
        kind,
        what,
        date_of,
        key_of,
    } = rows_of;
    let now = ctx.clock().now();
    let mut state: State = read_cursor(cursor, kind)?;
    let (horizon, first_start, mut latest) = match &state.resume {
        Some(resume) => (resume.since, resume.start, resume.latest),
        None => {
            let horizon = match state.watermark {
                Some(watermark) => minus(watermark, window.lookback),
                None => window.since.unwrap_or_else(|| minus(now, window.lookback)),
            };
            (Some(horizon), 0, None)
        }
    };
    // A configured `since` is a hard floor, also under a cursor.
    let horizon = match (horizon, window.since) {
        (Some(h), Some(s)) => Some(h.max(s)),
        (h, s) => h.or(s),
    };

    let mut rows: Vec<NewRow> = Vec::new();
    let mut start = first_start;
    let mut complete = false;
    for _ in 0..window.max_pages {
        let envelope = query.page(ctx, horizon, window.until, start).await?;
        let page = envelope.rows();
        for (index, row) in page.iter().enumerate() {
            let row = object(row, index, start, what)?;
            let date = date_of(row);
            if let Some(date) = date {
                // The API may ignore the window; history must not flow in.
                if horizon.is_some_and(|h| date < h) || window.until.is_some_and(|u| date > u) {
                    continue;
                }
                latest = latest.max(Some(date));
            }
            let key = key_of(row);
            // `seen` also holds the keys taken earlier in this poll, so a row repeated when
            // pages shift is dropped too.
            if state.seen.contains_key(&key) {
                continue;
            }
            state.seen.insert(key.clone(), date.unwrap_or(now));
            rows.push(NewRow {
                row: row.clone(),
                date,
                key,
            });
        }
        start += page.len() as u64;
        let total_reached = envelope.total.is_some_and(|total| start >= total);
        if page.len() < query.limit as usize || total_reached {
            complete = true;
            break;
        }
    }

    if complete {
        state.resume = None;
        state.watermark = state.watermark.max(latest);
        if let Some(watermark) = state.watermark {
            let keep_from = minus(watermark, window.lookback);
            // Undated rows were stored at the poll's instant; they age out the same way.
            state.seen.retain(|_, at| *at >= keep_from);
        }
    } else {
        // Rows still unread may be older than those read: the watermark waits.
        state.resume = Some(Resume {
            since: horizon,
            start,
            latest,
        });
    }
    cap_by_date(&mut state.seen, MAX_SEEN, |at| *at);
    // Oldest first; rows of one instant in key order, whatever order the pages had.
    rows.sort_by(|a, b| (a.date.unwrap_or(now), &a.key).cmp(&(b.date.unwrap_or(now), &b.key)));
    Ok((rows, write_cursor(&state)?))
}

/// Checks the paging options of a source's spec config.
pub(crate) fn check_paging(
    errors: &mut crate::SpecErrors,
    limit: Option<u32>,
    max_pages: Option<u32>,
) {
    if let Some(limit) = limit.filter(|l| !(1..=super::MAX_PAGE_SIZE).contains(l)) {
        errors.push(
            crate::SpecError::new("/limit", format!("{limit} rows per page"))
                .with_hint("Fracttal pages hold 1 to 100 rows"),
        );
    }
    if max_pages == Some(0) {
        errors.push(crate::SpecError::new("/max_pages", "must be at least 1"));
    }
}

/// Keeps at most `max` entries, dropping those with the oldest dates first.
pub(crate) fn cap_by_date<V>(
    map: &mut BTreeMap<String, V>,
    max: usize,
    date: impl Fn(&V) -> DateTime<Utc>,
) {
    if map.len() <= max || max == 0 {
        return;
    }
    let mut dates: Vec<DateTime<Utc>> = map.values().map(&date).collect();
    dates.sort_unstable();
    // In bounds: this runs only when there are more than `max` (≥ 1) dates.
    let cut = dates[dates.len() - max];
    map.retain(|_, value| date(value) >= cut);
}

pub(crate) fn floor_second(at: DateTime<Utc>) -> DateTime<Utc> {
    at.duration_trunc(chrono::Duration::seconds(1))
        .unwrap_or(at)
}

pub(crate) fn minus(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(by)
        .ok()
        .and_then(|d| at.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A number from a JSON number or a numeric text (Fracttal sends both); `None` for
/// anything else, blanks and non-finite values included.
pub(crate) fn number(value: Option<&Value>) -> Option<f64> {
    match value? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|f| f.is_finite())
}

/// A number as JSON: integral values stay integers (`120`, not `120.0`), so templates print
/// them as people write them.
pub(crate) fn number_value(n: f64) -> Value {
    // Exactly representable integers only: beyond 2^53 an f64 has no fraction digits to lose.
    if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n).map_or(Value::Null, Value::Number)
    }
}

/// The paging setters every windowed Fracttal source has, written once. Expands inside
/// the source's `impl` block; the source has the fields `since`, `until`, `limit`,
/// `max_pages`, `lookback`, `rate_limit_retries` and `client`.
macro_rules! paging_setters {
    () => {
        /// Never rows dated before this instant; also where the first poll starts.
        #[must_use]
        pub fn since(mut self, at: DateTime<Utc>) -> Self {
            self.since = Some(at);
            self
        }

        /// Never rows dated after this instant (`until`).
        #[must_use]
        pub fn until(mut self, at: DateTime<Utc>) -> Self {
            self.until = Some(at);
            self
        }

        /// Rows per page, 1 to 100 (clamped).
        #[must_use]
        pub fn page_size(mut self, limit: u32) -> Self {
            self.limit = limit.clamp(1, MAX_PAGE_SIZE);
            self
        }

        /// The most pages one poll reads (at least 1); the rest waits for the next poll.
        #[must_use]
        pub fn max_pages(mut self, pages: u32) -> Self {
            self.max_pages = pages.max(1);
            self
        }

        /// How far before the watermark each poll looks again, for rows that arrive late.
        #[must_use]
        pub fn lookback(mut self, lookback: Duration) -> Self {
            self.lookback = lookback;
            self
        }

        /// How often one page is asked again after a 406/429 (0: fail the poll at once).
        #[must_use]
        pub fn rate_limit_retries(mut self, retries: u32) -> Self {
            self.rate_limit_retries = retries;
            self
        }

        /// The client.
        pub fn client(&self) -> &FracttalClient {
            &self.client
        }

        /// Rows per page.
        pub fn limit(&self) -> u32 {
            self.limit
        }
    };
}
pub(crate) use paging_setters;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn caps_keep_the_newest_dates() {
        let day =
            |d: u32| -> DateTime<Utc> { format!("2026-03-{d:02}T00:00:00Z").parse().unwrap() };
        let mut map: BTreeMap<String, DateTime<Utc>> =
            (1..=5).map(|d| (format!("k{d}"), day(d))).collect();
        cap_by_date(&mut map, 2, |at| *at);
        assert_eq!(map.keys().collect::<Vec<_>>(), ["k4", "k5"]);
        cap_by_date(&mut map, 0, |at| *at);
        assert_eq!(map.len(), 2, "0 means no bound, not an empty map");
    }

    #[test]
    fn numbers_from_json_or_text() {
        assert_eq!(number(Some(&json!(2.5))), Some(2.5));
        assert_eq!(number(Some(&json!(" 80 "))), Some(80.0));
        for none in [json!(""), json!(null), json!("NaN"), json!([1]), json!("x")] {
            assert_eq!(number(Some(&none)), None, "{none}");
        }
        assert_eq!(number(None), None);
        assert_eq!(number_value(120.0), json!(120));
        assert_eq!(number_value(-0.5), json!(-0.5));
        assert_eq!(number_value(1e300), json!(1e300));
    }
}
