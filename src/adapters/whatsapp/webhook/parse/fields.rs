//! Reading the change fields other than `messages`.
//!
//! Each reader checks the types of the fields its event exposes, naming the JSON pointer
//! of a wrong one, and keeps the rest of the value in `raw`. A `metadata` object is read
//! when present; only `messages` changes require one.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::super::business::{
    AccountUpdate, BanInfo, PhoneNumberUpdate, PreferenceValue, Restriction, TemplateChange,
    TemplateStatus, TemplateUpdate, UserPreference,
};
use super::super::calls::{CallEvent, CallStatus};
use super::super::groups::GroupEvent;
use super::super::model::{UnsupportedChange, WebhookEvent};
use super::super::sync::{ContactSync, HistoryChunk, HistoryThread};
use super::super::WebhookError;
use super::{
    child, matching_contact, object, optional_array, optional_id, optional_object, optional_str,
    optional_timestamp, optional_u64, read_contact, read_error, read_errors, read_message,
    required_id, required_str, required_timestamp, ChangeContext, Object,
};
use crate::adapters::whatsapp::webhook::model::SystemError;

/// A change being read: where it came from and its `value`.
pub(super) struct Change<'a> {
    pub(super) waba_id: &'a str,
    /// The entry's `time`.
    pub(super) time: Option<DateTime<Utc>>,
    pub(super) field: &'a str,
    pub(super) value: &'a Object,
    /// The JSON pointer of `value`.
    pub(super) path: &'a str,
}

impl Change<'_> {
    fn at(&self, key: &str) -> String {
        child(self.path, key)
    }

    /// The business number from `metadata`, when the value has one.
    fn number(&self) -> Result<ChangeContext, WebhookError> {
        let mut cx = ChangeContext {
            waba_id: self.waba_id.to_owned(),
            phone_number_id: String::new(),
            display_phone_number: String::new(),
        };
        if let Some(metadata) = optional_object(self.value, "metadata", self.path)? {
            let path = self.at("metadata");
            cx.phone_number_id =
                optional_id(metadata, "phone_number_id", &path)?.unwrap_or_default();
            cx.display_phone_number =
                optional_id(metadata, "display_phone_number", &path)?.unwrap_or_default();
        }
        Ok(cx)
    }

    fn contacts(&self) -> Result<Vec<super::Contact>, WebhookError> {
        let path = self.at("contacts");
        optional_array(self.value, "contacts", self.path)?
            .iter()
            .enumerate()
            .map(|(i, c)| read_contact(c, &format!("{path}/{i}")))
            .collect()
    }

    /// The items of the array `key`, each with its pointer.
    fn items(&self, key: &str) -> Result<Vec<(&Value, String)>, WebhookError> {
        let path = self.at(key);
        Ok(optional_array(self.value, key, self.path)?
            .iter()
            .enumerate()
            .map(|(i, item)| (item, format!("{path}/{i}")))
            .collect())
    }

    /// `value.errors[]` as system errors of the change's number.
    fn system_errors(
        &self,
        cx: &ChangeContext,
        events: &mut Vec<WebhookEvent>,
    ) -> Result<(), WebhookError> {
        for (error, path) in self.items("errors")? {
            events.push(WebhookEvent::Error(SystemError {
                waba_id: cx.waba_id.clone(),
                phone_number_id: cx.phone_number_id.clone(),
                display_phone_number: cx.display_phone_number.clone(),
                error: read_error(error, &path)?,
                raw: super::RawJson::from_value(error),
            }));
        }
        Ok(())
    }
}

/// `smb_message_echoes`: `value.message_echoes[]`, read like messages.
pub(super) fn echoes(
    change: &Change<'_>,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let cx = change.number()?;
    let contacts = change.contacts()?;
    for (item, path) in change.items("message_echoes")? {
        let mut message = read_message(&cx, &[], item, &path)?;
        let echo = object(item, &path)?;
        message.to = optional_id(echo, "to", &path)?;
        message.to_user_id = optional_str(echo, "to_user_id", &path)?;
        message.contact = if contacts.is_empty() {
            None
        } else {
            matching_contact(
                &contacts,
                message.to.as_deref().unwrap_or(""),
                message.to_user_id.as_deref(),
            )
        };
        events.push(WebhookEvent::Echo(message));
    }
    change.system_errors(&cx, events)
}

/// The four template fields.
pub(super) fn template(
    change: &Change<'_>,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let value = change.value;
    let path = change.path;
    let text = |key: &str| optional_str(value, key, path);
    let change_of = match change.field {
        "message_template_status_update" => {
            let (rejection_reason, recommendation) =
                match optional_object(value, "rejection_info", path)? {
                    Some(info) => {
                        let info_path = change.at("rejection_info");
                        (
                            optional_str(info, "reason", &info_path)?,
                            optional_str(info, "recommendation", &info_path)?,
                        )
                    }
                    None => (None, None),
                };
            TemplateChange::Status {
                status: TemplateStatus::parse(&required_str(value, "event", path)?),
                reason: text("reason")?,
                category: text("message_template_category")?,
                rejection_reason,
                recommendation,
            }
        }
        "message_template_quality_update" => TemplateChange::Quality {
            previous: text("previous_quality_score")?,
            new: required_str(value, "new_quality_score", path)?,
        },
        "message_template_components_update" => TemplateChange::Components {
            body: text("message_template_element")?,
            header: text("message_template_title")?,
            footer: text("message_template_footer")?,
            buttons: value
                .get("message_template_buttons")
                .cloned()
                .unwrap_or(Value::Null),
        },
        _ => TemplateChange::Category {
            previous: text("previous_category")?,
            new: text("new_category")?,
            correct: text("correct_category")?,
        },
    };
    events.push(WebhookEvent::Template(TemplateUpdate {
        waba_id: change.waba_id.to_owned(),
        template_id: required_id(value, "message_template_id", path)?,
        name: required_str(value, "message_template_name", path)?,
        language: required_str(value, "message_template_language", path)?,
        at: change.time,
        change: change_of,
        raw: Value::Object(value.clone()),
    }));
    Ok(())
}

/// `account_update` and the other account-level fields.
pub(super) fn account(
    change: &Change<'_>,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let value = change.value;
    let path = change.path;
    let event = match optional_str(value, "event", path)? {
        Some(event) => Some(event),
        None => match optional_str(value, "decision", path)? {
            Some(decision) => Some(decision),
            None => optional_str(value, "alert_type", path)?,
        },
    };
    let ban = match optional_object(value, "ban_info", path)? {
        Some(ban) => {
            let ban_path = change.at("ban_info");
            Some(BanInfo {
                state: required_str(ban, "waba_ban_state", &ban_path)?,
                date: optional_str(ban, "waba_ban_date", &ban_path)?,
            })
        }
        None => None,
    };
    let restrictions = change
        .items("restriction_info")?
        .into_iter()
        .map(|(item, path)| {
            let restriction = object(item, &path)?;
            Ok(Restriction {
                kind: required_str(restriction, "restriction_type", &path)?,
                expiration: optional_timestamp(restriction, "expiration", &path)?,
            })
        })
        .collect::<Result<Vec<_>, WebhookError>>()?;
    let violation = match optional_object(value, "violation_info", path)? {
        Some(info) => optional_str(info, "violation_type", &change.at("violation_info"))?,
        None => None,
    };
    events.push(WebhookEvent::Account(AccountUpdate {
        waba_id: change.waba_id.to_owned(),
        field: change.field.to_owned(),
        event,
        at: change.time,
        ban,
        restrictions,
        violation,
        raw: Value::Object(value.clone()),
    }));
    Ok(())
}

/// `phone_number_name_update` and `phone_number_quality_update`.
pub(super) fn phone_number(
    change: &Change<'_>,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let value = change.value;
    let path = change.path;
    let event = match optional_str(value, "event", path)? {
        Some(event) => Some(event),
        None => optional_str(value, "decision", path)?,
    };
    events.push(WebhookEvent::PhoneNumber(PhoneNumberUpdate {
        waba_id: change.waba_id.to_owned(),
        field: change.field.to_owned(),
        display_phone_number: optional_id(value, "display_phone_number", path)?,
        event,
        current_limit: optional_str(value, "current_limit", path)?,
        requested_name: optional_str(value, "requested_verified_name", path)?,
        rejection_reason: optional_str(value, "rejection_reason", path)?,
        at: change.time,
        raw: Value::Object(value.clone()),
    }));
    Ok(())
}

/// `user_preferences`: `value.user_preferences[]`.
pub(super) fn user_preferences(
    change: &Change<'_>,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let cx = change.number()?;
    for (item, path) in change.items("user_preferences")? {
        let preference = object(item, &path)?;
        events.push(WebhookEvent::UserPreference(UserPreference {
            waba_id: cx.waba_id.clone(),
            phone_number_id: cx.phone_number_id.clone(),
            display_phone_number: cx.display_phone_number.clone(),
            wa_id: required_id(preference, "wa_id", &path)?,
            user_id: optional_str(preference, "user_id", &path)?,
            category: required_str(preference, "category", &path)?,
            value: PreferenceValue::parse(&required_str(preference, "value", &path)?),
            detail: optional_str(preference, "detail", &path)?,
            timestamp: required_timestamp(preference, "timestamp", &path)?,
            raw: item.clone(),
        }));
    }
    change.system_errors(&cx, events)
}

/// `calls`: `value.calls[]` and `value.statuses[]`; the change's `errors[]` belong to its
/// calls, or are system errors when it has none.
pub(super) fn calls(
    change: &Change<'_>,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let cx = change.number()?;
    let contacts = change.contacts()?;
    let errors = read_errors(change.value, change.path)?;
    let calls = change.items("calls")?;
    let has_calls = !calls.is_empty();
    for (item, path) in calls {
        let call = object(item, &path)?;
        let from = optional_id(call, "from", &path)?;
        let to = optional_id(call, "to", &path)?;
        let direction = optional_str(call, "direction", &path)?;
        // The user is the caller unless the business placed the call.
        let user = if direction.as_deref() == Some("BUSINESS_INITIATED") {
            to.as_deref()
        } else {
            from.as_deref()
        };
        let contact = if contacts.is_empty() {
            None
        } else {
            matching_contact(&contacts, user.unwrap_or(""), None)
        };
        events.push(WebhookEvent::Call(CallEvent {
            waba_id: cx.waba_id.clone(),
            phone_number_id: cx.phone_number_id.clone(),
            display_phone_number: cx.display_phone_number.clone(),
            id: required_str(call, "id", &path)?,
            event: required_str(call, "event", &path)?,
            direction,
            from,
            to,
            timestamp: required_timestamp(call, "timestamp", &path)?,
            status: optional_str(call, "status", &path)?,
            start_time: optional_timestamp(call, "start_time", &path)?,
            end_time: optional_timestamp(call, "end_time", &path)?,
            duration_secs: optional_u64(call, "duration", &path)?,
            biz_opaque_callback_data: optional_str(call, "biz_opaque_callback_data", &path)?,
            contact,
            errors: errors.clone(),
            raw: item.clone(),
        }));
    }
    for (item, path) in change.items("statuses")? {
        let status = object(item, &path)?;
        events.push(WebhookEvent::CallStatus(CallStatus {
            waba_id: cx.waba_id.clone(),
            phone_number_id: cx.phone_number_id.clone(),
            id: required_str(status, "id", &path)?,
            status: required_str(status, "status", &path)?,
            timestamp: required_timestamp(status, "timestamp", &path)?,
            recipient_id: optional_id(status, "recipient_id", &path)?,
            biz_opaque_callback_data: optional_str(status, "biz_opaque_callback_data", &path)?,
            raw: item.clone(),
        }));
    }
    if has_calls {
        Ok(())
    } else {
        change.system_errors(&cx, events)
    }
}

/// The `wa_id`s (else the `input`s) of a participants array.
fn participants(parent: &Object, key: &str, path: &str) -> Result<Vec<String>, WebhookError> {
    let list_path = child(path, key);
    optional_array(parent, key, path)?
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("{list_path}/{i}");
            let participant = object(item, &path)?;
            Ok(optional_id(participant, "wa_id", &path)?
                .or(optional_id(participant, "input", &path)?)
                .unwrap_or_default())
        })
        .collect()
}

/// The four group fields: `value.groups[]`.
pub(super) fn groups(
    change: &Change<'_>,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let cx = change.number()?;
    for (item, path) in change.items("groups")? {
        let group = object(item, &path)?;
        events.push(WebhookEvent::Group(GroupEvent {
            waba_id: cx.waba_id.clone(),
            phone_number_id: cx.phone_number_id.clone(),
            display_phone_number: cx.display_phone_number.clone(),
            field: change.field.to_owned(),
            group_id: required_str(group, "group_id", &path)?,
            event: optional_str(group, "type", &path)?,
            timestamp: required_timestamp(group, "timestamp", &path)?,
            request_id: optional_str(group, "request_id", &path)?,
            subject: optional_str(group, "subject", &path)?,
            description: optional_str(group, "description", &path)?,
            added: participants(group, "added_participants", &path)?,
            removed: participants(group, "removed_participants", &path)?,
            errors: read_errors(group, &path)?,
            raw: super::RawJson::from_value(item),
        }));
    }
    change.system_errors(&cx, events)
}

/// `history`: `value.history[]`.
pub(super) fn history(
    change: &Change<'_>,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let cx = change.number()?;
    for (item, path) in change.items("history")? {
        let chunk = object(item, &path)?;
        let (phase, chunk_order, progress) = match optional_object(chunk, "metadata", &path)? {
            Some(metadata) => {
                let path = child(&path, "metadata");
                (
                    optional_u64(metadata, "phase", &path)?,
                    optional_u64(metadata, "chunk_order", &path)?,
                    optional_u64(metadata, "progress", &path)?,
                )
            }
            None => (None, None, None),
        };
        let threads_path = child(&path, "threads");
        let threads = optional_array(chunk, "threads", &path)?
            .iter()
            .enumerate()
            .map(|(i, thread)| {
                let path = format!("{threads_path}/{i}");
                let thread = object(thread, &path)?;
                Ok(HistoryThread {
                    id: required_id(thread, "id", &path)?,
                    messages: optional_array(thread, "messages", &path)?.to_vec(),
                })
            })
            .collect::<Result<Vec<_>, WebhookError>>()?;
        events.push(WebhookEvent::History(HistoryChunk {
            waba_id: cx.waba_id.clone(),
            phone_number_id: cx.phone_number_id.clone(),
            phase,
            chunk_order,
            progress,
            threads,
            errors: read_errors(chunk, &path)?,
            raw: item.clone(),
        }));
    }
    change.system_errors(&cx, events)
}

/// `smb_app_state_sync`: `value.state_sync[]`.
pub(super) fn contact_sync(
    change: &Change<'_>,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let cx = change.number()?;
    for (item, path) in change.items("state_sync")? {
        let sync = object(item, &path)?;
        let (full_name, first_name, phone_number) = match optional_object(sync, "contact", &path)? {
            Some(contact) => {
                let path = child(&path, "contact");
                (
                    optional_str(contact, "full_name", &path)?,
                    optional_str(contact, "first_name", &path)?,
                    optional_id(contact, "phone_number", &path)?,
                )
            }
            None => (None, None, None),
        };
        let timestamp = match optional_object(sync, "metadata", &path)? {
            Some(metadata) => optional_timestamp(metadata, "timestamp", &child(&path, "metadata"))?,
            None => None,
        };
        events.push(WebhookEvent::ContactSync(ContactSync {
            waba_id: cx.waba_id.clone(),
            phone_number_id: cx.phone_number_id.clone(),
            kind: optional_str(sync, "type", &path)?,
            action: optional_str(sync, "action", &path)?,
            full_name,
            first_name,
            phone_number,
            timestamp,
            raw: item.clone(),
        }));
    }
    change.system_errors(&cx, events)
}

/// Any other field: the change kept whole.
pub(super) fn unsupported(
    change: &Change<'_>,
    events: &mut Vec<WebhookEvent>,
) -> Result<(), WebhookError> {
    let cx = change.number()?;
    events.push(WebhookEvent::Unsupported(UnsupportedChange {
        waba_id: change.waba_id.to_owned(),
        field: change.field.to_owned(),
        phone_number_id: Some(cx.phone_number_id).filter(|id| !id.is_empty()),
        at: change.time,
        value: Value::Object(change.value.clone()),
    }));
    Ok(())
}
