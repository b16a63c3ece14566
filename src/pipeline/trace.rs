//! Telemetry through [`tracing`](https://docs.rs/tracing) (feature `tracing`): a span per
//! run and per record, an event per delivery attempt and per webhook request, so a host
//! sees hubflow's work in its own subscriber. Without the feature every function here is
//! a no-op and nothing is compiled in.
//!
//! What is recorded is chosen so that nothing secret or personal leaves: flow ids, record
//! keys and kinds, outcomes, stages, HTTP statuses, provider codes, retry decisions and
//! waits, counts. Never a record's data, a payload, a header or an error's free text
//! (which may quote a provider's body).

use std::future::Future;
use std::time::Duration;

use crate::{Counts, DeliveryError, Outcome, WebhookReply};

/// A span, or nothing without the feature.
#[derive(Clone)]
pub(crate) struct Span {
    #[cfg(feature = "tracing")]
    inner: tracing::Span,
}

impl Span {
    /// `hubflow.run`: one `process` or `run` of a flow, with its trigger's form.
    pub(crate) fn run(flow: &str, trigger: &'static str, records: usize) -> Span {
        #[cfg(not(feature = "tracing"))]
        let _ = (flow, trigger, records);
        Span {
            #[cfg(feature = "tracing")]
            inner: tracing::info_span!(
                "hubflow.run",
                flow,
                trigger,
                records,
                delivered = tracing::field::Empty,
                duplicate = tracing::field::Empty,
                skipped = tracing::field::Empty,
                failed = tracing::field::Empty,
            ),
        }
    }

    /// `hubflow.record`: one record through a flow.
    pub(crate) fn record(flow: &str, key: &str, kind: &str) -> Span {
        #[cfg(not(feature = "tracing"))]
        let _ = (flow, key, kind);
        Span {
            #[cfg(feature = "tracing")]
            inner: tracing::info_span!(
                "hubflow.record",
                flow,
                key,
                kind,
                outcome = tracing::field::Empty,
                stage = tracing::field::Empty,
                attempts = tracing::field::Empty,
            ),
        }
    }

    /// Records a run's counts on its span.
    pub(crate) fn counts(&self, counts: &Counts) {
        #[cfg(feature = "tracing")]
        {
            self.inner.record("delivered", counts.delivered);
            self.inner.record("duplicate", counts.duplicate);
            self.inner.record("skipped", counts.skipped);
            self.inner.record("failed", counts.failed);
        }
        #[cfg(not(feature = "tracing"))]
        let _ = counts;
    }

    /// Records how a record ended on its span.
    pub(crate) fn outcome(&self, outcome: &Outcome) {
        #[cfg(feature = "tracing")]
        {
            self.inner.record("outcome", outcome.name());
            match outcome {
                Outcome::Failed {
                    failure, attempts, ..
                } => {
                    self.inner.record("stage", failure.stage.name());
                    self.inner.record("attempts", attempts);
                }
                Outcome::Delivered { attempts, .. } => {
                    self.inner.record("attempts", attempts);
                }
                _ => {}
            }
        }
        #[cfg(not(feature = "tracing"))]
        let _ = outcome;
    }

    /// Runs `f` inside the span: for the polls of a stream.
    pub(crate) fn in_scope<R>(&self, f: impl FnOnce() -> R) -> R {
        #[cfg(feature = "tracing")]
        {
            self.inner.in_scope(f)
        }
        #[cfg(not(feature = "tracing"))]
        {
            f()
        }
    }

    /// Runs `future` inside the span.
    pub(crate) async fn wrap<F: Future>(&self, future: F) -> F::Output {
        #[cfg(feature = "tracing")]
        {
            use tracing::Instrument;
            future.instrument(self.inner.clone()).await
        }
        #[cfg(not(feature = "tracing"))]
        {
            future.await
        }
    }
}

/// What the flow decided after a failed attempt.
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) enum Decision {
    Retry(Duration),
    GiveUp,
}

/// `hubflow.attempt`: one delivery attempt that failed, and what comes next (a delivered
/// attempt is the record span's `outcome`).
pub(crate) fn attempt(target: &str, attempt: u32, error: &DeliveryError, decision: &Decision) {
    #[cfg(feature = "tracing")]
    {
        let (decision, wait_ms) = match decision {
            Decision::Retry(after) => (
                "retry",
                u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
            ),
            Decision::GiveUp => ("give_up", 0),
        };
        tracing::warn!(
            name: "hubflow.attempt",
            target: "hubflow",
            target_kind = target,
            attempt,
            status = error.status(),
            code = error.code(),
            retryable = error.class().is_retryable(),
            decision,
            wait_ms,
            "delivery attempt failed"
        );
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (target, attempt, error, decision);
}

/// `hubflow.webhook`: one request a webhook source answered.
#[cfg_attr(
    not(any(
        feature = "whatsapp",
        feature = "timelines",
        feature = "twilio",
        feature = "fracttal"
    )),
    allow(dead_code)
)]
pub(crate) fn webhook(source: &str, reply: &WebhookReply) {
    #[cfg(feature = "tracing")]
    {
        // What the source itself decided, not a guess from the status.
        let signature = reply.credential.name();
        tracing::info!(
            name: "hubflow.webhook",
            target: "hubflow",
            source,
            status = reply.status,
            events = reply.records.len(),
            signature,
            "webhook answered"
        );
    }
    #[cfg(not(feature = "tracing"))]
    let _ = (source, reply);
}
