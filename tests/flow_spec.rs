//! Flows built from JSON specs: connections, secrets by name, and the errors a person gets
//! when the spec does not fit the host's setup.

mod common;

use common::{delivered, fixture, harness, mount_catch_all, only_outcome, received};
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::{FlowSpec, Record, SpecErrors};
use serde_json::{json, Value};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const OPS_KEY: &str = "ops-key-5e1f-not-for-logs";

fn spec_text(target_kind: &str) -> String {
    let mut spec = fixture("http_post_spec.json");
    let config = spec["target"]["http.post"].take();
    spec["target"] = json!({ target_kind: config });
    spec.to_string()
}

fn connections(server: &MockServer) -> Connections {
    Connections::from_json(
        &json!({"ops": {"base_url": format!("{}/api/", server.uri())}}).to_string(),
    )
    .expect("the connections parse")
}

fn error_at<'e>(errors: &'e SpecErrors, pointer: &str) -> &'e hubflow::SpecError {
    errors
        .iter()
        .find(|e| e.path == pointer)
        .unwrap_or_else(|| panic!("no error at {pointer}: {errors}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_built_flow_posts_to_the_connection_path_with_the_secret_header() {
    let server = MockServer::start().await;
    let data = json!({"wo_folio": "OT-12", "status": "assigned"});
    Mock::given(method("POST"))
        .and(path("/api/hooks/wo"))
        .and(header("x-api-key", OPS_KEY))
        .and(header("x-source", "hubflow"))
        .and(header("content-type", "application/json"))
        .and(body_json(&data))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"id": 77}})))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let spec = FlowSpec::from_json(&spec_text("http.post")).expect("the spec parses");
    let secrets = MapSecrets::new().with("OPS_KEY", OPS_KEY);
    let flow = spec
        .build(&Registry::default(), &connections(&server), &secrets)
        .expect("the spec builds");
    assert_eq!(flow.id(), "ops-work-orders");
    assert_eq!(flow.delivery().retry.max_attempts, 2);
    // The key is in the plan's request, which must not show it.
    let record = hubflow::Record::new("probe", "t", serde_json::json!({}));
    let plan = flow
        .plan(&common::plan_ctx(), &record)
        .await
        .expect("plans");
    let shown = format!("{plan:?}{}", serde_json::to_string(&plan).unwrap());
    assert!(
        shown.contains("[redacted]") && !shown.contains(OPS_KEY),
        "{shown}"
    );

    let h = harness();
    let report = flow
        .process(
            &h.ctx,
            vec![Record::new("wo:12", "fracttal.work_order", data)],
        )
        .await;

    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 1);
    assert_eq!(receipt.id.as_deref(), Some("77"), "numeric ids become text");
    let shown = serde_json::to_string(&report).expect("the report serializes");
    assert!(!shown.contains(OPS_KEY), "{shown}");
    assert_eq!(received(&server).await, 1);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_is_reported_at_its_header_with_the_secret_name() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;

    let spec = FlowSpec::from_json(&spec_text("http.post")).expect("the spec parses");
    let errors = spec
        .build(
            &Registry::default(),
            &connections(&server),
            &MapSecrets::new(),
        )
        .expect_err("the secret is missing");

    let error = error_at(&errors, "/target/http.post/headers/X-Api-Key");
    assert!(error.message.contains("OPS_KEY"), "{error}");
    let hint = error.hint.as_deref().expect("a hint on how to fix it");
    assert!(hint.contains("OPS_KEY"), "{hint}");
    assert_eq!(
        errors.len(),
        1,
        "only the missing secret is wrong: {errors}"
    );

    assert_eq!(received(&server).await, 0);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_target_kind_lists_the_registered_kinds() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;

    let spec = FlowSpec::from_json(&spec_text("htp.post")).expect("the document itself is fine");
    let secrets = MapSecrets::new().with("OPS_KEY", OPS_KEY);
    let errors = spec
        .build(&Registry::default(), &connections(&server), &secrets)
        .expect_err("the kind is unknown");

    let error = error_at(&errors, "/target");
    assert!(error.message.contains("htp.post"), "{error}");
    let hint = error.hint.as_deref().expect("a hint listing the kinds");
    assert!(hint.contains("http.post"), "{hint}");

    // The errors serialize for a form to show next to the field.
    let shown: Value = serde_json::to_value(&errors).expect("the errors serialize");
    assert!(shown
        .as_array()
        .expect("a list")
        .iter()
        .any(|e| e["path"] == "/target"));

    assert_eq!(received(&server).await, 0);
    server.verify().await;
}
