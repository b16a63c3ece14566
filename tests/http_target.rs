//! The generic HTTP target over real HTTP against a local mock server: what reaches the
//! server, how each kind of answer or failure ends, and that retries wait on the flow's clock.

mod common;

use std::time::{Duration, Instant};

use common::{
    delivered, failed, fixture, harness, mount_catch_all, only_outcome, received, url, SECRET_TOKEN,
};
use hubflow::http::REDACTED;
use hubflow::http_target::HttpTarget;
use hubflow::{
    Clock, Condition, DeliveryPolicy, ErrorClass, Flow, Outcome, Plan, Record, RetryPolicy, Stage,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn work_order(key: &str) -> Record {
    Record::new(key, "fracttal.work_order", fixture("work_order.json"))
}

fn policy(max_attempts: u32) -> DeliveryPolicy {
    DeliveryPolicy::default().retry(
        RetryPolicy::default()
            .max_attempts(max_attempts)
            .backoff(Duration::from_millis(200), Duration::from_secs(5)),
    )
}

fn flow_to(target: HttpTarget, delivery: DeliveryPolicy) -> Flow {
    Flow::builder("itest-http")
        .target(target)
        .delivery(delivery)
        .build()
        .expect("the flow builds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delivers_the_record_data_as_json_with_headers_and_takes_the_receipt_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/work-orders"))
        .and(header("content-type", "application/json"))
        .and(header("x-source", "hubflow-itests"))
        .and(header("authorization", SECRET_TOKEN))
        .and(body_json(fixture("work_order.json")))
        .respond_with(ResponseTemplate::new(201).set_body_json(fixture("created_response.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let target = HttpTarget::new(url(&server, "/hooks/work-orders"))
        .header("X-Source", "hubflow-itests")
        .secret_header("Authorization", SecretString::from(SECRET_TOKEN))
        .receipt_id("data.id");
    let flow = flow_to(target, policy(3));

    let report = flow.process(&h.ctx, vec![work_order("wo:881:2")]).await;

    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 1);
    assert_eq!(receipt.id.as_deref(), Some("WR-1042"));
    assert_eq!(receipt.status, Some(201));
    assert_eq!(report.counts.received, 1);
    assert_eq!(report.counts.delivered, 1);
    assert_eq!(report.counts.failed, 0);
    assert_eq!(report.counts.skipped, 0);
    assert_eq!(report.counts.duplicate, 0);
    assert_eq!(report.dead_letters().count(), 0);
    assert!(h.clock.sleeps().is_empty(), "no waiting on a first success");
    assert_eq!(
        flow.history(&h.ctx, 10).await.expect("history"),
        vec![report.clone()],
        "the run is in the history"
    );

    let shown = serde_json::to_string(&report).expect("the report serializes");
    assert!(!shown.contains(SECRET_TOKEN), "secret leaked: {shown}");
    assert!(!shown.contains("tok-7Hq2"), "secret leaked: {shown}");
    assert!(shown.contains("WR-1042"), "{shown}");

    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_503_is_retried_after_one_backoff_wait_on_the_flow_clock() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let delivery = policy(4);
    let ceiling = delivery.retry.backoff_ceiling(1);
    let flow = flow_to(HttpTarget::new(url(&server, "/hook")), delivery);

    let started = Instant::now();
    let report = flow.process(&h.ctx, vec![work_order("wo:1")]).await;

    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 2);
    assert_eq!(receipt.status, Some(200));
    let sleeps = h.clock.sleeps();
    assert_eq!(
        sleeps.len(),
        1,
        "one backoff between two attempts: {sleeps:?}"
    );
    assert!(
        sleeps[0] <= ceiling,
        "backoff {:?} above the ceiling {ceiling:?}",
        sleeps[0]
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the backoff must be waited on the manual clock, not in real time"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_with_retry_after_waits_exactly_that_long_on_the_flow_clock() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "30")
                .set_body_string("slow down"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = flow_to(HttpTarget::new(url(&server, "/hook")), policy(3));

    let started = Instant::now();
    let report = flow.process(&h.ctx, vec![work_order("wo:429")]).await;

    let (_, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 2);
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(30)]);
    assert_eq!(
        h.clock.now(),
        common::start_instant() + chrono::Duration::seconds(30),
        "the wait moved the flow's clock"
    );
    assert!(report.duration_ms >= 30_000, "{}", report.duration_ms);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "waited in real time"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_are_permanent_dead_letters_sent_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/bad-request"))
        .respond_with(ResponseTemplate::new(400).set_body_json(fixture("validation_error.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/unprocessable"))
        .respond_with(ResponseTemplate::new(422).set_body_json(fixture("validation_error.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    for (route, status) in [("/bad-request", 400u16), ("/unprocessable", 422)] {
        let h = harness();
        let flow = flow_to(HttpTarget::new(url(&server, route)), policy(5));
        let record = work_order(&format!("wo:{status}"));

        let report = flow.process(&h.ctx, vec![record.clone()]).await;

        let (failure, retryable, attempts) = failed(only_outcome(&report));
        assert!(!retryable, "{status} must not be retryable");
        assert_eq!(attempts, 1, "{status} must not be retried");
        assert_eq!(failure.status, Some(status));
        assert_eq!(failure.stage, Stage::Deliver);
        assert_eq!(failure.class, ErrorClass::Permanent);
        assert!(
            failure.message.contains(&status.to_string())
                && failure.message.contains("validation_failed"),
            "the message names the status and the provider's answer: {}",
            failure.message
        );
        assert_eq!(report.counts.failed, 1);
        assert_eq!(report.dead_letters().collect::<Vec<_>>(), vec![&record]);
        assert!(h.clock.sleeps().is_empty());
    }
    assert_eq!(received(&server).await, 2, "exactly one request per record");
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_on_a_static_header_target_is_permanent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .and(header("authorization", SECRET_TOKEN))
        .respond_with(ResponseTemplate::new(401).set_body_string("invalid token"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let target = HttpTarget::new(url(&server, "/hook"))
        .secret_header("Authorization", SecretString::from(SECRET_TOKEN));
    let flow = flow_to(target, policy(5));

    let report = flow.process(&h.ctx, vec![work_order("wo:401")]).await;

    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert!(!retryable);
    assert_eq!(attempts, 1, "a static credential cannot be refreshed");
    assert_eq!(failure.status, Some(401));
    assert_eq!(failure.class, ErrorClass::Permanent);
    assert!(!failure.message.contains("tok-7Hq2"), "{}", failure.message);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retryable_errors_stop_after_max_attempts() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(500).set_body_string("boom"))
        .expect(3)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = flow_to(HttpTarget::new(url(&server, "/hook")), policy(3));
    let record = work_order("wo:500");

    let report = flow.process(&h.ctx, vec![record.clone()]).await;

    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert!(retryable);
    assert_eq!(attempts, 3);
    assert_eq!(failure.status, Some(500));
    assert_eq!(failure.stage, Stage::Deliver);
    assert!(failure.class.is_retryable());
    assert!(h.clock.sleeps().len() <= 2, "{:?}", h.clock.sleeps());
    assert_eq!(report.dead_letters().collect::<Vec<_>>(), vec![&record]);
    assert_eq!(received(&server).await, 3);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_server_fails_with_a_retryable_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(6)))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let target = HttpTarget::new(url(&server, "/slow")).timeout(Duration::from_millis(200));
    let flow = flow_to(target, policy(1));

    let started = Instant::now();
    let report = flow.process(&h.ctx, vec![work_order("wo:slow")]).await;
    let elapsed = started.elapsed();

    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert!(retryable);
    assert_eq!(attempts, 1);
    assert_eq!(failure.stage, Stage::Deliver);
    assert_eq!(failure.status, None);
    assert!(
        failure.message.to_lowercase().contains("timed out")
            || failure.message.to_lowercase().contains("timeout"),
        "{}",
        failure.message
    );
    // Far below the server's 6 s, with room for a loaded machine.
    assert!(
        elapsed < Duration::from_secs(4),
        "the 200 ms timeout was not applied: {elapsed:?}"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_is_a_retryable_delivery_failure() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
        listener.local_addr().expect("an address").port()
    };
    let h = harness();
    let target = HttpTarget::new(
        format!("http://127.0.0.1:{port}/hook")
            .parse()
            .expect("a URL"),
    );
    let flow = flow_to(target, policy(2));

    let report = flow.process(&h.ctx, vec![work_order("wo:refused")]).await;

    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert!(retryable);
    assert_eq!(attempts, 2, "a refused connection is retried");
    assert_eq!(failure.stage, Stage::Deliver);
    assert_eq!(failure.status, None);
    assert!(
        failure.message.contains("could not connect"),
        "{}",
        failure.message
    );
}

/// A condition that only passes records of one priority.
struct PriorityIs(i64);

impl Condition for PriorityIs {
    fn evaluate(&self, record: &Record) -> bool {
        record.get("priority").and_then(|p| p.as_i64()) == Some(self.0)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_the_request_with_secrets_redacted_and_sends_nothing() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;

    let target = HttpTarget::new(url(&server, "/hooks/work-orders"))
        .header("X-Source", "hubflow-itests")
        .secret_header("Authorization", SecretString::from(SECRET_TOKEN));
    let flow = Flow::builder("itest-dry-run")
        .when_fn(PriorityIs(2), "priority is 2")
        .target(target)
        .build()
        .expect("the flow builds");
    let record = work_order("wo:dry");

    let plan = flow
        .plan(&common::plan_ctx(), &record)
        .await
        .expect("the record plans");
    let Plan::Send(request) = &plan else {
        panic!("expected a send plan, got {plan:?}");
    };
    let request = request
        .downcast_ref::<hubflow::http::HttpRequest>()
        .unwrap();
    assert_eq!(request.headers.get("authorization"), Some(SECRET_TOKEN));
    let shown = serde_json::to_value(&plan).expect("the plan serializes");
    let send = &shown["send"];
    assert_eq!(send["method"], "POST");
    assert_eq!(send["url"], url(&server, "/hooks/work-orders").as_str());
    assert_eq!(send["headers"]["Authorization"], REDACTED);
    assert_eq!(send["headers"]["X-Source"], "hubflow-itests");
    assert_eq!(send["headers"]["Content-Type"], "application/json");
    assert_eq!(send["body"], fixture("work_order.json"));
    let text = shown.to_string();
    assert!(!text.contains("tok-7Hq2"), "secret in the dry run: {text}");
    assert!(!format!("{plan:?}").contains("tok-7Hq2"));

    let mut low = record.clone();
    low.data["priority"] = json!(1);
    match flow
        .plan(&common::plan_ctx(), &low)
        .await
        .expect("the record plans")
    {
        Plan::Skip(reason) => assert!(reason.contains("priority is 2"), "{reason}"),
        other => panic!("expected a skip, got {other:?}"),
    }

    assert_eq!(received(&server).await, 0);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_skipped_record_sends_nothing_and_is_reported_as_skipped() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = Flow::builder("itest-skip")
        .when_fn(PriorityIs(9), "priority is 9")
        .target(HttpTarget::new(url(&server, "/hook")))
        .build()
        .expect("the flow builds");

    let report = flow.process(&h.ctx, vec![work_order("wo:skip")]).await;

    match only_outcome(&report) {
        Outcome::Skipped { reason } => assert!(reason.contains("priority is 9"), "{reason}"),
        other => panic!("expected a skip, got {other:?}"),
    }
    assert_eq!(report.counts.skipped, 1);
    assert_eq!(report.dead_letters().count(), 0);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_without_the_receipt_id_is_not_sent_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"result": "queued"})))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let target = HttpTarget::new(url(&server, "/hook")).receipt_id("data.id");
    let flow = flow_to(target, policy(5));

    let report = flow.process(&h.ctx, vec![work_order("wo:no-id")]).await;

    // The provider accepted the request: sending it again could duplicate the side effect.
    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert!(!retryable);
    assert_eq!(attempts, 1);
    assert_eq!(failure.stage, Stage::Deliver);
    assert!(failure.message.contains("data.id"), "{}", failure.message);

    // Replaying the dead letter must not reach the server again: the claim was kept.
    let replay = flow
        .process(&h.ctx, report.dead_letters().cloned().collect())
        .await;
    assert_eq!(only_outcome(&replay).name(), "duplicate", "{replay:?}");
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_so_credentials_stay_with_the_configured_host() {
    let elsewhere = MockServer::start().await;
    mount_catch_all(&elsewhere).await;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("Location", url(&elsewhere, "/steal").as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let target = HttpTarget::new(url(&server, "/hook"))
        .secret_header("Authorization", SecretString::from(SECRET_TOKEN));
    let flow = flow_to(target, policy(3));

    let report = flow.process(&h.ctx, vec![work_order("wo:302")]).await;

    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert!(!retryable);
    assert_eq!(attempts, 1);
    assert_eq!(failure.status, Some(302));
    assert_eq!(received(&elsewhere).await, 0, "the redirect was followed");
    server.verify().await;
    elsewhere.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_after_beyond_the_policy_limit_gives_up_at_once_for_a_later_run() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let delivery = policy(5);
    assert!(delivery.retry.max_retry_after < Duration::from_secs(3600));
    let flow = flow_to(HttpTarget::new(url(&server, "/hook")), delivery);

    let report = flow.process(&h.ctx, vec![work_order("wo:3600")]).await;

    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert!(retryable, "a later run may succeed");
    assert_eq!(attempts, 1);
    assert_eq!(failure.status, Some(429));
    assert_eq!(
        failure.class,
        ErrorClass::Retryable {
            after: Some(Duration::from_secs(3600))
        }
    );
    assert!(
        h.clock.sleeps().is_empty(),
        "an hour is not waited inside a run"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_answer_is_not_read_into_memory_nor_sent_again() {
    use hubflow::{Context, ManualClock, MemoryStore};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(4096)))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let http = hubflow::http::ReqwestClient::builder()
        .max_response_bytes(1024)
        .build()
        .unwrap();
    let ctx = Context::new(
        http,
        ManualClock::new(common::start_instant()),
        MemoryStore::new(),
    );
    let flow = flow_to(HttpTarget::new(url(&server, "/hook")), policy(5));
    let report = flow.process(&ctx, vec![work_order("wo:big")]).await;
    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert_eq!((retryable, attempts), (false, 1), "{failure:?}");
    assert!(failure.message.contains("1024"), "{}", failure.message);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_2xx_cut_mid_body_is_an_unknown_outcome_sent_once_even_on_a_second_run() {
    let server = common::CutServer::start(200).await;
    let h = harness();
    let flow = flow_to(HttpTarget::new(server.url("/hook")), policy(5));

    let report = flow.process(&h.ctx, vec![work_order("rec-000001")]).await;
    let outcome = only_outcome(&report);
    let (failure, retryable, attempts) = failed(outcome);
    assert!(outcome.is_unknown(), "{failure:?}");
    assert_eq!((retryable, attempts), (false, 1), "{failure:?}");
    assert_eq!(failure.status, Some(200), "{failure:?}");
    assert_eq!(report.counts.unknown, 1);
    assert_eq!(server.requests(), 1, "a cut 2xx is not retried");

    let again = flow.process(&h.ctx, vec![work_order("rec-000001")]).await;
    assert!(
        !matches!(only_outcome(&again), Outcome::Delivered { .. }),
        "{again:?}"
    );
    assert_eq!(server.requests(), 1, "the second run does not resend it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_cut_mid_body_stays_retryable() {
    let server = common::CutServer::start(500).await;
    let h = harness();
    let flow = flow_to(HttpTarget::new(server.url("/hook")), policy(3));

    let report = flow.process(&h.ctx, vec![work_order("rec-000002")]).await;
    let outcome = only_outcome(&report);
    let (failure, retryable, attempts) = failed(outcome);
    assert!(!outcome.is_unknown(), "{failure:?}");
    assert_eq!((retryable, attempts), (true, 3), "{failure:?}");
    assert_eq!(server.requests(), 3);
}
