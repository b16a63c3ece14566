//! Unit tests of `status`.

use super::*;

#[test]
fn statuses_round_trip_and_unknown_ones_stay_text() {
    for status in WorkOrderStatus::ALL {
        assert_eq!(WorkOrderStatus::from_id(status.id()), Some(status));
        for language in crate::fracttal::LABEL_LANGUAGES {
            assert!(status.label(language).is_some());
        }
    }
    assert_eq!(WorkOrderStatus::Completed.label("fr"), Some("Terminé"));
    assert_eq!(WorkOrderStatus::Cancelled.label("it"), Some("Annullato"));
    assert_eq!(WorkOrderStatus::InProcess.label("de"), None);
    let labels = labels(Some(WorkOrderStatus::InReview));
    assert_eq!(
        labels,
        json!({"en": "In review", "es": "En revisión", "pt": "Em revisão", "fr": "En révision", "it": "In revisione"})
    );
    let row = json!({"id_work_orders_tasks": "9", "id_status_work_order": "X7"});
    let record = status_change_record(row.as_object().unwrap().clone(), Some("1"), 1).unwrap();
    assert_eq!(record.key, "fracttal:wo-status:9:X7");
    assert_eq!(record.data["occurrence"], 1);
    assert_eq!(record.data["status_to"], "X7");
    assert_eq!(record.data["status_to_name"], Value::Null);
    assert_eq!(record.data["status_from_name"], "in_process");
    assert_eq!(record.occurred_at, None);
    let no_task = json!({"id_status_work_order": 1});
    assert!(status_change_record(no_task.as_object().unwrap().clone(), None, 1).is_none());
}

#[test]
fn the_spec_config_is_checked() {
    let client = FracttalClient::new("k".into(), "s".into());
    let config: StatusConfig = serde_json::from_value(json!({
        "connection": "f", "since": "later", "track_days": 0, "limit": 0, "max_pages": 0
    }))
    .unwrap();
    let errors = config.apply(client).unwrap_err();
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/since", "/track_days", "/limit", "/max_pages"]);
    let status = serde_json::from_value::<StatusConfig>(json!({"connection": "f", "status": 3}));
    assert!(
        status.is_err(),
        "a status filter would hide the transitions"
    );
}
