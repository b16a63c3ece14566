//! The clock port: what time it is, and waiting.
//!
//! Retries, rate limits and triggers all ask the [`Clock`] in the
//! [`Context`](crate::Context) instead of the system, so a test runs a 30-second
//! `Retry-After` in no time with a [`ManualClock`], and the host decides which runtime's
//! timer is used ([`TokioClock`] ships with the `reqwest` feature).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// Tells the time and waits. Implement it over your runtime's timer.
///
/// A clock that runs a fixed offset ahead of another one (to rehearse a daily job at
/// tomorrow's DST change, say), waiting with the inner clock's timer:
///
/// ```
/// use std::time::Duration;
/// use async_trait::async_trait;
/// use chrono::{DateTime, Utc};
/// use hubflow::{Clock, ManualClock};
///
/// struct Ahead<C> {
///     inner: C,
///     by: chrono::Duration,
/// }
///
/// #[async_trait]
/// impl<C: Clock> Clock for Ahead<C> {
///     fn now(&self) -> DateTime<Utc> {
///         self.inner.now() + self.by
///     }
///     async fn sleep(&self, duration: Duration) {
///         self.inner.sleep(duration).await;
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let base = ManualClock::new("2026-10-31T12:00:00Z".parse().unwrap());
/// let clock = Ahead { inner: base.clone(), by: chrono::Duration::days(1) };
/// assert_eq!(clock.now().to_rfc3339(), "2026-11-01T12:00:00+00:00");
/// clock.sleep(Duration::from_secs(60)).await;
/// assert_eq!(base.sleeps(), [Duration::from_secs(60)]);
/// # });
/// ```
#[async_trait]
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
    /// Waits for `duration`.
    async fn sleep(&self, duration: Duration);
}

/// The system clock with tokio's timer (feature `tokio`, which `reqwest` turns on).
/// `sleep` must be awaited inside a tokio runtime with the time driver enabled.
#[cfg(feature = "tokio")]
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

#[cfg(feature = "tokio")]
#[async_trait]
impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// A clock for tests and simulations: time moves only when told to, and `sleep` returns at
/// once after moving time forward by the duration, so waits are instant but observable.
///
/// Clones share the same time and the same log of sleeps.
///
/// ```
/// use hubflow::{Clock, ManualClock};
/// use std::time::Duration;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let clock = ManualClock::new("2026-03-01T12:00:00Z".parse().unwrap());
/// clock.sleep(Duration::from_secs(30)).await;
/// assert_eq!(clock.now().to_rfc3339(), "2026-03-01T12:00:30+00:00");
/// assert_eq!(clock.sleeps(), vec![Duration::from_secs(30)]);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct ManualClock {
    state: Arc<Mutex<ManualState>>,
}

#[derive(Debug)]
struct ManualState {
    now: DateTime<Utc>,
    sleeps: Vec<Duration>,
}

impl ManualClock {
    /// A clock standing at `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        ManualClock {
            state: Arc::new(Mutex::new(ManualState {
                now,
                sleeps: Vec::new(),
            })),
        }
    }

    /// Moves time forward.
    pub fn advance(&self, by: Duration) {
        let mut state = self.lock();
        state.now = add(state.now, by);
    }

    /// Sets the time.
    pub fn set(&self, now: DateTime<Utc>) {
        self.lock().now = now;
    }

    /// Every duration slept so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.lock().sleeps.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ManualState> {
        // Only a panicking test can poison this; the time itself is still consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Adds a std duration to an instant, saturating at chrono's range instead of panicking.
pub(crate) fn add(at: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(by)
        .ok()
        .and_then(|d| at.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[async_trait]
impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.lock().now
    }

    async fn sleep(&self, duration: Duration) {
        let mut state = self.lock();
        state.now = add(state.now, duration);
        state.sleeps.push(duration);
    }
}
