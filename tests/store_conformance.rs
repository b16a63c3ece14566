//! The store conformance suite on `MemoryStore`, and proof that the suite rejects stores
//! that break a rule, naming that rule.
#![cfg(feature = "testing")]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hubflow::testing::store::{
    check_all, check_claims, check_cursors, check_history, check_state, ConformanceFailure,
};
use hubflow::{
    Claim, ClaimStore, Cursor, CursorLease, CursorStore, HistoryEntry, HistoryStore, MemoryStore,
    Receipt, SavedCursor, StateEntry, StateStore, StoreError,
};
use serde_json::Value;

#[tokio::test]
async fn the_memory_store_passes_every_rule() {
    let store = MemoryStore::new();
    check_all(&store).await.unwrap();
    hubflow::testing::store::check_rates(&store).await.unwrap();
    // Twice on the same store: the suite's names are fresh for every run.
    check_all(&store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_passes_from_several_threads_at_once() {
    let store = MemoryStore::new();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { check_all(&store).await })
        })
        .collect();
    for run in runs {
        run.await.unwrap().unwrap();
    }
}

#[tokio::test]
async fn the_suite_works_through_trait_objects() {
    let store: Box<dyn hubflow::Store> = Box::new(MemoryStore::new());
    check_all(&*store).await.unwrap();
}

/// One way of breaking the contract, and the rule the suite must name for it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    ClaimAlwaysAcquires,
    ReleaseForgetsNothing,
    CompleteOverwritesDone,
    ReclaimIgnoresSince,
    /// Check-then-act: looks, yields, then claims, and believes it won.
    RacyClaim,
    LeaseNeverExpires,
    SaveIgnoresVersion,
    SaveIgnoresLease,
    ReleaseCursorIgnoresHolder,
    ExpiredStateVisible,
    SwapIgnoresExpected,
    SwapSeesExpired,
    PutKeepsExpiry,
    /// Check-then-act: reads, compares, yields, then writes.
    RacySwap,
    /// `ORDER BY started_at DESC` with ties oldest first, instead of the order of appending.
    HistoryByStartTime,
    PruneNothing,
}

impl Fault {
    const ALL: [Fault; 16] = [
        Fault::ClaimAlwaysAcquires,
        Fault::ReleaseForgetsNothing,
        Fault::CompleteOverwritesDone,
        Fault::ReclaimIgnoresSince,
        Fault::RacyClaim,
        Fault::LeaseNeverExpires,
        Fault::SaveIgnoresVersion,
        Fault::SaveIgnoresLease,
        Fault::ReleaseCursorIgnoresHolder,
        Fault::ExpiredStateVisible,
        Fault::SwapIgnoresExpected,
        Fault::SwapSeesExpired,
        Fault::PutKeepsExpiry,
        Fault::RacySwap,
        Fault::HistoryByStartTime,
        Fault::PruneNothing,
    ];

    fn rule(self) -> &'static str {
        match self {
            Fault::ClaimAlwaysAcquires => "claims.claim_reports_in_flight",
            Fault::ReleaseForgetsNothing => "claims.release_frees",
            Fault::CompleteOverwritesDone => "claims.done_is_final",
            Fault::ReclaimIgnoresSince => "claims.reclaim_is_compare_and_swap",
            Fault::RacyClaim => "claims.concurrent_claims_acquire_once",
            Fault::LeaseNeverExpires => "cursors.lease_expires",
            Fault::SaveIgnoresVersion => "cursors.save_is_compare_and_set",
            Fault::SaveIgnoresLease => "cursors.save_needs_the_lease",
            Fault::ReleaseCursorIgnoresHolder => "cursors.release_by_another_is_ignored",
            Fault::ExpiredStateVisible => "state.expired_is_invisible",
            Fault::SwapIgnoresExpected => "state.swap_from_absent_inserts_once",
            Fault::SwapSeesExpired => "state.swap_treats_expired_as_absent",
            Fault::PutKeepsExpiry => "state.put_replaces",
            Fault::RacySwap => "state.concurrent_swaps_apply_once",
            Fault::HistoryByStartTime => "history.recent_is_newest_first",
            Fault::PruneNothing => "history.prune_keeps_the_newest",
        }
    }
}

/// A memory store with one fault. What the port cannot express on top of `MemoryStore` (a
/// done claim's receipt replaced, the lease holder of a flow) the wrapper keeps itself.
struct Broken {
    inner: MemoryStore,
    fault: Fault,
    overwritten: Mutex<HashMap<(String, String), Receipt>>,
    holders: Mutex<HashMap<String, String>>,
}

impl Broken {
    fn new(fault: Fault) -> Self {
        Broken {
            inner: MemoryStore::new(),
            fault,
            overwritten: Mutex::default(),
            holders: Mutex::default(),
        }
    }

    fn holder(&self, flow: &str) -> Option<String> {
        self.holders.lock().unwrap().get(flow).cloned()
    }

    fn with_overwrite(&self, scope: &str, key: &str, claim: Claim) -> Claim {
        match (
            claim,
            self.overwritten.lock().unwrap().get(&pair(scope, key)),
        ) {
            (Claim::Done { .. }, Some(receipt)) => Claim::Done {
                receipt: receipt.clone(),
            },
            (claim, _) => claim,
        }
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[async_trait]
impl ClaimStore for Broken {
    async fn claim(&self, scope: &str, key: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        if self.fault == Fault::RacyClaim {
            if let Some(found) = self.inner.peek_claim(scope, key).await? {
                return Ok(found);
            }
            tokio::task::yield_now().await;
            self.inner.claim(scope, key, now).await?;
            return Ok(Claim::Acquired);
        }
        let claim = self.inner.claim(scope, key, now).await?;
        Ok(match self.fault {
            Fault::ClaimAlwaysAcquires => Claim::Acquired,
            _ => self.with_overwrite(scope, key, claim),
        })
    }

    async fn reclaim(
        &self,
        scope: &str,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        if self.fault == Fault::ReclaimIgnoresSince {
            if let Some(Claim::InFlight { since: actual }) =
                self.inner.peek_claim(scope, key).await?
            {
                return self.inner.reclaim(scope, key, actual, now).await;
            }
        }
        self.inner.reclaim(scope, key, since, now).await
    }

    async fn complete(&self, scope: &str, key: &str, receipt: &Receipt) -> Result<(), StoreError> {
        if self.fault == Fault::CompleteOverwritesDone {
            if let Some(Claim::Done { .. }) = self.inner.peek_claim(scope, key).await? {
                self.overwritten
                    .lock()
                    .unwrap()
                    .insert(pair(scope, key), receipt.clone());
                return Ok(());
            }
        }
        self.inner.complete(scope, key, receipt).await
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        match self.fault {
            Fault::ReleaseForgetsNothing => Ok(()),
            _ => self.inner.release(scope, key).await,
        }
    }

    async fn peek_claim(&self, scope: &str, key: &str) -> Result<Option<Claim>, StoreError> {
        let found = self.inner.peek_claim(scope, key).await?;
        Ok(found.map(|claim| self.with_overwrite(scope, key, claim)))
    }
}

#[async_trait]
impl CursorStore for Broken {
    async fn lease_cursor(
        &self,
        flow: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<CursorLease>, StoreError> {
        if self.fault == Fault::LeaseNeverExpires
            && self.holder(flow).is_some_and(|current| current != holder)
        {
            return Ok(None);
        }
        let lease = self.inner.lease_cursor(flow, holder, now, ttl).await?;
        if lease.is_some() {
            self.holders
                .lock()
                .unwrap()
                .insert(flow.to_owned(), holder.to_owned());
        }
        Ok(lease)
    }

    async fn save_cursor(
        &self,
        flow: &str,
        holder: &str,
        expected_version: u64,
        cursor: &Cursor,
    ) -> Result<bool, StoreError> {
        let (holder, version) = match self.fault {
            Fault::SaveIgnoresVersion => {
                let current = self.inner.saved_cursor(flow).await?;
                (holder.to_owned(), current.map_or(0, |saved| saved.version))
            }
            Fault::SaveIgnoresLease => (
                self.holder(flow).unwrap_or_else(|| holder.to_owned()),
                expected_version,
            ),
            _ => (holder.to_owned(), expected_version),
        };
        self.inner.save_cursor(flow, &holder, version, cursor).await
    }

    async fn release_cursor(&self, flow: &str, holder: &str) -> Result<(), StoreError> {
        let holder = match self.fault {
            Fault::ReleaseCursorIgnoresHolder => {
                self.holder(flow).unwrap_or_else(|| holder.to_owned())
            }
            _ => holder.to_owned(),
        };
        self.inner.release_cursor(flow, &holder).await?;
        let mut holders = self.holders.lock().unwrap();
        if holders.get(flow) == Some(&holder) {
            holders.remove(flow);
        }
        Ok(())
    }

    async fn saved_cursor(&self, flow: &str) -> Result<Option<SavedCursor>, StoreError> {
        self.inner.saved_cursor(flow).await
    }
}

#[async_trait]
impl StateStore for Broken {
    async fn get_state(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        let now = match self.fault {
            Fault::ExpiredStateVisible => DateTime::<Utc>::MIN_UTC,
            _ => now,
        };
        self.inner.get_state(scope, key, now).await
    }

    async fn put_state(
        &self,
        scope: &str,
        key: &str,
        entry: &StateEntry,
    ) -> Result<(), StoreError> {
        if self.fault == Fault::PutKeepsExpiry {
            if let Some(old) = self
                .inner
                .get_state(scope, key, DateTime::<Utc>::MIN_UTC)
                .await?
            {
                let kept = entry.clone().expiry(old.expires_at);
                return self.inner.put_state(scope, key, &kept).await;
            }
        }
        self.inner.put_state(scope, key, entry).await
    }

    async fn swap_state(
        &self,
        scope: &str,
        key: &str,
        expected: Option<&Value>,
        new: &StateEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        match self.fault {
            Fault::SwapIgnoresExpected => {
                let current = self.inner.get_state(scope, key, now).await?;
                let expected = current.as_ref().map(|entry| &entry.value);
                self.inner.swap_state(scope, key, expected, new, now).await
            }
            Fault::SwapSeesExpired => {
                let never = DateTime::<Utc>::MIN_UTC;
                self.inner
                    .swap_state(scope, key, expected, new, never)
                    .await
            }
            Fault::RacySwap => {
                let current = self.inner.get_state(scope, key, now).await?;
                if current.as_ref().map(|entry| &entry.value) != expected {
                    return Ok(false);
                }
                tokio::task::yield_now().await;
                self.inner.put_state(scope, key, new).await?;
                Ok(true)
            }
            _ => self.inner.swap_state(scope, key, expected, new, now).await,
        }
    }

    async fn remove_state(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.inner.remove_state(scope, key).await
    }
}

#[async_trait]
impl HistoryStore for Broken {
    async fn append_history(&self, entry: &HistoryEntry) -> Result<(), StoreError> {
        self.inner.append_history(entry).await
    }

    async fn recent_history(&self, flow: &str, n: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        if self.fault == Fault::HistoryByStartTime {
            let mut all = self.inner.recent_history(flow, usize::MAX).await?;
            all.reverse();
            all.sort_by_key(|e| std::cmp::Reverse(e.started_at));
            all.truncate(n);
            return Ok(all);
        }
        self.inner.recent_history(flow, n).await
    }

    async fn prune_history(&self, flow: &str, keep_last: usize) -> Result<usize, StoreError> {
        match self.fault {
            Fault::PruneNothing => Ok(0),
            _ => self.inner.prune_history(flow, keep_last).await,
        }
    }
}

async fn check_concern(fault: Fault) -> Result<(), ConformanceFailure> {
    let store = Broken::new(fault);
    match fault.rule().split('.').next() {
        Some("claims") => check_claims(&store).await,
        Some("cursors") => check_cursors(&store).await,
        Some("state") => check_state(&store).await,
        _ => check_history(&store).await,
    }
}

#[tokio::test]
async fn each_broken_rule_is_caught_and_named() {
    for fault in Fault::ALL {
        let failure = check_all(&Broken::new(fault))
            .await
            .expect_err(&format!("the suite accepted a store with {fault:?}"));
        assert_eq!(failure.rule, fault.rule(), "{fault:?}: {failure}");
        assert!(
            failure.to_string().contains(fault.rule()),
            "the message names the rule: {failure}"
        );
        assert!(!failure.detail.is_empty());
        // The per-concern check finds it too.
        let alone = check_concern(fault).await.expect_err("caught alone");
        assert_eq!(alone, failure, "{fault:?}");
    }
}

#[tokio::test]
async fn a_fault_in_one_concern_leaves_the_other_checks_passing() {
    let store = Broken::new(Fault::ReleaseForgetsNothing);
    check_cursors(&store).await.unwrap();
    check_state(&store).await.unwrap();
    check_history(&store).await.unwrap();
    let store = Broken::new(Fault::RacySwap);
    check_claims(&store).await.unwrap();
}

/// A store that is down: the first rule fails with the store's error.
#[tokio::test]
async fn a_store_error_fails_the_rule_under_check_with_the_error() {
    struct Down;

    #[async_trait]
    impl HistoryStore for Down {
        async fn append_history(&self, _: &HistoryEntry) -> Result<(), StoreError> {
            Err(StoreError::unavailable("connection refused"))
        }
        async fn recent_history(&self, _: &str, _: usize) -> Result<Vec<HistoryEntry>, StoreError> {
            Err(StoreError::unavailable("connection refused"))
        }
        async fn prune_history(&self, _: &str, _: usize) -> Result<usize, StoreError> {
            Err(StoreError::unavailable("connection refused"))
        }
    }

    let failure = check_history(&Down).await.unwrap_err();
    assert_eq!(failure.rule, "history.empty_is_empty");
    assert!(failure.detail.contains("connection refused"), "{failure}");
}
