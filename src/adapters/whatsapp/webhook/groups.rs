//! Groups: a group created, its participants or settings changed, its status updated
//! (`group_lifecycle_update`, `group_participants_update`, `group_settings_update`,
//! `group_status_update`).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;

use super::model::{rfc3339, ErrorDetail, RawJson};
use crate::Record;

/// Record kind of a group event.
pub const KIND_GROUP: &str = "whatsapp.group";

/// One group event (`value.groups[]` of a `group_*` change).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct GroupEvent {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `value.metadata.phone_number_id`.
    pub phone_number_id: String,
    /// `value.metadata.display_phone_number`.
    pub display_phone_number: String,
    /// The change's `field` (`group_lifecycle_update`, …).
    pub field: String,
    /// `group_id`.
    pub group_id: String,
    /// `type` (`group_create`, `group_delete`, `group_settings_update`, …).
    pub event: Option<String>,
    /// `timestamp`.
    pub timestamp: DateTime<Utc>,
    /// `request_id`: the business's request this answers, when it answers one.
    pub request_id: Option<String>,
    /// `subject`.
    pub subject: Option<String>,
    /// `description`.
    pub description: Option<String>,
    /// `added_participants[].wa_id`.
    pub added: Vec<String>,
    /// `removed_participants[].wa_id`.
    pub removed: Vec<String>,
    /// `errors[]` of a request that failed.
    pub errors: Vec<ErrorDetail>,
    /// The group object as received.
    pub raw: RawJson,
}

impl GroupEvent {
    /// The record: kind `whatsapp.group`, key
    /// `whatsapp:group:<group_id>:<field>:<type>:<request_id, else timestamp>`; data
    /// `waba_id`, `phone_number_id`, `display_phone_number`, `field`, `group_id`, `event`,
    /// `timestamp`, `request_id`, `subject`, `description`, `added`, `removed`, `errors`,
    /// `raw`.
    pub fn to_record(&self) -> Record {
        let data = json!({
            "waba_id": self.waba_id,
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "field": self.field,
            "group_id": self.group_id,
            "event": self.event,
            "timestamp": rfc3339(self.timestamp),
            "request_id": self.request_id,
            "subject": self.subject,
            "description": self.description,
            "added": self.added,
            "removed": self.removed,
            "errors": self.errors,
            "raw": self.raw.to_value(),
        });
        let at = self.timestamp.timestamp().to_string();
        let key = format!(
            "whatsapp:group:{}:{}:{}:{}",
            self.group_id,
            self.field,
            self.event.as_deref().unwrap_or("-"),
            self.request_id.as_deref().unwrap_or(&at)
        );
        Record::new(key, KIND_GROUP, data).occurred_at(self.timestamp)
    }
}
