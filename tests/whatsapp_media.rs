//! WhatsApp media against a local stand-in of the Graph API and its media CDN: uploads
//! before sends (and nothing sent when they fail), local refusals of files Meta would
//! refuse, downloads checked by size and sha256, expired URLs, and attachments saved
//! through a flow.

#![cfg(all(feature = "whatsapp", feature = "reqwest"))]

mod common;

use std::path::PathBuf;

use common::{
    delivered, duplicate, failed, fixture, harness, mount_catch_all, only_outcome, received, url,
};
use hubflow::http::HttpError;
use hubflow::whatsapp::media::{
    download, save_attachment, Attachment, DirectorySink, MediaError, MediaFile, MemoryMedia,
    SaveMediaTarget,
};
use hubflow::whatsapp::webhook::parse;
use hubflow::whatsapp::{MessageKind, OutsideWindow, WhatsAppConnection, WhatsAppTarget};
use hubflow::{ErrorClass, FieldMap, Flow, Plan, Record, Rule, Stage};
use secrecy::SecretString;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PHONE_ID: &str = "106540352242922";
const TOKEN: &str = "EAAG-media-test-token-do-not-log";
const MEDIA: &str = "/v23.0/106540352242922/media";
const MESSAGES: &str = "/v23.0/106540352242922/messages";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << >>\n%%EOF\n";

fn connection(server: &MockServer) -> WhatsAppConnection {
    WhatsAppConnection::new(PHONE_ID, SecretString::from(TOKEN)).base_url(url(server, "/"))
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

fn files() -> MemoryMedia {
    let files = MemoryMedia::new();
    files.insert(
        "reports/OT-1021.pdf",
        MediaFile::new(PDF, "OT-1021.pdf", "application/pdf"),
    );
    files
}

/// A flow sending `kind` messages with files from `media`; the window is not checked, so
/// each test is about media only.
fn flow(server: &MockServer, kind: MessageKind, map: Value, media: MemoryMedia) -> Flow {
    Flow::builder("erp-documents")
        .map(FieldMap::new(map).unwrap())
        .target(
            WhatsAppTarget::new(kind, connection(server))
                .outside_window(OutsideWindow::Send)
                .media(media),
        )
        .build()
        .unwrap()
}

fn document_flow(server: &MockServer, media: MemoryMedia) -> Flow {
    flow(
        server,
        MessageKind::Document,
        json!({"to": "{{ phone }}", "file": "{{ report }}", "caption": "Work order {{ folio }}"}),
        media,
    )
}

fn work_order() -> Record {
    Record::new(
        "erp:wo:1021:done",
        "erp.work_order",
        json!({"phone": "5511999991234", "report": "reports/OT-1021.pdf", "folio": "OT-1021"}),
    )
}

/// The text of a multipart part named `name` (up to the next CRLF).
fn part(body: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let marker = format!("name=\"{name}\"");
    let start = text.find(&marker)?;
    let rest = &text[start..];
    let value = &rest[rest.find("\r\n\r\n")? + 4..];
    Some(value[..value.find("\r\n")?].to_owned())
}

#[tokio::test]
async fn a_file_is_uploaded_then_sent_by_id_as_one_delivery() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MEDIA))
        .and(header("authorization", bearer().as_str()))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("whatsapp_media/uploaded.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(header("authorization", bearer().as_str()))
        .and(body_partial_json(json!({
            "type": "document",
            "document": {"id": "1166846181421424", "filename": "OT-1021.pdf", "caption": "Work order OT-1021"}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whatsapp_api/sent.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let h = harness();

    let report = document_flow(&server, files())
        .process(&h.ctx, vec![work_order()])
        .await;

    let (receipt, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 1);
    assert!(receipt.id.as_deref().unwrap().starts_with("wamid."));
    assert_eq!(
        receipt.details["uploaded"],
        json!([{"file": "reports/OT-1021.pdf", "media_id": "1166846181421424",
                "mime_type": "application/pdf", "bytes": PDF.len()}])
    );
    let requests = server.received_requests().await.unwrap();
    assert_eq!(
        requests.iter().map(|r| r.url.path()).collect::<Vec<_>>(),
        [MEDIA, MESSAGES],
        "upload first, then the message"
    );
    let upload = &requests[0];
    let content_type = upload.headers["content-type"].to_str().unwrap();
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("a multipart upload");
    assert!(!PDF
        .windows(boundary.len())
        .any(|w| w == boundary.as_bytes()));
    assert_eq!(
        part(&upload.body, "messaging_product").as_deref(),
        Some("whatsapp")
    );
    assert_eq!(
        part(&upload.body, "type").as_deref(),
        Some("application/pdf")
    );
    let body = String::from_utf8_lossy(&upload.body);
    assert!(body.contains(
        "name=\"file\"; filename=\"OT-1021.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4"
    ));
    assert!(
        upload.body.windows(PDF.len()).any(|w| w == PDF),
        "the file's bytes are uploaded unchanged"
    );
    // The hubflow-side upload plan never reaches Meta.
    let sent: Value = serde_json::from_slice(&requests[1].body).unwrap();
    assert!(sent["document"].get("upload").is_none(), "{sent}");
    assert!(!serde_json::to_string(&report).unwrap().contains(TOKEN));
}

#[tokio::test]
async fn a_template_document_header_is_uploaded_the_same_way() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MEDIA))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("whatsapp_media/uploaded.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .and(body_partial_json(json!({"template": {"components": [{
            "type": "header",
            "parameters": [{"type": "document", "document": {"id": "1166846181421424", "filename": "Fatura OT-1021.pdf"}}]
        }]}})))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whatsapp_api/sent.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let h = harness();
    let flow = flow(
        &server,
        MessageKind::Template,
        json!({
            "to": "{{ phone }}", "template": "invoice_ready", "language": "pt_BR",
            "header": {"type": "document", "file": "{{ report }}", "filename": "Fatura {{ folio }}.pdf"},
            "body": ["{{ folio }}"]
        }),
        files(),
    );

    let report = flow.process(&h.ctx, vec![work_order()]).await;

    delivered(only_outcome(&report));
}

#[tokio::test]
async fn the_dry_run_shows_the_upload_but_not_the_bytes_or_the_token() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let flow = document_flow(&server, files());

    let Plan::Send(request) = flow.plan(&common::plan_ctx(), &work_order()).await.unwrap() else {
        panic!("expected a send")
    };

    let shown = serde_json::to_value(&request).unwrap();
    assert_eq!(shown["message"]["url"], url(&server, MESSAGES).as_str());
    assert_eq!(
        shown["message"]["body"]["document"],
        json!({"filename": "OT-1021.pdf", "caption": "Work order OT-1021",
               "upload": {"file": "reports/OT-1021.pdf", "mime_type": "application/pdf"}})
    );
    // The upload that comes first, and where its media id goes.
    assert_eq!(shown["uploads"][0]["file"], "reports/OT-1021.pdf");
    assert_eq!(shown["uploads"][0]["pointer"], "/document");
    let text = shown.to_string();
    assert!(!text.contains(TOKEN) && !text.contains("%PDF"), "{text}");
    assert_eq!(received(&server).await, 0);
}

#[tokio::test]
async fn a_failed_upload_sends_no_message_and_fails_the_record_with_metas_code() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MEDIA))
        .respond_with(
            ResponseTemplate::new(400)
                .set_body_json(fixture("whatsapp_media/upload_error_131053.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let h = harness();

    let report = document_flow(&server, files())
        .process(&h.ctx, vec![work_order()])
        .await;

    let (failure, retryable, attempts) = failed(only_outcome(&report));
    assert_eq!(
        (failure.stage, failure.code.as_deref(), failure.status),
        (Stage::Deliver, Some("131053"), Some(400))
    );
    assert!(!retryable);
    assert_eq!(attempts, 1);
    assert!(
        failure.message.contains("Media upload error"),
        "{}",
        failure.message
    );
    // The catch-all (expect 0) fails the test if the message was sent anyway.
}

#[tokio::test]
async fn an_upload_answered_5xx_is_retried_and_then_the_message_goes_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(MEDIA))
        .respond_with(ResponseTemplate::new(503).set_body_string("busy"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MEDIA))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("whatsapp_media/uploaded.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(MESSAGES))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("whatsapp_api/sent.json")))
        .expect(1)
        .mount(&server)
        .await;
    mount_catch_all(&server).await;
    let h = harness();

    let report = document_flow(&server, files())
        .process(&h.ctx, vec![work_order()])
        .await;

    let (_, attempts) = delivered(only_outcome(&report));
    assert_eq!(attempts, 2);
}

#[tokio::test]
async fn an_oversized_pdf_is_refused_locally_naming_the_limit() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let h = harness();
    let media = MemoryMedia::new();
    // 120 MB: WhatsApp takes documents up to 100 MB.
    let mut big = vec![b' '; 120_000_000];
    big[..PDF.len()].copy_from_slice(PDF);
    media.insert(
        "reports/OT-1021.pdf",
        MediaFile::new(big, "OT-1021.pdf", "application/pdf"),
    );

    let report = document_flow(&server, media)
        .process(&h.ctx, vec![work_order()])
        .await;

    let (failure, retryable, _) = failed(only_outcome(&report));
    assert!(!retryable);
    assert_eq!(failure.class, ErrorClass::Permanent);
    assert!(
        failure
            .message
            .contains("`file`: a document may have at most 100 MB (100000000 bytes); this file has 120000000 bytes"),
        "{}",
        failure.message
    );
    assert_eq!(received(&server).await, 0, "refused before any request");
}

#[tokio::test]
async fn wrong_file_types_are_refused_locally() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let h = harness();
    let media = MemoryMedia::new();
    media.insert(
        "photos/valve",
        MediaFile::new(&b"GIF89a"[..], "valve", "image/gif"),
    );
    let photo = |key: &str, file: &str| {
        Record::new(
            key,
            "erp.photo",
            json!({"phone": "5511999991234", "file": file}),
        )
    };
    let flow = flow(
        &server,
        MessageKind::Image,
        json!({"to": "{{ phone }}", "file": "{{ file }}"}),
        media,
    );

    let report = flow
        .process(
            &h.ctx,
            vec![
                // Known by its name before anything is read: fails at prepare.
                photo("p1", "photos/valve.gif"),
                // Known only from the provider: fails before the upload.
                photo("p2", "photos/valve"),
            ],
        )
        .await;

    let (by_name, _, _) = failed(&report.records[0].outcome);
    assert_eq!(by_name.stage, Stage::Prepare);
    assert!(
        by_name.message.contains("image/jpeg, image/png"),
        "{}",
        by_name.message
    );
    let (by_content, retryable, _) = failed(&report.records[1].outcome);
    assert_eq!(by_content.stage, Stage::Deliver);
    assert!(!retryable);
    assert!(
        by_content
            .message
            .contains("does not take `image/gif` as image"),
        "{}",
        by_content.message
    );
    assert_eq!(received(&server).await, 0);
}

#[tokio::test]
async fn a_missing_file_fails_without_a_request_and_a_target_without_provider_fails_at_prepare() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let h = harness();

    let report = document_flow(&server, MemoryMedia::new())
        .process(&h.ctx, vec![work_order()])
        .await;
    let (failure, retryable, _) = failed(only_outcome(&report));
    assert!(!retryable);
    assert!(
        failure.message.contains("no file `reports/OT-1021.pdf`"),
        "{}",
        failure.message
    );

    let no_provider = Flow::builder("no-provider")
        .map(FieldMap::new(json!({"to": "{{ phone }}", "file": "{{ report }}"})).unwrap())
        .target(WhatsAppTarget::new(
            MessageKind::Document,
            connection(&server),
        ))
        .build()
        .unwrap();
    let error = no_provider
        .plan(&common::plan_ctx(), &work_order())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no media provider"), "{error}");
    assert_eq!(received(&server).await, 0);
}

// ---------------------------------------------------------------- receiving

const MEDIA_ID: &str = "1003383421387256";
const PHOTO: &[u8] = b"\xff\xd8\xff\xe0 a photo of a broken valve \xff\xd9";

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Meta's answer to `GET /{media-id}`: a download URL on the stand-in's CDN path.
fn media_url_answer(
    server: &MockServer,
    cdn_path: &str,
    sha256: &str,
    size: Option<usize>,
) -> Value {
    let mut answer = json!({
        "messaging_product": "whatsapp",
        "url": url(server, cdn_path).as_str(),
        "mime_type": "image/jpeg",
        "sha256": sha256,
        "id": MEDIA_ID
    });
    if let Some(size) = size {
        answer["file_size"] = json!(size.to_string());
    }
    answer
}

async fn mount_resolve(server: &MockServer, answer: Value, times: u64) {
    Mock::given(method("GET"))
        .and(path(format!("/v23.0/{MEDIA_ID}")))
        .and(query_param("phone_number_id", PHONE_ID))
        .and(header("authorization", bearer().as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
}

async fn mount_cdn(server: &MockServer, cdn_path: &str, response: ResponseTemplate, times: u64) {
    Mock::given(method("GET"))
        .and(path(cdn_path))
        .and(header("authorization", bearer().as_str()))
        .respond_with(response)
        .up_to_n_times(times)
        .expect(times)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_media_id_is_resolved_and_downloaded_with_the_token_and_verified() {
    let server = MockServer::start().await;
    let answer = media_url_answer(
        &server,
        "/cdn/photo-1",
        &sha256_hex(PHOTO),
        Some(PHOTO.len()),
    );
    mount_resolve(&server, answer, 1).await;
    mount_cdn(
        &server,
        "/cdn/photo-1",
        ResponseTemplate::new(200).set_body_bytes(PHOTO),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let h = harness();
    let mut sink = Vec::new();

    let downloaded = download(&h.ctx, &connection(&server), MEDIA_ID, &mut sink, 1_000_000)
        .await
        .unwrap();

    assert_eq!(sink, PHOTO);
    assert_eq!(downloaded.bytes, PHOTO.len() as u64);
    assert_eq!(downloaded.sha256, sha256_hex(PHOTO));
    assert_eq!(downloaded.resolutions, 1);
    assert_eq!(downloaded.media.mime_type, "image/jpeg");
    assert!(!format!("{downloaded:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_wrong_sha256_is_an_error_and_nothing_is_saved() {
    let server = MockServer::start().await;
    let wrong = sha256_hex(b"some other file");
    mount_resolve(
        &server,
        media_url_answer(&server, "/cdn/photo-1", &wrong, None),
        1,
    )
    .await;
    mount_cdn(
        &server,
        "/cdn/photo-1",
        ResponseTemplate::new(200).set_body_bytes(PHOTO),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let h = harness();
    let dir = temp_dir("checksum");
    let attachment = attachment_of_fixture_image();

    let error = save_attachment(
        &h.ctx,
        &connection(&server),
        &attachment,
        &DirectorySink::new(&dir),
        1_000_000,
    )
    .await
    .unwrap_err();

    match &error {
        MediaError::Checksum { expected, actual } => {
            assert_eq!(expected, &wrong);
            assert_eq!(actual, &sha256_hex(PHOTO));
        }
        other => panic!("expected a checksum error, got {other:?}"),
    }
    assert!(error.class().is_retryable());
    assert_eq!(
        entries(&dir),
        Vec::<String>::new(),
        "the partial file was removed"
    );
}

#[tokio::test]
async fn an_expired_url_is_resolved_again_once() {
    let server = MockServer::start().await;
    let sha = sha256_hex(PHOTO);
    mount_resolve(
        &server,
        media_url_answer(&server, "/cdn/expired", &sha, None),
        1,
    )
    .await;
    mount_resolve(
        &server,
        media_url_answer(&server, "/cdn/fresh", &sha, None),
        1,
    )
    .await;
    mount_cdn(
        &server,
        "/cdn/expired",
        ResponseTemplate::new(404).set_body_string("URL signature expired"),
        1,
    )
    .await;
    mount_cdn(
        &server,
        "/cdn/fresh",
        ResponseTemplate::new(200).set_body_bytes(PHOTO),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let h = harness();
    let mut sink = Vec::new();

    let downloaded = download(&h.ctx, &connection(&server), MEDIA_ID, &mut sink, 1_000_000)
        .await
        .unwrap();

    assert_eq!(downloaded.resolutions, 2);
    assert_eq!(
        sink, PHOTO,
        "the expired answer's body never reached the sink"
    );
}

#[tokio::test]
async fn a_url_that_expires_twice_is_not_resolved_a_third_time() {
    let server = MockServer::start().await;
    let sha = sha256_hex(PHOTO);
    mount_resolve(
        &server,
        media_url_answer(&server, "/cdn/expired", &sha, None),
        2,
    )
    .await;
    mount_cdn(
        &server,
        "/cdn/expired",
        ResponseTemplate::new(403).set_body_string("expired"),
        2,
    )
    .await;
    mount_catch_all(&server).await;
    let h = harness();

    let error = download(
        &h.ctx,
        &connection(&server),
        MEDIA_ID,
        &mut Vec::new(),
        1_000_000,
    )
    .await
    .unwrap_err();

    let MediaError::Provider(provider) = error else {
        panic!("expected the CDN's answer as a provider error")
    };
    assert_eq!(provider.status, 403);
}

#[tokio::test]
async fn a_download_over_the_cap_is_stopped() {
    let server = MockServer::start().await;
    let big = vec![7u8; 300_000];
    let sha = sha256_hex(&big);
    // Not announced by the media URL answer: the stream itself is cut.
    mount_resolve(
        &server,
        media_url_answer(&server, "/cdn/big", &sha, None),
        1,
    )
    .await;
    mount_cdn(
        &server,
        "/cdn/big",
        ResponseTemplate::new(200).set_body_bytes(big.clone()),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let h = harness();
    let mut sink = Vec::new();

    let error = download(&h.ctx, &connection(&server), MEDIA_ID, &mut sink, 100_000)
        .await
        .unwrap_err();

    assert_eq!(error, MediaError::OverCap { limit: 100_000 });
    assert!(sink.len() <= 100_000, "{} bytes written", sink.len());
    assert!(!error.class().is_retryable());
}

/// Serves `chunks` of `size` bytes each on `/cdn/stream`, chunked, with no
/// `Content-Length`, so only counting the stream can stop it.
async fn chunked_server(chunks: usize, size: usize) -> (String, tokio::task::JoinHandle<()>) {
    use axum::body::Body;
    use axum::routing::get;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let router = axum::Router::new().route(
        "/cdn/stream",
        get(move || async move {
            let parts = (0..chunks).map(move |_| {
                Ok::<_, std::convert::Infallible>(bytes::Bytes::from(vec![1u8; size]))
            });
            Body::from_stream(futures_util::stream::iter(parts))
        }),
    );
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{address}/cdn/stream"), task)
}

#[tokio::test]
async fn a_streamed_download_without_length_is_cut_at_the_cap() {
    let server = MockServer::start().await;
    let (cdn, task) = chunked_server(40, 10_000).await;
    let mut answer = media_url_answer(&server, "/unused", &sha256_hex(PHOTO), None);
    answer["url"] = json!(cdn);
    mount_resolve(&server, answer, 1).await;
    mount_catch_all(&server).await;
    let h = harness();
    let mut sink = Vec::new();

    let error = download(&h.ctx, &connection(&server), MEDIA_ID, &mut sink, 25_000)
        .await
        .unwrap_err();

    assert_eq!(error, MediaError::OverCap { limit: 25_000 });
    assert!(sink.len() <= 25_000, "{} bytes written", sink.len());
    task.abort();
}

#[tokio::test]
async fn an_announced_size_over_the_cap_is_refused_before_downloading() {
    let server = MockServer::start().await;
    let answer = media_url_answer(&server, "/cdn/big", &sha256_hex(PHOTO), Some(50_000_000));
    mount_resolve(&server, answer, 1).await;
    // No CDN mock: the catch-all fails the test if the file is requested.
    mount_catch_all(&server).await;
    let h = harness();

    let error = download(
        &h.ctx,
        &connection(&server),
        MEDIA_ID,
        &mut Vec::new(),
        16_000_000,
    )
    .await
    .unwrap_err();

    assert_eq!(error, MediaError::OverCap { limit: 16_000_000 });
}

#[tokio::test]
async fn a_plain_http_download_url_is_refused_when_the_connection_uses_https() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    // The stand-in speaks http, so point the connection at an https base that is never
    // called and answer the lookup through a RecordingClient instead.
    let http = hubflow::http::RecordingClient::new();
    http.push_response(hubflow::http::HttpResponse::json(
        200,
        &json!({"url": "http://cdn.example.com/file", "sha256": sha256_hex(PHOTO), "mime_type": "image/jpeg"}),
    ));
    let ctx = hubflow::Context::new(
        http.clone(),
        hubflow::ManualClock::new(common::start_instant()),
        hubflow::MemoryStore::new(),
    );
    let connection = WhatsAppConnection::new(PHONE_ID, SecretString::from(TOKEN));

    let error = download(&ctx, &connection, MEDIA_ID, &mut Vec::new(), 1_000)
        .await
        .unwrap_err();

    assert!(
        error
            .to_string()
            .contains("only https downloads carry the token"),
        "{error}"
    );
    assert_eq!(
        http.requests().len(),
        1,
        "the file itself was not requested"
    );
}

// ---------------------------------------------------------------- saving through a flow

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "hubflow-media-{name}-{}-{}",
        std::process::id(),
        chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn entries(dir: &PathBuf) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn webhook_records() -> Vec<Record> {
    let body = serde_json::to_vec(&fixture("whatsapp/media_messages.json")).unwrap();
    parse(&body)
        .unwrap()
        .iter()
        .map(|event| event.to_record())
        .collect()
}

fn attachment_of_fixture_image() -> Attachment {
    let image = webhook_records()
        .into_iter()
        .find(|r| r.data["type"] == "image")
        .expect("the fixture has an image message");
    Attachment::from_record(&image).unwrap()
}

#[tokio::test]
async fn a_flow_saves_each_attachment_with_its_metadata_beside_it_once() {
    let server = MockServer::start().await;
    let sha = sha256_hex(PHOTO);
    mount_resolve(
        &server,
        media_url_answer(&server, "/cdn/photo-1", &sha, Some(PHOTO.len())),
        1,
    )
    .await;
    mount_cdn(
        &server,
        "/cdn/photo-1",
        ResponseTemplate::new(200).set_body_bytes(PHOTO),
        1,
    )
    .await;
    mount_catch_all(&server).await;
    let h = harness();
    let dir = temp_dir("flow");
    let flow = Flow::builder("whatsapp-attachments")
        .when(Rule::parse(&json!({"field": "media_id", "op": "eq", "value": MEDIA_ID})).unwrap())
        .map(
            FieldMap::new(json!({"customer": "{{ contact.name }}", "note": "{{ text }}"})).unwrap(),
        )
        .target(SaveMediaTarget::new(
            connection(&server),
            DirectorySink::new(&dir),
        ))
        .build()
        .unwrap();
    let image = webhook_records()
        .into_iter()
        .find(|r| r.data["media_id"] == MEDIA_ID)
        .unwrap();

    let report = flow.process(&h.ctx, vec![image.clone()]).await;
    let again = flow.process(&h.ctx, vec![image]).await;

    let (receipt, _) = delivered(only_outcome(&report));
    assert_eq!(receipt.id.as_deref(), Some(MEDIA_ID));
    assert_eq!(receipt.details["sha256"], sha);
    duplicate(only_outcome(&again));
    assert_eq!(
        entries(&dir),
        ["wamid.MEDIA.IMAGE.jpg", "wamid.MEDIA.IMAGE.jpg.json"]
    );
    assert_eq!(
        std::fs::read(dir.join("wamid.MEDIA.IMAGE.jpg")).unwrap(),
        PHOTO
    );
    let meta: Value =
        serde_json::from_slice(&std::fs::read(dir.join("wamid.MEDIA.IMAGE.jpg.json")).unwrap())
            .unwrap();
    assert_eq!(meta["message_id"], "wamid.MEDIA.IMAGE");
    assert_eq!(meta["from"], "16505551234");
    assert_eq!(meta["contact_name"], "Sheena Nelson");
    assert_eq!(meta["caption"], "Broken valve");
    assert_eq!(meta["sha256_hex"], sha);
    assert_eq!(meta["bytes"], PHOTO.len());
    assert_eq!(
        meta["fields"],
        json!({"customer": "Sheena Nelson", "note": "Broken valve"})
    );
    assert_eq!(
        receipt.details["location"],
        dir.join("wamid.MEDIA.IMAGE.jpg").to_string_lossy().as_ref()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_message_without_media_fails_at_prepare_and_is_not_fetched() {
    let server = MockServer::start().await;
    mount_catch_all(&server).await;
    let h = harness();
    let dir = temp_dir("text");
    let flow = Flow::builder("whatsapp-attachments")
        .target(SaveMediaTarget::new(
            connection(&server),
            DirectorySink::new(&dir),
        ))
        .build()
        .unwrap();
    let text = Record::new(
        "wamid.TEXT",
        "whatsapp.message",
        json!({"id": "wamid.TEXT", "type": "text", "media_id": null, "text": "hello"}),
    );

    let report = flow.process(&h.ctx, vec![text]).await;

    let (failure, _, _) = failed(only_outcome(&report));
    assert_eq!(failure.stage, Stage::Prepare);
    assert!(
        failure.message.contains("has no attachment"),
        "{}",
        failure.message
    );
    assert!(entries(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn transport_errors_keep_their_meaning() {
    assert_eq!(
        MediaError::from(HttpError::BodyTooLarge { limit: 5 }),
        MediaError::OverCap { limit: 5 }
    );
}
