//! A fake of RD Conversas' template-send API, for dry runs and for the host's own tests.

use std::fmt;

use serde_json::json;

use super::TEMPLATE_SEND_PATH;
use crate::http::{trimmed_path, FakeScript, HttpRequest, HttpResponse, Method, ProviderFake};

/// Answers like RD Conversas: a `POST …/v3/messages/template/send` is accepted with
/// `{"data": {"id": "fake-rd-1", "channel": "whatsapp"}}`, and on demand a request fails
/// with the API's `{"code": …, "message": …}`.
///
/// ```
/// use hubflow::http::{HttpRequest, ProviderFake};
/// use hubflow::rdconversas::fake::RdConversasFake;
/// use serde_json::json;
///
/// let fake = RdConversasFake::new();
/// let send = HttpRequest::post_json(
///     "https://api.tallos.com.br/v3/messages/template/send".parse().unwrap(),
///     &json!({"recipient_number": "+5511999998888"}),
/// ).unwrap();
/// assert_eq!(fake.answer(&send).unwrap().json_body().unwrap()["data"]["id"], "fake-rd-1");
/// fake.fail_next(400, 308, "Template not found");
/// assert_eq!(fake.answer(&send).unwrap().json_body().unwrap()["code"], 308);
/// ```
#[derive(Default)]
pub struct RdConversasFake {
    script: FakeScript,
}

impl RdConversasFake {
    /// A fake with nothing queued.
    pub fn new() -> Self {
        RdConversasFake::default()
    }

    /// Makes the next send fail with this HTTP status, RD Conversas code and message.
    pub fn fail_next(&self, status: u16, code: u32, message: &str) {
        self.script.fail_next(HttpResponse::json(
            status,
            &json!({"code": code, "message": message}),
        ));
    }
}

impl fmt::Debug for RdConversasFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdConversasFake").finish_non_exhaustive()
    }
}

impl ProviderFake for RdConversasFake {
    fn provider(&self) -> &str {
        super::PROVIDER
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let path = trimmed_path(request.url.path());
        if request.method != Method::Post || !path.ends_with(trimmed_path(TEMPLATE_SEND_PATH)) {
            return None;
        }
        Some(self.script.take_failure().unwrap_or_else(|| {
            HttpResponse::json(
                200,
                &json!({"data": {
                    "id": self.script.next_id("fake-rd-"),
                    "channel": "whatsapp",
                    "from_whatsapp_official": true
                }}),
            )
        }))
    }
}
