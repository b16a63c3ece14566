//! A Fracttal-style work-order flow delivered to any JSON webhook, built from a JSON spec.
//!
//! ```text
//! cargo run --example http_webhook
//! ```
//!
//! With no environment set it is a dry run: it prints what would be sent for three sample
//! work orders (two assigned to the person in the condition, one to someone else) and the
//! run report, and sends nothing. To deliver for real, set
//!
//! * `HUBFLOW_WEBHOOK_URL`: the base URL of your endpoint (the spec adds `hooks/work-orders`);
//! * `HUBFLOW_WEBHOOK_TOKEN`: the `Authorization` header value (never printed).
//!
//! The three work orders stand in for what your source yields (Fracttal's rows, in
//! `examples/support/fracttal.rs`); a dry run answers each request with hubflow's fake of
//! the endpoint.

#[path = "support/fracttal.rs"]
mod fracttal;
#[path = "support/local.rs"]
mod local;

use hubflow::http::ReqwestClient;
use hubflow::spec::{Connections, EnvSecrets, MapSecrets, Registry, SecretResolver};
use hubflow::{Context, FlowSpec, MemoryStore, Plan, TokioClock};
use serde_json::json;

const SPEC: &str = include_str!("flows/http_webhook.json");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let live_url = std::env::var("HUBFLOW_WEBHOOK_URL").ok();

    // Specs hold names; the host decides where values come from. In a dry run no secret is
    // needed, so a stand-in fills the slot (it would be redacted in the output anyway).
    let secrets: Box<dyn SecretResolver> = match live_url {
        Some(_) => Box::new(EnvSecrets::new()),
        None => Box::new(MapSecrets::new().with("HUBFLOW_WEBHOOK_TOKEN", "dry-run-token")),
    };
    // A base URL without its trailing `/` would lose its last segment to the spec's path.
    let base_url = live_url
        .as_deref()
        .unwrap_or("https://ops.example.com/api/");
    let base_url = format!("{}/", base_url.trim_end_matches('/'));
    let mut connections = Connections::new();
    connections.insert("ops", json!({"base_url": base_url}));

    // Every problem in the spec is reported at once, each with its JSON path.
    let spec = FlowSpec::from_json(SPEC)?;
    let flow = spec.build(&Registry::default(), &connections, secrets.as_ref())?;

    let ctx = Context::new(ReqwestClient::new()?, TokioClock, MemoryStore::new());
    let records = fracttal::sample_work_orders();
    println!("== plan ({} records)", records.len());
    for record in &records {
        match flow.plan(&ctx, record).await {
            Ok(Plan::Send(request)) => println!(
                "{}: send\n{}",
                record.key,
                serde_json::to_string_pretty(&request)?
            ),
            Ok(Plan::Skip(reason)) => println!("{}: skip, {reason}", record.key),
            Err(e) => println!("{}: fails, {e}", record.key),
        }
    }

    if live_url.is_none() {
        // A dry run executes the flow against a fake of the endpoint: the requests it shows
        // are the ones a real run sends, in order, and nothing leaves this machine.
        let dry = flow.dry_run(&ctx, records).await;
        println!("== dry run: requests per record (nothing left this machine)");
        for record in &dry.records {
            println!(
                "{}: {}",
                record.key,
                serde_json::to_string_pretty(&record.requests)?
            );
        }
        println!("== report");
        println!("{}", serde_json::to_string_pretty(&dry.report)?);
        return Ok(());
    }
    let report = flow.process(&ctx, records).await;
    println!("== report");
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
