//! The four operations that share statements ([`super::group`]): claims, completions,
//! history entries and rate-limit slots, each a request type and its multi-row statement.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::db_error;
use super::group::{Batched, Group};
use super::ops::claim_of;
use super::PgStore;
use crate::store::{Claim, HistoryEntry, StoreError};

/// The groups of one store.
#[derive(Default)]
pub(super) struct Groups {
    pub(super) claims: Group<ClaimRequest>,
    pub(super) completions: Group<CompleteRequest>,
    pub(super) history: Group<HistoryEntry>,
    pub(super) slots: Group<SlotRequest>,
}

/// A `claim_batch` of distinct keys in one scope.
pub(super) struct ClaimRequest {
    pub(super) scope: String,
    pub(super) keys: Vec<String>,
    pub(super) now: DateTime<Utc>,
}

/// A claim row: key, what it holds, and whether this statement inserted it.
pub(super) type ClaimAnswer = Vec<(String, Claim, bool)>;

/// A row as the claims statement returns it.
type ClaimRow = (
    String,
    String,
    String,
    Option<DateTime<Utc>>,
    Option<Value>,
    bool,
);

#[async_trait]
impl Batched for ClaimRequest {
    type On = PgStore;
    type Answer = ClaimAnswer;

    fn rows(&self) -> Vec<(&str, &str)> {
        self.keys
            .iter()
            .map(|key| (self.scope.as_str(), key.as_str()))
            .collect()
    }

    fn size(&self) -> usize {
        self.keys.len()
    }

    async fn send(
        store: &PgStore,
        requests: &[&ClaimRequest],
    ) -> Result<Vec<Result<ClaimAnswer, StoreError>>, StoreError> {
        let rows = requests.iter().map(|r| r.keys.len()).sum();
        let (mut scopes, mut keys, mut sinces) = (
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
            Vec::with_capacity(rows),
        );
        for request in requests {
            for key in &request.keys {
                scopes.push(request.scope.as_str());
                keys.push(key.as_str());
                sinces.push(request.now);
            }
        }
        let found: Vec<ClaimRow> = sqlx::query_as(store.inner.sql.claim.clone())
            .bind(&scopes)
            .bind(&keys)
            .bind(&sinces)
            .fetch_all(&store.inner.pool)
            .await
            .map_err(|e| db_error("claiming record keys", e))?;
        // Rows by scope, then key: looked up by the requests' own strings, no copies.
        let mut by_row: HashMap<String, HashMap<String, ClaimRow>> = HashMap::new();
        for row in found {
            by_row
                .entry(row.0.clone())
                .or_default()
                .insert(row.1.clone(), row);
        }
        Ok(requests
            .iter()
            .map(|request| {
                // Other requests of the batch may claim other keys of the same scope.
                let mut rows = by_row.get_mut(&request.scope);
                request
                    .keys
                    .iter()
                    .map(|key| {
                        let (_, _, state, since, receipt, inserted) = rows
                            .as_mut()
                            .and_then(|rows| rows.remove(key))
                            .ok_or_else(|| {
                                StoreError::corrupt(format!(
                                    "claiming `{key}` in `{}` answered no row",
                                    request.scope
                                ))
                            })?;
                        Ok((key.clone(), claim_of(&state, since, receipt)?, inserted))
                    })
                    .collect()
            })
            .collect())
    }
}

/// A completion of one claim.
pub(super) struct CompleteRequest {
    pub(super) scope: String,
    pub(super) key: String,
    pub(super) receipt: Value,
}

#[async_trait]
impl Batched for CompleteRequest {
    type On = PgStore;
    type Answer = ();

    fn rows(&self) -> Vec<(&str, &str)> {
        vec![(self.scope.as_str(), self.key.as_str())]
    }

    async fn send(
        store: &PgStore,
        requests: &[&CompleteRequest],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let scopes: Vec<&str> = requests.iter().map(|r| r.scope.as_str()).collect();
        let keys: Vec<&str> = requests.iter().map(|r| r.key.as_str()).collect();
        let receipts: Vec<&Value> = requests.iter().map(|r| &r.receipt).collect();
        sqlx::query(store.inner.sql.complete.clone())
            .bind(&scopes)
            .bind(&keys)
            .bind(&receipts)
            .execute(&store.inner.pool)
            .await
            .map_err(|e| db_error("completing a claim", e))?;
        Ok(requests.iter().map(|_| Ok(())).collect())
    }
}

#[async_trait]
impl Batched for HistoryEntry {
    type On = PgStore;
    type Answer = ();

    /// Appends touch no row another append could.
    fn rows(&self) -> Vec<(&str, &str)> {
        Vec::new()
    }

    async fn send(
        store: &PgStore,
        entries: &[&HistoryEntry],
    ) -> Result<Vec<Result<(), StoreError>>, StoreError> {
        let flows: Vec<&str> = entries.iter().map(|e| e.flow.as_str()).collect();
        let started: Vec<DateTime<Utc>> = entries.iter().map(|e| e.started_at).collect();
        let finished: Vec<DateTime<Utc>> = entries.iter().map(|e| e.finished_at).collect();
        let reports: Vec<&Value> = entries.iter().map(|e| &e.report).collect();
        sqlx::query(store.inner.sql.append_history.clone())
            .bind(&flows)
            .bind(&started)
            .bind(&finished)
            .bind(&reports)
            .execute(&store.inner.pool)
            .await
            .map_err(|e| db_error("appending history", e))?;
        Ok(entries.iter().map(|_| Ok(())).collect())
    }
}

/// A slot of one rate-limit key: `step` microseconds after the key's last slot, or `now`.
pub(super) struct SlotRequest {
    pub(super) key: String,
    pub(super) now: DateTime<Utc>,
    pub(super) step: i64,
}

#[async_trait]
impl Batched for SlotRequest {
    type On = PgStore;
    type Answer = DateTime<Utc>;

    fn rows(&self) -> Vec<(&str, &str)> {
        vec![("", self.key.as_str())]
    }

    async fn send(
        store: &PgStore,
        requests: &[&SlotRequest],
    ) -> Result<Vec<Result<DateTime<Utc>, StoreError>>, StoreError> {
        let keys: Vec<&str> = requests.iter().map(|r| r.key.as_str()).collect();
        let nows: Vec<DateTime<Utc>> = requests.iter().map(|r| r.now).collect();
        let steps: Vec<i64> = requests.iter().map(|r| r.step).collect();
        let found: Vec<(String, DateTime<Utc>)> =
            sqlx::query_as(store.inner.sql.reserve_slot.clone())
                .bind(&keys)
                .bind(&nows)
                .bind(&steps)
                .fetch_all(&store.inner.pool)
                .await
                .map_err(|e| db_error("reserving a rate-limit slot", e))?;
        let mut slots: HashMap<String, DateTime<Utc>> = found.into_iter().collect();
        Ok(requests
            .iter()
            .map(|request| {
                slots.remove(&request.key).ok_or_else(|| {
                    StoreError::corrupt("reserving a rate-limit slot answered no row")
                })
            })
            .collect())
    }
}
