//! The template lifecycle, marketing opt-outs and re-engagement, end to end: Meta's
//! webhooks through the signed webhook into the store, then flows against a local
//! stand-in of the Graph API that must not receive what Meta would refuse.

#![cfg(all(feature = "whatsapp", feature = "reqwest"))]

mod common;

use common::{delivered, failed, fixture, harness, mount_catch_all, only_outcome, url, Harness};
use hubflow::http::Method;
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
use hubflow::whatsapp::{
    last_inbound, marketing_choice, remember, template_state, MessageKind, OutsideWindow,
    WhatsAppConnection, WhatsAppTarget,
};
use hubflow::{
    Clock, Context, DeliveryPolicy, FieldMap, Flow, InboundRequest, Record, RetryPolicy, Stage,
    WebhookSource,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const WABA: &str = "102290129340398";
const PHONE_ID: &str = "106540352242922";
const MESSAGES: &str = "/v23.0/106540352242922/messages";
const APP_SECRET: &str = "lifecycle-app-secret";
const CUSTOMER: &str = "5511999991234";

fn connection(server: &MockServer) -> WhatsAppConnection {
    WhatsAppConnection::new(PHONE_ID, SecretString::from("EAAG-lifecycle"))
        .base_url(url(server, "/"))
        .business_account(WABA)
}

fn template_flow(server: &MockServer, template: &str, category: Option<&str>) -> Flow {
    let mut target = WhatsAppTarget::new(MessageKind::Template, connection(server));
    if let Some(category) = category {
        target = target.template_category(category);
    }
    Flow::builder(format!("flow-{template}"))
        .map(
            FieldMap::new(json!({
                "to": "{{ phone }}", "template": template, "language": "pt_BR",
                "body": ["{{ folio }}"]
            }))
            .unwrap(),
        )
        .target(target)
        .delivery(DeliveryPolicy::default().retry(RetryPolicy::default().max_attempts(1)))
        .build()
        .unwrap()
}

fn order(key: &str) -> Record {
    Record::new(key, "wo", json!({"phone": CUSTOMER, "folio": "OT-1021"}))
}

/// A signed webhook body with one change, as Meta sends it, handed to the webhook; its
/// records are remembered as a host does before processing them.
async fn webhook_says(ctx: &Context, field: &str, value: Value, time: i64) {
    let body = json!({"object": "whatsapp_business_account",
        "entry": [{"id": WABA, "time": time, "changes": [{"field": field, "value": value}]}]})
    .to_string();
    let secret = SecretString::from(APP_SECRET);
    let webhook = WhatsAppWebhook::new(SecretString::from("verify"), secret.clone());
    let request = InboundRequest::new(Method::Post, "/hooks/wa", body.clone())
        .header("X-Hub-Signature-256", sign(&secret, body.as_bytes()));
    let reply = webhook.handle(&request);
    assert_eq!(reply.status, 200);
    assert!(reply.records.iter().all(|r| r.kind != "hubflow.unreadable"));
    remember(ctx, &reply.records).await.unwrap();
}

fn template_status(name: &str, event: &str, category: &str) -> Value {
    json!({"event": event, "message_template_id": 1689556908129832_u64, "message_template_name": name,
           "message_template_language": "pt_BR", "reason": if event == "PAUSED" { "LOW_QUALITY" } else { "NONE" },
           "message_template_category": category})
}

fn marketing(value: &str, timestamp: i64) -> Value {
    json!({"messaging_product": "whatsapp",
           "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
           "user_preferences": [{"wa_id": CUSTOMER, "detail": "", "category": "marketing_messages",
                                 "value": value, "timestamp": timestamp}]})
}

async fn sends_ok(server: &MockServer, template: &str, times: u64) {
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_partial_json(json!({"template": {"name": template}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whatsapp_api/sent.json")))
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_paused_template_is_refused_before_sending_until_meta_approves_it_again() {
    let server = MockServer::start().await;
    sends_ok(&server, "wo_assignment", 1).await;
    mount_catch_all(&server).await;
    let Harness { ctx, clock, .. } = harness();
    let flow = template_flow(&server, "wo_assignment", None);
    let now = clock.now().timestamp();

    webhook_says(
        &ctx,
        "message_template_status_update",
        template_status("wo_assignment", "PAUSED", "UTILITY"),
        now - 60,
    )
    .await;
    let report = flow.process(&ctx, vec![order("wo:1")]).await;
    let (failure, retryable, _) = failed(only_outcome(&report));
    assert_eq!(failure.stage, Stage::Deliver);
    assert!(!retryable);
    assert!(
        failure
            .message
            .contains("`wo_assignment` (pt_BR) is PAUSED"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("LOW_QUALITY"),
        "{}",
        failure.message
    );

    webhook_says(
        &ctx,
        "message_template_status_update",
        template_status("wo_assignment", "APPROVED", "UTILITY"),
        now - 30,
    )
    .await;
    let report = flow.process(&ctx, vec![order("wo:2")]).await;
    delivered(only_outcome(&report));
    server.verify().await;
}

#[tokio::test]
async fn an_opted_out_user_gets_no_marketing_template_but_still_gets_utility_ones() {
    let server = MockServer::start().await;
    sends_ok(&server, "wo_assignment", 1).await;
    sends_ok(&server, "spring_offer", 1).await;
    mount_catch_all(&server).await;
    let Harness { ctx, clock, .. } = harness();
    let now = clock.now().timestamp();
    let offer = template_flow(&server, "spring_offer", Some("marketing"));
    let notice = template_flow(&server, "wo_assignment", Some("utility"));

    webhook_says(
        &ctx,
        "user_preferences",
        marketing("stop", now - 120),
        now - 120,
    )
    .await;
    let report = offer.process(&ctx, vec![order("offer:1")]).await;
    let (failure, retryable, _) = failed(only_outcome(&report));
    assert!(!retryable);
    assert!(
        failure
            .message
            .contains("opted out of marketing messages (stop"),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains("`spring_offer`"),
        "{}",
        failure.message
    );
    delivered(only_outcome(
        &notice.process(&ctx, vec![order("wo:1")]).await,
    ));

    webhook_says(
        &ctx,
        "user_preferences",
        marketing("resume", now - 60),
        now - 60,
    )
    .await;
    delivered(only_outcome(
        &offer.process(&ctx, vec![order("offer:2")]).await,
    ));
    server.verify().await;
}

#[tokio::test]
async fn meta_refusing_a_paused_template_or_an_opted_out_user_is_remembered() {
    let server = MockServer::start().await;
    for (template, error) in [
        ("wo_assignment", "error_132015.json"),
        ("spring_offer", "error_131050.json"),
    ] {
        Mock::given(method("POST"))
            .and(path(MESSAGES))
            .and(body_partial_json(json!({"template": {"name": template}})))
            .respond_with(
                ResponseTemplate::new(400).set_body_json(fixture(&format!("whatsapp_api/{error}"))),
            )
            .expect(1)
            .mount(&server)
            .await;
    }
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let paused = template_flow(&server, "wo_assignment", None);
    let offer = template_flow(&server, "spring_offer", Some("marketing"));

    let first = paused.process(&ctx, vec![order("wo:1")]).await;
    assert_eq!(
        failed(only_outcome(&first)).0.code.as_deref(),
        Some("132015")
    );
    let state = template_state(&ctx, WABA, "wo_assignment", "pt_BR")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.usable(), Some(false));
    let second = paused.process(&ctx, vec![order("wo:2")]).await;
    let (failure, _, _) = failed(only_outcome(&second));
    assert_eq!(failure.code, None, "refused here, not by Meta");
    assert!(failure.message.contains("is PAUSED"), "{}", failure.message);

    let first = offer.process(&ctx, vec![order("offer:1")]).await;
    assert_eq!(
        failed(only_outcome(&first)).0.code.as_deref(),
        Some("131050")
    );
    let choice = marketing_choice(&ctx, PHONE_ID, CUSTOMER)
        .await
        .unwrap()
        .unwrap();
    assert!(!choice.accepts);
    let second = offer.process(&ctx, vec![order("offer:2")]).await;
    assert!(failed(only_outcome(&second))
        .0
        .message
        .contains("opted out"));
    server.verify().await;
}

#[tokio::test]
async fn a_free_form_message_meta_finds_outside_the_window_goes_out_as_the_fallback_template() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_partial_json(json!({"type": "text"})))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(fixture("whatsapp_api/error_131047.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    sends_ok(&server, "follow_up", 1).await;
    mount_catch_all(&server).await;
    let Harness { ctx, clock, .. } = harness();
    // The store thinks the customer wrote an hour ago; Meta knows better.
    let wrote = clock.now() - chrono::Duration::hours(1);
    let inbound = Record::new(
        "wamid.in",
        "whatsapp.message",
        json!({"phone_number_id": PHONE_ID, "from": CUSTOMER}),
    )
    .occurred_at(wrote);
    remember(&ctx, &[inbound]).await.unwrap();
    let flow = Flow::builder("chat")
        .map(FieldMap::new(json!({"to": "{{ phone }}", "text": "On my way"})).unwrap())
        .target(
            WhatsAppTarget::new(MessageKind::Text, connection(&server)).outside_window(
                OutsideWindow::Template {
                    name: "follow_up".into(),
                    language: "pt_BR".into(),
                },
            ),
        )
        .build()
        .unwrap();
    let report = flow.process(&ctx, vec![order("c1")]).await;
    let (receipt, _) = delivered(only_outcome(&report));
    assert_eq!(receipt.details["sent_as_template"], "follow_up");
    assert_eq!(receipt.details["window_closed_by"], "131047");
    assert_eq!(
        last_inbound(&ctx, PHONE_ID, CUSTOMER).await.unwrap(),
        None,
        "the window is corrected"
    );
    server.verify().await;
}

#[tokio::test]
async fn without_a_fallback_meta_finding_the_window_closed_is_its_error_and_the_window_is_corrected(
) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(fixture("whatsapp_api/error_131047.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let Harness { ctx, clock, .. } = harness();
    let inbound = Record::new(
        "wamid.in",
        "whatsapp.message",
        json!({"phone_number_id": PHONE_ID, "from": CUSTOMER}),
    )
    .occurred_at(clock.now() - chrono::Duration::hours(1));
    remember(&ctx, &[inbound]).await.unwrap();
    let flow = Flow::builder("chat")
        .map(FieldMap::new(json!({"to": "{{ phone }}", "text": "On my way"})).unwrap())
        .target(WhatsAppTarget::new(MessageKind::Text, connection(&server)))
        .build()
        .unwrap();
    let first = flow.process(&ctx, vec![order("c1")]).await;
    assert_eq!(
        failed(only_outcome(&first)).0.code.as_deref(),
        Some("131047")
    );
    // The next one is refused before sending: the store now knows the window is closed.
    let second = flow.process(&ctx, vec![order("c2")]).await;
    assert!(failed(only_outcome(&second)).0.message.contains("24-hour"));
    server.verify().await;
}

#[tokio::test]
async fn a_flow_spec_names_the_business_account_and_the_template_category() {
    use hubflow::spec::{Connections, MapSecrets, Registry};
    use hubflow::FlowSpec;

    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let mut connections = Connections::new();
    connections.insert(
        "whatsapp",
        json!({"phone_number_id": PHONE_ID, "access_token": {"secret": "T"}, "waba_id": WABA,
               "base_url": url(&server, "/").as_str()}),
    );
    let secrets = MapSecrets::new().with("T", "EAAG-spec");
    let spec = |category: &str| {
        FlowSpec::from_json(&format!(
            r#"{{"id": "offers", "map": {{"to": "{{{{ phone }}}}", "template": "spring_offer", "language": "pt_BR"}},
                "target": {{"whatsapp.template": {{"connection": "whatsapp", "template_category": "{category}"}}}}}}"#
        ))
        .unwrap()
    };
    let flow = spec("marketing")
        .build(&Registry::default(), &connections, &secrets)
        .unwrap();
    let Harness { ctx, clock, .. } = harness();
    let now = clock.now().timestamp();
    webhook_says(
        &ctx,
        "user_preferences",
        marketing("stop", now - 10),
        now - 10,
    )
    .await;
    let report = flow.process(&ctx, vec![order("offer:1")]).await;
    assert!(failed(only_outcome(&report))
        .0
        .message
        .contains("opted out"));
    // The WABA from the spec reads the template states too.
    webhook_says(
        &ctx,
        "message_template_status_update",
        template_status("spring_offer", "DISABLED", "MARKETING"),
        now - 5,
    )
    .await;
    let report = flow.process(&ctx, vec![order("offer:2")]).await;
    assert!(failed(only_outcome(&report))
        .0
        .message
        .contains("is DISABLED"));
    server.verify().await;

    let errors = spec("promotional")
        .build(&Registry::default(), &connections, &secrets)
        .unwrap_err();
    let first = errors.iter().next().unwrap();
    assert_eq!(first.path, "/target/whatsapp.template/template_category");
    assert!(first.message.contains("promotional"), "{first}");
}

// ---- the preflight against the account's template list ----

const TEMPLATES: &str = "/v23.0/102290129340398/message_templates";

fn listing(name: &str, language: &str, status: &str, category: &str, body: &str) -> Value {
    json!({"id": "1689556908129832", "name": name, "language": language, "status": status, "category": category,
           "components": [
               {"type": "HEADER", "format": "DOCUMENT"},
               {"type": "BODY", "text": body},
               {"type": "FOOTER", "text": "Manutenção"},
               {"type": "BUTTONS", "buttons": [
                   {"type": "QUICK_REPLY", "text": "Aceitar"},
                   {"type": "URL", "text": "Abrir", "url": "https://erp.example.com/wo/{{1}}"}]}]})
}

/// Two pages, as Meta pages with `paging.cursors.after` and `paging.next`.
async fn mount_templates(server: &MockServer) {
    use wiremock::matchers::query_param;
    Mock::given(method("GET"))
        .and(path(TEMPLATES))
        .and(query_param("after", "CURSOR-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [listing("wo_assignment", "pt_BR", "APPROVED", "UTILITY", "Olá {{1}}, a OT {{2}} é sua. {{1}}, confirme."),
                     listing("spring_offer", "pt_BR", "APPROVED", "MARKETING", "Oferta {{1}}")],
            "paging": {"cursors": {"before": "CURSOR-1", "after": "CURSOR-3"}}})))
        .expect(1)
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(TEMPLATES))
        .and(query_param("fields", "id,name,language,status,category,components"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [listing("wo_assignment", "en_US", "APPROVED", "UTILITY", "Hello {{1}}, WO {{2}}."),
                     listing("wo_paused", "pt_BR", "PAUSED", "UTILITY", "{{1}}")],
            "paging": {"cursors": {"before": "CURSOR-0", "after": "CURSOR-2"},
                       "next": "https://graph.facebook.com/v23.0/102290129340398/message_templates?after=CURSOR-2"}})))
        .up_to_n_times(1)
        .expect(1)
        .mount(server)
        .await;
}

fn preflight_flow(
    server: &MockServer,
    template: &str,
    language: &str,
    body: Value,
    category: Option<&str>,
) -> Flow {
    let mut target = WhatsAppTarget::new(MessageKind::Template, connection(server));
    if let Some(category) = category {
        target = target.template_category(category);
    }
    Flow::builder(format!("pre-{template}"))
        .map(
            FieldMap::new(json!({
                "to": "{{ phone }}", "template": template, "language": language,
                "header": {"type": "document", "link": "https://erp.example.com/wo/1021.pdf"},
                "body": body,
                "buttons": [{"sub_type": "quick_reply", "payload": "accept"}, {"sub_type": "url", "text": "1021", "index": 1}]
            }))
            .unwrap(),
        )
        .target(target)
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_preflight_checks_the_flows_template_against_the_accounts_list_once_per_ttl() {
    use hubflow::whatsapp::{preflight, PreflightError, DEFAULT_CATALOG_TTL};
    let server = MockServer::start().await;
    mount_templates(&server).await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let sample = order("sample");
    let good = preflight_flow(
        &server,
        "wo_assignment",
        "pt_BR",
        json!(["{{ folio }}", "Jonas"]),
        None,
    );
    let catalog = preflight(&ctx, &good, &sample, DEFAULT_CATALOG_TTL)
        .await
        .unwrap();
    assert_eq!(catalog.templates.len(), 4, "both pages were read");
    // What the list said is noted for the pre-send checks.
    let paused = template_state(&ctx, WABA, "wo_paused", "pt_BR")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(paused.usable(), Some(false));

    // Every later check reads the cached list: the stand-in expects one read of each page.
    let cases: Vec<(Flow, &str)> = vec![
        (preflight_flow(&server, "wo_assignment", "es", json!(["a", "b"]), None),
         "template `wo_assignment` (es) does not exist in the account; it exists in en_US, pt_BR"),
        (preflight_flow(&server, "wo_assignment", "pt_BR", json!(["a"]), None),
         "template `wo_assignment` (pt_BR): the body takes 2 parameters, the flow gives 1"),
        (preflight_flow(&server, "wo_paused", "pt_BR", json!(["a"]), None),
         "template `wo_paused` (pt_BR) is PAUSED at Meta: it cannot be sent"),
        (preflight_flow(&server, "spring_offer", "pt_BR", json!(["a"]), Some("utility")),
         "template `spring_offer` (pt_BR) is a MARKETING template at Meta, but the target says utility"),
    ];
    for (flow, expected) in cases {
        let error = preflight(&ctx, &flow, &sample, DEFAULT_CATALOG_TTL)
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), expected);
    }
    // A flow whose sample is skipped, or that sends no template, says so.
    let text = Flow::builder("text")
        .map(FieldMap::new(json!({"to": "{{ phone }}", "text": "hi"})).unwrap())
        .target(WhatsAppTarget::new(MessageKind::Text, connection(&server)))
        .build()
        .unwrap();
    assert_eq!(
        preflight(&ctx, &text, &sample, DEFAULT_CATALOG_TTL).await,
        Err(PreflightError::NotATemplate)
    );
    server.verify().await;
}

#[tokio::test]
async fn the_preflight_needs_the_business_account_and_reports_metas_refusal() {
    use hubflow::whatsapp::{preflight, PreflightError, DEFAULT_CATALOG_TTL};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(TEMPLATES))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(fixture("whatsapp_api/error_190.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let Harness { ctx, .. } = harness();
    let flow = preflight_flow(&server, "wo_assignment", "pt_BR", json!(["a", "b"]), None);
    let error = preflight(&ctx, &flow, &order("s"), DEFAULT_CATALOG_TTL)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PreflightError::Fetch(why) if why.contains("190")),
        "{error}"
    );
    assert!(!error.to_string().contains("EAAG-lifecycle"));
    let no_waba = Flow::builder("x")
        .map(
            FieldMap::new(json!({"to": "{{ phone }}", "template": "t", "language": "pt_BR"}))
                .unwrap(),
        )
        .target(WhatsAppTarget::new(
            MessageKind::Template,
            WhatsAppConnection::new(PHONE_ID, SecretString::from("t")).base_url(url(&server, "/")),
        ))
        .build()
        .unwrap();
    assert_eq!(
        preflight(&ctx, &no_waba, &order("s"), DEFAULT_CATALOG_TTL).await,
        Err(PreflightError::NoBusinessAccount)
    );
    server.verify().await;
}
