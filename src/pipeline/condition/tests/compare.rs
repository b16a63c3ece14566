//! The operators, positive and negative, on every kind of value.

use super::*;

#[test]
fn eq_and_ne() {
    let rule = cmp("name", Op::Eq, Some(json!("Jonas Campos")));
    assert!(holds(&rule, json!({"name": "Jonas Campos"})));
    assert!(!holds(&rule, json!({"name": "jonas campos"})));
    assert!(!holds(&rule, json!({"name": 1})));
    let ne = cmp("name", Op::Ne, Some(json!("Jonas Campos")));
    assert!(!holds(&ne, json!({"name": "Jonas Campos"})));
    assert!(holds(&ne, json!({"name": "Ana"})));
    // bools, null and objects by JSON equality
    assert!(holds(
        &cmp("b", Op::Eq, Some(json!(true))),
        json!({"b": true})
    ));
    assert!(!holds(
        &cmp("b", Op::Eq, Some(json!(true))),
        json!({"b": "true"})
    ));
    assert!(holds(
        &cmp("n", Op::Eq, Some(json!(null))),
        json!({"n": null})
    ));
    assert!(holds(
        &cmp("o", Op::Eq, Some(json!({"a": [1]}))),
        json!({"o": {"a": [1]}})
    ));
    assert!(!holds(
        &cmp("o", Op::Eq, Some(json!({"a": [1]}))),
        json!({"o": {"a": [2]}})
    ));
}

#[test]
fn numbers_compare_numerically_with_numeric_strings() {
    let rule = cmp("qty", Op::Eq, Some(json!(12)));
    assert!(holds(&rule, json!({"qty": 12})));
    assert!(holds(&rule, json!({"qty": 12.0})));
    assert!(holds(&rule, json!({"qty": "12.0"})));
    assert!(holds(&rule, json!({"qty": " 12 "})));
    assert!(!holds(&rule, json!({"qty": "12 units"})));
    assert!(!holds(&rule, json!({"qty": "NaN"})));
    assert!(holds(
        &cmp("qty", Op::Eq, Some(json!("12.0"))),
        json!({"qty": 12})
    ));
    // two strings compare as text, so "007" is not "7"
    assert!(!holds(
        &cmp("id", Op::Eq, Some(json!("7"))),
        json!({"id": "007"})
    ));
    // integers above 2^53 stay exact
    let big = cmp("id", Op::Eq, Some(json!(9_007_199_254_740_993_u64)));
    assert!(holds(&big, json!({"id": 9_007_199_254_740_993_u64})));
    assert!(!holds(&big, json!({"id": 9_007_199_254_740_992_u64})));
    assert!(holds(&big, json!({"id": "9007199254740993"})));
    assert!(holds(
        &cmp("n", Op::Eq, Some(json!(-1))),
        json!({"n": -1.0})
    ));
    assert!(holds(
        &cmp("n", Op::Lt, Some(json!(u64::MAX))),
        json!({"n": -1})
    ));
}

#[test]
fn ordering_operators() {
    let data = json!({"n": 10, "s": "10", "t": "b", "f": 2.5});
    for (op, value, expected) in [
        (Op::Gt, json!(9), true),
        (Op::Gt, json!(10), false),
        (Op::Gte, json!(10), true),
        (Op::Gte, json!(11), false),
        (Op::Lt, json!(11), true),
        (Op::Lt, json!(10), false),
        (Op::Lte, json!(10), true),
        (Op::Lte, json!(9.5), false),
        (Op::Gt, json!("9"), true), // number against numeric string
    ] {
        assert_eq!(
            holds(&cmp("n", op, Some(value.clone())), data.clone()),
            expected,
            "{op} {value}"
        );
    }
    // numeric string field against a number value: numeric
    assert!(holds(&cmp("s", Op::Gt, Some(json!(9))), data.clone()));
    // two strings: lexicographic
    assert!(!holds(&cmp("s", Op::Gt, Some(json!("9"))), data.clone()));
    assert!(holds(&cmp("t", Op::Gt, Some(json!("a"))), data.clone()));
    assert!(!holds(&cmp("t", Op::Gt, Some(json!("c"))), data.clone()));
    assert!(holds(&cmp("f", Op::Lt, Some(json!(3))), data.clone()));
    assert!(holds(&cmp("f", Op::Gt, Some(json!(2))), data.clone()));
}

#[test]
fn ordering_of_incompatible_types_is_false_both_ways() {
    for found in [
        json!(true),
        json!(null),
        json!([1]),
        json!({"a": 1}),
        json!("abc"),
    ] {
        for op in [Op::Gt, Op::Gte, Op::Lt, Op::Lte] {
            let rule = cmp("x", op, Some(json!(5)));
            assert!(!holds(&rule, json!({ "x": found })), "{op} on {found}");
        }
    }
}

#[test]
fn instants_compare_across_formats() {
    let gt = cmp("at", Op::Gt, Some(json!("2021-02-24T15:00:00Z")));
    assert!(holds(&gt, json!({"at": "2021-02-24T16:25:29+0000"})));
    assert!(!holds(&gt, json!({"at": "2021-02-24T14:25:29+0000"})));
    // 10:35 +02:00 is 08:35 UTC, which lexicographic comparison would get wrong
    let lt = cmp("at", Op::Lt, Some(json!("2024-01-08T09:00:00Z")));
    assert!(holds(&lt, json!({"at": "2024-01-08 10:35:18 +0200"})));
    let eq = cmp("at", Op::Eq, Some(json!("2026-03-01T12:00:00Z")));
    assert!(holds(&eq, json!({"at": "2026-03-01T09:00:00-03:00"})));
    assert!(holds(&eq, json!({"at": "2026-03-01 12:00:00"})));
    assert!(holds(&eq, json!({"at": "2026-03-01T12:00:00"})));
    assert!(!holds(&eq, json!({"at": "2026-03-01T12:00:01Z"})));
    let day = cmp("at", Op::Gte, Some(json!("2026-03-01")));
    assert!(holds(&day, json!({"at": "2026-03-01T00:00:00Z"})));
    assert!(!holds(&day, json!({"at": "2026-02-28T23:59:59Z"})));
    assert!(holds(
        &cmp("at", Op::In, Some(json!(["2026-03-01"]))),
        json!({"at": "2026-03-01 00:00:00"})
    ));
}

#[test]
fn contains_and_not_contains() {
    let rule = cmp("desc", Op::Contains, Some(json!("filter")));
    assert!(holds(&rule, json!({"desc": "Replace filter now"})));
    assert!(!holds(&rule, json!({"desc": "Replace FILTER now"})));
    let tags = cmp("tags", Op::Contains, Some(json!("urgent")));
    assert!(holds(&tags, json!({"tags": ["a", "urgent"]})));
    assert!(!holds(&tags, json!({"tags": ["a", "urgentish"]})));
    // array elements use eq semantics
    assert!(holds(
        &cmp("ids", Op::Contains, Some(json!(3))),
        json!({"ids": [1, "3.0"]})
    ));
    // a number's text
    assert!(holds(
        &cmp("phone", Op::Contains, Some(json!("987"))),
        json!({"phone": 5511987654321_u64})
    ));
    assert!(!holds(&rule, json!({"desc": {"filter": 1}})));
    let not = cmp("desc", Op::NotContains, Some(json!("filter")));
    assert!(!holds(&not, json!({"desc": "Replace filter now"})));
    assert!(holds(&not, json!({"desc": "Oil change"})));
}

#[test]
fn starts_with_and_ends_with() {
    let starts = cmp("folio", Op::StartsWith, Some(json!("OT-")));
    assert!(holds(&starts, json!({"folio": "OT-881"})));
    assert!(!holds(&starts, json!({"folio": "ot-881"})));
    assert!(!holds(&starts, json!({"folio": ["OT-881"]})));
    let ends = cmp("folio", Op::EndsWith, Some(json!("881")));
    assert!(holds(&ends, json!({"folio": "OT-881"})));
    assert!(!holds(&ends, json!({"folio": "OT-882"})));
    let phone = cmp("phone", Op::StartsWith, Some(json!("55")));
    assert!(holds(&phone, json!({"phone": 5511987654321_u64})));
    assert!(!holds(&phone, json!({"phone": 4411987654321_u64})));
}

#[test]
fn in_and_not_in() {
    let rule = cmp("status", Op::In, Some(json!(["open", "in_progress", 3])));
    assert!(holds(&rule, json!({"status": "open"})));
    assert!(holds(&rule, json!({"status": "3"})));
    assert!(!holds(&rule, json!({"status": "closed"})));
    let not = cmp("status", Op::NotIn, Some(json!(["closed"])));
    assert!(holds(&not, json!({"status": "open"})));
    assert!(!holds(&not, json!({"status": "closed"})));
    assert!(!holds(&cmp("s", Op::In, Some(json!([]))), json!({"s": 1})));
}

#[test]
fn exists_missing_empty() {
    let exists = cmp("a", Op::Exists, None);
    let missing = cmp("a", Op::Missing, None);
    let empty = cmp("a", Op::Empty, None);
    for (data, e, m, em) in [
        (json!({"a": null}), true, false, true),
        (json!({"a": ""}), true, false, true),
        (json!({"a": []}), true, false, true),
        (json!({"a": {}}), true, false, true),
        (json!({"a": " "}), true, false, false),
        (json!({"a": 0}), true, false, false),
        (json!({"a": false}), true, false, false),
        (json!({"a": [null]}), true, false, false),
        (json!({"b": 1}), false, true, true),
        (json!("not an object"), false, true, true),
    ] {
        assert_eq!(holds(&exists, data.clone()), e, "exists {data}");
        assert_eq!(holds(&missing, data.clone()), m, "missing {data}");
        assert_eq!(holds(&empty, data.clone()), em, "empty {data}");
    }
}

#[test]
fn matches_uses_the_compiled_pattern() {
    let rule = cmp("folio", Op::Matches, Some(json!(r"^OT-\d{3}$")));
    assert!(holds(&rule, json!({"folio": "OT-881"})));
    assert!(!holds(&rule, json!({"folio": "OT-8811"})));
    assert!(!holds(&rule, json!({"folio": "ot-881"})));
    assert!(!holds(&rule, json!({"folio": null})));
    assert!(holds(
        &cmp("n", Op::Matches, Some(json!(r"^\d+$"))),
        json!({"n": 42})
    ));
    let ci = cmp_ci("folio", Op::Matches, Some(json!(r"^ot-\d+$")));
    assert!(holds(&ci, json!({"folio": "OT-881"})));
    // the case flag is part of the compiled regex, not just of the stored flag
    let Rule::Compare(c) = &ci else {
        unreachable!()
    };
    assert!(c.pattern.as_ref().unwrap().0.is_match("OT-1"));
}

#[test]
fn case_insensitive_strings_are_unicode_aware() {
    let eq = cmp_ci("name", Op::Eq, Some(json!("josé")));
    assert!(holds(&eq, json!({"name": "JOSÉ"})));
    assert!(!holds(
        &cmp("name", Op::Eq, Some(json!("josé"))),
        json!({"name": "JOSÉ"})
    ));
    assert!(holds(
        &cmp_ci("name", Op::Ne, Some(json!("JOSÉ"))),
        json!({"name": "joão"})
    ));
    assert!(!holds(
        &cmp_ci("name", Op::Ne, Some(json!("JOSÉ"))),
        json!({"name": "José"})
    ));
    assert!(holds(
        &cmp_ci("d", Op::Contains, Some(json!("FILTRO"))),
        json!({"d": "Trocar filtro de óleo"})
    ));
    assert!(holds(
        &cmp_ci("d", Op::StartsWith, Some(json!("ÁGUA"))),
        json!({"d": "água gelada"})
    ));
    assert!(holds(
        &cmp_ci("d", Op::EndsWith, Some(json!("ÇÃO"))),
        json!({"d": "manutenção"})
    ));
    assert!(holds(
        &cmp_ci("tags", Op::Contains, Some(json!("URGENT"))),
        json!({"tags": ["urgent"]})
    ));
    assert!(holds(
        &cmp_ci("s", Op::In, Some(json!(["OPEN"]))),
        json!({"s": "Open"})
    ));
    // by code point 'B' < 'a'; ignoring case, "a" < "b"
    assert!(holds(
        &cmp("s", Op::Gt, Some(json!("B"))),
        json!({"s": "a"})
    ));
    assert!(holds(
        &cmp_ci("s", Op::Lt, Some(json!("B"))),
        json!({"s": "a"})
    ));
    assert!(!holds(
        &cmp("s", Op::Lt, Some(json!("B"))),
        json!({"s": "a"})
    ));
}

#[test]
fn missing_field_gives_the_documented_answer_for_every_op() {
    let data = json!({"other": 1});
    for &op in Op::ALL {
        let value = match op {
            Op::In | Op::NotIn => Some(json!([1, null])),
            Op::Exists | Op::Missing | Op::Empty => None,
            _ => Some(json!("1")),
        };
        let rule = cmp("absent.path", op, value);
        let expected = matches!(
            op,
            Op::Ne | Op::NotContains | Op::NotIn | Op::Missing | Op::Empty
        );
        assert_eq!(holds(&rule, data.clone()), expected, "{op}");
    }
}

#[test]
fn nested_paths_with_array_indexes() {
    let data = json!({"wo": {"tasks": [
        {"assignee": {"name": "Ana"}},
        {"assignee": {"name": "Jonas Campos"}}
    ]}});
    assert!(holds(
        &cmp(
            "wo.tasks.1.assignee.name",
            Op::Eq,
            Some(json!("Jonas Campos"))
        ),
        data.clone()
    ));
    assert!(!holds(
        &cmp(
            "wo.tasks.0.assignee.name",
            Op::Eq,
            Some(json!("Jonas Campos"))
        ),
        data.clone()
    ));
    assert!(holds(&cmp("wo.tasks.2", Op::Missing, None), data.clone()));
    assert!(holds(&cmp("wo.tasks.0.assignee", Op::Exists, None), data));
}

#[test]
fn op_names_match_serde_names() {
    assert_eq!(Op::ALL.len(), 16);
    for &op in Op::ALL {
        assert_eq!(serde_json::to_value(op).unwrap(), json!(op.name()));
        assert_eq!(Op::from_name(op.name()), Some(op));
        assert_eq!(op.to_string(), op.name());
    }
    assert_eq!(Op::from_name("EQ"), None);
}
