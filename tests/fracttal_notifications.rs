//! The Fracttal notification sources against a local mock server: work-order status changes
//! across polls, meter readings judged against their meters' limits, work requests across
//! pages; the Automator status events; and each of the four notification specs of
//! `examples/flows/` end to end through a flow into the WhatsApp target.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{fixture, harness, mount_catch_all, saved_cursor, start_instant, url, Harness};
use hubflow::fracttal::{
    EventRecords, EventSource, FracttalClient, MeterReadingsSource, RequestDate,
    WorkOrderStatusSource, WorkRequestsSource,
};
use hubflow::http::Method;
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::{
    Batch, Cursor, ErrorClass, Flow, FlowSpec, InboundRequest, Outcome, RunError, RunReport,
    Source, SourceError, WebhookSource,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MESSAGES: &str = "/v23.0/106540352242922/messages";
const MANAGER: &str = "5511988887777";

fn client(server: &MockServer) -> FracttalClient {
    FracttalClient::builder(SecretString::from("key"), SecretString::from("secret"))
        .base_url(url(server, "/api/"))
        .token_url(url(server, "/oauth/token"))
        .build()
}

async fn mount_token(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("fracttal/token.json")))
        .expect(1)
        .mount(server)
        .await;
}

fn envelope(rows: Value) -> ResponseTemplate {
    let total = rows.as_array().map_or(0, Vec::len);
    ResponseTemplate::new(200)
        .set_body_json(json!({"success": true, "message": "200", "data": rows, "total": total}))
}

fn keys(batch: &Batch) -> Vec<&str> {
    batch.records.iter().map(|r| r.key.as_str()).collect()
}

fn ago(seconds: i64) -> String {
    (start_instant() - chrono::Duration::seconds(seconds)).to_rfc3339()
}

fn task(id: u64, status: Value) -> Value {
    json!({
        "wo_folio": format!("OT-{id}"), "id_work_order": id * 10, "id_work_orders_tasks": id,
        "id_status_work_order": status, "creation_date": ago(3 * 24 * 3600),
        "description": "Replace the intake filter", "items_log_description": "Centrifugal pump 3",
        "personnel_description": "Jonas Campos", "wo_final_date": null
    })
}

/// One poll's answer of the work-order query, used once, in mount order.
async fn mount_poll(server: &MockServer, rows: Value) {
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .and(header("authorization", "Bearer tok-1-AbCdEf"))
        .and(query_param("type_date", "creation_date"))
        .and(query_param("start", "0"))
        .respond_with(envelope(rows))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_transitions_across_polls_yield_one_record_per_change() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let mut completed = task(501, json!(3));
    completed["wo_final_date"] = json!("2026-03-02T07:30:00+00:00");
    // Task 501: new (first seen, in process) → seen again unchanged → in review → completed
    // → seen again completed. Task 502 never changes; a row without a task id is passed over.
    for rows in [
        json!([task(501, json!(1)), task(502, json!("1")), {"id_status_work_order": 1}]),
        json!([task(501, json!("1")), task(502, json!(1))]),
        json!([task(501, json!(2)), task(502, json!(1))]),
        json!([completed.clone(), task(502, json!(1))]),
        json!([completed, task(502, json!(1))]),
    ] {
        mount_poll(&server, rows).await;
    }
    mount_catch_all(&server).await;

    let source = WorkOrderStatusSource::new(client(&server));
    let Harness { ctx, clock, .. } = harness();
    let mut cursor: Option<Cursor> = None;
    let mut changes = Vec::new();
    for _ in 0..5 {
        let batch = source.poll(&ctx, cursor.as_ref()).await.unwrap();
        changes.extend(batch.records.clone());
        cursor = batch.next_cursor;
        clock.advance(Duration::from_secs(300));
    }

    let keys: Vec<&str> = changes.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(
        keys,
        ["fracttal:wo-status:501:2", "fracttal:wo-status:501:3"]
    );
    let done = &changes[1];
    assert_eq!(done.kind, "fracttal.work_order_status");
    assert_eq!(done.data["status_from"], 2);
    assert_eq!(done.data["status_to"], 3);
    assert_eq!(done.data["status_from_name"], "in_review");
    assert_eq!(done.data["status_to_name"], "completed");
    assert_eq!(done.data["status_to_label"]["es"], "Finalizada");
    assert_eq!(done.data["first_sighting"], false);
    assert_eq!(done.data["wo_folio"], "OT-501");
    assert_eq!(
        done.data["responsible"], "Jonas Campos",
        "Hub aliases added"
    );
    assert_eq!(
        done.occurred_at.unwrap().to_rfc3339(),
        "2026-03-02T07:30:00+00:00"
    );
    // The cursor holds the previous status of both tasks and nothing else.
    let tasks = cursor.unwrap().value()["tasks"].clone();
    assert_eq!(tasks["501"][0], "3");
    assert_eq!(tasks["502"][0], "1");
    assert_eq!(tasks.as_object().unwrap().len(), 2);

    // Every poll asked for the 30-day window and no status filter: it must see them all.
    let requests = server.received_requests().await.unwrap();
    let first = requests
        .iter()
        .find(|r| r.method.as_str() == "GET")
        .unwrap();
    let query: Vec<(String, String)> = first.url.query_pairs().into_owned().collect();
    assert!(
        query.contains(&("since".into(), "2026-01-31T08:00:00+00".into())),
        "{query:?}"
    );
    assert!(!query.iter().any(|(k, _)| k == "ot_status"), "{query:?}");
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sightings_count_only_when_configured_and_after_the_first_picture() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    mount_poll(&server, json!([task(601, json!(1))])).await;
    mount_poll(&server, json!([task(601, json!(1)), task(602, json!(1))])).await;
    // A task dated before the window (the API ignored `since`) is not followed.
    let mut old = task(603, json!(1));
    old["creation_date"] = json!("2025-01-01T00:00:00+00:00");
    mount_poll(
        &server,
        json!([task(601, json!(1)), task(602, json!(4)), old]),
    )
    .await;
    mount_catch_all(&server).await;

    let source = WorkOrderStatusSource::new(client(&server)).first_sightings(true);
    let Harness { ctx, .. } = harness();
    let first = source.poll(&ctx, None).await.unwrap();
    assert!(
        first.records.is_empty(),
        "the first picture announces nothing"
    );
    let second = source.poll(&ctx, first.next_cursor.as_ref()).await.unwrap();
    assert_eq!(keys(&second), ["fracttal:wo-status:602:1"]);
    assert_eq!(second.records[0].data["first_sighting"], true);
    assert_eq!(second.records[0].data["status_from"], Value::Null);
    let third = source
        .poll(&ctx, second.next_cursor.as_ref())
        .await
        .unwrap();
    assert_eq!(keys(&third), ["fracttal:wo-status:602:4"]);
    assert_eq!(third.records[0].data["status_to_label"]["pt"], "Cancelada");
    let tasks = third.next_cursor.unwrap().value()["tasks"].clone();
    assert!(tasks.get("603").is_none(), "{tasks}");
    server.verify().await;
}

#[test]
fn automator_status_events_have_the_shape_of_polled_changes() {
    let source = EventSource::new()
        .url_token("hook-token".into())
        .records(EventRecords::StatusChange);
    let row = task(501, json!(3));
    let reply = source.handle(&InboundRequest::new(
        Method::Post,
        "/hooks/fracttal?token=hook-token",
        row.to_string(),
    ));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let event = &reply.records[0];
    assert_eq!(event.key, "fracttal:wo-status:501:3");
    let polled =
        hubflow::fracttal::status_change_record(row.as_object().unwrap().clone(), Some("1"), 1)
            .unwrap();
    assert_eq!(
        event.key, polled.key,
        "an event and a poll of one change share a key"
    );
    assert_eq!(event.kind, polled.kind);
    let fields = |v: &Value| {
        let mut names: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names
    };
    assert_eq!(fields(&event.data), fields(&polled.data));
    assert_eq!(event.data["status_to_name"], "completed");
    assert_eq!(event.data["status_from"], Value::Null);

    // A row without its status is not a status change.
    let bad = source.handle(&InboundRequest::new(
        Method::Post,
        "/hooks/fracttal?token=hook-token",
        r#"[{"id_work_orders_tasks": 1}]"#,
    ));
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id_status_work_order"), "{}", bad.body);
}

async fn mount_readings(server: &MockServer, times: u64) {
    Mock::given(method("GET"))
        .and(path("/api/meters_reading_list"))
        .and(header("authorization", "Bearer tok-1-AbCdEf"))
        .and(query_param("start", "0"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("fracttal/meter_readings.json")),
        )
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readings_are_judged_against_their_meters_limits_and_alert_once() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    mount_readings(&server, 2).await;
    Mock::given(method("GET"))
        .and(path("/api/meters_list"))
        .and(header("authorization", "Bearer tok-1-AbCdEf"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("fracttal/meters_list.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let source = MeterReadingsSource::new(client(&server));
    let Harness { ctx, .. } = harness();
    let batch = source.poll(&ctx, None).await.unwrap();
    // The first poll starts one lookback (10 minutes) before now.
    let first = &server.received_requests().await.unwrap()[1];
    assert!(
        first
            .url
            .query()
            .unwrap()
            .contains("since=2026-03-02T07%3A50%3A00%2B00"),
        "{}",
        first.url
    );
    let judged: Vec<(&str, &Value)> = batch
        .records
        .iter()
        .map(|r| (r.key.as_str(), &r.data["out_of_range"]))
        .collect();
    assert_eq!(
        judged,
        [
            (
                "fracttal:reading:M-200:2026-03-02T07:57:00Z",
                &json!("below")
            ),
            (
                "fracttal:reading:M-100:2026-03-02T07:58:00Z",
                &json!("above")
            ),
            // Exactly at the maximum, and exactly at the minimum: inside.
            (
                "fracttal:reading:M-100:2026-03-02T07:58:30Z",
                &json!("none")
            ),
            (
                "fracttal:reading:M-100:2026-03-02T07:59:00.250Z",
                &json!("none")
            ),
            (
                "fracttal:reading:M-100:2026-03-02T07:59:10Z",
                &json!("none")
            ),
            // A meter without limits is never out of range.
            (
                "fracttal:reading:M-300:2026-03-02T07:59:30Z",
                &json!("none")
            ),
        ]
    );
    let above = &batch.records[1];
    assert_eq!(above.kind, "fracttal.meter_reading");
    assert_eq!(
        (&above.data["value"], &above.data["min"], &above.data["max"]),
        (&json!(95.5), &json!(10), &json!(80))
    );
    assert_eq!(above.data["limit_text"], "80 °C");
    assert_eq!(above.data["item_description"], "Compressor 2");
    assert_eq!(above.data["asset_code"], "COMP-2");
    assert_eq!(above.data["meter"]["description"], "Discharge temperature");
    let below = &batch.records[0];
    assert_eq!(
        (&below.data["min"], &below.data["max"]),
        (&json!(2), &Value::Null)
    );
    assert_eq!(below.data["out_of_range_label"]["en"], "below the minimum");

    // The same readings again: nothing new, and the meters list is not read.
    let again = source.poll(&ctx, batch.next_cursor.as_ref()).await.unwrap();
    assert!(again.records.is_empty(), "{:?}", keys(&again));
    server.verify().await;
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

fn build(spec: &str, fracttal: &MockServer, whatsapp: &MockServer) -> Flow {
    let secrets = MapSecrets::new()
        .with("FRACTTAL_KEY", "key")
        .with("FRACTTAL_SECRET", "secret")
        .with("WHATSAPP_TOKEN", "wa-token");
    FlowSpec::from_json(spec)
        .unwrap()
        .build(
            &Registry::default(),
            &connections(fracttal, whatsapp),
            &secrets,
        )
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_meters_list_failure_fails_the_poll_and_the_cursor_stays() {
    let fracttal = MockServer::start().await;
    mount_token(&fracttal).await;
    Mock::given(method("GET"))
        .and(path("/api/meters_reading_list"))
        .and(query_param("since", "2026-03-02T07:58:20+00"))
        .respond_with(envelope(json!([
            {"serial": "M-100", "date": ago(20), "value": 120, "source": "API"}
        ])))
        .expect(2)
        .mount(&fracttal)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/meters_list"))
        .respond_with(
            ResponseTemplate::new(503).set_body_json(json!({"success": false, "message": "503"})),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&fracttal)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/meters_list"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("fracttal/meters_list.json")),
        )
        .expect(1)
        .mount(&fracttal)
        .await;
    mount_catch_all(&fracttal).await;
    let whatsapp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp", "contacts": [{"input": MANAGER, "wa_id": MANAGER}],
            "messages": [{"id": "wamid.READING"}]
        })))
        .expect(1)
        .mount(&whatsapp)
        .await;
    mount_catch_all(&whatsapp).await;

    let mut spec: Value =
        serde_json::from_str(include_str!("../examples/flows/critical-reading.json")).unwrap();
    spec["source"]["fracttal.meter_readings"]["lookback_secs"] = json!(100);
    let flow = build(&spec.to_string(), &fracttal, &whatsapp);
    let Harness { ctx, store, .. } = harness();
    match flow.run(&ctx).await {
        Err(RunError::Source(SourceError::Provider(error))) => {
            assert_eq!(error.status, 503);
            assert!(
                matches!(error.class, ErrorClass::Retryable { .. }),
                "{error:?}"
            );
        }
        other => panic!("expected the poll to fail with Fracttal's answer, got {other:?}"),
    }
    assert_eq!(saved_cursor(&store, flow.id()).await, None);

    // The next run reads the same reading again, now with its meter, and alerts.
    let report = flow.run(&ctx).await.unwrap();
    assert_eq!(report.counts.delivered, 1, "{report:?}");
    assert!(report
        .get("fracttal:reading:M-100:2026-03-02T07:59:40Z")
        .is_some());
    fracttal.verify().await;
    whatsapp.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_requests_are_read_across_pages_once_each() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let rows = fixture("fracttal/work_requests.json")["data"].clone();
    let page = |since: &str, start: u64, rows: Vec<Value>, total: u64| {
        Mock::given(method("GET"))
            .and(query_param("since", since))
            .and(path("/api/work_requests"))
            .and(header("authorization", "Bearer tok-1-AbCdEf"))
            .and(query_param("type_date", "date"))
            .and(query_param("limit", "2"))
            .and(query_param("start", start.to_string().as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"success": true, "message": "200", "data": rows, "total": total}),
            ))
    };
    // Fracttal pages newest first; records come out oldest first.
    page(
        "2026-03-02T07:00:00+00",
        0,
        vec![rows[2].clone(), rows[1].clone()],
        3,
    )
    .expect(1)
    .mount(&server)
    .await;
    page("2026-03-02T07:00:00+00", 2, vec![rows[0].clone()], 3)
        .expect(1)
        .mount(&server)
        .await;
    // The next poll looks again from one lookback before the newest request (07:50).
    let mut late = rows[0].clone();
    late["id_code"] = json!(5015);
    late["date"] = json!("2026-03-02T07:49:30+00:00");
    page("2026-03-02T07:49:00+00", 0, vec![rows[2].clone(), late], 2)
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let source = WorkRequestsSource::new(client(&server))
        .since("2026-03-02T07:00:00Z".parse::<DateTime<Utc>>().unwrap())
        .type_date(RequestDate::Date)
        .page_size(2);
    let Harness { ctx, .. } = harness();
    let batch = source.poll(&ctx, None).await.unwrap();
    assert_eq!(
        keys(&batch),
        ["fracttal:wr:5012", "fracttal:wr:5013", "fracttal:wr:5014"]
    );
    let leak = &batch.records[0];
    assert_eq!(leak.kind, "fracttal.work_request");
    assert_eq!(leak.data["requester"], "Ana Souza");
    assert_eq!(leak.data["item_description"], "Centrifugal pump 3");
    assert_eq!(leak.data["urgent"], true);
    assert_eq!(batch.records[1].data["urgent"], false);
    assert_eq!(batch.records[2].data["urgent"], true);
    assert_eq!(batch.records[2].data["requester"], "marta.lima@example.com");

    let next = source.poll(&ctx, batch.next_cursor.as_ref()).await.unwrap();
    assert_eq!(keys(&next), ["fracttal:wr:5015"]);
    server.verify().await;
}

// ---- the four specs end to end ----

async fn mount_whatsapp(whatsapp: &MockServer, template: &str, to: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", "Bearer wa-token"))
        .and(body_partial_json(json!({
            "to": to, "type": "template",
            "template": {"name": template, "language": {"code": "pt_BR"}}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
            "messages": [{"id": "wamid.E2E"}]
        })))
        .expect(times)
        .mount(whatsapp)
        .await;
    mount_catch_all(whatsapp).await;
}

/// The body parameters of every template the stand-in received, with the callback data.
async fn sent(whatsapp: &MockServer) -> Vec<(Vec<String>, String)> {
    whatsapp
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let texts = body["template"]["components"][0]["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["text"].as_str().unwrap().to_owned())
                .collect();
            (
                texts,
                body["biz_opaque_callback_data"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect()
}

fn skipped(report: &RunReport, key: &str) -> String {
    match &report
        .get(key)
        .unwrap_or_else(|| panic!("{key} in {report:?}"))
        .outcome
    {
        Outcome::Skipped { reason } => reason.clone(),
        other => panic!("{key}: expected a skip, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wo_status_changed_spec_alerts_completions_and_cancellations() {
    let fracttal = MockServer::start().await;
    mount_token(&fracttal).await;
    mount_poll(
        &fracttal,
        json!([
            task(701, json!(1)),
            task(702, json!(2)),
            task(703, json!(1))
        ]),
    )
    .await;
    let mut multi_line = task(701, json!(3));
    multi_line["description"] = json!("Replace the intake filter\nand test the pump");
    mount_poll(
        &fracttal,
        json!([multi_line, task(702, json!(4)), task(703, json!(2))]),
    )
    .await;
    mount_catch_all(&fracttal).await;
    let whatsapp = MockServer::start().await;
    mount_whatsapp(&whatsapp, "wo_status_changed", MANAGER, 2).await;

    let flow = build(
        include_str!("../examples/flows/wo-status-changed.json"),
        &fracttal,
        &whatsapp,
    );
    let Harness { ctx, clock, .. } = harness();
    let first = flow.run(&ctx).await.unwrap();
    assert_eq!(
        first.counts.received, 0,
        "the first run only learns the statuses"
    );
    clock.advance(Duration::from_secs(300));
    let report = flow.run(&ctx).await.unwrap();
    assert_eq!(report.counts.delivered, 2, "{report:?}");
    let reason = skipped(&report, "fracttal:wo-status:703:2");
    assert!(reason.contains("status_to_name"), "{reason}");

    let mut messages = sent(&whatsapp).await;
    messages.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        messages[0],
        (
            vec![
                "OT-701".to_owned(),
                "Replace the intake filter and test the pump".to_owned(),
                "Centrifugal pump 3".to_owned(),
                "Em andamento".to_owned(),
                "Concluída".to_owned(),
                "Jonas Campos".to_owned()
            ],
            "fracttal:wo-status:701:3".to_owned()
        )
    );
    assert_eq!(messages[1].0[3..5], ["Em revisão", "Cancelada"]);
    fracttal.verify().await;
    whatsapp.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_critical_reading_spec_alerts_readings_out_of_range() {
    let fracttal = MockServer::start().await;
    mount_token(&fracttal).await;
    Mock::given(method("GET"))
        .and(path("/api/meters_reading_list"))
        .respond_with(envelope(json!([
            {"serial": "M-100", "date": ago(40), "value": 95.5, "source": "API"},
            {"serial": "M-100", "date": ago(30), "value": 80, "source": "API"},
            {"serial": "M-200", "date": ago(20), "value": "1.5", "source": "MANUAL"},
            {"serial": "M-300", "date": ago(10), "value": 99999, "source": "WORK_ORDER"}
        ])))
        .expect(1)
        .mount(&fracttal)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/meters_list"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("fracttal/meters_list.json")),
        )
        .expect(1)
        .mount(&fracttal)
        .await;
    mount_catch_all(&fracttal).await;
    let whatsapp = MockServer::start().await;
    mount_whatsapp(&whatsapp, "critical_reading", MANAGER, 2).await;

    let flow = build(
        include_str!("../examples/flows/critical-reading.json"),
        &fracttal,
        &whatsapp,
    );
    let Harness { ctx, .. } = harness();
    let report = flow.run(&ctx).await.unwrap();
    assert_eq!(
        (report.counts.delivered, report.counts.skipped),
        (2, 2),
        "{report:?}"
    );
    skipped(&report, "fracttal:reading:M-300:2026-03-02T07:59:50Z");
    let mut messages = sent(&whatsapp).await;
    messages.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        messages[0].0,
        [
            "Compressor 2",
            "Discharge temperature",
            "95.5 °C",
            "acima do máximo",
            "80 °C",
            "02/03/2026 04:59"
        ]
    );
    assert_eq!(messages[0].1, "fracttal:reading:M-100:2026-03-02T07:59:20Z");
    assert_eq!(
        messages[1].0[..5],
        [
            "Centrifugal pump 3",
            "Suction pressure",
            "1.5 bar",
            "abaixo do mínimo",
            "2 bar"
        ]
    );
    fracttal.verify().await;
    whatsapp.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_work_request_spec_alerts_urgent_requests() {
    let fracttal = MockServer::start().await;
    mount_token(&fracttal).await;
    let mut rows = fixture("fracttal/work_requests.json")["data"].clone();
    for (row, seconds) in rows.as_array_mut().unwrap().iter_mut().zip([50, 40, 30]) {
        row["date"] = json!(ago(seconds));
    }
    Mock::given(method("GET"))
        .and(path("/api/work_requests"))
        .and(query_param("type_date", "date"))
        .respond_with(envelope(rows))
        .expect(1)
        .mount(&fracttal)
        .await;
    mount_catch_all(&fracttal).await;
    let whatsapp = MockServer::start().await;
    mount_whatsapp(&whatsapp, "new_work_request", MANAGER, 2).await;

    let flow = build(
        include_str!("../examples/flows/new-work-request.json"),
        &fracttal,
        &whatsapp,
    );
    let Harness { ctx, .. } = harness();
    let report = flow.run(&ctx).await.unwrap();
    assert_eq!(report.counts.delivered, 2, "{report:?}");
    let reason = skipped(&report, "fracttal:wr:5013");
    assert!(reason.contains("urgent"), "{reason}");
    let mut messages = sent(&whatsapp).await;
    messages.sort_by(|a, b| a.1.cmp(&b.1));
    assert_eq!(
        messages[0].0,
        [
            "5012",
            "Ana Souza",
            "Centrifugal pump 3",
            "Water leaking under pump 3",
            "02/03/2026 04:59"
        ]
    );
    assert_eq!(
        messages[1].0[..4],
        [
            "5014",
            "marta.lima@example.com",
            "Compressor 2",
            "Compressor 2 trips on high temperature"
        ]
    );
    fracttal.verify().await;
    whatsapp.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wo_assigned_spec_alerts_the_responsible_when_the_task_is_assigned() {
    let fracttal = MockServer::start().await;
    mount_token(&fracttal).await;
    let mut row = assigned(801, None);
    row["creation_date"] = json!(ago(3600));
    row["user_assigned"] = json!("");
    row["created_by"] = json!("Ana Souza");
    mount_poll(&fracttal, json!([row.clone()])).await;
    // An hour after its creation the work order is assigned to Jonas.
    row["user_assigned"] = json!("Jonas Campos");
    mount_poll(&fracttal, json!([row])).await;
    mount_catch_all(&fracttal).await;
    let whatsapp = MockServer::start().await;
    mount_whatsapp(&whatsapp, "wo_assignment", "5511999991234", 1).await;

    let flow = build(
        include_str!("../examples/flows/wo-assigned.json"),
        &fracttal,
        &whatsapp,
    );
    let Harness { ctx, clock, .. } = harness();
    let first = flow.run(&ctx).await.unwrap();
    assert_eq!(first.counts.received, 0, "{first:?}");
    clock.advance(Duration::from_secs(120));
    let report = flow.run(&ctx).await.unwrap();
    assert_eq!(report.counts.delivered, 1, "{report:?}");
    let messages = sent(&whatsapp).await;
    assert_eq!(messages[0].0[..2], ["Jonas Campos", "OT-801"]);
    assert_eq!(messages[0].1, "fracttal:wo:801:assigned:Jonas Campos");
    fracttal.verify().await;
    whatsapp.verify().await;
}

#[test]
fn every_notification_spec_validates() {
    for (name, text) in [
        (
            "wo-assigned",
            include_str!("../examples/flows/wo-assigned.json"),
        ),
        (
            "wo-status-changed",
            include_str!("../examples/flows/wo-status-changed.json"),
        ),
        (
            "critical-reading",
            include_str!("../examples/flows/critical-reading.json"),
        ),
        (
            "new-work-request",
            include_str!("../examples/flows/new-work-request.json"),
        ),
    ] {
        let spec = FlowSpec::from_json(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(spec.target.kind, "whatsapp.template", "{name}");
        // The assignment notifies the responsible, whose phone the team directory has; the
        // other three notify one manager, at the number written in the spec.
        let looked_up: Vec<(&str, &str)> = spec
            .lookups
            .iter()
            .map(|l| (l.field.as_str(), l.into.as_str()))
            .collect();
        if name == "wo-assigned" {
            assert_eq!(looked_up, [("responsible", "responsible_phone")]);
        } else {
            assert!(looked_up.is_empty(), "{name}");
        }
        let source = spec.source.as_ref().unwrap().kind.clone();
        assert!(
            Registry::default().source_kinds().any(|k| k == source),
            "{name}: {source} is registered"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_status_scan_cut_short_resumes_and_only_then_forgets() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let page = |start: u64, rows: Value, total: u64| {
        Mock::given(method("GET"))
            .and(path("/api/work_orders/"))
            .and(query_param("limit", "2"))
            .and(query_param("start", start.to_string().as_str()))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"success": true, "message": "200", "data": rows, "total": total}),
            ))
            .up_to_n_times(1)
            .expect(1)
    };
    // Poll 1 reads one page of three tasks; poll 2 resumes at offset 2 (same window);
    // poll 3 scans afresh and finds task 903 completed.
    page(0, json!([task(901, json!(1)), task(902, json!(1))]), 3)
        .mount(&server)
        .await;
    page(2, json!([task(903, json!(1))]), 3)
        .mount(&server)
        .await;
    page(0, json!([task(901, json!(1)), task(902, json!(1))]), 3)
        .mount(&server)
        .await;
    page(2, json!([task(903, json!(3))]), 3)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let source = WorkOrderStatusSource::new(client(&server))
        .page_size(2)
        .max_pages(1)
        .first_sightings(true);
    let Harness { ctx, clock, .. } = harness();
    let first = source.poll(&ctx, None).await.unwrap();
    let cursor = first.next_cursor.unwrap();
    assert_eq!(cursor.value()["resume"]["start"], 2);
    assert_eq!(cursor.value()["primed"], false);
    clock.advance(Duration::from_secs(60));
    let second = source.poll(&ctx, Some(&cursor)).await.unwrap();
    assert!(
        second.records.is_empty(),
        "still the first picture: {:?}",
        keys(&second)
    );
    let cursor = second.next_cursor.unwrap();
    assert_eq!(cursor.value()["primed"], true);
    assert_eq!(cursor.value().get("resume"), None);
    let third = source.poll(&ctx, Some(&cursor)).await.unwrap();
    assert!(third.records.is_empty(), "{:?}", keys(&third));
    let fourth = source.poll(&ctx, third.next_cursor.as_ref()).await.unwrap();
    assert_eq!(keys(&fourth), ["fracttal:wo-status:903:3"]);
    // The resumed page asked for the interrupted scan's window, not one moved by the clock.
    let resumed = &server.received_requests().await.unwrap()[2];
    assert!(
        resumed
            .url
            .query()
            .unwrap()
            .contains("since=2026-01-31T08%3A00%3A00%2B00"),
        "{}",
        resumed.url
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_meters_list_is_waited_out_on_the_clock() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    mount_readings(&server, 1).await;
    Mock::given(method("GET"))
        .and(path("/api/meters_list"))
        .respond_with(ResponseTemplate::new(406).insert_header("Request-Call-Limit-Reset", "7"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/meters_list"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("fracttal/meters_list.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let source = MeterReadingsSource::new(client(&server));
    let Harness { ctx, clock, .. } = harness();
    let batch = source.poll(&ctx, None).await.unwrap();
    assert_eq!(batch.records[1].data["out_of_range"], "above");
    assert!(
        clock.sleeps().contains(&Duration::from_secs(7)),
        "{:?}",
        clock.sleeps()
    );
    server.verify().await;
}

// ---- assignments ----

/// A task row of work order `id`, assigned to `who` (nobody with `None`), created three
/// days before the test's start.
fn assigned(id: u64, who: Option<&str>) -> Value {
    let mut row = task(id, json!(1));
    row["personnel_description"] = json!(who.unwrap_or(""));
    row
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_assignment_is_notified_once_and_each_reassignment_again() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let polls = [
        // The first picture: 801 unassigned, 802 Ana's.
        json!([assigned(801, None), assigned(802, Some("Ana Souza"))]),
        // 801 assigned an hour later (the usual case), 803 created already assigned.
        json!([
            assigned(801, Some("Jonas Campos")),
            assigned(802, Some("Ana Souza")),
            assigned(803, Some("Marta Lima"))
        ]),
        // Seen again: nothing new.
        json!([
            assigned(801, Some("Jonas Campos")),
            assigned(802, Some("Ana Souza")),
            assigned(803, Some("Marta Lima"))
        ]),
        // 802 passed to Jonas.
        json!([
            assigned(801, Some("Jonas Campos")),
            assigned(802, Some("Jonas Campos"))
        ]),
        // 802 back to Ana; 801 unassigned.
        json!([assigned(801, None), assigned(802, Some("Ana Souza"))]),
        // 801 to Jonas again.
        json!([
            assigned(801, Some("Jonas Campos")),
            assigned(802, Some("Ana Souza"))
        ]),
    ];
    for rows in &polls {
        mount_poll(&server, rows.clone()).await;
    }
    mount_catch_all(&server).await;

    let source = hubflow::fracttal::WorkOrderAssignmentSource::new(client(&server));
    let Harness { ctx, clock, .. } = harness();
    let mut cursor: Option<Cursor> = None;
    let mut batches = Vec::new();
    for _ in &polls {
        let batch = source.poll(&ctx, cursor.as_ref()).await.unwrap();
        cursor = batch.next_cursor.clone();
        batches.push(batch);
        clock.advance(Duration::from_secs(60));
    }
    let keys: Vec<Vec<&str>> = batches.iter().map(keys).collect();
    assert_eq!(
        keys,
        [
            vec![],
            vec![
                "fracttal:wo:801:assigned:Jonas Campos",
                "fracttal:wo:803:assigned:Marta Lima"
            ],
            vec![],
            vec!["fracttal:wo:802:assigned:Jonas Campos"],
            vec!["fracttal:wo:802:assigned:Ana Souza:2"],
            vec!["fracttal:wo:801:assigned:Jonas Campos:2"],
        ]
    );
    let late = &batches[1].records[0];
    assert_eq!(late.kind, "fracttal.work_order_assignment");
    assert_eq!(late.data["responsible"], "Jonas Campos");
    assert_eq!(late.data["responsible_from"], Value::Null);
    assert_eq!(late.data["reassigned"], false);
    assert_eq!(late.data["first_sighting"], false, "known, unassigned");
    let created = &batches[1].records[1];
    assert_eq!(created.data["first_sighting"], true);
    let passed = &batches[3].records[0];
    assert_eq!(passed.data["responsible_from"], "Ana Souza");
    assert_eq!(passed.data["reassigned"], true);
    assert_eq!(
        passed.data["task_todo_description"],
        "Replace the intake filter"
    );
    assert_eq!(batches[4].records[0].data["occurrence"], 2);
    server.verify().await;
}

/// One page of the work-order query at offset `start`, used once, in mount order.
async fn mount_page(server: &MockServer, start: u64, rows: Value, total: usize) {
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .and(query_param("start", start.to_string()))
        .and(query_param("limit", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success": true, "message": "200", "data": rows, "total": total}),
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_assignment_scan_cut_short_resumes_where_it_stopped_without_loss() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let (ana, jonas) = (Some("Ana Souza"), Some("Jonas Campos"));
    // A window of three tasks, two per page, one page per poll.
    mount_page(&server, 0, json!([assigned(1, ana), assigned(2, None)]), 3).await;
    mount_page(&server, 2, json!([assigned(3, None)]), 3).await;
    mount_page(&server, 0, json!([assigned(1, ana), assigned(2, jonas)]), 3).await;
    mount_page(&server, 2, json!([assigned(3, jonas)]), 3).await;
    mount_catch_all(&server).await;

    let source = hubflow::fracttal::WorkOrderAssignmentSource::new(client(&server))
        .page_size(2)
        .max_pages(1);
    let Harness { ctx, .. } = harness();
    let first = source.poll(&ctx, None).await.unwrap();
    let second = source.poll(&ctx, first.next_cursor.as_ref()).await.unwrap();
    assert!(
        first.records.is_empty() && second.records.is_empty(),
        "the first picture"
    );
    assert_eq!(
        second.next_cursor.as_ref().unwrap().value()["primed"],
        true,
        "primed once the scan completed"
    );
    let third = source
        .poll(&ctx, second.next_cursor.as_ref())
        .await
        .unwrap();
    assert_eq!(keys(&third), ["fracttal:wo:2:assigned:Jonas Campos"]);
    assert_eq!(
        third.next_cursor.as_ref().unwrap().value()["resume"]["start"],
        2
    );
    let fourth = source.poll(&ctx, third.next_cursor.as_ref()).await.unwrap();
    assert_eq!(keys(&fourth), ["fracttal:wo:3:assigned:Jonas Campos"]);
    server.verify().await;
}

const ASSIGNMENT_SPEC: &str = r#"{
  "id": "assignments",
  "source": {"fracttal.work_order_assignments": {"connection": "fracttal"}},
  "map": {"to": "5511999991234", "template": "wo_assignment", "language": "pt_BR",
          "body": ["{{ responsible }}", "{{ wo_folio }}"]},
  "target": {"whatsapp.template": {"connection": "whatsapp"}}
}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_automator_assignment_event_and_the_poll_of_the_same_change_send_once() {
    let fracttal = MockServer::start().await;
    mount_token(&fracttal).await;
    mount_poll(&fracttal, json!([assigned(901, None)])).await;
    mount_poll(&fracttal, json!([assigned(901, Some("Jonas Campos"))])).await;
    mount_catch_all(&fracttal).await;
    let whatsapp = MockServer::start().await;
    mount_whatsapp(&whatsapp, "wo_assignment", "5511999991234", 1).await;
    let flow = build(ASSIGNMENT_SPEC, &fracttal, &whatsapp);
    let Harness { ctx, clock, .. } = harness();

    let first = flow.run(&ctx).await.unwrap();
    assert_eq!(first.counts.received, 0, "the first picture");
    // Fracttal's "WO assigned" rule forwards the row at once.
    let hook = EventSource::new().records(EventRecords::Assignment);
    let reply = hook.handle(&InboundRequest::new(
        Method::Post,
        "/hooks/fracttal",
        assigned(901, Some("Jonas Campos")).to_string(),
    ));
    assert_eq!(reply.status, 200, "{}", reply.body);
    let evented = flow.process(&ctx, reply.records).await;
    assert_eq!(evented.counts.delivered, 1, "{evented:?}");
    // The next poll sees the same assignment: same key, so the claims drop it.
    clock.advance(Duration::from_secs(60));
    let polled = flow.run(&ctx).await.unwrap();
    let key = "fracttal:wo:901:assigned:Jonas Campos";
    assert!(
        common::duplicate(&polled.get(key).unwrap().outcome).is_some(),
        "{polled:?}"
    );
    assert_eq!(sent(&whatsapp).await.len(), 1);
    fracttal.verify().await;
    whatsapp.verify().await;
}

// ---- meter alerts ----

/// A meter with limits 10 to 80 °C whose last reading was `value`, `hours` before the
/// test's start.
fn meter(serial: &str, value: f64, hours: i64) -> Value {
    json!({
        "serial": serial, "description": "Discharge temperature", "units_code": "°C",
        "min_value": 10, "max_value": 80, "code": "COMP-2", "items_description": "Compressor 2",
        "last_data": {"date": ago(hours * 3600), "value": value, "accumulated_value": 0}
    })
}

async fn mount_meters(server: &MockServer, meters: Value) {
    Mock::given(method("GET"))
        .and(path("/api/meters_list"))
        .and(query_param("start", "0"))
        .respond_with(envelope(meters))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn meters_out_of_range_or_silent_alert_once_per_reading() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let mut no_reading = meter("M-400", 0.0, 0);
    no_reading["last_data"] = Value::Null;
    let polls = [
        // Above its maximum; silent for 30 h; fine; never read.
        json!([
            meter("M-100", 95.5, 1),
            meter("M-200", 40.0, 30),
            meter("M-300", 50.0, 1),
            no_reading.clone()
        ]),
        // The same: nothing new.
        json!([
            meter("M-100", 95.5, 1),
            meter("M-200", 40.0, 30),
            meter("M-300", 50.0, 1),
            no_reading
        ]),
        // M-100 read again, still above; M-200 read again; M-300 below its minimum.
        json!([
            meter("M-100", 97.0, 0),
            meter("M-200", 41.0, 0),
            meter("M-300", 9.5, 0)
        ]),
    ];
    for meters in &polls {
        mount_meters(&server, meters.clone()).await;
    }
    mount_catch_all(&server).await;

    let source = hubflow::fracttal::MeterAlertsSource::new(client(&server))
        .stale_after(Duration::from_secs(24 * 3600));
    let Harness { ctx, .. } = harness();
    let first = source.poll(&ctx, None).await.unwrap();
    assert_eq!(
        keys(&first),
        [
            "fracttal:meter:M-100:out_of_range:2026-03-02T07:00:00Z",
            "fracttal:meter:M-200:stale:2026-03-01T02:00:00Z",
            "fracttal:meter:M-400:stale:never"
        ]
    );
    let above = &first.records[0];
    assert_eq!(above.kind, "fracttal.meter_out_of_range");
    assert_eq!(above.data["out_of_range"], "above");
    assert_eq!(above.data["limit_text"], "80 °C");
    assert_eq!(above.data["item_description"], "Compressor 2");
    let silent = &first.records[1];
    assert_eq!(silent.kind, "fracttal.meter_stale");
    assert_eq!(silent.data["hours_without_update"], 30);
    assert_eq!(silent.data["stale_after_hours"], 24);
    assert_eq!(first.records[2].data["last_reading_at"], Value::Null);

    let second = source.poll(&ctx, first.next_cursor.as_ref()).await.unwrap();
    assert!(second.records.is_empty(), "{:?}", keys(&second));
    let third = source
        .poll(&ctx, second.next_cursor.as_ref())
        .await
        .unwrap();
    assert_eq!(
        keys(&third),
        [
            "fracttal:meter:M-100:out_of_range:2026-03-02T08:00:00Z",
            "fracttal:meter:M-300:out_of_range:2026-03-02T08:00:00Z"
        ]
    );
    assert_eq!(third.records[1].data["out_of_range"], "below");
    server.verify().await;
}

#[test]
fn the_meter_alerts_spec_config_is_checked() {
    let registry = Registry::default();
    let mut connections = Connections::new();
    connections.insert(
        "fracttal",
        json!({"client_id": "key", "client_secret": {"secret": "FRACTTAL_SECRET"}}),
    );
    let secrets = MapSecrets::new().with("FRACTTAL_SECRET", "secret");
    let spec = |source: Value| {
        FlowSpec::from_json(
            &json!({
                "id": "meters", "source": {"fracttal.meter_alerts": source},
                "map": {"to": "5511999991234", "template": "t", "language": "pt_BR"},
                "target": {"whatsapp.template": {"connection": "whatsapp"}}
            })
            .to_string(),
        )
        .unwrap()
    };
    let errors = spec(
        json!({"connection": "fracttal", "out_of_range": false, "stale_after_hours": 0,
                             "max_meter_pages": 0}),
    )
    .build(&registry, &connections, &secrets)
    .unwrap_err();
    let text = errors.to_string();
    for path in ["stale_after_hours", "max_meter_pages"] {
        assert!(text.contains(path), "{text}");
    }
    let errors = spec(json!({"connection": "fracttal", "out_of_range": false}))
        .build(&registry, &connections, &secrets)
        .unwrap_err();
    assert!(
        errors.to_string().contains("would report nothing"),
        "{errors}"
    );
}

#[test]
fn events_the_api_cannot_observe_come_through_the_automator_webhook() {
    let secrets = MapSecrets::new();
    let registry = Registry::default();
    let connections = Connections::new();
    let cx = hubflow::spec::BuildContext::new(&registry, &connections, &secrets);
    for (records, kind, row) in [
        (
            "stock_below_minimum",
            "fracttal.stock_below_minimum",
            json!({"code": "FLT-20", "description": "Filter cartridge", "stock": 2, "min_stock": 5}),
        ),
        (
            "document_expiry",
            "fracttal.document_expiry",
            json!({"document": "Boiler certificate", "expiry_date": "2026-04-01"}),
        ),
        ("task_expired", "fracttal.task_expired", task(77, json!(1))),
        ("task_pending", "fracttal.task_pending", task(78, json!(1))),
    ] {
        let source = EventSource::from_spec(&cx, &json!({"records": records})).unwrap();
        let request = InboundRequest::new(Method::Post, "/hooks/fracttal", row.to_string());
        let reply = source.handle(&request);
        assert_eq!(reply.status, 200, "{records}: {}", reply.body);
        assert_eq!(reply.records[0].kind, kind);
        // The same row forwarded again is the same record.
        assert_eq!(source.handle(&request).records[0].key, reply.records[0].key);
        let bad = source.handle(&InboundRequest::new(Method::Post, "/hooks/fracttal", "[1]"));
        assert_eq!(bad.status, 400, "{records}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_order_reopened_and_completed_again_alerts_each_time() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let statuses = [1, 3, 1, 3, 3];
    for status in statuses {
        mount_poll(&server, json!([task(551, json!(status))])).await;
    }
    mount_catch_all(&server).await;
    let source = WorkOrderStatusSource::new(client(&server));
    let Harness { ctx, .. } = harness();
    let mut cursor: Option<Cursor> = None;
    let mut seen = Vec::new();
    for _ in statuses {
        let batch = source.poll(&ctx, cursor.as_ref()).await.unwrap();
        seen.extend(
            batch
                .records
                .iter()
                .map(|r| (r.key.clone(), r.data["occurrence"].clone())),
        );
        cursor = batch.next_cursor;
    }
    assert_eq!(
        seen,
        [
            ("fracttal:wo-status:551:3".to_owned(), json!(1)),
            ("fracttal:wo-status:551:1:2".to_owned(), json!(2)),
            ("fracttal:wo-status:551:3:2".to_owned(), json!(2)),
        ]
    );
    server.verify().await;
}

/// The shipped template texts (docs/fracttal.md, section 5): each template in all five
/// languages Fracttal Hub offers, every language with the same variables, each once.
#[test]
fn every_template_text_is_in_five_languages_with_the_same_variables() {
    let guide =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/fracttal.md")).unwrap();
    let variables = |text: &str| {
        let mut found: Vec<String> = text
            .split("{{")
            .skip(1)
            .filter_map(|rest| rest.split_once("}}").map(|(name, _)| name.to_owned()))
            .collect();
        found.sort();
        found
    };
    let mut tables = Vec::new();
    let mut current: Option<Vec<(String, Vec<String>)>> = None;
    for line in guide.lines() {
        if line.starts_with("| language | template text |") {
            current = Some(Vec::new());
        } else if line.starts_with("|---") {
            continue;
        } else if let (Some(table), Some(row)) = (current.as_mut(), line.strip_prefix("| ")) {
            if let Some((language, text)) = row.split_once(" | ") {
                table.push((language.to_owned(), variables(text)));
            }
        } else if let Some(table) = current.take() {
            tables.push(table);
        }
    }
    assert_eq!(tables.len(), 4, "four shipped templates");
    for table in &tables {
        let languages: Vec<&str> = table.iter().map(|(l, _)| l.as_str()).collect();
        assert_eq!(
            languages,
            [
                "English (`en_US`)",
                "Spanish (`es`)",
                "Portuguese (`pt_BR`)",
                "French (`fr`)",
                "Italian (`it`)"
            ]
        );
        let first = &table[0].1;
        assert!(!first.is_empty());
        let mut unique = first.clone();
        unique.dedup();
        assert_eq!(&unique, first, "each variable once: {first:?}");
        for (language, vars) in table {
            assert_eq!(vars, first, "{language}");
        }
    }
}
