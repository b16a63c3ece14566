//! Webhook intake: the record into `intake` and its step job into graphile_worker's queue,
//! in one transaction.
//!
//! The intake row is the durable dedup of events: a provider's redelivery of the same event
//! (same flow, same record key) finds it and is answered [`Accepted::Duplicate`] without a
//! second job, however long after the first job completed (graphile_worker forgets a job,
//! and its key, when it completes). The job's payload names the row (`{flow, event}`), so
//! graphile_worker's tables and logs hold no record data.

use chrono::{DateTime, Utc};
use graphile_worker::JobSpec;
use sqlx::types::Json;
use sqlx::PgConnection;

use super::tasks::FlowStep;
use super::{queue, Accepted, ClusterError, Inner};
use crate::{Plan, Record};

impl Inner {
    /// Accepts `record` for `flow_id` on `conn`, inside whatever transaction the caller has
    /// open there; the caller commits.
    pub(crate) async fn accept_in(
        &self,
        conn: &mut PgConnection,
        flow_id: &str,
        record: &Record,
    ) -> Result<Accepted, ClusterError> {
        let what = "accepting a record";
        let flow = self
            .flows
            .get(flow_id)
            .ok_or_else(|| ClusterError::UnknownFlow(flow_id.to_owned()))?;
        let json = serde_json::to_value(record).map_err(ClusterError::Record)?;
        let accepted: Option<DateTime<Utc>> = sqlx::query_scalar(self.tables.insert_intake.sql())
            .bind(flow_id)
            .bind(&record.key)
            .bind(Json(json))
            .fetch_optional(&mut *conn)
            .await
            .map_err(|e| ClusterError::database(what, e))?;
        let Some(accepted_at) = accepted else {
            return Ok(Accepted::Duplicate);
        };
        // The acceptance instant orders a recipient's records, also those accepted in one
        // transaction (whose `now()` is one instant).
        let mut spec = JobSpec::builder()
            .run_at(accepted_at)
            .max_attempts(i16::try_from(self.config.max_attempts).unwrap_or(i16::MAX));
        // A record that would not be sent (skipped, unmappable) has nobody to keep in order.
        // A flow's lookups run here too (their cache then serves the job), so a recipient
        // resolved from a directory is queued in order like one the record names; when a
        // directory does not answer, the record queues without an order and its job decides.
        if let Ok(Plan::Send(action)) = flow.plan(&self.ctx, record).await {
            if let Some(recipient) = action.recipient() {
                spec = spec.queue_name(queue::recipient_queue(
                    &self.queue_key,
                    recipient,
                    self.config.recipient_queues,
                ));
            }
        }
        let step = FlowStep {
            flow: flow_id.to_owned(),
            event: record.key.clone(),
        };
        self.utils
            .clone()
            .with_executor(&mut *conn)
            .add_job(step, spec.build())
            .await
            .map_err(|e| ClusterError::jobs(what, e))?;
        Ok(Accepted::Queued)
    }
}
