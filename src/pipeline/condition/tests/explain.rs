//! Skip reasons: what `explain` says about a record a rule does not pass.

use super::*;

fn rule(value: Value) -> Rule {
    Rule::parse(&value).unwrap()
}

fn record(data: Value) -> Record {
    Record::new("k", "t", data)
}

#[test]
fn a_passing_rule_has_nothing_to_explain() {
    let r = rule(json!({"field": "a", "op": "eq", "value": 1}));
    assert_eq!(r.explain(&record(json!({"a": 1}))), None);
    assert_eq!(Rule::Always.explain(&record(json!({}))), None);
}

#[test]
fn a_missing_field_says_so() {
    let r = rule(json!({"field": "chat.phone", "op": "exists"}));
    assert_eq!(
        r.explain(&record(json!({}))).unwrap(),
        "chat.phone is missing, expected exists"
    );
}

#[test]
fn all_names_the_first_failing_clause_and_any_names_them_all() {
    let all = rule(json!({"all": [
        {"field": "a", "op": "gt", "value": 1},
        {"field": "b", "op": "eq", "value": "x"}
    ]}));
    let r = record(json!({"a": 5, "b": "y"}));
    assert_eq!(all.explain(&r).unwrap(), r#"b is "y", expected eq "x""#);
    let any = rule(json!({"any": [
        {"field": "a", "op": "lt", "value": 1},
        {"field": "b", "op": "eq", "value": "x"}
    ]}));
    assert_eq!(
        any.explain(&r).unwrap(),
        r#"none of these holds: a is 5, expected lt 1; b is "y", expected eq "x""#
    );
    assert!(rule(json!({"any": []}))
        .explain(&r)
        .unwrap()
        .contains("empty"));
    let not = rule(json!({"not": {"field": "a", "op": "eq", "value": 5}}));
    assert_eq!(not.explain(&r).unwrap(), "a is 5, which is eq 5");
    let not_any = rule(json!({"not": {"any": [
        {"field": "mobile", "op": "empty"},
        {"field": "a", "op": "eq", "value": 7}
    ]}}));
    assert_eq!(
        not_any.explain(&r).unwrap(),
        "mobile is missing, which is empty"
    );
    let not_all = rule(json!({"not": {"all": [{"field": "a", "op": "eq", "value": 5}]}}));
    assert!(not_all.explain(&r).unwrap().contains("excludes"));
}

#[test]
fn long_values_are_cut() {
    let r = rule(json!({"field": "text", "op": "eq", "value": "short"}));
    let long = "x".repeat(200);
    let why = r.explain(&record(json!({"text": long}))).unwrap();
    assert!(why.chars().count() < 120, "{why}");
    assert!(why.contains('…'));
}
