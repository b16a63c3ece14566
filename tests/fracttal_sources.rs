//! The Fracttal sources: the paged work-order source and its cursor over real HTTP against a
//! local mock server, and the Automator event webhook.

mod common;

use std::time::Duration;

use chrono::{DateTime, Utc};
use common::{fixture, harness, mount_catch_all, saved_cursor, seed_cursor, url};
use hubflow::fracttal::{EventSource, FracttalClient, TypeDate, WorkOrdersSource};
use hubflow::http::Method;
use hubflow::http_target::HttpTarget;
use hubflow::{
    Batch, Cursor, ErrorClass, Flow, InboundRequest, Record, RunError, Source, SourceError,
    WebhookSource,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

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

fn at(text: &str) -> DateTime<Utc> {
    text.parse().expect("a valid instant")
}

fn row(id: u32, status: u32, created: &str) -> Value {
    json!({
        "wo_folio": format!("F-{id}"),
        "id_work_orders_tasks": id,
        "id_status_work_order": status,
        "creation_date": created,
        "description": format!("task {id}"),
        "user_assigned": "Jonas Campos"
    })
}

fn page(rows: Vec<Value>, total: Option<u64>) -> ResponseTemplate {
    let mut body = json!({"success": true, "message": "200", "data": rows});
    if let Some(total) = total {
        body["total"] = json!(total);
    }
    ResponseTemplate::new(200).set_body_json(body)
}

/// A page request of the work-order query, with the filters every test source sets.
fn page_request(since: &str, start: u32) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .and(header("authorization", "Bearer tok-1-AbCdEf"))
        .and(query_param("since", since))
        .and(query_param("type_date", "creation_date"))
        .and(query_param("ot_status", "1"))
        .and(query_param("limit", "3"))
        .and(query_param("start", start.to_string().as_str()))
}

fn keys(batch: &Batch) -> Vec<&str> {
    batch.records.iter().map(|r| r.key.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_polls_return_each_row_once_across_boundaries() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    // Poll 1: three pages; three rows share 07:30:00.250 across the first page boundary,
    // two share 07:40 across the second.
    let poll1 = "2026-03-02T07:00:00+00";
    page_request(poll1, 0)
        .respond_with(page(
            vec![
                row(1, 1, "2026-03-02T07:10:00+00:00"),
                row(2, 1, "2026-03-02T07:20:00+00:00"),
                row(3, 1, "2026-03-02T07:30:00.250+00:00"),
            ],
            Some(7),
        ))
        .expect(1)
        .mount(&server)
        .await;
    page_request(poll1, 3)
        .respond_with(page(
            vec![
                row(5, 1, "2026-03-02T07:30:00.250+00:00"),
                row(4, 1, "2026-03-02T07:30:00.250+00:00"),
                row(6, 1, "2026-03-02T07:40:00+00:00"),
            ],
            Some(7),
        ))
        .expect(1)
        .mount(&server)
        .await;
    page_request(poll1, 6)
        .respond_with(page(vec![row(7, 1, "2026-03-02T07:40:00+00:00")], Some(7)))
        .expect(1)
        .mount(&server)
        .await;
    // Poll 2 looks again from one lookback (60 s) before the watermark (07:40): rows 6 and 7
    // come back and must not repeat; row 8 shares the boundary instant and must not be
    // lost; row 8 shows up twice when the pages shift; row 10 arrived late but inside the
    // lookback; task 6 changed status (a new key).
    let poll2 = "2026-03-02T07:39:00+00";
    page_request(poll2, 0)
        .respond_with(page(
            vec![
                row(6, 1, "2026-03-02T07:40:00+00:00"),
                row(7, 1, "2026-03-02T07:40:00+00:00"),
                row(8, 1, "2026-03-02T07:40:00+00:00"),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    page_request(poll2, 3)
        .respond_with(page(
            vec![
                row(8, 1, "2026-03-02T07:40:00+00:00"),
                row(10, 1, "2026-03-02T07:39:30+00:00"),
                row(9, 1, "2026-03-02T07:41:00+00:00"),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    page_request(poll2, 6)
        .respond_with(page(vec![row(6, 2, "2026-03-02T07:40:00+00:00")], None))
        .expect(1)
        .mount(&server)
        .await;
    // Poll 3: nothing new.
    let poll3 = "2026-03-02T07:40:00+00";
    page_request(poll3, 0)
        .respond_with(page(
            vec![
                row(9, 1, "2026-03-02T07:41:00+00:00"),
                row(8, 1, "2026-03-02T07:40:00+00:00"),
            ],
            Some(2),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let source = WorkOrdersSource::new(client(&server))
        .since(at("2026-03-02T07:00:00Z"))
        .status(1)
        .page_size(3);

    let first = source.poll(&h.ctx, None).await.unwrap();
    assert_eq!(
        keys(&first),
        [
            "fracttal:wo:1:1",
            "fracttal:wo:2:1",
            "fracttal:wo:3:1",
            "fracttal:wo:4:1",
            "fracttal:wo:5:1",
            "fracttal:wo:6:1",
            "fracttal:wo:7:1"
        ],
        "every row of three pages once, oldest first"
    );
    let record = &first.records[0];
    assert_eq!(record.kind, "fracttal.work_order");
    assert_eq!(record.occurred_at, Some(at("2026-03-02T07:10:00Z")));
    assert_eq!(record.data["task_todo_description"], "task 1");
    assert_eq!(record.data["responsible"], "Jonas Campos");
    let cursor = first.next_cursor.expect("a cursor");
    assert_eq!(cursor.value()["watermark"], "2026-03-02T07:40:00Z");

    // The cursor goes through the store as the flow would keep it.
    seed_cursor(&h.store, "wo", &cursor).await;
    let stored: Cursor = saved_cursor(&h.store, "wo").await.unwrap();
    let second = source.poll(&h.ctx, Some(&stored)).await.unwrap();
    assert_eq!(
        keys(&second),
        [
            "fracttal:wo:10:1",
            "fracttal:wo:6:2",
            "fracttal:wo:8:1",
            "fracttal:wo:9:1"
        ]
    );
    let cursor = second.next_cursor.expect("a cursor");
    assert_eq!(cursor.value()["watermark"], "2026-03-02T07:41:00Z");

    let third = source.poll(&h.ctx, Some(&cursor)).await.unwrap();
    assert!(third.records.is_empty(), "{:?}", keys(&third));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paging_stops_when_the_total_is_reached_and_pages_per_poll_are_bounded() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let since = "2026-03-02T07:00:00+00";
    // A full page that is also the whole total: no second request.
    page_request(since, 0)
        .and(query_param("code_asset", "PUMP-3"))
        .respond_with(page(
            vec![
                row(1, 1, "2026-03-02T07:10:00+00:00"),
                row(2, 1, "2026-03-02T07:11:00+00:00"),
                row(3, 1, "2026-03-02T07:12:00+00:00"),
            ],
            Some(3),
        ))
        .expect(1)
        .mount(&server)
        .await;
    // Without a total, full pages go on until `max_pages`.
    page_request(since, 0)
        .and(query_param("code_asset", "PUMP-4"))
        .respond_with(page(
            vec![
                row(11, 1, "2026-03-02T07:10:00+00:00"),
                row(12, 1, "2026-03-02T07:11:00+00:00"),
                row(13, 1, "2026-03-02T07:12:00+00:00"),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    page_request(since, 3)
        .and(query_param("code_asset", "PUMP-4"))
        .respond_with(page(
            vec![
                row(14, 1, "2026-03-02T07:05:00+00:00"),
                row(15, 1, "2026-03-02T07:14:00+00:00"),
                row(16, 1, "2026-03-02T07:15:00+00:00"),
            ],
            None,
        ))
        .expect(1)
        .mount(&server)
        .await;
    // The next poll continues the same query at the next offset.
    page_request(since, 6)
        .and(query_param("code_asset", "PUMP-4"))
        .respond_with(page(vec![row(17, 1, "2026-03-02T07:01:00+00:00")], None))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    let source = |asset: &str| {
        WorkOrdersSource::new(client.clone())
            .since(at("2026-03-02T07:00:00Z"))
            .status(1)
            .page_size(3)
            .code_asset(asset)
            .type_date(TypeDate::CreationDate)
    };
    let whole = source("PUMP-3").poll(&h.ctx, None).await.unwrap();
    assert_eq!(whole.records.len(), 3);

    let bounded = source("PUMP-4").max_pages(2);
    let first = bounded.poll(&h.ctx, None).await.unwrap();
    assert_eq!(first.records.len(), 6);
    let cursor = first.next_cursor.unwrap();
    assert_eq!(cursor.value()["resume"]["start"], 6);
    assert!(cursor.value().get("watermark").is_none());
    let rest = bounded.poll(&h.ctx, Some(&cursor)).await.unwrap();
    // Older than everything read before, and still not lost.
    assert_eq!(keys(&rest), ["fracttal:wo:17:1"]);
    assert_eq!(
        rest.next_cursor.unwrap().value()["watermark"],
        "2026-03-02T07:15:00Z"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_page_is_waited_out_on_the_clock_and_asked_again() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let since = "2026-03-02T07:00:00+00";
    page_request(since, 0)
        .respond_with(
            ResponseTemplate::new(406)
                .insert_header("Request-Call-Limit-Reset", "17")
                .set_body_json(fixture("fracttal/rate_limited.json")),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    page_request(since, 0)
        .respond_with(page(vec![row(1, 1, "2026-03-02T07:10:00+00:00")], Some(1)))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let source = WorkOrdersSource::new(client(&server))
        .since(at("2026-03-02T07:00:00Z"))
        .status(1)
        .page_size(3);
    let batch = source.poll(&h.ctx, None).await.unwrap();
    assert_eq!(keys(&batch), ["fracttal:wo:1:1"]);
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(17)]);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lasting_rate_limit_fails_the_run_retryably_and_keeps_the_cursor() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    page_request("2026-03-02T07:00:00+00", 0)
        .respond_with(
            ResponseTemplate::new(429).set_body_json(fixture("fracttal/rate_limited.json")),
        )
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let source = WorkOrdersSource::new(client(&server))
        .since(at("2026-03-02T07:00:00Z"))
        .status(1)
        .page_size(3);
    let flow = Flow::builder("wo-poll")
        .source(source)
        .target(HttpTarget::new(url(&server, "/never")))
        .build()
        .unwrap();
    let error = flow.run(&h.ctx).await.unwrap_err();
    match &error {
        RunError::Source(SourceError::Provider(e)) => {
            assert_eq!(e.status, 429);
            assert_eq!(
                e.class,
                ErrorClass::Retryable {
                    after: Some(Duration::from_secs(60))
                }
            );
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
    // One wait (one retry per page by default), the default minute.
    assert_eq!(h.clock.sleeps(), vec![Duration::from_secs(60)]);
    assert_eq!(saved_cursor(&h.store, "wo-poll").await, None);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flow_run_delivers_each_row_once_and_saves_the_cursor() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .and(query_param("since", "2026-03-02T07:00:00+00"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("fracttal/work_orders_page.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .and(query_param("since", "2026-03-02T07:54:12+00"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("fracttal/work_orders_page.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/notify"))
        .and(body_partial_json(json!({
            "id_work_orders_tasks": 90211,
            "responsible": "Jonas Campos",
            "task_todo_description": "Replace the intake filter",
            "item_description": "Centrifugal pump 3",
            "custom_field_1": "Plant 3"
        })))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/notify"))
        .and(body_partial_json(
            json!({"id_work_orders_tasks": "90212", "responsible": "Maria Silva"}),
        ))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = Flow::builder("wo-notify")
        .source(WorkOrdersSource::new(client(&server)).since(at("2026-03-02T07:00:00Z")))
        .target(HttpTarget::new(url(&server, "/notify")))
        .build()
        .unwrap();
    let report = flow.run(&h.ctx).await.unwrap();
    assert_eq!(report.counts.delivered, 2, "{report:?}");
    let keys: Vec<_> = report.records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["fracttal:wo:90211:1", "fracttal:wo:90212:1"]);
    let cursor = saved_cursor(&h.store, "wo-notify").await.expect("saved");
    assert_eq!(cursor.value()["watermark"], "2026-03-02T07:55:12.045508Z");

    // The same rows again: nothing new, nothing sent.
    let report = flow.run(&h.ctx).await.unwrap();
    assert_eq!(report.counts.received, 0, "{report:?}");
    server.verify().await;
}

// --- the event webhook ----------------------------------------------------------------

fn post(target: &str, body: impl Into<bytes::Bytes>) -> InboundRequest {
    InboundRequest::new(Method::Post, target, body)
}

fn event_body(name: &str) -> String {
    fixture(name).to_string()
}

#[test]
fn the_event_webhook_checks_the_shared_secret_header() {
    let source =
        EventSource::new().header_secret("X-Hubflow-Secret", SecretString::from("hook-s3cr3t"));
    let body = event_body("fracttal/event_row.json");

    let ok = source
        .handle(&post("/hooks/fracttal", body.clone()).header("x-hubflow-secret", "hook-s3cr3t"));
    assert_eq!(ok.status, 200);
    assert_eq!(ok.records.len(), 1);

    let missing = source.handle(&post("/hooks/fracttal", body.clone()));
    assert_eq!((missing.status, missing.records.len()), (401, 0));
    for wrong in ["hook-s3cr3T", "hook-s3cr3", "hook-s3cr3t-and-more", ""] {
        let reply =
            source.handle(&post("/hooks/fracttal", body.clone()).header("X-Hubflow-Secret", wrong));
        assert_eq!(reply.status, 401, "{wrong:?}");
        assert!(reply.records.is_empty());
        assert!(!reply.body.contains("hook-s3cr3t"));
    }
    assert!(!format!("{source:?}").contains("hook-s3cr3t"));
}

#[test]
fn the_event_webhook_checks_the_url_token() {
    let source = EventSource::new().url_token(SecretString::from("u-t0ken/+"));
    let body = event_body("fracttal/event_row.json");
    let ok = source.handle(&post("/hooks/fracttal?token=u-t0ken%2F%2B", body.clone()));
    assert_eq!(ok.status, 200);
    for target in [
        "/hooks/fracttal",
        "/hooks/fracttal?token=",
        "/hooks/fracttal?token=u-t0ken",
        "/hooks/fracttal?tok=u-t0ken%2F%2B",
    ] {
        assert_eq!(
            source.handle(&post(target, body.clone())).status,
            401,
            "{target}"
        );
    }
}

#[test]
fn a_single_row_becomes_a_record_with_the_hub_aliases() {
    let reply = EventSource::new().handle(&post("/h", event_body("fracttal/event_row.json")));
    assert_eq!(reply.status, 200);
    let [record]: [Record; 1] = reply.records.try_into().expect("one record");
    assert_eq!(record.key, "fracttal:wo:91007:1");
    assert_eq!(record.kind, "fracttal.work_order");
    assert_eq!(record.occurred_at, Some(at("2026-03-02T10:15:00Z")));
    assert_eq!(
        record.data["task_todo_description"],
        "Inspect the compressor"
    );
    assert_eq!(record.data["item_description"], "Chiller 1");
    // `personnel_description` is null: the responsible person is the assigned user.
    assert_eq!(record.data["responsible"], "Jonas Campos");
    assert_eq!(record.data["event"], "new_wo", "unknown fields are kept");
}

#[test]
fn an_array_of_rows_becomes_records_and_present_fields_are_never_overwritten() {
    let reply = EventSource::new().handle(&post("/h", event_body("fracttal/event_rows.json")));
    assert_eq!(reply.status, 200);
    let keys: Vec<_> = reply.records.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["fracttal:wo:91010:2", "fracttal:wo:91011:2"]);
    let first = &reply.records[0].data;
    assert_eq!(first["item_description"], "Conveyor 2");
    assert_eq!(first["responsible"], "Maria Silva");
    let second = &reply.records[1].data;
    assert_eq!(second["task_todo_description"], "Check belt tension (Hub)");
    assert_eq!(second["responsible"], "Supervisor on duty");
    assert!(second.get("item_description").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_and_the_poll_make_the_same_record_of_a_row() {
    let server = MockServer::start().await;
    mount_token(&server).await;
    let row = fixture("fracttal/event_row.json");
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .respond_with(page(vec![row.clone()], Some(1)))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let h = harness();
    let polled = WorkOrdersSource::new(client(&server))
        .since(at("2026-03-02T10:00:00Z"))
        .poll(&h.ctx, None)
        .await
        .unwrap();
    let pushed = EventSource::new().handle(&post("/h", row.to_string()));
    assert_eq!(polled.records, pushed.records);
    server.verify().await;
}

#[test]
fn oversized_and_malformed_bodies_are_refused() {
    let source = EventSource::new();
    let mut big = b"[".to_vec();
    big.resize(1024 * 1024 + 1, b' ');
    let reply = source.handle(&post("/h", big));
    assert_eq!(reply.status, 413);
    assert!(reply.records.is_empty());
    let exactly = {
        let mut body = b"[]".to_vec();
        body.resize(1024 * 1024, b' ');
        body
    };
    assert_eq!(source.handle(&post("/h", exactly)).status, 200);

    for body in [
        "not json",
        "42",
        "\"row\"",
        "[1]",
        "[{\"id_work_orders_tasks\": 1}, null]",
        "",
    ] {
        let reply = source.handle(&post("/h", body.to_owned()));
        assert_eq!(reply.status, 400, "{body:?}");
        assert!(reply.records.is_empty());
    }
    let get = InboundRequest::new(Method::Get, "/h", "{}");
    assert_eq!(source.handle(&get).status, 405);
}
