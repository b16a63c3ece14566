//! Documents both ways, as an ERP such as GL180 does it: a customer sends a photo of a
//! failure, the ERP saves it into the folder its service picks files up from (with the
//! message's metadata beside it), and sends the customer the work-order report it
//! generated as a PDF.
//!
//! ```text
//! cargo run --example whatsapp_documents
//! ```
//!
//! Without credentials hubflow's fake of the Graph API answers (the photo's lookup and
//! download too; the stand-in customer and the ERP's PDF are in `examples/support/`), and
//! files are written only under a temporary directory, which the example prints.
//! **With real credentials**, set all of:
//!
//! * `WHATSAPP_TOKEN`, `WHATSAPP_PHONE_NUMBER_ID`: the system-user token and the number;
//! * `WHATSAPP_TO`: a customer who wrote to the number in the last 24 hours;
//! * `WHATSAPP_MEDIA_ID`: the media id of a photo that customer sent (from a webhook).
//!
//! and, to have the download checked, `WHATSAPP_MEDIA_SHA256`: the sha256 the same webhook
//! announced for it.

#[path = "support/pdf.rs"]
mod pdf;
#[path = "support/whatsapp.rs"]
mod whatsapp;

use std::error::Error;

use hubflow::http::{HttpClient, ReqwestClient};
use hubflow::whatsapp::media::{DirectoryMedia, DirectorySink, SaveMediaTarget};
use hubflow::whatsapp::{remember_inbound, MessageKind, WhatsAppConnection, WhatsAppTarget};
use hubflow::{Context, FieldMap, Flow, MemoryStore, Record, Rule, RunReport, TokioClock};
use secrecy::SecretString;
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
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
        pdf::work_order_pdf("OT-1021"),
    )?;

    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let real = [
        "WHATSAPP_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
        "WHATSAPP_TO",
        "WHATSAPP_MEDIA_ID",
    ];
    let live = real.iter().all(|name| var(name).is_some());
    let (http, [token, number, customer, photo_id]): (Box<dyn HttpClient>, _) = if live {
        (
            Box::new(ReqwestClient::new()?),
            real.map(|name| var(name).unwrap_or_default()),
        )
    } else {
        (
            Box::new(whatsapp::stand_in()),
            whatsapp::stand_in_settings(),
        )
    };
    let connection = WhatsAppConnection::new(&number, SecretString::from(token));
    let ctx = Context::new(http, TokioClock, MemoryStore::new());

    // 1. The customer's photo arrives: the records the webhook makes of Meta's post.
    // The sha256 Meta announced is checked against the downloaded bytes.
    let sha256 = match live {
        true => var("WHATSAPP_MEDIA_SHA256"),
        false => Some(whatsapp::photo_sha256()),
    };
    let records = whatsapp::photo_records(&number, &customer, &photo_id, sha256.as_deref())?;
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
        .target(
            // The ERP's outbox as the files' provider: references are paths inside it.
            WhatsAppTarget::new(MessageKind::Document, connection)
                .media(DirectoryMedia::new(&outbox)),
        )
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
    if !live {
        // Stand-in runs leave nothing behind.
        std::fs::remove_dir_all(&work)?;
    }
    Ok(())
}

fn show(what: &str, report: &RunReport) -> Result<(), Box<dyn Error>> {
    println!("{what}: {}", serde_json::to_string_pretty(&report.records)?);
    Ok(())
}
