//! Flow hot paths: planning one record through a 7-field mapping, and processing 10,000
//! records end to end against the in-memory HTTP client.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use futures_util::FutureExt;
use hubflow::http::RecordingClient;
use hubflow::http_target::HttpTarget;
use hubflow::lookup::MapDirectory;
use hubflow::{
    Context, DeliveryPolicy, FieldMap, Flow, Lookup, ManualClock, MemoryStore, Record, Rule,
};
use serde_json::json;

fn bench_rule() -> Rule {
    Rule::parse(&json!({"all": [
        {"field": "user_assigned", "op": "eq", "value": "Jonas Campos", "case_insensitive": true},
        {"field": "id_status_work_order", "op": "in", "value": [1, 2]}
    ]}))
    .expect("the bench rule is valid")
}

fn bench_map() -> FieldMap {
    FieldMap::new(json!({
        "to": "{{ responsible_phone | phone('BR') }}",
        "template": "wo_assignment",
        "language": "pt_BR",
        "body": [
            "{{ user_assigned }}",
            "{{ wo_folio }}",
            "{{ task_todo_description | truncate(60) }}",
            "{{ creation_date | date('%d/%m/%Y %H:%M', 'America/Sao_Paulo') }}",
            "{{ created_by | upper }}",
            "{{ item_description | default('-') }}"
        ]
    }))
    .expect("the bench mapping is valid")
}

fn flow() -> Flow {
    Flow::builder("bench")
        .when(bench_rule())
        .map(bench_map())
        .target(HttpTarget::new(
            "https://hooks.example.com/wo".parse().expect("valid URL"),
        ))
        .delivery(DeliveryPolicy::default().max_in_flight(8))
        .build()
        .expect("the bench flow is valid")
}

fn record(i: usize) -> Record {
    Record::new(
        format!("fracttal:wo:{i}:1"),
        "fracttal.work_order",
        json!({
            "id_work_orders_tasks": i, "id_status_work_order": 1, "wo_folio": format!("OT-{i}"),
            "user_assigned": "Jonas Campos", "responsible_phone": "(11) 99999-1234",
            "task_todo_description": "Replace the air filter of chiller 2 and check the refrigerant pressure",
            "creation_date": "2026-03-02T11:15:00+00:00", "created_by": "Ana Souza",
            "item_description": "Chiller 2 - Building A"
        }),
    )
}

fn plan_one(c: &mut Criterion) {
    let flow = flow();
    let record = record(1);
    let ctx = Context::new(
        RecordingClient::new(),
        ManualClock::new("2026-03-02T12:00:00Z".parse().expect("valid instant")),
        MemoryStore::new(),
    );
    // Without lookups the plan does no I/O: its future is ready at the first poll.
    c.bench_function("plan: condition + 7-field map + prepare, one record", |b| {
        b.iter(|| {
            flow.plan(&ctx, std::hint::black_box(&record))
                .now_or_never()
                .expect("a plan without lookups is ready at once")
        })
    });
    // The same flow resolving the phone through a map directory, answered from its cache
    // after the first record: what a lookup adds to every record.
    let staff = MapDirectory::new([("Jonas Campos", json!("(11) 99999-1234"))]);
    let with_lookup = Flow::builder("bench-lookup")
        .when(bench_rule())
        .lookup(Lookup::new("user_assigned", "responsible_phone", staff))
        .map(bench_map())
        .target(HttpTarget::new(
            "https://hooks.example.com/wo".parse().expect("valid URL"),
        ))
        .build()
        .expect("the bench flow is valid");
    let mut unlisted = record.clone();
    if let Some(data) = unlisted.data.as_object_mut() {
        data.remove("responsible_phone");
    }
    c.bench_function("plan: the same, phone from a cached map lookup", |b| {
        b.iter(|| {
            with_lookup
                .plan(&ctx, std::hint::black_box(&unlisted))
                .now_or_never()
                .expect("a map lookup is ready at once")
        })
    });
}

fn process_10k(c: &mut Criterion) {
    let flow = flow();
    let records: Vec<Record> = (0..10_000).map(record).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("process");
    group.sample_size(10);
    group.throughput(Throughput::Elements(records.len() as u64));
    group.bench_function("10,000 records, in-memory client, max_in_flight 8", |b| {
        b.to_async(&runtime).iter_batched(
            // A fresh store and client per run, or every record after the first run would
            // be a duplicate and nothing would be sent.
            || {
                let ctx = Context::new(
                    RecordingClient::new(),
                    ManualClock::new("2026-03-02T12:00:00Z".parse().expect("valid instant")),
                    MemoryStore::new(),
                );
                (ctx, records.clone())
            },
            |(ctx, records)| {
                let flow = &flow;
                async move {
                    let report = flow.process(&ctx, records).await;
                    assert_eq!(report.counts.delivered, 10_000);
                    report
                }
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, plan_one, process_10k);
criterion_main!(benches);
