//! Delivery against the bare limit: `Flow::process` with the WhatsApp template target,
//! `ReqwestClient` and `MemoryStore`, beside a bare reqwest loop posting the same JSON to the
//! same in-process stand-in of Graph's `/messages`, in one process, in alternating rounds.
//!
//! Each measured iteration is a pair of rounds of [`N`] sends: first the bare loop, then the
//! flow (a fresh store per round, so every record is sent), both with the same number in
//! flight (8 and 64), both on one `reqwest::Client`'s connection pool. Criterion reports the
//! flow's rounds; the bare rounds' times are kept beside them, and at the end the bench
//! prints each side's median rate and their ratio, `flow ÷ bare`: the share of the machine's
//! HTTP limit a flow reaches.
//!
//! ```text
//! cargo bench --features whatsapp,reqwest --bench delivery
//! ```
//!
//! The bare side is what a hand-written client does per send: build the body as JSON,
//! serialize it, post it with the bearer token, read the answer and parse it to find the
//! message id. The stand-in answers at once, as Graph does, with `contacts` and `messages`.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::routing::post;
use axum::Router;
use criterion::{Criterion, SamplingMode, Throughput};
use futures_util::stream::{self, StreamExt};
use hubflow::http::ReqwestClient;
use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget};
use hubflow::{Context, DeliveryPolicy, FieldMap, Flow, MemoryStore, Record, TokioClock};
use secrecy::SecretString;
use serde_json::{json, Value};

/// Sends per round.
const N: u64 = 2_000;
/// The WhatsApp number the sends go from.
const PHONE_ID: &str = "106540352242922";

/// A loopback stand-in of Graph's `/messages`, counting what it accepted.
async fn stand_in() -> (String, Arc<AtomicU64>) {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let app = Router::new().route(
        "/v23.0/{phone}/messages",
        post(move |body: Bytes| {
            let counter = counter.clone();
            async move {
                let body: Value = serde_json::from_slice(&body).unwrap_or_default();
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let answer = json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": format!("wamid.bench.{n}")}]
                });
                (
                    [(axum::http::header::CONTENT_TYPE, "application/json")],
                    answer.to_string(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .expect("bind the stand-in");
    let address = listener.local_addr().expect("the stand-in's address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}/"), sent)
}

/// The recipient of send `n`: one of its own per send.
fn phone(n: u64) -> String {
    format!("55119{n:08}")
}

/// One bare round: N template sends, `in_flight` at a time, each answer read and parsed.
async fn bare_round(client: &reqwest::Client, url: &str, round: u64, in_flight: usize) -> Duration {
    let started = Instant::now();
    let sends = (0..N).map(|i| {
        let n = round * N + i;
        async move {
            let body = json!({
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": phone(n),
                "type": "template",
                "template": {
                    "name": "wo_assignment",
                    "language": {"code": "pt_BR"},
                    "components": [{"type": "body", "parameters": [
                        {"type": "text", "text": "Jonas Campos"},
                        {"type": "text", "text": format!("OT-{n}")}
                    ]}]
                },
                "biz_opaque_callback_data": format!("bench:{n}")
            });
            let response = client
                .post(url)
                .bearer_auth("bench-token")
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(&body).expect("the body"))
                .send()
                .await
                .expect("the stand-in answers");
            let bytes = response.bytes().await.expect("the answer's body");
            let answer: Value = serde_json::from_slice(&bytes).expect("a JSON answer");
            assert!(answer["messages"][0]["id"].is_string());
        }
    });
    stream::iter(sends)
        .buffer_unordered(in_flight)
        .collect::<Vec<()>>()
        .await;
    started.elapsed()
}

/// The flow: a WhatsApp template to the record's recipient with two body parameters.
fn flow(base_url: &str, in_flight: usize) -> Flow {
    let connection = WhatsAppConnection::new(PHONE_ID, SecretString::from("bench-token"))
        .base_url(base_url.parse().expect("the stand-in's URL"));
    let map = FieldMap::new(json!({
        "to": "{{ phone }}", "template": "wo_assignment", "language": "pt_BR",
        "body": ["{{ name }}", "{{ folio }}"]
    }))
    .expect("the mapping");
    Flow::builder(format!("bench-delivery-{in_flight}"))
        .map(map)
        // Meta's 80 messages a second per number would make the bench measure the pacer:
        // the number's limit is lifted as far as its pacer allows (the pacer still runs).
        .target(WhatsAppTarget::new(MessageKind::Template, connection).rate_per_second(1e6))
        .delivery(DeliveryPolicy::default().max_in_flight(in_flight))
        .build()
        .expect("the flow")
}

fn records(round: u64) -> Vec<Record> {
    (0..N)
        .map(|i| {
            let n = round * N + i;
            Record::new(
                format!("bench:{n}"),
                "bench.work_order",
                json!({"phone": phone(n), "name": "Jonas Campos", "folio": format!("OT-{n}")}),
            )
        })
        .collect()
}

/// One flow round: a fresh store, so that every record is sent.
async fn flow_round(flow: &Flow, client: &ReqwestClient, round: u64) -> Duration {
    let ctx = Context::new(client.clone(), TokioClock, MemoryStore::new());
    let records = records(round);
    let started = Instant::now();
    let report = flow.process(&ctx, records).await;
    let elapsed = started.elapsed();
    assert_eq!(report.counts.delivered, N as usize, "{:?}", report.counts);
    elapsed
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times.get(times.len() / 2).copied().unwrap_or_default()
}

fn rate(time: Duration) -> f64 {
    N as f64 / time.as_secs_f64()
}

fn main() {
    let mut criterion = Criterion::default().configure_from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (base, sent) = runtime.block_on(stand_in());
    let url = format!("{base}v23.0/{PHONE_ID}/messages");
    // One pool for both sides, built as `ReqwestClient` builds its own.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client");
    let hubflow_client = ReqwestClient::from_client(client.clone());
    let round = AtomicU64::new(0);
    let mut summary = Vec::new();
    {
        let mut group = criterion.benchmark_group("delivery");
        group
            .sample_size(15)
            .sampling_mode(SamplingMode::Flat)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(8))
            .throughput(Throughput::Elements(N));
        for in_flight in [8usize, 64] {
            let flow = flow(&base, in_flight);
            let bare_times = Mutex::new(Vec::new());
            let flow_times = Mutex::new(Vec::new());
            group.bench_function(format!("flow_process/{in_flight}_in_flight"), |b| {
                b.to_async(&runtime).iter_custom(|iters| {
                    let (client, hubflow_client, url) = (&client, &hubflow_client, &url);
                    let (flow, round) = (&flow, &round);
                    let (bare_times, flow_times) = (&bare_times, &flow_times);
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            let bare = bare_round(
                                client,
                                url,
                                round.fetch_add(1, Ordering::Relaxed),
                                in_flight,
                            )
                            .await;
                            let took = flow_round(
                                flow,
                                hubflow_client,
                                round.fetch_add(1, Ordering::Relaxed),
                            )
                            .await;
                            bare_times.lock().expect("not poisoned").push(bare);
                            flow_times.lock().expect("not poisoned").push(took);
                            total += took;
                        }
                        total
                    }
                });
            });
            let bare = median(bare_times.into_inner().expect("not poisoned"));
            let took = median(flow_times.into_inner().expect("not poisoned"));
            summary.push((in_flight, rate(bare), rate(took)));
        }
        group.finish();
    }
    criterion.final_summary();
    eprintln!(
        "\ndelivery, medians of alternating rounds of {N} sends ({} sends in all):",
        sent.load(Ordering::Relaxed)
    );
    eprintln!("| in flight | bare reqwest sends/s | flow.process sends/s | flow ÷ bare |");
    eprintln!("|---|---|---|---|");
    for (in_flight, bare, flow) in summary {
        eprintln!(
            "| {in_flight} | {bare:.0} | {flow:.0} | {:.2} |",
            flow / bare
        );
    }
}
