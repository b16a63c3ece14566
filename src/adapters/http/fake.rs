//! A fake JSON webhook endpoint, for dry runs of `http.post` and for the host's own tests.

use std::fmt;

use serde_json::{json, Map, Value};

use crate::http::{trimmed_path, FakeScript, HttpRequest, HttpResponse, Method, ProviderFake};

/// Answers like a JSON endpoint that accepts what it is sent: a `POST` to its path gets
/// `200` with a JSON body, which holds a generated id (`fake-1`, `fake-2`, …) at the
/// receipt path when one is set (`data.id` → `{"data": {"id": "fake-1"}}`); on demand a
/// request fails with a status and a `{"error": …}` body.
///
/// ```
/// use hubflow::http::{HttpRequest, ProviderFake};
/// use hubflow::http_target::fake::WebhookFake;
///
/// let fake = WebhookFake::new("/hooks/tickets").receipt_id("ticket.id");
/// let post = HttpRequest::post_json("https://erp.example.com/hooks/tickets".parse().unwrap(), &1).unwrap();
/// assert_eq!(fake.answer(&post).unwrap().json_body().unwrap()["ticket"]["id"], "fake-1");
/// let other = HttpRequest::post_json("https://erp.example.com/other".parse().unwrap(), &1).unwrap();
/// assert!(fake.answer(&other).is_none());
/// ```
pub struct WebhookFake {
    path: String,
    receipt_id: Option<String>,
    script: FakeScript,
}

impl WebhookFake {
    /// A fake endpoint at `path`.
    pub fn new(path: &str) -> Self {
        WebhookFake {
            path: trimmed_path(path).to_owned(),
            receipt_id: None,
            script: FakeScript::default(),
        }
    }

    /// Puts the generated id at this dotted path of the answer.
    #[must_use]
    pub fn receipt_id(mut self, path: impl Into<String>) -> Self {
        self.receipt_id = Some(path.into());
        self
    }

    /// Makes the next request fail with this status.
    pub fn fail_next(&self, status: u16, message: &str) {
        self.script
            .fail_next(HttpResponse::json(status, &json!({"error": message})));
    }
}

impl fmt::Debug for WebhookFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebhookFake")
            .field("path", &self.path)
            .field("receipt_id", &self.receipt_id)
            .finish_non_exhaustive()
    }
}

impl ProviderFake for WebhookFake {
    fn provider(&self) -> &str {
        "http"
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        if request.method != Method::Post || trimmed_path(request.url.path()) != self.path {
            return None;
        }
        if let Some(failure) = self.script.take_failure() {
            return Some(failure);
        }
        let mut body = Value::Object(Map::new());
        if let Some(path) = &self.receipt_id {
            let id = Value::String(self.script.next_id("fake-"));
            let mut slot = &mut body;
            for part in path.split('.') {
                let Value::Object(map) = slot else { break };
                slot = map
                    .entry(part.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
            }
            *slot = id;
        }
        Some(HttpResponse::json(200, &body))
    }
}
