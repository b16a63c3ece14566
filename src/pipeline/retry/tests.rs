//! Unit tests of `retry`.

use super::*;
use crate::http::HttpError;

fn retryable(after: Option<Duration>) -> ErrorClass {
    ErrorClass::Retryable { after }
}

#[test]
fn permanent_errors_are_never_retried() {
    let p = RetryPolicy::default();
    for attempt in 1..5 {
        assert_eq!(
            p.decide_class(attempt, ErrorClass::Permanent, 0.3),
            RetryDecision::GiveUp
        );
    }
}

#[test]
fn backoff_grows_exponentially_up_to_the_cap() {
    let p = RetryPolicy::default()
        .max_attempts(50)
        .backoff(Duration::from_millis(100), Duration::from_secs(2));
    let ceilings: Vec<_> = (1..=7).map(|a| p.backoff_ceiling(a).as_millis()).collect();
    assert_eq!(ceilings, vec![100, 200, 400, 800, 1600, 2000, 2000]);
    assert_eq!(p.backoff_ceiling(40), Duration::from_secs(2));
    // Full jitter: anywhere from zero to the ceiling.
    assert_eq!(
        p.decide_class(3, retryable(None), 0.0),
        RetryDecision::Retry {
            after: Duration::ZERO
        }
    );
    assert_eq!(
        p.decide_class(3, retryable(None), 0.5),
        RetryDecision::Retry {
            after: Duration::from_millis(200)
        }
    );
}

#[test]
fn retry_after_is_honoured_and_bounded() {
    let p = RetryPolicy::default();
    let after = Some(Duration::from_secs(30));
    assert_eq!(
        p.decide_class(1, retryable(after), 0.9),
        RetryDecision::Retry {
            after: Duration::from_secs(30)
        }
    );
    let too_long = Some(Duration::from_secs(3600));
    assert_eq!(
        p.decide_class(1, retryable(too_long), 0.9),
        RetryDecision::GiveUp
    );
}

#[test]
fn attempts_are_bounded() {
    let p = RetryPolicy::default().max_attempts(3);
    assert!(matches!(
        p.decide_class(2, retryable(None), 0.1),
        RetryDecision::Retry { .. }
    ));
    assert_eq!(
        p.decide_class(3, retryable(None), 0.1),
        RetryDecision::GiveUp
    );
    let once = RetryPolicy::default().max_attempts(1);
    assert_eq!(
        once.decide(1, &DeliveryError::Transport(HttpError::Timeout), 0.1),
        RetryDecision::GiveUp
    );
}

#[test]
fn a_401_is_permanent_for_the_flow() {
    // The clients refresh and resend once themselves; what reaches the flow is final.
    let p = RetryPolicy::default();
    let class = ErrorClass::from_status(401, Some(Duration::from_secs(5)));
    assert_eq!(class, ErrorClass::Permanent);
    assert_eq!(p.decide_class(1, class, 0.7), RetryDecision::GiveUp);
}

#[test]
fn jitter_is_reproducible_spread_and_in_range() {
    assert_eq!(jitter("k", 1), jitter("k", 1));
    assert_ne!(jitter("k", 1), jitter("k", 2));
    let values: Vec<f64> = (0..1000).map(|i| jitter(&format!("key-{i}"), 1)).collect();
    assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    assert!((0.45..0.55).contains(&mean), "mean {mean}");
}
