//! Glue for the host's own server (feature `axum`): nothing here is needed to run flows,
//! only to serve their webhooks.

#[cfg(feature = "axum")]
pub mod axum;
