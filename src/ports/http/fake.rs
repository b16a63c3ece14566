//! Provider fakes: HTTP answers that look like a provider's, for dry runs and for the
//! host's own tests.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;

use super::{HttpClient, HttpError, HttpRequest, HttpResponse};

/// Answers requests the way one provider does: its ids, its receipts, and on demand its
/// error shapes. Each adapter ships one (`hubflow::testing` lists them); a [`FakeClient`]
/// puts several behind one [`HttpClient`].
///
/// A fake recognises its requests by their path and method, never by host, so it answers
/// whatever base URL a connection is configured with.
pub trait ProviderFake: Send + Sync + fmt::Debug {
    /// The provider this fake stands for, as named in errors (`whatsapp`, `fracttal`).
    fn provider(&self) -> &str;

    /// The answer the provider would give to `request`, or `None` when the request is not
    /// one of this provider's.
    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse>;
}

/// An [`HttpClient`] that sends nothing: it records every request and lets the first
/// [`ProviderFake`] that recognises a request answer it. A request no fake recognises is
/// answered `501` with a body that says so, so it fails visibly instead of looking sent.
///
/// [`Flow::dry_run`](crate::Flow::dry_run) builds one from its target's fakes; hosts use one
/// in their tests.
///
/// ```
/// use hubflow::http::{FakeClient, HttpClient, HttpRequest, HttpResponse, Method, ProviderFake};
///
/// #[derive(Debug)]
/// struct Echo;
/// impl ProviderFake for Echo {
///     fn provider(&self) -> &str { "echo" }
///     fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
///         (request.url.path() == "/echo").then(|| HttpResponse::new(200, request.body.clone()))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let client = FakeClient::new().with(Echo);
/// let request = HttpRequest::post_json("https://example.com/echo".parse().unwrap(), &1).unwrap();
/// assert_eq!(client.send(&request).await.unwrap().body.as_ref(), b"1");
/// let other = HttpRequest::new(Method::Get, "https://example.com/other".parse().unwrap());
/// assert_eq!(client.send(&other).await.unwrap().status, 501);
/// assert_eq!(client.requests().len(), 2);
/// # });
/// ```
#[derive(Clone, Default)]
pub struct FakeClient {
    fakes: Vec<Arc<dyn ProviderFake>>,
    requests: Arc<Mutex<Vec<HttpRequest>>>,
}

impl FakeClient {
    /// A client with no fakes yet: every request is answered `501`.
    pub fn new() -> Self {
        FakeClient::default()
    }

    /// A client over these shared fakes.
    pub fn from_fakes(fakes: Vec<Arc<dyn ProviderFake>>) -> Self {
        FakeClient {
            fakes,
            requests: Arc::default(),
        }
    }

    /// Adds a fake; earlier fakes are asked first.
    #[must_use]
    pub fn with(mut self, fake: impl ProviderFake + 'static) -> Self {
        self.fakes.push(Arc::new(fake));
        self
    }

    /// Adds a shared fake (keep a clone to inspect it or make it fail on demand).
    #[must_use]
    pub fn with_arc(mut self, fake: Arc<dyn ProviderFake>) -> Self {
        self.fakes.push(fake);
        self
    }

    /// Every request sent so far, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<HttpRequest>> {
        // Pushing a request cannot leave the list half-written, so a poisoned lock still
        // guards a valid list.
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for FakeClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeClient")
            .field(
                "fakes",
                &self.fakes.iter().map(|f| f.provider()).collect::<Vec<_>>(),
            )
            .field("requests", &self.lock().len())
            .finish()
    }
}

#[async_trait]
impl HttpClient for FakeClient {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        self.lock().push(request.clone());
        let answer = self.fakes.iter().find_map(|fake| fake.answer(request));
        Ok(answer.unwrap_or_else(|| {
            let known: Vec<&str> = self.fakes.iter().map(|f| f.provider()).collect();
            HttpResponse::json(
                501,
                &serde_json::json!({
                    "error": format!(
                        "no provider fake answers {} {}{}",
                        request.method,
                        request.url.path(),
                        if known.is_empty() {
                            String::new()
                        } else {
                            format!(" (fakes: {})", known.join(", "))
                        }
                    )
                }),
            )
        }))
    }
}

/// The state every provider fake keeps: a counter for the ids it hands out, and the
/// failures queued with `fail_next`, served one per request, first queued first.
#[derive(Debug, Default)]
#[cfg_attr(
    not(any(
        feature = "http",
        feature = "fracttal",
        feature = "timelines",
        feature = "rdconversas",
        feature = "rm",
        feature = "whatsapp"
    )),
    allow(dead_code)
)]
pub(crate) struct FakeScript {
    state: Mutex<ScriptState>,
}

#[derive(Debug, Default)]
struct ScriptState {
    issued: u64,
    failures: std::collections::VecDeque<HttpResponse>,
}

#[cfg_attr(
    not(any(
        feature = "http",
        feature = "fracttal",
        feature = "timelines",
        feature = "rdconversas",
        feature = "rm",
        feature = "whatsapp"
    )),
    allow(dead_code)
)]
impl FakeScript {
    fn lock(&self) -> std::sync::MutexGuard<'_, ScriptState> {
        // Each update writes whole values, so a poisoned lock still guards valid state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next id: `prefix` followed by 1, 2, 3… in the order they are asked for.
    pub(crate) fn next_id(&self, prefix: &str) -> String {
        let mut state = self.lock();
        state.issued += 1;
        format!("{prefix}{}", state.issued)
    }

    /// Queues an answer for the next request the fake recognises.
    pub(crate) fn fail_next(&self, answer: HttpResponse) {
        self.lock().failures.push_back(answer);
    }

    /// The queued answer for this request, if any.
    pub(crate) fn take_failure(&self) -> Option<HttpResponse> {
        self.lock().failures.pop_front()
    }
}

#[cfg_attr(
    not(any(
        feature = "http",
        feature = "fracttal",
        feature = "timelines",
        feature = "rdconversas",
        feature = "rm"
    )),
    allow(dead_code)
)]
/// The path of `url` without a trailing `/`, for matching a request against a configured
/// base URL's path.
pub(crate) fn trimmed_path(path: &str) -> &str {
    path.trim_end_matches('/')
}
