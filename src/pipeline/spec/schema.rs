//! JSON Schemas of flow specs and of each kind's config (feature `schema`).
//!
//! What serde reads is described by deriving [`JsonSchema`] on the same types
//! ([`Trigger`], [`DeliveryPolicy`], [`ReportPolicy`], [`OnMissing`], the adapters'
//! configs), so a field cannot be added to one and not the other. What is parsed by hand
//! is described by hand, next to the parser's own lists: the document's fields
//! ([`FlowSpec::from_value`]'s list, checked by a test), the rule ([`Rule`]'s schema reads
//! [`Op::ALL`](crate::condition::Op::ALL)), the mapping, a kind (`{"<kind>": config}` or
//! the kind's name alone), and secrets.
//!
//! Choices of a kind are written so that a validator reports a mistake in a config where
//! it is: `properties` holds each kind's config schema and `oneOf` only picks the kind
//! (`{"required": ["http.post"]}`). A `oneOf` of whole configs would report any mistake
//! in one as "matches none of the kinds" at `/target`, where the loader says
//! `/target/http.post/url`.

use std::collections::BTreeMap;
use std::sync::Arc;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use schemars::generate::SchemaSettings;
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Map, Value};

use super::{Registry, SecretRef, SecretValue, FIELDS};
use crate::{pointer_token, DeliveryPolicy, FlowSpec, ReportPolicy, Rule, Trigger};

/// Where a kind of the [`Registry`] is used: a flow's `target` or `source`, a lookup's
/// `from`, or a conversation's `services`. Config schemas are kept per role, because one
/// name may be two kinds (`http.json` is a source and a directory, with different
/// configs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum KindRole {
    /// A flow's `target` ([`Registry::register_target`]).
    Target,
    /// A flow's `source` ([`Registry::register_source`]).
    Source,
    /// A lookup's `from` ([`Registry::register_directory`]).
    Directory,
    /// A conversation's service ([`Registry::register_service`]).
    Service,
}

impl KindRole {
    /// Every role.
    pub const ALL: &'static [KindRole] = &[
        KindRole::Target,
        KindRole::Source,
        KindRole::Directory,
        KindRole::Service,
    ];

    /// The role's name: `target`, `source`, `directory` or `service`.
    pub fn name(self) -> &'static str {
        match self {
            KindRole::Target => "target",
            KindRole::Source => "source",
            KindRole::Directory => "directory",
            KindRole::Service => "service",
        }
    }
}

/// Makes a config schema when asked: derived schemas are generated only when a host asks
/// for one, not each time a registry is made.
type SchemaFn = dyn Fn() -> Schema + Send + Sync;

/// The config schemas a [`Registry`] carries, by role and kind.
#[derive(Clone, Default)]
pub(super) struct KindSchemas(BTreeMap<(KindRole, String), Arc<SchemaFn>>);

impl KindSchemas {
    /// Forgets a kind's schema: registering the kind again replaces its factory, and the
    /// schema of the factory it replaced would describe another config.
    pub(super) fn forget(&mut self, role: KindRole, kind: &str) {
        self.0.remove(&(role, kind.to_owned()));
    }
}

impl Registry {
    /// Sets the JSON Schema of a kind's config, the object a spec writes under the kind's
    /// name: what [`Registry::flow_schema`] puts there and [`Registry::config_schema`]
    /// returns. Set it after registering the kind: registering a kind again forgets its
    /// schema. Every kind of [`Registry::default`] has one.
    ///
    /// A schema's own `$defs` and local `$ref`s (`#`, `#/$defs/…`) are moved along when
    /// it is put into the flow schema; other references are left as they are.
    ///
    /// ```
    /// use hubflow::spec::{KindRole, Registry};
    /// use hubflow::DynTarget;
    /// use hubflow::http_target::HttpTarget;
    ///
    /// let mut registry = Registry::default();
    /// registry.register_target("acme.ticket", |_cx, _config| {
    ///     Ok(DynTarget::new(HttpTarget::new("https://acme.example.com/tickets".parse().unwrap())))
    /// });
    /// registry.set_config_schema(KindRole::Target, "acme.ticket", schemars::json_schema!({
    ///     "type": "object",
    ///     "additionalProperties": false,
    ///     "required": ["queue"],
    ///     "properties": {"queue": {"type": "string"}},
    /// }));
    /// let schema = registry.config_schema(KindRole::Target, "acme.ticket").unwrap();
    /// assert_eq!(schema.get("required"), Some(&serde_json::json!(["queue"])));
    /// ```
    pub fn set_config_schema(
        &mut self,
        role: KindRole,
        kind: impl Into<String>,
        schema: Schema,
    ) -> &mut Self {
        self.schemas
            .0
            .insert((role, kind.into()), Arc::new(move || schema.clone()));
        self
    }

    /// Sets the schema of a kind's config to the one of `C`, the type its factory
    /// deserializes the config into (derive [`JsonSchema`] beside `Deserialize`, so the two
    /// agree). The schema is generated when it is asked for.
    ///
    /// ```
    /// use hubflow::spec::{KindRole, Registry};
    /// use hubflow::lookup::directory_fn;
    /// use hubflow::Directory;
    /// use serde::Deserialize;
    /// use std::sync::Arc;
    ///
    /// /// The config of `acme.staff`.
    /// #[derive(Deserialize, schemars::JsonSchema)]
    /// #[serde(deny_unknown_fields)]
    /// struct StaffConfig {
    ///     /// The department whose staff is looked up.
    ///     department: String,
    /// }
    ///
    /// let mut registry = Registry::default();
    /// registry.register_directory("acme.staff", |cx, config| {
    ///     let config: StaffConfig = cx.deserialize(config)?;
    ///     let staff = directory_fn("Acme's staff", move |_name| Some(config.department.clone().into()));
    ///     Ok(Arc::new(staff) as Arc<dyn Directory>)
    /// });
    /// registry.set_config_schema_of::<StaffConfig>(KindRole::Directory, "acme.staff");
    /// let schema = registry.config_schema(KindRole::Directory, "acme.staff").unwrap();
    /// assert_eq!(schema.get("additionalProperties"), Some(&serde_json::json!(false)));
    /// ```
    pub fn set_config_schema_of<C: JsonSchema>(
        &mut self,
        role: KindRole,
        kind: impl Into<String>,
    ) -> &mut Self {
        self.set_config_schema_with(role, kind, config_schema_of::<C>)
    }

    /// Sets a kind's config schema to what `make` returns, when it is asked for: for
    /// schemas that are costly to make (the conversation target's is a large document).
    pub(crate) fn set_config_schema_with(
        &mut self,
        role: KindRole,
        kind: impl Into<String>,
        make: fn() -> Schema,
    ) -> &mut Self {
        self.schemas.0.insert((role, kind.into()), Arc::new(make));
        self
    }

    /// The JSON Schema of a kind's config, if one was set (see
    /// [`Registry::set_config_schema`]).
    ///
    /// ```
    /// use hubflow::spec::{KindRole, Registry};
    ///
    /// let registry = Registry::default();
    /// let map = registry.config_schema(KindRole::Directory, "map").unwrap();
    /// assert_eq!(map.get("required"), Some(&serde_json::json!(["entries"])));
    /// assert!(registry.config_schema(KindRole::Target, "acme.ticket").is_none());
    /// ```
    pub fn config_schema(&self, role: KindRole, kind: &str) -> Option<Schema> {
        self.schemas
            .0
            .get(&(role, kind.to_owned()))
            .map(|make| make())
    }

    /// The JSON Schema of a flow spec built from this registry: [`FlowSpec::json_schema`]
    /// with `target`, `source` and each lookup's `from` narrowed to the registered kinds of
    /// their role, each with its config schema. A kind without one takes any config; a
    /// kind whose config may be empty may also be written as its bare name.
    ///
    /// Each choice is an object of one property: `properties` has every kind's config,
    /// `oneOf` picks one kind (a form shows it as a choice). What
    /// [`FlowSpec::build`] would refuse for a kind it does not know, a field it does not
    /// know, a missing field or a value of the wrong type fails the schema, at the same
    /// instance path (for an unknown field, the path of the object holding it). Checks
    /// that need the host's setup (connections, secrets) or that JSON Schema cannot say
    /// (that a URL parses, that a template compiles) stay with the loader.
    ///
    /// ```
    /// use hubflow::spec::Registry;
    /// use serde_json::json;
    ///
    /// let schema = Registry::default().flow_schema();
    /// let target = &schema.as_value()["$defs"]["target"];
    /// assert!(target["properties"]["http.post"].is_object());
    /// assert!(target["oneOf"].as_array().unwrap().contains(
    ///     &json!({"title": "http.post", "type": "object", "required": ["http.post"]})
    /// ));
    /// ```
    pub fn flow_schema(&self) -> Schema {
        flow_document(
            "The spec of a flow built from a registry of kinds: `target`, `source` and a \
             lookup's `from` name registered kinds, each with its config.",
            |role, defs| self.kind_choice(role, defs),
        )
    }

    /// The registered kinds of a role, sorted.
    fn kinds_of(&self, role: KindRole) -> Vec<&str> {
        match role {
            KindRole::Target => self.target_kinds().collect(),
            KindRole::Source => self.source_kinds().collect(),
            KindRole::Directory => self.directory_kinds().collect(),
            KindRole::Service => self.service_kinds().collect(),
        }
    }

    /// A choice of one registered kind of `role` with its config; the configs' schemas go
    /// into `defs`.
    fn kind_choice(&self, role: KindRole, defs: &mut Map<String, Value>) -> Value {
        let kinds = self.kinds_of(role);
        if kinds.is_empty() {
            return json!({
                "description": format!("No {} kinds are registered.", role.name()),
                "not": {},
            });
        }
        let mut properties = Map::new();
        let mut choices = Vec::new();
        for kind in kinds {
            choices.push(json!({"title": kind, "type": "object", "required": [kind]}));
            let config = match self.config_schema(role, kind) {
                Some(schema) => {
                    let schema = schema.to_value();
                    if admits_empty_object(&schema) {
                        choices.push(json!({"title": kind, "const": kind}));
                    }
                    let name = format!("{}:{kind}", role.name());
                    embed(schema, &name, kind, defs);
                    json!({"$ref": def_ref(&name)})
                }
                None => {
                    choices.push(json!({"title": kind, "const": kind}));
                    json!({"description": format!("The config of {kind}.")})
                }
            };
            properties.insert(kind.to_owned(), config);
        }
        let what = match role {
            KindRole::Target => "Where the flow delivers",
            KindRole::Source => "Where the flow pulls records from",
            KindRole::Directory => "The directory",
            KindRole::Service => "The service",
        };
        json!({
            "description": format!(
                "{what}: {{\"<{} kind>\": config}} naming one registered kind, or the name \
                 alone for a kind whose config may be empty.",
                role.name()
            ),
            "type": ["object", "string"],
            "minProperties": 1,
            "maxProperties": 1,
            "properties": properties,
            "oneOf": choices,
        })
    }
}

impl FlowSpec {
    /// The JSON Schema (draft 2020-12) of a flow spec document, whatever kinds a host
    /// registers: `target`, `source` and a lookup's `from` are any kind
    /// (`{"<kind>": config}` or the kind's name), with any config. What
    /// [`FlowSpec::from_value`] accepts validates; what it refuses for a reason of
    /// structure (an unknown field, a value of the wrong type, an unknown operator) does
    /// not. [`Registry::flow_schema`] narrows the kinds to a registry's, with their
    /// configs.
    ///
    /// ```
    /// use hubflow::FlowSpec;
    ///
    /// let schema = FlowSpec::json_schema();
    /// assert_eq!(schema.get("required"), Some(&serde_json::json!(["id", "target"])));
    /// let properties = schema.get("properties").and_then(|p| p.as_object()).unwrap();
    /// assert!(properties.contains_key("delivery"));
    /// ```
    pub fn json_schema() -> Schema {
        flow_document(
            "The spec of a flow (hubflow::FlowSpec); kinds and their configs are checked \
             against the host's registry when the flow is built.",
            |role, _defs| open_kind(role),
        )
    }
}

/// The flow document, with `$defs/target`, `$defs/source` and `$defs/directory` made by
/// `kinds`, which may add definitions of its own.
fn flow_document(
    description: &str,
    mut kinds: impl FnMut(KindRole, &mut Map<String, Value>) -> Value,
) -> Schema {
    let mut generator = SchemaGenerator::new(SchemaSettings::draft2020_12());
    let trigger = generator.subschema_for::<Trigger>();
    let rule = generator.subschema_for::<Rule>();
    let delivery = generator.subschema_for::<DeliveryPolicy>();
    let report = generator.subschema_for::<ReportPolicy>();
    let lookup_step = generator.subschema_for::<super::LookupFields>();
    let mut defs = generator.take_definitions(true);
    if let Some(trigger) = defs.get_mut("Trigger") {
        pick_by_tag(trigger);
    }
    for role in [KindRole::Target, KindRole::Source, KindRole::Directory] {
        let choice = kinds(role, &mut defs);
        defs.insert(role.name().to_owned(), choice);
    }
    let described = |schema: Schema, description: &str| {
        let mut value = schema.to_value();
        value["description"] = json!(description);
        value
    };
    let mut properties = Map::new();
    for &field in FIELDS {
        let property = match field {
            "id" => json!({
                "description": "The flow's stable, unique id: the key of its cursors, claims \
                    and history. Not blank.",
                "type": "string",
                "pattern": "\\S",
            }),
            "description" => json!({
                "description": "A note for people; not used by hubflow.",
                "type": ["string", "null"],
            }),
            "trigger" => described(
                trigger.clone(),
                "When the host runs the flow (default \"manual\").",
            ),
            "source" => json!({
                "description": "The source the flow pulls records from; without one, the \
                    host passes records in (webhooks).",
                "$ref": "#/$defs/source",
            }),
            "when" => described(
                rule.clone(),
                "Which records the flow acts on (default \"always\").",
            ),
            "lookup" => json!({
                "description": "Lookups between the condition and the mapping: one step, or \
                    a list of them run in order.",
                "type": ["object", "array"],
                "if": {"type": "array"},
                "then": {"items": lookup_step.clone()},
                "else": lookup_step.clone(),
            }),
            "map" => field_map(),
            "target" => json!({
                "description": "Where the flow delivers.",
                "$ref": "#/$defs/target",
            }),
            "delivery" => described(
                delivery.clone(),
                "How the flow delivers: attempts, backoff, concurrency, rate, claims. Every \
                 field is optional; durations are in milliseconds.",
            ),
            "report" => described(report.clone(), "What the flow's run reports keep."),
            // `FIELDS` is the loader's list; a test checks that each has its schema here.
            other => json!({"description": format!("The spec's `{other}`.")}),
        };
        properties.insert(field.to_owned(), property);
    }
    let mut schema = json_schema!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "hubflow flow spec",
        "type": "object",
        "additionalProperties": false,
        "required": ["id", "target"],
    });
    schema.insert(
        "description".into(),
        json!(format!(
            "{description} Integers are written without a fraction (`3`, not `3.0`). \
             Checks this schema cannot express stay with FlowSpec::from_json and \
             FlowSpec::build, each error at its JSON pointer: templates compile, a \
             `matches` pattern compiles, rules nest at most 64 levels, `base_delay_ms` is \
             at most `max_delay_ms`, and connections and secrets exist."
        )),
    );
    schema.insert("properties".into(), Value::Object(properties));
    schema.insert("$defs".into(), Value::Object(defs));
    schema
}

/// Rewrites the `oneOf` schemars derives for an externally tagged enum (unit variants as
/// strings, the others as `{"<variant>": fields}`) the way kinds are written: a string
/// names a unit variant, and an object holds exactly one of the variants' properties. A
/// `oneOf` of whole variants would report a mistake inside one (`{"every": {"seconds":
/// "60"}}`) only at the enum's own path; with `if`/`then`/`else` and `properties` the
/// validator reports it at `/trigger/every/seconds`, where the loader does. A schema of
/// another shape is left as it is.
fn pick_by_tag(schema: &mut Value) {
    let Some(variants) = schema.get("oneOf").and_then(Value::as_array) else {
        return;
    };
    let mut names = Vec::new();
    let mut tagged = Map::new();
    for variant in variants {
        let strings = variant
            .get("enum")
            .and_then(Value::as_array)
            .cloned()
            .or_else(|| variant.get("const").map(|name| vec![name.clone()]));
        if let Some(strings) = strings {
            names.extend(strings);
            continue;
        }
        let properties = variant.get("properties").and_then(Value::as_object);
        let Some((tag, fields)) = properties
            .filter(|p| p.len() == 1)
            .and_then(|p| p.iter().next())
        else {
            return;
        };
        let mut fields = fields.clone();
        // The variant's doc comment is the description of its property.
        if let (Some(description), Some(object)) =
            (variant.get("description"), fields.as_object_mut())
        {
            object
                .entry("description")
                .or_insert_with(|| description.clone());
        }
        tagged.insert(tag.clone(), fields);
    }
    let mut picked = json!({
        "type": ["string", "object"],
        "if": {"type": "string"},
        "then": {"enum": names},
        "else": {
            "properties": tagged,
            "additionalProperties": false,
            "minProperties": 1,
            "maxProperties": 1,
        },
    });
    if let Some(description) = schema.get("description") {
        picked["description"] = description.clone();
    }
    *schema = picked;
}

/// Any kind of `role` with any config: `{"<kind>": config}` or the kind's name alone.
fn open_kind(role: KindRole) -> Value {
    json!({
        "description": format!(
            "A {} kind of the host's registry with its config, {{\"<kind>\": config}}, or the \
             kind's name alone for an empty config.",
            role.name()
        ),
        "type": ["object", "string"],
        "minProperties": 1,
        "maxProperties": 1,
    })
}

/// The mapping ([`FieldMap`](crate::FieldMap)): any JSON value, whose strings are templates.
fn field_map() -> Value {
    json!({
        "description": "The payload's shape: any JSON value, each string in it a template \
            (minijinja syntax) rendered against the record, e.g. {\"folio\": \
            \"{{ wo_folio }}\", \"who\": \"{{ user_assigned | upper }}\"}. Without it the \
            record's data is the payload.",
    })
}

/// Stands for a lookup's `from` in the derived schema of a lookup step: the flow
/// document's `$defs/directory`, which [`flow_document`] fills in.
pub(super) struct DirectoryChoice;

impl JsonSchema for DirectoryChoice {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DirectoryChoice".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"$ref": "#/$defs/directory"})
    }
}

impl JsonSchema for SecretRef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretRef".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        "hubflow::spec::SecretRef".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A secret by name, {\"secret\": \"NAME\"}; the host's secret store \
                has the value. A secret is never written in a spec.",
            "type": "object",
            "additionalProperties": false,
            "required": ["secret"],
            "properties": {
                "secret": {
                    "description": "The secret's name, e.g. WHATSAPP_TOKEN. Not blank.",
                    "type": "string",
                    "pattern": "\\S",
                },
            },
        })
    }
}

impl JsonSchema for SecretValue {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretValue".into()
    }

    fn schema_id() -> std::borrow::Cow<'static, str> {
        "hubflow::spec::SecretValue".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let secret = generator.subschema_for::<SecretRef>();
        let mut schema = json_schema!({
            "description": "Plain text, or a secret by name {\"secret\": \"NAME\"}.",
            "type": ["string", "object"],
            "if": {"type": "object"},
        });
        schema.insert("then".into(), secret.to_value());
        schema
    }
}

/// The root schema of `C`, draft 2020-12.
fn config_schema_of<C: JsonSchema>() -> Schema {
    SchemaGenerator::new(SchemaSettings::draft2020_12()).into_root_schema_for::<C>()
}

/// Whether `{}` passes the top of a config schema (through a `$ref` to its own
/// definitions): no required field, and a type that admits objects. It decides whether a
/// kind may be written as its bare name, which the loader reads as an empty config.
fn admits_empty_object(schema: &Value) -> bool {
    let top = match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => local_def(reference)
            .and_then(|name| schema.get("$defs")?.get(name))
            .unwrap_or(schema),
        None => schema,
    };
    match top {
        Value::Bool(admits) => *admits,
        Value::Object(map) => {
            let required = map
                .get("required")
                .and_then(Value::as_array)
                .is_some_and(|fields| !fields.is_empty());
            let typed = match map.get("type") {
                None => true,
                Some(Value::String(one)) => one == "object",
                Some(Value::Array(many)) => many.iter().any(|t| t == "object"),
                Some(_) => false,
            };
            !required && typed
        }
        _ => false,
    }
}

/// Puts a standalone schema into `defs` as `name`, its own definitions beside it as
/// `name:<definition>`, every local reference pointed at the new places; titled `kind`.
fn embed(schema: Value, name: &str, kind: &str, defs: &mut Map<String, Value>) {
    let Value::Object(mut body) = schema else {
        // `true` or `false`: nothing inside to move.
        defs.insert(name.to_owned(), schema);
        return;
    };
    let own: Vec<(String, Value)> = ["$defs", "definitions"]
        .iter()
        .filter_map(|key| match body.remove(*key) {
            Some(Value::Object(map)) => Some(map),
            _ => None,
        })
        .flatten()
        .collect();
    // The body is no longer a document of its own.
    body.remove("$schema");
    body.remove("$id");
    body.insert("title".into(), json!(kind));
    let mut body = Value::Object(body);
    rebase(&mut body, name);
    defs.insert(name.to_owned(), body);
    for (def, mut schema) in own {
        rebase(&mut schema, name);
        defs.insert(format!("{name}:{def}"), schema);
    }
}

/// Points the local references of a schema moved to `$defs/<name>` at the new places:
/// `#` and pointers into the document at the body, `#/$defs/x` at `$defs/<name>:x`.
fn rebase(schema: &mut Value, name: &str) {
    rewrite_refs(schema, &|reference| rebased(reference, name));
}

/// Replaces each `$ref` of `schema` that `rewrite` maps to a new reference; the others stay.
pub(crate) fn rewrite_refs(schema: &mut Value, rewrite: &dyn Fn(&str) -> Option<String>) {
    match schema {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                if let Some(moved) = rewrite(reference) {
                    *reference = moved;
                }
            }
            for (key, value) in map.iter_mut() {
                // These hold instances, not schemas: a `$ref` inside is data.
                if !matches!(key.as_str(), "const" | "enum" | "default" | "examples") {
                    rewrite_refs(value, rewrite);
                }
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|item| rewrite_refs(item, rewrite)),
        _ => {}
    }
}

fn rebased(reference: &str, name: &str) -> Option<String> {
    let pointer = reference.strip_prefix('#')?;
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        // A plain-name fragment (`$anchor`) is not a place in the document.
        return None;
    }
    if let Some(def) = local_def(reference) {
        let rest = pointer
            .split('/')
            .skip(3)
            .fold(String::new(), |rest, token| rest + "/" + token);
        return Some(format!("{}{rest}", def_ref(&format!("{name}:{def}"))));
    }
    Some(format!("{}{pointer}", def_ref(name)))
}

/// The definition a local reference `#/$defs/<name>…` names, decoded.
fn local_def(reference: &str) -> Option<String> {
    let pointer = reference.strip_prefix('#')?;
    let mut tokens = pointer.split('/').skip(1);
    let (Some("$defs" | "definitions"), Some(token)) = (tokens.next(), tokens.next()) else {
        return None;
    };
    let token = percent_decode_str(token).decode_utf8().ok()?;
    Some(token.replace("~1", "/").replace("~0", "~"))
}

/// What a definition's name keeps unescaped in a `$ref` fragment: letters, digits and
/// `-._~:` (kind names are `target:http.post`).
const FRAGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b':');

/// `#/$defs/<name>`, escaped as a JSON pointer token and then as a URI fragment.
fn def_ref(name: &str) -> String {
    format!(
        "#/$defs/{}",
        utf8_percent_encode(&pointer_token(name), FRAGMENT)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_the_loader_has_its_own_schema() {
        let schema = FlowSpec::json_schema();
        let properties = schema
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let keys: Vec<&str> = properties.keys().map(String::as_str).collect();
        let mut fields = FIELDS.to_vec();
        fields.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, fields);
        for (field, property) in &properties {
            let description = property["description"].as_str().unwrap_or_default();
            assert!(
                !description.starts_with("The spec's `"),
                "{field} has no schema of its own"
            );
        }
    }

    #[test]
    fn embedding_moves_definitions_and_points_references_at_them() {
        let mut defs = Map::new();
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": "AcmeConfig",
            "type": "object",
            "properties": {
                "route": {"$ref": "#/$defs/Route"},
                "again": {"$ref": "#"},
                "deep": {"$ref": "#/properties/route"},
                "odd": {"$ref": "#/$defs/a~1b%20c/properties/x"},
                "far": {"$ref": "https://example.com/schema.json"},
                "data": {"const": {"$ref": "#/$defs/Route"}},
            },
            "$defs": {"Route": {"type": "string"}, "a/b c": {"type": "object"}},
        });
        embed(schema, "target:acme.x", "acme.x", &mut defs);
        let body = &defs["target:acme.x"];
        assert_eq!(body["title"], "acme.x");
        assert!(body.get("$schema").is_none() && body.get("$defs").is_none());
        let properties = &body["properties"];
        assert_eq!(properties["route"]["$ref"], "#/$defs/target:acme.x:Route");
        assert_eq!(properties["again"]["$ref"], "#/$defs/target:acme.x");
        assert_eq!(
            properties["deep"]["$ref"],
            "#/$defs/target:acme.x/properties/route"
        );
        assert_eq!(
            properties["odd"]["$ref"],
            "#/$defs/target:acme.x:a~1b%20c/properties/x"
        );
        assert_eq!(properties["far"]["$ref"], "https://example.com/schema.json");
        assert_eq!(properties["data"]["const"]["$ref"], "#/$defs/Route");
        assert_eq!(defs["target:acme.x:Route"], json!({"type": "string"}));
        assert!(defs.contains_key("target:acme.x:a/b c"));
    }

    #[test]
    fn an_empty_config_is_admitted_only_without_required_fields() {
        assert!(admits_empty_object(&json!(true)));
        assert!(!admits_empty_object(&json!(false)));
        assert!(admits_empty_object(
            &json!({"type": "object", "properties": {"a": {}}})
        ));
        assert!(!admits_empty_object(
            &json!({"type": "object", "required": ["a"]})
        ));
        assert!(!admits_empty_object(&json!({"type": "string"})));
        assert!(!admits_empty_object(&json!({
            "$ref": "#/$defs/target",
            "$defs": {"target": {"type": "object", "required": ["send"]}},
        })));
    }
}
