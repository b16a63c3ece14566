//! A WhatsApp webhook endpoint: the subscription handshake, signed message intake, and a
//! flow that hands every button reply to the ERP.
//!
//! ```text
//! cargo run --example whatsapp_webhook -- --selftest   # sends itself a signed sample, prints, exits
//! cargo run --example whatsapp_webhook                  # serves http://127.0.0.1:3000/webhook
//! ```
//!
//! Environment:
//!
//! * `WHATSAPP_APP_SECRET`, `WHATSAPP_VERIFY_TOKEN`: the app secret that signs Meta's posts,
//!   and the verify token you typed in the App Dashboard. Required to serve; `--selftest`
//!   uses development values when they are not set.
//! * `HUBFLOW_ERP_URL`: where button replies are POSTed. Without it the deliveries are a
//!   dry run through the in-memory client.
//! * `PORT`: the port to serve on (3000).
//! * `HUBFLOW_STORE`: the SQLite file that keeps what was delivered and the conversation
//!   windows (`hubflow-webhook.db` in the temporary directory). Meta redelivers a webhook it
//!   thinks was lost: the store makes the redelivery a duplicate, across restarts. The
//!   self-test uses a store in memory, so that every self-test starts afresh.
//!
//! Meta needs an HTTPS URL with a valid certificate: put a TLS-terminating proxy or tunnel
//! in front of this server when trying it with a real app.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method as AxumMethod, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use hubflow::http::{HttpClient, Method, RecordingClient, ReqwestClient};
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::whatsapp::remember;
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
use hubflow::{
    Context, Flow, FlowSpec, InboundRequest, RunReport, SqliteStore, TokioClock, WebhookSource,
};
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

#[derive(Clone)]
struct App {
    webhook: Arc<WhatsAppWebhook>,
    flow: Flow,
    ctx: Context,
    reports: mpsc::UnboundedSender<RunReport>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let selftest = std::env::args().any(|arg| arg == "--selftest");
    // Development values only for the self-test: a server signed with a published secret
    // would accept anyone's posts.
    let app_secret = secret("WHATSAPP_APP_SECRET", "dev-app-secret", selftest)?;
    let verify_token = secret("WHATSAPP_VERIFY_TOKEN", "dev-verify-token", selftest)?;
    let erp_url = std::env::var("HUBFLOW_ERP_URL").ok();

    let mut connections = Connections::new();
    let base = erp_url
        .clone()
        .unwrap_or_else(|| "https://erp.example.com/api/".to_owned());
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
    let (reports, mut received) = mpsc::unbounded_channel();
    let app = App {
        webhook: Arc::new(WhatsAppWebhook::new(
            verify_token.clone(),
            app_secret.clone(),
        )),
        flow,
        ctx: Context::new(http, TokioClock, store),
        reports,
    };

    let port = if selftest {
        0
    } else {
        std::env::var("PORT")
            .ok()
            .and_then(|p| p.parse().ok())
            .unwrap_or(3000)
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    let address = listener.local_addr()?;
    let router = Router::new()
        .route("/webhook", any(webhook))
        .with_state(app);
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    println!("listening on http://{address}/webhook");

    if !selftest {
        while let Some(report) = received.recv().await {
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        return Ok(server.await??);
    }

    // --selftest: play Meta's part once, with a signature made from the same app secret.
    let client = reqwest::Client::new();
    let base = format!("http://{address}/webhook");
    let handshake = client
        .get(format!(
            "{base}?hub.mode=subscribe&hub.verify_token=dev-verify-token&hub.challenge=1158201444"
        ))
        .send()
        .await?;
    let status = handshake.status();
    println!("GET handshake: {status} {}", handshake.text().await?);
    if !status.is_success() {
        return Err(
            "the handshake was refused (is WHATSAPP_VERIFY_TOKEN set to something else?)".into(),
        );
    }
    let body = SAMPLE_BUTTON_REPLY.as_bytes();
    let signed = client
        .post(&base)
        .header("Content-Type", "application/json")
        .header("X-Hub-Signature-256", sign(&app_secret, body))
        .body(body)
        .send()
        .await?;
    println!("POST signed sample: {}", signed.status());
    let forged = client
        .post(&base)
        .header(
            "X-Hub-Signature-256",
            sign(&SecretString::from("wrong secret"), body),
        )
        .body(body)
        .send()
        .await?;
    println!("POST with a forged signature: {}", forged.status());
    let report = received.recv().await.ok_or("the flow never reported")?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if report.counts.delivered != 1 || forged.status() != StatusCode::UNAUTHORIZED {
        return Err("self-test failed".into());
    }
    println!("self-test passed");
    Ok(())
}

/// Both GET (handshake) and POST (events) on the callback URL.
async fn webhook(
    State(app): State<App>,
    method: AxumMethod,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let method = match method {
        AxumMethod::GET => Method::Get,
        AxumMethod::POST => Method::Post,
        _ => return StatusCode::METHOD_NOT_ALLOWED.into_response(),
    };
    let target = uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let mut request = InboundRequest::new(method, target, body);
    for (name, value) in &headers {
        if let Ok(value) = value.to_str() {
            request = request.header(name.as_str(), value);
        }
    }
    let reply = app.webhook.handle(&request);
    let records = reply.records;
    if !records.is_empty() {
        // Answer Meta first; it retries slow or failed answers for days.
        tokio::spawn(async move {
            if let Err(e) = remember(&app.ctx, &records).await {
                eprintln!("could not remember the windows, templates and opt-outs: {e}");
            }
            for record in &records {
                // What the ERP will receive for this record (secrets would show as [redacted]).
                match app.flow.plan(&app.ctx, record).await {
                    Ok(plan) => println!(
                        "{}: {}",
                        record.key,
                        serde_json::to_string(&plan).unwrap_or_default()
                    ),
                    Err(e) => println!("{}: {e}", record.key),
                }
            }
            let report = app.flow.process(&app.ctx, records).await;
            let _ = app.reports.send(report);
        });
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [("content-type", reply.content_type)], reply.body).into_response()
}

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

/// Meta's "Interactive Button Reply Message" example: a customer tapped "Cancel".
const SAMPLE_BUTTON_REPLY: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [{
    "id": "419561257915477",
    "changes": [{
      "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": [{
          "context": {"from": "15550783881", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"},
          "from": "16505551234",
          "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTZBQzg0MzQ4QjRCM0NGNkVGOAA=",
          "timestamp": "1750025136",
          "type": "interactive",
          "interactive": {"type": "button_reply", "button_reply": {"id": "cancel-button", "title": "Cancel"}}
        }]
      },
      "field": "messages"
    }]
  }]
}"#;
