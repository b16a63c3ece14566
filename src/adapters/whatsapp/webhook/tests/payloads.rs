//! Parsing: the reference payloads, tolerance of what Meta may add or omit, errors with
//! their JSON pointers, and the records built from events.

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::*;

fn only(body: &str) -> WebhookEvent {
    let mut events = parse(body.as_bytes()).expect("the payload parses");
    assert_eq!(events.len(), 1, "one event expected: {events:?}");
    events.remove(0)
}

fn message(body: &str) -> InboundMessage {
    match only(body) {
        WebhookEvent::Message(m) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}

fn status(body: &str) -> StatusUpdate {
    match only(body) {
        WebhookEvent::Status(s) => s,
        other => panic!("expected a status, got {other:?}"),
    }
}

/// A one-change `messages` body with the given `value` fields besides `metadata`.
fn body_with(value: Value) -> String {
    let mut full = json!({
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"}
    });
    if let (Some(full), Value::Object(extra)) = (full.as_object_mut(), value) {
        full.extend(extra);
    }
    json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "419561257915477", "changes": [{"field": "messages", "value": full}]}]
    })
    .to_string()
}

fn shape_path(error: WebhookError) -> String {
    match error {
        WebhookError::Shape { path, .. } => path,
        other => panic!("expected a shape error, got {other:?}"),
    }
}

// ---- parsing the reference payloads ----

#[test]
fn parses_the_reference_text_message() {
    let m = message(REF_TEXT);
    assert_eq!(m.waba_id, "419561257915477");
    assert_eq!(m.phone_number_id, "106540352242922");
    assert_eq!(m.display_phone_number, "15550783881");
    assert_eq!(
        m.id,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    );
    assert_eq!(m.from, "16505551234");
    assert_eq!(m.from_user_id, None);
    assert_eq!(m.timestamp, Utc.timestamp_opt(1_749_416_383, 0).unwrap());
    assert_eq!(m.kind, MessageType::Text);
    assert_eq!(m.text(), Some("Does it come in another color?"));
    assert_eq!(m.reply_id(), None);
    assert_eq!(m.media(), None);
    assert_eq!(m.context, None);
    let contact = m.contact.as_ref().expect("a contact");
    assert_eq!(contact.name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(contact.wa_id.as_deref(), Some("16505551234"));
    assert_eq!(
        m.raw.to_value()["text"]["body"],
        "Does it come in another color?"
    );
}

#[test]
fn parses_the_reference_interactive_button_reply() {
    let m = message(REF_BUTTON_REPLY);
    assert_eq!(m.kind, MessageType::Interactive);
    assert_eq!(m.reply_id(), Some("cancel-button"));
    assert_eq!(m.text(), Some("Cancel"));
    let context = m.context.expect("a context");
    assert_eq!(context.from.as_deref(), Some("15550783881"));
    assert_eq!(
        context.id.as_deref(),
        Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA")
    );
    assert!(!context.forwarded && !context.frequently_forwarded);
}

#[test]
fn parses_the_reference_template_button_tap() {
    let m = message(REF_BUTTON);
    assert_eq!(m.kind, MessageType::Button);
    assert_eq!(m.reply_id(), Some("Unsubscribe"));
    assert_eq!(m.text(), Some("Unsubscribe"));
    assert_eq!(
        m.context.and_then(|c| c.id),
        Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJFNjk2OTMwNEZCQjhGMzUyQUYA".to_owned())
    );
}

#[test]
fn parses_the_reference_unsupported_message_with_its_errors() {
    let m = message(REF_UNSUPPORTED);
    assert_eq!(m.kind, MessageType::Unsupported);
    assert_eq!(m.text(), None);
    assert_eq!(m.errors.len(), 1);
    let error = &m.errors[0];
    assert_eq!(error.code, 131051);
    assert_eq!(error.title.as_deref(), Some("Message type unknown"));
    assert_eq!(
        error.details.as_deref(),
        Some("Message type is currently not supported.")
    );
    assert_eq!(error.href, None);
}

#[test]
fn parses_the_reference_delivered_status_with_pmp_pricing_and_user_id() {
    let s = status(REF_DELIVERED);
    assert_eq!(s.waba_id, "102290129340398");
    assert_eq!(
        s.id,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
    );
    assert_eq!(s.status, DeliveryState::Delivered);
    assert_eq!(s.timestamp, Utc.timestamp_opt(1_750_030_073, 0).unwrap());
    assert_eq!(s.recipient_id.as_deref(), Some("16505551234"));
    assert_eq!(s.recipient_user_id, None);
    let pricing = s.pricing.as_ref().expect("pricing");
    assert_eq!(pricing.billable, Some(true));
    assert_eq!(pricing.pricing_model.as_deref(), Some("PMP"));
    assert_eq!(pricing.kind.as_deref(), Some("regular"));
    assert_eq!(pricing.category.as_deref(), Some("marketing"));
    assert_eq!(s.conversation, None);
    assert!(s.errors.is_empty());
    let contact = s.contact.as_ref().expect("the recipient's contact");
    assert_eq!(contact.username.as_deref(), Some("@pablomorales"));
    assert_eq!(contact.country_code.as_deref(), Some("US"));
    assert_eq!(
        contact.user_id.as_deref(),
        Some("user.9373795779eb6441c8adb2eaee5b848e7dd174ddd302d7db62142f4722d574b6")
    );
}

#[test]
fn parses_the_reference_failed_status_with_errors() {
    let s = status(REF_FAILED);
    assert_eq!(s.status, DeliveryState::Failed);
    assert_eq!(s.contact, None);
    assert_eq!(s.pricing, None);
    assert_eq!(
        s.errors,
        vec![ErrorDetail {
            code: 131026,
            title: Some("Message undeliverable".into()),
            message: Some("Message undeliverable".into()),
            details: Some("Message Undeliverable.".into()),
            href: Some(
                "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
                    .into()
            ),
        }]
    );
}

// ---- tolerance ----

#[test]
fn empty_from_and_wa_id_with_user_ids_match_the_contact_by_user_id() {
    let body = body_with(json!({
        "contacts": [
            {"profile": {"name": "Other"}, "wa_id": "", "user_id": "user.other"},
            {"profile": {"name": "Pablo"}, "wa_id": "", "user_id": "user.pablo"}
        ],
        "messages": [{"from": "", "from_user_id": "user.pablo", "id": "wamid.B", "timestamp": "1750000000", "type": "text", "text": {"body": "hola"}}]
    }));
    let m = message(&body);
    assert_eq!(m.from, "");
    assert_eq!(m.from_user_id.as_deref(), Some("user.pablo"));
    let contact = m.contact.clone().expect("a contact");
    assert_eq!(contact.name.as_deref(), Some("Pablo"));
    assert_eq!(contact.wa_id.as_deref(), Some(""));
    let record = m.to_record();
    assert_eq!(record.get("from"), Some(&json!("")));
    assert_eq!(record.get("from_user_id"), Some(&json!("user.pablo")));
    assert_eq!(record.get("contact.user_id"), Some(&json!("user.pablo")));
}

#[test]
fn contacts_match_by_wa_id_else_the_first_is_used() {
    let body = body_with(json!({
        "contacts": [{"profile": {"name": "A"}, "wa_id": "111"}, {"profile": {"name": "B"}, "wa_id": "222"}],
        "messages": [
            {"from": "222", "id": "wamid.1", "timestamp": "1750000000", "type": "text", "text": {"body": "x"}},
            {"from": "333", "id": "wamid.2", "timestamp": "1750000000", "type": "text", "text": {"body": "y"}}
        ]
    }));
    let names: Vec<_> = parse(body.as_bytes())
        .unwrap()
        .into_iter()
        .map(|e| match e {
            WebhookEvent::Message(m) => m.contact.and_then(|c| c.name),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, vec![Some("B".to_owned()), Some("A".to_owned())]);
}

#[test]
fn several_entries_and_changes_yield_every_event_in_order() {
    let text = |id: &str| json!({"from": "1", "id": id, "timestamp": "1750000000", "type": "text", "text": {"body": id}});
    let value = |messages: Value, statuses: Value| {
        json!({
            "metadata": {"display_phone_number": "1", "phone_number_id": "P"},
            "messages": messages, "statuses": statuses
        })
    };
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [
            {"id": "W1", "changes": [
                {"field": "messages", "value": value(json!([text("m1"), text("m2")]), json!([]))},
                {"field": "messages", "value": value(json!([]), json!([{"id": "s1", "status": "sent", "timestamp": "1750000001"}]))}
            ]},
            {"id": "W2", "changes": [
                {"field": "messages", "value": value(json!([text("m3")]), json!([{"id": "s2", "status": "read", "timestamp": 1750000002}]))}
            ]}
        ]
    });
    let events = parse(body.to_string().as_bytes()).unwrap();
    let seen: Vec<(String, String)> = events
        .iter()
        .map(|e| (e.waba_id().to_owned(), e.to_record().key))
        .collect();
    let expected = [
        ("W1", "m1"),
        ("W1", "m2"),
        ("W1", "s1:sent"),
        ("W2", "m3"),
        ("W2", "s2:read"),
    ];
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(w, k)| ((*w).to_owned(), (*k).to_owned()))
        .collect();
    assert_eq!(seen, expected);
}

#[test]
fn a_malformed_change_is_a_problem_and_the_other_changes_still_give_their_events() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "W", "changes": [
            {"field": "message_template_status_update", "value": {"event": "APPROVED", "message_template_id": 1}},
            {"field": "account_update", "value": "not even an object"},
            {"field": "account_update", "value": {"event": "ACCOUNT_DELETED"}},
            {"field": "group_lifecycle_update", "value": {"groups": [{"timestamp": 5}]}}
        ]}]
    })
    .to_string();
    let reading = super::parse::read(body.as_bytes()).unwrap();
    let paths: Vec<String> = reading.problems.into_iter().map(shape_path).collect();
    assert_eq!(
        paths,
        [
            "/entry/0/changes/0/value/message_template_name",
            "/entry/0/changes/1/value",
            "/entry/0/changes/3/value/groups/0/group_id"
        ]
    );
    assert_eq!(reading.events.len(), 1);
    let WebhookEvent::Account(account) = &reading.events[0] else {
        panic!("an account event: {:?}", reading.events);
    };
    assert_eq!(account.event.as_deref(), Some("ACCOUNT_DELETED"));
    // The strict parse reports the first problem.
    assert_eq!(
        parse(body.as_bytes()).map_err(shape_path),
        Err("/entry/0/changes/0/value/message_template_name".to_owned())
    );
}

#[test]
fn an_unknown_message_type_is_kept_with_its_raw_json() {
    let body = body_with(json!({
        "messages": [{"from": "1", "id": "wamid.P", "timestamp": "1750000000", "type": "poll_vote",
                      "poll_vote": {"option": 2, "nested": {"deep": [1, 2]}}}]
    }));
    let m = message(&body);
    assert_eq!(m.kind, MessageType::Unknown("poll_vote".into()));
    assert_eq!(
        m.raw.to_value()["poll_vote"]["nested"]["deep"],
        json!([1, 2])
    );
    assert_eq!(m.text(), None);
    assert_eq!(m.to_record().get("type"), Some(&json!("poll_vote")));
}

#[test]
fn unknown_fields_and_states_are_kept_in_raw() {
    let body = body_with(json!({
        "messages": [{"from": "1", "id": "wamid.U", "timestamp": "1750000000", "type": "text",
                      "text": {"body": "x", "future": true}, "brand_new": {"a": 1}}],
        "statuses": [{"id": "wamid.S", "status": "queued_for_the_moon", "timestamp": "1750000000",
                      "shiny": [1]}]
    }));
    let events = parse(body.as_bytes()).unwrap();
    let WebhookEvent::Message(m) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(m.raw.to_value()["brand_new"], json!({"a": 1}));
    assert_eq!(m.raw.to_value()["text"]["future"], json!(true));
    let WebhookEvent::Status(s) = &events[1] else {
        panic!("{events:?}")
    };
    assert_eq!(s.status, DeliveryState::Other("queued_for_the_moon".into()));
    assert_eq!(s.raw.to_value()["shiny"], json!([1]));
    assert_eq!(s.to_record().key, "wamid.S:queued_for_the_moon");
}

#[test]
fn a_message_without_type_is_unknown_with_an_empty_name() {
    let body =
        body_with(json!({"messages": [{"from": "1", "id": "wamid.N", "timestamp": "1750000000"}]}));
    assert_eq!(message(&body).kind, MessageType::Unknown(String::new()));
}

#[test]
fn numeric_timestamps_and_ids_are_accepted() {
    let body = body_with(json!({
        "messages": [{"from": 16505551234_u64, "id": "wamid.T", "timestamp": 1750000000, "type": "text", "text": {"body": "x"}}]
    }));
    let m = message(&body);
    assert_eq!(m.from, "16505551234");
    assert_eq!(m.timestamp, Utc.timestamp_opt(1_750_000_000, 0).unwrap());
}

// ---- errors ----

#[test]
fn a_wrong_typed_field_is_reported_with_its_json_pointer() {
    let good = |id: &str| json!({"from": "1", "id": id, "timestamp": "1750000000", "type": "text", "text": {"body": "x"}});
    let mut bad = good("wamid.3");
    bad["timestamp"] = json!({"seconds": 1});
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "W", "changes": [
            {"field": "messages", "value": {"metadata": {"phone_number_id": "P"}, "messages": [good("wamid.0")]}},
            {"field": "messages", "value": {"metadata": {"phone_number_id": "P"}, "messages": [good("wamid.1"), good("wamid.2"), bad]}}
        ]}]
    });
    let error = parse(body.to_string().as_bytes()).unwrap_err();
    assert_eq!(
        error,
        WebhookError::Shape {
            path: "/entry/0/changes/1/value/messages/2/timestamp".into(),
            expected: "Unix seconds as a string or an integer",
            found: "an object".into(),
        }
    );
    assert_eq!(
        error.to_string(),
        "/entry/0/changes/1/value/messages/2/timestamp: expected Unix seconds as a string or an integer, found an object"
    );
}

#[test]
fn wrong_types_deeper_inside_are_reported_with_their_pointers() {
    let cases = [
        (
            json!({"messages": [{"id": 7, "timestamp": "1"}]}),
            "/entry/0/changes/0/value/messages/0/id",
        ),
        (
            json!({"messages": [{"id": "w", "timestamp": "soon"}]}),
            "/entry/0/changes/0/value/messages/0/timestamp",
        ),
        (
            json!({"messages": [{"id": "w"}]}),
            "/entry/0/changes/0/value/messages/0/timestamp",
        ),
        (
            json!({"messages": [{"id": "w", "timestamp": "1", "type": "text", "text": {"body": 5}}]}),
            "/entry/0/changes/0/value/messages/0/text/body",
        ),
        (
            json!({"messages": [{"id": "w", "timestamp": "1", "type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": ["x"]}}}]}),
            "/entry/0/changes/0/value/messages/0/interactive/list_reply/id",
        ),
        (
            json!({"messages": [{"id": "w", "timestamp": "1", "type": "image", "image": "not an object"}]}),
            "/entry/0/changes/0/value/messages/0/image",
        ),
        (
            json!({"messages": [{"id": "w", "timestamp": "1", "context": {"forwarded": "yes"}}]}),
            "/entry/0/changes/0/value/messages/0/context/forwarded",
        ),
        (
            json!({"messages": {"id": "w"}}),
            "/entry/0/changes/0/value/messages",
        ),
        (
            json!({"statuses": [{"id": "w", "timestamp": "1"}]}),
            "/entry/0/changes/0/value/statuses/0/status",
        ),
        (
            json!({"statuses": [{"id": "w", "status": "sent", "timestamp": "1", "pricing": {"billable": "true"}}]}),
            "/entry/0/changes/0/value/statuses/0/pricing/billable",
        ),
        (
            json!({"statuses": [{"id": "w", "status": "failed", "timestamp": "1", "errors": [{"title": "no code"}]}]}),
            "/entry/0/changes/0/value/statuses/0/errors/0/code",
        ),
        (
            json!({"errors": [{"code": 1.5}]}),
            "/entry/0/changes/0/value/errors/0/code",
        ),
        (
            json!({"contacts": [{"profile": {"name": 3}}]}),
            "/entry/0/changes/0/value/contacts/0/profile/name",
        ),
    ];
    for (value, path) in cases {
        let error = parse(body_with(value.clone()).as_bytes()).unwrap_err();
        assert_eq!(shape_path(error), path, "for {value}");
    }
}

#[test]
fn missing_metadata_and_entry_are_reported() {
    let no_entry = parse(br#"{"object":"whatsapp_business_account"}"#).unwrap_err();
    assert_eq!(shape_path(no_entry), "/entry");
    let no_metadata = br#"{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{"messages":[]}}]}]}"#;
    assert_eq!(
        shape_path(parse(no_metadata).unwrap_err()),
        "/entry/0/changes/0/value/metadata"
    );
    let no_number = br#"{"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{"metadata":{}}}]}]}"#;
    assert_eq!(
        shape_path(parse(no_number).unwrap_err()),
        "/entry/0/changes/0/value/metadata/phone_number_id"
    );
}

#[test]
fn truncated_or_invalid_json_is_not_json() {
    let truncated = &REF_TEXT.as_bytes()[..REF_TEXT.len() / 2];
    match parse(truncated) {
        Err(WebhookError::NotJson {
            line,
            column,
            message,
        }) => {
            assert!(line > 1 && column > 0, "{line}:{column}");
            assert!(message.contains("EOF"), "{message}");
        }
        other => panic!("expected NotJson, got {other:?}"),
    }
    assert!(matches!(parse(b""), Err(WebhookError::NotJson { .. })));
    assert!(matches!(
        parse(b"\xff\xfe"),
        Err(WebhookError::NotJson { .. })
    ));
}

#[test]
fn other_objects_are_not_whatsapp() {
    assert_eq!(
        parse(br#"{"object":"page","entry":[]}"#),
        Err(WebhookError::NotWhatsApp {
            object: Some("\"page\"".into())
        })
    );
    assert_eq!(
        parse(br#"{"entry":[]}"#),
        Err(WebhookError::NotWhatsApp { object: None })
    );
    assert_eq!(
        parse(b"[1]"),
        Err(WebhookError::NotWhatsApp {
            object: Some("an array".into())
        })
    );
}

// ---- records ----

#[test]
fn message_records_have_the_documented_flat_shape() {
    let record = only(REF_BUTTON_REPLY).to_record();
    assert_eq!(record.kind, "whatsapp.message");
    assert_eq!(
        record.key,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTZBQzg0MzQ4QjRCM0NGNkVGOAA="
    );
    assert_eq!(
        record.occurred_at,
        Some(Utc.timestamp_opt(1_750_025_136, 0).unwrap())
    );
    let raw: Value = serde_json::from_str(REF_BUTTON_REPLY).unwrap();
    assert_eq!(
        record.data,
        json!({
            "waba_id": "419561257915477",
            "phone_number_id": "106540352242922",
            "display_phone_number": "15550783881",
            "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTZBQzg0MzQ4QjRCM0NGNkVGOAA=",
            "from": "16505551234",
            "from_user_id": null,
            "timestamp": "2025-06-15T22:05:36Z",
            "type": "interactive",
            "text": "Cancel",
            "reply_id": "cancel-button",
            "context_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA",
            "context_from": "15550783881",
            "media_id": null,
            "original_message_id": null,
            "flow_response": null,
            "contact": {"name": "Sheena Nelson", "wa_id": "16505551234", "user_id": null, "username": null, "country_code": null},
            "message": raw["entry"][0]["changes"][0]["value"]["messages"][0],
        })
    );
}

#[test]
fn a_message_without_contact_has_null_contact_fields() {
    let body = body_with(
        json!({"messages": [{"from": "1", "id": "wamid.X", "timestamp": "1750000000", "type": "text", "text": {"body": "x"}}]}),
    );
    let record = only(&body).to_record();
    assert_eq!(
        record.get("contact"),
        Some(
            &json!({"name": null, "wa_id": null, "user_id": null, "username": null, "country_code": null})
        )
    );
}

#[test]
fn status_records_are_keyed_by_wamid_and_status() {
    let record = only(REF_FAILED).to_record();
    assert_eq!(record.kind, "whatsapp.status");
    assert_eq!(
        record.key,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NjY1RkFCRjk1RjE0OUE2QzgA:failed"
    );
    assert_eq!(
        record.occurred_at,
        Some(Utc.timestamp_opt(1_750_263_773, 0).unwrap())
    );
    let raw: Value = serde_json::from_str(REF_FAILED).unwrap();
    let raw_status = &raw["entry"][0]["changes"][0]["value"]["statuses"][0];
    assert_eq!(
        record.data,
        json!({
            "waba_id": "102290129340398",
            "phone_number_id": "106540352242922",
            "display_phone_number": "15550783881",
            "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3NjY1RkFCRjk1RjE0OUE2QzgA",
            "status": "failed",
            "timestamp": "2025-06-18T16:22:53Z",
            "recipient_id": "16505551234",
            "recipient_user_id": null,
            "biz_opaque_callback_data": null,
            "errors": [{
                "code": 131026,
                "title": "Message undeliverable",
                "message": "Message undeliverable",
                "details": "Message Undeliverable.",
                "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
            }],
            "pricing": null,
            "conversation": null,
            "raw": raw_status,
        })
    );
    let delivered = only(REF_DELIVERED).to_record();
    assert_eq!(delivered.get("pricing.pricing_model"), Some(&json!("PMP")));
}

#[test]
fn system_error_records_have_a_stable_key() {
    let body = body_with(json!({"errors": [
        {"code": 131000, "title": "Something went wrong", "message": "Something went wrong",
         "error_data": {"details": "Unknown error."}},
        {"code": 131000, "title": "Something else", "message": "Something else"}
    ]}));
    let events = parse(body.as_bytes()).unwrap();
    let records: Vec<_> = events.iter().map(WebhookEvent::to_record).collect();
    assert_eq!(records.len(), 2);
    assert!(records
        .iter()
        .all(|r| r.kind == "whatsapp.error" && r.occurred_at.is_none()));
    assert!(records[0]
        .key
        .starts_with("whatsapp:error:106540352242922:131000:"));
    assert_ne!(
        records[0].key, records[1].key,
        "different errors, different keys"
    );
    let again = parse(body.as_bytes()).unwrap()[0].to_record();
    assert_eq!(again.key, records[0].key, "a redelivery gets the same key");
    assert_eq!(records[0].get("details"), Some(&json!("Unknown error.")));
    assert_eq!(records[1].get("details"), Some(&Value::Null));
}

#[test]
fn event_types_serialize_with_whatsapp_names() {
    let value = serde_json::to_value(only(REF_BUTTON)).unwrap();
    assert_eq!(value["event"], "message");
    assert_eq!(value["kind"], "button");
    let value = serde_json::to_value(only(REF_DELIVERED)).unwrap();
    assert_eq!(value["status"], "delivered");
    assert_eq!(value["pricing"]["type"], "regular");
}

#[test]
fn delivery_state_rank_orders_progress() {
    assert!(DeliveryState::Read.rank() > DeliveryState::Delivered.rank());
    assert!(DeliveryState::Delivered.rank() > DeliveryState::Sent.rank());
    assert_eq!(DeliveryState::parse("played"), DeliveryState::Played);
    assert_eq!(DeliveryState::Failed.rank(), 0);
}
