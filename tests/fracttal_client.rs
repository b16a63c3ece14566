//! The Fracttal client over real HTTP against a local mock server: the OAuth token (request
//! shape, caching, refresh ahead of expiry, refresh on 401, single flight), error typing and
//! the rate limiter.

mod common;

use std::time::Duration;

use common::{fixture, harness, mount_catch_all, url};
use hubflow::fracttal::{FracttalClient, FracttalError, UNAUTHORIZED_ENDPOINT};
use hubflow::{Clock, DeliveryError, ErrorClass, SourceError};
use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_string, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "fr-key-42";
const SECRET: &str = "fr-secret-XYZ";
/// `base64("fr-key-42:fr-secret-XYZ")`, computed independently.
const BASIC: &str = "Basic ZnIta2V5LTQyOmZyLXNlY3JldC1YWVo=";

fn client(server: &MockServer) -> FracttalClient {
    FracttalClient::builder(SecretString::from(KEY), SecretString::from(SECRET))
        .base_url(url(server, "/api/"))
        .token_url(url(server, "/oauth/token"))
        .build()
}

fn token(access: &str, expires_in: u64) -> ResponseTemplate {
    let mut body = fixture("fracttal/token.json");
    body["access_token"] = json!(access);
    body["expires_in"] = json!(expires_in);
    ResponseTemplate::new(200).set_body_json(body)
}

/// The token endpoint, matched only with the documented request shape.
fn token_request() -> wiremock::MockBuilder {
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(header("authorization", BASIC))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string("grant_type=client_credentials"))
}

fn work_orders(bearer: &str) -> wiremock::MockBuilder {
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .and(header("authorization", format!("Bearer {bearer}").as_str()))
}

fn ok_page() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(fixture("fracttal/work_orders_page.json"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_fetched_with_basic_auth_and_a_form_and_shared_by_clones() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(token("tok-1", 7200))
        .expect(1)
        .mount(&server)
        .await;
    work_orders("tok-1")
        .and(header("accept", "application/json"))
        .respond_with(ok_page())
        .expect(3)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    let clone = client.clone();
    let first = client
        .get(&h.ctx, "work_orders/", &[("start", "0")])
        .await
        .unwrap();
    assert_eq!(first.rows().len(), 2);
    assert_eq!(first.total, Some(2));
    client.get(&h.ctx, "work_orders/", &[]).await.unwrap();
    clone.get(&h.ctx, "/work_orders/", &[]).await.unwrap();
    assert!(clone.shares_cache_with(&client));
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_refreshed_ahead_of_its_expiry() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(token("tok-1", 7200))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token_request()
        .respond_with(token("tok-2", 7200))
        .expect(1)
        .mount(&server)
        .await;
    work_orders("tok-1")
        .respond_with(ok_page())
        .expect(2)
        .mount(&server)
        .await;
    work_orders("tok-2")
        .respond_with(ok_page())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    client.get(&h.ctx, "work_orders/", &[]).await.unwrap();
    // 7200 s lifetime, refreshed 300 s ahead: still the first token at 6899 s…
    h.clock.advance(Duration::from_secs(6899));
    client.get(&h.ctx, "work_orders/", &[]).await.unwrap();
    // …a new one from 6900 s on, although the first has not expired yet.
    h.clock.advance(Duration::from_secs(1));
    client.get(&h.ctx, "work_orders/", &[]).await.unwrap();
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_without_expires_in_lives_7200_seconds() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"access_token": "tok-1"})))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token_request()
        .respond_with(token("tok-2", 60))
        .expect(1)
        .mount(&server)
        .await;
    work_orders("tok-1")
        .respond_with(ok_page())
        .expect(2)
        .mount(&server)
        .await;
    work_orders("tok-2")
        .respond_with(ok_page())
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    client.get(&h.ctx, "work_orders/", &[]).await.unwrap();
    h.clock.advance(Duration::from_secs(6800));
    client.get(&h.ctx, "work_orders/", &[]).await.unwrap();
    h.clock.advance(Duration::from_secs(100));
    client.get(&h.ctx, "work_orders/", &[]).await.unwrap();
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_refreshes_the_token_once_and_repeats_the_request() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(token("tok-1", 7200))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token_request()
        .respond_with(token("tok-2", 7200))
        .expect(1)
        .mount(&server)
        .await;
    work_orders("tok-1")
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("fracttal/token_expired.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    work_orders("tok-2")
        .respond_with(ok_page())
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    let envelope = client.get(&h.ctx, "work_orders/", &[]).await.unwrap();
    assert_eq!(envelope.rows().len(), 2);
    // The refreshed token is cached for the next request.
    client.get(&h.ctx, "work_orders/", &[]).await.unwrap();
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_401_after_the_refresh_is_permanent() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(token("tok-1", 7200))
        .expect(2)
        .mount(&server)
        .await;
    work_orders("tok-1")
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("fracttal/token_expired.json")),
        )
        .expect(2)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let error = client(&server)
        .get(&h.ctx, "work_orders/", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, FracttalError::Unauthorized { .. }),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Permanent);
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_endpoint_is_a_permission_problem_and_not_retried() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(token("tok-1", 7200))
        .expect(1)
        .mount(&server)
        .await;
    work_orders("tok-1")
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(fixture("fracttal/unauthorized_endpoint.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let error = client(&server)
        .get(&h.ctx, "work_orders/", &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, FracttalError::UnauthorizedEndpoint { .. }),
        "{error:?}"
    );
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert_eq!(error.code(), Some(UNAUTHORIZED_ENDPOINT));
    assert!(error.to_string().contains("Permissions"), "{error}");
    let delivery = DeliveryError::from(error);
    assert_eq!(delivery.status(), Some(401));
    assert_eq!(delivery.code(), Some("UNAUTHORIZED_ENDPOINT"));
    assert!(!delivery.class().is_retryable());
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_requests_fetch_one_token() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(token("tok-1", 7200).set_delay(Duration::from_millis(50)))
        .expect(1)
        .mount(&server)
        .await;
    work_orders("tok-1")
        .respond_with(ok_page())
        .expect(200)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    let calls = (0..200).map(|_| {
        // Each call through its own clone: they share the one cache.
        let client = client.clone();
        let ctx = h.ctx.clone();
        async move { client.get(&ctx, "work_orders/", &[]).await }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok));
    // The default limiter (200 per minute) spaced the 200 requests 300 ms apart.
    assert_eq!(h.clock.sleeps().len(), 199);
    assert_eq!(
        h.clock.now() - common::start_instant(),
        chrono::Duration::milliseconds(199 * 300)
    );
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_typed_with_the_wait_the_headers_give() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(token("tok-1", 7200))
        .expect(1)
        .mount(&server)
        .await;
    let cases = [
        (
            "v2",
            ResponseTemplate::new(406).insert_header("Request-Call-Limit-Reset", "17"),
            406,
            17,
        ),
        (
            "v3",
            ResponseTemplate::new(406).insert_header("ratelimit-reset", "23"),
            406,
            23,
        ),
        ("seen", ResponseTemplate::new(429), 429, 60),
    ];
    for (edition, response, _, _) in &cases {
        work_orders("tok-1")
            .and(query_param("edition", *edition))
            .respond_with(
                response
                    .clone()
                    .set_body_json(fixture("fracttal/rate_limited.json")),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    for (edition, _, status, seconds) in cases {
        let error = client
            .get(&h.ctx, "work_orders/", &[("edition", edition)])
            .await
            .unwrap_err();
        let wait = Duration::from_secs(seconds);
        assert_eq!(
            error,
            FracttalError::RateLimited {
                status,
                retry_after: wait
            }
        );
        assert_eq!(error.class(), ErrorClass::Retryable { after: Some(wait) });
    }
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_skew_server_errors_rejections_and_malformed_json_are_typed() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(token("tok-1", 7200))
        .expect(1)
        .mount(&server)
        .await;
    let answers = [
        (
            "skew",
            ResponseTemplate::new(407).set_body_string("timestamp out of range"),
        ),
        (
            "down",
            ResponseTemplate::new(503).insert_header("Retry-After", "12"),
        ),
        (
            "refused",
            ResponseTemplate::new(200).set_body_json(fixture("fracttal/rejected.json")),
        ),
        (
            "bad",
            ResponseTemplate::new(400).set_body_json(fixture("fracttal/rejected.json")),
        ),
        (
            "garbled",
            ResponseTemplate::new(200).set_body_string("{\"success\": true,\n \"data\": [}"),
        ),
    ];
    for (case, response) in &answers {
        work_orders("tok-1")
            .and(query_param("case", *case))
            .respond_with(response.clone())
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    let get = |case: &'static str| {
        let client = client.clone();
        let ctx = h.ctx.clone();
        async move {
            client
                .get(&ctx, "work_orders/", &[("case", case)])
                .await
                .unwrap_err()
        }
    };

    let skew = get("skew").await;
    assert!(matches!(skew, FracttalError::ClockSkew { .. }), "{skew:?}");
    assert!(skew.to_string().contains("clock differs"), "{skew}");
    assert_eq!(skew.class(), ErrorClass::Permanent);

    let down = get("down").await;
    assert_eq!(
        down.class(),
        ErrorClass::Retryable {
            after: Some(Duration::from_secs(12))
        }
    );

    let refused = get("refused").await;
    assert_eq!(
        refused,
        FracttalError::Rejected {
            status: 200,
            message: "success: false, message The item was associated before".into()
        }
    );
    let bad = get("bad").await;
    assert_eq!(bad.status(), Some(400));
    assert!(bad.to_string().contains("associated before"), "{bad}");
    assert_eq!(bad.class(), ErrorClass::Permanent);

    let garbled = get("garbled").await;
    match &garbled {
        FracttalError::MalformedJson {
            status,
            line,
            column,
            ..
        } => assert_eq!((*status, *line, *column), (200, 2, 11)),
        other => panic!("expected malformed JSON, got {other:?}"),
    }
    assert!(matches!(
        SourceError::from(garbled.clone()),
        SourceError::Response { .. }
    ));
    assert!(DeliveryError::from(garbled).provider_may_have_acted());
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_token_request_stops_before_the_api_and_leaks_nothing() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(ResponseTemplate::new(401).set_body_json(
            json!({"error": "invalid_client", "error_description": "Client authentication failed"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    let error = client.get(&h.ctx, "work_orders/", &[]).await.unwrap_err();
    assert!(
        matches!(error, FracttalError::TokenRejected { status: 401, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("invalid_client"), "{error}");
    assert_eq!(error.class(), ErrorClass::Permanent);
    for shown in [
        error.to_string(),
        format!("{error:?}"),
        format!("{client:?}"),
        format!("{:?}", DeliveryError::from(error.clone())),
    ] {
        for secret in [KEY, SECRET, "ZnIta2V5"] {
            assert!(!shown.contains(secret), "{secret} leaked: {shown}");
        }
    }
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posts_carry_json_and_the_bearer_and_requests_never_leave_the_base_url() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(token("tok-1", 7200))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/work_requests"))
        .and(header("authorization", "Bearer tok-1"))
        .and(header("content-type", "application/json"))
        .and(wiremock::matchers::body_json(
            json!({"description": "Leak"}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("fracttal/work_request_created.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    let created = client
        .post(&h.ctx, "work_requests", &json!({"description": "Leak"}))
        .await
        .unwrap();
    assert_eq!(created.data["id_code"], 5012);
    let elsewhere = client
        .get(&h.ctx, "https://example.com/steal", &[])
        .await
        .unwrap_err();
    assert!(matches!(elsewhere, FracttalError::InvalidRequest(_)));
    assert_eq!(h.clock.sleeps(), Vec::<Duration>::new());
    assert!(h.clock.now() >= common::start_instant());
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_refused_at_once_share_one_refresh() {
    let server = MockServer::start().await;
    token_request()
        .respond_with(token("tok-1", 7200))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    token_request()
        .respond_with(token("tok-2", 7200).set_delay(Duration::from_millis(50)))
        .expect(1)
        .mount(&server)
        .await;
    work_orders("tok-1")
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("fracttal/token_expired.json")),
        )
        .mount(&server)
        .await;
    work_orders("tok-2")
        .respond_with(ok_page())
        .expect(20)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    let client = client(&server);
    let calls = (0..20).map(|_| {
        let client = client.clone();
        let ctx = h.ctx.clone();
        async move { client.get(&ctx, "work_orders/", &[]).await }
    });
    let results = futures_util::future::join_all(calls).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    server.verify().await;
}
