//! Flow hot paths: planning records through a 7-field mapping (with the phone-number
//! library's share shown beside it), and processing 10,000 records end to end against the
//! in-memory HTTP client.

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use futures_util::FutureExt;
use hubflow::http::RecordingClient;
use hubflow::http_target::HttpTarget;
use hubflow::lookup::MapDirectory;
use hubflow::{
    Context, DeliveryPolicy, FieldMap, Flow, Lookup, ManualClock, MemoryStore, Plan, Record, Rule,
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

/// How many distinct records the plan benchmarks cycle through.
const VARIED: usize = 1_024;

/// Record `i` of a set that differs in every mapped field: phones of several area codes
/// written in several ways, instants spread over a year in several offsets, descriptions
/// of different lengths (some cut by `truncate(60)`, some not), the assignee's name in
/// different letter cases (so the case-insensitive `eq` cannot short-cut on equal text),
/// and an item description that is sometimes missing or `null` (so `default` works).
fn varied_record(i: usize) -> Record {
    const AREAS: [u32; 8] = [11, 21, 31, 41, 51, 61, 71, 85];
    const NAMES: [&str; 6] = [
        "Ana Souza",
        "Bruno Lima",
        "Carla Dias",
        "Diego Rocha",
        "Elisa Prado",
        "Fábio Nunes",
    ];
    let area = AREAS[i % AREAS.len()];
    let subscriber = 9_6000_0000 + (i as u32 * 7_919) % 4000_0000;
    let (high, low) = (subscriber / 10_000, subscriber % 10_000);
    let phone = match i % 3 {
        0 => format!("({area}) {high}-{low:04}"),
        1 => format!("+55 {area} {high} {low:04}"),
        _ => format!("{area}{subscriber}"),
    };
    let assignee: String = "Jonas Campos"
        .chars()
        .enumerate()
        .map(|(at, c)| {
            if (i >> (at % 10)) & 1 == 1 {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            }
        })
        .collect();
    let offset = ["+00:00", "-03:00", "Z", "+01:00"][i % 4];
    let date = format!(
        "2026-{:02}-{:02}T{:02}:{:02}:{:02}{offset}",
        i % 12 + 1,
        i % 28 + 1,
        i % 24,
        (i * 7) % 60,
        (i * 13) % 60
    );
    let mut data = json!({
        "id_work_orders_tasks": i,
        "id_status_work_order": 1 + i % 2,
        "wo_folio": format!("OT-{}", 10_000 + i),
        "user_assigned": assignee,
        "responsible_phone": phone,
        "task_todo_description": format!(
            "{} {i}{}",
            ["Replace the air filter of chiller", "Check pump", "Inspect the fire door of floor"][i % 3],
            " and check the refrigerant pressure".repeat(i % 3)
        ),
        "creation_date": date,
        "created_by": format!("{} {i}", NAMES[i % NAMES.len()]),
        "item_description": format!("Chiller {i} - Building {}", (b'A' + (i % 26) as u8) as char),
    });
    match i % 8 {
        3 => data["item_description"] = serde_json::Value::Null,
        5 => {
            if let Some(data) = data.as_object_mut() {
                data.remove("item_description");
            }
        }
        _ => {}
    }
    Record::new(format!("fracttal:wo:{i}:1"), "fracttal.work_order", data)
}

/// The bench mapping with `to` copied as written instead of through `phone('BR')`: the
/// plan without the phone-number library.
fn map_without_phone() -> FieldMap {
    let mut shape = bench_map().shape().clone();
    shape["to"] = json!("{{ responsible_phone }}");
    FieldMap::new(shape).expect("the bench mapping is valid")
}

/// What the `phone('BR')` filter asks of the phone-number library for one number: read it
/// as a Brazilian number, check it against the metadata, write it in E.164.
fn phone_library(raw: &str) -> String {
    let digits: String = raw
        .chars()
        .filter(|c| c.is_ascii_digit() || *c == '+')
        .collect();
    let number = phonenumber::parse(Some(phonenumber::country::Id::BR), &digits)
        .expect("the bench numbers parse");
    assert!(phonenumber::is_valid(&number));
    number.format().mode(phonenumber::Mode::E164).to_string()
}

fn plan_one(c: &mut Criterion) {
    let flow = flow();
    let records: Vec<Record> = (0..VARIED).map(varied_record).collect();
    let ctx = Context::new(
        RecordingClient::new(),
        ManualClock::new("2026-03-02T12:00:00Z".parse().expect("valid instant")),
        MemoryStore::new(),
    );
    let without_phone = Flow::builder("bench-no-phone")
        .when(bench_rule())
        .map(map_without_phone())
        .target(HttpTarget::new(
            "https://hooks.example.com/wo".parse().expect("valid URL"),
        ))
        .build()
        .expect("the bench flow is valid");
    // Every varied record passes the rule and maps: the benchmarks time whole plans.
    for record in &records {
        for flow in [&flow, &without_phone] {
            let plan = flow.plan(&ctx, record).now_or_never();
            assert!(
                matches!(plan, Some(Ok(Plan::Send(_)))),
                "{}: {plan:?}",
                record.key
            );
        }
    }
    let mut group = c.benchmark_group("plan");
    // Without lookups the plan does no I/O: its future is ready at the first poll.
    group.bench_function(
        "condition + 7-field map + prepare, 1,024 varied records",
        |b| {
            let mut next = records.iter().cycle();
            b.iter(|| {
                let record = next.next().expect("a cycle never ends");
                flow.plan(&ctx, std::hint::black_box(record))
                    .now_or_never()
                    .expect("a plan without lookups is ready at once")
            })
        },
    );
    group.bench_function("the same, `to` copied without phone('BR')", |b| {
        let mut next = records.iter().cycle();
        b.iter(|| {
            let record = next.next().expect("a cycle never ends");
            without_phone
                .plan(&ctx, std::hint::black_box(record))
                .now_or_never()
                .expect("a plan without lookups is ready at once")
        })
    });
    let phones: Vec<&str> = records
        .iter()
        .filter_map(|record| record.get("responsible_phone")?.as_str())
        .collect();
    group.bench_function("phone library alone: parse + is_valid + E.164", |b| {
        let mut next = phones.iter().cycle();
        b.iter(|| {
            phone_library(std::hint::black_box(
                next.next().expect("a cycle never ends"),
            ))
        })
    });
    // One record planned again and again, as the figures before the varied set were taken.
    let record = record(1);
    group.bench_function("one record repeated", |b| {
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
    group.bench_function("one record, phone from a cached map lookup", |b| {
        b.iter(|| {
            with_lookup
                .plan(&ctx, std::hint::black_box(&unlisted))
                .now_or_never()
                .expect("a map lookup is ready at once")
        })
    });
    group.finish();
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
