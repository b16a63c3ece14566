//! Unit tests of the scrubber: every encoding, the length floor, longest first, no-op.

use super::*;
use crate::http::Method;
use secrecy::SecretString;
use serde_json::json;

fn request() -> HttpRequest {
    HttpRequest::new(
        Method::Post,
        "https://api.example.com/send".parse().unwrap(),
    )
}

fn bearer(token: &str) -> Scrubber {
    Scrubber::new(&request().secret_header(
        "Authorization",
        SecretString::from(format!("Bearer {token}")),
    ))
}

#[test]
fn a_bearer_header_is_scrubbed_whole_and_as_its_token() {
    let scrubber = bearer("sk-live-abc");
    assert_eq!(
        scrubber.scrub("got Bearer sk-live-abc, expected another"),
        "got [redacted], expected another"
    );
    assert_eq!(scrubber.scrub("token=sk-live-abc"), "token=[redacted]");
}

#[test]
fn every_encoding_of_a_secret_is_scrubbed() {
    let secret = "p@ss w/rd+\"q\"";
    let scrubber = Scrubber::of([secret]);
    let cases = [
        secret.to_owned(),
        // Percent-encoded, a space as %20 and as +.
        "p%40ss%20w%2Frd%2B%22q%22".to_owned(),
        "p%40ss+w%2Frd%2B%22q%22".to_owned(),
        // Form-encoded (url's serializer).
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
        // Inside a JSON string, with `/` as it is and escaped.
        r#"p@ss w/rd+\"q\""#.to_owned(),
        r#"p@ss w\/rd+\"q\""#.to_owned(),
        // Base64, padded and not.
        base64::engine::general_purpose::STANDARD.encode(secret),
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret),
    ];
    for encoded in cases {
        let text = format!("<{encoded}>");
        let scrubbed = scrubber.scrub(&text);
        assert!(
            scrubbed.starts_with("<[redacted]"),
            "{encoded} gave {scrubbed}"
        );
        assert!(!scrubbed.contains("ss"), "{encoded} gave {scrubbed}");
    }
}

#[test]
fn basic_credentials_are_scrubbed_encoded_decoded_and_as_the_password() {
    let token = base64::engine::general_purpose::STANDARD.encode("client-id:s3cr3t-pass");
    let request = request().header("Authorization", format!("Basic {token}"));
    let scrubber = Scrubber::new(&request);
    let text = format!("Basic {token} | {token} | client-id:s3cr3t-pass | s3cr3t-pass");
    assert_eq!(
        scrubber.scrub(&text),
        "[redacted] | [redacted] | [redacted] | [redacted]"
    );
    // The user name alone is not a secret.
    assert_eq!(scrubber.scrub("client-id"), "client-id");
}

#[test]
fn credential_fields_of_json_form_and_query_are_scrubbed() {
    let json = request()
        .json(&json!({"username": "mestre", "password": "hunter2-pass",
                      "nested": {"refresh_token": "r-token-9"}, "clientSecret": 123456}))
        .unwrap();
    let scrubber = Scrubber::new(&json);
    assert_eq!(
        scrubber.scrub("mestre hunter2-pass r-token-9 123456"),
        "mestre [redacted] [redacted] [redacted]"
    );
    let form = request().form(&[("client_id", "app"), ("client_secret", "form secret")]);
    assert_eq!(
        Scrubber::new(&form).scrub("echo: client_secret=form+secret"),
        "echo: client_secret=[redacted]"
    );
    let mut query = request();
    query.url = "https://api.example.com/x?api_key=k-12345&page=2"
        .parse()
        .unwrap();
    assert_eq!(
        Scrubber::new(&query).scrub("key k-12345 page 2"),
        "key [redacted] page 2"
    );
    let named = request().header("X-Api-Key", "plain-key-1");
    assert_eq!(Scrubber::new(&named).scrub("plain-key-1"), "[redacted]");
}

#[test]
fn values_shorter_than_four_bytes_are_left_alone() {
    let scrubber = Scrubber::of(["abc", "abcd"]);
    assert_eq!(scrubber.scrub("abc abcd"), "abc [redacted]");
    assert!(Scrubber::of(["", "x", "12"]).is_empty());
    let short = Scrubber::new(&request().secret_header("Authorization", SecretString::from("k")));
    assert!(short.is_empty(), "{short:?}");
}

#[test]
fn the_longest_secret_wins_where_two_overlap() {
    // `secret` is inside `secret-longer`: the whole of the longer one goes, not a piece.
    let scrubber = Scrubber::of(["secret", "secret-longer"]);
    assert_eq!(
        scrubber.scrub("a secret-longer b secret c"),
        "a [redacted] b [redacted] c"
    );
    // One pass from the left: a replacement is never matched again.
    let scrubber = Scrubber::of(["dact", "[re"]);
    assert_eq!(scrubber.scrub("dact"), "[redacted]");
}

#[test]
fn nothing_to_scrub_borrows_the_text() {
    let empty = Scrubber::new(&request().header("Accept", "application/json"));
    assert!(empty.is_empty());
    assert!(matches!(empty.scrub("text"), Cow::Borrowed("text")));
    let scrubber = bearer("sk-live-abc");
    assert!(matches!(scrubber.scrub(""), Cow::Borrowed("")));
    assert!(matches!(scrubber.scrub("clean text"), Cow::Borrowed(_)));
    let response = HttpResponse::new(400, "clean text");
    assert!(matches!(scrubber.response(&response), Cow::Borrowed(_)));
}

#[test]
fn a_response_is_scrubbed_in_its_text_and_in_json_escapes() {
    let scrubber = bearer("sk-live-abc");
    // `\u002d` is `-`: the raw text does not hold the token, the decoded string does.
    let response = HttpResponse::new(
        400,
        r#"{"error": {"message": "bad sk\u002dlive\u002dabc"}}"#,
    );
    let clean = scrubber.response(&response);
    assert_eq!(
        clean.json_body().unwrap()["error"]["message"],
        "bad [redacted]"
    );
    let plain = HttpResponse::new(500, "<p>Bearer sk-live-abc</p>");
    assert_eq!(&scrubber.response(&plain).body[..], b"<p>[redacted]</p>");
    assert_eq!(scrubber.excerpt(&plain, 5), "<p>[r…");
    let mut value = json!({"a": ["sk-live-abc", 1], "b": "ok"});
    assert!(scrubber.scrub_json(&mut value));
    assert_eq!(value, json!({"a": ["[redacted]", 1], "b": "ok"}));
}

#[test]
fn debug_shows_no_secret() {
    let scrubber = bearer("sk-live-abc");
    assert!(!format!("{scrubber:?}").contains("sk-live"));
}
