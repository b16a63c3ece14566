//! TimelinesAI webhook intake: every payload form from the fixtures, record keys and their
//! stability, duplicates through a real flow, the webhook's replies, and typed errors.
#![cfg(feature = "timelines")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use hubflow::http::{HttpRequest, Method, RecordingClient};
use hubflow::timelines::webhook::{self, parse, WebhookError};
use hubflow::timelines::TimelinesWebhook;
use hubflow::{
    Context, DeliveryError, Flow, InboundRequest, ManualClock, MemoryStore, Outcome, Receipt,
    Record, Target, TargetError, WebhookSource,
};
use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{json, Value};

const TOKEN: &str = "5b0f3c1e9a7d4f2b8c6e1a3d5f7b9c2e";

fn bytes(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/timelines/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn json_of(name: &str) -> Value {
    serde_json::from_slice(&bytes(name)).expect("fixtures are JSON")
}

fn records(name: &str) -> Vec<Record> {
    parse(&bytes(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn one(name: &str) -> Record {
    let mut all = records(name);
    assert_eq!(all.len(), 1, "{name}: {all:?}");
    all.remove(0)
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("a valid instant")
}

fn is_hash_key(key: &str, prefix: &str) -> bool {
    key.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == 16
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

// --- v1 -------------------------------------------------------------------------------------

#[test]
fn v1_single_message_from_the_reference_becomes_one_record() {
    let record = one("v1_single.json");
    let raw = json_of("v1_single.json");
    assert_eq!(record.kind, "timelines.message");
    assert!(
        is_hash_key(&record.key, "timelines:msg:"),
        "no message_uid, so a hash key: {}",
        record.key
    );
    assert_eq!(record.occurred_at, Some(utc("2021-02-24T06:25:29Z")));
    let d = &record.data;
    assert_eq!(d["format"], "v1");
    assert_eq!(d["event_type"], Value::Null);
    assert_eq!(d["message_uid"], Value::Null);
    assert_eq!(d["message_id"], "ddfskhsd76dsfs6dsd5skjsdhf");
    assert_eq!(d["direction"], "sent");
    assert_eq!(d["text"], "lorem ipsum");
    assert_eq!(d["timestamp"], "2021-02-24T06:25:29Z");
    assert_eq!(d["chat"]["id"], "10010001");
    assert_eq!(
        d["chat"]["name"], "John Doe>",
        "kept as sent, odd `>` included"
    );
    assert_eq!(d["chat"]["phone"], "+97251111111");
    assert_eq!(
        d["chat"]["url"],
        "https://app.timelines.ai/chat/10010001/messages/"
    );
    assert_eq!(d["chat"]["is_group"], false);
    assert_eq!(d["chat"]["is_new_chat"], true);
    assert_eq!(d["chat"]["responsible_name"], "Amnon");
    assert_eq!(d["chat"]["responsible_email"], "Amnon@acme.com");
    assert_eq!(
        d["chat"]["chat_id"], "10010001",
        "TimelinesAI's own names are kept"
    );
    assert_eq!(d["sender"]["name"], "John Doe");
    assert_eq!(d["sender"]["phone"], "+972540000000");
    assert_eq!(d["recipient"]["name"], "Jane Smith");
    assert_eq!(d["recipient"]["phone"], "+972550000000");
    assert_eq!(d["whatsapp_account"]["phone"], "+972500000000");
    assert_eq!(d["whatsapp_account"]["name"], "Amnon Haha");
    assert_eq!(d["whatsapp_account"]["email"], "Amnon@acme.com");
    let attachments = d["attachments"].as_array().expect("an array");
    assert_eq!(attachments.len(), 1);
    assert_eq!(attachments[0]["url"], "https://acme.com/path");
    assert_eq!(attachments[0]["filename"], "someimage.png");
    assert_eq!(attachments[0]["size"], 128909);
    assert_eq!(attachments[0]["mime_type"], "image/png");
    assert_eq!(d["bundle"], Value::Null);
    assert_eq!(d["raw"], raw["message"], "the raw message object is kept");
    assert!(d.get("extra").is_none(), "no unknown top-level fields");
    // Templates address the data by dotted paths.
    assert_eq!(record.get("chat.phone"), Some(&json!("+97251111111")));
    assert_eq!(
        record.get("attachments.0.mime_type"),
        Some(&json!("image/png"))
    );
}

#[test]
fn v1_bundle_from_the_reference_gives_one_record_per_message_with_the_bundle_context() {
    let all = records("v1_bundle.json");
    let raw = json_of("v1_bundle.json");
    assert_eq!(all.len(), 2);
    let aggregation = raw["aggregation"].as_str().expect("a string");
    for (i, record) in all.iter().enumerate() {
        assert_eq!(record.kind, "timelines.message");
        assert!(is_hash_key(&record.key, "timelines:msg:"), "{}", record.key);
        let d = &record.data;
        assert_eq!(d["format"], "v1_bundle");
        assert_eq!(d["chat"]["id"], "10010001");
        assert_eq!(d["chat"]["phone"], "+97254000000");
        assert_eq!(d["whatsapp_account"]["phone"], "+972500000000");
        assert_eq!(d["bundle"]["aggregation"], aggregation, "verbatim HTML");
        assert!(aggregation.contains("</h>"));
        assert_eq!(
            d["bundle"]["first_message_timestamp"],
            "2021-02-24T16:25:29Z"
        );
        assert_eq!(
            d["bundle"]["last_message_timestamp"],
            "2021-02-24T16:30:29Z"
        );
        assert_eq!(d["bundle"]["count"], 2);
        assert_eq!(d["bundle"]["index"], i);
        assert_eq!(d["raw"], raw["messages"][i]);
    }
    assert_eq!(all[0].data["direction"], "sent");
    assert_eq!(all[1].data["direction"], "received");
    assert_eq!(all[0].occurred_at, Some(utc("2021-02-24T16:25:29Z")));
    assert_eq!(all[1].occurred_at, Some(utc("2021-02-24T16:30:29Z")));
    assert_eq!(all[0].data["attachments"][0]["filename"], "someimage.png");
    assert_eq!(all[1].data["attachments"], json!([]));
    assert_ne!(
        all[0].key, all[1].key,
        "same text and message_id, different messages"
    );
}

#[test]
fn hash_keys_are_stable_across_parses_and_releases() {
    let first: Vec<String> = records("v1_bundle.json")
        .into_iter()
        .map(|r| r.key)
        .collect();
    let again: Vec<String> = records("v1_bundle.json")
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(first, again, "the same bundle twice gives the same keys");
    // Pinned (FNV-1a 64 of the length-prefixed chat id, UTC timestamp, direction and text,
    // computed independently): hosts store keys, so a change here breaks their deduplication.
    assert_eq!(
        first,
        [
            "timelines:msg:eac8af89865bf64c",
            "timelines:msg:11f02fc0ac56382d"
        ]
    );
    // Whitespace and key order do not matter; the content does.
    let mut reordered = json_of("v1_bundle.json");
    reordered["messages"][0]["text"] = json!("lorem ipsum");
    let compact = serde_json::to_vec(&reordered).expect("serializes");
    let keys: Vec<String> = parse(&compact)
        .expect("parses")
        .into_iter()
        .map(|r| r.key)
        .collect();
    assert_eq!(keys, first);
    reordered["messages"][0]["text"] = json!("lorem ipsum!");
    let changed = parse(&serde_json::to_vec(&reordered).expect("serializes")).expect("parses");
    assert_ne!(changed[0].key, first[0]);
    assert_eq!(changed[1].key, first[1]);
}

#[test]
fn a_message_keys_the_same_alone_and_in_a_bundle() {
    // "Don't aggregate" delivers at once; an hourly bundle may repeat the message later.
    let single = json!({
        "chat": {"chat_id": "10010001"},
        "message": {"direction": "received", "timestamp": "2021-02-24T16:30:29+0000", "text": "lorem ipsum"}
    });
    let bundle = json!({
        "chat": {"chat_id": 10010001},
        "messages": [{"direction": "received", "timestamp": "2021-02-24 18:30:29 +0200", "text": "lorem ipsum"}]
    });
    let a = parse(single.to_string().as_bytes()).expect("parses");
    let b = parse(bundle.to_string().as_bytes()).expect("parses");
    assert_eq!(a[0].key, b[0].key);
    assert_eq!(a[0].key, records("v1_bundle.json")[1].key);
}

#[test]
fn message_uid_is_the_key_when_present() {
    let all = records("v1_bundle_with_uids.json");
    assert_eq!(all[0].key, "11111111-2222-4333-8444-555555555555");
    assert_eq!(all[1].key, "66666666-7777-4888-8999-000000000000");
    assert_eq!(all[0].data["chat"]["is_group"], true);
    assert_eq!(
        all[0].data["chat"]["phone"], "",
        "empty for groups, as sent"
    );
    assert_eq!(
        all[1].data["attachments"][0]["url"],
        "https://acme.com/route.png"
    );
}

// --- v2 -------------------------------------------------------------------------------------

#[test]
fn v2_message_event_from_the_reference() {
    let record = one("v2_message_received_new.json");
    let raw = json_of("v2_message_received_new.json");
    assert_eq!(record.kind, "timelines.message");
    assert_eq!(record.key, "a5bbb005-37f2-402c-96fa-e479a2e09b02");
    assert_eq!(record.occurred_at, Some(utc("2024-01-15T08:30:00Z")));
    let d = &record.data;
    assert_eq!(d["format"], "v2");
    assert_eq!(d["event_type"], "message:received:new");
    assert_eq!(d["message_uid"], "a5bbb005-37f2-402c-96fa-e479a2e09b02");
    assert_eq!(d["direction"], "received");
    assert_eq!(d["text"], "Hi, here is the signed contract");
    assert_eq!(d["timestamp"], "2024-01-15T08:30:00Z");
    assert_eq!(
        d["received_timestamp"],
        Value::Null,
        "missing from the example"
    );
    assert_eq!(d["origin"], "WhatsApp");
    assert_eq!(d["reply_to_uid"], "c7ec509d-0171-1ead-a84b-c6943a644768");
    assert_eq!(d["chat"]["id"], "123456", "an integer id becomes text");
    assert_eq!(d["chat"]["chat_id"], 123456, "and is kept as sent");
    assert_eq!(d["chat"]["name"], "John Doe");
    assert_eq!(d["chat"]["responsible_name"], "Agent Brown");
    assert_eq!(d["sender"]["phone"], "+15551234567");
    assert_eq!(d["whatsapp_account"]["phone"], "+15559876543");
    assert_eq!(
        d["attachments"],
        json!([{
            "temporary_download_url": "https://example.s3.amazonaws.com/att/...",
            "filename": "contract.pdf", "size": 1234567, "mimetype": "application/pdf",
            "url": "https://example.s3.amazonaws.com/att/...", "mime_type": "application/pdf"
        }])
    );
    assert_eq!(d["reactions"], json!({"👍": "2", "❤️": "1"}));
    assert_eq!(d["raw"], raw["message"]);
}

#[test]
fn v2_direction_comes_from_the_message_before_the_event_name() {
    // The docs show a received message labelled `message:new`.
    let received = one("v2_message_new_received.json");
    assert_eq!(received.data["event_type"], "message:new");
    assert_eq!(received.data["direction"], "received");
    assert_eq!(received.occurred_at, Some(utc("2024-01-08T08:35:18Z")));
    assert_eq!(received.data["received_timestamp"], "2024-01-08T08:35:19Z");
    assert_eq!(received.data["attachments"], json!([]));

    // No `direction` field: the event name says it.
    let sent = one("v2_message_sent_new.json");
    assert_eq!(sent.data["direction"], "sent");
    assert_eq!(sent.key, "5f1d2c3b-4a59-4e6f-8a7b-9c0d1e2f3a4b");
    assert_eq!(sent.data["timestamp"], "2024-01-08T08:40:00Z");
    assert_eq!(sent.data["received_timestamp"], "2024-01-08T08:40:01Z");
    let attachments = sent.data["attachments"].as_array().expect("an array");
    assert_eq!(attachments.len(), 2);
    assert_eq!(
        attachments[1]["size"], 90112,
        "a numeric string size is read"
    );
    assert_eq!(attachments[1]["mime_type"], "image/jpeg");

    // A message that says otherwise wins over the event name.
    let mut contradicting = json_of("v2_message_sent_new.json");
    contradicting["message"]["direction"] = json!("received");
    let record = &parse(contradicting.to_string().as_bytes()).expect("parses")[0];
    assert_eq!(record.data["direction"], "received");
}

#[test]
fn v2_chat_events_in_every_spelling() {
    let cases = [
        ("chat:created", "created", None),
        ("chat:new", "created", None),
        ("chat:received:created", "created", Some("received")),
        ("chat:incoming:new", "created", Some("received")),
        ("chat:sent:created", "created", Some("sent")),
        ("chat:outgoing:new", "created", Some("sent")),
        ("chat:assigned", "assigned", None),
        ("chat:responsible:assigned", "assigned", None),
        ("chat:unassigned", "unassigned", None),
        ("chat:responsible:unassigned", "unassigned", None),
    ];
    let mut keys = std::collections::HashSet::new();
    for (event_type, event, direction) in cases {
        let name = format!("v2_{}.json", event_type.replace(':', "_"));
        let record = one(&name);
        assert_eq!(record.kind, "timelines.chat", "{name}");
        assert!(
            is_hash_key(&record.key, "timelines:chat:"),
            "{}",
            record.key
        );
        assert_eq!(record.data["event_type"], event_type);
        assert_eq!(record.data["event"], event, "{name}");
        assert_eq!(record.data["direction"], json!(direction), "{name}");
        assert_eq!(record.data["chat"]["id"], "7788");
        assert_eq!(record.data["chat"]["phone"], "+5511999991234");
        assert_eq!(
            record.data["chat"]["responsible_email"],
            "agent-brown@example.com"
        );
        assert_eq!(record.data["whatsapp_account"]["name"], "Agent Brown");
        assert_eq!(record.data["raw"], json_of(&name));
        assert_eq!(one(&name).key, record.key, "a redelivery is a duplicate");
        assert!(keys.insert(record.key), "distinct events, distinct keys");
    }
}

#[test]
fn other_v2_events_are_kept_as_events_never_as_messages() {
    let reaction = one("v2_message_reaction.json");
    assert_eq!(reaction.kind, "timelines.event");
    assert!(
        is_hash_key(&reaction.key, "timelines:event:"),
        "{}",
        reaction.key
    );
    assert_ne!(
        reaction.key, "0b0c6a0e-3d43-4c52-9a5e-2f7b1b7d9c11",
        "a reaction must not take the reacted message's key, or it would hide it"
    );
    assert_eq!(
        reaction.data["chat"]["phone"], "5511999991234",
        "bare digits kept"
    );
    assert_eq!(reaction.data["raw"], json_of("v2_message_reaction.json"));

    let disconnected = one("v2_whatsapp_account_disconnected.json");
    assert_eq!(disconnected.kind, "timelines.event");
    assert_eq!(
        disconnected.data["event_type"],
        "whatsapp:account:disconnected"
    );
    assert_eq!(disconnected.data["whatsapp_account"]["name"], "Agent Brown");
    assert_eq!(disconnected.data["chat"], Value::Null);
}

// --- tolerance ------------------------------------------------------------------------------

fn v1_at(timestamp: &str) -> Record {
    let body = json!({
        "chat": {"chat_id": "1"},
        "message": {"direction": "received", "text": "x", "timestamp": timestamp}
    });
    parse(body.to_string().as_bytes())
        .expect("parses")
        .remove(0)
}

#[test]
fn every_timestamp_form_becomes_the_same_utc_instant() {
    let at = utc("2024-01-08T08:35:18Z");
    for form in [
        "2024-01-08T08:35:18+0000",
        "2024-01-08 10:35:18 +0200",
        "2024-01-08T10:35:18+02:00",
        "2024-01-08T08:35:18Z",
        "2024-01-08 05:35:18 -0300",
        "2024-01-08 08:35:18",
    ] {
        let record = v1_at(form);
        assert_eq!(record.occurred_at, Some(at), "{form}");
        assert_eq!(record.data["timestamp"], "2024-01-08T08:35:18Z", "{form}");
    }
}

#[test]
fn unknown_fields_and_alternative_spellings_are_kept() {
    let body = json!({
        "chat": {"id": 42, "name": "Ops", "label_color": "red"},
        "whatsapp_account": {"phone": "+15559876543", "account_name": "Main"},
        "message": {
            "direction": "incoming",
            "timestamp": "2024-01-08T08:35:18Z",
            "text": "hello",
            "uid": "u-1",
            "mood": "urgent",
            "attachments": [{"download_url": "https://x/y.pdf", "file_name": "y.pdf", "mime_type": "application/pdf"}]
        },
        "workspace_id": 9
    });
    let record = parse(body.to_string().as_bytes())
        .expect("parses")
        .remove(0);
    let d = &record.data;
    assert_eq!(record.key, "u-1");
    assert_eq!(d["direction"], "received");
    assert_eq!(d["chat"]["id"], "42");
    assert_eq!(d["chat"]["name"], "Ops");
    assert_eq!(d["chat"]["label_color"], "red");
    assert_eq!(d["chat"]["is_group"], Value::Null);
    assert_eq!(d["whatsapp_account"]["name"], "Main");
    assert_eq!(d["raw"]["mood"], "urgent");
    assert_eq!(d["extra"], json!({"workspace_id": 9}));
    assert_eq!(d["attachments"][0]["url"], "https://x/y.pdf");
    assert_eq!(d["attachments"][0]["filename"], "y.pdf");
    assert_eq!(d["attachments"][0]["mime_type"], "application/pdf");
    assert_eq!(d["attachments"][0]["size"], Value::Null);
    assert_eq!(d["sender"], Value::Null);
}

// --- errors ---------------------------------------------------------------------------------

fn error_of(body: &[u8]) -> WebhookError {
    match parse(body) {
        Ok(records) => panic!(
            "expected an error for {:?}, got {records:?}",
            String::from_utf8_lossy(body)
        ),
        Err(e) => e,
    }
}

#[test]
fn malformed_json_is_located() {
    let e = error_of(br#"{"chat": {"chat_id": "1"}, "message": {"text": nope}}"#);
    assert!(matches!(e, WebhookError::Malformed { .. }), "{e:?}");
    assert_eq!(e.path(), Some("/message/text"));
    assert!(
        e.to_string().starts_with("/message/text: not valid JSON"),
        "{e}"
    );

    let e = error_of(b"{\"chat\": {}} trailing");
    assert!(matches!(e, WebhookError::Malformed { .. }), "{e:?}");
    assert_eq!(e.http_status(), 400);

    let e = error_of(b"\xff\xfe");
    assert!(matches!(e, WebhookError::Malformed { .. }), "{e:?}");
}

#[test]
fn truncated_payloads_are_told_apart_from_malformed_ones() {
    let full = bytes("v1_bundle.json");
    let cut = &full[..full.len() / 2];
    let e = error_of(cut);
    let WebhookError::Truncated { path, line, .. } = &e else {
        panic!("expected Truncated, got {e:?}");
    };
    assert!(path.starts_with("/messages/0"), "{path}");
    assert!(*line > 1);
    let e = error_of(b"");
    assert!(matches!(e, WebhookError::Truncated { .. }), "{e:?}");
    assert_eq!(e.path(), Some(""));
}

#[test]
fn wrong_types_name_their_path() {
    let single = json_of("v1_single.json");
    let bundle = json_of("v1_bundle.json");
    let v2 = json_of("v2_message_received_new.json");
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!([1, 2]), "", "a JSON object"),
        (
            with(&v2, "/event_type", json!(5)),
            "/event_type",
            "a string",
        ),
        (
            with(&bundle, "/messages", json!({"0": {}})),
            "/messages",
            "an array",
        ),
        (
            with(&bundle, "/messages/1", json!("hi")),
            "/messages/1",
            "an object",
        ),
        (
            with(&bundle, "/messages/1/sender", json!("John")),
            "/messages/1/sender",
            "an object",
        ),
        (
            with(&single, "/chat", json!("10010001")),
            "/chat",
            "an object",
        ),
        (
            with(&single, "/chat/chat_id", json!(true)),
            "/chat/chat_id",
            "a string or a number",
        ),
        (
            with(&single, "/chat/is_group", json!("no")),
            "/chat/is_group",
            "a boolean",
        ),
        (
            with(&single, "/message/text", json!(["a"])),
            "/message/text",
            "a string",
        ),
        (
            with(&single, "/message/attachment/size", json!("big")),
            "/message/attachment/size",
            "a whole number of bytes",
        ),
        (
            with(&single, "/message/attachment/size", json!(-1)),
            "/message/attachment/size",
            "a whole number of bytes",
        ),
        (
            with(&single, "/message/timestamp", json!(1614183929)),
            "/message/timestamp",
            "a timestamp string",
        ),
        (
            with(&v2, "/message/attachments", json!({})),
            "/message/attachments",
            "an array",
        ),
        (
            with(&v2, "/message/attachments/0", json!("x.pdf")),
            "/message/attachments/0",
            "an object",
        ),
        (
            with(&v2, "/message/reactions", json!(["👍"])),
            "/message/reactions",
            "an object",
        ),
        (
            with(&v2, "/whatsapp_account", json!(7)),
            "/whatsapp_account",
            "an object",
        ),
        (
            with(&v2, "/message", json!("hello")),
            "/message",
            "an object",
        ),
    ];
    for (body, path, expected) in cases {
        let e = error_of(body.to_string().as_bytes());
        match &e {
            WebhookError::WrongType {
                path: p,
                expected: x,
                ..
            } => {
                assert_eq!((p.as_str(), *x), (path, expected), "{body}");
            }
            other => panic!("{body}: expected WrongType at {path}, got {other:?}"),
        }
        assert_eq!(e.http_status(), 400);
        assert!(e.to_string().contains(expected), "{e}");
        assert!(
            !e.to_string().contains("lorem"),
            "content never echoed: {e}"
        );
    }
}

/// `value` with the field at `pointer` replaced (or added).
fn with(value: &Value, pointer: &str, new: Value) -> Value {
    let mut value = value.clone();
    if pointer.is_empty() {
        return new;
    }
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer");
    match value.pointer_mut(parent).expect("the parent exists") {
        Value::Object(map) => {
            map.insert(key.to_owned(), new);
        }
        Value::Array(items) => {
            items[key.parse::<usize>().expect("an index")] = new;
        }
        _ => panic!("{pointer}: not a container"),
    }
    value
}

#[test]
fn missing_parts_and_unknown_shapes_are_errors() {
    let v2 = json_of("v2_message_received_new.json");
    let mut no_message = v2.clone();
    no_message
        .as_object_mut()
        .expect("object")
        .remove("message");
    let e = error_of(no_message.to_string().as_bytes());
    assert_eq!(
        e,
        WebhookError::Missing {
            path: "/message".into()
        },
        "event_type alone is not enough"
    );

    let mut no_chat = json_of("v1_single.json");
    no_chat.as_object_mut().expect("object").remove("chat");
    assert_eq!(
        error_of(no_chat.to_string().as_bytes()),
        WebhookError::Missing {
            path: "/chat".into()
        }
    );

    let e = error_of(br#"{"chat": {"chat_id": "1"}, "hello": "world"}"#);
    assert!(matches!(e, WebhookError::NotTimelines { .. }), "{e:?}");
    assert_eq!(e.path(), Some(""));

    let e = error_of(br#"{"event_type": "Hello World", "chat": {}}"#);
    assert!(matches!(e, WebhookError::UnknownEvent { .. }), "{e:?}");
    assert_eq!(e.path(), Some("/event_type"));

    let bad = with(
        &json_of("v1_bundle.json"),
        "/messages/1/timestamp",
        json!("yesterday"),
    );
    let e = error_of(bad.to_string().as_bytes());
    assert_eq!(
        e,
        WebhookError::InvalidTimestamp {
            path: "/messages/1/timestamp".into(),
            value: "yesterday".into()
        }
    );
    let bad = with(
        &json_of("v1_bundle.json"),
        "/last_message_timestamp",
        json!("2021-02-30 10:00"),
    );
    assert_eq!(
        error_of(bad.to_string().as_bytes()).path(),
        Some("/last_message_timestamp")
    );
}

#[test]
fn deep_nesting_is_refused_without_exhausting_the_stack() {
    for body in [
        "[".repeat(100_000),
        format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000)),
        format!(
            "{{\"chat\": {{}}, \"message\": {{\"raw\": {}1{}}}}}",
            "[".repeat(120),
            "]".repeat(120)
        ),
    ] {
        let result = std::thread::Builder::new()
            // Half of a tokio worker's default 2 MiB; JSON nesting stops at 128 levels
            // (serde_json's limit), well within it even in a debug build.
            .stack_size(1024 * 1024)
            .spawn(move || parse(body.as_bytes()).map(|r| r.len()))
            .expect("a thread")
            .join()
            .expect("no stack overflow");
        match result {
            Ok(n) => assert_eq!(n, 1, "120 levels inside a message are fine"),
            Err(e) => assert!(matches!(e, WebhookError::Malformed { .. }), "{e:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&body);
    }

    #[test]
    fn parse_never_panics_on_damaged_payloads(
        which in 0usize..4,
        cut in 0usize..4096,
        flip in 0usize..4096,
        byte in any::<u8>(),
    ) {
        let name = ["v1_single.json", "v1_bundle.json", "v2_message_received_new.json", "v2_chat_new.json"][which];
        let full = bytes(name);
        let mut damaged = full.clone();
        let at = flip % damaged.len();
        damaged[at] = byte;
        let _ = parse(&damaged);
        // Cut before the closing brace, a payload can never parse.
        let end = full.iter().rposition(|b| *b == b'}').expect("an object");
        let truncated = &full[..cut % end];
        prop_assert!(parse(truncated).is_err());
    }

    #[test]
    fn parse_never_panics_on_arbitrary_json_in_known_places(
        text in "\\PC{0,40}",
        number in any::<f64>(),
        flag in any::<bool>(),
        slot in 0usize..8,
    ) {
        let values = [json!(text), json!(number), json!(flag), json!(null), json!([text]), json!({"k": text})];
        let value = values[slot % values.len()].clone();
        let pointers = ["/chat/chat_id", "/message/timestamp", "/message/attachment", "/message/direction",
                        "/message/sender/phone", "/whatsapp_account", "/message/attachment/size", "/event_type"];
        let body = with(&json_of("v1_single.json"), pointers[slot], value);
        let _ = parse(body.to_string().as_bytes());
    }
}

// --- the webhook source ---------------------------------------------------------------------

fn webhook() -> TimelinesWebhook {
    TimelinesWebhook::new(SecretString::from(TOKEN))
}

fn post(target: &str, body: Vec<u8>) -> InboundRequest {
    InboundRequest::new(Method::Post, target, body).header("Content-Type", "application/json")
}

#[test]
fn a_parsed_body_is_answered_200_with_its_records() {
    let reply = webhook().handle(&post(
        &format!("/hooks/timelines?token={TOKEN}"),
        bytes("v1_bundle.json"),
    ));
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body, "");
    assert_eq!(reply.records, records("v1_bundle.json"));
    // Other query parameters do not matter.
    let reply = webhook().handle(&post(
        &format!("/hooks/timelines?source=v2&token={TOKEN}"),
        bytes("v2_chat_new.json"),
    ));
    assert_eq!((reply.status, reply.records.len()), (200, 1));
}

#[test]
fn only_a_wrong_or_missing_token_is_answered_401() {
    let body = bytes("v1_single.json");
    let near_misses = [
        "/hooks/timelines".to_owned(),
        "/hooks/timelines?token=".to_owned(),
        "/hooks/timelines?token=guess".to_owned(),
        format!("/hooks/timelines?token={}", &TOKEN[..TOKEN.len() - 1]),
        format!("/hooks/timelines?token={TOKEN}0"),
        format!("/hooks/timelines?token={}", TOKEN.to_uppercase()),
        format!("/hooks/timelines?tok={TOKEN}"),
        format!("/hooks/timelines/{TOKEN}"),
    ];
    for target in near_misses {
        let reply = webhook().handle(&post(&target, body.clone()));
        assert_eq!(reply.status, 401, "{target}");
        assert!(reply.records.is_empty());
        assert!(!reply.body.contains(TOKEN), "the token is never echoed");
    }
    // A webhook configured with an empty token accepts nothing.
    let open = TimelinesWebhook::new(SecretString::from(""));
    assert_eq!(
        open.handle(&post("/hooks/timelines?token=", body)).status,
        401
    );
    assert!(!format!("{:?}", webhook()).contains(TOKEN));
}

/// TimelinesAI disables a webhook after 10 answers in a row other than 200: a body with the
/// right token that is not a TimelinesAI payload is answered 200 and kept whole.
#[test]
fn a_body_that_is_not_a_timelines_payload_is_answered_200_and_kept_with_the_reason() {
    let target = format!("/hooks/timelines?token={TOKEN}");
    for (body, needle, pointer) in [
        (
            b"{\"hello\": \"world\"}".to_vec(),
            "not a TimelinesAI webhook",
            "",
        ),
        (b"not json".to_vec(), "not valid JSON", ""),
        (
            b"{\"chat\": {}, \"messages\": [{\"text\": 1}]}".to_vec(),
            "/messages/0/text",
            "/messages/0/text",
        ),
    ] {
        let reply = webhook().handle(&post(&target, body.clone()));
        assert_eq!(reply.status, 200);
        assert_eq!(reply.records.len(), 1);
        let kept = hubflow::Unreadable::from_record(&reply.records[0]).unwrap();
        assert_eq!(kept.source, "timelines");
        assert!(kept.error.contains(needle), "{}", kept.error);
        assert_eq!(kept.pointer.as_deref(), Some(pointer));
        assert_eq!(kept.body(), &body[..], "kept byte for byte");
        // Still unreadable by this version, and said so again.
        let again = webhook().reread(&reply.records[0]).unwrap_err();
        assert!(again.to_string().contains(needle), "{again}");
    }
    // A kept body this version reads replays into its records.
    let readable = bytes("v1_single.json");
    let kept =
        hubflow::Unreadable::new("timelines", readable.clone(), "an older parser").to_record();
    let direct = webhook().handle(&post(&target, readable)).records;
    assert_eq!(webhook().reread(&kept).unwrap(), direct);
    let whatsapp = hubflow::Unreadable::new("whatsapp", b"{}".to_vec(), "x").to_record();
    assert!(webhook().reread(&whatsapp).is_err());
}

#[test]
fn a_body_over_the_limit_is_answered_413_but_only_with_the_right_token() {
    let body = bytes("v1_bundle.json");
    let small = webhook().max_body_bytes(256);
    let reply = small.handle(&post(
        &format!("/hooks/timelines?token={TOKEN}"),
        body.clone(),
    ));
    assert_eq!(reply.status, 413);
    assert!(reply.body.contains("256"), "{}", reply.body);
    // The token is checked first: a stranger learns nothing about the limit.
    let reply = small.handle(&post("/hooks/timelines?token=guess", body.clone()));
    assert_eq!(reply.status, 401);
    // Exactly at the limit is accepted.
    let exact = webhook().max_body_bytes(body.len());
    assert_eq!(
        exact
            .handle(&post(&format!("/hooks/timelines?token={TOKEN}"), body))
            .status,
        200
    );
    assert_eq!(webhook::DEFAULT_MAX_BODY_BYTES, 4 * 1024 * 1024);
}

// --- duplicates through a real flow ---------------------------------------------------------

/// A target that counts deliveries and sends nothing.
#[derive(Clone, Default)]
struct Counting(Arc<AtomicUsize>);

#[async_trait]
impl Target for Counting {
    type Action = HttpRequest;

    fn prepare(&self, record: &Record, payload: &Value) -> Result<HttpRequest, TargetError> {
        HttpRequest::post_json(
            "https://erp.example.com/requests".parse().expect("a URL"),
            payload,
        )
        .map(|r| r.header("X-Key", record.key.clone()))
        .map_err(|e| TargetError::InvalidPayload(e.to_string()))
    }

    async fn deliver(
        &self,
        _ctx: &Context,
        _record: &hubflow::Record,
        request: &HttpRequest,
    ) -> Result<Receipt, DeliveryError> {
        let n = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        let key = request.headers.get("x-key").unwrap_or_default();
        Ok(Receipt::new(201).with_id(format!("WR-{n}-{key}")))
    }
}

#[tokio::test]
async fn a_bundle_delivered_twice_is_processed_once() {
    let target = Counting::default();
    let flow = Flow::builder("timelines-to-erp")
        .target(target.clone())
        .build()
        .expect("the flow builds");
    let ctx = Context::new(
        RecordingClient::new(),
        ManualClock::new(common::start_instant()),
        MemoryStore::new(),
    );
    let hook = webhook();
    let request = post(
        &format!("/hooks/timelines?token={TOKEN}"),
        bytes("v1_bundle.json"),
    );

    let first = hook.handle(&request);
    let report = flow.process(&ctx, first.records).await;
    assert_eq!(report.counts.delivered, 2);
    assert_eq!(target.0.load(Ordering::SeqCst), 2);

    // TimelinesAI sends the same bundle again (a retry, or the next hourly window repeating it).
    let second = hook.handle(&request);
    assert_eq!(second.status, 200, "a duplicate is still answered 200");
    let report = flow.process(&ctx, second.records).await;
    assert_eq!(report.counts.duplicate, 2, "{report:?}");
    assert_eq!(report.counts.delivered, 0);
    assert_eq!(
        target.0.load(Ordering::SeqCst),
        2,
        "nothing delivered twice"
    );
    for line in &report.records {
        let receipt = common::duplicate(&line.outcome).expect("the first receipt is kept");
        assert!(receipt
            .id
            .as_deref()
            .is_some_and(|id| id.starts_with("WR-")));
        assert!(matches!(line.outcome, Outcome::Duplicate { .. }));
    }
}
