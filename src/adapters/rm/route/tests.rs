//! Unit tests of `route`.

use super::*;
use crate::rm::RmAuth;

#[test]
fn dot_segments_are_refused() {
    for dots in ["..", ".", "%2e%2E", "%2E", "%2e"] {
        assert!(encode_segment(dots).is_err(), "{dots}");
    }
    assert_eq!(encode_segment("a.b").unwrap(), "a.b");
    assert_eq!(encode_segment("...").unwrap(), "...");
    assert_eq!(encode_segment("a/b").unwrap(), "a%2Fb");
}

#[test]
fn only_unreserved_characters_stay_as_they_are() {
    let unreserved = "AZaz09-._~";
    assert_eq!(encode_segment(unreserved).unwrap(), unreserved);
    for (value, encoded) in [
        ("a b", "a%20b"),
        ("?#[]@", "%3F%23%5B%5D%40"),
        ("!$&'()*+,;=", "%21%24%26%27%28%29%2A%2B%2C%3B%3D"),
        ("%", "%25"),
        ("%2e%2e/x", "%252e%252e%2Fx"),
        ("\\", "%5C"),
        ("ação", "a%C3%A7%C3%A3o"),
        ("\u{0}\n", "%00%0A"),
    ] {
        assert_eq!(encode_segment(value).unwrap(), encoded, "{value:?}");
    }
}
use secrecy::SecretString;
use serde_json::json;

fn client() -> RmClient {
    RmClient::new(
        "https://erp.example:8051/base".parse().unwrap(),
        RmAuth::Bearer(SecretString::from("t")),
    )
}

#[test]
fn fills_path_query_and_body() {
    let route = Route::post("/api/appointments/{appointment_id}/cancel")
        .query("at", "{date}")
        .body(json!({"id": "{appointment_id}", "note": "cancelled by {action} {x-y}"}));
    let values: BTreeMap<String, Value> = [
        ("appointment_id".to_owned(), json!(12)),
        ("date".to_owned(), json!("2026-03-03")),
        ("action".to_owned(), json!("patient")),
    ]
    .into_iter()
    .collect();
    let request = route.request(&client(), &values).unwrap();
    assert_eq!(
        request.url.as_str(),
        "https://erp.example:8051/base/api/appointments/12/cancel?at=2026-03-03"
    );
    assert_eq!(
        request.json_body().unwrap(),
        json!({"id": 12, "note": "cancelled by patient {x-y}"})
    );
}

#[test]
fn ids_cannot_leave_their_segment_and_missing_values_are_errors() {
    let route = Route::post("/a/{appointment_id}/confirm");
    let values: BTreeMap<String, Value> = [("appointment_id".to_owned(), json!("../../x?y=1"))]
        .into_iter()
        .collect();
    let request = route.request(&client(), &values).unwrap();
    assert_eq!(
        request.url.as_str(),
        "https://erp.example:8051/base/a/..%2F..%2Fx%3Fy%3D1/confirm"
    );
    let error = route.request(&client(), &BTreeMap::new()).unwrap_err();
    assert!(error.to_string().contains("{appointment_id}"), "{error}");
}
