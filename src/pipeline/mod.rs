//! The pipeline core: records, conditions, mappers, targets and sources, and the flow that
//! composes them. Nothing here names an adapter.

pub mod condition;
pub(crate) mod context;
pub mod conversation;
pub(crate) mod error;
pub(crate) mod flow;
pub mod lookup;
pub mod mapper;
pub(crate) mod phone;
pub(crate) mod rate;
pub(crate) mod record;
pub(crate) mod retry;
pub(crate) mod source;
pub mod spec;
pub(crate) mod target;
pub(crate) mod text;
pub(crate) mod trace;
pub(crate) mod trigger;
pub(crate) mod unreadable;
