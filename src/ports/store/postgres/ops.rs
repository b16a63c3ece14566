//! The store traits on [`PgStore`]: each operation one statement from
//! [`Statements`](super::schema::Statements), one round trip; claims, completions, history
//! entries and rate slots through their [`group`](super::group), which may send them with
//! other callers' in one statement.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::batches::{ClaimRequest, CompleteRequest, SlotRequest};
use super::error::db_error;
use super::PgStore;
use crate::store::{
    Claim, ClaimStore, CursorLease, CursorStore, HistoryEntry, HistoryStore, RateStore,
    SavedCursor, StateEntry, StateStore, StoreError,
};
use crate::{Cursor, Receipt};

/// A serializable value as the `jsonb` to bind.
fn to_json<T: Serialize>(value: &T, what: &str) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| {
        StoreError::conflict(format!("{what} cannot be written as JSON")).with_source(e)
    })
}

/// A stored `jsonb` value read back as `T`.
fn from_json<T: DeserializeOwned>(value: Value, column: &str) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| {
        StoreError::corrupt(format!("`{column}` does not hold its JSON")).with_source(e)
    })
}

/// A stored claim row as a [`Claim`].
pub(super) fn claim_of(
    state: &str,
    since: Option<DateTime<Utc>>,
    receipt: Option<Value>,
) -> Result<Claim, StoreError> {
    match (state, since, receipt) {
        ("in_flight", Some(since), _) => Ok(Claim::InFlight { since }),
        ("done", _, Some(receipt)) => Ok(Claim::Done {
            receipt: from_json(receipt, "claims.receipt")?,
        }),
        (state, _, _) => Err(StoreError::corrupt(format!(
            "a claim row in state `{state}` lacks its instant or its receipt"
        ))),
    }
}

/// A stored version (a signed `bigint`) as a `u64`.
fn unsigned(stored: i64, column: &str) -> Result<u64, StoreError> {
    u64::try_from(stored)
        .map_err(|_| StoreError::corrupt(format!("`{column}` holds {stored}, not a count")))
}

/// A caller's count as a `LIMIT` or `OFFSET`; counts beyond `i64::MAX` mean "all" anyway.
pub(super) fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Rows affected, as the count the traits answer.
pub(super) fn count(rows: u64) -> usize {
    usize::try_from(rows).unwrap_or(usize::MAX)
}

#[async_trait]
impl ClaimStore for PgStore {
    async fn claim(&self, scope: &str, key: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        let mut claims = self.claim_batch(scope, &[key], now).await?;
        claims
            .pop()
            .ok_or_else(|| StoreError::corrupt("a claim of one key answered nothing"))
    }

    async fn claim_batch(
        &self,
        scope: &str,
        keys: &[&str],
        now: DateTime<Utc>,
    ) -> Result<Vec<Claim>, StoreError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One statement cannot touch a row twice, so the keys go to the server once each;
        // repeats are answered below.
        let distinct: Vec<String> = keys
            .iter()
            .copied()
            .collect::<BTreeSet<&str>>()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let request = ClaimRequest {
            scope: scope.to_owned(),
            keys: distinct,
            now,
        };
        let rows = self.inner.groups.claims.call(self, request).await?;
        // Each key's answer to its first occurrence, and what later occurrences find.
        let mut found: HashMap<String, (Claim, Claim)> = HashMap::with_capacity(rows.len());
        for (key, claim, inserted) in rows {
            let first = if inserted {
                Claim::Acquired
            } else {
                claim.clone()
            };
            found.insert(key, (first, claim));
        }
        // As `claim` called per key in order: once the first occurrence acquired a key, the
        // later ones find it in flight since the instant stored for it.
        let mut claims = Vec::with_capacity(keys.len());
        for key in keys {
            let (first, later) = found.get_mut(*key).ok_or_else(|| {
                StoreError::corrupt(format!("claiming `{key}` in `{scope}` answered no row"))
            })?;
            claims.push(std::mem::replace(first, later.clone()));
        }
        Ok(claims)
    }

    async fn reclaim(
        &self,
        scope: &str,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(self.inner.sql.reclaim.clone())
            .bind(scope)
            .bind(key)
            .bind(since)
            .bind(now)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("taking over a claim", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete(&self, scope: &str, key: &str, receipt: &Receipt) -> Result<(), StoreError> {
        let request = CompleteRequest {
            scope: scope.to_owned(),
            key: key.to_owned(),
            receipt: to_json(receipt, "the receipt")?,
        };
        self.inner.groups.completions.call(self, request).await
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query(self.inner.sql.release.clone())
            .bind(scope)
            .bind(key)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("releasing a claim", e))?;
        Ok(())
    }

    async fn peek_claim(&self, scope: &str, key: &str) -> Result<Option<Claim>, StoreError> {
        let row: Option<(String, Option<DateTime<Utc>>, Option<Value>)> =
            sqlx::query_as(self.inner.sql.peek_claim.clone())
                .bind(scope)
                .bind(key)
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(|e| db_error("reading a claim", e))?;
        row.map(|(state, since, receipt)| claim_of(&state, since, receipt))
            .transpose()
    }
}

#[async_trait]
impl CursorStore for PgStore {
    async fn lease_cursor(
        &self,
        flow: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<CursorLease>, StoreError> {
        let until = chrono::Duration::from_std(ttl)
            .ok()
            .and_then(|ttl| now.checked_add_signed(ttl))
            .ok_or_else(|| {
                StoreError::conflict(format!(
                    "a lease of {ttl:?} from {now} ends past any instant"
                ))
            })?;
        let row: Option<(Option<Value>, i64, DateTime<Utc>)> =
            sqlx::query_as(self.inner.sql.lease_cursor.clone())
                .bind(flow)
                .bind(holder)
                .bind(now)
                .bind(until)
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(|e| db_error("leasing a cursor", e))?;
        let Some((cursor, version, expires_at)) = row else {
            return Ok(None);
        };
        Ok(Some(CursorLease {
            holder: holder.to_owned(),
            cursor: cursor.map(Cursor::new),
            version: unsigned(version, "cursors.version")?,
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
        // A version beyond what a `bigint` holds was never handed out: nothing to match.
        let Ok(expected_version) = i64::try_from(expected_version) else {
            return Ok(false);
        };
        let done = sqlx::query(self.inner.sql.save_cursor.clone())
            .bind(flow)
            .bind(holder)
            .bind(expected_version)
            .bind(cursor.value())
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("saving a cursor", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_cursor(&self, flow: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query(self.inner.sql.release_cursor.clone())
            .bind(flow)
            .bind(holder)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("releasing a cursor lease", e))?;
        Ok(())
    }

    async fn saved_cursor(&self, flow: &str) -> Result<Option<SavedCursor>, StoreError> {
        let row: Option<(Value, i64)> = sqlx::query_as(self.inner.sql.saved_cursor.clone())
            .bind(flow)
            .fetch_optional(&self.inner.pool)
            .await
            .map_err(|e| db_error("reading a cursor", e))?;
        row.map(|(cursor, version)| {
            Ok(SavedCursor {
                cursor: Cursor::new(cursor),
                version: unsigned(version, "cursors.version")?,
            })
        })
        .transpose()
    }
}

#[async_trait]
impl StateStore for PgStore {
    async fn get_state(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        let row: Option<(Value, Option<DateTime<Utc>>)> =
            sqlx::query_as(self.inner.sql.get_state.clone())
                .bind(scope)
                .bind(key)
                .bind(now)
                .fetch_optional(&self.inner.pool)
                .await
                .map_err(|e| db_error("reading state", e))?;
        Ok(row.map(|(value, expires_at)| StateEntry::new(value).expiry(expires_at)))
    }

    async fn put_state(
        &self,
        scope: &str,
        key: &str,
        entry: &StateEntry,
    ) -> Result<(), StoreError> {
        sqlx::query(self.inner.sql.put_state.clone())
            .bind(scope)
            .bind(key)
            .bind(&entry.value)
            .bind(entry.expires_at)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("writing state", e))?;
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
        let statement = match expected {
            None => self.inner.sql.swap_absent_state.clone(),
            Some(_) => self.inner.sql.swap_state.clone(),
        };
        let mut query = sqlx::query(statement)
            .bind(scope)
            .bind(key)
            .bind(&new.value)
            .bind(new.expires_at)
            .bind(now);
        if let Some(expected) = expected {
            query = query.bind(expected);
        }
        let done = query
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("swapping state", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_state(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query(self.inner.sql.remove_state.clone())
            .bind(scope)
            .bind(key)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("removing state", e))?;
        Ok(())
    }
}

#[async_trait]
impl RateStore for PgStore {
    async fn reserve_slot(
        &self,
        key: &str,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        let request = SlotRequest {
            key: key.to_owned(),
            now,
            step: crate::store::interval_micros(interval),
        };
        self.inner.groups.slots.call(self, request).await
    }
}

#[async_trait]
impl HistoryStore for PgStore {
    async fn append_history(&self, entry: &HistoryEntry) -> Result<(), StoreError> {
        self.inner.groups.history.call(self, entry.clone()).await
    }

    async fn recent_history(&self, flow: &str, n: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows: Vec<(String, DateTime<Utc>, DateTime<Utc>, Value)> =
            sqlx::query_as(self.inner.sql.recent_history.clone())
                .bind(flow)
                .bind(limit(n))
                .fetch_all(&self.inner.pool)
                .await
                .map_err(|e| db_error("reading history", e))?;
        Ok(rows
            .into_iter()
            .map(|(flow, started_at, finished_at, report)| {
                HistoryEntry::new(flow, started_at, finished_at, report)
            })
            .collect())
    }

    async fn prune_history(&self, flow: &str, keep_last: usize) -> Result<usize, StoreError> {
        let done = sqlx::query(self.inner.sql.prune_history.clone())
            .bind(flow)
            .bind(limit(keep_last))
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("pruning history", e))?;
        Ok(count(done.rows_affected()))
    }
}
