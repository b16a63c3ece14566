//! Parse errors: every problem collected, each at its JSON pointer with a hint.

use super::*;
use crate::pipeline::condition::parse::MAX_DEPTH;

#[test]
fn unknown_operator_lists_every_name() {
    let errors =
        Rule::parse(&json!({"all": [{"field": "a", "op": "equal", "value": 1}]})).unwrap_err();
    assert_eq!(paths(&errors), ["/all/0/op"]);
    let error = errors.iter().next().unwrap();
    assert_eq!(error.message, "unknown operator \"equal\"");
    let hint = error.hint.as_deref().unwrap();
    assert!(hint.starts_with("did you mean \"eq\"? expected one of eq, ne, contains"));
    for op in Op::ALL {
        assert!(hint.contains(op.name()), "{hint}");
    }
    let symbol = Rule::parse(&json!({"field": "a", "op": ">=", "value": 1})).unwrap_err();
    assert!(symbol.to_string().contains("did you mean \"gte\""));
    let camel = Rule::parse(&json!({"field": "a", "op": "startsWith", "value": "x"})).unwrap_err();
    assert!(camel.to_string().contains("did you mean \"starts_with\""));
    let nonsense = Rule::parse(&json!({"field": "a", "op": "zzz", "value": 1})).unwrap_err();
    assert!(!nonsense.to_string().contains("did you mean"));
}

#[test]
fn two_bad_operators_in_different_branches_give_two_errors() {
    let errors = Rule::parse(&json!({"all": [
        {"field": "a", "op": "eq", "value": 1},
        {"any": [{"not": {"field": "b", "op": "equals", "value": 1}}]},
        {"field": "c", "op": "gtt", "value": 1}
    ]}))
    .unwrap_err();
    assert_eq!(paths(&errors), ["/all/1/any/0/not/op", "/all/2/op"]);
}

#[test]
fn comparison_shape_errors_are_all_collected() {
    // missing field + missing value for eq
    let errors = Rule::parse(&json!({"op": "eq"})).unwrap_err();
    assert_eq!(paths(&errors), ["/field", "/value"]);
    assert_eq!(errors.iter().next().unwrap().message, "missing \"field\"");
    // missing op
    let errors = Rule::parse(&json!({"field": "a", "value": 1})).unwrap_err();
    assert_eq!(paths(&errors), ["/op"]);
    // wrong types everywhere, each reported
    let errors = Rule::parse(&json!({
        "field": 3, "op": true, "value": 1, "case_insensitive": "yes"
    }))
    .unwrap_err();
    assert_eq!(paths(&errors), ["/field", "/op", "/case_insensitive"]);
}

#[test]
fn operand_errors() {
    let errors = Rule::parse(&json!({"all": [
        {"field": "a", "op": "in", "value": "open"},
        {"field": "a", "op": "not_in", "value": {"a": 1}},
        {"field": "a", "op": "matches", "value": "(unclosed"},
        {"field": "a", "op": "matches", "value": 5},
        {"field": "a", "op": "starts_with", "value": 5},
        {"field": "a", "op": "gt", "value": [1]},
        {"field": "a", "op": "exists", "value": true},
        {"field": "a", "op": "contains"}
    ]}))
    .unwrap_err();
    assert_eq!(
        paths(&errors),
        [
            "/all/0/value",
            "/all/1/value",
            "/all/2/value",
            "/all/3/value",
            "/all/4/value",
            "/all/5/value",
            "/all/6/value",
            "/all/7/value"
        ]
    );
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(
        messages[0],
        "operator \"in\" cannot use a string as its value"
    );
    assert!(
        messages[2].starts_with("invalid regular expression: "),
        "{}",
        messages[2]
    );
    assert!(!messages[2].contains('\n'));
    assert_eq!(messages[6], "operator \"exists\" takes no value");
    assert_eq!(messages[7], "operator \"contains\" needs a \"value\"");
}

#[test]
fn unknown_keys_in_a_comparison_are_denied() {
    let errors = Rule::parse(&json!({
        "field": "a", "op": "eq", "value": 1, "caseInsensitive": true, "note": "x/y"
    }))
    .unwrap_err();
    assert_eq!(paths(&errors), ["/caseInsensitive", "/note"]);
    let first = errors.iter().next().unwrap();
    assert_eq!(first.message, "unknown key \"caseInsensitive\"");
    let hint = first.hint.as_deref().unwrap();
    assert!(
        hint.starts_with("did you mean \"case_insensitive\"?"),
        "{hint}"
    );
    assert!(hint.contains("\"field\", \"op\", \"value\", \"case_insensitive\""));
    // keys are escaped as JSON-pointer tokens
    let errors = Rule::parse(&json!({"field": "a", "op": "exists", "a/b": 1})).unwrap_err();
    assert_eq!(paths(&errors), ["/a~1b"]);
}

#[test]
fn bad_field_paths() {
    let errors = Rule::parse(&json!({"any": [
        {"field": "", "op": "exists"},
        {"field": "a..b", "op": "exists"},
        {"field": ".a", "op": "exists"},
        {"field": "a.", "op": "exists"},
        {"field": "a.b", "op": "exists"}
    ]}))
    .unwrap_err();
    assert_eq!(
        paths(&errors),
        [
            "/any/0/field",
            "/any/1/field",
            "/any/2/field",
            "/any/3/field"
        ]
    );
    assert_eq!(errors.iter().next().unwrap().message, "empty field path");
    assert_eq!(
        errors.iter().nth(1).unwrap().message,
        "field path \"a..b\" has an empty segment"
    );
}

#[test]
fn field_and_operand_errors_are_both_reported_when_the_op_is_fine() {
    let errors = Rule::parse(&json!({"field": "a..b", "op": "in", "value": 1})).unwrap_err();
    assert_eq!(paths(&errors), ["/field", "/value"]);
    // ...and when the op is unknown, the field is still checked
    let errors = Rule::parse(&json!({"field": "", "op": "nope", "value": 1})).unwrap_err();
    assert_eq!(paths(&errors), ["/field", "/op"]);
}

#[test]
fn objects_that_are_no_rule() {
    let errors = Rule::parse(&json!({"all": [
        {},
        {"feild": "a"},
        {"all": [], "field": "a"},
        {"all": [], "any": []},
        {"all": [], "extra": 1},
        {"all": {"field": "a", "op": "exists"}},
        {"not": [{"field": "a", "op": "exists"}]},
        {"always": false},
        {"always": "yes"},
        "never",
        42,
        null
    ]}))
    .unwrap_err();
    assert_eq!(
        paths(&errors),
        [
            "/all/0",
            "/all/1",
            "/all/2",
            "/all/3",
            "/all/4/extra",
            "/all/5/all",
            "/all/6/not",
            "/all/7/always",
            "/all/8/always",
            "/all/9",
            "/all/10",
            "/all/11"
        ]
    );
    let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
    assert_eq!(messages[0], "an empty object is not a rule");
    assert_eq!(messages[2], "ambiguous rule with keys \"all\", \"field\"");
    assert_eq!(messages[4], "unknown key \"extra\" beside \"all\"");
    assert_eq!(messages[9], "unknown rule \"never\"");
    assert_eq!(messages[10], "expected a rule, found a number");
    assert!(errors.iter().all(|e| e.hint.is_some()));
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let mut value = json!("always");
    for _ in 0..(MAX_DEPTH + 10) {
        value = json!({ "not": value });
    }
    let errors = Rule::parse(&value).unwrap_err();
    assert_eq!(errors.len(), 1);
    let expected = "/not".repeat(MAX_DEPTH + 1);
    assert_eq!(errors.iter().next().unwrap().path, expected);
    let mut ok = json!("always");
    for _ in 0..MAX_DEPTH {
        ok = json!({ "not": ok });
    }
    assert!(Rule::parse(&ok).is_ok());
}

#[test]
fn spec_errors_prefix_into_a_flow_document() {
    let errors = Rule::parse(&json!({"all": [{"field": "a", "op": "equal", "value": 1}]}))
        .unwrap_err()
        .prefixed("/when");
    assert!(errors
        .to_string()
        .starts_with("/when/all/0/op: unknown operator \"equal\" (hint: did you mean \"eq\"?"));
}
