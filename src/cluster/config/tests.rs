//! Unit tests of `cluster::config`.

use super::*;

#[test]
fn the_defaults_are_valid_and_round_trip_as_json() {
    let config = ClusterConfig::default();
    assert!(config.problems().is_empty(), "{:?}", config.problems());
    let json = serde_json::to_value(&config).unwrap();
    assert_eq!(json["jobs_schema"], "hubflow_jobs");
    assert_eq!(json["tables_schema"], "hubflow");
    assert_eq!(json["poll_interval_ms"], 100);
    assert_eq!(json["recovery"]["sweep_threshold_ms"], 300_000);
    let back: ClusterConfig = serde_json::from_value(json).unwrap();
    assert_eq!(back, config);
}

#[test]
fn json_fields_are_optional_and_unknown_ones_refused() {
    let config: ClusterConfig =
        serde_json::from_str(r#"{"max_attempts": 3, "recovery": {"heartbeat_interval_ms": 500}}"#)
            .unwrap();
    assert_eq!(config.max_attempts, 3);
    assert_eq!(
        config.recovery.heartbeat_interval,
        Duration::from_millis(500)
    );
    assert_eq!(config.concurrency, ClusterConfig::default().concurrency);
    assert!(serde_json::from_str::<ClusterConfig>(r#"{"poll_interval": 5}"#).is_err());
    assert!(serde_json::from_str::<ClusterConfig>(r#"{"recovery": {"enabled": false}}"#).is_err());
}

#[test]
fn every_problem_is_reported_with_its_field() {
    let config = ClusterConfig::default()
        .concurrency(0)
        .poll_interval(Duration::ZERO)
        .max_attempts(0)
        .jobs_schema("Jobs; DROP TABLE x")
        .tick_lookahead(Duration::from_secs(7200))
        .intake_retention(Duration::from_secs(60))
        .restart_backoff(Duration::from_secs(10), Duration::from_secs(1))
        .recipient_queues(0)
        .recovery(
            RecoveryConfig::default()
                .heartbeat_interval(Duration::ZERO)
                .sweep_interval(Duration::ZERO),
        );
    let problems = config.problems();
    for field in [
        "concurrency:",
        "poll_interval_ms:",
        "max_attempts:",
        "jobs_schema:",
        "tick_lookahead_ms:",
        "intake_retention_ms:",
        "max_restart_backoff_ms:",
        "recipient_queues:",
        "recovery.heartbeat_interval_ms:",
        "recovery.sweep_interval_ms:",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(field)),
            "{field} missing from {problems:?}"
        );
    }
}

#[test]
fn recipient_queues_are_bounded() {
    for (n, ok) in [
        (0, false),
        (1, true),
        (256, true),
        (4096, true),
        (4097, false),
    ] {
        let problems = ClusterConfig::default().recipient_queues(n).problems();
        assert_eq!(problems.is_empty(), ok, "{n}: {problems:?}");
    }
}

#[test]
fn attempts_must_fit_graphile_workers_column() {
    assert!(ClusterConfig::default()
        .max_attempts(32767)
        .problems()
        .is_empty());
    assert!(ClusterConfig::default()
        .max_attempts(32768)
        .problems()
        .iter()
        .any(|p| p.starts_with("max_attempts:")));
}

#[test]
fn the_sweep_threshold_must_exceed_the_heartbeat() {
    let config = ClusterConfig::default().recovery(
        RecoveryConfig::default()
            .heartbeat_interval(Duration::from_secs(10))
            .sweep_threshold(Duration::from_secs(10)),
    );
    assert!(config
        .problems()
        .iter()
        .any(|p| p.starts_with("recovery.sweep_threshold_ms:")));
}

#[test]
fn the_two_schemas_must_differ() {
    let config = ClusterConfig::default()
        .jobs_schema("acme")
        .tables_schema("acme");
    assert!(config
        .problems()
        .iter()
        .any(|p| p.starts_with("jobs_schema:")));
}

#[test]
fn schema_names_are_plain_identifiers() {
    for good in ["hubflow", "hubflow_jobs", "_x", "a1", &"a".repeat(63)] {
        assert!(is_schema_name(good), "{good}");
    }
    for bad in [
        "",
        "1abc",
        "Hubflow",
        "a-b",
        "a\"b",
        "a b",
        "pg_catalog",
        &"a".repeat(64),
    ] {
        assert!(!is_schema_name(bad), "{bad}");
    }
}
