//! Unit tests of the PostgreSQL store's parts that need no server: schema names, URL
//! parsing, error kinds and messages, the statements' text. The store itself is tested on a
//! real server in `tests/store_postgres.rs`.

use std::error::Error;

use super::error::{endpoint, kind_of_sqlstate, Kind};
use super::schema::{valid_schema_name, Statements, SCHEMA_VERSION};
use super::*;
use crate::StoreErrorKind;

#[test]
fn schema_names_are_plain_lowercase_identifiers() {
    for good in ["hubflow", "_x", "hubflow_test_1", &"a".repeat(63)] {
        assert!(valid_schema_name(good), "{good}");
    }
    for bad in [
        "",
        "Hubflow",
        "1st",
        "pg_catalog",
        "a-b",
        "a.b",
        "a b",
        "x;DROP SCHEMA public",
        "\"quoted\"",
        "é",
        &"a".repeat(64),
    ] {
        assert!(!valid_schema_name(bad), "{bad}");
        let error = check_schema_name(bad).unwrap_err();
        assert!(error.message().contains("plain lowercase"), "{error}");
    }
}

#[test]
fn the_options_default_to_the_hubflow_schema_and_clamp_the_pool() {
    let options = PgStoreOptions::new();
    assert_eq!(options.schema_name(), "hubflow");
    assert_eq!(options.max_connections, 10);
    assert_eq!(options.acquire_timeout, Duration::from_secs(10));
    let options = options
        .schema("other")
        .max_connections(0)
        .acquire_timeout(Duration::from_millis(5));
    assert_eq!(options.schema_name(), "other");
    assert_eq!(options.max_connections, 1, "a pool needs a connection");
    assert_eq!(options.acquire_timeout, Duration::from_millis(5));
}

#[test]
fn a_url_is_parsed_and_its_password_never_quoted() {
    let options = parse_url("postgres://app:pw@db.internal:6543/prod?sslmode=disable").unwrap();
    assert_eq!(endpoint(&options), "db.internal:6543");
    assert_eq!(options.get_database(), Some("prod"));
    assert_eq!(
        endpoint(&parse_url("postgres://app@[::1]/prod").unwrap()),
        "[::1]:5432"
    );
    assert_eq!(
        endpoint(&PgConnectOptions::new().host("::1").port(5433)),
        "[::1]:5433"
    );

    for url in [
        "postgres://app:hunter2-secret@db:99999/prod",
        "postgres://app:hunter2-secret@db/prod?sslmode=sometimes",
        "hunter2-secret",
    ] {
        let error = parse_url(url).unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable);
        let mut said = format!("{error} {error:?}");
        let mut next = error.source();
        while let Some(cause) = next {
            said.push_str(&format!(" {cause} {cause:?}"));
            next = cause.source();
        }
        assert!(!said.contains("hunter2"), "{said}");
    }
}

#[test]
fn sqlstates_map_to_the_kinds_a_caller_reacts_to() {
    for (code, kind) in [
        ("23505", Kind::Conflict),
        ("23514", Kind::Conflict),
        ("40001", Kind::Conflict),
        ("40P01", Kind::Conflict),
        ("22P05", Kind::Conflict),
        ("XX001", Kind::Corrupt),
        ("42P01", Kind::Corrupt),
        ("3F000", Kind::Corrupt),
        ("08006", Kind::Unavailable),
        ("57P01", Kind::Unavailable),
        ("53300", Kind::Unavailable),
        ("28P01", Kind::Unavailable),
        ("42501", Kind::Unavailable),
    ] {
        assert_eq!(kind_of_sqlstate(code), kind, "{code}");
    }
}

#[test]
fn driver_failures_become_typed_store_errors_that_say_why() {
    let refused = sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "Connection refused (os error 111)",
    ));
    let error = db_error("claiming record keys", refused);
    assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    assert_eq!(
        error.message(),
        "claiming record keys failed: connection refused"
    );
    assert!(error.source().is_some());

    let error = db_error("reading state", sqlx::Error::PoolTimedOut);
    assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    assert!(error.message().contains("acquire timeout"), "{error}");

    let error = db_error("reading state", sqlx::Error::ColumnNotFound("value".into()));
    assert_eq!(error.kind(), StoreErrorKind::Corrupt);

    let error = connect_error(
        "127.0.0.1:1",
        sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into()),
    );
    assert_eq!(
        error.to_string(),
        "store unavailable: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused"
    );
}

#[test]
fn every_statement_names_the_schema_and_only_it() {
    let sql = Statements::new("tenant_7");
    for statement in [
        &sql.claim,
        &sql.reclaim,
        &sql.complete,
        &sql.release,
        &sql.peek_claim,
        &sql.lease_cursor,
        &sql.save_cursor,
        &sql.release_cursor,
        &sql.saved_cursor,
        &sql.get_state,
        &sql.put_state,
        &sql.swap_absent_state,
        &sql.swap_state,
        &sql.remove_state,
        &sql.append_history,
        &sql.recent_history,
        &sql.prune_history,
        &sql.prune_all_history,
        &sql.purge_expired_state,
        &sql.reserve_slot,
    ] {
        let text = statement.as_str();
        assert!(text.contains("tenant_7."), "{text}");
        assert!(!text.contains("{s}") && !text.contains("hubflow"), "{text}");
    }
}

#[test]
fn the_public_version_is_the_last_migrations() {
    assert_eq!(PgStore::SCHEMA_VERSION, SCHEMA_VERSION as u32);
}
