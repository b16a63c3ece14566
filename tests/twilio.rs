//! Twilio as a WhatsApp provider, against a local stand-in of Twilio's Messages API with
//! its documented request and answer shapes; and its signed webhooks.

#![cfg(all(feature = "twilio", feature = "reqwest"))]

mod common;

use base64::Engine;
use common::{delivered, failed, harness, mount_catch_all, only_outcome, url, Harness};
use hubflow::http::Method;
use hubflow::twilio::{sign, TwilioConnection, TwilioTarget, TwilioWebhook};
use hubflow::{
    DeliveryPolicy, FieldMap, Flow, InboundRequest, Record, RetryPolicy, Unreadable, WebhookSource,
    KIND_UNREADABLE,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{body_string_contains, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ACCOUNT: &str = "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const TOKEN: &str = "twilio-auth-token-do-not-log";
const MESSAGES: &str = "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages.json";
const CONTENT: &str = "HXb5b62575e6e4ff6129ad7c8efe1f983e";

/// Twilio's documented 201 answer (the OpenAPI `create` example), for WhatsApp addresses.
fn created(sid: &str) -> Value {
    json!({
        "account_sid": ACCOUNT, "api_version": "2010-04-01", "body": "Hello!",
        "date_created": "Thu, 24 Aug 2023 05:01:45 +0000", "date_sent": "Thu, 24 Aug 2023 05:01:45 +0000",
        "date_updated": "Thu, 24 Aug 2023 05:01:45 +0000", "direction": "outbound-api",
        "error_code": null, "error_message": null, "from": "whatsapp:+15557771234",
        "num_media": "0", "num_segments": "1", "price": null, "price_unit": null,
        "messaging_service_sid": null, "sid": sid, "status": "queued",
        "subresource_uris": {"media": format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}/Media.json")},
        "to": "whatsapp:+5511999991234",
        "uri": format!("/2010-04-01/Accounts/{ACCOUNT}/Messages/{sid}.json")
    })
}

fn refusal(code: u32, status: u16, message: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "code": code, "message": message, "status": status,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}")}))
}

fn connection(server: &MockServer) -> TwilioConnection {
    TwilioConnection::new(ACCOUNT, SecretString::from(TOKEN))
        .from("+15557771234")
        .base_url(url(server, "/"))
}

fn flow(target: TwilioTarget, attempts: u32) -> Flow {
    Flow::builder("wo-twilio")
        .map(
            FieldMap::new(json!({
                "to": "{{ phone }}", "content_sid": CONTENT,
                "variables": ["{{ responsible }}", "{{ wo_folio }}"]
            }))
            .unwrap(),
        )
        .target(target)
        .delivery(DeliveryPolicy::default().retry(RetryPolicy::default().max_attempts(attempts)))
        .build()
        .unwrap()
}

fn work_order(key: &str) -> Record {
    Record::new(
        key,
        "fracttal.work_order_assignment",
        json!({"phone": "(11) 99999-1234", "responsible": "Jonas Campos", "wo_folio": "OT-1021"}),
    )
}

fn basic(user: &str, password: &str) -> String {
    let pair = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

#[tokio::test]
async fn a_content_template_is_sent_form_encoded_with_basic_auth() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", basic(ACCOUNT, TOKEN).as_str()))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(body_string_contains("To=whatsapp%3A%2B5511999991234"))
        .and(body_string_contains("From=whatsapp%3A%2B15557771234"))
        .and(body_string_contains(
            format!("ContentSid={CONTENT}").as_str(),
        ))
        .and(body_string_contains(
            "ContentVariables=%7B%221%22%3A%22Jonas+Campos%22%2C%222%22%3A%22OT-1021%22%7D",
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(created("SM0000000000000000000000000000abcd")),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let report = flow(TwilioTarget::new(connection(&server)), 1)
        .process(&ctx, vec![work_order("wo:1")])
        .await;
    let (receipt, _) = delivered(only_outcome(&report));
    assert_eq!(
        receipt.id.as_deref(),
        Some("SM0000000000000000000000000000abcd")
    );
    assert_eq!(receipt.details["status"], "queued");
    assert!(!serde_json::to_string(&report).unwrap().contains(TOKEN));
    server.verify().await;
}

#[tokio::test]
async fn an_api_key_authorizes_instead_of_the_auth_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header(
            "authorization",
            basic("SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "key-secret").as_str(),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("SM1")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let connection = TwilioConnection::with_api_key(
        ACCOUNT,
        "SKbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        SecretString::from("key-secret"),
    )
    .messaging_service("MGcccccccccccccccccccccccccccccccc")
    .base_url(url(&server, "/"));
    let report = flow(TwilioTarget::new(connection), 1)
        .process(&ctx, vec![work_order("wo:1")])
        .await;
    delivered(only_outcome(&report));
    server.verify().await;
}

#[tokio::test]
async fn twilios_error_codes_decide_what_is_retried() {
    let server = MockServer::start().await;
    // A rate limit, then success: retried.
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_string_contains("OT-1"))
        .respond_with(refusal(20429, 429, "Too Many Requests"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_string_contains("OT-1"))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("SM2")))
        .expect(1)
        .mount(&server)
        .await;
    // An unsubscribed user: permanent, one attempt.
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_string_contains("OT-2"))
        .respond_with(refusal(
            21610,
            400,
            "Attempt to send to unsubscribed recipient",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let target = TwilioTarget::new(connection(&server));
    let mut first = work_order("wo:1");
    first.data["wo_folio"] = json!("OT-1");
    let mut second = work_order("wo:2");
    second.data["wo_folio"] = json!("OT-2");
    let report = flow(target, 3).process(&ctx, vec![first, second]).await;
    let (_, attempts) = delivered(&report.records[0].outcome);
    assert_eq!(attempts, 2);
    let (failure, retryable, attempts) = failed(&report.records[1].outcome);
    assert!(!retryable);
    assert_eq!(attempts, 1);
    assert_eq!(failure.code.as_deref(), Some("21610"));
    assert!(
        failure.message.contains("unsubscribed"),
        "{}",
        failure.message
    );
    server.verify().await;
}

#[tokio::test]
async fn a_free_form_message_outside_the_window_fails_with_twilios_reason() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_string_contains("Body=On+my+way"))
        .respond_with(refusal(
            63016,
            400,
            "Failed to send freeform message because you are outside the allowed window.",
        ))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let flow = Flow::builder("chat")
        .map(FieldMap::new(json!({"to": "{{ phone }}", "body": "On my way"})).unwrap())
        .target(TwilioTarget::new(connection(&server)))
        .build()
        .unwrap();
    let report = flow.process(&ctx, vec![work_order("c1")]).await;
    let (failure, retryable, _) = failed(only_outcome(&report));
    assert!(!retryable);
    assert!(
        failure.message.contains("24-hour window"),
        "{}",
        failure.message
    );
    server.verify().await;
}

#[tokio::test]
async fn a_flow_spec_sends_through_a_named_twilio_connection() {
    use hubflow::spec::{Connections, MapSecrets, Registry};
    use hubflow::FlowSpec;

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_string_contains(
            "StatusCallback=https%3A%2F%2Ferp.example.com%2Fhooks%2Ftwilio",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("SM3")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let spec = FlowSpec::from_json(&format!(
        r#"{{"id": "wo-twilio", "map": {{"to": "{{{{ phone }}}}", "content_sid": "{CONTENT}", "variables": ["{{{{ responsible }}}}"]}},
            "target": {{"twilio.whatsapp": {{"connection": "twilio"}}}}}}"#
    ))
    .unwrap();
    let mut connections = Connections::new();
    connections.insert(
        "twilio",
        json!({"account_sid": ACCOUNT, "auth_token": {"secret": "TWILIO_AUTH_TOKEN"}, "from": "+15557771234",
               "status_callback": "https://erp.example.com/hooks/twilio", "base_url": url(&server, "/").as_str()}),
    );
    let secrets = MapSecrets::new().with("TWILIO_AUTH_TOKEN", TOKEN);
    let built = spec
        .build(&Registry::default(), &connections, &secrets)
        .unwrap();
    let Harness { ctx, .. } = harness();
    delivered(only_outcome(
        &built.process(&ctx, vec![work_order("wo:1")]).await,
    ));
    server.verify().await;

    // Neither sender, or both credentials: refused when the flow is built, at the connection.
    let mut wrong = Connections::new();
    wrong.insert(
        "twilio",
        json!({"account_sid": ACCOUNT, "auth_token": {"secret": "TWILIO_AUTH_TOKEN"}}),
    );
    let errors = spec
        .build(&Registry::default(), &wrong, &secrets)
        .unwrap_err();
    let first = errors.iter().next().unwrap();
    assert_eq!(first.path, "/target/twilio.whatsapp/connection");
    assert!(first.message.contains("one sender"), "{first}");
}

// ---- the webhook ----

const ORIGIN: &str = "https://erp.example.com";
const HOOK: &str = "/hooks/twilio?tenant=7";

fn webhook() -> TwilioWebhook {
    TwilioWebhook::new(SecretString::from(TOKEN), ORIGIN.parse().unwrap())
}

fn form(params: &[(&str, &str)]) -> (String, Vec<(String, String)>) {
    let pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    (body, pairs)
}

fn signed(params: &[(&str, &str)]) -> InboundRequest {
    let (body, pairs) = form(params);
    let signature = sign(
        &SecretString::from(TOKEN),
        &format!("{ORIGIN}{HOOK}"),
        &pairs,
    );
    InboundRequest::new(Method::Post, HOOK, body)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("X-Twilio-Signature", signature)
}

/// A quick-reply tap as Twilio posts it for WhatsApp (placeholders for the numbers).
const TAP: &[(&str, &str)] = &[
    ("SmsMessageSid", "SM00000000000000000000000000000002"),
    ("NumMedia", "0"),
    ("ProfileName", "Jonas"),
    ("MessageType", "button"),
    ("SmsSid", "SM00000000000000000000000000000002"),
    ("WaId", "5511999991234"),
    ("SmsStatus", "received"),
    ("Body", "Aceitar"),
    ("ButtonText", "Aceitar"),
    ("To", "whatsapp:+15557771234"),
    ("ButtonPayload", "accept-wo-1021"),
    ("NumSegments", "1"),
    ("MessageSid", "SM00000000000000000000000000000002"),
    ("AccountSid", ACCOUNT),
    (
        "OriginalRepliedMessageSid",
        "MM00000000000000000000000000000001",
    ),
    ("From", "whatsapp:+5511999991234"),
    ("ApiVersion", "2010-04-01"),
];

#[test]
fn an_inbound_tap_becomes_a_message_record_with_its_reply_id() {
    let reply = webhook().handle(&signed(TAP));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "text/xml");
    assert!(reply.body.contains("<Response></Response>"));
    let record = &reply.records[0];
    assert_eq!(record.kind, "twilio.message");
    assert_eq!(record.key, "SM00000000000000000000000000000002");
    assert_eq!(record.get("from"), Some(&json!("5511999991234")));
    assert_eq!(record.get("reply_id"), Some(&json!("accept-wo-1021")));
    assert_eq!(
        record.get("context_id"),
        Some(&json!("MM00000000000000000000000000000001"))
    );
    assert_eq!(record.get("profile_name"), Some(&json!("Jonas")));
    assert_eq!(record.get("params.ApiVersion"), Some(&json!("2010-04-01")));
}

#[test]
fn a_status_callback_becomes_a_status_record_keyed_by_sid_and_status() {
    let params = [
        ("SmsSid", "SM0000000000000000000000000000abcd"),
        ("SmsStatus", "undelivered"),
        ("MessageStatus", "undelivered"),
        ("ChannelToAddress", "+5511999991234"),
        ("To", "whatsapp:+5511999991234"),
        ("ChannelPrefix", "whatsapp"),
        ("MessageSid", "SM0000000000000000000000000000abcd"),
        ("AccountSid", ACCOUNT),
        ("ErrorCode", "63016"),
        ("From", "whatsapp:+15557771234"),
        ("ApiVersion", "2010-04-01"),
    ];
    let reply = webhook().handle(&signed(&params));
    assert_eq!(reply.status, 200);
    let record = &reply.records[0];
    assert_eq!(record.kind, "twilio.status");
    assert_eq!(record.key, "SM0000000000000000000000000000abcd:undelivered");
    assert_eq!(record.get("error_code"), Some(&json!("63016")));
    assert_eq!(record.get("to"), Some(&json!("5511999991234")));
}

#[test]
fn only_a_missing_or_wrong_signature_is_refused_and_nothing_is_kept() {
    let (body, pairs) = form(TAP);
    let unsigned = InboundRequest::new(Method::Post, HOOK, body.clone())
        .header("Content-Type", "application/x-www-form-urlencoded");
    assert_eq!(webhook().handle(&unsigned).status, 401);
    // Signed for another URL (a proxy that rewrote the path), or with another token.
    for (token, target) in [(TOKEN, "/hooks/other"), ("guess", HOOK)] {
        let signature = sign(
            &SecretString::from(token),
            &format!("{ORIGIN}{target}"),
            &pairs,
        );
        let request = InboundRequest::new(Method::Post, HOOK, body.clone())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature);
        let reply = webhook().handle(&request);
        assert_eq!(reply.status, 401);
        assert!(reply.records.is_empty());
        assert!(!reply.body.contains(TOKEN));
    }
    // A body changed after signing.
    let mut tampered = signed(TAP);
    tampered.body = body.replace("Aceitar", "Recusar").into();
    assert_eq!(webhook().handle(&tampered).status, 401);
    let small = webhook().max_body(64);
    assert_eq!(small.handle(&signed(TAP)).status, 413);
    assert_eq!(
        webhook()
            .handle(&InboundRequest::new(Method::Get, HOOK, ""))
            .status,
        405
    );
    assert!(!format!("{:?}", webhook()).contains(TOKEN));
}

#[test]
fn a_signed_request_that_is_not_a_message_webhook_is_kept_and_answered_200() {
    let reply = webhook().handle(&signed(&[("AccountSid", ACCOUNT), ("Foo", "bar")]));
    assert_eq!(reply.status, 200);
    let kept = &reply.records[0];
    assert_eq!(kept.kind, KIND_UNREADABLE);
    let unreadable = Unreadable::from_record(kept).unwrap();
    assert_eq!(unreadable.source, "twilio");
    assert!(
        unreadable.error.contains("MessageSid"),
        "{}",
        unreadable.error
    );
    assert!(webhook().reread(kept).is_err());
    // A JSON body is signed over the URL alone and cannot be read as a message: kept.
    let signature = sign(&SecretString::from(TOKEN), &format!("{ORIGIN}{HOOK}"), &[]);
    let json_body = InboundRequest::new(Method::Post, HOOK, r#"{"MessageSid": "SM1"}"#)
        .header("Content-Type", "application/json")
        .header("X-Twilio-Signature", signature);
    let reply = webhook().handle(&json_body);
    assert_eq!(
        (reply.status, reply.records[0].kind.as_str()),
        (200, KIND_UNREADABLE)
    );
    // A kept body this version reads replays into its record.
    let (body, _) = form(TAP);
    let old = Unreadable::new("twilio", body.into_bytes(), "an older parser").to_record();
    let records = webhook().reread(&old).unwrap();
    assert_eq!(records[0].key, "SM00000000000000000000000000000002");
}

/// The shipped `wo-assigned-twilio.json`: the responsible's phone from its directory, the
/// Content template with the three variables in order, through the named connection.
#[tokio::test]
async fn the_shipped_twilio_assignment_flow_sends_the_content_template() {
    use hubflow::spec::{Connections, MapSecrets, Registry};
    use hubflow::FlowSpec;

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_string_contains("To=whatsapp%3A%2B5511999991234"))
        .and(body_string_contains(format!("ContentSid={CONTENT}").as_str()))
        .and(body_string_contains(
            "ContentVariables=%7B%221%22%3A%22Jonas+Campos%22%2C%222%22%3A%22OT-1021%22%2C%223%22%3A%22Replace+the+bearing%22%7D",
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(created("SM4")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let spec =
        FlowSpec::from_json(include_str!("../examples/flows/wo-assigned-twilio.json")).unwrap();
    let mut connections = Connections::new();
    connections.insert(
        "fracttal",
        json!({"client_id": {"secret": "K"}, "client_secret": {"secret": "S"},
               "base_url": url(&server, "/api/").as_str(), "token_url": url(&server, "/oauth/token").as_str()}),
    );
    connections.insert(
        "twilio",
        json!({"account_sid": ACCOUNT, "auth_token": {"secret": "T"}, "from": "+15557771234",
               "base_url": url(&server, "/").as_str()}),
    );
    let secrets = MapSecrets::new()
        .with("K", "k")
        .with("S", "s")
        .with("T", TOKEN);
    let flow = spec
        .build(&Registry::default(), &connections, &secrets)
        .unwrap();
    let assigned = |key: &str, who: &str| {
        Record::new(
            key,
            "fracttal.work_order_assignment",
            json!({"responsible": who, "wo_folio": "OT-1021", "task_todo_description": "Replace the bearing"}),
        )
    };
    let Harness { ctx, .. } = harness();
    let report = flow
        .process(
            &ctx,
            vec![
                assigned("a:1", "Jonas Campos"),
                assigned("a:2", "Rafael Costa"),
            ],
        )
        .await;
    assert_eq!(
        (report.counts.delivered, report.counts.skipped),
        (1, 1),
        "{report:?}"
    );
    server.verify().await;
}
