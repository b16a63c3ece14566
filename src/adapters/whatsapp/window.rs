//! The 24-hour customer-service window.

use std::time::Duration;

use serde_json::Value;

use crate::{Context, Record, StoreError};

/// How long a customer's message keeps the window for free-form messages open.
pub const SERVICE_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

/// When `party` last wrote to the business number `phone_number_id`, if ever.
pub(crate) async fn last_inbound(
    ctx: &Context,
    phone_number_id: &str,
    party: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, StoreError> {
    ctx.store().last_inbound(phone_number_id, party).await
}

/// Remembers, for every received `whatsapp.message` record, that its sender wrote at its
/// instant: this opens the 24-hour window in which [`WhatsAppTarget`](super::WhatsAppTarget) sends free-form
/// messages. Call it with the records a [`WhatsAppWebhook`](super::webhook::WhatsAppWebhook)
/// returned. Returns how many records opened a window.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use hubflow::{Context, ManualClock, MemoryStore, Record, Store};
/// use hubflow::http::RecordingClient;
/// use serde_json::json;
///
/// let store = MemoryStore::new();
/// let ctx = Context::new(RecordingClient::new(), ManualClock::new(chrono::Utc::now()), store.clone());
/// let at = "2026-03-02T12:00:00Z".parse().unwrap();
/// let record = Record::new("wamid.1", "whatsapp.message",
///     json!({"phone_number_id": "1065", "from": "5511999991234"})).occurred_at(at);
/// assert_eq!(hubflow::whatsapp::remember_inbound(&ctx, &[record]).await.unwrap(), 1);
/// assert_eq!(store.last_inbound("1065", "5511999991234").await.unwrap(), Some(at));
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
            ctx.store().note_inbound(channel, party, at).await?;
            opened += 1;
        }
    }
    Ok(opened)
}
