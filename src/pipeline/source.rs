//! Sources: where records come from, pulled ([`Source`]) or pushed ([`WebhookSource`]).

use async_trait::async_trait;
use bytes::Bytes;
use serde::Serialize;

use crate::http::{Headers, Method};
use crate::{Context, Cursor, Record};

/// A pull source: asked for what is new since a [`Cursor`].
///
/// [`Flow::run`](crate::Flow::run) loads the cursor from the [`Store`](crate::Store), polls,
/// processes the batch, and only then saves `next_cursor`, so a crash in between repeats
/// records (which the idempotency claims then skip) instead of losing them.
///
/// A source over the host's own table of tickets, whose cursor is the last id seen:
///
/// ```
/// use async_trait::async_trait;
/// use hubflow::{Batch, Context, Cursor, Record, Source, SourceError};
/// use serde_json::json;
///
/// struct Tickets(Vec<(u64, &'static str)>);
///
/// #[async_trait]
/// impl Source for Tickets {
///     async fn poll(&self, _ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
///         let after = cursor.and_then(|c| c.value()["last_id"].as_u64()).unwrap_or(0);
///         let new: Vec<_> = self.0.iter().filter(|(id, _)| *id > after).collect();
///         let records = new
///             .iter()
///             .map(|(id, title)| Record::new(format!("ticket:{id}"), "ticket", json!({"id": id, "title": title})))
///             .collect();
///         let next = new.last().map(|(id, _)| Cursor::new(json!({"last_id": id})));
///         Ok(Batch::new(records, next))
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// # let ctx = Context::new(hubflow::http::RecordingClient::new(),
/// #     hubflow::ManualClock::new(chrono::Utc::now()), hubflow::MemoryStore::new());
/// let source = Tickets(vec![(7, "pump 3 leaks"), (8, "belt worn")]);
/// let first = source.poll(&ctx, None).await.unwrap();
/// assert_eq!(first.records.len(), 2);
/// let later = source.poll(&ctx, first.next_cursor.as_ref()).await.unwrap();
/// assert!(later.records.is_empty() && later.next_cursor.is_none());
/// # });
/// ```
#[async_trait]
pub trait Source: Send + Sync {
    /// Fetches the records after `cursor` (`None` on the first run).
    async fn poll(&self, ctx: &Context, cursor: Option<&Cursor>) -> Result<Batch, SourceError>;
}

/// What one poll returned.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Batch {
    /// The records, oldest first.
    pub records: Vec<Record>,
    /// Where the next poll starts; `None` keeps the previous cursor.
    pub next_cursor: Option<Cursor>,
    /// Whether more records wait right after `next_cursor`: this batch is one page of a
    /// longer answer. [`Flow::run`](crate::Flow::run) then saves the cursor and polls
    /// again at once, in the same run, so a source can hand over a long backlog a page at
    /// a time and the run never holds more than one page. Ignored without a
    /// `next_cursor` (the next poll would read the same page again).
    pub more: bool,
}

impl Batch {
    /// A batch of records with the cursor after them.
    pub fn new(records: Vec<Record>, next_cursor: Option<Cursor>) -> Self {
        Batch {
            records,
            next_cursor,
            more: false,
        }
    }

    /// Marks the batch as one page of several: more records wait after its cursor.
    ///
    /// ```
    /// use hubflow::{Batch, Cursor};
    /// let page = Batch::new(Vec::new(), Some(Cursor::new(serde_json::json!({"page": 2})))).more(true);
    /// assert!(page.more);
    /// ```
    #[must_use]
    pub fn more(mut self, more: bool) -> Self {
        self.more = more;
        self
    }
}

/// Shows the path, the names of the query parameters and headers, and the body's size:
/// webhook URLs carry tokens (`?token=`, `hub.verify_token`) and headers carry shared
/// secrets, and hosts log requests.
impl std::fmt::Debug for InboundRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let query: Vec<String> = self
            .target
            .split_once('?')
            .map(|(_, q)| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, _)| k.into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let headers: Vec<&str> = self.headers.iter().map(|(name, _)| name).collect();
        f.debug_struct("InboundRequest")
            .field("method", &self.method)
            .field("path", &self.path())
            .field("query", &query)
            .field("headers", &headers)
            .field("body_bytes", &self.body.len())
            .finish()
    }
}

/// Why a poll failed. Nothing entered the flow, so nothing is lost: the next run polls from
/// the same cursor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// No response (timeout, refused connection).
    #[error(transparent)]
    Transport(#[from] crate::http::HttpError),
    /// The provider answered with an error.
    #[error(transparent)]
    Provider(Box<crate::ProviderError>),
    /// The provider's answer could not be read.
    #[error("unreadable answer from {provider}: {message}")]
    Response {
        /// Which provider answered.
        provider: String,
        /// What could not be read, with its JSON path where known.
        message: String,
    },
    /// The store failed to give the cursor.
    #[error(transparent)]
    Store(#[from] crate::StoreError),
}

impl From<crate::ProviderError> for SourceError {
    fn from(error: crate::ProviderError) -> Self {
        SourceError::Provider(Box::new(error))
    }
}

/// An HTTP request the host's server received, handed over as data.
///
/// ```
/// use hubflow::InboundRequest;
/// use hubflow::http::Method;
///
/// let request = InboundRequest::new(Method::Post, "/hooks/wa?token=abc", &b"{}"[..])
///     .header("Content-Type", "application/json");
/// assert_eq!(request.query("token"), Some("abc".into()));
/// assert_eq!(request.path(), "/hooks/wa");
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct InboundRequest {
    /// The method.
    pub method: Method,
    /// The path and query as received (`/hooks/wa?hub.mode=subscribe&…`).
    pub target: String,
    /// The request headers.
    pub headers: Headers,
    /// The raw body bytes, exactly as received: signatures are computed over them.
    pub body: Bytes,
}

impl InboundRequest {
    /// A request with no headers.
    pub fn new(method: Method, target: impl Into<String>, body: impl Into<Bytes>) -> Self {
        InboundRequest {
            method,
            target: target.into(),
            headers: Headers::new(),
            body: body.into(),
        }
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.target
            .split_once('?')
            .map_or(self.target.as_str(), |(path, _)| path)
    }

    /// The first value of query parameter `name`, percent-decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        let (_, query) = self.target.split_once('?')?;
        url::form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// What a [`WebhookSource`] answers: the HTTP reply for the caller, and the records the host
/// hands to [`Flow::process`](crate::Flow::process).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WebhookReply {
    /// The status to answer with.
    pub status: u16,
    /// The `Content-Type` of `body`.
    pub content_type: &'static str,
    /// The body to answer with (a verification challenge, a short error).
    pub body: String,
    /// The records found in the request.
    pub records: Vec<Record>,
    /// What the source made of the request's credential (its signature, token or shared
    /// secret), for the host's logs and traces; the `status` already acts on it.
    pub credential: CredentialCheck,
}

/// What a [`WebhookSource`] made of a request's credential: the signature, token or
/// shared secret that proves where it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum CredentialCheck {
    /// Checked, and it proves the sender.
    Valid,
    /// Checked, and wrong or missing: the reply refuses the request.
    Refused,
    /// Not checked: the request was refused before (its method, its size), or the source
    /// is configured without a credential.
    #[default]
    NotChecked,
}

impl CredentialCheck {
    /// `valid`, `refused` or `not_checked`, as in its JSON form.
    pub fn name(self) -> &'static str {
        match self {
            CredentialCheck::Valid => "valid",
            CredentialCheck::Refused => "refused",
            CredentialCheck::NotChecked => "not_checked",
        }
    }
}

impl WebhookReply {
    /// `200` with the records found and an empty body; the credential not checked until
    /// [`credential`](WebhookReply::credential) says otherwise.
    pub fn accepted(records: Vec<Record>) -> Self {
        WebhookReply {
            status: 200,
            content_type: "text/plain",
            body: String::new(),
            records,
            credential: CredentialCheck::NotChecked,
        }
    }

    /// A reply without records.
    pub fn status(status: u16, body: impl Into<String>) -> Self {
        WebhookReply {
            status,
            content_type: "text/plain",
            body: body.into(),
            records: Vec::new(),
            credential: CredentialCheck::NotChecked,
        }
    }

    /// The reply with what the source made of the request's credential.
    ///
    /// ```
    /// use hubflow::{CredentialCheck, WebhookReply};
    /// let refused = WebhookReply::status(401, "invalid signature").credential(CredentialCheck::Refused);
    /// assert_eq!(refused.credential.name(), "refused");
    /// ```
    pub fn credential(mut self, check: CredentialCheck) -> Self {
        self.credential = check;
        self
    }
}

/// A push source: parses and checks the requests a provider sends to the host's server.
///
/// Pure and synchronous: signature checks, verification handshakes and parsing need no I/O,
/// so the host can answer within the provider's deadline and process the records after.
///
/// A webhook of the host's own ERP that signs nothing but sends a shared token in a
/// header, compared in constant time:
///
/// ```
/// use hubflow::http::Method;
/// use hubflow::{InboundRequest, Record, WebhookReply, WebhookSource};
/// use serde_json::Value;
///
/// struct ErpEvents {
///     token: String,
/// }
///
/// impl WebhookSource for ErpEvents {
///     fn handle(&self, request: &InboundRequest) -> WebhookReply {
///         let given = request.headers.get("X-Erp-Token").unwrap_or("");
///         // Constant time in a real host (the `subtle` crate); plain here for brevity.
///         if given != self.token {
///             return WebhookReply::status(401, "bad token");
///         }
///         match serde_json::from_slice::<Value>(request.body.as_ref()) {
///             Ok(event) => {
///                 let key = format!("erp:{}", event["id"]);
///                 WebhookReply::accepted(vec![Record::new(key, "erp.event", event)])
///             }
///             Err(_) => WebhookReply::status(400, "not JSON"),
///         }
///     }
/// }
///
/// let source = ErpEvents { token: "s3cret".into() };
/// let request = InboundRequest::new(Method::Post, "/hooks/erp", r#"{"id": 41, "type": "order"}"#)
///     .header("X-Erp-Token", "s3cret");
/// let reply = source.handle(&request);
/// assert_eq!((reply.status, reply.records[0].key.as_str()), (200, "erp:41"));
/// let forged = InboundRequest::new(Method::Post, "/hooks/erp", "{}").header("X-Erp-Token", "guess");
/// assert_eq!(source.handle(&forged).status, 401);
/// ```
pub trait WebhookSource: Send + Sync {
    /// Checks and parses one inbound request.
    fn handle(&self, request: &InboundRequest) -> WebhookReply;
}

#[cfg(test)]
mod tests;
