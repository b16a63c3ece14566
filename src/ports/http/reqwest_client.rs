use std::time::Duration;

use async_trait::async_trait;

use bytes::Bytes;

use super::{
    ConnectFailure, HttpClient, HttpError, HttpRequest, HttpResponse, Method, StreamedResponse,
};

/// [`HttpClient`] on top of [`reqwest`], with the settings an integration wants.
///
/// * a connect timeout (10 s) and a whole-request timeout (30 s), both adjustable, and
///   overridden per request by [`HttpRequest::timeout`];
/// * no redirects at all: hubflow's requests carry credentials, and a redirect would hand
///   them to whatever host the provider (or an attacker) names; a 3xx comes back as a response;
/// * one connection pool shared by every clone, so clone it freely across flows.
///
/// ```no_run
/// use hubflow::http::ReqwestClient;
/// use std::time::Duration;
/// let client = ReqwestClient::builder().timeout(Duration::from_secs(10)).build().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
    max_response: u64,
}

/// The largest response body [`HttpClient::send`] reads by default: API answers are
/// kilobytes; anything this large is a misbehaving endpoint, not data to hold in memory.
/// Downloads go through [`HttpClient::send_to`] with their own cap.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 16 * 1024 * 1024;

/// Settings for a [`ReqwestClient`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ReqwestClientBuilder {
    connect_timeout: Duration,
    timeout: Duration,
    user_agent: String,
    max_response: u64,
}

impl ReqwestClient {
    /// A client with the default settings.
    pub fn new() -> Result<Self, HttpError> {
        ReqwestClient::builder().build()
    }

    /// Settings to adjust before building.
    pub fn builder() -> ReqwestClientBuilder {
        ReqwestClientBuilder {
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(30),
            user_agent: concat!("hubflow/", env!("CARGO_PKG_VERSION")).to_owned(),
            max_response: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }

    /// Wraps a reqwest client you configured yourself. Make sure it does not follow
    /// redirects (`redirect::Policy::none()`), or credentials may go to another host.
    pub fn from_client(client: reqwest::Client) -> Self {
        ReqwestClient {
            client,
            max_response: DEFAULT_MAX_RESPONSE_BYTES,
        }
    }
}

impl ReqwestClientBuilder {
    /// How long to wait for a connection.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a whole request may take, unless the request sets its own.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The largest response body `send` reads (default [`DEFAULT_MAX_RESPONSE_BYTES`]); a
    /// larger one is [`HttpError::BodyTooLarge`].
    pub fn max_response_bytes(mut self, max: u64) -> Self {
        self.max_response = max;
        self
    }

    /// The `User-Agent` header sent with every request.
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<ReqwestClient, HttpError> {
        let client = reqwest::Client::builder()
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(self.user_agent)
            .build()
            .map_err(|e| HttpError::other("the HTTP client could not be built").with_source(e))?;
        Ok(ReqwestClient {
            client,
            max_response: self.max_response,
        })
    }
}

fn method(method: Method) -> reqwest::Method {
    match method {
        Method::Get => reqwest::Method::GET,
        Method::Post => reqwest::Method::POST,
        Method::Put => reqwest::Method::PUT,
        Method::Patch => reqwest::Method::PATCH,
        Method::Delete => reqwest::Method::DELETE,
    }
}

/// Turns a reqwest error into hubflow's, keeping it as the source.
///
/// The URL is stripped first ([`reqwest::Error::without_url`]): a configured URL may carry a
/// token in its query, and reqwest would show it in `Display` and `Debug`. Below it the
/// chain is hyper's and the operating system's errors, which name neither URLs nor headers.
/// hubflow's own message says only which kind of failure it was.
pub(super) fn error(e: reqwest::Error) -> HttpError {
    let e = e.without_url();
    let (timeout, connect, builder) = (e.is_timeout(), e.is_connect(), e.is_builder());
    let failure = if connect {
        HttpError::connect(if timeout {
            ConnectFailure::TimedOut
        } else {
            connect_failure(&e)
        })
    } else if timeout {
        return HttpError::Timeout;
    } else if builder {
        return HttpError::InvalidRequest(e.to_string());
    } else if e.is_body() || e.is_decode() {
        HttpError::other("the request or response body could not be transferred")
    } else {
        HttpError::other("the request could not be sent (the connection closed or was reset)")
    };
    failure.with_source(e)
}

/// Turns a reqwest error met while reading the body of an answer with HTTP `status` into
/// hubflow's: the provider answered, so this is [`HttpError::BodyUnreadable`] (a 2xx whose
/// body was cut may have been acted on), never a failure to retry blindly.
pub(super) fn body_error(status: u16) -> impl Fn(reqwest::Error) -> HttpError {
    move |e| {
        let e = e.without_url();
        HttpError::body_unreadable(status, e.is_timeout()).with_source(e)
    }
}

/// Which step of connecting failed, read from the error chain: the operating system's
/// `io::Error` kinds tell a refused, timed-out or unreachable connection; hyper-util's
/// resolver failure says `dns error` (its type is private, so its message is all there is);
/// the TLS layer (rustls through tokio-rustls) reports every handshake failure as an
/// `io::Error` of kind `InvalidData`, a kind that neither resolving nor a TCP connect
/// produces.
pub(super) fn connect_failure(error: &(dyn std::error::Error + 'static)) -> ConnectFailure {
    use std::io::ErrorKind;
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            match io.kind() {
                ErrorKind::ConnectionRefused => return ConnectFailure::Refused,
                ErrorKind::TimedOut => return ConnectFailure::TimedOut,
                ErrorKind::NetworkUnreachable | ErrorKind::HostUnreachable => {
                    return ConnectFailure::Unreachable
                }
                ErrorKind::InvalidData => return ConnectFailure::Tls,
                _ => {}
            }
        }
        if e.to_string() == "dns error" {
            return ConnectFailure::Dns;
        }
        // An `io::Error` wrapping another error returns that error's source, skipping the
        // wrapped error itself (often another `io::Error`, e.g. the TLS layer's): descend
        // into it instead.
        next = match e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
        {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => e.source(),
        };
    }
    ConnectFailure::Other
}

impl ReqwestClient {
    /// The reqwest request for `request`, headers marked sensitive where they are secrets.
    fn build_request(&self, request: &HttpRequest) -> Result<reqwest::RequestBuilder, HttpError> {
        let mut builder = self
            .client
            .request(method(request.method), request.url.clone())
            .body(request.body.clone());
        for (name, value) in request.headers.iter() {
            let mut header =
                reqwest::header::HeaderValue::from_str(value.expose()).map_err(|_| {
                    HttpError::InvalidRequest(format!("header {name} has an invalid value"))
                })?;
            header.set_sensitive(value.is_secret());
            builder = builder.header(name, header);
        }
        if let Some(timeout) = request.timeout {
            builder = builder.timeout(timeout);
        }
        Ok(builder)
    }
}

fn headers(response: &reqwest::Response) -> super::Headers {
    let mut headers = super::Headers::new();
    for (name, value) in response.headers() {
        if let Ok(value) = value.to_str() {
            headers.append(name.as_str(), super::HeaderValue::Plain(value.to_owned()));
        }
    }
    headers
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut response = self.build_request(request)?.send().await.map_err(error)?;
        let status = response.status().as_u16();
        let headers = headers(&response);
        let too_large = HttpError::BodyTooLarge {
            limit: self.max_response,
        };
        match response.content_length() {
            Some(length) if length > self.max_response => return Err(too_large),
            // An announced length within the limit: hyper stops at it, and a body of one
            // chunk (most API answers) is handed over without a copy.
            Some(_) => {
                let body = response.bytes().await.map_err(body_error(status))?;
                return Ok(HttpResponse {
                    status,
                    headers,
                    body,
                });
            }
            None => {}
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(body_error(status))? {
            if (body.len() + chunk.len()) as u64 > self.max_response {
                return Err(too_large);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status,
            headers,
            body: body.freeze(),
        })
    }

    /// Streams the body chunk by chunk: at most one chunk is in memory, and a body that
    /// announces (`Content-Length`) or reaches more than `max_bytes` is stopped there.
    async fn send_to(
        &self,
        request: &HttpRequest,
        sink: &mut (dyn std::io::Write + Send),
        max_bytes: u64,
    ) -> Result<StreamedResponse, HttpError> {
        let mut response = self.build_request(request)?.send().await.map_err(error)?;
        let status = response.status().as_u16();
        let headers = headers(&response);
        let too_large = HttpError::BodyTooLarge { limit: max_bytes };
        if response
            .content_length()
            .is_some_and(|length| length > max_bytes)
        {
            return Err(too_large);
        }
        let success = response.status().is_success();
        let mut written: u64 = 0;
        let mut error_body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(body_error(status))? {
            // A chunk is at most a few hundred kilobytes, so its length fits a u64.
            let total = written.saturating_add(chunk.len() as u64);
            if total > max_bytes {
                return Err(too_large);
            }
            if success {
                sink.write_all(&chunk)
                    .map_err(|e| HttpError::Sink(e.to_string()))?;
            } else {
                error_body.extend_from_slice(&chunk);
            }
            written = total;
        }
        if success {
            sink.flush().map_err(|e| HttpError::Sink(e.to_string()))?;
        }
        Ok(StreamedResponse {
            status,
            headers,
            written: if success { written } else { 0 },
            body: Bytes::from(error_body),
        })
    }
}
