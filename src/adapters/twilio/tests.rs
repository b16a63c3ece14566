//! Unit tests of the Twilio target's payloads.

use serde_json::json;

use super::*;

fn target() -> TwilioTarget {
    TwilioTarget::new(
        TwilioConnection::new(
            "AC0123456789abcdef0123456789abcdef",
            SecretString::from("t"),
        )
        .from("whatsapp:+15557771234"),
    )
}

fn prepared(payload: Value) -> Vec<(String, String)> {
    let record = Record::new("k", "x", json!({}));
    match target().prepare(&record, &payload) {
        Ok(send) => send.request.form_body(),
        Err(e) => panic!("{payload} was rejected: {e}"),
    }
}

fn rejected(payload: Value) -> (String, String) {
    let record = Record::new("k", "x", json!({}));
    match target().prepare(&record, &payload) {
        Ok(send) => panic!("{payload} was accepted: {send:?}"),
        Err(TargetError::InvalidField { field, message }) => (field, message),
        Err(other) => panic!("not a field error: {other}"),
    }
}

fn get<'a>(form: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    form.iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

#[test]
fn templates_carry_numbered_or_named_variables_as_json() {
    let form = prepared(
        json!({"to": "+56 9 6123 4567", "content_sid": "HXb5b62575e6e4ff6129ad7c8efe1f983e",
                               "variables": ["Jonas", 1021, true]}),
    );
    assert_eq!(get(&form, "To"), ["whatsapp:+56961234567"]);
    assert_eq!(get(&form, "From"), ["whatsapp:+15557771234"]);
    assert_eq!(
        get(&form, "ContentVariables"),
        [r#"{"1":"Jonas","2":"1021","3":"true"}"#]
    );
    let named = prepared(
        json!({"to": "whatsapp:+5511999991234", "content_sid": "HXb5b62575e6e4ff6129ad7c8efe1f983e",
                                "variables": {"name": "Jonas"}}),
    );
    assert_eq!(get(&named, "ContentVariables"), [r#"{"name":"Jonas"}"#]);
    assert!(get(&named, "Body").is_empty());
}

#[test]
fn free_form_messages_carry_the_body_and_media() {
    let form = prepared(
        json!({"to": "(11) 99999-1234", "body": "Your technician is on the way",
                               "media_url": ["https://erp.example.com/a.pdf", "https://erp.example.com/b.jpg"]}),
    );
    assert_eq!(get(&form, "To"), ["whatsapp:+5511999991234"]);
    assert_eq!(get(&form, "Body"), ["Your technician is on the way"]);
    assert_eq!(
        get(&form, "MediaUrl"),
        [
            "https://erp.example.com/a.pdf",
            "https://erp.example.com/b.jpg"
        ]
    );
}

#[test]
fn every_bad_payload_names_its_field() {
    let sid = "HXb5b62575e6e4ff6129ad7c8efe1f983e";
    let cases = [
        (json!({"content_sid": sid}), "to", "missing"),
        (
            json!({"to": "123", "content_sid": sid}),
            "to",
            "not a valid phone number",
        ),
        (json!({"to": "+5511999991234"}), "content_sid", "missing"),
        (
            json!({"to": "+5511999991234", "content_sid": "tpl-1"}),
            "content_sid",
            "HX",
        ),
        (
            json!({"to": "+5511999991234", "content_sid": sid, "body": "x"}),
            "body",
            "not both",
        ),
        (
            json!({"to": "+5511999991234", "content_sid": sid, "variables": [{"a": 1}]}),
            "variables.0",
            "text or a number",
        ),
        (
            json!({"to": "+5511999991234", "content_sid": sid, "variables": "Jonas"}),
            "variables",
            "list",
        ),
        (
            json!({"to": "+5511999991234", "content_sid": sid, "media_url": "https://x.example/a.jpg"}),
            "media_url",
            "own media",
        ),
        (
            json!({"to": "+5511999991234", "body": "x", "variables": ["a"]}),
            "variables",
            "content_sid",
        ),
        (
            json!({"to": "+5511999991234", "body": "x".repeat(1601)}),
            "body",
            "at most 1600",
        ),
        (
            json!({"to": "+5511999991234", "body": "x", "media_url": ["ftp://x/a"]}),
            "media_url.0",
            "http(s)",
        ),
        (
            json!({"to": "+5511999991234", "body": "x", "media_url": vec!["https://x.example/a"; 11]}),
            "media_url",
            "at most 10",
        ),
        (
            json!({"to": "+5511999991234", "body": "x", "templat": "y"}),
            "templat",
            "unknown field",
        ),
    ];
    for (payload, field, needle) in cases {
        let (at, message) = rejected(payload.clone());
        assert_eq!(at, field, "{payload}: {message}");
        assert!(message.contains(needle), "{field}: {message}");
    }
}

#[test]
fn a_connection_without_a_sender_or_with_a_messaging_service() {
    let record = Record::new("k", "x", json!({}));
    let payload = json!({"to": "+5511999991234", "body": "x"});
    let bare = TwilioTarget::new(TwilioConnection::new("AC1", SecretString::from("t")));
    assert!(bare
        .prepare(&record, &payload)
        .unwrap_err()
        .to_string()
        .contains("no sender"));
    let service = TwilioTarget::new(
        TwilioConnection::new("AC1", SecretString::from("t"))
            .messaging_service("MG0123456789abcdef0123456789abcdef"),
    );
    let form = service
        .prepare(&record, &payload)
        .unwrap()
        .request
        .form_body();
    assert_eq!(
        get(&form, "MessagingServiceSid"),
        ["MG0123456789abcdef0123456789abcdef"]
    );
    assert!(get(&form, "From").is_empty());
}

#[test]
fn every_classified_code_is_listed_once() {
    let mut codes: Vec<u32> = CODES.iter().map(|(code, _, _)| *code).collect();
    let count = codes.len();
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), count);
    assert_eq!(code_meaning(63018).map(|(_, retry)| retry), Some(true));
    assert_eq!(code_meaning(21610).map(|(_, retry)| retry), Some(false));
    assert_eq!(code_meaning(12345), None);
}
