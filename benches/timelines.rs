//! TimelinesAI webhook parsing beside its limits, in one run: a plain
//! `serde_json::Value` parse of the same body, and a typed serde model of the facts
//! hubflow reads (unknown fields skipped), next to `timelines::webhook::parse`, which gives
//! the records a flow takes (every field kept, timestamps in UTC, keys made).
//!
//! ```text
//! cargo bench --features timelines --bench timelines
//! ```
//!
//! Bodies: the v2 `message:received:new` event of the fixtures, and a v1 bundle of 100
//! messages built from the fixtures' v1 bundle (each message with its own id).

use std::fmt;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use hubflow::timelines::webhook::parse;
use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{json, Value};

/// An id TimelinesAI sends as a number (v2) or a string (v1).
#[allow(dead_code)] // read by the deserializer only: the model stands for the work
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = Id;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Id, E> {
                Ok(Id(v.to_string()))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Id, E> {
                Ok(Id(v.to_owned()))
            }
        }
        deserializer.deserialize_any(IdVisitor)
    }
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Party {
    full_name: Option<String>,
    phone: Option<String>,
    email: Option<String>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Chat {
    chat_id: Option<Id>,
    full_name: Option<String>,
    phone: Option<String>,
    is_group: Option<bool>,
    responsible_name: Option<String>,
    responsible_email: Option<String>,
    chat_url: Option<String>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Attachment {
    temporary_download_url: Option<String>,
    filename: Option<String>,
    size: Option<u64>,
    mimetype: Option<String>,
}

#[allow(dead_code)]
#[derive(Deserialize)]
struct Message {
    text: Option<String>,
    direction: Option<String>,
    timestamp: Option<String>,
    message_uid: Option<String>,
    message_id: Option<String>,
    reply_to_uid: Option<String>,
    sender: Option<Party>,
    recipient: Option<Party>,
    attachment: Option<Attachment>,
    #[serde(default)]
    attachments: Vec<Attachment>,
}

/// The typed limit: what hubflow reads of v1 and v2 message bodies, unknown fields skipped.
#[allow(dead_code)]
#[derive(Deserialize)]
struct Body {
    event_type: Option<String>,
    chat: Option<Chat>,
    whatsapp_account: Option<Party>,
    message: Option<Message>,
    #[serde(default)]
    messages: Vec<Message>,
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/timelines/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The fixtures' v1 bundle with `n` messages, each with an id of its own.
fn v1_bundle(n: usize) -> Vec<u8> {
    let mut bundle: Value =
        serde_json::from_slice(&fixture("v1_bundle.json")).expect("the v1 bundle fixture");
    let first = bundle["messages"][0].clone();
    let messages: Vec<Value> = (0..n)
        .map(|i| {
            let mut message = first.clone();
            message["message_id"] = json!(format!("ddfskhsd76dsfs6dsd5skj{i:06}"));
            message
        })
        .collect();
    bundle["messages"] = Value::Array(messages);
    serde_json::to_vec(&bundle).expect("a body")
}

fn timelines_webhook(c: &mut Criterion) {
    let mut group = c.benchmark_group("timelines_webhook");
    for (name, body) in [
        ("v2 message", fixture("v2_message_received_new.json")),
        ("v1 bundle of 100", v1_bundle(100)),
    ] {
        assert!(parse(&body).is_ok(), "{name} parses");
        assert!(
            serde_json::from_slice::<Body>(&body).is_ok(),
            "{name} fits the model"
        );
        group.throughput(Throughput::Bytes(body.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("serde_json::Value", name),
            &body,
            |b, body| b.iter(|| serde_json::from_slice::<Value>(std::hint::black_box(body))),
        );
        group.bench_with_input(
            BenchmarkId::new("typed serde model", name),
            &body,
            |b, body| b.iter(|| serde_json::from_slice::<Body>(std::hint::black_box(body))),
        );
        group.bench_with_input(
            BenchmarkId::new("timelines::webhook::parse", name),
            &body,
            |b, body| b.iter(|| parse(std::hint::black_box(body))),
        );
    }
    group.finish();
}

criterion_group!(benches, timelines_webhook);
criterion_main!(benches);
