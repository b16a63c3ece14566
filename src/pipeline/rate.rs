//! Rate limiting through the host's clock.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::{Clock, Context};

/// Spaces requests evenly, per key: each caller takes the next free slot `interval` after
/// the previous one for the same key, and waits for it through the [`Clock`] (a GCRA
/// without burst: no catching up after a quiet spell).
///
/// One limiter serves a single stream (key `""`: a WhatsApp number's 80 messages a second)
/// or many (a key per recipient: one message every 6 seconds to each customer). Clones of a
/// flow or target share their limiter, so the limit holds across them within a process.
///
/// A limiter made [`shared`](RateLimiter::shared) under a name takes its slots from the
/// context's [`RateStore`](crate::RateStore) when the host gave one
/// ([`Context::with_rates`]): then the limit holds across every process using that store.
///
/// ```
/// use hubflow::{Clock, ManualClock, RateLimiter};
/// use std::time::Duration;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
/// let per_recipient = RateLimiter::every(Duration::from_secs(6));
/// per_recipient.acquire(&clock, "5511999991234").await; // at once
/// per_recipient.acquire(&clock, "5521988884321").await; // another key: at once
/// per_recipient.acquire(&clock, "5511999991234").await; // waits 6 s
/// assert_eq!(clock.sleeps(), vec![Duration::from_secs(6)]);
/// # });
/// ```
pub struct RateLimiter {
    interval: Duration,
    /// The name under which the limiter's slots are shared through the context's rate
    /// store; `None`: this process's slots only.
    shared: Option<String>,
    next_slots: Mutex<HashMap<String, DateTime<Utc>>>,
}

/// Past this many keys, slots already in the past are dropped: a key whose slot has passed
/// behaves exactly as a key never seen, so forgetting it changes nothing.
const PRUNE_ABOVE: usize = 4096;

impl RateLimiter {
    /// At most `rate` acquisitions per second per key. A rate that is not a positive finite
    /// number is treated as "no limit".
    pub fn per_second(rate: f64) -> Self {
        let interval = if rate.is_finite() && rate > 0.0 {
            Duration::try_from_secs_f64(1.0 / rate).unwrap_or(Duration::MAX)
        } else {
            Duration::ZERO
        };
        RateLimiter::every(interval)
    }

    /// One acquisition per `interval` per key.
    pub fn every(interval: Duration) -> Self {
        RateLimiter {
            interval,
            shared: None,
            next_slots: Mutex::new(HashMap::new()),
        }
    }

    /// Shares the limiter's slots under `name` through the context's
    /// [`RateStore`](crate::RateStore), when it has one: the store key of `key` is
    /// `name` (for `""`) or `name:key`. Every process whose limiter has the same name and
    /// whose context has the same store then shares one limit.
    ///
    /// ```
    /// use hubflow::{Clock, Context, ManualClock, MemoryStore, RateLimiter};
    /// use hubflow::http::RecordingClient;
    /// use std::time::Duration;
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
    /// let shared = MemoryStore::new();
    /// let ctx = Context::new(RecordingClient::new(), clock.clone(), MemoryStore::new())
    ///     .with_rates(shared);
    /// // Two limiters, as in two worker processes, with one name: one limit.
    /// let a = RateLimiter::per_second(10.0).shared("whatsapp:106540352242922");
    /// let b = RateLimiter::per_second(10.0).shared("whatsapp:106540352242922");
    /// a.acquire_in(&ctx, "").await;
    /// b.acquire_in(&ctx, "").await;
    /// assert_eq!(clock.sleeps(), vec![Duration::from_millis(100)]);
    /// # });
    /// ```
    #[must_use]
    pub fn shared(mut self, name: impl Into<String>) -> Self {
        self.shared = Some(name.into());
        self
    }

    /// The name the limiter's slots are shared under, if any.
    pub fn shared_name(&self) -> Option<&str> {
        self.shared.as_deref()
    }

    /// The spacing between two acquisitions for one key.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits, through the context's clock, until the caller may go for `key`. In a dry run
    /// ([`Context::is_dry_run`]) it returns at once and takes no slot: the dry run's
    /// requests go to fakes, and the slots belong to the real sends that come after it.
    ///
    /// A [shared](RateLimiter::shared) limiter takes its slot from the context's
    /// [`RateStore`](crate::RateStore) when there is one; when that store fails, it takes
    /// one of its own slots instead, so the limit still holds within this process.
    pub async fn acquire_in(&self, ctx: &Context, key: &str) {
        if ctx.is_dry_run() || self.interval.is_zero() {
            return;
        }
        let (Some(name), Some(rates)) = (&self.shared, ctx.rates()) else {
            self.acquire(ctx.clock(), key).await;
            return;
        };
        let store_key = if key.is_empty() {
            name.clone()
        } else {
            format!("{name}:{key}")
        };
        let now = ctx.clock().now();
        let wait = match rates.reserve_slot(&store_key, self.interval, now).await {
            // Measured from after the round trip, so a slow store does not add its own
            // delay to the wait and bunch the sends that follow.
            Ok(slot) => (slot - ctx.clock().now()).to_std().unwrap_or_default(),
            Err(_) => self.reserve(now, key),
        };
        if !wait.is_zero() {
            ctx.clock().sleep(wait).await;
        }
    }

    /// Waits until the caller may go for `key`.
    pub async fn acquire(&self, clock: &dyn Clock, key: &str) {
        let wait = self.reserve(clock.now(), key);
        if !wait.is_zero() {
            clock.sleep(wait).await;
        }
    }

    /// Takes the next slot for `key` and returns how long to wait for it.
    fn reserve(&self, now: DateTime<Utc>, key: &str) -> Duration {
        if self.interval.is_zero() {
            return Duration::ZERO;
        }
        // Each update writes whole values, so a panic elsewhere cannot leave the map
        // inconsistent; a poisoned lock still guards valid slots.
        let mut slots = self
            .next_slots
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if slots.len() > PRUNE_ABOVE {
            slots.retain(|_, slot| *slot > now);
        }
        let slot = slots
            .get(key)
            .copied()
            .filter(|slot| *slot > now)
            .unwrap_or(now);
        slots.insert(key.to_owned(), crate::clock::add(slot, self.interval));
        (slot - now).to_std().unwrap_or_default()
    }
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field("interval", &self.interval)
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
