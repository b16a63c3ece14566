//! hubflow: integration flows as values.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod condition;
mod error;
pub mod mapper;
mod record;

pub use condition::{Condition, Rule};
pub use error::{pointer_token, SpecError, SpecErrors};
pub use mapper::{FieldMap, MapError, Mapper};
pub use record::{Cursor, Record};
