//! Meta's error JSON and its retry classes.
//!
//! The Cloud API answers a failed send with a Graph error object:
//!
//! ```json
//! {"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException",
//!            "code": 131047, "error_subcode": 2494010,
//!            "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send …"},
//!            "fbtrace_id": "AbCdEf", "is_transient": false}}
//! ```
//!
//! Meta asks integrators to decide on `code` (and `error_data.details`), not on the HTTP
//! status or the title, so [`GraphError::class`] classifies by code first and only falls
//! back to `is_transient` and the HTTP status for codes it does not know.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::http::{HttpResponse, REDACTED};
use crate::{ErrorClass, ProviderError};

/// The provider name WhatsApp errors carry.
pub(crate) const PROVIDER: &str = "whatsapp";

/// Graph's codes for a token it does not take: 190 (expired or invalid) and 0
/// (`AuthException`).
const TOKEN_CODES: [i64; 2] = [190, 0];

/// Whether Graph rejected the access token: error 190 (or 0) in a 400 or 401 answer, or a
/// 401 without a Graph error. The shared send path then refreshes the credentials and
/// sends once more.
pub(crate) fn rejects_token(response: &HttpResponse) -> bool {
    match response.status {
        400 | 401 => match GraphError::from_body(&response.body) {
            Some(graph) => TOKEN_CODES.contains(&graph.code),
            None => response.status == 401,
        },
        _ => false,
    }
}

/// The least wait after a pair-rate-limit error (131056): Meta lets a business send about
/// one message every 6 seconds to the same user.
const PAIR_RATE_WAIT: Duration = Duration::from_secs(6);

/// Codes that may succeed when sent again after a backoff (throughput, app and WABA rate
/// limits, Meta-side failures).
const RETRYABLE_CODES: &[i64] = &[130429, 4, 80007, 1, 2, 131000, 131016];

/// Codes that will fail the same way when sent again: the payload, the recipient, the
/// template or the account needs fixing first.
const PERMANENT_CODES: &[i64] = &[
    // Outside the 24-hour window: send a template instead.
    131047, // Spam rate limit, per-user marketing limit, messaging limit reduced.
    131048, 131049, 131064,
    // Undeliverable, not an allowed test recipient, marketing opt-out, experiment.
    131026, 131030, 131050, 130472,
    // Unsupported type, media download and upload errors.
    131051, 131052, 131053, // Invalid or missing parameters.
    100, 33, 131008, 131009,
    // Template parameter count, template missing in that language.
    132000, 132001, // Text too long, policy, parameter value, parameter format.
    132005, 132007, 132008, 132012, // Template paused or disabled.
    132015, 132016, // Payment issue, account locked, policy block, country restricted.
    131042, 131031, 368, 130497,
    // Capability and permission (200–299 are matched as a range in `class`).
    3, 10, // BSUID not allowed (authentication templates), identity key mismatch.
    131062, 137000,
];

/// A Graph API error object, as the Cloud API returns it in `{"error": {…}}`.
///
/// Every field but `code` is optional on the wire: missing text fields read as empty
/// (`message`, `error_type`) or `None`. `details` is Meta's `error_data.details`, the
/// sentence that usually says what to fix. (De)serializes in Meta's shape, so a stored
/// error reads back as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphError {
    /// Meta's message; it embeds the code, e.g. `(#130429) Rate limit hit`.
    pub message: String,
    /// The Graph error type (`type` on the wire), e.g. `OAuthException`.
    pub error_type: String,
    /// The error code that decides the class (see [`GraphError::class`]).
    pub code: i64,
    /// The sub-code, e.g. `463` (token expired) under code 190.
    pub error_subcode: Option<i64>,
    /// `error_data.details`: Meta's explanation of what to fix.
    pub details: Option<String>,
    /// Meta's trace id, for a support ticket.
    pub fbtrace_id: Option<String>,
    /// Meta's hint that the same request may succeed later.
    pub is_transient: Option<bool>,
    /// A title meant for an end user.
    pub error_user_title: Option<String>,
    /// A message meant for an end user.
    pub error_user_msg: Option<String>,
}

impl GraphError {
    /// Reads `{"error": {…}}` from a response body. `None` when the body is not JSON, has
    /// no `error` object, or the object has no integer `code` (without a code there is
    /// nothing to classify by; use [`provider_error`], which then falls back to the HTTP
    /// status). Never panics, whatever the bytes.
    ///
    /// ```
    /// use hubflow::whatsapp::GraphError;
    /// let body = br#"{"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#;
    /// let error = GraphError::from_body(body).unwrap();
    /// assert_eq!((error.code, error.fbtrace_id.as_deref()), (130429, Some("Az8or2yhqkZfEZ-_4Qn_Bam")));
    /// assert!(GraphError::from_body(b"<html>Bad gateway</html>").is_none());
    /// ```
    pub fn from_body(body: &[u8]) -> Option<GraphError> {
        let value: Value = serde_json::from_slice(body).ok()?;
        GraphError::from_object(value.get("error")?.as_object()?)
    }

    /// Reads the inner error object, tolerating missing or oddly typed fields.
    fn from_object(object: &Map<String, Value>) -> Option<GraphError> {
        let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
        Some(GraphError {
            message: text("message").unwrap_or_default(),
            error_type: text("type").unwrap_or_default(),
            code: integer(object.get("code")?)?,
            error_subcode: object.get("error_subcode").and_then(integer),
            // Graph APIs other than WhatsApp sometimes send `error_data` as a string; only
            // the object form carries `details`.
            details: object
                .get("error_data")
                .and_then(|data| data.get("details"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            fbtrace_id: text("fbtrace_id"),
            is_transient: object.get("is_transient").and_then(Value::as_bool),
            error_user_title: text("error_user_title"),
            error_user_msg: text("error_user_msg"),
        })
    }

    /// How a send that failed with this error may be retried, following Meta's error-code
    /// table:
    ///
    /// * retryable (with the response's `Retry-After`, if any): 130429 (number
    ///   throughput), 4 (app rate limit), 80007 (WABA rate limit), 1, 2, 131000, 131016;
    /// * 131056 (pair rate limit: too many messages to one user): retryable after at least
    ///   6 seconds, or the longer `Retry-After`;
    /// * 190 and 0 (token expired or invalid): permanent. The connection's send path has
    ///   already told its credentials and sent once more with what they gave back, so an
    ///   error that reaches a delivery outlived that refresh (or the token is static);
    /// * the documented permanent codes (131047 outside the 24-hour window, 131026
    ///   undeliverable, 100 invalid parameter, 132001 template missing in that language,
    ///   3, 10 and 200–299 permissions, …): permanent;
    /// * any other code: retryable when Meta marks it `is_transient` or the HTTP status is
    ///   5xx, else permanent.
    ///
    /// The code decides even when `is_transient` or the status says otherwise, as Meta
    /// recommends.
    ///
    /// ```
    /// use std::time::Duration;
    /// use hubflow::ErrorClass;
    /// use hubflow::whatsapp::GraphError;
    ///
    /// let body = br#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit","type":"OAuthException","code":131056}}"#;
    /// let error = GraphError::from_body(body).unwrap();
    /// assert_eq!(error.class(400, None), ErrorClass::Retryable { after: Some(Duration::from_secs(6)) });
    ///
    /// let body = br#"{"error":{"message":"Error validating access token","type":"OAuthException","code":190,"error_subcode":463}}"#;
    /// assert_eq!(GraphError::from_body(body).unwrap().class(401, None), ErrorClass::Permanent);
    ///
    /// let body = br#"{"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047}}"#;
    /// assert_eq!(GraphError::from_body(body).unwrap().class(400, None), ErrorClass::Permanent);
    /// ```
    pub fn class(&self, http_status: u16, retry_after: Option<Duration>) -> ErrorClass {
        let code = self.code;
        if RETRYABLE_CODES.contains(&code) {
            ErrorClass::Retryable { after: retry_after }
        } else if code == 131056 {
            let after = retry_after.map_or(PAIR_RATE_WAIT, |after| after.max(PAIR_RATE_WAIT));
            ErrorClass::Retryable { after: Some(after) }
        } else if TOKEN_CODES.contains(&code)
            || PERMANENT_CODES.contains(&code)
            || (200..=299).contains(&code)
        {
            ErrorClass::Permanent
        } else if self.is_transient == Some(true) || (500..=599).contains(&http_status) {
            ErrorClass::Retryable { after: retry_after }
        } else {
            ErrorClass::Permanent
        }
    }

    /// Whether the send failed because the customer-service window is closed (131047):
    /// a free-form message more than 24 hours after the user's last message. A template
    /// can still be sent.
    pub fn is_outside_window(&self) -> bool {
        self.code == 131047
    }

    /// The crate's [`ProviderError`] for this error: provider `whatsapp`, the code as a
    /// string, Meta's message followed by `error_data.details`, the class from
    /// [`GraphError::class`], and in `details` the sub-code, trace id, type,
    /// `is_transient` and the user-facing title and message (absent ones left out).
    /// Anything that looks like a Meta access token (`EAA…`) in Meta's texts is replaced
    /// by `[redacted]`, so the error can be logged and stored as it is.
    pub fn into_provider_error(
        self,
        http_status: u16,
        retry_after: Option<Duration>,
    ) -> ProviderError {
        let class = self.class(http_status, retry_after);
        let mut message = redact_tokens(&self.message);
        if let Some(details) = self.details.as_deref().map(redact_tokens) {
            if message.is_empty() {
                message = details;
            } else if !details.is_empty() && !message.contains(&details) {
                message = format!("{message}: {details}");
            }
        }
        if message.is_empty() {
            message = format!("Graph API error {}", self.code);
        }

        let mut details = Map::new();
        let mut put = |key: &str, value: Option<Value>| {
            if let Some(value) = value {
                details.insert(key.to_owned(), value);
            }
        };
        put("subcode", self.error_subcode.map(Value::from));
        put("fbtrace_id", self.fbtrace_id.map(Value::from));
        put("details", self.details.map(|d| redact_tokens(&d).into()));
        put(
            "type",
            Some(self.error_type)
                .filter(|t| !t.is_empty())
                .map(Value::from),
        );
        put("is_transient", self.is_transient.map(Value::from));
        put(
            "error_user_title",
            self.error_user_title.map(|t| redact_tokens(&t).into()),
        );
        put(
            "error_user_msg",
            self.error_user_msg.map(|m| redact_tokens(&m).into()),
        );

        ProviderError {
            provider: PROVIDER.to_owned(),
            status: http_status,
            code: Some(self.code.to_string()),
            message,
            class,
            details: if details.is_empty() {
                Value::Null
            } else {
                Value::Object(details)
            },
            source: None,
        }
    }
}

/// The [`ProviderError`] for a non-2xx answer of the Cloud API.
///
/// A Graph error body is classified by its code ([`GraphError::class`]) with the
/// response's `Retry-After`; Meta's `x-fb-trace-id` and `x-fb-request-id` headers, when
/// present, are added to the details for a support ticket. Any other body (a proxy's HTML
/// page, an empty body) falls back to the HTTP status
/// ([`ProviderError::from_response`]).
///
/// ```
/// use hubflow::ErrorClass;
/// use hubflow::http::HttpResponse;
/// use hubflow::whatsapp::provider_error;
///
/// let now = "2026-01-01T00:00:00Z".parse().unwrap();
/// let response = HttpResponse::new(400, r#"{"error":{"message":"(#131026) Message undeliverable","type":"OAuthException","code":131026}}"#);
/// let error = provider_error(&response, now);
/// assert_eq!((error.code.as_deref(), error.class), (Some("131026"), ErrorClass::Permanent));
///
/// let response = HttpResponse::new(502, "<html>Bad gateway</html>");
/// assert!(provider_error(&response, now).class.is_retryable());
/// ```
pub fn provider_error(response: &HttpResponse, now: DateTime<Utc>) -> ProviderError {
    let Some(graph) = GraphError::from_body(&response.body) else {
        let mut error = ProviderError::from_response(PROVIDER, response, now);
        error.message = redact_tokens(&error.message);
        return error;
    };
    let source = graph.redacted();
    let mut error = graph
        .into_provider_error(response.status, response.retry_after(now))
        .with_source(source);
    for (header, key) in [
        ("x-fb-trace-id", "x_fb_trace_id"),
        ("x-fb-request-id", "x_fb_request_id"),
    ] {
        if let Some(value) = response.headers.get(header) {
            if let Value::Null = error.details {
                error.details = Value::Object(Map::new());
            }
            if let Value::Object(details) = &mut error.details {
                details.insert(key.to_owned(), Value::from(value));
            }
        }
    }
    error
}

/// An integer that may arrive as a JSON number or, from lenient proxies, as a string.
fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Replaces anything shaped like a Meta access token (a run of letters and digits that
/// starts with `EAA` and is at least 32 characters long) by `[redacted]`. Meta's messages
/// are not expected to echo the token, but an error is logged, stored and shown in
/// reports, so a token must not be able to reach it even by accident.
fn redact_tokens(text: &str) -> String {
    fn flush(out: &mut String, run: &mut String) {
        if run.starts_with("EAA") && run.len() >= 32 {
            out.push_str(REDACTED);
        } else {
            out.push_str(run);
        }
        run.clear();
    }
    let mut out = String::with_capacity(text.len());
    let mut run = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            run.push(c);
        } else {
            flush(&mut out, &mut run);
            out.push(c);
        }
    }
    flush(&mut out, &mut run);
    out
}

/// Meta's wire shape of the error object, for serialization.
#[derive(Serialize)]
struct WireError<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    error_type: &'a str,
    code: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_subcode: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_data: Option<WireErrorData<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    fbtrace_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_transient: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_user_title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_user_msg: Option<&'a str>,
}

#[derive(Serialize)]
struct WireErrorData<'a> {
    messaging_product: &'static str,
    details: &'a str,
}

impl Serialize for GraphError {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        WireError {
            message: &self.message,
            error_type: &self.error_type,
            code: self.code,
            error_subcode: self.error_subcode,
            error_data: self.details.as_deref().map(|details| WireErrorData {
                messaging_product: "whatsapp",
                details,
            }),
            fbtrace_id: self.fbtrace_id.as_deref(),
            is_transient: self.is_transient,
            error_user_title: self.error_user_title.as_deref(),
            error_user_msg: self.error_user_msg.as_deref(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for GraphError {
    /// Reads the error object, or the whole `{"error": {…}}` envelope.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        let object = value
            .get("error")
            .and_then(Value::as_object)
            .or_else(|| value.as_object())
            .ok_or_else(|| serde::de::Error::custom("a Graph error must be a JSON object"))?;
        GraphError::from_object(object)
            .ok_or_else(|| serde::de::Error::custom("a Graph error needs an integer `code`"))
    }
}

impl std::fmt::Display for GraphError {
    /// `Graph error <code>: <message>`, with anything that looks like an access token
    /// redacted, as in [`into_provider_error`](GraphError::into_provider_error).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Graph error {}: {}",
            self.code,
            redact_tokens(&self.message)
        )
    }
}

impl std::error::Error for GraphError {}

impl GraphError {
    /// The same error with every text Meta wrote passed through the token redaction, so it
    /// can travel as a source of errors that are logged and shown.
    fn redacted(&self) -> GraphError {
        let redact = |text: &Option<String>| text.as_deref().map(redact_tokens);
        GraphError {
            message: redact_tokens(&self.message),
            details: redact(&self.details),
            error_user_title: redact(&self.error_user_title),
            error_user_msg: redact(&self.error_user_msg),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests;
