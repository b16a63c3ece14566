use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::http::RecordingClient;
use crate::http_target::HttpTarget;
use crate::{
    DeliveryPolicy, FieldMap, Flow, ManualClock, MemoryStore, Outcome, ProviderError, RetryPolicy,
    Rule, Stage,
};

fn now() -> DateTime<Utc> {
    "2026-03-02T12:00:00Z".parse().unwrap()
}

/// A directory answering from a script (then from `fallback`), counting the questions.
struct Scripted {
    asked: AtomicU32,
    keys: Mutex<Vec<String>>,
    script: Mutex<VecDeque<Result<Option<Value>, DeliveryError>>>,
    fallback: Option<Value>,
}

impl Scripted {
    fn answering(fallback: Option<Value>) -> Arc<Self> {
        Arc::new(Scripted {
            asked: AtomicU32::new(0),
            keys: Mutex::new(Vec::new()),
            script: Mutex::new(VecDeque::new()),
            fallback,
        })
    }

    fn then(self: Arc<Self>, answer: Result<Option<Value>, DeliveryError>) -> Arc<Self> {
        self.script.lock().unwrap().push_back(answer);
        self
    }

    fn asked(&self) -> u32 {
        self.asked.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl Directory for Scripted {
    async fn find(&self, _ctx: &Context, key: &str) -> Result<Option<Value>, DeliveryError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        self.keys.lock().unwrap().push(key.to_owned());
        match self.script.lock().unwrap().pop_front() {
            Some(answer) => answer,
            None => Ok(self.fallback.clone()),
        }
    }

    fn describe(&self) -> String {
        "the scripted directory".to_owned()
    }
}

fn unavailable() -> DeliveryError {
    ProviderError::new("http", 503, "directory down").into()
}

fn forbidden() -> DeliveryError {
    ProviderError::new("http", 403, "no access").into()
}

fn ctx() -> (Context, ManualClock, RecordingClient) {
    let clock = ManualClock::new(now());
    let http = RecordingClient::new();
    (
        Context::new(http.clone(), clock.clone(), MemoryStore::new()),
        clock,
        http,
    )
}

/// A flow that sends `{"to": <phone>}` for assigned work orders, with these lookups.
fn flow(lookups: Vec<Lookup>) -> Flow {
    let mut builder = Flow::builder("lookups")
        .when(Rule::parse(&json!({"field": "status", "op": "eq", "value": "assigned"})).unwrap())
        .map(FieldMap::new(json!({"to": "{{ phone }}"})).unwrap())
        .target(HttpTarget::new(
            "https://ops.example.com/hook".parse().unwrap(),
        ))
        .delivery(
            DeliveryPolicy::default().retry(
                RetryPolicy::default()
                    .max_attempts(3)
                    .backoff(Duration::from_millis(10), Duration::from_millis(10)),
            ),
        );
    for lookup in lookups {
        builder = builder.lookup(lookup);
    }
    builder.build().unwrap()
}

fn assigned(key: &str, responsible: Value) -> Record {
    Record::new(
        key,
        "wo",
        json!({"status": "assigned", "responsible": responsible}),
    )
}

fn sent_to(http: &RecordingClient) -> Vec<Value> {
    http.requests()
        .iter()
        .map(|r| r.json_body().unwrap()["to"].clone())
        .collect()
}

#[test]
fn a_map_matches_exactly_or_ignoring_case_and_spaces() {
    let exact = MapDirectory::new([("Jonas Campos", json!("1"))]);
    assert_eq!(exact.get("Jonas Campos"), Some(&json!("1")));
    assert_eq!(exact.get("jonas campos"), None);
    let loose = exact.clone().case_insensitive(true);
    assert_eq!(loose.get("  JONAS campos "), Some(&json!("1")));
    assert_eq!(loose.len(), 1);
    assert_eq!(loose.describe(), "a map of 1 entry");
    assert_eq!(
        MapDirectory::new([("a", json!(1)), ("b", json!(2))]).describe(),
        "a map of 2 entries"
    );
}

#[test]
fn an_entry_is_put_at_a_dotted_path_creating_objects_on_the_way() {
    let mut data = json!({"contact": null, "n": 1});
    set_path(&mut data, "contact.whatsapp.phone", json!("55")).unwrap();
    assert_eq!(data["contact"]["whatsapp"]["phone"], "55");
    set_path(&mut data, "phone", json!("66")).unwrap();
    assert_eq!(data["phone"], "66");
    let error = set_path(&mut data, "n.phone", json!("77")).unwrap_err();
    assert_eq!(error, "`n.phone` runs through a number, not an object");
    let mut scalar = json!("text");
    assert!(set_path(&mut scalar, "phone", json!(1)).is_err());
}

#[tokio::test]
async fn a_found_entry_feeds_the_mapper_and_a_miss_is_skipped_with_the_reason() {
    let (ctx, _, http) = ctx();
    let staff = MapDirectory::new([("Jonas Campos", json!("5511999991234"))]);
    let flow = flow(vec![Lookup::new("responsible", "phone", staff)]);
    let report = flow
        .process(
            &ctx,
            vec![
                assigned("a", json!("Jonas Campos")),
                assigned("b", json!("Rafael Costa")),
                assigned("c", json!("")),
                assigned("d", json!(null)),
                assigned("e", json!(["Jonas Campos"])),
            ],
        )
        .await;
    assert_eq!(sent_to(&http), [json!("5511999991234")]);
    let reasons: Vec<String> = report.records[1..]
        .iter()
        .map(|line| match &line.outcome {
            Outcome::Skipped { reason } => reason.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            "lookup `phone`: no entry for `Rafael Costa` in a map of 1 entry",
            "lookup `phone`: `responsible` is empty",
            "lookup `phone`: the record has no `responsible`",
            "lookup `phone`: `responsible` is an array, not a text to look up",
        ]
    );
}

#[tokio::test]
async fn a_number_is_looked_up_as_written() {
    let (ctx, _, http) = ctx();
    let staff = MapDirectory::new([("417", json!("5511999991234"))]);
    let flow = flow(vec![Lookup::new("responsible", "phone", staff)]);
    flow.process(&ctx, vec![assigned("a", json!(417))]).await;
    assert_eq!(sent_to(&http), [json!("5511999991234")]);
}

#[tokio::test]
async fn under_on_missing_fail_a_miss_is_a_permanent_dead_letter_at_the_lookup_stage() {
    let (ctx, _, http) = ctx();
    let staff = MapDirectory::new([("Jonas Campos", json!("5511999991234"))]);
    let flow = flow(vec![
        Lookup::new("responsible", "phone", staff).on_missing(OnMissing::Fail)
    ]);
    let report = flow
        .process(&ctx, vec![assigned("b", json!("Rafael Costa"))])
        .await;
    let Outcome::Failed {
        failure,
        retryable,
        attempts,
    } = &report.records[0].outcome
    else {
        panic!("{:?}", report.records[0].outcome)
    };
    assert_eq!(failure.stage, Stage::Lookup);
    assert_eq!(
        failure.message,
        "lookup `phone`: no entry for `Rafael Costa` in a map of 1 entry"
    );
    assert!(!retryable);
    assert_eq!(*attempts, 0);
    // Nothing is lost: the record, as it came in, is the dead letter.
    let kept = report.records[0].record.as_ref().unwrap();
    assert_eq!(kept.get("responsible"), Some(&json!("Rafael Costa")));
    assert!(http.requests().is_empty());
}

#[tokio::test]
async fn a_skipped_record_costs_no_lookup() {
    let (ctx, _, _) = ctx();
    let directory = Scripted::answering(Some(json!("1")));
    let flow = flow(vec![Lookup::with_directory(
        "responsible",
        "phone",
        directory.clone(),
    )]);
    let mut closed = assigned("a", json!("Jonas Campos"));
    closed.data["status"] = json!("closed");
    let report = flow.process(&ctx, vec![closed]).await;
    assert!(matches!(report.records[0].outcome, Outcome::Skipped { .. }));
    assert_eq!(directory.asked(), 0);
}

#[tokio::test]
async fn answers_found_or_not_are_cached_for_the_ttl_on_the_context_clock() {
    let (ctx, clock, http) = ctx();
    let directory = Scripted::answering(Some(json!("5511999991234")))
        .then(Ok(None))
        .then(Ok(Some(json!("5511999991234"))));
    let flow = flow(vec![Lookup::with_directory(
        "responsible",
        "phone",
        directory.clone(),
    )
    .cache_for(Duration::from_secs(60))]);
    let batch = |prefix: &str| {
        (0..3)
            .map(|i| assigned(&format!("{prefix}{i}"), json!("Rafael Costa")))
            .collect::<Vec<_>>()
    };
    // The miss is kept too: three records for someone unknown ask once.
    let first = flow.process(&ctx, batch("a")).await;
    assert_eq!(first.counts.skipped, 3);
    assert_eq!(directory.asked(), 1);
    clock.advance(Duration::from_secs(59));
    flow.process(&ctx, batch("b")).await;
    assert_eq!(directory.asked(), 1);
    // After the TTL the directory is asked again, and now knows the person.
    clock.advance(Duration::from_secs(1));
    let later = flow.process(&ctx, batch("c")).await;
    assert_eq!(later.counts.delivered, 3);
    assert_eq!(directory.asked(), 2);
    assert_eq!(http.requests().len(), 3);
}

#[tokio::test]
async fn a_zero_ttl_asks_for_every_record() {
    let (ctx, _, _) = ctx();
    let directory = Scripted::answering(Some(json!("1")));
    let flow = flow(vec![Lookup::with_directory(
        "responsible",
        "phone",
        directory.clone(),
    )
    .cache_for(Duration::ZERO)]);
    flow.process(
        &ctx,
        vec![assigned("a", json!("X")), assigned("b", json!("X"))],
    )
    .await;
    assert_eq!(directory.asked(), 2);
}

#[tokio::test]
async fn a_full_cache_drops_its_oldest_key() {
    let (ctx, _, _) = ctx();
    let directory = Scripted::answering(Some(json!("1")));
    let flow = flow(vec![Lookup::with_directory(
        "responsible",
        "phone",
        directory.clone(),
    )
    .cache_capacity(2)]);
    for (key, who) in [("a", "A"), ("b", "B"), ("c", "C"), ("d", "B"), ("e", "A")] {
        flow.process(&ctx, vec![assigned(key, json!(who))]).await;
    }
    // A, B, C asked; B still cached; A was dropped when C came, so asked again.
    assert_eq!(*directory.keys.lock().unwrap(), ["A", "B", "C", "A"]);
}

#[tokio::test]
async fn a_directory_that_fails_for_a_while_is_retried_with_the_flows_retry_policy() {
    let (ctx, clock, http) = ctx();
    let directory = Scripted::answering(Some(json!("5511999991234")))
        .then(Err(unavailable()))
        .then(Err(unavailable()));
    let flow = flow(vec![Lookup::with_directory(
        "responsible",
        "phone",
        directory.clone(),
    )]);
    let report = flow
        .process(&ctx, vec![assigned("a", json!("Jonas Campos"))])
        .await;
    assert_eq!(report.counts.delivered, 1, "{:?}", report.records);
    assert_eq!(directory.asked(), 3);
    assert_eq!(clock.sleeps().len(), 2);
    assert_eq!(sent_to(&http), [json!("5511999991234")]);
}

#[tokio::test]
async fn a_directory_that_stays_down_fails_the_record_retryably_and_is_not_cached() {
    let (ctx, _, http) = ctx();
    let directory = Scripted::answering(Some(json!("5511999991234")))
        .then(Err(unavailable()))
        .then(Err(unavailable()))
        .then(Err(unavailable()));
    let flow = flow(vec![Lookup::with_directory(
        "responsible",
        "phone",
        directory.clone(),
    )]);
    let report = flow
        .process(&ctx, vec![assigned("a", json!("Jonas Campos"))])
        .await;
    let Outcome::Failed {
        failure, retryable, ..
    } = &report.records[0].outcome
    else {
        panic!("{:?}", report.records[0].outcome)
    };
    assert_eq!(failure.stage, Stage::Lookup);
    assert_eq!(failure.status, Some(503));
    assert!(*retryable);
    assert_eq!(
        failure.cause::<ProviderError>().map(|e| e.status),
        Some(503)
    );
    assert!(
        failure.message.starts_with("lookup `phone`: "),
        "{}",
        failure.message
    );
    assert!(http.requests().is_empty());
    // The error was not kept: the next record asks again, and is sent.
    let next = flow
        .process(&ctx, vec![assigned("a", json!("Jonas Campos"))])
        .await;
    assert_eq!(next.counts.delivered, 1);
    assert_eq!(directory.asked(), 4);
}

#[tokio::test]
async fn a_permanent_directory_error_is_not_retried() {
    let (ctx, _, _) = ctx();
    let directory = Scripted::answering(None).then(Err(forbidden()));
    let flow = flow(vec![Lookup::with_directory(
        "responsible",
        "phone",
        directory.clone(),
    )]);
    let report = flow.process(&ctx, vec![assigned("a", json!("X"))]).await;
    assert!(matches!(
        &report.records[0].outcome,
        Outcome::Failed { retryable: false, failure, .. } if failure.status == Some(403)
    ));
    assert_eq!(directory.asked(), 1);
}

#[tokio::test]
async fn a_later_lookup_reads_what_an_earlier_one_added() {
    let (ctx, _, http) = ctx();
    let people = MapDirectory::new([("Jonas Campos", json!({"id": "P-7"}))]);
    let phones = MapDirectory::new([("P-7", json!("5511999991234"))]);
    let flow = flow(vec![
        Lookup::new("responsible", "person", people),
        Lookup::new("person.id", "phone", phones),
    ]);
    flow.process(&ctx, vec![assigned("a", json!("Jonas Campos"))])
        .await;
    assert_eq!(sent_to(&http), [json!("5511999991234")]);
}

#[tokio::test]
async fn an_entry_that_cannot_be_placed_fails_the_record() {
    let (ctx, _, _) = ctx();
    let staff = MapDirectory::new([("Jonas Campos", json!("1"))]);
    let flow = flow(vec![Lookup::new("responsible", "status.phone", staff)]);
    let report = flow
        .process(&ctx, vec![assigned("a", json!("Jonas Campos"))])
        .await;
    let Outcome::Failed { failure, .. } = &report.records[0].outcome else {
        panic!("{:?}", report.records[0].outcome)
    };
    assert_eq!(
        failure.message,
        "lookup `status.phone`: `status.phone` runs through a string, not an object"
    );
}

#[tokio::test]
async fn the_plan_and_the_dry_run_show_what_the_lookups_found() {
    let (ctx, _, http) = ctx();
    let staff = MapDirectory::new([("Jonas Campos", json!("5511999991234"))]);
    let flow = flow(vec![Lookup::new("responsible", "phone", staff)]);
    let record = assigned("a", json!("Jonas Campos"));
    let crate::Plan::Send(action) = flow.plan(&ctx, &record).await.unwrap() else {
        panic!()
    };
    assert_eq!(action.to_json()["body"]["to"], "5511999991234");
    let dry = flow
        .dry_run(&ctx, vec![record, assigned("b", json!("Rafael Costa"))])
        .await;
    assert_eq!(
        serde_json::to_value(&dry.records[0].lookups).unwrap(),
        json!([{"into": "phone", "key": "Jonas Campos", "found": "5511999991234", "cached": true}])
    );
    assert_eq!(
        serde_json::to_value(&dry.records[1].lookups).unwrap(),
        json!([{"into": "phone", "key": "Rafael Costa", "cached": false,
                "missing": "no entry for `Rafael Costa` in a map of 1 entry"}])
    );
    assert!(http.requests().is_empty());
}

#[test]
fn a_lookup_with_empty_fields_does_not_build() {
    let staff = MapDirectory::new([("a", json!(1))]);
    let errors = Flow::builder("x")
        .lookup(Lookup::new(" ", "", staff))
        .target(HttpTarget::new(
            "https://ops.example.com/hook".parse().unwrap(),
        ))
        .build()
        .unwrap_err();
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/lookup/0/field", "/lookup/0/into"]);
}

#[test]
fn debug_shows_the_directory_by_its_description() {
    let lookup = Lookup::new(
        "responsible",
        "phone",
        directory_fn("the technicians file", |_| None),
    );
    let shown = format!("{lookup:?}");
    assert!(shown.contains("the technicians file"), "{shown}");
}

/// A directory that takes a few polls to answer, so that records in flight together
/// overlap on it.
struct Slow {
    asked: AtomicU32,
}

#[async_trait]
impl Directory for Slow {
    async fn find(&self, _ctx: &Context, _key: &str) -> Result<Option<Value>, DeliveryError> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        for _ in 0..5 {
            tokio::task::yield_now().await;
        }
        Ok(Some(json!("5511999991234")))
    }
}

#[tokio::test]
async fn records_in_flight_together_share_one_question() {
    let (ctx, _, http) = ctx();
    let slow = Arc::new(Slow {
        asked: AtomicU32::new(0),
    });
    let flow = Flow::builder("together")
        .lookup(Lookup::with_directory("responsible", "phone", slow.clone()))
        .map(FieldMap::new(json!({"to": "{{ phone }}"})).unwrap())
        .target(HttpTarget::new(
            "https://ops.example.com/hook".parse().unwrap(),
        ))
        .delivery(DeliveryPolicy::default().max_in_flight(8))
        .build()
        .unwrap();
    let records = (0..8)
        .map(|i| assigned(&format!("r{i}"), json!("Jonas Campos")))
        .collect();
    let report = flow.process(&ctx, records).await;
    assert_eq!(report.counts.delivered, 8);
    assert_eq!(slow.asked.load(Ordering::SeqCst), 1);
    assert_eq!(http.requests().len(), 8);
}
