//! A cached token with its expiry and refresh token: fetched on first use, refreshed ahead
//! of expiry and after a rejection, once for all concurrent callers.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde_json::Value;

use super::auth::{AuthError, Authorization};
use super::token::{TokenCache, TokenSlot};
use crate::http::HttpResponse;
use crate::Context;

/// What an issuer hands out: the access token, maybe a refresh token, and the access
/// token's lifetime (`None`: until it is rejected).
pub(crate) struct Issued {
    pub(crate) access: SecretString,
    pub(crate) refresh: Option<SecretString>,
    pub(crate) lifetime: Option<Duration>,
}

/// Fetches tokens: with the refresh token when one is given, else from scratch.
#[async_trait]
pub(crate) trait Issuer: Send + Sync {
    async fn issue(
        &self,
        ctx: &Context,
        refresh: Option<&SecretString>,
    ) -> Result<Issued, AuthError>;
}

/// When a token is renewed ahead of its expiry: `ahead` before, or `1/fraction` of its
/// lifetime before, whichever is shorter; a refresh token is good for `refresh_lifetime`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Renewal {
    pub(crate) ahead: Duration,
    pub(crate) fraction: u32,
    pub(crate) refresh_lifetime: Duration,
}

impl Renewal {
    /// For tokens without a lifetime.
    pub(crate) fn never() -> Self {
        Renewal {
            ahead: Duration::ZERO,
            fraction: 1,
            refresh_lifetime: Duration::ZERO,
        }
    }
}

#[derive(Clone)]
pub(crate) struct Lease {
    access: Authorization,
    refresh: Option<(SecretString, DateTime<Utc>)>,
    renew_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
}

impl Lease {
    fn usable(&self, now: DateTime<Utc>) -> bool {
        self.expires_at.is_none_or(|at| now < at)
    }
}

/// The token cache of one set of credentials.
pub(crate) struct Leases {
    cache: TokenCache<Lease>,
    renewal: Renewal,
}

impl Leases {
    pub(crate) fn new(renewal: Renewal) -> Self {
        Leases {
            cache: TokenCache::default(),
            renewal,
        }
    }

    /// The cached token unless it is due for renewal; else one fetch that concurrent
    /// callers wait for (the slot stays locked across it on purpose: single flight).
    pub(crate) async fn authorization(
        &self,
        ctx: &Context,
        issuer: &dyn Issuer,
    ) -> Result<Authorization, AuthError> {
        let mut slot = self.cache.lock(ctx).await;
        let now = ctx.clock().now();
        if let Some(lease) = slot
            .current
            .as_ref()
            .filter(|l| l.renew_at.is_none_or(|at| now < at))
        {
            return Ok(lease.access.clone());
        }
        self.refill(ctx, issuer, &mut slot).await
    }

    /// After `rejected` was refused: the token another caller already fetched, or a new
    /// one.
    pub(crate) async fn refresh(
        &self,
        ctx: &Context,
        issuer: &dyn Issuer,
        rejected: &Authorization,
    ) -> Result<Authorization, AuthError> {
        let mut slot = self.cache.lock(ctx).await;
        if let Some(lease) = slot
            .current
            .as_ref()
            .filter(|l| l.access.generation() != rejected.generation())
        {
            return Ok(lease.access.clone());
        }
        // The refused token must not be reused, even though it has not expired; its
        // refresh token may still work.
        if let Some(current) = slot.current.as_mut() {
            let now = ctx.clock().now();
            current.expires_at = Some(now);
            current.renew_at = Some(now);
        }
        self.refill(ctx, issuer, &mut slot).await
    }

    pub(crate) async fn forget(&self) {
        self.cache.invalidate().await;
    }

    async fn refill(
        &self,
        ctx: &Context,
        issuer: &dyn Issuer,
        slot: &mut TokenSlot<Lease>,
    ) -> Result<Authorization, AuthError> {
        let now = ctx.clock().now();
        let refresh = slot
            .current
            .as_ref()
            .and_then(|l| l.refresh.as_ref())
            .filter(|(_, until)| now < *until)
            .map(|(token, _)| token.clone());
        let issued = match refresh {
            // A refresh token the server no longer takes is not fatal: start over.
            Some(refresh) => match issuer.issue(ctx, Some(&refresh)).await {
                Err(AuthError::Transport(e)) => Err(AuthError::Transport(e)),
                Err(_) => issuer.issue(ctx, None).await,
                ok => ok,
            },
            None => issuer.issue(ctx, None).await,
        };
        match issued {
            Ok(issued) => {
                let obtained = ctx.clock().now();
                slot.generation += 1;
                let at = |after: Duration| crate::clock::add(obtained, after);
                let margin = |lifetime: Duration| {
                    self.renewal
                        .ahead
                        .min(lifetime / self.renewal.fraction.max(1))
                };
                let lease = Lease {
                    access: Authorization::bearer(&issued.access).with_generation(slot.generation),
                    refresh: issued
                        .refresh
                        .map(|token| (token, at(self.renewal.refresh_lifetime))),
                    renew_at: issued
                        .lifetime
                        .map(|lifetime| at(lifetime.saturating_sub(margin(lifetime)))),
                    expires_at: issued.lifetime.map(at),
                };
                slot.current = Some(lease.clone());
                Ok(lease.access)
            }
            Err(error) => {
                // A renewal ahead of expiry that fails leaves a token that still works.
                let now = ctx.clock().now();
                match slot.current.as_ref().filter(|l| l.usable(now)) {
                    Some(lease) => Ok(lease.access.clone()),
                    None => Err(error),
                }
            }
        }
    }
}

/// `Credentials` for a type that is its own [`Issuer`] and keeps its tokens in a
/// `leases: Leases` field.
#[cfg(any(feature = "fracttal", feature = "rm"))]
macro_rules! leased_credentials {
    ($type:ty) => {
        #[async_trait::async_trait]
        impl $crate::adapters::shared::auth::Credentials for $type {
            async fn authorization(
                &self,
                ctx: &$crate::Context,
            ) -> Result<
                $crate::adapters::shared::auth::Authorization,
                $crate::adapters::shared::auth::AuthError,
            > {
                self.leases.authorization(ctx, self).await
            }

            async fn refresh(
                &self,
                ctx: &$crate::Context,
                rejected: &$crate::adapters::shared::auth::Authorization,
            ) -> Result<
                Option<$crate::adapters::shared::auth::Authorization>,
                $crate::adapters::shared::auth::AuthError,
            > {
                self.leases.refresh(ctx, self, rejected).await.map(Some)
            }

            async fn forget(&self) {
                self.leases.forget().await;
            }
        }
    };
}
#[cfg(any(feature = "fracttal", feature = "rm"))]
pub(crate) use leased_credentials;

/// Reads an OAuth-style token answer (`access_token`, `token_type`, `expires_in`,
/// `refresh_token`). Its body is never quoted in errors: it may hold a token.
/// A missing or unusable `expires_in` gives `fallback`.
pub(crate) fn parse_token_answer(
    response: &HttpResponse,
    fallback: Duration,
) -> Result<Issued, AuthError> {
    let unreadable = |message: String| AuthError::Unreadable {
        status: response.status,
        message,
    };
    let body: Value = serde_json::from_slice(&response.body).map_err(|e| {
        unreadable(format!(
            "not JSON (error at line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let Value::Object(map) = body else {
        return Err(unreadable("not a JSON object".to_owned()));
    };
    let token = |key: &str| match map.get(key) {
        Some(Value::String(token)) if !token.trim().is_empty() => {
            Some(SecretString::from(token.trim().to_owned()))
        }
        _ => None,
    };
    let access = token("access_token")
        .ok_or_else(|| unreadable("no `access_token` in the answer".to_owned()))?;
    if let Some(Value::String(kind)) = map.get("token_type") {
        if !kind.eq_ignore_ascii_case("bearer") {
            return Err(unreadable(format!(
                "token type `{}` is not a bearer token",
                crate::text::truncate(kind, 40)
            )));
        }
    }
    let lifetime = match map.get("expires_in") {
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|s| s.is_finite() && *s > 0.0)
    .and_then(|s| Duration::try_from_secs_f64(s).ok())
    .unwrap_or(fallback);
    Ok(Issued {
        access,
        refresh: token("refresh_token"),
        lifetime: Some(lifetime),
    })
}

#[cfg(test)]
mod tests;
