//! RD Conversas (ex-Tallos) template sends: kind `rdconversas.template`, the channel RM
//! installations use today.

pub mod fake;
mod spec;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use phonenumber::country;
use secrecy::SecretString;
use serde::Serialize;
use serde_json::{json, Map, Value};
use url::Url;

use crate::adapters::shared::auth::{Credentials, StaticToken};
use crate::adapters::shared::client::ApiClient;
use crate::http::{HttpRequest, HttpResponse};
use crate::pipeline::phone;
use crate::text::{text_of, truncate};
use crate::{
    Action, Context, DeliveryError, ErrorClass, ProviderError, Receipt, Record, SpecError, Target,
    TargetError,
};

/// RD Conversas' API base URL.
pub const DEFAULT_BASE_URL: &str = "https://api.tallos.com.br";
/// The template-send route (the deprecated alias is `/api/v3/message/template/send`).
pub const TEMPLATE_SEND_PATH: &str = "/v3/messages/template/send";
/// The provider name in errors and reports.
pub const PROVIDER: &str = "rdconversas";
/// The kind name of the template-send target in flow specs.
pub const KIND: &str = "rdconversas.template";

pub(crate) use spec::register;

/// Sends an approved WhatsApp template through RD Conversas:
/// `POST {base}/v3/messages/template/send` with `Authorization: Bearer <token>` and
///
/// ```json
/// {"recipient_number": "+5511999998888", "country_code": "55",
///  "template_message_id": "…", "sent_by": "bot", "variables": ["Ana", "03/03/2026", "08:30"]}
/// ```
///
/// The mapped payload is `{"to", "variables"?, "template_message_id"?, "country_code"?}`:
/// `to` is the number, international (`+56 9 6123 4567`, `0056…`, or the digits the
/// mapper's `phone(country)` filter gives) or national in the target's default country
/// (`(11) 99999-8888`; default `BR`, see [`default_country`](Self::default_country)),
/// normalised to E.164 exactly as that filter does; a number that is not valid is a
/// [`TargetError`] on `to`. `variables` are the template's values in order (numbers are sent
/// as text). The template id defaults to the target's; the country code to the target's
/// when set, else the number's own. The receipt's id is the answer's `data.id`.
///
/// Errors, by RD Conversas' documented answers: 429 and 5xx are retried (with
/// `Retry-After`); 401 means the *contact is blacklisted* (or the token is wrong) and is not
/// retried; 404 code 301 (no contact for the number), 400 code 312 (no contact eligible for
/// official WhatsApp), 400 code 301 (invalid number) and 404 code 308 (template not found)
/// are permanent, with the reason in the message.
///
/// ```
/// use hubflow::rdconversas::RdConversasTarget;
/// use hubflow::{Flow, Plan, Record};
/// use secrecy::SecretString;
/// use serde_json::json;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let ctx = hubflow::Context::new(hubflow::http::RecordingClient::new(), hubflow::ManualClock::new(chrono::Utc::now()), hubflow::MemoryStore::new());
///
/// let target = RdConversasTarget::new(SecretString::from("rd-t0k3n")).template_message_id("tpl-77");
/// let flow = Flow::builder("rd").target(target).build().unwrap();
/// let record = Record::new("k", "x", json!({"to": "(11) 99999-8888", "variables": ["Ana", 3]}));
/// let Plan::Send(request) = flow.plan(&ctx, &record).await.unwrap() else { unreachable!() };
/// let shown = request.to_json();
/// let body = &shown["request"]["body"];
/// assert_eq!(body["recipient_number"], "+5511999998888");
/// assert_eq!(body["country_code"], "55");
/// assert_eq!(body["variables"], json!(["Ana", "3"]));
/// assert!(!serde_json::to_string(&request).unwrap().contains("rd-t0k3n"));
/// # });
/// ```
#[derive(Clone)]
pub struct RdConversasTarget {
    /// The base URL and the token, through the shared send path. The token is static, so a
    /// 401 is final.
    api: ApiClient,
    template_message_id: Option<String>,
    default_country: country::Id,
    country_code: Option<String>,
    sent_by: String,
    operator_id: Option<String>,
}

impl RdConversasTarget {
    /// A target on the default base URL with this API token, sending as `bot`, reading
    /// national numbers as Brazilian ones.
    pub fn new(token: SecretString) -> Self {
        RdConversasTarget::with_credentials(Arc::new(StaticToken::bearer(&token)))
    }

    /// A target whose requests `credentials` authorize, otherwise as [`new`](Self::new).
    pub fn with_credentials(credentials: Arc<dyn Credentials>) -> Self {
        // Invariant: a constant URL that parses (checked by a unit test).
        let base = Url::parse(DEFAULT_BASE_URL).expect("the default RD Conversas URL is valid");
        RdConversasTarget {
            api: ApiClient::new(base, credentials),
            template_message_id: None,
            default_country: country::Id::BR,
            country_code: None,
            sent_by: "bot".to_owned(),
            operator_id: None,
        }
    }

    /// Another base URL (a legacy host, a test server). It must be an absolute `https` (or
    /// `http`) URL with a host and no user info, query or fragment
    /// ([`BaseUrl`](crate::auth::BaseUrl)); otherwise `prepare` refuses every payload,
    /// saying why.
    #[must_use]
    pub fn base_url(mut self, url: Url) -> Self {
        self.api = self.api.with_base(url);
        self
    }

    /// The approved template's id, used when the payload has none.
    #[must_use]
    pub fn template_message_id(mut self, id: impl Into<String>) -> Self {
        self.template_message_id = Some(id.into());
        self
    }

    /// The country whose national numbers `to` may hold, as an ISO 3166 alpha-2 code
    /// (default `BR`); an unknown code is an error at `/default_country`.
    ///
    /// ```
    /// use hubflow::rdconversas::RdConversasTarget;
    /// use secrecy::SecretString;
    ///
    /// let target = RdConversasTarget::new(SecretString::from("t"));
    /// assert!(target.clone().default_country("cl").is_ok());
    /// let error = target.default_country("XX").unwrap_err();
    /// assert_eq!(error.path, "/default_country");
    /// ```
    pub fn default_country(mut self, code: &str) -> Result<Self, SpecError> {
        self.default_country = phone::default_country(code)?;
        Ok(self)
    }

    /// The country code sent beside the number, whatever the number's own (by default the
    /// number's: `55` for `+55 11 …`).
    #[must_use]
    pub fn country_code(mut self, code: impl Into<String>) -> Self {
        self.country_code = Some(code.into());
        self
    }

    /// Sends as an operator instead of the bot.
    #[must_use]
    pub fn operator(mut self, operator_id: impl Into<String>) -> Self {
        self.sent_by = "operator".to_owned();
        self.operator_id = Some(operator_id.into());
        self
    }

    fn url(&self) -> Result<Url, TargetError> {
        self.api
            .join(TEMPLATE_SEND_PATH)
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))
    }
}

impl fmt::Debug for RdConversasTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RdConversasTarget")
            .field("base_url", &self.api.url().as_str())
            .field("credentials", self.api.credentials())
            .field("template_message_id", &self.template_message_id)
            .field("default_country", &self.default_country.as_ref())
            .field("country_code", &self.country_code)
            .field("sent_by", &self.sent_by)
            .finish_non_exhaustive()
    }
}

const FIELDS: &[&str] = &["to", "variables", "template_message_id", "country_code"];

/// What [`RdConversasTarget`] prepares: the one template-send request, and the number it
/// messages (for wrappers that remember whom they asked).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct TemplateSend {
    /// The request, sent as it is.
    pub request: HttpRequest,
    /// The recipient's number, digits with country code.
    pub recipient: String,
}

impl Action for TemplateSend {
    fn recipient(&self) -> Option<&str> {
        Some(&self.recipient)
    }
}

#[async_trait]
impl Target for RdConversasTarget {
    type Action = TemplateSend;

    fn prepare(&self, _record: &Record, payload: &Value) -> Result<TemplateSend, TargetError> {
        let Value::Object(fields) = payload else {
            return Err(TargetError::InvalidPayload(
                "expected {\"to\", \"variables\"}".to_owned(),
            ));
        };
        if let Some(unknown) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(TargetError::field(
                unknown.clone(),
                format!("unknown field; expected one of {}", FIELDS.join(", ")),
            ));
        }
        let to = fields
            .get("to")
            .map(text_of)
            .ok_or_else(|| TargetError::field("to", "missing: the number with country code"))?;
        let number = phone::recipient(&to, self.default_country)?;
        let variables = match fields.get("variables") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(_) | Value::Number(_) | Value::Bool(_) => Ok(json!(text_of(v))),
                    _ => Err(TargetError::field(
                        format!("variables.{i}"),
                        "a variable must be text or a number",
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(TargetError::field(
                    "variables",
                    "expected a list of the template's values in order",
                ))
            }
        };
        let template = fields
            .get("template_message_id")
            .map(text_of)
            .or_else(|| self.template_message_id.clone())
            .filter(|t| !t.trim().is_empty())
            .ok_or_else(|| {
                TargetError::field(
                    "template_message_id",
                    "missing: set it in the payload or on the target",
                )
            })?;
        let country = fields
            .get("country_code")
            .map(text_of)
            .or_else(|| self.country_code.clone())
            .unwrap_or_else(|| number.country_code.to_string());
        let mut body = Map::new();
        body.insert(
            "recipient_number".into(),
            json!(format!("+{}", number.digits)),
        );
        body.insert("country_code".into(), json!(country));
        body.insert("template_message_id".into(), json!(template));
        body.insert("sent_by".into(), json!(self.sent_by));
        if let Some(operator) = &self.operator_id {
            body.insert("operator_id".into(), json!(operator));
        }
        body.insert("variables".into(), Value::Array(variables));
        // Without credentials: the send path adds them.
        let request = HttpRequest::post_json(self.url()?, &Value::Object(body))
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))?;
        Ok(TemplateSend {
            request,
            recipient: number.digits,
        })
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        action: &TemplateSend,
    ) -> Result<Receipt, DeliveryError> {
        let response = self
            .api
            .send(ctx, &action.request, None)
            .await
            .map_err(|e| e.into_delivery(PROVIDER))?;
        if !response.is_success() {
            return Err(rd_error(&response, ctx.clock().now()).into());
        }
        let mut receipt = Receipt::new(response.status);
        if let Ok(answer) = serde_json::from_slice::<Value>(&response.body) {
            if let Some(id) = answer.pointer("/data/id").filter(|v| !v.is_null()) {
                receipt = receipt.with_id(text_of(id));
            }
        }
        Ok(receipt)
    }

    fn fakes(&self) -> Vec<std::sync::Arc<dyn crate::http::ProviderFake>> {
        vec![std::sync::Arc::new(fake::RdConversasFake::new())]
    }
}

/// An RD Conversas error answer, classified by its documented status and code.
pub fn rd_error(response: &HttpResponse, now: chrono::DateTime<chrono::Utc>) -> ProviderError {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let code = ["/code", "/error/code", "/data/code"]
        .iter()
        .find_map(|p| body.pointer(p))
        .filter(|v| v.is_number() || v.is_string())
        .map(text_of);
    let said = ["/message", "/error/message", "/error", "/data/message"]
        .iter()
        .find_map(|p| body.pointer(p).and_then(Value::as_str))
        .map(|s| truncate(s, 200))
        .unwrap_or_else(|| response.body_excerpt(200));
    let meaning = match (response.status, code.as_deref()) {
        (404, Some("301")) => Some("no contact exists for this number in RD Conversas"),
        (400, Some("312")) => Some("the number's contacts are not eligible for official WhatsApp"),
        (400, Some("301")) => Some("the number is invalid"),
        (404, Some("308")) => Some("the template was not found: check template_message_id"),
        (401, _) => Some(
            "the contact is blacklisted in RD Conversas (RD Conversas answers 401 for this), or the API token is wrong",
        ),
        _ => None,
    };
    let class = match response.status {
        429 | 500..=599 => ErrorClass::Retryable {
            after: response.retry_after(now),
        },
        _ => ErrorClass::Permanent,
    };
    let message = match meaning {
        Some(meaning) => format!("{meaning} ({said})"),
        None => said,
    };
    ProviderError {
        provider: PROVIDER.to_owned(),
        status: response.status,
        code,
        message,
        class,
        details: Value::Null,
        source: None,
    }
}

#[cfg(test)]
mod tests;
