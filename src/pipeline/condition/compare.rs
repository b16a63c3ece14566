//! Comparisons: the operators of the rule language and how one field is tested against
//! one value. The semantics are documented on the [module](super).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

use regex::Regex;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::parse::{check_field, check_operand};
use super::{parse_instant, Condition};
use crate::{Record, SpecErrors};

/// A comparison operator of the rule language; see the [module docs](super) for semantics.
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
pub(super) struct Pattern(pub(super) Regex);

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
    pub(super) field: String,
    pub(super) op: Op,
    pub(super) value: Option<Value>,
    pub(super) case_insensitive: bool,
    pub(super) pattern: Option<Pattern>,
}

impl Comparison {
    /// Builds a comparison, checking it as [`Rule::parse`](super::Rule::parse) would.
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
    pub(super) fn describe(&self, record: &Record) -> String {
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

/// `x.to_lowercase() == y.to_lowercase()`, without making either string.
pub(super) fn eq_ignoring_case(x: &str, y: &str) -> bool {
    if x.is_ascii() && y.is_ascii() {
        return x.eq_ignore_ascii_case(y);
    }
    cmp_ignoring_case(x, y) == Ordering::Equal
}

/// `x.to_lowercase().cmp(&y.to_lowercase())`, without making either string. Comparing
/// the chars in order is comparing the strings: UTF-8 keeps the order of code points.
pub(super) fn cmp_ignoring_case(x: &str, y: &str) -> Ordering {
    if x.is_ascii() && y.is_ascii() {
        return x
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(y.bytes().map(|b| b.to_ascii_lowercase()));
    }
    // `str::to_lowercase` writes a capital sigma that ends a word as `ς`, where
    // `char::to_lowercase` always gives `σ`: text with one takes the allocating way.
    if x.contains('Σ') || y.contains('Σ') {
        return x.to_lowercase().cmp(&y.to_lowercase());
    }
    x.chars()
        .flat_map(char::to_lowercase)
        .cmp(y.chars().flat_map(char::to_lowercase))
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

pub(super) fn equal(a: &Value, b: &Value, ci: bool) -> bool {
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
                _ => ci && eq_ignoring_case(x, y),
            }
        }
        _ => a == b,
    }
}

pub(super) fn order(a: &Value, b: &Value, ci: bool) -> Option<Ordering> {
    if let Some((x, y)) = numbers(a, b) {
        return x.compare(y);
    }
    match (a, b) {
        (Value::String(x), Value::String(y)) => match (parse_instant(x), parse_instant(y)) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ if ci => Some(cmp_ignoring_case(x, y)),
            _ => Some(x.cmp(y)),
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
