//! Unit tests of `changes`: what a cursor remembers of a task.

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[test]
fn a_cursor_of_version_0_1_reads_as_one_count_of_its_value() {
    let state: State = serde_json::from_value(serde_json::json!({
        "tasks": {"77": ["1", "2026-03-01T00:00:00Z"]},
        "primed": true
    }))
    .unwrap();
    let entry = &state.tasks["77"];
    assert_eq!(entry.0, "1");
    assert_eq!(entry.2, BTreeMap::from([("1".to_owned(), 1)]));
    // Written back with its counts, and read again the same.
    let written = serde_json::to_value(&state).unwrap();
    assert_eq!(
        written["tasks"]["77"],
        serde_json::json!(["1", "2026-03-01T00:00:00Z", {"1": 1}])
    );
    assert_eq!(serde_json::from_value::<State>(written).unwrap(), state);
}

#[test]
fn a_cursor_of_another_shape_is_refused() {
    for bad in [
        serde_json::json!({"tasks": {"77": ["1"]}}),
        serde_json::json!({"tasks": {"77": ["1", "not a date"]}}),
        serde_json::json!({"tasks": {}, "other": 1}),
    ] {
        assert!(
            serde_json::from_value::<State>(bad.clone()).is_err(),
            "{bad}"
        );
    }
}

#[test]
fn coming_back_to_a_value_counts_up() {
    let mut entry = Entry::new("Ana".to_owned(), at("2026-03-01T00:00:00Z"));
    assert_eq!(entry.arrive("Jonas", at("2026-03-02T00:00:00Z")), 1);
    assert_eq!(entry.arrive("Ana", at("2026-03-03T00:00:00Z")), 2);
    assert_eq!(entry.arrive("Jonas", at("2026-03-04T00:00:00Z")), 2);
    assert_eq!(entry.0, "Jonas");
    assert_eq!(entry.1, at("2026-03-04T00:00:00Z"));
    assert_eq!(occurrence_suffix(1), "");
    assert_eq!(occurrence_suffix(2), ":2");
}

#[test]
fn a_task_keeps_a_bounded_number_of_values_and_never_the_current_one_goes() {
    let day = at("2026-03-01T00:00:00Z");
    let mut entry = Entry::new("v0".to_owned(), day);
    entry.arrive("v0b", day);
    entry.arrive("v0", day); // v0 twice: the most often had
    for i in 1..40 {
        let value = format!("v{i}");
        assert_eq!(entry.arrive(&value, day), 1);
        assert!(entry.2.len() <= MAX_VALUES_PER_TASK);
        assert!(entry.2.contains_key(&value));
    }
    assert_eq!(entry.2.get("v0"), Some(&2));
}
