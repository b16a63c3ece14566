//! Run history: what each run of a flow did, appended by the flow and read back by the host.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::StoreError;

/// One run in a [`HistoryStore`]: plain fields a database can index, plus the run's report
/// as JSON.
///
/// The store does not interpret `report`; the flow writes a serialized
/// [`RunReport`](crate::RunReport) there and [`Flow::history`](crate::Flow::history) reads it
/// back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// The flow's id.
    pub flow: String,
    /// When the run started, by the flow's clock.
    pub started_at: DateTime<Utc>,
    /// When it ended.
    pub finished_at: DateTime<Utc>,
    /// The run's report.
    pub report: Value,
}

impl HistoryEntry {
    /// An entry for a run of `flow`.
    pub fn new(
        flow: impl Into<String>,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        report: Value,
    ) -> Self {
        HistoryEntry {
            flow: flow.into(),
            started_at,
            finished_at,
            report,
        }
    }
}

/// The run history of flows, append-only with retention.
///
/// # Rules
///
/// * [`append_history`](HistoryStore::append_history) adds an entry to its flow's history;
///   entries are never changed afterwards.
/// * [`recent_history`](HistoryStore::recent_history)`(flow, n)` returns the `n` entries of
///   `flow` appended last, newest (last appended) first; fewer when there are fewer. Order is
///   the order of appending, not of `started_at`: two runs may start at the same instant,
///   and clocks of different workers disagree.
/// * [`prune_history`](HistoryStore::prune_history)`(flow, keep_last)` deletes all but the
///   `keep_last` newest entries of `flow` and answers how many it deleted. Other flows are
///   untouched. Nothing is pruned unless the host calls it.
///
/// # One statement each
///
/// With a table `history(id BIGSERIAL PRIMARY KEY, flow, started_at, finished_at, report)`
/// (in SQLite `id INTEGER PRIMARY KEY AUTOINCREMENT`) and an index on `(flow, id)`:
///
/// | operation | statement |
/// |---|---|
/// | `append_history` | `INSERT INTO history (flow, started_at, finished_at, report) VALUES ($1, $2, $3, $4)` |
/// | `recent_history` | `SELECT flow, started_at, finished_at, report FROM history WHERE flow = $1 ORDER BY id DESC LIMIT $2` |
/// | `prune_history` | `DELETE FROM history WHERE flow = $1 AND id NOT IN (SELECT id FROM history WHERE flow = $1 ORDER BY id DESC LIMIT $2)` (rows affected) |
///
/// # Implementing it
///
/// A history that also tells the host's monitoring about every run with failures, and
/// keeps the runs in another store:
///
/// ```
/// use std::sync::Mutex;
/// use async_trait::async_trait;
/// use hubflow::{HistoryEntry, HistoryStore, MemoryStore, StoreError};
///
/// struct Alerting<S> { inner: S, alerts: Mutex<Vec<String>> }
///
/// #[async_trait]
/// impl<S: HistoryStore> HistoryStore for Alerting<S> {
///     async fn append_history(&self, entry: &HistoryEntry) -> Result<(), StoreError> {
///         let failed = entry.report["counts"]["failed"].as_u64().unwrap_or(0);
///         if failed > 0 {
///             self.alerts.lock().unwrap().push(format!("{}: {failed} failed", entry.flow));
///         }
///         self.inner.append_history(entry).await
///     }
///     async fn recent_history(&self, flow: &str, n: usize) -> Result<Vec<HistoryEntry>, StoreError> {
///         self.inner.recent_history(flow, n).await
///     }
///     async fn prune_history(&self, flow: &str, keep_last: usize) -> Result<usize, StoreError> {
///         self.inner.prune_history(flow, keep_last).await
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let history = Alerting { inner: MemoryStore::new(), alerts: Mutex::new(Vec::new()) };
/// let now = chrono::Utc::now();
/// let report = serde_json::json!({"counts": {"failed": 2}});
/// history.append_history(&HistoryEntry::new("wo-assigned", now, now, report)).await.unwrap();
/// assert_eq!(history.alerts.lock().unwrap().as_slice(), ["wo-assigned: 2 failed"]);
/// assert_eq!(history.recent_history("wo-assigned", 10).await.unwrap().len(), 1);
/// # });
/// ```
#[async_trait]
pub trait HistoryStore: Send + Sync {
    /// Appends a run to its flow's history.
    async fn append_history(&self, entry: &HistoryEntry) -> Result<(), StoreError>;

    /// The `n` runs of `flow` appended last, newest first.
    async fn recent_history(&self, flow: &str, n: usize) -> Result<Vec<HistoryEntry>, StoreError>;

    /// Keeps the `keep_last` newest runs of `flow` and deletes the rest; answers how many
    /// were deleted.
    async fn prune_history(&self, flow: &str, keep_last: usize) -> Result<usize, StoreError>;
}
