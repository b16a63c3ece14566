//! A login that issues a JWT and a refresh token (RM's `POST /api/connect/token/`).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use url::Url;

use super::auth::AuthError;
use super::lease::{parse_token_answer, Issued, Issuer, Leases, Renewal};
use crate::http::{HttpRequest, Method};
use crate::Context;

/// A JWT from a login: `POST {token_url}` with the JSON body `{"username", "password",
/// "grant_type": "password"}`, renewed with `{"grant_type": "refresh_token",
/// "refresh_token"}` while the refresh token lasts, else with the password again.
///
/// * The token is cached and renewed 60 s (at most a fifth of its lifetime) before
///   `expires_in` (5 minutes when absent). Concurrent callers wait for one fetch. If a
///   renewal fails while the old token has not expired, the old token is used.
/// * After a rejection the token is dropped and a new one fetched, once for every caller
///   that saw the same rejection (with the refresh token when it is still good).
/// * The login body holds the password or a refresh token: it is marked secret, so it shows
///   as `[redacted]` wherever a request is shown.
///
/// ```
/// use hubflow::auth::PasswordJwt;
/// use secrecy::SecretString;
///
/// let jwt = PasswordJwt::new(
///     "https://erp.example.com:8051/api/connect/token/".parse().unwrap(),
///     "mestre",
///     SecretString::from("pa55-secret"),
/// );
/// assert!(!format!("{jwt:?}").contains("pa55-secret"));
/// ```
pub struct PasswordJwt {
    token_url: Url,
    username: String,
    password: SecretString,
    timeout: Option<Duration>,
    fallback_lifetime: Duration,
    renewal: Renewal,
    leases: Leases,
}

impl PasswordJwt {
    /// A login of `username` at `token_url`.
    pub fn new(token_url: Url, username: impl Into<String>, password: SecretString) -> Self {
        let renewal = Renewal {
            ahead: Duration::from_secs(60),
            fraction: 5,
            refresh_lifetime: Duration::from_secs(16 * 3600),
        };
        PasswordJwt {
            token_url,
            username: username.into(),
            password,
            timeout: None,
            fallback_lifetime: Duration::from_secs(300),
            renewal,
            leases: Leases::new(renewal),
        }
    }

    /// How long a refresh token is good for (default 16 hours): the token answer does not
    /// say it.
    #[must_use]
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.renewal.refresh_lifetime = lifetime;
        self.leases = Leases::new(self.renewal);
        self
    }

    /// Renews a token `ahead` of its expiry, or a `1/fraction` of its lifetime before,
    /// whichever is shorter.
    #[must_use]
    pub(crate) fn renew_ahead(mut self, ahead: Duration, fraction: u32) -> Self {
        self.renewal.ahead = ahead;
        self.renewal.fraction = fraction;
        self.leases = Leases::new(self.renewal);
        self
    }

    /// The lifetime assumed when a token answer has no `expires_in` (default 5 minutes).
    #[must_use]
    pub fn fallback_lifetime(mut self, lifetime: Duration) -> Self {
        self.fallback_lifetime = lifetime;
        self
    }

    /// A timeout for token requests (default: the HTTP client's).
    #[must_use]
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The token URL.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }
}

#[async_trait]
impl Issuer for PasswordJwt {
    async fn issue(
        &self,
        ctx: &Context,
        refresh: Option<&SecretString>,
    ) -> Result<Issued, AuthError> {
        let body = match refresh {
            Some(token) => {
                json!({"grant_type": "refresh_token", "refresh_token": token.expose_secret()})
            }
            None => json!({
                "username": self.username,
                "password": self.password.expose_secret(),
                "grant_type": "password",
            }),
        };
        let mut request = HttpRequest::new(Method::Post, self.token_url.clone())
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .with_secret_body();
        request.body = bytes::Bytes::from(body.to_string());
        request.timeout = self.timeout;
        let response = ctx.http().send(&request).await?;
        if !response.is_success() {
            return Err(AuthError::Refused {
                status: response.status,
                message: crate::http::token_refusal_reason(&response),
                retry_after: response.retry_after(ctx.clock().now()),
            });
        }
        parse_token_answer(&response, self.fallback_lifetime)
    }
}

super::lease::leased_credentials!(PasswordJwt);

impl fmt::Debug for PasswordJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordJwt")
            .field("token_url", &self.token_url.as_str())
            .field("username", &self.username)
            .field("password", &crate::http::REDACTED)
            .finish_non_exhaustive()
    }
}
