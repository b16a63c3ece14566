//! The JSON Schema of the conversation spec, `docs/conversation.schema.json`, against the
//! loader, `ConversationSpec::from_value`: the specs the loader accepts validate, and the
//! broken ones are refused by both, the schema at the instance path where the mistake is.
//! The guide's examples (`docs/conversation.md`) are read from the guide itself.

use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use hubflow::conversation::ConversationSpec;
use serde_json::{json, Value};

#[path = "common/json_edit.rs"]
mod json_edit;
use json_edit::{crate_path, edit, insert, remove};

/// The base URI the schema is registered under to reach `$defs/target`.
const SCHEMA_URI: &str = "urn:hubflow:conversation.schema.json";

fn read_json(path: &Path) -> Value {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn schema() -> &'static Value {
    static SCHEMA: OnceLock<Value> = OnceLock::new();
    SCHEMA.get_or_init(|| read_json(&crate_path("docs/conversation.schema.json")))
}

/// The spec's schema, compiled once (the build checks it against the draft's meta-schema).
fn spec_schema() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        jsonschema::validator_for(schema())
            .unwrap_or_else(|e| panic!("docs/conversation.schema.json does not compile: {e}"))
    })
}

/// The `conversation` target's config schema, `$defs/target` of the same file.
fn target_schema() -> &'static jsonschema::Validator {
    static VALIDATOR: OnceLock<jsonschema::Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let resource = jsonschema::Resource::from_contents(schema().clone())
            .expect("the schema names a known draft");
        jsonschema::options()
            .with_resource(SCHEMA_URI, resource)
            .build(&json!({"$ref": format!("{SCHEMA_URI}#/$defs/target")}))
            .unwrap_or_else(|e| panic!("$defs/target does not compile: {e}"))
    })
}

/// Every error of `instance`: its instance path and message.
fn errors(validator: &jsonschema::Validator, instance: &Value) -> Vec<(String, String)> {
    validator
        .iter_errors(instance)
        .map(|error| (error.instance_path.to_string(), error.to_string()))
        .collect()
}

fn assert_valid(validator: &jsonschema::Validator, instance: &Value, what: &str) {
    let found = errors(validator, instance);
    assert!(found.is_empty(), "{what} does not validate: {found:#?}");
}

fn assert_loads(spec: &Value, what: &str) -> ConversationSpec {
    ConversationSpec::from_value(spec)
        .unwrap_or_else(|e| panic!("{what} is refused by the loader: {e}"))
}

/// The JSON block that follows `marker` in docs/conversation.md.
fn guide_block(marker: &str) -> Value {
    let path = crate_path("docs/conversation.md");
    let guide = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let after = guide
        .split_once(marker)
        .unwrap_or_else(|| panic!("no `{marker}` in the guide"))
        .1;
    let block = after
        .split_once("```json\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .unwrap_or_else(|| panic!("no JSON block after `{marker}`"))
        .0;
    serde_json::from_str(block).unwrap_or_else(|e| panic!("the block after `{marker}`: {e}"))
}

fn guide_example() -> Value {
    guide_block("<!-- conversation-example:")
}

fn guide_flow() -> Value {
    guide_block("<!-- conversation-flow-example:")
}

/// The complete spec of the unit tests (`booking()` in src/pipeline/conversation/tests.rs).
fn booking() -> Value {
    json!({
        "id": "booking",
        "start": "menu",
        "idle": {"minutes": 30, "state": "timeout"},
        "fallback": "human",
        "texts": {"apology": "Desculpe, tente de novo."},
        "commands": [{"words": ["menu", "início"], "goto": "menu"},
                     {"words": ["atendente"], "goto": "human"}],
        "states": {
            "menu": {
                "enter": [{"clear": ["slot"]}],
                "prompt": {"buttons": {"text": "Olá! O que deseja?", "options": [
                    {"id": "book", "title": "Marcar consulta"},
                    {"id": "human", "title": "Falar com alguém"}]}},
                "input": {"into": "choice", "parse": "option", "retry": "Toque numa opção."},
                "next": [{"when": {"field": "choice", "op": "eq", "value": "human"}, "goto": "human"},
                         {"goto": "specialty"}]
            },
            "specialty": {
                "enter": [{"call": {"op": "erp.list_specialties", "into": "specialties"}}],
                "prompt": {"dynamic_list": {"text": "Qual especialidade?", "button": "Especialidades",
                    "rows": "specialties", "id": "{{ item.id }}", "title": "{{ item.name }}"}},
                "input": {"into": "specialty", "parse": "option"},
                "next": [{"goto": "date"}]
            },
            "date": {
                "prompt": {"text": "Para qual dia? (dd/mm)"},
                "input": {"into": "date", "parse": "date", "retry": "Data inválida. Use dd/mm.", "max_attempts": 2},
                "next": [{"goto": "slot"}]
            },
            "slot": {
                "enter": [{"call": {"op": "erp.list_slots",
                    "with": {"specialty": "{{ specialty.id }}", "date": "{{ date }}"}, "into": "slots"}}],
                "prompt": {"dynamic_list": {"text": "Horários em {{ date }}:", "button": "Horários",
                    "rows": "slots", "id": "{{ item.id }}", "title": "{{ item.time }}",
                    "description": "{{ item.professional }}", "if_empty": "no_slots"}},
                "input": {"into": "slot", "parse": "option"},
                "next": [{"goto": "book"}]
            },
            "no_slots": {"prompt": {"text": "Sem horários nesse dia."}, "next": [{"goto": "date"}]},
            "book": {
                "enter": [{"call": {"op": "erp.book", "with": {"slot": "{{ slot.id }}", "patient": "{{ party }}"},
                    "into": "booking",
                    "on_conflict": {"say": "Esse horário acabou de ser ocupado.", "goto": "slot"}}}],
                "next": [{"goto": "done"}]
            },
            "done": {"prompt": {"text": "Consulta marcada: {{ booking.booking }} às {{ slot.time }}."}, "end": "done"},
            "human": {"prompt": {"text": "Um atendente vai falar com você."}, "end": "attendant"},
            "timeout": {"prompt": {"text": "Encerramos por falta de resposta."}, "end": "expired"}
        }
    })
}

fn options(count: usize, prefix: &str) -> Value {
    (0..count)
        .map(|i| json!({"id": format!("{prefix}{i}"), "title": format!("Opção {i}")}))
        .collect()
}

/// A spec with one mistake, where the schema reports it, and where the loader does.
struct Broken {
    what: &'static str,
    spec: Value,
    schema_at: &'static str,
    loader_at: &'static str,
}

fn broken() -> Vec<Broken> {
    vec![
        Broken {
            what: "a template in a button title",
            spec: edit(
                booking(),
                "/states/menu/prompt/buttons/options/0/title",
                json!("{{ name }}"),
            ),
            schema_at: "/states/menu/prompt/buttons/options/0/title",
            loader_at: "/states/menu/prompt/buttons/options/0/title",
        },
        Broken {
            what: "a text input with min 0",
            spec: edit(
                booking(),
                "/states/date/input/parse",
                json!({"text": {"min": 0, "max": 5}}),
            ),
            schema_at: "/states/date/input/parse/text/min",
            loader_at: "/states/date/input/parse",
        },
        Broken {
            what: "an unknown field in a state",
            spec: insert(booking(), "/states/menu", "promt", json!({"text": "typo"})),
            // The schema reports `additionalProperties` at the object that has the field.
            schema_at: "/states/menu",
            loader_at: "/states/menu/promt",
        },
        Broken {
            what: "a button title of 21 characters",
            spec: edit(
                booking(),
                "/states/menu/prompt/buttons/options/0/title",
                json!("x".repeat(21)),
            ),
            schema_at: "/states/menu/prompt/buttons/options/0/title",
            loader_at: "/states/menu/prompt/buttons/options/0/title",
        },
        Broken {
            what: "four buttons",
            spec: edit(
                booking(),
                "/states/menu/prompt/buttons/options",
                options(4, "o"),
            ),
            schema_at: "/states/menu/prompt/buttons/options",
            loader_at: "/states/menu/prompt/buttons/options",
        },
        Broken {
            what: "a list of 11 options",
            spec: edit(
                booking(),
                "/states/menu/prompt",
                json!({"list": {"text": "Escolha", "button": "Ver", "options": options(11, "r")}}),
            ),
            schema_at: "/states/menu/prompt/list/options",
            loader_at: "/states/menu/prompt/list/options",
        },
        Broken {
            what: "a parse name that does not exist",
            spec: edit(booking(), "/states/date/input/parse", json!("weekday")),
            schema_at: "/states/date/input/parse",
            loader_at: "/states/date/input/parse",
        },
        Broken {
            what: "a prompt with two forms",
            spec: insert(booking(), "/states/menu/prompt", "text", json!("Olá!")),
            schema_at: "/states/menu/prompt",
            loader_at: "/states/menu/prompt",
        },
        Broken {
            what: "an enter action with two kinds",
            spec: insert(booking(), "/states/menu/enter/0", "say", json!("Olá!")),
            schema_at: "/states/menu/enter/0",
            loader_at: "/states/menu/enter/0",
        },
        Broken {
            what: "`end` with an unknown value",
            spec: edit(booking(), "/states/done/end", json!("finished")),
            schema_at: "/states/done/end",
            loader_at: "/states/done/end",
        },
        Broken {
            what: "a spec without `start`",
            spec: remove(booking(), "", "start"),
            schema_at: "",
            loader_at: "",
        },
        Broken {
            what: "a reserved variable name",
            spec: edit(booking(), "/states/date/input/into", json!("today")),
            schema_at: "/states/date/input/into",
            loader_at: "/states/date/input/into",
        },
        Broken {
            what: "an end state that waits for an answer",
            spec: insert(
                booking(),
                "/states/done",
                "input",
                json!({"into": "x", "parse": "text"}),
            ),
            schema_at: "/states/done/input",
            loader_at: "/states/done/input",
        },
        Broken {
            what: "a state that does not end and has no transitions",
            spec: edit(booking(), "/states/date/next", json!([])),
            schema_at: "/states/date/next",
            loader_at: "/states/date/next",
        },
        Broken {
            what: "an option input after a text prompt",
            spec: edit(booking(), "/states/date/input/parse", json!("option")),
            // The schema names the prompt that lacks options; the loader the input.
            schema_at: "/states/date/prompt",
            loader_at: "/states/date/input/parse",
        },
        Broken {
            what: "a description on a reply button",
            spec: insert(
                booking(),
                "/states/menu/prompt/buttons/options/0",
                "description",
                json!("Consultas e exames"),
            ),
            schema_at: "/states/menu/prompt/buttons/options/0/description",
            loader_at: "/states/menu/prompt/buttons/options/0/description",
        },
        Broken {
            what: "a blank text prompt",
            spec: edit(booking(), "/states/date/prompt/text", json!("  ")),
            schema_at: "/states/date/prompt/text",
            loader_at: "/states/date/prompt/text",
        },
        Broken {
            what: "a text prompt of 4097 characters",
            spec: edit(
                booking(),
                "/states/date/prompt/text",
                json!("x".repeat(4097)),
            ),
            schema_at: "/states/date/prompt/text",
            loader_at: "/states/date/prompt/text",
        },
        Broken {
            what: "a retry of 1025 characters after buttons",
            spec: edit(
                booking(),
                "/states/menu/input/retry",
                json!("x".repeat(1025)),
            ),
            schema_at: "/states/menu/input/retry",
            loader_at: "/states/menu/input/retry",
        },
        Broken {
            what: "a `more` title of 25 characters",
            spec: insert(booking(), "/texts", "more", json!("x".repeat(25))),
            schema_at: "/texts/more",
            loader_at: "/texts/more",
        },
        Broken {
            what: "an idle timeout longer than a week",
            spec: edit(booking(), "/idle/minutes", json!(10081)),
            schema_at: "/idle/minutes",
            loader_at: "/idle/minutes",
        },
        Broken {
            what: "a call without a service name",
            spec: edit(
                booking(),
                "/states/specialty/enter/0/call/op",
                json!("list_specialties"),
            ),
            schema_at: "/states/specialty/enter/0/call/op",
            loader_at: "/states/specialty/enter/0/call/op",
        },
        Broken {
            what: "an input without a fallback, here or at the top",
            spec: {
                let mut spec = remove(booking(), "", "fallback");
                for state in ["specialty", "date", "slot"] {
                    let pointer = format!("/states/{state}/input");
                    spec = insert(spec, &pointer, "fallback", json!("human"));
                }
                spec
            },
            schema_at: "/states/menu/input",
            loader_at: "/states/menu/input/fallback",
        },
        Broken {
            what: "a rule with an unknown operator",
            spec: edit(booking(), "/states/menu/next/0/when/op", json!("resembles")),
            schema_at: "/states/menu/next/0/when/op",
            loader_at: "/states/menu/next/0/when/op",
        },
        Broken {
            what: "an `in` rule whose value is not an array",
            spec: edit(
                booking(),
                "/states/menu/next/0/when",
                json!({"field": "choice", "op": "in", "value": "human"}),
            ),
            schema_at: "/states/menu/next/0/when/value",
            loader_at: "/states/menu/next/0/when/value",
        },
        Broken {
            what: "a transition with an unknown field",
            spec: insert(booking(), "/states/date/next/0", "if", json!("always")),
            schema_at: "/states/date/next/0",
            loader_at: "/states/date/next/0/if",
        },
    ]
}

#[test]
fn the_schema_is_a_draft_2020_12_schema_that_compiles() {
    assert_eq!(
        schema()["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    // Compiling validates the schema against the draft's meta-schema.
    spec_schema();
    target_schema();
}

#[test]
fn every_property_of_the_schema_has_a_description() {
    fn walk(value: &Value, pointer: &str, missing: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                // The `properties` of conditions (`if`, `then`, `else`) only narrow
                // properties described elsewhere.
                let narrowing = ["/if", "/then", "/else"]
                    .iter()
                    .any(|keyword| pointer.contains(keyword));
                if let (Some(Value::Object(properties)), false) = (map.get("properties"), narrowing)
                {
                    for (name, property) in properties {
                        if property
                            .get("description")
                            .and_then(Value::as_str)
                            .is_none()
                        {
                            missing.push(format!("{pointer}/properties/{name}"));
                        }
                    }
                }
                for (key, inner) in map {
                    walk(inner, &format!("{pointer}/{key}"), missing);
                }
            }
            Value::Array(items) => {
                for (i, inner) in items.iter().enumerate() {
                    walk(inner, &format!("{pointer}/{i}"), missing);
                }
            }
            _ => {}
        }
    }
    let mut missing = Vec::new();
    walk(schema(), "", &mut missing);
    assert!(
        missing.is_empty(),
        "properties without a description: {missing:#?}"
    );
}

#[test]
fn the_booking_spec_of_the_unit_tests_validates_and_loads() {
    assert_valid(spec_schema(), &booking(), "the booking spec");
    assert_loads(&booking(), "the booking spec");
}

#[test]
fn the_guides_example_validates_and_loads() {
    let example = guide_example();
    assert_valid(spec_schema(), &example, "the guide's example");
    let spec = assert_loads(&example, "the guide's example");
    assert_eq!(spec.states.len(), 9);
}

#[test]
fn what_the_loader_writes_back_validates() {
    for (what, spec) in [
        ("booking", booking()),
        ("the guide's example", guide_example()),
    ] {
        let written = assert_loads(&spec, what).to_value();
        assert_valid(spec_schema(), &written, what);
    }
}

#[test]
fn each_broken_spec_fails_the_schema_at_the_instance_path_of_its_mistake() {
    for case in broken() {
        let found = errors(spec_schema(), &case.spec);
        assert!(!found.is_empty(), "the schema accepts {}", case.what);
        assert!(
            found.iter().all(|(path, _)| path == case.schema_at),
            "{}: expected every error at `{}`, found {found:#?}",
            case.what,
            case.schema_at
        );
    }
}

#[test]
fn each_broken_spec_is_refused_by_the_loader_at_the_path_of_its_mistake() {
    for case in broken() {
        let refused = match ConversationSpec::from_value(&case.spec) {
            Ok(_) => panic!("the loader accepts {}", case.what),
            Err(errors) => errors,
        };
        let paths: Vec<&str> = refused.iter().map(|e| e.path.as_str()).collect();
        assert!(
            paths.contains(&case.loader_at),
            "{}: expected an error at `{}`, found {refused}",
            case.what,
            case.loader_at
        );
    }
}

#[test]
fn specs_the_loader_accepts_at_the_edges_validate_too() {
    let cases = [
        (
            "null for optional fields",
            insert(
                insert(
                    edit(
                        booking(),
                        "/states/date/next/0",
                        json!({"when": null, "goto": "slot"}),
                    ),
                    "/states/menu/input",
                    "max_attempts",
                    Value::Null,
                ),
                "",
                "description",
                Value::Null,
            ),
        ),
        (
            "a template longer than its limit whose literal text fits",
            edit(
                booking(),
                "/states/slot/prompt/dynamic_list/text",
                json!(format!(
                    "{}{{{{ date | date('%d/%m/%Y') }}}}",
                    "x".repeat(1020)
                )),
            ),
        ),
        (
            "text limits of its own",
            edit(
                booking(),
                "/states/date/input/parse",
                json!({"text": {"min": 2}}),
            ),
        ),
        (
            "rules in every form",
            edit(
                booking(),
                "/states/menu/next",
                json!([
                    {"when": {"not": {"field": "choice", "op": "exists"}}, "goto": "human"},
                    {"when": {"any": [{"field": "text", "op": "matches", "value": "^hum", "case_insensitive": true},
                                      {"field": "choice", "op": "in", "value": ["human"]}]}, "goto": "human"},
                    {"when": {"all": []}, "goto": "specialty"},
                    {"when": "always", "goto": "specialty"},
                    {"goto": "specialty"}
                ]),
            ),
        ),
        (
            "a list at its limits",
            edit(
                booking(),
                "/states/menu/prompt",
                json!({"list": {"text": "Escolha", "button": "x".repeat(20), "section": "x".repeat(24),
                    "header": "x".repeat(60), "footer": "x".repeat(60),
                    "options": (0..10).map(|i| json!({"id": format!("r{i}"), "title": format!("{i:0>24}"),
                        "description": "x".repeat(72)})).collect::<Vec<_>>()}}),
            ),
        ),
        (
            "a set of typed values and a say",
            edit(
                booking(),
                "/states/menu/enter",
                json!([{"set": {"attempts": 0, "chosen": "{{ party }}"}}, {"say": "Olá!"}, {"clear": ["slot"]}]),
            ),
        ),
    ];
    for (what, spec) in cases {
        assert_loads(&spec, what);
        assert_valid(spec_schema(), &spec, what);
    }
}

#[test]
fn the_guides_flow_has_a_valid_target_config_and_spec() {
    let flow = guide_flow();
    let target = &flow["target"]["conversation"];
    assert_valid(target_schema(), target, "the guide's flow target");
    assert_valid(spec_schema(), &target["spec"], "the guide's flow spec");
    assert_loads(&target["spec"], "the guide's flow spec");
    assert_eq!(
        hubflow::Rule::parse(&flow["when"]).unwrap(),
        hubflow::conversation::conversation_rule(),
        "the guide's `when` is the conversation rule"
    );
}

/// Builds the guide's flow, with `target` as its conversation config, as a host would:
/// the default registry and a `clinica.agenda` service kind.
#[cfg(feature = "whatsapp")]
fn build_guide_flow(target: &Value) -> Result<hubflow::Flow, hubflow::SpecErrors> {
    use std::sync::Arc;

    use async_trait::async_trait;
    use hubflow::conversation::{DynService, Service, ServiceCall, ServiceError};
    use hubflow::spec::{Connections, MapSecrets, Registry};
    use hubflow::{Context, FlowSpec};

    struct Agenda;

    #[async_trait]
    impl Service for Agenda {
        fn describe(&self) -> String {
            "the clinic's agenda".into()
        }
        fn operations(&self) -> Vec<String> {
            vec!["list_slots".into()]
        }
        async fn call(&self, _: &Context, _: &ServiceCall) -> Result<Value, ServiceError> {
            Ok(json!([]))
        }
    }

    let mut registry = Registry::default();
    registry.register_service("clinica.agenda", |_, _config| {
        Ok(Arc::new(Agenda) as DynService)
    });
    let mut connections = Connections::new();
    connections.insert(
        "whatsapp",
        json!({"phone_number_id": "106540352242922", "access_token": {"secret": "WHATSAPP_TOKEN"}}),
    );
    let secrets = MapSecrets::new().with("WHATSAPP_TOKEN", "test-token");
    let flow = edit(guide_flow(), "/target/conversation", target.clone());
    FlowSpec::from_value(&flow)?.build(&registry, &connections, &secrets)
}

#[cfg(feature = "whatsapp")]
#[test]
fn the_guides_flow_builds_with_a_registered_service_kind() {
    let target = guide_flow()["target"]["conversation"].clone();
    let flow = build_guide_flow(&target)
        .unwrap_or_else(|e| panic!("the guide's flow does not build: {e}"));
    assert_eq!(flow.id(), "whatsapp-horarios");
}

#[cfg(feature = "whatsapp")]
#[test]
fn target_configs_the_flow_build_refuses_fail_the_target_schema() {
    let target = guide_flow()["target"]["conversation"].clone();
    let cases = [
        (
            "buttons without an interactive sender",
            edit(
                remove(target.clone(), "/send", "interactive"),
                "/spec",
                booking(),
            ),
            "/send",
        ),
        (
            "two sending kinds",
            insert(target.clone(), "/send/text", "twilio.whatsapp", json!({})),
            "/send/text",
        ),
        (
            "no sender of text",
            remove(target.clone(), "/send", "text"),
            "/send",
        ),
        (
            "an unknown field",
            insert(target.clone(), "", "senders", json!({})),
            "",
        ),
        (
            "a service without a kind",
            edit(target.clone(), "/services/erp", json!({})),
            "/services/erp",
        ),
        (
            "a broken spec",
            edit(target, "/spec/states/anotado/end", json!("finished")),
            "/spec/states/anotado/end",
        ),
    ];
    for (what, config, at) in cases {
        assert!(
            build_guide_flow(&config).is_err(),
            "the flow builds with {what}"
        );
        let found = errors(target_schema(), &config);
        assert!(!found.is_empty(), "the target schema accepts {what}");
        assert!(
            found.iter().any(|(path, _)| path == at),
            "{what}: expected an error at `{at}`, found {found:#?}"
        );
    }
}

/// `examples/flows/rm-booking.json`, once it exists: its conversation validates and loads.
#[test]
fn the_rm_booking_example_flow_validates_and_loads_when_present() {
    let path = crate_path("examples/flows/rm-booking.json");
    if !path.exists() {
        return;
    }
    let flow = read_json(&path);
    let target = &flow["target"]["conversation"];
    assert_valid(target_schema(), target, "rm-booking.json's target");
    let spec = &target["spec"];
    assert_valid(spec_schema(), spec, "rm-booking.json's spec");
    assert_loads(spec, "rm-booking.json's spec");
}
