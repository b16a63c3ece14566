//! Twilio as a second WhatsApp provider (feature `twilio`): approved Content templates and
//! free-form messages through Twilio's Messages API, and Twilio's signed webhooks (inbound
//! messages and status callbacks).
//!
//! * **Sending**: [`TwilioTarget`], kind `twilio.whatsapp`: `POST
//!   /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded, Basic auth with the
//!   account SID and auth token (or an API key), `whatsapp:+E164` addresses. A payload with
//!   `content_sid` sends the approved Content template (`ContentSid` + `ContentVariables`,
//!   Fracttal Hub's "Template Name / Content SID"); one with `body` a free-form message.
//!   Twilio's error codes are classified ([`twilio_error`], [`CODES`]).
//! * **Receiving**: [`TwilioWebhook`], a [`WebhookSource`](crate::WebhookSource): checks
//!   `X-Twilio-Signature` ([`verify_signature`]) and turns inbound messages into
//!   `twilio.message` records and status callbacks into `twilio.status` records.
//!
//! The guide `docs/twilio.md` has the facts, with their sources, and the setup.
//!
//! ```
//! use hubflow::twilio::{TwilioConnection, TwilioTarget};
//! use hubflow::{Flow, Plan, Record};
//! use secrecy::SecretString;
//! use serde_json::json;
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let ctx = hubflow::Context::new(hubflow::http::RecordingClient::new(), hubflow::ManualClock::new(chrono::Utc::now()), hubflow::MemoryStore::new());
//!
//! let connection = TwilioConnection::new("AC0123456789abcdef0123456789abcdef", SecretString::from("auth-token"))
//!     .from("+15557771234");
//! let flow = Flow::builder("wo-assigned").target(TwilioTarget::new(connection)).build().unwrap();
//! let record = Record::new("fracttal:wo:5001:assigned:Jonas", "fracttal.work_order_assignment", json!({
//!     "to": "(11) 99999-1234", "content_sid": "HXb5b62575e6e4ff6129ad7c8efe1f983e",
//!     "variables": ["Jonas Campos", "OT-1021"]}));
//! let Plan::Send(send) = flow.plan(&ctx, &record).await.unwrap() else { unreachable!() };
//! let shown = send.to_json();
//! let form = &shown["request"]["body"];
//! assert_eq!(form["To"], "whatsapp:+5511999991234");
//! assert_eq!(form["From"], "whatsapp:+15557771234");
//! assert_eq!(form["ContentSid"], "HXb5b62575e6e4ff6129ad7c8efe1f983e");
//! assert_eq!(form["ContentVariables"], r#"{"1":"Jonas Campos","2":"OT-1021"}"#);
//! assert!(!serde_json::to_string(&send).unwrap().contains("auth-token"));
//! # });
//! ```

mod error;
pub mod fake;
mod signature;
mod spec;
mod webhook;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use phonenumber::country;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{Map, Value};
use url::Url;

use crate::adapters::shared::auth::{Credentials, StaticToken};
use crate::adapters::shared::client::ApiClient;
use crate::http::{HttpRequest, Method};
use crate::pipeline::phone;
use crate::text::text_of;
use crate::{Action, Context, DeliveryError, Receipt, Record, SpecError, Target, TargetError};

pub use error::{code_meaning, twilio_error, CODES};
pub use signature::{sign, verify_signature, SignatureError, SIGNATURE_HEADER};
pub(crate) use spec::register;
pub use webhook::{TwilioWebhook, DEFAULT_MAX_BODY, KIND_MESSAGE, KIND_STATUS, UNREADABLE_SOURCE};

/// Twilio's API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";
/// The provider name in errors and reports.
pub const PROVIDER: &str = "twilio";
/// The kind name of the target in flow specs.
pub const KIND: &str = "twilio.whatsapp";
/// The address prefix of WhatsApp numbers in Twilio.
pub const WHATSAPP_PREFIX: &str = "whatsapp:";

/// A Twilio account to send from: the account SID (in the URL), the credentials (the auth
/// token, or an API key and secret), and the sender: a WhatsApp number (`From`) or a
/// Messaging Service (`MessagingServiceSid`).
///
/// ```
/// use hubflow::twilio::TwilioConnection;
/// use secrecy::SecretString;
///
/// let connection = TwilioConnection::new("AC0123456789abcdef0123456789abcdef", SecretString::from("t0k3n"))
///     .from("+15557771234");
/// assert_eq!(
///     connection.messages_url().unwrap().as_str(),
///     "https://api.twilio.com/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json"
/// );
/// assert!(!format!("{connection:?}").contains("t0k3n"));
/// ```
#[derive(Clone)]
pub struct TwilioConnection {
    api: ApiClient,
    account_sid: String,
    sender: Option<Sender>,
    status_callback: Option<Url>,
}

/// Who sends: a WhatsApp number, or a Messaging Service that picks one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Sender {
    From(String),
    MessagingService(String),
}

impl TwilioConnection {
    /// The account `account_sid` (`AC…`), authorized with its auth token (Basic auth,
    /// the account SID as the user).
    pub fn new(account_sid: impl Into<String>, auth_token: SecretString) -> Self {
        let account_sid = account_sid.into();
        let credentials = Arc::new(StaticToken::basic(&account_sid, &auth_token));
        TwilioConnection::with_credentials(account_sid, credentials)
    }

    /// The account `account_sid`, authorized with an API key (`SK…`) and its secret, as
    /// Twilio recommends for production (a key can be revoked alone).
    pub fn with_api_key(
        account_sid: impl Into<String>,
        key_sid: &str,
        key_secret: SecretString,
    ) -> Self {
        let credentials = Arc::new(StaticToken::basic(key_sid, &key_secret));
        TwilioConnection::with_credentials(account_sid, credentials)
    }

    /// The account `account_sid`, its requests authorized by `credentials`.
    pub fn with_credentials(
        account_sid: impl Into<String>,
        credentials: Arc<dyn Credentials>,
    ) -> Self {
        // The constant is a valid absolute URL; parsing it cannot fail.
        let base = Url::parse(DEFAULT_BASE_URL).unwrap_or_else(|_| unreachable!());
        TwilioConnection {
            api: ApiClient::new(base, credentials),
            account_sid: account_sid.into(),
            sender: None,
            status_callback: None,
        }
    }

    /// Sends from this WhatsApp number (E.164, with or without `whatsapp:`).
    #[must_use]
    pub fn from(mut self, number: impl Into<String>) -> Self {
        self.sender = Some(Sender::From(number.into()));
        self
    }

    /// Sends through this Messaging Service (`MG…`) instead of one number.
    #[must_use]
    pub fn messaging_service(mut self, sid: impl Into<String>) -> Self {
        self.sender = Some(Sender::MessagingService(sid.into()));
        self
    }

    /// Asks Twilio to post each message's status changes to this URL (the host's
    /// [`TwilioWebhook`]).
    #[must_use]
    pub fn status_callback(mut self, url: Url) -> Self {
        self.status_callback = Some(url);
        self
    }

    /// Sends to another base URL (a local stand-in in tests). It must be an absolute
    /// `https` (or `http`) URL with a host and no user info, query or fragment; otherwise
    /// every send fails before anything is sent, saying why.
    #[must_use]
    pub fn base_url(mut self, url: Url) -> Self {
        self.api = self.api.with_base(url);
        self
    }

    /// The account SID.
    pub fn account_sid(&self) -> &str {
        &self.account_sid
    }

    /// `{base}/2010-04-01/Accounts/{AccountSid}/Messages.json`.
    pub fn messages_url(&self) -> Result<Url, TargetError> {
        let Some(account) = crate::http::path_segment(&self.account_sid) else {
            return Err(TargetError::InvalidPayload(
                "the account SID is not a path segment".to_owned(),
            ));
        };
        self.api
            .join(&format!("/2010-04-01/Accounts/{account}/Messages.json"))
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))
    }
}

impl fmt::Debug for TwilioConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioConnection")
            .field("base_url", &self.api.url().as_str())
            .field("account_sid", &self.account_sid)
            .field("sender", &self.sender)
            .field("credentials", self.api.credentials())
            .finish_non_exhaustive()
    }
}

/// Sends WhatsApp messages through Twilio: kind `twilio.whatsapp`.
///
/// The mapped payload is one of
///
/// ```json
/// {"to": "+55 11 99999-1234", "content_sid": "HX…", "variables": ["Jonas Campos", "OT-1021"]}
/// {"to": "+55 11 99999-1234", "content_sid": "HX…", "variables": {"name": "Jonas"}}
/// {"to": "+55 11 99999-1234", "body": "Your technician is on the way", "media_url": ["https://…/wo.pdf"]}
/// ```
///
/// * `to`: a number with its country code, or national in the target's
///   [`default_country`](Self::default_country) (default `BR`), or already
///   `whatsapp:+…`; normalised to E.164 and sent as `whatsapp:+<digits>`. A number that is
///   not valid is a [`TargetError`] on `to`.
/// * `content_sid` (`HX…`): an approved Content template, sent with `ContentVariables`, the
///   JSON of `variables`: a list becomes `{"1": …, "2": …}` (Twilio's numbered
///   placeholders), an object is sent as it is; values are sent as text. Templates may be
///   sent at any time.
/// * `body` (at most 1,600 characters) and `media_url` (http(s) URLs, at most 10): a
///   free-form message, delivered only within 24 hours of the user's last message (Twilio
///   answers 63016 otherwise).
///
/// Exactly one of `content_sid` and `body`. The receipt's id is the message SID (`SM…`),
/// and its details the status Twilio gave (`queued`, `accepted`).
#[derive(Clone)]
pub struct TwilioTarget {
    connection: Arc<TwilioConnection>,
    default_country: country::Id,
}

impl TwilioTarget {
    /// A target sending from `connection`, reading national numbers as Brazilian ones.
    pub fn new(connection: TwilioConnection) -> Self {
        TwilioTarget {
            connection: Arc::new(connection),
            default_country: country::Id::BR,
        }
    }

    /// The country of the numbers written without a country code, as an ISO 3166 alpha-2
    /// code (default `BR`); an unknown code is an error at `/default_country`.
    pub fn default_country(mut self, code: &str) -> Result<Self, SpecError> {
        self.default_country = phone::default_country(code)?;
        Ok(self)
    }

    /// `whatsapp:+<digits>` for a payload's `to`.
    fn address(&self, to: &str) -> Result<(String, String), TargetError> {
        let bare = to.trim().strip_prefix(WHATSAPP_PREFIX).unwrap_or(to);
        let number = phone::recipient(bare, self.default_country)?;
        Ok((
            format!("{WHATSAPP_PREFIX}+{}", number.digits),
            number.digits,
        ))
    }
}

impl fmt::Debug for TwilioTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioTarget")
            .field("connection", &self.connection)
            .field("default_country", &self.default_country.as_ref())
            .finish()
    }
}

/// The payload fields of `twilio.whatsapp`.
const FIELDS: &[&str] = &["to", "content_sid", "variables", "body", "media_url"];
/// Twilio's limit on a message body.
pub const MAX_BODY_CHARS: usize = 1600;
/// Twilio's limit on media per message.
pub const MAX_MEDIA: usize = 10;

/// What [`TwilioTarget`] prepares: the one form-encoded request, and the recipient.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TwilioSend {
    /// The request (credentials are added when it is sent).
    pub request: HttpRequest,
    /// The recipient's number, digits with country code.
    pub recipient: String,
}

impl Action for TwilioSend {
    fn recipient(&self) -> Option<&str> {
        Some(&self.recipient)
    }
}

/// `ContentVariables` for `variables`: a list numbered from 1, or an object as it is.
fn content_variables(value: Option<&Value>) -> Result<Option<String>, TargetError> {
    let scalar = |path: String, v: &Value| match v {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(Value::String(text_of(v))),
        _ => Err(TargetError::field(
            path,
            "a variable must be text or a number",
        )),
    };
    let variables: Map<String, Value> = match value {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| Ok(((i + 1).to_string(), scalar(format!("variables.{i}"), v)?)))
            .collect::<Result<_, TargetError>>()?,
        Some(Value::Object(named)) => named
            .iter()
            .map(|(k, v)| Ok((k.clone(), scalar(format!("variables.{k}"), v)?)))
            .collect::<Result<_, TargetError>>()?,
        Some(_) => {
            return Err(TargetError::field(
                "variables",
                "expected a list of the template's values in order, or an object of named ones",
            ))
        }
    };
    serde_json::to_string(&Value::Object(variables))
        .map(Some)
        .map_err(|e| TargetError::InvalidPayload(e.to_string()))
}

/// The `media_url` list, each an http(s) URL.
fn media_urls(value: Option<&Value>) -> Result<Vec<String>, TargetError> {
    let items: Vec<&Value> = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one @ Value::String(_)) => vec![one],
        Some(_) => {
            return Err(TargetError::field(
                "media_url",
                "expected an http(s) URL or a list of them",
            ))
        }
    };
    if items.len() > MAX_MEDIA {
        return Err(TargetError::field(
            "media_url",
            format!(
                "{} media; Twilio sends at most {MAX_MEDIA} per message",
                items.len()
            ),
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let text = item.as_str().unwrap_or_default().trim();
            match Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                    Ok(text.to_owned())
                }
                _ => Err(TargetError::field(
                    format!("media_url.{i}"),
                    "not an http(s) URL Twilio can fetch",
                )),
            }
        })
        .collect()
}

#[async_trait]
impl Target for TwilioTarget {
    type Action = TwilioSend;

    fn prepare(&self, _record: &Record, payload: &Value) -> Result<TwilioSend, TargetError> {
        let Value::Object(fields) = payload else {
            return Err(TargetError::InvalidPayload(
                "expected {\"to\", \"content_sid\", \"variables\"} or {\"to\", \"body\"}"
                    .to_owned(),
            ));
        };
        if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(TargetError::field(
                unknown.clone(),
                format!("unknown field; expected one of {}", FIELDS.join(", ")),
            ));
        }
        let text = |field: &str| {
            fields
                .get(field)
                .filter(|v| !v.is_null())
                .map(text_of)
                .filter(|t| !t.trim().is_empty())
        };
        let to = text("to").ok_or_else(|| TargetError::field("to", "missing: the number"))?;
        let (address, recipient) = self.address(&to)?;
        let mut form: Vec<(String, String)> = vec![("To".to_owned(), address)];
        match &self.connection.sender {
            Some(Sender::From(number)) => {
                // The sender is Twilio's own number, written by the host: only its form is
                // checked (test and sandbox numbers are not valid subscriber numbers).
                let digits: String = number
                    .trim()
                    .trim_start_matches(WHATSAPP_PREFIX)
                    .chars()
                    .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '+'))
                    .collect();
                if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
                    return Err(TargetError::InvalidPayload(
                        "the connection's `from` is not a WhatsApp number (+E.164)".to_owned(),
                    ));
                }
                form.push(("From".to_owned(), format!("{WHATSAPP_PREFIX}+{digits}")));
            }
            Some(Sender::MessagingService(sid)) => {
                form.push(("MessagingServiceSid".to_owned(), sid.clone()));
            }
            None => {
                return Err(TargetError::InvalidPayload(
                    "the Twilio connection has no sender: set `from` or `messaging_service_sid`"
                        .to_owned(),
                ))
            }
        }
        match (text("content_sid"), text("body")) {
            (Some(_), Some(_)) => {
                return Err(TargetError::field(
                    "body",
                    "give `content_sid` (a template) or `body` (a free-form message), not both",
                ))
            }
            (None, None) => {
                return Err(TargetError::field(
                    "content_sid",
                    "missing: a Content template's SID (HX…), or a `body` for a free-form message",
                ))
            }
            (Some(sid), None) => {
                let sid = sid.trim().to_owned();
                if !(sid.starts_with("HX") && sid.len() == 34) {
                    return Err(TargetError::field(
                        "content_sid",
                        "not a Content SID: they are `HX` and 32 hexadecimal digits",
                    ));
                }
                if fields.get("media_url").is_some_and(|v| !v.is_null()) {
                    return Err(TargetError::field(
                        "media_url",
                        "a Content template carries its own media",
                    ));
                }
                form.push(("ContentSid".to_owned(), sid));
                if let Some(variables) = content_variables(fields.get("variables"))? {
                    form.push(("ContentVariables".to_owned(), variables));
                }
            }
            (None, Some(body)) => {
                if fields.get("variables").is_some_and(|v| !v.is_null()) {
                    return Err(TargetError::field(
                        "variables",
                        "variables go with a `content_sid`; a free-form `body` is sent as it is",
                    ));
                }
                let length = body.chars().count();
                if length > MAX_BODY_CHARS {
                    return Err(TargetError::field(
                        "body",
                        format!("{length} characters; Twilio sends at most {MAX_BODY_CHARS}"),
                    ));
                }
                form.push(("Body".to_owned(), body));
                for url in media_urls(fields.get("media_url"))? {
                    form.push(("MediaUrl".to_owned(), url));
                }
            }
        }
        if let Some(callback) = &self.connection.status_callback {
            form.push(("StatusCallback".to_owned(), callback.to_string()));
        }
        let request = HttpRequest::new(Method::Post, self.connection.messages_url()?)
            .header("Accept", "application/json")
            .form(&form);
        Ok(TwilioSend { request, recipient })
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        send: &TwilioSend,
    ) -> Result<Receipt, DeliveryError> {
        let response = self
            .connection
            .api
            .send(ctx, &send.request, None)
            .await
            .map_err(|e| e.into_delivery(PROVIDER))?;
        if !response.is_success() {
            return Err(twilio_error(&response, ctx.clock().now()).into());
        }
        let answer: Value =
            serde_json::from_slice(&response.body).map_err(|e| DeliveryError::Response {
                provider: PROVIDER.to_owned(),
                message: format!("the answer is not JSON: {e}"),
            })?;
        let Some(sid) = answer.get("sid").and_then(Value::as_str) else {
            return Err(DeliveryError::Response {
                provider: PROVIDER.to_owned(),
                message: "the answer has no message `sid`".to_owned(),
            });
        };
        let mut receipt = Receipt::new(response.status).with_id(sid);
        let status = answer.get("status").cloned().unwrap_or(Value::Null);
        receipt.details = serde_json::json!({"status": status});
        Ok(receipt)
    }

    fn fakes(&self) -> Vec<Arc<dyn crate::http::ProviderFake>> {
        vec![Arc::new(fake::TwilioFake::new())]
    }
}

#[cfg(test)]
mod tests;
