//! Source cursors: where a pull source stopped, saved with compare-and-set, and a lease so
//! that one poller at a time runs a flow.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::Cursor;

/// A lease on a flow's cursor, as [`CursorStore::lease_cursor`] granted it: the cursor to
/// poll from and its version, to pass back to [`CursorStore::save_cursor`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CursorLease {
    /// Who holds the lease.
    pub holder: String,
    /// The cursor saved last, `None` before the first save.
    pub cursor: Option<Cursor>,
    /// The cursor's version: 0 before the first save, one more after each.
    pub version: u64,
    /// When the lease runs out unless renewed.
    pub expires_at: DateTime<Utc>,
}

/// A saved cursor and its version, as [`CursorStore::saved_cursor`] reads it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SavedCursor {
    /// The cursor.
    pub cursor: Cursor,
    /// Its version: the number of saves so far.
    pub version: u64,
}

/// Cursors of pull sources, one per flow, with a version for compare-and-set and a lease so
/// that only one poller runs a flow at a time.
///
/// # Rules
///
/// * A flow's cursor starts absent at version 0; every successful
///   [`save_cursor`](CursorStore::save_cursor) stores the new cursor and adds one to the
///   version.
/// * [`lease_cursor`](CursorStore::lease_cursor) grants the lease to `holder` until
///   `now + ttl` when nobody holds it, when the holder's lease expired (its `expires_at` is
///   at or before `now`), or when `holder` already holds it (a renewal). Otherwise it
///   answers `None`: another poller is at work.
/// * `save_cursor(flow, holder, expected_version, cursor)` applies only while `holder` is
///   the lease's holder and the version is still `expected_version`; it answers whether it
///   applied. It fails when another poller took the lease over, when the lease was released,
///   or when the version moved. An expired lease nobody took over still saves: the version
///   check alone already prevents a lost update.
/// * [`release_cursor`](CursorStore::release_cursor) ends `holder`'s lease; a lease held by
///   someone else is left alone. The cursor and its version stay.
/// * [`saved_cursor`](CursorStore::saved_cursor) reads the cursor without a lease.
///
/// Expiry is judged by the `now` the caller passes, never by the store's clock.
///
/// # One statement each
///
/// With a table `cursors(flow PRIMARY KEY, cursor, version, holder, lease_until)`:
///
/// | operation | statement |
/// |---|---|
/// | `lease_cursor` | `INSERT INTO cursors (flow, version, holder, lease_until) VALUES ($1, 0, $2, $4) ON CONFLICT (flow) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until WHERE cursors.holder IS NULL OR cursors.holder = excluded.holder OR cursors.lease_until <= $3 RETURNING cursor, version, lease_until` (`$4` = `now + ttl`; no row: `None`) |
/// | `save_cursor` | `UPDATE cursors SET cursor = $4, version = version + 1 WHERE flow = $1 AND holder = $2 AND version = $3` (one row: `true`) |
/// | `release_cursor` | `UPDATE cursors SET holder = NULL, lease_until = NULL WHERE flow = $1 AND holder = $2` |
/// | `saved_cursor` | `SELECT cursor, version FROM cursors WHERE flow = $1 AND cursor IS NOT NULL` |
///
/// # Implementing it
///
/// Over a store of its own, follow the statements above (and run
/// `hubflow::testing::store::check_all`, feature `testing`). A wrapper is often enough: here
/// one tenant's cursors live beside other tenants' in one shared store, under a prefix.
///
/// ```
/// use std::time::Duration;
/// use async_trait::async_trait;
/// use chrono::{DateTime, Utc};
/// use hubflow::{Cursor, CursorLease, CursorStore, MemoryStore, SavedCursor, StoreError};
///
/// struct Tenant<S> { prefix: String, inner: S }
///
/// impl<S> Tenant<S> {
///     fn flow(&self, flow: &str) -> String { format!("{}/{flow}", self.prefix) }
/// }
///
/// #[async_trait]
/// impl<S: CursorStore> CursorStore for Tenant<S> {
///     async fn lease_cursor(&self, flow: &str, holder: &str, now: DateTime<Utc>, ttl: Duration)
///         -> Result<Option<CursorLease>, StoreError> {
///         self.inner.lease_cursor(&self.flow(flow), holder, now, ttl).await
///     }
///     async fn save_cursor(&self, flow: &str, holder: &str, expected: u64, cursor: &Cursor)
///         -> Result<bool, StoreError> {
///         self.inner.save_cursor(&self.flow(flow), holder, expected, cursor).await
///     }
///     async fn release_cursor(&self, flow: &str, holder: &str) -> Result<(), StoreError> {
///         self.inner.release_cursor(&self.flow(flow), holder).await
///     }
///     async fn saved_cursor(&self, flow: &str) -> Result<Option<SavedCursor>, StoreError> {
///         self.inner.saved_cursor(&self.flow(flow)).await
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let shared = MemoryStore::new();
/// let acme = Tenant { prefix: "acme".into(), inner: shared.clone() };
/// let now = Utc::now();
/// let lease = acme.lease_cursor("wo-poll", "worker-1", now, Duration::from_secs(60)).await.unwrap().unwrap();
/// let cursor = Cursor::new(serde_json::json!({"since": "2026-03-02T00:00:00Z"}));
/// assert!(acme.save_cursor("wo-poll", "worker-1", lease.version, &cursor).await.unwrap());
/// assert!(shared.saved_cursor("acme/wo-poll").await.unwrap().is_some());
/// assert!(shared.saved_cursor("wo-poll").await.unwrap().is_none());
/// # });
/// ```
#[async_trait]
pub trait CursorStore: Send + Sync {
    /// Leases `flow`'s cursor to `holder` until `now + ttl`; `None` while another holder's
    /// lease is live at `now`. The lease carries the current cursor and its version.
    async fn lease_cursor(
        &self,
        flow: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<CursorLease>, StoreError>;

    /// Saves `cursor` if `holder` holds the lease and the version is `expected_version`
    /// (compare-and-set); the version becomes `expected_version + 1`. `false` when the
    /// lease was lost or the version moved: nothing was saved.
    async fn save_cursor(
        &self,
        flow: &str,
        holder: &str,
        expected_version: u64,
        cursor: &Cursor,
    ) -> Result<bool, StoreError>;

    /// Ends `holder`'s lease on `flow`, if it still holds it.
    async fn release_cursor(&self, flow: &str, holder: &str) -> Result<(), StoreError>;

    /// The cursor saved last, with its version; `None` before the first save.
    async fn saved_cursor(&self, flow: &str) -> Result<Option<SavedCursor>, StoreError>;
}
