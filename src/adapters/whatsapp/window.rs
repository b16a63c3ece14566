//! The 24-hour customer-service window.
//!
//! Each customer's last message is an entry in the host's [`StateStore`](crate::StateStore),
//! scope `whatsapp.window`, key `<phone_number_id>:<customer number>`, value
//! `{"at": "<instant>"}`, expiring [`SERVICE_WINDOW`] after the message: once the window is
//! closed the store has nothing left to say about it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::store::update_state;
use crate::{Context, Record, StateEntry, StoreError};

/// How long a customer's message keeps the window for free-form messages open.
pub const SERVICE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// The state scope of the windows.
const SCOPE: &str = "whatsapp.window";

fn key(phone_number_id: &str, party: &str) -> String {
    format!("{phone_number_id}:{party}")
}

/// The `at` instant of a state entry's value (windows, templates, marketing choices).
pub(super) fn instant(value: &Value, key: &str) -> Result<DateTime<Utc>, StoreError> {
    value
        .get("at")
        .and_then(Value::as_str)
        .and_then(|at| at.parse().ok())
        .ok_or_else(|| {
            StoreError::corrupt(format!(
                "the state entry `{key}` holds no instant: {}",
                crate::text::truncate(&value.to_string(), 80)
            ))
        })
}

/// Remembers, for every received `whatsapp.message` record, that its sender wrote at its
/// instant: this opens the 24-hour window in which [`WhatsAppTarget`](super::WhatsAppTarget) sends free-form
/// messages. Call it with the records a [`WhatsAppWebhook`](super::webhook::WhatsAppWebhook)
/// returned. Returns how many records opened a window.
///
/// Webhooks arrive out of order: an older message never shrinks the window a newer one
/// opened (the entry is updated with compare-and-swap, so this holds across workers too).
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use hubflow::{Context, ManualClock, MemoryStore, Record};
/// use hubflow::http::RecordingClient;
/// use hubflow::whatsapp::{last_inbound, remember_inbound};
/// use serde_json::json;
///
/// let at = "2026-03-02T12:00:00Z".parse().unwrap();
/// let clock = ManualClock::new(at);
/// let ctx = Context::new(RecordingClient::new(), clock.clone(), MemoryStore::new());
/// let record = Record::new("wamid.1", "whatsapp.message",
///     json!({"phone_number_id": "1065", "from": "5511999991234"})).occurred_at(at);
/// assert_eq!(remember_inbound(&ctx, &[record]).await.unwrap(), 1);
/// assert_eq!(last_inbound(&ctx, "1065", "5511999991234").await.unwrap(), Some(at));
/// // A day later the window is closed and forgotten.
/// clock.advance(std::time::Duration::from_secs(24 * 3600));
/// assert_eq!(last_inbound(&ctx, "1065", "5511999991234").await.unwrap(), None);
/// # });
/// ```
pub async fn remember_inbound(ctx: &Context, records: &[Record]) -> Result<usize, StoreError> {
    let mut opened = 0;
    for record in records.iter().filter(|r| r.kind == "whatsapp.message") {
        let channel = record.get("phone_number_id").and_then(Value::as_str);
        let party = record
            .get("from")
            .and_then(Value::as_str)
            .filter(|from| !from.is_empty());
        if let (Some(channel), Some(party), Some(at)) = (channel, party, record.occurred_at) {
            note_inbound(ctx, channel, party, at).await?;
            opened += 1;
        }
    }
    Ok(opened)
}

async fn note_inbound(
    ctx: &Context,
    phone_number_id: &str,
    party: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let key = key(phone_number_id, party);
    let entry = StateEntry::new(json!({ "at": at.to_rfc3339() }))
        .expiring_at(crate::clock::add(at, SERVICE_WINDOW));
    update_state(ctx.state(), SCOPE, &key, ctx.clock().now(), |current| {
        if let Some(current) = current {
            if instant(&current.value, &key)? >= at {
                return Ok(None);
            }
        }
        Ok(Some(entry.clone()))
    })
    .await?;
    Ok(())
}

/// Forgets `party`'s window with `phone_number_id`: Meta said it is closed (131047).
pub(super) async fn forget_inbound(
    ctx: &Context,
    phone_number_id: &str,
    party: &str,
) -> Result<(), StoreError> {
    ctx.state()
        .remove_state(SCOPE, &key(phone_number_id, party))
        .await
}

/// When `party` last wrote to the WhatsApp number `phone_number_id`, while that message
/// still keeps the window open; `None` when the customer has not written in the last
/// [`SERVICE_WINDOW`].
pub async fn last_inbound(
    ctx: &Context,
    phone_number_id: &str,
    party: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    let key = key(phone_number_id, party);
    match ctx
        .state()
        .get_state(SCOPE, &key, ctx.clock().now())
        .await?
    {
        Some(entry) => instant(&entry.value, &key).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests;
