//! WhatsApp conversations captured by TimelinesAI become work requests in Fracttal: a
//! customer (or a technician) writes "#request <what is wrong>" and the maintenance team
//! finds a work request with the text, the sender and the chat link.
//!
//! ```text
//! cargo run --example timelines_to_fracttal
//! ```
//!
//! The default run parses three webhook bodies — the two complete examples of TimelinesAI's
//! v1 webhook documentation (a single message and an hourly bundle) and a v2
//! `message:received:new` event whose text starts with the keyword — prints the records,
//! and runs them through the flow against a local stand-in of Fracttal on 127.0.0.1. The
//! documentation's messages do not start with `#request`, so they are skipped with that
//! reason; the v2 message becomes a work request. Built without the `fracttal` feature, the
//! same flow posts to a generic HTTP endpoint instead.
//!
//! In a host, the body comes from the HTTP endpoint TimelinesAI calls, checked by
//! `hubflow::timelines::TimelinesWebhook` (URL token, size limit) before parsing.

use hubflow::http::ReqwestClient;
use hubflow::timelines::webhook::parse;
use hubflow::{Context, FieldMap, Flow, MemoryStore, Record, Rule, TokioClock};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const BODIES: [(&str, &str); 3] = [
    (
        "v1 single message",
        include_str!("payloads/timelines_v1_single.json"),
    ),
    (
        "v1 hourly bundle",
        include_str!("payloads/timelines_v1_bundle.json"),
    ),
    (
        "v2 message:received:new",
        include_str!("payloads/timelines_v2_request.json"),
    ),
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut records: Vec<Record> = Vec::new();
    for (name, body) in BODIES {
        let parsed = parse(body.as_bytes())?;
        println!("== {name}: {} record(s)", parsed.len());
        for record in &parsed {
            println!(
                "  {} [{}] {} from {}: {:?}",
                record.key,
                record.kind,
                record
                    .get("direction")
                    .and_then(|v| v.as_str())
                    .unwrap_or("-"),
                record
                    .get("sender.name")
                    .and_then(|v| v.as_str())
                    .unwrap_or("-"),
                record.get("text").and_then(|v| v.as_str()).unwrap_or(""),
            );
        }
        records.extend(parsed);
    }

    let stand_in = start_stand_in().await;
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
        .target(target(&stand_in)?)
        .build()?;

    let ctx = Context::new(ReqwestClient::new()?, TokioClock, MemoryStore::new());
    let report = flow.process(&ctx, records).await;
    for request in stand_in.received_requests().await.unwrap_or_default() {
        if request.url.path().ends_with("work_requests") || request.url.path().ends_with("requests")
        {
            println!(
                "\n== request received by the stand-in: {} {}",
                request.method,
                request.url.path()
            );
            let body: serde_json::Value = serde_json::from_slice(&request.body)?;
            println!("{}", serde_json::to_string_pretty(&body)?);
        }
    }
    println!(
        "\n== run report\n{}",
        serde_json::to_string_pretty(&report)?
    );
    Ok(())
}

#[cfg(feature = "fracttal")]
fn target(stand_in: &MockServer) -> Result<hubflow::DynTarget, Box<dyn std::error::Error>> {
    use hubflow::fracttal::{FracttalClient, WorkRequestTarget};
    use secrecy::SecretString;
    let client = FracttalClient::builder(
        SecretString::from("stand-in-key"),
        SecretString::from("stand-in-secret"),
    )
    .base_url(format!("{}/api/", stand_in.uri()).parse()?)
    .token_url(format!("{}/oauth/token", stand_in.uri()).parse()?)
    .build();
    Ok(hubflow::DynTarget::new(WorkRequestTarget::new(client)))
}

#[cfg(not(feature = "fracttal"))]
fn target(stand_in: &MockServer) -> Result<hubflow::DynTarget, Box<dyn std::error::Error>> {
    let url = format!("{}/api/requests", stand_in.uri()).parse()?;
    Ok(hubflow::DynTarget::new(
        hubflow::http_target::HttpTarget::new(url),
    ))
}

/// Fracttal's token and work-request endpoints (and a generic endpoint for builds without
/// the Fracttal adapter), on 127.0.0.1.
async fn start_stand_in() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"access_token": "stand-in-access-token", "token_type": "Bearer", "expires_in": 7200}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/work_requests"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"success": true, "message": "200", "data": {"id_code": 5012, "code": "WR-5012"}, "total": 1}),
        ))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/api/requests"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "WR-5012"})))
        .mount(&server)
        .await;
    server
}
