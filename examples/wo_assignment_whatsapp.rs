//! The headline flow: a work order assigned in Fracttal One becomes an approved WhatsApp
//! template message to the responsible person, as in Fracttal Hub's "WO assignment" flow;
//! and, with `--flow`, the other notifications of the Fracttal Hub WhatsApp article.
//!
//! ```text
//! cargo run --example wo_assignment_whatsapp
//! cargo run --example wo_assignment_whatsapp -- --flow wo-status-changed
//! cargo run --example wo_assignment_whatsapp -- --flow critical-reading
//! cargo run --example wo_assignment_whatsapp -- --flow new-work-request
//! cargo run --example wo_assignment_whatsapp -- --store ./hubflow.db
//! ```
//!
//! | `--flow` | spec in `examples/flows/` | notification |
//! |---|---|---|
//! | `wo-assigned` (default) | `wo-assigned.json` | assignment of new tasks |
//! | `wo-status-changed` | `wo-status-changed.json` | status change or completion of work orders |
//! | `critical-reading` | `critical-reading.json` | critical alerts: readings outside the range |
//! | `new-work-request` | `new-work-request.json` | specific requests and inquiries |
//!
//! `wo-assigned.json` reads `fracttal.work_order_assignments` (a task's responsible set or
//! changed, whenever that happens), looks the responsible's phone up in the team directory
//! (a map in the spec; a responsible not in it is skipped with the reason) and sends the
//! `wo_assignment` template with the seven fields of the Hub's mapping screen.
//!
//! **With real credentials**: set `FRACTTAL_KEY`, `FRACTTAL_SECRET` (an OAuth client of
//! type Client Credentials), `WHATSAPP_TOKEN` and `WHATSAPP_PHONE_NUMBER_ID`, and put your
//! team in the spec's directory (or point its lookup at your staff API, `http.json`, or at
//! a directory kind of your own, `Registry::register_directory`; see docs/fracttal.md). The
//! other three specs send to a maintenance manager's number written in them: put yours in.
//!
//! **Without them** the same flows run against local stand-ins of Fracttal and of the
//! WhatsApp Cloud API (`examples/support/`), nothing leaves the machine, and the example
//! prints each WhatsApp request and the reports. For `wo-assigned`, four work orders are
//! created unassigned; the first poll learns them; then they are assigned (two to Jonas
//! Campos, one to Marta Lima, one to Rafael Costa, a contractor the directory does not
//! have) and Fracttal's Automator rule *WO assigned* forwards the rows: the three for the
//! team are delivered at once, Rafael's is skipped; the next poll sees the same
//! assignments and the store's claims answer them as duplicates.
//!
//! What was delivered, the cursor and the run history are kept in a SQLite file
//! (`hubflow-example.db` in the temporary directory, or `--store <path>`): a second run
//! finds the forwarded assignments delivered already, and nothing is sent twice, whatever
//! restarts in between. Delete the file to start over.

#[path = "support/fracttal.rs"]
mod fracttal;
#[path = "support/local.rs"]
mod local;

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;

use hubflow::fracttal::{EventRecords, EventSource};
use hubflow::http::{FakeClient, HttpClient, Method, ReqwestClient};
use hubflow::spec::{Connections, EnvSecrets, Registry, SecretResolver};
use hubflow::whatsapp::fake::WhatsAppFake;
use hubflow::{
    Context, FlowSpec, HistoryStore, InboundRequest, SqliteStore, TokioClock, WebhookSource,
};
use serde_json::json;

/// The credentials of a real run, by the names the connections give them.
const CREDENTIALS: [&str; 4] = [
    "FRACTTAL_KEY",
    "FRACTTAL_SECRET",
    "WHATSAPP_TOKEN",
    "WHATSAPP_PHONE_NUMBER_ID",
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let (name, spec, store_path) = parse_args()?;
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let live = CREDENTIALS.iter().all(|name| var(name).is_some());

    // The same connections either way: secrets by name, the providers' own URLs.
    let number = var("WHATSAPP_PHONE_NUMBER_ID").unwrap_or_else(|| "106540352242922".into());
    let connections = Connections::from_json(&json!({
        "fracttal": {"client_id": {"secret": "FRACTTAL_KEY"}, "client_secret": {"secret": "FRACTTAL_SECRET"}},
        "whatsapp": {"phone_number_id": number, "access_token": {"secret": "WHATSAPP_TOKEN"}}
    }).to_string())?;
    let secrets: Box<dyn SecretResolver> = if live {
        Box::new(EnvSecrets::new())
    } else {
        Box::new(local::stand_in_secrets(&CREDENTIALS))
    };
    // Every problem in the spec or the connections is reported at once, with its path.
    let registry = Registry::default();
    let flow = FlowSpec::from_json(spec)?.build(&registry, &connections, secrets.as_ref())?;

    // The embedded store: claims, cursors, windows and history survive a restart.
    let store = SqliteStore::open(&store_path).await?;
    let first_run = store.recent_history(flow.id(), 1).await?.is_empty();
    let stand_in = (!live).then(|| {
        println!("no credentials set: running against local stand-ins of Fracttal and the WhatsApp Cloud API\n");
        FakeClient::from_fakes(fracttal::stand_in(&name, first_run))
            .with_arc(Arc::new(WhatsAppFake::new()))
    });
    let http: Box<dyn HttpClient> = match &stand_in {
        Some(client) => Box::new(client.clone()),
        None => Box::new(ReqwestClient::new()?),
    };
    let ctx = Context::new(http, TokioClock, store);
    println!(
        "flow `{name}` ({}), store {}",
        flow.id(),
        store_path.display()
    );

    // A change is a value that differs from the one seen before: a first run only learns
    // the followed tasks (a host runs the flow every few minutes; the cursor remembers).
    if name == "wo-status-changed" || (name == "wo-assigned" && first_run) {
        let first = flow.run(&ctx).await?;
        println!(
            "first run: learnt the followed tasks, {} records\n",
            first.counts.received
        );
    }
    let mut reports = Vec::new();
    if stand_in.is_some() && name == "wo-assigned" {
        // Fracttal's Automator rule "WO assigned" posts the assigned rows to the host's
        // endpoint (a Fracttal Hub HTTP request); the host hands the records to the flow.
        let event = InboundRequest::new(
            Method::Post,
            "/hooks/fracttal",
            fracttal::assigned_rows().to_string(),
        );
        let reply = EventSource::new()
            .records(EventRecords::Assignment)
            .handle(&event);
        println!("Automator event: answered {}, delivering…\n", reply.status);
        reports.push(("Automator event", flow.process(&ctx, reply.records).await));
    }
    println!(
        "polling Fracttal and delivering (WhatsApp paces messages to one recipient 6 s apart)…\n"
    );
    let mut report = flow.run(&ctx).await?;
    let follows_changes = matches!(name.as_str(), "wo-assigned" | "wo-status-changed");
    if !follows_changes && !first_run && report.counts.received == 0 {
        // The saved cursor starts after the rows an earlier run saw. Replaying from the
        // start, as after a crash that lost the cursor, shows the claims holding.
        println!("the saved cursor starts after the rows an earlier run saw; replaying from the start, as after a crash that lost the cursor…\n");
        report = flow.replay(&ctx, None).await?;
    }
    reports.push(("poll", report));

    for request in stand_in.iter().flat_map(FakeClient::requests) {
        if request.url.path().ends_with("/messages") {
            local::show("WhatsApp request", &request);
        }
    }
    local::print_reports(&reports)?;
    if reports
        .iter()
        .any(|(_, report)| report.counts.delivered > 0)
    {
        println!("run it again: the store remembers these deliveries, so none is sent twice");
    }
    Ok(())
}

/// `[--flow <name>] [--store <path>]`: the flow and its spec (`wo-assigned` without it)
/// and the store's file (`hubflow-example.db` in the temporary directory without it).
fn parse_args() -> Result<(String, &'static str, PathBuf), String> {
    let (mut name, mut store) = ("wo-assigned".to_owned(), None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--flow" => name = args.next().ok_or("--flow needs a name")?,
            "--store" => store = Some(PathBuf::from(args.next().ok_or("--store needs a path")?)),
            _ => {
                return Err(format!(
                    "unknown argument `{arg}`; usage: [--flow <name>] [--store <path>]"
                ))
            }
        }
    }
    let spec = match name.as_str() {
        "wo-assigned" => include_str!("flows/wo-assigned.json"),
        "wo-status-changed" => include_str!("flows/wo-status-changed.json"),
        "critical-reading" => include_str!("flows/critical-reading.json"),
        "new-work-request" => include_str!("flows/new-work-request.json"),
        _ => return Err(format!("unknown flow `{name}`; one of wo-assigned, wo-status-changed, critical-reading, new-work-request")),
    };
    let store = store.unwrap_or_else(|| std::env::temp_dir().join("hubflow-example.db"));
    Ok((name, spec, store))
}
