//! The HTTP port: requests and responses as plain data, and the client trait that sends them.
//!
//! Targets *prepare* an [`HttpRequest`] as a value; the flow sends it through the host's
//! [`HttpClient`]. So a dry run shows exactly what would be sent ([`RecordingClient`]), every
//! adapter is testable without a network, and the host keeps control of TLS, proxies and
//! connection pools. [`ReqwestClient`] (feature `reqwest`) is the ready-made client.
//!
//! Header values that carry credentials are [`HeaderValue::Secret`]: their `Debug`,
//! serialized and displayed forms are `[redacted]`, so a request can be logged or shown in a
//! dry run as it is. When a provider echoes such a value in its answer, a [`Scrubber`] built
//! from the request replaces it by `[redacted]` in every text taken from that answer
//! ([`HttpResponse::body_excerpt`]).
//!
//! The module is split by concern: [`Headers`] and redaction, [`HttpRequest`],
//! [`HttpResponse`] and [`StreamedResponse`], the [`Scrubber`], [`HttpError`], the [`HttpClient`] trait, the
//! [`RecordingClient`], the provider fakes' [`FakeClient`] and, with the `reqwest` feature, [`ReqwestClient`].

mod client;
mod error;
mod fake;
mod headers;
mod recording;
mod request;
#[cfg(feature = "reqwest")]
mod reqwest_client;
mod response;
mod scrub;

pub use client::HttpClient;
pub use error::{ConnectFailure, ErrorSource, HttpError};
// The provider fakes of the adapters use these; a build without adapters does not.
#[cfg_attr(
    not(any(
        feature = "http",
        feature = "fracttal",
        feature = "timelines",
        feature = "rdconversas",
        feature = "rm"
    )),
    allow(unused_imports)
)]
pub(crate) use fake::trimmed_path;
#[cfg_attr(
    not(any(
        feature = "http",
        feature = "fracttal",
        feature = "timelines",
        feature = "rdconversas",
        feature = "rm",
        feature = "whatsapp"
    )),
    allow(unused_imports)
)]
pub(crate) use fake::FakeScript;
pub use fake::{FakeClient, ProviderFake};
pub use headers::{HeaderValue, Headers, REDACTED};
pub use recording::RecordingClient;
#[cfg(any(feature = "http", feature = "rm", feature = "twilio"))]
pub(crate) use request::path_segment;
pub use request::{HttpRequest, Method};
#[cfg(feature = "reqwest")]
pub use reqwest_client::{ReqwestClient, ReqwestClientBuilder, DEFAULT_MAX_RESPONSE_BYTES};
#[cfg(any(feature = "fracttal", feature = "rm"))]
pub(crate) use response::token_refusal_reason;
pub use response::{HttpResponse, StreamedResponse};
pub use scrub::{Scrubber, MIN_SECRET_LEN};

#[cfg(test)]
mod tests;
