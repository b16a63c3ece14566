//! Lookups through the HTTP JSON directory (`http.json` in a lookup's `from`) against a
//! local stand-in of a staff API: the key in the path or the query, the entry picked from
//! the answer, a miss, a directory that fails for a while or for good, an answer that is not
//! JSON, and a dry run that reads the directory for real while sending nothing.

mod common;

use common::{failed, harness, mount_catch_all, received, url, Harness, SECRET_TOKEN};
use hubflow::http_target::HttpDirectory;
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::{Flow, FlowSpec, Outcome, Record, Stage};
use serde_json::{json, Value};
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// A flow that looks the responsible up in the staff API and posts `{"to": <mobile>}` to
/// the ops endpoint.
fn flow(staff: &MockServer, ops: &MockServer, lookup: Value) -> Flow {
    let mut connections = Connections::new();
    connections.insert(
        "staff",
        json!({"base_url": format!("{}/api/", staff.uri()),
               "headers": {"Authorization": {"secret": "STAFF_TOKEN"}}}),
    );
    let spec = FlowSpec::from_value(&json!({
        "id": "lookup-http",
        "lookup": lookup,
        "map": {"to": "{{ phone }}", "folio": "{{ wo_folio }}"},
        "target": {"http.post": {"url": url(ops, "/hooks/assigned").as_str()}},
        "delivery": {"max_attempts": 3}
    }))
    .expect("the spec parses");
    spec.build(
        &Registry::default(),
        &connections,
        &MapSecrets::new().with("STAFF_TOKEN", SECRET_TOKEN),
    )
    .expect("the spec builds")
}

fn by_path() -> Value {
    json!({"field": "responsible", "into": "phone",
           "from": {"http.json": {"connection": "staff", "path": "people/{key}", "pick": "contact.mobile"}}})
}

fn assigned(key: &str, who: &str) -> Record {
    Record::new(
        key,
        "fracttal.work_order_assignment",
        json!({"responsible": who, "wo_folio": "OT-1021"}),
    )
}

async fn servers() -> (MockServer, MockServer) {
    let staff = MockServer::start().await;
    let ops = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/assigned"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .mount(&ops)
        .await;
    mount_catch_all(&ops).await;
    (staff, ops)
}

async fn posted(ops: &MockServer) -> Vec<Value> {
    ops.received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON body"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_goes_into_the_path_encoded_and_the_entry_is_picked_from_the_answer() {
    let (staff, ops) = servers().await;
    Mock::given(method("GET"))
        .and(path("/api/people/Jonas%20Campos"))
        .and(header("authorization", SECRET_TOKEN))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"name": "Jonas Campos", "contact": {"mobile": "5511999991234"}}),
            ),
        )
        .expect(1)
        .mount(&staff)
        .await;
    mount_catch_all(&staff).await;
    let Harness { ctx, .. } = harness();
    let flow = flow(&staff, &ops, by_path());
    // Two work orders for one person: the second is answered from the lookup's cache.
    let report = flow
        .process(
            &ctx,
            vec![assigned("a", "Jonas Campos"), assigned("b", "Jonas Campos")],
        )
        .await;
    assert_eq!(report.counts.delivered, 2, "{:?}", report.records);
    assert_eq!(
        posted(&ops).await,
        [
            json!({"to": "5511999991234", "folio": "OT-1021"}),
            json!({"to": "5511999991234", "folio": "OT-1021"})
        ]
    );
    let shown = format!("{flow:?} {}", flow.lookups()[0].describe());
    assert!(!shown.contains("tok-7Hq2"), "{shown}");
    assert!(
        flow.lookups()[0].describe().ends_with("/api/people/{key}"),
        "{shown}"
    );
    staff.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_cannot_climb_out_of_its_path_segment() {
    let (staff, ops) = servers().await;
    Mock::given(method("GET"))
        .and(path("/api/people/..%2Fadmin%3Fx%3D1"))
        .respond_with(ResponseTemplate::new(404))
        .expect(1)
        .mount(&staff)
        .await;
    mount_catch_all(&staff).await;
    let Harness { ctx, .. } = harness();
    let flow = flow(&staff, &ops, by_path());
    let report = flow
        .process(
            &ctx,
            vec![assigned("a", "../admin?x=1"), assigned("b", "..")],
        )
        .await;
    // Both are misses: the first asked (encoded, inside its segment), the second never.
    assert_eq!(report.counts.skipped, 2, "{:?}", report.records);
    assert_eq!(received(&staff).await, 1);
    staff.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_can_go_into_the_query_and_an_empty_list_is_no_entry() {
    let (staff, ops) = servers().await;
    Mock::given(method("GET"))
        .and(path("/api/people"))
        .and(query_param("name", "Jonas Campos"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"mobile": "5511999991234"}]})),
        )
        .mount(&staff)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/people"))
        .and(query_param("name", "Rafael Costa"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .mount(&staff)
        .await;
    mount_catch_all(&staff).await;
    let Harness { ctx, .. } = harness();
    let flow = flow(
        &staff,
        &ops,
        json!({"field": "responsible", "into": "phone",
               "from": {"http.json": {"connection": "staff", "path": "people", "param": "name", "pick": "data.0.mobile"}}}),
    );
    let report = flow
        .process(
            &ctx,
            vec![assigned("a", "Jonas Campos"), assigned("b", "Rafael Costa")],
        )
        .await;
    assert_eq!(report.counts.delivered, 1);
    let Outcome::Skipped { reason } = &report.records[1].outcome else {
        panic!("{:?}", report.records[1].outcome)
    };
    assert!(
        reason.starts_with("lookup `phone`: no entry for `Rafael Costa` in GET http://127.0.0.1:"),
        "{reason}"
    );
    assert_eq!(posted(&ops).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_404_is_no_entry_and_under_fail_a_dead_letter() {
    let (staff, ops) = servers().await;
    Mock::given(method("GET"))
        .and(path("/api/people/Rafael%20Costa"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": "not found"})))
        .mount(&staff)
        .await;
    mount_catch_all(&staff).await;
    let Harness { ctx, .. } = harness();
    let mut lookup = by_path();
    lookup["on_missing"] = json!("fail");
    let flow = flow(&staff, &ops, lookup);
    let report = flow
        .process(&ctx, vec![assigned("a", "Rafael Costa")])
        .await;
    let (failure, retryable, attempts) = failed(&report.records[0].outcome);
    assert_eq!(failure.stage, Stage::Lookup);
    assert!(!retryable);
    assert_eq!(attempts, 0);
    assert!(report.records[0].record.is_some(), "the record is kept");
    assert!(posted(&ops).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_directory_that_fails_for_a_while_is_retried_and_one_that_stays_down_fails_the_record() {
    let (staff, ops) = servers().await;
    Mock::given(method("GET"))
        .and(path("/api/people/Jonas%20Campos"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "2"))
        .up_to_n_times(1)
        .mount(&staff)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/people/Jonas%20Campos"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"contact": {"mobile": "5511999991234"}})),
        )
        .mount(&staff)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/people/Marta%20Lima"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&staff)
        .await;
    mount_catch_all(&staff).await;
    let Harness { ctx, clock, .. } = harness();
    let flow = flow(&staff, &ops, by_path());
    let report = flow
        .process(&ctx, vec![assigned("a", "Jonas Campos")])
        .await;
    assert_eq!(report.counts.delivered, 1, "{:?}", report.records);
    // The directory's Retry-After was honoured (on the manual clock).
    assert_eq!(clock.sleeps(), [std::time::Duration::from_secs(2)]);

    let report = flow.process(&ctx, vec![assigned("b", "Marta Lima")]).await;
    let (failure, retryable, _) = failed(&report.records[0].outcome);
    assert_eq!(failure.stage, Stage::Lookup);
    assert_eq!(failure.status, Some(503));
    assert!(retryable);
    // max_attempts 3: three questions, then the record fails; nothing was sent for it.
    let asked_marta = staff
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == "/api/people/Marta%20Lima")
        .count();
    assert_eq!(asked_marta, 3);
    assert_eq!(posted(&ops).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_that_is_not_json_fails_the_record_permanently() {
    let (staff, ops) = servers().await;
    Mock::given(method("GET"))
        .and(path("/api/people/Jonas%20Campos"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>login</html>"))
        .mount(&staff)
        .await;
    mount_catch_all(&staff).await;
    let Harness { ctx, .. } = harness();
    let flow = flow(&staff, &ops, by_path());
    let report = flow
        .process(&ctx, vec![assigned("a", "Jonas Campos")])
        .await;
    let (failure, retryable, _) = failed(&report.records[0].outcome);
    assert_eq!(failure.stage, Stage::Lookup);
    assert!(!retryable);
    assert!(failure.message.contains("not JSON"), "{}", failure.message);
    assert_eq!(received(&staff).await, 1);
    assert!(posted(&ops).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reads_the_directory_for_real_and_sends_nothing() {
    let (staff, ops) = servers().await;
    Mock::given(method("GET"))
        .and(path("/api/people/Jonas%20Campos"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"contact": {"mobile": "5511999991234"}})),
        )
        .expect(1)
        .mount(&staff)
        .await;
    mount_catch_all(&staff).await;
    let Harness { ctx, .. } = harness();
    let flow = flow(&staff, &ops, by_path());
    let dry = flow
        .dry_run(&ctx, vec![assigned("a", "Jonas Campos")])
        .await;
    assert_eq!(dry.report.counts.delivered, 1, "{:?}", dry.report.records);
    assert_eq!(
        dry.records[0].lookups[0].found,
        Some(json!("5511999991234"))
    );
    assert_eq!(
        dry.records[0].requests[0].json_body().unwrap()["to"],
        "5511999991234"
    );
    assert_eq!(received(&ops).await, 0, "a dry run sends nothing");
    staff.verify().await;
}

#[test]
fn the_spec_must_say_where_the_key_goes_and_stay_below_the_connection() {
    let staff_url = "https://hr.example.com/api/";
    let mut connections = Connections::new();
    connections.insert("staff", json!({"base_url": staff_url}));
    let build = |from: Value| {
        FlowSpec::from_value(&json!({
            "id": "x",
            "lookup": {"field": "responsible", "into": "phone", "from": from},
            "target": {"http.post": {"url": "https://ops.example.com/hook"}}
        }))
        .expect("parses")
        .build(&Registry::default(), &connections, &MapSecrets::new())
    };
    let errors = build(json!({"http.json": {"connection": "staff", "path": "people"}}))
        .expect_err("the key goes nowhere");
    let error = errors.iter().next().expect("one error");
    assert_eq!(error.path, "/lookup/from/http.json");
    assert_eq!(error.message, "the key is sent nowhere");
    let errors =
        build(json!({"http.json": {"connection": "staff", "path": "https://evil.example/{key}"}}))
            .expect_err("leaves the base URL");
    assert_eq!(
        errors.iter().next().map(|e| e.path.as_str()),
        Some("/lookup/from/http.json/path")
    );
    let flow = build(json!({"http.json": {"connection": "staff", "path": "people/{key}"}}))
        .expect("builds");
    assert_eq!(
        flow.lookups()[0].describe(),
        "GET https://hr.example.com/api/people/{key}"
    );
    let direct = HttpDirectory::new("https://hr.example.com/people".parse().unwrap()).param("q");
    assert_eq!(
        hubflow::Directory::describe(&direct),
        "GET https://hr.example.com/people"
    );
}
