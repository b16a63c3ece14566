//! What `ReqwestClient` says when no response arrives: which kind of failure it was, with
//! the transport's own error kept as the source, and never the URL's query.
#![cfg(feature = "reqwest")]

use std::error::Error as _;
use std::time::Duration;

use hubflow::http::{ConnectFailure, HttpClient, HttpError, HttpRequest, Method, ReqwestClient};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "SECRET-QUERY-TOKEN-777";

fn get(url: String) -> HttpRequest {
    HttpRequest::new(Method::Get, url.parse().expect("a URL"))
}

/// Every form of the error and of each error in its source chain, to search for leaks.
fn every_form(error: &HttpError) -> Vec<String> {
    let mut forms = vec![error.to_string(), format!("{error:?}")];
    let mut next = error.source();
    while let Some(e) = next {
        forms.push(e.to_string());
        forms.push(format!("{e:?}"));
        next = e.source();
    }
    forms
}

/// The errors below `error`, nearest first.
fn causes(error: &HttpError) -> Vec<&(dyn std::error::Error + 'static)> {
    let mut causes = Vec::new();
    let mut next = error.source();
    while let Some(e) = next {
        causes.push(e);
        next = e.source();
    }
    causes
}

fn chain_length(error: &HttpError) -> usize {
    causes(error).len()
}

fn assert_no_query(error: &HttpError) {
    for form in every_form(error) {
        assert!(!form.contains(SECRET), "the query leaked: {form}");
        assert!(!form.contains("token="), "the query leaked: {form}");
    }
}

#[tokio::test]
async fn a_refused_connection_says_so_and_keeps_its_cause() {
    // A port that was just free: nothing listens there any more.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port");
        listener.local_addr().expect("an address").port()
    };
    let client = ReqwestClient::new().expect("a client");
    let url = format!("http://127.0.0.1:{port}/hook?token={SECRET}");

    let error = client.send(&get(url)).await.expect_err("nothing listens");

    assert!(
        matches!(
            &error,
            HttpError::Connect {
                reason: ConnectFailure::Refused,
                source: Some(_)
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("connection was refused"),
        "{error}"
    );
    assert!(chain_length(&error) >= 2, "{error:?}");
    let os_error = causes(&error)
        .into_iter()
        .find_map(|e| e.downcast_ref::<std::io::Error>())
        .expect("the operating system's error is in the chain");
    assert_eq!(os_error.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_no_query(&error);
}

#[tokio::test]
async fn tls_to_a_plain_http_server_is_a_tls_failure() {
    let server = MockServer::start().await;
    let client = ReqwestClient::new().expect("a client");
    let port = server.address().port();
    let url = format!("https://127.0.0.1:{port}/hook?token={SECRET}");

    let error = client.send(&get(url)).await.expect_err("no TLS there");

    assert!(
        matches!(
            &error,
            HttpError::Connect {
                reason: ConnectFailure::Tls,
                source: Some(_)
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "could not connect: the TLS handshake failed"
    );
    assert_no_query(&error);
}

#[tokio::test]
async fn a_body_cut_short_is_an_answer_whose_body_is_unreadable() {
    // Announces 100 bytes, sends 5 and hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    let port = listener.local_addr().expect("an address").port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a connection");
        let mut request = [0_u8; 1024];
        let _ = socket.read(&mut request).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
            .await;
        let _ = socket.shutdown().await;
    });
    let client = ReqwestClient::new().expect("a client");
    let url = format!("http://127.0.0.1:{port}/file?token={SECRET}");

    let error = client.send(&get(url)).await.expect_err("the body is cut");
    server.await.expect("the stand-in ran");

    // The status arrived: the error keeps it, so a cut 2xx is not taken for a request
    // that never reached the provider.
    assert!(
        matches!(
            &error,
            HttpError::BodyUnreadable {
                status: 200,
                timed_out: false,
                source: Some(_),
            }
        ),
        "{error:?}"
    );
    assert_eq!(error.status(), Some(200));
    assert!(error.to_string().contains("HTTP 200"), "{error}");
    assert!(error.to_string().contains("body"), "{error}");
    assert!(chain_length(&error) >= 1);
    assert_no_query(&error);
}

#[tokio::test]
async fn a_timeout_while_reading_the_body_keeps_the_status() {
    // Announces 100 bytes, sends 5 and then nothing for longer than the client waits.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    let port = listener.local_addr().expect("an address").port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a connection");
        let mut request = [0_u8; 1024];
        let _ = socket.read(&mut request).await;
        let _ = socket
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\nshort")
            .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
    });
    let client = ReqwestClient::new().expect("a client");
    let url = format!("http://127.0.0.1:{port}/slow-body?token={SECRET}");

    let error = client
        .send(&get(url).timeout(Duration::from_millis(300)))
        .await
        .expect_err("the body never ends in time");
    server.abort();

    assert_eq!(error, HttpError::body_unreadable(503, true), "{error:?}");
    assert!(error.to_string().contains("timed out"), "{error}");
    assert_no_query(&error);
}

#[tokio::test]
async fn a_streamed_body_cut_short_keeps_the_status() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a port");
    let port = listener.local_addr().expect("an address").port();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("a connection");
        let mut request = [0_u8; 1024];
        let _ = socket.read(&mut request).await;
        let _ = socket
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort")
            .await;
        let _ = socket.shutdown().await;
    });
    let client = ReqwestClient::new().expect("a client");
    let url = format!("http://127.0.0.1:{port}/file");

    let mut sink = Vec::new();
    let error = client
        .send_to(&get(url), &mut sink, 1_000)
        .await
        .expect_err("the body is cut");
    server.await.expect("the stand-in ran");

    assert_eq!(error, HttpError::body_unreadable(200, false), "{error:?}");
}

#[tokio::test]
async fn a_timeout_names_neither_the_url_nor_its_query() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&server)
        .await;
    let client = ReqwestClient::new().expect("a client");
    let url = format!("{}/slow?token={SECRET}", server.uri());

    let error = client
        .send(&get(url).timeout(Duration::from_millis(200)))
        .await
        .expect_err("too slow");

    assert_eq!(error, HttpError::Timeout);
    assert_no_query(&error);
}
