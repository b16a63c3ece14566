//! The rule tree: combinators over comparisons, how it evaluates and explains a record, its
//! JSON form, and the builder of comparisons.

use std::fmt;

use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use super::parse::parse_rule;
use super::{Comparison, Condition, Op};
use crate::{Record, SpecErrors};

/// A condition in the serializable rule language; see the [module docs](super) for the JSON
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
