//! The cluster (feature `graphile`) on a real PostgreSQL: intake, delivery by workers, two
//! workers sharing the work, per-recipient order, the scheduler, retries and failures.
//!
//! Needs `DATABASE_URL` (a database the user may create schemas in). Without it every test
//! says so and passes, except under `CI=true`, where it fails. Each test works in schemas of
//! its own and drops them at the end. HTTP goes only to a stand-in on 127.0.0.1.
#![cfg(all(feature = "graphile", feature = "reqwest"))]

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::Router;
use chrono::{DateTime, Utc};
use hubflow::cluster::{
    Accepted, Cluster, ClusterConfig, ClusterError, RecoveryConfig, StepHistory,
};
use hubflow::http::{HttpRequest, ReqwestClient};
use hubflow::{
    Action, Batch, CatchUp, Context, Cursor, DeliveryError, DeliveryPolicy, Flow, ManualClock,
    MemoryStore, Outcome, PgStore, PgStoreOptions, ProviderError, Receipt, Record, RetryPolicy,
    Source, SourceError, Store, Target, TargetError, TokioClock, Trigger,
};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use url::Url;

// ---------------------------------------------------------------------------------------
// The database and fresh schemas

/// The test database's pool, or `None` (after saying why) when there is none to use.
async fn database() -> Option<PgPool> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "DATABASE_URL is not set, and CI=true: the cluster tests must run in CI"
        );
        eprintln!(
            "skipped: DATABASE_URL is not set (a PostgreSQL 13+ database to test the cluster on)"
        );
        return None;
    };
    let pool = PgPoolOptions::new()
        .max_connections(24)
        .acquire_timeout(Duration::from_secs(20))
        .connect(&url)
        .await
        .expect("DATABASE_URL connects");
    Some(pool)
}

/// Schemas no other test uses: graphile_worker's and the cluster's.
struct Schemas {
    jobs: String,
    tables: String,
}

impl Schemas {
    fn new(test: &str) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let tag = format!(
            "{test}_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        Schemas {
            jobs: format!("tj_{tag}"),
            tables: format!("tt_{tag}"),
        }
    }

    /// A configuration for fast tests in these schemas.
    fn config(&self) -> ClusterConfig {
        ClusterConfig::default()
            .jobs_schema(&self.jobs)
            .tables_schema(&self.tables)
            .concurrency(4)
            .poll_interval(Duration::from_millis(100))
            .grace_period(Duration::from_secs(5))
            .cron_tick(false)
            .restart_backoff(Duration::from_millis(100), Duration::from_secs(1))
            .recovery(
                RecoveryConfig::default()
                    .heartbeat_interval(Duration::from_millis(500))
                    .sweep_interval(Duration::from_secs(1))
                    .sweep_threshold(Duration::from_secs(5))
                    .recovery_delay(Duration::from_millis(200)),
            )
    }

    async fn drop(&self, pool: &PgPool) {
        for schema in [&self.jobs, &self.tables] {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
            )))
            .execute(pool)
            .await;
        }
    }

    /// graphile_worker's jobs of `task`, as `(queue_name, attempts, last_error, payload)`.
    async fn jobs(
        &self,
        pool: &PgPool,
        task: &str,
    ) -> Vec<(Option<String>, i16, Option<String>, Value)> {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT q.queue_name, j.attempts, j.last_error, j.payload::jsonb \
             FROM \"{s}\"._private_jobs j \
             JOIN \"{s}\"._private_tasks t ON t.id = j.task_id \
             LEFT JOIN \"{s}\"._private_job_queues q ON q.id = j.job_queue_id \
             WHERE t.identifier = $1 ORDER BY j.id",
            s = self.jobs
        )))
        .bind(task)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .map(|(q, a, e, sqlx::types::Json(p))| (q, a, e, p))
        .collect()
    }
}

/// Waits until `done` holds, checking every 50 ms, for at most `limit`.
async fn eventually<F, Fut>(what: &str, limit: Duration, mut done: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !done().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs a cluster's worker in the background; stop it with [`stop`].
fn start(cluster: &Cluster) -> tokio::task::JoinHandle<Result<(), ClusterError>> {
    let cluster = cluster.clone();
    tokio::spawn(async move { cluster.run().await })
}

async fn stop(cluster: &Cluster, worker: tokio::task::JoinHandle<Result<(), ClusterError>>) {
    cluster.shutdown();
    tokio::time::timeout(Duration::from_secs(20), worker)
        .await
        .expect("the worker stops after shutdown")
        .expect("the worker task did not panic")
        .expect("the worker stopped cleanly");
}

// ---------------------------------------------------------------------------------------
// The stand-in provider and a target that messages a recipient

/// What the stand-in saw.
#[derive(Default)]
struct Seen {
    /// Successful deliveries per record key.
    delivered: HashMap<String, usize>,
    /// Requests per record key.
    requests: HashMap<String, usize>,
    /// Keys in the order their successful delivery started, per recipient.
    order: HashMap<String, Vec<String>>,
    /// Requests in progress per recipient, and the most at once.
    active: HashMap<String, usize>,
    max_active: HashMap<String, usize>,
    /// Requests in progress, and the most at once.
    all_active: usize,
    max_all_active: usize,
    /// Statuses to answer per key, in order, before answering 200.
    script: HashMap<String, Vec<u16>>,
}

#[derive(Clone)]
struct StandIn {
    seen: Arc<Mutex<Seen>>,
    delay: Duration,
    url: Url,
}

impl StandIn {
    async fn start(delay: Duration) -> StandIn {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/send", listener.local_addr().unwrap())
            .parse()
            .unwrap();
        let stand_in = StandIn { seen, delay, url };
        let app = Router::new()
            .route("/send", post(receive))
            .with_state(stand_in.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        stand_in
    }

    fn script(&self, key: &str, statuses: &[u16]) {
        self.seen
            .lock()
            .unwrap()
            .script
            .insert(key.to_owned(), statuses.to_vec());
    }

    fn delivered(&self, key: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .delivered
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    fn requests(&self, key: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .requests
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    fn total_delivered(&self) -> usize {
        self.seen.lock().unwrap().delivered.values().sum()
    }
}

async fn receive(State(stand_in): State<StandIn>, body: Bytes) -> StatusCode {
    let body: Value = serde_json::from_slice(&body).unwrap_or_default();
    let key = body["key"].as_str().unwrap_or_default().to_owned();
    let to = body["to"].as_str().unwrap_or("-").to_owned();
    let status = {
        let mut seen = stand_in.seen.lock().unwrap();
        *seen.requests.entry(key.clone()).or_default() += 1;
        let active = seen.active.entry(to.clone()).or_default();
        *active += 1;
        let now = *active;
        let max = seen.max_active.entry(to.clone()).or_default();
        *max = (*max).max(now);
        seen.all_active += 1;
        seen.max_all_active = seen.max_all_active.max(seen.all_active);
        let status = match seen.script.get_mut(&key) {
            Some(statuses) if !statuses.is_empty() => statuses.remove(0),
            _ => 200,
        };
        if status == 200 {
            seen.order.entry(to.clone()).or_default().push(key.clone());
        }
        status
    };
    tokio::time::sleep(stand_in.delay).await;
    let mut seen = stand_in.seen.lock().unwrap();
    *seen.active.entry(to).or_default() -= 1;
    seen.all_active -= 1;
    if status == 200 {
        *seen.delivered.entry(key).or_default() += 1;
    }
    StatusCode::from_u16(status).unwrap()
}

/// A message to `to` (when the record has one), posted to the stand-in.
#[derive(Debug, Serialize)]
struct Message {
    url: Url,
    key: String,
    to: Option<String>,
}

impl Action for Message {
    fn recipient(&self) -> Option<&str> {
        self.to.as_deref()
    }
}

struct Messages {
    url: Url,
}

#[async_trait]
impl Target for Messages {
    type Action = Message;

    fn prepare(&self, record: &Record, payload: &Value) -> Result<Message, TargetError> {
        Ok(Message {
            url: self.url.clone(),
            key: record.key.clone(),
            to: payload["to"].as_str().map(str::to_owned),
        })
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        message: &Message,
    ) -> Result<Receipt, DeliveryError> {
        let request = HttpRequest::post_json(
            message.url.clone(),
            &json!({"key": message.key, "to": message.to}),
        )
        .map_err(|e| DeliveryError::from(TargetError::InvalidPayload(e.to_string())))?;
        let response = ctx.http().send(&request).await?;
        if !response.is_success() {
            return Err(
                ProviderError::from_response("stand-in", &response, ctx.clock().now()).into(),
            );
        }
        Ok(Receipt::new(response.status))
    }
}

/// A flow that messages the stand-in, one attempt per job (retries are the queue's).
fn messages(id: &str, stand_in: &StandIn) -> Flow {
    Flow::builder(id)
        .target(Messages {
            url: stand_in.url.clone(),
        })
        .delivery(DeliveryPolicy::default().retry(RetryPolicy::default().max_attempts(1)))
        .build()
        .unwrap()
}

fn http() -> ReqwestClient {
    ReqwestClient::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A context on the real clock over `store`.
fn context(store: impl Store + 'static) -> Context {
    Context::new(http(), TokioClock, store)
}

/// The flows' store: a PgStore in the test's own tables schema, next to the cluster's.
async fn store(pool: &PgPool, schemas: &Schemas) -> PgStore {
    PgStore::from_pool_with(pool.clone(), PgStoreOptions::new().schema(&schemas.tables))
        .await
        .unwrap()
}

fn record(key: &str, to: Option<&str>) -> Record {
    let data = match to {
        Some(to) => json!({"to": to, "text": format!("hello {to}")}),
        None => json!({"text": "no one in particular"}),
    };
    Record::new(key, "test.message", data)
}

// ---------------------------------------------------------------------------------------
// Intake

#[tokio::test]
async fn accepting_queues_one_job_by_reference_and_a_repeat_is_a_duplicate() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("accept");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let cluster = Cluster::builder(pool.clone(), context(store(&pool, &schemas).await))
        .flow(messages("notify", &stand_in))
        .config(schemas.config())
        .build()
        .await
        .unwrap();

    let first = record("evt-1", Some("5511999990001"));
    assert_eq!(
        cluster.accept("notify", first.clone()).await.unwrap(),
        Accepted::Queued
    );
    assert_eq!(
        cluster.accept("notify", first.clone()).await.unwrap(),
        Accepted::Duplicate
    );

    let jobs = schemas.jobs(&pool, "hubflow_flow_step").await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let (queue, attempts, _, payload) = &jobs[0];
    // The payload names the intake row; the record itself stays out of graphile's tables.
    assert_eq!(payload, &json!({"flow": "notify", "event": "evt-1"}));
    let queue = queue.as_deref().unwrap();
    assert!(queue.starts_with("hubflow:r:"), "{queue}");
    assert!(!queue.contains("999990001"), "{queue}");
    assert_eq!(*attempts, 0);

    let stored: sqlx::types::Json<Record> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT record FROM \"{}\".intake WHERE flow_id = 'notify' AND event_id = 'evt-1'",
        schemas.tables
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stored.0, first);

    // A record without a recipient has no queue.
    cluster
        .accept("notify", record("evt-2", None))
        .await
        .unwrap();
    let jobs = schemas.jobs(&pool, "hubflow_flow_step").await;
    assert_eq!(jobs.len(), 2);
    assert_eq!(jobs[1].0, None);

    // Nothing for a flow the cluster does not have.
    let error = cluster
        .accept("nope", record("evt-3", None))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClusterError::UnknownFlow(ref id) if id == "nope"),
        "{error:?}"
    );
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn a_recipient_found_by_a_lookup_is_queued_like_one_the_record_names() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("accept_lookup");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let staff = hubflow::lookup::MapDirectory::new([("Jonas Campos", json!("5511999990001"))]);
    let by_name = Flow::builder("notify-by-name")
        .lookup(hubflow::Lookup::new("name", "to", staff))
        .target(Messages {
            url: stand_in.url.clone(),
        })
        .build()
        .unwrap();
    let cluster = Cluster::builder(pool.clone(), context(store(&pool, &schemas).await))
        .flow(messages("notify", &stand_in))
        .flow(by_name)
        .config(schemas.config())
        .build()
        .await
        .unwrap();
    cluster
        .accept("notify", record("evt-1", Some("5511999990001")))
        .await
        .unwrap();
    let named = Record::new(
        "evt-2",
        "test.message",
        json!({"name": "Jonas Campos", "text": "hi"}),
    );
    cluster.accept("notify-by-name", named).await.unwrap();
    let unknown = Record::new(
        "evt-3",
        "test.message",
        json!({"name": "Rafael Costa", "text": "hi"}),
    );
    cluster.accept("notify-by-name", unknown).await.unwrap();

    let jobs = schemas.jobs(&pool, "hubflow_flow_step").await;
    assert_eq!(jobs.len(), 3, "{jobs:?}");
    // One person, one queue, whether the record names the number or the directory has it;
    // a record the lookup skips has nobody to keep in order.
    assert!(jobs[0].0.is_some(), "{jobs:?}");
    assert_eq!(jobs[1].0, jobs[0].0, "{jobs:?}");
    assert_eq!(jobs[2].0, None, "{jobs:?}");
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn accepting_inside_the_hosts_transaction_commits_and_rolls_back_with_it() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("accept_in");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let cluster = Cluster::builder(pool.clone(), context(store(&pool, &schemas).await))
        .flow(messages("notify", &stand_in))
        .config(schemas.config())
        .build()
        .await
        .unwrap();

    let mut tx = pool.begin().await.unwrap();
    let accepted = cluster
        .accept_in(&mut tx, "notify", &record("evt-1", Some("5511999990001")))
        .await
        .unwrap();
    assert_eq!(accepted, Accepted::Queued);
    tx.rollback().await.unwrap();
    assert!(schemas.jobs(&pool, "hubflow_flow_step").await.is_empty());

    // Rolled back, so not a duplicate: accepted afresh, with the host's own write.
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("SELECT 1").execute(&mut *tx).await.unwrap();
    for key in ["evt-1", "evt-2"] {
        let accepted = cluster
            .accept_in(&mut tx, "notify", &record(key, Some("5511999990001")))
            .await
            .unwrap();
        assert_eq!(accepted, Accepted::Queued);
    }
    tx.commit().await.unwrap();
    assert_eq!(schemas.jobs(&pool, "hubflow_flow_step").await.len(), 2);
    schemas.drop(&pool).await;
}

// ---------------------------------------------------------------------------------------
// Workers

#[tokio::test]
async fn a_worker_delivers_an_accepted_record_once() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("deliver");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let store = store(&pool, &schemas).await;
    let cluster = Cluster::builder(pool.clone(), context(store.clone()))
        .flow(messages("notify", &stand_in))
        .config(schemas.config())
        .build()
        .await
        .unwrap();
    let worker = start(&cluster);

    cluster
        .accept("notify", record("evt-1", Some("5511999990001")))
        .await
        .unwrap();
    eventually(
        "the record is delivered",
        Duration::from_secs(20),
        || async { stand_in.delivered("evt-1") == 1 },
    )
    .await;
    eventually("its job is gone", Duration::from_secs(20), || async {
        schemas.jobs(&pool, "hubflow_flow_step").await.is_empty()
    })
    .await;
    // A redelivery of the event after its job completed is still a duplicate.
    assert_eq!(
        cluster
            .accept("notify", record("evt-1", Some("5511999990001")))
            .await
            .unwrap(),
        Accepted::Duplicate
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(stand_in.requests("evt-1"), 1);

    let ctx = context(store);
    let history = cluster
        .flow("notify")
        .unwrap()
        .history(&ctx, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    assert!(matches!(
        history[0].records[0].outcome,
        Outcome::Delivered { .. }
    ));
    stop(&cluster, worker).await;
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn two_workers_deliver_every_record_exactly_once() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("two_workers");
    let stand_in = StandIn::start(Duration::from_millis(20)).await;
    let store = store(&pool, &schemas).await;
    let build = || {
        Cluster::builder(pool.clone(), context(store.clone()))
            .flow(messages("notify", &stand_in))
            .config(schemas.config())
            .build()
    };
    let a = build().await.unwrap();
    let b = build().await.unwrap();
    let (worker_a, worker_b) = (start(&a), start(&b));

    let n = 40;
    for i in 0..n {
        let to = format!("55119999{:05}", i % 7);
        let record = record(&format!("evt-{i}"), (i % 3 != 0).then_some(to.as_str()));
        let node = if i % 2 == 0 { &a } else { &b };
        assert_eq!(
            node.accept("notify", record).await.unwrap(),
            Accepted::Queued
        );
    }
    eventually(
        "every record is delivered",
        Duration::from_secs(60),
        || async { stand_in.total_delivered() == n },
    )
    .await;
    eventually("every job is gone", Duration::from_secs(20), || async {
        schemas.jobs(&pool, "hubflow_flow_step").await.is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..n {
        assert_eq!(stand_in.requests(&format!("evt-{i}")), 1, "evt-{i}");
        assert_eq!(stand_in.delivered(&format!("evt-{i}")), 1, "evt-{i}");
    }
    // Each record went through the flow once: a second run of a job would have left a
    // duplicate in the history.
    let history = a
        .flow("notify")
        .unwrap()
        .history(&context(store), 100)
        .await
        .unwrap();
    assert_eq!(history.len(), n);
    assert!(history
        .iter()
        .all(|run| matches!(run.records[0].outcome, Outcome::Delivered { .. })));
    stop(&a, worker_a).await;
    stop(&b, worker_b).await;
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn records_for_one_recipient_never_run_at_the_same_time() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("order");
    let stand_in = StandIn::start(Duration::from_millis(100)).await;
    let store = store(&pool, &schemas).await;
    let build = || {
        Cluster::builder(pool.clone(), context(store.clone()))
            .flow(messages("notify", &stand_in))
            .config(schemas.config())
            .build()
    };
    let a = build().await.unwrap();
    let b = build().await.unwrap();

    // Accepted before any worker runs, so that all are waiting together.
    let (alice, bob) = ("5511999990001", "5511999990002");
    let mut expected: HashMap<&str, Vec<String>> = HashMap::new();
    for i in 0..6 {
        for to in [alice, bob] {
            let key = format!("{to}-{i}");
            a.accept("notify", record(&key, Some(to))).await.unwrap();
            expected.entry(to).or_default().push(key);
        }
    }
    for i in 0..4 {
        b.accept("notify", record(&format!("nobody-{i}"), None))
            .await
            .unwrap();
    }
    let queues: std::collections::BTreeSet<Option<String>> = schemas
        .jobs(&pool, "hubflow_flow_step")
        .await
        .into_iter()
        .map(|(queue, ..)| queue)
        .collect();
    // One queue per recipient, and none for the records without one.
    assert_eq!(queues.len(), 3, "{queues:?}");

    let (worker_a, worker_b) = (start(&a), start(&b));
    eventually(
        "every record is delivered",
        Duration::from_secs(60),
        || async { stand_in.total_delivered() == 16 },
    )
    .await;
    {
        let seen = stand_in.seen.lock().unwrap();
        assert_eq!(
            seen.max_active[alice], 1,
            "two of alice's messages ran at once"
        );
        assert_eq!(seen.max_active[bob], 1, "two of bob's messages ran at once");
        // Not a queue of one for everybody: other work did run alongside.
        assert!(seen.max_all_active >= 2, "nothing ran in parallel at all");
        // And each recipient's messages went out in the order they were accepted.
        assert_eq!(seen.order[alice], expected[alice]);
        assert_eq!(seen.order[bob], expected[bob]);
    }
    stop(&a, worker_a).await;
    stop(&b, worker_b).await;
    schemas.drop(&pool).await;
}

// ---------------------------------------------------------------------------------------
// Failures

#[tokio::test]
async fn a_problems_only_history_keeps_dead_letters_and_leaves_deliveries_to_their_claims() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("problems");
    let stand_in = StandIn::start(Duration::ZERO).await;
    stand_in.script("evt-bad", &[400]);
    let store = store(&pool, &schemas).await;
    let cluster = Cluster::builder(pool.clone(), context(store.clone()))
        .flow(messages("notify", &stand_in))
        .config(schemas.config().history(StepHistory::Problems))
        .build()
        .await
        .unwrap();
    let worker = start(&cluster);
    for (key, to) in [("evt-ok", "5511999990001"), ("evt-bad", "5511999990002")] {
        cluster
            .accept("notify", record(key, Some(to)))
            .await
            .unwrap();
    }
    eventually("both jobs complete", Duration::from_secs(20), || async {
        stand_in.requests("evt-ok") == 1
            && stand_in.requests("evt-bad") == 1
            && schemas.jobs(&pool, "hubflow_flow_step").await.is_empty()
    })
    .await;
    let history = cluster
        .flow("notify")
        .unwrap()
        .history(&context(store.clone()), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "{history:?}");
    assert_eq!(history[0].records[0].key, "evt-bad");
    assert!(matches!(
        history[0].records[0].outcome,
        Outcome::Failed {
            retryable: false,
            ..
        }
    ));
    // The delivery is on record in its claim, with the provider's receipt.
    let claim = hubflow::ClaimStore::peek_claim(&store, "notify", "evt-ok")
        .await
        .unwrap();
    assert!(
        matches!(claim, Some(hubflow::Claim::Done { .. })),
        "{claim:?}"
    );
    stop(&cluster, worker).await;
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn a_permanent_failure_completes_its_job_and_is_in_the_history() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("permanent");
    let stand_in = StandIn::start(Duration::ZERO).await;
    stand_in.script("evt-bad", &[400]);
    let store = store(&pool, &schemas).await;
    let cluster = Cluster::builder(pool.clone(), context(store.clone()))
        .flow(messages("notify", &stand_in))
        .config(schemas.config())
        .build()
        .await
        .unwrap();
    let worker = start(&cluster);

    cluster
        .accept("notify", record("evt-bad", Some("5511999990001")))
        .await
        .unwrap();
    eventually(
        "the failed record's job completes",
        Duration::from_secs(20),
        || async {
            stand_in.requests("evt-bad") == 1
                && schemas.jobs(&pool, "hubflow_flow_step").await.is_empty()
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        stand_in.requests("evt-bad"),
        1,
        "a permanent failure was tried again"
    );

    let history = cluster
        .flow("notify")
        .unwrap()
        .history(&context(store), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1);
    let line = &history[0].records[0];
    let Outcome::Failed {
        failure, retryable, ..
    } = &line.outcome
    else {
        panic!("{:?}", line.outcome);
    };
    assert!(!retryable);
    assert_eq!(failure.status, Some(400));
    // The dead letter keeps the record, for a person to replay.
    assert_eq!(line.record.as_ref().unwrap().key, "evt-bad");
    stop(&cluster, worker).await;
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn a_retryable_failure_is_retried_by_the_queue() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("retry");
    let stand_in = StandIn::start(Duration::ZERO).await;
    stand_in.script("evt-flaky", &[503]);
    let store = store(&pool, &schemas).await;
    let cluster = Cluster::builder(pool.clone(), context(store.clone()))
        .flow(messages("notify", &stand_in))
        .config(schemas.config())
        .build()
        .await
        .unwrap();
    let worker = start(&cluster);

    cluster
        .accept("notify", record("evt-flaky", Some("5511999990001")))
        .await
        .unwrap();
    eventually(
        "the first attempt fails",
        Duration::from_secs(20),
        || async {
            let jobs = schemas.jobs(&pool, "hubflow_flow_step").await;
            jobs.first().is_some_and(|(_, _, error, _)| error.is_some())
        },
    )
    .await;
    let jobs = schemas.jobs(&pool, "hubflow_flow_step").await;
    let (_, attempts, last_error, _) = &jobs[0];
    assert_eq!(*attempts, 1);
    let last_error = last_error.as_deref().unwrap();
    assert!(last_error.contains("status 503"), "{last_error}");
    assert!(!last_error.contains("5511999990001"), "{last_error}");

    // graphile_worker's first backoff is e seconds.
    eventually("the retry delivers it", Duration::from_secs(30), || async {
        stand_in.delivered("evt-flaky") == 1
    })
    .await;
    eventually("its job is gone", Duration::from_secs(20), || async {
        schemas.jobs(&pool, "hubflow_flow_step").await.is_empty()
    })
    .await;
    assert_eq!(stand_in.requests("evt-flaky"), 2);
    let history = cluster
        .flow("notify")
        .unwrap()
        .history(&context(store), 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 2);
    assert!(matches!(
        history[0].records[0].outcome,
        Outcome::Delivered { .. }
    ));
    assert!(matches!(
        history[1].records[0].outcome,
        Outcome::Failed {
            retryable: true,
            ..
        }
    ));
    stop(&cluster, worker).await;
    schemas.drop(&pool).await;
}

// ---------------------------------------------------------------------------------------
// Timed triggers

/// A source that counts its polls and yields nothing.
#[derive(Clone, Default)]
struct Polls(Arc<AtomicUsize>);

#[async_trait]
impl Source for Polls {
    async fn poll(&self, _ctx: &Context, _cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(Batch::new(Vec::new(), None))
    }
}

impl Polls {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

fn polled(id: &str, trigger: Trigger, polls: &Polls, stand_in: &StandIn) -> Flow {
    Flow::builder(id)
        .trigger(trigger)
        .source(polls.clone())
        .target(Messages {
            url: stand_in.url.clone(),
        })
        .build()
        .unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn timed_triggers_run_once_per_instant_across_two_workers_and_catch_up_as_told() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("triggers");
    let stand_in = StandIn::start(Duration::ZERO).await;
    // The scheduler reads the context's clock; the jobs start at once, that time being past.
    let clock = ManualClock::new(at("2026-03-02T08:00:00Z"));
    let store = store(&pool, &schemas).await;
    let ctx = Context::new(http(), clock.clone(), store.clone());
    let (every, daily, skip, all) = (
        Polls::default(),
        Polls::default(),
        Polls::default(),
        Polls::default(),
    );
    let flows = [
        polled("every-30s", Trigger::every(30), &every, &stand_in),
        polled(
            "daily-0801",
            Trigger::daily("08:01:00".parse().unwrap(), chrono_tz::UTC),
            &daily,
            &stand_in,
        ),
        polled(
            "every-min-skip",
            Trigger::every(60).with_catch_up(CatchUp::Skip),
            &skip,
            &stand_in,
        ),
        polled(
            "every-min-all",
            Trigger::every(60).with_catch_up(CatchUp::All {
                within_seconds: 300,
            }),
            &all,
            &stand_in,
        ),
    ];
    let build = || {
        Cluster::builder(pool.clone(), ctx.clone())
            .flows(flows.clone())
            .config(schemas.config())
            .build()
    };
    let a = build().await.unwrap();
    let b = build().await.unwrap();
    let (worker_a, worker_b) = (start(&a), start(&b));

    // Both nodes tick at once: every instant is enqueued by one of them, once.
    let (ra, rb) = tokio::join!(a.tick(), b.tick());
    let mut scheduled: Vec<_> = [ra.unwrap().scheduled, rb.unwrap().scheduled].concat();
    scheduled.sort();
    let of = |flow: &str, runs: &[hubflow::cluster::ScheduledRun]| -> Vec<DateTime<Utc>> {
        runs.iter()
            .filter(|r| r.flow == flow)
            .map(|r| r.due)
            .collect()
    };
    assert_eq!(
        of("every-30s", &scheduled),
        [
            at("2026-03-02T08:00:30Z"),
            at("2026-03-02T08:01:00Z"),
            at("2026-03-02T08:01:30Z")
        ]
    );
    assert_eq!(of("daily-0801", &scheduled), [at("2026-03-02T08:01:00Z")]);
    assert_eq!(
        of("every-min-skip", &scheduled),
        [at("2026-03-02T08:01:00Z")]
    );

    // A minute later, on both nodes again: only the new instants.
    clock.advance(Duration::from_secs(60));
    let (ra, rb) = tokio::join!(a.tick(), b.tick());
    let scheduled: Vec<_> = [ra.unwrap().scheduled, rb.unwrap().scheduled].concat();
    assert_eq!(
        of("every-30s", &scheduled),
        [at("2026-03-02T08:02:00Z"), at("2026-03-02T08:02:30Z")]
    );
    assert!(of("daily-0801", &scheduled).is_empty());

    eventually(
        "each instant's run polled once",
        Duration::from_secs(30),
        || async {
            every.count() == 5 && daily.count() == 1 && skip.count() == 2 && all.count() == 2
        },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        (every.count(), daily.count(), skip.count(), all.count()),
        (5, 1, 2, 2)
    );

    // Down for an hour: the scheduler comes back at 09:01:00 and catches up as each
    // trigger says. Planned so far: up to 08:02:30.
    clock.set(at("2026-03-02T09:01:00Z"));
    let report = a.tick().await.unwrap();
    // On time: less than two minutes late (after 08:59:00), or up to 90 s ahead.
    let on_time = [
        at("2026-03-02T09:00:00Z"),
        at("2026-03-02T09:01:00Z"),
        at("2026-03-02T09:02:00Z"),
    ];
    // Skip: only what is on time.
    assert_eq!(of("every-min-skip", &report.scheduled), on_time);
    // All within five minutes: the instants missed in the last five minutes too.
    assert_eq!(
        of("every-min-all", &report.scheduled),
        [
            &[
                at("2026-03-02T08:57:00Z"),
                at("2026-03-02T08:58:00Z"),
                at("2026-03-02T08:59:00Z")
            ][..],
            &on_time[..]
        ]
        .concat()
    );
    // Latest (the default): the last missed instant once, then what is on time.
    let every_30 = of("every-30s", &report.scheduled);
    assert_eq!(every_30[0], at("2026-03-02T08:59:00Z"));
    assert_eq!(every_30[1], at("2026-03-02T08:59:30Z"));
    assert_eq!(every_30.len(), 8, "{every_30:?}");
    assert!(of("daily-0801", &report.scheduled).is_empty());
    // The other node, ticking after it, owes nothing more.
    assert!(b.tick().await.unwrap().scheduled.is_empty());

    eventually(
        "the catch-up runs polled",
        Duration::from_secs(30),
        || async { every.count() == 13 && skip.count() == 5 && all.count() == 8 },
    )
    .await;
    stop(&a, worker_a).await;
    stop(&b, worker_b).await;
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn a_run_can_be_queued_by_hand() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("manual");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let polls = Polls::default();
    let cluster = Cluster::builder(pool.clone(), context(store(&pool, &schemas).await))
        .flow(polled("pull", Trigger::Manual, &polls, &stand_in))
        .config(schemas.config())
        .build()
        .await
        .unwrap();
    let worker = start(&cluster);
    cluster.enqueue_run("pull").await.unwrap();
    eventually("the run polls", Duration::from_secs(20), || async {
        polls.count() == 1
    })
    .await;
    assert!(matches!(
        cluster.enqueue_run("other").await,
        Err(ClusterError::UnknownFlow(_))
    ));
    stop(&cluster, worker).await;
    schemas.drop(&pool).await;
}

// ---------------------------------------------------------------------------------------
// Tables, configuration, lifecycle

#[tokio::test]
async fn tables_from_a_newer_hubflow_are_refused() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("too_new");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let store = store(&pool, &schemas).await;
    let build = || {
        Cluster::builder(pool.clone(), context(store.clone()))
            .flow(messages("notify", &stand_in))
            .config(schemas.config())
            .build()
    };
    // Built twice: the second finds its tables and migrates nothing.
    build().await.unwrap();
    build().await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO \"{}\".cluster_schema_version (version) VALUES (99)",
        schemas.tables
    )))
    .execute(&pool)
    .await
    .unwrap();
    let error = build().await.unwrap_err();
    assert!(
        matches!(
            error,
            ClusterError::SchemaTooNew {
                found: 99,
                supported: 2,
                ..
            }
        ),
        "{error:?}"
    );
    assert!(!error.is_transient());
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn a_node_spreading_recipients_differently_is_refused() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("queues");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let store = store(&pool, &schemas).await;
    let build = |queues: u32| {
        Cluster::builder(pool.clone(), context(store.clone()))
            .flow(messages("notify", &stand_in))
            .config(schemas.config().recipient_queues(queues))
            .build()
    };
    // The first node records its number; the same number is welcome again.
    let first = build(16).await.unwrap();
    build(16).await.unwrap();
    let error = build(256).await.unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, ClusterError::InvalidConfig(_)), "{error:?}");
    assert!(
        message.contains("recipient_queues") && message.contains("16") && message.contains("256"),
        "{message}"
    );
    // Records go to one of the 16 queues.
    for (i, key) in ["k1", "k2", "k3"].into_iter().enumerate() {
        first
            .accept("notify", record(key, Some(&format!("551199999000{i}"))))
            .await
            .unwrap();
    }
    for (queue, ..) in schemas.jobs(&pool, "hubflow_flow_step").await {
        let queue = queue.unwrap();
        let n: u32 = queue.strip_prefix("hubflow:r:").unwrap().parse().unwrap();
        assert!(n < 16, "{queue}");
    }
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn tables_of_version_1_are_upgraded_and_keep_their_key() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("upgrade");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let store = store(&pool, &schemas).await;
    let build = || {
        Cluster::builder(pool.clone(), context(store.clone()))
            .flow(messages("notify", &stand_in))
            .config(schemas.config())
            .build()
    };
    build().await.unwrap();
    let s = &schemas.tables;
    let key_before: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT queue_key FROM \"{s}\".cluster_settings"
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    // Back to version 1, as a node of the previous release left it.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE \"{s}\".cluster_settings DROP COLUMN recipient_queues; \
         DELETE FROM \"{s}\".cluster_schema_version WHERE version = 2;"
    )))
    .execute(&pool)
    .await
    .unwrap();
    build().await.unwrap();
    let (key_after, queues): (String, i32) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT queue_key, recipient_queues FROM \"{s}\".cluster_settings"
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(key_after, key_before);
    assert_eq!(queues, 256);
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn nodes_starting_together_migrate_once() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("together");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let store = store(&pool, &schemas).await;
    let build = || {
        Cluster::builder(pool.clone(), context(store.clone()))
            .flow(messages("notify", &stand_in))
            .config(schemas.config())
            .build()
    };
    let (a, b, c) = tokio::join!(build(), build(), build());
    let (a, b) = (a.unwrap(), b.unwrap());
    c.unwrap();
    let versions: Vec<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT version FROM \"{}\".cluster_schema_version",
        schemas.tables
    )))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(versions, [1, 2]);
    // Both nodes name one recipient's queue alike: they read one key.
    a.accept("notify", record("k1", Some("5511999990001")))
        .await
        .unwrap();
    b.accept("notify", record("k2", Some("5511999990001")))
        .await
        .unwrap();
    let jobs = schemas.jobs(&pool, "hubflow_flow_step").await;
    assert_eq!(jobs[0].0, jobs[1].0);
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn invalid_configuration_is_refused_before_graphile_worker_sees_it() {
    let Some(pool) = database().await else { return };
    let error = Cluster::builder(pool.clone(), context(MemoryStore::new()))
        .config(
            ClusterConfig::default()
                .concurrency(0)
                .recovery(RecoveryConfig::default().heartbeat_interval(Duration::ZERO)),
        )
        .build()
        .await
        .unwrap_err();
    let ClusterError::InvalidConfig(problems) = &error else {
        panic!("{error:?}");
    };
    assert!(
        problems.iter().any(|p| p.starts_with("concurrency:")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("recovery.heartbeat_interval_ms:")),
        "{problems:?}"
    );
}

#[tokio::test]
async fn a_worker_survives_the_database_dropping_its_connections() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("cut");
    let stand_in = StandIn::start(Duration::ZERO).await;
    // A pool of its own, named, so that only its connections are cut.
    let name = format!("hubflow_cut_{}", std::process::id());
    let options = std::env::var("DATABASE_URL")
        .unwrap()
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .application_name(&name);
    let own = PgPoolOptions::new()
        .max_connections(10)
        .connect_with(options)
        .await
        .unwrap();
    let cluster = Cluster::builder(own, context(store(&pool, &schemas).await))
        .flow(messages("notify", &stand_in))
        .config(schemas.config())
        .build()
        .await
        .unwrap();
    let worker = start(&cluster);
    cluster
        .accept("notify", record("before", None))
        .await
        .unwrap();
    eventually(
        "the first record is delivered",
        Duration::from_secs(20),
        || async { stand_in.delivered("before") == 1 },
    )
    .await;

    // The server drops every connection of the cluster, several times over.
    for _ in 0..3 {
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        )
        .bind(&name)
        .execute(&pool)
        .await
        .unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // And then the job table is gone for a while: every fetch fails, the worker stops on
    // the error and is started again until the table is back.
    let jobs = format!("\"{}\"._private_jobs", schemas.jobs);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {jobs} RENAME TO _private_jobs_away"
    )))
    .execute(&pool)
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE \"{}\"._private_jobs_away RENAME TO _private_jobs",
        schemas.jobs
    )))
    .execute(&pool)
    .await
    .unwrap();
    assert!(!worker.is_finished(), "run() gave up on a database error");
    // The worker (started again if it had to be) still takes jobs.
    let mut accepted = false;
    for _ in 0..50 {
        if cluster
            .accept("notify", record("after", None))
            .await
            .is_ok()
        {
            accepted = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(accepted, "the pool did not reconnect");
    eventually(
        "the record after the cut is delivered",
        Duration::from_secs(30),
        || async { stand_in.delivered("after") == 1 },
    )
    .await;
    stop(&cluster, worker).await;
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn a_dead_workers_job_is_taken_over() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("dead");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let cluster = Cluster::builder(pool.clone(), context(store(&pool, &schemas).await))
        .flow(messages("notify", &stand_in))
        .config(schemas.config())
        .build()
        .await
        .unwrap();
    cluster
        .accept("notify", record("evt-1", Some("5511999990001")))
        .await
        .unwrap();
    // As a worker that took the job and its recipient's queue a minute ago, then died
    // without a trace (no heartbeat row).
    for table in ["_private_jobs", "_private_job_queues"] {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE \"{}\".{table} SET locked_by = 'graphile_worker_dead', \
             locked_at = now() - interval '1 minute'",
            schemas.jobs
        )))
        .execute(&pool)
        .await
        .unwrap();
    }
    let worker = start(&cluster);
    eventually(
        "the live worker recovers the job and delivers it",
        Duration::from_secs(30),
        || async { stand_in.delivered("evt-1") == 1 },
    )
    .await;
    stop(&cluster, worker).await;
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn the_daily_maintenance_runs_once_and_prunes_old_intake_rows() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("maintain");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let store = store(&pool, &schemas).await;
    let build = || {
        Cluster::builder(pool.clone(), context(store.clone()))
            .flow(messages("notify", &stand_in))
            .config(
                schemas
                    .config()
                    .intake_retention(Duration::from_secs(24 * 3600)),
            )
            .build()
    };
    let (a, b) = (build().await.unwrap(), build().await.unwrap());
    a.accept("notify", record("old", None)).await.unwrap();
    a.accept("notify", record("new", None)).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE \"{}\".intake SET accepted_at = now() - interval '2 days' WHERE event_id = 'old'",
        schemas.tables
    )))
    .execute(&pool)
    .await
    .unwrap();
    let (ra, rb) = tokio::join!(a.tick(), b.tick());
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra.maintenance != rb.maintenance, "{ra:?} {rb:?}");
    assert!(!a.tick().await.unwrap().maintenance, "twice in a day");
    let left: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT event_id FROM \"{}\".intake ORDER BY event_id",
        schemas.tables
    )))
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(left, ["new"]);
    // Past its retention, the event is new again (the flow's claim still knows it).
    assert_eq!(
        a.accept("notify", record("old", None)).await.unwrap(),
        Accepted::Queued
    );
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn a_caller_that_gives_up_on_accept_leaves_no_transaction_open() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("cancel");
    let stand_in = StandIn::start(Duration::ZERO).await;
    let name = format!("hubflow_cancel_{}", std::process::id());
    let options = std::env::var("DATABASE_URL")
        .unwrap()
        .parse::<sqlx::postgres::PgConnectOptions>()
        .unwrap()
        .application_name(&name);
    // One connection, so that a connection left inside a transaction is the next one used.
    let own = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .unwrap();
    let cluster = Cluster::builder(own.clone(), context(store(&pool, &schemas).await))
        .flow(messages("notify", &stand_in))
        .config(schemas.config())
        .build()
        .await
        .unwrap();
    // Webhook handlers dropped at every point of an accept, as when clients hang up: the
    // accept is polled a few times, then dropped. After each, a statement outside any
    // transaction must run outside one (in a transaction left open, `now()` is its start,
    // before the statement's).
    let mut left_open = 0;
    for i in 0..200usize {
        let mut accept = Box::pin(cluster.accept("notify", record(&format!("evt-{i}"), None)));
        for _ in 0..=(i % 8) {
            let done = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(accept.as_mut().poll(cx).is_ready())
            })
            .await;
            if done {
                break;
            }
            tokio::task::yield_now().await;
        }
        drop(accept);
        // A simple query (one message), so that outside a transaction both are one instant.
        let row = sqlx::raw_sql("SELECT now() <> statement_timestamp()")
            .fetch_one(&own)
            .await
            .unwrap();
        let inside: bool = sqlx::Row::get(&row, 0);
        if inside {
            left_open += 1;
            sqlx::query("ROLLBACK").execute(&own).await.unwrap();
        }
    }
    assert_eq!(
        left_open, 0,
        "accepts dropped by their callers left transactions open"
    );
    cluster
        .accept("notify", record("last", None))
        .await
        .unwrap();
    // What was accepted is committed: visible from another connection.
    let seen: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT count(*) FROM \"{}\".intake WHERE event_id = 'last'",
        schemas.tables
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(seen, 1);
    schemas.drop(&pool).await;
}

#[tokio::test]
async fn run_after_shutdown_returns_at_once() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("shutdown");
    let cluster = Cluster::builder(pool.clone(), context(store(&pool, &schemas).await))
        .config(schemas.config())
        .build()
        .await
        .unwrap();
    let worker = start(&cluster);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop(&cluster, worker).await;
    tokio::time::timeout(Duration::from_secs(2), cluster.run())
        .await
        .expect("run returns at once after a shutdown")
        .unwrap();
    schemas.drop(&pool).await;
}

/// graphile_worker 0.14's batched fetch loop wakes itself after every fetch; without the
/// cluster's pause after an empty fetch an idle worker queries the jobs table back to
/// back (thousands of times a second) instead of once per poll.
#[tokio::test]
async fn an_idle_worker_fetches_about_once_per_poll() {
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("idle");
    let cluster = Cluster::builder(pool.clone(), context(store(&pool, &schemas).await))
        .config(schemas.config())
        .build()
        .await
        .unwrap();
    // Every fetch is one UPDATE statement on the jobs table (that locks what it found,
    // also when it found nothing): a statement-level trigger counts them.
    for statement in [
        format!(
            "CREATE TABLE \"{t}\".fetches (n bigint NOT NULL); INSERT INTO \"{t}\".fetches VALUES (0)",
            t = schemas.tables
        ),
        format!(
            "CREATE FUNCTION \"{t}\".count_fetch() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN UPDATE \"{t}\".fetches SET n = n + 1; RETURN NULL; END $$",
            t = schemas.tables
        ),
        format!(
            "CREATE TRIGGER count_fetch AFTER UPDATE ON \"{j}\"._private_jobs \
             FOR EACH STATEMENT EXECUTE FUNCTION \"{t}\".count_fetch()",
            j = schemas.jobs,
            t = schemas.tables
        ),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .unwrap();
    }
    let fetches = || async {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT n FROM \"{}\".fetches",
            schemas.tables
        )))
        .fetch_one(&pool)
        .await
        .unwrap()
    };
    let worker = start(&cluster);
    eventually("the worker fetches", Duration::from_secs(20), || async {
        fetches().await > 0
    })
    .await;
    let before = fetches().await;
    // Two seconds at a 100 ms poll: 20 polls; the pause is half to all of a poll, so at
    // most 40 fetches, with room for a slow machine's timer.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = fetches().await - before;
    stop(&cluster, worker).await;
    assert!(
        (1..=60).contains(&idle),
        "an idle worker fetched {idle} times in 2 s at a 100 ms poll"
    );
    schemas.drop(&pool).await;
}
