//! Idempotency claims: at most one attempt at a record key at a time, and never again once
//! it is done.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::Receipt;

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
    /// stopped between sending and recording (see [`ClaimStore::reclaim`]).
    InFlight {
        /// When that attempt claimed the key.
        since: DateTime<Utc>,
    },
}

/// Idempotency claims on record keys, per scope (a flow id, or an adapter's namespace such
/// as `rm.answers:<scope>`).
///
/// # States
///
/// A `(scope, key)` pair is in one of three states:
///
/// ```text
///                 claim                     complete
///   free ─────────────────────▶ in flight ─────────────────▶ done (final)
///     ▲                         (since)  │
///     └──────── release ─────────────────┘
///                               in flight(since) ──reclaim(since, now)──▶ in flight(now)
/// ```
///
/// * [`claim`](ClaimStore::claim): free → in flight(now), answering [`Claim::Acquired`];
///   on a key in flight or done it changes nothing and says what it found.
/// * [`reclaim`](ClaimStore::reclaim): in flight(since) → in flight(now), only when the
///   claim is still in flight since exactly `since` (compare-and-swap: of two workers
///   taking over the same abandoned claim, one wins).
/// * [`complete`](ClaimStore::complete): in flight → done with the receipt; a free key
///   becomes done too (the delivery happened, whoever claimed it). Done is final: completing
///   a done key again keeps the first receipt.
/// * [`release`](ClaimStore::release): in flight → free; a free or done key is unchanged,
///   so a delivery is never forgotten. It does not check who claimed: the flow releases only
///   what it claimed.
/// * [`peek_claim`](ClaimStore::peek_claim): reads the state, changes nothing.
///
/// Instants come from the caller (the flow's [`Clock`](crate::Clock)), never from the
/// store's own clock, so every worker and every test judges leases the same way.
///
/// # One statement each
///
/// Every operation is atomic on its own. With a table
/// `claims(scope, key, state, since, receipt, PRIMARY KEY (scope, key))`:
///
/// | operation | PostgreSQL | SQLite |
/// |---|---|---|
/// | `claim` | `INSERT INTO claims (scope, key, state, since) VALUES ($1, $2, 'in_flight', $3) ON CONFLICT (scope, key) DO UPDATE SET scope = claims.scope RETURNING state, since, receipt, (xmax = 0) AS inserted` | in one `BEGIN IMMEDIATE` transaction: `INSERT … ON CONFLICT DO NOTHING RETURNING 1`, and when no row came back `SELECT state, since, receipt FROM claims WHERE scope = ? AND key = ?` |
/// | `reclaim` | `UPDATE claims SET since = $4 WHERE scope = $1 AND key = $2 AND state = 'in_flight' AND since = $3` (one row: `true`) | the same |
/// | `complete` | `INSERT INTO claims (scope, key, state, receipt) VALUES ($1, $2, 'done', $3) ON CONFLICT (scope, key) DO UPDATE SET state = 'done', since = NULL, receipt = excluded.receipt WHERE claims.state = 'in_flight'` | the same |
/// | `release` | `DELETE FROM claims WHERE scope = $1 AND key = $2 AND state = 'in_flight'` | the same |
/// | `peek_claim` | `SELECT state, since, receipt FROM claims WHERE scope = $1 AND key = $2` | the same |
/// | `claim_batch` | the `claim` statement over `SELECT $1, k, 'in_flight', $3 FROM unnest($2::text[]) WITH ORDINALITY AS t (k, n) ORDER BY n`, `RETURNING key, …`: one round trip, with `$2` the distinct keys in sorted order (one `INSERT` cannot touch a row twice, and one order for every caller keeps concurrent batches from deadlocking); `DO UPDATE`, not `DO NOTHING` plus a read, because the read's snapshot misses a row another batch committed meanwhile | one `BEGIN IMMEDIATE` transaction over the keys |
///
/// # Batches
///
/// [`claim_batch`](ClaimStore::claim_batch) claims many keys at one instant and answers one
/// [`Claim`] per key, in order, exactly as if [`claim`](ClaimStore::claim) had been called
/// for each key in turn: a key that appears twice is [`Claim::Acquired`] the first time and
/// [`Claim::InFlight`] since `now` the second. The default calls `claim` per key; a database
/// store overrides it to take the whole batch in one round trip, which is what lets a flow
/// claim 64 records for the price of one.
///
/// Store instants with at least microsecond precision and compare them exactly: `reclaim`
/// compares the `since` that `claim` returned.
#[async_trait]
pub trait ClaimStore: Send + Sync {
    /// Claims `key` in `scope` at `now`: free → in flight, atomically. Exactly one of any
    /// number of concurrent claims on a free key gets [`Claim::Acquired`].
    async fn claim(&self, scope: &str, key: &str, now: DateTime<Utc>) -> Result<Claim, StoreError>;

    /// Takes over a claim left in flight since exactly `since`, moving it to in flight since
    /// `now`. `true` when the caller now holds it; `false` when the claim moved on (taken
    /// over by someone else, completed, released).
    async fn reclaim(
        &self,
        scope: &str,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Marks the claim on `key` done with its receipt: in flight (or free) → done. A key
    /// already done keeps its first receipt.
    async fn complete(&self, scope: &str, key: &str, receipt: &Receipt) -> Result<(), StoreError>;

    /// Gives a claim back after a failed attempt, so a later run may try again: in flight →
    /// free. Done keys stay done.
    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError>;

    /// Claims every key of `keys` in `scope` at `now`, answering one [`Claim`] per key in
    /// the same order: the same result as calling [`claim`](ClaimStore::claim) for each key
    /// in turn. On an error, some keys may have been claimed; the caller treats them as
    /// claims in flight (their lease decides), never as delivered.
    async fn claim_batch(
        &self,
        scope: &str,
        keys: &[&str],
        now: DateTime<Utc>,
    ) -> Result<Vec<Claim>, StoreError> {
        let mut claims = Vec::with_capacity(keys.len());
        for key in keys {
            claims.push(self.claim(scope, key, now).await?);
        }
        Ok(claims)
    }

    /// The state of `key` without changing it: `None` when free, else
    /// [`Claim::InFlight`] or [`Claim::Done`] (never [`Claim::Acquired`]).
    async fn peek_claim(&self, scope: &str, key: &str) -> Result<Option<Claim>, StoreError>;
}
