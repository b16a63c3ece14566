//! One node of a cluster: a worker process that builds a `Cluster` from its environment and
//! runs until it is stopped. Start several against one database and they share the work.
//!
//! ```text
//! DATABASE_URL=postgres://app:…@127.0.0.1/app cargo run --example cluster_worker
//! ```
//!
//! * `DATABASE_URL` (required): the PostgreSQL database of the cluster and of its store.
//! * `HUBFLOW_TARGET_URL`: where the flow `deliver` posts each accepted record's data
//!   (default `http://127.0.0.1:8080/hook`).
//! * `HUBFLOW_CLUSTER`: a `ClusterConfig` as JSON, e.g.
//!   `{"jobs_schema": "test_jobs", "tables_schema": "test", "recovery": {"sweep_threshold_ms": 3000, "heartbeat_interval_ms": 500}}`;
//!   the store uses the tables schema too.
//! * `HUBFLOW_ACCEPT`: a number N: first accept N records (keys `rec-0` … `rec-<N-1>`),
//!   then run. A test can feed the cluster from one process and kill another.
//!
//! It prints `ready` once the worker starts. SIGINT or SIGTERM stop it gracefully (jobs in
//! flight get the grace period); after a SIGKILL its jobs are taken over by the other nodes
//! once its heartbeat is older than the sweep threshold.

use std::time::Duration;

use hubflow::cluster::{Cluster, ClusterConfig};
use hubflow::http::ReqwestClient;
use hubflow::http_target::HttpTarget;
use hubflow::{Context, Flow, PgStore, PgStoreOptions, Record, TokioClock};
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        eprintln!("set DATABASE_URL to the PostgreSQL database the cluster runs on");
        std::process::exit(2);
    };
    let config: ClusterConfig = match std::env::var("HUBFLOW_CLUSTER") {
        Ok(json) => serde_json::from_str(&json)?,
        Err(_) => ClusterConfig::default(),
    };
    let target = std::env::var("HUBFLOW_TARGET_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:8080/hook".to_owned())
        .parse()?;

    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(16)
        .connect(&url)
        .await?;
    let store = PgStore::from_pool_with(
        pool.clone(),
        PgStoreOptions::new().schema(&config.tables_schema),
    )
    .await?;
    let http = ReqwestClient::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let ctx = Context::new(http, TokioClock, store)
        .with_worker_id(format!("cluster_worker-{}", std::process::id()));
    let flow = Flow::builder("deliver")
        .target(HttpTarget::new(target))
        .build()?;
    let cluster = Cluster::builder(pool, ctx)
        .flow(flow)
        .config(config)
        .build()
        .await?;

    if let Some(n) = std::env::var("HUBFLOW_ACCEPT")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        for i in 0..n {
            let record = Record::new(format!("rec-{i}"), "test.record", json!({"n": i}));
            cluster.accept("deliver", record).await?;
        }
        println!("accepted {n}");
    }

    let stopper = cluster.clone();
    tokio::spawn(async move {
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        stopper.shutdown();
    });
    println!("ready");
    cluster.run().await?;
    println!("stopped");
    Ok(())
}
