//! The one send path of the provider clients: the base URL check, the credentials, the
//! rate limit, and one refresh-and-resend when the provider rejects the credentials.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use url::Url;

use super::auth::{AuthError, Authorization, Credentials};
use super::base_url::{with_segments, with_trailing_slash, BaseUrl, BaseUrlError};
use crate::http::{HttpError, HttpRequest, HttpResponse};
use crate::{Context, DeliveryError, ErrorClass, ProviderError, RateLimiter, TargetError};

/// Whether an answer says the credentials were rejected (and a refreshed value may help).
pub(crate) type RejectionHook = fn(&HttpResponse) -> bool;

/// The usual sign: HTTP 401.
pub(crate) fn is_401(response: &HttpResponse) -> bool {
    response.status == 401
}

/// Why a request could not be sent. A provider's answer, success or not, is not an error
/// here: the adapter reads and classifies it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SendError {
    /// The configured base URL is not one.
    #[error("the base URL {url} is not usable: {error}")]
    BaseUrl { url: String, error: BaseUrlError },
    /// The request's URL is not below the base URL, so it would carry the credentials
    /// elsewhere.
    #[error("{url} is outside the configured base URL {base}")]
    Outside { url: String, base: String },
    /// No `Authorization` value could be had.
    #[error(transparent)]
    Auth(AuthError),
    /// The request went unanswered.
    #[error(transparent)]
    Transport(#[from] HttpError),
}

impl From<AuthError> for SendError {
    /// A token request that failed on the way is a transport failure of the send, and never
    /// one that had an answer: the token request acts on nothing, so its cut-off body
    /// ([`HttpError::for_read`]) must not make the send look as if the provider had acted.
    fn from(error: AuthError) -> Self {
        match error {
            AuthError::Transport(e) => SendError::Transport(e.for_read()),
            other => SendError::Auth(other),
        }
    }
}

/// How a failure to get credentials is retried: a refusal by status (429 and 5xx may pass),
/// a host source that may be back later; the rest is permanent.
pub(crate) fn auth_class(error: &AuthError) -> ErrorClass {
    match error {
        AuthError::Transport(_) | AuthError::Unavailable(_) => {
            ErrorClass::Retryable { after: None }
        }
        AuthError::Refused {
            status,
            retry_after,
            ..
        } => match ErrorClass::from_status(*status, *retry_after) {
            retryable @ ErrorClass::Retryable { .. } => retryable,
            _ => ErrorClass::Permanent,
        },
        _ => ErrorClass::Permanent,
    }
}

/// A [`SendError`] sorted for a target's or a provider call's own error type.
pub(crate) enum Failure {
    /// Nothing arrived, or the credentials could not be loaded (nothing was sent; the host's
    /// source may answer on the next attempt).
    Transport(HttpError),
    /// The token endpoint refused or answered nonsense, classified.
    Provider(ProviderError),
    /// The client is configured so that nothing can be sent (its base URL, a URL outside
    /// it, credentials that cannot work). Permanent.
    Config(String),
}

impl SendError {
    /// Sorts the error for a client of `provider`.
    pub(crate) fn into_failure(self, provider: &str) -> Failure {
        match self {
            SendError::Transport(e) => Failure::Transport(e),
            SendError::Auth(AuthError::Transport(e)) => Failure::Transport(e.for_read()),
            SendError::Auth(AuthError::Unavailable(message)) => {
                Failure::Transport(HttpError::Other {
                    message: format!("the token could not be loaded: {message}"),
                    source: None,
                })
            }
            SendError::Auth(AuthError::Invalid(message)) => Failure::Config(message),
            SendError::Auth(error) => {
                let status = match &error {
                    AuthError::Refused { status, .. } | AuthError::Unreadable { status, .. } => {
                        *status
                    }
                    _ => 0,
                };
                let class = auth_class(&error);
                let message = error.to_string();
                Failure::Provider(ProviderError {
                    provider: provider.to_owned(),
                    status,
                    code: None,
                    message,
                    class,
                    details: Value::Null,
                    source: Some(std::sync::Arc::new(error)),
                })
            }
            other @ (SendError::BaseUrl { .. } | SendError::Outside { .. }) => {
                Failure::Config(other.to_string())
            }
        }
    }

    /// The delivery error of a target of `provider`.
    pub(crate) fn into_delivery(self, provider: &str) -> DeliveryError {
        match self.into_failure(provider) {
            Failure::Transport(e) => DeliveryError::Transport(e),
            Failure::Provider(e) => DeliveryError::from(e),
            Failure::Config(message) => {
                DeliveryError::Prepare(TargetError::InvalidPayload(message))
            }
        }
    }
}

/// A provider API's base URL with the credentials its requests carry. Cheap to clone:
/// clones share the credentials (and so their cached token).
#[derive(Clone)]
pub(crate) struct ApiClient {
    /// The configured URL with a trailing `/`, kept even when it is not usable so that it
    /// can be shown.
    url: Url,
    base: Result<BaseUrl, BaseUrlError>,
    credentials: Arc<dyn Credentials>,
    rejects: RejectionHook,
    timeout: Option<Duration>,
    accept_json: bool,
}

impl ApiClient {
    /// A client for the API at `base` (checked at each send), rejections shown by a 401.
    pub(crate) fn new(base: Url, credentials: Arc<dyn Credentials>) -> Self {
        ApiClient {
            url: with_trailing_slash(base.clone()),
            base: BaseUrl::new(base),
            credentials,
            rejects: is_401,
            timeout: None,
            accept_json: false,
        }
    }

    /// The same client on another base URL (same credentials).
    #[must_use]
    pub(crate) fn with_base(mut self, base: Url) -> Self {
        self.url = with_trailing_slash(base.clone());
        self.base = BaseUrl::new(base);
        self
    }

    /// The same client with other credentials.
    #[must_use]
    pub(crate) fn with_credentials(mut self, credentials: Arc<dyn Credentials>) -> Self {
        self.credentials = credentials;
        self
    }

    /// How the provider says the credentials were rejected.
    #[must_use]
    pub(crate) fn rejects(mut self, hook: RejectionHook) -> Self {
        self.rejects = hook;
        self
    }

    /// A timeout for requests that set none.
    #[must_use]
    pub(crate) fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Adds `Accept: application/json` to requests that do not say what they accept.
    #[must_use]
    pub(crate) fn accept_json(mut self) -> Self {
        self.accept_json = true;
        self
    }

    /// The base URL as configured, ending in `/` (maybe not usable: see [`base`](Self::base)).
    pub(crate) fn url(&self) -> &Url {
        &self.url
    }

    /// The checked base URL.
    pub(crate) fn base(&self) -> Result<&BaseUrl, SendError> {
        self.base.as_ref().map_err(|error| SendError::BaseUrl {
            url: self.url.to_string(),
            error: error.clone(),
        })
    }

    /// The credentials.
    pub(crate) fn credentials(&self) -> &Arc<dyn Credentials> {
        &self.credentials
    }

    /// `path` below the base URL; a path that would leave it is refused.
    pub(crate) fn join(&self, path: &str) -> Result<Url, SendError> {
        let base = self.base()?;
        base.join(path).ok_or_else(|| SendError::Outside {
            url: path.to_owned(),
            base: base.to_string(),
        })
    }

    /// The base URL followed by `segments`, each one path segment.
    pub(crate) fn segments(&self, segments: &[&str]) -> Url {
        with_segments(&self.url, segments)
    }

    /// Refuses a URL that is not below the base URL.
    pub(crate) fn check(&self, url: &Url) -> Result<(), SendError> {
        let base = self.base()?;
        if base.contains(url) {
            Ok(())
        } else {
            Err(SendError::Outside {
                url: url.to_string(),
                base: base.to_string(),
            })
        }
    }

    /// Sends `request` (built without credentials) with the credentials' value, each
    /// attempt paced by `limiter` (skipped in dry runs). When the answer rejects the
    /// credentials, they are told so and the request is sent once more with the value they
    /// give back; whatever that answers is returned, a second rejection included.
    pub(crate) async fn send(
        &self,
        ctx: &Context,
        request: &HttpRequest,
        limiter: Option<&RateLimiter>,
    ) -> Result<HttpResponse, SendError> {
        self.check(&request.url)?;
        let authorization = self.credentials.authorization(ctx).await?;
        let response = self.attempt(ctx, request, &authorization, limiter).await?;
        if !(self.rejects)(&response) {
            return Ok(response);
        }
        match self.credentials.refresh(ctx, &authorization).await? {
            Some(fresh) => Ok(self.attempt(ctx, request, &fresh, limiter).await?),
            None => Ok(response),
        }
    }

    async fn attempt(
        &self,
        ctx: &Context,
        request: &HttpRequest,
        authorization: &Authorization,
        limiter: Option<&RateLimiter>,
    ) -> Result<HttpResponse, HttpError> {
        let request = self.authorized(request, authorization);
        if let Some(limiter) = limiter {
            limiter.acquire_in(ctx, "").await;
        }
        ctx.http().send(&request).await
    }

    /// `request` with the `Authorization` value and the client's defaults.
    pub(crate) fn authorized(
        &self,
        request: &HttpRequest,
        authorization: &Authorization,
    ) -> HttpRequest {
        let mut request = request.clone();
        request
            .headers
            .insert_secret("Authorization", authorization.value().clone());
        if self.accept_json && request.headers.get("accept").is_none() {
            request.headers.insert("Accept", "application/json");
        }
        if request.timeout.is_none() {
            request.timeout = self.timeout;
        }
        request
    }
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("base_url", &self.url.as_str())
            .field("credentials", &self.credentials)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}
