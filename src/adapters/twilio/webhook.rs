//! [`TwilioWebhook`]: Twilio's inbound WhatsApp messages and status callbacks, signed with
//! `X-Twilio-Signature`.

use std::fmt;

use secrecy::SecretString;
use serde_json::{json, Map, Value};
use url::Url;

use super::signature::{verify_signature, SIGNATURE_HEADER};
use super::WHATSAPP_PREFIX;
use crate::http::{Method, REDACTED};
use crate::{CredentialCheck, InboundRequest, Record, Unreadable, WebhookReply, WebhookSource};

/// Record kind of an inbound message.
pub const KIND_MESSAGE: &str = "twilio.message";
/// Record kind of a status callback of a message the business sent.
pub const KIND_STATUS: &str = "twilio.status";
/// The `source` of the unreadable bodies this webhook keeps.
pub const UNREADABLE_SOURCE: &str = "twilio";

/// The largest body accepted by default: 1 MB (Twilio's form bodies are small).
pub const DEFAULT_MAX_BODY: usize = 1024 * 1024;

/// The TwiML that acknowledges without replying; Twilio logs an error for an empty body.
const EMPTY_TWIML: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>";

/// Receives Twilio's webhooks for a WhatsApp sender: inbound messages (the sender's or
/// Messaging Service's *incoming message* URL) and status callbacks (`StatusCallback`).
///
/// Twilio signs each request over the URL it called, so the webhook must know the public
/// URL's origin (`https://erp.example.com`, as configured in Twilio's console); the
/// request's path and query are appended to it. Behind a proxy, give the origin Twilio
/// sees, not the internal one.
///
/// | request | reply |
/// |---|---|
/// | `POST` larger than [`max_body`](Self::max_body) | `413` |
/// | `POST` without a valid `X-Twilio-Signature` | `401` |
/// | `POST` signed, with `MessageStatus` | `200`, one `twilio.status` record |
/// | `POST` signed, otherwise | `200`, one `twilio.message` record |
/// | `POST` signed but unreadable (no `MessageSid`, not a form) | `200`, the body kept as an [`Unreadable`] record |
/// | any other method | `405` |
///
/// Every `200` carries the empty TwiML `<Response></Response>` (`text/xml`), which tells
/// Twilio not to reply. Twilio waits at most 15 seconds for the answer: answer at once
/// and process the records after.
///
/// ```
/// use hubflow::{InboundRequest, WebhookSource};
/// use hubflow::http::Method;
/// use hubflow::twilio::{sign, TwilioWebhook};
/// use secrecy::SecretString;
///
/// let token = SecretString::from("auth-token");
/// let webhook = TwilioWebhook::new(token.clone(), "https://erp.example.com".parse().unwrap());
/// let params = vec![
///     ("MessageSid".to_owned(), "SM00000000000000000000000000000002".to_owned()),
///     ("From".to_owned(), "whatsapp:+5511999991234".to_owned()),
///     ("To".to_owned(), "whatsapp:+15557771234".to_owned()),
///     ("Body".to_owned(), "Aceito".to_owned()),
///     ("ProfileName".to_owned(), "Jonas".to_owned()),
/// ];
/// let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish();
/// let signature = sign(&token, "https://erp.example.com/hooks/twilio", &params);
/// let request = InboundRequest::new(Method::Post, "/hooks/twilio", body)
///     .header("Content-Type", "application/x-www-form-urlencoded")
///     .header("X-Twilio-Signature", signature);
/// let reply = webhook.handle(&request);
/// assert_eq!(reply.status, 200);
/// let record = &reply.records[0];
/// assert_eq!((record.kind.as_str(), record.key.as_str()), ("twilio.message", "SM00000000000000000000000000000002"));
/// assert_eq!(record.get("from"), Some(&serde_json::json!("5511999991234")));
/// assert_eq!(record.get("text"), Some(&serde_json::json!("Aceito")));
/// ```
#[derive(Clone)]
pub struct TwilioWebhook {
    auth_token: SecretString,
    origin: String,
    max_body: usize,
}

impl TwilioWebhook {
    /// A webhook checking signatures with the account's auth token, for requests Twilio
    /// sends to URLs under `public_origin` (its scheme, host and port are used).
    pub fn new(auth_token: SecretString, public_origin: Url) -> Self {
        TwilioWebhook {
            auth_token,
            origin: public_origin.origin().ascii_serialization(),
            max_body: DEFAULT_MAX_BODY,
        }
    }

    /// The largest body accepted, in bytes ([`DEFAULT_MAX_BODY`] unless set).
    #[must_use]
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// The URL Twilio signed for this request: the origin and the request's target.
    fn url_of(&self, request: &InboundRequest) -> String {
        format!("{}{}", self.origin, request.target)
    }

    /// Reads a body this webhook kept as unreadable (a dead letter of kind
    /// [`KIND_UNREADABLE`](crate::KIND_UNREADABLE) from source `twilio`) again: its
    /// record, or why it still cannot be read. The signature is not checked again: it was
    /// when the body came in.
    pub fn reread(&self, record: &Record) -> Result<Vec<Record>, String> {
        let kept = Unreadable::from_record(record).map_err(|e| e.to_string())?;
        if kept.source != UNREADABLE_SOURCE {
            return Err(format!("the record holds a body from `{}`", kept.source));
        }
        let params = form_pairs(kept.body());
        read(&params).map(|record| vec![record])
    }
}

impl fmt::Debug for TwilioWebhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioWebhook")
            .field("auth_token", &REDACTED)
            .field("origin", &self.origin)
            .field("max_body", &self.max_body)
            .finish()
    }
}

fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn is_form(request: &InboundRequest) -> bool {
    request
        .headers
        .get("content-type")
        .is_some_and(|t| t.trim().starts_with("application/x-www-form-urlencoded"))
}

impl WebhookSource for TwilioWebhook {
    fn handle(&self, request: &InboundRequest) -> WebhookReply {
        let reply = self.answer(request);
        crate::trace::webhook("twilio", &reply);
        reply
    }
}

impl TwilioWebhook {
    /// The answer to one request, before it is traced.
    fn answer(&self, request: &InboundRequest) -> WebhookReply {
        if request.method != Method::Post {
            return WebhookReply::status(405, "method not allowed");
        }
        if request.body.len() > self.max_body {
            return WebhookReply::status(413, "payload too large");
        }
        // Only a form body is covered by the signature: a body of another type is not
        // read as parameters, so it is signed over the URL alone and kept unread below.
        let form = is_form(request);
        let params = if form {
            form_pairs(&request.body)
        } else {
            Vec::new()
        };
        let header = request.headers.get(SIGNATURE_HEADER);
        if verify_signature(&self.auth_token, &self.url_of(request), &params, header).is_err() {
            return WebhookReply::status(401, "invalid signature")
                .credential(CredentialCheck::Refused);
        }
        let record = if form {
            read(&params)
        } else {
            Err("the body is not form-encoded, as Twilio's messaging webhooks are".to_owned())
        };
        let record = record.unwrap_or_else(|error| {
            Unreadable::new(UNREADABLE_SOURCE, &request.body[..], error).to_record()
        });
        let mut reply = WebhookReply::accepted(vec![record]).credential(CredentialCheck::Valid);
        reply.content_type = "text/xml";
        reply.body = EMPTY_TWIML.to_owned();
        reply
    }
}

/// The record of a signed request's parameters.
fn read(params: &[(String, String)]) -> Result<Record, String> {
    let field = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let sid = field("MessageSid")
        .or_else(|| field("SmsSid"))
        .ok_or_else(|| "no MessageSid: not a Twilio message webhook".to_owned())?;
    let mut all = Map::new();
    for (name, value) in params {
        all.entry(name.clone())
            .or_insert_with(|| Value::String(value.clone()));
    }
    let number = |name: &str| {
        field(name).map(|address| {
            address
                .strip_prefix(WHATSAPP_PREFIX)
                .unwrap_or(address)
                .trim_start_matches('+')
                .to_owned()
        })
    };
    let common = json!({
        "message_sid": sid,
        "account_sid": field("AccountSid"),
        "messaging_service_sid": field("MessagingServiceSid"),
        "from": number("From"),
        "to": number("To"),
        "from_address": field("From"),
        "to_address": field("To"),
        "params": all,
    });
    if let Some(status) = field("MessageStatus") {
        let mut data = common;
        crate::record::merge_object(
            &mut data,
            json!({
                "status": status,
                "error_code": field("ErrorCode"),
                "error_message": field("ErrorMessage"),
            }),
        );
        return Ok(Record::new(
            format!("{sid}:{}", status.to_ascii_lowercase()),
            KIND_STATUS,
            data,
        ));
    }
    let count: usize = field("NumMedia").and_then(|n| n.parse().ok()).unwrap_or(0);
    let media: Vec<Value> = (0..count.min(super::MAX_MEDIA))
        .map(|i| {
            json!({
                "url": field(&format!("MediaUrl{i}")),
                "content_type": field(&format!("MediaContentType{i}")),
            })
        })
        .collect();
    let mut data = common;
    crate::record::merge_object(
        &mut data,
        json!({
            "text": field("Body"),
            "profile_name": field("ProfileName"),
            "wa_id": field("WaId"),
            "message_type": field("MessageType"),
            "reply_id": field("ButtonPayload"),
            "button_text": field("ButtonText"),
            "context_id": field("OriginalRepliedMessageSid"),
            "latitude": field("Latitude"),
            "longitude": field("Longitude"),
            "media": media,
        }),
    );
    Ok(Record::new(sid, KIND_MESSAGE, data))
}
