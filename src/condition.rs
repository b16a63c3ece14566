//! Conditions: which records a flow acts on.
use crate::Record;

/// Decides whether a flow acts on a record. Pure: no I/O, no clock, no panics on any input.
pub trait Condition: Send + Sync {
    /// `true` when the flow should act on `record`.
    fn evaluate(&self, record: &Record) -> bool;
}

/// Placeholder, replaced by the full rule language.
#[derive(Debug, Clone)]
pub enum Rule {
    /// Always true.
    Always,
}
