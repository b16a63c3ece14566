//! Parsing the JSON form of rules, collecting every problem with its JSON pointer and a
//! hint, rather than stopping at the first.

use regex::RegexBuilder;
use serde_json::{Map, Value};

use super::compare::Pattern;
use super::{Comparison, Op, Rule};
use crate::record::json_kind as kind;
use crate::{pointer_token, SpecError, SpecErrors};

/// How deeply rules may nest; deeper specs are refused so that parsing, evaluating and
/// serializing a parsed rule cannot exhaust the stack.
pub(super) const MAX_DEPTH: usize = 64;

pub(super) const COMBINATOR_KEYS: [&str; 4] = ["all", "any", "not", "always"];
pub(super) const COMPARISON_KEYS: [&str; 4] = ["field", "op", "value", "case_insensitive"];
const FORMS_HINT: &str = "a rule is \"always\", {\"all\": [rules]}, {\"any\": [rules]}, \
                          {\"not\": rule} or {\"field\": \"path\", \"op\": \"eq\", \"value\": …}";

pub(super) fn parse_rule(
    value: &Value,
    path: &str,
    depth: usize,
    errors: &mut SpecErrors,
) -> Option<Rule> {
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
pub(super) fn check_field(field: &str) -> Option<SpecError> {
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
pub(super) fn check_operand(
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
    let fits = operand_types(op).is_none_or(|types| types.contains(&schema_type(value)));
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

/// The JSON types an operator's value may have, by their JSON Schema names (`None`: any
/// value). The one list both this check and the rule's JSON Schema (feature `schema`) read.
pub(super) fn operand_types(op: Op) -> Option<&'static [&'static str]> {
    match op {
        Op::In | Op::NotIn => Some(&["array"]),
        Op::StartsWith | Op::EndsWith | Op::Matches => Some(&["string"]),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => Some(&["number", "string"]),
        _ => None,
    }
}

/// A value's type by its JSON Schema name (a JSON number is a `number`, whole or not).
fn schema_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
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
