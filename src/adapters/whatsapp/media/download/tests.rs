//! Unit tests of `download`.

use super::*;

#[test]
fn base64_matches_known_vectors() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

#[test]
fn sha256_in_hex_or_base64() {
    let hex = hex::encode(Sha256::digest(b"photo"));
    let b64 = base64(&Sha256::digest(b"photo"));
    assert!(same_sha256(&hex, &hex));
    assert!(same_sha256(&hex.to_uppercase(), &hex));
    assert!(same_sha256(&b64, &hex));
    assert!(same_sha256(b64.trim_end_matches('='), &hex));
    let url_safe = b64.replace('+', "-").replace('/', "_");
    assert!(same_sha256(&url_safe, &hex));
    let other = hex::encode(Sha256::digest(b"other"));
    assert!(!same_sha256(&other, &hex));
    assert!(!same_sha256("", &hex));
    assert!(!same_sha256("not a digest", &hex));
}

#[test]
fn media_info_reads_meta_answers() {
    let body = br#"{"messaging_product":"whatsapp","url":"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=3","mime_type":"image/jpeg","sha256":"abc","file_size":"303833","id":"1037543291543636"}"#;
    let info = parse_media_info(body, 200, "1037543291543636").unwrap();
    assert_eq!(info.file_size, Some(303833));
    assert_eq!(info.mime_type, "image/jpeg");
    assert!(!format!("{info:?}").contains("hash=3"));
    let no_sha = br#"{"url":"https://x.example/a"}"#;
    assert!(matches!(
        parse_media_info(no_sha, 200, "1"),
        Err(MediaError::Response { .. })
    ));
    assert!(parse_media_info(b"<html>", 200, "1").is_err());
    let numeric = br#"{"url":"https://x.example/a","sha256":"x","file_size":12}"#;
    assert_eq!(
        parse_media_info(numeric, 200, "1").unwrap().file_size,
        Some(12)
    );
}
