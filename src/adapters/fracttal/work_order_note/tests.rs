//! Unit tests of `work_order_note`.

use super::*;

fn target() -> WorkOrderNoteTarget {
    WorkOrderNoteTarget::new(FracttalClient::new("k".into(), "s".into()))
}

fn record() -> Record {
    Record::new("fracttal:wo:90211:1", "t", json!({}))
}

fn prepare(payload: Value) -> Result<WorkOrderNote, TargetError> {
    target().prepare(&record(), &payload)
}

#[test]
fn the_marker_is_ten_hex_digits_of_the_key_hash() {
    // sha256("fracttal:wo:90211:1") starts with these ten digits.
    let digest = hex::encode(Sha256::digest(b"fracttal:wo:90211:1"));
    assert_eq!(
        note_marker("fracttal:wo:90211:1"),
        format!("[hf:{}]", &digest[..10])
    );
    let marker = note_marker("5511999991234:Jonas Campos");
    assert!(marker.starts_with("[hf:") && marker.ends_with(']'));
    assert!(marker[4..14].chars().all(|c| c.is_ascii_hexdigit()));
    assert!(!marker.contains("5511") && !marker.contains("Jonas"));
}

#[test]
fn a_task_id_is_looked_up_and_the_line_ends_with_the_marker() {
    let note = prepare(json!({
        "id_work_orders_tasks": 90211, "note": "  Read at 10:42\r\nby Jonas ", "account_code": "",
        "wo_folio": null
    }))
    .unwrap();
    assert_eq!(note.lookup().method, Method::Get);
    assert_eq!(
        note.lookup().url.as_str(),
        "https://app.fracttal.com/api/work_orders/?id_work_order_task=90211"
    );
    assert!(note.lookup().headers.get("authorization").is_none());
    let marker = note_marker("fracttal:wo:90211:1");
    assert_eq!(note.line(), format!("Read at 10:42\nby Jonas {marker}"));
    assert_eq!(note.marker(), marker);
    assert_eq!((note.id_work_order(), note.account_code()), (None, None));
    // What a plan shows: the read and the line, never a token.
    let shown = serde_json::to_value(&note).unwrap();
    assert_eq!(shown["line"], note.line());
    assert_eq!(shown["lookup"]["method"], "GET");
}

#[test]
fn a_folio_with_an_id_is_looked_up_by_folio() {
    let note = prepare(json!({
        "wo_folio": "OT 881", "id_work_order": "4410", "note": "x", "account_code": "CC-7"
    }))
    .unwrap();
    assert_eq!(
        note.lookup().url.as_str(),
        "https://app.fracttal.com/api/work_orders/?folio=OT+881"
    );
    assert_eq!(note.id_work_order(), Some("4410"));
    assert_eq!(note.account_code(), Some("CC-7"));
    let put = note.update("4410", "").unwrap().unwrap();
    assert_eq!(put.method, Method::Put);
    assert_eq!(
        put.url.as_str(),
        "https://app.fracttal.com/api/work_orders/4410"
    );
    assert_eq!(
        put.json_body().unwrap(),
        json!({"note": note.line(), "account_code": "CC-7"})
    );
}

#[test]
fn the_update_appends_once_and_refuses_a_note_too_long() {
    let note = prepare(json!({"id_work_orders_tasks": "90211", "note": "second"})).unwrap();
    let put = note.update("4410", "first line\n\n").unwrap().unwrap();
    assert_eq!(
        put.json_body().unwrap()["note"],
        format!("first line\n{}", note.line())
    );
    let written = format!("first line\n{}", note.line());
    assert_eq!(note.update("4410", &written), Ok(None));

    let long = "x".repeat(MAX_NOTE_BYTES - 5);
    assert_eq!(
        note.update("4410", &long),
        Err(WorkOrderNoteError::NoteTooLong {
            id_work_order: "4410".to_owned(),
            bytes: long.len() + 1 + note.line().len(),
            limit: MAX_NOTE_BYTES,
        })
    );
    assert!(matches!(
        note.update("../4410", ""),
        Err(WorkOrderNoteError::InvalidId { .. })
    ));
}

#[test]
fn problems_are_named_with_their_field() {
    let e = prepare(json!({"id_work_orders_tasks": 1})).unwrap_err();
    assert_eq!(
        e,
        TargetError::field("note", "required: the text to add to the work order's note")
    );
    let e = prepare(json!({"note": "x", "id_work_order": 4410})).unwrap_err();
    assert!(
        matches!(&e, TargetError::InvalidField { field, message }
            if field == "id_work_orders_tasks" && message.contains("no filter by `id_work_order`")),
        "{e}"
    );
    let e = prepare(json!({"note": "x"})).unwrap_err();
    assert!(e.to_string().contains("`wo_folio`"), "{e}");
    let e = prepare(json!({"id_work_orders_tasks": 1, "note": "x", "id_work_order": "4/10"}))
        .unwrap_err();
    assert!(matches!(&e, TargetError::InvalidField { field, .. } if field == "id_work_order"));
    let e = prepare(json!({"id_work_orders_tasks": 1, "note": "x".repeat(MAX_NOTE_BYTES)}))
        .unwrap_err();
    assert!(e.to_string().contains("over the limit"), "{e}");
    let e = prepare(json!({"id_work_orders_tasks": 1, "note": true})).unwrap_err();
    assert!(matches!(&e, TargetError::InvalidField { field, .. } if field == "note"));
    let e = prepare(json!({"id_work_order_task": 1, "notes": "x", "zzzzzzzzzzzz": 1})).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("did you mean `id_work_orders_tasks`"),
        "{text}"
    );
    assert!(text.contains("did you mean `note`"), "{text}");
    assert!(text.contains("known fields: note, id_work_order"), "{text}");
    assert!(prepare(json!("x")).is_err());
}

#[test]
fn the_read_answer_gives_the_work_order_and_its_note() {
    let note = prepare(json!({"id_work_orders_tasks": "90212", "note": "x"})).unwrap();
    let answer = |body: Value| Envelope::parse(200, body.to_string().as_bytes()).unwrap();
    // Only the row of the task counts, whatever else the query returned.
    let rows = answer(json!({"success": true, "data": [
        {"id_work_orders_tasks": 90211, "id_work_order": 1, "note": "other"},
        {"id_work_orders_tasks": "90212", "id_work_order": 4410, "note": null}
    ]}));
    assert_eq!(
        note.current(&rows).unwrap(),
        ("4410".to_owned(), String::new())
    );
    let none = answer(json!({"success": true, "data": [], "total": 0}));
    let e = note.current(&none).unwrap_err();
    assert!(!e.class().is_retryable());
    assert!(
        e.to_string()
            .contains("no work order with id_work_orders_tasks 90212"),
        "{e}"
    );
    let without_note =
        answer(json!({"data": [{"id_work_orders_tasks": 90212, "id_work_order": 4410}]}));
    let e = note.current(&without_note).unwrap_err();
    assert!(e.to_string().contains("no `note` field"), "{e}");
    assert!(!e.provider_may_have_acted());

    let of_another =
        prepare(json!({"wo_folio": "881", "id_work_order": 4411, "note": "x"})).unwrap();
    let rows = answer(json!({"data": [{"wo_folio": "881", "id_work_order": 4410, "note": ""}]}));
    let e = of_another.current(&rows).unwrap_err();
    assert!(
        e.to_string()
            .contains("wo_folio 881 and id_work_order 4411"),
        "{e}"
    );
}
