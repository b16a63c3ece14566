//! Coexistence: when a business that uses the WhatsApp Business app onboards to the Cloud
//! API, Meta sends the app's chat history (`history`) and its contacts
//! (`smb_app_state_sync`); the app's own sends afterwards are message echoes.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::business::{hashed_when, with_time};
use super::model::{rfc3339, short_hash, ErrorDetail};
use crate::Record;

/// Record kind of a chunk of synchronized chat history.
pub const KIND_HISTORY: &str = "whatsapp.history";
/// Record kind of a contact added or removed in the WhatsApp Business app.
pub const KIND_CONTACT_SYNC: &str = "whatsapp.contact_sync";

/// One conversation of a history chunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HistoryThread {
    /// `id`: the other party's phone number.
    pub id: String,
    /// `messages[]`, as received (each like a webhook message, with `history_context`).
    pub messages: Vec<Value>,
}

/// A chunk of the WhatsApp Business app's chat history (`value.history[]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct HistoryChunk {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `value.metadata.phone_number_id`.
    pub phone_number_id: String,
    /// `metadata.phase` (0: the last day, 1: up to 90 days, 2: up to 180 days).
    pub phase: Option<u64>,
    /// `metadata.chunk_order`.
    pub chunk_order: Option<u64>,
    /// `metadata.progress`, in percent.
    pub progress: Option<u64>,
    /// `threads[]`.
    pub threads: Vec<HistoryThread>,
    /// `errors[]`: e.g. the business declined to share its history (2593109).
    pub errors: Vec<ErrorDetail>,
    /// The history object as received.
    pub raw: Value,
}

impl HistoryChunk {
    /// The record: kind `whatsapp.history`, key
    /// `whatsapp:history:<phone_number_id>:<phase>:<chunk_order>:<hash>`; data `waba_id`,
    /// `phone_number_id`, `phase`, `chunk_order`, `progress`, `threads` (`[{"id",
    /// "messages"}]`), `messages` (how many in all), `errors`, `raw`.
    pub fn to_record(&self) -> Record {
        let number = |n: Option<u64>| n.map_or_else(|| "-".to_owned(), |n| n.to_string());
        let data = json!({
            "waba_id": self.waba_id,
            "phone_number_id": self.phone_number_id,
            "phase": self.phase,
            "chunk_order": self.chunk_order,
            "progress": self.progress,
            "threads": self.threads,
            "messages": self.threads.iter().map(|t| t.messages.len()).sum::<usize>(),
            "errors": self.errors,
            "raw": self.raw,
        });
        let key = format!(
            "whatsapp:history:{}:{}:{}:{}",
            self.phone_number_id,
            number(self.phase),
            number(self.chunk_order),
            short_hash(&self.raw)
        );
        Record::new(key, KIND_HISTORY, data)
    }
}

/// A contact added or removed in the WhatsApp Business app (`value.state_sync[]`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct ContactSync {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `value.metadata.phone_number_id`.
    pub phone_number_id: String,
    /// `type` (`contact`).
    pub kind: Option<String>,
    /// `action`: `add` or `remove`.
    pub action: Option<String>,
    /// `contact.full_name`.
    pub full_name: Option<String>,
    /// `contact.first_name`.
    pub first_name: Option<String>,
    /// `contact.phone_number`.
    pub phone_number: Option<String>,
    /// `metadata.timestamp`.
    pub timestamp: Option<DateTime<Utc>>,
    /// The item as received.
    pub raw: Value,
}

impl ContactSync {
    /// The record: kind `whatsapp.contact_sync`, key
    /// `whatsapp:contact_sync:<phone_number_id>:<phone_number>:<action>:<when>`; data
    /// `waba_id`, `phone_number_id`, `type`, `action`, `full_name`, `first_name`,
    /// `phone_number`, `timestamp`, `raw`.
    pub fn to_record(&self) -> Record {
        let data = json!({
            "waba_id": self.waba_id,
            "phone_number_id": self.phone_number_id,
            "type": self.kind,
            "action": self.action,
            "full_name": self.full_name,
            "first_name": self.first_name,
            "phone_number": self.phone_number,
            "timestamp": self.timestamp.map(rfc3339),
            "raw": self.raw,
        });
        let key = format!(
            "whatsapp:contact_sync:{}:{}:{}:{}",
            self.phone_number_id,
            self.phone_number.as_deref().unwrap_or("-"),
            self.action.as_deref().unwrap_or("-"),
            hashed_when(self.timestamp, &self.raw)
        );
        with_time(Record::new(key, KIND_CONTACT_SYNC, data), self.timestamp)
    }
}
