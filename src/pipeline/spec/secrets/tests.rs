//! Unit tests of `secrets`.

use super::*;
use crate::spec::deserialize_at;
use serde_json::json;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[allow(dead_code)]
    token: SecretRef,
    #[serde(default)]
    #[allow(dead_code)]
    optional: Option<SecretRef>,
    #[serde(default)]
    #[allow(dead_code)]
    header: Option<SecretValue>,
}

const LEAK: &str = "EAAG-LEAK-4242";

/// The error for `config`, checked not to show `LEAK` in any form.
fn refused(config: serde_json::Value) -> crate::SpecError {
    let error = deserialize_at::<Config>(&config).unwrap_err();
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        serde_json::to_string(&error).unwrap(),
    ] {
        assert!(!shown.contains(LEAK) && !shown.contains("4242"), "{shown}");
    }
    error
}

#[test]
fn a_written_secret_is_refused_at_its_field_without_being_quoted() {
    for value in [
        json!(LEAK),
        json!(4242),
        json!(-4242),
        json!(42.42),
        json!(true),
        json!([LEAK]),
    ] {
        let error = refused(json!({"token": value.clone()}));
        assert_eq!(error.path, "/token", "{value}");
        assert_eq!(error.message, WRITTEN_SECRET, "{value}");
        let error = refused(json!({"token": {"secret": "T"}, "optional": value.clone()}));
        assert_eq!(error.path, "/optional", "{value}");
        assert_eq!(error.message, WRITTEN_SECRET, "{value}");
    }
    let error = refused(json!({"token": null}));
    assert_eq!(error.path, "/token");
}

#[test]
fn a_reference_is_exactly_one_named_secret() {
    for (value, path, message) in [
        (
            json!({"secret": 4242}),
            "/token/secret",
            "the secret's name must be text",
        ),
        (
            json!({"secret": [LEAK]}),
            "/token/secret",
            "the secret's name must be text",
        ),
        (
            json!({"secret": {"value": LEAK}}),
            "/token/secret",
            "the secret's name must be text",
        ),
        (
            json!({"secret": " "}),
            "/token/secret",
            "the secret's name is empty",
        ),
        (
            json!({"secret": "T", "value": LEAK}),
            "/token/value",
            "unknown field `value`",
        ),
        (json!({}), "/token", "missing field `secret`"),
    ] {
        let error = refused(json!({"token": value.clone()}));
        assert_eq!(error.path, path, "{value}");
        assert!(error.message.starts_with(message), "{value}: {error}");
    }
    let config: Config = deserialize_at(&json!({"token": {"secret": "WA"}})).unwrap();
    assert_eq!(config.token.secret, "WA");
    assert!(config.optional.is_none());
    let config: Config =
        deserialize_at(&json!({"token": {"secret": "WA"}, "optional": null})).unwrap();
    assert!(config.optional.is_none());
}

#[test]
fn a_value_is_plain_text_or_a_reference_and_never_quoted_otherwise() {
    let value: SecretValue = serde_json::from_value(json!("hubflow")).unwrap();
    assert_eq!(value, SecretValue::Plain("hubflow".into()));
    let value: SecretValue = serde_json::from_value(json!({"secret": "OPS"})).unwrap();
    assert_eq!(
        value,
        SecretValue::Secret(SecretRef {
            secret: "OPS".into()
        })
    );
    for value in [
        json!([LEAK]),
        json!(4242),
        json!({"value": LEAK}),
        json!({"secret": 4242}),
    ] {
        let error = refused(json!({"token": {"secret": "T"}, "header": value.clone()}));
        assert!(error.path.starts_with("/header"), "{value}: {error}");
    }
    // Both still serialize to the forms they are read from.
    assert_eq!(
        serde_json::to_value(SecretValue::Plain("x".into())).unwrap(),
        json!("x")
    );
    assert_eq!(
        serde_json::to_value(SecretValue::Secret(SecretRef { secret: "N".into() })).unwrap(),
        json!({"secret": "N"})
    );
}

#[cfg(any(feature = "timelines", feature = "fracttal"))]
#[test]
fn constant_time_eq_is_byte_equality_of_the_whole_token() {
    assert!(constant_time_eq(b"", b""));
    assert!(constant_time_eq(b"secret", b"secret"));
    assert!(!constant_time_eq(b"secreT", b"secret"));
    assert!(!constant_time_eq(b"secret\0", b"secret"));
    assert!(!constant_time_eq(b"secre", b"secret"));
    assert!(!constant_time_eq(b"", b"secret"));
    assert!(!constant_time_eq(b"secret", b""));
    // A prefix padded with the zeros the comparison pads with is still not equal.
    assert!(!constant_time_eq(b"ab", b"ab\0\0"));
}
