//! Unit tests of status settlement: which statuses are evidence of what, and one webhook
//! settled status by status.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::*;
use crate::http::{HttpRequest, RecordingClient};
use crate::{
    Claim, ClaimStore, DeliveryError, ErrorClass, HistoryStore, ManualClock, MemoryStore, Receipt,
    Record, Target, TargetError,
};

const FAILED_FIXTURE: &str = include_str!("../../../../tests/fixtures/whatsapp/status_failed.json");
const FLOW: &str = "wo-assigned";

fn now() -> DateTime<Utc> {
    "2026-03-02T12:00:00Z".parse().unwrap()
}

/// A webhook body with these status objects and messages in one `messages` change.
fn body(statuses: Value, messages: Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "statuses": statuses,
            "messages": messages,
        }}]}]
    }))
    .unwrap()
}

fn status(wamid: &str, state: &str, key: Option<&str>) -> Value {
    let mut status = json!({"id": wamid, "status": state, "timestamp": "1750030073",
                            "recipient_id": "16505551234"});
    if let Some(key) = key {
        status["biz_opaque_callback_data"] = json!(key);
    }
    status
}

fn failed(wamid: &str, key: &str, errors: Value) -> Value {
    let mut status = status(wamid, "failed", Some(key));
    status["errors"] = errors;
    status
}

fn updates(body: &[u8]) -> Vec<StatusUpdate> {
    super::super::webhook::parse(body)
        .unwrap()
        .into_iter()
        .filter_map(|event| match event {
            WebhookEvent::Status(status) => Some(status),
            _ => None,
        })
        .collect()
}

fn one(status: Value) -> StatusUpdate {
    updates(&body(json!([status]), json!([]))).remove(0)
}

#[test]
fn every_status_that_implies_acceptance_is_delivered_evidence() {
    for state in ["sent", "delivered", "read", "played"] {
        let (key, evidence) = one(status("wamid.A", state, Some("wo:1")))
            .settlement()
            .unwrap();
        assert_eq!(key, "wo:1");
        assert_eq!(
            evidence,
            Settlement::delivered(
                "whatsapp",
                "wamid.A",
                state,
                Some("2025-06-15T23:27:53Z".parse().unwrap())
            ),
            "{state}"
        );
    }
}

#[test]
fn a_failed_status_is_failed_evidence_with_metas_error() {
    let status = updates(FAILED_FIXTURE.as_bytes()).remove(0);
    let (key, evidence) = status.settlement().unwrap();
    assert_eq!(key, "flow:reminders:rm:appt:77");
    let Settlement::Failed(failure) = evidence else {
        panic!("{evidence:?}")
    };
    assert_eq!(failure.provider, "whatsapp");
    assert_eq!(
        failure.id.as_deref(),
        Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJGQUlMRUQwMDAwMDAwMDEA")
    );
    assert_eq!(failure.code.as_deref(), Some("131047"));
    assert_eq!(failure.class, ErrorClass::Permanent);
    assert_eq!(
        failure.message,
        "Re-engagement message: Message failed to send because more than 24 hours have passed \
         since the customer last replied to this number."
    );
    assert_eq!(
        failure.details["errors"][0]["href"],
        "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
    );
}

#[test]
fn a_failed_status_is_classed_by_its_code_like_a_send_error() {
    let status = one(failed(
        "wamid.A",
        "wo:1",
        json!([{"code": 131000, "title": "Something went wrong"}]),
    ));
    let Ok((_, Settlement::Failed(failure))) = status.settlement() else {
        panic!()
    };
    assert_eq!(failure.class, ErrorClass::Retryable { after: None });
    assert_eq!(failure.message, "Something went wrong");
}

#[test]
fn several_errors_are_all_told_and_the_first_decides() {
    let status = one(failed(
        "wamid.A",
        "wo:1",
        json!([
            {"code": 131026, "title": "Message undeliverable"},
            {"code": 131000, "message": "Something went wrong"}
        ]),
    ));
    let Ok((_, Settlement::Failed(failure))) = status.settlement() else {
        panic!()
    };
    assert_eq!(failure.code.as_deref(), Some("131026"));
    assert_eq!(failure.class, ErrorClass::Permanent);
    assert_eq!(
        failure.message,
        "Message undeliverable; Something went wrong"
    );
}

#[test]
fn a_failed_status_without_errors_still_fails_and_says_so() {
    let status = one(status("wamid.A", "failed", Some("wo:1")));
    let Ok((_, Settlement::Failed(failure))) = status.settlement() else {
        panic!()
    };
    assert_eq!(failure.code, None);
    assert_eq!(failure.message, "the status gives no error");
    assert_eq!(failure.details, Value::Null);
}

#[test]
fn statuses_that_name_no_record_or_say_nothing_are_not_settleable() {
    assert_eq!(
        one(status("wamid.A", "delivered", None)).settlement(),
        Err(NotSettleable::NoCallbackData)
    );
    assert_eq!(
        one(status("wamid.A", "failed", Some(""))).settlement(),
        Err(NotSettleable::NoCallbackData)
    );
    for state in ["deleted", "warning"] {
        assert_eq!(
            one(status("wamid.A", state, Some("wo:1"))).settlement(),
            Err(NotSettleable::Status {
                status: state.to_owned()
            })
        );
    }
    assert_eq!(
        NotSettleable::NoCallbackData.to_string(),
        "the status carries no biz_opaque_callback_data, so it names no record"
    );
}

/// A target that is never asked to deliver.
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

#[tokio::test]
async fn a_webhook_is_settled_status_by_status_in_order() {
    let store = MemoryStore::new();
    store.claim(FLOW, "wo:unknown", now()).await.unwrap();
    store.claim(FLOW, "wo:lost", now()).await.unwrap();
    let done = Receipt::new(200).with_id("wamid.DONE");
    store.complete(FLOW, "wo:done", &done).await.unwrap();
    store.claim("other-flow", "wo:theirs", now()).await.unwrap();
    let flow = Flow::builder(FLOW).target(Unused).build().unwrap();
    let ctx = Context::new(
        RecordingClient::new(),
        ManualClock::new(now()),
        store.clone(),
    );
    let events = super::super::webhook::parse(&body(
        json!([
            status("wamid.U", "sent", Some("wo:unknown")),
            status("wamid.U", "delivered", Some("wo:unknown")),
            failed(
                "wamid.L",
                "wo:lost",
                json!([{"code": 131026, "title": "Message undeliverable"}])
            ),
            failed(
                "wamid.DONE",
                "wo:done",
                json!([{"code": 131049, "title": "Marketing limit"}])
            ),
            status("wamid.X", "read", None),
            status("wamid.T", "delivered", Some("wo:theirs")),
        ]),
        json!([{"from": "16505551234", "id": "wamid.IN", "timestamp": "1750030070",
                "type": "text", "text": {"body": "ok"}}]),
    ))
    .unwrap();

    let settled = settle_statuses(&flow, &ctx, &events).await;

    let seen: Vec<_> = settled
        .statuses
        .iter()
        .map(|s| {
            let answer = match &s.answer {
                StatusAnswer::Settled(settled) => settled.name(),
                StatusAnswer::NotSettleable(_) => "not_settleable",
                StatusAnswer::Store(_) => "store",
            };
            (
                s.wamid.as_str(),
                s.status.as_str(),
                s.key.as_deref(),
                answer,
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("wamid.U", "sent", Some("wo:unknown"), "delivered"),
            (
                "wamid.U",
                "delivered",
                Some("wo:unknown"),
                "already_delivered"
            ),
            ("wamid.L", "failed", Some("wo:lost"), "failed"),
            ("wamid.DONE", "failed", Some("wo:done"), "already_delivered"),
            ("wamid.X", "read", None, "not_settleable"),
            (
                "wamid.T",
                "delivered",
                Some("wo:theirs"),
                "nothing_to_settle"
            ),
        ],
        "the message is no status and has no entry"
    );
    let late: Vec<_> = settled.statuses.iter().map(|s| s.late_failure()).collect();
    assert_eq!(late, [false, false, false, true, false, false]);

    let Some(Claim::Done { receipt }) = store.peek_claim(FLOW, "wo:unknown").await.unwrap() else {
        panic!("settled as delivered")
    };
    assert_eq!(receipt.id.as_deref(), Some("wamid.U"));
    assert_eq!(receipt.details["status"], "sent");
    assert_eq!(store.peek_claim(FLOW, "wo:lost").await.unwrap(), None);
    assert_eq!(
        store.peek_claim(FLOW, "wo:done").await.unwrap(),
        Some(Claim::Done { receipt: done })
    );
    assert!(matches!(
        store.peek_claim("other-flow", "wo:theirs").await.unwrap(),
        Some(Claim::InFlight { .. })
    ));
    // One history entry, with a line for each claim that changed.
    let report = settled.report.unwrap();
    let keys: Vec<_> = report.records.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(keys, ["wo:unknown", "wo:lost"]);
    assert_eq!(store.recent_history(FLOW, 10).await.unwrap().len(), 1);
    assert!(store
        .recent_history("other-flow", 10)
        .await
        .unwrap()
        .is_empty());
}

/// Claims that cannot be read.
struct Down;

#[async_trait]
impl ClaimStore for Down {
    async fn claim(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<Claim, StoreError> {
        Err(StoreError::unavailable("down"))
    }
    async fn reclaim(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Err(StoreError::unavailable("down"))
    }
    async fn complete(&self, _: &str, _: &str, _: &Receipt) -> Result<(), StoreError> {
        Err(StoreError::unavailable("down"))
    }
    async fn release(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Err(StoreError::unavailable("down"))
    }
    async fn peek_claim(&self, _: &str, _: &str) -> Result<Option<Claim>, StoreError> {
        Err(StoreError::unavailable("down"))
    }
}

#[tokio::test]
async fn a_store_outage_is_an_answer_per_status() {
    let flow = Flow::builder(FLOW).target(Unused).build().unwrap();
    let ctx = Context::new(
        RecordingClient::new(),
        ManualClock::new(now()),
        MemoryStore::new(),
    )
    .with_claims(Down);
    let events = super::super::webhook::parse(&body(
        json!([
            status("wamid.A", "sent", Some("wo:1")),
            status("wamid.B", "sent", None)
        ]),
        json!([]),
    ))
    .unwrap();

    let settled = settle_statuses(&flow, &ctx, &events).await;

    assert!(matches!(
        &settled.statuses[0].answer,
        StatusAnswer::Store(e) if e.to_string().contains("down")
    ));
    assert!(matches!(
        settled.statuses[1].answer,
        StatusAnswer::NotSettleable(NotSettleable::NoCallbackData)
    ));
    assert!(settled.report.is_none());
}
