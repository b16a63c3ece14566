//! WhatsApp hot paths: webhook parsing throughput next to plain JSON parsing of the same
//! bodies, and building a template request from a mapped payload.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hubflow::whatsapp::webhook::parse;
use hubflow::whatsapp::{MessageKind, OutgoingMessage};
use serde_json::{json, Value};

/// A status-heavy body like the ones a busy number receives: `n` statuses in one change.
fn statuses_body(n: usize) -> Vec<u8> {
    let statuses: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "id": format!("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMx{i:06}"),
                "status": "delivered",
                "timestamp": "1750030073",
                "recipient_id": "16505551234",
                "biz_opaque_callback_data": format!("fracttal:wo:{i}:1"),
                "pricing": {"billable": true, "pricing_model": "PMP", "type": "regular", "category": "utility"}
            })
        })
        .collect();
    webhook_body(json!({"statuses": statuses}))
}

/// A body with `n` inbound text messages and their contacts.
fn messages_body(n: usize) -> Vec<u8> {
    let messages: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "from": "16505551234",
                "id": format!("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEw{i:06}"),
                "timestamp": "1749416383",
                "type": "text",
                "text": {"body": "Does it come in another color? The pump in building A is leaking again."}
            })
        })
        .collect();
    webhook_body(json!({
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": messages
    }))
}

fn webhook_body(mut value: Value) -> Vec<u8> {
    value["messaging_product"] = json!("whatsapp");
    value["metadata"] =
        json!({"display_phone_number": "15550783881", "phone_number_id": "106540352242922"});
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "419561257915477", "changes": [{"value": value, "field": "messages"}]}]
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn webhook_parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("webhook");
    for (name, body) in [
        ("1 message", messages_body(1)),
        ("100 messages", messages_body(100)),
        ("100 statuses", statuses_body(100)),
    ] {
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("serde_json::Value", name),
            &body,
            |b, body| b.iter(|| serde_json::from_slice::<Value>(std::hint::black_box(body))),
        );
        group.bench_with_input(
            BenchmarkId::new("whatsapp::webhook::parse", name),
            &body,
            |b, body| b.iter(|| parse(std::hint::black_box(body))),
        );
        group.bench_with_input(
            BenchmarkId::new("parse + to_record", name),
            &body,
            |b, body| {
                b.iter(|| {
                    parse(std::hint::black_box(body))
                        .map(|events| events.iter().map(|e| e.to_record()).collect::<Vec<_>>())
                })
            },
        );
    }
    group.finish();
}

/// pywa's 74 webhook payloads (every change field it knows), each a whole body.
fn peer_payloads() -> Vec<Vec<u8>> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/pywa");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    let mut bodies = Vec::new();
    for path in files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
    {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let cases: serde_json::Map<String, Value> = serde_json::from_str(&text).unwrap_or_default();
        bodies.extend(
            cases
                .values()
                .map(|body| serde_json::to_vec(body).unwrap_or_default()),
        );
    }
    bodies
}

/// Every field, not only `messages`: the 74 peer payloads one after the other.
fn peer_suite(c: &mut Criterion) {
    let bodies = peer_payloads();
    assert_eq!(bodies.len(), 74, "the peer suite is in tests/fixtures/pywa");
    let bytes: usize = bodies.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("webhook, 74 peer payloads");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("serde_json::Value", |b| {
        b.iter(|| {
            for body in &bodies {
                let _ = serde_json::from_slice::<Value>(std::hint::black_box(body));
            }
        })
    });
    group.bench_function("parse + to_record", |b| {
        b.iter(|| {
            for body in &bodies {
                let _ = parse(std::hint::black_box(body))
                    .map(|events| events.iter().map(|e| e.to_record()).collect::<Vec<_>>());
            }
        })
    });
    group.finish();
}

fn template_building(c: &mut Criterion) {
    let payload = json!({
        "to": "5511999991234",
        "template": "wo_assignment",
        "language": "pt_BR",
        "header": {"type": "document", "link": "https://files.example.com/wo/OT-1021.pdf", "filename": "OT-1021.pdf"},
        "body": ["Jonas Campos", "OT-1021", "Replace the air filter of chiller 2", "02/03/2026 08:15", "Ana Souza", "Chiller 2 - Building A"],
        "buttons": [{"sub_type": "quick_reply", "payload": "accept"}, {"sub_type": "quick_reply", "payload": "decline"}]
    });
    c.bench_function("template: from_payload + serialize", |b| {
        b.iter(|| {
            OutgoingMessage::from_payload(MessageKind::Template, std::hint::black_box(&payload))
                .map(|message| serde_json::to_vec(&message))
        })
    });
}

criterion_group!(benches, webhook_parsing, peer_suite, template_building);
criterion_main!(benches);
