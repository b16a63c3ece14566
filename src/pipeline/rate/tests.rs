//! Unit tests of `rate`.

use super::*;
use crate::ManualClock;

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
    assert!(limiter.next_slots.lock().unwrap().len() <= 2);
    assert_eq!(limiter.reserve(later, "fresh"), Duration::from_secs(1));
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
