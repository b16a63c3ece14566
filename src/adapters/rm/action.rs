//! Appointment actions in the ERP: confirm, cancel, hand-off, each a configurable call, and
//! the targets `rm.confirm` and `rm.cancel`.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::client::RmClient;
use super::pending::PendingConfirmations;
use super::route::Route;
use crate::http::HttpRequest;
use crate::text::text_of;
use crate::{Claim, Context, DeliveryError, Receipt, Record, Target, TargetError};

/// The header that carries an action's idempotency key (`rm:cancel:<appointment_id>`),
/// for ERPs that drop repeats; hubflow also claims the key in the store before calling.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Default routes. RM's healthcare scheduling routes are not public and differ per
/// installation: these defaults only show the shape; configure the customer's own routes
/// (their Swagger is at `/api/swagger/`).
pub mod defaults {
    /// `GET` appointments of a day (TOTVS API style: `page`, `pageSize`, `hasNext`, `items`).
    pub const APPOINTMENTS_PATH: &str = "/api/healthcare/v1/appointments";
    /// `POST` to confirm an appointment.
    pub const CONFIRM_PATH: &str = "/api/healthcare/v1/appointments/{appointment_id}/confirm";
    /// `POST` to cancel an appointment and free its slot.
    pub const CANCEL_PATH: &str = "/api/healthcare/v1/appointments/{appointment_id}/cancel";
}

/// What a patient's answer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Action {
    /// Confirm the appointment.
    Confirm,
    /// Cancel it, freeing the slot.
    Cancel,
    /// Hand the conversation to a person.
    Attendant,
}

impl Action {
    /// `confirm`, `cancel` or `attendant`: the word in button payloads and reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Confirm => "confirm",
            Action::Cancel => "cancel",
            Action::Attendant => "attendant",
        }
    }

    /// The action named by a word of [`as_str`](Action::as_str).
    pub fn from_word(word: &str) -> Option<Action> {
        match word {
            "confirm" => Some(Action::Confirm),
            "cancel" => Some(Action::Cancel),
            "attendant" => Some(Action::Attendant),
            _ => None,
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The placeholders an action route may use.
pub const ACTION_PLACEHOLDERS: &[&str] = &[
    "appointment_id",
    "date",
    "action",
    "phone",
    "starts_at",
    "patient_name",
];

/// The idempotency key of an action on an appointment: `rm:<action>:<appointment_id>`.
pub(crate) fn idempotency_key(action: Action, appointment_id: &str) -> String {
    format!("rm:{action}:{appointment_id}")
}

/// Builds an action's request: the route filled with `values`, and the idempotency key
/// for confirm and cancel.
pub(crate) fn action_request(
    client: &RmClient,
    route: &Route,
    action: Action,
    values: &BTreeMap<String, Value>,
) -> Result<HttpRequest, TargetError> {
    let appointment_id = values
        .get("appointment_id")
        .map(text_of)
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| TargetError::field("appointment_id", "missing: the ERP's appointment id"))?;
    let mut values = values.clone();
    values.insert("action".to_owned(), json!(action.as_str()));
    let request = route
        .request(client, &values)
        .map_err(|e| TargetError::InvalidPayload(e.to_string()))?;
    Ok(match action {
        Action::Confirm | Action::Cancel => {
            request.header(IDEMPOTENCY_HEADER, idempotency_key(action, &appointment_id))
        }
        Action::Attendant => request,
    })
}

/// Sends an action request once per idempotency key: the key is claimed in the store
/// (`rm.answers:<scope>`) before the call, completed after it and released when it fails,
/// so a second cancel of the same appointment is not sent, whichever record asks for it.
pub(crate) async fn apply(
    ctx: &Context,
    client: &RmClient,
    pending: &PendingConfirmations,
    request: &HttpRequest,
    details: Value,
) -> Result<Receipt, DeliveryError> {
    let Some(key) = request.headers.get(IDEMPOTENCY_HEADER).map(str::to_owned) else {
        let (status, _) = client.send_json(ctx, request).await?;
        return Ok(Receipt::new(status).with_details(details));
    };
    let ns = pending.answers_namespace();
    let now = ctx.clock().now();
    match ctx.claims().claim(&ns, &key, now).await? {
        Claim::Acquired => {}
        Claim::Done { receipt } => {
            // Already applied: report it without calling the ERP again.
            let mut details = details;
            details["already_applied"] = json!(true);
            if let Some(status) = receipt.status {
                details["applied_status"] = json!(status);
            }
            return Ok(Receipt::new(200).with_id(key).with_details(details));
        }
        Claim::InFlight { since } => {
            return Err(DeliveryError::Precondition(format!(
                "`{key}` is being applied by another attempt since {since}"
            )));
        }
    }
    match client.send_json(ctx, request).await {
        Ok((status, _)) => {
            let receipt = Receipt::new(status)
                .with_id(key.clone())
                .with_details(details);
            if let Err(e) = ctx.claims().complete(&ns, &key, &receipt).await {
                // The ERP acted; only the memory of it failed. Reported, not retried.
                let mut receipt = receipt;
                receipt.details["warning"] = json!(format!(
                    "applied, but the store did not record it, so a repeat would be sent: {e}"
                ));
                return Ok(receipt);
            }
            Ok(receipt)
        }
        Err(error) => {
            // Released so that a retry (or a later answer) may apply it.
            ctx.claims().release(&ns, &key).await?;
            Err(error.into())
        }
    }
}

/// Whether `action` was already applied to the appointment (its key completed).
pub(crate) async fn was_applied(
    ctx: &Context,
    pending: &PendingConfirmations,
    action: Action,
    appointment_id: &str,
) -> Result<bool, DeliveryError> {
    let ns = pending.answers_namespace();
    let key = idempotency_key(action, appointment_id);
    // A read, not a claim: a probe that claimed would make a concurrent apply of the same
    // key look in flight.
    Ok(matches!(
        ctx.claims().peek_claim(&ns, &key).await?,
        Some(Claim::Done { .. })
    ))
}

/// Confirms or cancels an appointment in the ERP: kinds `rm.confirm` and `rm.cancel`.
///
/// The payload names the appointment and any other value the route uses:
/// `{"appointment_id": "A-17", "date": "2026-03-03"}`. The request carries
/// `Idempotency-Key: rm:<action>:<appointment_id>`, and the key is claimed in the store
/// before the call: a second cancel of the same appointment, from any record, is not sent
/// and is delivered with `already_applied: true` in the receipt.
///
/// ```
/// use hubflow::rm::{Action, ActionTarget, RmAuth, RmClient};
/// use hubflow::{Context, Flow, ManualClock, MemoryStore, Plan, Record};
/// use hubflow::http::RecordingClient;
/// use secrecy::SecretString;
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let client = RmClient::new("https://erp.example:8051".parse().unwrap(), RmAuth::Bearer(SecretString::from("t0k3n")));
/// let flow = Flow::builder("cancel").target(ActionTarget::new(client, Action::Cancel)).build().unwrap();
/// let ctx = Context::new(RecordingClient::new(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
/// let record = Record::new("k", "x", json!({"appointment_id": "A-17"}));
/// let Plan::Send(action) = flow.plan(&ctx, &record).await.unwrap() else { unreachable!() };
/// let request = action.downcast_ref::<hubflow::http::HttpRequest>().unwrap();
/// assert_eq!(request.url.path(), "/api/healthcare/v1/appointments/A-17/cancel");
/// assert_eq!(request.headers.get("idempotency-key"), Some("rm:cancel:A-17"));
/// # });
/// ```
#[derive(Clone)]
pub struct ActionTarget {
    client: RmClient,
    action: Action,
    route: Route,
    pending: PendingConfirmations,
}

impl ActionTarget {
    /// The target for `action` with its default route ([`defaults`]); an attendant
    /// hand-off has no default route, so set one with [`route`](ActionTarget::route).
    pub fn new(client: RmClient, action: Action) -> Self {
        ActionTarget {
            client,
            action,
            route: default_route(action),
            pending: PendingConfirmations::default(),
        }
    }

    /// The ERP call to make.
    #[must_use]
    pub fn route(mut self, route: Route) -> Self {
        self.route = route;
        self
    }

    /// The scope whose applied actions are remembered (default `rm`).
    #[must_use]
    pub fn scope(mut self, pending: PendingConfirmations) -> Self {
        self.pending = pending;
        self
    }
}

/// The default route of an action.
pub(crate) fn default_route(action: Action) -> Route {
    match action {
        Action::Confirm => Route::post(defaults::CONFIRM_PATH),
        Action::Cancel => Route::post(defaults::CANCEL_PATH),
        Action::Attendant => {
            Route::post("/api/healthcare/v1/appointments/{appointment_id}/attendant")
        }
    }
}

impl fmt::Debug for ActionTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActionTarget")
            .field("action", &self.action)
            .field("route", &self.route)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Target for ActionTarget {
    type Action = HttpRequest;

    fn prepare(&self, _record: &Record, payload: &Value) -> Result<HttpRequest, TargetError> {
        let Value::Object(fields) = payload else {
            return Err(TargetError::InvalidPayload(
                "expected a JSON object such as {\"appointment_id\": \"A-17\"}".to_owned(),
            ));
        };
        let values: BTreeMap<String, Value> =
            fields.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        action_request(&self.client, &self.route, self.action, &values)
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        request: &HttpRequest,
    ) -> Result<Receipt, DeliveryError> {
        let details = json!({"action": self.action.as_str()});
        apply(ctx, &self.client, &self.pending, request, details).await
    }

    fn fakes(&self) -> Vec<std::sync::Arc<dyn crate::http::ProviderFake>> {
        vec![std::sync::Arc::new(super::fake::RmFake::for_client(
            &self.client,
        ))]
    }
}
