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
