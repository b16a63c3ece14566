//! Unit tests of `rate`.

use super::*;
use crate::ManualClock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn spaces_requests_evenly_without_bursting_after_a_pause() {
    block_on(async {
        let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
        let limiter = RateLimiter::per_second(4.0);
        for _ in 0..5 {
            limiter.acquire(&clock, "").await;
        }
        assert_eq!(clock.sleeps(), vec![Duration::from_millis(250); 4]);
        assert_eq!(clock.now().to_rfc3339(), "2026-01-01T00:00:01+00:00");
        clock.advance(Duration::from_secs(10));
        limiter.acquire(&clock, "").await;
        limiter.acquire(&clock, "").await;
        assert_eq!(
            clock.sleeps().len(),
            5,
            "one wait after the pause, not a burst of none"
        );
    });
}

#[test]
fn keys_are_independent() {
    let limiter = RateLimiter::every(Duration::from_secs(6));
    let now = "2026-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(limiter.reserve(now, "a"), Duration::ZERO);
    assert_eq!(limiter.reserve(now, "b"), Duration::ZERO);
    assert_eq!(limiter.reserve(now, "a"), Duration::from_secs(6));
    assert_eq!(limiter.reserve(now, "a"), Duration::from_secs(12));
}

#[test]
fn unusable_rates_mean_no_limit() {
    let now = "2026-01-01T00:00:00Z".parse().unwrap();
    for rate in [0.0, -3.0, f64::NAN, f64::INFINITY] {
        let limiter = RateLimiter::per_second(rate);
        assert_eq!(limiter.reserve(now, ""), Duration::ZERO);
        assert_eq!(limiter.reserve(now, ""), Duration::ZERO, "{rate}");
    }
}

#[test]
fn old_keys_are_forgotten_without_changing_behaviour() {
    let limiter = RateLimiter::every(Duration::from_secs(1));
    let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    for i in 0..=PRUNE_ABOVE {
        limiter.reserve(start, &i.to_string());
    }
    let later = start + chrono::Duration::seconds(5);
    assert_eq!(limiter.reserve(later, "fresh"), Duration::ZERO);
    assert!(limiter.next_slots.lock().unwrap().map.len() <= 2);
    assert_eq!(limiter.reserve(later, "fresh"), Duration::from_secs(1));
}

#[test]
fn many_live_keys_are_scanned_only_when_the_map_has_doubled() {
    // Every key waits out its interval, so pruning can forget none of them; a map that is
    // scanned at every call past a fixed size costs each call the whole map.
    let limiter = RateLimiter::every(Duration::from_secs(6));
    let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    for i in 0..3 * PRUNE_ABOVE {
        assert_eq!(limiter.reserve(now, &i.to_string()), Duration::ZERO);
    }
    let slots = limiter.next_slots.lock().unwrap();
    assert_eq!(slots.map.len(), 3 * PRUNE_ABOVE);
    assert!(
        slots.prune_above >= 2 * (PRUNE_ABOVE + 1),
        "the mark stayed at {}: every call scans the map",
        slots.prune_above
    );
    drop(slots);
    // A key still waiting keeps its slot across the prunings.
    assert_eq!(limiter.reserve(now, "0"), Duration::from_secs(6));
}

/// A rate store that is down.
struct DownRates;

#[async_trait::async_trait]
impl crate::RateStore for DownRates {
    async fn reserve_slot(
        &self,
        _: &str,
        _: Duration,
        _: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, crate::StoreError> {
        Err(crate::StoreError::unavailable("connection refused"))
    }
}

fn ctx_at(clock: &ManualClock) -> Context {
    Context::new(
        crate::http::RecordingClient::new(),
        clock.clone(),
        crate::MemoryStore::new(),
    )
}

#[test]
fn a_shared_limiter_falls_back_to_its_own_slots_when_the_store_fails() {
    block_on(async {
        let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
        let ctx = ctx_at(&clock).with_rates(DownRates);
        let limiter = RateLimiter::per_second(2.0).shared("flow:f");
        for _ in 0..3 {
            limiter.acquire_in(&ctx, "").await;
        }
        assert_eq!(clock.sleeps(), vec![Duration::from_millis(500); 2]);
    });
}

#[test]
fn an_unshared_limiter_ignores_the_rate_store_and_a_shared_one_uses_its_keys() {
    block_on(async {
        let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
        let store = crate::MemoryStore::new();
        let ctx = ctx_at(&clock).with_rates(store.clone());
        RateLimiter::per_second(1.0).acquire_in(&ctx, "x").await;
        let shared = RateLimiter::per_second(1.0).shared("pair");
        shared.acquire_in(&ctx, "5511").await;
        let now = clock.now();
        let second = Duration::from_secs(1);
        let reserve = |key: &'static str| {
            let store = store.clone();
            async move {
                crate::RateStore::reserve_slot(&store, key, second, now)
                    .await
                    .unwrap()
            }
        };
        // Only the shared limiter's key was taken, as `name:key`.
        assert_eq!(reserve("x").await, now);
        assert_eq!(
            reserve("pair:5511").await,
            now + chrono::Duration::seconds(1)
        );
        assert_eq!(shared.shared_name(), Some("pair"));
    });
}

/// A rate store that counts its round trips and takes a few polls to answer, so that
/// callers pile up behind the one waiting for it.
struct SlowRates {
    inner: crate::MemoryStore,
    calls: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl crate::RateStore for SlowRates {
    async fn reserve_slot(
        &self,
        key: &str,
        interval: Duration,
        now: DateTime<Utc>,
    ) -> Result<DateTime<Utc>, crate::StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        for _ in 0..3 {
            tokio::task::yield_now().await;
        }
        self.inner.reserve_slot(key, interval, now).await
    }
}

#[test]
fn concurrent_callers_take_consecutive_slots_in_one_round_trip() {
    block_on(async {
        let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
        let rates = Arc::new(SlowRates {
            inner: crate::MemoryStore::new(),
            calls: AtomicUsize::new(0),
        });
        let ctx = ctx_at(&clock);
        let limiter = RateLimiter::every(Duration::from_millis(10)).shared("whatsapp:1");
        let t0 = clock.now();
        let slots = futures_util::future::join_all(
            (0..16).map(|_| limiter.shared_slot(&ctx, rates.as_ref(), "whatsapp:1")),
        )
        .await;
        let mut slots: Vec<DateTime<Utc>> = slots.into_iter().map(Result::unwrap).collect();
        slots.sort();
        let expected: Vec<DateTime<Utc>> = (0..16)
            .map(|i| t0 + chrono::Duration::milliseconds(10 * i))
            .collect();
        assert_eq!(
            slots, expected,
            "every caller has its own slot, 10 ms apart"
        );
        // The first caller found nobody queued; the second reserved for all 15 left.
        assert_eq!(rates.calls.load(Ordering::SeqCst), 2);
        // Another process's next slot comes after the whole block.
        let next = crate::RateStore::reserve_slot(
            &rates.inner,
            "whatsapp:1",
            Duration::from_millis(10),
            t0,
        )
        .await
        .unwrap();
        assert_eq!(next, t0 + chrono::Duration::milliseconds(160));
    });
}

#[test]
fn slots_left_over_from_a_quiet_spell_are_not_used_late() {
    block_on(async {
        let clock = ManualClock::new("2026-01-01T00:00:00Z".parse().unwrap());
        let rates = Arc::new(SlowRates {
            inner: crate::MemoryStore::new(),
            calls: AtomicUsize::new(0),
        });
        let ctx = ctx_at(&clock);
        let limiter = RateLimiter::every(Duration::from_millis(10)).shared("k");
        let t0 = clock.now();
        // Four callers at once: a block of one, then a block of three.
        let first = futures_util::future::join_all(
            (0..4).map(|_| limiter.shared_slot(&ctx, rates.as_ref(), "k")),
        )
        .await;
        assert!(first.iter().all(Result::is_ok));
        assert_eq!(rates.calls.load(Ordering::SeqCst), 2);
        let mut block = limiter
            .shared_key("k")
            .block
            .try_lock()
            .map(|b| *b)
            .unwrap();
        assert_eq!(block.left, 0, "all four slots were handed out");
        // Leave two slots unused, as callers cancelled before taking them would.
        block = Block {
            next: t0 + chrono::Duration::milliseconds(40),
            left: 2,
        };
        *limiter.shared_key("k").block.try_lock().unwrap() = block;
        // At 55 ms the 40 ms slot has passed by more than an interval (skipped); the 50 ms
        // one is still within its interval (used).
        clock.advance(Duration::from_millis(55));
        let late = limiter
            .shared_slot(&ctx, rates.as_ref(), "k")
            .await
            .unwrap();
        assert_eq!(late, t0 + chrono::Duration::milliseconds(50));
        clock.advance(Duration::from_millis(100));
        // Nothing left: a new round trip, at now.
        let fresh = limiter
            .shared_slot(&ctx, rates.as_ref(), "k")
            .await
            .unwrap();
        assert_eq!(rates.calls.load(Ordering::SeqCst), 3);
        assert_eq!(fresh, clock.now());
    });
}
