//! Payloads of every kind and the requests built from them.

use super::*;

#[test]
fn template_payload_of_the_design_document() {
    let body = build(
        MessageKind::Template,
        json!({"to": "5511999991234", "template": "wo_assignment", "language": "pt_BR",
               "body": ["Jonas Campos", "OT-1021", "Trocar rolamento", "01/02/2026 08:00"]}),
    );
    assert_eq!(
        body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511999991234",
            "type": "template", "template": {"name": "wo_assignment", "language": {"code": "pt_BR"},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": "Jonas Campos"}, {"type": "text", "text": "OT-1021"},
                {"type": "text", "text": "Trocar rolamento"}, {"type": "text", "text": "01/02/2026 08:00"}]}]}})
    );
    // No parameters at all: a template such as hello_world.
    let body = build(
        MessageKind::Template,
        json!({"to": "5511999991234", "template": "hello_world", "language": "en_US", "body": []}),
    );
    assert_eq!(
        body["template"],
        json!({"name": "hello_world", "language": {"code": "en_US"}})
    );
}

#[test]
fn template_payload_with_every_option() {
    let body = build(
        MessageKind::Template,
        json!({"to": "+1 (650) 555-1234", "template": "wo_assignment", "language": "en",
            "header": {"type": "document", "link": "https://erp.example.com/wo.pdf", "filename": "wo.pdf"},
            "body": ["Jonas", 1021,
                {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}},
                {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}},
                {"type": "text", "text": "typed"}],
            "buttons": [{"sub_type": "quick_reply", "payload": "confirm"},
                        {"sub_type": "url", "text": "abc123", "index": 3},
                        {"sub_type": "quick_reply", "payload": "decline", "index": "1"}],
            "reply_to": " wamid.HBgM ", "callback_data": "fracttal:wo:1021"}),
    );
    assert_eq!(
        body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
        "context": {"message_id": "wamid.HBgM"}, "biz_opaque_callback_data": "fracttal:wo:1021",
        "type": "template", "template": {"name": "wo_assignment", "language": {"code": "en"}, "components": [
            {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://erp.example.com/wo.pdf", "filename": "wo.pdf"}}]},
            {"type": "body", "parameters": [
                {"type": "text", "text": "Jonas"}, {"type": "text", "text": "1021"},
                {"type": "currency", "currency": {"fallback_value": "$100.99", "code": "USD", "amount_1000": 100990}},
                {"type": "date_time", "date_time": {"fallback_value": "February 25, 1977"}},
                {"type": "text", "text": "typed"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": [{"type": "payload", "payload": "confirm"}]},
            {"type": "button", "sub_type": "url", "index": "3", "parameters": [{"type": "text", "text": "abc123"}]},
            {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "decline"}]}
        ]}})
    );
}

#[test]
fn template_headers() {
    let header = |header: Value| {
        let body = build(
            MessageKind::Template,
            json!({"to": "5511999991234", "template": "t", "language": "es", "header": header}),
        );
        body["template"]["components"][0]["parameters"][0].clone()
    };
    assert_eq!(
        header(json!({"type": "image", "link": "https://x.example/a.png"})),
        json!({"type": "image", "image": {"link": "https://x.example/a.png"}})
    );
    assert_eq!(
        header(json!({"type": "video", "id": "1234"})),
        json!({"type": "video", "video": {"id": "1234"}})
    );
    assert_eq!(
        header(json!({"type": "document", "id": "99", "filename": ""})),
        json!({"type": "document", "document": {"id": "99"}})
    );
    assert_eq!(
        header(json!({"type": "text", "text": "OT-1021"})),
        json!({"type": "text", "text": "OT-1021"})
    );
    // A null header is no header.
    let body = build(
        MessageKind::Template,
        json!({"to": "5511999991234", "template": "t", "language": "es", "header": null}),
    );
    assert!(body["template"].get("components").is_none());
}

#[test]
fn named_template_parameters() {
    let body = build(
        MessageKind::Template,
        json!({"to": "5511999991234", "template": "t", "language": "pt_BR",
               "body": {"customer_name": "Jonas", "order_id": 1021}}),
    );
    assert_eq!(
        body["template"]["components"][0]["parameters"],
        json!([{"type": "text", "text": "Jonas", "parameter_name": "customer_name"},
               {"type": "text", "text": "1021", "parameter_name": "order_id"}])
    );
}

#[test]
fn text_payloads() {
    let body = build(
        MessageKind::Text,
        json!({"to": "5511999991234", "text": "Your work order is done: https://x.example/1", "preview_url": "true"}),
    );
    assert_eq!(
        body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511999991234",
               "type": "text", "text": {"body": "Your work order is done: https://x.example/1", "preview_url": true}})
    );
    let body = build(
        MessageKind::Text,
        json!({"to": "5511999991234", "text": "x".repeat(4096), "preview_url": null, "reply_to": "wamid.A"}),
    );
    assert_eq!(body["text"].get("preview_url"), None);
    assert_eq!(body["context"]["message_id"], "wamid.A");
    let message = OutgoingMessage::from_payload(
        MessageKind::Text,
        &json!({"to": "5511999991234", "text": "hi"}),
    )
    .unwrap();
    assert!(!message.is_template());
}

#[test]
fn document_payloads() {
    let body = build(
        MessageKind::Document,
        json!({"to": "5511999991234", "link": "https://erp.example.com/wo/1021.pdf",
               "filename": "OT-1021.pdf", "caption": "Work order"}),
    );
    assert_eq!(
        body["document"],
        json!({"link": "https://erp.example.com/wo/1021.pdf", "filename": "OT-1021.pdf", "caption": "Work order"})
    );
    assert_eq!(body["type"], "document");
    let body = build(
        MessageKind::Document,
        json!({"to": "5511999991234", "id": "1013859600285441", "link": "", "caption": null}),
    );
    assert_eq!(body["document"], json!({"id": "1013859600285441"}));
}

#[test]
fn file_payloads_become_pending_uploads() {
    let body = build(
        MessageKind::Document,
        json!({"to": "5511999991234", "file": "reports/OT-1021.pdf", "caption": "OT-1021"}),
    );
    assert_eq!(
        body["document"],
        json!({"filename": "OT-1021.pdf", "caption": "OT-1021",
               "upload": {"file": "reports/OT-1021.pdf", "mime_type": "application/pdf"}})
    );
    let body = build(
        MessageKind::Document,
        json!({"to": "5511999991234", "file": "reports/7", "mime_type": "text/plain", "filename": "Report.txt"}),
    );
    assert_eq!(
        body["document"],
        json!({"filename": "Report.txt", "upload": {"file": "reports/7", "mime_type": "text/plain"}})
    );
    // Without a MIME type or a known extension the provider's type is used later.
    let body = build(
        MessageKind::Image,
        json!({"to": "5511999991234", "file": "photos/42", "caption": "pump"}),
    );
    assert_eq!(body["type"], "image");
    assert_eq!(
        body["image"],
        json!({"caption": "pump", "upload": {"file": "photos/42"}})
    );
    let body = build(
        MessageKind::Audio,
        json!({"to": "5511999991234", "file": "notes/a.ogg"}),
    );
    assert_eq!(
        body["audio"],
        json!({"upload": {"file": "notes/a.ogg", "mime_type": "audio/ogg"}})
    );
    let body = build(
        MessageKind::Template,
        json!({"to": "5511999991234", "template": "invoice", "language": "pt_BR",
               "header": {"type": "document", "file": "inv/9.pdf", "filename": "Fatura 9.pdf"}}),
    );
    assert_eq!(
        body["template"]["components"][0]["parameters"][0],
        json!({"type": "document", "document": {"filename": "Fatura 9.pdf",
               "upload": {"file": "inv/9.pdf", "mime_type": "application/pdf"}}})
    );
}

#[test]
fn interactive_payloads() {
    let body = build(
        MessageKind::Interactive,
        json!({"to": "user.9373795779eb6441", "body": "Can you take OT-1021?", "header": "OT-1021",
               "footer": "Maintenance", "buttons": [{"id": "accept", "title": "Accept"}, {"id": "decline", "title": "Decline"}],
               "callback_data": "wo:1021"}),
    );
    assert_eq!(
        body,
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "user.9373795779eb6441",
            "biz_opaque_callback_data": "wo:1021", "type": "interactive",
            "interactive": {"type": "button", "header": {"type": "text", "text": "OT-1021"},
                "body": {"text": "Can you take OT-1021?"}, "footer": {"text": "Maintenance"},
                "action": {"buttons": [{"type": "reply", "reply": {"id": "accept", "title": "Accept"}},
                                       {"type": "reply", "reply": {"id": "decline", "title": "Decline"}}]}}})
    );
}

#[test]
fn phone_numbers_are_normalised() {
    assert_eq!(
        normalize_recipient("+55 (11) 99999-1234").unwrap(),
        "5511999991234"
    );
    assert_eq!(
        normalize_recipient("5511999991234").unwrap(),
        "5511999991234"
    );
    assert_eq!(normalize_recipient("+16505551234").unwrap(), "16505551234");
    assert_eq!(
        normalize_recipient(" 55 11 9 9999 1234 ").unwrap(),
        "5511999991234"
    );
    let bsuid = "user.9373795779eb6441c8adb2eaee5b848e7dd174ddd302d7db62142f4722d574b6";
    assert_eq!(normalize_recipient(bsuid).unwrap(), bsuid);
    assert!(normalize_recipient("1234567")
        .unwrap_err()
        .contains("7 digits"));
    assert!(normalize_recipient("1234567890123456")
        .unwrap_err()
        .contains("16 digits"));
    assert!(normalize_recipient("55 11 9999-ABCD")
        .unwrap_err()
        .contains("'A'"));
    assert!(normalize_recipient("011 5511 9999 1234")
        .unwrap_err()
        .contains("starts with 0"));
    assert!(normalize_recipient("55+11999991234").is_err());
    assert!(normalize_recipient("user.").is_err());
    assert!(normalize_recipient("user.a b").is_err());
    assert!(normalize_recipient("   ").unwrap_err().contains("blank"));
    // A number from a numeric column.
    let message = OutgoingMessage::from_payload(
        MessageKind::Text,
        &json!({"to": 5511999991234_u64, "text": "hi"}),
    )
    .unwrap();
    assert_eq!(message.to(), "5511999991234");
}
