//! The interactive forms: lists, CTA URL buttons, reply buttons with media headers and
//! location requests, and every Meta limit at its path.

use super::*;

fn rows(n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| json!({"id": format!("slot-{i}"), "title": format!("{:02}:00", 8 + i)}))
        .collect()
}

fn list(sections: Value) -> Value {
    json!({"to": "5511999991234", "body": "Pick a time for OT-1021",
           "list": {"button": "Choose a time", "sections": sections}})
}

#[test]
fn a_list_is_built_with_sections_rows_and_descriptions() {
    let body = build(
        MessageKind::Interactive,
        json!({"to": "5511999991234", "body": "Pick a time", "header": "OT-1021", "footer": "Maintenance",
        "list": {"button": "Choose a time", "sections": [
            {"title": "Morning", "rows": [{"id": "slot-9", "title": "09:00", "description": "Jonas Campos"}]},
            {"title": "Afternoon", "rows": [{"id": "slot-14", "title": "14:00"}]}
        ]}}),
    );
    assert_eq!(
        body["interactive"],
        json!({"type": "list", "header": {"type": "text", "text": "OT-1021"}, "body": {"text": "Pick a time"},
        "footer": {"text": "Maintenance"},
        "action": {"button": "Choose a time", "sections": [
            {"title": "Morning", "rows": [{"id": "slot-9", "title": "09:00", "description": "Jonas Campos"}]},
            {"title": "Afternoon", "rows": [{"id": "slot-14", "title": "14:00"}]}
        ]}})
    );
}

#[test]
fn cta_url_reply_buttons_with_media_and_location_requests_are_built() {
    let cta = build(
        MessageKind::Interactive,
        json!({"to": "5511999991234", "body": "Your work order is ready",
               "header": {"type": "image", "link": "https://erp.example.com/pump.jpg"},
               "cta_url": {"display_text": "Open OT-1021", "url": "https://erp.example.com/wo/1021"}}),
    );
    assert_eq!(
        cta["interactive"],
        json!({"type": "cta_url", "header": {"type": "image", "image": {"link": "https://erp.example.com/pump.jpg"}},
               "body": {"text": "Your work order is ready"},
               "action": {"name": "cta_url", "parameters": {"display_text": "Open OT-1021", "url": "https://erp.example.com/wo/1021"}}})
    );
    let buttons = build(
        MessageKind::Interactive,
        json!({"to": "5511999991234", "body": "Accept OT-1021?",
               "header": {"type": "document", "id": "1013859600285441", "filename": "OT-1021.pdf"},
               "buttons": [{"id": "accept", "title": "Accept"}]}),
    );
    assert_eq!(
        buttons["interactive"]["header"],
        json!({"type": "document", "document": {"id": "1013859600285441", "filename": "OT-1021.pdf"}})
    );
    let video = build(
        MessageKind::Interactive,
        json!({"to": "5511999991234", "body": "How to reset the pump",
               "header": {"type": "video", "link": "https://erp.example.com/reset.mp4"},
               "buttons": [{"id": "done", "title": "Done"}]}),
    );
    assert_eq!(video["interactive"]["header"]["type"], "video");
    let location = build(
        MessageKind::Interactive,
        json!({"to": "5511999991234", "body": "Where is the asset?", "location_request": true}),
    );
    assert_eq!(
        location["interactive"],
        json!({"type": "location_request_message", "body": {"text": "Where is the asset?"},
               "action": {"name": "send_location"}})
    );
}

#[test]
fn every_limit_is_checked_at_its_path_with_the_limit_in_the_error() {
    let long = |n: usize| "x".repeat(n);
    let cases: Vec<(Value, &str, &str)> = vec![
        // 10 rows in all sections.
        (list(json!([{"title": "A", "rows": rows(6)}, {"title": "B", "rows": rows(5).into_iter().map(|mut r| {
            r["id"] = json!(format!("b-{}", r["id"].as_str().unwrap())); r }).collect::<Vec<_>>()}])),
         "list.sections.1.rows.4.id", "at most 10 rows"),
        (list(json!([{"rows": rows(11)}])), "list.sections.0.rows.10.id", "at most 10 rows"),
        // 10 sections.
        (list(Value::Array((0..11).map(|i| json!({"title": format!("S{i}"), "rows": [{"id": format!("r{i}"), "title": "t"}]})).collect())),
         "list.sections", "1 to 10"),
        (list(json!([])), "list.sections", "1 to 10"),
        (list(json!([{"title": long(25), "rows": rows(1)}])), "list.sections.0.title", "at most 24"),
        (list(json!([{"rows": rows(1)}, {"title": "B", "rows": [{"id": "z", "title": "t"}]}])),
         "list.sections.0.title", "more than one"),
        (list(json!([{"rows": [{"id": "a", "title": long(25)}]}])), "list.sections.0.rows.0.title", "at most 24"),
        (list(json!([{"rows": [{"id": "a", "title": "t", "description": long(73)}]}])),
         "list.sections.0.rows.0.description", "at most 72"),
        (list(json!([{"rows": [{"id": long(201), "title": "t"}]}])), "list.sections.0.rows.0.id", "at most 200"),
        (list(json!([{"rows": [{"id": "a", "title": "t"}, {"id": "a", "title": "u"}]}])),
         "list.sections.0.rows.1.id", "unique"),
        (list(json!([{"title": "A", "rows": []}])), "list.sections.0.rows", "at least one row"),
        (list(json!([{"rows": [{"id": "a", "title": "t", "colour": "red"}]}])),
         "list.sections.0.rows.0.colour", "unknown field"),
        (json!({"to": "5511999991234", "body": "b", "list": {"button": long(21), "sections": [{"rows": rows(1)}]}}),
         "list.button", "at most 20"),
        (json!({"to": "5511999991234", "body": long(1025), "buttons": [{"id": "a", "title": "A"}]}), "body", "at most 1024"),
        (json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": long(21)}]}), "buttons.0.title", "at most 20"),
        (json!({"to": "5511999991234", "body": "b", "buttons": rows(4)}), "buttons", "1 to 3"),
        (json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}, {"id": "b", "title": "A"}]}),
         "buttons.1.title", "unique"),
        (json!({"to": "5511999991234", "body": "b", "footer": long(61), "buttons": rows(1)}), "footer", "at most 60"),
        (json!({"to": "5511999991234", "body": "b", "header": long(61), "buttons": rows(1)}), "header", "at most 60"),
        (json!({"to": "5511999991234", "body": "b", "header": {"type": "image", "link": "https://x.example/a.png"},
                "list": {"button": "Go", "sections": [{"rows": rows(1)}]}}), "header.type", "text only"),
        (json!({"to": "5511999991234", "body": "b", "header": {"type": "sticker", "id": "1"}, "buttons": rows(1)}),
         "header.type", "not a header type"),
        (json!({"to": "5511999991234", "body": "b", "header": {"type": "image", "link": "ftp://x/a.png"}, "buttons": rows(1)}),
         "header.link", "http(s)"),
        (json!({"to": "5511999991234", "body": "b", "cta_url": {"display_text": long(21), "url": "https://x.example"}}),
         "cta_url.display_text", "at most 20"),
        (json!({"to": "5511999991234", "body": "b", "cta_url": {"display_text": "Go", "url": "javascript:alert(1)"}}),
         "cta_url.url", "http(s)"),
        (json!({"to": "5511999991234", "body": "b", "cta_url": {"display_text": "Go"}}), "cta_url.url", "missing"),
        (json!({"to": "5511999991234", "body": "b", "location_request": true, "footer": "f"}), "footer", "only a body"),
        (json!({"to": "5511999991234", "body": "b", "location_request": "yes"}), "location_request", "expected true"),
        (json!({"to": "5511999991234", "body": "b", "buttons": rows(1), "list": {"button": "x"}}), "list", "not `buttons` and `list`"),
        (json!({"to": "5511999991234", "body": "b"}), "buttons", "`list`, `cta_url` or `location_request`"),
    ];
    for (payload, field, needle) in cases {
        let (at, message) = rejected(MessageKind::Interactive, payload.clone());
        assert_eq!(at, field, "{payload}: {message}");
        assert!(message.contains(needle), "{field}: {message}");
    }
}

#[test]
fn limits_are_inclusive() {
    let exact = |n: usize| "x".repeat(n);
    build(
        MessageKind::Interactive,
        json!({"to": "5511999991234", "body": exact(1024), "header": exact(60), "footer": exact(60),
        "list": {"button": exact(20), "sections": [
            {"title": exact(24), "rows": [{"id": exact(200), "title": exact(24), "description": exact(72)}]}
        ]}}),
    );
    let ten: Vec<Value> = (0..10)
        .map(|i| json!({"title": format!("S{i}"), "rows": [{"id": format!("r{i}"), "title": "t"}]}))
        .collect();
    build(MessageKind::Interactive, list(Value::Array(ten)));
    build(MessageKind::Interactive, list(json!([{"rows": rows(10)}])));
}
