//! The WhatsApp webhook end to end: fixtures written from the API reference, the
//! `WebhookSource` replies, duplicate deliveries through a real flow, Meta's official
//! examples (read in place), and property tests.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use common::{harness, mount_catch_all, received, url};
use hubflow::http::Method;
use hubflow::http_target::HttpTarget;
use hubflow::whatsapp::webhook::{
    parse, sign, Conversation, DeliveryState, InboundMessage, MessageType, RereadError,
    StatusUpdate, WebhookError, WebhookEvent, WhatsAppWebhook, DEFAULT_MAX_BODY,
};
use hubflow::{Flow, InboundRequest, Outcome, Record, Unreadable, WebhookSource, KIND_UNREADABLE};
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const APP_SECRET: &str = "test-app-secret-0c1d";
const VERIFY_TOKEN: &str = "test-verify-token-9e8f";

fn fixture_text(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/whatsapp/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn events(name: &str) -> Vec<WebhookEvent> {
    parse(fixture_text(name).as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn messages(name: &str) -> Vec<InboundMessage> {
    events(name)
        .into_iter()
        .map(|e| match e {
            WebhookEvent::Message(m) => m,
            other => panic!("{name}: expected only messages, got {other:?}"),
        })
        .collect()
}

fn only_status(name: &str) -> StatusUpdate {
    let mut all = events(name);
    assert_eq!(all.len(), 1, "{name}");
    match all.remove(0) {
        WebhookEvent::Status(s) => s,
        other => panic!("{name}: expected a status, got {other:?}"),
    }
}

fn at(seconds: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .expect("a valid instant")
}

// ---- statuses ----

#[test]
fn sent_status_with_conversation_based_pricing() {
    let s = only_status("status_sent_cbp.json");
    assert_eq!(s.status, DeliveryState::Sent);
    assert_eq!(s.timestamp, at(1_718_000_000));
    assert_eq!(
        s.biz_opaque_callback_data.as_deref(),
        Some("flow:wo-assigned:fracttal:wo:881:2")
    );
    let conversation = s.conversation.clone().expect("a conversation");
    assert_eq!(conversation.id.as_deref(), Some("CONVERSATION_ID_1"));
    assert_eq!(conversation.expiration_timestamp, Some(at(1_718_086_400)));
    assert_eq!(conversation.origin_type.as_deref(), Some("utility"));
    assert_ne!(conversation, Conversation::default());
    let pricing = s.pricing.clone().expect("pricing");
    assert_eq!(pricing.pricing_model.as_deref(), Some("CBP"));
    assert_eq!(pricing.kind, None);
    let record = WebhookEvent::Status(s).to_record();
    assert_eq!(
        record.key,
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJTRU5UQ0JQMDAwMDAwMDEA:sent"
    );
    assert_eq!(
        record.get("conversation.origin.type"),
        Some(&json!("utility"))
    );
    assert_eq!(
        record.get("biz_opaque_callback_data"),
        Some(&json!("flow:wo-assigned:fracttal:wo:881:2"))
    );
    assert_eq!(
        record.get("timestamp"),
        Some(&json!("2024-06-10T06:13:20Z"))
    );
}

#[test]
fn delivered_status_with_per_message_pricing_and_user_ids() {
    let s = only_status("status_delivered_pmp.json");
    assert_eq!(s.status, DeliveryState::Delivered);
    let pricing = s.pricing.clone().expect("pricing");
    assert_eq!(
        (pricing.pricing_model.as_deref(), pricing.kind.as_deref()),
        (Some("PMP"), Some("regular"))
    );
    assert_eq!(s.conversation, None);
    assert!(s
        .recipient_user_id
        .as_deref()
        .is_some_and(|u| u.starts_with("user.")));
    let contact = s.contact.clone().expect("a contact");
    assert_eq!(contact.username.as_deref(), Some("@pablomorales"));
    let record = WebhookEvent::Status(s).to_record();
    assert_eq!(record.get("pricing.type"), Some(&json!("regular")));
    assert_eq!(record.get("conversation"), Some(&Value::Null));
}

#[test]
fn read_status_for_a_user_known_only_by_user_id() {
    let s = only_status("status_read_bsuid.json");
    assert_eq!(s.status, DeliveryState::Read);
    assert_eq!(s.recipient_id.as_deref(), Some(""));
    assert_eq!(s.recipient_user_id.as_deref(), Some("user.1a2b3c4d5e6f"));
    assert_eq!(s.contact, None, "the change had no contacts");
    let pricing = s.pricing.clone().expect("pricing");
    assert_eq!(pricing.billable, Some(false));
    assert_eq!(pricing.kind.as_deref(), Some("free_customer_service"));
    let record = WebhookEvent::Status(s).to_record();
    assert_eq!(
        record.get("recipient_user_id"),
        Some(&json!("user.1a2b3c4d5e6f"))
    );
}

#[test]
fn failed_status_with_errors() {
    let s = only_status("status_failed.json");
    assert_eq!(s.status, DeliveryState::Failed);
    assert_eq!(s.errors.len(), 1);
    assert_eq!(s.errors[0].code, 131047);
    assert_eq!(s.errors[0].title.as_deref(), Some("Re-engagement message"));
    assert!(s.errors[0]
        .details
        .as_deref()
        .is_some_and(|d| d.contains("24 hours")));
    assert_eq!(s.pricing, None);
    let record = WebhookEvent::Status(s).to_record();
    assert_eq!(record.get("errors.0.code"), Some(&json!(131047)));
    assert_eq!(
        record.get("biz_opaque_callback_data"),
        Some(&json!("flow:reminders:rm:appt:77"))
    );
}

// ---- messages ----

#[test]
fn media_messages_expose_their_media_objects() {
    let all = messages("media_messages.json");
    let kinds: Vec<_> = all.iter().map(|m| m.kind.clone()).collect();
    assert_eq!(
        kinds,
        vec![
            MessageType::Image,
            MessageType::Audio,
            MessageType::Video,
            MessageType::Document,
            MessageType::Sticker
        ]
    );
    let media: Vec<_> = all
        .iter()
        .map(|m| m.media().unwrap_or_else(|| panic!("{} has media", m.id)))
        .collect();
    assert_eq!(media[0].id, "1003383421387256");
    assert_eq!(media[0].caption.as_deref(), Some("Broken valve"));
    assert_eq!(media[0].mime_type.as_deref(), Some("image/jpeg"));
    assert_eq!(all[0].text(), Some("Broken valve"), "a caption is the text");
    assert_eq!(media[1].voice, Some(true));
    assert_eq!(all[1].text(), None);
    assert_eq!(media[2].caption.as_deref(), Some("Noise at startup"));
    assert_eq!(media[3].filename.as_deref(), Some("OT-881.pdf"));
    assert_eq!(media[3].mime_type.as_deref(), Some("application/pdf"));
    assert_eq!(media[4].animated, Some(false));
    assert!(media.iter().all(|m| m.sha256.is_some()));
    let record = all[3].to_record();
    assert_eq!(record.get("media_id"), Some(&json!("4003383421387256")));
    assert_eq!(record.get("type"), Some(&json!("document")));
    assert_eq!(
        record.get("message.document.filename"),
        Some(&json!("OT-881.pdf"))
    );
}

#[test]
fn location_message_keeps_its_coordinates_in_raw() {
    let m = messages("location_message.json").remove(0);
    assert_eq!(m.kind, MessageType::Location);
    assert_eq!(m.text(), None);
    assert_eq!(m.media(), None);
    let record = m.to_record();
    assert_eq!(
        record.get("message.location.latitude"),
        Some(&json!(37.44221496582))
    );
    assert_eq!(
        record.get("message.location.name"),
        Some(&json!("Philz Coffee"))
    );
}

#[test]
fn reactions_added_and_removed() {
    let all = messages("reaction_messages.json");
    assert!(all.iter().all(|m| m.kind == MessageType::Reaction));
    assert_eq!(all[0].raw.to_value()["reaction"]["emoji"], "👍");
    assert_eq!(
        all[1].raw.to_value()["reaction"].get("emoji"),
        None,
        "no emoji: removed"
    );
    assert_eq!(all[1].to_record().key, "wamid.REACTION.REMOVE");
}

#[test]
fn interactive_list_reply_gives_reply_id_title_and_context() {
    let m = messages("interactive_list_reply.json").remove(0);
    assert_eq!(m.reply_id(), Some("slot_2026-03-04T09:00"));
    assert_eq!(m.text(), Some("Wed 4 Mar 09:00"));
    let record = m.to_record();
    assert_eq!(
        record.get("reply_id"),
        Some(&json!("slot_2026-03-04T09:00"))
    );
    assert_eq!(record.get("context_id"), Some(&json!("wamid.LIST.SENT")));
    assert_eq!(record.get("from"), Some(&json!("16505551234")));
    assert_eq!(
        record.get("message.interactive.list_reply.description"),
        Some(&json!("Dr. Rossi, room 2"))
    );
}

#[test]
fn order_and_system_messages() {
    let order = messages("order_message.json").remove(0);
    assert_eq!(order.kind, MessageType::Order);
    assert_eq!(
        order.raw.to_value()["order"]["product_items"][1]["product_retailer_id"],
        "nqryix03ez"
    );
    let system = messages("system_message.json").remove(0);
    assert_eq!(system.kind, MessageType::System);
    assert_eq!(system.contact, None, "system changes carry no contacts");
    assert_eq!(
        system.raw.to_value()["system"]["type"],
        "user_changed_number"
    );
    assert_eq!(system.to_record().get("contact.name"), Some(&Value::Null));
}

#[test]
fn multi_entry_body_yields_every_event_with_its_own_context() {
    let all = events("multi_entry.json");
    let summary: Vec<(String, String, String)> = all
        .iter()
        .map(|e| {
            let r = e.to_record();
            (
                e.phone_number_id().unwrap_or_default().to_owned(),
                r.kind,
                r.key,
            )
        })
        .collect();
    let keys: Vec<&str> = summary.iter().map(|(_, _, k)| k.as_str()).collect();
    assert_eq!(all.len(), 7, "{summary:?}");
    // The template change between them is an event too, about no phone number.
    assert_eq!(summary[1].1, "whatsapp.template_status");
    assert_eq!(summary[1].0, "");
    let keys: Vec<&str> = keys
        .into_iter()
        .filter(|k| !k.starts_with("whatsapp:template:"))
        .collect();
    assert_eq!(
        &keys[..5],
        &[
            "wamid.MULTI.1",
            "wamid.MULTI.OUT.1:delivered",
            "wamid.MULTI.OUT.1:read",
            "wamid.MULTI.2",
            "wamid.MULTI.3"
        ]
    );
    assert!(keys[5].starts_with("whatsapp:error:200000000000001:131000:"));
    assert_eq!(summary[0].0, "106540352242922");
    assert_eq!(summary[4].0, "200000000000001");
    // Each message gets its own sender's contact, not the first of the change.
    let names: Vec<_> = all
        .iter()
        .filter_map(|e| match e {
            WebhookEvent::Message(m) => m.contact.as_ref().and_then(|c| c.name.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(names, ["Sheena Nelson", "Ana", "Bruno"]);
    assert_eq!(all[1].waba_id(), "419561257915477");
    assert_eq!(all[5].waba_id(), "102290129340398");
}

/// Our fixtures follow Meta's schema, except where the reference documents more than the
/// schema does: a reaction without emoji (a removal) and a change of another field.
#[test]
fn fixtures_follow_the_official_schema_where_it_covers_them() {
    let Some(root) = conformance_root() else {
        return;
    };
    let schema_path = root.join("whatsapp/schema/webhook.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&schema_path).unwrap())
        .expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/whatsapp");
    let mut failing = Vec::new();
    for path in json_files(&dir) {
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        if !validator.is_valid(&value) {
            failing.push(file_name(&path));
        }
    }
    assert_eq!(failing, ["multi_entry.json", "reaction_messages.json"]);
}

// ---- the WebhookSource ----

fn webhook() -> WhatsAppWebhook {
    WhatsAppWebhook::new(
        SecretString::from(VERIFY_TOKEN),
        SecretString::from(APP_SECRET),
    )
}

fn signed_post(body: &str) -> InboundRequest {
    InboundRequest::new(Method::Post, "/hooks/whatsapp", body.to_owned()).header(
        "x-hub-signature-256",
        sign(&SecretString::from(APP_SECRET), body.as_bytes()),
    )
}

#[test]
fn get_with_the_right_token_answers_the_challenge() {
    let request = InboundRequest::new(
        Method::Get,
        format!("/hooks/whatsapp?hub.mode=subscribe&hub.challenge=ch%2F42&hub.verify_token={VERIFY_TOKEN}"),
        "",
    );
    let reply = webhook().handle(&request);
    assert_eq!(reply.status, 200);
    assert_eq!(reply.content_type, "text/plain");
    assert_eq!(reply.body, "ch/42", "the challenge, percent-decoded");
    assert!(reply.records.is_empty());
}

#[test]
fn get_with_a_wrong_token_mode_or_no_challenge_is_forbidden() {
    for target in [
        "/h?hub.mode=subscribe&hub.challenge=1&hub.verify_token=nope".to_owned(),
        format!("/h?hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}"),
        format!("/h?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}"),
        "/h".to_owned(),
    ] {
        let reply = webhook().handle(&InboundRequest::new(Method::Get, target.clone(), ""));
        assert_eq!(reply.status, 403, "{target}");
        assert!(!reply.body.contains(VERIFY_TOKEN), "{target}");
        assert!(reply.body != "1", "the challenge is not echoed: {target}");
    }
}

#[test]
fn signed_post_answers_200_with_every_record() {
    let reply = webhook().handle(&signed_post(&fixture_text("multi_entry.json")));
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.records.len(), 7);
    let kinds: Vec<&str> = reply.records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "whatsapp.message",
            "whatsapp.template_status",
            "whatsapp.status",
            "whatsapp.status",
            "whatsapp.message",
            "whatsapp.message",
            "whatsapp.error"
        ]
    );
    assert_eq!(reply.records[0].occurred_at, Some(at(1_750_200_001)));
}

#[test]
fn post_without_or_with_a_bad_signature_is_unauthorized() {
    let body = fixture_text("ref_text.json");
    let unsigned = InboundRequest::new(Method::Post, "/hooks/whatsapp", body.clone());
    let reply = webhook().handle(&unsigned);
    assert_eq!(reply.status, 401);
    assert!(reply.records.is_empty());

    let forged = InboundRequest::new(Method::Post, "/hooks/whatsapp", body.clone()).header(
        "X-Hub-Signature-256",
        sign(&SecretString::from("guessed"), body.as_bytes()),
    );
    let reply = webhook().handle(&forged);
    assert_eq!(reply.status, 401);
    assert!(reply.records.is_empty());
    assert!(!reply.body.contains(APP_SECRET));
    let expected = sign(&SecretString::from(APP_SECRET), body.as_bytes());
    assert!(!reply.body.contains(expected.trim_start_matches("sha256=")));

    // Signed with the verify token instead of the app secret: a classic setup mistake.
    let wrong_key = InboundRequest::new(Method::Post, "/hooks/whatsapp", body.clone()).header(
        "X-Hub-Signature-256",
        sign(&SecretString::from(VERIFY_TOKEN), body.as_bytes()),
    );
    assert_eq!(webhook().handle(&wrong_key).status, 401);
}

/// Meta resends an unanswered or refused webhook for up to 7 days, to every app on the
/// account: a signed body that cannot be read is answered 200 and kept whole instead.
#[test]
fn signed_post_that_cannot_be_read_is_answered_200_and_kept_whole() {
    let bad_timestamp = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":"w","timestamp":true}]}}]}]}"#;
    for (body, pointer, error) in [
        (r#"{"object":"page","entry":[]}"#, None, "not a WhatsApp"),
        ("not json at all", None, "not valid JSON"),
        (
            bad_timestamp,
            Some("/entry/0/changes/0/value/messages/0/timestamp"),
            "expected Unix seconds",
        ),
    ] {
        let reply = webhook().handle(&signed_post(body));
        assert_eq!(reply.status, 200, "{body}");
        assert_eq!(reply.records.len(), 1, "{body}");
        let kept = &reply.records[0];
        assert_eq!(kept.kind, KIND_UNREADABLE);
        assert_eq!(kept.get("source"), Some(&json!("whatsapp")));
        assert_eq!(kept.get("body"), Some(&json!(body)), "kept byte for byte");
        assert_eq!(kept.get("pointer").and_then(Value::as_str), pointer);
        let message = kept.get("error").and_then(Value::as_str).unwrap_or("");
        assert!(message.contains(error), "{message}");
        // Replaying with this version still fails, and says why.
        assert!(matches!(
            webhook().reread(kept),
            Err(RereadError::Unreadable(_))
        ));
    }
}

#[test]
fn a_body_with_one_unreadable_change_gives_the_others_and_keeps_the_whole_body() {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "W", "changes": [
            {"field": "messages", "value": {
                "metadata": {"phone_number_id": "1065"},
                "messages": [{"from": "5511", "id": "wamid.GOOD", "timestamp": "1750000000", "type": "text", "text": {"body": "ok"}}]
            }},
            {"field": "messages", "value": {
                "metadata": {"phone_number_id": "1065"},
                "messages": [{"from": "5511", "id": "wamid.BAD", "timestamp": [], "type": "text"}]
            }}
        ]}]
    })
    .to_string();
    let reply = webhook().handle(&signed_post(&body));
    assert_eq!(reply.status, 200);
    let keys: Vec<&str> = reply.records.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(keys, ["whatsapp.message", KIND_UNREADABLE]);
    assert_eq!(reply.records[0].key, "wamid.GOOD");
    let kept = Unreadable::from_record(&reply.records[1]).unwrap();
    assert_eq!(kept.body(), body.as_bytes());
    assert_eq!(
        kept.pointer.as_deref(),
        Some("/entry/0/changes/1/value/messages/0/timestamp")
    );
    // The same body again is the same two records: duplicates for the flow's claims.
    let again = webhook().handle(&signed_post(&body));
    assert_eq!(again.records[1].key, reply.records[1].key);
}

#[test]
fn an_oversized_signed_body_is_413_and_a_bad_signature_401_never_kept() {
    let small = webhook().max_body(16);
    let reply = small.handle(&signed_post(&fixture_text("ref_text.json")));
    assert_eq!(reply.status, 413);
    assert!(reply.records.is_empty());
    let forged = InboundRequest::new(Method::Post, "/hooks/whatsapp", "not json").header(
        "X-Hub-Signature-256",
        sign(&SecretString::from("guess"), b"not json"),
    );
    let reply = webhook().handle(&forged);
    assert_eq!(reply.status, 401);
    assert!(reply.records.is_empty(), "an unsigned body is never kept");
}

#[test]
fn oversized_post_is_refused_before_the_signature_is_checked() {
    let body = fixture_text("ref_text.json");
    // Unsigned: a 401 here would mean the signature was looked at first.
    let request = InboundRequest::new(Method::Post, "/hooks/whatsapp", body.clone());
    let reply = webhook().max_body(body.len() - 1).handle(&request);
    assert_eq!(reply.status, 413);
    // At the limit exactly it is accepted.
    let reply = webhook().max_body(body.len()).handle(&signed_post(&body));
    assert_eq!(reply.status, 200);
    assert_eq!(DEFAULT_MAX_BODY, 3 * 1024 * 1024);
    let events = webhook()
        .max_body(10)
        .events(&signed_post(&body))
        .unwrap_err();
    assert_eq!(
        events,
        WebhookError::BodyTooLarge {
            size: body.len(),
            limit: 10
        }
    );
}

#[test]
fn other_methods_are_not_allowed() {
    for m in [Method::Put, Method::Patch, Method::Delete] {
        let reply = webhook().handle(&signed_post("{}").clone_with_method(m));
        assert_eq!(reply.status, 405, "{m}");
    }
}

trait WithMethod {
    fn clone_with_method(&self, method: Method) -> InboundRequest;
}

impl WithMethod for InboundRequest {
    fn clone_with_method(&self, method: Method) -> InboundRequest {
        let mut request = self.clone();
        request.method = method;
        request
    }
}

// ---- duplicates through a flow ----

/// Meta resends a webhook it thinks was not received: the same signed body, twice. The
/// records' keys make the flow deliver each event once and report the repeat as duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_signed_body_twice_is_delivered_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/erp/inbox"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"ok": true})))
        .expect(3)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;

    let h = harness();
    // Only incoming messages go to the ERP; statuses of our own sends must not.
    let flow = Flow::builder("wa-inbox")
        .when_fn(
            |record: &Record| record.kind == "whatsapp.message",
            "kind is whatsapp.message",
        )
        .target(HttpTarget::new(url(&server, "/erp/inbox")))
        .build()
        .expect("the flow builds");

    let webhook = webhook();
    let request = signed_post(&fixture_text("multi_entry.json"));

    let first = webhook.handle(&request);
    assert_eq!(first.status, 200);
    let report = flow.process(&h.ctx, first.records).await;
    assert_eq!(report.counts.received, 7);
    assert_eq!(report.counts.delivered, 3, "{report:?}");
    assert_eq!(
        report.counts.skipped, 4,
        "statuses, the template event and the error are skipped"
    );

    let second = webhook.handle(&request);
    assert_eq!(second.status, 200);
    let report = flow.process(&h.ctx, second.records).await;
    assert_eq!(report.counts.delivered, 0, "{report:?}");
    assert_eq!(report.counts.duplicate, 3);
    let duplicates: Vec<&str> = report
        .records
        .iter()
        .filter(|line| matches!(line.outcome, Outcome::Duplicate { .. }))
        .map(|line| line.key.as_str())
        .collect();
    assert_eq!(
        duplicates,
        ["wamid.MULTI.1", "wamid.MULTI.2", "wamid.MULTI.3"]
    );

    assert_eq!(received(&server).await, 3);
    server.verify().await;
}

// ---- Meta's official examples, read in place ----

/// The `conformance` folder: `HUBFLOW_CONFORMANCE_DIR`, else beside the repository. `None`
/// (after saying so) when it is absent, so CI without the data passes.
fn conformance_root() -> Option<PathBuf> {
    let root = std::env::var_os("HUBFLOW_CONFORMANCE_DIR").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/conformance"
            ))
        },
        PathBuf::from,
    );
    if root.join("whatsapp/webhooks").is_dir() {
        Some(root)
    } else {
        println!(
            "conformance data not found at {}; set HUBFLOW_CONFORMANCE_DIR",
            root.display()
        );
        None
    }
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Counts the events a body should yield, from the raw JSON, independently of the parser.
fn expected_events(value: &Value) -> usize {
    let empty = Vec::new();
    let items = |v: &Value, key: &str| v.get(key).and_then(Value::as_array).map_or(0, Vec::len);
    value["entry"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .flat_map(|entry| entry["changes"].as_array().unwrap_or(&empty))
        .map(|change| {
            let v = &change["value"];
            items(v, "messages") + items(v, "statuses") + items(v, "errors") + items(v, "groups")
        })
        .sum()
}

#[test]
fn every_official_webhook_example_parses_with_every_event() {
    let Some(root) = conformance_root() else {
        return;
    };
    let dir = root.join("whatsapp/webhooks");
    // The type each example's message must come out as; group examples are other fields.
    let kinds: BTreeMap<&str, Option<MessageType>> = [
        ("button_message.json", Some(MessageType::Button)),
        ("contact_sharing_message.json", Some(MessageType::Contacts)),
        ("group_create_message.json", None),
        ("group_remove_participants.json", None),
        ("group_settings_update.json", None),
        ("image_message.json", Some(MessageType::Image)),
        (
            "interactive_button_reply_message.json",
            Some(MessageType::Interactive),
        ),
        (
            "interactive_list_reply_message.json",
            Some(MessageType::Interactive),
        ),
        ("location_message.json", Some(MessageType::Location)),
        ("order_message.json", Some(MessageType::Order)),
        ("reaction_message.json", Some(MessageType::Reaction)),
        ("system_message.json", Some(MessageType::System)),
        ("text_message.json", Some(MessageType::Text)),
        (
            "text_message_from_click_to_whatsapp_ad.json",
            Some(MessageType::Text),
        ),
        (
            "text_message_with_context_product_inquiry.json",
            Some(MessageType::Text),
        ),
        ("unsupported_message.json", Some(MessageType::Unsupported)),
    ]
    .into_iter()
    .collect();

    let mut total = 0;
    let mut seen = Vec::new();
    for path in json_files(&dir) {
        let name = file_name(&path);
        let bytes = std::fs::read(&path).expect("readable");
        let raw: Value = serde_json::from_slice(&bytes).expect("the example is JSON");
        let events = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(events.len(), expected_events(&raw), "{name}");
        total += events.len();

        let expected_kind = kinds
            .get(name.as_str())
            .unwrap_or_else(|| panic!("{name}: a new example; add it to this test"));
        let found_kinds: Vec<MessageType> = events
            .iter()
            .filter_map(|e| match e {
                WebhookEvent::Message(m) => Some(m.kind.clone()),
                WebhookEvent::Group(g) => {
                    assert!(name.starts_with("group_"), "{name}");
                    assert!(!g.group_id.is_empty() && g.request_id.is_some(), "{name}");
                    None
                }
                other => panic!("{name}: only messages and groups expected, got {other:?}"),
            })
            .collect();
        assert_eq!(
            found_kinds,
            expected_kind.iter().cloned().collect::<Vec<_>>(),
            "{name}"
        );

        for event in &events {
            let WebhookEvent::Message(m) = event else {
                continue;
            };
            assert!(m.id.starts_with("wamid."), "{name}");
            assert_eq!(m.from, "16505551234", "{name}");
            assert_eq!(m.phone_number_id, "106540352242922", "{name}");
            assert_eq!(m.raw.to_value()["type"], m.kind.as_str(), "{name}");
            let record = event.to_record();
            assert_eq!(record.key, m.id, "{name}");
            assert_eq!(record.occurred_at, Some(m.timestamp), "{name}");
            assert_eq!(record.data["message"], m.raw.to_value(), "{name}");
            match m.kind {
                MessageType::Text => assert!(m.text().is_some_and(|t| !t.is_empty()), "{name}"),
                MessageType::Button | MessageType::Interactive => {
                    assert!(m.reply_id().is_some() && m.text().is_some(), "{name}");
                    assert!(record.data["context_id"].is_string(), "{name}");
                }
                MessageType::Image => assert!(m.media().is_some(), "{name}"),
                MessageType::Unsupported => assert_eq!(m.errors[0].code, 131051, "{name}"),
                _ => {}
            }
        }
        seen.push(name);
    }
    assert_eq!(
        seen.len(),
        kinds.len(),
        "every listed example was found: {seen:?}"
    );
    // A hard-coded total, so a silently dropped event cannot hide behind a shared mistake
    // in the parser and the independent count.
    assert_eq!(total, 16);
}

// ---- properties ----

/// Field names that occur in webhooks, so random objects often hit the parser's paths.
const KEYS: &[&str] = &[
    "object",
    "entry",
    "id",
    "changes",
    "field",
    "value",
    "metadata",
    "phone_number_id",
    "display_phone_number",
    "contacts",
    "profile",
    "name",
    "wa_id",
    "user_id",
    "messages",
    "statuses",
    "errors",
    "from",
    "from_user_id",
    "timestamp",
    "type",
    "text",
    "body",
    "context",
    "forwarded",
    "button",
    "payload",
    "interactive",
    "button_reply",
    "list_reply",
    "title",
    "image",
    "caption",
    "voice",
    "status",
    "recipient_id",
    "pricing",
    "billable",
    "conversation",
    "origin",
    "expiration_timestamp",
    "code",
    "error_data",
    "details",
];

fn any_json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[0-9]{0,12}".prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        prop::sample::select(vec![
            "messages",
            "whatsapp_business_account",
            "text",
            "button",
            "interactive",
            "sent",
            "read"
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 96, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(KEYS), inner, 0..6).prop_map(|m| {
                Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
            }),
        ]
    })
    .boxed()
}

/// A body with the webhook's outer shape and random content at every level below.
fn webhook_shaped() -> impl Strategy<Value = Value> {
    let item = prop::collection::btree_map(prop::sample::select(KEYS), any_json(), 0..8)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
        .boxed();
    let value = (
        prop::option::of(any_json()),
        prop::collection::vec(item.clone(), 0..4),
        prop::collection::vec(item.clone(), 0..3),
        prop::collection::vec(item, 0..3),
    )
        .prop_map(|(metadata, messages, statuses, errors)| {
            json!({
                "metadata": metadata.unwrap_or_else(|| json!({"phone_number_id": "1"})),
                "messages": messages, "statuses": statuses, "errors": errors
            })
        });
    let change = (
        prop::sample::select(vec![
            json!("messages"),
            json!("statuses"),
            json!(null),
            json!(7),
        ]),
        value,
    )
        .prop_map(|(field, value)| json!({"field": field, "value": value}));
    let entry = (any_json(), prop::collection::vec(change, 0..3))
        .prop_map(|(id, changes)| json!({"id": id, "changes": changes}));
    prop::collection::vec(entry, 0..3)
        .prop_map(|entry| json!({"object": "whatsapp_business_account", "entry": entry}))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_arbitrary_json(value in any_json()) {
        let _ = parse(value.to_string().as_bytes());
    }

    #[test]
    fn webhook_shaped_json_parses_or_fails_with_a_path(value in webhook_shaped()) {
        match parse(value.to_string().as_bytes()) {
            Ok(events) => {
                // Never more events than items, and every event makes a record.
                prop_assert!(events.len() <= expected_events(&value));
                for event in &events {
                    let record = event.to_record();
                    prop_assert!(record.data.is_object());
                }
            }
            Err(WebhookError::Shape { path, .. }) => {
                prop_assert!(path.starts_with("/entry"), "{}", path);
            }
            Err(other) => prop_assert!(false, "unexpected error {}", other),
        }
    }

    #[test]
    fn a_body_that_parses_yields_exactly_its_items(
        n_messages in 0usize..4,
        n_statuses in 0usize..4,
        extra in prop::collection::btree_map("[a-z_]{1,10}", any_json(), 0..4),
    ) {
        let extra: serde_json::Map<String, Value> = extra.into_iter().collect();
        let message = |i: usize| {
            let mut m = json!({"from": "1", "id": format!("wamid.{i}"), "timestamp": "1750000000", "type": "text", "text": {"body": "x"}});
            if let Some(object) = m.as_object_mut() {
                // Unknown extra fields never break parsing; known names keep their values.
                for (k, v) in &extra {
                    object.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
            m
        };
        let statuses: Vec<Value> = (0..n_statuses)
            .map(|i| json!({"id": format!("wamid.out.{i}"), "status": "sent", "timestamp": "1750000000"}))
            .collect();
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "1"},
            "messages": (0..n_messages).map(message).collect::<Vec<_>>(),
            "statuses": statuses,
        }}]}]});
        let result = parse(body.to_string().as_bytes());
        // Extra keys that collide with known optional content fields may have any type;
        // only a clean parse is checked for counts.
        if let Ok(events) = result {
            prop_assert_eq!(events.len(), n_messages + n_statuses);
        } else if extra.keys().all(|k| !KEYS.contains(&k.as_str())) {
            prop_assert!(false, "unknown fields must not break parsing: {:?}", result);
        }
    }
}

// ---- unreadable bodies through a flow ----

/// A signed body that cannot be read fails every flow it is given to, at the `read` stage,
/// permanently, whatever the flow's condition: it is a dead letter in the run history of a
/// durable store, byte for byte, and the webhook reads it again once it can.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_body_is_a_durable_dead_letter_that_can_be_replayed() {
    let dir = std::env::temp_dir().join(format!(
        "hubflow-unreadable-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.db");
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let flow = Flow::builder("wa-inbox")
        .when_fn(
            |record: &Record| record.kind == "whatsapp.message",
            "kind is whatsapp.message",
        )
        .target(HttpTarget::new(url(&server, "/erp/inbox")))
        .build()
        .unwrap();
    let garbage = r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":"w","timestamp":true}]}}]}]}"#;
    let reply = webhook().handle(&signed_post(garbage));
    assert_eq!(reply.status, 200);
    {
        let store = hubflow::SqliteStore::open(&file).await.unwrap();
        let ctx = hubflow::Context::new(
            hubflow::http::ReqwestClient::new().unwrap(),
            hubflow::ManualClock::new(at(1_750_000_000)),
            store,
        );
        let report = flow.process(&ctx, reply.records).await;
        assert_eq!(report.counts.failed, 1, "{report:?}");
        let Outcome::Failed {
            failure, retryable, ..
        } = &report.records[0].outcome
        else {
            panic!("{report:?}");
        };
        assert_eq!(failure.stage, hubflow::Stage::Read);
        assert!(!retryable);
        assert!(
            failure.message.contains("could not be read"),
            "{}",
            failure.message
        );
    }
    assert_eq!(received(&server).await, 0, "nothing was sent");

    // Another process, later: the dead letter is in the history, whole.
    let store = hubflow::SqliteStore::open(&file).await.unwrap();
    let ctx = hubflow::Context::new(
        hubflow::http::ReqwestClient::new().unwrap(),
        hubflow::ManualClock::new(at(1_750_000_100)),
        store,
    );
    let history = flow.history(&ctx, 10).await.unwrap();
    let dead: Vec<&Record> = history.iter().flat_map(|run| run.dead_letters()).collect();
    assert_eq!(dead.len(), 1);
    let kept = Unreadable::from_record(dead[0]).unwrap();
    assert_eq!(kept.body(), garbage.as_bytes());
    assert_eq!(
        kept.pointer.as_deref(),
        Some("/entry/0/changes/0/value/messages/0/timestamp")
    );
    assert!(matches!(
        webhook().reread(dead[0]),
        Err(RereadError::Unreadable(_))
    ));
    drop(ctx);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A body kept by an older version that this one reads: replaying gives its records.
#[test]
fn reread_gives_the_records_of_a_body_this_version_reads() {
    let body = fixture_text("multi_entry.json");
    let kept = Unreadable::new("whatsapp", body.as_bytes(), "an older parser failed").to_record();
    let records = webhook().reread(&kept).unwrap();
    let direct = webhook().handle(&signed_post(&body)).records;
    assert_eq!(records, direct);
    let other = Unreadable::new("timelines", body.as_bytes(), "x").to_record();
    assert!(matches!(
        webhook().reread(&other),
        Err(RereadError::NotWhatsApp(_))
    ));
}
