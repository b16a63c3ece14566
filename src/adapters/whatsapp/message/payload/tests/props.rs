//! Arbitrary JSON never panics the builder, and what it builds reads back.

use proptest::prelude::*;

use super::*;

/// Keys the payload parser looks at, so arbitrary payloads reach deep paths.
const KEYS: &[&str] = &[
    "to",
    "template",
    "language",
    "header",
    "body",
    "buttons",
    "reply_to",
    "callback_data",
    "text",
    "preview_url",
    "link",
    "id",
    "filename",
    "caption",
    "footer",
    "title",
    "type",
    "sub_type",
    "payload",
    "index",
    "currency",
    "date_time",
    "fallback_value",
    "code",
    "amount_1000",
    "parameter_name",
];

fn arb_json() -> impl Strategy<Value = Value> {
    let strings = prop_oneof![
        "[ -~\n\t]{0,12}",
        prop::sample::select(vec![
            "+55 (11) 99999-1234",
            "user.abc",
            "pt_BR",
            "pt-BR",
            "https://x.example/a.pdf",
            "quick_reply",
            "url",
            "document",
            "image",
            "video",
            "text",
            "currency",
            "date_time",
            "payload",
            "",
            "  ",
            "é",
            "0",
            "10",
        ])
        .prop_map(str::to_owned),
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        strings.prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(KEYS).prop_map(str::to_owned),
                    "[a-z_]{1,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

fn valid_payload(kind: MessageKind) -> Value {
    match kind {
        MessageKind::Template => {
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": ["a"]})
        }
        MessageKind::Text => json!({"to": "5511999991234", "text": "hi"}),
        MessageKind::Document => {
            json!({"to": "5511999991234", "link": "https://x.example/a.pdf"})
        }
        MessageKind::Interactive => {
            json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}]})
        }
        MessageKind::Image | MessageKind::Audio | MessageKind::Video => {
            json!({"to": "5511999991234", "file": "media/a"})
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary JSON never panics; a message that is built serializes and reads back.
    #[test]
    fn from_payload_never_panics(kind in prop::sample::select(MessageKind::ALL.to_vec()), payload in arb_json()) {
        if let Ok(message) = OutgoingMessage::from_payload(kind, &payload) {
            let wire = serde_json::to_value(&message).unwrap();
            let back: OutgoingMessage = serde_json::from_value(wire).unwrap();
            prop_assert_eq!(back, message);
        }
    }

    /// A valid payload with one field replaced by arbitrary JSON never panics, and the
    /// result is either a field error or a message that reads back.
    #[test]
    fn from_payload_never_panics_near_valid_payloads(
        kind in prop::sample::select(MessageKind::ALL.to_vec()),
        key in prop::sample::select(KEYS),
        value in arb_json(),
    ) {
        let mut payload = valid_payload(kind);
        payload[key] = value;
        match OutgoingMessage::from_payload(kind, &payload) {
            Ok(message) => {
                let wire = serde_json::to_value(&message).unwrap();
                let back: OutgoingMessage = serde_json::from_value(wire).unwrap();
                prop_assert_eq!(back, message);
            }
            Err(TargetError::InvalidField { field, .. }) => prop_assert!(!field.is_empty()),
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }
}
