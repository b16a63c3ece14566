//! The generic HTTP JSON source (`http.json`) against a local stand-in: pages, the
//! watermark and its boundary, a scan cut short and resumed, bad items kept, bad answers
//! refused with the cursor left where it was.

mod common;

use common::{harness, mount_catch_all, Harness};
use hubflow::http_target::{HttpJsonSource, Paging};
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::{Cursor, FlowSpec, Source, SourceError};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn item(id: u64, updated: &str) -> Value {
    json!({"id": id, "title": format!("Ticket {id}"), "updated_at": updated})
}

fn page(items: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"data": items, "meta": {"total": 99}}))
}

fn source(server: &MockServer) -> HttpJsonSource {
    HttpJsonSource::new(format!("{}/api/tickets", server.uri()).parse().unwrap())
        .items("data")
        .kind("erp.ticket")
        .cursor_field("updated_at")
        .cursor_param("updated_since")
        .paging(Paging::Page {
            param: "page".into(),
            first: 1,
        })
        .page_size(2, Some("per_page"))
}

fn keys(records: &[hubflow::Record]) -> Vec<&str> {
    records.iter().map(|r| r.key.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_are_read_to_the_short_one_and_the_watermark_returns_only_what_is_new() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/tickets"))
        .and(query_param("page", "1"))
        .and(query_param("per_page", "2"))
        .and(query_param_is_missing("updated_since"))
        .respond_with(page(json!([
            item(1, "2026-03-02T08:00:00Z"),
            item(2, "2026-03-02T09:00:00+01:00")
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/tickets"))
        .and(query_param("page", "2"))
        .and(query_param_is_missing("updated_since"))
        .respond_with(page(json!([item(3, "2026-03-02T08:30:00Z")])))
        .expect(1)
        .mount(&server)
        .await;
    // The next poll asks from the watermark (08:30 UTC, item 3; item 2 is 08:00 UTC): the
    // API includes the bound, and a new item.
    Mock::given(method("GET"))
        .and(path("/api/tickets"))
        .and(query_param("page", "1"))
        .and(query_param("updated_since", "2026-03-02T08:30:00Z"))
        .respond_with(page(json!([
            item(3, "2026-03-02T08:30:00Z"),
            item(1, "2026-03-02T08:00:00Z"),
            item(4, "2026-03-02T10:00:00Z")
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/tickets"))
        .and(query_param("page", "2"))
        .and(query_param("updated_since", "2026-03-02T08:30:00Z"))
        .respond_with(page(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let source = source(&server);
    let Harness { ctx, .. } = harness();
    let first = source.poll(&ctx, None).await.unwrap();
    assert_eq!(
        keys(&first.records),
        ["erp.ticket:1", "erp.ticket:2", "erp.ticket:3"]
    );
    assert_eq!(first.records[0].kind, "erp.ticket");
    assert_eq!(first.records[0].data["title"], "Ticket 1");
    let cursor = first.next_cursor.unwrap();
    assert_eq!(cursor.value()["watermark"], "2026-03-02T08:30:00Z");
    let second = source.poll(&ctx, Some(&cursor)).await.unwrap();
    assert_eq!(
        keys(&second.records),
        ["erp.ticket:4"],
        "the bound once, older ones passed over"
    );
    assert_eq!(
        second.next_cursor.unwrap().value()["watermark"],
        "2026-03-02T10:00:00Z"
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_cut_short_resumes_at_the_next_page_and_moves_the_watermark_at_its_end() {
    let server = MockServer::start().await;
    for (n, items) in [
        (
            "1",
            json!([
                item(1, "2026-03-02T08:00:00Z"),
                item(2, "2026-03-02T08:10:00Z")
            ]),
        ),
        ("2", json!([item(3, "2026-03-02T07:00:00Z")])),
    ] {
        Mock::given(method("GET"))
            .and(path("/api/tickets"))
            .and(query_param("page", n))
            .and(query_param_is_missing("updated_since"))
            .respond_with(page(items))
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;
    let source = source(&server).max_pages(1);
    let Harness { ctx, .. } = harness();
    let first = source.poll(&ctx, None).await.unwrap();
    assert_eq!(keys(&first.records), ["erp.ticket:1", "erp.ticket:2"]);
    let cursor = first.next_cursor.unwrap();
    assert!(
        cursor.value().get("watermark").is_none(),
        "{}",
        cursor.value()
    );
    assert_eq!(cursor.value()["resume"]["page"], 1);
    let second = source.poll(&ctx, Some(&cursor)).await.unwrap();
    assert_eq!(
        keys(&second.records),
        ["erp.ticket:3"],
        "an older item on a later page is not lost"
    );
    let cursor = second.next_cursor.unwrap();
    assert_eq!(cursor.value()["watermark"], "2026-03-02T08:10:00Z");
    assert!(cursor.value().get("resume").is_none());
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_item_without_its_key_is_kept_under_a_hash_of_its_content() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/items"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"id": "a-1"}, {"name": "no id"}, 7, {"id": ""}
        ])))
        .expect(2)
        .mount(&server)
        .await;
    let source = HttpJsonSource::new(format!("{}/items", server.uri()).parse().unwrap());
    let Harness { ctx, .. } = harness();
    let first = source.poll(&ctx, None).await.unwrap();
    let keys1: Vec<String> = first.records.iter().map(|r| r.key.clone()).collect();
    assert_eq!(keys1.len(), 4, "nothing lost");
    assert_eq!(keys1[0], "http.item:a-1");
    assert!(
        keys1[1..].iter().all(|k| k.starts_with("http.item:#")),
        "{keys1:?}"
    );
    let again = source.poll(&ctx, None).await.unwrap();
    let keys2: Vec<String> = again.records.iter().map(|r| r.key.clone()).collect();
    assert_eq!(keys1, keys2, "the same item is the same record");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_answers_fail_the_poll_with_a_typed_error() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/not-json"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/no-array"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"id": 1}})))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/down"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"error": "maintenance"})))
        .mount(&server)
        .await;
    let Harness { ctx, .. } = harness();
    let at = |p: &str| {
        HttpJsonSource::new(format!("{}{p}", server.uri()).parse().unwrap()).items("data")
    };
    match at("/not-json").poll(&ctx, None).await {
        Err(SourceError::Response { message, .. }) => {
            assert!(message.contains("not JSON"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match at("/no-array").poll(&ctx, None).await {
        Err(SourceError::Response { message, .. }) => {
            assert!(message.contains("`data` is an object"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    match at("/down").poll(&ctx, None).await {
        Err(SourceError::Provider(error)) => assert_eq!(error.status, 503),
        other => panic!("{other:?}"),
    }
    let bad_cursor = Cursor::new(json!({"watermark": 5, "other": 1}));
    assert!(at("/no-array").poll(&ctx, Some(&bad_cursor)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_polls_through_a_connection_with_its_secret_header() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/tickets"))
        .and(header("x-api-key", "k-123"))
        .and(query_param("offset", "0"))
        .and(query_param("limit", "10"))
        .respond_with(page(json!([item(9, "2026-03-02T08:00:00Z")])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let hook = format!("{}/hook", server.uri());
    let mut connections = Connections::new();
    connections.insert(
        "erp",
        json!({"base_url": format!("{}/api/v1/", server.uri()),
               "headers": {"X-Api-Key": {"secret": "ERP_KEY"}}}),
    );
    let secrets = MapSecrets::new().with("ERP_KEY", "k-123");
    let spec = json!({
        "id": "tickets",
        "source": {"http.json": {"connection": "erp", "path": "tickets", "items": "data",
                   "kind": "erp.ticket", "paging": {"offset": {"param": "offset"}},
                   "page_size": 10, "size_param": "limit"}},
        "target": {"http.post": {"url": hook}}
    });
    let flow = FlowSpec::from_value(&spec)
        .unwrap()
        .build(&Registry::default(), &connections, &secrets)
        .unwrap();
    let Harness { ctx, .. } = harness();
    let report = flow.replay(&ctx, None).await.unwrap();
    assert_eq!(report.counts.received, 1);
    assert_eq!(report.records[0].key, "erp.ticket:9");
    assert_eq!(report.counts.delivered, 1, "{report:?}");
    server.verify().await;
    assert!(!format!("{flow:?}").contains("k-123"));

    // Offset paging without a page size, and a watermark parameter without its field.
    let bad = json!({
        "id": "tickets",
        "source": {"http.json": {"connection": "erp", "paging": {"offset": {"param": "offset"}},
                   "cursor_param": "since"}},
        "target": {"http.post": {"url": "https://ops.example/hook"}}
    });
    let errors = FlowSpec::from_value(&bad)
        .unwrap()
        .build(&Registry::default(), &connections, &secrets)
        .unwrap_err();
    let text = errors.to_string();
    assert!(text.contains("/source/http.json/page_size"), "{text}");
    assert!(text.contains("/source/http.json/cursor_param"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbered_pages_without_a_size_are_read_until_an_empty_one() {
    let server = MockServer::start().await;
    for (n, items) in [
        ("0", json!([item(1, "a"), item(2, "b"), item(3, "c")])),
        ("1", json!([item(4, "d")])),
        ("2", json!([])),
    ] {
        Mock::given(method("GET"))
            .and(path("/list"))
            .and(query_param("p", n))
            .respond_with(ResponseTemplate::new(200).set_body_json(items))
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;
    let source = HttpJsonSource::new(format!("{}/list", server.uri()).parse().unwrap()).paging(
        Paging::Page {
            param: "p".into(),
            first: 0,
        },
    );
    let Harness { ctx, .. } = harness();
    let batch = source.poll(&ctx, None).await.unwrap();
    assert_eq!(
        keys(&batch.records),
        ["http.item:1", "http.item:2", "http.item:3", "http.item:4"]
    );
    assert!(batch.next_cursor.unwrap().value().get("resume").is_none());
    server.verify().await;
}
