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
//! The default flow is the JSON spec `examples/flows/wo-assigned.json`: source
//! `fracttal.work_order_assignments` (a task's responsible set or changed, whenever that
//! happens), a lookup of the responsible's phone in the team directory (a map in the spec;
//! a responsible not in it is skipped with the reason), and the `wo_assignment` template
//! filled with `responsible`, `wo_folio`, `task_todo_description`, `creation_date`,
//! `created_by`, `responsible` and `item_description` (the seven fields of the Hub's
//! mapping screen).
//!
//! With no environment set it starts local stand-ins of both APIs on 127.0.0.1 with data
//! for the chosen flow, and prints each WhatsApp request the stand-in received and the
//! reports: what was delivered, and what was skipped with its reason. Nothing leaves the
//! machine. For `wo-assigned`, four work orders are created unassigned; the first poll
//! learns them; then they are assigned (two to Jonas Campos, one to Marta Lima, one to
//! Rafael Costa, a contractor the directory does not have) and Fracttal's Automator rule
//! *WO assigned* forwards the rows: the three for the team are delivered at once, to the
//! phones the directory gives, and Rafael's is skipped; the next poll sees the same
//! assignments, and the store's claims answer the three as duplicates: the event and the
//! poll of one assignment send one message.
//! `wo-status-changed` also runs twice: the first run learns the statuses, the second
//! finds the changes.
//!
//! What the flow has delivered, its cursor and its run history are kept in a SQLite file
//! (`hubflow-example.db` in the system's temporary directory, or the path after
//! `--store`), so running the example a second time finds the forwarded assignments
//! delivered already and reports each as a duplicate, and the poll finds nothing new:
//! nothing is sent twice, whatever restarts in between. Delete the file to start over.
//!
//! To run it for real, set `FRACTTAL_KEY`, `FRACTTAL_SECRET` (an OAuth client of type
//! Client Credentials), `WHATSAPP_TOKEN` and `WHATSAPP_PHONE_NUMBER_ID`, and put your
//! team in the spec's directory, or point its lookup at your staff API (`http.json`) or at
//! a directory kind of your own (`Registry::register_directory`); see docs/fracttal.md. A
//! fixed recipient also works, as Fracttal Hub's "Recipient Phone Number" does:
//! `"to": "5511999991234"` (the other three specs send to a maintenance manager's number
//! written that way: put yours in).

use std::path::PathBuf;
use std::time::Duration;

use hubflow::fracttal::{EventRecords, EventSource};
use hubflow::http::{Method, ReqwestClient};
use hubflow::spec::{Connections, EnvSecrets, MapSecrets, Registry, SecretResolver};
use hubflow::{
    Context, FlowSpec, InboundRequest, RunReport, SqliteStore, TokioClock, WebhookSource,
};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The four notification flows, by name.
const FLOWS: [(&str, &str); 4] = [
    ("wo-assigned", include_str!("flows/wo-assigned.json")),
    (
        "wo-status-changed",
        include_str!("flows/wo-status-changed.json"),
    ),
    (
        "critical-reading",
        include_str!("flows/critical-reading.json"),
    ),
    (
        "new-work-request",
        include_str!("flows/new-work-request.json"),
    ),
];

/// What the command line asks for.
struct Args {
    /// The flow's name and its JSON spec.
    flow: (&'static str, &'static str),
    /// The SQLite file that keeps the store.
    store: PathBuf,
}

/// `[--flow <name>] [--store <path>]`: the flow (`wo-assigned` without it) and the store's
/// file (`hubflow-example.db` in the temporary directory without it).
fn parse_args() -> Result<Args, String> {
    let usage = "usage: [--flow <name>] [--store <path>]";
    let mut args = std::env::args().skip(1);
    let mut name = None;
    let mut store = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--flow" => name = Some(args.next().ok_or("--flow needs a name")?),
            "--store" => store = Some(PathBuf::from(args.next().ok_or("--store needs a path")?)),
            _ => match arg.strip_prefix("--flow=") {
                Some(value) => name = Some(value.to_owned()),
                None => return Err(format!("unknown argument `{arg}`; {usage}")),
            },
        }
    }
    let name = name.unwrap_or_else(|| "wo-assigned".to_owned());
    let flow = FLOWS
        .iter()
        .copied()
        .find(|(known, _)| *known == name)
        .ok_or_else(|| {
            let names: Vec<&str> = FLOWS.iter().map(|(known, _)| *known).collect();
            format!("unknown flow `{name}`; one of {}", names.join(", "))
        })?;
    let store = store.unwrap_or_else(|| std::env::temp_dir().join("hubflow-example.db"));
    Ok(Args { flow, store })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Args {
        flow: (name, spec),
        store,
    } = parse_args()?;
    let live = [
        "FRACTTAL_KEY",
        "FRACTTAL_SECRET",
        "WHATSAPP_TOKEN",
        "WHATSAPP_PHONE_NUMBER_ID",
    ]
    .iter()
    .all(|name| std::env::var(name).is_ok_and(|v| !v.is_empty()));

    let mut connections = Connections::new();
    let secrets: Box<dyn SecretResolver>;
    // Held so the stand-ins keep serving until the end of main.
    let mut stand_ins = None;
    if live {
        connections.insert(
            "fracttal",
            json!({"client_id": {"secret": "FRACTTAL_KEY"}, "client_secret": {"secret": "FRACTTAL_SECRET"}}),
        );
        let phone_number_id = std::env::var("WHATSAPP_PHONE_NUMBER_ID")?;
        connections.insert(
            "whatsapp",
            json!({"phone_number_id": phone_number_id, "access_token": {"secret": "WHATSAPP_TOKEN"}}),
        );
        secrets = Box::new(EnvSecrets::new());
    } else {
        println!("no credentials set: running against local stand-ins of Fracttal and the WhatsApp Cloud API\n");
        let (fracttal, whatsapp) = start_stand_ins(name).await;
        connections.insert(
            "fracttal",
            json!({
                "client_id": {"secret": "FRACTTAL_KEY"},
                "client_secret": {"secret": "FRACTTAL_SECRET"},
                "base_url": format!("{}/api/", fracttal.uri()),
                "token_url": format!("{}/oauth/token", fracttal.uri())
            }),
        );
        connections.insert(
            "whatsapp",
            json!({"phone_number_id": "106540352242922", "access_token": {"secret": "WHATSAPP_TOKEN"},
                   "base_url": whatsapp.uri()}),
        );
        secrets = Box::new(
            MapSecrets::new()
                .with("FRACTTAL_KEY", "stand-in-key")
                .with("FRACTTAL_SECRET", "stand-in-secret")
                .with("WHATSAPP_TOKEN", "stand-in-token"),
        );
        stand_ins = Some((fracttal, whatsapp));
    }

    // Every problem in the spec or the connections is reported at once, with its path.
    let flow =
        FlowSpec::from_json(spec)?.build(&Registry::default(), &connections, secrets.as_ref())?;
    // The embedded store: claims, cursors, windows and history survive a restart.
    let ctx = Context::new(
        ReqwestClient::new()?,
        TokioClock,
        SqliteStore::open(&store).await?,
    );

    println!("flow `{name}` ({}), store {}", flow.id(), store.display());
    let earlier_runs = flow.history(&ctx, 1).await?.len();
    if let (Some((fracttal, _)), "wo-assigned") = (&stand_ins, name) {
        mount_assignments(fracttal, earlier_runs == 0).await;
    }
    let learns = match name {
        "wo-status-changed" => true,
        "wo-assigned" => earlier_runs == 0,
        _ => false,
    };
    if learns {
        // A change is a value that differs from the one seen before: the first run only
        // learns the open work orders (in production the host runs the flow every few
        // minutes, and the cursor in the store remembers).
        let first = flow.run(&ctx).await?;
        println!(
            "first run: learnt the followed tasks, {} records\n",
            first.counts.received
        );
    }
    let mut reports: Vec<(&str, RunReport)> = Vec::new();
    if let (Some(_), "wo-assigned") = (&stand_ins, name) {
        // Fracttal's Automator rule "WO assigned" forwards the assigned rows to the host's
        // endpoint (a Fracttal Hub HTTP request); the host hands the records to the flow.
        let hook = EventSource::new().records(EventRecords::Assignment);
        let reply = hook.handle(&InboundRequest::new(
            Method::Post,
            "/hooks/fracttal",
            assigned_rows().to_string(),
        ));
        println!("Automator event: answered {}, delivering…\n", reply.status);
        reports.push(("Automator event", flow.process(&ctx, reply.records).await));
    }
    println!(
        "polling Fracttal and delivering (WhatsApp paces messages to one recipient 6 s apart)…\n"
    );
    let mut report = flow.run(&ctx).await?;
    let follows_changes = matches!(name, "wo-assigned" | "wo-status-changed");
    if !follows_changes && earlier_runs > 0 && report.counts.received == 0 {
        // The cursor saved by the earlier run starts after the rows it saw. Replaying from
        // the start, as a host would after losing the cursor in a crash, shows the claims
        // holding: every row delivered before is a duplicate.
        println!(
            "the saved cursor starts after the rows an earlier run saw; replaying from \
             the start, as after a crash that lost the cursor…\n"
        );
        report = flow.replay(&ctx, None).await?;
    }
    reports.push(("poll", report));

    if let Some((_, whatsapp)) = &stand_ins {
        for request in whatsapp.received_requests().await.unwrap_or_default() {
            let body: Value = serde_json::from_slice(&request.body)?;
            println!(
                "WhatsApp request: {} {}",
                request.method,
                request.url.path()
            );
            println!("{}\n", serde_json::to_string_pretty(&body)?);
        }
    }
    for (what, report) in &reports {
        println!(
            "{what} report:\n{}\n",
            serde_json::to_string_pretty(report)?
        );
    }
    for (what, report) in &reports {
        let counts = &report.counts;
        println!(
            "{what}: {} delivered, {} duplicates (delivered before), {} skipped, {} failed",
            counts.delivered, counts.duplicate, counts.skipped, counts.failed
        );
    }
    if reports
        .iter()
        .any(|(_, report)| report.counts.delivered > 0)
    {
        println!("run it again: the store remembers these deliveries, so none is sent twice");
    }
    Ok(())
}

/// Fracttal (token endpoint and the endpoints the chosen flow reads) and the Graph API
/// (messages endpoint), on 127.0.0.1.
async fn start_stand_ins(flow: &str) -> (MockServer, MockServer) {
    let fracttal = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "stand-in-access-token", "token_type": "Bearer", "expires_in": 7200}),
        ))
        .mount(&fracttal)
        .await;
    match flow {
        "wo-status-changed" => mount_status_changes(&fracttal).await,
        "critical-reading" => mount_readings(&fracttal).await,
        "new-work-request" => mount_work_requests(&fracttal).await,
        // Assignments are mounted once the store says whether this is the first run.
        _ => {}
    }

    let whatsapp = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v23.0/106540352242922/messages"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": "5511999991234", "wa_id": "5511999991234"}],
                    "messages": [{"id": "wamid.HBgNNTUxMTk5OTk5MTIzNBUCABEYEjQ4QUZCRjU2RjdDRTNGMDM4NQA="}]
                }))
                .set_delay(Duration::from_millis(50)),
        )
        .mount(&whatsapp)
        .await;
    (fracttal, whatsapp)
}

fn envelope(rows: Value) -> ResponseTemplate {
    let total = rows.as_array().map_or(0, Vec::len);
    ResponseTemplate::new(200)
        .set_body_json(json!({"success": true, "message": "200", "data": rows, "total": total}))
}

/// An instant `seconds` before now, as Fracttal writes dates.
fn ago(seconds: i64) -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(seconds)).to_rfc3339()
}

/// Four work orders created this morning, assigned since: two to Jonas Campos, one to
/// Marta Lima, one to Rafael Costa (a contractor). The rows as Fracttal returns them, and as
/// its Automator forwards them: the responsible's name, no phone.
fn assigned_rows() -> Value {
    let created = ago(3600);
    json!([
        {"wo_folio": "OT-1021", "id_work_order": 4410, "id_work_orders_tasks": 90211, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Ana Souza", "user_assigned": "Jonas Campos",
         "description": "Replace the intake filter of pump 3",
         "items_log_description": "Centrifugal pump 3", "code": "PUMP-3"},
        {"wo_folio": "OT-1022", "id_work_order": 4411, "id_work_orders_tasks": 90212, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Ana Souza", "user_assigned": "Marta Lima",
         "description": "Lubricate the conveyor bearings",
         "items_log_description": "Conveyor 7", "code": "CONV-7"},
        {"wo_folio": "OT-1023", "id_work_order": 4412, "id_work_orders_tasks": 90213, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Carlos Dias", "user_assigned": "Jonas Campos",
         "description": "Inspect the fire pump",
         "items_log_description": "Fire pump", "code": "FIRE-1"},
        {"wo_folio": "OT-1024", "id_work_order": 4413, "id_work_orders_tasks": 90214, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Carlos Dias", "user_assigned": "Rafael Costa",
         "description": "Replace the roof fan belt",
         "items_log_description": "Roof fan 2", "code": "FAN-2"}
    ])
}

/// "Query tasks in WOs": on a first run (`unassigned_first`), the first poll finds the
/// three work orders unassigned; every later poll finds them assigned.
async fn mount_assignments(fracttal: &MockServer, unassigned_first: bool) {
    if unassigned_first {
        let mut rows = assigned_rows();
        for row in rows.as_array_mut().into_iter().flatten() {
            row["user_assigned"] = json!("");
        }
        Mock::given(method("GET"))
            .and(path("/api/work_orders/"))
            .respond_with(envelope(rows))
            .up_to_n_times(1)
            .mount(fracttal)
            .await;
    }
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .respond_with(envelope(assigned_rows()))
        .mount(fracttal)
        .await;
}

/// "Query tasks in WOs" answering the first poll with three open work orders and every
/// later poll with one completed, one cancelled and one sent to review.
async fn mount_status_changes(fracttal: &MockServer) {
    let task = |folio: u32, status: u32, description: &str, asset: &str| {
        json!({"wo_folio": format!("OT-{folio}"), "id_work_order": folio + 3000,
               "id_work_orders_tasks": folio + 90000, "id_status_work_order": status,
               "creation_date": ago(2 * 24 * 3600), "created_by": "Ana Souza",
               "personnel_description": "Jonas Campos", "description": description,
               "items_log_description": asset})
    };
    let before = json!([
        task(
            1031,
            1,
            "Replace the intake filter of pump 3",
            "Centrifugal pump 3"
        ),
        task(1032, 2, "Align the conveyor belt", "Conveyor 7"),
        task(1033, 1, "Inspect the fire pump", "Fire pump"),
    ]);
    let after = json!([
        task(
            1031,
            3,
            "Replace the intake filter of pump 3",
            "Centrifugal pump 3"
        ),
        task(1032, 4, "Align the conveyor belt", "Conveyor 7"),
        task(1033, 2, "Inspect the fire pump", "Fire pump"),
    ]);
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .respond_with(envelope(before))
        .up_to_n_times(1)
        .mount(fracttal)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .respond_with(envelope(after))
        .mount(fracttal)
        .await;
}

/// The meters (with and without limits) and five new readings: one above its meter's
/// maximum, one below its minimum, one exactly at the maximum, one inside, one of a meter
/// without limits.
async fn mount_readings(fracttal: &MockServer) {
    let meters = json!([
        {"serial": "M-100", "description": "Discharge temperature", "units_code": "°C",
         "min_value": 10, "max_value": 80, "code": "COMP-2", "items_description": "Compressor 2"},
        {"serial": "M-200", "description": "Suction pressure", "units_code": "bar",
         "min_value": 2, "max_value": null, "code": "PUMP-3", "items_description": "Centrifugal pump 3"},
        {"serial": "M-300", "description": "Run hours", "is_counter": true, "units_code": "h",
         "min_value": null, "max_value": null, "code": "PUMP-3", "items_description": "Centrifugal pump 3"}
    ]);
    let readings = json!([
        {"serial": "M-100", "date": ago(50), "value": 95.5, "source": "API"},
        {"serial": "M-100", "date": ago(40), "value": 80, "source": "API"},
        {"serial": "M-100", "date": ago(30), "value": 64.2, "source": "API"},
        {"serial": "M-200", "date": ago(20), "value": 1.4, "source": "MANUAL"},
        {"serial": "M-300", "date": ago(10), "value": 15240, "source": "WORK_ORDER"}
    ]);
    Mock::given(method("GET"))
        .and(path("/api/meters_list"))
        .respond_with(envelope(meters))
        .mount(fracttal)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/meters_reading_list"))
        .respond_with(envelope(readings))
        .mount(fracttal)
        .await;
}

/// Three new work requests, two of them urgent.
async fn mount_work_requests(fracttal: &MockServer) {
    let requests = json!([
        {"id_code": 5012, "date": ago(40), "is_urgent": true, "description": "Water leaking under pump 3",
         "types_description": "Failure", "items_description": "Centrifugal pump 3",
         "requested_by": "Ana Souza", "email_requested_by": "ana.souza@example.com", "id_status": 1},
        {"id_code": 5013, "date": ago(30), "is_urgent": false, "description": "Repaint the handrail of stair B",
         "types_description": "Request", "items_description": "Building B",
         "requested_by": "Carlos Dias", "email_requested_by": "carlos.dias@example.com", "id_status": 1},
        {"id_code": 5014, "date": ago(20), "is_urgent": 1, "description": "Compressor 2 trips on high temperature",
         "types_description": "Failure", "items_description": "Compressor 2",
         "requested_by": "Marta Lima", "email_requested_by": "marta.lima@example.com", "id_status": 1}
    ]);
    Mock::given(method("GET"))
        .and(path("/api/work_requests"))
        .respond_with(envelope(requests))
        .mount(fracttal)
        .await;
}
