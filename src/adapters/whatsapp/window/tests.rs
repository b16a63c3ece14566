//! Unit tests of `window`.

use super::*;
use crate::http::RecordingClient;
use crate::{ManualClock, MemoryStore};

fn message(from: &str, at: &str) -> Record {
    Record::new(
        "wamid",
        "whatsapp.message",
        json!({"phone_number_id": "1065", "from": from}),
    )
    .occurred_at(at.parse().unwrap())
}

#[tokio::test]
async fn an_older_message_never_shrinks_the_window() {
    let clock = ManualClock::new("2026-03-02T12:00:00Z".parse().unwrap());
    let ctx = Context::new(RecordingClient::new(), clock.clone(), MemoryStore::new());
    let newer = message("5511", "2026-03-02T11:00:00Z");
    let older = message("5511", "2026-03-02T09:00:00Z");
    assert_eq!(remember_inbound(&ctx, &[newer, older]).await.unwrap(), 2);
    let last = last_inbound(&ctx, "1065", "5511").await.unwrap();
    assert_eq!(last, Some("2026-03-02T11:00:00Z".parse().unwrap()));
    assert_eq!(last_inbound(&ctx, "2000", "5511").await.unwrap(), None);
    // Open until 24 hours after the newer message, not the older one.
    clock.set("2026-03-03T10:59:59Z".parse().unwrap());
    assert!(last_inbound(&ctx, "1065", "5511").await.unwrap().is_some());
    clock.set("2026-03-03T11:00:00Z".parse().unwrap());
    assert_eq!(last_inbound(&ctx, "1065", "5511").await.unwrap(), None);
}

#[tokio::test]
async fn concurrent_webhooks_keep_the_newer_message() {
    let clock = ManualClock::new("2026-03-02T12:00:00Z".parse().unwrap());
    let ctx = Context::new(RecordingClient::new(), clock, MemoryStore::new())
        .with_state(crate::store::YieldingState(MemoryStore::new()));
    let newer = [message("5511", "2026-03-02T11:00:00Z")];
    let older = [message("5511", "2026-03-02T09:00:00Z")];
    // Both read "no window" before either writes; the older one must lose.
    let (a, b) = futures_util::join!(
        remember_inbound(&ctx, &newer),
        remember_inbound(&ctx, &older)
    );
    assert_eq!((a.unwrap(), b.unwrap()), (1, 1));
    let last = last_inbound(&ctx, "1065", "5511").await.unwrap();
    assert_eq!(last, Some("2026-03-02T11:00:00Z".parse().unwrap()));
}

#[tokio::test]
async fn a_window_that_is_not_an_instant_is_reported() {
    let clock = ManualClock::new("2026-03-02T12:00:00Z".parse().unwrap());
    let store = MemoryStore::new();
    let ctx = Context::new(RecordingClient::new(), clock, store.clone());
    crate::StateStore::put_state(&store, SCOPE, "1065:5511", &StateEntry::new(json!(3)))
        .await
        .unwrap();
    let error = last_inbound(&ctx, "1065", "5511").await.unwrap_err();
    assert_eq!(error.kind(), crate::StoreErrorKind::Corrupt);
}
