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
            next_slots: Mutex::new(HashMap::new()),
        }
    }

    /// The spacing between two acquisitions for one key.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits, through the context's clock, until the caller may go for `key`. In a dry run
    /// ([`Context::is_dry_run`]) it returns at once and takes no slot: the dry run's
    /// requests go to fakes, and the slots belong to the real sends that come after it.
    pub async fn acquire_in(&self, ctx: &Context, key: &str) {
        if !ctx.is_dry_run() {
            self.acquire(ctx.clock(), key).await;
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
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;
