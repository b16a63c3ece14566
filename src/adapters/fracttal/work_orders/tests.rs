//! Unit tests of `work_orders`.

use super::*;
use crate::http::{HttpResponse, RecordingClient};
use crate::{ManualClock, MemoryStore};
use serde_json::{json, Value};

fn row(id: u32, status: u32, at: &str) -> Value {
    json!({"id_work_orders_tasks": id, "id_status_work_order": status, "creation_date": at})
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn setup() -> (Context, RecordingClient) {
    let http = RecordingClient::new();
    let clock = ManualClock::new("2026-03-02T09:00:00Z".parse().unwrap());
    let ctx = Context::new(http.clone(), clock, MemoryStore::new());
    (ctx, http)
}

fn token() -> HttpResponse {
    HttpResponse::json(200, &json!({"access_token": "t", "expires_in": 7200}))
}

fn page(rows: Vec<Value>, total: u64) -> HttpResponse {
    HttpResponse::json(
        200,
        &json!({"success": true, "message": "200", "data": rows, "total": total}),
    )
}

fn source() -> WorkOrdersSource {
    let client = FracttalClient::builder("k".into(), "s".into())
        .base_url("https://fracttal.test/api/".parse().unwrap())
        .token_url("https://fracttal.test/oauth/token".parse().unwrap())
        .build();
    WorkOrdersSource::new(client)
        .since("2026-03-02T08:00:00Z".parse().unwrap())
        .page_size(2)
}

#[test]
fn truncated_scans_resume_without_moving_the_watermark() {
    block_on(async {
        let (ctx, http) = setup();
        http.push_response(token());
        http.push_response(page(
            vec![
                row(1, 1, "2026-03-02T08:30:00Z"),
                row(2, 1, "2026-03-02T08:10:00Z"),
            ],
            3,
        ));
        let source = source().max_pages(1);
        let batch = source.poll(&ctx, None).await.unwrap();
        assert_eq!(batch.records.len(), 2);
        let cursor = batch.next_cursor.unwrap();
        assert_eq!(cursor.value().get("watermark"), None);
        assert_eq!(cursor.value()["resume"]["start"], 2);

        // The resumed scan reads an older row after a newer one: it is not lost.
        http.push_response(page(vec![row(3, 1, "2026-03-02T08:05:00Z")], 3));
        let batch = source.poll(&ctx, Some(&cursor)).await.unwrap();
        let keys: Vec<_> = batch.records.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["fracttal:wo:3:1"]);
        let cursor = batch.next_cursor.unwrap();
        assert_eq!(cursor.value()["watermark"], "2026-03-02T08:30:00Z");
        assert_eq!(cursor.value().get("resume"), None);
        let urls: Vec<String> = http.requests().iter().map(|r| r.url.to_string()).collect();
        assert!(urls[2].contains("start=2"), "{urls:?}");
        assert!(
            urls[2].contains("since=2026-03-02T08%3A00%3A00%2B00"),
            "{urls:?}"
        );
    });
}

#[test]
fn rows_before_the_horizon_and_foreign_cursors_are_refused() {
    block_on(async {
        let (ctx, http) = setup();
        http.push_response(token());
        // The API ignored `since`: history must not flow in.
        http.push_response(page(vec![row(1, 1, "2020-01-01T00:00:00Z")], 1));
        let batch = source().poll(&ctx, None).await.unwrap();
        assert!(batch.records.is_empty());
        let foreign = Cursor::new(json!({"page": 3}));
        let e = source().poll(&ctx, Some(&foreign)).await.unwrap_err();
        assert!(e.to_string().contains("delete it"), "{e}");
    });
}

#[test]
fn non_object_rows_fail_the_poll_with_their_position() {
    block_on(async {
        let (ctx, http) = setup();
        http.push_response(token());
        http.push_response(page(vec![json!("oops")], 1));
        let e = source().poll(&ctx, None).await.unwrap_err();
        assert!(e.to_string().contains("data[0]"), "{e}");
    });
}

#[test]
fn the_spec_config_is_checked() {
    let client = FracttalClient::new("k".into(), "s".into());
    let config: WorkOrdersConfig = serde_json::from_value(json!({
        "connection": "f", "status": 9, "since": "soon", "limit": 500, "max_pages": 0
    }))
    .unwrap();
    let errors = config.apply(client).unwrap_err();
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/status", "/since", "/limit", "/max_pages"]);
}
