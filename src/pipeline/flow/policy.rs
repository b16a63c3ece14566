//! How a flow delivers: attempts, concurrency, pace, and crashed attempts.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::retry::duration_ms;
use crate::RetryPolicy;

/// What to do with a record whose earlier attempt never finished (a worker stopped between
/// sending and recording the result), once the claim's lease has run out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnUnknown {
    /// Report it as failed (not retryable) for a person to decide. The safe default: the
    /// earlier attempt may have reached the customer.
    #[default]
    Hold,
    /// Send again, accepting a possible duplicate message.
    Resend,
}

/// How a flow delivers.
///
/// JSON form (every field optional; durations in milliseconds):
///
/// ```
/// use hubflow::DeliveryPolicy;
/// let policy: DeliveryPolicy = serde_json::from_str(
///     r#"{"max_attempts": 5, "max_in_flight": 8, "rate_per_second": 80}"#,
/// ).unwrap();
/// assert_eq!(policy.max_in_flight, 8);
/// assert_eq!(policy.retry.max_attempts, 5);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "How a flow delivers; every field is optional, durations are in milliseconds."
    )
)]
#[serde(from = "PolicyWire", into = "PolicyWire")]
#[non_exhaustive]
pub struct DeliveryPolicy {
    /// Attempts and backoff.
    pub retry: RetryPolicy,
    /// Records delivered at the same time, at most (no task is spawned: the flow polls this
    /// many futures at once).
    pub max_in_flight: usize,
    /// Requests per second to the target, at most, across all clones of the flow in this
    /// process; `None` for no limit.
    pub rate_per_second: Option<f64>,
    /// How long a claim may stay in flight before it counts as abandoned.
    pub claim_lease: Duration,
    /// How many record keys a flow claims in one store call
    /// ([`ClaimStore::claim_batch`](crate::ClaimStore::claim_batch)), at most
    /// `max_in_flight`. The default, 1, claims each key right before its send. A larger
    /// batch saves store round trips on a remote database, at a price: a worker that dies
    /// leaves up to a batch of keys claimed but never sent, which a later run reports as
    /// unknown outcomes (see [`OnUnknown`]) although nothing reached the customer.
    pub claim_batch: usize,
    /// What to do with an abandoned claim.
    pub on_unknown: OnUnknown,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        PolicyWire::default().into()
    }
}

impl DeliveryPolicy {
    /// Sets the retry policy.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the number of records delivered at once.
    #[must_use]
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Sets the rate limit in requests per second.
    #[must_use]
    pub fn rate_per_second(mut self, rate: f64) -> Self {
        self.rate_per_second = Some(rate);
        self
    }

    /// Sets the claim lease.
    #[must_use]
    pub fn claim_lease(mut self, lease: Duration) -> Self {
        self.claim_lease = lease;
        self
    }

    /// Sets how many record keys are claimed in one store call (see
    /// [`DeliveryPolicy::claim_batch`]).
    #[must_use]
    pub fn claim_batch(mut self, n: usize) -> Self {
        self.claim_batch = n;
        self
    }

    /// Sets what happens to abandoned claims.
    #[must_use]
    pub fn on_unknown(mut self, on_unknown: OnUnknown) -> Self {
        self.on_unknown = on_unknown;
        self
    }

    /// Problems that would make the policy unusable, as `(field, message)` pairs.
    pub(crate) fn problems(&self) -> Vec<(&'static str, String)> {
        let mut problems = Vec::new();
        if self.retry.max_attempts == 0 {
            problems.push(("max_attempts", "must be at least 1".to_owned()));
        }
        if self.max_in_flight == 0 {
            problems.push(("max_in_flight", "must be at least 1".to_owned()));
        }
        if self.claim_batch == 0 {
            problems.push(("claim_batch", "must be at least 1".to_owned()));
        }
        if let Some(rate) = self.rate_per_second {
            if !(rate.is_finite() && rate > 0.0) {
                problems.push((
                    "rate_per_second",
                    format!("must be a positive number, not {rate}"),
                ));
            }
        }
        if self.retry.base_delay > self.retry.max_delay {
            problems.push(("base_delay_ms", "must not exceed max_delay_ms".to_owned()));
        }
        problems
    }
}

/// The flat JSON form, so a spec says `"max_attempts": 5` next to `"max_in_flight": 8`.
///
/// Its field docs are the descriptions of the `delivery` schema (feature `schema`); the
/// minimums there are the ones [`DeliveryPolicy::problems`] checks.
#[derive(Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
struct PolicyWire {
    /// Attempts per record, the first included.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    max_attempts: u32,
    /// The first retry's delay, in milliseconds; it doubles up to `max_delay_ms`.
    base_delay_ms: u64,
    /// The longest delay between attempts, in milliseconds (at least `base_delay_ms`).
    max_delay_ms: u64,
    /// The longest `Retry-After` a provider may ask for, in milliseconds; a longer one
    /// ends the attempts.
    max_retry_after_ms: u64,
    /// Records delivered at the same time, at most.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    max_in_flight: usize,
    /// Requests per second to the target, at most (a positive number); absent or null for
    /// no limit.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("exclusiveMinimum" = 0)))]
    rate_per_second: Option<f64>,
    /// How long a claim may stay in flight before it counts as abandoned, in milliseconds.
    #[serde(with = "duration_ms")]
    #[cfg_attr(feature = "schema", schemars(with = "u64"))]
    claim_lease_ms: Duration,
    /// How many record keys one store call claims, at most `max_in_flight`.
    #[cfg_attr(feature = "schema", schemars(range(min = 1)))]
    claim_batch: usize,
    /// What happens to a claim found abandoned: `hold` it for a person (the default) or
    /// `resend`.
    on_unknown: OnUnknown,
}

impl Default for PolicyWire {
    fn default() -> Self {
        let retry = RetryPolicy::default();
        PolicyWire {
            max_attempts: retry.max_attempts,
            base_delay_ms: ms(retry.base_delay),
            max_delay_ms: ms(retry.max_delay),
            max_retry_after_ms: ms(retry.max_retry_after),
            max_in_flight: 4,
            rate_per_second: None,
            claim_lease_ms: Duration::from_secs(600),
            claim_batch: 1,
            on_unknown: OnUnknown::Hold,
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl From<PolicyWire> for DeliveryPolicy {
    fn from(w: PolicyWire) -> Self {
        let retry = RetryPolicy::default().max_attempts(w.max_attempts).backoff(
            Duration::from_millis(w.base_delay_ms),
            Duration::from_millis(w.max_delay_ms),
        );
        let mut retry = retry;
        retry.max_retry_after = Duration::from_millis(w.max_retry_after_ms);
        DeliveryPolicy {
            retry,
            max_in_flight: w.max_in_flight,
            rate_per_second: w.rate_per_second,
            claim_lease: w.claim_lease_ms,
            claim_batch: w.claim_batch,
            on_unknown: w.on_unknown,
        }
    }
}

impl From<DeliveryPolicy> for PolicyWire {
    fn from(p: DeliveryPolicy) -> Self {
        PolicyWire {
            max_attempts: p.retry.max_attempts,
            base_delay_ms: ms(p.retry.base_delay),
            max_delay_ms: ms(p.retry.max_delay),
            max_retry_after_ms: ms(p.retry.max_retry_after),
            max_in_flight: p.max_in_flight,
            rate_per_second: p.rate_per_second,
            claim_lease_ms: p.claim_lease,
            claim_batch: p.claim_batch,
            on_unknown: p.on_unknown,
        }
    }
}

/// What a failed record's report line keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeadLetters {
    /// The record itself, so the host can store it and process it again (default).
    #[default]
    Keep,
    /// Only its key and kind (the line always has them): no data, for flows that carry
    /// personal data (patients, in healthcare) into reports kept in the run history.
    /// [`RunReport::dead_letters`](crate::RunReport::dead_letters) is then empty; the
    /// record stays where it came from (the source, the webhook's sender) to be replayed
    /// by key. The texts that may quote data are withheld too, on every line: a skip's
    /// reason (a condition quotes the value it compared) and a failure's message (a
    /// mapping quotes the phone number it could not read) say only
    /// `withheld: this flow's reports keep no record data`, a failure with its stage; the
    /// failure's status, provider code and retry class stay. Choose keys that are ids, not
    /// names, for such flows: the key is always reported.
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "Only its key and kind, without skip reasons and failure messages (which may quote data): no data, for flows that carry personal data into reports kept in the run history."
        )
    )]
    KeyOnly,
}

/// Which records have a line in a run's report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReportLines {
    /// Every record, in the order the records came in (default).
    #[default]
    All,
    /// Only the records that failed, dead letters and unknown outcomes, in input order;
    /// the counts and timings still cover every record. For bulk runs: a report of a
    /// million delivered records would otherwise hold a million lines.
    /// [`Flow::process_stream`](crate::Flow::process_stream) always reports this way,
    /// since its caller sees every line as it ends.
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "Only the records that failed (dead letters and unknown outcomes); the counts and timings still cover every record. For bulk runs."
        )
    )]
    Failed,
}

impl ReportLines {
    /// Whether this is [`ReportLines::All`], the default (serde's `skip_serializing_if`).
    pub(crate) fn is_all(&self) -> bool {
        *self == ReportLines::All
    }
}

/// What a flow's reports keep: the failed records' data, which records have a line, and
/// how many runs the history holds. In a spec, the `report` object:
///
/// ```
/// use hubflow::{DeadLetters, FlowSpec};
/// let spec = FlowSpec::from_json(r#"{
///     "id": "confirmations",
///     "target": {"http.post": {"url": "https://erp.example.com/hooks"}},
///     "report": {"dead_letters": "key_only", "keep_runs": 200}
/// }"#).unwrap();
/// assert_eq!(spec.report.dead_letters, DeadLetters::KeyOnly);
/// assert_eq!(spec.report.keep_runs, Some(200));
/// ```
///
/// A bulk flow keeps lines for its failures only (`"lines": "failed"`, see [`ReportLines`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(
        description = "What a flow's reports keep: the failed records' data, and how many runs the history holds."
    )
)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ReportPolicy {
    /// What a failed record's line keeps (default [`DeadLetters::Keep`]).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "What a failed record's line keeps: \"keep\" the record (the default) or \"key_only\"."
        )
    )]
    pub dead_letters: DeadLetters,
    /// How many runs of the flow its history keeps, newest first (default 1,000; `None`,
    /// `null` in JSON: all of them). Older runs are pruned with
    /// [`HistoryStore::prune_history`](crate::HistoryStore::prune_history) after an append,
    /// once every [`PRUNE_EVERY`] appends of a flow value and its clones, so the history
    /// holds at most `keep_runs + PRUNE_EVERY - 1` runs of it.
    #[cfg_attr(
        feature = "schema",
        schemars(
            range(min = 1),
            description = "How many runs of the flow its history keeps, newest first (default 1000; null: all of them)."
        )
    )]
    pub keep_runs: Option<usize>,
    /// Which records have a line in the report (default [`ReportLines::All`]).
    #[cfg_attr(
        feature = "schema",
        schemars(
            description = "Which records have a line in the report: \"all\" (the default) or \"failed\" (bulk runs: counts and timings cover every record)."
        )
    )]
    pub lines: ReportLines,
}

/// How many appends pass between two prunes of a flow's history.
pub const PRUNE_EVERY: u64 = 32;

impl Default for ReportPolicy {
    fn default() -> Self {
        ReportPolicy {
            dead_letters: DeadLetters::Keep,
            keep_runs: Some(1000),
            lines: ReportLines::All,
        }
    }
}

impl ReportPolicy {
    /// Sets what failed records' lines keep.
    #[must_use]
    pub fn dead_letters(mut self, keep: DeadLetters) -> Self {
        self.dead_letters = keep;
        self
    }

    /// Sets which records have a line in the report.
    #[must_use]
    pub fn lines(mut self, lines: ReportLines) -> Self {
        self.lines = lines;
        self
    }

    /// Sets how many runs the history keeps (`None`: all).
    #[must_use]
    pub fn keep_runs(mut self, runs: Option<usize>) -> Self {
        self.keep_runs = runs;
        self
    }

    pub(crate) fn problems(&self) -> Vec<(&'static str, String)> {
        match self.keep_runs {
            Some(0) => vec![(
                "keep_runs",
                "must be at least 1 (null keeps every run)".to_owned(),
            )],
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
