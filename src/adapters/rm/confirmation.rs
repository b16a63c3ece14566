//! Sending a confirmation and remembering it as pending (kind `rm.confirmation`).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use super::pending::{digits, PendingConfirmation, PendingConfirmations};
use crate::http::HttpRequest;
use crate::text::text_of;
use crate::{Context, DeliveryError, Receipt, Record, Target, TargetError};

/// What a confirmation remembers about its appointment, read from the record and the
/// prepared request.
#[derive(Debug, Clone, PartialEq)]
struct Sidecar {
    appointment_id: String,
    date: NaiveDate,
    starts_at: Option<DateTime<Utc>>,
    phone: String,
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
    inner: Arc<dyn Target>,
    pending: PendingConfirmations,
}

impl ConfirmationTarget {
    /// Sends through `inner` and remembers in the default scope (`rm`).
    pub fn new(inner: impl Target + 'static) -> Self {
        ConfirmationTarget::from_arc(Arc::new(inner))
    }

    /// Sends through a shared target.
    pub fn from_arc(inner: Arc<dyn Target>) -> Self {
        ConfirmationTarget {
            inner,
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
    fn prepare(&self, record: &Record, payload: &Value) -> Result<HttpRequest, TargetError> {
        let request = self.inner.prepare(record, payload)?;
        sidecar(record, &request)?;
        Ok(request)
    }

    async fn deliver(
        &self,
        ctx: &Context,
        record: &Record,
        request: &HttpRequest,
    ) -> Result<Receipt, DeliveryError> {
        let sidecar = sidecar(record, request)?;
        let mut receipt = self.inner.deliver(ctx, record, request).await?;
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
}

/// The appointment a confirmation is for, from the record, and the number it goes to, from
/// the prepared request.
fn sidecar(record: &Record, request: &HttpRequest) -> Result<Sidecar, TargetError> {
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
    let sent = request.json_body().unwrap_or(Value::Null);
    let phone = ["to", "recipient_number"]
        .iter()
        .find_map(|k| sent.get(*k).and_then(Value::as_str))
        .map(digits)
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            TargetError::InvalidPayload(
                "the prepared message has no recipient (`to` or `recipient_number`)".to_owned(),
            )
        })?;
    Ok(Sidecar {
        appointment_id,
        date,
        starts_at: starts_at.map(|s| s.with_timezone(&Utc)),
        phone,
    })
}
