//! The client trait the host supplies.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use super::{HttpError, HttpRequest, HttpResponse, StreamedResponse};

/// Sends [`HttpRequest`]s. The host supplies one in the [`Context`](crate::Context);
/// implement it to route hubflow's traffic through your own stack.
///
/// Implementations return `Ok` for every response that arrived, whatever its status, and
/// `Err` only when there is no response. They must not follow redirects that would carry
/// credentials to another host.
///
/// A client that adds the host's own header to every request and counts them, over any
/// other client (here a [`RecordingClient`](super::RecordingClient)):
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use async_trait::async_trait;
/// use hubflow::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method, RecordingClient};
///
/// struct Tagged<C> {
///     inner: C,
///     sent: AtomicU64,
/// }
///
/// #[async_trait]
/// impl<C: HttpClient> HttpClient for Tagged<C> {
///     async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
///         self.sent.fetch_add(1, Ordering::Relaxed);
///         let tagged = request.clone().header("X-Tenant", "clinica-centro");
///         self.inner.send(&tagged).await
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let recording = RecordingClient::answering(HttpResponse::new(204, ""));
/// let client = Tagged { inner: recording.clone(), sent: AtomicU64::new(0) };
/// let request = HttpRequest::new(Method::Post, "https://erp.example.com/hooks".parse().unwrap());
/// assert_eq!(client.send(&request).await.unwrap().status, 204);
/// assert_eq!(recording.requests()[0].headers.get("X-Tenant"), Some("clinica-centro"));
/// assert_eq!(client.sent.load(Ordering::Relaxed), 1);
/// # });
/// ```
#[async_trait]
pub trait HttpClient: Send + Sync {
    /// Sends one request and waits for its whole response.
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError>;

    /// Sends one request and writes the body of a 2xx answer to `sink`, at most
    /// `max_bytes` of it; for large downloads (media files) that should not sit in memory.
    ///
    /// * A 2xx body goes to `sink`; [`StreamedResponse::written`] counts it. A body longer
    ///   than `max_bytes` is [`HttpError::BodyTooLarge`]: reading stops there, and what was
    ///   written so far (never more than `max_bytes`) is for the caller to discard.
    /// * Any other answer is an error message rather than the content: its body (also at
    ///   most `max_bytes`) comes back in [`StreamedResponse::body`] and `sink` is untouched.
    /// * A failing `sink` is [`HttpError::Sink`].
    ///
    /// The provided implementation goes through [`send`](HttpClient::send), so it holds
    /// the whole body in memory before checking the limit; clients that can stream
    /// ([`ReqwestClient`](super::ReqwestClient) does) override it.
    ///
    /// ```
    /// use hubflow::http::{HttpClient, HttpError, HttpRequest, HttpResponse, Method, RecordingClient};
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let client = RecordingClient::answering(HttpResponse::new(200, "0123456789"));
    /// let request = HttpRequest::new(Method::Get, "https://example.com/file".parse().unwrap());
    /// let mut sink = Vec::new();
    /// let head = client.send_to(&request, &mut sink, 100).await.unwrap();
    /// assert_eq!((head.status, head.written, sink.as_slice()), (200, 10, &b"0123456789"[..]));
    /// let too_long = client.send_to(&request, &mut Vec::new(), 4).await.unwrap_err();
    /// assert_eq!(too_long, HttpError::BodyTooLarge { limit: 4 });
    /// # });
    /// ```
    async fn send_to(
        &self,
        request: &HttpRequest,
        sink: &mut (dyn std::io::Write + Send),
        max_bytes: u64,
    ) -> Result<StreamedResponse, HttpError> {
        let response = self.send(request).await?;
        if u64::try_from(response.body.len()).map_or(true, |length| length > max_bytes) {
            return Err(HttpError::BodyTooLarge { limit: max_bytes });
        }
        if !response.is_success() {
            return Ok(StreamedResponse {
                status: response.status,
                headers: response.headers,
                written: 0,
                body: response.body,
            });
        }
        sink.write_all(&response.body)
            .and_then(|()| sink.flush())
            .map_err(|e| HttpError::Sink(e.to_string()))?;
        Ok(StreamedResponse {
            status: response.status,
            headers: response.headers,
            // Checked against `max_bytes` (a u64) above.
            written: response.body.len() as u64,
            body: Bytes::new(),
        })
    }
}

#[async_trait]
impl<C: HttpClient + ?Sized> HttpClient for Arc<C> {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        (**self).send(request).await
    }

    async fn send_to(
        &self,
        request: &HttpRequest,
        sink: &mut (dyn std::io::Write + Send),
        max_bytes: u64,
    ) -> Result<StreamedResponse, HttpError> {
        (**self).send_to(request, sink, max_bytes).await
    }
}

#[async_trait]
impl<C: HttpClient + ?Sized> HttpClient for Box<C> {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        (**self).send(request).await
    }

    async fn send_to(
        &self,
        request: &HttpRequest,
        sink: &mut (dyn std::io::Write + Send),
        max_bytes: u64,
    ) -> Result<StreamedResponse, HttpError> {
        (**self).send_to(request, sink, max_bytes).await
    }
}
