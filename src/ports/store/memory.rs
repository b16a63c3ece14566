//! Every store concern in process memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::{
    Claim, ClaimStore, CursorLease, CursorStore, HistoryEntry, HistoryStore, RateStore,
    SavedCursor, StateEntry, StateStore, StoreError,
};
use crate::{Cursor, Receipt};

#[derive(Debug, Clone, PartialEq)]
enum ClaimState {
    InFlight(DateTime<Utc>),
    Done(Receipt),
}

#[derive(Debug, Default)]
struct CursorRow {
    cursor: Option<Cursor>,
    version: u64,
    lease: Option<(String, DateTime<Utc>)>,
}

#[derive(Debug, Default)]
struct Memory {
    claims: HashMap<(String, String), ClaimState>,
    cursors: HashMap<String, CursorRow>,
    state: HashMap<(String, String), StateEntry>,
    history: HashMap<String, Vec<HistoryEntry>>,
    rate_slots: HashMap<String, DateTime<Utc>>,
}

/// Every store concern ([`Store`](crate::Store), and [`RateStore`]) in process memory, following the documented
/// rules of each trait.
///
/// Clones share the same state. Nothing survives a restart. Expired state entries are
/// dropped when an operation touches them; history grows until the host calls
/// [`prune_history`](HistoryStore::prune_history). Fine for tests, examples and single-process
/// hosts; workers in several processes need a shared (database) store.
///
/// ```
/// use hubflow::{Claim, ClaimStore, MemoryStore, Receipt};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let store = MemoryStore::new();
/// let now = chrono::Utc::now();
/// assert_eq!(store.claim("flow", "k1", now).await.unwrap(), Claim::Acquired);
/// assert_eq!(store.claim("flow", "k1", now).await.unwrap(), Claim::InFlight { since: now });
/// store.complete("flow", "k1", &Receipt::new(200)).await.unwrap();
/// assert!(matches!(store.claim("flow", "k1", now).await.unwrap(), Claim::Done { .. }));
/// # });
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Memory>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Memory> {
        // Each operation leaves the maps consistent before it can panic, so a poisoned lock
        // still guards valid state.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[async_trait]
impl ClaimStore for MemoryStore {
    async fn claim(&self, scope: &str, key: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        let mut memory = self.lock();
        let claim = match memory.claims.get(&pair(scope, key)) {
            Some(ClaimState::Done(receipt)) => Claim::Done {
                receipt: receipt.clone(),
            },
            Some(ClaimState::InFlight(since)) => Claim::InFlight { since: *since },
            None => {
                memory
                    .claims
                    .insert(pair(scope, key), ClaimState::InFlight(now));
                Claim::Acquired
            }
        };
        Ok(claim)
    }

    async fn reclaim(
        &self,
        scope: &str,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut memory = self.lock();
        match memory.claims.get_mut(&pair(scope, key)) {
            Some(state) if *state == ClaimState::InFlight(since) => {
                *state = ClaimState::InFlight(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn complete(&self, scope: &str, key: &str, receipt: &Receipt) -> Result<(), StoreError> {
        let mut memory = self.lock();
        let state = memory
            .claims
            .entry(pair(scope, key))
            .or_insert_with(|| ClaimState::Done(receipt.clone()));
        // Done is final: a second completion keeps the first receipt.
        if let ClaimState::InFlight(_) = state {
            *state = ClaimState::Done(receipt.clone());
        }
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        let mut memory = self.lock();
        if let Some(ClaimState::InFlight(_)) = memory.claims.get(&pair(scope, key)) {
            memory.claims.remove(&pair(scope, key));
        }
        Ok(())
    }

    async fn peek_claim(&self, scope: &str, key: &str) -> Result<Option<Claim>, StoreError> {
        Ok(self
            .lock()
            .claims
            .get(&pair(scope, key))
            .map(|state| match state {
                ClaimState::InFlight(since) => Claim::InFlight { since: *since },
                ClaimState::Done(receipt) => Claim::Done {
                    receipt: receipt.clone(),
                },
            }))
    }
}

#[async_trait]
impl CursorStore for MemoryStore {
    async fn lease_cursor(
        &self,
        flow: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<CursorLease>, StoreError> {
        let mut memory = self.lock();
        let row = memory.cursors.entry(flow.to_owned()).or_default();
        let free = match &row.lease {
            None => true,
            Some((current, until)) => current == holder || *until <= now,
        };
        if !free {
            return Ok(None);
        }
        let expires_at = crate::clock::add(now, ttl);
        row.lease = Some((holder.to_owned(), expires_at));
        Ok(Some(CursorLease {
            holder: holder.to_owned(),
            cursor: row.cursor.clone(),
            version: row.version,
            expires_at,
        }))
    }

    async fn save_cursor(
        &self,
        flow: &str,
        holder: &str,
        expected_version: u64,
        cursor: &Cursor,
    ) -> Result<bool, StoreError> {
        let mut memory = self.lock();
        let Some(row) = memory.cursors.get_mut(flow) else {
            return Ok(false);
        };
        let holds = row.lease.as_ref().is_some_and(|(h, _)| h == holder);
        if !holds || row.version != expected_version {
            return Ok(false);
        }
        row.cursor = Some(cursor.clone());
        row.version += 1;
        Ok(true)
    }

    async fn release_cursor(&self, flow: &str, holder: &str) -> Result<(), StoreError> {
        let mut memory = self.lock();
        if let Some(row) = memory.cursors.get_mut(flow) {
            if row.lease.as_ref().is_some_and(|(h, _)| h == holder) {
                row.lease = None;
            }
        }
        Ok(())
    }

    async fn saved_cursor(&self, flow: &str) -> Result<Option<SavedCursor>, StoreError> {
        let memory = self.lock();
        Ok(memory.cursors.get(flow).and_then(|row| {
            row.cursor.clone().map(|cursor| SavedCursor {
                cursor,
                version: row.version,
            })
        }))
    }
}

impl Memory {
    /// The live entry at the key, dropping an expired one.
    fn live_state(&mut self, scope: &str, key: &str, now: DateTime<Utc>) -> Option<&StateEntry> {
        let id = pair(scope, key);
        if self.state.get(&id).is_some_and(|entry| !entry.is_live(now)) {
            self.state.remove(&id);
        }
        self.state.get(&id)
    }
}

#[async_trait]
impl StateStore for MemoryStore {
    async fn get_state(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        Ok(self.lock().live_state(scope, key, now).cloned())
    }

    async fn put_state(
        &self,
        scope: &str,
        key: &str,
        entry: &StateEntry,
    ) -> Result<(), StoreError> {
        self.lock().state.insert(pair(scope, key), entry.clone());
        Ok(())
    }

    async fn swap_state(
        &self,
        scope: &str,
        key: &str,
        expected: Option<&Value>,
        new: &StateEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut memory = self.lock();
        let current = memory.live_state(scope, key, now).map(|entry| &entry.value);
        if current != expected {
            return Ok(false);
        }
        memory.state.insert(pair(scope, key), new.clone());
        Ok(true)
    }

    async fn remove_state(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.lock().state.remove(&pair(scope, key));
        Ok(())
    }
}

#[async_trait]
impl HistoryStore for MemoryStore {
    async fn append_history(&self, entry: &HistoryEntry) -> Result<(), StoreError> {
        self.lock()
            .history
            .entry(entry.flow.clone())
            .or_default()
            .push(entry.clone());
        Ok(())
    }

    async fn recent_history(&self, flow: &str, n: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        Ok(self
            .lock()
            .history
            .get(flow)
            .map(|runs| runs.iter().rev().take(n).cloned().collect())
            .unwrap_or_default())
    }

    async fn prune_history(&self, flow: &str, keep_last: usize) -> Result<usize, StoreError> {
        let mut memory = self.lock();
        let Some(runs) = memory.history.get_mut(flow) else {
            return Ok(0);
        };
        let excess = runs.len().saturating_sub(keep_last);
        runs.drain(..excess);
        Ok(excess)
    }
}

#[async_trait]
impl RateStore for MemoryStore {
    async fn reserve_slot(
        &self,
        key: &str,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        let mut memory = self.lock();
        let next = memory.rate_slots.entry(key.to_owned()).or_insert(now);
        let slot = (*next).max(now);
        *next = crate::clock::add(slot, interval);
        Ok(slot)
    }
}

#[cfg(test)]
mod tests;
