//! Unit tests of the payload builder, one file per concern.

use serde_json::{json, Value};

use super::fields::edit_distance;
use super::*;

mod interactive;
mod kinds;
mod props;
mod validation;

fn build(kind: MessageKind, payload: Value) -> Value {
    match OutgoingMessage::from_payload(kind, &payload) {
        Ok(message) => serde_json::to_value(&message).unwrap(),
        Err(e) => panic!("{payload} was rejected: {e}"),
    }
}

/// The field the error names and its message.
fn rejected(kind: MessageKind, payload: Value) -> (String, String) {
    match OutgoingMessage::from_payload(kind, &payload) {
        Ok(message) => panic!("{payload} was accepted: {message:?}"),
        Err(TargetError::InvalidField { field, message }) => (field, message),
        Err(other) => panic!("{payload}: not a field error: {other}"),
    }
}

#[test]
fn kind_names_round_trip() {
    for kind in MessageKind::ALL {
        assert_eq!(MessageKind::from_kind_name(kind.kind_name()), Some(kind));
    }
    assert_eq!(MessageKind::Template.kind_name(), "whatsapp.template");
    assert_eq!(MessageKind::Text.kind_name(), "whatsapp.text");
    assert_eq!(MessageKind::Document.kind_name(), "whatsapp.document");
    assert_eq!(MessageKind::Interactive.kind_name(), "whatsapp.interactive");
    assert_eq!(MessageKind::from_kind_name("whatsapp.Template"), None);
}

#[test]
fn a_payload_that_is_not_an_object_is_an_invalid_payload() {
    for payload in [json!(null), json!("to"), json!([1]), json!(5)] {
        let error = OutgoingMessage::from_payload(MessageKind::Text, &payload).unwrap_err();
        assert!(
            matches!(&error, TargetError::InvalidPayload(m) if m.contains("whatsapp.text")),
            "{error}"
        );
    }
}

#[test]
fn edit_distance_counts_edits() {
    assert_eq!(edit_distance("langauge", "language"), 2);
    assert_eq!(edit_distance("", "to"), 2);
    assert_eq!(edit_distance("body", "body"), 0);
}
