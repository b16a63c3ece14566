//! The WhatsApp target against a local stand-in of the Graph API: what is sent, how each
//! class of Meta error is handled, the 24-hour window, and the rate limits.

mod common;

use std::time::Duration;

use common::{delivered, failed, fixture, harness, mount_catch_all, only_outcome, url, Harness};
use hubflow::whatsapp::{
    remember_inbound, MessageKind, OutsideWindow, WhatsAppConnection, WhatsAppTarget,
};
use hubflow::{Clock, DeliveryPolicy, ErrorClass, FieldMap, Flow, Record, RetryPolicy, Stage};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PHONE_ID: &str = "106540352242922";
const TOKEN: &str = "EAAG-test-token-do-not-log";
const MESSAGES: &str = "/v23.0/106540352242922/messages";

fn connection(server: &MockServer) -> WhatsAppConnection {
    WhatsAppConnection::new(PHONE_ID, SecretString::from(TOKEN)).base_url(url(server, "/"))
}

fn template_flow(server: &MockServer, attempts: u32) -> Flow {
    let map = FieldMap::new(json!({
        "to": "{{ responsible_phone | phone('BR') }}",
        "template": "wo_assignment",
        "language": "pt_BR",
        "body": ["{{ user_assigned }}", "{{ wo_folio }}"]
    }))
    .unwrap();
    Flow::builder("wo-whatsapp")
        .map(map)
        .target(WhatsAppTarget::new(
            MessageKind::Template,
            connection(server),
        ))
        .delivery(DeliveryPolicy::default().retry(RetryPolicy::default().max_attempts(attempts)))
        .build()
        .unwrap()
}

fn text_flow(server: &MockServer, outside: OutsideWindow) -> Flow {
    Flow::builder("chat-reply")
        .map(FieldMap::new(json!({"to": "{{ phone }}", "text": "{{ text }}"})).unwrap())
        .target(WhatsAppTarget::new(MessageKind::Text, connection(server)).outside_window(outside))
        .build()
        .unwrap()
}

fn work_order(key: &str, phone: &str) -> Record {
    Record::new(
        key,
        "fracttal.work_order",
        json!({"user_assigned": "Jonas Campos", "wo_folio": "OT-1021", "responsible_phone": phone}),
    )
}

fn chat(key: &str, phone: &str, text: &str) -> Record {
    Record::new(key, "chat", json!({"phone": phone, "text": text}))
}

async fn answer(server: &MockServer, status: u16, body: Value, times: u64) {
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
}

async fn sent_bodies(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn a_template_is_sent_with_the_token_and_the_record_key_and_its_wamid_kept() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_partial_json(json!({
            "messaging_product": "whatsapp",
            "to": "5511999991234",
            "type": "template",
            "biz_opaque_callback_data": "fracttal:wo:5001:1",
            "template": {"name": "wo_assignment", "language": {"code": "pt_BR"}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whatsapp_api/sent.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();

    let report = template_flow(&server, 3)
        .process(
            &ctx,
            vec![work_order("fracttal:wo:5001:1", "(11) 99999-1234")],
        )
        .await;

    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 1);
    assert!(
        receipt.id.as_deref().unwrap().starts_with("wamid."),
        "{receipt:?}"
    );
    assert_eq!(receipt.details["wa_id"], "5511999991234");
    let body = &sent_bodies(&server).await[0];
    let params = &body["template"]["components"][0]["parameters"];
    assert_eq!(params[0], json!({"type": "text", "text": "Jonas Campos"}));
    assert_eq!(params[1], json!({"type": "text", "text": "OT-1021"}));
    assert!(!serde_json::to_string(&report).unwrap().contains(TOKEN));
    server.verify().await;
}

#[tokio::test]
async fn an_invalid_number_fails_the_record_without_a_request() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let report = template_flow(&server, 3)
        .process(&ctx, vec![work_order("wo:1", "12")])
        .await;
    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert_eq!(
        (failure.stage, retryable, attempts),
        (Stage::Map, false, 0),
        "{failure:?}"
    );
    server.verify().await;
}

#[tokio::test]
async fn throughput_errors_are_retried_after_the_wait_meta_asks_for() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "12")
                .set_body_json(fixture("whatsapp_api/error_130429.json")),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    answer(&server, 200, fixture("whatsapp_api/sent.json"), 1).await;
    mount_catch_all(&server).await;
    let Harness { ctx, clock, .. } = harness();

    let report = template_flow(&server, 3)
        .process(&ctx, vec![work_order("wo:1", "+55 11 99999-1234")])
        .await;

    assert_eq!(delivered(only_outcome(&report)).1, 2);
    assert!(
        clock.sleeps().contains(&Duration::from_secs(12)),
        "{:?}",
        clock.sleeps()
    );
    server.verify().await;
}

#[tokio::test]
async fn transient_server_errors_are_retried_with_backoff() {
    let server = MockServer::start().await;
    answer(&server, 500, fixture("whatsapp_api/error_131000.json"), 1).await;
    answer(&server, 200, fixture("whatsapp_api/sent.json"), 1).await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let report = template_flow(&server, 3)
        .process(&ctx, vec![work_order("wo:1", "11999991234")])
        .await;
    assert_eq!(delivered(only_outcome(&report)).1, 2);
    server.verify().await;
}

#[tokio::test]
async fn the_pair_rate_limit_waits_six_seconds_for_that_recipient() {
    let server = MockServer::start().await;
    answer(&server, 400, fixture("whatsapp_api/error_131056.json"), 1).await;
    answer(&server, 200, fixture("whatsapp_api/sent.json"), 1).await;
    mount_catch_all(&server).await;
    let Harness { ctx, clock, .. } = harness();
    let report = template_flow(&server, 3)
        .process(&ctx, vec![work_order("wo:1", "11999991234")])
        .await;
    assert_eq!(delivered(only_outcome(&report)).1, 2);
    let waited: Duration = clock.sleeps().iter().sum();
    assert!(waited >= Duration::from_secs(6), "{:?}", clock.sleeps());
    server.verify().await;
}

#[tokio::test]
async fn an_expired_static_token_is_not_resent_and_is_reported_with_its_code() {
    // A static token has nothing new to send: one request, a permanent failure. (A token
    // the host reloads is resent once: see tests/credentials_refresh.rs.)
    let server = MockServer::start().await;
    answer(&server, 401, fixture("whatsapp_api/error_190.json"), 1).await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let report = template_flow(&server, 5)
        .process(&ctx, vec![work_order("wo:1", "11999991234")])
        .await;
    let (failure, _, attempts) = failed(only_outcome(&report));
    assert_eq!(attempts, 1);
    assert_eq!(failure.code.as_deref(), Some("190"));
    assert_eq!(failure.class, ErrorClass::Permanent);
    assert!(!failure.message.contains(TOKEN));
    server.verify().await;
}

#[tokio::test]
async fn permanent_errors_are_not_retried() {
    for (fixture_name, code) in [
        ("whatsapp_api/error_131047.json", "131047"),
        ("whatsapp_api/error_132001.json", "132001"),
    ] {
        let server = MockServer::start().await;
        answer(&server, 400, fixture(fixture_name), 1).await;
        mount_catch_all(&server).await;
        let Harness { ctx, .. } = harness();
        let report = template_flow(&server, 5)
            .process(&ctx, vec![work_order("wo:1", "11999991234")])
            .await;
        let (failure, retryable, attempts) = failed(only_outcome(&report));
        assert_eq!((retryable, attempts), (false, 1), "{code}");
        assert_eq!(failure.code.as_deref(), Some(code));
        assert_eq!(failure.status, Some(400));
        server.verify().await;
    }
}

#[tokio::test]
async fn a_text_outside_the_window_is_refused_before_sending() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let report = text_flow(&server, OutsideWindow::Refuse)
        .process(
            &ctx,
            vec![chat("c1", "5511999991234", "Your technician is on the way")],
        )
        .await;
    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert!(!retryable);
    assert_eq!(attempts, 1);
    assert!(failure.message.contains("24-hour"), "{}", failure.message);
    assert!(failure.message.contains("template"), "{}", failure.message);
    server.verify().await;
}

#[tokio::test]
async fn a_text_inside_the_window_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_partial_json(
            json!({"type": "text", "text": {"body": "On my way"}}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whatsapp_api/sent.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let Harness { ctx, clock, .. } = harness();
    // The customer wrote 23 hours ago: the window is still open.
    let wrote = clock.now() - chrono::Duration::hours(23);
    let inbound = Record::new(
        "wamid.in",
        "whatsapp.message",
        json!({"phone_number_id": PHONE_ID, "from": "5511999991234"}),
    )
    .occurred_at(wrote);
    assert_eq!(remember_inbound(&ctx, &[inbound]).await.unwrap(), 1);

    let report = text_flow(&server, OutsideWindow::Refuse)
        .process(&ctx, vec![chat("c1", "5511999991234", "On my way")])
        .await;
    assert_eq!(delivered(only_outcome(&report)).1, 1);
    server.verify().await;
}

#[tokio::test]
async fn outside_the_window_a_fallback_template_carries_the_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_partial_json(json!({
            "type": "template",
            "biz_opaque_callback_data": "c1",
            "template": {"name": "follow_up", "language": {"code": "pt_BR"},
                         "components": [{"type": "body", "parameters": [{"type": "text", "text": "Line one line two"}]}]}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whatsapp_api/sent.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let Harness { ctx, clock, .. } = harness();
    // 25 hours ago: closed.
    let wrote = clock.now() - chrono::Duration::hours(25);
    let inbound = Record::new(
        "wamid.in",
        "whatsapp.message",
        json!({"phone_number_id": PHONE_ID, "from": "5511999991234"}),
    )
    .occurred_at(wrote);
    remember_inbound(&ctx, &[inbound]).await.unwrap();

    let fallback = OutsideWindow::Template {
        name: "follow_up".into(),
        language: "pt_BR".into(),
    };
    let report = text_flow(&server, fallback)
        .process(
            &ctx,
            vec![chat("c1", "5511999991234", "Line one\nline two")],
        )
        .await;
    let (receipt, _) = delivered(only_outcome(&report));
    assert_eq!(receipt.details["sent_as_template"], "follow_up");
    server.verify().await;
}

#[tokio::test]
async fn messages_to_one_recipient_are_paced_and_others_are_not() {
    let server = MockServer::start().await;
    answer(&server, 200, fixture("whatsapp_api/sent.json"), 3).await;
    mount_catch_all(&server).await;
    let Harness { ctx, clock, .. } = harness();
    let flow = Flow::builder("paced")
        .map(
            FieldMap::new(json!({"to": "{{ phone }}", "template": "t", "language": "en"})).unwrap(),
        )
        .target(WhatsAppTarget::new(
            MessageKind::Template,
            connection(&server),
        ))
        .delivery(DeliveryPolicy::default().max_in_flight(1))
        .build()
        .unwrap();
    let records = vec![
        Record::new("a", "t", json!({"phone": "5511999991234"})),
        Record::new("b", "t", json!({"phone": "5521988884321"})),
        Record::new("c", "t", json!({"phone": "5511999991234"})),
    ];
    let report = flow.process(&ctx, records).await;
    assert_eq!(report.counts.delivered, 3);
    let long_waits: Vec<_> = clock
        .sleeps()
        .into_iter()
        .filter(|d| *d >= Duration::from_secs(1))
        .collect();
    assert_eq!(
        long_waits.len(),
        1,
        "only the repeat recipient waits: {:?}",
        clock.sleeps()
    );
    assert!(long_waits[0] <= Duration::from_secs(6));
    server.verify().await;
}

#[tokio::test]
async fn the_dry_run_shows_the_request_without_the_token() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let flow = template_flow(&server, 3);
    let plan = flow
        .plan(&common::plan_ctx(), &work_order("wo:1", "(11) 99999-1234"))
        .await
        .unwrap();
    let shown = serde_json::to_string(&plan).unwrap();
    // The send path adds the token when it sends; the plan does not hold it at all.
    assert!(
        !shown.to_ascii_lowercase().contains("authorization"),
        "{shown}"
    );
    assert!(!shown.contains(TOKEN));
    assert!(!format!("{plan:?}").contains(TOKEN));
    let target = WhatsAppTarget::new(MessageKind::Template, connection(&server));
    assert!(!format!("{target:?}").contains(TOKEN), "{target:?}");
    server.verify().await;
}

#[tokio::test]
async fn a_flow_spec_with_a_named_connection_sends_through_the_registry_kinds() {
    use hubflow::spec::{Connections, MapSecrets, Registry};
    use hubflow::FlowSpec;

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v24.0/106540352242922/messages"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(body_partial_json(
            json!({"type": "template", "to": "5511999991234"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whatsapp_api/sent.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let spec = FlowSpec::from_json(
        r#"{
        "id": "wo-assigned-whatsapp",
        "when": {"field": "user_assigned", "op": "eq", "value": "Jonas Campos"},
        "map": {"to": "{{ responsible_phone | phone('BR') }}", "template": "wo_assignment",
                "language": "pt_BR", "body": ["{{ user_assigned }}", "{{ wo_folio }}"]},
        "target": {"whatsapp.template": {"connection": "whatsapp", "rate_per_second": 20}}
    }"#,
    )
    .unwrap();
    let mut connections = Connections::new();
    connections.insert(
        "whatsapp",
        json!({"phone_number_id": PHONE_ID, "access_token": {"secret": "WHATSAPP_TOKEN"},
               "api_version": "v24.0", "base_url": url(&server, "/").as_str()}),
    );
    let secrets = MapSecrets::new().with("WHATSAPP_TOKEN", TOKEN);
    let flow = spec
        .build(&Registry::default(), &connections, &secrets)
        .unwrap();
    let Harness { ctx, .. } = harness();
    let report = flow
        .process(&ctx, vec![work_order("wo:1", "(11) 99999-1234")])
        .await;
    assert_eq!(report.counts.delivered, 1, "{report:?}");
    server.verify().await;

    // The same spec without the secret, or with a typo in the target config, reports where.
    let errors = spec
        .build(&Registry::default(), &connections, &MapSecrets::new())
        .unwrap_err();
    let first = errors.iter().next().unwrap();
    assert_eq!(first.path, "/target/whatsapp.template/connection");
    assert!(first.message.contains("WHATSAPP_TOKEN"), "{first}");
    let typo = FlowSpec::from_json(
        r#"{"id": "x", "target": {"whatsapp.text": {"connection": "whatsapp", "outside_windw": "send"}}}"#,
    )
    .unwrap();
    let errors = typo
        .build(&Registry::default(), &connections, &secrets)
        .unwrap_err();
    assert_eq!(
        errors.iter().next().unwrap().path,
        "/target/whatsapp.text/outside_windw"
    );
}

/// Two flows sending from one number, as two worker processes would, share the number's
/// limit through the context's rate store: one send every 1/rate, whoever sends.
#[tokio::test]
async fn workers_sharing_a_rate_store_share_the_number_limit() {
    let server = MockServer::start().await;
    answer(&server, 200, fixture("whatsapp_api/sent.json"), 4).await;
    mount_catch_all(&server).await;
    let Harness { ctx, clock, .. } = harness();
    let shared = hubflow::MemoryStore::new();
    let ctx = ctx.with_rates(shared.clone());
    // Each "worker" builds its own target, as a separate process would.
    let worker = |id: &str| {
        Flow::builder(id)
            .map(
                FieldMap::new(json!({"to": "{{ phone }}", "template": "t", "language": "en"}))
                    .unwrap(),
            )
            .target(
                WhatsAppTarget::new(MessageKind::Template, connection(&server))
                    .rate_per_second(4.0),
            )
            .build()
            .unwrap()
    };
    let (one, two) = (worker("w1"), worker("w2"));
    let to = |key: &str, phone: &str| vec![Record::new(key, "t", json!({"phone": phone}))];
    one.process(&ctx, to("a", "5511999991234")).await;
    two.process(&ctx, to("b", "5521988884321")).await;
    one.process(&ctx, to("c", "5531977776543")).await;
    two.process(&ctx, to("d", "5541966665432")).await;
    // Each send after the first waits for its slot, 250 ms after the previous one,
    // whichever worker took it (the manual clock moves by what is slept). Without the
    // shared store each worker would pace only its own sends: one wait in all.
    assert_eq!(clock.sleeps(), vec![Duration::from_millis(250); 3]);
    // The slots are in the shared store, under the number.
    let next = hubflow::RateStore::reserve_slot(
        &shared,
        &format!("whatsapp:{PHONE_ID}"),
        Duration::from_millis(250),
        clock.now(),
    )
    .await
    .unwrap();
    assert_eq!(next, clock.now() + chrono::Duration::milliseconds(250));
    server.verify().await;
}
