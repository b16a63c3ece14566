//! The Fracttal One API client: OAuth client credentials with a shared token cache, the
//! company-wide rate limit, and the `{success, message, data, total}` envelope.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::Serialize;
use serde_json::Value;
use url::Url;

use super::error::{error_text, rate_limit_wait, FracttalError, UNAUTHORIZED_ENDPOINT};
use crate::adapters::shared::auth::{AuthError, ClientCredentials, Credentials as _};
use crate::adapters::shared::client::{ApiClient, SendError};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::text::truncate;
use crate::{Context, RateLimiter};

/// Fracttal's documented API base URL.
pub const DEFAULT_BASE_URL: &str = "https://app.fracttal.com/api/";
/// The token URL public clients use (one client uses `https://app.fracttal.com/oauth/token`;
/// configure it if yours differs).
pub const DEFAULT_TOKEN_URL: &str = "https://one.fracttal.com/oauth/token";
/// Fracttal's documented limit: 200 requests per minute per company.
pub const DEFAULT_REQUESTS_PER_MINUTE: f64 = 200.0;
/// The token lifetime assumed when the token answer has no `expires_in`.
pub const FALLBACK_TOKEN_LIFETIME: Duration = Duration::from_secs(7200);
/// A token is refreshed this long before it expires, or 10 % of its lifetime before, whichever
/// is shorter, so a request never goes out with a token about to expire.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(300);

/// A Fracttal One API client. Cheap to clone: clones share one token cache and one rate
/// limiter, which is what makes the company-wide limit and the single token hold.
///
/// It holds no runtime and spawns nothing: each call takes the host's [`Context`], and time
/// and HTTP go through its clock and client.
///
/// * **Token**: OAuth 2.0 client credentials (`Authorization: Basic base64(key:secret)`,
///   form body `grant_type=client_credentials`), cached and refreshed [`REFRESH_AHEAD`] (at
///   most 10 % of the lifetime) before `expires_in` ([`FALLBACK_TOKEN_LIFETIME`] when absent).
///   Concurrent callers wait for one refresh instead of each fetching a token. If a refresh
///   fails while the old token has not expired yet, the old token is used.
/// * **401**: the token is refreshed once and the request repeated; a second 401 is
///   [`FracttalError::Unauthorized`]. `401 UNAUTHORIZED_ENDPOINT` is a permission problem
///   and is not retried ([`FracttalError::UnauthorizedEndpoint`]).
/// * **Rate limit**: every API request waits for a slot of a [`RateLimiter`]
///   ([`DEFAULT_REQUESTS_PER_MINUTE`] unless configured) through the context's clock. A 406
///   or 429 answer is returned as [`FracttalError::RateLimited`] with the wait the headers
///   give: the client does not retry it itself, because its callers know better — the flow's
///   retry policy waits for target deliveries, the work-order source waits and re-asks for
///   the same page (see [`WorkOrdersSource`](super::WorkOrdersSource)).
/// * Token requests are not counted against the limiter (the documented limit is on API
///   requests, and the token endpoint is a different host).
///
/// ```
/// use hubflow::fracttal::FracttalClient;
/// use secrecy::SecretString;
///
/// let client = FracttalClient::builder(SecretString::from("key-1"), SecretString::from("s3cr3t-value"))
///     .base_url("https://app.fracttal.com/api".parse().unwrap())
///     .requests_per_minute(100.0)
///     .build();
/// assert_eq!(client.base_url().as_str(), "https://app.fracttal.com/api/");
/// assert_eq!(client.url("work_orders/").unwrap().as_str(), "https://app.fracttal.com/api/work_orders/");
/// assert!(!format!("{client:?}").contains("s3cr3t-value"));
/// ```
#[derive(Clone)]
pub struct FracttalClient {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The base URL, the shared send path and the credentials (whose token cache clones
    /// share).
    api: ApiClient,
    oauth: Arc<ClientCredentials>,
    limiter: Arc<RateLimiter>,
    timeout: Option<Duration>,
}

/// Builds a [`FracttalClient`].
#[must_use]
pub struct FracttalClientBuilder {
    base_url: Url,
    token_url: Url,
    client_id: SecretString,
    client_secret: SecretString,
    requests_per_minute: f64,
    limiter: Option<Arc<RateLimiter>>,
    timeout: Option<Duration>,
}

impl FracttalClientBuilder {
    /// The API base URL (default [`DEFAULT_BASE_URL`]). A missing trailing `/` is added, so
    /// paths join below it.
    pub fn base_url(mut self, url: Url) -> Self {
        self.base_url = url;
        self
    }

    /// The OAuth token URL (default [`DEFAULT_TOKEN_URL`]).
    pub fn token_url(mut self, url: Url) -> Self {
        self.token_url = url;
        self
    }

    /// The company's request budget per minute (default 200). `0` disables the limiter.
    pub fn requests_per_minute(mut self, rate: f64) -> Self {
        self.requests_per_minute = rate;
        self
    }

    /// Uses this limiter instead of one of its own, e.g. to share one budget between
    /// clients of the same Fracttal company built with different settings.
    pub fn rate_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiter = Some(limiter);
        self
    }

    /// A timeout for every request (default: the HTTP client's).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// The client.
    ///
    /// A base URL that is not an absolute `http(s)` URL with a host (and no user info, query
    /// or fragment) makes every request fail with [`FracttalError::InvalidRequest`] saying
    /// why; flow specs refuse it when they are built.
    pub fn build(self) -> FracttalClient {
        let limiter = self
            .limiter
            .unwrap_or_else(|| Arc::new(RateLimiter::per_second(self.requests_per_minute / 60.0)));
        let oauth = Arc::new(
            ClientCredentials::new(self.token_url, self.client_id, self.client_secret)
                .timeout(self.timeout)
                .fallback_lifetime(FALLBACK_TOKEN_LIFETIME)
                .renew_ahead(REFRESH_AHEAD, 10)
                .refusal_wait(token_refusal_wait),
        );
        let api = ApiClient::new(self.base_url, oauth.clone())
            .rejects(token_rejected)
            .timeout(self.timeout)
            .accept_json();
        FracttalClient {
            inner: Arc::new(Inner {
                api,
                oauth,
                limiter,
                timeout: self.timeout,
            }),
        }
    }
}

pub(crate) fn default_url(text: &str) -> Url {
    // Invariant: only called with the crate's own constant URLs, which parse (tested below).
    Url::parse(text).expect("the default Fracttal URLs are valid")
}

impl FracttalClient {
    /// A client with the default URLs and rate limit.
    pub fn new(client_id: SecretString, client_secret: SecretString) -> Self {
        FracttalClient::builder(client_id, client_secret).build()
    }

    /// Starts configuring a client for the OAuth client's key (`client_id`) and secret.
    pub fn builder(client_id: SecretString, client_secret: SecretString) -> FracttalClientBuilder {
        FracttalClientBuilder {
            base_url: default_url(DEFAULT_BASE_URL),
            token_url: default_url(DEFAULT_TOKEN_URL),
            client_id,
            client_secret,
            requests_per_minute: DEFAULT_REQUESTS_PER_MINUTE,
            limiter: None,
            timeout: None,
        }
    }

    /// The API base URL, ending in `/`.
    pub fn base_url(&self) -> &Url {
        self.inner.api.url()
    }

    /// The OAuth token URL.
    pub fn token_url(&self) -> &Url {
        self.inner.oauth.token_url()
    }

    /// The limiter every API request waits on.
    pub fn rate_limiter(&self) -> &Arc<RateLimiter> {
        &self.inner.limiter
    }

    /// Whether two handles share one token cache and limiter.
    pub fn shares_cache_with(&self, other: &FracttalClient) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        FracttalClient { inner }
    }

    /// Whether this client was configured with exactly these settings (used to share one
    /// client between flows built from the same connection).
    pub(crate) fn same_settings(
        &self,
        base_url: &Url,
        token_url: &Url,
        client_id: &SecretString,
        client_secret: &SecretString,
        requests_per_minute: f64,
        timeout: Option<Duration>,
    ) -> bool {
        let inner = &self.inner;
        inner.api.url() == &crate::adapters::shared::base_url::with_trailing_slash(base_url.clone())
            && inner
                .oauth
                .same_settings(token_url, client_id, client_secret, timeout)
            && inner.limiter.interval()
                == RateLimiter::per_second(requests_per_minute / 60.0).interval()
            && inner.timeout == timeout
    }

    /// The URL of `path` below the base URL. Paths that would leave the base URL (absolute
    /// URLs, `..`) are refused: the access token must only go to the configured API.
    pub fn url(&self, path: &str) -> Result<Url, FracttalError> {
        Ok(self.inner.api.join(path)?)
    }

    /// A `GET` of `path` with query parameters, read as an envelope.
    pub async fn get(
        &self,
        ctx: &Context,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Envelope, FracttalError> {
        let mut url = self.url(path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        self.send(ctx, &HttpRequest::new(Method::Get, url)).await
    }

    /// A `POST` of `body` as JSON to `path`, read as an envelope.
    pub async fn post(
        &self,
        ctx: &Context,
        path: &str,
        body: &Value,
    ) -> Result<Envelope, FracttalError> {
        let request = HttpRequest::post_json(self.url(path)?, body)
            .map_err(|e| FracttalError::InvalidRequest(e.to_string()))?;
        self.send(ctx, &request).await
    }

    /// Sends a request (built without credentials, e.g. by a target's `prepare`) with the
    /// cached bearer token through the shared send path (which refreshes the token once
    /// and repeats the request on a 401), and reads the answer's envelope.
    pub async fn send(
        &self,
        ctx: &Context,
        request: &HttpRequest,
    ) -> Result<Envelope, FracttalError> {
        let response = self
            .inner
            .api
            .send(ctx, request, Some(&self.inner.limiter))
            .await?;
        read_answer(&response, ctx.clock().now())
    }

    /// Forgets the cached token, so the next request fetches a new one.
    pub async fn invalidate_token(&self) {
        self.inner.oauth.forget().await;
    }
}

/// A 401 means a refused token, except `UNAUTHORIZED_ENDPOINT`, a permission problem a new
/// token does not fix.
fn token_rejected(response: &HttpResponse) -> bool {
    response.status == 401 && !is_unauthorized_endpoint(response)
}

/// The wait of a refused token request: a rate limit's, from Fracttal's headers.
fn token_refusal_wait(response: &HttpResponse, now: DateTime<Utc>) -> Option<Duration> {
    if matches!(response.status, 406 | 429) {
        Some(rate_limit_wait(response, now))
    } else {
        response.retry_after(now)
    }
}

impl From<SendError> for FracttalError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Transport(e) => FracttalError::Transport(e),
            SendError::Auth(AuthError::Transport(e)) => FracttalError::Transport(e.for_read()),
            SendError::Auth(AuthError::Refused {
                status: status @ (406 | 429),
                retry_after,
                ..
            }) => FracttalError::RateLimited {
                status,
                retry_after: retry_after.unwrap_or_default(),
            },
            SendError::Auth(AuthError::Refused {
                status,
                message,
                retry_after,
            }) => FracttalError::TokenRejected {
                status,
                message,
                retry_after,
            },
            SendError::Auth(AuthError::Unreadable { status, message }) => {
                FracttalError::TokenUnreadable { status, message }
            }
            other => FracttalError::InvalidRequest(other.to_string()),
        }
    }
}

fn is_unauthorized_endpoint(response: &HttpResponse) -> bool {
    // The error body's shape is not documented; the code has been seen as the message.
    String::from_utf8_lossy(&response.body).contains(UNAUTHORIZED_ENDPOINT)
}

impl fmt::Debug for FracttalClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FracttalClient")
            .field("base_url", &self.inner.api.url().as_str())
            .field("credentials", &self.inner.oauth)
            .field("limiter", &self.inner.limiter)
            .finish_non_exhaustive()
    }
}

/// An answer of the Fracttal API: `{"success": true, "message": "200", "data": […], "total": 4}`.
///
/// Tolerant: `message` may be a number, `total` a numeric string, `data` missing (then
/// `null`), and an answer that is a bare array or an object without envelope fields is taken
/// as `data` itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Envelope {
    /// The HTTP status of the answer.
    pub status: u16,
    /// `success`, when present.
    pub success: Option<bool>,
    /// `message` (the HTTP code as text, or an error text).
    pub message: Option<String>,
    /// `data`: an array for queries, often an object for writes.
    pub data: Value,
    /// `total`: the full count of a query.
    pub total: Option<u64>,
}

impl Envelope {
    /// Reads a success answer's body.
    ///
    /// ```
    /// use hubflow::fracttal::Envelope;
    /// let e = Envelope::parse(200, br#"{"success": true, "message": "200", "data": [{"id": 1}], "total": "4"}"#).unwrap();
    /// assert_eq!((e.rows().len(), e.total), (1, Some(4)));
    /// let e = Envelope::parse(200, b"{\"data\": [1,}").unwrap_err();
    /// assert!(e.to_string().contains("line 1, column 13"), "{e}");
    /// ```
    pub fn parse(status: u16, body: &[u8]) -> Result<Envelope, FracttalError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| FracttalError::MalformedJson {
                status,
                line: e.line(),
                column: e.column(),
                message: e.to_string(),
            })?;
        let mut map = match value {
            Value::Object(map)
                if ["success", "data", "total", "message"]
                    .iter()
                    .any(|k| map.contains_key(*k)) =>
            {
                map
            }
            data @ (Value::Object(_) | Value::Array(_)) => {
                return Ok(Envelope {
                    status,
                    success: None,
                    message: None,
                    data,
                    total: None,
                })
            }
            other => {
                return Err(FracttalError::UnexpectedShape {
                    status,
                    message: format!(
                        "expected a JSON object or array, found {}",
                        truncate(&other.to_string(), 80)
                    ),
                })
            }
        };
        let success = match map.get("success") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
            _ => None,
        };
        let message = match map.get("message") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let total = match map.get("total") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        Ok(Envelope {
            status,
            success,
            message,
            data: map.remove("data").unwrap_or(Value::Null),
            total,
        })
    }

    /// The rows of a query: `data` if it is an array, nothing if it is `null`, the object
    /// itself if `data` is one object.
    pub fn rows(&self) -> &[Value] {
        match &self.data {
            Value::Array(rows) => rows,
            Value::Null => &[],
            single => std::slice::from_ref(single),
        }
    }
}

/// Turns an answer into an envelope or a typed error.
pub(crate) fn read_answer(
    response: &HttpResponse,
    now: DateTime<Utc>,
) -> Result<Envelope, FracttalError> {
    if !response.is_success() {
        return Err(status_error(
            response.status,
            error_text(response),
            response,
            now,
        ));
    }
    let envelope = Envelope::parse(response.status, &response.body)?;
    if envelope.success == Some(false) {
        let message = envelope
            .message
            .clone()
            .filter(|m| !m.trim().is_empty())
            .or_else(|| envelope.data.as_str().map(str::to_owned))
            .unwrap_or_else(|| "success: false".to_owned());
        // `message` carries the HTTP code as text; a failure reported with 200 is
        // classified by that code when it is one.
        let status = message
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|code| (400..600).contains(code));
        let text = if message.contains(UNAUTHORIZED_ENDPOINT) {
            format!("success: false, {message}")
        } else {
            format!("success: false, message {}", truncate(&message, 300))
        };
        return Err(match status {
            Some(code) => status_error(code, text, response, now),
            None if message.contains(UNAUTHORIZED_ENDPOINT) => {
                FracttalError::UnauthorizedEndpoint { message: text }
            }
            None => FracttalError::Rejected {
                status: response.status,
                message: text,
            },
        });
    }
    Ok(envelope)
}

fn status_error(
    status: u16,
    message: String,
    response: &HttpResponse,
    now: DateTime<Utc>,
) -> FracttalError {
    match status {
        401 if message.contains(UNAUTHORIZED_ENDPOINT) || is_unauthorized_endpoint(response) => {
            FracttalError::UnauthorizedEndpoint { message }
        }
        401 => FracttalError::Unauthorized { message },
        406 | 429 => FracttalError::RateLimited {
            status,
            retry_after: rate_limit_wait(response, now),
        },
        407 => FracttalError::ClockSkew { message },
        408 => FracttalError::AlreadyExists { message },
        500..=599 => FracttalError::Server {
            status,
            message,
            retry_after: response.retry_after(now),
        },
        _ => FracttalError::Rejected { status, message },
    }
}

#[cfg(test)]
mod tests;
