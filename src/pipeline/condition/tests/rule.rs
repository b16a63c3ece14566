//! Combinators, builders and the JSON form of rules.

use super::*;

#[test]
fn combinators() {
    let data = json!({"a": 1, "b": 2});
    let a = cmp("a", Op::Eq, Some(json!(1)));
    let b_wrong = cmp("b", Op::Eq, Some(json!(3)));
    assert!(holds(&Rule::Always, data.clone()));
    assert!(holds(&Rule::all([]), data.clone()));
    assert!(!holds(&Rule::any([]), data.clone()));
    assert!(holds(&Rule::all([a.clone()]), data.clone()));
    assert!(!holds(
        &Rule::all([a.clone(), b_wrong.clone()]),
        data.clone()
    ));
    assert!(holds(
        &Rule::any([b_wrong.clone(), a.clone()]),
        data.clone()
    ));
    assert!(!holds(&Rule::any([b_wrong.clone()]), data.clone()));
    assert!(holds(&Rule::not(b_wrong.clone()), data.clone()));
    assert!(!holds(&Rule::not(a.clone()), data.clone()));
    assert!(!holds(&Rule::not(Rule::Always), data));
}

#[test]
fn closures_and_comparisons_are_conditions() {
    let conditions: Vec<Box<dyn Condition>> = vec![
        Box::new(|r: &Record| r.kind == "test"),
        Box::new(Comparison::new("a", Op::Exists, None, false).unwrap()),
        Box::new(Rule::Always),
    ];
    let record = rec(json!({"a": 1}));
    assert!(conditions.iter().all(|c| c.evaluate(&record)));
    let other = Record::new("k", "other", json!({}));
    assert!(!conditions[0].evaluate(&other));
    assert!(!conditions[1].evaluate(&other));
}

#[test]
fn builders_produce_the_same_rules_as_json() {
    let built = Rule::all([
        Rule::field("a").eq("x").unwrap(),
        Rule::field("b").case_insensitive().ne("y").unwrap(),
        Rule::field("c").contains("z").unwrap(),
        Rule::field("c").not_contains("w").unwrap(),
        Rule::field("d").starts_with("p").unwrap(),
        Rule::field("d").ends_with("s").unwrap(),
        Rule::field("e").gt(1).unwrap(),
        Rule::field("e").gte(1.5).unwrap(),
        Rule::field("e").lt("2026-03-01").unwrap(),
        Rule::field("e").lte(9).unwrap(),
        Rule::field("f").is_in(["a", "b"]).unwrap(),
        Rule::field("f").not_in([1, 2]).unwrap(),
        Rule::field("g").exists().unwrap(),
        Rule::field("g").missing().unwrap(),
        Rule::field("g").empty().unwrap(),
        Rule::field("h").case_insensitive().matches("^x").unwrap(),
        Rule::compare("i", Op::Eq, json!(null)).unwrap(),
        Rule::compare("i", Op::Exists, None).unwrap(),
    ]);
    let json = json!({"all": [
        {"field": "a", "op": "eq", "value": "x"},
        {"field": "b", "op": "ne", "value": "y", "case_insensitive": true},
        {"field": "c", "op": "contains", "value": "z"},
        {"field": "c", "op": "not_contains", "value": "w"},
        {"field": "d", "op": "starts_with", "value": "p"},
        {"field": "d", "op": "ends_with", "value": "s"},
        {"field": "e", "op": "gt", "value": 1},
        {"field": "e", "op": "gte", "value": 1.5},
        {"field": "e", "op": "lt", "value": "2026-03-01"},
        {"field": "e", "op": "lte", "value": 9},
        {"field": "f", "op": "in", "value": ["a", "b"]},
        {"field": "f", "op": "not_in", "value": [1, 2]},
        {"field": "g", "op": "exists"},
        {"field": "g", "op": "missing"},
        {"field": "g", "op": "empty"},
        {"field": "h", "op": "matches", "value": "^x", "case_insensitive": true},
        {"field": "i", "op": "eq", "value": null},
        {"field": "i", "op": "exists"}
    ]});
    assert_eq!(Rule::parse(&json).unwrap(), built);
    assert_eq!(serde_json::to_value(&built).unwrap(), json);
    assert_eq!(
        built.fields(),
        ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
    );
    assert!(Rule::field("").eq(1).is_err());
    assert!(Rule::field("h").matches("(").is_err());
    assert!(Rule::compare("x", Op::Empty, json!(1)).is_err());
}

#[test]
fn the_fracttal_filter_parses_and_evaluates() {
    let rule: Rule = serde_json::from_str(
        r#"{"all":[{"field":"user_assigned","op":"eq","value":"Jonas Campos"}]}"#,
    )
    .unwrap();
    assert_eq!(
        rule,
        Rule::all([Rule::field("user_assigned").eq("Jonas Campos").unwrap()])
    );
    assert!(holds(&rule, json!({"user_assigned": "Jonas Campos"})));
    assert!(!holds(&rule, json!({"user_assigned": "Ana Souza"})));
    assert!(!holds(&rule, json!({})));
}

#[test]
fn always_has_two_spellings() {
    assert_eq!(Rule::parse(&json!("always")).unwrap(), Rule::Always);
    assert_eq!(Rule::parse(&json!({"always": true})).unwrap(), Rule::Always);
    assert_eq!(serde_json::to_value(Rule::Always).unwrap(), json!("always"));
}

#[test]
fn serde_round_trip() {
    let rule = Rule::any([
        Rule::Always,
        Rule::not(Rule::all([])),
        Rule::field("a.0.b")
            .case_insensitive()
            .matches("x+")
            .unwrap(),
        Rule::field("c")
            .is_in([json!(1), json!("2"), json!(null)])
            .unwrap(),
        Rule::field("d").missing().unwrap(),
    ]);
    let text = serde_json::to_string(&rule).unwrap();
    let back: Rule = serde_json::from_str(&text).unwrap();
    assert_eq!(back, rule);
    assert_eq!(
        Rule::parse(&serde_json::to_value(&rule).unwrap()).unwrap(),
        rule
    );
}

#[test]
fn deserialize_reports_every_problem_through_parse() {
    let err = serde_json::from_value::<Rule>(json!({"any": [
        {"field": "a", "op": "equal", "value": 1},
        {"field": "b", "op": "bigger", "value": 1}
    ]}))
    .unwrap_err()
    .to_string();
    assert!(err.contains("2 problems"), "{err}");
    assert!(
        err.contains("/any/0/op: unknown operator \"equal\""),
        "{err}"
    );
    assert!(
        err.contains("/any/1/op: unknown operator \"bigger\""),
        "{err}"
    );
}
