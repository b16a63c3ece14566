//! Sending: TimelinesAI's public REST API as a [`Target`].

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use url::Url;

use crate::adapters::shared::auth::{BaseUrl, Credentials, StaticToken};
use crate::adapters::shared::client::ApiClient;
use crate::http::{HttpRequest, HttpResponse};
use crate::spec::{BuildContext, Registry, SecretRef};
use crate::{
    Action, Context, DeliveryError, ErrorClass, ProviderError, RateLimiter, Receipt, Record,
    SpecError, SpecErrors, Target, TargetError,
};

/// The kind name of the sending target in flow specs.
pub const KIND: &str = "timelines.message";
/// The public API's base URL.
pub const DEFAULT_BASE_URL: &str = "https://app.timelines.ai/integrations/api";
/// The public API's documented limit: 50 requests a minute per workspace.
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 50;

const PROVIDER: &str = "timelines";

/// A TimelinesAI workspace to send through: the API base URL and the workspace's API token
/// (Integrations → Public API; one per workspace, and regenerating it disables the old one).
///
/// ```
/// use hubflow::timelines::TimelinesConnection;
/// use secrecy::SecretString;
///
/// let connection = TimelinesConnection::new(SecretString::from("4d2d0239-e28c-4f4a"));
/// assert_eq!(
///     connection.endpoint(&["chats", "123456", "messages"]).as_str(),
///     "https://app.timelines.ai/integrations/api/chats/123456/messages"
/// );
/// assert!(!format!("{connection:?}").contains("4d2d0239"));
/// ```
///
/// Requests go through hubflow's shared send path: only below the base URL, with the
/// token added when they are sent. The token is static, so a 401 is final (the token is
/// wrong, or was regenerated in TimelinesAI).
#[derive(Clone)]
pub struct TimelinesConnection {
    api: ApiClient,
}

impl TimelinesConnection {
    /// The workspace whose API token is `api_token`, on the public API's base URL.
    pub fn new(api_token: SecretString) -> Self {
        TimelinesConnection::with_credentials(Arc::new(StaticToken::bearer(&api_token)))
    }

    /// The workspace whose requests `credentials` authorize.
    pub fn with_credentials(credentials: Arc<dyn Credentials>) -> Self {
        // The constant is a valid absolute URL; parsing it cannot fail.
        let base = Url::parse(DEFAULT_BASE_URL).unwrap_or_else(|_| unreachable!());
        TimelinesConnection {
            api: ApiClient::new(base, credentials),
        }
    }

    /// Sends to another base URL (a proxy, or a local stand-in in tests). It must be an
    /// absolute `https` (or `http`) URL with a host and no user info, query or fragment
    /// (see [`BaseUrl`]); otherwise every request fails, before anything is sent, saying
    /// why. Flow specs refuse such a URL when they are built.
    #[must_use]
    pub fn base_url(mut self, base_url: Url) -> Self {
        self.api = self.api.with_base(base_url);
        self
    }

    /// The base URL followed by `segments`, each percent-encoded as one path segment and
    /// without a trailing slash (the API answers 404 to a trailing slash).
    pub fn endpoint(&self, segments: &[&str]) -> Url {
        self.api.segments(segments)
    }

    /// A JSON `POST`, without credentials: the send path adds them.
    fn post(&self, segments: &[&str], body: &Value) -> Result<HttpRequest, TargetError> {
        HttpRequest::post_json(self.endpoint(segments), body)
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))
    }

    /// Sends `request` paced by `limiter`.
    async fn send(
        &self,
        ctx: &Context,
        request: &HttpRequest,
        limiter: &RateLimiter,
    ) -> Result<HttpResponse, DeliveryError> {
        self.api
            .send(ctx, request, Some(limiter))
            .await
            .map_err(|e| e.into_delivery(PROVIDER))
    }
}

impl fmt::Debug for TimelinesConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimelinesConnection")
            .field("base_url", &self.api.url().as_str())
            .field("credentials", self.api.credentials())
            .finish()
    }
}

/// Sends WhatsApp messages through TimelinesAI's public API: to a phone number
/// (`POST /messages`) or into an existing chat (`POST /chats/{chat_id}/messages`). The
/// receipt's id is the `message_uid` TimelinesAI gives the message.
///
/// The mapped payload takes one of two forms:
///
/// ```json
/// {"phone": "+5511999991234", "text": "…", "attachment_url": "https://…"}
/// {"chat_id": 123456, "text": "…"}
/// ```
///
/// | field | form | |
/// |---|---|---|
/// | `phone` | phone | the number with its country code; spaces, dashes, dots and brackets are dropped and a `+` is put in front (the `phone('BR')` filter gives such numbers) |
/// | `chat_id` | chat | a TimelinesAI chat id (`chat.id` of a `timelines.message` record), integer or digits |
/// | `text` | both | the message; may be empty only with an attachment |
/// | `attachment_url` | both | a publicly downloadable file, uploaded to TimelinesAI just before sending (`POST /files`) and sent by its `file_uid` |
/// | `attachment_filename` | both | the name the file gets, instead of the URL's |
/// | `whatsapp_account_phone` | phone | the connected number to send from (default: the most recently connected one) |
/// | `chat_name` | phone | the name of the chat the message creates |
/// | `reply_to` | chat | the `message_uid` this message answers |
/// | `label` | both | a label put on the chat |
///
/// Empty strings and `null` count as absent, so a template that renders nothing leaves a
/// field out. Any other field is refused, with a hint when it looks like a known one.
///
/// The API allows 50 requests a minute: every request (uploads included) waits for its slot
/// on a [`RateLimiter`] shared by the target's clones, through the flow's clock. 429 and
/// 5xx answers are retryable (with their `Retry-After`); other 4xx are permanent, 401
/// included: the send path resends once only when the credentials give a new value, which a
/// static API token never does. TimelinesAI takes
/// no idempotency key, so the flow's claim on the record key is what keeps a message from
/// being sent twice.
///
/// ```
/// use hubflow::{Record, Target};
/// use hubflow::timelines::{TimelinesConnection, TimelinesTarget};
/// use secrecy::SecretString;
/// use serde_json::json;
///
/// let target = TimelinesTarget::new(TimelinesConnection::new(SecretString::from("tok")));
/// let record = Record::new("k", "fracttal.work_order", json!({}));
/// let request = target
///     .prepare(&record, &json!({"phone": "55 11 99999-1234", "text": "OT-881 assigned"}))
///     .unwrap();
/// assert_eq!(request.message.url.as_str(), "https://app.timelines.ai/integrations/api/messages");
/// assert_eq!(request.message.json_body().unwrap(), json!({"phone": "+5511999991234", "text": "OT-881 assigned"}));
///
/// let error = target.prepare(&record, &json!({"to": "+5511999991234", "text": "x"})).unwrap_err();
/// assert!(error.to_string().contains("use `phone`"), "{error}");
/// ```
#[derive(Clone)]
pub struct TimelinesTarget {
    connection: Arc<TimelinesConnection>,
    limiter: Arc<RateLimiter>,
}

impl TimelinesTarget {
    /// Sends through `connection` at the default 50 requests a minute.
    pub fn new(connection: TimelinesConnection) -> Self {
        TimelinesTarget {
            connection: Arc::new(connection),
            limiter: Arc::new(limiter(DEFAULT_REQUESTS_PER_MINUTE)),
        }
    }

    /// Sets the request rate, per minute (the help centre says 50; the developer docs
    /// allow more per IP). `0` means no limit.
    #[must_use]
    pub fn requests_per_minute(mut self, rate: u32) -> Self {
        self.limiter = Arc::new(limiter(rate));
        self
    }

    /// Paces through `limiter`, shared with other targets that use the same workspace: the
    /// API's limit is per workspace, not per flow.
    #[must_use]
    pub fn shared_limiter(mut self, limiter: Arc<RateLimiter>) -> Self {
        self.limiter = limiter;
        self
    }

    /// The limiter this target paces its requests with.
    pub fn limiter(&self) -> &Arc<RateLimiter> {
        &self.limiter
    }

    /// Builds the target from its spec config, `{"connection": "<name>"}`, where the named
    /// connection is:
    ///
    /// ```json
    /// "timelines": {
    ///   "api_token": {"secret": "TIMELINES_TOKEN"},
    ///   "base_url": "https://app.timelines.ai/integrations/api",
    ///   "requests_per_minute": 50
    /// }
    /// ```
    ///
    /// Targets built this way pace on their own limiter; those built from a spec through
    /// [`Registry::default`] share one limiter per connection, since the API's limit is the
    /// workspace's.
    pub fn from_spec(cx: &BuildContext<'_>, config: &Value) -> Result<Self, SpecErrors> {
        build(cx, config, None)
    }

    /// Uploads the file at `url` and returns its `file_uid`.
    /// Sends the prepared file upload and returns the file's uid.
    async fn upload(&self, ctx: &Context, request: &HttpRequest) -> Result<String, DeliveryError> {
        let response = self.connection.send(ctx, request, &self.limiter).await?;
        let data = answer_data(&response, ctx.clock().now())?;
        match data.get("uid").and_then(Value::as_str) {
            Some(uid) if !uid.is_empty() => Ok(uid.to_owned()),
            // Nothing was sent to anyone yet, so this is a plain permanent failure (the
            // claim is released), not an unreadable answer to a send.
            _ => Err(permanent(&response, "the file upload answered without a file `uid`").into()),
        }
    }
}

/// What [`TimelinesTarget`] prepares: the file upload that comes first when the message
/// carries an attachment, then the message itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TimelinesSend {
    /// `POST /files` with the attachment's `download_url` (and `filename`), sent first when
    /// the payload has an `attachment_url`; the `uid` it answers goes into the message as
    /// `file_uid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload: Option<HttpRequest>,
    /// The message request: sent as it is, or with `file_uid` added to its body when there
    /// was an upload.
    pub message: HttpRequest,
    /// The message body as fields, so the upload's `file_uid` is added without reading the
    /// prepared bytes back.
    #[serde(skip)]
    body: Map<String, Value>,
    /// The number messaged, digits with country code, when the payload gave one.
    #[serde(skip)]
    recipient: Option<String>,
}

impl Action for TimelinesSend {
    fn recipient(&self) -> Option<&str> {
        self.recipient.as_deref()
    }
}

impl TimelinesSend {
    /// The message request with the uploaded file's uid in its body.
    fn with_file(&self, file_uid: &str) -> Result<HttpRequest, TargetError> {
        let mut body = self.body.clone();
        body.insert("file_uid".into(), Value::String(file_uid.to_owned()));
        let mut request = self.message.clone();
        request.body = serde_json::to_vec(&body)
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))?
            .into();
        Ok(request)
    }
}

fn limiter(per_minute: u32) -> RateLimiter {
    if per_minute == 0 {
        RateLimiter::every(Duration::ZERO)
    } else {
        RateLimiter::every(Duration::from_secs(60) / per_minute)
    }
}

impl fmt::Debug for TimelinesTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimelinesTarget")
            .field("connection", &self.connection)
            .field("limiter", &self.limiter)
            .finish()
    }
}

#[async_trait]
impl Target for TimelinesTarget {
    type Action = TimelinesSend;

    fn prepare(&self, _record: &Record, payload: &Value) -> Result<TimelinesSend, TargetError> {
        let Outgoing { chat_id, mut body } = Outgoing::from_payload(payload)?;
        // The attachment is named by URL in the payload; the API takes an uploaded file's
        // uid, so the upload is its own request, made just before the send.
        let upload = match body.remove("attachment_url") {
            Some(url) => {
                let mut upload = json!({"download_url": url});
                if let Some(name) = body.remove("attachment_filename") {
                    upload["filename"] = name;
                }
                Some(self.connection.post(&["files"], &upload)?)
            }
            None => None,
        };
        let message = match chat_id {
            Some(chat_id) => {
                let id = chat_id.to_string();
                self.connection
                    .post(&["chats", &id, "messages"], &Value::Object(body.clone()))?
            }
            None => self
                .connection
                .post(&["messages"], &Value::Object(body.clone()))?,
        };
        let recipient = body
            .get("phone")
            .and_then(Value::as_str)
            .map(|phone| phone.chars().filter(char::is_ascii_digit).collect());
        Ok(TimelinesSend {
            upload,
            message,
            body,
            recipient,
        })
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        action: &TimelinesSend,
    ) -> Result<Receipt, DeliveryError> {
        let mut file_uid = None;
        let with_file;
        let request = match &action.upload {
            Some(upload) => {
                let uid = self.upload(ctx, upload).await?;
                with_file = action.with_file(&uid)?;
                file_uid = Some(uid);
                &with_file
            }
            None => &action.message,
        };
        let response = self.connection.send(ctx, request, &self.limiter).await?;
        let data = answer_data(&response, ctx.clock().now())?;
        let Some(uid) = data.get("message_uid").and_then(Value::as_str) else {
            // The API accepted something; sending again could message the person twice.
            return Err(DeliveryError::Response {
                provider: PROVIDER.to_owned(),
                message: "the answer has no `data.message_uid`".to_owned(),
            });
        };
        let mut receipt = Receipt::new(response.status).with_id(uid);
        if let Some(file_uid) = file_uid {
            receipt = receipt.with_details(json!({"file_uid": file_uid}));
        }
        Ok(receipt)
    }

    fn fakes(&self) -> Vec<std::sync::Arc<dyn crate::http::ProviderFake>> {
        vec![std::sync::Arc::new(
            super::fake::TimelinesFake::for_connection(&self.connection),
        )]
    }
}

/// The `data` of a success envelope, or the error the answer stands for.
fn answer_data(response: &HttpResponse, now: DateTime<Utc>) -> Result<Value, DeliveryError> {
    if !response.is_success() {
        return Err(provider_error(response, now).into());
    }
    let body = response.json_body().unwrap_or(Value::Null);
    if body.get("status").and_then(Value::as_str) == Some("error") {
        let message = body
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("the API answered status \"error\"");
        return Err(permanent(response, message).into());
    }
    Ok(body.get("data").cloned().unwrap_or(Value::Null))
}

/// A non-2xx answer, classified by status, with the API's own `message` when it gave one.
fn provider_error(response: &HttpResponse, now: DateTime<Utc>) -> ProviderError {
    let mut error = ProviderError::from_response(PROVIDER, response, now);
    if let Some(message) = response.json_body().ok().and_then(|body| {
        body.get("message")
            .and_then(Value::as_str)
            .map(str::to_owned)
    }) {
        error.message = message;
    }
    error
}

/// A success status whose content says the request failed: not worth retrying.
fn permanent(response: &HttpResponse, message: &str) -> ProviderError {
    ProviderError {
        provider: PROVIDER.to_owned(),
        status: response.status,
        code: None,
        message: message.to_owned(),
        class: ErrorClass::Permanent,
        details: Value::Null,
        source: None,
    }
}

// --- the payload ----------------------------------------------------------------------------

const FIELDS: &[&str] = &[
    "phone",
    "chat_id",
    "text",
    "attachment_url",
    "attachment_filename",
    "whatsapp_account_phone",
    "chat_name",
    "reply_to",
    "label",
];

/// A checked payload: the API body (with `attachment_url` still by URL) and the chat, if
/// it goes into one.
struct Outgoing {
    chat_id: Option<u64>,
    body: Map<String, Value>,
}

/// What a misspelt field most likely meant.
fn hint_for(field: &str) -> Option<&'static str> {
    Some(match field.to_ascii_lowercase().as_str() {
        "to" | "number" | "phone_number" | "recipient" | "mobile" => "use `phone`",
        "chat" | "chatid" | "chat_uid" => "use `chat_id`",
        "message" | "body" | "content" | "caption" => "use `text`",
        "attachment" | "file_url" | "url" | "media_url" | "document_url" => "use `attachment_url`",
        "filename" | "file_name" => "use `attachment_filename`",
        "file_uid" => "give the file's public URL as `attachment_url`; hubflow uploads it",
        "from" | "whatsapp_account_id" | "sender" => "use `whatsapp_account_phone`",
        _ => return None,
    })
}

impl Outgoing {
    fn from_payload(payload: &Value) -> Result<Outgoing, TargetError> {
        let Value::Object(map) = payload else {
            return Err(TargetError::InvalidPayload(
                "a TimelinesAI message is a JSON object: {\"phone\": …, \"text\": …} or {\"chat_id\": …, \"text\": …}".to_owned(),
            ));
        };
        if let Some(unknown) = map.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            let hint = hint_for(unknown).map_or(String::new(), |h| format!("{h}; "));
            return Err(TargetError::field(
                unknown.clone(),
                format!("unknown field; {hint}expected {}", FIELDS.join(", ")),
            ));
        }
        let get = |key: &str| -> Result<Option<String>, TargetError> {
            match map.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                // Whole numbers only: a phone or chat id written as 5.5e12 would lose digits.
                Some(Value::Number(n)) if n.is_u64() => Ok(Some(n.to_string())),
                Some(_) => Err(TargetError::field(key, "must be a string")),
            }
        };
        let phone = get("phone")?;
        let chat_id = get("chat_id")?;
        let text = get("text")?;
        let attachment_url = get("attachment_url")?;
        let attachment_filename = get("attachment_filename")?;
        let account = get("whatsapp_account_phone")?;
        let chat_name = get("chat_name")?;
        let reply_to = get("reply_to")?;
        let label = get("label")?;

        let mut body = Map::new();
        let chat_id = match (phone, chat_id) {
            (Some(_), Some(_)) => {
                return Err(TargetError::field(
                    "chat_id",
                    "give either `phone` (any number) or `chat_id` (an existing chat), not both",
                ))
            }
            (None, None) => {
                return Err(TargetError::field(
                    "phone",
                    "missing: give `phone` (any number, with its country code) or `chat_id` (an existing chat)",
                ))
            }
            (Some(phone), None) => {
                body.insert("phone".into(), Value::String(e164(&phone, "phone")?));
                None
            }
            (None, Some(id)) => Some(id.trim().parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| {
                TargetError::field("chat_id", format!("{id:?} is not a chat id (a positive integer, as in `chat.id` of a timelines.message record)"))
            })?),
        };
        if let Some(text) = &text {
            body.insert("text".into(), Value::String(text.clone()));
        } else if attachment_url.is_none() {
            return Err(TargetError::field(
                "text",
                "missing: a message needs a text, an attachment_url, or both",
            ));
        }
        if let Some(url) = attachment_url {
            match Url::parse(url.trim()) {
                Ok(parsed) if matches!(parsed.scheme(), "http" | "https") => {
                    body.insert("attachment_url".into(), Value::String(parsed.into()));
                }
                _ => {
                    return Err(TargetError::field(
                        "attachment_url",
                        "must be a public http(s) URL TimelinesAI can download the file from",
                    ))
                }
            }
            if let Some(name) = attachment_filename {
                body.insert("attachment_filename".into(), Value::String(name));
            }
        } else if attachment_filename.is_some() {
            return Err(TargetError::field(
                "attachment_filename",
                "names an attachment, but there is no attachment_url",
            ));
        }
        let phone_only = [
            ("whatsapp_account_phone", account),
            ("chat_name", chat_name),
        ];
        for (field, value) in phone_only {
            let Some(value) = value else { continue };
            if chat_id.is_some() {
                return Err(TargetError::field(
                    field,
                    "only for messages sent by `phone`; a chat already belongs to its account and has its name",
                ));
            }
            let value = if field == "whatsapp_account_phone" {
                e164(&value, field)?
            } else {
                value
            };
            body.insert(field.into(), Value::String(value));
        }
        if let Some(reply_to) = reply_to {
            if chat_id.is_none() {
                return Err(TargetError::field(
                    "reply_to",
                    "only for messages sent into a chat by `chat_id`",
                ));
            }
            body.insert("reply_to".into(), Value::String(reply_to));
        }
        if let Some(label) = label {
            body.insert("label".into(), Value::String(label));
        }
        Ok(Outgoing { chat_id, body })
    }
}

/// `+` and the digits of a phone number written with spaces, dashes, dots or brackets.
fn e164(phone: &str, field: &str) -> Result<String, TargetError> {
    let digits: String = phone
        .trim()
        .trim_start_matches('+')
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    if (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()) {
        Ok(format!("+{digits}"))
    } else {
        Err(TargetError::field(
            field,
            format!(
                "{:?} is not a phone number in international form (country code first, e.g. +5511999991234; the `phone('BR')` filter formats local numbers)",
                phone.chars().take(40).collect::<String>()
            ),
        ))
    }
}

// --- specs ----------------------------------------------------------------------------------

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct TargetSpec {
    connection: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionSpec {
    api_token: SecretRef,
    #[serde(default)]
    base_url: Option<Url>,
    #[serde(default)]
    requests_per_minute: Option<u32>,
}

/// Limiters by connection (name, base URL, rate), shared by the targets one registry
/// builds, so that every flow sending through one workspace keeps to its one limit.
type LimiterPool = Mutex<HashMap<(String, String, u32), Arc<RateLimiter>>>;

fn build(
    cx: &BuildContext<'_>,
    config: &Value,
    pool: Option<&LimiterPool>,
) -> Result<TimelinesTarget, SpecErrors> {
    let spec: TargetSpec = cx.deserialize(config)?;
    let name = spec.connection;
    let at_connection = |message: String, e: SpecError| {
        SpecErrors::from(SpecError { message, ..e }).prefixed("/connection")
    };
    let connection: ConnectionSpec = cx
        .connection(&name)
        .map_err(|e| SpecErrors::from(e).prefixed("/connection"))?;
    let token = cx
        .secret(&connection.api_token)
        .map_err(|e| at_connection(format!("connection \"{name}\": {}", e.message), e))?;
    let mut errors = SpecErrors::new();
    let mut timelines = TimelinesConnection::new(token);
    if let Some(base) = connection.base_url {
        match BaseUrl::new(base.clone()) {
            Ok(_) => timelines = timelines.base_url(base),
            Err(e) => errors.push(SpecError::new(
                "/connection",
                format!("connection \"{name}\" at /base_url: {e}"),
            )),
        }
    }
    let rate = connection
        .requests_per_minute
        .unwrap_or(DEFAULT_REQUESTS_PER_MINUTE);
    if rate == 0 {
        errors.push(
            SpecError::new(
                "/connection",
                format!("connection \"{name}\" at /requests_per_minute: must be at least 1"),
            )
            .with_hint("leave it out for the API's documented 50 a minute"),
        );
    }
    let mut target = TimelinesTarget::new(timelines).requests_per_minute(rate);
    if let Some(pool) = pool {
        // Each entry is written whole, so a panic elsewhere cannot leave the map
        // inconsistent; a poisoned lock still guards valid limiters.
        let mut pool = pool.lock().unwrap_or_else(PoisonError::into_inner);
        let key = (name, target.connection.api.url().to_string(), rate);
        let shared = pool.entry(key).or_insert_with(|| target.limiter.clone());
        target = target.shared_limiter(shared.clone());
    }
    errors.into_result(target)
}

/// Registers the `timelines.message` target kind. Targets built through one registry share
/// a limiter per connection.
pub(crate) fn register(registry: &mut Registry) {
    let pool: Arc<LimiterPool> = Arc::default();
    registry.register_target(KIND, move |cx, config| {
        Ok(crate::DynTarget::new(build(cx, config, Some(&pool))?))
    });
    #[cfg(feature = "schema")]
    registry.set_config_schema_of::<TargetSpec>(crate::spec::KindRole::Target, KIND);
}

#[cfg(test)]
mod tests;
