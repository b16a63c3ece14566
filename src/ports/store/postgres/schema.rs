//! The schema of [`PgStore`](super::PgStore): its migrations, how they are applied, and the
//! text of every statement, qualified with the store's schema name.

use std::sync::Arc;

use sqlx::postgres::PgConnection;
use sqlx::{AssertSqlSafe, Connection, SqlSafeStr, SqlStr};

use super::error::db_error;
use crate::StoreError;

/// The schema version this version of the crate writes and reads: the last migration's.
pub(super) const SCHEMA_VERSION: i32 = 1;

/// The migrations, in order: version `n` is `MIGRATIONS[n - 1]`. `{schema}` stands for the
/// store's schema name. A released migration is never edited: a change is a new version.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [V1];

/// Version 1: the tables the store traits document, with `timestamptz` instants (microsecond
/// precision, compared exactly) and `jsonb` values (whose `=` is JSON equality).
const V1: &str = "
CREATE TABLE {schema}.claims (
    scope text NOT NULL,
    key text NOT NULL,
    state text NOT NULL CHECK (state IN ('in_flight', 'done')),
    since timestamptz,
    receipt jsonb,
    PRIMARY KEY (scope, key),
    CHECK (state <> 'in_flight' OR since IS NOT NULL),
    CHECK (state <> 'done' OR receipt IS NOT NULL)
);
CREATE TABLE {schema}.cursors (
    flow text PRIMARY KEY,
    cursor jsonb,
    version bigint NOT NULL CHECK (version >= 0),
    holder text,
    lease_until timestamptz
);
CREATE TABLE {schema}.state (
    scope text NOT NULL,
    key text NOT NULL,
    value jsonb NOT NULL,
    expires_at timestamptz,
    PRIMARY KEY (scope, key)
);
CREATE INDEX state_expires_at ON {schema}.state (expires_at) WHERE expires_at IS NOT NULL;
CREATE TABLE {schema}.history (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    flow text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz NOT NULL,
    report jsonb NOT NULL
);
CREATE INDEX history_flow_id ON {schema}.history (flow, id);
CREATE TABLE {schema}.rate_slots (
    key text PRIMARY KEY,
    next_slot timestamptz NOT NULL
);
";

/// The first key of the advisory lock that serializes migrations (the second is the schema
/// name's hash): "hubf" in ASCII, so the lock is recognizable in `pg_locks`.
const MIGRATION_LOCK: i32 = 0x6875_6266;

/// The longest identifier PostgreSQL keeps; longer ones are silently truncated, which would
/// make two configured names one schema.
const MAX_IDENTIFIER: usize = 63;

/// Whether `name` can be the store's schema: a plain lowercase identifier, so that it needs
/// no quoting and reads the same in `psql` as in the statements.
pub(crate) fn valid_schema_name(name: &str) -> bool {
    let mut chars = name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    starts_well
        && name.len() <= MAX_IDENTIFIER
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with("pg_")
}

/// Brings the schema `schema` to [`SCHEMA_VERSION`] on `conn`, in one transaction under a
/// transaction-scoped advisory lock: of many workers starting at once, the first migrates
/// and the others wait for it, then find the schema current. A schema newer than this
/// crate's is refused with [`StoreErrorKind::Incompatible`](crate::StoreErrorKind::Incompatible).
///
/// Nothing is created when the schema is already current, so a worker whose database user
/// may not create schemas starts as long as someone migrated before.
pub(super) async fn migrate(conn: &mut PgConnection, schema: &str) -> Result<(), StoreError> {
    let what = "migrating the schema";
    let mut tx = conn.begin().await.map_err(|e| db_error(what, e))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1, hashtext($2))")
        .bind(MIGRATION_LOCK)
        .bind(schema)
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error(what, e))?;
    let versioned: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(format!("{schema}.schema_version"))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db_error(what, e))?;
    let found: Option<i32> = if versioned {
        sqlx::query_scalar(safe(format!(
            "SELECT max(version) FROM {schema}.schema_version"
        )))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| db_error(what, e))?
    } else {
        sqlx::raw_sql(safe(format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE {schema}.schema_version (
                 version integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );"
        )))
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error(what, e))?;
        None
    };
    let from = match found {
        None => 0,
        Some(version) if version > SCHEMA_VERSION => {
            return Err(StoreError::incompatible(format!(
                "the PostgreSQL schema `{schema}` has schema version {version}, newer than \
                 version {SCHEMA_VERSION} that this version of hubflow reads; upgrade hubflow"
            )));
        }
        Some(version) if version >= 1 => version,
        Some(version) => {
            return Err(StoreError::corrupt(format!(
                "the PostgreSQL schema `{schema}` has schema version {version}, which no \
                 version of hubflow writes"
            )));
        }
    };
    for (version, migration) in (from + 1..).zip(MIGRATIONS.iter().skip(from as usize)) {
        sqlx::raw_sql(safe(migration.replace("{schema}", schema)))
            .execute(&mut *tx)
            .await
            .map_err(|e| db_error(&format!("applying schema version {version}"), e))?;
        sqlx::query(safe(format!(
            "INSERT INTO {schema}.schema_version (version) VALUES ($1)"
        )))
        .bind(version)
        .execute(&mut *tx)
        .await
        .map_err(|e| db_error(what, e))?;
    }
    tx.commit().await.map_err(|e| db_error(what, e))
}

/// A statement holding the schema's name. The name is the only part not written here, and
/// [`valid_schema_name`] admits plain identifiers only, checked before any statement is
/// built, so nothing can be injected through it.
pub(super) fn safe(statement: String) -> SqlStr {
    AssertSqlSafe(Arc::<str>::from(statement)).into_sql_str()
}

/// Every statement of the store, with the schema's name in place: built once per store.
///
/// Each is the statement its trait documents, adapted in two ways: `claim`, `complete`,
/// `append_history` and `reserve_slot` take the rows of many calls in one round trip
/// (arrays, one element per row; see `group`), and `prune_history` deletes below the
/// oldest run to keep (one index range) instead of `NOT IN` a list.
pub(super) struct Statements {
    pub(super) claim: SqlStr,
    pub(super) reclaim: SqlStr,
    pub(super) complete: SqlStr,
    pub(super) release: SqlStr,
    pub(super) peek_claim: SqlStr,
    pub(super) lease_cursor: SqlStr,
    pub(super) save_cursor: SqlStr,
    pub(super) release_cursor: SqlStr,
    pub(super) saved_cursor: SqlStr,
    pub(super) get_state: SqlStr,
    pub(super) put_state: SqlStr,
    pub(super) swap_absent_state: SqlStr,
    pub(super) swap_state: SqlStr,
    pub(super) remove_state: SqlStr,
    pub(super) append_history: SqlStr,
    pub(super) recent_history: SqlStr,
    pub(super) prune_history: SqlStr,
    pub(super) prune_all_history: SqlStr,
    pub(super) purge_expired_state: SqlStr,
    pub(super) reserve_slot: SqlStr,
}

impl Statements {
    pub(super) fn new(s: &str) -> Statements {
        Statements {
            // Many callers' claims in one statement (`group`): rows of (scope, key, since),
            // no row twice. They are locked in one order shared by every statement that
            // locks several claims (scope, then key), so concurrent statements cannot
            // deadlock; `DO UPDATE` (rather than `DO NOTHING`) locks and returns a row
            // another transaction committed after this statement's snapshot, which a
            // separate read in the same statement could not see. `xmax = 0` only on a row
            // this statement inserted.
            claim: safe(format!(
                "INSERT INTO {s}.claims AS c (scope, key, state, since) \
                 SELECT k.scope, k.key, 'in_flight', k.since \
                 FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS k (scope, key, since) \
                 ORDER BY k.scope, k.key \
                 ON CONFLICT (scope, key) DO UPDATE SET scope = c.scope \
                 RETURNING c.scope, c.key, c.state, c.since, c.receipt, (c.xmax = 0) AS inserted"
            )),
            reclaim: safe(format!(
                "UPDATE {s}.claims SET since = $4 \
                 WHERE scope = $1 AND key = $2 AND state = 'in_flight' AND since = $3"
            )),
            // Many callers' completions, as `claim`: no row twice, locked in its order.
            complete: safe(format!(
                "INSERT INTO {s}.claims AS c (scope, key, state, receipt) \
                 SELECT k.scope, k.key, 'done', k.receipt \
                 FROM unnest($1::text[], $2::text[], $3::jsonb[]) AS k (scope, key, receipt) \
                 ORDER BY k.scope, k.key \
                 ON CONFLICT (scope, key) DO UPDATE SET state = 'done', since = NULL, \
                 receipt = excluded.receipt WHERE c.state = 'in_flight'"
            )),
            release: safe(format!(
                "DELETE FROM {s}.claims WHERE scope = $1 AND key = $2 AND state = 'in_flight'"
            )),
            peek_claim: safe(format!(
                "SELECT state, since, receipt FROM {s}.claims WHERE scope = $1 AND key = $2"
            )),
            lease_cursor: safe(format!(
                "INSERT INTO {s}.cursors AS c (flow, version, holder, lease_until) \
                 VALUES ($1, 0, $2, $4) \
                 ON CONFLICT (flow) DO UPDATE SET holder = excluded.holder, \
                 lease_until = excluded.lease_until \
                 WHERE c.holder IS NULL OR c.holder = excluded.holder OR c.lease_until <= $3 \
                 RETURNING c.cursor, c.version, c.lease_until"
            )),
            save_cursor: safe(format!(
                "UPDATE {s}.cursors SET cursor = $4, version = version + 1 \
                 WHERE flow = $1 AND holder = $2 AND version = $3"
            )),
            release_cursor: safe(format!(
                "UPDATE {s}.cursors SET holder = NULL, lease_until = NULL \
                 WHERE flow = $1 AND holder = $2"
            )),
            saved_cursor: safe(format!(
                "SELECT cursor, version FROM {s}.cursors WHERE flow = $1 AND cursor IS NOT NULL"
            )),
            get_state: safe(format!(
                "SELECT value, expires_at FROM {s}.state WHERE scope = $1 AND key = $2 \
                 AND (expires_at IS NULL OR expires_at > $3)"
            )),
            put_state: safe(format!(
                "INSERT INTO {s}.state (scope, key, value, expires_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, \
                 expires_at = excluded.expires_at"
            )),
            swap_absent_state: safe(format!(
                "INSERT INTO {s}.state AS st (scope, key, value, expires_at) \
                 VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (scope, key) DO UPDATE SET value = excluded.value, \
                 expires_at = excluded.expires_at WHERE st.expires_at <= $5"
            )),
            swap_state: safe(format!(
                "UPDATE {s}.state SET value = $3, expires_at = $4 \
                 WHERE scope = $1 AND key = $2 AND value = $6 \
                 AND (expires_at IS NULL OR expires_at > $5)"
            )),
            remove_state: safe(format!(
                "DELETE FROM {s}.state WHERE scope = $1 AND key = $2"
            )),
            // Many callers' entries, in the order they were appended (their ids).
            append_history: safe(format!(
                "INSERT INTO {s}.history (flow, started_at, finished_at, report) \
                 SELECT h.flow, h.started_at, h.finished_at, h.report \
                 FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::jsonb[]) \
                 WITH ORDINALITY AS h (flow, started_at, finished_at, report, n) ORDER BY h.n"
            )),
            recent_history: safe(format!(
                "SELECT flow, started_at, finished_at, report FROM {s}.history \
                 WHERE flow = $1 ORDER BY id DESC LIMIT $2"
            )),
            // The newest run to delete is the `keep_last + 1`-th newest; with fewer runs
            // the subquery is NULL and nothing is deleted.
            prune_history: safe(format!(
                "DELETE FROM {s}.history WHERE flow = $1 AND id <= \
                 (SELECT id FROM {s}.history WHERE flow = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)"
            )),
            prune_all_history: safe(format!(
                "DELETE FROM {s}.history WHERE id IN (\
                 SELECT id FROM (SELECT id, finished_at, \
                 row_number() OVER (PARTITION BY flow ORDER BY id DESC) AS newer \
                 FROM {s}.history) AS ranked \
                 WHERE newer > $1 AND finished_at < $2)"
            )),
            purge_expired_state: safe(format!("DELETE FROM {s}.state WHERE expires_at <= $1")),
            // Many callers' slots, each of a distinct key: `step` is the interval in whole
            // microseconds (`timestamptz`'s precision). A key's slot is its `next_slot`, or
            // `now` when that passed; the row moves on by one interval.
            reserve_slot: safe(format!(
                "WITH k AS (SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) \
                 AS k (key, now, step)) \
                 INSERT INTO {s}.rate_slots AS r (key, next_slot) \
                 SELECT k.key, k.now + k.step * interval '1 microsecond' FROM k ORDER BY k.key \
                 ON CONFLICT (key) DO UPDATE \
                 SET next_slot = GREATEST(r.next_slot + (SELECT k.step FROM k WHERE k.key = r.key) \
                 * interval '1 microsecond', excluded.next_slot) \
                 RETURNING r.key, r.next_slot - (SELECT k.step FROM k WHERE k.key = r.key) \
                 * interval '1 microsecond'"
            )),
        }
    }
}
