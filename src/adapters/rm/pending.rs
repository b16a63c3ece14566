//! Pending confirmations: which appointment each confirmation message asked about, kept in
//! the host's [`StateStore`](crate::StateStore) so that a reply can be matched to it later.

use chrono::{DateTime, Days, NaiveDate, NaiveTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::store::update_state;
use crate::{Context, StateEntry, StoreError};

/// How many confirmations one phone number may have pending for one day. More than this
/// are still sent; they are only not found by the phone fallback (which would call them
/// ambiguous anyway).
pub const MAX_PER_PHONE_AND_DAY: usize = 8;

/// A confirmation that was sent: the appointment it asked about and where it went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PendingConfirmation {
    /// The confirmation record's key (`rm:appt:<appointment_id>:<date>`).
    pub key: String,
    /// The ERP's appointment id.
    pub appointment_id: String,
    /// The appointment's local date.
    pub date: NaiveDate,
    /// When the appointment starts, when the ERP said.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// The number the confirmation went to, digits only.
    pub phone: String,
    /// The provider's id of the message sent (a WhatsApp wamid), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
}

impl PendingConfirmation {
    /// A pending confirmation for an appointment, sent to `phone` at `sent_at`.
    pub fn new(
        appointment_id: impl Into<String>,
        date: NaiveDate,
        phone: &str,
        sent_at: DateTime<Utc>,
    ) -> Self {
        let appointment_id = appointment_id.into();
        PendingConfirmation {
            key: appointment_key(&appointment_id, date),
            appointment_id,
            date,
            starts_at: None,
            phone: digits(phone),
            message_id: None,
            sent_at,
        }
    }

    /// Sets when the appointment starts.
    #[must_use]
    pub fn starts_at(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.starts_at = at;
        self
    }

    /// Sets the provider's message id.
    #[must_use]
    pub fn message_id(mut self, id: Option<String>) -> Self {
        self.message_id = id;
        self
    }

    /// Why a reply at `now` can no longer answer this confirmation, if it cannot: the
    /// appointment has started (or its day, in `zone`, is over), or the confirmation is
    /// older than `validity`.
    pub fn expired(
        &self,
        now: DateTime<Utc>,
        zone: chrono_tz::Tz,
        validity: std::time::Duration,
    ) -> Option<String> {
        if let Some(start) = self.starts_at.filter(|start| *start <= now) {
            return Some(format!(
                "appointment {} started at {}",
                self.appointment_id,
                start.with_timezone(&zone).format("%Y-%m-%d %H:%M %Z")
            ));
        }
        if self.date < now.with_timezone(&zone).date_naive() {
            return Some(format!(
                "appointment {} was on {}",
                self.appointment_id, self.date
            ));
        }
        if crate::clock::add(self.sent_at, validity) <= now {
            return Some(format!(
                "the confirmation for appointment {} was sent at {}, more than {} h ago",
                self.appointment_id,
                self.sent_at.format("%Y-%m-%d %H:%M UTC"),
                validity.as_secs() / 3600
            ));
        }
        None
    }
}

/// The key of an appointment's confirmation record: `rm:appt:<appointment_id>:<date>`.
///
/// ```
/// let date = "2026-03-03".parse().unwrap();
/// assert_eq!(hubflow::rm::appointment_key("A-17", date), "rm:appt:A-17:2026-03-03");
/// ```
pub fn appointment_key(appointment_id: &str, date: NaiveDate) -> String {
    format!("rm:appt:{appointment_id}:{date}")
}

/// The digits of a phone number.
pub(crate) fn digits(phone: &str) -> String {
    phone.chars().filter(char::is_ascii_digit).collect()
}

/// The form numbers are compared in: digits, and for Brazilian mobiles (`55`, a two-digit
/// area code, `9` and eight digits) without the ninth digit, because WhatsApp reports many
/// Brazilian numbers without it (`wa_id` `551199991234` for `+55 11 99999-1234`).
///
/// ```
/// use hubflow::rm::comparable_phone;
/// assert_eq!(comparable_phone("+55 (11) 99999-1234"), comparable_phone("551199991234"));
/// assert_ne!(comparable_phone("5511999991234"), comparable_phone("5511999991235"));
/// ```
pub fn comparable_phone(phone: &str) -> String {
    let digits = digits(phone);
    if digits.len() == 13 && digits.starts_with("55") && digits.as_bytes()[4] == b'9' {
        format!("{}{}", &digits[..4], &digits[5..])
    } else {
        digits
    }
}

/// How long entries are kept after their appointment's date: a week, so that a late
/// answer is reported as *expired* (a reply target looks a week back for a button without a
/// date) rather than *unmatched*, plus two days for time zones. The store drops them after.
const KEPT_DAYS_AFTER: u64 = 9;

/// The confirmations sent to one number for one day, oldest first.
type PhoneDay = Vec<PendingConfirmation>;

/// The pending confirmations of one scope, in the host's [`StateStore`](crate::StateStore).
///
/// Entries live in the state scope `rm.pending:<scope>`:
///
/// | key | value |
/// |---|---|
/// | `msg:<message id>` | the confirmation a message id belongs to (matches `context_id`) |
/// | `appt:<appointment_id>:<date>` | the confirmation of an appointment (matches button payloads) |
/// | `phone:<number>:<date>` | the confirmations sent to a number for a day, oldest first, at most [`MAX_PER_PHONE_AND_DAY`] (phone fallback) |
///
/// Each expires nine days after the appointment's date (00:00 UTC): a late answer within a
/// week is still reported as *expired* rather than *unmatched*, and the store forgets old
/// confirmations by itself. A newer send for the same message or
/// appointment replaces the entry; the per-number list is updated with compare-and-swap, so
/// two confirmations sent to one number at once are both kept. Reads are plain reads. The
/// scope (default `rm`) lets several clinics or ERPs share one store; the flow that sends
/// and the flow that routes replies must use the same one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingConfirmations {
    scope: String,
}

impl Default for PendingConfirmations {
    fn default() -> Self {
        PendingConfirmations::new("rm")
    }
}

impl PendingConfirmations {
    /// The confirmations of `scope`.
    pub fn new(scope: impl Into<String>) -> Self {
        PendingConfirmations {
            scope: scope.into(),
        }
    }

    /// The scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    fn namespace(&self) -> String {
        format!("rm.pending:{}", self.scope)
    }

    /// The namespace of the answers applied to appointments (`rm.answers:<scope>`), in the
    /// claims.
    pub(crate) fn answers_namespace(&self) -> String {
        format!("rm.answers:{}", self.scope)
    }

    /// Records a confirmation that was sent.
    pub async fn remember(
        &self,
        ctx: &Context,
        pending: &PendingConfirmation,
    ) -> Result<(), StoreError> {
        let ns = self.namespace();
        let entry = StateEntry::new(to_value(pending)?).expiry(expiry(pending.date));
        if let Some(id) = &pending.message_id {
            ctx.state()
                .put_state(&ns, &format!("msg:{id}"), &entry)
                .await?;
        }
        ctx.state()
            .put_state(
                &ns,
                &format!("appt:{}:{}", pending.appointment_id, pending.date),
                &entry,
            )
            .await?;
        let key = phone_key(&pending.phone, pending.date);
        update_state(ctx.state(), &ns, &key, ctx.clock().now(), |current| {
            let mut day = match current {
                Some(current) => from_value::<PhoneDay>(&current.value, &key)?,
                None => PhoneDay::new(),
            };
            // A resend for the same appointment takes its old place.
            if let Some(old) = day.iter_mut().find(|p| p.key == pending.key) {
                *old = pending.clone();
            } else if day.len() < MAX_PER_PHONE_AND_DAY {
                day.push(pending.clone());
            } else {
                return Ok(None);
            }
            Ok(Some(
                StateEntry::new(to_value(&day)?).expiry(expiry(pending.date)),
            ))
        })
        .await?;
        Ok(())
    }

    /// The confirmation sent as message `message_id`.
    pub async fn by_message(
        &self,
        ctx: &Context,
        message_id: &str,
    ) -> Result<Option<PendingConfirmation>, StoreError> {
        read(ctx, &self.namespace(), &format!("msg:{message_id}")).await
    }

    /// The confirmation of an appointment on a date.
    pub async fn by_appointment(
        &self,
        ctx: &Context,
        appointment_id: &str,
        date: NaiveDate,
    ) -> Result<Option<PendingConfirmation>, StoreError> {
        read(
            ctx,
            &self.namespace(),
            &format!("appt:{appointment_id}:{date}"),
        )
        .await
    }

    /// The confirmations sent to `phone` for appointments from `first` to `last` (inclusive).
    pub async fn by_phone(
        &self,
        ctx: &Context,
        phone: &str,
        first: NaiveDate,
        last: NaiveDate,
    ) -> Result<Vec<PendingConfirmation>, StoreError> {
        let ns = self.namespace();
        let mut found = Vec::new();
        let mut day = first;
        while day <= last {
            if let Some(mut sent) = read::<PhoneDay>(ctx, &ns, &phone_key(phone, day)).await? {
                found.append(&mut sent);
            }
            match day.checked_add_days(Days::new(1)) {
                Some(next) => day = next,
                None => break,
            }
        }
        Ok(found)
    }
}

fn phone_key(phone: &str, date: NaiveDate) -> String {
    format!("phone:{}:{date}", comparable_phone(phone))
}

/// When the entries of an appointment on `date` expire; never for the last dates chrono
/// knows, where adding days overflows.
fn expiry(date: NaiveDate) -> Option<DateTime<Utc>> {
    date.checked_add_days(Days::new(KEPT_DAYS_AFTER))
        .map(|day| day.and_time(NaiveTime::MIN).and_utc())
}

fn to_value<T: Serialize>(value: &T) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| {
        StoreError::corrupt("a pending confirmation does not serialize").with_source(e)
    })
}

fn from_value<T: DeserializeOwned>(value: &Value, key: &str) -> Result<T, StoreError> {
    T::deserialize(value).map_err(|e| {
        StoreError::corrupt(format!("`{key}` is not a pending confirmation")).with_source(e)
    })
}

async fn read<T: DeserializeOwned>(
    ctx: &Context,
    ns: &str,
    key: &str,
) -> Result<Option<T>, StoreError> {
    match ctx.state().get_state(ns, key, ctx.clock().now()).await? {
        Some(entry) => from_value(&entry.value, key).map(Some),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests;
