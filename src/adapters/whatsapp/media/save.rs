//! Received attachments into the host's store: the sink port, a folder sink, and the
//! `whatsapp.save_media` target.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::download::{download, resolve_request};
use super::{extension_for_mime, MediaError};
use crate::http::HttpRequest;
use crate::whatsapp::webhook::KIND_MESSAGE;
use crate::whatsapp::WhatsAppConnection;
use crate::{Context, DeliveryError, Receipt, Record, Target, TargetError};

/// The largest file WhatsApp carries (a 100 MB document): the default download cap.
pub const DEFAULT_MAX_DOWNLOAD: u64 = 100_000_000;

/// A received attachment, as known from its `whatsapp.message` record before download.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Attachment {
    /// The message's wamid.
    pub message_id: String,
    /// The business number that received it.
    #[serde(default)]
    pub phone_number_id: String,
    /// The sender's phone number (digits), or empty.
    #[serde(default)]
    pub from: String,
    /// The sender's profile name, if known.
    #[serde(default)]
    pub contact_name: Option<String>,
    /// When it was sent (RFC 3339), as in the record.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// `image`, `audio`, `video`, `document` or `sticker`.
    pub media_type: String,
    /// The media id to download.
    pub media_id: String,
    /// The MIME type the message announced.
    #[serde(default)]
    pub mime_type: Option<String>,
    /// The sha256 the message announced.
    #[serde(default)]
    pub sha256: Option<String>,
    /// The document's file name, as the sender's phone named it.
    #[serde(default)]
    pub filename: Option<String>,
    /// The caption.
    #[serde(default)]
    pub caption: Option<String>,
    /// What the flow mapped for this record, when it maps something other than the
    /// record's own data: kept beside the file (a work-order number, a customer code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Value>,
}

impl Attachment {
    /// The attachment of a `whatsapp.message` record (as made by
    /// [`webhook`](crate::whatsapp::webhook)), or why the record has none.
    ///
    /// ```
    /// use hubflow::whatsapp::media::Attachment;
    /// use hubflow::Record;
    /// use serde_json::json;
    ///
    /// let record = Record::new("wamid.HBgM", "whatsapp.message", json!({
    ///     "id": "wamid.HBgM", "from": "5511999991234", "type": "image", "media_id": "1037543291543636",
    ///     "text": "pump 3", "phone_number_id": "106540352242922",
    ///     "contact": {"name": "Jonas"},
    ///     "message": {"type": "image", "image": {"id": "1037543291543636", "mime_type": "image/jpeg", "sha256": "abc"}}
    /// }));
    /// let attachment = Attachment::from_record(&record).unwrap();
    /// assert_eq!((attachment.media_type.as_str(), attachment.mime_type.as_deref()), ("image", Some("image/jpeg")));
    ///
    /// let text = Record::new("wamid.X", "whatsapp.message", json!({"type": "text", "media_id": null}));
    /// assert!(Attachment::from_record(&text).is_err());
    /// ```
    pub fn from_record(record: &Record) -> Result<Attachment, MediaError> {
        if record.kind != KIND_MESSAGE {
            return Err(MediaError::NotMedia(format!(
                "the record is a `{}`, not a `{KIND_MESSAGE}`",
                record.kind
            )));
        }
        let data = &record.data;
        let text = |pointer: &str| {
            data.pointer(pointer)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let media_type = text("/type").unwrap_or_default();
        if super::MediaType::parse(&media_type).is_none() {
            return Err(MediaError::NotMedia(format!(
                "a `{media_type}` message has no attachment (give the flow a condition such as media_id ne null)"
            )));
        }
        let media_id = text("/media_id")
            .ok_or_else(|| MediaError::NotMedia("the message has no media id".to_owned()))?;
        let media = |key: &str| text(&format!("/message/{media_type}/{key}"));
        Ok(Attachment {
            message_id: text("/id").unwrap_or_else(|| record.key.clone()),
            phone_number_id: text("/phone_number_id").unwrap_or_default(),
            from: text("/from").unwrap_or_default(),
            contact_name: text("/contact/name"),
            timestamp: text("/timestamp"),
            mime_type: media("mime_type"),
            sha256: media("sha256"),
            filename: media("filename"),
            caption: media("caption"),
            media_type,
            media_id,
            fields: None,
        })
    }
}

/// A saved attachment's description: what is written beside the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct AttachmentInfo {
    /// What the message said.
    #[serde(flatten)]
    pub attachment: Attachment,
    /// The MIME type of the downloaded file (Meta's answer).
    pub downloaded_mime_type: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its sha256, lower-case hex, verified against Meta's.
    pub sha256_hex: String,
}

/// Where received attachments go: the host's store. [`DirectorySink`] writes to a folder.
///
/// A sink that keeps attachments in memory, keyed by message id, and only once they are
/// committed (the size cap and checksum passed):
///
/// ```
/// use std::collections::HashMap;
/// use std::io::{self, Write};
/// use std::sync::{Arc, Mutex};
/// use hubflow::whatsapp::media::{Attachment, AttachmentInfo, AttachmentSink, AttachmentWriter};
///
/// #[derive(Clone, Default)]
/// struct Inbox(Arc<Mutex<HashMap<String, Vec<u8>>>>);
///
/// struct Pending { inbox: Inbox, id: String, bytes: Vec<u8> }
///
/// impl Write for Pending {
///     fn write(&mut self, buf: &[u8]) -> io::Result<usize> { self.bytes.extend_from_slice(buf); Ok(buf.len()) }
///     fn flush(&mut self) -> io::Result<()> { Ok(()) }
/// }
///
/// impl AttachmentWriter for Pending {
///     fn commit(self: Box<Self>, _info: &AttachmentInfo) -> io::Result<String> {
///         self.inbox.0.lock().unwrap().insert(self.id.clone(), self.bytes);
///         Ok(format!("inbox:{}", self.id))
///     }
///     fn abort(self: Box<Self>) {}
/// }
///
/// impl AttachmentSink for Inbox {
///     fn open(&self, attachment: &Attachment) -> io::Result<Box<dyn AttachmentWriter>> {
///         Ok(Box::new(Pending { inbox: self.clone(), id: attachment.message_id.clone(), bytes: Vec::new() }))
///     }
/// }
///
/// let inbox = Inbox::default();
/// let attachment: Attachment = serde_json::from_value(serde_json::json!({
///     "message_id": "wamid.1", "media_type": "image", "media_id": "1013", "mime_type": "image/jpeg"
/// })).unwrap();
/// let mut writer = inbox.open(&attachment).unwrap();
/// writer.write_all(b"\xff\xd8").unwrap();
/// writer.abort();
/// assert!(inbox.0.lock().unwrap().is_empty(), "nothing counts until commit");
/// ```
pub trait AttachmentSink: Send + Sync {
    /// A writer for `attachment`'s bytes. Nothing written through it counts until
    /// [`AttachmentWriter::commit`].
    fn open(&self, attachment: &Attachment) -> io::Result<Box<dyn AttachmentWriter>>;
}

/// The bytes of one attachment on their way into a sink.
pub trait AttachmentWriter: Write + Send {
    /// Keeps the file (size cap and sha256 passed) with `info` beside it; returns where it
    /// is, for the receipt (a path, a database id).
    fn commit(self: Box<Self>, info: &AttachmentInfo) -> io::Result<String>;

    /// Throws away what was written (the download failed, was too large or corrupted).
    fn abort(self: Box<Self>);
}

/// An [`AttachmentSink`] that writes each attachment into a folder, with its metadata
/// beside it as JSON, the way ERP services that pick up files expect:
///
/// ```text
/// <dir>/<wamid>.<ext>        the file
/// <dir>/<wamid>.<ext>.json   its AttachmentInfo
/// ```
///
/// The file is written under a hidden temporary name and renamed when complete, after its
/// JSON; so a service watching the folder never sees a partial file or a file without its
/// metadata. The name comes from the wamid (characters other than letters, digits, `.`,
/// `-` and `_` become `_`), so saving the same message again replaces it. The extension is
/// the document's own (when it is short and plain) or the MIME type's.
#[derive(Debug, Clone)]
pub struct DirectorySink {
    dir: PathBuf,
}

impl DirectorySink {
    /// Writes into `dir`, which must exist.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        DirectorySink { dir: dir.into() }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file name `attachment` is saved under.
    pub fn file_name(attachment: &Attachment) -> String {
        let stem: String = attachment
            .message_id
            .chars()
            .take(120)
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let own = attachment
            .filename
            .as_deref()
            .and_then(|name| name.rsplit_once('.'))
            .map(|(_, ext)| ext)
            .filter(|ext| {
                (1..=8).contains(&ext.len()) && ext.chars().all(|c| c.is_ascii_alphanumeric())
            });
        let extension = own
            .map(str::to_ascii_lowercase)
            .or_else(|| {
                attachment
                    .mime_type
                    .as_deref()
                    .and_then(extension_for_mime)
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| "bin".to_owned());
        format!("{stem}.{extension}")
    }
}

impl AttachmentSink for DirectorySink {
    fn open(&self, attachment: &Attachment) -> io::Result<Box<dyn AttachmentWriter>> {
        let name = DirectorySink::file_name(attachment);
        let partial = self.dir.join(format!(".{name}.part"));
        let file = fs::File::create(&partial)?;
        Ok(Box::new(DirectoryWriter {
            file: io::BufWriter::new(file),
            partial,
            path: self.dir.join(&name),
        }))
    }
}

struct DirectoryWriter {
    file: io::BufWriter<fs::File>,
    partial: PathBuf,
    path: PathBuf,
}

impl Write for DirectoryWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl AttachmentWriter for DirectoryWriter {
    fn commit(self: Box<Self>, info: &AttachmentInfo) -> io::Result<String> {
        let DirectoryWriter {
            file,
            partial,
            path,
        } = *self;
        file.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
        let mut json_path = path.clone().into_os_string();
        json_path.push(".json");
        let json_path = PathBuf::from(json_path);
        let json_partial = partial.with_extension("json.part");
        let json = serde_json::to_vec_pretty(info).map_err(io::Error::other)?;
        fs::write(&json_partial, json)?;
        fs::rename(&json_partial, &json_path)?;
        fs::rename(&partial, &path)?;
        Ok(path.to_string_lossy().into_owned())
    }

    fn abort(self: Box<Self>) {
        drop(self.file);
        // Best effort: a leftover hidden `.part` file is harmless and replaced next time.
        let _ = fs::remove_file(&self.partial);
    }
}

/// What [`save_attachment`] did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SavedAttachment {
    /// What was written beside the file.
    pub info: AttachmentInfo,
    /// Where the sink put it.
    pub location: String,
    /// How many times the media id was resolved (2 when the first URL had expired).
    pub resolutions: u32,
}

/// Downloads `attachment` into `sink`, at most `max_bytes`, verified, and commits it with
/// its metadata; on any failure the sink's writer is aborted, so nothing partial stays.
pub async fn save_attachment(
    ctx: &Context,
    connection: &WhatsAppConnection,
    attachment: &Attachment,
    sink: &dyn AttachmentSink,
    max_bytes: u64,
) -> Result<SavedAttachment, MediaError> {
    let storage = |e: io::Error| MediaError::Unavailable {
        reference: attachment.message_id.clone(),
        message: e.to_string(),
    };
    let mut writer = sink.open(attachment).map_err(storage)?;
    let downloaded = match download(
        ctx,
        connection,
        &attachment.media_id,
        &mut writer,
        max_bytes,
    )
    .await
    {
        Ok(downloaded) => downloaded,
        Err(error) => {
            writer.abort();
            return Err(match error {
                MediaError::Transport(crate::http::HttpError::Sink(message)) => {
                    MediaError::Unavailable {
                        reference: attachment.message_id.clone(),
                        message,
                    }
                }
                other => other,
            });
        }
    };
    let info = AttachmentInfo {
        attachment: attachment.clone(),
        downloaded_mime_type: downloaded.media.mime_type.clone(),
        bytes: downloaded.bytes,
        sha256_hex: downloaded.sha256.clone(),
    };
    let location = writer.commit(&info).map_err(storage)?;
    Ok(SavedAttachment {
        info,
        location,
        resolutions: downloaded.resolutions,
    })
}

/// A flow step that saves every received attachment: kind `whatsapp.save_media`, for
/// flows over `whatsapp.message` records. Each attachment ends in an outcome like any
/// delivery: delivered (receipt id the media id, details with where it was saved, its
/// size and sha256), skipped as a duplicate when the webhook repeats, or failed with the
/// reason (retried when that may help).
///
/// `prepare` is pure: its request is the media-id lookup (`GET /{version}/{media-id}`,
/// token redacted in a dry run) and its body is the [`Attachment`] that `deliver` will
/// save (never sent: `deliver` sends the lookup without it, then downloads). Records
/// without media fail at `prepare`; give the flow a condition such as
/// `{"field": "media_id", "op": "ne", "value": null}`.
///
/// ```
/// use hubflow::whatsapp::WhatsAppConnection;
/// use hubflow::whatsapp::media::{DirectorySink, SaveMediaTarget};
/// use hubflow::{Flow, Plan, Record, Rule};
/// use secrecy::SecretString;
/// use serde_json::json;
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let ctx = hubflow::Context::new(hubflow::http::RecordingClient::new(), hubflow::ManualClock::new(chrono::Utc::now()), hubflow::MemoryStore::new());
///
/// let connection = WhatsAppConnection::new("106540352242922", SecretString::from("EAAG…"));
/// let flow = Flow::builder("save-attachments")
///     .when(Rule::parse(&json!({"field": "media_id", "op": "ne", "value": null})).unwrap())
///     .target(SaveMediaTarget::new(connection, DirectorySink::new("/var/erp/inbox")))
///     .build()
///     .unwrap();
/// let record = Record::new("wamid.HBgM", "whatsapp.message", json!({
///     "id": "wamid.HBgM", "type": "document", "media_id": "99", "phone_number_id": "106540352242922",
///     "message": {"document": {"id": "99", "filename": "foto.pdf", "mime_type": "application/pdf"}}
/// }));
/// let Plan::Send(action) = flow.plan(&ctx, &record).await.unwrap() else { unreachable!() };
/// let shown = action.to_json();
/// assert_eq!(shown["lookup"]["url"], "https://graph.facebook.com/v23.0/99?phone_number_id=106540352242922");
/// assert_eq!(shown["attachment"]["filename"], "foto.pdf");
/// # });
/// ```
#[derive(Clone)]
pub struct SaveMediaTarget {
    connection: Arc<WhatsAppConnection>,
    sink: Arc<dyn AttachmentSink>,
    max_bytes: u64,
}

impl SaveMediaTarget {
    /// Saves attachments received on `connection`'s number into `sink`.
    pub fn new(connection: WhatsAppConnection, sink: impl AttachmentSink + 'static) -> Self {
        SaveMediaTarget::from_arc(connection, Arc::new(sink))
    }

    /// As [`new`](SaveMediaTarget::new), with a shared sink.
    pub fn from_arc(connection: WhatsAppConnection, sink: Arc<dyn AttachmentSink>) -> Self {
        SaveMediaTarget {
            connection: Arc::new(connection),
            sink,
            max_bytes: DEFAULT_MAX_DOWNLOAD,
        }
    }

    /// The largest file to download (100 MB by default); a larger one fails the record.
    #[must_use]
    pub fn max_bytes(mut self, max_bytes: u64) -> Self {
        self.max_bytes = max_bytes;
        self
    }
}

impl fmt::Debug for SaveMediaTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SaveMediaTarget")
            .field("connection", &self.connection)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

/// What [`SaveMediaTarget`] prepares: the media-id lookup (`GET /{version}/{media-id}`),
/// after which the file is downloaded from the URL it answers (verified against its sha256)
/// and handed to the sink with this attachment's metadata.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct SaveAttachment {
    /// The lookup request; the download URL comes from its answer.
    pub lookup: HttpRequest,
    /// What is saved with the file.
    pub attachment: Attachment,
}

impl crate::Action for SaveAttachment {}

#[async_trait]
impl Target for SaveMediaTarget {
    type Action = SaveAttachment;

    fn prepare(&self, record: &Record, payload: &Value) -> Result<SaveAttachment, TargetError> {
        let mut attachment = Attachment::from_record(record)
            .map_err(|e| TargetError::InvalidPayload(e.to_string()))?;
        if !attachment.phone_number_id.is_empty()
            && attachment.phone_number_id != self.connection.phone_number_id()
        {
            return Err(TargetError::InvalidPayload(format!(
                "the message arrived at phone number id {}, but this connection is for {}: route it to that number's connection",
                attachment.phone_number_id,
                self.connection.phone_number_id()
            )));
        }
        if payload != &record.data && !payload.is_null() {
            attachment.fields = Some(payload.clone());
        }
        Ok(SaveAttachment {
            lookup: resolve_request(&self.connection, &attachment.media_id),
            attachment,
        })
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        action: &SaveAttachment,
    ) -> Result<Receipt, DeliveryError> {
        let attachment = &action.attachment;
        let saved = save_attachment(
            ctx,
            &self.connection,
            attachment,
            &*self.sink,
            self.max_bytes,
        )
        .await
        .map_err(|e| e.into_delivery_error("media_id"))?;
        Ok(Receipt::new(200)
            .with_id(attachment.media_id.clone())
            .with_details(serde_json::json!({
                "location": saved.location,
                "bytes": saved.info.bytes,
                "sha256": saved.info.sha256_hex,
                "mime_type": saved.info.downloaded_mime_type,
                "resolutions": saved.resolutions,
            })))
    }

    fn fakes(&self) -> Vec<std::sync::Arc<dyn crate::http::ProviderFake>> {
        vec![std::sync::Arc::new(
            crate::whatsapp::fake::WhatsAppFake::new(),
        )]
    }
}
