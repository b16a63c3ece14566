//! Delivery against the bare limit: `Flow::process` with the WhatsApp template target,
//! `ReqwestClient` and `MemoryStore`, beside a bare reqwest loop posting the same JSON to the
//! same in-process stand-in of Graph's `/messages`, in one process, in alternating rounds.
//!
//! The flow runs with the default report policy (a line per record, the whole report in
//! the run history) and with `"report": {"lines": "failed"}`, the setting for bulk runs
//! (docs/deployment.md), whose history entry holds the counts and the failures only.
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
//! Before the rounds, one streaming run (`Flow::process_stream`) sends 1,000,000 records
//! (`HUBFLOW_BENCH_STREAM` sets another number; 0 skips it) made as the run reads them, to
//! the same stand-in, 64 in flight, and prints the process's peak resident memory
//! (`VmHWM`) before and after it. Its claims go to a store that answers every claim as new
//! and keeps nothing: the memory of a million claims is the store's (`MemoryStore` holds
//! every key in memory, `SqliteStore` and `PgStore` on disk), and this measures the flow's.
//!
//! The bare side is what a hand-written client does per send: build the body as JSON,
//! serialize it, post it with the bearer token, read the answer and parse it to find the
//! message id. The stand-in answers at once, as Graph does, with `contacts` and `messages`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use criterion::{Criterion, SamplingMode, Throughput};
use futures_util::stream::{self, StreamExt};
use hubflow::http::ReqwestClient;
use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget};
use hubflow::{
    Claim, ClaimStore, Context, DeliveryPolicy, FieldMap, Flow, MemoryStore, Receipt, Record,
    ReportLines, ReportPolicy, StoreError, TokioClock,
};
use secrecy::SecretString;
use serde_json::json;

#[path = "support/graph.rs"]
mod graph;
use graph::stand_in;

/// Sends per round.
const N: u64 = 2_000;
/// The WhatsApp number the sends go from.
const PHONE_ID: &str = "106540352242922";

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
            graph::bare_send(client, url, &body).await;
        }
    });
    stream::iter(sends)
        .buffer_unordered(in_flight)
        .collect::<Vec<()>>()
        .await;
    started.elapsed()
}

/// The flow: a WhatsApp template to the record's recipient with two body parameters.
fn flow(base_url: &str, in_flight: usize, lines: ReportLines) -> Flow {
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
        .report(ReportPolicy::default().lines(lines))
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

/// Claims that are always new and completions that are dropped: a store of no size.
struct NoClaims;

#[async_trait]
impl ClaimStore for NoClaims {
    async fn claim(&self, _: &str, _: &str, _: DateTime<Utc>) -> Result<Claim, StoreError> {
        Ok(Claim::Acquired)
    }
    async fn reclaim(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn complete(&self, _: &str, _: &str, _: &Receipt) -> Result<(), StoreError> {
        Ok(())
    }
    async fn release(&self, _: &str, _: &str) -> Result<(), StoreError> {
        Ok(())
    }
    async fn peek_claim(&self, _: &str, _: &str) -> Result<Option<Claim>, StoreError> {
        Ok(None)
    }
}

/// A line of `/proc/self/status` in kibibytes (`VmHWM`, `VmRSS`); `None` off Linux.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(
        || "unavailable".to_owned(),
        |kib| format!("{:.1} MiB", kib as f64 / 1024.0),
    )
}

/// One streaming run of `n` records, made as the run reads them.
async fn stream_run(base: &str, client: &ReqwestClient, n: u64) {
    let flow = flow(base, 64, ReportLines::Failed);
    let ctx = Context::new(client.clone(), TokioClock, MemoryStore::new()).with_claims(NoClaims);
    let records = stream::iter(0..n).map(|n| {
        Record::new(
            format!("stream:{n}"),
            "bench.work_order",
            json!({"phone": phone(n), "name": "Jonas Campos", "folio": format!("OT-{n}")}),
        )
    });
    let before = status_kib("VmHWM:");
    let started = Instant::now();
    let mut run = flow.process_stream(&ctx, records);
    let mut lines = 0u64;
    while run.next().await.is_some() {
        lines += 1;
    }
    let report = run.finish().await;
    let took = started.elapsed();
    assert_eq!(report.counts.delivered as u64, n, "{:?}", report.counts);
    assert_eq!(lines, n);
    eprintln!(
        "stream: {n} records through Flow::process_stream in {:.1} s ({:.0} sends/s); \
         peak RSS {} before, {} after (p50 {} ms, p99 {} ms a record)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        mib(before),
        mib(status_kib("VmHWM:")),
        report.timings.p50_ms,
        report.timings.p99_ms,
    );
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
    let streamed = std::env::var("HUBFLOW_BENCH_STREAM")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    if streamed > 0 {
        // First, while the process's peak is still its start-up's.
        runtime.block_on(stream_run(&base, &hubflow_client, streamed));
    }
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
        for (in_flight, lines) in [
            (8usize, ReportLines::All),
            (64, ReportLines::All),
            (8, ReportLines::Failed),
            (64, ReportLines::Failed),
        ] {
            let flow = flow(&base, in_flight, lines);
            let report = match lines {
                ReportLines::Failed => "failed_lines",
                _ => "all_lines",
            };
            let bare_times = Mutex::new(Vec::new());
            let flow_times = Mutex::new(Vec::new());
            group.bench_function(
                format!("flow_process/{report}/{in_flight}_in_flight"),
                |b| {
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
                },
            );
            let (bare, took) = (
                bare_times.into_inner().expect("not poisoned"),
                flow_times.into_inner().expect("not poisoned"),
            );
            // Empty when a filter on the command line left this benchmark out.
            if !took.is_empty() {
                summary.push((report, in_flight, rate(median(bare)), rate(median(took))));
            }
        }
        group.finish();
    }
    criterion.final_summary();
    eprintln!(
        "\ndelivery, medians of alternating rounds of {N} sends ({} sends in all):",
        sent.load(Ordering::Relaxed)
    );
    eprintln!(
        "| report lines | in flight | bare reqwest sends/s | flow.process sends/s | flow ÷ bare |"
    );
    eprintln!("|---|---|---|---|---|");
    for (report, in_flight, bare, flow) in summary {
        eprintln!(
            "| {report} | {in_flight} | {bare:.0} | {flow:.0} | {:.2} |",
            flow / bare
        );
    }
}
