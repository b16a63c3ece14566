//! Responses as data, whole or streamed.

use std::time::Duration;

use bytes::Bytes;

use super::headers::Headers;

/// A response as data.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers.
    pub headers: Headers,
    /// The body bytes.
    pub body: Bytes,
}

impl HttpResponse {
    /// A response with a status and a body.
    pub fn new(status: u16, body: impl Into<Bytes>) -> Self {
        HttpResponse {
            status,
            headers: Headers::new(),
            body: body.into(),
        }
    }

    /// A `200` with `body` as JSON.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        let mut response = HttpResponse::new(status, body.to_string());
        response.headers.insert("Content-Type", "application/json");
        response
    }

    /// Adds a header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The body parsed as JSON.
    pub fn json_body(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }

    /// The `Retry-After` header as a delay, in either of its forms: delta seconds, or an
    /// HTTP date (taken relative to `now`). A date in the past gives zero.
    ///
    /// ```
    /// use hubflow::http::HttpResponse;
    /// use std::time::Duration;
    /// let now = "2026-01-01T00:00:00Z".parse().unwrap();
    /// let r = HttpResponse::new(429, "").header("Retry-After", "30");
    /// assert_eq!(r.retry_after(now), Some(Duration::from_secs(30)));
    /// let r = HttpResponse::new(503, "").header("Retry-After", "Thu, 01 Jan 2026 00:01:00 GMT");
    /// assert_eq!(r.retry_after(now), Some(Duration::from_secs(60)));
    /// ```
    pub fn retry_after(&self, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
        let value = self.headers.get("retry-after")?.trim();
        if let Ok(seconds) = value.parse::<u64>() {
            return Some(Duration::from_secs(seconds));
        }
        let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
        Some(
            (at.with_timezone(&chrono::Utc) - now)
                .to_std()
                .unwrap_or_default(),
        )
    }

    /// The start of the body as text, for error messages: at most `max` characters.
    pub fn body_excerpt(&self, max: usize) -> String {
        crate::text::truncate(&String::from_utf8_lossy(&self.body), max)
    }
}

/// The reason a token endpoint gave for refusing, from the named OAuth fields only
/// (`error`, `error_description`, `message`, `code`): a token answer's body may echo the
/// credentials that were sent, so it is never quoted as it is.
#[cfg_attr(not(any(feature = "fracttal", feature = "rm", test)), allow(dead_code))]
pub(crate) fn token_refusal_reason(response: &HttpResponse) -> String {
    if let Ok(serde_json::Value::Object(map)) = response.json_body() {
        let fields: Vec<String> = ["error", "error_description", "message", "code"]
            .iter()
            .filter_map(|key| match map.get(*key) {
                Some(serde_json::Value::String(s)) if !s.trim().is_empty() => {
                    Some(s.trim().chars().take(200).collect())
                }
                Some(serde_json::Value::Number(n)) => Some(n.to_string()),
                _ => None,
            })
            .collect();
        if !fields.is_empty() {
            return fields.join(": ");
        }
    }
    "no reason given".to_owned()
}

/// What [`HttpClient::send_to`](super::HttpClient::send_to) returns: the head of the
/// response, and either the count of body bytes written to the sink (a 2xx answer) or the
/// body itself (any other answer, which is an error message, not the content asked for).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct StreamedResponse {
    /// The status code.
    pub status: u16,
    /// Response headers.
    pub headers: Headers,
    /// Body bytes written to the sink; 0 unless the status is 2xx.
    pub written: u64,
    /// The body of a non-2xx answer (never written to the sink); empty for a 2xx answer.
    pub body: Bytes,
}

impl StreamedResponse {
    /// Whether the status is 2xx (so the body went to the sink).
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The answer as an [`HttpResponse`] (its body is empty for a 2xx answer), for error
    /// handling written against `HttpResponse`.
    pub fn to_response(&self) -> HttpResponse {
        HttpResponse {
            status: self.status,
            headers: self.headers.clone(),
            body: self.body.clone(),
        }
    }
}
