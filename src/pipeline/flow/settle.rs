//! Settling unknown outcomes with evidence from outside the flow (the rules are documented
//! on [`Flow::settle`], as this module is private).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::{report, Failure, Flow, Outcome, RecordOutcome, RunReport, Stage};
use crate::{Claim, Context, DeliveryError, Receipt, ReportedFailure, StoreError};

/// The `kind` of a settlement's line in a [`RunReport`]. The claim store keeps keys and
/// receipts, not records, so the kind of the record that was sent is not known there.
pub const SETTLEMENT_KIND: &str = "settlement";

/// What a settled delivery's receipt names as its source (`details.settled_by`).
pub const SETTLED_BY: &str = "status_webhook";

/// Evidence of how a send ended, from outside the flow: a provider's status webhook.
///
/// ```
/// use hubflow::{ErrorClass, ReportedFailure, Settlement};
///
/// let delivered = Settlement::delivered("whatsapp", "wamid.HBgL", "delivered", None);
/// let failed = Settlement::failed(
///     ReportedFailure::new("whatsapp", "Message undeliverable").with_code("131026"),
/// );
/// assert!(matches!(failed, Settlement::Failed(ref f) if f.class == ErrorClass::Permanent));
/// # let _ = delivered;
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "evidence", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Settlement {
    /// The provider took the send: it names the message's id and a status that implies
    /// acceptance (WhatsApp's `sent`, `delivered`, `read`).
    #[non_exhaustive]
    Delivered {
        /// Which provider reported it (`whatsapp`).
        provider: String,
        /// The provider's id of the message (a wamid).
        id: String,
        /// The status reported, as the provider spells it.
        status: String,
        /// When the provider says the status was reached.
        #[serde(skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
    /// The provider reports that the send failed, with its error.
    Failed(ReportedFailure),
}

impl Settlement {
    /// Evidence that `provider` took the message `id`, reported with `status` at `at`.
    pub fn delivered(
        provider: &str,
        id: impl Into<String>,
        status: impl Into<String>,
        at: Option<DateTime<Utc>>,
    ) -> Self {
        Settlement::Delivered {
            provider: provider.to_owned(),
            id: id.into(),
            status: status.into(),
            at,
        }
    }

    /// Evidence that the send failed, as the provider reported it.
    pub fn failed(failure: ReportedFailure) -> Self {
        Settlement::Failed(failure)
    }
}

/// What [`Flow::settle`] did with one key: always one of these, never a guess.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "settled", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Settled {
    /// The claim was in flight and is now done with this receipt: the provider's id, no
    /// HTTP status, and in `details` `settled_by` ([`SETTLED_BY`]), `provider`, `status`
    /// and, when known, `reported_at`.
    Delivered {
        /// The receipt the claim now holds.
        receipt: Receipt,
    },
    /// The claim was in flight and the provider reports the send failed: the claim was
    /// released, as the flow does after a known failure, so replaying the record (the
    /// earlier run's dead letter) sends it again.
    Failed {
        /// The reported error, as a report keeps failures (stage `deliver`).
        failure: Failure,
        /// Whether sending again may succeed, by the provider's class of the error.
        retryable: bool,
    },
    /// The key was delivered before (by a run, or by an earlier settlement); nothing
    /// changed. A late `failed` after acceptance is answered this way.
    AlreadyDelivered {
        /// The receipt the claim holds.
        receipt: Receipt,
    },
    /// The key is free in this flow: never claimed (a key of another flow, or a record
    /// this flow never sent), or released after a known failure. Nothing changed.
    NothingToSettle,
}

impl Settled {
    /// The answer's name as in its JSON form: `delivered`, `failed`, `already_delivered`,
    /// `nothing_to_settle`.
    pub fn name(&self) -> &'static str {
        match self {
            Settled::Delivered { .. } => "delivered",
            Settled::Failed { .. } => "failed",
            Settled::AlreadyDelivered { .. } => "already_delivered",
            Settled::NothingToSettle => "nothing_to_settle",
        }
    }

    /// Whether the settlement changed the claim (in a dry run: would have changed it).
    pub fn changed(&self) -> bool {
        matches!(self, Settled::Delivered { .. } | Settled::Failed { .. })
    }

    /// The report line's outcome of a settlement that changed the claim. `attempts` is 1:
    /// the send the evidence is about; earlier attempts, if any, are not known here.
    fn outcome(&self) -> Option<Outcome> {
        match self {
            Settled::Delivered { receipt } => Some(Outcome::Delivered {
                receipt: receipt.clone(),
                attempts: 1,
            }),
            Settled::Failed { failure, retryable } => Some(Outcome::Failed {
                failure: failure.clone(),
                retryable: *retryable,
                attempts: 1,
            }),
            Settled::AlreadyDelivered { .. } | Settled::NothingToSettle => None,
        }
    }
}

/// What [`Flow::settle_all`] did: one answer per key, and the report it appended.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SettleReport {
    /// One answer per `(key, evidence)` pair, in the order given. A store error ends only
    /// its own pair; the pairs before it keep what they did.
    pub results: Vec<Result<Settled, StoreError>>,
    /// The report of the keys whose claim changed, as appended to the run history (its
    /// `warnings` say if it could not be stored); `None` when nothing changed. In a dry
    /// run it is marked [`dry_run`](RunReport::dry_run) and not stored.
    pub report: Option<RunReport>,
}

/// Claims a dry run's settlements would have written, so later evidence in the same call
/// sees them; nothing reaches the store.
type Simulated = HashMap<String, Option<Claim>>;

impl Flow {
    /// Settles the claim on `key` with `evidence` of how its send ended, and records the
    /// change in the run history.
    ///
    /// A claim stays in flight when the flow cannot tell how its send ended: the worker
    /// stopped between the HTTP call and recording the receipt, or the provider's answer
    /// could not be read ([`DeliveryError::provider_may_have_acted`]). Once its lease is
    /// over, later runs treat it as an unknown outcome ([`OnUnknown`](crate::OnUnknown)).
    /// Many providers say afterwards what became of a send, in a status webhook that echoes
    /// a correlation value (WhatsApp echoes the record key in `biz_opaque_callback_data`;
    /// `whatsapp::settle_statuses` turns its statuses into evidence). This records the
    /// outcome the flow could not:
    ///
    /// | claim of the key | [`Settlement::Delivered`] | [`Settlement::Failed`] |
    /// |---|---|---|
    /// | in flight (unknown, or not yet recorded) | completed with a receipt of the evidence: [`Settled::Delivered`] | released, so a replay sends again: [`Settled::Failed`] |
    /// | done | unchanged: [`Settled::AlreadyDelivered`] | unchanged: [`Settled::AlreadyDelivered`] |
    /// | free (never claimed, or released) | unchanged: [`Settled::NothingToSettle`] | unchanged: [`Settled::NothingToSettle`] |
    ///
    /// **Done is final**: evidence never undoes a delivery. A provider may report a message
    /// as accepted (`sent`) and later as `failed`. The first settles the claim as delivered,
    /// which is what a run that had read the answer would have recorded too (done means
    /// "the provider took it", not "the person read it"); the late failure is answered
    /// [`Settled::AlreadyDelivered`], for the host to see and decide on, as for any failure
    /// after acceptance. When the `failed` arrives first, the claim is released, and a
    /// `sent` after it finds nothing to settle.
    ///
    /// The claim is read again after the change, so the answer is what the store holds: if
    /// another attempt recorded its own receipt in the meantime, the answer is
    /// [`Settled::AlreadyDelivered`] with that receipt.
    ///
    /// **Recorded**: a settlement that changes a claim appends a [`RunReport`] to the run
    /// history, like a run ([`Flow::history`]), with one line per settled key (kind
    /// [`SETTLEMENT_KIND`]; [`Outcome::Delivered`] with the receipt, or [`Outcome::Failed`]
    /// with the reported error, stage `deliver`). Evidence that changes nothing (the usual
    /// `delivered` and `read` statuses of sends the flow did record) adds no history.
    ///
    /// In a dry run ([`Context::is_dry_run`]) the answer is what would happen, and nothing
    /// is written: no claim changes and no history.
    ///
    /// Errors are the store's; the history entry is best effort, as for runs (use
    /// [`settle_all`](Flow::settle_all) to see its warnings).
    ///
    /// ```
    /// use hubflow::{ClaimStore, Context, Flow, ManualClock, MemoryStore, Record, Settled, Settlement};
    /// use hubflow::http::RecordingClient;
    /// use hubflow::http_target::HttpTarget;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let flow = Flow::builder("notify")
    ///     .target(HttpTarget::new("https://ops.example.com/hook".parse().unwrap()))
    ///     .build()
    ///     .unwrap();
    /// let store = MemoryStore::new();
    /// let now = chrono::Utc::now();
    /// let ctx = Context::new(RecordingClient::new(), ManualClock::new(now), store.clone());
    /// // A worker claimed `wo:1` and stopped before recording how the send ended.
    /// store.claim("notify", "wo:1", now).await.unwrap();
    ///
    /// let evidence = Settlement::delivered("whatsapp", "wamid.HBgL", "delivered", None);
    /// let Settled::Delivered { receipt } = flow.settle(&ctx, "wo:1", evidence.clone()).await.unwrap() else {
    ///     panic!("an unknown outcome is settled");
    /// };
    /// assert_eq!(receipt.id.as_deref(), Some("wamid.HBgL"));
    /// assert_eq!(receipt.details["settled_by"], "status_webhook");
    /// // Done is final; a key this flow never claimed has nothing to settle.
    /// assert!(matches!(flow.settle(&ctx, "wo:1", evidence.clone()).await.unwrap(), Settled::AlreadyDelivered { .. }));
    /// assert_eq!(flow.settle(&ctx, "wo:2", evidence).await.unwrap(), Settled::NothingToSettle);
    /// // The settlement is in the history.
    /// let history = flow.history(&ctx, 10).await.unwrap();
    /// assert_eq!((history.len(), history[0].counts.delivered), (1, 1));
    /// # });
    /// ```
    pub async fn settle(
        &self,
        ctx: &Context,
        key: &str,
        evidence: Settlement,
    ) -> Result<Settled, StoreError> {
        let started = ctx.clock().now();
        let mut simulated = Simulated::new();
        let settled = self.settle_key(ctx, key, evidence, &mut simulated).await?;
        let line = self.line(ctx, key, &settled, started);
        self.record(ctx, started, line.into_iter().collect()).await;
        Ok(settled)
    }

    /// Settles many keys at once, in order, with one history entry for all the claims that
    /// changed: what a webhook carrying many statuses needs. A key given twice sees the
    /// first settlement (a `sent` then a `delivered` of one message: delivered, then
    /// already delivered). The rules are [`settle`](Flow::settle)'s.
    ///
    /// ```
    /// use hubflow::{ClaimStore, Context, Flow, ManualClock, MemoryStore, ReportedFailure, Settled, Settlement};
    /// use hubflow::http::RecordingClient;
    /// use hubflow::http_target::HttpTarget;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let flow = Flow::builder("notify")
    ///     .target(HttpTarget::new("https://ops.example.com/hook".parse().unwrap()))
    ///     .build()
    ///     .unwrap();
    /// let store = MemoryStore::new();
    /// let now = chrono::Utc::now();
    /// let ctx = Context::new(RecordingClient::new(), ManualClock::new(now), store.clone());
    /// store.claim("notify", "wo:1", now).await.unwrap();
    ///
    /// let settled = flow.settle_all(&ctx, vec![
    ///     ("wo:1".to_owned(), Settlement::failed(ReportedFailure::new("whatsapp", "Message undeliverable").with_code("131026"))),
    ///     ("wo:1".to_owned(), Settlement::delivered("whatsapp", "wamid.HBgL", "sent", None)),
    /// ]).await;
    /// assert!(matches!(settled.results[0], Ok(Settled::Failed { retryable: false, .. })));
    /// // Released: the late `sent` finds nothing to settle.
    /// assert!(matches!(settled.results[1], Ok(Settled::NothingToSettle)));
    /// assert_eq!(store.peek_claim("notify", "wo:1").await.unwrap(), None);
    /// assert_eq!(settled.report.unwrap().counts.failed, 1);
    /// # });
    /// ```
    pub async fn settle_all(
        &self,
        ctx: &Context,
        items: Vec<(String, Settlement)>,
    ) -> SettleReport {
        let started = ctx.clock().now();
        let mut simulated = Simulated::new();
        let mut results = Vec::with_capacity(items.len());
        let mut lines = Vec::new();
        for (key, evidence) in items {
            let began = ctx.clock().now();
            let result = self.settle_key(ctx, &key, evidence, &mut simulated).await;
            if let Ok(settled) = &result {
                lines.extend(self.line(ctx, &key, settled, began));
            }
            results.push(result);
        }
        SettleReport {
            results,
            report: self.record(ctx, started, lines).await,
        }
    }

    /// Settles one key. In a dry run the claim is read from `simulated` when an earlier
    /// settlement of the same call would have changed it, and changes go there only.
    async fn settle_key(
        &self,
        ctx: &Context,
        key: &str,
        evidence: Settlement,
        simulated: &mut Simulated,
    ) -> Result<Settled, StoreError> {
        let flow = self.inner.id.as_str();
        let dry = ctx.is_dry_run();
        let state = match simulated.get(key) {
            Some(state) => state.clone(),
            None => ctx.claims().peek_claim(flow, key).await?,
        };
        match state {
            None => return Ok(Settled::NothingToSettle),
            Some(Claim::Done { receipt }) => return Ok(Settled::AlreadyDelivered { receipt }),
            Some(Claim::InFlight { .. }) => {}
            Some(Claim::Acquired) => return Err(broken_peek(flow, key, "acquired")),
        }
        match evidence {
            Settlement::Delivered {
                provider,
                id,
                status,
                at,
            } => {
                let receipt = settled_receipt(&provider, id, &status, at);
                if dry {
                    let done = Claim::Done {
                        receipt: receipt.clone(),
                    };
                    simulated.insert(key.to_owned(), Some(done));
                    return Ok(Settled::Delivered { receipt });
                }
                ctx.claims().complete(flow, key, &receipt).await?;
                // `complete` keeps the first receipt: if another attempt recorded its own
                // between the read and the write, that one is what the key holds.
                match ctx.claims().peek_claim(flow, key).await? {
                    Some(Claim::Done { receipt: stored }) if stored == receipt => {
                        Ok(Settled::Delivered { receipt })
                    }
                    Some(Claim::Done { receipt: stored }) => {
                        Ok(Settled::AlreadyDelivered { receipt: stored })
                    }
                    Some(_) => Err(broken_peek(flow, key, "not done after complete")),
                    None => Err(broken_peek(flow, key, "free after complete")),
                }
            }
            Settlement::Failed(reported) => {
                let failure = Failure::from_delivery(Stage::Deliver, DeliveryError::from(reported));
                let retryable = failure.class.is_retryable();
                if dry {
                    simulated.insert(key.to_owned(), None);
                    return Ok(Settled::Failed { failure, retryable });
                }
                ctx.claims().release(flow, key).await?;
                // `release` leaves a done key done: if the send was recorded in the
                // meantime, the delivery stands. A key in flight again was claimed anew
                // after the release, by a later attempt.
                match ctx.claims().peek_claim(flow, key).await? {
                    Some(Claim::Done { receipt }) => Ok(Settled::AlreadyDelivered { receipt }),
                    _ => Ok(Settled::Failed { failure, retryable }),
                }
            }
        }
    }

    /// The report line of a settlement that changed (or in a dry run would change) a claim.
    fn line(
        &self,
        ctx: &Context,
        key: &str,
        settled: &Settled,
        began: DateTime<Utc>,
    ) -> Option<RecordOutcome> {
        Some(RecordOutcome {
            key: key.to_owned(),
            kind: SETTLEMENT_KIND.to_owned(),
            outcome: settled.outcome()?,
            duration_ms: report::millis(ctx.clock().now() - began),
            warning: None,
            // The record was not given, only its key: the earlier run's dead letter is the
            // record to replay.
            record: None,
        })
    }

    /// Appends the report of the changed claims to the history (not in a dry run).
    async fn record(
        &self,
        ctx: &Context,
        started: DateTime<Utc>,
        lines: Vec<RecordOutcome>,
    ) -> Option<RunReport> {
        if lines.is_empty() {
            return None;
        }
        let mut report = RunReport::new(&self.inner.id, started, ctx.clock().now(), lines);
        if ctx.is_dry_run() {
            report.dry_run = true;
        } else {
            self.record_history(ctx, &mut report).await;
        }
        Some(report)
    }
}

/// The receipt a delivered settlement records: the provider's id, no HTTP status (no
/// answer to a request carried it), and where it came from.
fn settled_receipt(provider: &str, id: String, status: &str, at: Option<DateTime<Utc>>) -> Receipt {
    let mut details = Map::new();
    details.insert("settled_by".to_owned(), json!(SETTLED_BY));
    details.insert("provider".to_owned(), json!(provider));
    details.insert("status".to_owned(), json!(status));
    if let Some(at) = at {
        details.insert("reported_at".to_owned(), json!(at));
    }
    Receipt {
        id: Some(id),
        status: None,
        details: Value::Object(details),
    }
}

/// A store whose `peek_claim` breaks the claim rules.
fn broken_peek(flow: &str, key: &str, what: &str) -> StoreError {
    StoreError::corrupt(format!(
        "the claim on key `{key}` of flow `{flow}` reads as {what}, which the claim rules rule out"
    ))
}

#[cfg(test)]
mod tests;
