//! Calling: calls connecting and ending (`calls` changes), and call statuses.
//!
//! A user's answer to a call-permission request is a message (`interactive` of type
//! `call_permission_reply`), read like every other message.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::business::with_time;
use super::model::{rfc3339, Contact, ErrorDetail};
use crate::Record;

/// Record kind of a call connecting or ending (`value.calls[]`).
pub const KIND_CALL: &str = "whatsapp.call";
/// Record kind of a call's status (`value.statuses[]` of type `call`: `RINGING`,
/// `ACCEPTED`, `REJECTED`).
pub const KIND_CALL_STATUS: &str = "whatsapp.call_status";

/// A call connecting or ending (`value.calls[]` of a `calls` change).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CallEvent {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `value.metadata.phone_number_id`.
    pub phone_number_id: String,
    /// `value.metadata.display_phone_number`.
    pub display_phone_number: String,
    /// The call id (`wacid.…`).
    pub id: String,
    /// `event`: `connect` or `terminate` (others kept as received).
    pub event: String,
    /// `direction`: `USER_INITIATED` or `BUSINESS_INITIATED`.
    pub direction: Option<String>,
    /// `from`: the caller's number.
    pub from: Option<String>,
    /// `to`: the called number.
    pub to: Option<String>,
    /// `timestamp`.
    pub timestamp: DateTime<Utc>,
    /// `status` of an ended call (`COMPLETED`, `FAILED`).
    pub status: Option<String>,
    /// `start_time` of an ended call.
    pub start_time: Option<DateTime<Utc>>,
    /// `end_time` of an ended call.
    pub end_time: Option<DateTime<Utc>>,
    /// `duration` of an ended call, in seconds.
    pub duration_secs: Option<u64>,
    /// `biz_opaque_callback_data` of a call the business placed.
    pub biz_opaque_callback_data: Option<String>,
    /// The matching `value.contacts[]` entry.
    pub contact: Option<Contact>,
    /// `value.errors[]` of the change (a failed call says why here).
    pub errors: Vec<ErrorDetail>,
    /// The call object as received (its `session` SDP included).
    pub raw: Value,
}

impl CallEvent {
    /// The record: kind `whatsapp.call`, key `<call id>:<event>`; data `waba_id`,
    /// `phone_number_id`, `display_phone_number`, `id`, `event`, `direction`, `from`,
    /// `to`, `timestamp`, `status`, `start_time`, `end_time`, `duration_secs`,
    /// `biz_opaque_callback_data`, `contact_name`, `errors`, `raw`.
    pub fn to_record(&self) -> Record {
        let data = json!({
            "waba_id": self.waba_id,
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "id": self.id,
            "event": self.event,
            "direction": self.direction,
            "from": self.from,
            "to": self.to,
            "timestamp": rfc3339(self.timestamp),
            "status": self.status,
            "start_time": self.start_time.map(rfc3339),
            "end_time": self.end_time.map(rfc3339),
            "duration_secs": self.duration_secs,
            "biz_opaque_callback_data": self.biz_opaque_callback_data,
            "contact_name": self.contact.as_ref().and_then(|c| c.name.clone()),
            "errors": self.errors,
            "raw": self.raw,
        });
        Record::new(format!("{}:{}", self.id, self.event), KIND_CALL, data)
            .occurred_at(self.timestamp)
    }
}

/// A call's status (`value.statuses[]` with `type: "call"` in a `calls` change).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CallStatus {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `value.metadata.phone_number_id`.
    pub phone_number_id: String,
    /// The call id (`wacid.…`).
    pub id: String,
    /// `status`: `RINGING`, `ACCEPTED`, `REJECTED` (others kept as received).
    pub status: String,
    /// `timestamp`.
    pub timestamp: DateTime<Utc>,
    /// `recipient_id`.
    pub recipient_id: Option<String>,
    /// `biz_opaque_callback_data`.
    pub biz_opaque_callback_data: Option<String>,
    /// The status object as received.
    pub raw: Value,
}

impl CallStatus {
    /// The record: kind `whatsapp.call_status`, key `<call id>:<status, lower case>`;
    /// data `waba_id`, `phone_number_id`, `id`, `status`, `timestamp`, `recipient_id`,
    /// `biz_opaque_callback_data`, `raw`.
    pub fn to_record(&self) -> Record {
        let data = json!({
            "waba_id": self.waba_id,
            "phone_number_id": self.phone_number_id,
            "id": self.id,
            "status": self.status,
            "timestamp": rfc3339(self.timestamp),
            "recipient_id": self.recipient_id,
            "biz_opaque_callback_data": self.biz_opaque_callback_data,
            "raw": self.raw,
        });
        let key = format!("{}:{}", self.id, self.status.to_ascii_lowercase());
        with_time(
            Record::new(key, KIND_CALL_STATUS, data),
            Some(self.timestamp),
        )
    }
}
