//! Unit tests of `text`.

use super::*;
use serde_json::json;

#[test]
fn truncate_marks_a_cut_and_counts_characters() {
    assert_eq!(truncate("ação", 4), "ação");
    assert_eq!(truncate("ação!", 4), "ação…");
    assert_eq!(truncate("", 0), "");
}

#[test]
fn text_of_renders_values() {
    assert_eq!(text_of(&json!("a b")), "a b");
    assert_eq!(text_of(&Value::Null), "");
    assert_eq!(text_of(&json!(12)), "12");
    assert_eq!(text_of(&json!({"a": 1})), "{\"a\":1}");
}
