//! Serving webhook sources with [axum](https://docs.rs/axum) (feature `axum`):
//! [`InboundRequest`] as an extractor, [`WebhookReply`] as a response, and
//! [`WebhookRoute`], which mounts a [`WebhookSource`] at a path, answers the provider at
//! once and hands the records to the host's flow runner afterwards.
//!
//! Providers give a webhook a short budget (Meta retries an answer slower than a few
//! seconds, for days) and some switch a failing webhook off (TimelinesAI after ten
//! failures), so the answer must not wait for deliveries. The route therefore answers as
//! soon as the source has checked and parsed the request, and runs the host's handler on a
//! spawned tokio task; a handler that fails does not change the answer, which only says
//! the request was authentic and readable (the records' outcomes are in the flow's
//! reports and history).
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use hubflow::axum::WebhookRoute;
//! use hubflow::whatsapp::webhook::WhatsAppWebhook;
//! use hubflow::{Context, Flow, ManualClock, MemoryStore, Record};
//! use hubflow::http::RecordingClient;
//! use secrecy::SecretString;
//!
//! let webhook = WhatsAppWebhook::new(SecretString::from("verify-token"), SecretString::from("app-secret"));
//! let router: axum::Router = WebhookRoute::new(webhook)
//!     .max_body(1 << 20)
//!     .on_records(|records: Vec<Record>| async move {
//!         // e.g. whatsapp::remember(&ctx, &records) then flow.process(&ctx, records)
//!         let _ = records;
//!     })
//!     .router("/webhooks/whatsapp");
//! # let _ = router;
//! # });
//! ```

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;

use crate::http::Method;
use crate::{InboundRequest, Record, WebhookReply, WebhookSource};

/// The body limit of [`WebhookRoute`] and of the [`InboundRequest`] extractor unless set:
/// 1 MiB, above every webhook body the providers here send.
pub const DEFAULT_MAX_BODY: usize = 1 << 20;

/// Why a request could not become an [`InboundRequest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The method is none of GET, POST, PUT, PATCH, DELETE.
    #[error("method not allowed")]
    Method,
    /// The body is over the limit.
    #[error("body over the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body could not be read whole (the client broke off, or sent a malformed
    /// chunked body).
    #[error("the body could not be read: {message}")]
    BodyUnreadable {
        /// What the HTTP layer said.
        message: String,
    },
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let status = match self {
            Rejection::Method => StatusCode::METHOD_NOT_ALLOWED,
            Rejection::BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Rejection::BodyUnreadable { .. } => StatusCode::BAD_REQUEST,
        };
        (status, self.to_string()).into_response()
    }
}

/// Reads the method, the path and query, the headers (those that are text) and the body,
/// at most [`DEFAULT_MAX_BODY`] bytes of it (use [`inbound`] for another limit).
impl<S: Send + Sync> FromRequest<S> for InboundRequest {
    type Rejection = Rejection;

    async fn from_request(request: Request, _state: &S) -> Result<Self, Self::Rejection> {
        inbound(request, DEFAULT_MAX_BODY).await
    }
}

/// An axum request as an [`InboundRequest`], reading at most `max_body` bytes of body.
pub async fn inbound(request: Request, max_body: usize) -> Result<InboundRequest, Rejection> {
    let (parts, body) = request.into_parts();
    let method = match parts.method.as_str() {
        "GET" => Method::Get,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "PATCH" => Method::Patch,
        "DELETE" => Method::Delete,
        _ => return Err(Rejection::Method),
    };
    let body: Bytes = axum::body::to_bytes(body, max_body)
        .await
        .map_err(|error| body_rejection(error, max_body))?;
    let target = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let mut inbound = InboundRequest::new(method, target, body);
    for (name, value) in &parts.headers {
        if let Ok(value) = value.to_str() {
            inbound = inbound.header(name.as_str(), value);
        }
    }
    Ok(inbound)
}

/// Over the limit, or broken off: axum wraps http-body-util's `LengthLimitError` for the
/// first.
fn body_rejection(error: axum::Error, limit: usize) -> Rejection {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(current) = cause {
        if current.is::<http_body_util::LengthLimitError>() {
            return Rejection::BodyTooLarge { limit };
        }
        cause = current.source();
    }
    Rejection::BodyUnreadable {
        message: error.to_string(),
    }
}

/// The reply as axum's response: its status, content type and body. The records are not
/// part of it: take them out first ([`WebhookRoute`] hands them to its handler).
impl IntoResponse for WebhookReply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, self.content_type)
            .body(Body::from(self.body))
            // Invariant: a valid status and a static content type always build.
            .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
    }
}

type Handler = Arc<dyn Fn(Vec<Record>) -> Pin<Box<dyn Future<Output = ()> + Send>> + Send + Sync>;

/// A webhook source served at a path: every method goes to the source; its answer goes
/// back at once; its records, when there are any, go to the handler on a spawned task.
pub struct WebhookRoute {
    source: Arc<dyn WebhookSource>,
    max_body: usize,
    handler: Option<Handler>,
}

impl std::fmt::Debug for WebhookRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookRoute")
            .field("max_body", &self.max_body)
            .field("handler", &self.handler.is_some())
            .finish_non_exhaustive()
    }
}

impl WebhookRoute {
    /// Serves `source`, with the default body limit and no handler yet.
    pub fn new(source: impl WebhookSource + 'static) -> Self {
        WebhookRoute {
            source: Arc::new(source),
            max_body: DEFAULT_MAX_BODY,
            handler: None,
        }
    }

    /// The largest body read; a longer one is answered 413 before the source sees it.
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// What happens to the records after the answer: typically remembering WhatsApp's
    /// windows and running the flow (`flow.process(&ctx, records)`). Runs on its own tokio
    /// task, so a slow ERP never delays the provider's answer.
    #[must_use]
    pub fn on_records<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Vec<Record>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.handler = Some(Arc::new(move |records| Box::pin(handler(records))));
        self
    }

    /// A router with the route at `path` (merge it into the host's own).
    ///
    /// # Panics
    ///
    /// As axum's `Router::route` does, when `path` is not a valid route (it must start
    /// with `/`); paths are the host's constants, never request data.
    pub fn router<S: Clone + Send + Sync + 'static>(self, path: &str) -> Router<S> {
        let route = Arc::new(self);
        Router::new().route(
            path,
            any(move |request: Request| {
                let route = route.clone();
                async move { route.answer(request).await }
            }),
        )
    }

    async fn answer(&self, request: Request) -> Response {
        let inbound = match inbound(request, self.max_body).await {
            Ok(inbound) => inbound,
            Err(rejection) => return rejection.into_response(),
        };
        let mut reply = self.source.handle(&inbound);
        let records = std::mem::take(&mut reply.records);
        if let (Some(handler), false) = (&self.handler, records.is_empty()) {
            tokio::spawn(handler(records));
        }
        reply.into_response()
    }
}
