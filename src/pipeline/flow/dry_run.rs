//! Dry runs: a flow executed for real against provider fakes, with a store that reads
//! through to the host's and writes nowhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{Flow, RunReport};
use crate::context::DryRunMark;
use crate::http::{FakeClient, HttpRequest};
use crate::lookup::LookupResult;
use crate::{
    Claim, ClaimStore, Clock, Context, Cursor, CursorLease, CursorStore, HistoryEntry,
    HistoryStore, ManualClock, MemoryStore, Receipt, Record, SavedCursor, StateEntry, StateStore,
    StoreError, Target,
};

/// What [`Flow::dry_run`] did: the report a real run would have made (marked
/// [`dry_run`](RunReport::dry_run)), and for every record the requests the target sent, in
/// order, and what it would have written to the store.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DryRun {
    /// The run's report, as a real run reports it; its receipts are the fakes' (`wamid.fake.1`).
    pub report: RunReport,
    /// One entry per record, in input order.
    pub records: Vec<DryRunRecord>,
}

/// What a dry run did for one record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct DryRunRecord {
    /// The record's key.
    pub key: String,
    /// Every request the target sent, in order, as a real run sends them (secrets
    /// redacted in their serialized form).
    pub requests: Vec<HttpRequest>,
    /// What the run would have written to the store, in order. None of it was written.
    pub writes: Vec<StoreWrite>,
    /// What each of the flow's lookups found, in order (a lookup that found nothing ends
    /// the list: the record was skipped or failed there). Lookups read their directories
    /// for real, through the host's HTTP client.
    pub lookups: Vec<LookupResult>,
}

/// A store write a dry run kept to itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct StoreWrite {
    /// The store operation (`claim`, `complete`, `note_inbound`, …).
    pub operation: &'static str,
    /// The flow, channel or namespace it is scoped to.
    pub scope: String,
    /// The key within the scope.
    pub key: String,
    /// The value written, if the operation writes one.
    #[serde(skip_serializing_if = "Value::is_null")]
    pub value: Value,
}

impl Flow {
    /// Runs `records` through the flow as [`process`](Flow::process) does, condition,
    /// mapping, claims, retries and all, but sends nothing and writes nothing:
    ///
    /// * HTTP goes to the target's provider fakes ([`Target::fakes`](crate::Target::fakes)),
    ///   which answer like the provider (a WhatsApp send ends delivered with a fake wamid);
    ///   every request is recorded, so the result shows exactly what a real run sends, in
    ///   order, including requests that depend on state (a fallback template when the
    ///   customer's window is closed) or on earlier answers (an upload's media id);
    /// * the store is read through to the host's (cursors, windows, pending state) and
    ///   written to an overlay that is thrown away, so later records of the same dry run see
    ///   the earlier ones' writes; nothing reaches the host's store;
    /// * time starts at the host clock's `now` and waits (rate limits, back-off) pass at once.
    ///
    /// Records are taken one at a time, so each one's requests are its own.
    ///
    /// ```
    /// use hubflow::{ClaimStore, Context, Flow, ManualClock, MemoryStore, Outcome, Record};
    /// use hubflow::http::RecordingClient;
    /// use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget};
    /// use secrecy::SecretString;
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let connection = WhatsAppConnection::new("106540352242922", SecretString::from("EAAG…"));
    /// let flow = Flow::builder("notify")
    ///     .target(WhatsAppTarget::new(MessageKind::Template, connection))
    ///     .build()
    ///     .unwrap();
    /// let http = RecordingClient::new();
    /// let store = MemoryStore::new();
    /// let ctx = Context::new(http.clone(), ManualClock::new(chrono::Utc::now()), store.clone());
    /// let record = Record::new("wo:1", "work_order",
    ///     json!({"to": "5511999991234", "template": "wo_assigned", "language": "pt_BR"}));
    ///
    /// let dry = flow.dry_run(&ctx, vec![record]).await;
    /// let Outcome::Delivered { receipt, .. } = &dry.report.records[0].outcome else { panic!() };
    /// assert_eq!(receipt.id.as_deref(), Some("wamid.fake.1"));
    /// assert!(dry.report.dry_run);
    /// assert_eq!(dry.records[0].requests[0].url.path(), "/v23.0/106540352242922/messages");
    /// // Nothing was sent through the host's client, nothing written to its store.
    /// assert!(http.requests().is_empty());
    /// assert!(flow.history(&ctx, 10).await.unwrap().is_empty());
    /// assert_eq!(store.peek_claim("notify", "wo:1").await.unwrap(), None);
    /// # });
    /// ```
    pub async fn dry_run(&self, ctx: &Context, records: Vec<Record>) -> DryRun {
        let fakes = self.inner.target.fakes();
        let store = Overlay::over(ctx);
        let clock = ManualClock::new(ctx.clock().now());
        let mark = DryRunMark::new();
        let started = clock.now();
        let mut lines = Vec::with_capacity(records.len());
        let mut traces = Vec::with_capacity(records.len());
        for record in records {
            let http = FakeClient::from_fakes(fakes.clone());
            let run = ctx.for_dry_run(
                Arc::new(http.clone()),
                Arc::new(clock.clone()),
                Arc::new(store.clone()),
                mark.clone(),
            );
            let planned = self.planned(&run, record).await;
            let lookups = planned.lookups.clone();
            let line = self.finish(&run, planned, None).await;
            traces.push(DryRunRecord {
                key: line.key.clone(),
                requests: http.requests(),
                writes: store.take_writes(),
                lookups,
            });
            lines.push(line);
        }
        let mut report = RunReport::new(&self.inner.id, started, clock.now(), lines);
        report.dry_run = true;
        DryRun {
            report,
            records: traces,
        }
    }
}

/// The dry run's store: reads fall through to the host's stores unless the dry run wrote
/// the same key first; writes stay here and are listed.
#[derive(Clone)]
struct Overlay {
    claims: Arc<dyn ClaimStore>,
    cursors: Arc<dyn CursorStore>,
    state: Arc<dyn StateStore>,
    history: Arc<dyn HistoryStore>,
    /// The dry run's own claims, with the semantics of any claim store.
    own_claims: MemoryStore,
    inner: Arc<Mutex<OverlayState>>,
}

#[derive(Default)]
struct OverlayState {
    /// State written by the dry run; `None` marks a removed key.
    state: HashMap<(String, String), Option<StateEntry>>,
    cursors: HashMap<String, Cursor>,
    writes: Vec<StoreWrite>,
}

impl Overlay {
    fn over(ctx: &Context) -> Self {
        let (claims, cursors, state, history) = ctx.stores();
        Overlay {
            claims,
            cursors,
            state,
            history,
            own_claims: MemoryStore::new(),
            inner: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OverlayState> {
        // Every operation leaves the maps whole, so a poisoned lock still guards valid state.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take_writes(&self) -> Vec<StoreWrite> {
        std::mem::take(&mut self.lock().writes)
    }

    fn note(&self, operation: &'static str, scope: &str, key: &str, value: Value) {
        self.lock().writes.push(StoreWrite {
            operation,
            scope: scope.to_owned(),
            key: key.to_owned(),
            value,
        });
    }

    /// The claim as the dry run sees it: its own, else the host's.
    async fn visible_claim(&self, scope: &str, key: &str) -> Result<Option<Claim>, StoreError> {
        match self.own_claims.peek_claim(scope, key).await? {
            Some(claim) => Ok(Some(claim)),
            None => self.claims.peek_claim(scope, key).await,
        }
    }

    /// The state entry as the dry run sees it.
    async fn visible_state(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        let own = self
            .lock()
            .state
            .get(&(scope.to_owned(), key.to_owned()))
            .cloned();
        match own {
            Some(entry) => Ok(entry.filter(|e| e.is_live(now))),
            None => self.state.get_state(scope, key, now).await,
        }
    }
}

#[async_trait]
impl ClaimStore for Overlay {
    async fn claim(&self, scope: &str, key: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        // A key the host already delivered or holds shows as such (a dry run of a replay
        // says "duplicate"); a free one is claimed in the overlay alone.
        if let Some(claim) = self.visible_claim(scope, key).await? {
            return Ok(claim);
        }
        let claim = self.own_claims.claim(scope, key, now).await?;
        if claim == Claim::Acquired {
            self.note("claim", scope, key, Value::Null);
        }
        Ok(claim)
    }

    async fn reclaim(
        &self,
        scope: &str,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let taken = match self.own_claims.peek_claim(scope, key).await? {
            Some(_) => self.own_claims.reclaim(scope, key, since, now).await?,
            None => match self.claims.peek_claim(scope, key).await? {
                Some(Claim::InFlight { since: held }) if held == since => {
                    self.own_claims.claim(scope, key, now).await? == Claim::Acquired
                }
                _ => false,
            },
        };
        if taken {
            self.note("reclaim", scope, key, Value::Null);
        }
        Ok(taken)
    }

    async fn complete(&self, scope: &str, key: &str, receipt: &Receipt) -> Result<(), StoreError> {
        self.own_claims.complete(scope, key, receipt).await?;
        let value = serde_json::to_value(receipt).unwrap_or(Value::Null);
        self.note("complete", scope, key, value);
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        if let Some(Claim::InFlight { .. }) = self.own_claims.peek_claim(scope, key).await? {
            self.own_claims.release(scope, key).await?;
            self.note("release", scope, key, Value::Null);
        }
        Ok(())
    }

    async fn peek_claim(&self, scope: &str, key: &str) -> Result<Option<Claim>, StoreError> {
        self.visible_claim(scope, key).await
    }
}

#[async_trait]
impl CursorStore for Overlay {
    async fn lease_cursor(
        &self,
        flow: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<CursorLease>, StoreError> {
        // A dry run takes no lease: it reads the cursor a real run would start from.
        let saved = self.saved_cursor(flow).await?;
        Ok(Some(CursorLease {
            holder: holder.to_owned(),
            version: saved.as_ref().map_or(0, |s| s.version),
            cursor: saved.map(|s| s.cursor),
            expires_at: crate::clock::add(now, ttl),
        }))
    }

    async fn save_cursor(
        &self,
        flow: &str,
        _holder: &str,
        _expected_version: u64,
        cursor: &Cursor,
    ) -> Result<bool, StoreError> {
        self.lock().cursors.insert(flow.to_owned(), cursor.clone());
        self.note("save_cursor", flow, "", cursor.value().clone());
        Ok(true)
    }

    async fn release_cursor(&self, _flow: &str, _holder: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn saved_cursor(&self, flow: &str) -> Result<Option<SavedCursor>, StoreError> {
        let own = self.lock().cursors.get(flow).cloned();
        let base = self.cursors.saved_cursor(flow).await?;
        Ok(match own {
            Some(cursor) => Some(SavedCursor {
                cursor,
                version: base.map_or(0, |b| b.version) + 1,
            }),
            None => base,
        })
    }
}

#[async_trait]
impl StateStore for Overlay {
    async fn get_state(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        self.visible_state(scope, key, now).await
    }

    async fn put_state(
        &self,
        scope: &str,
        key: &str,
        entry: &StateEntry,
    ) -> Result<(), StoreError> {
        self.lock()
            .state
            .insert((scope.to_owned(), key.to_owned()), Some(entry.clone()));
        self.note("put_state", scope, key, entry.value.clone());
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
        let current = self.visible_state(scope, key, now).await?;
        if current.as_ref().map(|e| &e.value) != expected {
            return Ok(false);
        }
        self.lock()
            .state
            .insert((scope.to_owned(), key.to_owned()), Some(new.clone()));
        self.note("swap_state", scope, key, new.value.clone());
        Ok(true)
    }

    async fn remove_state(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        self.lock()
            .state
            .insert((scope.to_owned(), key.to_owned()), None);
        self.note("remove_state", scope, key, Value::Null);
        Ok(())
    }
}

#[async_trait]
impl HistoryStore for Overlay {
    async fn append_history(&self, _entry: &HistoryEntry) -> Result<(), StoreError> {
        // The dry run returns its report; the host's history keeps real runs only.
        Ok(())
    }

    async fn recent_history(&self, flow: &str, n: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        self.history.recent_history(flow, n).await
    }

    async fn prune_history(&self, _flow: &str, _keep_last: usize) -> Result<usize, StoreError> {
        Ok(0)
    }
}
