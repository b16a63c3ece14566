//! What WhatsApp accepts as media: types, MIME types and sizes, as data.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::MediaError;

/// One megabyte as WhatsApp's limits count it. Meta writes "16 MB" without saying which
/// megabyte; the decimal one is the smaller, so a file that passes here is never refused by
/// Meta for its size.
const MB: u64 = 1_000_000;
/// One kilobyte, decimal for the same reason.
const KB: u64 = 1_000;

/// A kind of WhatsApp media.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum MediaType {
    /// `audio`: AAC, AMR, MP3, M4A, OGG (Opus only).
    Audio,
    /// `document`: PDF, text, Word, Excel, PowerPoint.
    Document,
    /// `image`: JPEG, PNG.
    Image,
    /// `sticker`: WebP.
    Sticker,
    /// `video`: MP4, 3GP (H.264 video, AAC audio).
    Video,
}

impl MediaType {
    /// Every media type.
    pub const ALL: [MediaType; 5] = [
        MediaType::Audio,
        MediaType::Document,
        MediaType::Image,
        MediaType::Sticker,
        MediaType::Video,
    ];

    /// The wire name (`image`, `document`, …), which is also the message `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Audio => "audio",
            MediaType::Document => "document",
            MediaType::Image => "image",
            MediaType::Sticker => "sticker",
            MediaType::Video => "video",
        }
    }

    /// The media type with this wire name.
    ///
    /// ```
    /// use hubflow::whatsapp::media::MediaType;
    /// assert_eq!(MediaType::parse("image"), Some(MediaType::Image));
    /// assert_eq!(MediaType::parse("text"), None);
    /// ```
    pub fn parse(name: &str) -> Option<MediaType> {
        MediaType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// This type's row of [`MEDIA_LIMITS`].
    pub fn limit(self) -> &'static MediaLimit {
        match self {
            MediaType::Audio => &MEDIA_LIMITS[0],
            MediaType::Document => &MEDIA_LIMITS[1],
            MediaType::Image => &MEDIA_LIMITS[2],
            MediaType::Sticker => &MEDIA_LIMITS[3],
            MediaType::Video => &MEDIA_LIMITS[4],
        }
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What WhatsApp accepts for one [`MediaType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct MediaLimit {
    /// The media type.
    pub media_type: MediaType,
    /// The MIME types accepted, without parameters.
    pub mime_types: &'static [&'static str],
    /// The largest file, in bytes.
    pub max_bytes: u64,
    /// The largest animated file, where that differs (stickers).
    pub max_bytes_animated: Option<u64>,
}

impl MediaLimit {
    /// The largest file accepted, animated or not.
    pub fn max_bytes(&self, animated: bool) -> u64 {
        match (animated, self.max_bytes_animated) {
            (true, Some(animated)) => animated,
            _ => self.max_bytes,
        }
    }

    /// Whether `mime` (parameters such as `; codecs=opus` ignored, case-insensitive) is
    /// accepted.
    pub fn accepts(&self, mime: &str) -> bool {
        let essence = mime_essence(mime);
        self.mime_types
            .iter()
            .any(|accepted| accepted.eq_ignore_ascii_case(&essence))
    }
}

/// WhatsApp's media limits (Meta's "Supported media types"): MIME types and sizes by type.
/// Sizes are in decimal megabytes (see the note on [`check_media`]).
pub const MEDIA_LIMITS: [MediaLimit; 5] = [
    MediaLimit {
        media_type: MediaType::Audio,
        mime_types: &[
            "audio/aac",
            "audio/amr",
            "audio/mpeg",
            "audio/mp4",
            "audio/ogg",
        ],
        max_bytes: 16 * MB,
        max_bytes_animated: None,
    },
    MediaLimit {
        media_type: MediaType::Document,
        mime_types: &[
            "text/plain",
            "application/vnd.ms-excel",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "application/msword",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "application/vnd.ms-powerpoint",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "application/pdf",
        ],
        max_bytes: 100 * MB,
        max_bytes_animated: None,
    },
    MediaLimit {
        media_type: MediaType::Image,
        mime_types: &["image/jpeg", "image/png"],
        max_bytes: 5 * MB,
        max_bytes_animated: None,
    },
    MediaLimit {
        media_type: MediaType::Sticker,
        mime_types: &["image/webp"],
        max_bytes: 100 * KB,
        max_bytes_animated: Some(500 * KB),
    },
    MediaLimit {
        media_type: MediaType::Video,
        mime_types: &["video/mp4", "video/3gpp"],
        max_bytes: 16 * MB,
        max_bytes_animated: None,
    },
];

/// Templates take only PDF documents in a media header (Meta's `DocumentParameter`).
pub(crate) const TEMPLATE_DOCUMENT_MIME: &str = "application/pdf";

/// Checks a file against WhatsApp's limits for `media_type` before anything is sent: its
/// MIME type, that it is not empty, and its size. Sizes count decimal megabytes
/// (16 MB = 16,000,000 bytes), the stricter reading of Meta's table, so a file refused by
/// Meta for its size is always refused here first.
///
/// ```
/// use hubflow::whatsapp::media::{check_media, MediaError, MediaType};
///
/// assert!(check_media(MediaType::Document, "application/pdf", 250_000, false).is_ok());
/// let error = check_media(MediaType::Document, "application/pdf", 120_000_000, false).unwrap_err();
/// assert!(matches!(error, MediaError::TooLarge { limit: 100_000_000, .. }));
/// assert_eq!(error.to_string(), "a document may have at most 100 MB (100000000 bytes); this file has 120000000 bytes");
/// let error = check_media(MediaType::Image, "image/gif", 1_000, false).unwrap_err();
/// assert!(error.to_string().contains("image/jpeg, image/png"));
/// ```
pub fn check_media(
    media_type: MediaType,
    mime: &str,
    size: u64,
    animated: bool,
) -> Result<(), MediaError> {
    check_mime(media_type, mime)?;
    if size == 0 {
        return Err(MediaError::Empty { media_type });
    }
    let limit = media_type.limit().max_bytes(animated);
    if size > limit {
        return Err(MediaError::TooLarge {
            media_type,
            size,
            limit,
        });
    }
    Ok(())
}

/// Checks only the MIME type (what can be known before the bytes are read).
pub(crate) fn check_mime(media_type: MediaType, mime: &str) -> Result<(), MediaError> {
    if media_type.limit().accepts(mime) {
        Ok(())
    } else {
        Err(MediaError::UnsupportedType {
            media_type,
            mime: mime.to_owned(),
            allowed: media_type.limit().mime_types.join(", "),
        })
    }
}

/// `type/subtype` of a MIME type, lower-case, without parameters.
pub(crate) fn mime_essence(mime: &str) -> String {
    mime.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// File extensions and the MIME types WhatsApp knows them by.
const EXTENSIONS: &[(&str, &str)] = &[
    ("pdf", "application/pdf"),
    ("txt", "text/plain"),
    ("xls", "application/vnd.ms-excel"),
    (
        "xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ),
    ("doc", "application/msword"),
    (
        "docx",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ),
    ("ppt", "application/vnd.ms-powerpoint"),
    (
        "pptx",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("png", "image/png"),
    ("webp", "image/webp"),
    ("mp4", "video/mp4"),
    ("3gp", "video/3gpp"),
    ("aac", "audio/aac"),
    ("amr", "audio/amr"),
    ("mp3", "audio/mpeg"),
    ("m4a", "audio/mp4"),
    ("ogg", "audio/ogg"),
    ("opus", "audio/ogg"),
    // Common types WhatsApp does not take, so that a file named like one is refused before
    // any request rather than by Meta.
    ("gif", "image/gif"),
    ("heic", "image/heic"),
    ("bmp", "image/bmp"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("svg", "image/svg+xml"),
    ("mov", "video/quicktime"),
    ("webm", "video/webm"),
    ("avi", "video/x-msvideo"),
    ("wav", "audio/wav"),
    ("csv", "text/csv"),
    ("rtf", "application/rtf"),
    ("odt", "application/vnd.oasis.opendocument.text"),
    ("zip", "application/zip"),
    ("html", "text/html"),
];

/// The MIME type of a file name by its extension: the types WhatsApp accepts and common
/// ones it does not (so those can be refused by name).
///
/// ```
/// use hubflow::whatsapp::media::mime_for_filename;
/// assert_eq!(mime_for_filename("reports/OT-1021.PDF"), Some("application/pdf"));
/// assert_eq!(mime_for_filename("photo"), None);
/// ```
pub fn mime_for_filename(name: &str) -> Option<&'static str> {
    let (_, extension) = base_name(name).rsplit_once('.')?;
    EXTENSIONS
        .iter()
        .find(|(ext, _)| ext.eq_ignore_ascii_case(extension))
        .map(|(_, mime)| *mime)
}

/// The usual file extension for a MIME type, without the dot.
///
/// ```
/// use hubflow::whatsapp::media::extension_for_mime;
/// assert_eq!(extension_for_mime("audio/ogg; codecs=opus"), Some("ogg"));
/// assert_eq!(extension_for_mime("image/jpeg"), Some("jpg"));
/// ```
pub fn extension_for_mime(mime: &str) -> Option<&'static str> {
    let essence = mime_essence(mime);
    EXTENSIONS
        .iter()
        .find(|(_, m)| *m == essence)
        .map(|(ext, _)| *ext)
}

/// The last segment of a path-like reference (`reports/OT-1021.pdf` → `OT-1021.pdf`).
pub(crate) fn base_name(reference: &str) -> &str {
    reference.rsplit(['/', '\\']).next().unwrap_or(reference)
}

#[cfg(test)]
mod tests;
