//! Unit tests of `rows`.

use super::*;
use serde_json::json;

#[test]
fn aliases_fill_only_absent_fields_in_order() {
    let mut row = json!({
        "description": "Check seals",
        "items_log_description": null,
        "items_description": "Pump 3",
        "personnel_description": "Maria Silva",
        "user_assigned": "Jonas Campos",
    });
    let map = row.as_object_mut().unwrap();
    apply_aliases(map);
    assert_eq!(map["task_todo_description"], "Check seals");
    assert_eq!(map["item_description"], "Pump 3");
    assert_eq!(map["responsible"], "Maria Silva");

    let mut present =
        json!({"description": "new", "task_todo_description": null, "responsible": "X"});
    let map = present.as_object_mut().unwrap();
    apply_aliases(map);
    assert_eq!(map["task_todo_description"], Value::Null);
    assert_eq!(map["responsible"], "X");
    assert!(!map.contains_key("item_description"));
}

#[test]
fn keys_use_task_id_and_status_and_fall_back_to_content() {
    let row = json!({"id_work_orders_tasks": "  9 ", "id_status_work_order": 3});
    assert_eq!(work_order_key(row.as_object().unwrap()), "fracttal:wo:9:3");
    let a = json!({"wo_folio": "OT-1", "description": "a"});
    let b = json!({"wo_folio": "OT-1", "description": "b"});
    let ka = work_order_key(a.as_object().unwrap());
    let kb = work_order_key(b.as_object().unwrap());
    assert!(
        ka.starts_with("fracttal:wo:OT-1#") && ka.ends_with(":none"),
        "{ka}"
    );
    assert_ne!(ka, kb, "tasks of one folio stay apart");
    assert_eq!(ka, work_order_key(a.as_object().unwrap()), "stable");
}

#[test]
fn dates_in_every_form() {
    let utc = parse_date("2019-09-04T15:06:56.045508+00:00").unwrap();
    assert_eq!(utc.to_rfc3339(), "2019-09-04T15:06:56.045508+00:00");
    assert_eq!(
        parse_date("2016-07-12T20:00:00-03").unwrap(),
        parse_date("2016-07-12T23:00:00Z").unwrap()
    );
    assert_eq!(
        parse_date("2016-07-12 20:00:00+05").unwrap().to_rfc3339(),
        "2016-07-12T15:00:00+00:00"
    );
    assert_eq!(
        parse_date("2016-07-12").unwrap().to_rfc3339(),
        "2016-07-12T00:00:00+00:00"
    );
    assert!(parse_date("2016-07-12T20:00:00-99").is_none());
    assert!(parse_date("").is_none());
    let at = parse_date("2026-03-02T08:00:05.999+00:00").unwrap();
    assert_eq!(
        parse_date(&format_date(at)).unwrap().timestamp(),
        at.timestamp()
    );
}

#[test]
fn typed_views_tolerate_types_and_keep_unknown_fields() {
    let task = WorkOrderTask::try_from(&json!({
        "id_status_work_order": "x", "duration": "3600", "done": "yes",
        "description": {"odd": true}, "labels": ["a"]
    }))
    .unwrap();
    assert_eq!(task.id_status_work_order, None);
    assert_eq!(task.duration, Some(3600.0));
    assert_eq!(task.done, Some(true));
    assert_eq!(task.description, None);
    assert_eq!(task.extra["labels"], json!(["a"]));
    assert!(WorkOrderTask::try_from(&json!([1])).is_err());
    let back = serde_json::to_value(&task).unwrap();
    assert_eq!(back["labels"], json!(["a"]));
}
