//! RD Conversas' `recipient_number`: the payload's `to` normalised to E.164 with the
//! connection's default country, as the mapper's `phone(country)` filter does.
#![cfg(feature = "rm")]

use hubflow::rdconversas::RdConversasTarget;
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::{FieldMap, FlowSpec, Mapper, Plan, Record, Target, TargetError};
use secrecy::SecretString;
use serde_json::{json, Value};

fn target() -> RdConversasTarget {
    RdConversasTarget::new(SecretString::from("rd-token")).template_message_id("tpl")
}

fn record() -> Record {
    Record::new("k", "appointment", json!({}))
}

/// The body the target would send for `to`.
fn body(target: &RdConversasTarget, to: Value) -> Result<Value, TargetError> {
    let request = target.prepare(&record(), &json!({"to": to, "variables": ["Ana"]}))?;
    Ok(request.request.json_body().expect("a JSON body"))
}

fn sent(target: &RdConversasTarget, to: Value) -> (String, String) {
    let body = body(target, to.clone()).unwrap_or_else(|e| panic!("{to}: {e}"));
    (
        body["recipient_number"]
            .as_str()
            .expect("a number")
            .to_owned(),
        body["country_code"].as_str().expect("a code").to_owned(),
    )
}

#[test]
fn a_national_number_takes_the_default_country() {
    // It used to go out as "+11999998888": a number in no country.
    assert_eq!(
        sent(&target(), json!("(11) 99999-8888")),
        ("+5511999998888".to_owned(), "55".to_owned())
    );
    assert_eq!(sent(&target(), json!("11 98765 4321")).0, "+5511987654321");
}

#[test]
fn an_international_number_keeps_its_own_country() {
    for to in [
        json!("+55 11 98765-4321"),
        json!("0055 (11) 98765-4321"),
        // What the mapper's `phone('BR')` filter gives: digits without `+`.
        json!("5511987654321"),
        json!(5511987654321_i64),
    ] {
        assert_eq!(
            sent(&target(), to.clone()),
            ("+5511987654321".to_owned(), "55".to_owned()),
            "{to}"
        );
    }
    // A Chilean number stays Chilean under the Brazilian default, code included.
    assert_eq!(
        sent(&target(), json!("+56 9 6123 4567")),
        ("+56961234567".to_owned(), "56".to_owned())
    );
}

#[test]
fn the_target_agrees_with_the_mapper_filter() {
    let map = FieldMap::new(json!({"to": "{{ mobile | phone('BR') }}"})).expect("a mapping");
    for mobile in ["(11) 99999-8888", "+55 21 99876-5432", "0055 11 98765-4321"] {
        let mapped = map
            .map(&Record::new("k", "a", json!({"mobile": mobile})))
            .expect("a valid number");
        let filtered = mapped["to"].as_str().expect("text").to_owned();
        assert_eq!(
            sent(&target(), json!(mobile)).0,
            format!("+{filtered}"),
            "{mobile}"
        );
    }
}

#[test]
fn another_default_country_reads_its_own_national_numbers() {
    let chile = target().default_country("CL").expect("a known country");
    assert_eq!(
        sent(&chile, json!("9 6123 4567")),
        ("+56961234567".to_owned(), "56".to_owned())
    );
    let spain = target().default_country("es").expect("a known country");
    assert_eq!(sent(&spain, json!("612 34 56 78")).0, "+34612345678");
    // An explicit country code is still sent as it was set.
    let explicit = target().country_code("55");
    assert_eq!(sent(&explicit, json!("+56 9 6123 4567")).1, "55");
}

#[test]
fn an_invalid_number_is_a_typed_error_on_to_that_does_not_quote_it() {
    for to in [
        json!("123"),
        json!("(11) 1234"),
        json!("11 9999x8888"),
        json!("+999 12345678"),
        json!("123456789012345678901234"),
        json!(""),
        json!("١٢٣٤٥٦٧٨٩"),
        json!(true),
        json!(null),
    ] {
        match body(&target(), to.clone()) {
            Err(TargetError::InvalidField { field, message }) => {
                assert_eq!(field, "to", "{to}");
                assert!(
                    message.contains("not a valid phone number"),
                    "{to}: {message}"
                );
                if let Some(text) = to.as_str().filter(|t| t.len() > 3) {
                    assert!(!message.contains(text), "{to}: {message}");
                }
            }
            other => panic!("{to}: {other:?}"),
        }
    }
    let missing = target().prepare(&record(), &json!({"variables": []}));
    assert!(
        matches!(&missing, Err(TargetError::InvalidField { field, .. }) if field == "to"),
        "{missing:?}"
    );
}

fn build(connection: Value, target: Value) -> Result<hubflow::Flow, hubflow::SpecErrors> {
    let mut connections = Connections::new();
    connections.insert("rd", connection);
    let spec = FlowSpec::from_value(&json!({"id": "rd", "target": target})).expect("a spec");
    spec.build(
        &Registry::default(),
        &connections,
        &MapSecrets::new().with("RD", "rd-token"),
    )
}

/// The recipient number a flow's plan sends to.
async fn planned_recipient(flow: &hubflow::Flow, to: &str) -> Value {
    let ctx = hubflow::Context::new(
        hubflow::http::RecordingClient::new(),
        hubflow::ManualClock::new(chrono::Utc::now()),
        hubflow::MemoryStore::new(),
    );
    let record = Record::new("k", "a", json!({"to": to, "variables": []}));
    match flow.plan(&ctx, &record).await.expect("a plan") {
        Plan::Send(action) => action.to_json()["request"]["body"]["recipient_number"].clone(),
        Plan::Skip(why) => panic!("skipped: {why}"),
    }
}

#[tokio::test]
async fn the_connection_sets_the_default_country_and_it_is_checked_at_build_time() {
    let target = json!({"rdconversas.template": {"connection": "rd", "template_message_id": "t"}});
    let chile = build(
        json!({"token": {"secret": "RD"}, "default_country": "CL"}),
        target.clone(),
    )
    .expect("builds");
    assert_eq!(
        planned_recipient(&chile, "9 6123 4567").await,
        json!("+56961234567")
    );
    let brazil = build(json!({"token": {"secret": "RD"}}), target.clone()).expect("builds");
    assert_eq!(
        planned_recipient(&brazil, "(11) 99999-8888").await,
        json!("+5511999998888")
    );

    for (target, path) in [
        (target, "/target/rdconversas.template/connection"),
        (
            json!({"rm.confirmation": {"via": {"rdconversas.template": {"connection": "rd"}}}}),
            "/target/rm.confirmation/via/rdconversas.template/connection",
        ),
    ] {
        let errors = build(
            json!({"token": {"secret": "RD"}, "default_country": "XX"}),
            target,
        )
        .expect_err("XX is no country");
        let error = errors
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("no error at {path}: {errors}"));
        assert_eq!(
            error.message,
            "connection \"rd\" at /default_country: unknown country \"XX\""
        );
        assert!(error
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("ISO 3166")));
    }
}
