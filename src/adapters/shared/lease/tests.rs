//! Unit tests of `lease`.

use secrecy::ExposeSecret;

use super::*;

#[test]
fn token_answers_are_read_tolerantly_and_never_quoted() {
    let fallback = Duration::from_secs(7200);
    let ok = HttpResponse::new(
        200,
        r#"{"access_token":"abc","token_type":"Bearer","expires_in":"3600","refresh_token":"r"}"#,
    );
    let issued = parse_token_answer(&ok, fallback).unwrap();
    assert_eq!(issued.access.expose_secret(), "abc");
    assert_eq!(issued.refresh.unwrap().expose_secret(), "r");
    assert_eq!(issued.lifetime, Some(Duration::from_secs(3600)));
    let bare = HttpResponse::new(200, r#"{"access_token":"abc"}"#);
    assert_eq!(
        parse_token_answer(&bare, fallback).unwrap().lifetime,
        Some(fallback)
    );
    let odd = HttpResponse::new(200, r#"{"token":"very-secret-value"}"#);
    let e = parse_token_answer(&odd, fallback).err().unwrap();
    assert!(!e.to_string().contains("very-secret-value"), "{e}");
    let e = parse_token_answer(&HttpResponse::new(200, "<html>"), fallback)
        .err()
        .unwrap();
    assert!(e.to_string().contains("line 1, column 1"), "{e}");
    let mac = HttpResponse::new(200, r#"{"access_token":"abc","token_type":"mac"}"#);
    assert!(parse_token_answer(&mac, fallback).is_err());
}
