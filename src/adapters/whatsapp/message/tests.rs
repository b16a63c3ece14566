//! Unit tests of the send-request model: bodies read into typed parts and written back
//! unchanged.

use serde_json::{json, Value};

use super::*;

fn round_trip(body: Value) -> OutgoingMessage {
    let message: OutgoingMessage = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(serde_json::to_value(&message).unwrap(), body);
    message
}

#[test]
fn reads_a_template_into_typed_components() {
    let message = round_trip(json!({
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
        "type": "template", "biz_opaque_callback_data": "wo:1021",
        "context": {"message_id": "wamid.ABC"},
        "template": {"name": "wo_assignment", "language": {"code": "pt_BR", "policy": "deterministic"},
            "components": [
                {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://x.example/wo.pdf", "filename": "wo.pdf"}}]},
                {"type": "body", "parameters": [
                    {"type": "text", "text": "Jonas"},
                    {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}},
                    {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977", "year": 1977}}]},
                {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "confirm"}]},
                {"type": "button", "sub_type": "url", "index": "2", "parameters": [{"type": "text", "text": "abc"}]}
            ]}
    }));
    assert!(message.is_template());
    assert_eq!(message.to(), "16505551234");
    assert_eq!(message.context, Some(ReplyContext::new("wamid.ABC")));
    assert_eq!(message.biz_opaque_callback_data.as_deref(), Some("wo:1021"));
    let Content::Template(template) = &message.content else {
        panic!("not a template: {:?}", message.content)
    };
    assert_eq!(template.language.policy.as_deref(), Some("deterministic"));
    assert!(
        matches!(&template.components[0], Component::Header { parameters }
        if matches!(&parameters[0], Parameter::Document(m) if m.filename.as_deref() == Some("wo.pdf")))
    );
    let Component::Body { parameters } = &template.components[1] else {
        panic!("not a body")
    };
    assert_eq!(parameters[0], Parameter::text("Jonas"));
    assert!(matches!(&parameters[1], Parameter::Currency(c) if c.amount_1000 == 100990));
    assert!(matches!(&parameters[2], Parameter::DateTime(d) if d.extra["year"] == 1977));
    assert_eq!(template.components[2], Component::quick_reply(1, "confirm"));
    assert_eq!(template.components[3], Component::url_button(2, "abc"));
}

#[test]
fn keeps_what_the_model_cannot_represent() {
    // An integer index, a boolean text and an action parameter stay raw JSON.
    let message = round_trip(json!({
        "messaging_product": "whatsapp", "to": "1", "type": "template",
        "template": {"name": "t", "language": {"code": "en_US"}, "components": [
            {"type": "button", "sub_type": "CATALOG", "index": 0, "parameters": [{"type": "action", "action": {"x": 1}}]},
            {"type": "body", "parameters": [{"type": "text", "text": true}, {"type": "text", "text": "a", "extra": 1}]}
        ]}
    }));
    let Content::Template(template) = &message.content else {
        panic!("not a template")
    };
    assert!(matches!(template.components[0], Component::Other(_)));
    let Component::Body { parameters } = &template.components[1] else {
        panic!("not a body")
    };
    assert!(matches!(parameters[0], Parameter::Other(_)));
    assert!(matches!(parameters[1], Parameter::Other(_)));

    // Unknown message type, unknown top-level field, content of the wrong shape.
    let message = round_trip(
        json!({"messaging_product": "whatsapp", "to": "1", "type": "order",
        "order": {"a": 1}, "future_field": [1, 2]}),
    );
    assert_eq!(
        message.content,
        Content::Other {
            kind: "order".into(),
            body: Some(json!({"a": 1}))
        }
    );
    assert_eq!(message.extra["future_field"], json!([1, 2]));
    let message = round_trip(
        json!({"messaging_product": "whatsapp", "to": "1", "type": "text",
        "text": {"body": 5}}),
    );
    assert_eq!(message.content.kind(), "text");
    assert!(matches!(message.content, Content::Other { .. }));
    let message = round_trip(json!({"messaging_product": "whatsapp", "to": "1", "type": "text"}));
    assert_eq!(
        message.content,
        Content::Other {
            kind: "text".into(),
            body: None
        }
    );
    let message = round_trip(
        json!({"messaging_product": "whatsapp", "to": "1", "type": "text",
        "text": {"body": "x"}, "context": {"message_id": 5}}),
    );
    assert_eq!(message.context, None);
    assert_eq!(message.extra["context"], json!({"message_id": 5}));
}

#[test]
fn a_body_without_type_is_read_by_its_content_key_and_written_back_without_it() {
    let message = round_trip(json!({"messaging_product": "whatsapp", "to": "1",
        "text": {"body": "Please visit https://youtu.be/hpltvTEiRrY.", "preview_url": true}}));
    assert!(matches!(&message.content, Content::Text(t) if t.preview_url == Some(true)));
    let built = OutgoingMessage::text("1", "x");
    assert_eq!(serde_json::to_value(&built).unwrap()["type"], "text");
}

#[test]
fn interactive_messages_are_typed() {
    let message = round_trip(
        json!({"messaging_product": "whatsapp", "to": "1", "type": "interactive",
        "interactive": {"type": "list", "header": {"type": "text", "text": "H"}, "body": {"text": "B"},
            "footer": {"text": "F"}, "action": {"button": "Open", "sections": [
                {"title": "S", "rows": [{"id": "r1", "title": "Row", "description": "D"}]}]}}}),
    );
    let Content::Interactive(interactive) = &message.content else {
        panic!("not interactive")
    };
    assert_eq!(interactive.kind, InteractiveKind::List);
    assert_eq!(
        interactive.header,
        Some(InteractiveHeader::Text("H".into()))
    );
    assert_eq!(
        interactive.action.sections[0].rows[0]
            .description
            .as_deref(),
        Some("D")
    );

    let message = round_trip(
        json!({"messaging_product": "whatsapp", "to": "1", "type": "interactive",
        "interactive": {"type": "product_list", "header": {"type": "<HEADER_TYPE>", "text": "H"},
            "body": {"text": "B"}, "action": {"catalog_id": "1", "sections": [
                {"title": "S", "product_items": [{"product_retailer_id": "p"}]}]}}}),
    );
    let Content::Interactive(interactive) = &message.content else {
        panic!("not interactive")
    };
    assert_eq!(interactive.kind, InteractiveKind::ProductList);
    assert!(matches!(
        interactive.header,
        Some(InteractiveHeader::Other(_))
    ));
    assert_eq!(interactive.action.extra["catalog_id"], "1");
}

#[test]
fn other_kinds_are_typed() {
    let message = round_trip(
        json!({"messaging_product": "whatsapp", "to": "1", "type": "location",
        "location": {"latitude": 37.758056, "longitude": -122.425332, "name": "HQ"}}),
    );
    assert!(matches!(&message.content, Content::Location(l) if l.longitude == -122.425332));
    let message = round_trip(
        json!({"messaging_product": "whatsapp", "to": "1", "type": "reaction",
        "reaction": {"message_id": "wamid.X", "emoji": "\u{1F600}"}}),
    );
    assert!(matches!(&message.content, Content::Reaction(r) if r.message_id == "wamid.X"));
    let message = round_trip(
        json!({"messaging_product": "whatsapp", "to": "1", "type": "sticker",
        "sticker": {"id": "42"}}),
    );
    assert_eq!(message.content, Content::Sticker(Media::from_id("42")));
    let message = round_trip(
        json!({"messaging_product": "whatsapp", "to": "1", "type": "contacts",
        "contacts": [{"name": {"formatted_name": "J"}}]}),
    );
    assert!(matches!(&message.content, Content::Contacts(c) if c.len() == 1));
}

#[test]
fn rejects_bodies_that_are_not_send_requests() {
    for body in [
        json!({"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.X"}),
        json!({"to": "1", "type": "text", "text": {"body": "x"}}),
        json!({"messaging_product": "whatsapp", "to": 1, "type": "text", "text": {"body": "x"}}),
        json!({"messaging_product": "whatsapp", "to": "1", "type": 5, "text": {"body": "x"}}),
        json!({"messaging_product": "whatsapp", "to": "1"}),
        json!({"messaging_product": "whatsapp", "to": "1", "text": {"body": "x"}, "image": {"id": "1"}}),
        json!([1]),
    ] {
        assert!(
            serde_json::from_value::<OutgoingMessage>(body.clone()).is_err(),
            "{body}"
        );
    }
}

#[test]
fn builders_make_wire_bodies() {
    let message = OutgoingMessage::template("5511999991234", "wo_assignment", "pt_BR")
        .body_text_params(["Jonas", "OT-1021"])
        .reply_to("wamid.Q");
    assert_eq!(
        serde_json::to_value(&message).unwrap(),
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511999991234",
            "context": {"message_id": "wamid.Q"}, "type": "template",
            "template": {"name": "wo_assignment", "language": {"code": "pt_BR"}, "components": [
                {"type": "body", "parameters": [{"type": "text", "text": "Jonas"}, {"type": "text", "text": "OT-1021"}]}]}})
    );
    let text = OutgoingMessage::text("1", "hi").body_text_params(["ignored"]);
    assert!(!text.is_template());
    assert_eq!(text, OutgoingMessage::text("1", "hi"));

    let interactive = OutgoingMessage::new(
        "1",
        Content::Interactive(Box::new(Interactive::buttons(
            "Take it?",
            vec![ReplyButton::new("yes", "Yes")],
        ))),
    );
    assert_eq!(
        serde_json::to_value(&interactive).unwrap()["interactive"],
        json!({"type": "button", "body": {"text": "Take it?"},
               "action": {"buttons": [{"type": "reply", "reply": {"id": "yes", "title": "Yes"}}]}})
    );
    let list = Interactive::list("Pick", "Open", vec![ListSection::default()]);
    assert_eq!(list.action.button.as_deref(), Some("Open"));
}

#[test]
fn extra_fields_never_duplicate_named_ones() {
    let mut message = OutgoingMessage::text("1", "hi");
    message.extra.insert("to".into(), json!("2"));
    message.extra.insert("text".into(), json!("other"));
    message.extra.insert("kept".into(), json!(true));
    let text = serde_json::to_string(&message).unwrap();
    assert_eq!(text.matches("\"to\"").count(), 1, "{text}");
    assert_eq!(text.matches("\"text\"").count(), 2, "{text}"); // the type value and the key
    assert!(text.contains("\"kept\":true"));
}

#[test]
fn callback_data_is_cut_to_512_characters() {
    let mut message = OutgoingMessage::text("1", "hi");
    message.set_callback_data("fracttal:wo:1021");
    assert_eq!(
        message.biz_opaque_callback_data.as_deref(),
        Some("fracttal:wo:1021")
    );
    let long = "é".repeat(600);
    message.set_callback_data(long);
    let kept = message.biz_opaque_callback_data.unwrap();
    assert_eq!(kept.chars().count(), MAX_CALLBACK_DATA_CHARS);
    assert!(kept.chars().all(|c| c == 'é'));
}

#[test]
fn open_enums_keep_unknown_values() {
    assert_eq!(ButtonSubType::from("url"), ButtonSubType::Url);
    assert_eq!(ButtonSubType::from("CATALOG").as_str(), "CATALOG");
    assert_eq!(
        InteractiveKind::from("order_details").to_string(),
        "order_details"
    );
    let kind: InteractiveKind = serde_json::from_value(json!("flow")).unwrap();
    assert_eq!(kind, InteractiveKind::Flow);
}
