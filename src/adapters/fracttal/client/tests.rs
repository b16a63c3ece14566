//! Unit tests of `client`.

use super::*;

#[test]
fn default_urls_parse() {
    assert_eq!(default_url(DEFAULT_BASE_URL).as_str(), DEFAULT_BASE_URL);
    assert_eq!(default_url(DEFAULT_TOKEN_URL).as_str(), DEFAULT_TOKEN_URL);
}

#[test]
fn urls_stay_below_the_base() {
    let client = FracttalClient::builder("k".into(), "s".into())
        .base_url("https://example.com/api".parse().unwrap())
        .build();
    assert_eq!(
        client.url("/work_requests").unwrap().as_str(),
        "https://example.com/api/work_requests"
    );
    for bad in ["https://evil.example/x", "../admin", "./../../x"] {
        assert!(client.url(bad).is_err(), "{bad}");
    }
}

#[test]
fn envelopes_and_failures_are_typed() {
    let now = "2026-03-02T08:00:00Z".parse().unwrap();
    let ok = HttpResponse::new(
        200,
        r#"{"success":true,"message":"200","data":[],"total":0}"#,
    );
    assert_eq!(read_answer(&ok, now).unwrap().total, Some(0));
    let bare = HttpResponse::new(200, r#"[{"id":1}]"#);
    assert_eq!(read_answer(&bare, now).unwrap().rows().len(), 1);
    let refused = HttpResponse::new(200, r#"{"success":false,"message":"associated before"}"#);
    assert!(matches!(
        read_answer(&refused, now),
        Err(FracttalError::Rejected { status: 200, .. })
    ));
    let limited = HttpResponse::new(200, r#"{"success":false,"message":"406"}"#);
    assert!(matches!(
        read_answer(&limited, now),
        Err(FracttalError::RateLimited { status: 406, .. })
    ));
    let scalar = HttpResponse::new(200, "42");
    assert!(matches!(
        read_answer(&scalar, now),
        Err(FracttalError::UnexpectedShape { .. })
    ));
    for (status, check) in [
        (
            403,
            (|e: &FracttalError| matches!(e, FracttalError::Rejected { .. }))
                as fn(&FracttalError) -> bool,
        ),
        (407, |e| matches!(e, FracttalError::ClockSkew { .. })),
        (408, |e| matches!(e, FracttalError::AlreadyExists { .. })),
        (503, |e| matches!(e, FracttalError::Server { .. })),
        (429, |e| matches!(e, FracttalError::RateLimited { .. })),
    ] {
        let e = read_answer(&HttpResponse::new(status, "x"), now).unwrap_err();
        assert!(check(&e), "{status}: {e:?}");
    }
}
