//! Twilio's error answers, classified by their documented codes.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::PROVIDER;
use crate::http::HttpResponse;
use crate::text::{text_of, truncate};
use crate::{ErrorClass, ProviderError};

/// Twilio error codes a send may get, what they mean for a WhatsApp sender, and whether
/// a later attempt can succeed. Codes not listed follow the HTTP status: 429 and 5xx are
/// retried, anything else is permanent.
pub const CODES: &[(u32, &str, bool)] = &[
    (20003, "authentication failed: check the account SID and the auth token or API key", false),
    (20404, "the resource was not found: check the account SID", false),
    (20429, "too many requests to Twilio's API", true),
    (20500, "an internal error at Twilio", true),
    (21211, "the 'To' number is not a valid phone number", false),
    (21408, "sending to this region is not enabled on the account", false),
    (21610, "the recipient unsubscribed (replied STOP)", false),
    (21614, "the 'To' number is not a mobile number", false),
    (21655, "the ContentSid is not valid: check the Content template's SID (HX…)", false),
    (21656, "the ContentVariables are not valid for the Content template", false),
    (30001, "Twilio's queue for the sender overflowed", true),
    (30007, "the message was filtered by the carrier or WhatsApp", false),
    (63003, "the channel could not find the 'To' address on WhatsApp", false),
    (63007, "no WhatsApp sender matches the 'From' address", false),
    (
        63016,
        "outside the 24-hour window: a free-form message needs the user to have written in the last 24 hours; send a Content template",
        false,
    ),
    (63018, "the WhatsApp sender's rate limit was exceeded", true),
    (63024, "the recipient is not a valid WhatsApp user", false),
    (63032, "WhatsApp does not let this message reach this user", false),
    (63049, "Meta chose not to deliver this marketing message", false),
    (63112, "Meta disabled the WhatsApp Business Account", false),
];

/// The meaning and retryability of a documented code.
pub fn code_meaning(code: u32) -> Option<(&'static str, bool)> {
    CODES
        .iter()
        .find(|(known, _, _)| *known == code)
        .map(|(_, meaning, retryable)| (*meaning, *retryable))
}

/// Twilio's error answer (`{"code", "message", "more_info", "status"}`) as the crate's
/// [`ProviderError`]: provider `twilio`, the code, Twilio's message after the code's
/// meaning, and the class from [`CODES`] (else the status: 429 and 5xx retryable, with
/// `Retry-After`).
///
/// ```
/// use hubflow::http::HttpResponse;
/// use hubflow::twilio::twilio_error;
/// use hubflow::ErrorClass;
/// use serde_json::json;
///
/// let answer = HttpResponse::json(400, &json!({"code": 63016, "status": 400,
///     "message": "Failed to send freeform message because you are outside the allowed window.",
///     "more_info": "https://www.twilio.com/docs/errors/63016"}));
/// let error = twilio_error(&answer, chrono::Utc::now());
/// assert_eq!(error.code.as_deref(), Some("63016"));
/// assert_eq!(error.class, ErrorClass::Permanent);
/// assert!(error.message.contains("24-hour window"));
///
/// let busy = HttpResponse::json(429, &json!({"code": 20429, "status": 429, "message": "Too Many Requests"}));
/// assert!(matches!(twilio_error(&busy, chrono::Utc::now()).class, ErrorClass::Retryable { .. }));
/// ```
pub fn twilio_error(response: &HttpResponse, now: DateTime<Utc>) -> ProviderError {
    let body: Value = serde_json::from_slice(&response.body).unwrap_or(Value::Null);
    let code = body
        .get("code")
        .filter(|v| v.is_number() || v.is_string())
        .map(text_of);
    let said = body
        .get("message")
        .and_then(Value::as_str)
        .map(|s| truncate(s, 300))
        .unwrap_or_else(|| response.body_excerpt(200));
    let known = code
        .as_deref()
        .and_then(|c| c.parse::<u32>().ok())
        .and_then(code_meaning);
    let retry = ErrorClass::Retryable {
        after: response.retry_after(now),
    };
    let class = match known {
        Some((_, true)) => retry,
        Some((_, false)) => ErrorClass::Permanent,
        None if response.status == 429 || (500..=599).contains(&response.status) => retry,
        None => ErrorClass::Permanent,
    };
    let message = match known {
        Some((meaning, _)) => format!("{meaning} ({said})"),
        None => said,
    };
    let details = match body.get("more_info").and_then(Value::as_str) {
        Some(more) => json!({"more_info": more}),
        None => Value::Null,
    };
    ProviderError {
        provider: PROVIDER.to_owned(),
        status: response.status,
        code,
        message,
        class,
        details,
        source: None,
    }
}
