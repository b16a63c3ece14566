//! The `tracing` feature: a run, its records, failed attempts and webhook requests are
//! spans and events with the fields a host needs, and never a secret or a record's data.
#![cfg(all(feature = "tracing", feature = "http", feature = "whatsapp"))]

use std::fmt::{Debug, Write};
use std::sync::{Arc, Mutex};

use hubflow::http::{HttpResponse, Method, RecordingClient};
use hubflow::http_target::HttpTarget;
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
use hubflow::{
    Context, DeliveryPolicy, Flow, InboundRequest, ManualClock, MemoryStore, Record, RetryPolicy,
    Trigger, WebhookSource,
};
use secrecy::SecretString;
use serde_json::json;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record as Values};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

const SECRET: &str = "Bearer SENTINEL-TOKEN-7Hq2";
const PATIENT: &str = "SENTINEL-PATIENT-Ana-52998224725";

/// Every span opened, every value recorded on a span and every event, as text lines.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        let _ = write!(self.0, " {}={:?}", field.name(), value);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={}", field.name(), value);
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, _id: &Id, _ctx: LayerContext<'_, S>) {
        let mut line = Line(format!("span {}:", attrs.metadata().name()));
        attrs.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn on_record(&self, id: &Id, values: &Values<'_>, ctx: LayerContext<'_, S>) {
        let name = ctx.span(id).map(|s| s.name()).unwrap_or("?");
        let mut line = Line(format!("record {name}:"));
        values.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        let mut line = Line(format!("event {}:", event.metadata().name()));
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
}

impl Capture {
    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    /// The lines starting with `prefix`, joined (a span's values are recorded one field
    /// at a time).
    fn find(&self, prefix: &str) -> String {
        let found: Vec<String> = self
            .lines()
            .into_iter()
            .filter(|l| l.starts_with(prefix))
            .collect();
        assert!(!found.is_empty(), "no `{prefix}` in {:#?}", self.lines());
        found.join(" |")
    }
}

#[tokio::test]
async fn a_run_its_records_and_failed_attempts_are_traced_without_secrets_or_data() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let http = RecordingClient::new();
    http.push_response(HttpResponse::new(503, format!("upstream echoed {SECRET}")));
    http.push_response(HttpResponse::new(200, "{}"));
    let flow = Flow::builder("erp-hooks")
        .target(
            HttpTarget::new("https://erp.example.com/hooks".parse().unwrap())
                .secret_header("Authorization", SecretString::from(SECRET)),
        )
        .delivery(DeliveryPolicy::default().retry(RetryPolicy::default().max_attempts(3)))
        .trigger(Trigger::every(300))
        .build()
        .unwrap();
    let ctx = Context::new(
        http,
        ManualClock::new(chrono::Utc::now()),
        MemoryStore::new(),
    );
    let report = flow
        .process(
            &ctx,
            vec![Record::new(
                "req-42",
                "request",
                json!({"patient": PATIENT}),
            )],
        )
        .await;
    assert_eq!(report.counts.delivered, 1);

    let run = capture.find("span hubflow.run:");
    assert!(
        run.contains("flow=erp-hooks")
            && run.contains("trigger=every")
            && run.contains("records=1"),
        "{run}"
    );
    let counts = capture.find("record hubflow.run:");
    assert!(
        counts.contains("delivered=1") && counts.contains("failed=0"),
        "{counts}"
    );
    let record = capture.find("span hubflow.record:");
    assert!(
        record.contains("key=req-42") && record.contains("kind=request"),
        "{record}"
    );
    let outcome = capture.find("record hubflow.record:");
    assert!(
        outcome.contains("outcome=delivered") && outcome.contains("attempts=2"),
        "{outcome}"
    );
    let attempt = capture.find("event hubflow.attempt:");
    for field in [
        "attempt=1",
        "status=503",
        "decision=retry",
        "retryable=true",
        "wait_ms=",
    ] {
        assert!(attempt.contains(field), "{field} in {attempt}");
    }
    assert!(
        attempt.contains("target_kind=") && attempt.contains("HttpTarget"),
        "{attempt}"
    );

    let all = capture.lines().join("\n");
    assert!(
        !all.contains("SENTINEL"),
        "a secret or the record's data was traced:\n{all}"
    );
}

#[tokio::test]
async fn a_flow_built_from_a_spec_names_its_target_kind() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let spec = hubflow::FlowSpec::from_json(
        r#"{"id": "ops", "target": {"http.post": {"url": "https://ops.example.com/hook"}},
            "delivery": {"max_attempts": 1}}"#,
    )
    .unwrap();
    let flow = spec
        .build(
            &hubflow::spec::Registry::default(),
            &hubflow::spec::Connections::new(),
            &hubflow::spec::MapSecrets::new(),
        )
        .unwrap();
    assert_eq!(flow.target_kind(), "http.post");
    let http = RecordingClient::answering(HttpResponse::new(500, "down"));
    let ctx = Context::new(
        http,
        ManualClock::new(chrono::Utc::now()),
        MemoryStore::new(),
    );
    flow.process(&ctx, vec![Record::new("k", "t", json!({}))])
        .await;
    let attempt = capture.find("event hubflow.attempt:");
    assert!(
        attempt.contains("target_kind=http.post") && attempt.contains("decision=give_up"),
        "{attempt}"
    );
    let outcome = capture.find("record hubflow.record:");
    assert!(
        outcome.contains("outcome=failed") && outcome.contains("stage=deliver"),
        "{outcome}"
    );
}

#[test]
fn webhook_requests_are_traced_with_their_signature_result() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    let secret = SecretString::from("app-secret");
    let webhook = WhatsAppWebhook::new(SecretString::from("verify"), secret.clone());
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "1", "phone_number_id": "1065"},
        "messages": [{"from": "5511999991234", "id": "wamid.1", "timestamp": "1772438400",
                      "type": "text", "text": {"body": PATIENT}}]}}]}]})
    .to_string();
    let signed = InboundRequest::new(Method::Post, "/hooks/wa", body.clone())
        .header("X-Hub-Signature-256", sign(&secret, body.as_bytes()));
    assert_eq!(webhook.handle(&signed).status, 200);
    let forged = InboundRequest::new(Method::Post, "/hooks/wa", body)
        .header("X-Hub-Signature-256", format!("sha256={}", "0".repeat(64)));
    assert_eq!(webhook.handle(&forged).status, 401);
    // A wrong verify token is a refused credential too, though Meta's answer is a 403.
    let probe = InboundRequest::new(
        Method::Get,
        "/hooks/wa?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
        "",
    );
    assert_eq!(webhook.handle(&probe).status, 403);
    // Too large to look at: refused before the signature is checked.
    let huge = InboundRequest::new(Method::Post, "/hooks/wa", vec![b' '; 4 << 20])
        .header("X-Hub-Signature-256", format!("sha256={}", "0".repeat(64)));
    assert_eq!(webhook.handle(&huge).status, 413);
    let events: Vec<String> = capture
        .lines()
        .into_iter()
        .filter(|l| l.starts_with("event hubflow.webhook:"))
        .collect();
    assert_eq!(events.len(), 4, "{events:#?}");
    assert!(
        events[0].contains("source=whatsapp")
            && events[0].contains("events=1")
            && events[0].contains("signature=valid"),
        "{}",
        events[0]
    );
    assert!(
        events[1].contains("status=401") && events[1].contains("signature=refused"),
        "{}",
        events[1]
    );
    assert!(
        events[2].contains("status=403") && events[2].contains("signature=refused"),
        "{}",
        events[2]
    );
    assert!(
        events[3].contains("status=413") && events[3].contains("signature=not_checked"),
        "{}",
        events[3]
    );
    assert!(!capture.lines().join("\n").contains("SENTINEL"));
}
