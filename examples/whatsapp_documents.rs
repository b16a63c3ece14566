//! Documents both ways, as an ERP such as GL180 does it: a customer sends a photo of a
//! failure, the ERP saves it into the folder its service picks files up from (with the
//! message's metadata beside it), and sends the customer the work-order report it
//! generated as a PDF.
//!
//! ```text
//! cargo run --example whatsapp_documents
//! ```
//!
//! By default everything runs against local stand-ins of the Graph API and its media CDN
//! (started here, on 127.0.0.1), and files are written only under a temporary directory,
//! which the example prints. To use a real number, set all of:
//!
//! * `WHATSAPP_TOKEN`, `WHATSAPP_PHONE_NUMBER_ID`: the system-user token and the number;
//! * `WHATSAPP_TO`: a customer who wrote to the number in the last 24 hours;
//! * `WHATSAPP_MEDIA_ID`: the media id of a photo that customer sent (from a webhook).

use std::path::{Component, Path, PathBuf};

use async_trait::async_trait;
use hubflow::http::ReqwestClient;
use hubflow::whatsapp::media::{
    DirectorySink, MediaError, MediaFile, MediaProvider, SaveMediaTarget,
};
use hubflow::whatsapp::webhook::parse;
use hubflow::whatsapp::{remember_inbound, MessageKind, WhatsAppConnection, WhatsAppTarget};
use hubflow::{Context, FieldMap, Flow, MemoryStore, Record, Rule, RunReport, TokioClock};
use secrecy::SecretString;
use serde_json::json;
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The stand-ins' phone-number id and media id.
const PHONE_ID: &str = "106540352242922";
const PHOTO_ID: &str = "1003383421387256";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let work =
        std::env::temp_dir().join(format!("hubflow-whatsapp-documents-{}", std::process::id()));
    let outbox = work.join("outbox");
    let inbox = work.join("inbox");
    std::fs::create_dir_all(outbox.join("reports"))?;
    std::fs::create_dir_all(&inbox)?;
    println!("working in {}", work.display());

    // The ERP's generated report, where its document service leaves it.
    std::fs::write(
        outbox.join("reports/OT-1021.pdf"),
        work_order_pdf("OT-1021"),
    )?;

    let real = Real::from_env();
    let (connection, customer, photo_id, _stand_in) = match &real {
        Some(real) => (
            WhatsAppConnection::new(&real.phone_number_id, real.token.clone()),
            real.to.clone(),
            real.media_id.clone(),
            None,
        ),
        None => {
            let server = stand_in().await;
            let connection = WhatsAppConnection::new(PHONE_ID, SecretString::from("EAAG-stand-in"))
                .base_url(server.uri().parse()?);
            (
                connection,
                "16505551234".to_owned(),
                PHOTO_ID.to_owned(),
                Some(server),
            )
        }
    };
    let ctx = Context::new(ReqwestClient::new()?, TokioClock, MemoryStore::new());

    // 1. The customer's photo arrives (here: the record a webhook would have produced).
    let records = incoming_photo(&connection, &customer, &photo_id)?;
    remember_inbound(&ctx, &records).await?;
    let save = Flow::builder("whatsapp-attachments-to-inbox")
        .when(Rule::parse(
            &json!({"field": "media_id", "op": "ne", "value": null}),
        )?)
        .map(FieldMap::new(
            json!({"customer": "{{ contact.name }}", "note": "{{ text | default('') }}"}),
        )?)
        .target(
            SaveMediaTarget::new(connection.clone(), DirectorySink::new(&inbox))
                .max_bytes(16_000_000),
        )
        .build()?;
    let saved = save.process(&ctx, records).await;
    show("incoming photo", &saved)?;

    // 2. The ERP sends its report: uploaded from the outbox, then sent by id.
    let send = Flow::builder("work-order-report-to-customer")
        .map(FieldMap::new(json!({
            "to": "{{ phone }}",
            "file": "reports/{{ folio }}.pdf",
            "caption": "Work order {{ folio }}: report attached"
        }))?)
        .target(WhatsAppTarget::new(MessageKind::Document, connection).media(Outbox::new(&outbox)))
        .build()?;
    let done = Record::new(
        "erp:wo:1021:report",
        "erp.work_order",
        json!({"phone": customer, "folio": "OT-1021"}),
    );
    if let hubflow::Plan::Send(request) = send.plan(&ctx, &done).await? {
        println!(
            "dry run of the send:\n{}",
            serde_json::to_string_pretty(&request)?
        );
    }
    let sent = send.process(&ctx, vec![done]).await;
    show("work-order report", &sent)?;

    println!("inbox now holds:");
    for entry in std::fs::read_dir(&inbox)? {
        println!("  {}", entry?.file_name().to_string_lossy());
    }
    if saved.counts.delivered != 1 || sent.counts.delivered != 1 {
        return Err("a delivery failed; see the reports above".into());
    }
    if real.is_none() {
        // Stand-in runs leave nothing behind.
        std::fs::remove_dir_all(&work)?;
    }
    Ok(())
}

/// The ERP's outbox folder as a [`MediaProvider`]: references are relative paths inside it.
struct Outbox {
    root: PathBuf,
}

impl Outbox {
    fn new(root: &Path) -> Self {
        Outbox {
            root: root.to_owned(),
        }
    }
}

#[async_trait]
impl MediaProvider for Outbox {
    async fn fetch(&self, reference: &str) -> Result<MediaFile, MediaError> {
        let relative = Path::new(reference);
        // A mapped reference must not climb out of the outbox.
        if !relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
        {
            return Err(MediaError::NotFound {
                reference: reference.to_owned(),
            });
        }
        // A blocking read is fine for a report of a few hundred kilobytes in an example;
        // a server would read through its runtime's file API.
        match std::fs::read(self.root.join(relative)) {
            Ok(data) => Ok(MediaFile::new(
                data,
                relative
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                "application/pdf",
            )),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(MediaError::NotFound {
                reference: reference.to_owned(),
            }),
            Err(e) => Err(MediaError::Unavailable {
                reference: reference.to_owned(),
                message: e.to_string(),
            }),
        }
    }
}

/// A one-page PDF, as the ERP's report generator would make it.
fn work_order_pdf(folio: &str) -> Vec<u8> {
    let text = format!("BT /F1 18 Tf 72 720 Td (Work order {folio}: done) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// The photo a stand-in customer sends.
const PHOTO: &[u8] = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 photo of pump 3's broken valve \xff\xd9";

/// A webhook body with one image message, parsed as the webhook would parse it.
fn incoming_photo(
    connection: &WhatsAppConnection,
    from: &str,
    media_id: &str,
) -> Result<Vec<Record>, Box<dyn std::error::Error>> {
    let body = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "419561257915477", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": connection.phone_number_id()},
            "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": from}],
            "messages": [{
                "from": from, "id": "wamid.EXAMPLE.PHOTO", "timestamp": chrono::Utc::now().timestamp().to_string(),
                "type": "image",
                "image": {"caption": "Pump 3 valve", "mime_type": "image/jpeg", "id": media_id,
                          "sha256": hex::encode(Sha256::digest(PHOTO))}
            }]
        }}]}]
    });
    Ok(parse(&serde_json::to_vec(&body)?)?
        .iter()
        .map(|event| event.to_record())
        .collect())
}

/// Stand-ins of the Graph API (upload, send, media lookup) and of its media CDN.
async fn stand_in() -> MockServer {
    let server = MockServer::start().await;
    let sha = hex::encode(Sha256::digest(PHOTO));
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PHONE_ID}/media")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"id": "1166846181421424"})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v23.0/{PHONE_ID}/messages")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "contacts": [{"input": "16505551234", "wa_id": "16505551234"}],
            "messages": [{"id": "wamid.EXAMPLE.REPORT"}]
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/v23.0/{PHOTO_ID}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "messaging_product": "whatsapp",
            "url": format!("{}/cdn/{PHOTO_ID}", server.uri()),
            "mime_type": "image/jpeg",
            "sha256": sha,
            "file_size": PHOTO.len().to_string(),
            "id": PHOTO_ID
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex("^/cdn/"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(PHOTO))
        .mount(&server)
        .await;
    server
}

fn show(what: &str, report: &RunReport) -> Result<(), Box<dyn std::error::Error>> {
    println!("{what}: {}", serde_json::to_string_pretty(&report.records)?);
    Ok(())
}

/// Settings for a real number, when all are set.
struct Real {
    token: SecretString,
    phone_number_id: String,
    to: String,
    media_id: String,
}

impl Real {
    fn from_env() -> Option<Real> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        Some(Real {
            token: SecretString::from(var("WHATSAPP_TOKEN")?),
            phone_number_id: var("WHATSAPP_PHONE_NUMBER_ID")?,
            to: var("WHATSAPP_TO")?,
            media_id: var("WHATSAPP_MEDIA_ID")?,
        })
    }
}
