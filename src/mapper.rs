//! Mapping: turning a record into the payload a target sends.
use crate::Record;

/// Turns a record into a target's payload. Pure.
pub trait Mapper: Send + Sync {
    /// Maps `record` to a JSON payload.
    fn map(&self, record: &Record) -> Result<serde_json::Value, MapError>;
}

/// Placeholder, replaced by the template-based field map.
#[derive(Debug, Clone)]
pub struct FieldMap;

/// Placeholder error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// A field is missing.
    #[error("missing field {field}")]
    MissingField {
        /// the path
        field: String,
    },
}
