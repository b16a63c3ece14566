//! Unit tests of `fracttal`.

use super::*;
use crate::spec::{Connections, MapSecrets, Registry};
use crate::FlowSpec;

fn registry() -> Registry {
    let mut registry = Registry::empty();
    register(&mut registry);
    registry
}

fn connections() -> Connections {
    Connections::from_json(
        r#"{"fracttal": {"key": "plain-key", "client_secret": {"secret": "FRACTTAL_SECRET"},
             "base_url": "https://fracttal.test/api", "requests_per_minute": 120}}"#,
    )
    .unwrap()
}

#[test]
fn specs_build_and_share_one_client_per_connection() {
    let cache = ClientCache::default();
    let connections = connections();
    let secrets = MapSecrets::new().with("FRACTTAL_SECRET", "s");
    let kinds = crate::spec::Registry::default();
    let cx = BuildContext::new(&kinds, &connections, &secrets);
    let a = cache.client(&cx, "fracttal").unwrap();
    let b = cache.client(&cx, "fracttal").unwrap();
    assert!(a.shares_cache_with(&b));
    assert_eq!(a.base_url().as_str(), "https://fracttal.test/api/");
    assert_eq!(a.rate_limiter().interval(), Duration::from_millis(500));
    let rotated = MapSecrets::new().with("FRACTTAL_SECRET", "s2");
    let cx = BuildContext::new(&kinds, &connections, &rotated);
    assert!(!cache.client(&cx, "fracttal").unwrap().shares_cache_with(&a));
    drop((a, b));

    let spec = FlowSpec::from_json(
        r#"{"id": "wo", "source": {"fracttal.work_orders": {"connection": "fracttal", "status": 1}},
            "target": {"fracttal.work_request": {"connection": "fracttal"}}}"#,
    )
    .unwrap();
    let flow = spec.build(&registry(), &connections, &secrets);
    assert!(flow.is_ok(), "{flow:?}");
}

#[test]
fn connection_problems_are_reported_at_the_reference() {
    let connections = Connections::from_json(
        r#"{"fracttal": {"client_id": {"secret": "NO_KEY"}, "client_secret": {"secret": "NO_SECRET"},
             "requests_per_minute": -1}}"#,
    )
    .unwrap();
    let spec = FlowSpec::from_json(
        r#"{"id": "wr", "target": {"fracttal.work_request": {"connection": "fracttal"}}}"#,
    )
    .unwrap();
    let errors = spec
        .build(&registry(), &connections, &MapSecrets::new())
        .unwrap_err();
    let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(messages.len(), 3, "{messages:?}");
    assert!(messages
        .iter()
        .all(|m| m.starts_with("/target/fracttal.work_request/connection")));
    assert!(messages[0].contains("/client_id") && messages[0].contains("NO_KEY"));
    assert!(messages[1].contains("/client_secret"));

    let typo = Connections::from_json(
        r#"{"fracttal": {"client_id": "k", "client_secret": {"secret": "S"}, "base_ur": "x"}}"#,
    )
    .unwrap();
    let errors = spec
        .build(&registry(), &typo, &MapSecrets::new().with("S", "s"))
        .unwrap_err();
    let text = errors.to_string();
    assert!(text.contains("base_ur"), "{text}");

    let config_typo = FlowSpec::from_json(
        r#"{"id": "wr", "target": {"fracttal.work_request": {"connection": "fracttal", "extra_field": []}}}"#,
    )
    .unwrap();
    let errors = config_typo
        .build(
            &registry(),
            &self::connections(),
            &MapSecrets::new().with("FRACTTAL_SECRET", "s"),
        )
        .unwrap_err();
    assert_eq!(
        errors.iter().next().unwrap().path,
        "/target/fracttal.work_request/extra_field"
    );
}

#[test]
fn plain_client_secrets_are_refused() {
    let connections = Connections::from_json(
        r#"{"fracttal": {"client_id": "k", "client_secret": "in-the-clear"}}"#,
    )
    .unwrap();
    let spec = FlowSpec::from_json(
        r#"{"id": "wr", "target": {"fracttal.work_request": {"connection": "fracttal"}}}"#,
    )
    .unwrap();
    let errors = spec
        .build(&registry(), &connections, &MapSecrets::new())
        .unwrap_err();
    assert!(!errors.to_string().contains("in-the-clear"), "{errors}");
    assert!(
        errors.to_string().contains(
            "at /client_secret: a secret is never written in a spec: use {\"secret\": \"NAME\"}"
        ),
        "{errors}"
    );
}
