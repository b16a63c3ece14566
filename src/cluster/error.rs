//! [`ClusterError`]: what can go wrong building, feeding and running a cluster.

use std::error::Error;

/// A boxed underlying error (the database driver's, graphile_worker's).
type Source = Box<dyn Error + Send + Sync + 'static>;

/// Why a [`Cluster`](super::Cluster) operation failed.
///
/// Messages name what was being done and never contain a password, a token or record data;
/// the underlying error (the driver's, graphile_worker's) is reachable through
/// [`Error::source`]. Since the host passes a ready pool, the cluster never sees a
/// connection string.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// The configuration is unusable; every problem is listed, as `field: what is wrong`.
    #[error("invalid cluster configuration: {}", .0.join("; "))]
    InvalidConfig(Vec<String>),
    /// Two flows were registered with one id.
    #[error("two flows have the id `{0}`")]
    DuplicateFlow(String),
    /// A flow cannot run in a cluster as it is.
    #[error("flow `{flow}` cannot run in the cluster: {reason}")]
    InvalidFlow {
        /// The flow's id.
        flow: String,
        /// Why not.
        reason: String,
    },
    /// No flow with this id was registered with the cluster.
    #[error("no flow `{0}` in this cluster")]
    UnknownFlow(String),
    /// The cluster's tables were created by a newer version of hubflow; this one refuses
    /// to read or change them. Upgrade hubflow; retrying does not help.
    #[error(
        "the cluster tables in schema `{schema}` have version {found}, newer than version \
         {supported} that this version of hubflow knows; upgrade hubflow"
    )]
    SchemaTooNew {
        /// The schema of the cluster's tables.
        schema: String,
        /// The version found in the database.
        found: i64,
        /// The newest version this hubflow knows.
        supported: i64,
    },
    /// graphile_worker's schema is incompatible with the graphile_worker this hubflow
    /// uses (a newer breaking revision, or a PostgreSQL older than it supports).
    #[error("the job queue's schema `{schema}` cannot be used: {reason}")]
    JobsIncompatible {
        /// graphile_worker's schema.
        schema: String,
        /// What graphile_worker said.
        reason: String,
    },
    /// The database failed or could not be reached.
    #[error("database error while {what}")]
    Database {
        /// What the cluster was doing.
        what: &'static str,
        /// The driver's error.
        #[source]
        source: Source,
    },
    /// graphile_worker failed (adding a job, starting a worker, a worker's run).
    #[error("job queue error while {what}")]
    Jobs {
        /// What the cluster was doing.
        what: &'static str,
        /// graphile_worker's error.
        #[source]
        source: Source,
    },
    /// A record could not be written as JSON.
    #[error("the record does not serialize as JSON")]
    Record(#[source] serde_json::Error),
}

impl ClusterError {
    pub(crate) fn database(what: &'static str, source: sqlx::Error) -> Self {
        ClusterError::Database {
            what,
            source: Box::new(source),
        }
    }

    pub(crate) fn jobs(what: &'static str, source: impl Error + Send + Sync + 'static) -> Self {
        ClusterError::Jobs {
            what,
            source: Box::new(source),
        }
    }

    /// Whether trying again later may succeed: database and job queue failures, not
    /// configuration or version problems.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ClusterError::Database { .. } | ClusterError::Jobs { .. }
        )
    }
}
