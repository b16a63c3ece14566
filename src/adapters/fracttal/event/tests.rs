//! Unit tests of `event`.

use super::*;
use crate::spec::{Connections, MapSecrets};
use proptest::prelude::*;
use serde_json::json;

#[test]
fn unset_secrets_accept_nothing() {
    use crate::http::Method;
    let empty = || secrecy::SecretString::from(String::new());
    let by_header = EventSource::new().header_secret("X-Hubflow-Secret", empty());
    let by_token = EventSource::new().url_token(empty());
    let bare = InboundRequest::new(Method::Post, "/fracttal?token=", &b"{}"[..]);
    assert!(!by_header.authorized(&bare.clone().header("X-Hubflow-Secret", "")));
    assert!(!by_token.authorized(&bare));
}

#[test]
fn constant_time_eq_is_equality() {
    assert!(constant_time_eq(b"", b""));
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"ab"));
    assert!(!constant_time_eq(b"", b"a"));
    assert!(!constant_time_eq(b"ab\0", b"ab"));
}

#[test]
fn envelopes_objects_and_arrays_are_rows() {
    let t = TypeDate::CreationDate;
    let envelope = br#"{"success": true, "data": [{"id_work_orders_tasks": 1}], "total": 1}"#;
    assert_eq!(parse_event(envelope, t).unwrap().len(), 1);
    // An object with a `data` field but no envelope marker is a row.
    let row = br#"{"data": "x", "id_work_orders_tasks": 2}"#;
    assert_eq!(parse_event(row, t).unwrap()[0].data["data"], "x");
    assert!(parse_event(b"[]", t).unwrap().is_empty());
    for bad in [&b"42"[..], b"\"row\"", b"null", b"{", b"[{}, 3]"] {
        assert!(
            parse_event(bad, t).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn method_size_and_occurred_at() {
    let source = EventSource::new()
        .max_body(10)
        .type_date(TypeDate::FinalDate);
    let get = InboundRequest::new(Method::Get, "/h", "{}");
    assert_eq!(source.handle(&get).status, 405);
    let big = InboundRequest::new(Method::Post, "/h", vec![b' '; 11]);
    assert_eq!(source.handle(&big).status, 413);
    let source = EventSource::new().type_date(TypeDate::FinalDate);
    let body = json!({"final_date": "2026-03-02T10:00:00-03", "creation_date": "2026-01-01"});
    let reply = source.handle(&InboundRequest::new(Method::Post, "/h", body.to_string()));
    assert_eq!(
        reply.records[0].occurred_at.unwrap().to_rfc3339(),
        "2026-03-02T13:00:00+00:00"
    );
}

#[test]
fn from_spec_resolves_secrets_and_reports_every_problem() {
    let connections = Connections::new();
    let secrets = MapSecrets::new().with("HOOK", "h-secret");
    let registry = crate::spec::Registry::default();
    let cx = BuildContext::new(&registry, &connections, &secrets);
    let source = EventSource::from_spec(
        &cx,
        &json!({"header": "X-Relay-Key", "header_secret": {"secret": "HOOK"}}),
    )
    .unwrap();
    let ok = InboundRequest::new(Method::Post, "/h", "[]").header("x-relay-key", "h-secret");
    assert_eq!(source.handle(&ok).status, 200);
    assert!(!format!("{source:?}").contains("h-secret"));

    let errors = EventSource::from_spec(
        &cx,
        &json!({"url_token": {"secret": "MISSING"}, "max_body_bytes": 0}),
    )
    .unwrap_err();
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/url_token", "/max_body_bytes"]);
    let errors = EventSource::from_spec(&cx, &json!({"url_tokn": "x"})).unwrap_err();
    assert_eq!(errors.iter().next().unwrap().path, "/url_tokn");
}

proptest! {
    #[test]
    fn parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let source = EventSource::new().max_body(256);
        let reply = source.handle(&InboundRequest::new(Method::Post, "/h", body.clone()));
        prop_assert!(matches!(reply.status, 200 | 400 | 413));
        let _ = parse_event(&body, TypeDate::CreationDate);
        let _ = parse_status_event(&body);
        let status = EventSource::new().records(EventRecords::StatusChange);
        let reply = status.handle(&InboundRequest::new(Method::Post, "/h", body.clone()));
        prop_assert!(matches!(reply.status, 200 | 400));
    }

    #[test]
    fn json_shaped_bodies_never_panic(body in r#"[\[\]{}",:0-9a-z_ ]{0,200}"#) {
        let _ = parse_event(body.as_bytes(), TypeDate::CreationDate);
    }
}
