//! Choosing among the day's appointments: a bare "sim" or "não" from a number with several
//! pending confirmations is answered with a WhatsApp list of them (kind `rm.reply` with an
//! `ask` sender), and the pick applies to exactly the appointment chosen. Against local
//! stand-ins of the ERP and the Graph API.
#![cfg(all(feature = "rm", feature = "whatsapp"))]

mod common;

use common::{failed, fixture, harness, mount_catch_all, url, Harness};
use hubflow::rm::{
    confirmation_condition, whatsapp_confirmation_shape, Action, AppointmentsSource,
    ConfirmationTarget, PendingConfirmation, PendingConfirmations, ReplyTarget, RmAuth, RmClient,
    Route, CONFIRMATION_CONDITION,
};
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
use hubflow::whatsapp::{remember_inbound, MessageKind, WhatsAppConnection, WhatsAppTarget};
use hubflow::{
    DeliveryPolicy, FieldMap, Flow, FlowSpec, InboundRequest, Outcome, Receipt, Record,
    RetryPolicy, RunReport, Trigger, WebhookSource,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PHONE_NUMBER_ID: &str = "106540352242922";
const APP_SECRET: &str = "app-secret-for-tests";
/// Ana's number as WhatsApp reports it: without the ninth digit.
const ANA: &str = "551199991001";
/// 2026-03-02T08:00:00Z, the harness clock's start: when the patient writes.
const WRITTEN_AT: &str = "1772438400";

fn rm_client(server: &MockServer) -> RmClient {
    RmClient::new(
        url(server, "/"),
        RmAuth::Bearer(SecretString::from("rm-static-token")),
    )
}

fn connection(server: &MockServer) -> WhatsAppConnection {
    WhatsAppConnection::new(PHONE_NUMBER_ID, SecretString::from("wa-token"))
        .base_url(url(server, "/"))
}

/// Meta's send answer, with a wamid derived from the record key the send carries.
struct WamidResponder;

impl Respond for WamidResponder {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let key = body["biz_opaque_callback_data"].as_str().unwrap_or("none");
        let to = body["to"].as_str().unwrap_or("");
        ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": format!("wamid.{key}")}]
        }))
    }
}

async fn mount_whatsapp(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PHONE_NUMBER_ID}/messages")))
        .respond_with(WamidResponder)
        .named("whatsapp sends")
        .mount(server)
        .await;
}

async fn mount_action(server: &MockServer, id: &str, action: &str, expect: u64) {
    Mock::given(method("POST"))
        .and(path(format!(
            "/api/healthcare/v1/appointments/{id}/{action}"
        )))
        .and(header(
            "idempotency-key",
            format!("rm:{action}:{id}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": action})))
        .expect(expect)
        .named(format!("{action} {id}"))
        .mount(server)
        .await;
}

/// The daily job of tomorrow (3 March): A-100 at 08:30 and A-101 at 09:00, both for Ana.
async fn send_two_confirmations_to_ana(server: &MockServer, h: &Harness) {
    let mut page = fixture("rm/appointments_page1.json");
    page["hasNext"] = json!(false);
    page["items"][1]["mobile"] = json!("+55 11 99999-1001");
    Mock::given(method("GET"))
        .and(path("/api/healthcare/v1/appointments"))
        .and(query_param("date", "2026-03-03"))
        .respond_with(ResponseTemplate::new(200).set_body_json(page))
        .expect(1)
        .mount(server)
        .await;
    let daily = Flow::builder("rm-confirmations")
        .trigger(Trigger::daily(
            "07:00:00".parse().unwrap(),
            chrono_tz::America::Sao_Paulo,
        ))
        .source(AppointmentsSource::new(rm_client(server)).days_ahead(1))
        .when_fn(confirmation_condition(), CONFIRMATION_CONDITION)
        .map(FieldMap::new(whatsapp_confirmation_shape("consulta_confirmacao", "pt_BR")).unwrap())
        .target(ConfirmationTarget::new(WhatsAppTarget::new(
            MessageKind::Template,
            connection(server),
        )))
        .build()
        .unwrap();
    let report = daily.run(&h.ctx).await.unwrap();
    assert_eq!(report.counts.delivered, 2, "{report:#?}");
}

/// The reply flow from its spec, with typed answers routed too and a list sender.
fn reply_flow_from_spec(server: &MockServer, reply: Value) -> Flow {
    let connections = Connections::from_json(&json!({
        "rm": {"base_url": server.uri(), "auth": {"bearer": {"secret": "RM_TOKEN"}}},
        "whatsapp": {"phone_number_id": PHONE_NUMBER_ID, "access_token": {"secret": "WHATSAPP_TOKEN"},
                     "base_url": server.uri()}
    }).to_string())
    .unwrap();
    let secrets = MapSecrets::new()
        .with("RM_TOKEN", "rm-static-token")
        .with("WHATSAPP_TOKEN", "wa-token");
    FlowSpec::from_value(&json!({
        "id": "rm-replies",
        "when": {"all": [{"field": "type", "op": "in", "value": ["button", "interactive", "text"]}]},
        "target": {"rm.reply": reply}
    }))
    .unwrap()
    .build(&Registry::default(), &connections, &secrets)
    .unwrap_or_else(|e| panic!("{e}"))
}

/// One message as Meta posts it, through the signed webhook.
fn inbound(message: Value) -> Record {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Ana Souza"}, "wa_id": message["from"]}],
            "messages": [message]
        }}]}]
    })
    .to_string();
    let secret = SecretString::from(APP_SECRET);
    let webhook = WhatsAppWebhook::new(SecretString::from("verify"), secret.clone());
    let request = InboundRequest::new(hubflow::http::Method::Post, "/hooks/wa", body.clone())
        .header("X-Hub-Signature-256", sign(&secret, body.as_bytes()));
    let reply = webhook.handle(&request);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.records.into_iter().next().unwrap()
}

/// A typed answer.
fn typed(id: &str, from: &str, text: &str) -> Record {
    inbound(
        json!({"from": from, "id": id, "timestamp": WRITTEN_AT, "type": "text",
                   "text": {"body": text}}),
    )
}

/// The pick: a list reply to the list message `list_wamid`.
fn picked(id: &str, from: &str, list_wamid: &str, row_id: &str, title: &str) -> Record {
    inbound(json!({"context": {"from": "15550783881", "id": list_wamid},
                   "from": from, "id": id, "timestamp": WRITTEN_AT, "type": "interactive",
                   "interactive": {"type": "list_reply",
                                   "list_reply": {"id": row_id, "title": title}}}))
}

/// Processes replies the way a webhook handler does: the window first, then the flow.
async fn answer(flow: &Flow, h: &Harness, records: Vec<Record>) -> RunReport {
    remember_inbound(&h.ctx, &records).await.unwrap();
    flow.process(&h.ctx, records).await
}

fn receipt(report: &RunReport, key: &str) -> Receipt {
    match &report.get(key).unwrap().outcome {
        Outcome::Delivered { receipt, .. } => receipt.clone(),
        other => panic!("{key}: expected delivered, got {other:?}"),
    }
}

fn failure(report: &RunReport, key: &str) -> String {
    failed(&report.get(key).unwrap().outcome).0.message.clone()
}

/// The interactive messages the Graph stand-in received, in order.
async fn lists_sent(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().ends_with("/messages"))
        .map(|r| serde_json::from_slice::<Value>(&r.body).unwrap())
        .filter(|body| body["type"] == "interactive")
        .collect()
}

/// How many requests reached the ERP's action routes.
async fn erp_actions(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.url.path().starts_with("/api/healthcare/v1/appointments/"))
        .count()
}

fn row_ids(list: &Value) -> Vec<String> {
    list["interactive"]["action"]["sections"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_bare_answer_lists_the_days_appointments_and_the_pick_applies_to_that_one() {
    let server = MockServer::start().await;
    mount_whatsapp(&server).await;
    mount_action(&server, "A-101", "confirm", 1).await;
    mount_action(&server, "A-100", "cancel", 1).await;
    mount_catch_all(&server).await; // no other ERP call: not A-100's confirm, not A-101's cancel
    let h = harness();
    send_two_confirmations_to_ana(&server, &h).await;
    let replies = reply_flow_from_spec(
        &server,
        json!({"connection": "rm", "ask": {"whatsapp.interactive": {"connection": "whatsapp"}}}),
    );

    // A typed "sim": two pending confirmations, so the patient is asked which.
    let report = answer(&replies, &h, vec![typed("wamid.T1", ANA, "sim")]).await;
    let asked = receipt(&report, "wamid.T1");
    assert_eq!(asked.details["asked"], "which", "{asked:?}");
    assert_eq!(asked.details["action"], "confirm");
    assert_eq!(
        asked.details["candidates"],
        json!([
            {"appointment_id": "A-100", "date": "2026-03-03", "starts_at": "2026-03-03T11:30:00Z"},
            {"appointment_id": "A-101", "date": "2026-03-03", "starts_at": "2026-03-03T12:00:00Z"}
        ])
    );
    assert_eq!(asked.id.as_deref(), Some("wamid.wamid.T1"));
    assert_eq!(asked.details["message_id"], "wamid.wamid.T1");
    assert!(asked.details.get("not_listed").is_none());
    assert_eq!(
        erp_actions(&server).await,
        0,
        "the list calls nothing in the ERP"
    );

    let lists = lists_sent(&server).await;
    assert_eq!(lists.len(), 1);
    let list = &lists[0];
    assert_eq!(list["to"], ANA);
    assert_eq!(list["interactive"]["type"], "list");
    assert_eq!(
        list["interactive"]["body"]["text"],
        "Você tem mais de uma consulta. Qual delas deseja confirmar?"
    );
    assert_eq!(list["interactive"]["action"]["button"], "Ver horários");
    assert_eq!(
        row_ids(list),
        ["confirm:A-100:2026-03-03", "confirm:A-101:2026-03-03"]
    );
    let rows = &list["interactive"]["action"]["sections"][0]["rows"];
    assert_eq!(
        (rows[0]["title"].as_str(), rows[1]["title"].as_str()),
        (Some("08:30"), Some("09:00"))
    );
    assert_eq!(
        rows[1]["description"],
        "terça-feira, 03/03/2026 · agendamento A-101"
    );

    // The patient types "sim" again: the list again, not a failure.
    let again = answer(&replies, &h, vec![typed("wamid.T2", ANA, "Sim")]).await;
    assert_eq!(receipt(&again, "wamid.T2").details["asked"], "which");
    assert_eq!(lists_sent(&server).await.len(), 2);

    // The pick: the second row. Exactly A-101 is confirmed.
    let pick = answer(
        &replies,
        &h,
        vec![picked(
            "wamid.P1",
            ANA,
            "wamid.wamid.T2",
            "confirm:A-101:2026-03-03",
            "09:00",
        )],
    )
    .await;
    let confirmed = receipt(&pick, "wamid.P1");
    assert_eq!(confirmed.id.as_deref(), Some("rm:confirm:A-101"));
    assert_eq!(confirmed.details["matched_by"], "button");
    assert_eq!(erp_actions(&server).await, 1);

    // A bare "não" now: A-101 was answered, so A-100 is the only one left and is cancelled
    // directly, without a list.
    let cancel = answer(&replies, &h, vec![typed("wamid.T3", ANA, "não")]).await;
    let cancelled = receipt(&cancel, "wamid.T3");
    assert_eq!(cancelled.id.as_deref(), Some("rm:cancel:A-100"));
    assert_eq!(cancelled.details["matched_by"], "phone");
    assert_eq!(
        cancelled.details["already_answered"],
        json!([{"appointment_id": "A-101", "date": "2026-03-03", "starts_at": "2026-03-03T12:00:00Z"}])
    );
    assert_eq!(lists_sent(&server).await.len(), 2);

    // Both answered: a later bare answer offers both again, to pick from.
    let later = answer(&replies, &h, vec![typed("wamid.T4", ANA, "2")]).await;
    assert_eq!(receipt(&later, "wamid.T4").details["action"], "cancel");
    let lists = lists_sent(&server).await;
    assert_eq!(
        row_ids(&lists[2]),
        ["cancel:A-100:2026-03-03", "cancel:A-101:2026-03-03"]
    );
    assert_eq!(
        lists[2]["interactive"]["body"]["text"],
        "Você tem mais de uma consulta. Qual delas deseja cancelar?"
    );
    // Picking the cancelled one again applies nothing twice.
    let repeat = answer(
        &replies,
        &h,
        vec![picked(
            "wamid.P2",
            ANA,
            "wamid.wamid.T4",
            "cancel:A-100:2026-03-03",
            "08:30",
        )],
    )
    .await;
    assert_eq!(
        receipt(&repeat, "wamid.P2").details["already_applied"],
        true
    );
    server.verify().await;
}

fn seeded(id: &str, date: &str, starts_at: &str) -> PendingConfirmation {
    PendingConfirmation::new(
        id,
        date.parse().unwrap(),
        "+55 11 99999-1001",
        "2026-03-02T07:00:00Z".parse().unwrap(),
    )
    .starts_at(Some(starts_at.parse().unwrap()))
}

async fn seed(h: &Harness, appointments: &[PendingConfirmation]) {
    let pending = PendingConfirmations::default();
    for appointment in appointments {
        pending.remember(&h.ctx, appointment).await.unwrap();
    }
}

fn reply_flow(target: ReplyTarget) -> Flow {
    Flow::builder("rm-replies")
        .target(target)
        .delivery(DeliveryPolicy::default().retry(RetryPolicy::default().max_attempts(2)))
        .build()
        .unwrap()
}

fn lister(server: &MockServer) -> WhatsAppTarget {
    WhatsAppTarget::new(MessageKind::Interactive, connection(server))
}

#[tokio::test]
async fn without_a_sender_several_are_still_ambiguous_and_a_hand_off_needs_no_pick() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await; // nothing is sent anywhere
    let h = harness();
    seed(
        &h,
        &[
            seeded("A-1", "2026-03-03", "2026-03-03T11:30:00Z"),
            seeded("A-2", "2026-03-03", "2026-03-03T13:00:00Z"),
        ],
    )
    .await;
    let plain = reply_flow(ReplyTarget::new(rm_client(&server)));
    let report = answer(&plain, &h, vec![typed("wamid.N1", ANA, "sim")]).await;
    let message = failure(&report, "wamid.N1");
    assert!(message.starts_with("not sent: ambiguous"), "{message}");
    assert!(
        message.contains("A-1") && message.contains("A-2"),
        "{message}"
    );

    // A hand-off needs no pick, with a sender or without: the host takes the chat over,
    // told which appointments the number has.
    let asking = reply_flow(ReplyTarget::new(rm_client(&server)).ask(lister(&server)));
    for (flow, id) in [(&asking, "wamid.N2"), (&plain, "wamid.N3")] {
        let report = answer(flow, &h, vec![typed(id, ANA, "atendente")]).await;
        let handed = receipt(&report, id);
        assert_eq!(handed.details["handoff"], "host");
        assert_eq!(handed.details["action"], "attendant");
        let listed: Vec<_> = handed.details["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["appointment_id"].clone())
            .collect();
        assert_eq!(listed, [json!("A-1"), json!("A-2")]);
    }
    // With a hand-off route, which names one appointment, it is ambiguous.
    let routed = reply_flow(ReplyTarget::new(rm_client(&server)).route(
        Action::Attendant,
        Route::post("/crm/handoff/{appointment_id}"),
    ));
    let report = answer(&routed, &h, vec![typed("wamid.N4", ANA, "atendente")]).await;
    let message = failure(&report, "wamid.N4");
    assert!(message.starts_with("not sent: ambiguous"), "{message}");
    server.verify().await;
}

#[tokio::test]
async fn more_than_ten_candidates_list_the_ten_nearest() {
    let server = MockServer::start().await;
    mount_whatsapp(&server).await;
    mount_catch_all(&server).await;
    let h = harness();
    // Six a day on the 3rd and the 4th (a number keeps at most eight a day).
    let mut appointments = Vec::new();
    for (day, date) in [(3, "2026-03-03"), (4, "2026-03-04")] {
        for hour in 11..17 {
            appointments.push(seeded(
                &format!("D{day}-{hour}"),
                date,
                &format!("{date}T{hour}:00:00Z"),
            ));
        }
    }
    seed(&h, &appointments).await;
    let flow = reply_flow(
        ReplyTarget::new(rm_client(&server))
            .ask(lister(&server))
            .ask_text("Qual consulta deseja {action}?")
            .ask_button("Escolher"),
    );
    let report = answer(&flow, &h, vec![typed("wamid.M1", ANA, "cancelar")]).await;
    let asked = receipt(&report, "wamid.M1");
    assert_eq!(asked.details["candidates"].as_array().unwrap().len(), 10);
    let not_listed: Vec<_> = asked.details["not_listed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["appointment_id"].as_str().unwrap())
        .collect();
    assert_eq!(not_listed, ["D4-15", "D4-16"]);
    let lists = lists_sent(&server).await;
    let ids = row_ids(&lists[0]);
    assert_eq!(ids.len(), 10);
    assert_eq!(ids[0], "cancel:D3-11:2026-03-03");
    assert_eq!(ids[9], "cancel:D4-14:2026-03-04");
    assert_eq!(
        lists[0]["interactive"]["body"]["text"],
        "Qual consulta deseja cancelar?"
    );
    assert_eq!(lists[0]["interactive"]["action"]["button"], "Escolher");
    server.verify().await;
}

#[tokio::test]
async fn a_failing_sender_fails_the_record_and_applies_nothing() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PHONE_NUMBER_ID}/messages")))
        .respond_with(ResponseTemplate::new(500).set_body_string("upstream down"))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PHONE_NUMBER_ID}/messages")))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#131009) Parameter value is not valid", "type": "OAuthException",
            "code": 131009, "fbtrace_id": "AbC"}})))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await; // no ERP call
    let h = harness();
    seed(
        &h,
        &[
            seeded("A-1", "2026-03-03", "2026-03-03T11:30:00Z"),
            seeded("A-2", "2026-03-03", "2026-03-03T13:00:00Z"),
        ],
    )
    .await;
    let flow = reply_flow(ReplyTarget::new(rm_client(&server)).ask(lister(&server)));
    // 500 twice: retried, then failed as retryable.
    let report = answer(&flow, &h, vec![typed("wamid.F1", ANA, "sim")]).await;
    let (error, retryable, attempts) = failed(&report.get("wamid.F1").unwrap().outcome);
    assert!(retryable && attempts == 2, "{error:?}");
    // A permanent Graph error: failed at once, with Meta's message.
    let report = answer(&flow, &h, vec![typed("wamid.F2", ANA, "sim")]).await;
    let (error, retryable, attempts) = failed(&report.get("wamid.F2").unwrap().outcome);
    assert!(!retryable && attempts == 1, "{error:?}");
    assert!(error.message.contains("131009"), "{}", error.message);
    assert_eq!(erp_actions(&server).await, 0);
    // Nothing was recorded as answered: both are still open to a pick.
    let claims = hubflow::ClaimStore::peek_claim(&h.store, "rm.answers:rm", "rm:confirm:A-1")
        .await
        .unwrap();
    assert!(claims.is_none(), "{claims:?}");
    server.verify().await;
}

#[tokio::test]
async fn the_dry_run_shows_the_list_send_and_sends_nothing() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await; // a dry run reaches no server
    let h = harness();
    seed(
        &h,
        &[
            seeded("A-2", "2026-03-03", "2026-03-03T13:00:00Z"),
            seeded("A-1", "2026-03-03", "2026-03-03T11:30:00Z"),
        ],
    )
    .await;
    let flow = reply_flow(ReplyTarget::new(rm_client(&server)).ask(lister(&server)));
    let records = vec![typed("wamid.D1", ANA, "sim")];
    remember_inbound(&h.ctx, &records).await.unwrap();
    let dry = flow.dry_run(&h.ctx, records).await;
    assert_eq!(dry.report.counts.delivered, 1, "{:#?}", dry.report);
    let requests = &dry.records[0].requests;
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(requests[0].url.path().ends_with("/messages"));
    let body = requests[0].json_body().unwrap();
    assert_eq!(body["to"], ANA);
    assert_eq!(
        row_ids(&body),
        ["confirm:A-1:2026-03-03", "confirm:A-2:2026-03-03"]
    );
    server.verify().await;
}

#[test]
fn ask_spec_errors_are_located() {
    let connections = Connections::from_json(&json!({
        "rm": {"base_url": "https://erp.example", "auth": {"bearer": {"secret": "RM_TOKEN"}}},
        "whatsapp": {"phone_number_id": PHONE_NUMBER_ID, "access_token": {"secret": "WHATSAPP_TOKEN"}}
    }).to_string())
    .unwrap();
    let secrets = MapSecrets::new()
        .with("RM_TOKEN", "t")
        .with("WHATSAPP_TOKEN", "w");
    let interactive = json!({"connection": "whatsapp"});
    let cases = [
        (
            json!({"ask": {"whatsapp.interactive": interactive, "whatsapp.text": interactive}}),
            "/target/rm.reply/ask",
            "name exactly one sending kind",
        ),
        (
            json!({"ask": {}}),
            "/target/rm.reply/ask",
            "name exactly one sending kind",
        ),
        (
            json!({"ask": {"sms.text": {}}}),
            "/target/rm.reply/ask/sms.text",
            "unknown target kind \"sms.text\"",
        ),
        (
            json!({"ask": {"whatsapp.interactive": {"connection": "wa"}}}),
            "/target/rm.reply/ask/whatsapp.interactive/connection",
            "unknown connection",
        ),
        (
            json!({"ask": {"whatsapp.interactive": interactive}, "ask_button": "Escolha um dos horários"}),
            "/target/rm.reply/ask_button",
            "at most 20",
        ),
        (
            json!({"ask": {"whatsapp.interactive": interactive}, "ask_text": "x".repeat(1020) + "{action}"}),
            "/target/rm.reply/ask_text",
            "at most 1024",
        ),
        (
            json!({"ask": {"whatsapp.interactive": interactive}, "ask_text": "Qual deseja {acao}?"}),
            "/target/rm.reply/ask_text",
            "unknown placeholder {acao}",
        ),
        (
            json!({"ask_button": "Horários"}),
            "/target/rm.reply/ask_button",
            "no effect without `ask`",
        ),
    ];
    for (extra, at, message) in cases {
        let mut reply = json!({"connection": "rm"});
        for (field, value) in extra.as_object().unwrap() {
            reply[field] = value.clone();
        }
        let spec =
            FlowSpec::from_value(&json!({"id": "x", "target": {"rm.reply": reply}})).unwrap();
        let errors = spec
            .build(&Registry::default(), &connections, &secrets)
            .unwrap_err();
        let error = errors.iter().next().unwrap();
        assert_eq!(error.path, at, "{errors}");
        assert!(error.to_string().contains(message), "{at}: {errors}");
    }
    let ok = FlowSpec::from_value(&json!({"id": "x", "target": {"rm.reply": {
        "connection": "rm", "ask": {"whatsapp.interactive": interactive},
        "ask_text": "Qual delas deseja {action}?", "ask_button": "Ver horários"}}}))
    .unwrap()
    .build(&Registry::default(), &connections, &secrets);
    assert!(ok.is_ok(), "{:?}", ok.err());
}
