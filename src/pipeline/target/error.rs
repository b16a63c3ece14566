//! How a target refuses a payload and how a delivery fails, with the retry class of each.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{HttpError, HttpResponse};
use crate::StoreError;

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
}

impl ErrorClass {
    /// Whether another attempt may succeed.
    pub fn is_retryable(self) -> bool {
        !matches!(self, ErrorClass::Permanent)
    }

    /// The usual class of an HTTP status: 408, 425, 429 and 5xx are retryable (with the
    /// response's `Retry-After`), everything else is permanent, 401 included: the clients
    /// refresh rejected credentials and resend once themselves, so a 401 that reaches a
    /// delivery survived that refresh (or the credentials cannot be refreshed).
    pub fn from_status(status: u16, retry_after: Option<Duration>) -> Self {
        match status {
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
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    /// The adapter's own error behind this answer (`FracttalError`, `GraphError`), reachable
    /// through [`source`](std::error::Error::source); not serialized.
    #[serde(skip)]
    pub(crate) source: Option<Arc<dyn std::error::Error + Send + Sync>>,
}

impl PartialEq for ProviderError {
    /// Provider errors are equal when their reported fields are; the source is not compared.
    fn eq(&self, other: &Self) -> bool {
        (
            &self.provider,
            self.status,
            &self.code,
            &self.message,
            self.class,
            &self.details,
        ) == (
            &other.provider,
            other.status,
            &other.code,
            &other.message,
            other.class,
            &other.details,
        )
    }
}

impl ProviderError {
    /// An error from `provider` with this HTTP status and message, classified by the status.
    pub fn new(provider: &str, status: u16, message: impl Into<String>) -> Self {
        ProviderError {
            provider: provider.to_owned(),
            status,
            code: None,
            message: message.into(),
            class: ErrorClass::from_status(status, None),
            details: Value::Null,
            source: None,
        }
    }

    /// Keeps the adapter's own error as this error's source, so a host can match it
    /// ([`Failure::cause`](crate::Failure::cause)). Its message must carry no secret.
    #[must_use]
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

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
            source: None,
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

impl std::error::Error for ProviderError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A failure the provider reported after the request, out of band: a WhatsApp status
/// webhook saying `failed`, say, for a message whose send answer was lost. Unlike a
/// [`ProviderError`] it has no HTTP status: no answer to a request carried it.
///
/// ```
/// use hubflow::{DeliveryError, ErrorClass, ReportedFailure};
///
/// let failure = ReportedFailure::new("whatsapp", "Message undeliverable")
///     .with_id("wamid.HBgL")
///     .with_code("131026");
/// assert_eq!(failure.class, ErrorClass::Permanent);
/// let error = DeliveryError::from(failure);
/// assert_eq!(error.code(), Some("131026"));
/// assert_eq!(error.status(), None);
/// assert_eq!(
///     error.to_string(),
///     "whatsapp reported that wamid.HBgL failed (code 131026): Message undeliverable"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReportedFailure {
    /// Which provider reported it (`whatsapp`).
    pub provider: String,
    /// The provider's id of what failed (a wamid), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The provider's error code (`131026`), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The provider's explanation.
    pub message: String,
    /// Whether sending again may succeed, by the provider's documentation of the code.
    pub class: ErrorClass,
    /// Structured details from the report (titles, links), never credentials.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl ReportedFailure {
    /// A permanent failure reported by `provider`, with its explanation.
    pub fn new(provider: &str, message: impl Into<String>) -> Self {
        ReportedFailure {
            provider: provider.to_owned(),
            id: None,
            code: None,
            message: message.into(),
            class: ErrorClass::Permanent,
            details: Value::Null,
        }
    }

    /// Sets the provider's id of what failed.
    #[must_use]
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the provider's error code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the retry class (permanent unless set).
    #[must_use]
    pub fn with_class(mut self, class: ErrorClass) -> Self {
        self.class = class;
        self
    }

    /// Sets the structured details.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }
}

impl fmt::Display for ReportedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} reported that ", self.provider)?;
        match &self.id {
            Some(id) => write!(f, "{id} failed")?,
            None => f.write_str("the delivery failed")?,
        }
        if let Some(code) = &self.code {
            write!(f, " (code {code})")?;
        }
        if !self.message.is_empty() {
            write!(f, ": {}", self.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ReportedFailure {}

/// Why a delivery failed. Each error knows its [`ErrorClass`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DeliveryError {
    /// No response arrived (timeout, refused connection). Retryable: note that after a
    /// timeout the provider may have acted on the request all the same. One transport
    /// failure had an answer: [`HttpError::BodyUnreadable`], a status whose body was cut
    /// off, is classed by that status, and after a 2xx it is an unknown outcome (permanent,
    /// [`provider_may_have_acted`](DeliveryError::provider_may_have_acted)).
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
    /// The provider reported, after the request, that the delivery failed (boxed, like
    /// [`Provider`](DeliveryError::Provider)): what [`Flow::settle`](crate::Flow::settle)
    /// records for a `failed` status webhook. Its class is the provider's.
    #[error(transparent)]
    Reported(Box<ReportedFailure>),
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

impl From<ReportedFailure> for DeliveryError {
    fn from(failure: ReportedFailure) -> Self {
        DeliveryError::Reported(Box::new(failure))
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
            // The provider answered: a 2xx may have been acted on, so it is not sent again;
            // any other status is classed as that answer would be.
            DeliveryError::Transport(HttpError::BodyUnreadable { status, .. }) => {
                if (200..300).contains(status) {
                    ErrorClass::Permanent
                } else {
                    ErrorClass::from_status(*status, None)
                }
            }
            DeliveryError::Transport(_) | DeliveryError::Store(_) => {
                ErrorClass::Retryable { after: None }
            }
            DeliveryError::Provider(e) => e.class,
            DeliveryError::Reported(e) => e.class,
            DeliveryError::Prepare(_)
            | DeliveryError::Precondition(_)
            | DeliveryError::Response { .. }
            | DeliveryError::Unknown { .. } => ErrorClass::Permanent,
        }
    }

    /// Whether the provider probably acted on the request although the delivery failed
    /// (it answered, but the answer could not be read, was too large to read, or was a 2xx
    /// whose body was cut off). The flow keeps such a record's claim instead of releasing
    /// it, so a replay does not send it twice.
    pub fn provider_may_have_acted(&self) -> bool {
        match self {
            DeliveryError::Response { .. }
            | DeliveryError::Transport(HttpError::BodyTooLarge { .. }) => true,
            DeliveryError::Transport(HttpError::BodyUnreadable { status, .. }) => {
                (200..300).contains(status)
            }
            _ => false,
        }
    }

    /// The HTTP status, when a provider answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            DeliveryError::Provider(e) => Some(e.status),
            DeliveryError::Transport(e) => e.status(),
            _ => None,
        }
    }

    /// The provider's error code, when it gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            DeliveryError::Provider(e) => e.code.as_deref(),
            DeliveryError::Reported(e) => e.code.as_deref(),
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
