//! Dry runs: a flow executed for real against provider fakes, with a store that reads
//! through to the host's and writes nowhere.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::{Flow, RunReport};
use crate::http::{FakeClient, HttpRequest};
use crate::{Claim, Context, Cursor, ManualClock, Receipt, Record, Store, StoreError, Target};

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
    /// use hubflow::{Context, Flow, ManualClock, MemoryStore, Outcome, Record};
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
    /// assert!(store.reports().is_empty());
    /// # });
    /// ```
    pub async fn dry_run(&self, ctx: &Context, records: Vec<Record>) -> DryRun {
        let fakes = self.inner.target.fakes();
        let store = Overlay::over(ctx.store_arc());
        let clock = ManualClock::new(ctx.clock().now());
        let started = clock.now_utc();
        let mut lines = Vec::with_capacity(records.len());
        let mut traces = Vec::with_capacity(records.len());
        for record in records {
            let http = FakeClient::from_fakes(fakes.clone());
            let run = Context::from_arcs(
                Arc::new(http.clone()),
                Arc::new(clock.clone()),
                Arc::new(store.clone()),
            );
            let line = self.process_one(&run, record).await;
            traces.push(DryRunRecord {
                key: line.key.clone(),
                requests: http.requests(),
                writes: store.take_writes(),
            });
            lines.push(line);
        }
        let mut report = RunReport::new(&self.inner.id, started, clock.now_utc(), lines);
        report.dry_run = true;
        DryRun {
            report,
            records: traces,
        }
    }
}

impl ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        crate::Clock::now(self)
    }
}

/// The dry run's store: reads fall through to the host's store unless the dry run wrote the
/// same thing first; writes stay here and are listed.
#[derive(Clone)]
struct Overlay {
    base: Arc<dyn Store>,
    state: Arc<Mutex<OverlayState>>,
}

#[derive(Default)]
struct OverlayState {
    claims: HashMap<(String, String), Option<Receipt>>,
    cursors: HashMap<String, Cursor>,
    inbound: HashMap<(String, String), DateTime<Utc>>,
    writes: Vec<StoreWrite>,
}

impl Overlay {
    fn over(base: Arc<dyn Store>) -> Self {
        Overlay {
            base,
            state: Arc::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OverlayState> {
        // Every operation leaves the maps whole, so a poisoned lock still guards valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
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
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.to_owned(), b.to_owned())
}

#[async_trait]
impl Store for Overlay {
    async fn claim(&self, flow: &str, key: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        // The host's claims cannot be read without taking them, so a dry run claims in its
        // overlay alone: every record is new to it.
        let claim = match self.lock().claims.get(&pair(flow, key)) {
            Some(Some(receipt)) => Claim::Done {
                receipt: receipt.clone(),
            },
            Some(None) => Claim::InFlight { since: now },
            None => Claim::Acquired,
        };
        if claim == Claim::Acquired {
            self.lock().claims.insert(pair(flow, key), None);
            self.note("claim", flow, key, Value::Null);
        }
        Ok(claim)
    }

    async fn reclaim(
        &self,
        _flow: &str,
        _key: &str,
        _since: DateTime<Utc>,
        _now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn complete(&self, flow: &str, key: &str, receipt: &Receipt) -> Result<(), StoreError> {
        self.lock()
            .claims
            .insert(pair(flow, key), Some(receipt.clone()));
        let value = serde_json::to_value(receipt).unwrap_or(Value::Null);
        self.note("complete", flow, key, value);
        Ok(())
    }

    async fn release(&self, flow: &str, key: &str) -> Result<(), StoreError> {
        let released = {
            let mut state = self.lock();
            match state.claims.get(&pair(flow, key)) {
                Some(None) => state.claims.remove(&pair(flow, key)).is_some(),
                _ => false,
            }
        };
        if released {
            self.note("release", flow, key, Value::Null);
        }
        Ok(())
    }

    async fn cursor(&self, flow: &str) -> Result<Option<Cursor>, StoreError> {
        if let Some(cursor) = self.lock().cursors.get(flow) {
            return Ok(Some(cursor.clone()));
        }
        self.base.cursor(flow).await
    }

    async fn save_cursor(&self, flow: &str, cursor: &Cursor) -> Result<(), StoreError> {
        self.lock().cursors.insert(flow.to_owned(), cursor.clone());
        self.note("save_cursor", flow, "", cursor.value().clone());
        Ok(())
    }

    async fn note_inbound(
        &self,
        channel: &str,
        party: &str,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.lock().inbound.insert(pair(channel, party), at);
        self.note(
            "note_inbound",
            channel,
            party,
            Value::String(at.to_rfc3339()),
        );
        Ok(())
    }

    async fn last_inbound(
        &self,
        channel: &str,
        party: &str,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let noted = self.lock().inbound.get(&pair(channel, party)).copied();
        let stored = self.base.last_inbound(channel, party).await?;
        Ok(noted.max(stored))
    }

    async fn append_report(&self, _report: &RunReport) -> Result<(), StoreError> {
        // The dry run returns its report; the host's history keeps real runs only.
        Ok(())
    }
}
