//! The JSON Schemas of flow specs against the loader: `FlowSpec::json_schema()` (any
//! kinds) and `Registry::default().flow_schema()` (the registered kinds with their config
//! schemas). The example flows validate; broken specs fail the schema and are refused by
//! `FlowSpec::from_value` / `FlowSpec::build` at the same JSON pointer; every kind of the
//! default registry has a config schema that takes a config it builds from.
#![cfg(all(
    feature = "schema",
    feature = "http",
    feature = "fracttal",
    feature = "whatsapp",
    feature = "timelines",
    feature = "twilio",
    feature = "rdconversas",
    feature = "rm"
))]

use std::collections::BTreeSet;
use std::fs;
use std::sync::{Arc, OnceLock};

use hubflow::conversation::ConversationSpec;
use hubflow::lookup::directory_fn;
use hubflow::spec::{Connections, KindRole, MapSecrets, Registry};
use hubflow::{Directory, FlowSpec, SpecErrors};
use jsonschema::error::ValidationErrorKind;
use serde_json::{json, Value};

#[path = "common/json_edit.rs"]
mod json_edit;
use json_edit::{crate_path, edit, insert};

fn compile(schema: &Value, what: &str) -> jsonschema::Validator {
    jsonschema::validator_for(schema).unwrap_or_else(|e| panic!("{what} does not compile: {e}"))
}

/// `Registry::default().flow_schema()`, compiled once (compiling checks it against the
/// draft's meta-schema).
fn full() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        compile(
            Registry::default().flow_schema().as_value(),
            "the registry's flow schema",
        )
    })
}

/// `FlowSpec::json_schema()`, compiled once.
fn open() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| compile(FlowSpec::json_schema().as_value(), "the flow schema"))
}

/// Where each error of `instance` is, as the loader would say it: the instance path, and
/// for an unknown field the field itself (JSON Schema reports `additionalProperties` at
/// the object holding the field, the loader at the field).
fn located(validator: &jsonschema::Validator, instance: &Value) -> Vec<(String, String)> {
    validator
        .iter_errors(instance)
        .flat_map(|error| {
            let at = error.instance_path.to_string();
            let message = error.to_string();
            match &error.kind {
                ValidationErrorKind::AdditionalProperties { unexpected } => unexpected
                    .iter()
                    .map(|field| {
                        (
                            format!("{at}/{}", hubflow::pointer_token(field)),
                            message.clone(),
                        )
                    })
                    .collect::<Vec<_>>(),
                _ => vec![(at, message)],
            }
        })
        .collect()
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let found = located(validator, instance);
    assert!(found.is_empty(), "{what} does not validate: {found:#?}");
}

/// The connections and secrets the broken specs are built with, so that only the mistake
/// under test is refused.
fn setup() -> (Connections, MapSecrets) {
    let mut connections = Connections::new();
    connections.insert(
        "whatsapp",
        json!({"phone_number_id": "106540352242922", "access_token": {"secret": "WHATSAPP_TOKEN"}}),
    );
    connections.insert(
        "fracttal",
        json!({"client_id": "key", "client_secret": {"secret": "FRACTTAL_SECRET"}}),
    );
    let secrets = MapSecrets::new()
        .with("WHATSAPP_TOKEN", "test-token")
        .with("FRACTTAL_SECRET", "test-secret");
    (connections, secrets)
}

/// Reads and builds a spec as a host does; the paths of every problem, or none.
fn loader_paths(spec: &Value) -> Vec<String> {
    let (connections, secrets) = setup();
    let refused: Result<_, SpecErrors> = FlowSpec::from_value(spec)
        .and_then(|parsed| parsed.build(&Registry::default(), &connections, &secrets));
    match refused {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(|e| e.path.clone()).collect(),
    }
}

/// A spec that builds with [`setup`]: every section, one of each kind role.
fn base() -> Value {
    json!({
        "id": "ops-webhook",
        "description": "A work order to the ops hook.",
        "trigger": {"every": {"seconds": 300, "catch_up": "skip"}},
        "source": {"fracttal.work_orders": {"connection": "fracttal", "status": 1}},
        "when": {"all": [{"field": "status", "op": "eq", "value": "open"},
                         {"not": {"field": "closed_at", "op": "exists"}}]},
        "lookup": {"field": "responsible", "into": "phone",
                   "from": {"map": {"entries": {"Jonas Campos": "5511999991234"}}}},
        "map": {"folio": "{{ wo_folio }}", "to": "{{ phone }}"},
        "target": {"http.post": {"url": "https://ops.example.com/hook",
                                 "headers": {"X-Source": "hubflow"}}},
        "delivery": {"max_attempts": 5, "max_in_flight": 8, "rate_per_second": 80},
        "report": {"dead_letters": "key_only", "keep_runs": 500}
    })
}

#[test]
fn the_base_spec_builds_and_validates_against_both_schemas() {
    assert_eq!(loader_paths(&base()), Vec::<String>::new());
    assert_valid(full(), &base(), "the base spec");
    assert_valid(open(), &base(), "the base spec");
}

/// One mistake, and the one JSON pointer where the schema and the loader both put it.
struct Broken {
    what: &'static str,
    spec: Value,
    at: &'static str,
}

fn broken() -> Vec<Broken> {
    vec![
        Broken {
            what: "an unknown top-level field",
            spec: insert(base(), "", "triggers", json!("manual")),
            at: "/triggers",
        },
        Broken {
            what: "a trigger's interval as text",
            spec: edit(base(), "/trigger/every/seconds", json!("300")),
            at: "/trigger/every/seconds",
        },
        Broken {
            what: "an unknown trigger field",
            spec: insert(base(), "/trigger/every", "catchup", json!("skip")),
            at: "/trigger/every/catchup",
        },
        Broken {
            what: "max_in_flight as text",
            spec: edit(base(), "/delivery/max_in_flight", json!("8")),
            at: "/delivery/max_in_flight",
        },
        Broken {
            what: "max_attempts of 0",
            spec: edit(base(), "/delivery/max_attempts", json!(0)),
            at: "/delivery/max_attempts",
        },
        Broken {
            what: "an unknown delivery field",
            spec: insert(base(), "/delivery", "max_in_flihgt", json!(3)),
            at: "/delivery/max_in_flihgt",
        },
        Broken {
            what: "an unknown operator in when",
            spec: edit(base(), "/when/all/0/op", json!("equal")),
            at: "/when/all/0/op",
        },
        Broken {
            what: "an `in` whose value is not an array",
            spec: edit(
                base(),
                "/when/all/0",
                json!({"field": "status", "op": "in", "value": "open"}),
            ),
            at: "/when/all/0/value",
        },
        Broken {
            what: "an unknown key in a comparison",
            spec: insert(base(), "/when/all/0", "case", json!(true)),
            at: "/when/all/0/case",
        },
        Broken {
            what: "an unknown field in http.post's config",
            spec: edit(
                base(),
                "/target/http.post",
                json!({"urll": "https://ops.example.com/hook"}),
            ),
            at: "/target/http.post/urll",
        },
        Broken {
            what: "a header that is neither text nor a secret",
            spec: edit(base(), "/target/http.post/headers/X-Source", json!(5)),
            at: "/target/http.post/headers/X-Source",
        },
        Broken {
            what: "a target config without its required connection",
            spec: edit(base(), "/target", json!({"whatsapp.text": {}})),
            at: "/target/whatsapp.text",
        },
        Broken {
            what: "a source config with a field of the wrong type",
            spec: edit(base(), "/source/fracttal.work_orders/status", json!("open")),
            at: "/source/fracttal.work_orders/status",
        },
        Broken {
            what: "an unknown target kind",
            spec: edit(base(), "/target", json!({"acme.fax": {"number": "1"}})),
            at: "/target",
        },
        Broken {
            what: "two target kinds",
            spec: insert(
                base(),
                "/target",
                "whatsapp.text",
                json!({"connection": "whatsapp"}),
            ),
            at: "/target",
        },
        Broken {
            what: "an unknown field in a lookup step",
            spec: insert(base(), "/lookup", "on_misssing", json!("fail")),
            at: "/lookup/on_misssing",
        },
        Broken {
            what: "a map directory whose entries are a list",
            spec: edit(base(), "/lookup/from/map/entries", json!([])),
            at: "/lookup/from/map/entries",
        },
        Broken {
            what: "a second lookup step from an unknown directory",
            spec: edit(
                base(),
                "/lookup",
                json!([
                    {"field": "responsible", "into": "phone", "from": {"map": {"entries": {}}}},
                    {"field": "phone", "into": "name", "from": "acme.staff"}
                ]),
            ),
            at: "/lookup/1/from",
        },
        Broken {
            what: "a blank id",
            spec: edit(base(), "/id", json!(" ")),
            at: "/id",
        },
        Broken {
            what: "keep_runs of 0",
            spec: edit(base(), "/report/keep_runs", json!(0)),
            at: "/report/keep_runs",
        },
    ]
}

#[test]
fn each_broken_spec_fails_the_schema_where_the_loader_refuses_it() {
    for case in broken() {
        let schema: BTreeSet<String> = located(full(), &case.spec)
            .into_iter()
            .map(|(at, _)| at)
            .collect();
        assert_eq!(
            schema,
            BTreeSet::from([case.at.to_owned()]),
            "{}: where the schema puts it",
            case.what
        );
        let loader = loader_paths(&case.spec);
        assert!(
            loader.iter().any(|at| at == case.at),
            "{}: the loader puts it at {loader:?}, not at {}",
            case.what,
            case.at
        );
    }
}

#[test]
fn the_kind_independent_schema_refuses_what_from_value_refuses() {
    // Mistakes of the document itself; kinds and configs are the registry's business.
    for case in broken() {
        let refused_by_from_value = FlowSpec::from_value(&case.spec).is_err();
        let refused_by_schema = !open().is_valid(&case.spec);
        assert_eq!(
            refused_by_schema, refused_by_from_value,
            "{}: from_value and FlowSpec::json_schema() disagree",
            case.what
        );
    }
}

/// Specs at the edges of what the loader takes: each loads, builds with a registry that
/// also has a host's directory kind without a schema, and validates.
#[test]
fn specs_the_loader_accepts_at_the_edges_validate() {
    let cases = [
        (
            "no optional section",
            json!({"id": "x", "target": {"http.post": {"url": "https://a.example"}}}),
        ),
        ("null description, rate and keep_runs", {
            let spec = edit(base(), "/description", Value::Null);
            let spec = insert(spec, "/delivery", "rate_per_second", Value::Null);
            edit(spec, "/report/keep_runs", Value::Null)
        }),
        (
            "every trigger form",
            edit(base(), "/trigger", json!("manual")),
        ),
        (
            "an event trigger",
            edit(
                base(),
                "/trigger",
                json!({"event": {"module": "work_management", "submodule": "work_orders", "event": "new_wo"}}),
            ),
        ),
        (
            "a daily trigger",
            edit(
                base(),
                "/trigger",
                json!({"daily": {"at": "08:00", "time_zone": "America/Sao_Paulo", "catch_up": {"all": {"within_seconds": 3600}}}}),
            ),
        ),
        (
            "a date trigger",
            edit(
                base(),
                "/trigger",
                json!({"date": {"at": "2026-12-24T08:00:00-03:00"}}),
            ),
        ),
        (
            "rules in every form",
            edit(
                base(),
                "/when",
                json!({"any": [
            "always", {"always": true}, {"all": []},
            {"field": "a.b", "op": "matches", "value": "^x", "case_insensitive": true},
            {"field": "n", "op": "gte", "value": 3}, {"field": "t", "op": "empty"}]}),
            ),
        ),
        (
            "a mapping that is not an object",
            edit(base(), "/map", json!("{{ text }}")),
        ),
        (
            "a list of lookups, one from a host's kind by its bare name",
            edit(
                base(),
                "/lookup",
                json!([
            {"field": "responsible", "into": "phone", "from": {"map": {"entries": {}}}, "on_missing": "fail", "cache_seconds": 0},
            {"field": "phone", "into": "name", "from": "acme.staff"}]),
            ),
        ),
        (
            "a plain and a secret header",
            edit(
                base(),
                "/target/http.post/headers",
                json!({"X-Source": "hubflow", "Authorization": {"secret": "OPS_TOKEN"}}),
            ),
        ),
    ];
    let mut registry = Registry::default();
    registry.register_directory("acme.staff", |_cx, _config| {
        Ok(Arc::new(directory_fn("staff", |_| None)) as Arc<dyn Directory>)
    });
    let validator = compile(
        registry.flow_schema().as_value(),
        "the flow schema with acme.staff",
    );
    let (connections, secrets) = setup();
    let secrets = secrets.with("OPS_TOKEN", "t");
    for (what, spec) in cases {
        let parsed = FlowSpec::from_value(&spec)
            .unwrap_or_else(|e| panic!("{what}: from_value refuses it: {e}"));
        parsed
            .build(&registry, &connections, &secrets)
            .unwrap_or_else(|e| panic!("{what}: build refuses it: {e}"));
        assert_valid(&validator, &spec, what);
        assert_valid(open(), &spec, what);
        // What the loader writes back is a spec too.
        assert_valid(&validator, &parsed.to_value(), what);
    }
}

/// The example files (the examples' and the host example's): flow specs (a `target`), configs of a service kind (`rm.scheduling`,
/// for a conversation's `services`), and connection documents (`*-connections.json`).
/// A file that is none of these fails the test, so none is skipped unnoticed.
#[test]
fn every_example_file_validates_against_its_schema() {
    let registry = Registry::default();
    let services: Vec<&str> = registry.service_kinds().collect();
    let mut flows = 0;
    let folders = ["examples/flows", "examples/host/flows"];
    let entries = folders
        .iter()
        .flat_map(|folder| fs::read_dir(crate_path(folder)).unwrap());
    for entry in entries {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".json") {
            continue;
        }
        let doc: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if doc.get("target").is_some() {
            flows += 1;
            assert_valid(full(), &doc, &name);
            assert_valid(open(), &doc, &name);
            FlowSpec::from_value(&doc).unwrap_or_else(|e| panic!("{name}: {e}"));
            if let Some(spec) = doc.pointer("/target/conversation/spec") {
                let conversation = compile(
                    ConversationSpec::json_schema().as_value(),
                    "the conversation schema",
                );
                assert_valid(&conversation, spec, &format!("{name}'s conversation"));
            }
        } else if name.ends_with("-connections.json") {
            Connections::from_json(&doc.to_string()).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else {
            let kinds: Vec<&String> = doc
                .as_object()
                .into_iter()
                .flat_map(|map| map.keys())
                .filter(|key| *key != "description")
                .collect();
            assert!(
                !kinds.is_empty() && kinds.iter().all(|k| services.contains(&k.as_str())),
                "{name} is neither a flow spec, a service config nor connections"
            );
            for kind in kinds {
                let schema = registry.config_schema(KindRole::Service, kind).unwrap();
                assert_valid(&compile(schema.as_value(), kind), &doc[kind], &name);
            }
        }
    }
    assert!(flows >= 12, "only {flows} flow specs found");
}

/// A config each kind of the default registry builds from (with connections named `c`),
/// so that the list is checked against the registry: a new kind needs a line here.
fn minimal_configs() -> Vec<(KindRole, &'static str, Value)> {
    let connection = json!({"connection": "c"});
    let mut configs = Vec::new();
    for kind in [
        "whatsapp.template",
        "whatsapp.text",
        "whatsapp.document",
        "whatsapp.interactive",
        "whatsapp.image",
        "whatsapp.audio",
        "whatsapp.video",
        "timelines.message",
        "fracttal.work_request",
        "fracttal.work_order_note",
        "rm.confirm",
        "rm.cancel",
        "rm.reply",
        "twilio.whatsapp",
    ] {
        configs.push((KindRole::Target, kind, connection.clone()));
    }
    for kind in [
        "fracttal.work_orders",
        "fracttal.work_order_assignments",
        "fracttal.work_order_status",
        "fracttal.meter_readings",
        "fracttal.meter_alerts",
        "fracttal.work_requests",
        "rm.appointments",
    ] {
        configs.push((KindRole::Source, kind, connection.clone()));
    }
    configs.extend([
        (
            KindRole::Target,
            "rdconversas.template",
            json!({"connection": "c", "template_message_id": "tpl"}),
        ),
        (
            KindRole::Target,
            "rm.confirmation",
            json!({"via": {"whatsapp.template": {"connection": "c"}}}),
        ),
        (
            KindRole::Target,
            "http.post",
            json!({"connection": "c", "path": "hooks", "headers": {"X-Api-Key": {"secret": "S"}}}),
        ),
        (
            KindRole::Target,
            "conversation",
            json!({"send": {"text": {"whatsapp.text": {"connection": "c"}}},
                   "spec": {"id": "c", "start": "s", "states": {"s": {"prompt": {"text": "ok"}, "end": "done"}}}}),
        ),
        (KindRole::Source, "http.json", json!({"connection": "c", "path": "items"})),
        (KindRole::Directory, "http.json", json!({"connection": "c", "path": "staff/{key}"})),
        (KindRole::Directory, "map", json!({"entries": {"a": 1}})),
        (
            KindRole::Service,
            "rm.scheduling",
            json!({"connection": "c", "operations": {
                "list_specialties": {"route": {"method": "GET", "path": "/specialties"}}}}),
        ),
    ]);
    configs
}

#[test]
fn every_kind_of_the_default_registry_has_a_config_schema_that_takes_its_config() {
    let registry = Registry::default();
    let mut registered = BTreeSet::new();
    for &role in KindRole::ALL {
        let kinds: Vec<&str> = match role {
            KindRole::Target => registry.target_kinds().collect(),
            KindRole::Source => registry.source_kinds().collect(),
            KindRole::Directory => registry.directory_kinds().collect(),
            _ => registry.service_kinds().collect(),
        };
        for kind in kinds {
            assert!(
                registry.config_schema(role, kind).is_some(),
                "the {} kind {kind} has no config schema",
                role.name()
            );
            registered.insert((role, kind));
        }
    }
    let configs = minimal_configs();
    let listed: BTreeSet<(KindRole, &str)> = configs
        .iter()
        .map(|(role, kind, _)| (*role, *kind))
        .collect();
    assert_eq!(
        listed, registered,
        "a kind was added or removed: give it a config here"
    );
    for (role, kind, config) in configs {
        let schema = registry.config_schema(role, kind).unwrap();
        let validator = compile(schema.as_value(), kind);
        assert_valid(&validator, &config, kind);
        let with_typo = insert(config, "", "connectionn", json!("c"));
        let found: Vec<String> = located(&validator, &with_typo)
            .into_iter()
            .map(|(at, _)| at)
            .collect();
        assert_eq!(found, ["/connectionn"], "{kind} takes an unknown field");
    }
}

#[test]
fn a_hosts_kind_carries_its_schema_and_loses_it_when_registered_again() {
    #[derive(serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Staff {
        /// The department.
        department: String,
    }
    let mut registry = Registry::default();
    let factory = |_: &hubflow::spec::BuildContext<'_>, _: &Value| {
        Ok(Arc::new(directory_fn("staff", |_| None)) as Arc<dyn Directory>)
    };
    registry.register_directory("acme.staff", factory);
    registry.set_config_schema_of::<Staff>(KindRole::Directory, "acme.staff");
    let flow = registry.flow_schema();
    let validator = compile(flow.as_value(), "the flow schema with acme.staff");
    let spec = edit(
        base(),
        "/lookup/from",
        json!({"acme.staff": {"department": "ops"}}),
    );
    assert_valid(&validator, &spec, "a lookup from acme.staff");
    let wrong = edit(
        base(),
        "/lookup/from",
        json!({"acme.staff": {"dept": "ops"}}),
    );
    let found: Vec<String> = located(&validator, &wrong)
        .into_iter()
        .map(|(at, _)| at)
        .collect();
    // The unknown field, and the field it stands for missing.
    assert_eq!(
        found,
        ["/lookup/from/acme.staff/dept", "/lookup/from/acme.staff"]
    );
    // A kind with a required field cannot be written as its bare name.
    let bare = edit(base(), "/lookup/from", json!("acme.staff"));
    assert!(!validator.is_valid(&bare));

    registry.register_directory("acme.staff", factory);
    assert!(registry
        .config_schema(KindRole::Directory, "acme.staff")
        .is_none());
    let validator = compile(
        registry.flow_schema().as_value(),
        "the flow schema, replaced",
    );
    assert_valid(&validator, &wrong, "any config of a kind without a schema");
    assert_valid(
        &validator,
        &bare,
        "the bare name of a kind without a schema",
    );
}

#[test]
fn the_conversation_targets_config_schema_is_the_conversation_schemas_target() {
    let registry = Registry::default();
    let config = registry
        .config_schema(KindRole::Target, "conversation")
        .unwrap();
    let validator = compile(config.as_value(), "the conversation target's schema");
    let (_, _, good) = minimal_configs()
        .into_iter()
        .find(|(_, kind, _)| *kind == "conversation")
        .unwrap();
    assert_valid(&validator, &good, "a conversation target config");
    let broken = edit(good, "/spec/states/s/end", json!("finished"));
    assert!(!validator.is_valid(&broken));
    // In the flow schema too, with the mistake where the loader puts it.
    let flow = edit(base(), "/target", json!({"conversation": broken}));
    let found: Vec<String> = located(full(), &flow)
        .into_iter()
        .map(|(at, _)| at)
        .collect();
    assert!(
        found.contains(&"/target/conversation/spec/states/s/end".to_owned()),
        "{found:?}"
    );
    assert!(loader_paths(&flow).contains(&"/target/conversation/spec/states/s/end".to_owned()));
    // The document's `$defs/target`, but for its reference to the document's root.
    let mut target = ConversationSpec::json_schema().as_value()["$defs"]["target"].clone();
    target["properties"]["spec"]["$ref"] = json!("#/$defs/conversation_spec");
    assert_eq!(config.as_value()["$defs"]["target"], target);
}

/// The rule language's schema here and in the conversation schema (written by hand) say
/// the same, but for the words of their descriptions and the order of their conditions.
#[test]
fn the_rule_schema_agrees_with_the_conversation_schemas_rules() {
    /// The schema as text with its keys sorted, without descriptions, and with the
    /// conditions of an `allOf` in a sorted order.
    fn canonical(value: &Value) -> String {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map
                    .keys()
                    .filter(|key| !matches!(key.as_str(), "description" | "$comment"))
                    .collect();
                keys.sort();
                let entries: Vec<String> = keys
                    .into_iter()
                    .map(|key| {
                        let inner = match (key.as_str(), &map[key]) {
                            ("allOf", Value::Array(items)) => {
                                let mut items: Vec<String> = items.iter().map(canonical).collect();
                                items.sort();
                                format!("[{}]", items.join(","))
                            }
                            (_, inner) => canonical(inner),
                        };
                        format!("{key:?}:{inner}")
                    })
                    .collect();
                format!("{{{}}}", entries.join(","))
            }
            Value::Array(items) => {
                let items: Vec<String> = items.iter().map(canonical).collect();
                format!("[{}]", items.join(","))
            }
            other => other.to_string(),
        }
    }
    let flow = FlowSpec::json_schema();
    let ours = canonical(&flow.as_value()["$defs"]["Rule"]).replace("#/$defs/Rule", "#/$defs/rule");
    let conversation = ConversationSpec::json_schema();
    let theirs = &conversation.as_value()["$defs"];
    // Theirs has the comparison as a definition of its own; ours has it in place.
    let mut inlined = theirs["rule"].clone();
    let slot = inlined.pointer_mut("/else/else/else/else/else").unwrap();
    assert_eq!(*slot, json!({"$ref": "#/$defs/comparison"}));
    *slot = theirs["comparison"].clone();
    assert_eq!(ours, canonical(&inlined));
}
