//! The `fracttal.work_request` target end to end through a `Flow` over real HTTP against a
//! local mock server: mapping, the token added at delivery only, receipts, and how each
//! failure ends.

mod common;

use std::time::Duration;

use common::{delivered, failed, fixture, harness, mount_catch_all, only_outcome, url};
use hubflow::fracttal::{FracttalClient, WorkRequestTarget};
use hubflow::spec::{BuildContext, Connections, MapSecrets};
use hubflow::{
    DeliveryPolicy, ErrorClass, FieldMap, Flow, Plan, Record, RetryPolicy, Stage, Target,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-1-AbCdEf";

fn client(server: &MockServer) -> FracttalClient {
    FracttalClient::builder(SecretString::from("key"), SecretString::from("secret"))
        .base_url(url(server, "/api/"))
        .token_url(url(server, "/oauth/token"))
        .build()
}

fn token_mock(access: &str) -> Mock {
    let mut body = fixture("fracttal/token.json");
    body["access_token"] = json!(access);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
}

fn work_request(bearer: &str) -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/api/work_requests"))
        .and(header("authorization", format!("Bearer {bearer}").as_str()))
        .and(header("content-type", "application/json"))
}

fn created() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture("fracttal/work_request_created.json"))
}

/// A WhatsApp-style message mapped into a work request.
fn flow(target: WorkRequestTarget, max_attempts: u32) -> Flow {
    let map = FieldMap::new(json!({
        "description": "{{ text }}",
        "requested_by": "{{ sender.name }}",
        "observation": "WhatsApp {{ sender.phone }}",
        "code": "{{ asset }}",
        "is_urgent": "{{ urgent }}",
        "date_incident": "{{ sent_at }}"
    }))
    .expect("the mapping compiles");
    Flow::builder("wa-to-work-request")
        .map(map)
        .target(target)
        .delivery(
            DeliveryPolicy::default().retry(
                RetryPolicy::default()
                    .max_attempts(max_attempts)
                    .backoff(Duration::from_millis(100), Duration::from_secs(1)),
            ),
        )
        .build()
        .expect("the flow builds")
}

fn message(key: &str) -> Record {
    Record::new(
        key,
        "whatsapp.message",
        json!({
            "text": "Pump 3 is leaking",
            "sender": {"name": "Carla Mendes", "phone": "5511999991234"},
            "asset": "PUMP-3",
            "urgent": true,
            "sent_at": "2026-03-02T07:58:00-03:00"
        }),
    )
}

fn expected_body() -> serde_json::Value {
    json!({
        "description": "Pump 3 is leaking",
        "requested_by": "Carla Mendes",
        "observation": "WhatsApp 5511999991234",
        "code": "PUMP-3",
        "is_urgent": true,
        "date_incident": "2026-03-02T10:58:00+00"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_record_opens_a_work_request_with_the_bearer_added_at_delivery() {
    let server = MockServer::start().await;
    token_mock(TOKEN).expect(1).mount(&server).await;
    work_request(TOKEN)
        .and(body_json(expected_body()))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = flow(WorkRequestTarget::new(client(&server)), 3);

    // The dry run shows the body exactly and no credentials.
    let Plan::Send(planned) = flow
        .plan(&common::plan_ctx(), &message("wamid.1"))
        .await
        .unwrap()
    else {
        panic!("expected a request to send");
    };
    let planned = planned
        .downcast_ref::<hubflow::http::HttpRequest>()
        .unwrap();
    assert_eq!(planned.json_body().unwrap(), expected_body());
    assert!(planned.headers.get("authorization").is_none());
    assert_eq!(planned.url, url(&server, "/api/work_requests"));

    let report = flow.process(&h.ctx, vec![message("wamid.1")]).await;
    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 1);
    assert_eq!(receipt.id.as_deref(), Some("5012"));
    assert_eq!(receipt.details["data"]["description"], "Pump 3 is leaking");
    let shown = serde_json::to_string(&report).unwrap();
    assert!(!shown.contains(TOKEN), "{shown}");

    // Delivered once: the same message again is a duplicate, sent nowhere.
    let again = flow.process(&h.ctx, vec![message("wamid.1")]).await;
    assert_eq!(again.counts.duplicate, 1);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_406_is_retried_by_the_flow_after_the_reset_on_its_clock() {
    let server = MockServer::start().await;
    token_mock(TOKEN).expect(1).mount(&server).await;
    work_request(TOKEN)
        .respond_with(
            ResponseTemplate::new(406)
                .insert_header("ratelimit-reset", "42")
                .set_body_json(fixture("fracttal/rate_limited.json")),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    work_request(TOKEN)
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let report = flow(WorkRequestTarget::new(client(&server)), 3)
        .process(&h.ctx, vec![message("wamid.2")])
        .await;
    let (_, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 2);
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(42)]);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_inside_one_delivery_attempt() {
    let server = MockServer::start().await;
    token_mock("tok-old")
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token_mock("tok-new").expect(1).mount(&server).await;
    work_request("tok-old")
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("fracttal/token_expired.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    work_request("tok-new")
        .and(body_json(expected_body()))
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let report = flow(WorkRequestTarget::new(client(&server)), 3)
        .process(&h.ctx, vec![message("wamid.3")])
        .await;
    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!((receipt.id.as_deref(), attempts), (Some("5012"), 1));
    // No retry wait: only the company limiter's spacing between the two API requests.
    assert_eq!(h.clock.sleeps(), vec![Duration::from_millis(300)]);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_endpoint_and_clock_skew_fail_once_without_retries() {
    let server = MockServer::start().await;
    token_mock(TOKEN).expect(1).mount(&server).await;
    work_request(TOKEN)
        .and(body_json(json!({"description": "no permission"})))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(fixture("fracttal/unauthorized_endpoint.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    work_request(TOKEN)
        .and(body_json(json!({"description": "skewed"})))
        .respond_with(ResponseTemplate::new(407))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = Flow::builder("wr")
        .target(WorkRequestTarget::new(client(&server)))
        .build()
        .unwrap();
    let report = flow
        .process(
            &h.ctx,
            vec![
                Record::new("r1", "x", json!({"description": "no permission"})),
                Record::new("r2", "x", json!({"description": "skewed"})),
            ],
        )
        .await;
    let (failure, retryable, attempts) = failed(&report.records[0].outcome);
    assert_eq!((retryable, attempts), (false, 1));
    assert_eq!(failure.stage, Stage::Deliver);
    assert_eq!(failure.status, Some(401));
    assert_eq!(failure.code.as_deref(), Some("UNAUTHORIZED_ENDPOINT"));
    let (failure, retryable, attempts) = failed(&report.records[1].outcome);
    assert_eq!((retryable, attempts), (false, 1));
    assert_eq!(failure.class, ErrorClass::Permanent);
    assert!(failure.message.contains("clock"), "{}", failure.message);
    // No retry wait: only the company limiter's spacing between the two API requests.
    assert_eq!(h.clock.sleeps(), vec![Duration::from_millis(300)]);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_existing_item_is_a_delivery_and_a_bad_payload_sends_nothing() {
    let server = MockServer::start().await;
    token_mock(TOKEN).expect(1).mount(&server).await;
    work_request(TOKEN)
        .respond_with(
            ResponseTemplate::new(408)
                .set_body_json(json!({"success": false, "message": "Item already exists"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = Flow::builder("wr")
        .target(WorkRequestTarget::new(client(&server)))
        .build()
        .unwrap();
    let report = flow
        .process(
            &h.ctx,
            vec![
                Record::new(
                    "r1",
                    "x",
                    json!({"description": "dup", "identifier": "EXT-1"}),
                ),
                Record::new("r2", "x", json!({"descripton": "typo", "is_urgnt": true})),
            ],
        )
        .await;
    let (receipt, _) = delivered(&report.records[0].outcome);
    assert_eq!(receipt.status, Some(408));
    assert_eq!(receipt.details["already_exists"], true);
    let (failure, retryable, attempts) = failed(&report.records[1].outcome);
    assert_eq!(
        (failure.stage, retryable, attempts),
        (Stage::Prepare, false, 0)
    );
    assert!(
        failure.message.contains("did you mean `description`")
            && failure.message.contains("did you mean `is_urgent`"),
        "{}",
        failure.message
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_target_builds_from_a_connection_with_secrets() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        // base64("spec-key:spec-secret")
        .and(header(
            "authorization",
            "Basic c3BlYy1rZXk6c3BlYy1zZWNyZXQ=",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("fracttal/token.json")))
        .expect(1)
        .mount(&server)
        .await;
    work_request(TOKEN)
        .respond_with(created())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let mut connections = Connections::new();
    connections.insert(
        "fracttal",
        json!({
            "client_id": {"secret": "FRACTTAL_KEY"},
            "client_secret": {"secret": "FRACTTAL_SECRET"},
            "base_url": url(&server, "/api").to_string(),
            "token_url": url(&server, "/oauth/token").to_string(),
            "requests_per_minute": 200
        }),
    );
    let secrets = MapSecrets::new()
        .with("FRACTTAL_KEY", "spec-key")
        .with("FRACTTAL_SECRET", "spec-secret");
    let registry = hubflow::spec::Registry::default();
    let cx = BuildContext::new(&registry, &connections, &secrets);
    let target =
        WorkRequestTarget::from_spec(&cx, &json!({"connection": "fracttal"})).expect("builds");
    assert!(!format!("{target:?}").contains("spec-secret"));

    let h = harness();
    let record = Record::new("r", "x", json!({}));
    let request = target
        .prepare(&record, &json!({"description": "From a spec"}))
        .unwrap();
    let receipt = target.deliver(&h.ctx, &record, &request).await.unwrap();
    assert_eq!(receipt.id.as_deref(), Some("5012"));
    server.verify().await;
}
