//! Flow-level delivery guarantees over real HTTP: idempotency claims, bounded concurrency,
//! the rate limit, abandoned claims, and polling a source with a stored cursor.

mod common;

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use common::{
    delivered, duplicate, failed, harness, harness_with_store, mount_catch_all, only_outcome,
    received, saved_cursor, seed_cursor, start_instant, url, CountingServer,
};
use hubflow::http::{ConnectFailure, HttpError, RecordingClient};
use hubflow::http_target::HttpTarget;
use hubflow::{
    Batch, ClaimStore, Clock, Context, Cursor, DeliveryPolicy, ErrorClass, Flow, ManualClock,
    MemoryStore, OnUnknown, Outcome, Record, RunError, Source, SourceError, Stage,
};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn item(key: &str, n: u64) -> Record {
    Record::new(
        key,
        "test.item",
        json!({"n": n, "title": format!("item {n}")}),
    )
}

fn flow(id: &str, target: HttpTarget, delivery: DeliveryPolicy) -> Flow {
    Flow::builder(id)
        .target(target)
        .delivery(delivery)
        .build()
        .expect("the flow builds")
}

async fn mount_created(server: &MockServer, route: &str, id: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path(route))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"data": {"id": id}})))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_in_a_later_call_is_a_duplicate_with_the_first_receipt() {
    let server = MockServer::start().await;
    mount_created(&server, "/hook", "R-1", 1).await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = flow(
        "itest-dup",
        HttpTarget::new(url(&server, "/hook")).receipt_id("data.id"),
        DeliveryPolicy::default(),
    );

    let first = flow.process(&h.ctx, vec![item("k-1", 1)]).await;
    let (receipt, attempts) = delivered(only_outcome(&first));
    assert_eq!(attempts, 1);
    assert_eq!(receipt.id.as_deref(), Some("R-1"));

    // A redelivered webhook: same key, possibly different data.
    let second = flow.process(&h.ctx, vec![item("k-1", 99)]).await;
    let earlier = duplicate(only_outcome(&second)).expect("the first receipt is reported");
    assert_eq!(earlier, receipt);
    assert_eq!(second.counts.duplicate, 1);
    assert_eq!(second.counts.delivered, 0);
    assert_eq!(second.dead_letters().count(), 0);

    assert_eq!(received(&server).await, 1);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_key_twice_in_one_call_is_delivered_once() {
    let server = MockServer::start().await;
    mount_created(&server, "/hook", "R-2", 1).await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = flow(
        "itest-dup-batch",
        HttpTarget::new(url(&server, "/hook")).receipt_id("data.id"),
        DeliveryPolicy::default().max_in_flight(4),
    );

    let report = flow
        .process(&h.ctx, vec![item("same", 1), item("same", 2)])
        .await;

    assert_eq!(report.records.len(), 2);
    let names: Vec<_> = report.records.iter().map(|l| l.outcome.name()).collect();
    assert!(
        names == ["delivered", "duplicate"] || names == ["duplicate", "delivered"],
        "{names:?}"
    );
    assert_eq!(report.counts.delivered, 1);
    assert_eq!(report.counts.duplicate, 1);
    assert_eq!(received(&server).await, 1);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_at_the_server_stays_within_max_in_flight() {
    let server = CountingServer::start(Duration::from_millis(20)).await;
    let h = harness();
    let flow = flow(
        "itest-concurrency",
        HttpTarget::new(server.url("/bulk")),
        DeliveryPolicy::default().max_in_flight(8),
    );
    let records: Vec<_> = (0..100).map(|n| item(&format!("bulk-{n}"), n)).collect();

    let report = tokio::time::timeout(Duration::from_secs(10), flow.process(&h.ctx, records))
        .await
        .expect("100 records at 8 in flight finish well within 10 s");

    assert_eq!(report.counts.delivered, 100, "{:?}", report.counts);
    assert!(report
        .records
        .iter()
        .all(|l| matches!(l.outcome, Outcome::Delivered { attempts: 1, .. })));
    let stats = server.stats();
    assert_eq!(stats.requests(), 100);
    assert_eq!(stats.protocol_errors(), 0);
    assert!(
        stats.max_in_flight() <= 8,
        "the server saw {} requests at once",
        stats.max_in_flight()
    );
    assert!(
        stats.max_in_flight() >= 2,
        "no concurrency happened (max {} in flight)",
        stats.max_in_flight()
    );
    // The connection count is not asserted: the HTTP client's pool may open a new
    // connection while a finished one is still being handed back, which says nothing about
    // how many requests the flow had in flight.
}

#[tokio::test]
async fn the_rate_limit_spaces_requests_on_the_flow_clock() {
    let http = RecordingClient::new();
    let clock = ManualClock::new(start_instant());
    let ctx = Context::new(http.clone(), clock.clone(), MemoryStore::new());
    let flow = flow(
        "itest-rate",
        HttpTarget::new("http://127.0.0.1:9/never-sent".parse().expect("a URL")),
        DeliveryPolicy::default()
            .max_in_flight(4)
            .rate_per_second(5.0),
    );
    let records: Vec<_> = (0..10).map(|n| item(&format!("rate-{n}"), n)).collect();

    let started = Instant::now();
    let report = flow.process(&ctx, records).await;

    assert_eq!(report.counts.delivered, 10);
    assert_eq!(http.requests().len(), 10);
    let slept: Duration = clock.sleeps().iter().sum();
    assert!(
        slept >= Duration::from_millis(1790),
        "10 requests at 5/s need 9 gaps of 200 ms, slept {slept:?}"
    );
    assert!(slept <= Duration::from_millis(2010), "slept {slept:?}");
    assert!(
        clock.now() - start_instant() >= chrono::Duration::milliseconds(1790),
        "the flow's clock moved"
    );
    // Sleeping for real would take at least the 1.8 s the clock moved.
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "waited in real time"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_claim_is_held_resent_or_left_alone_by_policy() {
    let server = MockServer::start().await;
    mount_created(&server, "/hook", "R-3", 1).await;
    mount_catch_all(&server).await;

    let lease = Duration::from_secs(600);
    let long_ago = start_instant() - chrono::Duration::seconds(601);
    let just_now = start_instant() - chrono::Duration::seconds(30);
    let target = || HttpTarget::new(url(&server, "/hook")).receipt_id("data.id");

    // Hold: an earlier attempt may have reached the customer, so a person decides.
    let store = MemoryStore::new();
    store
        .claim("itest-unknown", "held", long_ago)
        .await
        .expect("claim");
    let h = harness_with_store(store);
    let hold = flow(
        "itest-unknown",
        target(),
        DeliveryPolicy::default()
            .claim_lease(lease)
            .on_unknown(OnUnknown::Hold),
    );
    let report = hold.process(&h.ctx, vec![item("held", 1)]).await;
    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert_eq!(failure.stage, Stage::Claim);
    assert!(!retryable);
    assert_eq!(attempts, 0);
    assert_eq!(failure.class, ErrorClass::Permanent);
    assert_eq!(report.dead_letters().count(), 1);
    assert_eq!(
        received(&server).await,
        0,
        "nothing is sent for a held record"
    );

    // Resend: the abandoned attempt is taken over and sent again.
    let store = MemoryStore::new();
    store
        .claim("itest-unknown", "resent", long_ago)
        .await
        .expect("claim");
    let h = harness_with_store(store.clone());
    let resend = flow(
        "itest-unknown",
        target(),
        DeliveryPolicy::default()
            .claim_lease(lease)
            .on_unknown(OnUnknown::Resend),
    );
    let report = resend.process(&h.ctx, vec![item("resent", 2)]).await;
    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 1);
    assert_eq!(receipt.id.as_deref(), Some("R-3"));
    assert_eq!(received(&server).await, 1);
    // Never silently: the line says it was an unknown outcome sent again.
    let warning = report.records[0].warning.as_deref().unwrap_or_default();
    assert!(
        warning.contains("never recorded its outcome") && warning.contains("resend"),
        "{warning}"
    );
    // The delivery is recorded: a later claim finds it done.
    let later = resend.process(&h.ctx, vec![item("resent", 2)]).await;
    assert_eq!(duplicate(only_outcome(&later)), Some(receipt));

    // A claim within its lease is another worker sending right now: a duplicate, even
    // when the policy would resend abandoned ones.
    let store = MemoryStore::new();
    store
        .claim("itest-unknown", "busy", just_now)
        .await
        .expect("claim");
    let h = harness_with_store(store);
    let report = resend.process(&h.ctx, vec![item("busy", 3)]).await;
    assert_eq!(duplicate(only_outcome(&report)), None);
    assert_eq!(report.counts.duplicate, 1);

    assert_eq!(received(&server).await, 1);
    server.verify().await;
}

/// A pull source over three items that resumes after the cursor's `after`, and remembers
/// every cursor it was handed.
#[derive(Clone, Default)]
struct ThreeItems {
    seen: Arc<Mutex<Vec<Option<Cursor>>>>,
}

impl ThreeItems {
    fn seen(&self) -> Vec<Option<Cursor>> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

#[async_trait]
impl Source for ThreeItems {
    async fn poll(&self, _ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cursor.cloned());
        let after = cursor
            .and_then(|c| c.value()["after"].as_u64())
            .unwrap_or(0);
        let records = (after + 1..=3)
            .map(|n| item(&format!("item:{n}"), n))
            .collect();
        Ok(Batch::new(records, Some(Cursor::new(json!({"after": 3})))))
    }
}

/// A pull source whose provider is down.
struct Unreachable;

#[async_trait]
impl Source for Unreachable {
    async fn poll(&self, _ctx: &Context, _cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        Err(SourceError::Transport(HttpError::connect(
            ConnectFailure::Refused,
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_polls_from_the_stored_cursor_and_saves_the_next() {
    let server = MockServer::start().await;
    mount_created(&server, "/items", "R", 3).await;
    mount_catch_all(&server).await;

    let h = harness();
    let source = ThreeItems::default();
    let flow = Flow::builder("itest-run")
        .source(source.clone())
        .target(HttpTarget::new(url(&server, "/items")))
        .build()
        .expect("the flow builds");

    let first = flow.run(&h.ctx).await.expect("the first run polls");
    assert_eq!(first.counts.received, 3);
    assert_eq!(first.counts.delivered, 3);
    let keys: Vec<_> = first.records.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(keys, ["item:1", "item:2", "item:3"], "source order is kept");
    let after_three = Cursor::new(json!({"after": 3}));
    assert_eq!(
        saved_cursor(&h.store, "itest-run").await,
        Some(after_three.clone())
    );

    let second = flow.run(&h.ctx).await.expect("the second run polls");
    assert_eq!(second.counts.received, 0);
    assert_eq!(source.seen(), vec![None, Some(after_three.clone())]);
    assert_eq!(saved_cursor(&h.store, "itest-run").await, Some(after_three));
    assert_eq!(
        flow.history(&h.ctx, 10).await.expect("history"),
        vec![second, first],
        "both runs are in the history, newest first"
    );

    assert_eq!(received(&server).await, 3);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_source_leaves_the_cursor_where_it_was() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;

    let h = harness();
    let before = Cursor::new(json!({"after": 7}));
    seed_cursor(&h.store, "itest-run-fail", &before).await;
    let flow = Flow::builder("itest-run-fail")
        .source(Unreachable)
        .target(HttpTarget::new(url(&server, "/items")))
        .build()
        .expect("the flow builds");

    let error = flow.run(&h.ctx).await.expect_err("the poll fails");
    assert!(matches!(error, RunError::Source(_)), "{error:?}");
    assert!(error.to_string().contains("could not connect"), "{error}");
    assert_eq!(saved_cursor(&h.store, "itest-run-fail").await, Some(before));
    assert!(
        flow.history(&h.ctx, 10).await.expect("history").is_empty(),
        "no run happened"
    );

    // Without a source there is nothing to poll.
    let no_source = Flow::builder("itest-no-source")
        .target(HttpTarget::new(url(&server, "/items")))
        .build()
        .expect("the flow builds");
    assert!(matches!(
        no_source.run(&h.ctx).await,
        Err(RunError::NoSource(id)) if id == "itest-no-source"
    ));

    assert_eq!(received(&server).await, 0);
    server.verify().await;
}
