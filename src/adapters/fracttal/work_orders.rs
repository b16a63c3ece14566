//! The `fracttal.work_orders` source: work-order task rows, paged, with a cursor.

use std::time::Duration;

use super::rows::{row_date, work_order_key, work_order_record, TypeDate};
use super::scan::{self, paging_setters, spec_config, Windowed};
use super::FracttalClient;
use crate::{Batch, Context, Cursor, Source, SourceError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The kind name of this source in flow specs.
pub const KIND: &str = "fracttal.work_orders";

/// The most rows Fracttal returns per page.
pub const MAX_PAGE_SIZE: u32 = 100;

/// The filter setters of "Query tasks in WOs" that both work-order sources take, written
/// once. Expands inside the source's `impl` block, which has a `filter(self, name, value)`.
macro_rules! work_order_filters {
    () => {
        /// Only this asset (`code_asset`).
        #[must_use]
        pub fn code_asset(self, code: impl Into<String>) -> Self {
            self.filter("code_asset", code.into())
        }

        /// Only this location (`code_location`).
        #[must_use]
        pub fn code_location(self, code: impl Into<String>) -> Self {
            self.filter("code_location", code.into())
        }

        /// Only this work order (`folio`).
        #[must_use]
        pub fn folio(self, folio: impl Into<String>) -> Self {
            self.filter("folio", folio.into())
        }
    };
}
pub(crate) use work_order_filters;

/// The spec fields of the work-order filters, in the order the sources set them.
const FILTER_FIELDS: [&str; 3] = ["code_asset", "code_location", "folio"];

/// Sets the work-order filters a spec config gives (`code_asset`, `code_location`,
/// `folio`, in that order).
pub(crate) fn spec_filters(window: &mut Windowed, values: [Option<String>; 3]) {
    for (name, value) in FILTER_FIELDS.into_iter().zip(values) {
        if let Some(value) = value {
            window.filter(name, value);
        }
    }
}

/// Polls "Query tasks in WOs" (`GET work_orders/`): one [`Record`](crate::Record) per task
/// row, key `fracttal:wo:<id_work_orders_tasks>:<id_status_work_order>`, kind
/// `fracttal.work_order`, `occurred_at` the row's [`TypeDate`] field, the Hub
/// [aliases](super::ALIASES) added.
///
/// # The cursor
///
/// Fracttal has no "modified since" query and its paging is by offset, so the cursor keeps:
///
/// * `watermark`: the latest row date seen (the [`TypeDate`] field);
/// * `seen`: every row key seen with its date, for rows dated from `watermark - lookback` on;
/// * `resume`: while a scan is cut short by [`max_pages`](Self::max_pages), where to go on.
///
/// Each poll asks for `since = watermark - lookback` (floored to the second: the filter has
/// no fraction), walks every page, and returns a row only if its key is not in `seen` and
/// its date is not before that horizon. So rows sharing the boundary instant, rows that
/// show up late within the lookback (default 60 s), rows repeated when pages shift, and
/// rows whose status changed (a new key) within the window are each returned exactly once,
/// whether `since` is inclusive or not and whatever order Fracttal pages in. Rows older
/// than the horizon are taken as handled. Records are returned oldest first.
///
/// When [`max_pages`](Self::max_pages) cuts a scan short, the cursor does not move its
/// watermark (rows still unread may be older than the rows read); it records the next offset
/// and the next poll continues the same query there. Rows without a readable date are
/// remembered under the instant of the poll that saw them, and forgotten once the watermark
/// is one lookback past that instant; if Fracttal still returns them then, they come again.
///
/// Without a cursor, the first poll starts at [`since`](Self::since), or one lookback before
/// now: a new flow does not replay the company's history.
///
/// # Rate limits
///
/// Every request waits for the client's limiter. A 406/429 answer mid-scan is waited out
/// here (the reset the headers give, else 60 s, through the context's clock) and the same
/// page asked again, up to [`rate_limit_retries`](Self::rate_limit_retries) times per
/// page; then the poll fails with a retryable error and the cursor stays where it was.
///
/// ```
/// use hubflow::fracttal::{FracttalClient, TypeDate, WorkOrdersSource};
/// use std::time::Duration;
///
/// let client = FracttalClient::new("key".into(), "secret".into());
/// let source = WorkOrdersSource::new(client)
///     .status(1)
///     .code_asset("PUMP-3")
///     .type_date(TypeDate::CreationDate)
///     .lookback(Duration::from_secs(120))
///     .max_pages(20);
/// assert_eq!(source.limit(), 100);
/// ```
#[derive(Debug, Clone)]
pub struct WorkOrdersSource {
    window: Windowed,
    type_date: TypeDate,
}

impl WorkOrdersSource {
    /// A source over `client` with the defaults: path `work_orders/`, 100 rows per page, at
    /// most 50 pages per poll, lookback 60 s, one wait per rate-limited page.
    pub fn new(client: FracttalClient) -> Self {
        WorkOrdersSource {
            window: Windowed::new(client, "work_orders/", Duration::from_secs(60)),
            type_date: TypeDate::CreationDate,
        }
    }

    paging_setters!(window);

    fn filter(mut self, name: &'static str, value: String) -> Self {
        self.window.filter(name, value);
        self
    }

    /// Only work orders in this status (`ot_status`: 1 in process, 2 review, 3 completed,
    /// 4 cancelled).
    #[must_use]
    pub fn status(self, status: u8) -> Self {
        self.filter("ot_status", status.to_string())
    }

    work_order_filters!();

    /// Which date the window and the watermark use (`type_date`; default `creation_date`).
    #[must_use]
    pub fn type_date(mut self, type_date: TypeDate) -> Self {
        self.type_date = type_date;
        self
    }

    /// The endpoint path below the base URL (default `work_orders/`).
    #[must_use]
    pub fn path(mut self, path: impl Into<String>) -> Self {
        self.window.path = path.into();
        self
    }
}

/// What the work-order rows are: dated by the source's [`TypeDate`].
const ROWS: scan::Rows<TypeDate> = scan::Rows {
    kind: KIND,
    what: "work-order row",
    type_date: |type_date| Some(type_date.as_str()),
    date_of: row_date,
    key_of: work_order_key,
};

#[async_trait]
impl Source for WorkOrdersSource {
    async fn poll(&self, ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let (rows, date) = (&ROWS, self.type_date);
        self.window
            .poll(ctx, cursor, rows, date, work_order_record)
            .await
    }
}

spec_config! {
    /// The source's spec config (see the module docs).
    WorkOrdersConfig {
        status: u8,
        since,
        until,
        type_date: TypeDate,
        code_asset: String,
        code_location: String,
        folio: String,
        limit,
        max_pages,
        lookback_secs,
        rate_limit_retries,
        path,
    }
}

impl WorkOrdersConfig {
    pub(crate) fn apply(
        self,
        client: FracttalClient,
    ) -> Result<WorkOrdersSource, crate::SpecErrors> {
        let mut errors = crate::SpecErrors::new();
        let mut source = WorkOrdersSource::new(client);
        if let Some(status) = self.status {
            if !(1..=4).contains(&status) {
                errors.push(
                    crate::SpecError::new("/status", format!("unknown status {status}"))
                        .with_hint("1 in process, 2 review, 3 completed, 4 cancelled"),
                );
            }
            source = source.status(status);
        }
        let window = &mut source.window;
        window.spec_dates(&mut errors, self.since.as_deref(), self.until.as_deref());
        spec_filters(window, [self.code_asset, self.code_location, self.folio]);
        window.spec_paging(
            &mut errors,
            self.limit,
            self.max_pages,
            self.lookback_secs,
            self.rate_limit_retries,
        );
        window.spec_path(&mut errors, self.path);
        if let Some(type_date) = self.type_date {
            source = source.type_date(type_date);
        }
        errors.into_result(source)
    }
}

#[cfg(test)]
mod tests;
