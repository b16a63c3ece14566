//! [`SqliteStore`]: every store concern over one SQLite file (feature `sqlite`).
//!
//! Each operation is the statement its trait documents (the claim is one `BEGIN IMMEDIATE`
//! transaction), so several processes may share one file. Instants are stored as integer
//! microseconds since the Unix epoch (compared exactly, as `reclaim` needs), JSON values as
//! the text serde_json writes with object keys sorted, so that text equality is JSON
//! equality.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use super::{
    Claim, ClaimStore, CursorLease, CursorStore, HistoryEntry, HistoryStore, RateStore,
    SavedCursor, StateEntry, StateStore, StoreError,
};
use crate::{Cursor, Receipt};

/// The schema this version of the crate writes and reads.
const SCHEMA_VERSION: i64 = 2;

/// The tables of schema version 1, as the store traits document them.
const SCHEMA_V1: &str = "
CREATE TABLE claims (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('in_flight', 'done')),
    since INTEGER,
    receipt TEXT,
    PRIMARY KEY (scope, key)
);
CREATE TABLE cursors (
    flow TEXT PRIMARY KEY NOT NULL,
    cursor TEXT,
    version INTEGER NOT NULL,
    holder TEXT,
    lease_until INTEGER
);
CREATE TABLE state (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    expires_at INTEGER,
    PRIMARY KEY (scope, key)
);
CREATE TABLE history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    flow TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    report TEXT NOT NULL
);
CREATE INDEX history_flow_id ON history (flow, id);
";

/// Version 2 adds the shared rate-limit slots.
const SCHEMA_V2: &str = "
CREATE TABLE rate_slots (
    key TEXT PRIMARY KEY NOT NULL,
    next_slot INTEGER NOT NULL
);
";

/// Each version's statements, applied in order from the database's version up.
const MIGRATIONS: [(i64, &str); 2] = [(1, SCHEMA_V1), (2, SCHEMA_V2)];

/// How long a statement waits for another connection's write lock before the store reports
/// itself unavailable.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How many connections a file store keeps: SQLite writes one at a time, and WAL readers do
/// not block the writer, so a few suffice.
const FILE_CONNECTIONS: u32 = 4;

/// A store over one SQLite file: claims, cursors, state and history in four tables, and
/// the shared rate-limit slots ([`RateStore`]) in a fifth.
///
/// The database runs in WAL mode with `synchronous = FULL`, so what an operation wrote is
/// on disk when it returns. The schema is created on first open and its version kept in a
/// `hubflow_schema_version` table; a database written by a newer version of this crate is
/// refused with a [`StoreErrorKind::Incompatible`](crate::StoreErrorKind::Incompatible) error rather
/// than misread. Instants keep microsecond precision (finer digits are dropped).
///
/// Cloning is cheap: clones share one connection pool. Runs on a tokio runtime with its
/// timers enabled (the pool times out waits for a connection); sqlx panics on a runtime
/// without them.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use hubflow::{Claim, ClaimStore, Receipt, SqliteStore};
///
/// let store = SqliteStore::in_memory().await?;
/// let now = chrono::Utc::now();
/// assert_eq!(store.claim("flow", "k1", now).await?, Claim::Acquired);
/// store.complete("flow", "k1", &Receipt::new(200)).await?;
/// assert!(matches!(store.claim("flow", "k1", now).await?, Claim::Done { .. }));
/// # Ok::<(), hubflow::StoreError>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// The schema version this crate writes; a database with a higher one is refused.
    pub const SCHEMA_VERSION: u32 = SCHEMA_VERSION as u32;

    /// Opens the database file at `path`, creating it and its schema when missing.
    ///
    /// Fails with [`StoreErrorKind::Unavailable`](crate::StoreErrorKind::Unavailable) when
    /// the file cannot be opened or created, and with
    /// [`StoreErrorKind::Corrupt`](crate::StoreErrorKind::Corrupt) when it is not a
    /// database, and with [`StoreErrorKind::Incompatible`](crate::StoreErrorKind::Incompatible)
    /// when it holds a schema newer than [`SqliteStore::SCHEMA_VERSION`].
    ///
    /// ```no_run
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let store = hubflow::SqliteStore::open("hubflow.db").await?;
    /// # Ok::<(), hubflow::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let options = SqliteConnectOptions::new()
            .filename(path.as_ref())
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .busy_timeout(BUSY_TIMEOUT);
        let mut attempt: u32 = 0;
        let pool = loop {
            match SqlitePoolOptions::new()
                .max_connections(FILE_CONNECTIONS)
                .connect_with(options.clone())
                .await
            {
                Ok(pool) => break pool,
                // Two first opens of a new file (two processes starting together) race to
                // switch it to WAL, which needs the file alone; SQLite answers the loser
                // "database is locked" at once, without waiting on its busy handler (that
                // would deadlock). The winner finishes in milliseconds: open again.
                Err(error) if is_locked(&error) && attempt < OPEN_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10 * u64::from(attempt))).await;
                }
                Err(error) => return Err(db_error("opening the database file", error)),
            }
        };
        SqliteStore::with_schema(pool).await
    }

    /// A store in memory, gone when the last clone is dropped: for tests.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let store = hubflow::SqliteStore::in_memory().await?;
    /// # Ok::<(), hubflow::StoreError>(())
    /// # }).unwrap();
    /// ```
    pub async fn in_memory() -> Result<SqliteStore, StoreError> {
        // Every connection to `:memory:` is a database of its own, so the pool holds exactly
        // one connection and never closes it (closing would drop the data).
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| db_error("configuring an in-memory database", e))?;
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await
            .map_err(|e| db_error("opening an in-memory database", e))?;
        SqliteStore::with_schema(pool).await
    }

    /// Creates the schema in a fresh database, or checks that an existing one is a version
    /// this crate reads; one transaction, so concurrent first opens create it once.
    async fn with_schema(pool: SqlitePool) -> Result<SqliteStore, StoreError> {
        let what = "preparing the schema";
        let mut tx = pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| db_error(what, e))?;
        sqlx::query("CREATE TABLE IF NOT EXISTS hubflow_schema_version (version INTEGER NOT NULL)")
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error(what, e))?;
        let found: Option<i64> =
            sqlx::query_scalar("SELECT MAX(version) FROM hubflow_schema_version")
                .fetch_one(&mut *tx)
                .await
                .map_err(|e| db_error(what, e))?;
        let from = match found {
            None => 0,
            Some(version) if version > SCHEMA_VERSION => {
                return Err(StoreError::incompatible(format!(
                    "the database has schema version {version}, newer than version \
                     {SCHEMA_VERSION} that this version of hubflow reads; upgrade hubflow"
                )));
            }
            Some(version) if version < 1 => {
                return Err(StoreError::corrupt(format!(
                    "the database has schema version {version}, which this version of hubflow \
                     does not know"
                )));
            }
            Some(version) => version,
        };
        for (version, statements) in MIGRATIONS {
            if version <= from {
                continue;
            }
            sqlx::raw_sql(statements)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error(what, e))?;
            sqlx::query("INSERT INTO hubflow_schema_version (version) VALUES (?1)")
                .bind(version)
                .execute(&mut *tx)
                .await
                .map_err(|e| db_error(what, e))?;
        }
        tx.commit().await.map_err(|e| db_error(what, e))?;
        Ok(SqliteStore { pool })
    }
}

/// A driver error as a store error of the fitting kind, with the driver's error as source.
/// How many times an open that found the file locked by another first open is retried
/// (waits of 10, 20, … ms: about 2 s in all).
const OPEN_ATTEMPTS: u32 = 20;

/// SQLITE_BUSY (5): another connection holds the lock this one needs.
fn is_locked(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("5"))
}

fn db_error(what: &str, error: sqlx::Error) -> StoreError {
    let failed = format!("{what} failed");
    let kind = match &error {
        sqlx::Error::Database(db) => match db.kind() {
            sqlx::error::ErrorKind::UniqueViolation
            | sqlx::error::ErrorKind::ForeignKeyViolation
            | sqlx::error::ErrorKind::NotNullViolation
            | sqlx::error::ErrorKind::CheckViolation => StoreError::conflict(failed),
            // SQLITE_NOTADB (26) and SQLITE_CORRUPT (11): the file is not a readable database.
            _ if matches!(db.code().as_deref(), Some("26" | "11")) => StoreError::corrupt(failed),
            _ => StoreError::unavailable(failed),
        },
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. } => StoreError::corrupt(failed),
        _ => StoreError::unavailable(failed),
    };
    kind.with_source(error)
}

/// An instant as stored: microseconds since the Unix epoch.
fn micros(at: DateTime<Utc>) -> i64 {
    at.timestamp_micros()
}

/// A stored instant read back.
fn instant(stored: i64, column: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(stored).ok_or_else(|| {
        StoreError::corrupt(format!(
            "`{column}` holds {stored}, not a representable instant"
        ))
    })
}

/// A JSON value with object keys in sorted order, whatever order the map keeps, so that
/// equal values serialize to equal text.
struct Canonical<'a>(&'a Value);

impl Serialize for Canonical<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Array(items) => serializer.collect_seq(items.iter().map(Canonical)),
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Canonical<'_>> =
                    map.iter().map(|(k, v)| (k, Canonical(v))).collect();
                serializer.collect_map(sorted)
            }
            other => other.serialize(serializer),
        }
    }
}

/// The stored text of a JSON value.
fn json_text(value: &Value, what: &str) -> Result<String, StoreError> {
    serde_json::to_string(&Canonical(value)).map_err(|e| {
        StoreError::conflict(format!("{what} cannot be written as JSON")).with_source(e)
    })
}

/// The stored text of a serializable value, canonical as [`json_text`].
fn to_json_text<T: Serialize>(value: &T, what: &str) -> Result<String, StoreError> {
    let value = serde_json::to_value(value).map_err(|e| {
        StoreError::conflict(format!("{what} cannot be written as JSON")).with_source(e)
    })?;
    json_text(&value, what)
}

/// A stored JSON text read back.
fn from_json_text<T: serde::de::DeserializeOwned>(
    text: &str,
    column: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| {
        StoreError::corrupt(format!("`{column}` does not hold its JSON")).with_source(e)
    })
}

/// A stored claim row as a [`Claim`].
fn claim_of(state: &str, since: Option<i64>, receipt: Option<String>) -> Result<Claim, StoreError> {
    match (state, since, receipt) {
        ("in_flight", Some(since), _) => Ok(Claim::InFlight {
            since: instant(since, "claims.since")?,
        }),
        ("done", _, Some(receipt)) => Ok(Claim::Done {
            receipt: from_json_text(&receipt, "claims.receipt")?,
        }),
        (state, _, _) => Err(StoreError::corrupt(format!(
            "a claim row in state `{state}` lacks its instant or its receipt"
        ))),
    }
}

/// A stored count or version (an SQLite integer, signed) as a `u64`.
fn unsigned(stored: i64, column: &str) -> Result<u64, StoreError> {
    u64::try_from(stored)
        .map_err(|_| StoreError::corrupt(format!("`{column}` holds {stored}, not a count")))
}

/// A caller's count as an SQLite `LIMIT`; counts beyond `i64::MAX` mean "all" anyway.
fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[async_trait]
impl ClaimStore for SqliteStore {
    async fn claim(&self, scope: &str, key: &str, now: DateTime<Utc>) -> Result<Claim, StoreError> {
        let mut claims = self.claim_batch(scope, &[key], now).await?;
        claims
            .pop()
            .ok_or_else(|| StoreError::corrupt("a claim of one key answered nothing"))
    }

    async fn claim_batch(
        &self,
        scope: &str,
        keys: &[&str],
        now: DateTime<Utc>,
    ) -> Result<Vec<Claim>, StoreError> {
        let what = "claiming record keys";
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // One immediate transaction for the whole batch: each insert and the read that
        // follows it see the same row, with no release or completion between them, and the
        // batch pays for one write lock and one fsync instead of one per key.
        let mut tx = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(|e| db_error(what, e))?;
        let mut claims = Vec::with_capacity(keys.len());
        for key in keys {
            let inserted: Option<i64> = sqlx::query_scalar(
                "INSERT INTO claims (scope, key, state, since) VALUES (?1, ?2, 'in_flight', ?3) \
                 ON CONFLICT (scope, key) DO NOTHING RETURNING 1",
            )
            .bind(scope)
            .bind(key)
            .bind(micros(now))
            .fetch_optional(&mut *tx)
            .await
            .map_err(|e| db_error(what, e))?;
            let claim = if inserted.is_some() {
                Claim::Acquired
            } else {
                let (state, since, receipt): (String, Option<i64>, Option<String>) =
                    sqlx::query_as(
                        "SELECT state, since, receipt FROM claims WHERE scope = ?1 AND key = ?2",
                    )
                    .bind(scope)
                    .bind(key)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| db_error(what, e))?;
                claim_of(&state, since, receipt)?
            };
            claims.push(claim);
        }
        tx.commit().await.map_err(|e| db_error(what, e))?;
        Ok(claims)
    }

    async fn reclaim(
        &self,
        scope: &str,
        key: &str,
        since: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE claims SET since = ?4 \
             WHERE scope = ?1 AND key = ?2 AND state = 'in_flight' AND since = ?3",
        )
        .bind(scope)
        .bind(key)
        .bind(micros(since))
        .bind(micros(now))
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("taking over a claim", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete(&self, scope: &str, key: &str, receipt: &Receipt) -> Result<(), StoreError> {
        let receipt = to_json_text(receipt, "the receipt")?;
        sqlx::query(
            "INSERT INTO claims (scope, key, state, receipt) VALUES (?1, ?2, 'done', ?3) \
             ON CONFLICT (scope, key) DO UPDATE SET state = 'done', since = NULL, \
             receipt = excluded.receipt WHERE claims.state = 'in_flight'",
        )
        .bind(scope)
        .bind(key)
        .bind(receipt)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("completing a claim", e))?;
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM claims WHERE scope = ?1 AND key = ?2 AND state = 'in_flight'")
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("releasing a claim", e))?;
        Ok(())
    }

    async fn peek_claim(&self, scope: &str, key: &str) -> Result<Option<Claim>, StoreError> {
        let row: Option<(String, Option<i64>, Option<String>)> = sqlx::query_as(
            "SELECT state, since, receipt FROM claims WHERE scope = ?1 AND key = ?2",
        )
        .bind(scope)
        .bind(key)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("reading a claim", e))?;
        row.map(|(state, since, receipt)| claim_of(&state, since, receipt))
            .transpose()
    }
}

#[async_trait]
impl CursorStore for SqliteStore {
    async fn lease_cursor(
        &self,
        flow: &str,
        holder: &str,
        now: DateTime<Utc>,
        ttl: Duration,
    ) -> Result<Option<CursorLease>, StoreError> {
        let until = chrono::Duration::from_std(ttl)
            .ok()
            .and_then(|ttl| now.checked_add_signed(ttl))
            .ok_or_else(|| {
                StoreError::conflict(format!(
                    "a lease of {ttl:?} from {now} ends past any instant"
                ))
            })?;
        let row: Option<(Option<String>, i64, i64)> = sqlx::query_as(
            "INSERT INTO cursors (flow, version, holder, lease_until) VALUES (?1, 0, ?2, ?4) \
             ON CONFLICT (flow) DO UPDATE SET holder = excluded.holder, \
             lease_until = excluded.lease_until \
             WHERE cursors.holder IS NULL OR cursors.holder = excluded.holder \
             OR cursors.lease_until <= ?3 \
             RETURNING cursor, version, lease_until",
        )
        .bind(flow)
        .bind(holder)
        .bind(micros(now))
        .bind(micros(until))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("leasing a cursor", e))?;
        let Some((cursor, version, lease_until)) = row else {
            return Ok(None);
        };
        let cursor = cursor
            .map(|text| from_json_text::<Value>(&text, "cursors.cursor").map(Cursor::new))
            .transpose()?;
        Ok(Some(CursorLease {
            holder: holder.to_owned(),
            cursor,
            version: unsigned(version, "cursors.version")?,
            expires_at: instant(lease_until, "cursors.lease_until")?,
        }))
    }

    async fn save_cursor(
        &self,
        flow: &str,
        holder: &str,
        expected_version: u64,
        cursor: &Cursor,
    ) -> Result<bool, StoreError> {
        // A version beyond what SQLite stores was never handed out: nothing to match.
        let Ok(expected_version) = i64::try_from(expected_version) else {
            return Ok(false);
        };
        let cursor = json_text(cursor.value(), "the cursor")?;
        let done = sqlx::query(
            "UPDATE cursors SET cursor = ?4, version = version + 1 \
             WHERE flow = ?1 AND holder = ?2 AND version = ?3",
        )
        .bind(flow)
        .bind(holder)
        .bind(expected_version)
        .bind(cursor)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("saving a cursor", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn release_cursor(&self, flow: &str, holder: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE cursors SET holder = NULL, lease_until = NULL WHERE flow = ?1 AND holder = ?2",
        )
        .bind(flow)
        .bind(holder)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("releasing a cursor lease", e))?;
        Ok(())
    }

    async fn saved_cursor(&self, flow: &str) -> Result<Option<SavedCursor>, StoreError> {
        let row: Option<(String, i64)> = sqlx::query_as(
            "SELECT cursor, version FROM cursors WHERE flow = ?1 AND cursor IS NOT NULL",
        )
        .bind(flow)
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("reading a cursor", e))?;
        row.map(|(cursor, version)| {
            Ok(SavedCursor {
                cursor: Cursor::new(from_json_text(&cursor, "cursors.cursor")?),
                version: unsigned(version, "cursors.version")?,
            })
        })
        .transpose()
    }
}

#[async_trait]
impl StateStore for SqliteStore {
    async fn get_state(
        &self,
        scope: &str,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<StateEntry>, StoreError> {
        let row: Option<(String, Option<i64>)> = sqlx::query_as(
            "SELECT value, expires_at FROM state WHERE scope = ?1 AND key = ?2 \
             AND (expires_at IS NULL OR expires_at > ?3)",
        )
        .bind(scope)
        .bind(key)
        .bind(micros(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(|e| db_error("reading state", e))?;
        row.map(|(value, expires_at)| {
            Ok(
                StateEntry::new(from_json_text(&value, "state.value")?).expiry(
                    expires_at
                        .map(|at| instant(at, "state.expires_at"))
                        .transpose()?,
                ),
            )
        })
        .transpose()
    }

    async fn put_state(
        &self,
        scope: &str,
        key: &str,
        entry: &StateEntry,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO state (scope, key, value, expires_at) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, \
             expires_at = excluded.expires_at",
        )
        .bind(scope)
        .bind(key)
        .bind(json_text(&entry.value, "the state value")?)
        .bind(entry.expires_at.map(micros))
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("writing state", e))?;
        Ok(())
    }

    async fn swap_state(
        &self,
        scope: &str,
        key: &str,
        expected: Option<&Value>,
        new: &StateEntry,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let value = json_text(&new.value, "the state value")?;
        let expires_at = new.expires_at.map(micros);
        let done = match expected {
            None => sqlx::query(
                "INSERT INTO state (scope, key, value, expires_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, \
                 expires_at = excluded.expires_at WHERE state.expires_at <= ?5",
            )
            .bind(scope)
            .bind(key)
            .bind(value)
            .bind(expires_at)
            .bind(micros(now)),
            Some(expected) => sqlx::query(
                "UPDATE state SET value = ?3, expires_at = ?4 \
                 WHERE scope = ?1 AND key = ?2 AND value = ?6 \
                 AND (expires_at IS NULL OR expires_at > ?5)",
            )
            .bind(scope)
            .bind(key)
            .bind(value)
            .bind(expires_at)
            .bind(micros(now))
            .bind(json_text(expected, "the expected state value")?),
        }
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("swapping state", e))?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove_state(&self, scope: &str, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM state WHERE scope = ?1 AND key = ?2")
            .bind(scope)
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(|e| db_error("removing state", e))?;
        Ok(())
    }
}

#[async_trait]
impl RateStore for SqliteStore {
    async fn reserve_slot(
        &self,
        key: &str,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError> {
        let step = super::interval_micros(interval);
        let slot: i64 = sqlx::query_scalar(
            "INSERT INTO rate_slots (key, next_slot) VALUES (?1, ?2 + ?3) \
             ON CONFLICT (key) DO UPDATE SET next_slot = max(next_slot, ?2) + ?3 \
             RETURNING next_slot - ?3",
        )
        .bind(key)
        .bind(micros(now))
        .bind(step)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| db_error("reserving a rate-limit slot", e))?;
        instant(slot, "rate_slots.next_slot")
    }
}

#[async_trait]
impl HistoryStore for SqliteStore {
    async fn append_history(&self, entry: &HistoryEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO history (flow, started_at, finished_at, report) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(&entry.flow)
        .bind(micros(entry.started_at))
        .bind(micros(entry.finished_at))
        .bind(json_text(&entry.report, "the run report")?)
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("appending history", e))?;
        Ok(())
    }

    async fn recent_history(&self, flow: &str, n: usize) -> Result<Vec<HistoryEntry>, StoreError> {
        let rows: Vec<(String, i64, i64, String)> = sqlx::query_as(
            "SELECT flow, started_at, finished_at, report FROM history \
             WHERE flow = ?1 ORDER BY id DESC LIMIT ?2",
        )
        .bind(flow)
        .bind(limit(n))
        .fetch_all(&self.pool)
        .await
        .map_err(|e| db_error("reading history", e))?;
        rows.into_iter()
            .map(|(flow, started_at, finished_at, report)| {
                Ok(HistoryEntry::new(
                    flow,
                    instant(started_at, "history.started_at")?,
                    instant(finished_at, "history.finished_at")?,
                    from_json_text(&report, "history.report")?,
                ))
            })
            .collect()
    }

    async fn prune_history(&self, flow: &str, keep_last: usize) -> Result<usize, StoreError> {
        let done = sqlx::query(
            "DELETE FROM history WHERE flow = ?1 AND id NOT IN \
             (SELECT id FROM history WHERE flow = ?1 ORDER BY id DESC LIMIT ?2)",
        )
        .bind(flow)
        .bind(limit(keep_last))
        .execute(&self.pool)
        .await
        .map_err(|e| db_error("pruning history", e))?;
        Ok(usize::try_from(done.rows_affected()).unwrap_or(usize::MAX))
    }
}
