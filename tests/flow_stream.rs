//! Streaming runs (`Flow::process_stream`), reports that keep only the failed lines, and
//! runs over a source that hands its backlog over a page at a time (`Batch::more`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use hubflow::http::RecordingClient;
use hubflow::http_target::HttpTarget;
use hubflow::{
    Batch, ClaimStore, Context, Cursor, CursorStore, DeliveryPolicy, FieldMap, Flow, ManualClock,
    MemoryStore, OnUnknown, Outcome, Record, ReportLines, ReportPolicy, Source, SourceError,
};
use serde_json::json;

fn ctx(http: RecordingClient, store: MemoryStore) -> Context {
    let clock = ManualClock::new("2026-03-02T12:00:00Z".parse().unwrap());
    Context::new(http, clock, store)
}

fn target() -> HttpTarget {
    HttpTarget::new("https://erp.example.com/hooks".parse().unwrap())
}

/// Records `0..n`; those whose number is a multiple of 7 have no phone, which the mapping
/// needs, so they fail at `map`.
fn row(i: usize) -> Record {
    let data = if i.is_multiple_of(7) {
        json!({"n": i})
    } else {
        json!({"n": i, "phone": format!("+55 11 9{i:08}")})
    };
    Record::new(format!("row:{i}"), "row", data)
}

fn flow(in_flight: usize, batch: usize) -> Flow {
    Flow::builder("bulk")
        .map(FieldMap::new(json!({"to": "{{ phone }}", "n": "{{ n }}"})).unwrap())
        .target(target())
        .delivery(
            DeliveryPolicy::default()
                .max_in_flight(in_flight)
                .claim_batch(batch),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_stream_yields_every_line_and_reports_counts_timings_and_the_failures_only() {
    for batch in [1, 16] {
        let store = MemoryStore::new();
        let http = RecordingClient::new();
        let ctx = ctx(http.clone(), store.clone());
        let flow = flow(8, batch);
        let mut run = flow.process_stream(&ctx, futures_util::stream::iter((0..1_000).map(row)));
        let mut keys = Vec::new();
        let mut dead = Vec::new();
        while let Some(line) = run.next().await {
            if let Outcome::Failed { .. } = line.outcome {
                dead.extend(line.record.clone());
            }
            keys.push(line.key);
        }
        assert_eq!(run.counts().received, 1_000);
        let report = run.finish().await;
        keys.sort();
        keys.dedup();
        assert_eq!(
            keys.len(),
            1_000,
            "one line per record (claim_batch {batch})"
        );
        let failed = (0..1_000usize).filter(|i| i.is_multiple_of(7)).count();
        assert_eq!(report.counts.failed, failed);
        assert_eq!(report.counts.delivered, 1_000 - failed);
        assert_eq!(report.counts.unknown, 0);
        assert_eq!(http.requests().len(), 1_000 - failed);
        // The report keeps the failed lines, in input order, with their records.
        assert_eq!(report.lines, ReportLines::Failed);
        assert_eq!(report.records.len(), failed);
        let kept: Vec<&str> = report.records.iter().map(|l| l.key.as_str()).collect();
        let expected: Vec<String> = (0..1_000usize)
            .filter(|i| i.is_multiple_of(7))
            .map(|i| format!("row:{i}"))
            .collect();
        assert_eq!(kept, expected);
        assert_eq!(report.dead_letters().count(), failed);
        assert_eq!(dead.len(), failed);
        // The history has the same summary.
        let history = flow.history(&ctx, 1).await.unwrap();
        assert_eq!(history, vec![report]);
    }
}

#[tokio::test]
async fn a_stream_is_read_only_as_fast_as_records_end() {
    for (in_flight, batch) in [(4, 1), (8, 4)] {
        let ctx = ctx(RecordingClient::new(), MemoryStore::new());
        let flow = flow(in_flight, batch);
        let pulled = Arc::new(AtomicUsize::new(0));
        let counter = pulled.clone();
        let rows = futures_util::stream::iter(0..500).map(move |i| {
            counter.fetch_add(1, Ordering::SeqCst);
            row(i)
        });
        let mut run = flow.process_stream(&ctx, rows);
        let mut ended = 0;
        let mut most_ahead = 0;
        while run.next().await.is_some() {
            ended += 1;
            most_ahead = most_ahead.max(pulled.load(Ordering::SeqCst) - ended);
        }
        // A run that collected its input first would be 499 records ahead at the first line.
        assert!(
            most_ahead <= in_flight + batch,
            "{most_ahead} records read ahead of their lines with {in_flight} in flight, claim_batch {batch}"
        );
        assert_eq!(run.finish().await.counts.received, 500);
    }
}

#[tokio::test]
async fn process_keeps_only_failed_lines_when_the_policy_says_so() {
    let ctx = ctx(RecordingClient::new(), MemoryStore::new());
    let flow = Flow::builder("bulk")
        .map(FieldMap::new(json!({"to": "{{ phone }}"})).unwrap())
        .target(target())
        .report(ReportPolicy::default().lines(ReportLines::Failed))
        .build()
        .unwrap();
    let report = flow.process(&ctx, (0..50).map(row).collect()).await;
    assert_eq!(report.counts.received, 50);
    assert_eq!(report.counts.failed, 8);
    let kept: Vec<&str> = report.records.iter().map(|l| l.key.as_str()).collect();
    assert_eq!(kept[..3], ["row:0", "row:7", "row:14"]);
    assert_eq!(kept.len(), 8);
    // In a spec too.
    let spec = hubflow::FlowSpec::from_json(
        r#"{"id": "bulk", "target": {"http.post": {"url": "https://erp.example.com/hooks"}},
            "report": {"lines": "failed"}}"#,
    )
    .unwrap();
    assert_eq!(spec.report.lines, ReportLines::Failed);
    let broken = hubflow::FlowSpec::from_json(
        r#"{"id": "bulk", "target": {"http.post": {"url": "https://erp.example.com/hooks"}},
            "report": {"lines": "some"}}"#,
    )
    .unwrap_err();
    assert!(broken.to_string().contains("/report"), "{broken}");
}

#[tokio::test]
async fn an_unknown_outcome_is_counted_as_unknown_and_said_so() {
    let store = MemoryStore::new();
    let ctx = ctx(RecordingClient::new(), store.clone());
    let flow = Flow::builder("bulk")
        .target(target())
        .delivery(
            DeliveryPolicy::default()
                .on_unknown(OnUnknown::Hold)
                .claim_lease(Duration::from_secs(60)),
        )
        .build()
        .unwrap();
    // An earlier attempt claimed row:1 an hour ago and never said how it ended.
    let long_ago = "2026-03-02T11:00:00Z".parse().unwrap();
    store.claim("bulk", "row:1", long_ago).await.unwrap();
    let report = flow
        .process(
            &ctx,
            vec![
                Record::new("row:1", "row", json!({})),
                Record::new("row:2", "row", json!({})),
            ],
        )
        .await;
    assert_eq!((report.counts.failed, report.counts.unknown), (1, 1));
    assert!(report.records[0].outcome.is_unknown());
    assert!(!report.records[1].outcome.is_unknown());
    let text = report.to_string();
    assert!(
        text.contains("(1 of the failed with an unknown outcome)"),
        "{text}"
    );
}

/// A backlog of `pages` pages of `size` records, handed over a page per poll, each page
/// but the last marked `more`. `fail_at` makes that page's poll fail.
struct Backlog {
    pages: usize,
    size: usize,
    fail_at: Option<usize>,
    polls: Mutex<Vec<Option<Cursor>>>,
}

impl Backlog {
    fn new(pages: usize, size: usize, fail_at: Option<usize>) -> Arc<Self> {
        Arc::new(Backlog {
            pages,
            size,
            fail_at,
            polls: Mutex::new(Vec::new()),
        })
    }
}

#[async_trait]
impl Source for Backlog {
    async fn poll(&self, _: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        self.polls.lock().unwrap().push(cursor.cloned());
        let page = cursor.and_then(|c| c.value()["page"].as_u64()).unwrap_or(0) as usize;
        if Some(page) == self.fail_at {
            return Err(SourceError::Transport(hubflow::http::HttpError::Timeout));
        }
        if page >= self.pages {
            return Ok(Batch::new(Vec::new(), None));
        }
        let records = (page * self.size..(page + 1) * self.size)
            .map(|i| Record::new(format!("row:{i}"), "row", json!({"n": i})))
            .collect();
        let next = Cursor::new(json!({"page": page + 1}));
        Ok(Batch::new(records, Some(next)).more(page + 1 < self.pages))
    }
}

fn paged(source: Arc<Backlog>) -> Flow {
    Flow::builder("paged")
        .source_arc(source)
        .target(target())
        .report(ReportPolicy::default().lines(ReportLines::Failed))
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_run_reads_every_page_saving_the_cursor_after_each() {
    let source = Backlog::new(3, 40, None);
    let flow = paged(source.clone());
    let store = MemoryStore::new();
    let http = RecordingClient::new();
    let ctx = ctx(http.clone(), store.clone());
    let report = flow.run(&ctx).await.unwrap();
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    assert_eq!(report.counts.delivered, 120);
    assert!(report.records.is_empty());
    assert_eq!(http.requests().len(), 120);
    let polls: Vec<Option<u64>> = source
        .polls
        .lock()
        .unwrap()
        .iter()
        .map(|c| c.as_ref().and_then(|c| c.value()["page"].as_u64()))
        .collect();
    assert_eq!(polls, vec![None, Some(1), Some(2)]);
    let saved = store.saved_cursor("paged").await.unwrap().unwrap();
    assert_eq!(saved.cursor, Cursor::new(json!({"page": 3})));
    assert_eq!(saved.version, 3, "one save per page");
    // The lease was let go: the next run starts at once, after the last page.
    let next = flow.run(&ctx).await.unwrap();
    assert_eq!(next.counts.received, 0);
}

#[tokio::test]
async fn a_page_that_cannot_be_read_stops_the_run_and_the_next_goes_on_from_there() {
    let source = Backlog::new(3, 10, Some(1));
    let flow = paged(source.clone());
    let store = MemoryStore::new();
    let http = RecordingClient::new();
    let ctx = ctx(http.clone(), store.clone());
    let report = flow.run(&ctx).await.unwrap();
    assert_eq!(report.counts.delivered, 10);
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert!(
        report.warnings[0].starts_with("stopped after page 1: the next page could not be read"),
        "{}",
        report.warnings[0]
    );
    let saved = store.saved_cursor("paged").await.unwrap().unwrap();
    assert_eq!(saved.cursor, Cursor::new(json!({"page": 1})));
    // The source recovers: the next run reads pages 1 and 2, nothing of page 0 again.
    let flow = paged(Backlog::new(3, 10, None));
    let next = flow.run(&ctx).await.unwrap();
    assert_eq!(next.counts.delivered, 20);
    assert_eq!(next.counts.duplicate, 0);
    assert_eq!(http.requests().len(), 30);
}

#[tokio::test]
async fn a_replay_follows_the_pages_without_saving_a_cursor() {
    let flow = paged(Backlog::new(2, 5, None));
    let store = MemoryStore::new();
    let ctx = ctx(RecordingClient::new(), store.clone());
    let report = flow.replay(&ctx, None).await.unwrap();
    assert_eq!(report.counts.delivered, 10);
    assert!(store.saved_cursor("paged").await.unwrap().is_none());
    let again = flow.replay(&ctx, None).await.unwrap();
    assert_eq!(again.counts.duplicate, 10);
}
