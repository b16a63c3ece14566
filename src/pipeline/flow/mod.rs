//! The flow: a record's path from condition through mapper and target to an outcome.

use std::fmt;
use std::sync::Arc;

use futures_util::stream::{self, BoxStream, Stream, StreamExt};
use serde::Serialize;

use crate::lookup::{self, Lookup, LookupError, LookupResult};
use crate::mapper::Passthrough;
use crate::retry::jitter;
use crate::{
    Batch, Claim, Condition, Context, Cursor, DeliveryError, DynTarget, MapError, Mapper,
    PreparedAction, RateLimiter, Record, RetryDecision, Rule, Source, SourceError, SpecError,
    SpecErrors, StoreError, Target, TargetError, Trigger,
};

mod dry_run;
mod policy;
mod report;
mod run_stream;
pub(crate) mod settle;
mod tally;

pub use dry_run::{DryRun, DryRunRecord, StoreWrite};
pub use policy::{DeadLetters, DeliveryPolicy, OnUnknown, ReportLines, ReportPolicy, PRUNE_EVERY};
pub use report::{Counts, Failure, Outcome, RecordOutcome, RunReport, Stage, Timings};
pub use run_stream::RunStream;

/// An integration flow as a value: trigger, optional source, condition, mapper, target and
/// delivery policy.
///
/// A `Flow` is immutable, `Clone + Send + Sync`, spawns nothing and reads no environment:
/// the host calls it from whatever executor it has, and many workers may share one. The
/// only state it carries is the pacing of its rate limit, shared by its clones so that the
/// limit holds across them.
///
/// ```
/// use hubflow::{Context, Flow, ManualClock, MemoryStore, Outcome, Record, Rule};
/// use hubflow::http::RecordingClient;
/// use hubflow::http_target::HttpTarget;
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let flow = Flow::builder("notify-ops")
///     .when(Rule::parse(&json!({"field": "priority", "op": "eq", "value": "high"})).unwrap())
///     .target(HttpTarget::new("https://ops.example.com/hook".parse().unwrap()))
///     .build()
///     .unwrap();
///
/// let http = RecordingClient::new();
/// let ctx = Context::new(http.clone(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
/// let report = flow
///     .process(&ctx, vec![
///         Record::new("a", "ticket", json!({"priority": "high"})),
///         Record::new("b", "ticket", json!({"priority": "low"})),
///     ])
///     .await;
/// assert_eq!(report.counts.delivered, 1);
/// assert!(matches!(report.records[1].outcome, Outcome::Skipped { .. }));
/// assert_eq!(http.requests().len(), 1);
/// # });
/// ```
#[derive(Clone)]
pub struct Flow {
    inner: Arc<FlowInner>,
}

struct FlowInner {
    id: String,
    trigger: Trigger,
    source: Option<Arc<dyn Source>>,
    condition: Arc<dyn Condition>,
    condition_text: String,
    lookups: Vec<Lookup>,
    mapper: Arc<dyn Mapper>,
    target: DynTarget,
    /// The target's kind, when the flow was built from a spec (else its type's name).
    target_kind: String,
    delivery: DeliveryPolicy,
    report: ReportPolicy,
    /// History entries this flow and its clones appended, for pruning every few.
    appended: std::sync::atomic::AtomicU64,
    pacer: Option<RateLimiter>,
}

/// What a claim on a record key answered.
type ClaimAnswer = Result<Claim, StoreError>;

/// Who is told each record's line as it ends ([`Flow::process_observed`]).
type Observer<'a> = Option<&'a (dyn Fn(&RecordOutcome) + Send + Sync)>;

/// A record at its index in the run, planned, with its batch claim's answer.
type Claimed = (usize, Planned, Option<ClaimAnswer>);

/// Where [`Flow::process_pages`] reads further pages, and the cursor lease it saves them
/// under (its holder and the version it showed); without a lease nothing is saved.
#[derive(Clone, Copy)]
struct Pages<'a> {
    source: &'a dyn Source,
    lease: Option<(&'a str, u64)>,
}

/// A record with its plan, on its way to delivery.
struct Planned {
    /// The record, with what its lookups found.
    record: Record,
    plan: Result<Plan, PlanError>,
    started: chrono::DateTime<chrono::Utc>,
    /// What each lookup found, in order.
    lookups: Vec<LookupResult>,
}

impl Planned {
    /// Whether the record would be sent, and so needs a claim.
    fn sends(&self) -> bool {
        matches!(self.plan, Ok(Plan::Send(_)))
    }
}

/// What a flow would do with a record: decided without sending anything, by the condition,
/// the lookups, the mapper and the target's `prepare`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Plan {
    /// The condition does not hold, or a lookup found nobody ([`OnMissing::Skip`](
    /// crate::OnMissing::Skip)): nothing would be sent.
    Skip(String),
    /// The target would execute this action: its serialized form is exactly what delivering
    /// does (see [`Target`]). Decisions that need state are shown as their alternatives; a
    /// dry run ([`Flow::dry_run`]) shows which one a delivery takes.
    Send(PreparedAction),
}

/// Why a record cannot be planned: it fails before anything is sent.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PlanError {
    /// The record is a body its webhook source could not read
    /// ([`Unreadable`](crate::Unreadable)): every flow fails it, before its condition, so
    /// it is kept as a dead letter.
    #[error(transparent)]
    Unreadable(Box<crate::Unreadable>),
    /// A lookup found no entry under [`OnMissing::Fail`](crate::OnMissing::Fail), or its
    /// directory did not answer.
    #[error(transparent)]
    Lookup(#[from] LookupError),
    /// The mapper failed.
    #[error("mapping failed: {0}")]
    Map(#[from] MapError),
    /// The target rejected the payload.
    #[error("target rejected the payload: {0}")]
    Prepare(#[from] TargetError),
}

/// Why [`Flow::run`] could not poll.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// The flow has no pull source; use [`Flow::process`] with pushed records.
    #[error("flow `{0}` has no source to poll")]
    NoSource(String),
    /// The source failed; nothing entered the flow and the cursor did not move.
    #[error("polling the source failed: {0}")]
    Source(#[from] SourceError),
    /// Another poller holds the flow's cursor lease: it is running the flow right now, or
    /// stopped less than a lease ago. Nothing was polled; try at the next trigger.
    #[error("flow `{0}` is being run by another poller (its cursor lease is held)")]
    Busy(String),
}

impl Flow {
    /// Starts building a flow with this id. The id scopes the flow's claims and cursor in
    /// the store, so keep it stable across deployments.
    pub fn builder(id: impl Into<String>) -> FlowBuilder {
        FlowBuilder {
            id: id.into(),
            trigger: Trigger::Manual,
            source: None,
            condition: None,
            lookups: Vec::new(),
            mapper: None,
            target: None,
            target_kind: None,
            delivery: DeliveryPolicy::default(),
            report: ReportPolicy::default(),
        }
    }

    /// The flow's id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    /// When the host should run the flow.
    pub fn trigger(&self) -> &Trigger {
        &self.inner.trigger
    }

    /// Whether the flow has a pull source, i.e. whether [`Flow::run`] has anything to poll.
    pub fn has_source(&self) -> bool {
        self.inner.source.is_some()
    }

    /// The delivery policy.
    pub fn delivery(&self) -> &DeliveryPolicy {
        &self.inner.delivery
    }

    /// What the flow's reports keep.
    pub fn report_policy(&self) -> &ReportPolicy {
        &self.inner.report
    }

    /// The target's kind (`whatsapp.template`) for a flow built from a spec, else the
    /// target type's name.
    pub fn target_kind(&self) -> &str {
        &self.inner.target_kind
    }

    /// The flow's lookups, in the order they run.
    pub fn lookups(&self) -> &[Lookup] {
        &self.inner.lookups
    }

    /// What the flow would do with `record`, sending nothing: the condition, the lookups
    /// (through `ctx`, and its cache), the mapper and the target's `prepare`. Without
    /// lookups it does no I/O at all. The action shows what the lookups found (the phone a
    /// lookup resolved is the action's recipient); a [dry run](Flow::dry_run) also lists
    /// them one by one.
    ///
    /// ```
    /// use hubflow::{Context, Flow, ManualClock, MemoryStore, Plan, Record, Rule};
    /// use hubflow::http::RecordingClient;
    /// use hubflow::http_target::HttpTarget;
    /// use serde_json::json;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let flow = Flow::builder("notify-ops")
    ///     .when(Rule::parse(&json!({"field": "priority", "op": "eq", "value": "high"})).unwrap())
    ///     .target(HttpTarget::new("https://ops.example.com/hook".parse().unwrap()))
    ///     .build()
    ///     .unwrap();
    /// let ctx = Context::new(RecordingClient::new(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
    /// let low = Record::new("b", "ticket", json!({"priority": "low"}));
    /// assert_eq!(
    ///     flow.plan(&ctx, &low).await.unwrap(),
    ///     Plan::Skip("condition not met: priority is \"low\", expected eq \"high\"".into())
    /// );
    /// # });
    /// ```
    pub async fn plan(&self, ctx: &Context, record: &Record) -> Result<Plan, PlanError> {
        if self.inner.lookups.is_empty() {
            return self.plan_without_lookups(record);
        }
        let mut record = record.clone();
        self.plan_into(ctx, &mut record, &mut Vec::new()).await
    }

    /// The condition's skip reason for `record`, if it does not hold.
    fn skip_reason(&self, record: &Record) -> Option<String> {
        if self.inner.condition.evaluate(record) {
            return None;
        }
        let why = self
            .inner
            .condition
            .explain(record)
            .unwrap_or_else(|| self.inner.condition_text.clone());
        Some(format!("condition not met: {why}"))
    }

    /// The mapper and the target's `prepare`.
    fn shape(&self, record: &Record) -> Result<Plan, PlanError> {
        let payload = self.inner.mapper.map(record)?;
        Ok(Plan::Send(self.inner.target.prepare(record, &payload)?))
    }

    /// The plan of a flow without lookups: pure.
    fn plan_without_lookups(&self, record: &Record) -> Result<Plan, PlanError> {
        unreadable(record)?;
        if let Some(reason) = self.skip_reason(record) {
            return Ok(Plan::Skip(reason));
        }
        self.shape(record)
    }

    /// The plan, with the lookups' entries put into `record` and their results in `results`.
    async fn plan_into(
        &self,
        ctx: &Context,
        record: &mut Record,
        results: &mut Vec<LookupResult>,
    ) -> Result<Plan, PlanError> {
        unreadable(record)?;
        if let Some(reason) = self.skip_reason(record) {
            return Ok(Plan::Skip(reason));
        }
        if !self.inner.lookups.is_empty() {
            let ctx = ctx.for_lookups();
            let retry = &self.inner.delivery.retry;
            if let Some(reason) =
                lookup::enrich(&self.inner.lookups, &ctx, record, retry, results).await?
            {
                return Ok(Plan::Skip(reason));
            }
        }
        self.shape(record)
    }

    /// Delivers records pushed by a webhook or handed over by the host, and reports what
    /// happened to each. Never fails as a whole: every record ends in its own [`Outcome`].
    /// The report is also appended to the run history ([`Context::history`]); read it back
    /// with [`Flow::history`].
    pub async fn process(&self, ctx: &Context, records: Vec<Record>) -> RunReport {
        let mut report = self.process_unrecorded(ctx, records).await;
        self.record_history(ctx, &mut report).await;
        report
    }

    /// [`Flow::process`], telling `observer` each record's line as soon as the record
    /// ends (in the order records end, which with several in flight is not their input
    /// order; the report is in input order): for showing progress on a long run. The
    /// observer runs on the flow's task and should return quickly.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use hubflow::http::RecordingClient;
    /// use hubflow::http_target::HttpTarget;
    /// use hubflow::{Context, Flow, ManualClock, MemoryStore, Record, RecordOutcome};
    /// use serde_json::json;
    ///
    /// let flow = Flow::builder("backfill")
    ///     .target(HttpTarget::new("https://erp.example.com/hooks".parse().unwrap()))
    ///     .build()
    ///     .unwrap();
    /// let ctx = Context::new(RecordingClient::new(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
    /// let done = AtomicUsize::new(0);
    /// let progress = |line: &RecordOutcome| {
    ///     let n = done.fetch_add(1, Ordering::Relaxed) + 1;
    ///     eprintln!("{n}/3 {} {}", line.key, line.outcome.name());
    /// };
    /// let records = (1..=3).map(|i| Record::new(format!("r{i}"), "row", json!({}))).collect();
    /// let report = flow.process_observed(&ctx, records, &progress).await;
    /// assert_eq!(done.load(Ordering::Relaxed), 3);
    /// assert_eq!(report.counts.delivered, 3);
    /// # });
    /// ```
    pub async fn process_observed(
        &self,
        ctx: &Context,
        records: Vec<Record>,
        observer: &(dyn Fn(&RecordOutcome) + Send + Sync),
    ) -> RunReport {
        let mut report = self.process_lines(ctx, records, Some(observer)).await;
        self.record_history(ctx, &mut report).await;
        report
    }

    /// [`Flow::process`] without appending the report to the run history.
    pub(crate) async fn process_unrecorded(
        &self,
        ctx: &Context,
        records: Vec<Record>,
    ) -> RunReport {
        self.process_lines(ctx, records, None).await
    }

    async fn process_lines(
        &self,
        ctx: &Context,
        records: Vec<Record>,
        observer: Observer<'_>,
    ) -> RunReport {
        let span =
            crate::trace::Span::run(&self.inner.id, self.inner.trigger.name(), records.len());
        let report = span
            .wrap(self.process_in_span(ctx, records, observer))
            .await;
        span.counts(&report.counts);
        report
    }

    async fn process_in_span(
        &self,
        ctx: &Context,
        records: Vec<Record>,
        observer: Observer<'_>,
    ) -> RunReport {
        let started = ctx.clock().now();
        let mut tally = tally::Tally::new(self.inner.report.lines);
        self.tally_lines(ctx, records, 0, &mut tally, observer)
            .await;
        tally.into_report(&self.inner.id, started, ctx.clock().now())
    }

    /// Runs `records` through the engine, adding each line to `tally` at its position in
    /// the run (`offset` + its position in `records`).
    async fn tally_lines(
        &self,
        ctx: &Context,
        records: Vec<Record>,
        offset: usize,
        tally: &mut tally::Tally,
        observer: Observer<'_>,
    ) {
        let mut lines = self.lines(ctx, stream::iter(records));
        while let Some((index, line)) = lines.next().await {
            if let Some(observe) = observer {
                observe(&line);
            }
            tally.add(offset + index, line);
        }
    }

    /// Every record's line as the record ends, with its position in `records`: the one
    /// engine behind [`Flow::process`] and [`Flow::process_stream`]. At most
    /// `max_in_flight` records are between their plan and their line at once, and the
    /// stream reads `records` only as fast as they end, so a run holds no more than that
    /// many records whatever the length of its input.
    ///
    /// With `claim_batch` 1 each record claims its key right before it is sent,
    /// concurrently with the others: the narrowest window between a claim and its send.
    /// With more, the records that are ready are planned and their keys claimed a batch
    /// at a time, one store round trip each; the next batch is claimed when the previous
    /// one has entered delivery, while its records are still being delivered.
    fn lines<'a>(
        &'a self,
        ctx: &'a Context,
        records: impl Stream<Item = Record> + Send + 'a,
    ) -> BoxStream<'a, (usize, RecordOutcome)> {
        let in_flight = self.inner.delivery.max_in_flight.max(1);
        let batch = self.inner.delivery.claim_batch.clamp(1, in_flight);
        let records = records.enumerate();
        if batch == 1 {
            return records
                .map(move |(index, record)| async move {
                    let planned = self.planned(ctx, record).await;
                    (index, self.finish(ctx, planned, None).await)
                })
                .buffer_unordered(in_flight)
                .boxed();
        }
        records
            .ready_chunks(batch)
            .then(move |chunk| self.plan_and_claim(ctx, chunk))
            .flat_map(stream::iter)
            .map(move |(index, planned, claim)| async move {
                (index, self.finish(ctx, planned, claim).await)
            })
            .buffer_unordered(in_flight)
            .boxed()
    }

    /// Plans a chunk's records (their lookups concurrently) and claims their keys.
    async fn plan_and_claim(&self, ctx: &Context, chunk: Vec<(usize, Record)>) -> Vec<Claimed> {
        let planned: Vec<(usize, Planned)> = if self.inner.lookups.is_empty() {
            chunk
                .into_iter()
                .map(|(index, record)| (index, self.planned_without_lookups(ctx, record)))
                .collect()
        } else {
            futures_util::future::join_all(
                chunk
                    .into_iter()
                    .map(|(index, record)| async move { (index, self.planned(ctx, record).await) }),
            )
            .await
        };
        self.claim_chunk(ctx, planned).await
    }

    /// Claims the keys of a chunk's records that would be sent, in one
    /// [`ClaimStore::claim_batch`](crate::ClaimStore::claim_batch) call.
    async fn claim_chunk(&self, ctx: &Context, chunk: Vec<(usize, Planned)>) -> Vec<Claimed> {
        let keys: Vec<&str> = chunk
            .iter()
            .filter(|(_, planned)| planned.sends())
            .map(|(_, planned)| planned.record.key.as_str())
            .collect();
        let answers = if keys.is_empty() {
            Ok(Vec::new())
        } else {
            ctx.claims()
                .claim_batch(&self.inner.id, &keys, ctx.clock().now())
                .await
        };
        let mut answers = match answers {
            Ok(claims) if claims.len() == keys.len() => claims.into_iter().map(Ok).collect(),
            Ok(claims) => {
                let wrong = StoreError::corrupt(format!(
                    "a claim batch of {} keys answered {} claims",
                    keys.len(),
                    claims.len()
                ));
                vec![Err(wrong); keys.len()]
            }
            Err(e) => vec![Err(e); keys.len()],
        }
        .into_iter();
        chunk
            .into_iter()
            .map(|(index, planned)| {
                let claim = if planned.sends() {
                    answers.next()
                } else {
                    None
                };
                (index, planned, claim)
            })
            .collect()
    }

    /// Polls the source from the stored cursor, processes the batch, then saves the next
    /// cursor. Records that failed are in the report's dead letters; the cursor moves past
    /// them so that one bad record cannot stop the flow.
    ///
    /// One poller at a time: the run first leases the flow's cursor
    /// ([`CursorStore::lease_cursor`](crate::CursorStore::lease_cursor), for the delivery
    /// policy's `claim_lease`) and fails with [`RunError::Busy`] while another holds it. The
    /// next cursor is saved with compare-and-set against the version the lease showed; when
    /// that fails (the lease ran out and another poller took over, or saved first) the report
    /// says so in a warning and the next run repeats the batch, whose delivered records are
    /// then duplicates. The lease is released at the end. The report, warnings included, is
    /// appended to the run history.
    pub async fn run(&self, ctx: &Context) -> Result<RunReport, RunError> {
        let source = self
            .inner
            .source
            .as_ref()
            .ok_or_else(|| RunError::NoSource(self.inner.id.clone()))?;
        let flow = self.inner.id.as_str();
        let holder = ctx.next_lease_holder();
        let lease = ctx
            .cursors()
            .lease_cursor(
                flow,
                &holder,
                ctx.clock().now(),
                self.inner.delivery.claim_lease,
            )
            .await
            .map_err(SourceError::from)?
            .ok_or_else(|| RunError::Busy(self.inner.id.clone()))?;
        let first = match source.poll(ctx, lease.cursor.as_ref()).await {
            Ok(batch) => batch,
            Err(e) => {
                // Best effort: a lease left behind only delays the next run until it ends.
                let _ = ctx.cursors().release_cursor(flow, &holder).await;
                return Err(e.into());
            }
        };
        let span = crate::trace::Span::run(flow, self.inner.trigger.name(), first.records.len());
        let pages = Pages {
            source: source.as_ref(),
            lease: Some((holder.as_str(), lease.version)),
        };
        let mut report = span.wrap(self.process_pages(ctx, first, pages)).await;
        span.counts(&report.counts);
        if let Err(e) = ctx.cursors().release_cursor(flow, &holder).await {
            report.warnings.push(format!(
                "the cursor lease was not released; the next run waits until it ends at {}: {e}",
                lease.expires_at
            ));
        }
        self.record_history(ctx, &mut report).await;
        Ok(report)
    }

    /// Processes `first` and, while a page says there is [`more`](Batch::more), polls
    /// the next one and processes it too, one page in memory at a time. With a lease,
    /// each page's cursor is saved (compare-and-set) once its records have ended and the
    /// lease renewed before the next poll; a cursor that cannot be saved, a lease that
    /// cannot be renewed or a page that cannot be read stops the run there with a warning,
    /// and the next run goes on from the last cursor saved.
    async fn process_pages(&self, ctx: &Context, first: Batch, pages: Pages<'_>) -> RunReport {
        let flow = self.inner.id.as_str();
        let started = ctx.clock().now();
        let mut tally = tally::Tally::new(self.inner.report.lines);
        let mut warnings = Vec::new();
        // The lease's holder and the cursor's version it holds, moved on by each save.
        let mut lease = pages.lease;
        let mut offset = 0;
        let mut batch = first;
        for page in 1.. {
            let more = batch.more && batch.next_cursor.is_some();
            let count = batch.records.len();
            self.tally_lines(ctx, batch.records, offset, &mut tally, None)
                .await;
            offset += count;
            let cursor = batch.next_cursor;
            if let (Some((holder, version)), Some(next)) = (lease.as_mut(), cursor.as_ref()) {
                match ctx
                    .cursors()
                    .save_cursor(flow, holder, *version, next)
                    .await
                {
                    Ok(true) => *version += 1,
                    Ok(false) => {
                        warnings.push(
                            "the cursor was not saved: the lease ran out and another poller took \
                             over or saved first; the next run repeats this batch"
                                .to_owned(),
                        );
                        break;
                    }
                    Err(e) => {
                        warnings.push(format!(
                            "the cursor was not saved; the next run repeats this batch: {e}"
                        ));
                        break;
                    }
                }
            }
            if !more {
                break;
            }
            if let Some((holder, version)) = lease.as_mut() {
                let renewed = ctx
                    .cursors()
                    .lease_cursor(
                        flow,
                        holder,
                        ctx.clock().now(),
                        self.inner.delivery.claim_lease,
                    )
                    .await;
                match renewed {
                    Ok(Some(renewed)) => *version = renewed.version,
                    Ok(None) => {
                        warnings.push(format!(
                            "stopped after page {page}: another poller holds the cursor's lease; \
                             the next run goes on from the cursor saved"
                        ));
                        break;
                    }
                    Err(e) => {
                        warnings.push(format!(
                            "stopped after page {page}: the cursor's lease could not be renewed; \
                             the next run goes on from the cursor saved: {e}"
                        ));
                        break;
                    }
                }
            }
            batch = match pages.source.poll(ctx, cursor.as_ref()).await {
                Ok(next) => next,
                Err(e) => {
                    warnings.push(format!(
                        "stopped after page {page}: the next page could not be read; the next \
                         run goes on from the cursor saved: {e}"
                    ));
                    break;
                }
            };
        }
        let mut report = tally.into_report(flow, started, ctx.clock().now());
        report.warnings = warnings;
        report
    }

    /// Polls the source from `from` (`None`: where the source starts without a cursor) and
    /// processes the batch, without taking the cursor lease or saving a cursor: for an
    /// operator replaying a window after an incident, or a host recovering from a lost
    /// cursor.
    ///
    /// Records delivered before are duplicates (the claims decide, not the cursor), so a
    /// replay sends only what was never delivered. The report is appended to the run
    /// history like any run's.
    ///
    /// ```
    /// use hubflow::{Batch, Context, Cursor, Flow, ManualClock, MemoryStore, Record, Source, SourceError};
    /// use hubflow::http::RecordingClient;
    /// use hubflow::http_target::HttpTarget;
    ///
    /// struct TwoOrders;
    ///
    /// #[async_trait::async_trait]
    /// impl Source for TwoOrders {
    ///     async fn poll(&self, _: &Context, _: Option<&Cursor>) -> Result<Batch, SourceError> {
    ///         let order = |key: &str| Record::new(key, "order", serde_json::json!({}));
    ///         Ok(Batch::new(vec![order("o1"), order("o2")], None))
    ///     }
    /// }
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let flow = Flow::builder("orders")
    ///     .source(TwoOrders)
    ///     .target(HttpTarget::new("https://ops.example.com/hook".parse().unwrap()))
    ///     .build()
    ///     .unwrap();
    /// let ctx = Context::new(RecordingClient::new(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
    /// assert_eq!(flow.run(&ctx).await.unwrap().counts.delivered, 2);
    /// let replay = flow.replay(&ctx, None).await.unwrap();
    /// assert_eq!((replay.counts.delivered, replay.counts.duplicate), (0, 2));
    /// # });
    /// ```
    pub async fn replay(
        &self,
        ctx: &Context,
        from: Option<&Cursor>,
    ) -> Result<RunReport, RunError> {
        let source = self
            .inner
            .source
            .as_ref()
            .ok_or_else(|| RunError::NoSource(self.inner.id.clone()))?;
        let first = source.poll(ctx, from).await?;
        let span = crate::trace::Span::run(
            &self.inner.id,
            self.inner.trigger.name(),
            first.records.len(),
        );
        let pages = Pages {
            source: source.as_ref(),
            lease: None,
        };
        let mut report = span.wrap(self.process_pages(ctx, first, pages)).await;
        span.counts(&report.counts);
        self.record_history(ctx, &mut report).await;
        Ok(report)
    }

    /// The flow's last `n` runs from the run history ([`Context::history`]), newest first.
    ///
    /// ```
    /// use hubflow::{Context, Flow, ManualClock, MemoryStore, Record};
    /// use hubflow::http::RecordingClient;
    /// use hubflow::http_target::HttpTarget;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let flow = Flow::builder("notify")
    ///     .target(HttpTarget::new("https://ops.example.com/hook".parse().unwrap()))
    ///     .build()
    ///     .unwrap();
    /// let ctx = Context::new(RecordingClient::new(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
    /// let first = flow.process(&ctx, vec![Record::new("a", "x", serde_json::json!({}))]).await;
    /// let second = flow.process(&ctx, vec![]).await;
    /// assert_eq!(flow.history(&ctx, 10).await.unwrap(), vec![second, first]);
    /// # });
    /// ```
    pub async fn history(&self, ctx: &Context, n: usize) -> Result<Vec<RunReport>, StoreError> {
        ctx.history()
            .recent_history(&self.inner.id, n)
            .await?
            .iter()
            .map(|entry| {
                RunReport::from_entry(entry).map_err(|e| {
                    StoreError::corrupt(format!(
                        "a run of flow `{}` in the history is not a run report",
                        self.inner.id
                    ))
                    .with_source(e)
                })
            })
            .collect()
    }

    /// Plans a record, its lookups included, noting when its processing started.
    async fn planned(&self, ctx: &Context, mut record: Record) -> Planned {
        if self.inner.lookups.is_empty() {
            return self.planned_without_lookups(ctx, record);
        }
        let started = ctx.clock().now();
        let mut lookups = Vec::new();
        let plan = self.plan_into(ctx, &mut record, &mut lookups).await;
        Planned {
            record,
            plan,
            started,
            lookups,
        }
    }

    /// [`Flow::planned`] for a flow without lookups: no future to wait for.
    fn planned_without_lookups(&self, ctx: &Context, record: Record) -> Planned {
        Planned {
            started: ctx.clock().now(),
            plan: self.plan_without_lookups(&record),
            record,
            lookups: Vec::new(),
        }
    }

    /// Delivers a planned record and reports its outcome. `claim` is the answer of a batch
    /// claim taken for it already; `None` claims now.
    async fn finish(
        &self,
        ctx: &Context,
        planned: Planned,
        claim: Option<ClaimAnswer>,
    ) -> RecordOutcome {
        let span =
            crate::trace::Span::record(&self.inner.id, &planned.record.key, &planned.record.kind);
        let line = span.wrap(self.finish_in_span(ctx, planned, claim)).await;
        span.outcome(&line.outcome);
        line
    }

    async fn finish_in_span(
        &self,
        ctx: &Context,
        planned: Planned,
        claim: Option<ClaimAnswer>,
    ) -> RecordOutcome {
        let Planned {
            record,
            plan,
            started,
            lookups: _,
        } = planned;
        let mut warning = None;
        let outcome = match plan {
            Ok(Plan::Skip(reason)) => Outcome::Skipped { reason },
            Ok(Plan::Send(action)) => {
                self.deliver(ctx, &record, &action, claim, &mut warning)
                    .await
            }
            Err(PlanError::Unreadable(e)) => failed(Failure::from_unreadable(&e), 0),
            Err(PlanError::Lookup(e)) => failed(Failure::from_lookup(&e), 0),
            Err(PlanError::Map(e)) => failed(Failure::from_map(&e), 0),
            Err(PlanError::Prepare(e)) => failed(Failure::from_prepare(&e), 0),
        };
        let private = self.inner.report.dead_letters == DeadLetters::KeyOnly;
        let keep = matches!(outcome, Outcome::Failed { .. }) && !private;
        let outcome = if private {
            outcome.withhold_data()
        } else {
            outcome
        };
        let duration_ms = report::millis(ctx.clock().now() - started);
        let (key, kind, record) = if keep {
            (record.key.clone(), record.kind.clone(), Some(record))
        } else {
            // The record is not kept: its key and kind move into the line.
            (record.key, record.kind, None)
        };
        RecordOutcome {
            key,
            kind,
            outcome,
            duration_ms,
            warning,
            record,
        }
    }

    /// Claims the key (unless a batch claimed it already), sends with retries, and settles
    /// the claim.
    async fn deliver(
        &self,
        ctx: &Context,
        record: &Record,
        action: &PreparedAction,
        claim: Option<ClaimAnswer>,
        warning: &mut Option<String>,
    ) -> Outcome {
        let key = record.key.as_str();
        let flow = self.inner.id.as_str();
        let claim = match claim {
            Some(answer) => answer,
            None => ctx.claims().claim(flow, key, ctx.clock().now()).await,
        };
        let now = ctx.clock().now();
        match claim {
            Err(e) => {
                return failed(
                    Failure::from_delivery(Stage::Claim, DeliveryError::Store(e)),
                    0,
                )
            }
            Ok(Claim::Done { receipt }) => {
                return Outcome::Duplicate {
                    reason: "already delivered".to_owned(),
                    receipt: Some(receipt),
                };
            }
            Ok(Claim::InFlight { since }) => {
                let lease_over = crate::clock::add(since, self.inner.delivery.claim_lease) <= now;
                if !lease_over {
                    return Outcome::Duplicate {
                        reason: format!("being delivered by another attempt since {since}"),
                        receipt: None,
                    };
                }
                match self.inner.delivery.on_unknown {
                    OnUnknown::Hold => {
                        return failed(
                            Failure::from_delivery(Stage::Claim, DeliveryError::Unknown { since }),
                            0,
                        );
                    }
                    OnUnknown::Resend => match ctx.claims().reclaim(flow, key, since, now).await {
                        Ok(true) => warn(
                            warning,
                            format!(
                                "an earlier attempt since {since} never recorded its outcome; \
                                 sent again as `on_unknown: resend` says"
                            ),
                        ),
                        Ok(false) => {
                            return Outcome::Duplicate {
                                reason: "another worker took over the abandoned attempt".to_owned(),
                                receipt: None,
                            };
                        }
                        Err(e) => {
                            return failed(
                                Failure::from_delivery(Stage::Claim, DeliveryError::Store(e)),
                                0,
                            )
                        }
                    },
                }
            }
            Ok(Claim::Acquired) => {}
        }
        self.send_with_retries(ctx, record, action, warning).await
    }

    async fn send_with_retries(
        &self,
        ctx: &Context,
        record: &Record,
        action: &PreparedAction,
        warning: &mut Option<String>,
    ) -> Outcome {
        let key = record.key.as_str();
        let flow = self.inner.id.as_str();
        let mut attempt = 1;
        loop {
            if let Some(pacer) = &self.inner.pacer {
                pacer.acquire_in(ctx, "").await;
            }
            let error = match self.inner.target.deliver(ctx, record, action).await {
                Ok(receipt) => {
                    // If this fails the claim stays in flight and a later run treats the
                    // record as an unknown outcome; the delivery itself did happen.
                    if let Err(e) = ctx.claims().complete(flow, key, &receipt).await {
                        warn(warning, format!(
                            "delivered, but the store did not record it; a later run will see an unknown outcome: {e}"
                        ));
                    }
                    return Outcome::Delivered {
                        receipt,
                        attempts: attempt,
                    };
                }
                Err(error) => error,
            };
            match self
                .inner
                .delivery
                .retry
                .decide(attempt, &error, jitter(key, attempt))
            {
                RetryDecision::Retry { after } => {
                    crate::trace::attempt(
                        self.target_kind(),
                        attempt,
                        &error,
                        &crate::trace::Decision::Retry(after),
                    );
                    if !after.is_zero() {
                        ctx.clock().sleep(after).await;
                    }
                    attempt += 1;
                }
                RetryDecision::GiveUp if error.provider_may_have_acted() => {
                    crate::trace::attempt(
                        self.target_kind(),
                        attempt,
                        &error,
                        &crate::trace::Decision::GiveUp,
                    );
                    // Releasing would let a replay send again what the provider probably
                    // took; the claim stays in flight and its lease makes it an unknown
                    // outcome for the flow's `OnUnknown` policy, like a crash would.
                    return Outcome::Failed {
                        failure: Failure::from_delivery(Stage::Deliver, error),
                        retryable: false,
                        attempts: attempt,
                    };
                }
                RetryDecision::GiveUp => {
                    crate::trace::attempt(
                        self.target_kind(),
                        attempt,
                        &error,
                        &crate::trace::Decision::GiveUp,
                    );
                    // A release that fails leaves the claim in flight: the lease then
                    // decides, as after a crash.
                    if let Err(e) = ctx.claims().release(flow, key).await {
                        warn(warning, format!(
                            "the claim could not be released; the record is held until its lease ends: {e}"
                        ));
                    }
                    let retryable = error.class().is_retryable();
                    return Outcome::Failed {
                        failure: Failure::from_delivery(Stage::Deliver, error),
                        retryable,
                        attempts: attempt,
                    };
                }
            }
        }
    }
}

/// Adds `text` to a record's warning, after what is there already.
fn warn(warning: &mut Option<String>, text: String) {
    *warning = Some(match warning.take() {
        Some(earlier) => format!("{earlier}; {text}"),
        None => text,
    });
}

impl Flow {
    /// Appends the report to the run history and, every [`PRUNE_EVERY`] appends, prunes
    /// the history to the report policy's `keep_runs`; a failure to do either is a warning
    /// in the report, not a failed run.
    pub(crate) async fn record_history(&self, ctx: &Context, report: &mut RunReport) {
        let stored = match report.to_entry() {
            Ok(entry) => ctx.history().append_history(&entry).await,
            Err(e) => Err(StoreError::corrupt("the run report does not serialize").with_source(e)),
        };
        if let Err(e) = stored {
            report
                .warnings
                .push(format!("the run report was not stored: {e}"));
            return;
        }
        let Some(keep) = self.inner.report.keep_runs else {
            return;
        };
        let appended = self
            .inner
            .appended
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if appended.is_multiple_of(PRUNE_EVERY) {
            if let Err(e) = ctx.history().prune_history(&self.inner.id, keep).await {
                report.warnings.push(format!(
                    "the run history was not pruned to its {keep} newest runs: {e}"
                ));
            }
        }
    }
}

fn failed(failure: Failure, attempts: u32) -> Outcome {
    let retryable = failure.class.is_retryable();
    Outcome::Failed {
        failure,
        retryable,
        attempts,
    }
}

impl fmt::Debug for Flow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Flow")
            .field("id", &self.inner.id)
            .field("trigger", &self.inner.trigger)
            .field("source", &self.inner.source.is_some())
            .field("condition", &self.inner.condition_text)
            .field("lookups", &self.inner.lookups)
            .field("delivery", &self.inner.delivery)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Flow`]. Only the target is required: without a condition every record
/// passes, without a mapper the record's data is the payload.
#[must_use]
pub struct FlowBuilder {
    id: String,
    trigger: Trigger,
    source: Option<Arc<dyn Source>>,
    condition: Option<(Arc<dyn Condition>, String)>,
    lookups: Vec<Lookup>,
    mapper: Option<Arc<dyn Mapper>>,
    target: Option<DynTarget>,
    target_kind: Option<String>,
    delivery: DeliveryPolicy,
    report: ReportPolicy,
}

impl FlowBuilder {
    /// When the host should run the flow (default: manual).
    pub fn trigger(mut self, trigger: Trigger) -> Self {
        self.trigger = trigger;
        self
    }

    /// The pull source [`Flow::run`] polls.
    pub fn source(mut self, source: impl Source + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The pull source, shared.
    pub fn source_arc(mut self, source: Arc<dyn Source>) -> Self {
        self.source = Some(source);
        self
    }

    /// The condition, as a serializable rule (shown in skip reasons).
    pub fn when(mut self, rule: Rule) -> Self {
        let text = rule.to_string();
        self.condition = Some((Arc::new(rule), text));
        self
    }

    /// Any condition, e.g. a closure; `description` is shown in skip reasons.
    pub fn when_fn(
        mut self,
        condition: impl Condition + 'static,
        description: impl Into<String>,
    ) -> Self {
        self.condition = Some((Arc::new(condition), description.into()));
        self
    }

    /// Adds a lookup: after the condition, before the mapper, in the order added (a later
    /// lookup sees what an earlier one put into the record). See [`Lookup`].
    pub fn lookup(mut self, lookup: Lookup) -> Self {
        self.lookups.push(lookup);
        self
    }

    /// The mapper that turns a record into the target's payload.
    pub fn map(mut self, mapper: impl Mapper + 'static) -> Self {
        self.mapper = Some(Arc::new(mapper));
        self
    }

    /// The target: any [`Target`], or a [`DynTarget`] from a
    /// [`Registry`](crate::spec::Registry) (shared as it is, not wrapped again).
    pub fn target(mut self, target: impl Target + 'static) -> Self {
        self.target = Some(DynTarget::new(target));
        self
    }

    /// The delivery policy.
    pub fn delivery(mut self, delivery: DeliveryPolicy) -> Self {
        self.delivery = delivery;
        self
    }

    /// The kind the target was built from, for telemetry.
    pub(crate) fn target_kind(mut self, kind: impl Into<String>) -> Self {
        self.target_kind = Some(kind.into());
        self
    }

    /// What the reports keep: failed records' data or only their keys, and how many runs
    /// the history holds (default: the records, 1,000 runs).
    pub fn report(mut self, report: ReportPolicy) -> Self {
        self.report = report;
        self
    }

    /// Checks the parts and builds the flow; reports every problem, with JSON pointers in
    /// the form of a [`FlowSpec`](crate::FlowSpec).
    pub fn build(self) -> Result<Flow, SpecErrors> {
        let mut errors = SpecErrors::new();
        if self.id.trim().is_empty() {
            errors.push(
                SpecError::new("/id", "the flow id is empty")
                    .with_hint("give the flow a stable, unique id"),
            );
        }
        for (field, message) in self.delivery.problems() {
            errors.push(SpecError::new(format!("/delivery/{field}"), message));
        }
        for (field, message) in self.report.problems() {
            errors.push(SpecError::new(format!("/report/{field}"), message));
        }
        for (index, lookup) in self.lookups.iter().enumerate() {
            for (field, message) in lookup.problems() {
                errors.push(SpecError::new(format!("/lookup/{index}/{field}"), message));
            }
        }
        let Some(target) = self.target else {
            errors.push(
                SpecError::new("/target", "the flow has no target")
                    .with_hint("call .target(…) on the builder"),
            );
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let (condition, condition_text) = self.condition.unwrap_or_else(|| {
            let rule = Rule::Always;
            let text = rule.to_string();
            (Arc::new(rule) as Arc<dyn Condition>, text)
        });
        // Shared under the flow's id: with a rate store in the context, every worker running
        // this flow shares one pace.
        let pacer = self
            .delivery
            .rate_per_second
            .map(|rate| RateLimiter::per_second(rate).shared(format!("flow:{}", self.id)));
        let target_kind = self
            .target_kind
            .unwrap_or_else(|| target.type_name().to_owned());
        Ok(Flow {
            inner: Arc::new(FlowInner {
                id: self.id,
                trigger: self.trigger,
                source: self.source,
                condition,
                condition_text,
                lookups: self.lookups,
                mapper: self.mapper.unwrap_or_else(|| Arc::new(Passthrough)),
                target,
                target_kind,
                delivery: self.delivery,
                report: self.report,
                appended: std::sync::atomic::AtomicU64::new(0),
                pacer,
            }),
        })
    }
}

/// Fails a record that holds an unreadable body, whatever the flow's condition says.
fn unreadable(record: &Record) -> Result<(), PlanError> {
    if record.kind != crate::KIND_UNREADABLE {
        return Ok(());
    }
    let kept = crate::Unreadable::from_record(record)
        .unwrap_or_else(|damaged| crate::Unreadable::new("unknown", Vec::new(), damaged));
    Err(PlanError::Unreadable(Box::new(kept)))
}

#[cfg(test)]
impl Flow {
    /// The plan for `record`, blocking, in a context of fakes: for the tests of flows
    /// without lookups (nothing is sent, so no request is made).
    pub(crate) fn plan_now(&self, record: &Record) -> Result<Plan, PlanError> {
        let ctx = Context::new(
            crate::http::RecordingClient::new(),
            crate::ManualClock::new(chrono::Utc::now()),
            crate::MemoryStore::new(),
        );
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a test runtime")
            .block_on(self.plan(&ctx, record))
    }
}

#[cfg(test)]
mod tests;
