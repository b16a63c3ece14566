//! Unit tests of the target module: error classes and their serialized forms.

use std::time::Duration;

use super::*;
use crate::http::{HttpError, HttpResponse};

#[test]
fn status_classes() {
    let after = Some(Duration::from_secs(3));
    assert_eq!(
        ErrorClass::from_status(429, after),
        ErrorClass::Retryable { after }
    );
    assert_eq!(
        ErrorClass::from_status(503, None),
        ErrorClass::Retryable { after: None }
    );
    for status in [401, 400, 403, 404, 409, 422, 301] {
        assert_eq!(
            ErrorClass::from_status(status, after),
            ErrorClass::Permanent,
            "{status}"
        );
    }
}

#[test]
fn delivery_error_classes() {
    assert!(DeliveryError::Transport(HttpError::Timeout)
        .class()
        .is_retryable());
    assert!(
        !DeliveryError::Prepare(TargetError::InvalidPayload("x".into()))
            .class()
            .is_retryable()
    );
    let unknown = DeliveryError::Unknown {
        since: chrono::Utc::now(),
    };
    assert_eq!(unknown.class(), ErrorClass::Permanent);
}

#[test]
fn provider_error_display_names_status_and_code() {
    let response = HttpResponse::new(400, "{\"error\":\"bad\"}");
    let mut e = ProviderError::from_response("http", &response, chrono::Utc::now());
    e.code = Some("E42".into());
    assert_eq!(
        e.to_string(),
        "http answered HTTP 400 (code E42): {\"error\":\"bad\"}"
    );
    assert_eq!(e.class, ErrorClass::Permanent);
}

#[test]
fn error_class_serializes_retry_after_in_ms() {
    let class = ErrorClass::Retryable {
        after: Some(Duration::from_millis(1500)),
    };
    let json = serde_json::to_value(class).unwrap();
    assert_eq!(json, serde_json::json!({"retryable": {"after": 1500}}));
    assert_eq!(serde_json::from_value::<ErrorClass>(json).unwrap(), class);
}
