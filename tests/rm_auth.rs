//! The RM client's authentication against a local ERP stand-in: JWT caching, refresh
//! ahead of expiry with the refresh token, 401 → refresh once, Basic and static tokens.

mod common;

use std::time::Duration;

use common::{fixture, harness, mount_catch_all, url};
use hubflow::http::{HttpRequest, Method};
use hubflow::rm::{JwtAuth, RmAuth, RmClient, RmError};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PASSWORD: &str = "pa55-w0rd-secret";

fn jwt_client(server: &MockServer) -> RmClient {
    RmClient::new(
        url(server, "/"),
        RmAuth::Jwt(JwtAuth::new("mestre", SecretString::from(PASSWORD))),
    )
}

fn get(client: &RmClient, p: &str) -> HttpRequest {
    HttpRequest::new(Method::Get, client.url(p).unwrap())
}

async fn mount_password_grant(server: &MockServer, token: &str, expect: u64) {
    Mock::given(method("POST"))
        .and(path("/api/connect/token/"))
        .and(body_partial_json(json!({"grant_type": "password"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": token, "expires_in": 300, "refresh_token": format!("refresh-of-{token}"), "token_type": "Bearer"}),
        ))
        .up_to_n_times(expect)
        .expect(expect)
        .with_priority(1)
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_jwt_is_cached_then_refreshed_with_the_refresh_token_before_it_expires() {
    let server = MockServer::start().await;
    let token = fixture("rm/token.json");
    Mock::given(method("POST"))
        .and(path("/api/connect/token/"))
        .and(body_partial_json(json!({"grant_type": "password"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(&token))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/connect/token/"))
        .and(body_partial_json(
            json!({"grant_type": "refresh_token", "refresh_token": "rm-refresh-1"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "rm-access-2", "expires_in": 300, "token_type": "Bearer"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/ping"))
        .and(header(
            "authorization",
            "Bearer eyJhbGciOiJIUzI1NiJ9.rm-access-1",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": 1})))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/ping"))
        .and(header("authorization", "Bearer rm-access-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": 2})))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = jwt_client(&server);
    let request = get(&client, "/api/ping");
    assert_eq!(
        client.send_json(&h.ctx, &request).await.unwrap().1,
        json!({"ok": 1})
    );
    h.clock.advance(Duration::from_secs(200));
    assert_eq!(
        client.send_json(&h.ctx, &request).await.unwrap().1,
        json!({"ok": 1})
    );
    // 245 s after issue: inside the 60 s before expiry, so refreshed first.
    h.clock.advance(Duration::from_secs(45));
    assert_eq!(
        client.send_json(&h.ctx, &request).await.unwrap().1,
        json!({"ok": 2})
    );
    server.verify().await;
}

#[tokio::test]
async fn a_401_refreshes_once_and_repeats_and_a_second_401_is_final() {
    let server = MockServer::start().await;
    mount_password_grant(&server, "tok-a", 1).await;
    // The refresh token of tok-a is refused: the client logs in again with the password.
    Mock::given(method("POST"))
        .and(path("/api/connect/token/"))
        .and(body_partial_json(json!({"grant_type": "refresh_token"})))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": "invalid_grant"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/connect/token/"))
        .and(body_partial_json(json!({"grant_type": "password"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "tok-b", "expires_in": 300, "token_type": "Bearer"}),
        ))
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/data"))
        .and(header("authorization", "Bearer tok-a"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "token revoked"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/data"))
        .and(header("authorization", "Bearer tok-b"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"items": []})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/denied"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({"message": "no access"})))
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = jwt_client(&server);
    let (status, body) = client
        .send_json(&h.ctx, &get(&client, "/api/data"))
        .await
        .unwrap();
    assert_eq!((status, body), (200, json!({"items": []})));
    let error = client
        .send_json(&h.ctx, &get(&client, "/api/denied"))
        .await
        .unwrap_err();
    assert!(matches!(error, RmError::Unauthorized { .. }), "{error:?}");
    assert!(!error.class().is_retryable());
    server.verify().await;
}

#[tokio::test]
async fn concurrent_requests_share_one_token_fetch() {
    let server = MockServer::start().await;
    mount_password_grant(&server, "tok-shared", 1).await;
    Mock::given(method("GET"))
        .and(path("/api/x"))
        .and(header("authorization", "Bearer tok-shared"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({})))
        .expect(5)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let h = harness();
    let client = jwt_client(&server);
    let request = get(&client, "/api/x");
    let calls = (0..5).map(|_| client.send_json(&h.ctx, &request));
    for result in futures_util::future::join_all(calls).await {
        result.unwrap();
    }
    server.verify().await;
}

#[tokio::test]
async fn basic_and_static_tokens_are_sent_and_a_401_with_them_is_final() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/basic"))
        // base64("mestre:pa55-w0rd-secret")
        .and(header(
            "authorization",
            "Basic bWVzdHJlOnBhNTUtdzByZC1zZWNyZXQ=",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/bearer"))
        .and(header("authorization", "Bearer static-t0ken"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let h = harness();
    let basic = RmClient::new(
        url(&server, "/"),
        RmAuth::Basic {
            username: "mestre".into(),
            password: SecretString::from(PASSWORD),
        },
    );
    basic
        .send_json(&h.ctx, &get(&basic, "/basic"))
        .await
        .unwrap();
    let bearer = RmClient::new(
        url(&server, "/"),
        RmAuth::Bearer(SecretString::from("static-t0ken")),
    );
    let error = bearer
        .send_json(&h.ctx, &get(&bearer, "/bearer"))
        .await
        .unwrap_err();
    assert!(matches!(error, RmError::Unauthorized { .. }), "{error:?}");
    for shown in [
        format!("{basic:?}"),
        format!("{bearer:?}"),
        error.to_string(),
    ] {
        assert!(
            !shown.contains(PASSWORD) && !shown.contains("static-t0ken"),
            "{shown}"
        );
    }
    server.verify().await;
}

#[tokio::test]
async fn a_refused_login_names_the_reason_but_never_the_password() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/connect/token/"))
        .respond_with(ResponseTemplate::new(400).set_body_json(
            json!({"error": "invalid_grant", "error_description": "Usuário ou senha inválidos", "echo": PASSWORD}),
        ))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/connect/token/"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"token": "x"})))
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let h = harness();
    let client = jwt_client(&server);
    let error = client
        .send_json(&h.ctx, &get(&client, "/api/x"))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, RmError::TokenRejected { status: 400, .. }));
    assert!(text.contains("Usuário ou senha inválidos"), "{text}");
    assert!(!text.contains(PASSWORD), "{text}");
    // A success answer without `access_token` is unreadable, and its body is not quoted.
    let error = client
        .send_json(&h.ctx, &get(&client, "/api/x"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, RmError::TokenUnreadable { message, .. } if message.contains("access_token")),
        "{error:?}"
    );
    server.verify().await;
}
