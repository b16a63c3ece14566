//! Targets: where a flow delivers, the exact action it prepares, and how a delivery fails.
//!
//! A [`Target`] works in two steps. [`prepare`](Target::prepare) is pure: it turns a mapped
//! payload into the target's own typed [`Action`], which says exactly what delivering will do
//! (the HTTP requests, an upload before a send, the fallback a state-dependent decision may
//! pick, what is remembered afterwards). [`deliver`](Target::deliver) executes that value as
//! it is, without re-reading it from bytes. [`Flow::plan`](crate::Flow::plan) shows the
//! action; a dry run ([`Flow::dry_run`](crate::Flow::dry_run)) executes it against provider
//! fakes and shows the requests a real run sends, in order.
//!
//! Flows and registries hold targets of different types through [`DynTarget`], whose action
//! is the type-erased [`PreparedAction`].

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::http::{HttpRequest, ProviderFake};
use crate::{Context, Record};

mod error;

pub use error::{DeliveryError, ErrorClass, ProviderError, ReportedFailure, TargetError};

/// Where a flow delivers a mapped payload.
///
/// [`prepare`](Target::prepare) is pure and returns the target's [`Action`]: a typed,
/// serializable value that says exactly what [`deliver`](Target::deliver) will do with it.
/// `deliver` executes that value through the host's ports ([`HttpClient`](crate::http::HttpClient),
/// [`Clock`](crate::Clock), store) and reads the provider's answer. What the action shows is
/// what is sent: a target never re-parses its own prepared bytes, and never sends a body it
/// did not prepare. A decision that needs state (WhatsApp's 24-hour window) is written into
/// the action as its alternatives; `deliver` picks one, and a dry run shows which.
///
/// Retrying is not the target's business: it classifies each failure
/// ([`DeliveryError::class`]) and the flow's [`RetryPolicy`](crate::RetryPolicy) decides.
///
/// ```
/// use async_trait::async_trait;
/// use hubflow::http::HttpRequest;
/// use hubflow::{Context, DeliveryError, ProviderError, Receipt, Record, Target, TargetError};
/// use serde_json::Value;
///
/// /// Posts the payload to a ticket system.
/// struct Tickets;
///
/// #[async_trait]
/// impl Target for Tickets {
///     type Action = HttpRequest;
///
///     fn prepare(&self, _record: &Record, payload: &Value) -> Result<HttpRequest, TargetError> {
///         HttpRequest::post_json("https://tickets.example.com/api".parse().unwrap(), payload)
///             .map_err(|e| TargetError::InvalidPayload(e.to_string()))
///     }
///
///     async fn deliver(&self, ctx: &Context, _record: &Record, request: &HttpRequest)
///         -> Result<Receipt, DeliveryError>
///     {
///         let response = ctx.http().send(request).await?;
///         if !response.is_success() {
///             return Err(ProviderError::from_response("tickets", &response, ctx.clock().now()).into());
///         }
///         Ok(Receipt::new(response.status))
///     }
/// }
/// ```
#[async_trait]
pub trait Target: Send + Sync {
    /// What [`prepare`](Target::prepare) returns and [`deliver`](Target::deliver) executes.
    type Action: Action;

    /// Builds the action for `payload`, mapped from `record`, or says why the payload does
    /// not fit. Pure. The record is there for what belongs to it rather than to the payload:
    /// its key as a correlation or idempotency id, its kind, its instant.
    fn prepare(&self, record: &Record, payload: &Value) -> Result<Self::Action, TargetError>;

    /// Executes an action made by [`prepare`](Target::prepare) and reads the receipt.
    async fn deliver(
        &self,
        ctx: &Context,
        record: &Record,
        action: &Self::Action,
    ) -> Result<Receipt, DeliveryError>;

    /// Fakes that answer this target's requests like its provider does, used by
    /// [`Flow::dry_run`](crate::Flow::dry_run). The default is none: a dry run then answers
    /// every request of this target with `501` and the record fails, which says plainly that
    /// the dry run could not show what the provider would answer.
    fn fakes(&self) -> Vec<Arc<dyn ProviderFake>> {
        Vec::new()
    }
}

/// A value a [`Target`] prepares: serializable (that is what a plan and a report show; no
/// secret may appear in it unredacted), debuggable, and shareable across tasks.
///
/// [`HttpRequest`] is an action: a target that sends exactly one request uses it as is.
pub trait Action: Serialize + fmt::Debug + Send + Sync + 'static {
    /// The person this action sends a message to, as the provider's number (digits with
    /// country code), when it messages one. A wrapper such as RM's confirmation uses it to
    /// remember whom it asked, whatever channel sent the question.
    fn recipient(&self) -> Option<&str> {
        None
    }
}

impl Action for HttpRequest {}

impl Action for PreparedAction {
    fn recipient(&self) -> Option<&str> {
        self.inner.recipient()
    }
}

/// The type-erased [`Action`] of some target: what [`Flow::plan`](crate::Flow::plan) shows.
///
/// It serializes as the action itself and can be downcast back to it.
///
/// ```
/// use hubflow::http::HttpRequest;
/// use hubflow::PreparedAction;
///
/// let request = HttpRequest::post_json("https://example.com/hook".parse().unwrap(), &1).unwrap();
/// let action = PreparedAction::new(request.clone());
/// assert_eq!(action.downcast_ref::<HttpRequest>(), Some(&request));
/// assert_eq!(action.to_json()["method"], "POST");
/// ```
#[derive(Clone)]
pub struct PreparedAction {
    inner: Arc<dyn ErasedAction>,
}

trait ErasedAction: Send + Sync {
    fn as_any(&self) -> &dyn Any;
    fn to_json(&self) -> Result<Value, serde_json::Error>;
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
    fn recipient(&self) -> Option<&str>;
}

impl<A: Action> ErasedAction for A {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn to_json(&self) -> Result<Value, serde_json::Error> {
        serde_json::to_value(self)
    }
    fn debug(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
    fn recipient(&self) -> Option<&str> {
        Action::recipient(self)
    }
}

impl PreparedAction {
    /// Erases `action`'s type. An action that is already a `PreparedAction` is kept as it
    /// is, not wrapped twice.
    pub fn new<A: Action>(action: A) -> Self {
        if let Some(prepared) = (&action as &dyn Any).downcast_ref::<PreparedAction>() {
            return prepared.clone();
        }
        PreparedAction {
            inner: Arc::new(action),
        }
    }

    /// The action as its own type, if it is an `A`.
    pub fn downcast_ref<A: Action>(&self) -> Option<&A> {
        self.inner.as_any().downcast_ref::<A>()
    }

    /// The action's serialized form (what a plan shows). An action whose serialization
    /// fails shows as `{"unserializable": "<why>"}` rather than failing the plan.
    pub fn to_json(&self) -> Value {
        self.inner
            .to_json()
            .unwrap_or_else(|e| serde_json::json!({ "unserializable": e.to_string() }))
    }

    /// The person the action messages, if it messages one (see [`Action::recipient`]).
    pub fn recipient(&self) -> Option<&str> {
        self.inner.recipient()
    }
}

impl fmt::Debug for PreparedAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.debug(f)
    }
}

impl PartialEq for PreparedAction {
    /// Two actions are equal when they show the same: their serialized forms match.
    fn eq(&self, other: &Self) -> bool {
        self.to_json() == other.to_json()
    }
}

impl Serialize for PreparedAction {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.inner
            .to_json()
            .map_err(serde::ser::Error::custom)?
            .serialize(serializer)
    }
}

/// A [`Target`] of any type, shared: what a [`Flow`](crate::Flow) and the
/// [`Registry`](crate::spec::Registry) hold. Its action is the type-erased
/// [`PreparedAction`]; cloning is cheap.
///
/// ```
/// use hubflow::http_target::HttpTarget;
/// use hubflow::{DynTarget, Record, Target};
/// use serde_json::json;
///
/// let target = DynTarget::new(HttpTarget::new("https://ops.example.com/hook".parse().unwrap()));
/// let action = target.prepare(&Record::new("k1", "ticket", json!({})), &json!({"a": 1})).unwrap();
/// assert_eq!(action.to_json()["url"], "https://ops.example.com/hook");
/// ```
#[derive(Clone)]
pub struct DynTarget {
    inner: Arc<dyn ErasedTarget>,
}

#[async_trait]
trait ErasedTarget: Send + Sync {
    fn prepare(&self, record: &Record, payload: &Value) -> Result<PreparedAction, TargetError>;
    async fn deliver(
        &self,
        ctx: &Context,
        record: &Record,
        action: &PreparedAction,
    ) -> Result<Receipt, DeliveryError>;
    fn fakes(&self) -> Vec<Arc<dyn ProviderFake>>;
    fn type_name(&self) -> &'static str;
}

#[async_trait]
impl<T: Target + 'static> ErasedTarget for T {
    fn prepare(&self, record: &Record, payload: &Value) -> Result<PreparedAction, TargetError> {
        Target::prepare(self, record, payload).map(PreparedAction::new)
    }

    async fn deliver(
        &self,
        ctx: &Context,
        record: &Record,
        action: &PreparedAction,
    ) -> Result<Receipt, DeliveryError> {
        let Some(action) = action.downcast_ref::<T::Action>() else {
            return Err(DeliveryError::Prepare(TargetError::InvalidPayload(
                format!(
                    "{} was handed an action another target prepared",
                    std::any::type_name::<T>()
                ),
            )));
        };
        Target::deliver(self, ctx, record, action).await
    }

    fn fakes(&self) -> Vec<Arc<dyn ProviderFake>> {
        Target::fakes(self)
    }

    fn type_name(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

impl DynTarget {
    /// The name of the erased target's type.
    pub(crate) fn type_name(&self) -> &'static str {
        self.inner.type_name()
    }

    /// Erases `target`'s type. A `DynTarget` is kept as it is, not wrapped twice.
    pub fn new<T: Target + 'static>(target: T) -> Self {
        if let Some(shared) = (&target as &dyn Any).downcast_ref::<DynTarget>() {
            return shared.clone();
        }
        DynTarget {
            inner: Arc::new(target),
        }
    }
}

#[async_trait]
impl Target for DynTarget {
    type Action = PreparedAction;

    fn prepare(&self, record: &Record, payload: &Value) -> Result<PreparedAction, TargetError> {
        self.inner.prepare(record, payload)
    }

    async fn deliver(
        &self,
        ctx: &Context,
        record: &Record,
        action: &PreparedAction,
    ) -> Result<Receipt, DeliveryError> {
        self.inner.deliver(ctx, record, action).await
    }

    fn fakes(&self) -> Vec<Arc<dyn ProviderFake>> {
        self.inner.fakes()
    }
}

impl fmt::Debug for DynTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DynTarget")
            .field(&self.inner.type_name())
            .finish()
    }
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

#[cfg(test)]
mod tests;
