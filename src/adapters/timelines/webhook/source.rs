//! [`TimelinesWebhook`]: the token check and the size limit around [`parse`](super::parse),
//! and the HTTP answer.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use super::{parse, WebhookError, DEFAULT_MAX_BODY_BYTES};
use crate::spec::constant_time_eq;
use crate::{CredentialCheck, InboundRequest, Record, WebhookReply, WebhookSource};

/// Receives TimelinesAI webhooks (v1 and v2) at a secret URL: `https://your.host/hooks/timelines?token=<secret>`.
///
/// TimelinesAI signs nothing and sends no custom header, so the URL is the only secret: use
/// a random token of at least 128 bits (e.g. 32 hex digits) and HTTPS.
///
/// Replies, and why:
///
/// | status | when |
/// |---|---|
/// | 200 | the token is right: the records are in the reply, for the host to process *after* answering |
/// | 401 | the `token` query parameter is missing or wrong — and only then |
/// | 413 | the body is over the size limit ([`DEFAULT_MAX_BODY_BYTES`] by default) |
///
/// TimelinesAI v1 disables the integration after more than 10 consecutive answers other
/// than 200, and v2 wants a 2xx within 5 seconds (then retries twice and e-mails the
/// workspace owner). So the answer must never wait for the flow or depend on the ERP being
/// up: answer with the reply at once, then hand `reply.records` to
/// [`Flow::process`](crate::Flow::process) (or to the host's own queue). Duplicates from
/// TimelinesAI's retries are skipped by the flow's idempotency claims on the record keys.
///
/// For the same reason a body with the right token that is not a TimelinesAI payload (not
/// JSON, a field of the wrong type, an unknown event) is answered `200` too, and kept: the
/// reply's one record is an [`Unreadable`](crate::Unreadable) (kind `hubflow.unreadable`)
/// holding the body, the error and its JSON pointer. Every flow fails it at the `read`
/// stage, so it is a dead letter in the run history; [`reread`](Self::reread) replays it
/// once hubflow reads it.
///
/// ```
/// use hubflow::{InboundRequest, WebhookSource};
/// use hubflow::http::Method;
/// use hubflow::timelines::TimelinesWebhook;
/// use secrecy::SecretString;
///
/// let webhook = TimelinesWebhook::new(SecretString::from("0f4c9e1a7b2d4e8f9a6b3c5d7e9f1a2b"));
/// let body = r#"{"chat": {"chat_id": "1"}, "message": {"direction": "received", "text": "hi",
///                "timestamp": "2021-02-24T16:25:29+0000"}}"#;
/// let ok = webhook.handle(&InboundRequest::new(
///     Method::Post, "/hooks/timelines?token=0f4c9e1a7b2d4e8f9a6b3c5d7e9f1a2b", body));
/// assert_eq!((ok.status, ok.records.len()), (200, 1));
/// let forged = webhook.handle(&InboundRequest::new(Method::Post, "/hooks/timelines?token=guess", body));
/// assert_eq!((forged.status, forged.records.len()), (401, 0));
/// let garbled = webhook.handle(&InboundRequest::new(
///     Method::Post, "/hooks/timelines?token=0f4c9e1a7b2d4e8f9a6b3c5d7e9f1a2b", "{\"chat\": 7}"));
/// assert_eq!((garbled.status, garbled.records[0].kind.as_str()), (200, "hubflow.unreadable"));
/// ```
#[derive(Clone)]
pub struct TimelinesWebhook {
    token: SecretString,
    max_body_bytes: usize,
}

impl TimelinesWebhook {
    /// A webhook that accepts requests whose `token` query parameter is `token`. An empty
    /// token accepts nothing (every request gets 401), so a missing configuration cannot
    /// open the endpoint.
    pub fn new(token: SecretString) -> Self {
        TimelinesWebhook {
            token,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// Sets the largest body accepted, in bytes.
    #[must_use]
    pub fn max_body_bytes(mut self, limit: usize) -> Self {
        self.max_body_bytes = limit;
        self
    }

    /// Checks the token and the size, then parses, strictly: the records, or the error (for
    /// the host's logs; [`handle`](WebhookSource::handle) answers a body that does not
    /// parse `200` and keeps it).
    pub fn check(&self, request: &InboundRequest) -> Result<Vec<Record>, WebhookError> {
        self.authenticate(request)?;
        parse(&request.body)
    }

    /// Reads a body this webhook kept as unreadable (a dead letter of kind
    /// [`KIND_UNREADABLE`](crate::KIND_UNREADABLE) from source `timelines`) again: its
    /// records, or why it still cannot be read.
    pub fn reread(&self, record: &Record) -> Result<Vec<Record>, WebhookError> {
        let kept =
            crate::Unreadable::from_record(record).map_err(|e| WebhookError::NotTimelines {
                reason: e.to_string(),
            })?;
        if kept.source != UNREADABLE_SOURCE {
            return Err(WebhookError::NotTimelines {
                reason: format!("the record holds a body from `{}`", kept.source),
            });
        }
        parse(kept.body())
    }

    /// The token, then the size.
    fn authenticate(&self, request: &InboundRequest) -> Result<(), WebhookError> {
        let expected = self.token.expose_secret().as_bytes();
        let given = request.query("token").unwrap_or_default();
        if expected.is_empty() || !constant_time_eq(given.as_bytes(), expected) {
            return Err(WebhookError::Unauthorized);
        }
        if request.body.len() > self.max_body_bytes {
            return Err(WebhookError::BodyTooLarge {
                size: request.body.len(),
                limit: self.max_body_bytes,
            });
        }
        Ok(())
    }
}

/// The `source` of the unreadable bodies [`TimelinesWebhook`] keeps.
pub const UNREADABLE_SOURCE: &str = "timelines";

impl WebhookSource for TimelinesWebhook {
    fn handle(&self, request: &InboundRequest) -> WebhookReply {
        let reply = self.answer(request);
        crate::trace::webhook("timelines", &reply);
        reply
    }
}

impl TimelinesWebhook {
    /// The answer to one request, before it is traced.
    fn answer(&self, request: &InboundRequest) -> WebhookReply {
        if let Err(error) = self.authenticate(request) {
            // The token is looked at before the size: a body too large had a valid one.
            let check = match error {
                WebhookError::Unauthorized => CredentialCheck::Refused,
                _ => CredentialCheck::Valid,
            };
            return WebhookReply::status(error.http_status(), error.to_string()).credential(check);
        }
        let reply = match parse(&request.body) {
            Ok(records) => WebhookReply::accepted(records),
            // The token is right, so it is TimelinesAI: answered 200 so it never counts
            // towards disabling the webhook, and kept whole.
            Err(error) => {
                let mut kept = crate::Unreadable::new(UNREADABLE_SOURCE, &request.body[..], &error);
                if let Some(pointer) = error.path() {
                    kept = kept.at(pointer);
                }
                WebhookReply::accepted(vec![kept.to_record()])
            }
        };
        reply.credential(CredentialCheck::Valid)
    }
}

impl fmt::Debug for TimelinesWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimelinesWebhook")
            .field("token", &crate::http::REDACTED)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish()
    }
}
