//! Secrets named in specs, resolved by the host.

use std::collections::HashMap;
use std::fmt;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Resolves secret names (`WHATSAPP_TOKEN`) to values, when a flow is built.
///
/// Specs never hold credentials, only their names; the host decides where the values live
/// (environment, vault, its own database). [`EnvSecrets`] and [`MapSecrets`] ship.
pub trait SecretResolver: Send + Sync {
    /// The secret called `name`, if there is one.
    fn resolve(&self, name: &str) -> Option<SecretString>;

    /// Tells a person where the secret `name` is looked for, for error hints.
    fn where_to_set(&self, name: &str) -> String {
        format!("provide the secret `{name}`")
    }
}

/// Reads secrets from environment variables of the same name, optionally with a prefix.
///
/// ```
/// use hubflow::spec::{EnvSecrets, SecretResolver};
/// let secrets = EnvSecrets::with_prefix("ACME_");
/// assert!(secrets.resolve("SURELY_NOT_SET_ANYWHERE").is_none());
/// assert_eq!(secrets.where_to_set("TOKEN"), "set the environment variable ACME_TOKEN");
/// ```
#[derive(Debug, Clone, Default)]
pub struct EnvSecrets {
    prefix: String,
}

impl EnvSecrets {
    /// Variables named exactly as the secrets.
    pub fn new() -> Self {
        EnvSecrets::default()
    }

    /// Variables named `prefix` + the secret's name.
    pub fn with_prefix(prefix: impl Into<String>) -> Self {
        EnvSecrets {
            prefix: prefix.into(),
        }
    }
}

impl SecretResolver for EnvSecrets {
    fn resolve(&self, name: &str) -> Option<SecretString> {
        std::env::var(format!("{}{name}", self.prefix))
            .ok()
            .filter(|v| !v.is_empty())
            .map(SecretString::from)
    }

    fn where_to_set(&self, name: &str) -> String {
        format!("set the environment variable {}{name}", self.prefix)
    }
}

/// Secrets from a map the host filled, e.g. from its own database. Its `Debug` shows only
/// the names.
///
/// ```
/// use hubflow::spec::{MapSecrets, SecretResolver};
/// let secrets = MapSecrets::new().with("TOKEN", "s3cr3t");
/// assert!(secrets.resolve("TOKEN").is_some());
/// assert!(!format!("{secrets:?}").contains("s3cr3t"));
/// ```
#[derive(Default)]
pub struct MapSecrets(HashMap<String, SecretString>);

impl MapSecrets {
    /// No secrets.
    pub fn new() -> Self {
        MapSecrets::default()
    }

    /// Adds a secret.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(name.into(), SecretString::from(value.into()));
        self
    }
}

impl fmt::Debug for MapSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<_> = self.0.keys().collect();
        names.sort();
        f.debug_struct("MapSecrets").field("names", &names).finish()
    }
}

impl SecretResolver for MapSecrets {
    fn resolve(&self, name: &str) -> Option<SecretString> {
        self.0.get(name).cloned()
    }
}

/// A reference to a secret in a spec: `{"secret": "WHATSAPP_TOKEN"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// The secret's name, as the host's [`SecretResolver`] knows it.
    pub secret: String,
}

/// A spec value that is either plain text or a secret reference, e.g. a header:
/// `"X-Source": "hubflow"` or `"Authorization": {"secret": "OPS_TOKEN"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum SecretValue {
    /// Plain text.
    Plain(String),
    /// A named secret.
    Secret(SecretRef),
}

/// Compares a received token with the expected one in constant time, so the time taken
/// tells an attacker neither how many leading bytes were right nor how long the expected
/// token is.
///
/// [`subtle`]'s slice comparison returns early when the lengths differ, which would time
/// the expected length; so the received bytes are first copied into a buffer of the
/// expected length (zero-padded or cut), compared there, and a length mismatch is folded
/// into the result with a constant-time integer comparison.
#[cfg(any(feature = "timelines", feature = "fracttal"))]
pub(crate) fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let mut same_length = vec![0_u8; expected.len()];
    let n = given.len().min(expected.len());
    same_length[..n].copy_from_slice(&given[..n]);
    let lengths = given.len().ct_eq(&expected.len());
    bool::from(same_length.as_slice().ct_eq(expected) & lengths)
}
