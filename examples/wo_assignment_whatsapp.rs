//! The headline flow: a work order assigned in Fracttal One becomes an approved WhatsApp
//! template message to the responsible person, as in Fracttal Hub's "WO assignment" flow.
//!
//! ```text
//! cargo run --example wo_assignment_whatsapp
//! ```
//!
//! The flow is the JSON spec `examples/flows/wo-assigned.json`: trigger *New WO*, source
//! "Query tasks in work orders", condition *Responsible is equal to Jonas Campos*, and the
//! `wo_assignment` template filled with `user_assigned`, `wo_folio`,
//! `task_todo_description`, `creation_date`, `created_by`, `user_assigned` and
//! `item_description` (the seven fields of the Hub's mapping screen).
//!
//! With no environment set it starts local stand-ins of both APIs on 127.0.0.1, with three
//! new work orders (two for Jonas Campos, one for someone else), and prints each WhatsApp
//! request the stand-in received and the run report: two delivered, one skipped with its
//! reason. Nothing leaves the machine.
//!
//! To run it for real, set `FRACTTAL_KEY`, `FRACTTAL_SECRET` (an OAuth client of type
//! Client Credentials), `WHATSAPP_TOKEN` and `WHATSAPP_PHONE_NUMBER_ID`. Work-order rows
//! carry the responsible's phone number in `responsible_phone` here; where yours do not,
//! map `to` from the field that has it, or write the number itself, as Fracttal Hub's
//! "Recipient Phone Number" does: `"to": "5511999991234"`.

use std::time::Duration;

use hubflow::http::ReqwestClient;
use hubflow::spec::{Connections, EnvSecrets, MapSecrets, Registry, SecretResolver};
use hubflow::{Context, FlowSpec, MemoryStore, TokioClock};
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SPEC: &str = include_str!("flows/wo-assigned.json");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
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
        let (fracttal, whatsapp) = start_stand_ins().await;
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
        FlowSpec::from_json(SPEC)?.build(&Registry::default(), &connections, secrets.as_ref())?;
    let ctx = Context::new(ReqwestClient::new()?, TokioClock, MemoryStore::new());

    println!(
        "polling Fracttal and delivering (WhatsApp paces messages to one recipient 6 s apart)…\n"
    );
    let report = flow.run(&ctx).await?;

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
    println!("run report:\n{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

/// Fracttal (token endpoint and "Query tasks in WOs" with three new rows) and the Graph API
/// (messages endpoint), on 127.0.0.1.
async fn start_stand_ins() -> (MockServer, MockServer) {
    let fracttal = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "stand-in-access-token", "token_type": "Bearer", "expires_in": 7200}),
        ))
        .mount(&fracttal)
        .await;
    // New work orders are created moments before the poll.
    let created = (chrono::Utc::now() - chrono::Duration::seconds(20)).to_rfc3339();
    let rows = json!([
        {"wo_folio": "OT-1021", "id_work_order": 4410, "id_work_orders_tasks": 90211, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Ana Souza", "user_assigned": "Jonas Campos",
         "responsible_phone": "(11) 99999-1234", "description": "Replace the intake filter of pump 3",
         "items_log_description": "Centrifugal pump 3", "code": "PUMP-3"},
        {"wo_folio": "OT-1022", "id_work_order": 4411, "id_work_orders_tasks": 90212, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Ana Souza", "user_assigned": "Marta Lima",
         "responsible_phone": "(21) 98888-4321", "description": "Lubricate the conveyor bearings",
         "items_log_description": "Conveyor 7", "code": "CONV-7"},
        {"wo_folio": "OT-1023", "id_work_order": 4412, "id_work_orders_tasks": 90213, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Carlos Dias", "user_assigned": "Jonas Campos",
         "responsible_phone": "+55 11 99999-1234", "description": "Inspect the fire pump",
         "items_log_description": "Fire pump", "code": "FIRE-1"}
    ]);
    Mock::given(method("GET"))
        .and(path("/api/work_orders/"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"success": true, "message": "200", "data": rows, "total": 3}),
            ),
        )
        .mount(&fracttal)
        .await;

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
