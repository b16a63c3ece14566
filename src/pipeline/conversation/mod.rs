//! Conversations: a sequence of prompts and answers over WhatsApp, as data.
//!
//! A notification flow is one record, one send. A conversation is a sequence: a message
//! arrives, the session's state decides what it means, the ERP is asked, its answer becomes
//! a list, the patient picks. A [`ConversationSpec`] describes it as named states, and a
//! [`Conversation`] runs it: as a flow's target (kind `conversation`) fed with the
//! `whatsapp.message` records of the webhook, or directly through
//! [`Conversation::handle`].
//!
//! ```text
//!  whatsapp.message ─▶ lock the party's session (store, compare-and-swap; one message at a time)
//!                        │ seen this wamid? ─▶ Duplicate      older than the newest? ─▶ Stale
//!                        ▼
//!         a command word? ─▶ enter its state
//!         no session?     ─▶ enter `start`
//!         else read the answer with the state's input (option, date, time, cpf, birth_date, text)
//!              wrong ─▶ re-prompt (attempt n of max) … then the fallback state
//!              right ─▶ store it in a variable ─▶ first transition whose rule holds
//!                        ▼
//!  enter a state: actions (ERP calls, set, clear, say) ─▶ its prompt (text, buttons, list,
//!                 a list built from an ERP answer, paged past ten rows) ─▶ wait for the answer,
//!                 or move on at once, or end (done, attendant, expired)
//!                        │ an ERP call failed ─▶ apology, the state stays as it was
//!                        ▼
//!  save the session with the prompts to send ─▶ send them (the WhatsApp target, which
//!  obeys the 24-hour window) ─▶ release ─▶ a Turn report (the receipt's details)
//! ```
//!
//! * [`ConversationSpec`]: the JSON document, checked as it loads: unknown and unreachable
//!   states, transitions without a default, texts over Meta's limits ([`limits`]), rules
//!   and templates, each error at its JSON pointer. The reference is
//!   `docs/conversation.md`; the JSON Schema is `docs/conversation.schema.json`.
//! * [`Conversation`]: the spec, the targets that send text and interactive prompts, and the
//!   [`Service`]s it calls (the RM adapter's scheduling port is `rm.scheduling`).
//! * [`Turn`]: what one message did: [`Step::Prompted`], [`Step::Rejected`] with the reason,
//!   [`Step::CallFailed`] with the error, [`Step::Duplicate`], [`Step::Stale`],
//!   [`Step::HandedOff`], [`Step::Expired`].
//! * [`tick`]: the record that makes a conversation flow end idle sessions
//!   ([`Conversation::expire_idle`]).
//!
//! **Sessions** are entries of the store's keyed state ([`StateStore`](crate::StateStore)),
//! scope `conversation:<id>`, key `<phone_number_id>:<party>`, with an expiry, so every
//! store works unchanged. A turn takes the session's lock (a compare-and-swap on the entry,
//! with a lease), so two messages of one party, in one process or in two, never advance the
//! same state twice; in one process they also wait on an in-memory lock first, without
//! polling. The turn saves the new state together with the prompts to send before sending
//! them: a crash or a failed send leaves them in the session, and the next attempt of the
//! same message (or the party's next message) sends them first. What is not guaranteed: an
//! ERP call made by a turn whose save then fails is made again when the message is
//! retried; the call carries an idempotency key ([`ServiceCall::idempotency_key`]) that is
//! the same on every attempt, for an ERP that honours one.
//!
//! The window: a conversation is always started by the party, so its prompts fall in the
//! 24-hour window that the host records with `whatsapp::remember` for the webhook's
//! records; an expiry goodbye sent after the window closed is refused by the sender and the
//! turn says so (`Expired { not_sent }`).

mod compile;
mod input;
pub mod limits;
mod runtime;
#[cfg(feature = "schema")]
mod schema;
mod service;
mod session;
mod spec;
mod target;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use serde_json::json;

pub use runtime::{CallReport, Conversation, ConversationBuilder, Inbound, Step, Turn};
pub use service::{DynService, Service, ServiceCall, ServiceError};
pub use spec::{
    ActionSpec, ButtonsSpec, CallSpec, CommandSpec, ConflictSpec, ConversationSpec,
    DynamicListSpec, End, IdleSpec, InputSpec, ListSpec, OptionSpec, Parse, PromptSpec, StateSpec,
    Texts, TransitionSpec,
};
pub use target::TurnAction;

pub(crate) use target::register;

/// Target kind: a conversation.
pub const KIND: &str = "conversation";
/// Record kind of [`tick`].
pub const TICK_KIND: &str = "conversation.tick";
/// Record kind of a prompt handed to a sender.
pub const PROMPT_KIND: &str = "conversation.prompt";
/// Record kind of the data templates and rules read in a turn.
pub const TURN_KIND: &str = "conversation.turn";

/// A record that makes a conversation flow end the sessions idle past their timeout
/// (its turn is [`Conversation::expire_idle`]). Process one every minute or so, from the
/// host's scheduler; its key is the minute, so a tick processed twice is a duplicate.
///
/// ```
/// use hubflow::conversation::{tick, TICK_KIND};
/// let at = "2026-03-02T12:00:30Z".parse().unwrap();
/// let record = tick(at);
/// assert_eq!(record.kind, TICK_KIND);
/// assert_eq!(record.key, "conversation.tick:2026-03-02T12:00");
/// ```
pub fn tick(at: DateTime<Utc>) -> crate::Record {
    crate::Record::new(
        format!("{TICK_KIND}:{}", at.format("%Y-%m-%dT%H:%M")),
        TICK_KIND,
        json!({"type": TICK_KIND, "at": at.to_rfc3339()}),
    )
    .occurred_at(at)
}

/// The condition of a conversation flow: a party's message of a type a conversation reads
/// (text, button, interactive, and media, which get a re-prompt), or a [`tick`].
/// Statuses, reactions, edits and deletions are skipped.
///
/// ```
/// use hubflow::{Condition, Record};
/// use serde_json::json;
/// let rule = hubflow::conversation::conversation_rule();
/// let text = Record::new("wamid.1", "whatsapp.message", json!({"type": "text", "from": "5511999991234"}));
/// let reaction = Record::new("wamid.2", "whatsapp.message", json!({"type": "reaction", "from": "5511999991234"}));
/// assert!(rule.evaluate(&text));
/// assert!(!rule.evaluate(&reaction));
/// assert!(rule.evaluate(&hubflow::conversation::tick("2026-03-02T12:00:00Z".parse().unwrap())));
/// ```
pub fn conversation_rule() -> crate::Rule {
    // Invariant: a constant rule in the documented syntax (checked by the doc test).
    crate::Rule::parse(&json!({"field": "type", "op": "in", "value": [
        "text", "button", "interactive", "image", "audio", "video", "document", "sticker",
        "location", "contacts", TICK_KIND
    ]}))
    .expect("the conversation rule is valid")
}
