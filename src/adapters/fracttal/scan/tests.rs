//! Unit tests of `scan`.

use super::*;
use serde_json::json;

#[test]
fn caps_keep_the_newest_dates() {
    let day = |d: u32| -> DateTime<Utc> { format!("2026-03-{d:02}T00:00:00Z").parse().unwrap() };
    let mut map: BTreeMap<String, DateTime<Utc>> =
        (1..=5).map(|d| (format!("k{d}"), day(d))).collect();
    cap_by_date(&mut map, 2, |at| *at);
    assert_eq!(map.keys().collect::<Vec<_>>(), ["k4", "k5"]);
    cap_by_date(&mut map, 0, |at| *at);
    assert_eq!(map.len(), 2, "0 means no bound, not an empty map");
}

#[test]
fn numbers_from_json_or_text() {
    assert_eq!(number(Some(&json!(2.5))), Some(2.5));
    assert_eq!(number(Some(&json!(" 80 "))), Some(80.0));
    for none in [json!(""), json!(null), json!("NaN"), json!([1]), json!("x")] {
        assert_eq!(number(Some(&none)), None, "{none}");
    }
    assert_eq!(number(None), None);
    assert_eq!(number_value(120.0), json!(120));
    assert_eq!(number_value(-0.5), json!(-0.5));
    assert_eq!(number_value(1e300), json!(1e300));
}
