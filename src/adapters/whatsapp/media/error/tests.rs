//! Unit tests of `error`.

use super::*;

#[test]
fn classes_survive_the_conversion() {
    let cases = [
        MediaError::TooLarge {
            media_type: MediaType::Document,
            size: 2,
            limit: 1,
        },
        MediaError::NotFound {
            reference: "a.pdf".into(),
        },
        MediaError::Unavailable {
            reference: "a.pdf".into(),
            message: "share offline".into(),
        },
        MediaError::Transport(HttpError::Timeout),
        MediaError::Checksum {
            expected: "x".into(),
            actual: "y".into(),
        },
        MediaError::OverCap { limit: 3 },
        MediaError::Response {
            status: 200,
            message: "no id".into(),
        },
    ];
    for error in cases {
        let class = error.class();
        assert_eq!(
            error.clone().into_delivery_error("file").class(),
            class,
            "{error}"
        );
    }
}

#[test]
fn file_problems_name_the_payload_field() {
    let error = MediaError::NotFound {
        reference: "reports/OT-1.pdf".into(),
    }
    .into_delivery_error("header.file");
    assert_eq!(
        error.to_string(),
        "the request could not be prepared: payload field `header.file`: no file `reports/OT-1.pdf` in the media provider"
    );
}

#[test]
fn limits_are_written_as_meta_writes_them() {
    assert_eq!(megabytes(16_000_000), "16 MB");
    assert_eq!(megabytes(500_000), "500 KB");
    assert_eq!(megabytes(1_234), "1234 bytes");
}
