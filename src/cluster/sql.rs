//! The cluster's own tables, their versioned migration, and the statements that use them.
//!
//! The tables live in one schema ([`ClusterConfig::tables_schema`](super::ClusterConfig),
//! `hubflow` by default) next to, but apart from, graphile_worker's:
//!
//! | table | what it keeps |
//! |---|---|
//! | `intake` | every accepted record, by `(flow_id, event_id)`: the durable dedup of webhook events and the inbox a step job reads its record from |
//! | `trigger_state` | per timed flow, the instant up to which its runs are enqueued |
//! | `cluster_settings` | one row: the key that hashes recipients into queues, how many recipient queues there are, the last daily maintenance |
//! | `cluster_schema_version` | the versions applied |
//!
//! The migration runs in one transaction under `pg_advisory_xact_lock`, so nodes starting
//! together apply it once; a database with a newer version than this code knows is refused.

use std::sync::Arc;

use sqlx::{AssertSqlSafe, PgPool, Postgres, Transaction};

use super::ClusterError;

/// The migrations, version 1 first: version `n` is `MIGRATIONS[n - 1]`.
const MIGRATIONS: &[&str] = &[V1, V2];

/// The version of the tables this code writes and reads: the last migration's.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Version 1. `{s}` is the quoted schema. The queue key is drawn by the database
/// (`gen_random_uuid`, PostgreSQL 13 or later): 244 random bits, the same for every node.
const V1: &str = r#"
CREATE TABLE {s}.intake (
    flow_id text NOT NULL,
    event_id text NOT NULL,
    record jsonb NOT NULL,
    accepted_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (flow_id, event_id)
);
CREATE INDEX intake_accepted_at ON {s}.intake (accepted_at);
CREATE TABLE {s}.trigger_state (
    flow_id text PRIMARY KEY,
    schedule text NOT NULL,
    planned_until timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE {s}.cluster_settings (
    id boolean PRIMARY KEY DEFAULT true CHECK (id),
    queue_key text NOT NULL,
    last_maintenance timestamptz
);
INSERT INTO {s}.cluster_settings (queue_key)
VALUES (replace(gen_random_uuid()::text, '-', '') || replace(gen_random_uuid()::text, '-', ''));
"#;

/// Version 2: the number of recipient queues, recorded by the first node that starts
/// ([`Tables::settle_settings`]); until then `NULL`.
const V2: &str = r#"
ALTER TABLE {s}.cluster_settings ADD COLUMN recipient_queues integer CHECK (recipient_queues > 0);
"#;

/// A statement with the schema filled in: built only from constants and a schema name that
/// [`is_schema_name`](super::config::is_schema_name) accepted, so it carries no input.
#[derive(Debug, Clone)]
pub(crate) struct Statement(Arc<str>);

impl Statement {
    fn new(sql: String) -> Self {
        Statement(sql.into())
    }

    /// The statement as sqlx takes it.
    pub(crate) fn sql(&self) -> AssertSqlSafe<Arc<str>> {
        AssertSqlSafe(self.0.clone())
    }
}

/// The statements of one cluster, with its schema filled in once.
#[derive(Debug, Clone)]
pub(crate) struct Tables {
    pub(crate) schema: String,
    pub(crate) insert_intake: Statement,
    pub(crate) select_intake: Statement,
    pub(crate) insert_trigger_state: Statement,
    pub(crate) lock_trigger_state: Statement,
    pub(crate) update_trigger_state: Statement,
    /// Records this node's number of recipient queues unless one is recorded already, and
    /// answers the queue key and the recorded number.
    pub(crate) settle_settings: Statement,
    pub(crate) claim_maintenance: Statement,
    pub(crate) prune_intake: Statement,
}

impl Tables {
    /// The statements for `schema`, a name [`is_schema_name`](super::config::is_schema_name)
    /// accepted (so quoting it is enough).
    pub(crate) fn new(schema: &str) -> Self {
        let s = quoted(schema);
        Tables {
            schema: schema.to_owned(),
            // `clock_timestamp()` rather than `now()`: it moves within a transaction, so
            // records accepted one after another in one host transaction keep their order in
            // a recipient's queue (it becomes the job's `run_at`).
            insert_intake: Statement::new(format!(
                "INSERT INTO {s}.intake (flow_id, event_id, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (flow_id, event_id) DO NOTHING RETURNING accepted_at"
            )),
            // The records of many step jobs at once (`tasks::IntakeRead`); a pruned row
            // comes back as NULL.
            select_intake: Statement::new(format!(
                "SELECT k.flow_id, k.event_id, i.record \
                 FROM unnest($1::text[], $2::text[]) AS k (flow_id, event_id) \
                 LEFT JOIN {s}.intake AS i USING (flow_id, event_id)"
            )),
            insert_trigger_state: Statement::new(format!(
                "INSERT INTO {s}.trigger_state (flow_id, schedule, planned_until) \
                 VALUES ($1, $2, $3) ON CONFLICT (flow_id) DO NOTHING"
            )),
            lock_trigger_state: Statement::new(format!(
                "SELECT schedule, planned_until FROM {s}.trigger_state WHERE flow_id = $1 FOR UPDATE"
            )),
            update_trigger_state: Statement::new(format!(
                "UPDATE {s}.trigger_state SET schedule = $2, planned_until = $3, \
                 updated_at = clock_timestamp() WHERE flow_id = $1"
            )),
            settle_settings: Statement::new(format!(
                "UPDATE {s}.cluster_settings \
                 SET recipient_queues = coalesce(recipient_queues, $1) \
                 RETURNING queue_key, recipient_queues"
            )),
            claim_maintenance: Statement::new(format!(
                "UPDATE {s}.cluster_settings SET last_maintenance = clock_timestamp() \
                 WHERE last_maintenance IS NULL OR last_maintenance < clock_timestamp() - interval '1 day' \
                 RETURNING true"
            )),
            prune_intake: Statement::new(format!(
                "DELETE FROM {s}.intake WHERE accepted_at < clock_timestamp() - $1::bigint * interval '1 second'"
            )),
        }
    }
}

/// `name` as a quoted identifier.
fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Creates the cluster's tables, or checks that the existing ones are a version this code
/// reads, in one transaction that holds an advisory lock for the schema.
pub(crate) async fn migrate(pool: &PgPool, tables: &Tables) -> Result<(), ClusterError> {
    let what = "migrating the cluster tables";
    let db = |e| ClusterError::database(what, e);
    let schema = tables.schema.as_str();
    let s = quoted(schema);
    let mut tx = pool.begin().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('hubflow.cluster_schema:' || $1))")
        .bind(schema)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    // Looked up first: `CREATE SCHEMA IF NOT EXISTS` still wants the right to create one,
    // which a role given an existing schema may lack.
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)")
            .bind(schema)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    if !exists {
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {s}")))
            .execute(&mut *tx)
            .await
            .map_err(db)?;
    }
    sqlx::query(AssertSqlSafe(format!(
        "CREATE TABLE IF NOT EXISTS {s}.cluster_schema_version (\
             version bigint PRIMARY KEY, \
             applied_at timestamptz NOT NULL DEFAULT clock_timestamp())"
    )))
    .execute(&mut *tx)
    .await
    .map_err(db)?;
    let found: Option<i64> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT max(version) FROM {s}.cluster_schema_version"
    )))
    .fetch_one(&mut *tx)
    .await
    .map_err(db)?;
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(ClusterError::SchemaTooNew {
            schema: schema.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    let applied = usize::try_from(found).unwrap_or(0);
    for (version, script) in (1..).zip(MIGRATIONS).skip(applied) {
        apply(&mut tx, &s, script, version).await.map_err(db)?;
    }
    tx.commit().await.map_err(db)
}

async fn apply(
    tx: &mut Transaction<'_, Postgres>,
    schema: &str,
    script: &str,
    version: i64,
) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(AssertSqlSafe(script.replace("{s}", schema)))
        .execute(&mut **tx)
        .await?;
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {schema}.cluster_schema_version (version) VALUES ($1)"
    )))
    .bind(version)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
