//! Conditions: which records a flow acts on. (Placeholder until the rule language lands.)
use crate::{Record, SpecErrors};

/// Decides whether a flow acts on a record. Pure: no I/O, no clock, no panics on any input.
pub trait Condition: Send + Sync {
    /// `true` when the flow should act on `record`.
    fn evaluate(&self, record: &Record) -> bool;
}

/// Placeholder, replaced by the full rule language.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum Rule {
    /// Always true.
    Always,
}
impl Rule {
    /// placeholder
    pub fn parse(_value: &serde_json::Value) -> Result<Rule, SpecErrors> {
        Ok(Rule::Always)
    }
}
impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("always")
    }
}
impl Condition for Rule {
    fn evaluate(&self, _record: &Record) -> bool {
        true
    }
}
