//! Events about the business rather than one conversation: templates, the account, phone
//! numbers, and users' marketing preferences.
//!
//! None of these carries a message id, so each record key is built from what identifies
//! the event (the template, the account, the user) and when Meta says it happened; the
//! entry's `time` when the change has no timestamp of its own, and a hash of the value
//! when it has neither. A webhook resent by Meta gets the same key, so it is a duplicate.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use super::model::{rfc3339, short_hash};
use crate::record::merge_object;
use crate::Record;

/// Record kind of a template's status change (`message_template_status_update`).
pub const KIND_TEMPLATE_STATUS: &str = "whatsapp.template_status";
/// Record kind of a template's quality change (`message_template_quality_update`).
pub const KIND_TEMPLATE_QUALITY: &str = "whatsapp.template_quality";
/// Record kind of a template's edited components (`message_template_components_update`).
pub const KIND_TEMPLATE_COMPONENTS: &str = "whatsapp.template_components";
/// Record kind of a template's category change (`template_category_update`).
pub const KIND_TEMPLATE_CATEGORY: &str = "whatsapp.template_category";
/// Record kind of an account event (`account_update`, `account_review_update`,
/// `account_alerts`, `business_capability_update`, `security`, …).
pub const KIND_ACCOUNT: &str = "whatsapp.account";
/// Record kind of a phone number's name or quality change (`phone_number_name_update`,
/// `phone_number_quality_update`).
pub const KIND_PHONE_NUMBER: &str = "whatsapp.phone_number";
/// Record kind of a user's marketing preference (`user_preferences`).
pub const KIND_USER_PREFERENCE: &str = "whatsapp.user_preference";

/// A template's status (`event` of `message_template_status_update`). Open: a status this
/// crate does not know is kept as [`TemplateStatus::Other`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TemplateStatus {
    /// `APPROVED`: usable.
    Approved,
    /// `PENDING`: in review, not usable yet.
    Pending,
    /// `REJECTED`: refused in review (see the reason and `rejection_info`).
    Rejected,
    /// `FLAGGED`: low quality, at risk of being paused; still usable.
    Flagged,
    /// `PAUSED`: paused for low quality; not usable until unpaused.
    Paused,
    /// `DISABLED`: disabled for repeated low quality; not usable.
    Disabled,
    /// `IN_APPEAL`: a rejection under appeal; not usable.
    InAppeal,
    /// `REINSTATED`: usable again after a pause or appeal.
    Reinstated,
    /// `PENDING_DELETION`: being deleted; not usable.
    PendingDeletion,
    /// `DELETED`.
    Deleted,
    /// `ARCHIVED`: archived; not usable until unarchived.
    Archived,
    /// `LIMIT_EXCEEDED`: the account has more templates than allowed; not usable.
    LimitExceeded,
    /// Any other value, as received.
    Other(String),
}

impl TemplateStatus {
    /// Reads an `event` value (case-insensitively: Meta spells them in capitals).
    pub fn parse(name: &str) -> Self {
        match name.to_ascii_uppercase().as_str() {
            "APPROVED" => TemplateStatus::Approved,
            "PENDING" => TemplateStatus::Pending,
            "REJECTED" => TemplateStatus::Rejected,
            "FLAGGED" => TemplateStatus::Flagged,
            "PAUSED" => TemplateStatus::Paused,
            "DISABLED" => TemplateStatus::Disabled,
            "IN_APPEAL" => TemplateStatus::InAppeal,
            "REINSTATED" => TemplateStatus::Reinstated,
            "PENDING_DELETION" => TemplateStatus::PendingDeletion,
            "DELETED" => TemplateStatus::Deleted,
            "ARCHIVED" => TemplateStatus::Archived,
            "LIMIT_EXCEEDED" => TemplateStatus::LimitExceeded,
            _ => TemplateStatus::Other(name.to_owned()),
        }
    }

    /// The status as Meta spells it.
    pub fn as_str(&self) -> &str {
        match self {
            TemplateStatus::Approved => "APPROVED",
            TemplateStatus::Pending => "PENDING",
            TemplateStatus::Rejected => "REJECTED",
            TemplateStatus::Flagged => "FLAGGED",
            TemplateStatus::Paused => "PAUSED",
            TemplateStatus::Disabled => "DISABLED",
            TemplateStatus::InAppeal => "IN_APPEAL",
            TemplateStatus::Reinstated => "REINSTATED",
            TemplateStatus::PendingDeletion => "PENDING_DELETION",
            TemplateStatus::Deleted => "DELETED",
            TemplateStatus::Archived => "ARCHIVED",
            TemplateStatus::LimitExceeded => "LIMIT_EXCEEDED",
            TemplateStatus::Other(name) => name,
        }
    }

    /// Whether messages can be sent with a template in this status: `Some(true)` for
    /// approved, flagged and reinstated templates, `Some(false)` for the statuses Meta
    /// refuses sends in, `None` for a status this crate does not know (never guessed).
    ///
    /// ```
    /// use hubflow::whatsapp::webhook::TemplateStatus;
    ///
    /// assert_eq!(TemplateStatus::parse("PAUSED").usable(), Some(false));
    /// assert_eq!(TemplateStatus::parse("FLAGGED").usable(), Some(true));
    /// assert_eq!(TemplateStatus::parse("SOMETHING_NEW").usable(), None);
    /// ```
    pub fn usable(&self) -> Option<bool> {
        match self {
            TemplateStatus::Approved | TemplateStatus::Flagged | TemplateStatus::Reinstated => {
                Some(true)
            }
            TemplateStatus::Other(_) => None,
            _ => Some(false),
        }
    }
}

impl fmt::Display for TemplateStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for TemplateStatus {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// What changed about a template.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TemplateChange {
    /// `message_template_status_update`: reviewed, paused, disabled, flagged, approved again…
    Status {
        /// The new status (`event`).
        status: TemplateStatus,
        /// `reason` (`NONE`, `INVALID_FORMAT`, `ABUSIVE_CONTENT`, …).
        reason: Option<String>,
        /// `message_template_category` (`UTILITY`, `MARKETING`, `AUTHENTICATION`).
        category: Option<String>,
        /// `rejection_info.reason`: why a template was rejected, in words.
        rejection_reason: Option<String>,
        /// `rejection_info.recommendation`: what to change.
        recommendation: Option<String>,
    },
    /// `message_template_quality_update`.
    Quality {
        /// `previous_quality_score` (`GREEN`, `YELLOW`, `RED`, `UNKNOWN`).
        previous: Option<String>,
        /// `new_quality_score`.
        new: String,
    },
    /// `message_template_components_update`: the template was edited.
    Components {
        /// `message_template_element`: the body text.
        body: Option<String>,
        /// `message_template_title`: the header text.
        header: Option<String>,
        /// `message_template_footer`.
        footer: Option<String>,
        /// `message_template_buttons`, as received.
        buttons: Value,
    },
    /// `template_category_update`: Meta changed (or will change) the template's category.
    Category {
        /// `previous_category`.
        previous: Option<String>,
        /// `new_category`.
        new: Option<String>,
        /// `correct_category`: the category Meta will move the template to.
        correct: Option<String>,
    },
}

/// A template event: one change of the WhatsApp Business Account's template `name` in
/// `language`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TemplateUpdate {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `message_template_id`.
    pub template_id: String,
    /// `message_template_name`.
    pub name: String,
    /// `message_template_language` (`en_US`, `pt_BR`).
    pub language: String,
    /// When Meta reported it (`entry[].time`), if it said.
    pub at: Option<DateTime<Utc>>,
    /// What changed.
    pub change: TemplateChange,
    /// The change's `value` as received.
    pub raw: Value,
}

impl TemplateUpdate {
    /// The record kind of this change.
    pub fn kind(&self) -> &'static str {
        match self.change {
            TemplateChange::Status { .. } => KIND_TEMPLATE_STATUS,
            TemplateChange::Quality { .. } => KIND_TEMPLATE_QUALITY,
            TemplateChange::Components { .. } => KIND_TEMPLATE_COMPONENTS,
            TemplateChange::Category { .. } => KIND_TEMPLATE_CATEGORY,
        }
    }

    /// The record: kind by change, key
    /// `whatsapp:template:<waba_id>:<template_id>:<change>:<what>:<when>`; data `waba_id`,
    /// `template_id`, `name`, `language`, `at`, `raw`, and by change: `status`, `usable`,
    /// `reason`, `category`, `rejection_reason`, `recommendation` (status); `previous`,
    /// `new` (quality); `body`, `header`, `footer`, `buttons` (components); `previous`,
    /// `new`, `correct` (category).
    pub fn to_record(&self) -> Record {
        let mut data = json!({
            "waba_id": self.waba_id,
            "template_id": self.template_id,
            "name": self.name,
            "language": self.language,
            "at": self.at.map(rfc3339),
            "raw": self.raw,
        });
        let (change, what) = match &self.change {
            TemplateChange::Status {
                status,
                reason,
                category,
                rejection_reason,
                recommendation,
            } => {
                merge_object(
                    &mut data,
                    json!({
                        "status": status.as_str(),
                        "usable": status.usable(),
                        "reason": reason,
                        "category": category,
                        "rejection_reason": rejection_reason,
                        "recommendation": recommendation,
                    }),
                );
                ("status", status.as_str().to_owned())
            }
            TemplateChange::Quality { previous, new } => {
                merge_object(&mut data, json!({"previous": previous, "new": new}));
                ("quality", new.clone())
            }
            TemplateChange::Components {
                body,
                header,
                footer,
                buttons,
            } => {
                merge_object(
                    &mut data,
                    json!({"body": body, "header": header, "footer": footer, "buttons": buttons}),
                );
                ("components", short_hash(&self.raw))
            }
            TemplateChange::Category {
                previous,
                new,
                correct,
            } => {
                merge_object(
                    &mut data,
                    json!({"previous": previous, "new": new, "correct": correct}),
                );
                let to = new.as_deref().or(correct.as_deref()).unwrap_or("-");
                ("category", to.to_owned())
            }
        };
        let key = format!(
            "whatsapp:template:{}:{}:{change}:{what}:{}",
            self.waba_id,
            self.template_id,
            when(self.at, &self.raw)
        );
        with_time(Record::new(key, self.kind(), data), self.at)
    }
}

/// An account's ban state (`ban_info` of a `DISABLED_UPDATE`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct BanInfo {
    /// `waba_ban_state` (`DISABLE`, `REINSTATE`, `SCHEDULE_FOR_DISABLE`).
    pub state: String,
    /// `waba_ban_date`, as Meta writes it (`April 17, 2025`).
    pub date: Option<String>,
}

/// A restriction on the account (`restriction_info[]` of an `ACCOUNT_RESTRICTION`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Restriction {
    /// `restriction_type` (`RESTRICTED_BIZ_INITIATED_MESSAGING`,
    /// `RESTRICTED_ADD_PHONE_NUMBER_ACTION`, `RESTRICTED_CUSTOMER_INITIATED_MESSAGING`).
    pub kind: String,
    /// `expiration`: when it ends.
    pub expiration: Option<DateTime<Utc>>,
}

/// An account event: `account_update` (bans, restrictions, violations, partner and
/// verification events, pricing tiers…) and the other account-level fields
/// (`account_review_update`, `account_alerts`, `business_capability_update`, `security`,
/// `business_status_update`, `partner_solutions`, `payment_configuration_update`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AccountUpdate {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// The change's `field`.
    pub field: String,
    /// What happened: `value.event` (`ACCOUNT_RESTRICTION`, `DISABLED_UPDATE`,
    /// `PARTNER_ADDED`…), or for `account_review_update` the `decision`, for
    /// `account_alerts` the `alert_type`; `None` when the value names none.
    pub event: Option<String>,
    /// When Meta reported it (`entry[].time`), if it said.
    pub at: Option<DateTime<Utc>>,
    /// `ban_info`.
    pub ban: Option<BanInfo>,
    /// `restriction_info[]`.
    pub restrictions: Vec<Restriction>,
    /// `violation_info.violation_type`.
    pub violation: Option<String>,
    /// The change's `value` as received: everything else (`waba_info`,
    /// `volume_tier_info`, `partner_client_certification_info`…) is here.
    pub raw: Value,
}

impl AccountUpdate {
    /// The record: kind `whatsapp.account`, key
    /// `whatsapp:account:<waba_id>:<field>:<event>:<when>`; data `waba_id`, `field`,
    /// `event`, `at`, `ban` (`{"state", "date"}`), `restrictions` (`[{"kind",
    /// "expiration"}]`), `violation`, `raw`.
    pub fn to_record(&self) -> Record {
        let data = json!({
            "waba_id": self.waba_id,
            "field": self.field,
            "event": self.event,
            "at": self.at.map(rfc3339),
            "ban": self.ban,
            "restrictions": self.restrictions,
            "violation": self.violation,
            "raw": self.raw,
        });
        let key = format!(
            "whatsapp:account:{}:{}:{}:{}",
            self.waba_id,
            self.field,
            self.event.as_deref().unwrap_or("-"),
            hashed_when(self.at, &self.raw)
        );
        with_time(Record::new(key, KIND_ACCOUNT, data), self.at)
    }
}

/// A business phone number's display-name review (`phone_number_name_update`) or quality
/// and messaging-limit change (`phone_number_quality_update`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct PhoneNumberUpdate {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// The change's `field`.
    pub field: String,
    /// `display_phone_number`.
    pub display_phone_number: Option<String>,
    /// What happened: the quality `event` (`FLAGGED`, `UNFLAGGED`, `UPGRADE`,
    /// `DOWNGRADE`, `ONBOARDING`) or the name review's `decision` (`APPROVED`,
    /// `REJECTED`, `DEFERRED`).
    pub event: Option<String>,
    /// `current_limit` (`TIER_1K`, `TIER_10K`, `TIER_UNLIMITED`…).
    pub current_limit: Option<String>,
    /// `requested_verified_name`.
    pub requested_name: Option<String>,
    /// `rejection_reason`.
    pub rejection_reason: Option<String>,
    /// When Meta reported it (`entry[].time`), if it said.
    pub at: Option<DateTime<Utc>>,
    /// The change's `value` as received.
    pub raw: Value,
}

impl PhoneNumberUpdate {
    /// The record: kind `whatsapp.phone_number`, key
    /// `whatsapp:phone_number:<display_phone_number>:<field>:<event>:<when>`; data
    /// `waba_id`, `field`, `display_phone_number`, `event`, `current_limit`,
    /// `requested_name`, `rejection_reason`, `at`, `raw`.
    pub fn to_record(&self) -> Record {
        let data = json!({
            "waba_id": self.waba_id,
            "field": self.field,
            "display_phone_number": self.display_phone_number,
            "event": self.event,
            "current_limit": self.current_limit,
            "requested_name": self.requested_name,
            "rejection_reason": self.rejection_reason,
            "at": self.at.map(rfc3339),
            "raw": self.raw,
        });
        let key = format!(
            "whatsapp:phone_number:{}:{}:{}:{}",
            self.display_phone_number
                .as_deref()
                .unwrap_or(&self.waba_id),
            self.field,
            self.event.as_deref().unwrap_or("-"),
            hashed_when(self.at, &self.raw)
        );
        with_time(Record::new(key, KIND_PHONE_NUMBER, data), self.at)
    }
}

/// What a user chose about a category of messages (`user_preferences[].value`). Open.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PreferenceValue {
    /// `stop`: the user stopped the category (for marketing: no marketing templates).
    Stop,
    /// `resume`: the user resumed it.
    Resume,
    /// `signup`: the user signed up (through a sign-up link).
    Signup,
    /// Any other value, as received.
    Other(String),
}

impl PreferenceValue {
    /// Reads a `value`.
    pub fn parse(name: &str) -> Self {
        match name {
            "stop" => PreferenceValue::Stop,
            "resume" => PreferenceValue::Resume,
            "signup" => PreferenceValue::Signup,
            other => PreferenceValue::Other(other.to_owned()),
        }
    }

    /// The value as Meta spells it.
    pub fn as_str(&self) -> &str {
        match self {
            PreferenceValue::Stop => "stop",
            PreferenceValue::Resume => "resume",
            PreferenceValue::Signup => "signup",
            PreferenceValue::Other(name) => name,
        }
    }

    /// Whether the user now accepts the category: `Some(false)` after a stop,
    /// `Some(true)` after a resume or sign-up, `None` for a value this crate does not know.
    pub fn accepts(&self) -> Option<bool> {
        match self {
            PreferenceValue::Stop => Some(false),
            PreferenceValue::Resume | PreferenceValue::Signup => Some(true),
            PreferenceValue::Other(_) => None,
        }
    }
}

impl fmt::Display for PreferenceValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for PreferenceValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// The category a marketing preference is about.
pub const MARKETING_MESSAGES: &str = "marketing_messages";

/// A user's preference (`value.user_preferences[]`): today, stopping or resuming
/// marketing messages.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct UserPreference {
    /// The WhatsApp Business Account id (`entry[].id`).
    pub waba_id: String,
    /// `value.metadata.phone_number_id`: the business number it is about (empty when the
    /// change had no metadata).
    pub phone_number_id: String,
    /// `value.metadata.display_phone_number`.
    pub display_phone_number: String,
    /// `wa_id`: the user's phone number, digits.
    pub wa_id: String,
    /// `user_id`: the user's business-scoped id, when given.
    pub user_id: Option<String>,
    /// `category` ([`MARKETING_MESSAGES`]).
    pub category: String,
    /// `value`.
    pub value: PreferenceValue,
    /// `detail`: Meta's sentence about it.
    pub detail: Option<String>,
    /// `timestamp`.
    pub timestamp: DateTime<Utc>,
    /// The preference object as received.
    pub raw: Value,
}

impl UserPreference {
    /// The record: kind `whatsapp.user_preference`, key
    /// `whatsapp:preference:<phone_number_id>:<wa_id>:<category>:<value>:<timestamp>`;
    /// data `waba_id`, `phone_number_id`, `display_phone_number`, `wa_id`, `user_id`,
    /// `category`, `value`, `accepts` (`false` after a stop, `true` after a resume or
    /// sign-up, `null` otherwise), `detail`, `timestamp`, `raw`.
    pub fn to_record(&self) -> Record {
        let data = json!({
            "waba_id": self.waba_id,
            "phone_number_id": self.phone_number_id,
            "display_phone_number": self.display_phone_number,
            "wa_id": self.wa_id,
            "user_id": self.user_id,
            "category": self.category,
            "value": self.value.as_str(),
            "accepts": self.value.accepts(),
            "detail": self.detail,
            "timestamp": rfc3339(self.timestamp),
            "raw": self.raw,
        });
        let key = format!(
            "whatsapp:preference:{}:{}:{}:{}:{}",
            self.phone_number_id,
            self.wa_id,
            self.category,
            self.value.as_str(),
            self.timestamp.timestamp()
        );
        Record::new(key, KIND_USER_PREFERENCE, data).occurred_at(self.timestamp)
    }
}

/// The key part saying when: the Unix seconds, else a hash of the value.
pub(super) fn when(at: Option<DateTime<Utc>>, raw: &Value) -> String {
    at.map_or_else(|| short_hash(raw), |at| at.timestamp().to_string())
}

/// The key part for events that may come twice in one second with different content: the
/// seconds (when known) and a hash of the value.
pub(super) fn hashed_when(at: Option<DateTime<Utc>>, raw: &Value) -> String {
    match at {
        Some(at) => format!("{}:{}", at.timestamp(), short_hash(raw)),
        None => short_hash(raw),
    }
}

pub(super) fn with_time(record: Record, at: Option<DateTime<Utc>>) -> Record {
    match at {
        Some(at) => record.occurred_at(at),
        None => record,
    }
}
