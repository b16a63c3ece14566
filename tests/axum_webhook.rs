//! The axum glue: a webhook source served at a path answers at once and hands its records
//! to the host's handler afterwards; refused requests hand over nothing. Over real HTTP on
//! 127.0.0.1.
#![cfg(all(feature = "axum", feature = "whatsapp", feature = "reqwest"))]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hubflow::axum::WebhookRoute;
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
use hubflow::Record;
use secrecy::SecretString;
use serde_json::json;
use tokio::sync::{mpsc, Notify};

const SECRET: &str = "app-secret-axum";

/// The route, and the handler's side: the handler waits for `release` before it hands the
/// records on, as a slow flow run would.
struct Served {
    url: String,
    received: mpsc::UnboundedReceiver<Vec<Record>>,
    release: Arc<Notify>,
}

async fn serve(max_body: usize) -> Served {
    let (sent, received) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let webhook = WhatsAppWebhook::new(SecretString::from("verify-me"), SecretString::from(SECRET));
    let router: axum::Router = WebhookRoute::new(webhook)
        .max_body(max_body)
        .on_records(move |records: Vec<Record>| {
            let (sent, gate) = (sent.clone(), gate.clone());
            async move {
                gate.notified().await;
                let _ = sent.send(records);
            }
        })
        .router("/webhooks/whatsapp");
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    Served {
        url: format!("http://{address}/webhooks/whatsapp"),
        received,
        release,
    }
}

fn body() -> String {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{
        "field": "messages", "value": {"messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "1", "phone_number_id": "1065"},
        "messages": [{"from": "5511999991234", "id": "wamid.axum.1", "timestamp": "1772438400",
                      "type": "text", "text": {"body": "oi"}}]}}]}]})
    .to_string()
}

#[tokio::test]
async fn a_signed_delivery_is_answered_first_and_its_records_handed_over_after() {
    let mut served = serve(1 << 20).await;
    let body = body();
    let signature = sign(&SecretString::from(SECRET), body.as_bytes());
    let request = reqwest::Client::new()
        .post(&served.url)
        .header("X-Hub-Signature-256", signature)
        .header("Content-Type", "application/json")
        .body(body)
        .send();
    // The handler is still waiting: an answer that waited for it would never come.
    let answer = tokio::time::timeout(Duration::from_secs(10), request)
        .await
        .expect("the answer waited for the handler")
        .unwrap();
    assert_eq!(answer.status(), 200);
    served.release.notify_one();
    let records = tokio::time::timeout(Duration::from_secs(10), served.received.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].key, "wamid.axum.1");
}

#[tokio::test]
async fn refused_requests_hand_over_nothing() {
    let mut served = serve(512).await;
    let url = served.url.clone();
    let client = reqwest::Client::new();
    let forged = client
        .post(&url)
        .header("X-Hub-Signature-256", format!("sha256={}", "0".repeat(64)))
        .body(body())
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), 401);
    let oversized = client
        .post(&url)
        .body("x".repeat(600))
        .send()
        .await
        .unwrap();
    assert_eq!(oversized.status(), 413);
    let handshake = client
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(handshake.status(), 200);
    assert_eq!(handshake.text().await.unwrap(), "1158201444");
    let wrong = client
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 403);
    // Had any request reached the handler, releasing it would hand its records over now.
    served.release.notify_one();
    let nothing = tokio::time::timeout(Duration::from_millis(500), served.received.recv()).await;
    assert!(nothing.is_err(), "records were handed over: {nothing:?}");
}

/// A body over the limit is a 413; one that breaks off mid-stream is a 400, not mistaken
/// for a large one.
#[tokio::test]
async fn a_body_over_the_limit_and_a_broken_body_are_told_apart() {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::response::IntoResponse;
    use hubflow::axum::{inbound, Rejection};

    let post = |body: Body| {
        Request::builder()
            .method("POST")
            .uri("/hooks/wa")
            .body(body)
            .unwrap()
    };
    let large = inbound(post(Body::from(vec![b'x'; 2048])), 1024)
        .await
        .unwrap_err();
    assert_eq!(large, Rejection::BodyTooLarge { limit: 1024 });
    assert_eq!(large.into_response().status(), 413);

    let chunks: Vec<Result<&'static [u8], std::io::Error>> = vec![
        Ok(b"{\"object\":"),
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "peer went away",
        )),
    ];
    let broken = inbound(
        post(Body::from_stream(futures_util::stream::iter(chunks))),
        1024,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&broken, Rejection::BodyUnreadable { message } if message.contains("peer went away")),
        "{broken:?}"
    );
    assert_eq!(broken.into_response().status(), 400);

    let whole = inbound(post(Body::from("{}")), 1024).await.unwrap();
    assert_eq!(&whole.body[..], b"{}");
}
