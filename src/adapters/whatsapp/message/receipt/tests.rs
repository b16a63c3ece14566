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

#[test]
fn the_typed_reading_agrees_with_the_value_reading_on_every_shape() {
    let bodies: &[&[u8]] = &[
        br#"{"messaging_product":"whatsapp","contacts":[{"input":"+16505551234","wa_id":"16505551234"}],"messages":[{"id":"wamid.HBgL"}]}"#,
        br#"{"messages":[{"id":"wamid.\u0041\"x","message_status":"accepted"}],"contacts":[{"input":"","wa_id":null,"user_id":"US.1"}]}"#,
        br#"{"messages":[{"id":"wamid.1","extra":{"deep":[1,2]}}],"contacts":["not an object"]}"#,
        br#"{"messages":[{"id":"wamid.1"},"second is no object"]}"#,
        br#"{"messages":[{"id":"  "}]}"#,
        br#"{"messages":[{"id":7}]}"#,
        br#"{"messages":[]}"#,
        br#"{"messages":{"id":"wamid.1"}}"#,
        br#"{"contacts":[{"wa_id":"1"}]}"#,
        br#"{"messages":[{"id":"wamid.1","message_status":5}],"contacts":[{"wa_id":["x"]}]}"#,
        br#"{"messages":[{"id":"wamid.1"}],"messages":[{"id":"wamid.2"}]}"#,
        br#"[{"messages":[{"id":"wamid.1"}]}]"#,
        br#"{"messages":[{"id":"wamid.1"}]"#,
        b"",
    ];
    for body in bodies {
        assert_eq!(
            SendReceipt::from_body(body),
            SendReceipt::from_value_body(body),
            "{}",
            String::from_utf8_lossy(body)
        );
    }
    // The fast reading takes the common answer itself.
    assert!(SendReceipt::from_typed_body(bodies[0]).is_some());
    let escaped = SendReceipt::from_body(bodies[1]).unwrap();
    assert_eq!(escaped.wamid, "wamid.A\"x");
    assert_eq!(escaped.user_id.as_deref(), Some("US.1"));
    assert_eq!((escaped.wa_id, escaped.input), (None, None));
}
