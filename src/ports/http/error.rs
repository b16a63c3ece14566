//! Why a request got no response.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// The error underneath a transport failure, as the HTTP client reported it. Shared, so an
/// [`HttpError`] stays cheap to clone.
pub type ErrorSource = Arc<dyn Error + Send + Sync>;

/// Why a request got no response.
///
/// The message says what kind of failure it was in hubflow's own words, and never holds a
/// URL or a header: a configured URL may carry a token in its query. What the client and
/// the operating system said is kept as the [`source`](Error::source) chain, for hosts that
/// log it.
///
/// Equality compares what the error says (the variant and its fields), not its source: two
/// refused connections are equal whatever the operating system's message was.
///
/// ```
/// use hubflow::http::{ConnectFailure, HttpError};
/// use std::error::Error as _;
///
/// let refused = HttpError::connect(ConnectFailure::Refused)
///     .with_source(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
/// assert_eq!(refused.to_string(), "could not connect: the connection was refused");
/// assert!(refused.source().is_some());
/// assert_eq!(refused, HttpError::connect(ConnectFailure::Refused));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum HttpError {
    /// The request or the response took longer than the timeout, once connected. The
    /// provider may have acted on the request all the same. (A connection that could not
    /// be made in time is [`HttpError::Connect`] with [`ConnectFailure::TimedOut`].)
    Timeout,
    /// No connection could be made, so the provider never saw the request.
    Connect {
        /// What failed, as far as the client could tell.
        reason: ConnectFailure,
        /// The client's own error, if it gave one.
        source: Option<ErrorSource>,
    },
    /// The request could not be built (an invalid header value, an unsupported URL).
    InvalidRequest(String),
    /// The provider answered: its status line and headers arrived, but its body could not
    /// be read to the end (the connection closed or was reset mid-body, or the timeout ran
    /// out while reading it). Unlike the other variants, the provider did take the request:
    /// after a 2xx it may well have acted on it, so a delivery that fails this way is an
    /// unknown outcome, never resent
    /// ([`DeliveryError::provider_may_have_acted`](crate::DeliveryError::provider_may_have_acted));
    /// any other status is classed as that answer would be.
    ///
    /// A caller whose request changes nothing at the provider (a read, a token) can make it
    /// a plain transport failure with [`HttpError::for_read`].
    BodyUnreadable {
        /// The HTTP status of the answer.
        status: u16,
        /// Whether the timeout ran out while the body was read (otherwise the connection
        /// ended early).
        timed_out: bool,
        /// The client's own error, if it gave one.
        source: Option<ErrorSource>,
    },
    /// Anything else on the way: a connection closed or reset before any answer, a body
    /// that could not be sent.
    Other {
        /// What failed, in hubflow's words (never the client's message, which may name the
        /// URL).
        message: String,
        /// The client's own error, if it gave one.
        source: Option<ErrorSource>,
    },
    /// A streamed response body ([`HttpClient::send_to`](super::HttpClient::send_to)) was
    /// longer than the caller allowed; reading stopped there.
    BodyTooLarge {
        /// The most bytes the caller allowed.
        limit: u64,
    },
    /// The writer a streamed body went to
    /// ([`HttpClient::send_to`](super::HttpClient::send_to)) failed.
    Sink(String),
}

impl HttpError {
    /// A failed connection, without a source (add one with [`HttpError::with_source`]).
    pub fn connect(reason: ConnectFailure) -> Self {
        HttpError::Connect {
            reason,
            source: None,
        }
    }

    /// Another transport failure, described by `message` (which must not hold a URL or a
    /// credential), without a source.
    pub fn other(message: impl Into<String>) -> Self {
        HttpError::Other {
            message: message.into(),
            source: None,
        }
    }

    /// An answer with HTTP `status` whose body could not be read
    /// ([`BodyUnreadable`](HttpError::BodyUnreadable)), without a source.
    pub fn body_unreadable(status: u16, timed_out: bool) -> Self {
        HttpError::BodyUnreadable {
            status,
            timed_out,
            source: None,
        }
    }

    /// This failure as seen by a request that changes nothing at the provider (a read, a
    /// token, a download): an answer whose body was cut off
    /// ([`BodyUnreadable`](HttpError::BodyUnreadable)) becomes a plain transport failure
    /// ([`Other`](HttpError::Other), retried), since sending such a request again cannot
    /// duplicate anything. Every other failure is returned as it is.
    ///
    /// ```
    /// use hubflow::http::HttpError;
    ///
    /// let cut = HttpError::body_unreadable(200, false);
    /// assert_eq!(
    ///     cut.for_read().to_string(),
    ///     "transport error: the body of the HTTP 200 answer could not be read"
    /// );
    /// assert_eq!(HttpError::Timeout.for_read(), HttpError::Timeout);
    /// ```
    #[must_use]
    pub fn for_read(self) -> Self {
        match self {
            HttpError::BodyUnreadable { status, source, .. } => HttpError::Other {
                message: format!("the body of the HTTP {status} answer could not be read"),
                source,
            },
            other => other,
        }
    }

    /// The HTTP status of the answer, for the one failure that had one
    /// ([`BodyUnreadable`](HttpError::BodyUnreadable)).
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::BodyUnreadable { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Keeps `source` as the cause of a [`Connect`](HttpError::Connect),
    /// [`BodyUnreadable`](HttpError::BodyUnreadable) or [`Other`](HttpError::Other)
    /// failure; the other variants carry no source and are returned as they are.
    #[must_use]
    pub fn with_source(self, source: impl Error + Send + Sync + 'static) -> Self {
        self.with_shared_source(Arc::new(source))
    }

    pub(crate) fn with_shared_source(mut self, cause: ErrorSource) -> Self {
        if let HttpError::Connect { source, .. }
        | HttpError::BodyUnreadable { source, .. }
        | HttpError::Other { source, .. } = &mut self
        {
            *source = Some(cause);
        }
        self
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Timeout => f.write_str("request timed out"),
            HttpError::Connect { reason, .. } => write!(f, "could not connect: {reason}"),
            HttpError::InvalidRequest(message) => write!(f, "invalid request: {message}"),
            HttpError::BodyUnreadable {
                status, timed_out, ..
            } => write!(
                f,
                "HTTP {status} arrived, but its body could not be read: {}",
                if *timed_out {
                    "the request timed out while reading it"
                } else {
                    "the connection ended before the body did"
                }
            ),
            HttpError::Other { message, .. } => write!(f, "transport error: {message}"),
            HttpError::BodyTooLarge { limit } => {
                write!(
                    f,
                    "the response body is longer than the {limit} bytes allowed"
                )
            }
            HttpError::Sink(message) => write!(f, "could not write the response body: {message}"),
        }
    }
}

/// The source is the client's error itself (not the `Arc` holding it), so it can be
/// downcast, and its own chain follows.
impl Error for HttpError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            HttpError::Connect { source, .. }
            | HttpError::BodyUnreadable { source, .. }
            | HttpError::Other { source, .. } => source
                .as_deref()
                .map(|source| source as &(dyn Error + 'static)),
            _ => None,
        }
    }
}

impl PartialEq for HttpError {
    fn eq(&self, other: &Self) -> bool {
        use HttpError::*;
        match (self, other) {
            (Timeout, Timeout) => true,
            (Connect { reason: a, .. }, Connect { reason: b, .. }) => a == b,
            (InvalidRequest(a), InvalidRequest(b)) | (Sink(a), Sink(b)) => a == b,
            (Other { message: a, .. }, Other { message: b, .. }) => a == b,
            (
                BodyUnreadable {
                    status: a,
                    timed_out: x,
                    ..
                },
                BodyUnreadable {
                    status: b,
                    timed_out: y,
                    ..
                },
            ) => (a, x) == (b, y),
            (BodyTooLarge { limit: a }, BodyTooLarge { limit: b }) => a == b,
            _ => false,
        }
    }
}

impl Eq for HttpError {}

/// Why no connection could be made, as far as the client could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// Nothing listens on the port (or a firewall answered for it).
    Refused,
    /// The host name could not be resolved.
    Dns,
    /// The TLS handshake failed: an untrusted or mismatched certificate, or a server that
    /// does not speak TLS on that port.
    Tls,
    /// No connection within the connect timeout.
    TimedOut,
    /// The network or the host is unreachable.
    Unreachable,
    /// Something else went wrong while connecting.
    Other,
}

impl fmt::Display for ConnectFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConnectFailure::Refused => "the connection was refused",
            ConnectFailure::Dns => "the host name could not be resolved",
            ConnectFailure::Tls => "the TLS handshake failed",
            ConnectFailure::TimedOut => "connecting timed out",
            ConnectFailure::Unreachable => "the network or host is unreachable",
            ConnectFailure::Other => "the connection could not be made",
        })
    }
}
