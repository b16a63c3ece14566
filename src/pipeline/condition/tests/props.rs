//! Properties: evaluation and parsing never panic, negations agree, serialized rules
//! parse back.

use std::cmp::Ordering;

use proptest::prelude::*;

use super::*;
use crate::pipeline::condition::compare::{cmp_ignoring_case, eq_ignoring_case, equal, order};

fn key() -> impl Strategy<Value = String> {
    prop_oneof!["[ab]", "[0-2]", Just("a.b".to_owned()), Just(String::new())]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[ -~]{0,8}".prop_map(Value::from),
        "[aAéÉ0-9 .-]{0,6}".prop_map(Value::from),
        prop_oneof![
            Just("2026-03-01"),
            Just("2026-03-01T12:00:00Z"),
            Just("2021-02-24T16:25:29+0000"),
            Just("2024-01-08 10:35:18 +0200"),
            Just("12.0"),
            Just(" 7 "),
            Just("1e400"),
            Just("NaN"),
        ]
        .prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

fn path() -> impl Strategy<Value = String> {
    prop_oneof![
        9 => prop::collection::vec(prop_oneof!["[ab]", "[0-2]"], 1..4)
            .prop_map(|segments| segments.join(".")),
        1 => prop_oneof![Just(String::new()), Just("a..b".to_owned())],
    ]
}

/// Mostly valid comparisons: the operand is shaped for the operator, but paths,
/// patterns and operand types are sometimes wrong, and those come out as `None`.
fn comparison() -> impl Strategy<Value = Option<Comparison>> {
    (
        prop::sample::select(Op::ALL),
        path(),
        prop_oneof![
            json_value(),
            Just(json!("^a")),
            Just(json!("(")),
            Just(json!("[é]+"))
        ],
        prop::collection::vec(json_value(), 0..4),
        any::<bool>(),
    )
        .prop_map(|(op, path, value, list, ci)| {
            let value = match op {
                Op::Exists | Op::Missing | Op::Empty => None,
                Op::In | Op::NotIn => Some(Value::Array(list)),
                _ => Some(value),
            };
            Comparison::new(path, op, value, ci).ok()
        })
}

fn rule() -> impl Strategy<Value = Rule> {
    let leaf = prop_oneof![
        1 => Just(Rule::Always),
        6 => comparison().prop_filter_map("invalid comparison", |c| c.map(Rule::Compare)),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Rule::All),
            prop::collection::vec(inner.clone(), 0..4).prop_map(Rule::Any),
            inner.prop_map(Rule::not),
        ]
    })
}

/// JSON built from the rule language's own words, so that parsing gets past the
/// first check and into every branch.
fn rule_like_json() -> impl Strategy<Value = Value> {
    let word = prop_oneof![
        prop::sample::select(vec![
            "all",
            "any",
            "not",
            "always",
            "field",
            "op",
            "value",
            "case_insensitive",
            "eq",
            "in",
            "matches",
            "exists",
            "a",
            "a..b",
            "(",
            "^x",
            "",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{0,6}",
    ];
    let leaf = prop_oneof![leaf(), word.clone().prop_map(Value::from)];
    leaf.prop_recursive(5, 64, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((word.clone(), inner), 0..5)
                .prop_map(|entries| Value::Object(entries.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn evaluate_never_panics_and_negations_agree(rule in rule(), data in json_value()) {
        let record = rec(data);
        let _ = rule.evaluate(&record);
        prop_assert_eq!(Rule::not(rule.clone()).evaluate(&record), !rule.evaluate(&record));
    }

    #[test]
    fn negative_operators_negate_their_twins(
        c in comparison(),
        data in json_value(),
    ) {
        let Some(c) = c else { return Ok(()) };
        let twin = match c.op {
            Op::Eq => Op::Ne,
            Op::Contains => Op::NotContains,
            Op::In => Op::NotIn,
            Op::Exists => Op::Missing,
            _ => return Ok(()),
        };
        let other = Comparison::new(c.field.clone(), twin, c.value.clone(), c.case_insensitive)
            .unwrap();
        let record = rec(data);
        prop_assert_eq!(other.evaluate(&record), !c.evaluate(&record));
    }

    #[test]
    fn ordering_is_consistent(
        a in json_value(),
        b in json_value(),
        ci in any::<bool>(),
    ) {
        // Every pair that can be ordered gets exactly one answer, and that answer
        // agrees with eq; swapped sides reverse it.
        let forward = order(&a, &b, ci);
        prop_assert_eq!(order(&b, &a, ci), forward.map(Ordering::reverse));
        if let Some(ordering) = forward {
            prop_assert_eq!(ordering == Ordering::Equal, equal(&a, &b, ci));
        }
        prop_assert_eq!(equal(&a, &b, ci), equal(&b, &a, ci));
    }

    #[test]
    fn serialized_rules_parse_back_equal(rule in rule()) {
        let json = serde_json::to_value(&rule).unwrap();
        prop_assert_eq!(Rule::parse(&json).unwrap(), rule);
    }

    #[test]
    fn parse_never_panics(value in rule_like_json()) {
        match Rule::parse(&value) {
            Ok(rule) => {
                let json = serde_json::to_value(&rule).unwrap();
                prop_assert_eq!(Rule::parse(&json).unwrap(), rule);
            }
            Err(errors) => prop_assert!(!errors.is_empty()),
        }
    }

    #[test]
    fn parse_instant_never_panics(s in "[0-9T:+ .Z-]{0,30}") {
        let _ = parse_instant(&s);
    }

    #[test]
    fn case_folding_without_allocating_agrees_with_to_lowercase(
        x in text_with_cases(),
        y in text_with_cases(),
    ) {
        let (lx, ly) = (x.to_lowercase(), y.to_lowercase());
        prop_assert_eq!(cmp_ignoring_case(&x, &y), lx.cmp(&ly), "{:?} {:?}", x, y);
        prop_assert_eq!(eq_ignoring_case(&x, &y), lx == ly, "{:?} {:?}", x, y);
        // A string and its own upper- or lowercase form are equal ignoring case, unless
        // lowercasing is not idempotent on it (as for `İ`).
        let upper = x.to_uppercase();
        prop_assert_eq!(eq_ignoring_case(&x, &upper), lx == upper.to_lowercase());
        prop_assert!(eq_ignoring_case(&x, &lx) == (lx == lx.to_lowercase()));
    }
}

/// Text where case folding is tricky: ASCII, accents, the final sigma, characters whose
/// lowercase is longer (`İ`) or titlecase (`ǅ`), and other scripts.
fn text_with_cases() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z ]{0,8}", "[aAéÉçÇσςΣİiıIǅǆǄßẞ ]{0,8}", "\\PC{0,6}",]
}
