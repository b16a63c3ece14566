//! Sending: the WhatsApp Cloud API as a [`Target`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use url::Url;

use super::media::{may_upload, pending_uploads, upload_pending, MediaProvider, PendingUpload};
use super::{
    provider_error, MessageKind, OutgoingMessage, SendReceipt, TemplateCheck, SERVICE_WINDOW,
};

/// Meta's code for a free-form message outside the 24-hour window.
const WINDOW_CLOSED: &str = "131047";
use crate::adapters::shared::auth::{BaseUrl, Credentials, StaticToken};
use crate::adapters::shared::client::ApiClient;
use crate::http::HttpRequest;
use crate::spec::{BuildContext, Registry, SecretRef};
use crate::{
    Action, Context, DeliveryError, RateLimiter, Receipt, Record, SpecError, SpecErrors, Target,
    TargetError,
};

/// The default Graph API base URL.
pub const DEFAULT_BASE_URL: &str = "https://graph.facebook.com";
/// The default Graph API version.
pub const DEFAULT_API_VERSION: &str = "v23.0";

/// A WhatsApp Business phone number to send from: Graph API base URL and version, the
/// phone-number id, and the [`Credentials`] its requests carry (a system-user access token).
///
/// Every request (messages, media uploads, media URLs) goes through hubflow's shared send
/// path: only below the base URL, with the credentials' `Authorization` value, and when
/// Graph rejects the token (error 190, or a bare 401) the credentials are told so and the
/// request is sent once more with what they give back. A static token
/// ([`new`](Self::new)) has nothing new to give, so its rejection is final; a token the
/// host reloads ([`with_credentials`](Self::with_credentials) with a
/// [`ReloadingToken`](crate::auth::ReloadingToken)) follows a rotation.
///
/// ```
/// use hubflow::whatsapp::WhatsAppConnection;
/// use secrecy::SecretString;
///
/// let connection = WhatsAppConnection::new("106540352242922", SecretString::from("EAAG…"));
/// assert_eq!(
///     connection.messages_url().as_str(),
///     "https://graph.facebook.com/v23.0/106540352242922/messages"
/// );
/// assert!(!format!("{connection:?}").contains("EAAG"));
/// ```
#[derive(Clone)]
pub struct WhatsAppConnection {
    api: ApiClient,
    api_version: String,
    phone_number_id: String,
    waba_id: Option<String>,
}

impl WhatsAppConnection {
    /// The phone number `phone_number_id` (from the WhatsApp Manager), with a system-user
    /// access token, on the default base URL and API version.
    pub fn new(phone_number_id: impl Into<String>, access_token: SecretString) -> Self {
        WhatsAppConnection::with_credentials(
            phone_number_id,
            Arc::new(StaticToken::bearer(&access_token)),
        )
    }

    /// The phone number `phone_number_id`, its requests authorized by `credentials` (e.g. a
    /// [`ReloadingToken`](crate::auth::ReloadingToken) that reads a rotated token).
    pub fn with_credentials(
        phone_number_id: impl Into<String>,
        credentials: Arc<dyn Credentials>,
    ) -> Self {
        // The constant is a valid absolute URL; parsing it cannot fail.
        let base = Url::parse(DEFAULT_BASE_URL).unwrap_or_else(|_| unreachable!());
        WhatsAppConnection {
            api: ApiClient::new(base, credentials).rejects(super::error::rejects_token),
            api_version: DEFAULT_API_VERSION.to_owned(),
            phone_number_id: phone_number_id.into(),
            waba_id: None,
        }
    }

    /// The WhatsApp Business Account the number belongs to (`entry[].id` of its webhooks).
    /// With it, template sends check what Meta last said of the template
    /// ([`template_state`](super::template_state)) and refuse one that is paused,
    /// disabled or rejected before any request.
    #[must_use]
    pub fn business_account(mut self, waba_id: impl Into<String>) -> Self {
        self.waba_id = Some(waba_id.into());
        self
    }

    /// The WhatsApp Business Account id, when set.
    pub fn waba_id(&self) -> Option<&str> {
        self.waba_id.as_deref()
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

    /// Uses another Graph API version (`v24.0`); versions expire about two years after release.
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// The phone-number id messages are sent from.
    pub fn phone_number_id(&self) -> &str {
        &self.phone_number_id
    }

    /// `{base}/{version}/{phone-number-id}/messages`.
    pub fn messages_url(&self) -> Url {
        self.endpoint(&[&self.phone_number_id, "messages"])
    }

    /// `{base}/{version}/` followed by `segments`, each percent-encoded as one path segment.
    pub(crate) fn endpoint(&self, segments: &[&str]) -> Url {
        let mut all = Vec::with_capacity(segments.len() + 1);
        all.push(self.api_version.as_str());
        all.extend_from_slice(segments);
        self.api.segments(&all)
    }

    /// The shared send path with this connection's base URL and credentials.
    pub(crate) fn api(&self) -> &ApiClient {
        &self.api
    }
}

impl fmt::Debug for WhatsAppConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppConnection")
            .field("base_url", &self.api.url().as_str())
            .field("api_version", &self.api_version)
            .field("phone_number_id", &self.phone_number_id)
            .field("waba_id", &self.waba_id)
            .field("credentials", self.api.credentials())
            .finish()
    }
}

/// What to do with a free-form message (text, document, interactive) when the customer has
/// not written in the last 24 hours, so WhatsApp would refuse it (error 131047).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum OutsideWindow {
    /// Fail the record before sending, saying a template is needed. The default.
    #[default]
    Refuse,
    /// Send this approved template instead, with the text (or caption, or interactive
    /// body) as its single body parameter.
    Template {
        /// The template's name.
        name: String,
        /// Its language code, e.g. `pt_BR`.
        language: String,
    },
    /// Do not check: the host knows better (it tracks windows itself).
    Send,
}

/// Sends one kind of WhatsApp message from a mapped payload (see
/// [`OutgoingMessage::from_payload`] for the payload forms).
///
/// Around the send it keeps WhatsApp's rules, so a flow does not learn them from errors:
///
/// * free-form messages only inside the 24-hour customer-service window, as remembered by
///   the [`Store`](crate::Store) (see [`remember_inbound`](super::remember_inbound)); outside it, [`OutsideWindow`];
/// * the number's throughput (80 messages/s by default) and one message per recipient every
///   6 seconds, both waited for through the [`Clock`](crate::Clock);
/// * the record's key in `biz_opaque_callback_data`, which Meta echoes in status webhooks,
///   so delivery and read receipts link back to the record that caused them.
///
/// Meta's errors are classified by code: see [`GraphError::class`](super::GraphError::class).
#[derive(Clone)]
pub struct WhatsAppTarget {
    kind: MessageKind,
    connection: Arc<WhatsAppConnection>,
    outside_window: OutsideWindow,
    limits: Arc<Limits>,
    callback_data: bool,
    /// Where payloads' `file` references get their bytes; without it they are refused.
    media: Option<Arc<dyn MediaProvider>>,
    /// The templates' category when Meta has not said it.
    template_category: Option<String>,
}

struct Limits {
    per_number: RateLimiter,
    per_recipient: RateLimiter,
}

impl Limits {
    /// The number's throughput limit is shared, under `whatsapp:<phone_number_id>`, with
    /// every worker whose context has the same rate store: Meta counts per number, not per
    /// process. The per-recipient pacing stays in the process: recipients are many, and a
    /// cluster sends to one recipient from one worker at a time.
    fn new(phone_number_id: &str, per_number: Duration, per_recipient: Duration) -> Self {
        Limits {
            per_number: RateLimiter::every(per_number)
                .shared(format!("whatsapp:{phone_number_id}")),
            per_recipient: RateLimiter::every(per_recipient),
        }
    }
}

impl WhatsAppTarget {
    /// Sends `kind` messages from `connection`, with the default limits and window policy.
    pub fn new(kind: MessageKind, connection: WhatsAppConnection) -> Self {
        let limits = Limits::new(
            connection.phone_number_id(),
            RateLimiter::per_second(80.0).interval(),
            Duration::from_secs(6),
        );
        WhatsAppTarget {
            kind,
            connection: Arc::new(connection),
            outside_window: OutsideWindow::Refuse,
            limits: Arc::new(limits),
            callback_data: true,
            media: None,
            template_category: None,
        }
    }

    /// The category of the templates this target sends (`marketing`, `utility`,
    /// `authentication`), for when Meta has not said it in a template webhook (what Meta
    /// said wins). A marketing template is not sent to a user who stopped marketing
    /// messages ([`marketing_choice`](super::marketing_choice)); utility and
    /// authentication templates still go.
    #[must_use]
    pub fn template_category(mut self, category: impl Into<String>) -> Self {
        self.template_category = Some(category.into());
        self
    }

    /// Takes the bytes of payloads' `"file"` references from `provider`: the file is
    /// uploaded when the message is delivered, then sent by id (see
    /// [`media`](super::media)). Without a provider such payloads fail at `prepare`.
    ///
    /// ```
    /// use hubflow::whatsapp::media::{MediaFile, MemoryMedia};
    /// use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget};
    /// use hubflow::{Record, Target};
    /// use secrecy::SecretString;
    /// use serde_json::json;
    ///
    /// let files = MemoryMedia::new();
    /// files.insert("reports/OT-1021.pdf", MediaFile::new(&b"%PDF-1.4"[..], "OT-1021.pdf", "application/pdf"));
    /// let connection = WhatsAppConnection::new("106540352242922", SecretString::from("EAAG…"));
    /// let target = WhatsAppTarget::new(MessageKind::Document, connection).media(files);
    /// let record = Record::new("invoice:1021", "invoice", json!({}));
    /// let request = target.prepare(&record, &json!({"to": "5511999991234", "file": "reports/OT-1021.pdf"})).unwrap();
    /// // The dry run shows what will be uploaded, not the bytes.
    /// assert_eq!(request.message().json_body().unwrap()["document"], json!({
    ///     "filename": "OT-1021.pdf",
    ///     "upload": {"file": "reports/OT-1021.pdf", "mime_type": "application/pdf"}
    /// }));
    /// ```
    #[must_use]
    pub fn media(self, provider: impl MediaProvider + 'static) -> Self {
        self.media_arc(Arc::new(provider))
    }

    /// As [`media`](WhatsAppTarget::media), with a shared provider.
    #[must_use]
    pub fn media_arc(mut self, provider: Arc<dyn MediaProvider>) -> Self {
        self.media = Some(provider);
        self
    }

    /// What to do with free-form messages outside the 24-hour window.
    #[must_use]
    pub fn outside_window(mut self, policy: OutsideWindow) -> Self {
        self.outside_window = policy;
        self
    }

    /// The number's throughput limit, in messages per second (80 by default; Meta raises it
    /// to 1,000 for numbers in good standing, 20 for coexistence numbers).
    #[must_use]
    pub fn rate_per_second(mut self, rate: f64) -> Self {
        self.limits = Arc::new(Limits::new(
            self.connection.phone_number_id(),
            RateLimiter::per_second(rate).interval(),
            self.limits.per_recipient.interval(),
        ));
        self
    }

    /// The least time between two messages to one recipient (6 s by default; WhatsApp
    /// answers 131056 when a pair gets messages faster).
    #[must_use]
    pub fn recipient_interval(mut self, interval: Duration) -> Self {
        self.limits = Arc::new(Limits::new(
            self.connection.phone_number_id(),
            self.limits.per_number.interval(),
            interval,
        ));
        self
    }

    /// Leaves `biz_opaque_callback_data` as the payload has it instead of setting the record key.
    #[must_use]
    pub fn without_callback_data(mut self) -> Self {
        self.callback_data = false;
        self
    }

    /// The kind of message this target sends.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The message request, without credentials: the send path adds them.
    fn request(&self, body: &Value) -> Result<HttpRequest, TargetError> {
        HttpRequest::post_json(self.connection.messages_url(), body)
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))
    }

    /// What a free-form message becomes outside the window: refused, or the fallback
    /// template with the message's text as its one body parameter.
    /// The fallback template to send instead of a free-form message whose window is
    /// closed (`since` says how it is known), after its own checks; or the refusal.
    async fn fallback<'w>(
        &self,
        ctx: &Context,
        window: &'w WindowCheck,
        since: &str,
    ) -> Result<(&'w str, &'w HttpRequest), DeliveryError> {
        match &window.when_closed {
            WhenClosed::Refuse => Err(DeliveryError::Precondition(format!(
                "{since}, so the 24-hour window for free-form messages is closed; send an approved template instead (or set a fallback template)"
            ))),
            WhenClosed::Template {
                name,
                language,
                request,
            } => {
                TemplateCheck {
                    waba_id: self.connection.waba_id().map(str::to_owned),
                    name: name.clone(),
                    language: language.clone(),
                    category: None,
                    phone_number_id: window.phone_number_id.clone(),
                    customer: window.customer.clone(),
                }
                .verify(ctx)
                .await?;
                Ok((name, request))
            }
        }
    }

    /// Sends one request to Meta, paced for the recipient and the number: the receipt, or
    /// Meta's error.
    async fn post(
        &self,
        ctx: &Context,
        to: &str,
        request: &HttpRequest,
    ) -> Result<Receipt, DeliveryError> {
        self.limits.per_recipient.acquire_in(ctx, to).await;
        let response = self
            .connection
            .api()
            .send(ctx, request, Some(&self.limits.per_number))
            .await
            .map_err(|e| e.into_delivery(super::error::PROVIDER))?;
        if !response.is_success() {
            return Err(provider_error(&response, ctx.clock().now()).into());
        }
        let receipt =
            SendReceipt::from_body(&response.body).map_err(|message| DeliveryError::Response {
                provider: "whatsapp".to_owned(),
                message,
            })?;
        Ok(receipt.to_receipt(response.status))
    }

    /// Remembers what a refusal of Meta's says about the template or the user, so the next
    /// send is refused before any request: 132015 (paused) and 132016 (disabled) for the
    /// template, 131050 (stopped marketing messages) for the user.
    async fn learn(
        &self,
        ctx: &Context,
        send: &WhatsAppSend,
        error: &DeliveryError,
    ) -> Result<(), DeliveryError> {
        let Some(check) = &send.template else {
            return Ok(());
        };
        let now = ctx.clock().now();
        let status = match error.code() {
            Some("132015") => "PAUSED",
            Some("132016") => "DISABLED",
            Some("131050") => {
                super::lifecycle::note_marketing(
                    ctx,
                    &check.phone_number_id,
                    &check.customer,
                    false,
                    "131050",
                    now,
                )
                .await?;
                return Ok(());
            }
            _ => return Ok(()),
        };
        if let Some(waba) = &check.waba_id {
            let note = super::lifecycle::TemplateNote::Status {
                status: status.to_owned(),
                reason: error.code().map(|code| format!("error {code}")),
                category: None,
            };
            super::lifecycle::note_template(ctx, waba, &check.name, &check.language, note, now)
                .await?;
        }
        Ok(())
    }

    fn when_closed(&self, sent: &Value) -> Result<WhenClosed, TargetError> {
        let OutsideWindow::Template { name, language } = &self.outside_window else {
            return Ok(WhenClosed::Refuse);
        };
        let mut payload = json!({
            "to": sent["to"],
            "template": name,
            "language": language,
            "body": [one_line(free_form_text(sent))],
        });
        if let Some(data) = sent.get("biz_opaque_callback_data") {
            payload["callback_data"] = data.clone();
        }
        let message = OutgoingMessage::from_payload(MessageKind::Template, &payload)?;
        let body = serde_json::to_value(&message)
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))?;
        Ok(WhenClosed::Template {
            name: name.clone(),
            language: language.clone(),
            request: self.request(&body)?,
        })
    }
}

/// What [`WhatsAppTarget`] prepares: the files to upload first, the message request, and
/// for a free-form message the 24-hour window check with what is sent when the window is
/// closed. [`deliver`](Target::deliver) executes exactly this: it reads the window from the
/// store, uploads, puts each media id where its `upload` object is, and sends.
///
/// ```
/// use hubflow::whatsapp::{MessageKind, WhatsAppConnection, WhatsAppTarget, OutsideWindow};
/// use hubflow::{Record, Target};
/// use secrecy::SecretString;
/// use serde_json::json;
///
/// let connection = WhatsAppConnection::new("106540352242922", SecretString::from("EAAG…"));
/// let target = WhatsAppTarget::new(MessageKind::Text, connection).outside_window(OutsideWindow::Template {
///     name: "follow_up".into(), language: "pt_BR".into(),
/// });
/// let record = Record::new("wo:1021", "work_order", json!({}));
/// let send = target.prepare(&record, &json!({"to": "5511999991234", "text": "Pump 3 is fixed"})).unwrap();
/// let shown = serde_json::to_value(&send).unwrap();
/// assert_eq!(shown["message"]["body"]["text"]["body"], "Pump 3 is fixed");
/// assert_eq!(shown["window"]["customer"], "5511999991234");
/// let fallback = &shown["window"]["when_closed"]["template"]["request"]["body"]["template"];
/// assert_eq!(fallback["name"], "follow_up");
/// // The credentials are added when the message is sent, not kept in the action.
/// assert!(shown["message"]["headers"].get("Authorization").is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WhatsAppSend {
    /// Files uploaded before the send; each media id replaces its `upload` object.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    uploads: Vec<PendingUpload>,
    /// The message request, sent as it is when there is nothing to upload.
    message: HttpRequest,
    /// The window check of a free-form message; `None` for templates, or when the target
    /// does not check ([`OutsideWindow::Send`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    window: Option<WindowCheck>,
    /// The checks of a template message.
    #[serde(skip_serializing_if = "Option::is_none")]
    template: Option<TemplateCheck>,
    /// The message body, kept as a value so upload ids go in without re-reading bytes;
    /// `Null` when no check reads it (see [`WhatsAppSend::body`]).
    #[serde(skip)]
    body: Value,
    /// The connection it is sent through (for the preflight's template list).
    #[serde(skip)]
    via: Via,
    #[serde(skip)]
    to: String,
}

impl WhatsAppSend {
    /// The message request.
    pub fn message(&self) -> &HttpRequest {
        &self.message
    }

    /// The window check, for a free-form message.
    pub fn window(&self) -> Option<&WindowCheck> {
        self.window.as_ref()
    }

    /// The checks of a template message (its status at Meta, the user's marketing
    /// choice); `None` for free-form messages.
    pub fn template(&self) -> Option<&TemplateCheck> {
        self.template.as_ref()
    }

    /// The message body as a value (what `message` carries as bytes): the one kept, or
    /// read back from the bytes when none was (a template without files to upload).
    pub(crate) fn body(&self) -> std::borrow::Cow<'_, Value> {
        if self.body.is_null() {
            if let Ok(body) = self.message.json_body() {
                return std::borrow::Cow::Owned(body);
            }
        }
        std::borrow::Cow::Borrowed(&self.body)
    }

    /// The connection the message is sent through.
    pub(crate) fn connection(&self) -> &WhatsAppConnection {
        &self.via.0
    }
}

/// A target's connection inside its actions: equal when it is the same connection.
#[derive(Clone)]
struct Via(Arc<WhatsAppConnection>);

impl PartialEq for Via {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Action for WhatsAppSend {
    fn recipient(&self) -> Option<&str> {
        Some(&self.to)
    }
}

/// The 24-hour window check of a free-form message: whether `customer` wrote to
/// `phone_number_id` in the last 24 hours, as remembered by
/// [`remember_inbound`](super::remember_inbound).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct WindowCheck {
    /// The business number the message is sent from.
    pub phone_number_id: String,
    /// The customer's number.
    pub customer: String,
    /// What happens when the window is closed.
    pub when_closed: WhenClosed,
}

/// What a free-form message becomes when the customer's window is closed.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
// One per free-form send, inside its action, never in bulk: boxing the request would cost
// an allocation per send to save bytes nothing keeps.
#[allow(clippy::large_enum_variant)]
pub enum WhenClosed {
    /// Nothing is sent; the record fails with a precondition error.
    Refuse,
    /// This approved template is sent instead.
    Template {
        /// The template's name.
        name: String,
        /// The template's language code.
        language: String,
        /// The request that sends it.
        request: HttpRequest,
    },
}

/// The text a free-form message shows: a text body, a caption, an interactive body.
fn free_form_text(sent: &Value) -> &str {
    [
        "/text/body",
        "/document/caption",
        "/image/caption",
        "/video/caption",
        "/interactive/body/text",
    ]
    .iter()
    .find_map(|pointer| sent.pointer(pointer).and_then(Value::as_str))
    .unwrap_or("-")
}

/// A template parameter may hold no line breaks, tabs or runs of more than four spaces.
fn one_line(text: &str) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.is_empty() {
        "-".to_owned()
    } else {
        joined
    }
}

impl fmt::Debug for WhatsAppTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WhatsAppTarget")
            .field("kind", &self.kind.kind_name())
            .field("connection", &self.connection)
            .field("outside_window", &self.outside_window)
            .field("media", &self.media.is_some())
            .finish_non_exhaustive()
    }
}

/// Adds `value` under `key` to a receipt's details object.
fn add_detail(receipt: &mut Receipt, key: &str, value: Value) {
    match &mut receipt.details {
        Value::Object(details) => {
            details.insert(key.to_owned(), value);
        }
        other => *other = json!({ key: value }),
    }
}

#[async_trait]
impl Target for WhatsAppTarget {
    type Action = WhatsAppSend;

    fn prepare(&self, record: &Record, payload: &Value) -> Result<WhatsAppSend, TargetError> {
        let mut message = OutgoingMessage::from_payload(self.kind, payload)?;
        if self.callback_data {
            message.set_callback_data(record.key.clone());
        }
        // The bytes straight from the message: most sends (templates without files) need
        // nothing else, so the JSON value of the body is built only for the checks that
        // read it, a free-form message's window fallback and files to upload.
        let bytes =
            serde_json::to_vec(&message).map_err(|e| TargetError::InvalidPayload(e.to_string()))?;
        let checks_window = !message.is_template() && self.outside_window != OutsideWindow::Send;
        let body = if checks_window || may_upload(&bytes) {
            serde_json::from_slice(&bytes)
                .map_err(|e| TargetError::InvalidPayload(e.to_string()))?
        } else {
            Value::Null
        };
        let uploads = pending_uploads(&body);
        if let (None, Some(upload)) = (&self.media, uploads.first()) {
            return Err(TargetError::field(
                upload.field,
                "this target has no media provider to read files from: give a `link` or an uploaded `id`, \
                 or give the target a MediaProvider (WhatsAppTarget::media)",
            ));
        }
        let window = if !checks_window {
            None
        } else {
            Some(WindowCheck {
                phone_number_id: self.connection.phone_number_id().to_owned(),
                customer: message.to().to_owned(),
                when_closed: self.when_closed(&body)?,
            })
        };
        let template = match &message.content {
            super::Content::Template(template) => Some(TemplateCheck {
                waba_id: self.connection.waba_id().map(str::to_owned),
                name: template.name.clone(),
                language: template.language.code.clone(),
                category: self.template_category.clone(),
                phone_number_id: self.connection.phone_number_id().to_owned(),
                customer: message.to().to_owned(),
            }),
            _ => None,
        };
        Ok(WhatsAppSend {
            uploads,
            message: HttpRequest::new(crate::http::Method::Post, self.connection.messages_url())
                .json_bytes(bytes),
            window,
            template,
            via: Via(Arc::clone(&self.connection)),
            to: message.to().to_owned(),
            body,
        })
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        send: &WhatsAppSend,
    ) -> Result<Receipt, DeliveryError> {
        if let Some(check) = &send.template {
            check.verify(ctx).await?;
        }
        let mut fallback = None;
        if let Some(window) = &send.window {
            let last =
                super::window::last_inbound(ctx, &window.phone_number_id, &window.customer).await?;
            let open =
                last.is_some_and(|at| crate::clock::add(at, SERVICE_WINDOW) > ctx.clock().now());
            if !open {
                let since = match last {
                    Some(at) => format!("the customer last wrote at {at}"),
                    None => "the customer has not written".to_owned(),
                };
                fallback = Some(self.fallback(ctx, window, &since).await?);
            }
        }
        // The fallback template carries no media, so only the message itself may upload.
        let mut uploaded = Vec::new();
        let with_media;
        let request = match (&fallback, &self.media, send.uploads.is_empty()) {
            (Some((_, request)), _, _) => *request,
            (None, _, true) => &send.message,
            (None, None, false) => {
                return Err(DeliveryError::Precondition(
                    "the message names a file to upload, but this target has no media provider"
                        .to_owned(),
                ))
            }
            (None, Some(provider), false) => {
                let mut body = send.body.clone();
                uploaded = upload_pending(
                    ctx,
                    &self.connection,
                    provider.as_ref(),
                    &mut body,
                    send.uploads.clone(),
                )
                .await?;
                with_media = self.request(&body)?;
                &with_media
            }
        };
        let mut receipt = match self.post(ctx, &send.to, request).await {
            Ok(receipt) => receipt,
            // Meta says the window is closed though the store thought it open (a message
            // of the customer's that never came, a clock apart): the store is corrected,
            // and the flow's fallback template goes out, as the check would have chosen.
            Err(error) if fallback.is_none() && error.code() == Some(WINDOW_CLOSED) => {
                let Some(window) = &send.window else {
                    return Err(error);
                };
                super::window::forget_inbound(ctx, &window.phone_number_id, &window.customer)
                    .await?;
                let since = "Meta answered 131047: the customer has not written in 24 hours";
                let (name, request) = match self.fallback(ctx, window, since).await {
                    Ok(fallback) => fallback,
                    // Refused: Meta's own error says it best.
                    Err(DeliveryError::Precondition(_)) => return Err(error),
                    Err(other) => return Err(other),
                };
                let mut receipt = self.post(ctx, &send.to, request).await?;
                add_detail(&mut receipt, "sent_as_template", json!(name));
                add_detail(&mut receipt, "window_closed_by", json!(WINDOW_CLOSED));
                return Ok(receipt);
            }
            Err(error) => {
                self.learn(ctx, send, &error).await?;
                return Err(error);
            }
        };
        if !uploaded.is_empty() {
            add_detail(&mut receipt, "uploaded", Value::Array(uploaded));
        }
        if let Some((name, _)) = fallback {
            add_detail(&mut receipt, "sent_as_template", json!(name));
        }
        Ok(receipt)
    }

    fn fakes(&self) -> Vec<Arc<dyn crate::http::ProviderFake>> {
        vec![Arc::new(super::fake::WhatsAppFake::new())]
    }
}

/// A WhatsApp connection as declared in [`Connections`](crate::spec::Connections):
///
/// ```json
/// "whatsapp": {
///   "phone_number_id": "106540352242922",
///   "access_token": {"secret": "WHATSAPP_TOKEN"},
///   "api_version": "v23.0",
///   "base_url": "https://graph.facebook.com",
///   "waba_id": "102290129340398",
///   "app_secret": {"secret": "WHATSAPP_APP_SECRET"},
///   "verify_token": {"secret": "WHATSAPP_VERIFY_TOKEN"}
/// }
/// ```
///
/// `waba_id` (optional) is the WhatsApp Business Account: with it, template sends are
/// checked against what Meta last said of the template
/// ([`WhatsAppConnection::business_account`]). `app_secret` and `verify_token` are for the
/// receiving side, read by hosts that build a webhook from the same connection.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionSpec {
    phone_number_id: String,
    access_token: SecretRef,
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    base_url: Option<Url>,
    #[serde(default)]
    waba_id: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    app_secret: Option<SecretRef>,
    #[serde(default)]
    #[allow(dead_code)]
    verify_token: Option<SecretRef>,
}

/// The config of a WhatsApp target kind (`whatsapp.text`, `whatsapp.template`, …).
// Its docs are the descriptions of its schema (feature `schema`): they speak to spec authors.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct TargetSpec {
    /// The WhatsApp connection (phone number id, access token).
    connection: String,
    /// Outside the 24-hour window: "refuse" (the default), "send", or a template to send
    /// instead, {"template": "follow_up", "language": "pt_BR"}.
    #[serde(default)]
    outside_window: Option<OutsideWindowSpec>,
    /// Messages per second from the number, at most.
    #[serde(default)]
    rate_per_second: Option<f64>,
    /// The least time between two messages to one recipient, in milliseconds.
    #[serde(default)]
    recipient_interval_ms: Option<u64>,
    /// Send the record's key as `biz_opaque_callback_data`, which status webhooks echo
    /// (default true).
    #[serde(default = "yes")]
    callback_data: bool,
    /// Template targets: the template's category, "marketing", "utility" or
    /// "authentication".
    #[serde(default)]
    template_category: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
enum OutsideWindowSpec {
    Word(String),
    Template { template: String, language: String },
}

impl WhatsAppTarget {
    /// Builds the target for `kind` from its spec config:
    ///
    /// ```json
    /// {"whatsapp.text": {
    ///     "connection": "whatsapp",
    ///     "outside_window": {"template": "follow_up", "language": "pt_BR"},  // or "refuse" (default), "send"
    ///     "rate_per_second": 80,
    ///     "recipient_interval_ms": 6000,
    ///     "callback_data": true
    /// }}
    /// ```
    ///
    /// Template targets also take `"template_category"`: `"marketing"`, `"utility"` or
    /// `"authentication"` ([`WhatsAppTarget::template_category`]).
    pub fn from_spec(
        kind: MessageKind,
        cx: &BuildContext<'_>,
        config: &Value,
    ) -> Result<Self, SpecErrors> {
        let spec: TargetSpec = cx.deserialize(config)?;
        let connection: ConnectionSpec = cx
            .connection(&spec.connection)
            .map_err(|e| SpecErrors::from(e).prefixed("/connection"))?;
        let token = cx.secret(&connection.access_token).map_err(|e| {
            SpecErrors::from(SpecError {
                message: format!("connection \"{}\": {}", spec.connection, e.message),
                ..e
            })
            .prefixed("/connection")
        })?;
        let mut wa = WhatsAppConnection::new(connection.phone_number_id, token);
        if let Some(version) = connection.api_version {
            wa = wa.api_version(version);
        }
        if let Some(waba) = connection.waba_id {
            wa = wa.business_account(waba);
        }
        let mut errors = SpecErrors::new();
        if let Some(base) = connection.base_url {
            if let Err(e) = BaseUrl::new(base.clone()) {
                errors.push(SpecError::new(
                    "/connection",
                    format!("connection \"{}\" at /base_url: {e}", spec.connection),
                ));
            }
            wa = wa.base_url(base);
        }
        let outside_window = match spec.outside_window {
            None => OutsideWindow::Refuse,
            Some(OutsideWindowSpec::Word(word)) if word == "refuse" => OutsideWindow::Refuse,
            Some(OutsideWindowSpec::Word(word)) if word == "send" => OutsideWindow::Send,
            Some(OutsideWindowSpec::Word(word)) => {
                errors.push(
                    SpecError::new("/outside_window", format!("unknown policy \"{word}\""))
                        .with_hint("use \"refuse\", \"send\", or {\"template\": \"name\", \"language\": \"pt_BR\"}"),
                );
                OutsideWindow::Refuse
            }
            Some(OutsideWindowSpec::Template { template, language }) => OutsideWindow::Template {
                name: template,
                language,
            },
        };
        if kind == MessageKind::Template && outside_window != OutsideWindow::Refuse {
            errors.push(
                SpecError::new("/outside_window", "templates may be sent at any time")
                    .with_hint("remove this setting"),
            );
        }
        let mut target = WhatsAppTarget::new(kind, wa).outside_window(outside_window);
        if let Some(rate) = spec.rate_per_second {
            if !(rate.is_finite() && rate > 0.0) {
                errors.push(SpecError::new(
                    "/rate_per_second",
                    "must be a positive number",
                ));
            }
            target = target.rate_per_second(rate);
        }
        if let Some(ms) = spec.recipient_interval_ms {
            target = target.recipient_interval(Duration::from_millis(ms));
        }
        if !spec.callback_data {
            target = target.without_callback_data();
        }
        if let Some(category) = spec.template_category {
            if !["marketing", "utility", "authentication"]
                .iter()
                .any(|known| category.eq_ignore_ascii_case(known))
            {
                errors.push(
                    SpecError::new(
                        "/template_category",
                        format!("unknown category \"{category}\""),
                    )
                    .with_hint("use \"marketing\", \"utility\" or \"authentication\""),
                );
            }
            target = target.template_category(category);
        }
        errors.into_result(target)
    }
}

/// Registers `whatsapp.template`, `whatsapp.text`, `whatsapp.document`,
/// `whatsapp.interactive`, `whatsapp.image`, `whatsapp.audio` and `whatsapp.video`.
///
/// Targets built from specs have no [`MediaProvider`]: payloads with `file` need a kind the
/// host registers itself, with `WhatsAppTarget::from_spec(…)?.media(provider)`.
pub(crate) fn register(registry: &mut Registry) {
    for kind in MessageKind::ALL {
        registry.register_target(kind.kind_name(), move |cx, config| {
            Ok(crate::DynTarget::new(WhatsAppTarget::from_spec(
                kind, cx, config,
            )?))
        });
        #[cfg(feature = "schema")]
        registry
            .set_config_schema_of::<TargetSpec>(crate::spec::KindRole::Target, kind.kind_name());
    }
}
