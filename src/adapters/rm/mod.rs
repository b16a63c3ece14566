//! RM-style ERP: appointment confirmations over WhatsApp, answered back into the ERP
//! (feature `rm`).
//!
//! Every day at a set time, each appointment N days ahead gets a confirmation template with
//! three buttons; the patient's answer confirms or cancels the appointment in the ERP, or
//! hands the chat to a person. Two flows do it, sharing the host's [`Store`](crate::Store):
//!
//! ```text
//! daily (Trigger::Daily)                                 WhatsApp webhook (host's server)
//! rm.appointments ──▶ condition: id, mobile,             whatsapp.message (button / interactive)
//!   (D+N, zone)        birth date (else Skipped)                    │
//!                      │                                            ▼
//!                      ▼ map: to, template,              rm.reply: read the answer (prepare),
//!                        body, buttons with                match it (deliver):
//!                        "confirm:<id>:<date>"             button payload → context id → phone
//!                      │                                            │
//!                      ▼                                            ▼
//!   rm.confirmation( whatsapp.template |      store  ──▶  confirm / cancel (once per appointment)
//!                    rdconversas.template )  pending       or attendant hand-off
//! ```
//!
//! * [`AppointmentsSource`] (`rm.appointments`): the ERP query for the day D+N in the
//!   clinic's time zone, paged `hasNext` style, rows mapped to `rm.appointment` records.
//! * [`ConfirmationTarget`] (`rm.confirmation`): sends through any registered sending kind
//!   (a WhatsApp or RD Conversas template, found by kind in the registry) and stores the send
//!   as a [`PendingConfirmation`].
//! * [`ReplyTarget`] (`rm.reply`): matches an answer to its pending confirmation and
//!   applies it; unmatched, ambiguous and expired answers are reported, never guessed.
//! * [`ActionTarget`] (`rm.confirm`, `rm.cancel`): the ERP calls, once per appointment.
//! * RD Conversas' template send is its own adapter, `hubflow::rdconversas`
//!   (`rdconversas.template`, feature `rdconversas`).
//! * [`RmClient`]: JWT (refreshed ahead of expiry, 401 → refresh once), Basic or a static
//!   bearer token; every route a [`Route`] template, because RM installations differ.
//!
//! The guide `docs/rm.md` has the setup, the spec forms, the matching rules and the
//! defaults (which are placeholders: RM's healthcare routes are installation-specific).
//!
//! ```
//! use hubflow::rm::{confirmation_condition, ButtonPayload, Action, CONFIRMATION_CONDITION};
//! use hubflow::{Condition, Record};
//! use serde_json::json;
//!
//! let cond = confirmation_condition();
//! let ok = Record::new("rm:appt:1:2026-03-03", "rm.appointment",
//!     json!({"appointment_id": "1", "mobile": "11 99999-1234", "birth_date": "1980-05-01"}));
//! let no_mobile = Record::new("rm:appt:2:2026-03-03", "rm.appointment",
//!     json!({"appointment_id": "2", "mobile": null, "birth_date": "1980-05-01"}));
//! assert!(cond.evaluate(&ok));
//! assert!(!cond.evaluate(&no_mobile));
//! assert!(CONFIRMATION_CONDITION.contains("mobile number"));
//! ```

mod action;
mod appointments;
mod client;
mod confirmation;
mod error;
pub mod fake;
mod pending;
mod reply;
mod route;
mod scheduling;
mod spec;
#[cfg(test)]
mod tests;

use serde_json::{json, Value};

pub use action::{defaults, Action, ActionTarget, ACTION_PLACEHOLDERS, IDEMPOTENCY_HEADER};
pub use appointments::{
    AppointmentsSource, FieldNames, Paging, APPOINTMENT_KIND, MAX_PAGES, QUERY_PLACEHOLDERS,
};
pub use client::{
    JwtAuth, RmAuth, RmClient, DEFAULT_REFRESH_TOKEN_LIFETIME, DEFAULT_TOKEN_PATH,
    FALLBACK_TOKEN_LIFETIME, REFRESH_AHEAD,
};
pub use confirmation::ConfirmationTarget;
pub use error::{RmError, PROVIDER};
pub use pending::{
    appointment_key, comparable_phone, PendingConfirmation, PendingConfirmations,
    MAX_PER_PHONE_AND_DAY,
};
pub use reply::{
    ButtonPayload, IntentWords, ReadReply, ReplyTarget, DEFAULT_LOOKAHEAD_DAYS, DEFAULT_VALIDITY,
};
pub use route::Route;
pub use scheduling::{Operation, OperationMap, SchedulingService, OPERATIONS, SCHEDULING_KIND};

/// Source kind: the appointments due in N days.
pub const APPOINTMENTS_KIND: &str = "rm.appointments";
/// Target kind: send a confirmation and remember it as pending.
pub const CONFIRMATION_KIND: &str = "rm.confirmation";
/// Target kind: route a patient's answer.
pub const REPLY_KIND: &str = "rm.reply";
/// Target kind: confirm an appointment.
pub const CONFIRM_KIND: &str = "rm.confirm";
/// Target kind: cancel an appointment.
pub const CANCEL_KIND: &str = "rm.cancel";

/// What [`confirmation_condition`] requires, as shown in skip reasons:
/// `condition not met: <this>`.
pub const CONFIRMATION_CONDITION: &str =
    "the appointment needs an id, a mobile number and a birth date to be sent a confirmation";

/// The condition of the confirmation flow: `appointment_id`, `mobile` and `birth_date`
/// are present and not blank. Appointments without them end as `Outcome::Skipped` with
/// [`CONFIRMATION_CONDITION`] as the reason (use it with
/// [`FlowBuilder::when_fn`](crate::FlowBuilder::when_fn)); the spec form is
/// [`confirmation_rule`].
pub fn confirmation_condition() -> impl crate::Condition + Clone {
    |record: &crate::Record| {
        ["appointment_id", "mobile", "birth_date"]
            .iter()
            .all(|field| {
                record.get(field).is_some_and(|v| match v {
                    Value::String(s) => !s.trim().is_empty(),
                    Value::Null => false,
                    _ => true,
                })
            })
    }
}

/// The spec form of the confirmation condition:
/// `{"not": {"any": [{"field": "appointment_id", "op": "empty"}, …]}}`.
pub fn confirmation_rule() -> crate::Rule {
    let empty = |field: &str| json!({"field": field, "op": "empty"});
    // Invariant: a constant rule in the documented syntax (checked by a unit test).
    crate::Rule::parse(&json!({"not": {"any": [
        empty("appointment_id"), empty("mobile"), empty("birth_date")
    ]}}))
    .expect("the confirmation rule is valid")
}

/// The condition of the reply flow: a `whatsapp.message` of type `button` or
/// `interactive`. Other messages (text, media, statuses) are skipped: a typed "sim" is a
/// conversation for a person, not a button tap. Widen it to route typed answers by
/// [`IntentWords`].
pub fn reply_rule() -> crate::Rule {
    // Invariant: a constant rule in the documented syntax (checked by a unit test).
    crate::Rule::parse(&json!({"all": [
        {"field": "type", "op": "in", "value": ["button", "interactive"]}
    ]}))
    .expect("the reply rule is valid")
}

/// The WhatsApp template payload of a confirmation, as a
/// [`FieldMap`](crate::FieldMap) shape: body variables patient name, day, time,
/// professional and location, and three quick-reply buttons whose payloads are
/// [`ButtonPayload`]s for the appointment (the template's buttons must be, in order,
/// confirm, cancel, talk to an attendant).
///
/// ```
/// use hubflow::{FieldMap, Mapper, Record};
/// use serde_json::json;
///
/// let map = FieldMap::new(hubflow::rm::whatsapp_confirmation_shape("consulta_confirmacao", "pt_BR")).unwrap();
/// let record = Record::new("rm:appt:A1:2026-03-03", "rm.appointment", json!({
///     "appointment_id": "A1", "patient_name": "Ana", "mobile": "(11) 99999-1234", "date": "2026-03-03",
///     "day": "03/03/2026", "time": "08:30", "professional": "Dr. Rui", "location": "Centro"}));
/// let payload = map.map(&record).unwrap();
/// assert_eq!(payload["to"], "5511999991234");
/// assert_eq!(payload["buttons"][1]["payload"], "cancel:A1:2026-03-03");
/// ```
pub fn whatsapp_confirmation_shape(template: &str, language: &str) -> Value {
    let button = |index: u8, action: &str| {
        json!({"sub_type": "quick_reply", "index": index,
               "payload": format!("{action}:{{{{ appointment_id }}}}:{{{{ date }}}}")})
    };
    json!({
        "to": "{{ mobile | phone('BR') }}",
        "template": template,
        "language": language,
        "body": [
            "{{ patient_name | default('-') }}",
            "{{ day }}",
            "{{ time | default('-') }}",
            "{{ professional | default('-') }}",
            "{{ location | default('-') }}"
        ],
        "buttons": [button(0, "confirm"), button(1, "cancel"), button(2, "attendant")]
    })
}

/// Registers the RM kinds: sources `rm.appointments`; targets `rm.confirmation`,
/// `rm.reply`, `rm.confirm` and `rm.cancel`.
pub(crate) fn register(registry: &mut crate::spec::Registry) {
    spec::register(registry);
}
