//! The ERP client: base URL, authentication (JWT with a shared, refreshed token; Basic; a
//! static bearer token), and a 401 → refresh-once rule.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{json, Value};
use url::Url;

use super::error::{api_error, error_text, RmError};
use crate::adapters::shared::token::{TokenCache, TokenSlot};
use crate::http::{HttpRequest, HttpResponse, Method};
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
    base_url: Url,
    auth: RmAuth,
    timeout: Option<Duration>,
    token: TokenCache<CachedToken>,
}

#[derive(Default, Clone)]
struct CachedToken {
    access: SecretString,
    refresh: Option<(SecretString, DateTime<Utc>)>,
    refresh_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    generation: u64,
}

impl RmClient {
    /// A client for the ERP at `base_url` (the host and port, e.g.
    /// `https://tenant.rm.cloudtotvs.com.br:8051`; a path prefix is kept).
    pub fn new(base_url: Url, auth: RmAuth) -> Self {
        let mut base_url = base_url;
        if !base_url.path().ends_with('/') {
            let path = format!("{}/", base_url.path());
            base_url.set_path(&path);
        }
        RmClient {
            inner: Arc::new(Inner {
                base_url,
                auth,
                timeout: None,
                token: TokenCache::default(),
            }),
        }
    }

    /// The same client with a timeout for every request (a new token cache).
    #[must_use]
    pub fn with_timeout(self, timeout: Duration) -> Self {
        RmClient {
            inner: Arc::new(Inner {
                base_url: self.inner.base_url.clone(),
                auth: self.inner.auth.clone(),
                timeout: Some(timeout),
                token: TokenCache::default(),
            }),
        }
    }

    /// The base URL, ending in `/`.
    pub fn base_url(&self) -> &Url {
        &self.inner.base_url
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
        let url = self
            .inner
            .base_url
            .join(path.trim_start_matches('/'))
            .map_err(|e| RmError::InvalidRequest(format!("bad path `{path}`: {e}")))?;
        self.check_url(&url)?;
        Ok(url)
    }

    fn check_url(&self, url: &Url) -> Result<(), RmError> {
        if url.as_str().starts_with(self.inner.base_url.as_str()) {
            Ok(())
        } else {
            Err(RmError::InvalidRequest(format!(
                "{url} is outside the configured base URL {}",
                self.inner.base_url
            )))
        }
    }

    /// Sends a request built without credentials, with the configured authorization, and
    /// returns any answer that is not a 401 (the caller reads success and error statuses).
    /// A 401 with JWT is retried once with a new token.
    pub async fn send(
        &self,
        ctx: &Context,
        request: &HttpRequest,
    ) -> Result<HttpResponse, RmError> {
        self.check_url(&request.url)?;
        let (authorization, generation) = self.authorization(ctx).await?;
        let response = self.send_with(ctx, request, authorization).await?;
        if response.status != 401 {
            return Ok(response);
        }
        if !matches!(self.inner.auth, RmAuth::Jwt(_)) {
            return Err(RmError::Unauthorized {
                message: error_text(&response),
            });
        }
        let fresh = self.refresh_after_rejection(ctx, generation).await?;
        let response = self
            .send_with(ctx, request, Some(bearer(&fresh.access)))
            .await?;
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
        self.inner.token.invalidate().await;
    }

    async fn send_with(
        &self,
        ctx: &Context,
        request: &HttpRequest,
        authorization: Option<SecretString>,
    ) -> Result<HttpResponse, RmError> {
        let mut request = request.clone();
        if let Some(authorization) = authorization {
            request
                .headers
                .insert_secret("Authorization", authorization);
        }
        if request.headers.get("accept").is_none() {
            request.headers.insert("Accept", "application/json");
        }
        if request.timeout.is_none() {
            request.timeout = self.inner.timeout;
        }
        Ok(ctx.http().send(&request).await?)
    }

    /// The `Authorization` value, and the generation of the JWT it holds (0 otherwise).
    async fn authorization(&self, ctx: &Context) -> Result<(Option<SecretString>, u64), RmError> {
        match &self.inner.auth {
            RmAuth::Basic { username, password } => {
                Ok((Some(basic_authorization(username, password)), 0))
            }
            RmAuth::Bearer(token) => Ok((Some(bearer(token)), 0)),
            RmAuth::Jwt(jwt) => {
                let token = self.current_token(ctx, jwt).await?;
                Ok((Some(bearer(&token.access)), token.generation))
            }
        }
    }

    /// The cached token if it is not due for refresh; else one refresh that concurrent
    /// callers wait for (the lock is held across the fetch on purpose: single flight).
    async fn current_token(&self, ctx: &Context, jwt: &JwtAuth) -> Result<CachedToken, RmError> {
        let mut slot = self.inner.token.lock(ctx).await;
        let now = ctx.clock().now();
        if let Some(token) = slot.current.as_ref().filter(|t| now < t.refresh_at) {
            return Ok(token.clone());
        }
        self.refill(ctx, jwt, &mut slot).await
    }

    /// After a 401 with token `generation`: a new token, unless another caller already
    /// replaced the refused one.
    async fn refresh_after_rejection(
        &self,
        ctx: &Context,
        generation: u64,
    ) -> Result<CachedToken, RmError> {
        let RmAuth::Jwt(jwt) = &self.inner.auth else {
            return Err(RmError::Unauthorized {
                message: "static credentials cannot be refreshed".to_owned(),
            });
        };
        let mut slot = self.inner.token.lock(ctx).await;
        if let Some(token) = slot.current.as_ref().filter(|t| t.generation != generation) {
            return Ok(token.clone());
        }
        // The refused access token must not be reused; its refresh token may still work.
        if let Some(current) = slot.current.as_mut() {
            current.expires_at = ctx.clock().now();
            current.refresh_at = current.expires_at;
        }
        self.refill(ctx, jwt, &mut slot).await
    }

    async fn refill(
        &self,
        ctx: &Context,
        jwt: &JwtAuth,
        slot: &mut TokenSlot<CachedToken>,
    ) -> Result<CachedToken, RmError> {
        let now = ctx.clock().now();
        let refresh = slot
            .current
            .as_ref()
            .and_then(|t| t.refresh.as_ref())
            .filter(|(_, until)| now < *until)
            .map(|(token, _)| token.clone());
        let fetched = match refresh {
            // A refresh token the server no longer takes is not fatal: log in again.
            Some(refresh) => match self.fetch_token(ctx, jwt, Some(&refresh)).await {
                Ok(answer) => Ok(answer),
                Err(RmError::Transport(e)) => Err(RmError::Transport(e)),
                Err(_) => self.fetch_token(ctx, jwt, None).await,
            },
            None => self.fetch_token(ctx, jwt, None).await,
        };
        match fetched {
            Ok(answer) => {
                let obtained = ctx.clock().now();
                slot.generation += 1;
                let margin = REFRESH_AHEAD.min(answer.lifetime / 5);
                let refresh = answer.refresh.map(|token| {
                    (
                        token,
                        crate::clock::add(obtained, jwt.refresh_token_lifetime),
                    )
                });
                let token = CachedToken {
                    access: answer.access,
                    refresh,
                    refresh_at: crate::clock::add(obtained, answer.lifetime.saturating_sub(margin)),
                    expires_at: crate::clock::add(obtained, answer.lifetime),
                    generation: slot.generation,
                };
                slot.current = Some(token.clone());
                Ok(token)
            }
            Err(error) => {
                // A refresh ahead of expiry that fails leaves a token that still works.
                let now = ctx.clock().now();
                match slot.current.as_ref().filter(|t| now < t.expires_at) {
                    Some(token) => Ok(token.clone()),
                    None => Err(error),
                }
            }
        }
    }

    async fn fetch_token(
        &self,
        ctx: &Context,
        jwt: &JwtAuth,
        refresh: Option<&SecretString>,
    ) -> Result<TokenAnswer, RmError> {
        let url = self.url(&jwt.token_path)?;
        let body = match refresh {
            Some(token) => {
                json!({"grant_type": "refresh_token", "refresh_token": token.expose_secret()})
            }
            None => json!({
                "username": jwt.username,
                "password": jwt.password.expose_secret(),
                "grant_type": "password",
            }),
        };
        // The body holds the password or a refresh token: marked secret, it shows as
        // `[redacted]` in Debug and in a recording client's dry-run output.
        let mut request = HttpRequest::new(Method::Post, url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .with_secret_body();
        request.body = bytes::Bytes::from(body.to_string());
        request.timeout = self.inner.timeout;
        let response = ctx.http().send(&request).await?;
        if !response.is_success() {
            return Err(RmError::TokenRejected {
                status: response.status,
                message: crate::http::token_refusal_reason(&response),
            });
        }
        parse_token(&response)
    }
}

struct TokenAnswer {
    access: SecretString,
    refresh: Option<SecretString>,
    lifetime: Duration,
}

fn bearer(token: &SecretString) -> SecretString {
    SecretString::from(format!("Bearer {}", token.expose_secret()))
}

/// Reads a token answer. Its body is never quoted in errors: it may hold a token.
fn parse_token(response: &HttpResponse) -> Result<TokenAnswer, RmError> {
    let unreadable = |message: &str| RmError::TokenUnreadable {
        status: response.status,
        message: message.to_owned(),
    };
    let body: Value =
        serde_json::from_slice(&response.body).map_err(|_| unreadable("the answer is not JSON"))?;
    let Value::Object(map) = body else {
        return Err(unreadable("the answer is not a JSON object"));
    };
    let access = match map.get("access_token") {
        Some(Value::String(token)) if !token.trim().is_empty() => {
            SecretString::from(token.trim().to_owned())
        }
        _ => return Err(unreadable("no `access_token` in the answer")),
    };
    if let Some(Value::String(kind)) = map.get("token_type") {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(unreadable("`token_type` is not Bearer"));
        }
    }
    let refresh = match map.get("refresh_token") {
        Some(Value::String(token)) if !token.trim().is_empty() => {
            Some(SecretString::from(token.trim().to_owned()))
        }
        _ => None,
    };
    let lifetime = match map.get("expires_in") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite() && *s > 0.0)
    .and_then(|s| Duration::try_from_secs_f64(s).ok())
    .unwrap_or(FALLBACK_TOKEN_LIFETIME);
    Ok(TokenAnswer {
        access,
        refresh,
        lifetime,
    })
}

impl fmt::Debug for RmClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RmClient")
            .field("base_url", &self.inner.base_url.as_str())
            .field("auth", &self.inner.auth)
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

/// `Basic base64(username:password)` (RFC 7617), in base64's standard alphabet with padding.
pub(crate) fn basic_authorization(username: &str, password: &SecretString) -> SecretString {
    use base64::Engine as _;
    let pair = format!("{username}:{}", password.expose_secret());
    SecretString::from(format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    ))
}
