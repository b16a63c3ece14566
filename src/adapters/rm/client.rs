//! The ERP client: base URL, authentication (JWT with a shared, refreshed token; Basic; a
//! static bearer token), and a 401 → refresh-once rule.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;
use url::Url;

use super::error::{api_error, error_text, RmError};
use crate::adapters::shared::auth::{AuthError, Credentials, PasswordJwt, StaticToken, Unusable};
use crate::adapters::shared::client::{ApiClient, SendError};
use crate::http::{HttpRequest, HttpResponse};
use crate::Context;

/// RM's documented token route (`POST /api/connect/token/`).
pub const DEFAULT_TOKEN_PATH: &str = "/api/connect/token/";
/// RM's default JWT lifetime (`JWTTokenExpireMinutes` = 5), assumed when the token answer
/// has no `expires_in`.
pub const FALLBACK_TOKEN_LIFETIME: Duration = Duration::from_secs(300);
/// RM's default refresh-token lifetime (`JWTRefreshTokenExpireMinutes` = 16 h). The token
/// answer does not say it, so it is a setting ([`JwtAuth::refresh_token_lifetime`]).
pub const DEFAULT_REFRESH_TOKEN_LIFETIME: Duration = Duration::from_secs(16 * 3600);
/// A token is refreshed this long before it expires, or a fifth of its lifetime before,
/// whichever is shorter (60 s of RM's default 5 min), so no request leaves with a token
/// about to expire.
pub const REFRESH_AHEAD: Duration = Duration::from_secs(60);

/// How the client authenticates.
#[derive(Clone)]
#[non_exhaustive]
pub enum RmAuth {
    /// `Authorization: Basic base64(user:password)`, which RM's APIs accept.
    Basic {
        /// The RM user.
        username: String,
        /// The password.
        password: SecretString,
    },
    /// `Authorization: Bearer <token>` with a token issued elsewhere (by TOTVS or RD
    /// Conversas). It cannot be refreshed: a 401 is final.
    Bearer(SecretString),
    /// A JWT from the token route, cached, refreshed ahead of expiry and after a 401.
    Jwt(JwtAuth),
}

/// JWT settings: `POST {base}{token_path}` with `{"username", "password", "grant_type":
/// "password"}`; refreshed with `{"grant_type": "refresh_token", "refresh_token"}` while the
/// refresh token lasts, else with the password again.
#[derive(Clone)]
#[non_exhaustive]
pub struct JwtAuth {
    /// The RM user.
    pub username: String,
    /// The password.
    pub password: SecretString,
    /// The token route below the base URL (default [`DEFAULT_TOKEN_PATH`]).
    pub token_path: String,
    /// How long a refresh token is good for (default [`DEFAULT_REFRESH_TOKEN_LIFETIME`]).
    pub refresh_token_lifetime: Duration,
}

impl JwtAuth {
    /// Password-grant JWT auth with the default token path and refresh-token lifetime.
    pub fn new(username: impl Into<String>, password: SecretString) -> Self {
        JwtAuth {
            username: username.into(),
            password,
            token_path: DEFAULT_TOKEN_PATH.to_owned(),
            refresh_token_lifetime: DEFAULT_REFRESH_TOKEN_LIFETIME,
        }
    }

    /// Another token route.
    #[must_use]
    pub fn token_path(mut self, path: impl Into<String>) -> Self {
        self.token_path = path.into();
        self
    }

    /// Another refresh-token lifetime (RM's `JWTRefreshTokenExpireMinutes`).
    #[must_use]
    pub fn refresh_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.refresh_token_lifetime = lifetime;
        self
    }
}

impl fmt::Debug for RmAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RmAuth::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &crate::http::REDACTED)
                .finish(),
            RmAuth::Bearer(_) => f
                .debug_tuple("Bearer")
                .field(&crate::http::REDACTED)
                .finish(),
            RmAuth::Jwt(jwt) => f
                .debug_struct("Jwt")
                .field("username", &jwt.username)
                .field("password", &crate::http::REDACTED)
                .field("token_path", &jwt.token_path)
                .finish(),
        }
    }
}

/// A client of an RM-style ERP. Cheap to clone: clones share one JWT cache, so concurrent
/// requests wait for one token fetch instead of each logging in.
///
/// It holds no runtime: every call takes the host's [`Context`]; time and HTTP go through
/// its clock and client.
///
/// * **JWT**: fetched on first use, refreshed [`REFRESH_AHEAD`] (at most a fifth of its
///   lifetime) before `expires_in` with the refresh token when one was given and is still
///   valid, else with the password. If a refresh fails while the old token has not expired,
///   the old token is used.
/// * **401**: with JWT the token is dropped, a new one fetched and the request repeated
///   once; a second 401 is [`RmError::Unauthorized`]. With Basic or a static bearer token a
///   401 is final.
/// * Requests only go below the base URL: credentials never leave for another host.
///
/// ```
/// use hubflow::rm::{JwtAuth, RmAuth, RmClient};
/// use secrecy::SecretString;
///
/// let client = RmClient::new(
///     "https://clinic.rm.cloudtotvs.com.br:8051".parse().unwrap(),
///     RmAuth::Jwt(JwtAuth::new("mestre", SecretString::from("pa55-secret"))),
/// );
/// assert_eq!(
///     client.url("/api/framework/v1/companies/").unwrap().as_str(),
///     "https://clinic.rm.cloudtotvs.com.br:8051/api/framework/v1/companies/"
/// );
/// assert!(client.url("https://elsewhere.example/steal").is_err());
/// assert!(!format!("{client:?}").contains("pa55-secret"));
/// ```
#[derive(Clone)]
pub struct RmClient {
    inner: Arc<Inner>,
}

struct Inner {
    /// The base URL, the shared send path and the credentials (whose token cache clones
    /// share).
    api: ApiClient,
    auth: RmAuth,
    timeout: Option<Duration>,
}

impl RmClient {
    /// A client for the ERP at `base_url` (the host and port, e.g.
    /// `https://tenant.rm.cloudtotvs.com.br:8051`; a path prefix is kept).
    ///
    /// A base URL that is not an absolute `http(s)` URL with a host (and no user info, query
    /// or fragment) makes every request fail with [`RmError::InvalidRequest`] saying why;
    /// flow specs refuse it when they are built.
    pub fn new(base_url: Url, auth: RmAuth) -> Self {
        RmClient::build(base_url, auth, None)
    }

    fn build(base_url: Url, auth: RmAuth, timeout: Option<Duration>) -> Self {
        let api = ApiClient::new(
            base_url,
            Arc::new(StaticToken::header(SecretString::from(""))),
        )
        .timeout(timeout)
        .accept_json();
        let credentials: Arc<dyn Credentials> = match &auth {
            RmAuth::Basic { username, password } => {
                Arc::new(StaticToken::basic(username, password))
            }
            RmAuth::Bearer(token) => Arc::new(StaticToken::bearer(token)),
            RmAuth::Jwt(jwt) => match api.join(&jwt.token_path) {
                Ok(token_url) => Arc::new(
                    PasswordJwt::new(token_url, jwt.username.clone(), jwt.password.clone())
                        .refresh_token_lifetime(jwt.refresh_token_lifetime)
                        .fallback_lifetime(FALLBACK_TOKEN_LIFETIME)
                        .renew_ahead(REFRESH_AHEAD, 5)
                        .timeout(timeout),
                ),
                Err(e) => Arc::new(Unusable::new(format!("the token path: {e}"))),
            },
        };
        RmClient {
            inner: Arc::new(Inner {
                api: api.with_credentials(credentials),
                auth,
                timeout,
            }),
        }
    }

    /// The same client with a timeout for every request (a new token cache).
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        RmClient::build(
            self.inner.api.url().clone(),
            self.inner.auth.clone(),
            Some(timeout),
        )
    }

    /// The base URL, ending in `/`.
    pub fn base_url(&self) -> &Url {
        self.inner.api.url()
    }

    /// How the client authenticates.
    pub(crate) fn auth(&self) -> &RmAuth {
        &self.inner.auth
    }

    /// Whether two handles share one token cache.
    pub fn shares_cache_with(&self, other: &RmClient) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The URL of a path (with an optional query) below the base URL. A leading `/` is
    /// relative to the base URL too; absolute URLs and `..` that leave it are refused.
    pub fn url(&self, path: &str) -> Result<Url, RmError> {
        Ok(self.inner.api.join(path)?)
    }

    /// Sends a request built without credentials, with the configured authorization, and
    /// returns any answer that is not a 401 (the caller reads success and error statuses).
    /// A 401 with JWT is retried once with a new token.
    pub async fn send(
        &self,
        ctx: &Context,
        request: &HttpRequest,
    ) -> Result<HttpResponse, RmError> {
        let response = self.inner.api.send(ctx, request, None).await?;
        if response.status == 401 {
            return Err(RmError::Unauthorized {
                message: error_text(&response),
            });
        }
        Ok(response)
    }

    /// Sends a request and reads a success answer as JSON (an empty body is `null`); an
    /// error status is [`RmError::Api`].
    pub async fn send_json(
        &self,
        ctx: &Context,
        request: &HttpRequest,
    ) -> Result<(u16, Value), RmError> {
        let response = self.send(ctx, request).await?;
        if !response.is_success() {
            return Err(api_error(&response, ctx.clock().now()));
        }
        if response.body.iter().all(u8::is_ascii_whitespace) {
            return Ok((response.status, Value::Null));
        }
        let value = serde_json::from_slice(&response.body).map_err(|e| RmError::Response {
            message: format!(
                "the answer of {} {} is not JSON (line {}, column {})",
                request.method,
                request.url.path(),
                e.line(),
                e.column()
            ),
        })?;
        Ok((response.status, value))
    }

    /// Forgets the cached JWT, so the next request fetches a new one.
    pub async fn invalidate_token(&self) {
        self.inner.api.credentials().forget().await;
    }
}

impl From<SendError> for RmError {
    fn from(error: SendError) -> Self {
        match error {
            SendError::Transport(e) => RmError::Transport(e),
            SendError::Auth(AuthError::Transport(e)) => RmError::Transport(e.for_read()),
            SendError::Auth(AuthError::Refused {
                status, message, ..
            }) => RmError::TokenRejected { status, message },
            SendError::Auth(AuthError::Unreadable { status, message }) => {
                RmError::TokenUnreadable { status, message }
            }
            other => RmError::InvalidRequest(other.to_string()),
        }
    }
}

impl fmt::Debug for RmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RmClient")
            .field("base_url", &self.inner.api.url().as_str())
            .field("auth", &self.inner.auth)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}
