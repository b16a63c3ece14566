//! [`ClusterConfig`]: the settings of a [`Cluster`](super::Cluster), checked before anything
//! reaches graphile_worker (which panics on some values, e.g. a concurrency of 0).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::retry::duration_ms;

/// How a [`Cluster`](super::Cluster) runs its workers. Every field has a default; JSON form
/// (every field optional, durations in milliseconds, unknown fields refused):
///
/// ```
/// use hubflow::cluster::ClusterConfig;
/// let config: ClusterConfig = serde_json::from_str(
///     r#"{"concurrency": 16, "jobs_schema": "acme_jobs", "recovery": {"sweep_threshold_ms": 120000}}"#,
/// ).unwrap();
/// assert_eq!(config.concurrency, 16);
/// assert_eq!(config.recovery.sweep_threshold, std::time::Duration::from_secs(120));
/// assert!(serde_json::from_str::<ClusterConfig>(r#"{"concurency": 16}"#).is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ClusterConfig {
    /// The PostgreSQL schema of graphile_worker's own tables (default `hubflow_jobs`).
    pub jobs_schema: String,
    /// The PostgreSQL schema of the cluster's tables: `intake`, `trigger_state`,
    /// `cluster_settings` and `cluster_schema_version` (default `hubflow`).
    pub tables_schema: String,
    /// Jobs one [`Cluster::run`](super::Cluster::run) works on at the same time (default 8;
    /// at least 1). Each holds a pool connection while it fetches or completes a job.
    pub concurrency: usize,
    /// The size of each worker's own connection pool (default: `concurrency` + 4, for the
    /// notification listener, heartbeat, sweep and cron). A worker opens its pool from the
    /// cluster's pool's connect options and closes it when it stops; the cluster's pool
    /// serves intake, the scheduler and the tasks' reads.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_connections: Option<u32>,
    /// How often an idle worker looks for jobs (default 100 ms). Jobs due later than they
    /// were added (a retry, a scheduled run), and jobs whose recipient queue was busy, start
    /// up to this late; a fetch that finds nothing pauses fetching for half to all of it
    /// (a new job's notification ends the pause). With
    /// [`fetch_batch`](ClusterConfig::fetch_batch) at 0 it also bounds how fast a backlog
    /// drains: graphile_worker's plain loop has each job slot take one job per signal (a
    /// notification of new jobs, or this poll), so jobs that were waiting before the worker
    /// started, or whose retry came due, go at `concurrency` per poll per worker.
    #[serde(rename = "poll_interval_ms", with = "duration_ms")]
    pub poll_interval: Duration,
    /// How many jobs a worker fetches in one query and keeps for its job slots
    /// (graphile_worker's local queue; default 32, 0 for one job per query). Batches take
    /// the queue's own cost per job from about a millisecond to a few tens of microseconds
    /// (docs/performance.md). Jobs a worker holds but has not started go back to the
    /// database after 30 s, or at once when it shuts down; a worker that dies holding some
    /// has them recovered like its running jobs.
    pub fetch_batch: usize,
    /// Whether workers wait on PostgreSQL notifications for new jobs, holding one pool
    /// connection each (default `true`); without them they only poll.
    pub notifications: bool,
    /// How long in-flight jobs may finish after [`Cluster::shutdown`](super::Cluster::shutdown)
    /// (default 30 s). Keep it above the targets' request timeout, so that a shutdown rarely
    /// cuts a send in half.
    #[serde(rename = "grace_period_ms", with = "duration_ms")]
    pub grace_period: Duration,
    /// When a job cut short by a shutdown runs again (default 5 s), on any worker.
    #[serde(rename = "interrupted_retry_delay_ms", with = "duration_ms")]
    pub interrupted_retry_delay: Duration,
    /// Attempts at an accepted record's job before graphile_worker gives up on it
    /// (default 8: seven backoffs, about 29 minutes in all; 1 to 32767). Only retryable
    /// failures use them; each attempt is in the flow's run history.
    pub max_attempts: u16,
    /// How far ahead of now each scheduler tick enqueues a timed trigger's runs, each with
    /// its instant as the job's start (default 90 s). Ticks come once a minute, so this is
    /// what lets an `every` of less than a minute run on time.
    #[serde(rename = "tick_lookahead_ms", with = "duration_ms")]
    pub tick_lookahead: Duration,
    /// How late an instant may be found by a tick and still run as on time (default 120 s);
    /// instants found later than this were missed (downtime) and follow the trigger's
    /// [`CatchUp`](crate::CatchUp).
    #[serde(rename = "overdue_grace_ms", with = "duration_ms")]
    pub overdue_grace: Duration,
    /// How long accepted records are kept in the intake table (default 30 days; at least an
    /// hour). An event redelivered after that is accepted again, and the flow's claim then
    /// answers it as a duplicate.
    #[serde(rename = "intake_retention_ms", with = "duration_ms")]
    pub intake_retention: Duration,
    /// Whether this node's workers run the minute tick that schedules timed triggers
    /// (default `true`). The tick runs once a minute for the whole cluster, whichever node
    /// wins; turn it off only where the host calls [`Cluster::tick`](super::Cluster::tick).
    pub cron_tick: bool,
    /// The first wait before a worker that stopped on a database error is started again
    /// (default 1 s); it doubles up to [`ClusterConfig::max_restart_backoff`].
    #[serde(rename = "restart_backoff_ms", with = "duration_ms")]
    pub restart_backoff: Duration,
    /// The longest wait between restarts (default 60 s).
    #[serde(rename = "max_restart_backoff_ms", with = "duration_ms")]
    pub max_restart_backoff: Duration,
    /// Which step reports go to the flows' run history (default: every one).
    pub history: StepHistory,
    /// How many graphile_worker queues the records are spread over by recipient (default
    /// 256; 1 to 4096). A recipient's records always go to the same queue, which runs one
    /// job at a time, so they are sent in the order they were accepted; records of
    /// recipients in different queues run side by side. More queues let more records of a
    /// backlog run at once across the cluster, at a cost on every job fetch: graphile_worker
    /// locks each idle queue's row while it looks for a job.
    ///
    /// The first node to start on the cluster's tables records its value there, and a node
    /// configured with another one is refused: nodes that spread recipients differently
    /// could run one recipient's records in two queues at once. To change it, stop the
    /// nodes, let the queues drain, and update `recipient_queues` in `cluster_settings`.
    pub recipient_queues: u32,
    /// Crashed-worker recovery, on for every node.
    pub recovery: RecoveryConfig,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            jobs_schema: "hubflow_jobs".to_owned(),
            tables_schema: "hubflow".to_owned(),
            concurrency: 8,
            worker_connections: None,
            poll_interval: Duration::from_millis(100),
            notifications: true,
            fetch_batch: 32,
            grace_period: Duration::from_secs(30),
            interrupted_retry_delay: Duration::from_secs(5),
            max_attempts: 8,
            tick_lookahead: Duration::from_secs(90),
            overdue_grace: Duration::from_secs(120),
            intake_retention: Duration::from_secs(30 * 24 * 3600),
            cron_tick: true,
            restart_backoff: Duration::from_secs(1),
            max_restart_backoff: Duration::from_secs(60),
            history: StepHistory::Every,
            recipient_queues: 256,
            recovery: RecoveryConfig::default(),
        }
    }
}

/// Which of a cluster's step reports (one per accepted record it runs) are appended to the
/// flows' run history ([`Flow::history`](crate::Flow::history)).
///
/// At scale a report per message is the largest row a delivery writes: with
/// [`StepHistory::Problems`] a delivery costs one commit less, and the cluster bench
/// delivers about a third more per second (docs/performance.md). What a delivered record
/// leaves then is its claim, done, with the provider's receipt
/// ([`ClaimStore::peek_claim`](crate::ClaimStore::peek_claim)).
///
/// ```
/// use hubflow::cluster::{ClusterConfig, StepHistory};
/// let config: ClusterConfig = serde_json::from_str(r#"{"history": "problems"}"#).unwrap();
/// assert_eq!(config.history, StepHistory::Problems);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StepHistory {
    /// Every step's report, as [`Flow::process`](crate::Flow::process) records it.
    #[default]
    Every,
    /// Only the reports that need a person or explain a retry: a record that failed
    /// (retryable or a dead letter), one found in flight elsewhere, or a report with a
    /// warning (e.g. a store that did not answer). Deliveries, skips and duplicates of
    /// finished deliveries are left out.
    Problems,
}

impl StepHistory {
    /// Whether `report` goes to the run history.
    pub(crate) fn keeps(self, report: &crate::RunReport) -> bool {
        use crate::Outcome;
        match self {
            StepHistory::Every => true,
            StepHistory::Problems => {
                !report.warnings.is_empty()
                    || report.records.iter().any(|line| match &line.outcome {
                        Outcome::Delivered { .. } | Outcome::Skipped { .. } => false,
                        Outcome::Duplicate { receipt, .. } => receipt.is_none(),
                        Outcome::Failed { .. } => true,
                    })
            }
        }
    }
}

/// How the cluster finds workers that died (a crash, a SIGKILL, a lost machine) and gives
/// their jobs to others. Every worker writes a heartbeat; one at a time sweeps the workers
/// whose heartbeat is older than the threshold, unlocks their jobs (the lost attempt does not
/// count) and lets them run again after the recovery delay.
///
/// A job that runs longer than `sweep_threshold` on a node whose heartbeats stopped is taken
/// over, so the threshold must exceed the heartbeat interval by a comfortable margin.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RecoveryConfig {
    /// How often each worker writes its heartbeat (default 30 s).
    #[serde(rename = "heartbeat_interval_ms", with = "duration_ms")]
    pub heartbeat_interval: Duration,
    /// How often a worker looks for dead ones (default 60 s).
    #[serde(rename = "sweep_interval_ms", with = "duration_ms")]
    pub sweep_interval: Duration,
    /// How old a heartbeat makes a worker dead (default 5 minutes; more than the heartbeat
    /// interval).
    #[serde(rename = "sweep_threshold_ms", with = "duration_ms")]
    pub sweep_threshold: Duration,
    /// When a dead worker's jobs run again (default 30 s).
    #[serde(rename = "recovery_delay_ms", with = "duration_ms")]
    pub recovery_delay: Duration,
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        RecoveryConfig {
            heartbeat_interval: Duration::from_secs(30),
            sweep_interval: Duration::from_secs(60),
            sweep_threshold: Duration::from_secs(300),
            recovery_delay: Duration::from_secs(30),
        }
    }
}

impl RecoveryConfig {
    /// Sets the heartbeat interval.
    #[must_use]
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat_interval = interval;
        self
    }

    /// Sets how often dead workers are looked for.
    #[must_use]
    pub fn sweep_interval(mut self, interval: Duration) -> Self {
        self.sweep_interval = interval;
        self
    }

    /// Sets how old a heartbeat makes a worker dead.
    #[must_use]
    pub fn sweep_threshold(mut self, threshold: Duration) -> Self {
        self.sweep_threshold = threshold;
        self
    }

    /// Sets when a dead worker's jobs run again.
    #[must_use]
    pub fn recovery_delay(mut self, delay: Duration) -> Self {
        self.recovery_delay = delay;
        self
    }
}

/// The most lookahead a tick may use: it bounds the runs one tick enqueues.
const MAX_LOOKAHEAD: Duration = Duration::from_secs(3600);

impl ClusterConfig {
    /// Sets graphile_worker's schema.
    #[must_use]
    pub fn jobs_schema(mut self, schema: impl Into<String>) -> Self {
        self.jobs_schema = schema.into();
        self
    }

    /// Sets the schema of the cluster's own tables.
    #[must_use]
    pub fn tables_schema(mut self, schema: impl Into<String>) -> Self {
        self.tables_schema = schema.into();
        self
    }

    /// Sets how many jobs a worker runs at once.
    #[must_use]
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Sets the size of each worker's own pool.
    #[must_use]
    pub fn worker_connections(mut self, n: u32) -> Self {
        self.worker_connections = Some(n);
        self
    }

    /// Sets the poll interval.
    #[must_use]
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Turns notification delivery on or off.
    #[must_use]
    pub fn notifications(mut self, on: bool) -> Self {
        self.notifications = on;
        self
    }

    /// Sets the shutdown grace period.
    #[must_use]
    pub fn grace_period(mut self, period: Duration) -> Self {
        self.grace_period = period;
        self
    }

    /// Sets when a job cut short by a shutdown runs again.
    #[must_use]
    pub fn interrupted_retry_delay(mut self, delay: Duration) -> Self {
        self.interrupted_retry_delay = delay;
        self
    }

    /// Sets the attempts at an accepted record's job.
    #[must_use]
    pub fn max_attempts(mut self, n: u16) -> Self {
        self.max_attempts = n;
        self
    }

    /// Sets how far ahead a tick enqueues timed runs.
    #[must_use]
    pub fn tick_lookahead(mut self, lookahead: Duration) -> Self {
        self.tick_lookahead = lookahead;
        self
    }

    /// Sets how late an instant may be and still run as on time.
    #[must_use]
    pub fn overdue_grace(mut self, grace: Duration) -> Self {
        self.overdue_grace = grace;
        self
    }

    /// Sets how long accepted records are kept.
    #[must_use]
    pub fn intake_retention(mut self, retention: Duration) -> Self {
        self.intake_retention = retention;
        self
    }

    /// Turns this node's minute tick on or off.
    #[must_use]
    pub fn cron_tick(mut self, on: bool) -> Self {
        self.cron_tick = on;
        self
    }

    /// Sets the first and the longest wait between restarts of a failed worker.
    #[must_use]
    pub fn restart_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.restart_backoff = first;
        self.max_restart_backoff = max;
        self
    }

    /// Sets [`ClusterConfig::history`].
    #[must_use]
    pub fn history(mut self, history: StepHistory) -> Self {
        self.history = history;
        self
    }

    /// Sets [`ClusterConfig::fetch_batch`].
    #[must_use]
    pub fn fetch_batch(mut self, jobs: usize) -> Self {
        self.fetch_batch = jobs;
        self
    }

    /// Sets [`ClusterConfig::recipient_queues`].
    #[must_use]
    pub fn recipient_queues(mut self, n: u32) -> Self {
        self.recipient_queues = n;
        self
    }

    /// Sets crashed-worker recovery.
    #[must_use]
    pub fn recovery(mut self, recovery: RecoveryConfig) -> Self {
        self.recovery = recovery;
        self
    }

    /// Every problem that makes the configuration unusable, as `field: what is wrong`.
    pub(crate) fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut problem = |field: &str, message: &str| problems.push(format!("{field}: {message}"));
        for (field, schema) in [
            ("jobs_schema", &self.jobs_schema),
            ("tables_schema", &self.tables_schema),
        ] {
            if !is_schema_name(schema) {
                problem(
                    field,
                    "must be 1 to 63 characters of lower-case letters, digits and `_`, \
                     not starting with a digit",
                );
            }
        }
        if self.jobs_schema == self.tables_schema {
            problem(
                "jobs_schema",
                "must differ from tables_schema: graphile_worker's tables need a schema of their own",
            );
        }
        if self.concurrency == 0 {
            problem("concurrency", "must be at least 1");
        }
        if self.worker_connections == Some(0) {
            problem("worker_connections", "must be at least 1");
        }
        if self.poll_interval.is_zero() {
            problem("poll_interval_ms", "must be more than 0");
        }
        if self.max_attempts == 0 || i16::try_from(self.max_attempts).is_err() {
            problem("max_attempts", "must be from 1 to 32767");
        }
        if self.tick_lookahead > MAX_LOOKAHEAD {
            problem("tick_lookahead_ms", "must be at most an hour (3600000)");
        }
        if self.intake_retention < Duration::from_secs(3600) {
            problem(
                "intake_retention_ms",
                "must be at least an hour (3600000): a record must outlive its retries",
            );
        }
        if self.restart_backoff.is_zero() {
            problem("restart_backoff_ms", "must be more than 0");
        }
        if self.max_restart_backoff < self.restart_backoff {
            problem(
                "max_restart_backoff_ms",
                "must not be less than restart_backoff_ms",
            );
        }
        if i32::try_from(self.fetch_batch).is_err() {
            problem("fetch_batch", "must be at most 2147483647");
        }
        if !(1..=MAX_RECIPIENT_QUEUES).contains(&self.recipient_queues) {
            problem("recipient_queues", "must be from 1 to 4096");
        }
        let recovery = &self.recovery;
        if recovery.heartbeat_interval.is_zero() {
            problem("recovery.heartbeat_interval_ms", "must be more than 0");
        }
        if recovery.sweep_interval.is_zero() {
            problem("recovery.sweep_interval_ms", "must be more than 0");
        }
        if recovery.sweep_threshold <= recovery.heartbeat_interval {
            problem(
                "recovery.sweep_threshold_ms",
                "must be more than heartbeat_interval_ms, or live workers are taken for dead",
            );
        }
        problems
    }
}

/// The most recipient queues a cluster may have: each is a row that every job fetch locks
/// while it is idle.
const MAX_RECIPIENT_QUEUES: u32 = 4096;

/// Whether `name` is a schema name the cluster accepts: the same rule as the PostgreSQL
/// store's (plain lower-case identifiers only), so that it can be written into SQL without
/// quoting and reads the same unquoted.
pub(crate) use crate::store::valid_schema_name as is_schema_name;

#[cfg(test)]
mod tests;
