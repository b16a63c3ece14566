//! Streaming runs: records in as a `Stream`, lines out as they end, a report of counts,
//! timings and failures at the end, in memory that does not grow with the input.

use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};

use chrono::{DateTime, Utc};
use futures_util::stream::{BoxStream, Stream, StreamExt};

use super::tally::Tally;
use super::Flow;
use crate::{Context, Counts, Record, RecordOutcome, ReportLines, RunReport};

impl Flow {
    /// Processes records as a stream comes up with them, and yields each record's line as
    /// the record ends: for bulk runs (a backfill of a million rows, an export read page
    /// by page) that must not hold their input or one report line per record in memory.
    ///
    /// At most the delivery policy's `max_in_flight` records are in the flow at once;
    /// `records` is read only as fast as records end, so a slow provider slows the
    /// reading instead of filling memory. Lines come in the order records end, which with
    /// several in flight is not their input order. Every record ends in exactly one line,
    /// as in [`Flow::process`]: keep the failed ones' records
    /// ([`RecordOutcome::record`]) to replay them.
    ///
    /// [`RunStream::finish`] ends the run: it reads what is left, appends the report to the
    /// run history and returns it. That report has the counts and [`Timings`](crate::Timings)
    /// of every record, but lines for the failed records only
    /// ([`ReportLines::Failed`]), whatever the flow's report policy says: the caller has
    /// seen every line already. Dropping the stream before `finish` stops the run where it
    /// is, with the records in flight abandoned as a crash would (their claims then decide
    /// on the next run, as `on_unknown` says), and records nothing.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use futures_util::StreamExt;
    /// use hubflow::http::RecordingClient;
    /// use hubflow::http_target::HttpTarget;
    /// use hubflow::{Context, Flow, ManualClock, MemoryStore, Outcome, Record};
    /// use serde_json::json;
    ///
    /// let flow = Flow::builder("backfill")
    ///     .target(HttpTarget::new("https://erp.example.com/hooks".parse().unwrap()))
    ///     .build()
    ///     .unwrap();
    /// let ctx = Context::new(RecordingClient::new(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
    /// // Records made as they are needed: the run never holds all of them.
    /// let rows = futures_util::stream::iter(0..10_000)
    ///     .map(|i| Record::new(format!("row:{i}"), "row", json!({"n": i})));
    /// let mut run = flow.process_stream(&ctx, rows);
    /// let mut dead_letters = Vec::new();
    /// while let Some(line) = run.next().await {
    ///     if let Outcome::Failed { .. } = line.outcome {
    ///         dead_letters.extend(line.record);
    ///     }
    /// }
    /// let report = run.finish().await;
    /// assert_eq!(report.counts.delivered, 10_000);
    /// assert!(report.records.is_empty() && dead_letters.is_empty());
    /// # });
    /// ```
    pub fn process_stream<'a>(
        &'a self,
        ctx: &'a Context,
        records: impl Stream<Item = Record> + Send + 'a,
    ) -> RunStream<'a> {
        let span = crate::trace::Span::run(
            &self.inner.id,
            self.inner.trigger.name(),
            records.size_hint().0,
        );
        RunStream {
            flow: self,
            ctx,
            started: ctx.clock().now(),
            lines: self.lines(ctx, records),
            tally: Tally::new(ReportLines::Failed),
            span,
        }
    }
}

/// A run in progress over a stream of records: a [`Stream`] of each record's line as it
/// ends. Made by [`Flow::process_stream`]; end it with [`RunStream::finish`].
#[must_use = "a run does nothing until its lines are read or it is finished"]
pub struct RunStream<'a> {
    flow: &'a Flow,
    ctx: &'a Context,
    started: DateTime<Utc>,
    lines: BoxStream<'a, (usize, RecordOutcome)>,
    tally: Tally,
    span: crate::trace::Span,
}

impl RunStream<'_> {
    /// The counts of the records that have ended so far.
    pub fn counts(&self) -> Counts {
        self.tally.counts()
    }

    /// Reads the records that are left (their lines are dropped), then appends the run's
    /// report to the history and returns it: the counts and timings of every record, and
    /// the lines of the failed ones.
    pub async fn finish(mut self) -> RunReport {
        while self.next().await.is_some() {}
        let RunStream {
            flow,
            ctx,
            started,
            tally,
            span,
            ..
        } = self;
        let mut report = tally.into_report(&flow.inner.id, started, ctx.clock().now());
        span.counts(&report.counts);
        flow.record_history(ctx, &mut report).await;
        report
    }
}

impl Stream for RunStream<'_> {
    type Item = RecordOutcome;

    fn poll_next(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<RecordOutcome>> {
        // Every field is `Unpin` (the lines are boxed), so the stream is too.
        let this = self.get_mut();
        let polled = this.span.in_scope(|| this.lines.poll_next_unpin(cx));
        match polled {
            Poll::Ready(Some((index, line))) => {
                this.tally.add_seen(index, &line);
                Poll::Ready(Some(line))
            }
            other => other.map(|_| None),
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.lines.size_hint()
    }
}

impl std::fmt::Debug for RunStream<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunStream")
            .field("flow", &self.flow.inner.id)
            .field("started", &self.started)
            .field("counts", &self.tally.counts())
            .finish_non_exhaustive()
    }
}
