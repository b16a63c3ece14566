//! Secrets named in specs, resolved by the host.

use std::collections::HashMap;
use std::fmt;

use secrecy::SecretString;
use serde::de::{self, EnumAccess, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// Resolves secret names (`WHATSAPP_TOKEN`) to values, when a flow is built.
///
/// Specs never hold credentials, only their names; the host decides where the values live
/// (environment, vault, its own database). [`EnvSecrets`] and [`MapSecrets`] ship.
///
/// A resolver over the host's per-tenant settings, with a hint that tells an operator
/// where to set a missing secret:
///
/// ```
/// use std::collections::HashMap;
/// use hubflow::spec::SecretResolver;
/// use secrecy::{ExposeSecret, SecretString};
///
/// struct TenantSecrets {
///     tenant: String,
///     values: HashMap<String, String>,
/// }
///
/// impl SecretResolver for TenantSecrets {
///     fn resolve(&self, name: &str) -> Option<SecretString> {
///         self.values.get(name).map(|v| SecretString::from(v.clone()))
///     }
///     fn where_to_set(&self, name: &str) -> String {
///         format!("set `{name}` in Settings → Integrations of tenant {}", self.tenant)
///     }
/// }
///
/// let secrets = TenantSecrets {
///     tenant: "clinica-centro".into(),
///     values: HashMap::from([("RM_PASSWORD".to_owned(), "pa55".to_owned())]),
/// };
/// assert_eq!(secrets.resolve("RM_PASSWORD").unwrap().expose_secret(), "pa55");
/// assert!(secrets.resolve("WHATSAPP_TOKEN").is_none());
/// assert!(secrets.where_to_set("WHATSAPP_TOKEN").contains("clinica-centro"));
/// ```
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
///
/// Every secret field of every connection and adapter config is a `SecretRef`, and it
/// accepts nothing else. A value written in its place (a token pasted as text, a number) is
/// refused with a message that never quotes it, so it stays out of the spec error's
/// `Display`, `Debug` and serialized forms, and out of the logs they end up in:
///
/// ```
/// use hubflow::spec::SecretRef;
///
/// let reference: SecretRef = serde_json::from_str(r#"{"secret": "WHATSAPP_TOKEN"}"#).unwrap();
/// assert_eq!(reference.secret, "WHATSAPP_TOKEN");
///
/// let pasted = serde_json::from_str::<SecretRef>(r#""EAAG-pasted-token""#).unwrap_err();
/// assert!(pasted.to_string().starts_with("a secret is never written in a spec"));
/// assert!(!pasted.to_string().contains("EAAG"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretRef {
    /// The secret's name, as the host's [`SecretResolver`] knows it.
    pub secret: String,
}

/// What a spec is told when a value stands where a secret's name belongs.
const WRITTEN_SECRET: &str =
    "a secret is never written in a spec: use {\"secret\": \"NAME\"} and give the value to the host's secret store";

impl<'de> Deserialize<'de> for SecretRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // `deserialize_any`, so that every other kind of value reaches the visitor, which
        // refuses it without quoting; asking for a map would let the format's own
        // "invalid type: string \"…\"" message through.
        deserializer.deserialize_any(SecretRefVisitor)
    }
}

/// Reads `{"secret": "NAME"}` and refuses anything else without quoting it.
struct SecretRefVisitor;

/// Refuses a value of any kind but a map, without saying what it was.
macro_rules! refuse_values {
    ($message:expr; $($method:ident($($arg:ty)?)),* $(,)?) => {
        $(
            fn $method<E: de::Error>(self $(, _: $arg)?) -> Result<Self::Value, E> {
                Err(E::custom($message))
            }
        )*
    };
}

impl<'de> Visitor<'de> for SecretRefVisitor {
    type Value = SecretRef;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a secret reference {\"secret\": \"NAME\"}")
    }

    refuse_values!(WRITTEN_SECRET;
        visit_bool(bool), visit_i64(i64), visit_i128(i128), visit_u64(u64), visit_u128(u128),
        visit_f64(f64), visit_char(char), visit_str(&str), visit_bytes(&[u8]), visit_none(),
        visit_unit(),
    );

    fn visit_some<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
        Err(de::Error::custom(WRITTEN_SECRET))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
        Err(de::Error::custom(WRITTEN_SECRET))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(WRITTEN_SECRET))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
        Err(de::Error::custom(WRITTEN_SECRET))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut name = None;
        while let Some(key) = map.next_key::<String>()? {
            if key != "secret" {
                // The key is a field name, quoted as serde always does; its value is not.
                return Err(de::Error::unknown_field(&key, &["secret"]));
            }
            if name.is_some() {
                return Err(de::Error::duplicate_field("secret"));
            }
            name = Some(map.next_value::<SecretName>()?.0);
        }
        name.map(|secret| SecretRef { secret })
            .ok_or_else(|| de::Error::missing_field("secret"))
    }
}

/// The name in a secret reference: non-empty text. Anything else is refused without being
/// quoted, since whatever was written there may be the secret itself.
struct SecretName(String);

impl<'de> Deserialize<'de> for SecretName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;

        const NOT_A_NAME: &str =
            "the secret's name must be text, e.g. {\"secret\": \"WHATSAPP_TOKEN\"}";

        impl<'de> Visitor<'de> for NameVisitor {
            type Value = SecretName;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("the name of a secret")
            }

            refuse_values!(NOT_A_NAME;
                visit_bool(bool), visit_i64(i64), visit_i128(i128), visit_u64(u64),
                visit_u128(u128), visit_f64(f64), visit_bytes(&[u8]), visit_none(),
                visit_unit(),
            );

            fn visit_str<E: de::Error>(self, name: &str) -> Result<Self::Value, E> {
                if name.trim().is_empty() {
                    return Err(E::custom("the secret's name is empty"));
                }
                Ok(SecretName(name.to_owned()))
            }

            fn visit_some<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
                Err(de::Error::custom(NOT_A_NAME))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
                Err(de::Error::custom(NOT_A_NAME))
            }

            fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
                Err(de::Error::custom(NOT_A_NAME))
            }

            fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
                Err(de::Error::custom(NOT_A_NAME))
            }
        }

        deserializer.deserialize_any(NameVisitor)
    }
}

/// A spec value that is either plain text or a secret reference, e.g. a header:
/// `"X-Source": "hubflow"` or `"Authorization": {"secret": "OPS_TOKEN"}`.
///
/// Plain text is allowed on purpose (most headers are not credentials). A value that is
/// neither is refused without being quoted, as a [`SecretRef`] refuses it.
///
/// ```
/// use hubflow::spec::SecretValue;
///
/// let plain: SecretValue = serde_json::from_str(r#""hubflow""#).unwrap();
/// assert_eq!(plain, SecretValue::Plain("hubflow".into()));
/// let wrong = serde_json::from_str::<SecretValue>(r#"["Bearer abc123"]"#).unwrap_err();
/// assert!(!wrong.to_string().contains("abc123"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SecretValue {
    /// Plain text.
    Plain(String),
    /// A named secret.
    Secret(SecretRef),
}

impl<'de> Deserialize<'de> for SecretValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ValueVisitor;

        const NEITHER: &str = "must be text or a secret reference {\"secret\": \"NAME\"}";

        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = SecretValue;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text or a secret reference {\"secret\": \"NAME\"}")
            }

            refuse_values!(NEITHER;
                visit_bool(bool), visit_i64(i64), visit_i128(i128), visit_u64(u64),
                visit_u128(u128), visit_f64(f64), visit_bytes(&[u8]), visit_none(),
                visit_unit(),
            );

            fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
                Ok(SecretValue::Plain(text.to_owned()))
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                SecretRefVisitor.visit_map(map).map(SecretValue::Secret)
            }

            fn visit_some<D: Deserializer<'de>>(self, _: D) -> Result<Self::Value, D::Error> {
                Err(de::Error::custom(NEITHER))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
                Err(de::Error::custom(NEITHER))
            }

            fn visit_enum<A: EnumAccess<'de>>(self, _: A) -> Result<Self::Value, A::Error> {
                Err(de::Error::custom(NEITHER))
            }
        }

        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Compares a received token with the expected one in constant time, so the time taken
/// tells an attacker neither how many leading bytes were right nor how long the expected
/// token is.
///
/// [`subtle`]'s slice comparison returns early when the lengths differ, which would time
/// the expected length; so the received bytes are first copied into a buffer of the
/// expected length (zero-padded or cut), compared there, and a length mismatch is folded
/// into the result with a constant-time integer comparison.
#[cfg(any(feature = "timelines", feature = "fracttal", feature = "rm"))]
pub(crate) fn constant_time_eq(given: &[u8], expected: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let mut same_length = vec![0_u8; expected.len()];
    let n = given.len().min(expected.len());
    same_length[..n].copy_from_slice(&given[..n]);
    let lengths = given.len().ct_eq(&expected.len());
    bool::from(same_length.as_slice().ct_eq(expected) & lengths)
}

#[cfg(test)]
mod tests;
