//! Reply routing: a patient's answer to a confirmation, matched to the appointment it
//! answers and applied in the ERP (kind `rm.reply`).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::action::{action_request, apply, default_route, was_applied, Action};
use super::client::RmClient;
use super::pending::{comparable_phone, digits, PendingConfirmation, PendingConfirmations};
use super::route::Route;
use crate::text::text_of;
use crate::{Context, DeliveryError, DynTarget, Receipt, Record, Target, TargetError};

mod pick;

pub(super) use pick::{ask_button_problem, ask_text_problem};
use pick::{described, Pick, DEFAULT_ASK_BUTTON, DEFAULT_ASK_TEXT};

/// How long after it was sent a confirmation can be answered (default 72 h); replies
/// after that, or after the appointment started, are reported as expired.
pub const DEFAULT_VALIDITY: Duration = Duration::from_secs(72 * 3600);
/// How many days ahead the phone fallback looks for pending confirmations (default 14;
/// keep it at least the confirmation job's `days_ahead`).
pub const DEFAULT_LOOKAHEAD_DAYS: u32 = 14;

/// Words (compared trimmed and case-insensitively) that name an action when a reply has no
/// `confirm:<id>`-style payload: a typed answer, an interactive reply id, an RD Conversas
/// or TimelinesAI message. Defaults follow RM's flows: `1`/`sim`/`confirmar`,
/// `2`/`não`/`cancelar`, `3`/`atendente`, with their English equivalents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct IntentWords {
    /// Words that confirm.
    pub confirm: Vec<String>,
    /// Words that cancel.
    pub cancel: Vec<String>,
    /// Words that ask for a person.
    pub attendant: Vec<String>,
}

impl Default for IntentWords {
    fn default() -> Self {
        let words = |list: &[&str]| list.iter().map(|w| (*w).to_owned()).collect();
        IntentWords {
            confirm: words(&["1", "sim", "confirmar", "sim, confirmar", "confirm", "yes"]),
            cancel: words(&[
                "2",
                "não",
                "nao",
                "cancelar",
                "não, cancelar",
                "nao, cancelar",
                "cancel",
                "no",
            ]),
            attendant: words(&[
                "3",
                "atendente",
                "conversar com atendente",
                "attendant",
                "talk to an attendant",
            ]),
        }
    }
}

impl IntentWords {
    /// The action a word names.
    pub fn action(&self, word: &str) -> Option<Action> {
        let word = word.trim().to_lowercase();
        let has = |list: &[String]| list.iter().any(|w| w.trim().to_lowercase() == word);
        if has(&self.confirm) {
            Some(Action::Confirm)
        } else if has(&self.cancel) {
            Some(Action::Cancel)
        } else if has(&self.attendant) {
            Some(Action::Attendant)
        } else {
            None
        }
    }
}

/// A button payload: `<action>:<appointment_id>:<date>` (`cancel:A-17:2026-03-03`), or
/// `<action>:<appointment_id>`. The ready-made template buttons carry this form, and WhatsApp
/// returns it as the reply's `reply_id`, so the answer applies to the appointment the button
/// belonged to even when a patient has several the same day.
///
/// ```
/// use hubflow::rm::{Action, ButtonPayload};
/// let p = ButtonPayload::parse("cancel:A:17:2026-03-03").unwrap();
/// assert_eq!((p.action, p.appointment_id.as_str()), (Action::Cancel, "A:17"));
/// assert_eq!(p.date, Some("2026-03-03".parse().unwrap()));
/// assert_eq!(ButtonPayload::parse("confirm:881").unwrap().date, None);
/// assert!(ButtonPayload::parse("confirm").is_none());
/// assert_eq!(ButtonPayload::new(Action::Confirm, "881", None).to_string(), "confirm:881");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ButtonPayload {
    /// What the button does.
    pub action: Action,
    /// The appointment it belongs to.
    pub appointment_id: String,
    /// The appointment's date, when the payload has it.
    pub date: Option<NaiveDate>,
}

impl ButtonPayload {
    /// A payload.
    pub fn new(action: Action, appointment_id: impl Into<String>, date: Option<NaiveDate>) -> Self {
        ButtonPayload {
            action,
            appointment_id: appointment_id.into(),
            date,
        }
    }

    /// Reads a payload; `None` when it is not of this form.
    pub fn parse(text: &str) -> Option<ButtonPayload> {
        let (word, rest) = text.trim().split_once(':')?;
        let action = Action::from_word(&word.to_ascii_lowercase())?;
        let (id, date) = match rest.rsplit_once(':') {
            Some((id, date)) => match date.parse::<NaiveDate>() {
                Ok(date) => (id, Some(date)),
                Err(_) => (rest, None),
            },
            None => (rest, None),
        };
        if id.trim().is_empty() {
            return None;
        }
        Some(ButtonPayload::new(action, id, date))
    }
}

impl fmt::Display for ButtonPayload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.action, self.appointment_id)?;
        if let Some(date) = self.date {
            write!(f, ":{date}")?;
        }
        Ok(())
    }
}

/// How an answer was read: what `rm.reply` prepares. [`ReplyTarget`]'s `deliver` matches it
/// to a pending confirmation and applies its action; a plan shows it as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReadReply {
    /// What the patient asked for.
    pub action: Action,
    /// The appointment a button payload named, if it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub appointment_id: Option<String>,
    /// The appointment's day a button payload named, if it named one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<NaiveDate>,
    /// The message the answer quotes (WhatsApp's `context.id`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// The patient's number, digits with country code.
    pub from: String,
    /// What the action was read from: the button payload or id, or the text.
    pub reply_key: String,
}

impl crate::Action for ReadReply {
    fn recipient(&self) -> Option<&str> {
        Some(&self.from)
    }
}

/// Routes a patient's answer to the confirmation it answers, and applies it: kind
/// `rm.reply`. One record in, one outcome out.
///
/// **Input**: a `whatsapp.message` record (from `hubflow::whatsapp::webhook`) of type
/// `button` (a template quick reply) or `interactive` (a reply button), or any record whose
/// payload has the same fields: `from` (the patient's number), `reply_id` (the button's
/// payload or id), `text`, `context_id` (the message answered). Without a mapper the record's
/// data is the payload.
///
/// **Reading the answer** (in `prepare`, pure): the action comes from a
/// [`ButtonPayload`] in `reply_id`, else from [`IntentWords`] matching `reply_id` or `text`.
/// An answer that names no action fails at the prepare stage. What `prepare` returns is the
/// [`ReadReply`]: how the answer was read, which a plan ([`Flow::plan`](crate::Flow::plan))
/// shows; a dry run also shows the ERP call it leads to.
///
/// **Matching** (in `deliver`, against the [`PendingConfirmations`] the confirmation job
/// stored), in this order, never guessing:
///
/// 1. the button payload's appointment (and date): its confirmation must exist and have
///    gone to the number that answers;
/// 2. else the `context_id`: the confirmation sent as that message, to that number; a
///    context that is no pending confirmation is *unmatched* (the answer is to some other
///    message), not routed by phone;
/// 3. else (no payload appointment, no context) the number: its pending, unexpired
///    confirmations from today on; exactly one is the match, none is *unmatched*, several
///    are *ambiguous*, unless a sender is configured to ask which (below).
///
/// A matched confirmation whose appointment has started, whose day is over, or that is
/// older than the validity is *expired*. Unmatched, ambiguous and expired answers fail
/// permanently (`DeliveryError::Precondition`) with a message starting with that word;
/// they are dead letters for a person, and nothing is sent to the ERP.
///
/// **Several appointments: the patient picks.** With a sender ([`ask`](ReplyTarget::ask)),
/// a bare confirm or cancel (no appointment in the payload, no context) from a number with
/// several pending, unexpired confirmations is answered with a list instead of failing.
/// First, appointments that already have an applied answer (confirmed or cancelled) step
/// aside while others are still unanswered: if one unanswered is left, the answer applies
/// to it directly (the receipt lists the others under `already_answered`); if none is left,
/// they are all offered again. Otherwise the sender gets a `whatsapp.interactive` list
/// payload, to the number that answered:
///
/// * `body`: [`ask_text`](ReplyTarget::ask_text), `{action}` replaced by `confirmar` or
///   `cancelar` (default "Você tem mais de uma consulta. Qual delas deseja {action}?");
/// * `list.button`: [`ask_button`](ReplyTarget::ask_button) (default "Ver horários");
/// * one section of rows, nearest first (by start, an appointment without one at the start
///   of its day), at most 10: `id` the [`ButtonPayload`] `<action>:<appointment_id>:<date>`,
///   `title` the local start time `HH:MM` (the date `dd/mm/yyyy` when the ERP gave no time),
///   `description` the weekday, the date and the appointment id, cut with `…` to 72
///   characters.
///
/// The pick comes back as an `interactive` reply whose `reply_id` is the row's id, so rule 1
/// applies it to exactly that appointment, with the usual once-per-appointment claim; the
/// others stay pending. Nothing is called in the ERP for the list itself: the record is
/// delivered with the sender's receipt (its id, the sent message's id), details `asked:
/// "which"`, `action`, `phone`, `candidates` (the listed appointments: `appointment_id`,
/// `date`, `starts_at`), `message_id`, `sent` (the sender's own details), and, with more than
/// 10 candidates, `not_listed` (the later ones). A failed send fails the record as the
/// sender's error says (retryable or not), with nothing applied. A repeated bare answer
/// sends the list again. An attendant answer with several candidates needs no pick: without
/// a hand-off route it is delivered with `"handoff": "host"` and the `candidates`, sender or
/// not (with a route, which names one appointment, it is *ambiguous*). Without a sender,
/// several candidates for a confirm or cancel are *ambiguous* as before, whether answered
/// or not.
///
/// **Applying**: confirm and cancel call their routes once per appointment (the
/// `Idempotency-Key` claim of [`ActionTarget`](super::ActionTarget)): a repeated answer is
/// delivered with `already_applied: true` and no call; a confirm after a cancel is refused.
/// The attendant hand-off calls its route when one is configured; without one, no call
/// is made and the delivered receipt says `"handoff": "host"`: the host hands the chat
/// to a person (for WhatsApp Cloud, by routing the number to its inbox).
///
/// The receipt: id `rm:<action>:<appointment_id>`, details `action`, `appointment_id`,
/// `date`, `matched_by` (`button`, `context` or `phone`), and `already_applied`,
/// `already_answered` or `handoff` when they apply.
///
/// ```
/// # #[cfg(feature = "whatsapp")]
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use hubflow::rm::{PendingConfirmation, PendingConfirmations, ReplyTarget, RmAuth, RmClient};
/// use hubflow::whatsapp::{remember_inbound, MessageKind, WhatsAppConnection, WhatsAppTarget};
/// use hubflow::{Context, Flow, ManualClock, MemoryStore, Record};
/// use hubflow::http::RecordingClient;
/// use secrecy::SecretString;
/// use serde_json::json;
///
/// let now = "2026-03-02T12:00:00Z".parse().unwrap();
/// let ctx = Context::new(RecordingClient::new(), ManualClock::new(now), MemoryStore::new());
/// // Two confirmations went to one number for the same day.
/// let pending = PendingConfirmations::default();
/// for (id, at) in [("A-2", "2026-03-03T13:00:00Z"), ("A-1", "2026-03-03T11:30:00Z")] {
///     let sent = PendingConfirmation::new(id, "2026-03-03".parse().unwrap(), "5511999991234", now)
///         .starts_at(Some(at.parse().unwrap()));
///     pending.remember(&ctx, &sent).await.unwrap();
/// }
/// let erp = RmClient::new("https://erp.example:8051".parse().unwrap(), RmAuth::Bearer(SecretString::from("t0k3n")));
/// let list = WhatsAppTarget::new(MessageKind::Interactive, WhatsAppConnection::new("1065", SecretString::from("wa-token")));
/// let flow = Flow::builder("rm-replies")
///     .target(ReplyTarget::new(erp).ask(list).ask_button("Escolher horário"))
///     .build()
///     .unwrap();
/// // The patient types "sim" (their message opened WhatsApp's 24-hour window).
/// let typed = Record::new("wamid.R", "whatsapp.message",
///     json!({"phone_number_id": "1065", "from": "5511999991234", "type": "text", "text": "sim"}))
///     .occurred_at(now);
/// remember_inbound(&ctx, std::slice::from_ref(&typed)).await.unwrap();
/// let dry = flow.dry_run(&ctx, vec![typed]).await;
/// let sent = dry.records[0].requests[0].json_body().unwrap();
/// let rows = &sent["interactive"]["action"]["sections"][0]["rows"];
/// assert_eq!(rows[0]["id"], "confirm:A-1:2026-03-03");
/// assert_eq!(rows[0]["title"], "08:30");
/// assert_eq!(rows[1]["title"], "10:00");
/// assert_eq!(sent["interactive"]["body"]["text"],
///     "Você tem mais de uma consulta. Qual delas deseja confirmar?");
/// # });
/// ```
#[derive(Clone)]
pub struct ReplyTarget {
    client: RmClient,
    routes: BTreeMap<Action, Route>,
    pending: PendingConfirmations,
    words: IntentWords,
    time_zone: chrono_tz::Tz,
    validity: Duration,
    lookahead_days: u32,
    ask: Option<DynTarget>,
    ask_text: String,
    ask_button: String,
}

/// What matching by appointment, context or number found.
enum Matched {
    /// The confirmation the answer is for, how it was found, and the number's other
    /// confirmations that stepped aside because they were already answered.
    One {
        pending: PendingConfirmation,
        by: &'static str,
        answered: Vec<PendingConfirmation>,
    },
    /// Several for a bare confirm or cancel, with a sender to ask which.
    Several(Vec<PendingConfirmation>),
    /// Several for a hand-off without a route: the host hands the chat over, whichever
    /// appointment it is about.
    Handoff(Vec<PendingConfirmation>),
}

impl Matched {
    fn one(pending: PendingConfirmation, by: &'static str) -> Self {
        Matched::One {
            pending,
            by,
            answered: Vec::new(),
        }
    }
}

impl ReplyTarget {
    /// Routes answers to confirm and cancel at their default routes, with no hand-off
    /// route, in `America/Sao_Paulo`.
    pub fn new(client: RmClient) -> Self {
        let routes = [Action::Confirm, Action::Cancel]
            .into_iter()
            .map(|a| (a, default_route(a)))
            .collect();
        ReplyTarget {
            client,
            routes,
            pending: PendingConfirmations::default(),
            words: IntentWords::default(),
            time_zone: chrono_tz::America::Sao_Paulo,
            validity: DEFAULT_VALIDITY,
            lookahead_days: DEFAULT_LOOKAHEAD_DAYS,
            ask: None,
            ask_text: DEFAULT_ASK_TEXT.to_owned(),
            ask_button: DEFAULT_ASK_BUTTON.to_owned(),
        }
    }

    /// The ERP call for an action (an attendant route turns the hand-off into a call).
    #[must_use]
    pub fn route(mut self, action: Action, route: Route) -> Self {
        self.routes.insert(action, route);
        self
    }

    /// The pending confirmations to match against (the confirmation job's scope).
    #[must_use]
    pub fn pending(mut self, pending: PendingConfirmations) -> Self {
        self.pending = pending;
        self
    }

    /// The words that name actions.
    #[must_use]
    pub fn words(mut self, words: IntentWords) -> Self {
        self.words = words;
        self
    }

    /// The clinic's time zone (which day is "today").
    #[must_use]
    pub fn time_zone(mut self, zone: chrono_tz::Tz) -> Self {
        self.time_zone = zone;
        self
    }

    /// How long a confirmation can be answered.
    #[must_use]
    pub fn validity(mut self, validity: Duration) -> Self {
        self.validity = validity;
        self
    }

    /// How many days ahead the phone fallback looks.
    #[must_use]
    pub fn lookahead_days(mut self, days: u32) -> Self {
        self.lookahead_days = days;
        self
    }

    /// Asks which appointment a bare confirm or cancel is for, when the number has several
    /// pending: `sender` gets a `whatsapp.interactive` list payload (`to`, `body`,
    /// `list.button`, `list.sections`) whose rows are the appointments (see "Several
    /// appointments" above). Any target that takes that payload will do, such as a
    /// `hubflow::whatsapp::WhatsAppTarget` of kind `MessageKind::Interactive` (feature
    /// `whatsapp`), or a [`DynTarget`] built from the registry (the spec form's `ask`).
    #[must_use]
    pub fn ask(mut self, sender: impl Target + 'static) -> Self {
        self.ask = Some(DynTarget::new(sender));
        self
    }

    /// The list's body; `{action}` is replaced by `confirmar` or `cancelar`. Default
    /// "Você tem mais de uma consulta. Qual delas deseja {action}?". Cut with `…` to
    /// 1024 characters when longer (the spec form refuses it instead).
    #[must_use]
    pub fn ask_text(mut self, text: impl Into<String>) -> Self {
        self.ask_text = text.into();
        self
    }

    /// The label of the button that opens the list. Default "Ver horários". Cut with `…`
    /// to 20 characters when longer (the spec form refuses it instead).
    #[must_use]
    pub fn ask_button(mut self, label: impl Into<String>) -> Self {
        self.ask_button = label.into();
        self
    }

    fn read(&self, record: &Record, payload: &Value) -> Result<ReadReply, TargetError> {
        let text_at = |field: &str| {
            payload
                .get(field)
                .filter(|v| !v.is_null())
                .map(text_of)
                .filter(|s| !s.trim().is_empty())
        };
        let from = text_at("from")
            .map(|f| digits(&f))
            .filter(|f| !f.is_empty())
            .ok_or_else(|| {
                TargetError::field("from", "missing: the number of the patient who answered")
            })?;
        let reply_id = text_at("reply_id");
        let text = text_at("text");
        let button = reply_id.as_deref().and_then(ButtonPayload::parse);
        let action = match &button {
            Some(button) => button.action,
            None => reply_id
                .as_deref()
                .and_then(|id| self.words.action(id))
                .or_else(|| text.as_deref().and_then(|t| self.words.action(t)))
                .ok_or_else(|| {
                    TargetError::field(
                        "reply_id",
                        format!(
                            "the answer names no action (reply_id {:?}, text {:?}); expected a \
                             payload such as confirm:<appointment_id>:<date> or one of the intent words",
                            reply_id.as_deref().unwrap_or(""),
                            text.as_deref().map(|t| crate::text::truncate(t, 40)).unwrap_or_default()
                        ),
                    )
                })?,
        };
        Ok(ReadReply {
            action,
            appointment_id: button.as_ref().map(|b| b.appointment_id.clone()),
            date: button.and_then(|b| b.date),
            context_id: text_at("context_id"),
            from,
            reply_key: record.key.clone(),
        })
    }

    /// Finds the confirmation an answer is for, or says why there is none.
    async fn matching(&self, ctx: &Context, routing: &ReadReply) -> Result<Matched, DeliveryError> {
        let now = ctx.clock().now();
        let today = now.with_timezone(&self.time_zone).date_naive();
        let last = today
            .checked_add_days(Days::new(u64::from(self.lookahead_days)))
            .unwrap_or(today);
        let same_number =
            |p: &PendingConfirmation| comparable_phone(&p.phone) == comparable_phone(&routing.from);
        if let Some(id) = &routing.appointment_id {
            let found = match routing.date {
                Some(date) => self.pending.by_appointment(ctx, id, date).await?,
                None => {
                    // A payload without its date: the nearest pending day, from a week back
                    // (so an expired one is reported as such) up to the lookahead.
                    let mut found = None;
                    let mut day = today.checked_sub_days(Days::new(7)).unwrap_or(today);
                    while day <= last && found.is_none() {
                        found = self.pending.by_appointment(ctx, id, day).await?;
                        day = match day.checked_add_days(Days::new(1)) {
                            Some(next) => next,
                            None => break,
                        };
                    }
                    found
                }
            };
            let when = routing.date.map(|d| format!(" on {d}")).unwrap_or_default();
            return match found {
                Some(p) if same_number(&p) => self.unexpired(p, now, "button").map(Matched::from),
                Some(_) => Err(unmatched(format!(
                    "the button names appointment {id}{when}, whose confirmation went to another number"
                ))),
                None => Err(unmatched(format!(
                    "no confirmation was sent for appointment {id}{when} (scope `{}`)",
                    self.pending.scope()
                ))),
            };
        }
        if let Some(context) = &routing.context_id {
            return match self.pending.by_message(ctx, context).await? {
                Some(p) if same_number(&p) => self.unexpired(p, now, "context").map(Matched::from),
                Some(_) => Err(unmatched(format!(
                    "message {context} was a confirmation to another number"
                ))),
                None => Err(unmatched(format!(
                    "the answer is to message {context}, which is no pending confirmation"
                ))),
            };
        }
        let mut candidates: Vec<_> = self
            .pending
            .by_phone(ctx, &routing.from, today, last)
            .await?
            .into_iter()
            .filter(|p| p.expired(now, self.time_zone, self.validity).is_none())
            .collect();
        match candidates.len() {
            0 => {
                return Err(unmatched(format!(
                    "no pending confirmation for number {} from {today} to {last}",
                    routing.from
                )))
            }
            1 => return Ok(Matched::one(candidates.remove(0), "phone")),
            // A person takes over the chat, whichever appointment it is about; only a
            // configured hand-off route, which names an appointment, needs one.
            _ if routing.action == Action::Attendant
                && !self.routes.contains_key(&Action::Attendant) =>
            {
                return Ok(Matched::Handoff(candidates))
            }
            _ if !self.asks(routing.action) => return Err(ambiguous(&routing.from, &candidates)),
            _ => {}
        }
        // Answered appointments step aside while others still wait for an answer.
        let mut open = Vec::new();
        let mut answered = Vec::new();
        for p in candidates {
            if self.answered(ctx, &p.appointment_id).await? {
                answered.push(p);
            } else {
                open.push(p);
            }
        }
        Ok(match open.len() {
            0 => Matched::Several(answered),
            1 => Matched::One {
                pending: open.remove(0),
                by: "phone",
                answered,
            },
            _ => Matched::Several(open),
        })
    }

    /// Whether several candidates for `action` are answered with a list: a sender is
    /// configured and the answer confirms or cancels.
    fn asks(&self, action: Action) -> bool {
        self.ask.is_some() && matches!(action, Action::Confirm | Action::Cancel)
    }

    /// Whether an answer was already applied to the appointment (confirmed or cancelled).
    async fn answered(&self, ctx: &Context, appointment_id: &str) -> Result<bool, DeliveryError> {
        for action in [Action::Confirm, Action::Cancel] {
            if was_applied(ctx, &self.pending, action, appointment_id).await? {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Sends the list of `candidates` for the patient to pick one; nothing is applied.
    async fn ask_which(
        &self,
        ctx: &Context,
        record: &Record,
        routing: &ReadReply,
        candidates: Vec<PendingConfirmation>,
    ) -> Result<Receipt, DeliveryError> {
        // `matching` finds several only with a sender; without one this stays total.
        let Some(sender) = &self.ask else {
            return Err(ambiguous(&routing.from, &candidates));
        };
        let pick = Pick::new(candidates, routing.action, self.time_zone);
        let payload = pick.payload(&routing.from, &self.ask_text, &self.ask_button);
        let send = sender.prepare(record, &payload)?;
        let sent = sender.deliver(ctx, record, &send).await?;
        let mut details = json!({
            "asked": "which",
            "action": routing.action.as_str(),
            "phone": routing.from,
            "candidates": described(&pick.listed),
            "message_id": sent.id,
        });
        if !pick.not_listed.is_empty() {
            details["not_listed"] = described(&pick.not_listed);
        }
        if !sent.details.is_null() {
            details["sent"] = sent.details.clone();
        }
        Ok(sent.with_details(details))
    }

    fn unexpired(
        &self,
        pending: PendingConfirmation,
        now: DateTime<Utc>,
        matched_by: &'static str,
    ) -> Result<(PendingConfirmation, &'static str), DeliveryError> {
        match pending.expired(now, self.time_zone, self.validity) {
            Some(why) => Err(DeliveryError::Precondition(format!("expired: {why}"))),
            None => Ok((pending, matched_by)),
        }
    }
}

impl From<(PendingConfirmation, &'static str)> for Matched {
    fn from((pending, by): (PendingConfirmation, &'static str)) -> Self {
        Matched::one(pending, by)
    }
}

fn ambiguous(from: &str, candidates: &[PendingConfirmation]) -> DeliveryError {
    DeliveryError::Precondition(format!(
        "ambiguous: number {from} has {} pending confirmations (appointments {}) and the \
         answer does not say which one",
        candidates.len(),
        candidates
            .iter()
            .map(|p| format!("{} on {}", p.appointment_id, p.date))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

fn unmatched(message: String) -> DeliveryError {
    DeliveryError::Precondition(format!("unmatched: {message}"))
}

impl fmt::Debug for ReplyTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyTarget")
            .field("client", &self.client)
            .field("routes", &self.routes)
            .field("scope", &self.pending.scope())
            .field("time_zone", &self.time_zone)
            .field("validity", &self.validity)
            .field("ask", &self.ask.is_some())
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Target for ReplyTarget {
    type Action = ReadReply;

    fn prepare(&self, record: &Record, payload: &Value) -> Result<ReadReply, TargetError> {
        if !payload.is_object() {
            return Err(TargetError::InvalidPayload(
                "expected the fields of a reply: from, reply_id, text, context_id".to_owned(),
            ));
        }
        self.read(record, payload)
    }

    async fn deliver(
        &self,
        ctx: &Context,
        record: &Record,
        routing: &ReadReply,
    ) -> Result<Receipt, DeliveryError> {
        let (pending, matched_by, answered) = match self.matching(ctx, routing).await? {
            Matched::One {
                pending,
                by,
                answered,
            } => (pending, by, answered),
            Matched::Several(candidates) => {
                return self.ask_which(ctx, record, routing, candidates).await
            }
            Matched::Handoff(candidates) => {
                return Ok(Receipt::new(200)
                    .with_id(format!("rm:attendant:{}", routing.from))
                    .with_details(json!({
                        "action": Action::Attendant.as_str(),
                        "handoff": "host",
                        "phone": routing.from,
                        "matched_by": "phone",
                        "candidates": described(&candidates),
                    })))
            }
        };
        let action = routing.action;
        let mut details = json!({
            "action": action.as_str(),
            "appointment_id": pending.appointment_id,
            "date": pending.date,
            "matched_by": matched_by,
            "confirmation": pending.key,
        });
        if !answered.is_empty() {
            details["already_answered"] = described(&answered);
        }
        if action == Action::Confirm
            && was_applied(ctx, &self.pending, Action::Cancel, &pending.appointment_id).await?
        {
            return Err(DeliveryError::Precondition(format!(
                "already cancelled: appointment {} was cancelled by an earlier answer; a later \
                 confirmation needs an attendant",
                pending.appointment_id
            )));
        }
        let Some(route) = self.routes.get(&action) else {
            // No hand-off route: the host hands the chat over.
            details["handoff"] = json!("host");
            details["phone"] = json!(routing.from);
            return Ok(Receipt::new(200)
                .with_id(format!("rm:{action}:{}", pending.appointment_id))
                .with_details(details));
        };
        let mut values: BTreeMap<String, Value> = BTreeMap::new();
        values.insert("appointment_id".into(), json!(pending.appointment_id));
        values.insert("date".into(), json!(pending.date.to_string()));
        values.insert("phone".into(), json!(routing.from));
        if let Some(start) = pending.starts_at {
            values.insert("starts_at".into(), json!(start.to_rfc3339()));
        }
        let call = action_request(&self.client, route, action, &values)?;
        let mut receipt = apply(ctx, &self.client, &self.pending, &call, details).await?;
        if receipt.id.is_none() {
            receipt.id = Some(format!("rm:{action}:{}", pending.appointment_id));
        }
        Ok(receipt)
    }

    /// The sender's fakes, then the ERP's: the ERP's fake answers every path below its
    /// base URL, so it is asked last.
    fn fakes(&self) -> Vec<std::sync::Arc<dyn crate::http::ProviderFake>> {
        let mut fakes = self.ask.as_ref().map(Target::fakes).unwrap_or_default();
        fakes.push(std::sync::Arc::new(super::fake::RmFake::for_client(
            &self.client,
        )));
        fakes
    }
}

#[cfg(test)]
mod tests;
