//! The engine: one message (or one timeout) moves one party's session, under its lock,
//! and ends in a [`Turn`] report.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::compile::{Action, Compiled, Prompt, State, MAX_STEPS};
use super::input::{Answer, Read, Reader, Shown, MORE_ID};
use super::limits::{self, fit};
use super::service::{DynService, Service, ServiceCall, ServiceError};
use super::session::{self, Form, Held, Locked, Outgoing, Session};
use super::spec::{ConversationSpec, End, OptionSpec};
use crate::store::StoreError;
use crate::{
    Condition, Context, DeliveryError, DynTarget, MapError, Record, SpecError, SpecErrors, Target,
};

/// A message from a party, as the engine reads it: a `whatsapp.message` record's fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Inbound {
    /// The provider's message id (WhatsApp's wamid): duplicates are recognised by it.
    pub id: String,
    /// The business number it was sent to (`phone_number_id`), or empty.
    pub channel: String,
    /// The sender's number, digits with country code.
    pub from: String,
    /// When it was sent; out-of-order messages are recognised by it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<Utc>>,
    /// Its text (a typed message, a button's title).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// The id of the option tapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_id: Option<String>,
}

impl Inbound {
    /// A message with only a text.
    pub fn text(
        id: impl Into<String>,
        channel: impl Into<String>,
        from: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        Inbound {
            id: id.into(),
            channel: channel.into(),
            from: from.into(),
            at: None,
            text: Some(text.into()),
            reply_id: None,
        }
    }

    /// Sets the option tapped.
    #[must_use]
    pub fn reply_id(mut self, id: impl Into<String>) -> Self {
        self.reply_id = Some(id.into());
        self
    }

    /// Sets when it was sent.
    #[must_use]
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.at = Some(at);
        self
    }
}

/// What one message (or one timeout) did to a conversation: the report of a turn, which is
/// the receipt's `details` when the conversation runs as a flow's target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Turn {
    /// The conversation's id.
    pub conversation: String,
    /// The party's number.
    pub party: String,
    /// The message handled (none for a timeout).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// What happened.
    #[serde(flatten)]
    pub step: Step,
    /// The state before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_state: Option<String>,
    /// The state after: none when the conversation ended (`done`, `expired`); an
    /// `attendant` end keeps its state while the attendant has the chat.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// How the conversation ended in this turn, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<End>,
    /// The provider's ids of the messages sent, in order.
    pub sent: Vec<String>,
    /// The ERP calls made, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<CallReport>,
    /// Whether the message found a session past its timeout and started afresh.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub restarted: bool,
}

/// What a turn did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Step {
    /// The answer was taken (or the conversation started) and the next prompt sent.
    Prompted,
    /// The answer did not parse; the prompt was sent again with the re-prompt text.
    Rejected {
        /// Why, for people.
        reason: String,
        /// Wrong answers so far in this state.
        attempt: u32,
        /// Wrong answers the state accepts.
        of: u32,
    },
    /// An ERP call failed: the apology was sent and the state kept.
    CallFailed {
        /// `<service>.<operation>`.
        operation: String,
        /// The error.
        error: String,
    },
    /// A template or a list could not be built from the session's data: the apology was
    /// sent and the state kept.
    Failed {
        /// The error.
        error: String,
    },
    /// The message was handled before (a resent webhook): nothing changed. Prompts an
    /// interrupted attempt had not sent yet were sent.
    Duplicate,
    /// The message is older than one already handled: nothing changed.
    Stale {
        /// The newest message's instant.
        newest: DateTime<Utc>,
    },
    /// The conversation is with an attendant: the message was left to them.
    HandedOff,
    /// The session timed out.
    Expired {
        /// Why the goodbye was not sent, when it was not (the window closed).
        #[serde(skip_serializing_if = "Option::is_none")]
        not_sent: Option<String>,
    },
}

/// One ERP call of a turn.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct CallReport {
    /// `<service>.<operation>`.
    pub operation: String,
    /// `ok`, `conflict` or `failed`.
    pub outcome: &'static str,
    /// The error, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A conversation ready to run: the checked spec, the targets that send its prompts, and
/// the services it calls. Cheap to clone; clones share the in-process locks.
///
/// It is a [`Target`]: in a flow it takes `whatsapp.message` records (see
/// [`Conversation::prepare`](Target::prepare)) and `conversation.tick` records
/// ([`tick`](super::tick)), whose turn is the idle sweep.
#[derive(Clone)]
pub struct Conversation {
    inner: Arc<Inner>,
}

struct Inner {
    spec: ConversationSpec,
    compiled: Compiled,
    text: DynTarget,
    interactive: Option<DynTarget>,
    services: BTreeMap<String, DynService>,
    /// One async lock per party in this process, so that two messages from one party in
    /// one process wait for each other without polling the store.
    local: Mutex<HashMap<String, Arc<futures_util::lock::Mutex<()>>>>,
}

impl fmt::Debug for Conversation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conversation")
            .field("id", &self.inner.compiled.id)
            .field("states", &self.inner.compiled.states.len())
            .field("text", &self.inner.text)
            .field("interactive", &self.inner.interactive)
            .field("services", &self.inner.services.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Builds a [`Conversation`]: a checked spec, its senders, its services.
///
/// ```
/// use hubflow::conversation::{Conversation, ConversationSpec};
/// use hubflow::http_target::HttpTarget;
///
/// let spec = ConversationSpec::from_json(r#"{"id": "hi", "start": "hello", "states": {
///     "hello": {"prompt": {"text": "Olá!"}, "end": "done"}}}"#).unwrap();
/// let sender = HttpTarget::new("https://chat.example.com/send".parse().unwrap());
/// let conversation = Conversation::builder(spec).text_sender(sender).build().unwrap();
/// assert_eq!(conversation.id(), "hi");
/// ```
#[derive(Debug)]
pub struct ConversationBuilder {
    spec: ConversationSpec,
    text: Option<DynTarget>,
    interactive: Option<DynTarget>,
    services: Vec<super::service::Named>,
}

impl ConversationBuilder {
    /// The target that sends text prompts (`whatsapp.text`), payload `{"to", "text"}`.
    #[must_use]
    pub fn text_sender(mut self, target: impl Target + 'static) -> Self {
        self.text = Some(DynTarget::new(target));
        self
    }

    /// The target that sends buttons and lists (`whatsapp.interactive`), payload `{"to",
    /// "body", "buttons" | "list", "header"?, "footer"?}`.
    #[must_use]
    pub fn interactive_sender(mut self, target: impl Target + 'static) -> Self {
        self.interactive = Some(DynTarget::new(target));
        self
    }

    /// A service the spec calls as `<name>.<operation>`.
    #[must_use]
    pub fn service(self, name: impl Into<String>, service: impl Service + 'static) -> Self {
        self.shared_service(name, Arc::new(service))
    }

    /// [`service`](ConversationBuilder::service) for a shared one.
    #[must_use]
    pub fn shared_service(mut self, name: impl Into<String>, service: DynService) -> Self {
        self.services
            .push(super::service::Named(name.into(), service));
        self
    }

    /// Checks that every call names a service and an operation it has, and that a sender
    /// exists for every prompt form, then builds. Errors are at the spec's paths (calls) or
    /// at `/send/text` and `/send/interactive`.
    pub fn build(self) -> Result<Conversation, SpecErrors> {
        let compiled = Compiled::new(&self.spec)?;
        let mut errors = SpecErrors::new();
        let services: BTreeMap<String, DynService> = self
            .services
            .into_iter()
            .map(|super::service::Named(name, service)| (name, service))
            .collect();
        for (service, operation, path) in compiled.calls() {
            match services.get(service) {
                None => {
                    let names: Vec<&str> = services.keys().map(String::as_str).collect();
                    errors.push(
                        SpecError::new(path, format!("unknown service `{service}`")).with_hint(
                            if names.is_empty() {
                                "no services are configured".to_owned()
                            } else {
                                format!("services: {}", names.join(", "))
                            },
                        ),
                    );
                }
                Some(found) => {
                    let operations = found.operations();
                    if !operations.iter().any(|o| o == operation) {
                        errors.push(
                            SpecError::new(
                                path,
                                format!("service `{service}` has no operation `{operation}`"),
                            )
                            .with_hint(format!("operations: {}", operations.join(", "))),
                        );
                    }
                }
            }
        }
        let interactive_needed = compiled.states.values().any(|state| {
            state
                .prompt
                .as_ref()
                .is_some_and(|prompt| prompt.has_options())
        });
        if interactive_needed && self.interactive.is_none() {
            errors.push(SpecError::new(
                "/send/interactive",
                "missing: the spec has buttons or lists, which need an interactive sender",
            ));
        }
        let Some(text) = self.text else {
            errors.push(SpecError::new(
                "/send/text",
                "missing: the target that sends text prompts",
            ));
            return Err(errors);
        };
        errors.into_result(Conversation {
            inner: Arc::new(Inner {
                spec: self.spec,
                compiled,
                text,
                interactive: self.interactive,
                services,
                local: Mutex::new(HashMap::new()),
            }),
        })
    }
}

/// What the states entered in one turn see: the step's key for idempotent calls, the
/// instant, and the answer just given (`input`, `text` in templates and rules).
#[derive(Clone, Copy)]
struct Moment<'a> {
    call_key: &'a str,
    now: DateTime<Utc>,
    input: Option<&'a Value>,
    text: Option<&'a str>,
}

/// What ends a turn early: the state is kept and the apology sent.
enum Abort {
    Call { operation: String, error: String },
    Failed(String),
}

impl From<MapError> for Abort {
    fn from(error: MapError) -> Self {
        Abort::Failed(error.to_string())
    }
}

/// What a rendered prompt is.
enum Rendered {
    Message(Outgoing, Vec<Shown>),
    /// A dynamic list with no rows.
    Empty(Option<String>),
}

/// What a turn handles.
enum Event<'a> {
    Message(&'a Inbound),
    Idle,
}

impl Conversation {
    /// Starts building from a checked spec.
    pub fn builder(spec: ConversationSpec) -> ConversationBuilder {
        ConversationBuilder {
            spec,
            text: None,
            interactive: None,
            services: Vec::new(),
        }
    }

    /// The conversation's id.
    pub fn id(&self) -> &str {
        &self.inner.compiled.id
    }

    /// The spec it runs.
    pub fn spec(&self) -> &ConversationSpec {
        &self.inner.spec
    }

    pub(crate) fn senders(&self) -> impl Iterator<Item = &DynTarget> {
        std::iter::once(&self.inner.text).chain(self.inner.interactive.as_ref())
    }

    pub(crate) fn services(&self) -> impl Iterator<Item = &DynService> {
        self.inner.services.values()
    }

    /// Handles one message: under the party's lock, a duplicate or an out-of-order message
    /// changes nothing; otherwise the answer is read, the session moves, ERP calls are made
    /// and the prompts sent. A failed ERP call sends the apology and keeps the state.
    ///
    /// Errors are what the caller should retry: the store down, a send that failed (the
    /// session has moved and the unsent prompts are kept, so handling the same message
    /// again sends them), or the lock held by another process for too long.
    pub async fn handle(&self, ctx: &Context, message: &Inbound) -> Result<Turn, DeliveryError> {
        let key = party_key(&message.channel, &message.from);
        self.turn(
            ctx,
            &key,
            Some((&message.channel, &message.from)),
            Event::Message(message),
        )
        .await
    }

    /// Ends every session idle past the timeout: each enters the spec's `idle.state` (its
    /// prompt is the goodbye, which the sender refuses when the 24-hour window has closed:
    /// the turn says so) and is forgotten. Call it every minute or so; a flow does it for
    /// each [`tick`](super::tick) record.
    pub async fn expire_idle(&self, ctx: &Context) -> Result<Vec<Turn>, DeliveryError> {
        let mut turns = Vec::new();
        for key in session::due(ctx, self.id()).await? {
            let turn = self.turn(ctx, &key, None, Event::Idle).await?;
            if matches!(turn.step, Step::Expired { .. }) {
                turns.push(turn);
            }
        }
        Ok(turns)
    }

    /// Forgets a party's session (an attendant finished): the next message starts afresh.
    pub async fn reset(&self, ctx: &Context, channel: &str, party: &str) -> Result<(), StoreError> {
        let key = party_key(channel, party);
        let _local = self.local_lock(&key).await;
        match session::lock(ctx, self.id(), &key).await? {
            Locked::Held(mut held) => {
                held.session.end();
                held.release(ctx).await?;
            }
            Locked::Busy(until) => {
                return Err(StoreError::conflict(format!(
                    "session `{key}` is locked by another worker until {until}"
                )))
            }
        }
        session::index(ctx, self.id(), &key, None).await
    }

    async fn local_lock(&self, key: &str) -> LocalGuard<'_> {
        let lock = {
            let mut map = self
                .inner
                .local
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            map.entry(key.to_owned()).or_default().clone()
        };
        let guard = lock.clone().lock_owned().await;
        LocalGuard {
            conversation: self,
            key: key.to_owned(),
            lock,
            _guard: guard,
        }
    }

    async fn turn(
        &self,
        ctx: &Context,
        key: &str,
        party: Option<(&str, &str)>,
        event: Event<'_>,
    ) -> Result<Turn, DeliveryError> {
        let _local = self.local_lock(key).await;
        let mut held = match session::lock(ctx, self.id(), key).await? {
            Locked::Held(held) => held,
            Locked::Busy(until) => {
                return Err(StoreError::conflict(format!(
                    "another worker is handling a message of `{key}` (lock until {until})"
                ))
                .into())
            }
        };
        if let Some((channel, from)) = party {
            held.session.channel = channel.to_owned();
            held.session.party = from.to_owned();
        }
        let mut turn = Turn {
            conversation: self.id().to_owned(),
            party: held.session.party.clone(),
            message: None,
            step: Step::Duplicate,
            from_state: held.session.state.clone(),
            state: held.session.state.clone(),
            ended: None,
            sent: Vec::new(),
            calls: Vec::new(),
            restarted: false,
        };
        if let Err(e) = self.take_turn(ctx, &mut held, event, &mut turn).await {
            // Whatever is left to send stays in the session for the next attempt; if even
            // this write fails, the lease runs out and another attempt takes over.
            let _ = held.release(ctx).await;
            return Err(e);
        }
        let idle_at = held.session.idle_at.filter(|_| held.session.active());
        held.release(ctx).await?;
        session::index(ctx, self.id(), key, idle_at).await?;
        Ok(turn)
    }

    async fn take_turn(
        &self,
        ctx: &Context,
        held: &mut Held,
        event: Event<'_>,
        turn: &mut Turn,
    ) -> Result<(), DeliveryError> {
        // Prompts an interrupted turn did not send go first, in order.
        if !held.session.outbox.is_empty() {
            self.flush(ctx, held, &mut turn.sent).await?;
        }
        let now = ctx.clock().now();
        match event {
            Event::Message(message) => {
                turn.message = Some(message.id.clone());
                self.on_message(ctx, held, message, now, turn).await
            }
            Event::Idle => self.on_idle(ctx, held, now, turn).await,
        }
    }

    async fn on_message(
        &self,
        ctx: &Context,
        held: &mut Held,
        message: &Inbound,
        now: DateTime<Utc>,
        turn: &mut Turn,
    ) -> Result<(), DeliveryError> {
        let at = message.at.unwrap_or(now);
        if held.session.saw(&message.id) {
            turn.step = Step::Duplicate;
            return Ok(());
        }
        if let Some(newest) = held.session.last_at.filter(|newest| at < *newest) {
            held.session.note(&message.id, at);
            turn.step = Step::Stale { newest };
            return Ok(());
        }
        let mut draft = held.session.clone();
        if draft.active() && draft.idle_at.is_some_and(|idle| idle <= now) {
            draft.end();
            turn.restarted = true;
        }
        draft.note(&message.id, at);
        draft.turn += 1;
        if draft.active() && draft.handed_off {
            draft.idle_at = Some(crate::clock::add(now, self.inner.compiled.idle));
            held.session = draft;
            turn.step = Step::HandedOff;
            return Ok(());
        }
        let base = draft.clone();
        let step = match self.advance(ctx, &mut draft, message, now, turn).await {
            Ok(step) => step,
            Err(abort) => {
                // The state stays as it was; the patient gets the apology.
                draft = base;
                let data = self.data(&draft, None, message.text.as_deref(), now);
                let apology = self
                    .inner
                    .compiled
                    .apology
                    .render(&data)
                    .unwrap_or_default();
                draft.outbox.push(text_message(&draft.party, &apology));
                match abort {
                    Abort::Call { operation, error } => Step::CallFailed { operation, error },
                    Abort::Failed(error) => Step::Failed { error },
                }
            }
        };
        draft.idle_at = draft
            .active()
            .then(|| crate::clock::add(now, self.inner.compiled.idle));
        turn.step = step;
        turn.state = draft.state.clone();
        held.session = draft;
        held.save(ctx).await?;
        self.flush(ctx, held, &mut turn.sent).await
    }

    async fn on_idle(
        &self,
        ctx: &Context,
        held: &mut Held,
        now: DateTime<Utc>,
        turn: &mut Turn,
    ) -> Result<(), DeliveryError> {
        let session = &mut held.session;
        if !session.active() || session.idle_at.is_some_and(|at| at > now) {
            // Answered meanwhile, or already over: the index is corrected on release.
            turn.step = Step::Duplicate;
            return Ok(());
        }
        turn.step = Step::Expired { not_sent: None };
        turn.ended = Some(End::Expired);
        let handed_off = session.handed_off;
        session.turn += 1;
        let mut unbuilt = None;
        if let (Some(state), false) = (self.inner.compiled.idle_state.clone(), handed_off) {
            let mut draft = session.clone();
            let key = idle_key(&draft);
            let moment = Moment {
                call_key: &key,
                now,
                input: None,
                text: None,
            };
            match self.enter(ctx, &mut draft, state, moment, turn).await {
                Ok(()) => session.outbox = draft.outbox,
                Err(Abort::Call { operation, error }) => {
                    unbuilt = Some(format!("the goodbye's call {operation} failed: {error}"))
                }
                Err(Abort::Failed(error)) => {
                    unbuilt = Some(format!("the goodbye could not be built: {error}"))
                }
            }
        }
        session.end();
        turn.state = None;
        held.save(ctx).await?;
        if let Some(why) = unbuilt {
            turn.step = Step::Expired {
                not_sent: Some(why),
            };
        } else if let Err(e) = self.flush(ctx, held, &mut turn.sent).await {
            // The goodbye is not worth a retry: the session is over either way.
            held.session.outbox.clear();
            turn.step = Step::Expired {
                not_sent: Some(e.to_string()),
            };
        }
        Ok(())
    }

    /// Reads the answer and moves the draft session on; what to send is in its outbox.
    async fn advance(
        &self,
        ctx: &Context,
        draft: &mut Session,
        message: &Inbound,
        now: DateTime<Utc>,
        turn: &mut Turn,
    ) -> Result<Step, Abort> {
        let compiled = &self.inner.compiled;
        let call_key = format!("{}:{}", party_key(&draft.channel, &draft.party), message.id);
        let moment = Moment {
            call_key: &call_key,
            now,
            input: None,
            text: message.text.as_deref(),
        };
        // A tapped option is the answer, even when its id or title is a command word.
        let tapped = message
            .reply_id
            .as_deref()
            .is_some_and(|id| draft.shown.iter().any(|shown| shown.id == id));
        let command = if tapped {
            None
        } else {
            message
                .reply_id
                .as_deref()
                .and_then(|id| compiled.command(id))
                .or_else(|| message.text.as_deref().and_then(|t| compiled.command(t)))
        };
        if let Some(goto) = command {
            self.enter(ctx, draft, goto.to_owned(), moment, turn)
                .await?;
            return Ok(Step::Prompted);
        }
        let current = draft.state.clone();
        let Some((name, state)) = current
            .as_deref()
            .and_then(|name| compiled.state(name).map(|state| (name, state)))
        else {
            // No conversation under way (or its state left the spec): start.
            self.enter(ctx, draft, compiled.start.clone(), moment, turn)
                .await?;
            return Ok(Step::Prompted);
        };
        let Some(input) = &state.input else {
            self.enter(ctx, draft, name.to_owned(), moment, turn)
                .await?;
            return Ok(Step::Prompted);
        };
        let reader = Reader {
            locale: compiled.locale,
            language: &compiled.language,
            today: now.with_timezone(&compiled.zone).date_naive(),
        };
        let answer = Answer {
            reply_id: message.reply_id.as_deref(),
            text: message.text.as_deref(),
        };
        match reader.read(input.parse, answer, &draft.shown) {
            Ok(Read::More) => {
                draft.page += 1;
                self.prompt_again(draft, state, None, message, now)?;
                Ok(Step::Prompted)
            }
            Ok(Read::Value(value)) => {
                draft.vars.insert(input.into.clone(), value.clone());
                let data = self.data(draft, Some(&value), message.text.as_deref(), now);
                let next = next_state(state, &data);
                let moment = Moment {
                    input: Some(&value),
                    ..moment
                };
                self.enter(ctx, draft, next, moment, turn).await?;
                Ok(Step::Prompted)
            }
            Err(reason) => {
                draft.attempts += 1;
                let attempt = draft.attempts;
                if attempt >= input.max_attempts {
                    self.enter(ctx, draft, input.fallback.clone(), moment, turn)
                        .await?;
                } else {
                    let retry = input.retry.as_ref().unwrap_or(&compiled.retry);
                    self.prompt_again(draft, state, Some(retry), message, now)?;
                }
                Ok(Step::Rejected {
                    reason,
                    attempt,
                    of: input.max_attempts,
                })
            }
        }
    }

    /// Sends the state's prompt again (the next page, or with the re-prompt text).
    fn prompt_again(
        &self,
        draft: &mut Session,
        state: &State,
        body: Option<&super::compile::Text>,
        message: &Inbound,
        now: DateTime<Utc>,
    ) -> Result<(), Abort> {
        let Some(prompt) = &state.prompt else {
            return Ok(());
        };
        let data = self.data(draft, None, message.text.as_deref(), now);
        let body = body.map(|text| text.render(&data)).transpose()?;
        match self.render(prompt, draft, &data, body)? {
            Rendered::Message(outgoing, shown) => {
                draft.outbox.push(outgoing);
                draft.shown = shown;
                Ok(())
            }
            Rendered::Empty(_) => Err(Abort::Failed(
                "the list to show again has no rows any more".to_owned(),
            )),
        }
    }

    /// Enters `target` and the states after it that wait for nothing, until one waits for
    /// an answer or ends the conversation.
    async fn enter(
        &self,
        ctx: &Context,
        draft: &mut Session,
        mut target: String,
        moment: Moment<'_>,
        turn: &mut Turn,
    ) -> Result<(), Abort> {
        let now = moment.now;
        let compiled = &self.inner.compiled;
        for _ in 0..MAX_STEPS {
            let Some(state) = compiled.state(&target) else {
                return Err(Abort::Failed(format!("no state `{target}`")));
            };
            draft.state = Some(target.clone());
            draft.attempts = 0;
            draft.page = 0;
            draft.shown.clear();
            if let Some(jump) = self
                .run_actions(ctx, draft, state, &target, moment, turn)
                .await?
            {
                target = jump;
                continue;
            }
            if let Some(prompt) = &state.prompt {
                let data = self.data(draft, moment.input, moment.text, now);
                match self.render(prompt, draft, &data, None)? {
                    Rendered::Message(outgoing, shown) => {
                        draft.outbox.push(outgoing);
                        draft.shown = shown;
                    }
                    Rendered::Empty(Some(empty)) => {
                        target = empty;
                        continue;
                    }
                    Rendered::Empty(None) => {
                        return Err(Abort::Failed(format!(
                            "state `{target}` lists an empty array and has no `if_empty`"
                        )))
                    }
                }
            }
            if let Some(end) = state.end {
                turn.ended = Some(end);
                match end {
                    End::Attendant => draft.handed_off = true,
                    End::Done | End::Expired => draft.end(),
                }
                return Ok(());
            }
            if state.input.is_some() {
                return Ok(());
            }
            let data = self.data(draft, moment.input, moment.text, now);
            target = next_state(state, &data);
        }
        Err(Abort::Failed(format!(
            "passed {MAX_STEPS} states without asking anything: the transitions loop"
        )))
    }

    /// Runs a state's entering actions; a conflict with `on_conflict` names the state to
    /// enter instead.
    async fn run_actions(
        &self,
        ctx: &Context,
        draft: &mut Session,
        state: &State,
        name: &str,
        moment: Moment<'_>,
        turn: &mut Turn,
    ) -> Result<Option<String>, Abort> {
        let (call_key, now) = (moment.call_key, moment.now);
        let data_of = |draft: &Session| self.data(draft, moment.input, moment.text, now);
        for (i, action) in state.enter.iter().enumerate() {
            match action {
                Action::Call {
                    service,
                    operation,
                    with,
                    into,
                    on_conflict,
                    ..
                } => {
                    let data = data_of(draft);
                    let input = match with {
                        Some(shape) => shape.render(&data)?,
                        None => Value::Object(Map::new()),
                    };
                    let op = format!("{service}.{operation}");
                    let Some(found) = self.inner.services.get(service) else {
                        return Err(Abort::Call {
                            operation: op,
                            error: format!("no service `{service}`"),
                        });
                    };
                    let call = ServiceCall::new(
                        operation.clone(),
                        input,
                        format!("{}:{call_key}:{name}:{i}", self.id()),
                    );
                    match found.call(ctx, &call).await {
                        Ok(answer) => {
                            turn.calls.push(CallReport {
                                operation: op,
                                outcome: "ok",
                                error: None,
                            });
                            if let Some(into) = into {
                                draft.vars.insert(into.clone(), answer);
                            }
                        }
                        Err(ServiceError::Conflict(why)) if on_conflict.is_some() => {
                            turn.calls.push(CallReport {
                                operation: op,
                                outcome: "conflict",
                                error: Some(why),
                            });
                            let Some((say, goto)) = on_conflict else {
                                continue;
                            };
                            if let Some(say) = say {
                                let text = say.render(&data)?;
                                draft.outbox.push(text_message(&draft.party, &text));
                            }
                            return Ok(Some(goto.clone()));
                        }
                        Err(error) => {
                            turn.calls.push(CallReport {
                                operation: op.clone(),
                                outcome: "failed",
                                error: Some(error.to_string()),
                            });
                            return Err(Abort::Call {
                                operation: op,
                                error: error.to_string(),
                            });
                        }
                    }
                }
                Action::Set(values) => {
                    for (var, shape) in values {
                        let data = data_of(draft);
                        let value = shape.render(&data)?;
                        draft.vars.insert(var.clone(), value);
                    }
                }
                Action::Clear(vars) => {
                    for var in vars {
                        draft.vars.remove(var);
                    }
                }
                Action::Say(text) => {
                    let data = data_of(draft);
                    let text = text.render(&data)?;
                    draft.outbox.push(text_message(&draft.party, &text));
                }
            }
        }
        Ok(None)
    }

    /// The record templates and rules read: the variables, plus `input`, `text`, `party`,
    /// `today` and `now`.
    fn data(
        &self,
        session: &Session,
        input: Option<&Value>,
        text: Option<&str>,
        now: DateTime<Utc>,
    ) -> Record {
        let mut data = session.vars.clone();
        data.insert("input".into(), input.cloned().unwrap_or(Value::Null));
        data.insert("text".into(), text.map_or(Value::Null, |t| json!(t)));
        data.insert("party".into(), json!(session.party));
        let local = now.with_timezone(&self.inner.compiled.zone);
        data.insert("today".into(), json!(local.date_naive().to_string()));
        data.insert("now".into(), json!(now.to_rfc3339()));
        Record::new(
            format!("{}:{}", self.id(), session.party),
            super::TURN_KIND,
            Value::Object(data),
        )
        .occurred_at(now)
    }

    fn render(
        &self,
        prompt: &Prompt,
        session: &Session,
        data: &Record,
        body: Option<String>,
    ) -> Result<Rendered, Abort> {
        let to = &session.party;
        let body_of = |text: &super::compile::Text, max: usize| -> Result<String, Abort> {
            let body = match &body {
                Some(body) => body.clone(),
                None => text.render(data)?,
            };
            Ok(fit(&body, max))
        };
        Ok(match prompt {
            Prompt::Text(text) => Rendered::Message(
                text_message(to, &body_of(text, limits::TEXT_BODY)?),
                Vec::new(),
            ),
            Prompt::Buttons {
                text,
                options,
                header,
                footer,
            } => {
                let mut payload = json!({
                    "to": to,
                    "body": body_of(text, limits::INTERACTIVE_BODY)?,
                    "buttons": options.iter().map(|o| json!({"id": o.id, "title": o.title})).collect::<Vec<_>>(),
                });
                decorate(&mut payload, header, footer);
                Rendered::Message(interactive(payload), static_shown(options))
            }
            Prompt::List {
                text,
                button,
                options,
                section,
                header,
                footer,
            } => {
                let rows: Vec<Value> = options.iter().map(row_of).collect();
                let mut payload = list_payload(
                    to,
                    body_of(text, limits::INTERACTIVE_BODY)?,
                    button,
                    section,
                    rows,
                );
                decorate(&mut payload, header, footer);
                Rendered::Message(interactive(payload), static_shown(options))
            }
            Prompt::Dynamic {
                text,
                button,
                rows,
                row,
                section,
                if_empty,
                header,
                footer,
            } => {
                let items = match data.get(rows) {
                    Some(Value::Array(items)) if !items.is_empty() => items,
                    _ => return Ok(Rendered::Empty(if_empty.clone())),
                };
                let (range, more) = page(items.len(), session.page);
                let mut shown = Vec::new();
                let mut out = Vec::new();
                // One copy of the turn's data for all rows; each row sets its `item`.
                let mut row_data = data.clone();
                for (index, item) in items.iter().enumerate().skip(range.start).take(range.len()) {
                    if let Value::Object(fields) = &mut row_data.data {
                        fields.insert("item".into(), item.clone());
                        fields.insert("index".into(), json!(index));
                    }
                    let rendered = row.render(&row_data)?;
                    let id = crate::text::text_of(&rendered["id"]);
                    let title = crate::text::text_of(&rendered["title"]);
                    if id.trim().is_empty() || title.trim().is_empty() {
                        return Err(Abort::Failed(format!(
                            "row {index} of `{rows}` has an empty id or title"
                        )));
                    }
                    if id.chars().count() > limits::ROW_ID
                        || shown.iter().any(|s: &Shown| s.id == id)
                    {
                        return Err(Abort::Failed(format!(
                            "row {index} of `{rows}` has an id that is too long or repeated: `{}`",
                            crate::text::truncate(&id, 40)
                        )));
                    }
                    let title = fit(&title, limits::ROW_TITLE);
                    let mut out_row = json!({"id": id, "title": title});
                    if let Some(description) = rendered.get("description") {
                        let description = crate::text::text_of(description);
                        if !description.trim().is_empty() {
                            out_row["description"] =
                                json!(fit(&description, limits::ROW_DESCRIPTION));
                        }
                    }
                    out.push(out_row);
                    shown.push(Shown {
                        id,
                        title,
                        value: item.clone(),
                    });
                }
                if more {
                    let more = &self.inner.compiled.more;
                    out.push(json!({"id": MORE_ID, "title": more}));
                    shown.push(Shown {
                        id: MORE_ID.to_owned(),
                        title: more.clone(),
                        value: Value::Null,
                    });
                }
                let mut payload = list_payload(
                    to,
                    body_of(text, limits::INTERACTIVE_BODY)?,
                    button,
                    section,
                    out,
                );
                decorate(&mut payload, header, footer);
                Rendered::Message(interactive(payload), shown)
            }
        })
    }

    /// Sends the outbox in order, saving what is left after a failure.
    async fn flush(
        &self,
        ctx: &Context,
        held: &mut Held,
        sent: &mut Vec<String>,
    ) -> Result<(), DeliveryError> {
        while let Some(outgoing) = held.session.outbox.first().cloned() {
            let sender = match outgoing.form {
                Form::Text => &self.inner.text,
                // Checked at build: a spec with interactive prompts has this sender.
                Form::Interactive => self.inner.interactive.as_ref().unwrap_or(&self.inner.text),
            };
            let record = Record::new(
                format!(
                    "{}:{}:{}:{}",
                    self.id(),
                    party_key(&held.session.channel, &held.session.party),
                    held.session.turn,
                    sent.len()
                ),
                super::PROMPT_KIND,
                outgoing.payload.clone(),
            )
            .occurred_at(ctx.clock().now());
            let result = match sender.prepare(&record, &outgoing.payload) {
                Ok(action) => sender.deliver(ctx, &record, &action).await,
                Err(e) => Err(DeliveryError::Prepare(e)),
            };
            match result {
                Ok(receipt) => {
                    sent.push(receipt.id.unwrap_or_default());
                    held.session.outbox.remove(0);
                }
                Err(e) => {
                    if !e.class().is_retryable() {
                        // Sending again would fail the same way.
                        held.session.outbox.clear();
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }
}

/// Releases the in-process lock and forgets it when no one else waits on it.
struct LocalGuard<'a> {
    conversation: &'a Conversation,
    key: String,
    lock: Arc<futures_util::lock::Mutex<()>>,
    _guard: futures_util::lock::OwnedMutexGuard<()>,
}

impl Drop for LocalGuard<'_> {
    fn drop(&mut self) {
        let mut map = self
            .conversation
            .inner
            .local
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // The map's and this guard's: nobody else is waiting.
        if Arc::strong_count(&self.lock) <= 3 {
            map.remove(&self.key);
        }
    }
}

fn party_key(channel: &str, party: &str) -> String {
    format!("{channel}:{party}")
}

fn idle_key(session: &Session) -> String {
    format!(
        "{}:idle:{}",
        party_key(&session.channel, &session.party),
        session.turn
    )
}

/// The first transition whose rule holds; validation makes the last one a default.
fn next_state(state: &State, data: &Record) -> String {
    state
        .next
        .iter()
        .find(|(rule, _)| rule.as_ref().is_none_or(|rule| rule.evaluate(data)))
        .or(state.next.last())
        .map(|(_, goto)| goto.clone())
        .unwrap_or_default()
}

/// The rows of a page: all of them up to ten; else nine and a "more" row, the last page
/// holding up to ten. A page past the end starts over.
fn page(total: usize, page: usize) -> (std::ops::Range<usize>, bool) {
    const PER_PAGE: usize = limits::ROWS - 1;
    if total <= limits::ROWS {
        return (0..total, false);
    }
    let start = page * PER_PAGE;
    let start = if start >= total { 0 } else { start };
    if total - start <= limits::ROWS {
        (start..total, false)
    } else {
        (start..start + PER_PAGE, true)
    }
}

fn text_message(to: &str, text: &str) -> Outgoing {
    Outgoing {
        form: Form::Text,
        payload: json!({"to": to, "text": fit(text, limits::TEXT_BODY)}),
    }
}

fn interactive(payload: Value) -> Outgoing {
    Outgoing {
        form: Form::Interactive,
        payload,
    }
}

fn decorate(payload: &mut Value, header: &Option<String>, footer: &Option<String>) {
    if let Some(header) = header {
        payload["header"] = json!(header);
    }
    if let Some(footer) = footer {
        payload["footer"] = json!(footer);
    }
}

fn row_of(option: &OptionSpec) -> Value {
    let mut row = json!({"id": option.id, "title": option.title});
    if let Some(description) = &option.description {
        row["description"] = json!(description);
    }
    row
}

fn list_payload(
    to: &str,
    body: String,
    button: &str,
    section: &Option<String>,
    rows: Vec<Value>,
) -> Value {
    let mut section_value = json!({"rows": rows});
    if let Some(title) = section {
        section_value["title"] = json!(title);
    }
    json!({"to": to, "body": body, "list": {"button": button, "sections": [section_value]}})
}

fn static_shown(options: &[OptionSpec]) -> Vec<Shown> {
    options
        .iter()
        .map(|o| Shown {
            id: o.id.clone(),
            title: o.title.clone(),
            value: json!(o.id),
        })
        .collect()
}
