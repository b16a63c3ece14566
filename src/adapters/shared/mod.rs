//! The client layer the adapters share: what every provider client needs once, written
//! once. No adapter is named here, and nothing here imports an adapter.
//!
//! * [`auth`]: where the `Authorization` value of a request comes from ([`Credentials`]),
//!   public as `hubflow::auth`;
//! * [`base_url`]: the checked base URL credentials never leave;
//! * [`client`]: the one send path (base URL check, credentials, rate limit, one
//!   refresh-and-resend when the provider rejects the credentials);
//! * [`lease`]: the cached, refreshed-ahead token behind the OAuth, JWT and host-reloaded
//!   credentials;
//! * [`token`]: the single-flight token slot, kept apart for dry runs.
//!
//! [`Credentials`]: auth::Credentials

// Each adapter uses part of this layer (OAuth only Fracttal, the rejection hook only
// Fracttal and WhatsApp, …): a build with some adapters leaves the rest unused.
#![cfg_attr(
    not(all(
        feature = "fracttal",
        feature = "rm",
        feature = "rdconversas",
        feature = "timelines",
        feature = "twilio",
        feature = "whatsapp"
    )),
    allow(dead_code)
)]

pub mod auth;
pub(crate) mod base_url;
pub(crate) mod client;
#[cfg(any(feature = "fracttal", feature = "rm"))]
pub(crate) mod jwt;
pub(crate) mod lease;
#[cfg(any(feature = "fracttal", feature = "rm"))]
pub(crate) mod oauth;
pub(crate) mod token;
