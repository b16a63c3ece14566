//! The HTTP JSON directory (`http.json` in a lookup's `from`): a lookup's entries read
//! from any JSON API, one `GET` per key (the lookup's cache keeps the answers).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::Endpoint;
use crate::http::{HttpError, HttpRequest, Method};
use crate::record::lookup;
use crate::spec::{BuildContext, SecretValue};
use crate::{Context, DeliveryError, Directory, ProviderError, SpecError, SpecErrors};

/// The kind name of this directory in flow specs.
pub const DIRECTORY_KIND: &str = "http.json";

/// The provider name in errors.
const PROVIDER: &str = "http";

/// The path segment the key replaces, as it reads once the URL is parsed.
const KEY_SEGMENT: &str = "%7Bkey%7D";

/// A directory behind a JSON API: `GET` the URL with the key as a path segment
/// (`…/people/{key}`) and/or a query parameter (`?name=<key>`), and take the entry from the
/// answer at [`pick`](Self::pick).
///
/// * 2xx: the value at `pick` (a dotted path, e.g. `data.0.phone`; the whole answer without
///   it) is the entry; nothing there, `null`, `""` or `[]` is no entry.
/// * 404: no entry.
/// * any other status: the directory's error, retried as the flow's retry policy says for
///   that status (408, 425, 429 and 5xx are retryable, honouring `Retry-After`).
/// * an answer that is not JSON: a permanent error.
///
/// Keys are percent-encoded; a key of `.` or `..` is no entry, never a path step.
///
/// ```
/// use hubflow::http_target::HttpDirectory;
/// use hubflow::Directory;
///
/// let staff = HttpDirectory::new("https://hr.example.com/api/people/{key}".parse().unwrap())
///     .pick("contact.mobile");
/// assert_eq!(staff.describe(), "GET https://hr.example.com/api/people/{key}");
/// ```
#[derive(Debug, Clone)]
pub struct HttpDirectory {
    request: HttpRequest,
    param: Option<String>,
    pick: String,
}

impl HttpDirectory {
    /// A directory at `url`: a path segment `{key}` in it is replaced by the key; the whole
    /// answer is the entry.
    pub fn new(url: Url) -> Self {
        HttpDirectory {
            request: HttpRequest::new(Method::Get, url),
            param: None,
            pick: String::new(),
        }
    }

    /// Sends the key as this query parameter (`?name=Jonas%20Campos`).
    #[must_use]
    pub fn param(mut self, name: impl Into<String>) -> Self {
        self.param = Some(name.into());
        self
    }

    /// The dotted path of the entry in the answer (default: the answer is it).
    #[must_use]
    pub fn pick(mut self, path: impl Into<String>) -> Self {
        self.pick = path.into();
        self
    }

    super::request_setters!();

    /// Whether the URL has a `{key}` segment.
    fn key_in_path(&self) -> bool {
        self.request
            .url
            .path_segments()
            .is_some_and(|mut segments| segments.any(|s| s == KEY_SEGMENT))
    }

    /// The request for `key`; `None` for a key that would be a path step.
    fn request_for(&self, key: &str) -> Option<HttpRequest> {
        let mut request = self.request.clone();
        if self.key_in_path() {
            let segment = crate::http::path_segment(key)?;
            let path = request.url.path().replace(KEY_SEGMENT, &segment);
            request.url.set_path(&path);
        }
        if let Some(param) = &self.param {
            request.url.query_pairs_mut().append_pair(param, key);
        }
        Some(request)
    }

    /// Builds the directory from its spec config:
    ///
    /// ```json
    /// {"connection": "hr", "path": "api/people/{key}", "pick": "contact.mobile",
    ///  "headers": {"X-Api-Key": {"secret": "HR_KEY"}}, "timeout_ms": 5000}
    /// ```
    ///
    /// or `"param": "name"` to send the key as a query parameter; `url` (a full URL) instead
    /// of `connection` + `path`, as for the `http.post` target. The key must go somewhere:
    /// a `{key}` segment, a `param`, or both.
    pub fn from_spec(cx: &BuildContext<'_>, config: &Value) -> Result<Self, SpecErrors> {
        let config: HttpDirectoryConfig = cx.deserialize(config)?;
        let mut errors = SpecErrors::new();
        let endpoint = Endpoint {
            connection: config.connection.as_deref(),
            url: config.url.as_deref(),
            path: config.path.as_deref(),
            headers: &config.headers,
        }
        .resolve(cx, &mut errors);
        if config.param.as_deref() == Some("") {
            errors.push(SpecError::new("/param", "must not be empty"));
        }
        let Some((url, headers)) = endpoint else {
            return Err(errors);
        };
        let mut directory = HttpDirectory::new(url);
        directory.request.headers = headers;
        directory.request.timeout = config.timeout_ms.map(Duration::from_millis);
        if let Some(param) = config.param.filter(|p| !p.is_empty()) {
            directory = directory.param(param);
        }
        if let Some(pick) = config.pick {
            directory = directory.pick(pick);
        }
        if !directory.key_in_path() && directory.param.is_none() {
            errors.push(SpecError::new("", "the key is sent nowhere").with_hint(
                "put a `{key}` segment in the path (\"people/{key}\") or name a query \
                     parameter (\"param\": \"name\")",
            ));
        }
        errors.into_result(directory)
    }
}

#[async_trait]
impl Directory for HttpDirectory {
    async fn find(&self, ctx: &Context, key: &str) -> Result<Option<Value>, DeliveryError> {
        let Some(request) = self.request_for(key) else {
            return Ok(None);
        };
        // A lookup acts on nothing: an answer cut off mid-body is only retried.
        let response = ctx
            .http()
            .send(&request)
            .await
            .map_err(HttpError::for_read)?;
        if response.status == 404 {
            return Ok(None);
        }
        if !response.is_success() {
            let error = ProviderError::from_response(PROVIDER, &response, ctx.clock().now());
            return Err(error.into());
        }
        let body = response.json_body().map_err(|e| DeliveryError::Response {
            provider: PROVIDER.to_owned(),
            message: format!(
                "the directory's answer is not JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        })?;
        let entry = lookup(&body, &self.pick).filter(|value| match value {
            Value::Null => false,
            Value::String(text) => !text.is_empty(),
            Value::Array(items) => !items.is_empty(),
            _ => true,
        });
        Ok(entry.cloned())
    }

    fn describe(&self) -> String {
        // Scheme, host and path: no query, no credentials in the URL's user part.
        let url = &self.request.url;
        let host = url.host_str().unwrap_or("");
        let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
        let path = url.path().replace(KEY_SEGMENT, "{key}");
        format!("GET {}://{host}{port}{path}", url.scheme())
    }
}

/// The directory's spec config.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(super) struct HttpDirectoryConfig {
    #[serde(default)]
    connection: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, SecretValue>,
    #[serde(default)]
    param: Option<String>,
    #[serde(default)]
    pick: Option<String>,
    #[serde(default)]
    timeout_ms: Option<u64>,
}
