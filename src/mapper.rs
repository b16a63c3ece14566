//! Mapping. (Placeholder until the template mapper lands.)
use crate::{Record, SpecErrors};

/// Turns a record into a target's payload. Pure.
pub trait Mapper: Send + Sync {
    /// Maps `record` to a JSON payload.
    fn map(&self, record: &Record) -> Result<serde_json::Value, MapError>;
}

/// Placeholder.
#[derive(Debug, Clone)]
pub struct FieldMap(serde_json::Value);
impl FieldMap {
    /// placeholder
    pub fn new(shape: serde_json::Value) -> Result<FieldMap, SpecErrors> {
        Ok(FieldMap(shape))
    }
    /// placeholder
    pub fn shape(&self) -> &serde_json::Value {
        &self.0
    }
}
impl Mapper for FieldMap {
    fn map(&self, _record: &Record) -> Result<serde_json::Value, MapError> {
        Ok(self.0.clone())
    }
}
/// Placeholder.
#[derive(Debug, Clone, Copy)]
pub struct Passthrough;
impl Mapper for Passthrough {
    fn map(&self, record: &Record) -> Result<serde_json::Value, MapError> {
        Ok(record.data.clone())
    }
}

/// Placeholder error.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// A field is missing.
    #[error("missing field {field}")]
    MissingField {
        /// the path
        field: String,
    },
}
