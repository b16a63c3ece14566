//! The `fracttal.work_order_note` target through a `Flow` over real HTTP against a local
//! mock of Fracttal: the read of the current note and the append, once per record (the
//! marker), the lookup by task, every failure's class, and the ready-made spec
//! `examples/flows/wo-note-whatsapp-status.json` from a WhatsApp status webhook to the note.

mod common;

use std::time::Duration;

use common::{delivered, failed, fixture, harness, mount_catch_all, only_outcome, url, Harness};
use hubflow::fracttal::{
    note_marker, FracttalClient, FracttalError, WorkOrderNote, WorkOrderNoteError,
    WorkOrderNoteTarget, WORK_ORDER_NOTE_KIND,
};
use hubflow::http::Method;
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::{
    DeliveryPolicy, FieldMap, Flow, FlowSpec, Outcome, Plan, Record, RetryPolicy, Stage,
};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const TOKEN: &str = "tok-1-AbCdEf";
const SPEC: &str = include_str!("../examples/flows/wo-note-whatsapp-status.json");
/// The note the fixture's work order 4410 carries.
const EXISTING: &str = "Spare filter taken from warehouse B.";

fn client(server: &MockServer) -> FracttalClient {
    FracttalClient::builder(SecretString::from("key"), SecretString::from("secret"))
        .base_url(url(server, "/api/"))
        .token_url(url(server, "/oauth/token"))
        .build()
}

fn token_mock(access: &str) -> Mock {
    let mut body = fixture("fracttal/token.json");
    body["access_token"] = json!(access);
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
}

/// The query of work orders by task 90211, with this bearer.
fn read(bearer: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .and(query_param("id_work_order_task", "90211"))
        .and(header("authorization", format!("Bearer {bearer}").as_str()))
}

/// The fixture's row of task 90211 (work order 4410) with this note.
fn rows_with_note(note: &str) -> ResponseTemplate {
    let mut body = fixture("fracttal/work_order_with_note.json");
    body["data"][0]["note"] = json!(note);
    ResponseTemplate::new(200).set_body_json(body)
}

/// The update of work order 4410, with this bearer.
fn write(bearer: &str) -> wiremock::MockBuilder {
    Mock::given(method("PUT"))
        .and(path("/api/work_orders/4410"))
        .and(header("authorization", format!("Bearer {bearer}").as_str()))
        .and(header("content-type", "application/json"))
}

fn updated() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture("fracttal/work_order_updated.json"))
}

/// A WhatsApp status record mapped into a note on the task its callback data names.
fn flow(target: WorkOrderNoteTarget, max_attempts: u32) -> Flow {
    let map = FieldMap::new(json!({
        "id_work_orders_tasks": "{{ task }}",
        "note": "WhatsApp to {{ to }}: {{ status }} at {{ at }}"
    }))
    .expect("the mapping compiles");
    Flow::builder("wo-note")
        .map(map)
        .target(target)
        .delivery(
            DeliveryPolicy::default().retry(
                RetryPolicy::default()
                    .max_attempts(max_attempts)
                    .backoff(Duration::from_millis(100), Duration::from_secs(1)),
            ),
        )
        .build()
        .expect("the flow builds")
}

fn status(key: &str) -> Record {
    Record::new(
        key,
        "whatsapp.status",
        json!({"task": "90211", "to": "Jonas Campos", "status": "read", "at": "10:42"}),
    )
}

/// The line `key`'s record appends.
fn line(key: &str) -> String {
    format!(
        "WhatsApp to Jonas Campos: read at 10:42 {}",
        note_marker(key)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_id_resolves_the_work_order_and_the_line_is_appended_to_its_note() {
    let server = MockServer::start().await;
    token_mock(TOKEN).expect(1).mount(&server).await;
    read(TOKEN)
        .respond_with(rows_with_note(EXISTING))
        .expect(1)
        .mount(&server)
        .await;
    write(TOKEN)
        .and(body_json(
            json!({"note": format!("{EXISTING}\n{}", line("wamid.A:read"))}),
        ))
        .respond_with(updated())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = flow(WorkOrderNoteTarget::new(client(&server)), 3);

    // The plan shows the read and the line, and no credentials.
    let Plan::Send(planned) = flow
        .plan(&common::plan_ctx(), &status("wamid.A:read"))
        .await
        .unwrap()
    else {
        panic!("expected an action");
    };
    let planned = planned.downcast_ref::<WorkOrderNote>().unwrap();
    assert_eq!(planned.line(), line("wamid.A:read"));
    assert_eq!(
        planned.lookup().url,
        url(&server, "/api/work_orders/?id_work_order_task=90211")
    );
    assert!(planned.lookup().headers.get("authorization").is_none());

    let report = flow.process(&h.ctx, vec![status("wamid.A:read")]).await;
    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!((receipt.id.as_deref(), attempts), (Some("4410"), 1));
    assert_eq!(receipt.details["already_present"], false);
    assert_eq!(receipt.details["marker"], note_marker("wamid.A:read"));
    let shown = serde_json::to_string(&report).unwrap();
    assert!(!shown.contains(TOKEN), "{shown}");
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_delivered_twice_is_appended_once() {
    let server = MockServer::start().await;
    token_mock(TOKEN).expect(1).mount(&server).await;
    let written = format!("{EXISTING}\n{}", line("wamid.B:read"));
    // The first read sees the old note; after the write, Fracttal has the line.
    read(TOKEN)
        .respond_with(rows_with_note(EXISTING))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    read(TOKEN)
        .respond_with(rows_with_note(&written))
        .expect(1)
        .mount(&server)
        .await;
    write(TOKEN)
        .and(body_json(json!({"note": written})))
        .respond_with(updated())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let target = WorkOrderNoteTarget::new(client(&server));
    let flow = flow(target.clone(), 3);
    let first = harness();
    let report = flow.process(&first.ctx, vec![status("wamid.B:read")]).await;
    delivered(only_outcome(&report));
    // In the same store the claim makes it a duplicate: nothing is read.
    let again = flow.process(&first.ctx, vec![status("wamid.B:read")]).await;
    assert_eq!(again.counts.duplicate, 1);

    // Delivered again without the claim (another store, a replay after losing the claims,
    // an outcome left unknown): the marker is in the note, so nothing is written.
    let other = harness();
    let report = flow.process(&other.ctx, vec![status("wamid.B:read")]).await;
    let (receipt, _) = delivered(only_outcome(&report));
    assert_eq!(receipt.details["already_present"], true);
    assert_eq!(receipt.id.as_deref(), Some("4410"));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_work_order_not_found_fails_once_and_writes_nothing() {
    let server = MockServer::start().await;
    token_mock(TOKEN).expect(1).mount(&server).await;
    // Fracttal answers success with no rows; a row of another task does not count either.
    read(TOKEN)
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "message": "200", "total": 1,
            "data": [{"id_work_orders_tasks": 1, "id_work_order": 7, "note": ""}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let report = flow(WorkOrderNoteTarget::new(client(&server)), 3)
        .process(&h.ctx, vec![status("wamid.C:read")])
        .await;
    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert_eq!(
        (failure.stage, retryable, attempts),
        (Stage::Deliver, false, 1)
    );
    assert_eq!(
        failure.cause::<WorkOrderNoteError>(),
        Some(&WorkOrderNoteError::NotFound {
            lookup: "id_work_orders_tasks 90211".to_owned()
        })
    );
    assert!(
        failure
            .message
            .contains("no work order with id_work_orders_tasks 90211"),
        "{}",
        failure.message
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once_inside_the_delivery() {
    let server = MockServer::start().await;
    token_mock("tok-old")
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token_mock("tok-new").expect(1).mount(&server).await;
    read("tok-old")
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("fracttal/token_expired.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    read("tok-new")
        .respond_with(rows_with_note(""))
        .expect(1)
        .mount(&server)
        .await;
    write("tok-new")
        .and(body_json(json!({"note": line("wamid.D:read")})))
        .respond_with(updated())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let report = flow(WorkOrderNoteTarget::new(client(&server)), 3)
        .process(&h.ctx, vec![status("wamid.D:read")])
        .await;
    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!((receipt.id.as_deref(), attempts), (Some("4410"), 1));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_406_on_the_write_is_retried_after_the_reset_from_a_fresh_read() {
    let server = MockServer::start().await;
    token_mock(TOKEN).expect(1).mount(&server).await;
    read(TOKEN)
        .respond_with(rows_with_note(EXISTING))
        .expect(2)
        .mount(&server)
        .await;
    write(TOKEN)
        .respond_with(
            ResponseTemplate::new(406)
                .insert_header("ratelimit-reset", "42")
                .set_body_json(fixture("fracttal/rate_limited.json")),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    write(TOKEN)
        .and(body_json(
            json!({"note": format!("{EXISTING}\n{}", line("wamid.E:read"))}),
        ))
        .respond_with(updated())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let report = flow(WorkOrderNoteTarget::new(client(&server)), 3)
        .process(&h.ctx, vec![status("wamid.E:read")])
        .await;
    let (_, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 2);
    assert!(
        h.clock.sleeps().contains(&Duration::from_secs(42)),
        "{:?}",
        h.clock.sleeps()
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_read_answer_is_a_typed_permanent_failure_that_releases_the_claim() {
    let server = MockServer::start().await;
    token_mock(TOKEN).expect(1).mount(&server).await;
    read(TOKEN)
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(b"{\"data\": [1,".to_vec(), "application/json"),
        )
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let flow = flow(WorkOrderNoteTarget::new(client(&server)), 3);
    let report = flow.process(&h.ctx, vec![status("wamid.F:read")]).await;
    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert_eq!((retryable, attempts), (false, 1));
    assert!(
        matches!(
            failure.cause::<FracttalError>(),
            Some(FracttalError::MalformedJson { status: 200, .. })
        ),
        "{failure:?}"
    );
    // Nothing was written, so the claim was released: the record can be tried again.
    let again = flow.process(&h.ctx, vec![status("wamid.F:read")]).await;
    assert!(matches!(only_outcome(&again), Outcome::Failed { .. }));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_payload_field_is_refused_before_any_request() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let map = FieldMap::new(json!({"id_work_order_task": "{{ task }}", "notes": "{{ status }}"}))
        .unwrap();
    let flow = Flow::builder("wo-note")
        .map(map)
        .target(WorkOrderNoteTarget::new(client(&server)))
        .build()
        .unwrap();
    let h = harness();
    let report = flow.process(&h.ctx, vec![status("wamid.G:read")]).await;
    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert_eq!(
        (failure.stage, retryable, attempts),
        (Stage::Prepare, false, 0)
    );
    assert!(
        failure.message.contains("did you mean `note`")
            && failure
                .message
                .contains("did you mean `id_work_orders_tasks`"),
        "{}",
        failure.message
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_shows_the_read_and_the_write_with_the_line() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let h = harness();
    let dry = flow(WorkOrderNoteTarget::new(client(&server)), 3)
        .dry_run(&h.ctx, vec![status("wamid.H:read")])
        .await;
    let requests = &dry.records[0].requests;
    let methods: Vec<Method> = requests.iter().map(|r| r.method).collect();
    assert_eq!(
        methods,
        [Method::Post, Method::Get, Method::Put],
        "{requests:?}"
    );
    // The fake answers work order 1 with an empty note.
    assert_eq!(requests[2].url.path(), "/api/work_orders/1");
    assert_eq!(
        requests[2].json_body().unwrap(),
        json!({"note": line("wamid.H:read")})
    );
    server.verify().await;
}

// --- The ready-made spec -------------------------------------------------------------------

fn connections(server: &MockServer) -> Connections {
    let mut connections = Connections::new();
    connections.insert(
        "fracttal",
        json!({
            "client_id": {"secret": "FRACTTAL_KEY"},
            "client_secret": {"secret": "FRACTTAL_SECRET"},
            "base_url": url(server, "/api/").to_string(),
            "token_url": url(server, "/oauth/token").to_string()
        }),
    );
    connections
}

fn spec_flow(server: &MockServer) -> Flow {
    let secrets = MapSecrets::new()
        .with("FRACTTAL_KEY", "key")
        .with("FRACTTAL_SECRET", "secret");
    FlowSpec::from_json(SPEC)
        .expect("the spec loads")
        .build(&Registry::default(), &connections(server), &secrets)
        .expect("the spec builds")
}

/// A WhatsApp status webhook: the statuses of the template sent for record
/// `fracttal:wo:90211:1` (as `wo-assigned.json` sends it), and one of a message that
/// carried no callback data.
fn status_webhook() -> Vec<Record> {
    let status = |id: &str, status: &str, at: &str, callback: Option<&str>| {
        json!({"id": id, "status": status, "timestamp": at, "recipient_id": "5511999991234",
               "biz_opaque_callback_data": callback})
    };
    let mut failed = status(
        "wamid.WO2",
        "failed",
        "1772458920",
        Some("fracttal:wo-status:90211:1->3"),
    );
    failed["errors"] = json!([{"code": 131026, "title": "Message undeliverable"}]);
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "statuses": [
                status("wamid.WO1", "sent", "1772458790", Some("fracttal:wo:90211:1")),
                status("wamid.WO1", "delivered", "1772458800", Some("fracttal:wo:90211:1")),
                status("wamid.WO1", "read", "1772458920", Some("fracttal:wo:90211:1")),
                status("wamid.OTHER", "read", "1772458920", None),
                failed
            ]
        }}]}]
    });
    hubflow::whatsapp::webhook::parse(body.to_string().as_bytes())
        .expect("a WhatsApp webhook")
        .iter()
        .map(|event| event.to_record())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spec_writes_whatsapp_statuses_back_onto_the_work_order() {
    let server = MockServer::start().await;
    token_mock(TOKEN).expect(1).mount(&server).await;
    let delivered_line = format!(
        "WhatsApp to 5511999991234: delivered at 02/03/2026 10:40 {}",
        note_marker("wamid.WO1:delivered")
    );
    let read_line = format!(
        "WhatsApp to 5511999991234: read at 02/03/2026 10:42 {}",
        note_marker("wamid.WO1:read")
    );
    let failed_line = format!(
        "WhatsApp to 5511999991234: failed at 02/03/2026 10:42 (error 131026: Message undeliverable) {}",
        note_marker("wamid.WO2:failed")
    );
    // One flow per note writer, one record at a time: each read sees the previous write.
    let mut note = EXISTING.to_owned();
    for next in [&delivered_line, &read_line, &failed_line] {
        read(TOKEN)
            .respond_with(rows_with_note(&note))
            .up_to_n_times(1)
            .expect(1)
            .mount(&server)
            .await;
        note = format!("{note}\n{next}");
        write(TOKEN)
            .and(body_json(json!({"note": note})))
            .respond_with(updated())
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;

    let flow = spec_flow(&server);
    let Harness { ctx, .. } = harness();
    let records = status_webhook();
    let report = flow.process(&ctx, records.clone()).await;
    assert_eq!(
        (report.counts.delivered, report.counts.skipped),
        (3, 2),
        "{report:?}"
    );
    for key in ["wamid.WO1:sent", "wamid.OTHER:read"] {
        assert!(
            matches!(report.get(key).unwrap().outcome, Outcome::Skipped { .. }),
            "{key}"
        );
    }
    // The same webhook delivered again (Meta retries): duplicates, nothing is sent.
    let again = flow.process(&ctx, records).await;
    assert_eq!(again.counts.duplicate, 3, "{again:?}");
    server.verify().await;
}

#[test]
fn the_spec_validates_and_names_a_registered_target() {
    let spec = FlowSpec::from_json(SPEC).unwrap();
    assert_eq!(spec.target.kind, WORK_ORDER_NOTE_KIND);
    assert!(
        spec.source.is_none(),
        "status records come from the webhook"
    );
    assert!(Registry::default()
        .target_kinds()
        .any(|k| k == WORK_ORDER_NOTE_KIND));
}
