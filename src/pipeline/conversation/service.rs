//! The ERP a conversation asks: named operations behind one small trait, mapped by
//! configuration (the RM adapter's `rm.scheduling` is one) or written by the host.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value;

use crate::http::ProviderFake;
use crate::Context;

/// One call: the operation, its input (the spec's `with`, rendered), and a key that is the
/// same every time this step of this conversation is attempted, for an ERP that accepts an
/// `Idempotency-Key`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ServiceCall {
    /// The operation's name (`list_slots`, `book`).
    pub operation: String,
    /// Its input.
    pub input: Value,
    /// The same for every attempt of this step (conversation, party, message, action).
    pub idempotency_key: String,
}

impl ServiceCall {
    /// A call.
    pub fn new(
        operation: impl Into<String>,
        input: Value,
        idempotency_key: impl Into<String>,
    ) -> Self {
        ServiceCall {
            operation: operation.into(),
            input,
            idempotency_key: idempotency_key.into(),
        }
    }
}

/// Why a call gave no answer. The conversation sends its apology and keeps its state for
/// every error except a [`Conflict`](ServiceError::Conflict) that the spec handles.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The ERP refused because the world changed (the slot was taken meanwhile): the spec's
    /// `on_conflict` leads on.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The ERP refused the request (4xx other than a conflict).
    #[error("refused ({status}): {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// What it said (secrets redacted).
        message: String,
    },
    /// No usable answer: a timeout, a 5xx, the network.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// An answer that does not have the shape the operation documents.
    #[error("unreadable answer: {0}")]
    Unreadable(String),
    /// The request could not be built from the input (a value the route needs is missing).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The service has no such operation.
    #[error("unknown operation `{0}`")]
    UnknownOperation(String),
}

/// An ERP (or any system) a conversation calls by operation name.
///
/// ```
/// use async_trait::async_trait;
/// use hubflow::conversation::{Service, ServiceCall, ServiceError};
/// use hubflow::Context;
/// use serde_json::{json, Value};
///
/// /// Specialties from a table in memory.
/// struct Clinic;
///
/// #[async_trait]
/// impl Service for Clinic {
///     fn describe(&self) -> String { "the clinic's table".into() }
///     fn operations(&self) -> Vec<String> { vec!["list_specialties".into()] }
///     async fn call(&self, _ctx: &Context, call: &ServiceCall) -> Result<Value, ServiceError> {
///         match call.operation.as_str() {
///             "list_specialties" => Ok(json!([{"id": "card", "name": "Cardiologia"}])),
///             other => Err(ServiceError::UnknownOperation(other.into())),
///         }
///     }
/// }
/// assert_eq!(Clinic.operations(), ["list_specialties"]);
/// ```
#[async_trait]
pub trait Service: Send + Sync {
    /// What it is, for reports.
    fn describe(&self) -> String;

    /// The operations it answers; a spec calling another is refused when it is built.
    fn operations(&self) -> Vec<String>;

    /// Performs one call.
    async fn call(&self, ctx: &Context, call: &ServiceCall) -> Result<Value, ServiceError>;

    /// Fakes that answer its HTTP requests in a dry run (none by default).
    fn fakes(&self) -> Vec<Arc<dyn ProviderFake>> {
        Vec::new()
    }
}

/// A shared service.
pub type DynService = Arc<dyn Service>;

pub(crate) struct Named(pub(crate) String, pub(crate) DynService);

impl fmt::Debug for Named {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.0, self.1.describe())
    }
}
