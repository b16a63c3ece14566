//! WhatsApp hot paths: webhook parsing throughput next to the typed serde limit (a
//! skip-unknown model of the same facts) and a plain `serde_json::Value` parse of the same
//! bodies, in one run; and building a template request from a mapped payload.
//!
//! `cargo bench --bench whatsapp -- webhook`. Meta's official webhook examples are read in
//! place from `HUBFLOW_CONFORMANCE_DIR` (the `conformance` folder holding `whatsapp/`), or
//! from `../shared/conformance` beside the crate; without them that group is skipped.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hubflow::whatsapp::webhook::parse;
use hubflow::whatsapp::{MessageKind, OutgoingMessage};
use serde_json::{json, Value};

/// The limit: a typed serde model of the facts hubflow reads from `messages` changes
/// (owned strings, unknown fields skipped, serde's default), parsed straight from the body.
/// It keeps no unknown fields and names no pointer on errors, so it is the floor of what a
/// parser that does both can cost.
// The fields are only parsed, never read: the point is what parsing them costs.
#[allow(dead_code)]
mod limit {
    use serde::Deserialize;

    #[derive(Deserialize)]
    pub struct Body {
        pub object: String,
        pub entry: Vec<Entry>,
    }

    #[derive(Deserialize)]
    pub struct Entry {
        pub id: String,
        pub time: Option<i64>,
        #[serde(default)]
        pub changes: Vec<Change>,
    }

    #[derive(Deserialize)]
    pub struct Change {
        pub field: String,
        pub value: Value,
    }

    #[derive(Deserialize)]
    pub struct Value {
        pub metadata: Option<Metadata>,
        #[serde(default)]
        pub contacts: Vec<Contact>,
        #[serde(default)]
        pub messages: Vec<Message>,
        #[serde(default)]
        pub statuses: Vec<Status>,
        #[serde(default)]
        pub errors: Vec<Error>,
    }

    #[derive(Deserialize)]
    pub struct Metadata {
        pub display_phone_number: Option<String>,
        pub phone_number_id: String,
    }

    #[derive(Deserialize)]
    pub struct Contact {
        pub wa_id: Option<String>,
        pub user_id: Option<String>,
        pub profile: Option<Profile>,
    }

    #[derive(Deserialize)]
    pub struct Profile {
        pub name: Option<String>,
        pub username: Option<String>,
        pub country_code: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Message {
        pub from: Option<String>,
        pub from_user_id: Option<String>,
        pub id: String,
        pub timestamp: String,
        #[serde(rename = "type")]
        pub kind: Option<String>,
        pub context: Option<Context>,
        pub text: Option<Text>,
        pub button: Option<Button>,
        pub reaction: Option<Reaction>,
        pub interactive: Option<Interactive>,
        pub image: Option<Media>,
        pub audio: Option<Media>,
        pub video: Option<Media>,
        pub document: Option<Media>,
        pub sticker: Option<Media>,
        #[serde(default)]
        pub errors: Vec<Error>,
    }

    #[derive(Deserialize)]
    pub struct Context {
        pub from: Option<String>,
        pub id: Option<String>,
        pub forwarded: Option<bool>,
        pub frequently_forwarded: Option<bool>,
    }

    #[derive(Deserialize)]
    pub struct Text {
        pub body: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Button {
        pub payload: Option<String>,
        pub text: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Reaction {
        pub message_id: Option<String>,
        pub emoji: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Interactive {
        #[serde(rename = "type")]
        pub kind: Option<String>,
        pub button_reply: Option<Reply>,
        pub list_reply: Option<Reply>,
    }

    #[derive(Deserialize)]
    pub struct Reply {
        pub id: Option<String>,
        pub title: Option<String>,
        pub description: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Media {
        pub id: Option<String>,
        pub mime_type: Option<String>,
        pub sha256: Option<String>,
        pub caption: Option<String>,
        pub filename: Option<String>,
        pub voice: Option<bool>,
        pub animated: Option<bool>,
    }

    #[derive(Deserialize)]
    pub struct Status {
        pub id: String,
        pub status: String,
        pub timestamp: String,
        pub recipient_id: Option<String>,
        pub biz_opaque_callback_data: Option<String>,
        pub pricing: Option<Pricing>,
        pub conversation: Option<Conversation>,
        #[serde(default)]
        pub errors: Vec<Error>,
    }

    #[derive(Deserialize)]
    pub struct Pricing {
        pub billable: Option<bool>,
        pub pricing_model: Option<String>,
        pub category: Option<String>,
        #[serde(rename = "type")]
        pub kind: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Conversation {
        pub id: Option<String>,
        pub expiration_timestamp: Option<String>,
        pub origin: Option<Origin>,
    }

    #[derive(Deserialize)]
    pub struct Origin {
        #[serde(rename = "type")]
        pub kind: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct Error {
        pub code: i64,
        pub title: Option<String>,
        pub message: Option<String>,
        pub error_data: Option<ErrorData>,
        pub href: Option<String>,
    }

    #[derive(Deserialize)]
    pub struct ErrorData {
        pub details: Option<String>,
    }

    /// Parses a body the way the limit does.
    pub fn parse(body: &[u8]) -> Result<Body, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

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
        assert!(limit::parse(&body).is_ok(), "the limit reads {name}");
        group.bench_with_input(
            BenchmarkId::new("typed serde (limit)", name),
            &body,
            |b, body| b.iter(|| limit::parse(std::hint::black_box(body))),
        );
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

/// Meta's official webhook examples, each a whole body; `None` when the data is absent.
fn official_examples() -> Option<Vec<(String, Vec<u8>)>> {
    let root = std::env::var_os("HUBFLOW_CONFORMANCE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../shared/conformance"
            ))
        });
    let dir = root.join("whatsapp").join("webhooks");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    let bodies = files
        .iter()
        .filter_map(|path| {
            let name = path.file_name()?.to_string_lossy().into_owned();
            Some((name, std::fs::read(path).ok()?))
        })
        .collect::<Vec<_>>();
    (!bodies.is_empty()).then_some(bodies)
}

/// The official examples one after the other, each parser on all of them.
fn official_suite(c: &mut Criterion) {
    let Some(examples) = official_examples() else {
        println!("webhook, official examples: skipped, the conformance data is not there (set HUBFLOW_CONFORMANCE_DIR)");
        return;
    };
    for (name, body) in &examples {
        assert!(limit::parse(body).is_ok(), "the limit reads {name}");
        assert!(parse(body).is_ok(), "hubflow reads {name}");
    }
    let bodies: Vec<&[u8]> = examples.iter().map(|(_, body)| body.as_slice()).collect();
    let bytes: usize = bodies.iter().map(|b| b.len()).sum();
    let mut group = c.benchmark_group(format!("webhook, {} official examples", bodies.len()));
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("typed serde (limit)", |b| {
        b.iter(|| {
            for body in &bodies {
                let _ = limit::parse(std::hint::black_box(body));
            }
        })
    });
    group.bench_function("serde_json::Value", |b| {
        b.iter(|| {
            for body in &bodies {
                let _ = serde_json::from_slice::<Value>(std::hint::black_box(body));
            }
        })
    });
    group.bench_function("whatsapp::webhook::parse", |b| {
        b.iter(|| {
            for body in &bodies {
                let _ = parse(std::hint::black_box(body));
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

criterion_group!(
    benches,
    webhook_parsing,
    official_suite,
    peer_suite,
    template_building
);
criterion_main!(benches);
