//! A loopback stand-in of Graph's `/messages` shared by the benches that send WhatsApp
//! messages: it answers every send at once, as Graph does, with `contacts` and `messages`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use serde_json::{json, Value};

/// A loopback stand-in of Graph's `/messages`, counting what it accepted.
pub async fn stand_in() -> (String, Arc<AtomicU64>) {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let app = Router::new().route(
        "/v23.0/{phone}/messages",
        post(move |body: Bytes| {
            let counter = counter.clone();
            async move {
                let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let answer = json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": format!("wamid.bench.{n}")}]
                });
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    answer.to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind the stand-in");
    let address = listener.local_addr().expect("the stand-in's address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/"), sent)
}

/// One send as a hand-written client makes it: the body serialized, posted with the bearer
/// token, the answer read and parsed to find the message id.
pub async fn bare_send(client: &reqwest::Client, url: &str, body: &Value) {
    let response = client
        .post(url)
        .bearer_auth("bench-token")
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(serde_json::to_vec(body).expect("the body"))
        .send()
        .await
        .expect("the stand-in answers");
    let bytes = response.bytes().await.expect("the answer's body");
    let answer: Value = serde_json::from_slice(&bytes).expect("a JSON answer");
    assert!(answer["messages"][0]["id"].is_string());
}
