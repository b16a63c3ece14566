//! Booking a consultation 100 % over WhatsApp: the ready-made conversation of
//! `examples/flows/rm-booking.json`, played against local stand-ins of the clinic's RM and
//! of the WhatsApp Cloud API (`examples/support/clinic.rs`), printed as a transcript.
//!
//! ```text
//! cargo run --example rm_booking
//! ```
//!
//! Each patient message goes the way a real one does: a signed webhook body into
//! `WhatsAppWebhook`, its window remembered, the records into the conversation flow, which
//! calls the ERP and sends its prompts through Graph. The store is an embedded SQLite one.
//!
//! **With real credentials** the same flow runs in your webhook handler (on axum,
//! `hubflow::axum::WebhookRoute`, as `whatsapp_webhook` shows): the connections of
//! `examples/flows/rm-connections.json` with your installation's URL, user and number,
//! `EnvSecrets` for `RM_PASSWORD` and `WHATSAPP_TOKEN`, the app secret of your Meta app
//! for the webhook, and a scheduler that processes a `conversation::tick` every minute for
//! the idle timeouts. The sentence codes and DataServer names in the spec are the
//! installation's: docs/rm.md shows how to map them.

#[path = "support/clinic.rs"]
mod clinic;

use std::error::Error;

use clinic::{Clinic, Input, Patients, SCRIPT};
use hubflow::conversation::tick;
use hubflow::http::ReqwestClient;
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::whatsapp::remember_inbound;
use hubflow::whatsapp::webhook::WhatsAppWebhook;
use hubflow::WebhookSource;
use hubflow::{Context, Flow, FlowSpec, InboundRequest, ManualClock, Outcome, SqliteStore};
use secrecy::SecretString;

const APP_SECRET: &str = "app-secret";

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Tuesday 3 March 2026, 09:00 in São Paulo; the agenda has that day and the next.
    let clinic = Clinic::start(&["2026-03-03", "2026-03-04"]).await;
    let connections = Connections::from_json(&clinic.connections().to_string())?;
    let secrets = MapSecrets::new()
        .with("RM_PASSWORD", "integracao-senha")
        .with("WHATSAPP_TOKEN", "EAAG-local-stand-in");
    let spec = FlowSpec::from_json(include_str!("flows/rm-booking.json"))?;
    let flow = spec.build(&Registry::default(), &connections, &secrets)?;
    let clock = ManualClock::new("2026-03-03T12:00:00Z".parse()?);
    let store = SqliteStore::in_memory().await?;
    let ctx = Context::new(ReqwestClient::new()?, clock.clone(), store);
    let webhook =
        WhatsAppWebhook::new(SecretString::from("verify"), SecretString::from(APP_SECRET));

    let mut patients = Patients::new(clock, APP_SECRET);
    for step in SCRIPT {
        match patients.act(*step) {
            Some(Input::Webhook(request)) => on_webhook(&flow, &ctx, &webhook, &request).await?,
            // The scheduler's minute tick ends the conversations idle for too long.
            Some(Input::Tick(now)) => drop(flow.process(&ctx, vec![tick(now)]).await),
            None => {}
        }
        patients.read(clinic.take_sent());
    }
    Ok(())
}

/// What the host's webhook handler does: check and parse the request, remember the
/// conversation windows, run the flow, and look at what it did.
async fn on_webhook(
    flow: &Flow,
    ctx: &Context,
    webhook: &WhatsAppWebhook,
    request: &InboundRequest,
) -> Result<(), Box<dyn Error>> {
    let reply = webhook.handle(request);
    remember_inbound(ctx, &reply.records).await?;
    let report = flow.process(ctx, reply.records).await;
    for line in report.dead_letters() {
        println!("          (not handled: {line:?})");
    }
    for line in &report.records {
        if let Outcome::Delivered { receipt, .. } = &line.outcome {
            if receipt.details["step"] == "handed_off" {
                println!("          (a conversa está com um atendente: o assistente não responde)");
            }
        }
    }
    Ok(())
}
