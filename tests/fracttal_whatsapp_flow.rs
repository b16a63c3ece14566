//! The headline flow end to end, built from the example's own spec: Fracttal work orders
//! polled from a stand-in, assigned after the first poll, the responsible's phone looked up
//! in the team directory, the template mapping, and the WhatsApp target.

mod common;

use common::{harness, mount_catch_all, start_instant, Harness};
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::{FlowSpec, Outcome};
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SPEC: &str = include_str!("../examples/flows/wo-assigned.json");
const MESSAGES: &str = "/v23.0/106540352242922/messages";

/// A task row as Fracttal returns it: the responsible's name, no phone.
fn row(task: u64, assigned: &str) -> Value {
    let created = (start_instant() - chrono::Duration::seconds(30)).to_rfc3339();
    json!({
        "wo_folio": format!("OT-{task}"), "id_work_orders_tasks": task, "id_status_work_order": 1,
        "creation_date": created, "created_by": "Ana Souza", "user_assigned": assigned,
        "description": "Replace the intake filter", "items_log_description": "Centrifugal pump 3"
    })
}

/// The WhatsApp stand-in accepts `count` templates to `to`.
async fn mount_send(whatsapp: &MockServer, to: &str, count: u64) {
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", "Bearer wa-token"))
        .and(body_partial_json(json!({
            "to": to,
            "type": "template",
            "template": {"name": "wo_assignment", "language": {"code": "pt_BR"}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": format!("wamid.E2E.{to}")}]
        })))
        .expect(count)
        .mount(whatsapp)
        .await;
}

/// The stand-ins: Fracttal answers the first poll with `rows` unassigned, every later one
/// with `rows` as they are.
async fn stand_ins(rows: Value) -> (MockServer, MockServer) {
    let fracttal = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "tok-e2e", "token_type": "Bearer", "expires_in": 7200}),
        ))
        .expect(1)
        .mount(&fracttal)
        .await;
    let total = rows.as_array().map_or(0, Vec::len);
    let mut unassigned = rows.clone();
    for row in unassigned.as_array_mut().into_iter().flatten() {
        row["user_assigned"] = json!("");
    }
    for (rows, times) in [(unassigned, Some(1)), (rows, None)] {
        let mock = Mock::given(method("GET"))
            .and(path("/api/work_orders/"))
            .and(header("authorization", "Bearer tok-e2e"))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"success": true, "message": "200", "data": rows, "total": total}),
            ));
        let mock = match times {
            Some(n) => mock.up_to_n_times(n).expect(n),
            None => mock.expect(1..),
        };
        mock.mount(&fracttal).await;
    }
    mount_catch_all(&fracttal).await;
    let whatsapp = MockServer::start().await;
    (fracttal, whatsapp)
}

fn connections(fracttal: &MockServer, whatsapp: &MockServer) -> Connections {
    let mut connections = Connections::new();
    connections.insert(
        "fracttal",
        json!({"client_id": {"secret": "FRACTTAL_KEY"}, "client_secret": {"secret": "FRACTTAL_SECRET"},
               "base_url": format!("{}/api/", fracttal.uri()), "token_url": format!("{}/oauth/token", fracttal.uri())}),
    );
    connections.insert(
        "whatsapp",
        json!({"phone_number_id": "106540352242922", "access_token": {"secret": "WHATSAPP_TOKEN"},
               "base_url": whatsapp.uri()}),
    );
    connections
}

fn secrets() -> MapSecrets {
    MapSecrets::new()
        .with("FRACTTAL_KEY", "key")
        .with("FRACTTAL_SECRET", "secret")
        .with("WHATSAPP_TOKEN", "wa-token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_technician_gets_their_work_orders_at_the_directory_phone_and_a_stranger_is_skipped() {
    let rows = json!([
        row(90211, "Jonas Campos"),
        row(90212, "Marta Lima"),
        row(90213, "Rafael Costa"),
        row(90214, "JONAS CAMPOS"),
    ]);
    let (fracttal, whatsapp) = stand_ins(rows).await;
    mount_send(&whatsapp, "5511999991234", 2).await;
    mount_send(&whatsapp, "5521988884321", 1).await;
    mount_catch_all(&whatsapp).await;

    let flow = FlowSpec::from_json(SPEC)
        .unwrap()
        .build(
            &Registry::default(),
            &connections(&fracttal, &whatsapp),
            &secrets(),
        )
        .unwrap();
    let Harness { ctx, clock, .. } = harness();
    let first = flow.run(&ctx).await.unwrap();
    assert_eq!(
        first.counts.received, 0,
        "the first poll learns the open work orders"
    );
    clock.advance(std::time::Duration::from_secs(120));
    let report = flow.run(&ctx).await.unwrap();

    let outcome = |key: &str| {
        &report
            .get(key)
            .unwrap_or_else(|| panic!("{key} in {report:?}"))
            .outcome
    };
    assert!(matches!(
        outcome("fracttal:wo:90211:assigned:Jonas Campos"),
        Outcome::Delivered { .. }
    ));
    // The directory matches names ignoring case, as people type them into forms.
    assert!(matches!(
        outcome("fracttal:wo:90214:assigned:JONAS CAMPOS"),
        Outcome::Delivered { .. }
    ));
    assert!(matches!(
        outcome("fracttal:wo:90212:assigned:Marta Lima"),
        Outcome::Delivered { .. }
    ));
    // A lookup miss: nobody to tell is a skip with the reason, never a guess.
    match outcome("fracttal:wo:90213:assigned:Rafael Costa") {
        Outcome::Skipped { reason } => assert_eq!(
            reason,
            "lookup `responsible_phone`: no entry for `Rafael Costa` in a map of 2 entries"
        ),
        other => panic!("expected a skip, got {other:?}"),
    }
    assert_eq!(report.counts.delivered, 3);

    // The seven template variables, in the order of the Hub's mapping screen.
    let sent: Vec<Value> = whatsapp
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    // Deliveries run concurrently: find the one for task 90211 by the key it carries.
    let first = sent
        .iter()
        .find(|body| body["biz_opaque_callback_data"] == "fracttal:wo:90211:assigned:Jonas Campos")
        .expect("a message for task 90211");
    let texts: Vec<&str> = first["template"]["components"][0]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "Jonas Campos",
            "OT-90211",
            "Replace the intake filter",
            "02/03/2026 04:59",
            "Ana Souza",
            "Jonas Campos",
            "Centrifugal pump 3"
        ]
    );
    // Two messages went to Jonas: the second waited for the pair pacing, on the test clock.
    assert!(
        clock.sleeps().iter().any(|d| d.as_secs() >= 5),
        "{:?}",
        clock.sleeps()
    );

    // A second run finds nothing new and sends nothing (Rafael's skip is not retried: his
    // assignment has been seen; a later reassignment would be a new record).
    let again = flow.run(&ctx).await.unwrap();
    assert_eq!(again.counts.received, 0, "{again:?}");
    fracttal.verify().await;
    whatsapp.verify().await;
}
