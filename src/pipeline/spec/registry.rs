//! Kind names → adapter constructors, and what constructors may look up.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use secrecy::SecretString;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::secrets::{SecretRef, SecretResolver, SecretValue};
use crate::conversation::DynService;
use crate::http::HeaderValue;
use crate::{Directory, DynTarget, Source, SpecError, SpecErrors};

/// Builds a target of one kind from its spec config.
pub type TargetFactory =
    dyn Fn(&BuildContext<'_>, &Value) -> Result<DynTarget, SpecErrors> + Send + Sync;
/// Builds a lookup's directory of one kind from its spec config.
pub type DirectoryFactory =
    dyn Fn(&BuildContext<'_>, &Value) -> Result<Arc<dyn Directory>, SpecErrors> + Send + Sync;
/// Builds a source of one kind from its spec config.
pub type SourceFactory =
    dyn Fn(&BuildContext<'_>, &Value) -> Result<Arc<dyn Source>, SpecErrors> + Send + Sync;
/// Builds a conversation's service (the ERP it calls) of one kind from its spec config.
pub type ServiceFactory =
    dyn Fn(&BuildContext<'_>, &Value) -> Result<DynService, SpecErrors> + Send + Sync;

/// Maps kind names (`http.post`, `whatsapp.template`, `fracttal.work_orders`) to adapter
/// constructors. [`Registry::default`] has every adapter compiled in; hosts add their own.
///
/// ```
/// use hubflow::spec::Registry;
/// use hubflow::http_target::HttpTarget;
/// use hubflow::DynTarget;
///
/// let mut registry = Registry::default();
/// registry.register_target("acme.ticket", |_cx, _config| {
///     Ok(DynTarget::new(HttpTarget::new("https://acme.example.com/tickets".parse().unwrap())))
/// });
/// assert!(registry.target_kinds().any(|k| k == "acme.ticket"));
/// ```
#[derive(Clone)]
pub struct Registry {
    targets: BTreeMap<String, Arc<TargetFactory>>,
    sources: BTreeMap<String, Arc<SourceFactory>>,
    directories: BTreeMap<String, Arc<DirectoryFactory>>,
    services: BTreeMap<String, Arc<ServiceFactory>>,
    /// The config schemas, by role and kind (feature `schema`).
    #[cfg(feature = "schema")]
    pub(super) schemas: super::schema::KindSchemas,
}

impl Registry {
    /// A registry with no kinds at all.
    pub fn empty() -> Self {
        Registry {
            targets: BTreeMap::new(),
            sources: BTreeMap::new(),
            directories: BTreeMap::new(),
            services: BTreeMap::new(),
            #[cfg(feature = "schema")]
            schemas: super::schema::KindSchemas::default(),
        }
    }

    /// Registers (or replaces) a target kind.
    pub fn register_target<F>(&mut self, kind: impl Into<String>, factory: F) -> &mut Self
    where
        F: Fn(&BuildContext<'_>, &Value) -> Result<DynTarget, SpecErrors> + Send + Sync + 'static,
    {
        let kind = kind.into();
        #[cfg(feature = "schema")]
        self.schemas.forget(super::KindRole::Target, &kind);
        self.targets.insert(kind, Arc::new(factory));
        self
    }

    /// Registers (or replaces) a source kind.
    pub fn register_source<F>(&mut self, kind: impl Into<String>, factory: F) -> &mut Self
    where
        F: Fn(&BuildContext<'_>, &Value) -> Result<Arc<dyn Source>, SpecErrors>
            + Send
            + Sync
            + 'static,
    {
        let kind = kind.into();
        #[cfg(feature = "schema")]
        self.schemas.forget(super::KindRole::Source, &kind);
        self.sources.insert(kind, Arc::new(factory));
        self
    }

    /// Registers (or replaces) a directory kind for lookups' `from`: how a host offers its
    /// own directory (its staff table, its CRM) to flow specs by name.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use hubflow::lookup::directory_fn;
    /// use hubflow::spec::{Connections, MapSecrets, Registry};
    /// use hubflow::{Directory, FlowSpec};
    /// use serde_json::json;
    ///
    /// let mut registry = Registry::default();
    /// registry.register_directory("acme.staff", |_cx, _config| {
    ///     let staff = directory_fn("Acme's staff table", |name| {
    ///         (name == "Jonas Campos").then(|| json!("5511999991234"))
    ///     });
    ///     Ok(Arc::new(staff) as Arc<dyn Directory>)
    /// });
    /// let spec = FlowSpec::from_json(r#"{
    ///     "id": "assigned",
    ///     "lookup": {"field": "responsible", "into": "phone", "from": "acme.staff"},
    ///     "map": {"to": "{{ phone }}"},
    ///     "target": {"http.post": {"url": "https://ops.example.com/hook"}}
    /// }"#).unwrap();
    /// let flow = spec.build(&registry, &Connections::new(), &MapSecrets::new()).unwrap();
    /// assert_eq!(flow.lookups()[0].describe(), "Acme's staff table");
    /// ```
    pub fn register_directory<F>(&mut self, kind: impl Into<String>, factory: F) -> &mut Self
    where
        F: Fn(&BuildContext<'_>, &Value) -> Result<Arc<dyn Directory>, SpecErrors>
            + Send
            + Sync
            + 'static,
    {
        let kind = kind.into();
        #[cfg(feature = "schema")]
        self.schemas.forget(super::KindRole::Directory, &kind);
        self.directories.insert(kind, Arc::new(factory));
        self
    }

    /// Registers (or replaces) a service kind for a conversation's `services`: how an ERP
    /// (the RM adapter's `rm.scheduling`, or the host's own) is offered to conversation
    /// specs by name.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use async_trait::async_trait;
    /// use hubflow::conversation::{DynService, Service, ServiceCall, ServiceError};
    /// use hubflow::spec::Registry;
    /// use hubflow::Context;
    /// use serde_json::{json, Value};
    ///
    /// struct Specialties;
    /// #[async_trait]
    /// impl Service for Specialties {
    ///     fn describe(&self) -> String { "specialties".into() }
    ///     fn operations(&self) -> Vec<String> { vec!["list_specialties".into()] }
    ///     async fn call(&self, _: &Context, _: &ServiceCall) -> Result<Value, ServiceError> {
    ///         Ok(json!([{"id": "card", "name": "Cardiologia"}]))
    ///     }
    /// }
    /// let mut registry = Registry::default();
    /// registry.register_service("acme.clinic", |_cx, _config| Ok(Arc::new(Specialties) as DynService));
    /// assert!(registry.service_kinds().any(|k| k == "acme.clinic"));
    /// ```
    pub fn register_service<F>(&mut self, kind: impl Into<String>, factory: F) -> &mut Self
    where
        F: Fn(&BuildContext<'_>, &Value) -> Result<DynService, SpecErrors> + Send + Sync + 'static,
    {
        let kind = kind.into();
        #[cfg(feature = "schema")]
        self.schemas.forget(super::KindRole::Service, &kind);
        self.services.insert(kind, Arc::new(factory));
        self
    }

    /// The registered service kinds, sorted.
    pub fn service_kinds(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(String::as_str)
    }

    pub(crate) fn service(&self, kind: &str) -> Option<&Arc<ServiceFactory>> {
        self.services.get(kind)
    }

    /// The registered directory kinds, sorted.
    pub fn directory_kinds(&self) -> impl Iterator<Item = &str> {
        self.directories.keys().map(String::as_str)
    }

    pub(crate) fn directory(&self, kind: &str) -> Option<&Arc<DirectoryFactory>> {
        self.directories.get(kind)
    }

    /// The registered target kinds, sorted.
    pub fn target_kinds(&self) -> impl Iterator<Item = &str> {
        self.targets.keys().map(String::as_str)
    }

    /// The registered source kinds, sorted.
    pub fn source_kinds(&self) -> impl Iterator<Item = &str> {
        self.sources.keys().map(String::as_str)
    }

    pub(crate) fn target(&self, kind: &str) -> Option<&Arc<TargetFactory>> {
        self.targets.get(kind)
    }

    pub(crate) fn source(&self, kind: &str) -> Option<&Arc<SourceFactory>> {
        self.sources.get(kind)
    }
}

impl Default for Registry {
    /// Every adapter kind compiled into this build, the `map` directory and the
    /// `conversation` target.
    fn default() -> Self {
        let mut registry = Registry::empty();
        crate::conversation::register(&mut registry);
        crate::lookup::register(&mut registry);
        crate::adapters::register_builtin(&mut registry);
        registry
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("targets", &self.targets.keys().collect::<Vec<_>>())
            .field("sources", &self.sources.keys().collect::<Vec<_>>())
            .field("directories", &self.directories.keys().collect::<Vec<_>>())
            .field("services", &self.services.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Connections declared once and referenced by name from flow specs: base URLs, API
/// versions, and credentials by secret name.
///
/// ```
/// use hubflow::spec::Connections;
/// let connections = Connections::from_json(r#"{
///     "ops": {"base_url": "https://ops.example.com/api/", "headers": {"Authorization": {"secret": "OPS_TOKEN"}}}
/// }"#).unwrap();
/// assert_eq!(connections.names().collect::<Vec<_>>(), vec!["ops"]);
/// ```
///
/// Its `Debug` shows the connection names only: a connection names its secrets, but a
/// mistaken one may hold a credential where a `{"secret": …}` belongs, which building a
/// flow refuses without quoting and `Debug` must not print either.
#[derive(Clone, Default, PartialEq)]
pub struct Connections(BTreeMap<String, Value>);

impl fmt::Debug for Connections {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connections")
            .field("names", &self.0.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Connections {
    /// No connections.
    pub fn new() -> Self {
        Connections::default()
    }

    /// Parses a JSON object of named connections; each must be an object.
    pub fn from_json(text: &str) -> Result<Self, SpecErrors> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| SpecErrors::from(super::syntax_error(&e)))?;
        let Value::Object(map) = value else {
            return Err(SpecError::new(
                "",
                "connections must be a JSON object of named connections",
            )
            .into());
        };
        let mut errors = SpecErrors::new();
        for (name, connection) in &map {
            if !connection.is_object() {
                errors.push(SpecError::new(
                    format!("/{}", crate::pointer_token(name)),
                    "a connection must be a JSON object",
                ));
            }
        }
        errors.into_result(Connections(map.into_iter().collect()))
    }

    /// Adds or replaces a connection.
    pub fn insert(&mut self, name: impl Into<String>, connection: Value) {
        self.0.insert(name.into(), connection);
    }

    /// The connection names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }
}

/// What an adapter constructor may look up while a flow is built: named connections and
/// secrets. Errors it returns are relative to the adapter's config; the builder puts the
/// config's own path in front.
pub struct BuildContext<'a> {
    pub(crate) registry: &'a Registry,
    pub(crate) connections: &'a Connections,
    pub(crate) secrets: &'a dyn SecretResolver,
}

impl<'a> BuildContext<'a> {
    /// A context over this registry (for adapters that build another kind, such as RM's
    /// confirmation building its sender), these connections and secrets.
    pub fn new(
        registry: &'a Registry,
        connections: &'a Connections,
        secrets: &'a dyn SecretResolver,
    ) -> Self {
        BuildContext {
            registry,
            connections,
            secrets,
        }
    }

    /// Builds a target of `kind` from `config` through the registry, as a flow spec's own
    /// target is built. An adapter that sends through another one (RM's confirmation, over
    /// any registered channel) uses this instead of naming that adapter. Errors are relative
    /// to `config`; an unknown kind is reported at the root with the registered kinds.
    pub fn target(&self, kind: &str, config: &Value) -> Result<DynTarget, SpecErrors> {
        match self.registry.target(kind) {
            Some(factory) => factory(self, config),
            None => {
                Err(super::unknown_kind("", "target", kind, self.registry.target_kinds()).into())
            }
        }
    }

    /// Deserializes a config with serde, turning the first error into a [`SpecError`] at its
    /// JSON pointer (relative to `value`).
    pub fn deserialize<T: DeserializeOwned>(&self, value: &Value) -> Result<T, SpecError> {
        super::deserialize_at(value)
    }

    /// The connection `name`, deserialized into the adapter's own connection type. An error
    /// is located at the reference (the caller prefixes its path) and names the connection's
    /// own field, or says which connections exist.
    pub fn connection<T: DeserializeOwned>(&self, name: &str) -> Result<T, SpecError> {
        let Some(value) = self.connections.get(name) else {
            let known: Vec<_> = self.connections.names().collect();
            let hint = if known.is_empty() {
                "no connections are declared".to_owned()
            } else {
                format!("declared connections: {}", known.join(", "))
            };
            return Err(
                SpecError::new("", format!("unknown connection \"{name}\"")).with_hint(hint)
            );
        };
        super::deserialize_at(value).map_err(|e| SpecError {
            path: String::new(),
            message: format!(
                "connection \"{name}\" at {}: {}",
                if e.path.is_empty() { "/" } else { &e.path },
                e.message
            ),
            ..e
        })
    }

    /// The value of a secret reference, or an error saying where to set it.
    pub fn secret(&self, reference: &SecretRef) -> Result<SecretString, SpecError> {
        self.secrets.resolve(&reference.secret).ok_or_else(|| {
            SpecError::new("", format!("secret `{}` is not set", reference.secret))
                .with_hint(self.secrets.where_to_set(&reference.secret))
        })
    }

    /// A plain-or-secret value as a header value (secrets stay redacted).
    pub fn resolve(&self, value: &SecretValue) -> Result<HeaderValue, SpecError> {
        match value {
            SecretValue::Plain(text) => Ok(HeaderValue::Plain(text.clone())),
            SecretValue::Secret(reference) => self.secret(reference).map(HeaderValue::Secret),
        }
    }
}

impl fmt::Debug for BuildContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BuildContext")
            .field("connections", &self.connections.names().collect::<Vec<_>>())
            .finish()
    }
}
