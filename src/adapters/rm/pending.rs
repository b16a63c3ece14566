//! Pending confirmations: which appointment each confirmation message asked about, kept in
//! the host's [`Store`](crate::Store) so that a reply can be matched to it later.

use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{Claim, Context, Receipt, StoreError};

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

/// The pending confirmations of one scope, in the host's store.
///
/// The store has claims, not a key-value table, so each entry is a claim completed with a
/// receipt that carries the entry (`details`), in the store namespace (flow id)
/// `rm.pending:<scope>`:
///
/// | key | entry |
/// |---|---|
/// | `msg:<message id>` | the confirmation a message id belongs to (matches `context_id`) |
/// | `appt:<appointment_id>:<date>` | the confirmation of an appointment (matches button payloads) |
/// | `phone:<number>:<date>:<n>` | the `n`-th confirmation to a number for a day (phone fallback) |
///
/// Each write is a claim and a completion; each read a claim that is released at once if
/// nothing was there, all of them single atomic operations on a database store. The scope
/// (default `rm`) lets several clinics or ERPs share one store; the flow that sends and
/// the flow that routes replies must use the same one.
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

    /// The namespace of the answers applied to appointments (`rm.answers:<scope>`).
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
        let receipt = to_receipt(pending);
        if let Some(id) = &pending.message_id {
            write(ctx, &ns, &format!("msg:{id}"), &receipt).await?;
        }
        write(
            ctx,
            &ns,
            &format!("appt:{}:{}", pending.appointment_id, pending.date),
            &receipt,
        )
        .await?;
        let phone = comparable_phone(&pending.phone);
        for slot in 0..MAX_PER_PHONE_AND_DAY {
            let key = format!("phone:{phone}:{}:{slot}", pending.date);
            match ctx.store().claim(&ns, &key, ctx.clock().now()).await? {
                Claim::Acquired => {
                    return ctx.store().complete(&ns, &key, &receipt).await;
                }
                // A resend for the same appointment takes its old slot.
                Claim::Done { receipt: existing }
                    if from_receipt(&existing).is_some_and(|p| p.key == pending.key) =>
                {
                    return ctx.store().complete(&ns, &key, &receipt).await;
                }
                _ => {}
            }
        }
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
        let phone = comparable_phone(phone);
        let mut found = Vec::new();
        let mut day = first;
        while day <= last {
            for slot in 0..MAX_PER_PHONE_AND_DAY {
                match read(ctx, &ns, &format!("phone:{phone}:{day}:{slot}")).await? {
                    Some(pending) => found.push(pending),
                    None => break,
                }
            }
            match day.checked_add_days(Days::new(1)) {
                Some(next) => day = next,
                None => break,
            }
        }
        Ok(found)
    }
}

fn to_receipt(pending: &PendingConfirmation) -> Receipt {
    let receipt = Receipt::new(200)
        .with_details(serde_json::to_value(pending).unwrap_or(serde_json::Value::Null));
    match &pending.message_id {
        Some(id) => receipt.with_id(id.clone()),
        None => receipt,
    }
}

fn from_receipt(receipt: &Receipt) -> Option<PendingConfirmation> {
    serde_json::from_value(receipt.details.clone()).ok()
}

async fn write(ctx: &Context, ns: &str, key: &str, receipt: &Receipt) -> Result<(), StoreError> {
    // Whatever the claim says (free, in flight, done), the newest send wins: completing
    // overwrites it.
    ctx.store().claim(ns, key, ctx.clock().now()).await?;
    ctx.store().complete(ns, key, receipt).await
}

async fn read(
    ctx: &Context,
    ns: &str,
    key: &str,
) -> Result<Option<PendingConfirmation>, StoreError> {
    match ctx.store().claim(ns, key, ctx.clock().now()).await? {
        Claim::Done { receipt } => Ok(from_receipt(&receipt)),
        Claim::Acquired => {
            // Nothing was there: give back the claim this probe took.
            ctx.store().release(ns, key).await?;
            Ok(None)
        }
        // A writer is between its claim and its completion: not there yet.
        _ => Ok(None),
    }
}
