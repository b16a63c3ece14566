//! Unit tests of `send`.

use super::*;

fn body(payload: Value) -> Result<Value, TargetError> {
    Outgoing::from_payload(&payload).map(|m| Value::Object(m.body))
}

#[test]
fn phone_form_normalises_the_number_and_keeps_optional_fields() {
    assert_eq!(
        body(
            json!({"phone": "+55 (11) 99999-1234", "text": "hi", "label": "",
                    "whatsapp_account_phone": "5511888887777", "chat_name": "Ana"})
        )
        .unwrap(),
        json!({"phone": "+5511999991234", "text": "hi",
               "whatsapp_account_phone": "+5511888887777", "chat_name": "Ana"})
    );
    assert_eq!(
        body(json!({"phone": 5511999991234_u64, "text": "x"})).unwrap()["phone"],
        "+5511999991234"
    );
}

#[test]
fn chat_form_takes_integer_or_digit_ids() {
    for id in [json!(123456), json!("123456")] {
        let m = Outgoing::from_payload(&json!({"chat_id": id, "text": "x", "reply_to": "u-1"}))
            .unwrap();
        assert_eq!(m.chat_id, Some(123456));
        assert_eq!(
            Value::Object(m.body),
            json!({"text": "x", "reply_to": "u-1"})
        );
    }
}

#[test]
fn bad_payloads_name_the_field() {
    let cases = [
        (json!({"text": "x"}), "phone"),
        (json!({"phone": "+5511999991234"}), "text"),
        (
            json!({"phone": "+5511999991234", "chat_id": 1, "text": "x"}),
            "chat_id",
        ),
        (json!({"chat_id": "12a", "text": "x"}), "chat_id"),
        (json!({"chat_id": 0, "text": "x"}), "chat_id"),
        (json!({"phone": "call me", "text": "x"}), "phone"),
        (json!({"phone": "123", "text": "x"}), "phone"),
        (json!({"phone": "+5511999991234", "text": ["x"]}), "text"),
        (json!({"phone": 5.511999991234e12, "text": "x"}), "phone"),
        (
            json!({"phone": "+5511999991234", "text": "x", "attachment_url": "ftp://x/y"}),
            "attachment_url",
        ),
        (
            json!({"phone": "+5511999991234", "text": "x", "attachment_filename": "a.pdf"}),
            "attachment_filename",
        ),
        (
            json!({"chat_id": 1, "text": "x", "chat_name": "n"}),
            "chat_name",
        ),
        (
            json!({"phone": "+5511999991234", "text": "x", "reply_to": "u"}),
            "reply_to",
        ),
        (
            json!({"phone": "+5511999991234", "text": "x", "template": "t"}),
            "template",
        ),
    ];
    for (payload, field) in cases {
        match Outgoing::from_payload(&payload) {
            Err(TargetError::InvalidField { field: f, .. }) => {
                assert_eq!(f, field, "{payload}")
            }
            other => panic!(
                "{payload}: expected an error on {field}, got {:?}",
                other.map(|m| m.body)
            ),
        }
    }
    assert!(matches!(
        Outgoing::from_payload(&json!("hi")),
        Err(TargetError::InvalidPayload(_))
    ));
}

#[test]
fn an_attachment_alone_is_a_message() {
    assert_eq!(
        body(json!({"chat_id": 7, "attachment_url": "https://files.example.com/r.pdf", "attachment_filename": "report.pdf"})).unwrap(),
        json!({"attachment_url": "https://files.example.com/r.pdf", "attachment_filename": "report.pdf"})
    );
}

#[test]
fn targets_built_through_one_registry_share_a_limiter_per_connection() {
    use crate::spec::{Connections, MapSecrets};
    let pool = LimiterPool::default();
    let mut connections = Connections::new();
    connections.insert("a", json!({"api_token": {"secret": "T"}}));
    connections.insert("b", json!({"api_token": {"secret": "T"}}));
    let secrets = MapSecrets::new().with("T", "tok");
    let registry = crate::spec::Registry::default();
    let cx = BuildContext::new(&registry, &connections, &secrets);
    let build_for = |name: &str, pool: Option<&LimiterPool>| {
        build(&cx, &json!({"connection": name}), pool).unwrap()
    };
    let (a1, a2, b) = (
        build_for("a", Some(&pool)),
        build_for("a", Some(&pool)),
        build_for("b", Some(&pool)),
    );
    assert!(Arc::ptr_eq(a1.limiter(), a2.limiter()));
    assert!(!Arc::ptr_eq(a1.limiter(), b.limiter()));
    let alone = build_for("a", None);
    assert!(!Arc::ptr_eq(a1.limiter(), alone.limiter()));

    let mut registry = Registry::empty();
    register(&mut registry);
    assert_eq!(registry.target_kinds().collect::<Vec<_>>(), [KIND]);
}

#[test]
fn rate_zero_means_no_limit_and_fifty_means_one_slot_every_1_2_s() {
    assert_eq!(limiter(0).interval(), Duration::ZERO);
    assert_eq!(limiter(50).interval(), Duration::from_millis(1200));
}
