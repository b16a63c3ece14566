//! The cluster's three graphile_worker tasks and the state they share.
//!
//! | task | payload | does |
//! |---|---|---|
//! | `hubflow_flow_step` | `{"flow", "event"}` | reads the accepted record from `intake` (with the worker's other steps' reads), `flow.process(ctx, [record])`, maps the outcome ([`super::outcome`]) |
//! | `hubflow_flow_run` | `{"flow", "due"}` | `flow.run(ctx)`; a run found busy (another poller holds the cursor lease) completes |
//! | `hubflow_tick` | `{}` | the scheduler ([`super::schedule`]) and the daily maintenance |
//!
//! Payloads name records by reference only: graphile_worker logs payloads, and its tables
//! are read by more people than the intake table.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use chrono::{DateTime, Utc};
use graphile_worker::{IntoTaskHandlerResult, TaskHandler, WorkerContext};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::PgPool;

use super::outcome::{step_result, TaskError};
use super::sql::Statement;
use super::Inner;
use crate::store::group::Batched;
use crate::{Record, RunError, StoreError};

/// The cluster, as graphile_worker hands it to every task (an extension, keyed by type: a
/// private type, so that no host extension can take its place).
#[derive(Clone)]
pub(crate) struct ClusterState(pub(crate) Arc<Inner>);

impl fmt::Debug for ClusterState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClusterState").finish_non_exhaustive()
    }
}

/// The state of the worker running `ctx`'s job.
fn state(ctx: &WorkerContext) -> Result<ClusterState, TaskError> {
    ctx.get_ext::<ClusterState>()
        .cloned()
        .ok_or_else(|| TaskError::new("the hubflow cluster state is missing from the worker"))
}

/// One accepted record of one flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FlowStep {
    /// The flow's id.
    pub(crate) flow: String,
    /// The record's key, its row in `intake`.
    pub(crate) event: String,
}

impl TaskHandler for FlowStep {
    const IDENTIFIER: &'static str = "hubflow_flow_step";

    async fn run(self, ctx: WorkerContext) -> impl IntoTaskHandlerResult {
        state(&ctx)?.0.step(&self).await
    }
}

/// One run of a flow: at a trigger's instant, or asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FlowRun {
    /// The flow's id.
    pub(crate) flow: String,
    /// The trigger's instant this run is for; `None` for a run asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) due: Option<DateTime<Utc>>,
}

impl FlowRun {
    pub(crate) fn scheduled(flow: &str, due: DateTime<Utc>) -> Self {
        FlowRun {
            flow: flow.to_owned(),
            due: Some(due),
        }
    }

    pub(crate) fn now(flow: &str) -> Self {
        FlowRun {
            flow: flow.to_owned(),
            due: None,
        }
    }
}

impl TaskHandler for FlowRun {
    const IDENTIFIER: &'static str = "hubflow_flow_run";

    async fn run(self, ctx: WorkerContext) -> impl IntoTaskHandlerResult {
        state(&ctx)?.0.run_flow(&self).await
    }
}

/// The minute tick.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Tick {}

impl TaskHandler for Tick {
    const IDENTIFIER: &'static str = "hubflow_tick";

    async fn run(self, ctx: WorkerContext) -> impl IntoTaskHandlerResult {
        Inner::tick(state(&ctx)?.0)
            .await
            .map(|_| ())
            .map_err(|e| TaskError::new(format!("the scheduler tick failed: {e}")))
    }
}

/// Where step jobs read their records: the cluster's pool and the statement.
#[derive(Clone)]
pub(crate) struct Intake {
    pub(crate) pool: PgPool,
    pub(crate) select: Statement,
}

/// One step job's read of its record, sent with the reads of the worker's other jobs in
/// one statement ([`Group`](crate::store::group::Group)).
pub(crate) struct IntakeRead {
    flow: String,
    event: String,
}

/// A row of the read: flow, event, and the record unless the retention pruned it.
type IntakeRow = (String, String, Option<Json<Record>>);

#[async_trait]
impl Batched for IntakeRead {
    type On = Intake;
    type Answer = Option<Record>;

    /// Reads write nothing, but two reads of one record never share a statement, so that
    /// each answer moves out of the statement's rows without a copy.
    fn rows(&self) -> Vec<(&str, &str)> {
        vec![(self.flow.as_str(), self.event.as_str())]
    }

    async fn send(
        intake: &Intake,
        reads: &[&IntakeRead],
    ) -> Result<Vec<Result<Option<Record>, StoreError>>, StoreError> {
        let flows: Vec<&str> = reads.iter().map(|r| r.flow.as_str()).collect();
        let events: Vec<&str> = reads.iter().map(|r| r.event.as_str()).collect();
        let rows: Vec<IntakeRow> = sqlx::query_as(intake.select.sql())
            .bind(&flows)
            .bind(&events)
            .fetch_all(&intake.pool)
            .await
            .map_err(|e| {
                StoreError::unavailable("reading accepted records from the intake table failed")
                    .with_source(e)
            })?;
        // Records by flow, then event: looked up by the reads' own strings, no copies.
        let mut found: HashMap<String, HashMap<String, Option<Record>>> = HashMap::new();
        for (flow, event, record) in rows {
            found
                .entry(flow)
                .or_default()
                .insert(event, record.map(|Json(r)| r));
        }
        Ok(reads
            .iter()
            .map(|read| {
                found
                    .get_mut(&read.flow)
                    .and_then(|events| events.remove(&read.event))
                    .ok_or_else(|| StoreError::corrupt("reading a record answered no row"))
            })
            .collect())
    }
}

impl Inner {
    /// Runs one accepted record through its flow.
    async fn step(&self, job: &FlowStep) -> Result<(), TaskError> {
        let Some(flow) = self.flows.get(&job.flow) else {
            // A node of another deployment may know it: let it come back.
            return Err(TaskError::new(format!(
                "no flow `{}` on this worker",
                job.flow
            )));
        };
        let read = IntakeRead {
            flow: job.flow.clone(),
            event: job.event.clone(),
        };
        let row = self
            .intake_reads
            .call(&self.intake, read)
            .await
            .map_err(|_| TaskError::new("reading the record from the intake table failed"))?;
        let Some(record) = row else {
            // Pruned by the retention: older than any retry this job could have had left.
            tracing::warn!(
                flow = %job.flow,
                "an accepted record is no longer in the intake table; its job completes without it"
            );
            return Ok(());
        };
        let mut report = flow.process_unrecorded(&self.ctx, vec![record]).await;
        if self.config.history.keeps(&report) {
            flow.record_history(&self.ctx, &mut report).await;
        }
        step_result(report.records.first().map(|line| &line.outcome))
    }

    /// Runs a flow from its source.
    async fn run_flow(&self, job: &FlowRun) -> Result<(), TaskError> {
        let Some(flow) = self.flows.get(&job.flow) else {
            return Err(TaskError::new(format!(
                "no flow `{}` on this worker",
                job.flow
            )));
        };
        match flow.run(&self.ctx).await {
            Ok(_) => Ok(()),
            // Another poller is at it: this instant's run is theirs.
            Err(RunError::Busy(_)) => Ok(()),
            Err(RunError::NoSource(_)) => {
                tracing::warn!(flow = %job.flow, "a run was asked of a flow without a source");
                Ok(())
            }
            // The cursor did not move: the next run polls the same records again.
            Err(RunError::Source(e)) => {
                tracing::warn!(flow = %job.flow, error = %e, "polling a flow's source failed");
                Err(TaskError::new(format!(
                    "polling the source of flow `{}` failed; the next run tries again",
                    job.flow
                )))
            }
        }
    }
}
