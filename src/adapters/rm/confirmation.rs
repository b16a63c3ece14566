//! Sending a confirmation and remembering it as pending (kind `rm.confirmation`).

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::pending::{digits, PendingConfirmation, PendingConfirmations};
use crate::text::text_of;
use crate::{
    Action, Context, DeliveryError, DynTarget, PreparedAction, Receipt, Record, Target, TargetError,
};

/// What a confirmation remembers about its appointment, read from the record and the
/// sender's action.
#[derive(Debug, Clone, PartialEq, Serialize)]
struct Sidecar {
    appointment_id: String,
    date: NaiveDate,
    #[serde(skip_serializing_if = "Option::is_none")]
    starts_at: Option<DateTime<Utc>>,
    phone: String,
}

/// What [`ConfirmationTarget`] prepares: the sender's own action (a WhatsApp or RD Conversas
/// template send, as that target prepared it), and the pending confirmation it remembers in
/// the store once the provider accepted the message.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ConfirmationSend {
    /// The sender's action, executed by the sender.
    send: PreparedAction,
    /// The appointment remembered as pending after the send.
    remember: Sidecar,
}

impl ConfirmationSend {
    /// The sender's action.
    pub fn send(&self) -> &PreparedAction {
        &self.send
    }
}

impl Action for ConfirmationSend {
    fn recipient(&self) -> Option<&str> {
        Some(&self.remember.phone)
    }
}

/// Sends an appointment's confirmation through another target (a WhatsApp template, an
/// RD Conversas template) and, once the provider accepted it, remembers it in the store
/// as a [`PendingConfirmation`] with the provider's message id, so that
/// [`ReplyTarget`](super::ReplyTarget) can match the answer. Kind `rm.confirmation`.
///
/// The record is an `rm.appointment` (from [`AppointmentsSource`](super::AppointmentsSource)):
/// `appointment_id`, `date` and `starts_at` are read from it, the number from the prepared
/// request (`to` for WhatsApp, `recipient_number` for RD Conversas). `prepare` checks they
/// are there, so a record without them fails before anything is sent.
///
/// If the store cannot record the confirmation, the send still counts as delivered (the
/// message went out; sending again would message the patient twice) and the receipt's
/// `details.warning` says that answers to it will be reported as unmatched.
#[derive(Clone)]
pub struct ConfirmationTarget {
    inner: DynTarget,
    pending: PendingConfirmations,
}

impl ConfirmationTarget {
    /// Sends through `inner` (any target whose action has a
    /// [`recipient`](crate::Action::recipient), or a [`DynTarget`] from the registry) and
    /// remembers in the default scope (`rm`).
    pub fn new(inner: impl Target + 'static) -> Self {
        ConfirmationTarget {
            inner: DynTarget::new(inner),
            pending: PendingConfirmations::default(),
        }
    }

    /// Remembers in this scope (the reply router must use the same).
    #[must_use]
    pub fn pending(mut self, pending: PendingConfirmations) -> Self {
        self.pending = pending;
        self
    }
}

impl fmt::Debug for ConfirmationTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfirmationTarget")
            .field("scope", &self.pending.scope())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Target for ConfirmationTarget {
    type Action = ConfirmationSend;

    fn prepare(&self, record: &Record, payload: &Value) -> Result<ConfirmationSend, TargetError> {
        let send = self.inner.prepare(record, payload)?;
        let remember = sidecar(record, &send)?;
        Ok(ConfirmationSend { send, remember })
    }

    async fn deliver(
        &self,
        ctx: &Context,
        record: &Record,
        action: &ConfirmationSend,
    ) -> Result<Receipt, DeliveryError> {
        let sidecar = &action.remember;
        let mut receipt = self.inner.deliver(ctx, record, &action.send).await?;
        let pending = PendingConfirmation::new(
            sidecar.appointment_id.clone(),
            sidecar.date,
            &sidecar.phone,
            ctx.clock().now(),
        )
        .starts_at(sidecar.starts_at)
        .message_id(receipt.id.clone());
        let mut details = match receipt.details.take() {
            Value::Object(map) => map,
            _ => serde_json::Map::new(),
        };
        details.insert("appointment_id".into(), json!(sidecar.appointment_id));
        details.insert("date".into(), json!(sidecar.date));
        if let Err(e) = self.pending.remember(ctx, &pending).await {
            details.insert(
                "warning".into(),
                json!(format!(
                    "sent, but not remembered as pending, so answers to it will be unmatched: {e}"
                )),
            );
        }
        receipt.details = Value::Object(details);
        Ok(receipt)
    }

    fn fakes(&self) -> Vec<std::sync::Arc<dyn crate::http::ProviderFake>> {
        self.inner.fakes()
    }
}

/// The appointment a confirmation is for, from the record, and the number it goes to, from
/// the prepared request.
fn sidecar(record: &Record, send: &PreparedAction) -> Result<Sidecar, TargetError> {
    let field = |name: &str| {
        record
            .get(name)
            .filter(|v| !v.is_null())
            .map(text_of)
            .filter(|s| !s.trim().is_empty())
    };
    let appointment_id = field("appointment_id").ok_or_else(|| {
        TargetError::InvalidPayload(
            "the record has no `appointment_id`: rm.confirmation sends rm.appointment records"
                .to_owned(),
        )
    })?;
    let date = field("date")
        .and_then(|d| d.parse::<NaiveDate>().ok())
        .ok_or_else(|| {
            TargetError::InvalidPayload(
                "the record has no `date` (YYYY-MM-DD): rm.confirmation sends rm.appointment records"
                    .to_owned(),
            )
        })?;
    let starts_at = field("starts_at").and_then(|s| DateTime::parse_from_rfc3339(&s).ok());
    let phone = send
        .recipient()
        .map(digits)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            TargetError::InvalidPayload(
                "the sender's message has no recipient: rm.confirmation sends through a target that messages a person"
                    .to_owned(),
            )
        })?;
    Ok(Sidecar {
        appointment_id,
        date,
        starts_at: starts_at.map(|s| s.with_timezone(&Utc)),
        phone,
    })
}
