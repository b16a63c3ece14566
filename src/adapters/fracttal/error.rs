//! What can go wrong talking to Fracttal, and how each failure may be retried.

use crate::text::truncate;
use std::time::Duration;

use serde_json::Value;

use crate::http::{HttpError, HttpResponse};
use crate::{DeliveryError, ErrorClass, ProviderError, SourceError, TargetError};

/// The provider name in errors, receipts and reports.
pub(crate) const PROVIDER: &str = "fracttal";

/// The code Fracttal puts in a 401 answer when the OAuth client's permission group does not
/// include the module or endpoint (as opposed to an expired token).
pub const UNAUTHORIZED_ENDPOINT: &str = "UNAUTHORIZED_ENDPOINT";

/// The wait after a rate-limited answer that gives no reset header: Fracttal's documentation
/// says to wait one minute.
pub const DEFAULT_RATE_LIMIT_WAIT: Duration = Duration::from_secs(60);

/// A failed call to Fracttal, typed by what the host or its users should do about it.
///
/// Every variant knows its [`ErrorClass`] ([`FracttalError::class`]) and converts into the
/// crate's [`ProviderError`], [`DeliveryError`] and [`SourceError`]. No message ever holds
/// the OAuth key, secret or access token.
///
/// ```
/// use hubflow::fracttal::FracttalError;
/// use hubflow::ErrorClass;
/// use std::time::Duration;
///
/// let e = FracttalError::RateLimited { status: 406, retry_after: Duration::from_secs(42) };
/// assert_eq!(e.class(), ErrorClass::Retryable { after: Some(Duration::from_secs(42)) });
/// let e = FracttalError::ClockSkew { message: "407".into() };
/// assert!(e.to_string().contains("clock"));
/// assert!(!e.class().is_retryable());
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FracttalError {
    /// No answer arrived (timeout, refused connection). Retryable.
    #[error(transparent)]
    Transport(#[from] HttpError),
    /// The token endpoint refused to issue a token. Permanent for 4xx (wrong key or secret,
    /// or not a Client Credentials client), retryable for 5xx.
    #[error(
        "the Fracttal token endpoint answered HTTP {status}: {message} \
         (check the OAuth client's key and secret, that it is of type Client Credentials, \
         and the token URL)"
    )]
    TokenRejected {
        /// The token endpoint's HTTP status.
        status: u16,
        /// The endpoint's error text (OAuth `error` / `error_description`, or the body's start).
        message: String,
        /// The endpoint's `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
    },
    /// The token endpoint answered success, but without a usable token. Permanent: usually
    /// the token URL points at something that is not Fracttal's OAuth endpoint.
    #[error("the Fracttal token answer (HTTP {status}) could not be used: {message}")]
    TokenUnreadable {
        /// The token endpoint's HTTP status.
        status: u16,
        /// What was missing or unreadable (never the answer itself: it may hold a token).
        message: String,
    },
    /// Fracttal refused the access token again right after it was refreshed. Permanent.
    #[error(
        "Fracttal refused the credentials (HTTP 401) even with a freshly issued token: {message}"
    )]
    Unauthorized {
        /// Fracttal's message.
        message: String,
    },
    /// 401 `UNAUTHORIZED_ENDPOINT`: the token is fine, but the OAuth client's permission
    /// group may not use this module or endpoint. Permanent: refreshing the token cannot help.
    #[error(
        "Fracttal answered 401 UNAUTHORIZED_ENDPOINT: the OAuth client's permission group \
         has no access to this endpoint ({message}); grant at least \"See\" on the module in \
         Settings → User Accounts → Permissions"
    )]
    UnauthorizedEndpoint {
        /// Fracttal's message.
        message: String,
    },
    /// 406 (documented) or 429 (seen): more than the company's requests per minute.
    /// Retryable after `retry_after`.
    #[error(
        "Fracttal rate limit exceeded (HTTP {status}; 200 requests per minute per company): \
         retry in {} s",
        retry_after.as_secs()
    )]
    RateLimited {
        /// 406 or 429.
        status: u16,
        /// From the reset headers, else one minute.
        retry_after: Duration,
    },
    /// 407: the request's timestamp is out of Fracttal's ±60 s window. Permanent until the
    /// host's clock is fixed.
    #[error(
        "Fracttal rejected the request's timestamp (HTTP 407): this host's clock differs from \
         Fracttal's by more than 60 seconds; synchronise it (e.g. with NTP) ({message})"
    )]
    ClockSkew {
        /// Fracttal's message.
        message: String,
    },
    /// 408: the item already exists (a duplicate insert).
    #[error("Fracttal says the item already exists (HTTP 408): {message}")]
    AlreadyExists {
        /// Fracttal's message.
        message: String,
    },
    /// Fracttal refused the request (400, 403, 404, 405, another 4xx, or `success: false`).
    /// Permanent.
    #[error("Fracttal refused the request (HTTP {status}): {message}")]
    Rejected {
        /// The HTTP status.
        status: u16,
        /// Fracttal's message, or the start of the body.
        message: String,
    },
    /// 5xx: Fracttal failed. Retryable.
    #[error("Fracttal failed (HTTP {status}): {message}")]
    Server {
        /// The HTTP status.
        status: u16,
        /// Fracttal's message, or the start of the body.
        message: String,
        /// The answer's `Retry-After`, if it gave one.
        retry_after: Option<Duration>,
    },
    /// A success answer whose body is not JSON.
    #[error("Fracttal answered HTTP {status} with malformed JSON at line {line}, column {column}: {message}")]
    MalformedJson {
        /// The HTTP status.
        status: u16,
        /// 1-based line of the first error.
        line: usize,
        /// 1-based column of the first error.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// A success answer that is JSON but not what was expected.
    #[error("unexpected answer from Fracttal (HTTP {status}): {message}")]
    UnexpectedShape {
        /// The HTTP status.
        status: u16,
        /// What was expected and found.
        message: String,
    },
    /// The request could not be built or points outside the configured base URL.
    #[error("invalid Fracttal request: {0}")]
    InvalidRequest(String),
}

impl FracttalError {
    /// How the failed call may be retried.
    pub fn class(&self) -> ErrorClass {
        match self {
            FracttalError::Transport(_) => ErrorClass::Retryable { after: None },
            FracttalError::TokenRejected {
                status,
                retry_after,
                ..
            } if *status >= 500 => ErrorClass::Retryable {
                after: *retry_after,
            },
            FracttalError::Server { retry_after, .. } => ErrorClass::Retryable {
                after: *retry_after,
            },
            FracttalError::RateLimited { retry_after, .. } => ErrorClass::Retryable {
                after: Some(*retry_after),
            },
            FracttalError::TokenRejected { .. }
            | FracttalError::TokenUnreadable { .. }
            | FracttalError::Unauthorized { .. }
            | FracttalError::UnauthorizedEndpoint { .. }
            | FracttalError::ClockSkew { .. }
            | FracttalError::AlreadyExists { .. }
            | FracttalError::Rejected { .. }
            | FracttalError::MalformedJson { .. }
            | FracttalError::UnexpectedShape { .. }
            | FracttalError::InvalidRequest(_) => ErrorClass::Permanent,
        }
    }

    /// The HTTP status of the answer, when one arrived.
    pub fn status(&self) -> Option<u16> {
        match self {
            FracttalError::Transport(_) | FracttalError::InvalidRequest(_) => None,
            FracttalError::Unauthorized { .. } | FracttalError::UnauthorizedEndpoint { .. } => {
                Some(401)
            }
            FracttalError::ClockSkew { .. } => Some(407),
            FracttalError::AlreadyExists { .. } => Some(408),
            FracttalError::TokenRejected { status, .. }
            | FracttalError::TokenUnreadable { status, .. }
            | FracttalError::RateLimited { status, .. }
            | FracttalError::Rejected { status, .. }
            | FracttalError::Server { status, .. }
            | FracttalError::MalformedJson { status, .. }
            | FracttalError::UnexpectedShape { status, .. } => Some(*status),
        }
    }

    /// Fracttal's own error code, when the answer carried one.
    pub fn code(&self) -> Option<&'static str> {
        match self {
            FracttalError::UnauthorizedEndpoint { .. } => Some(UNAUTHORIZED_ENDPOINT),
            _ => None,
        }
    }

    /// The wait a retry should respect, when the answer gave one (rate limits, `Retry-After`).
    pub fn retry_after(&self) -> Option<Duration> {
        match self.class() {
            ErrorClass::Retryable { after } => after,
            _ => None,
        }
    }

    /// This error as the crate's provider error (`None` when no answer arrived or the
    /// request was never sent).
    pub fn to_provider_error(&self) -> Option<ProviderError> {
        let status = self.status()?;
        Some(ProviderError {
            provider: PROVIDER.to_owned(),
            status,
            code: self.code().map(str::to_owned),
            message: self.to_string(),
            class: self.class(),
            details: Value::Null,
            source: None,
        })
    }
}

impl From<FracttalError> for DeliveryError {
    fn from(error: FracttalError) -> Self {
        match error {
            FracttalError::Transport(e) => DeliveryError::Transport(e),
            FracttalError::InvalidRequest(message) => {
                DeliveryError::Prepare(TargetError::InvalidPayload(message))
            }
            // A success answer that cannot be read: Fracttal probably acted, so the flow
            // must keep the claim rather than send again.
            e @ (FracttalError::MalformedJson { .. } | FracttalError::UnexpectedShape { .. }) => {
                DeliveryError::Response {
                    provider: PROVIDER.to_owned(),
                    message: e.to_string(),
                }
            }
            other => match other.to_provider_error() {
                Some(provider) => DeliveryError::from(provider.with_source(other)),
                // Every remaining variant has a status; this arm only keeps the match total.
                None => DeliveryError::Precondition(other.to_string()),
            },
        }
    }
}

impl From<FracttalError> for SourceError {
    fn from(error: FracttalError) -> Self {
        match error {
            FracttalError::Transport(e) => SourceError::Transport(e),
            e @ (FracttalError::MalformedJson { .. }
            | FracttalError::UnexpectedShape { .. }
            | FracttalError::InvalidRequest(_)) => SourceError::Response {
                provider: PROVIDER.to_owned(),
                message: e.to_string(),
            },
            other => match other.to_provider_error() {
                Some(provider) => SourceError::from(provider),
                None => SourceError::Response {
                    provider: PROVIDER.to_owned(),
                    message: other.to_string(),
                },
            },
        }
    }
}

impl From<FracttalError> for ProviderError {
    /// Errors without an answer (transport, invalid request) get status 0.
    fn from(error: FracttalError) -> Self {
        error.to_provider_error().unwrap_or_else(|| ProviderError {
            provider: PROVIDER.to_owned(),
            status: 0,
            code: None,
            message: error.to_string(),
            class: error.class(),
            details: Value::Null,
            source: None,
        })
    }
}

/// How long a rate-limited answer asks to wait: `Retry-After`, then the reset headers of
/// either API edition (`Request-Call-Limit-Reset`, `ratelimit-reset`: seconds left), else
/// one minute. A reset that looks like a Unix time (after 2001) is taken as one.
pub(crate) fn rate_limit_wait(
    response: &HttpResponse,
    now: chrono::DateTime<chrono::Utc>,
) -> Duration {
    let from_headers = response.retry_after(now).or_else(|| {
        [
            "request-call-limit-reset",
            "ratelimit-reset",
            "x-ratelimit-reset",
        ]
        .iter()
        .find_map(|name| response.headers.get(name))
        .and_then(|value| seconds_until(value, now))
    });
    // A reset of zero would make the caller retry at once into the same limit.
    from_headers
        .unwrap_or(DEFAULT_RATE_LIMIT_WAIT)
        .max(Duration::from_secs(1))
}

fn seconds_until(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let seconds: f64 = value.trim().parse().ok()?;
    if !seconds.is_finite() || seconds < 0.0 {
        return None;
    }
    if seconds > 1_000_000_000.0 {
        // A Unix time rather than a count of seconds.
        let left = seconds - now.timestamp() as f64;
        return Some(Duration::try_from_secs_f64(left.max(0.0)).unwrap_or_default());
    }
    Duration::try_from_secs_f64(seconds).ok()
}

/// The most useful text of an error answer: the JSON `message` / `error_description` /
/// `error` field, else the start of the body.
pub(crate) fn error_text(response: &HttpResponse) -> String {
    if let Ok(Value::Object(map)) = response.json_body() {
        let mut parts = Vec::new();
        for field in ["message", "error", "error_description", "detail", "data"] {
            match map.get(field) {
                Some(Value::String(text)) if !text.trim().is_empty() => {
                    parts.push(text.trim().to_owned())
                }
                Some(Value::Number(n)) => parts.push(n.to_string()),
                _ => {}
            }
        }
        parts.dedup();
        if !parts.is_empty() {
            return truncate(&parts.join(": "), 300);
        }
    }
    let excerpt = response.body_excerpt(300);
    if excerpt.trim().is_empty() {
        "(empty answer)".to_owned()
    } else {
        excerpt
    }
}

#[cfg(test)]
mod tests;
