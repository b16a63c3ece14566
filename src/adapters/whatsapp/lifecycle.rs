//! What Meta said about templates and users, remembered so sends that Meta would refuse
//! are refused first.
//!
//! Two scopes of the host's [`StateStore`](crate::StateStore), neither expiring:
//!
//! | scope | key | value |
//! |---|---|---|
//! | `whatsapp.template` | `<waba_id>:<template name>:<language>` | `{"status", "reason", "category", "at"}` |
//! | `whatsapp.marketing` | `<phone_number_id>:<wa_id>` | `{"accepts", "value", "at"}` |
//!
//! [`remember`] fills them from the records of a [`WhatsAppWebhook`](super::webhook::WhatsAppWebhook)
//! (template status and category changes, users' marketing preferences, and the inbound
//! messages that open the 24-hour window); [`WhatsAppTarget`](super::WhatsAppTarget) also
//! corrects them from Meta's own refusals (132015 paused, 132016 disabled, 131050 stopped
//! marketing). Webhooks arrive out of order, so an entry only moves forward in time: an
//! older event never overwrites a newer one (compare-and-swap, so across workers too).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! use hubflow::{Context, ManualClock, MemoryStore, Record};
//! use hubflow::http::RecordingClient;
//! use hubflow::whatsapp::{remember, template_state};
//! use hubflow::whatsapp::webhook::TemplateStatus;
//! use serde_json::json;
//!
//! let at = "2026-03-02T12:00:00Z".parse().unwrap();
//! let ctx = Context::new(RecordingClient::new(), ManualClock::new(at), MemoryStore::new());
//! let paused = Record::new("k", "whatsapp.template_status", json!({
//!     "waba_id": "102290129340398", "name": "wo_assignment", "language": "pt_BR",
//!     "status": "PAUSED", "reason": "LOW_QUALITY", "category": "UTILITY",
//!     "at": "2026-03-02T11:00:00Z"}));
//! let remembered = remember(&ctx, &[paused]).await.unwrap();
//! assert_eq!(remembered.templates, 1);
//! let state = template_state(&ctx, "102290129340398", "wo_assignment", "pt_BR").await.unwrap().unwrap();
//! assert_eq!(state.status, Some(TemplateStatus::Paused));
//! assert_eq!(state.usable(), Some(false));
//! # });
//! ```

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::webhook::{
    TemplateStatus, KIND_TEMPLATE_CATEGORY, KIND_TEMPLATE_STATUS, KIND_USER_PREFERENCE,
    MARKETING_MESSAGES,
};
use super::window::instant;
use crate::store::update_state;
use crate::{Context, DeliveryError, Record, StateEntry, StoreError};

/// The state scope of templates' statuses.
pub const TEMPLATE_SCOPE: &str = "whatsapp.template";
/// The state scope of users' marketing preferences.
pub const MARKETING_SCOPE: &str = "whatsapp.marketing";

/// What is known of one template, in one language, of one WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TemplateState {
    /// The last status Meta reported, if one was (a category change alone says none).
    pub status: Option<TemplateStatus>,
    /// Meta's reason for it (`LOW_QUALITY`, `INVALID_FORMAT`, an error's message…).
    pub reason: Option<String>,
    /// The template's category as Meta last gave it (`MARKETING`, `UTILITY`,
    /// `AUTHENTICATION`).
    pub category: Option<String>,
    /// When Meta reported the last of these.
    pub at: DateTime<Utc>,
}

impl TemplateState {
    /// Whether it can be sent: [`TemplateStatus::usable`], `None` when no status is known.
    pub fn usable(&self) -> Option<bool> {
        self.status.as_ref().and_then(TemplateStatus::usable)
    }

    /// Whether its category is marketing (case-insensitively), when Meta said.
    pub fn is_marketing(&self) -> Option<bool> {
        self.category
            .as_deref()
            .map(|c| c.eq_ignore_ascii_case("marketing"))
    }

    fn from_value(value: &Value, key: &str) -> Result<Self, StoreError> {
        let text = |field: &str| value.get(field).and_then(Value::as_str).map(str::to_owned);
        Ok(TemplateState {
            status: text("status").map(|s| TemplateStatus::parse(&s)),
            reason: text("reason"),
            category: text("category"),
            at: instant(value, key)?,
        })
    }
}

/// A user's choice about marketing messages from one business number.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct MarketingChoice {
    /// Whether they accept marketing messages.
    pub accepts: bool,
    /// What they chose, as Meta spells it (`stop`, `resume`, `signup`), or the error that
    /// told (`131050`).
    pub value: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// What [`remember`] took in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Remembered {
    /// Inbound messages that opened a 24-hour window ([`remember_inbound`](super::remember_inbound)).
    pub windows: usize,
    /// Template status and category changes recorded.
    pub templates: usize,
    /// Marketing preferences recorded.
    pub preferences: usize,
}

/// Takes in every record of a webhook reply that tells something to remember: inbound
/// messages (the window), template status and category changes, and users' marketing
/// preferences. Other records are ignored, so the whole reply can be given. Call it before
/// handing the records to the flows.
pub async fn remember(ctx: &Context, records: &[Record]) -> Result<Remembered, StoreError> {
    let mut remembered = Remembered {
        windows: super::remember_inbound(ctx, records).await?,
        ..Remembered::default()
    };
    let text =
        |record: &Record, field: &str| record.get(field).and_then(Value::as_str).map(str::to_owned);
    for record in records {
        let at = record
            .get("at")
            .and_then(Value::as_str)
            .and_then(|at| at.parse().ok())
            .or(record.occurred_at)
            .unwrap_or_else(|| ctx.clock().now());
        match record.kind.as_str() {
            KIND_TEMPLATE_STATUS | KIND_TEMPLATE_CATEGORY => {
                let (Some(waba), Some(name), Some(language)) = (
                    text(record, "waba_id"),
                    text(record, "name"),
                    text(record, "language"),
                ) else {
                    continue;
                };
                let change = if record.kind == KIND_TEMPLATE_STATUS {
                    TemplateNote::Status {
                        status: text(record, "status").unwrap_or_default(),
                        reason: text(record, "reason"),
                        category: text(record, "category"),
                    }
                } else {
                    match text(record, "new").or_else(|| text(record, "correct")) {
                        Some(category) => TemplateNote::Category(category),
                        None => continue,
                    }
                };
                note_template(ctx, &waba, &name, &language, change, at).await?;
                remembered.templates += 1;
            }
            KIND_USER_PREFERENCE => {
                if text(record, "category").as_deref() != Some(MARKETING_MESSAGES) {
                    continue;
                }
                let (Some(number), Some(user), Some(value), Some(accepts)) = (
                    text(record, "phone_number_id").filter(|n| !n.is_empty()),
                    text(record, "wa_id"),
                    text(record, "value"),
                    record.get("accepts").and_then(Value::as_bool),
                ) else {
                    continue;
                };
                note_marketing(ctx, &number, &user, accepts, &value, at).await?;
                remembered.preferences += 1;
            }
            _ => {}
        }
    }
    Ok(remembered)
}

/// What is known of `name` in `language` in the account `waba_id`; `None` when Meta has
/// said nothing of it yet.
pub async fn template_state(
    ctx: &Context,
    waba_id: &str,
    name: &str,
    language: &str,
) -> Result<Option<TemplateState>, StoreError> {
    let key = template_key(waba_id, name, language);
    match ctx
        .state()
        .get_state(TEMPLATE_SCOPE, &key, ctx.clock().now())
        .await?
    {
        Some(entry) => TemplateState::from_value(&entry.value, &key).map(Some),
        None => Ok(None),
    }
}

/// The marketing choice of `wa_id` about the number `phone_number_id`; `None` when they
/// made none that hubflow heard of.
pub async fn marketing_choice(
    ctx: &Context,
    phone_number_id: &str,
    wa_id: &str,
) -> Result<Option<MarketingChoice>, StoreError> {
    let key = marketing_key(phone_number_id, wa_id);
    let Some(entry) = ctx
        .state()
        .get_state(MARKETING_SCOPE, &key, ctx.clock().now())
        .await?
    else {
        return Ok(None);
    };
    let value = &entry.value;
    let accepts = value
        .get("accepts")
        .and_then(Value::as_bool)
        .ok_or_else(|| {
            StoreError::corrupt(format!("the marketing choice `{key}` holds no `accepts`"))
        })?;
    Ok(Some(MarketingChoice {
        accepts,
        value: value
            .get("value")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        at: instant(value, &key)?,
    }))
}

/// A template change to note.
pub(super) enum TemplateNote {
    /// A status (with its reason and category, if given).
    Status {
        status: String,
        reason: Option<String>,
        category: Option<String>,
    },
    /// A new category; the status is kept.
    Category(String),
}

/// Notes a template change that happened at `at`, unless a newer one is noted.
pub(super) async fn note_template(
    ctx: &Context,
    waba_id: &str,
    name: &str,
    language: &str,
    change: TemplateNote,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let key = template_key(waba_id, name, language);
    update_state(ctx.state(), TEMPLATE_SCOPE, &key, ctx.clock().now(), |current| {
        let known = match current {
            Some(entry) => Some(TemplateState::from_value(&entry.value, &key)?),
            None => None,
        };
        if known.as_ref().is_some_and(|known| known.at > at) {
            return Ok(None);
        }
        let mut value = json!({
            "status": known.as_ref().and_then(|k| k.status.as_ref()).map(TemplateStatus::as_str),
            "reason": known.as_ref().and_then(|k| k.reason.clone()),
            "category": known.as_ref().and_then(|k| k.category.clone()),
            "at": at.to_rfc3339(),
        });
        match &change {
            TemplateNote::Status {
                status,
                reason,
                category,
            } => {
                value["status"] = json!(status);
                value["reason"] = json!(reason);
                if category.is_some() {
                    value["category"] = json!(category);
                }
            }
            TemplateNote::Category(category) => value["category"] = json!(category),
        }
        Ok(Some(StateEntry::new(value)))
    })
    .await?;
    Ok(())
}

/// Notes a marketing choice made at `at`, unless a newer one is noted.
pub(super) async fn note_marketing(
    ctx: &Context,
    phone_number_id: &str,
    wa_id: &str,
    accepts: bool,
    value: &str,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let key = marketing_key(phone_number_id, wa_id);
    let entry = StateEntry::new(json!({"accepts": accepts, "value": value, "at": at.to_rfc3339()}));
    update_state(
        ctx.state(),
        MARKETING_SCOPE,
        &key,
        ctx.clock().now(),
        |current| {
            if let Some(current) = current {
                if instant(&current.value, &key)? > at {
                    return Ok(None);
                }
            }
            Ok(Some(entry.clone()))
        },
    )
    .await?;
    Ok(())
}

/// The checks before a template is sent, made when it is delivered (from the state
/// store, so what a webhook said a moment ago counts):
///
/// * with the connection's
///   [`business_account`](super::WhatsAppConnection::business_account), a template Meta
///   reported paused, disabled, rejected (any status whose
///   [`usable`](TemplateStatus::usable) is `Some(false)`) is refused, naming its status
///   and Meta's reason, until Meta approves it again;
/// * a marketing template (by Meta's category, else the target's
///   [`template_category`](super::WhatsAppTarget::template_category)) to a user who
///   stopped marketing messages is refused, naming the opt-out.
///
/// Both refusals are [`DeliveryError::Precondition`](crate::DeliveryError::Precondition)s:
/// permanent, and nothing is sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TemplateCheck {
    /// The WhatsApp Business Account whose template states are read, if known.
    pub waba_id: Option<String>,
    /// The template's name.
    pub name: String,
    /// The template's language code.
    pub language: String,
    /// The category the target was told, if any.
    pub category: Option<String>,
    /// The business number it is sent from.
    pub phone_number_id: String,
    /// The recipient.
    pub customer: String,
}

impl TemplateCheck {
    /// Refuses the send when Meta said the template cannot be used, or when this is a
    /// marketing template and the user stopped marketing messages.
    pub(super) async fn verify(&self, ctx: &Context) -> Result<(), DeliveryError> {
        let state = match &self.waba_id {
            Some(waba) => template_state(ctx, waba, &self.name, &self.language).await?,
            None => None,
        };
        if let Some(state) = &state {
            if state.usable() == Some(false) {
                let status = state
                    .status
                    .as_ref()
                    .map_or("unusable", TemplateStatus::as_str);
                let reason = state.reason.as_deref().unwrap_or("no reason given");
                return Err(DeliveryError::Precondition(format!(
                    "template `{}` ({}) is {status} at Meta since {} (reason: {reason}), so it is not sent; \
                     sends resume when Meta approves it again",
                    self.name, self.language, state.at
                )));
            }
        }
        let marketing = state
            .as_ref()
            .and_then(TemplateState::is_marketing)
            .or_else(|| {
                self.category
                    .as_deref()
                    .map(|c| c.eq_ignore_ascii_case("marketing"))
            })
            .unwrap_or(false);
        if marketing {
            let choice = marketing_choice(ctx, &self.phone_number_id, &self.customer).await?;
            if let Some(choice) = choice.filter(|c| !c.accepts) {
                return Err(DeliveryError::Precondition(format!(
                    "the customer opted out of marketing messages ({} at {}), so the marketing template `{}` is not sent; \
                     utility and authentication templates still go",
                    choice.value, choice.at, self.name
                )));
            }
        }
        Ok(())
    }
}

fn template_key(waba_id: &str, name: &str, language: &str) -> String {
    format!("{waba_id}:{name}:{language}")
}

fn marketing_key(phone_number_id: &str, wa_id: &str) -> String {
    format!("{phone_number_id}:{wa_id}")
}

#[cfg(test)]
mod tests;
