//! A failed record keeps its typed error: the adapter's own error type (Fracttal's, Meta's
//! Graph error, RM's) and the transport's causes are reachable from the report's failure,
//! so a host can match them instead of parsing messages.

mod common;

use common::{failed, harness, only_outcome, url};
use hubflow::fracttal::{FracttalClient, FracttalError, WorkRequestTarget};
use hubflow::http::{ConnectFailure, HttpError};
use hubflow::http_target::HttpTarget;
use hubflow::rm::{Action, ActionTarget, RmAuth, RmClient, RmError};
use hubflow::whatsapp::{GraphError, MessageKind, WhatsAppConnection, WhatsAppTarget};
use hubflow::{DeliveryError, DeliveryPolicy, Flow, ProviderError, Record, RetryPolicy};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn once() -> DeliveryPolicy {
    DeliveryPolicy::default().retry(RetryPolicy::default().max_attempts(1))
}

fn record(data: serde_json::Value) -> Record {
    Record::new("k-1", "test", data)
}

#[tokio::test]
async fn a_fracttal_refusal_is_a_fracttal_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "t", "token_type": "Bearer", "expires_in": 7200}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/work_requests"))
        .respond_with(
            ResponseTemplate::new(422)
                .set_body_json(json!({"success": false, "message": "description is required"})),
        )
        .mount(&server)
        .await;
    let client = FracttalClient::builder(SecretString::from("k"), SecretString::from("s"))
        .base_url(url(&server, "/api/"))
        .token_url(url(&server, "/oauth/token"))
        .build();
    let flow = Flow::builder("wr")
        .target(WorkRequestTarget::new(client))
        .delivery(once())
        .build()
        .unwrap();
    let report = flow
        .process(&harness().ctx, vec![record(json!({"description": "x"}))])
        .await;
    let (failure, retryable, _) = failed(only_outcome(&report));
    assert!(!retryable);
    match failure.cause::<FracttalError>() {
        Some(FracttalError::Rejected { status, .. }) => assert_eq!(*status, 422),
        other => panic!("expected a typed Fracttal refusal, got {other:?}"),
    }
    assert_eq!(
        failure.cause::<ProviderError>().map(|p| p.status),
        Some(422)
    );
    assert!(matches!(failure.error(), Some(DeliveryError::Provider(_))));
}

#[tokio::test]
async fn a_whatsapp_refusal_is_a_graph_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v23.0/1065/messages"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "(#131026) Message undeliverable", "type": "OAuthException",
            "code": 131026, "fbtrace_id": "AbC"}})))
        .mount(&server)
        .await;
    let connection = WhatsAppConnection::new("1065", SecretString::from("EAAG-token"))
        .base_url(url(&server, "/"));
    let flow = Flow::builder("wa")
        .target(WhatsAppTarget::new(MessageKind::Template, connection))
        .delivery(once())
        .build()
        .unwrap();
    let payload = json!({"to": "5511999991234", "template": "t", "language": "pt_BR"});
    let report = flow.process(&harness().ctx, vec![record(payload)]).await;
    let (failure, _, _) = failed(only_outcome(&report));
    assert_eq!(failure.cause::<GraphError>().map(|g| g.code), Some(131026));
    // The typed error's text carries no token.
    let chain = format!("{:?}", failure.error());
    assert!(!chain.contains("EAAG-token"), "{chain}");
}

#[tokio::test]
async fn an_rm_refusal_is_an_rm_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/healthcare/v1/appointments/A-1/cancel"))
        .respond_with(
            ResponseTemplate::new(404).set_body_json(json!({"message": "no such appointment"})),
        )
        .mount(&server)
        .await;
    let client = RmClient::new(url(&server, "/"), RmAuth::Bearer(SecretString::from("t")));
    let flow = Flow::builder("cancel")
        .target(ActionTarget::new(client, Action::Cancel))
        .delivery(once())
        .build()
        .unwrap();
    let report = flow
        .process(
            &harness().ctx,
            vec![record(json!({"appointment_id": "A-1"}))],
        )
        .await;
    let (failure, _, _) = failed(only_outcome(&report));
    assert!(failure.cause::<RmError>().is_some(), "{failure:?}");
    assert_eq!(failure.status, Some(404));
}

#[tokio::test]
async fn a_refused_connection_keeps_its_transport_cause() {
    // A port that was just free: nothing listens there.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let target = HttpTarget::new(format!("http://127.0.0.1:{port}/hook").parse().unwrap());
    let flow = Flow::builder("hook")
        .target(target)
        .delivery(once())
        .build()
        .unwrap();
    let report = flow.process(&harness().ctx, vec![record(json!({}))]).await;
    let (failure, retryable, _) = failed(only_outcome(&report));
    assert!(retryable);
    match failure.cause::<HttpError>() {
        Some(HttpError::Connect { reason, .. }) => assert_eq!(*reason, ConnectFailure::Refused),
        other => panic!("expected a refused connection, got {other:?}"),
    }
    // The report read back from JSON has the fields, not the typed error.
    let stored: hubflow::Failure =
        serde_json::from_value(serde_json::to_value(failure).unwrap()).unwrap();
    assert_eq!(&stored, failure);
    assert!(stored.error().is_none());
}
