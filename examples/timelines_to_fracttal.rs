//! WhatsApp conversations captured by TimelinesAI become work requests in Fracttal: a
//! customer (or a technician) writes "#request <what is wrong>" and the maintenance team
//! finds a work request with the text, the sender and the chat link.
//!
//! ```text
//! cargo run --example timelines_to_fracttal
//! ```
//!
//! It parses three webhook bodies (the two complete examples of TimelinesAI's v1 webhook
//! documentation and a v2 `message:received:new` event, in `examples/support/timelines.rs`),
//! prints the records and runs them through the flow. The documentation's messages do not
//! start with `#request`, so they are skipped with that reason; the v2 message becomes a
//! work request. Built without the `fracttal` feature, the same flow posts to a generic
//! HTTP endpoint instead.
//!
//! **With real credentials**: set `FRACTTAL_KEY` and `FRACTTAL_SECRET` (an OAuth client of
//! type Client Credentials) and the work request is created in your Fracttal account
//! (without the `fracttal` feature: `HUBFLOW_REQUESTS_URL`, the endpoint to post to).
//! **Without them** hubflow's fake of the API answers, and nothing leaves the machine. In
//! a host, the bodies come from the endpoint TimelinesAI calls, served by
//! `hubflow::timelines::TimelinesWebhook` (on axum: `hubflow::axum::WebhookRoute`).

#[path = "support/timelines.rs"]
mod timelines;

use std::error::Error;

use hubflow::http::{FakeClient, HttpClient, ReqwestClient};
use hubflow::timelines::webhook::parse;
use hubflow::{Context, DynTarget, FieldMap, Flow, MemoryStore, Record, Rule, TokioClock};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut records: Vec<Record> = Vec::new();
    for (name, body) in timelines::SAMPLE_BODIES {
        let parsed = parse(body.as_bytes())?;
        println!("== {name}: {} record(s)", parsed.len());
        for record in &parsed {
            let text = |path: &str| record.get(path).and_then(Value::as_str).unwrap_or("-");
            let (direction, sender) = (text("direction"), text("sender.name"));
            println!(
                "  {} [{}] {direction} from {sender}: {:?}",
                record.key,
                record.kind,
                text("text")
            );
        }
        records.extend(parsed);
    }

    let (target, stand_in) = target()?;
    let flow = Flow::builder("whatsapp-request-to-fracttal")
        // Only what customers send, and only when they ask for it.
        .when(Rule::parse(&json!({"all": [
            {"field": "direction", "op": "eq", "value": "received"},
            {"field": "text", "op": "starts_with", "value": "#request", "case_insensitive": true}
        ]}))?)
        .map(FieldMap::new(json!({
            "description": "{{ text | replace('#request', '') | trim | truncate(250) }}",
            "requested_by": "{{ sender.name | default(chat.name) }}",
            "observation": "WhatsApp {{ sender.phone | default('') }} via TimelinesAI: {{ chat.url | default('') }}",
            "date_incident": "{{ timestamp }}",
            "identifier": "{{ message_uid | default('') }}"
        }))?)
        .target(target)
        .build()?;

    let http: Box<dyn HttpClient> = match &stand_in {
        Some(client) => Box::new(client.clone()),
        None => Box::new(ReqwestClient::new()?),
    };
    let ctx = Context::new(http, TokioClock, MemoryStore::new());
    let report = flow.process(&ctx, records).await;
    for request in stand_in.iter().flat_map(FakeClient::requests) {
        if request.url.path().ends_with("requests") {
            println!(
                "\n== request received by the stand-in: {} {}",
                request.method,
                request.url.path()
            );
            println!("{}", serde_json::to_string_pretty(&request.json_body()?)?);
        }
    }
    println!(
        "\n== run report\n{}",
        serde_json::to_string_pretty(&report)?
    );
    Ok(())
}

/// The value of `name`, when it is set and not empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Fracttal's work requests, with the credentials in the environment; without them, a
/// client on development values and hubflow's fake of Fracttal to answer it.
#[cfg(feature = "fracttal")]
fn target() -> Result<(DynTarget, Option<FakeClient>), Box<dyn Error>> {
    use hubflow::fracttal::{fake::FracttalFake, FracttalClient, WorkRequestTarget};
    use secrecy::SecretString;
    let ((key, secret), stand_in) = match (var("FRACTTAL_KEY"), var("FRACTTAL_SECRET")) {
        (Some(key), Some(secret)) => ((key, secret), None),
        _ => {
            let fake = FakeClient::new().with(FracttalFake::new());
            (
                ("stand-in-key".into(), "stand-in-secret".into()),
                Some(fake),
            )
        }
    };
    let client =
        FracttalClient::builder(SecretString::from(key), SecretString::from(secret)).build();
    Ok((DynTarget::new(WorkRequestTarget::new(client)), stand_in))
}

/// A generic endpoint at `HUBFLOW_REQUESTS_URL`; without it, hubflow's fake of one.
#[cfg(not(feature = "fracttal"))]
fn target() -> Result<(DynTarget, Option<FakeClient>), Box<dyn Error>> {
    use hubflow::http_target::{fake::WebhookFake, HttpTarget};
    let (url, stand_in) = match var("HUBFLOW_REQUESTS_URL") {
        Some(url) => (url, None),
        None => (
            "https://erp.example.com/api/requests".to_owned(),
            Some(FakeClient::new().with(WebhookFake::new("/api/requests"))),
        ),
    };
    Ok((DynTarget::new(HttpTarget::new(url.parse()?)), stand_in))
}
