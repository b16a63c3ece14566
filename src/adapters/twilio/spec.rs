//! The `twilio.whatsapp` kind: its spec config and connection.

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::{TwilioConnection, TwilioTarget};
use crate::spec::{BuildContext, Registry, SecretRef};
use crate::{DynTarget, SpecError, SpecErrors};

/// A Twilio connection:
///
/// ```json
/// "twilio": {"account_sid": "AC…", "auth_token": {"secret": "TWILIO_AUTH_TOKEN"},
///            "from": "+15557771234", "status_callback": "https://erp.example.com/hooks/twilio"}
/// ```
///
/// Instead of `auth_token`, an API key: `"api_key_sid": "SK…", "api_key_secret": {"secret":
/// "TWILIO_API_KEY_SECRET"}`. Instead of `from`, `"messaging_service_sid": "MG…"`.
/// `base_url` (default `https://api.twilio.com`) and `default_country` (ISO 3166 alpha-2,
/// default `BR`) are optional.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TwilioConnectionSpec {
    account_sid: String,
    #[serde(default)]
    auth_token: Option<SecretRef>,
    #[serde(default)]
    api_key_sid: Option<String>,
    #[serde(default)]
    api_key_secret: Option<SecretRef>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    messaging_service_sid: Option<String>,
    #[serde(default)]
    status_callback: Option<Url>,
    #[serde(default)]
    base_url: Option<Url>,
    #[serde(default)]
    default_country: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct TwilioTargetSpec {
    connection: String,
}

impl TwilioTarget {
    /// Builds the target from its spec config, `{"twilio.whatsapp": {"connection":
    /// "twilio"}}`, and the named connection (see the module docs for its fields).
    pub fn from_spec(cx: &BuildContext<'_>, config: &Value) -> Result<Self, SpecErrors> {
        let spec: TwilioTargetSpec = cx.deserialize(config)?;
        let name = spec.connection;
        let connection: TwilioConnectionSpec = cx
            .connection(&name)
            .map_err(|e| SpecErrors::from(e).prefixed("/connection"))?;
        let at_connection = |message: String| {
            SpecErrors::from(SpecError::new(
                "/connection",
                format!("connection \"{name}\": {message}"),
            ))
        };
        let secret =
            |reference: &SecretRef| cx.secret(reference).map_err(|e| at_connection(e.message));
        let mut twilio = match (
            &connection.auth_token,
            &connection.api_key_sid,
            &connection.api_key_secret,
        ) {
            (Some(token), None, None) => {
                TwilioConnection::new(connection.account_sid.clone(), secret(token)?)
            }
            (None, Some(key), Some(key_secret)) => TwilioConnection::with_api_key(
                connection.account_sid.clone(),
                key,
                secret(key_secret)?,
            ),
            _ => {
                return Err(at_connection(
                    "give `auth_token`, or `api_key_sid` with `api_key_secret`".to_owned(),
                ))
            }
        };
        twilio = match (connection.from, connection.messaging_service_sid) {
            (Some(from), None) => twilio.from(from),
            (None, Some(service)) => twilio.messaging_service(service),
            _ => {
                return Err(at_connection(
                    "give one sender: `from` (a WhatsApp number) or `messaging_service_sid`"
                        .to_owned(),
                ))
            }
        };
        if let Some(url) = connection.status_callback {
            twilio = twilio.status_callback(url);
        }
        if let Some(url) = connection.base_url {
            if let Err(e) = crate::auth::BaseUrl::new(url.clone()) {
                return Err(at_connection(format!("/base_url: {e}")));
            }
            twilio = twilio.base_url(url);
        }
        let mut target = TwilioTarget::new(twilio);
        if let Some(code) = &connection.default_country {
            target = target
                .default_country(code)
                .map_err(|e| at_connection(format!("{}: {}", e.path, e.message)))?;
        }
        Ok(target)
    }
}

/// Registers `twilio.whatsapp`.
pub(crate) fn register(registry: &mut Registry) {
    registry.register_target(super::KIND, |cx, config| {
        Ok(DynTarget::new(TwilioTarget::from_spec(cx, config)?))
    });
    #[cfg(feature = "schema")]
    registry.set_config_schema_of::<TwilioTargetSpec>(crate::spec::KindRole::Target, super::KIND);
}
