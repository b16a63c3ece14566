//! Unit tests of `error`.

use super::*;

fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-03-02T08:00:00Z".parse().unwrap()
}

#[test]
fn classes_follow_the_reference() {
    let permanent = [
        FracttalError::UnauthorizedEndpoint {
            message: "x".into(),
        },
        FracttalError::Unauthorized {
            message: "x".into(),
        },
        FracttalError::ClockSkew {
            message: "x".into(),
        },
        FracttalError::Rejected {
            status: 400,
            message: "x".into(),
        },
        FracttalError::TokenRejected {
            status: 401,
            message: "invalid_client".into(),
            retry_after: None,
        },
    ];
    for e in permanent {
        assert_eq!(e.class(), ErrorClass::Permanent, "{e}");
    }
    let server = FracttalError::Server {
        status: 502,
        message: "bad gateway".into(),
        retry_after: None,
    };
    assert_eq!(server.class(), ErrorClass::Retryable { after: None });
    let token_down = FracttalError::TokenRejected {
        status: 503,
        message: "x".into(),
        retry_after: Some(Duration::from_secs(5)),
    };
    assert!(token_down.class().is_retryable());
}

#[test]
fn conversions_keep_status_code_and_class() {
    let e = FracttalError::UnauthorizedEndpoint {
        message: "work_orders".into(),
    };
    let delivery = DeliveryError::from(e.clone());
    assert_eq!(delivery.status(), Some(401));
    assert_eq!(delivery.code(), Some(UNAUTHORIZED_ENDPOINT));
    assert_eq!(delivery.class(), ErrorClass::Permanent);
    let provider = ProviderError::from(e);
    assert_eq!(provider.provider, "fracttal");

    let malformed = FracttalError::MalformedJson {
        status: 200,
        line: 1,
        column: 7,
        message: "expected value".into(),
    };
    let delivery = DeliveryError::from(malformed.clone());
    assert!(delivery.provider_may_have_acted());
    assert!(matches!(
        SourceError::from(malformed),
        SourceError::Response { .. }
    ));
    assert!(matches!(
        SourceError::from(FracttalError::Transport(HttpError::Timeout)),
        SourceError::Transport(_)
    ));
    let limited = DeliveryError::from(FracttalError::RateLimited {
        status: 406,
        retry_after: Duration::from_secs(9),
    });
    assert_eq!(
        limited.class(),
        ErrorClass::Retryable {
            after: Some(Duration::from_secs(9))
        }
    );
}

#[test]
fn rate_limit_wait_reads_every_header_form() {
    let r = HttpResponse::new(406, "").header("Request-Call-Limit-Reset", "17");
    assert_eq!(rate_limit_wait(&r, now()), Duration::from_secs(17));
    let r = HttpResponse::new(429, "").header("ratelimit-reset", "2.5");
    assert_eq!(rate_limit_wait(&r, now()), Duration::from_millis(2500));
    let r = HttpResponse::new(429, "").header("Retry-After", "30");
    assert_eq!(rate_limit_wait(&r, now()), Duration::from_secs(30));
    let epoch = (now().timestamp() + 40).to_string();
    let r = HttpResponse::new(406, "").header("Request-Call-Limit-Reset", epoch);
    assert_eq!(rate_limit_wait(&r, now()), Duration::from_secs(40));
    for bad in ["", "soon", "-4", "NaN"] {
        let r = HttpResponse::new(406, "").header("ratelimit-reset", bad);
        assert_eq!(rate_limit_wait(&r, now()), DEFAULT_RATE_LIMIT_WAIT, "{bad}");
    }
    let r = HttpResponse::new(406, "").header("ratelimit-reset", "0");
    assert_eq!(rate_limit_wait(&r, now()), Duration::from_secs(1));
}

#[test]
fn error_text_prefers_the_json_message() {
    let r = HttpResponse::new(400, r#"{"success":false,"message":"associated before"}"#);
    assert_eq!(error_text(&r), "associated before");
    let r = HttpResponse::new(500, "<html>oops</html>");
    assert_eq!(error_text(&r), "<html>oops</html>");
    assert_eq!(error_text(&HttpResponse::new(500, "")), "(empty answer)");
}
