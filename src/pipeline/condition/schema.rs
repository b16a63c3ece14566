//! The JSON Schema of the rule language (feature `schema`), written by hand because rules
//! are parsed by hand ([`Rule::parse`]): the operators come from [`Op::ALL`] and the types
//! of their values from the list the parser checks them with, so the schema cannot name
//! an operator the parser refuses, nor miss one it accepts.
//!
//! The forms are told apart with `if`/`then`/`else` rather than `oneOf`, so that a
//! validator reports a mistake where it is (`/when/all/0/op`) rather than only "matches
//! none of the forms" at the rule.

use std::borrow::Cow;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Value};

use super::parse::operand_types;
#[cfg(test)]
use super::parse::{COMBINATOR_KEYS, COMPARISON_KEYS};
use super::{Op, Rule};

impl JsonSchema for Rule {
    fn schema_name() -> Cow<'static, str> {
        "Rule".into()
    }

    fn schema_id() -> Cow<'static, str> {
        "hubflow::Rule".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        // A reference to this very definition: rules nest.
        let rule = generator.subschema_for::<Rule>().to_value();
        let combinator = |key: &str, description: &str, mut inner: Value| {
            inner["description"] = json!(description);
            json!({
                "if": {"required": [key]},
                "then": {
                    "required": [key],
                    "additionalProperties": false,
                    "properties": {key: inner},
                },
            })
        };
        let mut forms = [
            combinator(
                "all",
                "Every rule holds; an empty list is true.",
                json!({"type": "array", "items": rule}),
            ),
            combinator(
                "any",
                "At least one rule holds; an empty list is false.",
                json!({"type": "array", "items": rule}),
            ),
            combinator("not", "The rule does not hold.", rule.clone()),
            combinator("always", "Always true.", json!({"const": true})),
        ];
        // Chain them: each form's `else` is the next one, the last one's a comparison.
        let mut chain = comparison();
        for form in forms.iter_mut().rev() {
            form["else"] = chain;
            chain = form.take();
        }
        let mut schema = json_schema!({
            "description": "A rule: \"always\", {\"always\": true}, {\"all\": [rules]}, \
                {\"any\": [rules]}, {\"not\": rule}, or a comparison {\"field\", \"op\", \
                \"value\", \"case_insensitive\"} (hubflow::condition). Rules nest at most 64 \
                levels, and a `matches` pattern must compile (Rust regex syntax); the loader \
                checks both.",
            "type": ["string", "object"],
            "if": {"type": "string"},
            "then": {"const": "always"},
        });
        schema.insert("else".into(), chain);
        schema
    }
}

/// A comparison `{"field", "op", "value", "case_insensitive"}`: which operators take a
/// value, and of which type, grouped from [`Op::ALL`].
fn comparison() -> Value {
    let names = |ops: &[Op]| ops.iter().map(|op| op.name()).collect::<Vec<_>>();
    let no_value: Vec<Op> = Op::ALL
        .iter()
        .copied()
        .filter(|op| !op.takes_value())
        .collect();
    let mut conditions = vec![json!({
        "$comment": "Operators that take no value refuse one; every other operator needs one.",
        "if": {"required": ["op"], "properties": {"op": {"enum": names(&no_value)}}},
        "then": {"not": {"required": ["value"]}},
        "else": {"required": ["value"]},
    })];
    // One condition per distinct list of types, in the order the operators come.
    let mut groups: Vec<(&[&str], Vec<Op>)> = Vec::new();
    for &op in Op::ALL {
        let Some(types) = operand_types(op) else {
            continue;
        };
        match groups.iter_mut().find(|(known, _)| *known == types) {
            Some((_, ops)) => ops.push(op),
            None => groups.push((types, vec![op])),
        }
    }
    for (types, ops) in groups {
        let types = match types {
            [one] => json!(one),
            many => json!(many),
        };
        conditions.push(json!({
            "if": {"required": ["op"], "properties": {"op": {"enum": names(&ops)}}},
            "then": {"properties": {"value": {"type": types}}},
        }));
    }
    json!({
        "description": "A comparison of the value at `field` with `value`.",
        "type": "object",
        "additionalProperties": false,
        "required": ["field", "op"],
        "properties": {
            "field": {
                "description": "The record field to test, a dotted path (`user_assigned`, \
                    `asset.code`, `messages.0.text`); no empty segment.",
                "type": "string",
                "pattern": "^[^.]+(\\.[^.]+)*$",
            },
            "op": {"description": "The operator.", "enum": names(Op::ALL)},
            "value": {
                "description": "The operand: required by every operator but `exists`, \
                    `missing` and `empty`, which refuse one; an array for `in` and `not_in`; \
                    a string for `starts_with`, `ends_with` and `matches` (a Rust regular \
                    expression); a number or a string for `gt`, `gte`, `lt`, `lte`.",
            },
            "case_insensitive": {
                "description": "Compare texts without case.",
                "type": "boolean",
                "default": false,
            },
        },
        "allOf": conditions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule_schema() -> Value {
        let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
        generator.subschema_for::<Rule>();
        generator
            .take_definitions(false)
            .remove("Rule")
            .unwrap_or_default()
    }

    #[test]
    fn the_comparison_names_every_operator_and_every_key_the_parser_knows() {
        let schema = rule_schema();
        let comparison = schema
            .pointer("/else/else/else/else/else")
            .cloned()
            .unwrap_or_default();
        let ops: Vec<&str> = comparison["properties"]["op"]["enum"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(ops, Op::ALL.iter().map(|op| op.name()).collect::<Vec<_>>());
        let keys: Vec<&String> = comparison["properties"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.keys())
            .collect();
        assert_eq!(keys.len(), COMPARISON_KEYS.len());
        assert!(COMPARISON_KEYS
            .iter()
            .all(|k| keys.iter().any(|known| known == k)));
        // The forms before the comparison are the parser's combinators, in its order.
        let mut combinators = Vec::new();
        let mut form = &schema["else"];
        while let Some(key) = form.pointer("/if/required/0").and_then(Value::as_str) {
            combinators.push(key);
            form = &form["else"];
        }
        assert_eq!(combinators, COMBINATOR_KEYS);
    }

    #[test]
    fn every_operator_with_a_type_is_in_exactly_one_value_condition() {
        let schema = rule_schema();
        let conditions = schema
            .pointer("/else/else/else/else/else/allOf")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for &op in Op::ALL {
            let holding: Vec<&Value> = conditions[1..]
                .iter()
                .filter(|c| {
                    c["if"]["properties"]["op"]["enum"]
                        .as_array()
                        .is_some_and(|ops| ops.contains(&json!(op.name())))
                })
                .collect();
            match operand_types(op) {
                None => assert!(holding.is_empty(), "{op} takes any value"),
                Some(types) => {
                    assert_eq!(holding.len(), 1, "{op}");
                    let written = &holding[0]["then"]["properties"]["value"]["type"];
                    let written: Vec<&str> = match written {
                        Value::String(one) => vec![one.as_str()],
                        many => many
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .collect(),
                    };
                    assert_eq!(written, types, "{op}");
                }
            }
        }
    }
}
