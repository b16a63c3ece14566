//! Unit tests of `cluster`: what the builder refuses before it touches the database.

use std::time::Duration;

use super::*;
use crate::http::RecordingClient;
use crate::http_target::HttpTarget;
use crate::{ManualClock, MemoryStore, Trigger};

/// A pool that never connects: nothing here may reach a database.
fn pool() -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(10))
        .connect_lazy("postgres://hubflow@127.0.0.1:1/none")
        .unwrap()
}

fn ctx() -> Context {
    Context::new(
        RecordingClient::new(),
        ManualClock::new("2026-03-01T12:00:00Z".parse().unwrap()),
        MemoryStore::new(),
    )
}

fn flow(id: &str) -> Flow {
    Flow::builder(id)
        .target(HttpTarget::new(
            "https://ops.example.com/hook".parse().unwrap(),
        ))
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_invalid_configuration_is_refused_with_every_problem() {
    let error = Cluster::builder(pool(), ctx())
        .config(ClusterConfig::default().concurrency(0).max_attempts(0))
        .build()
        .await
        .unwrap_err();
    let ClusterError::InvalidConfig(problems) = &error else {
        panic!("{error:?}");
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(error
        .to_string()
        .contains("concurrency: must be at least 1"));
    assert!(!error.is_transient());
}

#[tokio::test]
async fn two_flows_with_one_id_are_refused() {
    let error = Cluster::builder(pool(), ctx())
        .flow(flow("a"))
        .flows([flow("b"), flow("a")])
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClusterError::DuplicateFlow(id) if id == "a"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_timed_flow_needs_a_source() {
    let timed = Flow::builder("report")
        .trigger(Trigger::every(60))
        .target(HttpTarget::new(
            "https://ops.example.com/hook".parse().unwrap(),
        ))
        .build()
        .unwrap();
    let error = Cluster::builder(pool(), ctx())
        .flow(timed)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClusterError::InvalidFlow { flow, .. } if flow == "report"),
        "{error:?}"
    );
}

#[tokio::test]
async fn an_unreachable_database_is_a_transient_error() {
    let error = Cluster::builder(pool(), ctx())
        .flow(flow("a"))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, ClusterError::Database { .. }), "{error:?}");
    assert!(error.is_transient());
}

#[tokio::test]
async fn a_claim_lease_must_end_within_the_jobs_retries() {
    let long_lease = Flow::builder("slow")
        .target(HttpTarget::new(
            "https://ops.example.com/hook".parse().unwrap(),
        ))
        .delivery(crate::DeliveryPolicy::default().claim_lease(Duration::from_secs(3600)))
        .build()
        .unwrap();
    // Eight attempts span about 29 minutes: an hour's lease would outlast them.
    let error = Cluster::builder(pool(), ctx())
        .flow(long_lease.clone())
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ClusterError::InvalidFlow { reason, .. } if reason.contains("claim lease")),
        "{error:?}"
    );
    // Ten span about 3.6 hours: fine (the build goes on, to the unreachable database).
    let error = Cluster::builder(pool(), ctx())
        .flow(long_lease)
        .config(ClusterConfig::default().max_attempts(10))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(error, ClusterError::Database { .. }), "{error:?}");
}

#[test]
fn the_retry_span_follows_graphile_workers_backoff() {
    assert_eq!(retry_span(1), Duration::ZERO);
    let eight = retry_span(8).as_secs();
    assert!((1700..1760).contains(&eight), "{eight}");
    let ten = retry_span(10).as_secs();
    assert!((12_000..13_500).contains(&ten), "{ten}");
}
