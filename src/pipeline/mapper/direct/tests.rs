//! Unit tests of `direct`: which leaves have a direct form, what it gives, and that it
//! always agrees with the template engine, errors included.

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::pipeline::mapper::scan::simple;
use crate::pipeline::mapper::tests::arbitrary_json;
use crate::{FieldMap, MapError, Mapper, Record};

/// Leaves with a direct form.
const DIRECT: &[&str] = &[
    "{{ a }}",
    "{{a}}",
    "{{- a -}}",
    "{{ a.b }}",
    "{{ a.b.c }}",
    "{{ a | upper }}",
    "{{ a|lower }}",
    "{{ a | upper() }}",
    "{{ a | truncate(3) }}",
    "{{ a | truncate(0) }}",
    "{{ a | phone('BR') }}",
    "{{ a | phone(\"cl\") }}",
    "{{ a | date('%d/%m/%Y %H:%M', 'America/Sao_Paulo') }}",
    "{{ a | date('%Y-%m-%d %Z') }}",
    "{{ a.b | date('%H:%M:%S%.3f %z', 'Europe/Madrid') }}",
    "{{ a | default('-') }}",
    "{{ a | d('-') }}",
    "{{ a | default }}",
    "{{ a | default() }}",
    "{{ a.b | default('-') | upper }}",
    "{{ a | default('Σ ÁRVORE') | lower }}",
    "{{ a | default('xyz') | truncate(2) }}",
    "{{ a | upper | truncate(4) }}",
    "{{ a | phone('BR') | truncate(4) }}",
    "{{ a | truncate(8) | phone('BR') }}",
    "{{ b | date('%d/%m/%Y') | default('-') }}",
];

/// Leaves the template engine renders: text around the block, subscripts, calls,
/// operators, computed or unsupported arguments, other filters.
const TEMPLATED: &[&str] = &[
    "{{ a }} ",
    "x{{ a }}",
    "{{ a }}{{ b }}",
    "{{ a }}}}",
    "{{ a[0] }}",
    "{{ a.0 }}",
    "{{ a['b'] }}",
    "{{ a.upper() }}",
    "{{ a ~ b }}",
    "{{ a if b else '-' }}",
    "{{ a | default(b) }}",
    "{{ a | default('-', true) }}",
    "{{ a | default(5) }}",
    "{{ a | truncate(b) }}",
    "{{ a | truncate(2.0) }}",
    "{{ a | date('%Y', b) }}",
    "{{ a | date('%Y', 'UTC', 1) }}",
    "{{ a | phone(b) }}",
    "{{ a | phone('BR', 1) }}",
    "{{ a | upper('x') }}",
    "{{ a | trim }}",
    "{{ a | replace('x', 'y') }}",
    "{{ a | default('\\n') }}",
    "{% if a %}{{ a }}{% endif %}",
    // A global, not a record field.
    "{{ range }}",
];

fn covers(source: &str) -> bool {
    FieldMap::new(json!({ "v": source }))
        .unwrap_or_else(|e| panic!("{source}: {e}"))
        .is_direct()
}

#[test]
fn plain_fields_and_constant_filters_have_a_direct_form() {
    for source in DIRECT {
        assert!(covers(source), "{source} should be direct");
    }
    for source in TEMPLATED {
        assert!(!covers(source), "{source} should be templated");
    }
}

/// One map per leaf, so that a failing leaf does not hide another's result.
fn maps() -> &'static [(&'static str, FieldMap)] {
    static MAPS: OnceLock<Vec<(&'static str, FieldMap)>> = OnceLock::new();
    MAPS.get_or_init(|| {
        DIRECT
            .iter()
            .chain(TEMPLATED)
            .map(|source| {
                let map = FieldMap::new(json!({ "v": source }))
                    .unwrap_or_else(|e| panic!("{source}: {e}"));
                (*source, map)
            })
            .collect()
    })
}

fn record(data: Value) -> Record {
    Record::new("k", "test", data)
}

/// Whether the map of `source` reads `data` directly (its leaf did not need the engine).
fn direct_answer(source: &str, data: &Value) -> Option<String> {
    simple(source)
        .as_ref()
        .and_then(Direct::new)?
        .evaluate(data)
}

#[test]
fn direct_leaves_answer_the_common_cases_themselves() {
    let data = json!({
        "a": "(11) 99999-1234",
        "b": "2026-03-01T15:00:00Z",
        "n": 881, "t": true, "z": null,
        "o": {"b": "Olá", "z": null}
    });
    let cases = [
        ("{{ a }}", "(11) 99999-1234"),
        ("{{ n }}", "881"),
        ("{{ t }}", "true"),
        ("{{ z }}", ""),
        ("{{ o.b | upper }}", "OLÁ"),
        ("{{ o.z | default('-') }}", "-"),
        ("{{ o.missing | default('-') }}", "-"),
        ("{{ missing | default }}", ""),
        ("{{ a | phone('BR') }}", "5511999991234"),
        ("{{ a | truncate(4) }}", "(11…"),
        (
            "{{ b | date('%d/%m/%Y %H:%M', 'America/Sao_Paulo') }}",
            "01/03/2026 12:00",
        ),
        ("{{ b | date('%H:%M') }}", "15:00"),
    ];
    for (source, expected) in cases {
        assert_eq!(
            direct_answer(source, &data).as_deref(),
            Some(expected),
            "{source}"
        );
        let map = FieldMap::new(json!({ "v": source })).unwrap();
        assert_eq!(map.map(&record(data.clone())).unwrap()["v"], expected);
    }
}

#[test]
fn direct_leaves_leave_errors_and_odd_values_to_the_engine() {
    let data = json!({
        "bad_phone": "12", "bad_date": "yesterday", "list": [1], "map": {"b": 1},
        "float": 2.5, "neg": -3, "z": null, "s": "x"
    });
    for source in [
        "{{ missing }}",
        "{{ missing.b | default('-') }}",
        "{{ s.b }}",
        "{{ list }}",
        "{{ map }}",
        "{{ float }}",
        "{{ bad_phone | phone('BR') }}",
        "{{ bad_date | date('%Y') }}",
        "{{ neg | phone('BR') }}",
        "{{ neg | upper }}",
        "{{ z | upper }}",
        "{{ z | phone('BR') }}",
        "{{ missing | upper }}",
    ] {
        assert_eq!(direct_answer(source, &data), None, "{source}");
    }
    assert_eq!(direct_answer("{{ s }}", &json!(["s"])), None);
    // The engine then gives the error it always gave.
    let map = FieldMap::new(json!({"to": "{{ bad_phone | phone('BR') }}"})).unwrap();
    assert!(matches!(
        map.map(&record(data.clone())),
        Err(MapError::InvalidPhone { template, .. }) if template == "/to"
    ));
    let map = FieldMap::new(json!({"x": "{{ missing.b | default('-') }}"})).unwrap();
    assert_eq!(
        map.map(&record(data)),
        Err(MapError::MissingField {
            template: "/x".into(),
            field: "missing.b".into()
        })
    );
}

/// Values the filters do something with, beside arbitrary JSON.
fn value() -> impl Strategy<Value = Value> {
    prop_oneof![
        2 => arbitrary_json(),
        1 => prop_oneof![
            Just("(11) 99999-1234"),
            Just("+55 21 98765-4321"),
            Just("0055 11 99999-1234"),
            Just("9 6123 4567"),
            Just("11 2345-6789"),
            Just("2026-03-01T15:00:00Z"),
            Just("2021-02-24T16:25:29+0000"),
            Just("2024-01-08 10:35:18 +0200"),
            Just("2026-03-01"),
            Just("ÁRVORE ΣΑΣ ñandú 👍🏽"),
            Just("ß İ ǅ"),
            Just(""),
        ]
        .prop_map(Value::from),
        1 => (-5i64..5_000_000_000_000).prop_map(Value::from),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn direct_leaves_agree_with_the_template_engine(
        a in value(),
        b in value(),
        c in value(),
        inner in value(),
        whole in arbitrary_json(),
    ) {
        let nested = json!({"b": inner.clone(), "c": {"b": c.clone()}});
        let records = [
            json!({"a": a.clone(), "b": b.clone()}),
            json!({"a": nested, "b": b}),
            json!({"a": {"b": {"c": a}}}),
            json!({"c": c}),
            whole,
        ];
        for data in records {
            let record = record(data);
            for (source, map) in maps() {
                prop_assert_eq!(
                    map.map(&record),
                    map.map_templated(&record),
                    "{} on {}", source, record.data
                );
            }
        }
    }
}
