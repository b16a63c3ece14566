//! Unit tests of the HTTP port.

use super::response::token_refusal_reason;
use super::*;
use bytes::Bytes;
use secrecy::SecretString;
use serde_json::json;
use std::time::Duration;
use url::Url;

fn url() -> Url {
    "https://example.com/hook".parse().unwrap()
}

#[test]
fn secrets_never_show_in_debug_or_serialization() {
    let request = HttpRequest::post_json(url(), &json!({"x": 1}))
        .unwrap()
        .secret_header("Authorization", SecretString::from("Bearer s3cr3t"));
    let debug = format!("{request:?}");
    let json = serde_json::to_string(&request).unwrap();
    assert!(!debug.contains("s3cr3t"), "{debug}");
    assert!(!json.contains("s3cr3t"), "{json}");
    assert!(json.contains(REDACTED));
    assert_eq!(request.headers.get("authorization"), Some("Bearer s3cr3t"));
}

#[test]
fn a_token_refusal_is_explained_without_quoting_the_body() {
    let echo = HttpResponse::new(
        400,
        r#"{"error":"invalid_client","client_secret":"s3cr3t","error_description":"bad secret"}"#,
    );
    assert_eq!(token_refusal_reason(&echo), "invalid_client: bad secret");
    let html = HttpResponse::new(500, "<html>client_secret=s3cr3t</html>");
    assert_eq!(token_refusal_reason(&html), "no reason given");
}

#[test]
fn a_secret_body_is_redacted_in_debug_and_serialization() {
    let request = HttpRequest::post_json(url(), &json!({"username": "u", "password": "hunter2"}))
        .unwrap()
        .with_secret_body();
    let debug = format!("{request:?}");
    let shown = serde_json::to_string(&request).unwrap();
    assert!(
        !debug.contains("hunter2") && !shown.contains("hunter2"),
        "{debug} {shown}"
    );
    assert!(shown.contains(REDACTED));
    assert_eq!(request.json_body().unwrap()["password"], "hunter2");
    let plain = HttpRequest::post_json(url(), &json!({"a": "visible"})).unwrap();
    assert!(format!("{plain:?}").contains("visible"));
}

#[test]
fn serialization_shows_json_bodies_inline_and_others_by_length() {
    let request = HttpRequest::post_json(url(), &json!({"x": 1})).unwrap();
    let shown = serde_json::to_value(&request).unwrap();
    assert_eq!(shown["body"], json!({"x": 1}));
    assert_eq!(shown["method"], "POST");
    let mut binary = HttpRequest::new(Method::Put, url());
    binary.body = Bytes::from_static(&[0xff, 0x00, 0x01]);
    assert_eq!(serde_json::to_value(&binary).unwrap()["body"], "<3 bytes>");
}

#[test]
fn headers_replace_case_insensitively() {
    let mut headers = Headers::new();
    headers.insert("X-A", "1");
    headers.insert("x-a", "2");
    headers.append("x-a", HeaderValue::Plain("3".into()));
    assert_eq!(headers.iter().count(), 2);
    assert_eq!(headers.get("X-A"), Some("2"));
    headers.remove("X-a");
    assert!(headers.is_empty());
}

#[test]
fn retry_after_handles_garbage_and_past_dates() {
    let now = "2026-01-01T00:00:00Z".parse().unwrap();
    let garbage = HttpResponse::new(429, "").header("Retry-After", "soon");
    assert_eq!(garbage.retry_after(now), None);
    let past = HttpResponse::new(429, "").header("Retry-After", "Wed, 31 Dec 2025 23:00:00 GMT");
    assert_eq!(past.retry_after(now), Some(Duration::ZERO));
    assert_eq!(HttpResponse::new(429, "").retry_after(now), None);
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

#[test]
fn send_to_by_default_keeps_error_bodies_out_of_the_sink() {
    let client = RecordingClient::new();
    client.push_response(HttpResponse::new(404, "gone"));
    let request = HttpRequest::new(Method::Get, url());
    let mut sink = Vec::new();
    let head = block_on(client.send_to(&request, &mut sink, 100)).unwrap();
    assert_eq!((head.status, head.written), (404, 0));
    assert_eq!(head.body.as_ref(), b"gone");
    assert!(sink.is_empty());
    assert_eq!(client.requests().len(), 1);
}

#[test]
fn send_to_by_default_reports_a_failing_sink() {
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let client = RecordingClient::answering(HttpResponse::new(200, "data"));
    let request = HttpRequest::new(Method::Get, url());
    let error = block_on(client.send_to(&request, &mut Broken, 100)).unwrap_err();
    assert_eq!(error, HttpError::Sink("disk full".into()));
}

#[test]
fn body_excerpt_cuts_on_characters() {
    let r = HttpResponse::new(500, "ação completa");
    assert_eq!(r.body_excerpt(4), "ação…");
    assert_eq!(r.body_excerpt(100), "ação completa");
}

#[test]
fn http_errors_compare_by_what_they_say_and_keep_their_source() {
    use std::error::Error as _;
    let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let refused = HttpError::connect(ConnectFailure::Refused).with_source(io);
    assert_eq!(
        refused.to_string(),
        "could not connect: the connection was refused"
    );
    let source = refused.source().expect("the cause is kept");
    assert_eq!(
        source.downcast_ref::<std::io::Error>().map(|e| e.kind()),
        Some(std::io::ErrorKind::ConnectionRefused)
    );
    // Clones share the source.
    assert!(refused.clone().source().is_some());
    assert_eq!(refused, HttpError::connect(ConnectFailure::Refused));
    assert_ne!(refused, HttpError::connect(ConnectFailure::Dns));
    assert_ne!(refused, HttpError::Timeout);
    assert_eq!(
        HttpError::other("x").with_source(std::fmt::Error),
        HttpError::other("x")
    );
    // Variants without a source stay as they are.
    assert!(HttpError::Timeout
        .with_source(std::fmt::Error)
        .source()
        .is_none());
    assert_eq!(
        HttpError::Sink("disk full".into()).with_source(std::fmt::Error),
        HttpError::Sink("disk full".into())
    );
}

#[cfg(feature = "reqwest")]
mod connect_failures {
    use super::super::reqwest_client::connect_failure;
    use super::ConnectFailure;
    use std::fmt;
    use std::io::{Error, ErrorKind};

    /// A layer of a chain, like hyper-util's private `ConnectError`.
    #[derive(Debug)]
    struct Layer(&'static str, Box<dyn std::error::Error + Send + Sync>);

    impl fmt::Display for Layer {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Layer {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.1)
        }
    }

    fn chain(message: &'static str, inner: Error) -> Layer {
        Layer(
            "client error (Connect)",
            Box::new(Layer(message, Box::new(inner))),
        )
    }

    #[test]
    fn the_failing_step_is_read_from_the_chain() {
        for (layer, inner, expected) in [
            (
                "tcp connect error",
                Error::from(ErrorKind::ConnectionRefused),
                ConnectFailure::Refused,
            ),
            (
                "dns error",
                Error::other("failed to lookup address information"),
                ConnectFailure::Dns,
            ),
            (
                "tcp connect error",
                Error::from(ErrorKind::TimedOut),
                ConnectFailure::TimedOut,
            ),
            (
                "tcp connect error",
                Error::from(ErrorKind::HostUnreachable),
                ConnectFailure::Unreachable,
            ),
            (
                "tcp connect error",
                Error::from(ErrorKind::NetworkUnreachable),
                ConnectFailure::Unreachable,
            ),
            (
                "handshake",
                Error::new(ErrorKind::InvalidData, "invalid peer certificate"),
                ConnectFailure::Tls,
            ),
            // tokio-rustls' error, wrapped once more by the connector.
            (
                "client error (Connect)",
                Error::other(Error::new(ErrorKind::InvalidData, "corrupt message")),
                ConnectFailure::Tls,
            ),
            (
                "tcp connect error",
                Error::from(ErrorKind::PermissionDenied),
                ConnectFailure::Other,
            ),
        ] {
            assert_eq!(connect_failure(&chain(layer, inner)), expected, "{layer}");
        }
    }
}
