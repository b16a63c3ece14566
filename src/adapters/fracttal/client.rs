//! The Fracttal One API client: OAuth client credentials with a shared token cache, the
//! company-wide rate limit, and the `{success, message, data, total}` envelope.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde_json::Value;
use url::Url;

use super::error::{error_text, rate_limit_wait, FracttalError, UNAUTHORIZED_ENDPOINT};
use crate::adapters::shared::token::{TokenCache, TokenSlot};
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
    base_url: Url,
    token_url: Url,
    client_id: SecretString,
    client_secret: SecretString,
    limiter: Arc<RateLimiter>,
    timeout: Option<Duration>,
    token: TokenCache<CachedToken>,
}

#[derive(Clone)]
struct CachedToken {
    access: SecretString,
    refresh_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    generation: u64,
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
    pub fn build(self) -> FracttalClient {
        let mut base_url = self.base_url;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        let limiter = self
            .limiter
            .unwrap_or_else(|| Arc::new(RateLimiter::per_second(self.requests_per_minute / 60.0)));
        FracttalClient {
            inner: Arc::new(Inner {
                base_url,
                token_url: self.token_url,
                client_id: self.client_id,
                client_secret: self.client_secret,
                limiter,
                timeout: self.timeout,
                token: TokenCache::default(),
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
        &self.inner.base_url
    }

    /// The OAuth token URL.
    pub fn token_url(&self) -> &Url {
        &self.inner.token_url
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
        let mut expected_base = base_url.clone();
        if !expected_base.path().ends_with('/') {
            let path = format!("{}/", expected_base.path());
            expected_base.set_path(&path);
        }
        inner.base_url == expected_base
            && &inner.token_url == token_url
            && inner.client_id.expose_secret() == client_id.expose_secret()
            && inner.client_secret.expose_secret() == client_secret.expose_secret()
            && inner.limiter.interval()
                == RateLimiter::per_second(requests_per_minute / 60.0).interval()
            && inner.timeout == timeout
    }

    /// The URL of `path` below the base URL. Paths that would leave the base URL (absolute
    /// URLs, `..`) are refused: the access token must only go to the configured API.
    pub fn url(&self, path: &str) -> Result<Url, FracttalError> {
        let url = self
            .inner
            .base_url
            .join(path.trim_start_matches('/'))
            .map_err(|e| FracttalError::InvalidRequest(format!("bad path `{path}`: {e}")))?;
        self.check_url(&url)?;
        Ok(url)
    }

    fn check_url(&self, url: &Url) -> Result<(), FracttalError> {
        if url.as_str().starts_with(self.inner.base_url.as_str()) {
            Ok(())
        } else {
            Err(FracttalError::InvalidRequest(format!(
                "{url} is outside the configured base URL {}",
                self.inner.base_url
            )))
        }
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
    /// cached bearer token, refreshing the token once and repeating the request on a 401,
    /// and reads the answer's envelope.
    pub async fn send(
        &self,
        ctx: &Context,
        request: &HttpRequest,
    ) -> Result<Envelope, FracttalError> {
        self.check_url(&request.url)?;
        let token = self.current_token(ctx).await?;
        let response = self.send_with(ctx, request, &token.access).await?;
        if response.status != 401 || is_unauthorized_endpoint(&response) {
            return read_answer(&response, ctx.clock().now());
        }
        let fresh = self.refresh_after_rejection(ctx, token.generation).await?;
        let response = self.send_with(ctx, request, &fresh.access).await?;
        if response.status == 401 && !is_unauthorized_endpoint(&response) {
            return Err(FracttalError::Unauthorized {
                message: error_text(&response),
            });
        }
        read_answer(&response, ctx.clock().now())
    }

    /// The current access token, fetched or refreshed as needed.
    pub async fn access_token(&self, ctx: &Context) -> Result<SecretString, FracttalError> {
        Ok(self.current_token(ctx).await?.access)
    }

    /// Forgets the cached token, so the next request fetches a new one.
    pub async fn invalidate_token(&self) {
        self.inner.token.invalidate().await;
    }

    async fn send_with(
        &self,
        ctx: &Context,
        request: &HttpRequest,
        access: &SecretString,
    ) -> Result<HttpResponse, FracttalError> {
        let mut request = request.clone();
        request.headers.insert_secret(
            "Authorization",
            SecretString::from(format!("Bearer {}", access.expose_secret())),
        );
        if request.headers.get("accept").is_none() {
            request.headers.insert("Accept", "application/json");
        }
        if request.timeout.is_none() {
            request.timeout = self.inner.timeout;
        }
        self.inner.limiter.acquire_in(ctx, "").await;
        Ok(ctx.http().send(&request).await?)
    }

    /// The cached token if it is not due for refresh; else one refresh, which concurrent
    /// callers wait for (the lock is held across the fetch on purpose).
    async fn current_token(&self, ctx: &Context) -> Result<CachedToken, FracttalError> {
        let mut slot = self.inner.token.lock(ctx).await;
        let now = ctx.clock().now();
        if let Some(token) = slot.current.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.clone());
        }
        self.refill(ctx, &mut slot).await
    }

    /// After a 401 with token `generation`: refreshes, unless another caller already did.
    async fn refresh_after_rejection(
        &self,
        ctx: &Context,
        generation: u64,
    ) -> Result<CachedToken, FracttalError> {
        let mut slot = self.inner.token.lock(ctx).await;
        if let Some(token) = slot.current.as_ref().filter(|t| t.generation != generation) {
            return Ok(token.clone());
        }
        // The refused token must not be reused, even though it has not expired.
        slot.current = None;
        self.refill(ctx, &mut slot).await
    }

    async fn refill(
        &self,
        ctx: &Context,
        slot: &mut TokenSlot<CachedToken>,
    ) -> Result<CachedToken, FracttalError> {
        match self.fetch_token(ctx).await {
            Ok((access, lifetime)) => {
                let obtained = ctx.clock().now();
                slot.generation += 1;
                let margin = REFRESH_AHEAD.min(lifetime / 10);
                let token = CachedToken {
                    access,
                    refresh_at: crate::clock::add(obtained, lifetime.saturating_sub(margin)),
                    expires_at: crate::clock::add(obtained, lifetime),
                    generation: slot.generation,
                };
                slot.current = Some(token.clone());
                Ok(token)
            }
            Err(error) => {
                // A refresh ahead of expiry that fails leaves a token that still works.
                let now = ctx.clock().now();
                match slot.current.as_ref().filter(|t| now < t.expires_at) {
                    Some(token) => Ok(token.clone()),
                    None => Err(error),
                }
            }
        }
    }

    async fn fetch_token(&self, ctx: &Context) -> Result<(SecretString, Duration), FracttalError> {
        let mut request = HttpRequest::new(Method::Post, self.inner.token_url.clone())
            .secret_header(
                "Authorization",
                basic_authorization(&self.inner.client_id, &self.inner.client_secret),
            )
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json");
        request.body = Bytes::from_static(b"grant_type=client_credentials");
        request.timeout = self.inner.timeout;
        let response = ctx.http().send(&request).await?;
        let now = ctx.clock().now();
        if !response.is_success() {
            if matches!(response.status, 406 | 429) {
                return Err(FracttalError::RateLimited {
                    status: response.status,
                    retry_after: rate_limit_wait(&response, now),
                });
            }
            return Err(FracttalError::TokenRejected {
                status: response.status,
                message: crate::http::token_refusal_reason(&response),
                retry_after: response.retry_after(now),
            });
        }
        parse_token(&response)
    }
}

/// Reads a token answer. Its body is never quoted in errors: it may hold a token.
fn parse_token(response: &HttpResponse) -> Result<(SecretString, Duration), FracttalError> {
    let unreadable = |message: String| FracttalError::TokenUnreadable {
        status: response.status,
        message,
    };
    let body: Value = serde_json::from_slice(&response.body).map_err(|e| {
        unreadable(format!(
            "not JSON (error at line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(map) = body else {
        return Err(unreadable("not a JSON object".to_owned()));
    };
    let access = match map.get("access_token") {
        Some(Value::String(token)) if !token.trim().is_empty() => {
            SecretString::from(token.trim().to_owned())
        }
        _ => return Err(unreadable("no `access_token` in the answer".to_owned())),
    };
    if let Some(Value::String(kind)) = map.get("token_type") {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(unreadable(format!(
                "token type `{}` is not a bearer token",
                truncate(kind, 40)
            )));
        }
    }
    let lifetime = match map.get("expires_in") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite() && *s > 0.0)
    .and_then(|s| Duration::try_from_secs_f64(s).ok())
    .unwrap_or(FALLBACK_TOKEN_LIFETIME);
    Ok((access, lifetime))
}

fn is_unauthorized_endpoint(response: &HttpResponse) -> bool {
    // The error body's shape is not documented; the code has been seen as the message.
    String::from_utf8_lossy(&response.body).contains(UNAUTHORIZED_ENDPOINT)
}

impl fmt::Debug for FracttalClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FracttalClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field("token_url", &self.inner.token_url.as_str())
            .field("client_id", &crate::http::REDACTED)
            .field("client_secret", &crate::http::REDACTED)
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

/// `Basic base64(key:secret)` (RFC 7617, as OAuth client authentication asks), in
/// base64's standard alphabet with padding.
fn basic_authorization(client_id: &SecretString, client_secret: &SecretString) -> SecretString {
    use base64::Engine as _;
    let pair = format!(
        "{}:{}",
        client_id.expose_secret(),
        client_secret.expose_secret()
    );
    SecretString::from(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_basic_header_is_base64_of_key_colon_secret() {
        // Computed independently.
        for (key, secret, header) in [
            ("key", "secret", "Basic a2V5OnNlY3JldA=="),
            (
                "fr-key-42",
                "fr-secret-XYZ",
                "Basic ZnIta2V5LTQyOmZyLXNlY3JldC1YWVo=",
            ),
            ("", "", "Basic Og=="),
        ] {
            let value = basic_authorization(&key.into(), &secret.into());
            assert_eq!(value.expose_secret(), header);
        }
    }

    #[test]
    fn default_urls_parse() {
        assert_eq!(default_url(DEFAULT_BASE_URL).as_str(), DEFAULT_BASE_URL);
        assert_eq!(default_url(DEFAULT_TOKEN_URL).as_str(), DEFAULT_TOKEN_URL);
    }

    #[test]
    fn urls_stay_below_the_base() {
        let client = FracttalClient::builder("k".into(), "s".into())
            .base_url("https://example.com/api".parse().unwrap())
            .build();
        assert_eq!(
            client.url("/work_requests").unwrap().as_str(),
            "https://example.com/api/work_requests"
        );
        for bad in ["https://evil.example/x", "../admin", "./../../x"] {
            assert!(client.url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn token_answers_are_read_tolerantly_and_never_quoted() {
        let ok = HttpResponse::new(
            200,
            r#"{"access_token":"abc","token_type":"Bearer","expires_in":"3600"}"#,
        );
        let (token, lifetime) = parse_token(&ok).unwrap();
        assert_eq!(token.expose_secret(), "abc");
        assert_eq!(lifetime, Duration::from_secs(3600));
        let (_, lifetime) =
            parse_token(&HttpResponse::new(200, r#"{"access_token":"abc"}"#)).unwrap();
        assert_eq!(lifetime, FALLBACK_TOKEN_LIFETIME);
        let odd = HttpResponse::new(200, r#"{"token":"very-secret-value"}"#);
        let e = parse_token(&odd).unwrap_err();
        assert!(!e.to_string().contains("very-secret-value"), "{e}");
        let e = parse_token(&HttpResponse::new(200, "<html>")).unwrap_err();
        assert!(e.to_string().contains("line 1, column 1"), "{e}");
    }

    #[test]
    fn envelopes_and_failures_are_typed() {
        let now = "2026-03-02T08:00:00Z".parse().unwrap();
        let ok = HttpResponse::new(
            200,
            r#"{"success":true,"message":"200","data":[],"total":0}"#,
        );
        assert_eq!(read_answer(&ok, now).unwrap().total, Some(0));
        let bare = HttpResponse::new(200, r#"[{"id":1}]"#);
        assert_eq!(read_answer(&bare, now).unwrap().rows().len(), 1);
        let refused = HttpResponse::new(200, r#"{"success":false,"message":"associated before"}"#);
        assert!(matches!(
            read_answer(&refused, now),
            Err(FracttalError::Rejected { status: 200, .. })
        ));
        let limited = HttpResponse::new(200, r#"{"success":false,"message":"406"}"#);
        assert!(matches!(
            read_answer(&limited, now),
            Err(FracttalError::RateLimited { status: 406, .. })
        ));
        let scalar = HttpResponse::new(200, "42");
        assert!(matches!(
            read_answer(&scalar, now),
            Err(FracttalError::UnexpectedShape { .. })
        ));
        for (status, check) in [
            (
                403,
                (|e: &FracttalError| matches!(e, FracttalError::Rejected { .. }))
                    as fn(&FracttalError) -> bool,
            ),
            (407, |e| matches!(e, FracttalError::ClockSkew { .. })),
            (408, |e| matches!(e, FracttalError::AlreadyExists { .. })),
            (503, |e| matches!(e, FracttalError::Server { .. })),
            (429, |e| matches!(e, FracttalError::RateLimited { .. })),
        ] {
            let e = read_answer(&HttpResponse::new(status, "x"), now).unwrap_err();
            assert!(check(&e), "{status}: {e:?}");
        }
    }
}
