//! [`FieldMap`]: a JSON shape whose template leaves are compiled once, then rendered for
//! each record.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use minijinja::{Environment, ErrorKind};
use serde_json::Value;

use super::direct::Direct;
use super::env::{check_arguments, environment, filter_exists, syntax_error, unknown_filter};
use super::filters::Failure;
use super::scan::{filter_uses, path_uses, scan, simple, FilterUse, PathUse};
use super::{MapError, Mapper};
use crate::{pointer_token, Record, SpecErrors};

/// A JSON shape whose string leaves are templates, compiled once and rendered per record.
///
/// Cloning is cheap: the compiled templates are shared.
///
/// ```
/// use hubflow::{FieldMap, MapError, Mapper, Record};
/// use serde_json::json;
///
/// let map = FieldMap::new(json!({
///     "to": "{{ chat.phone | phone('BR') }}",
///     "type": "text",
///     "text": {"body": "Hello {{ chat.name | default('there') }}: {{ messages[0].text }}"},
/// }))?;
/// assert_eq!(map.fields(), ["chat.name", "chat.phone", "messages"]);
///
/// let record = Record::new("k", "test", json!({
///     "chat": {"phone": "+55 11 99999-1234"},
///     "messages": [{"text": "OT-881 done"}],
/// }));
/// assert_eq!(
///     map.map(&record)?,
///     json!({"to": "5511999991234", "type": "text", "text": {"body": "Hello there: OT-881 done"}})
/// );
///
/// let empty = Record::new("k", "test", json!({"chat": {"phone": "11999991234"}}));
/// assert_eq!(
///     map.map(&empty),
///     Err(MapError::MissingField { template: "/text/body".into(), field: "messages.0.text".into() })
/// );
///
/// let bad = FieldMap::new(json!({"to": "{{ phone | phne('BR') }}", "at": "{{ x | date('%Q') }}"}))
///     .unwrap_err();
/// assert_eq!(bad.len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct FieldMap {
    pub(super) inner: Arc<Compiled>,
}

/// Everything built once per shape.
pub(super) struct Compiled {
    shape: Value,
    env: Environment<'static>,
    plan: Node,
    leaves: Vec<Leaf>,
    /// Top-level variables any template may read: only these go into the render context.
    variables: Vec<String>,
    fields: Vec<String>,
}

/// The output shape with template leaves replaced by their index in `leaves`.
enum Node {
    Literal(Value),
    Template(usize),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

/// One template leaf and what static analysis found in it.
struct Leaf {
    pointer: String,
    source: String,
    filters: Vec<FilterUse>,
    /// Record paths the template reads, in source order, for naming a missing field.
    paths: Vec<PathUse>,
    /// The leaf read straight from the record, when it is a field through constant filters.
    direct: Option<Direct>,
}

impl fmt::Debug for FieldMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FieldMap")
            .field("shape", &self.inner.shape)
            .finish_non_exhaustive()
    }
}

impl FieldMap {
    /// Compiles every template leaf of `shape`.
    ///
    /// Returns every problem found, each at the JSON pointer of its leaf: template syntax
    /// errors, unknown filters, and invalid constant arguments of `date` (format, time
    /// zone) and `phone` (country).
    pub fn new(shape: Value) -> Result<FieldMap, SpecErrors> {
        let mut env = environment();

        let mut leaves = Vec::new();
        let plan = plan(&shape, &mut String::new(), &mut leaves);
        let mut errors = SpecErrors::new();
        let mut known_filters = HashMap::new();
        let mut variables = BTreeSet::new();
        let mut fields = BTreeSet::new();
        for leaf in &mut leaves {
            if let Err(e) = env.add_template_owned(leaf.pointer.clone(), leaf.source.clone()) {
                errors.push(syntax_error(&leaf.pointer, &e));
                continue;
            }
            let Ok(template) = env.get_template(&leaf.pointer) else {
                // Just added under this name; nothing to analyse if that ever changes.
                continue;
            };
            let top: HashSet<String> = template.undeclared_variables(false);
            let nested: HashSet<String> = template.undeclared_variables(true);
            let state = env.empty_state();
            let is_global = |name: &str| state.lookup(name).is_some();
            fields.extend(
                nested
                    .into_iter()
                    .filter(|path| !is_global(path.split('.').next().unwrap_or(path))),
            );
            let record_vars: HashSet<&str> = top
                .iter()
                .map(String::as_str)
                .filter(|name| !is_global(name))
                .collect();
            let regions = scan(&leaf.source);
            leaf.filters = filter_uses(&regions);
            leaf.paths = path_uses(&regions, &record_vars);
            // A record variable of minijinja's own analysis, so never a global or a local.
            leaf.direct = simple(&leaf.source)
                .filter(|simple| record_vars.contains(simple.path[0]))
                .as_ref()
                .and_then(Direct::new);
            variables.extend(top);
            for used in &leaf.filters {
                let known = *known_filters
                    .entry(used.name.clone())
                    .or_insert_with(|| filter_exists(&env, &used.name));
                if !known {
                    errors.push(unknown_filter(&leaf.pointer, &used.name));
                }
                check_arguments(&leaf.pointer, used, &mut errors);
            }
        }
        let compiled = Compiled {
            shape,
            env,
            plan,
            leaves,
            variables: variables.into_iter().collect(),
            fields: fields.into_iter().collect(),
        };
        errors.into_result(FieldMap {
            inner: Arc::new(compiled),
        })
    }

    /// The shape this map was built from.
    pub fn shape(&self) -> &Value {
        &self.inner.shape
    }

    /// The record fields the templates reference, sorted, as minijinja's static analysis
    /// sees them: attribute chains are dotted (`chat.phone`), a subscript ends the path
    /// (`messages[0].text` and `messages.0.text` give `messages`). Variables the templates
    /// set themselves and minijinja's globals (`range`, …) are not included.
    pub fn fields(&self) -> Vec<String> {
        self.inner.fields.clone()
    }
}

impl Mapper for FieldMap {
    fn map(&self, record: &Record) -> Result<Value, MapError> {
        self.inner
            .render(&self.inner.plan, &mut Leaves::new(record, true))
    }
}

/// What rendering one record's leaves needs, shared by all of them.
struct Leaves<'r> {
    record: &'r Record,
    /// Whether leaves with a direct form use it (the tests turn it off to compare).
    direct: bool,
    /// The template context, made the first time a leaf needs the template engine.
    context: Option<minijinja::Value>,
}

impl<'r> Leaves<'r> {
    fn new(record: &'r Record, direct: bool) -> Self {
        Leaves {
            record,
            direct,
            context: None,
        }
    }
}

#[cfg(test)]
impl FieldMap {
    /// [`Mapper::map`] with every leaf rendered by the template engine, none directly: what
    /// the direct forms must agree with.
    pub(super) fn map_templated(&self, record: &Record) -> Result<Value, MapError> {
        self.inner
            .render(&self.inner.plan, &mut Leaves::new(record, false))
    }

    /// Whether every template leaf has a direct form.
    pub(super) fn is_direct(&self) -> bool {
        self.inner.leaves.iter().all(|leaf| leaf.direct.is_some())
    }
}

impl Compiled {
    fn render(&self, node: &Node, leaves: &mut Leaves<'_>) -> Result<Value, MapError> {
        Ok(match node {
            Node::Literal(value) => value.clone(),
            Node::Template(index) => {
                let Some(leaf) = self.leaves.get(*index) else {
                    // Plan and leaves are built together; an index is always in range.
                    return Err(MapError::Invalid {
                        message: "field map plan out of sync".into(),
                    });
                };
                let direct = leaf
                    .direct
                    .as_ref()
                    .filter(|_| leaves.direct)
                    .and_then(|direct| direct.evaluate(&leaves.record.data));
                if let Some(text) = direct {
                    return Ok(Value::String(text));
                }
                let record = leaves.record;
                let context = leaves.context.get_or_insert_with(|| self.context(record));
                let rendered = self
                    .env
                    .get_template(&leaf.pointer)
                    .and_then(|template| template.render(&*context))
                    .map_err(|e| leaf.error(&e, record))?;
                Value::String(rendered)
            }
            Node::Array(items) => {
                // Sized up front: collecting `Result`s does not know the length.
                let mut array = Vec::with_capacity(items.len());
                for item in items {
                    array.push(self.render(item, leaves)?);
                }
                Value::Array(array)
            }
            Node::Object(entries) => {
                // One insert at a time: collecting would gather and sort the entries first.
                let mut object = serde_json::Map::new();
                for (key, item) in entries {
                    object.insert(key.clone(), self.render(item, leaves)?);
                }
                Value::Object(object)
            }
        })
    }

    /// The template context of `record`: only the variables the templates read are
    /// converted, once for all leaves, and without cloning the record's JSON.
    fn context(&self, record: &Record) -> minijinja::Value {
        let mut context: BTreeMap<&str, &Value> = BTreeMap::new();
        if let Value::Object(data) = &record.data {
            for name in &self.variables {
                if let Some(value) = data.get(name) {
                    context.insert(name, value);
                }
            }
        }
        minijinja::Value::from_serialize(&context)
    }
}

/// Whether a string leaf is a template rather than a literal.
fn is_template(s: &str) -> bool {
    s.contains("{{") || s.contains("{%")
}

/// Builds the render plan, collecting template leaves with their pointers.
fn plan(value: &Value, pointer: &mut String, leaves: &mut Vec<Leaf>) -> Node {
    let node = match value {
        Value::String(s) if is_template(s) => {
            leaves.push(Leaf {
                pointer: pointer.clone(),
                source: s.clone(),
                filters: Vec::new(),
                paths: Vec::new(),
                direct: None,
            });
            return Node::Template(leaves.len() - 1);
        }
        Value::Array(items) => Node::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| child(item, pointer, &i.to_string(), leaves))
                .collect(),
        ),
        Value::Object(map) => Node::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), child(item, pointer, key, leaves)))
                .collect(),
        ),
        _ => return Node::Literal(value.clone()),
    };
    // A subtree without templates is copied in one piece.
    let literal = match &node {
        Node::Array(items) => items.iter().all(|n| matches!(n, Node::Literal(_))),
        Node::Object(entries) => entries.iter().all(|(_, n)| matches!(n, Node::Literal(_))),
        _ => false,
    };
    if literal {
        Node::Literal(value.clone())
    } else {
        node
    }
}

fn child(value: &Value, pointer: &mut String, token: &str, leaves: &mut Vec<Leaf>) -> Node {
    let len = pointer.len();
    pointer.push('/');
    pointer.push_str(&pointer_token(token));
    let node = plan(value, pointer, leaves);
    pointer.truncate(len);
    node
}

impl Leaf {
    /// Turns a render error into the matching [`MapError`].
    fn error(&self, e: &minijinja::Error, record: &Record) -> MapError {
        let template = self.pointer.clone();
        let mut source = std::error::Error::source(e);
        while let Some(cause) = source {
            if let Some(failure) = cause.downcast_ref::<Failure>() {
                return match failure.clone() {
                    Failure::Phone { value, reason } => MapError::InvalidPhone {
                        template,
                        value,
                        reason,
                    },
                    Failure::Date { value, reason } => MapError::InvalidDate {
                        template,
                        value,
                        reason,
                    },
                    Failure::Filter { filter, message } => MapError::Filter {
                        template,
                        filter: filter.to_owned(),
                        message,
                    },
                };
            }
            source = cause.source();
        }
        let range = e.range();
        if e.kind() == ErrorKind::UndefinedError {
            return MapError::MissingField {
                template,
                field: self.missing_field(range, record),
            };
        }
        let message = match e.detail() {
            Some(detail) => format!("{}: {detail}", e.kind()),
            None => e.kind().to_string(),
        };
        let filter = range.and_then(|range| {
            self.filters
                .iter()
                .find(|used| range.contains(&used.start))
                .map(|used| used.name.clone())
        });
        match filter {
            Some(filter) => MapError::Filter {
                template,
                filter,
                message,
            },
            None => MapError::Render { template, message },
        }
    }

    /// Names the field behind an undefined-value error: of the paths the template reads
    /// that the record lacks, the last one starting before the end of the failing
    /// expression (a `default` may have rescued earlier ones). Falls back to the failing
    /// expression's text.
    fn missing_field(&self, range: Option<Range<usize>>, record: &Record) -> String {
        let end = range.as_ref().map_or(usize::MAX, |r| r.end);
        let missing = |used: &&PathUse| record.get(&used.path).is_none();
        let best = self
            .paths
            .iter()
            .rev()
            .filter(|used| used.start < end)
            .find(missing)
            .or_else(|| self.paths.iter().find(missing));
        match (best, range) {
            (Some(used), _) => used.path.clone(),
            (None, Some(range)) => self
                .source
                .get(range)
                .map(|s| s.trim().trim_start_matches('.').to_owned())
                .unwrap_or_default(),
            (None, None) => String::new(),
        }
    }
}
