//! Unit tests of `policy`.

use super::*;

#[test]
fn json_form_is_flat_and_strict() {
    let p: DeliveryPolicy =
        serde_json::from_str(r#"{"max_attempts": 2, "base_delay_ms": 10, "on_unknown": "resend"}"#)
            .unwrap();
    assert_eq!(p.retry.max_attempts, 2);
    assert_eq!(p.retry.base_delay, Duration::from_millis(10));
    assert_eq!(p.on_unknown, OnUnknown::Resend);
    assert_eq!(p.max_in_flight, DeliveryPolicy::default().max_in_flight);
    let err = serde_json::from_str::<DeliveryPolicy>(r#"{"max_atempts": 2}"#).unwrap_err();
    assert!(err.to_string().contains("max_atempts"), "{err}");
    let back: DeliveryPolicy = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
    assert_eq!(back, p);
}

#[test]
fn problems_are_found() {
    let bad = DeliveryPolicy::default()
        .max_in_flight(0)
        .rate_per_second(-1.0);
    let fields: Vec<_> = bad.problems().into_iter().map(|(f, _)| f).collect();
    assert_eq!(fields, vec!["max_in_flight", "rate_per_second"]);
    assert!(DeliveryPolicy::default().problems().is_empty());
}
