//! What happened to every record: outcomes and run reports.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::lookup::LookupError;
use crate::{DeliveryError, ErrorClass, HistoryEntry, MapError, Receipt, Record, TargetError};

/// How one record ended. Every record that enters a flow ends in exactly one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Outcome {
    /// The flow's condition did not hold: nothing was sent.
    Skipped {
        /// Why, in words a person understands.
        reason: String,
    },
    /// The record's key was delivered before, or is being delivered by another worker.
    Duplicate {
        /// Which of the two.
        reason: String,
        /// The earlier delivery's receipt, when it finished.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        receipt: Option<Receipt>,
    },
    /// The target accepted the record.
    Delivered {
        /// The provider's receipt.
        receipt: Receipt,
        /// Attempts made, the successful one included.
        attempts: u32,
    },
    /// The record could not be delivered: a dead letter the host can keep and replay.
    Failed {
        /// What went wrong, and where.
        failure: Failure,
        /// Whether a later try may succeed.
        retryable: bool,
        /// Attempts made (0 when it failed before sending).
        attempts: u32,
    },
}

/// What a report says in place of a message it withholds.
pub(crate) const WITHHELD: &str = "withheld: this flow's reports keep no record data";

impl Outcome {
    /// The outcome without the texts that may quote a record's data: a skip's reason (a
    /// condition quotes the value it compared, a lookup the name it looked up) and a
    /// failure's message (a mapping quotes the phone number it could not read, a provider
    /// may echo the payload) become [`WITHHELD`], with the stage kept. The failure's
    /// status, code, class and typed error stay: they hold no data, and the typed error
    /// is never serialized.
    pub(crate) fn withhold_data(self) -> Outcome {
        match self {
            Outcome::Skipped { .. } => Outcome::Skipped {
                reason: WITHHELD.to_owned(),
            },
            Outcome::Failed {
                mut failure,
                retryable,
                attempts,
            } => {
                failure.message = format!("{} failed ({WITHHELD})", failure.stage.name());
                Outcome::Failed {
                    failure,
                    retryable,
                    attempts,
                }
            }
            delivered_or_duplicate => delivered_or_duplicate,
        }
    }
}

impl Stage {
    /// The stage's name as in its JSON form: `read`, `lookup`, `map`, `prepare`, `claim`,
    /// `deliver`.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Read => "read",
            Stage::Lookup => "lookup",
            Stage::Map => "map",
            Stage::Prepare => "prepare",
            Stage::Claim => "claim",
            Stage::Deliver => "deliver",
        }
    }
}

impl Outcome {
    /// The outcome's name as in its JSON form: `skipped`, `duplicate`, `delivered`, `failed`.
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Skipped { .. } => "skipped",
            Outcome::Duplicate { .. } => "duplicate",
            Outcome::Delivered { .. } => "delivered",
            Outcome::Failed { .. } => "failed",
        }
    }

    /// Whether the record failed without anyone knowing if the provider acted on it: an
    /// earlier attempt that never recorded its outcome (held by
    /// [`OnUnknown::Hold`](crate::OnUnknown::Hold)), or an answer that could not be read
    /// after the provider may have taken the request. Such a record is neither resent nor
    /// released; [`Flow::settle`](crate::Flow::settle) settles it from what the provider says.
    ///
    /// Known only while the report is in memory: the typed error is not serialized, so a
    /// report read back from the history answers `false` (its counts keep the number).
    pub fn is_unknown(&self) -> bool {
        let Outcome::Failed { failure, .. } = self else {
            return false;
        };
        failure.error().is_some_and(|e| {
            matches!(e, DeliveryError::Unknown { .. }) || e.provider_may_have_acted()
        })
    }
}

/// The stage of a flow at which a record failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Stage {
    /// Reading the record: a body its webhook source could not read
    /// ([`Unreadable`](crate::Unreadable)), kept as a dead letter to replay.
    Read,
    /// Looking the record up in a directory ([`Lookup`](crate::Lookup)).
    Lookup,
    /// Mapping the record to a payload.
    Map,
    /// Preparing the target's request.
    Prepare,
    /// Claiming the record's key in the store.
    Claim,
    /// Sending to the target.
    Deliver,
}

/// A failure as it is kept in a report: typed errors flattened into serializable fields,
/// and, in the process that ran the flow, the typed error itself ([`Failure::error`],
/// [`Failure::cause`]). Never holds a secret: it is built from errors whose messages carry
/// none.
///
/// ```
/// use hubflow::{DeliveryError, Failure, Flow, Outcome, ProviderError, Record};
/// # use hubflow::{Context, ManualClock, MemoryStore, Receipt, Target, TargetError};
/// # use hubflow::http::{HttpRequest, RecordingClient};
/// # use serde_json::Value;
/// #[derive(Debug, thiserror::Error)]
/// #[error("the ERP refused ticket {0}")]
/// struct Refused(u32);
///
/// struct Erp;
/// #[async_trait::async_trait]
/// impl Target for Erp {
///     type Action = HttpRequest;
///     fn prepare(&self, _: &Record, payload: &Value) -> Result<HttpRequest, TargetError> {
///         Ok(HttpRequest::post_json("https://erp.example.com/t".parse().unwrap(), payload).unwrap())
///     }
///     async fn deliver(&self, _: &Context, _: &Record, _: &HttpRequest) -> Result<Receipt, DeliveryError> {
///         let error = ProviderError::new("erp", 409, "conflict").with_source(Refused(7));
///         Err(error.into())
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let ctx = Context::new(RecordingClient::new(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
/// let flow = Flow::builder("tickets").target(Erp).build().unwrap();
/// let report = flow.process(&ctx, vec![Record::new("k", "t", serde_json::json!({}))]).await;
/// let Outcome::Failed { failure, .. } = &report.records[0].outcome else { panic!() };
/// // The adapter's own error is still there, typed.
/// assert_eq!(failure.cause::<Refused>().map(|r| r.0), Some(7));
/// assert_eq!(failure.cause::<ProviderError>().map(|p| p.status), Some(409));
/// # });
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Failure {
    /// Where it failed.
    pub stage: Stage,
    /// The error's message.
    pub message: String,
    /// The retry class the error had.
    pub class: ErrorClass,
    /// The provider's HTTP status, when one answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The provider's error code, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// The typed error, in the process that ran the flow (not serialized).
    #[serde(skip)]
    error: Option<Arc<DeliveryError>>,
}

impl PartialEq for Failure {
    /// Failures are equal when their reported fields are: the typed error is not compared
    /// (a report read back from the history has none).
    fn eq(&self, other: &Self) -> bool {
        (
            self.stage,
            &self.message,
            self.class,
            self.status,
            &self.code,
        ) == (
            other.stage,
            &other.message,
            other.class,
            other.status,
            &other.code,
        )
    }
}

impl Failure {
    /// The delivery error this failure was made from, when it failed in this process. A
    /// failure read back from a stored report has only its fields.
    pub fn error(&self) -> Option<&DeliveryError> {
        self.error.as_deref()
    }

    /// The first error of type `E` among the delivery error, the provider's error it
    /// carries, and their causes (`source()` chain): an adapter's own error type
    /// (`FracttalError`, `RmError`, `GraphError`), an [`HttpError`](crate::http::HttpError),
    /// a [`StoreError`](crate::StoreError), a [`ReportedFailure`](crate::ReportedFailure).
    pub fn cause<E: std::error::Error + 'static>(&self) -> Option<&E> {
        let error = self.error.as_deref()?;
        let mut roots: Vec<&(dyn std::error::Error + 'static)> = vec![error];
        // Transparent variants' source chains skip the wrapped error itself.
        match error {
            DeliveryError::Provider(provider) => roots.push(provider.as_ref()),
            DeliveryError::Reported(reported) => roots.push(reported.as_ref()),
            DeliveryError::Transport(transport) => roots.push(transport),
            _ => {}
        }
        roots.into_iter().find_map(|root| {
            let mut next = Some(root);
            while let Some(current) = next {
                if let Some(found) = current.downcast_ref::<E>() {
                    return Some(found);
                }
                next = current.source();
            }
            None
        })
    }

    pub(crate) fn from_unreadable(error: &crate::Unreadable) -> Self {
        Failure::permanent(Stage::Read, error.to_string())
    }

    pub(crate) fn from_map(error: &MapError) -> Self {
        Failure::permanent(Stage::Map, error.to_string())
    }

    pub(crate) fn from_lookup(error: &LookupError) -> Self {
        match error {
            LookupError::Missing { .. } => Failure::permanent(Stage::Lookup, error.to_string()),
            LookupError::Directory { error: cause, .. } => Failure {
                stage: Stage::Lookup,
                message: error.to_string(),
                class: cause.class(),
                status: cause.status(),
                code: cause.code().map(str::to_owned),
                error: Some(cause.clone()),
            },
        }
    }

    pub(crate) fn from_prepare(error: &TargetError) -> Self {
        Failure::permanent(Stage::Prepare, error.to_string())
    }

    pub(crate) fn from_delivery(stage: Stage, error: DeliveryError) -> Self {
        Failure {
            stage,
            message: error.to_string(),
            class: error.class(),
            status: error.status(),
            code: error.code().map(str::to_owned),
            error: Some(Arc::new(error)),
        }
    }

    fn permanent(stage: Stage, message: String) -> Self {
        Failure {
            stage,
            message,
            class: ErrorClass::Permanent,
            status: None,
            code: None,
            error: None,
        }
    }
}

/// One record's line in a [`RunReport`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RecordOutcome {
    /// The record's key.
    pub key: String,
    /// The record's kind.
    pub kind: String,
    /// How it ended.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Time spent on it, waits included, by the flow's clock.
    pub duration_ms: u64,
    /// A problem that did not change the outcome, e.g. a delivery the store failed to record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The record itself, kept for failures only, so the host can store it and replay it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
}

/// How many records ended in each outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counts {
    /// Records that entered the run.
    pub received: usize,
    /// Records whose condition did not hold.
    pub skipped: usize,
    /// Records delivered before or elsewhere.
    pub duplicate: usize,
    /// Records delivered now.
    pub delivered: usize,
    /// Records that failed.
    pub failed: usize,
    /// Of the failed records, those whose outcome is not known
    /// ([`Outcome::is_unknown`]): they need settling, not a replay.
    #[serde(default)]
    pub unknown: usize,
}

/// How long records took, over every record of a run (skipped and duplicate ones
/// included), by the flow's clock.
///
/// The percentiles are exact up to a second and within a factor of two above (a run's
/// timings are kept in a fixed-size histogram, so a run of a million records costs no more
/// memory than a run of ten).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Timings {
    /// The median record's time, in milliseconds.
    pub p50_ms: u64,
    /// The 90th percentile.
    pub p90_ms: u64,
    /// The 99th percentile.
    pub p99_ms: u64,
    /// The slowest record's time.
    pub max_ms: u64,
    /// All records' times added up (with several in flight, more than the run's duration).
    pub total_ms: u64,
}

/// What a run did: the execution history of a flow, one line per record.
///
/// Serializable, so the host can store it, show it, or send it on.
///
/// ```
/// # use hubflow::RunReport;
/// # fn show(report: &RunReport) {
/// println!("{} delivered, {} failed", report.counts.delivered, report.counts.failed);
/// for dead in report.dead_letters() {
///     // keep `dead` somewhere and pass it to `flow.process` again later
/// #   let _ = dead;
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RunReport {
    /// The flow's id.
    pub flow_id: String,
    /// When the run started, by the flow's clock.
    pub started_at: DateTime<Utc>,
    /// When the run ended.
    pub finished_at: DateTime<Utc>,
    /// `finished_at - started_at` in milliseconds.
    pub duration_ms: u64,
    /// Records per outcome.
    pub counts: Counts,
    /// How long records took.
    #[serde(default)]
    pub timings: Timings,
    /// One line per record, in the order the records came in; only the failed ones when
    /// [`lines`](RunReport::lines) is [`ReportLines::Failed`](crate::ReportLines::Failed).
    pub records: Vec<RecordOutcome>,
    /// Which records have a line in [`records`](RunReport::records).
    #[serde(default, skip_serializing_if = "crate::ReportLines::is_all")]
    pub lines: crate::ReportLines,
    /// Problems that did not change any record's outcome (a report or cursor the store
    /// could not save).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Whether this was a dry run ([`Flow::dry_run`](crate::Flow::dry_run)): nothing was
    /// sent and nothing stored; receipts are the provider fakes'.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
}

impl RunReport {
    /// The report of every line of a run, in input order.
    pub(crate) fn new(
        flow_id: &str,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
        records: Vec<RecordOutcome>,
    ) -> Self {
        let mut tally = super::tally::Tally::new(crate::ReportLines::All);
        for (index, line) in records.into_iter().enumerate() {
            tally.add(index, line);
        }
        tally.into_report(flow_id, started_at, finished_at)
    }

    /// The records that failed, ready to be stored and processed again.
    pub fn dead_letters(&self) -> impl Iterator<Item = &Record> {
        self.records.iter().filter_map(|line| line.record.as_ref())
    }

    /// The line for the record with `key`.
    pub fn get(&self, key: &str) -> Option<&RecordOutcome> {
        self.records.iter().find(|line| line.key == key)
    }

    /// The report as a run in a [`HistoryStore`](crate::HistoryStore): its flow and times as
    /// plain fields, the whole report serialized.
    pub fn to_entry(&self) -> Result<HistoryEntry, serde_json::Error> {
        Ok(HistoryEntry::new(
            &self.flow_id,
            self.started_at,
            self.finished_at,
            serde_json::to_value(self)?,
        ))
    }

    /// The report a history entry holds, as [`to_entry`](RunReport::to_entry) wrote it.
    pub fn from_entry(entry: &HistoryEntry) -> Result<RunReport, serde_json::Error> {
        RunReport::deserialize(&entry.report)
    }
}

impl std::fmt::Display for RunReport {
    /// A summary line, then one line per failed or skipped record (with `{:#}`, one per
    /// record), then the warnings. Keys, kinds, stages and messages only, never a record's
    /// payload; a message or a skip reason may quote the value that failed (a phone number
    /// that could not be read), unless the flow's report policy withholds them
    /// ([`DeadLetters::KeyOnly`](crate::DeadLetters::KeyOnly)).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use hubflow::http::RecordingClient;
    /// use hubflow::http_target::HttpTarget;
    /// use hubflow::{Context, Flow, ManualClock, MemoryStore, Record, Rule};
    /// use serde_json::json;
    ///
    /// let flow = Flow::builder("urgent")
    ///     .when(Rule::field("priority").eq("urgent").unwrap())
    ///     .target(HttpTarget::new("https://erp.example.com/hooks".parse().unwrap()))
    ///     .build()
    ///     .unwrap();
    /// let ctx = Context::new(RecordingClient::new(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
    /// let report = flow.process(&ctx, vec![
    ///     Record::new("req-1", "request", json!({"priority": "urgent"})),
    ///     Record::new("req-2", "request", json!({"priority": "low"})),
    /// ]).await;
    /// let text = report.to_string();
    /// assert!(text.starts_with("urgent: 2 records: 1 delivered, 0 duplicate, 1 skipped, 0 failed"), "{text}");
    /// assert!(text.contains("\n  skipped   req-2 (request): condition not met"), "{text}");
    /// # });
    /// ```
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "{}: {} record{}: {} delivered, {} duplicate, {} skipped, {} failed in {}",
            self.flow_id,
            c.received,
            if c.received == 1 { "" } else { "s" },
            c.delivered,
            c.duplicate,
            c.skipped,
            c.failed,
            human_duration(self.duration_ms),
        )?;
        if c.unknown > 0 {
            write!(f, " ({} of the failed with an unknown outcome)", c.unknown)?;
        }
        if self.dry_run {
            f.write_str(" (dry run: nothing sent)")?;
        }
        for line in &self.records {
            let shown = f.alternate()
                || matches!(
                    line.outcome,
                    Outcome::Failed { .. } | Outcome::Skipped { .. }
                );
            if !shown {
                continue;
            }
            write!(
                f,
                "\n  {:<10}{} ({})",
                line.outcome.name(),
                line.key,
                line.kind
            )?;
            match &line.outcome {
                Outcome::Skipped { reason } => write!(f, ": {reason}")?,
                Outcome::Duplicate { reason, .. } => write!(f, ": {reason}")?,
                Outcome::Delivered { receipt, attempts } => {
                    if let Some(id) = &receipt.id {
                        write!(f, ": {id}")?;
                    }
                    if *attempts > 1 {
                        write!(f, " after {attempts} attempts")?;
                    }
                }
                Outcome::Failed {
                    failure,
                    retryable,
                    attempts,
                } => write!(
                    f,
                    " at {}: {} ({}, {attempts} attempt{})",
                    failure.stage.name(),
                    failure.message,
                    if *retryable { "retryable" } else { "permanent" },
                    if *attempts == 1 { "" } else { "s" },
                )?,
            }
            if let Some(warning) = &line.warning {
                write!(f, "; warning: {warning}")?;
            }
        }
        for warning in &self.warnings {
            write!(f, "\n  warning: {warning}")?;
        }
        Ok(())
    }
}

/// `850 ms`, `12.3 s`, `4 min 05 s`.
fn human_duration(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {:02} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// Whole milliseconds of a chrono duration, zero when negative (a clock set back).
pub(crate) fn millis(d: chrono::Duration) -> u64 {
    u64::try_from(d.num_milliseconds()).unwrap_or(0)
}
