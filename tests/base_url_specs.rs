//! A connection's base URL is checked when the flow is built, as every client checks it
//! before sending: the error names the connection's field and never echoes credentials.

use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::FlowSpec;
use serde_json::json;

fn build(
    connection: serde_json::Value,
    target: serde_json::Value,
) -> Result<hubflow::Flow, hubflow::SpecErrors> {
    let mut connections = Connections::new();
    connections.insert("c", connection);
    let secrets = MapSecrets::new().with("K", "key").with("S", "secret-value");
    FlowSpec::from_value(&json!({"id": "f", "target": target}))
        .unwrap()
        .build(&Registry::default(), &connections, &secrets)
}

fn build_error(connection: serde_json::Value, target: serde_json::Value) -> hubflow::SpecErrors {
    build(connection, target).unwrap_err()
}

#[test]
fn fracttal_refuses_a_base_url_with_a_query_or_user_info() {
    let ok = build(
        json!({"base_url": "https://app.fracttal.com/api/", "client_id": {"secret": "K"}, "client_secret": {"secret": "S"}}),
        json!({"fracttal.work_request": {"connection": "c"}}),
    );
    assert!(ok.is_ok(), "{ok:?}");
    for url in [
        "https://app.fracttal.com/api/?token=x",
        "https://user:pw@app.fracttal.com/api/",
        "ftp://app.fracttal.com/api/",
    ] {
        let errors = build_error(
            json!({"base_url": url, "client_id": {"secret": "K"}, "client_secret": {"secret": "S"}}),
            json!({"fracttal.work_request": {"connection": "c"}}),
        );
        let shown = errors.to_string();
        assert!(shown.contains("base_url"), "{url}: {shown}");
        assert!(!shown.contains("pw@"), "{url}: {shown}");
    }
}

#[test]
fn rm_refuses_a_base_url_with_a_query() {
    let ok = build(
        json!({"base_url": "https://erp.example:8051", "auth": {"bearer": {"secret": "K"}}}),
        json!({"rm.cancel": {"connection": "c"}}),
    );
    assert!(ok.is_ok(), "{ok:?}");
    let errors = build_error(
        json!({"base_url": "https://erp.example:8051/?x=1", "auth": {"bearer": {"secret": "K"}}}),
        json!({"rm.cancel": {"connection": "c"}}),
    );
    let error = errors.iter().next().unwrap();
    assert_eq!(error.path, "/target/rm.cancel/connection", "{errors}");
    assert!(error.message.contains("base_url"), "{errors}");
}
