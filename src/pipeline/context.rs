//! The ports a host hands to a flow.

use std::fmt;
use std::sync::Arc;

use crate::http::HttpClient;
use crate::{Clock, Store};

/// The host's HTTP client, clock and store, handed to every flow call.
///
/// Cheap to clone (three `Arc`s); build one at start-up and share it.
///
/// ```
/// use hubflow::{Context, ManualClock, MemoryStore};
/// use hubflow::http::RecordingClient;
///
/// let ctx = Context::new(
///     RecordingClient::new(),
///     ManualClock::new("2026-03-01T12:00:00Z".parse().unwrap()),
///     MemoryStore::new(),
/// );
/// assert_eq!(ctx.clock().now().to_rfc3339(), "2026-03-01T12:00:00+00:00");
/// ```
#[derive(Clone)]
pub struct Context {
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
}

impl Context {
    /// A context from its three ports.
    pub fn new(
        http: impl HttpClient + 'static,
        clock: impl Clock + 'static,
        store: impl Store + 'static,
    ) -> Self {
        Context {
            http: Arc::new(http),
            clock: Arc::new(clock),
            store: Arc::new(store),
        }
    }

    /// A context from shared ports.
    pub fn from_arcs(
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
    ) -> Self {
        Context { http, clock, store }
    }

    /// The HTTP client.
    pub fn http(&self) -> &dyn HttpClient {
        &*self.http
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The store, shared (for a dry run's overlay).
    pub(crate) fn store_arc(&self) -> Arc<dyn Store> {
        self.store.clone()
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context").finish_non_exhaustive()
    }
}
