//! Flow specs: a flow as JSON, so vendors store flows in their database and let their
//! users edit them in a form.
//!
//! ```json
//! {
//!   "id": "wo-assigned-webhook",
//!   "trigger": {"event": {"module": "work_management", "submodule": "work_orders", "event": "new_wo"}},
//!   "when": {"all": [{"field": "user_assigned", "op": "eq", "value": "Jonas Campos"}]},
//!   "map": {"folio": "{{ wo_folio }}", "who": "{{ user_assigned | upper }}"},
//!   "target": {"http.post": {"connection": "ops", "path": "hooks/work-orders"}},
//!   "delivery": {"max_attempts": 5, "max_in_flight": 8, "rate_per_second": 80},
//!   "report": {"dead_letters": "key_only", "keep_runs": 500}
//! }
//! ```
//!
//! `report` ([`ReportPolicy`](crate::ReportPolicy)) says what the run reports keep: failed
//! records whole (`"keep"`, the default, to replay them) or only their keys and kinds
//! (`"key_only"`, for personal data), and how many runs the history holds per flow
//! (default 1,000; `null`: all).
//!
//! Checking happens in two steps, and each reports **every** problem it finds, with the
//! JSON pointer of the value and a hint, never only the first:
//!
//! 1. [`FlowSpec::from_json`] checks the document itself: unknown fields, the rule's
//!    operators, the mapping's templates, the trigger and the delivery policy.
//! 2. [`FlowSpec::build`] checks it against the host's setup: that every kind is in the
//!    [`Registry`], every connection is declared, every secret resolves, and every adapter
//!    config is valid; then it returns the [`Flow`].
//!
//! A flow may also look records up in a directory between its condition and its mapping
//! (`"lookup"`, one step or a list; see [`lookup`](crate::lookup)): a map written in the
//! spec (`map`), an HTTP JSON API (`http.json`), or a host's own kind
//! ([`Registry::register_directory`]).
//!
//! Secrets appear in specs only by name (`{"secret": "OPS_TOKEN"}`); the host's
//! [`SecretResolver`] supplies the values at build time.
//!
//! # JSON Schema
//!
//! With feature `schema`, hubflow describes specs in JSON Schema (draft 2020-12), for the
//! form a host shows its users and for checking a spec as it is typed:
//!
//! * `FlowSpec::json_schema()`: the flow document, whatever kinds the host registers.
//! * `Registry::flow_schema()`: the same with `target`, `source` and each lookup's `from`
//!   narrowed to the registry's kinds, each with its config schema. The registry carries
//!   one for every kind it ships with; a host gives its own kinds theirs with
//!   `Registry::set_config_schema_of::<Config>(role, kind)` (a type deriving
//!   `schemars::JsonSchema`) or `Registry::set_config_schema(role, kind, schema)`, and
//!   reads one with `Registry::config_schema(role, kind)`.
//! * `ConversationSpec::json_schema()`: a conversation spec (`docs/conversation.schema.json`);
//!   the `conversation` target's config schema is its `$defs/target`.
//!
//! What the loader accepts validates, and what it refuses for a reason of structure fails
//! validation at the same JSON pointer (an unknown field at the object holding it): a
//! form can show the schema's errors where the loader's would be. What needs the host's
//! setup (connections, secrets) or more than JSON Schema says (a template that compiles)
//! is still checked by [`FlowSpec::from_json`] and [`FlowSpec::build`].
//!
//! ```
//! # #[cfg(all(feature = "schema", feature = "http"))] {
//! use hubflow::spec::{KindRole, Registry};
//! use serde_json::json;
//!
//! let registry = Registry::default();
//! let schema = registry.flow_schema();
//! let validator = jsonschema::validator_for(schema.as_value()).unwrap();
//!
//! let spec = json!({"id": "ops", "target": {"http.post": {"urll": "https://ops.example.com/hook"}}});
//! let error = validator.iter_errors(&spec).next().unwrap();
//! assert_eq!(error.instance_path.to_string(), "/target/http.post");
//! assert!(error.to_string().contains("urll"));
//!
//! let http_post = registry.config_schema(KindRole::Target, "http.post").unwrap();
//! assert_eq!(http_post.get("additionalProperties"), Some(&json!(false)));
//! # }
//! ```

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::{
    pointer_token, DeliveryPolicy, FieldMap, Flow, Lookup, OnMissing, ReportPolicy, Rule,
    SpecError, SpecErrors, Trigger,
};

mod registry;
#[cfg(feature = "schema")]
mod schema;
mod secrets;

pub use registry::{
    BuildContext, Connections, DirectoryFactory, Registry, SourceFactory, TargetFactory,
};
#[cfg(feature = "schema")]
pub(crate) use schema::rewrite_refs;
#[cfg(feature = "schema")]
pub use schema::KindRole;
#[cfg(any(feature = "timelines", feature = "fracttal", feature = "rm"))]
pub(crate) use secrets::constant_time_eq;
pub use secrets::{EnvSecrets, MapSecrets, SecretRef, SecretResolver, SecretValue};

/// An adapter chosen by kind name with its config: `{"http.post": {"url": "…"}}`.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct KindSpec {
    /// The kind name, looked up in the [`Registry`].
    pub kind: String,
    /// The adapter's own config.
    pub config: Value,
}

impl KindSpec {
    /// A kind with its config.
    pub fn new(kind: impl Into<String>, config: Value) -> Self {
        KindSpec {
            kind: kind.into(),
            config,
        }
    }

    fn parse(value: &Value, path: &str) -> Result<KindSpec, SpecError> {
        let hint =
            "write it as {\"<kind>\": {…config…}}, e.g. {\"http.post\": {\"url\": \"https://…\"}}";
        match value {
            Value::Object(map) if map.len() == 1 => {
                let (kind, config) = map
                    .iter()
                    .next()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .unwrap_or_default();
                Ok(KindSpec { kind, config })
            }
            Value::Object(map) if map.is_empty() => {
                Err(SpecError::new(path, "no kind given").with_hint(hint))
            }
            Value::Object(_) => {
                Err(SpecError::new(path, "more than one kind given").with_hint(hint))
            }
            Value::String(kind) => Ok(KindSpec {
                kind: kind.clone(),
                config: Value::Object(Map::new()),
            }),
            _ => Err(SpecError::new(path, "expected an object naming the kind").with_hint(hint)),
        }
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert(self.kind.clone(), self.config.clone());
        Value::Object(map)
    }
}

/// A lookup step as data:
/// `{"field": "responsible", "into": "responsible_phone", "from": {"map": {…}}, "on_missing": "skip", "cache_seconds": 300}`.
///
/// `from` names a directory kind of the [`Registry`] with its config, as `source` and
/// `target` do; `on_missing` is `skip` (default) or `fail`; `cache_seconds` defaults to 300
/// (0: no cache).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LookupSpec {
    /// The record field whose value is looked up (a dotted path).
    pub field: String,
    /// Where the entry goes in the record (a dotted path).
    pub into: String,
    /// The directory.
    pub from: KindSpec,
    /// What happens without an entry.
    pub on_missing: OnMissing,
    /// How long answers are kept, in seconds (`None`: the default, 300).
    pub cache_seconds: Option<u64>,
}

/// The fields of a lookup step, as written. Its field docs are the descriptions of the
/// step's schema (feature `schema`).
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(
    feature = "schema",
    schemars(rename = "LookupStep", description = "One lookup step.")
)]
#[serde(deny_unknown_fields)]
struct LookupFields {
    /// The record field whose value is looked up (a dotted path). Not blank.
    #[cfg_attr(feature = "schema", schemars(pattern(r"\S")))]
    field: String,
    /// Where the entry goes in the record (a dotted path). Not blank.
    #[cfg_attr(feature = "schema", schemars(pattern(r"\S")))]
    into: String,
    /// The directory: {"<directory kind>": config}, or a kind's name alone.
    #[cfg_attr(feature = "schema", schemars(with = "schema::DirectoryChoice"))]
    from: Value,
    /// What happens to a record without an entry: `skip` it (the default) or `fail` it.
    #[serde(default)]
    on_missing: OnMissing,
    /// How long answers are kept, in seconds (default 300; 0: no cache).
    #[serde(default)]
    cache_seconds: Option<u64>,
}

impl LookupSpec {
    fn parse(value: &Value) -> Result<LookupSpec, SpecErrors> {
        let fields: LookupFields = deserialize_at(value)?;
        let mut errors = SpecErrors::new();
        if fields.field.trim().is_empty() {
            errors.push(
                SpecError::new("/field", "the field to look up is empty").with_hint(
                    "name the record field whose value is looked up, e.g. \"responsible\"",
                ),
            );
        }
        if fields.into.trim().is_empty() {
            errors.push(
                SpecError::new("/into", "the field to put the entry in is empty")
                    .with_hint("name a new field, e.g. \"responsible_phone\""),
            );
        }
        let from = KindSpec::parse(&fields.from, "/from").map_err(|e| errors.push(e));
        match from {
            Ok(from) if errors.is_empty() => Ok(LookupSpec {
                field: fields.field,
                into: fields.into,
                from,
                on_missing: fields.on_missing,
                cache_seconds: fields.cache_seconds,
            }),
            _ => Err(errors),
        }
    }

    fn to_value(&self) -> Value {
        let mut map = Map::new();
        map.insert("field".into(), Value::String(self.field.clone()));
        map.insert("into".into(), Value::String(self.into.clone()));
        map.insert("from".into(), self.from.to_value());
        map.insert(
            "on_missing".into(),
            serde_json::to_value(self.on_missing).unwrap_or(Value::Null),
        );
        if let Some(seconds) = self.cache_seconds {
            map.insert("cache_seconds".into(), Value::from(seconds));
        }
        Value::Object(map)
    }
}

/// Parses `lookup`: one step, or a list of them.
fn parse_lookups(value: &Value) -> Result<Vec<LookupSpec>, SpecErrors> {
    match value {
        Value::Array(steps) => {
            let mut errors = SpecErrors::new();
            let mut parsed = Vec::with_capacity(steps.len());
            for (index, step) in steps.iter().enumerate() {
                match LookupSpec::parse(step) {
                    Ok(step) => parsed.push(step),
                    Err(e) => errors.extend(e.prefixed(&format!("/{index}"))),
                }
            }
            errors.into_result(parsed)
        }
        step => LookupSpec::parse(step).map(|step| vec![step]),
    }
}

/// A flow as data. See the [module docs](self) for the JSON form.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct FlowSpec {
    /// The flow's stable id.
    pub id: String,
    /// A note for people; not used by hubflow.
    pub description: Option<String>,
    /// When the host runs it.
    pub trigger: Trigger,
    /// The pull source, if any.
    pub source: Option<KindSpec>,
    /// Which records it acts on (`always` when absent).
    pub when: Rule,
    /// The lookups, in order (the JSON's `lookup`).
    pub lookups: Vec<LookupSpec>,
    /// The mapping; without it the record's data is the payload.
    pub map: Option<FieldMap>,
    /// Where it delivers.
    pub target: KindSpec,
    /// How it delivers.
    pub delivery: DeliveryPolicy,
    /// What its reports keep (the JSON's `report`).
    pub report: ReportPolicy,
}

const FIELDS: &[&str] = &[
    "id",
    "description",
    "trigger",
    "source",
    "when",
    "lookup",
    "map",
    "target",
    "delivery",
    "report",
];

impl FlowSpec {
    /// Parses and checks a spec document, reporting every problem.
    ///
    /// ```
    /// use hubflow::FlowSpec;
    /// let errors = FlowSpec::from_json(r#"{
    ///     "id": "x",
    ///     "when": {"all": [{"field": "a", "op": "equal", "value": 1}]},
    ///     "target": {"http.post": {"url": "https://example.com"}},
    ///     "delivery": {"max_in_flihgt": 3}
    /// }"#).unwrap_err();
    /// let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    /// assert_eq!(paths, ["/when/all/0/op", "/delivery/max_in_flihgt"]);
    /// ```
    pub fn from_json(text: &str) -> Result<FlowSpec, SpecErrors> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| SpecErrors::from(syntax_error(&e)))?;
        FlowSpec::from_value(&value)
    }

    /// [`from_json`](FlowSpec::from_json) for an already parsed document.
    pub fn from_value(value: &Value) -> Result<FlowSpec, SpecErrors> {
        let Value::Object(doc) = value else {
            return Err(SpecError::new("", "a flow spec must be a JSON object").into());
        };
        let mut errors = SpecErrors::new();
        for key in doc.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
            errors.push(
                SpecError::new(
                    format!("/{}", pointer_token(key)),
                    format!("unknown field \"{key}\""),
                )
                .with_hint(format!("expected one of {}", FIELDS.join(", "))),
            );
        }
        let id = match doc.get("id") {
            Some(Value::String(id)) if !id.trim().is_empty() => id.clone(),
            Some(Value::String(_)) => {
                errors.push(
                    SpecError::new("/id", "the flow id is empty")
                        .with_hint("give the flow a stable, unique id"),
                );
                String::new()
            }
            Some(_) => {
                errors.push(SpecError::new("/id", "the flow id must be a string"));
                String::new()
            }
            None => {
                errors.push(
                    SpecError::new("/id", "missing field \"id\"")
                        .with_hint("give the flow a stable, unique id"),
                );
                String::new()
            }
        };
        let description = match doc.get("description") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => Some(text.clone()),
            Some(_) => {
                errors.push(SpecError::new("/description", "must be a string"));
                None
            }
        };
        let trigger = section(doc, "trigger", &mut errors, |v| {
            deserialize_at::<Trigger>(v).map_err(SpecErrors::from)
        })
        .unwrap_or_default();
        let source = section(doc, "source", &mut errors, |v| {
            KindSpec::parse(v, "").map_err(SpecErrors::from)
        });
        let when = section(doc, "when", &mut errors, Rule::parse).unwrap_or(Rule::Always);
        let lookups = section(doc, "lookup", &mut errors, parse_lookups).unwrap_or_default();
        let map = section(doc, "map", &mut errors, |v| FieldMap::new(v.clone()));
        let target = section(doc, "target", &mut errors, |v| {
            KindSpec::parse(v, "").map_err(SpecErrors::from)
        });
        if !doc.contains_key("target") {
            errors.push(
                SpecError::new("/target", "missing field \"target\"").with_hint(
                    "name where the flow delivers, e.g. {\"http.post\": {\"url\": \"https://…\"}}",
                ),
            );
        }
        let delivery = section(doc, "delivery", &mut errors, |v| {
            let policy: DeliveryPolicy = deserialize_at(v)?;
            let mut problems = SpecErrors::new();
            for (field, message) in policy.problems() {
                problems.push(SpecError::new(format!("/{field}"), message));
            }
            problems.into_result(policy)
        })
        .unwrap_or_default();
        let report = section(doc, "report", &mut errors, |v| {
            let policy: ReportPolicy = deserialize_at(v)?;
            let mut problems = SpecErrors::new();
            for (field, message) in policy.problems() {
                problems.push(SpecError::new(format!("/{field}"), message));
            }
            problems.into_result(policy)
        })
        .unwrap_or_default();
        match target {
            Some(target) if errors.is_empty() => Ok(FlowSpec {
                id,
                description,
                trigger,
                source,
                when,
                lookups,
                map,
                target,
                delivery,
                report,
            }),
            _ => Err(errors),
        }
    }

    /// Builds the flow: looks up every kind, connection and secret, and reports every
    /// problem with its JSON pointer.
    ///
    /// ```
    /// use hubflow::FlowSpec;
    /// use hubflow::spec::{Connections, MapSecrets, Registry};
    ///
    /// let spec = FlowSpec::from_json(r#"{
    ///     "id": "ops",
    ///     "target": {"http.post": {"connection": "ops", "path": "hooks"}}
    /// }"#).unwrap();
    /// let errors = spec.build(&Registry::default(), &Connections::new(), &MapSecrets::new()).unwrap_err();
    /// assert_eq!(errors.iter().next().unwrap().path, "/target/http.post/connection");
    /// ```
    pub fn build(
        &self,
        registry: &Registry,
        connections: &Connections,
        secrets: &dyn SecretResolver,
    ) -> Result<Flow, SpecErrors> {
        let cx = BuildContext::new(registry, connections, secrets);
        let mut errors = SpecErrors::new();
        let target_path = format!("/target/{}", pointer_token(&self.target.kind));
        let target = match registry.target(&self.target.kind) {
            Some(factory) => factory(&cx, &self.target.config)
                .map_err(|e| errors.extend(e.prefixed(&target_path)))
                .ok(),
            None => {
                errors.push(unknown_kind(
                    "/target",
                    "target",
                    &self.target.kind,
                    registry.target_kinds(),
                ));
                None
            }
        };
        let source = self.source.as_ref().and_then(|spec| {
            let path = format!("/source/{}", pointer_token(&spec.kind));
            match registry.source(&spec.kind) {
                Some(factory) => factory(&cx, &spec.config)
                    .map_err(|e| errors.extend(e.prefixed(&path)))
                    .ok(),
                None => {
                    errors.push(unknown_kind(
                        "/source",
                        "source",
                        &spec.kind,
                        registry.source_kinds(),
                    ));
                    None
                }
            }
        });
        let listed = self.lookups.len() > 1;
        let mut lookups = Vec::with_capacity(self.lookups.len());
        for (index, step) in self.lookups.iter().enumerate() {
            let at = if listed {
                format!("/lookup/{index}/from")
            } else {
                "/lookup/from".to_owned()
            };
            let directory = match registry.directory(&step.from.kind) {
                Some(factory) => factory(&cx, &step.from.config)
                    .map_err(|e| {
                        errors
                            .extend(e.prefixed(&format!("{at}/{}", pointer_token(&step.from.kind))))
                    })
                    .ok(),
                None => {
                    errors.push(unknown_kind(
                        &at,
                        "directory",
                        &step.from.kind,
                        registry.directory_kinds(),
                    ));
                    None
                }
            };
            if let Some(directory) = directory {
                let mut lookup = Lookup::with_directory(&step.field, &step.into, directory)
                    .on_missing(step.on_missing);
                if let Some(seconds) = step.cache_seconds {
                    lookup = lookup.cache_for(std::time::Duration::from_secs(seconds));
                }
                lookups.push(lookup);
            }
        }
        let Some(target) = target.filter(|_| errors.is_empty()) else {
            return Err(errors);
        };
        let mut builder = Flow::builder(self.id.clone())
            .trigger(self.trigger.clone())
            .when(self.when.clone())
            .target(target)
            .delivery(self.delivery.clone())
            .report(self.report.clone())
            .target_kind(self.target.kind.clone());
        for lookup in lookups {
            builder = builder.lookup(lookup);
        }
        if let Some(map) = &self.map {
            builder = builder.map(map.clone());
        }
        if let Some(source) = source {
            builder = builder.source_arc(source);
        }
        builder.build()
    }

    /// The spec as its JSON document.
    pub fn to_value(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("id".into(), Value::String(self.id.clone()));
        if let Some(text) = &self.description {
            doc.insert("description".into(), Value::String(text.clone()));
        }
        doc.insert(
            "trigger".into(),
            serde_json::to_value(&self.trigger).unwrap_or(Value::Null),
        );
        if let Some(source) = &self.source {
            doc.insert("source".into(), source.to_value());
        }
        doc.insert(
            "when".into(),
            serde_json::to_value(&self.when).unwrap_or(Value::Null),
        );
        match self.lookups.as_slice() {
            [] => {}
            [one] => {
                doc.insert("lookup".into(), one.to_value());
            }
            many => {
                doc.insert(
                    "lookup".into(),
                    Value::Array(many.iter().map(LookupSpec::to_value).collect()),
                );
            }
        }
        if let Some(map) = &self.map {
            doc.insert("map".into(), map.shape().clone());
        }
        doc.insert("target".into(), self.target.to_value());
        doc.insert(
            "delivery".into(),
            serde_json::to_value(&self.delivery).unwrap_or(Value::Null),
        );
        if self.report != ReportPolicy::default() {
            doc.insert(
                "report".into(),
                serde_json::to_value(&self.report).unwrap_or(Value::Null),
            );
        }
        Value::Object(doc)
    }
}

impl Serialize for FlowSpec {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for FlowSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        FlowSpec::from_value(&value).map_err(serde::de::Error::custom)
    }
}

/// Parses one optional top-level section, prefixing its errors with its pointer.
fn section<T>(
    doc: &Map<String, Value>,
    name: &str,
    errors: &mut SpecErrors,
    parse: impl FnOnce(&Value) -> Result<T, SpecErrors>,
) -> Option<T> {
    let value = doc.get(name)?;
    parse(value)
        .map_err(|e| errors.extend(e.prefixed(&format!("/{name}"))))
        .ok()
}

pub(crate) fn unknown_kind<'a>(
    path: &str,
    what: &str,
    kind: &str,
    known: impl Iterator<Item = &'a str>,
) -> SpecError {
    let known: Vec<_> = known.collect();
    let hint = if known.is_empty() {
        format!("no {what} kinds are registered in this build")
    } else {
        format!("registered {what} kinds: {}", known.join(", "))
    };
    SpecError::new(path, format!("unknown {what} kind \"{kind}\"")).with_hint(hint)
}

/// A JSON syntax error as a spec error at the document root, with line and column.
pub(crate) fn syntax_error(e: &serde_json::Error) -> SpecError {
    SpecError::new("", format!("not valid JSON: {e}"))
}

/// Deserializes with serde, locating the first error by JSON pointer (relative to `value`)
/// and moving serde's "expected one of …" into the hint.
pub(crate) fn deserialize_at<T: DeserializeOwned>(value: &Value) -> Result<T, SpecError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let mut path = String::new();
        for segment in e.path().iter() {
            match segment {
                serde_path_to_error::Segment::Seq { index } => path.push_str(&format!("/{index}")),
                serde_path_to_error::Segment::Map { key } => {
                    path.push_str(&format!("/{}", pointer_token(key)))
                }
                serde_path_to_error::Segment::Enum { variant } => {
                    path.push_str(&format!("/{}", pointer_token(variant)))
                }
                serde_path_to_error::Segment::Unknown => {}
            }
        }
        let message = e.into_inner().to_string();
        // Where serde's path stops at the parent of an unknown field, point at the field.
        if let Some(field) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
        {
            let token = format!("/{}", pointer_token(field));
            if !path.ends_with(&token) {
                path.push_str(&token);
            }
        }
        match message.split_once(", expected ") {
            Some((what, expected)) => {
                SpecError::new(path, what.to_owned()).with_hint(format!("expected {expected}"))
            }
            None => SpecError::new(path, message),
        }
    })
}

#[cfg(test)]
mod tests;
