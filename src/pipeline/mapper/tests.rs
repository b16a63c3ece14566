//! Unit tests of the mapper: rendering, every filter, build-time checks, the scanner.

use std::collections::HashSet;
use std::sync::Arc;

use minijinja::Environment;
use proptest::prelude::*;
use serde_json::json;

use super::scan::{filter_uses, path_uses, scan, Literal};
use super::*;
use crate::SpecError;

fn record(data: Value) -> Record {
    Record::new("k", "test", data)
}

fn render(template: &str, data: Value) -> Result<String, MapError> {
    let map = FieldMap::new(json!({ "v": template })).expect("template compiles");
    map.map(&record(data)).map(|out| match &out["v"] {
        Value::String(s) => s.clone(),
        other => panic!("template leaf rendered as {other}"),
    })
}

fn build_errors(shape: Value) -> Vec<SpecError> {
    FieldMap::new(shape)
        .expect_err("shape has errors")
        .into_iter()
        .collect()
}

#[test]
fn fracttal_wo_assignment_renders_exactly() {
    let map = FieldMap::new(json!({
        "to": "{{ responsible_phone | phone('BR') }}",
        "template": "wo_assignment",
        "language": "pt_BR",
        "body": [
            "{{ user_assigned }}",
            "{{ wo_folio }}",
            "{{ task_todo_description }}",
            "{{ creation_date | date('%d/%m/%Y %H:%M','America/Sao_Paulo') }}",
            "{{ created_by }}",
            "{{ item_description }}"
        ]
    }))
    .unwrap();
    let wo = record(json!({
        "id_work_order": 881,
        "responsible_phone": "(11) 98765-4321",
        "user_assigned": "Jonas Campos",
        "wo_folio": "OT-881",
        "task_todo_description": "Trocar filtro de ar",
        "creation_date": "2021-02-24T16:25:29+0000",
        "created_by": "Ana Souza",
        "item_description": "Compressor 3 - Planta Norte",
    }));
    assert_eq!(
        map.map(&wo).unwrap(),
        json!({
            "to": "5511987654321",
            "template": "wo_assignment",
            "language": "pt_BR",
            "body": [
                "Jonas Campos",
                "OT-881",
                "Trocar filtro de ar",
                "24/02/2021 13:25",
                "Ana Souza",
                "Compressor 3 - Planta Norte"
            ]
        })
    );
    let mut fields = map.fields();
    fields.sort();
    assert_eq!(
        fields,
        [
            "created_by",
            "creation_date",
            "item_description",
            "responsible_phone",
            "task_todo_description",
            "user_assigned",
            "wo_folio"
        ]
    );
}

#[test]
fn literal_leaves_are_copied_as_they_are() {
    let shape = json!({
        "n": 3, "f": 1.5, "t": true, "z": null, "s": "plain {text} #{x}",
        "comment_only": "{# not a template #}",
        "nested": {"list": [1, "two", {"three": [false]}], "empty": {}},
        "mixed": [7, "{{ a }}", {"k": "{{ a | upper }}", "keep": [null]}],
        "{{ key }}": "keys are not templated",
    });
    let map = FieldMap::new(shape.clone()).unwrap();
    let out = map.map(&record(json!({"a": "x"}))).unwrap();
    let mut expected = shape.clone();
    expected["mixed"] = json!([7, "x", {"k": "X", "keep": [null]}]);
    assert_eq!(out, expected);
    assert_eq!(map.shape(), &shape);
    assert!(format!("{map:?}").contains("keys are not templated"));
}

#[test]
fn a_shape_can_be_a_single_template() {
    let map = FieldMap::new(json!("Hello {{ name }}")).unwrap();
    assert_eq!(
        map.map(&record(json!({"name": "Ana"}))).unwrap(),
        json!("Hello Ana")
    );
    assert_eq!(
        map.map(&record(json!({}))),
        Err(MapError::MissingField {
            template: String::new(),
            field: "name".into()
        })
    );
}

#[test]
fn numbers_and_null_render_as_text() {
    assert_eq!(
        render(
            "{{ n }}/{{ f }}/{{ b }}",
            json!({"n": 42, "f": 2.5, "b": true})
        )
        .unwrap(),
        "42/2.5/true"
    );
    assert_eq!(render("[{{ z }}]", json!({"z": null})).unwrap(), "[]");
}

#[test]
fn templates_address_nested_fields_every_way() {
    let data = json!({"chat": {"phone": "p"}, "messages": [{"text": "hi"}], "odd key": 1});
    assert_eq!(render("{{ chat.phone }}", data.clone()).unwrap(), "p");
    assert_eq!(render("{{ chat['phone'] }}", data.clone()).unwrap(), "p");
    assert_eq!(
        render("{{ messages[0].text }}", data.clone()).unwrap(),
        "hi"
    );
    assert_eq!(render("{{ messages.0.text }}", data).unwrap(), "hi");
}

#[test]
fn html_is_never_escaped_even_for_html_like_keys() {
    let map = FieldMap::new(json!({"body.html": "{{ t }}"})).unwrap();
    let out = map.map(&record(json!({"t": "<b>&</b>"}))).unwrap();
    assert_eq!(out, json!({"body.html": "<b>&</b>"}));
}

#[test]
fn missing_fields_name_template_pointer_and_path() {
    let map = FieldMap::new(json!({"body": ["{{ a }}", "{{ wo_folio }}"]})).unwrap();
    assert_eq!(
        map.map(&record(json!({"a": 1}))),
        Err(MapError::MissingField {
            template: "/body/1".into(),
            field: "wo_folio".into()
        })
    );
    let missing = |template: &str, data: Value| match render(template, data) {
        Err(MapError::MissingField { template, field }) => {
            assert_eq!(template, "/v");
            field
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(
        missing("{{ chat.phone }}", json!({"chat": {}})),
        "chat.phone"
    );
    assert_eq!(missing("{{ chat.phone }}", json!({})), "chat.phone");
    assert_eq!(missing("{{ chat.phone }}", json!([1, 2])), "chat.phone");
    assert_eq!(
        missing("{{ messages[0].text }}", json!({"messages": []})),
        "messages.0.text"
    );
    assert_eq!(
        missing("{{ messages.1.text }}", json!({"messages": [{"text": 1}]})),
        "messages.1.text"
    );
    assert_eq!(missing("{{ x | upper }}", json!({})), "x");
    assert_eq!(missing("{{ x | phone('BR') }}", json!({})), "x");
    assert_eq!(missing("{{ x | date('%Y') }}", json!({})), "x");
    assert_eq!(missing("{{ x | truncate(3) }}", json!({})), "x");
    // Rescued by `default`, so the error is about the later field.
    assert_eq!(
        missing("{{ a.b | default('-') }} {{ c }}", json!({"a": {}})),
        "c"
    );
    assert_eq!(
        missing("{{ c }} {{ a.b | default('-') }}", json!({"a": {}})),
        "c"
    );
    assert_eq!(missing("{{ a | default(b) }}", json!({})), "b");
    assert_eq!(missing("{% if flag %}y{% endif %}", json!({})), "flag");
    let e = render("{{ chat.phone }}", json!({})).unwrap_err();
    assert_eq!(e.to_string(), "/v: missing field `chat.phone`");
    assert_eq!(e.template(), Some("/v"));
}

#[test]
fn default_covers_missing_and_null_values() {
    assert_eq!(render("{{ x | default('-') }}", json!({})).unwrap(), "-");
    assert_eq!(render("{{ x | d('-') }}", json!({})).unwrap(), "-");
    assert_eq!(
        render("{{ x | default('-') }}", json!({"x": null})).unwrap(),
        "-"
    );
    assert_eq!(
        render("{{ x | default('-') }}", json!({"x": "v"})).unwrap(),
        "v"
    );
    assert_eq!(
        render("[{{ x | default('-') }}]", json!({"x": ""})).unwrap(),
        "[]"
    );
    assert_eq!(
        render("{{ x | default('-', true) }}", json!({"x": ""})).unwrap(),
        "-"
    );
    assert_eq!(
        render("{{ x | default('-', true) }}", json!({"x": 0})).unwrap(),
        "-"
    );
    assert_eq!(render("[{{ x | default }}]", json!({})).unwrap(), "[]");
    assert_eq!(
        render("{{ chat.phone | default('-') }}", json!({"chat": {}})).unwrap(),
        "-"
    );
    assert_eq!(
        render("{{ x if x is defined else '-' }}", json!({})).unwrap(),
        "-"
    );
    assert!(matches!(
        render("{{ x | default('a', true, 3) }}", json!({})),
        Err(MapError::Filter { filter, .. }) if filter == "default"
    ));
}

#[test]
fn upper_lower_and_truncate() {
    assert_eq!(
        render("{{ s | upper }}", json!({"s": "Olá ção"})).unwrap(),
        "OLÁ ÇÃO"
    );
    assert_eq!(
        render("{{ s | lower }}", json!({"s": "ÁRVORE"})).unwrap(),
        "árvore"
    );
    assert_eq!(
        render("[{{ s | upper }}]", json!({"s": null})).unwrap(),
        "[]"
    );
    assert_eq!(render("{{ s | upper }}", json!({"s": 12})).unwrap(), "12");
    assert_eq!(
        render("{{ s | truncate(8) }}", json!({"s": "Replace filter"})).unwrap(),
        "Replace…"
    );
    assert_eq!(
        render("{{ s | truncate(14) }}", json!({"s": "Replace filter"})).unwrap(),
        "Replace filter"
    );
    assert_eq!(
        render("{{ s | truncate(3) }}", json!({"s": "ñandú"})).unwrap(),
        "ña…"
    );
    assert_eq!(
        render("{{ s | truncate(2) }}", json!({"s": "👍🏽👍"})).unwrap(),
        "👍…"
    );
    assert_eq!(
        render("{{ s | truncate(4) }}", json!({"s": 123456})).unwrap(),
        "123…"
    );
    assert_eq!(
        render("[{{ s | truncate(0) }}]", json!({"s": "abc"})).unwrap(),
        "[]"
    );
    for bad in ["{{ s | truncate(n) }}", "{{ s | truncate('a') }}"] {
        match render(bad, json!({"s": "abc", "n": -1})) {
            Err(MapError::Filter {
                filter, message, ..
            }) => {
                assert_eq!(filter, "truncate");
                assert!(message.contains("non-negative"), "{message}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn phone_formats_e164_without_plus() {
    let phone = |value: Value, country: &str| {
        render(
            &format!("{{{{ p | phone('{country}') }}}}"),
            json!({ "p": value }),
        )
    };
    assert_eq!(
        phone(json!("(11) 99999-1234"), "BR").unwrap(),
        "5511999991234"
    );
    assert_eq!(
        phone(json!("11 98765 4321"), "br").unwrap(),
        "5511987654321"
    );
    assert_eq!(
        phone(json!("+55 (21) 99876-5432"), "BR").unwrap(),
        "5521998765432"
    );
    assert_eq!(
        phone(json!("0055 11 99999-1234"), "CL").unwrap(),
        "5511999991234"
    );
    assert_eq!(
        phone(json!(11999991234_i64), "BR").unwrap(),
        "5511999991234"
    );
    assert_eq!(phone(json!("9 6123 4567"), "CL").unwrap(), "56961234567");
    assert_eq!(
        phone(json!("+56 9 6123 4567"), "BR").unwrap(),
        "56961234567"
    );
    assert_eq!(phone(json!("612 34 56 78"), "ES").unwrap(), "34612345678");
    assert_eq!(
        phone(json!("+34 612-345-678"), "BR").unwrap(),
        "34612345678"
    );
    for bad in [
        json!("123"),
        json!("(11) 1234"),
        json!("+55 11 1111"),
        json!("abc"),
        json!("11 9999x1234"),
        json!(null),
        json!([1]),
        json!({"a": 1}),
        json!(-5),
        json!(1.5),
        json!(true),
        json!("+999 1234 5678"),
    ] {
        match phone(bad.clone(), "BR") {
            Err(MapError::InvalidPhone {
                template,
                value,
                reason,
            }) => {
                assert_eq!(template, "/v");
                assert!(!value.is_empty() && !reason.is_empty(), "{bad}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
    let e = phone(json!("123"), "BR").unwrap_err();
    assert_eq!(e.to_string(), "/v: invalid phone number \"123\": too short");
    // A country only known when the record arrives is checked then.
    match render(
        "{{ p | phone(cc) }}",
        json!({"p": "11999991234", "cc": "XX"}),
    ) {
        Err(MapError::Filter {
            filter, message, ..
        }) => {
            assert_eq!(filter, "phone");
            assert!(message.contains("unknown country code \"XX\""), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        render("{{ p | phone(cc) }}", json!({"p": "11999991234", "cc": 55})),
        Err(MapError::Filter { .. })
    ));
}

#[test]
fn date_reads_every_form_and_formats_in_time_zone() {
    let date = |value: Value| {
        render(
            "{{ t | date('%Y-%m-%d %H:%M:%S', 'America/Sao_Paulo') }}",
            json!({ "t": value }),
        )
    };
    assert_eq!(
        date(json!("2026-03-01T15:00:00Z")).unwrap(),
        "2026-03-01 12:00:00"
    );
    assert_eq!(
        date(json!("2021-02-24T16:25:29+0000")).unwrap(),
        "2021-02-24 13:25:29"
    );
    assert_eq!(
        date(json!("2024-01-08 10:35:18 +0200")).unwrap(),
        "2024-01-08 05:35:18"
    );
    assert_eq!(
        date(json!("2026-03-01 12:00:00")).unwrap(),
        "2026-03-01 09:00:00"
    );
    assert_eq!(date(json!("2026-03-01")).unwrap(), "2026-02-28 21:00:00");
    assert_eq!(date(json!(0)).unwrap(), "1969-12-31 21:00:00");
    assert_eq!(date(json!(1772377200.75)).unwrap(), "2026-03-01 12:00:00");
    assert_eq!(
        render(
            "{{ t | date('%d/%m/%Y %H:%M') }}",
            json!({"t": "2026-03-01T15:00:00-03:00"})
        )
        .unwrap(),
        "01/03/2026 18:00"
    );
    assert_eq!(
        render(
            "{{ t | date('%H:%M', 'Europe/Madrid') }}",
            json!({"t": "2026-07-01T12:00:00Z"})
        )
        .unwrap(),
        "14:00"
    );
    for bad in [
        json!("yesterday"),
        json!(""),
        json!(null),
        json!([1]),
        json!({}),
        json!(true),
        json!(1e300),
        json!(i64::MAX),
    ] {
        match date(bad.clone()) {
            Err(MapError::InvalidDate {
                template, reason, ..
            }) => {
                assert_eq!(template, "/v");
                assert!(!reason.is_empty(), "{bad}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[test]
fn date_errors_on_bad_runtime_format_and_zone_without_panicking() {
    let data = json!({"t": "2026-03-01", "fmt": "%Y-%Q", "tz": "Mars/Olympus", "n": 5});
    let filter_error = |template: &str| match render(template, data.clone()) {
        Err(MapError::Filter {
            filter, message, ..
        }) => {
            assert_eq!(filter, "date");
            message
        }
        other => panic!("{template}: {other:?}"),
    };
    assert!(filter_error("{{ t | date(fmt) }}").contains("invalid date format"));
    assert!(filter_error("{{ t | date('%Y', tz) }}").contains("unknown time zone"));
    assert!(filter_error("{{ t | date(n) }}").contains("must be a string"));
    assert!(filter_error("{{ t | date('%Y', n) }}").contains("must be a string"));
    assert!(filter_error("{{ t | date('%Y', 'UTC', 3) }}").contains("two positional"));
}

#[test]
fn other_errors_name_the_filter_or_the_template() {
    match render("{{ s | replace(1) }}", json!({"s": "abc"})) {
        Err(MapError::Filter {
            template, filter, ..
        }) => {
            assert_eq!(template, "/v");
            assert_eq!(filter, "replace");
        }
        other => panic!("{other:?}"),
    }
    match render("{{ n + 'a' }}", json!({"n": 1})) {
        Err(MapError::Render { template, message }) => {
            assert_eq!(template, "/v");
            assert!(!message.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        MapError::Invalid {
            message: "m".into()
        }
        .template(),
        None
    );
}

#[test]
fn build_reports_every_bad_template_at_its_pointer() {
    let errors = build_errors(json!({
        "ok": "{{ a }}",
        "body": ["{{ a }}", "{{ unclosed", "{% if a %}no end"],
        "a/b": {"c~d": "{{ a | }}"},
    }));
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/a~1b/c~0d", "/body/1", "/body/2"]);
    for error in &errors {
        assert!(
            error.message.starts_with("template syntax error"),
            "{error}"
        );
        assert!(error.hint.is_some());
    }
}

#[test]
fn minijinja_alone_accepts_unknown_filters_at_compile_time() {
    // Why FieldMap looks for filter names itself.
    let env = Environment::new();
    assert!(env.template_from_str("{{ x | phne('BR') }}").is_ok());
}

#[test]
fn build_reports_unknown_filters_with_a_hint() {
    let errors = build_errors(json!({
        "to": "{{ x | phne('BR') }}",
        "ok": "{{ x | trim | title | phone('BR') | date('%Y') | truncate(3) | lower | d('') }}",
        "body": ["{% filter uppper %}x{% endfilter %}", "{{ x | default(y | nosuch) }}"],
    }));
    let found: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| (e.path.as_str(), e.message.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            ("/body/0", "unknown filter \"uppper\""),
            ("/body/1", "unknown filter \"nosuch\""),
            ("/to", "unknown filter \"phne\""),
        ]
    );
    let hint = errors[2].hint.as_deref().unwrap();
    assert!(hint.starts_with("did you mean \"phone\"?"), "{hint}");
    assert!(
        hint.contains("date(format, time_zone)") && hint.contains("truncate(n)"),
        "{hint}"
    );
    assert!(errors[0]
        .hint
        .as_deref()
        .unwrap()
        .starts_with("did you mean \"upper\"?"));
}

#[test]
fn filter_names_inside_strings_comments_and_raw_blocks_are_not_filters() {
    let map = FieldMap::new(json!({
        "v": "{{ 'a | nosuch' ~ \"b | x\" }}{# {{ y | nosuch }} #}{% raw %}{{ z | nosuch }}{% endraw %}{{ {'k': {'n': 1}}['k']['n'] | string }}"
    }))
    .unwrap();
    assert_eq!(
        map.map(&record(json!({}))).unwrap(),
        json!({"v": "a | nosuchb | x{{ z | nosuch }}1"})
    );
}

#[test]
fn build_checks_constant_filter_arguments() {
    let errors = build_errors(json!({
        "a": "{{ t | date('%d/%m/%Q') }}",
        "b": "{{ t | date('%d', 'America/Sao_Pablo') }}",
        "c": "{{ p | phone('XX') }}",
        "d": "{{ s | truncate(-1) }}",
        "ok": "{{ t | date(fmt, tz) }}{{ p | phone(cc) }}{{ t | date('%d/%m/%Y %H:%M', 'America/Sao_Paulo') }}",
    }));
    let found: Vec<(&str, bool)> = errors
        .iter()
        .map(|e| (e.path.as_str(), e.hint.is_some()))
        .collect();
    assert_eq!(
        found,
        [("/a", true), ("/b", true), ("/c", true), ("/d", true)]
    );
    assert!(
        errors[0]
            .message
            .contains("invalid date format \"%d/%m/%Q\""),
        "{}",
        errors[0]
    );
    assert!(
        errors[1]
            .message
            .contains("unknown time zone \"America/Sao_Pablo\""),
        "{}",
        errors[1]
    );
    assert!(
        errors[2].message.contains("unknown country code \"XX\""),
        "{}",
        errors[2]
    );
    assert!(
        errors[3].message.contains("negative length"),
        "{}",
        errors[3]
    );
}

#[test]
fn fields_lists_record_paths_not_locals_or_globals() {
    let map = FieldMap::new(json!([
        "{% for m in messages %}{{ m.text }}{{ loop.index }}{% endfor %}{{ range(2) | length }}",
        "{% set who = chat.name %}{{ who }} {{ chat.phone | phone('BR') }}",
    ]))
    .unwrap();
    assert_eq!(map.fields(), ["chat.name", "chat.phone", "messages"]);
}

#[test]
fn scanner_finds_paths_and_literal_arguments() {
    let source = "{{- x.a[0]['b'].c.upper() | f(1, -2, 'z', none) -}} {% if not y is not defined %}{{ g(k=1) | h(q) }}{% endif %}";
    let regions = scan(source);
    let filters = filter_uses(&regions);
    let names: Vec<&str> = filters.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["f", "h"]);
    assert_eq!(
        filters[0].args,
        Some(vec![
            Literal::Int(1),
            Literal::Int(-2),
            Literal::Str("z".into()),
            Literal::Other
        ])
    );
    assert_eq!(filters[1].args, None);
    let vars: HashSet<&str> = ["x", "y", "q", "k", "defined"].into_iter().collect();
    let paths: Vec<String> = path_uses(&regions, &vars)
        .into_iter()
        .map(|p| p.path)
        .collect();
    assert_eq!(paths, ["x.a.0.b.c", "y", "q"]);
}

#[test]
fn field_map_is_cheap_to_clone_and_shareable() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<FieldMap>();
    let map = FieldMap::new(json!({"v": "{{ a }}"})).unwrap();
    let copy = map.clone();
    assert!(Arc::ptr_eq(&map.inner, &copy.inner));
    let boxed: Box<dyn Mapper> = Box::new(copy);
    assert_eq!(
        boxed.map(&record(json!({"a": 1}))).unwrap(),
        json!({"v": "1"})
    );
}

#[test]
fn closures_and_passthrough_are_mappers() {
    let closure = |r: &Record| -> Result<Value, MapError> {
        r.get("a").cloned().ok_or(MapError::Invalid {
            message: "no a".into(),
        })
    };
    assert_eq!(closure.map(&record(json!({"a": 2}))).unwrap(), json!(2));
    assert_eq!(
        closure.map(&record(json!({}))).unwrap_err().to_string(),
        "no a"
    );
    let data = json!({"x": [1, {"y": null}]});
    assert_eq!(Passthrough.map(&record(data.clone())).unwrap(), data);
}

pub(super) fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        "[0-9 +()-]{0,20}".prop_map(Value::from),
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:]{0,8}[+Z0-9:-]{0,6}".prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop_oneof![
            Just("BR"),
            Just("XX"),
            Just("%Y-%Q"),
            Just("%"),
            Just("America/Sao_Paulo"),
            Just("Nope/Zone")
        ]
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn every_filter() -> FieldMap {
    FieldMap::new(json!({
        "phone": "{{ a | phone('BR') }}",
        "phone_var": "{{ a | phone(b) }}",
        "date": "{{ a | date('%d/%m/%Y %H:%M', 'America/Sao_Paulo') }}",
        "date_var": "{{ a | date(b, c) }}",
        "default": "{{ a | default('-') }}|{{ b.x | default(c, true) }}",
        "case": "{{ a | upper }}{{ b | lower }}",
        "truncate": "{{ a | truncate(3) }}{{ b | truncate(c) }}",
        "nested": "{{ d[0] | default('') | phone('CL') }}{{ d.x | default(none) | truncate(2) }}",
    }))
    .expect("every filter compiles")
}

proptest! {
    #[test]
    fn every_filter_on_arbitrary_records_never_panics(
        a in arbitrary_json(), b in arbitrary_json(), c in arbitrary_json(), d in arbitrary_json(),
        data in arbitrary_json(),
    ) {
        let map = every_filter();
        let result = map.map(&record(json!({"a": a, "b": b, "c": c, "d": d})));
        if let Err(e) = &result {
            prop_assert!(e.template().is_some_and(|t| t.starts_with('/')), "{e}");
        }
        // Records that are not objects, or lack the fields, are errors too, not panics.
        let _ = map.map(&record(data));
    }
}
