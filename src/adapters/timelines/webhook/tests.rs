//! Unit tests of the pinned keys, the constant-time comparison and the event families.

use serde_json::Value;

use super::keys::{canonical, message_key};
use super::v2::{chat_event, family, Family};
use super::WebhookError;
use crate::record::stable_hash as fnv1a64;
use crate::spec::constant_time_eq;

#[test]
fn fnv1a64_matches_the_published_test_vectors_when_unprefixed() {
    // The length prefix is ours; check the core against FNV's own vectors.
    let raw = |bytes: &[u8]| {
        bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
        })
    };
    assert_eq!(raw(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(raw(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(raw(b"foobar"), 0x8594_4171_f739_67e8);
    // And pin the prefixed form, so a change to it shows up as a broken key.
    assert_eq!(fnv1a64(&[b"a"]), raw(&[1, 0, 0, 0, 0, 0, 0, 0, b'a']));
    assert_ne!(fnv1a64(&[b"ab", b"c"]), fnv1a64(&[b"a", b"bc"]));
}

#[test]
fn message_keys_are_pinned() {
    // A stored key must never change between releases: this value is the contract.
    assert_eq!(
        message_key(
            "10010001",
            "2021-02-24T16:30:29Z",
            "received",
            "lorem ipsum"
        ),
        format!(
            "timelines:msg:{:016x}",
            fnv1a64(&[
                b"10010001",
                b"2021-02-24T16:30:29Z",
                b"received",
                b"lorem ipsum"
            ])
        )
    );
    assert_eq!(
        message_key("1", "t", "sent", "x"),
        message_key("1", "t", "sent", "x")
    );
    assert_ne!(
        message_key("1", "t", "sent", "x"),
        message_key("1", "t", "received", "x")
    );
}

#[test]
fn constant_time_eq_compares_bytes_and_lengths() {
    assert!(constant_time_eq(b"secret", b"secret"));
    assert!(!constant_time_eq(b"secreT", b"secret"));
    assert!(!constant_time_eq(b"secret-and-more", b"secret"));
    assert!(!constant_time_eq(b"secre", b"secret"));
    assert!(!constant_time_eq(b"", b"secret"));
    assert!(!constant_time_eq(b"\0\0\0\0\0\0", b"\0\0\0\0\0"));
}

#[test]
fn canonical_json_sorts_keys_at_every_level() {
    let a: Value =
        serde_json::from_str(r#"{"b": 1, "a": {"y": [1, {"d": 2, "c": 3}], "x": null}}"#).unwrap();
    let b: Value =
        serde_json::from_str(r#"{"a": {"x": null, "y": [1, {"c": 3, "d": 2}]}, "b": 1}"#).unwrap();
    let (mut sa, mut sb) = (String::new(), String::new());
    canonical(&a, &mut sa);
    canonical(&b, &mut sb);
    assert_eq!(sa, r#"{"a":{"x":null,"y":[1,{"c":3,"d":2}]},"b":1}"#);
    assert_eq!(sa, sb);
}

#[test]
fn event_families_accept_both_spellings() {
    for name in ["message:new", "message:received:new", "message:sent:new"] {
        assert!(matches!(family(name), Ok(Family::Message { .. })), "{name}");
    }
    for name in [
        "chat:created",
        "chat:new",
        "chat:incoming:new",
        "chat:responsible:assigned",
    ] {
        assert!(matches!(family(name), Ok(Family::Chat)), "{name}");
    }
    for name in [
        "message:reaction",
        "whatsapp:account:disconnected",
        "call:incoming:missed",
    ] {
        assert!(matches!(family(name), Ok(Family::Other)), "{name}");
    }
    for name in ["", "message", "Message:New", "message::new", "hello world"] {
        assert!(
            matches!(family(name), Err(WebhookError::UnknownEvent { .. })),
            "{name}"
        );
    }
    assert_eq!(
        chat_event("chat:incoming:new"),
        ("created".into(), Some("received"))
    );
    assert_eq!(
        chat_event("chat:sent:created"),
        ("created".into(), Some("sent"))
    );
    assert_eq!(
        chat_event("chat:responsible:unassigned"),
        ("unassigned".into(), None)
    );
    assert_eq!(chat_event("chat:assigned"), ("assigned".into(), None));
}
