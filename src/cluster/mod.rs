//! Many workers on one PostgreSQL database: the [`Cluster`] (feature `graphile`).
//!
//! A cluster runs a set of [`Flow`]s on every node that builds it, over a job queue in
//! PostgreSQL ([graphile_worker](https://docs.rs/graphile_worker) 0.14): a record accepted
//! by any node is delivered once, by whichever worker takes its job, and a worker that dies
//! mid-job has its jobs taken over by the others.
//!
//! ```text
//! webhook ──▶ Cluster::accept ──(one transaction)──▶ intake row + hubflow_flow_step job
//!                                                          │ any worker, one at a time per recipient
//!                                                          ▼
//!                                   Flow::process(record) ──▶ completed, or retried
//! minute tick (one per cluster) ──▶ scheduler ──▶ hubflow_flow_run jobs at each due instant
//!                                                          ▼
//!                                                     Flow::run
//! ```
//!
//! # Intake
//!
//! [`Cluster::accept`] writes the record into the `intake` table and adds its step job in
//! one transaction; when it returns the record is durable, so a webhook handler answers 200
//! after it (and 5xx on an error, so that the provider delivers again). The same event
//! (flow id, record key) accepted twice is [`Accepted::Duplicate`], with no second job,
//! at any later time (within [`ClusterConfig::intake_retention`]).
//! [`Cluster::accept_in`] does the same inside the host's own transaction.
//!
//! The job's payload is `{"flow": <flow id>, "event": <record key>}` only: graphile_worker
//! logs payloads and keeps them in its tables, so the record itself stays in `intake`.
//!
//! # Outcomes and retries
//!
//! A step job runs [`Flow::process`] on its record, with the flow's own retries. Delivered,
//! skipped, and duplicates of a finished delivery complete the job. A retryable failure (the
//! flow's retries spent) and a duplicate whose delivery is still in flight elsewhere fail
//! it: graphile_worker runs it again after its backoff (2.7 s, 7.4 s, 20 s, … up to
//! [`ClusterConfig::max_attempts`]). A permanent failure completes the job: graphile_worker
//! cannot fail a running job for good, and the record is in the flow's run history
//! ([`Flow::history`]) as a dead letter. Messages stored with failed jobs name the stage and
//! the provider's status and code, never record data or secrets.
//!
//! # Order per recipient
//!
//! A record whose action messages someone ([`PreparedAction::recipient`](crate::PreparedAction::recipient),
//! planned at intake) gets the queue `hubflow:r:<hash>` of that recipient: one job of a
//! queue runs at a time in the whole cluster, in order of acceptance. The hash is an
//! HMAC-SHA256 of the recipient under a key the database draws when the cluster's tables are
//! created, so graphile_worker's queue table holds no phone number, nor a hash that can be
//! reversed by trying every number. Records without a recipient run in no queue, in parallel.
//! The order holds while jobs succeed: a failed job goes back with a backoff and the
//! recipient's later records may pass it.
//!
//! # Rate limits
//!
//! Provider limits count per sender, not per process: a WhatsApp number's 80 messages a
//! second hold for all workers together. Unless the context passed to
//! [`Cluster::builder`] has a [`RateStore`](crate::RateStore) of its own
//! ([`Context::with_rates`]), the cluster gives its flows one on its database (a
//! [`PgStore`] in [`ClusterConfig::tables_schema`]), so every
//! [shared](crate::RateLimiter::shared) limiter takes its slots there.
//!
//! # Timed triggers
//!
//! Every node's worker has one graphile_worker cron entry, `hubflow_tick`, every minute;
//! graphile_worker runs it once a minute for the whole cluster. The tick runs hubflow's own
//! scheduler for flows with a timed [`Trigger`](crate::Trigger) (`every`, `daily`, in their
//! time zones) and a source: each due instant is enqueued once, however many workers tick,
//! as a `hubflow_flow_run` job starting at that instant (enqueued up to
//! [`ClusterConfig::tick_lookahead`] ahead, which is what runs an `every` of a few seconds
//! between ticks). A flow's runs share a queue, so they never overlap. After downtime, the
//! missed instants follow the trigger's [`CatchUp`](crate::CatchUp) (default: run the
//! latest once). [`Cluster::tick`] runs the scheduler at once; [`Cluster::enqueue_run`]
//! queues a run now.
//!
//! # Workers, shutdown, recovery
//!
//! [`Cluster::run`] runs a worker until [`Cluster::shutdown`]: it takes jobs
//! ([`ClusterConfig::concurrency`] at a time) over a connection pool of its own, and if the
//! database fails under it, it is started again after a backoff, on a fresh pool. It installs no signal handler: the host decides when to
//! stop. On shutdown, jobs in flight get [`ClusterConfig::grace_period`] to finish and are
//! given back otherwise. Every worker writes a heartbeat; one whose heartbeat stops (a crash,
//! a SIGKILL) has its jobs unlocked and run elsewhere ([`RecoveryConfig`]). A record whose
//! send was cut short by a crash finds its claim in flight: the flow's
//! [`OnUnknown`](crate::OnUnknown) decides once the claim's lease runs out.
//!
//! # Tables
//!
//! graphile_worker's tables live in [`ClusterConfig::jobs_schema`] (`hubflow_jobs`), the
//! cluster's own in [`ClusterConfig::tables_schema`] (`hubflow`): `intake`,
//! `trigger_state`, `cluster_settings`, `cluster_schema_version`. [`ClusterBuilder::build`]
//! creates or checks both (one transaction under an advisory lock for hubflow's; a version
//! newer than this hubflow knows is refused with [`ClusterError::SchemaTooNew`]). It needs
//! PostgreSQL 13 or later and the right to create schemas the first time. Once a day a tick
//! deletes intake rows older than the retention and graphile_worker's unused queue rows.
//!
//! # Example
//!
//! ```no_run
//! use hubflow::cluster::{Accepted, Cluster, ClusterConfig};
//! use hubflow::http::ReqwestClient;
//! use hubflow::{Context, Flow, PgStore, Record, TokioClock};
//! # async fn example(flow: Flow) -> Result<(), Box<dyn std::error::Error>> {
//! let pool = sqlx::PgPool::connect(&std::env::var("DATABASE_URL")?).await?;
//! // The flows' claims, cursors, state and history in the same database.
//! let store = PgStore::from_pool(pool.clone()).await?;
//! let ctx = Context::new(ReqwestClient::new()?, TokioClock, store);
//! let cluster = Cluster::builder(pool, ctx)
//!     .flow(flow)
//!     .config(ClusterConfig::default().concurrency(16))
//!     .build()
//!     .await?;
//!
//! // In the webhook handler: answer 200 once this returns, 5xx on an error.
//! let record = Record::new("wamid.HBgL", "whatsapp.message", serde_json::json!({"text": "hi"}));
//! match cluster.accept("replies", record).await? {
//!     Accepted::Queued | Accepted::Duplicate => {}
//!     _ => {}
//! }
//!
//! // On every node, until the host calls `cluster.shutdown()` (e.g. on SIGTERM).
//! cluster.run().await?;
//! # Ok(())
//! # }
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use graphile_worker::{
    Cron, JobSpec, LocalQueueConfig, WorkerBuildError, WorkerOptions, WorkerRecoveryConfig,
    WorkerUtils,
};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use crate::store::group::Group;
use crate::{Context, Flow, PgStore, PgStoreOptions, Record};

mod config;
mod error;
mod intake;
mod outcome;
mod queue;
mod schedule;
mod sql;
mod tasks;

pub use config::{ClusterConfig, RecoveryConfig, StepHistory};
pub use error::ClusterError;

use sql::Tables;
use tasks::{ClusterState, FlowRun, FlowStep, Tick};

/// What [`Cluster::accept`] did with a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Accepted {
    /// New: the record is stored and its job queued.
    Queued,
    /// This flow accepted the record's key before: nothing was added.
    Duplicate,
}

/// A run the scheduler enqueued.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub struct ScheduledRun {
    /// The flow's id.
    pub flow: String,
    /// The trigger's instant the run is for (its job starts then).
    pub due: DateTime<Utc>,
}

/// What one scheduler tick ([`Cluster::tick`]) did.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct TickReport {
    /// The runs it enqueued, per flow oldest first.
    pub scheduled: Vec<ScheduledRun>,
    /// Whether this tick did the cluster's daily maintenance (one tick a day does).
    pub maintenance: bool,
}

/// Flows run by many workers over one PostgreSQL database; see the [module](self).
///
/// Cheap to clone: clones share one cluster. Every node builds one with the same flows and
/// configuration, feeds it with [`accept`](Cluster::accept) and calls
/// [`run`](Cluster::run).
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

/// What the cluster's methods and tasks share.
pub(crate) struct Inner {
    pool: PgPool,
    ctx: Context,
    flows: BTreeMap<String, Flow>,
    config: ClusterConfig,
    tables: Tables,
    utils: WorkerUtils,
    queue_key: Vec<u8>,
    stop: watch::Sender<bool>,
    /// Where step jobs read their records, and the reads queued to share a statement.
    intake: tasks::Intake,
    intake_reads: Group<tasks::IntakeRead>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("flows", &self.inner.flows.keys().collect::<Vec<_>>())
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Cluster`]: flows and configuration, then [`build`](ClusterBuilder::build).
#[must_use]
pub struct ClusterBuilder {
    pool: PgPool,
    ctx: Context,
    flows: Vec<Flow>,
    config: ClusterConfig,
}

impl fmt::Debug for ClusterBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterBuilder")
            .field(
                "flows",
                &self.flows.iter().map(Flow::id).collect::<Vec<_>>(),
            )
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl ClusterBuilder {
    /// Adds a flow; its id names it in [`Cluster::accept`] and in the tables.
    pub fn flow(mut self, flow: Flow) -> Self {
        self.flows.push(flow);
        self
    }

    /// Adds flows.
    pub fn flows(mut self, flows: impl IntoIterator<Item = Flow>) -> Self {
        self.flows.extend(flows);
        self
    }

    /// Sets the configuration (default: [`ClusterConfig::default`]).
    pub fn config(mut self, config: ClusterConfig) -> Self {
        self.config = config;
        self
    }

    /// Checks the configuration and the flows, then creates or checks the cluster's tables
    /// and graphile_worker's schema.
    ///
    /// Fails with [`ClusterError::InvalidConfig`] (every problem listed, or a
    /// `recipient_queues` other than the one the cluster's tables record),
    /// [`ClusterError::DuplicateFlow`], [`ClusterError::InvalidFlow`] (a timed trigger
    /// without a source to poll; a claim lease longer than the job's retries, which would
    /// leave a record found in flight without attempts once the lease ends),
    /// [`ClusterError::SchemaTooNew`],
    /// [`ClusterError::JobsIncompatible`], or a database error.
    pub async fn build(self) -> Result<Cluster, ClusterError> {
        let problems = self.config.problems();
        if !problems.is_empty() {
            return Err(ClusterError::InvalidConfig(problems));
        }
        let span = retry_span(self.config.max_attempts);
        let mut flows = BTreeMap::new();
        for flow in self.flows {
            if flow.trigger().is_timed() && !flow.has_source() {
                return Err(ClusterError::InvalidFlow {
                    flow: flow.id().to_owned(),
                    reason: "its trigger is timed, but it has no source for a run to poll"
                        .to_owned(),
                });
            }
            if flow.delivery().claim_lease >= span {
                return Err(ClusterError::InvalidFlow {
                    flow: flow.id().to_owned(),
                    reason: format!(
                        "its claim lease ({} s) outlasts the job's retries ({} s over {} attempts): \
                         a record found in flight would run out of attempts before the lease \
                         lets the flow decide; shorten the lease or raise max_attempts",
                        flow.delivery().claim_lease.as_secs(),
                        span.as_secs(),
                        self.config.max_attempts
                    ),
                });
            }
            let id = flow.id().to_owned();
            if flows.insert(id.clone(), flow).is_some() {
                return Err(ClusterError::DuplicateFlow(id));
            }
        }
        let tables = Tables::new(&self.config.tables_schema);
        sql::migrate(&self.pool, &tables).await?;
        let utils = WorkerUtils::new(self.pool.clone(), self.config.jobs_schema.as_str());
        utils
            .migrate()
            .await
            .map_err(|e| jobs_migration_error(&self.config.jobs_schema, e))?;
        let (queue_key, recipient_queues): (String, i32) =
            sqlx::query_as(tables.settle_settings.sql())
                .bind(i32::try_from(self.config.recipient_queues).unwrap_or(i32::MAX))
                .fetch_one(&self.pool)
                .await
                .map_err(|e| ClusterError::database("reading the cluster settings", e))?;
        if i64::from(recipient_queues) != i64::from(self.config.recipient_queues) {
            return Err(ClusterError::InvalidConfig(vec![format!(
                "recipient_queues: this node is configured with {}, but the cluster's tables \
                 in `{}` were set up with {recipient_queues}; every node must spread \
                 recipients over the same queues",
                self.config.recipient_queues, self.config.tables_schema
            )]));
        }
        // Meta limits a number, not a process: unless the host chose a rate store, the
        // workers share their rate-limit slots through the cluster's database.
        let ctx = match self.ctx.rates() {
            Some(_) => self.ctx,
            None => {
                let rates = PgStore::from_pool_with(
                    self.pool.clone(),
                    PgStoreOptions::new().schema(&self.config.tables_schema),
                )
                .await
                .map_err(|e| ClusterError::Database {
                    what: "preparing the shared rate limits",
                    source: Box::new(e),
                })?;
                self.ctx.with_rates(rates)
            }
        };
        let (stop, _) = watch::channel(false);
        let intake = tasks::Intake {
            pool: self.pool.clone(),
            select: tables.select_intake.clone(),
        };
        Ok(Cluster {
            inner: Arc::new(Inner {
                pool: self.pool,
                ctx,
                flows,
                config: self.config,
                tables,
                utils,
                queue_key: queue_key.into_bytes(),
                stop,
                intake,
                intake_reads: Group::default(),
            }),
        })
    }
}

/// How long jobs fetched in a batch may wait in a worker before it hands them back for
/// any worker to take: short, so that a busy worker does not sit on jobs an idle one could
/// run.
const LOCAL_JOB_TTL: Duration = Duration::from_secs(30);

/// How a worker's batched fetching waits after a fetch that found nothing.
///
/// graphile_worker 0.14's batched fetch loop wakes itself when a fetch ends, so a worker
/// whose batch ran out fetches again at once, and again, until a job turns up: the poll
/// interval never applies: an idle worker queried the jobs table about 1,700 times a
/// second (`an_idle_worker_fetches_about_once_per_poll`), and with a backlog whose
/// recipient queues are all busy the cluster bench counted a dozen empty fetches per
/// delivery, the database's largest cost. This pause makes an
/// empty fetch wait for the poll interval (graphile_worker draws half to all of it), and
/// the first new job's notification ends the pause, so a job added is still fetched at
/// once; only a job freed by its queue's previous job finishing waits up to a poll.
fn idle_fetch_pause(poll_interval: Duration) -> graphile_worker::RefetchDelayConfig {
    graphile_worker::RefetchDelayConfig::default()
        .with_duration(poll_interval)
        .with_threshold(0)
        .with_max_abort_threshold(1)
}

/// How long a worker gathers job completions before writing them in one statement. A
/// worker that dies in between loses those completions: the jobs run again, and their
/// records' claims answer them as duplicates of the finished deliveries.
const COMPLETION_BATCH_DELAY: Duration = Duration::from_millis(2);

/// How long graphile_worker's retries of a job span with `max_attempts`: after attempt `a`
/// it waits `exp(min(a, 10))` seconds.
fn retry_span(max_attempts: u16) -> Duration {
    let seconds: f64 = (1..max_attempts)
        .map(|attempt| f64::from(attempt.min(10)).exp())
        .sum();
    Duration::from_secs_f64(seconds)
}

/// graphile_worker's migration error as the cluster's: incompatible schemas are permanent.
fn jobs_migration_error(
    schema: &str,
    error: graphile_worker_migrations::MigrateError,
) -> ClusterError {
    use graphile_worker_migrations::MigrateError;
    match error {
        MigrateError::IncompatibleVersion(_) | MigrateError::IncompatbleRevision { .. } => {
            ClusterError::JobsIncompatible {
                schema: schema.to_owned(),
                reason: error.to_string(),
            }
        }
        other => ClusterError::jobs("migrating the job queue's schema", other),
    }
}

impl Cluster {
    /// Starts building a cluster over `pool` (PostgreSQL 13 or later) whose flows run with
    /// `ctx`. The pool serves intake, the scheduler and the tasks' reads of accepted
    /// records (and, when the context's store is a PostgreSQL store on it, the flows'
    /// claims: size it for that). Each [`run`](Cluster::run) opens a pool of its own for
    /// graphile_worker on the same connect options
    /// ([`ClusterConfig::worker_connections`]).
    pub fn builder(pool: PgPool, ctx: Context) -> ClusterBuilder {
        ClusterBuilder {
            pool,
            ctx,
            flows: Vec::new(),
            config: ClusterConfig::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ClusterConfig {
        &self.inner.config
    }

    /// The flow with this id, if the cluster has it.
    pub fn flow(&self, id: &str) -> Option<&Flow> {
        self.inner.flows.get(id)
    }

    /// Accepts a record pushed for the flow `flow_id`: stores it and queues its job, in one
    /// transaction. [`Accepted::Duplicate`] when the flow accepted this record key before.
    ///
    /// When it returns `Ok`, the record is durable: answer the webhook with 200. On an error
    /// nothing was accepted: answer with an error status so that the provider delivers
    /// again. Fails with [`ClusterError::UnknownFlow`] for an id the cluster does not have.
    pub async fn accept(&self, flow_id: &str, record: Record) -> Result<Accepted, ClusterError> {
        let inner = self.inner.clone();
        let flow_id = flow_id.to_owned();
        // On a task of its own, so that a caller that gives up (a webhook client hanging
        // up drops the handler's future) cannot cut the transaction short: sqlx 0.9 leaves
        // a connection whose `BEGIN` was cancelled inside a transaction nobody ends, and
        // hands it to the pool's next user.
        detached("accepting a record", async move {
            let what = "accepting a record";
            let mut tx = inner
                .pool
                .begin()
                .await
                .map_err(|e| ClusterError::database(what, e))?;
            let accepted = inner.accept_in(&mut tx, &flow_id, &record).await?;
            tx.commit()
                .await
                .map_err(|e| ClusterError::database(what, e))?;
            Ok(accepted)
        })
        .await
    }

    /// [`accept`](Cluster::accept) inside the host's own transaction on `conn` (e.g.
    /// `&mut *tx` of a `sqlx::Transaction`), so that the record is accepted exactly when the
    /// host's own writes commit. The host commits; until then no worker sees the job.
    ///
    /// Each accepted record holds a lock on its key until the transaction ends: keep the
    /// transaction short. Records accepted in one transaction keep their order in a
    /// recipient's queue.
    pub async fn accept_in(
        &self,
        conn: &mut PgConnection,
        flow_id: &str,
        record: &Record,
    ) -> Result<Accepted, ClusterError> {
        self.inner.accept_in(conn, flow_id, record).await
    }

    /// Queues a run of the flow `flow_id` now ([`Flow::run`] on some worker): a manual
    /// trigger, an operator's button. It waits for a run of the flow in progress.
    pub async fn enqueue_run(&self, flow_id: &str) -> Result<(), ClusterError> {
        if !self.inner.flows.contains_key(flow_id) {
            return Err(ClusterError::UnknownFlow(flow_id.to_owned()));
        }
        let spec = JobSpec::builder()
            .queue_name(queue::flow_queue(flow_id))
            .max_attempts(1)
            .build();
        self.inner
            .utils
            .add_job(FlowRun::now(flow_id), spec)
            .await
            .map_err(|e| ClusterError::jobs("queueing a flow's run", e))?;
        Ok(())
    }

    /// Runs the scheduler once, now (by the context's clock), as the minute tick does:
    /// enqueues the timed flows' runs that are due, and once a day the maintenance. Safe to
    /// call on any node at any time: each instant is enqueued once.
    pub async fn tick(&self) -> Result<TickReport, ClusterError> {
        Inner::tick(self.inner.clone()).await
    }

    /// Runs a worker on this node until [`shutdown`](Cluster::shutdown): takes jobs, runs
    /// the minute tick (unless [`ClusterConfig::cron_tick`] is off), writes heartbeats and
    /// recovers dead workers' jobs.
    ///
    /// When the database fails under the worker, it is started again after a backoff
    /// ([`ClusterConfig::restart_backoff`]), as long as it takes; errors that retrying cannot
    /// mend (an incompatible schema) end it with `Err`. It returns `Ok` after a shutdown,
    /// once jobs in flight finished or the grace period ended. Several `run`s, in one process
    /// or many, share the work.
    pub async fn run(&self) -> Result<(), ClusterError> {
        let config = &self.inner.config;
        let mut stop = self.inner.stop.subscribe();
        let mut backoff = config.restart_backoff;
        loop {
            if *stop.borrow_and_update() {
                return Ok(());
            }
            let started = tokio::time::Instant::now();
            let pool = self.worker_pool();
            let result = self.run_worker(pool.clone(), stopped(stop.clone())).await;
            // graphile_worker aborts its heartbeat and sweep tasks when a worker stops,
            // possibly inside a `BEGIN`, which sqlx 0.9 then leaves open on a pooled
            // connection. Closing the worker's own pool ends such sessions.
            let closing = config.grace_period + Duration::from_secs(5);
            if tokio::time::timeout(closing, pool.close()).await.is_err() {
                tracing::warn!("a stopped worker's connections did not close in time");
            }
            let failure = match result {
                Ok(()) => return Ok(()),
                Err(error) if !error.is_transient() => return Err(error),
                Err(error) => error,
            };
            if *stop.borrow() {
                return Ok(());
            }
            // A worker that ran a while was healthy: its failure starts the backoff afresh.
            if started.elapsed() > config.max_restart_backoff {
                backoff = config.restart_backoff;
            }
            tracing::warn!(
                error = %failure,
                cause = %failure_cause(&failure),
                restart_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                "a hubflow cluster worker stopped; starting it again"
            );
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stop.wait_for(|stopped| *stopped) => return Ok(()),
            }
            backoff = (backoff * 2).min(config.max_restart_backoff);
        }
    }

    /// Starts one graphile_worker worker on `pool` and runs it until it stops: `Ok` when
    /// asked to stop, else why it stopped.
    async fn run_worker(
        &self,
        pool: PgPool,
        stop_signal: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ClusterError> {
        let config = &self.inner.config;
        let stop = self.inner.stop.subscribe();
        match self.worker(pool, stop_signal).init().await {
            Err(e) => Err(build_error(&config.jobs_schema, e)),
            Ok(worker) => match worker.run().await {
                Ok(()) if *stop.borrow() => Ok(()),
                Ok(()) => Err(ClusterError::jobs(
                    "running a worker",
                    std::io::Error::other("the worker stopped without being asked to"),
                )),
                Err(e) => Err(ClusterError::jobs("running a worker", e)),
            },
        }
    }

    /// A pool of the worker's own, on the connect options of the cluster's pool (its
    /// address, credentials, TLS, application name; not its hooks).
    fn worker_pool(&self) -> PgPool {
        let config = &self.inner.config;
        let size = config.worker_connections.unwrap_or_else(|| {
            u32::try_from(config.concurrency)
                .unwrap_or(u32::MAX)
                .saturating_add(WORKER_EXTRA_CONNECTIONS)
        });
        sqlx::postgres::PgPoolOptions::new()
            .max_connections(size.max(1))
            .connect_lazy_with((*self.inner.pool.connect_options()).clone())
    }

    /// Asks every [`run`](Cluster::run) of this cluster (and its clones) to stop: no new
    /// jobs; jobs in flight get the grace period. Returns at once; `run` returns when the
    /// worker has stopped. A `run` called afterwards returns at once.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }

    /// graphile_worker's options for one worker of this cluster, on `pool`.
    fn worker(
        &self,
        pool: PgPool,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> WorkerOptions {
        let config = &self.inner.config;
        let recovery = &config.recovery;
        let options = WorkerOptions::default()
            .pg_pool(pool)
            .schema(config.jobs_schema.as_str())
            // Validated at build: graphile_worker panics on 0.
            .concurrency(config.concurrency.max(1))
            .poll_interval(config.poll_interval)
            .use_notification_delivery(config.notifications)
            // A library must not take the process's SIGINT/SIGTERM from its host.
            .listen_os_shutdown_signals(false)
            .shutdown_signal(stop)
            .shutdown_grace_period(config.grace_period)
            .shutdown_interrupted_job_retry_delay(config.interrupted_retry_delay)
            .worker_recovery(
                WorkerRecoveryConfig::default()
                    .heartbeat_interval(recovery.heartbeat_interval)
                    .sweep_interval(recovery.sweep_interval)
                    .sweep_threshold(recovery.sweep_threshold)
                    .recovery_delay(recovery.recovery_delay)
                    .enabled(true),
            )
            .add_extension(ClusterState(self.inner.clone()))
            .define_job::<FlowStep>()
            .define_job::<FlowRun>()
            .define_job::<Tick>();
        let options = match config.fetch_batch {
            0 => options,
            size => options.local_queue(
                LocalQueueConfig::default()
                    .with_size(size)
                    .with_ttl(LOCAL_JOB_TTL)
                    .with_refetch_delay(idle_fetch_pause(config.poll_interval)),
            ),
        }
        .complete_job_batch_delay(COMPLETION_BATCH_DELAY);
        if !config.cron_tick {
            return options;
        }
        options.with_cron(
            Cron::every_minute::<Tick>()
                .id(<Tick as graphile_worker::TaskHandler>::IDENTIFIER)
                .max_attempts(1)
                .payload_value(serde_json::json!({})),
        )
    }
}

/// A future that completes when the cluster is asked to stop (or dropped).
async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

/// graphile_worker's start-up error as the cluster's.
fn build_error(schema: &str, error: WorkerBuildError) -> ClusterError {
    match error {
        WorkerBuildError::MigrationError(e) => jobs_migration_error(schema, e),
        other => ClusterError::jobs("starting a worker", other),
    }
}

/// The underlying error's message, for the log line of a restart.
fn failure_cause(error: &ClusterError) -> String {
    std::error::Error::source(error)
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// The connections a worker's pool has beyond one per job slot: the notification listener,
/// the heartbeat, the sweep and the cron loop.
const WORKER_EXTRA_CONNECTIONS: u32 = 4;

/// Runs `work` on a task of its own and waits for it: if the caller's future is dropped, the
/// work still finishes (see [`Cluster::accept`] for why transactions need that).
async fn detached<T: Send + 'static>(
    what: &'static str,
    work: impl Future<Output = Result<T, ClusterError>> + Send + 'static,
) -> Result<T, ClusterError> {
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(e) => Err(ClusterError::jobs(what, e)),
    }
}

impl Inner {
    /// The scheduler and, once a day, the maintenance, detached from the caller (a tick
    /// job cut short by a shutdown must not cut a transaction short).
    async fn tick(inner: Arc<Inner>) -> Result<TickReport, ClusterError> {
        detached(
            "running the scheduler",
            async move { inner.tick_here().await },
        )
        .await
    }

    async fn tick_here(&self) -> Result<TickReport, ClusterError> {
        let now = self.ctx.clock().now();
        let mut report = TickReport::default();
        let mut first_error = None;
        for flow in self.flows.values().filter(|f| f.trigger().is_timed()) {
            match schedule::schedule_flow(self, flow, now).await {
                Ok(runs) => report.scheduled.extend(runs),
                Err(e) => {
                    tracing::warn!(flow = %flow.id(), error = %e, cause = %failure_cause(&e), "scheduling a flow's runs failed");
                    first_error.get_or_insert(e);
                }
            }
        }
        match self.maintain().await {
            Ok(done) => report.maintenance = done,
            Err(e) => {
                tracing::warn!(error = %e, cause = %failure_cause(&e), "the cluster's daily maintenance failed");
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(report),
        }
    }

    /// Once a day for the whole cluster (whichever tick claims the day): deletes intake
    /// rows past their retention and graphile_worker's queue rows no job uses.
    async fn maintain(&self) -> Result<bool, ClusterError> {
        let what = "the daily maintenance";
        let claimed: Option<bool> = sqlx::query_scalar(self.tables.claim_maintenance.sql())
            .fetch_optional(&self.pool)
            .await
            .map_err(|e| ClusterError::database(what, e))?;
        if claimed.is_none() {
            return Ok(false);
        }
        let retention = i64::try_from(self.config.intake_retention.as_secs()).unwrap_or(i64::MAX);
        sqlx::query(self.tables.prune_intake.sql())
            .bind(retention)
            .execute(&self.pool)
            .await
            .map_err(|e| ClusterError::database(what, e))?;
        self.utils
            .cleanup(&[graphile_worker::worker_utils::types::CleanupTask::GcJobQueues])
            .await
            .map_err(|e| ClusterError::jobs(what, e))?;
        Ok(true)
    }
}

// The builder's tests use the generic webhook target.
#[cfg(all(test, feature = "http"))]
mod tests;
