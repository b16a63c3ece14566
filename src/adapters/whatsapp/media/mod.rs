//! WhatsApp media: send the host's own files, receive customers' attachments.
//!
//! # Sending files the host has
//!
//! A mapped payload names a file with `"file"` instead of a public `link` or an uploaded
//! `id`; the host's [`MediaProvider`] (given to the target with
//! [`WhatsAppTarget::media`](crate::whatsapp::WhatsAppTarget::media)) returns its bytes:
//!
//! ```json
//! {"to": "5511999991234", "file": "reports/OT-1021.pdf", "caption": "Work order OT-1021"}
//! ```
//!
//! `prepare` stays pure: the prepared body is the message with an `upload` object where
//! the media id will go, so a dry run shows what will be uploaded (reference, MIME type,
//! file name) but never the bytes:
//!
//! ```json
//! {"type": "document", "document": {"upload": {"file": "reports/OT-1021.pdf", "mime_type": "application/pdf"},
//!                                   "filename": "OT-1021.pdf", "caption": "Work order OT-1021"}, …}
//! ```
//!
//! `deliver` then fetches the file, checks it against WhatsApp's limits ([`MEDIA_LIMITS`],
//! before any request), uploads it (`POST /{phone-number-id}/media`, a multipart body built
//! here) and sends the message by id: one delivery, one outcome. A failed upload sends no
//! message and fails the record, classified like any Meta error. Template headers
//! (`"header": {"type": "document", "file": "…"}`) work the same way; outside a flow,
//! [`upload`] does the upload alone.
//!
//! # Receiving attachments
//!
//! [`download`] resolves a media id (`GET /{media-id}`: a five-minute URL, MIME type,
//! sha256, size) and streams the file into any [`std::io::Write`], with a size cap and the
//! sha256 verified; an expired URL is resolved again once. [`save_attachment`] does that
//! for a `whatsapp.message` record into an [`AttachmentSink`] ([`DirectorySink`] writes a
//! folder, metadata beside each file), and [`SaveMediaTarget`] is the same as a flow step,
//! so every attachment ends in an [`Outcome`](crate::Outcome).

mod download;
mod error;
mod limits;
mod multipart;
mod save;
mod upload;

pub use download::{download, resolve, resolve_request, Downloaded, MediaInfo};
pub use error::MediaError;
pub use limits::{
    check_media, extension_for_mime, mime_for_filename, MediaLimit, MediaType, MEDIA_LIMITS,
};
pub use save::{
    save_attachment, Attachment, AttachmentInfo, AttachmentSink, AttachmentWriter, DirectorySink,
    SaveAttachment, SaveMediaTarget, SavedAttachment, DEFAULT_MAX_DOWNLOAD,
};
pub use upload::{upload, upload_request, DirectoryMedia, MediaFile, MediaProvider, MemoryMedia};

pub(crate) use upload::{
    may_upload, pending_upload_object, pending_uploads, upload_pending, PendingUpload, UPLOAD_KEY,
};
