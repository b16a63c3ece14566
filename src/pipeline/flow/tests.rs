use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method, RecordingClient};
use crate::{
    Batch, ClaimStore, Cursor, CursorLease, CursorStore, ErrorClass, FieldMap, HistoryEntry,
    HistoryStore, ManualClock, MemoryStore, ProviderError, Receipt, SavedCursor, StateEntry,
    StateStore, Store, StoreError,
};

fn now() -> DateTime<Utc> {
    "2026-03-02T12:00:00Z".parse().unwrap()
}

fn ctx_with(http: RecordingClient, store: impl Store + 'static) -> (Context, ManualClock) {
    let clock = ManualClock::new(now());
    (Context::new(http, clock.clone(), store), clock)
}

fn record(key: &str, data: Value) -> Record {
    Record::new(key, "test", data)
}

/// A target that answers from a script, one entry per attempt, and counts attempts.
struct Scripted {
    answers: Mutex<Vec<Result<Receipt, DeliveryError>>>,
    attempts: AtomicU32,
}

impl Scripted {
    fn new(mut answers: Vec<Result<Receipt, DeliveryError>>) -> Self {
        answers.reverse();
        Scripted {
            answers: Mutex::new(answers),
            attempts: AtomicU32::new(0),
        }
    }
}

#[async_trait]
impl Target for Scripted {
    type Action = HttpRequest;

    fn prepare(&self, _record: &Record, payload: &Value) -> Result<HttpRequest, TargetError> {
        if payload.get("reject").is_some() {
            return Err(TargetError::field("reject", "this target refuses it"));
        }
        Ok(HttpRequest::new(
            Method::Post,
            "https://scripted.example/".parse().unwrap(),
        ))
    }

    async fn deliver(
        &self,
        _ctx: &Context,
        _record: &Record,
        _request: &HttpRequest,
    ) -> Result<Receipt, DeliveryError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        self.answers
            .lock()
            .unwrap()
            .pop()
            .unwrap_or_else(|| Ok(Receipt::new(200)))
    }
}

fn provider(class: ErrorClass) -> DeliveryError {
    DeliveryError::from(ProviderError {
        provider: "test".into(),
        status: 401,
        code: Some("190".into()),
        message: "token expired".into(),
        class,
        details: Value::Null,
        source: None,
    })
}

struct MapOrFail;

impl Mapper for MapOrFail {
    fn map(&self, record: &Record) -> Result<Value, MapError> {
        match record.get("fail") {
            Some(_) => Err(MapError::MissingField {
                template: "/".into(),
                field: "fail".into(),
            }),
            None => Ok(record.data.clone()),
        }
    }
}

fn flow_with(target: impl Target + 'static) -> Flow {
    Flow::builder("f")
        .when_fn(|r: &Record| r.get("skip").is_none(), "no `skip` field")
        .map(MapOrFail)
        .target(target)
        .build()
        .unwrap()
}

#[test]
fn flow_is_a_shareable_value() {
    fn assert_traits<T: Clone + Send + Sync + 'static>() {}
    assert_traits::<Flow>();
}

#[tokio::test]
async fn plan_is_pure_and_explains_skips() {
    let flow = flow_with(Scripted::new(vec![]));
    let http = RecordingClient::new();
    let (ctx, _) = ctx_with(http.clone(), MemoryStore::new());
    assert_eq!(
        flow.plan(&ctx, &record("a", json!({"skip": 1})))
            .await
            .unwrap(),
        Plan::Skip("condition not met: no `skip` field".into())
    );
    assert!(matches!(
        flow.plan(&ctx, &record("a", json!({}))).await.unwrap(),
        Plan::Send(_)
    ));
    assert!(matches!(
        flow.plan(&ctx, &record("a", json!({"fail": 1}))).await,
        Err(PlanError::Map(_))
    ));
    assert!(matches!(
        flow.plan(&ctx, &record("a", json!({"reject": 1}))).await,
        Err(PlanError::Prepare(_))
    ));
    assert!(http.requests().is_empty());
}

#[tokio::test]
async fn every_record_ends_in_one_outcome_in_input_order() {
    let flow = flow_with(Scripted::new(vec![]));
    let (ctx, _) = ctx_with(RecordingClient::new(), MemoryStore::new());
    let records = vec![
        record("ok", json!({})),
        record("skip", json!({"skip": true})),
        record("map", json!({"fail": true})),
        record("prep", json!({"reject": true})),
        record("ok", json!({})),
    ];
    let report = flow.process(&ctx, records).await;
    let names: Vec<_> = report
        .records
        .iter()
        .map(|l| (l.key.as_str(), l.outcome.name()))
        .collect();
    assert_eq!(
        names,
        [
            ("ok", "delivered"),
            ("skip", "skipped"),
            ("map", "failed"),
            ("prep", "failed"),
            ("ok", "duplicate")
        ]
    );
    assert_eq!(
        report.counts,
        Counts {
            received: 5,
            skipped: 1,
            duplicate: 1,
            delivered: 1,
            failed: 2,
            unknown: 0
        }
    );
    let stages: Vec<_> = report
        .records
        .iter()
        .filter_map(|l| match &l.outcome {
            Outcome::Failed {
                failure,
                retryable: false,
                attempts: 0,
            } => Some(failure.stage),
            _ => None,
        })
        .collect();
    assert_eq!(stages, [Stage::Map, Stage::Prepare]);
    let dead: Vec<_> = report.dead_letters().map(|r| r.key.as_str()).collect();
    assert_eq!(dead, ["map", "prep"]);
}

#[tokio::test]
async fn a_rejection_of_the_credentials_is_not_retried_by_the_flow() {
    // The client already refreshed and resent once; what reaches the flow is final.
    let target = Scripted::new(vec![
        Err(provider(ErrorClass::Permanent)),
        Ok(Receipt::new(200).with_id("m1")),
    ]);
    let flow = flow_with(target);
    let (ctx, clock) = ctx_with(RecordingClient::new(), MemoryStore::new());
    let report = flow.process(&ctx, vec![record("b", json!({}))]).await;
    match &report.records[0].outcome {
        Outcome::Failed {
            failure,
            attempts,
            retryable,
        } => {
            assert_eq!((*attempts, *retryable), (1, false));
            assert_eq!(failure.code.as_deref(), Some("190"));
            assert_eq!(failure.status, Some(401));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
    assert!(clock.sleeps().is_empty());
}

#[tokio::test]
async fn a_released_claim_lets_a_later_run_retry() {
    let flow = Flow::builder("f")
        .target(Scripted::new(vec![Err(DeliveryError::Transport(
            HttpError::Timeout,
        ))]))
        .delivery(DeliveryPolicy::default().retry(crate::RetryPolicy::default().max_attempts(1)))
        .build()
        .unwrap();
    let (ctx, _) = ctx_with(RecordingClient::new(), MemoryStore::new());
    let first = flow.process(&ctx, vec![record("a", json!({}))]).await;
    assert!(matches!(
        first.records[0].outcome,
        Outcome::Failed {
            retryable: true,
            attempts: 1,
            ..
        }
    ));
    let second = flow
        .process(&ctx, first.dead_letters().cloned().collect())
        .await;
    assert_eq!(second.counts.delivered, 1, "{second:?}");
}

/// A store whose every operation fails, as a database that is down.
struct DownStore;

fn down<T>() -> Result<T, StoreError> {
    Err(StoreError::unavailable("connection refused"))
}

#[async_trait]
impl ClaimStore for DownStore {
    async fn claim(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<crate::Claim, StoreError> {
        down()
    }
    async fn reclaim(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        down()
    }
    async fn complete(&self, _: &str, _: &str, _: &Receipt) -> Result<(), StoreError> {
        down()
    }
    async fn release(&self, _: &str, _: &str) -> Result<(), StoreError> {
        down()
    }
    async fn peek_claim(&self, _: &str, _: &str) -> Result<Option<crate::Claim>, StoreError> {
        down()
    }
}

#[async_trait]
impl CursorStore for DownStore {
    async fn lease_cursor(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: Duration,
    ) -> Result<Option<CursorLease>, StoreError> {
        down()
    }
    async fn save_cursor(&self, _: &str, _: &str, _: u64, _: &Cursor) -> Result<bool, StoreError> {
        down()
    }
    async fn release_cursor(&self, _: &str, _: &str) -> Result<(), StoreError> {
        down()
    }
    async fn saved_cursor(&self, _: &str) -> Result<Option<SavedCursor>, StoreError> {
        down()
    }
}

#[async_trait]
impl StateStore for DownStore {
    async fn get_state(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        down()
    }
    async fn put_state(&self, _: &str, _: &str, _: &StateEntry) -> Result<(), StoreError> {
        down()
    }
    async fn swap_state(
        &self,
        _: &str,
        _: &str,
        _: Option<&Value>,
        _: &StateEntry,
        _: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        down()
    }
    async fn remove_state(&self, _: &str, _: &str) -> Result<(), StoreError> {
        down()
    }
}

#[async_trait]
impl HistoryStore for DownStore {
    async fn append_history(&self, _: &HistoryEntry) -> Result<(), StoreError> {
        down()
    }
    async fn recent_history(&self, _: &str, _: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        down()
    }
    async fn prune_history(&self, _: &str, _: usize) -> Result<usize, StoreError> {
        down()
    }
}

#[tokio::test]
async fn a_store_outage_sends_nothing_and_is_retryable() {
    let target = Scripted::new(vec![]);
    let flow = flow_with(target);
    let (ctx, _) = ctx_with(RecordingClient::new(), DownStore);
    let report = flow.process(&ctx, vec![record("a", json!({}))]).await;
    match &report.records[0].outcome {
        Outcome::Failed {
            failure,
            retryable: true,
            attempts: 0,
        } => {
            assert_eq!(failure.stage, Stage::Claim);
            assert!(failure.message.contains("connection refused"));
        }
        other => panic!("expected a claim failure, got {other:?}"),
    }
    assert_eq!(
        report.warnings.len(),
        1,
        "the report could not be stored: {:?}",
        report.warnings
    );
}

#[tokio::test]
async fn process_appends_its_report_to_the_history() {
    let flow = flow_with(Scripted::new(vec![]));
    let store = MemoryStore::new();
    let (ctx, _) = ctx_with(RecordingClient::new(), store.clone());
    let first = flow.process(&ctx, vec![record("a", json!({}))]).await;
    let second = flow
        .process(
            &ctx,
            vec![record("a", json!({})), record("b", json!({"fail": 1}))],
        )
        .await;
    assert_eq!(
        flow.history(&ctx, 10).await.unwrap(),
        vec![second.clone(), first]
    );
    assert_eq!(flow.history(&ctx, 1).await.unwrap(), vec![second.clone()]);
    // The port keeps plain entries: the flow, the times, the report as JSON.
    let entries = store.recent_history("f", 10).await.unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(
        (entries[0].flow.as_str(), entries[0].started_at),
        ("f", second.started_at)
    );
    assert_eq!(entries[0].report["counts"]["failed"], 1);
    // Another flow's history is its own.
    assert!(Flow::builder("g")
        .target(Scripted::new(vec![]))
        .build()
        .unwrap()
        .history(&ctx, 10)
        .await
        .unwrap()
        .is_empty());
}

#[tokio::test]
async fn a_history_entry_that_is_no_report_is_a_typed_error() {
    let flow = flow_with(Scripted::new(vec![]));
    let store = MemoryStore::new();
    let (ctx, _) = ctx_with(RecordingClient::new(), store.clone());
    store
        .append_history(&HistoryEntry::new(
            "f",
            now(),
            now(),
            json!({"not": "a report"}),
        ))
        .await
        .unwrap();
    let error = flow.history(&ctx, 1).await.unwrap_err();
    assert_eq!(error.kind(), crate::StoreErrorKind::Corrupt);
    assert!(std::error::Error::source(&error).is_some(), "{error:?}");
}

/// A source that returns the records it is given once, and a cursor counting its polls.
#[derive(Default)]
struct Polls {
    polls: Mutex<Vec<Option<Cursor>>>,
    fail: bool,
}

#[async_trait]
impl Source for Polls {
    async fn poll(&self, _ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        if self.fail {
            return Err(SourceError::Transport(HttpError::Timeout));
        }
        let mut polls = self.polls.lock().unwrap();
        polls.push(cursor.cloned());
        let n = polls.len();
        Ok(Batch::new(
            vec![record(&format!("r{n}"), json!({}))],
            Some(Cursor::new(json!({ "polls": n }))),
        ))
    }
}

fn polling(source: Arc<Polls>) -> Flow {
    Flow::builder("f")
        .source_arc(source)
        .target(Scripted::new(vec![]))
        .build()
        .unwrap()
}

#[tokio::test]
async fn run_leases_the_cursor_saves_it_and_lets_go() {
    let source = Arc::new(Polls::default());
    let flow = polling(source.clone());
    let store = MemoryStore::new();
    let (ctx, _) = ctx_with(RecordingClient::new(), store.clone());
    let first = flow.run(&ctx).await.unwrap();
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    let second = flow.run(&ctx).await.unwrap();
    assert_eq!(
        *source.polls.lock().unwrap(),
        vec![None, Some(Cursor::new(json!({"polls": 1})))]
    );
    assert_eq!(
        store.saved_cursor("f").await.unwrap(),
        Some(SavedCursor {
            cursor: Cursor::new(json!({"polls": 2})),
            version: 2
        })
    );
    // The lease was released: another holder gets it at once.
    assert!(store
        .lease_cursor("f", "someone", now(), Duration::from_secs(1))
        .await
        .unwrap()
        .is_some());
    assert_eq!(flow.history(&ctx, 5).await.unwrap(), vec![second, first]);
}

#[tokio::test]
async fn run_is_busy_while_another_poller_holds_the_lease() {
    let source = Arc::new(Polls::default());
    let flow = polling(source.clone());
    let store = MemoryStore::new();
    let (ctx, clock) = ctx_with(RecordingClient::new(), store.clone());
    let lease = flow.delivery().claim_lease;
    store
        .lease_cursor("f", "other-worker", now(), lease)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(flow.run(&ctx).await, Err(RunError::Busy(id)) if id == "f"));
    assert!(
        source.polls.lock().unwrap().is_empty(),
        "nothing was polled"
    );
    assert!(flow.history(&ctx, 1).await.unwrap().is_empty());
    // Once the other worker's lease ran out, this one runs.
    clock.advance(lease);
    assert_eq!(flow.run(&ctx).await.unwrap().counts.delivered, 1);
}

/// Cursors whose lease is taken over by another poller (which saves first) while the run
/// is delivering.
struct TakenOver(MemoryStore);

#[async_trait]
impl CursorStore for TakenOver {
    async fn lease_cursor(
        &self,
        f: &str,
        h: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<CursorLease>, StoreError> {
        let lease = self.0.lease_cursor(f, h, now, ttl).await?;
        let later = crate::clock::add(now, ttl);
        let other = self.0.lease_cursor(f, "other", later, ttl).await?.unwrap();
        self.0
            .save_cursor(f, "other", other.version, &Cursor::new(json!("theirs")))
            .await?;
        Ok(lease)
    }
    async fn save_cursor(&self, f: &str, h: &str, v: u64, c: &Cursor) -> Result<bool, StoreError> {
        self.0.save_cursor(f, h, v, c).await
    }
    async fn release_cursor(&self, f: &str, h: &str) -> Result<(), StoreError> {
        self.0.release_cursor(f, h).await
    }
    async fn saved_cursor(&self, f: &str) -> Result<Option<SavedCursor>, StoreError> {
        self.0.saved_cursor(f).await
    }
}

#[tokio::test]
async fn a_lost_lease_keeps_the_other_pollers_cursor_and_warns() {
    let flow = polling(Arc::new(Polls::default()));
    let store = MemoryStore::new();
    let (ctx, _) = ctx_with(RecordingClient::new(), store.clone());
    let ctx = ctx.with_cursors(TakenOver(store.clone()));
    let report = flow.run(&ctx).await.unwrap();
    assert_eq!(report.counts.delivered, 1);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].contains("another poller"),
        "{:?}",
        report.warnings
    );
    assert_eq!(
        store.saved_cursor("f").await.unwrap().map(|s| s.cursor),
        Some(Cursor::new(json!("theirs")))
    );
    // The warning is in the history too.
    assert_eq!(flow.history(&ctx, 1).await.unwrap(), vec![report]);
}

#[tokio::test]
async fn a_failed_poll_releases_the_lease_and_keeps_the_cursor() {
    let flow = polling(Arc::new(Polls {
        fail: true,
        ..Polls::default()
    }));
    let store = MemoryStore::new();
    let (ctx, _) = ctx_with(RecordingClient::new(), store.clone());
    assert!(matches!(flow.run(&ctx).await, Err(RunError::Source(_))));
    assert_eq!(store.saved_cursor("f").await.unwrap(), None);
    assert!(store
        .lease_cursor("f", "next", now(), Duration::from_secs(1))
        .await
        .unwrap()
        .is_some());
    assert!(
        flow.history(&ctx, 1).await.unwrap().is_empty(),
        "no run happened"
    );
}

#[tokio::test]
async fn a_store_outage_before_polling_fails_the_run() {
    let source = Arc::new(Polls::default());
    let flow = polling(source.clone());
    let (ctx, _) = ctx_with(RecordingClient::new(), DownStore);
    assert!(matches!(
        flow.run(&ctx).await,
        Err(RunError::Source(SourceError::Store(_)))
    ));
    assert!(source.polls.lock().unwrap().is_empty());
}

#[tokio::test]
async fn run_needs_a_source() {
    let flow = flow_with(Scripted::new(vec![]));
    let (ctx, _) = ctx_with(RecordingClient::new(), MemoryStore::new());
    assert!(matches!(flow.run(&ctx).await, Err(RunError::NoSource(id)) if id == "f"));
}

#[tokio::test]
async fn report_timings_come_from_the_clock() {
    let target = Scripted::new(vec![Err(provider(ErrorClass::Retryable {
        after: Some(Duration::from_secs(7)),
    }))]);
    let flow = flow_with(target);
    let (ctx, _) = ctx_with(RecordingClient::new(), MemoryStore::new());
    let report = flow.process(&ctx, vec![record("a", json!({}))]).await;
    assert_eq!(report.duration_ms, 7_000);
    assert_eq!(report.records[0].duration_ms, 7_000);
    assert_eq!(report.started_at, now());
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["records"][0]["outcome"], "delivered");
    assert_eq!(json["records"][0]["attempts"], 2);
}

#[test]
fn builder_reports_every_problem() {
    let errors = Flow::builder(" ")
        .delivery(
            DeliveryPolicy::default()
                .max_in_flight(0)
                .rate_per_second(f64::NAN),
        )
        .build()
        .unwrap_err();
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/id",
            "/delivery/max_in_flight",
            "/delivery/rate_per_second",
            "/target"
        ]
    );
}

#[tokio::test]
async fn the_recording_client_answers_in_order() {
    let http = RecordingClient::new();
    http.push_response(HttpResponse::new(500, "x"));
    http.push_error(HttpError::Timeout);
    let request = HttpRequest::new(Method::Get, "https://a.example/".parse().unwrap());
    assert_eq!(http.send(&request).await.unwrap().status, 500);
    assert_eq!(http.send(&request).await, Err(HttpError::Timeout));
    assert_eq!(http.send(&request).await.unwrap().status, 200);
}

/// Claims in a memory store whose `complete` fails, as a database lost mid-run.
struct ForgetfulClaims(MemoryStore);

#[async_trait]
impl ClaimStore for ForgetfulClaims {
    async fn claim(
        &self,
        f: &str,
        k: &str,
        now: DateTime<Utc>,
    ) -> Result<crate::Claim, StoreError> {
        self.0.claim(f, k, now).await
    }
    async fn reclaim(
        &self,
        f: &str,
        k: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.0.reclaim(f, k, since, now).await
    }
    async fn complete(&self, _: &str, _: &str, _: &Receipt) -> Result<(), StoreError> {
        Err(StoreError::unavailable("lost"))
    }
    async fn release(&self, f: &str, k: &str) -> Result<(), StoreError> {
        self.0.release(f, k).await
    }
    async fn peek_claim(&self, f: &str, k: &str) -> Result<Option<crate::Claim>, StoreError> {
        self.0.peek_claim(f, k).await
    }
}

#[tokio::test]
async fn a_delivery_the_store_could_not_record_is_delivered_with_a_warning() {
    let flow = flow_with(Scripted::new(vec![]));
    let store = MemoryStore::new();
    let (ctx, _) = ctx_with(RecordingClient::new(), store.clone());
    let ctx = ctx.with_claims(ForgetfulClaims(store));
    let report = flow.process(&ctx, vec![record("a", json!({}))]).await;
    let line = &report.records[0];
    assert_eq!(line.outcome.name(), "delivered");
    assert!(
        line.warning.as_deref().unwrap().contains("unknown outcome"),
        "{line:?}"
    );
}

/// Claims in a memory store that count how the flow calls them, optionally failing batches.
struct CountingClaims {
    inner: MemoryStore,
    singles: AtomicU32,
    batches: Mutex<Vec<usize>>,
    fail_batches: bool,
}

impl CountingClaims {
    fn new(inner: MemoryStore, fail_batches: bool) -> Arc<Self> {
        Arc::new(CountingClaims {
            inner,
            singles: AtomicU32::new(0),
            batches: Mutex::new(Vec::new()),
            fail_batches,
        })
    }
}

#[async_trait]
impl ClaimStore for Arc<CountingClaims> {
    async fn claim(
        &self,
        f: &str,
        k: &str,
        now: DateTime<Utc>,
    ) -> Result<crate::Claim, StoreError> {
        self.singles.fetch_add(1, Ordering::SeqCst);
        self.inner.claim(f, k, now).await
    }
    async fn claim_batch(
        &self,
        f: &str,
        keys: &[&str],
        now: DateTime<Utc>,
    ) -> Result<Vec<crate::Claim>, StoreError> {
        self.batches.lock().unwrap().push(keys.len());
        if self.fail_batches {
            return Err(StoreError::unavailable("connection refused"));
        }
        self.inner.claim_batch(f, keys, now).await
    }
    async fn reclaim(
        &self,
        f: &str,
        k: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.reclaim(f, k, since, now).await
    }
    async fn complete(&self, f: &str, k: &str, r: &Receipt) -> Result<(), StoreError> {
        self.inner.complete(f, k, r).await
    }
    async fn release(&self, f: &str, k: &str) -> Result<(), StoreError> {
        self.inner.release(f, k).await
    }
    async fn peek_claim(&self, f: &str, k: &str) -> Result<Option<crate::Claim>, StoreError> {
        self.inner.peek_claim(f, k).await
    }
}

fn batching_flow(target: Scripted, batch: usize, in_flight: usize) -> Flow {
    Flow::builder("f")
        .when_fn(|r: &Record| r.get("skip").is_none(), "no `skip` field")
        .map(MapOrFail)
        .target(target)
        .delivery(
            DeliveryPolicy::default()
                .max_in_flight(in_flight)
                .claim_batch(batch),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn claim_batches_take_the_sendable_keys_in_one_call_each() {
    let store = MemoryStore::new();
    store
        .complete("f", "r2", &Receipt::new(200).with_id("earlier"))
        .await
        .unwrap();
    let claims = CountingClaims::new(store.clone(), false);
    let (ctx, _) = ctx_with(RecordingClient::new(), store.clone());
    let ctx = ctx.with_claims(claims.clone());
    let flow = batching_flow(Scripted::new(vec![]), 4, 4);
    // Ten records: one skipped (no claim), one already delivered, one repeated key.
    let mut records: Vec<Record> = (0..8)
        .map(|n| record(&format!("r{n}"), json!({})))
        .collect();
    records.insert(3, record("skipped", json!({"skip": true})));
    records.push(record("r0", json!({})));
    let report = flow.process(&ctx, records).await;

    assert_eq!(claims.singles.load(Ordering::SeqCst), 0, "no single claims");
    // Chunks of 4 records; the skipped record's chunk claims only 3 keys.
    assert_eq!(*claims.batches.lock().unwrap(), vec![3, 4, 2]);
    let names: Vec<&str> = report.records.iter().map(|l| l.outcome.name()).collect();
    assert_eq!(
        names,
        [
            "delivered",
            "delivered",
            "duplicate",
            "skipped",
            "delivered",
            "delivered",
            "delivered",
            "delivered",
            "delivered",
            "duplicate"
        ]
    );
    assert_eq!(report.records[3].key, "skipped");
    // Every delivered key is done in the store.
    for n in [0, 1, 3, 4, 5, 6, 7] {
        let key = format!("r{n}");
        assert!(
            matches!(
                store.peek_claim("f", &key).await.unwrap(),
                Some(crate::Claim::Done { .. })
            ),
            "{key}"
        );
    }
}

#[tokio::test]
async fn a_failed_claim_batch_sends_nothing_and_fails_each_record_retryably() {
    let store = MemoryStore::new();
    let claims = CountingClaims::new(store.clone(), true);
    let (ctx, _) = ctx_with(RecordingClient::new(), store);
    let ctx = ctx.with_claims(claims.clone());
    let flow = batching_flow(Scripted::new(vec![]), 8, 8);
    let records = (0..3)
        .map(|n| record(&format!("r{n}"), json!({})))
        .collect();
    let report = flow.process(&ctx, records).await;
    assert_eq!(*claims.batches.lock().unwrap(), vec![3]);
    for line in &report.records {
        match &line.outcome {
            Outcome::Failed {
                failure,
                retryable: true,
                attempts: 0,
            } => assert_eq!(failure.stage, Stage::Claim),
            other => panic!("expected a claim failure, got {other:?}"),
        }
    }
    // Nothing was claimed either: a later run finds every key free.
    assert_eq!(claims.inner.peek_claim("f", "r0").await.unwrap(), None);
}

#[tokio::test]
async fn the_batch_is_at_most_the_records_in_flight() {
    let store = MemoryStore::new();
    let claims = CountingClaims::new(store.clone(), false);
    let (ctx, _) = ctx_with(RecordingClient::new(), store);
    let ctx = ctx.with_claims(claims.clone());
    let flow = batching_flow(Scripted::new(vec![]), 64, 2);
    let records = (0..5)
        .map(|n| record(&format!("r{n}"), json!({})))
        .collect();
    let report = flow.process(&ctx, records).await;
    assert_eq!(report.counts.delivered, 5);
    assert_eq!(*claims.batches.lock().unwrap(), vec![2, 2, 1]);
}

#[test]
fn a_claim_batch_of_zero_is_refused() {
    let error = Flow::builder("f")
        .target(Scripted::new(vec![]))
        .delivery(DeliveryPolicy::default().claim_batch(0))
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("claim_batch"), "{error}");
}

#[tokio::test]
async fn replay_polls_from_the_given_cursor_and_leaves_the_saved_one_alone() {
    let source = Arc::new(Polls::default());
    let flow = polling(source.clone());
    let store = MemoryStore::new();
    let (ctx, _) = ctx_with(RecordingClient::new(), store.clone());
    flow.run(&ctx).await.unwrap();
    let from = Cursor::new(json!({"polls": 0}));
    // Another poller holds the lease: a replay does not need it.
    store
        .lease_cursor("f", "someone", now(), Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let replay = flow.replay(&ctx, Some(&from)).await.unwrap();
    assert_eq!(replay.counts.delivered, 1, "r2 was never delivered");
    assert_eq!(
        *source.polls.lock().unwrap(),
        vec![None, Some(from.clone())]
    );
    assert_eq!(
        store.saved_cursor("f").await.unwrap(),
        Some(SavedCursor {
            cursor: Cursor::new(json!({"polls": 1})),
            version: 1
        }),
        "the saved cursor did not move"
    );
    assert_eq!(flow.history(&ctx, 5).await.unwrap()[0], replay);
}

#[tokio::test]
async fn an_unreadable_body_fails_at_the_read_stage_whatever_the_condition_says() {
    let flow = flow_with(Scripted::new(vec![]));
    let (ctx, _) = ctx_with(RecordingClient::new(), MemoryStore::new());
    // `skip` would make the condition skip it: an unreadable body is never skipped.
    let mut kept = crate::Unreadable::new("test", &b"{\"skip\": 1"[..], "truncated").to_record();
    kept.data["skip"] = json!(true);
    assert!(matches!(
        flow.plan(&ctx, &kept).await,
        Err(PlanError::Unreadable(_))
    ));
    let report = flow.process(&ctx, vec![kept.clone()]).await;
    let Outcome::Failed {
        failure, retryable, ..
    } = &report.records[0].outcome
    else {
        panic!("{report:?}");
    };
    assert_eq!(failure.stage, Stage::Read);
    assert!(!retryable);
    assert_eq!(report.dead_letters().collect::<Vec<_>>(), [&kept]);
    // A damaged one fails the same way, saying what is wrong with it.
    let damaged = Record::new("k", crate::KIND_UNREADABLE, json!({}));
    let report = flow.process(&ctx, vec![damaged]).await;
    assert_eq!(report.counts.failed, 1);
}

#[tokio::test]
async fn a_report_prints_for_people_without_record_data() {
    let flow = flow_with(Scripted::new(vec![
        Ok(Receipt::new(200).with_id("msg-1")),
        Err(provider(ErrorClass::Permanent)),
    ]));
    let (ctx, _) = ctx_with(RecordingClient::new(), MemoryStore::new());
    let report = flow
        .process(
            &ctx,
            vec![
                record("ok", json!({"name": "Ana Souza"})),
                record("skip", json!({"skip": true, "name": "Bruno Lima"})),
                record("map", json!({"fail": true, "cpf": "52998224725"})),
                record("refused", json!({"phone": "5511999991234"})),
            ],
        )
        .await;
    let text = report.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("f: 4 records: 1 delivered, 0 duplicate, 1 skipped, 2 failed in "),
        "{text}"
    );
    assert_eq!(
        lines[1],
        "  skipped   skip (test): condition not met: no `skip` field"
    );
    assert!(
        lines[2].starts_with("  failed    map (test) at map: "),
        "{text}"
    );
    assert!(lines[2].ends_with("(permanent, 0 attempts)"), "{text}");
    assert!(
        lines[3].starts_with("  failed    refused (test) at deliver: "),
        "{text}"
    );
    assert!(lines[3].contains("token expired"), "{text}");
    assert_eq!(
        lines.len(),
        4,
        "delivered records are counted, not listed: {text}"
    );
    for data in ["Ana Souza", "Bruno Lima", "52998224725", "5511999991234"] {
        assert!(!text.contains(data), "{data} in {text}");
    }
    // The alternate form lists every record.
    let all = format!("{report:#}");
    assert!(all.contains("\n  delivered ok (test): msg-1"), "{all}");
    assert_eq!(all.lines().count(), 5);
}

#[tokio::test]
async fn key_only_dead_letters_keep_no_record_data() {
    let flow = Flow::builder("f")
        .map(MapOrFail)
        .target(Scripted::new(vec![]))
        .report(ReportPolicy::default().dead_letters(DeadLetters::KeyOnly))
        .build()
        .unwrap();
    let (ctx, _) = ctx_with(RecordingClient::new(), MemoryStore::new());
    let report = flow
        .process(
            &ctx,
            vec![record("p-1", json!({"fail": true, "cpf": "52998224725"}))],
        )
        .await;
    let line = &report.records[0];
    assert_eq!((line.key.as_str(), line.kind.as_str()), ("p-1", "test"));
    assert!(matches!(line.outcome, Outcome::Failed { .. }));
    assert!(line.record.is_none());
    assert_eq!(report.dead_letters().count(), 0);
    let stored = serde_json::to_string(&flow.history(&ctx, 1).await.unwrap()).unwrap();
    assert!(!stored.contains("52998224725"), "{stored}");
}

#[tokio::test]
async fn key_only_reports_withhold_the_messages_that_quote_data() {
    // Each of these texts quotes the record: the condition the value it compared, the
    // mapping the phone number it could not read.
    let flow = Flow::builder("patients")
        .when(Rule::parse(&json!({"field": "plan", "op": "ne", "value": "none"})).unwrap())
        .map(FieldMap::new(json!({"to": "{{ phone | phone('BR') }}"})).unwrap())
        .target(Scripted::new(vec![]))
        .report(ReportPolicy::default().dead_letters(DeadLetters::KeyOnly))
        .build()
        .unwrap();
    let records = || {
        vec![
            record("p-1", json!({"plan": "none", "phone": "5511999991234"})),
            record("p-2", json!({"plan": "gold", "phone": "Maria da Silva 12"})),
        ]
    };
    let (ctx, _) = ctx_with(RecordingClient::new(), MemoryStore::new());
    let report = flow.process(&ctx, records()).await;
    let printed = format!("{report:#}");
    let stored = serde_json::to_string(&flow.history(&ctx, 1).await.unwrap()).unwrap();
    for text in [&printed, &stored] {
        assert!(!text.contains("Maria da Silva"), "{text}");
        assert!(!text.contains("\"none\""), "{text}");
    }
    match (&report.records[0].outcome, &report.records[1].outcome) {
        (Outcome::Skipped { reason }, Outcome::Failed { failure, .. }) => {
            assert_eq!(reason, "withheld: this flow's reports keep no record data");
            assert_eq!(failure.stage, Stage::Map);
            assert_eq!(
                failure.message,
                "map failed (withheld: this flow's reports keep no record data)"
            );
        }
        other => panic!("{other:?}"),
    }
    // The same flow keeping dead letters says what happened: the texts are withheld by
    // the policy, not lost by the engine.
    let open = Flow::builder("patients-open")
        .when(Rule::parse(&json!({"field": "plan", "op": "ne", "value": "none"})).unwrap())
        .map(FieldMap::new(json!({"to": "{{ phone | phone('BR') }}"})).unwrap())
        .target(Scripted::new(vec![]))
        .build()
        .unwrap();
    let (ctx, _) = ctx_with(RecordingClient::new(), MemoryStore::new());
    let report = format!("{:#}", open.process(&ctx, records()).await);
    assert!(report.contains("Maria da Silva"), "{report}");
}

#[tokio::test]
async fn the_history_keeps_the_newest_runs_of_the_policy() {
    let flow = Flow::builder("f")
        .target(Scripted::new(vec![]))
        .report(ReportPolicy::default().keep_runs(Some(2)))
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let (ctx, clock) = ctx_with(RecordingClient::new(), store.clone());
    let runs = usize::try_from(PRUNE_EVERY).unwrap() + 1;
    for i in 0..runs {
        clock.advance(Duration::from_secs(1));
        flow.process(&ctx, vec![record(&format!("k{i}"), json!({}))])
            .await;
    }
    // Pruned at the first append and at the PRUNE_EVERY-th after it.
    let kept = store.recent_history("f", 1000).await.unwrap();
    assert_eq!(kept.len(), 2);
    let newest = RunReport::from_entry(&kept[0]).unwrap();
    assert_eq!(newest.records[0].key, format!("k{}", runs - 1));
    // Without a limit, nothing is pruned.
    let all = Flow::builder("g")
        .target(Scripted::new(vec![]))
        .report(ReportPolicy::default().keep_runs(None))
        .build()
        .unwrap();
    for i in 0..3 {
        all.process(&ctx, vec![record(&format!("g{i}"), json!({}))])
            .await;
    }
    assert_eq!(store.recent_history("g", 1000).await.unwrap().len(), 3);
}

#[test]
fn a_report_policy_keeping_no_runs_is_refused() {
    let errors = Flow::builder("f")
        .target(Scripted::new(vec![]))
        .report(ReportPolicy::default().keep_runs(Some(0)))
        .build()
        .unwrap_err();
    assert_eq!(errors.iter().next().unwrap().path, "/report/keep_runs");
}

#[tokio::test]
async fn the_observer_sees_every_line_once_as_records_end() {
    for batch in [1, 3] {
        let flow = Flow::builder("f")
            .when_fn(|r: &Record| r.get("skip").is_none(), "no `skip` field")
            .target(Scripted::new(vec![]))
            .delivery(
                DeliveryPolicy::default()
                    .claim_batch(batch)
                    .max_in_flight(4),
            )
            .build()
            .unwrap();
        let (ctx, _) = ctx_with(RecordingClient::new(), MemoryStore::new());
        let seen = Mutex::new(Vec::new());
        let observer = |line: &RecordOutcome| {
            seen.lock()
                .unwrap()
                .push((line.key.clone(), line.outcome.name()));
        };
        let records = (0..7)
            .map(|i| {
                record(
                    &format!("r{i}"),
                    if i == 3 {
                        json!({"skip": 1})
                    } else {
                        json!({})
                    },
                )
            })
            .collect();
        let report = flow.process_observed(&ctx, records, &observer).await;
        let mut seen = seen.into_inner().unwrap();
        seen.sort();
        let mut expected: Vec<_> = report
            .records
            .iter()
            .map(|l| (l.key.clone(), l.outcome.name()))
            .collect();
        expected.sort();
        assert_eq!(seen, expected, "batch {batch}");
        assert_eq!(seen.len(), 7);
    }
}
