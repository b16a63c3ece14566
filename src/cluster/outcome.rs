//! What a record's outcome means for its job: complete it, or fail it so that
//! graphile_worker tries again with its backoff.
//!
//! | outcome | job |
//! |---|---|
//! | delivered, skipped, duplicate of a finished delivery | completed |
//! | duplicate of a delivery in flight elsewhere (a claim whose lease runs) | failed: tried again later, when the lease has run out the flow's `OnUnknown` decides |
//! | failed, retryable (the flow's own retries spent) | failed: tried again later |
//! | failed, not retryable | completed: graphile_worker cannot fail a running job for good, and the record is in the flow's run history as a dead letter |
//!
//! The message a failed job carries into graphile_worker's table and logs is short and
//! names no record data and no secret: the stage, the provider's status and code.

use std::fmt;

use crate::{Failure, Outcome};

/// A job's failure for graphile_worker, which stores its `Debug` text (inside its own
/// `TaskError("…")`) as the job's `last_error` and logs it: the text alone, without the
/// second layer of quotes and escapes a `String`'s `Debug` would add.
pub(crate) struct TaskError(String);

impl TaskError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        TaskError(message.into())
    }

    /// The message.
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The job result for a record's outcome (`None`: the report had no line for it).
pub(crate) fn step_result(outcome: Option<&Outcome>) -> Result<(), TaskError> {
    let Some(outcome) = outcome else {
        return Err(TaskError::new(
            "the flow reported no outcome for the record",
        ));
    };
    match outcome {
        Outcome::Delivered { .. } | Outcome::Skipped { .. } => Ok(()),
        Outcome::Duplicate {
            receipt: Some(_), ..
        } => Ok(()),
        Outcome::Duplicate { receipt: None, .. } => Err(TaskError::new(
            "the record is being delivered by another attempt; trying again later",
        )),
        Outcome::Failed {
            failure,
            retryable: true,
            attempts,
        } => Err(TaskError::new(format!(
            "delivery failed after {attempts} attempt(s) and may succeed later ({}); \
             the flow's run history has the record",
            describe(failure)
        ))),
        Outcome::Failed {
            retryable: false, ..
        } => Ok(()),
    }
}

/// The parts of a failure that carry no record data: where, and the provider's status and
/// code. (The message may quote the provider, which may quote the record.)
pub(crate) fn describe(failure: &Failure) -> String {
    let mut text = format!("stage {}", failure.stage.name());
    if let Some(status) = failure.status {
        text.push_str(&format!(", status {status}"));
    }
    if let Some(code) = failure.code.as_deref().filter(|c| is_plain_code(c)) {
        text.push_str(&format!(", code {code}"));
    }
    text
}

/// Provider codes are short tokens (`131047`, `UNAUTHORIZED_ENDPOINT`); anything else is
/// left out rather than trusted.
fn is_plain_code(code: &str) -> bool {
    code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

#[cfg(test)]
mod tests;
