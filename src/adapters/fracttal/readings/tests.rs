//! Unit tests of `readings`.

use super::*;

#[test]
fn readings_without_meter_value_or_date_are_kept_and_never_alert() {
    let reading = json!({"serial": 7, "value": "n/a"});
    let record = reading_record(reading.as_object().unwrap().clone(), None);
    assert_eq!(record.data["out_of_range"], "none");
    assert_eq!(record.data["value"], Value::Null);
    assert_eq!(record.data["meter"], Value::Null);
    assert_eq!(record.data["serial"], "7");
    assert!(
        record.key.starts_with("fracttal:reading:7:#"),
        "{}",
        record.key
    );
    assert_eq!(
        record.key,
        reading_key(reading.as_object().unwrap()),
        "stable"
    );
    let below = json!({"serial": "7", "value": -3, "date": "2026-03-02"});
    let meter = json!({"serial": "7", "min_value": "0", "max_value": null});
    let record = reading_record(below.as_object().unwrap().clone(), meter.as_object());
    assert_eq!(record.data["out_of_range"], "below");
    assert_eq!(record.data["limit"], 0);
    assert_eq!(record.data["max"], Value::Null);
    assert_eq!(
        record.data["out_of_range_label"]["es"],
        "por debajo del mínimo"
    );
    assert_eq!(
        record.data["out_of_range_label"]["fr"],
        "en dessous du minimum"
    );
    assert_eq!(record.data["out_of_range_label"]["it"], "sotto il minimo");
    assert_eq!(OutOfRange::Above.label("it"), Some("sopra il massimo"));
    assert_eq!(OutOfRange::None.label("de"), None);
}

#[test]
fn the_spec_config_is_checked() {
    let client = FracttalClient::new("k".into(), "s".into());
    let config: ReadingsConfig = serde_json::from_value(json!({
        "connection": "f", "source": "IOT", "until": "never", "limit": 101,
        "max_meter_pages": 0, "meters_path": "https://elsewhere.example/x"
    }))
    .unwrap();
    let errors = config.apply(client).unwrap_err();
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/source",
            "/until",
            "/limit",
            "/max_meter_pages",
            "/meters_path"
        ]
    );
}
