use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use minijinja::value::ValueKind;
use minijinja::{AutoEscape, Environment, ErrorKind, UndefinedBehavior};
use serde_json::Value;

use super::filters::{self, Failure};
use super::Mapper;
use crate::{pointer_token, Record, SpecError, SpecErrors};

/// Why a record could not be mapped.
///
/// `template` is the JSON pointer of the shape leaf whose template failed (`/body/1`);
/// `""` is a shape that is itself a single template string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The template references a field the record does not have (and no `default`).
    #[error("{}: missing field `{field}`", shown(template))]
    MissingField {
        /// Pointer of the template leaf.
        template: String,
        /// Dotted path of the missing field, e.g. `chat.phone`.
        field: String,
    },
    /// `phone` could not make a valid number of the value.
    #[error("{}: invalid phone number {value:?}: {reason}", shown(template))]
    InvalidPhone {
        /// Pointer of the template leaf.
        template: String,
        /// The value, shortened when long.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `date` could not read the value as an instant.
    #[error("{}: invalid date {value:?}: {reason}", shown(template))]
    InvalidDate {
        /// Pointer of the template leaf.
        template: String,
        /// The value, shortened when long.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A filter was used with arguments it cannot work with.
    #[error("{}: filter `{filter}`: {message}", shown(template))]
    Filter {
        /// Pointer of the template leaf.
        template: String,
        /// The filter's name.
        filter: String,
        /// What went wrong.
        message: String,
    },
    /// The template failed for another reason (e.g. an invalid operation on a value).
    #[error("{}: {message}", shown(template))]
    Render {
        /// Pointer of the template leaf.
        template: String,
        /// What went wrong.
        message: String,
    },
    /// A custom mapper's own failure.
    #[error("{message}")]
    Invalid {
        /// What went wrong.
        message: String,
    },
}

/// The whole document's pointer is empty; show it as `/` like [`SpecError`] does.
fn shown(pointer: &str) -> &str {
    if pointer.is_empty() {
        "/"
    } else {
        pointer
    }
}

impl MapError {
    /// The JSON pointer of the template that failed, when a template failed.
    ///
    /// ```
    /// use hubflow::MapError;
    /// let e = MapError::MissingField { template: "/body/1".into(), field: "wo_folio".into() };
    /// assert_eq!(e.template(), Some("/body/1"));
    /// assert_eq!(e.to_string(), "/body/1: missing field `wo_folio`");
    /// ```
    pub fn template(&self) -> Option<&str> {
        match self {
            MapError::MissingField { template, .. }
            | MapError::InvalidPhone { template, .. }
            | MapError::InvalidDate { template, .. }
            | MapError::Filter { template, .. }
            | MapError::Render { template, .. } => Some(template),
            MapError::Invalid { .. } => None,
        }
    }
}

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
    inner: Arc<Compiled>,
}

/// Everything built once per shape.
struct Compiled {
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
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        // Leaves are named by pointer; a key like `body.html` must not switch on HTML escaping.
        env.set_auto_escape_callback(|_| AutoEscape::None);
        env.set_formatter(|out, state, value| {
            // Print JSON-style: null means "no value" (nothing rather than `none`) and
            // booleans stay `true`/`false` rather than Python's `True`/`False`.
            match value.kind() {
                ValueKind::None => Ok(()),
                ValueKind::Bool => out
                    .write_str(if value.is_true() { "true" } else { "false" })
                    .map_err(minijinja::Error::from),
                _ => minijinja::escape_formatter(out, state, value),
            }
        });
        filters::register(&mut env);

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
        let inner = &*self.inner;
        // Only the variables the templates read are converted, once for all leaves, and
        // without cloning the record's JSON.
        let mut context: BTreeMap<&str, &Value> = BTreeMap::new();
        if let Value::Object(data) = &record.data {
            for name in &inner.variables {
                if let Some(value) = data.get(name) {
                    context.insert(name, value);
                }
            }
        }
        let context = minijinja::Value::from_serialize(&context);
        inner.render(&inner.plan, &context, record)
    }
}

impl Compiled {
    fn render(
        &self,
        node: &Node,
        context: &minijinja::Value,
        record: &Record,
    ) -> Result<Value, MapError> {
        Ok(match node {
            Node::Literal(value) => value.clone(),
            Node::Template(index) => {
                let Some(leaf) = self.leaves.get(*index) else {
                    // Plan and leaves are built together; an index is always in range.
                    return Err(MapError::Invalid {
                        message: "field map plan out of sync".into(),
                    });
                };
                let rendered = self
                    .env
                    .get_template(&leaf.pointer)
                    .and_then(|template| template.render(context))
                    .map_err(|e| leaf.error(&e, record))?;
                Value::String(rendered)
            }
            Node::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.render(item, context, record))
                    .collect::<Result<_, _>>()?,
            ),
            Node::Object(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(key, item)| Ok((key.clone(), self.render(item, context, record)?)))
                    .collect::<Result<_, MapError>>()?,
            ),
        })
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

fn syntax_error(pointer: &str, e: &minijinja::Error) -> SpecError {
    let detail = e.detail().unwrap_or("invalid syntax");
    let message = match e.line() {
        Some(line) if line > 1 => format!("template syntax error on line {line}: {detail}"),
        _ => format!("template syntax error: {detail}"),
    };
    SpecError::new(pointer, message).with_hint(
        "templates use minijinja (Jinja2) syntax: {{ field }}, {{ field | filter(arg) }}, {% if field %}…{% endif %}",
    )
}

/// Whether `name` (an identifier) is a filter of `env`.
///
/// minijinja resolves filters only when a template runs, so this renders a probe: the VM
/// looks a filter up before calling it and reports `UnknownFilter` only when the lookup
/// fails, so any other outcome means the filter exists.
fn filter_exists(env: &Environment<'static>, name: &str) -> bool {
    match env.render_str(&format!("{{{{ none | {name} }}}}"), ()) {
        Ok(_) => true,
        Err(e) => e.kind() != ErrorKind::UnknownFilter,
    }
}

/// A few of minijinja's builtins, for suggestions next to hubflow's filters.
const COMMON_BUILTINS: &[&str] = &[
    "capitalize",
    "first",
    "int",
    "join",
    "last",
    "length",
    "replace",
    "round",
    "string",
    "title",
    "trim",
];

fn unknown_filter(pointer: &str, name: &str) -> SpecError {
    let nearest = filters::HUBFLOW_FILTERS
        .iter()
        .chain(COMMON_BUILTINS)
        .map(|candidate| (edit_distance(name, candidate), *candidate))
        .filter(|(distance, _)| *distance <= 2)
        .min();
    let mut hint = String::new();
    if let Some((_, candidate)) = nearest {
        hint.push_str(&format!("did you mean \"{candidate}\"? "));
    }
    hint.push_str("filters: phone(country), date(format, time_zone), default(value), upper, lower, truncate(n), and minijinja's builtins (");
    hint.push_str(&COMMON_BUILTINS.join(", "));
    hint.push_str(", …)");
    SpecError::new(pointer, format!("unknown filter \"{name}\"")).with_hint(hint)
}

/// Levenshtein distance over chars; names are short.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = if ca == *cb {
                previous
            } else {
                1 + previous.min(current).min(row[j])
            };
            previous = current;
        }
    }
    row[b.len()]
}

/// Checks the constant arguments of hubflow's filters; arguments computed from the record
/// are checked when the template runs.
fn check_arguments(pointer: &str, used: &FilterUse, errors: &mut SpecErrors) {
    let Some(args) = &used.args else { return };
    let text = |i: usize| match args.get(i) {
        Some(Literal::Str(s)) => Some(s.as_str()),
        _ => None,
    };
    match used.name.as_str() {
        "date" => {
            if let Some(format) = text(0) {
                if let Err(message) = filters::strftime(format) {
                    errors.push(
                        SpecError::new(pointer, format!("filter date: {message}"))
                            .with_hint("e.g. date('%d/%m/%Y %H:%M', 'America/Sao_Paulo')"),
                    );
                }
            }
            if let Some(zone) = text(1) {
                if let Err(message) = filters::time_zone(zone) {
                    errors.push(
                        SpecError::new(pointer, format!("filter date: {message}"))
                            .with_hint("time zones are IANA names: America/Sao_Paulo, America/Santiago, Europe/Madrid, UTC"),
                    );
                }
            }
        }
        "phone" => {
            if let Some(code) = text(0) {
                if filters::region(code).is_none() {
                    errors.push(
                        SpecError::new(
                            pointer,
                            format!("filter phone: unknown country code {code:?}"),
                        )
                        .with_hint("use an ISO 3166 alpha-2 code: BR, CL, ES, MX, US, …"),
                    );
                }
            }
        }
        "truncate" => {
            if let Some(Literal::Int(n)) = args.first() {
                if *n < 0 {
                    errors.push(
                        SpecError::new(pointer, format!("filter truncate: negative length {n}"))
                            .with_hint("truncate(n) keeps at most n characters, n ≥ 0"),
                    );
                }
            }
        }
        _ => {}
    }
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

// ---------------------------------------------------------------------------------------
// Static analysis of template sources.
//
// minijinja's parser is not public without its unstable feature, so this is a small lexer
// mirroring minijinja's (markers, whitespace control, comments, raw blocks, strings,
// numbers, bracket balance). It only runs on sources minijinja has already compiled, so it
// never has to report errors. Inside expressions `|` is only ever the filter pipe, which
// makes finding every filter name exact.
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Tok<'s> {
    Ident(&'s str),
    /// A string literal's contents; `None` when it has escapes (not needed exactly).
    Str(Option<&'s str>),
    Num(&'s str),
    Punct(&'s str),
}

#[derive(Debug, Clone, PartialEq)]
struct Token<'s> {
    tok: Tok<'s>,
    start: usize,
}

/// The tokens of one `{{ … }}` or `{% … %}`.
#[derive(Debug)]
struct Region<'s> {
    tokens: Vec<Token<'s>>,
}

/// A literal filter argument.
#[derive(Debug, Clone, PartialEq)]
enum Literal {
    Str(String),
    Int(i64),
    Other,
}

/// A filter applied in a template.
#[derive(Debug, Clone, PartialEq)]
struct FilterUse {
    name: String,
    /// Byte offset of the name in the source.
    start: usize,
    /// The arguments when they are all literals (`[]` without parentheses).
    args: Option<Vec<Literal>>,
}

/// A record path read by a template, dotted like [`Record::get`] wants it.
#[derive(Debug, Clone, PartialEq)]
struct PathUse {
    path: String,
    start: usize,
}

fn scan(source: &str) -> Vec<Region<'_>> {
    let bytes = source.as_bytes();
    let mut regions = Vec::new();
    let mut pos = 0;
    while let Some(found) = source.get(pos..).and_then(find_marker) {
        let start = pos + found;
        let kind = bytes[start + 1];
        let mut p = start + 2;
        if matches!(bytes.get(p), Some(b'-' | b'+')) {
            p += 1;
        }
        pos = match kind {
            b'#' => match source[start + 2..].find("#}") {
                Some(end) => start + 2 + end + 2,
                None => source.len(),
            },
            b'%' if basic_tag(&source[p..], "raw", false).is_some() => skip_raw(source, p),
            _ => {
                let (tokens, end) = lex_expression(source, p, kind == b'%');
                regions.push(Region { tokens });
                end
            }
        };
    }
    regions
}

/// Offset of the next `{{`, `{%` or `{#`.
fn find_marker(s: &str) -> Option<usize> {
    let bytes = s.as_bytes();
    let mut offset = 0;
    while let Some(i) = s.get(offset..)?.find('{') {
        let at = offset + i;
        if matches!(bytes.get(at + 1), Some(b'{' | b'%' | b'#')) {
            return Some(at);
        }
        offset = at + 1;
    }
    None
}

/// Length of `[-+]? ws* name ws* [-+]? %}` at the start of `s`, like minijinja's check for
/// `raw` and `endraw` tags.
fn basic_tag(s: &str, name: &str, skip_control: bool) -> Option<usize> {
    let mut rest = s;
    if skip_control {
        rest = rest.strip_prefix(['-', '+']).unwrap_or(rest);
    }
    rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    rest = rest.strip_prefix(name)?;
    rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace());
    rest = rest.strip_prefix(['-', '+']).unwrap_or(rest);
    rest = rest.strip_prefix("%}")?;
    Some(s.len() - rest.len())
}

/// Position after the `{% endraw %}` closing a raw block whose tag starts at `p`.
fn skip_raw(source: &str, p: usize) -> usize {
    let mut q = p;
    while let Some(i) = source.get(q..).and_then(|rest| rest.find("{%")) {
        let after = q + i + 2;
        if let Some(len) = basic_tag(&source[after..], "endraw", true) {
            return after + len;
        }
        q = after;
    }
    source.len()
}

fn is_ident_start(c: char) -> bool {
    c == '_' || c.is_alphabetic()
}

fn is_ident_continue(c: char) -> bool {
    c == '_' || c.is_alphanumeric()
}

fn ident_len(s: &str) -> usize {
    let mut chars = s.char_indices();
    match chars.next() {
        Some((_, c)) if is_ident_start(c) => {}
        _ => return 0,
    }
    chars
        .find(|(_, c)| !is_ident_continue(*c))
        .map_or(s.len(), |(i, _)| i)
}

/// Tokens from `p` to the end of the tag or variable block, and the position after it.
fn lex_expression(source: &str, mut p: usize, block: bool) -> (Vec<Token<'_>>, usize) {
    let end_marker = if block { "%}" } else { "}}" };
    let mut tokens = Vec::new();
    let mut balance = 0isize;
    loop {
        let Some(rest) = source.get(p..) else {
            return (tokens, source.len());
        };
        let skipped = rest.len()
            - rest
                .trim_start_matches(|c: char| c.is_ascii_whitespace())
                .len();
        p += skipped;
        let rest = &rest[skipped..];
        if rest.is_empty() {
            return (tokens, source.len());
        }
        if balance == 0 {
            if rest.starts_with(['-', '+']) && rest[1..].starts_with(end_marker) {
                return (tokens, p + 3);
            }
            if rest.starts_with(end_marker) {
                return (tokens, p + 2);
            }
        }
        let start = p;
        let (tok, len) = if let Some(op) = ["//", "**", "==", "!=", ">=", "<="]
            .into_iter()
            .find(|op| rest.starts_with(op))
        {
            (Tok::Punct(op), 2)
        } else {
            let c = rest.chars().next().unwrap_or(' ');
            match c {
                '\'' | '"' => lex_string(rest, c),
                '0'..='9' => {
                    let len = number_len(rest);
                    (Tok::Num(&rest[..len]), len)
                }
                '(' | '[' | '{' => {
                    balance += 1;
                    (Tok::Punct(&rest[..1]), 1)
                }
                ')' | ']' | '}' => {
                    balance -= 1;
                    (Tok::Punct(&rest[..1]), 1)
                }
                '+' | '-' | '*' | '/' | '%' | '.' | ',' | ':' | '~' | '|' | '=' | '>' | '<' => {
                    (Tok::Punct(&rest[..1]), 1)
                }
                _ => match ident_len(rest) {
                    0 => (Tok::Punct(""), c.len_utf8()),
                    len => (Tok::Ident(&rest[..len]), len),
                },
            }
        };
        tokens.push(Token { tok, start });
        p += len;
    }
}

/// A string literal at the start of `rest`, delimited by `quote`, with backslash escapes.
fn lex_string(rest: &str, quote: char) -> (Tok<'_>, usize) {
    let mut escaped = false;
    let mut has_escapes = false;
    for (i, c) in rest.char_indices().skip(1) {
        match (escaped, c) {
            (true, _) => escaped = false,
            (false, '\\') => {
                escaped = true;
                has_escapes = true;
            }
            (false, c) if c == quote => {
                let inner = &rest[1..i];
                return (Tok::Str((!has_escapes).then_some(inner)), i + 1);
            }
            _ => {}
        }
    }
    (Tok::Str(None), rest.len())
}

/// Length of the number at the start of `s`, following minijinja's lexer: a `.` followed by
/// an identifier ends the number (`messages.0.text`).
fn number_len(s: &str) -> usize {
    let bytes = s.as_bytes();
    if matches!(
        bytes.get(..2),
        Some(b"0b" | b"0B" | b"0o" | b"0O" | b"0x" | b"0X")
    ) {
        return 2 + bytes[2..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() || **c == b'_')
            .count();
    }
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Integer,
        Fraction,
        Exponent,
        ExponentSign,
    }
    let mut state = State::Integer;
    let mut len = 0;
    while let Some(&c) = bytes.get(len) {
        state = match (c, state) {
            (b'.', State::Integer) => {
                let is_exp = matches!(bytes.get(len + 1), Some(b'e' | b'E'))
                    && matches!(bytes.get(len + 2), Some(b'+' | b'-' | b'0'..=b'9'));
                if !is_exp && s.get(len + 1..).is_some_and(|r| ident_len(r) > 0) {
                    break;
                }
                State::Fraction
            }
            (b'e' | b'E', State::Integer | State::Fraction) => State::Exponent,
            (b'+' | b'-', State::Exponent) => State::ExponentSign,
            (b'0'..=b'9', State::Exponent) => State::ExponentSign,
            (b'0'..=b'9' | b'_', state) => state,
            _ => break,
        };
        len += 1;
    }
    len
}

/// Every filter applied in the template: `| name` anywhere, and `{% filter name %}`.
fn filter_uses(regions: &[Region<'_>]) -> Vec<FilterUse> {
    let mut uses = Vec::new();
    for region in regions {
        let tokens = &region.tokens;
        for (i, token) in tokens.iter().enumerate() {
            let after_pipe = i > 0 && tokens[i - 1].tok == Tok::Punct("|");
            let filter_block = i == 1 && tokens[0].tok == Tok::Ident("filter");
            let is_filter_position = after_pipe || filter_block;
            if let (true, Tok::Ident(name)) = (is_filter_position, &token.tok) {
                uses.push(FilterUse {
                    name: (*name).to_owned(),
                    start: token.start,
                    args: literal_args(&tokens[i + 1..]),
                });
            }
        }
    }
    uses
}

/// The arguments following a filter name when they are all literals.
fn literal_args(tokens: &[Token<'_>]) -> Option<Vec<Literal>> {
    if !matches!(tokens.first().map(|t| &t.tok), Some(Tok::Punct("("))) {
        return Some(Vec::new());
    }
    let mut args = Vec::new();
    let mut i = 1;
    loop {
        let (literal, used) = match (
            tokens.get(i).map(|t| &t.tok),
            tokens.get(i + 1).map(|t| &t.tok),
        ) {
            (Some(Tok::Punct(")")), _) if args.is_empty() => return Some(args),
            (Some(Tok::Str(Some(s))), _) => (Literal::Str((*s).to_owned()), 1),
            (Some(Tok::Num(n)), _) => (n.parse().map_or(Literal::Other, Literal::Int), 1),
            (Some(Tok::Punct("-")), Some(Tok::Num(n))) => (
                n.parse::<i64>()
                    .map_or(Literal::Other, |n| Literal::Int(-n)),
                2,
            ),
            (Some(Tok::Ident("true" | "false" | "none" | "True" | "False" | "None")), _) => {
                (Literal::Other, 1)
            }
            _ => return None,
        };
        args.push(literal);
        i += used;
        match tokens.get(i).map(|t| &t.tok) {
            Some(Tok::Punct(",")) => i += 1,
            Some(Tok::Punct(")")) => return Some(args),
            _ => return None,
        }
    }
}

/// Record paths read by the template: each use of a record variable with the attribute
/// and constant subscript chain after it (`messages[0].text` → `messages.0.text`).
fn path_uses(regions: &[Region<'_>], variables: &HashSet<&str>) -> Vec<PathUse> {
    let mut uses = Vec::new();
    for region in regions {
        let tokens = &region.tokens;
        let tok = |i: usize| tokens.get(i).map(|t| &t.tok);
        for (i, token) in tokens.iter().enumerate() {
            let Tok::Ident(name) = token.tok else {
                continue;
            };
            if !variables.contains(name) {
                continue;
            }
            let previous = i.checked_sub(1).and_then(tok);
            let test_name = matches!(previous, Some(Tok::Ident("is")))
                || (matches!(previous, Some(Tok::Ident("not")))
                    && matches!(i.checked_sub(2).and_then(tok), Some(Tok::Ident("is"))));
            // An attribute, a filter or test name, or a keyword argument is not a variable.
            let not_variable = test_name
                || matches!(previous, Some(Tok::Punct("." | "|")))
                || (i == 1 && matches!(tok(0), Some(Tok::Ident("filter"))))
                || matches!(tok(i + 1), Some(Tok::Punct("=")));
            if not_variable {
                continue;
            }
            let mut segments = vec![name.to_owned()];
            let mut j = i + 1;
            loop {
                match (tok(j), tok(j + 1), tok(j + 2)) {
                    (Some(Tok::Punct(".")), Some(Tok::Ident(attr)), _) => {
                        segments.push((*attr).to_owned());
                        j += 2;
                    }
                    (Some(Tok::Punct(".")), Some(Tok::Num(n)), _)
                        if n.split('.')
                            .all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())) =>
                    {
                        segments.extend(n.split('.').map(str::to_owned));
                        j += 2;
                    }
                    (Some(Tok::Punct("[")), Some(Tok::Num(n)), Some(Tok::Punct("]")))
                        if n.bytes().all(|b| b.is_ascii_digit()) =>
                    {
                        segments.push((*n).to_owned());
                        j += 3;
                    }
                    (Some(Tok::Punct("[")), Some(Tok::Str(Some(key))), Some(Tok::Punct("]")))
                        if !key.contains('.') && !key.is_empty() =>
                    {
                        segments.push((*key).to_owned());
                        j += 3;
                    }
                    _ => break,
                }
            }
            // `name.upper()` calls a method: the path ends before it.
            if segments.len() > 1 && matches!(tok(j), Some(Tok::Punct("("))) {
                segments.pop();
            }
            uses.push(PathUse {
                path: segments.join("."),
                start: token.start,
            });
        }
    }
    uses
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapper::Passthrough;
    use proptest::prelude::*;
    use serde_json::json;

    fn record(data: Value) -> Record {
        Record::new("k", "test", data)
    }

    fn render(template: &str, data: Value) -> Result<String, MapError> {
        let map = FieldMap::new(json!({ "v": template })).expect("template compiles");
        map.map(&record(data)).map(|out| match &out["v"] {
            Value::String(s) => s.clone(),
            other => panic!("template leaf rendered as {other}"),
        })
    }

    fn build_errors(shape: Value) -> Vec<SpecError> {
        FieldMap::new(shape)
            .expect_err("shape has errors")
            .into_iter()
            .collect()
    }

    #[test]
    fn fracttal_wo_assignment_renders_exactly() {
        let map = FieldMap::new(json!({
            "to": "{{ responsible_phone | phone('BR') }}",
            "template": "wo_assignment",
            "language": "pt_BR",
            "body": [
                "{{ user_assigned }}",
                "{{ wo_folio }}",
                "{{ task_todo_description }}",
                "{{ creation_date | date('%d/%m/%Y %H:%M','America/Sao_Paulo') }}",
                "{{ created_by }}",
                "{{ item_description }}"
            ]
        }))
        .unwrap();
        let wo = record(json!({
            "id_work_order": 881,
            "responsible_phone": "(11) 98765-4321",
            "user_assigned": "Jonas Campos",
            "wo_folio": "OT-881",
            "task_todo_description": "Trocar filtro de ar",
            "creation_date": "2021-02-24T16:25:29+0000",
            "created_by": "Ana Souza",
            "item_description": "Compressor 3 - Planta Norte",
        }));
        assert_eq!(
            map.map(&wo).unwrap(),
            json!({
                "to": "5511987654321",
                "template": "wo_assignment",
                "language": "pt_BR",
                "body": [
                    "Jonas Campos",
                    "OT-881",
                    "Trocar filtro de ar",
                    "24/02/2021 13:25",
                    "Ana Souza",
                    "Compressor 3 - Planta Norte"
                ]
            })
        );
        let mut fields = map.fields();
        fields.sort();
        assert_eq!(
            fields,
            [
                "created_by",
                "creation_date",
                "item_description",
                "responsible_phone",
                "task_todo_description",
                "user_assigned",
                "wo_folio"
            ]
        );
    }

    #[test]
    fn literal_leaves_are_copied_as_they_are() {
        let shape = json!({
            "n": 3, "f": 1.5, "t": true, "z": null, "s": "plain {text} #{x}",
            "comment_only": "{# not a template #}",
            "nested": {"list": [1, "two", {"three": [false]}], "empty": {}},
            "mixed": [7, "{{ a }}", {"k": "{{ a | upper }}", "keep": [null]}],
            "{{ key }}": "keys are not templated",
        });
        let map = FieldMap::new(shape.clone()).unwrap();
        let out = map.map(&record(json!({"a": "x"}))).unwrap();
        let mut expected = shape.clone();
        expected["mixed"] = json!([7, "x", {"k": "X", "keep": [null]}]);
        assert_eq!(out, expected);
        assert_eq!(map.shape(), &shape);
        assert!(format!("{map:?}").contains("keys are not templated"));
    }

    #[test]
    fn a_shape_can_be_a_single_template() {
        let map = FieldMap::new(json!("Hello {{ name }}")).unwrap();
        assert_eq!(
            map.map(&record(json!({"name": "Ana"}))).unwrap(),
            json!("Hello Ana")
        );
        assert_eq!(
            map.map(&record(json!({}))),
            Err(MapError::MissingField {
                template: String::new(),
                field: "name".into()
            })
        );
    }

    #[test]
    fn numbers_and_null_render_as_text() {
        assert_eq!(
            render(
                "{{ n }}/{{ f }}/{{ b }}",
                json!({"n": 42, "f": 2.5, "b": true})
            )
            .unwrap(),
            "42/2.5/true"
        );
        assert_eq!(render("[{{ z }}]", json!({"z": null})).unwrap(), "[]");
    }

    #[test]
    fn templates_address_nested_fields_every_way() {
        let data = json!({"chat": {"phone": "p"}, "messages": [{"text": "hi"}], "odd key": 1});
        assert_eq!(render("{{ chat.phone }}", data.clone()).unwrap(), "p");
        assert_eq!(render("{{ chat['phone'] }}", data.clone()).unwrap(), "p");
        assert_eq!(
            render("{{ messages[0].text }}", data.clone()).unwrap(),
            "hi"
        );
        assert_eq!(render("{{ messages.0.text }}", data).unwrap(), "hi");
    }

    #[test]
    fn html_is_never_escaped_even_for_html_like_keys() {
        let map = FieldMap::new(json!({"body.html": "{{ t }}"})).unwrap();
        let out = map.map(&record(json!({"t": "<b>&</b>"}))).unwrap();
        assert_eq!(out, json!({"body.html": "<b>&</b>"}));
    }

    #[test]
    fn missing_fields_name_template_pointer_and_path() {
        let map = FieldMap::new(json!({"body": ["{{ a }}", "{{ wo_folio }}"]})).unwrap();
        assert_eq!(
            map.map(&record(json!({"a": 1}))),
            Err(MapError::MissingField {
                template: "/body/1".into(),
                field: "wo_folio".into()
            })
        );
        let missing = |template: &str, data: Value| match render(template, data) {
            Err(MapError::MissingField { template, field }) => {
                assert_eq!(template, "/v");
                field
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            missing("{{ chat.phone }}", json!({"chat": {}})),
            "chat.phone"
        );
        assert_eq!(missing("{{ chat.phone }}", json!({})), "chat.phone");
        assert_eq!(missing("{{ chat.phone }}", json!([1, 2])), "chat.phone");
        assert_eq!(
            missing("{{ messages[0].text }}", json!({"messages": []})),
            "messages.0.text"
        );
        assert_eq!(
            missing("{{ messages.1.text }}", json!({"messages": [{"text": 1}]})),
            "messages.1.text"
        );
        assert_eq!(missing("{{ x | upper }}", json!({})), "x");
        assert_eq!(missing("{{ x | phone('BR') }}", json!({})), "x");
        assert_eq!(missing("{{ x | date('%Y') }}", json!({})), "x");
        assert_eq!(missing("{{ x | truncate(3) }}", json!({})), "x");
        // Rescued by `default`, so the error is about the later field.
        assert_eq!(
            missing("{{ a.b | default('-') }} {{ c }}", json!({"a": {}})),
            "c"
        );
        assert_eq!(
            missing("{{ c }} {{ a.b | default('-') }}", json!({"a": {}})),
            "c"
        );
        assert_eq!(missing("{{ a | default(b) }}", json!({})), "b");
        assert_eq!(missing("{% if flag %}y{% endif %}", json!({})), "flag");
        let e = render("{{ chat.phone }}", json!({})).unwrap_err();
        assert_eq!(e.to_string(), "/v: missing field `chat.phone`");
        assert_eq!(e.template(), Some("/v"));
    }

    #[test]
    fn default_covers_missing_and_null_values() {
        assert_eq!(render("{{ x | default('-') }}", json!({})).unwrap(), "-");
        assert_eq!(render("{{ x | d('-') }}", json!({})).unwrap(), "-");
        assert_eq!(
            render("{{ x | default('-') }}", json!({"x": null})).unwrap(),
            "-"
        );
        assert_eq!(
            render("{{ x | default('-') }}", json!({"x": "v"})).unwrap(),
            "v"
        );
        assert_eq!(
            render("[{{ x | default('-') }}]", json!({"x": ""})).unwrap(),
            "[]"
        );
        assert_eq!(
            render("{{ x | default('-', true) }}", json!({"x": ""})).unwrap(),
            "-"
        );
        assert_eq!(
            render("{{ x | default('-', true) }}", json!({"x": 0})).unwrap(),
            "-"
        );
        assert_eq!(render("[{{ x | default }}]", json!({})).unwrap(), "[]");
        assert_eq!(
            render("{{ chat.phone | default('-') }}", json!({"chat": {}})).unwrap(),
            "-"
        );
        assert_eq!(
            render("{{ x if x is defined else '-' }}", json!({})).unwrap(),
            "-"
        );
        assert!(matches!(
            render("{{ x | default('a', true, 3) }}", json!({})),
            Err(MapError::Filter { filter, .. }) if filter == "default"
        ));
    }

    #[test]
    fn upper_lower_and_truncate() {
        assert_eq!(
            render("{{ s | upper }}", json!({"s": "Olá ção"})).unwrap(),
            "OLÁ ÇÃO"
        );
        assert_eq!(
            render("{{ s | lower }}", json!({"s": "ÁRVORE"})).unwrap(),
            "árvore"
        );
        assert_eq!(
            render("[{{ s | upper }}]", json!({"s": null})).unwrap(),
            "[]"
        );
        assert_eq!(render("{{ s | upper }}", json!({"s": 12})).unwrap(), "12");
        assert_eq!(
            render("{{ s | truncate(8) }}", json!({"s": "Replace filter"})).unwrap(),
            "Replace…"
        );
        assert_eq!(
            render("{{ s | truncate(14) }}", json!({"s": "Replace filter"})).unwrap(),
            "Replace filter"
        );
        assert_eq!(
            render("{{ s | truncate(3) }}", json!({"s": "ñandú"})).unwrap(),
            "ña…"
        );
        assert_eq!(
            render("{{ s | truncate(2) }}", json!({"s": "👍🏽👍"})).unwrap(),
            "👍…"
        );
        assert_eq!(
            render("{{ s | truncate(4) }}", json!({"s": 123456})).unwrap(),
            "123…"
        );
        assert_eq!(
            render("[{{ s | truncate(0) }}]", json!({"s": "abc"})).unwrap(),
            "[]"
        );
        for bad in ["{{ s | truncate(n) }}", "{{ s | truncate('a') }}"] {
            match render(bad, json!({"s": "abc", "n": -1})) {
                Err(MapError::Filter {
                    filter, message, ..
                }) => {
                    assert_eq!(filter, "truncate");
                    assert!(message.contains("non-negative"), "{message}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn phone_formats_e164_without_plus() {
        let phone = |value: Value, country: &str| {
            render(
                &format!("{{{{ p | phone('{country}') }}}}"),
                json!({ "p": value }),
            )
        };
        assert_eq!(
            phone(json!("(11) 99999-1234"), "BR").unwrap(),
            "5511999991234"
        );
        assert_eq!(
            phone(json!("11 98765 4321"), "br").unwrap(),
            "5511987654321"
        );
        assert_eq!(
            phone(json!("+55 (21) 99876-5432"), "BR").unwrap(),
            "5521998765432"
        );
        assert_eq!(
            phone(json!("0055 11 99999-1234"), "CL").unwrap(),
            "5511999991234"
        );
        assert_eq!(
            phone(json!(11999991234_i64), "BR").unwrap(),
            "5511999991234"
        );
        assert_eq!(phone(json!("9 6123 4567"), "CL").unwrap(), "56961234567");
        assert_eq!(
            phone(json!("+56 9 6123 4567"), "BR").unwrap(),
            "56961234567"
        );
        assert_eq!(phone(json!("612 34 56 78"), "ES").unwrap(), "34612345678");
        assert_eq!(
            phone(json!("+34 612-345-678"), "BR").unwrap(),
            "34612345678"
        );
        for bad in [
            json!("123"),
            json!("(11) 1234"),
            json!("+55 11 1111"),
            json!("abc"),
            json!("11 9999x1234"),
            json!(null),
            json!([1]),
            json!({"a": 1}),
            json!(-5),
            json!(1.5),
            json!(true),
            json!("+999 1234 5678"),
        ] {
            match phone(bad.clone(), "BR") {
                Err(MapError::InvalidPhone {
                    template,
                    value,
                    reason,
                }) => {
                    assert_eq!(template, "/v");
                    assert!(!value.is_empty() && !reason.is_empty(), "{bad}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        let e = phone(json!("123"), "BR").unwrap_err();
        assert_eq!(e.to_string(), "/v: invalid phone number \"123\": too short");
        // A country only known when the record arrives is checked then.
        match render(
            "{{ p | phone(cc) }}",
            json!({"p": "11999991234", "cc": "XX"}),
        ) {
            Err(MapError::Filter {
                filter, message, ..
            }) => {
                assert_eq!(filter, "phone");
                assert!(message.contains("unknown country code \"XX\""), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            render("{{ p | phone(cc) }}", json!({"p": "11999991234", "cc": 55})),
            Err(MapError::Filter { .. })
        ));
    }

    #[test]
    fn date_reads_every_form_and_formats_in_time_zone() {
        let date = |value: Value| {
            render(
                "{{ t | date('%Y-%m-%d %H:%M:%S', 'America/Sao_Paulo') }}",
                json!({ "t": value }),
            )
        };
        assert_eq!(
            date(json!("2026-03-01T15:00:00Z")).unwrap(),
            "2026-03-01 12:00:00"
        );
        assert_eq!(
            date(json!("2021-02-24T16:25:29+0000")).unwrap(),
            "2021-02-24 13:25:29"
        );
        assert_eq!(
            date(json!("2024-01-08 10:35:18 +0200")).unwrap(),
            "2024-01-08 05:35:18"
        );
        assert_eq!(
            date(json!("2026-03-01 12:00:00")).unwrap(),
            "2026-03-01 09:00:00"
        );
        assert_eq!(date(json!("2026-03-01")).unwrap(), "2026-02-28 21:00:00");
        assert_eq!(date(json!(0)).unwrap(), "1969-12-31 21:00:00");
        assert_eq!(date(json!(1772377200.75)).unwrap(), "2026-03-01 12:00:00");
        assert_eq!(
            render(
                "{{ t | date('%d/%m/%Y %H:%M') }}",
                json!({"t": "2026-03-01T15:00:00-03:00"})
            )
            .unwrap(),
            "01/03/2026 18:00"
        );
        assert_eq!(
            render(
                "{{ t | date('%H:%M', 'Europe/Madrid') }}",
                json!({"t": "2026-07-01T12:00:00Z"})
            )
            .unwrap(),
            "14:00"
        );
        for bad in [
            json!("yesterday"),
            json!(""),
            json!(null),
            json!([1]),
            json!({}),
            json!(true),
            json!(1e300),
            json!(i64::MAX),
        ] {
            match date(bad.clone()) {
                Err(MapError::InvalidDate {
                    template, reason, ..
                }) => {
                    assert_eq!(template, "/v");
                    assert!(!reason.is_empty(), "{bad}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn date_errors_on_bad_runtime_format_and_zone_without_panicking() {
        let data = json!({"t": "2026-03-01", "fmt": "%Y-%Q", "tz": "Mars/Olympus", "n": 5});
        let filter_error = |template: &str| match render(template, data.clone()) {
            Err(MapError::Filter {
                filter, message, ..
            }) => {
                assert_eq!(filter, "date");
                message
            }
            other => panic!("{template}: {other:?}"),
        };
        assert!(filter_error("{{ t | date(fmt) }}").contains("invalid date format"));
        assert!(filter_error("{{ t | date('%Y', tz) }}").contains("unknown time zone"));
        assert!(filter_error("{{ t | date(n) }}").contains("must be a string"));
        assert!(filter_error("{{ t | date('%Y', n) }}").contains("must be a string"));
        assert!(filter_error("{{ t | date('%Y', 'UTC', 3) }}").contains("two positional"));
    }

    #[test]
    fn other_errors_name_the_filter_or_the_template() {
        match render("{{ s | replace(1) }}", json!({"s": "abc"})) {
            Err(MapError::Filter {
                template, filter, ..
            }) => {
                assert_eq!(template, "/v");
                assert_eq!(filter, "replace");
            }
            other => panic!("{other:?}"),
        }
        match render("{{ n + 'a' }}", json!({"n": 1})) {
            Err(MapError::Render { template, message }) => {
                assert_eq!(template, "/v");
                assert!(!message.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            MapError::Invalid {
                message: "m".into()
            }
            .template(),
            None
        );
    }

    #[test]
    fn build_reports_every_bad_template_at_its_pointer() {
        let errors = build_errors(json!({
            "ok": "{{ a }}",
            "body": ["{{ a }}", "{{ unclosed", "{% if a %}no end"],
            "a/b": {"c~d": "{{ a | }}"},
        }));
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["/a~1b/c~0d", "/body/1", "/body/2"]);
        for error in &errors {
            assert!(
                error.message.starts_with("template syntax error"),
                "{error}"
            );
            assert!(error.hint.is_some());
        }
    }

    #[test]
    fn minijinja_alone_accepts_unknown_filters_at_compile_time() {
        // Why FieldMap looks for filter names itself.
        let env = Environment::new();
        assert!(env.template_from_str("{{ x | phne('BR') }}").is_ok());
    }

    #[test]
    fn build_reports_unknown_filters_with_a_hint() {
        let errors = build_errors(json!({
            "to": "{{ x | phne('BR') }}",
            "ok": "{{ x | trim | title | phone('BR') | date('%Y') | truncate(3) | lower | d('') }}",
            "body": ["{% filter uppper %}x{% endfilter %}", "{{ x | default(y | nosuch) }}"],
        }));
        let found: Vec<(&str, &str)> = errors
            .iter()
            .map(|e| (e.path.as_str(), e.message.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("/body/0", "unknown filter \"uppper\""),
                ("/body/1", "unknown filter \"nosuch\""),
                ("/to", "unknown filter \"phne\""),
            ]
        );
        let hint = errors[2].hint.as_deref().unwrap();
        assert!(hint.starts_with("did you mean \"phone\"?"), "{hint}");
        assert!(
            hint.contains("date(format, time_zone)") && hint.contains("truncate(n)"),
            "{hint}"
        );
        assert!(errors[0]
            .hint
            .as_deref()
            .unwrap()
            .starts_with("did you mean \"upper\"?"));
    }

    #[test]
    fn filter_names_inside_strings_comments_and_raw_blocks_are_not_filters() {
        let map = FieldMap::new(json!({
            "v": "{{ 'a | nosuch' ~ \"b | x\" }}{# {{ y | nosuch }} #}{% raw %}{{ z | nosuch }}{% endraw %}{{ {'k': {'n': 1}}['k']['n'] | string }}"
        }))
        .unwrap();
        assert_eq!(
            map.map(&record(json!({}))).unwrap(),
            json!({"v": "a | nosuchb | x{{ z | nosuch }}1"})
        );
    }

    #[test]
    fn build_checks_constant_filter_arguments() {
        let errors = build_errors(json!({
            "a": "{{ t | date('%d/%m/%Q') }}",
            "b": "{{ t | date('%d', 'America/Sao_Pablo') }}",
            "c": "{{ p | phone('XX') }}",
            "d": "{{ s | truncate(-1) }}",
            "ok": "{{ t | date(fmt, tz) }}{{ p | phone(cc) }}{{ t | date('%d/%m/%Y %H:%M', 'America/Sao_Paulo') }}",
        }));
        let found: Vec<(&str, bool)> = errors
            .iter()
            .map(|e| (e.path.as_str(), e.hint.is_some()))
            .collect();
        assert_eq!(
            found,
            [("/a", true), ("/b", true), ("/c", true), ("/d", true)]
        );
        assert!(
            errors[0]
                .message
                .contains("invalid date format \"%d/%m/%Q\""),
            "{}",
            errors[0]
        );
        assert!(
            errors[1]
                .message
                .contains("unknown time zone \"America/Sao_Pablo\""),
            "{}",
            errors[1]
        );
        assert!(
            errors[2].message.contains("unknown country code \"XX\""),
            "{}",
            errors[2]
        );
        assert!(
            errors[3].message.contains("negative length"),
            "{}",
            errors[3]
        );
    }

    #[test]
    fn fields_lists_record_paths_not_locals_or_globals() {
        let map = FieldMap::new(json!([
            "{% for m in messages %}{{ m.text }}{{ loop.index }}{% endfor %}{{ range(2) | length }}",
            "{% set who = chat.name %}{{ who }} {{ chat.phone | phone('BR') }}",
        ]))
        .unwrap();
        assert_eq!(map.fields(), ["chat.name", "chat.phone", "messages"]);
    }

    #[test]
    fn scanner_finds_paths_and_literal_arguments() {
        let source = "{{- x.a[0]['b'].c.upper() | f(1, -2, 'z', none) -}} {% if not y is not defined %}{{ g(k=1) | h(q) }}{% endif %}";
        let regions = scan(source);
        let filters = filter_uses(&regions);
        let names: Vec<&str> = filters.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["f", "h"]);
        assert_eq!(
            filters[0].args,
            Some(vec![
                Literal::Int(1),
                Literal::Int(-2),
                Literal::Str("z".into()),
                Literal::Other
            ])
        );
        assert_eq!(filters[1].args, None);
        let vars: HashSet<&str> = ["x", "y", "q", "k", "defined"].into_iter().collect();
        let paths: Vec<String> = path_uses(&regions, &vars)
            .into_iter()
            .map(|p| p.path)
            .collect();
        assert_eq!(paths, ["x.a.0.b.c", "y", "q"]);
    }

    #[test]
    fn field_map_is_cheap_to_clone_and_shareable() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<FieldMap>();
        let map = FieldMap::new(json!({"v": "{{ a }}"})).unwrap();
        let copy = map.clone();
        assert!(Arc::ptr_eq(&map.inner, &copy.inner));
        let boxed: Box<dyn Mapper> = Box::new(copy);
        assert_eq!(
            boxed.map(&record(json!({"a": 1}))).unwrap(),
            json!({"v": "1"})
        );
    }

    #[test]
    fn closures_and_passthrough_are_mappers() {
        let closure = |r: &Record| -> Result<Value, MapError> {
            r.get("a").cloned().ok_or(MapError::Invalid {
                message: "no a".into(),
            })
        };
        assert_eq!(closure.map(&record(json!({"a": 2}))).unwrap(), json!(2));
        assert_eq!(
            closure.map(&record(json!({}))).unwrap_err().to_string(),
            "no a"
        );
        let data = json!({"x": [1, {"y": null}]});
        assert_eq!(Passthrough.map(&record(data.clone())).unwrap(), data);
    }

    fn arbitrary_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "[0-9 +()-]{0,20}".prop_map(Value::from),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:]{0,8}[+Z0-9:-]{0,6}".prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
            prop_oneof![
                Just("BR"),
                Just("XX"),
                Just("%Y-%Q"),
                Just("%"),
                Just("America/Sao_Paulo"),
                Just("Nope/Zone")
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    fn every_filter() -> FieldMap {
        FieldMap::new(json!({
            "phone": "{{ a | phone('BR') }}",
            "phone_var": "{{ a | phone(b) }}",
            "date": "{{ a | date('%d/%m/%Y %H:%M', 'America/Sao_Paulo') }}",
            "date_var": "{{ a | date(b, c) }}",
            "default": "{{ a | default('-') }}|{{ b.x | default(c, true) }}",
            "case": "{{ a | upper }}{{ b | lower }}",
            "truncate": "{{ a | truncate(3) }}{{ b | truncate(c) }}",
            "nested": "{{ d[0] | default('') | phone('CL') }}{{ d.x | default(none) | truncate(2) }}",
        }))
        .expect("every filter compiles")
    }

    proptest! {
        #[test]
        fn every_filter_on_arbitrary_records_never_panics(
            a in arbitrary_json(), b in arbitrary_json(), c in arbitrary_json(), d in arbitrary_json(),
            data in arbitrary_json(),
        ) {
            let map = every_filter();
            let result = map.map(&record(json!({"a": a, "b": b, "c": c, "d": d})));
            if let Err(e) = &result {
                prop_assert!(e.template().is_some_and(|t| t.starts_with('/')), "{e}");
            }
            // Records that are not objects, or lack the fields, are errors too, not panics.
            let _ = map.map(&record(data));
        }
    }
}
