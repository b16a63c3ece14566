//! A dry run of a WhatsApp notification flow: what a real run would send, decided against
//! your own store, with nothing sent and nothing written.
//!
//! ```text
//! cargo run --example dry_run
//! ```
//!
//! Two customers get the same free-form text. One wrote in the last 24 hours (the window is
//! open, so the text goes as it is); the other never wrote, so the target's fallback
//! template goes instead. `Flow::plan` shows both alternatives without any I/O;
//! `Flow::dry_run` reads the windows from the store and shows which request each record
//! sends, in order, each answered by a fake of the Graph API.

use hubflow::http::ReqwestClient;
use hubflow::whatsapp::{
    remember_inbound, MessageKind, OutsideWindow, WhatsAppConnection, WhatsAppTarget,
};
use hubflow::{Context, FieldMap, Flow, MemoryStore, Outcome, Plan, Record, TokioClock};
use secrecy::SecretString;
use serde_json::json;

const PHONE_NUMBER_ID: &str = "106540352242922";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A dry run needs no credentials: the token below never leaves this process.
    let connection = WhatsAppConnection::new(PHONE_NUMBER_ID, SecretString::from("EAAG-unused"));
    let target = WhatsAppTarget::new(MessageKind::Text, connection).outside_window(
        OutsideWindow::Template {
            name: "wo_update".into(),
            language: "pt_BR".into(),
        },
    );
    let flow = Flow::builder("wo-updates")
        .map(FieldMap::new(json!({
            "to": "{{ phone | phone('BR') }}",
            "text": "Work order {{ folio }}: {{ status }}"
        }))?)
        .target(target)
        .build()?;

    // The host's store: one customer wrote an hour ago (a webhook the host received).
    let store = MemoryStore::new();
    let ctx = Context::new(ReqwestClient::new()?, TokioClock, store.clone());
    let wrote = chrono::Utc::now() - chrono::Duration::hours(1);
    let inbound = Record::new(
        "wamid.IN1",
        "whatsapp.message",
        json!({"phone_number_id": PHONE_NUMBER_ID, "from": "5511999991234"}),
    )
    .occurred_at(wrote);
    remember_inbound(&ctx, &[inbound]).await?;

    let records = vec![
        Record::new(
            "wo:1021",
            "work_order",
            json!({"phone": "(11) 99999-1234", "folio": "OT-1021", "status": "done"}),
        ),
        Record::new(
            "wo:1022",
            "work_order",
            json!({"phone": "(21) 98888-4321", "folio": "OT-1022", "status": "started"}),
        ),
    ];

    println!("== plan (no I/O: both alternatives)");
    if let Ok(Plan::Send(action)) = flow.plan(&ctx, &records[0]).await {
        println!("{}", serde_json::to_string_pretty(&action)?);
    }

    println!("== dry run (the store decides; nothing is sent)");
    let dry = flow.dry_run(&ctx, records).await;
    for (line, trace) in dry.report.records.iter().zip(&dry.records) {
        let sent: Vec<String> = trace
            .requests
            .iter()
            .map(|r| {
                let body = r.json_body().unwrap_or_default();
                match body["type"].as_str() {
                    Some("template") => format!("template {}", body["template"]["name"]),
                    _ => format!("text {}", body["text"]["body"]),
                }
            })
            .collect();
        let outcome = match &line.outcome {
            Outcome::Delivered { receipt, .. } => {
                format!("delivered ({})", receipt.id.as_deref().unwrap_or("-"))
            }
            other => other.name().to_owned(),
        };
        println!("{}: {outcome}; sends {}", trace.key, sent.join(", "));
    }
    Ok(())
}
