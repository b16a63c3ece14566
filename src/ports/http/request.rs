//! Methods and requests as data.

use std::fmt;
use std::time::Duration;

use bytes::Bytes;
use secrecy::SecretString;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use url::Url;

use super::headers::{Headers, REDACTED};

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
    /// `PUT`
    Put,
    /// `PATCH`
    Patch,
    /// `DELETE`
    Delete,
}

impl Method {
    /// The method's name as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request as data: what a target wants sent.
///
/// ```
/// use hubflow::http::{HttpRequest, Method};
/// use serde_json::json;
///
/// let request = HttpRequest::post_json("https://example.com/hook".parse().unwrap(), &json!({"a": 1}))
///     .unwrap()
///     .header("X-Source", "hubflow");
/// assert_eq!(request.method, Method::Post);
/// assert_eq!(request.headers.get("content-type"), Some("application/json"));
/// assert_eq!(request.json_body().unwrap(), json!({"a": 1}));
/// ```
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The full URL, query included.
    pub url: Url,
    /// Request headers.
    pub headers: Headers,
    /// The body bytes (cheap to clone, so retries do not copy it).
    pub body: Bytes,
    /// A per-request timeout; `None` leaves it to the client's default.
    pub timeout: Option<Duration>,
    /// Whether the body carries credentials (a login's password, a refresh token): it is then
    /// shown as `[redacted]` by `Debug` and serialization, like a secret header.
    pub secret_body: bool,
}

impl fmt::Debug for HttpRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let body: &dyn fmt::Debug = if self.secret_body {
            &REDACTED
        } else {
            &String::from_utf8_lossy(&self.body)
        };
        f.debug_struct("HttpRequest")
            .field("method", &self.method)
            .field("url", &self.url.as_str())
            .field("headers", &self.headers)
            .field("body", body)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl HttpRequest {
    /// A request without headers or body.
    pub fn new(method: Method, url: Url) -> Self {
        HttpRequest {
            method,
            url,
            headers: Headers::new(),
            body: Bytes::new(),
            timeout: None,
            secret_body: false,
        }
    }

    /// A `POST` with `body` serialized as JSON and `Content-Type: application/json`.
    pub fn post_json<T: Serialize + ?Sized>(url: Url, body: &T) -> Result<Self, serde_json::Error> {
        HttpRequest::new(Method::Post, url).json(body)
    }

    /// Sets the body to `body` as JSON, with its content type.
    pub fn json<T: Serialize + ?Sized>(self, body: &T) -> Result<Self, serde_json::Error> {
        Ok(self.json_bytes(serde_json::to_vec(body)?))
    }

    /// Sets the body to JSON the caller serialized already, with its content type.
    ///
    /// ```
    /// use hubflow::http::{HttpRequest, Method};
    /// let body = serde_json::to_vec(&serde_json::json!({"to": "5511999991234"})).unwrap();
    /// let request = HttpRequest::new(Method::Post, "https://api.example.com/send".parse().unwrap())
    ///     .json_bytes(body);
    /// assert_eq!(request.headers.get("content-type"), Some("application/json"));
    /// assert_eq!(request.json_body().unwrap()["to"], "5511999991234");
    /// ```
    #[must_use]
    pub fn json_bytes(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self.headers.insert("Content-Type", "application/json");
        self
    }

    /// Sets the body to `pairs`, form-encoded (`application/x-www-form-urlencoded`, as
    /// Twilio's API takes it), with its content type. A key may repeat (`MediaUrl`).
    ///
    /// ```
    /// use hubflow::http::{HttpRequest, Method};
    ///
    /// let request = HttpRequest::new(Method::Post, "https://api.example.com/m".parse().unwrap())
    ///     .form(&[("To", "whatsapp:+5511999991234"), ("Body", "Olá & bem-vindo")]);
    /// assert_eq!(&request.body[..], b"To=whatsapp%3A%2B5511999991234&Body=Ol%C3%A1+%26+bem-vindo");
    /// assert_eq!(request.form_body(), vec![
    ///     ("To".to_owned(), "whatsapp:+5511999991234".to_owned()),
    ///     ("Body".to_owned(), "Olá & bem-vindo".to_owned()),
    /// ]);
    /// ```
    #[must_use]
    pub fn form<K: AsRef<str>, V: AsRef<str>>(mut self, pairs: &[(K, V)]) -> Self {
        let mut encoded = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in pairs {
            encoded.append_pair(key.as_ref(), value.as_ref());
        }
        self.body = Bytes::from(encoded.finish());
        self.headers.insert("Content-Type", FORM_CONTENT_TYPE);
        self
    }

    /// The body read as form pairs, in order (empty when it is not a form).
    pub fn form_body(&self) -> Vec<(String, String)> {
        if !self.is_form() {
            return Vec::new();
        }
        url::form_urlencoded::parse(&self.body)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    fn is_form(&self) -> bool {
        self.headers
            .get("content-type")
            .is_some_and(|t| t.starts_with(FORM_CONTENT_TYPE))
    }

    /// Adds a plain header.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// Adds a credential header, redacted wherever the request is shown.
    #[must_use]
    pub fn secret_header(mut self, name: impl Into<String>, value: SecretString) -> Self {
        self.headers.insert_secret(name, value);
        self
    }

    /// Sets the per-request timeout.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Marks the body as carrying credentials, so it is redacted wherever the request is
    /// shown (see [`HttpRequest::secret_body`](HttpRequest#structfield.secret_body)).
    #[must_use]
    pub fn with_secret_body(mut self) -> Self {
        self.secret_body = true;
        self
    }

    /// The body parsed as JSON.
    pub fn json_body(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
}

/// Serializes for display: secret headers redacted; a JSON body inline, any other body as
/// its length, so a dry run can print a request as it is.
impl Serialize for HttpRequest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("HttpRequest", 4)?;
        s.serialize_field("method", &self.method)?;
        s.serialize_field("url", self.url.as_str())?;
        s.serialize_field("headers", &self.headers)?;
        match self.json_body() {
            _ if self.secret_body => s.serialize_field("body", REDACTED)?,
            // A form is shown as its pairs, in order, so a dry run reads like the JSON ones.
            Err(_) if self.is_form() => {
                let pairs: Vec<(String, String)> = self.form_body();
                s.serialize_field("body", &FormPairs(&pairs))?
            }
            Ok(json) => s.serialize_field("body", &json)?,
            Err(_) if self.body.is_empty() => s.serialize_field("body", &())?,
            Err(_) => s.serialize_field("body", &format!("<{} bytes>", self.body.len()))?,
        }
        s.end()
    }
}

/// What is percent-encoded in a path segment: everything but RFC 3986's unreserved
/// characters (letters, digits, `-`, `.`, `_`, `~`).
#[cfg(any(feature = "http", feature = "rm", feature = "twilio"))]
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes a value for one path segment, so it cannot add segments (`/`), a query
/// (`?`) or climb (`..`); `None` for `.` and `..`, which are path operations once joined
/// even percent-encoded (URL parsers read `%2E%2E` as `..`).
#[cfg(any(feature = "http", feature = "rm", feature = "twilio"))]
pub(crate) fn path_segment(value: &str) -> Option<String> {
    if value == "."
        || value == ".."
        || value.eq_ignore_ascii_case("%2e")
        || value.eq_ignore_ascii_case("%2e%2e")
    {
        return None;
    }
    Some(percent_encoding::utf8_percent_encode(value, SEGMENT).to_string())
}

/// The content type of form bodies.
const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// Form pairs serialized as an object (a repeated key becomes a list of its values).
struct FormPairs<'a>(&'a [(String, String)]);

impl Serialize for FormPairs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut grouped: Vec<(&str, Vec<&str>)> = Vec::new();
        for (key, value) in self.0 {
            match grouped.iter_mut().find(|(k, _)| k == key) {
                Some((_, values)) => values.push(value),
                None => grouped.push((key, vec![value])),
            }
        }
        let mut map = serializer.serialize_map(Some(grouped.len()))?;
        for (key, values) in grouped {
            match values.as_slice() {
                [one] => map.serialize_entry(key, one)?,
                many => map.serialize_entry(key, many)?,
            }
        }
        map.end()
    }
}
