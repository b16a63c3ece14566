//! The spec forms of the RM kinds, and their registration.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use secrecy::ExposeSecret;
use serde::Deserialize;
use serde_json::Value;
use url::Url;

use super::action::{Action, ActionTarget};
use super::appointments::{AppointmentsSource, FieldNames, Paging, QUERY_PLACEHOLDERS};
use super::client::{JwtAuth, RmAuth, RmClient};
use super::confirmation::ConfirmationTarget;
use super::pending::PendingConfirmations;
use super::reply::{ask_button_problem, ask_text_problem, IntentWords, ReplyTarget};
use super::route::Route;
use super::scheduling::{OperationMap, SchedulingService, SCHEDULING_KIND};
use super::ACTION_PLACEHOLDERS;
use crate::conversation::Service;
#[cfg(feature = "schema")]
use crate::spec::KindRole;
use crate::spec::{BuildContext, Registry, SecretRef};
use crate::{DynTarget, Source, SpecError, SpecErrors};

/// An RM connection:
///
/// ```json
/// "rm": {"base_url": "https://tenant.rm.cloudtotvs.com.br:8051",
///        "auth": {"jwt": {"username": "mestre", "password": {"secret": "RM_PASSWORD"}}},
///        "timeout_ms": 10000}
/// ```
///
/// `auth` is `{"jwt": {"username", "password", "token_path"?, "refresh_token_minutes"?}}`,
/// `{"basic": {"username", "password"}}` or `{"bearer": {"secret": "RM_TOKEN"}}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConnectionSpec {
    base_url: Url,
    auth: AuthSpec,
    #[serde(default)]
    timeout_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum AuthSpec {
    Jwt {
        username: String,
        password: SecretRef,
        #[serde(default)]
        token_path: Option<String>,
        #[serde(default)]
        refresh_token_minutes: Option<u64>,
    },
    Basic {
        username: String,
        password: SecretRef,
    },
    Bearer(SecretRef),
}

/// One client per connection name and settings, shared by every flow built from it, so
/// they share one JWT.
#[derive(Default)]
struct ClientCache(Mutex<BTreeMap<String, (Settings, RmClient)>>);

#[derive(Clone)]
struct Settings {
    base_url: Url,
    auth: RmAuth,
    timeout: Option<Duration>,
}

impl Settings {
    fn same(&self, other: &Settings) -> bool {
        let auth = match (&self.auth, &other.auth) {
            (RmAuth::Bearer(a), RmAuth::Bearer(b)) => a.expose_secret() == b.expose_secret(),
            (
                RmAuth::Basic {
                    username: ua,
                    password: pa,
                },
                RmAuth::Basic {
                    username: ub,
                    password: pb,
                },
            ) => ua == ub && pa.expose_secret() == pb.expose_secret(),
            (RmAuth::Jwt(a), RmAuth::Jwt(b)) => {
                a.username == b.username
                    && a.password.expose_secret() == b.password.expose_secret()
                    && a.token_path == b.token_path
                    && a.refresh_token_lifetime == b.refresh_token_lifetime
            }
            _ => false,
        };
        auth && self.base_url == other.base_url && self.timeout == other.timeout
    }
}

impl ClientCache {
    fn client(&self, cx: &BuildContext<'_>, name: &str) -> Result<RmClient, SpecErrors> {
        let at_connection = |e: SpecError| {
            SpecErrors::from(SpecError {
                message: format!("connection \"{name}\": {}", e.message),
                ..e
            })
            .prefixed("/connection")
        };
        let spec: ConnectionSpec = cx
            .connection(name)
            .map_err(|e| SpecErrors::from(e).prefixed("/connection"))?;
        // Checked as every client checks its base URL, at build time so the error is located.
        if let Err(e) = crate::auth::BaseUrl::new(spec.base_url.clone()) {
            return Err(at_connection(SpecError::new(
                "",
                format!("at /base_url: {e}"),
            )));
        }
        let auth = match spec.auth {
            AuthSpec::Jwt {
                username,
                password,
                token_path,
                refresh_token_minutes,
            } => {
                let mut jwt = JwtAuth::new(username, cx.secret(&password).map_err(at_connection)?);
                if let Some(path) = token_path {
                    jwt = jwt.token_path(path);
                }
                if let Some(minutes) = refresh_token_minutes {
                    jwt = jwt.refresh_token_lifetime(Duration::from_secs(minutes * 60));
                }
                RmAuth::Jwt(jwt)
            }
            AuthSpec::Basic { username, password } => RmAuth::Basic {
                username,
                password: cx.secret(&password).map_err(at_connection)?,
            },
            AuthSpec::Bearer(token) => RmAuth::Bearer(cx.secret(&token).map_err(at_connection)?),
        };
        let settings = Settings {
            base_url: spec.base_url,
            auth,
            timeout: spec.timeout_ms.map(Duration::from_millis),
        };
        let mut cache = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((known, client)) = cache.get(name) {
            if known.same(&settings) {
                return Ok(client.clone());
            }
        }
        let mut client = RmClient::new(settings.base_url.clone(), settings.auth.clone());
        if let Some(timeout) = settings.timeout {
            client = client.with_timeout(timeout);
        }
        cache.insert(name.to_owned(), (settings, client.clone()));
        Ok(client)
    }
}

fn zone(name: Option<&str>, path: &str) -> Result<chrono_tz::Tz, SpecErrors> {
    match name {
        None => Ok(chrono_tz::America::Sao_Paulo),
        Some(name) => name.parse().map_err(|_| {
            SpecErrors::from(
                SpecError::new(path, format!("unknown time zone \"{name}\""))
                    .with_hint("use an IANA name such as America/Sao_Paulo"),
            )
        }),
    }
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct AppointmentsSpec {
    connection: String,
    #[serde(default)]
    days_ahead: Option<u32>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    route: Option<Route>,
    #[serde(default)]
    fields: Option<FieldNames>,
    #[serde(default)]
    items_path: Option<String>,
    #[serde(default)]
    paging: Option<PagingSpec>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
enum PagingSpec {
    Word(String),
    Paging(Paging),
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct ActionSpec {
    connection: String,
    #[serde(default)]
    route: Option<Route>,
    #[serde(default)]
    scope: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct ReplySpec {
    connection: String,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    validity_hours: Option<u64>,
    #[serde(default)]
    lookahead_days: Option<u32>,
    #[serde(default)]
    routes: BTreeMap<Action, Route>,
    #[serde(default)]
    words: Option<IntentWords>,
    #[serde(default)]
    ask: Option<BTreeMap<String, Value>>,
    #[serde(default)]
    ask_text: Option<String>,
    #[serde(default)]
    ask_button: Option<String>,
}

#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct ConfirmationSpec {
    #[serde(default)]
    scope: Option<String>,
    via: BTreeMap<String, Value>,
}

fn scope(name: Option<String>) -> PendingConfirmations {
    name.map(PendingConfirmations::new).unwrap_or_default()
}

/// Registers `rm.appointments`, `rm.confirm`, `rm.cancel`, `rm.reply` and
/// `rm.confirmation`.
/// The scheduling port's spec: `{"connection", "operations": {"<name>": OperationMap}}`.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct SchedulingSpec {
    connection: String,
    operations: BTreeMap<String, OperationMap>,
}

pub(crate) fn register(registry: &mut Registry) {
    let cache = Arc::new(ClientCache::default());

    let clients = cache.clone();
    registry.register_service(SCHEDULING_KIND, move |cx, config| {
        let spec: SchedulingSpec = cx.deserialize(config)?;
        let client = clients.client(cx, &spec.connection)?;
        let mut service = SchedulingService::new(client);
        let mut errors = SpecErrors::new();
        for (name, map) in spec.operations {
            match service.clone().operation(&name, map) {
                Ok(with) => service = with,
                Err(e) => errors.extend(e),
            }
        }
        if service.operations().is_empty() && errors.is_empty() {
            errors.push(SpecError::new(
                "/operations",
                "empty: map at least one operation",
            ));
        }
        errors.into_result(Arc::new(service) as crate::conversation::DynService)
    });
    #[cfg(feature = "schema")]
    registry.set_config_schema_of::<SchedulingSpec>(KindRole::Service, SCHEDULING_KIND);

    let clients = cache.clone();
    registry.register_source(super::APPOINTMENTS_KIND, move |cx, config| {
        let spec: AppointmentsSpec = cx.deserialize(config)?;
        let client = clients.client(cx, &spec.connection)?;
        let mut source = AppointmentsSource::new(client)
            .time_zone(zone(spec.time_zone.as_deref(), "/time_zone")?);
        if let Some(days) = spec.days_ahead {
            source = source.days_ahead(days);
        }
        if let Some(route) = spec.route {
            route.check("/route", QUERY_PLACEHOLDERS)?;
            source = source.route(route);
        }
        if let Some(fields) = spec.fields {
            source = source.fields(fields);
        }
        if let Some(path) = spec.items_path {
            source = source.items_path(path);
        }
        match spec.paging {
            None => {}
            Some(PagingSpec::Word(word)) if word == "none" => source = source.paging(Paging::None),
            Some(PagingSpec::Word(word)) if word == "has_next" => {
                source = source.paging(Paging::default())
            }
            Some(PagingSpec::Word(word)) => {
                return Err(
                    SpecError::new("/paging", format!("unknown paging \"{word}\""))
                        .with_hint(
                            "use \"none\", \"has_next\" or {\"has_next\": {\"page_size\": 50}}",
                        )
                        .into(),
                )
            }
            Some(PagingSpec::Paging(paging)) => source = source.paging(paging),
        }
        Ok(Arc::new(source) as Arc<dyn Source>)
    });
    #[cfg(feature = "schema")]
    registry.set_config_schema_of::<AppointmentsSpec>(KindRole::Source, super::APPOINTMENTS_KIND);

    for action in [Action::Confirm, Action::Cancel] {
        let clients = cache.clone();
        registry.register_target(format!("rm.{action}"), move |cx, config| {
            let spec: ActionSpec = cx.deserialize(config)?;
            let client = clients.client(cx, &spec.connection)?;
            let mut target = ActionTarget::new(client, action).scope(scope(spec.scope));
            if let Some(route) = spec.route {
                route.check("/route", ACTION_PLACEHOLDERS)?;
                target = target.route(route);
            }
            Ok(DynTarget::new(target))
        });
        #[cfg(feature = "schema")]
        registry.set_config_schema_of::<ActionSpec>(KindRole::Target, format!("rm.{action}"));
    }

    let clients = cache;
    registry.register_target(super::REPLY_KIND, move |cx, config| {
        let spec: ReplySpec = cx.deserialize(config)?;
        let client = clients.client(cx, &spec.connection)?;
        let mut target = ReplyTarget::new(client)
            .pending(scope(spec.scope))
            .time_zone(zone(spec.time_zone.as_deref(), "/time_zone")?);
        let mut errors = SpecErrors::new();
        for (action, route) in spec.routes {
            if let Err(e) = route.check(&format!("/routes/{action}"), ACTION_PLACEHOLDERS) {
                errors.extend(e);
            }
            target = target.route(action, route);
        }
        if let Some(hours) = spec.validity_hours {
            target = target.validity(Duration::from_secs(hours * 3600));
        }
        if let Some(days) = spec.lookahead_days {
            target = target.lookahead_days(days);
        }
        if let Some(words) = spec.words {
            target = target.words(words);
        }
        let asks = spec.ask.is_some();
        if let Some(ask) = spec.ask {
            let mut kinds = ask.into_iter();
            match (kinds.next(), kinds.next()) {
                (Some((kind, inner)), None) => {
                    // Found by kind in the registry, as `rm.confirmation`'s sender is.
                    let path = format!("/ask/{}", crate::pointer_token(&kind));
                    match cx.target(&kind, &inner) {
                        Ok(sender) => target = target.ask(sender),
                        Err(e) => errors.extend(e.prefixed(&path)),
                    }
                }
                _ => errors.push(
                    SpecError::new("/ask", "name exactly one sending kind").with_hint(
                        "use {\"ask\": {\"whatsapp.interactive\": {\"connection\": \"whatsapp\"}}}",
                    ),
                ),
            }
        }
        for (field, value, problem) in [
            (
                "ask_text",
                &spec.ask_text,
                ask_text_problem as fn(&str) -> Option<String>,
            ),
            ("ask_button", &spec.ask_button, ask_button_problem),
        ] {
            let Some(value) = value else { continue };
            let path = format!("/{field}");
            if !asks {
                errors.push(
                    SpecError::new(&path, format!("`{field}` has no effect without `ask`"))
                        .with_hint("add {\"ask\": {\"whatsapp.interactive\": {…}}} or remove it"),
                );
            } else if let Some(problem) = problem(value) {
                errors.push(SpecError::new(&path, problem));
            }
        }
        if let Some(text) = spec.ask_text {
            target = target.ask_text(text);
        }
        if let Some(label) = spec.ask_button {
            target = target.ask_button(label);
        }
        errors.into_result(DynTarget::new(target))
    });
    #[cfg(feature = "schema")]
    registry.set_config_schema_of::<ReplySpec>(KindRole::Target, super::REPLY_KIND);

    registry.register_target(super::CONFIRMATION_KIND, |cx, config| {
        let spec: ConfirmationSpec = cx.deserialize(config)?;
        let hint = "use {\"via\": {\"whatsapp.template\": {…}}} or {\"via\": {\"rdconversas.template\": {…}}}";
        let mut via = spec.via.into_iter();
        let (Some((kind, inner)), None) = (via.next(), via.next()) else {
            return Err(SpecError::new("/via", "name exactly one sending kind")
                .with_hint(hint)
                .into());
        };
        // The sender is found by kind in the registry, so any channel the host registers
        // can carry confirmations, and this adapter names none of them.
        let path = format!("/via/{}", crate::pointer_token(&kind));
        let inner = cx.target(&kind, &inner).map_err(|e| e.prefixed(&path))?;
        Ok(DynTarget::new(
            ConfirmationTarget::new(inner).pending(scope(spec.scope)),
        ))
    });
    #[cfg(feature = "schema")]
    registry.set_config_schema_of::<ConfirmationSpec>(KindRole::Target, super::CONFIRMATION_KIND);
}
