//! Appointment confirmations from an RM-style ERP over WhatsApp, answered back into the ERP.
//!
//! The daily job asks tomorrow's patients to confirm; their button answers confirm or cancel
//! the appointment in the ERP. Everything runs against local stand-ins this example starts
//! on 127.0.0.1 (the ERP with JWT login, and WhatsApp Cloud API), with three appointments:
//! Ana confirms, Bruno cancels, Carla has no mobile number and is skipped.
//!
//! ```sh
//! cargo run --example rm_appointment_confirmation
//! ```
//!
//! It prints the messages sent, the ERP calls made, and both run reports. The clock is fixed
//! at 07:00 in São Paulo on 2 March 2026, when the daily trigger fires, so the output is
//! the same on every run. In production: a `ReqwestClient`, a `TokioClock`, a database
//! `Store`, and the flows built from `examples/flows/rm-*.json`.

use hubflow::http::{Method, ReqwestClient};
use hubflow::rm::{
    confirmation_condition, reply_rule, whatsapp_confirmation_shape, AppointmentsSource,
    ConfirmationTarget, JwtAuth, ReplyTarget, RmAuth, RmClient, CONFIRMATION_CONDITION,
};
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget};
use hubflow::{
    Context, FieldMap, Flow, InboundRequest, ManualClock, MemoryStore, Trigger, WebhookSource,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const PHONE_NUMBER_ID: &str = "106540352242922";

type Error = Box<dyn std::error::Error>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let erp = start_erp().await;
    let whatsapp = start_whatsapp().await;
    let app_secret = SecretString::from("local-app-secret");

    let clock = ManualClock::new("2026-03-02T10:00:00Z".parse()?);
    let store = MemoryStore::new();
    let ctx = Context::new(ReqwestClient::new()?, clock, store);

    // One client for both flows: they share its JWT.
    let rm = RmClient::new(
        erp.uri().parse()?,
        RmAuth::Jwt(JwtAuth::new(
            "integracao",
            SecretString::from("local-password"),
        )),
    );
    let daily = Trigger::daily("07:00:00".parse()?, chrono_tz::America::Sao_Paulo);
    let confirmations = Flow::builder("rm-appointment-confirmations")
        .trigger(daily.clone())
        .source(AppointmentsSource::new(rm.clone()).days_ahead(1))
        .when_fn(confirmation_condition(), CONFIRMATION_CONDITION)
        .map(FieldMap::new(whatsapp_confirmation_shape(
            "consulta_confirmacao",
            "pt_BR",
        ))?)
        .target(ConfirmationTarget::new(WhatsAppTarget::new(
            MessageKind::Template,
            WhatsAppConnection::new(PHONE_NUMBER_ID, SecretString::from("local-wa-token"))
                .base_url(whatsapp.uri().parse()?),
        )))
        .build()?;
    let replies = Flow::builder("rm-appointment-replies")
        .when(reply_rule())
        .target(ReplyTarget::new(rm))
        .build()?;

    println!(
        "== daily job (next due: {:?})",
        daily.next_due("2026-03-02T10:30:00Z".parse()?)
    );
    let report = confirmations.run(&ctx).await?;
    for request in whatsapp.received_requests().await.unwrap_or_default() {
        let body: Value = serde_json::from_slice(&request.body)?;
        println!(
            "WhatsApp template to {}: {} {}",
            body["to"],
            body["template"]["components"][0]["parameters"],
            body["template"]["components"][1]["parameters"][0]["payload"]
        );
    }
    println!("{}", serde_json::to_string_pretty(&report)?);

    // The patients answer: Meta posts signed webhooks to the host's server.
    println!("== replies");
    let webhook = WhatsAppWebhook::new(SecretString::from("verify"), app_secret.clone());
    let mut records = Vec::new();
    for (id, from, payload, text) in [
        (
            "wamid.ANA",
            "5511999991001",
            "confirm:A-100:2026-03-03",
            "Sim, confirmar",
        ),
        (
            "wamid.BRUNO",
            "5511999991002",
            "cancel:A-101:2026-03-03",
            "Não, cancelar",
        ),
    ] {
        let context = sent_wamid(&whatsapp, from).await;
        let body = button_reply(id, from, &context, payload, text).to_string();
        let request = InboundRequest::new(Method::Post, "/hooks/whatsapp", body.clone())
            .header("X-Hub-Signature-256", sign(&app_secret, body.as_bytes()));
        let reply = webhook.handle(&request);
        println!("webhook answered {} for {id}", reply.status);
        records.extend(reply.records);
    }
    let report = replies.process(&ctx, records).await;
    println!("{}", serde_json::to_string_pretty(&report)?);

    println!("== ERP calls");
    for request in erp.received_requests().await.unwrap_or_default() {
        let query = request
            .url
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        println!("{} {}{query}", request.method, request.url.path());
    }
    let delivered = report.counts.delivered;
    if delivered != 2 {
        return Err(format!("expected both answers applied, got {delivered}").into());
    }
    Ok(())
}

/// The wamid the stand-in gave the confirmation sent to `to`.
async fn sent_wamid(whatsapp: &MockServer, to: &str) -> String {
    for request in whatsapp.received_requests().await.unwrap_or_default() {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        if body["to"] == to {
            return format!(
                "wamid.{}",
                body["biz_opaque_callback_data"].as_str().unwrap_or("")
            );
        }
    }
    String::new()
}

/// A quick-reply tap as WhatsApp Cloud API posts it.
fn button_reply(id: &str, from: &str, context: &str, payload: &str, text: &str) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
    "field": "messages",
    "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
        "contacts": [{"profile": {"name": "Paciente"}, "wa_id": from}],
        "messages": [{"context": {"from": "15550783881", "id": context}, "from": from, "id": id,
                      "timestamp": "1772449200", "type": "button",
                      "button": {"payload": payload, "text": text}}]
    }}]}]})
}

/// The ERP stand-in: JWT login, tomorrow's appointments (two pages), confirm and cancel.
async fn start_erp() -> MockServer {
    let erp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/connect/token/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "local-jwt", "expires_in": 300,
            "refresh_token": "local-refresh", "token_type": "Bearer"})))
        .mount(&erp)
        .await;
    let page = |n: &str, has_next: bool, items: Value| {
        Mock::given(method("GET"))
            .and(path("/api/healthcare/v1/appointments"))
            .and(wiremock::matchers::query_param("page", n))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(json!({"hasNext": has_next, "items": items})),
            )
    };
    page("1", true, json!([
        {"id": "A-100", "patientName": "Ana Souza", "mobile": "(11) 99999-1001", "birthDate": "1980-05-01",
         "startsAt": "2026-03-03T08:30:00", "professional": "Dra. Lima", "location": "Unidade Centro"},
        {"id": "A-101", "patientName": "Bruno Alves", "mobile": "(11) 99999-1002", "birthDate": "1975-11-20",
         "startsAt": "2026-03-03T09:00:00", "professional": "Dr. Rui", "location": "Unidade Centro"}
    ]))
    .mount(&erp)
    .await;
    page("2", false, json!([
        {"id": "A-102", "patientName": "Carla Dias", "mobile": null, "birthDate": "1990-02-14",
         "startsAt": "2026-03-03T10:15:00", "professional": "Dra. Lima", "location": "Unidade Norte"}
    ]))
    .mount(&erp)
    .await;
    Mock::given(method("POST"))
        .and(path_regex(
            r"^/api/healthcare/v1/appointments/[^/]+/(confirm|cancel)$",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&erp)
        .await;
    erp
}

/// Answers like WhatsApp Cloud API, with a wamid derived from the record key sent.
struct SendAnswer;

impl Respond for SendAnswer {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let key = body["biz_opaque_callback_data"].as_str().unwrap_or("x");
        ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": body["to"], "wa_id": body["to"]}],
            "messages": [{"id": format!("wamid.{key}")}]}))
    }
}

async fn start_whatsapp() -> MockServer {
    let whatsapp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PHONE_NUMBER_ID}/messages")))
        .respond_with(SendAnswer)
        .mount(&whatsapp)
        .await;
    whatsapp
}
