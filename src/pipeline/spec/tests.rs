use serde_json::json;

use super::*;

fn paths(errors: &SpecErrors) -> Vec<&str> {
    errors.iter().map(|e| e.path.as_str()).collect()
}

fn minimal() -> Value {
    json!({"id": "f", "target": {"http.post": {"url": "https://example.com/hook"}}})
}

#[test]
fn minimal_spec_parses_with_defaults() {
    let spec = FlowSpec::from_value(&minimal()).unwrap();
    assert_eq!(spec.id, "f");
    assert_eq!(spec.trigger, Trigger::Manual);
    assert_eq!(spec.when, Rule::Always);
    assert!(spec.map.is_none() && spec.source.is_none());
    assert_eq!(spec.target.kind, "http.post");
    assert_eq!(spec.delivery, DeliveryPolicy::default());
}

#[test]
fn syntax_errors_are_reported_at_the_root() {
    let errors = FlowSpec::from_json("{\"id\": ").unwrap_err();
    assert_eq!(paths(&errors), [""]);
    assert!(errors.to_string().contains("not valid JSON"), "{errors}");
    let errors = FlowSpec::from_json("[1]").unwrap_err();
    assert!(errors.to_string().contains("must be a JSON object"));
}

#[test]
fn every_structural_error_is_reported_with_its_path() {
    let doc = json!({
        "id": "",
        "trigerr": "manual",
        "trigger": {"daily": {"at": "7am", "time_zone": "America/Sao_Paulo"}},
        "source": {},
        "target": {"http.post": {}, "whatsapp.template": {}},
        "delivery": {"max_in_flight": 0, "rate_per_second": "fast"}
    });
    let errors = FlowSpec::from_value(&doc).unwrap_err();
    assert_eq!(
        paths(&errors),
        [
            "/trigerr",
            "/id",
            "/trigger/daily/at",
            "/source",
            "/target",
            "/delivery/rate_per_second"
        ],
        "{errors}"
    );
    let unknown = errors.iter().next().unwrap();
    assert!(
        unknown.hint.as_deref().unwrap().contains("trigger"),
        "{unknown}"
    );
}

#[test]
fn delivery_problems_are_checked_after_parsing() {
    let mut doc = minimal();
    doc["delivery"] = json!({"max_in_flight": 0, "max_attempts": 0});
    let errors = FlowSpec::from_value(&doc).unwrap_err();
    assert_eq!(
        paths(&errors),
        ["/delivery/max_attempts", "/delivery/max_in_flight"]
    );
}

#[test]
fn unknown_fields_in_nested_configs_point_at_the_field() {
    let mut doc = minimal();
    doc["delivery"] = json!({"max_in_flihgt": 3});
    let errors = FlowSpec::from_value(&doc).unwrap_err();
    let error = errors.iter().next().unwrap();
    assert_eq!(error.path, "/delivery/max_in_flihgt");
    assert!(
        error.hint.as_deref().unwrap().contains("max_in_flight"),
        "{error}"
    );
}

#[test]
fn missing_id_and_target_are_reported_together() {
    let errors = FlowSpec::from_value(&json!({})).unwrap_err();
    assert_eq!(paths(&errors), ["/id", "/target"]);
}

#[test]
fn spec_round_trips_through_json() {
    let doc = json!({
        "id": "f",
        "description": "ops hook",
        "trigger": {"every": {"seconds": 300}},
        "target": {"http.post": {"url": "https://example.com/hook"}},
        "delivery": {"max_attempts": 3, "max_in_flight": 2, "rate_per_second": 5.0}
    });
    let spec = FlowSpec::from_value(&doc).unwrap();
    let again = FlowSpec::from_value(&spec.to_value()).unwrap();
    assert_eq!(again.to_value(), spec.to_value());
    assert_eq!(again.delivery.retry.max_attempts, 3);
    let via_serde: FlowSpec = serde_json::from_value(doc).unwrap();
    assert_eq!(via_serde.trigger, Trigger::every(300));
}

#[test]
fn build_reports_unknown_kinds_connections_and_secrets() {
    let doc = json!({
        "id": "f",
        "source": {"nowhere.poll": {}},
        "target": {"http.post": {"connection": "ops", "path": "x", "headers": {"X-Key": {"secret": "NOPE"}}}}
    });
    let spec = FlowSpec::from_value(&doc).unwrap();
    let errors = spec
        .build(
            &Registry::default(),
            &Connections::new(),
            &MapSecrets::new(),
        )
        .unwrap_err();
    assert_eq!(
        paths(&errors),
        ["/target/http.post/connection", "/source"],
        "{errors}"
    );
    let mut connections = Connections::new();
    connections.insert("ops", json!({"base_url": "https://ops.example.com/api/"}));
    let errors = spec
        .build(&Registry::default(), &connections, &MapSecrets::new())
        .unwrap_err();
    assert_eq!(
        paths(&errors),
        ["/target/http.post/headers/X-Key", "/source"],
        "{errors}"
    );
    let secret = errors.iter().next().unwrap();
    assert!(secret.message.contains("NOPE"));

    let secrets = MapSecrets::new().with("NOPE", "k3y");
    let mut doc = doc;
    doc.as_object_mut().unwrap().remove("source");
    let flow = FlowSpec::from_value(&doc)
        .unwrap()
        .build(&Registry::default(), &connections, &secrets)
        .unwrap();
    let record = crate::Record::new("k", "t", json!({"a": 1}));
    let crate::Plan::Send(request) = flow.plan_now(&record).unwrap() else {
        panic!("expected a send")
    };
    let request = request.downcast_ref::<crate::http::HttpRequest>().unwrap();
    assert_eq!(request.url.as_str(), "https://ops.example.com/api/x");
    assert_eq!(request.headers.get("x-key"), Some("k3y"));
}

#[test]
fn unknown_target_kind_lists_the_registered_ones() {
    let mut doc = minimal();
    doc["target"] = json!({"htp.post": {}});
    let errors = FlowSpec::from_value(&doc)
        .unwrap()
        .build(
            &Registry::default(),
            &Connections::new(),
            &MapSecrets::new(),
        )
        .unwrap_err();
    let error = errors.iter().next().unwrap();
    assert_eq!(error.path, "/target");
    assert!(error.message.contains("htp.post"));
    assert!(
        error.hint.as_deref().unwrap().contains("http.post"),
        "{error}"
    );
}

#[test]
fn bad_connection_fields_point_into_the_connection() {
    let mut connections = Connections::new();
    connections.insert("ops", json!({"base_url": "not a url"}));
    let mut doc = minimal();
    doc["target"] = json!({"http.post": {"connection": "ops"}});
    let errors = FlowSpec::from_value(&doc)
        .unwrap()
        .build(&Registry::default(), &connections, &MapSecrets::new())
        .unwrap_err();
    assert_eq!(paths(&errors), ["/target/http.post/connection"]);
    let message = &errors.iter().next().unwrap().message;
    assert!(message.contains("\"ops\" at /base_url"), "{message}");
}

#[test]
fn http_target_config_errors() {
    let cases = [
        (json!({"url": "ftp://example.com"}), "/target/http.post/url"),
        (
            json!({"url": "https://a", "path": "b"}),
            "/target/http.post/url",
        ),
        (json!({"path": "b"}), "/target/http.post/path"),
        (json!({}), "/target/http.post"),
        (
            json!({"url": "https://a", "method": "GET"}),
            "/target/http.post/method",
        ),
        (
            json!({"url": "https://a", "verb": "POST"}),
            "/target/http.post/verb",
        ),
        (
            json!({"url": "https://a", "method": "FETCH"}),
            "/target/http.post/method",
        ),
    ];
    for (config, path) in cases {
        let mut doc = minimal();
        doc["target"] = json!({"http.post": config});
        let errors = FlowSpec::from_value(&doc)
            .unwrap()
            .build(
                &Registry::default(),
                &Connections::new(),
                &MapSecrets::new(),
            )
            .unwrap_err();
        assert_eq!(paths(&errors), [path], "{config}: {errors}");
    }
}

#[test]
fn a_connection_s_headers_never_leave_its_base_url() {
    let mut connections = Connections::new();
    connections.insert(
        "ops",
        json!({"base_url": "https://ops.example.com/api/", "headers": {"X-Key": {"secret": "K"}}}),
    );
    let secrets = MapSecrets::new().with("K", "k3y");
    for (config, path) in [
        (
            json!({"connection": "ops", "url": "https://attacker.example/x"}),
            "/target/http.post/url",
        ),
        (
            json!({"connection": "ops", "path": "https://attacker.example/x"}),
            "/target/http.post/path",
        ),
        (
            json!({"connection": "ops", "path": "//attacker.example/x"}),
            "/target/http.post/path",
        ),
        (
            json!({"connection": "ops", "path": "../admin"}),
            "/target/http.post/path",
        ),
    ] {
        let mut doc = minimal();
        doc["target"] = json!({"http.post": config});
        let errors = FlowSpec::from_value(&doc)
            .unwrap()
            .build(&Registry::default(), &connections, &secrets)
            .unwrap_err();
        assert_eq!(paths(&errors), [path], "{config}: {errors}");
    }
}

#[test]
fn connections_must_be_objects() {
    let errors = Connections::from_json(r#"{"a": 1, "b": {}}"#).unwrap_err();
    assert_eq!(paths(&errors), ["/a"]);
    assert!(Connections::from_json("[]").is_err());
}

#[test]
fn hosts_can_register_their_own_kinds() {
    let mut registry = Registry::empty();
    registry.register_target("acme.ticket", |cx, config| {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Config {
            queue: String,
        }
        let config: Config = cx.deserialize(config)?;
        let url = format!("https://acme.example.com/queues/{}", config.queue);
        Ok(crate::DynTarget::new(crate::http_target::HttpTarget::new(
            url.parse().unwrap(),
        )))
    });
    let mut doc = minimal();
    doc["target"] = json!({"acme.ticket": {"queue": "maintenance"}});
    let flow = FlowSpec::from_value(&doc)
        .unwrap()
        .build(&registry, &Connections::new(), &MapSecrets::new())
        .unwrap();
    let crate::Plan::Send(request) = flow
        .plan_now(&crate::Record::new("k", "t", json!({})))
        .unwrap()
    else {
        panic!()
    };
    let request = request.downcast_ref::<crate::http::HttpRequest>().unwrap();
    assert_eq!(request.url.path(), "/queues/maintenance");
    doc["target"] = json!({"acme.ticket": {"queue": 7}});
    let errors = FlowSpec::from_value(&doc)
        .unwrap()
        .build(&registry, &Connections::new(), &MapSecrets::new())
        .unwrap_err();
    assert_eq!(paths(&errors), ["/target/acme.ticket/queue"]);
}

#[test]
fn secrets_never_appear_in_debug_of_a_built_flow() {
    let mut doc = minimal();
    doc["target"] = json!({"http.post": {"url": "https://a.example", "headers": {"Authorization": {"secret": "T"}}}});
    let secrets = MapSecrets::new().with("T", "Bearer hunter2");
    let flow = FlowSpec::from_value(&doc)
        .unwrap()
        .build(&Registry::default(), &Connections::new(), &secrets)
        .unwrap();
    let plan = flow
        .plan_now(&crate::Record::new("k", "t", json!({})))
        .unwrap();
    for shown in [
        format!("{flow:?}"),
        format!("{plan:?}"),
        serde_json::to_string(&plan).unwrap(),
        format!("{secrets:?}"),
    ] {
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}

#[test]
fn the_http_target_can_send_the_record_key_for_idempotency() {
    let mut doc = minimal();
    doc["target"] =
        json!({"http.post": {"url": "https://a.example", "idempotency_header": "Idempotency-Key"}});
    let flow = FlowSpec::from_value(&doc)
        .unwrap()
        .build(
            &Registry::default(),
            &Connections::new(),
            &MapSecrets::new(),
        )
        .unwrap();
    let crate::Plan::Send(request) = flow
        .plan_now(&crate::Record::new("fracttal:wo:9:1", "t", json!({})))
        .unwrap()
    else {
        panic!("expected a send")
    };
    let request = request.downcast_ref::<crate::http::HttpRequest>().unwrap();
    assert_eq!(
        request.headers.get("idempotency-key"),
        Some("fracttal:wo:9:1")
    );
}

#[test]
fn connections_debug_names_them_and_prints_nothing_they_hold() {
    // A credential pasted where a `{"secret": …}` belongs: refused when a flow is built,
    // and never printed.
    let connections = Connections::from_json(
        r#"{"ops": {"base_url": "https://ops.example.com/", "headers": {"Authorization": "Bearer sk-live-123"}}}"#,
    )
    .unwrap();
    let debug = format!("{connections:?}");
    assert!(debug.contains("ops"), "{debug}");
    assert!(!debug.contains("sk-live-123"), "{debug}");
    assert!(!debug.contains("ops.example.com"), "{debug}");
}

#[test]
fn a_lookup_is_one_step_or_a_list_and_round_trips() {
    let mut doc = minimal();
    doc["lookup"] = json!({"field": "responsible", "into": "phone",
                           "from": {"map": {"entries": {"Jonas Campos": "5511999991234"}}}});
    let spec = FlowSpec::from_value(&doc).unwrap();
    assert_eq!(spec.lookups.len(), 1);
    assert_eq!(spec.lookups[0].from.kind, "map");
    assert_eq!(spec.lookups[0].on_missing, OnMissing::Skip);
    let again = FlowSpec::from_value(&spec.to_value()).unwrap();
    assert_eq!(again.lookups, spec.lookups);
    assert!(spec.to_value()["lookup"].is_object());

    doc["lookup"] = json!([
        {"field": "responsible", "into": "person", "from": {"map": {"entries": {}}}},
        {"field": "person.id", "into": "phone", "from": {"map": {"entries": {}}},
         "on_missing": "fail", "cache_seconds": 0}
    ]);
    let spec = FlowSpec::from_value(&doc).unwrap();
    assert_eq!(spec.lookups[1].on_missing, OnMissing::Fail);
    assert_eq!(spec.lookups[1].cache_seconds, Some(0));
    let shown = spec.to_value();
    assert_eq!(shown["lookup"].as_array().map(Vec::len), Some(2));
    assert_eq!(FlowSpec::from_value(&shown).unwrap().lookups, spec.lookups);
}

#[test]
fn lookup_problems_are_located() {
    let mut doc = minimal();
    doc["lookup"] = json!([
        {"field": "", "into": "phone", "from": {"map": {"entries": {}}}},
        {"field": "a", "into": "b", "from": {}, "on_missing": "ignore"},
        {"field": "a", "into": "b", "form": "map"}
    ]);
    let errors = FlowSpec::from_value(&doc).unwrap_err();
    assert_eq!(
        paths(&errors),
        ["/lookup/0/field", "/lookup/1/on_missing", "/lookup/2/form"]
    );
    let hint = errors
        .iter()
        .nth(1)
        .unwrap()
        .hint
        .clone()
        .unwrap_or_default();
    assert!(hint.contains("skip") && hint.contains("fail"), "{hint}");

    doc["lookup"] = json!({"field": "a", "into": "b", "from": {}});
    assert_eq!(
        paths(&FlowSpec::from_value(&doc).unwrap_err()),
        ["/lookup/from"]
    );
}

#[test]
fn building_a_lookup_checks_its_directory_kind_and_config() {
    let mut doc = minimal();
    doc["lookup"] = json!({"field": "a", "into": "b", "from": {"ldap": {}}});
    let errors = FlowSpec::from_value(&doc)
        .unwrap()
        .build(
            &Registry::default(),
            &Connections::new(),
            &MapSecrets::new(),
        )
        .unwrap_err();
    let error = errors.iter().next().unwrap();
    assert_eq!(error.path, "/lookup/from");
    assert_eq!(error.message, "unknown directory kind \"ldap\"");
    assert!(
        error.hint.as_deref().unwrap_or("").contains("map"),
        "{error:?}"
    );

    doc["lookup"] = json!([
        {"field": "a", "into": "b", "from": {"map": {"entries": {}}}},
        {"field": "a", "into": "b", "from": {"map": {"entries": {}, "case": true}}}
    ]);
    let errors = FlowSpec::from_value(&doc)
        .unwrap()
        .build(
            &Registry::default(),
            &Connections::new(),
            &MapSecrets::new(),
        )
        .unwrap_err();
    assert_eq!(paths(&errors), ["/lookup/1/from/map/case"]);

    doc["lookup"] = json!({"field": "who", "into": "phone", "cache_seconds": 30,
        "from": {"map": {"entries": {"Jonas Campos": "1"}, "case_insensitive": true}}});
    let flow = FlowSpec::from_value(&doc)
        .unwrap()
        .build(
            &Registry::default(),
            &Connections::new(),
            &MapSecrets::new(),
        )
        .unwrap();
    assert_eq!(flow.lookups()[0].describe(), "a map of 1 entry");
    assert_eq!(flow.lookups()[0].into_field(), "phone");
}

#[test]
fn the_report_section_is_checked_and_round_trips() {
    let errors = FlowSpec::from_json(
        r#"{"id": "x", "target": {"http.post": {"url": "https://example.com"}},
            "report": {"keep_runs": 0, "dead_letter": "key_only"}}"#,
    )
    .unwrap_err();
    assert_eq!(paths(&errors), ["/report/dead_letter"]);
    let errors = FlowSpec::from_json(
        r#"{"id": "x", "target": {"http.post": {"url": "https://example.com"}},
            "report": {"keep_runs": 0}}"#,
    )
    .unwrap_err();
    assert_eq!(paths(&errors), ["/report/keep_runs"]);
    let spec = FlowSpec::from_json(
        r#"{"id": "x", "target": {"http.post": {"url": "https://example.com"}},
            "report": {"dead_letters": "key_only", "keep_runs": null}}"#,
    )
    .unwrap();
    assert_eq!(spec.report.keep_runs, None);
    let again = FlowSpec::from_value(&spec.to_value()).unwrap();
    assert_eq!(again.report, spec.report);
    // The default is left out of the document.
    let plain = FlowSpec::from_json(
        r#"{"id": "x", "target": {"http.post": {"url": "https://example.com"}}}"#,
    )
    .unwrap();
    assert!(plain.to_value().get("report").is_none());
}
