//! Unit tests of `work_request`.

use super::*;

fn target() -> WorkRequestTarget {
    WorkRequestTarget::new(FracttalClient::new("k".into(), "s".into()))
}

fn record() -> Record {
    Record::new("k", "t", json!({}))
}

#[test]
fn fields_are_normalised() {
    let request = target()
        .prepare(
            &record(),
            &json!({
                "description": " Leak ", "user_code": 12, "identifier": null,
                "date_incident": "2026-03-02T08:00:00-03", "is_urgent": 1,
                "key_words_descriptions": "pump, leak,", "email_requested_by": "a@b.c",
                "types_description": "Corrective"
            }),
        )
        .unwrap();
    assert_eq!(
        request.json_body().unwrap(),
        json!({
            "description": "Leak", "user_code": "12", "date_incident": "2026-03-02T11:00:00+00",
            "is_urgent": true, "key_words_descriptions": ["pump", "leak"],
            "email_requested_by": "a@b.c", "types_description": "Corrective"
        })
    );
}

#[test]
fn problems_are_named_with_their_field() {
    let e = target()
        .prepare(&record(), &json!({"code": "P-3"}))
        .unwrap_err();
    assert_eq!(
        e,
        TargetError::field("description", "required: what is requested")
    );
    let e = target()
        .prepare(
            &record(),
            &json!({"description": "x", "is_urgent": "maybe"}),
        )
        .unwrap_err();
    assert!(matches!(&e, TargetError::InvalidField { field, .. } if field == "is_urgent"));
    let e = target()
        .prepare(
            &record(),
            &json!({"description": 5, "date_incident": "later", "requested": "x", "zzzzzzzzzzzzzzzz": 1}),
        )
        .unwrap_err();
    let text = e.to_string();
    assert!(text.contains("`date_incident`"), "{text}");
    assert!(text.contains("did you mean `requested_by`"), "{text}");
    assert!(text.contains("known fields:"), "{text}");
    assert!(target().prepare(&record(), &json!(["x"])).is_err());
    let custom = target()
        .allow_field("custom_1")
        .prepare(
            &record(),
            &json!({"description": "x", "custom_1": {"a": 1}}),
        )
        .unwrap();
    assert_eq!(custom.json_body().unwrap()["custom_1"], json!({"a": 1}));
}

#[test]
fn receipts_take_the_id_from_data() {
    let e =
        super::super::Envelope::parse(200, br#"{"success":true,"data":{"id_code":5012}}"#).unwrap();
    assert_eq!(receipt(&e).id.as_deref(), Some("5012"));
    let e =
        super::super::Envelope::parse(201, br#"{"success":true,"data":[{"id":"WR-9"}]}"#).unwrap();
    assert_eq!(receipt(&e).id.as_deref(), Some("WR-9"));
    let e = super::super::Envelope::parse(200, br#"{"success":true}"#).unwrap();
    assert_eq!(receipt(&e).id, None);
}

#[test]
fn levenshtein_distances() {
    assert_eq!(levenshtein("descripton", "description"), 1);
    assert_eq!(levenshtein("", "abc"), 3);
    assert_eq!(levenshtein("kitten", "sitting"), 3);
}
