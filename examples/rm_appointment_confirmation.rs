//! Appointment confirmations from an RM-style ERP over WhatsApp, answered back into the ERP:
//! the flows `examples/flows/rm-confirmations.json` and `rm-replies.json` on the
//! connections of `rm-connections.json`.
//!
//! ```sh
//! cargo run --example rm_appointment_confirmation
//! ```
//!
//! The daily job asks tomorrow's patients to confirm; their button answers confirm or
//! cancel the appointment in the ERP.
//!
//! **With real credentials**: put your installation's URL and user, and your WhatsApp
//! number, in `rm-connections.json`, set `RM_PASSWORD` and `WHATSAPP_TOKEN`, and the job
//! asks tomorrow's patients for real; their answers arrive at your webhook, where the
//! replies flow runs (`whatsapp_webhook` shows such an endpoint).
//!
//! **Without them** everything runs against local stand-ins of the ERP and of the WhatsApp
//! Cloud API (`examples/support/erp.rs`), with three appointments: Ana confirms, Bruno
//! cancels, Carla has no mobile number and is skipped. It prints the messages sent, the
//! ERP calls made, and both run reports. The clock is fixed at 07:00 in São Paulo on
//! 2 March 2026, when the daily trigger fires, so the output is the same on every run.

#[path = "support/erp.rs"]
mod erp;
#[path = "support/local.rs"]
mod local;
#[path = "support/whatsapp.rs"]
mod whatsapp;

use std::error::Error;
use std::sync::Arc;

use hubflow::http::{FakeClient, ReqwestClient};
use hubflow::spec::{Connections, EnvSecrets, Registry, SecretResolver};
use hubflow::whatsapp::fake::WhatsAppFake;
use hubflow::whatsapp::webhook::WhatsAppWebhook;
use hubflow::{Context, FlowSpec, ManualClock, MemoryStore, Outcome, TokioClock, WebhookSource};
use secrecy::SecretString;
use serde_json::{json, Value};

const CONNECTIONS: &str = include_str!("flows/rm-connections.json");

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let live = ["RM_PASSWORD", "WHATSAPP_TOKEN"]
        .iter()
        .all(|name| std::env::var(name).is_ok_and(|v| !v.is_empty()));
    let connections = Connections::from_json(CONNECTIONS)?;
    let secrets: Box<dyn SecretResolver> = if live {
        Box::new(EnvSecrets::new())
    } else {
        Box::new(local::stand_in_secrets(&[
            "RM_PASSWORD",
            "WHATSAPP_TOKEN",
            "RDCONVERSAS_TOKEN",
        ]))
    };
    // One registry and one set of connections for both flows: they share the ERP's JWT.
    let registry = Registry::default();
    let build =
        |spec: &str| FlowSpec::from_json(spec)?.build(&registry, &connections, secrets.as_ref());
    let confirmations = build(include_str!("flows/rm-confirmations.json"))?;
    let replies = build(include_str!("flows/rm-replies.json"))?;

    // The stand-ins answer the ERP named in the connections, at a fixed instant.
    let graph = Arc::new(WhatsAppFake::new());
    let erp_url = serde_json::from_str::<Value>(CONNECTIONS)?["rm"]["base_url"].clone();
    let erp_url = erp_url.as_str().ok_or("rm-connections.json: rm.base_url")?;
    let stand_in = (!live)
        .then(|| erp::stand_in(erp_url, graph.clone()))
        .transpose()?;
    let ctx = match &stand_in {
        None => Context::new(ReqwestClient::new()?, TokioClock, MemoryStore::new()),
        Some(client) => {
            let clock = ManualClock::new("2026-03-02T10:00:00Z".parse()?);
            Context::new(client.clone(), clock, MemoryStore::new())
        }
    };

    let next = confirmations
        .trigger()
        .next_due("2026-03-02T10:30:00Z".parse()?);
    println!("== daily job (next due: {next:?})");
    let report = confirmations.run(&ctx).await?;
    for sent in graph.sent() {
        let components = &sent["template"]["components"];
        println!(
            "WhatsApp template to {}: {} {}",
            sent["to"], components[0]["parameters"], components[1]["parameters"][0]["payload"]
        );
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    if live {
        println!("the patients' answers arrive at your webhook; run the replies flow there");
        return Ok(());
    }

    // The patients answer: Meta posts signed webhooks to the host's endpoint.
    println!("== replies");
    let app_secret = SecretString::from("local-app-secret");
    let webhook = WhatsAppWebhook::new(SecretString::from("verify"), app_secret.clone());
    let mut records = Vec::new();
    for (id, from, appointment, payload, text) in [
        (
            "wamid.ANA",
            "5511999991001",
            "A-100",
            "confirm:A-100:2026-03-03",
            "Sim, confirmar",
        ),
        (
            "wamid.BRUNO",
            "5511999991002",
            "A-101",
            "cancel:A-101:2026-03-03",
            "Não, cancelar",
        ),
    ] {
        // The confirmation the patient answers: the message sent for that appointment.
        let context = report
            .records
            .iter()
            .find(|line| line.key.contains(appointment));
        let context = match context.map(|line| &line.outcome) {
            Some(Outcome::Delivered { receipt, .. }) => receipt.id.clone().unwrap_or_default(),
            _ => String::new(),
        };
        let message = whatsapp::button_reply(id, from, &context, payload, text);
        let body = whatsapp::notification(
            whatsapp::PHONE_NUMBER_ID,
            "Paciente",
            &json!(from),
            json!([message]),
        );
        let reply = webhook.handle(&whatsapp::signed("/hooks/whatsapp", &body, &app_secret));
        println!("webhook answered {} for {id}", reply.status);
        records.extend(reply.records);
    }
    let report = replies.process(&ctx, records).await;
    println!("{}", serde_json::to_string_pretty(&report)?);

    println!("== ERP calls");
    let erp_host = url::Url::parse(erp_url)?.host_str().map(str::to_owned);
    for request in stand_in.iter().flat_map(FakeClient::requests) {
        if request.url.host_str() == erp_host.as_deref() {
            println!("{}", local::line(&request));
        }
    }
    let delivered = report.counts.delivered;
    if delivered != 2 {
        return Err(format!("expected both answers applied, got {delivered}").into());
    }
    Ok(())
}
