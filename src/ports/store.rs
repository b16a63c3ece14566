//! The store port: idempotency claims, source cursors, conversation windows, run history.
//!
//! Every operation is small enough for a database to do atomically (one `INSERT … ON
//! CONFLICT`, one conditional `UPDATE`), which is what makes a shared store safe across
//! many workers. [`MemoryStore`] keeps everything in process memory, for tests, examples
//! and single-process hosts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{Cursor, Receipt, RunReport};

/// What a claim on a record key found.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Claim {
    /// The key was free and is now in flight for the caller.
    Acquired,
    /// The key was delivered before.
    Done {
        /// The receipt of that delivery.
        receipt: Receipt,
    },
    /// Another attempt holds the key since `since`: a worker sending right now, or one that
    /// stopped between sending and recording (see [`Store::reclaim`]).
    InFlight {
        /// When that attempt claimed the key.
        since: DateTime<Utc>,
    },
}

/// A store failure. The message must not contain credentials (a connection string's
/// password, for one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("store unavailable: {0}")]
pub struct StoreError(pub String);

/// Durable state a flow needs between records and between runs. The host supplies one in
/// the [`Context`](crate::Context).
#[async_trait]
pub trait Store: Send + Sync {
    /// Claims `key` for `flow`: pending → in flight, atomically.
    async fn claim(&self, flow: &str, key: &str, now: DateTime<Utc>) -> Result<Claim, StoreError>;

    /// Takes over a claim left in flight since exactly `since` (compare-and-swap, so two
    /// workers cannot both take it over). `true` when the caller now holds it.
    async fn reclaim(
        &self,
        flow: &str,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Marks the claim on `key` done with its receipt: in flight → done.
    async fn complete(&self, flow: &str, key: &str, receipt: &Receipt) -> Result<(), StoreError>;

    /// Gives a claim back after a failed attempt, so a later run may try again.
    async fn release(&self, flow: &str, key: &str) -> Result<(), StoreError>;

    /// The cursor a pull source saved last time, if any.
    async fn cursor(&self, flow: &str) -> Result<Option<Cursor>, StoreError>;

    /// Saves a pull source's cursor.
    async fn save_cursor(&self, flow: &str, cursor: &Cursor) -> Result<(), StoreError>;

    /// Notes an inbound message from `party` on `channel` (e.g. a WhatsApp phone-number id
    /// and a customer's number), which opens a conversation window.
    async fn note_inbound(
        &self,
        channel: &str,
        party: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// When `party` last wrote on `channel`, if ever.
    async fn last_inbound(
        &self,
        channel: &str,
        party: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;

    /// Appends a run's report to the history.
    async fn append_report(&self, report: &RunReport) -> Result<(), StoreError>;
}

#[derive(Debug, Clone, PartialEq)]
enum ClaimState {
    InFlight(DateTime<Utc>),
    Done(Receipt),
}

#[derive(Debug, Default)]
struct Memory {
    claims: HashMap<(String, String), ClaimState>,
    cursors: HashMap<String, Cursor>,
    inbound: HashMap<(String, String), DateTime<Utc>>,
    reports: Vec<RunReport>,
}

/// A [`Store`] in process memory. Clones share the same state. Nothing survives a restart,
/// and nothing is evicted: fine for tests, examples and short-lived processes.
///
/// ```
/// use hubflow::{Claim, MemoryStore, Receipt, Store};
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

    /// Every report appended so far.
    pub fn reports(&self) -> Vec<RunReport> {
        self.lock().reports.clone()
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
impl Store for MemoryStore {
    async fn claim(&self, flow: &str, key: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        let mut memory = self.lock();
        let claim = match memory.claims.get(&pair(flow, key)) {
            Some(ClaimState::Done(receipt)) => Claim::Done {
                receipt: receipt.clone(),
            },
            Some(ClaimState::InFlight(since)) => Claim::InFlight { since: *since },
            None => {
                memory
                    .claims
                    .insert(pair(flow, key), ClaimState::InFlight(now));
                Claim::Acquired
            }
        };
        Ok(claim)
    }

    async fn reclaim(
        &self,
        flow: &str,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut memory = self.lock();
        match memory.claims.get_mut(&pair(flow, key)) {
            Some(state) if *state == ClaimState::InFlight(since) => {
                *state = ClaimState::InFlight(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn complete(&self, flow: &str, key: &str, receipt: &Receipt) -> Result<(), StoreError> {
        self.lock()
            .claims
            .insert(pair(flow, key), ClaimState::Done(receipt.clone()));
        Ok(())
    }

    async fn release(&self, flow: &str, key: &str) -> Result<(), StoreError> {
        let mut memory = self.lock();
        if let Some(ClaimState::InFlight(_)) = memory.claims.get(&pair(flow, key)) {
            memory.claims.remove(&pair(flow, key));
        }
        Ok(())
    }

    async fn cursor(&self, flow: &str) -> Result<Option<Cursor>, StoreError> {
        Ok(self.lock().cursors.get(flow).cloned())
    }

    async fn save_cursor(&self, flow: &str, cursor: &Cursor) -> Result<(), StoreError> {
        self.lock().cursors.insert(flow.to_owned(), cursor.clone());
        Ok(())
    }

    async fn note_inbound(
        &self,
        channel: &str,
        party: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut memory = self.lock();
        let last = memory.inbound.entry(pair(channel, party)).or_insert(at);
        // Webhooks arrive out of order; an older message must not shrink the window.
        if at > *last {
            *last = at;
        }
        Ok(())
    }

    async fn last_inbound(
        &self,
        channel: &str,
        party: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.lock().inbound.get(&pair(channel, party)).copied())
    }

    async fn append_report(&self, report: &RunReport) -> Result<(), StoreError> {
        self.lock().reports.push(report.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, minute, 0).unwrap()
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn claims_move_from_free_to_in_flight_to_done() {
        block_on(async {
            let s = MemoryStore::new();
            assert_eq!(s.claim("f", "k", at(0)).await.unwrap(), Claim::Acquired);
            assert_eq!(
                s.claim("f", "k", at(1)).await.unwrap(),
                Claim::InFlight { since: at(0) }
            );
            // Claims are per flow.
            assert_eq!(s.claim("g", "k", at(1)).await.unwrap(), Claim::Acquired);
            let receipt = Receipt::new(200).with_id("m1");
            s.complete("f", "k", &receipt).await.unwrap();
            assert_eq!(
                s.claim("f", "k", at(2)).await.unwrap(),
                Claim::Done {
                    receipt: receipt.clone()
                }
            );
            // A release after completion must not forget the delivery.
            s.release("f", "k").await.unwrap();
            assert_eq!(
                s.claim("f", "k", at(3)).await.unwrap(),
                Claim::Done { receipt }
            );
        });
    }

    #[test]
    fn release_frees_the_key() {
        block_on(async {
            let s = MemoryStore::new();
            s.claim("f", "k", at(0)).await.unwrap();
            s.release("f", "k").await.unwrap();
            assert_eq!(s.claim("f", "k", at(1)).await.unwrap(), Claim::Acquired);
        });
    }

    #[test]
    fn reclaim_is_a_compare_and_swap() {
        block_on(async {
            let s = MemoryStore::new();
            s.claim("f", "k", at(0)).await.unwrap();
            assert!(!s.reclaim("f", "k", at(5), at(10)).await.unwrap());
            assert!(s.reclaim("f", "k", at(0), at(10)).await.unwrap());
            // The second taker saw the old instant and loses.
            assert!(!s.reclaim("f", "k", at(0), at(11)).await.unwrap());
            assert!(!s.reclaim("f", "missing", at(0), at(11)).await.unwrap());
        });
    }

    #[test]
    fn cursors_and_windows() {
        block_on(async {
            let s = MemoryStore::new();
            assert_eq!(s.cursor("f").await.unwrap(), None);
            let c = Cursor::new(serde_json::json!({"since": 3}));
            s.save_cursor("f", &c).await.unwrap();
            assert_eq!(s.cursor("f").await.unwrap(), Some(c));
            s.note_inbound("phone-1", "5511", at(10)).await.unwrap();
            s.note_inbound("phone-1", "5511", at(5)).await.unwrap();
            assert_eq!(
                s.last_inbound("phone-1", "5511").await.unwrap(),
                Some(at(10))
            );
            assert_eq!(s.last_inbound("phone-2", "5511").await.unwrap(), None);
        });
    }
}
