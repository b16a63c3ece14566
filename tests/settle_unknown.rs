//! Unknown outcomes settled by WhatsApp status webhooks, end to end: a send whose answer
//! cannot be read leaves its record unknown, a run holds it, a signed status webhook that
//! echoes the record key settles it, and the next run knows. Each story runs over the
//! memory store and, with feature `sqlite`, over `SqliteStore`; the Graph API is a stand-in
//! on 127.0.0.1.
#![cfg(all(feature = "whatsapp", feature = "reqwest"))]

mod common;

use std::time::Duration;

use common::{
    duplicate, failed, fixture, mount_catch_all, only_outcome, received, start_instant, url,
};
use hubflow::http::{Method, ReqwestClient};
use hubflow::whatsapp::webhook::{sign, WebhookEvent, WhatsAppWebhook, SIGNATURE_HEADER};
use hubflow::whatsapp::{
    settle_statuses, MessageKind, NotSettleable, StatusAnswer, StatusSettlements,
    WhatsAppConnection, WhatsAppTarget,
};
use hubflow::{
    Claim, Context, DeliveryError, DeliveryPolicy, FieldMap, Flow, InboundRequest, ManualClock,
    MemoryStore, OnUnknown, Outcome, Record, Settled, Stage, Store, SETTLEMENT_KIND,
};
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FLOW: &str = "wo-whatsapp";
const KEY: &str = "fracttal:wo:5001:1";
const PHONE_ID: &str = "106540352242922";
const MESSAGES: &str = "/v23.0/106540352242922/messages";
const APP_SECRET: &str = "app-secret-for-tests";
/// The wamid Meta gave the message whose answer was lost: known only from the webhook.
const LOST_WAMID: &str = "wamid.HBgNNTUxMTk5OTk5MTIzNBUCABEYEkxPU1RBTlNXRVIwMDAwMDEA";
const LEASE: Duration = Duration::from_secs(600);

fn context(store: impl Store + 'static) -> (Context, ManualClock) {
    let clock = ManualClock::new(start_instant());
    let http = ReqwestClient::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    (Context::new(http, clock.clone(), store), clock)
}

fn whatsapp_flow(id: &str, server: &MockServer) -> Flow {
    let connection = WhatsAppConnection::new(PHONE_ID, SecretString::from("EAAG-test-token"))
        .base_url(url(server, "/"));
    Flow::builder(id)
        .map(
            FieldMap::new(json!({
                "to": "{{ phone }}",
                "template": "wo_assignment",
                "language": "pt_BR",
                "body": ["{{ folio }}"]
            }))
            .unwrap(),
        )
        .target(WhatsAppTarget::new(MessageKind::Template, connection))
        .delivery(
            DeliveryPolicy::default()
                .claim_lease(LEASE)
                .on_unknown(OnUnknown::Hold),
        )
        .build()
        .unwrap()
}

fn work_order() -> Record {
    Record::new(
        KEY,
        "fracttal.work_order",
        json!({"phone": "5511999991234", "folio": "OT-1021"}),
    )
}

/// The stand-in answers the next `times` sends with 200 and a body that is not Meta's
/// answer: the message was probably sent, but its wamid cannot be read.
async fn answer_unreadably(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>upstream reset</html>"))
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
}

/// The stand-in accepts the next `times` sends, as Meta does.
async fn answer_sent(server: &MockServer, times: u64) {
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whatsapp_api/sent.json")))
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
}

/// The `biz_opaque_callback_data` of every send the stand-in received: what Meta echoes.
async fn sent_callback_data(server: &MockServer) -> Vec<String> {
    server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            body["biz_opaque_callback_data"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect()
}

/// A status object as Meta posts it.
fn status(wamid: &str, state: &str, callback: Option<&str>) -> Value {
    let mut status = json!({"id": wamid, "status": state, "timestamp": "1772438700",
                            "recipient_id": "5511999991234",
                            "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility", "type": "regular"}});
    if let Some(callback) = callback {
        status["biz_opaque_callback_data"] = json!(callback);
    }
    status
}

/// A `failed` status with the error of the reference example (131026, undeliverable).
fn failed_status(wamid: &str, callback: &str) -> Value {
    let reference = fixture("whatsapp/ref_status_failed.json");
    let mut status = reference["entry"][0]["changes"][0]["value"]["statuses"][0].clone();
    status["id"] = json!(wamid);
    status["biz_opaque_callback_data"] = json!(callback);
    status
}

/// What the webhook endpoint gets from Meta for these statuses, signed with the app secret,
/// checked and parsed as the host's handler does.
fn signed_webhook(statuses: Vec<Value>) -> Vec<WebhookEvent> {
    let body = serde_json::to_vec(&json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_ID},
            "statuses": statuses
        }}]}]
    }))
    .unwrap();
    let app_secret = SecretString::from(APP_SECRET);
    let request = InboundRequest::new(Method::Post, "/hooks/whatsapp", body.clone())
        .header(SIGNATURE_HEADER, sign(&app_secret, &body));
    WhatsAppWebhook::new(SecretString::from("verify-me"), app_secret)
        .events(&request)
        .expect("a correctly signed status webhook")
}

fn settled(result: &StatusSettlements, index: usize) -> &Settled {
    match &result.statuses[index].answer {
        StatusAnswer::Settled(settled) => settled,
        other => panic!("expected the flow's answer, got {other:?}"),
    }
}

/// Sends the work order through a stand-in whose answer cannot be read, then runs again
/// after the lease: the record is held as unknown, and nothing is resent.
async fn leave_unknown(
    flow: &Flow,
    ctx: &Context,
    clock: &ManualClock,
    server: &MockServer,
) -> Record {
    let first = flow.process(ctx, vec![work_order()]).await;
    let (failure, retryable, attempts) = failed(only_outcome(&first));
    assert_eq!(
        (failure.stage, retryable, attempts),
        (Stage::Deliver, false, 1)
    );
    assert!(
        matches!(failure.error(), Some(DeliveryError::Response { .. })),
        "{failure:?}"
    );
    assert!(matches!(
        ctx.claims().peek_claim(FLOW, KEY).await.unwrap(),
        Some(Claim::InFlight { .. })
    ));

    clock.advance(LEASE + Duration::from_secs(1));
    let held = flow.process(ctx, vec![work_order()]).await;
    let (failure, retryable, attempts) = failed(only_outcome(&held));
    assert_eq!(
        (failure.stage, retryable, attempts),
        (Stage::Claim, false, 0)
    );
    assert!(
        matches!(failure.error(), Some(DeliveryError::Unknown { .. })),
        "{failure:?}"
    );
    assert_eq!(received(server).await, 1, "Hold does not resend");
    // The dead letter the host keeps for a person to decide on.
    held.records
        .into_iter()
        .find_map(|line| line.record)
        .expect("the held record is a dead letter")
}

async fn an_unknown_send_is_settled_by_a_delivered_status(store: impl Store + 'static) {
    let server = MockServer::start().await;
    answer_unreadably(&server, 1).await;
    mount_catch_all(&server).await;
    let (ctx, clock) = context(store);
    let flow = whatsapp_flow(FLOW, &server);

    leave_unknown(&flow, &ctx, &clock, &server).await;
    // Meta echoes what the send carried: the record key.
    assert_eq!(sent_callback_data(&server).await, [KEY]);

    let events = signed_webhook(vec![status(LOST_WAMID, "delivered", Some(KEY))]);
    let result = settle_statuses(&flow, &ctx, &events).await;

    let Settled::Delivered { receipt } = settled(&result, 0) else {
        panic!("{result:?}")
    };
    assert_eq!(receipt.id.as_deref(), Some(LOST_WAMID));
    assert_eq!(receipt.details["settled_by"], "status_webhook");
    assert_eq!(receipt.details["status"], "delivered");
    assert_eq!(
        ctx.claims().peek_claim(FLOW, KEY).await.unwrap(),
        Some(Claim::Done {
            receipt: receipt.clone()
        })
    );

    let next = flow.process(&ctx, vec![work_order()]).await;
    let earlier = duplicate(only_outcome(&next)).expect("the settled receipt");
    assert_eq!(earlier.id.as_deref(), Some(LOST_WAMID));
    let Outcome::Duplicate { reason, .. } = only_outcome(&next) else {
        unreachable!()
    };
    assert_eq!(reason, "already delivered");
    assert_eq!(
        received(&server).await,
        1,
        "the stand-in saw exactly one send"
    );

    // The history tells the whole story, newest first.
    let history = flow.history(&ctx, 10).await.unwrap();
    let story: Vec<_> = history
        .iter()
        .map(|run| (run.records[0].kind.as_str(), run.records[0].outcome.name()))
        .collect();
    assert_eq!(
        story,
        [
            ("fracttal.work_order", "duplicate"),
            (SETTLEMENT_KIND, "delivered"),
            ("fracttal.work_order", "failed"),
            ("fracttal.work_order", "failed"),
        ]
    );
    assert_eq!(history[1], result.report.unwrap());
    server.verify().await;
}

async fn a_failed_status_releases_the_unknown_send(store: impl Store + 'static) {
    let server = MockServer::start().await;
    answer_unreadably(&server, 1).await;
    answer_sent(&server, 1).await;
    mount_catch_all(&server).await;
    let (ctx, clock) = context(store);
    let flow = whatsapp_flow(FLOW, &server);

    let dead_letter = leave_unknown(&flow, &ctx, &clock, &server).await;

    let events = signed_webhook(vec![failed_status(LOST_WAMID, KEY)]);
    let result = settle_statuses(&flow, &ctx, &events).await;

    let Settled::Failed { failure, retryable } = settled(&result, 0) else {
        panic!("{result:?}")
    };
    assert!(!retryable);
    assert_eq!(failure.code.as_deref(), Some("131026"));
    assert_eq!(
        failure.message,
        format!("whatsapp reported that {LOST_WAMID} failed (code 131026): Message undeliverable: Message Undeliverable.")
    );
    assert_eq!(
        ctx.claims().peek_claim(FLOW, KEY).await.unwrap(),
        None,
        "released"
    );
    let recorded = &flow.history(&ctx, 1).await.unwrap()[0];
    let (kept, _, _) = failed(&recorded.records[0].outcome);
    assert_eq!(
        (kept.code.as_deref(), recorded.records[0].kind.as_str()),
        (Some("131026"), SETTLEMENT_KIND)
    );

    // Known to have failed, the held record is sent again when the host replays it.
    let replay = flow.process(&ctx, vec![dead_letter]).await;
    assert!(
        matches!(only_outcome(&replay), Outcome::Delivered { .. }),
        "{replay:?}"
    );
    assert_eq!(received(&server).await, 2);
    server.verify().await;
}

async fn statuses_of_a_recorded_send_change_nothing(store: impl Store + 'static) {
    let server = MockServer::start().await;
    answer_sent(&server, 1).await;
    mount_catch_all(&server).await;
    let (ctx, _clock) = context(store);
    let flow = whatsapp_flow(FLOW, &server);
    let sent = flow.process(&ctx, vec![work_order()]).await;
    let Outcome::Delivered { receipt, .. } = only_outcome(&sent) else {
        panic!("{sent:?}")
    };
    let wamid = receipt.id.clone().unwrap();

    // Meta took it, then could not deliver it: the delivery stands.
    let events = signed_webhook(vec![
        status(&wamid, "sent", Some(KEY)),
        failed_status(&wamid, KEY),
    ]);
    let result = settle_statuses(&flow, &ctx, &events).await;

    for index in 0..2 {
        assert_eq!(
            settled(&result, index),
            &Settled::AlreadyDelivered {
                receipt: receipt.clone()
            }
        );
    }
    assert!(!result.statuses[0].late_failure());
    assert!(result.statuses[1].late_failure());
    assert!(result.report.is_none());
    assert_eq!(
        ctx.claims().peek_claim(FLOW, KEY).await.unwrap(),
        Some(Claim::Done {
            receipt: receipt.clone()
        })
    );
    assert_eq!(
        flow.history(&ctx, 10).await.unwrap().len(),
        1,
        "only the run"
    );
    server.verify().await;
}

async fn a_status_without_callback_data_is_not_settleable(store: impl Store + 'static) {
    let server = MockServer::start().await;
    answer_unreadably(&server, 1).await;
    mount_catch_all(&server).await;
    let (ctx, clock) = context(store);
    let flow = whatsapp_flow(FLOW, &server);
    leave_unknown(&flow, &ctx, &clock, &server).await;

    let events = signed_webhook(vec![status(LOST_WAMID, "delivered", None)]);
    let result = settle_statuses(&flow, &ctx, &events).await;

    assert_eq!(result.statuses[0].key, None);
    assert!(matches!(
        result.statuses[0].answer,
        StatusAnswer::NotSettleable(NotSettleable::NoCallbackData)
    ));
    assert!(result.report.is_none());
    // Still unknown: the next run holds it again.
    let next = flow.process(&ctx, vec![work_order()]).await;
    assert!(matches!(
        failed(only_outcome(&next)).0.error(),
        Some(DeliveryError::Unknown { .. })
    ));
    assert_eq!(received(&server).await, 1);
}

async fn a_status_for_another_flows_key_has_nothing_to_settle(store: impl Store + 'static) {
    let server = MockServer::start().await;
    answer_unreadably(&server, 1).await;
    mount_catch_all(&server).await;
    let (ctx, clock) = context(store);
    let flow = whatsapp_flow(FLOW, &server);
    leave_unknown(&flow, &ctx, &clock, &server).await;
    let other = whatsapp_flow("appointment-reminders", &server);

    let events = signed_webhook(vec![status(LOST_WAMID, "read", Some(KEY))]);
    let result = settle_statuses(&other, &ctx, &events).await;

    assert_eq!(settled(&result, 0), &Settled::NothingToSettle);
    assert!(other.history(&ctx, 10).await.unwrap().is_empty());
    assert!(matches!(
        ctx.claims().peek_claim(FLOW, KEY).await.unwrap(),
        Some(Claim::InFlight { .. })
    ));
    // The flow that sent it settles it.
    let result = settle_statuses(&flow, &ctx, &events).await;
    assert!(matches!(settled(&result, 0), Settled::Delivered { .. }));
}

macro_rules! over_each_store {
    ($($story:ident),* $(,)?) => {
        mod memory {
            use super::MemoryStore;
            $(
                #[tokio::test]
                async fn $story() {
                    super::$story(MemoryStore::new()).await;
                }
            )*
        }

        #[cfg(feature = "sqlite")]
        mod sqlite {
            $(
                #[tokio::test]
                async fn $story() {
                    super::$story(hubflow::SqliteStore::in_memory().await.unwrap()).await;
                }
            )*
        }
    };
}

over_each_store!(
    an_unknown_send_is_settled_by_a_delivered_status,
    a_failed_status_releases_the_unknown_send,
    statuses_of_a_recorded_send_change_nothing,
    a_status_without_callback_data_is_not_settleable,
    a_status_for_another_flows_key_has_nothing_to_settle,
);
