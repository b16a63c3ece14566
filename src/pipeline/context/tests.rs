//! Unit tests of `context`.

use super::*;
use crate::http::RecordingClient;
use crate::{ManualClock, MemoryStore, StateEntry};

#[tokio::test]
async fn each_concern_can_have_its_own_store() {
    let shared = MemoryStore::new();
    let state = MemoryStore::new();
    let now = "2026-03-01T12:00:00Z".parse().unwrap();
    let ctx = Context::new(
        RecordingClient::new(),
        ManualClock::new(now),
        shared.clone(),
    )
    .with_state(state.clone());
    let entry = StateEntry::new(serde_json::json!(1));
    ctx.state().put_state("s", "k", &entry).await.unwrap();
    assert_eq!(state.get_state("s", "k", now).await.unwrap(), Some(entry));
    assert_eq!(shared.get_state("s", "k", now).await.unwrap(), None);
    ctx.claims().claim("f", "k", now).await.unwrap();
    assert!(shared.peek_claim("f", "k").await.unwrap().is_some());
    assert!(state.peek_claim("f", "k").await.unwrap().is_none());
}

#[test]
fn lease_holders_never_repeat_and_name_the_worker() {
    let ctx = Context::new(
        RecordingClient::new(),
        ManualClock::new(chrono::Utc::now()),
        MemoryStore::new(),
    );
    assert!(ctx.worker_id().starts_with("pid"));
    let a = ctx.next_lease_holder();
    let b = ctx.clone().next_lease_holder();
    assert_ne!(a, b);
    let named = ctx.with_worker_id("host-a");
    // Two contexts given the same worker id still take different holders.
    let twin = named.clone().with_worker_id("host-a");
    let (c, d) = (named.next_lease_holder(), twin.next_lease_holder());
    assert!(c.starts_with("host-a/"), "{c}");
    assert_ne!(c, d);
}
