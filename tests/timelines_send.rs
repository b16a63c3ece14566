//! The TimelinesAI message target over real HTTP against a local mock of the public API:
//! request shapes and the bearer token, receipts, retries by status, the 50-a-minute
//! pacing on the flow's clock, attachments by upload, and the spec factory.
#![cfg(feature = "timelines")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{
    delivered, duplicate, failed, harness, mount_catch_all, only_outcome, received, url,
    SECRET_TOKEN,
};
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::timelines::webhook::parse;
use hubflow::timelines::{TimelinesConnection, TimelinesTarget};
use hubflow::{
    Clock, DeliveryPolicy, DynTarget, ErrorClass, FieldMap, Flow, FlowSpec, Plan, Record,
    RetryPolicy,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The API token; the `Authorization` header must be exactly [`SECRET_TOKEN`].
const API_TOKEN: &str = "tok-7Hq2-secret-value";
const API: &str = "/integrations/api";

fn target(server: &MockServer) -> TimelinesTarget {
    TimelinesTarget::new(
        TimelinesConnection::new(SecretString::from(API_TOKEN)).base_url(url(server, API)),
    )
}

fn policy(max_attempts: u32) -> DeliveryPolicy {
    DeliveryPolicy::default().max_in_flight(1).retry(
        RetryPolicy::default()
            .max_attempts(max_attempts)
            .backoff(Duration::from_millis(200), Duration::from_secs(5)),
    )
}

fn flow(target: TimelinesTarget, delivery: DeliveryPolicy) -> Flow {
    Flow::builder("itest-timelines")
        .target(target)
        .delivery(delivery)
        .build()
        .expect("the flow builds")
}

fn sent(uid: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"status": "ok", "data": {"message_uid": uid}}))
}

fn message(key: &str, payload: Value) -> Record {
    Record::new(key, "test.message", payload)
}

fn assert_no_token(text: &str) {
    assert!(!text.contains(API_TOKEN), "the API token leaked: {text}");
    assert!(!text.contains("tok-7Hq2"), "the API token leaked: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_a_received_message_by_phone_with_the_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/messages")))
        .and(header("authorization", SECRET_TOKEN))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({
            "phone": "+15551234567",
            "text": "Hello John Doe, we got: Hi, here is the signed contract"
        })))
        .respond_with(sent("9e2b7f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    // A received v2 message, answered through a mapping of its record data.
    let body = std::fs::read(format!(
        "{}/tests/fixtures/timelines/v2_message_received_new.json",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("the fixture");
    let record = parse(&body).expect("parses").remove(0);
    let map = FieldMap::new(json!({
        "phone": "{{ chat.phone }}",
        "text": "Hello {{ sender.name }}, we got: {{ text }}"
    }))
    .expect("the mapping compiles");
    let flow = Flow::builder("answer")
        .map(map)
        .target(target(&server))
        .delivery(policy(3))
        .build()
        .expect("the flow builds");

    // A plan shows the request without the token: the send path adds it when it sends.
    let Plan::Send(request) = flow
        .plan(&common::plan_ctx(), &record)
        .await
        .expect("plans")
    else {
        panic!("expected a send plan");
    };
    let shown = serde_json::to_string(&request).expect("serializes");
    assert_no_token(&shown);
    assert!(
        !shown.to_ascii_lowercase().contains("authorization"),
        "{shown}"
    );
    assert_no_token(&format!("{request:?}"));
    assert_no_token(&format!("{:?}", target(&server)));

    let h = harness();
    let report = flow.process(&h.ctx, vec![record]).await;
    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 1);
    assert_eq!(
        receipt.id.as_deref(),
        Some("9e2b7f4a-1c3d-4e5f-8a9b-0c1d2e3f4a5b")
    );
    assert_eq!(receipt.status, Some(200));
    assert!(
        h.clock.sleeps().is_empty(),
        "the first request waits for nothing"
    );
    assert_no_token(&serde_json::to_string(&report).expect("serializes"));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_into_an_existing_chat_by_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/chats/123456/messages")))
        .and(header("authorization", SECRET_TOKEN))
        .and(body_json(
            json!({"text": "WR-1042 opened", "reply_to": "a5bbb005"}),
        ))
        .respond_with(sent("uid-chat-1"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let payload = json!({"chat_id": "123456", "text": "WR-1042 opened", "reply_to": "a5bbb005"});
    let report = flow(target(&server), policy(3))
        .process(&h.ctx, vec![message("m1", payload)])
        .await;
    let (receipt, _) = delivered(only_outcome(&report));
    assert_eq!(receipt.id.as_deref(), Some("uid-chat-1"));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_url_is_uploaded_first_and_sent_by_file_uid() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/files")))
        .and(header("authorization", SECRET_TOKEN))
        .and(body_json(json!({
            "download_url": "https://erp.example.com/reports/wr-1042.pdf",
            "filename": "WR-1042.pdf"
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "ok",
            "data": {"uid": "90d353e6-44c1-48ff-b15b-69b7721e5450", "filename": "WR-1042.pdf"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/messages")))
        .and(header("authorization", SECRET_TOKEN))
        .and(body_json(json!({
            "phone": "+5511999991234",
            "text": "Your report",
            "file_uid": "90d353e6-44c1-48ff-b15b-69b7721e5450"
        })))
        .respond_with(sent("uid-with-file"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let payload = json!({
        "phone": "5511999991234",
        "text": "Your report",
        "attachment_url": "https://erp.example.com/reports/wr-1042.pdf",
        "attachment_filename": "WR-1042.pdf"
    });
    let report = flow(target(&server), policy(3))
        .process(&h.ctx, vec![message("m-file", payload)])
        .await;
    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 1);
    assert_eq!(receipt.id.as_deref(), Some("uid-with-file"));
    assert_eq!(
        receipt.details,
        json!({"file_uid": "90d353e6-44c1-48ff-b15b-69b7721e5450"})
    );
    assert_eq!(
        h.clock.sleeps(),
        vec![Duration::from_millis(1200)],
        "the upload and the send each take a slot of the 50-a-minute limit"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_its_retry_after_on_the_flow_clock() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/messages")))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_json(json!({"status": "error", "message": "Too many requests"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/messages")))
        .respond_with(sent("uid-after-429"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let started = std::time::Instant::now();
    let report = flow(target(&server), policy(3))
        .process(
            &h.ctx,
            vec![message(
                "m429",
                json!({"phone": "+5511999991234", "text": "x"}),
            )],
        )
        .await;
    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 2);
    assert_eq!(receipt.id.as_deref(), Some("uid-after-429"));
    // The 7 s wait covers the 1.2 s pacing slot, so it is the only wait.
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(7)]);
    assert_eq!(
        h.clock.now(),
        common::start_instant() + chrono::Duration::seconds(7)
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "waited in real time"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_backoff() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/messages")))
        .respond_with(ResponseTemplate::new(503).set_body_string("<html>busy</html>"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/messages")))
        .respond_with(ResponseTemplate::new(500).set_body_string("oops"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/messages")))
        .respond_with(sent("uid-after-5xx"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let delivery = policy(4);
    let ceiling = delivery.retry.backoff_ceiling(2);
    let report = flow(target(&server), delivery)
        .process(
            &h.ctx,
            vec![message(
                "m5xx",
                json!({"phone": "+5511999991234", "text": "x"}),
            )],
        )
        .await;
    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 3);
    assert_eq!(receipt.id.as_deref(), Some("uid-after-5xx"));
    let sleeps = h.clock.sleeps();
    assert!(!sleeps.is_empty(), "the retries waited on the clock");
    assert!(
        sleeps
            .iter()
            .all(|s| *s <= Duration::from_millis(1200).max(ceiling)),
        "{sleeps:?}"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_permanent_and_sent_once() {
    let cases = [
        (
            400,
            json!({"status": "error", "message": "Invalid phone number format"}),
            "Invalid phone number format",
        ),
        (
            401,
            json!({"status": "error", "message": "Invalid or expired token"}),
            "Invalid or expired token",
        ),
        (
            403,
            json!({"status": "error", "message": "Access denied"}),
            "Access denied",
        ),
        (
            404,
            json!({"status": "error", "message": "Chat not found"}),
            "Chat not found",
        ),
    ];
    for (status, body, text) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path(format!("{API}/messages")))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
        mount_catch_all(&server).await;

        let h = harness();
        let report = flow(target(&server), policy(5))
            .process(
                &h.ctx,
                vec![message(
                    "m4xx",
                    json!({"phone": "+5511999991234", "text": "x"}),
                )],
            )
            .await;
        let (failure, retryable, attempts) = failed(only_outcome(&report));
        assert!(!retryable, "{status}");
        assert_eq!(attempts, 1, "{status}");
        assert_eq!(failure.class, ErrorClass::Permanent, "{status}");
        assert_eq!(failure.status, Some(status));
        assert!(
            failure.message.contains(text),
            "{status}: {}",
            failure.message
        );
        assert!(h.clock.sleeps().is_empty());
        assert_no_token(&serde_json::to_string(&report).expect("serializes"));
        server.verify().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_envelope_or_a_missing_uid_in_a_200_is_not_a_delivery() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/chats/1/messages")))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"status": "error", "message": "Message quota exceeded"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/chats/2/messages")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"status": "ok", "data": {}})))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = flow(target(&server), policy(5));
    let report = flow
        .process(
            &h.ctx,
            vec![
                message("quota", json!({"chat_id": 1, "text": "x"})),
                message("no-uid", json!({"chat_id": 2, "text": "x"})),
            ],
        )
        .await;
    let (failure, retryable, attempts) = failed(&report.records[0].outcome);
    assert!(!retryable);
    assert_eq!(attempts, 1);
    assert!(
        failure.message.contains("Message quota exceeded"),
        "{}",
        failure.message
    );
    let (failure, retryable, _) = failed(&report.records[1].outcome);
    assert!(!retryable);
    assert!(
        failure.message.contains("message_uid"),
        "{}",
        failure.message
    );

    // TimelinesAI probably queued the second message: its claim is kept, so a replay does
    // not send it again.
    let replay = flow
        .process(
            &h.ctx,
            vec![message("no-uid", json!({"chat_id": 2, "text": "x"}))],
        )
        .await;
    assert_eq!(duplicate(only_outcome(&replay)), None);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_paced_to_fifty_a_minute_across_clones() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/messages")))
        .respond_with(sent("uid"))
        .expect(4)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let target = target(&server);
    let records = (0..3)
        .map(|i| {
            message(
                &format!("p{i}"),
                json!({"phone": "+5511999991234", "text": format!("n{i}")}),
            )
        })
        .collect();
    let report = flow(target.clone(), policy(1))
        .process(&h.ctx, records)
        .await;
    assert_eq!(report.counts.delivered, 3);
    assert_eq!(
        h.clock.sleeps(),
        vec![Duration::from_millis(1200); 2],
        "60 s / 50 between requests"
    );

    // Another flow over a clone of the target shares the limit: its first request still
    // waits for the next free slot.
    let other = flow(target.clone(), policy(1));
    let report = other
        .process(
            &h.ctx,
            vec![message(
                "p3",
                json!({"phone": "+5511999991234", "text": "n3"}),
            )],
        )
        .await;
    assert_eq!(report.counts.delivered, 1);
    assert_eq!(h.clock.sleeps().len(), 3);
    assert_eq!(h.clock.sleeps()[2], Duration::from_millis(1200));
    assert!(Arc::ptr_eq(target.limiter(), target.clone().limiter()));
    server.verify().await;
}

// --- the spec factory -----------------------------------------------------------------------

fn registry() -> Registry {
    let mut registry = Registry::empty();
    registry.register_target(hubflow::timelines::KIND, |cx, config| {
        Ok(DynTarget::new(TimelinesTarget::from_spec(cx, config)?))
    });
    registry
}

fn spec() -> FlowSpec {
    FlowSpec::from_json(
        r#"{
            "id": "wo-to-whatsapp",
            "map": {"phone": "{{ phone }}", "text": "{{ text }}"},
            "target": {"timelines.message": {"connection": "timelines"}},
            "delivery": {"max_in_flight": 1, "max_attempts": 1}
        }"#,
    )
    .expect("the spec parses")
}

fn connections(connection: Value) -> Connections {
    let mut connections = Connections::new();
    connections.insert("timelines", connection);
    connections
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_built_target_uses_the_connection_token_base_url_and_rate() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(format!("{API}/messages")))
        .and(header("authorization", SECRET_TOKEN))
        .respond_with(sent("uid-spec"))
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let connections = connections(json!({
        "base_url": url(&server, API).as_str(),
        "api_token": {"secret": "TIMELINES_TOKEN"},
        "requests_per_minute": 20
    }));
    let secrets = MapSecrets::new().with("TIMELINES_TOKEN", API_TOKEN);
    let flow = spec()
        .build(&registry(), &connections, &secrets)
        .expect("the flow builds");
    let h = harness();
    let report = flow
        .process(
            &h.ctx,
            vec![
                Record::new("s1", "wo", json!({"phone": "+5511999991234", "text": "a"})),
                Record::new("s2", "wo", json!({"phone": "+5511999991234", "text": "b"})),
            ],
        )
        .await;
    assert_eq!(report.counts.delivered, 2, "{report:?}");
    assert_eq!(
        h.clock.sleeps(),
        vec![Duration::from_secs(3)],
        "20 a minute"
    );
    assert_eq!(received(&server).await, 2);
    server.verify().await;
}

#[test]
fn spec_errors_are_located_and_never_show_the_token() {
    let secrets = MapSecrets::new().with("TIMELINES_TOKEN", API_TOKEN);
    let cases = [
        (
            json!({"api_token": {"secret": "TIMELINES_TOKEN"}, "token": "x"}),
            "unknown field",
        ),
        (json!({"api_token": {"secret": "NOT_SET"}}), "NOT_SET"),
        (json!({}), "api_token"),
        (
            json!({"api_token": {"secret": "TIMELINES_TOKEN"}, "requests_per_minute": 0}),
            "requests_per_minute",
        ),
        (
            json!({"api_token": {"secret": "TIMELINES_TOKEN"}, "base_url": "ftp://example.com/api"}),
            "base_url",
        ),
    ];
    for (connection, needle) in cases {
        let errors = spec()
            .build(&registry(), &connections(connection.clone()), &secrets)
            .expect_err("the spec is refused");
        let all: Vec<_> = errors.iter().collect();
        assert_eq!(all.len(), 1, "{connection}: {errors:?}");
        assert_eq!(
            all[0].path, "/target/timelines.message/connection",
            "{connection}"
        );
        let shown = format!("{errors} {errors:?}");
        assert!(shown.contains(needle), "{connection}: {shown}");
        assert_no_token(&shown);
    }

    let typo = FlowSpec::from_json(
        r#"{"id": "x", "target": {"timelines.message": {"connection": "timelines", "rate": 5}}}"#,
    )
    .expect("parses");
    let errors = typo
        .build(
            &registry(),
            &connections(json!({"api_token": {"secret": "TIMELINES_TOKEN"}})),
            &secrets,
        )
        .expect_err("refused");
    assert_eq!(
        errors.iter().next().map(|e| e.path.as_str()),
        Some("/target/timelines.message/rate")
    );
}
