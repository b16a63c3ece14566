//! Unit tests of `rdconversas`.

use super::*;

#[test]
fn debug_hides_the_token() {
    let target = RdConversasTarget::new(SecretString::from("rd-secret-token"));
    assert!(!format!("{target:?}").contains("secret"));
}

proptest::proptest! {
    #[test]
    fn untrusted_payloads_never_panic(text in ".{0,40}", n in proptest::num::i64::ANY) {
        let target = RdConversasTarget::new("t".to_owned().into()).template_message_id("x");
        let record = Record::new("k", "x", Value::Null);
        for payload in [
            json!({"to": text, "variables": [n, text]}),
            json!({"to": n}),
            json!({"to": [text]}),
            json!(text),
        ] {
            let _ = target.prepare(&record, &payload);
        }
    }
}

#[test]
fn the_default_url_parses() {
    assert!(Url::parse(DEFAULT_BASE_URL).is_ok());
    let target = RdConversasTarget::new(SecretString::from("x"));
    assert_eq!(
        target.url().unwrap().as_str(),
        "https://api.tallos.com.br/v3/messages/template/send"
    );
}

#[test]
fn codes_are_explained_and_classified() {
    let now = chrono::Utc::now();
    let e = rd_error(
        &HttpResponse::new(404, r#"{"code": 308, "message": "Template not found"}"#),
        now,
    );
    assert_eq!(e.code.as_deref(), Some("308"));
    assert!(e.message.contains("template_message_id"), "{}", e.message);
    assert_eq!(e.class, ErrorClass::Permanent);
    let e = rd_error(&HttpResponse::new(401, "{}"), now);
    assert!(e.message.contains("blacklisted"));
    assert_eq!(e.class, ErrorClass::Permanent);
    let e = rd_error(&HttpResponse::new(503, "busy"), now);
    assert!(e.class.is_retryable());
}
