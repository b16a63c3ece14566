//! The shared send path against local stand-ins: a rejection of the credentials makes
//! exactly one refresh and one resend, a second rejection is final without a third
//! request, static tokens are never resent, concurrent rejections share one refresh, and
//! base URLs are checked with typed, located errors.

#![cfg(all(feature = "whatsapp", feature = "timelines", feature = "rm"))]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use common::{fixture, harness, mount_catch_all, url};
use hubflow::auth::{AuthError, BaseUrl, BaseUrlError, Credentials, ReloadingToken};
use hubflow::http::{HttpRequest, Method};
use hubflow::rdconversas::RdConversasTarget;
use hubflow::rm::{JwtAuth, RmAuth, RmClient, RmError};
use hubflow::spec::{BuildContext, Connections, MapSecrets, Registry};
use hubflow::timelines::{TimelinesConnection, TimelinesTarget};
use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget};
use hubflow::{DeliveryError, ErrorClass, Record, Target};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PHONE_ID: &str = "106540352242922";
const MESSAGES: &str = "/v23.0/106540352242922/messages";

/// A host's token store: hands out its tokens in turn (the last one stays), counting loads.
#[derive(Clone)]
struct Rotation {
    tokens: Arc<Mutex<Vec<&'static str>>>,
    loads: Arc<AtomicUsize>,
}

impl Rotation {
    fn new(tokens: &[&'static str]) -> Self {
        let mut tokens = tokens.to_vec();
        tokens.reverse();
        Rotation {
            tokens: Arc::new(Mutex::new(tokens)),
            loads: Arc::default(),
        }
    }

    fn credentials(&self) -> Arc<dyn Credentials> {
        let rotation = self.clone();
        Arc::new(ReloadingToken::from_fn(move || {
            rotation.loads.fetch_add(1, Ordering::SeqCst);
            let mut tokens = rotation.tokens.lock().unwrap();
            let token = if tokens.len() > 1 {
                tokens.pop()
            } else {
                tokens.last().copied()
            };
            token
                .map(SecretString::from)
                .ok_or_else(|| AuthError::Unavailable("no token yet".into()))
        }))
    }

    fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }
}

async fn graph_answer(server: &MockServer, token: &str, status: u16, body: Value, times: u64) {
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(times)
        .mount(server)
        .await;
}

fn whatsapp(server: &MockServer, credentials: Arc<dyn Credentials>) -> WhatsAppTarget {
    let connection =
        WhatsAppConnection::with_credentials(PHONE_ID, credentials).base_url(url(server, "/"));
    WhatsAppTarget::new(MessageKind::Template, connection)
}

async fn deliver<T: Target>(target: &T, payload: Value) -> Result<hubflow::Receipt, DeliveryError> {
    let h = harness();
    let record = Record::new("k:1", "test", json!({}));
    let action = target.prepare(&record, &payload).expect("prepares");
    target.deliver(&h.ctx, &record, &action).await
}

fn template() -> Value {
    json!({"to": "5511999991234", "template": "wo_assignment", "language": "pt_BR"})
}

#[tokio::test]
async fn a_rotated_whatsapp_token_is_reloaded_after_graph_190_and_the_message_is_sent_once() {
    let server = MockServer::start().await;
    graph_answer(
        &server,
        "EAA-old",
        401,
        fixture("whatsapp_api/error_190.json"),
        1,
    )
    .await;
    graph_answer(
        &server,
        "EAA-new",
        200,
        fixture("whatsapp_api/sent.json"),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let rotation = Rotation::new(&["EAA-old", "EAA-new"]);
    let target = whatsapp(&server, rotation.credentials());

    let receipt = deliver(&target, template()).await.expect("sent");
    assert!(receipt.id.as_deref().unwrap().starts_with("wamid."));
    assert_eq!(
        rotation.loads(),
        2,
        "loaded on first use and once after the 190"
    );

    // The new token is kept: the next message loads nothing.
    server.reset().await;
    graph_answer(
        &server,
        "EAA-new",
        200,
        fixture("whatsapp_api/sent.json"),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    deliver(&target, template()).await.expect("sent");
    assert_eq!(rotation.loads(), 2);
    server.verify().await;
}

#[tokio::test]
async fn a_190_in_a_400_counts_as_a_rejection_and_a_second_one_is_permanent() {
    let server = MockServer::start().await;
    graph_answer(
        &server,
        "EAA-old",
        400,
        fixture("whatsapp_api/error_190.json"),
        1,
    )
    .await;
    graph_answer(
        &server,
        "EAA-new",
        401,
        fixture("whatsapp_api/error_190.json"),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let rotation = Rotation::new(&["EAA-old", "EAA-new"]);
    let error = deliver(&whatsapp(&server, rotation.credentials()), template())
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert_eq!(error.code(), Some("190"));
    assert_eq!(common::received(&server).await, 2, "no third request");
    server.verify().await;
}

#[tokio::test]
async fn a_source_that_still_has_the_rejected_token_is_not_resent() {
    let server = MockServer::start().await;
    graph_answer(
        &server,
        "EAA-old",
        401,
        fixture("whatsapp_api/error_190.json"),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let rotation = Rotation::new(&["EAA-old"]);
    let error = deliver(&whatsapp(&server, rotation.credentials()), template())
        .await
        .unwrap_err();
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert_eq!(rotation.loads(), 2, "reloaded once, found nothing new");
    server.verify().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rejections_share_one_reload() {
    let rotation = Rotation::new(&["EAA-old", "EAA-new", "EAA-newer"]);
    let credentials = rotation.credentials();
    let h = harness();
    let rejected = credentials.authorization(&h.ctx).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (credentials, ctx, rejected) =
                (credentials.clone(), h.ctx.clone(), rejected.clone());
            tokio::spawn(async move { credentials.refresh(&ctx, &rejected).await })
        })
        .collect();
    let mut generations = Vec::new();
    for task in tasks {
        let fresh = task.await.unwrap().unwrap().expect("a new token");
        assert_eq!(fresh.value().expose_secret(), "Bearer EAA-new");
        generations.push(fresh.generation());
    }
    assert!(generations
        .iter()
        .all(|g| *g == generations[0] && *g != rejected.generation()));
    assert_eq!(rotation.loads(), 2, "one load, one reload for all eight");
}

#[tokio::test]
async fn a_static_whatsapp_token_is_not_resent() {
    let server = MockServer::start().await;
    graph_answer(
        &server,
        "EAA-static",
        401,
        fixture("whatsapp_api/error_190.json"),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let target = WhatsAppTarget::new(
        MessageKind::Template,
        WhatsAppConnection::new(PHONE_ID, SecretString::from("EAA-static"))
            .base_url(url(&server, "/")),
    );
    let error = deliver(&target, template()).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Permanent);
    server.verify().await;
}

#[tokio::test]
async fn media_urls_follow_a_rotated_token_too() {
    let server = MockServer::start().await;
    for (token, status, body) in [
        ("EAA-old", 401, fixture("whatsapp_api/error_190.json")),
        (
            "EAA-new",
            200,
            json!({"url": "https://lookaside.example/m", "sha256": "ab", "id": "77"}),
        ),
    ] {
        Mock::given(method("GET"))
            .and(path("/v23.0/77"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            .respond_with(ResponseTemplate::new(status).set_body_json(body))
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;
    let rotation = Rotation::new(&["EAA-old", "EAA-new"]);
    let connection = WhatsAppConnection::with_credentials(PHONE_ID, rotation.credentials())
        .base_url(url(&server, "/"));
    let h = harness();
    let info = hubflow::whatsapp::media::resolve(&h.ctx, &connection, "77")
        .await
        .expect("resolved with the reloaded token");
    assert_eq!(info.id, "77");
    server.verify().await;
}

// --- TimelinesAI and RD Conversas: static tokens, and a host's reloading token ----------

fn timelines(server: &MockServer, credentials: Arc<dyn Credentials>) -> TimelinesTarget {
    TimelinesTarget::new(
        TimelinesConnection::with_credentials(credentials).base_url(url(server, "/api")),
    )
    .requests_per_minute(0)
}

async fn timelines_answer(server: &MockServer, token: &str, status: u16, times: u64) {
    let body = if status == 200 {
        json!({"status": "ok", "data": {"message_uid": "m-1"}})
    } else {
        json!({"status": "error", "message": "Invalid token"})
    };
    Mock::given(method("POST"))
        .and(path("/api/messages"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(status).set_body_json(body))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn timelines_resends_once_with_a_reloaded_token_and_never_with_a_static_one() {
    let payload = json!({"phone": "+5511999991234", "text": "hi"});
    let server = MockServer::start().await;
    timelines_answer(&server, "tl-old", 401, 1).await;
    timelines_answer(&server, "tl-new", 200, 1).await;
    mount_catch_all(&server).await;
    let rotation = Rotation::new(&["tl-old", "tl-new"]);
    let receipt = deliver(&timelines(&server, rotation.credentials()), payload.clone())
        .await
        .expect("sent");
    assert_eq!(receipt.id.as_deref(), Some("m-1"));
    server.verify().await;

    let server = MockServer::start().await;
    timelines_answer(&server, "tl-static", 401, 1).await;
    mount_catch_all(&server).await;
    let target = TimelinesTarget::new(
        TimelinesConnection::new(SecretString::from("tl-static")).base_url(url(&server, "/api")),
    );
    let error = deliver(&target, payload).await.unwrap_err();
    assert_eq!(
        (error.status(), error.class()),
        (Some(401), ErrorClass::Permanent)
    );
    server.verify().await;
}

async fn rd_answer(server: &MockServer, token: &str, status: u16, times: u64) {
    Mock::given(method("POST"))
        .and(path("/v3/messages/template/send"))
        .and(header("authorization", format!("Bearer {token}").as_str()))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({"data": {"id": "rd-1"}})))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn rd_conversas_resends_once_with_a_reloaded_token_and_never_with_a_static_one() {
    let payload = json!({"to": "+5511999998888", "variables": ["Ana"]});
    let server = MockServer::start().await;
    rd_answer(&server, "rd-old", 401, 1).await;
    rd_answer(&server, "rd-new", 401, 1).await;
    mount_catch_all(&server).await;
    let rotation = Rotation::new(&["rd-old", "rd-new"]);
    let target = RdConversasTarget::with_credentials(rotation.credentials())
        .base_url(url(&server, "/"))
        .template_message_id("tpl");
    let error = deliver(&target, payload.clone()).await.unwrap_err();
    assert_eq!(
        error.class(),
        ErrorClass::Permanent,
        "a second 401 is final"
    );
    assert_eq!(common::received(&server).await, 2, "no third request");
    server.verify().await;

    let server = MockServer::start().await;
    rd_answer(&server, "rd-static", 401, 1).await;
    mount_catch_all(&server).await;
    let target = RdConversasTarget::new(SecretString::from("rd-static"))
        .base_url(url(&server, "/"))
        .template_message_id("tpl");
    let error = deliver(&target, payload).await.unwrap_err();
    assert_eq!(
        (error.status(), error.class()),
        (Some(401), ErrorClass::Permanent)
    );
    server.verify().await;
}

// --- RM: many requests rejected at once share one JWT refresh -------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_rm_requests_rejected_at_once_share_one_jwt_refresh() {
    let server = MockServer::start().await;
    for (grant, token) in [("password", "jwt-a"), ("refresh_token", "jwt-b")] {
        Mock::given(method("POST"))
            .and(path("/api/connect/token/"))
            .and(body_partial_json(json!({"grant_type": grant})))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "access_token": token, "expires_in": 300,
                "refresh_token": format!("refresh-of-{token}"), "token_type": "Bearer"
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    for (token, status, times) in [("jwt-a", 401, 20), ("jwt-b", 200, 20)] {
        Mock::given(method("GET"))
            .and(path("/api/data"))
            .and(header("authorization", format!("Bearer {token}").as_str()))
            // The rejections come back late, so all twenty are in flight with `jwt-a`.
            .respond_with(
                ResponseTemplate::new(status)
                    .set_body_json(json!({"ok": true}))
                    .set_delay(std::time::Duration::from_millis(if status == 401 {
                        300
                    } else {
                        0
                    })),
            )
            .expect(times)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;
    let client = RmClient::new(
        url(&server, "/"),
        RmAuth::Jwt(JwtAuth::new("mestre", SecretString::from("pw"))),
    );
    let h = harness();
    let request = HttpRequest::new(Method::Get, client.url("/api/data").unwrap());
    let results =
        futures_util::future::join_all((0..20).map(|_| client.send_json(&h.ctx, &request))).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    server.verify().await;
}

// --- base URLs ---------------------------------------------------------------------------

#[test]
fn base_urls_are_checked_with_typed_errors() {
    assert_eq!(
        BaseUrl::parse("ftp://x.example/api").unwrap_err(),
        BaseUrlError::Scheme {
            scheme: "ftp".into()
        }
    );
    assert_eq!(
        BaseUrl::parse("https://u:p@x.example/").unwrap_err(),
        BaseUrlError::UserInfo
    );
    assert_eq!(
        BaseUrl::parse("https://x.example/?a=1").unwrap_err(),
        BaseUrlError::QueryOrFragment
    );
    assert!(matches!(
        BaseUrl::parse("not a url"),
        Err(BaseUrlError::NotAUrl { .. })
    ));
}

#[test]
fn spec_base_urls_are_refused_where_they_are_written() {
    let mut connections = Connections::new();
    connections.insert(
        "wa",
        json!({"phone_number_id": PHONE_ID, "access_token": {"secret": "T"},
               "base_url": "https://graph.example/?debug=1"}),
    );
    connections.insert(
        "tl",
        json!({"api_token": {"secret": "T"}, "base_url": "ftp://files.example/api"}),
    );
    let secrets = MapSecrets::new().with("T", "tok");
    let registry = Registry::default();
    let cx = BuildContext::new(&registry, &connections, &secrets);
    let errors = WhatsAppTarget::from_spec(MessageKind::Text, &cx, &json!({"connection": "wa"}))
        .unwrap_err();
    let error = errors.iter().next().unwrap();
    assert_eq!(error.path, "/connection");
    assert!(
        error.message.contains("\"wa\" at /base_url") && error.message.contains("no query"),
        "{error}"
    );
    let errors = TimelinesTarget::from_spec(&cx, &json!({"connection": "tl"})).unwrap_err();
    let error = errors.iter().next().unwrap();
    assert_eq!(error.path, "/connection");
    assert!(
        error.message.contains("\"tl\" at /base_url") && error.message.contains("`ftp`"),
        "{error}"
    );
}

#[tokio::test]
async fn a_client_with_an_unusable_base_url_sends_nothing_and_says_why() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let mut base = url(&server, "/");
    base.set_query(Some("tenant=1"));
    let target = WhatsAppTarget::new(
        MessageKind::Template,
        WhatsAppConnection::new(PHONE_ID, SecretString::from("t")).base_url(base.clone()),
    );
    let error = deliver(&target, template()).await.unwrap_err();
    assert!(matches!(error, DeliveryError::Prepare(_)), "{error:?}");
    assert!(error.to_string().contains("no query"), "{error}");
    assert_eq!(error.class(), ErrorClass::Permanent);

    let client = RmClient::new(base, RmAuth::Bearer(SecretString::from("t")));
    let error = client.url("/api/x").unwrap_err();
    assert!(
        matches!(&error, RmError::InvalidRequest(m) if m.contains("no query")),
        "{error:?}"
    );
    assert_eq!(common::received(&server).await, 0);
}
