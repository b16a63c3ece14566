//! [`PgStore`]: every store concern in one PostgreSQL schema (feature `postgres`).
//!
//! Each operation is the one statement its trait documents, so any number of workers in any
//! number of processes may share one database: the database decides every race. Concurrent
//! calls of the busiest operations share a statement (`group`). Instants
//! are `timestamptz` (microseconds, compared exactly, as `reclaim` needs), JSON values
//! `jsonb` (whose `=` is JSON equality, as `swap_state` needs).

mod batches;
mod error;
pub(crate) mod group;
mod ops;
mod schema;
#[cfg(test)]
mod tests;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};

use self::batches::Groups;
use self::error::{connect_error, connect_timeout, db_error, endpoint};
use self::ops::{count, limit};
pub(crate) use self::schema::valid_schema_name;
use self::schema::{migrate, Statements, SCHEMA_VERSION};
use super::StoreError;

/// How a [`PgStore`] uses its database: the schema that holds its tables, and the pool it
/// opens. Defaults: schema `hubflow`, 10 connections, 10 s to get one.
///
/// ```
/// use std::time::Duration;
/// use hubflow::PgStoreOptions;
///
/// let options = PgStoreOptions::new()
///     .schema("hubflow_staging")
///     .max_connections(4)
///     .acquire_timeout(Duration::from_secs(3));
/// assert_eq!(options.schema_name(), "hubflow_staging");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgStoreOptions {
    schema: String,
    max_connections: u32,
    acquire_timeout: Duration,
}

impl Default for PgStoreOptions {
    fn default() -> Self {
        PgStoreOptions {
            schema: "hubflow".to_owned(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

impl PgStoreOptions {
    /// The defaults.
    pub fn new() -> Self {
        PgStoreOptions::default()
    }

    /// The schema that holds the store's tables (default `hubflow`), created with them on
    /// first connect. A plain lowercase identifier: `a`–`z`, `0`–`9` and `_`, not starting
    /// with a digit or `pg_`, at most 63 bytes; another name is refused on connect.
    /// Stores on different schemas of one database are independent.
    #[must_use]
    pub fn schema(mut self, name: impl Into<String>) -> Self {
        self.schema = name.into();
        self
    }

    /// How many connections the store's pool opens at most (default 10; at least 1). Not
    /// used by [`PgStore::from_pool_with`], whose pool is the host's.
    #[must_use]
    pub fn max_connections(mut self, n: u32) -> Self {
        self.max_connections = n.max(1);
        self
    }

    /// How long connecting, and each operation's wait for a pooled connection, may take
    /// before the store reports itself
    /// [`Unavailable`](crate::StoreErrorKind::Unavailable) (default 10 s). While the server
    /// is down, every operation fails after this long. Not used for a host's pool.
    #[must_use]
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// The schema name set.
    pub fn schema_name(&self) -> &str {
        &self.schema
    }
}

/// A store in a PostgreSQL database: claims, cursors, state and history in four tables of
/// one schema (`hubflow` unless [`PgStoreOptions::schema`] says otherwise).
///
/// # Migrations
///
/// The schema is created, or brought to [`PgStore::SCHEMA_VERSION`], when the store
/// connects: the migrations are embedded in the crate, and the versions applied are rows of
/// the schema's `schema_version` table. They run in one transaction under a
/// transaction-scoped advisory lock, so of many workers starting at once one migrates and
/// the others wait for it. A schema whose version is newer than this crate's is refused with
/// [`StoreErrorKind::Incompatible`](crate::StoreErrorKind::Incompatible) rather than misread.
/// The first connect needs the right to create a schema in the database (or an existing,
/// empty schema the user owns); once migrated, a user with `SELECT`, `INSERT`, `UPDATE`
/// and `DELETE` on the tables suffices.
///
/// # Statements shared by concurrent calls
///
/// Claims, completions, history entries and rate-limit slots are group-committed: calls of
/// one operation made while a statement of it is in flight are sent together as the next
/// multi-row statement, so a worker running dozens of flows' records at once commits once
/// per operation rather than once per record. An idle store sends each call at once, alone;
/// no call waits on a timer. Calls on the same row never share a statement (their order
/// holds), and a statement the server refuses as a conflict is sent again call by call, so
/// only the call at fault fails. The drain runs on the caller's tokio runtime.
///
/// # Failures
///
/// A server that cannot be reached, a lost connection, an operation that finds no pooled
/// connection within the [acquire timeout](PgStoreOptions::acquire_timeout): all
/// [`StoreErrorKind::Unavailable`](crate::StoreErrorKind::Unavailable), the first naming
/// the server's host and port. No message, no source and no `Debug` output holds the
/// connection's password. The pool reconnects by itself once the server is back.
///
/// # Retention
///
/// Nothing is deleted unless the host asks: [`prune_all_history`](PgStore::prune_all_history)
/// and [`purge_expired_state`](PgStore::purge_expired_state) are what a periodic job calls.
///
/// Cloning is cheap: clones share one pool. Runs on a tokio runtime with its timers enabled.
///
/// ```no_run
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use hubflow::{Claim, ClaimStore, PgStore, Receipt};
///
/// let store = PgStore::connect("postgres://hubflow:secret@127.0.0.1:5432/app").await?;
/// let now = chrono::Utc::now();
/// assert_eq!(store.claim("flow", "k1", now).await?, Claim::Acquired);
/// store.complete("flow", "k1", &Receipt::new(200)).await?;
/// assert!(matches!(store.claim("flow", "k1", now).await?, Claim::Done { .. }));
/// # Ok::<(), hubflow::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: PgPool,
    schema: String,
    /// `host:port`, for messages.
    endpoint: String,
    sql: Statements,
    /// The operations whose concurrent calls share statements.
    groups: Groups,
}

/// Shows where the store is, never the connection's password.
impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let options = self.inner.pool.connect_options();
        f.debug_struct("PgStore")
            .field("server", &self.inner.endpoint)
            .field("database", &options.get_database())
            .field("user", &options.get_username())
            .field("schema", &self.inner.schema)
            .field(
                "max_connections",
                &self.inner.pool.options().get_max_connections(),
            )
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// The schema version this crate writes; a database with a higher one is refused.
    pub const SCHEMA_VERSION: u32 = SCHEMA_VERSION as u32;

    /// Connects to the database at `url` (`postgres://user:password@host:port/database`,
    /// with the driver's query parameters such as `sslmode`) with the default
    /// [`PgStoreOptions`], and migrates the `hubflow` schema.
    ///
    /// Fails with [`StoreErrorKind::Unavailable`](crate::StoreErrorKind::Unavailable) when
    /// the URL is not valid or the server cannot be reached or refuses the login (the message
    /// names host and port, never the password), and with
    /// [`StoreErrorKind::Incompatible`](crate::StoreErrorKind::Incompatible) when the schema
    /// is newer than [`PgStore::SCHEMA_VERSION`].
    ///
    /// ```no_run
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let url = std::env::var("DATABASE_URL").unwrap();
    /// let store = hubflow::PgStore::connect(&url).await?;
    /// # Ok::<(), hubflow::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        PgStore::connect_with(parse_url(url)?, PgStoreOptions::default()).await
    }

    /// Connects with the driver's options, for settings a URL does not carry, and the
    /// store's own. Opens one connection to migrate (failing at once when the server cannot
    /// be reached), then a pool of at most [`PgStoreOptions::max_connections`] that
    /// connects as operations need it.
    ///
    /// ```no_run
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use hubflow::{PgStore, PgStoreOptions};
    /// use sqlx::postgres::PgConnectOptions;
    ///
    /// let server = PgConnectOptions::new()
    ///     .host("db.internal")
    ///     .port(5432)
    ///     .username("hubflow")
    ///     .password(&std::env::var("HUBFLOW_DB_PASSWORD").unwrap())
    ///     .database("app");
    /// let store = PgStore::connect_with(server, PgStoreOptions::new().max_connections(4)).await?;
    /// # Ok::<(), hubflow::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn connect_with(
        server: PgConnectOptions,
        options: PgStoreOptions,
    ) -> Result<PgStore, StoreError> {
        check_schema_name(&options.schema)?;
        let endpoint = endpoint(&server);
        let timeout = options.acquire_timeout;
        // One connection of its own, without the pool: the pool retries a refused
        // connection until its timeout and then reports only that it timed out, where this
        // reports why at once.
        let mut conn = match tokio::time::timeout(timeout, server.connect()).await {
            Err(_) => return Err(connect_timeout(&endpoint, timeout)),
            Ok(Err(e)) => return Err(connect_error(&endpoint, e)),
            Ok(Ok(conn)) => conn,
        };
        let migrated = migrate(&mut conn, &options.schema).await;
        // Best effort: the server drops a connection whose client went away anyway.
        let _ = conn.close().await;
        migrated?;
        let pool = PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(timeout)
            .connect_lazy_with(server);
        Ok(PgStore::new(pool, options.schema, endpoint))
    }

    /// A store on the host's own pool, in the `hubflow` schema, migrated first.
    ///
    /// ```no_run
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let pool = sqlx::PgPool::connect("postgres://app@127.0.0.1/app").await.unwrap();
    /// let store = hubflow::PgStore::from_pool(pool.clone()).await?;
    /// # Ok::<(), hubflow::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn from_pool(pool: PgPool) -> Result<PgStore, StoreError> {
        PgStore::from_pool_with(pool, PgStoreOptions::default()).await
    }

    /// A store on the host's own pool with the store's options (only the schema applies:
    /// the pool's size and timeouts are the host's), migrated first.
    pub async fn from_pool_with(
        pool: PgPool,
        options: PgStoreOptions,
    ) -> Result<PgStore, StoreError> {
        check_schema_name(&options.schema)?;
        let endpoint = endpoint(&pool.connect_options());
        let mut conn = pool
            .acquire()
            .await
            .map_err(|e| connect_error(&endpoint, e))?;
        migrate(&mut conn, &options.schema).await?;
        drop(conn);
        Ok(PgStore::new(pool, options.schema, endpoint))
    }

    fn new(pool: PgPool, schema: String, endpoint: String) -> PgStore {
        let sql = Statements::new(&schema);
        PgStore {
            inner: Arc::new(Inner {
                pool,
                schema,
                endpoint,
                sql,
                groups: Groups::default(),
            }),
        }
    }

    /// The pool the store runs on, e.g. to share it with the host's own queries.
    pub fn pool(&self) -> &PgPool {
        &self.inner.pool
    }

    /// The schema that holds the store's tables.
    pub fn schema(&self) -> &str {
        &self.inner.schema
    }

    /// Prunes the run history of every flow at once, for a periodic job: deletes each
    /// flow's runs that are older than its `keep_last` newest **and** finished before
    /// `finished_before`, in one statement, and answers how many it deleted.
    ///
    /// So `prune_all_history(10, now - 30 days)` keeps a month of history and, for flows
    /// that ran less often, at least their last 10 runs. `keep_last = 0` prunes by age
    /// alone; [`DateTime::<Utc>::MAX_UTC`] by count alone, as
    /// [`HistoryStore::prune_history`](crate::HistoryStore::prune_history) does per flow.
    ///
    /// ```no_run
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = hubflow::PgStore::connect("postgres://127.0.0.1/app").await?;
    /// let month_ago = chrono::Utc::now() - chrono::Duration::days(30);
    /// let deleted = store.prune_all_history(10, month_ago).await?;
    /// # Ok::<(), hubflow::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn prune_all_history(
        &self,
        keep_last: usize,
        finished_before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let done = sqlx::query(self.inner.sql.prune_all_history.clone())
            .bind(limit(keep_last))
            .bind(finished_before)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("pruning the history of every flow", e))?;
        Ok(count(done.rows_affected()))
    }

    /// Deletes the state entries that expired at or before `now`, in every scope, and
    /// answers how many. Nothing can read them any more (an expired entry is absent to every
    /// operation), so this only gives the space back; entries without expiry stay. For the
    /// same periodic job.
    ///
    /// ```no_run
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// # let store = hubflow::PgStore::connect("postgres://127.0.0.1/app").await?;
    /// let purged = store.purge_expired_state(chrono::Utc::now()).await?;
    /// # Ok::<(), hubflow::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn purge_expired_state(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let done = sqlx::query(self.inner.sql.purge_expired_state.clone())
            .bind(now)
            .execute(&self.inner.pool)
            .await
            .map_err(|e| db_error("purging expired state", e))?;
        Ok(count(done.rows_affected()))
    }
}

/// Refuses a schema name the statements could not hold as it is.
fn check_schema_name(name: &str) -> Result<(), StoreError> {
    if valid_schema_name(name) {
        return Ok(());
    }
    Err(StoreError::unavailable(format!(
        "the schema name `{}` is not a plain lowercase PostgreSQL identifier (a-z, 0-9 and _, \
         not starting with a digit or `pg_`, at most 63 bytes)",
        name.escape_debug()
    )))
}

/// The driver's options from a connection URL. The URL holds the password, so neither it
/// nor a driver message that might quote it goes into the error.
fn parse_url(url: &str) -> Result<PgConnectOptions, StoreError> {
    let parsed = url::Url::parse(url).map_err(|e| {
        // `url`'s messages name what is wrong, never the input.
        StoreError::unavailable(format!(
            "the PostgreSQL connection URL is not a valid URL: {e}"
        ))
    })?;
    PgConnectOptions::from_url(&parsed).map_err(|e| {
        let error = StoreError::unavailable(
            "the PostgreSQL connection URL is not one the driver accepts (see its source)",
        );
        let message = format!("{e} {e:?}");
        let quotes_password = parsed.password().is_some_and(|password| {
            let decoded = percent_encoding::percent_decode_str(password).decode_utf8_lossy();
            message.contains(password) || message.contains(decoded.as_ref())
        });
        if quotes_password {
            error
        } else {
            error.with_source(e)
        }
    })
}
