//! The conversation spec's JSON Schema (feature `schema`): `docs/conversation.schema.json`,
//! written by hand and checked against the loader by `tests/conversation_schema.rs`, built
//! into the crate as it is rather than copied.

use std::sync::OnceLock;

use schemars::Schema;
use serde_json::{json, Map, Value};

use super::ConversationSpec;
use crate::spec::rewrite_refs;

/// The document as shipped.
const DOCUMENT: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/docs/conversation.schema.json"
));

/// The name the spec's own root takes among the definitions of the target's schema.
const SPEC_DEF: &str = "conversation_spec";

fn document() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        // The text is the crate's own file, not input: the tests compile it as a schema
        // and validate specs with it, so a release never holds one that does not parse.
        serde_json::from_str(DOCUMENT).expect("docs/conversation.schema.json is a JSON Schema")
    })
}

impl ConversationSpec {
    /// The JSON Schema (draft 2020-12) of a conversation spec: `docs/conversation.schema.json`.
    /// What [`ConversationSpec::from_value`] accepts validates, and what it refuses for a
    /// reason of structure does not; the checks the schema cannot express (states that
    /// exist and can be reached, templates that compile) are listed in its description.
    ///
    /// ```
    /// use hubflow::conversation::ConversationSpec;
    ///
    /// let schema = ConversationSpec::json_schema();
    /// assert_eq!(schema.get("required"), Some(&serde_json::json!(["id", "start", "states"])));
    /// assert!(schema.pointer("/$defs/target").is_some());
    /// ```
    pub fn json_schema() -> Schema {
        document().clone()
    }
}

/// The config schema of the `conversation` target: the document's `$defs/target`, made a
/// schema of its own. Its `spec` refers to the document's root (`"$ref": "#"`), which
/// becomes `$defs/conversation_spec` beside the other definitions.
pub(crate) fn target_config_schema() -> Schema {
    let mut root = match document().as_value() {
        Value::Object(root) => root.clone(),
        _ => Map::new(),
    };
    let mut defs = match root.remove("$defs") {
        Some(Value::Object(defs)) => defs,
        _ => Map::new(),
    };
    let schema_uri = root.remove("$schema").unwrap_or(Value::Null);
    let mut spec = Value::Object(root);
    // References to the document's root (`#`) point at `$defs/conversation_spec`.
    let to_spec_def = |reference: &str| (reference == "#").then(|| format!("#/$defs/{SPEC_DEF}"));
    rewrite_refs(&mut spec, &to_spec_def);
    for def in defs.values_mut() {
        rewrite_refs(def, &to_spec_def);
    }
    defs.insert(SPEC_DEF.to_owned(), spec);
    let mut schema = Map::new();
    schema.insert("$schema".into(), schema_uri);
    schema.insert("$ref".into(), json!("#/$defs/target"));
    schema.insert("$defs".into(), Value::Object(defs));
    Schema::from(schema)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_target_schema_is_the_documents_target_with_the_root_beside_it() {
        let schema = target_config_schema();
        let defs = schema.get("$defs").and_then(Value::as_object).unwrap();
        let document = ConversationSpec::json_schema();
        let originals = document.get("$defs").and_then(Value::as_object).unwrap();
        assert!(!originals.contains_key(SPEC_DEF), "the name is free");
        assert_eq!(defs.len(), originals.len() + 1);
        assert_eq!(
            defs["target"]["properties"]["spec"]["$ref"],
            "#/$defs/conversation_spec"
        );
        assert_eq!(defs[SPEC_DEF]["required"], json!(["id", "start", "states"]));
        assert_eq!(defs["rule"], originals["rule"]);
    }
}
