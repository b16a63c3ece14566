use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::*;
use crate::http::RecordingClient;
use crate::store::{StateEntry, StateStore, StoreError};
use crate::{
    Context, DeliveryError, ManualClock, MemoryStore, ProviderError, Receipt, Record, SpecErrors,
    Target, TargetError,
};

// ---------------------------------------------------------------- helpers

/// A sender that keeps what it was asked to send.
#[derive(Clone, Default)]
struct Outbox {
    sent: Arc<Mutex<Vec<Value>>>,
    /// Fail this many sends from now on (retryable).
    failing: Arc<AtomicUsize>,
    permanent: Arc<AtomicBool>,
}

#[derive(Debug, Serialize)]
struct Payload(Value);

impl crate::Action for Payload {}

#[async_trait]
impl Target for Outbox {
    type Action = Payload;

    fn prepare(&self, _: &Record, payload: &Value) -> Result<Payload, TargetError> {
        Ok(Payload(payload.clone()))
    }

    async fn deliver(
        &self,
        _: &Context,
        _: &Record,
        action: &Payload,
    ) -> Result<Receipt, DeliveryError> {
        if self.failing.load(Ordering::SeqCst) > 0 {
            self.failing.fetch_sub(1, Ordering::SeqCst);
            let status = if self.permanent.load(Ordering::SeqCst) {
                400
            } else {
                503
            };
            return Err(ProviderError::new("fake", status, "refused").into());
        }
        let mut sent = self.sent.lock().unwrap();
        sent.push(action.0.clone());
        Ok(Receipt::new(200).with_id(format!("wamid.out.{}", sent.len())))
    }
}

impl Outbox {
    fn take(&self) -> Vec<Value> {
        std::mem::take(&mut *self.sent.lock().unwrap())
    }
}

/// A clinic's ERP in memory.
#[derive(Clone, Default)]
struct Erp {
    calls: Arc<Mutex<Vec<(String, Value)>>>,
    down: Arc<AtomicBool>,
    /// Slot ids already taken by someone else.
    taken: Arc<Mutex<Vec<String>>>,
    slots: Arc<Mutex<usize>>,
}

#[async_trait]
impl Service for Erp {
    fn describe(&self) -> String {
        "the test clinic".into()
    }

    fn operations(&self) -> Vec<String> {
        ["list_specialties", "list_slots", "book"]
            .map(String::from)
            .to_vec()
    }

    async fn call(&self, _: &Context, call: &ServiceCall) -> Result<Value, ServiceError> {
        self.calls
            .lock()
            .unwrap()
            .push((call.operation.clone(), call.input.clone()));
        if self.down.load(Ordering::SeqCst) {
            return Err(ServiceError::Unavailable("503 from the ERP".into()));
        }
        match call.operation.as_str() {
            "list_specialties" => Ok(json!([
                {"id": "card", "name": "Cardiologia"},
                {"id": "derm", "name": "Dermatologia"}
            ])),
            "list_slots" => {
                let count = (*self.slots.lock().unwrap()).max(1);
                let taken = self.taken.lock().unwrap().clone();
                Ok(Value::Array(
                    (0..count)
                        .map(|i| format!("s{i}"))
                        .filter(|id| !taken.contains(id))
                        .map(|id| {
                            let n: usize = id[1..].parse().unwrap();
                            json!({"id": id, "time": format!("{:02}:{:02}", 8 + n / 4, (n % 4) * 15),
                                   "professional": "Dra. Maria Aparecida dos Santos Oliveira Lima"})
                        })
                        .collect(),
                ))
            }
            "book" => {
                let slot = call.input["slot"].as_str().unwrap_or_default().to_owned();
                let mut taken = self.taken.lock().unwrap();
                if taken.contains(&slot) {
                    return Err(ServiceError::Conflict(format!("slot {slot} is taken")));
                }
                taken.push(slot.clone());
                Ok(json!({"booking": format!("B-{slot}")}))
            }
            other => Err(ServiceError::UnknownOperation(other.into())),
        }
    }
}

/// State that can be switched off, as a database that goes down.
struct Switch {
    inner: MemoryStore,
    down: Arc<AtomicBool>,
}

impl Switch {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError::unavailable("connection refused"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl StateStore for Switch {
    async fn get_state(
        &self,
        s: &str,
        k: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        self.check()?;
        self.inner.get_state(s, k, now).await
    }
    async fn put_state(&self, s: &str, k: &str, e: &StateEntry) -> Result<(), StoreError> {
        self.check()?;
        self.inner.put_state(s, k, e).await
    }
    async fn swap_state(
        &self,
        s: &str,
        k: &str,
        expected: Option<&Value>,
        new: &StateEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.swap_state(s, k, expected, new, now).await
    }
    async fn remove_state(&self, s: &str, k: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.remove_state(s, k).await
    }
}

const PARTY: &str = "5511999991234";

fn booking() -> Value {
    json!({
        "id": "booking",
        "start": "menu",
        "idle": {"minutes": 30, "state": "timeout"},
        "fallback": "human",
        "texts": {"apology": "Desculpe, tente de novo."},
        "commands": [{"words": ["menu", "início"], "goto": "menu"},
                     {"words": ["atendente"], "goto": "human"}],
        "states": {
            "menu": {
                "enter": [{"clear": ["slot"]}],
                "prompt": {"buttons": {"text": "Olá! O que deseja?", "options": [
                    {"id": "book", "title": "Marcar consulta"},
                    {"id": "human", "title": "Falar com alguém"}]}},
                "input": {"into": "choice", "parse": "option", "retry": "Toque numa opção."},
                "next": [{"when": {"field": "choice", "op": "eq", "value": "human"}, "goto": "human"},
                         {"goto": "specialty"}]
            },
            "specialty": {
                "enter": [{"call": {"op": "erp.list_specialties", "into": "specialties"}}],
                "prompt": {"dynamic_list": {"text": "Qual especialidade?", "button": "Especialidades",
                    "rows": "specialties", "id": "{{ item.id }}", "title": "{{ item.name }}"}},
                "input": {"into": "specialty", "parse": "option"},
                "next": [{"goto": "date"}]
            },
            "date": {
                "prompt": {"text": "Para qual dia? (dd/mm)"},
                "input": {"into": "date", "parse": "date", "retry": "Data inválida. Use dd/mm.", "max_attempts": 2},
                "next": [{"goto": "slot"}]
            },
            "slot": {
                "enter": [{"call": {"op": "erp.list_slots",
                    "with": {"specialty": "{{ specialty.id }}", "date": "{{ date }}"}, "into": "slots"}}],
                "prompt": {"dynamic_list": {"text": "Horários em {{ date }}:", "button": "Horários",
                    "rows": "slots", "id": "{{ item.id }}", "title": "{{ item.time }}",
                    "description": "{{ item.professional }}", "if_empty": "no_slots"}},
                "input": {"into": "slot", "parse": "option"},
                "next": [{"goto": "book"}]
            },
            "no_slots": {"prompt": {"text": "Sem horários nesse dia."}, "next": [{"goto": "date"}]},
            "book": {
                "enter": [{"call": {"op": "erp.book", "with": {"slot": "{{ slot.id }}", "patient": "{{ party }}"},
                    "into": "booking",
                    "on_conflict": {"say": "Esse horário acabou de ser ocupado.", "goto": "slot"}}}],
                "next": [{"goto": "done"}]
            },
            "done": {"prompt": {"text": "Consulta marcada: {{ booking.booking }} às {{ slot.time }}."}, "end": "done"},
            "human": {"prompt": {"text": "Um atendente vai falar com você."}, "end": "attendant"},
            "timeout": {"prompt": {"text": "Encerramos por falta de resposta."}, "end": "expired"}
        }
    })
}

struct Rig {
    conversation: Conversation,
    ctx: Context,
    clock: ManualClock,
    text: Outbox,
    interactive: Outbox,
    erp: Erp,
    state_down: Arc<AtomicBool>,
    next: AtomicUsize,
}

fn at() -> DateTime<Utc> {
    "2026-03-02T12:00:00Z".parse().unwrap()
}

fn rig_with(spec: Value) -> Rig {
    let spec = ConversationSpec::from_value(&spec).unwrap();
    let text = Outbox::default();
    let interactive = Outbox::default();
    let erp = Erp::default();
    let conversation = Conversation::builder(spec)
        .text_sender(text.clone())
        .interactive_sender(interactive.clone())
        .service("erp", erp.clone())
        .build()
        .unwrap();
    let clock = ManualClock::new(at());
    let state_down = Arc::new(AtomicBool::new(false));
    let ctx = Context::new(RecordingClient::new(), clock.clone(), MemoryStore::new()).with_state(
        Switch {
            inner: MemoryStore::new(),
            down: state_down.clone(),
        },
    );
    Rig {
        conversation,
        ctx,
        clock,
        text,
        interactive,
        erp,
        state_down,
        next: AtomicUsize::new(0),
    }
}

fn rig() -> Rig {
    rig_with(booking())
}

impl Rig {
    fn message(&self, text: &str) -> Inbound {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        Inbound::text(format!("wamid.in.{n}"), "1065", PARTY, text).at(self.clock.now())
    }

    fn tap(&self, id: &str) -> Inbound {
        self.message("").reply_id(id)
    }

    async fn say(&self, text: &str) -> Turn {
        let message = self.message(text);
        self.conversation.handle(&self.ctx, &message).await.unwrap()
    }

    async fn pick(&self, id: &str) -> Turn {
        let message = self.tap(id);
        self.conversation.handle(&self.ctx, &message).await.unwrap()
    }

    /// Everything sent since the last call, texts and interactives, as their bodies.
    fn sent(&self) -> (Vec<Value>, Vec<Value>) {
        (self.text.take(), self.interactive.take())
    }
}

use crate::Clock;

fn errors_of(spec: Value) -> Vec<(String, String)> {
    match ConversationSpec::from_value(&spec) {
        Ok(_) => panic!("the spec was accepted"),
        Err(errors) => errors
            .iter()
            .map(|e| (e.path.clone(), e.message.clone()))
            .collect(),
    }
}

fn has(errors: &[(String, String)], path: &str, words: &str) {
    assert!(
        errors.iter().any(|(p, m)| p == path && m.contains(words)),
        "no error at {path} containing {words:?}: {errors:#?}"
    );
}

fn edit(mut spec: Value, pointer: &str, value: Value) -> Value {
    *spec.pointer_mut(pointer).unwrap() = value;
    spec
}

// ---------------------------------------------------------------- the spec

#[test]
fn the_booking_spec_loads_and_round_trips() {
    let spec = ConversationSpec::from_value(&booking()).unwrap();
    assert_eq!(spec.states.len(), 9);
    assert_eq!(
        ConversationSpec::from_value(&spec.to_value()).unwrap(),
        spec
    );
}

#[test]
fn unknown_states_are_reported_at_every_reference() {
    let spec = edit(booking(), "/states/date/next/0/goto", json!("slots"));
    let spec = edit(spec, "/commands/0/goto", json!("home"));
    let spec = edit(
        spec,
        "/states/book/enter/0/call/on_conflict/goto",
        json!("nowhere"),
    );
    let errors = errors_of(spec);
    has(&errors, "/states/date/next/0/goto", "unknown state `slots`");
    has(&errors, "/commands/0/goto", "unknown state `home`");
    has(
        &errors,
        "/states/book/enter/0/call/on_conflict/goto",
        "unknown state `nowhere`",
    );
}

#[test]
fn unreachable_states_are_refused() {
    let mut spec = booking();
    spec["states"]["orphan"] = json!({"prompt": {"text": "?"}, "end": "done"});
    let errors = errors_of(spec);
    has(&errors, "/states/orphan", "cannot be reached from `menu`");
}

#[test]
fn every_state_needs_a_default_transition_or_an_end() {
    let spec = edit(
        booking(),
        "/states/date/next",
        json!([{"when": {"field": "date", "op": "exists"}, "goto": "slot"}]),
    );
    has(
        &errors_of(spec),
        "/states/date/next/0",
        "must be the default",
    );
    let spec = edit(booking(), "/states/date/next", json!([]));
    has(&errors_of(spec), "/states/date/next", "needs transitions");
    let spec = edit(
        booking(),
        "/states/date/next",
        json!([{"goto": "slot"}, {"goto": "menu"}]),
    );
    has(&errors_of(spec), "/states/date/next/1", "unreachable");
    let mut spec = booking();
    spec["states"]["done"]["next"] = json!([{"goto": "menu"}]);
    has(&errors_of(spec), "/states/done/next", "has no transitions");
}

#[test]
fn texts_over_metas_limits_are_refused_at_load() {
    let long = |n: usize| json!("x".repeat(n));
    let errors = errors_of(edit(
        booking(),
        "/states/menu/prompt/buttons/options/0/title",
        long(21),
    ));
    has(
        &errors,
        "/states/menu/prompt/buttons/options/0/title",
        "at most 20",
    );
    let errors = errors_of(edit(
        booking(),
        "/states/menu/prompt/buttons/text",
        long(1025),
    ));
    has(
        &errors,
        "/states/menu/prompt/buttons/text",
        "1025 characters; WhatsApp allows at most 1024",
    );
    let errors = errors_of(edit(booking(), "/states/date/prompt/text", long(4097)));
    has(&errors, "/states/date/prompt/text", "at most 4096");
    let errors = errors_of(edit(
        booking(),
        "/states/slot/prompt/dynamic_list/button",
        long(21),
    ));
    has(
        &errors,
        "/states/slot/prompt/dynamic_list/button",
        "at most 20",
    );
    let mut spec = booking();
    spec["texts"]["more"] = long(25);
    let errors = errors_of(spec);
    has(&errors, "/texts/more", "at most 24");
    // The literal part of a template counts: 1030 characters around a variable.
    let template = format!("{}{{{{ date }}}}", "x".repeat(1030));
    let errors = errors_of(edit(
        booking(),
        "/states/slot/prompt/dynamic_list/text",
        json!(template),
    ));
    has(
        &errors,
        "/states/slot/prompt/dynamic_list/text",
        "1030 characters",
    );
    // A re-prompt replaces an interactive body: the same limit.
    let errors = errors_of(edit(booking(), "/states/menu/input/retry", long(1100)));
    has(&errors, "/states/menu/input/retry", "at most 1024");
    let options: Vec<Value> = (0..4)
        .map(|i| json!({"id": format!("o{i}"), "title": format!("Opção {i}")}))
        .collect();
    let errors = errors_of(edit(
        booking(),
        "/states/menu/prompt/buttons/options",
        json!(options),
    ));
    has(
        &errors,
        "/states/menu/prompt/buttons/options",
        "4 options; WhatsApp shows 1 to 3",
    );
}

#[test]
fn a_list_has_at_most_ten_fixed_rows_with_unique_ids() {
    let rows: Vec<Value> = (0..11)
        .map(|i| json!({"id": format!("r{i}"), "title": format!("Linha {i}")}))
        .collect();
    let spec = edit(
        booking(),
        "/states/menu/prompt",
        json!({"list": {"text": "Escolha", "button": "Ver", "options": rows}}),
    );
    has(
        &errors_of(spec),
        "/states/menu/prompt/list/options",
        "11 options; WhatsApp shows 1 to 10",
    );
    let spec = edit(
        booking(),
        "/states/menu/prompt/buttons/options/1/id",
        json!("book"),
    );
    has(
        &errors_of(spec),
        "/states/menu/prompt/buttons/options/1/id",
        "id of another option",
    );
}

#[test]
fn inputs_are_checked_against_their_prompt_and_names() {
    let spec = edit(booking(), "/states/date/input/parse", json!("option"));
    has(
        &errors_of(spec),
        "/states/date/input/parse",
        "needs a buttons, list or dynamic_list",
    );
    let spec = edit(booking(), "/states/date/input/into", json!("input"));
    has(&errors_of(spec), "/states/date/input/into", "reserved");
    let spec = edit(booking(), "/states/date/input/parse", json!("weekday"));
    has(
        &errors_of(spec),
        "/states/date/input/parse",
        "unknown parser `weekday`",
    );
    let mut spec = booking();
    spec.as_object_mut().unwrap().remove("fallback");
    has(&errors_of(spec), "/states/menu/input/fallback", "missing");
    let mut spec = booking();
    spec["states"]["done"]["input"] = json!({"into": "x", "parse": "text"});
    has(
        &errors_of(spec),
        "/states/done/input",
        "waits for no answer",
    );
    let spec = edit(booking(), "/idle/state", json!("done"));
    has(&errors_of(spec), "/idle/state", "\"end\": \"expired\"");
    let spec = edit(booking(), "/commands/1/words", json!(["MENU"]));
    has(
        &errors_of(spec),
        "/commands/1/words/0",
        "already a word of command 0",
    );
}

#[test]
fn rules_templates_and_unknown_fields_are_reported_at_their_paths() {
    let spec = edit(
        booking(),
        "/states/menu/next/0/when",
        json!({"field": "choice", "op": "resembles", "value": "x"}),
    );
    let errors = errors_of(spec);
    assert!(
        errors
            .iter()
            .any(|(p, _)| p.starts_with("/states/menu/next/0/when")),
        "{errors:?}"
    );
    let spec = edit(
        booking(),
        "/states/done/prompt/text",
        json!("{{ booking | nofilter }}"),
    );
    let errors = errors_of(spec);
    assert!(
        errors
            .iter()
            .any(|(p, m)| p.starts_with("/states/done/prompt/text") && m.contains("nofilter")),
        "{errors:?}"
    );
    let mut spec = booking();
    spec["states"]["menu"]["promt"] = json!({"text": "typo"});
    let errors = errors_of(spec);
    assert!(errors[0].1.contains("unknown field"), "{errors:?}");
    assert_eq!(errors[0].0, "/states/menu/promt");
}

#[test]
fn calls_must_name_a_configured_service_and_operation() {
    let spec = ConversationSpec::from_value(&edit(
        booking(),
        "/states/book/enter/0/call/op",
        json!("erp.reserve"),
    ))
    .unwrap();
    let errors: SpecErrors = Conversation::builder(spec.clone())
        .text_sender(Outbox::default())
        .interactive_sender(Outbox::default())
        .service("erp", Erp::default())
        .build()
        .unwrap_err();
    let first = errors.iter().next().unwrap();
    assert_eq!(first.path, "/states/book/enter/0/call/op");
    assert!(first.message.contains("no operation `reserve`"), "{first}");
    let errors = Conversation::builder(spec)
        .text_sender(Outbox::default())
        .build()
        .unwrap_err();
    let text = errors.to_string();
    assert!(text.contains("unknown service `erp`"), "{text}");
    assert!(text.contains("/send/interactive"), "{text}");
}

// ---------------------------------------------------------------- running it

#[tokio::test]
async fn a_booking_runs_from_greeting_to_receipt() {
    let rig = rig();
    let turn = rig.say("oi").await;
    assert_eq!(turn.step, Step::Prompted);
    assert_eq!(turn.state.as_deref(), Some("menu"));
    assert_eq!(turn.sent, ["wamid.out.1"]);
    let (_, interactive) = rig.sent();
    assert_eq!(interactive[0]["to"], PARTY);
    assert_eq!(
        interactive[0]["buttons"][0],
        json!({"id": "book", "title": "Marcar consulta"})
    );

    let turn = rig.pick("book").await;
    assert_eq!(turn.state.as_deref(), Some("specialty"));
    assert_eq!(turn.calls[0].operation, "erp.list_specialties");
    let (_, interactive) = rig.sent();
    let rows = &interactive[0]["list"]["sections"][0]["rows"];
    assert_eq!(
        rows,
        &json!([{"id": "card", "title": "Cardiologia"}, {"id": "derm", "title": "Dermatologia"}])
    );

    // Typed by its number.
    let turn = rig.say("2").await;
    assert_eq!(turn.state.as_deref(), Some("date"));
    let (text, _) = rig.sent();
    assert_eq!(text[0]["text"], "Para qual dia? (dd/mm)");

    rig.say("10/03").await;
    let calls = rig.erp.calls.lock().unwrap().clone();
    assert_eq!(
        calls[1],
        (
            "list_slots".to_owned(),
            json!({"specialty": "derm", "date": "2026-03-10"})
        )
    );
    let (_, interactive) = rig.sent();
    let list = &interactive[0];
    assert_eq!(list["body"], "Horários em 2026-03-10:");
    let row = &list["list"]["sections"][0]["rows"][0];
    assert_eq!(row["id"], "s0");
    assert_eq!(row["title"], "08:00");
    // The professional's long name is cut to Meta's 72... it fits; titles are cut to 24.
    assert!(row["description"].as_str().unwrap().chars().count() <= 72);

    let turn = rig.pick("s0").await;
    assert_eq!(turn.ended, Some(End::Done));
    assert_eq!(turn.state, None);
    assert_eq!(turn.calls[0].operation, "erp.book");
    let (text, _) = rig.sent();
    assert_eq!(text[0]["text"], "Consulta marcada: B-s0 às 08:00.");
    let calls = rig.erp.calls.lock().unwrap().clone();
    assert_eq!(calls[2].1, json!({"slot": "s0", "patient": PARTY}));

    // The conversation is over: the next message starts it again.
    let turn = rig.say("oi de novo").await;
    assert_eq!(turn.from_state, None);
    assert_eq!(turn.state.as_deref(), Some("menu"));
}

async fn to_slots(rig: &Rig) {
    rig.say("oi").await;
    rig.pick("book").await;
    rig.pick("card").await;
    rig.say("10/03/2026").await;
}

#[tokio::test]
async fn a_list_longer_than_ten_rows_is_paged_with_a_more_row() {
    let rig = rig();
    *rig.erp.slots.lock().unwrap() = 23;
    to_slots(&rig).await;
    let rows_of = |interactive: &[Value]| -> Vec<String> {
        interactive.last().unwrap()["list"]["sections"][0]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, interactive) = rig.sent();
    let first = rows_of(&interactive);
    assert_eq!(first.len(), 10);
    assert_eq!(
        first[..9],
        (0..9).map(|i| format!("s{i}")).collect::<Vec<_>>()[..]
    );
    assert_eq!(first[9], "hubflow:more");
    assert_eq!(
        interactive.last().unwrap()["list"]["sections"][0]["rows"][9]["title"],
        "Ver mais"
    );

    let turn = rig.pick("hubflow:more").await;
    assert_eq!(turn.state.as_deref(), Some("slot"));
    assert!(turn.calls.is_empty(), "paging does not ask the ERP again");
    let second = rows_of(&rig.sent().1);
    assert_eq!(second[0], "s9");
    assert_eq!(second[9], "hubflow:more");
    rig.pick("hubflow:more").await;
    let third = rows_of(&rig.sent().1);
    assert_eq!(third, (18..23).map(|i| format!("s{i}")).collect::<Vec<_>>());
    // A row of the last page books that slot.
    let turn = rig.pick("s20").await;
    assert_eq!(turn.ended, Some(End::Done));
    assert!(rig.erp.taken.lock().unwrap().contains(&"s20".to_owned()));
}

#[tokio::test]
async fn wrong_answers_are_reprompted_then_fall_back() {
    let rig = rig();
    rig.say("oi").await;
    rig.pick("book").await;
    rig.pick("card").await;
    rig.sent();
    let turn = rig.say("quarta que vem").await;
    match &turn.step {
        Step::Rejected {
            reason,
            attempt,
            of,
        } => {
            assert!(reason.contains("not a date"), "{reason}");
            assert_eq!((*attempt, *of), (1, 2));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(turn.state.as_deref(), Some("date"));
    let (text, _) = rig.sent();
    assert_eq!(
        text,
        [json!({"to": PARTY, "text": "Data inválida. Use dd/mm."})]
    );
    // The second wrong answer (max_attempts 2) goes to the fallback: an attendant.
    let turn = rig.say("01/01/2020").await;
    assert!(
        matches!(turn.step, Step::Rejected { attempt: 2, .. }),
        "{turn:?}"
    );
    assert_eq!(turn.ended, Some(End::Attendant));
    let (text, _) = rig.sent();
    assert_eq!(text[0]["text"], "Um atendente vai falar com você.");
    // From now on messages are left to the attendant.
    let turn = rig.say("alô?").await;
    assert_eq!(turn.step, Step::HandedOff);
    assert!(turn.sent.is_empty());
    assert_eq!(rig.sent(), (vec![], vec![]));
    // Until the host resets the session.
    rig.conversation
        .reset(&rig.ctx, "1065", PARTY)
        .await
        .unwrap();
    assert_eq!(rig.say("oi").await.state.as_deref(), Some("menu"));
}

#[tokio::test]
async fn an_interactive_reprompt_keeps_its_options() {
    let rig = rig();
    rig.say("oi").await;
    rig.sent();
    let turn = rig.say("talvez").await;
    assert!(matches!(
        turn.step,
        Step::Rejected {
            attempt: 1,
            of: 3,
            ..
        }
    ));
    let (_, interactive) = rig.sent();
    assert_eq!(interactive[0]["body"], "Toque numa opção.");
    assert_eq!(interactive[0]["buttons"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn a_failed_erp_call_apologises_and_keeps_the_state() {
    let rig = rig();
    rig.say("oi").await;
    rig.pick("book").await;
    rig.pick("card").await;
    rig.sent();
    rig.erp.down.store(true, Ordering::SeqCst);
    let turn = rig.say("10/03").await;
    match &turn.step {
        Step::CallFailed { operation, error } => {
            assert_eq!(operation, "erp.list_slots");
            assert!(error.contains("503"), "{error}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(turn.state.as_deref(), Some("date"), "the state is kept");
    let (text, interactive) = rig.sent();
    assert_eq!(text[0]["text"], "Desculpe, tente de novo.");
    assert!(interactive.is_empty());
    // The same answer once the ERP is back moves on.
    rig.erp.down.store(false, Ordering::SeqCst);
    let turn = rig.say("10/03").await;
    assert_eq!(turn.state.as_deref(), Some("slot"));
}

#[tokio::test]
async fn a_slot_taken_meanwhile_leads_back_to_the_fresh_slot_list() {
    let rig = rig();
    *rig.erp.slots.lock().unwrap() = 3;
    to_slots(&rig).await;
    rig.sent();
    // Someone else books s1 between the listing and the pick.
    rig.erp.taken.lock().unwrap().push("s1".into());
    let turn = rig.pick("s1").await;
    assert_eq!(turn.step, Step::Prompted);
    assert_eq!(turn.state.as_deref(), Some("slot"));
    let outcomes: Vec<_> = turn
        .calls
        .iter()
        .map(|c| (c.operation.as_str(), c.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [("erp.book", "conflict"), ("erp.list_slots", "ok")]
    );
    let (text, interactive) = rig.sent();
    assert_eq!(text[0]["text"], "Esse horário acabou de ser ocupado.");
    let ids: Vec<_> = interactive[0]["list"]["sections"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].clone())
        .collect();
    assert_eq!(ids, [json!("s0"), json!("s2")]);
    assert_eq!(rig.pick("s2").await.ended, Some(End::Done));
}

#[tokio::test]
async fn duplicates_and_out_of_order_messages_change_nothing() {
    let rig = rig();
    let first = rig.message("oi");
    rig.conversation.handle(&rig.ctx, &first).await.unwrap();
    rig.sent();
    let again = rig.conversation.handle(&rig.ctx, &first).await.unwrap();
    assert_eq!(again.step, Step::Duplicate);
    assert_eq!(rig.sent(), (vec![], vec![]));

    rig.clock.advance(Duration::from_secs(60));
    let newer = rig.tap("book");
    let older = Inbound::text("wamid.late", "1065", PARTY, "2").at(at());
    rig.conversation.handle(&rig.ctx, &newer).await.unwrap();
    rig.sent();
    let turn = rig.conversation.handle(&rig.ctx, &older).await.unwrap();
    assert!(matches!(turn.step, Step::Stale { .. }), "{turn:?}");
    assert_eq!(turn.state.as_deref(), Some("specialty"));
    assert_eq!(rig.sent(), (vec![], vec![]));
}

#[tokio::test]
async fn two_messages_at_once_advance_the_state_one_after_the_other() {
    let rig = rig();
    rig.say("oi").await;
    rig.sent();
    let a = rig.tap("book");
    let b = rig.tap("book");
    let (first, second) = tokio::join!(
        rig.conversation.handle(&rig.ctx, &a),
        rig.conversation.handle(&rig.ctx, &b)
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    // The first moved menu → specialty; the second found the specialty list and was
    // refused there ("book" is none of its rows), instead of both leaving the menu.
    assert_eq!(first.from_state.as_deref(), Some("menu"));
    assert_eq!(second.from_state.as_deref(), Some("specialty"));
    assert!(matches!(second.step, Step::Rejected { .. }), "{second:?}");
    assert_eq!(
        rig.erp.calls.lock().unwrap().len(),
        1,
        "one listing, not two"
    );
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn two_workers_on_one_store_take_turns_through_the_store_lock() {
    let rig = rig();
    // Two processes: each its own conversation value (its own in-memory locks) and
    // context, on one store.
    let other = Conversation::builder(ConversationSpec::from_value(&booking()).unwrap())
        .text_sender(rig.text.clone())
        .interactive_sender(rig.interactive.clone())
        .service("erp", rig.erp.clone())
        .build()
        .unwrap();
    let store = Context::new(
        RecordingClient::new(),
        crate::TokioClock,
        MemoryStore::new(),
    );
    let process = || {
        Context::new(
            RecordingClient::new(),
            crate::TokioClock,
            MemoryStore::new(),
        )
        .with_state(SharedState(store.clone()))
    };
    let (one, two) = (process(), process());
    let now = Utc::now();
    let hello = Inbound::text("wamid.a0", "1065", PARTY, "oi").at(now);
    rig.conversation.handle(&one, &hello).await.unwrap();
    let a = Inbound::text("wamid.a1", "1065", PARTY, "")
        .reply_id("book")
        .at(now);
    let b = Inbound::text("wamid.b1", "1065", PARTY, "")
        .reply_id("book")
        .at(now);
    let (first, second) = tokio::join!(rig.conversation.handle(&one, &a), other.handle(&two, &b));
    let states = [first.unwrap().from_state, second.unwrap().from_state];
    assert!(
        states.contains(&Some("menu".into())) && states.contains(&Some("specialty".into())),
        "{states:?}"
    );
}

/// The state of another context, so two conversation values share one store.
struct SharedState(Context);

#[async_trait]
impl StateStore for SharedState {
    async fn get_state(
        &self,
        s: &str,
        k: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        let found = self.0.state().get_state(s, k, now).await;
        tokio::task::yield_now().await;
        found
    }
    async fn put_state(&self, s: &str, k: &str, e: &StateEntry) -> Result<(), StoreError> {
        self.0.state().put_state(s, k, e).await
    }
    async fn swap_state(
        &self,
        s: &str,
        k: &str,
        expected: Option<&Value>,
        new: &StateEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let swapped = self.0.state().swap_state(s, k, expected, new, now).await;
        tokio::task::yield_now().await;
        swapped
    }
    async fn remove_state(&self, s: &str, k: &str) -> Result<(), StoreError> {
        self.0.state().remove_state(s, k).await
    }
}

#[tokio::test]
async fn commands_work_in_every_state() {
    let rig = rig();
    rig.say("oi").await;
    rig.pick("book").await;
    rig.sent();
    let turn = rig.say("  Menu ").await;
    assert_eq!(turn.from_state.as_deref(), Some("specialty"));
    assert_eq!(turn.state.as_deref(), Some("menu"));
    let turn = rig.say("ATENDENTE").await;
    assert_eq!(turn.ended, Some(End::Attendant));
}

#[tokio::test]
async fn an_idle_session_gets_the_goodbye_and_ends() {
    let rig = rig();
    rig.say("oi").await;
    rig.pick("book").await;
    rig.sent();
    rig.clock.advance(Duration::from_secs(29 * 60));
    assert!(rig
        .conversation
        .expire_idle(&rig.ctx)
        .await
        .unwrap()
        .is_empty());
    rig.clock.advance(Duration::from_secs(60));
    let expired = rig.conversation.expire_idle(&rig.ctx).await.unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].step, Step::Expired { not_sent: None });
    assert_eq!(expired[0].from_state.as_deref(), Some("specialty"));
    let (text, _) = rig.sent();
    assert_eq!(
        text,
        [json!({"to": PARTY, "text": "Encerramos por falta de resposta."})]
    );
    // Once only.
    assert!(rig
        .conversation
        .expire_idle(&rig.ctx)
        .await
        .unwrap()
        .is_empty());
    let turn = rig.say("2").await;
    assert_eq!(turn.state.as_deref(), Some("menu"), "a new conversation");
}

#[tokio::test]
async fn a_goodbye_the_sender_refuses_is_reported_not_retried() {
    let rig = rig();
    rig.say("oi").await;
    rig.sent();
    rig.clock.advance(Duration::from_secs(31 * 60));
    rig.text.failing.store(1, Ordering::SeqCst);
    rig.text.permanent.store(true, Ordering::SeqCst);
    let expired = rig.conversation.expire_idle(&rig.ctx).await.unwrap();
    match &expired[0].step {
        Step::Expired {
            not_sent: Some(why),
        } => assert!(why.contains("400"), "{why}"),
        other => panic!("{other:?}"),
    }
    // Nothing is left to send to the next message.
    let turn = rig.say("oi").await;
    assert_eq!(turn.sent.len(), 1);
}

#[tokio::test]
async fn a_session_found_past_its_timeout_starts_afresh() {
    let rig = rig();
    rig.say("oi").await;
    rig.pick("book").await;
    rig.clock.advance(Duration::from_secs(3600));
    let turn = rig.say("2").await;
    assert!(turn.restarted);
    assert_eq!(turn.state.as_deref(), Some("menu"));
}

#[tokio::test]
async fn a_failed_send_keeps_the_prompt_for_the_retry_of_the_same_message() {
    let rig = rig();
    rig.say("oi").await;
    rig.sent();
    rig.interactive.failing.store(1, Ordering::SeqCst);
    let tap = rig.tap("book");
    let error = rig.conversation.handle(&rig.ctx, &tap).await.unwrap_err();
    assert!(error.class().is_retryable(), "{error}");
    assert_eq!(rig.sent(), (vec![], vec![]));
    // The flow retries the same message: the state moved once, the prompt goes out now.
    let turn = rig.conversation.handle(&rig.ctx, &tap).await.unwrap();
    assert_eq!(turn.step, Step::Duplicate);
    assert_eq!(turn.sent, ["wamid.out.1"]);
    let (_, interactive) = rig.sent();
    assert_eq!(interactive[0]["body"], "Qual especialidade?");
    assert_eq!(
        rig.erp.calls.lock().unwrap().len(),
        1,
        "the ERP was asked once"
    );
}

#[tokio::test]
async fn a_store_that_is_down_is_a_retryable_error_and_changes_nothing() {
    let rig = rig();
    rig.say("oi").await;
    rig.sent();
    rig.state_down.store(true, Ordering::SeqCst);
    let tap = rig.tap("book");
    let error = rig.conversation.handle(&rig.ctx, &tap).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Store(_)), "{error}");
    assert!(error.class().is_retryable());
    assert_eq!(rig.sent(), (vec![], vec![]));
    assert!(rig.erp.calls.lock().unwrap().is_empty());
    rig.state_down.store(false, Ordering::SeqCst);
    let turn = rig.conversation.handle(&rig.ctx, &tap).await.unwrap();
    assert_eq!(turn.state.as_deref(), Some("specialty"));
}

#[tokio::test]
async fn as_a_target_it_reads_webhook_records_and_ticks() {
    let rig = rig();
    let record = Record::new(
        "wamid.X",
        "whatsapp.message",
        json!({"id": "wamid.X", "from": "+55 11 99999-1234", "phone_number_id": "1065",
               "timestamp": "2026-03-02T12:00:00Z", "type": "text", "text": "oi", "reply_id": null}),
    );
    let action = rig.conversation.prepare(&record, &record.data).unwrap();
    let TurnAction::Message(message) = &action else {
        panic!("{action:?}")
    };
    assert_eq!(message.from, PARTY);
    assert_eq!(message.channel, "1065");
    assert_eq!(crate::Action::recipient(&action), Some(PARTY));
    let receipt = rig
        .conversation
        .deliver(&rig.ctx, &record, &action)
        .await
        .unwrap();
    assert_eq!(receipt.id.as_deref(), Some("wamid.out.1"));
    assert_eq!(receipt.details["step"], "prompted");
    assert_eq!(receipt.details["state"], "menu");

    let no_from = Record::new("k", "whatsapp.message", json!({"text": "oi"}));
    let error = rig
        .conversation
        .prepare(&no_from, &no_from.data)
        .unwrap_err();
    assert!(error.to_string().contains("from"), "{error}");
    let bad_time = Record::new(
        "k",
        "whatsapp.message",
        json!({"from": PARTY, "timestamp": "yesterday"}),
    );
    assert!(rig.conversation.prepare(&bad_time, &bad_time.data).is_err());

    rig.clock.advance(Duration::from_secs(40 * 60));
    let tick = tick(rig.clock.now());
    let action = rig.conversation.prepare(&tick, &tick.data).unwrap();
    assert!(matches!(action, TurnAction::Sweep { .. }));
    let receipt = rig
        .conversation
        .deliver(&rig.ctx, &tick, &action)
        .await
        .unwrap();
    assert_eq!(receipt.details["expired"][0]["party"], PARTY);
}

#[tokio::test]
async fn a_template_that_cannot_render_apologises_and_reports_the_error() {
    let spec = edit(
        booking(),
        "/states/date/prompt/text",
        json!("Para {{ specialty.nome }}?"),
    );
    let rig = rig_with(spec);
    rig.say("oi").await;
    rig.pick("book").await;
    rig.sent();
    let turn = rig.pick("card").await;
    match &turn.step {
        Step::Failed { error } => assert!(error.contains("specialty.nome"), "{error}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(turn.state.as_deref(), Some("specialty"));
    assert_eq!(rig.sent().0[0]["text"], "Desculpe, tente de novo.");
}

#[tokio::test]
async fn transitions_that_loop_without_asking_end_the_turn_with_an_error() {
    let mut spec = booking();
    spec["states"]["no_slots"] = json!({"next": [{"goto": "loop"}]});
    spec["states"]["loop"] = json!({"next": [{"goto": "no_slots"}]});
    let rig = rig_with(spec);
    rig.erp.taken.lock().unwrap().push("s0".into());
    to_slots(&rig).await;
    // list_slots answered [] (its only slot is taken): if_empty → no_slots ↔ loop.
    let turns = rig.erp.calls.lock().unwrap().len();
    assert!(turns >= 2);
    let (text, _) = rig.sent();
    assert_eq!(text.last().unwrap()["text"], "Desculpe, tente de novo.");
}

#[tokio::test]
async fn a_session_entry_that_cannot_be_read_starts_the_conversation_afresh() {
    let rig = rig();
    rig.ctx
        .state()
        .put_state(
            "conversation:booking",
            &format!("1065:{PARTY}"),
            &StateEntry::new(json!({"state": 42, "vars": "not an object"})),
        )
        .await
        .unwrap();
    let turn = rig.say("oi").await;
    assert_eq!(turn.from_state, None);
    assert_eq!(turn.state.as_deref(), Some("menu"));
}

#[tokio::test]
async fn a_tapped_option_titled_like_a_command_is_the_answer() {
    let spec = edit(
        booking(),
        "/states/menu/prompt/buttons/options/1",
        json!({"id": "menu", "title": "Menu"}),
    );
    let rig = rig_with(spec);
    rig.say("oi").await;
    // Tapped: the option (its id and title are both a command word).
    let tap = rig.message("Menu").reply_id("menu");
    let turn = rig.conversation.handle(&rig.ctx, &tap).await.unwrap();
    assert_eq!(turn.from_state.as_deref(), Some("menu"));
    assert_eq!(turn.state.as_deref(), Some("specialty"), "{turn:?}");
    // Typed: the command.
    let turn = rig.say("menu").await;
    assert_eq!(turn.state.as_deref(), Some("menu"));
}

#[tokio::test]
async fn the_states_entered_see_the_answer_just_given() {
    let mut spec = booking();
    spec["states"]["date"]["next"] = json!([{"goto": "echo"}]);
    spec["states"]["echo"] = json!({
        "enter": [{"set": {"typed": "{{ text }}", "read": "{{ input }}"}}],
        "prompt": {"text": "Você escreveu {{ text }}, que li como {{ input }} ({{ read }})."},
        "next": [{"goto": "slot"}]
    });
    let rig = rig_with(spec);
    rig.say("oi").await;
    rig.pick("book").await;
    rig.pick("card").await;
    rig.sent();
    rig.say("10/03").await;
    let (text, _) = rig.sent();
    assert_eq!(
        text[0]["text"],
        "Você escreveu 10/03, que li como 2026-03-10 (2026-03-10)."
    );
}

#[test]
fn labels_are_not_templates_and_text_limits_start_at_one() {
    let spec = edit(
        booking(),
        "/states/menu/prompt/buttons/options/0/title",
        json!("{{ name }}"),
    );
    has(
        &errors_of(spec),
        "/states/menu/prompt/buttons/options/0/title",
        "shown as written",
    );
    let spec = edit(
        booking(),
        "/states/date/input/parse",
        json!({"text": {"min": 0, "max": 5}}),
    );
    has(
        &errors_of(spec),
        "/states/date/input/parse",
        "min is at least 1",
    );
}

#[test]
fn an_expired_end_is_only_the_idle_state() {
    let mut spec = booking();
    spec["states"]["late"] = json!({"prompt": {"text": "tarde"}, "end": "expired"});
    spec["states"]["no_slots"]["next"] = json!([{"goto": "late"}]);
    has(
        &errors_of(spec),
        "/states/late/end",
        "only by the idle timeout",
    );
}

#[test]
fn a_prompt_that_fails_to_load_is_reported_once() {
    let spec = edit(booking(), "/states/date/prompt/text", json!(" "));
    let errors = errors_of(spec);
    has(&errors, "/states/date/prompt/text", "empty text");
    assert!(
        !errors.iter().any(|(p, _)| p == "/states/date/input"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn a_dynamic_list_has_a_header_and_a_footer_when_the_spec_gives_them() {
    let mut spec = booking();
    spec["states"]["specialty"]["prompt"]["dynamic_list"]["header"] = json!("Agenda");
    spec["states"]["specialty"]["prompt"]["dynamic_list"]["footer"] = json!("Clínica Centro");
    let rig = rig_with(spec);
    rig.say("oi").await;
    rig.pick("book").await;
    let (_, interactive) = rig.sent();
    let list = interactive.last().unwrap();
    assert_eq!(
        (list["header"].clone(), list["footer"].clone()),
        (json!("Agenda"), json!("Clínica Centro"))
    );
    let mut spec = booking();
    spec["states"]["specialty"]["prompt"]["dynamic_list"]["footer"] = json!("x".repeat(61));
    has(
        &errors_of(spec),
        "/states/specialty/prompt/dynamic_list/footer",
        "at most 60",
    );
}
