//! Unit tests of settlements: each claim state against each kind of evidence, the history
//! they leave, dry runs, and stores that fail or race.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::json;

use super::*;
use crate::context::DryRunMark;
use crate::http::{HttpRequest, RecordingClient};
use crate::{
    ClaimStore, ErrorClass, HistoryEntry, HistoryStore, ManualClock, MemoryStore, Record, Target,
    TargetError,
};

const FLOW: &str = "settle-test";

fn now() -> DateTime<Utc> {
    "2026-03-02T12:00:00Z".parse().unwrap()
}

/// A target that is never asked to deliver: settlement sends nothing.
struct Unused;

#[async_trait]
impl Target for Unused {
    type Action = HttpRequest;

    fn prepare(&self, _: &Record, _: &Value) -> Result<HttpRequest, TargetError> {
        Err(TargetError::InvalidPayload("not used".into()))
    }

    async fn deliver(
        &self,
        _: &Context,
        _: &Record,
        _: &HttpRequest,
    ) -> Result<Receipt, DeliveryError> {
        Err(DeliveryError::Precondition(
            "settlement must not send".into(),
        ))
    }
}

fn flow() -> Flow {
    Flow::builder(FLOW).target(Unused).build().unwrap()
}

fn ctx(store: &MemoryStore) -> Context {
    Context::new(
        RecordingClient::new(),
        ManualClock::new(now()),
        store.clone(),
    )
}

fn delivered(status: &str) -> Settlement {
    Settlement::delivered("whatsapp", "wamid.A", status, Some(now()))
}

fn undeliverable() -> Settlement {
    Settlement::failed(
        ReportedFailure::new("whatsapp", "Message undeliverable")
            .with_id("wamid.A")
            .with_code("131026"),
    )
}

async fn in_flight(store: &MemoryStore, key: &str) {
    assert_eq!(
        store.claim(FLOW, key, now()).await.unwrap(),
        Claim::Acquired
    );
}

async fn history(store: &MemoryStore) -> Vec<HistoryEntry> {
    store.recent_history(FLOW, 10).await.unwrap()
}

#[tokio::test]
async fn delivered_evidence_completes_a_claim_in_flight_and_is_recorded() {
    let store = MemoryStore::new();
    in_flight(&store, "wo:1").await;
    let flow = flow();
    let ctx = ctx(&store);

    let settled = flow.settle(&ctx, "wo:1", delivered("read")).await.unwrap();

    let Settled::Delivered { receipt } = &settled else {
        panic!("{settled:?}")
    };
    assert_eq!(receipt.id.as_deref(), Some("wamid.A"));
    assert_eq!(receipt.status, None, "no HTTP answer carried it");
    assert_eq!(
        receipt.details,
        json!({"settled_by": "status_webhook", "provider": "whatsapp", "status": "read",
               "reported_at": "2026-03-02T12:00:00Z"})
    );
    assert_eq!(
        store.peek_claim(FLOW, "wo:1").await.unwrap(),
        Some(Claim::Done {
            receipt: receipt.clone()
        })
    );
    let runs = flow.history(&ctx, 10).await.unwrap();
    assert_eq!(runs.len(), 1);
    let line = &runs[0].records[0];
    assert_eq!(
        (line.key.as_str(), line.kind.as_str()),
        ("wo:1", SETTLEMENT_KIND)
    );
    assert_eq!(
        line.outcome,
        Outcome::Delivered {
            receipt: receipt.clone(),
            attempts: 1
        }
    );
    assert_eq!(runs[0].counts.delivered, 1);
    assert!(!runs[0].dry_run);
}

#[tokio::test]
async fn failed_evidence_releases_a_claim_in_flight_and_records_the_error() {
    let store = MemoryStore::new();
    in_flight(&store, "wo:1").await;
    let flow = flow();
    let ctx = ctx(&store);

    let settled = flow.settle(&ctx, "wo:1", undeliverable()).await.unwrap();

    let Settled::Failed { failure, retryable } = &settled else {
        panic!("{settled:?}")
    };
    assert!(!retryable);
    assert_eq!(failure.stage, Stage::Deliver);
    assert_eq!(failure.code.as_deref(), Some("131026"));
    assert_eq!(failure.status, None);
    assert_eq!(
        failure.message,
        "whatsapp reported that wamid.A failed (code 131026): Message undeliverable"
    );
    assert!(matches!(failure.error(), Some(DeliveryError::Reported(_))));
    assert_eq!(
        failure
            .cause::<ReportedFailure>()
            .and_then(|r| r.id.as_deref()),
        Some("wamid.A")
    );
    // Released: a later run may send again.
    assert_eq!(store.peek_claim(FLOW, "wo:1").await.unwrap(), None);
    let runs = flow.history(&ctx, 10).await.unwrap();
    assert_eq!(runs[0].counts.failed, 1);
    let Outcome::Failed {
        failure: kept,
        retryable: false,
        attempts: 1,
    } = &runs[0].records[0].outcome
    else {
        panic!("{:?}", runs[0].records[0])
    };
    assert_eq!(kept, failure);
    // No record was given, so there is no dead letter to keep.
    assert_eq!(runs[0].dead_letters().count(), 0);
}

#[tokio::test]
async fn a_retryable_report_is_released_as_retryable() {
    let store = MemoryStore::new();
    in_flight(&store, "wo:1").await;
    let evidence = Settlement::failed(
        ReportedFailure::new("whatsapp", "Service unavailable")
            .with_code("131016")
            .with_class(ErrorClass::Retryable { after: None }),
    );
    let settled = flow().settle(&ctx(&store), "wo:1", evidence).await.unwrap();
    assert!(matches!(
        settled,
        Settled::Failed {
            retryable: true,
            ..
        }
    ));
}

#[tokio::test]
async fn a_done_key_stays_done_whatever_the_evidence() {
    let store = MemoryStore::new();
    let first = Receipt::new(200).with_id("wamid.FIRST");
    store.complete(FLOW, "wo:1", &first).await.unwrap();
    let flow = flow();
    let ctx = ctx(&store);

    for evidence in [undeliverable(), delivered("delivered")] {
        let settled = flow.settle(&ctx, "wo:1", evidence).await.unwrap();
        assert_eq!(
            settled,
            Settled::AlreadyDelivered {
                receipt: first.clone()
            }
        );
        assert!(!settled.changed());
    }
    assert_eq!(
        store.peek_claim(FLOW, "wo:1").await.unwrap(),
        Some(Claim::Done { receipt: first })
    );
    assert!(history(&store).await.is_empty(), "nothing changed");
}

#[tokio::test]
async fn a_free_key_has_nothing_to_settle() {
    let store = MemoryStore::new();
    // A key claimed by another flow is free in this one.
    store.claim("other-flow", "wo:1", now()).await.unwrap();
    let flow = flow();
    let ctx = ctx(&store);

    for evidence in [delivered("sent"), undeliverable()] {
        assert_eq!(
            flow.settle(&ctx, "wo:1", evidence).await.unwrap(),
            Settled::NothingToSettle
        );
    }
    assert_eq!(store.peek_claim(FLOW, "wo:1").await.unwrap(), None);
    assert!(matches!(
        store.peek_claim("other-flow", "wo:1").await.unwrap(),
        Some(Claim::InFlight { .. })
    ));
    assert!(history(&store).await.is_empty());
}

#[tokio::test]
async fn sent_then_failed_keeps_the_delivery() {
    let store = MemoryStore::new();
    in_flight(&store, "wo:1").await;
    let report = flow()
        .settle_all(
            &ctx(&store),
            vec![
                ("wo:1".into(), delivered("sent")),
                ("wo:1".into(), undeliverable()),
                ("wo:1".into(), delivered("delivered")),
            ],
        )
        .await;

    let answers: Vec<_> = report
        .results
        .iter()
        .map(|r| r.as_ref().unwrap().name())
        .collect();
    assert_eq!(
        answers,
        ["delivered", "already_delivered", "already_delivered"]
    );
    assert!(matches!(
        store.peek_claim(FLOW, "wo:1").await.unwrap(),
        Some(Claim::Done { .. })
    ));
    // One entry for the call, one line for the one change.
    let runs = history(&store).await;
    assert_eq!(runs.len(), 1);
    let report = report.report.unwrap();
    assert_eq!((report.records.len(), report.counts.delivered), (1, 1));
    assert_eq!(RunReport::from_entry(&runs[0]).unwrap(), report);
}

#[tokio::test]
async fn settle_all_with_nothing_to_change_appends_no_history() {
    let store = MemoryStore::new();
    let report = flow()
        .settle_all(&ctx(&store), vec![("wo:9".into(), delivered("read"))])
        .await;
    assert!(matches!(report.results[..], [Ok(Settled::NothingToSettle)]));
    assert!(report.report.is_none());
    assert!(history(&store).await.is_empty());
}

#[tokio::test]
async fn a_dry_run_answers_what_would_happen_and_writes_nothing() {
    let store = MemoryStore::new();
    in_flight(&store, "wo:1").await;
    in_flight(&store, "wo:2").await;
    let before_1 = store.peek_claim(FLOW, "wo:1").await.unwrap();
    // The dry run's context over the host's own store: any write would show in it.
    let host = ctx(&store);
    let dry = host.for_dry_run(
        Arc::new(RecordingClient::new()),
        Arc::new(ManualClock::new(now())),
        Arc::new(store.clone()),
        DryRunMark::new(),
    );
    assert!(dry.is_dry_run());

    let report = flow()
        .settle_all(
            &dry,
            vec![
                ("wo:1".into(), delivered("sent")),
                ("wo:1".into(), delivered("read")),
                ("wo:2".into(), undeliverable()),
            ],
        )
        .await;

    let answers: Vec<_> = report
        .results
        .iter()
        .map(|r| r.as_ref().unwrap().name())
        .collect();
    // Later evidence of the same call sees what the earlier would have done.
    assert_eq!(answers, ["delivered", "already_delivered", "failed"]);
    let report = report.report.unwrap();
    assert!(report.dry_run);
    assert_eq!((report.counts.delivered, report.counts.failed), (1, 1));
    assert_eq!(store.peek_claim(FLOW, "wo:1").await.unwrap(), before_1);
    assert!(matches!(
        store.peek_claim(FLOW, "wo:2").await.unwrap(),
        Some(Claim::InFlight { .. })
    ));
    assert!(history(&store).await.is_empty());

    // The single-key form writes nothing either.
    let settled = flow().settle(&dry, "wo:2", undeliverable()).await.unwrap();
    assert_eq!(settled.name(), "failed");
    assert!(matches!(
        store.peek_claim(FLOW, "wo:2").await.unwrap(),
        Some(Claim::InFlight { .. })
    ));
    assert!(history(&store).await.is_empty());
}

/// Claims over a memory store whose `complete` fails for one key, and whose first
/// `peek_claim` can be made to show a claim still in flight although another attempt has
/// already completed it (the race between reading and writing).
struct Flaky {
    inner: MemoryStore,
    fail_complete_for: &'static str,
    stale_first_peek: AtomicBool,
}

#[async_trait]
impl ClaimStore for Flaky {
    async fn claim(&self, s: &str, k: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        self.inner.claim(s, k, now).await
    }
    async fn reclaim(
        &self,
        s: &str,
        k: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.inner.reclaim(s, k, since, now).await
    }
    async fn complete(&self, s: &str, k: &str, r: &Receipt) -> Result<(), StoreError> {
        if k == self.fail_complete_for {
            return Err(StoreError::unavailable("the database is down"));
        }
        self.inner.complete(s, k, r).await
    }
    async fn release(&self, s: &str, k: &str) -> Result<(), StoreError> {
        self.inner.release(s, k).await
    }
    async fn peek_claim(&self, s: &str, k: &str) -> Result<Option<Claim>, StoreError> {
        if self.stale_first_peek.swap(false, Ordering::SeqCst) {
            return Ok(Some(Claim::InFlight { since: now() }));
        }
        self.inner.peek_claim(s, k).await
    }
}

#[tokio::test]
async fn a_store_error_ends_only_its_own_key() {
    let store = MemoryStore::new();
    in_flight(&store, "wo:1").await;
    in_flight(&store, "wo:2").await;
    let ctx = ctx(&store).with_claims(Flaky {
        inner: store.clone(),
        fail_complete_for: "wo:1",
        stale_first_peek: AtomicBool::new(false),
    });

    let report = flow()
        .settle_all(
            &ctx,
            vec![
                ("wo:1".into(), delivered("sent")),
                ("wo:2".into(), delivered("sent")),
            ],
        )
        .await;

    let error = report.results[0].as_ref().unwrap_err();
    assert_eq!(error.kind(), crate::StoreErrorKind::Unavailable);
    assert!(matches!(report.results[1], Ok(Settled::Delivered { .. })));
    let lines = report.report.unwrap().records;
    assert_eq!(lines.len(), 1, "only the settled key has a line");
    assert_eq!(lines[0].key, "wo:2");
    assert!(matches!(
        store.peek_claim(FLOW, "wo:1").await.unwrap(),
        Some(Claim::InFlight { .. })
    ));
}

#[tokio::test]
async fn a_receipt_recorded_in_between_is_the_answer() {
    let store = MemoryStore::new();
    // Another attempt completed the key just after the settlement read it in flight.
    let theirs = Receipt::new(200).with_id("wamid.THEIRS");
    store.complete(FLOW, "wo:1", &theirs).await.unwrap();
    let ctx = ctx(&store).with_claims(Flaky {
        inner: store.clone(),
        fail_complete_for: "",
        stale_first_peek: AtomicBool::new(true),
    });

    let settled = flow()
        .settle(&ctx, "wo:1", delivered("sent"))
        .await
        .unwrap();

    assert_eq!(settled, Settled::AlreadyDelivered { receipt: theirs });
    assert!(history(&store).await.is_empty(), "nothing changed");
}

#[tokio::test]
async fn a_failure_after_a_recorded_delivery_does_not_undo_it() {
    let store = MemoryStore::new();
    let theirs = Receipt::new(200).with_id("wamid.THEIRS");
    store.complete(FLOW, "wo:1", &theirs).await.unwrap();
    let ctx = ctx(&store).with_claims(Flaky {
        inner: store.clone(),
        fail_complete_for: "",
        stale_first_peek: AtomicBool::new(true),
    });

    let settled = flow().settle(&ctx, "wo:1", undeliverable()).await.unwrap();

    assert_eq!(
        settled,
        Settled::AlreadyDelivered {
            receipt: theirs.clone()
        }
    );
    assert_eq!(
        store.peek_claim(FLOW, "wo:1").await.unwrap(),
        Some(Claim::Done { receipt: theirs })
    );
}

/// History that refuses every append.
struct NoHistory;

#[async_trait]
impl HistoryStore for NoHistory {
    async fn append_history(&self, _: &HistoryEntry) -> Result<(), StoreError> {
        Err(StoreError::unavailable("history is down"))
    }
    async fn recent_history(&self, _: &str, _: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(Vec::new())
    }
    async fn prune_history(&self, _: &str, _: usize) -> Result<usize, StoreError> {
        Ok(0)
    }
}

#[tokio::test]
async fn a_history_that_cannot_be_stored_is_a_warning_not_an_undone_settlement() {
    let store = MemoryStore::new();
    in_flight(&store, "wo:1").await;
    let ctx = ctx(&store).with_history(NoHistory);

    let report = flow()
        .settle_all(&ctx, vec![("wo:1".into(), delivered("sent"))])
        .await;

    assert!(matches!(report.results[0], Ok(Settled::Delivered { .. })));
    let warnings = report.report.unwrap().warnings;
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("history is down"), "{warnings:?}");
    assert!(matches!(
        store.peek_claim(FLOW, "wo:1").await.unwrap(),
        Some(Claim::Done { .. })
    ));
}

#[test]
fn answers_and_evidence_serialize_with_their_names() {
    let answer = Settled::AlreadyDelivered {
        receipt: Receipt::new(200).with_id("wamid.A"),
    };
    assert_eq!(
        serde_json::to_value(&answer).unwrap(),
        json!({"settled": "already_delivered", "receipt": {"id": "wamid.A", "status": 200}})
    );
    assert_eq!(
        serde_json::to_value(Settled::NothingToSettle).unwrap(),
        json!({"settled": "nothing_to_settle"})
    );
    assert_eq!(
        serde_json::to_value(delivered("read")).unwrap(),
        json!({"evidence": "delivered", "provider": "whatsapp", "id": "wamid.A", "status": "read",
               "at": "2026-03-02T12:00:00Z"})
    );
    assert_eq!(
        serde_json::to_value(undeliverable()).unwrap(),
        json!({"evidence": "failed", "provider": "whatsapp", "id": "wamid.A", "code": "131026",
               "message": "Message undeliverable", "class": "permanent"})
    );
}
