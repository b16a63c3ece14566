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
use super::rows::{format_date, parse_date};
use super::work_orders::MAX_PAGE_SIZE;
use super::{Envelope, FracttalClient};
use crate::{Batch, Context, Cursor, Record, SourceError, SpecError, SpecErrors};

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
        let pages = Pages {
            since: None,
            until: None,
            start: 0,
            max_pages,
            what,
        };
        let walked = self.walk(ctx, &pages, |row| rows.push(row.clone())).await?;
        if walked.complete {
            return Ok(rows);
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

    /// Reads the pages of `pages` in order and hands every row object to `each`. The walk
    /// ends at the list's end (a short page, or the `total` reached) or after
    /// `pages.max_pages` pages; a row that is not an object fails it with its position.
    pub async fn walk(
        &self,
        ctx: &Context,
        pages: &Pages<'_>,
        mut each: impl FnMut(&Map<String, Value>),
    ) -> Result<Walked, SourceError> {
        let mut start = pages.start;
        for _ in 0..pages.max_pages {
            let envelope = self.page(ctx, pages.since, pages.until, start).await?;
            let page = envelope.rows();
            for (index, row) in page.iter().enumerate() {
                each(object(row, index, start, pages.what)?);
            }
            start += page.len() as u64;
            let total_reached = envelope.total.is_some_and(|total| start >= total);
            if page.len() < self.limit as usize || total_reached {
                return Ok(Walked {
                    next: start,
                    complete: true,
                });
            }
        }
        Ok(Walked {
            next: start,
            complete: false,
        })
    }
}

/// Which pages a [`Query::walk`] reads.
pub(crate) struct Pages<'a> {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    /// The offset of the first row.
    pub start: u64,
    pub max_pages: u32,
    /// A row's name in errors.
    pub what: &'a str,
}

/// Where a [`Query::walk`] stopped.
pub(crate) struct Walked {
    /// The offset after the last row read.
    pub next: u64,
    /// Whether the list was read to its end.
    pub complete: bool,
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

/// What the rows of a windowed source are. `D` is the source's choice of row date (its
/// `type_date`; `()` for a source without one).
pub(crate) struct Rows<D> {
    /// The source kind, for cursor errors.
    pub kind: &'static str,
    /// A row's name in errors.
    pub what: &'static str,
    /// The `type_date` sent beside `since`/`until`; `None` sends none.
    pub type_date: fn(D) -> Option<&'static str>,
    /// A row's date.
    pub date_of: fn(&Map<String, Value>, D) -> Option<DateTime<Utc>>,
    /// A row's key.
    pub key_of: fn(&Map<String, Value>) -> String,
}

/// Where a windowed source reads, with which fixed filters, over which dates and how it
/// pages: the settings the windowed sources share. Each source embeds one as `window`, sets
/// it through [`paging_setters`] and, from a spec config, through
/// [`spec_dates`](Self::spec_dates), [`spec_paging`](Self::spec_paging) and
/// [`spec_path`](Self::spec_path).
#[derive(Debug, Clone)]
pub(crate) struct Windowed {
    pub client: FracttalClient,
    /// The endpoint path below the base URL.
    pub path: String,
    /// Fixed query filters, one value per name.
    pub filters: Vec<(&'static str, String)>,
    /// Never rows dated before this instant; also where the first poll starts.
    pub since: Option<DateTime<Utc>>,
    /// Never rows dated after this instant.
    pub until: Option<DateTime<Utc>>,
    /// How far before the watermark each poll looks again.
    pub lookback: Duration,
    /// Rows per page.
    pub limit: u32,
    /// The most pages one poll reads.
    pub max_pages: u32,
    /// How often one page is asked again after a 406/429.
    pub rate_limit_retries: u32,
}

impl Windowed {
    /// Settings over `client` and `path` looking `lookback` back: no filters, no dates, 100
    /// rows per page, at most 50 pages per poll, one wait per rate-limited page.
    pub fn new(client: FracttalClient, path: &str, lookback: Duration) -> Self {
        Windowed {
            client,
            path: path.to_owned(),
            filters: Vec::new(),
            since: None,
            until: None,
            lookback,
            limit: MAX_PAGE_SIZE,
            max_pages: 50,
            rate_limit_retries: 1,
        }
    }

    /// Sets the filter `name`, replacing its earlier value.
    pub fn filter(&mut self, name: &'static str, value: String) {
        self.filters.retain(|(n, _)| *n != name);
        self.filters.push((name, value));
    }

    /// Rows per page, clamped to 1 to 100.
    pub fn set_page_size(&mut self, limit: u32) {
        self.limit = limit.clamp(1, MAX_PAGE_SIZE);
    }

    /// Pages per poll, at least 1.
    pub fn set_max_pages(&mut self, pages: u32) {
        self.max_pages = pages.max(1);
    }

    /// The paged query of the source's path and filters, with `type_date` beside the dates.
    pub fn query<'a>(&'a self, type_date: Option<&'a str>) -> Query<'a> {
        Query {
            client: &self.client,
            path: &self.path,
            filters: &self.filters,
            type_date,
            limit: self.limit,
            rate_limit_retries: self.rate_limit_retries,
        }
    }

    /// One poll of a source whose new rows become records one by one: [`scan`](Self::scan)
    /// with the row date `dated_by`, then `record` of each row, oldest first.
    pub async fn poll<D: Copy + Sync>(
        &self,
        ctx: &Context,
        cursor: Option<&Cursor>,
        rows_of: &Rows<D>,
        dated_by: D,
        record: fn(Map<String, Value>, D) -> Record,
    ) -> Result<Batch, SourceError> {
        let (rows, next) = self.scan(ctx, cursor, rows_of, dated_by).await?;
        let records = rows
            .into_iter()
            .map(|new| record(new.row, dated_by))
            .collect();
        Ok(Batch::new(records, Some(next)))
    }

    /// Walks the pages of the source's query from the cursor's horizon and returns the rows
    /// not returned before, oldest first, with the next cursor.
    pub async fn scan<D: Copy + Sync>(
        &self,
        ctx: &Context,
        cursor: Option<&Cursor>,
        rows_of: &Rows<D>,
        dated_by: D,
    ) -> Result<(Vec<NewRow>, Cursor), SourceError> {
        let Rows {
            kind,
            what,
            type_date,
            date_of,
            key_of,
        } = *rows_of;
        let now = ctx.clock().now();
        let mut state: State = read_cursor(cursor, kind)?;
        let (horizon, first_start, mut latest) = match &state.resume {
            Some(resume) => (resume.since, resume.start, resume.latest),
            None => {
                let horizon = match state.watermark {
                    Some(watermark) => minus(watermark, self.lookback),
                    None => self.since.unwrap_or_else(|| minus(now, self.lookback)),
                };
                (Some(horizon), 0, None)
            }
        };
        // A configured `since` is a hard floor, also under a cursor.
        let horizon = match (horizon, self.since) {
            (Some(h), Some(s)) => Some(h.max(s)),
            (h, s) => h.or(s),
        };

        let mut rows: Vec<NewRow> = Vec::new();
        let pages = Pages {
            since: horizon,
            until: self.until,
            start: first_start,
            max_pages: self.max_pages,
            what,
        };
        let until = self.until;
        let seen = &mut state.seen;
        let walked = self
            .query(type_date(dated_by))
            .walk(ctx, &pages, |row| {
                let date = date_of(row, dated_by);
                if let Some(date) = date {
                    // The API may ignore the window; history must not flow in.
                    if horizon.is_some_and(|h| date < h) || until.is_some_and(|u| date > u) {
                        return;
                    }
                    latest = latest.max(Some(date));
                }
                let key = key_of(row);
                // `seen` also holds the keys taken earlier in this poll, so a row repeated
                // when pages shift is dropped too.
                if seen.contains_key(&key) {
                    return;
                }
                seen.insert(key.clone(), date.unwrap_or(now));
                rows.push(NewRow {
                    row: row.clone(),
                    date,
                    key,
                });
            })
            .await?;

        if walked.complete {
            state.resume = None;
            state.watermark = state.watermark.max(latest);
            if let Some(watermark) = state.watermark {
                let keep_from = minus(watermark, self.lookback);
                // Undated rows were stored at the poll's instant; they age out the same way.
                state.seen.retain(|_, at| *at >= keep_from);
            }
        } else {
            // Rows still unread may be older than those read: the watermark waits.
            state.resume = Some(Resume {
                since: horizon,
                start: walked.next,
                latest,
            });
        }
        cap_by_date(&mut state.seen, MAX_SEEN, |at| *at);
        // Oldest first; rows of one instant in key order, whatever order the pages had.
        rows.sort_by(|a, b| (a.date.unwrap_or(now), &a.key).cmp(&(b.date.unwrap_or(now), &b.key)));
        Ok((rows, write_cursor(&state)?))
    }

    /// Sets `since` and `until` from a spec config; a text that is not a date is an error
    /// at its field.
    pub fn spec_dates(
        &mut self,
        errors: &mut SpecErrors,
        since: Option<&str>,
        until: Option<&str>,
    ) {
        for (field, value) in [("since", since), ("until", until)] {
            let Some(text) = value else { continue };
            match parse_date(text) {
                Some(at) if field == "since" => self.since = Some(at),
                Some(at) => self.until = Some(at),
                None => errors.push(
                    SpecError::new(format!("/{field}"), format!("not a date: `{text}`"))
                        .with_hint("e.g. 2026-03-01T00:00:00Z or 2026-03-01T00:00:00-03"),
                ),
            }
        }
    }

    /// Sets the paging fields of a spec config: `limit` (1 to 100 rows per page),
    /// `max_pages` (at least 1), `lookback_secs` and `rate_limit_retries`; a value out of
    /// range is an error at its field (and still set, clamped).
    pub fn spec_paging(
        &mut self,
        errors: &mut SpecErrors,
        limit: Option<u32>,
        max_pages: Option<u32>,
        lookback_secs: Option<u64>,
        rate_limit_retries: Option<u32>,
    ) {
        if let Some(limit) = limit {
            if !(1..=MAX_PAGE_SIZE).contains(&limit) {
                errors.push(
                    SpecError::new("/limit", format!("{limit} rows per page"))
                        .with_hint("Fracttal pages hold 1 to 100 rows"),
                );
            }
            self.set_page_size(limit);
        }
        if let Some(pages) = max_pages {
            if pages == 0 {
                errors.push(SpecError::new("/max_pages", "must be at least 1"));
            }
            self.set_max_pages(pages);
        }
        if let Some(secs) = lookback_secs {
            self.lookback = Duration::from_secs(secs);
        }
        if let Some(retries) = rate_limit_retries {
            self.rate_limit_retries = retries;
        }
    }

    /// Sets the `path` of a spec config; one the client cannot join to its base URL is an
    /// error at `/path`.
    pub fn spec_path(&mut self, errors: &mut SpecErrors, path: Option<String>) {
        if let Some(path) = path {
            self.check_path(errors, "path", &path);
            self.path = path;
        }
    }

    /// Says at `/<field>` when the client cannot join `path` to its base URL.
    pub fn check_path(&self, errors: &mut SpecErrors, field: &str, path: &str) {
        if let Err(e) = self.client.url(path) {
            errors.push(SpecError::new(format!("/{field}"), e.to_string()));
        }
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

/// The setters every windowed Fracttal source has, written once. Expands inside the
/// source's `impl` block; the source has its [`Windowed`] settings in the field `window`.
/// `paging_setters!(window)` adds `since`, `until` and `lookback` to the paging setters of
/// `paging_setters!()`.
macro_rules! paging_setters {
    (window) => {
        /// Never rows dated before this instant; also where the first poll starts.
        #[must_use]
        pub fn since(mut self, at: DateTime<Utc>) -> Self {
            self.window.since = Some(at);
            self
        }

        /// Never rows dated after this instant (`until`).
        #[must_use]
        pub fn until(mut self, at: DateTime<Utc>) -> Self {
            self.window.until = Some(at);
            self
        }

        /// How far before the watermark each poll looks again, for rows that arrive late.
        #[must_use]
        pub fn lookback(mut self, lookback: Duration) -> Self {
            self.window.lookback = lookback;
            self
        }

        paging_setters!();
    };
    () => {
        /// Rows per page, 1 to 100 (clamped).
        #[must_use]
        pub fn page_size(mut self, limit: u32) -> Self {
            self.window.set_page_size(limit);
            self
        }

        /// The most pages one poll reads (at least 1); the rest waits for the next poll.
        #[must_use]
        pub fn max_pages(mut self, pages: u32) -> Self {
            self.window.set_max_pages(pages);
            self
        }

        /// How often one page is asked again after a 406/429 (0: fail the poll at once).
        #[must_use]
        pub fn rate_limit_retries(mut self, retries: u32) -> Self {
            self.window.rate_limit_retries = retries;
            self
        }

        /// The client.
        pub fn client(&self) -> &FracttalClient {
            &self.window.client
        }

        /// Rows per page.
        pub fn limit(&self) -> u32 {
            self.window.limit
        }
    };
}
pub(crate) use paging_setters;

/// Declares a windowed source's spec config: `connection`, then every field named, in the
/// order given (the order serde's "expected one of" lists when it refuses an unknown
/// field), each optional. A field named bare is one the windowed sources share, typed here:
/// `since`, `until` and `path` (text), `lookback_secs`, `limit`, `max_pages`,
/// `rate_limit_retries`; the others carry their type (`status: u8`).
///
/// A macro because serde's `flatten` would share the fields but does not go with
/// `deny_unknown_fields`, and would lose the error paths and hints of the flattened ones.
macro_rules! spec_config {
    (@type since) => { String };
    (@type until) => { String };
    (@type path) => { String };
    (@type lookback_secs) => { u64 };
    (@type limit) => { u32 };
    (@type max_pages) => { u32 };
    (@type rate_limit_retries) => { u32 };
    (@type $field:ident $ty:ty) => { $ty };
    ($(#[$meta:meta])* $name:ident { $($field:ident $(: $ty:ty)?),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, serde::Deserialize)]
        #[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
        #[serde(deny_unknown_fields)]
        pub(crate) struct $name {
            pub connection: String,
            $(
                #[serde(default)]
                pub $field: Option<spec_config!(@type $field $($ty)?)>,
            )*
        }
    };
}
pub(crate) use spec_config;

#[cfg(test)]
mod tests;
