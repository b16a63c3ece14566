//! A WhatsApp webhook endpoint on axum: the subscription handshake, signed message intake,
//! and a flow that hands every button reply to the ERP. `hubflow::axum::WebhookRoute`
//! checks and answers each request at once (Meta retries slow answers for days) and runs
//! the flow on a tokio task afterwards.
//!
//! ```text
//! cargo run --features axum --example whatsapp_webhook -- --selftest   # plays Meta once, prints, exits
//! cargo run --features axum --example whatsapp_webhook                  # serves http://127.0.0.1:3000/webhook
//! ```
//!
//! **With real credentials**, set:
//!
//! * `WHATSAPP_APP_SECRET`, `WHATSAPP_VERIFY_TOKEN`: the app secret that signs Meta's posts,
//!   and the verify token you typed in the App Dashboard. Required to serve; `--selftest`
//!   uses development values when they are not set.
//! * `HUBFLOW_ERP_URL`: where button replies are POSTed. Without it the deliveries go to
//!   an in-memory client that sends nothing.
//! * `PORT`: the port to serve on (3000).
//! * `HUBFLOW_STORE`: the SQLite file that keeps what was delivered and the conversation
//!   windows (`hubflow-webhook.db` in the temporary directory). Meta redelivers a webhook it
//!   thinks was lost: the store makes the redelivery a duplicate, across restarts. The
//!   self-test uses a store in memory, so that every self-test starts afresh.
//!
//! Meta needs an HTTPS URL with a valid certificate: put a TLS-terminating proxy or tunnel
//! in front of this server when trying it with a real app.

#[path = "support/whatsapp.rs"]
mod whatsapp;

use std::error::Error;
use std::net::SocketAddr;

use hubflow::axum::WebhookRoute;
use hubflow::http::{HttpClient, RecordingClient, ReqwestClient};
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::whatsapp::remember;
use hubflow::whatsapp::webhook::WhatsAppWebhook;
use hubflow::{Context, FlowSpec, Record, SqliteStore, TokioClock};
use secrecy::SecretString;
use tokio::sync::mpsc;

/// Button replies (quick replies on templates, reply buttons on interactive messages) go
/// to the ERP; every other message is skipped with its reason.
const FLOW: &str = r#"{
  "id": "whatsapp-button-replies",
  "when": {"all": [
    {"field": "reply_id", "op": "exists"},
    {"field": "reply_id", "op": "ne", "value": null}
  ]},
  "map": {
    "wamid": "{{ id }}",
    "from": "{{ from }}",
    "name": "{{ contact.name | default('') }}",
    "answer": "{{ reply_id }}",
    "answer_text": "{{ text | default('') }}",
    "in_reply_to": "{{ context_id | default('') }}",
    "at": "{{ timestamp }}"
  },
  "target": {"http.post": {"connection": "erp", "path": "whatsapp/replies"}}
}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let selftest = std::env::args().any(|arg| arg == "--selftest");
    // Development values only for the self-test: a server signed with a published secret
    // would accept anyone's posts.
    let app_secret = secret("WHATSAPP_APP_SECRET", "dev-app-secret", selftest)?;
    let verify_token = secret("WHATSAPP_VERIFY_TOKEN", "dev-verify-token", selftest)?;
    let erp_url = std::env::var("HUBFLOW_ERP_URL").ok();

    let mut connections = Connections::new();
    let base = erp_url.as_deref().unwrap_or("https://erp.example.com/api/");
    connections.insert("erp", serde_json::json!({"base_url": base}));
    let flow =
        FlowSpec::from_json(FLOW)?.build(&Registry::default(), &connections, &MapSecrets::new())?;
    let http: Box<dyn HttpClient> = match &erp_url {
        Some(_) => Box::new(ReqwestClient::new()?),
        None => Box::new(RecordingClient::new()),
    };
    let store = if selftest {
        SqliteStore::in_memory().await?
    } else {
        let path = std::env::var_os("HUBFLOW_STORE")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("hubflow-webhook.db"));
        println!("store: {}", path.display());
        SqliteStore::open(path).await?
    };
    let ctx = Context::new(http, TokioClock, store);

    // After the answer, on its own task: remember the windows, show the plans, deliver.
    let (reports, mut received) = mpsc::unbounded_channel();
    let webhook = WhatsAppWebhook::new(verify_token, app_secret.clone());
    let router: axum::Router = WebhookRoute::new(webhook)
        .on_records(move |records: Vec<Record>| {
            let (flow, ctx, reports) = (flow.clone(), ctx.clone(), reports.clone());
            async move {
                if let Err(e) = remember(&ctx, &records).await {
                    eprintln!("could not remember the windows, templates and opt-outs: {e}");
                }
                for record in &records {
                    // What the ERP will receive (secrets would show as [redacted]).
                    match flow.plan(&ctx, record).await {
                        Ok(plan) => println!("{}: {}", record.key, serde_json::json!(plan)),
                        Err(e) => println!("{}: {e}", record.key),
                    }
                }
                let _ = reports.send(flow.process(&ctx, records).await);
            }
        })
        .router("/webhook");

    let port = match (selftest, std::env::var("PORT")) {
        (true, _) => 0,
        (false, Ok(port)) => port.parse().map_err(|e| format!("PORT `{port}`: {e}"))?,
        (false, Err(_)) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let url = format!("http://{}/webhook", listener.local_addr()?);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    println!("listening on {url}");

    if !selftest {
        while let Some(report) = received.recv().await {
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        return Ok(server.await??);
    }
    // --selftest: play Meta's part once, with a signature made from the same app secret.
    whatsapp::act_as_meta(&url, "dev-verify-token", &app_secret).await?;
    let report = received.recv().await.ok_or("the flow never reported")?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report.counts.delivered != 1 {
        return Err("self-test failed: the button reply was not delivered".into());
    }
    println!("self-test passed");
    Ok(())
}

/// The secret in `name`; without it, `development` for the self-test, or an error.
fn secret(name: &str, development: &str, selftest: bool) -> Result<SecretString, String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(SecretString::from(value)),
        _ if selftest => {
            eprintln!("{name} is not set: the self-test uses a development value");
            Ok(SecretString::from(development.to_owned()))
        }
        _ => Err(format!("set {name} (or run with --selftest)")),
    }
}
