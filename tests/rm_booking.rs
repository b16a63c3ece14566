//! The ready-made booking conversation (`examples/flows/rm-booking.json`) end to end: signed
//! WhatsApp webhooks in, the conversation flow, its prompts out through the WhatsApp
//! targets, its ERP calls through `rm.scheduling`, all over HTTP against the local
//! stand-in of the clinic's RM and of Graph that the `rm_booking` example uses too.
#![cfg(all(feature = "rm", feature = "whatsapp"))]

#[path = "../examples/support/clinic.rs"]
mod clinic;
mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use clinic::{option_id, readable, Clinic, PHONE_NUMBER_ID};
use common::{harness, Harness};
use hubflow::conversation::tick;
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::whatsapp::remember_inbound;
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
use hubflow::{Clock, Flow, FlowSpec, InboundRequest, Outcome, Record, RunReport, WebhookSource};
use secrecy::SecretString;
use serde_json::{json, Value};

const APP_SECRET: &str = "app-secret-for-tests";
/// Ana: the clinic has her phone.
const ANA: &str = "5511999991001";
/// Bruno: the clinic knows him by CPF only.
const BRUNO: &str = "5521977770002";
/// Someone the clinic does not know.
const STRANGER: &str = "5531966660003";

fn example_spec() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/flows/rm-booking.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn secrets() -> MapSecrets {
    MapSecrets::new()
        .with("RM_PASSWORD", "rm-pa55-secret")
        .with("WHATSAPP_TOKEN", "wa-secret-token")
}

fn build(clinic: &Clinic, spec: &Value) -> Result<Flow, hubflow::SpecErrors> {
    let connections = Connections::from_json(&clinic.connections().to_string()).unwrap();
    FlowSpec::from_value(spec)?.build(&Registry::default(), &connections, &secrets())
}

struct Rig {
    clinic: Clinic,
    flow: Flow,
    h: Harness,
    webhook: WhatsAppWebhook,
    next: AtomicUsize,
    /// The last interactive message the clinic sent.
    last: std::sync::Mutex<Value>,
}

/// The harness clock starts at 2026-03-02T08:00Z (05:00 in São Paulo): "amanhã" is 3 March.
async fn rig() -> Rig {
    let clinic = Clinic::start(&["2026-03-03", "2026-03-04"]).await;
    let flow = build(&clinic, &example_spec()).unwrap_or_else(|e| panic!("{e}"));
    Rig {
        clinic,
        flow,
        h: harness(),
        webhook: WhatsAppWebhook::new(SecretString::from("verify"), SecretString::from(APP_SECRET)),
        next: AtomicUsize::new(0),
        last: std::sync::Mutex::new(Value::Null),
    }
}

impl Rig {
    /// A message as Meta posts it; its id is new each time.
    fn message(&self, from: &str, content: Value) -> Value {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let mut message = json!({"from": from, "id": format!("wamid.in.{n}"),
                                 "timestamp": self.h.clock.now().timestamp().to_string()});
        if let (Value::Object(message), Value::Object(content)) = (&mut message, content) {
            message.extend(content);
        }
        message
    }

    fn text(&self, from: &str, text: &str) -> Value {
        self.message(from, json!({"type": "text", "text": {"body": text}}))
    }

    /// A tap on an option of the last interactive message: a list row or a button, as
    /// that message was.
    fn tap(&self, from: &str, id: &str) -> Value {
        let last = self.last.lock().unwrap().clone();
        let kind = if last["interactive"]["type"] == "list" {
            "list_reply"
        } else {
            "button_reply"
        };
        self.message(
            from,
            json!({"type": "interactive", "interactive": {"type": kind, kind: {"id": id, "title": id}}}),
        )
    }

    /// Signs and hands messages to the webhook, records the windows, runs the flow.
    async fn deliver(&self, messages: Vec<Value>) -> RunReport {
        let body = json!({
            "object": "whatsapp_business_account",
            "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "Paciente"}, "wa_id": messages[0]["from"]}],
                "messages": messages
            }}]}]
        })
        .to_string();
        let request = InboundRequest::new(hubflow::http::Method::Post, "/hooks/wa", body.clone())
            .header(
                "X-Hub-Signature-256",
                sign(&SecretString::from(APP_SECRET), body.as_bytes()),
            );
        let reply = self.webhook.handle(&request);
        assert_eq!(reply.status, 200, "{}", reply.body);
        self.process(reply.records).await
    }

    async fn process(&self, records: Vec<Record>) -> RunReport {
        remember_inbound(&self.h.ctx, &records).await.unwrap();
        self.flow.process(&self.h.ctx, records).await
    }

    /// One message; what the clinic answered, as people read it, and the messages.
    async fn send(&self, message: Value) -> (Value, Vec<Value>) {
        let report = self.deliver(vec![message]).await;
        let details = details(&report);
        let sent = self.clinic.take_sent();
        if let Some(last) = sent.iter().rev().find(|m| m["type"] == "interactive") {
            *self.last.lock().unwrap() = last.clone();
        }
        (details, sent)
    }

    async fn say(&self, from: &str, text: &str) -> (Value, Vec<Value>) {
        self.send(self.text(from, text)).await
    }

    async fn pick(&self, from: &str, id: &str) -> (Value, Vec<Value>) {
        self.send(self.tap(from, id)).await
    }
}

/// The receipt details (the turn) of the report's only record.
fn details(report: &RunReport) -> Value {
    assert_eq!(report.records.len(), 1, "{report:#?}");
    match &report.records[0].outcome {
        Outcome::Delivered { receipt, .. } => receipt.details.clone(),
        other => panic!("expected delivered, got {other:?}"),
    }
}

fn texts(sent: &[Value]) -> Vec<String> {
    sent.iter().map(readable).collect()
}

/// Ana up to the list of tomorrow's cardiology slots with any professional.
async fn ana_to_slots(rig: &Rig) -> Vec<Value> {
    rig.say(ANA, "oi").await;
    rig.pick(ANA, "book").await;
    rig.pick(ANA, "CARD").await;
    rig.pick(ANA, "any").await;
    let (turn, sent) = rig.say(ANA, "amanhã").await;
    assert_eq!(turn["state"], "slots", "{turn}");
    sent
}

#[tokio::test]
async fn a_patient_on_file_books_a_consultation_end_to_end() {
    let rig = rig().await;
    let (turn, sent) = rig.say(ANA, "oi").await;
    assert_eq!(turn["step"], "prompted");
    assert_eq!(turn["state"], "menu");
    assert_eq!(turn["calls"][0]["operation"], "erp.find_patient");
    assert_eq!(texts(&sent), ["Ana Souza, como posso ajudar?\n    [Marcar consulta] [Minhas consultas] [Falar com atendente]"]);
    // The patient was found by the phone, as WhatsApp reports it.
    let (_, path, parameters) = rig.clinic.requests()[0].clone();
    assert_eq!(path, "HF.PACIENTE");
    assert_eq!(parameters["CELULAR"], ANA);

    let (_, sent) = rig.pick(ANA, "book").await;
    assert_eq!(
        texts(&sent),
        ["Qual especialidade você procura?\n    1. Cardiologia\n    2. Dermatologia"]
    );
    let (_, sent) = rig.pick(ANA, "CARD").await;
    assert!(texts(&sent)[0].starts_with("Tem preferência de profissional em Cardiologia?"));
    let (_, sent) = rig.pick(ANA, "any").await;
    assert_eq!(
        texts(&sent),
        ["Para qual dia? Envie a data (dd/mm) ou \"amanhã\"."]
    );

    // Fourteen free times tomorrow: nine and "more", then the other five.
    let (_, sent) = rig.say(ANA, "amanhã").await;
    let list = &sent[0];
    let page = readable(list);
    assert!(
        page.starts_with("Horários livres em 03/03/2026 (Cardiologia):"),
        "{page}"
    );
    let rows = list["interactive"]["action"]["sections"][0]["rows"]
        .as_array()
        .unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(rows[9]["id"], "hubflow:more");
    assert_eq!(rows[9]["title"], "Ver mais opções");
    // A long name is cut to Meta's 72 characters for a description, never refused.
    assert!(rows.iter().all(|r| r["description"]
        .as_str()
        .is_none_or(|d| d.chars().count() <= 72)));
    let parameters = rig.clinic.requests().last().unwrap().2.clone();
    assert_eq!(
        parameters,
        json!({"CODESPECIALIDADE": "CARD", "CODPROFISSIONAL": "", "DATAINI": "2026-03-03", "DATAFIM": "2026-03-03"})
    );

    let (turn, sent) = rig.pick(ANA, "hubflow:more").await;
    assert!(
        turn["calls"].is_null(),
        "paging asks the ERP nothing: {turn}"
    );
    let rows = sent[0]["interactive"]["action"]["sections"][0]["rows"]
        .as_array()
        .unwrap();
    assert_eq!(rows.len(), 5);
    let chosen = option_id(&sent[0], 2);

    let (_, sent) = rig.pick(ANA, &chosen).await;
    let question = readable(&sent[0]);
    assert!(
        question.starts_with("Confirma Cardiologia com Dr"),
        "{question}"
    );
    assert!(question.contains("em 03/03/2026 às"), "{question}");
    let (turn, sent) = rig.pick(ANA, "yes").await;
    assert_eq!(turn["ended"], "done");
    let receipt = readable(&sent[0]);
    assert!(
        receipt.starts_with("Consulta marcada! ✅\nCardiologia com Dr"),
        "{receipt}"
    );
    assert!(receipt.contains("Protocolo: AG-1001"), "{receipt}");
    assert!(receipt.contains("Unidade Centro"), "{receipt}");
    let booked = rig.clinic.appointments();
    assert_eq!(booked.len(), 1);
    assert_eq!(
        (booked[0].patient.as_str(), booked[0].slot.as_str()),
        ("P1", chosen.as_str())
    );
    // The write went to the DataServer with the idempotency key of this step.
    let (method, path, body) = rig.clinic.requests().last().unwrap().clone();
    assert_eq!((method.as_str(), path.as_str()), ("POST", "HcAgendaData"));
    assert_eq!(body["CODPACIENTE"], "P1");
    assert_eq!(body["ORIGEM"], "WhatsApp");
}

#[tokio::test]
async fn a_patient_known_by_cpf_is_identified_with_the_birth_date() {
    let rig = rig().await;
    let (_, sent) = rig.say(BRUNO, "Bom dia").await;
    assert!(texts(&sent)[0].contains("informe o seu CPF"));
    let (_, sent) = rig.say(BRUNO, "123.456.789-09").await;
    assert_eq!(
        texts(&sent),
        ["Obrigado! Agora, a sua data de nascimento (dd/mm/aaaa)."]
    );
    let (turn, sent) = rig.say(BRUNO, "20/11/1975").await;
    assert_eq!(turn["state"], "menu");
    assert!(texts(&sent)[0].starts_with("Bruno Lima, como posso ajudar?"));
    let lookup = rig.clinic.requests().last().unwrap().2.clone();
    assert_eq!(
        lookup,
        json!({"CPF": "12345678909", "DTNASC": "1975-11-20", "CELULAR": ""})
    );
}

#[tokio::test]
async fn a_wrong_cpf_twice_hands_the_chat_to_an_attendant() {
    let rig = rig().await;
    rig.say(STRANGER, "oi").await;
    let (turn, sent) = rig.say(STRANGER, "123.456.789-00").await;
    assert_eq!(turn["step"], "rejected");
    assert!(
        turn["reason"].as_str().unwrap().contains("check digits"),
        "{turn}"
    );
    assert_eq!(
        (turn["attempt"].as_u64(), turn["of"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(
        texts(&sent),
        ["Esse CPF não parece válido. Confira os 11 dígitos e envie de novo."]
    );
    let (turn, sent) = rig.say(STRANGER, "1234").await;
    assert_eq!(turn["step"], "rejected");
    assert_eq!(turn["ended"], "attendant");
    assert_eq!(
        texts(&sent),
        ["Certo! Um atendente vai continuar esta conversa por aqui em instantes."]
    );
    let (turn, sent) = rig.say(STRANGER, "alguém aí?").await;
    assert_eq!(turn["step"], "handed_off");
    assert!(
        sent.is_empty(),
        "the bot stays quiet while a person answers"
    );
}

#[tokio::test]
async fn a_valid_cpf_that_is_not_on_file_offers_another_try() {
    let rig = rig().await;
    rig.say(STRANGER, "oi").await;
    rig.say(STRANGER, "52998224725").await;
    let (turn, sent) = rig.say(STRANGER, "02/02/1990").await;
    assert_eq!(turn["state"], "not_found");
    assert!(texts(&sent)[0].starts_with("Não encontramos um cadastro"));
    let (turn, _) = rig.pick(STRANGER, "again").await;
    assert_eq!(turn["state"], "ask_cpf");
}

#[tokio::test]
async fn my_appointments_lists_them_and_cancels_the_one_picked() {
    let rig = rig().await;
    // Two bookings first: the first free time tomorrow, twice (08:00, then 08:30).
    for _ in 0..2 {
        let sent = ana_to_slots(&rig).await;
        let slot = option_id(&sent[0], 1);
        rig.pick(ANA, &slot).await;
        rig.pick(ANA, "yes").await;
    }
    assert_eq!(rig.clinic.appointments().len(), 2);
    rig.say(ANA, "oi").await;
    let (_, sent) = rig.pick(ANA, "mine").await;
    let list = readable(&sent[0]);
    assert!(
        list.starts_with("Estas são as suas próximas consultas."),
        "{list}"
    );
    assert!(list.contains("1. 03/03/2026 08:00"), "{list}");
    assert!(list.contains("2. 03/03/2026 08:30"), "{list}");
    let second = option_id(&sent[0], 2);
    let (_, sent) = rig.pick(ANA, &second).await;
    assert!(readable(&sent[0])
        .starts_with("Cancelar a consulta de Cardiologia em 03/03/2026 às 08:30?"));
    let (turn, sent) = rig.pick(ANA, "yes").await;
    assert_eq!(turn["ended"], "done");
    assert_eq!(
        texts(&sent),
        ["Pronto: a consulta de 03/03/2026 às 08:30 foi cancelada e o horário, liberado."]
    );
    let left = rig.clinic.appointments();
    assert_eq!(left.len(), 1, "exactly the one picked is cancelled");
    assert_ne!(left[0].id, second);
    let (method, path, body) = rig.clinic.requests().last().unwrap().clone();
    assert_eq!(
        (method.as_str(), path),
        ("PUT", format!("HcAgendaData/{second}"))
    );
    assert_eq!(body["STATUS"], "C");
}

#[tokio::test]
async fn a_slot_taken_between_listing_and_booking_leads_back_to_the_slot_list() {
    let rig = rig().await;
    let sent = ana_to_slots(&rig).await;
    let slot = option_id(&sent[0], 1);
    rig.pick(ANA, &slot).await;
    // The front desk books it meanwhile.
    rig.clinic.take_slot(&slot);
    let (turn, sent) = rig.pick(ANA, "yes").await;
    assert_eq!(turn["state"], "slots");
    let outcomes: Vec<_> = turn["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["outcome"].clone())
        .collect();
    assert_eq!(outcomes, [json!("conflict"), json!("ok")]);
    let texts = texts(&sent);
    assert_eq!(
        texts[0],
        "Que pena: esse horário acabou de ser ocupado. Veja os horários que ainda estão livres."
    );
    assert!(texts[1].starts_with("Horários livres em 03/03/2026"));
    assert_ne!(
        option_id(&sent[1], 1),
        slot,
        "the taken slot is not offered again"
    );
    assert!(rig.clinic.appointments().is_empty());
    // Another pick books.
    let other = option_id(&sent[1], 1);
    rig.pick(ANA, &other).await;
    let (turn, _) = rig.pick(ANA, "yes").await;
    assert_eq!(turn["ended"], "done");
    assert_eq!(rig.clinic.appointments()[0].slot, other);
}

#[tokio::test]
async fn the_erp_down_gets_the_apology_and_the_state_is_kept() {
    let rig = rig().await;
    rig.say(ANA, "oi").await;
    rig.pick(ANA, "book").await;
    rig.pick(ANA, "CARD").await;
    rig.pick(ANA, "any").await;
    rig.clinic.set_down(true);
    let (turn, sent) = rig.say(ANA, "amanhã").await;
    assert_eq!(turn["step"], "call_failed");
    assert_eq!(turn["operation"], "erp.list_slots");
    assert!(turn["error"].as_str().unwrap().contains("503"), "{turn}");
    assert_eq!(turn["state"], "date");
    assert_eq!(texts(&sent), ["Desculpe, não consegui consultar a agenda agora. Por favor, tente de novo em alguns minutos."]);
    assert!(!format!("{turn}").contains("rm-pa55-secret"));
    rig.clinic.set_down(false);
    let (turn, _) = rig.say(ANA, "amanhã").await;
    assert_eq!(turn["state"], "slots");
}

#[tokio::test]
async fn duplicate_and_out_of_order_webhooks_change_nothing() {
    let rig = rig().await;
    let hello = rig.text(ANA, "oi");
    rig.send(hello.clone()).await;
    // Meta delivers the same message again: the flow's claim on its wamid answers.
    let report = rig.deliver(vec![hello]).await;
    assert!(
        matches!(report.records[0].outcome, Outcome::Duplicate { .. }),
        "{report:#?}"
    );
    assert!(rig.clinic.take_sent().is_empty());

    // The tap, written a minute later, arrives before a text written first.
    let early = rig.text(ANA, "1");
    rig.h.clock.advance(Duration::from_secs(60));
    let (turn, _) = rig.pick(ANA, "book").await;
    assert_eq!(turn["state"], "specialty");
    let (turn, sent) = rig.send(early).await;
    assert_eq!(turn["step"], "stale");
    assert_eq!(turn["state"], "specialty");
    assert!(sent.is_empty());
}

#[tokio::test]
async fn two_messages_at_once_from_one_patient_move_the_state_once_each() {
    let rig = rig().await;
    rig.say(ANA, "oi").await;
    let before = rig.clinic.requests().len();
    // A double tap: both in one webhook body, processed side by side by the flow.
    let report = rig
        .deliver(vec![rig.tap(ANA, "book"), rig.tap(ANA, "book")])
        .await;
    let steps: Vec<Value> = report
        .records
        .iter()
        .map(|r| match &r.outcome {
            Outcome::Delivered { receipt, .. } => {
                json!([receipt.details["from_state"], receipt.details["step"]])
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert!(steps.contains(&json!(["menu", "prompted"])), "{steps:?}");
    assert!(
        steps.contains(&json!(["specialty", "rejected"])),
        "{steps:?}"
    );
    let listings = rig.clinic.requests()[before..]
        .iter()
        .filter(|(_, path, _)| path == "HF.ESPECIALIDADES")
        .count();
    assert_eq!(listings, 1, "one listing, not two");
}

#[tokio::test]
async fn an_idle_conversation_says_goodbye_while_the_window_is_open() {
    let rig = rig().await;
    rig.say(ANA, "oi").await;
    rig.h.clock.advance(Duration::from_secs(20 * 60));
    let report = rig.process(vec![tick(rig.h.clock.now())]).await;
    assert_eq!(details(&report)["expired"], json!([]));
    rig.h.clock.advance(Duration::from_secs(11 * 60));
    let report = rig.process(vec![tick(rig.h.clock.now())]).await;
    let expired = &details(&report)["expired"];
    assert_eq!(expired[0]["party"], ANA);
    assert_eq!(expired[0]["step"], "expired");
    assert_eq!(expired[0]["from_state"], "menu");
    assert_eq!(
        texts(&rig.clinic.take_sent()),
        ["Encerramos este atendimento por falta de resposta. Quando quiser continuar, é só mandar uma mensagem."]
    );
    // The next message is a new conversation.
    let (turn, _) = rig.say(ANA, "oi").await;
    assert!(turn["from_state"].is_null(), "{turn}");
}

#[tokio::test]
async fn a_goodbye_after_the_window_closed_is_not_sent_and_says_why() {
    let rig = rig().await;
    rig.say(ANA, "oi").await;
    // The host's scheduler was down for a day: the 24-hour window has closed.
    rig.h.clock.advance(Duration::from_secs(25 * 3600));
    let report = rig.process(vec![tick(rig.h.clock.now())]).await;
    let expired = &details(&report)["expired"][0];
    assert_eq!(expired["step"], "expired");
    let why = expired["not_sent"].as_str().unwrap();
    assert!(why.contains("window"), "{why}");
    assert!(rig.clinic.take_sent().is_empty());
}

#[tokio::test]
async fn asking_for_an_attendant_works_from_any_state() {
    let rig = rig().await;
    rig.say(ANA, "oi").await;
    rig.pick(ANA, "book").await;
    let (turn, sent) = rig.say(ANA, "Atendente").await;
    assert_eq!(turn["from_state"], "specialty");
    assert_eq!(turn["ended"], "attendant");
    assert_eq!(
        texts(&sent),
        ["Certo! Um atendente vai continuar esta conversa por aqui em instantes."]
    );
    let (turn, sent) = rig.say(ANA, "sair").await;
    assert_eq!(turn["step"], "handed_off");
    assert!(sent.is_empty());
}

#[tokio::test]
async fn specs_with_broken_states_or_calls_are_refused_at_load_with_their_paths() {
    let clinic = Clinic::start(&[]).await;
    let paths = |spec: Value| -> Vec<String> {
        match build(&clinic, &spec) {
            Ok(_) => panic!("accepted"),
            Err(errors) => errors.iter().map(|e| e.path.clone()).collect(),
        }
    };
    let conversation = "/target/conversation/spec";
    let mut spec = example_spec();
    spec["target"]["conversation"]["spec"]["states"]["date"]["next"][0]["goto"] = json!("slot");
    assert_eq!(
        paths(spec),
        [format!("{conversation}/states/date/next/0/goto")]
    );

    let mut spec = example_spec();
    spec["target"]["conversation"]["spec"]["states"]["orphan"] =
        json!({"prompt": {"text": "?"}, "end": "done"});
    assert_eq!(paths(spec), [format!("{conversation}/states/orphan")]);

    let mut spec = example_spec();
    spec["target"]["conversation"]["spec"]["states"]["menu"]["prompt"]["buttons"]["options"][0]
        ["title"] = json!("Marcar uma consulta nova");
    assert_eq!(
        paths(spec),
        [format!(
            "{conversation}/states/menu/prompt/buttons/options/0/title"
        )]
    );

    let mut spec = example_spec();
    spec["target"]["conversation"]["spec"]["states"]["book"]["enter"][0]["call"]["op"] =
        json!("erp.reserve");
    assert_eq!(
        paths(spec),
        [format!("{conversation}/states/book/enter/0/call/op")]
    );

    let mut spec = example_spec();
    let operations =
        &mut spec["target"]["conversation"]["services"]["erp"]["rm.scheduling"]["operations"];
    operations["reserve"] = operations["book"].clone();
    assert_eq!(
        paths(spec),
        ["/target/conversation/services/erp/rm.scheduling/operations/reserve"]
    );

    let mut spec = example_spec();
    spec["target"]["conversation"]["services"]["erp"]["rm.scheduling"]["operations"]["book"]
        ["route"]["path"] = json!("/RMSRestDataServer/rest/HcAgendaData/{room}");
    assert_eq!(
        paths(spec),
        ["/target/conversation/services/erp/rm.scheduling/operations/book/route/path"]
    );
}

/// The mapping for a plain REST ERP that docs/rm.md shows, in place of the consulta SQL one.
#[tokio::test]
async fn the_plain_rest_mapping_of_the_guide_books_too() {
    use wiremock::matchers::{header, method, path, query_param};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    let erp = MockServer::start().await;
    let answer = |value: Value| ResponseTemplate::new(200).set_body_json(value);
    Mock::given(method("GET"))
        .and(path("/api/v1/patients"))
        .and(query_param("phone", ANA))
        .respond_with(answer(
            json!({"items": [{"id": "P-9", "name": "Ana Souza"}]}),
        ))
        .mount(&erp)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/specialties"))
        .respond_with(answer(
            json!({"items": [{"id": "cardio", "name": "Cardiologia"}]}),
        ))
        .mount(&erp)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/slots"))
        .and(query_param("specialty", "cardio"))
        .and(query_param("from", "2026-03-03"))
        .respond_with(answer(
            json!({"items": [{"id": "S-1", "date": "03/03/2026", "time": "08:00",
            "professional": "Dra. Helena Prado", "professional_id": "PR1", "location": "Centro"}]}),
        ))
        .mount(&erp)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/v1/appointments"))
        .and(header(
            "idempotency-key",
            "rm-booking:106540352242922:5511999991001:wamid.in.6:book:0",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "A-77"})))
        .expect(1)
        .mount(&erp)
        .await;

    let rig = rig().await;
    let rest: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/examples/flows/rm-scheduling-rest.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let mut spec = example_spec();
    spec["target"]["conversation"]["services"]["erp"] =
        json!({"rm.scheduling": rest["rm.scheduling"]});
    let mut connections = rig.clinic.connections();
    connections["rm"]["base_url"] = json!(erp.uri());
    let flow = FlowSpec::from_value(&spec)
        .unwrap()
        .build(
            &Registry::default(),
            &Connections::from_json(&connections.to_string()).unwrap(),
            &secrets(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let rig = Rig { flow, ..rig };

    rig.say(ANA, "oi").await;
    rig.pick(ANA, "book").await;
    rig.pick(ANA, "cardio").await;
    rig.pick(ANA, "any").await;
    let (_, sent) = rig.say(ANA, "amanhã").await;
    assert_eq!(option_id(&sent[0], 1), "S-1");
    rig.pick(ANA, "S-1").await;
    let (turn, sent) = rig.pick(ANA, "yes").await;
    assert_eq!(turn["ended"], "done", "{turn}");
    assert!(readable(&sent[0]).contains("Protocolo: A-77"));
    let booked = erp
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    let body: Value = serde_json::from_slice(&booked.body).unwrap();
    assert_eq!(body, json!({"slot_id": "S-1", "patient_id": "P-9"}));
}

/// A dry run of a patient's first message shows the ERP lookup and the prompt it leads to,
/// writes the session only to the dry run's overlay, and sends nothing anywhere.
#[tokio::test]
async fn a_dry_run_shows_the_calls_and_prompts_and_touches_nothing() {
    let rig = rig().await;
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "messages": [rig.text(ANA, "oi")]}}]}]
    })
    .to_string();
    let request = InboundRequest::new(hubflow::http::Method::Post, "/hooks/wa", body.clone())
        .header(
            "X-Hub-Signature-256",
            sign(&SecretString::from(APP_SECRET), body.as_bytes()),
        );
    let records = rig.webhook.handle(&request).records;
    remember_inbound(&rig.h.ctx, &records).await.unwrap();
    let dry = rig.flow.dry_run(&rig.h.ctx, records).await;
    assert_eq!(dry.report.counts.delivered, 1, "{:#?}", dry.report);
    let requests: Vec<String> = dry.records[0]
        .requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect();
    assert!(
        requests[0]
            .starts_with("GET /api/framework/v1/consultaSQLServer/RealizaConsulta/HF.PACIENTE"),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.ends_with(&format!("/{PHONE_NUMBER_ID}/messages"))),
        "{requests:?}"
    );
    assert!(
        dry.records[0]
            .writes
            .iter()
            .any(|w| w.scope == "conversation:rm-booking"),
        "{:?}",
        dry.records[0].writes
    );
    // Nothing reached the stand-in, and the real session is untouched: the same message
    // for real starts the conversation.
    assert!(rig.clinic.requests().is_empty());
    assert!(rig.clinic.take_sent().is_empty());
    let (turn, _) = rig.say(ANA, "oi").await;
    assert!(turn["from_state"].is_null(), "{turn}");
}
