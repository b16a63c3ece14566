//! Unit tests of the RM adapter's spec forms and of its parsing of untrusted input.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;
use crate::spec::{Connections, MapSecrets, Registry};
use crate::{Condition, FlowSpec, Plan, Record, Target};

fn registry() -> Registry {
    let mut registry = Registry::default();
    register(&mut registry);
    registry
}

#[cfg(feature = "whatsapp")]
fn example(name: &str) -> String {
    let path = format!("{}/examples/flows/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[cfg(feature = "whatsapp")]
fn secrets() -> MapSecrets {
    MapSecrets::new()
        .with("RM_PASSWORD", "rm-pa55-secret")
        .with("WHATSAPP_TOKEN", "wa-secret-token")
        .with("RDCONVERSAS_TOKEN", "rd-secret-token")
}

#[cfg(feature = "whatsapp")]
fn appointment() -> Record {
    Record::new(
        "rm:appt:A1:2026-03-03",
        APPOINTMENT_KIND,
        json!({"appointment_id": "A1", "patient_name": "José Álvares", "mobile": "(11) 99999-1234",
               "birth_date": "1980-01-02", "date": "2026-03-03", "day": "03/03/2026", "time": "08:30",
               "starts_at": "2026-03-03T08:30:00-03:00", "professional": null, "location": "Centro"}),
    )
}

// The example specs send through `whatsapp.template` and `rdconversas.template`.
#[cfg(all(feature = "whatsapp", feature = "rdconversas"))]
#[test]
fn the_example_specs_build_and_plan_without_showing_secrets() {
    let connections = Connections::from_json(&example("rm-connections.json")).unwrap();
    for name in [
        "rm-confirmations.json",
        "rm-confirmations-rdconversas.json",
        "rm-replies.json",
    ] {
        let spec = FlowSpec::from_json(&example(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let flow = spec
            .build(&registry(), &connections, &secrets())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if name == "rm-replies.json" {
            continue;
        }
        let Plan::Send(request) = flow.plan_now(&appointment()).unwrap() else {
            panic!("{name}: the appointment is sent")
        };
        let shown = serde_json::to_string(&request).unwrap();
        assert!(!shown.contains("secret"), "{name}: {shown}");
        // What leaves is the provider's request alone: the appointment stays with the record.
        assert!(
            !shown.to_ascii_lowercase().contains("x-hubflow"),
            "{name}: {shown}"
        );
    }
}

// The example specs send through `whatsapp.template`.
#[cfg(feature = "whatsapp")]
#[test]
fn the_confirmation_spec_skips_appointments_without_mobile_or_birth_date() {
    let connections = Connections::from_json(&example("rm-connections.json")).unwrap();
    let spec = FlowSpec::from_json(&example("rm-confirmations.json")).unwrap();
    let flow = spec.build(&registry(), &connections, &secrets()).unwrap();
    for field in ["mobile", "birth_date"] {
        for blank in [json!(null), json!("")] {
            let mut record = appointment();
            record.data[field] = blank;
            assert!(
                matches!(flow.plan_now(&record).unwrap(), Plan::Skip(reason) if reason.contains(field)),
                "{field}"
            );
        }
    }
    assert!(confirmation_rule().evaluate(&appointment()));
}

#[test]
fn spec_errors_are_located() {
    let connections = Connections::from_json(
        r#"{"rm": {"base_url": "https://erp.example", "auth": {"bearer": {"secret": "RM_TOKEN"}}}}"#,
    )
    .unwrap();
    let cases = [
        (
            json!({"rm.reply": {"connection": "rm", "routes": {"cancel": {"path": "/a/{apointment_id}"}}}}),
            "/target/rm.reply/routes/cancel/path",
            "unknown placeholder {apointment_id}",
        ),
        (
            json!({"rm.reply": {"connection": "rm", "time_zone": "America/Sao_Pablo"}}),
            "/target/rm.reply/time_zone",
            "unknown time zone",
        ),
        (
            json!({"rm.cancel": {"connection": "erp"}}),
            "/target/rm.cancel/connection",
            "unknown connection",
        ),
        (
            json!({"rm.confirm": {"connection": "rm", "rout": {}}}),
            "/target/rm.confirm/rout",
            "unknown field",
        ),
        (
            json!({"rm.confirmation": {"via": {"sms.text": {}}}}),
            "/target/rm.confirmation/via/sms.text",
            "unknown target kind \"sms.text\"",
        ),
    ];
    for (target, path, message) in cases {
        let spec = FlowSpec::from_value(&json!({"id": "x", "target": target})).unwrap();
        let errors = spec
            .build(
                &registry(),
                &connections,
                &MapSecrets::new().with("RM_TOKEN", "t"),
            )
            .unwrap_err();
        let error = errors.iter().next().unwrap();
        assert_eq!(error.path, path, "{errors}");
        assert!(error.to_string().contains(message), "{errors}");
    }
    // A missing secret is named, at the connection reference, without any value.
    let spec =
        FlowSpec::from_value(&json!({"id": "x", "target": {"rm.cancel": {"connection": "rm"}}}))
            .unwrap();
    let errors = spec
        .build(&registry(), &connections, &MapSecrets::new())
        .unwrap_err();
    assert!(errors.to_string().contains("RM_TOKEN"), "{errors}");
}

#[test]
fn the_source_spec_checks_its_placeholders_and_paging() {
    let connections = Connections::from_json(
        r#"{"rm": {"base_url": "https://erp.example", "auth": {"basic": {"username": "u", "password": {"secret": "P"}}}}}"#,
    )
    .unwrap();
    let build = |source: Value| {
        FlowSpec::from_value(&json!({"id": "x", "source": {"rm.appointments": source},
                                     "target": {"rm.cancel": {"connection": "rm"}}}))
        .unwrap()
        .build(&registry(), &connections, &MapSecrets::new().with("P", "p"))
    };
    assert!(build(json!({"connection": "rm", "paging": "none",
                         "route": {"method": "GET", "path": "/q/{date_br}", "query": {"d": "{date}"}}}))
    .is_ok());
    let errors = build(json!({"connection": "rm", "route": {"path": "/q/{data}"}})).unwrap_err();
    assert_eq!(
        errors.iter().next().unwrap().path,
        "/source/rm.appointments/route/path"
    );
    let errors = build(json!({"connection": "rm", "paging": "pages"})).unwrap_err();
    assert_eq!(
        errors.iter().next().unwrap().path,
        "/source/rm.appointments/paging"
    );
}

#[test]
fn debug_forms_hide_credentials() {
    let client = RmClient::new(
        "https://erp.example".parse().unwrap(),
        RmAuth::Basic {
            username: "u".into(),
            password: secrecy::SecretString::from("hunter2-secret"),
        },
    );
    for shown in [
        format!("{client:?}"),
        format!("{:?}", ReplyTarget::new(client.clone())),
        format!("{:?}", ActionTarget::new(client.clone(), Action::Cancel)),
    ] {
        assert!(!shown.contains("secret"), "{shown}");
    }
}

#[test]
fn the_basic_header_is_base64_of_user_colon_password() {
    use secrecy::{ExposeSecret as _, SecretString};
    // Computed independently; the second has non-ASCII text and colons in the password.
    for (username, password, header) in [
        (
            "mestre",
            "pa55-w0rd-secret",
            "Basic bWVzdHJlOnBhNTUtdzByZC1zZWNyZXQ=",
        ),
        (
            "usuário",
            "señа:with:colons",
            "Basic dXN1w6FyaW86c2XDsdCwOndpdGg6Y29sb25z",
        ),
        ("key", "secret", "Basic a2V5OnNlY3JldA=="),
    ] {
        let value = crate::auth::Authorization::basic(username, &SecretString::from(password));
        assert_eq!(value.value().expose_secret(), header);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[ -~À-ÿ]{0,12}".prop_map(Value::from),
        Just(json!("confirm:A-1:2026-03-03")),
        Just(json!("5511999991234")),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("from".to_owned()),
                    Just("reply_id".to_owned()),
                    Just("text".to_owned()),
                    Just("context_id".to_owned()),
                    Just("id".to_owned()),
                    Just("mobile".to_owned()),
                    Just("startsAt".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn button_payloads_never_panic_and_round_trip(text in "\\PC{0,40}") {
        if let Some(payload) = ButtonPayload::parse(&text) {
            prop_assert_eq!(ButtonPayload::parse(&payload.to_string()), Some(payload));
        }
    }

    #[test]
    fn untrusted_rows_and_replies_never_panic(value in json_value()) {
        let client = RmClient::new("https://erp.example".parse().unwrap(), RmAuth::Bearer("t".to_owned().into()));
        let source = AppointmentsSource::new(client.clone());
        let record = source.to_record(&value, "2026-03-03".parse().unwrap(), 0);
        prop_assert!(record.key.starts_with("rm:appt:"));
        let reply = Record::new("wamid.X", "whatsapp.message", value.clone());
        let _ = ReplyTarget::new(client.clone()).prepare(&reply, &value);
        let _ = ActionTarget::new(client, Action::Confirm).prepare(&reply, &value);
    }
}

#[tokio::test]
async fn the_login_body_is_redacted_in_a_recorded_dry_run() {
    use crate::http::{HttpRequest, HttpResponse, Method, RecordingClient};
    use crate::rm::{JwtAuth, RmAuth, RmClient};
    use crate::{Context, ManualClock, MemoryStore};

    let http = RecordingClient::new();
    http.push_response(HttpResponse::json(
        200,
        &json!({"access_token": "jwt-1", "expires_in": 300}),
    ));
    let ctx = Context::new(
        http.clone(),
        ManualClock::new("2026-03-02T12:00:00Z".parse().unwrap()),
        MemoryStore::new(),
    );
    let client = RmClient::new(
        "https://erp.example/".parse().unwrap(),
        RmAuth::Jwt(JwtAuth::new(
            "clinic",
            secrecy::SecretString::from("hunter2-pass"),
        )),
    );
    let request = HttpRequest::new(Method::Get, client.url("api/x").unwrap());
    let _ = client.send(&ctx, &request).await;
    let recorded = http.requests();
    assert!(recorded.len() >= 2, "a login and the request: {recorded:?}");
    let login = &recorded[0];
    assert!(
        login.json_body().unwrap()["password"] == "hunter2-pass",
        "the wire still gets it"
    );
    for shown in [
        format!("{recorded:?}"),
        serde_json::to_string(&recorded).unwrap(),
    ] {
        assert!(!shown.contains("hunter2-pass"), "{shown}");
    }
}
