//! The in-memory client for tests and dry runs.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::{HttpClient, HttpError, HttpRequest, HttpResponse};

/// An in-memory client for tests and dry runs: records every request, answers from a queue
/// of canned responses, then with a default (`200 {}` unless set).
///
/// Clones share the recording, so a test can hand one clone to a flow and inspect the other.
///
/// ```
/// use hubflow::http::{HttpClient, HttpRequest, HttpResponse, Method, RecordingClient};
/// # futures_executor_block_on(async {
/// let client = RecordingClient::new();
/// client.push_response(HttpResponse::new(503, "busy"));
/// let request = HttpRequest::new(Method::Get, "https://example.com/".parse().unwrap());
/// assert_eq!(client.send(&request).await.unwrap().status, 503);
/// assert_eq!(client.send(&request).await.unwrap().status, 200);
/// assert_eq!(client.requests().len(), 2);
/// # });
/// # fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Clone, Default)]
pub struct RecordingClient {
    inner: Arc<Mutex<Recording>>,
}

#[derive(Default)]
struct Recording {
    requests: Vec<HttpRequest>,
    queued: std::collections::VecDeque<Result<HttpResponse, HttpError>>,
    fallback: Option<HttpResponse>,
}

impl RecordingClient {
    /// A client that answers `200 {}` to everything.
    pub fn new() -> Self {
        RecordingClient::default()
    }

    /// A client whose answer, once the queue is empty, is `response`.
    pub fn answering(response: HttpResponse) -> Self {
        let client = RecordingClient::new();
        client.lock().fallback = Some(response);
        client
    }

    /// Queues a response for the next request.
    pub fn push_response(&self, response: HttpResponse) {
        self.lock().queued.push_back(Ok(response));
    }

    /// Queues a transport failure for the next request.
    pub fn push_error(&self, error: HttpError) {
        self.lock().queued.push_back(Err(error));
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.lock().requests.clone()
    }

    /// Forgets the recorded requests.
    pub fn clear(&self) {
        self.lock().requests.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recording> {
        // A panic while holding this lock can only come from a test's own assertion; the
        // recording stays usable, so poisoning is ignored.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for RecordingClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingClient")
            .field("requests", &self.lock().requests.len())
            .finish()
    }
}

#[async_trait]
impl HttpClient for RecordingClient {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut recording = self.lock();
        recording.requests.push(request.clone());
        match recording.queued.pop_front() {
            Some(answer) => answer,
            None => Ok(recording
                .fallback
                .clone()
                .unwrap_or_else(|| HttpResponse::json(200, &serde_json::json!({})))),
        }
    }
}
