//! Sending files the host has: the provider port, the upload request, and the upload step
//! of [`WhatsAppTarget`](crate::whatsapp::WhatsAppTarget).

use std::collections::HashMap;
use std::fmt;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::limits::{base_name, check_mime, mime_for_filename, TEMPLATE_DOCUMENT_MIME};
use super::multipart::{form, FilePart};
use super::{check_media, MediaError, MediaType, MEDIA_LIMITS};
use crate::adapters::shared::client::{Failure, SendError};
use crate::http::{HttpError, HttpRequest, Method};
use crate::whatsapp::{provider_error, WhatsAppConnection};
use crate::Context;

/// A file to upload: its bytes, the name it is uploaded under and its MIME type.
///
/// `Debug` shows the size, not the bytes.
#[derive(Clone, PartialEq)]
pub struct MediaFile {
    /// The content (cheap to clone).
    pub data: Bytes,
    /// The file name (documents show it to the recipient unless the payload sets one).
    pub filename: String,
    /// The MIME type, e.g. `application/pdf`.
    pub mime_type: String,
}

impl MediaFile {
    /// A file from its bytes, name and MIME type.
    pub fn new(
        data: impl Into<Bytes>,
        filename: impl Into<String>,
        mime_type: impl Into<String>,
    ) -> Self {
        MediaFile {
            data: data.into(),
            filename: filename.into(),
            mime_type: mime_type.into(),
        }
    }

    /// The size in bytes.
    pub fn size(&self) -> u64 {
        // A slice length always fits in a u64 on the platforms Rust supports.
        self.data.len() as u64
    }
}

impl fmt::Debug for MediaFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MediaFile")
            .field("filename", &self.filename)
            .field("mime_type", &self.mime_type)
            .field("size", &self.data.len())
            .finish()
    }
}

/// The host's files, by reference: where [`WhatsAppTarget`](crate::whatsapp::WhatsAppTarget)
/// gets the bytes of a payload's `"file": "reports/OT-1021.pdf"`.
///
/// A mapped payload names a file; it never carries the bytes, so a prepared request stays a
/// small value a dry run can show. Implement this over the host's document store, a folder
/// or a database; [`MemoryMedia`] keeps files in memory.
///
/// Return [`MediaError::NotFound`] for an unknown reference (the record fails, permanently)
/// and [`MediaError::Unavailable`] when the store cannot answer now (retried). For a folder,
/// [`DirectoryMedia`] does it all.
///
/// A provider over the host's document service, which renders a work order's report on
/// demand (here a stand-in for it):
///
/// ```
/// use async_trait::async_trait;
/// use hubflow::whatsapp::media::{MediaError, MediaFile, MediaProvider};
///
/// /// `reports/<folio>.pdf`, rendered by the ERP when asked.
/// struct Reports;
///
/// impl Reports {
///     fn render(&self, folio: &str) -> Option<Vec<u8>> {
///         folio.starts_with("OT-").then(|| format!("%PDF-1.4 report {folio}").into_bytes())
///     }
/// }
///
/// #[async_trait]
/// impl MediaProvider for Reports {
///     async fn fetch(&self, reference: &str) -> Result<MediaFile, MediaError> {
///         let folio = reference.strip_prefix("reports/").and_then(|r| r.strip_suffix(".pdf"));
///         match folio.and_then(|folio| self.render(folio)) {
///             Some(bytes) => Ok(MediaFile::new(bytes, format!("{}.pdf", folio.unwrap_or_default()), "application/pdf")),
///             None => Err(MediaError::NotFound { reference: reference.to_owned() }),
///         }
///     }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let file = Reports.fetch("reports/OT-1021.pdf").await.unwrap();
/// assert_eq!((file.filename.as_str(), file.mime_type.as_str()), ("OT-1021.pdf", "application/pdf"));
/// assert!(matches!(Reports.fetch("invoices/9.pdf").await, Err(MediaError::NotFound { .. })));
/// # });
/// ```
#[async_trait]
pub trait MediaProvider: Send + Sync {
    /// The file `reference` names.
    async fn fetch(&self, reference: &str) -> Result<MediaFile, MediaError>;
}

#[async_trait]
impl<P: MediaProvider + ?Sized> MediaProvider for Arc<P> {
    async fn fetch(&self, reference: &str) -> Result<MediaFile, MediaError> {
        (**self).fetch(reference).await
    }
}

/// A [`MediaProvider`] over files held in memory, by reference. Clones share the files.
///
/// ```
/// use hubflow::whatsapp::media::{MediaFile, MediaProvider, MemoryMedia};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let media = MemoryMedia::new();
/// media.insert("reports/OT-1021.pdf", MediaFile::new(&b"%PDF-1.4"[..], "OT-1021.pdf", "application/pdf"));
/// assert_eq!(media.fetch("reports/OT-1021.pdf").await.unwrap().size(), 8);
/// assert!(media.fetch("reports/missing.pdf").await.is_err());
/// # });
/// ```
#[derive(Clone, Default)]
pub struct MemoryMedia {
    files: Arc<Mutex<HashMap<String, MediaFile>>>,
}

impl MemoryMedia {
    /// No files.
    pub fn new() -> Self {
        MemoryMedia::default()
    }

    /// Adds or replaces the file under `reference`.
    pub fn insert(&self, reference: impl Into<String>, file: MediaFile) {
        self.lock().insert(reference.into(), file);
    }

    /// Removes the file under `reference`.
    pub fn remove(&self, reference: &str) -> Option<MediaFile> {
        self.lock().remove(reference)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, MediaFile>> {
        // The map is left consistent by every operation; a panic elsewhere cannot break it.
        self.files.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for MemoryMedia {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryMedia")
            .field("files", &self.lock().len())
            .finish()
    }
}

#[async_trait]
impl MediaProvider for MemoryMedia {
    async fn fetch(&self, reference: &str) -> Result<MediaFile, MediaError> {
        self.lock()
            .get(reference)
            .cloned()
            .ok_or_else(|| MediaError::NotFound {
                reference: reference.to_owned(),
            })
    }
}

/// A [`MediaProvider`] over a folder: a reference is a path relative to it
/// (`reports/OT-1021.pdf`), the file's name is the path's last part and its MIME type comes
/// from its extension ([`mime_for_filename`](super::mime_for_filename);
/// `application/octet-stream` when the extension is unknown, which WhatsApp's checks then
/// refuse with the type named).
///
/// A payload's reference is data a mapping made, so it is not trusted: a reference that is
/// absolute, climbs out (`..`), or resolves outside the folder through a symbolic link is
/// [`MediaError::NotFound`], as is a missing file. A file larger than WhatsApp accepts for
/// any media type is [`MediaError::TooLarge`] before it is read; a file that cannot be read
/// now is [`MediaError::Unavailable`] (retried).
///
/// Files are read with `std::fs`, so the task blocks for the read: right for the reports
/// and documents an ERP sends (kilobytes to a few megabytes); a host that sends large
/// videos from a busy async runtime implements [`MediaProvider`] over its runtime's file
/// API instead.
///
/// ```
/// use hubflow::whatsapp::media::{DirectoryMedia, MediaError, MediaProvider};
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let outbox = std::env::temp_dir().join(format!("hubflow-doc-outbox-{}", std::process::id()));
/// std::fs::create_dir_all(outbox.join("reports")).unwrap();
/// std::fs::write(outbox.join("reports/OT-1021.pdf"), b"%PDF-1.4").unwrap();
///
/// let media = DirectoryMedia::new(&outbox);
/// let file = media.fetch("reports/OT-1021.pdf").await.unwrap();
/// assert_eq!((file.filename.as_str(), file.mime_type.as_str(), file.size()), ("OT-1021.pdf", "application/pdf", 8));
/// assert!(matches!(media.fetch("../../etc/passwd").await, Err(MediaError::NotFound { .. })));
/// std::fs::remove_dir_all(outbox).unwrap();
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct DirectoryMedia {
    dir: PathBuf,
}

impl DirectoryMedia {
    /// Files under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirectoryMedia { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file `reference` names, if it is inside the folder.
    fn locate(&self, reference: &str) -> Result<PathBuf, MediaError> {
        let not_found = || MediaError::NotFound {
            reference: reference.to_owned(),
        };
        let relative = Path::new(reference);
        // Only plain names: no root, no drive prefix, no `.` or `..`.
        if reference.is_empty()
            || !relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(not_found());
        }
        let unavailable = |e: std::io::Error| MediaError::Unavailable {
            reference: reference.to_owned(),
            message: e.to_string(),
        };
        let root = std::fs::canonicalize(&self.dir).map_err(unavailable)?;
        // A symbolic link inside the folder may point anywhere: the resolved path decides.
        let path = match std::fs::canonicalize(root.join(relative)) {
            Ok(path) => path,
            Err(e) if e.kind() == ErrorKind::NotFound => return Err(not_found()),
            Err(e) => return Err(unavailable(e)),
        };
        if !path.starts_with(&root) {
            return Err(not_found());
        }
        Ok(path)
    }
}

#[async_trait]
impl MediaProvider for DirectoryMedia {
    async fn fetch(&self, reference: &str) -> Result<MediaFile, MediaError> {
        let path = self.locate(reference)?;
        let unavailable = |e: std::io::Error| MediaError::Unavailable {
            reference: reference.to_owned(),
            message: e.to_string(),
        };
        let metadata = std::fs::metadata(&path).map_err(unavailable)?;
        if !metadata.is_file() {
            return Err(MediaError::NotFound {
                reference: reference.to_owned(),
            });
        }
        let largest = MEDIA_LIMITS
            .iter()
            .map(|limit| limit.max_bytes(true).max(limit.max_bytes(false)))
            .max()
            .unwrap_or(0);
        if metadata.len() > largest {
            return Err(MediaError::TooLarge {
                media_type: MediaType::Document,
                size: metadata.len(),
                limit: largest,
            });
        }
        let data = std::fs::read(&path).map_err(unavailable)?;
        let filename = base_name(reference).to_owned();
        let mime = mime_for_filename(&filename).unwrap_or("application/octet-stream");
        Ok(MediaFile::new(data, filename, mime))
    }
}

/// The upload request for `file` as `media_type`: `POST /{version}/{phone-number-id}/media`,
/// a `multipart/form-data` body with `messaging_product`, `type` and `file`. The file is
/// checked against WhatsApp's limits ([`check_media`]) first, so a file Meta would refuse is
/// refused here, without a request.
///
/// ```
/// use hubflow::whatsapp::WhatsAppConnection;
/// use hubflow::whatsapp::media::{upload_request, MediaError, MediaFile, MediaType};
/// use secrecy::SecretString;
///
/// let connection = WhatsAppConnection::new("106540352242922", SecretString::from("EAAG…"));
/// let pdf = MediaFile::new(&b"%PDF-1.4"[..], "OT-1021.pdf", "application/pdf");
/// let request = upload_request(&connection, MediaType::Document, &pdf).unwrap();
/// assert_eq!(request.url.as_str(), "https://graph.facebook.com/v23.0/106540352242922/media");
/// assert!(request.headers.get("content-type").unwrap().starts_with("multipart/form-data; boundary="));
///
/// let huge = MediaFile::new(vec![0u8; 6_000_000], "photo.png", "image/png");
/// assert!(matches!(upload_request(&connection, MediaType::Image, &huge), Err(MediaError::TooLarge { .. })));
/// ```
pub fn upload_request(
    connection: &WhatsAppConnection,
    media_type: MediaType,
    file: &MediaFile,
) -> Result<HttpRequest, MediaError> {
    check_media(media_type, &file.mime_type, file.size(), false)?;
    let form = form(
        &[("messaging_product", "whatsapp"), ("type", &file.mime_type)],
        &FilePart {
            field: "file",
            filename: &file.filename,
            mime: &file.mime_type,
            data: &file.data,
        },
    );
    let mut request = HttpRequest::new(
        Method::Post,
        connection.endpoint(&[connection.phone_number_id(), "media"]),
    )
    .header("Content-Type", form.content_type);
    request.body = Bytes::from(form.body);
    Ok(request)
}

/// Uploads `file` as `media_type` and returns WhatsApp's media id, to send by `id` (Meta
/// keeps uploaded media for about 30 days). Checked first, like [`upload_request`]; a Meta
/// error is classified like any Graph error.
pub async fn upload(
    ctx: &Context,
    connection: &WhatsAppConnection,
    media_type: MediaType,
    file: &MediaFile,
) -> Result<String, MediaError> {
    let request = upload_request(connection, media_type, file)?;
    let response = connection
        .api()
        .send(ctx, &request, None)
        .await
        .map_err(media_error)?;
    if !response.is_success() {
        return Err(provider_error(&response, ctx.clock().now()).into());
    }
    #[derive(Deserialize)]
    struct Uploaded {
        id: String,
    }
    match serde_json::from_slice::<Uploaded>(&response.body) {
        Ok(Uploaded { id }) if !id.trim().is_empty() => Ok(id),
        _ => Err(MediaError::Response {
            status: response.status,
            message: format!("no media id in `{}`", response.body_excerpt(200)),
        }),
    }
}

/// The key of a pending upload inside a media object of a prepared send body.
/// A failed send of a media request, as a [`MediaError`].
pub(crate) fn media_error(error: SendError) -> MediaError {
    match error.into_failure(crate::whatsapp::error::PROVIDER) {
        Failure::Transport(e) => MediaError::Transport(e),
        Failure::Provider(e) => e.into(),
        Failure::Config(message) => MediaError::Transport(HttpError::InvalidRequest(message)),
    }
}

pub(crate) const UPLOAD_KEY: &str = "upload";

/// `"upload":`, the [`UPLOAD_KEY`] key as serde_json writes it.
const UPLOAD_PATTERN: &[u8] = b"\"upload\":";

/// Whether a message serialized as JSON may name a file to upload: it has an
/// [`UPLOAD_KEY`] key. A string cannot hold the pattern (its quotes would be escaped), so
/// `false` is sure; `true` sends the body to [`pending_uploads`] to find out.
pub(crate) fn may_upload(json: &[u8]) -> bool {
    json.windows(UPLOAD_PATTERN.len())
        .any(|window| window == UPLOAD_PATTERN)
}

/// A media object in a prepared send body that names a host file instead of an `id`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct PendingUpload {
    /// JSON pointer of the media object (`/document`, `/template/components/0/parameters/0/document`).
    pub pointer: String,
    /// The payload field the file came from, for error messages.
    pub field: &'static str,
    /// The media type.
    pub media_type: MediaType,
    /// Whether this is a template header (documents must then be PDF).
    pub template_header: bool,
    /// The host's reference.
    pub file: String,
    /// The MIME type the payload gave or the file name implies, if any.
    pub mime_type: Option<String>,
}

/// Every media object with an `upload` in a send body: the message's own media, or a
/// template header's.
pub(crate) fn pending_uploads(body: &Value) -> Vec<PendingUpload> {
    let mut found = Vec::new();
    let mut visit = |pointer: String, field, media_type, template_header| {
        let Some(upload) = body.pointer(&pointer).and_then(|m| m.get(UPLOAD_KEY)) else {
            return;
        };
        let text = |key: &str| upload.get(key).and_then(Value::as_str).map(str::to_owned);
        found.push(PendingUpload {
            pointer,
            field,
            media_type,
            template_header,
            file: text("file").unwrap_or_default(),
            mime_type: text("mime_type"),
        });
    };
    let kind = body.get("type").and_then(Value::as_str).unwrap_or("");
    if let Some(media_type) = MediaType::parse(kind) {
        visit(format!("/{kind}"), "file", media_type, false);
    }
    if kind == "template" {
        let components = body
            .pointer("/template/components")
            .and_then(Value::as_array);
        for (c, component) in components.into_iter().flatten().enumerate() {
            if component.get("type").and_then(Value::as_str) != Some("header") {
                continue;
            }
            let parameters = component.get("parameters").and_then(Value::as_array);
            for (p, parameter) in parameters.into_iter().flatten().enumerate() {
                let kind = parameter.get("type").and_then(Value::as_str).unwrap_or("");
                if let Some(media_type) = MediaType::parse(kind) {
                    visit(
                        format!("/template/components/{c}/parameters/{p}/{kind}"),
                        "header.file",
                        media_type,
                        true,
                    );
                }
            }
        }
    }
    found
}

/// The `upload` object a payload's `file` becomes in the prepared body, after checking what
/// can be checked without the bytes: the reference and, when known, the MIME type.
pub(crate) fn pending_upload_object(
    field_prefix: &str,
    reference: &str,
    mime_type: Option<&str>,
    media_type: MediaType,
    template_header: bool,
) -> Result<Value, crate::TargetError> {
    let field = format!("{field_prefix}file");
    let reference = reference.trim();
    if reference.chars().any(char::is_control) || reference.chars().count() > 1024 {
        return Err(crate::TargetError::field(
            field,
            "a file reference is one line of at most 1024 characters",
        ));
    }
    let mime = mime_type
        .map(str::trim)
        .or_else(|| super::mime_for_filename(reference));
    if let Some(mime) = mime {
        check_upload_mime(media_type, template_header, mime).map_err(|e| {
            let field = if mime_type.is_some() {
                format!("{field_prefix}mime_type")
            } else {
                field.clone()
            };
            crate::TargetError::field(field, e.to_string())
        })?;
    }
    let mut upload = Map::new();
    upload.insert("file".to_owned(), json!(reference));
    if let Some(mime) = mime {
        upload.insert("mime_type".to_owned(), json!(mime));
    }
    Ok(Value::Object(upload))
}

/// The MIME check for an upload: the media type's list, or PDF only in a template header.
fn check_upload_mime(
    media_type: MediaType,
    template_header: bool,
    mime: &str,
) -> Result<(), MediaError> {
    if template_header
        && media_type == MediaType::Document
        && super::limits::mime_essence(mime) != TEMPLATE_DOCUMENT_MIME
    {
        return Err(MediaError::UnsupportedType {
            media_type,
            mime: mime.to_owned(),
            allowed: format!("{TEMPLATE_DOCUMENT_MIME} (templates take only PDF documents)"),
        });
    }
    check_mime(media_type, mime)
}

/// The upload step of a send: fetches every pending file from `provider`, checks them all
/// (so nothing is uploaded when any of them breaks a limit), uploads them, and puts each
/// media id where its `upload` object was. Returns what was uploaded, for the receipt.
pub(crate) async fn upload_pending(
    ctx: &Context,
    connection: &WhatsAppConnection,
    provider: &dyn MediaProvider,
    body: &mut Value,
    pending: Vec<PendingUpload>,
) -> Result<Vec<Value>, crate::DeliveryError> {
    let mut files = Vec::with_capacity(pending.len());
    for upload in pending {
        let fail = |e: MediaError| e.into_delivery_error(upload.field);
        let mut file = provider.fetch(&upload.file).await.map_err(fail)?;
        if let Some(mime) = &upload.mime_type {
            file.mime_type = mime.clone();
        }
        if file.filename.trim().is_empty() {
            file.filename = base_name(&upload.file).to_owned();
        }
        check_upload_mime(upload.media_type, upload.template_header, &file.mime_type)
            .and_then(|()| check_media(upload.media_type, &file.mime_type, file.size(), false))
            .map_err(fail)?;
        files.push((upload, file));
    }
    let mut uploaded = Vec::with_capacity(files.len());
    for (upload, file) in files {
        let id = self::upload(ctx, connection, upload.media_type, &file)
            .await
            .map_err(|e| e.into_delivery_error(upload.field))?;
        if let Some(Value::Object(media)) = body.pointer_mut(&upload.pointer) {
            media.remove(UPLOAD_KEY);
            media.insert("id".to_owned(), json!(id));
        }
        uploaded.push(json!({
            "file": upload.file,
            "media_id": id,
            "mime_type": file.mime_type,
            "bytes": file.size(),
        }));
    }
    Ok(uploaded)
}

#[cfg(test)]
mod tests;
