//! Rate limiting through the host's clock.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::lock::Mutex as AsyncMutex;

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
/// Callers of one process that wait for a shared key at the same time take their slots in
/// one round trip: the first reserves a block of consecutive slots, one for itself and one
/// for each caller queued behind it (at most 64 at once), so a busy worker asks
/// the store once per burst, not once per message, and the slots are exactly those
/// one-by-one reservations would have given.
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
    next_slots: Mutex<Keyed<u64, DateTime<Utc>>>,
    /// Hashes the keys of `next_slots` (seeded per limiter, so that keys chosen to collide
    /// cannot be made from outside).
    hasher: std::collections::hash_map::RandomState,
    /// Per shared store key, the slots this process reserved and has not handed out yet.
    blocks: Mutex<Keyed<String, Arc<SharedKey>>>,
}

/// The most slots one round trip to the rate store reserves for the callers of one
/// process: enough to serve a worker's job slots in one go, few enough that a block
/// abandoned by cancelled callers costs the other processes little.
const MAX_BLOCK: u32 = 64;

/// One shared store key as this process sees it.
#[derive(Default)]
struct SharedKey {
    /// Callers waiting for [`SharedKey::block`], counted so that the caller holding it
    /// reserves a slot for each of them.
    queued: AtomicUsize,
    /// The reserved slots not yet handed out. Held across the store's round trip, which is
    /// what queues the callers behind the one reserving.
    block: AsyncMutex<Block>,
}

/// `left` consecutive slots `interval` apart, starting at `next` (none when `left` is 0).
#[derive(Debug, Default, Clone, Copy)]
struct Block {
    next: DateTime<Utc>,
    left: u32,
}

/// Past this many keys, slots already in the past are dropped: a key whose slot has passed
/// behaves exactly as a key never seen, so forgetting it changes nothing.
const PRUNE_ABOVE: usize = 4096;

/// A map of keys to their state that forgets the idle ones once it grows past a mark.
///
/// The mark moves to twice what a pruning kept, so that a map of many live keys (a bulk
/// run to a hundred thousand recipients, each waiting out its own interval) is scanned
/// only when it has doubled: amortized constant work per call, where scanning at every
/// call past a fixed size made each send cost the whole map.
struct Keyed<K, V> {
    map: HashMap<K, V>,
    prune_above: usize,
}

impl<K, V> Keyed<K, V> {
    fn new() -> Self {
        Keyed {
            map: HashMap::new(),
            prune_above: PRUNE_ABOVE,
        }
    }

    /// Drops the entries `keep` refuses, when the map has grown past its mark.
    fn prune(&mut self, mut keep: impl FnMut(&V) -> bool) {
        if self.map.len() <= self.prune_above {
            return;
        }
        self.map.retain(|_, value| keep(value));
        self.prune_above = PRUNE_ABOVE.max(self.map.len().saturating_mul(2));
    }
}

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
            next_slots: Mutex::new(Keyed::new()),
            hasher: std::collections::hash_map::RandomState::new(),
            blocks: Mutex::new(Keyed::new()),
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
        let wait = match self.shared_slot(ctx, rates, &store_key).await {
            // Measured from after the round trip, so a slow store does not add its own
            // delay to the wait and bunch the sends that follow.
            Ok(slot) => (slot - ctx.clock().now()).to_std().unwrap_or_default(),
            Err(_) => self.reserve(ctx.clock().now(), key),
        };
        if !wait.is_zero() {
            ctx.clock().sleep(wait).await;
        }
    }

    /// The caller's slot for `store_key`: the next one of the block this process holds,
    /// or the first of a new block reserved from `rates` for the caller and every caller
    /// queued behind it.
    async fn shared_slot(
        &self,
        ctx: &Context,
        rates: &dyn crate::RateStore,
        store_key: &str,
    ) -> Result<DateTime<Utc>, crate::StoreError> {
        let shared = self.shared_key(store_key);
        shared.queued.fetch_add(1, Ordering::SeqCst);
        let mut block = shared.block.lock().await;
        shared.queued.fetch_sub(1, Ordering::SeqCst);
        let now = ctx.clock().now();
        // Slots left over from a quiet spell that have passed by a whole interval are
        // skipped: sending on them now would bunch this send with the ones after it.
        let interval = chrono::Duration::from_std(self.interval).unwrap_or(chrono::Duration::MAX);
        while block.left > 0 {
            let next = block.next;
            block.next = crate::clock::add(next, self.interval);
            block.left -= 1;
            if next
                .checked_add_signed(interval)
                .is_none_or(|end| end > now)
            {
                return Ok(next);
            }
        }
        let queued = u32::try_from(shared.queued.load(Ordering::SeqCst)).unwrap_or(u32::MAX);
        let count = queued.saturating_add(1).min(MAX_BLOCK);
        // One slot of `count` intervals is a block of `count` consecutive slots: the store
        // puts the next caller, of any process, after the whole of it.
        let span = self.interval.saturating_mul(count);
        let first = rates.reserve_slot(store_key, span, now).await?;
        *block = Block {
            next: crate::clock::add(first, self.interval),
            left: count - 1,
        };
        Ok(first)
    }

    /// The process-wide state of `store_key`, created on first use.
    fn shared_key(&self, store_key: &str) -> Arc<SharedKey> {
        // Entries are replaced whole, so a poisoned lock still guards a valid map.
        let mut blocks = self.blocks.lock().unwrap_or_else(PoisonError::into_inner);
        // Only this map holds an idle key: forgetting it loses at most slots that nobody is
        // waiting for.
        blocks.prune(|shared| Arc::strong_count(shared) > 1);
        blocks.map.entry(store_key.to_owned()).or_default().clone()
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
        slots.prune(|slot| *slot > now);
        // Keys are kept as 64-bit hashes, not strings: a bulk run to many recipients keeps
        // every recipient of the last interval (6 s of them for WhatsApp's pacing), and
        // an entry is then 20 bytes with no allocation of its own. Two keys of one hash
        // would share a slot, making one wait for the other: at 2^-64 per pair, never
        // seen in practice, and never a message sent early.
        let hashed = std::hash::BuildHasher::hash_one(&self.hasher, key);
        let entry = slots.map.entry(hashed).or_insert(now);
        let slot = (*entry).max(now);
        *entry = crate::clock::add(slot, self.interval);
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
