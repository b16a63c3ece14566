//! Sending a confirmation and remembering it as pending (kind `rm.confirmation`).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::pending::{digits, PendingConfirmation, PendingConfirmations};
use super::route::text_of;
use crate::http::HttpRequest;
use crate::{Context, DeliveryError, Receipt, Record, Target, TargetError};

/// The header in which `prepare` hands the appointment to `deliver`. It is removed before
/// the request is sent, so only a dry run shows it.
pub const PENDING_HEADER: &str = "X-Hubflow-Rm-Appointment";

/// What `prepare` hands to `deliver` about the appointment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Sidecar {
    appointment_id: String,
    date: NaiveDate,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
/// request (`to` for WhatsApp, `recipient_number` for RD Conversas). `prepare` passes them
/// to `deliver` in the [`PENDING_HEADER`] header, which `deliver` removes before sending.
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

/// JSON with every non-ASCII character escaped, so it is a valid header value.
fn ascii_json(value: &Value) -> String {
    let mut out = String::new();
    for c in value.to_string().chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

#[async_trait]
impl Target for ConfirmationTarget {
    fn prepare(&self, record: &Record, payload: &Value) -> Result<HttpRequest, TargetError> {
        let request = self.inner.prepare(record, payload)?;
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
        let sidecar = Sidecar {
            appointment_id,
            date,
            starts_at: starts_at.map(|s| s.with_timezone(&Utc)),
            phone,
        };
        let value = serde_json::to_value(&sidecar)
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))?;
        Ok(request.header(PENDING_HEADER, ascii_json(&value)))
    }

    async fn deliver(
        &self,
        ctx: &Context,
        request: &HttpRequest,
    ) -> Result<Receipt, DeliveryError> {
        let sidecar: Sidecar = request
            .headers
            .get(PENDING_HEADER)
            .and_then(|text| serde_json::from_str(text).ok())
            .ok_or_else(|| {
                TargetError::InvalidPayload(format!(
                    "the request lacks the {PENDING_HEADER} header that rm.confirmation's prepare adds"
                ))
            })?;
        let mut outgoing = request.clone();
        outgoing.headers.remove(PENDING_HEADER);
        let mut receipt = self.inner.deliver(ctx, &outgoing).await?;
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
