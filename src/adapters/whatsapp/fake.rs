//! A fake of the WhatsApp Cloud API, for dry runs and for the host's own tests.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::http::{FakeScript, HttpRequest, HttpResponse, Method, ProviderFake};

/// Answers like the Graph API's WhatsApp endpoints: message sends get a `wamid`, media
/// uploads an id, media ids resolve to a download URL (on the same host, so the fake
/// answers the download too), and on demand any request fails with a Graph error body.
///
/// Requests are recognised by method and path (`POST …/{version}/{phone-number-id}/messages`,
/// `POST …/{version}/{phone-number-id}/media`, `GET …/{version}/{media-id}`, the download
/// path), never by host. Ids are numbered from 1 in the order requests arrive:
/// `wamid.fake.1`, `wamid.fake.2`, media `fake-media-1`.
///
/// ```
/// use hubflow::http::{FakeClient, HttpClient, HttpRequest};
/// use hubflow::whatsapp::fake::WhatsAppFake;
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let fake = std::sync::Arc::new(WhatsAppFake::new());
/// let client = FakeClient::new().with_arc(fake.clone());
/// let send = HttpRequest::post_json(
///     "https://graph.facebook.com/v23.0/1065/messages".parse().unwrap(),
///     &json!({"messaging_product": "whatsapp", "to": "5511999991234", "type": "text", "text": {"body": "hi"}}),
/// ).unwrap();
/// let answer = client.send(&send).await.unwrap();
/// assert_eq!(answer.json_body().unwrap()["messages"][0]["id"], "wamid.fake.1");
///
/// fake.fail_next(131047, "Re-engagement message");
/// let refused = client.send(&send).await.unwrap();
/// assert_eq!(refused.status, 400);
/// assert_eq!(refused.json_body().unwrap()["error"]["code"], 131047);
/// # });
/// ```
#[derive(Default)]
pub struct WhatsAppFake {
    script: FakeScript,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    media: HashMap<String, (Bytes, String)>,
    sent: Vec<Value>,
}

/// The path of the fake's media downloads.
const DOWNLOAD_PATH: &str = "/whatsapp_business/attachments/";

impl WhatsAppFake {
    /// A fake with no media and no failures queued.
    pub fn new() -> Self {
        WhatsAppFake::default()
    }

    /// Makes the next request fail with Graph error `code` and `message`, with the HTTP
    /// status Meta uses for it (401 for 190, 429 for the throughput codes, 400 otherwise).
    pub fn fail_next(&self, code: u32, message: &str) {
        let status = match code {
            190 => 401,
            4 | 80007 | 130429 | 131056 => 429,
            1 | 2 | 131000 | 131016 => 500,
            _ => 400,
        };
        let body = json!({"error": {
            "message": format!("(#{code}) {message}"),
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message},
            "fbtrace_id": "AfakeTraceId"
        }});
        self.script.fail_next(HttpResponse::json(status, &body));
    }

    /// Serves `bytes` as media `id`, with this MIME type, to media lookups and downloads.
    /// Ids the fake was not given resolve to a small generated file.
    pub fn with_media(self, id: &str, bytes: impl Into<Bytes>, mime_type: &str) -> Self {
        self.lock()
            .media
            .insert(id.to_owned(), (bytes.into(), mime_type.to_owned()));
        self
    }

    /// The message bodies sent so far, in order.
    pub fn sent(&self) -> Vec<Value> {
        self.lock().sent.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every update leaves the state whole, so a poisoned lock still guards valid data.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn media(&self, id: &str) -> (Bytes, String) {
        self.lock().media.get(id).cloned().unwrap_or_else(|| {
            (
                Bytes::from(format!("hubflow fake media {id}")),
                "image/jpeg".to_owned(),
            )
        })
    }
}

impl fmt::Debug for WhatsAppFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("WhatsAppFake")
            .field("sent", &state.sent.len())
            .finish_non_exhaustive()
    }
}

/// Whether a path segment is a Graph API version (`v23.0`).
fn is_version(segment: &str) -> bool {
    segment.strip_prefix('v').is_some_and(|rest| {
        rest.chars().next().is_some_and(|c| c.is_ascii_digit())
            && rest.chars().all(|c| c.is_ascii_digit() || c == '.')
    })
}

impl ProviderFake for WhatsAppFake {
    fn provider(&self) -> &str {
        "whatsapp"
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let path = request.url.path();
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let tail = |n: usize| segments.len().checked_sub(n).map(|i| &segments[i..]);
        enum Call {
            Send,
            Upload,
            Lookup(String),
            Download(String),
        }
        let call = match (request.method, tail(3), tail(2)) {
            (Method::Post, Some([version, _, "messages"]), _) if is_version(version) => Call::Send,
            (Method::Post, Some([version, _, "media"]), _) if is_version(version) => Call::Upload,
            (Method::Get, _, _) if path.ends_with(DOWNLOAD_PATH) => {
                let id = request
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "mid")
                    .map(|(_, v)| v.into_owned())?;
                Call::Download(id)
            }
            (Method::Get, _, Some([version, id])) if is_version(version) => {
                Call::Lookup((*id).to_owned())
            }
            _ => return None,
        };
        if let Some(failure) = self.script.take_failure() {
            return Some(failure);
        }
        Some(match call {
            Call::Send => {
                let body = request.json_body().unwrap_or(Value::Null);
                let to = body.get("to").cloned().unwrap_or(Value::Null);
                let wamid = self.script.next_id("wamid.fake.");
                let mut message = json!({"id": wamid});
                if body.get("type").and_then(Value::as_str) == Some("template") {
                    message["message_status"] = json!("accepted");
                }
                self.lock().sent.push(body);
                HttpResponse::json(
                    200,
                    &json!({
                        "messaging_product": "whatsapp",
                        "contacts": [{"input": to, "wa_id": to}],
                        "messages": [message]
                    }),
                )
            }
            Call::Upload => {
                HttpResponse::json(200, &json!({"id": self.script.next_id("fake-media-")}))
            }
            Call::Lookup(id) => {
                let (bytes, mime_type) = self.media(&id);
                let mut url = request.url.clone();
                url.set_path(DOWNLOAD_PATH);
                url.query_pairs_mut().clear().append_pair("mid", &id);
                HttpResponse::json(
                    200,
                    &json!({
                        "messaging_product": "whatsapp",
                        "url": url.as_str(),
                        "mime_type": mime_type,
                        "sha256": hex::encode(Sha256::digest(&bytes)),
                        "file_size": bytes.len().to_string(),
                        "id": id
                    }),
                )
            }
            Call::Download(id) => {
                let (bytes, mime_type) = self.media(&id);
                let mut response = HttpResponse::new(200, bytes);
                response.headers.insert("Content-Type", mime_type);
                response
            }
        })
    }
}

#[cfg(test)]
mod tests;
