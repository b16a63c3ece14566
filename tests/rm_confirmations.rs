//! The appointment-confirmation flows end to end against local stand-ins: the daily D+N
//! query, the WhatsApp confirmations, and every reply path back into the ERP.

mod common;

use chrono::{DateTime, Utc};
use common::{failed, fixture, harness, mount_catch_all, url, Harness};
use hubflow::rm::{
    confirmation_condition, reply_rule, whatsapp_confirmation_shape, AppointmentsSource,
    ConfirmationTarget, Paging, PendingConfirmations, ReplyTarget, RmAuth, RmClient,
    CONFIRMATION_CONDITION,
};
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget};
use hubflow::{
    FieldMap, Flow, InboundRequest, Outcome, Receipt, Record, RunReport, Trigger, WebhookSource,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PHONE_NUMBER_ID: &str = "106540352242922";
const APP_SECRET: &str = "app-secret-for-tests";

fn rm_client(server: &MockServer) -> RmClient {
    RmClient::new(
        url(server, "/"),
        RmAuth::Bearer(SecretString::from("rm-static-token")),
    )
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

fn confirmation_flow(server: &MockServer) -> Flow {
    let whatsapp = WhatsAppTarget::new(
        MessageKind::Template,
        WhatsAppConnection::new(PHONE_NUMBER_ID, SecretString::from("wa-token"))
            .base_url(url(server, "/")),
    );
    Flow::builder("rm-confirmations")
        .trigger(Trigger::daily(
            "07:00:00".parse().unwrap(),
            chrono_tz::America::Sao_Paulo,
        ))
        .source(AppointmentsSource::new(rm_client(server)).days_ahead(1))
        .when_fn(confirmation_condition(), CONFIRMATION_CONDITION)
        .map(FieldMap::new(whatsapp_confirmation_shape("consulta_confirmacao", "pt_BR")).unwrap())
        .target(ConfirmationTarget::new(whatsapp))
        .build()
        .unwrap()
}

fn reply_flow(server: &MockServer) -> Flow {
    Flow::builder("rm-replies")
        .when(reply_rule())
        .target(ReplyTarget::new(rm_client(server)))
        .build()
        .unwrap()
}

async fn mount_appointments(server: &MockServer, page1: Value, page2: Value) {
    for (page, body) in [("1", page1), ("2", page2)] {
        Mock::given(method("GET"))
            .and(path("/api/healthcare/v1/appointments"))
            .and(query_param("date", "2026-03-03"))
            .and(query_param("page", page))
            .and(query_param("pageSize", "100"))
            .and(header("authorization", "Bearer rm-static-token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(server)
            .await;
    }
}

async fn mount_whatsapp(server: &MockServer, expect: u64) {
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PHONE_NUMBER_ID}/messages")))
        .respond_with(WamidResponder)
        .expect(expect)
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

/// A button reply as Meta posts it, through the signed webhook.
fn button_reply(id: &str, from: &str, context: &str, payload: &str, text: &str) -> Record {
    let body = serde_json::to_string(&fixture("rm/whatsapp_button_reply.json"))
        .unwrap()
        .replace("$ID", id)
        .replace("$FROM", from)
        .replace("$CONTEXT", context)
        .replace("$PAYLOAD", payload)
        .replace("$TEXT", text);
    let secret = SecretString::from(APP_SECRET);
    let webhook = WhatsAppWebhook::new(SecretString::from("verify"), secret.clone());
    let request = InboundRequest::new(hubflow::http::Method::Post, "/hooks/wa", body.clone())
        .header("X-Hub-Signature-256", sign(&secret, body.as_bytes()));
    let reply = webhook.handle(&request);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.records.into_iter().next().unwrap()
}

/// An interactive reply without context or appointment in its id (e.g. a typed flow).
fn bare_reply(id: &str, from: &str, reply_id: &str) -> Record {
    Record::new(
        id,
        "whatsapp.message",
        json!({"from": from, "type": "interactive", "reply_id": reply_id, "text": null, "context_id": null}),
    )
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

async fn run_daily_job(server: &MockServer, h: &Harness) -> RunReport {
    confirmation_flow(server).run(&h.ctx).await.unwrap()
}

#[tokio::test]
async fn the_daily_job_confirms_every_appointment_with_a_mobile_and_skips_the_rest() {
    let server = MockServer::start().await;
    mount_appointments(
        &server,
        fixture("rm/appointments_page1.json"),
        fixture("rm/appointments_page2.json"),
    )
    .await;
    mount_whatsapp(&server, 2).await;
    mount_catch_all(&server).await;
    let h = harness();

    let report = run_daily_job(&server, &h).await;
    assert_eq!(
        (report.counts.delivered, report.counts.skipped),
        (2, 1),
        "{report:#?}"
    );
    match &report.get("rm:appt:A-102:2026-03-03").unwrap().outcome {
        Outcome::Skipped { reason } => assert!(reason.contains("mobile number"), "{reason}"),
        other => panic!("A-102 has no mobile: {other:?}"),
    }
    let sent = receipt(&report, "rm:appt:A-100:2026-03-03");
    assert_eq!(sent.id.as_deref(), Some("wamid.rm:appt:A-100:2026-03-03"));
    assert_eq!(sent.details["appointment_id"], "A-100");

    let requests = server.received_requests().await.unwrap();
    let message: Value = requests
        .iter()
        .find(|r| r.url.path().ends_with("/messages"))
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .unwrap();
    assert_eq!(message["to"], "5511999991001");
    assert_eq!(message["template"]["name"], "consulta_confirmacao");
    let components = message["template"]["components"].to_string();
    assert!(
        components.contains("confirm:A-100:2026-03-03"),
        "{components}"
    );
    assert!(
        components.contains("Ana Souza") && components.contains("08:30"),
        "{components}"
    );
    // The hand-over header never leaves the process.
    assert!(requests
        .iter()
        .all(|r| !r.headers.contains_key("x-hubflow-rm-appointment")));

    // A second run the same day sends nothing again.
    let again = run_daily_job(&server, &h).await;
    assert_eq!(again.counts.duplicate, 2, "{again:#?}");
    server.verify().await;
}

#[tokio::test]
async fn answers_confirm_cancel_once_and_hand_off() {
    let server = MockServer::start().await;
    mount_appointments(
        &server,
        fixture("rm/appointments_page1.json"),
        fixture("rm/appointments_page2.json"),
    )
    .await;
    mount_whatsapp(&server, 2).await;
    mount_action(&server, "A-100", "confirm", 1).await;
    mount_action(&server, "A-101", "cancel", 1).await;
    mount_catch_all(&server).await;
    let h = harness();
    run_daily_job(&server, &h).await;

    let replies = reply_flow(&server);
    let report = replies
        .process(
            &h.ctx,
            vec![
                button_reply(
                    "wamid.R1",
                    "5511999991001",
                    "wamid.rm:appt:A-100:2026-03-03",
                    "confirm:A-100:2026-03-03",
                    "Sim, confirmar",
                ),
                button_reply(
                    "wamid.R2",
                    "5511999991002",
                    "wamid.rm:appt:A-101:2026-03-03",
                    "cancel:A-101:2026-03-03",
                    "Não, cancelar",
                ),
                button_reply(
                    "wamid.R4",
                    "5511999991001",
                    "wamid.rm:appt:A-100:2026-03-03",
                    "attendant:A-100:2026-03-03",
                    "Conversar com atendente",
                ),
            ],
        )
        .await;
    let confirmed = receipt(&report, "wamid.R1");
    assert_eq!(confirmed.id.as_deref(), Some("rm:confirm:A-100"));
    assert_eq!(confirmed.details["matched_by"], "button");
    assert_eq!(receipt(&report, "wamid.R2").details["action"], "cancel");
    // The patient taps cancel again: no second cancel reaches the ERP.
    let again = replies
        .process(
            &h.ctx,
            vec![button_reply(
                "wamid.R3",
                "5511999991002",
                "wamid.rm:appt:A-101:2026-03-03",
                "cancel:A-101:2026-03-03",
                "Não, cancelar",
            )],
        )
        .await;
    assert_eq!(receipt(&again, "wamid.R3").details["already_applied"], true);
    let handoff = receipt(&report, "wamid.R4");
    assert_eq!(
        (
            handoff.details["action"].as_str(),
            handoff.details["handoff"].as_str()
        ),
        (Some("attendant"), Some("host"))
    );

    // Confirming after cancelling is refused, not sent.
    let late = replies
        .process(
            &h.ctx,
            vec![button_reply(
                "wamid.R5",
                "5511999991002",
                "wamid.rm:appt:A-101:2026-03-03",
                "confirm:A-101:2026-03-03",
                "Sim",
            )],
        )
        .await;
    assert!(failure(&late, "wamid.R5").contains("already cancelled"));

    // A text message is not an answer: skipped by the reply flow's condition.
    let text = Record::new(
        "wamid.T",
        "whatsapp.message",
        json!({"type": "text", "from": "5511999991001", "text": "obrigada"}),
    );
    let skipped = replies.process(&h.ctx, vec![text]).await;
    assert_eq!(skipped.counts.skipped, 1);
    server.verify().await;
}

#[tokio::test]
async fn with_two_appointments_the_same_day_the_button_decides_and_a_bare_answer_is_ambiguous() {
    let server = MockServer::start().await;
    let mut page = fixture("rm/appointments_page1.json");
    page["hasNext"] = json!(false);
    page["items"][1]["mobile"] = json!("+55 11 99999-1001"); // both for Ana's number
    mount_appointments(&server, page, json!({"hasNext": false, "items": []})).await;
    mount_whatsapp(&server, 2).await;
    mount_action(&server, "A-101", "cancel", 1).await;
    mount_catch_all(&server).await;
    let h = harness();
    run_daily_job(&server, &h).await;

    // WhatsApp reports this Brazilian number without the ninth digit.
    let report = reply_flow(&server)
        .process(
            &h.ctx,
            vec![
                button_reply(
                    "wamid.B1",
                    "551199991001",
                    "wamid.rm:appt:A-101:2026-03-03",
                    "cancel:A-101:2026-03-03",
                    "Não",
                ),
                bare_reply("wamid.B2", "5511999991001", "1"),
            ],
        )
        .await;
    assert_eq!(
        receipt(&report, "wamid.B1").details["appointment_id"],
        "A-101"
    );
    let ambiguous = failure(&report, "wamid.B2");
    assert!(ambiguous.starts_with("not sent: ambiguous"), "{ambiguous}");
    assert!(
        ambiguous.contains("A-100") && ambiguous.contains("A-101"),
        "{ambiguous}"
    );
    server.verify().await;
}

#[tokio::test]
async fn answers_are_matched_by_context_and_by_number_when_the_button_has_no_appointment() {
    let server = MockServer::start().await;
    mount_appointments(
        &server,
        fixture("rm/appointments_page1.json"),
        fixture("rm/appointments_page2.json"),
    )
    .await;
    mount_whatsapp(&server, 2).await;
    mount_action(&server, "A-100", "confirm", 1).await;
    mount_action(&server, "A-101", "confirm", 1).await;
    mount_catch_all(&server).await;
    let h = harness();
    run_daily_job(&server, &h).await;

    let report = reply_flow(&server)
        .process(
            &h.ctx,
            vec![
                // A template whose buttons carry no payload: Meta sends the text as payload.
                button_reply(
                    "wamid.C1",
                    "5511999991001",
                    "wamid.rm:appt:A-100:2026-03-03",
                    "Sim, confirmar",
                    "Sim, confirmar",
                ),
                bare_reply("wamid.C2", "5511999991002", "sim"),
            ],
        )
        .await;
    assert_eq!(
        receipt(&report, "wamid.C1").details["matched_by"],
        "context"
    );
    let by_phone = receipt(&report, "wamid.C2");
    assert_eq!(
        (
            by_phone.details["matched_by"].as_str(),
            by_phone.details["appointment_id"].as_str()
        ),
        (Some("phone"), Some("A-101"))
    );
    server.verify().await;
}

#[tokio::test]
async fn answers_to_unknown_or_expired_confirmations_are_reported_and_not_applied() {
    let server = MockServer::start().await;
    mount_appointments(
        &server,
        fixture("rm/appointments_page1.json"),
        fixture("rm/appointments_page2.json"),
    )
    .await;
    mount_whatsapp(&server, 2).await;
    mount_catch_all(&server).await; // no ERP action may be called
    let h = harness();
    run_daily_job(&server, &h).await;

    let replies = reply_flow(&server);
    let report = replies
        .process(
            &h.ctx,
            vec![
                button_reply(
                    "wamid.U1",
                    "5511999991001",
                    "wamid.rm:appt:A-999:2026-03-03",
                    "cancel:A-999:2026-03-03",
                    "Não",
                ),
                button_reply(
                    "wamid.U2",
                    "5511999991001",
                    "wamid.somethingelse",
                    "Sim",
                    "Sim",
                ),
                bare_reply("wamid.U3", "5511988887777", "2"),
                // Ana's button, but from another number.
                button_reply(
                    "wamid.U4",
                    "5511977776666",
                    "wamid.rm:appt:A-100:2026-03-03",
                    "cancel:A-100:2026-03-03",
                    "Não",
                ),
                button_reply(
                    "wamid.U5",
                    "5511999991001",
                    "wamid.x",
                    "maybe later",
                    "Talvez",
                ),
            ],
        )
        .await;
    for key in ["wamid.U1", "wamid.U2", "wamid.U3", "wamid.U4"] {
        let message = failure(&report, key);
        assert!(
            message.starts_with("not sent: unmatched"),
            "{key}: {message}"
        );
    }
    let (unreadable, retryable, _) = failed(&report.get("wamid.U5").unwrap().outcome);
    assert_eq!(unreadable.stage, hubflow::Stage::Prepare);
    assert!(!retryable);

    // 09:00 in São Paulo on the day: A-100 (08:30) has started, A-101 (09:00) too.
    h.clock
        .set("2026-03-03T12:00:00Z".parse::<DateTime<Utc>>().unwrap());
    let late = replies
        .process(
            &h.ctx,
            vec![button_reply(
                "wamid.E1",
                "5511999991001",
                "wamid.rm:appt:A-100:2026-03-03",
                "confirm:A-100:2026-03-03",
                "Sim",
            )],
        )
        .await;
    let message = failure(&late, "wamid.E1");
    assert!(
        message.starts_with("not sent: expired: appointment A-100 started"),
        "{message}"
    );
    // And the phone fallback no longer offers expired confirmations.
    let bare = replies
        .process(&h.ctx, vec![bare_reply("wamid.E2", "5511999991002", "sim")])
        .await;
    assert!(failure(&bare, "wamid.E2").starts_with("not sent: unmatched"));
    server.verify().await;
}

#[tokio::test]
async fn the_day_asked_for_is_d_plus_n_in_sao_paulo_across_midnight_utc() {
    let server = MockServer::start().await;
    for (date, id) in [
        ("2026-03-03", "D3"),
        ("2026-03-04", "D4"),
        ("2026-03-06", "D6"),
    ] {
        Mock::given(method("GET"))
            .and(path("/api/agenda"))
            .and(query_param("dia", date))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(json!([{"id": id, "startsAt": "14:00"}])),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;
    let h = harness();
    let source = |days| {
        AppointmentsSource::new(rm_client(&server))
            .route(hubflow::rm::Route::get("/api/agenda").query("dia", "{date}"))
            .paging(Paging::None)
            .days_ahead(days)
    };
    use hubflow::Source;
    // 01:30 UTC on 3 March is 22:30 on 2 March in São Paulo: tomorrow is the 3rd.
    h.clock.set("2026-03-03T01:30:00Z".parse().unwrap());
    let batch = source(1).poll(&h.ctx, None).await.unwrap();
    assert_eq!(batch.records[0].key, "rm:appt:D3:2026-03-03");
    // A time of day is read on the queried date, in São Paulo (UTC-3).
    assert_eq!(
        batch.records[0].get("starts_at"),
        Some(&json!("2026-03-03T14:00:00-03:00"))
    );
    // 03:30 UTC is 00:30 on the 3rd in São Paulo: tomorrow is the 4th.
    h.clock.set("2026-03-03T03:30:00Z".parse().unwrap());
    let batch = source(1).poll(&h.ctx, None).await.unwrap();
    assert_eq!(batch.records[0].key, "rm:appt:D4:2026-03-04");
    // Three days ahead.
    let batch = source(3).poll(&h.ctx, None).await.unwrap();
    assert_eq!(batch.records[0].key, "rm:appt:D6:2026-03-06");

    // The daily trigger fires at 07:00 São Paulo time, 10:00 UTC.
    let daily = Trigger::daily("07:00:00".parse().unwrap(), chrono_tz::America::Sao_Paulo);
    assert_eq!(
        daily
            .next_due("2026-03-03T03:30:00Z".parse().unwrap())
            .unwrap()
            .to_rfc3339(),
        "2026-03-03T10:00:00+00:00"
    );
    server.verify().await;
}

#[tokio::test]
async fn erp_errors_in_the_query_and_the_actions_are_typed() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/healthcare/v1/appointments"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"hasNext": false, "items": {"oops": 1}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/healthcare/v1/appointments/A-1/cancel"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"message": "maintenance"})))
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let h = harness();
    let error = confirmation_flow(&server).run(&h.ctx).await.unwrap_err();
    assert!(
        error.to_string().contains("`items` is not a list"),
        "{error}"
    );

    let cancel = Flow::builder("cancel")
        .target(hubflow::rm::ActionTarget::new(
            rm_client(&server),
            hubflow::rm::Action::Cancel,
        ))
        .delivery(
            hubflow::DeliveryPolicy::default()
                .retry(hubflow::RetryPolicy::default().max_attempts(2)),
        )
        .build()
        .unwrap();
    let report = cancel
        .process(
            &h.ctx,
            vec![Record::new("c1", "x", json!({"appointment_id": "A-1"}))],
        )
        .await;
    let (failure, retryable, attempts) = failed(&report.records[0].outcome);
    assert!(retryable && attempts == 2, "{failure:?}");
    assert!(
        failure.message.contains("maintenance"),
        "{}",
        failure.message
    );
    // The failed cancel was released, so a later attempt may still cancel.
    let pending = PendingConfirmations::default();
    assert_eq!(pending.scope(), "rm");
    server.verify().await;
}
