//! The kill test: four worker processes deliver 10,000 WhatsApp templates through one
//! PostgreSQL database while one of them is killed with SIGKILL in the middle of the run;
//! the other three finish its work, and replayed status webhooks settle the sends whose
//! outcome it never recorded. And the number's rate limit (80 messages a second) held by
//! four processes together.
//!
//! Needs `DATABASE_URL` (a database the user may create schemas in). Without it each test
//! says so and passes, except under `CI=true`, where it fails. Each test works in schemas of
//! its own and drops them at the end; the two tests take turns, never running together.
//!
//! The workers are this test binary run again: `kill_test_worker` returns at once unless
//! [`WORKER_ENV`] describes a worker, and then runs one until its standard input closes (or
//! it is killed). The parent plays Meta: a Graph API stand-in on 127.0.0.1 that counts the
//! sends per record key, and a replayer that posts a signed `delivered` status webhook for
//! every send it accepted, as Meta does a moment after the send.
//!
//! The recipe under test, "status webhooks + resend": `on_unknown: resend` with a claim
//! lease well above the status webhooks' latency. A send cut short after Meta took it is
//! settled by its status before the lease ends, so when its job (taken over by another
//! worker) looks at the claim again it is done, never sent again; a record claimed but
//! never sent has no status, and its job, retried by the queue while the lease runs, sends
//! it once the lease is over, once.
//!
//! Just before the kill the stand-in stops answering the victim, and another sender on the
//! number takes a moment of its throughput: so the kill always finds both kinds of claim a
//! crash leaves in flight, sent but unanswered, and claimed but not yet sent.
#![cfg(all(
    feature = "graphile",
    feature = "whatsapp",
    feature = "reqwest",
    feature = "postgres"
))]

mod common;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use futures_util::stream::{self, StreamExt};
use hubflow::cluster::{Cluster, ClusterConfig, RecoveryConfig};
use hubflow::http::{Method, ReqwestClient};
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook, SIGNATURE_HEADER};
use hubflow::whatsapp::{
    settle_statuses, MessageKind, StatusAnswer, WhatsAppConnection, WhatsAppTarget,
};
use hubflow::{
    Context, DeliveryPolicy, FieldMap, Flow, InboundRequest, OnUnknown, Outcome, PgStore,
    PgStoreOptions, RateLimiter, Receipt, Record, Settled, TokioClock, SETTLED_BY, SETTLEMENT_KIND,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use url::Url;

/// Set in a worker's environment to the JSON of its [`WorkerSpec`].
const WORKER_ENV: &str = "HUBFLOW_KILL_WORKER";
/// The name of the test that is a worker when [`WORKER_ENV`] is set.
const WORKER_TEST: &str = "kill_test_worker";

const FLOW: &str = "wo-assigned";
/// The business number's id, as in Meta's reference payloads.
const PHONE_ID: &str = "106540352242922";
const APP_SECRET: &str = "kill-test-app-secret";

/// The claim lease: well above the status webhooks' latency here (1 to 2 s after a send, up
/// to 4 s on a busy machine), and far inside the queue's retries (8 attempts span about 29
/// minutes).
const LEASE: Duration = Duration::from_secs(10);
/// Meta's statuses come a moment after the send: the replayer posts none younger than this.
const STATUS_AGE: Duration = Duration::from_millis(1000);
/// How often the replayer posts what is due.
const REPLAY_EVERY: Duration = Duration::from_millis(500);
/// Statuses per webhook (a change's `statuses` array may carry several).
const STATUSES_PER_WEBHOOK: usize = 100;
/// How long the Graph API stand-in takes to answer a send: Meta's usual 100 ms or so, which
/// is also what leaves a worker's sends in the air when it dies.
const SEND_DELAY: Duration = Duration::from_millis(100);
/// How long the answers to the worker about to be killed take (it dies before).
const HELD_ANSWER: Duration = Duration::from_secs(5);

/// Jobs each worker runs at once.
const CONCURRENCY: usize = 8;
/// How often an idle job slot looks for a job (see [`cluster_config`]).
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// Each worker process's connections: its own pool (intake reads and the store) plus the
/// graphile_worker pool of each `run`. Four workers and the parent stay well below the 100
/// connections of a default server.
const WORKER_POOL: u32 = 8;
const WORKER_JOB_POOL: u32 = 10;
const PARENT_POOL: u32 = 12;

/// The two tests start four workers each: they take turns.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------
// What parent and workers share

/// What a worker process is told by its parent.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct WorkerSpec {
    index: usize,
    jobs_schema: String,
    tables_schema: String,
    /// The Graph API stand-in's base URL.
    graph_url: Url,
    /// The number's throughput (`None`: WhatsApp's default of 80 a second).
    rate_per_second: Option<f64>,
}

/// The flow every process builds alike: a WhatsApp template per work order, the record
/// key in `biz_opaque_callback_data` (the target's default), the recipe "status webhooks
/// + resend".
fn template_flow(graph_url: &Url, rate_per_second: Option<f64>) -> Flow {
    let connection = WhatsAppConnection::new(PHONE_ID, SecretString::from("EAAG-kill-test"))
        .base_url(graph_url.clone());
    // One message per recipient every 6 s is WhatsApp's pacing; ten work orders per
    // recipient would make the test a minute long per recipient, so it is turned off here.
    // The cluster's per-recipient queue still sends each recipient's orders one at a time.
    let mut target =
        WhatsAppTarget::new(MessageKind::Template, connection).recipient_interval(Duration::ZERO);
    if let Some(rate) = rate_per_second {
        target = target.rate_per_second(rate);
    }
    Flow::builder(FLOW)
        .map(
            FieldMap::new(json!({
                "to": "{{ phone }}",
                "template": "wo_assignment",
                "language": "pt_BR",
                "body": ["{{ folio }}"]
            }))
            .unwrap(),
        )
        .target(target)
        .delivery(
            DeliveryPolicy::default()
                .claim_lease(LEASE)
                .on_unknown(OnUnknown::Resend),
        )
        .build()
        .unwrap()
}

/// The cluster's configuration for these tests: quick to notice a dead worker (heartbeat
/// every second, dead after 4 s without one, its jobs run again 0.5 s later), and a poll
/// every 50 ms. graphile_worker 0.14 hands each job slot one job per poll or per
/// `jobs:insert` notification, so a backlog accepted before the workers started drains at
/// `concurrency / poll_interval` jobs a second per worker: 160 a second at 50 ms, 8 at the
/// default 1 s.
fn cluster_config(jobs_schema: &str, tables_schema: &str) -> ClusterConfig {
    ClusterConfig::default()
        .jobs_schema(jobs_schema)
        .tables_schema(tables_schema)
        .concurrency(CONCURRENCY)
        .worker_connections(WORKER_JOB_POOL)
        .poll_interval(POLL_INTERVAL)
        .grace_period(Duration::from_secs(5))
        .cron_tick(false)
        .restart_backoff(Duration::from_millis(200), Duration::from_secs(2))
        .recovery(
            RecoveryConfig::default()
                .heartbeat_interval(Duration::from_secs(1))
                .sweep_interval(Duration::from_secs(1))
                .sweep_threshold(Duration::from_secs(4))
                .recovery_delay(Duration::from_millis(500)),
        )
}

fn http() -> ReqwestClient {
    ReqwestClient::builder()
        .connect_timeout(Duration::from_secs(5))
        // Long: a send that times out would leave an unknown outcome of its own, which is
        // not what this test is about.
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn connect(max_connections: u32) -> PgPool {
    let url = std::env::var("DATABASE_URL").expect("DATABASE_URL is set");
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(30))
        .connect(&url)
        .await
        .expect("DATABASE_URL connects")
}

/// The store of flows and rate limits: a PgStore in the cluster's tables schema, as a
/// deployment with the defaults has it (both `hubflow`).
async fn store(pool: &PgPool, tables_schema: &str) -> PgStore {
    PgStore::from_pool_with(pool.clone(), PgStoreOptions::new().schema(tables_schema))
        .await
        .unwrap()
}

/// A context on the real clock whose claims, history and rate limits are in `store`.
fn context(store: &PgStore) -> Context {
    Context::new(http(), TokioClock, store.clone()).with_rates(store.clone())
}

// ---------------------------------------------------------------------------------------
// The worker process

/// A worker when [`WORKER_ENV`] is set; otherwise nothing (it passes at once).
#[test]
fn kill_test_worker() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let spec: WorkerSpec = serde_json::from_str(&spec).unwrap();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_worker(spec));
}

async fn run_worker(spec: WorkerSpec) {
    let pool = connect(WORKER_POOL).await;
    let store = store(&pool, &spec.tables_schema).await;
    let ctx = context(&store).with_worker_id(format!("kill-worker-{}", spec.index));
    let cluster = Cluster::builder(pool, ctx)
        .flow(template_flow(&spec.graph_url, spec.rate_per_second))
        .config(cluster_config(&spec.jobs_schema, &spec.tables_schema))
        .build()
        .await
        .unwrap();
    // The parent closes our standard input to stop us, and so does its death: a worker
    // never outlives the test.
    let stop = cluster.clone();
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        stop.shutdown();
    });
    println!("worker {} running, pid {}", spec.index, std::process::id());
    cluster.run().await.unwrap();
    println!("worker {} stopped", spec.index);
}

/// The worker processes of one test. Dropping it kills those still running, so that a
/// failing test leaves none behind; when the test failed, it prints the ends of their logs.
struct Workers {
    children: Vec<Option<Child>>,
    logs: Vec<PathBuf>,
    dir: PathBuf,
}

impl Workers {
    fn spawn(specs: &[WorkerSpec], test: &str) -> Workers {
        let exe = std::env::current_exe().unwrap();
        let dir = std::env::temp_dir().join(format!("hubflow-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut workers = Workers {
            children: Vec::new(),
            logs: Vec::new(),
            dir,
        };
        for spec in specs {
            let log = workers.dir.join(format!("worker-{}.log", spec.index));
            let out = File::create(&log).unwrap();
            let err = out.try_clone().unwrap();
            let child = Command::new(&exe)
                .args([WORKER_TEST, "--exact", "--nocapture", "--test-threads=1"])
                .env(WORKER_ENV, serde_json::to_string(spec).unwrap())
                .stdin(Stdio::piped())
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap();
            workers.children.push(Some(child));
            workers.logs.push(log);
        }
        workers
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown, no last write.
    fn kill(&mut self, index: usize) {
        if let Some(mut child) = self.children[index].take() {
            child.kill().unwrap();
            let status = child.wait().unwrap();
            assert!(!status.success(), "worker {index} was not killed: {status}");
        }
    }

    /// Whether every worker not killed is still running.
    fn all_running(&mut self) -> Result<(), String> {
        for (index, child) in self.children.iter_mut().enumerate() {
            if let Some(child) = child {
                if let Some(status) = child.try_wait().unwrap() {
                    return Err(format!("worker {index} exited on its own: {status}"));
                }
            }
        }
        Ok(())
    }

    /// Stops the workers as a host does: closes their standard input, which shuts their
    /// cluster down; kills those still running after `limit`. Answers how many stopped
    /// cleanly.
    fn stop(&mut self, limit: Duration) -> usize {
        for child in self.children.iter_mut().flatten() {
            drop(child.stdin.take());
        }
        let deadline = Instant::now() + limit;
        let mut clean = 0;
        for child in &mut self.children {
            let Some(mut running) = child.take() else {
                continue;
            };
            loop {
                match running.try_wait().unwrap() {
                    Some(status) => {
                        clean += usize::from(status.success());
                        break;
                    }
                    None if Instant::now() >= deadline => {
                        let _ = running.kill();
                        let _ = running.wait();
                        break;
                    }
                    None => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        clean
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
            return;
        }
        for log in &self.logs {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            eprintln!("---- {} (last 30 lines) ----\n{tail}", log.display());
        }
    }
}

// ---------------------------------------------------------------------------------------
// The database

/// The test database's pool, or `None` (after saying why) when there is none to use.
async fn database() -> Option<PgPool> {
    if std::env::var("DATABASE_URL").is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "DATABASE_URL is not set, and CI=true: the kill test must run in CI"
        );
        eprintln!(
            "skipped: DATABASE_URL is not set (a PostgreSQL 13+ database to run the kill test on)"
        );
        return None;
    }
    Some(connect(PARENT_POOL).await)
}

/// Schemas no other test uses: graphile_worker's, and the cluster's with the store's.
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
            jobs: format!("kj_{tag}"),
            tables: format!("kt_{tag}"),
        }
    }

    fn spec(&self, index: usize, graph_url: &Url, rate_per_second: Option<f64>) -> WorkerSpec {
        WorkerSpec {
            index,
            jobs_schema: self.jobs.clone(),
            tables_schema: self.tables.clone(),
            graph_url: graph_url.clone(),
            rate_per_second,
        }
    }

    async fn drop(&self, pool: &PgPool) {
        for schema in [&self.jobs, &self.tables] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
            )))
            .execute(pool)
            .await
            .unwrap();
        }
    }

    /// Claims of the flow that are done, and all of them.
    async fn claims(&self, pool: &PgPool) -> (i64, i64) {
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FILTER (WHERE state = 'done'), count(*) \
             FROM \"{}\".claims WHERE scope = $1",
            self.tables
        )))
        .bind(FLOW)
        .fetch_one(pool)
        .await
        .unwrap()
    }

    /// The receipt of every done claim of the flow, by key.
    async fn receipts(&self, pool: &PgPool) -> HashMap<String, Receipt> {
        let rows: Vec<(String, sqlx::types::Json<Receipt>)> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT key, receipt FROM \"{}\".claims WHERE scope = $1 AND state = 'done'",
                self.tables
            )))
            .bind(FLOW)
            .fetch_all(pool)
            .await
            .unwrap();
        rows.into_iter()
            .map(|(key, receipt)| (key, receipt.0))
            .collect()
    }

    /// graphile_worker's jobs left (done jobs are deleted).
    async fn jobs_left(&self, pool: &PgPool) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM \"{}\"._private_jobs",
            self.jobs
        )))
        .fetch_one(pool)
        .await
        .unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// The Graph API stand-in

/// One send the stand-in accepted.
#[derive(Debug, Clone)]
struct Sent {
    key: String,
    to: String,
    wamid: String,
    at: Instant,
    /// The worker that sent it (by the port it came in on).
    worker: usize,
    /// Whether its answer was held back ([`GraphStandIn::hold`]).
    held: bool,
}

#[derive(Default)]
struct Graph {
    /// Every send accepted, in order of arrival.
    sent: Vec<Sent>,
    /// The wamids given per record key (`biz_opaque_callback_data`).
    by_key: HashMap<String, Vec<String>>,
    /// The worker whose answers are held back.
    hold: Option<usize>,
}

/// Meta's Graph API for one number, on 127.0.0.1: every send is accepted (counted, given a
/// fresh wamid) when it arrives, as Meta takes a message even if the sender never reads
/// the answer, and answered after [`SEND_DELAY`]. It listens on one port per worker, all
/// serving the same API, so that it knows which worker sent what.
#[derive(Clone)]
struct GraphStandIn {
    graph: Arc<Mutex<Graph>>,
    urls: Vec<Url>,
}

/// What a port's handler knows: the API, and whose port it is.
#[derive(Clone)]
struct Port {
    graph: Arc<Mutex<Graph>>,
    worker: usize,
}

impl GraphStandIn {
    async fn start(workers: usize) -> GraphStandIn {
        let graph = Arc::<Mutex<Graph>>::default();
        let mut urls = Vec::new();
        for worker in 0..workers {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            urls.push(
                format!("http://{}/", listener.local_addr().unwrap())
                    .parse()
                    .unwrap(),
            );
            let port = Port {
                graph: graph.clone(),
                worker,
            };
            let app = Router::new()
                .route(&format!("/v23.0/{PHONE_ID}/messages"), post(send))
                .with_state(port);
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        GraphStandIn { graph, urls }
    }

    /// The base URL worker `worker` sends to.
    fn url(&self, worker: usize) -> &Url {
        &self.urls[worker]
    }

    fn sent(&self) -> usize {
        self.graph.lock().unwrap().sent.len()
    }

    /// From now on `worker`'s sends are accepted but answered only after [`HELD_ANSWER`]:
    /// Meta took them, the worker does not know it yet.
    fn hold(&self, worker: usize) {
        self.graph.lock().unwrap().hold = Some(worker);
    }

    /// How many of `worker`'s sends are held.
    fn held(&self, worker: usize) -> usize {
        let graph = self.graph.lock().unwrap();
        graph
            .sent
            .iter()
            .filter(|sent| sent.worker == worker && sent.held)
            .count()
    }

    fn snapshot(&self) -> (Vec<Sent>, HashMap<String, Vec<String>>) {
        let graph = self.graph.lock().unwrap();
        (graph.sent.clone(), graph.by_key.clone())
    }
}

async fn send(State(port): State<Port>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return (StatusCode::BAD_REQUEST, "not JSON").into_response();
    };
    let (Some(key), Some(to)) = (
        body["biz_opaque_callback_data"].as_str(),
        body["to"].as_str(),
    ) else {
        return (StatusCode::BAD_REQUEST, "no callback data or recipient").into_response();
    };
    let (wamid, held) = {
        let mut graph = port.graph.lock().unwrap();
        let wamid = format!("wamid.HBgNkilltest{:08}", graph.sent.len());
        let held = graph.hold == Some(port.worker);
        graph.sent.push(Sent {
            key: key.to_owned(),
            to: to.to_owned(),
            wamid: wamid.clone(),
            at: Instant::now(),
            worker: port.worker,
            held,
        });
        graph
            .by_key
            .entry(key.to_owned())
            .or_default()
            .push(wamid.clone());
        (wamid, held)
    };
    tokio::time::sleep(if held { HELD_ANSWER } else { SEND_DELAY }).await;
    // Meta's answer to a template send.
    let answer = json!({
        "messaging_product": "whatsapp",
        "contacts": [{"input": to, "wa_id": to}],
        "messages": [{"id": wamid, "message_status": "accepted"}]
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response()
}

// ---------------------------------------------------------------------------------------
// Meta's status webhooks, replayed

/// What the replayed status webhooks did.
#[derive(Debug, Default, Clone)]
struct Replayed {
    statuses: usize,
    webhooks: usize,
    /// Settlements that changed a claim: sends whose completion was never recorded.
    settled: HashSet<String>,
    already_delivered: usize,
    nothing_to_settle: usize,
    /// Statuses the crate could not settle or the store failed on, with why.
    errors: Vec<String>,
    /// The longest time from a send to the settlement of its status.
    max_latency: Duration,
}

/// Posts, like Meta, a signed `delivered` status webhook for the sends the stand-in
/// accepted, and settles them as a host's webhook handler does.
struct Meta {
    graph: GraphStandIn,
    flow: Flow,
    ctx: Context,
    app_secret: SecretString,
    webhook: WhatsAppWebhook,
    /// The reference status webhook (Meta's documented example), as the envelope.
    reference: Value,
    /// How many of the stand-in's sends have had their status.
    replayed: Mutex<usize>,
    stats: Mutex<Replayed>,
}

impl Meta {
    fn new(graph: GraphStandIn, flow: Flow, ctx: Context) -> Meta {
        let app_secret = SecretString::from(APP_SECRET);
        Meta {
            graph,
            flow,
            ctx,
            webhook: WhatsAppWebhook::new(SecretString::from("verify-me"), app_secret.clone()),
            app_secret,
            reference: common::fixture("whatsapp/ref_status_delivered_pmp.json"),
            replayed: Mutex::new(0),
            stats: Mutex::default(),
        }
    }

    /// Replays the statuses of the sends at least `min_age` old not replayed yet.
    async fn replay_due(&self, min_age: Duration) {
        let due: Vec<Sent> = {
            let graph = self.graph.graph.lock().unwrap();
            let mut replayed = self.replayed.lock().unwrap();
            let now = Instant::now();
            let due: Vec<Sent> = graph.sent[*replayed..]
                .iter()
                .take_while(|sent| now.duration_since(sent.at) >= min_age)
                .cloned()
                .collect();
            *replayed += due.len();
            due
        };
        let webhooks: Vec<Vec<Sent>> = due
            .chunks(STATUSES_PER_WEBHOOK)
            .map(<[Sent]>::to_vec)
            .collect();
        stream::iter(webhooks)
            .for_each_concurrent(4, |sends| self.post(sends))
            .await;
    }

    /// One webhook, signed as Meta signs it, checked and parsed by the crate, settled.
    async fn post(&self, sends: Vec<Sent>) {
        let body = self.webhook_body(&sends);
        let request = InboundRequest::new(Method::Post, "/hooks/whatsapp", body.clone())
            .header(SIGNATURE_HEADER, sign(&self.app_secret, &body));
        let events = self
            .webhook
            .events(&request)
            .expect("a correctly signed status webhook");
        let settled = settle_statuses(&self.flow, &self.ctx, &events).await;
        let oldest = sends.iter().map(|sent| sent.at).min();
        let mut stats = self.stats.lock().unwrap();
        stats.webhooks += 1;
        if let Some(oldest) = oldest {
            stats.max_latency = stats.max_latency.max(oldest.elapsed());
        }
        for status in settled.statuses {
            stats.statuses += 1;
            match status.answer {
                StatusAnswer::Settled(Settled::Delivered { .. }) => {
                    stats.settled.insert(status.key.unwrap_or_default());
                }
                StatusAnswer::Settled(Settled::AlreadyDelivered { .. }) => {
                    stats.already_delivered += 1;
                }
                StatusAnswer::Settled(Settled::NothingToSettle) => stats.nothing_to_settle += 1,
                other => stats.errors.push(format!("{:?}: {other:?}", status.key)),
            }
        }
    }

    /// Meta's status webhook for these sends: the reference example's envelope, one
    /// `delivered` status per send with its wamid, recipient and callback data.
    fn webhook_body(&self, sends: &[Sent]) -> Vec<u8> {
        let mut body = self.reference.clone();
        let value = &mut body["entry"][0]["changes"][0]["value"];
        let template = value["statuses"][0].clone();
        // Statuses reliably carry only id, status and timestamp; contacts may be missing.
        value.as_object_mut().unwrap().remove("contacts");
        let now = chrono::Utc::now().timestamp().to_string();
        value["statuses"] = sends
            .iter()
            .map(|sent| {
                let mut status = template.clone();
                status["id"] = json!(sent.wamid);
                status["status"] = json!("delivered");
                status["timestamp"] = json!(now);
                status["recipient_id"] = json!(sent.to);
                status["biz_opaque_callback_data"] = json!(sent.key);
                status
            })
            .collect();
        serde_json::to_vec(&body).unwrap()
    }

    fn stats(&self) -> Replayed {
        self.stats.lock().unwrap().clone()
    }
}

// ---------------------------------------------------------------------------------------
// The records

/// Work order `i` of `recipients` recipients, in order of acceptance: recipient `i %
/// recipients`, so that each recipient's orders are spread over the run.
fn work_order(i: usize, recipients: usize) -> Record {
    let recipient = i % recipients;
    Record::new(
        format!("fracttal:wo:{i:05}"),
        "fracttal.work_order",
        json!({"phone": format!("551199{recipient:07}"), "folio": format!("OT-{i}")}),
    )
}

/// Accepts records `0..n` into the cluster, `at_once` at a time, as webhook handlers do.
async fn accept_all(cluster: &Cluster, n: usize, recipients: usize, at_once: usize) {
    stream::iter(0..n)
        .for_each_concurrent(at_once, |i| async move {
            cluster
                .accept(FLOW, work_order(i, recipients))
                .await
                .unwrap();
        })
        .await;
}

// ---------------------------------------------------------------------------------------
// The kill test

const RECORDS: usize = 10_000;
const RECIPIENTS: usize = 1_000;
/// The number's rate for the kill test: Meta's tier for numbers in good standing, so that
/// 10,000 sends take seconds rather than two minutes at 80 a second.
const KILL_TEST_RATE: f64 = 1_000.0;
const WORKERS: usize = 4;
/// The worker killed once a third of the records are sent.
const VICTIM: usize = 1;
const KILL_TEST_LIMIT: Duration = Duration::from_secs(240);
/// How much of the number's throughput another sender takes just before the kill.
const THROTTLE: Duration = Duration::from_millis(1500);

/// The kill test's figures, printed in one block.
#[derive(Default)]
struct Figures {
    accepted: usize,
    accept_time: Duration,
    killed_after_sends: usize,
    /// The victim's sends whose answers it never got.
    held: usize,
    killed_at: Duration,
    done_at: Option<Duration>,
    claims_done: i64,
    claims: i64,
    jobs_left: i64,
    sends: usize,
    keys_sent: usize,
    keys_sent_twice: usize,
    keys_never_sent: usize,
    delivered_by_worker: usize,
    settled: usize,
    /// Settled keys whose sender was alive, but recorded its send after the status came.
    settled_first: usize,
    resent: usize,
    replayed: Replayed,
    workers_stopped_cleanly: usize,
}

impl fmt::Display for Figures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = |d: Duration| format!("{:.1} s", d.as_secs_f64());
        writeln!(f, "==== hubflow kill test ====")?;
        writeln!(
            f,
            "setup:     {WORKERS} worker processes x {CONCURRENCY} jobs, {RECORDS} records \
             ({RECIPIENTS} recipients x {}), number rate {KILL_TEST_RATE}/s, recipient pacing off, \
             claim lease {}, on_unknown resend",
            RECORDS / RECIPIENTS,
            secs(LEASE)
        )?;
        writeln!(
            f,
            "intake:    {} records accepted in {}, 16 at a time, before the workers started",
            self.accepted,
            secs(self.accept_time)
        )?;
        writeln!(
            f,
            "kill:      worker {VICTIM} SIGKILLed after {} sends, {} after the workers started, \
             {} of its sends unanswered",
            self.killed_after_sends,
            secs(self.killed_at),
            self.held
        )?;
        match self.done_at {
            Some(at) => writeln!(
                f,
                "done:      every claim done {} after the start",
                secs(at)
            )?,
            None => writeln!(
                f,
                "done:      NOT DONE: {} of {} claims done, {} jobs left",
                self.claims_done, self.claims, self.jobs_left
            )?,
        }
        writeln!(
            f,
            "sends:     {} sends for {} keys; keys sent twice: {}, keys never sent: {}",
            self.sends, self.keys_sent, self.keys_sent_twice, self.keys_never_sent
        )?;
        writeln!(
            f,
            "outcomes:  {} delivered: {} by a worker, {} settled by a status webhook ({} of the \
             killed worker's sends, {} whose status came before the live sender recorded its \
             answer), {} resent after the lease",
            self.delivered_by_worker + self.settled + self.resent,
            self.delivered_by_worker,
            self.settled,
            self.settled - self.settled_first,
            self.settled_first,
            self.resent
        )?;
        let r = &self.replayed;
        writeln!(
            f,
            "statuses:  {} replayed in {} webhooks: {} settled a claim, {} already delivered, \
             {} nothing to settle, {} errors; longest send-to-settlement {}",
            r.statuses,
            r.webhooks,
            r.settled.len(),
            r.already_delivered,
            r.nothing_to_settle,
            r.errors.len(),
            secs(r.max_latency)
        )?;
        write!(
            f,
            "workers:   {} of {} survivors stopped cleanly",
            self.workers_stopped_cleanly,
            WORKERS - 1
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_run_loses_nothing_and_sends_nothing_twice() {
    let _turn = SERIAL.lock().await;
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("kill");
    let graph = GraphStandIn::start(WORKERS).await;
    let store = store(&pool, &schemas.tables).await;
    let ctx = context(&store);
    // The parent's flow settles; it never sends.
    let flow = template_flow(graph.url(0), Some(KILL_TEST_RATE));
    let cluster = Cluster::builder(pool.clone(), ctx.clone())
        .flow(flow.clone())
        .config(cluster_config(&schemas.jobs, &schemas.tables))
        .build()
        .await
        .unwrap();
    let mut figures = Figures::default();

    // The whole intake before the workers start, 16 webhooks at a time: the run is then
    // the workers' alone (accepting during the run shares the parent's pool with the status
    // webhooks, and on two cores makes both slower).
    let intake = Instant::now();
    accept_all(&cluster, RECORDS, RECIPIENTS, 16).await;
    figures.accept_time = intake.elapsed();
    figures.accepted = RECORDS;
    assert_eq!(schemas.jobs_left(&pool).await, RECORDS as i64);

    let specs: Vec<WorkerSpec> = (0..WORKERS)
        .map(|i| schemas.spec(i, graph.url(i), Some(KILL_TEST_RATE)))
        .collect();
    let mut workers = Workers::spawn(&specs, "kill");
    let started = Instant::now();

    // Meta, all along: statuses for every accepted send, a second or so after it.
    let meta = Arc::new(Meta::new(graph.clone(), flow.clone(), ctx.clone()));
    let (stop_replay, mut replay_stopped) = tokio::sync::watch::channel(false);
    let replayer = tokio::spawn({
        let meta = meta.clone();
        async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(REPLAY_EVERY) => meta.replay_due(STATUS_AGE).await,
                    _ = replay_stopped.changed() => return,
                }
            }
        }
    });

    // A third of the way through: SIGKILL.
    while graph.sent() < RECORDS / 3 {
        if started.elapsed() > KILL_TEST_LIMIT {
            panic!("only {} sends in {KILL_TEST_LIMIT:?}", graph.sent());
        }
        if let Err(e) = workers.all_running() {
            panic!("{e}");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The kill must find claims in flight of both kinds a crash leaves. First, Meta's
    // answers to the victim stop coming back (its sends are taken, it does not know):
    // sent but unknown, for the status webhooks to settle.
    graph.hold(VICTIM);
    let holding = Instant::now();
    while graph.held(VICTIM) < 2 {
        assert!(
            holding.elapsed() < Duration::from_secs(30),
            "worker {VICTIM} sent nothing more"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Then another sender on the number (a limiter shared under the number's name, through
    // the same store) takes its next 1.5 s of throughput: the records claimed from now on
    // wait for a slot, claimed but never sent when the kill comes, two polls later.
    RateLimiter::every(THROTTLE)
        .shared(format!("whatsapp:{PHONE_ID}"))
        .acquire_in(&ctx, "")
        .await;
    tokio::time::sleep(2 * POLL_INTERVAL + Duration::from_millis(50)).await;
    workers.kill(VICTIM);
    figures.killed_after_sends = graph.sent();
    figures.held = graph.held(VICTIM);
    figures.killed_at = started.elapsed();

    // The survivors finish: every claim done and no job left (none waiting to retry).
    loop {
        let (done, all) = schemas.claims(&pool).await;
        let jobs = schemas.jobs_left(&pool).await;
        (figures.claims_done, figures.claims, figures.jobs_left) = (done, all, jobs);
        if done == RECORDS as i64 && jobs == 0 {
            figures.done_at = Some(started.elapsed());
            break;
        }
        if started.elapsed() > KILL_TEST_LIMIT {
            break;
        }
        if let Err(e) = workers.all_running() {
            println!("{figures}");
            panic!("{e}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop_replay.send_replace(true);
    replayer.await.unwrap();
    // Meta sends every status in the end; the last ones find their claims done.
    meta.replay_due(Duration::ZERO).await;
    // Waiting for them blocks this thread; the stand-in answers their last sends on the other.
    figures.workers_stopped_cleanly =
        tokio::task::block_in_place(|| workers.stop(Duration::from_secs(20)));

    // What the stand-in saw, what the store holds, what the history says.
    let (sent, by_key) = graph.snapshot();
    figures.sends = sent.len();
    figures.keys_sent = by_key.len();
    figures.keys_sent_twice = by_key.values().filter(|w| w.len() > 1).count();
    let keys: Vec<String> = (0..RECORDS)
        .map(|i| work_order(i, RECIPIENTS).key)
        .collect();
    figures.keys_never_sent = keys.iter().filter(|k| !by_key.contains_key(*k)).count();
    let receipts = schemas.receipts(&pool).await;
    let settled_keys: HashSet<&String> = receipts
        .iter()
        .filter(|(_, receipt)| receipt.details["settled_by"] == SETTLED_BY)
        .map(|(key, _)| key)
        .collect();
    // The workers' own report lines: a send they saw through (a resend says so), as opposed
    // to the settlements' lines.
    let history = flow.history(&ctx, 4 * RECORDS).await.unwrap();
    let (mut resent_keys, mut reported_keys) = (HashSet::new(), HashSet::new());
    for line in history.iter().flat_map(|run| &run.records) {
        if line.kind == SETTLEMENT_KIND || !matches!(line.outcome, Outcome::Delivered { .. }) {
            continue;
        }
        reported_keys.insert(line.key.clone());
        if line
            .warning
            .as_deref()
            .is_some_and(|w| w.contains("on_unknown: resend"))
        {
            resent_keys.insert(line.key.clone());
        }
    }
    // A settled key whose sender lived to report its send: the status came first.
    let raced: HashSet<&String> = settled_keys
        .iter()
        .copied()
        .filter(|key| reported_keys.contains(*key))
        .collect();
    figures.settled = settled_keys.len();
    figures.settled_first = raced.len();
    figures.resent = resent_keys.len();
    figures.delivered_by_worker = receipts.len() - settled_keys.len() - resent_keys.len();
    figures.replayed = meta.stats();
    println!("{figures}");

    assert!(figures.done_at.is_some(), "not done in {KILL_TEST_LIMIT:?}");
    assert_eq!(figures.keys_sent_twice, 0, "keys sent twice");
    assert_eq!(figures.keys_never_sent, 0, "keys never sent");
    assert_eq!(figures.sends, RECORDS, "one send per record, no more");
    assert_eq!(receipts.len(), RECORDS, "every record delivered");
    // Each claim holds the receipt of the one send of its key: the wamid the stand-in gave,
    // whether a worker read it from the answer or a status webhook brought it.
    for key in &keys {
        let receipt = &receipts[key];
        assert_eq!(
            receipt.id.as_ref(),
            Some(&by_key[key][0]),
            "{key}: {receipt:?}"
        );
    }
    // The settlements that changed a claim are exactly the settled receipts, and none of
    // them was also resent.
    let replayed = &figures.replayed;
    assert!(replayed.errors.is_empty(), "{:?}", replayed.errors);
    assert_eq!(replayed.statuses, RECORDS, "a status for every send");
    assert_eq!(replayed.nothing_to_settle, 0, "a sent key's claim was free");
    assert_eq!(
        replayed.settled.iter().collect::<HashSet<_>>(),
        settled_keys,
        "the settled receipts are the settlements"
    );
    assert!(settled_keys.iter().all(|key| !resent_keys.contains(*key)));
    // The settled keys that no worker reported are the victim's sends before it died, the
    // unanswered ones among them; the resent ones were sent by the survivors, after the
    // lease.
    let by_sent: HashMap<&str, &Sent> = sent.iter().map(|s| (s.key.as_str(), s)).collect();
    let killed = started + figures.killed_at;
    for key in settled_keys.iter().filter(|key| !raced.contains(*key)) {
        let send = by_sent[key.as_str()];
        assert!(send.worker == VICTIM && send.at < killed, "{send:?}");
    }
    for send in sent.iter().filter(|send| send.held) {
        assert!(
            settled_keys.contains(&send.key) && !raced.contains(&send.key),
            "unanswered, not settled: {send:?}"
        );
    }
    for key in &resent_keys {
        let send = by_sent[key.as_str()];
        assert!(
            send.worker != VICTIM && send.at > killed + LEASE / 2,
            "{send:?}"
        );
    }
    // The status webhooks came within the lease: that is what keeps their sends from being
    // sent again.
    assert!(replayed.max_latency < LEASE, "{:?}", replayed.max_latency);
    // The kill left both kinds of unknown outcome, or the test would prove less than it says.
    assert!(figures.held >= 2 && figures.settled - figures.settled_first >= figures.held);
    assert!(
        figures.resent >= 1,
        "the victim had no record claimed but unsent"
    );
    assert_eq!(figures.workers_stopped_cleanly, WORKERS - 1);
    drop(workers);
    schemas.drop(&pool).await;
}

// ---------------------------------------------------------------------------------------
// The number's rate, across processes

const RATE_RECORDS: usize = 400;
/// WhatsApp's default throughput per number.
const RATE: usize = 80;
/// How late a send may reach the stand-in after its slot. The slots the workers share are
/// 12.5 ms apart, but between a slot and the stand-in's clock come the slot's statement,
/// the timer, the HTTP request, on two cores that four debug-built workers, the database
/// and whatever else the machine runs share; up to 110 ms were seen on a machine busy with
/// compilers. A window that opens on a late send holds one more send for each 12.5 ms of
/// that lateness.
const RATE_JITTER: Duration = Duration::from_millis(200);
/// Sends over the limit tolerated in a one-second window: the slots in [`RATE_JITTER`], 16.
/// Four workers that did not share the limit would send up to 320 a second.
const RATE_TOLERANCE: usize = RATE_JITTER.as_millis() as usize * RATE / 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_worker_processes_keep_one_numbers_rate_together() {
    let _turn = SERIAL.lock().await;
    let Some(pool) = database().await else { return };
    let schemas = Schemas::new("rate");
    let graph = GraphStandIn::start(WORKERS).await;
    let store = store(&pool, &schemas.tables).await;
    let cluster = Cluster::builder(pool.clone(), context(&store))
        .flow(template_flow(graph.url(0), None))
        .config(cluster_config(&schemas.jobs, &schemas.tables))
        .build()
        .await
        .unwrap();
    // One recipient each: only the number's limit holds them back.
    accept_all(&cluster, RATE_RECORDS, RATE_RECORDS, 16).await;
    let specs: Vec<WorkerSpec> = (0..WORKERS)
        .map(|i| schemas.spec(i, graph.url(i), None))
        .collect();
    let mut workers = Workers::spawn(&specs, "rate");
    let started = Instant::now();
    while graph.sent() < RATE_RECORDS {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "only {} sends in 60 s",
            graph.sent()
        );
        if let Err(e) = workers.all_running() {
            panic!("{e}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::task::block_in_place(|| workers.stop(Duration::from_secs(20)));

    let (sent, by_key) = graph.snapshot();
    let mut times: Vec<Instant> = sent.iter().map(|s| s.at).collect();
    times.sort();
    // The most sends in any one-second window [t, t + 1 s) starting at a send.
    let mut max_window = 0;
    let mut end = 0;
    for (start, t) in times.iter().enumerate() {
        while end < times.len() && times[end] < *t + Duration::from_secs(1) {
            end += 1;
        }
        max_window = max_window.max(end - start);
    }
    let span = times[times.len() - 1] - times[0];
    let per_worker: Vec<usize> = (0..WORKERS)
        .map(|worker| sent.iter().filter(|s| s.worker == worker).count())
        .collect();
    println!(
        "==== hubflow rate test ====\n\
         {RATE_RECORDS} sends from {WORKERS} worker processes ({per_worker:?}) on one number \
         limited to {RATE}/s: at most {max_window} in any 1-second window (limit {RATE} + \
         {RATE_TOLERANCE}), first to last send {:.2} s",
        span.as_secs_f64()
    );
    assert_eq!(sent.len(), RATE_RECORDS);
    // Every process took its share: one worker alone would keep any limit.
    assert!(
        per_worker.iter().all(|&n| n >= RATE_RECORDS / WORKERS / 4),
        "{per_worker:?}"
    );
    assert!(by_key.values().all(|wamids| wamids.len() == 1));
    assert!(
        max_window <= RATE + RATE_TOLERANCE,
        "{max_window} sends in one second"
    );
    // 399 intervals of 12.5 ms: 4.99 s.
    assert!(span >= Duration::from_millis(4500), "{span:?}");
    drop(workers);
    schemas.drop(&pool).await;
}
