//! Unit tests of `record`.

use super::*;
use serde_json::json;

fn record() -> Record {
    Record::new(
        "k1",
        "test.kind",
        json!({"a": {"b": [{"c": 1}, {"c": null}]}, "0": "zero", "s": "x"}),
    )
}

#[test]
fn get_walks_objects_and_arrays() {
    let r = record();
    assert_eq!(r.get("a.b.0.c"), Some(&json!(1)));
    assert_eq!(r.get("a.b.1.c"), Some(&Value::Null));
    assert_eq!(r.get("0"), Some(&json!("zero")));
    assert_eq!(r.get(""), Some(&r.data));
}

#[test]
fn get_returns_none_for_missing_paths() {
    let r = record();
    assert_eq!(r.get("a.b.2.c"), None);
    assert_eq!(r.get("a.b.x"), None);
    assert_eq!(r.get("s.deeper"), None);
    assert_eq!(r.get("a..b"), None);
    assert_eq!(r.get("a.b.-1"), None);
    assert_eq!(r.get("nope"), None);
}

#[test]
fn serde_round_trip_keeps_every_field() {
    let at = "2026-03-01T12:00:00Z".parse().unwrap();
    let r = record().occurred_at(at);
    let text = serde_json::to_string(&r).unwrap();
    let back: Record = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r);
    let plain: Record = serde_json::from_str(r#"{"key":"k","kind":"t","data":{}}"#).unwrap();
    assert_eq!(plain.occurred_at, None);
}
