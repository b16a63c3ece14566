//! Scrubbing the secrets a request carried out of what its provider answered.
//!
//! Providers sometimes echo a request in an error answer: the `Authorization` header, a
//! login's password, the form that held a client secret. Every text hubflow takes from an
//! answer into an error, a report, a trace or a dead letter passes through one
//! [`Scrubber`] built from the request that caused it ([`HttpResponse::body_excerpt`],
//! [`ProviderError::from_response`](crate::ProviderError::from_response) and each
//! adapter's error reading).

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use serde_json::Value;

use super::headers::REDACTED;
use super::request::HttpRequest;
use super::response::HttpResponse;

/// Secrets shorter than this many bytes are not scrubbed: replacing every `abc` would
/// destroy the text, and so short a value protects little anyway.
pub const MIN_SECRET_LEN: usize = 4;

/// Headers whose values are credentials even when sent as plain values (a
/// [`HeaderValue::Secret`](super::HeaderValue::Secret) of any name is one too).
const CREDENTIAL_HEADERS: &[&str] = &["authorization", "proxy-authorization"];

/// Ends of body, form and query field names whose values are credentials, compared in
/// lower case without `_` and `-` (so `client_secret`, `clientSecret` and `access-token`
/// match): `password`, `passwd`, `secret` (`client_secret`), `token` (`access_token`,
/// `refresh_token`, `id_token`), `apikey` (`api_key`, `x-api-key`), `privatekey`,
/// `clientassertion`, and `authorization`.
const SECRET_FIELD_ENDS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "clientassertion",
    "authorization",
];

/// Whether a header, body, form or query field of this name holds a credential.
fn is_secret_field(name: &str) -> bool {
    let normalized: String = name
        .chars()
        .filter(|c| !matches!(c, '_' | '-'))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_FIELD_ENDS
        .iter()
        .any(|end| normalized.ends_with(end))
}

/// The secrets of one request, in every encoding a provider may echo them in, ready to be
/// replaced by `[redacted]` in the text of its answer.
///
/// The secrets are the values of secret headers ([`HeaderValue::Secret`] ones,
/// `Authorization` and `Proxy-Authorization`), with the token part of an
/// `Authorization: <scheme> <token>` and, for `Basic`, the decoded `user:password` and its
/// password; and the values of credential fields (`password`, `client_secret`, `token`,
/// `access_token`, `refresh_token`, `api_key`, … at any depth) of a JSON or form body and of
/// the URL's query, with the URL's own password. Values shorter than [`MIN_SECRET_LEN`]
/// bytes are left alone.
///
/// Each is replaced as it is, percent-encoded (a space as `%20` or `+`), form-encoded,
/// escaped as inside a JSON string (with `/` as `/` or `\/`) and in Base64; where two
/// overlap, the longest is replaced.
///
/// [`HeaderValue::Secret`]: super::HeaderValue::Secret
///
/// ```
/// use hubflow::http::{HttpRequest, Method, Scrubber};
/// use secrecy::SecretString;
///
/// let request = HttpRequest::new(Method::Post, "https://api.example.com/send".parse().unwrap())
///     .secret_header("Authorization", SecretString::from("Bearer tok/en+1"));
/// let scrubber = Scrubber::new(&request);
/// assert_eq!(
///     scrubber.scrub(r#"{"error": "bad token tok\/en+1", "echo": "tok%2Fen%2B1"}"#),
///     r#"{"error": "bad token [redacted]", "echo": "[redacted]"}"#
/// );
/// assert_eq!(scrubber.scrub("nothing to hide"), "nothing to hide");
/// ```
#[derive(Clone, Default)]
pub struct Scrubber {
    /// Every encoded form, longest first, each at least [`MIN_SECRET_LEN`] bytes.
    forms: Vec<String>,
}

impl Scrubber {
    /// The scrubber of the secrets `request` carries (see [`Scrubber`]).
    pub fn new(request: &HttpRequest) -> Self {
        let mut secrets = Vec::new();
        for (name, value) in request.headers.iter() {
            let credential = value.is_secret()
                || CREDENTIAL_HEADERS
                    .iter()
                    .any(|header| name.eq_ignore_ascii_case(header))
                || is_secret_field(name);
            if credential {
                header_secrets(value.expose(), &mut secrets);
            }
        }
        for (name, value) in request.url.query_pairs() {
            if is_secret_field(&name) {
                secrets.push(value.into_owned());
            }
        }
        if let Some(password) = request.url.password() {
            secrets.push(password.to_owned());
        }
        body_secrets(request, &mut secrets);
        Scrubber::of(secrets)
    }

    /// A scrubber of these secrets, in every encoding (values shorter than
    /// [`MIN_SECRET_LEN`] bytes are left out).
    pub fn of<S: AsRef<str>>(secrets: impl IntoIterator<Item = S>) -> Self {
        let mut forms = Vec::new();
        for secret in secrets {
            let secret = secret.as_ref();
            if secret.len() < MIN_SECRET_LEN {
                continue;
            }
            let json = serde_json::to_string(secret).unwrap_or_default();
            let json = json
                .strip_prefix('"')
                .and_then(|j| j.strip_suffix('"'))
                .unwrap_or(secret)
                .to_owned();
            let percent = percent_encode(secret);
            forms.extend([
                secret.to_owned(),
                json.replace('/', "\\/"),
                json,
                percent.replace("%20", "+"),
                percent,
                url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
                // Unpadded, so that it is found padded or not.
                base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret),
            ]);
        }
        forms.retain(|form| form.len() >= MIN_SECRET_LEN);
        forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
        forms.dedup();
        Scrubber { forms }
    }

    /// Whether there is nothing to scrub.
    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// `text` with every secret replaced by `[redacted]`, in one pass from the left (at
    /// each place the longest form that starts there). Borrowed when nothing was found.
    pub fn scrub<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.forms.is_empty() || text.is_empty() {
            return Cow::Borrowed(text);
        }
        // Where each form is next found at or after `at`.
        let mut next: Vec<Option<usize>> = self.forms.iter().map(|f| text.find(f)).collect();
        if next.iter().all(Option::is_none) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        loop {
            let mut best: Option<(usize, usize)> = None;
            for (index, found) in next.iter_mut().enumerate() {
                if found.is_some_and(|start| start < at) {
                    // `at` ends a match of a whole string, so it is a character boundary.
                    *found = text[at..].find(&self.forms[index]).map(|i| at + i);
                }
                if let Some(start) = *found {
                    // Forms are sorted longest first: at a tie the earlier one is longer.
                    if best.is_none_or(|(earliest, _)| start < earliest) {
                        best = Some((start, index));
                    }
                }
            }
            let Some((start, index)) = best else { break };
            out.push_str(&text[at..start]);
            out.push_str(REDACTED);
            at = start + self.forms[index].len();
        }
        out.push_str(&text[at..]);
        Cow::Owned(out)
    }

    /// Scrubs every string inside `value`; whether any changed.
    pub fn scrub_json(&self, value: &mut Value) -> bool {
        if self.forms.is_empty() {
            return false;
        }
        match value {
            Value::String(text) => match self.scrub(text) {
                Cow::Owned(clean) => {
                    *text = clean;
                    true
                }
                Cow::Borrowed(_) => false,
            },
            Value::Array(items) => items
                .iter_mut()
                .fold(false, |changed, item| self.scrub_json(item) | changed),
            Value::Object(map) => map
                .values_mut()
                .fold(false, |changed, item| self.scrub_json(item) | changed),
            _ => false,
        }
    }

    /// `response` with its body scrubbed, for reading an error out of it: the body's text,
    /// and for JSON that escapes characters as `\u…` also the strings it decodes to.
    /// Borrowed when nothing was found.
    pub fn response<'r>(&self, response: &'r HttpResponse) -> Cow<'r, HttpResponse> {
        if self.forms.is_empty() || response.body.is_empty() {
            return Cow::Borrowed(response);
        }
        let text = String::from_utf8_lossy(&response.body);
        let mut body = match self.scrub(&text) {
            Cow::Owned(clean) => Some(clean),
            Cow::Borrowed(_) => None,
        };
        let scrubbed = body.as_deref().unwrap_or(&text);
        if scrubbed.contains("\\u") {
            if let Ok(mut json) = serde_json::from_str::<Value>(scrubbed) {
                if self.scrub_json(&mut json) {
                    body = Some(json.to_string());
                }
            }
        }
        match body {
            Some(body) => {
                let mut clean = response.clone();
                clean.body = body.into();
                Cow::Owned(clean)
            }
            None => Cow::Borrowed(response),
        }
    }

    /// The start of `response`'s body as text, scrubbed, at most `max` characters (see
    /// [`HttpResponse::body_excerpt`]).
    pub fn excerpt(&self, response: &HttpResponse, max: usize) -> String {
        crate::text::truncate(&self.scrub(&String::from_utf8_lossy(&response.body)), max)
    }
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scrubber")
            .field("forms", &self.forms.len())
            .finish()
    }
}

/// A credential header's value, its token part after a scheme (`Bearer x`, `Basic x`) and,
/// for `Basic`, the decoded `user:password` and its password.
fn header_secrets(value: &str, secrets: &mut Vec<String>) {
    let value = value.trim();
    secrets.push(value.to_owned());
    let Some((scheme, token)) = value.split_once(' ') else {
        return;
    };
    let token = token.trim();
    secrets.push(token.to_owned());
    if !scheme.eq_ignore_ascii_case("basic") {
        return;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(token));
    if let Ok(Ok(pair)) = decoded.map(String::from_utf8) {
        if let Some((_, password)) = pair.split_once(':') {
            secrets.push(password.to_owned());
        }
        secrets.push(pair);
    }
}

/// The values of credential fields of a JSON or form body.
fn body_secrets(request: &HttpRequest, secrets: &mut Vec<String>) {
    if request.body.is_empty() {
        return;
    }
    let form = request.form_body();
    if !form.is_empty() {
        secrets.extend(
            form.into_iter()
                .filter(|(name, _)| is_secret_field(name))
                .map(|(_, value)| value),
        );
        return;
    }
    if let Ok(json) = request.json_body() {
        json_secrets(&json, false, secrets);
    }
}

/// The strings and numbers under credential fields of `value`, at any depth.
fn json_secrets(value: &Value, secret: bool, secrets: &mut Vec<String>) {
    match value {
        Value::String(text) if secret => secrets.push(text.clone()),
        Value::Number(number) if secret => secrets.push(number.to_string()),
        Value::Array(items) => items
            .iter()
            .for_each(|item| json_secrets(item, secret, secrets)),
        Value::Object(map) => map
            .iter()
            .for_each(|(key, item)| json_secrets(item, secret || is_secret_field(key), secrets)),
        _ => {}
    }
}

/// Percent-encoding of everything but RFC 3986's unreserved characters, in upper-case hex
/// (a space is `%20`).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;
