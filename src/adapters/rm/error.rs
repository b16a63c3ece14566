//! What can go wrong talking to an RM-style ERP, and how each failure may be retried.

use crate::text::truncate;
use serde_json::Value;

use crate::http::{HttpError, HttpResponse};
use crate::{DeliveryError, ErrorClass, ProviderError, SourceError};

/// The provider name in errors, receipts and reports.
pub const PROVIDER: &str = "rm";

/// A failed call to the ERP. No message ever holds the password, a JWT or a refresh token:
/// token answers are never quoted, only the fields that say why they failed.
///
/// ```
/// use hubflow::rm::RmError;
/// let e = RmError::TokenRejected { status: 400, message: "invalid_grant".into() };
/// assert!(!e.class().is_retryable());
/// assert!(e.to_string().contains("username and password"));
/// ```
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum RmError {
    /// No answer arrived (timeout, refused connection). Retryable.
    #[error(transparent)]
    Transport(#[from] HttpError),
    /// The token endpoint refused to issue a token. Permanent for 4xx, retryable for 429
    /// and 5xx.
    #[error(
        "the RM token endpoint answered HTTP {status}: {message} (check the username and password, \
         the token path, and that the URL's host matches the tenant's subdomain mask)"
    )]
    TokenRejected {
        /// The token endpoint's HTTP status.
        status: u16,
        /// Why, from the answer's `message` / `error_description` fields.
        message: String,
    },
    /// The token endpoint answered success without a usable token. Permanent.
    #[error("the RM token answer (HTTP {status}) could not be used: {message}")]
    TokenUnreadable {
        /// The token endpoint's HTTP status.
        status: u16,
        /// What was missing (never the answer itself: it may hold a token).
        message: String,
    },
    /// The ERP refused the credentials: with a freshly issued JWT, or with static (Basic,
    /// bearer) credentials that cannot be refreshed. Permanent.
    #[error("the ERP refused the credentials (HTTP 401): {message}")]
    Unauthorized {
        /// The ERP's message.
        message: String,
    },
    /// The ERP answered with an error status.
    #[error(transparent)]
    Api(Box<ProviderError>),
    /// The ERP answered success, but the answer could not be read (with its JSON path).
    #[error("unreadable answer from the ERP: {message}")]
    Response {
        /// What could not be read.
        message: String,
    },
    /// The request could not be built (a path outside the base URL, a bad template).
    #[error("invalid request: {0}")]
    InvalidRequest(String),
}

impl RmError {
    /// How this failure may be retried.
    pub fn class(&self) -> ErrorClass {
        match self {
            RmError::Transport(_) => ErrorClass::Retryable { after: None },
            RmError::TokenRejected { status, .. } => match status {
                429 | 500..=599 => ErrorClass::Retryable { after: None },
                _ => ErrorClass::Permanent,
            },
            RmError::Api(e) => e.class,
            RmError::TokenUnreadable { .. }
            | RmError::Unauthorized { .. }
            | RmError::Response { .. }
            | RmError::InvalidRequest(_) => ErrorClass::Permanent,
        }
    }

    /// The error as the crate's [`ProviderError`] (for reports).
    pub fn to_provider_error(&self) -> ProviderError {
        match self {
            RmError::Api(e) => (**e).clone(),
            other => ProviderError {
                provider: PROVIDER.to_owned(),
                status: match other {
                    RmError::TokenRejected { status, .. }
                    | RmError::TokenUnreadable { status, .. } => *status,
                    RmError::Unauthorized { .. } => 401,
                    _ => 0,
                },
                code: None,
                message: other.to_string(),
                class: other.class(),
                details: Value::Null,
                source: None,
            },
        }
    }
}

impl From<RmError> for DeliveryError {
    fn from(error: RmError) -> Self {
        match error {
            RmError::Transport(e) => DeliveryError::Transport(e),
            RmError::Response { message } => DeliveryError::Response {
                provider: PROVIDER.to_owned(),
                message,
            },
            RmError::InvalidRequest(message) => {
                DeliveryError::Prepare(crate::TargetError::InvalidPayload(message))
            }
            other => {
                let provider = other.to_provider_error();
                DeliveryError::Provider(Box::new(provider.with_source(other)))
            }
        }
    }
}

impl From<RmError> for SourceError {
    fn from(error: RmError) -> Self {
        match error {
            RmError::Transport(e) => SourceError::Transport(e),
            RmError::Response { message } => SourceError::Response {
                provider: PROVIDER.to_owned(),
                message,
            },
            other => SourceError::Provider(Box::new(other.to_provider_error())),
        }
    }
}

/// An API error answer as a [`ProviderError`], classified by status (a 401 that reaches
/// here has already been retried with fresh credentials, so it is permanent).
pub(crate) fn api_error(response: &HttpResponse, now: chrono::DateTime<chrono::Utc>) -> RmError {
    let mut error = ProviderError::from_response(PROVIDER, response, now);
    error.message = error_text(response);
    if response.status == 401 {
        error.class = ErrorClass::Permanent;
    }
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&response.body) {
        error.code = ["code", "errorCode", "error_code"]
            .iter()
            .find_map(|k| match map.get(*k) {
                Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            });
    }
    RmError::Api(Box::new(error))
}

/// The readable reason in an error answer: a `message`-like field of a JSON body, else the
/// start of the body.
pub(crate) fn error_text(response: &HttpResponse) -> String {
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&response.body) {
        for key in [
            "message",
            "error_description",
            "detailedMessage",
            "error",
            "title",
        ] {
            if let Some(Value::String(text)) = map.get(key) {
                if !text.trim().is_empty() {
                    return truncate(text.trim(), 300);
                }
            }
        }
    }
    response.body_excerpt(300)
}
