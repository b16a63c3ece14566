//! Helpers shared by the integration tests: a context over real HTTP with a manual clock,
//! wiremock conveniences, fixtures, outcome accessors, and a small counting HTTP server.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hubflow::http::ReqwestClient;
use hubflow::{
    Context, Cursor, CursorStore, Failure, ManualClock, MemoryStore, Outcome, Receipt, RunReport,
};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use url::Url;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The status the catch-all mock answers with; no code under test expects it.
pub const UNEXPECTED_STATUS: u16 = 599;

/// A credential value that must reach the server and never appear in reports or plans.
pub const SECRET_TOKEN: &str = "Bearer tok-7Hq2-secret-value";

/// The instant every manual clock starts at.
pub fn start_instant() -> DateTime<Utc> {
    "2026-03-02T08:00:00Z".parse().expect("a valid instant")
}

/// The ports of one test: real HTTP, a manual clock and a memory store, plus handles on the
/// clock and the store (clones share their state with the ones inside `ctx`).
pub struct Harness {
    pub ctx: Context,
    pub clock: ManualClock,
    pub store: MemoryStore,
}

/// A context that sends real HTTP through [`ReqwestClient`], waits on a [`ManualClock`] and
/// keeps state in a fresh [`MemoryStore`].
pub fn harness() -> Harness {
    harness_with_store(MemoryStore::new())
}

/// As [`harness`], over an existing store.
pub fn harness_with_store(store: MemoryStore) -> Harness {
    let clock = ManualClock::new(start_instant());
    let http = ReqwestClient::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("the reqwest client builds");
    let ctx = Context::new(http, clock.clone(), store.clone());
    Harness { ctx, clock, store }
}

/// The cursor `flow` saved last, if any.
pub async fn saved_cursor(store: &MemoryStore, flow: &str) -> Option<Cursor> {
    store
        .saved_cursor(flow)
        .await
        .expect("the memory store answers")
        .map(|saved| saved.cursor)
}

/// Saves `cursor` for `flow` the way a run does: under a lease, with compare-and-set.
pub async fn seed_cursor(store: &MemoryStore, flow: &str, cursor: &Cursor) {
    let lease = store
        .lease_cursor(flow, "seed", start_instant(), Duration::from_secs(1))
        .await
        .expect("the memory store answers")
        .expect("no one else holds the lease");
    assert!(store
        .save_cursor(flow, "seed", lease.version, cursor)
        .await
        .expect("the memory store answers"));
    store
        .release_cursor(flow, "seed")
        .await
        .expect("the memory store answers");
}

/// Mounts a mock that answers every request no other mock matched with 599, and expects to
/// be called never: any unexpected request fails the test when the server is verified.
/// Mount it after every other mock.
pub async fn mount_catch_all(server: &MockServer) {
    Mock::given(any())
        .respond_with(ResponseTemplate::new(UNEXPECTED_STATUS))
        .with_priority(u8::MAX)
        .expect(0)
        .named("catch-all: no unexpected requests")
        .mount(server)
        .await;
}

/// A URL on the mock server.
pub fn url(server: &MockServer, path: &str) -> Url {
    format!("{}{path}", server.uri())
        .parse()
        .expect("a valid mock server URL")
}

/// A JSON fixture from `tests/fixtures/`.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read fixture {name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {name} is not JSON: {e}"))
}

/// The receipt and attempts of a delivered outcome; panics with the outcome otherwise.
pub fn delivered(outcome: &Outcome) -> (&Receipt, u32) {
    match outcome {
        Outcome::Delivered { receipt, attempts } => (receipt, *attempts),
        other => panic!("expected a delivered outcome, got {other:?}"),
    }
}

/// The failure, retryable flag and attempts of a failed outcome; panics otherwise.
pub fn failed(outcome: &Outcome) -> (&Failure, bool, u32) {
    match outcome {
        Outcome::Failed {
            failure,
            retryable,
            attempts,
        } => (failure, *retryable, *attempts),
        other => panic!("expected a failed outcome, got {other:?}"),
    }
}

/// The receipt of a duplicate outcome, if it has one; panics when not a duplicate.
pub fn duplicate(outcome: &Outcome) -> Option<&Receipt> {
    match outcome {
        Outcome::Duplicate { receipt, .. } => receipt.as_ref(),
        other => panic!("expected a duplicate outcome, got {other:?}"),
    }
}

/// The only line of a one-record report.
pub fn only_outcome(report: &RunReport) -> &Outcome {
    assert_eq!(report.records.len(), 1, "one record expected: {report:?}");
    &report.records[0].outcome
}

/// How many requests the mock server received.
pub async fn received(server: &MockServer) -> usize {
    server
        .received_requests()
        .await
        .expect("request recording is on")
        .len()
}

/// What the [`CountingServer`] observed.
#[derive(Debug, Default)]
pub struct ServerStats {
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    requests: AtomicUsize,
    connections: AtomicUsize,
    protocol_errors: AtomicUsize,
}

impl ServerStats {
    /// The most requests the server was handling at the same moment.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// Complete requests received.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// Connections accepted.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// Requests the server could not parse (chunked bodies, oversized or malformed heads).
    pub fn protocol_errors(&self) -> usize {
        self.protocol_errors.load(Ordering::SeqCst)
    }
}

/// A minimal HTTP/1.1 keep-alive server on 127.0.0.1 that holds every request for a fixed
/// (real) delay before answering `200 {"ok":true}`, and counts how many requests it holds at
/// once. wiremock answers synchronously, so it cannot observe concurrency; this can.
///
/// Dropping it stops accepting; open connections end with the test's runtime.
pub struct CountingServer {
    addr: SocketAddr,
    stats: Arc<ServerStats>,
    accept: JoinHandle<()>,
}

impl CountingServer {
    /// Starts the server; each request is held for `hold` before the answer.
    pub async fn start(hold: Duration) -> CountingServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("a local address");
        let stats = Arc::new(ServerStats::default());
        let accept_stats = stats.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accept_stats.connections.fetch_add(1, Ordering::SeqCst);
                let stats = accept_stats.clone();
                tokio::spawn(async move {
                    if serve(stream, &stats, hold).await.is_err() {
                        stats.protocol_errors.fetch_add(1, Ordering::SeqCst);
                    }
                });
            }
        });
        CountingServer {
            addr,
            stats,
            accept,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> Url {
        format!("http://{}{path}", self.addr)
            .parse()
            .expect("a valid URL")
    }

    /// What the server observed so far.
    pub fn stats(&self) -> &ServerStats {
        &self.stats
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

const MAX_HEAD: usize = 64 * 1024;
const ANSWER: &str = "{\"ok\":true}";

/// Serves one keep-alive connection until the client closes it.
async fn serve(stream: TcpStream, stats: &ServerStats, hold: Duration) -> io::Result<()> {
    let mut buffer: Vec<u8> = Vec::new();
    while read_request(&stream, &mut buffer).await?.is_some() {
        stats.requests.fetch_add(1, Ordering::SeqCst);
        let now = stats.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        stats.max_in_flight.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(hold).await;
        stats.in_flight.fetch_sub(1, Ordering::SeqCst);

        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{ANSWER}",
            ANSWER.len()
        );
        write_all(&stream, response.as_bytes()).await?;
    }
    Ok(())
}

/// One HTTP/1.1 request read off a raw connection: its head (request line and headers,
/// as text) and its body.
#[derive(Debug, Clone)]
pub struct RawRequest {
    /// The request line and the headers, CRLF-separated.
    pub head: String,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl RawRequest {
    /// The request line's path (with its query).
    pub fn path(&self) -> &str {
        self.head.split_whitespace().nth(1).unwrap_or_default()
    }

    /// The value of header `name` (case-insensitive), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Reads the next request of a keep-alive connection, keeping what follows it in `buffer`
/// for the next call. `None` when the client closed the connection between requests.
/// Handles requests split across reads and several requests in one read; chunked bodies
/// are refused.
pub async fn read_request(
    stream: &TcpStream,
    buffer: &mut Vec<u8>,
) -> io::Result<Option<RawRequest>> {
    let head_end = loop {
        if let Some(at) = find(buffer, b"\r\n\r\n") {
            break at + 4;
        }
        if buffer.len() > MAX_HEAD {
            return Err(invalid("request head too large"));
        }
        if read_some(stream, buffer).await? == 0 {
            // Closed between requests: the normal end of a keep-alive connection.
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(invalid("connection closed inside a request head"))
            };
        }
    };
    let head = std::str::from_utf8(&buffer[..head_end])
        .map_err(|_| invalid("request head is not UTF-8"))?
        .to_owned();
    let mut content_length = 0usize;
    for line in head.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value
                .trim()
                .parse()
                .map_err(|_| invalid("bad Content-Length"))?;
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid("chunked bodies are not supported by this server"));
        }
    }
    while buffer.len() < head_end + content_length {
        if read_some(stream, buffer).await? == 0 {
            return Err(invalid("connection closed inside a request body"));
        }
    }
    let body = buffer[head_end..head_end + content_length].to_vec();
    buffer.drain(..head_end + content_length);
    Ok(Some(RawRequest {
        head: head.trim_end().to_owned(),
        body,
    }))
}

/// A raw HTTP/1.1 server on 127.0.0.1 that answers every request with HTTP `status`, a
/// `Content-Length` of 100 and only the first bytes of that body, then closes the
/// connection: an answer whose body is cut off. It counts the requests it answered.
pub struct CutServer {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl CutServer {
    /// Starts the server.
    pub async fn start(status: u16) -> CutServer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let addr = listener.local_addr().expect("a local address");
        let requests = Arc::new(AtomicUsize::new(0));
        let seen = requests.clone();
        let accept = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    if let Ok(Some(_)) = read_request(&stream, &mut buffer).await {
                        seen.fetch_add(1, Ordering::SeqCst);
                        let head = format!(
                            "HTTP/1.1 {status} Whatever\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"id\":\"cut"
                        );
                        let _ = write_all(&stream, head.as_bytes()).await;
                    }
                    // Dropping the stream closes the connection mid-body.
                });
            }
        });
        CutServer {
            addr,
            requests,
            accept,
        }
    }

    /// The URL of `path` on this server.
    pub fn url(&self, path: &str) -> Url {
        format!("http://{}{path}", self.addr)
            .parse()
            .expect("a valid URL")
    }

    /// The requests answered so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for CutServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// Reads what is available (at least one byte, or 0 at end of stream) and appends it.
async fn read_some(stream: &TcpStream, buffer: &mut Vec<u8>) -> io::Result<usize> {
    let mut chunk = [0u8; 4096];
    loop {
        stream.readable().await?;
        match stream.try_read(&mut chunk) {
            Ok(n) => {
                buffer.extend_from_slice(&chunk[..n]);
                return Ok(n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `data`, however many writes it takes.
pub async fn write_all(stream: &TcpStream, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        stream.writable().await?;
        match stream.try_write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A context for [`Flow::plan`](hubflow::Flow::plan) on flows without lookups: a recording
/// client that nothing reaches, a manual clock and a fresh store.
pub fn plan_ctx() -> Context {
    Context::new(
        hubflow::http::RecordingClient::new(),
        ManualClock::new(start_instant()),
        MemoryStore::new(),
    )
}
