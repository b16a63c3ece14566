//! The base URL of a provider API: checked once, and the boundary its credentials never
//! cross.

use std::fmt;

use url::Url;

/// Why a URL cannot be a provider API's base URL.
///
/// ```
/// use hubflow::auth::{BaseUrl, BaseUrlError};
///
/// let error = BaseUrl::parse("ftp://files.example.com/api").unwrap_err();
/// assert_eq!(error, BaseUrlError::Scheme { scheme: "ftp".into() });
/// assert_eq!(BaseUrl::parse("https://api.example.com/v1").unwrap().as_str(), "https://api.example.com/v1/");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BaseUrlError {
    /// The text is not an absolute URL.
    #[error("not an absolute URL ({reason})")]
    NotAUrl {
        /// The parser's reason.
        reason: String,
    },
    /// The scheme is neither `https` nor `http`.
    #[error("unsupported scheme `{scheme}`; use https (http only for a local stand-in)")]
    Scheme {
        /// The scheme given.
        scheme: String,
    },
    /// The URL names no host.
    #[error("the URL names no host")]
    NoHost,
    /// The URL carries a user name or password: credentials are configured apart, never in
    /// a URL that is logged and shown.
    #[error("the URL carries a user or password; give the credentials separately")]
    UserInfo,
    /// The URL has a query or a fragment, which paths joined below it would drop.
    #[error("a base URL takes no query or fragment")]
    QueryOrFragment,
}

/// An absolute `https` (or `http`) URL with a host, no user info, query or fragment, its
/// path ending in `/` so that paths join below it.
///
/// A request carries a client's credentials only when its URL is [below](BaseUrl::contains)
/// the base URL: same scheme, host and port, and a path under the base path.
///
/// ```
/// use hubflow::auth::BaseUrl;
///
/// let base = BaseUrl::parse("https://erp.example.com:8051/api").unwrap();
/// assert!(base.contains(&"https://erp.example.com:8051/api/v1/x".parse().unwrap()));
/// assert!(!base.contains(&"https://erp.example.com:8051/apix".parse().unwrap()));
/// assert!(!base.contains(&"http://erp.example.com:8051/api/v1".parse().unwrap()));
/// assert!(base.join("../admin").is_none());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct BaseUrl(Url);

impl BaseUrl {
    /// Checks `url` and adds the trailing `/` its path may lack.
    pub fn new(url: Url) -> Result<BaseUrl, BaseUrlError> {
        if !matches!(url.scheme(), "https" | "http") {
            return Err(BaseUrlError::Scheme {
                scheme: url.scheme().to_owned(),
            });
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(BaseUrlError::NoHost);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(BaseUrlError::UserInfo);
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(BaseUrlError::QueryOrFragment);
        }
        Ok(BaseUrl(with_trailing_slash(url)))
    }

    /// Parses and checks `text`.
    pub fn parse(text: &str) -> Result<BaseUrl, BaseUrlError> {
        let url = Url::parse(text.trim()).map_err(|e| BaseUrlError::NotAUrl {
            reason: e.to_string(),
        })?;
        BaseUrl::new(url)
    }

    /// The URL, ending in `/`.
    pub fn as_url(&self) -> &Url {
        &self.0
    }

    /// The URL as text, ending in `/`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// Whether `url` is below this base URL: same scheme, host and port, no user info, and a
    /// path under the base path.
    pub fn contains(&self, url: &Url) -> bool {
        url.origin() == self.0.origin()
            && url.username().is_empty()
            && url.password().is_none()
            && url.path().starts_with(self.0.path())
    }

    /// `path` joined below the base URL (a leading `/` counts as relative too), or `None`
    /// when it would leave it (an absolute URL, `..`).
    pub fn join(&self, path: &str) -> Option<Url> {
        self.0
            .join(path.trim_start_matches('/'))
            .ok()
            .filter(|url| self.contains(url))
    }

    /// The base URL followed by `segments`, each percent-encoded as one path segment, with
    /// no trailing `/`.
    pub fn segments(&self, segments: &[&str]) -> Url {
        with_segments(&self.0, segments)
    }
}

/// `url` with a `/` at the end of its path.
pub(crate) fn with_trailing_slash(mut url: Url) -> Url {
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url
}

/// `url` followed by `segments`, each percent-encoded as one path segment.
pub(crate) fn with_segments(url: &Url, segments: &[&str]) -> Url {
    let mut url = url.clone();
    if let Ok(mut path) = url.path_segments_mut() {
        path.pop_if_empty().extend(segments);
    }
    url
}

impl fmt::Debug for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("BaseUrl").field(&self.0.as_str()).finish()
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests;
