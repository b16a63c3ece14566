//! Rate-limit slots shared by every process that uses the same store, so that several
//! workers together stay within one provider limit (a WhatsApp number's 80 messages a
//! second).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;

/// Rate-limit slots per key: the store behind a shared [`RateLimiter`](crate::RateLimiter).
///
/// # Rule
///
/// [`reserve_slot`](RateStore::reserve_slot)`(key, interval, now)` takes the key's next free
/// slot: the later of `now` and the slot the previous reservation left, and leaves the next
/// one `interval` after it (a GCRA without burst, as the in-process limiter). It answers the
/// instant reserved; the caller waits until then. Of any number of concurrent reservations
/// on one key, each gets its own slot, `interval` apart. Instants come from the caller.
///
/// A reservation whose caller then dies is lost capacity, never extra capacity: the safe
/// direction for a provider limit. Keys should be few (one per provider number or flow):
/// slots in the past are harmless but stay until the store prunes them.
///
/// # One statement
///
/// With a table `rate_slots(key PRIMARY KEY, next_slot)`:
///
/// ```sql
/// INSERT INTO rate_slots (key, next_slot) VALUES ($1, $2 + $3)
/// ON CONFLICT (key) DO UPDATE SET next_slot = GREATEST(rate_slots.next_slot, $2) + $3
/// RETURNING next_slot - $3
/// ```
///
/// (`$2` = `now`, `$3` = `interval`; SQLite writes `max(…)`.)
#[async_trait]
pub trait RateStore: Send + Sync {
    /// Reserves the next slot for `key` at `now`, `interval` after the previous one, and
    /// answers its instant (at or after `now`).
    async fn reserve_slot(
        &self,
        key: &str,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, StoreError>;
}

/// An interval as the whole microseconds a database store adds to an instant, capped at a
/// century so that `now + interval` stays within every database's instant range (and an
/// integer in SQLite, which turns an overflowing sum into a float): a limiter that slow
/// means "no request" anyway.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn interval_micros(interval: Duration) -> i64 {
    const CENTURY_MICROS: i64 = 100 * 366 * 24 * 3600 * 1_000_000;
    i64::try_from(interval.as_micros())
        .unwrap_or(i64::MAX)
        .min(CENTURY_MICROS)
}
