//! The generic HTTP target (`http.post`: the mapped payload, POSTed as JSON to a URL),
//! source (`http.json`: any JSON API polled for items, see [`HttpJsonSource`]) and lookup
//! directory (`http.json` in a lookup's `from`: an entry per key from any JSON API, see
//! [`HttpDirectory`]).
//!
//! The way to reach any system that takes a webhook: an ERP's REST endpoint, a chat
//! platform's incoming hook, a queue's HTTP front. In a flow spec its kind is `http.post`:
//!
//! ```json
//! "target": {"http.post": {
//!     "connection": "ops",            // optional: base_url and headers from a connection
//!     "path": "hooks/work-orders",    // relative to the connection's base_url (or "url": "https://…")
//!     "method": "POST",               // POST (default), PUT or PATCH
//!     "headers": {"X-Api-Key": {"secret": "OPS_KEY"}, "X-Source": "hubflow"},
//!     "timeout_ms": 10000,
//!     "receipt_id": "data.id",        // where the answer's JSON has the created item's id
//!     "idempotency_header": "Idempotency-Key"  // send the record's key, for endpoints that dedupe
//! }}
//! ```
//!
//! A 2xx answer is a delivery; 408, 425, 429 and 5xx are retried (honouring `Retry-After`);
//! every other status is permanent. Redirects are not followed.

pub mod fake;

/// The header and timeout setters of an adapter holding its request in `self.request`,
/// written once for the target and the source.
macro_rules! request_setters {
    () => {
        /// Adds a plain header.
        #[must_use]
        pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.request = self.request.header(name, value);
            self
        }

        /// Adds a credential header, redacted wherever a request is shown.
        #[must_use]
        pub fn secret_header(
            mut self,
            name: impl Into<String>,
            value: secrecy::SecretString,
        ) -> Self {
            self.request = self.request.secret_header(name, value);
            self
        }

        /// Sets the per-request timeout.
        #[must_use]
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.request = self.request.timeout(timeout);
            self
        }
    };
}
use request_setters;

mod directory;
mod json_source;

pub use directory::{HttpDirectory, DIRECTORY_KIND};
pub use json_source::{HttpJsonSource, Paging, SOURCE_KIND};

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use crate::http::{Headers, HttpRequest, Method};
use crate::spec::{BuildContext, SecretValue};
use crate::{
    Context, DeliveryError, DynTarget, ProviderError, Receipt, Record, SpecError, SpecErrors,
    Target, TargetError,
};

/// The kind name of this target in flow specs.
pub const KIND: &str = "http.post";

/// Sends the mapped payload as a JSON body.
///
/// ```
/// use hubflow::Target;
/// use hubflow::http_target::HttpTarget;
/// use secrecy::SecretString;
/// use serde_json::json;
///
/// let target = HttpTarget::new("https://erp.example.com/api/tickets".parse().unwrap())
///     .secret_header("Authorization", SecretString::from("Bearer abc"))
///     .receipt_id("ticket.id");
/// let record = hubflow::Record::new("req-1", "request", json!({}));
/// let request = target.prepare(&record, &json!({"title": "Pump 3 leaking"})).unwrap();
/// assert_eq!(request.json_body().unwrap()["title"], "Pump 3 leaking");
/// assert!(!format!("{request:?}").contains("abc"));
/// ```
#[derive(Clone)]
pub struct HttpTarget {
    /// Everything but the body, which `prepare` fills in: one request value reused.
    request: HttpRequest,
    receipt_id: Option<String>,
    idempotency_header: Option<String>,
}

impl HttpTarget {
    /// A target that POSTs to `url`.
    pub fn new(url: Url) -> Self {
        HttpTarget {
            request: HttpRequest::new(Method::Post, url),
            receipt_id: None,
            idempotency_header: None,
        }
    }

    /// Uses another method (PUT, PATCH).
    #[must_use]
    pub fn method(mut self, method: Method) -> Self {
        self.request.method = method;
        self
    }

    request_setters!();

    /// Sends the record's key in this header (e.g. `Idempotency-Key`), for endpoints that
    /// drop repeated deliveries themselves: with it, even a retry after a timeout that the
    /// endpoint did process cannot create a duplicate.
    #[must_use]
    pub fn idempotency_header(mut self, name: impl Into<String>) -> Self {
        self.idempotency_header = Some(name.into());
        self
    }

    /// Takes the receipt's id from this dotted path of the answer's JSON.
    #[must_use]
    pub fn receipt_id(mut self, path: impl Into<String>) -> Self {
        self.receipt_id = Some(path.into());
        self
    }

    /// Builds the target from its spec config (see the module docs).
    pub fn from_spec(cx: &BuildContext<'_>, config: &Value) -> Result<Self, SpecErrors> {
        let config: HttpTargetConfig = cx.deserialize(config)?;
        let mut errors = SpecErrors::new();
        let place = Endpoint {
            connection: config.connection.as_deref(),
            url: config.url.as_deref(),
            path: config.path.as_deref(),
            headers: &config.headers,
        };
        let endpoint = place.resolve(cx, &mut errors);
        if !matches!(config.method, Method::Post | Method::Put | Method::Patch) {
            errors.push(
                SpecError::new("/method", format!("{} sends no body", config.method))
                    .with_hint("use POST, PUT or PATCH"),
            );
        }
        let Some((url, headers)) = endpoint else {
            return Err(errors);
        };
        let mut request = HttpRequest::new(config.method, url);
        request.headers = headers;
        request.timeout = config.timeout_ms.map(Duration::from_millis);
        let target = HttpTarget {
            request,
            receipt_id: config.receipt_id,
            idempotency_header: config.idempotency_header,
        };
        errors.into_result(target)
    }
}

/// Where a spec sends its requests: a connection (base URL and headers) and a path below
/// it, or a full URL; plus headers of its own. One reading for the target and the source.
pub(crate) struct Endpoint<'a> {
    pub connection: Option<&'a str>,
    pub url: Option<&'a str>,
    pub path: Option<&'a str>,
    pub headers: &'a BTreeMap<String, SecretValue>,
}

impl Endpoint<'_> {
    /// The URL and the headers, or `None` with the reasons in `errors`.
    pub(crate) fn resolve(
        &self,
        cx: &BuildContext<'_>,
        errors: &mut SpecErrors,
    ) -> Option<(Url, Headers)> {
        let mut headers = Headers::new();
        let mut base = None;
        if let Some(name) = self.connection {
            match cx.connection::<HttpConnection>(name) {
                Ok(connection) => {
                    base = connection.base_url;
                    add_headers(
                        cx,
                        &mut headers,
                        &connection.headers,
                        &format!("/connections/{name}/headers"),
                        errors,
                    );
                }
                Err(e) => {
                    // Without the connection the URL cannot be judged; report only the cause.
                    errors.extend(SpecErrors::from(e).prefixed("/connection"));
                    return None;
                }
            }
        }
        add_headers(cx, &mut headers, self.headers, "/headers", errors);
        let url = match (self.url, self.path, base) {
            // A connection's headers may hold its credentials: they only ever go below its
            // base URL, whatever a (user-edited) flow spec says.
            (Some(_), None, _) if self.connection.is_some() => Err(SpecError::new(
                "/url",
                "a flow that names a connection sends below the connection's base_url",
            )
            .with_hint("give a \"path\" relative to the connection's base_url instead")),
            (Some(url), None, _) => {
                Url::parse(url).map_err(|e| SpecError::new("/url", format!("not a URL: {e}")))
            }
            (None, Some(path), Some(base)) => base
                .join(path)
                .map_err(|e| SpecError::new("/path", format!("cannot join to the base URL: {e}")))
                .and_then(|url| {
                    if below(&base, &url) {
                        Ok(url)
                    } else {
                        Err(
                            SpecError::new("/path", "the path leaves the connection's base_url")
                                .with_hint("use a relative path without a scheme, a host or `..`"),
                        )
                    }
                }),
            (None, Some(_), None) => Err(SpecError::new(
                "/path",
                "a path needs a connection with a base_url",
            )
            .with_hint("name a connection, or give a full \"url\" instead")),
            (None, None, Some(base)) => Ok(base),
            (None, None, None) => Err(SpecError::new("", "no URL to send to")
                .with_hint("set \"url\", or a connection with a base_url")),
            (Some(_), Some(_), _) => {
                Err(SpecError::new("/url", "both \"url\" and \"path\" are set")
                    .with_hint("keep one"))
            }
        };
        match url {
            Ok(url) if matches!(url.scheme(), "http" | "https") => Some((url, headers)),
            Ok(url) => {
                errors.push(
                    SpecError::new("/url", format!("unsupported scheme `{}`", url.scheme()))
                        .with_hint("use http or https"),
                );
                None
            }
            Err(e) => {
                errors.push(e);
                None
            }
        }
    }
}

/// Whether `url` stays on `base`'s scheme, host and port, and under its path.
fn below(base: &Url, url: &Url) -> bool {
    url.origin() == base.origin() && url.path().starts_with(base.path())
}

fn add_headers(
    cx: &BuildContext<'_>,
    headers: &mut Headers,
    spec: &BTreeMap<String, SecretValue>,
    path: &str,
    errors: &mut SpecErrors,
) {
    for (name, value) in spec {
        match cx.resolve(value) {
            Ok(crate::http::HeaderValue::Plain(v)) => headers.insert(name.clone(), v),
            Ok(crate::http::HeaderValue::Secret(s)) => headers.insert_secret(name.clone(), s),
            Err(e) => errors.push(SpecError {
                path: format!("{path}/{}", crate::pointer_token(name)),
                ..e
            }),
        }
    }
}

/// The config of `http.post`.
// Its docs are the descriptions of its schema (feature `schema`): they speak to spec authors.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct HttpTargetConfig {
    /// A connection whose `base_url` and `headers` the target uses.
    #[serde(default)]
    connection: Option<String>,
    /// The full URL, without a connection.
    #[serde(default)]
    url: Option<String>,
    /// The path relative to the connection's `base_url`.
    #[serde(default)]
    path: Option<String>,
    /// POST (the default), PUT or PATCH.
    #[serde(default = "post")]
    method: Method,
    /// Headers of its own: text, or a secret by name {"secret": "NAME"}.
    #[serde(default)]
    headers: BTreeMap<String, SecretValue>,
    /// The per-request timeout, in milliseconds.
    #[serde(default)]
    timeout_ms: Option<u64>,
    /// The dotted path of the created item's id in the answer's JSON.
    #[serde(default)]
    receipt_id: Option<String>,
    /// A header that carries the record's key, for endpoints that deduplicate.
    #[serde(default)]
    idempotency_header: Option<String>,
}

fn post() -> Method {
    Method::Post
}

/// The parts of a connection this target reads; other fields are for other adapters.
#[derive(Deserialize)]
struct HttpConnection {
    #[serde(default)]
    base_url: Option<Url>,
    #[serde(default)]
    headers: BTreeMap<String, SecretValue>,
}

pub(crate) fn register(registry: &mut crate::spec::Registry) {
    registry.register_target(KIND, |cx, config| {
        Ok(DynTarget::new(HttpTarget::from_spec(cx, config)?))
    });
    registry.register_source(SOURCE_KIND, |cx, config| {
        Ok(std::sync::Arc::new(HttpJsonSource::from_spec(cx, config)?)
            as std::sync::Arc<dyn crate::Source>)
    });
    registry.register_directory(DIRECTORY_KIND, |cx, config| {
        Ok(std::sync::Arc::new(HttpDirectory::from_spec(cx, config)?)
            as std::sync::Arc<dyn crate::Directory>)
    });
    #[cfg(feature = "schema")]
    {
        use crate::spec::KindRole;
        registry.set_config_schema_of::<HttpTargetConfig>(KindRole::Target, KIND);
        registry.set_config_schema_of::<json_source::HttpJsonConfig>(KindRole::Source, SOURCE_KIND);
        registry.set_config_schema_of::<directory::HttpDirectoryConfig>(
            KindRole::Directory,
            DIRECTORY_KIND,
        );
    }
}

impl fmt::Debug for HttpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTarget")
            .field("method", &self.request.method)
            .field("url", &self.request.url.as_str())
            .field("headers", &self.request.headers)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Target for HttpTarget {
    type Action = HttpRequest;

    fn prepare(&self, record: &Record, payload: &Value) -> Result<HttpRequest, TargetError> {
        let mut request = self
            .request
            .clone()
            .json(payload)
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))?;
        if let Some(name) = &self.idempotency_header {
            request.headers.insert(name.clone(), record.key.clone());
        }
        Ok(request)
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        request: &HttpRequest,
    ) -> Result<Receipt, DeliveryError> {
        let response = ctx.http().send(request).await?;
        if !response.is_success() {
            // A 401 is permanent: static headers cannot be refreshed.
            let error = ProviderError::from_response("http", &response, ctx.clock().now());
            return Err(error.into());
        }
        let mut receipt = Receipt::new(response.status);
        if let Some(path) = &self.receipt_id {
            let id = response
                .json_body()
                .ok()
                .and_then(|body| crate::record::lookup(&body, path).and_then(id_text));
            match id {
                Some(id) => receipt = receipt.with_id(id),
                None => {
                    return Err(DeliveryError::Response {
                        provider: "http".to_owned(),
                        message: format!("the answer has no `{path}` to take the receipt id from"),
                    })
                }
            }
        }
        Ok(receipt)
    }

    fn fakes(&self) -> Vec<std::sync::Arc<dyn crate::http::ProviderFake>> {
        let mut fake = fake::WebhookFake::new(self.request.url.path());
        if let Some(path) = &self.receipt_id {
            fake = fake.receipt_id(path.clone());
        }
        vec![std::sync::Arc::new(fake)]
    }
}

fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}
