//! Credentials from a provider: where the `Authorization` value of a request comes from,
//! and what happens when the provider rejects it.
//!
//! Every provider client of hubflow (Fracttal, RM, TimelinesAI, RD Conversas, WhatsApp)
//! sends through one path that asks its [`Credentials`] for the value, and when the provider
//! says the credentials were rejected (HTTP 401, or a provider's own sign such as Graph
//! error 190), tells them so ([`Credentials::refresh`]) and sends once more with the value
//! they give back. A rejection that survives that one refresh is final: the delivery fails
//! permanently.
//!
//! | credentials | a rejection |
//! |---|---|
//! | [`StaticToken`]: a fixed bearer or basic value | final at once: nothing new to send |
//! | [`ClientCredentials`]: OAuth 2.0 client credentials (Fracttal) | one new token for all waiting callers |
//! | [`PasswordJwt`]: a login with a JWT and a refresh token (RM) | one new token: with the refresh token, else the password |
//! | [`ReloadingToken`]: a token the host loads ([`TokenSource`]), e.g. a rotated WhatsApp system-user token | reloaded once; final if the host still has the rejected token |
//!
//! Tokens are cached per client and refreshed single flight: concurrent requests that see
//! the same rejection wait for one refresh. A dry run keeps the tokens it obtains (from
//! provider fakes) apart from the real ones.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::lease::{Issued, Leases, Renewal};
use crate::http::HttpError;
use crate::Context;

pub use super::base_url::{BaseUrl, BaseUrlError};
#[cfg(any(feature = "fracttal", feature = "rm"))]
pub use super::jwt::PasswordJwt;
#[cfg(any(feature = "fracttal", feature = "rm"))]
pub use super::oauth::ClientCredentials;

/// The `Authorization` value of a request (`Bearer …`, `Basic …`), with the generation of
/// the token it holds, so that a rejection can tell whether another caller already
/// replaced the token. Shown as `[redacted]` by `Debug`.
#[derive(Clone)]
pub struct Authorization {
    value: SecretString,
    generation: u64,
}

impl Authorization {
    /// A header value as it is sent (e.g. `Bearer abc`), generation 0.
    pub fn new(value: SecretString) -> Self {
        Authorization {
            value,
            generation: 0,
        }
    }

    /// `Bearer <token>`.
    pub fn bearer(token: &SecretString) -> Self {
        Authorization::new(SecretString::from(format!(
            "Bearer {}",
            token.expose_secret()
        )))
    }

    /// `Basic base64(user:password)` (RFC 7617), in base64's standard alphabet with padding.
    ///
    /// ```
    /// use hubflow::auth::Authorization;
    /// use secrecy::ExposeSecret;
    /// let value = Authorization::basic("key", &"secret".into());
    /// assert_eq!(value.value().expose_secret(), "Basic a2V5OnNlY3JldA==");
    /// ```
    #[cfg(any(feature = "fracttal", feature = "rm", feature = "twilio"))]
    pub fn basic(user: &str, password: &SecretString) -> Self {
        use base64::Engine as _;
        let pair = format!("{user}:{}", password.expose_secret());
        Authorization::new(SecretString::from(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )))
    }

    /// The same value marked with the generation of the token it holds.
    #[must_use]
    pub fn with_generation(mut self, generation: u64) -> Self {
        self.generation = generation;
        self
    }

    /// The header value.
    pub fn value(&self) -> &SecretString {
        &self.value
    }

    /// The generation of the token (0 for values that never change).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Whether two values are the same text, compared without an early exit.
    pub(crate) fn same_value(&self, other: &Authorization) -> bool {
        same_secret(
            self.value.expose_secret().as_bytes(),
            other.value.expose_secret().as_bytes(),
        )
    }
}

impl fmt::Debug for Authorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorization")
            .field("value", &crate::http::REDACTED)
            .field("generation", &self.generation)
            .finish()
    }
}

/// Byte equality that looks at every byte whatever the first difference (the length is
/// not hidden: both sides are the crate's own tokens, not a guess to be checked).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let differ = a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(differ) == 0
}

/// Why no `Authorization` value could be had. The texts never quote a token, a password or
/// a token answer's body.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token endpoint could not be reached.
    #[error(transparent)]
    Transport(#[from] HttpError),
    /// The token endpoint refused to issue a token.
    #[error("the token endpoint answered HTTP {status}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The endpoint's reason (`invalid_client`), never its body.
        message: String,
        /// How long the endpoint asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The token endpoint answered success with something that is not a token.
    #[error("the token answer (HTTP {status}) is unreadable: {message}")]
    Unreadable {
        /// The HTTP status.
        status: u16,
        /// What is wrong with it.
        message: String,
    },
    /// The credentials are configured so that they cannot work (e.g. a token URL outside
    /// the base URL). Permanent.
    #[error("the credentials cannot be used: {0}")]
    Invalid(String),
    /// A host's [`TokenSource`] could not load the token. Retryable: the source may be
    /// back later.
    #[error("the token could not be loaded: {0}")]
    Unavailable(String),
}

/// Where the `Authorization` value of a provider client's requests comes from.
///
/// The client asks [`authorization`](Credentials::authorization) before each request. When
/// the provider rejects the credentials (HTTP 401, or the provider's own sign), the client
/// calls [`refresh`](Credentials::refresh) with the rejected value and sends once more with
/// the value it returns; `None` means there is nothing new to try, and the rejection is
/// final. A second rejection is final too: a client never asks twice for one request.
///
/// Implementations keep concurrent refreshes to one (callers whose value was already
/// replaced get the new one without a fetch) and keep what a dry run obtains apart from
/// real requests ([`Context::is_dry_run`]). The ones hubflow ships do both.
///
/// The trait is object safe: clients hold an `Arc<dyn Credentials>`.
///
/// ```
/// use std::sync::Arc;
/// use hubflow::auth::{Credentials, StaticToken};
/// use secrecy::SecretString;
///
/// let credentials: Arc<dyn Credentials> = Arc::new(StaticToken::bearer(&SecretString::from("t0k3n")));
/// assert!(!format!("{credentials:?}").contains("t0k3n"));
/// ```
#[async_trait]
pub trait Credentials: Send + Sync + fmt::Debug {
    /// The value for the next request.
    async fn authorization(&self, ctx: &Context) -> Result<Authorization, AuthError>;

    /// The provider rejected `rejected`: a different value to send once more with, or
    /// `None` when there is none (a static token, or a source that still has the rejected
    /// one).
    async fn refresh(
        &self,
        ctx: &Context,
        rejected: &Authorization,
    ) -> Result<Option<Authorization>, AuthError>;

    /// Forgets any cached token, so the next request gets a new one. Does nothing by
    /// default.
    async fn forget(&self) {}
}

/// A fixed `Authorization` value: an API token issued elsewhere, or a user and password.
/// A rejection is final: sending the same value again would fail the same way.
///
/// ```
/// use hubflow::auth::StaticToken;
/// use secrecy::SecretString;
///
/// let token = StaticToken::bearer(&SecretString::from("4d2d0239"));
/// let shown = format!("{token:?}");
/// assert!(shown.contains("[redacted]") && !shown.contains("4d2d0239"), "{shown}");
/// ```
#[derive(Clone)]
pub struct StaticToken(Authorization);

impl StaticToken {
    /// `Authorization: Bearer <token>`.
    pub fn bearer(token: &SecretString) -> Self {
        StaticToken(Authorization::bearer(token))
    }

    /// `Authorization: Basic base64(user:password)`.
    #[cfg(any(feature = "fracttal", feature = "rm", feature = "twilio"))]
    pub fn basic(user: &str, password: &SecretString) -> Self {
        StaticToken(Authorization::basic(user, password))
    }

    /// A value sent as it is (e.g. `Token abc`).
    pub fn header(value: SecretString) -> Self {
        StaticToken(Authorization::new(value))
    }
}

impl fmt::Debug for StaticToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StaticToken")
            .field(&crate::http::REDACTED)
            .finish()
    }
}

#[async_trait]
impl Credentials for StaticToken {
    async fn authorization(&self, _ctx: &Context) -> Result<Authorization, AuthError> {
        Ok(self.0.clone())
    }

    async fn refresh(
        &self,
        _ctx: &Context,
        _rejected: &Authorization,
    ) -> Result<Option<Authorization>, AuthError> {
        Ok(None)
    }
}

/// Credentials configured so that they cannot work: every request fails with
/// [`AuthError::Invalid`] saying why, before anything is sent.
#[derive(Debug)]
pub(crate) struct Unusable(String);

impl Unusable {
    pub(crate) fn new(reason: String) -> Self {
        Unusable(reason)
    }
}

#[async_trait]
impl Credentials for Unusable {
    async fn authorization(&self, _ctx: &Context) -> Result<Authorization, AuthError> {
        Err(AuthError::Invalid(self.0.clone()))
    }

    async fn refresh(
        &self,
        _ctx: &Context,
        _rejected: &Authorization,
    ) -> Result<Option<Authorization>, AuthError> {
        Ok(None)
    }
}

/// A bearer token the host loads: from a file a rotation job rewrites, a secret manager,
/// an environment variable. [`ReloadingToken`] calls it on first use and once after each
/// rejection.
#[async_trait]
pub trait TokenSource: Send + Sync {
    /// The current token.
    async fn token(&self, ctx: &Context) -> Result<SecretString, AuthError>;
}

/// The host's [`TokenSource`] as [`Credentials`]: `Bearer <token>`, loaded once and kept
/// until the provider rejects it, then loaded again (once for all waiting callers). If the
/// source still gives the rejected token, the rejection is final.
///
/// This is how a WhatsApp connection follows a system-user token that is rotated outside
/// hubflow:
///
/// ```
/// use std::sync::Arc;
/// use hubflow::auth::{AuthError, ReloadingToken};
/// use hubflow::whatsapp::WhatsAppConnection;
/// use secrecy::SecretString;
///
/// // Read the token the rotation job last wrote, on first use and after a rejection.
/// let token = ReloadingToken::from_fn(|| {
///     std::env::var("WHATSAPP_TOKEN")
///         .map(SecretString::from)
///         .map_err(|_| AuthError::Unavailable("WHATSAPP_TOKEN is not set".into()))
/// });
/// let connection = WhatsAppConnection::with_credentials("106540352242922", Arc::new(token));
/// assert_eq!(connection.phone_number_id(), "106540352242922");
/// ```
pub struct ReloadingToken {
    source: Box<dyn TokenSource>,
    leases: Leases,
}

impl ReloadingToken {
    /// Credentials that load their token from `source`.
    pub fn new(source: impl TokenSource + 'static) -> Self {
        ReloadingToken {
            source: Box::new(source),
            leases: Leases::new(Renewal::never()),
        }
    }

    /// Credentials that load their token by calling `load`.
    pub fn from_fn<F>(load: F) -> Self
    where
        F: Fn() -> Result<SecretString, AuthError> + Send + Sync + 'static,
    {
        ReloadingToken::new(FnSource(load))
    }
}

struct FnSource<F>(F);

#[async_trait]
impl<F> TokenSource for FnSource<F>
where
    F: Fn() -> Result<SecretString, AuthError> + Send + Sync,
{
    async fn token(&self, _ctx: &Context) -> Result<SecretString, AuthError> {
        (self.0)()
    }
}

#[async_trait]
impl<S: TokenSource + ?Sized> TokenSource for Arc<S> {
    async fn token(&self, ctx: &Context) -> Result<SecretString, AuthError> {
        (**self).token(ctx).await
    }
}

/// What [`Leases`] asks a [`TokenSource`] for.
struct SourceIssuer<'a>(&'a dyn TokenSource);

#[async_trait]
impl super::lease::Issuer for SourceIssuer<'_> {
    async fn issue(
        &self,
        ctx: &Context,
        _refresh: Option<&SecretString>,
    ) -> Result<Issued, AuthError> {
        Ok(Issued {
            access: self.0.token(ctx).await?,
            refresh: None,
            lifetime: None,
        })
    }
}

impl fmt::Debug for ReloadingToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingToken").finish_non_exhaustive()
    }
}

#[async_trait]
impl Credentials for ReloadingToken {
    async fn authorization(&self, ctx: &Context) -> Result<Authorization, AuthError> {
        self.leases
            .authorization(ctx, &SourceIssuer(self.source.as_ref()))
            .await
    }

    async fn refresh(
        &self,
        ctx: &Context,
        rejected: &Authorization,
    ) -> Result<Option<Authorization>, AuthError> {
        let fresh = self
            .leases
            .refresh(ctx, &SourceIssuer(self.source.as_ref()), rejected)
            .await?;
        // A source that still has the rejected token (the rotation has not happened yet)
        // has nothing new to send.
        Ok((!fresh.same_value(rejected)).then_some(fresh))
    }

    async fn forget(&self) {
        self.leases.forget().await;
    }
}

#[cfg(test)]
mod tests;
