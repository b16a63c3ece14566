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

use hubflow::http::ReqwestClient;
use hubflow::spec::{Connections, EnvSecrets, MapSecrets, Registry, SecretResolver};
use hubflow::{Context, FlowSpec, MemoryStore, Plan, Record, TokioClock};
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
    let base_url = live_url
        .clone()
        .unwrap_or_else(|| "https://ops.example.com/api/".to_owned());
    let mut connections = Connections::new();
    connections.insert("ops", json!({"base_url": with_slash(base_url)}));

    // Every problem in the spec is reported at once, each with its JSON path.
    let spec = FlowSpec::from_json(SPEC)?;
    let flow = spec.build(&Registry::default(), &connections, secrets.as_ref())?;

    let ctx = Context::new(ReqwestClient::new()?, TokioClock, MemoryStore::new());
    let records = sample_work_orders();
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

fn with_slash(mut url: String) -> String {
    if !url.ends_with('/') {
        url.push('/');
    }
    url
}

/// Three work-order task rows shaped like Fracttal's `GET /api/work_orders/` output.
fn sample_work_orders() -> Vec<Record> {
    let rows = [
        json!({"id_work_orders_tasks": 5001, "id_status_work_order": 1, "wo_folio": "OT-1021",
               "user_assigned": "Jonas Campos", "responsible_phone": "(11) 99999-1234",
               "task_todo_description": "Replace the air filter of chiller 2 and check the refrigerant pressure",
               "creation_date": "2026-03-02T11:15:00+00:00", "created_by": "Ana Souza",
               "item_description": "Chiller 2 - Building A"}),
        json!({"id_work_orders_tasks": 5002, "id_status_work_order": 1, "wo_folio": "OT-1022",
               "user_assigned": "Marta Lima", "responsible_phone": "(21) 98888-4321",
               "task_todo_description": "Lubricate conveyor bearings",
               "creation_date": "2026-03-02T12:40:00+00:00", "created_by": "Ana Souza",
               "item_description": "Conveyor 7"}),
        json!({"id_work_orders_tasks": 5003, "id_status_work_order": 2, "wo_folio": "OT-1023",
               "user_assigned": "jonas campos", "responsible_phone": "+55 11 99999-1234",
               "task_todo_description": "Inspect fire pump",
               "creation_date": "2026-03-02T13:05:00+00:00", "created_by": "Carlos Dias"}),
    ];
    rows.into_iter()
        .map(|row| {
            let key = format!(
                "fracttal:wo:{}:{}",
                row["id_work_orders_tasks"], row["id_status_work_order"]
            );
            Record::new(key, "fracttal.work_order", row)
        })
        .collect()
}
