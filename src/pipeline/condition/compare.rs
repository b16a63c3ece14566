use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, Utc};
use regex::{Regex, RegexBuilder};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::{pointer_token, Record, SpecError, SpecErrors};

/// Decides whether a flow acts on a record. Pure: no I/O, no clock, no panics on any input.
///
/// Closures implement it, so a host can filter in code:
///
/// ```
/// use hubflow::{Condition, Record};
/// let urgent = |r: &Record| r.get("priority").and_then(|p| p.as_u64()) >= Some(3);
/// assert!(urgent.evaluate(&Record::new("k", "t", serde_json::json!({"priority": 4}))));
/// ```
pub trait Condition: Send + Sync {
    /// `true` when the flow should act on `record`.
    fn evaluate(&self, record: &Record) -> bool;

    /// Why `record` does not pass, in words for a run report, when the condition can say;
    /// `None` when it passes or cannot tell. The flow falls back to a description of the
    /// whole condition.
    fn explain(&self, _record: &Record) -> Option<String> {
        None
    }
}

impl<F> Condition for F
where
    F: Fn(&Record) -> bool + Send + Sync,
{
    fn evaluate(&self, record: &Record) -> bool {
        self(record)
    }
}

/// A comparison operator of the rule language; see the [module docs](self) for semantics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Op {
    /// Equal (numbers numerically, instants as instants).
    Eq,
    /// Not equal; true when the field is missing.
    Ne,
    /// Substring of the text, or an element of the array.
    Contains,
    /// Negation of `contains`; true when the field is missing.
    NotContains,
    /// The text starts with the value.
    StartsWith,
    /// The text ends with the value.
    EndsWith,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Gte,
    /// Less than.
    Lt,
    /// Less than or equal.
    Lte,
    /// Equal to one element of the value (an array).
    In,
    /// Negation of `in`; true when the field is missing.
    NotIn,
    /// The field is present, even as `null`.
    Exists,
    /// The field is absent.
    Missing,
    /// The field is absent, `null`, `""`, `[]` or `{}`.
    Empty,
    /// The text matches the value, a regular expression.
    Matches,
}

impl Op {
    /// Every operator, in the order the documentation lists them.
    ///
    /// ```
    /// use hubflow::condition::Op;
    /// let names: Vec<&str> = Op::ALL.iter().map(|op| op.name()).collect();
    /// assert_eq!(names[..3], ["eq", "ne", "contains"]);
    /// assert_eq!(Op::from_name("not_in"), Some(Op::NotIn));
    /// ```
    pub const ALL: &'static [Op] = &[
        Op::Eq,
        Op::Ne,
        Op::Contains,
        Op::NotContains,
        Op::StartsWith,
        Op::EndsWith,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::In,
        Op::NotIn,
        Op::Exists,
        Op::Missing,
        Op::Empty,
        Op::Matches,
    ];

    /// The name used in JSON, e.g. `"not_contains"`.
    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Ne => "ne",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::Exists => "exists",
            Op::Missing => "missing",
            Op::Empty => "empty",
            Op::Matches => "matches",
        }
    }

    /// The operator with this JSON name (exact spelling), if any.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.iter().copied().find(|op| op.name() == name)
    }

    /// Whether the operator needs a `value` (all but `exists`, `missing` and `empty`).
    pub fn takes_value(self) -> bool {
        !matches!(self, Op::Exists | Op::Missing | Op::Empty)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compiled `matches` pattern; equal when the pattern text is equal, because `Regex`
/// itself has no equality and the case flag lives in the owning [`Comparison`].
#[derive(Debug, Clone)]
struct Pattern(Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

/// One test of one field: `{"field": …, "op": …, "value": …, "case_insensitive": …}`.
///
/// A `Comparison` is valid by construction (a usable field path, a value of the right
/// shape for the operator, a compiled regular expression for `matches`), so evaluating it
/// cannot fail and serializing it always parses back.
///
/// ```
/// use hubflow::condition::{Comparison, Op};
/// use serde_json::json;
///
/// let c = Comparison::new("wo_folio", Op::StartsWith, Some(json!("ot-")), true)?;
/// assert_eq!(c.field(), "wo_folio");
/// assert!(Comparison::new("a..b", Op::Exists, None, false).is_err());
/// # Ok::<(), hubflow::SpecErrors>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    field: String,
    op: Op,
    value: Option<Value>,
    case_insensitive: bool,
    pattern: Option<Pattern>,
}

impl Comparison {
    /// Builds a comparison, checking it as [`Rule::parse`] would.
    ///
    /// Errors carry JSON pointers relative to the comparison object (`/field`, `/value`).
    pub fn new(
        field: impl Into<String>,
        op: Op,
        value: Option<Value>,
        case_insensitive: bool,
    ) -> Result<Comparison, SpecErrors> {
        let field = field.into();
        let mut errors = SpecErrors::new();
        if let Some(error) = check_field(&field) {
            errors.push(error);
        }
        let pattern = match check_operand(op, value.as_ref(), case_insensitive) {
            Ok(pattern) => pattern,
            Err(error) => {
                errors.push(error);
                None
            }
        };
        errors.into_result(Comparison {
            field,
            op,
            value,
            case_insensitive,
            pattern,
        })
    }

    /// The dotted field path.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// The operator.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The operand; `None` for `exists`, `missing` and `empty`.
    pub fn value(&self) -> Option<&Value> {
        self.value.as_ref()
    }

    /// Whether text comparisons ignore case.
    pub fn is_case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    /// Applies the operator to what the record holds at the field (`None`: missing).
    fn holds(&self, found: Option<&Value>) -> bool {
        // Negative operators are defined through their twins so that the two can never
        // disagree, missing fields included.
        match self.op {
            Op::Ne => !self.holds_positive(Op::Eq, found),
            Op::NotContains => !self.holds_positive(Op::Contains, found),
            Op::NotIn => !self.holds_positive(Op::In, found),
            Op::Exists => found.is_some(),
            Op::Missing => found.is_none(),
            Op::Empty => found.is_none_or(is_empty_value),
            op => self.holds_positive(op, found),
        }
    }

    fn holds_positive(&self, op: Op, found: Option<&Value>) -> bool {
        let (Some(found), Some(value)) = (found, self.value.as_ref()) else {
            return false;
        };
        let ci = self.case_insensitive;
        match op {
            Op::Eq => equal(found, value, ci),
            Op::Contains => contains(found, value, ci),
            Op::StartsWith => text_pair(found, value, ci).is_some_and(|(t, v)| t.starts_with(&*v)),
            Op::EndsWith => text_pair(found, value, ci).is_some_and(|(t, v)| t.ends_with(&*v)),
            Op::Gt => order(found, value, ci) == Some(Ordering::Greater),
            Op::Gte => matches!(
                order(found, value, ci),
                Some(Ordering::Greater | Ordering::Equal)
            ),
            Op::Lt => order(found, value, ci) == Some(Ordering::Less),
            Op::Lte => matches!(
                order(found, value, ci),
                Some(Ordering::Less | Ordering::Equal)
            ),
            Op::In => value
                .as_array()
                .is_some_and(|items| items.iter().any(|item| equal(found, item, ci))),
            Op::Matches => match (&self.pattern, text(found)) {
                (Some(Pattern(regex)), Some(text)) => regex.is_match(&text),
                _ => false,
            },
            // Handled in `holds`; listed so a new operator cannot be forgotten here.
            Op::Ne | Op::NotContains | Op::NotIn | Op::Exists | Op::Missing | Op::Empty => false,
        }
    }
}

impl Condition for Comparison {
    fn evaluate(&self, record: &Record) -> bool {
        self.holds(record.get(&self.field))
    }

    fn explain(&self, record: &Record) -> Option<String> {
        if self.evaluate(record) {
            return None;
        }
        let (found, expected, case) = self.parts(record);
        Some(format!(
            "{} is {found}, expected {expected}{case}",
            self.field
        ))
    }
}

impl Comparison {
    /// The comparison as it applies to `record`, for a rule that excludes it
    /// (`mobile is missing, which is empty`).
    fn describe(&self, record: &Record) -> String {
        let (found, matched, case) = self.parts(record);
        format!("{} is {found}, which is {matched}{case}", self.field)
    }

    /// The value found, the operator with its operand, and the case note.
    fn parts(&self, record: &Record) -> (String, String, &'static str) {
        let found = match record.get(&self.field) {
            None => "missing".to_owned(),
            Some(value) => format!("{}", Shown(value)),
        };
        let expected = match &self.value {
            Some(value) => format!("{} {}", self.op, Shown(value)),
            None => self.op.to_string(),
        };
        let case = if self.case_insensitive {
            " (ignoring case)"
        } else {
            ""
        };
        (found, expected, case)
    }
}

/// A JSON value as a skip reason shows it: compact, cut after 60 characters.
struct Shown<'a>(&'a Value);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.to_string();
        match text.char_indices().nth(60) {
            Some((cut, _)) => write!(f, "{}…", &text[..cut]),
            None => f.write_str(&text),
        }
    }
}

impl Serialize for Comparison {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let len = 2 + usize::from(self.value.is_some()) + usize::from(self.case_insensitive);
        let mut map = serializer.serialize_map(Some(len))?;
        map.serialize_entry("field", &self.field)?;
        map.serialize_entry("op", &self.op)?;
        if let Some(value) = &self.value {
            map.serialize_entry("value", value)?;
        }
        if self.case_insensitive {
            map.serialize_entry("case_insensitive", &true)?;
        }
        map.end()
    }
}

/// A condition in the serializable rule language; see the [module docs](self) for the JSON
/// forms and the exact semantics of each operator.
///
/// Build one from JSON with [`Rule::parse`] (or serde), or in Rust:
///
/// ```
/// use hubflow::{Condition, Record, Rule};
/// use hubflow::condition::Op;
/// use serde_json::json;
///
/// let rule = Rule::all([
///     Rule::field("user_assigned").case_insensitive().eq("jonas campos")?,
///     Rule::not(Rule::compare("status", Op::In, json!(["closed", "cancelled"]))?),
///     Rule::any([
///         Rule::field("priority").gte(3)?,
///         Rule::field("wo_folio").matches("^OT-9")?,
///     ]),
/// ]);
///
/// let record = Record::new("k", "fracttal.work_order", json!({
///     "user_assigned": "Jonas Campos", "status": "open", "priority": "4", "wo_folio": "OT-881"
/// }));
/// assert!(rule.evaluate(&record));
/// assert_eq!(rule.fields(), ["user_assigned", "status", "priority", "wo_folio"]);
///
/// // The same rule as JSON, and back.
/// let json = serde_json::to_value(&rule)?;
/// assert_eq!(json["all"][0], json!(
///     {"field": "user_assigned", "op": "eq", "value": "jonas campos", "case_insensitive": true}
/// ));
/// assert_eq!(Rule::parse(&json)?, rule);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Rule {
    /// Always true: `"always"` or `{"always": true}`.
    Always,
    /// Every rule holds (true when empty): `{"all": [...]}`.
    All(Vec<Rule>),
    /// At least one rule holds (false when empty): `{"any": [...]}`.
    Any(Vec<Rule>),
    /// The rule does not hold: `{"not": rule}`.
    Not(Box<Rule>),
    /// A test of one field.
    Compare(Comparison),
}

/// How deeply rules may nest; deeper specs are refused so that parsing, evaluating and
/// serializing a parsed rule cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

const COMBINATOR_KEYS: [&str; 4] = ["all", "any", "not", "always"];
const COMPARISON_KEYS: [&str; 4] = ["field", "op", "value", "case_insensitive"];
const FORMS_HINT: &str = "a rule is \"always\", {\"all\": [rules]}, {\"any\": [rules]}, \
                          {\"not\": rule} or {\"field\": \"path\", \"op\": \"eq\", \"value\": …}";

impl Rule {
    /// `{"all": rules}`: true when every rule holds, and when there is none.
    pub fn all(rules: impl IntoIterator<Item = Rule>) -> Rule {
        Rule::All(rules.into_iter().collect())
    }

    /// `{"any": rules}`: true when at least one rule holds; false when there is none.
    pub fn any(rules: impl IntoIterator<Item = Rule>) -> Rule {
        Rule::Any(rules.into_iter().collect())
    }

    /// `{"not": rule}`.
    #[allow(clippy::should_implement_trait)] // named after the JSON form it builds, like `all`
    pub fn not(rule: Rule) -> Rule {
        Rule::Not(Box::new(rule))
    }

    /// Starts a comparison on the field at `path`; finish it with an operator method.
    pub fn field(path: impl Into<String>) -> FieldRule {
        FieldRule {
            path: path.into(),
            case_insensitive: false,
        }
    }

    /// A comparison; `value` is `None` for `exists`, `missing` and `empty`.
    ///
    /// ```
    /// use hubflow::Rule;
    /// use hubflow::condition::Op;
    /// use serde_json::json;
    ///
    /// assert!(Rule::compare("priority", Op::Gt, json!(2)).is_ok());
    /// assert!(Rule::compare("closed_at", Op::Missing, None).is_ok());
    /// assert!(Rule::compare("status", Op::In, json!("open")).is_err()); // `in` needs an array
    /// ```
    pub fn compare(
        field: impl Into<String>,
        op: Op,
        value: impl Into<Option<Value>>,
    ) -> Result<Rule, SpecErrors> {
        Comparison::new(field, op, value.into(), false).map(Rule::Compare)
    }

    /// Parses the JSON form, collecting every problem rather than stopping at the first.
    ///
    /// Error paths are JSON pointers relative to `value`; prefix them with
    /// [`SpecErrors::prefixed`] when the rule sits inside a larger document. Rules nested
    /// more than 64 levels deep are refused, so that no spec can exhaust the stack.
    ///
    /// ```
    /// use hubflow::{Condition, Record, Rule};
    /// use serde_json::json;
    ///
    /// let rule = Rule::parse(&json!(
    ///     {"all": [{"field": "user_assigned", "op": "eq", "value": "Jonas Campos"}]}
    /// ))?;
    /// let record = Record::new("k", "t", json!({"user_assigned": "Jonas Campos"}));
    /// assert!(rule.evaluate(&record));
    ///
    /// let errors = Rule::parse(&json!({"any": [
    ///     {"field": "a", "op": "equal", "value": 1},
    ///     {"field": "b", "op": "in", "value": "x"}
    /// ]})).unwrap_err();
    /// let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    /// assert_eq!(paths, ["/any/0/op", "/any/1/value"]);
    /// assert!(errors.to_string().contains("unknown operator \"equal\""));
    /// # Ok::<(), hubflow::SpecErrors>(())
    /// ```
    pub fn parse(value: &Value) -> Result<Rule, SpecErrors> {
        let mut errors = SpecErrors::new();
        let rule = parse_rule(value, "", 0, &mut errors);
        match rule {
            Some(rule) if errors.is_empty() => Ok(rule),
            _ => Err(errors),
        }
    }

    /// The field paths the rule reads, each once, in the order they first appear.
    pub fn fields(&self) -> Vec<&str> {
        let mut fields = Vec::new();
        self.collect_fields(&mut fields);
        fields
    }

    fn collect_fields<'r>(&'r self, out: &mut Vec<&'r str>) {
        match self {
            Rule::Always => {}
            Rule::All(rules) | Rule::Any(rules) => {
                for rule in rules {
                    rule.collect_fields(out);
                }
            }
            Rule::Not(rule) => rule.collect_fields(out),
            Rule::Compare(c) => {
                if !out.contains(&c.field.as_str()) {
                    out.push(&c.field);
                }
            }
        }
    }
}

impl From<Comparison> for Rule {
    fn from(comparison: Comparison) -> Self {
        Rule::Compare(comparison)
    }
}

impl Condition for Rule {
    fn evaluate(&self, record: &Record) -> bool {
        match self {
            Rule::Always => true,
            Rule::All(rules) => rules.iter().all(|rule| rule.evaluate(record)),
            Rule::Any(rules) => rules.iter().any(|rule| rule.evaluate(record)),
            Rule::Not(rule) => !rule.evaluate(record),
            Rule::Compare(c) => c.evaluate(record),
        }
    }

    /// Names the first clause that fails, with the value the record has:
    ///
    /// ```
    /// use hubflow::{Condition, Record, Rule};
    /// use serde_json::json;
    /// let rule = Rule::parse(&json!({"all": [
    ///     {"field": "status", "op": "in", "value": [1, 2]},
    ///     {"field": "user_assigned", "op": "eq", "value": "Jonas Campos"}
    /// ]})).unwrap();
    /// let record = Record::new("k", "t", json!({"status": 1, "user_assigned": "Marta Lima"}));
    /// assert_eq!(
    ///     rule.explain(&record).unwrap(),
    ///     r#"user_assigned is "Marta Lima", expected eq "Jonas Campos""#
    /// );
    /// ```
    fn explain(&self, record: &Record) -> Option<String> {
        if self.evaluate(record) {
            return None;
        }
        match self {
            Rule::Always => None,
            Rule::All(rules) => rules.iter().find_map(|rule| rule.explain(record)),
            Rule::Any(rules) if rules.is_empty() => Some("an empty `any` never holds".to_owned()),
            Rule::Any(rules) => {
                let reasons: Vec<String> = rules
                    .iter()
                    .filter_map(|rule| rule.explain(record))
                    .collect();
                Some(format!("none of these holds: {}", reasons.join("; ")))
            }
            Rule::Not(rule) => Some(match &**rule {
                Rule::Compare(c) => c.describe(record),
                Rule::Any(rules) => rules
                    .iter()
                    .filter_map(|rule| match rule {
                        Rule::Compare(c) if c.evaluate(record) => Some(c.describe(record)),
                        _ => None,
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
                other => format!("{other} holds, and the rule excludes it"),
            })
            .filter(|why| !why.is_empty()),
            Rule::Compare(c) => c.explain(record),
        }
    }
}

impl Serialize for Rule {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Rule::Always => serializer.serialize_str("always"),
            Rule::All(rules) => single_entry(serializer, "all", rules),
            Rule::Any(rules) => single_entry(serializer, "any", rules),
            Rule::Not(rule) => single_entry(serializer, "not", rule),
            Rule::Compare(c) => c.serialize(serializer),
        }
    }
}

fn single_entry<S: Serializer, T: Serialize + ?Sized>(
    serializer: S,
    key: &str,
    value: &T,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(1))?;
    map.serialize_entry(key, value)?;
    map.end()
}

impl<'de> Deserialize<'de> for Rule {
    /// Goes through [`Rule::parse`], so serde and specs accept exactly the same rules; the
    /// error message lists every problem with its JSON pointer.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Rule::parse(&value).map_err(serde::de::Error::custom)
    }
}

/// A comparison under construction, from [`Rule::field`]: pick the case mode, then an
/// operator.
///
/// Every operator method checks the comparison as [`Rule::parse`] would, so it returns a
/// `Result` (an empty path, `a..b`, or an invalid regular expression are errors).
///
/// ```
/// use hubflow::Rule;
/// let rule = Rule::field("chat.phone").starts_with("55")?;
/// assert!(Rule::field("chat..phone").exists().is_err());
/// # Ok::<(), hubflow::SpecErrors>(())
/// ```
#[derive(Debug, Clone)]
#[must_use = "a field rule does nothing until an operator method finishes it"]
pub struct FieldRule {
    path: String,
    case_insensitive: bool,
}

impl FieldRule {
    /// Makes text comparisons ignore case (Unicode lowercase).
    pub fn case_insensitive(mut self) -> FieldRule {
        self.case_insensitive = true;
        self
    }

    fn finish(self, op: Op, value: Option<Value>) -> Result<Rule, SpecErrors> {
        Comparison::new(self.path, op, value, self.case_insensitive).map(Rule::Compare)
    }

    /// `eq`: equal to `value`.
    pub fn eq(self, value: impl Into<Value>) -> Result<Rule, SpecErrors> {
        self.finish(Op::Eq, Some(value.into()))
    }

    /// `ne`: not equal to `value` (true when the field is missing).
    pub fn ne(self, value: impl Into<Value>) -> Result<Rule, SpecErrors> {
        self.finish(Op::Ne, Some(value.into()))
    }

    /// `contains`: the text contains `value`, or the array holds an element equal to it.
    pub fn contains(self, value: impl Into<Value>) -> Result<Rule, SpecErrors> {
        self.finish(Op::Contains, Some(value.into()))
    }

    /// `not_contains`: negation of [`contains`](Self::contains).
    pub fn not_contains(self, value: impl Into<Value>) -> Result<Rule, SpecErrors> {
        self.finish(Op::NotContains, Some(value.into()))
    }

    /// `starts_with`: the text starts with `prefix`.
    pub fn starts_with(self, prefix: impl Into<String>) -> Result<Rule, SpecErrors> {
        self.finish(Op::StartsWith, Some(Value::String(prefix.into())))
    }

    /// `ends_with`: the text ends with `suffix`.
    pub fn ends_with(self, suffix: impl Into<String>) -> Result<Rule, SpecErrors> {
        self.finish(Op::EndsWith, Some(Value::String(suffix.into())))
    }

    /// `gt`: ordered after `value` (a number or a string).
    pub fn gt(self, value: impl Into<Value>) -> Result<Rule, SpecErrors> {
        self.finish(Op::Gt, Some(value.into()))
    }

    /// `gte`: ordered after or equal to `value` (a number or a string).
    pub fn gte(self, value: impl Into<Value>) -> Result<Rule, SpecErrors> {
        self.finish(Op::Gte, Some(value.into()))
    }

    /// `lt`: ordered before `value` (a number or a string).
    pub fn lt(self, value: impl Into<Value>) -> Result<Rule, SpecErrors> {
        self.finish(Op::Lt, Some(value.into()))
    }

    /// `lte`: ordered before or equal to `value` (a number or a string).
    pub fn lte(self, value: impl Into<Value>) -> Result<Rule, SpecErrors> {
        self.finish(Op::Lte, Some(value.into()))
    }

    /// `in`: equal to one of `values`.
    pub fn is_in<V: Into<Value>>(
        self,
        values: impl IntoIterator<Item = V>,
    ) -> Result<Rule, SpecErrors> {
        let values = values.into_iter().map(Into::into).collect();
        self.finish(Op::In, Some(Value::Array(values)))
    }

    /// `not_in`: equal to none of `values` (true when the field is missing).
    pub fn not_in<V: Into<Value>>(
        self,
        values: impl IntoIterator<Item = V>,
    ) -> Result<Rule, SpecErrors> {
        let values = values.into_iter().map(Into::into).collect();
        self.finish(Op::NotIn, Some(Value::Array(values)))
    }

    /// `exists`: the field is present, even as `null`.
    pub fn exists(self) -> Result<Rule, SpecErrors> {
        self.finish(Op::Exists, None)
    }

    /// `missing`: the field is absent.
    pub fn missing(self) -> Result<Rule, SpecErrors> {
        self.finish(Op::Missing, None)
    }

    /// `empty`: the field is absent, `null`, `""`, `[]` or `{}`.
    pub fn empty(self) -> Result<Rule, SpecErrors> {
        self.finish(Op::Empty, None)
    }

    /// `matches`: the text matches the regular expression `pattern` (unanchored).
    pub fn matches(self, pattern: impl Into<String>) -> Result<Rule, SpecErrors> {
        self.finish(Op::Matches, Some(Value::String(pattern.into())))
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

fn parse_rule(value: &Value, path: &str, depth: usize, errors: &mut SpecErrors) -> Option<Rule> {
    if depth > MAX_DEPTH {
        errors.push(
            SpecError::new(
                path,
                format!("rules nest more than {MAX_DEPTH} levels deep"),
            )
            .with_hint("flatten nested \"all\"/\"any\" lists"),
        );
        return None;
    }
    match value {
        Value::String(s) if s == "always" => Some(Rule::Always),
        Value::String(s) => {
            errors.push(
                SpecError::new(path, format!("unknown rule {}", quote(s))).with_hint(format!(
                    "the only rule written as a string is \"always\"; {FORMS_HINT}"
                )),
            );
            None
        }
        Value::Object(map) => parse_object(map, path, depth, errors),
        other => {
            errors.push(
                SpecError::new(path, format!("expected a rule, found {}", kind(other)))
                    .with_hint(FORMS_HINT),
            );
            None
        }
    }
}

fn parse_object(
    map: &Map<String, Value>,
    path: &str,
    depth: usize,
    errors: &mut SpecErrors,
) -> Option<Rule> {
    let combinators: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|key| COMBINATOR_KEYS.contains(key))
        .collect();
    let comparison_keys: Vec<&str> = map
        .keys()
        .map(String::as_str)
        .filter(|key| COMPARISON_KEYS.contains(key))
        .collect();
    match (combinators.as_slice(), comparison_keys.is_empty()) {
        ([], false) => parse_comparison(map, path, errors),
        ([key], true) => parse_combinator(key, map, path, depth, errors),
        ([], true) => {
            let message = if map.is_empty() {
                "an empty object is not a rule".to_owned()
            } else {
                format!("not a rule: no known key among {}", quoted_keys(map.keys()))
            };
            errors.push(SpecError::new(path, message).with_hint(FORMS_HINT));
            None
        }
        _ => {
            let mixed = combinators.iter().chain(&comparison_keys).copied();
            errors.push(
                SpecError::new(
                    path,
                    format!("ambiguous rule with keys {}", quoted_keys(mixed)),
                )
                .with_hint(
                    "a rule object is exactly one of all/any/not/always or a comparison; \
                         combine several rules with {\"all\": [...]}",
                ),
            );
            None
        }
    }
}

fn parse_combinator(
    key: &str,
    map: &Map<String, Value>,
    path: &str,
    depth: usize,
    errors: &mut SpecErrors,
) -> Option<Rule> {
    for other in map.keys().filter(|k| k.as_str() != key) {
        errors.push(
            SpecError::new(
                format!("{path}/{}", pointer_token(other)),
                format!("unknown key {} beside {}", quote(other), quote(key)),
            )
            .with_hint(format!(
                "a {} rule has only the {} key",
                quote(key),
                quote(key)
            )),
        );
    }
    let inner_path = format!("{path}/{key}");
    let inner = map.get(key)?;
    let rule = match key {
        "all" | "any" => {
            let Value::Array(items) = inner else {
                errors.push(
                    SpecError::new(
                        &inner_path,
                        format!("expected an array of rules, found {}", kind(inner)),
                    )
                    .with_hint(format!("write {{{}: [rule, …]}}", quote(key))),
                );
                return None;
            };
            // Parse every element before giving up, so errors in later branches are reported.
            let rules: Vec<Option<Rule>> = items
                .iter()
                .enumerate()
                .map(|(i, item)| parse_rule(item, &format!("{inner_path}/{i}"), depth + 1, errors))
                .collect();
            let rules: Vec<Rule> = rules.into_iter().collect::<Option<_>>()?;
            if key == "all" {
                Rule::All(rules)
            } else {
                Rule::Any(rules)
            }
        }
        "not" => Rule::not(parse_rule(inner, &inner_path, depth + 1, errors)?),
        _ => match inner {
            Value::Bool(true) => Rule::Always,
            Value::Bool(false) => {
                errors.push(
                    SpecError::new(&inner_path, "\"always\" must be true")
                        .with_hint("for a rule that never holds write {\"not\": \"always\"}"),
                );
                return None;
            }
            other => {
                errors.push(
                    SpecError::new(&inner_path, format!("expected true, found {}", kind(other)))
                        .with_hint("write {\"always\": true} or simply \"always\""),
                );
                return None;
            }
        },
    };
    Some(rule)
}

fn parse_comparison(map: &Map<String, Value>, path: &str, errors: &mut SpecErrors) -> Option<Rule> {
    // Paths here are relative to the comparison; they are prefixed once at the end.
    let mut local = SpecErrors::new();
    for key in map
        .keys()
        .filter(|k| !COMPARISON_KEYS.contains(&k.as_str()))
    {
        let mut hint = format!(
            "a comparison has only the keys {}",
            quoted_keys(COMPARISON_KEYS.iter())
        );
        if let Some(known) = COMPARISON_KEYS
            .iter()
            .chain(&COMBINATOR_KEYS)
            .find(|known| loose(known) == loose(key))
        {
            hint = format!("did you mean {}? {hint}", quote(known));
        }
        local.push(
            SpecError::new(
                format!("/{}", pointer_token(key)),
                format!("unknown key {}", quote(key)),
            )
            .with_hint(hint),
        );
    }

    let field = match map.get("field") {
        Some(Value::String(field)) => Some(field.clone()),
        Some(other) => {
            local.push(
                SpecError::new(
                    "/field",
                    format!("expected a string, found {}", kind(other)),
                )
                .with_hint(FIELD_HINT),
            );
            None
        }
        None => {
            local.push(SpecError::new("/field", "missing \"field\"").with_hint(FIELD_HINT));
            None
        }
    };

    let op = match map.get("op") {
        Some(Value::String(name)) => match Op::from_name(name) {
            Some(op) => Some(op),
            None => {
                let mut hint = format!("expected one of {}", op_names());
                if let Some(op) = suggest_op(name) {
                    hint = format!("did you mean {}? {hint}", quote(op.name()));
                }
                local.push(
                    SpecError::new("/op", format!("unknown operator {}", quote(name)))
                        .with_hint(hint),
                );
                None
            }
        },
        Some(other) => {
            local.push(
                SpecError::new(
                    "/op",
                    format!("expected an operator name, found {}", kind(other)),
                )
                .with_hint(format!("expected one of {}", op_names())),
            );
            None
        }
        None => {
            local.push(
                SpecError::new("/op", "missing \"op\"")
                    .with_hint(format!("expected one of {}", op_names())),
            );
            None
        }
    };

    let case_insensitive = match map.get("case_insensitive") {
        None => Some(false),
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            local.push(
                SpecError::new(
                    "/case_insensitive",
                    format!("expected true or false, found {}", kind(other)),
                )
                .with_hint("write \"case_insensitive\": true, or leave it out for false"),
            );
            None
        }
    };

    let value = map.get("value").cloned();
    let comparison = match (field, op, case_insensitive) {
        (Some(field), Some(op), Some(ci)) => match Comparison::new(field, op, value, ci) {
            Ok(comparison) => Some(comparison),
            Err(more) => {
                local.extend(more);
                None
            }
        },
        // Still check the parts that are readable, so one pass reports everything.
        (field, op, ci) => {
            if let Some(error) = field.as_deref().and_then(check_field) {
                local.push(error);
            }
            if let Some(op) = op {
                if let Err(error) = check_operand(op, value.as_ref(), ci.unwrap_or(false)) {
                    local.push(error);
                }
            }
            None
        }
    };
    let ok = local.is_empty();
    // Report in the order a form shows the keys, whatever stage found the problem.
    let mut local: Vec<SpecError> = local.into_iter().collect();
    local.sort_by_key(|error| {
        ["/field", "/op", "/value", "/case_insensitive"]
            .iter()
            .position(|key| *key == error.path)
            .unwrap_or(usize::MAX)
    });
    errors.extend(SpecErrors::from(local).prefixed(path));
    comparison.filter(|_| ok).map(Rule::Compare)
}

const FIELD_HINT: &str =
    "name the record field to test as a dotted path, e.g. \"user_assigned\" or \"messages.0.text\"";

/// Checks a field path; the error's pointer is `/field`.
fn check_field(field: &str) -> Option<SpecError> {
    if field.is_empty() {
        return Some(SpecError::new("/field", "empty field path").with_hint(FIELD_HINT));
    }
    if field.split('.').any(str::is_empty) {
        return Some(
            SpecError::new(
                "/field",
                format!("field path {} has an empty segment", quote(field)),
            )
            .with_hint("separate segments with single dots, with none at either end"),
        );
    }
    None
}

/// Checks that `value` suits `op`, compiling the pattern of `matches`; the error's pointer
/// is `/value`.
fn check_operand(
    op: Op,
    value: Option<&Value>,
    case_insensitive: bool,
) -> Result<Option<Pattern>, SpecError> {
    let name = quote(op.name());
    let value = match (op.takes_value(), value) {
        (false, None) => return Ok(None),
        (false, Some(_)) => {
            return Err(
                SpecError::new("/value", format!("operator {name} takes no value"))
                    .with_hint("remove \"value\""),
            )
        }
        (true, None) => {
            return Err(
                SpecError::new("/value", format!("operator {name} needs a \"value\""))
                    .with_hint(value_hint(op)),
            )
        }
        (true, Some(value)) => value,
    };
    let fits = match op {
        Op::In | Op::NotIn => value.is_array(),
        Op::StartsWith | Op::EndsWith | Op::Matches => value.is_string(),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => value.is_number() || value.is_string(),
        _ => true,
    };
    if !fits {
        return Err(SpecError::new(
            "/value",
            format!("operator {name} cannot use {} as its value", kind(value)),
        )
        .with_hint(value_hint(op)));
    }
    match (op, value) {
        (Op::Matches, Value::String(pattern)) => RegexBuilder::new(pattern)
            .case_insensitive(case_insensitive)
            .build()
            .map(|regex| Some(Pattern(regex)))
            .map_err(|error| {
                SpecError::new(
                    "/value",
                    format!("invalid regular expression: {}", regex_problem(&error)),
                )
                .with_hint("use Rust regex syntax; escape special characters such as . ( [ with \\")
            }),
        _ => Ok(None),
    }
}

fn value_hint(op: Op) -> &'static str {
    match op {
        Op::In | Op::NotIn => "give an array of candidates, e.g. [\"open\", \"in_progress\"]",
        Op::StartsWith | Op::EndsWith => "give the text to look for, as a string",
        Op::Matches => "give a regular expression as a string, e.g. \"^OT-\\\\d+$\"",
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            "give a number, an instant such as \"2026-03-01T12:00:00Z\", or a string"
        }
        _ => "give the value to compare with",
    }
}

/// The last line of a regex error: the multi-line form repeats the pattern with a caret,
/// which does not fit a one-line spec error.
fn regex_problem(error: &regex::Error) -> String {
    let text = error.to_string();
    let last = text.lines().rev().find(|line| !line.trim().is_empty());
    let last = last.unwrap_or(&text).trim();
    last.strip_prefix("error: ").unwrap_or(last).to_owned()
}

fn op_names() -> String {
    let names: Vec<&str> = Op::ALL.iter().map(|op| op.name()).collect();
    names.join(", ")
}

/// Lowercase, without separators: `startsWith`, `Starts-With` and `starts_with` agree.
fn loose(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// A likely intended operator for an unknown name, for the hint only.
fn suggest_op(name: &str) -> Option<Op> {
    let op = match name.trim() {
        "=" | "==" | "===" => Op::Eq,
        "!=" | "!==" | "<>" => Op::Ne,
        ">" => Op::Gt,
        ">=" => Op::Gte,
        "<" => Op::Lt,
        "<=" => Op::Lte,
        "~" | "=~" => Op::Matches,
        other => match loose(other).as_str() {
            "equal" | "equals" | "is" | "eql" | "equalto" => Op::Eq,
            "notequal" | "notequals" | "neq" | "isnot" | "different" => Op::Ne,
            "greaterthan" | "greater" | "after" => Op::Gt,
            "ge" | "greaterorequal" | "greaterthanorequal" => Op::Gte,
            "lessthan" | "less" | "before" => Op::Lt,
            "le" | "lessorequal" | "lessthanorequal" => Op::Lte,
            "include" | "includes" | "has" | "contain" => Op::Contains,
            "notinclude" | "notincludes" | "notcontain" | "doesnotcontain" => Op::NotContains,
            "startswith" | "begins" | "beginswith" | "prefix" => Op::StartsWith,
            "endswith" | "suffix" => Op::EndsWith,
            "oneof" | "anyof" | "within" => Op::In,
            "noneof" | "notoneof" | "notwithin" => Op::NotIn,
            "present" | "exist" | "isset" | "hasfield" => Op::Exists,
            "absent" | "notexists" | "notset" | "isnull" | "undefined" => Op::Missing,
            "blank" | "isempty" => Op::Empty,
            "regex" | "regexp" | "match" | "like" => Op::Matches,
            loose_name => {
                return Op::ALL
                    .iter()
                    .copied()
                    .find(|op| loose(op.name()) == loose_name)
            }
        },
    };
    Some(op)
}

/// JSON quoting, so messages show names exactly as they appear in a spec.
fn quote(s: &str) -> String {
    Value::from(s).to_string()
}

fn quoted_keys<K: AsRef<str>>(keys: impl Iterator<Item = K>) -> String {
    let quoted: Vec<String> = keys.map(|key| quote(key.as_ref())).collect();
    quoted.join(", ")
}

use crate::record::json_kind as kind;

// ---------------------------------------------------------------------------------------
// Evaluation

fn is_empty_value(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

fn fold(s: &str, case_insensitive: bool) -> Cow<'_, str> {
    if case_insensitive {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

/// The text a text operator sees: strings as they are, numbers in their JSON form.
fn text(value: &Value) -> Option<Cow<'_, str>> {
    match value {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// The found text and the rule's string operand, both case-folded when asked.
fn text_pair<'a>(
    found: &'a Value,
    value: &'a Value,
    ci: bool,
) -> Option<(Cow<'a, str>, Cow<'a, str>)> {
    let needle = value.as_str()?;
    let haystack = text(found)?;
    let haystack = match haystack {
        Cow::Borrowed(s) => fold(s, ci),
        Cow::Owned(s) if ci => Cow::Owned(s.to_lowercase()),
        owned => owned,
    };
    Some((haystack, fold(needle, ci)))
}

fn contains(found: &Value, value: &Value, ci: bool) -> bool {
    match found {
        Value::Array(items) => items.iter().any(|item| equal(item, value, ci)),
        _ => text_pair(found, value, ci).is_some_and(|(t, v)| t.contains(&*v)),
    }
}

fn equal(a: &Value, b: &Value, ci: bool) -> bool {
    if let Some((x, y)) = numbers(a, b) {
        return x.compare(y) == Some(Ordering::Equal);
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => {
            if x == y {
                return true;
            }
            match (parse_instant(x), parse_instant(y)) {
                (Some(x), Some(y)) => x == y,
                _ => ci && fold(x, true) == fold(y, true),
            }
        }
        _ => a == b,
    }
}

fn order(a: &Value, b: &Value, ci: bool) -> Option<Ordering> {
    if let Some((x, y)) = numbers(a, b) {
        return x.compare(y);
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => match (parse_instant(x), parse_instant(y)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => Some(fold(x, ci).cmp(&fold(y, ci))),
        },
        _ => None,
    }
}

/// A number read from JSON or from a numeric string. Integers stay exact (every `i64` and
/// `u64` fits an `i128`), so ids above 2^53 do not compare equal to their neighbours.
#[derive(Debug, Clone, Copy)]
enum Num {
    Int(i128),
    Float(f64),
}

impl Num {
    fn of(n: &serde_json::Number) -> Option<Num> {
        if let Some(i) = n.as_i64() {
            Some(Num::Int(i.into()))
        } else if let Some(u) = n.as_u64() {
            Some(Num::Int(u.into()))
        } else {
            n.as_f64().filter(|f| f.is_finite()).map(Num::Float)
        }
    }

    fn parse(s: &str) -> Option<Num> {
        let s = s.trim();
        // Cheap rejection of ordinary words before two parse attempts; "inf" and "NaN",
        // which `f64::from_str` accepts, are refused here or by the finiteness check.
        if !s.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.')) {
            return None;
        }
        if let Ok(i) = s.parse::<i128>() {
            return Some(Num::Int(i));
        }
        s.parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Num::Float)
    }

    fn compare(self, other: Num) -> Option<Ordering> {
        match (self, other) {
            (Num::Int(a), Num::Int(b)) => Some(a.cmp(&b)),
            (Num::Float(a), Num::Float(b)) => a.partial_cmp(&b),
            (Num::Int(a), Num::Float(b)) => int_float(a, b),
            (Num::Float(a), Num::Int(b)) => int_float(b, a).map(Ordering::reverse),
        }
    }
}

/// Compares an integer with a float without rounding the integer when the float is whole.
fn int_float(i: i128, f: f64) -> Option<Ordering> {
    // i128 spans about ±1.7e38; a whole float in that range converts exactly.
    const LIMIT: f64 = 1.0e38;
    if f.fract() == 0.0 && f.abs() < LIMIT {
        Some(i.cmp(&(f as i128)))
    } else {
        // A fractional float is below 2^53 in magnitude, so rounding `i` cannot flip the
        // order; a huge float dwarfs any i64/u64.
        (i as f64).partial_cmp(&f)
    }
}

/// Both sides as numbers, when at least one is a JSON number and the other is a number or
/// a numeric string.
fn numbers(a: &Value, b: &Value) -> Option<(Num, Num)> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => Some((Num::of(x)?, Num::of(y)?)),
        (Value::Number(x), Value::String(y)) => Some((Num::of(x)?, Num::parse(y)?)),
        (Value::String(x), Value::Number(y)) => Some((Num::parse(x)?, Num::of(y)?)),
        _ => None,
    }
}

/// Reads an instant in any of the formats the providers send (see the module docs); the one
/// tolerant date parser of the crate, shared with the mapper's `date` filter.
///
/// Naive date-times and bare dates are taken as UTC.
pub(crate) fn parse_instant(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    // Every accepted format starts with a four-digit year and a dash; checking that first
    // keeps ordinary strings from going through several failed parses on every comparison.
    let bytes = s.as_bytes();
    if bytes.len() < 10 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return None;
    }
    // chrono's relaxed RFC 3339 reading takes `T` or a space, `Z`, `UTC`, `+hh:mm`, `+hhmm`,
    // and a space before the offset.
    if let Ok(at) = s.parse::<DateTime<FixedOffset>>() {
        return Some(at.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(naive) = NaiveDateTime::parse_from_str(s, format) {
            return Some(naive.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|naive| naive.and_utc())
}

/// The rule's JSON form, compact: what a skip reason shows.
///
/// ```
/// use hubflow::Rule;
/// let rule = Rule::parse(&serde_json::json!({"field": "a", "op": "eq", "value": 1})).unwrap();
/// assert_eq!(rule.to_string(), r#"{"field":"a","op":"eq","value":1}"#);
/// ```
impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn rec(data: Value) -> Record {
        Record::new("k", "test", data)
    }

    fn cmp(field: &str, op: Op, value: Option<Value>) -> Rule {
        Rule::Compare(Comparison::new(field, op, value, false).unwrap())
    }

    fn cmp_ci(field: &str, op: Op, value: Option<Value>) -> Rule {
        Rule::Compare(Comparison::new(field, op, value, true).unwrap())
    }

    fn holds(rule: &Rule, data: Value) -> bool {
        rule.evaluate(&rec(data))
    }

    fn paths(errors: &SpecErrors) -> Vec<&str> {
        errors.iter().map(|e| e.path.as_str()).collect()
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    // --- parse_instant -----------------------------------------------------------------

    #[test]
    fn parse_instant_reads_every_documented_format() {
        let noon = utc(2026, 3, 1, 12, 0, 0);
        assert_eq!(parse_instant("2026-03-01T12:00:00Z"), Some(noon));
        assert_eq!(parse_instant("2026-03-01T09:00:00-03:00"), Some(noon));
        assert_eq!(parse_instant("2026-03-01T12:00:00.000Z"), Some(noon));
        assert_eq!(
            parse_instant("2021-02-24T16:25:29+0000"),
            Some(utc(2021, 2, 24, 16, 25, 29))
        );
        assert_eq!(
            parse_instant("2024-01-08 10:35:18 +0200"),
            Some(utc(2024, 1, 8, 8, 35, 18))
        );
        assert_eq!(parse_instant("2026-03-01 12:00:00"), Some(noon));
        assert_eq!(parse_instant("2026-03-01T12:00:00"), Some(noon));
        assert_eq!(
            parse_instant("2026-03-01T12:00:00.250"),
            Some(noon + chrono::Duration::milliseconds(250))
        );
        assert_eq!(parse_instant("2026-03-01"), Some(utc(2026, 3, 1, 0, 0, 0)));
        assert_eq!(
            parse_instant(" 2026-03-01 "),
            Some(utc(2026, 3, 1, 0, 0, 0))
        );
    }

    #[test]
    fn parse_instant_refuses_non_instants() {
        for s in [
            "",
            "12",
            "2026",
            "OT-2026-03-01",
            "2026-13-01",
            "2026-02-30",
            "2026-03-01T25:00:00Z",
            "2026-03-01 noon",
            "01/03/2026",
            "1709294400",
            "2026-03-01T12:00:00+99:00",
            "2026-0é-01",
        ] {
            assert_eq!(parse_instant(s), None, "{s:?}");
        }
    }

    // --- operators, positive and negative ----------------------------------------------

    #[test]
    fn eq_and_ne() {
        let rule = cmp("name", Op::Eq, Some(json!("Jonas Campos")));
        assert!(holds(&rule, json!({"name": "Jonas Campos"})));
        assert!(!holds(&rule, json!({"name": "jonas campos"})));
        assert!(!holds(&rule, json!({"name": 1})));
        let ne = cmp("name", Op::Ne, Some(json!("Jonas Campos")));
        assert!(!holds(&ne, json!({"name": "Jonas Campos"})));
        assert!(holds(&ne, json!({"name": "Ana"})));
        // bools, null and objects by JSON equality
        assert!(holds(
            &cmp("b", Op::Eq, Some(json!(true))),
            json!({"b": true})
        ));
        assert!(!holds(
            &cmp("b", Op::Eq, Some(json!(true))),
            json!({"b": "true"})
        ));
        assert!(holds(
            &cmp("n", Op::Eq, Some(json!(null))),
            json!({"n": null})
        ));
        assert!(holds(
            &cmp("o", Op::Eq, Some(json!({"a": [1]}))),
            json!({"o": {"a": [1]}})
        ));
        assert!(!holds(
            &cmp("o", Op::Eq, Some(json!({"a": [1]}))),
            json!({"o": {"a": [2]}})
        ));
    }

    #[test]
    fn numbers_compare_numerically_with_numeric_strings() {
        let rule = cmp("qty", Op::Eq, Some(json!(12)));
        assert!(holds(&rule, json!({"qty": 12})));
        assert!(holds(&rule, json!({"qty": 12.0})));
        assert!(holds(&rule, json!({"qty": "12.0"})));
        assert!(holds(&rule, json!({"qty": " 12 "})));
        assert!(!holds(&rule, json!({"qty": "12 units"})));
        assert!(!holds(&rule, json!({"qty": "NaN"})));
        assert!(holds(
            &cmp("qty", Op::Eq, Some(json!("12.0"))),
            json!({"qty": 12})
        ));
        // two strings compare as text, so "007" is not "7"
        assert!(!holds(
            &cmp("id", Op::Eq, Some(json!("7"))),
            json!({"id": "007"})
        ));
        // integers above 2^53 stay exact
        let big = cmp("id", Op::Eq, Some(json!(9_007_199_254_740_993_u64)));
        assert!(holds(&big, json!({"id": 9_007_199_254_740_993_u64})));
        assert!(!holds(&big, json!({"id": 9_007_199_254_740_992_u64})));
        assert!(holds(&big, json!({"id": "9007199254740993"})));
        assert!(holds(
            &cmp("n", Op::Eq, Some(json!(-1))),
            json!({"n": -1.0})
        ));
        assert!(holds(
            &cmp("n", Op::Lt, Some(json!(u64::MAX))),
            json!({"n": -1})
        ));
    }

    #[test]
    fn ordering_operators() {
        let data = json!({"n": 10, "s": "10", "t": "b", "f": 2.5});
        for (op, value, expected) in [
            (Op::Gt, json!(9), true),
            (Op::Gt, json!(10), false),
            (Op::Gte, json!(10), true),
            (Op::Gte, json!(11), false),
            (Op::Lt, json!(11), true),
            (Op::Lt, json!(10), false),
            (Op::Lte, json!(10), true),
            (Op::Lte, json!(9.5), false),
            (Op::Gt, json!("9"), true), // number against numeric string
        ] {
            assert_eq!(
                holds(&cmp("n", op, Some(value.clone())), data.clone()),
                expected,
                "{op} {value}"
            );
        }
        // numeric string field against a number value: numeric
        assert!(holds(&cmp("s", Op::Gt, Some(json!(9))), data.clone()));
        // two strings: lexicographic
        assert!(!holds(&cmp("s", Op::Gt, Some(json!("9"))), data.clone()));
        assert!(holds(&cmp("t", Op::Gt, Some(json!("a"))), data.clone()));
        assert!(!holds(&cmp("t", Op::Gt, Some(json!("c"))), data.clone()));
        assert!(holds(&cmp("f", Op::Lt, Some(json!(3))), data.clone()));
        assert!(holds(&cmp("f", Op::Gt, Some(json!(2))), data.clone()));
    }

    #[test]
    fn ordering_of_incompatible_types_is_false_both_ways() {
        for found in [
            json!(true),
            json!(null),
            json!([1]),
            json!({"a": 1}),
            json!("abc"),
        ] {
            for op in [Op::Gt, Op::Gte, Op::Lt, Op::Lte] {
                let rule = cmp("x", op, Some(json!(5)));
                assert!(!holds(&rule, json!({ "x": found })), "{op} on {found}");
            }
        }
    }

    #[test]
    fn instants_compare_across_formats() {
        let gt = cmp("at", Op::Gt, Some(json!("2021-02-24T15:00:00Z")));
        assert!(holds(&gt, json!({"at": "2021-02-24T16:25:29+0000"})));
        assert!(!holds(&gt, json!({"at": "2021-02-24T14:25:29+0000"})));
        // 10:35 +02:00 is 08:35 UTC, which lexicographic comparison would get wrong
        let lt = cmp("at", Op::Lt, Some(json!("2024-01-08T09:00:00Z")));
        assert!(holds(&lt, json!({"at": "2024-01-08 10:35:18 +0200"})));
        let eq = cmp("at", Op::Eq, Some(json!("2026-03-01T12:00:00Z")));
        assert!(holds(&eq, json!({"at": "2026-03-01T09:00:00-03:00"})));
        assert!(holds(&eq, json!({"at": "2026-03-01 12:00:00"})));
        assert!(holds(&eq, json!({"at": "2026-03-01T12:00:00"})));
        assert!(!holds(&eq, json!({"at": "2026-03-01T12:00:01Z"})));
        let day = cmp("at", Op::Gte, Some(json!("2026-03-01")));
        assert!(holds(&day, json!({"at": "2026-03-01T00:00:00Z"})));
        assert!(!holds(&day, json!({"at": "2026-02-28T23:59:59Z"})));
        assert!(holds(
            &cmp("at", Op::In, Some(json!(["2026-03-01"]))),
            json!({"at": "2026-03-01 00:00:00"})
        ));
    }

    #[test]
    fn contains_and_not_contains() {
        let rule = cmp("desc", Op::Contains, Some(json!("filter")));
        assert!(holds(&rule, json!({"desc": "Replace filter now"})));
        assert!(!holds(&rule, json!({"desc": "Replace FILTER now"})));
        let tags = cmp("tags", Op::Contains, Some(json!("urgent")));
        assert!(holds(&tags, json!({"tags": ["a", "urgent"]})));
        assert!(!holds(&tags, json!({"tags": ["a", "urgentish"]})));
        // array elements use eq semantics
        assert!(holds(
            &cmp("ids", Op::Contains, Some(json!(3))),
            json!({"ids": [1, "3.0"]})
        ));
        // a number's text
        assert!(holds(
            &cmp("phone", Op::Contains, Some(json!("987"))),
            json!({"phone": 5511987654321_u64})
        ));
        assert!(!holds(&rule, json!({"desc": {"filter": 1}})));
        let not = cmp("desc", Op::NotContains, Some(json!("filter")));
        assert!(!holds(&not, json!({"desc": "Replace filter now"})));
        assert!(holds(&not, json!({"desc": "Oil change"})));
    }

    #[test]
    fn starts_with_and_ends_with() {
        let starts = cmp("folio", Op::StartsWith, Some(json!("OT-")));
        assert!(holds(&starts, json!({"folio": "OT-881"})));
        assert!(!holds(&starts, json!({"folio": "ot-881"})));
        assert!(!holds(&starts, json!({"folio": ["OT-881"]})));
        let ends = cmp("folio", Op::EndsWith, Some(json!("881")));
        assert!(holds(&ends, json!({"folio": "OT-881"})));
        assert!(!holds(&ends, json!({"folio": "OT-882"})));
        let phone = cmp("phone", Op::StartsWith, Some(json!("55")));
        assert!(holds(&phone, json!({"phone": 5511987654321_u64})));
        assert!(!holds(&phone, json!({"phone": 4411987654321_u64})));
    }

    #[test]
    fn in_and_not_in() {
        let rule = cmp("status", Op::In, Some(json!(["open", "in_progress", 3])));
        assert!(holds(&rule, json!({"status": "open"})));
        assert!(holds(&rule, json!({"status": "3"})));
        assert!(!holds(&rule, json!({"status": "closed"})));
        let not = cmp("status", Op::NotIn, Some(json!(["closed"])));
        assert!(holds(&not, json!({"status": "open"})));
        assert!(!holds(&not, json!({"status": "closed"})));
        assert!(!holds(&cmp("s", Op::In, Some(json!([]))), json!({"s": 1})));
    }

    #[test]
    fn exists_missing_empty() {
        let exists = cmp("a", Op::Exists, None);
        let missing = cmp("a", Op::Missing, None);
        let empty = cmp("a", Op::Empty, None);
        for (data, e, m, em) in [
            (json!({"a": null}), true, false, true),
            (json!({"a": ""}), true, false, true),
            (json!({"a": []}), true, false, true),
            (json!({"a": {}}), true, false, true),
            (json!({"a": " "}), true, false, false),
            (json!({"a": 0}), true, false, false),
            (json!({"a": false}), true, false, false),
            (json!({"a": [null]}), true, false, false),
            (json!({"b": 1}), false, true, true),
            (json!("not an object"), false, true, true),
        ] {
            assert_eq!(holds(&exists, data.clone()), e, "exists {data}");
            assert_eq!(holds(&missing, data.clone()), m, "missing {data}");
            assert_eq!(holds(&empty, data.clone()), em, "empty {data}");
        }
    }

    #[test]
    fn matches_uses_the_compiled_pattern() {
        let rule = cmp("folio", Op::Matches, Some(json!(r"^OT-\d{3}$")));
        assert!(holds(&rule, json!({"folio": "OT-881"})));
        assert!(!holds(&rule, json!({"folio": "OT-8811"})));
        assert!(!holds(&rule, json!({"folio": "ot-881"})));
        assert!(!holds(&rule, json!({"folio": null})));
        assert!(holds(
            &cmp("n", Op::Matches, Some(json!(r"^\d+$"))),
            json!({"n": 42})
        ));
        let ci = cmp_ci("folio", Op::Matches, Some(json!(r"^ot-\d+$")));
        assert!(holds(&ci, json!({"folio": "OT-881"})));
        // the case flag is part of the compiled regex, not just of the stored flag
        let Rule::Compare(c) = &ci else {
            unreachable!()
        };
        assert!(c.pattern.as_ref().unwrap().0.is_match("OT-1"));
    }

    #[test]
    fn case_insensitive_strings_are_unicode_aware() {
        let eq = cmp_ci("name", Op::Eq, Some(json!("josé")));
        assert!(holds(&eq, json!({"name": "JOSÉ"})));
        assert!(!holds(
            &cmp("name", Op::Eq, Some(json!("josé"))),
            json!({"name": "JOSÉ"})
        ));
        assert!(holds(
            &cmp_ci("name", Op::Ne, Some(json!("JOSÉ"))),
            json!({"name": "joão"})
        ));
        assert!(!holds(
            &cmp_ci("name", Op::Ne, Some(json!("JOSÉ"))),
            json!({"name": "José"})
        ));
        assert!(holds(
            &cmp_ci("d", Op::Contains, Some(json!("FILTRO"))),
            json!({"d": "Trocar filtro de óleo"})
        ));
        assert!(holds(
            &cmp_ci("d", Op::StartsWith, Some(json!("ÁGUA"))),
            json!({"d": "água gelada"})
        ));
        assert!(holds(
            &cmp_ci("d", Op::EndsWith, Some(json!("ÇÃO"))),
            json!({"d": "manutenção"})
        ));
        assert!(holds(
            &cmp_ci("tags", Op::Contains, Some(json!("URGENT"))),
            json!({"tags": ["urgent"]})
        ));
        assert!(holds(
            &cmp_ci("s", Op::In, Some(json!(["OPEN"]))),
            json!({"s": "Open"})
        ));
        // by code point 'B' < 'a'; ignoring case, "a" < "b"
        assert!(holds(
            &cmp("s", Op::Gt, Some(json!("B"))),
            json!({"s": "a"})
        ));
        assert!(holds(
            &cmp_ci("s", Op::Lt, Some(json!("B"))),
            json!({"s": "a"})
        ));
        assert!(!holds(
            &cmp("s", Op::Lt, Some(json!("B"))),
            json!({"s": "a"})
        ));
    }

    #[test]
    fn missing_field_gives_the_documented_answer_for_every_op() {
        let data = json!({"other": 1});
        for &op in Op::ALL {
            let value = match op {
                Op::In | Op::NotIn => Some(json!([1, null])),
                Op::Exists | Op::Missing | Op::Empty => None,
                _ => Some(json!("1")),
            };
            let rule = cmp("absent.path", op, value);
            let expected = matches!(
                op,
                Op::Ne | Op::NotContains | Op::NotIn | Op::Missing | Op::Empty
            );
            assert_eq!(holds(&rule, data.clone()), expected, "{op}");
        }
    }

    #[test]
    fn nested_paths_with_array_indexes() {
        let data = json!({"wo": {"tasks": [
            {"assignee": {"name": "Ana"}},
            {"assignee": {"name": "Jonas Campos"}}
        ]}});
        assert!(holds(
            &cmp(
                "wo.tasks.1.assignee.name",
                Op::Eq,
                Some(json!("Jonas Campos"))
            ),
            data.clone()
        ));
        assert!(!holds(
            &cmp(
                "wo.tasks.0.assignee.name",
                Op::Eq,
                Some(json!("Jonas Campos"))
            ),
            data.clone()
        ));
        assert!(holds(&cmp("wo.tasks.2", Op::Missing, None), data.clone()));
        assert!(holds(&cmp("wo.tasks.0.assignee", Op::Exists, None), data));
    }

    #[test]
    fn combinators() {
        let data = json!({"a": 1, "b": 2});
        let a = cmp("a", Op::Eq, Some(json!(1)));
        let b_wrong = cmp("b", Op::Eq, Some(json!(3)));
        assert!(holds(&Rule::Always, data.clone()));
        assert!(holds(&Rule::all([]), data.clone()));
        assert!(!holds(&Rule::any([]), data.clone()));
        assert!(holds(&Rule::all([a.clone()]), data.clone()));
        assert!(!holds(
            &Rule::all([a.clone(), b_wrong.clone()]),
            data.clone()
        ));
        assert!(holds(
            &Rule::any([b_wrong.clone(), a.clone()]),
            data.clone()
        ));
        assert!(!holds(&Rule::any([b_wrong.clone()]), data.clone()));
        assert!(holds(&Rule::not(b_wrong.clone()), data.clone()));
        assert!(!holds(&Rule::not(a.clone()), data.clone()));
        assert!(!holds(&Rule::not(Rule::Always), data));
    }

    #[test]
    fn closures_and_comparisons_are_conditions() {
        let conditions: Vec<Box<dyn Condition>> = vec![
            Box::new(|r: &Record| r.kind == "test"),
            Box::new(Comparison::new("a", Op::Exists, None, false).unwrap()),
            Box::new(Rule::Always),
        ];
        let record = rec(json!({"a": 1}));
        assert!(conditions.iter().all(|c| c.evaluate(&record)));
        let other = Record::new("k", "other", json!({}));
        assert!(!conditions[0].evaluate(&other));
        assert!(!conditions[1].evaluate(&other));
    }

    #[test]
    fn builders_produce_the_same_rules_as_json() {
        let built = Rule::all([
            Rule::field("a").eq("x").unwrap(),
            Rule::field("b").case_insensitive().ne("y").unwrap(),
            Rule::field("c").contains("z").unwrap(),
            Rule::field("c").not_contains("w").unwrap(),
            Rule::field("d").starts_with("p").unwrap(),
            Rule::field("d").ends_with("s").unwrap(),
            Rule::field("e").gt(1).unwrap(),
            Rule::field("e").gte(1.5).unwrap(),
            Rule::field("e").lt("2026-03-01").unwrap(),
            Rule::field("e").lte(9).unwrap(),
            Rule::field("f").is_in(["a", "b"]).unwrap(),
            Rule::field("f").not_in([1, 2]).unwrap(),
            Rule::field("g").exists().unwrap(),
            Rule::field("g").missing().unwrap(),
            Rule::field("g").empty().unwrap(),
            Rule::field("h").case_insensitive().matches("^x").unwrap(),
            Rule::compare("i", Op::Eq, json!(null)).unwrap(),
            Rule::compare("i", Op::Exists, None).unwrap(),
        ]);
        let json = json!({"all": [
            {"field": "a", "op": "eq", "value": "x"},
            {"field": "b", "op": "ne", "value": "y", "case_insensitive": true},
            {"field": "c", "op": "contains", "value": "z"},
            {"field": "c", "op": "not_contains", "value": "w"},
            {"field": "d", "op": "starts_with", "value": "p"},
            {"field": "d", "op": "ends_with", "value": "s"},
            {"field": "e", "op": "gt", "value": 1},
            {"field": "e", "op": "gte", "value": 1.5},
            {"field": "e", "op": "lt", "value": "2026-03-01"},
            {"field": "e", "op": "lte", "value": 9},
            {"field": "f", "op": "in", "value": ["a", "b"]},
            {"field": "f", "op": "not_in", "value": [1, 2]},
            {"field": "g", "op": "exists"},
            {"field": "g", "op": "missing"},
            {"field": "g", "op": "empty"},
            {"field": "h", "op": "matches", "value": "^x", "case_insensitive": true},
            {"field": "i", "op": "eq", "value": null},
            {"field": "i", "op": "exists"}
        ]});
        assert_eq!(Rule::parse(&json).unwrap(), built);
        assert_eq!(serde_json::to_value(&built).unwrap(), json);
        assert_eq!(
            built.fields(),
            ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
        );
        assert!(Rule::field("").eq(1).is_err());
        assert!(Rule::field("h").matches("(").is_err());
        assert!(Rule::compare("x", Op::Empty, json!(1)).is_err());
    }

    #[test]
    fn op_names_match_serde_names() {
        assert_eq!(Op::ALL.len(), 16);
        for &op in Op::ALL {
            assert_eq!(serde_json::to_value(op).unwrap(), json!(op.name()));
            assert_eq!(Op::from_name(op.name()), Some(op));
            assert_eq!(op.to_string(), op.name());
        }
        assert_eq!(Op::from_name("EQ"), None);
    }

    // --- JSON form ----------------------------------------------------------------------

    #[test]
    fn the_fracttal_filter_parses_and_evaluates() {
        let rule: Rule = serde_json::from_str(
            r#"{"all":[{"field":"user_assigned","op":"eq","value":"Jonas Campos"}]}"#,
        )
        .unwrap();
        assert_eq!(
            rule,
            Rule::all([Rule::field("user_assigned").eq("Jonas Campos").unwrap()])
        );
        assert!(holds(&rule, json!({"user_assigned": "Jonas Campos"})));
        assert!(!holds(&rule, json!({"user_assigned": "Ana Souza"})));
        assert!(!holds(&rule, json!({})));
    }

    #[test]
    fn always_has_two_spellings() {
        assert_eq!(Rule::parse(&json!("always")).unwrap(), Rule::Always);
        assert_eq!(Rule::parse(&json!({"always": true})).unwrap(), Rule::Always);
        assert_eq!(serde_json::to_value(Rule::Always).unwrap(), json!("always"));
    }

    #[test]
    fn serde_round_trip() {
        let rule = Rule::any([
            Rule::Always,
            Rule::not(Rule::all([])),
            Rule::field("a.0.b")
                .case_insensitive()
                .matches("x+")
                .unwrap(),
            Rule::field("c")
                .is_in([json!(1), json!("2"), json!(null)])
                .unwrap(),
            Rule::field("d").missing().unwrap(),
        ]);
        let text = serde_json::to_string(&rule).unwrap();
        let back: Rule = serde_json::from_str(&text).unwrap();
        assert_eq!(back, rule);
        assert_eq!(
            Rule::parse(&serde_json::to_value(&rule).unwrap()).unwrap(),
            rule
        );
    }

    #[test]
    fn deserialize_reports_every_problem_through_parse() {
        let err = serde_json::from_value::<Rule>(json!({"any": [
            {"field": "a", "op": "equal", "value": 1},
            {"field": "b", "op": "bigger", "value": 1}
        ]}))
        .unwrap_err()
        .to_string();
        assert!(err.contains("2 problems"), "{err}");
        assert!(
            err.contains("/any/0/op: unknown operator \"equal\""),
            "{err}"
        );
        assert!(
            err.contains("/any/1/op: unknown operator \"bigger\""),
            "{err}"
        );
    }

    // --- parse errors -------------------------------------------------------------------

    #[test]
    fn unknown_operator_lists_every_name() {
        let errors =
            Rule::parse(&json!({"all": [{"field": "a", "op": "equal", "value": 1}]})).unwrap_err();
        assert_eq!(paths(&errors), ["/all/0/op"]);
        let error = errors.iter().next().unwrap();
        assert_eq!(error.message, "unknown operator \"equal\"");
        let hint = error.hint.as_deref().unwrap();
        assert!(hint.starts_with("did you mean \"eq\"? expected one of eq, ne, contains"));
        for op in Op::ALL {
            assert!(hint.contains(op.name()), "{hint}");
        }
        let symbol = Rule::parse(&json!({"field": "a", "op": ">=", "value": 1})).unwrap_err();
        assert!(symbol.to_string().contains("did you mean \"gte\""));
        let camel =
            Rule::parse(&json!({"field": "a", "op": "startsWith", "value": "x"})).unwrap_err();
        assert!(camel.to_string().contains("did you mean \"starts_with\""));
        let nonsense = Rule::parse(&json!({"field": "a", "op": "zzz", "value": 1})).unwrap_err();
        assert!(!nonsense.to_string().contains("did you mean"));
    }

    #[test]
    fn two_bad_operators_in_different_branches_give_two_errors() {
        let errors = Rule::parse(&json!({"all": [
            {"field": "a", "op": "eq", "value": 1},
            {"any": [{"not": {"field": "b", "op": "equals", "value": 1}}]},
            {"field": "c", "op": "gtt", "value": 1}
        ]}))
        .unwrap_err();
        assert_eq!(paths(&errors), ["/all/1/any/0/not/op", "/all/2/op"]);
    }

    #[test]
    fn comparison_shape_errors_are_all_collected() {
        // missing field + missing value for eq
        let errors = Rule::parse(&json!({"op": "eq"})).unwrap_err();
        assert_eq!(paths(&errors), ["/field", "/value"]);
        assert_eq!(errors.iter().next().unwrap().message, "missing \"field\"");
        // missing op
        let errors = Rule::parse(&json!({"field": "a", "value": 1})).unwrap_err();
        assert_eq!(paths(&errors), ["/op"]);
        // wrong types everywhere, each reported
        let errors = Rule::parse(&json!({
            "field": 3, "op": true, "value": 1, "case_insensitive": "yes"
        }))
        .unwrap_err();
        assert_eq!(paths(&errors), ["/field", "/op", "/case_insensitive"]);
    }

    #[test]
    fn operand_errors() {
        let errors = Rule::parse(&json!({"all": [
            {"field": "a", "op": "in", "value": "open"},
            {"field": "a", "op": "not_in", "value": {"a": 1}},
            {"field": "a", "op": "matches", "value": "(unclosed"},
            {"field": "a", "op": "matches", "value": 5},
            {"field": "a", "op": "starts_with", "value": 5},
            {"field": "a", "op": "gt", "value": [1]},
            {"field": "a", "op": "exists", "value": true},
            {"field": "a", "op": "contains"}
        ]}))
        .unwrap_err();
        assert_eq!(
            paths(&errors),
            [
                "/all/0/value",
                "/all/1/value",
                "/all/2/value",
                "/all/3/value",
                "/all/4/value",
                "/all/5/value",
                "/all/6/value",
                "/all/7/value"
            ]
        );
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages[0],
            "operator \"in\" cannot use a string as its value"
        );
        assert!(
            messages[2].starts_with("invalid regular expression: "),
            "{}",
            messages[2]
        );
        assert!(!messages[2].contains('\n'));
        assert_eq!(messages[6], "operator \"exists\" takes no value");
        assert_eq!(messages[7], "operator \"contains\" needs a \"value\"");
    }

    #[test]
    fn unknown_keys_in_a_comparison_are_denied() {
        let errors = Rule::parse(&json!({
            "field": "a", "op": "eq", "value": 1, "caseInsensitive": true, "note": "x/y"
        }))
        .unwrap_err();
        assert_eq!(paths(&errors), ["/caseInsensitive", "/note"]);
        let first = errors.iter().next().unwrap();
        assert_eq!(first.message, "unknown key \"caseInsensitive\"");
        let hint = first.hint.as_deref().unwrap();
        assert!(
            hint.starts_with("did you mean \"case_insensitive\"?"),
            "{hint}"
        );
        assert!(hint.contains("\"field\", \"op\", \"value\", \"case_insensitive\""));
        // keys are escaped as JSON-pointer tokens
        let errors = Rule::parse(&json!({"field": "a", "op": "exists", "a/b": 1})).unwrap_err();
        assert_eq!(paths(&errors), ["/a~1b"]);
    }

    #[test]
    fn bad_field_paths() {
        let errors = Rule::parse(&json!({"any": [
            {"field": "", "op": "exists"},
            {"field": "a..b", "op": "exists"},
            {"field": ".a", "op": "exists"},
            {"field": "a.", "op": "exists"},
            {"field": "a.b", "op": "exists"}
        ]}))
        .unwrap_err();
        assert_eq!(
            paths(&errors),
            [
                "/any/0/field",
                "/any/1/field",
                "/any/2/field",
                "/any/3/field"
            ]
        );
        assert_eq!(errors.iter().next().unwrap().message, "empty field path");
        assert_eq!(
            errors.iter().nth(1).unwrap().message,
            "field path \"a..b\" has an empty segment"
        );
    }

    #[test]
    fn field_and_operand_errors_are_both_reported_when_the_op_is_fine() {
        let errors = Rule::parse(&json!({"field": "a..b", "op": "in", "value": 1})).unwrap_err();
        assert_eq!(paths(&errors), ["/field", "/value"]);
        // ...and when the op is unknown, the field is still checked
        let errors = Rule::parse(&json!({"field": "", "op": "nope", "value": 1})).unwrap_err();
        assert_eq!(paths(&errors), ["/field", "/op"]);
    }

    #[test]
    fn objects_that_are_no_rule() {
        let errors = Rule::parse(&json!({"all": [
            {},
            {"feild": "a"},
            {"all": [], "field": "a"},
            {"all": [], "any": []},
            {"all": [], "extra": 1},
            {"all": {"field": "a", "op": "exists"}},
            {"not": [{"field": "a", "op": "exists"}]},
            {"always": false},
            {"always": "yes"},
            "never",
            42,
            null
        ]}))
        .unwrap_err();
        assert_eq!(
            paths(&errors),
            [
                "/all/0",
                "/all/1",
                "/all/2",
                "/all/3",
                "/all/4/extra",
                "/all/5/all",
                "/all/6/not",
                "/all/7/always",
                "/all/8/always",
                "/all/9",
                "/all/10",
                "/all/11"
            ]
        );
        let messages: Vec<&str> = errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(messages[0], "an empty object is not a rule");
        assert_eq!(messages[2], "ambiguous rule with keys \"all\", \"field\"");
        assert_eq!(messages[4], "unknown key \"extra\" beside \"all\"");
        assert_eq!(messages[9], "unknown rule \"never\"");
        assert_eq!(messages[10], "expected a rule, found a number");
        assert!(errors.iter().all(|e| e.hint.is_some()));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let mut value = json!("always");
        for _ in 0..(MAX_DEPTH + 10) {
            value = json!({ "not": value });
        }
        let errors = Rule::parse(&value).unwrap_err();
        assert_eq!(errors.len(), 1);
        let expected = "/not".repeat(MAX_DEPTH + 1);
        assert_eq!(errors.iter().next().unwrap().path, expected);
        let mut ok = json!("always");
        for _ in 0..MAX_DEPTH {
            ok = json!({ "not": ok });
        }
        assert!(Rule::parse(&ok).is_ok());
    }

    #[test]
    fn spec_errors_prefix_into_a_flow_document() {
        let errors = Rule::parse(&json!({"all": [{"field": "a", "op": "equal", "value": 1}]}))
            .unwrap_err()
            .prefixed("/when");
        assert!(errors
            .to_string()
            .starts_with("/when/all/0/op: unknown operator \"equal\" (hint: did you mean \"eq\"?"));
    }

    // --- properties ---------------------------------------------------------------------

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn key() -> impl Strategy<Value = String> {
            prop_oneof!["[ab]", "[0-2]", Just("a.b".to_owned()), Just(String::new())]
        }

        fn leaf() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                any::<u64>().prop_map(Value::from),
                any::<f64>()
                    .prop_filter("JSON numbers are finite", |f| f.is_finite())
                    .prop_map(Value::from),
                "[ -~]{0,8}".prop_map(Value::from),
                "[aAéÉ0-9 .-]{0,6}".prop_map(Value::from),
                prop_oneof![
                    Just("2026-03-01"),
                    Just("2026-03-01T12:00:00Z"),
                    Just("2021-02-24T16:25:29+0000"),
                    Just("2024-01-08 10:35:18 +0200"),
                    Just("12.0"),
                    Just(" 7 "),
                    Just("1e400"),
                    Just("NaN"),
                ]
                .prop_map(Value::from),
            ]
        }

        fn json_value() -> impl Strategy<Value = Value> {
            leaf().prop_recursive(4, 48, 5, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                    prop::collection::vec((key(), inner), 0..5)
                        .prop_map(|entries| Value::Object(entries.into_iter().collect())),
                ]
            })
        }

        fn path() -> impl Strategy<Value = String> {
            prop_oneof![
                9 => prop::collection::vec(prop_oneof!["[ab]", "[0-2]"], 1..4)
                    .prop_map(|segments| segments.join(".")),
                1 => prop_oneof![Just(String::new()), Just("a..b".to_owned())],
            ]
        }

        /// Mostly valid comparisons: the operand is shaped for the operator, but paths,
        /// patterns and operand types are sometimes wrong, and those come out as `None`.
        fn comparison() -> impl Strategy<Value = Option<Comparison>> {
            (
                prop::sample::select(Op::ALL),
                path(),
                prop_oneof![
                    json_value(),
                    Just(json!("^a")),
                    Just(json!("(")),
                    Just(json!("[é]+"))
                ],
                prop::collection::vec(json_value(), 0..4),
                any::<bool>(),
            )
                .prop_map(|(op, path, value, list, ci)| {
                    let value = match op {
                        Op::Exists | Op::Missing | Op::Empty => None,
                        Op::In | Op::NotIn => Some(Value::Array(list)),
                        _ => Some(value),
                    };
                    Comparison::new(path, op, value, ci).ok()
                })
        }

        fn rule() -> impl Strategy<Value = Rule> {
            let leaf = prop_oneof![
                1 => Just(Rule::Always),
                6 => comparison().prop_filter_map("invalid comparison", |c| c.map(Rule::Compare)),
            ];
            leaf.prop_recursive(4, 32, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Rule::All),
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Rule::Any),
                    inner.prop_map(Rule::not),
                ]
            })
        }

        /// JSON built from the rule language's own words, so that parsing gets past the
        /// first check and into every branch.
        fn rule_like_json() -> impl Strategy<Value = Value> {
            let word = prop_oneof![
                prop::sample::select(vec![
                    "all",
                    "any",
                    "not",
                    "always",
                    "field",
                    "op",
                    "value",
                    "case_insensitive",
                    "eq",
                    "in",
                    "matches",
                    "exists",
                    "a",
                    "a..b",
                    "(",
                    "^x",
                    "",
                ])
                .prop_map(str::to_owned),
                "[a-z_]{0,6}",
            ];
            let leaf = prop_oneof![leaf(), word.clone().prop_map(Value::from)];
            leaf.prop_recursive(5, 64, 5, move |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                    prop::collection::vec((word.clone(), inner), 0..5)
                        .prop_map(|entries| Value::Object(entries.into_iter().collect())),
                ]
            })
        }

        proptest! {
            #[test]
            fn evaluate_never_panics_and_negations_agree(rule in rule(), data in json_value()) {
                let record = rec(data);
                let _ = rule.evaluate(&record);
                prop_assert_eq!(Rule::not(rule.clone()).evaluate(&record), !rule.evaluate(&record));
            }

            #[test]
            fn negative_operators_negate_their_twins(
                c in comparison(),
                data in json_value(),
            ) {
                let Some(c) = c else { return Ok(()) };
                let twin = match c.op {
                    Op::Eq => Op::Ne,
                    Op::Contains => Op::NotContains,
                    Op::In => Op::NotIn,
                    Op::Exists => Op::Missing,
                    _ => return Ok(()),
                };
                let other = Comparison::new(c.field.clone(), twin, c.value.clone(), c.case_insensitive)
                    .unwrap();
                let record = rec(data);
                prop_assert_eq!(other.evaluate(&record), !c.evaluate(&record));
            }

            #[test]
            fn ordering_is_consistent(
                a in json_value(),
                b in json_value(),
                ci in any::<bool>(),
            ) {
                // Every pair that can be ordered gets exactly one answer, and that answer
                // agrees with eq; swapped sides reverse it.
                let forward = order(&a, &b, ci);
                prop_assert_eq!(order(&b, &a, ci), forward.map(Ordering::reverse));
                if let Some(ordering) = forward {
                    prop_assert_eq!(ordering == Ordering::Equal, equal(&a, &b, ci));
                }
                prop_assert_eq!(equal(&a, &b, ci), equal(&b, &a, ci));
            }

            #[test]
            fn serialized_rules_parse_back_equal(rule in rule()) {
                let json = serde_json::to_value(&rule).unwrap();
                prop_assert_eq!(Rule::parse(&json).unwrap(), rule);
            }

            #[test]
            fn parse_never_panics(value in rule_like_json()) {
                match Rule::parse(&value) {
                    Ok(rule) => {
                        let json = serde_json::to_value(&rule).unwrap();
                        prop_assert_eq!(Rule::parse(&json).unwrap(), rule);
                    }
                    Err(errors) => prop_assert!(!errors.is_empty()),
                }
            }

            #[test]
            fn parse_instant_never_panics(s in "[0-9T:+ .Z-]{0,30}") {
                let _ = parse_instant(&s);
            }
        }
    }
}

#[cfg(test)]
mod explain_tests {
    use super::*;
    use serde_json::json;

    fn rule(value: Value) -> Rule {
        Rule::parse(&value).unwrap()
    }

    fn record(data: Value) -> Record {
        Record::new("k", "t", data)
    }

    #[test]
    fn a_passing_rule_has_nothing_to_explain() {
        let r = rule(json!({"field": "a", "op": "eq", "value": 1}));
        assert_eq!(r.explain(&record(json!({"a": 1}))), None);
        assert_eq!(Rule::Always.explain(&record(json!({}))), None);
    }

    #[test]
    fn a_missing_field_says_so() {
        let r = rule(json!({"field": "chat.phone", "op": "exists"}));
        assert_eq!(
            r.explain(&record(json!({}))).unwrap(),
            "chat.phone is missing, expected exists"
        );
    }

    #[test]
    fn all_names_the_first_failing_clause_and_any_names_them_all() {
        let all = rule(json!({"all": [
            {"field": "a", "op": "gt", "value": 1},
            {"field": "b", "op": "eq", "value": "x"}
        ]}));
        let r = record(json!({"a": 5, "b": "y"}));
        assert_eq!(all.explain(&r).unwrap(), r#"b is "y", expected eq "x""#);
        let any = rule(json!({"any": [
            {"field": "a", "op": "lt", "value": 1},
            {"field": "b", "op": "eq", "value": "x"}
        ]}));
        assert_eq!(
            any.explain(&r).unwrap(),
            r#"none of these holds: a is 5, expected lt 1; b is "y", expected eq "x""#
        );
        assert!(rule(json!({"any": []}))
            .explain(&r)
            .unwrap()
            .contains("empty"));
        let not = rule(json!({"not": {"field": "a", "op": "eq", "value": 5}}));
        assert_eq!(not.explain(&r).unwrap(), "a is 5, which is eq 5");
        let not_any = rule(json!({"not": {"any": [
            {"field": "mobile", "op": "empty"},
            {"field": "a", "op": "eq", "value": 7}
        ]}}));
        assert_eq!(
            not_any.explain(&r).unwrap(),
            "mobile is missing, which is empty"
        );
        let not_all = rule(json!({"not": {"all": [{"field": "a", "op": "eq", "value": 5}]}}));
        assert!(not_all.explain(&r).unwrap().contains("excludes"));
    }

    #[test]
    fn long_values_are_cut() {
        let r = rule(json!({"field": "text", "op": "eq", "value": "short"}));
        let long = "x".repeat(200);
        let why = r.explain(&record(json!({"text": long}))).unwrap();
        assert!(why.chars().count() < 120, "{why}");
        assert!(why.contains('…'));
    }
}
