//! OAuth 2.0 client credentials (RFC 6749 §4.4): a token fetched with the client's key and
//! secret, cached, refreshed ahead of expiry and after a rejection.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::auth::{AuthError, Authorization};
use super::lease::{parse_token_answer, Issued, Issuer, Leases, Renewal};
use crate::http::{HttpRequest, HttpResponse, Method};
use crate::Context;

/// The token lifetime assumed when the answer has no `expires_in`.
const FALLBACK_LIFETIME: Duration = Duration::from_secs(7200);

/// OAuth 2.0 client credentials: `POST {token_url}` with `Authorization: Basic
/// base64(client_id:client_secret)` and the form body `grant_type=client_credentials`;
/// the answer's `access_token` is sent as `Bearer <token>`.
///
/// * The token is cached and renewed 5 minutes (at most a tenth of its lifetime) before
///   `expires_in` (2 hours when absent). Concurrent callers wait for one fetch. If a
///   renewal fails while the old token has not expired, the old token is used.
/// * After a rejection the token is fetched again, once for every caller that saw the same
///   rejection; a failed fetch is the request's error.
/// * Token requests are not paced by the API's rate limiter: the limit is on API requests.
///
/// ```
/// use hubflow::auth::ClientCredentials;
/// use secrecy::SecretString;
///
/// let credentials = ClientCredentials::new(
///     "https://one.fracttal.com/oauth/token".parse().unwrap(),
///     SecretString::from("key-1"),
///     SecretString::from("s3cr3t-value"),
/// );
/// assert!(!format!("{credentials:?}").contains("s3cr3t-value"));
/// ```
pub struct ClientCredentials {
    token_url: Url,
    client_id: SecretString,
    client_secret: SecretString,
    timeout: Option<Duration>,
    fallback_lifetime: Duration,
    refusal_wait: fn(&HttpResponse, DateTime<Utc>) -> Option<Duration>,
    leases: Leases,
    renewal: Renewal,
}

impl ClientCredentials {
    /// Credentials for the OAuth client `client_id` at `token_url`.
    pub fn new(token_url: Url, client_id: SecretString, client_secret: SecretString) -> Self {
        let renewal = Renewal {
            ahead: Duration::from_secs(300),
            fraction: 10,
            refresh_lifetime: Duration::ZERO,
        };
        ClientCredentials {
            token_url,
            client_id,
            client_secret,
            timeout: None,
            fallback_lifetime: FALLBACK_LIFETIME,
            refusal_wait: HttpResponse::retry_after,
            leases: Leases::new(renewal),
            renewal,
        }
    }

    /// A timeout for token requests (default: the HTTP client's).
    #[must_use]
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// The lifetime assumed when a token answer has no `expires_in` (default 2 hours).
    #[must_use]
    pub fn fallback_lifetime(mut self, lifetime: Duration) -> Self {
        self.fallback_lifetime = lifetime;
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

    /// How long a refused token request asked to wait (default: its `Retry-After`).
    #[must_use]
    pub(crate) fn refusal_wait(
        mut self,
        wait: fn(&HttpResponse, DateTime<Utc>) -> Option<Duration>,
    ) -> Self {
        self.refusal_wait = wait;
        self
    }

    /// The token URL.
    pub fn token_url(&self) -> &Url {
        &self.token_url
    }

    /// Whether these credentials were made with exactly these settings.
    pub(crate) fn same_settings(
        &self,
        token_url: &Url,
        client_id: &SecretString,
        client_secret: &SecretString,
        timeout: Option<Duration>,
    ) -> bool {
        // The secrets are compared in constant time, like every credential comparison.
        let same = |a: &SecretString, b: &SecretString| {
            crate::spec::constant_time_eq(
                a.expose_secret().as_bytes(),
                b.expose_secret().as_bytes(),
            )
        };
        &self.token_url == token_url
            && same(&self.client_id, client_id)
            && same(&self.client_secret, client_secret)
            && self.timeout == timeout
    }
}

#[async_trait]
impl Issuer for ClientCredentials {
    async fn issue(
        &self,
        ctx: &Context,
        _refresh: Option<&SecretString>,
    ) -> Result<Issued, AuthError> {
        let client = Authorization::basic(self.client_id.expose_secret(), &self.client_secret);
        let mut request = HttpRequest::new(Method::Post, self.token_url.clone())
            .secret_header("Authorization", client.value().clone())
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("Accept", "application/json");
        request.body = Bytes::from_static(b"grant_type=client_credentials");
        request.timeout = self.timeout;
        let response = ctx.http().send(&request).await?;
        if !response.is_success() {
            return Err(AuthError::Refused {
                status: response.status,
                message: crate::http::token_refusal_reason(&response),
                retry_after: (self.refusal_wait)(&response, ctx.clock().now()),
            });
        }
        parse_token_answer(&response, self.fallback_lifetime)
    }
}

super::lease::leased_credentials!(ClientCredentials);

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &self.token_url.as_str())
            .field("client_id", &crate::http::REDACTED)
            .field("client_secret", &crate::http::REDACTED)
            .finish_non_exhaustive()
    }
}
