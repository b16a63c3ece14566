//! Receiving files: resolving a media id and downloading it, checked.

use std::fmt;
use std::io::Write;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use url::Url;

use super::upload::media_error;
use super::MediaError;
use crate::http::{HttpRequest, Method, StreamedResponse};
use crate::whatsapp::{provider_error, WhatsAppConnection};
use crate::Context;

/// What `GET /{version}/{media-id}` says about a media file. The URL is valid for about
/// five minutes and only with the access token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MediaInfo {
    /// The media id.
    pub id: String,
    /// Where to download it (with the token), for about five minutes.
    pub url: Url,
    /// The MIME type.
    pub mime_type: String,
    /// The sha256 of the file, as Meta gives it (hex, or base64 in some answers).
    pub sha256: String,
    /// The size in bytes, when given (Meta sends it as a string).
    pub file_size: Option<u64>,
}

/// The download URL carries a signature in its query; shown without it.
impl fmt::Debug for MediaInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut url = self.url.clone();
        url.set_query(None);
        f.debug_struct("MediaInfo")
            .field("id", &self.id)
            .field("url", &url.as_str())
            .field("mime_type", &self.mime_type)
            .field("sha256", &self.sha256)
            .field("file_size", &self.file_size)
            .finish()
    }
}

/// The request that resolves `media_id`: `GET /{version}/{media-id}?phone_number_id=…`
/// (the number makes Meta check that the media belongs to it). It carries no credentials: the
/// connection's send path adds them.
pub fn resolve_request(connection: &WhatsAppConnection, media_id: &str) -> HttpRequest {
    let mut url = connection.endpoint(&[media_id]);
    url.query_pairs_mut()
        .append_pair("phone_number_id", connection.phone_number_id());
    HttpRequest::new(Method::Get, url)
}

/// Resolves `media_id` into its short-lived URL, MIME type, sha256 and size.
pub async fn resolve(
    ctx: &Context,
    connection: &WhatsAppConnection,
    media_id: &str,
) -> Result<MediaInfo, MediaError> {
    let media_id = media_id.trim();
    if media_id.is_empty()
        || media_id.contains(['/', '?', '#'])
        || media_id.contains(char::is_whitespace)
    {
        return Err(MediaError::NotMedia(format!(
            "`{media_id}` is not a media id"
        )));
    }
    let response = connection
        .api()
        .send(ctx, &resolve_request(connection, media_id), None)
        .await
        .map_err(media_error)?;
    if !response.is_success() {
        return Err(provider_error(&response, ctx.clock().now()).into());
    }
    parse_media_info(&response.body, response.status, media_id)
}

fn parse_media_info(body: &[u8], status: u16, media_id: &str) -> Result<MediaInfo, MediaError> {
    #[derive(Deserialize)]
    struct Wire {
        #[serde(default)]
        id: Option<String>,
        url: String,
        #[serde(default)]
        mime_type: Option<String>,
        #[serde(default)]
        sha256: Option<String>,
        #[serde(default)]
        file_size: Option<serde_json::Value>,
    }
    let unreadable = |message: String| MediaError::Response { status, message };
    let wire: Wire = serde_json::from_slice(body)
        .map_err(|e| unreadable(format!("not a media URL answer: {e}")))?;
    let url =
        Url::parse(&wire.url).map_err(|_| unreadable("the media URL is not a URL".to_owned()))?;
    let sha256 = wire
        .sha256
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| unreadable("no sha256 to verify the download against".to_owned()))?;
    // `file_size` is a string in Meta's examples and a number in some answers.
    let file_size = match wire.file_size {
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        _ => None,
    };
    Ok(MediaInfo {
        id: wire.id.unwrap_or_else(|| media_id.to_owned()),
        url,
        mime_type: wire.mime_type.unwrap_or_default(),
        sha256,
        file_size,
    })
}

/// What [`download`] received.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct Downloaded {
    /// The media as last resolved.
    pub media: MediaInfo,
    /// Bytes written to the sink.
    pub bytes: u64,
    /// Their sha256, lower-case hex (it matched `media.sha256`).
    pub sha256: String,
    /// How many times the media id was resolved: 2 when the first URL had expired.
    pub resolutions: u32,
}

/// Statuses the media CDN answers for an expired or revoked URL: resolve again.
const EXPIRED: [u16; 4] = [401, 403, 404, 410];

/// Resolves `media_id` and downloads the file into `sink`, at most `max_bytes` of it,
/// verifying its sha256.
///
/// * The download carries the token, as Meta requires; the URL must use https unless the
///   connection's own base URL does not (a local stand-in).
/// * An expired URL (401, 403, 404 or 410 from the CDN) is resolved again once; nothing is
///   written to `sink` for such an answer.
/// * A file larger than `max_bytes` (announced or received) is [`MediaError::OverCap`];
///   bytes that do not hash to Meta's sha256 are [`MediaError::Checksum`]. In both cases
///   part or all of the file may already be in `sink`: discard it. ([`save_attachment`]
///   does that for you.)
///
/// [`save_attachment`]: super::save_attachment
pub async fn download(
    ctx: &Context,
    connection: &WhatsAppConnection,
    media_id: &str,
    sink: &mut (dyn Write + Send),
    max_bytes: u64,
) -> Result<Downloaded, MediaError> {
    let mut media = resolve(ctx, connection, media_id).await?;
    let mut resolutions = 1;
    let (bytes, actual) = match fetch(ctx, connection, &media, &mut *sink, max_bytes).await? {
        Ok(done) => done,
        Err(head) if EXPIRED.contains(&head.status) => {
            media = resolve(ctx, connection, media_id).await?;
            resolutions += 1;
            match fetch(ctx, connection, &media, sink, max_bytes).await? {
                Ok(done) => done,
                Err(head) => {
                    return Err(provider_error(&head.to_response(), ctx.clock().now()).into())
                }
            }
        }
        Err(head) => return Err(provider_error(&head.to_response(), ctx.clock().now()).into()),
    };
    if !same_sha256(&media.sha256, &actual) {
        return Err(MediaError::Checksum {
            expected: media.sha256,
            actual,
        });
    }
    Ok(Downloaded {
        media,
        bytes,
        sha256: actual,
        resolutions,
    })
}

/// One GET of the media URL: the bytes written and their sha256 (hex), or the head of an
/// error answer (nothing written).
async fn fetch(
    ctx: &Context,
    connection: &WhatsAppConnection,
    media: &MediaInfo,
    sink: &mut (dyn Write + Send),
    max_bytes: u64,
) -> Result<Result<(u64, String), StreamedResponse>, MediaError> {
    check_url(connection, &media.url)?;
    if media.file_size.is_some_and(|size| size > max_bytes) {
        return Err(MediaError::OverCap { limit: max_bytes });
    }
    // The media URL is on Meta's CDN, outside the base URL, and Meta asks for the token
    // there too: it was handed out in an authenticated answer and must be https (above).
    let authorization = connection
        .api()
        .credentials()
        .authorization(ctx)
        .await
        .map_err(|e| media_error(e.into()))?;
    let request = connection.api().authorized(
        &HttpRequest::new(Method::Get, media.url.clone()),
        &authorization,
    );
    let mut hashing = Hashing {
        inner: sink,
        hasher: Sha256::new(),
    };
    let head = ctx
        .http()
        .send_to(&request, &mut hashing, max_bytes)
        .await?;
    if !head.is_success() {
        return Ok(Err(head));
    }
    Ok(Ok((head.written, hex::encode(hashing.hasher.finalize()))))
}

/// The token goes with the download, so the URL must not downgrade to plain http: https
/// is required unless the connection itself talks plain http (a local stand-in).
fn check_url(connection: &WhatsAppConnection, url: &Url) -> Result<(), MediaError> {
    let allowed = url.scheme() == "https"
        || (url.scheme() == "http" && connection.endpoint(&[]).scheme() == "http");
    if allowed {
        Ok(())
    } else {
        Err(MediaError::Response {
            status: 200,
            message: format!(
                "the media URL uses `{}`; only https downloads carry the token",
                url.scheme()
            ),
        })
    }
}

/// A writer that hashes what passes through it.
struct Hashing<'a> {
    inner: &'a mut (dyn Write + Send),
    hasher: Sha256,
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(buf)?;
        // Only what the sink took is hashed, so a short write cannot skew the digest.
        self.hasher.update(&buf[..written.min(buf.len())]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Whether Meta's sha256 (64 hex digits, or base64 with or without padding, standard or
/// URL-safe alphabet) is the digest whose hex is `actual_hex`.
pub(crate) fn same_sha256(expected: &str, actual_hex: &str) -> bool {
    let expected = expected.trim();
    if expected.len() == 64 && expected.chars().all(|c| c.is_ascii_hexdigit()) {
        return expected.eq_ignore_ascii_case(actual_hex);
    }
    let Ok(actual) = hex::decode(actual_hex) else {
        return false;
    };
    let normalized: String = expected
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    normalized == base64(&actual).trim_end_matches('=')
}

/// Standard base64 with padding (only used to compare digests; no dependency needed).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        // Each index is 6 bits, so below 64.
        let symbol = |shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
        out.push(symbol(18));
        out.push(symbol(12));
        out.push(if chunk.len() > 1 { symbol(6) } else { '=' });
        out.push(if chunk.len() > 2 { symbol(0) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests;
