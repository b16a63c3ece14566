//! Targets: where a flow delivers, and how a delivery can fail.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{HttpError, HttpRequest, HttpResponse};
use crate::{Context, Record, StoreError};

/// Where a flow delivers a mapped payload.
///
/// Delivery is split in two so that a dry run shows exactly what would happen:
/// [`prepare`](Target::prepare) is pure and turns the payload into an [`HttpRequest`];
/// [`deliver`](Target::deliver) sends that request through the host's
/// [`HttpClient`](crate::http::HttpClient) and reads the provider's answer. Targets that
/// need more than one call (a token first, an upload first) make them inside `deliver`.
///
/// Retrying is not the target's business: it classifies each failure
/// ([`DeliveryError::class`]) and the flow's [`RetryPolicy`](crate::RetryPolicy) decides.
#[async_trait]
pub trait Target: Send + Sync {
    /// Builds the request for `payload`, mapped from `record`, or says why the payload does
    /// not fit. Pure. The record is there for what belongs to it rather than to the payload:
    /// its key as a correlation or idempotency id, its kind, its instant.
    fn prepare(&self, record: &Record, payload: &Value) -> Result<HttpRequest, TargetError>;

    /// Sends a request made by [`prepare`](Target::prepare) and reads the receipt.
    async fn deliver(
        &self,
        ctx: &Context,
        record: &Record,
        request: &HttpRequest,
    ) -> Result<Receipt, DeliveryError>;
}

/// What a provider gave back for a delivery: its id for the message, ticket or call.
///
/// ```
/// use hubflow::Receipt;
/// let receipt = Receipt::new(200).with_id("wamid.HBgM");
/// assert_eq!(receipt.id.as_deref(), Some("wamid.HBgM"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Receipt {
    /// The provider's identifier for what was created (a `wamid`, a work request id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The HTTP status of the accepting response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Anything else worth keeping from the answer (never credentials).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl Receipt {
    /// A receipt for an accepted request with this HTTP status.
    pub fn new(status: u16) -> Self {
        Receipt {
            id: None,
            status: Some(status),
            details: Value::Null,
        }
    }

    /// Sets the provider's id.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets extra details.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

/// A payload that does not fit the target: found before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TargetError {
    /// A field of the payload is missing or has the wrong form.
    #[error("payload field `{field}`: {message}")]
    InvalidField {
        /// Dotted path of the field in the mapped payload.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// The payload as a whole does not fit.
    #[error("invalid payload: {0}")]
    InvalidPayload(String),
}

impl TargetError {
    /// A problem with one field of the payload.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        TargetError::InvalidField {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// How a failed delivery may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorClass {
    /// Sending again will fail the same way (bad recipient, rejected payload, forbidden).
    Permanent,
    /// Sending again later may succeed; `after` is the provider's `Retry-After`, if it gave one.
    Retryable {
        /// The wait the provider asked for.
        #[serde(
            default,
            with = "opt_duration_ms",
            skip_serializing_if = "Option::is_none"
        )]
        after: Option<Duration>,
    },
    /// The credentials expired: the target drops its cached token, and the flow retries once
    /// at once.
    RefreshCredentials,
}

impl ErrorClass {
    /// Whether another attempt may succeed.
    pub fn is_retryable(self) -> bool {
        !matches!(self, ErrorClass::Permanent)
    }

    /// The usual class of an HTTP status: 408, 425, 429 and 5xx are retryable (with the
    /// response's `Retry-After`), 401 asks for fresh credentials, everything else is permanent.
    pub fn from_status(status: u16, retry_after: Option<Duration>) -> Self {
        match status {
            401 => ErrorClass::RefreshCredentials,
            408 | 425 | 429 | 500..=599 => ErrorClass::Retryable { after: retry_after },
            _ => ErrorClass::Permanent,
        }
    }
}

/// An answer from a provider that is not a success.
///
/// Adapters fill `code` with the provider's own error code (`131047`, `UNAUTHORIZED_ENDPOINT`)
/// and `class` from the provider's documentation. `message` is the provider's text, which
/// never contains the credentials hubflow sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ProviderError {
    /// Which provider answered (`whatsapp`, `fracttal`, `http`).
    pub provider: String,
    /// The HTTP status.
    pub status: u16,
    /// The provider's error code, if it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The provider's message, or the start of the response body.
    pub message: String,
    /// How the failure may be retried.
    pub class: ErrorClass,
    /// Structured details from the answer (sub-codes, trace ids), never credentials.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl ProviderError {
    /// An error classified by its HTTP status alone, with the start of the body as message.
    pub fn from_response(
        provider: &str,
        response: &HttpResponse,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        ProviderError {
            provider: provider.to_owned(),
            status: response.status,
            code: None,
            message: response.body_excerpt(300),
            class: ErrorClass::from_status(response.status, response.retry_after(now)),
            details: Value::Null,
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered HTTP {}", self.provider, self.status)?;
        if let Some(code) = &self.code {
            write!(f, " (code {code})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ProviderError {}

/// Why a delivery failed. Each error knows its [`ErrorClass`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// No response arrived (timeout, refused connection). Retryable: note that after a
    /// timeout the provider may have acted on the request all the same.
    #[error(transparent)]
    Transport(#[from] HttpError),
    /// The provider answered with an error (boxed: it is large, and errors travel in
    /// `Result`s on every path).
    #[error(transparent)]
    Provider(Box<ProviderError>),
    /// The request could not be prepared. Permanent.
    #[error("the request could not be prepared: {0}")]
    Prepare(#[from] TargetError),
    /// The provider answered success, but the answer could not be read. Permanent: the
    /// provider probably acted, so sending again could duplicate.
    #[error("unreadable answer from {provider}: {message}")]
    Response {
        /// Which provider answered.
        provider: String,
        /// What could not be read.
        message: String,
    },
    /// The target refused to send because a rule of the provider would be broken (e.g. a
    /// free-form WhatsApp message outside the 24-hour customer-service window). Permanent:
    /// nothing was sent, and the message says what to do instead.
    #[error("not sent: {0}")]
    Precondition(String),
    /// The store could not record the claim or its outcome. Retryable.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// An earlier attempt was left in flight (a worker stopped between sending and
    /// recording) and the flow's policy holds such records for a person to decide.
    #[error("an earlier delivery attempt started at {since} never finished; held for review")]
    Unknown {
        /// When the unfinished attempt claimed the record.
        since: chrono::DateTime<chrono::Utc>,
    },
}

impl From<ProviderError> for DeliveryError {
    fn from(error: ProviderError) -> Self {
        DeliveryError::Provider(Box::new(error))
    }
}

impl DeliveryError {
    /// How this failure may be retried.
    pub fn class(&self) -> ErrorClass {
        match self {
            // An answer too large to read, or a sink that refused it, fails the same way
            // every time.
            DeliveryError::Transport(HttpError::BodyTooLarge { .. } | HttpError::Sink(_)) => {
                ErrorClass::Permanent
            }
            DeliveryError::Transport(_) | DeliveryError::Store(_) => {
                ErrorClass::Retryable { after: None }
            }
            DeliveryError::Provider(e) => e.class,
            DeliveryError::Prepare(_)
            | DeliveryError::Precondition(_)
            | DeliveryError::Response { .. }
            | DeliveryError::Unknown { .. } => ErrorClass::Permanent,
        }
    }

    /// Whether the provider probably acted on the request although the delivery failed
    /// (it answered, but the answer could not be read or was too large to read). The flow keeps such a
    /// record's claim instead of releasing it, so a replay does not send it twice.
    pub fn provider_may_have_acted(&self) -> bool {
        matches!(
            self,
            DeliveryError::Response { .. }
                | DeliveryError::Transport(HttpError::BodyTooLarge { .. })
        )
    }

    /// The HTTP status, when a provider answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            DeliveryError::Provider(e) => Some(e.status),
            _ => None,
        }
    }

    /// The provider's error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            DeliveryError::Provider(e) => e.code.as_deref(),
            _ => None,
        }
    }
}

/// Serde for `Option<Duration>` as whole milliseconds.
pub(crate) mod opt_duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        let after = Some(Duration::from_secs(3));
        assert_eq!(
            ErrorClass::from_status(429, after),
            ErrorClass::Retryable { after }
        );
        assert_eq!(
            ErrorClass::from_status(503, None),
            ErrorClass::Retryable { after: None }
        );
        assert_eq!(
            ErrorClass::from_status(401, None),
            ErrorClass::RefreshCredentials
        );
        for status in [400, 403, 404, 409, 422, 301] {
            assert_eq!(
                ErrorClass::from_status(status, after),
                ErrorClass::Permanent,
                "{status}"
            );
        }
    }

    #[test]
    fn delivery_error_classes() {
        assert!(DeliveryError::Transport(HttpError::Timeout)
            .class()
            .is_retryable());
        assert!(
            !DeliveryError::Prepare(TargetError::InvalidPayload("x".into()))
                .class()
                .is_retryable()
        );
        let unknown = DeliveryError::Unknown {
            since: chrono::Utc::now(),
        };
        assert_eq!(unknown.class(), ErrorClass::Permanent);
    }

    #[test]
    fn provider_error_display_names_status_and_code() {
        let response = HttpResponse::new(400, "{\"error\":\"bad\"}");
        let mut e = ProviderError::from_response("http", &response, chrono::Utc::now());
        e.code = Some("E42".into());
        assert_eq!(
            e.to_string(),
            "http answered HTTP 400 (code E42): {\"error\":\"bad\"}"
        );
        assert_eq!(e.class, ErrorClass::Permanent);
    }

    #[test]
    fn error_class_serializes_retry_after_in_ms() {
        let class = ErrorClass::Retryable {
            after: Some(Duration::from_millis(1500)),
        };
        let json = serde_json::to_value(class).unwrap();
        assert_eq!(json, serde_json::json!({"retryable": {"after": 1500}}));
        assert_eq!(serde_json::from_value::<ErrorClass>(json).unwrap(), class);
    }
}
