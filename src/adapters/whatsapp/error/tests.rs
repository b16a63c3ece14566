//! Unit tests of `error`.

use super::*;
use proptest::strategy::Strategy;
use serde_json::json;

fn graph(code: i64) -> GraphError {
    GraphError {
        message: format!("(#{code}) test"),
        error_type: "OAuthException".into(),
        code,
        error_subcode: None,
        details: None,
        fbtrace_id: None,
        is_transient: None,
        error_user_title: None,
        error_user_msg: None,
    }
}

const RETRYABLE: &str = "retryable";
const PERMANENT: &str = "permanent";

/// Every code of the reference table with its class.
const TABLE: &[(i64, &str)] = &[
    (130429, RETRYABLE),
    (4, RETRYABLE),
    (80007, RETRYABLE),
    (1, RETRYABLE),
    (2, RETRYABLE),
    (131000, RETRYABLE),
    (131016, RETRYABLE),
    (190, PERMANENT),
    (0, PERMANENT),
    (131047, PERMANENT),
    (131048, PERMANENT),
    (131049, PERMANENT),
    (131064, PERMANENT),
    (131026, PERMANENT),
    (131030, PERMANENT),
    (131050, PERMANENT),
    (130472, PERMANENT),
    (131051, PERMANENT),
    (131052, PERMANENT),
    (131053, PERMANENT),
    (100, PERMANENT),
    (33, PERMANENT),
    (131008, PERMANENT),
    (131009, PERMANENT),
    (132000, PERMANENT),
    (132001, PERMANENT),
    (132005, PERMANENT),
    (132007, PERMANENT),
    (132008, PERMANENT),
    (132012, PERMANENT),
    (132015, PERMANENT),
    (132016, PERMANENT),
    (131042, PERMANENT),
    (131031, PERMANENT),
    (368, PERMANENT),
    (130497, PERMANENT),
    (3, PERMANENT),
    (10, PERMANENT),
    (200, PERMANENT),
    (250, PERMANENT),
    (299, PERMANENT),
    (131062, PERMANENT),
    (137000, PERMANENT),
];

#[test]
fn every_code_of_the_reference_table_has_its_class() {
    let after = Some(Duration::from_secs(30));
    for &(code, expected) in TABLE {
        // The code decides: neither a 5xx status nor is_transient may turn a permanent
        // code retryable, and a 4xx may not turn a retryable code permanent.
        for (status, transient) in [(400, None), (503, Some(true)), (429, Some(false))] {
            let mut error = graph(code);
            error.is_transient = transient;
            let class = error.class(status, after);
            let expected_class = match expected {
                RETRYABLE => ErrorClass::Retryable { after },
                _ => ErrorClass::Permanent,
            };
            assert_eq!(
                class, expected_class,
                "code {code}, HTTP {status}, is_transient {transient:?}"
            );
        }
    }
}

#[test]
fn pair_rate_limit_waits_at_least_six_seconds() {
    let error = graph(131056);
    let six = Some(Duration::from_secs(6));
    assert_eq!(error.class(400, None), ErrorClass::Retryable { after: six });
    assert_eq!(
        error.class(429, Some(Duration::from_secs(2))),
        ErrorClass::Retryable { after: six }
    );
    let longer = Some(Duration::from_secs(20));
    assert_eq!(
        error.class(429, longer),
        ErrorClass::Retryable { after: longer }
    );
}

#[test]
fn unknown_codes_follow_is_transient_and_5xx() {
    let after = Some(Duration::from_secs(5));
    let mut error = graph(999_999);
    assert_eq!(error.class(400, after), ErrorClass::Permanent);
    assert_eq!(error.class(404, None), ErrorClass::Permanent);
    assert_eq!(error.class(500, after), ErrorClass::Retryable { after });
    assert_eq!(
        error.class(503, None),
        ErrorClass::Retryable { after: None }
    );
    error.is_transient = Some(true);
    assert_eq!(error.class(400, after), ErrorClass::Retryable { after });
    error.is_transient = Some(false);
    assert_eq!(error.class(400, after), ErrorClass::Permanent);
}

#[test]
fn parses_the_reference_examples() {
    // Reference §1.5: the spec's example, served with HTTP 429.
    let body = br#"{"error":{"message":"Application request limit reached","type":"OAuthException","code":4,"error_subcode":2446079,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam","is_transient":true}}"#;
    let error = GraphError::from_body(body).unwrap();
    assert_eq!(error.code, 4);
    assert_eq!(error.error_subcode, Some(2446079));
    assert_eq!(error.is_transient, Some(true));
    assert_eq!(error.error_type, "OAuthException");
    assert_eq!(error.fbtrace_id.as_deref(), Some("Az8or2yhqkZfEZ-_4Qn_Bam"));
    assert_eq!(error.details, None);
    assert!(error.class(429, None).is_retryable());

    // Expired token: code 190, subcode 463.
    let body = br#"{"error":{"message":"Error validating access token: Session has expired on Friday, 02-Feb-24 08:00:00 PST.","type":"OAuthException","code":190,"error_subcode":463,"fbtrace_id":"AJ9OQVXbcjmmDdC9-N1o1bJ"}}"#;
    let error = GraphError::from_body(body).unwrap();
    assert_eq!((error.code, error.error_subcode), (190, Some(463)));
    assert_eq!(error.class(401, None), ErrorClass::Permanent);

    // The documented general shape, with error_data.details.
    let body = json!({"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException",
        "code": 131047, "error_data": {"messaging_product": "whatsapp",
        "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
        "error_subcode": 2494010, "fbtrace_id": "A1b2"}});
    let error = GraphError::from_body(body.to_string().as_bytes()).unwrap();
    assert!(error.is_outside_window());
    assert!(error
        .details
        .as_deref()
        .unwrap()
        .starts_with("Message failed to send"));
    assert_eq!(error.error_subcode, Some(2494010));
}

#[test]
fn tolerates_missing_fields_and_rejects_non_graph_bodies() {
    let error = GraphError::from_body(br#"{"error":{"code":131026}}"#).unwrap();
    assert_eq!(error.message, "");
    assert_eq!(error.error_type, "");
    assert_eq!(error.fbtrace_id, None);
    // error_data as a string (other Graph APIs) is not an object with details.
    let error =
        GraphError::from_body(br#"{"error":{"code":100,"error_data":"x","error_subcode":"33"}}"#)
            .unwrap();
    assert_eq!((error.details, error.error_subcode), (None, Some(33)));
    for body in [
        &b""[..],
        b"not json",
        b"<html>502</html>",
        b"{}",
        b"[]",
        br#"{"error":"bad"}"#,
        br#"{"error":{"message":"no code"}}"#,
        br#"{"error":{"code":"abc"}}"#,
        br#"{"error":{"code":1.5}}"#,
    ] {
        assert!(
            GraphError::from_body(body).is_none(),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn serde_keeps_metas_shape() {
    let body = json!({"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
        "error_subcode": 2494102, "error_data": {"messaging_product": "whatsapp", "details": "Parameter text is empty"},
        "fbtrace_id": "T1", "is_transient": false, "error_user_title": "Title", "error_user_msg": "Msg"});
    let error: GraphError = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(error.details.as_deref(), Some("Parameter text is empty"));
    assert_eq!(serde_json::to_value(&error).unwrap(), body);
    let enveloped: GraphError = serde_json::from_value(json!({"error": body})).unwrap();
    assert_eq!(enveloped, error);
    assert!(serde_json::from_value::<GraphError>(json!({"message": "x"})).is_err());
}

#[test]
fn provider_error_carries_code_subcode_and_trace() {
    let body = json!({"error": {"message": "(#132001) Template name does not exist in the translation",
        "type": "OAuthException", "code": 132001, "error_subcode": 2494073,
        "error_data": {"messaging_product": "whatsapp", "details": "template name (wo_assignment) does not exist in pt_BR"},
        "fbtrace_id": "AbC123", "error_user_title": "Template missing"}});
    let error = GraphError::from_body(body.to_string().as_bytes())
        .unwrap()
        .into_provider_error(404, None);
    assert_eq!(error.provider, "whatsapp");
    assert_eq!(error.status, 404);
    assert_eq!(error.code.as_deref(), Some("132001"));
    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(
        error.message,
        "(#132001) Template name does not exist in the translation: template name (wo_assignment) does not exist in pt_BR"
    );
    assert_eq!(
        error.details,
        json!({"subcode": 2494073, "fbtrace_id": "AbC123", "type": "OAuthException",
               "details": "template name (wo_assignment) does not exist in pt_BR",
               "error_user_title": "Template missing"})
    );
}

#[test]
fn provider_error_never_carries_a_token() {
    let token = "EAAGm0PX4ZCpsBAKZBs7ZCZAjT8ZAbcdefghijklmnopqrstuvwxyz0123456789";
    let body = json!({"error": {"message": format!("Malformed access token {token}"),
        "type": "OAuthException", "code": 190,
        "error_data": {"details": format!("token {token} is invalid")},
        "error_user_msg": format!("({token})")}});
    let response = HttpResponse::new(401, body.to_string()).header("x-fb-trace-id", "TR4CE");
    let error = provider_error(&response, Utc::now());
    let shown = format!(
        "{error} {error:?} {}",
        serde_json::to_string(&error).unwrap()
    );
    assert!(!shown.contains("EAAGm0"), "{shown}");
    assert!(shown.contains(REDACTED));
    assert_eq!(error.class, ErrorClass::Permanent);
    assert_eq!(error.details["x_fb_trace_id"], "TR4CE");

    let response = HttpResponse::new(502, format!("upstream said {token}"));
    let error = provider_error(&response, Utc::now());
    assert!(!error.message.contains("EAAGm0"));
    // Ordinary words that merely start with EAA are kept.
    assert_eq!(redact_tokens("EAAX short (#1)"), "EAAX short (#1)");
}

#[test]
fn provider_error_uses_retry_after_and_falls_back_to_status() {
    let now: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
    let body = json!({"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429}});
    let response = HttpResponse::new(429, body.to_string()).header("Retry-After", "12");
    let error = provider_error(&response, now);
    assert_eq!(
        error.class,
        ErrorClass::Retryable {
            after: Some(Duration::from_secs(12))
        }
    );
    assert_eq!(error.code.as_deref(), Some("130429"));

    let response = HttpResponse::new(503, "Service Unavailable").header("Retry-After", "7");
    let error = provider_error(&response, now);
    assert_eq!(error.code, None);
    assert_eq!(error.provider, "whatsapp");
    assert_eq!(error.message, "Service Unavailable");
    assert_eq!(
        error.class,
        ErrorClass::Retryable {
            after: Some(Duration::from_secs(7))
        }
    );
    let error = provider_error(&HttpResponse::new(401, ""), now);
    assert_eq!(error.class, ErrorClass::Permanent);
    let error = provider_error(&HttpResponse::new(400, "oops"), now);
    assert_eq!(error.class, ErrorClass::Permanent);
}

proptest::proptest! {
    /// Arbitrary bytes never panic.
    #[test]
    fn from_body_never_panics_on_bytes(body in proptest::collection::vec(proptest::num::u8::ANY, 0..256)) {
        let _ = GraphError::from_body(&body);
    }

    /// Nearly-Graph JSON never panics, and whatever parses classifies and converts.
    #[test]
    fn from_body_never_panics_on_error_like_json(
        code in proptest::prop_oneof![
            proptest::num::i64::ANY.prop_map(Value::from),
            proptest::num::f64::ANY.prop_map(Value::from),
            "[0-9a-z]{0,8}".prop_map(Value::from),
            proptest::strategy::Just(Value::Null),
        ],
        subcode in proptest::num::i64::ANY,
        message in "[ -~]{0,40}",
        transient in proptest::option::of(proptest::bool::ANY),
        status in 100u16..600,
    ) {
        let body = json!({"error": {"code": code, "error_subcode": subcode, "message": message,
            "is_transient": transient, "error_data": {"details": message}}});
        if let Some(error) = GraphError::from_body(body.to_string().as_bytes()) {
            let class = error.class(status, None);
            let provider = error.into_provider_error(status, None);
            proptest::prop_assert_eq!(provider.class, class);
            proptest::prop_assert!(!provider.message.is_empty());
        }
    }
}
