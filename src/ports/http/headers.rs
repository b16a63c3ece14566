//! Header values and headers, with the redaction that keeps credentials out of every
//! shown form.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};
use serde::{Serialize, Serializer};

/// The text every redacted value is shown as.
pub const REDACTED: &str = "[redacted]";

/// A header value: plain text, or a secret that is only exposed to the wire.
#[derive(Clone)]
pub enum HeaderValue {
    /// An ordinary value, shown as it is.
    Plain(String),
    /// A credential (a bearer token, an API key); shown as `[redacted]` everywhere.
    Secret(SecretString),
}

impl HeaderValue {
    /// The value as sent on the wire. Only HTTP clients should call this.
    pub fn expose(&self) -> &str {
        match self {
            HeaderValue::Plain(value) => value,
            HeaderValue::Secret(secret) => secret.expose_secret(),
        }
    }

    /// The value as it may be shown: plain values as they are, secrets as `[redacted]`.
    pub fn shown(&self) -> &str {
        match self {
            HeaderValue::Plain(value) => value,
            HeaderValue::Secret(_) => REDACTED,
        }
    }

    /// Whether this value is a credential.
    pub fn is_secret(&self) -> bool {
        matches!(self, HeaderValue::Secret(_))
    }
}

impl fmt::Debug for HeaderValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.shown())
    }
}

impl PartialEq for HeaderValue {
    fn eq(&self, other: &Self) -> bool {
        self.is_secret() == other.is_secret() && self.expose() == other.expose()
    }
}

/// Ordered HTTP headers; names compare case-insensitively.
///
/// ```
/// use hubflow::http::Headers;
/// use secrecy::SecretString;
///
/// let mut headers = Headers::new();
/// headers.insert("Content-Type", "application/json");
/// headers.insert_secret("Authorization", SecretString::from("Bearer abc"));
/// assert_eq!(headers.get("content-type"), Some("application/json"));
/// assert_eq!(headers.get("authorization"), Some("Bearer abc"));
/// assert!(!format!("{headers:?}").contains("abc"));
/// ```
#[derive(Clone, Default, PartialEq)]
pub struct Headers(Vec<(String, HeaderValue)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// Sets a plain header, replacing any header of the same name.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.set(name.into(), HeaderValue::Plain(value.into()));
    }

    /// Sets a secret header, replacing any header of the same name.
    pub fn insert_secret(&mut self, name: impl Into<String>, value: SecretString) {
        self.set(name.into(), HeaderValue::Secret(value));
    }

    /// Appends a header without replacing others of the same name.
    pub fn append(&mut self, name: impl Into<String>, value: HeaderValue) {
        self.0.push((name.into(), value));
    }

    fn set(&mut self, name: String, value: HeaderValue) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.0.push((name, value));
    }

    /// The first value of `name`, exposed. For credentials use [`Headers::get_value`].
    pub fn get(&self, name: &str) -> Option<&str> {
        self.get_value(name).map(HeaderValue::expose)
    }

    /// The first value of `name`.
    pub fn get_value(&self, name: &str) -> Option<&HeaderValue> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Removes every header named `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &HeaderValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(n, v)| (n, v.shown())))
            .finish()
    }
}

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(n, v)| (n, v.shown())))
    }
}
