use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::*;
use crate::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method, RecordingClient};
use crate::{
    Cursor, ErrorClass, ManualClock, MemoryStore, ProviderError, Receipt, Store, StoreError,
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

#[test]
fn plan_is_pure_and_explains_skips() {
    let flow = flow_with(Scripted::new(vec![]));
    assert_eq!(
        flow.plan(&record("a", json!({"skip": 1}))).unwrap(),
        Plan::Skip("condition not met: no `skip` field".into())
    );
    assert!(matches!(
        flow.plan(&record("a", json!({}))).unwrap(),
        Plan::Send(_)
    ));
    assert!(matches!(
        flow.plan(&record("a", json!({"fail": 1}))),
        Err(PlanError::Map(_))
    ));
    assert!(matches!(
        flow.plan(&record("a", json!({"reject": 1}))),
        Err(PlanError::Prepare(_))
    ));
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
            failed: 2
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
async fn refresh_credentials_is_retried_once() {
    let target = Scripted::new(vec![
        Err(provider(ErrorClass::RefreshCredentials)),
        Ok(Receipt::new(200).with_id("m1")),
    ]);
    let flow = flow_with(target);
    let (ctx, clock) = ctx_with(RecordingClient::new(), MemoryStore::new());
    let report = flow.process(&ctx, vec![record("a", json!({}))]).await;
    assert!(
        matches!(&report.records[0].outcome, Outcome::Delivered { attempts: 2, receipt } if receipt.id.as_deref() == Some("m1"))
    );
    assert!(clock.sleeps().is_empty(), "a refresh retry does not wait");

    let twice = Scripted::new(vec![
        Err(provider(ErrorClass::RefreshCredentials)),
        Err(provider(ErrorClass::RefreshCredentials)),
    ]);
    let flow = flow_with(twice);
    let report = flow.process(&ctx, vec![record("b", json!({}))]).await;
    match &report.records[0].outcome {
        Outcome::Failed {
            failure,
            attempts,
            retryable,
        } => {
            assert_eq!((*attempts, *retryable), (2, true));
            assert_eq!(failure.code.as_deref(), Some("190"));
            assert_eq!(failure.status, Some(401));
        }
        other => panic!("expected a failure, got {other:?}"),
    }
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

#[async_trait]
impl Store for DownStore {
    async fn claim(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<crate::Claim, StoreError> {
        Err(StoreError("connection refused".into()))
    }
    async fn reclaim(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Err(StoreError("connection refused".into()))
    }
    async fn complete(&self, _: &str, _: &str, _: &Receipt) -> Result<(), StoreError> {
        Err(StoreError("connection refused".into()))
    }
    async fn release(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Err(StoreError("connection refused".into()))
    }
    async fn cursor(&self, _: &str) -> Result<Option<Cursor>, StoreError> {
        Err(StoreError("connection refused".into()))
    }
    async fn save_cursor(&self, _: &str, _: &Cursor) -> Result<(), StoreError> {
        Err(StoreError("connection refused".into()))
    }
    async fn note_inbound(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<(), StoreError> {
        Err(StoreError("connection refused".into()))
    }
    async fn last_inbound(&self, _: &str, _: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Err(StoreError("connection refused".into()))
    }
    async fn append_report(&self, _: &RunReport) -> Result<(), StoreError> {
        Err(StoreError("connection refused".into()))
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
async fn process_appends_its_report_to_the_store() {
    let flow = flow_with(Scripted::new(vec![]));
    let store = MemoryStore::new();
    let (ctx, _) = ctx_with(RecordingClient::new(), store.clone());
    let report = flow.process(&ctx, vec![record("a", json!({}))]).await;
    assert_eq!(store.reports(), vec![report]);
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

/// A memory store whose `complete` fails, as a database lost mid-run.
struct ForgetfulStore(MemoryStore);

#[async_trait]
impl Store for ForgetfulStore {
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
        Err(StoreError("lost".into()))
    }
    async fn release(&self, f: &str, k: &str) -> Result<(), StoreError> {
        self.0.release(f, k).await
    }
    async fn cursor(&self, f: &str) -> Result<Option<Cursor>, StoreError> {
        self.0.cursor(f).await
    }
    async fn save_cursor(&self, f: &str, c: &Cursor) -> Result<(), StoreError> {
        self.0.save_cursor(f, c).await
    }
    async fn note_inbound(&self, c: &str, p: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.0.note_inbound(c, p, at).await
    }
    async fn last_inbound(&self, c: &str, p: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.0.last_inbound(c, p).await
    }
    async fn append_report(&self, r: &RunReport) -> Result<(), StoreError> {
        self.0.append_report(r).await
    }
}

#[tokio::test]
async fn a_delivery_the_store_could_not_record_is_delivered_with_a_warning() {
    let flow = flow_with(Scripted::new(vec![]));
    let (ctx, _) = ctx_with(RecordingClient::new(), ForgetfulStore(MemoryStore::new()));
    let report = flow.process(&ctx, vec![record("a", json!({}))]).await;
    let line = &report.records[0];
    assert_eq!(line.outcome.name(), "delivered");
    assert!(
        line.warning.as_deref().unwrap().contains("unknown outcome"),
        "{line:?}"
    );
}
