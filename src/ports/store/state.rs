//! Keyed state with a time to live: what adapters remember between records (a customer's
//! last message, a pending confirmation).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::StoreError;

/// A value in a [`StateStore`] and when it expires (`None`: never).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StateEntry {
    /// The value.
    pub value: Value,
    /// The instant from which the entry counts as absent.
    pub expires_at: Option<DateTime<Utc>>,
}

impl StateEntry {
    /// An entry that never expires.
    pub fn new(value: Value) -> Self {
        StateEntry {
            value,
            expires_at: None,
        }
    }

    /// Sets the instant from which the entry counts as absent.
    #[must_use]
    pub fn expiring_at(mut self, at: DateTime<Utc>) -> Self {
        self.expires_at = Some(at);
        self
    }

    /// Sets the expiry, or none.
    #[must_use]
    pub fn expiry(mut self, at: Option<DateTime<Utc>>) -> Self {
        self.expires_at = at;
        self
    }

    /// Whether the entry is live at `now`: it has no expiry or expires after `now`.
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| at > now)
    }
}

/// Keyed state: `(scope, key) → JSON value`, each with an optional expiry.
///
/// # Rules
///
/// * An entry is *live* at `now` when it has no expiry or its `expires_at` is after `now`.
///   An entry that is not live is absent to every operation: [`get_state`](StateStore::get_state)
///   never returns it, and [`swap_state`](StateStore::swap_state) treats it as missing. A
///   store may purge expired entries lazily (on access, or in a periodic `DELETE … WHERE
///   expires_at <= now()`), because nothing can observe them.
/// * [`put_state`](StateStore::put_state) writes unconditionally (insert or replace, value
///   and expiry together).
/// * `swap_state(scope, key, expected, new, now)` is a compare-and-swap: with `expected =
///   None` it applies only when no live entry exists; with `Some(v)` only when the live
///   entry's value equals `v` (JSON equality). It answers whether it applied; of concurrent
///   swaps from the same expected value, exactly one applies.
/// * [`remove_state`](StateStore::remove_state) deletes the entry; removing a missing one
///   is not an error.
/// * Scopes separate users of one store (`whatsapp.window`, `rm.pending:<scope>`).
///
/// Expiry is judged by the `now` the caller passes, never by the store's clock.
///
/// # One statement each
///
/// With a table `state(scope, key, value, expires_at, PRIMARY KEY (scope, key))` (`value`
/// `jsonb` in PostgreSQL, whose `=` is JSON equality; in SQLite the text serde_json writes,
/// which is canonical for values built by serde_json: object keys sorted):
///
/// | operation | statement |
/// |---|---|
/// | `get_state` | `SELECT value, expires_at FROM state WHERE scope = $1 AND key = $2 AND (expires_at IS NULL OR expires_at > $3)` |
/// | `put_state` | `INSERT INTO state VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at` |
/// | `swap_state`, expected absent | `INSERT INTO state VALUES ($1, $2, $3, $4) ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at WHERE state.expires_at <= $5` (one row: `true`) |
/// | `swap_state`, expected `v` | `UPDATE state SET value = $3, expires_at = $4 WHERE scope = $1 AND key = $2 AND value = $6 AND (expires_at IS NULL OR expires_at > $5)` (one row: `true`) |
/// | `remove_state` | `DELETE FROM state WHERE scope = $1 AND key = $2` |
///
/// # Implementing it
///
/// The rules in a few lines, over a map behind a mutex (a real store runs the statements
/// above; `hubflow::testing::store::check_all`, feature `testing`, checks either):
///
/// ```
/// use std::collections::HashMap;
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use chrono::{DateTime, Utc};
/// use hubflow::{StateEntry, StateStore, StoreError};
/// use serde_json::{json, Value};
///
/// #[derive(Default)]
/// struct MapState(Mutex<HashMap<(String, String), StateEntry>>);
///
/// #[async_trait]
/// impl StateStore for MapState {
///     async fn get_state(&self, scope: &str, key: &str, now: DateTime<Utc>)
///         -> Result<Option<StateEntry>, StoreError> {
///         let map = self.0.lock().unwrap();
///         Ok(map.get(&(scope.into(), key.into())).filter(|e| e.is_live(now)).cloned())
///     }
///     async fn put_state(&self, scope: &str, key: &str, entry: &StateEntry) -> Result<(), StoreError> {
///         self.0.lock().unwrap().insert((scope.into(), key.into()), entry.clone());
///         Ok(())
///     }
///     async fn swap_state(&self, scope: &str, key: &str, expected: Option<&Value>,
///         new: &StateEntry, now: DateTime<Utc>) -> Result<bool, StoreError> {
///         let mut map = self.0.lock().unwrap();
///         let slot = (scope.to_owned(), key.to_owned());
///         // An expired entry counts as absent.
///         let current = map.get(&slot).filter(|e| e.is_live(now)).map(|e| &e.value);
///         if current != expected {
///             return Ok(false);
///         }
///         map.insert(slot, new.clone());
///         Ok(true)
///     }
///     async fn remove_state(&self, scope: &str, key: &str) -> Result<(), StoreError> {
///         self.0.lock().unwrap().remove(&(scope.into(), key.into()));
///         Ok(())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let state = MapState::default();
/// let now = Utc::now();
/// let first = StateEntry::new(json!(1)).expiring_at(now + chrono::Duration::minutes(5));
/// assert!(state.swap_state("demo", "k", None, &first, now).await.unwrap());
/// assert!(!state.swap_state("demo", "k", None, &first, now).await.unwrap(), "taken");
/// let later = now + chrono::Duration::minutes(10);
/// assert!(state.get_state("demo", "k", later).await.unwrap().is_none(), "expired");
/// assert!(state.swap_state("demo", "k", None, &StateEntry::new(json!(2)), later).await.unwrap());
/// # });
/// ```
#[async_trait]
pub trait StateStore: Send + Sync {
    /// The live entry at `(scope, key)` at `now`; `None` when missing or expired.
    async fn get_state(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError>;

    /// Writes `entry` at `(scope, key)`, replacing whatever was there.
    async fn put_state(&self, scope: &str, key: &str, entry: &StateEntry)
        -> Result<(), StoreError>;

    /// Replaces the entry with `new` if the live value at `now` is `expected` (`None`: no
    /// live entry). `true` when it applied.
    async fn swap_state(
        &self,
        scope: &str,
        key: &str,
        expected: Option<&Value>,
        new: &StateEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Deletes the entry at `(scope, key)`, if any.
    async fn remove_state(&self, scope: &str, key: &str) -> Result<(), StoreError>;
}

/// How often [`update_state`] re-reads and retries after losing a compare-and-swap before it
/// reports a conflict. Losing this often means many writers on one key at once, which no
/// caller here produces.
const UPDATE_ATTEMPTS: usize = 16;

/// Read-modify-write through [`StateStore::swap_state`]: reads the live entry, asks `change`
/// for the new one (`None`: leave it as it is), and swaps; when another writer got there
/// first, reads again. Answers whether it wrote.
pub(crate) async fn update_state(
    store: &dyn StateStore,
    scope: &str,
    key: &str,
    now: DateTime<Utc>,
    mut change: impl FnMut(Option<&StateEntry>) -> Result<Option<StateEntry>, StoreError> + Send,
) -> Result<bool, StoreError> {
    for _ in 0..UPDATE_ATTEMPTS {
        let current = store.get_state(scope, key, now).await?;
        let Some(new) = change(current.as_ref())? else {
            return Ok(false);
        };
        let expected = current.as_ref().map(|entry| &entry.value);
        if store.swap_state(scope, key, expected, &new, now).await? {
            return Ok(true);
        }
    }
    Err(StoreError::conflict(format!(
        "`{key}` in `{scope}` changed under {UPDATE_ATTEMPTS} attempts in a row to update it"
    )))
}

/// State whose reads yield before answering, so that concurrent writers in one test
/// interleave between their read and their write, as workers sharing a database do.
#[cfg(test)]
pub(crate) struct YieldingState(pub(crate) crate::MemoryStore);

#[cfg(test)]
#[async_trait]
impl StateStore for YieldingState {
    async fn get_state(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        let found = self.0.get_state(scope, key, now).await;
        tokio::task::yield_now().await;
        found
    }
    async fn put_state(&self, s: &str, k: &str, e: &StateEntry) -> Result<(), StoreError> {
        self.0.put_state(s, k, e).await
    }
    async fn swap_state(
        &self,
        scope: &str,
        key: &str,
        expected: Option<&Value>,
        new: &StateEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.0.swap_state(scope, key, expected, new, now).await
    }
    async fn remove_state(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.0.remove_state(scope, key).await
    }
}

#[cfg(test)]
mod tests;
