//! Unit tests of `requests`.

use super::*;
use serde_json::json;

#[test]
fn present_fields_are_not_overwritten_and_odd_types_do_not_fail() {
    let row = json!({"id": "r-1", "requester": "kept", "is_urgent": "maybe",
                     "email_requested_by": "ana@example.com", "description": {"odd": 1}});
    let record = work_request_record(row.as_object().unwrap().clone(), RequestDate::Date);
    assert_eq!(record.key, "fracttal:wr:r-1");
    assert_eq!(record.data["requester"], "kept");
    assert_eq!(record.data["urgent"], false);
    assert_eq!(record.occurred_at, None);
    let by_mail = json!({"requested_by": " ", "email_requested_by": "ana@example.com"});
    let record = work_request_record(by_mail.as_object().unwrap().clone(), RequestDate::Date);
    assert_eq!(record.data["requester"], "ana@example.com");
    assert!(record.key.starts_with("fracttal:wr:#"));
}

#[test]
fn the_spec_config_is_checked() {
    let client = FracttalClient::new("k".into(), "s".into());
    let config: RequestsConfig = serde_json::from_value(json!({
        "connection": "f", "status": 14, "since": "x", "max_pages": 0
    }))
    .unwrap();
    let errors = config.apply(client).unwrap_err();
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/status", "/since", "/max_pages"]);
}
