//! The cluster's delivery rate against graphile_worker's own bare job rate, in one run.
//!
//! * `graphile_bare/4_workers`: N empty jobs (a task that only counts), added in bulk, then
//!   drained by four graphile_worker workers with the cluster's concurrency, poll, batched
//!   fetch and batched completion: the queue's own limit on this machine and database.
//! * `graphile_bare_one_per_fetch/4_workers`: the same with graphile_worker's plain loop, one
//!   job per query, one completion per job.
//! * `graphile_bare_recipient_queues/4_workers`: the batched loop on jobs shaped as the
//!   cluster's step jobs: each in one of 256 named queues (the cluster's default
//!   `recipient_queues`), so that a fetch takes at most one job per queue and locks and
//!   unlocks the queue's row: graphile_worker's own limit for the cluster's jobs.
//! * `cluster/1_worker`, `cluster/4_workers`: N records accepted into a [`Cluster`] in one
//!   transaction (not timed), then, from its commit, delivered by one or four cluster
//!   workers, running since before the first round (their pools open, as the bare side's
//!   workers start on an open pool), with the default
//!   [`ClusterConfig`] but for concurrency and poll, through `PgStore` (a claim and a
//!   completion per record) and the WhatsApp template target, to a loopback stand-in of the
//!   Graph API that answers at once. Each record has a recipient of its own, spread over
//!   the cluster's recipient queues, and the records go to 64 tenants in turn, each a flow
//!   with its own WhatsApp number at Meta's 80 messages a second, shared through the
//!   database as in production.
//!
//! * `cluster_problems_history/4_workers`: the same with `StepHistory::Problems`: no run
//!   history entry per delivery.
//! * `reqwest_bare/64_in_flight`: the HTTP side alone, N template sends shaped as the
//!   cluster's, posted with a plain `reqwest::Client` to the same stand-in, 64 at a time
//!   (the four workers' job slots). A delivery is a job and a send, so the bare limit of a
//!   delivery on this machine is `1 / (1 / jobs per second + 1 / sends per second)`.
//!
//! Workers run in this process on one tokio runtime, for both sides alike, and each
//! benchmark has a job queue (and the cluster's tables) of its own, dropped after it.
//!
//! ```text
//! bash .ci/postgres.sh cargo bench --features graphile,whatsapp,reqwest --bench cluster
//! ```
//!
//! Without `DATABASE_URL` it prints why and measures nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use graphile_worker::{
    IntoTaskHandlerResult, JobSpec, RawJobSpec, TaskHandler, WorkerContext, WorkerOptions,
    WorkerUtils,
};
use hubflow::cluster::{Cluster, ClusterConfig, StepHistory};
use hubflow::http::ReqwestClient;
use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget};
use hubflow::{Context, FieldMap, Flow, PgStore, PgStoreOptions, Record, TokioClock};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::postgres::{PgPool, PgPoolOptions};

#[path = "support/graph.rs"]
mod graph;
use graph::stand_in;

/// Jobs (or records) per measured round.
const N: u64 = 2_000;
/// Jobs one worker runs at once, on both sides.
const CONCURRENCY: usize = 16;
/// How often an idle worker looks for jobs, on both sides. graphile_worker 0.14 has each
/// job slot take one job per signal (a notification or a poll), so a backlog added before
/// the workers start drains at `CONCURRENCY` jobs per poll per worker: with its default of
/// one second the bench would measure the poll interval, not the machinery.
const POLL: Duration = Duration::from_millis(5);
/// Tenants, each a flow with a WhatsApp number of its own at Meta's default 80 messages a
/// second: records go to them in turn, so the numbers' limits (5,120/s together) stay above
/// what the machine delivers, and each is shared through the database as in production.
const TENANTS: usize = 64;

/// The WhatsApp number of tenant `t`.
fn phone_id(t: usize) -> String {
    format!("1065403522{t:05}")
}

/// The empty job of the bare side.
#[derive(Clone, Serialize, Deserialize)]
struct Noop {}

/// Counts the empty jobs done.
#[derive(Clone, Debug)]
struct Done(Arc<AtomicU64>);

impl TaskHandler for Noop {
    const IDENTIFIER: &'static str = "hubflow_bench_noop";

    async fn run(self, ctx: WorkerContext) -> impl IntoTaskHandlerResult {
        if let Some(done) = ctx.get_ext::<Done>() {
            done.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A schema name no earlier run used.
fn fresh(what: &str) -> String {
    let nanos = chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default();
    format!("bench_{what}_{}_{nanos}", std::process::id())
}

async fn wait_for(counter: &AtomicU64, target: u64) {
    while counter.load(Ordering::Relaxed) < target {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

/// How the bare side's jobs are fetched and queued.
#[derive(Clone, Copy)]
enum Bare {
    /// graphile_worker's plain loop: one job per query, one completion per job.
    OnePerFetch,
    /// The cluster's batched fetch and completion, jobs in no queue.
    Batched,
    /// The cluster's batched fetch and completion, jobs spread over the cluster's default
    /// number of recipient queues.
    RecipientQueues,
}

/// One bare round: N empty jobs added (not timed), then drained by `workers` workers.
async fn bare_round(pool: &PgPool, schema: &str, workers: usize, bare: Bare) -> Duration {
    let utils = WorkerUtils::new(pool.clone(), schema);
    utils.migrate().await.expect("graphile_worker's schema");
    let queues = u64::from(ClusterConfig::default().recipient_queues);
    let jobs: Vec<RawJobSpec> = (0..N)
        .map(|i| RawJobSpec {
            identifier: Noop::IDENTIFIER.into(),
            payload: json!({}),
            spec: match bare {
                Bare::RecipientQueues => JobSpec::builder()
                    .queue_name(format!("bench:r:{}", i % queues))
                    .build(),
                Bare::OnePerFetch | Bare::Batched => JobSpec::default(),
            },
        })
        .collect();
    for chunk in jobs.chunks(500) {
        utils.add_raw_jobs(chunk).await.expect("add the empty jobs");
    }
    let done = Arc::new(AtomicU64::new(0));
    let mut nodes = Vec::new();
    for _ in 0..workers {
        let worker = WorkerOptions::default()
            .pg_pool(pool.clone())
            .schema(schema)
            .concurrency(CONCURRENCY)
            .poll_interval(POLL)
            .listen_os_shutdown_signals(false)
            .add_extension(Done(done.clone()))
            .define_job::<Noop>();
        // The cluster's own fetching and completion settings (its default `fetch_batch`; the
        // 30 s hold, the pause after an empty fetch and 2 ms completion batches are
        // src/cluster's LOCAL_JOB_TTL, idle_fetch_pause and COMPLETION_BATCH_DELAY: keep
        // them alike), or graphile_worker's plain loop.
        let worker = if matches!(bare, Bare::Batched | Bare::RecipientQueues) {
            worker
                .local_queue(
                    graphile_worker::LocalQueueConfig::default()
                        .with_size(ClusterConfig::default().fetch_batch)
                        .with_ttl(Duration::from_secs(30))
                        .with_refetch_delay(
                            graphile_worker::RefetchDelayConfig::default()
                                .with_duration(POLL)
                                .with_threshold(0)
                                .with_max_abort_threshold(1),
                        ),
                )
                .complete_job_batch_delay(Duration::from_millis(2))
        } else {
            worker
        };
        let worker = worker.init().await.expect("a graphile_worker worker");
        nodes.push(Arc::new(worker));
    }
    let started = Instant::now();
    let runs: Vec<_> = nodes
        .iter()
        .map(|worker| {
            let worker = worker.clone();
            tokio::spawn(async move { worker.run().await })
        })
        .collect();
    wait_for(&done, N).await;
    let elapsed = started.elapsed();
    for worker in &nodes {
        worker.request_shutdown();
    }
    for run in runs {
        let _ = run.await;
    }
    elapsed
}

/// One bare HTTP round: N template sends, shaped as the cluster's, posted with reqwest to
/// the same stand-in, `in_flight` at a time, each answer read and parsed: the HTTP side's
/// own limit on this machine.
async fn bare_http_round(
    client: &reqwest::Client,
    stand_in: &str,
    round: u64,
    in_flight: usize,
) -> Duration {
    use futures_util::stream::{self, StreamExt};
    let started = Instant::now();
    let sends = (0..N).map(|n| {
        let t = n as usize % TENANTS;
        let url = format!("{stand_in}v23.0/{}/messages", phone_id(t));
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": format!("55119{:08}", round * N + n),
            "type": "template",
            "template": {
                "name": "wo_assignment",
                "language": {"code": "pt_BR"},
                "components": [{"type": "body", "parameters": [
                    {"type": "text", "text": "Jonas"},
                    {"type": "text", "text": n.to_string()}
                ]}]
            }
        });
        async move {
            graph::bare_send(client, &url, &body).await;
        }
    });
    stream::iter(sends)
        .buffer_unordered(in_flight)
        .collect::<Vec<()>>()
        .await;
    started.elapsed()
}

/// Tenant `t`'s flow: a WhatsApp template to the record's recipient.
fn flow(base_url: &str, t: usize) -> Flow {
    let connection = WhatsAppConnection::new(phone_id(t), SecretString::from("bench-token"))
        .base_url(base_url.parse().expect("the stand-in's URL"));
    let map = FieldMap::new(json!({
        "to": "{{ phone }}", "template": "wo_assignment", "language": "pt_BR",
        "body": ["{{ name }}", "{{ folio }}"]
    }))
    .expect("the mapping");
    Flow::builder(format!("bench-deliver-{t}"))
        .map(map)
        .target(WhatsAppTarget::new(MessageKind::Template, connection))
        .build()
        .expect("the flow")
}

/// The clusters of one measurement, sharing one database and stand-in.
struct Bench {
    pool: PgPool,
    stand_in: String,
    sent: Arc<AtomicU64>,
    round: AtomicU64,
}

impl Bench {
    async fn cluster(&self, store: &PgStore, config: &ClusterConfig) -> Cluster {
        let http = ReqwestClient::new().expect("the HTTP client");
        let ctx = Context::new(http, TokioClock, store.clone());
        (0..TENANTS)
            .fold(Cluster::builder(self.pool.clone(), ctx), |builder, t| {
                builder.flow(flow(&self.stand_in, t))
            })
            .config(config.clone())
            .build()
            .await
            .expect("the cluster")
    }

    /// `workers` nodes, running, on tables and a job queue of their own (so that no
    /// benchmark inherits another's rows): started once per benchmark, so that their
    /// connection pools are open and their workers initialized before any round is timed,
    /// as the bare side's workers are.
    async fn start(&self, workers: usize, history: StepHistory) -> Nodes {
        let (tables, jobs) = (fresh("tables"), fresh("jobs"));
        let store =
            PgStore::from_pool_with(self.pool.clone(), PgStoreOptions::new().schema(&tables))
                .await
                .expect("the store");
        let config = ClusterConfig::default()
            .jobs_schema(&jobs)
            .tables_schema(&tables)
            .concurrency(CONCURRENCY)
            .poll_interval(POLL)
            .grace_period(Duration::from_secs(5))
            .cron_tick(false)
            .history(history)
            // graphile_worker's own statements need few connections (the steps run on the
            // bench's pool): four nodes and the bench's 64 stay within PostgreSQL's default
            // 100, which refused connections, and so stalled rounds, at the default 20.
            .worker_connections(8);
        let clusters: Vec<Cluster> =
            futures_util::future::join_all((0..workers).map(|_| self.cluster(&store, &config)))
                .await;
        let runs = clusters
            .iter()
            .map(|node| {
                let node = node.clone();
                tokio::spawn(async move { node.run().await })
            })
            .collect();
        Nodes {
            clusters,
            runs,
            schemas: [tables, jobs],
        }
    }

    /// One cluster round: N records accepted in one transaction (not timed), then, from
    /// its commit, delivered by the running nodes.
    async fn round(&self, nodes: &Nodes) -> Duration {
        let round = self.round.fetch_add(1, Ordering::Relaxed);
        let intake = &nodes.clusters[0];
        let mut tx = self.pool.begin().await.expect("a transaction");
        for n in 0..N {
            let record = Record::new(
                format!("r{round}-{n}"),
                "bench",
                json!({"phone": format!("55119{:08}", round * N + n), "name": "Jonas", "folio": n}),
            );
            let flow_id = format!("bench-deliver-{}", n as usize % TENANTS);
            intake
                .accept_in(&mut tx, &flow_id, &record)
                .await
                .expect("accept a record");
        }
        let before = self.sent.load(Ordering::Relaxed);
        let started = Instant::now();
        tx.commit().await.expect("commit the accepted records");
        wait_for(&self.sent, before + N).await;
        started.elapsed()
    }
}

/// Running cluster nodes, and the schemas they use.
struct Nodes {
    clusters: Vec<Cluster>,
    runs: Vec<tokio::task::JoinHandle<Result<(), hubflow::cluster::ClusterError>>>,
    schemas: [String; 2],
}

impl Nodes {
    async fn stop(self, pool: &PgPool) {
        for node in &self.clusters {
            node.shutdown();
        }
        for run in self.runs {
            let _ = run.await;
        }
        for schema in &self.schemas {
            drop_schema(pool, schema).await;
        }
    }
}

async fn drop_schema(pool: &PgPool, schema: &str) {
    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE"
    )))
    .execute(pool)
    .await;
}

fn benches(c: &mut Criterion) {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!(
            "cluster bench skipped: DATABASE_URL is not set (bash .ci/postgres.sh cargo bench …)"
        );
        return;
    };
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let bench = runtime.block_on(async {
        let pool = PgPoolOptions::new()
            .max_connections(64)
            .connect(&url)
            .await
            .expect("connect to DATABASE_URL");
        let (stand_in, sent) = stand_in().await;
        Bench {
            pool,
            stand_in,
            sent,
            round: AtomicU64::new(0),
        }
    });

    let mut group = c.benchmark_group("cluster_throughput");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(N));
    for (name, bare) in [
        ("graphile_bare/4_workers", Bare::Batched),
        ("graphile_bare_one_per_fetch/4_workers", Bare::OnePerFetch),
        (
            "graphile_bare_recipient_queues/4_workers",
            Bare::RecipientQueues,
        ),
    ] {
        // A job queue of its own per benchmark, as the cluster's.
        let bare_schema = fresh("bare");
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let (pool, schema) = (bench.pool.clone(), bare_schema.clone());
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += bare_round(&pool, &schema, 4, bare).await;
                    }
                    total
                }
            });
        });
        runtime.block_on(drop_schema(&bench.pool, &bare_schema));
    }
    // The HTTP side alone: as many sends in flight as the four cluster workers' job slots.
    group.bench_function("reqwest_bare/64_in_flight", |b| {
        let client = reqwest::Client::new();
        b.to_async(&runtime).iter_custom(|iters| {
            let (client, bench) = (client.clone(), &bench);
            async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let round = bench.round.fetch_add(1, Ordering::Relaxed);
                    total +=
                        bare_http_round(&client, &bench.stand_in, round, 4 * CONCURRENCY).await;
                }
                total
            }
        });
    });
    for (name, workers, history) in [
        ("cluster/1_worker", 1, StepHistory::Every),
        ("cluster/4_workers", 4, StepHistory::Every),
        (
            "cluster_problems_history/4_workers",
            4,
            StepHistory::Problems,
        ),
    ] {
        let nodes = runtime.block_on(bench.start(workers, history));
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let (bench, nodes) = (&bench, &nodes);
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        total += bench.round(nodes).await;
                    }
                    total
                }
            });
        });
        runtime.block_on(nodes.stop(&bench.pool));
    }
    group.finish();
}

criterion_group!(cluster, benches);
criterion_main!(cluster);
