//! A fake of Twilio's Messages API, for dry runs and for the host's own tests.

use std::fmt;

use serde_json::json;

use crate::http::{FakeScript, HttpRequest, HttpResponse, Method, ProviderFake};

/// Answers like Twilio: a `POST …/Accounts/{sid}/Messages.json` is accepted with `201` and
/// a queued Message resource (`sid` `SMfake…`), and on demand a request fails with Twilio's
/// `{"code", "message", "more_info", "status"}`.
///
/// ```
/// use hubflow::http::{HttpRequest, Method, ProviderFake};
/// use hubflow::twilio::fake::TwilioFake;
///
/// let fake = TwilioFake::new();
/// let send = HttpRequest::new(Method::Post,
///     "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json".parse().unwrap())
///     .form(&[("To", "whatsapp:+5511999991234")]);
/// let answer = fake.answer(&send).unwrap();
/// assert_eq!(answer.status, 201);
/// assert_eq!(answer.json_body().unwrap()["to"], "whatsapp:+5511999991234");
/// fake.fail_next(400, 63016, "Failed to send freeform message because you are outside the allowed window.");
/// assert_eq!(fake.answer(&send).unwrap().json_body().unwrap()["code"], 63016);
/// ```
#[derive(Default)]
pub struct TwilioFake {
    script: FakeScript,
}

impl TwilioFake {
    /// A fake with nothing queued.
    pub fn new() -> Self {
        TwilioFake::default()
    }

    /// Makes the next send fail with this HTTP status, Twilio code and message.
    pub fn fail_next(&self, status: u16, code: u32, message: &str) {
        self.script.fail_next(HttpResponse::json(
            status,
            &json!({"code": code, "message": message, "status": status,
                    "more_info": format!("https://www.twilio.com/docs/errors/{code}")}),
        ));
    }
}

impl fmt::Debug for TwilioFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioFake").finish_non_exhaustive()
    }
}

impl ProviderFake for TwilioFake {
    fn provider(&self) -> &str {
        super::PROVIDER
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let path = request.url.path();
        if request.method != Method::Post
            || !path.starts_with("/2010-04-01/Accounts/")
            || !path.ends_with("/Messages.json")
        {
            return None;
        }
        let form = request.form_body();
        let field = |key: &str| form.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone());
        let account = path
            .trim_start_matches("/2010-04-01/Accounts/")
            .trim_end_matches("/Messages.json")
            .to_owned();
        Some(self.script.take_failure().unwrap_or_else(|| {
            let sid = self.script.next_id("SMfake");
            HttpResponse::json(
                201,
                &json!({
                    "sid": sid, "account_sid": account, "status": "queued",
                    "to": field("To"), "from": field("From"),
                    "messaging_service_sid": field("MessagingServiceSid"),
                    "body": field("Body"), "num_segments": "1", "num_media": "0",
                    "direction": "outbound-api", "api_version": "2010-04-01",
                    "error_code": null, "error_message": null, "price": null,
                    "date_created": "Thu, 03 Dec 2026 10:00:00 +0000",
                    "uri": format!("/2010-04-01/Accounts/{account}/Messages/{sid}.json")
                }),
            )
        }))
    }
}
