//! The `rdconversas.template` kind: its spec config and connection.

use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::RdConversasTarget;
use crate::spec::{BuildContext, Registry, SecretRef};
use crate::{DynTarget, SpecError, SpecErrors};

/// An RD Conversas connection:
///
/// ```json
/// "rdconversas": {"token": {"secret": "RDCONVERSAS_TOKEN"},
///                 "base_url": "https://api.tallos.com.br", "default_country": "BR"}
/// ```
///
/// `default_country` (ISO 3166 alpha-2, default `BR`) is the country of the numbers written
/// without a country code.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RdConnectionSpec {
    #[serde(default)]
    base_url: Option<Url>,
    token: SecretRef,
    #[serde(default)]
    default_country: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct RdTemplateSpec {
    connection: String,
    #[serde(default)]
    template_message_id: Option<String>,
    #[serde(default)]
    country_code: Option<String>,
    #[serde(default)]
    operator_id: Option<String>,
}

impl RdConversasTarget {
    /// Builds the target from its spec config and named connection:
    ///
    /// ```json
    /// {"rdconversas.template": {"connection": "rdconversas", "template_message_id": "tpl-77",
    ///                           "country_code": "55", "operator_id": "op-1"}}
    /// ```
    pub fn from_spec(cx: &BuildContext<'_>, config: &Value) -> Result<Self, SpecErrors> {
        let spec: RdTemplateSpec = cx.deserialize(config)?;
        let connection: RdConnectionSpec = cx
            .connection(&spec.connection)
            .map_err(|e| SpecErrors::from(e).prefixed("/connection"))?;
        let token = cx.secret(&connection.token).map_err(|e| {
            SpecErrors::from(SpecError {
                message: format!("connection \"{}\": {}", spec.connection, e.message),
                ..e
            })
            .prefixed("/connection")
        })?;
        let mut target = RdConversasTarget::new(token);
        if let Some(url) = connection.base_url {
            target = target.base_url(url);
        }
        if let Some(code) = &connection.default_country {
            target = target.default_country(code).map_err(|e| {
                SpecErrors::from(SpecError {
                    path: "/connection".to_owned(),
                    message: format!(
                        "connection \"{}\" at {}: {}",
                        spec.connection, e.path, e.message
                    ),
                    ..e
                })
            })?;
        }
        if let Some(id) = spec.template_message_id {
            target = target.template_message_id(id);
        }
        if let Some(code) = spec.country_code {
            target = target.country_code(code);
        }
        if let Some(operator) = spec.operator_id {
            target = target.operator(operator);
        }
        Ok(target)
    }
}

/// Registers `rdconversas.template`.
pub(crate) fn register(registry: &mut Registry) {
    registry.register_target(super::KIND, |cx, config| {
        Ok(DynTarget::new(RdConversasTarget::from_spec(cx, config)?))
    });
    #[cfg(feature = "schema")]
    registry.set_config_schema_of::<RdTemplateSpec>(crate::spec::KindRole::Target, super::KIND);
}
