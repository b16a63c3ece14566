//! `PgStore` on a real PostgreSQL server: the store conformance suite, concurrent batches
//! through two pools, concurrent migrations, a newer schema refused, retention, and the
//! faults: a server that cannot be reached, a wrong password, a connection lost mid-run
//! (through a TCP proxy the test cuts).
//!
//! The server is the one `DATABASE_URL` names (`bash .ci/postgres.sh cargo test …` starts a
//! throwaway one). Without it the tests that need it say so and pass, except under
//! `CI=true`, where a missing `DATABASE_URL` fails them. Each test works in a schema of its
//! own and drops it at the end.
#![cfg(all(feature = "postgres", feature = "testing"))]

use std::collections::HashMap;
use std::error::Error;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::join_all;
use hubflow::testing::store::{check_all, check_rates};
use hubflow::{
    Claim, ClaimStore, HistoryEntry, HistoryStore, PgStore, PgStoreOptions, RateStore, Receipt,
    StateEntry, StateStore, StoreError, StoreErrorKind,
};
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The server's URL, or `None` (with the reason printed) to skip; under `CI=true` a missing
/// URL fails the test instead, so CI cannot pass without running these tests.
fn database_url() -> Option<String> {
    match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => panic!(
            "DATABASE_URL is not set and CI=true: the PostgreSQL tests must run in CI \
             (.ci/run starts a server with .ci/postgres.sh)"
        ),
        _ => {
            eprintln!(
                "skipped: DATABASE_URL is not set (`bash .ci/postgres.sh cargo test --all-features \
                 --test store_postgres` runs these tests against a throwaway server)"
            );
            None
        }
    }
}

/// A schema name no other test or run uses.
fn fresh_schema(what: &str) -> String {
    let token = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    format!("hubflow_test_{what}_{token:016x}")
}

fn server(url: &str) -> PgConnectOptions {
    PgConnectOptions::from_str(url).unwrap()
}

/// The password in `url`, decoded, which no error or `Debug` output may contain.
fn password(url: &str) -> String {
    let password = url::Url::parse(url)
        .unwrap()
        .password()
        .map(str::to_owned)
        .unwrap_or_default();
    assert!(
        !password.is_empty(),
        "DATABASE_URL must carry a password for the redaction tests to mean anything"
    );
    percent_encoding::percent_decode_str(&password)
        .decode_utf8_lossy()
        .into_owned()
}

async fn store_in(url: &str, schema: &str) -> PgStore {
    PgStore::connect_with(server(url), PgStoreOptions::new().schema(schema))
        .await
        .unwrap()
}

/// Runs `sql` on a connection of its own (not a store's pool).
async fn execute(url: &str, sql: String) {
    let mut conn = server(url).connect().await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
}

async fn scalar_i64(url: &str, sql: String) -> i64 {
    let mut conn = server(url).connect().await.unwrap();
    let value: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    value
}

async fn drop_schema(url: &str, schema: &str) {
    execute(url, format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
}

/// Every message in `error`'s chain, `Display` and `Debug`, for the redaction checks.
fn everything_said(error: &StoreError) -> String {
    let mut said = format!("{error}\n{error:?}\n");
    let mut next = error.source();
    while let Some(cause) = next {
        said.push_str(&format!("{cause}\n{cause:?}\n"));
        next = cause.source();
    }
    said
}

fn instant(day: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 12, 0, 0).unwrap() + chrono::Duration::microseconds(123)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_conforms_on_a_fresh_schema() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("conformance");
    let store = store_in(&url, &schema).await;
    assert_eq!(store.schema(), schema);
    check_all(&store).await.unwrap();
    check_rates(&store).await.unwrap();
    // Again on the same tables, next to the first run's rows, and through a clone.
    check_all(&store.clone()).await.unwrap();
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_schema_is_hubflow_and_conforms() {
    let Some(url) = database_url() else { return };
    // The suite writes only under fresh names, so it may share the default schema with
    // whatever else uses it; the schema is left in place.
    let store = PgStore::connect(&url).await.unwrap();
    assert_eq!(store.schema(), "hubflow");
    check_all(&store).await.unwrap();
    let version = scalar_i64(
        &url,
        "SELECT max(version)::bigint FROM hubflow.schema_version".to_owned(),
    )
    .await;
    assert_eq!(version, i64::from(PgStore::SCHEMA_VERSION));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_on_the_hosts_pool_conforms() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("pool");
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(3)
        .connect_with(server(&url))
        .await
        .unwrap();
    let store = PgStore::from_pool_with(pool.clone(), PgStoreOptions::new().schema(&schema))
        .await
        .unwrap();
    check_all(&store).await.unwrap();
    // The store runs on that very pool.
    assert_eq!(store.pool().options().get_max_connections(), 3);
    drop_schema(&url, &schema).await;
}

/// One batch's keys with the claim each got.
type Answers = Vec<(String, Claim)>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claim_batches_through_two_pools_acquire_each_key_once() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("batches");
    let options = PgStoreOptions::new().schema(&schema).max_connections(4);
    let a = PgStore::connect_with(server(&url), options.clone())
        .await
        .unwrap();
    let b = PgStore::connect_with(server(&url), options).await.unwrap();
    let now = instant(1);
    // Both pools hold 4 open connections, so the batches below start together.
    let warm = (0..8).map(|i| {
        let store = if i % 2 == 0 { &a } else { &b };
        store.peek_claim("warm", "k")
    });
    for warmed in join_all(warm).await {
        warmed.unwrap();
    }

    // Per round, 8 batches of 200 over 300 keys, overlapping, half in reverse order (a
    // store that locked keys in the order given would deadlock), each with a key twice.
    const KEYS: usize = 300;
    const BATCHES: usize = 8;
    for round in 0..4 {
        let scope = format!("flow-{round}");
        let start = Arc::new(tokio::sync::Barrier::new(BATCHES));
        let tasks: Vec<JoinHandle<Result<Answers, StoreError>>> = (0..BATCHES)
            .map(|i| {
                let mut keys: Vec<String> = (0..200)
                    .map(|j| format!("k{}", (i * 37 + j) % KEYS))
                    .collect();
                if i % 2 == 1 {
                    keys.reverse();
                }
                let repeated = keys[3].clone();
                keys.push(repeated);
                let store = if i % 2 == 0 { a.clone() } else { b.clone() };
                let (scope, start) = (scope.clone(), start.clone());
                tokio::spawn(async move {
                    let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                    start.wait().await;
                    let claims = store.claim_batch(&scope, &refs, now).await?;
                    assert_eq!(claims.len(), keys.len(), "one answer per key");
                    Ok(keys.into_iter().zip(claims).collect())
                })
            })
            .collect();

        let mut acquired: HashMap<String, usize> = HashMap::new();
        let mut answers = 0;
        for task in join_all(tasks).await {
            for (key, claim) in task.unwrap().unwrap() {
                answers += 1;
                match claim {
                    Claim::Acquired => *acquired.entry(key).or_default() += 1,
                    Claim::InFlight { since } => assert_eq!(since, now, "{key}"),
                    other => panic!("{key}: unexpected {other:?}"),
                }
            }
        }
        assert_eq!(answers, BATCHES * 201);
        assert_eq!(
            acquired.len(),
            KEYS,
            "every key in some batch was acquired by one of them"
        );
        assert!(
            acquired.values().all(|&n| n == 1),
            "a key acquired more than once: {:?}",
            acquired.iter().filter(|(_, &n)| n > 1).collect::<Vec<_>>()
        );
        for key in ["k0", "k150", "k299"] {
            assert_eq!(
                a.peek_claim(&scope, key).await.unwrap(),
                Some(Claim::InFlight { since: now })
            );
        }
    }
    drop_schema(&url, &schema).await;
}

/// Counts the statements that write `table` (a statement-level trigger), so that a test can
/// tell one multi-row statement from many.
async fn count_statements(url: &str, schema: &str, table: &str) {
    execute(
        url,
        format!(
            "CREATE TABLE IF NOT EXISTS {schema}.statements (tbl text PRIMARY KEY, n bigint NOT NULL);
             CREATE OR REPLACE FUNCTION {schema}.count_statement() RETURNS trigger AS $$
             BEGIN
               INSERT INTO {schema}.statements VALUES (TG_TABLE_NAME, 1)
               ON CONFLICT (tbl) DO UPDATE SET n = {schema}.statements.n + 1;
               RETURN NULL;
             END $$ LANGUAGE plpgsql;
             CREATE TRIGGER count_{table} AFTER INSERT ON {schema}.{table}
             FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_statement();"
        ),
    )
    .await;
}

async fn statements(url: &str, schema: &str, table: &str) -> i64 {
    scalar_i64(
        url,
        format!("SELECT coalesce((SELECT n FROM {schema}.statements WHERE tbl = '{table}'), 0)"),
    )
    .await
}

// On the current-thread runtime, `join_all` queues every call before the first statement
// runs, so the statement counts below are exact.
#[tokio::test]
async fn concurrent_calls_share_one_statement_and_each_gets_its_own_answer() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("group");
    let store = store_in(&url, &schema).await;
    for table in ["claims", "history", "rate_slots"] {
        count_statements(&url, &schema, table).await;
    }
    let now = instant(2);
    let keys: Vec<(String, String)> = (0..64)
        .map(|i| (format!("flow-{}", i % 8), format!("k{i}")))
        .collect();

    // 64 claims over 8 scopes: one statement, each acquired.
    let claims = join_all(keys.iter().map(|(scope, key)| store.claim(scope, key, now))).await;
    assert!(
        claims.iter().all(|c| matches!(c, Ok(Claim::Acquired))),
        "{claims:?}"
    );
    assert_eq!(statements(&url, &schema, "claims").await, 1);

    // Again: each finds its own claim in flight since its own instant.
    let later = now + chrono::Duration::seconds(1);
    let claims = join_all(
        keys.iter()
            .map(|(scope, key)| store.claim(scope, key, later)),
    )
    .await;
    for claim in &claims {
        assert_eq!(claim.as_ref().unwrap(), &Claim::InFlight { since: now });
    }
    assert_eq!(statements(&url, &schema, "claims").await, 2);

    // 64 completions, each with its own receipt: one statement.
    let receipts: Vec<Receipt> = (0..64)
        .map(|i| Receipt::new(200).with_id(format!("id-{i}")))
        .collect();
    let done = join_all(
        keys.iter()
            .zip(&receipts)
            .map(|((scope, key), receipt)| store.complete(scope, key, receipt)),
    )
    .await;
    assert!(done.iter().all(Result::is_ok), "{done:?}");
    assert_eq!(statements(&url, &schema, "claims").await, 3);
    for ((scope, key), receipt) in keys.iter().zip(&receipts) {
        assert_eq!(
            store.peek_claim(scope, key).await.unwrap(),
            Some(Claim::Done {
                receipt: receipt.clone()
            })
        );
    }

    // Ten claims of one key cannot share a statement: each goes alone, in order, and one
    // acquires.
    let claims = join_all((0..10).map(|_| store.claim("one", "key", now))).await;
    let claims: Vec<Claim> = claims.into_iter().map(Result::unwrap).collect();
    assert_eq!(claims[0], Claim::Acquired);
    assert!(
        claims[1..]
            .iter()
            .all(|c| *c == Claim::InFlight { since: now }),
        "{claims:?}"
    );
    assert_eq!(statements(&url, &schema, "claims").await, 13);

    // History: 20 appends of one flow in one statement, kept in the order appended.
    let entries: Vec<HistoryEntry> = (0..20)
        .map(|i| HistoryEntry::new("flow-h", now, now, json!({ "run": i })))
        .collect();
    let appended = join_all(entries.iter().map(|entry| store.append_history(entry))).await;
    assert!(appended.iter().all(Result::is_ok), "{appended:?}");
    assert_eq!(statements(&url, &schema, "history").await, 1);
    let recent = store.recent_history("flow-h", 100).await.unwrap();
    let runs: Vec<i64> = recent
        .iter()
        .map(|e| e.report["run"].as_i64().unwrap())
        .collect();
    assert_eq!(runs, (0..20).rev().collect::<Vec<_>>());

    // Rate slots: 4 keys × 5 calls at one instant. A statement takes one call per key, so
    // 5 statements, and each key's calls get consecutive slots.
    let step = Duration::from_millis(10);
    let calls: Vec<String> = (0..20).map(|i| format!("number-{}", i % 4)).collect();
    let slots = join_all(calls.iter().map(|key| store.reserve_slot(key, step, now))).await;
    assert_eq!(statements(&url, &schema, "rate_slots").await, 5);
    for k in 0..4 {
        let got: Vec<DateTime<Utc>> = slots
            .iter()
            .zip(&calls)
            .filter(|(_, key)| **key == format!("number-{k}"))
            .map(|(slot, _)| *slot.as_ref().unwrap())
            .collect();
        let want: Vec<DateTime<Utc>> = (0..5)
            .map(|i| now + chrono::Duration::milliseconds(10 * i))
            .collect();
        assert_eq!(got, want, "number-{k}");
    }
    drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn a_value_the_server_refuses_fails_its_own_call_and_no_other_in_its_statement() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("group_fault");
    let store = store_in(&url, &schema).await;
    count_statements(&url, &schema, "claims").await;
    let now = instant(3);
    for i in 0..8 {
        assert_eq!(
            store.claim("flow", &format!("k{i}"), now).await.unwrap(),
            Claim::Acquired
        );
    }
    let before = statements(&url, &schema, "claims").await;
    // `jsonb` cannot hold U+0000: the server refuses the statement that carries it.
    let receipts: Vec<Receipt> = (0..8)
        .map(|i| {
            let note = if i == 3 {
                "nul \u{0} here".to_owned()
            } else {
                format!("fine {i}")
            };
            Receipt::new(200).with_details(json!({ "note": note }))
        })
        .collect();
    let keys: Vec<String> = (0..8).map(|i| format!("k{i}")).collect();
    let done = join_all(
        keys.iter()
            .zip(&receipts)
            .map(|(key, receipt)| store.complete("flow", key, receipt)),
    )
    .await;
    for (i, result) in done.iter().enumerate() {
        if i == 3 {
            let error = result.as_ref().unwrap_err();
            assert_eq!(error.kind(), StoreErrorKind::Conflict, "{error}");
            assert!(matches!(
                store.peek_claim("flow", "k3").await.unwrap(),
                Some(Claim::InFlight { .. })
            ));
        } else {
            result.as_ref().unwrap();
            assert_eq!(
                store.peek_claim("flow", &format!("k{i}")).await.unwrap(),
                Some(Claim::Done {
                    receipt: receipts[i].clone()
                })
            );
        }
    }
    // The refused statement left no count; then each call went alone, 7 of them committed.
    assert_eq!(statements(&url, &schema, "claims").await - before, 7);
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_stores_migrating_at_once_create_the_schema_once() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("migrate");
    let starts = (0..8).map(|_| {
        PgStore::connect_with(
            server(&url),
            PgStoreOptions::new().schema(&schema).max_connections(1),
        )
    });
    let stores: Vec<PgStore> = join_all(starts)
        .await
        .into_iter()
        .map(|started| started.unwrap())
        .collect();
    let versions = scalar_i64(
        &url,
        format!("SELECT count(*) FROM {schema}.schema_version"),
    )
    .await;
    assert_eq!(versions, 1, "the migration was recorded once");
    let version = scalar_i64(
        &url,
        format!("SELECT max(version)::bigint FROM {schema}.schema_version"),
    )
    .await;
    assert_eq!(version, i64::from(PgStore::SCHEMA_VERSION));
    // All of them work on the one schema.
    let now = instant(1);
    let mut acquired = 0;
    for store in &stores {
        if store.claim("flow", "k", now).await.unwrap() == Claim::Acquired {
            acquired += 1;
        }
    }
    assert_eq!(acquired, 1);
    // A later start finds the schema current and changes nothing.
    drop(store_in(&url, &schema).await);
    let versions = scalar_i64(
        &url,
        format!("SELECT count(*) FROM {schema}.schema_version"),
    )
    .await;
    assert_eq!(versions, 1);
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused_as_incompatible() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("newer");
    drop(store_in(&url, &schema).await);
    let newer = PgStore::SCHEMA_VERSION + 1;
    // A later version of the crate would have moved the schema on.
    execute(
        &url,
        format!("INSERT INTO {schema}.schema_version (version) VALUES ({newer})"),
    )
    .await;

    let error = PgStore::connect_with(server(&url), PgStoreOptions::new().schema(&schema))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Incompatible, "{error:?}");
    let expected = format!(
        "schema version {newer}, newer than version {} that this version of hubflow reads; \
         upgrade hubflow",
        PgStore::SCHEMA_VERSION
    );
    assert!(error.message().contains(&expected), "{error}");
    assert!(
        error.message().contains(&schema),
        "names the schema: {error}"
    );

    // The host's pool is refused the same way, and the refusal changed nothing.
    let pool = sqlx::PgPool::connect_with(server(&url)).await.unwrap();
    let error = PgStore::from_pool_with(pool, PgStoreOptions::new().schema(&schema))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Incompatible);
    let rows = scalar_i64(
        &url,
        format!("SELECT count(*) FROM {schema}.schema_version"),
    )
    .await;
    assert_eq!(rows, 2);
    drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable_naming_host_and_port_never_the_password() {
    // A port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let secret = "s3cr3t-Pa55word-never-shown";
    let url = format!("postgres://hubflow:{secret}@127.0.0.1:{port}/hubflow");

    let started = std::time::Instant::now();
    let error = PgStore::connect(&url).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a refused connection is reported at once, not after the pool's retries"
    );
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error:?}");
    assert_eq!(
        error.to_string(),
        format!("store unavailable: cannot connect to PostgreSQL at 127.0.0.1:{port}: connection refused")
    );
    assert!(error.source().is_some(), "the driver's error is kept");
    let said = everything_said(&error);
    assert!(!said.contains(secret), "the password leaked: {said}");

    // The same through options built by hand, with a password that needs escaping in a URL.
    let odd = "p@ss:w/rd%20-never-shown";
    let options = PgConnectOptions::new()
        .host("127.0.0.1")
        .port(port)
        .username("hubflow")
        .password(odd);
    let error = PgStore::connect_with(options, PgStoreOptions::new())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    assert!(error.message().contains(&format!("127.0.0.1:{port}")));
    assert!(!everything_said(&error).contains(odd));
}

#[tokio::test]
async fn a_malformed_url_or_schema_name_is_refused_without_quoting_the_password() {
    let secret = "s3cr3t-in-a-bad-url";
    for url in [
        format!("postgres://hubflow:{secret}@127.0.0.1:99999/hubflow"),
        format!("postgres://hubflow:{secret}@127.0.0.1:5432/hubflow?sslmode=sometimes"),
        format!("not a url {secret}"),
    ] {
        let error = PgStore::connect(&url).await.unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{url}");
        assert!(
            !everything_said(&error).contains(secret),
            "{}",
            everything_said(&error)
        );
    }
    for schema in ["Hubflow", "1st", "pg_store", "a-b", "x; DROP TABLE y", ""] {
        let error = PgStore::connect_with(
            PgConnectOptions::new().host("127.0.0.1").port(1),
            PgStoreOptions::new().schema(schema),
        )
        .await
        .unwrap_err();
        assert!(
            error
                .message()
                .contains("not a plain lowercase PostgreSQL identifier"),
            "{schema}: {error}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_unavailable_and_never_quoted() {
    let Some(url) = database_url() else { return };
    let wrong = "Wr0ng-Pa55word-never-shown";
    let options = server(&url).password(wrong);
    let error = PgStore::connect_with(options, PgStoreOptions::new())
        .await
        .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error:?}");
    let target = server(&url);
    assert!(
        error.message().contains(&format!(
            "cannot connect to PostgreSQL at {}:{}",
            target.get_host(),
            target.get_port()
        )),
        "{error}"
    );
    assert!(error.message().contains("authentication failed"), "{error}");
    let said = everything_said(&error);
    assert!(!said.contains(wrong), "the password leaked: {said}");
    assert!(!said.contains(&password(&url)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_shows_where_the_store_is_but_never_the_password() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("debug");
    let store = store_in(&url, &schema).await;
    let shown = format!("{store:?}");
    assert!(!shown.contains(&password(&url)), "{shown}");
    let target = server(&url);
    assert!(
        shown.contains(&format!("{}:{}", target.get_host(), target.get_port())),
        "{shown}"
    );
    assert!(shown.contains(&schema), "{shown}");
    drop_schema(&url, &schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_and_expired_state_are_pruned_across_flows() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("retention");
    let store = store_in(&url, &schema).await;
    // Flow a ran daily on the 1st to the 5th, flow b on the 1st to the 3rd.
    for (flow, days) in [("a", 1..=5), ("b", 1..=3)] {
        for day in days {
            let entry = HistoryEntry::new(flow, instant(day), instant(day), json!({"day": day}));
            store.append_history(&entry).await.unwrap();
        }
    }
    // Keep the newest two of each flow, and anything that finished on the 2nd or later.
    let deleted = store.prune_all_history(2, instant(2)).await.unwrap();
    assert_eq!(deleted, 1 + 1, "a's 1st and b's 1st");
    let days = |entries: Vec<HistoryEntry>| -> Vec<u64> {
        entries
            .iter()
            .map(|e| e.report["day"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        days(store.recent_history("a", 10).await.unwrap()),
        [5, 4, 3, 2]
    );
    assert_eq!(days(store.recent_history("b", 10).await.unwrap()), [3, 2]);
    // By count alone, and the per-flow prune of the trait.
    assert_eq!(
        store
            .prune_all_history(1, DateTime::<Utc>::MAX_UTC)
            .await
            .unwrap(),
        3 + 1
    );
    assert_eq!(days(store.recent_history("a", 10).await.unwrap()), [5]);
    assert_eq!(store.prune_history("b", 0).await.unwrap(), 1);
    assert!(store.recent_history("b", 10).await.unwrap().is_empty());

    let now = instant(10);
    for (key, entry) in [
        ("expired", StateEntry::new(json!(1)).expiring_at(instant(9))),
        ("at-now", StateEntry::new(json!(2)).expiring_at(now)),
        ("live", StateEntry::new(json!(3)).expiring_at(instant(11))),
        ("forever", StateEntry::new(json!(4))),
    ] {
        store.put_state("s", key, &entry).await.unwrap();
    }
    assert_eq!(store.purge_expired_state(now).await.unwrap(), 2);
    let rows = scalar_i64(&url, format!("SELECT count(*) FROM {schema}.state")).await;
    assert_eq!(rows, 2, "the live entries stay");
    assert!(store.get_state("s", "live", now).await.unwrap().is_some());
    assert!(store
        .get_state("s", "forever", now)
        .await
        .unwrap()
        .is_some());
    drop_schema(&url, &schema).await;
}

/// A TCP proxy on 127.0.0.1 in front of the server, which the test can cut: every open
/// connection dropped and the port closed (new connections refused), and restore.
struct Proxy {
    port: u16,
    upstream: SocketAddr,
    listener: Mutex<Option<JoinHandle<()>>>,
    connections: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: SocketAddr) -> Arc<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Arc::new(Proxy {
            port: listener.local_addr().unwrap().port(),
            upstream,
            listener: Mutex::new(None),
            connections: Arc::default(),
        });
        proxy.serve(listener);
        proxy
    }

    fn serve(&self, listener: TcpListener) {
        let upstream = self.upstream;
        let connections = self.connections.clone();
        let accepting = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let forwarding = tokio::spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections.lock().unwrap().push(forwarding);
            }
        });
        *self.listener.lock().unwrap() = Some(accepting);
    }

    /// Drops every connection and stops listening; returns once both are gone.
    async fn cut(&self) {
        let listener = self.listener.lock().unwrap().take();
        if let Some(listener) = listener {
            listener.abort();
            let _ = listener.await;
        }
        let connections = std::mem::take(&mut *self.connections.lock().unwrap());
        for connection in connections {
            connection.abort();
            let _ = connection.await;
        }
    }

    /// Listens again on the same port.
    async fn restore(&self) {
        for _ in 0..50 {
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", self.port)).await {
                self.serve(listener);
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("port {} could not be bound again", self.port);
    }
}

async fn upstream_of(url: &str) -> SocketAddr {
    let target = server(url);
    let mut found = tokio::net::lookup_host((target.get_host(), target.get_port()))
        .await
        .unwrap();
    found.next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_fail_as_unavailable_while_the_connection_is_lost_and_recover_after() {
    let Some(url) = database_url() else { return };
    let schema = fresh_schema("lost");
    let proxy = Proxy::start(upstream_of(&url).await).await;
    let options = PgStoreOptions::new()
        .schema(&schema)
        .acquire_timeout(Duration::from_secs(1));
    let store = PgStore::connect_with(server(&url).host("127.0.0.1").port(proxy.port), options)
        .await
        .unwrap();
    let now = instant(1);
    assert_eq!(
        store.claim("flow", "k", now).await.unwrap(),
        Claim::Acquired
    );

    proxy.cut().await;
    let failures: Vec<StoreError> = vec![
        store.peek_claim("flow", "k").await.unwrap_err(),
        store
            .claim_batch("flow", &["a", "b"], now)
            .await
            .unwrap_err(),
        store
            .put_state("s", "k", &StateEntry::new(json!(1)))
            .await
            .unwrap_err(),
        store.recent_history("flow", 1).await.unwrap_err(),
    ];
    for error in &failures {
        assert_eq!(error.kind(), StoreErrorKind::Unavailable, "{error:?}");
        assert!(!everything_said(error).contains(&password(&url)));
    }
    // A new store cannot start either, and says where it tried.
    let error = PgStore::connect_with(
        server(&url).host("127.0.0.1").port(proxy.port),
        PgStoreOptions::new().schema(&schema),
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Unavailable);
    assert!(
        error
            .message()
            .contains(&format!("127.0.0.1:{}: connection refused", proxy.port)),
        "{error}"
    );

    proxy.restore().await;
    // The pool reconnects by itself; nothing the failed calls tried was written.
    assert_eq!(
        store.peek_claim("flow", "k").await.unwrap(),
        Some(Claim::InFlight { since: now })
    );
    assert_eq!(store.peek_claim("flow", "a").await.unwrap(), None);
    assert!(store.get_state("s", "k", now).await.unwrap().is_none());
    drop_schema(&url, &schema).await;
}

/// A flow whose store goes away while a record is being delivered.
#[cfg(feature = "http")]
mod lost_mid_run {
    use super::*;

    use async_trait::async_trait;
    use hubflow::http::{HttpClient, HttpError, HttpRequest, HttpResponse, RecordingClient};
    use hubflow::http_target::HttpTarget;
    use hubflow::{
        Context, DeliveryError, DeliveryPolicy, Flow, ManualClock, OnUnknown, Outcome, Record,
        RunReport, Stage,
    };
    use std::sync::atomic::{AtomicBool, Ordering};

    /// Records requests without sending them; when armed, cuts the store's connection
    /// while the request is "on the wire", before answering 200.
    #[derive(Clone)]
    struct CuttingClient {
        inner: RecordingClient,
        proxy: Arc<Proxy>,
        armed: Arc<AtomicBool>,
    }

    #[async_trait]
    impl HttpClient for CuttingClient {
        async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
            if self.armed.swap(false, Ordering::SeqCst) {
                self.proxy.cut().await;
            }
            self.inner.send(request).await
        }
    }

    fn items() -> Vec<Record> {
        ["r1", "r2", "r3"]
            .into_iter()
            .map(|key| Record::new(key, "test.item", json!({"key": key})))
            .collect()
    }

    fn outcome<'a>(report: &'a RunReport, key: &str) -> &'a hubflow::RecordOutcome {
        report
            .get(key)
            .unwrap_or_else(|| panic!("{key} in {report:?}"))
    }

    /// What a flow may never do: report a record delivered whose completion the store does
    /// not hold, without saying so.
    async fn assert_no_silent_delivery(report: &RunReport, store: &PgStore, flow: &str) {
        for line in &report.records {
            if let Outcome::Delivered { .. } = line.outcome {
                let stored = store.peek_claim(flow, &line.key).await.unwrap();
                assert!(
                    matches!(stored, Some(Claim::Done { .. })) || line.warning.is_some(),
                    "{} reported delivered, stored as {stored:?}, without a warning",
                    line.key
                );
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flow_whose_store_goes_away_warns_and_leaves_the_claim_in_flight() {
        let Some(url) = database_url() else { return };
        let schema = fresh_schema("midrun");
        let proxy = Proxy::start(upstream_of(&url).await).await;
        let store = PgStore::connect_with(
            server(&url).host("127.0.0.1").port(proxy.port),
            PgStoreOptions::new()
                .schema(&schema)
                .acquire_timeout(Duration::from_secs(1)),
        )
        .await
        .unwrap();
        let http = CuttingClient {
            inner: RecordingClient::new(),
            proxy: proxy.clone(),
            armed: Arc::new(AtomicBool::new(true)),
        };
        let t0 = instant(1);
        let clock = ManualClock::new(t0);
        let ctx = Context::new(http.clone(), clock.clone(), store.clone());
        let lease = Duration::from_secs(600);
        let flow = Flow::builder("pg-midrun")
            .target(HttpTarget::new(
                "https://erp.example.com/hooks/items".parse().unwrap(),
            ))
            .delivery(
                DeliveryPolicy::default()
                    .max_in_flight(1)
                    .claim_lease(lease)
                    .on_unknown(OnUnknown::Hold),
            )
            .build()
            .unwrap();

        // r1 is claimed, then the store goes away while it is sent: it was delivered, but
        // its completion could not be stored. r2 and r3 cannot even be claimed.
        let first = flow.process(&ctx, items()).await;
        let r1 = outcome(&first, "r1");
        assert!(
            matches!(r1.outcome, Outcome::Delivered { .. }),
            "{:?}",
            r1.outcome
        );
        let warning = r1
            .warning
            .as_deref()
            .expect("a delivery not stored is flagged");
        assert!(
            warning.contains("the store did not record it") && warning.contains("unavailable"),
            "{warning}"
        );
        for key in ["r2", "r3"] {
            let line = outcome(&first, key);
            let Outcome::Failed {
                failure, retryable, ..
            } = &line.outcome
            else {
                panic!("{key}: {:?}", line.outcome);
            };
            assert_eq!(failure.stage, Stage::Claim, "{key}");
            assert!(*retryable, "a store outage is worth retrying");
            let cause = failure.cause::<StoreError>().expect("the store's error");
            assert_eq!(cause.kind(), StoreErrorKind::Unavailable);
        }
        assert_eq!(http.inner.requests().len(), 1, "nothing unclaimed was sent");
        assert!(
            first
                .warnings
                .iter()
                .any(|w| w.contains("the run report was not stored")),
            "{:?}",
            first.warnings
        );

        proxy.restore().await;
        assert_no_silent_delivery(&first, &store, "pg-midrun").await;
        assert_eq!(
            store.peek_claim("pg-midrun", "r1").await.unwrap(),
            Some(Claim::InFlight { since: t0 }),
            "the delivered but unrecorded record stays in flight"
        );

        // Within the lease, r1 is someone's attempt in progress: not sent again.
        let second = flow.process(&ctx, items()).await;
        let r1 = outcome(&second, "r1");
        let Outcome::Duplicate { reason, receipt } = &r1.outcome else {
            panic!("{:?}", r1.outcome);
        };
        assert!(
            reason.contains("being delivered by another attempt"),
            "{reason}"
        );
        assert!(receipt.is_none());
        for key in ["r2", "r3"] {
            let line = outcome(&second, key);
            assert!(matches!(line.outcome, Outcome::Delivered { .. }), "{key}");
            assert!(line.warning.is_none(), "{key}: {:?}", line.warning);
        }
        assert_no_silent_delivery(&second, &store, "pg-midrun").await;
        assert_eq!(http.inner.requests().len(), 3);
        assert!(second.warnings.is_empty(), "{:?}", second.warnings);
        // The run history holds the second run; the first could not be stored.
        assert_eq!(flow.history(&ctx, 10).await.unwrap(), vec![second]);

        // After the lease, r1 is an unknown outcome, held for review: still not resent.
        clock.advance(lease + Duration::from_secs(1));
        let third = flow.process(&ctx, items()).await;
        let r1 = outcome(&third, "r1");
        let Outcome::Failed { failure, .. } = &r1.outcome else {
            panic!("{:?}", r1.outcome);
        };
        assert_eq!(failure.stage, Stage::Claim);
        assert!(
            matches!(failure.error(), Some(DeliveryError::Unknown { since }) if *since == t0),
            "{failure:?}"
        );
        for key in ["r2", "r3"] {
            assert!(matches!(
                outcome(&third, key).outcome,
                Outcome::Duplicate {
                    receipt: Some(_),
                    ..
                }
            ));
        }
        assert_eq!(
            http.inner.requests().len(),
            3,
            "the unknown outcome was not resent"
        );
        assert_eq!(
            store.peek_claim("pg-midrun", "r1").await.unwrap(),
            Some(Claim::InFlight { since: t0 }),
            "holding leaves the claim for a person to settle"
        );
        drop_schema(&url, &schema).await;
    }
}
