//! The HTTP port: requests and responses as plain data, and the client trait that sends them.
//!
//! Targets *prepare* an [`HttpRequest`] as a value; the flow sends it through the host's
//! [`HttpClient`]. So a dry run shows exactly what would be sent ([`RecordingClient`]), every
//! adapter is testable without a network, and the host keeps control of TLS, proxies and
//! connection pools. [`ReqwestClient`] (feature `reqwest`) is the ready-made client.
//!
//! Header values that carry credentials are [`HeaderValue::Secret`]: their `Debug`,
//! serialized and displayed forms are `[redacted]`, so a request can be logged or shown in a
//! dry run as it is.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use secrecy::{ExposeSecret, SecretString};
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};
use url::Url;

mod fake;
#[cfg(feature = "reqwest")]
mod reqwest_client;

pub(crate) use fake::{trimmed_path, FakeScript};
pub use fake::{FakeClient, ProviderFake};
#[cfg(feature = "reqwest")]
pub use reqwest_client::{ReqwestClient, ReqwestClientBuilder, DEFAULT_MAX_RESPONSE_BYTES};

/// The text every redacted value is shown as.
pub const REDACTED: &str = "[redacted]";

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A header value: plain text, or a secret that is only exposed to the wire.
#[derive(Clone)]
pub enum HeaderValue {
    /// An ordinary value, shown as it is.
    Plain(String),
    /// A credential (a bearer token, an API key); shown as `[redacted]` everywhere.
    Secret(SecretString),
}

impl HeaderValue {
    /// The value as sent on the wire. Only HTTP clients should call this.
    pub fn expose(&self) -> &str {
        match self {
            HeaderValue::Plain(value) => value,
            HeaderValue::Secret(secret) => secret.expose_secret(),
        }
    }

    /// The value as it may be shown: plain values as they are, secrets as `[redacted]`.
    pub fn shown(&self) -> &str {
        match self {
            HeaderValue::Plain(value) => value,
            HeaderValue::Secret(_) => REDACTED,
        }
    }

    /// Whether this value is a credential.
    pub fn is_secret(&self) -> bool {
        matches!(self, HeaderValue::Secret(_))
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

impl PartialEq for HeaderValue {
    fn eq(&self, other: &Self) -> bool {
        self.is_secret() == other.is_secret() && self.expose() == other.expose()
    }
}

/// Ordered HTTP headers; names compare case-insensitively.
///
/// ```
/// use hubflow::http::Headers;
/// use secrecy::SecretString;
///
/// let mut headers = Headers::new();
/// headers.insert("Content-Type", "application/json");
/// headers.insert_secret("Authorization", SecretString::from("Bearer abc"));
/// assert_eq!(headers.get("content-type"), Some("application/json"));
/// assert_eq!(headers.get("authorization"), Some("Bearer abc"));
/// assert!(!format!("{headers:?}").contains("abc"));
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Headers(Vec<(String, HeaderValue)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// Sets a plain header, replacing any header of the same name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.set(name.into(), HeaderValue::Plain(value.into()));
    }

    /// Sets a secret header, replacing any header of the same name.
    pub fn insert_secret(&mut self, name: impl Into<String>, value: SecretString) {
        self.set(name.into(), HeaderValue::Secret(value));
    }

    /// Appends a header without replacing others of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: HeaderValue) {
        self.0.push((name.into(), value));
    }

    fn set(&mut self, name: String, value: HeaderValue) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.0.push((name, value));
    }

    /// The first value of `name`, exposed. For credentials use [`Headers::get_value`].
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_value(name).map(HeaderValue::expose)
    }

    /// The first value of `name`.
    pub fn get_value(&self, name: &str) -> Option<&HeaderValue> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Removes every header named `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &HeaderValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, v)| (n, v.shown())))
            .finish()
    }
}

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(n, v)| (n, v.shown())))
    }
}

/// A request as data: what a target wants sent.
///
/// ```
/// use hubflow::http::{HttpRequest, Method};
/// use serde_json::json;
///
/// let request = HttpRequest::post_json("https://example.com/hook".parse().unwrap(), &json!({"a": 1}))
///     .unwrap()
///     .header("X-Source", "hubflow");
/// assert_eq!(request.method, Method::Post);
/// assert_eq!(request.headers.get("content-type"), Some("application/json"));
/// assert_eq!(request.json_body().unwrap(), json!({"a": 1}));
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The full URL, query included.
    pub url: Url,
    /// Request headers.
    pub headers: Headers,
    /// The body bytes (cheap to clone, so retries do not copy it).
    pub body: Bytes,
    /// A per-request timeout; `None` leaves it to the client's default.
    pub timeout: Option<Duration>,
    /// Whether the body carries credentials (a login's password, a refresh token): it is then
    /// shown as `[redacted]` by `Debug` and serialization, like a secret header.
    pub secret_body: bool,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body: &dyn fmt::Debug = if self.secret_body {
            &REDACTED
        } else {
            &String::from_utf8_lossy(&self.body)
        };
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &self.headers)
            .field("body", body)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpRequest {
    /// A request without headers or body.
    pub fn new(method: Method, url: Url) -> Self {
        HttpRequest {
            method,
            url,
            headers: Headers::new(),
            body: Bytes::new(),
            timeout: None,
            secret_body: false,
        }
    }

    /// A `POST` with `body` serialized as JSON and `Content-Type: application/json`.
    pub fn post_json<T: Serialize + ?Sized>(url: Url, body: &T) -> Result<Self, serde_json::Error> {
        HttpRequest::new(Method::Post, url).json(body)
    }

    /// Sets the body to `body` as JSON, with its content type.
    pub fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, serde_json::Error> {
        self.body = Bytes::from(serde_json::to_vec(body)?);
        self.headers.insert("Content-Type", "application/json");
        Ok(self)
    }

    /// Adds a plain header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Adds a credential header, redacted wherever the request is shown.
    #[must_use]
    pub fn secret_header(mut self, name: impl Into<String>, value: SecretString) -> Self {
        self.headers.insert_secret(name, value);
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Marks the body as carrying credentials, so it is redacted wherever the request is
    /// shown (see [`HttpRequest::secret_body`](HttpRequest#structfield.secret_body)).
    #[must_use]
    pub fn with_secret_body(mut self) -> Self {
        self.secret_body = true;
        self
    }

    /// The body parsed as JSON.
    pub fn json_body(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// Serializes for display: secret headers redacted; a JSON body inline, any other body as
/// its length, so a dry run can print a request as it is.
impl Serialize for HttpRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("HttpRequest", 4)?;
        s.serialize_field("method", &self.method)?;
        s.serialize_field("url", self.url.as_str())?;
        s.serialize_field("headers", &self.headers)?;
        match self.json_body() {
            _ if self.secret_body => s.serialize_field("body", REDACTED)?,
            Ok(json) => s.serialize_field("body", &json)?,
            Err(_) if self.body.is_empty() => s.serialize_field("body", &())?,
            Err(_) => s.serialize_field("body", &format!("<{} bytes>", self.body.len()))?,
        }
        s.end()
    }
}

/// A response as data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers.
    pub headers: Headers,
    /// The body bytes.
    pub body: Bytes,
}

impl HttpResponse {
    /// A response with a status and a body.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        HttpResponse {
            status,
            headers: Headers::new(),
            body: body.into(),
        }
    }

    /// A `200` with `body` as JSON.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        let mut response = HttpResponse::new(status, body.to_string());
        response.headers.insert("Content-Type", "application/json");
        response
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body parsed as JSON.
    pub fn json_body(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The `Retry-After` header as a delay, in either of its forms: delta seconds, or an
    /// HTTP date (taken relative to `now`). A date in the past gives zero.
    ///
    /// ```
    /// use hubflow::http::HttpResponse;
    /// use std::time::Duration;
    /// let now = "2026-01-01T00:00:00Z".parse().unwrap();
    /// let r = HttpResponse::new(429, "").header("Retry-After", "30");
    /// assert_eq!(r.retry_after(now), Some(Duration::from_secs(30)));
    /// let r = HttpResponse::new(503, "").header("Retry-After", "Thu, 01 Jan 2026 00:01:00 GMT");
    /// assert_eq!(r.retry_after(now), Some(Duration::from_secs(60)));
    /// ```
    pub fn retry_after(&self, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
        let value = self.headers.get("retry-after")?.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        Some(
            (at.with_timezone(&chrono::Utc) - now)
                .to_std()
                .unwrap_or_default(),
        )
    }

    /// The start of the body as text, for error messages: at most `max` characters.
    pub fn body_excerpt(&self, max: usize) -> String {
        crate::text::truncate(&String::from_utf8_lossy(&self.body), max)
    }
}

/// The reason a token endpoint gave for refusing, from the named OAuth fields only
/// (`error`, `error_description`, `message`, `code`): a token answer's body may echo the
/// credentials that were sent, so it is never quoted as it is.
#[cfg_attr(not(any(feature = "fracttal", feature = "rm")), allow(dead_code))]
pub(crate) fn token_refusal_reason(response: &HttpResponse) -> String {
    if let Ok(serde_json::Value::Object(map)) = response.json_body() {
        let fields: Vec<String> = ["error", "error_description", "message", "code"]
            .iter()
            .filter_map(|key| match map.get(*key) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                    Some(s.trim().chars().take(200).collect())
                }
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
            .collect();
        if !fields.is_empty() {
            return fields.join(": ");
        }
    }
    "no reason given".to_owned()
}

/// Why a request got no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HttpError {
    /// The request or the response took longer than the timeout.
    #[error("request timed out")]
    Timeout,
    /// No connection could be made (refused, unreachable, DNS failure, TLS handshake).
    #[error("could not connect: {0}")]
    Connect(String),
    /// The request could not be built (an invalid header value, an unsupported URL).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Anything else on the way: a reset connection, a body read that failed.
    #[error("transport error: {0}")]
    Other(String),
    /// A streamed response body ([`HttpClient::send_to`]) was longer than the caller
    /// allowed; reading stopped there.
    #[error("the response body is longer than the {limit} bytes allowed")]
    BodyTooLarge {
        /// The most bytes the caller allowed.
        limit: u64,
    },
    /// The writer a streamed body went to ([`HttpClient::send_to`]) failed.
    #[error("could not write the response body: {0}")]
    Sink(String),
}

/// What [`HttpClient::send_to`] returns: the head of the response, and either the count of
/// body bytes written to the sink (a 2xx answer) or the body itself (any other answer,
/// which is an error message, not the content asked for).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamedResponse {
    /// The status code.
    pub status: u16,
    /// Response headers.
    pub headers: Headers,
    /// Body bytes written to the sink; 0 unless the status is 2xx.
    pub written: u64,
    /// The body of a non-2xx answer (never written to the sink); empty for a 2xx answer.
    pub body: Bytes,
}

impl StreamedResponse {
    /// Whether the status is 2xx (so the body went to the sink).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The answer as an [`HttpResponse`] (its body is empty for a 2xx answer), for error
    /// handling written against `HttpResponse`.
    pub fn to_response(&self) -> HttpResponse {
        HttpResponse {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }
}

/// Sends [`HttpRequest`]s. The host supplies one in the [`Context`](crate::Context);
/// implement it to route hubflow's traffic through your own stack.
///
/// Implementations return `Ok` for every response that arrived, whatever its status, and
/// `Err` only when there is no response. They must not follow redirects that would carry
/// credentials to another host.
#[async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends one request and waits for its whole response.
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError>;

    /// Sends one request and writes the body of a 2xx answer to `sink`, at most
    /// `max_bytes` of it; for large downloads (media files) that should not sit in memory.
    ///
    /// * A 2xx body goes to `sink`; [`StreamedResponse::written`] counts it. A body longer
    ///   than `max_bytes` is [`HttpError::BodyTooLarge`]: reading stops there, and what was
    ///   written so far (never more than `max_bytes`) is for the caller to discard.
    /// * Any other answer is an error message rather than the content: its body (also at
    ///   most `max_bytes`) comes back in [`StreamedResponse::body`] and `sink` is untouched.
    /// * A failing `sink` is [`HttpError::Sink`].
    ///
    /// The provided implementation goes through [`send`](HttpClient::send), so it holds
    /// the whole body in memory before checking the limit; clients that can stream
    /// ([`ReqwestClient`] does) override it.
    ///
    /// ```
    /// use hubflow::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method, RecordingClient};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let client = RecordingClient::answering(HttpResponse::new(200, "0123456789"));
    /// let request = HttpRequest::new(Method::Get, "https://example.com/file".parse().unwrap());
    /// let mut sink = Vec::new();
    /// let head = client.send_to(&request, &mut sink, 100).await.unwrap();
    /// assert_eq!((head.status, head.written, sink.as_slice()), (200, 10, &b"0123456789"[..]));
    /// let too_long = client.send_to(&request, &mut Vec::new(), 4).await.unwrap_err();
    /// assert_eq!(too_long, HttpError::BodyTooLarge { limit: 4 });
    /// # });
    /// ```
    async fn send_to(
        &self,
        request: &HttpRequest,
        sink: &mut (dyn std::io::Write + Send),
        max_bytes: u64,
    ) -> Result<StreamedResponse, HttpError> {
        let response = self.send(request).await?;
        if u64::try_from(response.body.len()).map_or(true, |length| length > max_bytes) {
            return Err(HttpError::BodyTooLarge { limit: max_bytes });
        }
        if !response.is_success() {
            return Ok(StreamedResponse {
                status: response.status,
                headers: response.headers,
                written: 0,
                body: response.body,
            });
        }
        sink.write_all(&response.body)
            .and_then(|()| sink.flush())
            .map_err(|e| HttpError::Sink(e.to_string()))?;
        Ok(StreamedResponse {
            status: response.status,
            headers: response.headers,
            // Checked against `max_bytes` (a u64) above.
            written: response.body.len() as u64,
            body: Bytes::new(),
        })
    }
}

#[async_trait]
impl<C: HttpClient + ?Sized> HttpClient for Arc<C> {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        (**self).send(request).await
    }

    async fn send_to(
        &self,
        request: &HttpRequest,
        sink: &mut (dyn std::io::Write + Send),
        max_bytes: u64,
    ) -> Result<StreamedResponse, HttpError> {
        (**self).send_to(request, sink, max_bytes).await
    }
}

#[async_trait]
impl<C: HttpClient + ?Sized> HttpClient for Box<C> {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        (**self).send(request).await
    }

    async fn send_to(
        &self,
        request: &HttpRequest,
        sink: &mut (dyn std::io::Write + Send),
        max_bytes: u64,
    ) -> Result<StreamedResponse, HttpError> {
        (**self).send_to(request, sink, max_bytes).await
    }
}

/// An in-memory client for tests and dry runs: records every request, answers from a queue
/// of canned responses, then with a default (`200 {}` unless set).
///
/// Clones share the recording, so a test can hand one clone to a flow and inspect the other.
///
/// ```
/// use hubflow::http::{HttpClient, HttpRequest, HttpResponse, Method, RecordingClient};
/// # futures_executor_block_on(async {
/// let client = RecordingClient::new();
/// client.push_response(HttpResponse::new(503, "busy"));
/// let request = HttpRequest::new(Method::Get, "https://example.com/".parse().unwrap());
/// assert_eq!(client.send(&request).await.unwrap().status, 503);
/// assert_eq!(client.send(&request).await.unwrap().status, 200);
/// assert_eq!(client.requests().len(), 2);
/// # });
/// # fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Default)]
pub struct RecordingClient {
    inner: Arc<Mutex<Recording>>,
}

#[derive(Default)]
struct Recording {
    requests: Vec<HttpRequest>,
    queued: std::collections::VecDeque<Result<HttpResponse, HttpError>>,
    fallback: Option<HttpResponse>,
}

impl RecordingClient {
    /// A client that answers `200 {}` to everything.
    pub fn new() -> Self {
        RecordingClient::default()
    }

    /// A client whose answer, once the queue is empty, is `response`.
    pub fn answering(response: HttpResponse) -> Self {
        let client = RecordingClient::new();
        client.lock().fallback = Some(response);
        client
    }

    /// Queues a response for the next request.
    pub fn push_response(&self, response: HttpResponse) {
        self.lock().queued.push_back(Ok(response));
    }

    /// Queues a transport failure for the next request.
    pub fn push_error(&self, error: HttpError) {
        self.lock().queued.push_back(Err(error));
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.lock().requests.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recording> {
        // A panic while holding this lock can only come from a test's own assertion; the
        // recording stays usable, so poisoning is ignored.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for RecordingClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingClient")
            .field("requests", &self.lock().requests.len())
            .finish()
    }
}

#[async_trait]
impl HttpClient for RecordingClient {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut recording = self.lock();
        recording.requests.push(request.clone());
        match recording.queued.pop_front() {
            Some(answer) => answer,
            None => Ok(recording
                .fallback
                .clone()
                .unwrap_or_else(|| HttpResponse::json(200, &serde_json::json!({})))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn url() -> Url {
        "https://example.com/hook".parse().unwrap()
    }

    #[test]
    fn secrets_never_show_in_debug_or_serialization() {
        let request = HttpRequest::post_json(url(), &json!({"x": 1}))
            .unwrap()
            .secret_header("Authorization", SecretString::from("Bearer s3cr3t"));
        let debug = format!("{request:?}");
        let json = serde_json::to_string(&request).unwrap();
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(!json.contains("s3cr3t"), "{json}");
        assert!(json.contains(REDACTED));
        assert_eq!(request.headers.get("authorization"), Some("Bearer s3cr3t"));
    }

    #[test]
    fn a_token_refusal_is_explained_without_quoting_the_body() {
        let echo = HttpResponse::new(
            400,
            r#"{"error":"invalid_client","client_secret":"s3cr3t","error_description":"bad secret"}"#,
        );
        assert_eq!(token_refusal_reason(&echo), "invalid_client: bad secret");
        let html = HttpResponse::new(500, "<html>client_secret=s3cr3t</html>");
        assert_eq!(token_refusal_reason(&html), "no reason given");
    }

    #[test]
    fn a_secret_body_is_redacted_in_debug_and_serialization() {
        let request =
            HttpRequest::post_json(url(), &json!({"username": "u", "password": "hunter2"}))
                .unwrap()
                .with_secret_body();
        let debug = format!("{request:?}");
        let shown = serde_json::to_string(&request).unwrap();
        assert!(
            !debug.contains("hunter2") && !shown.contains("hunter2"),
            "{debug} {shown}"
        );
        assert!(shown.contains(REDACTED));
        assert_eq!(request.json_body().unwrap()["password"], "hunter2");
        let plain = HttpRequest::post_json(url(), &json!({"a": "visible"})).unwrap();
        assert!(format!("{plain:?}").contains("visible"));
    }

    #[test]
    fn serialization_shows_json_bodies_inline_and_others_by_length() {
        let request = HttpRequest::post_json(url(), &json!({"x": 1})).unwrap();
        let shown = serde_json::to_value(&request).unwrap();
        assert_eq!(shown["body"], json!({"x": 1}));
        assert_eq!(shown["method"], "POST");
        let mut binary = HttpRequest::new(Method::Put, url());
        binary.body = Bytes::from_static(&[0xff, 0x00, 0x01]);
        assert_eq!(serde_json::to_value(&binary).unwrap()["body"], "<3 bytes>");
    }

    #[test]
    fn headers_replace_case_insensitively() {
        let mut headers = Headers::new();
        headers.insert("X-A", "1");
        headers.insert("x-a", "2");
        headers.append("x-a", HeaderValue::Plain("3".into()));
        assert_eq!(headers.iter().count(), 2);
        assert_eq!(headers.get("X-A"), Some("2"));
        headers.remove("X-a");
        assert!(headers.is_empty());
    }

    #[test]
    fn retry_after_handles_garbage_and_past_dates() {
        let now = "2026-01-01T00:00:00Z".parse().unwrap();
        let garbage = HttpResponse::new(429, "").header("Retry-After", "soon");
        assert_eq!(garbage.retry_after(now), None);
        let past =
            HttpResponse::new(429, "").header("Retry-After", "Wed, 31 Dec 2025 23:00:00 GMT");
        assert_eq!(past.retry_after(now), Some(Duration::ZERO));
        assert_eq!(HttpResponse::new(429, "").retry_after(now), None);
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn send_to_by_default_keeps_error_bodies_out_of_the_sink() {
        let client = RecordingClient::new();
        client.push_response(HttpResponse::new(404, "gone"));
        let request = HttpRequest::new(Method::Get, url());
        let mut sink = Vec::new();
        let head = block_on(client.send_to(&request, &mut sink, 100)).unwrap();
        assert_eq!((head.status, head.written), (404, 0));
        assert_eq!(head.body.as_ref(), b"gone");
        assert!(sink.is_empty());
        assert_eq!(client.requests().len(), 1);
    }

    #[test]
    fn send_to_by_default_reports_a_failing_sink() {
        struct Broken;
        impl std::io::Write for Broken {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let client = RecordingClient::answering(HttpResponse::new(200, "data"));
        let request = HttpRequest::new(Method::Get, url());
        let error = block_on(client.send_to(&request, &mut Broken, 100)).unwrap_err();
        assert_eq!(error, HttpError::Sink("disk full".into()));
    }

    #[test]
    fn body_excerpt_cuts_on_characters() {
        let r = HttpResponse::new(500, "ação completa");
        assert_eq!(r.body_excerpt(4), "ação…");
        assert_eq!(r.body_excerpt(100), "ação completa");
    }
}
