//! The generic HTTP JSON source (`http.json`): polls any JSON API for a list of items,
//! page by page, with a watermark on one of the items' fields.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use url::Url;

use super::Endpoint;
use crate::http::{HttpRequest, Method};
use crate::record::{json_kind, lookup, lookup_mut, stable_hash};
use crate::spec::{BuildContext, SecretValue};
use crate::{Batch, Context, Cursor, Record, Source, SourceError, SpecError, SpecErrors};

/// The kind name of this source in flow specs.
pub const SOURCE_KIND: &str = "http.json";

/// The provider name in errors.
const PROVIDER: &str = "http";

/// How the source asks for the next page.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Paging {
    /// One request per poll: the answer is the whole list.
    None,
    /// `?<param>=<n>` with pages numbered from `first` (1 by default).
    Page {
        /// The page-number parameter, e.g. `page`.
        param: String,
        /// The first page's number.
        #[serde(default = "one")]
        first: u64,
    },
    /// `?<param>=<offset>`, the offset of the page's first item, from 0. Needs the page
    /// size ([`HttpJsonSource::page_size`]) to advance; without it one page is read.
    Offset {
        /// The offset parameter, e.g. `offset` or `start`.
        param: String,
    },
}

fn one() -> u64 {
    1
}

/// Polls a JSON API for items: `GET` the endpoint (with the page and watermark
/// parameters), read the array at [`items`](Self::items) of the answer, and make each item a
/// record of kind [`kind`](Self::kind), keyed `<kind>:<item's key field>`.
///
/// # Pages
///
/// With [`Paging::Page`] or [`Paging::Offset`] and a [`page_size`](Self::page_size) (sent
/// in the parameter given with it), pages are read until one is shorter
/// than the page size (without a page size, numbered pages until an empty one), or
/// [`max_pages`](Self::max_pages) were read; then the next poll goes
/// on from the next page, with the same watermark, so a long list is read across polls
/// without a gap.
///
/// # The watermark
///
/// With [`cursor_field`](Self::cursor_field) (a dotted path in each item, e.g.
/// `updated_at`), the cursor keeps the highest value seen, compared as RFC 3339 instants
/// when both are, as numbers when both are, else as text, and each poll sends it as
/// [`cursor_param`](Self::cursor_param). Items at the watermark itself are remembered by key,
/// so an API whose filter includes the bound returns them once; an item below the watermark
/// (the API ignored the filter) is passed over. The watermark moves only when a scan has
/// read every page. Without a cursor field every poll reads the whole list, and the store's
/// claims drop what was delivered.
///
/// # Bad items
///
/// An item that is not an object, or has no key field, is never lost: it is keyed by a
/// hash of its content (`<kind>:#<hash>`), so the same item is the same record. An answer
/// that is not JSON, has no array where [`items`](Self::items) says, or a non-2xx status
/// fails the poll and the cursor stays.
///
/// ```
/// use hubflow::http_target::{HttpJsonSource, Paging};
///
/// let source = HttpJsonSource::new("https://erp.example.com/api/tickets".parse().unwrap())
///     .items("data")
///     .key_field("id")
///     .kind("erp.ticket")
///     .cursor_field("updated_at")
///     .cursor_param("updated_since")
///     .paging(Paging::Page { param: "page".into(), first: 1 })
///     .page_size(50, Some("per_page"));
/// assert_eq!(source.record_kind(), "erp.ticket");
/// ```
#[derive(Debug, Clone)]
pub struct HttpJsonSource {
    request: HttpRequest,
    items: String,
    key_field: String,
    kind: String,
    cursor_field: Option<String>,
    cursor_param: Option<String>,
    paging: Paging,
    page_size: Option<u32>,
    size_param: Option<String>,
    max_pages: u32,
}

impl HttpJsonSource {
    /// A source that `GET`s `url`: the answer is the array of items, keyed by `id`, of kind
    /// `http.item`, no paging, no watermark, at most 50 pages per poll.
    pub fn new(url: Url) -> Self {
        HttpJsonSource {
            request: HttpRequest::new(Method::Get, url),
            items: String::new(),
            key_field: "id".to_owned(),
            kind: "http.item".to_owned(),
            cursor_field: None,
            cursor_param: None,
            paging: Paging::None,
            page_size: None,
            size_param: None,
            max_pages: 50,
        }
    }

    /// The dotted path of the items' array in the answer (default: the answer is it).
    #[must_use]
    pub fn items(mut self, path: impl Into<String>) -> Self {
        self.items = path.into();
        self
    }

    /// The dotted path of each item's id (default `id`).
    #[must_use]
    pub fn key_field(mut self, path: impl Into<String>) -> Self {
        self.key_field = path.into();
        self
    }

    /// The records' kind (default `http.item`); also the keys' prefix.
    #[must_use]
    pub fn kind(mut self, kind: impl Into<String>) -> Self {
        self.kind = kind.into();
        self
    }

    /// The records' kind.
    pub fn record_kind(&self) -> &str {
        &self.kind
    }

    /// The dotted path of the field the watermark follows.
    #[must_use]
    pub fn cursor_field(mut self, path: impl Into<String>) -> Self {
        self.cursor_field = Some(path.into());
        self
    }

    /// The query parameter the watermark is sent in (default: the cursor field's name).
    #[must_use]
    pub fn cursor_param(mut self, name: impl Into<String>) -> Self {
        self.cursor_param = Some(name.into());
        self
    }

    /// How pages are asked for (default [`Paging::None`]).
    #[must_use]
    pub fn paging(mut self, paging: Paging) -> Self {
        self.paging = paging;
        self
    }

    /// Items per page (at least 1), sent as `param` when given: a shorter page is the last.
    #[must_use]
    pub fn page_size(mut self, size: u32, param: Option<&str>) -> Self {
        self.page_size = Some(size.max(1));
        self.size_param = param.map(str::to_owned);
        self
    }

    /// The most pages one poll reads (at least 1).
    #[must_use]
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = pages.max(1);
        self
    }

    super::request_setters!();

    /// The request of page `page` (0-based) with the watermark `since`.
    fn page_request(&self, page: u64, since: Option<&str>) -> HttpRequest {
        let mut request = self.request.clone();
        {
            let mut query = request.url.query_pairs_mut();
            if let (Some(since), Some(param)) = (since, self.watermark_param()) {
                query.append_pair(param, since);
            }
            let size = u64::from(self.page_size.unwrap_or(1));
            match &self.paging {
                Paging::None => {}
                Paging::Page { param, first } => {
                    query.append_pair(param, &first.saturating_add(page).to_string());
                }
                Paging::Offset { param } => {
                    query.append_pair(param, &page.saturating_mul(size).to_string());
                }
            }
            if let (Some(param), Some(size)) = (&self.size_param, self.page_size) {
                query.append_pair(param, &size.to_string());
            }
        }
        request
    }

    fn watermark_param(&self) -> Option<&str> {
        self.cursor_param
            .as_deref()
            .or(self.cursor_field.as_deref())
    }

    /// The record of one item.
    fn record(&self, item: Value) -> Record {
        let id = lookup(&item, &self.key_field).and_then(|id| match id {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        });
        let key = match id {
            Some(id) => format!("{}:{id}", self.kind),
            None => format!(
                "{}:#{:016x}",
                self.kind,
                stable_hash(&[item.to_string().as_bytes()])
            ),
        };
        Record::new(key, self.kind.clone(), item)
    }

    /// The watermark value of an item, as text.
    fn mark_of(&self, item: &Value) -> Option<String> {
        let field = self.cursor_field.as_deref()?;
        match lookup(item, field)? {
            Value::String(s) if !s.is_empty() => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// Orders two watermark values: as instants when both are RFC 3339, as numbers when both
/// are numbers, else as text.
fn compare(a: &str, b: &str) -> std::cmp::Ordering {
    use chrono::DateTime;
    if let (Ok(x), Ok(y)) = (
        DateTime::parse_from_rfc3339(a),
        DateTime::parse_from_rfc3339(b),
    ) {
        return x.cmp(&y);
    }
    if let (Ok(x), Ok(y)) = (a.parse::<f64>(), b.parse::<f64>()) {
        return x.total_cmp(&y);
    }
    a.cmp(b)
}

/// The cursor's JSON form.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct State {
    /// The highest watermark value of the last complete scan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    watermark: Option<String>,
    /// The keys of the items at the watermark.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    at_mark: Vec<String>,
    /// While a scan is cut short: the next page, and the highest value read so far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    resume: Option<Resume>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Resume {
    page: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    highest: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    at_highest: Vec<String>,
}

#[async_trait]
impl Source for HttpJsonSource {
    async fn poll(&self, ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let state: State = match cursor {
            Some(cursor) => {
                State::deserialize(cursor.value()).map_err(|e| SourceError::Response {
                    provider: PROVIDER.to_owned(),
                    message: format!("the cursor is not one of {SOURCE_KIND}: {e}"),
                })?
            }
            None => State::default(),
        };
        let since = state.watermark.as_deref();
        let (mut page, mut highest, mut at_highest) = match &state.resume {
            Some(resume) => (
                resume.page,
                resume.highest.clone(),
                resume.at_highest.clone(),
            ),
            None => (0, None, Vec::new()),
        };
        let mut records = Vec::new();
        let mut complete = false;
        for _ in 0..self.max_pages {
            let response = ctx.http().send(&self.page_request(page, since)).await?;
            if !response.is_success() {
                let error =
                    crate::ProviderError::from_response(PROVIDER, &response, ctx.clock().now());
                return Err(error.into());
            }
            let mut body = response.json_body().map_err(|e| SourceError::Response {
                provider: PROVIDER.to_owned(),
                message: format!(
                    "the answer is not JSON (line {}, column {})",
                    e.line(),
                    e.column()
                ),
            })?;
            let items = match lookup_mut(&mut body, &self.items) {
                // Moved out of the answer, which is not read again.
                Some(Value::Array(items)) => std::mem::take(items),
                Some(other) => {
                    return Err(SourceError::Response {
                        provider: PROVIDER.to_owned(),
                        message: format!(
                            "`{}` is {}, not an array of items",
                            display_path(&self.items),
                            json_kind(&*other)
                        ),
                    })
                }
                None => {
                    return Err(SourceError::Response {
                        provider: PROVIDER.to_owned(),
                        message: format!("the answer has no `{}`", display_path(&self.items)),
                    })
                }
            };
            let count = items.len();
            for item in items {
                let mark = self.mark_of(&item);
                let record = self.record(item);
                if let (Some(mark), Some(since)) = (&mark, since) {
                    match compare(mark, since) {
                        std::cmp::Ordering::Less => continue,
                        std::cmp::Ordering::Equal if state.at_mark.contains(&record.key) => {
                            continue
                        }
                        _ => {}
                    }
                }
                if let Some(mark) = mark {
                    match highest.as_deref().map(|h| compare(&mark, h)) {
                        None | Some(std::cmp::Ordering::Greater) => {
                            highest = Some(mark);
                            at_highest = vec![record.key.clone()];
                        }
                        Some(std::cmp::Ordering::Equal) => at_highest.push(record.key.clone()),
                        Some(std::cmp::Ordering::Less) => {}
                    }
                }
                records.push(record);
            }
            // The last page: a short one when the page size is known; without it, an empty
            // page (page numbers), or the only request (offsets need the size to advance).
            let last = match (&self.paging, self.page_size) {
                (Paging::None, _) | (Paging::Offset { .. }, None) => true,
                (_, Some(size)) => count < usize::try_from(size).unwrap_or(usize::MAX),
                (Paging::Page { .. }, None) => count == 0,
            };
            if last {
                complete = true;
                break;
            }
            page = page.saturating_add(1);
        }
        let next = if complete {
            // The items at an unchanged watermark are still those seen before, and the new.
            let (watermark, at_mark) = match (highest, state.watermark.clone()) {
                (Some(h), Some(w)) if compare(&h, &w) == std::cmp::Ordering::Equal => {
                    let mut keys = state.at_mark.clone();
                    keys.extend(at_highest);
                    (Some(w), keys)
                }
                (Some(h), Some(w)) if compare(&h, &w) == std::cmp::Ordering::Less => {
                    (Some(w), state.at_mark.clone())
                }
                (Some(h), _) => (Some(h), at_highest),
                (None, w) => (w, state.at_mark.clone()),
            };
            State {
                watermark,
                at_mark,
                resume: None,
            }
        } else {
            State {
                resume: Some(Resume {
                    page,
                    highest,
                    at_highest,
                }),
                ..state
            }
        };
        let cursor =
            serde_json::to_value(&next)
                .map(Cursor::new)
                .map_err(|e| SourceError::Response {
                    provider: PROVIDER.to_owned(),
                    message: format!("the cursor could not be written: {e}"),
                })?;
        Ok(Batch::new(records, Some(cursor)))
    }
}

fn display_path(path: &str) -> &str {
    if path.is_empty() {
        "(the answer)"
    } else {
        path
    }
}

/// The source's spec config.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct HttpJsonConfig {
    #[serde(default)]
    connection: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, SecretValue>,
    #[serde(default)]
    items: Option<String>,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    cursor_field: Option<String>,
    #[serde(default)]
    cursor_param: Option<String>,
    #[serde(default)]
    paging: Option<Paging>,
    #[serde(default)]
    page_size: Option<u32>,
    #[serde(default)]
    size_param: Option<String>,
    #[serde(default)]
    max_pages: Option<u32>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

impl HttpJsonSource {
    /// Builds the source from its spec config:
    ///
    /// ```json
    /// {"connection": "erp", "path": "api/tickets", "headers": {"X-Api-Key": {"secret": "ERP_KEY"}},
    ///  "items": "data", "key": "id", "kind": "erp.ticket",
    ///  "cursor_field": "updated_at", "cursor_param": "updated_since",
    ///  "paging": {"page": {"param": "page", "first": 1}}, "page_size": 50, "size_param": "per_page",
    ///  "max_pages": 20, "timeout_ms": 10000}
    /// ```
    ///
    /// `url` (a full URL) instead of `connection` + `path`, as for the `http.post` target;
    /// `paging` is `"none"` (default), `{"page": {"param": …}}` or
    /// `{"offset": {"param": …}}`, which needs `page_size`.
    pub fn from_spec(cx: &BuildContext<'_>, config: &Value) -> Result<Self, SpecErrors> {
        let config: HttpJsonConfig = cx.deserialize(config)?;
        let mut errors = SpecErrors::new();
        let endpoint = Endpoint {
            connection: config.connection.as_deref(),
            url: config.url.as_deref(),
            path: config.path.as_deref(),
            headers: &config.headers,
        }
        .resolve(cx, &mut errors);
        let paging = config.paging.unwrap_or(Paging::None);
        match (&paging, config.page_size) {
            (Paging::Offset { .. }, None) => errors.push(
                SpecError::new("/page_size", "offset paging needs the page size")
                    .with_hint("set \"page_size\" to the number of items per page"),
            ),
            (_, Some(0)) => errors.push(SpecError::new("/page_size", "must be at least 1")),
            _ => {}
        }
        if config.max_pages == Some(0) {
            errors.push(SpecError::new("/max_pages", "must be at least 1"));
        }
        if config.cursor_param.is_some() && config.cursor_field.is_none() {
            errors.push(
                SpecError::new(
                    "/cursor_param",
                    "a watermark parameter without a cursor field",
                )
                .with_hint("set \"cursor_field\" to the item field the watermark follows"),
            );
        }
        if config.kind.as_deref() == Some("") {
            errors.push(SpecError::new("/kind", "must not be empty"));
        }
        let Some((url, headers)) = endpoint else {
            return Err(errors);
        };
        let mut source = HttpJsonSource::new(url).paging(paging);
        source.request.headers = headers;
        source.request.timeout = config.timeout_ms.map(Duration::from_millis);
        if let Some(items) = config.items {
            source = source.items(items);
        }
        if let Some(key) = config.key {
            source = source.key_field(key);
        }
        if let Some(kind) = config.kind {
            source = source.kind(kind);
        }
        if let Some(field) = config.cursor_field {
            source = source.cursor_field(field);
        }
        if let Some(param) = config.cursor_param {
            source = source.cursor_param(param);
        }
        if let Some(size) = config.page_size {
            source = source.page_size(size, config.size_param.as_deref());
        }
        if let Some(pages) = config.max_pages {
            source = source.max_pages(pages);
        }
        errors.into_result(source)
    }
}
