//! Claims per second through `claim_batch`, in batches of 1, 64 and 512 fresh keys: against
//! `PgStore` on the server `DATABASE_URL` names (skipped, with a line saying so, when it is
//! unset) and `SqliteStore` on a temporary file. Criterion's throughput is in claims.
//!
//! `concurrent_claims/<store>/64`: 64 single-key `claim` calls at once, as a worker's
//! concurrent jobs make them. Beside `claim_batch/<store>/64` (the same rows in one call,
//! the limit) it shows what `PgStore`'s group commit recovers of a batch's rate.
//!
//! Beside each store, its database's own rate for the same rows, in the same run:
//! `bare_insert/<store>/<batch>` inserts fresh keys into a table of the same primary key
//! with plain sqlx, one transaction per call as the store commits (PostgreSQL: one
//! `INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING` a call; SQLite: one
//! `INSERT … ON CONFLICT DO NOTHING` a key inside one `BEGIN IMMEDIATE`), and
//! `bare_concurrent/<store>/64` makes 64 single-row inserts at once. The ratio of a store's
//! claims per second to its bare line is what the store's own layer costs.
//!
//! `bash .ci/postgres.sh cargo bench --features postgres,sqlite --bench store` runs it
//! against a throwaway server.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use hubflow::{Claim, ClaimStore, PgStore, PgStoreOptions, SqliteStore};
use sqlx::postgres::PgPool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};
use tokio::runtime::Runtime;

const BATCHES: [usize; 3] = [1, 64, 512];

/// Keys no earlier iteration used, so every claim inserts (the common case: new records).
fn fresh_keys(counter: &AtomicU64, n: usize) -> Vec<String> {
    let first = counter.fetch_add(n as u64, Ordering::Relaxed);
    (first..first + n as u64).map(|i| format!("k{i}")).collect()
}

fn bench_store<S: ClaimStore + 'static>(
    c: &mut Criterion,
    runtime: &Runtime,
    name: &str,
    store: Arc<S>,
) {
    let mut group = c.benchmark_group(format!("claim_batch/{name}"));
    // A fresh scope per run keeps runs apart on a database that outlives them.
    let scope = format!("bench-{}", Utc::now().timestamp_micros());
    let counter = AtomicU64::new(0);
    for batch in BATCHES {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("{batch}"), |b| {
            b.to_async(runtime).iter_batched(
                || fresh_keys(&counter, batch),
                |keys| {
                    let (store, scope) = (store.clone(), scope.as_str());
                    async move {
                        let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                        let claims = store
                            .claim_batch(scope, &refs, Utc::now())
                            .await
                            .expect("the store answers");
                        assert!(claims.iter().all(|claim| *claim == Claim::Acquired));
                    }
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();

    let mut group = c.benchmark_group(format!("concurrent_claims/{name}"));
    group.throughput(Throughput::Elements(64));
    group.bench_function("64", |b| {
        b.to_async(runtime).iter_batched(
            || fresh_keys(&counter, 64),
            |keys| {
                let (store, scope) = (store.clone(), scope.as_str());
                async move {
                    let now = Utc::now();
                    let claims = futures_util::future::join_all(
                        keys.iter().map(|key| store.claim(scope, key, now)),
                    )
                    .await;
                    assert!(claims
                        .iter()
                        .all(|claim| matches!(claim, Ok(Claim::Acquired))));
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

/// The database alone: a table keyed as the claims are, written with plain sqlx.
#[derive(Clone)]
enum Bare {
    Postgres(PgPool, String),
    Sqlite(SqlitePool),
}

impl Bare {
    async fn create(&self) {
        let created: Result<(), sqlx::Error> = match self {
            Bare::Postgres(pool, schema) => sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE {schema}.bare_claims (scope text NOT NULL, key text NOT NULL, \
                     since timestamptz, PRIMARY KEY (scope, key))"
            )))
            .execute(pool)
            .await
            .map(drop),
            Bare::Sqlite(pool) => sqlx::raw_sql(
                "CREATE TABLE bare_claims (scope TEXT NOT NULL, key TEXT NOT NULL, \
                     since INTEGER, PRIMARY KEY (scope, key))",
            )
            .execute(pool)
            .await
            .map(drop),
        };
        created.expect("the bare table");
    }

    /// Inserts `keys`, all in one transaction; how many were new.
    async fn insert(&self, scope: &str, keys: &[String]) -> usize {
        match self {
            Bare::Postgres(pool, schema) => {
                let sql = format!(
                    "INSERT INTO {schema}.bare_claims (scope, key, since) \
                     SELECT $1, k, now() FROM unnest($2::text[]) AS k \
                     ON CONFLICT DO NOTHING RETURNING 1"
                );
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(scope)
                    .bind(keys)
                    .fetch_all(pool)
                    .await
                    .expect("the insert")
                    .len()
            }
            Bare::Sqlite(pool) => {
                let mut tx = pool
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .expect("a transaction");
                let mut new = 0;
                for key in keys {
                    let row: Option<i64> = sqlx::query_scalar(
                        "INSERT INTO bare_claims (scope, key, since) VALUES (?1, ?2, 0) \
                         ON CONFLICT DO NOTHING RETURNING 1",
                    )
                    .bind(scope)
                    .bind(key)
                    .fetch_optional(&mut *tx)
                    .await
                    .expect("the insert");
                    new += usize::from(row.is_some());
                }
                tx.commit().await.expect("the commit");
                new
            }
        }
    }
}

fn bench_bare(c: &mut Criterion, runtime: &Runtime, name: &str, bare: &Bare) {
    runtime.block_on(bare.create());
    let scope = format!("bench-{}", Utc::now().timestamp_micros());
    let counter = AtomicU64::new(0);
    let mut group = c.benchmark_group(format!("bare_insert/{name}"));
    for batch in BATCHES {
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_function(format!("{batch}"), |b| {
            b.to_async(runtime).iter_batched(
                || fresh_keys(&counter, batch),
                |keys| {
                    let (bare, scope) = (bare.clone(), scope.as_str());
                    async move { assert_eq!(bare.insert(scope, &keys).await, keys.len()) }
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
    let mut group = c.benchmark_group(format!("bare_concurrent/{name}"));
    group.throughput(Throughput::Elements(64));
    group.bench_function("64", |b| {
        b.to_async(runtime).iter_batched(
            || fresh_keys(&counter, 64),
            |keys| {
                let (bare, scope) = (bare.clone(), scope.as_str());
                async move {
                    let singles: Vec<[String; 1]> = keys.into_iter().map(|key| [key]).collect();
                    let new = futures_util::future::join_all(
                        singles.iter().map(|key| bare.insert(scope, key)),
                    )
                    .await;
                    assert!(new.iter().all(|n| *n == 1));
                }
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn postgres(c: &mut Criterion) {
    let Some(url) = std::env::var("DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    else {
        println!("claim_batch/postgres skipped: DATABASE_URL is not set");
        return;
    };
    let runtime = Runtime::new().expect("a tokio runtime");
    let schema = format!("hubflow_bench_{}", std::process::id());
    let store = runtime
        .block_on(async {
            let server = url.parse().expect("DATABASE_URL is a PostgreSQL URL");
            PgStore::connect_with(server, PgStoreOptions::new().schema(&schema)).await
        })
        .expect("the PostgreSQL store connects");
    bench_store(c, &runtime, "postgres", Arc::new(store.clone()));
    bench_bare(
        c,
        &runtime,
        "postgres",
        &Bare::Postgres(store.pool().clone(), schema.clone()),
    );
    let dropped = runtime.block_on(async {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(store.pool())
            .await
    });
    if let Err(e) = dropped {
        println!("the bench schema {schema} was left behind: {e}");
    }
}

/// A fresh directory under the system's temporary one, removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sqlite(c: &mut Criterion) {
    let runtime = Runtime::new().expect("a tokio runtime");
    let dir = TempDir(std::env::temp_dir().join(format!(
        "hubflow-bench-store-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    )));
    std::fs::create_dir_all(&dir.0).expect("a temporary directory");
    let store = runtime
        .block_on(SqliteStore::open(dir.0.join("store.db")))
        .expect("the SQLite store opens");
    bench_store(c, &runtime, "sqlite", Arc::new(store));
    // A file of its own with the store's settings: WAL, `synchronous = FULL`.
    let options = SqliteConnectOptions::new()
        .filename(dir.0.join("bare.db"))
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(5));
    let pool = runtime
        .block_on(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(options),
        )
        .expect("the bare SQLite file opens");
    bench_bare(c, &runtime, "sqlite", &Bare::Sqlite(pool));
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = postgres, sqlite
}
criterion_main!(benches);
