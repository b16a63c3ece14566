//! Unit tests of `limits`.

use super::*;

#[test]
fn the_table_is_indexed_by_type() {
    for media_type in MediaType::ALL {
        assert_eq!(media_type.limit().media_type, media_type);
        assert_eq!(MediaType::parse(media_type.as_str()), Some(media_type));
    }
}

#[test]
fn limits_of_the_reference() {
    let max = |t: MediaType, animated| t.limit().max_bytes(animated);
    assert_eq!(max(MediaType::Audio, false), 16_000_000);
    assert_eq!(max(MediaType::Document, false), 100_000_000);
    assert_eq!(max(MediaType::Image, false), 5_000_000);
    assert_eq!(max(MediaType::Sticker, false), 100_000);
    assert_eq!(max(MediaType::Sticker, true), 500_000);
    assert_eq!(max(MediaType::Video, true), 16_000_000);
    assert!(check_media(MediaType::Sticker, "image/webp", 300_000, true).is_ok());
    assert!(check_media(MediaType::Sticker, "image/webp", 300_000, false).is_err());
}

#[test]
fn mime_checks_ignore_parameters_and_case() {
    assert!(check_media(MediaType::Audio, "audio/ogg; codecs=opus", 10, false).is_ok());
    assert!(check_media(MediaType::Image, "IMAGE/PNG", 10, false).is_ok());
    assert!(matches!(
        check_media(MediaType::Image, "image/png", 0, false),
        Err(MediaError::Empty { .. })
    ));
    assert!(matches!(
        check_media(MediaType::Video, "video/quicktime", 10, false),
        Err(MediaError::UnsupportedType { .. })
    ));
}

#[test]
fn boundaries_are_inclusive() {
    assert!(check_media(MediaType::Image, "image/jpeg", 5_000_000, false).is_ok());
    let error = check_media(MediaType::Image, "image/jpeg", 5_000_001, false).unwrap_err();
    assert!(matches!(
        error,
        MediaError::TooLarge {
            media_type: MediaType::Image,
            size: 5_000_001,
            limit: 5_000_000
        }
    ));
}

#[test]
fn names_and_extensions() {
    assert_eq!(base_name("a\\b/c.pdf"), "c.pdf");
    assert_eq!(
        mime_for_filename("x.docx"),
        Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    );
    assert_eq!(mime_for_filename(".hidden/none"), None);
    assert_eq!(extension_for_mime("application/x-unknown"), None);
}
