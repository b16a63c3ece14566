//! `SqliteStore` against the store conformance suite, in memory and on a file, plus what a
//! file must keep across a reopen and the refusal of a newer schema.
#![cfg(all(feature = "sqlite", feature = "testing"))]

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use hubflow::testing::store::{check_all, check_rates};
use hubflow::{Claim, ClaimStore, RateStore, Receipt, SqliteStore, StoreErrorKind};

/// A fresh directory under the system's temporary one, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("hubflow-{name}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn in_memory_store_conforms() {
    let store = SqliteStore::in_memory().await.unwrap();
    check_all(&store).await.unwrap();
    check_rates(&store).await.unwrap();
    // Clones share the one database.
    let clone = store.clone();
    check_all(&clone).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_conforms_and_keeps_a_completed_claim_across_a_reopen() {
    let dir = TempDir::new("conformance");
    let path = dir.file("store.db");
    let receipt = Receipt::new(201).with_id("wamid.1");
    let since =
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap() + chrono::Duration::microseconds(7);
    {
        let store = SqliteStore::open(&path).await.unwrap();
        check_all(&store).await.unwrap();
        check_rates(&store).await.unwrap();
        assert_eq!(
            store.claim("flow", "done", since).await.unwrap(),
            Claim::Acquired
        );
        store.complete("flow", "done", &receipt).await.unwrap();
        assert_eq!(
            store.claim("flow", "open", since).await.unwrap(),
            Claim::Acquired
        );
    }

    let reopened = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        reopened.claim("flow", "done", since).await.unwrap(),
        Claim::Done { receipt },
        "a completed claim must survive closing and reopening the file"
    );
    assert_eq!(
        reopened.peek_claim("flow", "open").await.unwrap(),
        Some(Claim::InFlight { since }),
        "a claim in flight keeps its exact instant across a reopen"
    );
    // The suite runs again on the reopened file, next to the earlier run's rows.
    check_all(&reopened).await.unwrap();
}

#[tokio::test]
async fn a_newer_schema_is_refused() {
    let dir = TempDir::new("schema");
    let path = dir.file("store.db");
    drop(SqliteStore::open(&path).await.unwrap());

    // A later version of the crate would have moved the schema on.
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::query("UPDATE hubflow_schema_version SET version = ?1")
            .bind(i64::from(SqliteStore::SCHEMA_VERSION) + 1)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    let error = SqliteStore::open(&path).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Incompatible);
    let newer = SqliteStore::SCHEMA_VERSION + 1;
    assert!(
        error.message().contains(&format!("schema version {newer}"))
            && error.message().contains("newer"),
        "{error}"
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused() {
    let dir = TempDir::new("garbage");
    let path = dir.file("store.db");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let error = SqliteStore::open(&path).await.unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Corrupt, "{error:?}");
}

/// Processes starting together open a new file at once; SQLite refuses all but one of
/// the switches to WAL without waiting, and the others must open again, not fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_first_opens_of_one_new_file_all_succeed() {
    for round in 0..10 {
        let dir = TempDir::new(&format!("race-{round}"));
        let path = dir.file("store.db");
        let opens = (0..8).map(|_| {
            let path = path.clone();
            tokio::spawn(async move { SqliteStore::open(&path).await })
        });
        for open in futures_util::future::join_all(opens).await {
            if let Err(error) = open.unwrap() {
                panic!("round {round}: {error:?}");
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_claim_a_key_once() {
    let dir = TempDir::new("shared");
    let path = dir.file("store.db");
    // Two first opens at once create the schema once between them.
    let (a, b) = tokio::join!(SqliteStore::open(&path), SqliteStore::open(&path));
    let (a, b) = (a.unwrap(), b.unwrap());
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let claims = (0..16).map(|i| {
        let store = if i % 2 == 0 { a.clone() } else { b.clone() };
        tokio::spawn(async move { store.claim("flow", "k", now).await })
    });
    let mut acquired = 0;
    for claim in futures_util::future::join_all(claims).await {
        match claim.unwrap().unwrap() {
            Claim::Acquired => acquired += 1,
            Claim::InFlight { since } => assert_eq!(since, now),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        acquired, 1,
        "of concurrent claims through two pools exactly one acquires"
    );
}

#[tokio::test]
async fn a_version_1_file_is_upgraded_in_place() {
    let dir = TempDir::new("upgrade");
    let path = dir.file("store.db");
    let since = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    {
        let store = SqliteStore::open(&path).await.unwrap();
        store.claim("flow", "kept", since).await.unwrap();
    }
    // Take the file back to what version 1 of the schema wrote.
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path);
        let pool = sqlx::SqlitePool::connect_with(options).await.unwrap();
        sqlx::raw_sql(
            "DROP TABLE rate_slots; DELETE FROM hubflow_schema_version WHERE version > 1",
        )
        .execute(&pool)
        .await
        .unwrap();
        pool.close().await;
    }

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.peek_claim("flow", "kept").await.unwrap(),
        Some(Claim::InFlight { since }),
        "the upgrade keeps what version 1 held"
    );
    let slot = store
        .reserve_slot("whatsapp:1", std::time::Duration::from_secs(1), since)
        .await
        .unwrap();
    assert_eq!(slot, since, "the new table is there");
    check_rates(&store).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_on_one_file_share_rate_slots() {
    let dir = TempDir::new("rates");
    let path = dir.file("store.db");
    let (a, b) = (
        SqliteStore::open(&path).await.unwrap(),
        SqliteStore::open(&path).await.unwrap(),
    );
    let now = Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).unwrap();
    let interval = std::time::Duration::from_micros(12_500);
    let mut slots = Vec::new();
    for n in 0..10 {
        let store = if n % 2 == 0 { &a } else { &b };
        slots.push(
            store
                .reserve_slot("whatsapp:1", interval, now)
                .await
                .unwrap(),
        );
    }
    let expected: Vec<_> = (0..10)
        .map(|n| now + chrono::Duration::microseconds(12_500 * n))
        .collect();
    assert_eq!(slots, expected, "one limit across both stores");
}
