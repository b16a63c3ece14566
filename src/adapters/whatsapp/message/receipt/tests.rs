//! Unit tests of `receipt`.

use super::*;
use serde_json::json;

#[test]
fn reads_the_documented_answer() {
    let body = json!({"contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
        "messages": [{"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA", "message_status": "accepted"}],
        "messaging_product": "whatsapp"});
    let receipt = SendReceipt::from_body(body.to_string().as_bytes()).unwrap();
    assert_eq!(
        receipt,
        SendReceipt {
            wamid: "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJCOTY3NDc0NDFDRUI3NTA0Q0UA".into(),
            wa_id: Some("16505551234".into()),
            user_id: None,
            input: Some("+16505551234".into()),
            message_status: Some("accepted".into()),
        }
    );
    let shown = receipt.to_receipt(200);
    assert_eq!(shown.id.as_deref(), Some(receipt.wamid.as_str()));
    assert_eq!(shown.status, Some(200));
    assert_eq!(shown.details["message_status"], "accepted");
}

#[test]
fn a_bsuid_send_has_an_empty_wa_id_and_a_user_id() {
    let body = br#"{"messaging_product":"whatsapp","contacts":[{"input":"user.abc","wa_id":"","user_id":"user.abc"}],"messages":[{"id":"wamid.X"}]}"#;
    let receipt = SendReceipt::from_body(body).unwrap();
    assert_eq!(receipt.wa_id, None);
    assert_eq!(receipt.user_id.as_deref(), Some("user.abc"));
}

#[test]
fn errors_say_what_is_missing() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "not JSON"),
        (b"<html>", "not JSON"),
        (b"[1]", "not a JSON object"),
        (br#"{"success":true}"#, "no `messages`"),
        (br#"{"messages":{}}"#, "not a list"),
        (br#"{"messages":[]}"#, "no message object"),
        (br#"{"messages":[{}]}"#, "no `messages[0].id`"),
        (br#"{"messages":[{"id":7}]}"#, "not a string"),
        (br#"{"messages":[{"id":" "}]}"#, "is empty"),
    ];
    for (body, expected) in cases {
        let error = SendReceipt::from_body(body).unwrap_err();
        assert!(
            error.contains(expected),
            "{error:?} for {:?}",
            String::from_utf8_lossy(body)
        );
    }
}
