//! A fake of an RM-style ERP, for dry runs and for the host's own tests.

use std::fmt;

use serde_json::json;

use super::client::{RmAuth, RmClient};
use crate::http::{trimmed_path, FakeScript, HttpRequest, HttpResponse, Method, ProviderFake};

/// Answers like an RM-style ERP: the JWT token route issues a token, and every other
/// request below the ERP's base path succeeds with `{"status": "ok"}` (confirm and cancel
/// routes answer no more than that); on demand a request fails with an error body.
///
/// The ERP's routes are configurable, so the fake takes them from the
/// [`RmClient`] it stands in for ([`for_client`](RmFake::for_client)).
///
/// ```
/// use hubflow::http::{HttpRequest, Method, ProviderFake};
/// use hubflow::rm::fake::RmFake;
/// use hubflow::rm::{RmAuth, RmClient};
/// use secrecy::SecretString;
///
/// let client = RmClient::new("https://erp.example:8051".parse().unwrap(), RmAuth::Bearer(SecretString::from("t")));
/// let fake = RmFake::for_client(&client);
/// let cancel = HttpRequest::new(Method::Post, "https://erp.example:8051/api/healthcare/v1/appointments/A-17/cancel".parse().unwrap());
/// assert_eq!(fake.answer(&cancel).unwrap().status, 200);
/// fake.fail_next(409, "the appointment was already cancelled");
/// assert_eq!(fake.answer(&cancel).unwrap().status, 409);
/// ```
pub struct RmFake {
    base_path: String,
    token_path: Option<String>,
    script: FakeScript,
}

impl RmFake {
    /// A fake for the ERP `client` calls.
    pub fn for_client(client: &RmClient) -> Self {
        let base_path = trimmed_path(client.base_url().path()).to_owned();
        let token_path = match client.auth() {
            RmAuth::Jwt(jwt) => Some(format!(
                "{base_path}/{}",
                trimmed_path(jwt.token_path.trim_start_matches('/'))
            )),
            _ => None,
        };
        RmFake {
            base_path,
            token_path,
            script: FakeScript::default(),
        }
    }

    /// Makes the next request fail with this HTTP status and message.
    pub fn fail_next(&self, status: u16, message: &str) {
        self.script.fail_next(HttpResponse::json(
            status,
            &json!({"code": status, "message": message}),
        ));
    }
}

impl fmt::Debug for RmFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RmFake")
            .field("base_path", &self.base_path)
            .field("token_path", &self.token_path)
            .finish_non_exhaustive()
    }
}

impl ProviderFake for RmFake {
    fn provider(&self) -> &str {
        super::PROVIDER
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let path = trimmed_path(request.url.path());
        let below = path
            .strip_prefix(self.base_path.as_str())
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'));
        if !below {
            return None;
        }
        if let Some(failure) = self.script.take_failure() {
            return Some(failure);
        }
        if request.method == Method::Post && self.token_path.as_deref() == Some(path) {
            return Some(HttpResponse::json(
                200,
                &json!({
                    "access_token": self.script.next_id("fake-rm-token-"),
                    "refresh_token": self.script.next_id("fake-rm-refresh-"),
                    "expires_in": 300,
                    "token_type": "Bearer"
                }),
            ));
        }
        Some(HttpResponse::json(200, &json!({"status": "ok"})))
    }
}
