//! The store port, one trait per concern:
//!
//! | trait | what it keeps | used by |
//! |---|---|---|
//! | [`ClaimStore`] | idempotency claims: free → in flight → done | every flow's delivery; RM's applied answers |
//! | [`CursorStore`] | pull sources' cursors, versioned, with a lease per flow | [`Flow::run`](crate::Flow::run) |
//! | [`StateStore`] | keyed JSON state with a time to live | WhatsApp's 24-hour window, RM's pending confirmations |
//! | [`HistoryStore`] | run history, newest first, with retention | [`Flow::process`](crate::Flow::process), [`Flow::history`](crate::Flow::history) |
//! | [`RateStore`] | rate-limit slots shared across processes (optional) | shared [`RateLimiter`](crate::RateLimiter)s, when the context has one ([`Context::with_rates`](crate::Context::with_rates)) |
//!
//! Each trait documents its rules and, for each operation, the one SQL statement (or short
//! transaction) that does it atomically, which is what makes a shared database store safe
//! across many workers. A store's implementation can be checked against those rules with
//! the conformance suite in `hubflow::testing::store` (feature `testing`).
//!
//! [`Store`] is the bundle of all four, implemented by every type that implements them, so
//! one value ([`MemoryStore`], or a database store) serves a whole
//! [`Context`](crate::Context); the context can also take a different implementation per
//! concern. The port imports nothing from the flow layer: history holds plain
//! [`HistoryEntry`] values, and the flow converts its reports.

mod claims;
mod cursors;
mod error;
mod history;
mod memory;
#[cfg(feature = "postgres")]
mod postgres;
mod rate;
#[cfg(feature = "sqlite")]
mod sqlite;
mod state;

pub use claims::{Claim, ClaimStore};
pub use cursors::{CursorLease, CursorStore, SavedCursor};
pub use error::{StoreError, StoreErrorKind};
pub use history::{HistoryEntry, HistoryStore};
pub use memory::MemoryStore;
#[cfg(feature = "graphile")]
pub(crate) use postgres::group;
#[cfg(feature = "graphile")]
pub(crate) use postgres::valid_schema_name;
#[cfg(feature = "postgres")]
pub use postgres::{PgStore, PgStoreOptions};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) use rate::interval_micros;
pub use rate::RateStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;
pub(crate) use state::update_state;
#[cfg(test)]
pub(crate) use state::YieldingState;
pub use state::{StateEntry, StateStore};

/// Every store concern in one value: what [`Context::new`](crate::Context::new) takes.
///
/// Implemented for every type that implements the four concern traits; there is nothing to
/// implement by hand.
pub trait Store: ClaimStore + CursorStore + StateStore + HistoryStore {}

impl<T: ClaimStore + CursorStore + StateStore + HistoryStore + ?Sized> Store for T {}
