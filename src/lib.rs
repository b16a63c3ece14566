//! hubflow: integration flows as values.
#![cfg_attr(docsrs, feature(doc_auto_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod clock;
pub mod condition;
mod context;
mod error;
mod flow;
pub mod http;
#[cfg(feature = "http")]
pub mod http_target;
pub mod mapper;
mod record;
mod retry;
mod source;
pub mod spec;
mod store;
mod target;
mod trigger;

#[cfg(feature = "reqwest")]
pub use clock::TokioClock;
pub use clock::{Clock, ManualClock};
pub use condition::{Condition, Rule};
pub use context::Context;
pub use error::{pointer_token, SpecError, SpecErrors};
pub use flow::{
    Counts, DeliveryPolicy, Failure, Flow, FlowBuilder, OnUnknown, Outcome, Plan, PlanError,
    RecordOutcome, RunError, RunReport, Stage,
};
pub use mapper::{FieldMap, MapError, Mapper};
pub use record::{Cursor, Record};
pub use retry::{RetryDecision, RetryPolicy};
pub use source::{Batch, InboundRequest, Source, SourceError, WebhookReply, WebhookSource};
pub use spec::FlowSpec;
pub use store::{Claim, MemoryStore, Store, StoreError};
pub use target::{DeliveryError, ErrorClass, ProviderError, Receipt, Target, TargetError};
pub use trigger::Trigger;
