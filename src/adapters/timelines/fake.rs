//! A fake of TimelinesAI's public API, for dry runs and for the host's own tests.

use std::fmt;

use serde_json::json;

use crate::http::{trimmed_path, FakeScript, HttpRequest, HttpResponse, Method, ProviderFake};

/// Answers like TimelinesAI's public API: `POST …/files` gives the uploaded file a `uid`,
/// `POST …/messages` and `POST …/chats/{id}/messages` give the message a `message_uid`
/// (`{"status": "ok", "data": {…}}`), and on demand a request fails with the API's
/// `{"status": "error", "message": …}`.
///
/// Requests are recognised by path below the API base path
/// (`/integrations/api` by default, or a connection's through
/// [`for_connection`](TimelinesFake::for_connection)).
///
/// ```
/// use hubflow::http::{HttpRequest, ProviderFake};
/// use hubflow::timelines::fake::TimelinesFake;
/// use serde_json::json;
///
/// let fake = TimelinesFake::new();
/// let send = HttpRequest::post_json(
///     "https://app.timelines.ai/integrations/api/messages".parse().unwrap(),
///     &json!({"phone": "+5511999991234", "text": "hi"}),
/// ).unwrap();
/// let answer = fake.answer(&send).unwrap().json_body().unwrap();
/// assert_eq!(answer["data"]["message_uid"], "fake-message-1");
/// ```
pub struct TimelinesFake {
    api_path: String,
    script: FakeScript,
}

impl TimelinesFake {
    /// A fake on the public API's default base path.
    pub fn new() -> Self {
        let api_path = url::Url::parse(super::DEFAULT_BASE_URL)
            .map(|url| trimmed_path(url.path()).to_owned())
            .unwrap_or_default();
        TimelinesFake {
            api_path,
            script: FakeScript::default(),
        }
    }

    /// A fake on the base path `connection` sends to.
    pub fn for_connection(connection: &super::TimelinesConnection) -> Self {
        TimelinesFake {
            api_path: trimmed_path(connection.endpoint(&[]).path()).to_owned(),
            script: FakeScript::default(),
        }
    }

    /// Makes the next request fail with this HTTP status and message.
    pub fn fail_next(&self, status: u16, message: &str) {
        self.script.fail_next(HttpResponse::json(
            status,
            &json!({"status": "error", "message": message}),
        ));
    }
}

impl Default for TimelinesFake {
    fn default() -> Self {
        TimelinesFake::new()
    }
}

impl fmt::Debug for TimelinesFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimelinesFake")
            .field("api_path", &self.api_path)
            .finish_non_exhaustive()
    }
}

impl ProviderFake for TimelinesFake {
    fn provider(&self) -> &str {
        "timelines"
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let rest = trimmed_path(request.url.path()).strip_prefix(self.api_path.as_str())?;
        let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
        let data = match (request.method, segments.as_slice()) {
            (Method::Post, ["files"]) => json!({"uid": self.script.next_id("fake-file-")}),
            (Method::Post, ["messages"] | ["chats", _, "messages"]) => {
                json!({"message_uid": self.script.next_id("fake-message-")})
            }
            _ => return None,
        };
        Some(
            self.script
                .take_failure()
                .unwrap_or_else(|| HttpResponse::json(200, &json!({"status": "ok", "data": data}))),
        )
    }
}
