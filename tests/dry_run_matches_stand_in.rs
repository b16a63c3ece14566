//! A dry run shows what a real run sends: for every target, the requests `Flow::dry_run`
//! records against the provider fakes are compared, one by one and in order, with what a
//! local stand-in of the provider received when the same flow ran for real. Method, path,
//! query, body and every header the target set must match.
//!
//! Where a later request carries an id from an earlier answer (a media id, a file uid, an
//! access token), the stand-in answers the id the fake hands out, so the two runs can be
//! compared byte for byte.

mod common;

use common::{delivered, harness, only_outcome, url};
use hubflow::http::HttpRequest;
use hubflow::http_target::HttpTarget;
use hubflow::whatsapp::media::{MediaFile, MemoryMedia, SaveMediaTarget};
use hubflow::whatsapp::{MessageKind, OutsideWindow, WhatsAppConnection, WhatsAppTarget};
use hubflow::{Flow, Outcome, Record};
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Runs `record` through `flow` twice, dry and for real against `server`, and asserts that
/// the requests match. Returns the dry run's requests.
async fn assert_dry_run_matches(
    flow: &Flow,
    server: &MockServer,
    record: Record,
) -> Vec<HttpRequest> {
    assert_dry_run_matches_in(&harness(), flow, server, record).await
}

/// As [`assert_dry_run_matches`], over the store and clock of `h`.
async fn assert_dry_run_matches_in(
    h: &common::Harness,
    flow: &Flow,
    server: &MockServer,
    record: Record,
) -> Vec<HttpRequest> {
    let dry = flow.dry_run(&h.ctx, vec![record.clone()]).await;
    assert!(dry.report.dry_run);
    // What a dry run shows may be logged or put on a screen: no credential in any form.
    let shown = format!("{} {dry:?}", serde_json::to_string(&dry).unwrap());
    for secret in SECRETS {
        assert!(
            !shown.contains(secret),
            "the dry run shows `{secret}`: {shown}"
        );
    }
    let dry_outcome = &dry.report.records[0].outcome;
    assert!(
        matches!(dry_outcome, Outcome::Delivered { .. }),
        "the dry run delivers: {dry_outcome:?}"
    );
    assert!(
        server
            .received_requests()
            .await
            .unwrap_or_default()
            .is_empty(),
        "a dry run sends nothing"
    );

    let report = flow.process(&h.ctx, vec![record]).await;
    delivered(only_outcome(&report));

    let sent = &dry.records[0].requests;
    let received = server.received_requests().await.unwrap_or_default();
    assert_eq!(
        sent.len(),
        received.len(),
        "the dry run sent {:?}, the stand-in received {:?}",
        sent.iter().map(|r| r.url.path()).collect::<Vec<_>>(),
        received.iter().map(|r| r.url.path()).collect::<Vec<_>>()
    );
    for (i, (dry, real)) in sent.iter().zip(&received).enumerate() {
        assert_eq!(
            dry.method.as_str(),
            real.method.as_str(),
            "request {i}: method"
        );
        assert_eq!(dry.url.path(), real.url.path(), "request {i}: path");
        assert_eq!(dry.url.query(), real.url.query(), "request {i}: query");
        match serde_json::from_slice::<Value>(&dry.body) {
            Ok(json) => assert_eq!(
                serde_json::from_slice::<Value>(&real.body).ok(),
                Some(json),
                "request {i} ({}): body",
                dry.url.path()
            ),
            Err(_) => assert_eq!(dry.body.as_ref(), real.body.as_slice(), "request {i}: body"),
        }
        for (name, value) in dry.headers.iter() {
            let got = real.headers.get(name).and_then(|v| v.to_str().ok());
            assert_eq!(got, Some(value.expose()), "request {i}: header {name}");
        }
    }
    sent.clone()
}

/// Every credential the targets below are given, and the tokens the fakes and stand-ins
/// hand out.
const SECRETS: [&str; 9] = [
    "hook-secret",
    "EAAG-wa-token",
    "tl-token",
    "rd-token",
    "rm-password",
    "rm-token",
    "fake-token-1",
    "fake-rm-token-1",
    "c2VjcmV0", // base64 of "secret", Fracttal's client secret in a Basic header
];

fn record(data: Value) -> Record {
    Record::new("k-1021", "work_order", data)
}

async fn answer(server: &MockServer, verb: &str, at: &str, body: Value) {
    Mock::given(method(verb))
        .and(path(at))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .mount(server)
        .await;
}

// --- http.post --------------------------------------------------------------------------

#[tokio::test]
async fn http_post() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/hooks/tickets",
        json!({"ticket": {"id": "T-9"}}),
    )
    .await;
    let target = HttpTarget::new(url(&server, "/hooks/tickets"))
        .secret_header("Authorization", SecretString::from("Bearer hook-secret"))
        .idempotency_header("Idempotency-Key")
        .receipt_id("ticket.id");
    let flow = Flow::builder("tickets").target(target).build().unwrap();
    let sent = assert_dry_run_matches(&flow, &server, record(json!({"title": "pump 3"}))).await;
    assert_eq!(sent[0].headers.get("idempotency-key"), Some("k-1021"));
}

// --- WhatsApp ---------------------------------------------------------------------------

const PHONE: &str = "106540352242922";

fn connection(server: &MockServer) -> WhatsAppConnection {
    WhatsAppConnection::new(PHONE, SecretString::from("EAAG-wa-token")).base_url(url(server, "/"))
}

fn wamid() -> Value {
    json!({"messaging_product": "whatsapp",
           "contacts": [{"input": "5511999991234", "wa_id": "5511999991234"}],
           "messages": [{"id": "wamid.HBgM"}]})
}

#[tokio::test]
async fn whatsapp_template() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        &format!("/v23.0/{PHONE}/messages"),
        wamid(),
    )
    .await;
    let flow = Flow::builder("wo")
        .target(WhatsAppTarget::new(
            MessageKind::Template,
            connection(&server),
        ))
        .build()
        .unwrap();
    let payload = json!({"to": "5511999991234", "template": "wo_assigned", "language": "pt_BR",
                         "body": ["OT-1021"]});
    assert_dry_run_matches(&flow, &server, record(payload)).await;
}

#[tokio::test]
async fn whatsapp_text_outside_the_window_sends_the_fallback_template() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        &format!("/v23.0/{PHONE}/messages"),
        wamid(),
    )
    .await;
    let target = WhatsAppTarget::new(MessageKind::Text, connection(&server)).outside_window(
        OutsideWindow::Template {
            name: "follow_up".into(),
            language: "pt_BR".into(),
        },
    );
    let flow = Flow::builder("wo").target(target).build().unwrap();
    let sent = assert_dry_run_matches(
        &flow,
        &server,
        record(json!({"to": "5511999991234", "text": "Pump 3 is fixed"})),
    )
    .await;
    // The customer never wrote: the store decided, and the dry run shows the template.
    assert_eq!(
        sent[0].json_body().unwrap()["template"]["name"],
        "follow_up"
    );
}

#[tokio::test]
async fn whatsapp_document_uploads_first() {
    let server = MockServer::start().await;
    // The stand-in hands out the id the fake would, so the messages can be compared.
    answer(
        &server,
        "POST",
        &format!("/v23.0/{PHONE}/media"),
        json!({"id": "fake-media-1"}),
    )
    .await;
    answer(
        &server,
        "POST",
        &format!("/v23.0/{PHONE}/messages"),
        wamid(),
    )
    .await;
    let files = MemoryMedia::new();
    files.insert(
        "reports/OT-1021.pdf",
        MediaFile::new(&b"%PDF-1.4 report"[..], "OT-1021.pdf", "application/pdf"),
    );
    let target = WhatsAppTarget::new(MessageKind::Document, connection(&server))
        .outside_window(OutsideWindow::Send)
        .media(files);
    let flow = Flow::builder("docs").target(target).build().unwrap();
    let sent = assert_dry_run_matches(
        &flow,
        &server,
        record(json!({"to": "5511999991234", "file": "reports/OT-1021.pdf"})),
    )
    .await;
    assert!(sent[0].url.path().ends_with("/media"));
    assert_eq!(
        sent[1].json_body().unwrap()["document"]["id"],
        "fake-media-1"
    );
}

#[tokio::test]
async fn whatsapp_media_is_saved_after_a_lookup_and_a_download() {
    let server = MockServer::start().await;
    // The fake serves generated bytes for an id it was not given; the stand-in serves the
    // same, so the download is the same request.
    let bytes = b"hubflow fake media 99".to_vec();
    let download = format!("{}/whatsapp_business/attachments/?mid=99", server.uri());
    answer(
        &server,
        "GET",
        "/v23.0/99",
        json!({"messaging_product": "whatsapp", "url": download, "mime_type": "image/jpeg",
               "sha256": hex_sha256(&bytes), "file_size": bytes.len().to_string(), "id": "99"}),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/whatsapp_business/attachments/"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-type", "image/jpeg")
                .set_body_bytes(bytes),
        )
        .mount(&server)
        .await;
    let dir = tempdir();
    let target = SaveMediaTarget::new(
        connection(&server),
        hubflow::whatsapp::media::DirectorySink::new(&dir),
    );
    let flow = Flow::builder("save").target(target).build().unwrap();
    let message = Record::new(
        "wamid.IN1",
        "whatsapp.message",
        json!({"id": "wamid.IN1", "type": "image", "media_id": "99", "phone_number_id": PHONE,
               "from": "5511999991234", "message": {"image": {"id": "99", "mime_type": "image/jpeg"}}}),
    );
    assert_dry_run_matches(&flow, &server, message).await;
    let _ = std::fs::remove_dir_all(&dir);
}

fn hex_sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hubflow-dry-run-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// --- TimelinesAI ------------------------------------------------------------------------

#[tokio::test]
async fn timelines_message_with_an_attachment() {
    use hubflow::timelines::{TimelinesConnection, TimelinesTarget};
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/files",
        json!({"status": "ok", "data": {"uid": "fake-file-1"}}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/messages",
        json!({"status": "ok", "data": {"message_uid": "m-1"}}),
    )
    .await;
    let connection =
        TimelinesConnection::new(SecretString::from("tl-token")).base_url(url(&server, "/"));
    let flow = Flow::builder("tl")
        .target(TimelinesTarget::new(connection))
        .build()
        .unwrap();
    let sent = assert_dry_run_matches(
        &flow,
        &server,
        record(json!({"phone": "+5511999991234", "text": "OT-1021",
                      "attachment_url": "https://files.example.com/OT-1021.pdf"})),
    )
    .await;
    assert_eq!(sent[1].json_body().unwrap()["file_uid"], "fake-file-1");
}

// --- Fracttal ---------------------------------------------------------------------------

#[tokio::test]
async fn fracttal_work_request_fetches_its_token_first() {
    use hubflow::fracttal::{FracttalClient, WorkRequestTarget};
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/oauth/token",
        json!({"access_token": "fake-token-1", "token_type": "Bearer", "expires_in": 7200}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/work_requests",
        json!({"success": true, "message": "200", "data": {"id_code": 5012}}),
    )
    .await;
    let client = FracttalClient::builder(SecretString::from("key"), SecretString::from("secret"))
        .base_url(url(&server, "/api/"))
        .token_url(url(&server, "/oauth/token"))
        .build();
    let flow = Flow::builder("wr")
        .target(WorkRequestTarget::new(client))
        .build()
        .unwrap();
    let sent = assert_dry_run_matches(
        &flow,
        &server,
        record(json!({"description": "Pump 3 leaks", "requested_by": "Ana"})),
    )
    .await;
    assert_eq!(sent[0].url.path(), "/oauth/token");
}

#[tokio::test]
async fn fracttal_work_order_note_reads_the_note_then_appends_to_it() {
    use hubflow::fracttal::{FracttalClient, WorkOrderNoteTarget};
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/oauth/token",
        json!({"access_token": "fake-token-1", "token_type": "Bearer", "expires_in": 7200}),
    )
    .await;
    // What the fake answers too: work order 1, its task 77, an empty note.
    answer(
        &server,
        "GET",
        "/api/work_orders/",
        json!({"success": true, "message": "200", "total": 1, "data": [
            {"id_work_order": 1, "wo_folio": "1", "id_work_orders_tasks": "77", "note": ""}
        ]}),
    )
    .await;
    answer(
        &server,
        "PUT",
        "/api/work_orders/1",
        json!({"success": true, "message": "200", "data": {}}),
    )
    .await;
    let client = FracttalClient::builder(SecretString::from("key"), SecretString::from("secret"))
        .base_url(url(&server, "/api/"))
        .token_url(url(&server, "/oauth/token"))
        .build();
    let flow = Flow::builder("note")
        .target(WorkOrderNoteTarget::new(client))
        .build()
        .unwrap();
    let sent = assert_dry_run_matches(
        &flow,
        &server,
        record(json!({"id_work_orders_tasks": 77, "note": "WhatsApp to 5511999991234: read"})),
    )
    .await;
    let paths: Vec<&str> = sent.iter().map(|r| r.url.path()).collect();
    assert_eq!(
        paths,
        ["/oauth/token", "/api/work_orders/", "/api/work_orders/1"]
    );
}

// --- RD Conversas and RM ----------------------------------------------------------------

#[tokio::test]
async fn rdconversas_template() {
    use hubflow::rdconversas::RdConversasTarget;
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/v3/messages/template/send",
        json!({"data": {"id": "rd-1"}}),
    )
    .await;
    let target = RdConversasTarget::new(SecretString::from("rd-token"))
        .base_url(url(&server, "/"))
        .template_message_id("tpl-1");
    let flow = Flow::builder("rd").target(target).build().unwrap();
    assert_dry_run_matches(
        &flow,
        &server,
        record(json!({"to": "5511999998888", "variables": ["Ana"]})),
    )
    .await;
}

#[tokio::test]
async fn rm_cancel_with_a_jwt() {
    use hubflow::rm::{Action, ActionTarget, JwtAuth, RmAuth, RmClient};
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        "/api/connect/token/",
        json!({"access_token": "fake-rm-token-1", "refresh_token": "fake-rm-refresh-2",
               "expires_in": 300, "token_type": "Bearer"}),
    )
    .await;
    answer(
        &server,
        "POST",
        "/api/healthcare/v1/appointments/A-17/cancel",
        json!({}),
    )
    .await;
    let client = RmClient::new(
        url(&server, "/"),
        RmAuth::Jwt(JwtAuth::new("mestre", SecretString::from("rm-password"))),
    );
    let flow = Flow::builder("cancel")
        .target(ActionTarget::new(client, Action::Cancel))
        .build()
        .unwrap();
    let sent =
        assert_dry_run_matches(&flow, &server, record(json!({"appointment_id": "A-17"}))).await;
    assert_eq!(
        sent[1].headers.get("idempotency-key"),
        Some("rm:cancel:A-17")
    );
}

/// Appointment confirmations sent as a WhatsApp template through `server`.
fn confirmation_flow(server: &MockServer) -> Flow {
    Flow::builder("confirm")
        .map(
            hubflow::FieldMap::new(
                json!({"to": "{{ to }}", "template": "consulta", "language": "pt_BR"}),
            )
            .unwrap(),
        )
        .target(hubflow::rm::ConfirmationTarget::new(WhatsAppTarget::new(
            MessageKind::Template,
            connection(server),
        )))
        .build()
        .unwrap()
}

/// The appointment both RM tests confirm.
fn appointment() -> Record {
    Record::new(
        "rm:appt:A1:2026-03-03",
        "rm.appointment",
        json!({"appointment_id": "A1", "date": "2026-03-03", "to": "5511999991234"}),
    )
}

#[tokio::test]
async fn rm_confirmation_through_whatsapp_remembers_only_for_real() {
    let server = MockServer::start().await;
    answer(
        &server,
        "POST",
        &format!("/v23.0/{PHONE}/messages"),
        wamid(),
    )
    .await;
    let flow = confirmation_flow(&server);
    let appointment = appointment();
    let h = harness();
    let dry = flow.dry_run(&h.ctx, vec![appointment.clone()]).await;
    // The dry run says what it would remember, and remembers nothing.
    assert!(
        dry.records[0]
            .writes
            .iter()
            .any(|w| w.operation == "complete"),
        "{:?}",
        dry.records[0].writes
    );
    assert_dry_run_matches(&flow, &server, appointment).await;
}

#[tokio::test]
async fn rm_reply_reads_the_pending_confirmation_and_cancels() {
    use hubflow::rm::{ReplyTarget, RmAuth, RmClient};
    let whatsapp = MockServer::start().await;
    answer(
        &whatsapp,
        "POST",
        &format!("/v23.0/{PHONE}/messages"),
        wamid(),
    )
    .await;
    let erp = MockServer::start().await;
    answer(
        &erp,
        "POST",
        "/api/healthcare/v1/appointments/A1/cancel",
        json!({}),
    )
    .await;
    let h = harness();
    // A real confirmation leaves a pending confirmation in the store.
    let confirm = confirmation_flow(&whatsapp);
    delivered(only_outcome(
        &confirm.process(&h.ctx, vec![appointment()]).await,
    ));

    let client = RmClient::new(
        url(&erp, "/"),
        RmAuth::Bearer(SecretString::from("rm-token")),
    );
    let replies = Flow::builder("replies")
        .target(ReplyTarget::new(client))
        .build()
        .unwrap();
    let answer = Record::new(
        "wamid.R1",
        "whatsapp.message",
        json!({"from": "5511999991234", "type": "button", "reply_id": "cancel:A1:2026-03-03",
               "text": "Cancelar", "context_id": null}),
    );
    // The dry run found the confirmation through the host's store and shows the ERP call.
    let sent = assert_dry_run_matches_in(&h, &replies, &erp, answer).await;
    assert_eq!(
        sent[0].url.path(),
        "/api/healthcare/v1/appointments/A1/cancel"
    );
}
