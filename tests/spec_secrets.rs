//! A secret pasted as plain text where a spec names it (`{"secret": "NAME"}`) is refused at
//! its field and never quoted back: not in the spec error's `Display`, nor its `Debug`, nor
//! its serialized form.
//!
//! The cases below cover every target and source kind of `Registry::default()` and every
//! connection form with a secret field; a test checks that list against the registry, so a
//! new kind (and with it, possibly, a new secret field) cannot be added without a case here.
#![cfg(all(
    feature = "http",
    feature = "fracttal",
    feature = "whatsapp",
    feature = "timelines",
    feature = "rm"
))]

use std::collections::BTreeSet;

use hubflow::spec::{BuildContext, Connections, MapSecrets, Registry};
use hubflow::{FlowSpec, SpecErrors};
use serde_json::{json, Value};

/// What gets pasted: distinctive, so a leak anywhere is found.
const LEAK: &str = "EAAG-LEAK-4242";

/// The start of the message a written secret gets.
const REFUSAL: &str = "a secret is never written in a spec";

/// Where a kind sits in a flow spec.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Target,
    Source,
}

/// One connection form: the document, and the pointers (inside it) of its secret fields
/// and of its plain-or-secret fields.
#[derive(Clone)]
struct Form {
    connection: Value,
    secrets: &'static [&'static str],
    plain_or_secret: &'static [&'static str],
}

/// One kind, as a flow uses it: its config, the connection it names (`"c"`) in each of its
/// forms, where a connection's errors are reported, and the config's own secret fields.
struct Case {
    kind: &'static str,
    role: Role,
    /// Which sending kind `rm.confirmation` goes through (it is covered once per kind).
    label: &'static str,
    config: Value,
    forms: Vec<Form>,
    connection_error_at: String,
    config_secrets: &'static [&'static str],
    config_plain_or_secret: &'static [&'static str],
}

fn whatsapp() -> Form {
    Form {
        connection: json!({
            "phone_number_id": "106540352242922",
            "access_token": {"secret": "S_ACCESS"},
            "app_secret": {"secret": "S_APP"},
            "verify_token": {"secret": "S_VERIFY"}
        }),
        secrets: &["/access_token", "/app_secret", "/verify_token"],
        plain_or_secret: &[],
    }
}

fn timelines() -> Form {
    Form {
        connection: json!({"api_token": {"secret": "S_TIMELINES"}}),
        secrets: &["/api_token"],
        plain_or_secret: &[],
    }
}

fn fracttal() -> Form {
    Form {
        connection: json!({
            "client_id": {"secret": "S_KEY"},
            "client_secret": {"secret": "S_SECRET"}
        }),
        secrets: &["/client_secret"],
        plain_or_secret: &["/client_id"],
    }
}

fn rm_forms() -> Vec<Form> {
    let base = "https://erp.example:8051";
    vec![
        Form {
            connection: json!({"base_url": base,
                "auth": {"jwt": {"username": "u", "password": {"secret": "S_RM"}}}}),
            secrets: &["/auth/jwt/password"],
            plain_or_secret: &[],
        },
        Form {
            connection: json!({"base_url": base,
                "auth": {"basic": {"username": "u", "password": {"secret": "S_RM"}}}}),
            secrets: &["/auth/basic/password"],
            plain_or_secret: &[],
        },
        Form {
            connection: json!({"base_url": base, "auth": {"bearer": {"secret": "S_RM"}}}),
            secrets: &["/auth/bearer"],
            plain_or_secret: &[],
        },
    ]
}

fn rdconversas() -> Form {
    Form {
        connection: json!({"token": {"secret": "S_RD"}}),
        secrets: &["/token"],
        plain_or_secret: &[],
    }
}

fn twilio_forms() -> Vec<Form> {
    vec![
        Form {
            connection: json!({"account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                               "auth_token": {"secret": "S_TWILIO"}, "from": "+15557771234"}),
            secrets: &["/auth_token"],
            plain_or_secret: &[],
        },
        Form {
            connection: json!({"account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
                               "api_key_sid": "SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                               "api_key_secret": {"secret": "S_TWILIO_KEY"},
                               "messaging_service_sid": "MGcccccccccccccccccccccccccccccccc"}),
            secrets: &["/api_key_secret"],
            plain_or_secret: &[],
        },
    ]
}

fn http() -> Form {
    Form {
        connection: json!({
            "base_url": "https://ops.example/api/",
            "headers": {"Authorization": {"secret": "S_OPS"}, "X-Source": "hubflow"}
        }),
        secrets: &[],
        plain_or_secret: &["/headers/Authorization", "/headers/X-Source"],
    }
}

/// Every kind `Registry::default()` has, with what it reads.
fn cases() -> Vec<Case> {
    let connection = |role: Role, kind: &str| {
        let role = if role == Role::Target {
            "target"
        } else {
            "source"
        };
        format!("/{role}/{kind}/connection")
    };
    let mut cases = Vec::new();
    let mut simple = |kind: &'static str, role: Role, config: Value, forms: Vec<Form>| {
        cases.push(Case {
            kind,
            role,
            label: kind,
            config,
            forms,
            connection_error_at: connection(role, kind),
            config_secrets: &[],
            config_plain_or_secret: &[],
        })
    };
    for kind in [
        "whatsapp.template",
        "whatsapp.text",
        "whatsapp.document",
        "whatsapp.interactive",
        "whatsapp.image",
        "whatsapp.audio",
        "whatsapp.video",
    ] {
        simple(
            kind,
            Role::Target,
            json!({"connection": "c"}),
            vec![whatsapp()],
        );
    }
    simple(
        "timelines.message",
        Role::Target,
        json!({"connection": "c"}),
        vec![timelines()],
    );
    for kind in ["fracttal.work_request", "fracttal.work_order_note"] {
        simple(
            kind,
            Role::Target,
            json!({"connection": "c"}),
            vec![fracttal()],
        );
    }
    for kind in [
        "fracttal.work_orders",
        "fracttal.work_order_assignments",
        "fracttal.work_order_status",
        "fracttal.meter_readings",
        "fracttal.meter_alerts",
        "fracttal.work_requests",
    ] {
        simple(
            kind,
            Role::Source,
            json!({"connection": "c"}),
            vec![fracttal()],
        );
    }
    simple(
        "rm.appointments",
        Role::Source,
        json!({"connection": "c"}),
        rm_forms(),
    );
    for kind in ["rm.confirm", "rm.cancel", "rm.reply"] {
        simple(kind, Role::Target, json!({"connection": "c"}), rm_forms());
    }
    simple(
        "rdconversas.template",
        Role::Target,
        json!({"connection": "c", "template_message_id": "tpl"}),
        vec![rdconversas()],
    );
    simple(
        "twilio.whatsapp",
        Role::Target,
        json!({"connection": "c"}),
        twilio_forms(),
    );
    // A conversation reads no secret of its own: its senders and its services do.
    let spec = json!({"id": "c", "start": "s", "states": {"s": {
        "enter": [{"call": {"op": "erp.list_specialties", "into": "x"}}],
        "prompt": {"text": "ok"}, "end": "done"}}});
    cases.push(Case {
        kind: "conversation",
        role: Role::Target,
        label: "conversation sending through whatsapp.text",
        config: json!({"send": {"text": {"whatsapp.text": {"connection": "c"}}},
                       "spec": {"id": "c", "start": "s", "states": {"s": {"prompt": {"text": "ok"}, "end": "done"}}}}),
        forms: vec![whatsapp()],
        connection_error_at: "/target/conversation/send/text/whatsapp.text/connection".into(),
        config_secrets: &[],
        config_plain_or_secret: &[],
    });
    cases.push(Case {
        kind: "conversation",
        role: Role::Target,
        label: "conversation calling rm.scheduling",
        config: json!({"send": {"text": {"http.post": {"url": "https://ops.example/chat"}}},
                       "services": {"erp": {"rm.scheduling": {"connection": "c", "operations": {
                           "list_specialties": {"route": {"method": "GET", "path": "/specialties"}}}}}},
                       "spec": spec}),
        forms: rm_forms(),
        connection_error_at: "/target/conversation/services/erp/rm.scheduling/connection".into(),
        config_secrets: &[],
        config_plain_or_secret: &[],
    });
    cases.push(Case {
        kind: "rm.confirmation",
        role: Role::Target,
        label: "rm.confirmation via whatsapp.template",
        config: json!({"via": {"whatsapp.template": {"connection": "c"}}}),
        forms: vec![whatsapp()],
        connection_error_at: "/target/rm.confirmation/via/whatsapp.template/connection".into(),
        config_secrets: &[],
        config_plain_or_secret: &[],
    });
    cases.push(Case {
        kind: "rm.confirmation",
        role: Role::Target,
        label: "rm.confirmation via rdconversas.template",
        config: json!({"via": {"rdconversas.template": {"connection": "c"}}}),
        forms: vec![rdconversas()],
        connection_error_at: "/target/rm.confirmation/via/rdconversas.template/connection".into(),
        config_secrets: &[],
        config_plain_or_secret: &[],
    });
    cases.push(Case {
        kind: "http.post",
        role: Role::Target,
        label: "http.post",
        config: json!({"connection": "c", "path": "hooks",
            "headers": {"X-Api-Key": {"secret": "S_KEY"}, "X-Plain": "yes"}}),
        forms: vec![http()],
        connection_error_at: "/target/http.post/connection".into(),
        config_secrets: &[],
        config_plain_or_secret: &["/headers/X-Api-Key", "/headers/X-Plain"],
    });
    cases.push(Case {
        kind: "http.json",
        role: Role::Source,
        label: "http.json",
        config: json!({"connection": "c", "path": "items",
            "headers": {"X-Api-Key": {"secret": "S_KEY"}, "X-Plain": "yes"}}),
        forms: vec![http()],
        connection_error_at: "/source/http.json/connection".into(),
        config_secrets: &[],
        config_plain_or_secret: &["/headers/X-Api-Key", "/headers/X-Plain"],
    });
    cases
}

fn secrets() -> MapSecrets {
    [
        "S_ACCESS",
        "S_APP",
        "S_VERIFY",
        "S_TIMELINES",
        "S_KEY",
        "S_SECRET",
        "S_RM",
        "S_RD",
        "S_TWILIO",
        "S_TWILIO_KEY",
        "S_OPS",
    ]
    .into_iter()
    .fold(MapSecrets::new(), |secrets, name| {
        secrets.with(name, "resolved-value")
    })
}

fn spec(case: &Case, config: &Value) -> FlowSpec {
    let adapter = json!({ case.kind: config });
    let document = match case.role {
        Role::Target => json!({"id": "f", "target": adapter}),
        Role::Source => json!({"id": "f", "source": adapter,
            "target": {"http.post": {"url": "https://ops.example/hook"}}}),
    };
    FlowSpec::from_value(&document)
        .unwrap_or_else(|e| panic!("{}: the spec document is valid: {e}", case.label))
}

fn build(case: &Case, config: &Value, connection: &Value) -> Result<(), SpecErrors> {
    let mut connections = Connections::new();
    connections.insert("c", connection.clone());
    spec(case, config)
        .build(&Registry::default(), &connections, &secrets())
        .map(drop)
}

/// `value` with `replacement` at `pointer`, which must exist.
fn with(value: &Value, pointer: &str, replacement: Value) -> Value {
    let mut changed = value.clone();
    match changed.pointer_mut(pointer) {
        Some(slot) => *slot = replacement,
        None => panic!("{pointer} is not in {value}"),
    }
    changed
}

/// Every pointer under `value` that holds a secret reference.
fn references(value: &Value, at: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) if map.len() == 1 && map.get("secret").is_some_and(Value::is_string) => {
            found.push(at.to_owned())
        }
        Value::Object(map) => {
            for (key, inner) in map {
                references(inner, &format!("{at}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (i, inner) in items.iter().enumerate() {
                references(inner, &format!("{at}/{i}"), found);
            }
        }
        _ => {}
    }
}

/// Checks that the build failed at `path` (or below it) with a message naming `field` (when the error is
/// about a connection), starting as `message` does, and that no form of the errors shows
/// the pasted value.
fn assert_refused(
    label: &str,
    result: Result<(), SpecErrors>,
    path: &str,
    field: &str,
    message: &str,
) {
    let errors = match result {
        Ok(()) => panic!("{label}: a value pasted at {field} was accepted"),
        Err(errors) => errors,
    };
    for shown in [
        errors.to_string(),
        format!("{errors:?}"),
        serde_json::to_string(&errors).expect("errors serialize"),
    ] {
        assert!(!shown.contains(LEAK), "{label}: {field} leaked: {shown}");
        assert!(!shown.contains("4242"), "{label}: {field} leaked: {shown}");
    }
    let error = errors
        .iter()
        .find(|e| e.path == path || e.path.starts_with(&format!("{path}/")))
        .unwrap_or_else(|| panic!("{label}: no error at {path} for {field}: {errors}"));
    assert!(
        error.message.contains(message),
        "{label}: {field}: {}",
        error.message
    );
    if path.ends_with("/connection") {
        assert!(
            error.message.contains(&format!("at {field}")),
            "{label}: the message names {field}: {}",
            error.message
        );
    }
}

#[test]
fn the_cases_cover_every_kind_of_the_registry() {
    let registry = Registry::default();
    let registered: BTreeSet<&str> = registry
        .target_kinds()
        .chain(registry.source_kinds())
        .collect();
    let cases = cases();
    let covered: BTreeSet<&str> = cases.iter().map(|c| c.kind).collect();
    assert_eq!(
        covered, registered,
        "a kind was added or removed: give it a case here, with its secret fields"
    );
    for case in &cases {
        let role = match case.role {
            Role::Target => registry.target_kinds().any(|k| k == case.kind),
            Role::Source => registry.source_kinds().any(|k| k == case.kind),
        };
        assert!(role, "{} is registered in its role", case.label);
    }
}

#[test]
fn every_case_lists_every_secret_reference_and_builds_as_it_is() {
    for case in cases() {
        for form in &case.forms {
            let mut found = Vec::new();
            references(&form.connection, "", &mut found);
            let mut listed: Vec<String> = form
                .secrets
                .iter()
                .chain(form.plain_or_secret)
                .filter(|p| form.connection.pointer(p).is_some_and(Value::is_object))
                .map(|p| p.to_string())
                .collect();
            found.sort();
            listed.sort();
            assert_eq!(found, listed, "{}: the form's secret fields", case.label);
            // With every secret named, the flow builds: a failure below is the pasted value.
            build(&case, &case.config, &form.connection)
                .unwrap_or_else(|e| panic!("{}: the valid form builds: {e}", case.label));
        }
    }
}

#[test]
fn a_secret_pasted_in_a_connection_is_refused_at_its_field_and_never_quoted() {
    let mut checked = 0;
    for case in cases() {
        for form in &case.forms {
            for field in form.secrets {
                let connection = with(&form.connection, field, json!(LEAK));
                assert_refused(
                    case.label,
                    build(&case, &case.config, &connection),
                    &case.connection_error_at,
                    field,
                    REFUSAL,
                );
                // Any other kind of value is refused the same way.
                for pasted in [json!(4242), json!([LEAK]), json!(true)] {
                    let connection = with(&form.connection, field, pasted);
                    assert_refused(
                        case.label,
                        build(&case, &case.config, &connection),
                        &case.connection_error_at,
                        field,
                        REFUSAL,
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "only {checked} secret fields were checked");
}

#[test]
fn a_secret_pasted_as_a_name_or_beside_it_is_not_quoted_either() {
    for case in cases() {
        for form in &case.forms {
            for field in form.secrets.iter().chain(form.plain_or_secret) {
                if !form.connection.pointer(field).is_some_and(Value::is_object) {
                    continue;
                }
                for (pasted, message) in [
                    (json!({"secret": 4242}), "the secret's name must be text"),
                    (json!({"secret": [LEAK]}), "the secret's name must be text"),
                    (
                        json!({"secret": "S", "value": LEAK}),
                        "unknown field `value`",
                    ),
                ] {
                    let connection = with(&form.connection, field, pasted);
                    assert_refused(
                        case.label,
                        build(&case, &case.config, &connection),
                        &case.connection_error_at,
                        &format!("{field}/"),
                        message,
                    );
                }
            }
        }
    }
}

#[test]
fn plain_or_secret_values_take_text_and_never_quote_anything_else() {
    for case in cases() {
        for form in &case.forms {
            for field in form.plain_or_secret {
                // Text is allowed on purpose.
                let connection = with(&form.connection, field, json!("plain text"));
                build(&case, &case.config, &connection)
                    .unwrap_or_else(|e| panic!("{}: {field} takes text: {e}", case.label));
                for pasted in [json!([LEAK]), json!(4242), json!({"value": LEAK})] {
                    let connection = with(&form.connection, field, pasted);
                    assert_refused(
                        case.label,
                        build(&case, &case.config, &connection),
                        &case.connection_error_at,
                        field,
                        "",
                    );
                }
            }
        }
        for field in case.config_plain_or_secret {
            let Some(form) = case.forms.first() else {
                continue;
            };
            for pasted in [json!([LEAK]), json!(4242), json!({"value": LEAK})] {
                let config = with(&case.config, field, pasted);
                let role = if case.role == Role::Target {
                    "target"
                } else {
                    "source"
                };
                assert_refused(
                    case.label,
                    build(&case, &config, &form.connection),
                    &format!("/{role}/{}{field}", case.kind),
                    field,
                    "",
                );
            }
        }
        for field in case.config_secrets {
            let Some(form) = case.forms.first() else {
                continue;
            };
            let config = with(&case.config, field, json!(LEAK));
            assert_refused(
                case.label,
                build(&case, &config, &form.connection),
                &format!("/target/{}{field}", case.kind),
                field,
                REFUSAL,
            );
        }
    }
}

/// `fracttal.event` is a webhook source, built by the host with `EventSource::from_spec`
/// rather than through the registry; its two secrets are checked the same way.
#[test]
fn the_fracttal_event_source_refuses_written_secrets_without_quoting_them() {
    let connections = Connections::new();
    let secrets = secrets();
    let registry = Registry::default();
    let cx = BuildContext::new(&registry, &connections, &secrets);
    let valid = json!({"header_secret": {"secret": "S_KEY"}, "url_token": {"secret": "S_SECRET"}});
    assert!(hubflow::fracttal::EventSource::from_spec(&cx, &valid).is_ok());
    for field in ["/header_secret", "/url_token"] {
        for pasted in [json!(LEAK), json!(4242), json!([LEAK])] {
            let config = with(&valid, field, pasted);
            let result = hubflow::fracttal::EventSource::from_spec(&cx, &config).map(drop);
            assert_refused("fracttal.event", result, field, field, REFUSAL);
        }
    }
}
