//! Why a media upload, download or save failed.

use crate::http::HttpError;
use crate::{DeliveryError, ErrorClass, ProviderError, StoreError, TargetError};

use super::MediaType;

/// Why a media operation failed. Each error knows its [`ErrorClass`]; none carries the
/// access token.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The file is larger than WhatsApp accepts for its type. Found before any request.
    #[error("a {media_type} may have at most {} ({limit} bytes); this file has {size} bytes", megabytes(*limit))]
    TooLarge {
        /// The media type whose limit applies.
        media_type: MediaType,
        /// The file's size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
    /// WhatsApp does not accept this MIME type for the media type. Found before any request.
    #[error("WhatsApp does not take `{mime}` as {media_type}; it takes {allowed}")]
    UnsupportedType {
        /// The media type.
        media_type: MediaType,
        /// The file's MIME type.
        mime: String,
        /// The MIME types accepted, comma-separated.
        allowed: String,
    },
    /// The file has no bytes.
    #[error("the {media_type} file is empty")]
    Empty {
        /// The media type.
        media_type: MediaType,
    },
    /// The host's [`MediaProvider`](super::MediaProvider) has no file by this reference.
    #[error("no file `{reference}` in the media provider")]
    NotFound {
        /// The reference from the payload.
        reference: String,
    },
    /// The host's media provider or attachment sink failed for a reason that may pass
    /// (a network share offline, a full disk).
    #[error("media storage unavailable for `{reference}`: {message}")]
    Unavailable {
        /// The file reference or attachment name.
        reference: String,
        /// What failed.
        message: String,
    },
    /// WhatsApp answered with an error (upload, media URL, download), classified like any
    /// Graph error.
    #[error(transparent)]
    Provider(Box<ProviderError>),
    /// No answer arrived.
    #[error(transparent)]
    Transport(HttpError),
    /// WhatsApp answered success, but the answer could not be read.
    #[error("unreadable answer from whatsapp (HTTP {status}): {message}")]
    Response {
        /// The HTTP status.
        status: u16,
        /// What could not be read.
        message: String,
    },
    /// The download is longer than the size cap; it was stopped there.
    #[error("the media file is larger than the {limit} bytes allowed; download stopped")]
    OverCap {
        /// The cap in bytes.
        limit: u64,
    },
    /// The downloaded bytes do not hash to the sha256 WhatsApp gave; they were discarded.
    #[error(
        "sha256 mismatch: WhatsApp gave {expected}, the downloaded bytes hash to {actual} (hex)"
    )]
    Checksum {
        /// The sha256 WhatsApp gave, as given.
        expected: String,
        /// The sha256 of the bytes received, lower-case hex.
        actual: String,
    },
    /// The record is not a WhatsApp message with media, or lacks what a download needs.
    #[error("not a WhatsApp media message: {0}")]
    NotMedia(String),
}

/// `100 MB`, `500 KB`: a limit as Meta's table writes it.
fn megabytes(bytes: u64) -> String {
    if bytes >= 1_000_000 && bytes.is_multiple_of(1_000_000) {
        format!("{} MB", bytes / 1_000_000)
    } else if bytes.is_multiple_of(1_000) {
        format!("{} KB", bytes / 1_000)
    } else {
        format!("{bytes} bytes")
    }
}

impl From<ProviderError> for MediaError {
    fn from(error: ProviderError) -> Self {
        MediaError::Provider(Box::new(error))
    }
}

impl From<HttpError> for MediaError {
    fn from(error: HttpError) -> Self {
        match error {
            HttpError::BodyTooLarge { limit } => MediaError::OverCap { limit },
            other => MediaError::Transport(other),
        }
    }
}

impl MediaError {
    /// How the operation may be retried: WhatsApp's errors by their code, a missing answer,
    /// unavailable storage and a checksum mismatch (a corrupted transfer) are retryable;
    /// files that break WhatsApp's limits, missing files and oversized downloads are not.
    pub fn class(&self) -> ErrorClass {
        match self {
            MediaError::Provider(error) => error.class,
            MediaError::Transport(HttpError::Sink(_)) => ErrorClass::Retryable { after: None },
            MediaError::Transport(HttpError::InvalidRequest(_)) => ErrorClass::Permanent,
            MediaError::Transport(_)
            | MediaError::Unavailable { .. }
            | MediaError::Checksum { .. } => ErrorClass::Retryable { after: None },
            MediaError::TooLarge { .. }
            | MediaError::UnsupportedType { .. }
            | MediaError::Empty { .. }
            | MediaError::NotFound { .. }
            | MediaError::Response { .. }
            | MediaError::OverCap { .. }
            | MediaError::NotMedia(_) => ErrorClass::Permanent,
        }
    }

    /// The [`DeliveryError`] a target reports for this error, keeping its class. Problems
    /// with the file itself name the payload `field` it came from (`file`, `header.file`).
    pub fn into_delivery_error(self, field: &str) -> DeliveryError {
        match self {
            MediaError::Provider(error) => DeliveryError::Provider(error),
            // An upload before the send, or a download: a cut-off answer there leaves
            // nothing sent that another attempt would duplicate.
            MediaError::Transport(error) => DeliveryError::Transport(error.for_read()),
            error @ (MediaError::Unavailable { .. } | MediaError::Checksum { .. }) => {
                // The store class is the retryable one for "the host's storage failed";
                // a corrupted transfer is retried the same way.
                DeliveryError::Store(StoreError::unavailable(error.to_string()))
            }
            MediaError::Response { status, message } => {
                DeliveryError::Provider(Box::new(ProviderError {
                    provider: "whatsapp".to_owned(),
                    status,
                    code: None,
                    message: format!("unreadable answer: {message}"),
                    class: ErrorClass::Permanent,
                    details: serde_json::Value::Null,
                    source: None,
                }))
            }
            MediaError::OverCap { .. } => DeliveryError::Precondition(self.to_string()),
            other => DeliveryError::Prepare(TargetError::field(field, other.to_string())),
        }
    }
}

#[cfg(test)]
mod tests;
