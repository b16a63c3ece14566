//! Unit tests of `state`.

use super::*;
use crate::MemoryStore;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};

/// State where another writer changes the key just before each of the first `losses`
/// swaps.
struct Contended {
    inner: MemoryStore,
    losses: usize,
    swaps: AtomicUsize,
}

#[async_trait]
impl StateStore for Contended {
    async fn get_state(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        self.inner.get_state(scope, key, now).await
    }
    async fn put_state(&self, s: &str, k: &str, e: &StateEntry) -> Result<(), StoreError> {
        self.inner.put_state(s, k, e).await
    }
    async fn swap_state(
        &self,
        scope: &str,
        key: &str,
        expected: Option<&Value>,
        new: &StateEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let n = self.swaps.fetch_add(1, Ordering::SeqCst);
        if n < self.losses {
            let theirs = StateEntry::new(json!({ "other": n }));
            self.inner.put_state(scope, key, &theirs).await?;
        }
        self.inner.swap_state(scope, key, expected, new, now).await
    }
    async fn remove_state(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.inner.remove_state(scope, key).await
    }
}

fn now() -> DateTime<Utc> {
    "2026-03-01T12:00:00Z".parse().unwrap()
}

#[tokio::test]
async fn an_update_that_loses_reads_again_and_builds_on_the_winner() {
    let store = Contended {
        inner: MemoryStore::new(),
        losses: 2,
        swaps: AtomicUsize::new(0),
    };
    let mut seen = Vec::new();
    let wrote = update_state(&store, "s", "k", now(), |current| {
        seen.push(current.map(|e| e.value.clone()));
        Ok(Some(StateEntry::new(json!("mine"))))
    })
    .await
    .unwrap();
    assert!(wrote);
    assert_eq!(
        seen,
        [None, Some(json!({"other": 0})), Some(json!({"other": 1}))]
    );
    let value = store
        .get_state("s", "k", now())
        .await
        .unwrap()
        .unwrap()
        .value;
    assert_eq!(value, json!("mine"));
    // Nothing to change: no write.
    assert!(!update_state(&store, "s", "k", now(), |_| Ok(None))
        .await
        .unwrap());
}

#[tokio::test]
async fn an_update_that_always_loses_is_a_conflict() {
    let store = Contended {
        inner: MemoryStore::new(),
        losses: usize::MAX,
        swaps: AtomicUsize::new(0),
    };
    let error = update_state(&store, "s", "k", now(), |_| {
        Ok(Some(StateEntry::new(json!(1))))
    })
    .await
    .unwrap_err();
    assert_eq!(error.kind(), crate::StoreErrorKind::Conflict);
    assert_eq!(store.swaps.load(Ordering::SeqCst), UPDATE_ATTEMPTS);
}
