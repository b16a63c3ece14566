//! The subscription handshake, the `X-Hub-Signature-256` check, and secrets kept out of
//! errors and `Debug`.

use secrecy::SecretString;
use serde_json::Value;

use super::*;

const APP_SECRET: &str = "app-secret-5f1c9e";
const VERIFY_TOKEN: &str = "verify-token-77aa";

fn secret(text: &str) -> SecretString {
    SecretString::from(text)
}

// ---- handshake ----

#[test]
fn handshake_returns_the_challenge_for_the_right_token() {
    let result = verify_subscription(
        Some("subscribe"),
        Some(VERIFY_TOKEN),
        Some("1158201444"),
        &secret(VERIFY_TOKEN),
    );
    assert_eq!(result, Ok("1158201444".to_owned()));
}

#[test]
fn handshake_refuses_a_wrong_token_even_a_prefix_or_extension() {
    for token in [
        "wrong",
        "",
        "verify-token-77a",
        "verify-token-77aa ",
        "VERIFY-TOKEN-77AA",
    ] {
        let result = verify_subscription(
            Some("subscribe"),
            Some(token),
            Some("1"),
            &secret(VERIFY_TOKEN),
        );
        assert_eq!(result, Err(WebhookError::VerifyTokenMismatch), "{token:?}");
    }
    let missing = verify_subscription(Some("subscribe"), None, Some("1"), &secret(VERIFY_TOKEN));
    assert_eq!(missing, Err(WebhookError::VerifyTokenMissing));
}

#[test]
fn handshake_refuses_a_wrong_or_missing_mode() {
    let wrong = verify_subscription(
        Some("unsubscribe"),
        Some(VERIFY_TOKEN),
        Some("1"),
        &secret(VERIFY_TOKEN),
    );
    assert_eq!(
        wrong,
        Err(WebhookError::SubscriptionMode {
            found: Some("unsubscribe".into())
        })
    );
    let missing = verify_subscription(None, Some(VERIFY_TOKEN), Some("1"), &secret(VERIFY_TOKEN));
    assert_eq!(missing, Err(WebhookError::SubscriptionMode { found: None }));
}

#[test]
fn handshake_without_challenge_is_an_error() {
    let result = verify_subscription(
        Some("subscribe"),
        Some(VERIFY_TOKEN),
        None,
        &secret(VERIFY_TOKEN),
    );
    assert_eq!(result, Err(WebhookError::ChallengeMissing));
}

#[test]
fn handshake_errors_do_not_show_the_expected_token() {
    let error = verify_subscription(
        Some("subscribe"),
        Some("x"),
        Some("1"),
        &secret(VERIFY_TOKEN),
    )
    .unwrap_err();
    assert!(!error.to_string().contains(VERIFY_TOKEN));
    assert!(!format!("{error:?}").contains(VERIFY_TOKEN));
}

// ---- signatures ----

#[test]
fn sign_produces_the_known_hmac_sha256() {
    // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
    assert_eq!(
        sign(&secret("Jefe"), b"what do ya want for nothing?"),
        "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn a_valid_signature_verifies() {
    let body = REF_TEXT.as_bytes();
    let header = sign(&secret(APP_SECRET), body);
    assert_eq!(
        verify_signature(&secret(APP_SECRET), body, Some(&header)),
        Ok(())
    );
}

#[test]
fn a_tampered_body_does_not_verify() {
    let header = sign(&secret(APP_SECRET), REF_TEXT.as_bytes());
    let tampered = REF_TEXT.replace("another color", "another colour");
    assert_eq!(
        verify_signature(&secret(APP_SECRET), tampered.as_bytes(), Some(&header)),
        Err(WebhookError::SignatureMismatch)
    );
    // Re-serializing the JSON changes the bytes, so it must not verify either.
    let reserialized = serde_json::from_str::<Value>(REF_TEXT).unwrap().to_string();
    assert_eq!(
        verify_signature(&secret(APP_SECRET), reserialized.as_bytes(), Some(&header)),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn a_different_secret_does_not_verify() {
    let header = sign(&secret("another-secret"), REF_TEXT.as_bytes());
    assert_eq!(
        verify_signature(&secret(APP_SECRET), REF_TEXT.as_bytes(), Some(&header)),
        Err(WebhookError::SignatureMismatch)
    );
}

#[test]
fn malformed_signature_headers_are_told_apart() {
    let app = secret(APP_SECRET);
    let body = b"{}";
    let good = sign(&app, body);
    let digits = good.trim_start_matches("sha256=");
    assert_eq!(
        verify_signature(&app, body, None),
        Err(WebhookError::SignatureMissing)
    );
    assert_eq!(
        verify_signature(&app, body, Some(&format!("sha1={digits}"))),
        Err(WebhookError::SignaturePrefix)
    );
    assert_eq!(
        verify_signature(&app, body, Some(digits)),
        Err(WebhookError::SignaturePrefix)
    );
    assert_eq!(
        verify_signature(&app, body, Some(&format!("sha256={}zz", &digits[2..]))),
        Err(WebhookError::SignatureNotHex)
    );
    assert_eq!(
        verify_signature(&app, body, Some(&good[..good.len() - 1])),
        Err(WebhookError::SignatureLength { found: 63 })
    );
    assert_eq!(
        verify_signature(&app, body, Some("sha256=")),
        Err(WebhookError::SignatureLength { found: 0 })
    );
    assert_eq!(
        verify_signature(&app, body, Some(&format!("{good}00"))),
        Err(WebhookError::SignatureLength { found: 66 })
    );
}

#[test]
fn uppercase_hex_and_surrounding_whitespace_are_accepted() {
    let app = secret(APP_SECRET);
    let body = REF_BUTTON.as_bytes();
    let good = sign(&app, body);
    let upper = format!(
        "sha256={}",
        good.trim_start_matches("sha256=").to_uppercase()
    );
    assert_eq!(verify_signature(&app, body, Some(&upper)), Ok(()));
    assert_eq!(
        verify_signature(&app, body, Some(&format!(" {good}\t"))),
        Ok(())
    );
}

#[test]
fn signature_errors_show_neither_secret_nor_expected_digest() {
    let app = secret(APP_SECRET);
    let expected = sign(&app, b"{}");
    let digits = expected.trim_start_matches("sha256=");
    let wrong = sign(&secret("x"), b"{}");
    let error = verify_signature(&app, b"{}", Some(&wrong)).unwrap_err();
    for shown in [error.to_string(), format!("{error:?}")] {
        assert!(!shown.contains(APP_SECRET));
        assert!(!shown.contains(digits));
    }
}

// ---- secrets ----

#[test]
fn webhook_debug_redacts_both_secrets() {
    let webhook = WhatsAppWebhook::new(secret(VERIFY_TOKEN), secret(APP_SECRET));
    let shown = format!("{webhook:?}");
    assert!(
        !shown.contains(VERIFY_TOKEN) && !shown.contains(APP_SECRET),
        "{shown}"
    );
    assert!(shown.contains("[redacted]"));
    assert!(shown.contains(&DEFAULT_MAX_BODY.to_string()));
}

#[test]
fn unset_secrets_accept_nothing() {
    let empty = SecretString::from(String::new());
    let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
    // Anyone can compute an HMAC keyed with the empty string.
    let forged = sign(&empty, body);
    assert_eq!(
        verify_signature(&empty, body, Some(&forged)),
        Err(WebhookError::SignatureMismatch)
    );
    assert_eq!(
        verify_subscription(Some("subscribe"), Some(""), Some("123"), &empty),
        Err(WebhookError::VerifyTokenMismatch)
    );
}
