//! The ports a host hands to a flow.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use crate::http::HttpClient;
use crate::{ClaimStore, Clock, CursorStore, HistoryStore, RateStore, StateStore, Store};

/// The host's HTTP client, clock and store, handed to every flow call.
///
/// Cheap to clone (a few `Arc`s); build one at start-up and share it. The store is one
/// value serving every concern ([`Context::new`]), and each concern can be given its own
/// implementation afterwards (`with_claims`, `with_cursors`, `with_state`, `with_history`),
/// e.g. claims and cursors in the shared database and history elsewhere.
///
/// ```
/// use hubflow::{Context, ManualClock, MemoryStore};
/// use hubflow::http::RecordingClient;
///
/// let ctx = Context::new(
///     RecordingClient::new(),
///     ManualClock::new("2026-03-01T12:00:00Z".parse().unwrap()),
///     MemoryStore::new(),
/// )
/// // Run history kept apart from the rest, in a store of its own.
/// .with_history(MemoryStore::new())
/// .with_worker_id("worker-1");
/// assert_eq!(ctx.clock().now().to_rfc3339(), "2026-03-01T12:00:00+00:00");
/// assert_eq!(ctx.worker_id(), "worker-1");
/// ```
#[derive(Clone)]
pub struct Context {
    http: Arc<dyn HttpClient>,
    clock: Arc<dyn Clock>,
    claims: Arc<dyn ClaimStore>,
    cursors: Arc<dyn CursorStore>,
    state: Arc<dyn StateStore>,
    history: Arc<dyn HistoryStore>,
    /// Rate-limit slots shared with other processes; `None`: limits hold per process.
    rates: Option<Arc<dyn RateStore>>,
    worker: Arc<str>,
    /// Set in the context of a dry run: adapters keep what they learn in it (tokens,
    /// rate-limit slots) away from the real run's state.
    dry_run: Option<DryRunMark>,
    /// In a dry run, the host's own HTTP client: lookups read their directories through
    /// it, for real (they only read), while the flow's requests go to the fakes.
    reads: Option<Arc<dyn HttpClient>>,
}

/// The four store concerns of a context, shared.
pub(crate) type StoreArcs = (
    Arc<dyn ClaimStore>,
    Arc<dyn CursorStore>,
    Arc<dyn StateStore>,
    Arc<dyn HistoryStore>,
);

/// Identifies one dry run, so state an adapter keeps for it is not mistaken for another's.
#[derive(Clone, Debug)]
#[cfg_attr(not(any(feature = "fracttal", feature = "rm")), allow(dead_code))]
pub(crate) struct DryRunMark(Arc<()>);

#[cfg_attr(not(any(feature = "fracttal", feature = "rm")), allow(dead_code))]
impl DryRunMark {
    pub(crate) fn new() -> Self {
        DryRunMark(Arc::new(()))
    }

    /// Whether both marks belong to the same dry run.
    pub(crate) fn same(&self, other: &DryRunMark) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Context {
    /// A context from its three ports; `store` serves every store concern.
    pub fn new(
        http: impl HttpClient + 'static,
        clock: impl Clock + 'static,
        store: impl Store + 'static,
    ) -> Self {
        Context::from_arcs(Arc::new(http), Arc::new(clock), Arc::new(store))
    }

    /// A context from shared ports.
    pub fn from_arcs(
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
    ) -> Self {
        let worker = format!("pid{}", std::process::id());
        Context {
            http,
            clock,
            claims: store.clone(),
            cursors: store.clone(),
            state: store.clone(),
            history: store,
            rates: None,
            worker: worker.into(),
            dry_run: None,
            reads: None,
        }
    }

    /// Uses `claims` for idempotency claims instead of the store given first.
    #[must_use]
    pub fn with_claims(mut self, claims: impl ClaimStore + 'static) -> Self {
        self.claims = Arc::new(claims);
        self
    }

    /// Uses `cursors` for source cursors and their leases.
    #[must_use]
    pub fn with_cursors(mut self, cursors: impl CursorStore + 'static) -> Self {
        self.cursors = Arc::new(cursors);
        self
    }

    /// Uses `state` for adapters' keyed state (conversation windows, pending confirmations).
    #[must_use]
    pub fn with_state(mut self, state: impl StateStore + 'static) -> Self {
        self.state = Arc::new(state);
        self
    }

    /// Uses `history` for run history.
    #[must_use]
    pub fn with_history(mut self, history: impl HistoryStore + 'static) -> Self {
        self.history = Arc::new(history);
        self
    }

    /// Shares the rate limits of flows and adapters through `rates` with every other
    /// process using the same store, so that several workers together stay within a
    /// provider's limit (a WhatsApp number's 80 messages a second). Without it each
    /// process keeps its own slots and the limit holds per process.
    ///
    /// Only limiters made [`shared`](crate::RateLimiter::shared) use it: the flow's
    /// `rate_per_second` and a WhatsApp number's throughput. When the store fails, a
    /// limiter falls back to its own slots, so the limit still holds within the process.
    ///
    /// ```
    /// use hubflow::{Context, ManualClock, MemoryStore};
    /// use hubflow::http::RecordingClient;
    ///
    /// let store = MemoryStore::new();
    /// let ctx = Context::new(RecordingClient::new(), ManualClock::new(chrono::Utc::now()), store.clone())
    ///     .with_rates(store);
    /// assert!(ctx.rates().is_some());
    /// ```
    #[must_use]
    pub fn with_rates(mut self, rates: impl RateStore + 'static) -> Self {
        self.rates = Some(Arc::new(rates));
        self
    }

    /// Names this worker in the cursor leases it takes (default: `pid<process id>`), so
    /// that a lease found in the store says who holds it; e.g. the machine's host name.
    #[must_use]
    pub fn with_worker_id(mut self, worker: impl Into<String>) -> Self {
        self.worker = worker.into().into();
        self
    }

    /// The HTTP client.
    pub fn http(&self) -> &dyn HttpClient {
        &*self.http
    }

    /// The clock.
    pub fn clock(&self) -> &dyn Clock {
        &*self.clock
    }

    /// The idempotency claims.
    pub fn claims(&self) -> &dyn ClaimStore {
        &*self.claims
    }

    /// The source cursors.
    pub fn cursors(&self) -> &dyn CursorStore {
        &*self.cursors
    }

    /// The adapters' keyed state.
    pub fn state(&self) -> &dyn StateStore {
        &*self.state
    }

    /// The run history.
    pub fn history(&self) -> &dyn HistoryStore {
        &*self.history
    }

    /// The shared rate-limit slots, if the host gave some ([`Context::with_rates`]).
    pub fn rates(&self) -> Option<&dyn RateStore> {
        self.rates.as_deref()
    }

    /// This worker's name in cursor leases.
    pub fn worker_id(&self) -> &str {
        &self.worker
    }

    /// A cursor lease holder for one run, used by no other run: `<worker id>/<token>`. The
    /// worker id alone is not trusted to be unique (two processes may be given the same
    /// one), so the token is fresh for every call: std's randomly keyed hasher, whose keys
    /// differ for every `RandomState`, hashing nothing.
    pub(crate) fn next_lease_holder(&self) -> String {
        let token = RandomState::new().build_hasher().finish();
        format!("{}/{token:016x}", self.worker)
    }

    /// Whether this is the context of a [`Flow::dry_run`](crate::Flow::dry_run): its HTTP
    /// client is a provider fake and its store writes nowhere.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run.is_some()
    }

    /// The dry run this context belongs to, if it is one.
    #[cfg_attr(not(any(feature = "fracttal", feature = "rm")), allow(dead_code))]
    pub(crate) fn dry_run_mark(&self) -> Option<&DryRunMark> {
        self.dry_run.as_ref()
    }

    /// The context a dry run executes in: `http` and `clock` in place of the host's, the
    /// store concerns behind `store`, the worker id kept.
    pub(crate) fn for_dry_run(
        &self,
        http: Arc<dyn HttpClient>,
        clock: Arc<dyn Clock>,
        store: Arc<dyn Store>,
        mark: DryRunMark,
    ) -> Context {
        let mut ctx = Context::from_arcs(http, clock, store);
        ctx.worker = self.worker.clone();
        ctx.dry_run = Some(mark);
        ctx.reads = Some(self.reads.clone().unwrap_or_else(|| self.http.clone()));
        ctx
    }

    /// The context lookups run in: this one, except in a dry run, where their HTTP goes
    /// through the host's client rather than the target's fakes.
    pub(crate) fn for_lookups(&self) -> std::borrow::Cow<'_, Context> {
        match &self.reads {
            None => std::borrow::Cow::Borrowed(self),
            Some(reads) => {
                let mut ctx = self.clone();
                ctx.http = reads.clone();
                std::borrow::Cow::Owned(ctx)
            }
        }
    }

    /// The four store concerns, shared (what a dry run's overlay reads through to).
    pub(crate) fn stores(&self) -> StoreArcs {
        (
            self.claims.clone(),
            self.cursors.clone(),
            self.state.clone(),
            self.history.clone(),
        )
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
